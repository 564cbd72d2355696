//! The facts provider for ECS-native deployments.
//!
//! [`EcsFacts`] is built per invocation from the hook event and the shared clients; building it makes
//! no call. Each fact is gathered on first use and only once, however many checks ask for it at the
//! same time: a `Memo` per fact runs one gathering and hands every caller its
//! result, errors included. An error is kept for the rest of the invocation on purpose: the SDK has already
//! retried, and the engine judges again on the next invocation, which starts afresh.
//!
//! What is gathered, and with which calls:
//! - [`Facts::deployment`]: `DescribeServiceDeployments` for this deployment and
//!   `ListServiceDeployments` for the others still in flight, concurrently.
//! - [`Facts::green`] and [`Facts::blue`]: one `DescribeServiceRevisions` for both. Blue is the other
//!   revision the event's weight maps name; when they name none (the stages before any traffic
//!   shift), it is the deployment's source revision, so the call then waits for
//!   `DescribeServiceDeployments`. A service's first deployment has no blue.
//! - [`Facts::green_tasks`]: `ListTasks` for running and for stopped tasks concurrently, then
//!   `DescribeTasks` in batches of 100, keeping the tasks that run green's task definition; when
//!   blue runs the same one (a redeploy), tasks are told apart by `startedBy` and creation time
//!   ([`select_green_tasks`]).
//! - [`Facts::target_groups`]: green's group as ECS resolved it, else the member of the pair green's
//!   running tasks are registered in (`DescribeTargetHealth` for each): no listener or rule read,
//!   so `target_health`, judged again and again while targets come into service, spends no ELB
//!   describe call but its own on a crowded account.
//! - [`Facts::routing`]: `DescribeRules` for the production and test rules in one call, with
//!   `DescribeListeners` and `DescribeLoadBalancers` for the test listener at the same time (the
//!   listener and load balancer ARNs are parts of the rule ARN), and the target groups.
//!
//! Fields ECS fills in as the deployment goes (image digests, the resolved configuration) are kept
//! as absent when absent. In particular, the two target groups of a blue/green service swap roles
//! between deployments, so a revision's configured pair does not say which one green uses: green's
//! [`RevisionFacts::target_group_arns`] lists what ECS resolved (or a lone configured group, which is
//! unambiguous), and [`RoutingFacts::green_target_group`] falls back to the member of the pair where
//! green's running tasks are registered (never the rule weights the checks judge), logging that it
//! did, else stays unknown so the checks that need it wait.
//!
//! Here: the provider and how it gathers each fact; in `shapes`, what it keeps between facts and the
//! SDK's shapes mapped to facts (pure); in `green_tasks`, green's tasks listed, described and told apart
//! from blue's; in `tests`, both tested.

use std::sync::Arc;
use std::time::SystemTime;

use aws_sdk_ecs::types::{
    DeploymentLifecycleHookDetail, DeploymentLifecycleHookStatus,
    DeploymentLifecycleHookTargetType, DesiredStatus, ServiceConnectConfiguration,
    ServiceDeployment, ServiceDeploymentStatus, ServiceRevision, Task,
};
use aws_sdk_elasticloadbalancingv2::types::{Action, ActionTypeEnum, ProtocolEnum, Rule};
use greenlight_core::facts::{
    ContainerImage, DeploymentFacts, DeploymentStatus, FactError, FactFuture, Facts, HeaderMatch,
    HealthCheckFacts, ListenerRuleFacts, RevisionFacts, RoutingFacts, RuleCondition,
    ServiceIdentity, TargetGroupFacts, TaskCounts, TaskFacts, TestEndpoint, TrafficWeights,
};
use greenlight_core::protocol::ecs::{EventError, HookEvent, TrafficMap};
use tokio::sync::OnceCell;

use super::Memo;
use super::elb::{LoadBalancerNames, green_health_check_once, load_balancer_dns};
use super::tasks::task_from;
use crate::clients::AwsClients;
use crate::error::classify;

mod green_tasks;
mod shapes;
#[cfg(test)]
mod tests;

pub use green_tasks::{
    BlueTaskIdentity, GreenTaskIdentity, gather_green_tasks, select_green_tasks,
};
use shapes::*;

/// The header ECS Service Connect routes to green when a service sets no test traffic rule of its own.
pub const DEFAULT_TEST_HEADER: &str = "x-amzn-ecs-blue-green-test";

/// The value greenlight sends with a test header that ECS matches on presence alone (the default
/// header, or a rule without a value).
const PRESENCE_HEADER_VALUE: &str = "true";

/// ECS error codes that mean something the call names does not exist.
const ECS_NOT_FOUND: &[(&str, &str)] = &[
    ("ClusterNotFoundException", "cluster"),
    ("ServiceNotFoundException", "service"),
];

/// The most tasks `DescribeTasks` takes per call.
const DESCRIBE_TASKS_BATCH: usize = 100;

/// Pages read from a list call before giving up on the rest: a bound on the work of one invocation
/// (2,000 tasks, or 2,000 in-flight deployments, is far beyond any real service).
const MAX_LIST_PAGES: usize = 20;

/// Deployment statuses that mean "still in flight": started and not finished, rollbacks included.
const IN_FLIGHT_STATUSES: [ServiceDeploymentStatus; 5] = [
    ServiceDeploymentStatus::Pending,
    ServiceDeploymentStatus::InProgress,
    ServiceDeploymentStatus::StopRequested,
    ServiceDeploymentStatus::RollbackRequested,
    ServiceDeploymentStatus::RollbackInProgress,
];

/// Facts about one ECS-native deployment, gathered lazily and once per invocation.
#[derive(Debug)]
pub struct EcsFacts {
    service: ServiceIdentity,
    weights: TrafficWeights,
    deployment_arn: String,
    green_arn: String,
    /// Blue, when the event's weight maps name it.
    blue_in_event: Option<String>,
    /// This function's ARN, to find this hook among the deployment's hooks.
    function_arn: Option<String>,
    ecs: aws_sdk_ecs::Client,
    elbv2: aws_sdk_elasticloadbalancingv2::Client,
    load_balancer_names: LoadBalancerNames,
    described: Memo<Arc<DescribedDeployment>>,
    deployment: Memo<Arc<DeploymentFacts>>,
    revisions: OnceCell<Revisions>,
    green_tasks: Memo<Arc<Vec<TaskFacts>>>,
    routing: Memo<Arc<RoutingFacts>>,
    target_groups: Memo<Arc<TargetGroupFacts>>,
    green_health_check: Memo<Arc<HealthCheckFacts>>,
}

impl EcsFacts {
    /// Facts for the deployment `event` belongs to. Makes no call; fails only on an event whose
    /// service ARN does not parse (which [`HookEvent::parse`] has already refused).
    pub fn new(event: &HookEvent, clients: &AwsClients) -> Result<Self, EventError> {
        let mut facts = Self::with_clients(event, clients.ecs.clone(), clients.elbv2.clone())?;
        facts.load_balancer_names = clients.load_balancer_names.clone();
        Ok(facts)
    }

    /// Facts from the only two clients they use.
    pub fn with_clients(
        event: &HookEvent,
        ecs: aws_sdk_ecs::Client,
        elbv2: aws_sdk_elasticloadbalancingv2::Client,
    ) -> Result<Self, EventError> {
        let arn = event.service()?;
        let service = ServiceIdentity {
            partition: arn.partition,
            region: arn.region,
            account: arn.account,
            cluster: arn.cluster,
            service: arn.service,
            service_arn: event.execution_details.service_arn.clone(),
        };
        Ok(EcsFacts {
            service,
            weights: TrafficWeights {
                green_production: event.green_production_weight(),
                green_test: event.green_test_weight(),
            },
            deployment_arn: event.resource_arn.clone(),
            green_arn: event.green_revision().to_owned(),
            blue_in_event: blue_from_event(event),
            function_arn: None,
            ecs,
            elbv2,
            load_balancer_names: LoadBalancerNames::default(),
            described: Memo::new(),
            deployment: Memo::new(),
            revisions: OnceCell::new(),
            green_tasks: Memo::new(),
            routing: Memo::new(),
            target_groups: Memo::new(),
            green_health_check: Memo::new(),
        })
    }

    /// Names the function this invocation runs in (the Lambda context's invoked function ARN), so
    /// that [`DeploymentFacts::hook_expires_at`] is this hook's own deadline even when several hooks
    /// run at the same stage.
    pub fn with_function_arn(mut self, function_arn: impl Into<String>) -> Self {
        self.function_arn = Some(function_arn.into());
        self
    }

    // ---------------------------------------------------------------------------------------------
    // The deployment
    // ---------------------------------------------------------------------------------------------

    async fn described(&self) -> Result<Arc<DescribedDeployment>, FactError> {
        self.described.get(|| self.describe_deployment()).await
    }

    async fn describe_deployment(&self) -> Result<Arc<DescribedDeployment>, FactError> {
        const ACTION: &str = "ecs:DescribeServiceDeployments";
        let output = self
            .ecs
            .describe_service_deployments()
            .service_deployment_arns(&self.deployment_arn)
            .send()
            .await
            .map_err(|error| classify(&error, ACTION, &self.deployment_arn, ECS_NOT_FOUND))?;
        let deployments = output.service_deployments();
        let found = deployments
            .iter()
            .find(|d| d.service_deployment_arn() == Some(self.deployment_arn.as_str()))
            .or(match deployments {
                [only] => Some(only),
                _ => None,
            });
        match found {
            Some(deployment) => described_deployment(
                deployment,
                &self.deployment_arn,
                self.function_arn.as_deref(),
            )
            .map(Arc::new),
            None if !output.failures().is_empty() => Err(FactError::NotFound {
                what: "service deployment".to_owned(),
                resource: self.deployment_arn.clone(),
            }),
            None => Err(FactError::Unexpected {
                action: ACTION.to_owned(),
                message: format!(
                    "neither the deployment nor a failure for {} came back",
                    self.deployment_arn
                ),
            }),
        }
    }

    async fn gather_deployment(&self) -> Result<Arc<DeploymentFacts>, FactError> {
        let (described, in_flight) = tokio::join!(self.described(), self.list_in_flight());
        let mut facts = described?.facts.clone();
        facts.other_in_flight = in_flight?;
        Ok(Arc::new(facts))
    }

    /// The other deployments of the service that have started and not finished.
    async fn list_in_flight(&self) -> Result<Vec<String>, FactError> {
        const ACTION: &str = "ecs:ListServiceDeployments";
        let mut others = Vec::new();
        let mut next_token: Option<String> = None;
        for _ in 0..MAX_LIST_PAGES {
            let output = self
                .ecs
                .list_service_deployments()
                .cluster(&self.service.cluster)
                .service(&self.service.service_arn)
                .set_status(Some(IN_FLIGHT_STATUSES.to_vec()))
                .set_next_token(next_token.take())
                .send()
                .await
                .map_err(|error| {
                    classify(&error, ACTION, &self.service.service_arn, ECS_NOT_FOUND)
                })?;
            others.extend(
                output
                    .service_deployments()
                    .iter()
                    .filter_map(|brief| brief.service_deployment_arn())
                    .filter(|arn| *arn != self.deployment_arn)
                    .map(str::to_owned),
            );
            match output.next_token() {
                Some(token) if !token.is_empty() => next_token = Some(token.to_owned()),
                _ => break,
            }
        }
        others.sort();
        others.dedup();
        Ok(others)
    }

    // ---------------------------------------------------------------------------------------------
    // Revisions
    // ---------------------------------------------------------------------------------------------

    async fn revisions(&self) -> &Revisions {
        self.revisions
            .get_or_init(|| self.describe_revisions())
            .await
    }

    /// Green and blue with one `DescribeServiceRevisions` call. A failure to learn blue's ARN leaves
    /// green unaffected: the image and task checks need only green.
    async fn describe_revisions(&self) -> Revisions {
        const ACTION: &str = "ecs:DescribeServiceRevisions";
        let blue_arn: Result<Option<String>, FactError> = match &self.blue_in_event {
            Some(arn) => Ok(Some(arn.clone())),
            None => self
                .described()
                .await
                .map(|described| blue_from_sources(&described.sources, &self.green_arn)),
        };
        // Two ARNs at most: well within the 20 the call takes.
        let mut arns = vec![self.green_arn.clone()];
        if let Ok(Some(blue)) = &blue_arn {
            arns.push(blue.clone());
        }
        let output = self
            .ecs
            .describe_service_revisions()
            .set_service_revision_arns(Some(arns.clone()))
            .send()
            .await
            .map_err(|error| classify(&error, ACTION, &arns.join(", "), ECS_NOT_FOUND));
        let output = match output {
            Ok(output) => output,
            Err(error) => {
                // With no blue to look up, the failed call says nothing about blue.
                let blue = match blue_arn {
                    Ok(None) => Ok(None),
                    Ok(Some(_)) => Err(error.clone()),
                    Err(blue_error) => Err(blue_error),
                };
                return Revisions {
                    green: Err(error),
                    blue,
                };
            }
        };
        let pick = |arn: &str, what: &str| -> Result<Arc<Revision>, FactError> {
            if let Some(revision) = output
                .service_revisions()
                .iter()
                .find(|r| r.service_revision_arn() == Some(arn))
            {
                return revision_from(revision, arn).map(Arc::new);
            }
            if output.failures().iter().any(|f| f.arn() == Some(arn)) {
                return Err(FactError::NotFound {
                    what: what.to_owned(),
                    resource: arn.to_owned(),
                });
            }
            Err(FactError::Unexpected {
                action: ACTION.to_owned(),
                message: format!("neither the revision nor a failure for {arn} came back"),
            })
        };
        Revisions {
            green: pick(&self.green_arn, "green service revision"),
            blue: blue_arn.and_then(|blue| {
                blue.map(|arn| pick(&arn, "blue service revision"))
                    .transpose()
            }),
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Green's tasks
    // ---------------------------------------------------------------------------------------------

    async fn gather_green_tasks(&self) -> Result<Arc<Vec<TaskFacts>>, FactError> {
        let revisions = self.revisions().await;
        let green = revisions.green.clone()?;
        // Blue only matters when it shares green's task definition, but a blue that cannot be
        // learned might: counting its tasks as green's could pass a green that never started, so
        // the lookup's error stands (it is not "no blue", which is a first deployment).
        let blue = revisions.blue.clone()?;
        let shares_task_definition = blue
            .as_ref()
            .is_some_and(|blue| blue.facts.task_definition_arn == green.facts.task_definition_arn);
        // The deployment's start time is needed only to tell tasks of a shared task definition
        // apart, so other deployments make no extra call for it.
        let deployment_started_at = if shares_task_definition {
            self.described().await?.facts.started_at
        } else {
            None
        };
        let identity = GreenTaskIdentity {
            revision_arn: self.green_arn.clone(),
            task_definition_arn: green.facts.task_definition_arn.clone(),
            blue: blue.map(|blue| BlueTaskIdentity {
                revision_arn: blue.facts.arn.clone(),
                task_definition_arn: blue.facts.task_definition_arn.clone(),
            }),
            deployment_started_at,
        };
        gather_green_tasks(&self.ecs, &self.service, &identity)
            .await
            .map(Arc::new)
    }

    // ---------------------------------------------------------------------------------------------
    // Routing
    // ---------------------------------------------------------------------------------------------

    /// Green's and blue's target groups: green's as ECS resolved it, else the member of the
    /// configured pair green's running tasks are registered in. No listener or rule is read.
    async fn gather_target_groups(&self) -> Result<Arc<TargetGroupFacts>, FactError> {
        let revisions = self.revisions().await;
        let green = revisions.green.clone()?;
        // Blue only refines the target groups; they stand without it.
        let blue = revisions.blue.clone().ok().flatten();
        let balancers = &green.load_balancers;
        let configured = configured_balancer(balancers);

        let pair = configured
            .and_then(|lb| Some((lb.target_group.clone()?, lb.alternate_target_group.clone()?)));
        let blue_resolved = blue
            .as_ref()
            .and_then(|blue| blue.load_balancers.resolved.first())
            .and_then(|lb| lb.target_group.clone());
        let green_resolved = balancers
            .resolved
            .iter()
            .find_map(|lb| lb.target_group.clone())
            .or_else(|| {
                // A lone configured group (no alternate) is unambiguous.
                configured
                    .filter(|lb| lb.alternate_target_group.is_none())
                    .and_then(|lb| lb.target_group.clone())
            });
        // Only when ECS has not resolved green's group: where green's tasks are registered says
        // which member of the pair is green without reading the weights `routing` judges.
        let registered_in = match (&green_resolved, &pair) {
            (None, Some((a, b))) => self.where_green_is_registered(a, b).await,
            _ => None,
        };
        let groups = assign_target_groups(green_resolved, blue_resolved, pair, registered_in);
        let load_balanced = !balancers.resolved.is_empty() || !balancers.configured.is_empty();
        if load_balanced && groups.source != TargetGroupSource::Resolved {
            tracing::info!(
                green_target_group = groups.green.as_deref().unwrap_or("unknown"),
                blue_target_group = groups.blue.as_deref().unwrap_or("unknown"),
                source = groups.source.describe(),
                "green's target group was not resolved by ECS"
            );
        }
        Ok(Arc::new(TargetGroupFacts {
            green: groups.green,
            blue: groups.blue,
            load_balanced,
        }))
    }

    async fn gather_routing(&self) -> Result<Arc<RoutingFacts>, FactError> {
        let revisions = self.revisions().await;
        let green = revisions.green.clone()?;
        let balancers = &green.load_balancers;
        let configured = configured_balancer(balancers);
        let production_rule_arn = balancers
            .resolved
            .iter()
            .find_map(|lb| lb.production_rule.clone())
            .or_else(|| configured.and_then(|lb| lb.production_rule.clone()));
        let test_rule_arn = configured.and_then(|lb| lb.test_rule.clone());

        // An ALB names listener rules; an NLB names listeners (botocore AdvancedConfiguration:
        // "listener rule (ALB) or listener (NLB)"), whose default action carries the weights.
        let mut rule_arns: Vec<String> = Vec::new();
        let mut listener_arns: Vec<String> = Vec::new();
        for arn in production_rule_arn.iter().chain(test_rule_arn.iter()) {
            let list = if is_listener_arn(arn) {
                &mut listener_arns
            } else {
                &mut rule_arns
            };
            if !list.contains(arn) {
                list.push(arn.clone());
            }
        }
        let test_listener_arn = test_rule_arn
            .as_deref()
            .map(listener_arn_of_rule)
            .transpose()?;
        if let Some(listener) = &test_listener_arn
            && !listener_arns.contains(listener)
        {
            listener_arns.push(listener.clone());
        }
        let listener_for_lb = match (&test_listener_arn, &production_rule_arn) {
            (Some(listener), _) => Some(listener.clone()),
            (None, Some(rule)) => Some(listener_arn_of_rule(rule)?),
            (None, None) => None,
        };
        let derived_lb_arn = listener_for_lb
            .as_deref()
            .map(load_balancer_arn_of_listener)
            .transpose()?;

        // The lookups are independent: the listener and load balancer ARNs are parts of the
        // rule ARN, so nothing waits for another answer.
        let lb_for_dns = test_listener_arn.as_ref().and(derived_lb_arn.clone());
        let (rules, listeners, dns_name, groups) = tokio::join!(
            self.describe_rules(&rule_arns),
            self.describe_listeners(&listener_arns),
            self.describe_load_balancer(lb_for_dns.as_deref()),
            self.target_groups(),
        );
        let groups = groups?;
        let mut rules = rules?;
        let listeners = listeners?;
        let dns_name = dns_name?;
        // A listener named as a "rule" (NLB) is judged by its default action.
        rules.extend(
            listeners
                .iter()
                .filter(|listener| {
                    production_rule_arn.as_ref() == Some(&listener.arn)
                        || test_rule_arn.as_ref() == Some(&listener.arn)
                })
                .map(ListenerFacts::as_rule),
        );
        let listener = test_listener_arn
            .as_ref()
            .and_then(|arn| listeners.iter().find(|listener| &listener.arn == arn))
            .cloned();
        let rule = |arn: &Option<String>| {
            arn.as_ref()
                .and_then(|arn| rules.iter().find(|rule| &rule.rule_arn == arn))
                .cloned()
        };
        let production_rule = rule(&production_rule_arn);
        let test_rule = rule(&test_rule_arn);

        let test_endpoint = match (&test_rule, &listener, &dns_name) {
            (Some(rule), Some(listener), Some(dns)) => Some(alb_test_endpoint(rule, listener, dns)),
            _ => None,
        };
        // Service Connect routes test traffic in the *client's* proxy (the ECS developer guide,
        // Service Connect blue/green): only tasks in the namespace can send it, and a Lambda is
        // not one. So its alias is never a test endpoint here; an `http` check reaches it only
        // through a URL the team names (`target: url`) on a client in the namespace.
        if test_endpoint.is_none()
            && let (Some(header), Some(alias)) = (
                &green.facts.test_header,
                &green.load_balancers.service_connect,
            )
        {
            tracing::info!(
                alias = %format!("{}:{}", alias.host, alias.port),
                header = %header.name,
                "green routes test traffic with Service Connect, which a Lambda function cannot send through; no test endpoint"
            );
        }

        Ok(Arc::new(RoutingFacts {
            green_target_group: groups.green.clone(),
            blue_target_group: groups.blue.clone(),
            load_balancer_arn: listener
                .as_ref()
                .and_then(|listener| listener.load_balancer_arn.clone())
                .or(derived_lb_arn),
            production_rule,
            test_rule,
            test_endpoint,
        }))
    }

    /// Whether any of green's running tasks is registered in `a` and in `b` (one
    /// `DescribeTargetHealth` call each, concurrently). `None` when that cannot be learned: green
    /// has no running task with an IP yet, or a lookup failed (logged; the group stays unknown).
    async fn where_green_is_registered(&self, a: &str, b: &str) -> Option<[bool; 2]> {
        let tasks = match self.green_tasks().await {
            Ok(tasks) => tasks,
            Err(error) => {
                tracing::info!(%error, "green's tasks unknown; green's target group stays unknown");
                return None;
            }
        };
        let ips: Vec<&str> = tasks
            .iter()
            .filter(|task| task.last_status == "RUNNING")
            .filter_map(|task| task.private_ip.as_deref())
            .collect();
        if ips.is_empty() {
            return None;
        }
        let registered = |group: &'_ str| {
            let ips = &ips;
            let group = group.to_owned();
            async move {
                let targets =
                    crate::checks::target_health::describe_targets(&self.elbv2, &group).await?;
                Ok::<bool, FactError>(
                    targets
                        .iter()
                        .any(|target| ips.contains(&target.id.as_str())),
                )
            }
        };
        match tokio::join!(registered(a), registered(b)) {
            (Ok(in_a), Ok(in_b)) => Some([in_a, in_b]),
            (Err(error), _) | (_, Err(error)) => {
                tracing::info!(%error, "green's target group stays unknown");
                None
            }
        }
    }

    async fn describe_rules(&self, arns: &[String]) -> Result<Vec<ListenerRuleFacts>, FactError> {
        describe_listener_rules(&self.elbv2, arns).await
    }

    /// The listeners `arns`, in that order, with one `DescribeListeners` call (none for none).
    async fn describe_listeners(&self, arns: &[String]) -> Result<Vec<ListenerFacts>, FactError> {
        const ACTION: &str = "elasticloadbalancing:DescribeListeners";
        if arns.is_empty() {
            return Ok(Vec::new());
        }
        let output = self
            .elbv2
            .describe_listeners()
            .set_listener_arns(Some(arns.to_vec()))
            .send()
            .await
            .map_err(|error| {
                classify(
                    &error,
                    ACTION,
                    &arns.join(", "),
                    &[("ListenerNotFound", "listener")],
                )
            })?;
        let mut listeners = Vec::with_capacity(arns.len());
        for arn in arns {
            let Some(listener) = output
                .listeners()
                .iter()
                .find(|listener| listener.listener_arn() == Some(arn.as_str()))
            else {
                return Err(FactError::NotFound {
                    what: "listener".to_owned(),
                    resource: arn.clone(),
                });
            };
            let Some(port) = listener.port() else {
                return Err(FactError::Unexpected {
                    action: ACTION.to_owned(),
                    message: format!("listener {arn} has no port"),
                });
            };
            listeners.push(ListenerFacts {
                arn: arn.clone(),
                port,
                secure: matches!(
                    listener.protocol(),
                    Some(ProtocolEnum::Https | ProtocolEnum::Tls)
                ),
                load_balancer_arn: listener.load_balancer_arn().map(str::to_owned),
                default_forwards: forwards_of(listener.default_actions()),
            });
        }
        Ok(listeners)
    }

    async fn describe_load_balancer(&self, arn: Option<&str>) -> Result<Option<String>, FactError> {
        match arn {
            Some(arn) => load_balancer_dns(&self.elbv2, &self.load_balancer_names, arn)
                .await
                .map(Some),
            None => Ok(None),
        }
    }
}

/// The load balancer entry of green's configuration that names the blue/green pair (else the first).
fn configured_balancer(balancers: &RevisionLoadBalancers) -> Option<&ConfiguredLoadBalancer> {
    balancers
        .configured
        .iter()
        .find(|lb| lb.alternate_target_group.is_some())
        .or(balancers.configured.first())
}

/// The listener rules `arns`, in that order, with one `DescribeRules` call (none for no ARN). A rule
/// that does not come back is [`FactError::NotFound`], naming it.
pub async fn describe_listener_rules(
    elbv2: &aws_sdk_elasticloadbalancingv2::Client,
    arns: &[String],
) -> Result<Vec<ListenerRuleFacts>, FactError> {
    const ACTION: &str = "elasticloadbalancing:DescribeRules";
    if arns.is_empty() {
        return Ok(Vec::new());
    }
    let output = elbv2
        .describe_rules()
        .set_rule_arns(Some(arns.to_vec()))
        .send()
        .await
        .map_err(|error| {
            classify(
                &error,
                ACTION,
                &arns.join(", "),
                &[("RuleNotFound", "listener rule")],
            )
        })?;
    let mut rules = Vec::with_capacity(arns.len());
    for arn in arns {
        let Some(rule) = output
            .rules()
            .iter()
            .find(|rule| rule.rule_arn() == Some(arn.as_str()))
        else {
            return Err(FactError::NotFound {
                what: "listener rule".to_owned(),
                resource: arn.clone(),
            });
        };
        rules.push(rule_facts(rule, arn)?);
    }
    Ok(rules)
}

impl Facts for EcsFacts {
    fn service(&self) -> &ServiceIdentity {
        &self.service
    }

    fn weights(&self) -> TrafficWeights {
        self.weights
    }

    fn green(&self) -> FactFuture<'_, Arc<RevisionFacts>> {
        Box::pin(async move {
            let revisions = self.revisions().await;
            revisions
                .green
                .as_ref()
                .map(|revision| revision.facts.clone())
                .map_err(Clone::clone)
        })
    }

    fn blue(&self) -> FactFuture<'_, Option<Arc<RevisionFacts>>> {
        Box::pin(async move {
            let revisions = self.revisions().await;
            revisions
                .blue
                .as_ref()
                .map(|blue| blue.as_ref().map(|revision| revision.facts.clone()))
                .map_err(Clone::clone)
        })
    }

    fn deployment(&self) -> FactFuture<'_, Arc<DeploymentFacts>> {
        Box::pin(async move { self.deployment.get(|| self.gather_deployment()).await })
    }

    fn deployment_status(&self) -> FactFuture<'_, DeploymentStatus> {
        // DescribeServiceDeployments alone: the in-flight listing says nothing about a rollback.
        Box::pin(async move {
            let described = self.described().await?;
            Ok(DeploymentStatus {
                status: described.facts.status.clone(),
                rollback: described.facts.rollback.clone(),
                hook_expires_at: described.facts.hook_expires_at,
                hook_running: described.hook_running,
            })
        })
    }

    fn green_tasks(&self) -> FactFuture<'_, Arc<Vec<TaskFacts>>> {
        Box::pin(async move { self.green_tasks.get(|| self.gather_green_tasks()).await })
    }

    fn routing(&self) -> FactFuture<'_, Arc<RoutingFacts>> {
        Box::pin(async move { self.routing.get(|| self.gather_routing()).await })
    }

    fn target_groups(&self) -> FactFuture<'_, Arc<TargetGroupFacts>> {
        Box::pin(async move { self.target_groups.get(|| self.gather_target_groups()).await })
    }

    fn green_health_check(&self) -> FactFuture<'_, Arc<HealthCheckFacts>> {
        Box::pin(green_health_check_once(
            &self.green_health_check,
            &self.elbv2,
            self.target_groups(),
        ))
    }
}
