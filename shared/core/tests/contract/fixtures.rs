//! The recorded hook events (`tests/support/fixtures/events`): each parses, survives a serialize/parse round trip,
//! and answers the helpers' questions as the contract says it should.

use greenlight_test_support::fixtures;
use std::collections::BTreeSet;

use greenlight_core::LifecycleStage;
use greenlight_core::protocol::codedeploy::{PendingReport, parse_codedeploy_event};
use greenlight_core::protocol::ecs::{HookEvent, Rollback, TrafficMap};

const GREEN: &str =
    "arn:aws:ecs:us-east-1:111122223333:service-revision/prod-apps/checkout/4827194658203311742";
const BLUE: &str =
    "arn:aws:ecs:us-east-1:111122223333:service-revision/prod-apps/checkout/3918260471950283164";
const CONFIG: &str = "ssm:/greenlight/prod-apps/checkout";

/// What one ECS fixture must answer.
struct Expect {
    file: &'static str,
    stage: LifecycleStage,
    blue: Option<&'static str>,
    production: Option<f64>,
    test: Option<f64>,
    step_key: Option<&'static str>,
    rollback: Option<TrafficMap>,
    config: Option<&'static str>,
    greenlight_state: bool,
}

impl Expect {
    /// A stage with no traffic weights, configured with the usual static hookDetails.
    fn quiet(file: &'static str, stage: LifecycleStage) -> Self {
        Expect {
            file,
            stage,
            blue: None,
            production: None,
            test: None,
            step_key: None,
            rollback: None,
            config: Some(CONFIG),
            greenlight_state: false,
        }
    }

    /// A production shift stage at `green` percent.
    fn production(
        file: &'static str,
        stage: LifecycleStage,
        green: f64,
        key: &'static str,
    ) -> Self {
        Expect {
            blue: Some(BLUE),
            production: Some(green),
            step_key: Some(key),
            ..Expect::quiet(file, stage)
        }
    }

    /// A test traffic shift with green at `green` percent.
    fn test_shift(file: &'static str, green: f64) -> Self {
        Expect {
            blue: Some(BLUE),
            test: Some(green),
            ..Expect::quiet(file, LifecycleStage::TestTrafficShift)
        }
    }
}

fn ecs_expectations() -> Vec<Expect> {
    use LifecycleStage::*;
    vec![
        Expect::quiet("ecs-reconcile-service.json", ReconcileService),
        Expect::quiet("ecs-pre-scale-up.json", PreScaleUp),
        Expect::quiet("ecs-post-scale-up.json", PostScaleUp),
        Expect::test_shift("ecs-test-traffic-shift.json", 100.0),
        Expect::quiet("ecs-post-test-traffic-shift.json", PostTestTrafficShift),
        // Green 0 / blue 100 before the first step is not a rollback: PRE_PRODUCTION_TRAFFIC_SHIFT is
        // not re-invoked on rollback.
        Expect::production(
            "ecs-pre-production-traffic-shift.json",
            PreProductionTrafficShift,
            0.0,
            "0.0",
        ),
        Expect::production(
            "ecs-production-traffic-shift.json",
            ProductionTrafficShift,
            100.0,
            "100.0",
        ),
        Expect::quiet(
            "ecs-post-production-traffic-shift.json",
            PostProductionTrafficShift,
        ),
        Expect {
            rollback: Some(TrafficMap::Production),
            ..Expect::production(
                "ecs-production-traffic-shift-rollback.json",
                ProductionTrafficShift,
                0.0,
                "0.0",
            )
        },
        Expect {
            rollback: Some(TrafficMap::Test),
            ..Expect::test_shift("ecs-test-traffic-shift-rollback.json", 0.0)
        },
        Expect::production(
            "ecs-production-traffic-shift-linear-step.json",
            ProductionTrafficShift,
            33.3,
            "33.3",
        ),
        Expect::production(
            "ecs-pre-production-traffic-shift-linear-repeating.json",
            PreProductionTrafficShift,
            3.3333333333333335,
            "3.3",
        ),
        Expect::production(
            "ecs-production-traffic-shift-canary-step.json",
            ProductionTrafficShift,
            5.0,
            "5.0",
        ),
        Expect {
            greenlight_state: true,
            ..Expect::production(
                "ecs-production-traffic-shift-reinvocation.json",
                ProductionTrafficShift,
                33.3,
                "33.3",
            )
        },
        Expect {
            config: None,
            ..Expect::quiet(
                "ecs-unknown-stage-extra-fields.json",
                Other("POST_BAKE_TIME".into()),
            )
        },
    ]
}

fn parse_ecs(file: &str) -> HookEvent {
    HookEvent::parse(&fixtures::event(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

#[test]
fn every_ecs_fixture_round_trips() {
    for expect in ecs_expectations() {
        let event = parse_ecs(expect.file);
        let serialized = serde_json::to_value(&event).unwrap();
        let reparsed =
            HookEvent::parse(&serialized).unwrap_or_else(|e| panic!("{}: {e}", expect.file));
        assert_eq!(reparsed, event, "{}", expect.file);
        // The bytes path agrees with the value path.
        let bytes = fixtures::event_text(expect.file).into_bytes();
        assert_eq!(
            HookEvent::parse_slice(&bytes).unwrap(),
            event,
            "{}",
            expect.file
        );
    }
}

#[test]
fn every_ecs_fixture_answers_the_helpers() {
    for expect in ecs_expectations() {
        let file = expect.file;
        let event = parse_ecs(file);
        assert_eq!(event.lifecycle_stage, expect.stage, "{file}");
        assert_eq!(event.green_revision(), GREEN, "{file}");
        assert_eq!(event.blue_revision(), expect.blue, "{file}");
        let blues: Vec<&str> = expect.blue.into_iter().collect();
        assert_eq!(event.blue_revisions(), blues, "{file}");
        assert_eq!(event.green_production_weight(), expect.production, "{file}");
        assert_eq!(event.green_test_weight(), expect.test, "{file}");
        let step = event.traffic_step();
        assert_eq!(step.as_ref().map(|s| s.key()), expect.step_key, "{file}");
        if let (Some(step), Some(weight)) = (&step, expect.production) {
            assert_eq!(step.green_weight(), weight, "{file}");
        }
        let rollback = event.rollback();
        assert_eq!(
            rollback,
            expect.rollback.map(|map| Rollback {
                map,
                restored_revision: BLUE.to_owned()
            }),
            "{file}"
        );
        assert_eq!(event.config_reference(), expect.config, "{file}");
        assert_eq!(
            event.greenlight_details().is_some(),
            expect.greenlight_state,
            "{file}"
        );
        let service = event.service().unwrap();
        assert_eq!(
            (service.cluster.as_str(), service.service.as_str()),
            ("prod-apps", "checkout"),
            "{file}"
        );
        assert_eq!(
            event.deployment().unwrap().deployment_id,
            "Zq3bGh9vT2xNwL8kPcR4s",
            "{file}"
        );
    }
}

#[test]
fn the_reinvocation_carries_static_keys_and_greenlight_state() {
    let event = parse_ecs("ecs-production-traffic-shift-reinvocation.json");
    let details = event.hook_details.as_ref().unwrap();
    assert_eq!(details["team"], "payments");
    assert_eq!(event.greenlight_details().unwrap()["step"], "33.3");
    assert_eq!(
        event.greenlight_details().unwrap()["step"],
        event.traffic_step().unwrap().key()
    );
}

#[test]
fn the_reconcile_fixture_has_no_execution_id() {
    assert_eq!(parse_ecs("ecs-reconcile-service.json").execution_id, None);
    assert!(parse_ecs("ecs-post-scale-up.json").execution_id.is_some());
}

#[test]
fn unknown_fields_are_dropped_and_the_unknown_stage_kept() {
    let raw = fixtures::event("ecs-unknown-stage-extra-fields.json");
    assert!(raw.get("deploymentStrategy").is_some());
    let event = parse_ecs("ecs-unknown-stage-extra-fields.json");
    assert!(!event.lifecycle_stage.is_known());
    let serialized = serde_json::to_value(&event).unwrap();
    assert_eq!(serialized["lifecycleStage"], "POST_BAKE_TIME");
    assert!(serialized.get("deploymentStrategy").is_none());
    assert!(
        serialized["executionDetails"]
            .get("bakeTimeInMinutes")
            .is_none()
    );
}

#[test]
fn every_known_stage_has_a_fixture() {
    let covered: BTreeSet<String> = ecs_expectations()
        .iter()
        .map(|expect| expect.stage.to_string())
        .collect();
    for stage in LifecycleStage::KNOWN {
        assert!(covered.contains(stage.as_str()), "no fixture for {stage}");
    }
}

#[test]
fn the_codedeploy_fixture_round_trips() {
    let raw = fixtures::event("codedeploy-hook.json");
    let event = parse_codedeploy_event(&raw).unwrap();
    assert_eq!(event.deployment_id, "d-7QZ1XK4B2");
    assert_eq!(
        event.lifecycle_event_hook_execution_id,
        raw["LifecycleEventHookExecutionId"].as_str().unwrap()
    );
    let reparsed = parse_codedeploy_event(&serde_json::to_value(&event).unwrap()).unwrap();
    assert_eq!(reparsed, event);
    let pending = PendingReport::new(&event);
    assert_eq!(
        pending.execution_id(),
        event.lifecycle_event_hook_execution_id
    );
    // Sent nowhere here; sending is covered next to PendingReport.
    drop(pending);
}

#[test]
fn every_fixture_file_is_covered() {
    let mut listed: BTreeSet<String> = ecs_expectations()
        .iter()
        .map(|expect| expect.file.to_owned())
        .collect();
    listed.insert("codedeploy-hook.json".to_owned());
    let on_disk: BTreeSet<String> = std::fs::read_dir(fixtures::path("events"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .map(|name| name.to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".json"))
        .filter(|name| name.starts_with("ecs-") || name.starts_with("codedeploy-"))
        .collect();
    assert_eq!(
        on_disk, listed,
        "a fixture is not checked, or a checked one is missing"
    );
}
