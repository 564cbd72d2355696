//! `tasks`: enough green tasks are running, each on the image digests its revision resolved.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::checks::CheckKind;
use crate::checks::registry::{CheckParams, Validation};
use crate::document::values::Percent;
use crate::stage::LifecycleStage;

/// Params of the `tasks` check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TasksParams {
    /// The share of the desired count that must be running, from 0 to 100 (default 100).
    #[serde(default = "full")]
    pub min_running_percent: Percent,
    /// Check that each running task runs the image digests its revision resolved (default true),
    /// so a tag that moved during the deployment is caught.
    #[serde(default = "yes")]
    pub verify_digests: bool,
}

fn full() -> Percent {
    Percent::new(100.0).unwrap_or_default()
}

fn yes() -> bool {
    true
}

impl Default for TasksParams {
    fn default() -> Self {
        TasksParams {
            min_running_percent: full(),
            verify_digests: true,
        }
    }
}

impl From<TasksParams> for CheckKind {
    fn from(params: TasksParams) -> Self {
        CheckKind::Tasks(params)
    }
}

impl CheckParams for TasksParams {
    const KIND: &'static str = "tasks";

    fn validate(&self, validation: &mut Validation<'_>) {
        validation.require_stage_from(LifecycleStage::PostScaleUp, "green has tasks");
        if self.min_running_percent.value() == 0.0 {
            validation.error(
                "min_running_percent",
                "expected a share above 0%: with 0% the check could pass with no task running",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::registry::test_support::{check, errors};

    fn params(yaml: &str) -> TasksParams {
        match check(yaml).unwrap().kind {
            CheckKind::Tasks(params) => params,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn defaults_to_every_task_running() {
        assert_eq!(params("tasks").min_running_percent.value(), 100.0);
        assert!(params("tasks: {}").verify_digests);
        assert_eq!(
            params("tasks: { min_running_percent: 50% }")
                .min_running_percent
                .value(),
            50.0
        );
        assert_eq!(
            params("tasks: { min_running_percent: 75 }")
                .min_running_percent
                .value(),
            75.0
        );
    }

    #[test]
    fn refuses_shares_out_of_range_or_zero() {
        assert!(errors("tasks: { min_running_percent: 120 }")[0].contains("out of range"));
        assert!(errors("tasks: { min_running_percent: 0 }")[0].contains("above 0%"));
        assert!(
            errors("tasks: { min_running_percent: half }")[0].contains("expected a percentage")
        );
    }
}
