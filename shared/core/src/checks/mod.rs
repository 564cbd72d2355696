//! The judge half of every check: pure functions from evidence to an [`Outcome`](crate::Outcome),
//! each check's reason codes, and its documentation.
//!
//! A check lives in three places by design: its params in [`crate::config::checks`] (what a team
//! writes), its judge here (pure, tested on evidence tables), and its gather half in the AWS adapter
//! crate (I/O). [`DOCS`] lists every check once, from the check registry that also defines the
//! config's kinds; [`crate::catalogue`] builds the README's check table and the reason-code
//! registry from it.

pub mod alarms;
pub mod compare;
pub mod http;
pub mod image;
pub mod image_ref;
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

/// Every check, in the order the README lists them: the check registry's list
/// ([`crate::config::checks::CheckKind`]).
pub use crate::config::checks::DOCS;

/// The reason codes of every check.
pub fn codes() -> Vec<&'static ReasonCode> {
    DOCS.iter()
        .flat_map(|doc| doc.codes.iter().copied())
        .collect()
}

#[cfg(test)]
mod doc_tests {
    use super::*;

    #[test]
    fn the_registry_pairs_every_kind_with_its_own_docs() {
        let kinds: Vec<&str> = crate::config::checks::CheckKind::names().collect();
        let documented: Vec<&str> = DOCS.iter().map(|doc| doc.kind).collect();
        assert_eq!(kinds, documented);
        let mut unique = kinds.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), kinds.len(), "a kind is registered twice");
        // Each kind's documented example parses to that kind, whose docs are that page.
        for doc in DOCS {
            let example = crate::config::checks::test_support::check(doc.example)
                .unwrap_or_else(|error| panic!("{}'s example: {error:?}", doc.kind));
            assert_eq!(example.kind.name(), doc.kind);
            assert!(std::ptr::eq(example.kind.doc(), *doc), "{}", doc.kind);
        }
    }

    #[test]
    fn every_check_is_documented_completely() {
        for doc in DOCS {
            assert!(
                !doc.summary.trim().is_empty(),
                "{} has no summary",
                doc.kind
            );
            assert!(!doc.why.trim().is_empty(), "{} has no why", doc.kind);
            assert!(
                !doc.example.trim().is_empty(),
                "{} has no example",
                doc.kind
            );
            assert!(
                !doc.iam_actions.is_empty(),
                "{} lists no IAM actions",
                doc.kind
            );
            assert!(!doc.codes.is_empty(), "{} has no reason codes", doc.kind);
            for action in doc.iam_actions {
                let (service, name) = action.split_once(':').expect("service:Action");
                assert!(
                    !service.is_empty() && !name.is_empty() && !name.contains('*'),
                    "{action}"
                );
            }
        }
    }
}
