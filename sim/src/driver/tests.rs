//! The driver's fidelity to the ECS hook contract, with scripted hooks, a recording world and
//! tokio's paused time: payload shapes per stage and step, hookDetails merging, callBackDelay,
//! rollback re-invocation with reversed weights, and hook timeouts.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Map, Value, json};
use tokio::time::Instant;

use super::ecs::{
    DeploymentIds, DeploymentResult, DeploymentWorld, DriverError, EcsDeployment, EcsDriver, Hook,
    Listener, PauseAction,
};
use super::{HookCall, HookCallOutcome, HookInvoker, Moment, Stage};
use crate::scenario::format::{Strategy, TimeoutAction, WeightsMove};
use crate::timeline::TimelineEvent;

const GREEN: &str =
    "arn:aws:ecs:us-east-1:123456789012:service-revision/demo/web/9313423515462893900";
const BLUE: &str =
    "arn:aws:ecs:us-east-1:123456789012:service-revision/demo/web/1920498462936580504";
const DEPLOYMENT: &str =
    "arn:aws:ecs:us-east-1:123456789012:service-deployment/demo/web/EZe5RNVLH6PPzHXINuP28";
const SERVICE: &str = "arn:aws:ecs:us-east-1:123456789012:service/demo/web";

/// One invocation as the scripted hook saw it.
#[derive(Debug, Clone)]
struct Seen {
    function: String,
    payload: Value,
    at: Instant,
}

/// Answers from a script per (function, stage), SUCCEEDED when the script is empty.
#[derive(Default)]
struct ScriptedHooks {
    script: Mutex<HashMap<(String, String), VecDeque<HookCallOutcome>>>,
    always: Mutex<HashMap<(String, String), HookCallOutcome>>,
    seen: Mutex<Vec<Seen>>,
}

impl ScriptedHooks {
    fn then(self, function: &str, stage: Stage, answer: Value) -> Self {
        self.script
            .lock()
            .unwrap()
            .entry((function.to_owned(), stage.as_str().to_owned()))
            .or_default()
            .push_back(HookCallOutcome::Response(answer));
        self
    }

    fn always(self, function: &str, stage: Stage, outcome: HookCallOutcome) -> Self {
        self.always
            .lock()
            .unwrap()
            .insert((function.to_owned(), stage.as_str().to_owned()), outcome);
        self
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn seen_at(&self, function: &str, stage: Stage) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|seen| {
                seen.function == function && seen.payload["lifecycleStage"] == stage.as_str()
            })
            .collect()
    }
}

impl HookInvoker for ScriptedHooks {
    async fn invoke(&self, function: &str, payload: &Value) -> HookCall {
        let stage = payload["lifecycleStage"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        self.seen.lock().unwrap().push(Seen {
            function: function.to_owned(),
            payload: payload.clone(),
            at: Instant::now(),
        });
        let key = (function.to_owned(), stage);
        let scripted = self
            .script
            .lock()
            .unwrap()
            .get_mut(&key)
            .and_then(VecDeque::pop_front);
        let outcome = scripted
            .or_else(|| self.always.lock().unwrap().get(&key).cloned())
            .unwrap_or_else(|| HookCallOutcome::Response(json!({ "hookStatus": "SUCCEEDED" })));
        HookCall {
            outcome,
            latency: Duration::from_millis(3),
            cold: false,
            logs: vec![
                json!({"message": "greenlight summary", "greenlight": {"reason": "SCRIPTED", "message": "scripted", "checks": []}})
                    .to_string(),
            ],
        }
    }
}

/// Records what the driver did to the world.
#[derive(Default)]
struct RecordingWorld {
    actions: Mutex<Vec<String>>,
    deployments: Mutex<Vec<Value>>,
    /// What an operator answers a PAUSE hook once it has been awaiting action this long.
    pause_answer: Option<(Duration, PauseAction)>,
    paused_since: Mutex<Option<Instant>>,
}

impl RecordingWorld {
    fn actions(&self) -> Vec<String> {
        self.actions.lock().unwrap().clone()
    }

    fn statuses(&self) -> Vec<String> {
        let mut statuses: Vec<String> = self
            .deployments
            .lock()
            .unwrap()
            .iter()
            .map(|record| record["status"].as_str().unwrap_or_default().to_owned())
            .collect();
        statuses.dedup();
        statuses
    }
}

impl DeploymentWorld for RecordingWorld {
    fn pause_decision(&self, deployment_arn: &str, hook_id: &str) -> Option<PauseAction> {
        assert_eq!(deployment_arn, DEPLOYMENT);
        assert!(hook_id.starts_with("ecs-pause-"), "{hook_id}");
        // The hook is listed AWAITING_ACTION before anyone can act on it.
        let awaiting = self
            .deployments
            .lock()
            .unwrap()
            .last()
            .is_some_and(|record| {
                record["lifecycleHookDetails"]
                    .as_array()
                    .is_some_and(|hooks| {
                        hooks.iter().any(|hook| {
                            hook["hookId"] == hook_id
                                && hook["targetType"] == "PAUSE"
                                && hook["status"] == "AWAITING_ACTION"
                                && hook.get("targetArn").is_none()
                        })
                    })
            });
        assert!(
            awaiting,
            "asked for a decision on a hook not awaiting action"
        );
        let (after, action) = self.pause_answer?;
        let since = *self
            .paused_since
            .lock()
            .unwrap()
            .get_or_insert_with(Instant::now);
        (since.elapsed() >= after).then_some(action)
    }

    async fn put_revision(&self, revision: Value) -> Result<(), DriverError> {
        self.actions
            .lock()
            .unwrap()
            .push(format!("revision {}", revision["serviceRevisionArn"]));
        Ok(())
    }

    async fn put_deployment(&self, deployment: Value) -> Result<(), DriverError> {
        self.deployments.lock().unwrap().push(deployment);
        Ok(())
    }

    async fn reached(&self, moment: Moment, rolling_back: bool) -> Result<(), DriverError> {
        let prefix = if rolling_back { "rollback " } else { "" };
        self.actions
            .lock()
            .unwrap()
            .push(format!("{prefix}reached {moment}"));
        Ok(())
    }

    async fn scale_up_green(&self) -> Result<u32, DriverError> {
        self.actions.lock().unwrap().push("scale up".to_owned());
        Ok(2)
    }

    async fn shift(&self, listener: Listener, green: f64, blue: f64) -> Result<(), DriverError> {
        self.actions
            .lock()
            .unwrap()
            .push(format!("shift {} {green}/{blue}", listener.as_str()));
        Ok(())
    }

    async fn clean_up(&self, rolled_back: bool) -> Result<(), DriverError> {
        self.actions
            .lock()
            .unwrap()
            .push(format!("clean up (rolled back: {rolled_back})"));
        Ok(())
    }
}

fn pause_hook(stages: &[Stage], timeout_in_minutes: f64, action: TimeoutAction) -> Hook {
    Hook {
        pause: true,
        function: String::new(),
        function_arn: String::new(),
        stages: stages.to_vec(),
        hook_details: None,
        timeout_in_minutes,
        timeout_action: action,
    }
}

fn hook(function: &str, stages: &[Stage]) -> Hook {
    Hook {
        pause: false,
        function: function.to_owned(),
        function_arn: format!(
            "arn:aws:lambda:us-east-1:123456789012:function:greenlight-{function}"
        ),
        stages: stages.to_vec(),
        hook_details: None,
        timeout_in_minutes: 1440.0,
        timeout_action: TimeoutAction::Rollback,
    }
}

fn all_hooks() -> Vec<Hook> {
    vec![
        hook("pre-scale-up", &[Stage::PreScaleUp]),
        hook("post-scale-up", &[Stage::PostScaleUp]),
        hook(
            "test-traffic",
            &[Stage::TestTrafficShift, Stage::PostTestTrafficShift],
        ),
        hook(
            "production-traffic",
            &[
                Stage::PreProductionTrafficShift,
                Stage::ProductionTrafficShift,
                Stage::PostProductionTrafficShift,
            ],
        ),
    ]
}

fn deployment(strategy: Strategy, steps: Vec<f64>, hooks: Vec<Hook>) -> EcsDeployment {
    EcsDeployment {
        scenario: "fidelity".to_owned(),
        strategy,
        production_steps: steps,
        step_bake: Duration::from_secs(1),
        bake_time: Duration::from_secs(1),
        seconds_per_minute: 1.0,
        callback_scale: 1.0,
        hooks,
        ids: DeploymentIds {
            cluster_arn: "arn:aws:ecs:us-east-1:123456789012:cluster/demo".to_owned(),
            service_arn: SERVICE.to_owned(),
            deployment_arn: DEPLOYMENT.to_owned(),
            green_revision_arn: GREEN.to_owned(),
            blue_revision_arn: BLUE.to_owned(),
        },
        green_revision: json!({ "serviceRevisionArn": GREEN }),
        desired_count: 2,
        deployment_alarms: vec![],
        deployment_configuration: json!({ "strategy": strategy.as_str() }),
        weights_move: WeightsMove::BeforeHooks,
        running_hook_listed: true,
    }
}

async fn drive(
    deployment: &EcsDeployment,
    hooks: &ScriptedHooks,
    world: &RecordingWorld,
) -> DeploymentResult {
    EcsDriver::new(deployment, hooks, world)
        .run()
        .await
        .expect("the driver runs")
}

fn weights(green: Value, blue: Value) -> Value {
    json!({ GREEN: green, BLUE: blue })
}

#[tokio::test(start_paused = true)]
async fn blue_green_invokes_every_stage_in_order_with_the_documented_payloads() {
    let hooks = ScriptedHooks::default();
    let world = RecordingWorld::default();
    let plan = deployment(Strategy::BlueGreen, vec![100.0], all_hooks());
    let result = drive(&plan, &hooks, &world).await;
    assert_eq!(result.status, "SUCCESSFUL");

    let stages: Vec<String> = hooks
        .seen()
        .iter()
        .map(|seen| seen.payload["lifecycleStage"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        stages,
        [
            "PRE_SCALE_UP",
            "POST_SCALE_UP",
            "TEST_TRAFFIC_SHIFT",
            "POST_TEST_TRAFFIC_SHIFT",
            "PRE_PRODUCTION_TRAFFIC_SHIFT",
            "PRODUCTION_TRAFFIC_SHIFT",
            "POST_PRODUCTION_TRAFFIC_SHIFT"
        ]
    );
    for seen in hooks.seen() {
        let payload = &seen.payload;
        assert_eq!(payload["resourceArn"], DEPLOYMENT);
        assert_eq!(payload["executionDetails"]["serviceArn"], SERVICE);
        assert_eq!(
            payload["executionDetails"]["targetServiceRevisionArn"],
            GREEN
        );
        assert!(
            payload.get("hookDetails").is_none(),
            "no details configured: {payload}"
        );
        let (test, production) = match payload["lifecycleStage"].as_str().unwrap() {
            "TEST_TRAFFIC_SHIFT" => (weights(json!(100), json!(0)), json!({})),
            "PRE_PRODUCTION_TRAFFIC_SHIFT" => (json!({}), weights(json!(0), json!(100))),
            "PRODUCTION_TRAFFIC_SHIFT" => (json!({}), weights(json!(100), json!(0))),
            _ => (json!({}), json!({})),
        };
        assert_eq!(
            payload["executionDetails"]["testTrafficWeights"], test,
            "{payload}"
        );
        assert_eq!(
            payload["executionDetails"]["productionTrafficWeights"], production,
            "{payload}"
        );
    }
    // Weights move before the hooks of the shifting stage are invoked; green runs before POST_SCALE_UP.
    let actions = world.actions();
    let position = |action: &str| actions.iter().position(|a| a == action).unwrap();
    assert!(position("scale up") < position("reached POST_SCALE_UP"));
    assert!(position("shift test 100/0") < position("reached POST_TEST_TRAFFIC_SHIFT"));
    assert!(position("shift production 100/0") < position("reached POST_PRODUCTION_TRAFFIC_SHIFT"));
    assert_eq!(actions.last().unwrap(), "clean up (rolled back: false)");
    assert_eq!(world.statuses(), ["IN_PROGRESS", "SUCCESSFUL"]);
}

#[tokio::test(start_paused = true)]
async fn linear_and_canary_invoke_the_production_hooks_at_every_step() {
    let hooks = ScriptedHooks::default();
    let world = RecordingWorld::default();
    let steps = EcsDeployment::steps_for(Strategy::Linear, 20.0, 0.0);
    assert_eq!(steps, [20.0, 40.0, 60.0, 80.0, 100.0]);
    let plan = deployment(Strategy::Linear, steps, all_hooks());
    drive(&plan, &hooks, &world).await;
    let production: Vec<Value> = hooks
        .seen_at("production-traffic", Stage::ProductionTrafficShift)
        .iter()
        .map(|seen| seen.payload["executionDetails"]["productionTrafficWeights"].clone())
        .collect();
    assert_eq!(
        production,
        [
            weights(json!(20), json!(80)),
            weights(json!(40), json!(60)),
            weights(json!(60), json!(40)),
            weights(json!(80), json!(20)),
            weights(json!(100), json!(0)),
        ]
    );
    let before: Vec<Value> = hooks
        .seen_at("production-traffic", Stage::PreProductionTrafficShift)
        .iter()
        .map(|seen| seen.payload["executionDetails"]["productionTrafficWeights"].clone())
        .collect();
    assert_eq!(before[0], weights(json!(0), json!(100)));
    assert_eq!(before[4], weights(json!(80), json!(20)));
    let steps: Vec<Option<u32>> = result_steps(&plan, &hooks, &world).await;
    assert_eq!(steps, [Some(1), Some(2), Some(3), Some(4), Some(5)]);

    // CANARY: the canary's percent (tenths kept), then 100; LINEAR in thirds keeps tenths too.
    assert_eq!(
        EcsDeployment::steps_for(Strategy::Canary, 0.0, 12.5),
        [12.5, 100.0]
    );
    assert_eq!(
        EcsDeployment::steps_for(Strategy::Linear, 33.3, 0.0),
        [33.3, 66.6, 99.9, 100.0]
    );
    let hooks = ScriptedHooks::default();
    let plan = deployment(Strategy::Canary, vec![12.5, 100.0], all_hooks());
    drive(&plan, &hooks, &RecordingWorld::default()).await;
    let canary = hooks.seen_at("production-traffic", Stage::ProductionTrafficShift);
    assert_eq!(
        canary[0].payload["executionDetails"]["productionTrafficWeights"],
        weights(json!(12.5), json!(87.5))
    );
}

/// The steps of the PRODUCTION_TRAFFIC_SHIFT stage events of a fresh run.
async fn result_steps(
    plan: &EcsDeployment,
    _hooks: &ScriptedHooks,
    world: &RecordingWorld,
) -> Vec<Option<u32>> {
    let result = drive(plan, &ScriptedHooks::default(), world).await;
    result
        .timeline
        .events()
        .iter()
        .filter_map(|event| match &event.event {
            TimelineEvent::StageStarted { stage, step, .. }
                if stage == "PRODUCTION_TRAFFIC_SHIFT" =>
            {
                Some(*step)
            }
            _ => None,
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn hook_details_are_the_static_ones_merged_with_the_last_answer_of_the_same_hook() {
    let mut production = hook("production-traffic", &[Stage::ProductionTrafficShift]);
    let mut details = Map::new();
    details.insert("team".into(), json!("payments"));
    details.insert("greenlight".into(), json!({ "version": 1 }));
    production.hook_details = Some(details);
    let other = hook("test-traffic", &[Stage::ProductionTrafficShift]);
    let hooks = ScriptedHooks::default()
        .then(
            "production-traffic",
            Stage::ProductionTrafficShift,
            json!({
                "hookStatus": "IN_PROGRESS",
                "callBackDelay": 5,
                "hookDetails": { "greenlight": { "version": 1, "state": { "passes": 1 } }, "extra": true },
            }),
        )
        .then(
            "production-traffic",
            Stage::ProductionTrafficShift,
            json!({
                "hookStatus": "IN_PROGRESS",
                "callBackDelay": 5,
                "hookDetails": { "greenlight": { "version": 1, "state": { "passes": 2 } } },
            }),
        );
    let plan = deployment(Strategy::BlueGreen, vec![100.0], vec![production, other]);
    drive(&plan, &hooks, &RecordingWorld::default()).await;

    let seen = hooks.seen_at("production-traffic", Stage::ProductionTrafficShift);
    assert_eq!(seen.len(), 3);
    assert_eq!(
        seen[0].payload["hookDetails"],
        json!({ "team": "payments", "greenlight": { "version": 1 } })
    );
    assert_eq!(
        seen[1].payload["hookDetails"],
        json!({ "team": "payments", "greenlight": { "version": 1, "state": { "passes": 1 } }, "extra": true })
    );
    // Each answer replaces the previous one over the static details: `extra` is gone.
    assert_eq!(
        seen[2].payload["hookDetails"],
        json!({ "team": "payments", "greenlight": { "version": 1, "state": { "passes": 2 } } })
    );
    // One executionId for the re-invocations of one hook at one stage.
    assert_eq!(
        seen[0].payload["executionId"],
        seen[2].payload["executionId"]
    );
    // The other hook of the stage never sees this hook's details.
    let other = hooks.seen_at("test-traffic", Stage::ProductionTrafficShift);
    assert_eq!(other.len(), 1);
    assert!(other[0].payload.get("hookDetails").is_none());
    assert_ne!(
        other[0].payload["executionId"],
        seen[0].payload["executionId"]
    );
}

#[tokio::test(start_paused = true)]
async fn call_back_delay_is_honoured_and_scaled() {
    let hooks = ScriptedHooks::default()
        .then(
            "post-scale-up",
            Stage::PostScaleUp,
            json!({ "hookStatus": "IN_PROGRESS", "callBackDelay": 40 }),
        )
        .then(
            "post-scale-up",
            Stage::PostScaleUp,
            // No delay given: ECS's default, 30 s.
            json!({ "hookStatus": "IN_PROGRESS" }),
        );
    let mut plan = deployment(
        Strategy::BlueGreen,
        vec![100.0],
        vec![hook("post-scale-up", &[Stage::PostScaleUp])],
    );
    plan.callback_scale = 0.5;
    let result = drive(&plan, &hooks, &RecordingWorld::default()).await;
    assert_eq!(result.status, "SUCCESSFUL");
    let seen = hooks.seen_at("post-scale-up", Stage::PostScaleUp);
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[1].at - seen[0].at, Duration::from_secs(20));
    assert_eq!(seen[2].at - seen[1].at, Duration::from_secs(15));
    let delays: Vec<Option<u32>> = result
        .timeline
        .events()
        .iter()
        .filter_map(|event| match &event.event {
            TimelineEvent::HookAnswered {
                call_back_delay, ..
            } => Some(*call_back_delay),
            _ => None,
        })
        .collect();
    assert_eq!(delays, [Some(40), Some(30), None]);
}

#[tokio::test(start_paused = true)]
async fn a_failed_hook_rolls_back_and_traffic_hooks_are_reinvoked_with_reversed_weights() {
    let hooks = ScriptedHooks::default().then(
        "production-traffic",
        Stage::ProductionTrafficShift,
        json!({ "hookStatus": "FAILED" }),
    );
    let world = RecordingWorld::default();
    let plan = deployment(Strategy::BlueGreen, vec![100.0], all_hooks());
    let result = drive(&plan, &hooks, &world).await;
    assert_eq!(result.status, "ROLLBACK_SUCCESSFUL");
    assert_eq!(result.rollback_stage, Some(Stage::ProductionTrafficShift));
    assert!(
        result
            .rollback_reason
            .as_deref()
            .unwrap()
            .contains("production-traffic"),
        "{:?}",
        result.rollback_reason
    );

    let test = hooks.seen_at("test-traffic", Stage::TestTrafficShift);
    assert_eq!(test.len(), 2, "invoked, then re-invoked by the rollback");
    assert_eq!(
        test[1].payload["executionDetails"]["testTrafficWeights"],
        weights(json!(0), json!(100))
    );
    assert_eq!(
        test[1].payload["executionDetails"]["targetServiceRevisionArn"],
        GREEN
    );
    let production = hooks.seen_at("production-traffic", Stage::ProductionTrafficShift);
    assert_eq!(production.len(), 2);
    assert_eq!(
        production[1].payload["executionDetails"]["productionTrafficWeights"],
        weights(json!(0), json!(100))
    );
    // POST_PRODUCTION_TRAFFIC_SHIFT never ran.
    assert!(
        hooks
            .seen_at("production-traffic", Stage::PostProductionTrafficShift)
            .is_empty()
    );

    let actions = world.actions();
    assert!(
        actions.contains(&"shift production 0/100".to_owned()),
        "{actions:?}"
    );
    assert!(
        actions.contains(&"shift test 0/100".to_owned()),
        "{actions:?}"
    );
    assert!(
        actions.contains(&"rollback reached TEST_TRAFFIC_SHIFT".to_owned()),
        "{actions:?}"
    );
    assert_eq!(actions.last().unwrap(), "clean up (rolled back: true)");
    assert_eq!(
        world.statuses(),
        ["IN_PROGRESS", "ROLLBACK_IN_PROGRESS", "ROLLBACK_SUCCESSFUL"]
    );
    let last = world.deployments.lock().unwrap().last().cloned().unwrap();
    assert_eq!(last["rollback"]["serviceRevisionArn"], BLUE);
}

#[tokio::test(start_paused = true)]
async fn an_early_failure_rolls_back_without_traffic_hooks_and_errors_count_as_failures() {
    let hooks = ScriptedHooks::default().always(
        "post-scale-up",
        Stage::PostScaleUp,
        HookCallOutcome::Failed("Runtime.ExitError: boom".to_owned()),
    );
    let world = RecordingWorld::default();
    let plan = deployment(Strategy::BlueGreen, vec![100.0], all_hooks());
    let result = drive(&plan, &hooks, &world).await;
    assert_eq!(result.status, "ROLLBACK_SUCCESSFUL");
    assert_eq!(result.rollback_stage, Some(Stage::PostScaleUp));
    // No traffic had moved: nothing to restore, no traffic hook re-invoked.
    assert!(
        hooks
            .seen_at("test-traffic", Stage::TestTrafficShift)
            .is_empty()
    );
    assert!(
        !world
            .actions()
            .iter()
            .any(|action| action.starts_with("shift"))
    );

    let hooks = ScriptedHooks::default().then(
        "pre-scale-up",
        Stage::PreScaleUp,
        json!({ "hookStatus": "MAYBE" }),
    );
    let result = drive(&plan, &hooks, &RecordingWorld::default()).await;
    assert_eq!(result.rollback_stage, Some(Stage::PreScaleUp));
    assert!(
        result
            .rollback_reason
            .unwrap()
            .contains("invalid hookStatus")
    );
}

#[tokio::test(start_paused = true)]
async fn a_hook_in_progress_past_its_timeout_rolls_back_or_continues_per_its_action() {
    let in_progress =
        HookCallOutcome::Response(json!({ "hookStatus": "IN_PROGRESS", "callBackDelay": 30 }));
    let mut timed = hook("post-scale-up", &[Stage::PostScaleUp]);
    timed.timeout_in_minutes = 2.0;
    let plan = deployment(Strategy::BlueGreen, vec![100.0], vec![timed.clone()]);
    let started = Instant::now();
    let hooks =
        ScriptedHooks::default().always("post-scale-up", Stage::PostScaleUp, in_progress.clone());
    let result = drive(&plan, &hooks, &RecordingWorld::default()).await;
    assert_eq!(result.status, "ROLLBACK_SUCCESSFUL");
    assert_eq!(result.rollback_stage, Some(Stage::PostScaleUp));
    assert!(
        result
            .rollback_reason
            .as_deref()
            .unwrap()
            .contains("timed out")
    );
    // 2 ECS minutes at 1 s a minute: invoked at 0 s (and not again: the next call would be at 30 s).
    assert_eq!(hooks.seen().len(), 1);
    assert!(started.elapsed() < Duration::from_secs(30));

    timed.timeout_action = TimeoutAction::Continue;
    timed.timeout_in_minutes = 60.0;
    let plan = deployment(Strategy::BlueGreen, vec![100.0], vec![timed]);
    let hooks = ScriptedHooks::default().always("post-scale-up", Stage::PostScaleUp, in_progress);
    let result = drive(&plan, &hooks, &RecordingWorld::default()).await;
    assert_eq!(result.status, "SUCCESSFUL");
    // 60 s of timeout, a call every 30 s: at 0 and 30 s.
    assert_eq!(hooks.seen().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn rolling_runs_only_the_admission_hook() {
    let hooks = ScriptedHooks::default();
    let world = RecordingWorld::default();
    let plan = deployment(
        Strategy::Rolling,
        vec![100.0],
        vec![hook("pre-scale-up", &[Stage::PreScaleUp])],
    );
    let result = drive(&plan, &hooks, &world).await;
    assert_eq!(result.status, "SUCCESSFUL");
    assert_eq!(hooks.seen().len(), 1);
    assert_eq!(hooks.seen()[0].payload["lifecycleStage"], "PRE_SCALE_UP");

    let hooks = ScriptedHooks::default().then(
        "pre-scale-up",
        Stage::PreScaleUp,
        json!({ "hookStatus": "FAILED" }),
    );
    let world = RecordingWorld::default();
    let result = drive(&plan, &hooks, &world).await;
    assert_eq!(result.status, "ROLLBACK_SUCCESSFUL");
    assert!(!world.actions().contains(&"scale up".to_owned()));
}

#[tokio::test(start_paused = true)]
async fn weights_move_before_or_after_the_shift_hooks_as_the_scenario_says() {
    // The hook at TEST_TRAFFIC_SHIFT fails: whether the test weights moved first tells the orders
    // apart.
    let failing = || {
        ScriptedHooks::default().then(
            "test-traffic",
            Stage::TestTrafficShift,
            json!({ "hookStatus": "FAILED" }),
        )
    };
    let moved_test = |order: WeightsMove| async move {
        let world = RecordingWorld::default();
        let mut plan = deployment(Strategy::BlueGreen, vec![100.0], all_hooks());
        plan.weights_move = order;
        drive(&plan, &failing(), &world).await;
        world
            .actions()
            .iter()
            .any(|action| action == "shift test 100/0")
    };
    assert!(moved_test(WeightsMove::BeforeHooks).await);
    assert!(!moved_test(WeightsMove::AfterHooks).await);

    // Going forward under after_hooks, every shift happens once its stage's hooks succeeded, and
    // before the stage after it.
    let world = RecordingWorld::default();
    let mut plan = deployment(Strategy::BlueGreen, vec![100.0], all_hooks());
    plan.weights_move = WeightsMove::AfterHooks;
    drive(&plan, &ScriptedHooks::default(), &world).await;
    let actions = world.actions();
    let position = |action: &str| actions.iter().position(|a| a == action).unwrap();
    assert!(position("reached TEST_TRAFFIC_SHIFT") < position("shift test 100/0"));
    assert!(position("shift test 100/0") < position("reached POST_TEST_TRAFFIC_SHIFT"));
    assert!(position("shift production 100/0") < position("reached POST_PRODUCTION_TRAFFIC_SHIFT"));
}

#[tokio::test(start_paused = true)]
async fn a_pause_hook_waits_for_continue_or_rollback_and_else_takes_its_timeout_action() {
    let hooks = || {
        let mut all = all_hooks();
        all.push(pause_hook(
            &[Stage::PostTestTrafficShift],
            10.0,
            TimeoutAction::Rollback,
        ));
        all
    };
    let plan = deployment(Strategy::BlueGreen, vec![100.0], hooks());

    // Continued after 3 s: the deployment goes on and production moves.
    let world = RecordingWorld {
        pause_answer: Some((Duration::from_secs(3), PauseAction::Continue)),
        ..RecordingWorld::default()
    };
    let started = Instant::now();
    let result = drive(&plan, &ScriptedHooks::default(), &world).await;
    assert_eq!(result.status, "SUCCESSFUL");
    assert!(started.elapsed() >= Duration::from_secs(3));
    assert!(
        world
            .actions()
            .contains(&"shift production 100/0".to_owned()),
        "{:?}",
        world.actions()
    );

    // Rolled back: the deployment rolls back from the pause's stage, production never moved.
    let world = RecordingWorld {
        pause_answer: Some((Duration::from_secs(1), PauseAction::Rollback)),
        ..RecordingWorld::default()
    };
    let result = drive(&plan, &ScriptedHooks::default(), &world).await;
    assert_eq!(result.status, "ROLLBACK_SUCCESSFUL");
    assert_eq!(result.rollback_stage, Some(Stage::PostTestTrafficShift));
    assert!(
        !world
            .actions()
            .contains(&"shift production 100/0".to_owned())
    );

    // Nobody acts: after its 10 minutes (10 s here) the timeout action, ROLLBACK by default.
    let world = RecordingWorld::default();
    let started = Instant::now();
    let result = drive(&plan, &ScriptedHooks::default(), &world).await;
    assert_eq!(result.status, "ROLLBACK_SUCCESSFUL");
    assert!(started.elapsed() >= Duration::from_secs(10));
    let mut continuing = hooks();
    continuing[4].timeout_action = TimeoutAction::Continue;
    let plan = deployment(Strategy::BlueGreen, vec![100.0], continuing);
    let result = drive(&plan, &ScriptedHooks::default(), &RecordingWorld::default()).await;
    assert_eq!(result.status, "SUCCESSFUL");
}
