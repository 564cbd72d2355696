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
//! - [`Facts::routing`]: `DescribeRules` for the production and test rules in one call, with
//!   `DescribeListeners` and `DescribeLoadBalancers` for the test listener at the same time (the
//!   listener and load balancer ARNs are parts of the rule ARN).
//!
//! Fields ECS fills in as the deployment goes (image digests, the resolved configuration) are kept
//! as absent when absent. In particular, the two target groups of a blue/green service swap roles
//! between deployments, so a revision's configured pair does not say which one green uses: green's
//! [`RevisionFacts::target_group_arns`] lists what ECS resolved (or a lone configured group, which is
//! unambiguous), and [`RoutingFacts::green_target_group`] falls back to the member of the pair where
//! green's running tasks are registered (never the rule weights the checks judge), logging that it
//! did, else stays unknown so the checks that need it wait.

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
    ListenerRuleFacts, RevisionFacts, RoutingFacts, RuleCondition, ServiceIdentity, TaskCounts,
    TaskFacts, TestEndpoint, TrafficWeights,
};
use greenlight_core::protocol::ecs::{EventError, HookEvent, TrafficMap};
use tokio::sync::OnceCell;

use super::Memo;
use super::tasks::task_from;
use crate::clients::AwsClients;
use crate::error::classify;

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
    described: Memo<Arc<DescribedDeployment>>,
    deployment: Memo<Arc<DeploymentFacts>>,
    revisions: OnceCell<Revisions>,
    green_tasks: Memo<Arc<Vec<TaskFacts>>>,
    routing: Memo<Arc<RoutingFacts>>,
}

impl EcsFacts {
    /// Facts for the deployment `event` belongs to. Makes no call; fails only on an event whose
    /// service ARN does not parse (which [`HookEvent::parse`] has already refused).
    pub fn new(event: &HookEvent, clients: &AwsClients) -> Result<Self, EventError> {
        Self::with_clients(event, clients.ecs.clone(), clients.elbv2.clone())
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
            described: Memo::new(),
            deployment: Memo::new(),
            revisions: OnceCell::new(),
            green_tasks: Memo::new(),
            routing: Memo::new(),
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
        self.described
            .get(|| self.describe_deployment())
            .await
            .clone()
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

    async fn gather_routing(&self) -> Result<Arc<RoutingFacts>, FactError> {
        let revisions = self.revisions().await;
        let green = revisions.green.clone()?;
        // Blue only refines the target groups; routing stands without it.
        let blue = revisions.blue.clone().ok().flatten();

        let balancers = &green.load_balancers;
        let configured = balancers
            .configured
            .iter()
            .find(|lb| lb.alternate_target_group.is_some())
            .or(balancers.configured.first());
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

        // The three lookups are independent: the listener and load balancer ARNs are parts of the
        // rule ARN, so nothing waits for another answer.
        let lb_for_dns = test_listener_arn.as_ref().and(derived_lb_arn.clone());
        let (rules, listeners, dns_name) = tokio::join!(
            self.describe_rules(&rule_arns),
            self.describe_listeners(&listener_arns),
            self.describe_load_balancer(lb_for_dns.as_deref()),
        );
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
        let has_load_balancer = !balancers.resolved.is_empty() || !balancers.configured.is_empty();
        if has_load_balancer && groups.source != TargetGroupSource::Resolved {
            tracing::info!(
                green_target_group = groups.green.as_deref().unwrap_or("unknown"),
                blue_target_group = groups.blue.as_deref().unwrap_or("unknown"),
                source = groups.source.describe(),
                "green's target group was not resolved by ECS"
            );
        }

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
            green_target_group: groups.green,
            blue_target_group: groups.blue,
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
        const ACTION: &str = "elasticloadbalancing:DescribeLoadBalancers";
        let Some(arn) = arn else { return Ok(None) };
        let output = self
            .elbv2
            .describe_load_balancers()
            .load_balancer_arns(arn)
            .send()
            .await
            .map_err(|error| {
                classify(
                    &error,
                    ACTION,
                    arn,
                    &[("LoadBalancerNotFound", "load balancer")],
                )
            })?;
        let dns = output
            .load_balancers()
            .iter()
            .find(|lb| lb.load_balancer_arn() == Some(arn))
            .and_then(|lb| lb.dns_name())
            .filter(|dns| !dns.is_empty());
        match dns {
            Some(dns) => Ok(Some(dns.to_owned())),
            None => Err(FactError::NotFound {
                what: "load balancer".to_owned(),
                resource: arn.to_owned(),
            }),
        }
    }
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
        Box::pin(async move {
            self.deployment
                .get(|| self.gather_deployment())
                .await
                .clone()
        })
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
        Box::pin(async move {
            self.green_tasks
                .get(|| self.gather_green_tasks())
                .await
                .clone()
        })
    }

    fn routing(&self) -> FactFuture<'_, Arc<RoutingFacts>> {
        Box::pin(async move { self.routing.get(|| self.gather_routing()).await.clone() })
    }
}

// -------------------------------------------------------------------------------------------------
// Green's tasks
// -------------------------------------------------------------------------------------------------

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

/// What tells green's tasks from the other tasks of the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GreenTaskIdentity {
    /// Green's service revision ARN.
    pub revision_arn: String,
    /// The task definition green runs.
    pub task_definition_arn: String,
    /// Blue, when known.
    pub blue: Option<BlueTaskIdentity>,
    /// When the deployment started, when known.
    pub deployment_started_at: Option<SystemTime>,
}

/// Blue's side of [`GreenTaskIdentity`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlueTaskIdentity {
    /// Blue's service revision ARN.
    pub revision_arn: String,
    /// The task definition blue runs.
    pub task_definition_arn: String,
}

/// Green's tasks, running and recently stopped: `ListTasks` for running and for stopped tasks of
/// the service concurrently, then `DescribeTasks` in batches of 100, keeping green's tasks as
/// [`select_green_tasks`] tells them apart.
pub async fn gather_green_tasks(
    ecs: &aws_sdk_ecs::Client,
    service: &ServiceIdentity,
    identity: &GreenTaskIdentity,
) -> Result<Vec<TaskFacts>, FactError> {
    let (running, stopped) = tokio::join!(
        list_tasks(ecs, service, DesiredStatus::Running),
        list_tasks(ecs, service, DesiredStatus::Stopped),
    );
    let mut arns = running?;
    // A task that stopped between the two lists appears in both.
    for arn in stopped? {
        if !arns.contains(&arn) {
            arns.push(arn);
        }
    }
    let batches = arns
        .chunks(DESCRIBE_TASKS_BATCH)
        .map(|batch| describe_tasks(ecs, service, batch));
    let described: Vec<Task> = futures::future::try_join_all(batches)
        .await?
        .into_iter()
        .flatten()
        .collect();
    select_green_tasks(&described, identity)
}

/// The `startedBy` ECS gives the tasks a service revision starts: `ecs-svc/<revision id>`, the id
/// being the last part of the revision ARN.
fn revision_starter(revision_arn: &str) -> String {
    let id = revision_arn.rsplit('/').next().unwrap_or(revision_arn);
    format!("ecs-svc/{id}")
}

/// Green's tasks among the service's.
///
/// `ListTasks`' service filter is not enough on its own (some endpoints ignore it, and blue's tasks
/// belong to the same service), so a task is green's when it runs green's task definition. When
/// blue runs the same task definition (a redeploy of it, as `--force-new-deployment` makes), that
/// says nothing, and each task is told apart by, in order:
/// 1. its `startedBy`: `ecs-svc/<id>` of green's revision ARN is green, of blue's is blue;
/// 2. its creation time: a task created before the deployment started is blue's.
///
/// A task that neither tells apart is left out rather than counted for green: counting blue's
/// healthy tasks could pass a green that never started. When no task can be told apart at all the
/// fact is not ready (the check waits), with a message that says why.
pub fn select_green_tasks(
    tasks: &[Task],
    identity: &GreenTaskIdentity,
) -> Result<Vec<TaskFacts>, FactError> {
    let candidates = tasks
        .iter()
        .filter(|task| task.task_definition_arn() == Some(identity.task_definition_arn.as_str()));
    let Some(blue) = identity
        .blue
        .as_ref()
        .filter(|blue| blue.task_definition_arn == identity.task_definition_arn)
    else {
        return Ok(candidates.filter_map(task_from).collect());
    };
    let green_starter = revision_starter(&identity.revision_arn);
    let blue_starter = revision_starter(&blue.revision_arn);
    let mut green = Vec::new();
    let mut undecided = 0usize;
    for task in candidates {
        let is_green = match task.started_by() {
            Some(started_by) if started_by == green_starter => Some(true),
            Some(started_by) if started_by == blue_starter => Some(false),
            _ => match (
                system_time(task.created_at()),
                identity.deployment_started_at,
            ) {
                (Some(created), Some(started)) => Some(created >= started),
                _ => None,
            },
        };
        match is_green {
            Some(true) => green.extend(task_from(task)),
            Some(false) => {}
            None => undecided += 1,
        }
    }
    if green.is_empty() && undecided > 0 {
        return Err(FactError::NotReady {
            what: "green's tasks".to_owned(),
            detail: format!(
                "blue ({}) and green ({}) both run task definition {}, and {undecided} task(s) of it carry neither revision's startedBy ({green_starter} or {blue_starter}) nor a creation time to compare with the deployment's start",
                blue.revision_arn, identity.revision_arn, identity.task_definition_arn
            ),
        });
    }
    Ok(green)
}

fn cluster_arn(service: &ServiceIdentity) -> String {
    format!(
        "arn:{}:ecs:{}:{}:cluster/{}",
        service.partition, service.region, service.account, service.cluster
    )
}

async fn list_tasks(
    ecs: &aws_sdk_ecs::Client,
    service: &ServiceIdentity,
    desired: DesiredStatus,
) -> Result<Vec<String>, FactError> {
    const ACTION: &str = "ecs:ListTasks";
    let mut arns = Vec::new();
    let mut next_token: Option<String> = None;
    for _ in 0..MAX_LIST_PAGES {
        let output = ecs
            .list_tasks()
            .cluster(&service.cluster)
            .service_name(&service.service)
            .desired_status(desired.clone())
            .max_results(100)
            .set_next_token(next_token.take())
            .send()
            .await
            .map_err(|error| classify(&error, ACTION, &cluster_arn(service), ECS_NOT_FOUND))?;
        arns.extend(output.task_arns().iter().cloned());
        match output.next_token() {
            Some(token) if !token.is_empty() => next_token = Some(token.to_owned()),
            _ => break,
        }
    }
    Ok(arns)
}

async fn describe_tasks(
    ecs: &aws_sdk_ecs::Client,
    service: &ServiceIdentity,
    arns: &[String],
) -> Result<Vec<Task>, FactError> {
    const ACTION: &str = "ecs:DescribeTasks";
    let output = ecs
        .describe_tasks()
        .cluster(&service.cluster)
        .set_tasks(Some(arns.to_vec()))
        .send()
        .await
        .map_err(|error| {
            let resource = format!("tasks in {}", cluster_arn(service));
            classify(&error, ACTION, &resource, ECS_NOT_FOUND)
        })?;
    // Failures here are tasks that vanished between ListTasks and DescribeTasks (stopped tasks
    // expire): there is nothing left to judge of them.
    Ok(output.tasks().to_vec())
}

// -------------------------------------------------------------------------------------------------
// What is kept between facts
// -------------------------------------------------------------------------------------------------

/// `DescribeServiceDeployments`' answer: the deployment facts (without the other deployments in
/// flight, which another call lists) and the source revisions blue is chosen from.
#[derive(Debug)]
struct DescribedDeployment {
    facts: DeploymentFacts,
    sources: Vec<SourceRevision>,
    hook_running: Option<bool>,
}

/// A revision the deployment moves traffic away from.
#[derive(Debug, Clone, PartialEq)]
struct SourceRevision {
    arn: String,
    production_weight: Option<f64>,
    running: i32,
}

/// Green and blue, from one call.
#[derive(Debug)]
struct Revisions {
    green: Result<Arc<Revision>, FactError>,
    blue: Result<Option<Arc<Revision>>, FactError>,
}

/// A revision's public facts and what routing needs besides.
#[derive(Debug, PartialEq)]
struct Revision {
    facts: Arc<RevisionFacts>,
    load_balancers: RevisionLoadBalancers,
}

#[derive(Debug, Default, PartialEq)]
struct RevisionLoadBalancers {
    /// What ECS resolved for this revision (absent early in a deployment).
    resolved: Vec<ResolvedLoadBalancer>,
    /// The service's load balancer configuration as the revision carries it.
    configured: Vec<ConfiguredLoadBalancer>,
    /// Where Service Connect clients reach the service, for the test header.
    service_connect: Option<ServiceConnectAlias>,
}

#[derive(Debug, PartialEq)]
struct ResolvedLoadBalancer {
    target_group: Option<String>,
    production_rule: Option<String>,
}

#[derive(Debug, PartialEq)]
struct ConfiguredLoadBalancer {
    target_group: Option<String>,
    alternate_target_group: Option<String>,
    production_rule: Option<String>,
    test_rule: Option<String>,
}

#[derive(Debug, PartialEq)]
struct ServiceConnectAlias {
    host: String,
    port: i32,
}

#[derive(Debug, Clone, PartialEq)]
struct ListenerFacts {
    arn: String,
    port: i32,
    secure: bool,
    load_balancer_arn: Option<String>,
    /// Target group → weight of the default action: where an NLB's blue/green weights live.
    default_forwards: Vec<(String, f64)>,
}

impl ListenerFacts {
    /// The listener as the "rule" ECS names for an NLB: its default action, matching everything.
    fn as_rule(&self) -> ListenerRuleFacts {
        ListenerRuleFacts {
            rule_arn: self.arn.clone(),
            listener_arn: self.arn.clone(),
            forwards: self.default_forwards.clone(),
            conditions: Vec::new(),
        }
    }
}

// -------------------------------------------------------------------------------------------------
// Mapping SDK shapes to facts (pure)
// -------------------------------------------------------------------------------------------------

/// Blue from the event's weight maps: the other revision they name, or of several the one with most
/// production (then test) traffic.
fn blue_from_event(event: &HookEvent) -> Option<String> {
    let weight = |map: TrafficMap, arn: &str| event.weights(map).get(arn).copied().unwrap_or(0.0);
    event
        .blue_revisions()
        .into_iter()
        .rev()
        .max_by(|a, b| {
            let key = |arn: &str| {
                (
                    weight(TrafficMap::Production, arn),
                    weight(TrafficMap::Test, arn),
                )
            };
            key(a)
                .partial_cmp(&key(b))
                .unwrap_or(std::cmp::Ordering::Equal)
        })
        .map(str::to_owned)
}

/// Blue from the deployment's source revisions: the one with most production traffic, then most
/// running tasks. None on a service's first deployment.
fn blue_from_sources(sources: &[SourceRevision], green_arn: &str) -> Option<String> {
    sources
        .iter()
        .filter(|source| source.arn != green_arn)
        .max_by(|a, b| {
            let key = |s: &SourceRevision| (s.production_weight.unwrap_or(0.0), s.running);
            key(a)
                .partial_cmp(&key(b))
                .unwrap_or(std::cmp::Ordering::Equal)
        })
        .map(|source| source.arn.clone())
}

fn system_time(time: Option<&aws_smithy_types::DateTime>) -> Option<SystemTime> {
    time.and_then(|time| SystemTime::try_from(*time).ok())
}

fn count(value: i32) -> u32 {
    u32::try_from(value).unwrap_or(0)
}

fn described_deployment(
    deployment: &ServiceDeployment,
    arn: &str,
    function_arn: Option<&str>,
) -> Result<DescribedDeployment, FactError> {
    let Some(status) = deployment.status() else {
        return Err(FactError::Unexpected {
            action: "ecs:DescribeServiceDeployments".to_owned(),
            message: format!("deployment {arn} came back without a status"),
        });
    };
    let status = status.as_str().to_owned();
    let green_tasks = deployment
        .target_service_revision()
        .map(|target| TaskCounts {
            requested: count(target.requested_task_count()),
            running: count(target.running_task_count()),
            pending: count(target.pending_task_count()),
        })
        .unwrap_or_default();
    let (alarm_names, triggered_alarms) = deployment
        .alarms()
        .map(|alarms| {
            (
                split_alarm_names(alarms.alarm_names()),
                split_alarm_names(alarms.triggered_alarm_names()),
            )
        })
        .unwrap_or_default();
    let rollback = match deployment.rollback() {
        Some(rollback) => Some(
            rollback
                .reason()
                .filter(|reason| !reason.is_empty())
                .map(str::to_owned)
                .unwrap_or_else(|| format!("the deployment is {status}, no reason given")),
        ),
        None if status.starts_with("ROLLBACK_") => Some(format!("the deployment is {status}")),
        None => None,
    };
    let sources = deployment
        .source_service_revisions()
        .iter()
        .filter_map(|source| {
            Some(SourceRevision {
                arn: source.arn()?.to_owned(),
                production_weight: source.requested_production_traffic_weight(),
                running: source.running_task_count(),
            })
        })
        .collect();
    Ok(DescribedDeployment {
        facts: DeploymentFacts {
            id: arn.to_owned(),
            status,
            started_at: system_time(deployment.started_at()),
            green_tasks,
            alarm_names,
            triggered_alarms,
            rollback,
            hook_expires_at: hook_expiry(deployment.lifecycle_hook_details(), function_arn),
            other_in_flight: Vec::new(),
        },
        sources,
        hook_running: hook_running(deployment.lifecycle_hook_details(), function_arn),
    })
}

/// Whether the deployment lists this function's hook as in progress: `Some(true)` when one of its
/// hooks is, `Some(false)` when it lists the function's hooks and none is, `None` when the function
/// is not known or not listed (whether ECS lists a hook while invoking it is undocumented).
fn hook_running(
    hooks: &[DeploymentLifecycleHookDetail],
    function_arn: Option<&str>,
) -> Option<bool> {
    let function = unqualified_function(function_arn?);
    let mine: Vec<&DeploymentLifecycleHookDetail> = hooks
        .iter()
        .filter(|hook| {
            hook.target_arn()
                .is_some_and(|target| unqualified_function(target) == function)
        })
        .collect();
    if mine.is_empty() {
        return None;
    }
    Some(
        mine.iter()
            .any(|hook| hook.status() == Some(&DeploymentLifecycleHookStatus::InProgress)),
    )
}

/// A Lambda ARN without its version or alias qualifier.
fn unqualified_function(arn: &str) -> &str {
    // arn:partition:lambda:region:account:function:name[:qualifier]
    match arn.match_indices(':').nth(6) {
        Some((cut, _)) => &arn[..cut],
        None => arn,
    }
}

/// This hook's expiry: the hook whose target is this function, or, when the function is not known,
/// the only Lambda hook in progress. None when it cannot be told apart from others.
fn hook_expiry(
    hooks: &[DeploymentLifecycleHookDetail],
    function_arn: Option<&str>,
) -> Option<SystemTime> {
    let lambda_hooks = hooks
        .iter()
        .filter(|hook| hook.target_type() != Some(&DeploymentLifecycleHookTargetType::Pause));
    let mine: Vec<&DeploymentLifecycleHookDetail> = match function_arn {
        Some(function) => lambda_hooks
            .filter(|hook| {
                hook.target_arn().is_some_and(|target| {
                    unqualified_function(target) == unqualified_function(function)
                })
            })
            .collect(),
        None => lambda_hooks
            .filter(|hook| hook.status() == Some(&DeploymentLifecycleHookStatus::InProgress))
            .collect(),
    };
    // The same function may be hooked at several stages; the one running now is in progress. A
    // finished entry is an earlier stage's (whether ECS lists the running hook is undocumented):
    // its expiry says nothing about this one.
    let running: Vec<&&DeploymentLifecycleHookDetail> = mine
        .iter()
        .filter(|hook| hook.status() == Some(&DeploymentLifecycleHookStatus::InProgress))
        .collect();
    match running.as_slice() {
        [hook] => system_time(hook.expires_at()),
        _ => None,
    }
}

fn revision_from(revision: &ServiceRevision, arn: &str) -> Result<Revision, FactError> {
    let Some(task_definition) = revision.task_definition().filter(|td| !td.is_empty()) else {
        return Err(FactError::Unexpected {
            action: "ecs:DescribeServiceRevisions".to_owned(),
            message: format!("revision {arn} came back without a task definition"),
        });
    };
    let containers = revision
        .container_images()
        .iter()
        .filter_map(|image| {
            Some(ContainerImage {
                digest_by_consensus: false,
                container: image.container_name()?.to_owned(),
                image: image.image()?.to_owned(),
                digest: image
                    .image_digest()
                    .filter(|digest| !digest.is_empty())
                    .map(str::to_owned),
            })
        })
        .collect();
    let resolved: Vec<ResolvedLoadBalancer> = revision
        .resolved_configuration()
        .map(|resolved| resolved.load_balancers())
        .unwrap_or_default()
        .iter()
        .map(|lb| ResolvedLoadBalancer {
            target_group: lb.target_group_arn().map(str::to_owned),
            production_rule: lb.production_listener_rule().map(str::to_owned),
        })
        .collect();
    let configured: Vec<ConfiguredLoadBalancer> = revision
        .load_balancers()
        .iter()
        .map(|lb| {
            let advanced = lb.advanced_configuration();
            ConfiguredLoadBalancer {
                target_group: lb.target_group_arn().map(str::to_owned),
                alternate_target_group: advanced
                    .and_then(|a| a.alternate_target_group_arn())
                    .map(str::to_owned),
                production_rule: advanced
                    .and_then(|a| a.production_listener_rule())
                    .map(str::to_owned),
                test_rule: advanced
                    .and_then(|a| a.test_listener_rule())
                    .map(str::to_owned),
            }
        })
        .collect();
    let target_group_arns = revision_target_groups(&resolved, &configured);
    let (test_header, service_connect) =
        service_connect_test(revision.service_connect_configuration());
    Ok(Revision {
        facts: Arc::new(RevisionFacts {
            arn: arn.to_owned(),
            task_definition_arn: task_definition.to_owned(),
            containers,
            target_group_arns,
            test_header,
        }),
        load_balancers: RevisionLoadBalancers {
            resolved,
            configured,
            service_connect,
        },
    })
}

/// The target groups a revision serves from: what ECS resolved; else the configured groups that have
/// no alternate. A blue/green pair is left out until resolved, because which of the two is this
/// revision's changes from one deployment to the next.
fn revision_target_groups(
    resolved: &[ResolvedLoadBalancer],
    configured: &[ConfiguredLoadBalancer],
) -> Vec<String> {
    let mut groups: Vec<String> = resolved
        .iter()
        .filter_map(|lb| lb.target_group.clone())
        .collect();
    if groups.is_empty() {
        groups = configured
            .iter()
            .filter(|lb| lb.alternate_target_group.is_none())
            .filter_map(|lb| lb.target_group.clone())
            .collect();
    }
    groups.dedup();
    groups
}

/// The Service Connect test header and where clients reach the service. A test rule's header wins;
/// a Service Connect service without one gets ECS's default header, matched on presence.
fn service_connect_test(
    config: Option<&ServiceConnectConfiguration>,
) -> (Option<HeaderMatch>, Option<ServiceConnectAlias>) {
    let Some(config) = config.filter(|config| config.enabled()) else {
        return (None, None);
    };
    // The model: `dnsName` defaults to `discoveryName.namespace`, else `portName.namespace`.
    let namespace = config
        .namespace()
        .filter(|namespace| !namespace.is_empty() && !namespace.starts_with("arn:"));
    let aliases = config.services().iter().flat_map(move |service| {
        let name = service
            .discovery_name()
            .filter(|name| !name.is_empty())
            .unwrap_or(service.port_name());
        let default_host = match namespace {
            Some(namespace) => format!("{name}.{namespace}"),
            None => name.to_owned(),
        };
        service.client_aliases().iter().map(move |alias| {
            let host = alias
                .dns_name()
                .filter(|name| !name.is_empty())
                .map_or_else(|| default_host.clone(), str::to_owned);
            (alias, host)
        })
    });
    let mut first_alias = None;
    for (alias, host) in aliases {
        let endpoint = ServiceConnectAlias {
            host,
            port: alias.port(),
        };
        if let Some(rules) = alias.test_traffic_rules() {
            let header = match rules.header() {
                Some(header) => HeaderMatch {
                    name: header.name().to_owned(),
                    value: header
                        .value()
                        .map(|value| value.exact().to_owned())
                        .unwrap_or_else(|| PRESENCE_HEADER_VALUE.to_owned()),
                },
                None => default_test_header(),
            };
            return (Some(header), Some(endpoint));
        }
        first_alias.get_or_insert(endpoint);
    }
    match first_alias {
        Some(endpoint) => (Some(default_test_header()), Some(endpoint)),
        None => (None, None),
    }
}

fn default_test_header() -> HeaderMatch {
    HeaderMatch {
        name: DEFAULT_TEST_HEADER.to_owned(),
        value: PRESENCE_HEADER_VALUE.to_owned(),
    }
}

/// `arn:…:listener-rule/app/<lb>/<lb-id>/<listener-id>/<rule-id>` → `arn:…:listener/app/<lb>/<lb-id>/<listener-id>`.
fn listener_arn_of_rule(rule_arn: &str) -> Result<String, FactError> {
    // An NLB's "rule" is its listener.
    if is_listener_arn(rule_arn) {
        return Ok(rule_arn.to_owned());
    }
    rule_arn
        .split_once(":listener-rule/")
        .and_then(|(prefix, path)| {
            let (listener_path, _rule_id) = path.rsplit_once('/')?;
            (listener_path.split('/').count() == 4)
                .then(|| format!("{prefix}:listener/{listener_path}"))
        })
        .ok_or_else(|| FactError::Unexpected {
            action: "elasticloadbalancing:DescribeRules".to_owned(),
            message: format!("{rule_arn} is not a listener rule ARN"),
        })
}

/// Alarm names from a ServiceDeployment's `alarms`: botocore's ECS model types them as a list yet
/// documents "A ',' separates the alarms", so one element may hold several names. Splitting on
/// commas gives the same names under both readings for every alarm name without a comma; the
/// price is that an alarm whose own name contains a comma (CloudWatch allows it) is not found,
/// which the alarms check reports rather than passes. See docs/aws-contracts.md.
fn split_alarm_names(names: &[String]) -> Vec<String> {
    let mut split: Vec<String> = names
        .iter()
        .flat_map(|entry| entry.split(','))
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .collect();
    split.dedup();
    split
}

/// Whether `arn` names a listener (`…:listener/net/…`), as ECS's `productionListenerRule` does
/// for a Network Load Balancer, rather than a listener rule.
fn is_listener_arn(arn: &str) -> bool {
    arn.contains(":listener/")
}

/// `arn:…:listener/app/<lb>/<lb-id>/<listener-id>` → `arn:…:loadbalancer/app/<lb>/<lb-id>`.
fn load_balancer_arn_of_listener(listener_arn: &str) -> Result<String, FactError> {
    listener_arn
        .split_once(":listener/")
        .and_then(|(prefix, path)| {
            let (lb_path, _listener_id) = path.rsplit_once('/')?;
            (lb_path.split('/').count() == 3).then(|| format!("{prefix}:loadbalancer/{lb_path}"))
        })
        .ok_or_else(|| FactError::Unexpected {
            action: "elasticloadbalancing:DescribeListeners".to_owned(),
            message: format!("{listener_arn} is not a listener ARN"),
        })
}

/// Target group → weight of the forward actions among `actions`.
fn forwards_of(actions: &[Action]) -> Vec<(String, f64)> {
    let mut forwards: Vec<(String, f64)> = Vec::new();
    for action in actions
        .iter()
        .filter(|action| action.r#type() == Some(&ActionTypeEnum::Forward))
    {
        match action.forward_config() {
            Some(config) if !config.target_groups().is_empty() => {
                for group in config.target_groups() {
                    if let Some(arn) = group.target_group_arn() {
                        // ELB's default weight is 1.
                        forwards.push((arn.to_owned(), f64::from(group.weight().unwrap_or(1))));
                    }
                }
            }
            _ => {
                if let Some(arn) = action.target_group_arn() {
                    forwards.push((arn.to_owned(), 1.0));
                }
            }
        }
    }
    forwards
}

fn rule_facts(rule: &Rule, rule_arn: &str) -> Result<ListenerRuleFacts, FactError> {
    let forwards = forwards_of(rule.actions());
    let conditions = rule
        .conditions()
        .iter()
        .map(|condition| {
            let field = condition.field().unwrap_or_default();
            // The typed configs replace the legacy `Values`; read either.
            let pick = |typed: Option<&[String]>| -> Vec<String> {
                match typed {
                    Some(values) if !values.is_empty() => values.to_vec(),
                    _ => condition.values().to_vec(),
                }
            };
            match field {
                "host-header" => {
                    let values = pick(condition.host_header_config().map(|c| c.values()));
                    if values.is_empty() {
                        RuleCondition::Other("host-header (regex)".to_owned())
                    } else {
                        RuleCondition::Host(values)
                    }
                }
                "path-pattern" => {
                    let values = pick(condition.path_pattern_config().map(|c| c.values()));
                    if values.is_empty() {
                        RuleCondition::Other("path-pattern (regex)".to_owned())
                    } else {
                        RuleCondition::Path(values)
                    }
                }
                "http-header" => match condition.http_header_config() {
                    Some(config) if !config.values().is_empty() => RuleCondition::Header {
                        name: config.http_header_name().unwrap_or_default().to_owned(),
                        values: config.values().to_vec(),
                    },
                    _ => RuleCondition::Other("http-header (regex)".to_owned()),
                },
                other => RuleCondition::Other(other.to_owned()),
            }
        })
        .collect();
    Ok(ListenerRuleFacts {
        rule_arn: rule_arn.to_owned(),
        listener_arn: listener_arn_of_rule(rule_arn)?,
        forwards,
        conditions,
    })
}

/// How green's target group was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TargetGroupSource {
    /// ECS resolved it for the green revision (or the service has a single group).
    Resolved,
    /// The member of the configured pair where green's running tasks are registered.
    RegisteredTasks,
    /// Nothing said which one is green.
    Unknown,
}

impl TargetGroupSource {
    fn describe(self) -> &'static str {
        match self {
            TargetGroupSource::Resolved => "resolved by ECS",
            TargetGroupSource::RegisteredTasks => {
                "inferred: the configured pair member where green's running tasks are registered"
            }
            TargetGroupSource::Unknown => {
                "unknown: not resolved, and green's tasks are not registered in exactly one group"
            }
        }
    }
}

#[derive(Debug, PartialEq)]
struct TargetGroups {
    green: Option<String>,
    blue: Option<String>,
    source: TargetGroupSource,
}

/// Green's and blue's target groups: resolved when ECS has; else the member of the configured pair
/// where green's running tasks are registered (`registered_in`, for the pair's two members), when
/// exactly one is. Never the listener rule's weights: `routing` and `compare` judge those, and a
/// group read off them would make a rule sending everything to blue look right.
fn assign_target_groups(
    green_resolved: Option<String>,
    blue_resolved: Option<String>,
    pair: Option<(String, String)>,
    registered_in: Option<[bool; 2]>,
) -> TargetGroups {
    let other_of = |green: &str| {
        pair.as_ref().and_then(|(a, b)| {
            if a == green {
                Some(b.clone())
            } else if b == green {
                Some(a.clone())
            } else {
                None
            }
        })
    };
    if let Some(green) = green_resolved {
        let blue = blue_resolved
            .filter(|blue| *blue != green)
            .or_else(|| other_of(&green));
        return TargetGroups {
            green: Some(green),
            blue,
            source: TargetGroupSource::Resolved,
        };
    }
    let inferred = match (pair, registered_in) {
        (Some((a, b)), Some([true, false])) => Some((a, b)),
        (Some((a, b)), Some([false, true])) => Some((b, a)),
        _ => None,
    };
    match inferred {
        Some((green, blue)) => TargetGroups {
            green: Some(green),
            blue: Some(blue),
            source: TargetGroupSource::RegisteredTasks,
        },
        None => TargetGroups {
            green: None,
            blue: blue_resolved,
            source: TargetGroupSource::Unknown,
        },
    }
}

/// A literal that an ELB wildcard pattern matches: `*` becomes `fill`, `?` one character.
fn literal(pattern: &str, fill: &str) -> String {
    pattern
        .chars()
        .map(|c| match c {
            '*' => fill.to_owned(),
            '?' => "x".to_owned(),
            other => other.to_string(),
        })
        .collect()
}

/// Where test traffic reaches green through the test listener, with a host, path and headers that
/// satisfy the test rule's conditions.
fn alb_test_endpoint(
    rule: &ListenerRuleFacts,
    listener: &ListenerFacts,
    dns: &str,
) -> TestEndpoint {
    let scheme = if listener.secure { "https" } else { "http" };
    let mut endpoint = TestEndpoint {
        base_url: format!("{scheme}://{dns}:{}", listener.port),
        host: None,
        path: None,
        headers: Vec::new(),
    };
    for condition in &rule.conditions {
        match condition {
            RuleCondition::Host(values) => {
                // A plain host if there is one; else a wildcard's match (`*.example.com` →
                // `test.example.com`, a valid host where dropping the `*` would not be).
                let host = values
                    .iter()
                    .find(|value| !value.contains(['*', '?']))
                    .or(values.first())
                    .map(|value| literal(value, "test"));
                endpoint.host = endpoint.host.or(host);
            }
            RuleCondition::Path(values) => {
                let path = values.first().map(|value| {
                    let path = literal(value, "");
                    if path.starts_with('/') {
                        path
                    } else {
                        format!("/{path}")
                    }
                });
                endpoint.path = endpoint.path.or(path);
            }
            RuleCondition::Header { name, values } => {
                if let Some(value) = values.first() {
                    let value = literal(value, "");
                    endpoint.headers.push(HeaderMatch {
                        name: name.clone(),
                        value: if value.is_empty() {
                            "test".to_owned()
                        } else {
                            value
                        },
                    });
                }
            }
            RuleCondition::Other(_) => {}
        }
    }
    endpoint
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use aws_sdk_ecs::Client as Ecs;
    use aws_sdk_ecs::operation::describe_service_deployments::DescribeServiceDeploymentsOutput;
    use aws_sdk_ecs::operation::describe_service_revisions::DescribeServiceRevisionsOutput;
    use aws_sdk_ecs::operation::describe_tasks::DescribeTasksOutput;
    use aws_sdk_ecs::operation::list_service_deployments::ListServiceDeploymentsOutput;
    use aws_sdk_ecs::operation::list_tasks::ListTasksOutput;
    use aws_sdk_ecs::types as ecs;
    use aws_sdk_elasticloadbalancingv2::Client as Elb;
    use aws_sdk_elasticloadbalancingv2::operation::describe_listeners::DescribeListenersOutput;
    use aws_sdk_elasticloadbalancingv2::operation::describe_load_balancers::DescribeLoadBalancersOutput;
    use aws_sdk_elasticloadbalancingv2::operation::describe_rules::DescribeRulesOutput;
    use aws_sdk_elasticloadbalancingv2::operation::describe_target_health::DescribeTargetHealthOutput;
    use aws_sdk_elasticloadbalancingv2::types as elb;
    use aws_smithy_mocks::{Rule as MockRule, RuleMode, mock, mock_client};
    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::DateTime;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::retry::RetryConfig;
    use greenlight_core::outcome::{ErrorClass, Status};
    use serde_json::json;

    use super::*;

    const SERVICE: &str = "arn:aws:ecs:us-west-2:123456789012:service/web-cluster/web";
    const DEPLOYMENT: &str = "arn:aws:ecs:us-west-2:123456789012:service-deployment/web-cluster/web/EZe5RNVLH6PPzHXINuP28";
    const OTHER_DEPLOYMENT: &str =
        "arn:aws:ecs:us-west-2:123456789012:service-deployment/web-cluster/web/Older1";
    const GREEN: &str =
        "arn:aws:ecs:us-west-2:123456789012:service-revision/web-cluster/web/9313423515462893900";
    const BLUE: &str =
        "arn:aws:ecs:us-west-2:123456789012:service-revision/web-cluster/web/1920498462936580504";
    const GREEN_TD: &str = "arn:aws:ecs:us-west-2:123456789012:task-definition/web:8";
    const BLUE_TD: &str = "arn:aws:ecs:us-west-2:123456789012:task-definition/web:7";
    const TG_A: &str = "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/web-a/aaaa";
    const TG_B: &str = "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/web-b/bbbb";
    const LB: &str =
        "arn:aws:elasticloadbalancing:us-west-2:123456789012:loadbalancer/app/web/50dc6c495c0c9188";
    const PROD_LISTENER: &str = "arn:aws:elasticloadbalancing:us-west-2:123456789012:listener/app/web/50dc6c495c0c9188/1111";
    const TEST_LISTENER: &str = "arn:aws:elasticloadbalancing:us-west-2:123456789012:listener/app/web/50dc6c495c0c9188/2222";
    const PROD_RULE: &str = "arn:aws:elasticloadbalancing:us-west-2:123456789012:listener-rule/app/web/50dc6c495c0c9188/1111/p1";
    const TEST_RULE: &str = "arn:aws:elasticloadbalancing:us-west-2:123456789012:listener-rule/app/web/50dc6c495c0c9188/2222/t1";
    const FUNCTION: &str =
        "arn:aws:lambda:us-west-2:123456789012:function:greenlight-post-scale-up";

    // ----- events and clients -----

    fn event(stage: &str, production: serde_json::Value) -> HookEvent {
        HookEvent::parse(&json!({
            "executionId": "f4fcae0f-9bec-41c6-ba87-0eaa0cef8af5",
            "lifecycleStage": stage,
            "resourceArn": DEPLOYMENT,
            "executionDetails": {
                "serviceArn": SERVICE,
                "targetServiceRevisionArn": GREEN,
                "testTrafficWeights": {},
                "productionTrafficWeights": production,
            }
        }))
        .expect("a valid event")
    }

    fn shifting() -> HookEvent {
        event("PRODUCTION_TRAFFIC_SHIFT", json!({ GREEN: 0, BLUE: 100 }))
    }

    /// Retries as in production (standard, three attempts); the tests run on paused time, so the
    /// backoff between attempts costs nothing.
    fn ecs_client(rules: &[&MockRule]) -> Ecs {
        mock_client!(aws_sdk_ecs, RuleMode::MatchAny, rules, |config| {
            config.retry_config(RetryConfig::standard().with_max_attempts(3))
        })
    }

    fn elb_client(rules: &[&MockRule]) -> Elb {
        mock_client!(
            aws_sdk_elasticloadbalancingv2,
            RuleMode::MatchAny,
            rules,
            |config| config.retry_config(RetryConfig::standard().with_max_attempts(3))
        )
    }

    fn facts(event: &HookEvent, ecs_rules: &[&MockRule], elb_rules: &[&MockRule]) -> Arc<EcsFacts> {
        Arc::new(
            EcsFacts::with_clients(event, ecs_client(ecs_rules), elb_client(elb_rules))
                .expect("facts"),
        )
    }

    /// An ECS (JSON protocol) error response.
    fn ecs_error(status: u16, code: &str, message: &str) -> HttpResponse {
        HttpResponse::new(
            StatusCode::try_from(status).expect("status"),
            SdkBody::from(json!({ "__type": code, "message": message }).to_string()),
        )
    }

    /// An ELBv2 (query protocol) error response.
    fn elb_error(status: u16, code: &str, message: &str) -> HttpResponse {
        HttpResponse::new(
            StatusCode::try_from(status).expect("status"),
            SdkBody::from(format!(
                "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>r</RequestId></ErrorResponse>"
            )),
        )
    }

    // ----- SDK shapes -----

    fn pair_load_balancer() -> ecs::LoadBalancer {
        ecs::LoadBalancer::builder()
            .target_group_arn(TG_A)
            .container_name("web")
            .container_port(8080)
            .advanced_configuration(
                ecs::AdvancedConfiguration::builder()
                    .alternate_target_group_arn(TG_B)
                    .production_listener_rule(PROD_RULE)
                    .test_listener_rule(TEST_RULE)
                    .role_arn("arn:aws:iam::123456789012:role/ecs-infrastructure-elb")
                    .build(),
            )
            .build()
    }

    fn green_revision(resolved_group: Option<&str>) -> ecs::ServiceRevision {
        let mut revision = ecs::ServiceRevision::builder()
            .service_revision_arn(GREEN)
            .task_definition(GREEN_TD)
            .container_images(
                ecs::ContainerImage::builder()
                    .container_name("web")
                    .image("123456789012.dkr.ecr.us-west-2.amazonaws.com/web:1.8")
                    .image_digest("sha256:green")
                    .build(),
            )
            // ECS has not resolved the sidecar's digest yet.
            .container_images(
                ecs::ContainerImage::builder()
                    .container_name("log-router")
                    .image("public.ecr.aws/aws-observability/aws-for-fluent-bit:stable")
                    .build(),
            )
            .load_balancers(pair_load_balancer());
        if let Some(group) = resolved_group {
            revision = revision.resolved_configuration(
                ecs::ResolvedConfiguration::builder()
                    .load_balancers(
                        ecs::ServiceRevisionLoadBalancer::builder()
                            .target_group_arn(group)
                            .production_listener_rule(PROD_RULE)
                            .build(),
                    )
                    .build(),
            );
        }
        revision.build()
    }

    fn blue_revision() -> ecs::ServiceRevision {
        ecs::ServiceRevision::builder()
            .service_revision_arn(BLUE)
            .task_definition(BLUE_TD)
            .container_images(
                ecs::ContainerImage::builder()
                    .container_name("web")
                    .image("123456789012.dkr.ecr.us-west-2.amazonaws.com/web:1.7")
                    .image_digest("sha256:blue")
                    .build(),
            )
            .load_balancers(pair_load_balancer())
            .resolved_configuration(
                ecs::ResolvedConfiguration::builder()
                    .load_balancers(
                        ecs::ServiceRevisionLoadBalancer::builder()
                            .target_group_arn(TG_A)
                            .build(),
                    )
                    .build(),
            )
            .build()
    }

    fn revisions_output(revisions: Vec<ecs::ServiceRevision>) -> DescribeServiceRevisionsOutput {
        DescribeServiceRevisionsOutput::builder()
            .set_service_revisions(Some(revisions))
            .build()
    }

    fn describe_revisions(
        expected: &'static [&'static str],
        green_group: Option<&'static str>,
    ) -> MockRule {
        mock!(Ecs::describe_service_revisions)
            .match_requests(move |input| input.service_revision_arns() == expected)
            .then_output(move || {
                let mut revisions = vec![green_revision(green_group)];
                if expected.contains(&BLUE) {
                    revisions.push(blue_revision());
                }
                revisions_output(revisions)
            })
    }

    fn deployment(sources: &[&str]) -> ecs::ServiceDeployment {
        let mut deployment = ecs::ServiceDeployment::builder()
            .service_deployment_arn(DEPLOYMENT)
            .status(ecs::ServiceDeploymentStatus::InProgress)
            .started_at(DateTime::from_secs(1_700_000_000))
            .target_service_revision(
                ecs::ServiceRevisionSummary::builder()
                    .arn(GREEN)
                    .requested_task_count(4)
                    .running_task_count(3)
                    .pending_task_count(1)
                    .build(),
            )
            .alarms(
                ecs::ServiceDeploymentAlarms::builder()
                    .alarm_names("web-5xx")
                    .alarm_names("web-latency")
                    .triggered_alarm_names("web-5xx")
                    .build(),
            )
            .lifecycle_hook_details(
                ecs::DeploymentLifecycleHookDetail::builder()
                    .target_type(ecs::DeploymentLifecycleHookTargetType::AwsLambda)
                    .target_arn("arn:aws:lambda:us-west-2:123456789012:function:team-hook")
                    .status(ecs::DeploymentLifecycleHookStatus::InProgress)
                    .expires_at(DateTime::from_secs(1_700_009_999))
                    .build(),
            )
            .lifecycle_hook_details(
                ecs::DeploymentLifecycleHookDetail::builder()
                    .target_type(ecs::DeploymentLifecycleHookTargetType::AwsLambda)
                    .target_arn(FUNCTION)
                    .status(ecs::DeploymentLifecycleHookStatus::InProgress)
                    .expires_at(DateTime::from_secs(1_700_003_600))
                    .build(),
            );
        for (index, source) in sources.iter().enumerate() {
            deployment = deployment.source_service_revisions(
                ecs::ServiceRevisionSummary::builder()
                    .arn(*source)
                    .requested_production_traffic_weight(if index == 0 { 100.0 } else { 0.0 })
                    .running_task_count(4)
                    .build(),
            );
        }
        deployment.build()
    }

    fn describe_deployment(sources: &'static [&'static str]) -> MockRule {
        mock!(Ecs::describe_service_deployments)
            .match_requests(|input| input.service_deployment_arns() == [DEPLOYMENT])
            .then_output(move || {
                DescribeServiceDeploymentsOutput::builder()
                    .service_deployments(deployment(sources))
                    .build()
            })
    }

    fn list_deployments() -> MockRule {
        mock!(Ecs::list_service_deployments)
            .match_requests(|input| {
                input.cluster() == Some("web-cluster")
                    && input.service() == Some(SERVICE)
                    && input
                        .status()
                        .contains(&ecs::ServiceDeploymentStatus::InProgress)
            })
            .then_output(|| {
                ListServiceDeploymentsOutput::builder()
                    .service_deployments(
                        ecs::ServiceDeploymentBrief::builder()
                            .service_deployment_arn(DEPLOYMENT)
                            .build(),
                    )
                    .service_deployments(
                        ecs::ServiceDeploymentBrief::builder()
                            .service_deployment_arn(OTHER_DEPLOYMENT)
                            .status(ecs::ServiceDeploymentStatus::RollbackInProgress)
                            .build(),
                    )
                    .build()
            })
    }

    fn task(arn: &str, definition: &str, stopped: Option<&str>) -> ecs::Task {
        let status = if stopped.is_some() {
            "STOPPED"
        } else {
            "RUNNING"
        };
        let mut container = ecs::Container::builder()
            .name("web")
            .image("123456789012.dkr.ecr.us-west-2.amazonaws.com/web:1.8")
            .image_digest("sha256:green")
            .last_status(status);
        if stopped.is_some() {
            container = container
                .exit_code(137)
                .reason("OutOfMemoryError: container killed");
        }
        let mut task = ecs::Task::builder()
            .task_arn(arn)
            .task_definition_arn(definition)
            .last_status(status)
            .desired_status(status)
            .attachments(
                ecs::Attachment::builder()
                    .r#type("ElasticNetworkInterface")
                    .details(
                        ecs::KeyValuePair::builder()
                            .name("subnetId")
                            .value("subnet-1")
                            .build(),
                    )
                    .details(
                        ecs::KeyValuePair::builder()
                            .name("privateIPv4Address")
                            .value("10.0.1.23")
                            .build(),
                    )
                    .build(),
            )
            .containers(container.build());
        if let Some(reason) = stopped {
            task = task.stopped_reason(reason);
        }
        task.build()
    }

    fn task_arn(n: usize) -> String {
        format!("arn:aws:ecs:us-west-2:123456789012:task/web-cluster/{n:032}")
    }

    fn rule(arn: &str, conditions: Vec<elb::RuleCondition>, weights: &[(&str, i32)]) -> elb::Rule {
        let mut forward = elb::ForwardActionConfig::builder();
        for (group, weight) in weights {
            forward = forward.target_groups(
                elb::TargetGroupTuple::builder()
                    .target_group_arn(*group)
                    .weight(*weight)
                    .build(),
            );
        }
        elb::Rule::builder()
            .rule_arn(arn)
            .set_conditions(Some(conditions))
            .actions(
                elb::Action::builder()
                    .r#type(elb::ActionTypeEnum::Forward)
                    .forward_config(forward.build())
                    .build(),
            )
            .build()
    }

    fn test_rule_conditions() -> Vec<elb::RuleCondition> {
        vec![
            elb::RuleCondition::builder()
                .field("host-header")
                .host_header_config(
                    elb::HostHeaderConditionConfig::builder()
                        .values("*.test.example.com")
                        .build(),
                )
                .build(),
            elb::RuleCondition::builder()
                .field("path-pattern")
                .path_pattern_config(
                    elb::PathPatternConditionConfig::builder()
                        .values("/api/*")
                        .build(),
                )
                .build(),
            elb::RuleCondition::builder()
                .field("http-header")
                .http_header_config(
                    elb::HttpHeaderConditionConfig::builder()
                        .http_header_name("x-canary")
                        .values("beta*")
                        .build(),
                )
                .build(),
            elb::RuleCondition::builder()
                .field("source-ip")
                .values("10.0.0.0/8")
                .build(),
        ]
    }

    fn describe_rules(production: &'static [(&'static str, i32)]) -> MockRule {
        mock!(Elb::describe_rules)
            .match_requests(|input| input.rule_arns() == [PROD_RULE, TEST_RULE])
            .then_output(move || {
                DescribeRulesOutput::builder()
                    .rules(rule(TEST_RULE, test_rule_conditions(), &[(TG_B, 1)]))
                    .rules(rule(PROD_RULE, Vec::new(), production))
                    .build()
            })
    }

    fn describe_listener() -> MockRule {
        mock!(Elb::describe_listeners)
            .match_requests(|input| input.listener_arns() == [TEST_LISTENER])
            .then_output(|| {
                DescribeListenersOutput::builder()
                    .listeners(
                        elb::Listener::builder()
                            .listener_arn(TEST_LISTENER)
                            .load_balancer_arn(LB)
                            .port(8443)
                            .protocol(elb::ProtocolEnum::Https)
                            .build(),
                    )
                    .build()
            })
    }

    fn describe_load_balancer() -> MockRule {
        mock!(Elb::describe_load_balancers)
            .match_requests(|input| input.load_balancer_arns() == [LB])
            .then_output(|| {
                DescribeLoadBalancersOutput::builder()
                    .load_balancers(
                        elb::LoadBalancer::builder()
                            .load_balancer_arn(LB)
                            .dns_name("web-123.us-west-2.elb.amazonaws.com")
                            .build(),
                    )
                    .build()
            })
    }

    // ----- revisions -----

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn green_and_blue_come_from_one_call_even_when_asked_concurrently() {
        let revisions = describe_revisions(&[GREEN, BLUE], Some(TG_B));
        let facts = facts(&shifting(), &[&revisions], &[]);
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let facts = facts.clone();
                tokio::spawn(async move {
                    if i % 2 == 0 {
                        facts.green().await.map(|green| green.arn.clone())
                    } else {
                        facts
                            .blue()
                            .await
                            .map(|blue| blue.expect("a blue").arn.clone())
                    }
                })
            })
            .collect();
        for (i, task) in tasks.into_iter().enumerate() {
            let arn = task.await.expect("joined").expect("a revision");
            assert_eq!(arn, if i % 2 == 0 { GREEN } else { BLUE });
        }
        let (green, blue) = tokio::join!(facts.green(), facts.blue());
        assert_eq!(revisions.num_calls(), 1);

        let green = green.expect("green");
        assert_eq!(green.task_definition_arn, GREEN_TD);
        assert_eq!(
            green.containers,
            vec![
                ContainerImage {
                    digest_by_consensus: false,
                    container: "web".into(),
                    image: "123456789012.dkr.ecr.us-west-2.amazonaws.com/web:1.8".into(),
                    digest: Some("sha256:green".into()),
                },
                ContainerImage {
                    digest_by_consensus: false,
                    container: "log-router".into(),
                    image: "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable".into(),
                    digest: None,
                },
            ]
        );
        assert_eq!(green.target_group_arns, vec![TG_B]);
        assert_eq!(green.test_header, None);
        let blue = blue.expect("blue").expect("a blue");
        assert_eq!(blue.target_group_arns, vec![TG_A]);
    }

    #[tokio::test(start_paused = true)]
    async fn blue_comes_from_the_source_revisions_when_the_event_has_no_weights() {
        let described = describe_deployment(&[BLUE]);
        let listed = list_deployments();
        let revisions = describe_revisions(&[GREEN, BLUE], None);
        let facts = facts(
            &event("PRE_SCALE_UP", json!({})),
            &[&described, &listed, &revisions],
            &[],
        );
        let (green, blue, deployment) =
            tokio::join!(facts.green(), facts.blue(), facts.deployment());
        assert_eq!(green.expect("green").arn, GREEN);
        assert_eq!(blue.expect("blue").expect("a blue").arn, BLUE);
        assert_eq!(deployment.expect("deployment").id, DEPLOYMENT);
        // The deployment was described once, for both the revisions and the deployment fact.
        assert_eq!(described.num_calls(), 1);
        assert_eq!(revisions.num_calls(), 1);
        assert_eq!(listed.num_calls(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_deployment_status_needs_only_the_describe_call() {
        // A throttled in-flight listing must not stand between a hook and its rollback's status.
        let described = describe_deployment(&[BLUE]);
        let throttled = mock!(Ecs::list_service_deployments)
            .then_http_response(|| ecs_error(400, "ThrottlingException", "Rate exceeded"));
        let facts = facts(
            &event("PRODUCTION_TRAFFIC_SHIFT", json!({})),
            &[&described, &throttled],
            &[],
        );
        let status = facts.deployment_status().await.expect("status");
        assert_eq!(status.status, "IN_PROGRESS");
        assert_eq!(throttled.num_calls(), 0);
        assert!(
            facts.deployment().await.is_err(),
            "the full fact still needs the listing"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_first_deployment_has_no_blue() {
        let described = describe_deployment(&[]);
        let revisions = describe_revisions(&[GREEN], None);
        let facts = facts(
            &event("PRE_SCALE_UP", json!({})),
            &[&described, &revisions],
            &[],
        );
        assert_eq!(facts.blue().await, Ok(None));
        assert_eq!(facts.green().await.expect("green").arn, GREEN);
        assert_eq!(revisions.num_calls(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn blue_that_cannot_be_learned_leaves_green_alone() {
        let denied = mock!(Ecs::describe_service_deployments)
            .then_http_response(|| ecs_error(400, "AccessDeniedException", "not authorized"));
        let revisions = describe_revisions(&[GREEN], None);
        let facts = facts(
            &event("PRE_SCALE_UP", json!({})),
            &[&denied, &revisions],
            &[],
        );
        assert!(facts.green().await.is_ok());
        assert!(matches!(
            facts.blue().await,
            Err(FactError::AccessDenied { action, .. }) if action == "ecs:DescribeServiceDeployments"
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn green_tasks_wait_for_a_blue_that_cannot_be_learned() {
        // On a redeploy of one task definition, blue's tasks run green's task definition: without
        // blue, nothing tells them apart, so the tasks fact carries the lookup's error.
        let denied = mock!(Ecs::describe_service_deployments)
            .then_http_response(|| ecs_error(400, "ThrottlingException", "Rate exceeded"));
        let revisions = describe_revisions(&[GREEN], None);
        let [running, stopped, tasks] = green_tasks_mocks();
        let facts = facts(
            &event("POST_SCALE_UP", json!({})),
            &[&denied, &revisions, &running, &stopped, &tasks],
            &[],
        );
        assert!(matches!(
            facts.green_tasks().await,
            Err(FactError::Throttled { action, .. }) if action == "ecs:DescribeServiceDeployments"
        ));
        assert_eq!(running.num_calls(), 0);
    }

    #[test]
    fn resolved_target_groups_win_over_configured_ones() {
        let resolved = revision_from(&green_revision(Some(TG_B)), GREEN).expect("revision");
        assert_eq!(resolved.facts.target_group_arns, vec![TG_B]);

        // Unresolved, the configured pair does not say which group is green's.
        let unresolved = revision_from(&green_revision(None), GREEN).expect("revision");
        assert!(unresolved.facts.target_group_arns.is_empty());
        assert_eq!(
            unresolved.load_balancers.configured[0]
                .alternate_target_group
                .as_deref(),
            Some(TG_B)
        );

        // A single configured group (no blue/green pair) is unambiguous.
        let single = ecs::ServiceRevision::builder()
            .service_revision_arn(GREEN)
            .task_definition(GREEN_TD)
            .load_balancers(ecs::LoadBalancer::builder().target_group_arn(TG_A).build())
            .build();
        let single = revision_from(&single, GREEN).expect("revision");
        assert_eq!(single.facts.target_group_arns, vec![TG_A]);

        let no_task_definition = ecs::ServiceRevision::builder()
            .service_revision_arn(GREEN)
            .build();
        assert!(matches!(
            revision_from(&no_task_definition, GREEN),
            Err(FactError::Unexpected { .. })
        ));
    }

    #[test]
    fn service_connect_test_headers_come_from_the_rules_or_the_default() {
        let alias = |rules: Option<ecs::ServiceConnectTestTrafficRules>| {
            ecs::ServiceConnectClientAlias::builder()
                .port(8080)
                .dns_name("web.internal")
                .set_test_traffic_rules(rules)
                .build()
                .expect("alias")
        };
        let config = |alias: ecs::ServiceConnectClientAlias| {
            ecs::ServiceConnectConfiguration::builder()
                .enabled(true)
                .services(
                    ecs::ServiceConnectService::builder()
                        .port_name("http")
                        .client_aliases(alias)
                        .build()
                        .expect("service"),
                )
                .build()
        };
        let with_header = ecs::ServiceConnectTestTrafficRules::builder()
            .header(
                ecs::ServiceConnectTestTrafficHeaderRules::builder()
                    .name("x-team-test")
                    .value(
                        ecs::ServiceConnectTestTrafficHeaderMatchRules::builder()
                            .exact("green")
                            .build()
                            .expect("match"),
                    )
                    .build()
                    .expect("header"),
            )
            .build();
        let (header, endpoint) = service_connect_test(Some(&config(alias(Some(with_header)))));
        assert_eq!(
            header,
            Some(HeaderMatch {
                name: "x-team-test".into(),
                value: "green".into()
            })
        );
        assert_eq!(
            endpoint,
            Some(ServiceConnectAlias {
                host: "web.internal".into(),
                port: 8080
            })
        );

        let (header, _) = service_connect_test(Some(&config(alias(None))));
        assert_eq!(header.map(|h| h.name), Some(DEFAULT_TEST_HEADER.to_owned()));

        let disabled = ecs::ServiceConnectConfiguration::builder()
            .enabled(false)
            .build();
        assert_eq!(service_connect_test(Some(&disabled)), (None, None));
        assert_eq!(service_connect_test(None), (None, None));
    }

    // ----- the deployment -----

    #[tokio::test(start_paused = true)]
    async fn the_deployment_names_counts_alarms_this_hooks_expiry_and_others_in_flight() {
        let described = describe_deployment(&[BLUE]);
        let listed = list_deployments();
        let facts = Arc::new(
            EcsFacts::with_clients(
                &shifting(),
                ecs_client(&[&described, &listed]),
                elb_client(&[]),
            )
            .expect("facts")
            .with_function_arn(format!("{FUNCTION}:live")),
        );
        let deployment = facts.deployment().await.expect("deployment");
        assert_eq!(deployment.status, "IN_PROGRESS");
        assert_eq!(
            deployment.started_at,
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        );
        assert_eq!(
            deployment.green_tasks,
            TaskCounts {
                requested: 4,
                running: 3,
                pending: 1
            }
        );
        assert_eq!(deployment.alarm_names, vec!["web-5xx", "web-latency"]);
        assert_eq!(deployment.triggered_alarms, vec!["web-5xx"]);
        assert_eq!(deployment.rollback, None);
        assert_eq!(
            deployment.hook_expires_at,
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_003_600))
        );
        assert_eq!(deployment.other_in_flight, vec![OTHER_DEPLOYMENT]);
        let _ = facts.deployment().await;
        assert_eq!((described.num_calls(), listed.num_calls()), (1, 1));
    }

    #[test]
    fn this_functions_hook_is_running_only_when_the_deployment_lists_it_in_progress() {
        let detail = |target: &str, status: ecs::DeploymentLifecycleHookStatus| {
            ecs::DeploymentLifecycleHookDetail::builder()
                .target_type(ecs::DeploymentLifecycleHookTargetType::AwsLambda)
                .target_arn(target)
                .status(status)
                .build()
        };
        const ME: &str = "arn:aws:lambda:us-west-2:123456789012:function:greenlight-post-scale-up";
        const OTHER: &str = "arn:aws:lambda:us-west-2:123456789012:function:team-hook";
        let running = [detail(ME, ecs::DeploymentLifecycleHookStatus::InProgress)];
        let done = [
            detail(ME, ecs::DeploymentLifecycleHookStatus::Succeeded),
            detail(OTHER, ecs::DeploymentLifecycleHookStatus::InProgress),
        ];
        let qualified = format!("{ME}:live");
        assert_eq!(hook_running(&running, Some(&qualified)), Some(true));
        assert_eq!(hook_running(&done, Some(ME)), Some(false));
        assert_eq!(hook_running(&done[1..], Some(ME)), None, "not listed");
        assert_eq!(hook_running(&running, None), None, "function unknown");
    }

    #[test]
    fn hook_expiry_is_unknown_when_hooks_cannot_be_told_apart() {
        let described =
            described_deployment(&deployment(&[]), DEPLOYMENT, None).expect("deployment");
        // Two Lambda hooks are in progress and the function is not known.
        assert_eq!(described.facts.hook_expires_at, None);
    }

    #[test]
    fn a_rollback_is_reported_with_its_reason() {
        let rolling_back = ecs::ServiceDeployment::builder()
            .service_deployment_arn(DEPLOYMENT)
            .status(ecs::ServiceDeploymentStatus::RollbackInProgress)
            .rollback(
                ecs::Rollback::builder()
                    .reason("alarm web-5xx fired")
                    .build(),
            )
            .build();
        let described = described_deployment(&rolling_back, DEPLOYMENT, None).expect("deployment");
        assert_eq!(
            described.facts.rollback.as_deref(),
            Some("alarm web-5xx fired")
        );

        let no_status = ecs::ServiceDeployment::builder()
            .service_deployment_arn(DEPLOYMENT)
            .build();
        assert!(matches!(
            described_deployment(&no_status, DEPLOYMENT, None),
            Err(FactError::Unexpected { .. })
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn a_failure_for_the_deployment_is_not_found() {
        let described = mock!(Ecs::describe_service_deployments).then_output(|| {
            DescribeServiceDeploymentsOutput::builder()
                .failures(
                    ecs::Failure::builder()
                        .arn(DEPLOYMENT)
                        .reason("MISSING")
                        .build(),
                )
                .build()
        });
        let listed = list_deployments();
        let facts = facts(&shifting(), &[&described, &listed], &[]);
        let error = facts.deployment().await.expect_err("missing");
        assert_eq!(
            error,
            FactError::NotFound {
                what: "service deployment".into(),
                resource: DEPLOYMENT.into()
            }
        );
        let outcome = error.to_outcome();
        assert_eq!(outcome.error_class, Some(ErrorClass::Permanent));
    }

    #[tokio::test(start_paused = true)]
    async fn a_missing_revision_is_not_found_by_name() {
        let revisions = mock!(Ecs::describe_service_revisions).then_output(|| {
            DescribeServiceRevisionsOutput::builder()
                .service_revisions(green_revision(None))
                .failures(ecs::Failure::builder().arn(BLUE).reason("MISSING").build())
                .build()
        });
        let facts = facts(&shifting(), &[&revisions], &[]);
        assert!(facts.green().await.is_ok());
        assert_eq!(
            facts.blue().await,
            Err(FactError::NotFound {
                what: "blue service revision".into(),
                resource: BLUE.into()
            })
        );
    }

    // ----- errors -----

    #[tokio::test(start_paused = true)]
    async fn throttling_then_success_is_retried_by_the_sdk() {
        let revisions = mock!(Ecs::describe_service_revisions)
            .sequence()
            .http_response(|| ecs_error(400, "ThrottlingException", "Rate exceeded"))
            .output(|| revisions_output(vec![green_revision(None), blue_revision()]))
            .build();
        let facts = facts(&shifting(), &[&revisions], &[]);
        assert_eq!(facts.green().await.expect("green").arn, GREEN);
        assert_eq!(revisions.num_calls(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn throttled_throughout_is_a_transient_error_kept_for_the_invocation() {
        let revisions = mock!(Ecs::describe_service_revisions)
            .sequence()
            .http_response(|| ecs_error(400, "ThrottlingException", "Rate exceeded"))
            .times(5)
            .build();
        let facts = facts(&shifting(), &[&revisions], &[]);
        let error = facts.green().await.expect_err("throttled");
        assert!(
            matches!(&error, FactError::Throttled { action, .. } if action == "ecs:DescribeServiceRevisions"),
            "{error:?}"
        );
        assert_eq!(error.to_outcome().error_class, Some(ErrorClass::Transient));
        // Three attempts by the SDK, then the error is memoized: blue does not call again.
        assert_eq!(revisions.num_calls(), 3);
        assert!(facts.blue().await.is_err());
        assert_eq!(revisions.num_calls(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn access_denied_names_the_action_and_resource() {
        let described = mock!(Ecs::describe_service_deployments).then_http_response(|| {
            ecs_error(
                400,
                "AccessDeniedException",
                "User is not authorized to perform: ecs:DescribeServiceDeployments",
            )
        });
        let listed = list_deployments();
        let facts = facts(&shifting(), &[&described, &listed], &[]);
        let error = facts.deployment().await.expect_err("denied");
        assert!(
            matches!(&error, FactError::AccessDenied { action, resource, .. }
                if action == "ecs:DescribeServiceDeployments" && resource == DEPLOYMENT),
            "{error:?}"
        );
        let outcome = error.to_outcome();
        assert_eq!(outcome.status, Status::Error);
        assert_eq!(outcome.error_class, Some(ErrorClass::Permanent));
        assert!(outcome.message.contains("ecs:DescribeServiceDeployments"));
        // Access denied is not retried.
        assert_eq!(described.num_calls(), 1);
    }

    // ----- tasks -----

    #[tokio::test(start_paused = true)]
    async fn green_tasks_are_filtered_by_task_definition_with_stopped_reasons() {
        let revisions = describe_revisions(&[GREEN, BLUE], Some(TG_B));
        let running = mock!(Ecs::list_tasks)
            .match_requests(|input| input.desired_status() == Some(&ecs::DesiredStatus::Running))
            .then_output(|| {
                ListTasksOutput::builder()
                    .task_arns(task_arn(1))
                    .task_arns(task_arn(2))
                    .build()
            });
        let stopped = mock!(Ecs::list_tasks)
            .match_requests(|input| input.desired_status() == Some(&ecs::DesiredStatus::Stopped))
            .then_output(|| ListTasksOutput::builder().task_arns(task_arn(3)).build());
        let described = mock!(Ecs::describe_tasks)
            .match_requests(|input| {
                input.tasks().len() == 3 && input.cluster() == Some("web-cluster")
            })
            .then_output(|| {
                DescribeTasksOutput::builder()
                    .tasks(task(&task_arn(1), GREEN_TD, None))
                    // Blue's task, which the service filter alone would not drop.
                    .tasks(task(&task_arn(2), BLUE_TD, None))
                    .tasks(task(
                        &task_arn(3),
                        GREEN_TD,
                        Some("Essential container in task exited"),
                    ))
                    .build()
            });
        let facts = facts(
            &shifting(),
            &[&revisions, &running, &stopped, &described],
            &[],
        );
        let tasks = facts.green_tasks().await.expect("tasks");
        let arns: Vec<&str> = tasks.iter().map(|task| task.arn.as_str()).collect();
        assert_eq!(arns, vec![task_arn(1), task_arn(3)]);
        let stopped_task = &tasks[1];
        assert_eq!(stopped_task.last_status, "STOPPED");
        assert_eq!(
            stopped_task.stopped_reason.as_deref(),
            Some("Essential container in task exited")
        );
        assert_eq!(stopped_task.private_ip.as_deref(), Some("10.0.1.23"));
        assert_eq!(stopped_task.containers[0].exit_code, Some(137));
        assert_eq!(
            stopped_task.containers[0].reason.as_deref(),
            Some("OutOfMemoryError: container killed")
        );
        assert_eq!(
            tasks[0].containers[0].image_digest.as_deref(),
            Some("sha256:green")
        );
        assert_eq!(described.num_calls(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn tasks_are_described_in_batches_of_one_hundred() {
        let revisions = describe_revisions(&[GREEN, BLUE], Some(TG_B));
        let running = mock!(Ecs::list_tasks)
            .match_requests(|input| {
                input.desired_status() == Some(&ecs::DesiredStatus::Running)
                    && input.next_token().is_none()
            })
            .then_output(|| {
                ListTasksOutput::builder()
                    .set_task_arns(Some((0..100).map(task_arn).collect()))
                    .next_token("page-2")
                    .build()
            });
        let running_page_2 = mock!(Ecs::list_tasks)
            .match_requests(|input| input.next_token() == Some("page-2"))
            .then_output(|| {
                ListTasksOutput::builder()
                    .set_task_arns(Some((100..150).map(task_arn).collect()))
                    .build()
            });
        let stopped = mock!(Ecs::list_tasks)
            .match_requests(|input| input.desired_status() == Some(&ecs::DesiredStatus::Stopped))
            .then_output(|| ListTasksOutput::builder().build());
        let described = mock!(Ecs::describe_tasks)
            .match_requests(|input| input.tasks().len() <= 100)
            .then_compute_output(|input| {
                DescribeTasksOutput::builder()
                    .set_tasks(Some(
                        input
                            .tasks()
                            .iter()
                            .map(|arn| task(arn, GREEN_TD, None))
                            .collect(),
                    ))
                    .build()
            });
        let facts = facts(
            &shifting(),
            &[&revisions, &running, &running_page_2, &stopped, &described],
            &[],
        );
        assert_eq!(facts.green_tasks().await.expect("tasks").len(), 150);
        assert_eq!(described.num_calls(), 2);
        assert_eq!((running.num_calls(), running_page_2.num_calls()), (1, 1));
    }

    fn shared_task(n: usize, started_by: Option<&str>, created: Option<i64>) -> ecs::Task {
        ecs::Task::builder()
            .task_arn(task_arn(n))
            .task_definition_arn(GREEN_TD)
            .last_status("RUNNING")
            .desired_status("RUNNING")
            .set_started_by(started_by.map(str::to_owned))
            .set_created_at(created.map(DateTime::from_secs))
            .containers(
                ecs::Container::builder()
                    .name("web")
                    .image("123456789012.dkr.ecr.us-west-2.amazonaws.com/web@sha256:pinned")
                    .last_status("RUNNING")
                    .build(),
            )
            .build()
    }

    fn redeploy(started: Option<i64>) -> GreenTaskIdentity {
        GreenTaskIdentity {
            revision_arn: GREEN.to_owned(),
            task_definition_arn: GREEN_TD.to_owned(),
            blue: Some(BlueTaskIdentity {
                revision_arn: BLUE.to_owned(),
                task_definition_arn: GREEN_TD.to_owned(),
            }),
            deployment_started_at: started
                .map(|secs| SystemTime::UNIX_EPOCH + Duration::from_secs(secs as u64)),
        }
    }

    fn arns(tasks: &[TaskFacts]) -> Vec<String> {
        tasks.iter().map(|task| task.arn.clone()).collect()
    }

    #[test]
    fn a_redeploy_of_the_same_task_definition_tells_tasks_apart_by_started_by_then_creation() {
        let green_starter = "ecs-svc/9313423515462893900";
        let blue_starter = "ecs-svc/1920498462936580504";
        let tasks = [
            shared_task(1, Some(green_starter), Some(100)),
            // Blue's, though created after the deployment began (a replacement): startedBy wins.
            shared_task(2, Some(blue_starter), Some(2_000)),
            // No startedBy: the creation time decides.
            shared_task(3, None, Some(2_000)),
            shared_task(4, None, Some(500)),
            // Another starter entirely (a scheduled task of the same definition): time decides.
            shared_task(5, Some("events-rule/nightly"), Some(100)),
        ];
        let green = select_green_tasks(&tasks, &redeploy(Some(1_000))).expect("tasks");
        assert_eq!(arns(&green), vec![task_arn(1), task_arn(3)]);

        // Without the deployment's start, tasks that startedBy does not place are left out…
        let green = select_green_tasks(&tasks, &redeploy(None)).expect("tasks");
        assert_eq!(arns(&green), vec![task_arn(1)]);

        // …and when none can be placed, the fact is not ready, saying why.
        let unplaced = [shared_task(3, None, None), shared_task(4, None, Some(5))];
        let error = select_green_tasks(&unplaced, &redeploy(None)).expect_err("undecidable");
        let FactError::NotReady { detail, .. } = &error else {
            panic!("{error:?}")
        };
        assert!(detail.contains("both run task definition"), "{detail}");
        assert!(detail.contains(green_starter), "{detail}");
    }

    #[test]
    fn distinct_task_definitions_are_identity_enough() {
        let mut identity = redeploy(None);
        identity.blue = Some(BlueTaskIdentity {
            revision_arn: BLUE.to_owned(),
            task_definition_arn: BLUE_TD.to_owned(),
        });
        let tasks = [
            shared_task(1, None, None),
            task(&task_arn(2), BLUE_TD, None),
            // startedBy is not consulted: the task definition already says green.
            shared_task(3, Some("ecs-svc/1920498462936580504"), None),
        ];
        let green = select_green_tasks(&tasks, &identity).expect("tasks");
        assert_eq!(arns(&green), vec![task_arn(1), task_arn(3)]);
        // A pinned image reference stands in for a digest the task does not report.
        assert_eq!(
            green[0].containers[0].image_digest.as_deref(),
            Some("sha256:pinned")
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_redeploy_reads_the_deployment_start_to_tell_tasks_apart() {
        let described = describe_deployment(&[BLUE]);
        // Blue's revision runs green's task definition.
        let revisions = mock!(Ecs::describe_service_revisions).then_output(|| {
            let mut blue = blue_revision();
            blue.task_definition = Some(GREEN_TD.to_owned());
            revisions_output(vec![green_revision(Some(TG_B)), blue])
        });
        let running = mock!(Ecs::list_tasks)
            .match_requests(|input| input.desired_status() == Some(&ecs::DesiredStatus::Running))
            .then_output(|| {
                ListTasksOutput::builder()
                    .task_arns(task_arn(1))
                    .task_arns(task_arn(2))
                    .build()
            });
        let stopped = mock!(Ecs::list_tasks)
            .match_requests(|input| input.desired_status() == Some(&ecs::DesiredStatus::Stopped))
            .then_output(|| ListTasksOutput::builder().build());
        let tasks = mock!(Ecs::describe_tasks).then_output(|| {
            DescribeTasksOutput::builder()
                // The deployment started at 1_700_000_000.
                .tasks(shared_task(1, None, Some(1_600_000_000)))
                .tasks(shared_task(2, None, Some(1_700_000_100)))
                .build()
        });
        let facts = facts(
            &shifting(),
            &[&described, &revisions, &running, &stopped, &tasks],
            &[],
        );
        let green = facts.green_tasks().await.expect("tasks");
        assert_eq!(arns(&green), vec![task_arn(2)]);
        assert_eq!(described.num_calls(), 1);
    }

    // ----- routing -----

    #[test]
    fn deployment_alarm_names_are_split_on_commas_as_documented() {
        assert_eq!(
            split_alarm_names(&["web-5xx,web-latency".to_owned(), " db-errors ".to_owned()]),
            vec!["web-5xx", "web-latency", "db-errors"]
        );
        assert_eq!(split_alarm_names(&["web-5xx".to_owned()]), vec!["web-5xx"]);
        assert!(split_alarm_names(&[String::new()]).is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn an_nlb_is_routed_by_its_listeners_default_actions() {
        // ECS names listeners, not rules, for a Network Load Balancer (botocore
        // AdvancedConfiguration): the weights are in each listener's default forward action.
        const NLB: &str = "arn:aws:elasticloadbalancing:us-west-2:123456789012:loadbalancer/net/web/50dc6c495c0c9188";
        const NLB_PROD: &str = "arn:aws:elasticloadbalancing:us-west-2:123456789012:listener/net/web/50dc6c495c0c9188/1111";
        const NLB_TEST: &str = "arn:aws:elasticloadbalancing:us-west-2:123456789012:listener/net/web/50dc6c495c0c9188/2222";
        let nlb_pair = || {
            ecs::LoadBalancer::builder()
                .target_group_arn(TG_A)
                .container_name("web")
                .container_port(8080)
                .advanced_configuration(
                    ecs::AdvancedConfiguration::builder()
                        .alternate_target_group_arn(TG_B)
                        .production_listener_rule(NLB_PROD)
                        .test_listener_rule(NLB_TEST)
                        .role_arn("arn:aws:iam::123456789012:role/ecs-infrastructure-elb")
                        .build(),
                )
                .build()
        };
        let described = describe_deployment(&[BLUE]);
        let revisions = mock!(Ecs::describe_service_revisions).then_output(move || {
            let mut green = green_revision(None);
            green.load_balancers = Some(vec![nlb_pair()]);
            let mut blue = blue_revision();
            blue.load_balancers = Some(vec![nlb_pair()]);
            revisions_output(vec![green, blue])
        });
        let weighted = |green: i32, blue: i32| {
            elb::Action::builder()
                .r#type(elb::ActionTypeEnum::Forward)
                .forward_config(
                    elb::ForwardActionConfig::builder()
                        .target_groups(
                            elb::TargetGroupTuple::builder()
                                .target_group_arn(TG_A)
                                .weight(blue)
                                .build(),
                        )
                        .target_groups(
                            elb::TargetGroupTuple::builder()
                                .target_group_arn(TG_B)
                                .weight(green)
                                .build(),
                        )
                        .build(),
                )
                .build()
        };
        let listeners = mock!(Elb::describe_listeners)
            .match_requests(|input| {
                input.listener_arns() == [NLB_PROD.to_owned(), NLB_TEST.to_owned()]
            })
            .then_output(move || {
                let listener = |arn: &str, port: i32, action: elb::Action| {
                    elb::Listener::builder()
                        .listener_arn(arn)
                        .load_balancer_arn(NLB)
                        .port(port)
                        .protocol(elb::ProtocolEnum::Tcp)
                        .default_actions(action)
                        .build()
                };
                DescribeListenersOutput::builder()
                    .listeners(listener(NLB_PROD, 80, weighted(0, 100)))
                    .listeners(listener(NLB_TEST, 8080, weighted(100, 0)))
                    .build()
            });
        let balancer = mock!(Elb::describe_load_balancers).then_output(|| {
            DescribeLoadBalancersOutput::builder()
                .load_balancers(
                    elb::LoadBalancer::builder()
                        .load_balancer_arn(NLB)
                        .dns_name("web-nlb.elb.us-west-2.amazonaws.com")
                        .build(),
                )
                .build()
        });
        let rules =
            mock!(Elb::describe_rules).then_output(|| DescribeRulesOutput::builder().build());
        // Green's group is not resolved: it is the one green's task is registered in.
        let [running, stopped, tasks] = green_tasks_mocks();
        let in_a = target_health(TG_A, "10.0.9.9");
        let in_b = target_health(TG_B, "10.0.1.23");
        let facts = facts(
            &event("POST_TEST_TRAFFIC_SHIFT", json!({})),
            &[&described, &revisions, &running, &stopped, &tasks],
            &[&listeners, &balancer, &rules, &in_a, &in_b],
        );
        let routing = facts.routing().await.expect("routing");
        assert_eq!((listeners.num_calls(), rules.num_calls()), (1, 0));
        assert_eq!(routing.green_target_group.as_deref(), Some(TG_B));
        assert!(routing.has_load_balancer());
        let production = routing.production_rule.as_ref().expect("production");
        assert_eq!(production.rule_arn, NLB_PROD);
        assert_eq!(production.listener_arn, NLB_PROD);
        assert_eq!(
            production.forwards,
            vec![(TG_A.to_owned(), 100.0), (TG_B.to_owned(), 0.0)]
        );
        let test = routing.test_rule.as_ref().expect("test");
        assert_eq!(
            test.forwards,
            vec![(TG_A.to_owned(), 0.0), (TG_B.to_owned(), 100.0)]
        );
        assert!(test.conditions.is_empty());
        assert_eq!(routing.load_balancer_arn.as_deref(), Some(NLB));
        let endpoint = routing.test_endpoint.as_ref().expect("test endpoint");
        assert_eq!(
            endpoint.base_url,
            "http://web-nlb.elb.us-west-2.amazonaws.com:8080"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn routing_describes_both_rules_in_one_call_and_builds_the_test_endpoint() {
        // No weights in the event at this stage: blue comes from the deployment.
        let described = describe_deployment(&[BLUE]);
        let revisions = describe_revisions(&[GREEN, BLUE], Some(TG_B));
        let rules = describe_rules(&[(TG_A, 100), (TG_B, 0)]);
        let listener = describe_listener();
        let balancer = describe_load_balancer();
        let facts = facts(
            &event("POST_TEST_TRAFFIC_SHIFT", json!({})),
            &[&described, &revisions],
            &[&rules, &listener, &balancer],
        );
        let (routing, again) = tokio::join!(facts.routing(), facts.routing());
        let routing = routing.expect("routing");
        assert_eq!(again.expect("routing"), routing);
        assert_eq!(
            (
                rules.num_calls(),
                listener.num_calls(),
                balancer.num_calls()
            ),
            (1, 1, 1)
        );
        assert_eq!(routing.green_target_group.as_deref(), Some(TG_B));
        assert_eq!(routing.blue_target_group.as_deref(), Some(TG_A));
        assert_eq!(routing.load_balancer_arn.as_deref(), Some(LB));
        let production = routing.production_rule.as_ref().expect("production rule");
        assert_eq!(production.listener_arn, PROD_LISTENER);
        assert_eq!(
            production.forwards,
            vec![(TG_A.to_owned(), 100.0), (TG_B.to_owned(), 0.0)]
        );
        let test = routing.test_rule.as_ref().expect("test rule");
        assert_eq!(test.listener_arn, TEST_LISTENER);
        assert_eq!(
            test.conditions,
            vec![
                RuleCondition::Host(vec!["*.test.example.com".into()]),
                RuleCondition::Path(vec!["/api/*".into()]),
                RuleCondition::Header {
                    name: "x-canary".into(),
                    values: vec!["beta*".into()]
                },
                RuleCondition::Other("source-ip".into()),
            ]
        );
        assert_eq!(
            routing.test_endpoint,
            Some(TestEndpoint {
                base_url: "https://web-123.us-west-2.elb.amazonaws.com:8443".into(),
                host: Some("test.test.example.com".into()),
                path: Some("/api/".into()),
                headers: vec![HeaderMatch {
                    name: "x-canary".into(),
                    value: "beta".into()
                }],
            })
        );
    }

    fn green_tasks_mocks() -> [MockRule; 3] {
        let running = mock!(Ecs::list_tasks)
            .match_requests(|input| input.desired_status() == Some(&ecs::DesiredStatus::Running))
            .then_output(|| ListTasksOutput::builder().task_arns(task_arn(1)).build());
        let stopped = mock!(Ecs::list_tasks)
            .match_requests(|input| input.desired_status() == Some(&ecs::DesiredStatus::Stopped))
            .then_output(|| ListTasksOutput::builder().build());
        let described = mock!(Ecs::describe_tasks).then_output(|| {
            DescribeTasksOutput::builder()
                .tasks(task(&task_arn(1), GREEN_TD, None))
                .build()
        });
        [running, stopped, described]
    }

    fn target_health(group: &'static str, ip: &'static str) -> MockRule {
        mock!(Elb::describe_target_health)
            .match_requests(move |input| input.target_group_arn() == Some(group))
            .then_output(move || {
                DescribeTargetHealthOutput::builder()
                    .target_health_descriptions(
                        elb::TargetHealthDescription::builder()
                            .target(elb::TargetDescription::builder().id(ip).port(8080).build())
                            .build(),
                    )
                    .build()
            })
    }

    #[tokio::test(start_paused = true)]
    async fn unresolved_green_target_group_is_where_green_tasks_are_registered() {
        // ECS has not resolved green's group. The production rule sends everything to TG_A; green's
        // task (10.0.1.23) is registered in TG_B, so TG_B is green whatever the weights say.
        let described = describe_deployment(&[BLUE]);
        let revisions = describe_revisions(&[GREEN, BLUE], None);
        let [running, stopped, tasks] = green_tasks_mocks();
        let rules = describe_rules(&[(TG_A, 1), (TG_B, 0)]);
        let listener = describe_listener();
        let balancer = describe_load_balancer();
        let in_a = target_health(TG_A, "10.0.9.9");
        let in_b = target_health(TG_B, "10.0.1.23");
        let facts = facts(
            &event("POST_SCALE_UP", json!({})),
            &[&described, &revisions, &running, &stopped, &tasks],
            &[&rules, &listener, &balancer, &in_a, &in_b],
        );
        assert!(
            facts
                .green()
                .await
                .expect("green")
                .target_group_arns
                .is_empty()
        );
        let routing = facts.routing().await.expect("routing");
        assert_eq!(routing.green_target_group.as_deref(), Some(TG_B));
        assert_eq!(routing.blue_target_group.as_deref(), Some(TG_A));
    }

    #[tokio::test(start_paused = true)]
    async fn unresolved_green_target_group_is_never_read_off_the_weights() {
        // The rule sends 100% to TG_A and green's task is registered in neither group: reading
        // the weights would call TG_A green at 100% and pass `routing`; the group stays unknown.
        let described = describe_deployment(&[BLUE]);
        let revisions = describe_revisions(&[GREEN, BLUE], None);
        let [running, stopped, tasks] = green_tasks_mocks();
        let rules = describe_rules(&[(TG_A, 1), (TG_B, 0)]);
        let listener = describe_listener();
        let balancer = describe_load_balancer();
        let in_a = target_health(TG_A, "10.0.9.9");
        let in_b = target_health(TG_B, "10.0.9.8");
        let facts = facts(
            &event("PRODUCTION_TRAFFIC_SHIFT", json!({})),
            &[&described, &revisions, &running, &stopped, &tasks],
            &[&rules, &listener, &balancer, &in_a, &in_b],
        );
        let routing = facts.routing().await.expect("routing");
        assert_eq!(routing.green_target_group, None);
        assert_eq!(in_a.num_calls() + in_b.num_calls(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_service_without_a_load_balancer_has_empty_routing() {
        let revisions = mock!(Ecs::describe_service_revisions).then_output(|| {
            revisions_output(vec![
                ecs::ServiceRevision::builder()
                    .service_revision_arn(GREEN)
                    .task_definition(GREEN_TD)
                    .build(),
                ecs::ServiceRevision::builder()
                    .service_revision_arn(BLUE)
                    .task_definition(BLUE_TD)
                    .build(),
            ])
        });
        // No ELBv2 rule: any ELBv2 call would fail the test.
        let facts = facts(&shifting(), &[&revisions], &[]);
        let routing = facts.routing().await.expect("routing");
        assert_eq!(
            *routing,
            RoutingFacts {
                green_target_group: None,
                blue_target_group: None,
                load_balancer_arn: None,
                production_rule: None,
                test_rule: None,
                test_endpoint: None,
            }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_missing_rule_is_not_found_naming_the_rules() {
        let revisions = describe_revisions(&[GREEN, BLUE], Some(TG_B));
        let rules = mock!(Elb::describe_rules)
            .then_http_response(|| elb_error(400, "RuleNotFound", "One or more rules not found"));
        let listener = describe_listener();
        let balancer = describe_load_balancer();
        let facts = facts(&shifting(), &[&revisions], &[&rules, &listener, &balancer]);
        let error = facts.routing().await.expect_err("missing");
        assert_eq!(
            error,
            FactError::NotFound {
                what: "listener rule".into(),
                resource: format!("{PROD_RULE}, {TEST_RULE}")
            }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn elb_access_denied_names_the_elb_action() {
        let revisions = describe_revisions(&[GREEN, BLUE], Some(TG_B));
        let rules = describe_rules(&[(TG_A, 100), (TG_B, 0)]);
        let listener = mock!(Elb::describe_listeners)
            .then_http_response(|| elb_error(403, "AccessDenied", "not authorized"));
        let balancer = describe_load_balancer();
        let facts = facts(&shifting(), &[&revisions], &[&rules, &listener, &balancer]);
        let error = facts.routing().await.expect_err("denied");
        assert!(
            matches!(&error, FactError::AccessDenied { action, resource, .. }
                if action == "elasticloadbalancing:DescribeListeners" && resource == TEST_LISTENER),
            "{error:?}"
        );
    }

    #[test]
    fn target_groups_are_assigned_from_resolution_or_registered_tasks() {
        let pair = || Some((TG_A.to_owned(), TG_B.to_owned()));
        let some = |arn: &str| Some(arn.to_owned());
        let cases = [
            // (resolved green, green registered in [A, B]) → (green, blue, source)
            (
                some(TG_B),
                Some([true, false]),
                (some(TG_B), some(TG_A), TargetGroupSource::Resolved),
            ),
            (
                None,
                Some([false, true]),
                (some(TG_B), some(TG_A), TargetGroupSource::RegisteredTasks),
            ),
            (
                None,
                Some([true, false]),
                (some(TG_A), some(TG_B), TargetGroupSource::RegisteredTasks),
            ),
            // In both, in neither, or unknown: no guess.
            (
                None,
                Some([true, true]),
                (None, None, TargetGroupSource::Unknown),
            ),
            (
                None,
                Some([false, false]),
                (None, None, TargetGroupSource::Unknown),
            ),
            (None, None, (None, None, TargetGroupSource::Unknown)),
        ];
        for (resolved, registered_in, (green, blue, source)) in cases {
            let groups = assign_target_groups(resolved.clone(), None, pair(), registered_in);
            assert_eq!(
                groups,
                TargetGroups {
                    green,
                    blue,
                    source
                },
                "resolved {resolved:?}, registered in {registered_in:?}"
            );
        }
    }

    #[test]
    fn listener_and_load_balancer_arns_are_parts_of_the_rule_arn() {
        assert_eq!(
            listener_arn_of_rule(TEST_RULE).expect("listener"),
            TEST_LISTENER
        );
        assert_eq!(
            load_balancer_arn_of_listener(TEST_LISTENER).expect("lb"),
            LB
        );
        for bad in [
            "",
            TG_A,
            "arn:aws:elasticloadbalancing:us-west-2:1:listener-rule/app/web",
        ] {
            assert!(listener_arn_of_rule(bad).is_err(), "{bad}");
        }
        assert!(load_balancer_arn_of_listener(LB).is_err());
    }

    #[test]
    fn wildcard_patterns_become_literals_that_match_them() {
        assert_eq!(literal("/api/*", ""), "/api/");
        assert_eq!(literal("/v?/health", ""), "/vx/health");
        assert_eq!(literal("*.example.com", "test"), "test.example.com");
        let endpoint = |conditions: Vec<RuleCondition>| {
            alb_test_endpoint(
                &ListenerRuleFacts {
                    rule_arn: TEST_RULE.into(),
                    listener_arn: TEST_LISTENER.into(),
                    forwards: Vec::new(),
                    conditions,
                },
                &ListenerFacts {
                    arn: TEST_LISTENER.into(),
                    port: 80,
                    secure: false,
                    load_balancer_arn: None,
                    default_forwards: Vec::new(),
                },
                "lb.example.com",
            )
        };
        let plain = endpoint(vec![
            RuleCondition::Host(vec!["*.a.example.com".into(), "b.example.com".into()]),
            RuleCondition::Path(vec!["*".into()]),
            RuleCondition::Header {
                name: "x-any".into(),
                values: vec!["*".into()],
            },
        ]);
        assert_eq!(plain.base_url, "http://lb.example.com:80");
        assert_eq!(plain.host.as_deref(), Some("b.example.com"));
        assert_eq!(plain.path.as_deref(), Some("/"));
        assert_eq!(plain.headers[0].value, "test");
        assert_eq!(endpoint(Vec::new()).host, None);
    }

    #[test]
    fn blue_is_the_busiest_other_revision() {
        let third = "arn:aws:ecs:us-west-2:123456789012:service-revision/web-cluster/web/1111111111111111111";
        let event = event(
            "PRODUCTION_TRAFFIC_SHIFT",
            json!({ GREEN: 50, BLUE: 40, third: 10 }),
        );
        assert_eq!(blue_from_event(&event).as_deref(), Some(BLUE));
        assert_eq!(blue_from_event(&shifting()).as_deref(), Some(BLUE));
        assert_eq!(
            blue_from_event(&super::tests::event("PRE_SCALE_UP", json!({}))),
            None
        );

        let source = |arn: &str, weight: f64| SourceRevision {
            arn: arn.into(),
            production_weight: Some(weight),
            running: 1,
        };
        assert_eq!(
            blue_from_sources(&[source(third, 0.0), source(BLUE, 100.0)], GREEN).as_deref(),
            Some(BLUE)
        );
        assert_eq!(blue_from_sources(&[source(GREEN, 100.0)], GREEN), None);
    }
}
