//! The engine end to end: fake checks, a manual clock and tokio's paused time drive every verdict rule
//! across re-invocations, with hookDetails passed back the way ECS passes them.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use greenlight_core::engine::clock::{Clock, ManualClock};
use greenlight_core::engine::verdict::{Disposition, VerdictStatus};
use greenlight_core::engine::{
    Check, CheckFuture, Engine, Invocation, Plan, PlannedCheck, StageView, Verdict,
};
use greenlight_core::policy::{CheckPolicy, Mode};
use greenlight_core::protocol::{GREENLIGHT_DETAILS_KEY, STATE_KEY};
use greenlight_core::stage::StageKey;
use greenlight_core::{Outcome, ReasonCode, catalogue};
use serde_json::{Map, Value, json};

const DEPLOYMENT: &str =
    "arn:aws:ecs:us-west-2:123456789012:service-deployment/web/api/EZe5RNVLH6PPzHXINuP28";

fn code(name: &str) -> &'static ReasonCode {
    catalogue::lookup(name).unwrap_or_else(|| panic!("no reason code {name}"))
}

/// A check that answers from a script, one outcome per run (the last one repeats), after a delay.
struct Scripted {
    outcomes: Mutex<VecDeque<Outcome>>,
    delay: Duration,
    runs: AtomicUsize,
    panics: bool,
}

impl Scripted {
    fn new(outcomes: Vec<Outcome>) -> Arc<Self> {
        Arc::new(Scripted {
            outcomes: Mutex::new(outcomes.into()),
            delay: Duration::ZERO,
            runs: AtomicUsize::new(0),
            panics: false,
        })
    }

    fn slow(outcome: Outcome, delay: Duration) -> Arc<Self> {
        Arc::new(Scripted {
            outcomes: Mutex::new(vec![outcome].into()),
            delay,
            runs: AtomicUsize::new(0),
            panics: false,
        })
    }

    fn panicking() -> Arc<Self> {
        Arc::new(Scripted {
            outcomes: Mutex::new(VecDeque::new()),
            delay: Duration::ZERO,
            runs: AtomicUsize::new(0),
            panics: true,
        })
    }

    fn runs(&self) -> usize {
        self.runs.load(Ordering::SeqCst)
    }
}

struct ScriptedCheck(Arc<Scripted>);

impl Check for ScriptedCheck {
    fn kind(&self) -> &'static str {
        "scripted"
    }

    fn run<'a>(&'a self, _stage: &'a StageView) -> CheckFuture<'a> {
        Box::pin(async move {
            let script = &self.0;
            script.runs.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(script.delay).await;
            assert!(!script.panics, "scripted check told to crash");
            let mut outcomes = script.outcomes.lock().expect("script lock");
            if outcomes.len() > 1 {
                outcomes.pop_front().expect("scripted outcome")
            } else {
                outcomes.front().cloned().expect("scripted outcome")
            }
        })
    }
}

fn pass() -> Outcome {
    Outcome::pass(code("VERDICT_PASSED"), "fine")
}
fn fail() -> Outcome {
    Outcome::fail(code("EVENT_MALFORMED"), "green is broken")
}
fn inconclusive() -> Outcome {
    Outcome::inconclusive(code("VERDICT_WAITING"), "no datapoints yet")
}

fn planned(id: &str, script: &Arc<Scripted>, policy: CheckPolicy) -> PlannedCheck {
    PlannedCheck {
        id: id.to_owned(),
        policy,
        check: Box::new(ScriptedCheck(Arc::clone(script))),
    }
}

fn plan(bake: Option<Duration>, checks: Vec<PlannedCheck>) -> Plan {
    Plan {
        bake,
        interval: Duration::from_secs(60),
        checks,
    }
}

fn key() -> StageKey {
    StageKey::new(DEPLOYMENT, "POST_PRODUCTION_TRAFFIC_SHIFT", None)
}

/// The stage's first invocation: nothing carried from an earlier one.
fn first_invocation(deadline: Option<SystemTime>) -> Invocation<'static> {
    Invocation {
        key: key(),
        carried: None,
        deadline,
    }
}

/// Plays ECS's side of hookDetails: the static details of the hook, shallowly merged with what the
/// last IN_PROGRESS returned (top-level keys replaced), or merged one level deeper.
struct HookDetailsStore {
    static_details: Map<String, Value>,
    returned: Option<Map<String, Value>>,
    deep: bool,
}

impl HookDetailsStore {
    fn merged(&self) -> Map<String, Value> {
        let mut merged = self.static_details.clone();
        for (key, value) in self.returned.clone().unwrap_or_default() {
            match (merged.get_mut(&key), value) {
                (Some(Value::Object(existing)), Value::Object(new)) if self.deep => {
                    existing.extend(new);
                }
                (_, value) => {
                    merged.insert(key, value);
                }
            }
        }
        merged
    }
}

async fn invoke(engine: &Engine<'_>, plan: &Plan, store: &mut HookDetailsStore) -> Verdict {
    let merged = store.merged();
    let carried = merged.get(GREENLIGHT_DETAILS_KEY);
    let verdict = engine
        .judge(
            plan,
            Invocation {
                key: key(),
                carried,
                deadline: None,
            },
        )
        .await;
    store.returned = Some(verdict.state.clone().into_hook_details(carried));
    verdict
}

fn static_details() -> Map<String, Value> {
    json!({
        "greenlight": { "version": 1, "stages": { "POST_PRODUCTION_TRAFFIC_SHIFT": { "bake": "10m", "checks": [] } } },
        "team": "payments"
    })
    .as_object()
    .expect("an object")
    .clone()
}

#[tokio::test(start_paused = true)]
async fn ten_minute_bake_walks_in_progress_to_succeeded_through_shallow_and_deep_merges() {
    for deep in [false, true] {
        let clock = ManualClock::at_unix(1_800_000_000);
        let engine = Engine::new(&clock, Duration::from_secs(1));
        let alarms = Scripted::new(vec![pass()]);
        let plan = plan(
            Some(Duration::from_secs(600)),
            vec![planned("alarms", &alarms, CheckPolicy::default())],
        );
        let mut store = HookDetailsStore {
            static_details: static_details(),
            returned: None,
            deep,
        };
        let mut statuses = Vec::new();
        loop {
            let verdict = invoke(&engine, &plan, &mut store).await;
            statuses.push(verdict.status);
            if verdict.status != VerdictStatus::InProgress {
                assert_eq!(verdict.code.code, "VERDICT_PASSED");
                break;
            }
            assert_eq!(verdict.code.code, "VERDICT_BAKING");
            let delay = verdict.callback_delay.expect("IN_PROGRESS carries a delay");
            assert!(delay <= Duration::from_secs(60));
            // The inline config survives the merge, so the next invocation still finds it.
            let merged = store.merged();
            assert_eq!(
                merged["greenlight"]["stages"]["POST_PRODUCTION_TRAFFIC_SHIFT"]["bake"],
                "10m"
            );
            assert_eq!(merged["team"], "payments");
            clock.advance(delay);
            assert!(statuses.len() < 20, "bake never ended: {statuses:?}");
        }
        // Started at t=0, judged every 60 s: IN_PROGRESS at 0..540 s, SUCCEEDED at 600 s.
        assert_eq!(statuses.len(), 11, "deep={deep}: {statuses:?}");
        assert_eq!(alarms.runs(), 11);
        let state = &store.merged()["greenlight"][STATE_KEY];
        assert_eq!(state["attempts"], 11);
        assert_eq!(state["started_at"], 1_800_000_000u64);
    }
}

#[tokio::test(start_paused = true)]
async fn a_failure_during_the_bake_fails_at_once() {
    let clock = ManualClock::at_unix(1_800_000_000);
    let engine = Engine::new(&clock, Duration::from_secs(1));
    let metric = Scripted::new(vec![pass(), pass(), fail()]);
    let plan = plan(
        Some(Duration::from_secs(600)),
        vec![planned("metric", &metric, CheckPolicy::default())],
    );
    let mut store = HookDetailsStore {
        static_details: static_details(),
        returned: None,
        deep: false,
    };
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let verdict = invoke(&engine, &plan, &mut store).await;
        statuses.push(verdict.status);
        clock.advance(Duration::from_secs(60));
    }
    assert_eq!(
        statuses,
        [
            VerdictStatus::InProgress,
            VerdictStatus::InProgress,
            VerdictStatus::Failed
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn inconclusive_past_its_budget_fails() {
    let clock = ManualClock::at_unix(1_800_000_000);
    let engine = Engine::new(&clock, Duration::from_secs(1));
    let metric = Scripted::new(vec![inconclusive()]);
    let policy = CheckPolicy {
        max_wait: Duration::from_secs(300),
        ..CheckPolicy::default()
    };
    let plan = plan(None, vec![planned("metric", &metric, policy)]);
    let mut store = HookDetailsStore {
        static_details: static_details(),
        returned: None,
        deep: false,
    };
    let mut last = None;
    for _ in 0..10 {
        let verdict = invoke(&engine, &plan, &mut store).await;
        let status = verdict.status;
        last = Some(verdict);
        if status != VerdictStatus::InProgress {
            break;
        }
        clock.advance(Duration::from_secs(60));
    }
    let verdict = last.unwrap();
    assert_eq!(verdict.status, VerdictStatus::Failed);
    assert_eq!(verdict.code.code, "VERDICT_WAIT_EXHAUSTED");
    assert!(
        verdict.message.contains("no datapoints yet"),
        "{}",
        verdict.message
    );
    // Waiting began at t=0; at t=300 the budget is spent: six judgements in all.
    assert_eq!(metric.runs(), 6);
}

#[tokio::test(start_paused = true)]
async fn time_the_stage_could_not_be_judged_does_not_spend_a_checks_wait() {
    // A check waiting on throttled AWS; then the deployment's status is unreadable for a while,
    // and the hook retries that read on its own, longer, schedule (as `hook` records it in the
    // carried state). The check's 15 s wait must not run out on its next look.
    let clock = ManualClock::at_unix(1_800_000_000);
    let engine = Engine::new(&clock, Duration::from_secs(1));
    let check = Scripted::new(vec![inconclusive()]);
    let policy = CheckPolicy {
        max_wait: Duration::from_secs(15),
        ..CheckPolicy::default()
    };
    let plan = plan(None, vec![planned("image", &check, policy)]);
    let mut store = HookDetailsStore {
        static_details: static_details(),
        returned: None,
        deep: false,
    };
    let first = invoke(&engine, &plan, &mut store).await;
    assert_eq!(first.status, VerdictStatus::InProgress);
    // 3 s later the status read fails; the next look comes 55 s after that.
    let unreadable_at = 1_800_000_003_u64;
    let state = store
        .returned
        .as_mut()
        .and_then(|returned| returned.get_mut(GREENLIGHT_DETAILS_KEY))
        .and_then(|details| details.get_mut(STATE_KEY))
        .and_then(Value::as_object_mut)
        .expect("carried state");
    state.insert("u".to_owned(), json!(unreadable_at));
    clock.advance(Duration::from_secs(58));
    let after_gap = invoke(&engine, &plan, &mut store).await;
    assert_eq!(
        after_gap.status,
        VerdictStatus::InProgress,
        "{}",
        after_gap.message
    );
    // Waited 3 s before the gap and 0 s since: 12 s of the budget are left, and then it is spent.
    clock.advance(Duration::from_secs(11));
    assert_eq!(
        invoke(&engine, &plan, &mut store).await.status,
        VerdictStatus::InProgress
    );
    clock.advance(Duration::from_secs(2));
    let spent = invoke(&engine, &plan, &mut store).await;
    assert_eq!(spent.status, VerdictStatus::Failed);
    assert_eq!(spent.code.code, "VERDICT_WAIT_EXHAUSTED");
}

#[tokio::test(start_paused = true)]
async fn a_deadline_two_seconds_away_answers_in_progress_before_it() {
    let clock = ManualClock::at_unix(1_800_000_000);
    let engine = Engine::new(&clock, Duration::from_secs(1));
    let slow = Scripted::slow(pass(), Duration::from_secs(30));
    let policy = CheckPolicy {
        timeout: Duration::from_secs(60),
        ..CheckPolicy::default()
    };
    let plan = plan(None, vec![planned("http", &slow, policy)]);
    let deadline = clock.now() + Duration::from_secs(2);
    let started = tokio::time::Instant::now();
    let verdict = engine.judge(&plan, first_invocation(Some(deadline))).await;
    let took = started.elapsed();
    assert_eq!(verdict.status, VerdictStatus::InProgress);
    assert_eq!(verdict.code.code, "VERDICT_DEADLINE");
    assert_eq!(verdict.checks[0].outcome.code.code, "CHECK_DEADLINE");
    assert!(took < Duration::from_secs(2), "answered after {took:?}");
    assert!(
        took >= Duration::from_millis(900),
        "stopped too early: {took:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn no_time_left_answers_without_starting_checks() {
    let clock = ManualClock::at_unix(1_800_000_000);
    let engine = Engine::new(&clock, Duration::from_secs(1));
    let check = Scripted::new(vec![pass()]);
    let plan = plan(None, vec![planned("tasks", &check, CheckPolicy::default())]);
    let verdict = engine
        .judge(
            &plan,
            first_invocation(Some(clock.now() + Duration::from_millis(1100))),
        )
        .await;
    assert_eq!(verdict.status, VerdictStatus::InProgress);
    assert_eq!(verdict.code.code, "VERDICT_DEADLINE");
    assert_eq!(check.runs(), 0);
}

#[tokio::test(start_paused = true)]
async fn an_advisory_failure_does_not_gate() {
    let clock = ManualClock::at_unix(1_800_000_000);
    let engine = Engine::new(&clock, Duration::from_secs(1));
    let shadow = Scripted::new(vec![fail()]);
    let alarms = Scripted::new(vec![pass()]);
    let advisory = CheckPolicy {
        mode: Mode::Advisory,
        ..CheckPolicy::default()
    };
    let plan = plan(
        None,
        vec![
            planned("lambda", &shadow, advisory),
            planned("alarms", &alarms, CheckPolicy::default()),
        ],
    );
    let verdict = engine.judge(&plan, first_invocation(None)).await;
    assert_eq!(verdict.status, VerdictStatus::Succeeded);
    assert_eq!(verdict.checks[0].disposition, Disposition::Advisory);
    assert_eq!(verdict.checks[0].outcome.code.code, "EVENT_MALFORMED");
}

#[tokio::test(start_paused = true)]
async fn checks_run_concurrently_and_an_enforcing_failure_stops_the_rest() {
    let clock = ManualClock::at_unix(1_800_000_000);
    let engine = Engine::new(&clock, Duration::from_secs(1));
    let policy = CheckPolicy {
        timeout: Duration::from_secs(120),
        ..CheckPolicy::default()
    };
    let a = Scripted::slow(pass(), Duration::from_secs(5));
    let b = Scripted::slow(pass(), Duration::from_secs(5));
    let c = Scripted::slow(pass(), Duration::from_secs(5));
    let concurrent = plan(
        None,
        vec![
            planned("a", &a, policy),
            planned("b", &b, policy),
            planned("c", &c, policy),
        ],
    );
    let started = tokio::time::Instant::now();
    let verdict = engine.judge(&concurrent, first_invocation(None)).await;
    assert_eq!(verdict.status, VerdictStatus::Succeeded);
    assert_eq!(
        started.elapsed(),
        Duration::from_secs(5),
        "three 5 s checks ran one after another"
    );

    let failing = Scripted::slow(fail(), Duration::from_secs(1));
    let slow = Scripted::slow(pass(), Duration::from_secs(100));
    let fail_fast = plan(
        None,
        vec![
            planned("slow", &slow, policy),
            planned("image", &failing, policy),
        ],
    );
    let started = tokio::time::Instant::now();
    let verdict = engine.judge(&fail_fast, first_invocation(None)).await;
    assert_eq!(verdict.status, VerdictStatus::Failed);
    assert_eq!(started.elapsed(), Duration::from_secs(1));
    assert_eq!(verdict.checks[0].disposition, Disposition::Cancelled);
    assert_eq!(verdict.checks[0].outcome.code.code, "CHECK_CANCELLED");
    assert!(
        verdict.message.contains("image failed: green is broken"),
        "{}",
        verdict.message
    );
}

#[tokio::test(start_paused = true)]
async fn a_slow_check_times_out_and_waits_a_crashing_check_fails() {
    let clock = ManualClock::at_unix(1_800_000_000);
    let engine = Engine::new(&clock, Duration::from_secs(1));
    let slow = Scripted::slow(pass(), Duration::from_secs(30));
    let plan_slow = plan(None, vec![planned("http", &slow, CheckPolicy::default())]);
    let verdict = engine.judge(&plan_slow, first_invocation(None)).await;
    assert_eq!(verdict.status, VerdictStatus::InProgress);
    assert_eq!(verdict.checks[0].outcome.code.code, "CHECK_TIMEOUT");

    let crashing = Scripted::panicking();
    let plan_crash = plan(
        None,
        vec![planned("tasks", &crashing, CheckPolicy::default())],
    );
    let verdict = engine.judge(&plan_crash, first_invocation(None)).await;
    assert_eq!(verdict.status, VerdictStatus::Failed);
    assert_eq!(verdict.code.code, "CHECK_CRASHED");
    assert!(
        verdict.message.contains("told to crash"),
        "{}",
        verdict.message
    );
}

#[tokio::test(start_paused = true)]
async fn a_permanent_error_fails_naming_what_is_missing() {
    let clock = ManualClock::at_unix(1_800_000_000);
    let engine = Engine::new(&clock, Duration::from_secs(1));
    let denied = Scripted::new(vec![Outcome::permanent_error(
        code("CONFIG_UNREADABLE"),
        "access denied: the function's role may not call ecs:DescribeServiceRevisions",
    )]);
    let plan = plan(
        None,
        vec![planned("tasks", &denied, CheckPolicy::default())],
    );
    let verdict = engine.judge(&plan, first_invocation(None)).await;
    assert_eq!(verdict.status, VerdictStatus::Failed);
    assert!(verdict.message.contains("ecs:DescribeServiceRevisions"));
}

#[tokio::test(start_paused = true)]
async fn a_rollback_passes_at_once_and_carries_the_stage_on() {
    let clock = ManualClock::at_unix(1_800_000_000);
    let engine = Engine::new(&clock, Duration::from_secs(1));
    let verdict = engine.rollback(key(), None, "green has 0% of production traffic, blue 100%");
    assert_eq!(verdict.status, VerdictStatus::Succeeded);
    assert_eq!(verdict.code.code, "VERDICT_ROLLBACK");
    assert!(
        verdict
            .message
            .contains("green has 0% of production traffic")
    );
    assert!(verdict.checks.is_empty());
    assert_eq!(verdict.state.attempts, 1);
}

#[tokio::test(start_paused = true)]
async fn consecutive_passes_are_counted_across_invocations() {
    let clock = ManualClock::at_unix(1_800_000_000);
    let engine = Engine::new(&clock, Duration::from_secs(1));
    let health = Scripted::new(vec![pass(), inconclusive(), pass(), pass()]);
    let policy = CheckPolicy {
        consecutive: 2,
        ..CheckPolicy::default()
    };
    let plan = plan(None, vec![planned("target_health", &health, policy)]);
    let mut store = HookDetailsStore {
        static_details: Map::new(),
        returned: None,
        deep: false,
    };
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(invoke(&engine, &plan, &mut store).await.status);
        clock.advance(Duration::from_secs(30));
    }
    use VerdictStatus::*;
    assert_eq!(statuses, [InProgress, InProgress, InProgress, Succeeded]);
}

#[tokio::test(start_paused = true)]
async fn two_hundred_kilobytes_of_foreign_hook_details_in_a_small_state_out() {
    let clock = ManualClock::at_unix(1_800_000_000);
    let engine = Engine::new(&clock, Duration::from_secs(1));
    let check = Scripted::new(vec![inconclusive()]);
    let plan = plan(
        None,
        vec![planned("metric", &check, CheckPolicy::default())],
    );
    let mut static_details = Map::new();
    for index in 0..200 {
        static_details.insert(format!("foreign-{index}"), Value::String("x".repeat(1000)));
    }
    static_details.insert(
        "greenlight".into(),
        json!({ "version": 1, "state": { "v": 1, "garbage": "y".repeat(5000) }, "unknown": "z".repeat(5000) }),
    );
    let incoming_bytes = serde_json::to_vec(&static_details).unwrap().len();
    assert!(incoming_bytes > 200_000);
    let mut store = HookDetailsStore {
        static_details,
        returned: None,
        deep: false,
    };
    let verdict = invoke(&engine, &plan, &mut store).await;
    assert_eq!(verdict.status, VerdictStatus::InProgress);
    let returned = store.returned.as_ref().unwrap();
    let returned_bytes = serde_json::to_vec(returned).unwrap().len();
    assert!(
        returned_bytes < 1024,
        "returned {returned_bytes} bytes: {returned:?}"
    );
    assert_eq!(returned.keys().collect::<Vec<_>>(), ["greenlight"]);
    assert_eq!(returned["greenlight"]["version"], 1);
}
