//! One invocation of a CodeDeploy AppSpec hook, end to end: event in, exactly one report out.
//!
//! This is the whole logic of the `codedeploy-hook` function, the mirror of [`crate::hook`] for
//! CodeDeploy. The contract differs from ECS's in ways that shape every step:
//! - CodeDeploy ignores what the function returns and waits (up to an hour) for one
//!   `PutLifecycleEventHookExecutionStatus` call. So once the event's ids are known, every path —
//!   errors, a broken config, a crash — ends in one report, through a [`PendingReport`] that can be
//!   sent once only. Only an event without ids (nobody to report to) and a report that did not get
//!   through are invocation errors ([`HookError`]).
//! - There is no IN_PROGRESS. A bake is judged repeatedly inside the invocation, stopping short of the
//!   Lambda deadline; when the bake outlasts the invocation, the state is handed to an asynchronous
//!   invocation of the same function ([`CodeDeployBackend::hand_off`]), which judges on and reports.
//! - The event names neither the hook nor the service. The hook comes from `GREENLIGHT_HOOK` (or a
//!   handoff), else from the deployment target's lifecycle event in progress; the service from
//!   CodeDeploy's deployment group and target ([`CodeDeployBackend::discover`]).
//!
//! The steps, in order: parse the event; learn the deployment (transient failures are retried within
//! the invocation); a rollback deployment passes at once; find the hook; resolve the config (the same
//! format and stage plans as the ECS functions, `{application}` and `{deploymentGroup}` placeholders
//! allowed); refuse a plan that cannot finish within CodeDeploy's hour; judge until a verdict, handing
//! off when the invocation ends first; report.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures::FutureExt;
use serde::Serialize;
use serde_json::{Value, json};

use crate::config::StagePlanSpec;
use crate::config::resolve::{ConfigLookup, ConfigReferenceReader, Placeholders, resolve_config};
use crate::document::codes::CONFIG_INVALID;
use crate::engine::clock::{Clock, unix_seconds};
use crate::engine::codes::{CHECK_CRASHED, VERDICT_DEADLINE, VERDICT_WAIT_EXHAUSTED};
use crate::engine::verdict::VerdictStatus;
use crate::engine::{Engine, Invocation, Plan};
use crate::facts::{FactError, Facts};
use crate::protocol::codedeploy::{
    CodeDeployHook, EventError, LifecycleReporter, PendingReport, ReportAck, ReportError,
    ReportStatus, parse_codedeploy_event,
};
use crate::protocol::codes::EVENT_HOOK_UNKNOWN;
use crate::protocol::{GREENLIGHT_DETAILS_KEY, STATE_KEY};
use crate::reason::ReasonCode;
use crate::stage::StageKey;
use crate::telemetry::{DeploymentEngine, InvocationSummary, Subject};

/// The environment variable naming the hook a deployed function serves (`AfterAllowTraffic`).
pub const HOOK_ENV_VAR: &str = "GREENLIGHT_HOOK";

/// CodeDeploy fails a deployment whose hook has not reported within this long.
pub const CODEDEPLOY_HOOK_LIMIT: Duration = Duration::from_secs(60 * 60);

/// The `creator` of a deployment CodeDeploy started to roll another back.
pub const ROLLBACK_CREATOR: &str = "codeDeployRollback";

/// Every `creator` of a rollback deployment in CodeDeploy's model (`DeploymentCreator`): its own
/// rollbacks and CloudFormation's.
pub const ROLLBACK_CREATORS: &[&str] = &[ROLLBACK_CREATOR, "CloudFormationRollback"];

/// Judging stops this long before [`CODEDEPLOY_HOOK_LIMIT`], leaving time to report.
const LIMIT_MARGIN: Duration = Duration::from_secs(2 * 60);

/// The most times one hook execution is handed to a new invocation: a bound on a chain that a
/// broken deadline could otherwise keep alive (15-minute invocations need four for an hour).
pub const MAX_HANDOFFS: u32 = 32;

/// How long to wait before asking CodeDeploy (or the config store) again after a transient error.
const RETRY_DELAY: Duration = Duration::from_secs(5);

/// Judging stops this long before the Lambda deadline: the time kept for the report (with its
/// retries) or the handoff.
pub const REPORT_RESERVE: Duration = Duration::from_secs(10);

/// The report is sent with this much time to spare before the Lambda deadline.
const REPORT_SAFETY: Duration = Duration::from_millis(500);

/// What CodeDeploy says about the deployment, learned once per invocation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeploymentContext {
    /// The deployment id (`d-…`).
    pub deployment_id: String,
    /// The CodeDeploy application.
    pub application: String,
    /// The deployment group.
    pub deployment_group: String,
    /// The deployment's status (`InProgress`, `Stopped`, …).
    pub status: String,
    /// Who started it: `user`, `autoscaling`, `codeDeployRollback`, …
    pub creator: Option<String>,
    /// The deployment this one rolls back, when it is a rollback.
    pub rolls_back: Option<String>,
    /// The name of the target's lifecycle event that is `InProgress`, if any.
    pub lifecycle_event_in_progress: Option<String>,
    /// The ECS cluster name.
    pub cluster: String,
    /// The ECS service name.
    pub service: String,
}

impl DeploymentContext {
    /// Whether this deployment rolls another back: its creator is one of the rollback creators.
    /// `rollbackInfo` alone does not decide: the model documents its fields loosely, and taking a
    /// forward deployment for a rollback would pass it unjudged.
    pub fn is_rollback(&self) -> bool {
        self.creator
            .as_deref()
            .is_some_and(|creator| ROLLBACK_CREATORS.contains(&creator))
    }
}

/// Makes the facts of one judgement: fresh for each, since a bake judges many times per invocation.
pub type FactsFactory = Box<dyn Fn() -> Arc<dyn Facts> + Send + Sync>;

/// A deployment learned, and how to gather fresh facts about it for each judgement.
pub struct Discovered {
    /// What CodeDeploy said.
    pub context: DeploymentContext,
    /// Builds the facts of one judgement (no call is made until a check asks).
    pub facts: FactsFactory,
}

/// The future a [`CodeDeployBackend`] returns.
pub type BackendFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the CodeDeploy function provides: AWS in production, fakes in tests.
pub trait CodeDeployBackend: Send + Sync {
    /// Learns the deployment (`GetDeployment`, `GetDeploymentGroup`, the deployment target, the ECS
    /// service).
    fn discover<'a>(
        &'a self,
        deployment_id: &'a str,
    ) -> BackendFuture<'a, Result<Discovered, FactError>>;
    /// Runnable checks for a stage plan.
    fn build_plan(&self, spec: &StagePlanSpec, facts: &Arc<dyn Facts>) -> Plan;
    /// Reads config references (`ssm:`, `s3://`, files).
    fn config_reader(&self) -> &dyn ConfigReferenceReader;
    /// Reports to CodeDeploy.
    fn reporter(&self) -> &dyn LifecycleReporter;
    /// Starts an asynchronous invocation of this function with `payload`.
    fn hand_off<'a>(&'a self, payload: Value) -> BackendFuture<'a, Result<(), String>>;
}

/// What the function's environment says.
#[derive(Debug, Clone, Copy, Default)]
pub struct HookSettings<'a> {
    /// The value of `GREENLIGHT_HOOK`, if set.
    pub hook: Option<&'a str>,
    /// The value of `GREENLIGHT_CONFIG`, if set.
    pub env_config: Option<&'a str>,
}

/// How an invocation that had the event's ids ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum HookOutcome {
    /// CodeDeploy has the result.
    Reported {
        /// What was reported.
        status: ReportStatus,
        /// Whether CodeDeploy recorded it now or had already.
        already_completed: bool,
        /// Why, as a stable code.
        reason: &'static str,
        /// Why, for humans.
        message: String,
    },
    /// The bake goes on in another invocation, which owes the report now.
    HandedOff {
        /// How many times this execution has been handed off, this time included.
        handoffs: u32,
        /// The verdict so far.
        message: String,
    },
}

/// Why an invocation fails (what Lambda sees as a function error).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HookError {
    /// The event has no usable ids, so there is nothing to report to.
    #[error("malformed CodeDeploy hook event, nothing can be reported without its ids: {0}")]
    Malformed(EventError),
    /// The report did not get through.
    #[error(
        "the {status} report for deployment {deployment_id} ({reason}) did not reach CodeDeploy: {error}"
    )]
    Report {
        /// The deployment.
        deployment_id: String,
        /// What was to be reported.
        status: ReportStatus,
        /// Why, as the verdict said.
        reason: String,
        /// What went wrong.
        error: ReportError,
    },
}

impl HookError {
    /// The reason code of this error: what Lambda records as the invocation's error type.
    pub fn reason(&self) -> &'static ReasonCode {
        match self {
            HookError::Malformed(_) => &crate::protocol::codes::EVENT_MALFORMED,
            HookError::Report { error, .. } => error.reason(),
        }
    }
}

/// What one execution comes to before anything is sent.
enum Decision {
    Report {
        status: ReportStatus,
        code: &'static ReasonCode,
        message: String,
    },
    HandOff {
        payload: Value,
        handoffs: u32,
        message: String,
    },
}

fn failed(code: &'static ReasonCode, message: impl Into<String>) -> Decision {
    Decision::Report {
        status: ReportStatus::Failed,
        code,
        message: message.into(),
    }
}

fn succeeded(code: &'static ReasonCode, message: impl Into<String>) -> Decision {
    Decision::Report {
        status: ReportStatus::Succeeded,
        code,
        message: message.into(),
    }
}

/// Handles one invocation of the CodeDeploy hook function: `payload` is CodeDeploy's event, or a
/// handoff from an earlier invocation (the same ids plus greenlight's state under `greenlight`).
///
/// `clock` is wall time (bake windows span invocations); `deadline` is when Lambda stops the
/// invocation. Judging stops [`REPORT_RESERVE`] before it.
pub async fn handle_codedeploy_hook(
    payload: &Value,
    backend: &dyn CodeDeployBackend,
    clock: &dyn Clock,
    settings: &HookSettings<'_>,
    deadline: SystemTime,
) -> CodeDeployAnswer {
    let mut subject = Subject::unknown(DeploymentEngine::CodeDeploy);
    subject.deployment = payload["DeploymentId"]
        .as_str()
        .filter(|id| !id.is_empty())
        .map(str::to_owned);
    // Filled in as the execution learns the deployment, the hook and each judgement, and
    // completed with what was decided.
    let mut summary =
        InvocationSummary::decided(subject, VerdictStatus::Failed, &VERDICT_DEADLINE, "");
    let result = answer_execution(payload, backend, clock, settings, deadline, &mut summary).await;
    CodeDeployAnswer { result, summary }
}

/// What one invocation of the CodeDeploy hook function comes to.
#[derive(Debug)]
pub struct CodeDeployAnswer {
    /// What Lambda gets: the outcome, or the function error.
    pub result: Result<HookOutcome, HookError>,
    /// What the invocation's one summary line says: what was decided (reported, or handed off),
    /// about whom, with the last judgement's checks. Written by the function, whatever `result`.
    pub summary: InvocationSummary,
}

async fn answer_execution(
    payload: &Value,
    backend: &dyn CodeDeployBackend,
    clock: &dyn Clock,
    settings: &HookSettings<'_>,
    deadline: SystemTime,
    summary: &mut InvocationSummary,
) -> Result<HookOutcome, HookError> {
    let engine = &Engine::new(clock, REPORT_RESERVE);
    let event = match parse_codedeploy_event(payload) {
        Ok(event) => event,
        Err(error) => {
            summary.reason = error.reason();
            summary.message = format!(
                "malformed CodeDeploy hook event, nothing can be reported without its ids: {error}"
            );
            return Err(HookError::Malformed(error));
        }
    };
    let pending = PendingReport::new(&event);
    let carried = payload
        .get(GREENLIGHT_DETAILS_KEY)
        .filter(|value| value.is_object());

    // Whatever happens while judging — a panic or a call that stalls included — the report below
    // is still sent, with REPORT_RESERVE left for it.
    // Half the reserve: the engine stops its checks at the full reserve and hands a long bake
    // off; this guard only catches what runs past that (a stalled call outside the engine).
    let judge_until = tokio_deadline(engine, deadline)
        .checked_sub(REPORT_RESERVE / 2)
        .unwrap_or_else(tokio::time::Instant::now);
    let judged = tokio::time::timeout_at(
        judge_until,
        AssertUnwindSafe(judge_execution(
            &event.deployment_id,
            &event.lifecycle_event_hook_execution_id,
            carried,
            backend,
            engine,
            settings,
            deadline,
            summary,
        ))
        .catch_unwind(),
    )
    .await;
    let decision = match judged {
        Ok(Ok(decision)) => decision,
        Ok(Err(panic)) => failed(
            &CHECK_CRASHED,
            format!(
                "greenlight crashed while judging the hook: {}",
                crate::engine::panic_message(&*panic)
            ),
        ),
        // Unheard, CodeDeploy would wait its hour and then fail the deployment anyway.
        Err(_elapsed) => failed(
            &VERDICT_DEADLINE,
            "judging did not finish before the invocation deadline (a call to AWS stalled); \
             check the region's service health and the function's timeout"
                .to_owned(),
        ),
    };

    let report_deadline = tokio_deadline(engine, deadline)
        .checked_sub(REPORT_SAFETY)
        .unwrap_or_else(tokio::time::Instant::now);
    let (status, code, message) = match decision {
        Decision::Report {
            status,
            code,
            message,
        } => (status, code, message),
        Decision::HandOff {
            payload,
            handoffs,
            message,
        } => {
            let handed = tokio::time::timeout_at(report_deadline, backend.hand_off(payload)).await;
            match handed {
                Ok(Ok(())) => {
                    let _ids = pending.hand_over();
                    summary.status = VerdictStatus::InProgress;
                    summary.reason = &VERDICT_DEADLINE;
                    summary.message = format!(
                        "the bake outlasts this invocation; handed off to a new invocation ({handoffs} so far): {message}"
                    );
                    return Ok(HookOutcome::HandedOff { handoffs, message });
                }
                Ok(Err(error)) => (
                    ReportStatus::Failed,
                    &VERDICT_DEADLINE,
                    format!(
                        "the bake outlasts this invocation and handing it to a new invocation failed \
                         (the function's role needs lambda:InvokeFunction on itself): {error}; last verdict: {message}"
                    ),
                ),
                Err(_elapsed) => (
                    ReportStatus::Failed,
                    &VERDICT_DEADLINE,
                    format!(
                        "the bake outlasts this invocation and handing it to a new invocation did not \
                         finish before the deadline; last verdict: {message}"
                    ),
                ),
            }
        }
    };
    summary.status = match status {
        ReportStatus::Succeeded => VerdictStatus::Succeeded,
        ReportStatus::Failed => VerdictStatus::Failed,
    };
    summary.reason = code;
    summary.message.clone_from(&message);
    summary.callback_delay = None;
    match pending
        .send(backend.reporter(), status, &message, report_deadline)
        .await
    {
        Ok(ack) => Ok(HookOutcome::Reported {
            status,
            already_completed: ack == ReportAck::AlreadyCompleted,
            reason: code.code,
            message,
        }),
        Err(error) => {
            let error = HookError::Report {
                deployment_id: event.deployment_id.clone(),
                status,
                reason: format!("{}: {message}", code.code),
                error,
            };
            // CodeDeploy never heard: it fails the hook when its hour is up, whatever greenlight
            // decided, so the summary says why it will.
            summary.status = VerdictStatus::Failed;
            summary.reason = error.reason();
            summary.message = error.to_string();
            Err(error)
        }
    }
}

/// The Lambda deadline on tokio's clock (which tests pause).
fn tokio_deadline(engine: &Engine<'_>, deadline: SystemTime) -> tokio::time::Instant {
    tokio::time::Instant::now() + time_left(engine, deadline)
}

fn time_left(engine: &Engine<'_>, deadline: SystemTime) -> Duration {
    deadline.duration_since(engine.now()).unwrap_or_default()
}

/// Whether an error may heal by asking again.
fn is_transient(error: &FactError) -> bool {
    matches!(
        error,
        FactError::Throttled { .. } | FactError::Unavailable { .. } | FactError::NotReady { .. }
    )
}

#[allow(clippy::too_many_arguments)]
async fn judge_execution(
    deployment_id: &str,
    execution_id: &str,
    carried: Option<&Value>,
    backend: &dyn CodeDeployBackend,
    engine: &Engine<'_>,
    settings: &HookSettings<'_>,
    deadline: SystemTime,
    summary: &mut InvocationSummary,
) -> Decision {
    let handoffs = carried
        .and_then(|greenlight| greenlight.get("handoffs"))
        .and_then(Value::as_u64)
        .map_or(0, |count| u32::try_from(count).unwrap_or(u32::MAX));
    let carried_hook = carried
        .and_then(|greenlight| greenlight.get("hook"))
        .and_then(Value::as_str);
    // The platform's GREENLIGHT_HOOK wins over a hand-off payload, which whoever may invoke the
    // function could forge. A wiring mistake in either is found before any call is made.
    if let (Some(carried), Some(configured)) = (carried_hook, settings.hook)
        && carried != configured
    {
        tracing::warn!(
            carried,
            configured,
            "a hand-off names another hook than GREENLIGHT_HOOK; using GREENLIGHT_HOOK"
        );
    }
    let named_hook = match settings.hook.or(carried_hook) {
        Some(name) => match name.parse::<CodeDeployHook>() {
            Ok(hook) => Some(hook),
            Err(error) => {
                return failed(&EVENT_HOOK_UNKNOWN, format!("{HOOK_ENV_VAR}: {error}"));
            }
        },
        None => None,
    };

    // Learn the deployment; throttling and outages are asked again while the invocation lasts.
    let discovered = loop {
        match backend.discover(deployment_id).await {
            Ok(discovered) => break discovered,
            Err(error) => {
                let outcome = error.to_outcome();
                let message = format!(
                    "cannot learn deployment {deployment_id} from CodeDeploy and ECS: {error}"
                );
                if is_transient(&error) && time_left(engine, deadline) > RETRY_DELAY * 3 {
                    tracing::warn!(reason = outcome.code.code, detail = %message, "asking again");
                    tokio::time::sleep(RETRY_DELAY).await;
                    continue;
                }
                return failed(outcome.code, message);
            }
        }
    };
    let context = &discovered.context;
    summary.subject.cluster = Some(context.cluster.clone());
    summary.subject.service = Some(context.service.clone());

    if context.is_rollback() {
        let evidence = format!(
            "CodeDeploy rollback deployment (creator {}{})",
            context.creator.as_deref().unwrap_or("unknown"),
            context
                .rolls_back
                .as_deref()
                .map(|other| format!(", rolling back {other}"))
                .unwrap_or_default()
        );
        let verdict = engine.rollback(
            StageKey::new(deployment_id, "ROLLBACK", None),
            None,
            &evidence,
        );
        summary.subject.hook = named_hook.map(|hook| hook.as_str().to_owned());
        summary.subject.stage = named_hook.map(|hook| hook.stage().as_str().to_owned());
        return succeeded(verdict.code, verdict.message);
    }

    let in_progress = context.lifecycle_event_in_progress.as_deref();
    let hook = match (named_hook, in_progress) {
        (Some(hook), running) => {
            if let Some(running) = running.filter(|running| *running != hook.as_str()) {
                tracing::warn!(
                    hook = hook.as_str(),
                    in_progress = running,
                    "the function serves {hook} but the deployment target shows {running} in progress; judging {hook}"
                );
            }
            hook
        }
        (None, Some(running)) => match running.parse::<CodeDeployHook>() {
            Ok(hook) => hook,
            Err(error) => {
                return failed(
                    &EVENT_HOOK_UNKNOWN,
                    format!("the deployment target's lifecycle event in progress: {error}"),
                );
            }
        },
        (None, None) => {
            return failed(
                &EVENT_HOOK_UNKNOWN,
                format!(
                    "{HOOK_ENV_VAR} is not set and deployment {deployment_id}'s target shows no lifecycle event in progress, so the hook is unknown; set {HOOK_ENV_VAR} on the function"
                ),
            );
        }
    };
    let stage = hook.stage();
    summary.subject.hook = Some(hook.as_str().to_owned());
    summary.subject.stage = Some(stage.as_str().to_owned());

    let placeholders = Placeholders {
        application: Some(context.application.clone()),
        deployment_group: Some(context.deployment_group.clone()),
        cluster: Some(context.cluster.clone()),
        service: Some(context.service.clone()),
    };
    let lookup = ConfigLookup {
        hook_details: None,
        env_config: settings.env_config,
        placeholders: Some(&placeholders),
    };
    let resolved = loop {
        match resolve_config(&lookup, backend.config_reader()).await {
            Ok(resolved) => break resolved,
            Err(errors)
                if errors.is_transient() && time_left(engine, deadline) > RETRY_DELAY * 3 =>
            {
                tracing::warn!(reason = errors.code().code, detail = %errors, "config not readable yet; asking again");
                tokio::time::sleep(RETRY_DELAY).await;
            }
            Err(errors) => return failed(errors.code(), errors.to_string()),
        }
    };
    let Some(spec) = resolved.config.stage_plan(&stage) else {
        let decision = crate::engine::verdict::no_checks(&stage, &resolved.source);
        return succeeded(
            decision.code,
            format!("{}, which {hook} maps to", decision.message),
        );
    };
    if let Some(problem) = codedeploy_limit_problem(&spec) {
        return failed(
            &CONFIG_INVALID,
            format!("the config ({}) for {hook}: {problem}", resolved.source),
        );
    }

    let key = StageKey::new(deployment_id, stage.as_str(), None);
    let mut carried_state = carried.cloned();
    loop {
        let facts = (discovered.facts)();
        let plan = backend.build_plan(&spec, &facts);
        let verdict = engine
            .judge(
                &plan,
                Invocation {
                    key: key.clone(),
                    carried: carried_state.as_ref(),
                    deadline: Some(deadline),
                },
            )
            .await;
        crate::telemetry::log_checks(&verdict);
        summary.attempt = verdict.state.attempts;
        summary.checks.clone_from(&verdict.checks);
        match verdict.status {
            VerdictStatus::Succeeded => return succeeded(verdict.code, verdict.message),
            VerdictStatus::Failed => return failed(verdict.code, verdict.message),
            VerdictStatus::InProgress => {}
        }
        let now = engine.now();
        let judging_for =
            Duration::from_secs(unix_seconds(now).saturating_sub(verdict.state.started_at));
        if judging_for + LIMIT_MARGIN >= CODEDEPLOY_HOOK_LIMIT {
            return failed(
                &VERDICT_WAIT_EXHAUSTED,
                format!(
                    "still undecided after {} of judging {hook}, and CodeDeploy fails a hook that has not reported within {}: {}",
                    humantime::format_duration(judging_for),
                    humantime::format_duration(CODEDEPLOY_HOOK_LIMIT),
                    verdict.message
                ),
            );
        }
        let state = verdict.state.to_bounded_json();
        carried_state = Some(json!({ STATE_KEY: state }));
        let delay = verdict
            .callback_delay
            .unwrap_or(spec.interval)
            .max(Duration::from_secs(1));
        // One more judgement needs the wait, the longest check timeout, and the engine's margin
        // (the time kept for the report).
        let round = plan
            .checks
            .iter()
            .map(|check| check.policy.timeout)
            .max()
            .unwrap_or_default();
        if time_left(engine, deadline) <= delay + round + REPORT_RESERVE {
            if handoffs >= MAX_HANDOFFS {
                return failed(
                    &VERDICT_DEADLINE,
                    format!(
                        "handed off {handoffs} times already (the function's timeout is too short for the bake); last verdict: {}",
                        verdict.message
                    ),
                );
            }
            let payload = json!({
                "DeploymentId": deployment_id,
                "LifecycleEventHookExecutionId": execution_id,
                GREENLIGHT_DETAILS_KEY: {
                    "hook": hook.as_str(),
                    "handoffs": handoffs + 1,
                    STATE_KEY: state,
                },
            });
            return Decision::HandOff {
                payload,
                handoffs: handoffs + 1,
                message: verdict.message,
            };
        }
        tracing::info!(
            reason = verdict.code.code,
            wait_secs = delay.as_secs(),
            detail = %verdict.message,
            "judging {hook} again within this invocation"
        );
        tokio::time::sleep(delay).await;
    }
}

/// Why a stage plan cannot finish within CodeDeploy's hour, if it cannot: its bake plus the longest
/// `max_wait` of its enforcing checks (a check may start waiting just before the bake ends) must
/// leave time to report.
pub fn codedeploy_limit_problem(spec: &StagePlanSpec) -> Option<String> {
    let bake = spec.bake.unwrap_or_default();
    let longest_wait = spec
        .checks
        .iter()
        .filter(|check| check.policy.mode == crate::policy::Mode::Enforce)
        .map(|check| (check.id.as_str(), check.policy.max_wait))
        .max_by_key(|(_, wait)| *wait);
    let (worst, wait_of) = match longest_wait {
        Some((id, wait)) => (bake + wait, Some((id, wait))),
        None => (bake, None),
    };
    let budget = CODEDEPLOY_HOOK_LIMIT - LIMIT_MARGIN;
    if worst <= budget {
        return None;
    }
    let detail = match wait_of {
        Some((id, wait)) => format!(
            "bake {} + check `{id}`'s max_wait {}",
            humantime::format_duration(bake),
            humantime::format_duration(wait)
        ),
        None => format!("bake {}", humantime::format_duration(bake)),
    };
    Some(format!(
        "{} ({detail}) may take {}, longer than CodeDeploy's one-hour hook limit less {} to report ({}); shorten the bake or the max_wait",
        spec.stage,
        humantime::format_duration(worst),
        humantime::format_duration(LIMIT_MARGIN),
        humantime::format_duration(budget),
    ))
}

/// The problems of every CodeDeploy-mapped stage of `config`: what `greenlight config validate
/// --codedeploy` reports.
pub fn codedeploy_limit_problems(config: &crate::config::Config) -> Vec<String> {
    CodeDeployHook::ALL
        .iter()
        .filter_map(|hook| config.stage_plan(&hook.stage()))
        .filter_map(|spec| codedeploy_limit_problem(&spec))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::Mutex;

    use super::*;
    use crate::config::resolve::{ConfigReference, ReadFuture};
    use crate::engine::codes::{VERDICT_PASSED, VERDICT_ROLLBACK};
    use crate::engine::{Check, CheckFuture, PlannedCheck, StageView};
    use crate::facts::{ServiceIdentity, StaticFacts};
    use crate::outcome::Outcome;
    use crate::policy::CheckPolicy;
    use crate::protocol::codedeploy::ReportFuture;

    const TOKEN: &str = "eyJlbmNyeXB0ZWREYXRhIjoiYWJjIn0=";
    const START: u64 = 1_700_000_000;

    /// Wall time that moves with tokio's (paused) clock, so sleeps in the bake loop move both.
    struct TokioClock {
        start: tokio::time::Instant,
    }

    impl TokioClock {
        fn new() -> Self {
            TokioClock {
                start: tokio::time::Instant::now(),
            }
        }
    }

    impl Clock for TokioClock {
        fn now(&self) -> SystemTime {
            SystemTime::UNIX_EPOCH + Duration::from_secs(START) + self.start.elapsed()
        }
    }

    fn deadline_in(clock: &TokioClock, secs: u64) -> SystemTime {
        clock.now() + Duration::from_secs(secs)
    }

    #[derive(Default)]
    struct Reporter {
        script: Mutex<VecDeque<Result<ReportAck, ReportError>>>,
        calls: Mutex<Vec<(String, String, ReportStatus)>>,
    }

    impl LifecycleReporter for Reporter {
        fn put_lifecycle_event_hook_execution_status<'a>(
            &'a self,
            deployment_id: &'a str,
            execution_id: &'a str,
            status: ReportStatus,
        ) -> ReportFuture<'a> {
            self.calls.lock().unwrap().push((
                deployment_id.to_owned(),
                execution_id.to_owned(),
                status,
            ));
            let answer = self
                .script
                .lock()
                .unwrap()
                .pop_front()
                .unwrap_or(Ok(ReportAck::Recorded));
            Box::pin(async move { answer })
        }
    }

    struct TextReader {
        text: Option<String>,
        asked: Mutex<Vec<String>>,
    }

    impl ConfigReferenceReader for TextReader {
        fn read<'a>(&'a self, reference: &'a ConfigReference) -> ReadFuture<'a> {
            self.asked.lock().unwrap().push(reference.to_string());
            let text = self.text.clone().unwrap_or_default();
            Box::pin(async move { Ok(text) })
        }
    }

    /// A check that plays back outcomes (then passes), or panics.
    struct Probe {
        outcomes: Arc<Mutex<VecDeque<Outcome>>>,
        runs: Arc<Mutex<u32>>,
        panics: bool,
    }

    impl Check for Probe {
        fn kind(&self) -> &'static str {
            "probe"
        }
        fn run<'a>(&'a self, _stage: &'a StageView) -> CheckFuture<'a> {
            *self.runs.lock().unwrap() += 1;
            assert!(!self.panics, "probe exploded");
            let outcome = self
                .outcomes
                .lock()
                .unwrap()
                .pop_front()
                .unwrap_or_else(|| Outcome::pass(&VERDICT_PASSED, "fine"));
            Box::pin(async move { outcome })
        }
    }

    struct Backend {
        discoveries: Mutex<VecDeque<Result<DeploymentContext, FactError>>>,
        discover_calls: Mutex<u32>,
        facts_built: Arc<Mutex<u32>>,
        outcomes: Arc<Mutex<VecDeque<Outcome>>>,
        runs: Arc<Mutex<u32>>,
        probe_panics: bool,
        plan_panics: bool,
        reader: TextReader,
        reporter: Reporter,
        handoffs: Mutex<Vec<Value>>,
        handoff_fails: bool,
        discover_stalls: bool,
    }

    fn context() -> DeploymentContext {
        DeploymentContext {
            deployment_id: "d-ABCDEF123".into(),
            application: "web-app".into(),
            deployment_group: "web-dg".into(),
            status: "InProgress".into(),
            creator: Some("user".into()),
            rolls_back: None,
            lifecycle_event_in_progress: Some("AfterAllowTraffic".into()),
            cluster: "prod".into(),
            service: "web".into(),
        }
    }

    impl Backend {
        fn new(config: Option<&str>) -> Self {
            Backend {
                discoveries: Mutex::new(VecDeque::new()),
                discover_calls: Mutex::new(0),
                facts_built: Arc::new(Mutex::new(0)),
                outcomes: Arc::new(Mutex::new(VecDeque::new())),
                runs: Arc::new(Mutex::new(0)),
                probe_panics: false,
                plan_panics: false,
                reader: TextReader {
                    text: config.map(str::to_owned),
                    asked: Mutex::new(Vec::new()),
                },
                reporter: Reporter::default(),
                handoffs: Mutex::new(Vec::new()),
                handoff_fails: false,
                discover_stalls: false,
            }
        }

        fn with_outcomes(self, outcomes: impl IntoIterator<Item = Outcome>) -> Self {
            self.outcomes.lock().unwrap().extend(outcomes);
            self
        }

        fn reports(&self) -> Vec<ReportStatus> {
            self.reporter
                .calls
                .lock()
                .unwrap()
                .iter()
                .map(|call| call.2)
                .collect()
        }
    }

    impl CodeDeployBackend for Backend {
        fn discover<'a>(
            &'a self,
            deployment_id: &'a str,
        ) -> BackendFuture<'a, Result<Discovered, FactError>> {
            *self.discover_calls.lock().unwrap() += 1;
            let next = self
                .discoveries
                .lock()
                .unwrap()
                .pop_front()
                .unwrap_or_else(|| Ok(context()));
            assert_eq!(deployment_id, "d-ABCDEF123");
            let built = Arc::clone(&self.facts_built);
            let stalls = self.discover_stalls;
            Box::pin(async move {
                if stalls {
                    // A connection that never answers.
                    std::future::pending::<()>().await;
                }
                next.map(|context| Discovered {
                    context,
                    facts: Box::new(move || {
                        *built.lock().unwrap() += 1;
                        Arc::new(StaticFacts::new(ServiceIdentity {
                            partition: "aws".into(),
                            region: "us-east-1".into(),
                            account: "123456789012".into(),
                            cluster: "prod".into(),
                            service: "web".into(),
                            service_arn: "arn:aws:ecs:us-east-1:123456789012:service/prod/web"
                                .into(),
                        })) as Arc<dyn Facts>
                    }),
                })
            })
        }

        fn build_plan(&self, spec: &StagePlanSpec, _facts: &Arc<dyn Facts>) -> Plan {
            assert!(!self.plan_panics, "plan exploded");
            Plan {
                bake: spec.bake,
                interval: spec.interval,
                checks: vec![PlannedCheck {
                    id: "probe".into(),
                    policy: CheckPolicy::default(),
                    check: Box::new(Probe {
                        outcomes: Arc::clone(&self.outcomes),
                        runs: Arc::clone(&self.runs),
                        panics: self.probe_panics,
                    }),
                }],
            }
        }

        fn config_reader(&self) -> &dyn ConfigReferenceReader {
            &self.reader
        }

        fn reporter(&self) -> &dyn LifecycleReporter {
            &self.reporter
        }

        fn hand_off<'a>(&'a self, payload: Value) -> BackendFuture<'a, Result<(), String>> {
            self.handoffs.lock().unwrap().push(payload);
            let fails = self.handoff_fails;
            Box::pin(async move {
                if fails {
                    Err(
                        "AccessDeniedException: not authorized to perform lambda:InvokeFunction"
                            .into(),
                    )
                } else {
                    Ok(())
                }
            })
        }
    }

    fn event() -> Value {
        json!({ "DeploymentId": "d-ABCDEF123", "LifecycleEventHookExecutionId": TOKEN })
    }

    /// A config whose AfterAllowTraffic stage bakes `bake`, judged every 30 s.
    fn baking(bake: &str) -> String {
        format!(
            "version: 1\ndefaults: {{ interval: 30s }}\nstages:\n  POST_PRODUCTION_TRAFFIC_SHIFT:\n    bake: {bake}\n    checks:\n      - alarms: {{}}\n"
        )
    }

    const SETTINGS: HookSettings<'static> = HookSettings {
        hook: Some("AfterAllowTraffic"),
        env_config: Some("/var/task/{application}/{deploymentGroup}.yaml"),
    };

    async fn run(
        backend: &Backend,
        payload: &Value,
        settings: &HookSettings<'_>,
        timeout_secs: u64,
    ) -> Result<HookOutcome, HookError> {
        let clock = TokioClock::new();
        let deadline = deadline_in(&clock, timeout_secs);
        let CodeDeployAnswer { result, summary } =
            handle_codedeploy_hook(payload, backend, &clock, settings, deadline).await;
        assert!(
            clock.now() <= deadline,
            "ran past the deadline by {:?}",
            clock.now().duration_since(deadline)
        );
        // The summary line says what was decided, whatever the invocation returns.
        match &result {
            Ok(HookOutcome::Reported { reason, status, .. }) => {
                assert_eq!(summary.reason.code, *reason);
                assert_eq!(
                    summary.status == VerdictStatus::Succeeded,
                    *status == ReportStatus::Succeeded
                );
            }
            Ok(HookOutcome::HandedOff { .. }) => {
                assert_eq!(summary.status, VerdictStatus::InProgress);
            }
            Err(error) => assert_eq!(summary.status, VerdictStatus::Failed, "{error}"),
        }
        result
    }

    fn reported(outcome: &Result<HookOutcome, HookError>) -> (ReportStatus, &'static str, &str) {
        match outcome {
            Ok(HookOutcome::Reported {
                status,
                reason,
                message,
                ..
            }) => (*status, *reason, message.as_str()),
            other => panic!("expected a report, got {other:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_passing_stage_reports_succeeded_once_with_the_ids_verbatim() {
        let backend = Backend::new(Some(&baking("0s")));
        let outcome = run(&backend, &event(), &SETTINGS, 900).await;
        assert_eq!(reported(&outcome).0, ReportStatus::Succeeded);
        let calls = backend.reporter.calls.lock().unwrap().clone();
        assert_eq!(
            calls,
            vec![(
                "d-ABCDEF123".to_owned(),
                TOKEN.to_owned(),
                ReportStatus::Succeeded
            )]
        );
        // The config reference's placeholders were filled from CodeDeploy's deployment.
        assert_eq!(
            backend.reader.asked.lock().unwrap().as_slice(),
            ["/var/task/web-app/web-dg.yaml"]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_check_reports_failed_with_its_reason() {
        let backend = Backend::new(Some(&baking("0s")))
            .with_outcomes([Outcome::fail(&VERDICT_PASSED, "alarm web-5xx is firing")]);
        let outcome = run(&backend, &event(), &SETTINGS, 900).await;
        let (status, _, message) = reported(&outcome);
        assert_eq!(status, ReportStatus::Failed);
        assert!(message.contains("alarm web-5xx is firing"), "{message}");
        assert_eq!(backend.reports(), [ReportStatus::Failed]);
    }

    #[tokio::test(start_paused = true)]
    async fn every_path_ends_in_exactly_one_report() {
        // Each case: how the backend misbehaves, and what must be reported.
        let cases: Vec<(&str, Backend, HookSettings<'static>, ReportStatus)> =
            vec![
                (
                    "passes",
                    Backend::new(Some(&baking("0s"))),
                    SETTINGS,
                    ReportStatus::Succeeded,
                ),
                (
                    "unknown hook in GREENLIGHT_HOOK",
                    Backend::new(None),
                    HookSettings {
                        hook: Some("ValidateService"),
                        env_config: None,
                    },
                    ReportStatus::Failed,
                ),
                (
                    "broken config",
                    Backend::new(Some(
                        "version: 1\nstages: {POST_PRODUCTION_TRAFFIC_SHIFT: [{alarmz: {}}]}\n",
                    )),
                    SETTINGS,
                    ReportStatus::Failed,
                ),
                (
                    "a check panics",
                    Backend {
                        probe_panics: true,
                        ..Backend::new(Some(&baking("0s")))
                    },
                    SETTINGS,
                    ReportStatus::Failed,
                ),
                (
                    "building the plan panics",
                    Backend {
                        plan_panics: true,
                        ..Backend::new(Some(&baking("0s")))
                    },
                    SETTINGS,
                    ReportStatus::Failed,
                ),
                (
                    "the deployment cannot be read",
                    {
                        let backend = Backend::new(None);
                        backend.discoveries.lock().unwrap().push_back(Err(
                            FactError::AccessDenied {
                                action: "codedeploy:GetDeployment".into(),
                                resource: "d-ABCDEF123".into(),
                                message: "not authorized".into(),
                            },
                        ));
                        backend
                    },
                    SETTINGS,
                    ReportStatus::Failed,
                ),
                (
                    "a handoff that cannot start",
                    Backend {
                        handoff_fails: true,
                        ..Backend::new(Some(&baking("30m")))
                    },
                    SETTINGS,
                    ReportStatus::Failed,
                ),
            ];
        for (name, backend, settings, expected) in cases {
            let outcome = run(&backend, &event(), &settings, 120).await;
            let (status, reason, message) = reported(&outcome);
            assert_eq!(status, expected, "{name}: {reason} {message}");
            assert_eq!(backend.reports(), [expected], "{name}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_call_is_reported_once_before_the_deadline() {
        let backend = Backend {
            discover_stalls: true,
            ..Backend::new(Some(&baking("0s")))
        };
        let outcome = run(&backend, &event(), &SETTINGS, 120).await;
        let (status, reason, message) = reported(&outcome);
        assert_eq!((status, reason), (ReportStatus::Failed, "VERDICT_DEADLINE"));
        assert!(message.contains("stalled"), "{message}");
        assert_eq!(backend.reports(), [ReportStatus::Failed]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_hand_off_cannot_name_another_hook_than_the_platform_set() {
        // A forged hand-off naming BeforeInstall would judge that stage's plan, which does not
        // bake, and report at once; the function's GREENLIGHT_HOOK wins, so AfterAllowTraffic's
        // 30-minute bake runs and outlasts this invocation.
        let backend = Backend::new(Some(&baking("30m")));
        let mut payload = event();
        payload[GREENLIGHT_DETAILS_KEY] = json!({ "hook": "BeforeInstall", "handoffs": 1 });
        let outcome = run(&backend, &payload, &SETTINGS, 120).await;
        assert!(
            matches!(outcome, Ok(HookOutcome::HandedOff { .. })),
            "{outcome:?}"
        );
        let handed = backend.handoffs.lock().unwrap();
        assert_eq!(
            handed[0][GREENLIGHT_DETAILS_KEY]["hook"],
            "AfterAllowTraffic"
        );
        assert!(backend.reports().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn panics_are_reported_with_what_crashed() {
        let backend = Backend {
            probe_panics: true,
            ..Backend::new(Some(&baking("0s")))
        };
        let outcome = run(&backend, &event(), &SETTINGS, 120).await;
        let (_, reason, message) = reported(&outcome);
        assert_eq!(reason, "CHECK_CRASHED");
        assert!(message.contains("probe exploded"), "{message}");

        let backend = Backend {
            plan_panics: true,
            ..Backend::new(Some(&baking("0s")))
        };
        let outcome = run(&backend, &event(), &SETTINGS, 120).await;
        let (_, reason, message) = reported(&outcome);
        assert_eq!(reason, "CHECK_CRASHED");
        assert!(message.contains("plan exploded"), "{message}");
    }

    #[tokio::test(start_paused = true)]
    async fn already_completed_counts_as_done() {
        let backend = Backend::new(Some(&baking("0s")));
        backend
            .reporter
            .script
            .lock()
            .unwrap()
            .push_back(Ok(ReportAck::AlreadyCompleted));
        let outcome = run(&backend, &event(), &SETTINGS, 120).await;
        assert!(matches!(
            outcome,
            Ok(HookOutcome::Reported {
                already_completed: true,
                status: ReportStatus::Succeeded,
                ..
            })
        ));
        assert_eq!(backend.reports().len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_throttled_report_is_retried_then_succeeds() {
        let backend = Backend::new(Some(&baking("0s")));
        backend.reporter.script.lock().unwrap().extend([
            Err(ReportError::Throttled("Rate exceeded".into())),
            Err(ReportError::Throttled("Rate exceeded".into())),
        ]);
        let outcome = run(&backend, &event(), &SETTINGS, 120).await;
        assert_eq!(reported(&outcome).0, ReportStatus::Succeeded);
        assert_eq!(backend.reports().len(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_denied_report_fails_the_invocation_naming_the_permission() {
        let backend = Backend::new(Some(&baking("0s")));
        backend
            .reporter
            .script
            .lock()
            .unwrap()
            .push_back(Err(ReportError::Denied {
                message: "User is not authorized".into(),
            }));
        let outcome = run(&backend, &event(), &SETTINGS, 120).await;
        let error = outcome.unwrap_err();
        assert!(
            error
                .to_string()
                .contains("codedeploy:PutLifecycleEventHookExecutionStatus"),
            "{error}"
        );
        assert!(matches!(
            error,
            HookError::Report {
                status: ReportStatus::Succeeded,
                ..
            }
        ));
        assert_eq!(backend.reports().len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_rollback_passes_at_once_without_config_or_checks() {
        let backend = Backend::new(Some("not: [valid"));
        backend
            .discoveries
            .lock()
            .unwrap()
            .push_back(Ok(DeploymentContext {
                creator: Some(ROLLBACK_CREATOR.into()),
                rolls_back: Some("d-PREVIOUS".into()),
                ..context()
            }));
        let outcome = run(&backend, &event(), &SETTINGS, 120).await;
        let (status, reason, message) = reported(&outcome);
        assert_eq!(
            (status, reason),
            (ReportStatus::Succeeded, VERDICT_ROLLBACK.code)
        );
        assert!(message.contains("d-PREVIOUS"), "{message}");
        assert_eq!(*backend.runs.lock().unwrap(), 0);
        assert!(backend.reader.asked.lock().unwrap().is_empty());
    }

    #[test]
    fn cloudformation_rollbacks_are_rollbacks_and_rollback_info_alone_is_not() {
        let with = |creator: Option<&str>, rolls_back: Option<&str>| DeploymentContext {
            creator: creator.map(str::to_owned),
            rolls_back: rolls_back.map(str::to_owned),
            ..context()
        };
        assert!(with(Some("CloudFormationRollback"), None).is_rollback());
        assert!(with(Some("codeDeployRollback"), None).is_rollback());
        assert!(!with(Some("user"), Some("d-FAILED")).is_rollback());
        assert!(!with(Some("user"), None).is_rollback());
        assert!(!with(Some("CloudFormation"), None).is_rollback());
    }

    #[tokio::test(start_paused = true)]
    async fn the_hook_comes_from_the_target_when_greenlight_hook_is_unset() {
        let backend = Backend::new(Some(&baking("0s")));
        let settings = HookSettings {
            hook: None,
            ..SETTINGS
        };
        let outcome = run(&backend, &event(), &settings, 120).await;
        assert_eq!(reported(&outcome).0, ReportStatus::Succeeded);
        assert_eq!(*backend.runs.lock().unwrap(), 1);

        let backend = Backend::new(Some(&baking("0s")));
        backend
            .discoveries
            .lock()
            .unwrap()
            .push_back(Ok(DeploymentContext {
                lifecycle_event_in_progress: None,
                ..context()
            }));
        let outcome = run(&backend, &event(), &settings, 120).await;
        let (status, reason, message) = reported(&outcome);
        assert_eq!(
            (status, reason),
            (ReportStatus::Failed, "EVENT_HOOK_UNKNOWN")
        );
        assert!(message.contains("GREENLIGHT_HOOK"), "{message}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_bake_is_judged_again_within_the_invocation_until_it_ends() {
        let backend = Backend::new(Some(&baking("2m")));
        let start = tokio::time::Instant::now();
        let outcome = run(&backend, &event(), &SETTINGS, 900).await;
        let (status, reason, _) = reported(&outcome);
        assert_eq!(
            (status, reason),
            (ReportStatus::Succeeded, "VERDICT_PASSED")
        );
        // Judged at 0, 30, 60, 90 and 120 s: the bake ended at the fifth.
        assert_eq!(*backend.runs.lock().unwrap(), 5);
        assert_eq!(start.elapsed(), Duration::from_secs(120));
        // CodeDeploy was read once for the invocation; facts were fresh for every judgement.
        assert_eq!(*backend.discover_calls.lock().unwrap(), 1);
        assert_eq!(*backend.facts_built.lock().unwrap(), 5);
        assert!(backend.handoffs.lock().unwrap().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_failure_during_the_bake_reports_failed_at_once() {
        let backend = Backend::new(Some(&baking("10m"))).with_outcomes([
            Outcome::pass(&VERDICT_PASSED, "quiet"),
            Outcome::fail(&VERDICT_PASSED, "alarm web-5xx is firing"),
        ]);
        let outcome = run(&backend, &event(), &SETTINGS, 900).await;
        assert_eq!(reported(&outcome).0, ReportStatus::Failed);
        assert_eq!(*backend.runs.lock().unwrap(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_bake_longer_than_the_invocation_is_handed_off_with_its_state() {
        let backend = Backend::new(Some(&baking("5m")));
        let start = tokio::time::Instant::now();
        let outcome = run(&backend, &event(), &SETTINGS, 120).await;
        let Ok(HookOutcome::HandedOff { handoffs: 1, .. }) = outcome else {
            panic!("expected a handoff, got {outcome:?}");
        };
        // Nothing reported: the next invocation owes the report.
        assert!(backend.reports().is_empty());
        // It stopped short of the deadline: no judgement would have fitted in what was left.
        assert!(start.elapsed() < Duration::from_secs(120));
        let payload = backend.handoffs.lock().unwrap()[0].clone();
        assert_eq!(payload["DeploymentId"], "d-ABCDEF123");
        assert_eq!(payload["LifecycleEventHookExecutionId"], TOKEN);
        assert_eq!(payload["greenlight"]["hook"], "AfterAllowTraffic");
        assert_eq!(payload["greenlight"]["handoffs"], 1);
        assert_eq!(payload["greenlight"]["state"]["started_at"], START);
        assert!(serde_json::to_vec(&payload).unwrap().len() < 8 * 1024);

        // The next invocation, later, picks the bake up where it was and reports once.
        let clock_offset = start.elapsed();
        let next = Backend::new(Some(&baking("5m")));
        let clock = TokioClock {
            start: tokio::time::Instant::now() - clock_offset,
        };
        let deadline = deadline_in(&clock, 900);
        let outcome = handle_codedeploy_hook(
            &payload,
            &next,
            &clock,
            &HookSettings {
                hook: None,
                ..SETTINGS
            },
            deadline,
        )
        .await
        .result;
        let (status, reason, _) = reported(&outcome);
        assert_eq!(
            (status, reason),
            (ReportStatus::Succeeded, "VERDICT_PASSED")
        );
        assert_eq!(next.reports(), [ReportStatus::Succeeded]);
        // The bake counted from the first invocation's start: five minutes in all, not five more.
        assert_eq!(
            unix_seconds(clock.now()) - START,
            300,
            "the bake ended five minutes after it began"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_handoff_chain_is_bounded() {
        let backend = Backend::new(Some(&baking("30m")));
        let mut payload = event();
        payload["greenlight"] = json!({ "hook": "AfterAllowTraffic", "handoffs": MAX_HANDOFFS });
        let outcome = run(&backend, &payload, &SETTINGS, 60).await;
        let (status, reason, message) = reported(&outcome);
        assert_eq!((status, reason), (ReportStatus::Failed, "VERDICT_DEADLINE"));
        assert!(message.contains("handed off"), "{message}");
    }

    #[tokio::test(start_paused = true)]
    async fn transient_discovery_errors_are_retried_then_reported_before_the_deadline() {
        let backend = Backend::new(Some(&baking("0s")));
        for _ in 0..1000 {
            backend
                .discoveries
                .lock()
                .unwrap()
                .push_back(Err(FactError::Throttled {
                    action: "codedeploy:GetDeployment".into(),
                    message: "Rate exceeded".into(),
                }));
        }
        let outcome = run(&backend, &event(), &SETTINGS, 60).await;
        let (status, reason, message) = reported(&outcome);
        assert_eq!((status, reason), (ReportStatus::Failed, "AWS_THROTTLED"));
        assert!(message.contains("codedeploy:GetDeployment"), "{message}");
        assert!(*backend.discover_calls.lock().unwrap() > 1);
        assert_eq!(backend.reports().len(), 1);

        // A throttle that clears is only a delay.
        let backend = Backend::new(Some(&baking("0s")));
        backend
            .discoveries
            .lock()
            .unwrap()
            .push_back(Err(FactError::Throttled {
                action: "codedeploy:GetDeployment".into(),
                message: "Rate exceeded".into(),
            }));
        let outcome = run(&backend, &event(), &SETTINGS, 60).await;
        assert_eq!(reported(&outcome).0, ReportStatus::Succeeded);
    }

    #[tokio::test(start_paused = true)]
    async fn a_malformed_event_is_an_invocation_error_and_reports_nothing() {
        let backend = Backend::new(None);
        let outcome = run(&backend, &json!({ "DeploymentId": "d-1" }), &SETTINGS, 60).await;
        let error = outcome.unwrap_err();
        assert!(matches!(error, HookError::Malformed(_)));
        assert!(
            error.to_string().contains("LifecycleEventHookExecutionId"),
            "{error}"
        );
        assert!(backend.reports().is_empty());
        assert_eq!(*backend.discover_calls.lock().unwrap(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_plan_that_cannot_finish_within_the_hour_is_refused() {
        let backend = Backend::new(Some(&baking("50m")));
        let outcome = run(&backend, &event(), &SETTINGS, 60).await;
        let (status, reason, message) = reported(&outcome);
        assert_eq!((status, reason), (ReportStatus::Failed, "CONFIG_INVALID"));
        assert!(message.contains("one-hour"), "{message}");
        assert_eq!(*backend.runs.lock().unwrap(), 0);
    }

    #[test]
    fn limit_problems_name_the_stage_and_the_sum() {
        let config = crate::config::Config::parse(
            &baking("50m"),
            crate::config::ConfigFormat::Yaml,
            crate::config::ConfigSource::Builtin,
        )
        .unwrap();
        let problems = codedeploy_limit_problems(&config);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("POST_PRODUCTION_TRAFFIC_SHIFT"),
            "{}",
            problems[0]
        );
        assert!(
            problems[0].contains("bake 50m + check `alarms`'s max_wait 15m"),
            "{}",
            problems[0]
        );
        let fine = crate::config::Config::parse(
            &baking("20m"),
            crate::config::ConfigFormat::Yaml,
            crate::config::ConfigSource::Builtin,
        )
        .unwrap();
        assert!(codedeploy_limit_problems(&fine).is_empty());
        assert!(codedeploy_limit_problems(&crate::config::Config::builtin().unwrap()).is_empty());
    }
}
