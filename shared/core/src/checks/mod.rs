//! The judge half of every check: pure functions from evidence to an [`Outcome`](crate::Outcome),
//! each check's reason codes, and its documentation.
//!
//! A check lives in three places by design: its params in [`crate::checks`] (what a team
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
pub mod registry;
pub mod routing;
pub mod target_health;
pub mod tasks;

use std::collections::BTreeSet;

use crate::facts::Fact;
use crate::reason::ReasonCode;
use crate::stage::LifecycleStage;

// The one list of check kinds, in the order the README documents them. A new kind is a folder
// beside these (its params, docs, reason codes and judge), a line here, and its gather half in the
// AWS adapter (see CONTRIBUTING.md, "Adding a check").
registry::check_registry! {
    /// `image`: images resolve to digests that exist and obey the registry, tag and scan rules.
    Image(image::params::ImageParams) => image::DOC,
    /// `tasks`: enough green tasks are running.
    Tasks(tasks::params::TasksParams) => tasks::DOC,
    /// `target_health`: a target group's targets are healthy.
    TargetHealth(target_health::params::TargetHealthParams) => target_health::DOC,
    /// `routing`: a listener sends the expected share of traffic to green.
    Routing(routing::params::RoutingParams) => routing::DOC,
    /// `alarms`: no watched CloudWatch alarm is firing.
    Alarms(alarms::params::AlarmsParams) => alarms::DOC,
    /// `metric`: a CloudWatch metric stays within bounds.
    Metric(metric::params::MetricParams) => metric::DOC,
    /// `compare`: green's error rate or share of slow requests is not worse than blue's.
    Compare(compare::params::CompareParams) => compare::DOC,
    /// `http`: synthetic requests to green succeed.
    Http(http::params::HttpParams) => http::DOC,
    /// `lambda`: a team's own function says green is good.
    Lambda(lambda::params::LambdaParams) => lambda::DOC,
}

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
    /// What its gather half calls, by the params that decide it, each from the first stage config
    /// validation lets such an entry run at. The one source of the functions' IAM: the template's
    /// test reads it (`greenlight iam`).
    pub iam: &'static [IamNeed],
    /// Its reason codes.
    pub codes: &'static [&'static ReasonCode],
}

impl CheckDoc {
    /// Every IAM action the check can call, at any stage.
    pub fn iam_actions(&self) -> BTreeSet<&'static str> {
        self.iam.iter().flat_map(IamNeed::actions).collect()
    }
}

/// The IAM a check needs when its params are `when`, from stage `from` on.
#[derive(Debug)]
pub struct IamNeed {
    /// The params that decide these needs (`group: green`); empty when every entry of the kind
    /// has them.
    pub when: &'static str,
    /// A check entry with those params (YAML). Config validation refuses it before `from` and
    /// allows it from `from` on (a test holds the two together).
    pub example: &'static str,
    /// The first stage such an entry may run at.
    pub from: LifecycleStage,
    /// The shared facts it reads (their actions are the provider's, [`Fact::ecs_actions`]).
    pub facts: &'static [Fact],
    /// The calls it makes itself.
    pub calls: &'static [&'static str],
}

impl IamNeed {
    /// Its own calls and those of the facts it reads.
    pub fn actions(&self) -> BTreeSet<&'static str> {
        Fact::actions_with(self.facts, self.calls)
    }
}

pub use alarms::params::{AlarmsParams, InsufficientData};
pub use compare::params::{CompareMetric, CompareParams, MaxIncrease, OnUnderpowered};
pub use http::params::{
    HeaderValue, HttpExpect, HttpMethod, HttpParams, HttpTarget, JsonPath, JsonPathStep,
};
pub use image::params::{ImageParams, RegistryPattern, Severity};
pub use lambda::params::LambdaParams;
pub use metric::params::MetricParams;
pub use registry::{CheckConfig, PolicyOverrides};
pub use routing::params::{Listener, RoutingParams};
pub use target_health::params::{TargetGroupRole, TargetHealthParams};
pub use tasks::params::TasksParams;

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
        let kinds: Vec<&str> = CheckKind::names().collect();
        let documented: Vec<&str> = DOCS.iter().map(|doc| doc.kind).collect();
        assert_eq!(kinds, documented);
        let mut unique = kinds.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), kinds.len(), "a kind is registered twice");
        // Each kind's documented example parses to that kind, whose docs are that page.
        for doc in DOCS {
            let example = registry::test_support::check(doc.example)
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
            assert!(!doc.iam.is_empty(), "{} lists no IAM needs", doc.kind);
            assert!(!doc.codes.is_empty(), "{} has no reason codes", doc.kind);
            for action in doc.iam_actions() {
                let (service, name) = action.split_once(':').expect("service:Action");
                assert!(
                    !service.is_empty() && !name.is_empty() && !name.contains('*'),
                    "{action}"
                );
            }
        }
    }

    /// Each need's `from` is what config validation says: its example is refused at every earlier
    /// stage and allowed from `from` on, so the IAM each function gets follows the stages a check
    /// can really run at.
    #[test]
    fn each_iam_need_starts_where_config_validation_lets_its_entry_run() {
        use registry::test_support::check_at;
        for doc in DOCS {
            for need in doc.iam {
                for stage in LifecycleStage::KNOWN {
                    let allowed = check_at(need.example, &stage);
                    if stage < need.from {
                        assert!(
                            allowed.is_err(),
                            "{} ({}) is allowed at {stage}, before its IAM need's first stage {}",
                            doc.kind,
                            need.when,
                            need.from
                        );
                    } else if let Err(messages) = allowed {
                        panic!(
                            "{} ({}) is refused at {stage}, after its IAM need's first stage {}: {messages:?}",
                            doc.kind, need.when, need.from
                        );
                    }
                }
            }
            // The documented example is one of the needs' cases, or runs no earlier than them.
            let earliest = doc.iam.iter().map(|need| &need.from).min().expect("a need");
            let example_from = LifecycleStage::KNOWN
                .into_iter()
                .find(|stage| check_at(doc.example, stage).is_ok())
                .expect("the example runs somewhere");
            assert!(&example_from >= earliest, "{}", doc.kind);
        }
    }
}
