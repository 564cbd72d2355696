//! Every rule that decides a stage's answer, as pure functions of values, tested by table.
//!
//! Before any check runs, in the order the hooks apply them:
//! [`malformed`] (an event that breaks the contract), [`rollback`] (never blocked),
//! [`wiring_mistake`] (a stage the invoked function must not judge), [`finished_deployment`] (an
//! event for a deployment no hook of which runs), [`unreadable`] (what cannot be read yet is waited
//! for, bounded: the deployment's status, the config), [`no_checks`].
//! Then the checks: how one outcome weighs ([`judge_outcome`], its [`Disposition`]), and how a
//! stage's dispositions [`fold`] into SUCCEEDED, IN_PROGRESS or FAILED; and an IN_PROGRESS that the
//! hook's expiry would cut short is decided now ([`hook_expiring`]).
//!
//! The result types, from a check to the engine's answer: a check's [`Outcome`] → its
//! [`Judgement`] (disposition and memory) → the stage's [`Decision`] → the engine's
//! [`Verdict`](super::Verdict) (with reports and state) → the ECS hook response
//! (`crate::protocol::ecs::HookResponse`) or the CodeDeploy report
//! (`crate::protocol::codedeploy`).

use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::codes;
use super::state::CheckMemory;
use crate::outcome::{Outcome, Status};
use crate::policy::{CheckPolicy, Mode, OnError, OnExhausted, OnInconclusive, OnNotApplicable};
use crate::protocol::codes::{
    EVENT_MALFORMED, EVENT_NOT_A_RUNNING_HOOK, EVENT_STAGE_NOT_SERVED, EVENT_STAGE_UNKNOWN,
};
use crate::reason::ReasonCode;
use crate::stage::{LifecycleStage, StageKey};

/// How soon a stage that cannot be read yet is asked about again.
pub const UNREADABLE_RETRY: Duration = Duration::from_secs(30);

/// An event that does not follow the hook's contract: FAILED, naming what is wrong.
pub fn malformed(error: impl std::fmt::Display) -> Decision {
    Decision::failed(&EVENT_MALFORMED, format!("malformed hook event: {error}"))
}

/// A deployment that is rolling back: SUCCEEDED before any check runs, whatever the stage's plan,
/// its wiring or its config. Blocking a rollback would strand the service between revisions.
pub fn rollback(evidence: &str) -> Decision {
    Decision {
        status: VerdictStatus::Succeeded,
        code: &codes::VERDICT_ROLLBACK,
        message: format!("deployment is rolling back ({evidence}); never blocking a rollback"),
        callback_delay: None,
    }
}

/// A stage the invoked function must not judge: one this version does not know, or one it does
/// not serve (`serves`), naming the function that does (`served_by`). FAILED: a wiring mistake
/// left alone would pass stages nobody judged.
pub fn wiring_mistake(
    function: &str,
    serves: &[LifecycleStage],
    stage: &LifecycleStage,
    served_by: Option<&str>,
) -> Option<Decision> {
    if !stage.is_known() {
        return Some(Decision::failed(
            &EVENT_STAGE_UNKNOWN,
            format!(
                "lifecycle stage {stage} is unknown to this version of greenlight; remove it from the hook's lifecycleStages or upgrade"
            ),
        ));
    }
    if serves.contains(stage) {
        return None;
    }
    let right = served_by
        .map(|right| format!("the `{right}` function serves it"))
        .unwrap_or_else(|| "no greenlight function serves it".to_owned());
    Some(Decision::failed(
        &EVENT_STAGE_NOT_SERVED,
        format!(
            "wiring mistake: the `{function}` function was invoked for {stage}, which it does not serve; {right}"
        ),
    ))
}

/// What greenlight cannot read yet and must not guess (a config behind a throttled parameter
/// store, a deployment status that would confirm a rollback): IN_PROGRESS, asked again after
/// [`UNREADABLE_RETRY`], until it has stayed unreadable for `max_wait` (counted from the first of
/// an unbroken run of such invocations); then FAILED, saying for how long.
pub fn unreadable(
    code: &'static ReasonCode,
    message: String,
    unreadable_for: Duration,
    max_wait: Duration,
) -> Decision {
    if unreadable_for < max_wait {
        return Decision {
            status: VerdictStatus::InProgress,
            code,
            message,
            callback_delay: Some(UNREADABLE_RETRY),
        };
    }
    Decision::failed(
        code,
        format!(
            "{message} (still so after {})",
            humantime::format_duration(max_wait)
        ),
    )
}

/// ECS deployment statuses after which no hook of the deployment runs.
pub const FINISHED_STATUSES: &[&str] = &[
    "SUCCESSFUL",
    "STOPPED",
    "ROLLBACK_SUCCESSFUL",
    "ROLLBACK_FAILED",
];

/// An invocation for a deployment that has finished (`status`, from DescribeServiceDeployments):
/// no hook of it runs, so this is not ECS asking; FAILED, refusing to judge.
pub fn finished_deployment(status: &str) -> Option<Decision> {
    FINISHED_STATUSES.contains(&status).then(|| {
        Decision::failed(
            &EVENT_NOT_A_RUNNING_HOOK,
            format!(
                "the deployment this event names is {status}: no hook of it runs now; refusing to judge"
            ),
        )
    })
}

/// A stage still IN_PROGRESS whose hook expires (`expires_at`, ECS's `expiresAt`) before the next
/// judgement could come (`next_judgement`): FAILED now, because at expiry ECS applies the hook's
/// timeout action, and `CONTINUE` would go on with a stage nobody judged.
pub fn hook_expiring(
    expires_at: SystemTime,
    next_judgement: SystemTime,
    last_verdict: &str,
) -> Option<Decision> {
    (next_judgement >= expires_at).then(|| {
        Decision::failed(
            &codes::VERDICT_HOOK_EXPIRING,
            format!(
                "this hook expires at {} (its timeoutConfiguration), before greenlight could judge the stage again; deciding now rather than leaving it to ECS's timeout action. Last verdict: {last_verdict}",
                humantime::format_rfc3339_seconds(expires_at)
            ),
        )
    })
}

/// A stage the config gives no plan: SUCCEEDED, saying so (nothing was asked of it).
pub fn no_checks(stage: &LifecycleStage, config_source: impl std::fmt::Display) -> Decision {
    Decision {
        status: VerdictStatus::Succeeded,
        code: &codes::VERDICT_NO_CHECKS,
        message: format!("the config ({config_source}) has no plan for {stage}"),
        callback_delay: None,
    }
}

/// The answer for a stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VerdictStatus {
    /// Go on with the deployment.
    Succeeded,
    /// Judge again later.
    InProgress,
    /// Roll back.
    Failed,
}

/// How one check's outcome weighs in this invocation's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    /// Counts towards SUCCEEDED.
    Pass,
    /// Needs another look: IN_PROGRESS.
    Wait,
    /// Gates the stage: FAILED.
    Fail,
    /// Reported, never gating.
    Advisory,
    /// Not finished because the verdict was already FAILED.
    Cancelled,
}

/// The disposition of one outcome, and what to remember of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judgement {
    /// How the outcome weighs.
    pub disposition: Disposition,
    /// Whether the check's `max_wait` was spent, so `on_exhausted` decided.
    pub exhausted: bool,
    /// The check's memory after this outcome.
    pub memory: CheckMemory,
}

/// A check that does not apply to the service passes, saying so, when its policy says
/// `on_not_applicable: pass`; otherwise it stays the permanent error it is.
pub fn apply_not_applicable(outcome: Outcome, policy: &CheckPolicy) -> Outcome {
    if !outcome.not_applicable || policy.on_not_applicable != OnNotApplicable::Pass {
        return outcome;
    }
    let mut passed = Outcome::pass(
        &codes::CHECK_NOT_APPLICABLE,
        // The check's own code stays in the sentence: on call reads why nothing was judged.
        format!(
            "not applicable ({}), nothing judged: {}",
            outcome.code.code, outcome.message
        ),
    );
    passed.evidence = outcome.evidence;
    passed.not_applicable = true;
    passed
}

/// Weighs one outcome under its check's policy, given what was remembered of the check and the time
/// (Unix seconds).
///
/// Errors that waiting cannot heal fail an enforcing check whatever `on_error` says; `on_error` is about
/// transient errors. A check stopped by the invocation deadline always waits (within budget): that says
/// nothing about green.
pub fn judge_outcome(
    outcome: &Outcome,
    policy: &CheckPolicy,
    before: &CheckMemory,
    now: u64,
) -> Judgement {
    enum Raw {
        Pass,
        Wait,
        Fail,
    }
    let raw = match outcome.status {
        Status::Pass => Raw::Pass,
        Status::Fail => Raw::Fail,
        Status::Inconclusive => match policy.on_inconclusive {
            OnInconclusive::Wait => Raw::Wait,
            OnInconclusive::Fail => Raw::Fail,
            OnInconclusive::Pass => Raw::Pass,
        },
        Status::Error if outcome.is_permanent_error() => Raw::Fail,
        Status::Error if std::ptr::eq(outcome.code, &codes::CHECK_DEADLINE) => Raw::Wait,
        Status::Error => match policy.on_error {
            OnError::Retry => Raw::Wait,
            OnError::Fail => Raw::Fail,
            OnError::Pass => Raw::Pass,
        },
    };
    let last_code = Some(outcome.code.code.to_owned());
    let unsettled = |passes_in_a_row| CheckMemory {
        passes_in_a_row,
        unsettled_since: Some(before.unsettled_since.unwrap_or(now)),
        last_code: last_code.clone(),
    };
    let (mut disposition, memory) = match raw {
        Raw::Fail => (
            Disposition::Fail,
            CheckMemory {
                passes_in_a_row: 0,
                unsettled_since: None,
                last_code: last_code.clone(),
            },
        ),
        Raw::Pass => {
            let passes = before.passes_in_a_row.saturating_add(1);
            if passes >= policy.consecutive.max(1) {
                (
                    Disposition::Pass,
                    CheckMemory {
                        passes_in_a_row: passes,
                        unsettled_since: None,
                        last_code: last_code.clone(),
                    },
                )
            } else {
                (Disposition::Wait, unsettled(passes))
            }
        }
        Raw::Wait => (Disposition::Wait, unsettled(0)),
    };
    let mut exhausted = false;
    if disposition == Disposition::Wait {
        let waited = now.saturating_sub(memory.unsettled_since.unwrap_or(now));
        if waited >= policy.max_wait.as_secs() {
            exhausted = true;
            disposition = match policy.on_exhausted {
                OnExhausted::Fail => Disposition::Fail,
                OnExhausted::Pass => Disposition::Pass,
            };
        }
    }
    if policy.mode == Mode::Advisory {
        disposition = Disposition::Advisory;
    }
    Judgement {
        disposition,
        exhausted,
        memory,
    }
}

/// One check's part in the verdict, for the fold.
#[derive(Debug, Clone, Copy)]
pub struct Weighed<'a> {
    /// The check's id.
    pub id: &'a str,
    /// What it concluded.
    pub outcome: &'a Outcome,
    /// How that weighs.
    pub disposition: Disposition,
    /// Whether its wait budget decided.
    pub exhausted: bool,
}

/// The folded verdict of a stage, before state and reports are attached.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The answer.
    pub status: VerdictStatus,
    /// Why, as a stable code.
    pub code: &'static ReasonCode,
    /// Why, for humans: the deciding checks with their reasons.
    pub message: String,
    /// For IN_PROGRESS: when to judge again.
    pub callback_delay: Option<Duration>,
}

impl Decision {
    /// FAILED with `code`.
    pub fn failed(code: &'static ReasonCode, message: impl Into<String>) -> Decision {
        Decision {
            status: VerdictStatus::Failed,
            code,
            message: message.into(),
            callback_delay: None,
        }
    }
}

/// Folds the dispositions of a stage's checks into its verdict, in the documented order: any
/// enforcing failure → FAILED; anything waiting → IN_PROGRESS; a bake window not over → IN_PROGRESS;
/// otherwise SUCCEEDED. (Rollback invocations never reach the fold: they pass before any check runs.)
pub fn fold(weighed: &[Weighed<'_>], bake_remaining: Duration, interval: Duration) -> Decision {
    let failed: Vec<_> = weighed
        .iter()
        .filter(|check| check.disposition == Disposition::Fail)
        .collect();
    if let Some(first) = failed.first() {
        let code = if first.exhausted {
            &codes::VERDICT_WAIT_EXHAUSTED
        } else {
            first.outcome.code
        };
        return Decision {
            status: VerdictStatus::Failed,
            code,
            message: describe(&failed, "failed"),
            callback_delay: None,
        };
    }
    let waiting: Vec<_> = weighed
        .iter()
        .filter(|check| check.disposition == Disposition::Wait)
        .collect();
    if !waiting.is_empty() {
        let code = if waiting
            .iter()
            .all(|check| std::ptr::eq(check.outcome.code, &codes::CHECK_DEADLINE))
        {
            &codes::VERDICT_DEADLINE
        } else {
            &codes::VERDICT_WAITING
        };
        return Decision {
            status: VerdictStatus::InProgress,
            code,
            message: describe(&waiting, "waiting"),
            callback_delay: Some(clamp_delay(interval)),
        };
    }
    if !bake_remaining.is_zero() {
        return Decision {
            status: VerdictStatus::InProgress,
            code: &codes::VERDICT_BAKING,
            message: format!(
                "checks pass; bake window has {} left",
                humantime::format_duration(bake_remaining)
            ),
            callback_delay: Some(clamp_delay(interval.min(bake_remaining))),
        };
    }
    if weighed.is_empty() {
        return Decision {
            status: VerdictStatus::Succeeded,
            code: &codes::VERDICT_NO_CHECKS,
            message: "no checks are configured for this stage".to_owned(),
            callback_delay: None,
        };
    }
    let exhausted_passes: Vec<_> = weighed
        .iter()
        .filter(|check| check.exhausted && check.disposition == Disposition::Pass)
        .collect();
    let mut message = format!(
        "{} of {} checks passed",
        weighed
            .iter()
            .filter(|check| check.disposition == Disposition::Pass)
            .count(),
        weighed.len()
    );
    if !exhausted_passes.is_empty() {
        message.push_str(&format!(
            "; passed by `on_exhausted: pass` without evidence: {}",
            describe(&exhausted_passes, "unsettled")
        ));
    }
    Decision {
        status: VerdictStatus::Succeeded,
        code: &codes::VERDICT_PASSED,
        message,
        callback_delay: None,
    }
}

/// Whether a waiting check waits on AWS itself refusing or failing calls (throttling, 5xx), as
/// opposed to green not being ready.
pub fn waiting_on_aws(weighed: &[Weighed<'_>]) -> bool {
    weighed.iter().any(|check| {
        check.disposition == Disposition::Wait
            && matches!(check.outcome.code.code, "AWS_THROTTLED" | "AWS_UNAVAILABLE")
    })
}

/// The callback delay after AWS throttled (or failed) a stage's calls: `delay` plus a share of it
/// (at least two seconds' worth) drawn from the stage and attempt, so that many deployments
/// throttled in the same second in one account do not all call again in the same second. The
/// same stage and attempt always get the same delay.
pub fn spread_after_throttling(delay: Duration, key: &StageKey, attempt: u32) -> Duration {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    (key, attempt).hash(&mut hasher);
    // The top 53 bits as a fraction in [0, 1).
    #[allow(clippy::cast_precision_loss)]
    let fraction = (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64;
    let spread = delay.max(Duration::from_secs(2)).mul_f64(fraction);
    let total = delay + spread;
    clamp_delay(Duration::from_secs(
        total.as_secs() + u64::from(total.subsec_millis() >= 500),
    ))
}

/// ECS documents no bounds for `callBackDelay`; keep it at least a second and at most fifteen minutes
/// (one Lambda invocation's limit), so a typo cannot park a stage for a day.
fn clamp_delay(delay: Duration) -> Duration {
    delay.clamp(Duration::from_secs(1), Duration::from_secs(15 * 60))
}

fn describe(checks: &[&Weighed<'_>], verb: &str) -> String {
    let parts: Vec<String> = checks
        .iter()
        .map(|check| {
            let exhausted = if check.exhausted {
                " (max_wait spent)"
            } else {
                ""
            };
            format!(
                "{} {verb}{exhausted}: {} [{}]",
                check.id, check.outcome.message, check.outcome.code
            )
        })
        .collect();
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finished_deployment_is_refused_and_a_running_one_judged() {
        for status in FINISHED_STATUSES {
            let decision = finished_deployment(status).expect("refused");
            assert_eq!(decision.status, VerdictStatus::Failed);
            assert_eq!(decision.code.code, "EVENT_NOT_A_RUNNING_HOOK");
            assert!(decision.message.contains(status), "{}", decision.message);
        }
        for status in [
            "PENDING",
            "IN_PROGRESS",
            "ROLLBACK_IN_PROGRESS",
            "ROLLBACK_REQUESTED",
        ] {
            assert!(finished_deployment(status).is_none(), "{status}");
        }
    }

    #[test]
    fn a_hook_expiring_before_the_next_judgement_is_decided_now() {
        let expires = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let before = expires - Duration::from_secs(1);
        assert!(hook_expiring(expires, before, "waiting").is_none());
        for next in [expires, expires + Duration::from_secs(60)] {
            let decision = hook_expiring(expires, next, "waiting for 3 passes").expect("expiring");
            assert_eq!(decision.status, VerdictStatus::Failed);
            assert_eq!(decision.code.code, "VERDICT_HOOK_EXPIRING");
            assert!(
                decision.message.contains("2027-01-15T08:00:00Z"),
                "{}",
                decision.message
            );
            assert!(
                decision.message.contains("waiting for 3 passes"),
                "{}",
                decision.message
            );
        }
    }

    const NOW: u64 = 10_000;

    fn policy() -> CheckPolicy {
        CheckPolicy {
            max_wait: Duration::from_secs(600),
            ..CheckPolicy::default()
        }
    }

    fn memory(passes: u32, unsettled_since: Option<u64>) -> CheckMemory {
        CheckMemory {
            passes_in_a_row: passes,
            unsettled_since,
            last_code: None,
        }
    }

    fn pass() -> Outcome {
        Outcome::pass(&codes::VERDICT_PASSED, "ok")
    }
    fn fail() -> Outcome {
        Outcome::fail(&EVENT_MALFORMED, "bad")
    }
    fn inconclusive() -> Outcome {
        Outcome::inconclusive(&codes::VERDICT_WAITING, "no data")
    }
    fn transient() -> Outcome {
        Outcome::transient_error(&codes::CHECK_TIMEOUT, "slow")
    }
    fn permanent() -> Outcome {
        Outcome::permanent_error(&EVENT_MALFORMED, "denied ecs:DescribeServices")
    }

    #[test]
    fn a_check_that_does_not_apply_passes_only_when_its_policy_says_so() {
        let missing = Outcome::not_applicable(&codes::CHECK_CRASHED, "no test listener rule")
            .with_evidence(crate::outcome::Evidence::new("test listener rule", "none"));
        let strict = apply_not_applicable(missing.clone(), &policy());
        assert!(strict.is_permanent_error());
        let judged = judge_outcome(&strict, &policy(), &memory(0, None), NOW);
        assert_eq!(judged.disposition, Disposition::Fail);

        let lenient = CheckPolicy {
            on_not_applicable: OnNotApplicable::Pass,
            ..policy()
        };
        let passed = apply_not_applicable(missing, &lenient);
        assert_eq!(passed.status, Status::Pass);
        assert_eq!(passed.code.code, "CHECK_NOT_APPLICABLE");
        assert!(
            passed.message.starts_with("not applicable ("),
            "{}",
            passed.message
        );
        assert!(
            passed.message.contains("nothing judged"),
            "{}",
            passed.message
        );
        assert_eq!(passed.evidence.len(), 1);
        // An ordinary permanent error stays one under either policy.
        let denied = Outcome::permanent_error(&codes::CHECK_CRASHED, "denied");
        assert!(apply_not_applicable(denied, &lenient).is_permanent_error());
    }

    #[test]
    fn dispositions_follow_the_policy_table() {
        use Disposition::*;
        let base = policy();
        let on_inconclusive = |on_inconclusive| CheckPolicy {
            on_inconclusive,
            ..base
        };
        let on_error = |on_error| CheckPolicy { on_error, ..base };
        let advisory = CheckPolicy {
            mode: Mode::Advisory,
            ..base
        };
        let consecutive = CheckPolicy {
            consecutive: 3,
            ..base
        };
        let no_wait_pass = CheckPolicy {
            max_wait: Duration::ZERO,
            on_exhausted: OnExhausted::Pass,
            ..base
        };
        let fresh = memory(0, None);
        let table: Vec<(&str, Outcome, CheckPolicy, CheckMemory, Disposition, bool)> = vec![
            ("pass", pass(), base, fresh.clone(), Pass, false),
            ("fail", fail(), base, fresh.clone(), Fail, false),
            (
                "inconclusive waits",
                inconclusive(),
                base,
                fresh.clone(),
                Wait,
                false,
            ),
            (
                "inconclusive may fail",
                inconclusive(),
                on_inconclusive(OnInconclusive::Fail),
                fresh.clone(),
                Fail,
                false,
            ),
            (
                "inconclusive may pass",
                inconclusive(),
                on_inconclusive(OnInconclusive::Pass),
                fresh.clone(),
                Pass,
                false,
            ),
            (
                "transient retries",
                transient(),
                base,
                fresh.clone(),
                Wait,
                false,
            ),
            (
                "transient may fail",
                transient(),
                on_error(OnError::Fail),
                fresh.clone(),
                Fail,
                false,
            ),
            (
                "transient may pass",
                transient(),
                on_error(OnError::Pass),
                fresh.clone(),
                Pass,
                false,
            ),
            (
                "permanent fails whatever on_error says",
                permanent(),
                on_error(OnError::Pass),
                fresh.clone(),
                Fail,
                false,
            ),
            (
                "budget left",
                inconclusive(),
                base,
                memory(0, Some(NOW - 599)),
                Wait,
                false,
            ),
            (
                "budget spent fails",
                inconclusive(),
                base,
                memory(0, Some(NOW - 600)),
                Fail,
                true,
            ),
            (
                "budget spent may pass",
                transient(),
                no_wait_pass,
                fresh.clone(),
                Pass,
                true,
            ),
            (
                "advisory fail does not gate",
                fail(),
                advisory,
                fresh.clone(),
                Advisory,
                false,
            ),
            (
                "advisory permanent error does not gate",
                permanent(),
                advisory,
                fresh.clone(),
                Advisory,
                false,
            ),
            (
                "first of three passes waits",
                pass(),
                consecutive,
                fresh.clone(),
                Wait,
                false,
            ),
            (
                "third pass in a row passes",
                pass(),
                consecutive,
                memory(2, Some(NOW - 60)),
                Pass,
                false,
            ),
        ];
        for (name, outcome, policy, before, disposition, exhausted) in table {
            let judgement = judge_outcome(&outcome, &policy, &before, NOW);
            assert_eq!(judgement.disposition, disposition, "{name}");
            assert_eq!(judgement.exhausted, exhausted, "{name}");
        }
    }

    #[test]
    fn memory_counts_passes_and_the_start_of_unsettled_runs() {
        let consecutive = CheckPolicy {
            consecutive: 2,
            ..policy()
        };
        let first = judge_outcome(&pass(), &consecutive, &memory(0, None), NOW);
        assert_eq!(first.memory.passes_in_a_row, 1);
        assert_eq!(first.memory.unsettled_since, Some(NOW));
        let second = judge_outcome(&pass(), &consecutive, &first.memory, NOW + 30);
        assert_eq!(
            second.memory,
            CheckMemory {
                passes_in_a_row: 2,
                unsettled_since: None,
                last_code: Some("VERDICT_PASSED".into()),
            }
        );
        let waiting = judge_outcome(&inconclusive(), &policy(), &second.memory, NOW + 60);
        assert_eq!(waiting.memory.passes_in_a_row, 0);
        assert_eq!(waiting.memory.unsettled_since, Some(NOW + 60));
        let still = judge_outcome(&transient(), &policy(), &waiting.memory, NOW + 90);
        assert_eq!(still.memory.unsettled_since, Some(NOW + 60));
        let failed = judge_outcome(&fail(), &policy(), &still.memory, NOW + 120);
        assert_eq!(failed.memory.unsettled_since, None);
    }

    fn weighed<'a>(id: &'a str, outcome: &'a Outcome, disposition: Disposition) -> Weighed<'a> {
        Weighed {
            id,
            outcome,
            disposition,
            exhausted: false,
        }
    }

    #[test]
    fn fold_puts_failure_before_waiting_before_baking() {
        let (ok, bad, unsure) = (pass(), fail(), inconclusive());
        let interval = Duration::from_secs(30);
        let all = [
            weighed("a", &ok, Disposition::Pass),
            weighed("b", &unsure, Disposition::Wait),
            weighed("c", &bad, Disposition::Fail),
        ];
        let failed = fold(&all, Duration::from_secs(60), interval);
        assert_eq!(failed.status, VerdictStatus::Failed);
        assert_eq!(failed.code.code, "EVENT_MALFORMED");
        assert!(
            failed.message.contains("c failed: bad"),
            "{}",
            failed.message
        );

        let waiting = fold(&all[..2], Duration::from_secs(60), interval);
        assert_eq!(waiting.status, VerdictStatus::InProgress);
        assert_eq!(waiting.code.code, "VERDICT_WAITING");
        assert_eq!(waiting.callback_delay, Some(interval));

        let baking = fold(&all[..1], Duration::from_secs(12), interval);
        assert_eq!(baking.code.code, "VERDICT_BAKING");
        assert_eq!(baking.callback_delay, Some(Duration::from_secs(12)));

        let passed = fold(&all[..1], Duration::ZERO, interval);
        assert_eq!(passed.status, VerdictStatus::Succeeded);
        assert_eq!(passed.code.code, "VERDICT_PASSED");
    }

    #[test]
    fn exhausted_failure_says_so() {
        let unsure = inconclusive();
        let check = Weighed {
            exhausted: true,
            ..weighed("metric", &unsure, Disposition::Fail)
        };
        let decision = fold(&[check], Duration::ZERO, Duration::from_secs(30));
        assert_eq!(decision.code.code, "VERDICT_WAIT_EXHAUSTED");
        assert!(decision.message.contains("max_wait spent"));
    }

    #[test]
    fn advisory_only_and_empty_plans_succeed_with_their_own_codes() {
        let bad = fail();
        let advisory = fold(
            &[weighed("x", &bad, Disposition::Advisory)],
            Duration::ZERO,
            Duration::from_secs(30),
        );
        assert_eq!(advisory.status, VerdictStatus::Succeeded);
        let empty = fold(&[], Duration::ZERO, Duration::from_secs(30));
        assert_eq!(empty.code.code, "VERDICT_NO_CHECKS");
    }

    #[test]
    fn throttled_waits_are_spread_out_across_deployments_and_reproducible() {
        let key = |deployment: &str| StageKey::new(deployment, "POST_TEST_TRAFFIC_SHIFT", None);
        let delay = Duration::from_secs(10);
        let delays: Vec<Duration> = (0..200)
            .map(|n| spread_after_throttling(delay, &key(&format!("arn:d/{n}")), 1))
            .collect();
        for spread in &delays {
            assert!(
                (delay..=delay * 2).contains(spread),
                "between the delay and twice it: {spread:?}"
            );
        }
        let distinct: std::collections::BTreeSet<_> = delays.iter().collect();
        assert!(
            distinct.len() >= 8,
            "200 deployments spread over {distinct:?}"
        );
        assert_eq!(
            spread_after_throttling(delay, &key("arn:d/1"), 3),
            spread_after_throttling(delay, &key("arn:d/1"), 3)
        );
        // A one-second interval still spreads over a few seconds, and stays clamped.
        let short = spread_after_throttling(Duration::from_secs(1), &key("arn:d/1"), 1);
        assert!((Duration::from_secs(1)..=Duration::from_secs(3)).contains(&short));
        let long = spread_after_throttling(Duration::from_secs(900), &key("arn:d/1"), 1);
        assert_eq!(long, Duration::from_secs(900));

        // Only a wait on AWS itself is spread.
        let throttled = Outcome::transient_error(&crate::facts::AWS_THROTTLED, "Rate exceeded");
        let unsure = inconclusive();
        assert!(waiting_on_aws(&[weighed(
            "a",
            &throttled,
            Disposition::Wait
        )]));
        assert!(!waiting_on_aws(&[weighed("a", &unsure, Disposition::Wait)]));
        assert!(!waiting_on_aws(&[weighed(
            "a",
            &throttled,
            Disposition::Advisory
        )]));
    }

    #[test]
    fn callback_delay_is_clamped() {
        let unsure = inconclusive();
        let waiting = [weighed("x", &unsure, Disposition::Wait)];
        assert_eq!(
            fold(&waiting, Duration::ZERO, Duration::ZERO).callback_delay,
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            fold(&waiting, Duration::ZERO, Duration::from_secs(86_400)).callback_delay,
            Some(Duration::from_secs(900))
        );
    }

    #[test]
    fn rules_before_any_check_answer_as_documented() {
        let malformed = malformed("lifecycleStage: missing");
        assert_eq!(
            (malformed.status, malformed.code.code),
            (VerdictStatus::Failed, "EVENT_MALFORMED")
        );
        assert!(malformed.message.contains("lifecycleStage: missing"));

        let rollback = rollback("green 0%");
        assert_eq!(
            (rollback.status, rollback.code.code),
            (VerdictStatus::Succeeded, "VERDICT_ROLLBACK")
        );

        let serves = [LifecycleStage::PostScaleUp];
        assert_eq!(
            wiring_mistake("post-scale-up", &serves, &LifecycleStage::PostScaleUp, None),
            None
        );
        let elsewhere = wiring_mistake(
            "post-scale-up",
            &serves,
            &LifecycleStage::PreScaleUp,
            Some("pre-scale-up"),
        )
        .expect("not served");
        assert_eq!(
            (elsewhere.status, elsewhere.code.code),
            (VerdictStatus::Failed, "EVENT_STAGE_NOT_SERVED")
        );
        assert!(
            elsewhere
                .message
                .contains("the `pre-scale-up` function serves it")
        );
        let unknown: LifecycleStage = "PRE_LAUNCH".parse().expect("any name");
        let unknown = wiring_mistake("post-scale-up", &serves, &unknown, None).expect("unknown");
        assert_eq!(unknown.code.code, "EVENT_STAGE_UNKNOWN");

        let none = no_checks(&LifecycleStage::PostScaleUp, "built-in plans");
        assert_eq!(
            (none.status, none.code.code),
            (VerdictStatus::Succeeded, "VERDICT_NO_CHECKS")
        );
    }

    #[test]
    fn what_cannot_be_read_is_waited_for_then_fails() {
        let max_wait = Duration::from_secs(900);
        let waiting = unreadable(
            &EVENT_MALFORMED,
            "throttled".into(),
            Duration::from_secs(899),
            max_wait,
        );
        assert_eq!(waiting.status, VerdictStatus::InProgress);
        assert_eq!(waiting.callback_delay, Some(UNREADABLE_RETRY));
        // (The hook spreads it out: `spread_after_throttling`.)
        assert_eq!(waiting.message, "throttled");
        let spent = unreadable(&EVENT_MALFORMED, "throttled".into(), max_wait, max_wait);
        assert_eq!(spent.status, VerdictStatus::Failed);
        assert_eq!(spent.message, "throttled (still so after 15m)");
    }
}
