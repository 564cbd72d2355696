//! The scenario file: what is deployed, what the world does, and what must come of it.
//!
//! YAML, read with `serde-saphyr` (the same YAML parser as greenlight's config). Unknown fields are
//! errors, so a misspelt expectation cannot silently become no expectation; every error names the
//! file, the line and column, and the field. `docs/scenarios.md` is the user's reference.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use crate::driver::codedeploy::LifecycleEvent;
use crate::driver::{Moment, Stage};
use crate::world::function_name;

/// A scenario could not be read: which file, where, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}: {message}")]
pub struct ScenarioError {
    /// The file (or `<inline>`) the scenario came from.
    pub source_name: String,
    /// What is wrong, with the line, column and field when known.
    pub message: String,
}

impl ScenarioError {
    fn new(source_name: &str, message: impl Into<String>) -> Self {
        ScenarioError {
            source_name: source_name.to_owned(),
            message: message.into(),
        }
    }
}

/// One rehearsal: a service with a blue and a green revision, the world around it, the deployment
/// ECS (or CodeDeploy) runs, the faults AWS shows, and what must come of it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// A short name (the timeline's title).
    pub name: String,
    /// What the scenario shows.
    #[serde(default)]
    pub description: String,
    /// The ECS service.
    pub service: ServiceSpec,
    /// The running revision (blue) and the one being deployed (green).
    pub revisions: Revisions,
    /// Target health, alarms and deployment alarms.
    #[serde(default)]
    pub world: WorldSpec,
    /// The deployment ECS runs.
    pub deployment: DeploymentSpec,
    /// The team's own Lambda functions its `lambda` checks invoke, run by the rehearsal.
    #[serde(default)]
    pub functions: Vec<super::functions::FunctionSpec>,
    /// Faults the local AWS injects once the world is set up.
    #[serde(default)]
    pub faults: Vec<FaultSpec>,
    /// The seed of the faults' draws (which calls a probability hits); a campaign sets one per run.
    #[serde(default)]
    pub fault_seed: Option<u64>,
    /// IAM: enforced from `infra/template.yaml`'s roles unless turned off, with grants a scenario
    /// takes away to rehearse a broken template.
    #[serde(default)]
    pub iam: IamSpec,
    /// What must come of it.
    pub expect: Expectation,
    /// The directory the scenario's relative paths (a function's `code`) start from: the file's
    /// own directory, or the working directory for a scenario given as text.
    #[serde(skip)]
    pub base_dir: std::path::PathBuf,
}

/// How a scenario's IAM differs from the template's.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IamSpec {
    /// Whether every call a function makes is authorized against its role (default: yes).
    #[serde(default = "yes")]
    pub enforce: bool,
    /// Grants taken away from a role, or narrowed to other resources.
    #[serde(default)]
    pub overrides: Vec<GrantSpec>,
}

impl Default for IamSpec {
    fn default() -> Self {
        IamSpec {
            enforce: true,
            overrides: Vec::new(),
        }
    }
}

fn yes() -> bool {
    true
}

/// One grant changed in one role: `{role: PostScaleUpRole, action: ecs:DescribeTasks}` takes the
/// action away; with `resources`, the role grants it on those resources only.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantSpec {
    /// The role's logical id in `infra/template.yaml` (`PostScaleUpRole`, `CodeDeployHookRole`,
    /// `HookInvokeRole`), or `CodeDeployServiceRole`.
    pub role: String,
    /// The action, as the role's statement lists it.
    pub action: String,
    /// The resources to grant it on instead (empty: not granted at all).
    #[serde(default)]
    pub resources: Vec<String>,
}

impl GrantSpec {
    /// The override IAM applies.
    pub fn to_override(&self) -> crate::iam::GrantOverride {
        crate::iam::GrantOverride {
            role: self.role.clone(),
            action: self.action.clone(),
            resources: self.resources.clone(),
        }
    }
}

/// The ECS service.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    /// The cluster's name.
    pub cluster: String,
    /// The service's name.
    pub name: String,
    /// The container behind the load balancer.
    #[serde(default = "default_container")]
    pub container: String,
    /// The port it listens on.
    #[serde(default = "default_port")]
    pub port: u16,
    /// How many tasks each revision runs.
    #[serde(default = "default_desired_count")]
    pub desired_count: u32,
    /// How traffic reaches the service, among the topologies AWS documents for blue/green.
    #[serde(default)]
    pub topology: Topology,
    /// How the target groups check health (a load-balanced topology): what the service declares a
    /// healthy answer.
    #[serde(default)]
    pub health_check: HealthCheckSpec,
}

/// A target group health check, as ELB `CreateTargetGroup` takes it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheckSpec {
    /// `HTTP` or `TCP` (default: ELB's, HTTP for an Application Load Balancer's group, TCP for a
    /// Network Load Balancer's). ELB refuses TCP for an HTTP target group.
    #[serde(default)]
    pub protocol: Option<HealthCheckProtocol>,
    /// The path requested (default `/`).
    #[serde(default = "default_health_path")]
    pub path: String,
    /// The success codes, ELB's `Matcher.HttpCode` (default `200`, ELB's own default for an
    /// Application Load Balancer).
    #[serde(default = "default_health_codes")]
    pub codes: String,
    /// `traffic-port` (default) or a port number.
    #[serde(default = "default_health_port")]
    pub port: String,
}

/// How a health check connects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum HealthCheckProtocol {
    /// An HTTP request to the path, judged by the codes.
    Http,
    /// A TCP connection.
    Tcp,
}

impl Default for HealthCheckSpec {
    fn default() -> Self {
        HealthCheckSpec {
            protocol: None,
            path: default_health_path(),
            codes: default_health_codes(),
            port: default_health_port(),
        }
    }
}

fn default_health_path() -> String {
    "/".to_owned()
}
fn default_health_codes() -> String {
    "200".to_owned()
}
fn default_health_port() -> String {
    "traffic-port".to_owned()
}

/// How traffic reaches the service (ECS developer guide, blue/green deployments).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Topology {
    /// An Application Load Balancer: production and test listener rules, weighted forwards.
    #[default]
    Alb,
    /// An Application Load Balancer without a test listener rule (`testListenerRule` is optional):
    /// no test traffic route.
    AlbWithoutTestRule,
    /// A Network Load Balancer: `productionListenerRule` and `testListenerRule` are listener ARNs,
    /// the weights live in each listener's default action.
    Nlb,
    /// Service Connect only: no load balancer; ECS routes production and test traffic in the
    /// clients' proxies in the namespace. The rehearsal runs one client
    /// ([`crate::service_connect::ServiceConnectClient`]); `{service_connect_client_url}` in a
    /// hook's `hookDetails` names it.
    ServiceConnect,
    /// No load balancer at all: the service's `loadBalancers` is empty, ECS moves no traffic.
    None,
}

impl Topology {
    /// The name as scenarios write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Topology::Alb => "alb",
            Topology::AlbWithoutTestRule => "alb_without_test_rule",
            Topology::Nlb => "nlb",
            Topology::ServiceConnect => "service_connect",
            Topology::None => "none",
        }
    }

    /// Whether ECS knows a load balancer for the service.
    pub fn has_load_balancer(self) -> bool {
        matches!(
            self,
            Topology::Alb | Topology::AlbWithoutTestRule | Topology::Nlb
        )
    }

    /// Whether ECS has a test route to move.
    pub fn has_test_route(self) -> bool {
        matches!(self, Topology::Alb | Topology::Nlb)
    }
}

fn default_container() -> String {
    "web".to_owned()
}
fn default_port() -> u16 {
    8080
}
fn default_desired_count() -> u32 {
    2
}

/// Blue and green.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Revisions {
    /// The revision serving production now.
    pub blue: RevisionSpec,
    /// The revision being deployed.
    pub green: RevisionSpec,
}

/// One revision: its image, its scan findings and how its app behaves.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevisionSpec {
    /// The container image.
    pub image: ImageSpec,
    /// ECR scan findings of the image, by severity (`CRITICAL: 1`).
    #[serde(default)]
    pub scan_findings: BTreeMap<String, u32>,
    /// How the app answers.
    #[serde(default)]
    pub app: AppSpec,
    /// Changes of behaviour once a stage (or step) is reached.
    #[serde(default)]
    pub behaviour_after: Vec<BehaviourChange>,
    /// The digest the running tasks report instead of the image's (a tag moved under them).
    #[serde(default)]
    pub running_digest: Option<String>,
    /// When ECS fills the revision's `containerImages[].imageDigest`: `at_start` (the default)
    /// or `after_first_task` (the developer guide says the first task started establishes the
    /// digest; whether it is known at PRE_SCALE_UP is undocumented).
    #[serde(default)]
    pub digest_resolved: DigestResolved,
}

/// When ECS records a revision's image digests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DigestResolved {
    /// Known from the start of the deployment.
    #[default]
    AtStart,
    /// Known once the first task of the revision started (SCALE_UP): absent before.
    AfterFirstTask,
}

/// A container image in the local ECR.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageSpec {
    /// The ECR repository's name.
    pub repository: String,
    /// The tag the task definition names.
    pub tag: String,
    /// Reference the image by this digest instead of by tag (`sha256:…`).
    #[serde(default)]
    pub digest: Option<String>,
    /// The image is not pushed: the task definition names an image ECR does not have.
    #[serde(default)]
    pub missing: bool,
}

/// How a revision's sample app answers.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppSpec {
    /// Statuses and their weights: `[[200, 99], [500, 1]]`.
    #[serde(default = "default_status_mix")]
    pub status_mix: Vec<(u16, u32)>,
    /// Statuses for exact paths, in place of `status_mix`: `{ "/healthz": [[200, 1]] }`.
    #[serde(default)]
    pub paths: BTreeMap<String, Vec<(u16, u32)>>,
    /// Paths that answer 401 unless every listed header is sent with exactly its value:
    /// `{ "/private": { X-Api-Key: ak-… } }`.
    #[serde(default)]
    pub protected_paths: BTreeMap<String, BTreeMap<String, String>>,
    /// Latency.
    #[serde(default)]
    pub latency: LatencySpec,
    /// The body of each answer (default: a small JSON status with the version).
    #[serde(default)]
    pub body: Option<String>,
}

impl Default for AppSpec {
    fn default() -> Self {
        AppSpec {
            status_mix: default_status_mix(),
            paths: BTreeMap::new(),
            protected_paths: BTreeMap::new(),
            latency: LatencySpec::default(),
            body: None,
        }
    }
}

fn default_status_mix() -> Vec<(u16, u32)> {
    vec![(200, 1)]
}

/// A latency profile, in milliseconds: `base ± jitter`, and a fraction of slow answers.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencySpec {
    /// The usual latency.
    #[serde(default = "default_base_ms")]
    pub base_ms: u64,
    /// Uniform jitter on top.
    #[serde(default)]
    pub jitter_ms: u64,
    /// The share of answers (0..=1) that take `slow_ms` instead.
    #[serde(default)]
    pub slow_fraction: f64,
    /// The latency of a slow answer.
    #[serde(default)]
    pub slow_ms: u64,
}

fn default_base_ms() -> u64 {
    2
}

impl Default for LatencySpec {
    fn default() -> Self {
        LatencySpec {
            base_ms: default_base_ms(),
            jitter_ms: 0,
            slow_fraction: 0.0,
            slow_ms: 0,
        }
    }
}

/// A change of an app's behaviour at a moment of the deployment.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BehaviourChange {
    /// When: a stage, and for production shifts optionally a step.
    pub at: MomentSpec,
    /// The new behaviour.
    pub app: AppSpec,
}

/// A moment of the deployment: a stage, and optionally a production step (1-based). A CodeDeploy
/// lifecycle event (`event: AfterAllowTraffic`) names the stage it corresponds to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "MomentRepr")]
pub struct MomentSpec {
    /// The stage.
    pub stage: Stage,
    /// The production step (LINEAR/CANARY), from 1.
    pub step: Option<u32>,
}

/// A moment as written: `stage` or `event`, and `step`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MomentRepr {
    #[serde(default)]
    stage: Option<Stage>,
    #[serde(default)]
    event: Option<LifecycleEvent>,
    #[serde(default)]
    step: Option<u32>,
}

impl TryFrom<MomentRepr> for MomentSpec {
    type Error = String;

    fn try_from(repr: MomentRepr) -> Result<Self, String> {
        let stage = match (repr.stage, repr.event) {
            (Some(stage), None) => stage,
            (None, Some(event)) => event.stage(),
            (Some(_), Some(_)) => {
                return Err("a moment names a stage or an event, not both".to_owned());
            }
            (None, None) => {
                return Err(
                    "a moment needs a stage (PRE_SCALE_UP, …) or a CodeDeploy event (AfterInstall, …)"
                        .to_owned(),
                );
            }
        };
        Ok(MomentSpec {
            stage,
            step: repr.step,
        })
    }
}

impl MomentSpec {
    /// The moment as the driver names it.
    pub fn moment(self) -> Moment {
        Moment {
            stage: self.stage,
            step: self.step,
        }
    }
}

/// Target health, alarms and deployment alarms.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorldSpec {
    /// Target health that green's targets report (moto says `healthy` for every IP target).
    #[serde(default)]
    pub green_target_health: Option<TargetHealthSpec>,
    /// CloudWatch alarms.
    #[serde(default)]
    pub alarms: Vec<AlarmSpec>,
    /// The alarms the service's deployment configuration names.
    #[serde(default)]
    pub deployment_alarms: Vec<String>,
    /// How late the load balancer's metrics are published (default: at once).
    #[serde(default)]
    pub metrics_delay: MetricsDelaySpec,
    /// SSM SecureString parameters (name → value): secret header values a check may read.
    #[serde(default)]
    pub ssm_parameters: BTreeMap<String, String>,
    /// Secrets Manager secrets (name → secret string): secret header values a check may read.
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
}

/// How late CloudWatch publishes the load balancer's metrics, by kind, in real seconds: AWS says
/// one to three minutes, and a minute may show its requests before its errors.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsDelaySpec {
    /// `RequestCount` and `TargetResponseTime`.
    #[serde(default)]
    pub requests_seconds: f64,
    /// The status-code counts and `TargetConnectionErrorCount`.
    #[serde(default)]
    pub errors_seconds: f64,
}

impl MetricsDelaySpec {
    /// The world's publication delay.
    pub fn delay(&self) -> crate::world::PublicationDelay {
        let seconds =
            |value: f64| std::time::Duration::try_from_secs_f64(value).unwrap_or_default();
        crate::world::PublicationDelay {
            requests: seconds(self.requests_seconds),
            errors: seconds(self.errors_seconds),
        }
    }
}

/// What green's targets report to `DescribeTargetHealth`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetHealthSpec {
    /// `healthy`, `unhealthy`, `initial`, `draining`, `unused` or `unavailable`.
    pub state: String,
    /// An ELB reason code, e.g. `Target.ResponseCodeMismatch`.
    #[serde(default)]
    pub reason: Option<String>,
    /// A description.
    #[serde(default)]
    pub description: Option<String>,
    /// From this moment on (default: from the start).
    #[serde(default)]
    pub from: Option<MomentSpec>,
}

/// A CloudWatch alarm and how its state changes.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlarmSpec {
    /// The alarm's name.
    pub name: String,
    /// Its state when the deployment starts: `OK`, `ALARM` or `INSUFFICIENT_DATA`.
    #[serde(default = "default_alarm_state")]
    pub state: String,
    /// Changes at moments of the deployment.
    #[serde(default)]
    pub changes: Vec<AlarmChange>,
}

fn default_alarm_state() -> String {
    "OK".to_owned()
}

/// An alarm's state change.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlarmChange {
    /// When.
    pub at: MomentSpec,
    /// The new state.
    pub state: String,
    /// The state reason CloudWatch reports.
    #[serde(default)]
    pub reason: Option<String>,
}

/// What runs the deployment: the service's deployment controller.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Controller {
    /// ECS's own deployments, with lifecycle hooks.
    #[default]
    Ecs,
    /// CodeDeploy's ECS blue/green deployments, with AppSpec hooks.
    CodeDeploy,
}

impl Controller {
    /// The controller's ECS name.
    pub fn as_str(self) -> &'static str {
        match self {
            Controller::Ecs => "ECS",
            Controller::CodeDeploy => "CODE_DEPLOY",
        }
    }
}

/// The deployment strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Strategy {
    /// One production step, 0 → 100.
    BlueGreen,
    /// Steps of `stepPercent`.
    Linear,
    /// `canaryPercent`, then 100.
    Canary,
    /// Rolling update: only a `PRE_SCALE_UP` admission hook.
    Rolling,
}

impl Strategy {
    /// The strategy's ECS name.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::BlueGreen => "BLUE_GREEN",
            Strategy::Linear => "LINEAR",
            Strategy::Canary => "CANARY",
            Strategy::Rolling => "ROLLING",
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The deployment: ECS's `deploymentConfiguration` (same field names), plus the rehearsal's time
/// scale and production load.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DeploymentSpec {
    /// What runs the deployment: `ECS` (the default) or `CODE_DEPLOY`.
    #[serde(default, rename = "controller")]
    pub controller: Controller,
    /// When ECS moves the listener weights of TEST_TRAFFIC_SHIFT and PRODUCTION_TRAFFIC_SHIFT:
    /// `before_hooks` (the default) or `after_hooks` (once every hook of the stage has answered
    /// SUCCEEDED). AWS does not document which; greenlight must be right under both.
    #[serde(default, rename = "weights_move")]
    pub weights_move: WeightsMove,
    /// Whether DescribeServiceDeployments lists a hook as IN_PROGRESS while ECS invokes it
    /// (`lifecycleHookDetails`): `true` (the default) or `false` (only once it has answered). AWS
    /// does not document which; greenlight binds an invocation to a running hook under both.
    #[serde(default = "listed", rename = "running_hook_listed")]
    pub running_hook_listed: bool,
    /// CODE_DEPLOY: when green's task set becomes PRIMARY: `at_allow_traffic` (the default) or
    /// `after_allow_traffic_hook`. CodeDeploy does not document which.
    #[serde(default, rename = "green_primary")]
    pub green_primary: crate::driver::codedeploy::GreenPrimary,
    /// The strategy.
    pub strategy: Strategy,
    /// LINEAR's steps.
    #[serde(default)]
    pub linear_configuration: Option<LinearConfiguration>,
    /// CANARY's steps.
    #[serde(default)]
    pub canary_configuration: Option<CanaryConfiguration>,
    /// ECS's own BAKE_TIME after the last production shift.
    #[serde(default)]
    pub bake_time_in_minutes: f64,
    /// The lifecycle hooks.
    #[serde(default)]
    pub lifecycle_hooks: Vec<HookSpec>,
    /// How simulated time maps to real time.
    #[serde(default)]
    pub time: TimeScale,
    /// Requests per second through the production listener while the deployment runs (0: none).
    #[serde(default, rename = "production_load")]
    pub production_load: u32,
    /// Real seconds the production load runs through blue before the deployment begins: the
    /// history a running service has in CloudWatch (blue's minutes before the shift, its noise).
    #[serde(default, rename = "production_load_lead_seconds")]
    pub production_load_lead_seconds: u64,
    /// CODE_DEPLOY: the AppSpec's `Hooks`, as in `appspec.yaml`: single-key maps from a lifecycle
    /// event to the function (name or ARN) that runs the `codedeploy-hook` binary.
    #[serde(default, rename = "appspec_hooks")]
    pub appspec_hooks: Vec<BTreeMap<LifecycleEvent, String>>,
    /// CODE_DEPLOY: the greenlight config the hook functions read (their `GREENLIGHT_CONFIG`).
    #[serde(default, rename = "greenlight_config")]
    pub greenlight_config: Option<Value>,
}

impl DeploymentSpec {
    /// The AppSpec's hooks, in the order written: (event, function name).
    pub fn appspec_hooks(&self) -> Vec<(LifecycleEvent, String)> {
        self.appspec_hooks
            .iter()
            .flat_map(|entry| {
                entry
                    .iter()
                    .map(|(event, function)| (*event, function.clone()))
            })
            .collect()
    }

    /// How many hooks the deployment names (ECS lifecycle hooks or AppSpec hooks).
    pub fn hook_count(&self) -> usize {
        match self.controller {
            Controller::Ecs => self.lifecycle_hooks.len(),
            Controller::CodeDeploy => self.appspec_hooks().len(),
        }
    }
}

/// `linearConfiguration`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LinearConfiguration {
    /// Percent of production moved per step (3.0–100, multiples of 0.1).
    #[serde(default = "default_step_percent")]
    pub step_percent: f64,
    /// The bake between steps.
    #[serde(default = "default_step_bake")]
    pub step_bake_time_in_minutes: f64,
}

fn default_step_percent() -> f64 {
    10.0
}
fn default_step_bake() -> f64 {
    6.0
}

/// `canaryConfiguration`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CanaryConfiguration {
    /// The canary's share (0.1–100, multiples of 0.1).
    #[serde(default = "default_canary_percent")]
    pub canary_percent: f64,
    /// The bake between the canary and the rest.
    #[serde(default = "default_canary_bake")]
    pub canary_bake_time_in_minutes: f64,
}

fn default_canary_percent() -> f64 {
    5.0
}
fn default_canary_bake() -> f64 {
    10.0
}

/// One lifecycle hook: a greenlight function at some stages.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HookSpec {
    /// `AWS_LAMBDA` (default): ECS invokes `function`; `PAUSE`: ECS pauses the deployment at the
    /// stages until `ContinueServiceDeployment` (or the timeout) decides.
    #[serde(default)]
    pub target_type: HookTargetType,
    /// The function: `pre-scale-up`, `post-scale-up`, `test-traffic` or `production-traffic`
    /// (none for a PAUSE hook).
    #[serde(default)]
    pub function: String,
    /// The stages it is invoked at.
    pub lifecycle_stages: Vec<Stage>,
    /// The static hookDetails (a JSON object; inline greenlight config under `greenlight`).
    #[serde(default)]
    pub hook_details: Option<Value>,
    /// `timeoutConfiguration`.
    #[serde(default)]
    pub timeout_configuration: Option<TimeoutConfiguration>,
}

impl HookSpec {
    /// Whether ECS invokes a function for this hook (not a PAUSE hook).
    pub fn is_lambda(&self) -> bool {
        self.target_type == HookTargetType::AwsLambda
    }
}

/// A lifecycle hook's `targetType`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HookTargetType {
    /// ECS invokes a Lambda function.
    #[default]
    AwsLambda,
    /// ECS pauses the deployment until `ContinueServiceDeployment` continues or rolls it back.
    Pause,
}

impl HookTargetType {
    /// As ECS spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            HookTargetType::AwsLambda => "AWS_LAMBDA",
            HookTargetType::Pause => "PAUSE",
        }
    }
}

fn listed() -> bool {
    true
}

/// When ECS moves the listener weights of a traffic-shift stage, relative to its hooks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WeightsMove {
    /// The weights move, then the stage's hooks are invoked.
    #[default]
    BeforeHooks,
    /// The stage's hooks are invoked, and the weights move once all of them answered SUCCEEDED.
    AfterHooks,
}

/// A hook's `timeoutConfiguration`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TimeoutConfiguration {
    /// How long the hook may stay IN_PROGRESS (ECS minutes, scaled).
    pub timeout_in_minutes: f64,
    /// What ECS does then.
    #[serde(default)]
    pub action: TimeoutAction,
}

/// What ECS does when a hook times out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TimeoutAction {
    /// Roll the deployment back (ECS's default).
    #[default]
    Rollback,
    /// Carry on as if the hook had succeeded.
    Continue,
}

impl TimeoutAction {
    /// As ECS spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            TimeoutAction::Rollback => "ROLLBACK",
            TimeoutAction::Continue => "CONTINUE",
        }
    }
}

/// How simulated time maps to real time.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeScale {
    /// Real seconds per ECS minute: bake times, step bakes and hook timeouts.
    #[serde(default = "default_seconds_per_minute")]
    pub seconds_per_minute: f64,
    /// Real seconds per second of a hook's `callBackDelay`.
    #[serde(default = "default_callback_scale")]
    pub callback_scale: f64,
}

fn default_seconds_per_minute() -> f64 {
    1.0
}
fn default_callback_scale() -> f64 {
    1.0
}

impl Default for TimeScale {
    fn default() -> Self {
        TimeScale {
            seconds_per_minute: default_seconds_per_minute(),
            callback_scale: default_callback_scale(),
        }
    }
}

/// A fault the local AWS injects.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// The service by its IAM prefix: `ecs`, `elasticloadbalancing`, `cloudwatch`, `ecr`.
    pub service: String,
    /// One operation, or every operation of the service.
    #[serde(default)]
    pub operation: Option<String>,
    /// What happens.
    pub kind: FaultKind,
    /// For `latency`: how long each call is held.
    #[serde(default)]
    pub latency_ms: Option<u64>,
    /// The share of calls hit (0..=1).
    #[serde(default = "default_probability")]
    pub probability: f64,
    /// The fault starts this long after the deployment starts (real seconds).
    #[serde(default)]
    pub after_seconds: Option<f64>,
    /// …and ends this long after it starts.
    #[serde(default)]
    pub until_seconds: Option<f64>,
    /// At most this many calls are hit.
    #[serde(default)]
    pub max_hits: Option<u32>,
}

fn default_probability() -> f64 {
    1.0
}

/// The kinds of fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// The call is held for `latency_ms`, then answered.
    Latency,
    /// `ThrottlingException` / `Throttling`.
    Throttle,
    /// An HTTP 500.
    ServerError,
    /// `AccessDeniedException`, naming the action.
    AccessDenied,
    /// The connection is dropped.
    DropConnection,
}

/// What must come of the deployment.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// ECS: `SUCCESSFUL` or `ROLLBACK_SUCCESSFUL`; CodeDeploy: `Succeeded` or `Failed`.
    pub status: String,
    /// ECS: the stage where the rollback began.
    #[serde(default)]
    pub rollback_stage: Option<Stage>,
    /// CodeDeploy: the lifecycle event whose hook failed the deployment.
    #[serde(default)]
    pub rollback_event: Option<LifecycleEvent>,
    /// Whether the rollback moved traffic back to blue (and both listeners ended on blue).
    #[serde(default)]
    pub rerouted_to_blue: Option<bool>,
    /// Reason codes that must appear in the hooks' verdicts or checks.
    #[serde(default)]
    pub reason_codes: Vec<String>,
}

/// The final statuses an ECS deployment can end in.
pub const FINAL_STATUSES: &[&str] = &["SUCCESSFUL", "ROLLBACK_SUCCESSFUL"];

/// The final statuses a rehearsed CodeDeploy deployment can end in (`Stopped` needs a user or
/// CodeDeploy's own alarm monitoring, which the rehearsal does not play).
pub const CODEDEPLOY_FINAL_STATUSES: &[&str] = &["Succeeded", "Failed"];

/// The greenlight functions a hook can name.
pub const FUNCTIONS: &[&str] = &[
    "pre-scale-up",
    "post-scale-up",
    "test-traffic",
    "production-traffic",
];

impl Scenario {
    /// Reads a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|error| ScenarioError::new(&name, format!("cannot read it: {error}")))?;
        let mut scenario = Scenario::parse(&text, &name)?;
        scenario.base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok(scenario)
    }

    /// Parses and validates a scenario; `source_name` names it in errors.
    pub fn parse(text: &str, source_name: &str) -> Result<Scenario, ScenarioError> {
        let scenario: Scenario = serde_saphyr::from_str(text)
            .map_err(|error| ScenarioError::new(source_name, describe_yaml_error(&error)))?;
        scenario
            .validate()
            .map_err(|message| ScenarioError::new(source_name, message))?;
        Ok(scenario)
    }

    /// The checks serde cannot make: ranges, names, and fields that only make sense together.
    fn validate(&self) -> Result<(), String> {
        let deployment = &self.deployment;
        if self.service.desired_count == 0 {
            return Err("service.desired_count: must be at least 1".into());
        }
        if self.service.health_check.protocol == Some(HealthCheckProtocol::Tcp)
            && self.service.topology != Topology::Nlb
        {
            return Err(
                "service.health_check.protocol: TCP health checks are for a Network Load Balancer's TCP target groups; ELB refuses them on an Application Load Balancer's HTTP target group"
                    .into(),
            );
        }
        match deployment.strategy {
            Strategy::Linear => {
                let step = deployment
                    .linear_configuration
                    .as_ref()
                    .map_or(default_step_percent(), |c| c.step_percent);
                if !(3.0..=100.0).contains(&step) || !is_tenth(step) {
                    return Err(format!(
                        "deployment.linearConfiguration.stepPercent: {step} is not a multiple of 0.1 from 3.0 to 100"
                    ));
                }
            }
            Strategy::Canary => {
                let canary = deployment
                    .canary_configuration
                    .as_ref()
                    .map_or(default_canary_percent(), |c| c.canary_percent);
                if !(0.1..=100.0).contains(&canary) || !is_tenth(canary) {
                    return Err(format!(
                        "deployment.canaryConfiguration.canaryPercent: {canary} is not a multiple of 0.1 from 0.1 to 100"
                    ));
                }
            }
            Strategy::BlueGreen | Strategy::Rolling => {}
        }
        if deployment.linear_configuration.is_some() && deployment.strategy != Strategy::Linear {
            return Err(format!(
                "deployment.linearConfiguration: only for strategy LINEAR, not {}",
                deployment.strategy
            ));
        }
        if deployment.canary_configuration.is_some() && deployment.strategy != Strategy::Canary {
            return Err(format!(
                "deployment.canaryConfiguration: only for strategy CANARY, not {}",
                deployment.strategy
            ));
        }
        for (name, value) in [
            (
                "deployment.time.seconds_per_minute",
                deployment.time.seconds_per_minute,
            ),
            (
                "deployment.time.callback_scale",
                deployment.time.callback_scale,
            ),
            (
                "deployment.bakeTimeInMinutes",
                deployment.bake_time_in_minutes,
            ),
        ] {
            if !value.is_finite() || value < 0.0 {
                return Err(format!("{name}: {value} must be a number ≥ 0"));
            }
        }
        for (index, hook) in deployment.lifecycle_hooks.iter().enumerate() {
            let at = format!("deployment.lifecycleHooks[{index}]");
            if !hook.is_lambda() {
                // The ECS API reference: a PAUSE hook has no target or details, and cannot be
                // configured at TEST_TRAFFIC_SHIFT or PRODUCTION_TRAFFIC_SHIFT.
                if !hook.function.is_empty() || hook.hook_details.is_some() {
                    return Err(format!(
                        "{at}: a PAUSE hook invokes nothing: remove its function and hookDetails"
                    ));
                }
                if let Some(stage) = hook.lifecycle_stages.iter().find(|stage| {
                    matches!(
                        stage,
                        Stage::TestTrafficShift | Stage::ProductionTrafficShift
                    )
                }) {
                    return Err(format!(
                        "{at}.lifecycleStages: ECS takes no PAUSE hook at {stage}"
                    ));
                }
            } else if !FUNCTIONS.contains(&hook.function.as_str()) {
                return Err(format!(
                    "{at}.function: unknown function {:?}; expected one of {}",
                    hook.function,
                    FUNCTIONS.join(", ")
                ));
            }
            if hook.lifecycle_stages.is_empty() {
                return Err(format!("{at}.lifecycleStages: name at least one stage"));
            }
            for stage in &hook.lifecycle_stages {
                if !stage.is_hookable() {
                    return Err(format!(
                        "{at}.lifecycleStages: {stage} takes no hooks; hookable stages are {}",
                        Stage::HOOKABLE
                            .iter()
                            .map(|stage| stage.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                if deployment.strategy == Strategy::Rolling && *stage != Stage::PreScaleUp {
                    return Err(format!(
                        "{at}.lifecycleStages: a ROLLING deployment takes hooks at PRE_SCALE_UP only, not {stage}"
                    ));
                }
            }
            if let Some(details) = &hook.hook_details
                && !details.is_object()
            {
                return Err(format!("{at}.hookDetails: must be a JSON object"));
            }
            // botocore's ECS model: an integer, 1 to 20160 minutes.
            if let Some(timeout) = &hook.timeout_configuration
                && !(timeout.timeout_in_minutes.fract() == 0.0
                    && (1.0..=20160.0).contains(&timeout.timeout_in_minutes))
            {
                return Err(format!(
                    "{at}.timeoutConfiguration.timeoutInMinutes: must be a whole number of minutes from 1 to 20160 (ECS's model), got {}",
                    timeout.timeout_in_minutes
                ));
            }
        }
        for (index, fault) in self.faults.iter().enumerate() {
            if !(0.0..=1.0).contains(&fault.probability) {
                return Err(format!(
                    "faults[{index}].probability: {} is not in 0..=1",
                    fault.probability
                ));
            }
            if fault.kind == FaultKind::Latency && fault.latency_ms.is_none() {
                return Err(format!(
                    "faults[{index}].latency_ms: a latency fault needs one"
                ));
            }
        }
        let delay = &self.world.metrics_delay;
        for (field, seconds) in [
            ("requests_seconds", delay.requests_seconds),
            ("errors_seconds", delay.errors_seconds),
        ] {
            if !(seconds.is_finite() && seconds >= 0.0) {
                return Err(format!(
                    "world.metrics_delay.{field}: {seconds} is not a number of seconds of 0 or more"
                ));
            }
        }
        for alarm in &self.world.alarms {
            for state in std::iter::once(&alarm.state).chain(alarm.changes.iter().map(|c| &c.state))
            {
                if !["OK", "ALARM", "INSUFFICIENT_DATA"].contains(&state.as_str()) {
                    return Err(format!(
                        "world.alarms[{}]: state {state:?} is not OK, ALARM or INSUFFICIENT_DATA",
                        alarm.name
                    ));
                }
            }
        }
        for name in &self.world.deployment_alarms {
            if !self.world.alarms.iter().any(|alarm| &alarm.name == name) {
                return Err(format!(
                    "world.deployment_alarms: {name:?} is not one of world.alarms"
                ));
            }
        }
        if let Some(health) = &self.world.green_target_health {
            const STATES: &[&str] = &[
                "healthy",
                "unhealthy",
                "initial",
                "draining",
                "unused",
                "unavailable",
            ];
            if !STATES.contains(&health.state.as_str()) {
                return Err(format!(
                    "world.green_target_health.state: {:?} is not one of {}",
                    health.state,
                    STATES.join(", ")
                ));
            }
        }
        for (which, revision) in [
            ("blue", &self.revisions.blue),
            ("green", &self.revisions.green),
        ] {
            if revision
                .app
                .status_mix
                .iter()
                .all(|(_, weight)| *weight == 0)
            {
                return Err(format!(
                    "revisions.{which}.app.status_mix: give at least one status a weight above 0"
                ));
            }
            if which == "blue" && revision.image.missing {
                return Err(
                    "revisions.blue.image.missing: blue is running, its image exists".into(),
                );
            }
        }
        match deployment.controller {
            Controller::Ecs => self.validate_ecs()?,
            Controller::CodeDeploy => self.validate_codedeploy()?,
        }
        let hook_functions: Vec<String> = match deployment.controller {
            Controller::Ecs => deployment
                .lifecycle_hooks
                .iter()
                .filter(|hook| hook.is_lambda())
                .map(|hook| hook.function.clone())
                .collect(),
            Controller::CodeDeploy => deployment
                .appspec_hooks()
                .into_iter()
                .map(|(_, function)| function_name(&function).to_owned())
                .collect(),
        };
        super::functions::validate(&self.functions, &hook_functions)?;
        if self.expect.rerouted_to_blue == Some(true)
            && ["SUCCESSFUL", "Succeeded"].contains(&self.expect.status.as_str())
        {
            return Err(format!(
                "expect.rerouted_to_blue: a deployment that ends {} is not rerouted to blue",
                self.expect.status
            ));
        }
        Ok(())
    }

    /// What only an ECS-controlled deployment may say.
    fn validate_ecs(&self) -> Result<(), String> {
        let deployment = &self.deployment;
        if !deployment.appspec_hooks.is_empty() || deployment.greenlight_config.is_some() {
            return Err(
                "deployment.appspec_hooks, deployment.greenlight_config: only with controller CODE_DEPLOY; ECS takes deployment.lifecycleHooks".into(),
            );
        }
        if !FINAL_STATUSES.contains(&self.expect.status.as_str()) {
            return Err(format!(
                "expect.status: {:?} is not one of {}",
                self.expect.status,
                FINAL_STATUSES.join(", ")
            ));
        }
        if self.expect.rollback_stage.is_some() && self.expect.status != "ROLLBACK_SUCCESSFUL" {
            return Err("expect.rollback_stage: only with status ROLLBACK_SUCCESSFUL".into());
        }
        if self.expect.rollback_event.is_some() {
            return Err(
                "expect.rollback_event: only with controller CODE_DEPLOY; ECS names the stage with rollback_stage".into(),
            );
        }
        Ok(())
    }

    /// What a CodeDeploy-controlled deployment must say, and what it cannot.
    fn validate_codedeploy(&self) -> Result<(), String> {
        let deployment = &self.deployment;
        if deployment.strategy != Strategy::BlueGreen {
            return Err(format!(
                "deployment.strategy: a CODE_DEPLOY rehearsal moves production all at once (CodeDeployDefault.ECSAllAtOnce); use BLUE_GREEN, not {}",
                deployment.strategy
            ));
        }
        if self.service.topology != Topology::Alb {
            return Err(format!(
                "service.topology: a CODE_DEPLOY rehearsal runs behind an ALB with a test listener; {} is rehearsed with controller ECS",
                self.service.topology.as_str()
            ));
        }
        if !deployment.lifecycle_hooks.is_empty() {
            return Err(
                "deployment.lifecycleHooks: ECS lifecycle hooks do not run under CODE_DEPLOY; name the functions in deployment.appspec_hooks".into(),
            );
        }
        if deployment.bake_time_in_minutes != 0.0 {
            return Err(
                "deployment.bakeTimeInMinutes: ECS's bake does not run under CODE_DEPLOY; bake in the AfterAllowTraffic hook".into(),
            );
        }
        let mut seen = Vec::new();
        for (index, entry) in deployment.appspec_hooks.iter().enumerate() {
            let at = format!("deployment.appspec_hooks[{index}]");
            let Some((event, function)) = entry.iter().next().filter(|_| entry.len() == 1) else {
                return Err(format!(
                    "{at}: each entry maps one lifecycle event to one function, as in appspec.yaml (`- AfterInstall: CodeDeployHook_greenlight_AfterInstall`)"
                ));
            };
            if !event.is_hookable() {
                return Err(format!(
                    "{at}: {event} takes no hooks; hookable events are {}",
                    LifecycleEvent::HOOKABLE
                        .iter()
                        .map(|event| event.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            if seen.contains(event) {
                return Err(format!(
                    "{at}: {event} is named twice; an AppSpec runs one hook per event"
                ));
            }
            seen.push(*event);
            let name = function_name(function);
            if name.is_empty()
                || name.len() > 64
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(format!(
                    "{at}.{event}: {function:?} is not a Lambda function name or ARN"
                ));
            }
        }
        if let Some(config) = &deployment.greenlight_config
            && !config.is_object()
        {
            return Err("deployment.greenlight_config: must be a greenlight config (an object with version: 1)".into());
        }
        let moments = self
            .revisions
            .green
            .behaviour_after
            .iter()
            .chain(&self.revisions.blue.behaviour_after)
            .map(|change| change.at)
            .chain(
                self.world
                    .alarms
                    .iter()
                    .flat_map(|alarm| alarm.changes.iter().map(|change| change.at)),
            )
            .chain(
                self.world
                    .green_target_health
                    .as_ref()
                    .and_then(|health| health.from),
            );
        for moment in moments {
            if moment.step.is_some() {
                return Err(format!(
                    "a moment at {}: CODE_DEPLOY moves production in one step; leave step out",
                    moment.stage
                ));
            }
        }
        if !CODEDEPLOY_FINAL_STATUSES.contains(&self.expect.status.as_str()) {
            return Err(format!(
                "expect.status: {:?} is not one of {} (CodeDeploy's deployment statuses)",
                self.expect.status,
                CODEDEPLOY_FINAL_STATUSES.join(", ")
            ));
        }
        if self.expect.rollback_stage.is_some() {
            return Err(
                "expect.rollback_stage: a CODE_DEPLOY scenario names the lifecycle event with rollback_event".into(),
            );
        }
        if let Some(event) = self.expect.rollback_event {
            if self.expect.status != "Failed" {
                return Err("expect.rollback_event: only with status Failed".into());
            }
            if !event.is_hookable() {
                return Err(format!(
                    "expect.rollback_event: {event} runs no hook, so it cannot fail the deployment"
                ));
            }
        }
        Ok(())
    }
}

fn is_tenth(value: f64) -> bool {
    let tenths = value * 10.0;
    (tenths - tenths.round()).abs() < 1e-6
}

/// The parser's message, which names the line, column and what was expected.
fn describe_yaml_error(error: &serde_saphyr::Error) -> String {
    let text = error.to_string();
    match error.location() {
        Some(location) if !text.contains("line") => {
            format!("line {}: {text}", location.line())
        }
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
name: minimal
service: { cluster: demo, name: web }
revisions:
  blue: { image: { repository: web, tag: v1 } }
  green: { image: { repository: web, tag: v2 } }
deployment:
  strategy: LINEAR
  linearConfiguration: { stepPercent: 33.3 }
  lifecycleHooks:
    - function: production-traffic
      lifecycleStages: [PRODUCTION_TRAFFIC_SHIFT]
      hookDetails: { greenlight: { version: 1 }, team: payments }
      timeoutConfiguration: { timeoutInMinutes: 5, action: CONTINUE }
faults:
  - { service: ecs, kind: throttle, max_hits: 2 }
expect: { status: SUCCESSFUL }
"#;

    const CODEDEPLOY: &str = r#"
name: codedeploy
service: { cluster: demo, name: web }
revisions:
  blue: { image: { repository: web, tag: v1 } }
  green:
    image: { repository: web, tag: v2 }
    behaviour_after:
      - at: { event: AllowTestTraffic }
        app: { status_mix: [[500, 1]] }
world:
  alarms:
    - name: web-5xx
      changes: [{ at: { stage: PRODUCTION_TRAFFIC_SHIFT }, state: ALARM }]
  deployment_alarms: [web-5xx]
deployment:
  controller: CODE_DEPLOY
  strategy: BLUE_GREEN
  appspec_hooks:
    - BeforeInstall: CodeDeployHook_greenlight_BeforeInstall
    - AfterAllowTestTraffic: arn:aws:lambda:us-east-1:111122223333:function:CodeDeployHook_test:live
  greenlight_config: { version: 1 }
expect: { status: Failed, rollback_event: AfterAllowTestTraffic, rerouted_to_blue: true }
"#;

    #[test]
    fn a_codedeploy_scenario_names_appspec_hooks_events_and_codedeploy_statuses() {
        let scenario = Scenario::parse(CODEDEPLOY, "codedeploy.yaml").expect("parses");
        let deployment = &scenario.deployment;
        assert_eq!(deployment.controller, Controller::CodeDeploy);
        let hooks = deployment.appspec_hooks();
        assert_eq!(hooks.len(), 2);
        assert_eq!(hooks[0].0, LifecycleEvent::BeforeInstall);
        assert_eq!(function_name(&hooks[1].1), "CodeDeployHook_test");
        assert_eq!(deployment.hook_count(), 2);
        // An event names the ECS stage it corresponds to.
        assert_eq!(
            scenario.revisions.green.behaviour_after[0].at.stage,
            Stage::TestTrafficShift
        );
        assert_eq!(
            scenario.expect.rollback_event,
            Some(LifecycleEvent::AfterAllowTestTraffic)
        );
        assert_eq!(scenario.expect.rerouted_to_blue, Some(true));
        // An ECS scenario is ECS's unless it says otherwise.
        let ecs = Scenario::parse(MINIMAL, "minimal.yaml").expect("parses");
        assert_eq!(ecs.deployment.controller, Controller::Ecs);
    }

    #[test]
    fn codedeploy_mistakes_are_named_with_what_to_write_instead() {
        let cases = [
            (
                CODEDEPLOY.replace("- BeforeInstall:", "- Install:"),
                "Install takes no hooks",
            ),
            (
                CODEDEPLOY.replace("- BeforeInstall:", "- ValidateService:"),
                "ValidateService",
            ),
            (
                CODEDEPLOY.replace(
                    "- BeforeInstall: CodeDeployHook_greenlight_BeforeInstall",
                    "- AfterAllowTestTraffic: CodeDeployHook_a",
                ),
                "named twice",
            ),
            (
                CODEDEPLOY.replace(
                    "- BeforeInstall: CodeDeployHook_greenlight_BeforeInstall",
                    "- { BeforeInstall: a, AfterInstall: b }",
                ),
                "each entry maps one lifecycle event to one function",
            ),
            (
                CODEDEPLOY.replace("status: Failed", "status: ROLLBACK_SUCCESSFUL"),
                "Succeeded, Failed",
            ),
            (
                CODEDEPLOY.replace("rollback_event:", "rollback_stage:"),
                "rollback_stage",
            ),
            (
                CODEDEPLOY.replace("{ event: AllowTestTraffic }", "{ event: AllowTestTraffic, step: 1 }"),
                "leave step out",
            ),
            (
                CODEDEPLOY.replace("{ event: AllowTestTraffic }", "{ event: AllowTestTraffic, stage: SCALE_UP }"),
                "not both",
            ),
            (
                CODEDEPLOY.replace("strategy: BLUE_GREEN", "strategy: CANARY"),
                "use BLUE_GREEN",
            ),
            (
                CODEDEPLOY.replace(
                    "  greenlight_config: { version: 1 }",
                    "  greenlight_config: { version: 1 }\n  lifecycleHooks: [{ function: test-traffic, lifecycleStages: [POST_TEST_TRAFFIC_SHIFT] }]",
                ),
                "deployment.appspec_hooks",
            ),
            (
                CODEDEPLOY.replace("CodeDeployHook_greenlight_BeforeInstall", "\"no spaces\""),
                "not a Lambda function name",
            ),
            (
                CODEDEPLOY.replace(
                    "{ status: Failed, rollback_event: AfterAllowTestTraffic, rerouted_to_blue: true }",
                    "{ status: Succeeded, rerouted_to_blue: true }",
                ),
                "not rerouted",
            ),
            (
                CODEDEPLOY.replace("appspec_hooks:", "appspec_hook:"),
                "appspec_hook",
            ),
        ];
        for (text, expected) in cases {
            let message = error(&text);
            assert!(message.contains(expected), "{expected:?} in {message}");
        }
        let message =
            error(&MINIMAL.replace("faults:", "  appspec_hooks: [{ AfterInstall: f }]\nfaults:"));
        assert!(
            message.contains("only with controller CODE_DEPLOY"),
            "{message}"
        );
        let message = error(&MINIMAL.replace(
            "expect: { status: SUCCESSFUL }",
            "expect: { status: ROLLBACK_SUCCESSFUL, rollback_event: AfterInstall }",
        ));
        assert!(
            message.contains("rollback_event: only with controller CODE_DEPLOY"),
            "{message}"
        );
    }

    fn error(text: &str) -> String {
        Scenario::parse(text, "bad.yaml")
            .expect_err("invalid")
            .to_string()
    }

    #[test]
    fn a_minimal_scenario_gets_the_documented_defaults() {
        let scenario = Scenario::parse(MINIMAL, "minimal.yaml").expect("parses");
        assert_eq!(scenario.service.container, "web");
        assert_eq!(scenario.service.port, 8080);
        assert_eq!(scenario.service.desired_count, 2);
        assert_eq!(scenario.revisions.green.app.status_mix, [(200, 1)]);
        let linear = scenario
            .deployment
            .linear_configuration
            .as_ref()
            .expect("linear");
        assert_eq!(linear.step_percent, 33.3);
        assert_eq!(linear.step_bake_time_in_minutes, 6.0);
        let hook = &scenario.deployment.lifecycle_hooks[0];
        assert_eq!(hook.lifecycle_stages, [Stage::ProductionTrafficShift]);
        assert_eq!(
            hook.hook_details.as_ref().expect("details")["team"],
            "payments"
        );
        let timeout = hook.timeout_configuration.as_ref().expect("timeout");
        assert_eq!(timeout.action, TimeoutAction::Continue);
        assert_eq!(scenario.deployment.time.seconds_per_minute, 1.0);
        assert_eq!(scenario.faults[0].probability, 1.0);
        assert_eq!(scenario.faults[0].kind, FaultKind::Throttle);
    }

    #[test]
    fn a_negative_metrics_delay_is_an_error_naming_the_field() {
        let text = MINIMAL.replace(
            "deployment:\n",
            "world:\n  metrics_delay: { errors_seconds: -5 }\ndeployment:\n",
        );
        let message = error(&text);
        assert!(
            message.contains("world.metrics_delay.errors_seconds: -5 is not a number of seconds"),
            "{message}"
        );
    }

    #[test]
    fn unknown_fields_are_errors_naming_the_line_and_the_field() {
        let text = MINIMAL.replace("desired_count", "desired").replace(
            "service: { cluster: demo, name: web }",
            "service: { cluster: demo, name: web, desird_count: 3 }",
        );
        let message = error(&text);
        assert!(message.starts_with("bad.yaml: "), "{message}");
        assert!(message.contains("desird_count"), "{message}");
        assert!(message.contains("line 3"), "{message}");
    }

    #[test]
    fn unknown_stages_and_functions_are_named() {
        let message = error(&MINIMAL.replace("[PRODUCTION_TRAFFIC_SHIFT]", "[PRODUCTION_SHIFT]"));
        assert!(message.contains("PRODUCTION_SHIFT"), "{message}");
        let message = error(&MINIMAL.replace("function: production-traffic", "function: prod"));
        assert!(message.contains("lifecycleHooks[0].function"), "{message}");
        assert!(message.contains("production-traffic"), "{message}");
        let message = error(&MINIMAL.replace("[PRODUCTION_TRAFFIC_SHIFT]", "[SCALE_UP]"));
        assert!(message.contains("SCALE_UP takes no hooks"), "{message}");
    }

    #[test]
    fn values_out_of_range_are_refused_with_what_to_use() {
        let message = error(&MINIMAL.replace("stepPercent: 33.3", "stepPercent: 2"));
        assert!(message.contains("stepPercent"), "{message}");
        let message = error(&MINIMAL.replace("stepPercent: 33.3", "stepPercent: 10.05"));
        assert!(message.contains("multiple of 0.1"), "{message}");
        let message = error(&MINIMAL.replace("max_hits: 2", "probability: 1.5"));
        assert!(message.contains("faults[0].probability"), "{message}");
        let message = error(&MINIMAL.replace("status: SUCCESSFUL", "status: DONE"));
        assert!(message.contains("expect.status"), "{message}");
        let message = error(&MINIMAL.replace("strategy: LINEAR", "strategy: CANARY"));
        assert!(
            message.contains("linearConfiguration: only for strategy LINEAR"),
            "{message}"
        );
        let message = error(&MINIMAL.replace(
            "expect: { status: SUCCESSFUL }",
            "expect: { status: SUCCESSFUL, rollback_stage: POST_SCALE_UP }",
        ));
        assert!(message.contains("rollback_stage"), "{message}");
    }

    #[test]
    fn deployment_alarms_must_be_declared_and_rolling_takes_admission_hooks_only() {
        let text = MINIMAL.replace(
            "deployment:\n",
            "world: { deployment_alarms: [web-5xx] }\ndeployment:\n",
        );
        assert!(error(&text).contains("world.deployment_alarms"));
        let text = MINIMAL
            .replace("strategy: LINEAR", "strategy: ROLLING")
            .replace("  linearConfiguration: { stepPercent: 33.3 }\n", "");
        assert!(error(&text).contains("PRE_SCALE_UP only"));
    }
}
