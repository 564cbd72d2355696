//! What a CodeDeploy hook learns once per invocation ([`discover`]): `GetDeployment`, then
//! `GetDeploymentGroup` and `ListDeploymentTargets` concurrently, `GetDeploymentTarget` for the ECS
//! target (task sets with their Blue/Green labels, weights and target groups; the lifecycle event in
//! progress), and ECS `DescribeServices` for the service ARN and its task sets (green is the one
//! whose `externalId` is the deployment id). Every judgement of the invocation shares it.

use std::sync::Arc;
use std::time::SystemTime;

use aws_sdk_ecs::types::TaskSet;
use greenlight_core::codedeploy_hook::{DeploymentContext, Discovered};
use greenlight_core::facts::{
    DeploymentFacts, FactError, Facts, ServiceIdentity, TaskCounts, TrafficWeights,
};

use super::CodeDeployFacts;
use crate::clients::AwsClients;
use crate::error::classify;

/// The most tasks `DescribeTasks` takes per call.
pub(super) const DESCRIBE_TASKS_BATCH: usize = 100;
/// Pages read from a list call: a bound on the work of one judgement.
pub(super) const MAX_LIST_PAGES: usize = 20;

pub(super) const CODEDEPLOY_NOT_FOUND: &[(&str, &str)] = &[
    ("DeploymentDoesNotExistException", "CodeDeploy deployment"),
    (
        "DeploymentGroupDoesNotExistException",
        "CodeDeploy deployment group",
    ),
    ("ApplicationDoesNotExistException", "CodeDeploy application"),
    (
        "DeploymentTargetDoesNotExistException",
        "CodeDeploy deployment target",
    ),
];
pub(super) const ECS_NOT_FOUND: &[(&str, &str)] = &[
    ("ClusterNotFoundException", "cluster"),
    ("ServiceNotFoundException", "service"),
];

/// One ECS task set of the deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskSetFacts {
    /// The task set ARN.
    pub arn: String,
    /// Its task definition.
    pub task_definition_arn: String,
    /// The target groups it registers with.
    pub target_group_arns: Vec<String>,
    /// Its task counts.
    pub counts: TaskCounts,
}

/// Everything learned once per invocation.
#[derive(Debug, Clone)]
pub struct DeploymentDiscovery {
    /// What the core needs: ids, names, creator, the lifecycle event in progress.
    pub context: DeploymentContext,
    /// The service.
    pub service: ServiceIdentity,
    /// Green's production weight, from the deployment target.
    pub weights: TrafficWeights,
    /// The deployment facts.
    pub deployment: Arc<DeploymentFacts>,
    /// Green's task set (its `externalId` is the deployment id), once created.
    pub green: Option<TaskSetFacts>,
    /// Blue's task set, if there is one.
    pub blue: Option<TaskSetFacts>,
    /// The production listener.
    pub production_listener: Option<String>,
    /// The test listener, if the deployment group has one.
    pub test_listener: Option<String>,
    /// The task definition the deployment's AppSpec names: green's before its task set exists
    /// (at BeforeInstall CodeDeploy has not created it yet).
    pub appspec_task_definition: Option<String>,
}

/// Learns the deployment from CodeDeploy and ECS (once per invocation).
pub async fn discover(
    clients: &AwsClients,
    deployment_id: &str,
) -> Result<DeploymentDiscovery, FactError> {
    let codedeploy = &clients.codedeploy;
    let deployment = codedeploy
        .get_deployment()
        .deployment_id(deployment_id)
        .send()
        .await
        .map_err(|error| {
            classify(
                &error,
                "codedeploy:GetDeployment",
                deployment_id,
                CODEDEPLOY_NOT_FOUND,
            )
        })?;
    let info = deployment.deployment_info().ok_or_else(|| {
        unexpected(
            "codedeploy:GetDeployment",
            format!("no deploymentInfo for {deployment_id}"),
        )
    })?;
    let (Some(application), Some(group)) = (info.application_name(), info.deployment_group_name())
    else {
        return Err(unexpected(
            "codedeploy:GetDeployment",
            format!("deployment {deployment_id} names no application or deployment group"),
        ));
    };
    let group_resource = format!("{application}/{group}");
    let (group_output, targets) = tokio::join!(
        codedeploy
            .get_deployment_group()
            .application_name(application)
            .deployment_group_name(group)
            .send(),
        list_targets(clients, deployment_id),
    );
    let group_output = group_output.map_err(|error| {
        classify(
            &error,
            "codedeploy:GetDeploymentGroup",
            &group_resource,
            CODEDEPLOY_NOT_FOUND,
        )
    })?;
    let group_info = group_output.deployment_group_info();
    let targets = targets?;

    let target = match targets.first() {
        Some(target_id) => codedeploy
            .get_deployment_target()
            .deployment_id(deployment_id)
            .target_id(target_id)
            .send()
            .await
            .map_err(|error| {
                classify(
                    &error,
                    "codedeploy:GetDeploymentTarget",
                    target_id,
                    CODEDEPLOY_NOT_FOUND,
                )
            })?
            .deployment_target()
            .and_then(|target| target.ecs_target())
            .cloned(),
        None => None,
    };

    // The service: from the target id (`<cluster>:<service>`), else from the deployment group.
    let from_target = target
        .as_ref()
        .and_then(|target| target.target_id())
        .and_then(|id| id.split_once(':'))
        .map(|(cluster, service)| (cluster.to_owned(), service.to_owned()));
    let from_group = group_info
        .and_then(|info| info.ecs_services().first())
        .and_then(|ecs| {
            Some((
                ecs.cluster_name()?.to_owned(),
                ecs.service_name()?.to_owned(),
            ))
        });
    let Some((cluster, service_name)) = from_target.or(from_group) else {
        return Err(FactError::NotReady {
            what: "the deployment's ECS service".to_owned(),
            detail: format!(
                "deployment group {group_resource} names no ECS service and the deployment has no target yet"
            ),
        });
    };

    let services = clients
        .ecs
        .describe_services()
        .cluster(&cluster)
        .services(&service_name)
        .send()
        .await
        .map_err(|error| {
            classify(
                &error,
                "ecs:DescribeServices",
                &format!("{cluster}/{service_name}"),
                ECS_NOT_FOUND,
            )
        })?;
    let Some(service) = services.services().first() else {
        return Err(FactError::NotFound {
            what: "service".to_owned(),
            resource: format!("{cluster}/{service_name}"),
        });
    };
    let service_arn = service.service_arn().unwrap_or_default().to_owned();
    let parts: Vec<&str> = service_arn.splitn(6, ':').collect();
    let (partition, region, account) = match parts.as_slice() {
        ["arn", partition, "ecs", region, account, _] => (
            (*partition).to_owned(),
            (*region).to_owned(),
            (*account).to_owned(),
        ),
        _ => {
            return Err(unexpected(
                "ecs:DescribeServices",
                format!("service ARN {service_arn:?} does not parse"),
            ));
        }
    };
    let green_set = service
        .task_sets()
        .iter()
        .find(|set| set.external_id() == Some(deployment_id));
    let ecs_target = target.as_ref();
    // Blue is the task set the deployment target labels `Blue`. PRIMARY means "serves production"
    // (ECS's TaskSet.status), which is green once production has moved, and when CodeDeploy makes
    // green PRIMARY is undocumented; so PRIMARY decides only when the target cannot be read, and
    // then only among the task sets that are not green's.
    let labelled_blue = ecs_target.and_then(|target| {
        target
            .task_sets_info()
            .iter()
            .find(|set| set.task_set_label() == Some(&aws_sdk_codedeploy::types::TargetLabel::Blue))
            .and_then(|set| set.identifer())
    });
    let others: Vec<_> = service
        .task_sets()
        .iter()
        .filter(|set| set.external_id() != Some(deployment_id))
        .collect();
    let by_label = labelled_blue.and_then(|identifier| {
        others.iter().copied().find(|set| {
            set.id() == Some(identifier)
                || set.task_set_arn() == Some(identifier)
                || set
                    .task_set_arn()
                    .is_some_and(|arn| arn.rsplit('/').next() == Some(identifier))
        })
    });
    let blue_set = by_label.or_else(|| match others.as_slice() {
        // The one task set that is not green's is blue, PRIMARY or not.
        [only] => Some(*only),
        _ => others
            .iter()
            .copied()
            .find(|set| set.status() == Some("PRIMARY")),
    });

    let lifecycle_event_in_progress = ecs_target.and_then(|target| {
        target
            .lifecycle_events()
            .iter()
            .find(|event| {
                event.status() == Some(&aws_sdk_codedeploy::types::LifecycleEventStatus::InProgress)
            })
            .and_then(|event| event.lifecycle_event_name())
            .map(str::to_owned)
    });
    let green_weight = ecs_target.and_then(|target| {
        target
            .task_sets_info()
            .iter()
            .find(|set| {
                set.task_set_label() == Some(&aws_sdk_codedeploy::types::TargetLabel::Green)
            })
            .map(|set| set.traffic_weight())
    });

    let pair = group_info
        .and_then(|info| info.load_balancer_info())
        .and_then(|lb| lb.target_group_pair_info_list().first());
    let production_listener = pair
        .and_then(|pair| pair.prod_traffic_route())
        .and_then(|route| route.listener_arns().first())
        .cloned();
    let test_listener = pair
        .and_then(|pair| pair.test_traffic_route())
        .and_then(|route| route.listener_arns().first())
        .cloned();
    let alarm_names = group_info.map(group_alarm_names).unwrap_or_default();

    let status = info
        .status()
        .map(|status| status.as_str().to_owned())
        .unwrap_or_default();
    let creator = info.creator().map(|creator| creator.as_str().to_owned());
    let rolls_back = info
        .rollback_info()
        .and_then(|rollback| rollback.rollback_triggering_deployment_id())
        .map(str::to_owned);
    let green = green_set.and_then(task_set_facts);
    let deployment = DeploymentFacts {
        id: deployment_id.to_owned(),
        status: status.clone(),
        started_at: info
            .create_time()
            .and_then(|time| SystemTime::try_from(*time).ok()),
        green_tasks: green.as_ref().map(|set| set.counts).unwrap_or_default(),
        alarm_names,
        triggered_alarms: Vec::new(),
        rollback: (creator.as_deref().is_some_and(|creator| {
            greenlight_core::codedeploy_hook::ROLLBACK_CREATORS.contains(&creator)
        }))
        .then(|| {
            format!(
                "CodeDeploy rollback{}",
                rolls_back
                    .as_deref()
                    .map(|id| format!(" of {id}"))
                    .unwrap_or_default()
            )
        }),
        hook_expires_at: None,
        other_in_flight: Vec::new(),
    };
    // Green's task definition before its task set exists (BeforeInstall) is the AppSpec's; it is
    // fetched only then, and read from GetDeployment's answer whenever that carries it.
    let appspec_task_definition = appspec_text(codedeploy, application, info, green.is_none())
        .await
        .as_deref()
        .and_then(appspec_task_definition);
    Ok(DeploymentDiscovery {
        context: DeploymentContext {
            deployment_id: deployment_id.to_owned(),
            application: application.to_owned(),
            deployment_group: group.to_owned(),
            status,
            creator,
            rolls_back,
            lifecycle_event_in_progress,
            cluster: cluster.clone(),
            service: service_name.clone(),
        },
        service: ServiceIdentity {
            partition,
            region,
            account,
            cluster,
            service: service_name,
            service_arn,
        },
        weights: TrafficWeights {
            green_production: green_weight,
            green_test: None,
        },
        deployment: Arc::new(deployment),
        green,
        blue: blue_set.and_then(task_set_facts),
        production_listener,
        test_listener,
        appspec_task_definition,
    })
}

/// The deployment's AppSpec text. `GetDeployment` names an AppSpec-content revision by its sha256
/// but may leave the text out; `GetApplicationRevision` returns it. Best effort: without it,
/// green's task definition is known once its task set exists.
pub(super) async fn appspec_text(
    codedeploy: &aws_sdk_codedeploy::Client,
    application: &str,
    info: &aws_sdk_codedeploy::types::DeploymentInfo,
    fetch: bool,
) -> Option<String> {
    let revision = info.revision()?;
    let inline = revision.app_spec_content()?;
    if let Some(content) = inline.content() {
        return Some(content.to_owned());
    }
    if !fetch {
        return None;
    }
    inline.sha256()?;
    match codedeploy
        .get_application_revision()
        .application_name(application)
        .revision(revision.clone())
        .send()
        .await
    {
        Ok(output) => output
            .revision()?
            .app_spec_content()?
            .content()
            .map(str::to_owned),
        Err(error) => {
            let error = classify(
                &error,
                "codedeploy:GetApplicationRevision",
                application,
                CODEDEPLOY_NOT_FOUND,
            );
            tracing::warn!(%error, "the AppSpec is unreadable; green is known once its task set exists");
            None
        }
    }
}

/// The task definition of the first resource of an AppSpec (YAML or JSON):
/// `Resources[0].<name>.Properties.TaskDefinition`. `None` when the AppSpec names none.
pub fn appspec_task_definition(content: &str) -> Option<String> {
    let appspec: serde_json::Value = serde_saphyr::from_str(content)
        .map_err(|error| tracing::warn!(%error, "the deployment's AppSpec does not parse"))
        .ok()?;
    appspec
        .get("Resources")?
        .as_array()?
        .iter()
        .filter_map(serde_json::Value::as_object)
        .flat_map(|resource| resource.values())
        .find_map(|target| target.pointer("/Properties/TaskDefinition")?.as_str())
        .filter(|arn| !arn.trim().is_empty())
        .map(str::to_owned)
}

/// [`discover`], and the factory of per-judgement facts, as the core's runner wants them.
pub async fn discover_for_hook(
    clients: &AwsClients,
    deployment_id: &str,
) -> Result<Discovered, FactError> {
    let discovery = Arc::new(discover(clients, deployment_id).await?);
    let clients = clients.clone();
    Ok(Discovered {
        context: discovery.context.clone(),
        facts: Box::new(move || {
            Arc::new(CodeDeployFacts::new(Arc::clone(&discovery), &clients)) as Arc<dyn Facts>
        }),
    })
}

pub(super) async fn list_targets(
    clients: &AwsClients,
    deployment_id: &str,
) -> Result<Vec<String>, FactError> {
    let mut ids = Vec::new();
    let mut next_token: Option<String> = None;
    for _ in 0..MAX_LIST_PAGES {
        let output = clients
            .codedeploy
            .list_deployment_targets()
            .deployment_id(deployment_id)
            .set_next_token(next_token.take())
            .send()
            .await
            .map_err(|error| {
                classify(
                    &error,
                    "codedeploy:ListDeploymentTargets",
                    deployment_id,
                    CODEDEPLOY_NOT_FOUND,
                )
            })?;
        ids.extend(output.target_ids().iter().cloned());
        match output.next_token() {
            Some(token) if !token.is_empty() => next_token = Some(token.to_owned()),
            _ => break,
        }
    }
    Ok(ids)
}

pub(super) fn task_set_facts(set: &TaskSet) -> Option<TaskSetFacts> {
    let count = |value: i32| u32::try_from(value).unwrap_or(0);
    Some(TaskSetFacts {
        arn: set.task_set_arn()?.to_owned(),
        task_definition_arn: set.task_definition()?.to_owned(),
        target_group_arns: set
            .load_balancers()
            .iter()
            .filter_map(|lb| lb.target_group_arn().map(str::to_owned))
            .collect(),
        counts: TaskCounts {
            requested: count(set.computed_desired_count()),
            running: count(set.running_count()),
            pending: count(set.pending_count()),
        },
    })
}

pub(super) fn unexpected(action: &str, message: String) -> FactError {
    FactError::Unexpected {
        action: action.to_owned(),
        message,
    }
}

/// The alarms a deployment group watches, when its alarm configuration is enabled.
pub fn group_alarm_names(group: &aws_sdk_codedeploy::types::DeploymentGroupInfo) -> Vec<String> {
    group
        .alarm_configuration()
        .filter(|alarms| alarms.enabled())
        .map(|alarms| {
            alarms
                .alarms()
                .iter()
                .filter_map(|alarm| alarm.name().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}
