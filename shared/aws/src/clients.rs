//! The SDK clients, built once from one `SdkConfig`.
//!
//! Loading the SDK config is the expensive part (credential chain, region); clients made from it are
//! cheap. A Lambda function builds [`AwsClients`] once at cold start and shares it across invocations.
//! No call is made here: the first network traffic happens when a check needs a fact.

use aws_config::SdkConfig;

/// Every AWS client a greenlight check may use.
#[derive(Debug, Clone)]
pub struct AwsClients {
    /// ECS: deployments, revisions, tasks, task definitions.
    pub ecs: aws_sdk_ecs::Client,
    /// ECR: images, digests, tag mutability, scan findings.
    pub ecr: aws_sdk_ecr::Client,
    /// ELBv2: listeners, rules, target health.
    pub elbv2: aws_sdk_elasticloadbalancingv2::Client,
    /// CloudWatch: alarms and metric data.
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    /// Lambda: teams' own checks.
    pub lambda: aws_sdk_lambda::Client,
    /// SSM Parameter Store: config references and header values.
    pub ssm: aws_sdk_ssm::Client,
    /// S3: config references.
    pub s3: aws_sdk_s3::Client,
    /// Secrets Manager: header values.
    pub secrets: aws_sdk_secretsmanager::Client,
    /// CodeDeploy: deployments, targets and hook reports.
    pub codedeploy: aws_sdk_codedeploy::Client,
}

impl AwsClients {
    /// Clients for every service from one shared config.
    pub fn from_conf(config: &SdkConfig) -> Self {
        AwsClients {
            ecs: aws_sdk_ecs::Client::new(config),
            ecr: aws_sdk_ecr::Client::new(config),
            elbv2: aws_sdk_elasticloadbalancingv2::Client::new(config),
            cloudwatch: aws_sdk_cloudwatch::Client::new(config),
            lambda: aws_sdk_lambda::Client::new(config),
            ssm: aws_sdk_ssm::Client::new(config),
            // Path-style addressing keeps `s3://bucket/key` working against local endpoints too.
            s3: aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(config)
                    .force_path_style(config.endpoint_url().is_some())
                    .build(),
            ),
            secrets: aws_sdk_secretsmanager::Client::new(config),
            codedeploy: aws_sdk_codedeploy::Client::new(config),
        }
    }
}
