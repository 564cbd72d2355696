//! Running a scenario end to end.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::format::{Controller, FaultKind, Scenario, Strategy};
use super::rehearsal::{self, RehearsalWorld};
use crate::driver::ecs::{EcsDeployment, EcsDriver, Hook};
use crate::driver::{HookCall, HookCallOutcome, HookInvoker};
use crate::endpoint::AwsEndpoint;
use crate::iam::{EngineRole, Iam};
use crate::lambda_host::{FunctionSpec, InvocationResult, LambdaHost, workspace_binary};
use crate::lb::LoadBalancerPlane;
use crate::local_aws::LocalAws;
use crate::moto::MotoServer;
use crate::stack::ecs as stack;
use crate::timeline::{ExpectationResult, SimReport, Subject, Timeline, TimelineEvent};
use crate::traffic::{LoadGenerator, LoadSummary};
use crate::world::{AccountRateLimits, Fault, FaultRule, World};
use crate::world::{TaskDigestSupplement, TaskDigests};

/// A rehearsal could not be run (as opposed to a deployment that rolled back).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("scenario {scenario}: {message}")]
pub struct RunError {
    /// The scenario's name.
    pub scenario: String,
    /// What failed.
    pub message: String,
}

/// The rehearsed world once its deployment has ended, before it is torn down: the account a
/// user would read with `greenlight status` or `greenlight doctor`.
#[derive(Debug, Clone)]
pub struct RehearsedWorld {
    /// The endpoint the functions used (moto with the world's supplements): give it to an SDK
    /// as `AWS_ENDPOINT_URL` (unsigned for IAM, any credentials read everything).
    pub endpoint_url: String,
    /// The cluster's name.
    pub cluster: String,
    /// The service's name.
    pub service: String,
    /// The deployment: the ECS service deployment ARN, or the CodeDeploy deployment id.
    pub deployment: String,
}

/// What [`Afterwards`] runs: a future that reads the world.
pub type AfterwardsFuture = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

/// What to do with a [`RehearsedWorld`] before it is torn down.
#[derive(Clone)]
pub struct Afterwards(pub Arc<dyn Fn(RehearsedWorld) -> AfterwardsFuture + Send + Sync>);

impl std::fmt::Debug for Afterwards {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Afterwards(..)")
    }
}

/// How to run a scenario.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Where the function binaries are (default: next to the running executable, as cargo puts
    /// them: `target/<profile>/`).
    pub functions_dir: Option<PathBuf>,
    /// The Python interpreter with moto (default: `GREENLIGHT_PYTHON`, else the checkout's
    /// `.venv`).
    pub python: Option<PathBuf>,
    /// Each function invocation's deadline (Lambda's function timeout).
    pub function_timeout: Duration,
    /// The most the whole deployment may take, real time: a hang guard.
    pub max_duration: Duration,
    /// Run on the world after the deployment ends and before it is torn down.
    pub afterwards: Option<Afterwards>,
    /// Run beside the deployment, from its start (an operator acting on a paused deployment);
    /// whatever it has not finished when the deployment ends is stopped.
    pub during: Option<Afterwards>,
    /// Build the world, run [`RunOptions::afterwards`] on it and stop, without deploying: the
    /// account as it is before a service's first greenlight deployment (`greenlight doctor`).
    /// The report's final status is [`NOT_DEPLOYED`].
    pub stop_before_deploying: bool,
    /// Build the world in this moto instead of starting one: several services in one account.
    pub shared_moto: Option<Arc<MotoServer>>,
    /// The account's API rate limits, shared with the other rehearsals in the same account
    /// (default: none, every call admitted).
    pub rate_limits: Option<AccountRateLimits>,
    /// Wait here, world built, until every rehearsal holding the same gate is ready: deployments
    /// that begin together.
    pub start_gate: Option<StartGate>,
    /// Build the world only while holding one of these permits: worlds sharing a moto built one
    /// at a time (moto's backends are not made for concurrent writes to one account).
    pub setup_turns: Option<Arc<tokio::sync::Semaphore>>,
}

/// The final status of a rehearsal stopped before deploying.
pub const NOT_DEPLOYED: &str = "NOT_DEPLOYED";

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            functions_dir: None,
            python: None,
            function_timeout: Duration::from_secs(30),
            max_duration: Duration::from_secs(600),
            afterwards: None,
            during: None,
            stop_before_deploying: false,
            shared_moto: None,
            rate_limits: None,
            start_gate: None,
            setup_turns: None,
        }
    }
}

/// Holds rehearsals until all of them have built their worlds, so their deployments begin
/// together. A rehearsal that fails before it gets there withdraws, and the rest go on.
#[derive(Debug, Clone)]
pub struct StartGate {
    state: Arc<std::sync::Mutex<GateCount>>,
    open: tokio::sync::watch::Sender<bool>,
}

#[derive(Debug)]
struct GateCount {
    expected: usize,
    arrived: usize,
}

impl StartGate {
    /// A gate for `expected` rehearsals.
    pub fn new(expected: usize) -> Self {
        StartGate {
            state: Arc::new(std::sync::Mutex::new(GateCount {
                expected,
                arrived: 0,
            })),
            open: tokio::sync::watch::Sender::new(expected == 0),
        }
    }

    /// One rehearsal's place at the gate: arrive with [`GateTicket::arrive`], or withdraw by
    /// dropping it.
    pub fn ticket(&self) -> GateTicket {
        GateTicket {
            gate: self.clone(),
            arrived: false,
        }
    }

    fn count(&self, edit: impl FnOnce(&mut GateCount)) {
        let mut count = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        edit(&mut count);
        if count.arrived >= count.expected {
            self.open.send_replace(true);
        }
    }
}

/// A rehearsal's place at a [`StartGate`].
#[derive(Debug)]
pub struct GateTicket {
    gate: StartGate,
    arrived: bool,
}

impl GateTicket {
    /// Arrives, and waits until every other rehearsal has arrived or withdrawn.
    pub async fn arrive(mut self) {
        self.arrived = true;
        self.gate.count(|count| count.arrived += 1);
        let mut open = self.gate.open.subscribe();
        // The sender lives in this ticket's gate, so waiting cannot fail.
        let _ = open.wait_for(|open| *open).await;
    }
}

impl Drop for GateTicket {
    fn drop(&mut self) {
        if !self.arrived {
            self.gate
                .count(|count| count.expected = count.expected.saturating_sub(1));
        }
    }
}

/// The function binaries, each behind its own Runtime API host, invoked by name.
pub struct FunctionHosts {
    hosts: BTreeMap<String, LambdaHost>,
    /// The role ECS invokes them with, when the world enforces IAM.
    engine: Option<EngineRole>,
}

impl FunctionHosts {
    /// Starts a host for each function, with `env` (endpoint, JSON logs). When `world` enforces
    /// IAM, each function gets its role's credentials and ECS invokes it with its hook role.
    /// Each function's log lines go to `logs_endpoint`'s CloudWatch Logs, as on Lambda.
    pub async fn start(
        functions: &[String],
        dir: Option<&PathBuf>,
        env: &[(String, String)],
        timeout: Duration,
        world: &World,
        logs_endpoint: &str,
    ) -> Result<Self, String> {
        let mut hosts = BTreeMap::new();
        for function in functions {
            if hosts.contains_key(function) {
                continue;
            }
            let binary = function_binary(function, dir)?;
            let name = format!("greenlight-{function}");
            let mut spec = FunctionSpec::new(binary, name.clone());
            spec.timeout = timeout;
            spec.env = role_env(env, world, &name)?;
            spec.logs_endpoint = Some(logs_endpoint.to_owned());
            let host = LambdaHost::start(spec)
                .await
                .map_err(|error| error.to_string())?;
            hosts.insert(function.clone(), host);
        }
        Ok(FunctionHosts {
            hosts,
            engine: world.iam().map(EngineRole::ecs),
        })
    }
}

/// `env` with the credentials of the role `function` runs with, when `world` enforces IAM (as
/// Lambda gives a function its execution role's credentials).
pub(crate) fn role_env(
    env: &[(String, String)],
    world: &World,
    function: &str,
) -> Result<Vec<(String, String)>, String> {
    let Some(iam) = world.iam() else {
        return Ok(env.to_vec());
    };
    let credentials = iam.credentials_for_function(function)?.env();
    let mut env: Vec<(String, String)> = env
        .iter()
        .filter(|(key, _)| !credentials.iter().any(|(name, _)| name == key))
        .cloned()
        .collect();
    env.extend(credentials);
    Ok(env)
}

impl FunctionHosts {
    /// Every line the functions logged so far, function by function.
    pub fn logs(&self) -> Vec<String> {
        self.hosts.values().flat_map(LambdaHost::logs).collect()
    }
}

impl HookInvoker for FunctionHosts {
    async fn invoke(&self, function: &str, payload: &Value) -> HookCall {
        if let Some(engine) = &self.engine
            && let Err(message) = engine.may_invoke(&format!("greenlight-{function}"))
        {
            return HookCall {
                outcome: HookCallOutcome::Failed(format!("AccessDeniedException: {message}")),
                latency: Duration::ZERO,
                cold: false,
                logs: Vec::new(),
            };
        }
        let Some(host) = self.hosts.get(function) else {
            return HookCall {
                outcome: HookCallOutcome::Failed(format!("no function named {function}")),
                latency: Duration::ZERO,
                cold: false,
                logs: Vec::new(),
            };
        };
        match host.invoke(payload).await {
            Ok(invocation) => HookCall {
                outcome: match invocation.result {
                    InvocationResult::Response(value) => HookCallOutcome::Response(value),
                    InvocationResult::Error {
                        error_type,
                        message,
                    } => HookCallOutcome::Failed(format!("{error_type}: {message}")),
                    InvocationResult::Timeout => {
                        HookCallOutcome::Failed("the function timed out".to_owned())
                    }
                    InvocationResult::Crashed(detail) => HookCallOutcome::Failed(detail),
                },
                latency: invocation.latency,
                cold: invocation.cold,
                logs: invocation.logs,
            },
            Err(error) => HookCall {
                outcome: HookCallOutcome::Failed(error.to_string()),
                latency: Duration::ZERO,
                cold: false,
                logs: Vec::new(),
            },
        }
    }
}

/// Where the binary of `function` (`test-traffic`, `codedeploy-hook`) is: in `dir`, or next to the
/// running executable; an error saying how to build it when it is not there.
pub(crate) fn function_binary(function: &str, dir: Option<&PathBuf>) -> Result<PathBuf, String> {
    let binary = match dir {
        Some(dir) => dir.join(function),
        None => workspace_binary(function),
    };
    if binary.is_file() {
        Ok(binary)
    } else {
        Err(format!(
            "the function binary {} is not there: in a checkout run `cargo build -p {function}` (or `make test`); with a release archive, pass its `lib/greenlight/functions` with `--functions-dir`",
            binary.display()
        ))
    }
}

/// The environment every function runs with: the local AWS behind `endpoint`, JSON logs.
pub fn function_env(aws: &LocalAws, endpoint: &AwsEndpoint) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = aws
        .function_env()
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect();
    for (key, value) in &mut env {
        if key == "AWS_ENDPOINT_URL" {
            *value = endpoint.endpoint_url().to_owned();
        }
    }
    env.push(("AWS_LAMBDA_LOG_FORMAT".into(), "JSON".into()));
    env
}

/// The moment the deployment begins: production load starts (and runs through blue alone for the
/// scenario's lead), the scenario's faults apply from now on (never to setup), and the functions'
/// call counts start from zero.
pub(crate) async fn begin_deployment(
    scenario: &Scenario,
    world: &World,
    endpoint: &AwsEndpoint,
    production_port: u16,
    slot: SetupSlot,
) -> Result<Option<LoadGenerator>, String> {
    let SetupSlot { gate, turn } = slot;
    // The world is built: the next deployment may build its own while this one waits to start.
    drop(turn);
    if let Some(ticket) = gate {
        ticket.arrive().await;
    }
    let load = start_load(scenario, production_port)?;
    let lead = scenario.deployment.production_load_lead_seconds;
    if load.is_some() && lead > 0 {
        tokio::time::sleep(Duration::from_secs(lead)).await;
    }
    if let Some(seed) = scenario.fault_seed {
        world.faults().reseed(seed);
    }
    for fault in &scenario.faults {
        world
            .faults()
            .add(fault_rule(fault))
            .map_err(|error| format!("invalid fault: {error}"))?;
    }
    endpoint.reset_calls();
    Ok(load)
}

/// The production load through the production listener on `port`, when the scenario asks for one.
fn start_load(scenario: &Scenario, port: u16) -> Result<Option<LoadGenerator>, String> {
    match scenario.deployment.production_load {
        0 => Ok(None),
        rate => LoadGenerator::start(&format!("http://127.0.0.1:{port}/"), f64::from(rate), 16)
            .map(Some)
            .map_err(|error| format!("cannot start the production load: {error}")),
    }
}

/// Stops the production load, if there is one.
pub(crate) async fn stop_load(load: Option<LoadGenerator>) -> Option<LoadSummary> {
    match load {
        Some(load) => Some(load.stop().await),
        None => None,
    }
}

/// Notes in the timeline what the production load sent and how it was answered.
pub(crate) fn note_load(summary: Option<LoadSummary>, timeline: &mut Timeline) {
    let Some(summary) = summary else { return };
    let by_status: Vec<String> = summary
        .by_status
        .iter()
        .map(|(status, count)| format!("{status}: {count}"))
        .collect();
    let at = timeline.span();
    timeline.record(
        at,
        TimelineEvent::Note(format!(
            "production load: {} requests ({})",
            summary.requests,
            by_status.join(", ")
        )),
    );
}

/// The deployment the driver runs for a scenario, with real durations.
pub fn ecs_deployment(scenario: &Scenario, stack: &stack::Stack) -> EcsDeployment {
    let deployment = &scenario.deployment;
    let scale = deployment.time.seconds_per_minute;
    let minutes = |value: f64| Duration::try_from_secs_f64(value * scale).unwrap_or(Duration::MAX);
    let (step_percent, step_bake) = deployment
        .linear_configuration
        .as_ref()
        .map_or((10.0, 6.0), |linear| {
            (linear.step_percent, linear.step_bake_time_in_minutes)
        });
    let (canary_percent, canary_bake) = deployment
        .canary_configuration
        .as_ref()
        .map_or((5.0, 10.0), |canary| {
            (canary.canary_percent, canary.canary_bake_time_in_minutes)
        });
    let step_bake = match deployment.strategy {
        Strategy::Linear => minutes(step_bake),
        Strategy::Canary => minutes(canary_bake),
        Strategy::BlueGreen | Strategy::Rolling => Duration::ZERO,
    };
    EcsDeployment {
        scenario: scenario.name.clone(),
        weights_move: deployment.weights_move,
        running_hook_listed: deployment.running_hook_listed,
        strategy: deployment.strategy,
        production_steps: EcsDeployment::steps_for(
            deployment.strategy,
            step_percent,
            canary_percent,
        ),
        step_bake,
        bake_time: minutes(deployment.bake_time_in_minutes),
        seconds_per_minute: scale,
        callback_scale: deployment.time.callback_scale,
        hooks: deployment
            .lifecycle_hooks
            .iter()
            .map(|hook| Hook {
                pause: !hook.is_lambda(),
                function: hook.function.clone(),
                function_arn: if hook.is_lambda() {
                    stack::function_arn(&hook.function)
                } else {
                    String::new()
                },
                stages: hook.lifecycle_stages.clone(),
                hook_details: hook
                    .hook_details
                    .as_ref()
                    .and_then(Value::as_object)
                    .cloned(),
                timeout_in_minutes: hook.timeout_configuration.as_ref().map_or(
                    crate::driver::ecs::DEFAULT_HOOK_TIMEOUT_MINUTES,
                    |timeout| timeout.timeout_in_minutes,
                ),
                timeout_action: hook
                    .timeout_configuration
                    .as_ref()
                    .map(|timeout| timeout.action)
                    .unwrap_or_default(),
            })
            .collect(),
        ids: stack.ids.clone(),
        green_revision: stack.green_revision.clone(),
        desired_count: scenario.service.desired_count,
        deployment_alarms: scenario.world.deployment_alarms.clone(),
        deployment_configuration: stack::deployment_configuration(scenario),
    }
}

/// The fault rule a scenario's fault describes.
pub fn fault_rule(fault: &super::format::FaultSpec) -> FaultRule {
    let kind = match fault.kind {
        FaultKind::Latency => Fault::Latency(Duration::from_millis(fault.latency_ms.unwrap_or(0))),
        FaultKind::Throttle => Fault::Throttle,
        FaultKind::ServerError => Fault::ServerError,
        FaultKind::AccessDenied => Fault::AccessDenied,
        FaultKind::DropConnection => Fault::DropConnection,
    };
    let seconds = |value: Option<f64>| value.and_then(|s| Duration::try_from_secs_f64(s).ok());
    let mut rule = FaultRule::new(&fault.service, kind)
        .probability(fault.probability)
        .window(seconds(fault.after_seconds), seconds(fault.until_seconds));
    if let Some(operation) = &fault.operation {
        rule = rule.operation(operation);
    }
    if let Some(max_hits) = fault.max_hits {
        rule = rule.max_hits(max_hits);
    }
    rule
}

/// Rehearses `scenario`: starts moto with the sim's world, the data plane, the sample apps, the
/// load generator and the function binaries; builds the world; runs the deployment; checks the
/// expectations.
pub async fn run(scenario: &Scenario, options: &RunOptions) -> Result<SimReport, RunError> {
    match scenario.deployment.controller {
        Controller::Ecs => run_ecs(scenario, options).await,
        Controller::CodeDeploy => super::codedeploy::run(scenario, options).await,
    }
}

/// Rehearses a scenario whose service ECS deploys.
async fn run_ecs(scenario: &Scenario, options: &RunOptions) -> Result<SimReport, RunError> {
    let began = Instant::now();
    let fail = |message: String| RunError {
        scenario: scenario.name.clone(),
        message,
    };
    let slot = SetupSlot::take(options).await;
    let (world, aws) = local_aws_for(scenario, options).await.map_err(fail)?;
    let digests = Arc::new(TaskDigests::default());
    // The functions' own endpoint: the world's supplements (IAM, then faults), and the running
    // containers' digests, which moto does not report.
    let endpoint = AwsEndpoint::builder(aws.moto().endpoint_url())
        .supplements(world.supplements())
        .supplement(TaskDigestSupplement(Arc::clone(&digests)))
        .start()
        .await
        .map_err(|error| fail(format!("cannot start the functions' endpoint: {error}")))?;
    let plane = LoadBalancerPlane::new(aws.moto().endpoint_url(), &world);
    let (blue_app, green_app) = rehearsal::start_apps(scenario).await.map_err(fail)?;

    let stack = stack::build(scenario, &aws, &world, &plane, &digests)
        .await
        .map_err(|error| fail(format!("setting up the world failed: {error}")))?;
    plane.set_backends(&stack.blue_target_group, vec![blue_app.addr()]);
    if let Some(client) = &stack.service_connect {
        client.set_backends(blue_app.addr(), green_app.addr());
    }
    for (listener, port) in [&stack.production_listener, &stack.test_listener] {
        plane
            .serve(listener, *port)
            .await
            .map_err(|error| fail(format!("cannot serve listener {listener}: {error}")))?;
    }

    let _team_functions = start_team_functions(
        scenario,
        &stack.test_listener,
        &stack.production_listener,
        &world,
    )
    .await
    .map_err(fail)?;
    if options.stop_before_deploying {
        let world = RehearsedWorld {
            endpoint_url: endpoint.endpoint_url().to_owned(),
            cluster: scenario.service.cluster.clone(),
            service: scenario.service.name.clone(),
            deployment: stack.ids.deployment_arn.clone(),
        };
        return Ok(before_deploying(scenario, options, world, began).await);
    }
    let env = function_env(&aws, &endpoint);
    let functions: Vec<String> = scenario
        .deployment
        .lifecycle_hooks
        .iter()
        .filter(|hook| hook.is_lambda())
        .map(|hook| hook.function.clone())
        .collect();
    let hosts = FunctionHosts::start(
        &functions,
        options.functions_dir.as_ref(),
        &env,
        options.function_timeout,
        &world,
        aws.moto().endpoint_url(),
    )
    .await
    .map_err(fail)?;

    let mut deployment = ecs_deployment(scenario, &stack);
    if let Some(client) = &stack.service_connect {
        for hook in &mut deployment.hooks {
            if let Some(details) = &mut hook.hook_details {
                substitute(details, SERVICE_CONNECT_CLIENT_URL, client.url());
            }
        }
    }
    let rehearsal = RehearsalWorld::new(
        scenario, &stack, &aws, &world, &plane, &blue_app, &green_app, &digests, &endpoint,
    );
    let load = begin_deployment(
        scenario,
        &world,
        &endpoint,
        stack.production_listener.1,
        slot,
    )
    .await
    .map_err(fail)?;

    let rehearsed = || RehearsedWorld {
        endpoint_url: endpoint.endpoint_url().to_owned(),
        cluster: scenario.service.cluster.clone(),
        service: scenario.service.name.clone(),
        deployment: deployment.ids.deployment_arn.clone(),
    };
    let during = options
        .during
        .as_ref()
        .map(|during| tokio::spawn((during.0)(rehearsed())));
    let driver = EcsDriver::new(&deployment, &hosts, &rehearsal);
    let result = tokio::time::timeout(options.max_duration, driver.run()).await;
    if let Some(during) = during {
        during.abort();
        // A panic beside the deployment (a test's assertion) is the rehearsal's.
        if let Err(error) = during.await
            && error.is_panic()
        {
            std::panic::resume_unwind(error.into_panic());
        }
    }
    let load_summary = stop_load(load).await;
    let result = deployment_result(result, options.max_duration).map_err(fail)?;
    if let Some(afterwards) = &options.afterwards {
        (afterwards.0)(rehearsed()).await;
    }
    let calls_by_stage = rehearsal.calls_by_stage();
    drop(rehearsal);

    let mut timeline = result.timeline;
    note_load(load_summary, &mut timeline);
    let rollback_stage = result.rollback_stage.map(|stage| stage.as_str().to_owned());
    let expectations = check_expectations(
        scenario,
        &result.status,
        rollback_stage.as_deref(),
        &timeline,
    );
    Ok(SimReport {
        origin: Default::default(),
        scenario: scenario.name.clone(),
        description: scenario.description.clone(),
        strategy: scenario.deployment.strategy.as_str().to_owned(),
        subject: Subject {
            service: format!("{}/{}", scenario.service.cluster, scenario.service.name),
            blue: stack.blue_image.clone(),
            green: stack.green_image.0.clone(),
        },
        timeline,
        expectations,
        calls_by_stage,
        final_status: result.status,
        rollback_stage,
        duration: began.elapsed(),
        function_logs: hosts.logs(),
    })
}

/// Runs [`RunOptions::afterwards`] on a world built but not deployed to, and reports so.
pub(crate) async fn before_deploying(
    scenario: &Scenario,
    options: &RunOptions,
    world: RehearsedWorld,
    began: Instant,
) -> SimReport {
    if let Some(afterwards) = &options.afterwards {
        (afterwards.0)(world).await;
    }
    SimReport {
        scenario: scenario.name.clone(),
        description: scenario.description.clone(),
        strategy: scenario.deployment.strategy.as_str().to_owned(),
        final_status: NOT_DEPLOYED.to_owned(),
        duration: began.elapsed(),
        ..SimReport::default()
    }
}

/// The placeholder a hook's `hookDetails` may use for the Service Connect client's URL.
pub const SERVICE_CONNECT_CLIENT_URL: &str = "{service_connect_client_url}";

/// Replaces `placeholder` with `value` in every string of `details`.
fn substitute(details: &mut serde_json::Map<String, Value>, placeholder: &str, value: &str) {
    fn walk(value: &mut Value, placeholder: &str, with: &str) {
        match value {
            Value::String(text) if text.contains(placeholder) => {
                *text = text.replace(placeholder, with);
            }
            Value::Array(items) => items
                .iter_mut()
                .for_each(|item| walk(item, placeholder, with)),
            Value::Object(map) => map
                .values_mut()
                .for_each(|item| walk(item, placeholder, with)),
            _ => {}
        }
    }
    details
        .values_mut()
        .for_each(|item| walk(item, placeholder, value));
}

/// A deployment's place in a wave: its ticket for the common start, and its turn to build its
/// world (when the options ration turns). [`begin_deployment`] gives the turn back, then waits at
/// the gate; a setup that fails drops both, so neither the next world nor the wave waits on it.
pub(crate) struct SetupSlot {
    gate: Option<GateTicket>,
    turn: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl SetupSlot {
    /// Takes a ticket for the start, then waits for a turn to build the world.
    pub(crate) async fn take(options: &RunOptions) -> Self {
        let gate = options.start_gate.as_ref().map(StartGate::ticket);
        let turn = match &options.setup_turns {
            Some(turns) => Arc::clone(turns).acquire_owned().await.ok(),
            None => None,
        };
        SetupSlot { gate, turn }
    }
}

/// The world for `scenario` (sharing the account's rate limits, if any) and the local AWS in
/// front of it: the options' shared moto, else a moto of its own.
pub(crate) async fn local_aws_for(
    scenario: &Scenario,
    options: &RunOptions,
) -> Result<(World, LocalAws), String> {
    let world = rehearsal_world(scenario)?;
    if let Some(limits) = &options.rate_limits {
        world.share_rate_limits(limits.clone());
    }
    let aws = match &options.shared_moto {
        Some(moto) => LocalAws::in_front_of_shared(Arc::clone(moto), &world).await,
        None => LocalAws::start_with_world_on(&world, options.python.as_deref()).await,
    }
    .map_err(|error| format!("cannot start the local AWS: {error}"))?;
    Ok((world, aws))
}

/// A world for `scenario`: IAM enforced from the template's roles (unless the scenario turns it
/// off), with the scenario's overrides applied.
pub(crate) fn rehearsal_world(scenario: &Scenario) -> Result<World, String> {
    let world = World::new();
    world
        .traffic()
        .set_publication_delay(scenario.world.metrics_delay.delay());
    if !scenario.iam.enforce {
        return Ok(world);
    }
    let iam = Iam::rehearsal()?;
    for grant in &scenario.iam.overrides {
        iam.override_grant(&grant.to_override())?;
    }
    if world.enforce_iam(iam).is_err() {
        return Err("the world already enforces IAM".to_owned());
    }
    Ok(world)
}

/// Every reason code the functions gave: verdicts and checks.
pub fn reason_codes(timeline: &Timeline) -> Vec<String> {
    let mut codes = Vec::new();
    for event in timeline.events() {
        if let TimelineEvent::HookAnswered { reason, checks, .. } = &event.event {
            codes.extend(reason.iter().cloned());
            codes.extend(checks.iter().map(|check| check.code.clone()));
        }
    }
    codes.sort();
    codes.dedup();
    codes
}

/// Whether the scenario's expectations held: `status` is how the deployment ended, `rolled_back_at`
/// the stage (ECS) or lifecycle event (CodeDeploy) where the rollback began.
pub(crate) fn check_expectations(
    scenario: &Scenario,
    status: &str,
    rolled_back_at: Option<&str>,
    timeline: &Timeline,
) -> Vec<ExpectationResult> {
    let expect = &scenario.expect;
    let mut results = vec![ExpectationResult {
        what: "final status".to_owned(),
        expected: expect.status.clone(),
        actual: status.to_owned(),
        met: expect.status == status,
    }];
    let rollback_point = match (expect.rollback_stage, expect.rollback_event) {
        (Some(stage), _) => Some(("rollback stage", stage.as_str())),
        (None, Some(event)) => Some(("rollback event", event.as_str())),
        (None, None) => None,
    };
    if let Some((what, expected)) = rollback_point {
        let actual = rolled_back_at.unwrap_or("none").to_owned();
        results.push(ExpectationResult {
            what: what.to_owned(),
            expected: expected.to_owned(),
            met: actual == expected,
            actual,
        });
    }
    if let Some(expected) = expect.rerouted_to_blue {
        let actual = timeline.rerouted_to_blue();
        let yes_no = |value: bool| if value { "yes" } else { "no" }.to_owned();
        results.push(ExpectationResult {
            what: "traffic rerouted to blue".to_owned(),
            expected: yes_no(expected),
            actual: yes_no(actual),
            met: actual == expected,
        });
    }
    let seen = reason_codes(timeline);
    for code in &expect.reason_codes {
        let met = seen.contains(code);
        results.push(ExpectationResult {
            what: format!("reason code {code}"),
            expected: "reported".to_owned(),
            actual: if met {
                "reported".to_owned()
            } else {
                format!("not reported (seen: {})", seen.join(", "))
            },
            met,
        });
    }
    results
}

/// Starts the scenario's own functions (what its `lambda` checks invoke), reaching the service
/// through the loopback listeners; they run while the returned hosts live.
pub(crate) async fn start_team_functions(
    scenario: &Scenario,
    test_listener: &(String, u16),
    production_listener: &(String, u16),
    world: &World,
) -> Result<Vec<Arc<LambdaHost>>, String> {
    let urls = super::functions::ServiceUrls {
        test_listener: format!("http://127.0.0.1:{}", test_listener.1),
        production_listener: format!("http://127.0.0.1:{}", production_listener.1),
    };
    super::functions::start(&scenario.functions, &scenario.base_dir, &urls, world).await
}

/// The driver's result under the hang guard: what it returned, or why the rehearsal did not finish.
pub(crate) fn deployment_result<T, E: std::fmt::Display>(
    guarded: Result<Result<T, E>, tokio::time::error::Elapsed>,
    max_duration: Duration,
) -> Result<T, String> {
    match guarded {
        Err(_) => Err(format!(
            "the deployment did not finish within {} s",
            max_duration.as_secs()
        )),
        Ok(Err(error)) => Err(format!("the rehearsal failed: {error}")),
        Ok(Ok(result)) => Ok(result),
    }
}
