//! What one check concluded, with the evidence behind it.
//!
//! Outcomes are four-valued, not `bool`: no data is not success, and a throttled API is not a failed
//! deployment. Every outcome names a stable [`ReasonCode`] and carries the evidence an on-call engineer
//! needs to see at once why a deployment was stopped: what was measured, the value, the threshold, the
//! window, the number of samples and the resource.

use serde::Serialize;

use crate::reason::ReasonCode;

/// The four things a check can conclude.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The evidence says green is good.
    Pass,
    /// The evidence says green is bad.
    Fail,
    /// Not enough evidence yet: no data, too few samples, stale data, not ready.
    Inconclusive,
    /// The evidence could not be gathered: throttled, unavailable, timed out, denied, misconfigured.
    Error,
}

/// Whether an [`Status::Error`] can heal by waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// Throttling, 5xx, timeouts, dropped connections: asking again later may work.
    Transient,
    /// Access denied, bad config, a missing resource: waiting cannot heal it.
    Permanent,
}

/// One piece of evidence behind an outcome.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Evidence {
    /// What was measured, in words (`running tasks`, `HTTPCode_Target_5XX_Count / RequestCount`).
    pub measured: String,
    /// The value seen.
    #[serde(skip_serializing_if = "serde_json::Value::is_null")]
    pub value: serde_json::Value,
    /// The threshold the value was judged against (`>= 4`, `<= 0.5pp over blue`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<String>,
    /// The window the value covers (`2026-11-22T10:00:00Z/2026-11-22T10:05:00Z`, `last 5m`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
    /// How many samples (datapoints, requests, observations) the value rests on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub samples: Option<u64>,
    /// The resource the value belongs to (an ARN, a URL, a container name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
}

impl Evidence {
    /// Evidence of `measured` with the value seen.
    pub fn new(measured: impl Into<String>, value: impl Into<serde_json::Value>) -> Self {
        Evidence {
            measured: measured.into(),
            value: value.into(),
            ..Evidence::default()
        }
    }

    /// Adds the threshold the value was judged against.
    pub fn threshold(mut self, threshold: impl Into<String>) -> Self {
        self.threshold = Some(threshold.into());
        self
    }

    /// Adds the window the value covers.
    pub fn window(mut self, window: impl Into<String>) -> Self {
        self.window = Some(window.into());
        self
    }

    /// Adds the number of samples the value rests on.
    pub fn samples(mut self, samples: u64) -> Self {
        self.samples = Some(samples);
        self
    }

    /// Adds the resource the value belongs to.
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.resource = Some(resource.into());
        self
    }
}

/// What one check concluded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    /// Pass, fail, inconclusive or error.
    pub status: Status,
    /// For errors: whether waiting can heal it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_class: Option<ErrorClass>,
    /// The stable reason.
    pub code: &'static ReasonCode,
    /// A sentence for humans naming the resource, the value and what to do.
    pub message: String,
    /// The evidence behind the outcome, most telling first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<Evidence>,
    /// The service has no resource this check judges (no load balancer, no test listener rule,
    /// no Service Connect): a permanent error that the check's `on_not_applicable: pass` turns
    /// into a pass saying so.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub not_applicable: bool,
}

impl Outcome {
    fn new(status: Status, code: &'static ReasonCode, message: impl Into<String>) -> Self {
        Outcome {
            status,
            error_class: None,
            code,
            message: message.into(),
            evidence: Vec::new(),
            not_applicable: false,
        }
    }

    /// Green is good.
    pub fn pass(code: &'static ReasonCode, message: impl Into<String>) -> Self {
        Outcome::new(Status::Pass, code, message)
    }

    /// Green is bad.
    pub fn fail(code: &'static ReasonCode, message: impl Into<String>) -> Self {
        Outcome::new(Status::Fail, code, message)
    }

    /// Not enough evidence yet.
    pub fn inconclusive(code: &'static ReasonCode, message: impl Into<String>) -> Self {
        Outcome::new(Status::Inconclusive, code, message)
    }

    /// Evidence could not be gathered, but asking again later may work.
    pub fn transient_error(code: &'static ReasonCode, message: impl Into<String>) -> Self {
        Outcome {
            error_class: Some(ErrorClass::Transient),
            ..Outcome::new(Status::Error, code, message)
        }
    }

    /// Evidence could not be gathered, and waiting will not change that.
    pub fn permanent_error(code: &'static ReasonCode, message: impl Into<String>) -> Self {
        Outcome {
            error_class: Some(ErrorClass::Permanent),
            ..Outcome::new(Status::Error, code, message)
        }
    }

    /// The check cannot apply to this service: it lacks the resource the check judges. A permanent
    /// error, unless the check's policy says `on_not_applicable: pass`.
    pub fn not_applicable(code: &'static ReasonCode, message: impl Into<String>) -> Self {
        Outcome {
            not_applicable: true,
            ..Outcome::permanent_error(code, message)
        }
    }

    /// Adds one piece of evidence.
    pub fn with_evidence(mut self, evidence: Evidence) -> Self {
        self.evidence.push(evidence);
        self
    }

    /// Whether this is an error that waiting cannot heal.
    pub fn is_permanent_error(&self) -> bool {
        self.status == Status::Error && self.error_class == Some(ErrorClass::Permanent)
    }
}
