//! Facts about a deployment, gathered once per invocation and shared by every check.
//!
//! Checks do not call the ECS or ELBv2 APIs for what several of them need (the green and blue
//! revisions, the service deployment, green's tasks, the target groups and listener rules): they ask
//! a [`Facts`] provider, which gathers each fact lazily, once, with batched calls, and memoizes it for
//! the rest of the invocation. The ECS-native hooks and the CodeDeploy hooks learn these facts from
//! different APIs; each has its own provider behind the same trait, so every check works for both.
//!
//! The types here are plain data, so judges are pure functions of them and tests build them by hand.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::SystemTime;

use serde::Serialize;

use crate::outcome::{Evidence, Outcome};
use crate::reason::ReasonCode;

/// The future a fact provider returns.
pub type FactFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, FactError>> + Send + 'a>>;

/// The service being deployed, from the event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceIdentity {
    /// `aws`, `aws-cn`, `aws-us-gov`.
    pub partition: String,
    /// The region of the service.
    pub region: String,
    /// The account id.
    pub account: String,
    /// The cluster name.
    pub cluster: String,
    /// The service name.
    pub service: String,
    /// The service ARN.
    pub service_arn: String,
}

/// Green's share of traffic as the event states it (percent, 0–100), where the stage has one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct TrafficWeights {
    /// Green's share of production traffic.
    pub green_production: Option<f64>,
    /// Green's share of test traffic.
    pub green_test: Option<f64>,
}

/// One container of a revision and the image it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerImage {
    /// The container name.
    pub container: String,
    /// The image reference as written in the task definition.
    pub image: String,
    /// The digest ECS resolved for it (`sha256:…`), once it has (not always yet at PRE_SCALE_UP).
    pub digest: Option<String>,
    /// The digest is what most of green's running tasks report, not a record of what the tag
    /// resolved to (CodeDeploy's task sets keep none): a tag moved before the tasks started would
    /// not show, and checks say "consensus", never "resolved".
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub digest_by_consensus: bool,
}

/// A header a request must carry to be routed as test traffic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeaderMatch {
    /// The header name.
    pub name: String,
    /// The exact value.
    pub value: String,
}

/// A service revision (green or blue).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RevisionFacts {
    /// The service revision ARN.
    pub arn: String,
    /// The task definition ARN.
    pub task_definition_arn: String,
    /// Its containers and their images.
    pub containers: Vec<ContainerImage>,
    /// The target groups this revision serves from: the resolved configuration when ECS has filled it,
    /// else the configured one. Empty for services without a load balancer.
    pub target_group_arns: Vec<String>,
    /// The Service Connect test traffic header, when the revision has test traffic rules.
    pub test_header: Option<HeaderMatch>,
}

/// Task counts of a revision within a deployment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TaskCounts {
    /// How many tasks ECS wants for the revision.
    pub requested: u32,
    /// How many run.
    pub running: u32,
    /// How many are starting.
    pub pending: u32,
}

/// The service deployment this invocation belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeploymentFacts {
    /// The service deployment ARN (or, for CodeDeploy, the deployment id).
    pub id: String,
    /// Its status (`IN_PROGRESS`, `ROLLBACK_IN_PROGRESS`, …) as the engine reports it.
    pub status: String,
    /// When it started.
    pub started_at: Option<SystemTime>,
    /// Green's task counts.
    pub green_tasks: TaskCounts,
    /// The deployment alarms configured on the service.
    pub alarm_names: Vec<String>,
    /// The deployment alarms ECS saw trigger.
    pub triggered_alarms: Vec<String>,
    /// Set when the deployment engine is rolling back, with its reason.
    pub rollback: Option<String>,
    /// When this hook's own execution expires, if the engine says.
    pub hook_expires_at: Option<SystemTime>,
    /// Other deployments of the same service that are still in flight (ids).
    pub other_in_flight: Vec<String>,
}

impl DeploymentFacts {
    /// A deployment in progress that started at `started_at`, with nothing else known yet.
    pub fn in_progress(id: &str, started_at: Option<SystemTime>) -> Self {
        DeploymentFacts {
            id: id.to_owned(),
            status: "IN_PROGRESS".to_owned(),
            started_at,
            green_tasks: TaskCounts::default(),
            alarm_names: Vec::new(),
            triggered_alarms: Vec::new(),
            rollback: None,
            hook_expires_at: None,
            other_in_flight: Vec::new(),
        }
    }
}

/// A deployment's status and rollback reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeploymentStatus {
    /// `IN_PROGRESS`, `ROLLBACK_IN_PROGRESS`, …
    pub status: String,
    /// Set when the deployment engine is rolling back, with its reason.
    pub rollback: Option<String>,
    /// When this hook's own execution expires, if the engine says.
    pub hook_expires_at: Option<SystemTime>,
    /// Whether the engine lists this function's hook as running now: `None` when it does not list
    /// the function (or the function is not known).
    pub hook_running: Option<bool>,
}

/// One container of a running (or stopped) task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunningContainer {
    /// The container name.
    pub name: String,
    /// The image reference it was started from.
    pub image: String,
    /// The digest it actually runs.
    pub image_digest: Option<String>,
    /// `RUNNING`, `STOPPED`, …
    pub last_status: String,
    /// Its exit code, once stopped.
    pub exit_code: Option<i32>,
    /// Why it stopped, when it did.
    pub reason: Option<String>,
}

/// A task of the green revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskFacts {
    /// The task ARN.
    pub arn: String,
    /// The task definition it runs.
    pub task_definition_arn: String,
    /// `PROVISIONING`, `PENDING`, `RUNNING`, `STOPPED`, …
    pub last_status: String,
    /// What ECS wants it to become.
    pub desired_status: String,
    /// Why it stopped, when it did.
    pub stopped_reason: Option<String>,
    /// The private IPv4 address (awsvpc), which is what an IP target group registers.
    pub private_ip: Option<String>,
    /// Its containers.
    pub containers: Vec<RunningContainer>,
}

/// A condition of a listener rule that a test request must satisfy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum RuleCondition {
    /// One of these host headers.
    Host(Vec<String>),
    /// One of these path patterns.
    Path(Vec<String>),
    /// A header with one of these values.
    Header {
        /// The header name.
        name: String,
        /// Accepted values (patterns as ELB writes them).
        values: Vec<String>,
    },
    /// A condition greenlight does not model (source IP, method, query string); kept for evidence.
    Other(String),
}

/// A listener rule and where it forwards.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ListenerRuleFacts {
    /// The rule ARN.
    pub rule_arn: String,
    /// The listener it belongs to.
    pub listener_arn: String,
    /// Target group ARN → weight, as the rule's forward action says.
    pub forwards: Vec<(String, f64)>,
    /// What a request must look like to match it.
    pub conditions: Vec<RuleCondition>,
}

impl ListenerRuleFacts {
    /// Whether this "rule" is a listener's default action: what ECS names for a Network Load
    /// Balancer (listener ARNs, not rule ARNs, in `advancedConfiguration`).
    pub fn is_listener_default(&self) -> bool {
        self.rule_arn == self.listener_arn
    }
}

/// Where synthetic test traffic is sent to reach green.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TestEndpoint {
    /// `http://` or `https://`, the load balancer DNS name and the listener port.
    pub base_url: String,
    /// A host header that satisfies the test rule, if it needs one.
    pub host: Option<String>,
    /// A path that satisfies the test rule, if it needs one.
    pub path: Option<String>,
    /// Headers that satisfy the test rule (or the Service Connect test header).
    pub headers: Vec<HeaderMatch>,
}

/// How traffic reaches the service. The default knows nothing: no load balancer.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RoutingFacts {
    /// Green's target group. The two groups swap roles between deployments, so this comes from
    /// green's resolved configuration (then the rule weights), never from a name.
    pub green_target_group: Option<String>,
    /// Blue's target group.
    pub blue_target_group: Option<String>,
    /// The load balancer ARN.
    pub load_balancer_arn: Option<String>,
    /// The production listener rule.
    pub production_rule: Option<ListenerRuleFacts>,
    /// The test listener rule.
    pub test_rule: Option<ListenerRuleFacts>,
    /// Where to send test traffic, when there is a test route.
    pub test_endpoint: Option<TestEndpoint>,
}

/// How green's target group checks its targets (ELB `DescribeTargetGroups`): the request and the
/// answers the service itself declares healthy. Fields are as ELB returns them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HealthCheckFacts {
    /// The target group.
    pub target_group_arn: String,
    /// The target group's own port: where targets listen unless ECS registers another.
    pub target_group_port: Option<i32>,
    /// `HTTP`, `HTTPS`, `TCP`, …
    pub protocol: Option<String>,
    /// `traffic-port` (the port each target receives traffic on) or a port number.
    pub port: Option<String>,
    /// The path requested (HTTP/HTTPS health checks).
    pub path: Option<String>,
    /// The HTTP codes of a healthy answer: `200`, `200,202`, `200-299`.
    pub http_codes: Option<String>,
    /// The gRPC codes, for a target group whose protocol version is `GRPC`.
    pub grpc_codes: Option<String>,
    /// `HTTP1`, `HTTP2` or `GRPC` (Application Load Balancer target groups).
    pub protocol_version: Option<String>,
}

/// Green's and blue's target groups alone: what `target_health` and green's health check need,
/// which a provider can often learn without reading listeners or rules (ECS resolves green's group
/// for its revision; CodeDeploy names both task sets' groups).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetGroupFacts {
    /// Green's target group, when known.
    pub green: Option<String>,
    /// Blue's target group, when known.
    pub blue: Option<String>,
    /// Whether the service is behind a load balancer at all. When it is but green's group is not
    /// known, the group is not known *yet* (green's tasks are not registered), not absent.
    pub load_balanced: bool,
}

impl TargetGroupFacts {
    /// The target groups `routing` names.
    pub fn of(routing: &RoutingFacts) -> Self {
        TargetGroupFacts {
            green: routing.green_target_group.clone(),
            blue: routing.blue_target_group.clone(),
            load_balanced: routing.has_load_balancer(),
        }
    }
}

impl RoutingFacts {
    /// Whether the service is behind a load balancer at all: a target group, a listener rule or a
    /// load balancer is known. A Service Connect-only service, or one without routing, has none.
    pub fn has_load_balancer(&self) -> bool {
        self.green_target_group.is_some()
            || self.blue_target_group.is_some()
            || self.load_balancer_arn.is_some()
            || self.production_rule.is_some()
            || self.test_rule.is_some()
    }
}

/// Lazily gathered, memoized facts about one deployment.
pub trait Facts: Send + Sync {
    /// The service, from the event.
    fn service(&self) -> &ServiceIdentity;
    /// Green's traffic weights, from the event.
    fn weights(&self) -> TrafficWeights;
    /// The green revision.
    fn green(&self) -> FactFuture<'_, Arc<RevisionFacts>>;
    /// The blue revision, when there is one (not on a service's first deployment).
    fn blue(&self) -> FactFuture<'_, Option<Arc<RevisionFacts>>>;
    /// The deployment.
    fn deployment(&self) -> FactFuture<'_, Arc<DeploymentFacts>>;
    /// The deployment's status and rollback reason alone: what confirming a rollback needs. A
    /// provider that can learn them with fewer calls than [`Facts::deployment`] overrides this, so
    /// that a failure of a call the confirmation does not need cannot stand in its way.
    fn deployment_status(&self) -> FactFuture<'_, DeploymentStatus> {
        Box::pin(async move {
            let deployment = self.deployment().await?;
            Ok(DeploymentStatus {
                status: deployment.status.clone(),
                rollback: deployment.rollback.clone(),
                hook_expires_at: deployment.hook_expires_at,
                hook_running: None,
            })
        })
    }
    /// Green's tasks, running and recently stopped.
    fn green_tasks(&self) -> FactFuture<'_, Arc<Vec<TaskFacts>>>;
    /// Target groups, listener rules and the test endpoint.
    fn routing(&self) -> FactFuture<'_, Arc<RoutingFacts>>;
    /// Green's and blue's target groups alone. A provider that can learn them with fewer calls
    /// than [`Facts::routing`] overrides this: on a crowded account every listener and rule read
    /// spares ELB's request budget that every deployment shares.
    fn target_groups(&self) -> FactFuture<'_, Arc<TargetGroupFacts>> {
        Box::pin(async move {
            let routing = self.routing().await?;
            Ok(Arc::new(TargetGroupFacts::of(&routing)))
        })
    }
    /// How green's target group checks health. [`FactError::NotReady`] while green's target group
    /// is not known.
    fn green_health_check(&self) -> FactFuture<'_, Arc<HealthCheckFacts>>;
}

/// A fact of [`Facts`], named for what gathering it costs in IAM: a check's docs list the facts it
/// reads ([`crate::checks::IamNeed`]), and the actions of each are listed here once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fact {
    /// [`Facts::deployment`] and [`Facts::deployment_status`].
    Deployment,
    /// [`Facts::green`] and [`Facts::blue`].
    Revisions,
    /// [`Facts::green_tasks`].
    GreenTasks,
    /// [`Facts::routing`].
    Routing,
    /// [`Facts::target_groups`].
    TargetGroups,
    /// [`Facts::green_health_check`].
    HealthCheck,
}

impl Fact {
    /// Every action of `facts` and `calls`: what a check or a function needs in IAM.
    pub fn actions_with(
        facts: &[Fact],
        calls: &[&'static str],
    ) -> std::collections::BTreeSet<&'static str> {
        facts
            .iter()
            .flat_map(|fact| fact.ecs_actions().iter().copied())
            .chain(calls.iter().copied())
            .collect()
    }

    /// The IAM actions the ECS provider (`greenlight_aws::facts::ecs`) calls to gather this fact,
    /// including the facts it builds on. The CodeDeploy provider learns the deployment and its
    /// revisions from CodeDeploy instead; its hook role's extra actions are listed in
    /// [`crate::catalogue`].
    pub fn ecs_actions(self) -> &'static [&'static str] {
        match self {
            Fact::Deployment => &[
                "ecs:DescribeServiceDeployments",
                "ecs:ListServiceDeployments",
            ],
            // Blue's revision comes from the deployment when the event does not name it.
            Fact::Revisions => &[
                "ecs:DescribeServiceDeployments",
                "ecs:DescribeServiceRevisions",
            ],
            Fact::GreenTasks => &[
                "ecs:DescribeServiceDeployments",
                "ecs:DescribeServiceRevisions",
                "ecs:ListTasks",
                "ecs:DescribeTasks",
            ],
            // The rules and listeners come from green's revision; the load balancer gives the test
            // endpoint's DNS name. When ECS has not resolved green's target group, where green's
            // tasks are registered tells the pair apart: that lookup also reads green's tasks,
            // which before POST_SCALE_UP (no task access) leaves the group unknown, as no tasks
            // would.
            Fact::Routing => &[
                "ecs:DescribeServiceDeployments",
                "ecs:DescribeServiceRevisions",
                "elasticloadbalancing:DescribeRules",
                "elasticloadbalancing:DescribeListeners",
                "elasticloadbalancing:DescribeLoadBalancers",
                "elasticloadbalancing:DescribeTargetHealth",
            ],
            // Green's resolved group, else where green's tasks are registered (as for routing).
            Fact::TargetGroups => &[
                "ecs:DescribeServiceDeployments",
                "ecs:DescribeServiceRevisions",
                "elasticloadbalancing:DescribeTargetHealth",
            ],
            Fact::HealthCheck => &[
                "ecs:DescribeServiceDeployments",
                "ecs:DescribeServiceRevisions",
                "elasticloadbalancing:DescribeTargetHealth",
                "elasticloadbalancing:DescribeTargetGroups",
            ],
        }
    }
}

/// Facts known up front: for tests, rehearsals and judging recorded evidence. Each fact is either
/// its value or the error gathering it would have met.
#[derive(Debug, Clone)]
pub struct StaticFacts {
    /// The service.
    pub service: ServiceIdentity,
    /// Green's weights.
    pub weights: TrafficWeights,
    /// The green revision.
    pub green: Result<Arc<RevisionFacts>, FactError>,
    /// The blue revision.
    pub blue: Result<Option<Arc<RevisionFacts>>, FactError>,
    /// The deployment.
    pub deployment: Result<Arc<DeploymentFacts>, FactError>,
    /// Green's tasks.
    pub green_tasks: Result<Arc<Vec<TaskFacts>>, FactError>,
    /// Routing.
    pub routing: Result<Arc<RoutingFacts>, FactError>,
    /// Green's target group health check.
    pub green_health_check: Result<Arc<HealthCheckFacts>, FactError>,
}

impl StaticFacts {
    /// Facts for `service` where every gathered fact is `NotReady` until set.
    pub fn new(service: ServiceIdentity) -> Self {
        let missing = |what: &str| FactError::NotReady {
            what: what.to_owned(),
            detail: "not set in these static facts".to_owned(),
        };
        StaticFacts {
            service,
            weights: TrafficWeights::default(),
            green: Err(missing("green revision")),
            blue: Ok(None),
            deployment: Err(missing("deployment")),
            green_tasks: Err(missing("green tasks")),
            routing: Err(missing("routing")),
            green_health_check: Err(missing("green's target group health check")),
        }
    }
}

fn ready<T: Clone + Send + 'static>(fact: &Result<T, FactError>) -> FactFuture<'static, T> {
    let fact = fact.clone();
    Box::pin(async move { fact })
}

impl Facts for StaticFacts {
    fn service(&self) -> &ServiceIdentity {
        &self.service
    }
    fn weights(&self) -> TrafficWeights {
        self.weights
    }
    fn green(&self) -> FactFuture<'_, Arc<RevisionFacts>> {
        ready(&self.green)
    }
    fn blue(&self) -> FactFuture<'_, Option<Arc<RevisionFacts>>> {
        ready(&self.blue)
    }
    fn deployment(&self) -> FactFuture<'_, Arc<DeploymentFacts>> {
        ready(&self.deployment)
    }
    fn green_tasks(&self) -> FactFuture<'_, Arc<Vec<TaskFacts>>> {
        ready(&self.green_tasks)
    }
    fn routing(&self) -> FactFuture<'_, Arc<RoutingFacts>> {
        ready(&self.routing)
    }
    fn green_health_check(&self) -> FactFuture<'_, Arc<HealthCheckFacts>> {
        ready(&self.green_health_check)
    }
}

/// Why a fact could not be had. Cloneable, because one failed fact is shared by every check that
/// needed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FactError {
    /// The API throttled the call, after the SDK's retries.
    #[error("{action} was throttled: {message}")]
    Throttled {
        /// The IAM action (`ecs:DescribeServiceRevisions`).
        action: String,
        /// What the API said.
        message: String,
    },
    /// The function's role may not make the call.
    #[error("access denied: the function's role may not call {action} on {resource}: {message}")]
    AccessDenied {
        /// The IAM action.
        action: String,
        /// The resource it was called on.
        resource: String,
        /// What the API said.
        message: String,
    },
    /// The resource does not exist.
    #[error("{what} not found: {resource}")]
    NotFound {
        /// What was looked for (`task definition`).
        what: String,
        /// Its ARN or name.
        resource: String,
    },
    /// The API could not be reached or answered 5xx, after the SDK's retries.
    #[error("{action} is unavailable: {message}")]
    Unavailable {
        /// The IAM action.
        action: String,
        /// What went wrong.
        message: String,
    },
    /// The fact exists but the deployment engine has not filled it in yet.
    #[error("{what} is not available yet: {detail}")]
    NotReady {
        /// What is missing.
        what: String,
        /// What was seen instead.
        detail: String,
    },
    /// The API answered something the contract does not allow.
    #[error("{action} answered unexpectedly: {message}")]
    Unexpected {
        /// The IAM action.
        action: String,
        /// What was odd.
        message: String,
    },
}

impl FactError {
    /// The outcome of a check that could not get this fact.
    pub fn to_outcome(&self) -> Outcome {
        let message = self.to_string();
        match self {
            FactError::Throttled { action, .. } => {
                Outcome::transient_error(&AWS_THROTTLED, message)
                    .with_evidence(Evidence::new("API call", action.as_str()))
            }
            FactError::Unavailable { action, .. } => {
                Outcome::transient_error(&AWS_UNAVAILABLE, message)
                    .with_evidence(Evidence::new("API call", action.as_str()))
            }
            FactError::AccessDenied {
                action, resource, ..
            } => Outcome::permanent_error(&AWS_ACCESS_DENIED, message)
                .with_evidence(Evidence::new("IAM action", action.as_str()).resource(resource)),
            FactError::NotFound { resource, .. } => {
                Outcome::permanent_error(&AWS_NOT_FOUND, message)
                    .with_evidence(Evidence::new("lookup", "not found").resource(resource))
            }
            FactError::NotReady { .. } => Outcome::inconclusive(&FACT_NOT_READY, message),
            FactError::Unexpected { action, .. } => {
                Outcome::permanent_error(&AWS_UNEXPECTED, message)
                    .with_evidence(Evidence::new("API call", action.as_str()))
            }
        }
    }
}

/// An AWS API throttled greenlight.
pub static AWS_THROTTLED: ReasonCode = ReasonCode {
    code: "AWS_THROTTLED",
    summary: "An AWS API throttled the call, even after retries.",
    what: "The SDK retried the call with backoff and the API still answered with a throttling error.",
    why: "Throttling says nothing about green; the check is retried on the next invocation within its `max_wait`.",
    fix: "Usually nothing. If it persists, look for other callers of the same API in the account, or raise the API's quota.",
};

/// An AWS API could not be reached.
pub static AWS_UNAVAILABLE: ReasonCode = ReasonCode {
    code: "AWS_UNAVAILABLE",
    summary: "An AWS API could not be reached or answered with a server error.",
    what: "The call failed with a 5xx, a timeout or a dropped connection after the SDK's retries.",
    why: "A transient outage says nothing about green; the check is retried within its `max_wait`.",
    fix: "Usually nothing. If it persists, check the function's network path to the AWS endpoints (VPC endpoints, NAT).",
};

/// The function's role lacks a permission.
pub static AWS_ACCESS_DENIED: ReasonCode = ReasonCode {
    code: "AWS_ACCESS_DENIED",
    summary: "The function's role may not make an AWS call a check needs.",
    what: "An AWS API answered AccessDenied (or an equivalent) for the named action and resource.",
    why: "Waiting cannot grant a permission, and a check without evidence must not pass: the stage fails.",
    fix: "Add the named IAM action on the named resource to the function's role (the SAM template lists every action each function needs).",
};

/// A resource a check needs does not exist.
pub static AWS_NOT_FOUND: ReasonCode = ReasonCode {
    code: "AWS_NOT_FOUND",
    summary: "A resource a check needs does not exist.",
    what: "An AWS API answered that the named resource (task definition, target group, repository, alarm, function) does not exist.",
    why: "A deployment that refers to something missing cannot be judged good.",
    fix: "Create the resource, or correct the name or ARN in the service definition or the greenlight config.",
};

/// A fact is not filled in yet.
pub static FACT_NOT_READY: ReasonCode = ReasonCode {
    code: "FACT_NOT_READY",
    summary: "The deployment engine has not filled in a fact a check needs yet.",
    what: "A field that ECS fills as the deployment progresses (resolved target groups, image digests, task counts) was still empty.",
    why: "Judging on a half-filled picture could pass a bad deployment; the check waits within its `max_wait`.",
    fix: "Usually nothing. If it persists, check that the stage the check runs at is one where the fact exists.",
};

/// An AWS API answered something unexpected.
pub static AWS_UNEXPECTED: ReasonCode = ReasonCode {
    code: "AWS_UNEXPECTED",
    summary: "An AWS API answered something its contract does not allow.",
    what: "A response lacked a required field or had one greenlight cannot interpret.",
    why: "greenlight refuses to guess what the deployment looks like.",
    fix: "Report it with the function's log line; set the check to `mode: advisory` meanwhile.",
};

/// Every code of this family.
pub static ALL: &[&ReasonCode] = &[
    &AWS_THROTTLED,
    &AWS_UNAVAILABLE,
    &AWS_ACCESS_DENIED,
    &AWS_NOT_FOUND,
    &FACT_NOT_READY,
    &AWS_UNEXPECTED,
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::{ErrorClass, Status};

    #[test]
    fn fact_errors_map_to_outcomes_that_say_whether_waiting_helps() {
        let denied = FactError::AccessDenied {
            action: "ecs:DescribeServiceRevisions".into(),
            resource: "arn:aws:ecs:us-east-1:1:service-revision/c/s/1".into(),
            message: "User is not authorized".into(),
        }
        .to_outcome();
        assert_eq!(denied.status, Status::Error);
        assert_eq!(denied.error_class, Some(ErrorClass::Permanent));
        assert!(denied.message.contains("ecs:DescribeServiceRevisions"));

        let throttled = FactError::Throttled {
            action: "ecs:DescribeTasks".into(),
            message: "Rate exceeded".into(),
        }
        .to_outcome();
        assert_eq!(throttled.error_class, Some(ErrorClass::Transient));

        let not_ready = FactError::NotReady {
            what: "green's resolved target group".into(),
            detail: "resolvedConfiguration is empty".into(),
        }
        .to_outcome();
        assert_eq!(not_ready.status, Status::Inconclusive);
    }
}
