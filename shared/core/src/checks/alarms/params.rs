//! `alarms`: no watched CloudWatch alarm is in ALARM.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::checks::CheckKind;
use crate::checks::registry::{CheckParams, Validation};

/// What an alarm in INSUFFICIENT_DATA means.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum InsufficientData {
    /// Not enough evidence yet: the check is inconclusive, and `on_inconclusive` decides.
    #[default]
    Inconclusive,
    /// Treat it as firing.
    Fail,
    /// Treat it as OK.
    Pass,
}

/// Params of the `alarms` check. Alarms come from any of three sources: `names`, `prefix`, and
/// the alarms the ECS deployment configuration already names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlarmsParams {
    /// Alarm names to watch.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100))]
    pub names: Vec<String>,
    /// Watch every alarm whose name starts with this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255))]
    pub prefix: Option<String>,
    /// Also watch the alarms of the service's deployment configuration (default true).
    #[serde(default = "yes")]
    pub include_deployment_alarms: bool,
    /// What an alarm in INSUFFICIENT_DATA means: `inconclusive` (default), `fail` or `pass`.
    #[serde(default)]
    pub insufficient_data: InsufficientData,
    /// Require each alarm to have been evaluated since the traffic shift began, so an alarm that
    /// has not looked at green's traffic yet does not count as OK (default false).
    #[serde(default)]
    pub require_evaluated_after_shift: bool,
    /// Pass, saying so, when the service has no deployment alarms and the check names none
    /// (default false: no alarm to watch is no evidence, and the stage fails naming the fix).
    #[serde(default)]
    pub allow_no_alarms: bool,
}

fn yes() -> bool {
    true
}

impl From<AlarmsParams> for CheckKind {
    fn from(params: AlarmsParams) -> Self {
        CheckKind::Alarms(params)
    }
}

/// DescribeAlarms takes at most 100 names per call; a plan watches at most that many by name.
const MAX_NAMES: usize = 100;
/// CloudWatch alarm names are at most 255 characters.
const MAX_NAME_CHARS: usize = 255;

impl CheckParams for AlarmsParams {
    const KIND: &'static str = "alarms";

    fn validate(&self, validation: &mut Validation<'_>) {
        if self.names.is_empty() && self.prefix.is_none() && !self.include_deployment_alarms {
            validation.error(
                "",
                "no alarms to watch: give `names`, a `prefix`, or leave `include_deployment_alarms` on",
            );
        }
        if self.names.len() > MAX_NAMES {
            validation.error(
                "names",
                format!(
                    "expected at most {MAX_NAMES} alarm names, got {}; use a prefix",
                    self.names.len()
                ),
            );
        }
        for (i, name) in self.names.iter().enumerate() {
            let path = crate::document::de::FieldPath::root().key("names").index(i);
            if name.trim().is_empty() || name.chars().count() > MAX_NAME_CHARS {
                validation.error_at(
                    path.clone(),
                    format!("expected an alarm name of 1 to {MAX_NAME_CHARS} characters"),
                );
            }
            if self.names[..i].contains(name) {
                validation.error_at(path, format!("alarm {name:?} is listed twice"));
            }
        }
        if let Some(prefix) = &self.prefix
            && (prefix.is_empty() || prefix.chars().count() > MAX_NAME_CHARS)
        {
            validation.error(
                "prefix",
                format!("expected a prefix of 1 to {MAX_NAME_CHARS} characters; an empty prefix would watch every alarm in the account"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::registry::test_support::{check, errors};

    fn params(yaml: &str) -> AlarmsParams {
        match check(yaml).unwrap().kind {
            CheckKind::Alarms(params) => params,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn defaults_to_the_deployment_alarms() {
        let p = params("alarms");
        assert!(p.include_deployment_alarms && p.names.is_empty() && p.prefix.is_none());
        assert_eq!(p.insufficient_data, InsufficientData::Inconclusive);
        let p = params(
            "alarms: { prefix: web-, insufficient_data: fail, require_evaluated_after_shift: true }",
        );
        assert_eq!(p.prefix.as_deref(), Some("web-"));
        assert_eq!(p.insufficient_data, InsufficientData::Fail);
        assert!(p.require_evaluated_after_shift);
    }

    #[test]
    fn needs_at_least_one_source() {
        assert_eq!(
            errors("alarms: { include_deployment_alarms: false }"),
            vec![
                "checks[0].alarms: no alarms to watch: give `names`, a `prefix`, or leave `include_deployment_alarms` on"
            ]
        );
        assert!(check("alarms: { include_deployment_alarms: false, names: [a] }").is_ok());
    }

    #[test]
    fn refuses_empty_duplicate_and_too_many_names() {
        assert!(
            errors("alarms: { names: [''] }")[0]
                .contains("checks[0].alarms.names[0]: expected an alarm name")
        );
        assert!(
            errors("alarms: { names: [a, b, a] }")[0]
                .contains("names[2]: alarm \"a\" is listed twice")
        );
        let many: Vec<String> = (0..101).map(|i| format!("a{i}")).collect();
        assert!(
            errors(&format!("alarms: {{ names: [{}] }}", many.join(", ")))[0]
                .contains("at most 100")
        );
        assert!(errors("alarms: { prefix: '' }")[0].contains("empty prefix"));
    }
}
