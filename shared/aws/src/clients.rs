//! The SDK clients, built once from one `SdkConfig`.
//!
//! A Lambda function loads the config with [`load_sdk_config`] and builds [`AwsClients`] once at
//! cold start, sharing them across invocations. No call is made here: the first network traffic
//! happens when a check needs a fact.

use std::time::Duration;

use aws_config::SdkConfig;
use aws_config::timeout::TimeoutConfig;
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_http_client::{Builder, ConnectorBuilder};
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;

/// The SDK config from the environment (region, credentials, endpoint), with one HTTP client that
/// every SDK client shares.
///
/// Left to itself the SDK gives each client its own default HTTPS client and, while validating
/// each client as it is built, builds and drops a TLS connector over the system's root
/// certificates: nine times over, about three quarters of the work of a function's cold start. The
/// shared client here is the same HTTPS stack (rustls with aws-lc, native roots, the proxy settings
/// from the environment); it builds its connector once, on the first AWS call, and keeps it.
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::from_env()
        .http_client(TlsOnFirstUse(default_https_client()))
        .timeout_config(sdk_timeouts())
        .load()
        .await
}

/// How long a TCP (and TLS) connection may take to open: the SDK's own default.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(3_100);
/// How long one attempt of a call may take, connection to last byte. The describe and list calls
/// greenlight makes answer in well under a second; one that stalls is retried.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a call may take, its retries included. The engine also bounds every check and the
/// invocation, so a call that outlives this had no use anyway.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(30);
/// A team's check function may run up to Lambda's own limit; the check's `timeout` bounds it.
const TEAM_FUNCTION_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// Every call has a bound: without one a stalled connection holds the invocation until Lambda
/// kills it (ECS then rolls back; CodeDeploy waits an hour).
fn sdk_timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build()
}

/// The SDK's default HTTPS client, as the SDK builds it for the latest behavior version.
fn default_https_client() -> SharedHttpClient {
    Builder::new().build_with_connector_fn(|settings, runtime_components| {
        let mut connector =
            ConnectorBuilder::default().tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc));
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = runtime_components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    })
}

/// An HTTP client that does not build a connector to validate a client's config: its connectors
/// (TLS roots included) are built when a request first needs one, and cached by the inner client.
#[derive(Debug)]
struct TlsOnFirstUse(SharedHttpClient);

impl HttpClient for TlsOnFirstUse {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.0.http_connector(settings, components)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.0.connector_metadata()
    }
}

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
    /// The load balancers' DNS names this process has learned (they never change).
    pub load_balancer_names: crate::facts::LoadBalancerNames,
}

impl AwsClients {
    /// Clients for every service from one shared config.
    pub fn from_conf(config: &SdkConfig) -> Self {
        AwsClients {
            ecs: aws_sdk_ecs::Client::new(config),
            ecr: aws_sdk_ecr::Client::new(config),
            elbv2: aws_sdk_elasticloadbalancingv2::Client::new(config),
            cloudwatch: aws_sdk_cloudwatch::Client::new(config),
            // Invoking a team's check waits for the function to finish: the check's own
            // timeout bounds it, not the describe calls' budget.
            lambda: aws_sdk_lambda::Client::from_conf(
                aws_sdk_lambda::config::Builder::from(config)
                    .timeout_config(
                        TimeoutConfig::builder()
                            .connect_timeout(CONNECT_TIMEOUT)
                            .operation_attempt_timeout(TEAM_FUNCTION_TIMEOUT)
                            .operation_timeout(TEAM_FUNCTION_TIMEOUT)
                            .build(),
                    )
                    .build(),
            ),
            ssm: aws_sdk_ssm::Client::new(config),
            // Path-style addressing keeps `s3://bucket/key` working against local endpoints too.
            s3: aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(config)
                    .force_path_style(config.endpoint_url().is_some())
                    .build(),
            ),
            secrets: aws_sdk_secretsmanager::Client::new(config),
            codedeploy: aws_sdk_codedeploy::Client::new(config),
            load_balancer_names: crate::facts::LoadBalancerNames::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_client_shares_the_sdks_own_https_stack() {
        let config = load_sdk_config().await;
        let metadata = config
            .http_client()
            .and_then(|client| client.connector_metadata())
            .expect("the config names its HTTP client");
        assert_eq!(metadata.name(), "hyper");
        assert_eq!(metadata.version().as_deref(), Some("1.x"));
    }

    #[tokio::test]
    async fn every_call_has_a_time_bound() {
        let config = load_sdk_config().await;
        let timeouts = config.timeout_config().expect("timeouts");
        assert_eq!(timeouts.connect_timeout(), Some(CONNECT_TIMEOUT));
        assert_eq!(timeouts.operation_attempt_timeout(), Some(ATTEMPT_TIMEOUT));
        assert_eq!(timeouts.operation_timeout(), Some(OPERATION_TIMEOUT));
        let clients = AwsClients::from_conf(&config);
        let ecs = clients.ecs.config().timeout_config().expect("ecs timeouts");
        assert_eq!(ecs.operation_timeout(), Some(OPERATION_TIMEOUT));
        let lambda = clients
            .lambda
            .config()
            .timeout_config()
            .expect("lambda timeouts");
        assert_eq!(lambda.operation_timeout(), Some(TEAM_FUNCTION_TIMEOUT));
    }
}
