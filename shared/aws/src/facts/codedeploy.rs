//! What a CodeDeploy hook knows about its deployment: learned from CodeDeploy and ECS.
//!
//! [`discover`] runs once per invocation: `GetDeployment`, then `GetDeploymentGroup` and
//! `ListDeploymentTargets` concurrently, `GetDeploymentTarget` for the ECS target (task sets with
//! their Blue/Green labels, weights and target groups; the lifecycle event in progress), and ECS
//! `DescribeServices` for the service ARN and its task sets (green is the one whose `externalId` is
//! the deployment id). What it learned is shared by every judgement of the invocation.
//!
//! [`CodeDeployFacts`] is built per judgement on top of it (a bake judges many times in one
//! invocation and each judgement must see fresh tasks and routing). Like `EcsFacts`, each fact is
//! gathered on first use and only once per judgement, however many checks ask at the same time
//! (one `Memo` per fact, errors included):
//! - green and blue: `DescribeTaskDefinition` of each task set's task definition (images), with the
//!   task set's target groups;
//! - the deployment: from what [`discover`] learned (no call);
//! - green's tasks: `ListTasks` (running and stopped) and `DescribeTasks` in batches of 100, keeping
//!   the tasks of green's task definition;
//! - routing: one `DescribeListeners` for the production and test listeners, and
//!   `DescribeLoadBalancers` for the test listener's DNS name.

use std::sync::Arc;
use std::time::SystemTime;

use aws_sdk_ecs::types::{DesiredStatus, Task, TaskSet};
use aws_sdk_elasticloadbalancingv2::types::{Action, ActionTypeEnum, Listener, ProtocolEnum};
use greenlight_core::codedeploy_hook::{DeploymentContext, Discovered};
use greenlight_core::facts::{
    ContainerImage, DeploymentFacts, FactError, FactFuture, Facts, ListenerRuleFacts,
    RevisionFacts, RoutingFacts, ServiceIdentity, TaskCounts, TaskFacts, TestEndpoint,
    TrafficWeights,
};

use super::Memo;
use super::elb::load_balancer_dns;
use super::tasks::task_from;
use crate::clients::AwsClients;
use crate::error::classify;

/// The most tasks `DescribeTasks` takes per call.
const DESCRIBE_TASKS_BATCH: usize = 100;
/// Pages read from a list call: a bound on the work of one judgement.
const MAX_LIST_PAGES: usize = 20;

const CODEDEPLOY_NOT_FOUND: &[(&str, &str)] = &[
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
const ECS_NOT_FOUND: &[(&str, &str)] = &[
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
    let alarm_names = group_info
        .and_then(|info| info.alarm_configuration())
        .filter(|alarms| alarms.enabled())
        .map(|alarms| {
            alarms
                .alarms()
                .iter()
                .filter_map(|alarm| alarm.name().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();

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
async fn appspec_text(
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

async fn list_targets(clients: &AwsClients, deployment_id: &str) -> Result<Vec<String>, FactError> {
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

fn task_set_facts(set: &TaskSet) -> Option<TaskSetFacts> {
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

fn unexpected(action: &str, message: String) -> FactError {
    FactError::Unexpected {
        action: action.to_owned(),
        message,
    }
}

/// Facts about a CodeDeploy ECS deployment for one judgement, gathered lazily and once.
#[derive(Debug)]
pub struct CodeDeployFacts {
    discovery: Arc<DeploymentDiscovery>,
    ecs: aws_sdk_ecs::Client,
    elbv2: aws_sdk_elasticloadbalancingv2::Client,
    green: Memo<Arc<RevisionFacts>>,
    blue: Memo<Option<Arc<RevisionFacts>>>,
    green_tasks: Memo<Arc<Vec<TaskFacts>>>,
    routing: Memo<Arc<RoutingFacts>>,
}

impl CodeDeployFacts {
    /// Facts on top of what [`discover`] learned. Makes no call.
    pub fn new(discovery: Arc<DeploymentDiscovery>, clients: &AwsClients) -> Self {
        CodeDeployFacts {
            discovery,
            ecs: clients.ecs.clone(),
            elbv2: clients.elbv2.clone(),
            green: Memo::new(),
            blue: Memo::new(),
            green_tasks: Memo::new(),
            routing: Memo::new(),
        }
    }

    fn green_set(&self) -> Result<&TaskSetFacts, FactError> {
        self.discovery
            .green
            .as_ref()
            .ok_or_else(|| FactError::NotReady {
                what: "green task set".to_owned(),
                detail: format!(
                    "service {} has no task set whose externalId is {} yet",
                    self.discovery.service.service_arn, self.discovery.context.deployment_id
                ),
            })
    }

    async fn revision(&self, set: &TaskSetFacts) -> Result<Arc<RevisionFacts>, FactError> {
        const ACTION: &str = "ecs:DescribeTaskDefinition";
        let output = self
            .ecs
            .describe_task_definition()
            .task_definition(&set.task_definition_arn)
            .send()
            .await
            .map_err(|error| {
                classify(
                    &error,
                    ACTION,
                    &set.task_definition_arn,
                    &[("ClientException", "task definition")],
                )
            })?;
        let Some(definition) = output.task_definition() else {
            return Err(FactError::NotFound {
                what: "task definition".to_owned(),
                resource: set.task_definition_arn.clone(),
            });
        };
        Ok(Arc::new(RevisionFacts {
            arn: set.arn.clone(),
            task_definition_arn: set.task_definition_arn.clone(),
            containers: definition
                .container_definitions()
                .iter()
                .map(|container| ContainerImage {
                    digest_by_consensus: false,
                    container: container.name().unwrap_or_default().to_owned(),
                    image: container.image().unwrap_or_default().to_owned(),
                    digest: None,
                })
                .collect(),
            target_group_arns: set.target_group_arns.clone(),
            test_header: None,
        }))
    }

    async fn gather_green_tasks(&self) -> Result<Arc<Vec<TaskFacts>>, FactError> {
        let green = self.green_set()?.task_definition_arn.clone();
        let (running, stopped) = tokio::join!(
            self.list_tasks(DesiredStatus::Running),
            self.list_tasks(DesiredStatus::Stopped)
        );
        let mut arns = running?;
        for arn in stopped? {
            if !arns.contains(&arn) {
                arns.push(arn);
            }
        }
        let batches = arns
            .chunks(DESCRIBE_TASKS_BATCH)
            .map(|batch| self.describe_tasks(batch));
        let described = futures::future::try_join_all(batches).await?;
        Ok(Arc::new(
            described
                .into_iter()
                .flatten()
                .filter(|task| task.task_definition_arn() == Some(green.as_str()))
                .filter_map(|task| task_from(&task))
                .collect(),
        ))
    }

    async fn list_tasks(&self, desired: DesiredStatus) -> Result<Vec<String>, FactError> {
        let service = &self.discovery.service;
        let mut arns = Vec::new();
        let mut next_token: Option<String> = None;
        for _ in 0..MAX_LIST_PAGES {
            let output = self
                .ecs
                .list_tasks()
                .cluster(&service.cluster)
                .service_name(&service.service)
                .desired_status(desired.clone())
                .max_results(100)
                .set_next_token(next_token.take())
                .send()
                .await
                .map_err(|error| {
                    classify(&error, "ecs:ListTasks", &service.service_arn, ECS_NOT_FOUND)
                })?;
            arns.extend(output.task_arns().iter().cloned());
            match output.next_token() {
                Some(token) if !token.is_empty() => next_token = Some(token.to_owned()),
                _ => break,
            }
        }
        Ok(arns)
    }

    async fn describe_tasks(&self, arns: &[String]) -> Result<Vec<Task>, FactError> {
        let service = &self.discovery.service;
        let output = self
            .ecs
            .describe_tasks()
            .cluster(&service.cluster)
            .set_tasks(Some(arns.to_vec()))
            .send()
            .await
            .map_err(|error| {
                classify(
                    &error,
                    "ecs:DescribeTasks",
                    &service.service_arn,
                    ECS_NOT_FOUND,
                )
            })?;
        Ok(output.tasks().to_vec())
    }

    async fn gather_routing(&self) -> Result<Arc<RoutingFacts>, FactError> {
        const ACTION: &str = "elasticloadbalancing:DescribeListeners";
        let discovery = &self.discovery;
        let arns: Vec<String> = [&discovery.production_listener, &discovery.test_listener]
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        let listeners: Vec<Listener> = if arns.is_empty() {
            Vec::new()
        } else {
            self.elbv2
                .describe_listeners()
                .set_listener_arns(Some(arns.clone()))
                .send()
                .await
                .map_err(|error| {
                    classify(
                        &error,
                        ACTION,
                        &arns.join(", "),
                        &[("ListenerNotFound", "listener")],
                    )
                })?
                .listeners()
                .to_vec()
        };
        let find = |arn: &Option<String>| -> Result<Option<&Listener>, FactError> {
            let Some(arn) = arn else { return Ok(None) };
            listeners
                .iter()
                .find(|listener| listener.listener_arn() == Some(arn.as_str()))
                .map(Some)
                .ok_or_else(|| FactError::NotFound {
                    what: "listener".to_owned(),
                    resource: arn.clone(),
                })
        };
        let production = find(&discovery.production_listener)?;
        let test = find(&discovery.test_listener)?;
        let test_endpoint = match test {
            Some(listener) => {
                let dns = load_balancer_dns(
                    &self.elbv2,
                    listener.load_balancer_arn().unwrap_or_default(),
                )
                .await?;
                let scheme = if matches!(
                    listener.protocol(),
                    Some(ProtocolEnum::Https | ProtocolEnum::Tls)
                ) {
                    "https"
                } else {
                    "http"
                };
                Some(TestEndpoint {
                    base_url: format!("{scheme}://{dns}:{}", listener.port().unwrap_or(80)),
                    host: None,
                    path: None,
                    headers: Vec::new(),
                })
            }
            None => None,
        };
        Ok(Arc::new(RoutingFacts {
            green_target_group: discovery
                .green
                .as_ref()
                .and_then(|set| set.target_group_arns.first().cloned()),
            blue_target_group: discovery
                .blue
                .as_ref()
                .and_then(|set| set.target_group_arns.first().cloned()),
            load_balancer_arn: production
                .or(test)
                .and_then(|listener| listener.load_balancer_arn().map(str::to_owned)),
            production_rule: production.map(listener_rule),
            test_rule: test.map(listener_rule),
            test_endpoint,
        }))
    }
}

/// Green's revision with the digest ECS resolved for each container: the one the image reference
/// pins, else the one most of green's running tasks report (ECS resolves a tag once, when it
/// creates the task set, so its tasks agree; one that does not is what the `tasks` check flags).
/// A container none of the running tasks reports on keeps no digest.
fn with_resolved_digests(revision: &RevisionFacts, tasks: &[TaskFacts]) -> RevisionFacts {
    let mut resolved = revision.clone();
    for container in &mut resolved.containers {
        if let Some((_, pinned)) = container.image.split_once('@') {
            container.digest = Some(pinned.to_owned());
            continue;
        }
        container.digest_by_consensus = true;
        let mut votes: Vec<(&str, usize)> = Vec::new();
        let reported = tasks
            .iter()
            .filter(|task| task.last_status == "RUNNING")
            .flat_map(|task| &task.containers)
            .filter(|running| running.name == container.container)
            .filter_map(|running| running.image_digest.as_deref());
        for digest in reported {
            match votes.iter_mut().find(|(seen, _)| *seen == digest) {
                Some((_, count)) => *count += 1,
                None => votes.push((digest, 1)),
            }
        }
        // The most reported; on a tie, the first seen.
        container.digest = votes
            .iter()
            .fold(None::<(&str, usize)>, |best, &(digest, count)| match best {
                Some((_, most)) if most >= count => best,
                _ => Some((digest, count)),
            })
            .map(|(digest, _)| digest.to_owned());
    }
    resolved
}

/// A listener's default action as a rule without conditions: CodeDeploy re-points listeners, not
/// rules.
fn listener_rule(listener: &Listener) -> ListenerRuleFacts {
    let arn = listener.listener_arn().unwrap_or_default().to_owned();
    ListenerRuleFacts {
        rule_arn: arn.clone(),
        listener_arn: arn,
        forwards: listener
            .default_actions()
            .iter()
            .flat_map(forwards)
            .collect(),
        conditions: Vec::new(),
    }
}

fn forwards(action: &Action) -> Vec<(String, f64)> {
    if action.r#type() != Some(&ActionTypeEnum::Forward) {
        return Vec::new();
    }
    let weighted: Vec<(String, f64)> = action
        .forward_config()
        .map(|config| {
            config
                .target_groups()
                .iter()
                .filter_map(|group| {
                    Some((
                        group.target_group_arn()?.to_owned(),
                        f64::from(group.weight().unwrap_or(1)),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    if weighted.is_empty() {
        action
            .target_group_arn()
            .map(|arn| vec![(arn.to_owned(), 100.0)])
            .unwrap_or_default()
    } else {
        weighted
    }
}

impl Facts for CodeDeployFacts {
    fn service(&self) -> &ServiceIdentity {
        &self.discovery.service
    }

    fn weights(&self) -> TrafficWeights {
        self.discovery.weights
    }

    fn green(&self) -> FactFuture<'_, Arc<RevisionFacts>> {
        Box::pin(async move {
            self.green
                .get(|| async {
                    // Before Install, the AppSpec's task definition is green (no task set yet).
                    let set = match (
                        &self.discovery.green,
                        &self.discovery.appspec_task_definition,
                    ) {
                        (None, Some(task_definition)) => TaskSetFacts {
                            arn: task_definition.clone(),
                            task_definition_arn: task_definition.clone(),
                            target_group_arns: Vec::new(),
                            counts: TaskCounts::default(),
                        },
                        _ => self.green_set()?.clone(),
                    };
                    let revision = self.revision(&set).await?;
                    if self.discovery.green.is_none() {
                        return Ok(revision);
                    }
                    // No service revision records what ECS resolved: read it from green's tasks.
                    let tasks = self.green_tasks().await?;
                    Ok(Arc::new(with_resolved_digests(&revision, &tasks)))
                })
                .await
        })
    }

    fn blue(&self) -> FactFuture<'_, Option<Arc<RevisionFacts>>> {
        Box::pin(async move {
            self.blue
                .get(|| async {
                    match self.discovery.blue.clone() {
                        Some(set) => self.revision(&set).await.map(Some),
                        None => Ok(None),
                    }
                })
                .await
        })
    }

    fn deployment(&self) -> FactFuture<'_, Arc<DeploymentFacts>> {
        let deployment = Arc::clone(&self.discovery.deployment);
        Box::pin(async move { Ok(deployment) })
    }

    fn green_tasks(&self) -> FactFuture<'_, Arc<Vec<TaskFacts>>> {
        Box::pin(async move { self.green_tasks.get(|| self.gather_green_tasks()).await })
    }

    fn routing(&self) -> FactFuture<'_, Arc<RoutingFacts>> {
        Box::pin(async move { self.routing.get(|| self.gather_routing()).await })
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_codedeploy::Client as CodeDeploy;
    use aws_sdk_codedeploy::config::retry::RetryConfig;
    use aws_sdk_codedeploy::operation::get_deployment::GetDeploymentOutput;
    use aws_sdk_codedeploy::operation::get_deployment_group::GetDeploymentGroupOutput;
    use aws_sdk_codedeploy::operation::get_deployment_target::GetDeploymentTargetOutput;
    use aws_sdk_codedeploy::operation::list_deployment_targets::ListDeploymentTargetsOutput;
    use aws_sdk_codedeploy::types as cd;
    use aws_sdk_ecs::Client as Ecs;
    use aws_sdk_ecs::operation::describe_services::DescribeServicesOutput;
    use aws_sdk_ecs::operation::describe_task_definition::DescribeTaskDefinitionOutput;
    use aws_sdk_ecs::types as ecs;
    use aws_sdk_elasticloadbalancingv2::Client as Elb;
    use aws_sdk_elasticloadbalancingv2::operation::describe_listeners::DescribeListenersOutput;
    use aws_sdk_elasticloadbalancingv2::operation::describe_load_balancers::DescribeLoadBalancersOutput;
    use aws_sdk_elasticloadbalancingv2::types as elb;
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    use serde_json::json;

    use super::*;

    const DEPLOYMENT: &str = "d-ABCDEF123";
    const CLUSTER: &str = "prod";
    const SERVICE: &str = "web";
    const SERVICE_ARN: &str = "arn:aws:ecs:eu-west-1:123456789012:service/prod/web";
    const GREEN_TD: &str = "arn:aws:ecs:eu-west-1:123456789012:task-definition/web:8";
    const BLUE_TD: &str = "arn:aws:ecs:eu-west-1:123456789012:task-definition/web:7";
    const GREEN_SET: &str = "arn:aws:ecs:eu-west-1:123456789012:task-set/prod/web/ecs-svc/222";
    const BLUE_SET: &str = "arn:aws:ecs:eu-west-1:123456789012:task-set/prod/web/ecs-svc/111";
    const TG_BLUE: &str =
        "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web-blue/1";
    const TG_GREEN: &str =
        "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web-green/2";
    const LB: &str = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/web/3";
    const PROD: &str = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/web/3/p";
    const TEST: &str = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/web/3/t";

    /// A JSON-protocol error (CodeDeploy and ECS).
    fn json_error(status: u16, code: &str) -> HttpResponse {
        HttpResponse::new(
            StatusCode::try_from(status).expect("status"),
            SdkBody::from(
                json!({ "__type": code, "message": format!("{code} said no") }).to_string(),
            ),
        )
    }

    fn appspec(task_definition: &str) -> String {
        format!(
            "version: 0.0\nResources:\n  - TargetService:\n      Type: AWS::ECS::Service\n      Properties:\n        TaskDefinition: \"{task_definition}\"\n        LoadBalancerInfo:\n          ContainerName: web\n          ContainerPort: 8080\n"
        )
    }

    fn deployment_info(creator: cd::DeploymentCreator) -> cd::DeploymentInfo {
        cd::DeploymentInfo::builder()
            .deployment_id(DEPLOYMENT)
            .application_name("web-app")
            .deployment_group_name("web-group")
            .status(cd::DeploymentStatus::InProgress)
            .creator(creator)
            .rollback_info(
                cd::RollbackInfo::builder()
                    .rollback_triggering_deployment_id("d-ORIGINAL1")
                    .build(),
            )
            .revision(
                cd::RevisionLocation::builder()
                    .revision_type(cd::RevisionLocationType::AppSpecContent)
                    .app_spec_content(
                        cd::AppSpecContent::builder()
                            .content(appspec(GREEN_TD))
                            .build(),
                    )
                    .build(),
            )
            .build()
    }

    fn get_deployment(creator: cd::DeploymentCreator) -> Rule {
        mock!(CodeDeploy::get_deployment)
            .match_requests(|input| input.deployment_id() == Some(DEPLOYMENT))
            .then_output(move || {
                GetDeploymentOutput::builder()
                    .deployment_info(deployment_info(creator.clone()))
                    .build()
            })
    }

    fn get_group() -> Rule {
        mock!(CodeDeploy::get_deployment_group)
            .match_requests(|input| {
                input.application_name() == Some("web-app")
                    && input.deployment_group_name() == Some("web-group")
            })
            .then_output(|| {
                let route = |arn: &str| cd::TrafficRoute::builder().listener_arns(arn).build();
                GetDeploymentGroupOutput::builder()
                    .deployment_group_info(
                        cd::DeploymentGroupInfo::builder()
                            .ecs_services(
                                cd::EcsService::builder()
                                    .cluster_name(CLUSTER)
                                    .service_name(SERVICE)
                                    .build(),
                            )
                            .load_balancer_info(
                                cd::LoadBalancerInfo::builder()
                                    .target_group_pair_info_list(
                                        cd::TargetGroupPairInfo::builder()
                                            .prod_traffic_route(route(PROD))
                                            .test_traffic_route(route(TEST))
                                            .build(),
                                    )
                                    .build(),
                            )
                            .alarm_configuration(
                                cd::AlarmConfiguration::builder()
                                    .enabled(true)
                                    .alarms(cd::Alarm::builder().name("web-5xx").build())
                                    .build(),
                            )
                            .build(),
                    )
                    .build()
            })
    }

    fn list_targets() -> Rule {
        mock!(CodeDeploy::list_deployment_targets)
            .match_requests(|input| input.deployment_id() == Some(DEPLOYMENT))
            .then_output(|| {
                ListDeploymentTargetsOutput::builder()
                    .target_ids(format!("{CLUSTER}:{SERVICE}"))
                    .build()
            })
    }

    fn get_target() -> Rule {
        mock!(CodeDeploy::get_deployment_target)
            .match_requests(|input| {
                input.deployment_id() == Some(DEPLOYMENT) && input.target_id() == Some("prod:web")
            })
            .then_output(|| {
                let event = |name: &str, status: cd::LifecycleEventStatus| {
                    cd::LifecycleEvent::builder()
                        .lifecycle_event_name(name)
                        .status(status)
                        .build()
                };
                // Blue is listed first: the labels, not the order, say which is which.
                let set = |label: cd::TargetLabel, weight: f64| {
                    cd::EcsTaskSet::builder()
                        .task_set_label(label)
                        .traffic_weight(weight)
                        .build()
                };
                GetDeploymentTargetOutput::builder()
                    .deployment_target(
                        cd::DeploymentTarget::builder()
                            .deployment_target_type(cd::DeploymentTargetType::EcsTarget)
                            .ecs_target(
                                cd::EcsTarget::builder()
                                    .deployment_id(DEPLOYMENT)
                                    .target_id("prod:web")
                                    .lifecycle_events(event(
                                        "AfterInstall",
                                        cd::LifecycleEventStatus::Succeeded,
                                    ))
                                    .lifecycle_events(event(
                                        "AfterAllowTestTraffic",
                                        cd::LifecycleEventStatus::InProgress,
                                    ))
                                    .task_sets_info(set(cd::TargetLabel::Blue, 100.0))
                                    .task_sets_info(set(cd::TargetLabel::Green, 0.0))
                                    .build(),
                            )
                            .build(),
                    )
                    .build()
            })
    }

    fn task_set(
        arn: &str,
        definition: &str,
        external: &str,
        status: &str,
        group: &str,
    ) -> ecs::TaskSet {
        ecs::TaskSet::builder()
            .task_set_arn(arn)
            .task_definition(definition)
            .external_id(external)
            .status(status)
            .computed_desired_count(2)
            .running_count(2)
            .pending_count(0)
            .load_balancers(ecs::LoadBalancer::builder().target_group_arn(group).build())
            .build()
    }

    fn describe_services(with_green: bool) -> Rule {
        mock!(Ecs::describe_services)
            .match_requests(|input| {
                input.cluster() == Some(CLUSTER) && input.services() == [SERVICE.to_owned()]
            })
            .then_output(move || {
                let mut service =
                    ecs::Service::builder()
                        .service_arn(SERVICE_ARN)
                        .task_sets(task_set(
                            BLUE_SET,
                            BLUE_TD,
                            "d-EARLIER99",
                            "PRIMARY",
                            TG_BLUE,
                        ));
                if with_green {
                    service = service.task_sets(task_set(
                        GREEN_SET, GREEN_TD, DEPLOYMENT, "ACTIVE", TG_GREEN,
                    ));
                }
                DescribeServicesOutput::builder()
                    .services(service.build())
                    .build()
            })
    }

    fn describe_task_definition() -> Rule {
        mock!(Ecs::describe_task_definition).then_compute_output(|input| {
            let arn = input.task_definition().unwrap_or_default().to_owned();
            let tag = if arn == GREEN_TD { "v8" } else { "v7" };
            DescribeTaskDefinitionOutput::builder()
                .task_definition(
                    ecs::TaskDefinition::builder()
                        .task_definition_arn(&arn)
                        .container_definitions(
                            ecs::ContainerDefinition::builder()
                                .name("web")
                                .image(format!("public.ecr.aws/acme/web:{tag}"))
                                .build(),
                        )
                        .build(),
                )
                .build()
        })
    }

    fn describe_listeners() -> Rule {
        mock!(Elb::describe_listeners).then_output(|| {
            let listener = |arn: &str, port: i32, group: &str| {
                elb::Listener::builder()
                    .listener_arn(arn)
                    .load_balancer_arn(LB)
                    .port(port)
                    .protocol(elb::ProtocolEnum::Http)
                    .default_actions(
                        elb::Action::builder()
                            .r#type(elb::ActionTypeEnum::Forward)
                            .target_group_arn(group)
                            .build(),
                    )
                    .build()
            };
            DescribeListenersOutput::builder()
                .listeners(listener(PROD, 80, TG_BLUE))
                .listeners(listener(TEST, 8443, TG_GREEN))
                .build()
        })
    }

    fn describe_load_balancers() -> Rule {
        mock!(Elb::describe_load_balancers).then_output(|| {
            DescribeLoadBalancersOutput::builder()
                .load_balancers(
                    elb::LoadBalancer::builder()
                        .load_balancer_arn(LB)
                        .dns_name("web-123.eu-west-1.elb.amazonaws.com")
                        .build(),
                )
                .build()
        })
    }

    /// Retries as in production (standard, three attempts), on paused time.
    fn clients(codedeploy: &[&Rule], ecs: &[&Rule], elb: &[&Rule]) -> AwsClients {
        let config = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::from_static("eu-west-1"))
            .build();
        let mut clients = AwsClients::from_conf(&config);
        clients.codedeploy =
            mock_client!(aws_sdk_codedeploy, RuleMode::MatchAny, codedeploy, |c| {
                c.retry_config(RetryConfig::standard().with_max_attempts(3))
            });
        clients.ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, ecs, |c| {
            c.retry_config(RetryConfig::standard().with_max_attempts(3))
        });
        clients.elbv2 = mock_client!(
            aws_sdk_elasticloadbalancingv2,
            RuleMode::MatchAny,
            elb,
            |c| { c.retry_config(RetryConfig::standard().with_max_attempts(3)) }
        );
        clients
    }

    #[tokio::test(start_paused = true)]
    async fn discovery_reads_each_api_once_and_tells_green_from_blue() {
        let (deployment, group, targets, target) = (
            get_deployment(cd::DeploymentCreator::User),
            get_group(),
            list_targets(),
            get_target(),
        );
        let services = describe_services(true);
        let clients = clients(&[&deployment, &group, &targets, &target], &[&services], &[]);
        let found = discover(&clients, DEPLOYMENT).await.expect("discovered");
        for rule in [&deployment, &group, &targets, &target, &services] {
            assert_eq!(rule.num_calls(), 1);
        }
        let context = &found.context;
        assert_eq!(
            (
                context.application.as_str(),
                context.deployment_group.as_str()
            ),
            ("web-app", "web-group")
        );
        assert_eq!(
            (context.cluster.as_str(), context.service.as_str()),
            (CLUSTER, SERVICE)
        );
        assert_eq!(
            context.lifecycle_event_in_progress.as_deref(),
            Some("AfterAllowTestTraffic")
        );
        assert!(!context.is_rollback());
        assert_eq!(found.service.service_arn, SERVICE_ARN);
        assert_eq!(
            (
                found.service.region.as_str(),
                found.service.account.as_str()
            ),
            ("eu-west-1", "123456789012")
        );
        // Green is the task set whose externalId is the deployment; its weight is the Green label's.
        let green = found.green.as_ref().expect("green");
        assert_eq!(
            (green.arn.as_str(), green.task_definition_arn.as_str()),
            (GREEN_SET, GREEN_TD)
        );
        assert_eq!(green.target_group_arns, vec![TG_GREEN.to_owned()]);
        let blue = found.blue.as_ref().expect("blue");
        assert_eq!(
            (blue.arn.as_str(), blue.task_definition_arn.as_str()),
            (BLUE_SET, BLUE_TD)
        );
        assert_eq!(found.weights.green_production, Some(0.0));
        assert_eq!(found.production_listener.as_deref(), Some(PROD));
        assert_eq!(found.test_listener.as_deref(), Some(TEST));
        assert_eq!(found.deployment.alarm_names, vec!["web-5xx".to_owned()]);
        assert_eq!(found.deployment.green_tasks.running, 2);
        assert_eq!(found.deployment.rollback, None);
        assert_eq!(found.appspec_task_definition.as_deref(), Some(GREEN_TD));
    }

    #[tokio::test(start_paused = true)]
    async fn blue_is_the_task_set_labelled_blue_even_once_green_is_primary() {
        // After AllowTraffic: green serves production and is PRIMARY, blue is ACTIVE, and a stale
        // task set of an earlier deployment lingers. PRIMARY would name green; the deployment
        // target's Blue label names blue.
        const STALE_SET: &str =
            "arn:aws:ecs:eu-west-1:123456789012:task-set/prod/web/ecs-svc/0000000000000000001";
        let target = mock!(CodeDeploy::get_deployment_target).then_output(|| {
            let set = |label: cd::TargetLabel, id: &str, weight: f64| {
                cd::EcsTaskSet::builder()
                    .identifer(id)
                    .task_set_label(label)
                    .traffic_weight(weight)
                    .build()
            };
            GetDeploymentTargetOutput::builder()
                .deployment_target(
                    cd::DeploymentTarget::builder()
                        .ecs_target(
                            cd::EcsTarget::builder()
                                .deployment_id(DEPLOYMENT)
                                .target_id("prod:web")
                                .task_sets_info(set(
                                    cd::TargetLabel::Blue,
                                    BLUE_SET.rsplit('/').next().unwrap_or_default(),
                                    0.0,
                                ))
                                .task_sets_info(set(cd::TargetLabel::Green, "green", 100.0))
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
        let services = mock!(Ecs::describe_services).then_output(|| {
            DescribeServicesOutput::builder()
                .services(
                    ecs::Service::builder()
                        .service_arn(SERVICE_ARN)
                        .task_sets(task_set(
                            STALE_SET,
                            BLUE_TD,
                            "d-OLDER0001",
                            "DRAINING",
                            TG_BLUE,
                        ))
                        .task_sets(task_set(
                            BLUE_SET,
                            BLUE_TD,
                            "d-EARLIER99",
                            "ACTIVE",
                            TG_BLUE,
                        ))
                        .task_sets(task_set(
                            GREEN_SET, GREEN_TD, DEPLOYMENT, "PRIMARY", TG_GREEN,
                        ))
                        .build(),
                )
                .build()
        });
        let (deployment, group, targets) = (
            get_deployment(cd::DeploymentCreator::User),
            get_group(),
            list_targets(),
        );
        let clients = clients(&[&deployment, &group, &targets, &target], &[&services], &[]);
        let found = discover(&clients, DEPLOYMENT).await.expect("discovered");
        assert_eq!(found.blue.as_ref().expect("blue").arn, BLUE_SET);
        assert_eq!(found.green.as_ref().expect("green").arn, GREEN_SET);
        assert_eq!(found.weights.green_production, Some(100.0));
    }

    #[tokio::test(start_paused = true)]
    async fn each_fact_is_gathered_once_per_judgement_however_many_checks_ask() {
        let (deployment, group, targets, target) = (
            get_deployment(cd::DeploymentCreator::User),
            get_group(),
            list_targets(),
            get_target(),
        );
        let (services, definitions) = (describe_services(true), describe_task_definition());
        let tasks = mock!(Ecs::list_tasks)
            .then_output(|| aws_sdk_ecs::operation::list_tasks::ListTasksOutput::builder().build());
        let (listeners, balancers) = (describe_listeners(), describe_load_balancers());
        let clients = clients(
            &[&deployment, &group, &targets, &target],
            &[&services, &definitions, &tasks],
            &[&listeners, &balancers],
        );
        let discovered = discover_for_hook(&clients, DEPLOYMENT)
            .await
            .expect("discovered");
        let facts = (discovered.facts)();
        let (green_a, green_b, blue, routing_a, routing_b, deployment_fact) = tokio::join!(
            facts.green(),
            facts.green(),
            facts.blue(),
            facts.routing(),
            facts.routing(),
            facts.deployment(),
        );
        let green = green_a.expect("green");
        assert_eq!(green, green_b.expect("green again"));
        assert_eq!(green.task_definition_arn, GREEN_TD);
        assert_eq!(green.containers[0].image, "public.ecr.aws/acme/web:v8");
        assert_eq!(
            blue.expect("blue").expect("a blue").containers[0].image,
            "public.ecr.aws/acme/web:v7"
        );
        // Green and blue: one DescribeTaskDefinition each, not one per ask; green's tasks (for the
        // digests ECS resolved) listed once, running and stopped.
        assert_eq!(definitions.num_calls(), 2);
        assert_eq!(tasks.num_calls(), 2);
        let routing = routing_a.expect("routing");
        assert_eq!(routing, routing_b.expect("routing again"));
        assert_eq!(listeners.num_calls(), 1);
        assert_eq!(balancers.num_calls(), 1);
        assert_eq!(routing.green_target_group.as_deref(), Some(TG_GREEN));
        assert_eq!(routing.blue_target_group.as_deref(), Some(TG_BLUE));
        assert_eq!(
            routing.test_rule.as_ref().map(|rule| rule.forwards.clone()),
            Some(vec![(TG_GREEN.to_owned(), 100.0)])
        );
        assert_eq!(
            routing
                .test_endpoint
                .as_ref()
                .map(|endpoint| endpoint.base_url.as_str()),
            Some("http://web-123.eu-west-1.elb.amazonaws.com:8443")
        );
        assert_eq!(deployment_fact.expect("deployment").id, DEPLOYMENT);
        // The deployment itself was learned once, for the whole invocation.
        assert_eq!(deployment.num_calls(), 1);
        // A new judgement gathers afresh (tasks and routing move during a bake).
        let again = (discovered.facts)();
        again.routing().await.expect("routing");
        assert_eq!(listeners.num_calls(), 2);
        assert_eq!(deployment.num_calls(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn before_install_green_is_the_appspec_task_definition() {
        let (deployment, group, targets, target) = (
            get_deployment(cd::DeploymentCreator::User),
            get_group(),
            list_targets(),
            get_target(),
        );
        let (services, definitions) = (describe_services(false), describe_task_definition());
        let clients = clients(
            &[&deployment, &group, &targets, &target],
            &[&services, &definitions],
            &[],
        );
        let discovered = discover_for_hook(&clients, DEPLOYMENT)
            .await
            .expect("discovered");
        let facts = (discovered.facts)();
        let green = facts.green().await.expect("green from the AppSpec");
        assert_eq!(green.task_definition_arn, GREEN_TD);
        assert_eq!(green.containers[0].image, "public.ecr.aws/acme/web:v8");
        // Tasks need the task set: not there yet, which is a wait, not a failure.
        let tasks = facts.green_tasks().await.expect_err("no task set yet");
        assert!(matches!(tasks, FactError::NotReady { .. }), "{tasks:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn before_install_the_appspec_text_is_fetched_when_get_deployment_leaves_it_out() {
        let deployment = mock!(CodeDeploy::get_deployment).then_output(|| {
            let mut info = deployment_info(cd::DeploymentCreator::User);
            info.revision = Some(
                cd::RevisionLocation::builder()
                    .revision_type(cd::RevisionLocationType::AppSpecContent)
                    .app_spec_content(cd::AppSpecContent::builder().sha256("abc123").build())
                    .build(),
            );
            GetDeploymentOutput::builder().deployment_info(info).build()
        });
        let revision = mock!(CodeDeploy::get_application_revision)
            .match_requests(|input| {
                input.application_name() == Some("web-app")
                    && input
                        .revision()
                        .and_then(|revision| revision.app_spec_content())
                        .and_then(|content| content.sha256())
                        == Some("abc123")
            })
            .then_output(|| {
                aws_sdk_codedeploy::operation::get_application_revision::GetApplicationRevisionOutput::builder()
                    .revision(
                        cd::RevisionLocation::builder()
                            .app_spec_content(
                                cd::AppSpecContent::builder()
                                    .content(appspec(GREEN_TD))
                                    .build(),
                            )
                            .build(),
                    )
                    .build()
            });
        let (group, targets, target) = (get_group(), list_targets(), get_target());
        let services = describe_services(false);
        let clients = clients(
            &[&deployment, &revision, &group, &targets, &target],
            &[&services],
            &[],
        );
        let found = discover(&clients, DEPLOYMENT).await.expect("discovered");
        assert!(found.green.is_none(), "no green task set before Install");
        assert_eq!(found.appspec_task_definition.as_deref(), Some(GREEN_TD));
        assert_eq!(revision.num_calls(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_rollback_deployment_says_what_it_rolls_back() {
        let (deployment, group, targets, target) = (
            get_deployment(cd::DeploymentCreator::CodeDeployRollback),
            get_group(),
            list_targets(),
            get_target(),
        );
        let services = describe_services(true);
        let clients = clients(&[&deployment, &group, &targets, &target], &[&services], &[]);
        let found = discover(&clients, DEPLOYMENT).await.expect("discovered");
        assert!(found.context.is_rollback());
        assert_eq!(found.context.rolls_back.as_deref(), Some("d-ORIGINAL1"));
        assert_eq!(
            found.deployment.rollback.as_deref(),
            Some("CodeDeploy rollback of d-ORIGINAL1")
        );
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_is_retried_then_succeeds() {
        let deployment = mock!(CodeDeploy::get_deployment)
            .sequence()
            .http_response(|| json_error(400, "ThrottlingException"))
            .times(2)
            .output(|| {
                GetDeploymentOutput::builder()
                    .deployment_info(deployment_info(cd::DeploymentCreator::User))
                    .build()
            })
            .build();
        let (group, targets, target) = (get_group(), list_targets(), get_target());
        let services = describe_services(true);
        let clients = clients(&[&deployment, &group, &targets, &target], &[&services], &[]);
        let found = discover(&clients, DEPLOYMENT)
            .await
            .expect("discovered after retries");
        assert_eq!(deployment.num_calls(), 3);
        assert_eq!(found.context.deployment_id, DEPLOYMENT);
    }

    #[tokio::test(start_paused = true)]
    async fn throttled_throughout_is_a_throttled_fact_naming_the_action() {
        let deployment = mock!(CodeDeploy::get_deployment)
            .then_http_response(|| json_error(400, "ThrottlingException"));
        let clients = clients(&[&deployment], &[], &[]);
        let error = discover(&clients, DEPLOYMENT).await.expect_err("throttled");
        assert!(
            matches!(&error, FactError::Throttled { action, .. } if action == "codedeploy:GetDeployment"),
            "{error:?}"
        );
        assert_eq!(deployment.num_calls(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn access_denied_names_the_action_and_resource() {
        let deployment = get_deployment(cd::DeploymentCreator::User);
        let group = mock!(CodeDeploy::get_deployment_group)
            .then_http_response(|| json_error(400, "AccessDeniedException"));
        let targets = list_targets();
        let clients = clients(&[&deployment, &group, &targets], &[], &[]);
        let error = discover(&clients, DEPLOYMENT).await.expect_err("denied");
        match &error {
            FactError::AccessDenied {
                action, resource, ..
            } => {
                assert_eq!(action, "codedeploy:GetDeploymentGroup");
                assert_eq!(resource, "web-app/web-group");
            }
            other => panic!("expected access denied, got {other:?}"),
        }
        assert!(error.to_string().contains("codedeploy:GetDeploymentGroup"));
        assert_eq!(group.num_calls(), 1, "denial is not retried");
    }

    #[tokio::test(start_paused = true)]
    async fn a_missing_deployment_is_not_found_naming_it() {
        let deployment = mock!(CodeDeploy::get_deployment)
            .then_http_response(|| json_error(400, "DeploymentDoesNotExistException"));
        let clients = clients(&[&deployment], &[], &[]);
        let error = discover(&clients, DEPLOYMENT).await.expect_err("missing");
        assert_eq!(
            error,
            FactError::NotFound {
                what: "CodeDeploy deployment".to_owned(),
                resource: DEPLOYMENT.to_owned(),
            }
        );
    }

    #[test]
    fn green_s_digest_is_the_pinned_one_else_what_most_running_tasks_report() {
        let revision = |image: &str| RevisionFacts {
            arn: GREEN_SET.to_owned(),
            task_definition_arn: GREEN_TD.to_owned(),
            containers: vec![ContainerImage {
                digest_by_consensus: false,
                container: "web".to_owned(),
                image: image.to_owned(),
                digest: None,
            }],
            target_group_arns: Vec::new(),
            test_header: None,
        };
        let task = |status: &str, digest: &str| TaskFacts {
            arn: format!("task-{digest}"),
            task_definition_arn: GREEN_TD.to_owned(),
            last_status: status.to_owned(),
            desired_status: "RUNNING".to_owned(),
            stopped_reason: None,
            private_ip: None,
            containers: vec![greenlight_core::facts::RunningContainer {
                name: "web".to_owned(),
                image: "web:2".to_owned(),
                image_digest: Some(digest.to_owned()),
                last_status: status.to_owned(),
                exit_code: None,
                reason: None,
            }],
        };
        let tasks = [
            task("RUNNING", "sha256:aaa"),
            task("RUNNING", "sha256:bbb"),
            task("RUNNING", "sha256:bbb"),
            task("STOPPED", "sha256:ccc"),
            task("STOPPED", "sha256:ccc"),
        ];
        let digest = |revision: RevisionFacts| revision.containers[0].digest.clone();
        assert_eq!(
            digest(with_resolved_digests(&revision("web:2"), &tasks)).as_deref(),
            Some("sha256:bbb")
        );
        assert_eq!(
            digest(with_resolved_digests(
                &revision("web@sha256:pinned"),
                &tasks
            ))
            .as_deref(),
            Some("sha256:pinned")
        );
        assert_eq!(digest(with_resolved_digests(&revision("web:2"), &[])), None);
    }

    #[test]
    fn the_appspec_task_definition_is_read_from_yaml_or_json() {
        assert_eq!(
            appspec_task_definition(&appspec(GREEN_TD)).as_deref(),
            Some(GREEN_TD)
        );
        let as_json = json!({
            "version": 0.0,
            "Resources": [{ "TargetService": { "Type": "AWS::ECS::Service", "Properties": { "TaskDefinition": BLUE_TD } } }],
        });
        assert_eq!(
            appspec_task_definition(&as_json.to_string()).as_deref(),
            Some(BLUE_TD)
        );
        assert_eq!(appspec_task_definition("version: 0.0\nHooks: []\n"), None);
        assert_eq!(appspec_task_definition("{not: [valid"), None);
    }
}
