//! CodeDeploy's ECS blue/green deployment with AppSpec hooks, played locally.
//!
//! [`CodeDeployStack::build`] (in `crate::stack`) makes the world such a deployment runs in, in moto: a cluster, a
//! service with the `CODE_DEPLOY` deployment controller, blue's task set (`PRIMARY`) with running
//! tasks registered in blue's target group, an ALB with a production and a test listener (served
//! by the [`LoadBalancerPlane`]) forwarding to blue, alarms; and the deployment in the
//! [`CodeDeploySim`] (deployment, deployment group, ECS target) that the hook functions read.
//!
//! [`CodeDeployDriver::run`] then plays the lifecycle events in CodeDeploy's order (see the
//! CodeDeploy hook contract):
//! BeforeInstall → Install (green's task set, `externalId` = the deployment id, its tasks registered
//! in green's target group) → AfterInstall → AllowTestTraffic (the test listener forwards to green) →
//! AfterAllowTestTraffic → BeforeAllowTraffic → AllowTraffic (the production listener forwards to
//! green) → AfterAllowTraffic. At each hook event named in the AppSpec's `Hooks` it invokes the
//! function with `{DeploymentId, LifecycleEventHookExecutionId}` and waits for the function's
//! `PutLifecycleEventHookExecutionStatus` in the sim — however many invocations that takes (a long
//! bake hands itself to a new invocation) — for at most the hook limit (one hour, scaled). What the
//! function returns is ignored, as CodeDeploy ignores it; an invocation error only shows in the
//! timeline.
//!
//! A `Failed` report or no report within the limit fails the event and rolls back: the listeners
//! go back to blue, green's task set is deleted, and the deployment ends `Failed` (with a
//! `rollbackInfo` message), as CodeDeploy does when automatic rollback is on. A failure at
//! BeforeInstall has nothing to roll back (green does not exist yet).
//!
//! Not modelled: canary/linear production shifts (AllowTraffic moves all traffic at once), the
//! deployment's own alarm monitoring and `terminationWaitTimeInMinutes`.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::ecs::DriverError;
use super::{HookInvoker, Stage};
use crate::codedeploy::CodeDeploySim;
use crate::iam::EngineRole;
use crate::lambda_host::LambdaHost;
use crate::lb::LoadBalancerPlane;
use crate::stack::codedeploy::{CodeDeployStack, task_set_id};
use crate::timeline::{Timeline, TimelineEvent, parse_invocation_logs};
use crate::world::World;

/// CodeDeploy fails a hook that has not reported within this long.
pub const HOOK_LIMIT: Duration = Duration::from_secs(60 * 60);

/// How often the driver looks for a hook's report.
const REPORT_POLL: Duration = Duration::from_millis(100);

/// A lifecycle event of a CodeDeploy ECS blue/green deployment, spelt as the AppSpec spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
pub enum LifecycleEvent {
    /// Before green's task set exists (hookable).
    BeforeInstall,
    /// Green's task set is created (no hooks).
    Install,
    /// Green runs, no traffic (hookable).
    AfterInstall,
    /// The test listener moves to green (no hooks).
    AllowTestTraffic,
    /// Green serves the test listener (hookable).
    AfterAllowTestTraffic,
    /// Production still on blue (hookable).
    BeforeAllowTraffic,
    /// The production listener moves to green (no hooks).
    AllowTraffic,
    /// Green serves production (hookable).
    AfterAllowTraffic,
}

impl LifecycleEvent {
    /// Every event, in the order CodeDeploy runs them.
    pub const ALL: [LifecycleEvent; 8] = [
        LifecycleEvent::BeforeInstall,
        LifecycleEvent::Install,
        LifecycleEvent::AfterInstall,
        LifecycleEvent::AllowTestTraffic,
        LifecycleEvent::AfterAllowTestTraffic,
        LifecycleEvent::BeforeAllowTraffic,
        LifecycleEvent::AllowTraffic,
        LifecycleEvent::AfterAllowTraffic,
    ];

    /// The events an AppSpec's `Hooks` can name.
    pub const HOOKABLE: [LifecycleEvent; 5] = [
        LifecycleEvent::BeforeInstall,
        LifecycleEvent::AfterInstall,
        LifecycleEvent::AfterAllowTestTraffic,
        LifecycleEvent::BeforeAllowTraffic,
        LifecycleEvent::AfterAllowTraffic,
    ];

    /// The name, as in the AppSpec.
    pub fn as_str(self) -> &'static str {
        match self {
            LifecycleEvent::BeforeInstall => "BeforeInstall",
            LifecycleEvent::Install => "Install",
            LifecycleEvent::AfterInstall => "AfterInstall",
            LifecycleEvent::AllowTestTraffic => "AllowTestTraffic",
            LifecycleEvent::AfterAllowTestTraffic => "AfterAllowTestTraffic",
            LifecycleEvent::BeforeAllowTraffic => "BeforeAllowTraffic",
            LifecycleEvent::AllowTraffic => "AllowTraffic",
            LifecycleEvent::AfterAllowTraffic => "AfterAllowTraffic",
        }
    }

    /// The event named `name`, if it is one.
    pub fn parse(name: &str) -> Option<LifecycleEvent> {
        Self::ALL.into_iter().find(|event| event.as_str() == name)
    }

    /// Whether an AppSpec hook can run at this event.
    pub fn is_hookable(self) -> bool {
        Self::HOOKABLE.contains(&self)
    }

    /// The ECS lifecycle stage this event corresponds to: the stage plan of greenlight's config a
    /// hook at this event runs, and how a scenario's moments name it.
    pub fn stage(self) -> Stage {
        match self {
            LifecycleEvent::BeforeInstall => Stage::PreScaleUp,
            LifecycleEvent::Install => Stage::ScaleUp,
            LifecycleEvent::AfterInstall => Stage::PostScaleUp,
            LifecycleEvent::AllowTestTraffic => Stage::TestTrafficShift,
            LifecycleEvent::AfterAllowTestTraffic => Stage::PostTestTrafficShift,
            LifecycleEvent::BeforeAllowTraffic => Stage::PreProductionTrafficShift,
            LifecycleEvent::AllowTraffic => Stage::ProductionTrafficShift,
            LifecycleEvent::AfterAllowTraffic => Stage::PostProductionTrafficShift,
        }
    }
}

impl std::fmt::Display for LifecycleEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a CodeDeploy deployment is played: its size, the scaled clock.
#[derive(Debug, Clone)]
pub struct CodeDeployRun {
    /// The scenario's name, for the timeline.
    pub scenario: String,
    /// Green's tasks.
    pub desired_count: u32,
    /// The container port.
    pub port: u16,
    /// How long a hook may take to report (CodeDeploy's hour, scaled for a rehearsal).
    pub hook_limit: Duration,
    /// When CodeDeploy makes green's task set PRIMARY (undocumented).
    pub green_primary: GreenPrimary,
}

/// When CodeDeploy makes green's task set PRIMARY: ECS's TaskSet.status says PRIMARY "serves
/// production traffic", and CodeDeploy does not document the moment, so rehearsals play both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GreenPrimary {
    /// With the production shift (`AllowTraffic`), before the `AfterAllowTraffic` hook runs.
    #[default]
    AtAllowTraffic,
    /// Only once the `AfterAllowTraffic` hook has reported Succeeded.
    AfterAllowTrafficHook,
}

/// What an [`OnEvent`] callback returns: ready once the world has changed.
pub type EventFuture<'a> = Pin<Box<dyn Future<Output = Result<(), DriverError>> + Send + 'a>>;

/// Called as each lifecycle event begins (before its hook is invoked, after its traffic moved):
/// where a scenario changes the world (target health, alarm states, app behaviour). An error
/// stops the rehearsal.
pub type OnEvent<'a> =
    Box<dyn Fn(LifecycleEvent, &'a CodeDeployStack) -> EventFuture<'a> + Send + Sync + 'a>;

/// How a played deployment ended.
#[derive(Debug, Clone)]
pub struct CodeDeployResult {
    /// `Succeeded` or `Failed`, as CodeDeploy spells a deployment's status.
    pub status: String,
    /// The lifecycle event that failed, if one did.
    pub failed_event: Option<String>,
    /// Why, as the rollback says.
    pub failure: Option<String>,
    /// Every report the hooks made, by lifecycle event: (status, reason code from the logs).
    pub reports: BTreeMap<String, (String, Option<String>)>,
    /// What happened, in order.
    pub timeline: Timeline,
}

/// Plays CodeDeploy for one deployment of a [`CodeDeployStack`].
pub struct CodeDeployDriver<'a, I: HookInvoker> {
    stack: &'a CodeDeployStack,
    sim: &'a CodeDeploySim,
    plane: &'a LoadBalancerPlane,
    invoker: &'a I,
    run: CodeDeployRun,
    on_event: Option<OnEvent<'a>>,
    started: Instant,
    timeline: Mutex<Timeline>,
    weights: Mutex<(f64, f64)>,
}

impl<'a, I: HookInvoker> CodeDeployDriver<'a, I> {
    /// A driver for `stack`'s deployment, invoking hooks through `invoker`.
    pub fn new(
        stack: &'a CodeDeployStack,
        sim: &'a CodeDeploySim,
        plane: &'a LoadBalancerPlane,
        invoker: &'a I,
        run: CodeDeployRun,
    ) -> Self {
        let timeline = Timeline::new(run.scenario.clone(), "CODE_DEPLOY");
        CodeDeployDriver {
            stack,
            sim,
            plane,
            invoker,
            run,
            on_event: None,
            started: Instant::now(),
            timeline: Mutex::new(timeline),
            weights: Mutex::new((0.0, 0.0)),
        }
    }

    /// Calls `on_event` as each lifecycle event begins.
    pub fn on_event(mut self, on_event: OnEvent<'a>) -> Self {
        self.on_event = Some(on_event);
        self
    }

    fn record(&self, event: TimelineEvent) {
        let at = self.started.elapsed();
        self.timeline
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .record(at, event);
    }

    fn set_event_status(&self, event: &str, status: &str) {
        self.sim
            .update_deployment(&self.stack.deployment_id, |deployment| {
                for target in &mut deployment.targets {
                    if let Some(events) = target["lifecycleEvents"].as_array_mut() {
                        for entry in events {
                            if entry["lifecycleEventName"] == event {
                                entry["status"] = json!(status);
                            }
                        }
                    }
                }
            });
    }

    fn set_deployment_status(&self, status: &str, rollback: Option<&str>) {
        self.sim
            .update_deployment(&self.stack.deployment_id, |deployment| {
                deployment.info["status"] = json!(status);
                if matches!(status, "Succeeded" | "Failed" | "Stopped") {
                    deployment.info["completeTime"] = json!(crate::stack::util::now_epoch());
                }
                if let Some(message) = rollback {
                    deployment.info["rollbackInfo"] = json!({ "rollbackMessage": message });
                    deployment.info["errorInformation"] =
                        json!({ "code": "HOOK_FAILED", "message": message });
                }
                for target in &mut deployment.targets {
                    target["status"] = json!(status);
                }
            });
    }

    /// Green's production weight in the target's task sets.
    fn set_task_sets(&self, green_weight: Option<f64>) {
        let green_id = self
            .stack
            .green_task_set()
            .as_deref()
            .map_or("green", task_set_id)
            .to_owned();
        let green_group = self
            .stack
            .green_target_group
            .split('/')
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        self.sim
            .update_deployment(&self.stack.deployment_id, |deployment| {
                for target in &mut deployment.targets {
                    let Some(sets) = target["taskSetsInfo"].as_array_mut() else {
                        continue;
                    };
                    sets.retain(|set| set["taskSetLabel"] != "Green");
                    if let Some(weight) = green_weight {
                        for set in sets.iter_mut() {
                            set["trafficWeight"] = json!(100.0 - weight);
                        }
                        sets.push(json!({
                            "identifer": green_id,
                            "desiredCount": self.run.desired_count,
                            "runningCount": self.run.desired_count,
                            "trafficWeight": weight,
                            "taskSetLabel": "Green",
                            "targetGroup": { "name": green_group },
                        }));
                    } else {
                        for set in sets.iter_mut() {
                            set["trafficWeight"] = json!(100.0);
                        }
                    }
                }
            });
    }

    async fn shift(&self, listener: &str, to_green: bool) -> Result<(), DriverError> {
        let (arn, name) = if listener == "production" {
            (&self.stack.production_listener.0, "production")
        } else {
            (&self.stack.test_listener.0, "test")
        };
        let group = if to_green {
            &self.stack.green_target_group
        } else {
            &self.stack.blue_target_group
        };
        self.stack.point(arn, group).await?;
        self.plane.refresh();
        {
            let mut weights = self.weights.lock().unwrap_or_else(PoisonError::into_inner);
            let green = if to_green { 100.0 } else { 0.0 };
            if name == "production" {
                weights.0 = green;
            } else {
                weights.1 = green;
            }
        }
        self.record(TimelineEvent::TrafficShifted {
            listener: name.to_owned(),
            green: if to_green { 100.0 } else { 0.0 },
            blue: if to_green { 0.0 } else { 100.0 },
        });
        Ok(())
    }

    /// Plays the deployment to its end: `Succeeded`, or `Failed` after a rollback.
    pub async fn run(self) -> Result<CodeDeployResult, DriverError> {
        let mut reports = BTreeMap::new();
        let mut failure: Option<(String, String)> = None;
        for (execution, lifecycle_event) in LifecycleEvent::ALL.into_iter().enumerate() {
            let event = lifecycle_event.as_str();
            let (production, test) = *self.weights.lock().unwrap_or_else(PoisonError::into_inner);
            self.record(TimelineEvent::StageStarted {
                stage: event.to_owned(),
                step: None,
                production_weights: Some((production, 100.0 - production)),
                test_weights: Some((test, 100.0 - test)),
            });
            self.set_event_status(event, "InProgress");
            match lifecycle_event {
                LifecycleEvent::Install => {
                    self.stack
                        .install_green(self.run.desired_count, self.run.port)
                        .await?;
                    self.set_task_sets(Some(0.0));
                }
                LifecycleEvent::AllowTestTraffic => self.shift("test", true).await?,
                LifecycleEvent::AllowTraffic => {
                    self.shift("production", true).await?;
                    self.set_task_sets(Some(100.0));
                    if self.run.green_primary == GreenPrimary::AtAllowTraffic {
                        self.stack.make_green_primary().await?;
                    }
                }
                _ => {}
            }
            if let Some(on_event) = &self.on_event {
                on_event(lifecycle_event, self.stack).await?;
            }
            if lifecycle_event.is_hookable()
                && let Some(function) = self.stack.hooks.get(event)
            {
                let (status, reason, message) = self.hook(event, function, execution).await;
                reports.insert(event.to_owned(), (status.clone(), reason.clone()));
                if status != "Succeeded" {
                    self.set_event_status(event, "Failed");
                    failure = Some((
                        event.to_owned(),
                        format!(
                            "{event} hook {function} reported {status}{}: {message}",
                            reason.map(|code| format!(" ({code})")).unwrap_or_default()
                        ),
                    ));
                    break;
                }
            }
            self.set_event_status(event, "Succeeded");
            if lifecycle_event == LifecycleEvent::AfterAllowTraffic
                && self.run.green_primary == GreenPrimary::AfterAllowTrafficHook
            {
                self.stack.make_green_primary().await?;
            }
        }
        let status = match &failure {
            None => {
                self.set_deployment_status("Succeeded", None);
                "Succeeded"
            }
            Some((event, reason)) => {
                self.roll_back(event, reason).await;
                "Failed"
            }
        };
        self.record(TimelineEvent::DeploymentFinished {
            status: status.to_owned(),
        });
        let mut timeline = self
            .timeline
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        timeline.finish(status);
        let (failed_event, failure) = failure.unzip();
        Ok(CodeDeployResult {
            status: status.to_owned(),
            failed_event,
            failure,
            reports,
            timeline,
        })
    }

    /// CodeDeploy's automatic rollback: traffic back to blue, green's task set gone.
    async fn roll_back(&self, event: &str, reason: &str) {
        self.record(TimelineEvent::RollbackStarted {
            stage: event.to_owned(),
            reason: reason.to_owned(),
        });
        let (production, test) = *self.weights.lock().unwrap_or_else(PoisonError::into_inner);
        for (listener, moved) in [("production", production > 0.0), ("test", test > 0.0)] {
            if moved && let Err(error) = self.shift(listener, false).await {
                self.record(TimelineEvent::Note(format!(
                    "rollback could not move the {listener} listener back to blue: {error}"
                )));
            }
        }
        self.set_task_sets(None);
        if let Err(error) = self.stack.remove_green().await {
            self.record(TimelineEvent::Note(format!(
                "rollback could not delete green's task set: {error}"
            )));
        }
        self.set_deployment_status("Failed", Some(reason));
    }

    /// Invokes one hook and waits for its report: (status, reason code, message).
    async fn hook(
        &self,
        event: &str,
        function: &str,
        execution: usize,
    ) -> (String, Option<String>, String) {
        let deployment_id = &self.stack.deployment_id;
        let execution_id = base64_like(&format!("{deployment_id}/{event}/{execution}"));
        let payload = json!({
            "DeploymentId": deployment_id,
            "LifecycleEventHookExecutionId": execution_id,
        });
        self.record(TimelineEvent::HookInvoked {
            stage: event.to_owned(),
            function: function.to_owned(),
            attempt: 1,
            payload: payload.clone(),
        });
        let limit = self.run.hook_limit;
        let wait_for_report = async {
            let deadline = Instant::now() + limit;
            loop {
                if let Some(report) = self.sim.accepted_report(deployment_id, &execution_id) {
                    return Some(report);
                }
                if Instant::now() >= deadline {
                    return None;
                }
                tokio::time::sleep(REPORT_POLL).await;
            }
        };
        let (call, report) = tokio::join!(self.invoker.invoke(function, &payload), wait_for_report);
        let (reason, message, checks) = parse_invocation_logs(&call.logs);
        let (status, message) = match (&report, &call.outcome) {
            (Some(report), _) => (
                report.status.clone(),
                message.unwrap_or_else(|| format!("reported {}", report.status)),
            ),
            (None, super::HookCallOutcome::Failed(error)) => (
                "Failed".to_owned(),
                format!("no report within {limit:?}; the invocation failed: {error}"),
            ),
            (None, super::HookCallOutcome::Response(_)) => (
                "Failed".to_owned(),
                format!("no report within {limit:?} (CodeDeploy's hook limit, scaled)"),
            ),
        };
        if let super::HookCallOutcome::Response(answer) = &call.outcome
            && answer["outcome"] == "handed_off"
        {
            self.record(TimelineEvent::Note(format!(
                "{function} handed its bake to a new invocation (handoff {})",
                answer["handoffs"]
            )));
        }
        self.record(TimelineEvent::HookAnswered {
            stage: event.to_owned(),
            function: function.to_owned(),
            attempt: 1,
            status: status.to_uppercase(),
            call_back_delay: None,
            reason: reason.clone(),
            message: Some(message.clone()),
            checks,
            latency: call.latency,
            cold: call.cold,
            raw_response: match &call.outcome {
                super::HookCallOutcome::Response(answer) => answer.clone(),
                super::HookCallOutcome::Failed(error) => json!({ "error": error }),
            },
        });
        (status, reason, message)
    }
}

/// An opaque token from a text, shaped like CodeDeploy's execution ids (base64 of JSON).
fn base64_like(text: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = format!("{{\"encryptedData\":\"{text}\"}}").into_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for index in 0..4 {
            if index <= chunk.len() {
                out.push(char::from(
                    ALPHABET[((n >> (18 - 6 * index)) & 63) as usize],
                ));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Runs hook functions in [`LambdaHost`]s by function name; [`LambdaHooks::serve_invocations`]
/// makes their asynchronous self-invocations (a long bake's handoff) reach the same hosts.
#[derive(Clone, Default)]
pub struct LambdaHooks {
    hosts: Arc<Mutex<BTreeMap<String, Arc<LambdaHost>>>>,
    /// The role CodeDeploy invokes the hooks with, when IAM is enforced.
    engine: Arc<Mutex<Option<EngineRole>>>,
}

impl std::fmt::Debug for LambdaHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LambdaHooks").finish_non_exhaustive()
    }
}

impl LambdaHooks {
    /// No functions yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Authorizes every hook invocation against `engine` (CodeDeploy's service role) first: a
    /// function the role may not invoke fails its lifecycle event, as CodeDeploy fails it.
    pub fn invoke_as(&self, engine: EngineRole) {
        *self.engine.lock().unwrap_or_else(PoisonError::into_inner) = Some(engine);
    }

    /// Every line the hooks' functions logged so far, function by function.
    pub fn logs(&self) -> Vec<String> {
        self.hosts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .flat_map(|host| host.logs())
            .collect()
    }

    /// Runs the function `name` in `host`.
    pub fn add(&self, name: &str, host: Arc<LambdaHost>) {
        self.hosts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.to_owned(), host);
    }

    fn host(&self, name: &str) -> Option<Arc<LambdaHost>> {
        self.hosts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .cloned()
    }

    /// Lets the functions be invoked through the local AWS endpoint too (a long bake's handoff is an
    /// asynchronous `Invoke` of the function itself): registers every host with `world`, whose
    /// supplements answer Lambda `Invoke` as Lambda does.
    pub fn serve_invocations(&self, world: &World) {
        for (name, host) in self
            .hosts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            world.lambda_functions().add(name, Arc::clone(host));
        }
    }
}

impl HookInvoker for LambdaHooks {
    fn invoke(
        &self,
        function: &str,
        payload: &Value,
    ) -> impl Future<Output = super::HookCall> + Send {
        let host = self.host(function);
        let denied = self
            .engine
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .and_then(|engine| engine.may_invoke(function).err());
        let function = function.to_owned();
        let payload = payload.clone();
        async move {
            if let Some(message) = denied {
                return super::HookCall {
                    outcome: super::HookCallOutcome::Failed(format!(
                        "IAM_ROLE_PERMISSIONS: CodeDeploy could not invoke {function}: {message}"
                    )),
                    latency: Duration::ZERO,
                    cold: false,
                    logs: Vec::new(),
                };
            }
            let Some(host) = host else {
                return super::HookCall {
                    outcome: super::HookCallOutcome::Failed(format!(
                        "no function named {function} is running"
                    )),
                    latency: Duration::ZERO,
                    cold: false,
                    logs: Vec::new(),
                };
            };
            match host.invoke(&payload).await {
                Ok(invocation) => super::HookCall {
                    outcome: match invocation.result {
                        crate::lambda_host::InvocationResult::Response(answer) => {
                            super::HookCallOutcome::Response(answer)
                        }
                        other => super::HookCallOutcome::Failed(format!("{other:?}")),
                    },
                    latency: invocation.latency,
                    cold: invocation.cold,
                    logs: invocation.logs,
                },
                Err(error) => super::HookCall {
                    outcome: super::HookCallOutcome::Failed(error.to_string()),
                    latency: Duration::ZERO,
                    cold: false,
                    logs: Vec::new(),
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn execution_ids_are_base64() {
        assert_eq!(base64_like("a"), "eyJlbmNyeXB0ZWREYXRhIjoiYSJ9");
    }
}
