//! Reason codes the engine itself emits: verdicts, and what happened to a check's run.

use crate::reason::ReasonCode;

/// Every enforcing check passed.
pub static VERDICT_PASSED: ReasonCode = ReasonCode {
    code: "VERDICT_PASSED",
    summary: "Every enforcing check passed (and the bake window, if any, is over).",
    what: "The engine ran the stage's plan and every enforcing check passed, with its consecutive passes where required.",
    why: "This is the only way greenlight answers SUCCEEDED for a stage with checks: on evidence.",
    fix: "Nothing to fix.",
};

/// The stage's plan has no checks.
pub static VERDICT_NO_CHECKS: ReasonCode = ReasonCode {
    code: "VERDICT_NO_CHECKS",
    summary: "The config gives this stage no checks, so there was nothing to judge.",
    what: "The resolved config's plan for this stage is an empty list.",
    why: "An empty plan is an explicit choice in the config; greenlight says so rather than pretend it checked something.",
    fix: "If the stage should be judged, list checks for it in the config (or remove the empty entry to inherit the built-in plan).",
};

/// A rollback invocation passes at once.
pub static VERDICT_ROLLBACK: ReasonCode = ReasonCode {
    code: "VERDICT_ROLLBACK",
    summary: "The deployment is rolling back; the hook answered SUCCEEDED at once.",
    what: "The event's weights give the green revision 0% and another revision 100% (production or test traffic).",
    why: "ECS re-invokes traffic-shift hooks while it rolls back; blocking a rollback would keep the bad revision serving.",
    fix: "Nothing to fix here; look at the earlier invocation that failed the deployment for the reason.",
};

/// The stage waits for its bake window to end.
pub static VERDICT_BAKING: ReasonCode = ReasonCode {
    code: "VERDICT_BAKING",
    summary: "Checks pass so far; the bake window is not over yet.",
    what: "The stage (or LINEAR/CANARY step) started at the recorded time and its `bake` has not elapsed.",
    why: "Problems often show only under real traffic after some minutes; the stage is judged again until the window ends.",
    fix: "Nothing to fix; shorten `bake` in the stage's config if the window is longer than needed.",
};

/// The stage waits for evidence.
pub static VERDICT_WAITING: ReasonCode = ReasonCode {
    code: "VERDICT_WAITING",
    summary: "An enforcing check has no conclusive evidence yet; the stage will be judged again.",
    what: "An enforcing check was inconclusive (no data, too few samples, not yet N passes in a row) or hit a transient error, and its `max_wait` is not spent.",
    why: "No evidence is not success, and a throttled API is not a failed deployment: waiting is the honest answer.",
    fix: "Usually nothing; if it waits often, give the check more traffic or a longer window, or lower its `min_*` thresholds.",
};

/// The hook would expire before greenlight could judge it again.
pub static VERDICT_HOOK_EXPIRING: ReasonCode = ReasonCode {
    code: "VERDICT_HOOK_EXPIRING",
    summary: "The stage was still undecided and the hook expires before greenlight's next judgement: greenlight decided FAILED rather than leave it to ECS's timeout action.",
    what: "ECS reports when this hook's execution expires (lifecycleHookDetails expiresAt, from the hook's timeoutConfiguration). The stage was IN_PROGRESS (baking or waiting for evidence), and the next invocation would come after that time.",
    why: "At expiry ECS applies the hook's timeout action; with CONTINUE it would go on with a stage nobody judged. greenlight decides while it still can, and the only honest decision without a finished judgement is FAILED.",
    fix: "Raise the hook's timeoutConfiguration.timeoutInMinutes above the stage's bake and max_wait (plus the callback interval), or shorten the bake; the message carries the last verdict.",
};

/// A check stayed unsettled past its budget.
pub static VERDICT_WAIT_EXHAUSTED: ReasonCode = ReasonCode {
    code: "VERDICT_WAIT_EXHAUSTED",
    summary: "A check stayed inconclusive or erroring longer than its `max_wait`.",
    what: "The time since the check's first unsettled outcome in a row reached its `max_wait`; its `on_exhausted` policy decided.",
    why: "A deployment must not wait forever for evidence that does not come; by default that fails the stage.",
    fix: "Look at the check's last reason: make the evidence available (traffic, metrics, permissions) or raise `max_wait`.",
};

/// The invocation stopped before the Lambda deadline.
pub static VERDICT_DEADLINE: ReasonCode = ReasonCode {
    code: "VERDICT_DEADLINE",
    summary: "Too little time was left in the invocation to run the checks; the stage will be judged again.",
    what: "The time remaining before the Lambda deadline, less the safety margin, was too short to start the checks.",
    why: "Answering before the deadline keeps ECS from seeing a timed-out function, which it treats as a failure.",
    fix: "Raise the function's timeout, or lower the checks' `timeout`.",
};

/// A check ran out of its own timeout.
pub static CHECK_TIMEOUT: ReasonCode = ReasonCode {
    code: "CHECK_TIMEOUT",
    summary: "A check did not finish within its `timeout`.",
    what: "The check's run was stopped when its configured timeout elapsed.",
    why: "A slow API or endpoint says nothing about green yet; it is treated as a transient error and retried under the check's policy.",
    fix: "Raise the check's `timeout` if the work is legitimately slow; otherwise look for a slow dependency.",
};

/// A check was stopped because the Lambda deadline approached.
pub static CHECK_DEADLINE: ReasonCode = ReasonCode {
    code: "CHECK_DEADLINE",
    summary: "A check was stopped because the invocation's deadline was near.",
    what: "The engine stops all work a safety margin before the Lambda deadline and answers instead of being killed.",
    why: "A killed function fails the hook; stopping early lets the stage be judged again on the next invocation.",
    fix: "Raise the function's timeout or lower the check's `timeout` so that checks fit in one invocation.",
};

/// A check crashed.
pub static CHECK_CRASHED: ReasonCode = ReasonCode {
    code: "CHECK_CRASHED",
    summary: "A check crashed (a bug in greenlight or in the check).",
    what: "The check's code panicked; the engine caught it and recorded this outcome instead.",
    why: "A check that cannot run gives no evidence; the stage fails rather than pass without it.",
    fix: "Report the bug with the function's log line for this invocation; set the check to `mode: advisory` to unblock deployments meanwhile.",
};

/// A check was cancelled after another enforcing check had failed.
pub static CHECK_CANCELLED: ReasonCode = ReasonCode {
    code: "CHECK_CANCELLED",
    summary: "The check was stopped because another enforcing check had already failed the stage.",
    what: "The engine fails fast: once the verdict is FAILED the remaining checks are not waited for.",
    why: "Rolling back sooner protects customers; the stopped checks could not change the verdict.",
    fix: "Nothing to fix for this check; see the check that failed.",
};

/// A check that cannot apply to the service passed because its policy says so.
pub static CHECK_NOT_APPLICABLE: ReasonCode = ReasonCode {
    code: "CHECK_NOT_APPLICABLE",
    summary: "The check does not apply to this service (no load balancer, no test listener rule, no Service Connect) and its policy says `on_not_applicable: pass`.",
    what: "The check found that the service lacks the resource it judges; its evidence names what is missing. The built-in plans run on every topology AWS documents for blue/green and mark such checks not applicable instead of failing.",
    why: "A service without a test listener cannot be sent test traffic; failing every deployment for it would teach teams to turn greenlight off. The pass says plainly that nothing was judged, so nobody mistakes it for evidence.",
    fix: "Nothing, if the topology is intended. To require the resource, set `on_not_applicable: fail` on the check; to judge the service another way, add checks that fit it (alarms, metric, lambda).",
};

/// Every code of this family.
pub static ALL: &[&ReasonCode] = &[
    &VERDICT_PASSED,
    &VERDICT_NO_CHECKS,
    &VERDICT_ROLLBACK,
    &VERDICT_BAKING,
    &VERDICT_WAITING,
    &VERDICT_WAIT_EXHAUSTED,
    &VERDICT_DEADLINE,
    &VERDICT_HOOK_EXPIRING,
    &CHECK_TIMEOUT,
    &CHECK_DEADLINE,
    &CHECK_CRASHED,
    &CHECK_CANCELLED,
    &CHECK_NOT_APPLICABLE,
];
