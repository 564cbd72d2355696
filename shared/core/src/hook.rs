//! One invocation of an ECS lifecycle hook, end to end: event in, hook response out.
//!
//! This is the whole of a phase function's logic; the function's `main` only builds the
//! [`HookBackend`] (AWS clients, the facts provider, the plan factory) and hands payloads here. The
//! order of the steps is the product's promise:
//! 1. an event that does not follow the contract is answered FAILED, naming the field;
//! 2. a rollback is answered SUCCEEDED before anything else can go wrong (wiring and config
//!    included) — the event's weights are the documented signal, confirmed with the deployment's
//!    status when that can be read, because a first production step seen before its weights move
//!    looks the same;
//! 3. a stage this function does not serve is answered FAILED, naming the function that does;
//! 4. the config is resolved (a broken one fails the stage with its line and field);
//! 5. the engine judges the stage's plan; its state goes back in `hookDetails`.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::config::resolve::{ConfigLookup, ConfigReferenceReader, Placeholders, resolve_config};
use crate::config::{ConfigErrors, StagePlanSpec};
use crate::engine::clock::unix_seconds;
use crate::engine::state::{StageKey, StageState};
use crate::engine::verdict::VerdictStatus;
use crate::engine::{Engine, Invocation, Plan};
use crate::facts::Facts;
use crate::protocol::codes::{EVENT_MALFORMED, EVENT_STAGE_NOT_SERVED, EVENT_STAGE_UNKNOWN};
use crate::protocol::ecs::{EventError, HookEvent, HookResponse};
use crate::reason::ReasonCode;
use crate::stage::LifecycleStage;

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

/// Judges one ECS lifecycle hook invocation.
pub async fn handle_ecs_hook(
    phase: Phase,
    payload: &Value,
    backend: &dyn HookBackend,
    engine: &Engine<'_>,
    env_config: Option<&str>,
    deadline: Option<SystemTime>,
) -> HookAnswer {
    let event = match HookEvent::parse(payload) {
        Ok(event) => event,
        Err(error) => return failed(&EVENT_MALFORMED, format!("malformed hook event: {error}")),
    };
    let facts = match backend.facts(&event) {
        Ok(facts) => facts,
        Err(error) => return failed(&EVENT_MALFORMED, format!("malformed hook event: {error}")),
    };
    let rollback = match event.rollback() {
        Some(hint) => {
            let evidence = format!(
                "{} traffic: green 0%, {} 100%",
                hint.map, hint.restored_revision
            );
            match facts.deployment().await {
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
                // Never block a rollback on a failed lookup: the weights are the documented signal.
                Err(_) => Some(evidence),
            }
        }
        None => None,
    };

    let stage = &event.lifecycle_stage;
    // A rollback first: ECS re-invokes the TEST_/PRODUCTION_TRAFFIC_SHIFT hooks while it rolls
    // back, and a hook wired to a stage this function does not serve must not block that.
    if let Some((code, message)) = wiring_mistake(phase, stage) {
        if rollback.is_none() {
            return failed(code, message);
        }
        tracing::warn!(reason = code.code, message = %message, "wiring mistake seen during a rollback; not blocking it");
    }

    let key = StageKey::new(
        &event.resource_arn,
        stage.as_str(),
        event.traffic_step().as_ref().map(|step| step.key()),
    );
    let carried = event.greenlight_details();
    if let Some(evidence) = rollback {
        let verdict = engine
            .judge(
                &Plan {
                    bake: None,
                    interval: Duration::from_secs(1),
                    checks: Vec::new(),
                },
                Invocation {
                    key,
                    rollback: Some(evidence),
                    carried,
                    deadline,
                },
            )
            .await;
        return HookAnswer {
            response: HookResponse::succeeded(),
            code: verdict.code,
            message: verdict.message,
        };
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
    let resolved = match resolve_config(&lookup, backend.config_reader()).await {
        Ok(resolved) => resolved,
        Err(errors) => return config_failure(&errors, engine, key, carried),
    };
    let Some(spec) = resolved.config.stage_plan(stage) else {
        return HookAnswer {
            response: HookResponse::succeeded(),
            code: &crate::engine::codes::VERDICT_NO_CHECKS,
            message: format!("the config ({}) has no plan for {stage}", resolved.source),
        };
    };
    let plan = backend.build_plan(&spec, &facts);
    let verdict = engine
        .judge(
            &plan,
            Invocation {
                key,
                rollback: None,
                carried,
                deadline,
            },
        )
        .await;
    // ECS documents returned hookDetails only with IN_PROGRESS (passed to the next invocation);
    // a terminal answer carries none, so nothing depends on how ECS would treat it.
    let response = match verdict.status {
        VerdictStatus::Succeeded => HookResponse::succeeded(),
        VerdictStatus::Failed => HookResponse::failed(),
        VerdictStatus::InProgress => {
            HookResponse::in_progress(verdict.callback_delay.map_or(30, |delay| {
                u32::try_from(delay.as_secs()).unwrap_or(u32::MAX)
            }))
            .with_hook_details(verdict.state.clone().into_hook_details(carried))
        }
    };
    HookAnswer {
        response,
        code: verdict.code,
        message: verdict.message,
    }
}

/// Why this function should not judge `stage`: a stage this version does not know, or one this
/// function does not serve.
fn wiring_mistake(phase: Phase, stage: &LifecycleStage) -> Option<(&'static ReasonCode, String)> {
    if !stage.is_known() {
        return Some((
            &EVENT_STAGE_UNKNOWN,
            format!(
                "lifecycle stage {stage} is unknown to this version of greenlight; remove it from the hook's lifecycleStages or upgrade"
            ),
        ));
    }
    if !phase.stages().contains(stage) {
        let right = Phase::for_stage(stage)
            .map(|right| format!("the `{}` function serves it", right.function_name()))
            .unwrap_or_else(|| "no greenlight function serves it".to_owned());
        return Some((
            &EVENT_STAGE_NOT_SERVED,
            format!(
                "wiring mistake: the `{}` function was invoked for {stage}, which it does not serve; {right}",
                phase.function_name()
            ),
        ));
    }
    None
}

fn failed(code: &'static ReasonCode, message: String) -> HookAnswer {
    tracing::error!(reason = code.code, message = %message, "greenlight verdict: FAILED");
    HookAnswer {
        response: HookResponse::failed(),
        code,
        message,
    }
}

/// How long a config that cannot be read for transient reasons (throttling, an unreachable parameter
/// store) is waited for: the default `max_wait`, since the config that would say otherwise is unread.
const CONFIG_MAX_WAIT: Duration = Duration::from_secs(15 * 60);

fn config_failure(
    errors: &ConfigErrors,
    engine: &Engine<'_>,
    key: StageKey,
    carried: Option<&Value>,
) -> HookAnswer {
    let message = errors.to_string();
    if errors.is_transient() {
        // A throttled or unreachable parameter store says nothing about green: ask again, for a while.
        let now = unix_seconds(engine.now());
        let mut state = StageState::carried_or_fresh(carried, key, now);
        state.attempts = state.attempts.saturating_add(1);
        if now.saturating_sub(state.started_at) < CONFIG_MAX_WAIT.as_secs() {
            tracing::warn!(reason = errors.code().code, message = %message, "config not readable yet");
            return HookAnswer {
                response: HookResponse::in_progress(30)
                    .with_hook_details(state.into_hook_details(carried)),
                code: errors.code(),
                message,
            };
        }
        return failed(
            errors.code(),
            format!(
                "{message} (still unreadable after {})",
                humantime::format_duration(CONFIG_MAX_WAIT)
            ),
        );
    }
    failed(errors.code(), message)
}
