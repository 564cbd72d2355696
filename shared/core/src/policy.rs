//! How much each check's outcome weighs in the verdict.
//!
//! The enums here are spelled the same in the config file (`mode: advisory`, `on_error: retry`), so the
//! config module deserializes them directly; [`CheckPolicy`] is the resolved form the engine uses, with
//! every default filled in.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Whether a check gates the deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// The check's outcome decides the verdict.
    #[default]
    Enforce,
    /// The check's outcome is reported but never gates (shadow mode).
    Advisory,
}

/// What an inconclusive outcome (no data, too few samples, not ready) means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnInconclusive {
    /// Answer IN_PROGRESS and judge again later, within `max_wait`.
    #[default]
    Wait,
    /// Treat it as a failure.
    Fail,
    /// Treat it as a pass.
    Pass,
}

/// What a transient error (throttling, 5xx, timeout) means. Errors that waiting cannot heal (access
/// denied, bad config) always fail an enforcing check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnError {
    /// Answer IN_PROGRESS and try again later, within `max_wait`.
    #[default]
    Retry,
    /// Treat it as a failure.
    Fail,
    /// Treat it as a pass.
    Pass,
}

/// What to answer when a check is still inconclusive or erroring after `max_wait`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnExhausted {
    /// No evidence is not success: roll back.
    #[default]
    Fail,
    /// Let the deployment go on without the evidence.
    Pass,
}

/// What a check that cannot apply to the service (it has no load balancer, no test listener rule,
/// no Service Connect) answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnNotApplicable {
    /// A config that asks for the check on such a service is a mistake: fail, naming what is
    /// missing.
    #[default]
    Fail,
    /// Pass with `CHECK_NOT_APPLICABLE` and evidence naming what the service lacks (the built-in
    /// plans, which run on every topology).
    Pass,
}

/// The resolved policy of one check in a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckPolicy {
    /// Gating or advisory.
    pub mode: Mode,
    /// What inconclusive means.
    pub on_inconclusive: OnInconclusive,
    /// What a transient error means.
    pub on_error: OnError,
    /// What to answer once `max_wait` is spent.
    pub on_exhausted: OnExhausted,
    /// What to answer when the service lacks what the check judges.
    pub on_not_applicable: OnNotApplicable,
    /// How long one run of the check may take.
    pub timeout: Duration,
    /// How long the check may stay inconclusive or erroring, counted from the first such outcome in a
    /// row, before `on_exhausted` decides.
    pub max_wait: Duration,
    /// How many passing observations in a row, across invocations, count as a pass.
    pub consecutive: u32,
}

impl Default for CheckPolicy {
    fn default() -> Self {
        CheckPolicy {
            mode: Mode::Enforce,
            on_inconclusive: OnInconclusive::Wait,
            on_error: OnError::Retry,
            on_exhausted: OnExhausted::Fail,
            on_not_applicable: OnNotApplicable::Fail,
            timeout: Duration::from_secs(10),
            max_wait: Duration::from_secs(15 * 60),
            consecutive: 1,
        }
    }
}
