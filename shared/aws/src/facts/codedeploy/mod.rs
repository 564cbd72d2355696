//! What a CodeDeploy hook knows about its deployment: learned from CodeDeploy and ECS.
//!
//! [`discover`] (in `discovery.rs`) runs once per invocation; what it learned is shared by every
//! judgement of the invocation.
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
//!   `DescribeLoadBalancers` for the test listener's DNS name;
//! - green's health check: one `DescribeTargetGroups` of green's target group, when a check asks.

use std::sync::Arc;

use aws_sdk_ecs::types::{DesiredStatus, Task};
use aws_sdk_elasticloadbalancingv2::types::{Action, ActionTypeEnum, Listener, ProtocolEnum};
use greenlight_core::facts::{
    ContainerImage, DeploymentFacts, FactError, FactFuture, Facts, HealthCheckFacts,
    ListenerRuleFacts, RevisionFacts, RoutingFacts, ServiceIdentity, TargetGroupFacts, TaskCounts,
    TaskFacts, TestEndpoint, TrafficWeights,
};

use super::Memo;
use super::elb::{LoadBalancerNames, green_health_check_once, load_balancer_dns};
use super::tasks::task_from;
use crate::clients::AwsClients;
use crate::error::classify;

mod discovery;

use discovery::{DESCRIBE_TASKS_BATCH, ECS_NOT_FOUND, MAX_LIST_PAGES};
pub use discovery::{
    DeploymentDiscovery, TaskSetFacts, appspec_task_definition, discover, discover_for_hook,
    group_alarm_names,
};

/// Facts about a CodeDeploy ECS deployment for one judgement, gathered lazily and once.
#[derive(Debug)]
pub struct CodeDeployFacts {
    discovery: Arc<DeploymentDiscovery>,
    ecs: aws_sdk_ecs::Client,
    elbv2: aws_sdk_elasticloadbalancingv2::Client,
    load_balancer_names: LoadBalancerNames,
    green: Memo<Arc<RevisionFacts>>,
    blue: Memo<Option<Arc<RevisionFacts>>>,
    green_tasks: Memo<Arc<Vec<TaskFacts>>>,
    routing: Memo<Arc<RoutingFacts>>,
    green_health_check: Memo<Arc<HealthCheckFacts>>,
}

impl CodeDeployFacts {
    /// Facts on top of what [`discover`] learned. Makes no call.
    pub fn new(discovery: Arc<DeploymentDiscovery>, clients: &AwsClients) -> Self {
        CodeDeployFacts {
            discovery,
            ecs: clients.ecs.clone(),
            elbv2: clients.elbv2.clone(),
            load_balancer_names: clients.load_balancer_names.clone(),
            green: Memo::new(),
            blue: Memo::new(),
            green_tasks: Memo::new(),
            routing: Memo::new(),
            green_health_check: Memo::new(),
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
                    &self.load_balancer_names,
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

    fn target_groups(&self) -> FactFuture<'_, Arc<TargetGroupFacts>> {
        // CodeDeploy names both task sets' groups: no ELB call.
        let discovery = &self.discovery;
        let green = discovery
            .green
            .as_ref()
            .and_then(|set| set.target_group_arns.first().cloned());
        let blue = discovery
            .blue
            .as_ref()
            .and_then(|set| set.target_group_arns.first().cloned());
        let groups = TargetGroupFacts {
            load_balanced: green.is_some()
                || blue.is_some()
                || discovery.production_listener.is_some()
                || discovery.test_listener.is_some(),
            green,
            blue,
        };
        Box::pin(async move { Ok(Arc::new(groups)) })
    }

    fn green_health_check(&self) -> FactFuture<'_, Arc<HealthCheckFacts>> {
        Box::pin(green_health_check_once(
            &self.green_health_check,
            &self.elbv2,
            self.target_groups(),
        ))
    }
}

#[cfg(test)]
mod tests;
