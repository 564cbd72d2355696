//! One invocation of an ECS lifecycle hook, end to end: event in, hook response out.
//!
//! This is the whole of a phase function's logic; the function's `main` only builds the
//! [`HookBackend`] (AWS clients, the facts provider, the plan factory) and hands payloads here. The
//! order of the steps is the product's promise:
//! 1. an event that does not follow the contract is answered FAILED, naming the field;
//! 2. a rollback is answered SUCCEEDED before anything else can go wrong (wiring and config
//!    included) — the event's weights are the documented signal, confirmed with the deployment's
//!    status, because a first production step seen before its weights move looks the same; a status
//!    that cannot be read is waited for (bounded), never taken as a rollback;
//! 3. a stage this function does not serve is answered FAILED, naming the function that does;
//! 4. the invocation is bound to a deployment ECS is running (the one it names is not finished),
//!    before any config is read;
//! 5. the config is resolved (a broken one fails the stage with its line and field);
//! 6. the engine judges the stage's plan; its state goes back in `hookDetails`.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures::FutureExt;
use serde_json::Value;

use crate::config::resolve::{ConfigLookup, ConfigReferenceReader, Placeholders, resolve_config};
use crate::config::{ConfigErrors, StagePlanSpec};
use crate::engine::clock::unix_seconds;
use crate::engine::codes::{CHECK_CRASHED, VERDICT_DEADLINE};
use crate::engine::state::StageState;
use crate::engine::verdict::{self, Decision, VerdictStatus};
use crate::engine::{Engine, Invocation, Plan};
use crate::facts::{DeploymentStatus, FactError, Facts, TrafficWeights};
use crate::policy::CheckPolicy;
use crate::protocol::codes::{EVENT_NOT_A_RUNNING_HOOK, ROLLBACK_UNCONFIRMED};
use crate::protocol::ecs::{EventError, HookEvent, HookResponse};
use crate::reason::ReasonCode;
use crate::stage::LifecycleStage;
use crate::stage::StageKey;
use crate::telemetry::{DeploymentEngine, InvocationSummary, Subject};

/// The four ECS phase functions and the stages each serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// `pre-scale-up`: RECONCILE_SERVICE and PRE_SCALE_UP (also ROLLING admission).
    PreScaleUp,
    /// `post-scale-up`: POST_SCALE_UP.
    PostScaleUp,
    /// `test-traffic`: TEST_TRAFFIC_SHIFT and POST_TEST_TRAFFIC_SHIFT.
    TestTraffic,
    /// `production-traffic`: PRE_PRODUCTION_TRAFFIC_SHIFT, PRODUCTION_TRAFFIC_SHIFT and
    /// POST_PRODUCTION_TRAFFIC_SHIFT.
    ProductionTraffic,
}

impl Phase {
    /// Every phase.
    pub const ALL: [Phase; 4] = [
        Phase::PreScaleUp,
        Phase::PostScaleUp,
        Phase::TestTraffic,
        Phase::ProductionTraffic,
    ];

    /// The function's name (and binary name).
    pub fn function_name(self) -> &'static str {
        match self {
            Phase::PreScaleUp => "pre-scale-up",
            Phase::PostScaleUp => "post-scale-up",
            Phase::TestTraffic => "test-traffic",
            Phase::ProductionTraffic => "production-traffic",
        }
    }

    /// The stages it serves.
    pub fn stages(self) -> &'static [LifecycleStage] {
        match self {
            Phase::PreScaleUp => &[LifecycleStage::ReconcileService, LifecycleStage::PreScaleUp],
            Phase::PostScaleUp => &[LifecycleStage::PostScaleUp],
            Phase::TestTraffic => &[
                LifecycleStage::TestTrafficShift,
                LifecycleStage::PostTestTrafficShift,
            ],
            Phase::ProductionTraffic => &[
                LifecycleStage::PreProductionTrafficShift,
                LifecycleStage::ProductionTrafficShift,
                LifecycleStage::PostProductionTrafficShift,
            ],
        }
    }

    /// The phase that serves `stage`.
    pub fn for_stage(stage: &LifecycleStage) -> Option<Phase> {
        Phase::ALL
            .into_iter()
            .find(|phase| phase.stages().contains(stage))
    }
}

/// What a phase function provides to judge one event.
pub trait HookBackend: Send + Sync {
    /// The facts provider for this event's deployment (no call is made until a fact is needed).
    fn facts(&self, event: &HookEvent) -> Result<Arc<dyn Facts>, EventError>;
    /// Runnable checks for a stage plan.
    fn build_plan(&self, spec: &StagePlanSpec, facts: &Arc<dyn Facts>) -> Plan;
    /// Reads config references (`ssm:`, `s3://`, files).
    fn config_reader(&self) -> &dyn ConfigReferenceReader;
}

/// The answer to one invocation, with why.
#[derive(Debug, Clone)]
pub struct HookAnswer {
    /// What ECS gets.
    pub response: HookResponse,
    /// Why, as a stable code.
    pub code: &'static ReasonCode,
    /// Why, for humans.
    pub message: String,
    /// What the invocation's one summary line says (written by [`handle_ecs_hook`]).
    pub summary: InvocationSummary,
}

/// Deployment statuses that mean ECS is rolling back or stopping.
const ROLLBACK_STATUSES: &[&str] = &[
    "ROLLBACK_REQUESTED",
    "ROLLBACK_IN_PROGRESS",
    "ROLLBACK_SUCCESSFUL",
    "ROLLBACK_FAILED",
    "STOP_REQUESTED",
    "STOPPED",
];

/// Judges one ECS lifecycle hook invocation; the answer carries its summary line's content,
/// which the function writes. A panic anywhere in it is answered FAILED with `CHECK_CRASHED` and
/// what crashed, never an invocation error without a reason.
pub async fn handle_ecs_hook(
    phase: Phase,
    payload: &Value,
    backend: &dyn HookBackend,
    engine: &Engine<'_>,
    env_config: Option<&str>,
    deadline: Option<SystemTime>,
) -> HookAnswer {
    // Parsed once, here: the judgement and the summary line both read it. Parsing never panics.
    let event = match HookEvent::parse(payload) {
        Ok(event) => event,
        Err(error) => {
            let mut refused = answer(verdict::malformed(error));
            refused.summary.subject.fill_from_ecs_event(payload);
            return refused;
        }
    };
    let mut answer = AssertUnwindSafe(judge_ecs_hook(
        phase, &event, backend, engine, env_config, deadline,
    ))
    .catch_unwind()
    .await
    .unwrap_or_else(|panic| {
        failed(
            &CHECK_CRASHED,
            format!(
                "greenlight crashed while judging the hook: {}",
                crate::engine::panic_message(&*panic)
            ),
        )
    });
    // Whatever the invocation learned, and what the event said where it learned nothing (an
    // answer given before the service was read still says the weights and the step).
    let subject = &mut answer.summary.subject;
    subject.fill_from_ecs_event(payload);
    subject.traffic = TrafficWeights {
        green_production: event.green_production_weight(),
        green_test: event.green_test_weight(),
    };
    if subject.step.is_none() {
        subject.step = event.traffic_step().map(|step| step.key().to_owned());
    }
    answer
}

async fn judge_ecs_hook(
    phase: Phase,
    event: &HookEvent,
    backend: &dyn HookBackend,
    engine: &Engine<'_>,
    env_config: Option<&str>,
    deadline: Option<SystemTime>,
) -> HookAnswer {
    let facts = match backend.facts(event) {
        Ok(facts) => facts,
        Err(error) => return answer(verdict::malformed(error)),
    };
    let key = StageKey::new(
        &event.resource_arn,
        event.lifecycle_stage.as_str(),
        event.traffic_step().as_ref().map(|step| step.key()),
    );
    let carried = event.greenlight_details();
    let rollback = match event.rollback() {
        Some(hint) => {
            let evidence = format!(
                "{} traffic: green 0%, {} 100%",
                hint.map, hint.restored_revision
            );
            match read_status(facts.as_ref(), engine, deadline).await {
                Ok(deployment)
                    if deployment.rollback.is_none()
                        && !ROLLBACK_STATUSES.contains(&deployment.status.as_str()) =>
                {
                    tracing::info!(
                        status = %deployment.status,
                        "weights look like a rollback but the deployment is not rolling back; judging the stage"
                    );
                    None
                }
                Ok(deployment) => Some(format!("{evidence}; deployment {}", deployment.status)),
                // The weights alone cannot tell a rollback from a first production step seen before
                // its weights move: wait for the status rather than pass an unjudged stage.
                Err(error) => {
                    return wait_then_fail(
                        &ROLLBACK_UNCONFIRMED,
                        format!(
                            "{evidence}, but the deployment's status could not be read to confirm a rollback: {error}"
                        ),
                        ROLLBACK_CONFIRM_MAX_WAIT,
                        engine,
                        key,
                        carried,
                    );
                }
            }
        }
        None => None,
    };

    let stage = &event.lifecycle_stage;
    // A rollback first: ECS re-invokes the TEST_/PRODUCTION_TRAFFIC_SHIFT hooks while it rolls
    // back, and a hook wired to a stage this function does not serve must not block that.
    let served_by = Phase::for_stage(stage).map(Phase::function_name);
    if let Some(mistake) =
        verdict::wiring_mistake(phase.function_name(), phase.stages(), stage, served_by)
    {
        if rollback.is_none() {
            return answer(mistake);
        }
        tracing::warn!(reason = mistake.code.code, detail = %mistake.message, "wiring mistake seen during a rollback; not blocking it");
    }

    let subject = Subject::unknown(DeploymentEngine::Ecs).with_service(facts.service());
    if let Some(evidence) = rollback {
        let verdict = engine.rollback(key, carried, &evidence);
        return HookAnswer {
            response: HookResponse::succeeded(),
            code: verdict.code,
            message: verdict.message.clone(),
            summary: InvocationSummary::judged(subject, &verdict),
        };
    }

    // Bound to a hook ECS is running before the config (which the event may carry) is read.
    if let Some(answer) =
        unbound_invocation(facts.as_ref(), engine, deadline, key.clone(), carried).await
    {
        return answer.about(subject);
    }

    let hook_details = event.hook_details.clone().map(Value::Object);
    let service = facts.service();
    let placeholders = Placeholders {
        cluster: Some(service.cluster.clone()),
        service: Some(service.service.clone()),
        ..Placeholders::default()
    };
    let lookup = ConfigLookup {
        hook_details: hook_details.as_ref(),
        env_config,
        placeholders: Some(&placeholders),
    };
    let resolved = match engine
        .within_deadline(deadline, resolve_config(&lookup, backend.config_reader()))
        .await
    {
        Some(Ok(resolved)) => resolved,
        Some(Err(errors)) => {
            return config_failure(&errors, engine, key, carried).about(subject);
        }
        None => {
            return wait_then_fail(
                &VERDICT_DEADLINE,
                "reading the config did not finish before the invocation deadline".to_owned(),
                config_max_wait(),
                engine,
                key,
                carried,
            )
            .about(subject);
        }
    };
    let Some(spec) = resolved.config.stage_plan(stage) else {
        return answer(verdict::no_checks(stage, &resolved.source)).about(subject);
    };
    let plan = backend.build_plan(&spec, &facts);
    let verdict = engine
        .judge(
            &plan,
            Invocation {
                key,
                carried,
                deadline,
            },
        )
        .await;
    crate::telemetry::log_checks(&verdict);
    let summary = InvocationSummary::judged(subject, &verdict);
    // ECS documents returned hookDetails only with IN_PROGRESS (passed to the next invocation);
    // a terminal answer carries none, so nothing depends on how ECS would treat it.
    let response = match verdict.status {
        VerdictStatus::Succeeded => HookResponse::succeeded(),
        VerdictStatus::Failed => HookResponse::failed(),
        VerdictStatus::InProgress => {
            let delay = verdict.callback_delay.unwrap_or(DEFAULT_CALLBACK_DELAY);
            if let Some(answer) = expiring_before_next_judgement(
                facts.as_ref(),
                engine,
                deadline,
                delay,
                &verdict.message,
            )
            .await
            {
                // The checks that were judged stay in the summary; the answer is the expiry's.
                return answer.judged_as(summary);
            }
            HookResponse::in_progress(u32::try_from(delay.as_secs()).unwrap_or(u32::MAX))
                .with_hook_details(verdict.state.clone().into_hook_details(carried))
        }
    };
    HookAnswer {
        response,
        code: verdict.code,
        message: verdict.message,
        summary,
    }
}

impl HookAnswer {
    /// This answer about `subject` (who the invocation learned it judges).
    fn about(mut self, mut subject: Subject) -> Self {
        let decided = &mut self.summary.subject;
        subject.stage = subject.stage.or(decided.stage.take());
        subject.step = subject.step.or(decided.step.take());
        self.summary.subject = subject;
        self
    }

    /// This answer, overriding `judged`: the summary keeps the stage, step, attempt and checks
    /// that were judged, and says this answer's status and reason.
    fn judged_as(mut self, judged: InvocationSummary) -> Self {
        let decided = std::mem::replace(&mut self.summary, judged);
        self.summary.status = decided.status;
        self.summary.reason = decided.reason;
        self.summary.message = decided.message;
        self.summary.callback_delay = decided.callback_delay;
        self
    }

    /// An answer decided before any check ran; who it is about is filled in as known.
    fn decided(
        response: HookResponse,
        status: VerdictStatus,
        code: &'static ReasonCode,
        message: String,
    ) -> Self {
        HookAnswer {
            response,
            code,
            summary: InvocationSummary::decided(
                Subject::unknown(DeploymentEngine::Ecs),
                status,
                code,
                message.clone(),
            ),
            message,
        }
    }
}

/// The deployment's status, within the invocation's deadline (no answer in time is an error).
async fn read_status(
    facts: &dyn Facts,
    engine: &Engine<'_>,
    deadline: Option<SystemTime>,
) -> Result<DeploymentStatus, FactError> {
    engine
        .within_deadline(deadline, facts.deployment_status())
        .await
        .unwrap_or_else(|| {
            Err(FactError::Unavailable {
                action: "ecs:DescribeServiceDeployments".to_owned(),
                message: "no answer before the invocation deadline".to_owned(),
            })
        })
}

/// Refuses an invocation that is not ECS running this hook: the deployment the event names has
/// finished (no hook of it runs). Whether ECS lists a hook as IN_PROGRESS while invoking it is
/// undocumented, so the hook list is logged, not enforced. A status that cannot be read is asked
/// again, bounded.
async fn unbound_invocation(
    facts: &dyn Facts,
    engine: &Engine<'_>,
    deadline: Option<SystemTime>,
    key: StageKey,
    carried: Option<&Value>,
) -> Option<HookAnswer> {
    let status = match read_status(facts, engine, deadline).await {
        Ok(status) => status,
        Err(error) if error.to_outcome().is_permanent_error() => {
            return Some(failed(
                &EVENT_NOT_A_RUNNING_HOOK,
                format!(
                    "the deployment this event names cannot be read to confirm that ECS runs this hook: {error}"
                ),
            ));
        }
        Err(error) => {
            return Some(wait_then_fail(
                &EVENT_NOT_A_RUNNING_HOOK,
                format!(
                    "the deployment this event names cannot be read yet to confirm that ECS runs this hook: {error}"
                ),
                ROLLBACK_CONFIRM_MAX_WAIT,
                engine,
                key,
                carried,
            ));
        }
    };
    if let Some(refusal) = verdict::finished_deployment(&status.status) {
        return Some(answer(refusal));
    }
    if status.hook_running == Some(false) {
        // Not a refusal: whether ECS lists a hook as IN_PROGRESS while invoking it is
        // undocumented, and under the reading where it does not, an earlier stage's SUCCEEDED
        // entry for this function would look exactly like this.
        tracing::info!(
            status = %status.status,
            "the deployment lists none of this function's hooks as IN_PROGRESS; judging anyway"
        );
    }
    None
}

/// ECS's default wait before re-invoking a hook that answered IN_PROGRESS without a delay.
const DEFAULT_CALLBACK_DELAY: Duration = Duration::from_secs(30);

/// Time allowed for ECS to re-invoke the function and for it to answer, on top of the delay.
const REINVOKE_ALLOWANCE: Duration = Duration::from_secs(60);

/// FAILED now when this hook expires before it would be judged again: at expiry ECS applies the
/// hook's timeout action, and `CONTINUE` would go on with a stage nobody judged. An expiry that
/// cannot be read leaves the answer as it is (ECS's default timeout is a day).
async fn expiring_before_next_judgement(
    facts: &dyn Facts,
    engine: &Engine<'_>,
    deadline: Option<SystemTime>,
    delay: Duration,
    verdict: &str,
) -> Option<HookAnswer> {
    let expires_at = read_status(facts, engine, deadline)
        .await
        .ok()?
        .hook_expires_at?;
    let next = engine.now() + delay + REINVOKE_ALLOWANCE;
    verdict::hook_expiring(expires_at, next, verdict).map(answer)
}

/// The answer for a decision taken before any check ran ([`verdict`]'s rules): SUCCEEDED, or
/// else FAILED. A rule that waits carries state, so it goes through [`wait_then_fail`] instead.
fn answer(decision: Decision) -> HookAnswer {
    if decision.status != VerdictStatus::Succeeded {
        return failed(decision.code, decision.message);
    }
    HookAnswer::decided(
        HookResponse::succeeded(),
        VerdictStatus::Succeeded,
        decision.code,
        decision.message,
    )
}

fn failed(code: &'static ReasonCode, message: String) -> HookAnswer {
    HookAnswer::decided(HookResponse::failed(), VerdictStatus::Failed, code, message)
}

/// How long a config that cannot be read for transient reasons (throttling, an unreachable parameter
/// store) is waited for: the default policy's `max_wait`, since the config that would say otherwise
/// is unread.
fn config_max_wait() -> Duration {
    CheckPolicy::default().max_wait
}

/// How long a rollback that cannot be confirmed is waited for before the stage fails.
const ROLLBACK_CONFIRM_MAX_WAIT: Duration = Duration::from_secs(10 * 60);

fn config_failure(
    errors: &ConfigErrors,
    engine: &Engine<'_>,
    key: StageKey,
    carried: Option<&Value>,
) -> HookAnswer {
    let message = errors.to_string();
    if errors.is_transient() {
        // A throttled or unreachable parameter store says nothing about green: ask again, for a while.
        return wait_then_fail(
            errors.code(),
            message,
            config_max_wait(),
            engine,
            key,
            carried,
        );
    }
    failed(errors.code(), message)
}

/// IN_PROGRESS with `code` until `max_wait` has passed since the stage's first invocation (carried
/// in hookDetails), then FAILED: for what greenlight cannot learn yet and must not guess.
fn wait_then_fail(
    code: &'static ReasonCode,
    message: String,
    max_wait: Duration,
    engine: &Engine<'_>,
    key: StageKey,
    carried: Option<&Value>,
) -> HookAnswer {
    let now = unix_seconds(engine.now());
    let mut state = StageState::carried_or_fresh(carried, key, now);
    state.attempts = state.attempts.saturating_add(1);
    // Counted from the first of an unbroken run of unreadable invocations, not from the stage's
    // start: one throttled read late in a long bake must not fail it.
    let since = *state.unreadable_since.get_or_insert(now);
    let decision = verdict::unreadable(
        code,
        message,
        Duration::from_secs(now.saturating_sub(since)),
        max_wait,
    );
    match decision.callback_delay {
        Some(delay) if decision.status == VerdictStatus::InProgress => {
            let delay = verdict::spread_after_throttling(delay, &state.key, state.attempts);
            let attempts = state.attempts;
            let (stage, step) = (state.key.stage.clone(), state.key.step.clone());
            let mut answer = HookAnswer::decided(
                HookResponse::in_progress(u32::try_from(delay.as_secs()).unwrap_or(u32::MAX))
                    .with_hook_details(state.into_hook_details(carried)),
                VerdictStatus::InProgress,
                code,
                decision.message,
            );
            answer.summary.attempt = attempts;
            answer.summary.callback_delay = Some(delay);
            answer.summary.subject.stage = Some(stage);
            answer.summary.subject.step = step;
            answer
        }
        _ => failed(decision.code, decision.message),
    }
}
