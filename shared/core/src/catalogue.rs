//! Everything greenlight documents, in one place: every reason code ([`registry`], [`lookup`]) and
//! every check (from the check registry, [`crate::checks::DOCS`]), and the Markdown tables the
//! README and `greenlight codes` / `greenlight checks` are generated from, so docs cannot drift.
//!
//! The catalogue sits above the modules whose codes it lists; nothing below imports it.

use crate::reason::ReasonCode;

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
pub fn codes_markdown_table() -> String {
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

/// Every check as a Markdown table (kind, what it checks, reason codes, IAM actions), for the README.
pub fn checks_markdown_table() -> String {
    let mut table = String::from(
        "| check | what it checks | reason codes | IAM actions |\n|---|---|---|---|\n",
    );
    for doc in crate::checks::DOCS {
        let codes: Vec<String> = doc
            .codes
            .iter()
            .map(|code| format!("`{}`", code.code))
            .collect();
        let actions: Vec<String> = doc
            .iam_actions
            .iter()
            .map(|action| format!("`{action}`"))
            .collect();
        table.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            doc.kind,
            doc.summary.replace('|', "\\|"),
            codes.join(" "),
            actions.join(" ")
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
