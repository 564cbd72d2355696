//! ECS's native deployments, played locally: the stages in order, the hooks at each stage invoked
//! with the documented event, IN_PROGRESS honoured, timeouts, and rollbacks.
//!
//! What the driver does, stage by stage (see the ECS lifecycle hook contract):
//! - it writes the green service revision and the service deployment record (status,
//!   `lifecycleStage`, task counts, requested weights, hooks in progress with their expiry,
//!   `rollback`) through [`DeploymentWorld::put_revision`] / [`DeploymentWorld::put_deployment`],
//!   so the functions' `DescribeServiceDeployments`/`DescribeServiceRevisions` see ECS's view;
//! - at SCALE_UP it asks the world to start green's tasks; at TEST_TRAFFIC_SHIFT and at each
//!   PRODUCTION_TRAFFIC_SHIFT step it moves the listener weights **before** invoking the hooks of
//!   that stage (so a hook bakes the traffic it is asked about);
//! - all hooks of one stage run concurrently; a hook answering IN_PROGRESS is invoked again after
//!   its `callBackDelay` (scaled), with `hookDetails` = its static details shallow-merged with what
//!   it returned last time (the returned keys win); executionId stays the same across those
//!   re-invocations and is new per stage and step;
//! - a hook that answers FAILED, answers something that is not a hook response, or errors, rolls
//!   the deployment back; so does one still IN_PROGRESS at its timeout when its action is ROLLBACK
//!   (CONTINUE carries on). When one hook of a stage fails the others are not invoked again;
//! - a rollback restores the weights (green 0, blue 100), re-invokes the hooks registered at
//!   TEST_TRAFFIC_SHIFT and PRODUCTION_TRAFFIC_SHIFT (those whose traffic had moved) with the
//!   reversed weights, never lets them block it, and ends ROLLBACK_SUCCESSFUL.
//!
//! Not modelled: RECONCILE_SERVICE (ECS runs it only when several revisions are active), ECS's own
//! alarm-based rollback (alarms reach the functions through CloudWatch; ECS's monitor is not
//! rehearsed), pause hooks.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value, json};
use tokio::time::Instant;

use super::{HookCall, HookCallOutcome, HookInvoker, Moment, Stage};
use crate::scenario::format::{Strategy, TimeoutAction, WeightsMove};
use crate::stack::util::epoch;
use crate::timeline::{Timeline, TimelineEvent};

/// ECS's default `callBackDelay` when a hook answers IN_PROGRESS without one.
pub const DEFAULT_CALLBACK_DELAY_SECS: u64 = 30;

/// The shortest real wait between two invocations of one hook, whatever the time scale says.
pub const MIN_CALLBACK_WAIT: Duration = Duration::from_millis(50);

/// ECS's default hook timeout (`timeoutInMinutes`).
pub const DEFAULT_HOOK_TIMEOUT_MINUTES: f64 = 1440.0;

/// A failure of the world the driver acts on (moto, the data plane): the rehearsal cannot go on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{action}: {message}")]
pub struct DriverError {
    /// What the driver was doing.
    pub action: String,
    /// What went wrong.
    pub message: String,
}

impl DriverError {
    /// An error while doing `action`.
    pub fn new(action: impl Into<String>, message: impl Into<String>) -> Self {
        DriverError {
            action: action.into(),
            message: message.into(),
        }
    }
}

/// A listener whose weights the driver moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// The production listener rule.
    Production,
    /// The test listener rule.
    Test,
}

impl Listener {
    /// `production` or `test`.
    pub fn as_str(self) -> &'static str {
        match self {
            Listener::Production => "production",
            Listener::Test => "test",
        }
    }
}

/// What the driver acts on. In a rehearsal: the sim's ECS records, moto and the data plane.
pub trait DeploymentWorld: Sync {
    /// Stores a service revision record (wire JSON of `DescribeServiceRevisions`).
    fn put_revision(&self, revision: Value)
    -> impl Future<Output = Result<(), DriverError>> + Send;
    /// Stores (replaces) the service deployment record (wire JSON of `DescribeServiceDeployments`).
    fn put_deployment(
        &self,
        deployment: Value,
    ) -> impl Future<Output = Result<(), DriverError>> + Send;
    /// A moment of the deployment begins: apply what the scenario changes then (app behaviour,
    /// alarm states, target health). `rolling_back` is true for the stages a rollback re-enters,
    /// where nothing of the scenario changes.
    fn reached(
        &self,
        moment: Moment,
        rolling_back: bool,
    ) -> impl Future<Output = Result<(), DriverError>> + Send;
    /// SCALE_UP: start green's tasks and register them with green's target group. Returns how many
    /// run.
    fn scale_up_green(&self) -> impl Future<Output = Result<u32, DriverError>> + Send;
    /// Sets a listener rule's weights (percent) and makes the data plane route by them at once.
    fn shift(
        &self,
        listener: Listener,
        green: f64,
        blue: f64,
    ) -> impl Future<Output = Result<(), DriverError>> + Send;
    /// CLEAN_UP: stop the side that lost (blue after success, green after a rollback).
    fn clean_up(&self, rolled_back: bool) -> impl Future<Output = Result<(), DriverError>> + Send;
    /// What `ContinueServiceDeployment` decided for a PAUSE hook awaiting action, if anything yet.
    fn pause_decision(&self, _deployment_arn: &str, _hook_id: &str) -> Option<PauseAction> {
        None
    }
}

/// What `ContinueServiceDeployment` asks of a paused deployment (`action`, default CONTINUE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PauseAction {
    /// Carry on past the PAUSE hook.
    Continue,
    /// Roll the deployment back.
    Rollback,
}

impl PauseAction {
    /// As ECS spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            PauseAction::Continue => "CONTINUE",
            PauseAction::Rollback => "ROLLBACK",
        }
    }
}

/// How often a paused deployment looks for a decision.
const PAUSE_POLL: Duration = Duration::from_millis(100);

/// The ARNs a deployment is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentIds {
    /// The cluster.
    pub cluster_arn: String,
    /// The service.
    pub service_arn: String,
    /// The service deployment (`resourceArn` of every event).
    pub deployment_arn: String,
    /// Green's service revision.
    pub green_revision_arn: String,
    /// Blue's service revision.
    pub blue_revision_arn: String,
}

/// One lifecycle hook as ECS holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Hook {
    /// A PAUSE hook: ECS invokes nothing and waits for `ContinueServiceDeployment`.
    pub pause: bool,
    /// The function's name (`production-traffic`), which the invoker runs (empty for a PAUSE
    /// hook).
    pub function: String,
    /// The `hookTargetArn`.
    pub function_arn: String,
    /// The stages it is invoked at.
    pub stages: Vec<Stage>,
    /// Its static hookDetails.
    pub hook_details: Option<Map<String, Value>>,
    /// `timeoutInMinutes` (ECS minutes).
    pub timeout_in_minutes: f64,
    /// What happens at the timeout.
    pub timeout_action: TimeoutAction,
}

/// A deployment for the driver to run, every duration already in real time.
#[derive(Debug, Clone)]
pub struct EcsDeployment {
    /// The scenario's name (the timeline's title).
    pub scenario: String,
    /// The strategy.
    pub strategy: Strategy,
    /// Green's production weight after each step, e.g. `[5.0, 100.0]` for a 5% canary.
    pub production_steps: Vec<f64>,
    /// The bake between production steps (real time).
    pub step_bake: Duration,
    /// ECS's BAKE_TIME (real time).
    pub bake_time: Duration,
    /// Real seconds per ECS minute (hook timeouts).
    pub seconds_per_minute: f64,
    /// Real seconds per second of `callBackDelay`.
    pub callback_scale: f64,
    /// The hooks.
    pub hooks: Vec<Hook>,
    /// The ARNs.
    pub ids: DeploymentIds,
    /// Green's service revision record, written when the deployment starts.
    pub green_revision: Value,
    /// Tasks per revision.
    pub desired_count: u32,
    /// The service's deployment alarms.
    pub deployment_alarms: Vec<String>,
    /// The `deploymentConfiguration` ECS reports with the deployment.
    pub deployment_configuration: Value,
    /// Whether the traffic-shift stages move the weights before or after their hooks.
    pub weights_move: WeightsMove,
    /// Whether `lifecycleHookDetails` lists a hook as IN_PROGRESS while it is invoked.
    pub running_hook_listed: bool,
}

impl EcsDeployment {
    /// Green's production weight after each step: BLUE_GREEN and ROLLING `[100]`; LINEAR
    /// `step, 2·step, …, 100`; CANARY `[canary, 100]`. Percents are rounded to 0.1, as ECS's are.
    pub fn steps_for(strategy: Strategy, step_percent: f64, canary_percent: f64) -> Vec<f64> {
        match strategy {
            Strategy::BlueGreen | Strategy::Rolling => vec![100.0],
            Strategy::Canary => {
                if canary_percent >= 100.0 {
                    vec![100.0]
                } else {
                    vec![tenth(canary_percent), 100.0]
                }
            }
            Strategy::Linear => {
                let step_tenths = (step_percent * 10.0).round().max(1.0) as u64;
                let mut steps = Vec::new();
                let mut tenths = 0u64;
                while tenths < 1000 {
                    tenths = (tenths + step_tenths).min(1000);
                    steps.push(tenths as f64 / 10.0);
                }
                steps
            }
        }
    }
}

fn tenth(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

/// How the deployment ended.
#[derive(Debug, Clone, PartialEq)]
pub struct DeploymentResult {
    /// `SUCCESSFUL` or `ROLLBACK_SUCCESSFUL`.
    pub status: String,
    /// The stage where the rollback began.
    pub rollback_stage: Option<Stage>,
    /// Why it rolled back.
    pub rollback_reason: Option<String>,
    /// What happened.
    pub timeline: Timeline,
    /// When each moment began, since the deployment started (for per-stage call counts).
    pub moments: Vec<(Duration, Moment)>,
}

/// Why a stage failed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct StageFailure {
    reason: String,
}

/// The outcome of one hook at one stage.
enum HookEnd {
    Succeeded,
    Failed(String),
    /// Stopped because another hook of the stage failed.
    Cancelled,
}

/// Plays ECS for one deployment.
pub struct EcsDriver<'a, I: HookInvoker, W: DeploymentWorld> {
    deployment: &'a EcsDeployment,
    invoker: &'a I,
    world: &'a W,
    started: Instant,
    started_wall: SystemTime,
    timeline: Mutex<Timeline>,
    record: Mutex<Value>,
    moments: Mutex<Vec<(Duration, Moment)>>,
    execution_counter: AtomicU64,
}

impl<'a, I: HookInvoker, W: DeploymentWorld> EcsDriver<'a, I, W> {
    /// A driver for `deployment`, invoking hooks through `invoker` and acting on `world`.
    pub fn new(deployment: &'a EcsDeployment, invoker: &'a I, world: &'a W) -> Self {
        let started_wall = SystemTime::now();
        EcsDriver {
            deployment,
            invoker,
            world,
            started: Instant::now(),
            started_wall,
            timeline: Mutex::new(Timeline::new(
                deployment.scenario.clone(),
                deployment.strategy.as_str(),
            )),
            record: Mutex::new(initial_record(deployment, started_wall)),
            moments: Mutex::new(Vec::new()),
            execution_counter: AtomicU64::new(0),
        }
    }

    /// Runs the deployment to its end: SUCCESSFUL or ROLLBACK_SUCCESSFUL. An error is a failure of
    /// the rehearsal itself (moto, the data plane), not of the deployment.
    pub async fn run(self) -> Result<DeploymentResult, DriverError> {
        let deployment = self.deployment;
        self.world
            .put_revision(deployment.green_revision.clone())
            .await?;
        self.publish().await?;
        self.note(format!(
            "{} deployment of {} started",
            deployment.strategy, deployment.ids.green_revision_arn
        ));

        let mut progress = Progress::default();
        let failure = self.forward(&mut progress).await?;
        let (status, rollback_stage, rollback_reason) = match failure {
            None => {
                self.enter(Moment::at(Stage::CleanUp), None, None).await?;
                self.world.clean_up(false).await?;
                ("SUCCESSFUL", None, None)
            }
            Some((stage, failure)) => {
                self.roll_back(stage, &failure.reason, &progress).await?;
                ("ROLLBACK_SUCCESSFUL", Some(stage), Some(failure.reason))
            }
        };
        self.update(|record| {
            record["status"] = json!(status);
            record["finishedAt"] = json!(epoch(SystemTime::now()));
            record["lifecycleHookDetails"] = json!([]);
        });
        self.publish().await?;
        self.record_event(TimelineEvent::DeploymentFinished {
            status: status.to_owned(),
        });
        let mut timeline = self
            .timeline
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        timeline.finish(status);
        Ok(DeploymentResult {
            status: status.to_owned(),
            rollback_stage,
            rollback_reason,
            timeline,
            moments: self
                .moments
                .into_inner()
                .unwrap_or_else(PoisonError::into_inner),
        })
    }

    /// The stages in order, until one fails: the failed stage and why.
    async fn forward(
        &self,
        progress: &mut Progress,
    ) -> Result<Option<(Stage, StageFailure)>, DriverError> {
        let deployment = self.deployment;
        macro_rules! hooks_or_fail {
            ($moment:expr, $test:expr, $production:expr) => {
                if let Err(failure) = self.run_hooks($moment, $test, $production).await? {
                    return Ok(Some(($moment.stage, failure)));
                }
            };
        }

        let pre_scale_up = Moment::at(Stage::PreScaleUp);
        self.enter(pre_scale_up, None, None).await?;
        hooks_or_fail!(pre_scale_up, None, None);

        self.enter(Moment::at(Stage::ScaleUp), None, None).await?;
        let running = self.world.scale_up_green().await?;
        self.update(|record| {
            record["targetServiceRevision"]["runningTaskCount"] = json!(running);
        });
        self.publish().await?;
        self.note(format!("{running} green task(s) running"));

        if deployment.strategy == Strategy::Rolling {
            // A rolling update replaces blue's tasks; there is no test traffic and no hooks after
            // admission.
            self.shift(Listener::Production, 100.0, 0.0, progress)
                .await?;
            return Ok(None);
        }

        let post_scale_up = Moment::at(Stage::PostScaleUp);
        self.enter(post_scale_up, None, None).await?;
        hooks_or_fail!(post_scale_up, None, None);

        let test_shift = Moment::at(Stage::TestTrafficShift);
        let before_hooks = deployment.weights_move == WeightsMove::BeforeHooks;
        self.enter(test_shift, None, Some((100.0, 0.0))).await?;
        if before_hooks {
            self.shift(Listener::Test, 100.0, 0.0, progress).await?;
        }
        hooks_or_fail!(test_shift, Some((100.0, 0.0)), None);
        if !before_hooks {
            self.shift(Listener::Test, 100.0, 0.0, progress).await?;
        }

        let post_test = Moment::at(Stage::PostTestTrafficShift);
        self.enter(post_test, None, None).await?;
        hooks_or_fail!(post_test, None, None);

        let stepped = matches!(deployment.strategy, Strategy::Linear | Strategy::Canary);
        let mut green = 0.0;
        let last = deployment.production_steps.len();
        for (index, &target) in deployment.production_steps.iter().enumerate() {
            let step = stepped.then_some(index as u32 + 1);
            let before = (green, tenth(100.0 - green));
            let pre = Moment {
                stage: Stage::PreProductionTrafficShift,
                step,
            };
            self.enter(pre, Some(before), None).await?;
            hooks_or_fail!(pre, None, Some(before));

            let after = (target, tenth(100.0 - target));
            let shift = Moment {
                stage: Stage::ProductionTrafficShift,
                step,
            };
            self.enter(shift, Some(after), None).await?;
            if before_hooks {
                self.shift(Listener::Production, after.0, after.1, progress)
                    .await?;
            }
            hooks_or_fail!(shift, None, Some(after));
            if !before_hooks {
                self.shift(Listener::Production, after.0, after.1, progress)
                    .await?;
            }
            green = target;

            if index + 1 < last && !deployment.step_bake.is_zero() {
                self.note(format!(
                    "step {} baking for {} ms before the next step",
                    index + 1,
                    deployment.step_bake.as_millis()
                ));
                tokio::time::sleep(deployment.step_bake).await;
            }
        }

        let post_production = Moment::at(Stage::PostProductionTrafficShift);
        self.enter(post_production, None, None).await?;
        hooks_or_fail!(post_production, None, None);

        self.enter(Moment::at(Stage::BakeTime), None, None).await?;
        if !deployment.bake_time.is_zero() {
            tokio::time::sleep(deployment.bake_time).await;
        }
        Ok(None)
    }

    /// Rolls back: weights restored, traffic hooks re-invoked with reversed weights, green stopped.
    async fn roll_back(
        &self,
        stage: Stage,
        reason: &str,
        progress: &Progress,
    ) -> Result<(), DriverError> {
        let ids = &self.deployment.ids;
        self.record_event(TimelineEvent::RollbackStarted {
            stage: stage.as_str().to_owned(),
            reason: reason.to_owned(),
        });
        let now = epoch(SystemTime::now());
        self.update(|record| {
            record["status"] = json!("ROLLBACK_IN_PROGRESS");
            record["statusReason"] = json!(reason);
            record["rollback"] = json!({
                "reason": reason,
                "startedAt": now,
                "serviceRevisionArn": ids.blue_revision_arn,
            });
            record["lifecycleHookDetails"] = json!([]);
        });
        self.publish().await?;

        let mut progress = progress.clone();
        let reversed = (0.0, 100.0);
        if progress.test_shifted {
            let moment = Moment::at(Stage::TestTrafficShift);
            self.enter_as(moment, None, Some(reversed), true).await?;
            self.shift(Listener::Test, 0.0, 100.0, &mut progress)
                .await?;
            self.rollback_hooks(moment, Some(reversed), None).await?;
        }
        if progress.production_shifted {
            let moment = Moment::at(Stage::ProductionTrafficShift);
            self.enter_as(moment, Some(reversed), None, true).await?;
            self.shift(Listener::Production, 0.0, 100.0, &mut progress)
                .await?;
            self.rollback_hooks(moment, None, Some(reversed)).await?;
        }
        self.enter_as(Moment::at(Stage::CleanUp), None, None, true)
            .await?;
        self.world.clean_up(true).await
    }

    async fn rollback_hooks(
        &self,
        moment: Moment,
        test: Option<(f64, f64)>,
        production: Option<(f64, f64)>,
    ) -> Result<(), DriverError> {
        if let Err(failure) = self.run_hooks(moment, test, production).await? {
            // What ECS does with a failure during a rollback is undocumented; the rehearsal never
            // lets it block the rollback, and says so.
            self.note(format!(
                "a hook did not succeed during the rollback at {moment} ({}); the rollback goes on",
                failure.reason
            ));
        }
        Ok(())
    }

    /// Runs every hook registered at `moment.stage`, concurrently; the first failure is the stage's.
    async fn run_hooks(
        &self,
        moment: Moment,
        test: Option<(f64, f64)>,
        production: Option<(f64, f64)>,
    ) -> Result<Result<(), StageFailure>, DriverError> {
        let hooks: Vec<(usize, &Hook)> = self
            .deployment
            .hooks
            .iter()
            .enumerate()
            .filter(|(_, hook)| hook.stages.contains(&moment.stage))
            .collect();
        if hooks.is_empty() {
            return Ok(Ok(()));
        }
        let stop = AtomicBool::new(false);
        let runs = hooks
            .iter()
            .map(|(index, hook)| self.run_hook(*index, hook, moment, test, production, &stop));
        let ends = futures::future::join_all(runs).await;
        self.update(|record| record["lifecycleHookDetails"] = json!([]));
        self.publish().await?;
        let mut failures = Vec::new();
        for end in ends {
            match end? {
                HookEnd::Failed(reason) => failures.push(reason),
                HookEnd::Succeeded | HookEnd::Cancelled => {}
            }
        }
        Ok(match failures.is_empty() {
            true => Ok(()),
            false => Err(StageFailure {
                reason: failures.join("; "),
            }),
        })
    }

    /// One hook at one stage, until it succeeds, fails or times out.
    async fn run_hook(
        &self,
        index: usize,
        hook: &Hook,
        moment: Moment,
        test: Option<(f64, f64)>,
        production: Option<(f64, f64)>,
        stop: &AtomicBool,
    ) -> Result<HookEnd, DriverError> {
        if hook.pause {
            return self.pause(index, hook, moment, stop).await;
        }
        let deployment = self.deployment;
        let execution_id = self.execution_id();
        let timeout = scaled_minutes(hook.timeout_in_minutes, deployment.seconds_per_minute);
        let deadline = Instant::now() + timeout;
        let expires_at = SystemTime::now() + timeout;
        let mut returned: Option<Map<String, Value>> = None;
        let mut attempt = 0u32;
        loop {
            if stop.load(Ordering::SeqCst) {
                return Ok(HookEnd::Cancelled);
            }
            attempt += 1;
            if deployment.running_hook_listed {
                self.set_hook_status(index, hook, "IN_PROGRESS", expires_at);
            }
            self.publish().await?;
            let payload = self.payload(
                &execution_id,
                moment,
                test,
                production,
                merged_details(hook.hook_details.as_ref(), returned.as_ref()),
            );
            self.record_event(TimelineEvent::HookInvoked {
                stage: moment.stage.as_str().to_owned(),
                function: hook.function.clone(),
                attempt,
                payload: payload.clone(),
            });
            let call = self.invoker.invoke(&hook.function, &payload).await;
            let answer = read_answer(&call);
            let verdict = self.record_answer(moment, hook, attempt, &call, &answer);
            let wait = match answer {
                Answer::Succeeded => {
                    self.set_hook_status(index, hook, "SUCCEEDED", expires_at);
                    return Ok(HookEnd::Succeeded);
                }
                Answer::Failed(reason) => {
                    self.set_hook_status(index, hook, "FAILED", expires_at);
                    stop.store(true, Ordering::SeqCst);
                    // On call reads this first: the function's own reason code and sentence.
                    let why = match verdict {
                        (Some(code), Some(message)) => format!("{reason}: {code}: {message}"),
                        (Some(code), None) => format!("{reason}: {code}"),
                        (None, Some(message)) => format!("{reason}: {message}"),
                        (None, None) => reason,
                    };
                    return Ok(HookEnd::Failed(format!(
                        "{} at {moment}: {why}",
                        hook.function
                    )));
                }
                Answer::InProgress {
                    call_back_delay,
                    hook_details,
                } => {
                    if let Some(details) = hook_details {
                        // Each answer's details replace the previous answer's, key by key over
                        // the static details.
                        returned = Some(details);
                    }
                    let seconds = call_back_delay.unwrap_or(DEFAULT_CALLBACK_DELAY_SECS) as f64;
                    Duration::from_secs_f64(seconds * deployment.callback_scale)
                        .max(MIN_CALLBACK_WAIT)
                }
            };
            if Instant::now() + wait >= deadline {
                // The next invocation would come after the hook's deadline: ECS times it out then.
                tokio::time::sleep_until(deadline).await;
                self.set_hook_status(index, hook, "TIMED_OUT", expires_at);
                let minutes = hook.timeout_in_minutes;
                match hook.timeout_action {
                    TimeoutAction::Continue => {
                        self.note(format!(
                            "{} at {moment} was still IN_PROGRESS after {minutes} minute(s); its timeout action is CONTINUE",
                            hook.function
                        ));
                        return Ok(HookEnd::Succeeded);
                    }
                    TimeoutAction::Rollback => {
                        stop.store(true, Ordering::SeqCst);
                        return Ok(HookEnd::Failed(format!(
                            "{} at {moment} timed out: still IN_PROGRESS after {minutes} minute(s) (timeout action ROLLBACK)",
                            hook.function
                        )));
                    }
                }
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// A PAUSE hook: the deployment waits, its hook AWAITING_ACTION, until
    /// `ContinueServiceDeployment` continues or rolls it back, or the hook's timeout takes its
    /// action (the ECS developer guide, "pause lifecycle hooks").
    async fn pause(
        &self,
        index: usize,
        hook: &Hook,
        moment: Moment,
        stop: &AtomicBool,
    ) -> Result<HookEnd, DriverError> {
        let deployment = self.deployment;
        let timeout = scaled_minutes(hook.timeout_in_minutes, deployment.seconds_per_minute);
        let deadline = Instant::now() + timeout;
        let expires_at = SystemTime::now() + timeout;
        let hook_id = pause_hook_id(&deployment.ids.deployment_arn, index);
        self.set_hook_status(index, hook, "AWAITING_ACTION", expires_at);
        self.publish().await?;
        self.note(format!(
            "ECS paused the deployment at {moment} (PAUSE hook {hook_id}): it waits for ContinueServiceDeployment, or {} minute(s) then {}",
            hook.timeout_in_minutes,
            hook.timeout_action.as_str()
        ));
        loop {
            if stop.load(Ordering::SeqCst) {
                return Ok(HookEnd::Cancelled);
            }
            if let Some(action) = self
                .world
                .pause_decision(&deployment.ids.deployment_arn, &hook_id)
            {
                self.note(format!(
                    "ContinueServiceDeployment {} for the PAUSE hook at {moment}",
                    action.as_str()
                ));
                return Ok(match action {
                    PauseAction::Continue => {
                        self.set_hook_status(index, hook, "SUCCEEDED", expires_at);
                        HookEnd::Succeeded
                    }
                    PauseAction::Rollback => {
                        self.set_hook_status(index, hook, "FAILED", expires_at);
                        stop.store(true, Ordering::SeqCst);
                        HookEnd::Failed(format!(
                            "the PAUSE hook at {moment} was answered ROLLBACK (ContinueServiceDeployment)"
                        ))
                    }
                });
            }
            if Instant::now() >= deadline {
                self.set_hook_status(index, hook, "TIMED_OUT", expires_at);
                let minutes = hook.timeout_in_minutes;
                return Ok(match hook.timeout_action {
                    TimeoutAction::Continue => {
                        self.note(format!(
                            "nobody acted on the PAUSE hook at {moment} within {minutes} minute(s); its timeout action is CONTINUE"
                        ));
                        HookEnd::Succeeded
                    }
                    TimeoutAction::Rollback => {
                        stop.store(true, Ordering::SeqCst);
                        HookEnd::Failed(format!(
                            "nobody acted on the PAUSE hook at {moment} within {minutes} minute(s) (timeout action ROLLBACK)"
                        ))
                    }
                });
            }
            tokio::time::sleep(PAUSE_POLL.min(deadline - Instant::now())).await;
        }
    }

    fn payload(
        &self,
        execution_id: &str,
        moment: Moment,
        test: Option<(f64, f64)>,
        production: Option<(f64, f64)>,
        hook_details: Option<Map<String, Value>>,
    ) -> Value {
        let ids = &self.deployment.ids;
        let weights = |pair: Option<(f64, f64)>| match pair {
            Some((green, blue)) => json!({
                ids.green_revision_arn.clone(): weight_json(green),
                ids.blue_revision_arn.clone(): weight_json(blue),
            }),
            None => json!({}),
        };
        let mut event = json!({
            "executionId": execution_id,
            "lifecycleStage": moment.stage.as_str(),
            "resourceArn": ids.deployment_arn,
            "executionDetails": {
                "serviceArn": ids.service_arn,
                "targetServiceRevisionArn": ids.green_revision_arn,
                "testTrafficWeights": weights(test),
                "productionTrafficWeights": weights(production),
            },
        });
        if let Some(details) = hook_details {
            event["hookDetails"] = Value::Object(details);
        }
        event
    }

    fn record_answer(
        &self,
        moment: Moment,
        hook: &Hook,
        attempt: u32,
        call: &HookCall,
        answer: &Answer,
    ) -> (Option<String>, Option<String>) {
        let (reason, message, checks) = crate::timeline::parse_invocation_logs(&call.logs);
        let verdict = (reason.clone(), message.clone());
        let (status, call_back_delay, raw_response, message) = match (&call.outcome, answer) {
            (HookCallOutcome::Failed(error), _) => (
                "ERROR",
                None,
                Value::Null,
                Some(message.unwrap_or_else(|| error.clone())),
            ),
            (HookCallOutcome::Response(raw), Answer::Succeeded) => {
                ("SUCCEEDED", None, raw.clone(), message)
            }
            (HookCallOutcome::Response(raw), Answer::Failed(_)) => {
                let status = match raw.get("hookStatus").and_then(Value::as_str) {
                    Some("FAILED") => "FAILED",
                    _ => "ERROR",
                };
                (status, None, raw.clone(), message)
            }
            (
                HookCallOutcome::Response(raw),
                Answer::InProgress {
                    call_back_delay, ..
                },
            ) => (
                "IN_PROGRESS",
                Some(call_back_delay.unwrap_or(DEFAULT_CALLBACK_DELAY_SECS) as u32),
                raw.clone(),
                message,
            ),
        };
        let message = match (status, answer) {
            ("ERROR", Answer::Failed(reason)) if message.is_none() => Some(reason.clone()),
            _ => message,
        };
        self.record_event(TimelineEvent::HookAnswered {
            stage: moment.stage.as_str().to_owned(),
            function: hook.function.clone(),
            attempt,
            status: status.to_owned(),
            call_back_delay,
            reason,
            message,
            checks,
            latency: call.latency,
            cold: call.cold,
            raw_response,
        });
        verdict
    }

    /// A new moment: the record's lifecycleStage, the timeline, and the scenario's changes.
    async fn enter(
        &self,
        moment: Moment,
        production: Option<(f64, f64)>,
        test: Option<(f64, f64)>,
    ) -> Result<(), DriverError> {
        self.enter_as(moment, production, test, false).await
    }

    async fn enter_as(
        &self,
        moment: Moment,
        production: Option<(f64, f64)>,
        test: Option<(f64, f64)>,
        rolling_back: bool,
    ) -> Result<(), DriverError> {
        let at = self.started.elapsed();
        self.moments
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((at, moment));
        self.record_event(TimelineEvent::StageStarted {
            stage: moment.stage.as_str().to_owned(),
            step: moment.step,
            production_weights: production,
            test_weights: test,
        });
        self.update(|record| {
            record["lifecycleStage"] = json!(moment.stage.as_str());
            record["updatedAt"] = json!(epoch(SystemTime::now()));
        });
        self.publish().await?;
        self.world.reached(moment, rolling_back).await
    }

    async fn shift(
        &self,
        listener: Listener,
        green: f64,
        blue: f64,
        progress: &mut Progress,
    ) -> Result<(), DriverError> {
        self.world.shift(listener, green, blue).await?;
        match listener {
            Listener::Production => progress.production_shifted |= green > 0.0,
            Listener::Test => progress.test_shifted |= green > 0.0,
        }
        let field = match listener {
            Listener::Production => "requestedProductionTrafficWeight",
            Listener::Test => "requestedTestTrafficWeight",
        };
        self.update(|record| {
            record["targetServiceRevision"][field] = json!(green);
            if let Some(source) = record["sourceServiceRevisions"].get_mut(0) {
                source[field] = json!(blue);
            }
        });
        self.publish().await?;
        self.record_event(TimelineEvent::TrafficShifted {
            listener: listener.as_str().to_owned(),
            green,
            blue,
        });
        Ok(())
    }

    fn set_hook_status(&self, index: usize, hook: &Hook, status: &str, expires_at: SystemTime) {
        let (hook_id, target) = if hook.pause {
            (
                pause_hook_id(&self.deployment.ids.deployment_arn, index),
                json!({ "targetType": "PAUSE" }),
            )
        } else {
            (
                format!("hook-{}", index + 1),
                json!({ "targetType": "AWS_LAMBDA", "targetArn": hook.function_arn }),
            )
        };
        let mut detail = json!({
            "hookId": hook_id,
            "status": status,
            "expiresAt": epoch(expires_at),
            "timeoutAction": match hook.timeout_action {
                TimeoutAction::Rollback => "ROLLBACK",
                TimeoutAction::Continue => "CONTINUE",
            },
        });
        if let (Some(detail), Value::Object(target)) = (detail.as_object_mut(), target) {
            detail.extend(target);
        }
        self.update(|record| {
            let details = record["lifecycleHookDetails"]
                .as_array_mut()
                .map(std::mem::take)
                .unwrap_or_default();
            let mut details: Vec<Value> = details
                .into_iter()
                .filter(|existing| existing["hookId"] != json!(hook_id))
                .collect();
            details.push(detail);
            record["lifecycleHookDetails"] = Value::Array(details);
        });
    }

    fn execution_id(&self) -> String {
        let n = self.execution_counter.fetch_add(1, Ordering::Relaxed) + 1;
        let seed = self
            .started_wall
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|since| since.as_micros() as u64)
            .unwrap_or_default();
        let mixed = splitmix(seed ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            (mixed >> 32) as u32,
            (mixed >> 16) as u16,
            mixed & 0xfff,
            (mixed >> 12) & 0xfff,
            splitmix(mixed) & 0xffff_ffff_ffff
        )
    }

    fn update(&self, change: impl FnOnce(&mut Value)) {
        change(&mut self.record.lock().unwrap_or_else(PoisonError::into_inner));
    }

    async fn publish(&self) -> Result<(), DriverError> {
        let record = self
            .record
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        self.world.put_deployment(record).await
    }

    fn note(&self, text: String) {
        self.record_event(TimelineEvent::Note(text));
    }

    fn record_event(&self, event: TimelineEvent) {
        let at = self.started.elapsed();
        self.timeline
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .record(at, event);
    }
}

impl Moment {
    /// A stage without a step.
    pub fn at(stage: Stage) -> Moment {
        Moment { stage, step: None }
    }
}

/// Which listeners had moved towards green (and so are restored, and their hooks re-invoked, on
/// rollback).
#[derive(Debug, Clone, Default)]
struct Progress {
    test_shifted: bool,
    production_shifted: bool,
}

/// A hook's answer as ECS reads it.
#[derive(Debug, Clone, PartialEq)]
enum Answer {
    Succeeded,
    InProgress {
        call_back_delay: Option<u64>,
        hook_details: Option<Map<String, Value>>,
    },
    Failed(String),
}

/// A PAUSE hook's id, as ECS makes them (`ecs-pause-…`, the developer guide's example), stable for
/// the deployment and the hook.
pub fn pause_hook_id(deployment_arn: &str, index: usize) -> String {
    let seed = deployment_arn
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        });
    format!("ecs-pause-{:016x}-{}", splitmix(seed), index + 1)
}

fn read_answer(call: &HookCall) -> Answer {
    let response = match &call.outcome {
        HookCallOutcome::Response(response) => response,
        HookCallOutcome::Failed(error) => {
            return Answer::Failed(format!("the function failed: {error}"));
        }
    };
    match response.get("hookStatus").and_then(Value::as_str) {
        Some("SUCCEEDED") => Answer::Succeeded,
        Some("FAILED") => Answer::Failed("the hook answered FAILED".to_owned()),
        Some("IN_PROGRESS") => Answer::InProgress {
            // The Lambda-hooks page documents `callBackDelay`; no other spelling is honoured.
            call_back_delay: response.get("callBackDelay").and_then(Value::as_u64),
            hook_details: response
                .get("hookDetails")
                .and_then(Value::as_object)
                .cloned(),
        },
        Some(other) => Answer::Failed(format!("invalid hookStatus {other:?}")),
        None => Answer::Failed(format!("the answer has no hookStatus: {response}")),
    }
}

/// The static hookDetails with the last answer's on top: a shallow merge, the answer's keys win.
pub fn merged_details(
    static_details: Option<&Map<String, Value>>,
    returned: Option<&Map<String, Value>>,
) -> Option<Map<String, Value>> {
    if static_details.is_none() && returned.is_none() {
        return None;
    }
    let mut merged = static_details.cloned().unwrap_or_default();
    for (key, value) in returned.into_iter().flatten() {
        merged.insert(key.clone(), value.clone());
    }
    Some(merged)
}

/// A weight as the fixtures write it: an integer when whole, else the number.
fn weight_json(weight: f64) -> Value {
    if weight.fract() == 0.0 && (0.0..=100.0).contains(&weight) {
        json!(weight as i64)
    } else {
        json!(weight)
    }
}

fn scaled_minutes(minutes: f64, seconds_per_minute: f64) -> Duration {
    Duration::try_from_secs_f64(minutes * seconds_per_minute).unwrap_or(Duration::MAX)
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The deployment record when the deployment starts.
fn initial_record(deployment: &EcsDeployment, started: SystemTime) -> Value {
    let ids = &deployment.ids;
    let count = deployment.desired_count;
    json!({
        "serviceDeploymentArn": ids.deployment_arn,
        "serviceArn": ids.service_arn,
        "clusterArn": ids.cluster_arn,
        "createdAt": epoch(started),
        "startedAt": epoch(started),
        "updatedAt": epoch(started),
        "status": "IN_PROGRESS",
        "lifecycleStage": "RECONCILE_SERVICE",
        "sourceServiceRevisions": [{
            "arn": ids.blue_revision_arn,
            "requestedTaskCount": count,
            "runningTaskCount": count,
            "pendingTaskCount": 0,
            "requestedTestTrafficWeight": 100.0,
            "requestedProductionTrafficWeight": 100.0,
        }],
        "targetServiceRevision": {
            "arn": ids.green_revision_arn,
            "requestedTaskCount": count,
            "runningTaskCount": 0,
            "pendingTaskCount": 0,
            "requestedTestTrafficWeight": 0.0,
            "requestedProductionTrafficWeight": 0.0,
        },
        "deploymentConfiguration": deployment.deployment_configuration,
        "alarms": {
            "status": if deployment.deployment_alarms.is_empty() { "DISABLED" } else { "MONITORING" },
            "alarmNames": deployment.deployment_alarms,
            "triggeredAlarmNames": [],
        },
        "lifecycleHookDetails": [],
    })
}
