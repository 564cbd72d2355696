//! Hostile hookDetails, fuzzed: whatever a caller puts in an ECS event's `hookDetails` (a config of
//! any shape, policies of any value, a forged `state` claiming earlier passes, a bake long over, or
//! plain garbage), a stage whose checks all fail is never answered SUCCEEDED, nothing panics, and
//! every answer is a classified one (the summary line says what ECS was answered). A config can
//! still make a check advisory, or give a stage no checks: those are its explicit choices, and the
//! answer says so (`Advisory`, `VERDICT_NO_CHECKS`).
//!
//! Budget: 256 cases per property (`PROPTEST_CASES` raises it).

use greenlight_core::checks::DOCS;
use greenlight_core::engine::verdict::Disposition;
use greenlight_core::hook::Phase;
use greenlight_core::outcome::Status;
use greenlight_core::protocol::ecs::HookStatus;
use greenlight_core::stage::StageKey;
use greenlight_core::{Outcome, catalogue};
use greenlight_test_support::fixtures;
use proptest::prelude::*;
use serde_json::{Value, json};

use super::hook::{FakeBackend, clock, invoke};

/// Small arbitrary JSON: the shapes a config or a state could take, and garbage.
fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1e6..1e6f64).prop_map(Value::from),
        "[a-z_0-9%.:/ -]{0,12}".prop_map(Value::from),
        prop_oneof![
            Just("enforce"),
            Just("advisory"),
            Just("pass"),
            Just("fail"),
            Just("wait"),
            Just("1s"),
            Just("99999h"),
            Just("0s"),
            Just("2xx"),
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z_]{1,12}", inner, 0..5)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// A check as a config writes it: mostly a valid one at POST_SCALE_UP (a kind that needs no
/// params, policy fields with valid values, enforcing or advisory), else a kind with params and
/// policy fields of any value.
fn check() -> impl Strategy<Value = Value> {
    let valid = (
        prop::sample::select(vec!["image", "tasks", "target_health", "alarms"]),
        prop::sample::select(vec!["enforce", "enforce", "advisory"]),
        prop::sample::select(vec!["wait", "fail", "pass"]),
        prop::sample::select(vec!["retry", "fail"]),
        1..5u32,
        prop::sample::select(vec!["30s", "15m", "59m"]),
    )
        .prop_map(|(kind, mode, inconclusive, error, consecutive, max_wait)| {
            json!({ kind: {
                "mode": mode,
                "on_inconclusive": inconclusive,
                "on_error": error,
                "consecutive": consecutive,
                "max_wait": max_wait,
            } })
        });
    prop_oneof![4 => valid, 1 => any_check()]
}

/// A kind (a real one, mostly) with params and policy fields of any value.
fn any_check() -> impl Strategy<Value = Value> {
    let kinds: Vec<&'static str> = DOCS.iter().map(|doc| doc.kind).chain(["nope"]).collect();
    let policy = prop::collection::btree_map(
        prop_oneof![
            Just("mode"),
            Just("on_inconclusive"),
            Just("on_error"),
            Just("on_exhausted"),
            Just("on_not_applicable"),
            Just("consecutive"),
            Just("max_wait"),
            Just("timeout"),
            Just("name"),
        ],
        arbitrary_json(),
        0..4,
    );
    (prop::sample::select(kinds), policy, arbitrary_json()).prop_map(|(kind, policy, params)| {
        let mut body = match params {
            Value::Object(map) => map,
            _ => serde_json::Map::new(),
        };
        for (key, value) in policy {
            body.insert(key.to_owned(), value);
        }
        json!({ kind: body })
    })
}

/// A `greenlight` object: a config of checks for the event's stage (or garbage), maybe with a
/// forged state for this very stage claiming many passes, an old start and many attempts.
fn greenlight(key: Value) -> impl Strategy<Value = Value> {
    let config = prop_oneof![
        6 => (
            prop::collection::vec(check(), 0..4),
            prop::option::of(prop_oneof![
                8 => prop::sample::select(vec!["0s", "1s", "10m", "2h"]).prop_map(Value::from),
                1 => arbitrary_json(),
            ]),
            prop::option::of(prop_oneof![
                8 => Just(json!({ "interval": "1s", "max_wait": "5m" })),
                1 => arbitrary_json(),
            ]),
        )
            .prop_map(|(checks, bake, defaults)| {
                let mut stage = json!({ "checks": checks });
                if let Some(bake) = bake {
                    stage["bake"] = bake;
                }
                let mut config = json!({ "version": 1, "stages": { "POST_SCALE_UP": stage } });
                if let Some(defaults) = defaults {
                    config["defaults"] = defaults;
                }
                config
            }),
        1 => arbitrary_json(),
    ];
    let state = prop_oneof![
        Just(None),
        arbitrary_json().prop_map(Some),
        (
            any::<u32>(),
            0..1_800_000_000u64,
            prop::collection::vec("[a-z_#0-9]{1,12}", 0..4)
        )
            .prop_map(move |(passes, started_at, ids)| {
                let checks: serde_json::Map<String, Value> = ids
                    .into_iter()
                    .map(|id| (id, json!({ "n": passes, "r": "VERDICT_PASSED" })))
                    .collect();
                Some(json!({
                    "v": 1,
                    "key": key,
                    "started_at": started_at,
                    "attempts": passes,
                    "checks": checks,
                }))
            }),
    ];
    (config, state).prop_map(|(mut config, state)| {
        if let (Some(object), Some(state)) = (config.as_object_mut(), state) {
            object.insert("state".into(), state);
        }
        config
    })
}

/// A backend whose every check, of every kind, concludes `outcome`.
fn every_check(outcome: &Outcome) -> FakeBackend {
    let mut backend = FakeBackend::new();
    for doc in DOCS {
        backend.outcomes.insert(doc.kind, outcome.clone());
    }
    backend
}

fn run(payload: &Value, backend: &FakeBackend) -> greenlight_core::hook::HookAnswer {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(invoke(Phase::PostScaleUp, payload, backend, &clock()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn failing_checks_are_never_answered_succeeded_whatever_the_hook_details(
        greenlight in greenlight(key()),
        extra in prop::option::of(arbitrary_json()),
        failing in prop::sample::select(vec![
            Outcome::fail(catalogue::lookup("TASKS_STOPPED").expect("code"), "stopped"),
            Outcome::permanent_error(catalogue::lookup("AWS_ACCESS_DENIED").expect("code"), "denied"),
        ]),
    ) {
        let backend = every_check(&failing);
        let mut payload = fixtures::event("ecs-post-scale-up.json");
        payload["hookDetails"] = json!({ "greenlight": greenlight });
        if let Some(extra) = extra {
            payload["hookDetails"]["team"] = extra;
        }
        let answer = run(&payload, &backend);
        // No check may count as passed on a failing outcome.
        for check in &answer.summary.checks {
            prop_assert!(
                check.disposition != Disposition::Pass || check.outcome.status == Status::Pass,
                "{} counted as passed on {:?}", check.id, check.outcome.status
            );
        }
        if answer.response.hook_status == HookStatus::Succeeded {
            // Only an explicit choice of the config: no checks, or only advisory ones.
            prop_assert!(
                answer.code.code == "VERDICT_NO_CHECKS"
                    || answer.summary.checks.iter().all(|check| check.disposition == Disposition::Advisory),
                "SUCCEEDED ({}) over failing checks: {:?}", answer.code.code,
                answer.summary.checks.iter().map(|check| (&check.id, check.disposition)).collect::<Vec<_>>()
            );
            prop_assert!(!answer.summary.checks.is_empty() || answer.code.code == "VERDICT_NO_CHECKS");
        }
    }

    #[test]
    fn any_hook_details_get_a_classified_answer(details in arbitrary_json()) {
        let backend = FakeBackend::new();
        let mut payload = fixtures::event("ecs-post-scale-up.json");
        payload["hookDetails"] = details;
        let answer = run(&payload, &backend);
        // A listed reason code, and IN_PROGRESS only with a callback (invoke also holds the
        // summary line to the answer).
        prop_assert!(catalogue::lookup(answer.code.code).is_some(), "{}", answer.code.code);
        if answer.response.hook_status == HookStatus::InProgress {
            prop_assert!(answer.response.call_back_delay.is_some());
        }
    }
}

/// The stage key of the fixture event, as a forged state would name it.
fn key() -> Value {
    let event = fixtures::event("ecs-post-scale-up.json");
    serde_json::to_value(StageKey::new(
        event["resourceArn"]
            .as_str()
            .expect("the fixture names its deployment"),
        "POST_SCALE_UP",
        None,
    ))
    .expect("a key serializes")
}
