//! The judge half of every check: pure functions from evidence to an [`Outcome`](crate::Outcome),
//! each check's reason codes, and its documentation.
//!
//! A check lives in three places by design: its params in [`crate::config::checks`] (what a team
//! writes), its judge here (pure, tested on evidence tables), and its gather half in the AWS adapter
//! crate (I/O). [`DOCS`] lists every check once; the README's check table, the reason-code registry
//! and `greenlight codes` come from it.

pub mod alarms;
pub mod compare;
pub mod http;
pub mod image;
pub mod lambda;
pub mod metric;
pub mod routing;
pub mod target_health;
pub mod tasks;

use crate::reason::ReasonCode;

/// What a check is, for its users: the template every check fills in.
#[derive(Debug)]
pub struct CheckDoc {
    /// The kind as written in config.
    pub kind: &'static str,
    /// One line: what it checks.
    pub summary: &'static str,
    /// Why it matters.
    pub why: &'static str,
    /// A config example (YAML, one check entry).
    pub example: &'static str,
    /// The IAM actions its gather half needs.
    pub iam_actions: &'static [&'static str],
    /// Its reason codes.
    pub codes: &'static [&'static ReasonCode],
}

/// Every check, in the order the README lists them.
pub static DOCS: &[&CheckDoc] = &[
    &image::DOC,
    &tasks::DOC,
    &target_health::DOC,
    &routing::DOC,
    &alarms::DOC,
    &metric::DOC,
    &compare::DOC,
    &http::DOC,
    &lambda::DOC,
];

/// The reason codes of every check.
pub fn codes() -> Vec<&'static ReasonCode> {
    DOCS.iter()
        .flat_map(|doc| doc.codes.iter().copied())
        .collect()
}
