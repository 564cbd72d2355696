//! Stable reason codes and the one registry that documents them.
//!
//! Every outcome, and every verdict, carries a reason code that on-call can grep for. Each code is
//! declared once, as a `static` [`ReasonCode`] next to the logic that emits it, with the same four
//! pieces of documentation (what / why / how to fix, plus a one-line summary). [`registry`] lists them
//! all; the README's table and `greenlight codes` are generated from it, so docs cannot drift.

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

/// Every reason code greenlight can emit, grouped by family in a stable order.
pub fn registry() -> Vec<&'static ReasonCode> {
    [
        crate::engine::codes::ALL,
        crate::protocol::codes::ALL,
        crate::config::codes::ALL,
        crate::facts::ALL,
        &crate::checks::codes(),
    ]
    .concat()
}

/// Finds a code by its name.
pub fn lookup(code: &str) -> Option<&'static ReasonCode> {
    registry().into_iter().find(|reason| reason.code == code)
}

/// The registry as a Markdown table (code, outcome summary, fix), for the README.
pub fn markdown_table() -> String {
    let mut table = String::from("| code | what happened | how to fix |\n|---|---|---|\n");
    for reason in registry() {
        table.push_str(&format!(
            "| `{}` | {} | {} |\n",
            reason.code,
            reason.summary.replace('|', "\\|"),
            reason.fix.replace('|', "\\|")
        ));
    }
    table
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn codes_are_unique_well_formed_and_documented() {
        let mut seen = HashSet::new();
        for reason in registry() {
            assert!(
                seen.insert(reason.code),
                "duplicate reason code {}",
                reason.code
            );
            assert!(
                reason
                    .code
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'),
                "{} is not SCREAMING_SNAKE_CASE",
                reason.code
            );
            assert!(
                reason.code.contains('_'),
                "{} has no family prefix",
                reason.code
            );
            for (field, text) in [
                ("summary", reason.summary),
                ("what", reason.what),
                ("why", reason.why),
                ("fix", reason.fix),
            ] {
                assert!(
                    !text.trim().is_empty(),
                    "{} has an empty {field}",
                    reason.code
                );
            }
        }
    }

    #[test]
    fn lookup_finds_registered_codes_only() {
        let first = registry()[0];
        assert_eq!(lookup(first.code), Some(first));
        assert_eq!(lookup("NO_SUCH_CODE"), None);
    }
}
