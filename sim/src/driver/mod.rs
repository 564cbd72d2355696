//! Deployment drivers: the local stand-ins for the AWS services that run a deployment and call
//! greenlight's hooks. [`ecs::EcsDriver`] plays ECS's native blue/green, linear, canary and rolling
//! deployments.
//!
//! A driver talks to two things through traits, so that its fidelity to the contract can be tested
//! without moto or function binaries: a [`HookInvoker`] (in a rehearsal, the real function binaries
//! run by [`crate::lambda_host::LambdaHost`]) and a world it acts on ([`ecs::DeploymentWorld`]: in a
//! rehearsal, moto, the sim's ECS records and the load balancer data plane).

pub mod codedeploy;
pub mod ecs;
#[cfg(test)]
mod tests;

use std::fmt;
use std::future::Future;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

/// An ECS lifecycle stage (hookable or not), in deployment order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Stage {
    /// Only when more than one revision is active.
    ReconcileService,
    /// Before green starts.
    PreScaleUp,
    /// Green's tasks start (no hooks).
    ScaleUp,
    /// Green runs, no traffic.
    PostScaleUp,
    /// Test traffic moves to green.
    TestTrafficShift,
    /// Green has all test traffic.
    PostTestTrafficShift,
    /// Before each production step.
    PreProductionTrafficShift,
    /// Each production step.
    ProductionTrafficShift,
    /// Green has all production traffic.
    PostProductionTrafficShift,
    /// ECS's own bake (no hooks).
    BakeTime,
    /// Blue is stopped (no hooks).
    CleanUp,
}

impl Stage {
    /// The stages that take hooks.
    pub const HOOKABLE: &'static [Stage] = &[
        Stage::ReconcileService,
        Stage::PreScaleUp,
        Stage::PostScaleUp,
        Stage::TestTrafficShift,
        Stage::PostTestTrafficShift,
        Stage::PreProductionTrafficShift,
        Stage::ProductionTrafficShift,
        Stage::PostProductionTrafficShift,
    ];

    /// The stage's ECS name.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::ReconcileService => "RECONCILE_SERVICE",
            Stage::PreScaleUp => "PRE_SCALE_UP",
            Stage::ScaleUp => "SCALE_UP",
            Stage::PostScaleUp => "POST_SCALE_UP",
            Stage::TestTrafficShift => "TEST_TRAFFIC_SHIFT",
            Stage::PostTestTrafficShift => "POST_TEST_TRAFFIC_SHIFT",
            Stage::PreProductionTrafficShift => "PRE_PRODUCTION_TRAFFIC_SHIFT",
            Stage::ProductionTrafficShift => "PRODUCTION_TRAFFIC_SHIFT",
            Stage::PostProductionTrafficShift => "POST_PRODUCTION_TRAFFIC_SHIFT",
            Stage::BakeTime => "BAKE_TIME",
            Stage::CleanUp => "CLEAN_UP",
        }
    }

    /// Whether hooks can be registered at this stage.
    pub fn is_hookable(self) -> bool {
        Self::HOOKABLE.contains(&self)
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A moment of a deployment: a stage, and for the production shift stages the step (from 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Moment {
    /// The stage.
    pub stage: Stage,
    /// The production step, from 1 (None outside the production shift stages).
    pub step: Option<u32>,
}

impl Moment {
    /// Whether a scenario's moment `spec` is this one: same stage, and same step when it names one.
    pub fn matches(&self, spec: &Moment) -> bool {
        self.stage == spec.stage && (spec.step.is_none() || spec.step == self.step)
    }
}

impl fmt::Display for Moment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.step {
            Some(step) => write!(f, "{} step {step}", self.stage),
            None => write!(f, "{}", self.stage),
        }
    }
}

/// How one hook invocation ended, as ECS sees it, with what the rehearsal records about it.
#[derive(Debug, Clone, PartialEq)]
pub struct HookCall {
    /// What came back.
    pub outcome: HookCallOutcome,
    /// From invocation to answer.
    pub latency: Duration,
    /// Whether a new function process served it.
    pub cold: bool,
    /// The function's log lines of this invocation.
    pub logs: Vec<String>,
}

/// What came back from a hook function.
#[derive(Debug, Clone, PartialEq)]
pub enum HookCallOutcome {
    /// The function answered with this JSON (to be read as a hook response).
    Response(Value),
    /// The function failed (error, timeout, crash): ECS rolls the deployment back.
    Failed(String),
}

/// Invokes hook functions by name (`pre-scale-up`, …), as ECS invokes the Lambda named by a hook.
pub trait HookInvoker: Sync {
    /// Invokes `function` with `payload` and waits for its answer.
    fn invoke(&self, function: &str, payload: &Value) -> impl Future<Output = HookCall> + Send;
}
