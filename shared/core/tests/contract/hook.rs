//! One ECS hook invocation end to end, from the raw payload to the response, with a fake backend:
//! wiring mistakes, malformed events, rollbacks (confirmed or not by the deployment's status), broken
//! and unreadable configs, and a judged stage whose state comes back in hookDetails.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use greenlight_core::config::StagePlanSpec;
use greenlight_core::config::resolve::{
    ConfigReference, ConfigReferenceReader, ReadError, ReadErrorKind, ReadFuture,
};
use greenlight_core::engine::clock::{Clock, ManualClock};
use greenlight_core::engine::{Check, CheckFuture, Engine, Plan, PlannedCheck, StageView};
use greenlight_core::facts::{
    DeploymentFacts, DeploymentStatus, FactError, FactFuture, Facts, HealthCheckFacts,
    RevisionFacts, RoutingFacts, ServiceIdentity, StaticFacts, TaskFacts, TrafficWeights,
};
use greenlight_core::hook::{HookAnswer, HookBackend, Phase, handle_ecs_hook};
use greenlight_core::protocol::ecs::{EventError, HookEvent, HookStatus};
use greenlight_core::{Outcome, catalogue};
use greenlight_test_support::fixtures;
use serde_json::{Value, json};

/// Answers every check of a plan with the outcome scripted for its kind (pass by default), and
/// counts the runs.
struct FakeCheck {
    kind: &'static str,
    outcome: Outcome,
    runs: Arc<AtomicUsize>,
}

impl Check for FakeCheck {
    fn kind(&self) -> &'static str {
        self.kind
    }
    fn run<'a>(&'a self, _stage: &'a StageView) -> CheckFuture<'a> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move { self.outcome.clone() })
    }
}

pub(crate) struct FakeBackend {
    deployment: Result<Arc<DeploymentFacts>, FactError>,
    /// What the deployment says of this function's hook (`None`: it does not list it).
    hook_running: Option<bool>,
    pub(crate) outcomes: BTreeMap<&'static str, Outcome>,
    runs: Arc<AtomicUsize>,
    config_text: Mutex<Result<String, ReadError>>,
}

impl FakeBackend {
    pub(crate) fn new() -> Self {
        FakeBackend {
            deployment: Ok(Arc::new(deployment("IN_PROGRESS"))),
            hook_running: None,
            outcomes: BTreeMap::new(),
            runs: Arc::new(AtomicUsize::new(0)),
            config_text: Mutex::new(Err(ReadError::new(
                ReadErrorKind::NotFound,
                "no such parameter",
            ))),
        }
    }
    fn runs(&self) -> usize {
        self.runs.load(Ordering::SeqCst)
    }
}

fn deployment(status: &str) -> DeploymentFacts {
    DeploymentFacts {
        id: "d".into(),
        status: status.into(),
        started_at: None,
        green_tasks: Default::default(),
        alarm_names: Vec::new(),
        triggered_alarms: Vec::new(),
        rollback: None,
        hook_expires_at: None,
        other_in_flight: Vec::new(),
    }
}

/// Static facts whose deployment lists this function's hook as running or not.
struct ListedHook {
    facts: StaticFacts,
    hook_running: Option<bool>,
}

impl Facts for ListedHook {
    fn service(&self) -> &ServiceIdentity {
        self.facts.service()
    }
    fn weights(&self) -> TrafficWeights {
        self.facts.weights()
    }
    fn green(&self) -> FactFuture<'_, Arc<RevisionFacts>> {
        self.facts.green()
    }
    fn blue(&self) -> FactFuture<'_, Option<Arc<RevisionFacts>>> {
        self.facts.blue()
    }
    fn deployment(&self) -> FactFuture<'_, Arc<DeploymentFacts>> {
        self.facts.deployment()
    }
    fn deployment_status(&self) -> FactFuture<'_, DeploymentStatus> {
        Box::pin(async move {
            let mut status = self.facts.deployment_status().await?;
            status.hook_running = self.hook_running;
            Ok(status)
        })
    }
    fn green_tasks(&self) -> FactFuture<'_, Arc<Vec<TaskFacts>>> {
        self.facts.green_tasks()
    }
    fn routing(&self) -> FactFuture<'_, Arc<RoutingFacts>> {
        self.facts.routing()
    }
    fn green_health_check(&self) -> FactFuture<'_, Arc<HealthCheckFacts>> {
        self.facts.green_health_check()
    }
}

impl ConfigReferenceReader for FakeBackend {
    fn read<'a>(&'a self, _reference: &'a ConfigReference) -> ReadFuture<'a> {
        let text = self.config_text.lock().expect("lock").clone();
        Box::pin(async move { text })
    }
}

impl HookBackend for FakeBackend {
    fn facts(&self, event: &HookEvent) -> Result<Arc<dyn Facts>, EventError> {
        let service = event.service().expect("valid service ARN");
        let mut facts = StaticFacts::new(ServiceIdentity {
            partition: service.partition.clone(),
            region: service.region.clone(),
            account: service.account.clone(),
            cluster: service.cluster.clone(),
            service: service.service.clone(),
            service_arn: event.execution_details.service_arn.clone(),
        });
        facts.deployment = self.deployment.clone();
        Ok(Arc::new(ListedHook {
            facts,
            hook_running: self.hook_running,
        }))
    }

    fn build_plan(&self, spec: &StagePlanSpec, _facts: &Arc<dyn Facts>) -> Plan {
        assert!(
            !spec.checks.iter().any(|check| check.id == "explodes"),
            "plan exploded"
        );
        let checks = spec
            .checks
            .iter()
            .map(|check| {
                let kind = check.kind.name();
                let outcome = self.outcomes.get(kind).cloned().unwrap_or_else(|| {
                    Outcome::pass(catalogue::lookup("VERDICT_PASSED").expect("code"), "fine")
                });
                PlannedCheck {
                    id: check.id.clone(),
                    policy: check.policy,
                    check: Box::new(FakeCheck {
                        kind,
                        outcome,
                        runs: Arc::clone(&self.runs),
                    }),
                }
            })
            .collect();
        Plan {
            bake: spec.bake,
            interval: spec.interval,
            checks,
        }
    }

    fn config_reader(&self) -> &dyn ConfigReferenceReader {
        self
    }
}

pub(crate) async fn invoke(
    phase: Phase,
    payload: &Value,
    backend: &FakeBackend,
    clock: &ManualClock,
) -> HookAnswer {
    let engine = Engine::new(clock, Duration::from_secs(1));
    let answer = handle_ecs_hook(phase, payload, backend, &engine, None, None).await;
    // Every invocation's summary line says what ECS was answered, and names the deployment the
    // event names (when it names one).
    let summary = &answer.summary;
    let said = summary_status(summary.status);
    assert_eq!(
        serde_json::to_value(&answer.response).expect("a response serializes")["hookStatus"],
        said
    );
    assert_eq!(summary.reason.code, answer.code.code);
    if let Some(deployment) = payload["resourceArn"].as_str() {
        assert_eq!(summary.subject.deployment.as_deref(), Some(deployment));
    }
    answer
}

fn summary_status(status: greenlight_core::engine::verdict::VerdictStatus) -> &'static str {
    greenlight_core::telemetry::verdict_name(status)
}

pub(crate) fn clock() -> ManualClock {
    ManualClock::at_unix(1_800_000_000)
}

#[tokio::test]
async fn a_malformed_event_fails_naming_the_field() {
    let backend = FakeBackend::new();
    let mut payload = fixtures::event("ecs-post-scale-up.json");
    payload["executionDetails"]["serviceArn"] = json!(42);
    let answer = invoke(Phase::PostScaleUp, &payload, &backend, &clock()).await;
    assert_eq!(answer.response.hook_status, HookStatus::Failed);
    assert_eq!(answer.code.code, "EVENT_MALFORMED");
    assert!(
        answer.message.contains("executionDetails.serviceArn"),
        "{}",
        answer.message
    );

    let answer = invoke(
        Phase::PostScaleUp,
        &json!("not an event"),
        &backend,
        &clock(),
    )
    .await;
    assert_eq!(answer.response.hook_status, HookStatus::Failed);
}

#[tokio::test]
async fn an_unknown_stage_and_a_wiring_mistake_fail_with_their_own_codes() {
    let backend = FakeBackend::new();
    let answer = invoke(
        Phase::ProductionTraffic,
        &fixtures::event("ecs-unknown-stage-extra-fields.json"),
        &backend,
        &clock(),
    )
    .await;
    assert_eq!(answer.response.hook_status, HookStatus::Failed);
    assert_eq!(answer.code.code, "EVENT_STAGE_UNKNOWN");

    let answer = invoke(
        Phase::PreScaleUp,
        &fixtures::event("ecs-post-scale-up.json"),
        &backend,
        &clock(),
    )
    .await;
    assert_eq!(answer.response.hook_status, HookStatus::Failed);
    assert_eq!(answer.code.code, "EVENT_STAGE_NOT_SERVED");
    assert!(
        answer
            .message
            .contains("`post-scale-up` function serves it"),
        "{}",
        answer.message
    );
    assert_eq!(backend.runs(), 0);
}

#[tokio::test]
async fn a_rollback_passes_at_once_even_with_an_unreadable_config() {
    let mut backend = FakeBackend::new();
    backend.deployment = Ok(Arc::new(deployment("ROLLBACK_IN_PROGRESS")));
    let answer = invoke(
        Phase::ProductionTraffic,
        &fixtures::event("ecs-production-traffic-shift-rollback.json"),
        &backend,
        &clock(),
    )
    .await;
    assert_eq!(answer.response.hook_status, HookStatus::Succeeded);
    assert_eq!(answer.code.code, "VERDICT_ROLLBACK");
    assert_eq!(backend.runs(), 0);
}

#[tokio::test]
async fn rollback_weights_with_an_unreadable_status_wait_then_fail_never_pass() {
    // Green 0% / blue 100% is also a first production step seen before its weights move: without
    // the deployment's status nothing tells them apart, so greenlight asks again, bounded.
    let mut backend = FakeBackend::new();
    backend.deployment = Err(FactError::Throttled {
        action: "ecs:DescribeServiceDeployments".into(),
        message: "Rate exceeded".into(),
    });
    let clock = clock();
    let mut payload = fixtures::event("ecs-production-traffic-shift-rollback.json");
    let first = invoke(Phase::ProductionTraffic, &payload, &backend, &clock).await;
    assert_eq!(first.response.hook_status, HookStatus::InProgress);
    assert_eq!(first.code.code, "ROLLBACK_UNCONFIRMED");
    assert!(first.message.contains("Rate exceeded"), "{}", first.message);
    assert_eq!(backend.runs(), 0);
    for (key, value) in first.response.hook_details.clone().expect("state") {
        payload["hookDetails"][key] = value;
    }
    clock.advance(Duration::from_secs(11 * 60));
    let later = invoke(Phase::ProductionTraffic, &payload, &backend, &clock).await;
    assert_eq!(later.response.hook_status, HookStatus::Failed);
    assert_eq!(later.code.code, "ROLLBACK_UNCONFIRMED");

    // Once the status reads as a rollback, it passes at once.
    backend.deployment = Ok(Arc::new(deployment("ROLLBACK_IN_PROGRESS")));
    let answer = invoke(Phase::ProductionTraffic, &payload, &backend, &clock).await;
    assert_eq!(answer.response.hook_status, HookStatus::Succeeded);
    assert_eq!(answer.code.code, "VERDICT_ROLLBACK");
}

#[tokio::test]
async fn a_rollback_through_a_mis_wired_hook_is_not_blocked() {
    // ECS re-invokes the TEST_TRAFFIC_SHIFT hook during a rollback; here that hook points at the
    // production-traffic function, which does not serve the stage. The rollback goes first.
    let mut backend = FakeBackend::new();
    backend.deployment = Ok(Arc::new(deployment("ROLLBACK_IN_PROGRESS")));
    let answer = invoke(
        Phase::ProductionTraffic,
        &fixtures::event("ecs-test-traffic-shift-rollback.json"),
        &backend,
        &clock(),
    )
    .await;
    assert_eq!(answer.response.hook_status, HookStatus::Succeeded);
    assert_eq!(answer.code.code, "VERDICT_ROLLBACK");
    assert_eq!(backend.runs(), 0);

    // Going forward, the same mis-wiring is a FAILED naming the function that serves the stage.
    backend.deployment = Ok(Arc::new(deployment("IN_PROGRESS")));
    let answer = invoke(
        Phase::ProductionTraffic,
        &fixtures::event("ecs-test-traffic-shift-rollback.json"),
        &backend,
        &clock(),
    )
    .await;
    assert_eq!(answer.response.hook_status, HookStatus::Failed);
    assert_eq!(answer.code.code, "EVENT_STAGE_NOT_SERVED");
}

#[tokio::test]
async fn rollback_weights_on_a_deployment_going_forward_are_judged() {
    let mut backend = FakeBackend::new();
    *backend.config_text.lock().expect("lock") =
        Ok("version: 1\nstages:\n  PRODUCTION_TRAFFIC_SHIFT:\n    - alarms\n".into());
    backend.outcomes.insert(
        "alarms",
        Outcome::fail(
            catalogue::lookup("EVENT_MALFORMED").expect("code"),
            "alarm web-5xx is firing",
        ),
    );
    let answer = invoke(
        Phase::ProductionTraffic,
        &fixtures::event("ecs-production-traffic-shift-rollback.json"),
        &backend,
        &clock(),
    )
    .await;
    assert_eq!(answer.response.hook_status, HookStatus::Failed);
    assert!(answer.message.contains("web-5xx"), "{}", answer.message);
    assert_eq!(backend.runs(), 1);
}

#[tokio::test]
async fn a_broken_inline_config_fails_with_its_field() {
    let backend = FakeBackend::new();
    let mut payload = fixtures::event("ecs-post-scale-up.json");
    payload["hookDetails"] = json!({ "greenlight": { "version": 1, "stages": { "POST_SCALE_UP": [ { "tasks": { "min_running_percnt": 100 } } ] } } });
    let answer = invoke(Phase::PostScaleUp, &payload, &backend, &clock()).await;
    assert_eq!(answer.response.hook_status, HookStatus::Failed);
    assert_eq!(answer.code.code, "CONFIG_INVALID");
    assert!(
        answer.message.contains("min_running_percnt"),
        "{}",
        answer.message
    );
    assert_eq!(backend.runs(), 0);
}

#[tokio::test]
async fn an_unreadable_config_reference_waits_then_fails() {
    let backend = FakeBackend::new();
    *backend.config_text.lock().expect("lock") = Err(ReadError::new(
        ReadErrorKind::Unavailable,
        "ssm:GetParameter was throttled",
    ));
    let clock = clock();
    let mut payload = fixtures::event("ecs-post-scale-up.json");
    payload["hookDetails"] = json!({ "greenlightConfig": "ssm:/greenlight/checkout" });
    let first = invoke(Phase::PostScaleUp, &payload, &backend, &clock).await;
    assert_eq!(first.response.hook_status, HookStatus::InProgress);
    assert_eq!(first.code.code, "CONFIG_UNREADABLE");
    // ECS passes the returned hookDetails back, merged with the static ones.
    let returned = first.response.hook_details.clone().expect("state");
    for (key, value) in returned {
        payload["hookDetails"][key] = value;
    }
    clock.advance(Duration::from_secs(16 * 60));
    let later = invoke(Phase::PostScaleUp, &payload, &backend, &clock).await;
    assert_eq!(later.response.hook_status, HookStatus::Failed);
    assert!(
        later.message.contains("still so after"),
        "{}",
        later.message
    );

    *backend.config_text.lock().expect("lock") = Err(ReadError::new(
        ReadErrorKind::AccessDenied,
        "access denied: ssm:GetParameter",
    ));
    let denied = invoke(
        Phase::PostScaleUp,
        &fixtures::event("ecs-post-scale-up.json"),
        &backend,
        &clock,
    )
    .await;
    assert_eq!(denied.response.hook_status, HookStatus::Failed);
}

#[tokio::test]
async fn a_judged_stage_returns_its_state_and_inline_config_in_hook_details() {
    let mut backend = FakeBackend::new();
    backend.outcomes.insert(
        "target_health",
        Outcome::inconclusive(
            catalogue::lookup("FACT_NOT_READY").expect("code"),
            "target initial",
        ),
    );
    let mut payload = fixtures::event("ecs-post-scale-up.json");
    payload["hookDetails"] = json!({
        "team": "payments",
        "greenlight": { "version": 1, "stages": { "POST_SCALE_UP": [ "tasks", { "target_health": { "consecutive": 2 } } ] } }
    });
    let answer = invoke(Phase::PostScaleUp, &payload, &backend, &clock()).await;
    assert_eq!(answer.response.hook_status, HookStatus::InProgress);
    assert_eq!(answer.code.code, "VERDICT_WAITING");
    let details = answer.response.hook_details.expect("hookDetails");
    assert_eq!(details.keys().collect::<Vec<_>>(), ["greenlight"]);
    assert_eq!(details["greenlight"]["stages"]["POST_SCALE_UP"][0], "tasks");
    assert_eq!(details["greenlight"]["state"]["attempts"], 1);
    assert_eq!(backend.runs(), 2);

    // A terminal answer carries no hookDetails: ECS documents them only with IN_PROGRESS.
    payload["hookDetails"] = json!({
        "greenlight": { "version": 1, "stages": { "POST_SCALE_UP": [ "tasks" ] } }
    });
    let done = invoke(Phase::PostScaleUp, &payload, &backend, &clock()).await;
    assert_eq!(done.response.hook_status, HookStatus::Succeeded);
    assert_eq!(done.response.hook_details, None);
}

#[tokio::test]
async fn with_no_config_the_built_in_plan_runs() {
    let backend = FakeBackend::new();
    let mut payload = fixtures::event("ecs-pre-scale-up.json");
    payload
        .as_object_mut()
        .expect("object")
        .remove("hookDetails");
    let answer = invoke(Phase::PreScaleUp, &payload, &backend, &clock()).await;
    assert_eq!(
        answer.response.hook_status,
        HookStatus::Succeeded,
        "{}",
        answer.message
    );
    assert_eq!(answer.code.code, "VERDICT_PASSED");
    assert_eq!(
        backend.runs(),
        1,
        "the built-in PRE_SCALE_UP plan has one check (image)"
    );
}

#[tokio::test]
async fn a_panic_is_answered_failed_naming_what_crashed() {
    let backend = FakeBackend::new();
    let mut payload = fixtures::event("ecs-post-scale-up.json");
    payload["hookDetails"] = json!({ "greenlight": { "version": 1, "stages": { "POST_SCALE_UP": [ { "alarms": { "name": "explodes", "allow_no_alarms": true } } ] } } });
    let answer = invoke(Phase::PostScaleUp, &payload, &backend, &clock()).await;
    assert_eq!(answer.response.hook_status, HookStatus::Failed);
    assert_eq!(answer.code.code, "CHECK_CRASHED");
    assert!(
        answer.message.contains("plan exploded"),
        "{}",
        answer.message
    );
}

#[tokio::test]
async fn a_stage_that_would_outlive_its_hook_is_decided_before_ecs_times_it_out() {
    // A 30-minute bake behind a hook that expires in 20 minutes: at expiry ECS would apply the
    // hook's timeout action (CONTINUE would go on unjudged), so greenlight decides first.
    let clock = clock();
    let mut backend = FakeBackend::new();
    *backend.config_text.lock().expect("lock") = Ok(
        "version: 1\nstages:\n  POST_SCALE_UP:\n    bake: 30m\n    checks:\n      - alarms: { allow_no_alarms: true }\n"
            .into(),
    );
    let mut expiring = deployment("IN_PROGRESS");
    expiring.hook_expires_at = Some(clock.now() + Duration::from_secs(20 * 60));
    backend.deployment = Ok(Arc::new(expiring));
    let mut payload = fixtures::event("ecs-post-scale-up.json");
    payload["hookDetails"] = json!({ "greenlightConfig": "ssm:/greenlight/checkout" });

    let first = invoke(Phase::PostScaleUp, &payload, &backend, &clock).await;
    assert_eq!(first.response.hook_status, HookStatus::InProgress);
    assert_eq!(first.code.code, "VERDICT_BAKING");
    for (key, value) in first.response.hook_details.clone().expect("state") {
        payload["hookDetails"][key] = value;
    }
    clock.advance(Duration::from_secs(19 * 60));
    let last = invoke(Phase::PostScaleUp, &payload, &backend, &clock).await;
    assert_eq!(last.response.hook_status, HookStatus::Failed);
    assert_eq!(last.code.code, "VERDICT_HOOK_EXPIRING");
    assert!(
        last.message.contains("timeoutConfiguration"),
        "{}",
        last.message
    );
}

#[tokio::test]
async fn an_event_naming_a_finished_deployment_is_refused_before_any_config_is_read() {
    // A finished deployment: whoever invoked the function, it was not ECS running a hook of it.
    for (status, hook_running) in [
        ("SUCCESSFUL", None),
        ("STOPPED", Some(true)),
        ("ROLLBACK_SUCCESSFUL", None),
        ("ROLLBACK_FAILED", Some(false)),
    ] {
        let mut backend = FakeBackend::new();
        backend.deployment = Ok(Arc::new(deployment(status)));
        backend.hook_running = hook_running;
        *backend.config_text.lock().expect("lock") =
            Ok("version: 1\nstages:\n  POST_SCALE_UP:\n    - tasks\n".into());
        let mut payload = fixtures::event("ecs-post-scale-up.json");
        payload["hookDetails"] = json!({ "greenlightConfig": "ssm:/greenlight/config/web" });
        let answer = invoke(Phase::PostScaleUp, &payload, &backend, &clock()).await;
        assert_eq!(answer.response.hook_status, HookStatus::Failed, "{status}");
        assert_eq!(answer.code.code, "EVENT_NOT_A_RUNNING_HOOK", "{status}");
        assert_eq!(backend.runs(), 0);
    }
    // A deployment in flight is judged whatever it lists of this function's hooks: whether ECS
    // lists a hook as IN_PROGRESS while invoking it is undocumented.
    for hook_running in [Some(true), None, Some(false)] {
        let mut backend = FakeBackend::new();
        backend.hook_running = hook_running;
        *backend.config_text.lock().expect("lock") =
            Ok("version: 1\nstages:\n  POST_SCALE_UP:\n    - tasks\n".into());
        let mut payload = fixtures::event("ecs-post-scale-up.json");
        payload["hookDetails"] = json!({ "greenlightConfig": "ssm:/greenlight/config/web" });
        let answer = invoke(Phase::PostScaleUp, &payload, &backend, &clock()).await;
        assert_eq!(
            answer.response.hook_status,
            HookStatus::Succeeded,
            "{hook_running:?}"
        );
        assert_eq!(backend.runs(), 1);
    }
}

#[tokio::test]
async fn one_unreadable_status_late_in_a_long_bake_waits_instead_of_failing() {
    // The wait for an unreadable status counts from the first failed read, not from the stage's
    // start: twenty minutes into a 30-minute bake, one throttled read asks again.
    let clock = clock();
    let mut backend = FakeBackend::new();
    *backend.config_text.lock().expect("lock") = Ok(
        "version: 1\nstages:\n  POST_SCALE_UP:\n    bake: 30m\n    checks:\n      - alarms: { allow_no_alarms: true }\n"
            .into(),
    );
    let mut payload = fixtures::event("ecs-post-scale-up.json");
    payload["hookDetails"] = json!({ "greenlightConfig": "ssm:/greenlight/config/web" });
    let carry = |payload: &mut Value, answer: &HookAnswer| {
        for (key, value) in answer.response.hook_details.clone().expect("state") {
            payload["hookDetails"][key] = value;
        }
    };
    let first = invoke(Phase::PostScaleUp, &payload, &backend, &clock).await;
    assert_eq!(first.code.code, "VERDICT_BAKING");
    carry(&mut payload, &first);

    clock.advance(Duration::from_secs(20 * 60));
    backend.deployment = Err(FactError::Throttled {
        action: "ecs:DescribeServiceDeployments".into(),
        message: "Rate exceeded".into(),
    });
    let throttled = invoke(Phase::PostScaleUp, &payload, &backend, &clock).await;
    assert_eq!(throttled.response.hook_status, HookStatus::InProgress);
    assert_eq!(throttled.code.code, "EVENT_NOT_A_RUNNING_HOOK");
    carry(&mut payload, &throttled);

    // Readable again: the bake goes on, and the unreadable run is forgotten.
    clock.advance(Duration::from_secs(60));
    backend.deployment = Ok(Arc::new(deployment("IN_PROGRESS")));
    let again = invoke(Phase::PostScaleUp, &payload, &backend, &clock).await;
    assert_eq!(again.code.code, "VERDICT_BAKING");
    carry(&mut payload, &again);

    // Unreadable for longer than the wait: then it fails.
    backend.deployment = Err(FactError::Throttled {
        action: "ecs:DescribeServiceDeployments".into(),
        message: "Rate exceeded".into(),
    });
    clock.advance(Duration::from_secs(30));
    let start = invoke(Phase::PostScaleUp, &payload, &backend, &clock).await;
    assert_eq!(start.response.hook_status, HookStatus::InProgress);
    carry(&mut payload, &start);
    clock.advance(Duration::from_secs(11 * 60));
    let last = invoke(Phase::PostScaleUp, &payload, &backend, &clock).await;
    assert_eq!(last.response.hook_status, HookStatus::Failed);
}
