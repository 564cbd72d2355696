//! The engine: runs a stage's checks and folds their outcomes into a verdict.
//!
//! One invocation of a hook is one call to [`Engine::judge`]:
//! 1. a rollback invocation answers SUCCEEDED before anything runs (never block a rollback);
//! 2. the checks of the [`Plan`] run concurrently, each within its own timeout and all within the
//!    Lambda deadline less a safety margin;
//! 3. each outcome is weighed under its check's policy ([`verdict::judge_outcome`]); the first
//!    enforcing failure stops the rest (fail fast);
//! 4. the dispositions fold into the verdict ([`verdict::fold`]), and the state that the next
//!    invocation needs (when the stage or step started, consecutive passes, wait budgets) is returned
//!    for `hookDetails`.

pub mod clock;
pub mod codes;
pub mod state;
pub mod verdict;

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use futures::FutureExt;
use futures::stream::{FuturesUnordered, StreamExt};
use serde::Serialize;

use crate::outcome::Outcome;
use crate::policy::CheckPolicy;
use crate::reason::ReasonCode;
use crate::stage::StageKey;
use clock::{Clock, unix_seconds};
use state::{CheckMemory, StageState};
use verdict::{Decision, Disposition, VerdictStatus, Weighed};

/// The future a check returns.
pub type CheckFuture<'a> = Pin<Box<dyn Future<Output = Outcome> + Send + 'a>>;

/// One check: gathers its evidence and judges it.
///
/// A check is built per invocation with what it needs (its params and a handle on the shared
/// deployment facts), so `run` only takes what the engine knows about the stage. It never panics on
/// bad data and returns an outcome for every path: errors are outcomes too.
pub trait Check: Send + Sync {
    /// The check's kind as written in config (`alarms`, `http`).
    fn kind(&self) -> &'static str;

    /// Runs the check once.
    fn run<'a>(&'a self, stage: &'a StageView) -> CheckFuture<'a>;
}

/// What a check may know about the stage it judges.
#[derive(Debug, Clone)]
pub struct StageView {
    /// The deployment, stage and step.
    pub key: StageKey,
    /// When this stage (or step) was first judged: the start of its bake and metric windows.
    pub started_at: SystemTime,
    /// The time of this invocation.
    pub now: SystemTime,
    /// How many times this stage has been judged, this invocation included.
    pub attempt: u32,
    /// What was remembered of this check from earlier invocations.
    pub memory: CheckMemory,
    /// When waiting on this check would run out: the stage's start, plus its bake, plus the
    /// check's `max_wait`. A check that gathers evidence over time uses it to tell whether the
    /// traffic still to come can settle the question.
    pub horizon: Option<SystemTime>,
}

/// A check in a plan, with its id and policy.
pub struct PlannedCheck {
    /// Unique within the plan (`alarms`, `http#2`, or the name the config gave it).
    pub id: String,
    /// How its outcome weighs.
    pub policy: CheckPolicy,
    /// The check itself.
    pub check: Box<dyn Check>,
}

/// The checks of one stage and how long it bakes.
pub struct Plan {
    /// How long the stage (or each step) must be observed before it may succeed.
    pub bake: Option<Duration>,
    /// How long to wait between judgements while IN_PROGRESS.
    pub interval: Duration,
    /// The checks, run concurrently.
    pub checks: Vec<PlannedCheck>,
}

/// What the caller knows about this invocation.
#[derive(Debug, Clone)]
pub struct Invocation<'a> {
    /// The deployment, stage and step being judged.
    pub key: StageKey,
    /// The incoming `hookDetails.greenlight` object, which may carry state from the last invocation.
    pub carried: Option<&'a serde_json::Value>,
    /// When the Lambda invocation will be stopped.
    pub deadline: Option<SystemTime>,
}

/// One check's part in a verdict.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// The check's id.
    pub id: String,
    /// The check's kind.
    pub kind: &'static str,
    /// What it concluded.
    pub outcome: Outcome,
    /// How that weighed.
    pub disposition: Disposition,
    /// Whether its wait budget decided.
    pub exhausted: bool,
    /// How long it ran.
    pub elapsed_ms: u64,
}

/// The answer for one invocation.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    /// SUCCEEDED, IN_PROGRESS or FAILED.
    pub status: VerdictStatus,
    /// Why, as a stable code.
    pub code: &'static ReasonCode,
    /// Why, for humans.
    pub message: String,
    /// For IN_PROGRESS: when to judge again.
    #[serde(serialize_with = "serialize_seconds")]
    pub callback_delay: Option<Duration>,
    /// Every check's outcome, in plan order.
    pub checks: Vec<CheckReport>,
    /// The state to carry to the next invocation.
    #[serde(skip)]
    pub state: StageState,
}

fn serialize_seconds<S: serde::Serializer>(
    delay: &Option<Duration>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match delay {
        Some(delay) => serializer.serialize_some(&delay.as_secs()),
        None => serializer.serialize_none(),
    }
}

/// Runs plans. Holds what does not change between invocations.
pub struct Engine<'c> {
    clock: &'c dyn Clock,
    deadline_margin: Duration,
}

/// Below this much time before the (margin-adjusted) deadline, checks are not started at all.
const MIN_TIME_TO_RUN: Duration = Duration::from_millis(250);

impl<'c> Engine<'c> {
    /// An engine reading wall time from `clock`, stopping work `deadline_margin` before the Lambda
    /// deadline so there is time left to answer (and, for CodeDeploy, to report).
    pub fn new(clock: &'c dyn Clock, deadline_margin: Duration) -> Self {
        Engine {
            clock,
            deadline_margin,
        }
    }

    /// The wall-clock time, from the engine's clock.
    pub fn now(&self) -> SystemTime {
        self.clock.now()
    }

    /// Runs `work` (a step before the checks: a lookup, reading the config) so that it ends by
    /// the invocation's `deadline` less the margin; `None` when it did not.
    pub async fn within_deadline<T>(
        &self,
        deadline: Option<SystemTime>,
        work: impl std::future::Future<Output = T>,
    ) -> Option<T> {
        let Some(deadline) = deadline else {
            return Some(work.await);
        };
        let remaining = deadline
            .duration_since(self.clock.now())
            .unwrap_or_default()
            .saturating_sub(self.deadline_margin);
        tokio::time::timeout(remaining, work).await.ok()
    }

    /// The verdict for an invocation during a rollback ([`verdict::rollback`]): no check runs, and
    /// the stage's state is carried on as it was.
    pub fn rollback(
        &self,
        key: StageKey,
        carried: Option<&serde_json::Value>,
        evidence: &str,
    ) -> Verdict {
        let now = unix_seconds(self.clock.now());
        let mut state = StageState::carried_or_fresh(carried, key, now);
        state.attempts = state.attempts.saturating_add(1);
        finish(verdict::rollback(evidence), Vec::new(), state)
    }

    /// Judges one invocation of a stage.
    pub async fn judge(&self, plan: &Plan, invocation: Invocation<'_>) -> Verdict {
        let wall_now = self.clock.now();
        let now = unix_seconds(wall_now);
        let mut state = StageState::carried_or_fresh(invocation.carried, invocation.key, now);
        state.attempts = state.attempts.saturating_add(1);
        // Reaching the engine means what the stage needed first was read; the time it was not
        // does not count against the checks' waits.
        state.end_unreadable_run(now);

        let started = tokio::time::Instant::now();
        let stop_at = invocation.deadline.map(|deadline| {
            let remaining = deadline.duration_since(wall_now).unwrap_or_default();
            started + remaining.saturating_sub(self.deadline_margin)
        });
        if stop_at.is_some_and(|stop| stop.saturating_duration_since(started) < MIN_TIME_TO_RUN) {
            return finish(
                Decision {
                    status: VerdictStatus::InProgress,
                    code: &codes::VERDICT_DEADLINE,
                    message: "too little time left in this invocation to run the checks".into(),
                    callback_delay: Some(plan.interval.max(Duration::from_secs(1))),
                },
                Vec::new(),
                state,
            );
        }

        let stage_started_at = SystemTime::UNIX_EPOCH
            .checked_add(Duration::from_secs(state.started_at))
            .unwrap_or(wall_now);
        let mut pending: FuturesUnordered<_> = plan
            .checks
            .iter()
            .enumerate()
            .map(|(index, planned)| {
                let view = StageView {
                    key: state.key.clone(),
                    started_at: stage_started_at,
                    now: wall_now,
                    attempt: state.attempts,
                    memory: state.memory(&planned.id),
                    horizon: stage_started_at
                        .checked_add(plan.bake.unwrap_or_default() + planned.policy.max_wait),
                };
                run_one(planned, view, started, stop_at).map(move |ran| (index, ran))
            })
            .collect();

        let mut results: Vec<Option<(Outcome, verdict::Judgement, Duration)>> =
            vec![None; plan.checks.len()];
        while let Some((index, (outcome, elapsed))) = pending.next().await {
            let planned = &plan.checks[index];
            let outcome = verdict::apply_not_applicable(outcome, &planned.policy);
            let judgement =
                verdict::judge_outcome(&outcome, &planned.policy, &state.memory(&planned.id), now);
            let fail_fast = judgement.disposition == Disposition::Fail;
            results[index] = Some((outcome, judgement, elapsed));
            if fail_fast {
                break;
            }
        }
        drop(pending);

        let mut reports = Vec::with_capacity(plan.checks.len());
        for (planned, result) in plan.checks.iter().zip(results) {
            let (outcome, disposition, exhausted, elapsed) = match result {
                Some((outcome, judgement, elapsed)) => {
                    state.remember(&planned.id, judgement.memory);
                    (outcome, judgement.disposition, judgement.exhausted, elapsed)
                }
                None => (
                    Outcome::inconclusive(
                        &codes::CHECK_CANCELLED,
                        "stopped: another enforcing check had already failed the stage",
                    ),
                    Disposition::Cancelled,
                    false,
                    started.elapsed(),
                ),
            };
            reports.push(CheckReport {
                id: planned.id.clone(),
                kind: planned.check.kind(),
                outcome,
                disposition,
                exhausted,
                elapsed_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
            });
        }

        let bake_remaining = plan.bake.map_or(Duration::ZERO, |bake| {
            let elapsed = Duration::from_secs(now.saturating_sub(state.started_at));
            bake.saturating_sub(elapsed)
        });
        let weighed: Vec<Weighed<'_>> = reports
            .iter()
            .map(|report| Weighed {
                id: &report.id,
                outcome: &report.outcome,
                disposition: report.disposition,
                exhausted: report.exhausted,
            })
            .collect();
        let mut decision = verdict::fold(&weighed, bake_remaining, plan.interval);
        if verdict::waiting_on_aws(&weighed) {
            // Calling again at once would meet the same empty token bucket as every other
            // deployment in the account: spread the calls out.
            decision.callback_delay = decision
                .callback_delay
                .map(|delay| verdict::spread_after_throttling(delay, &state.key, state.attempts));
        }
        finish(decision, reports, state)
    }
}

/// What a caught panic said (its `&str` or `String` payload).
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".to_owned())
}

async fn run_one(
    planned: &PlannedCheck,
    view: StageView,
    started: tokio::time::Instant,
    stop_at: Option<tokio::time::Instant>,
) -> (Outcome, Duration) {
    let own_limit = started + planned.policy.timeout;
    let (limit, cut_by_deadline) = match stop_at {
        Some(stop) if stop < own_limit => (stop, true),
        _ => (own_limit, false),
    };
    let run = AssertUnwindSafe(planned.check.run(&view)).catch_unwind();
    let outcome = match tokio::time::timeout_at(limit, run).await {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(panic)) => Outcome::permanent_error(
            &codes::CHECK_CRASHED,
            format!("check `{}` crashed: {}", planned.id, panic_message(&*panic)),
        ),
        Err(_) if cut_by_deadline => Outcome::transient_error(
            &codes::CHECK_DEADLINE,
            format!(
                "check `{}` was stopped before the invocation deadline",
                planned.id
            ),
        ),
        Err(_) => Outcome::transient_error(
            &codes::CHECK_TIMEOUT,
            format!(
                "check `{}` did not finish within its timeout of {}",
                planned.id,
                humantime::format_duration(planned.policy.timeout)
            ),
        ),
    };
    (outcome, started.elapsed())
}

fn finish(decision: Decision, checks: Vec<CheckReport>, state: StageState) -> Verdict {
    Verdict {
        status: decision.status,
        code: decision.code,
        message: decision.message,
        callback_delay: decision.callback_delay,
        checks,
        state,
    }
}
