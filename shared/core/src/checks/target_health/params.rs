//! `target_health`: every target a target group has for the service is healthy. How many passing
//! observations in a row count is the common `consecutive` field.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::checks::CheckKind;
use crate::checks::registry::{CheckParams, Validation};
use crate::stage::LifecycleStage;

/// Which revision's target group to look at.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TargetGroupRole {
    /// The target group of the revision being deployed.
    #[default]
    Green,
    /// The target group of the revision serving production now.
    Blue,
}

/// Params of the `target_health` check.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetHealthParams {
    /// `green` (default) or `blue`.
    #[serde(default)]
    pub group: TargetGroupRole,
}

impl From<TargetHealthParams> for CheckKind {
    fn from(params: TargetHealthParams) -> Self {
        CheckKind::TargetHealth(params)
    }
}

impl CheckParams for TargetHealthParams {
    const KIND: &'static str = "target_health";

    fn validate(&self, validation: &mut Validation<'_>) {
        if self.group == TargetGroupRole::Green {
            validation.require_stage_from(LifecycleStage::PostScaleUp, "green has targets");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::registry::test_support::{check, errors};

    #[test]
    fn reads_group_and_the_common_consecutive() {
        let check = check("target_health: { group: blue, consecutive: 2 }").unwrap();
        assert_eq!(
            check.kind,
            CheckKind::TargetHealth(TargetHealthParams {
                group: TargetGroupRole::Blue
            })
        );
        assert_eq!(check.policy.consecutive, Some(2));
        assert!(
            errors("target_health: { group: teal }")[0].contains("expected one of: green, blue")
        );
    }
}
