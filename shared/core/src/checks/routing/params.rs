//! `routing`: a listener's rules send the expected share of traffic to green.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::checks::CheckKind;
use crate::checks::registry::{CheckParams, Validation};
use crate::document::values::Percent;
use crate::stage::LifecycleStage;

/// Which listener's rules to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Listener {
    /// The test listener (or test rule) that carries test traffic.
    Test,
    /// The production listener.
    Production,
}

/// Params of the `routing` check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoutingParams {
    /// `test` or `production`.
    pub listener: Listener,
    /// The share of the listener's traffic green must get. Unset: what the deployment says it
    /// should be at this stage or step (100% of test traffic; the step's weight in production).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_weight: Option<Percent>,
}

impl From<RoutingParams> for CheckKind {
    fn from(params: RoutingParams) -> Self {
        CheckKind::Routing(params)
    }
}

impl CheckParams for RoutingParams {
    const KIND: &'static str = "routing";

    fn validate(&self, validation: &mut Validation<'_>) {
        match self.listener {
            Listener::Test => validation.require_stage_from(
                LifecycleStage::TestTrafficShift,
                "the test route moves to green",
            ),
            Listener::Production => validation.require_stage_from(
                LifecycleStage::PreProductionTrafficShift,
                "production traffic moves to green",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::registry::test_support::{check, errors};

    #[test]
    fn needs_a_listener() {
        let check = check("routing: { listener: production, expected_weight: 10% }").unwrap();
        let CheckKind::Routing(params) = check.kind else {
            panic!()
        };
        assert_eq!(params.listener, Listener::Production);
        assert_eq!(params.expected_weight.map(Percent::value), Some(10.0));
        assert_eq!(
            errors("routing"),
            vec!["checks[0].routing: missing required field `listener`"]
        );
        assert!(
            errors("routing: { listener: prod }")[0].contains("expected one of: test, production")
        );
    }
}
