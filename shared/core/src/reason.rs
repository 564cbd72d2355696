//! The reason code: a stable, documented name for an outcome or a verdict.
//!
//! Every outcome, and every verdict, carries a reason code that on-call can grep for. Each code is
//! declared once, as a `static` [`ReasonCode`] next to the logic that emits it, with the same four
//! pieces of documentation (what / why / how to fix, plus a one-line summary). This module is a
//! leaf: it knows no other part of greenlight. [`crate::catalogue`] lists every code.

use std::fmt;

use serde::{Serialize, Serializer};

/// A stable, documented reason for an outcome or a verdict.
#[derive(Debug, PartialEq, Eq)]
pub struct ReasonCode {
    /// The code itself, `SCREAMING_SNAKE_CASE`, prefixed by its family (`ALARM_FIRING`).
    pub code: &'static str,
    /// One line: what happened.
    pub summary: &'static str,
    /// What the check or rule measured to reach this.
    pub what: &'static str,
    /// Why it matters for the deployment.
    pub why: &'static str,
    /// What the reader can do about it.
    pub fix: &'static str,
}

impl ReasonCode {
    /// The family of the code: the part before the first underscore (`ALARM` for `ALARM_FIRING`).
    pub fn family(&self) -> &'static str {
        self.code.split('_').next().unwrap_or(self.code)
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}

impl Serialize for ReasonCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code)
    }
}
