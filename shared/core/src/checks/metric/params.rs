//! `metric`: a CloudWatch metric of the team's choosing stays within bounds while green runs.

use std::collections::BTreeMap;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::checks::CheckKind;
use crate::checks::registry::{CheckParams, Validation};
use crate::document::de::FieldPath;
use crate::document::values::{
    DimensionTemplate, HumanDuration, Statistic, serde_duration, serde_option_duration,
};

/// Params of the `metric` check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MetricParams {
    /// The metric's namespace (`AWS/ApplicationELB`, `MyApp`).
    #[schemars(length(min = 1, max = 255))]
    pub namespace: String,
    /// The metric's name (`HTTPCode_Target_5XX_Count`). Here `name` is the metric's, so a metric
    /// check is identified as `metric`, `metric#2`, … rather than by a name of its own.
    #[schemars(length(min = 1, max = 255))]
    pub name: String,
    /// The statistic: `Sum`, `Average`, `Minimum`, `Maximum`, `SampleCount`, `IQM`, `p99`,
    /// `p99.9`, `tm90`…
    pub stat: Statistic,
    /// Dimensions by name. Values may name deployment facts: `{green.target_group}`,
    /// `{blue.target_group}`, `{load_balancer}`, `{cluster}`, `{service}`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dimensions: BTreeMap<String, DimensionTemplate>,
    /// The period of each datapoint (default 1m): 1s, 5s, 10s, 30s or a multiple of 1m.
    #[serde(default = "one_minute", with = "serde_duration")]
    #[schemars(with = "HumanDuration")]
    pub period: Duration,
    /// The lowest value allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// The highest value allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// How many datapoints are needed before the metric is judged (default 1); fewer is
    /// inconclusive.
    #[serde(default = "one")]
    #[schemars(range(min = 1))]
    pub min_datapoints: u32,
    /// How old the newest datapoint may be; older is inconclusive (stale data).
    #[serde(
        default,
        with = "serde_option_duration",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "Option<HumanDuration>")]
    pub max_age: Option<Duration>,
    /// What periods of the window without a datapoint mean, like a CloudWatch alarm's
    /// `TreatMissingData`: `inconclusive` (default: no data, too few datapoints or stale data is
    /// never a pass), `zero` (an empty period counts as 0: for counts CloudWatch publishes only when
    /// non-zero, with `Sum` or `SampleCount`), or `ignore` (judge the datapoints there are, however
    /// old the newest; no datapoint at all is still inconclusive).
    #[serde(default, skip_serializing_if = "TreatMissing::is_default")]
    pub treat_missing: TreatMissing,
    /// `before_deployment`: also bound the metric by its own value before the deployment started
    /// (the same query over the hour before), with `max_ratio` and/or `max_increase`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compare_to: Option<MetricBaseline>,
    /// With `compare_to`: the most the metric may reach, as a multiple of its value before the
    /// deployment (`1.5`), 1 or more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1.0))]
    pub max_ratio: Option<f64>,
    /// With `compare_to`: the most the metric may rise above its value before the deployment, in
    /// the metric's own unit (`10` for 10 percentage points of CPU).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0))]
    pub max_increase: Option<f64>,
}

/// The baseline a `metric` check compares with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MetricBaseline {
    /// The same query's statistic over the hour before the deployment started.
    BeforeDeployment,
}

/// What a `metric` check makes of periods without a datapoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TreatMissing {
    /// Missing data keeps the check from passing: it waits for data.
    #[default]
    Inconclusive,
    /// An empty period counts as 0 (counts published only when non-zero).
    Zero,
    /// Only the datapoints there are are judged; gaps and stale data are not held against the
    /// metric. No datapoint at all is still inconclusive.
    Ignore,
}

impl TreatMissing {
    fn is_default(&self) -> bool {
        *self == TreatMissing::Inconclusive
    }
}

fn one_minute() -> Duration {
    Duration::from_secs(60)
}

fn one() -> u32 {
    1
}

impl From<MetricParams> for CheckKind {
    fn from(params: MetricParams) -> Self {
        CheckKind::Metric(params)
    }
}

/// CloudWatch allows at most 30 dimensions per metric.
const MAX_DIMENSIONS: usize = 30;

impl CheckParams for MetricParams {
    const KIND: &'static str = "metric";

    fn validate(&self, validation: &mut Validation<'_>) {
        for (field, value) in [("namespace", &self.namespace), ("name", &self.name)] {
            if value.trim().is_empty() || value.chars().count() > 255 {
                validation.error(field, format!("expected a {field} of 1 to 255 characters"));
            }
        }
        if self.dimensions.len() > MAX_DIMENSIONS {
            validation.error(
                "dimensions",
                format!(
                    "expected at most {MAX_DIMENSIONS} dimensions, got {}",
                    self.dimensions.len()
                ),
            );
        }
        for name in self.dimensions.keys() {
            if name.trim().is_empty() || name.chars().count() > 255 {
                validation.error_at(
                    FieldPath::root().key("dimensions").key(name.clone()),
                    "expected a dimension name of 1 to 255 characters",
                );
            }
        }
        let seconds = self.period.as_secs();
        let whole = self.period.subsec_nanos() == 0;
        if !whole
            || !(matches!(seconds, 1 | 5 | 10 | 30) || (seconds > 0 && seconds.is_multiple_of(60)))
        {
            validation.error(
                "period",
                format!(
                    "expected a period of 1s, 5s, 10s, 30s or a multiple of 1m, got {}",
                    HumanDuration(self.period)
                ),
            );
        }
        let relative = self.max_ratio.is_some() || self.max_increase.is_some();
        match (self.compare_to, relative) {
            (Some(_), false) => validation.error(
                "compare_to",
                "give `max_ratio` (1.5: at most 1.5 times the value before the deployment), `max_increase` (in the metric's unit) or both",
            ),
            (None, true) => validation.error(
                "",
                "`max_ratio` and `max_increase` bound the metric by its value before the deployment: add `compare_to: before_deployment`",
            ),
            _ => {}
        }
        if let Some(ratio) = self.max_ratio
            && (!ratio.is_finite() || !(1.0..=100.0).contains(&ratio))
        {
            validation.error(
                "max_ratio",
                format!("expected a ratio from 1 to 100 (1.5 allows 50% higher), got {ratio}"),
            );
        }
        if let Some(increase) = self.max_increase
            && (!increase.is_finite() || increase < 0.0)
        {
            validation.error(
                "max_increase",
                format!("expected an increase of 0 or more, in the metric's unit, got {increase}"),
            );
        }
        match (self.min, self.max) {
            (None, None) if !relative => {
                validation.error("", "give a threshold: `min`, `max` or both")
            }
            (Some(min), Some(max)) if min > max => validation.error(
                "min",
                format!("min ({min}) is above max ({max}); no value could pass"),
            ),
            _ => {}
        }
        for (field, value) in [("min", self.min), ("max", self.max)] {
            if value.is_some_and(|v| !v.is_finite()) {
                validation.error(field, "expected a finite number");
            }
        }
        if self.min_datapoints == 0 {
            validation.error(
                "min_datapoints",
                "expected at least 1 datapoint: no data is not success",
            );
        }
        if self.treat_missing == TreatMissing::Zero
            && !matches!(self.stat, Statistic::Sum | Statistic::SampleCount)
        {
            validation.error(
                "treat_missing",
                format!(
                    "treat_missing: zero counts an empty period as 0, which is right only for counts (stat Sum or SampleCount), not {}; use inconclusive or ignore",
                    self.stat
                ),
            );
        }
        if self.treat_missing == TreatMissing::Ignore && self.max_age.is_some() {
            validation.error(
                "max_age",
                "max_age has no effect with treat_missing: ignore (stale data is not held against the metric); remove one of them",
            );
        }
        if self.max_age.is_some_and(|age| age < self.period) {
            validation.error(
                "max_age",
                format!(
                    "max_age ({}) is shorter than the period ({}); every datapoint would be stale",
                    HumanDuration(self.max_age.unwrap_or_default()),
                    HumanDuration(self.period)
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::registry::test_support::{check, errors};
    use crate::document::values::Placeholder;

    const DESIGN: &str = "metric: { namespace: AWS/ApplicationELB, name: HTTPCode_Target_5XX_Count, stat: Sum, dimensions: { TargetGroup: '{green.target_group}', LoadBalancer: '{load_balancer}' }, max: 5 }";

    #[test]
    fn compare_to_needs_a_relative_bound_and_the_reverse() {
        assert!(check("metric: { namespace: AWS/ECS, name: CPUUtilization, stat: Average, compare_to: before_deployment, max_ratio: 1.5 }").is_ok());
        assert!(
            errors("metric: { namespace: AWS/ECS, name: CPUUtilization, stat: Average, compare_to: before_deployment }")[0]
                .contains("give `max_ratio`")
        );
        assert!(
            errors("metric: { namespace: AWS/ECS, name: CPUUtilization, stat: Average, max_ratio: 1.5 }")[0]
                .contains("add `compare_to: before_deployment`")
        );
        assert!(
            errors("metric: { namespace: AWS/ECS, name: CPUUtilization, stat: Average, compare_to: before_deployment, max_ratio: 0.5 }")[0]
                .contains("from 1 to 100")
        );
        assert!(
            errors("metric: { namespace: AWS/ECS, name: CPUUtilization, stat: Average, compare_to: before_deployment, max_increase: -1 }")[0]
                .contains("0 or more")
        );
        assert!(
            errors("metric: { namespace: AWS/ECS, name: CPUUtilization, stat: Average, compare_to: yesterday, max_ratio: 2 }")[0]
                .contains("unknown variant")
                || errors("metric: { namespace: AWS/ECS, name: CPUUtilization, stat: Average, compare_to: yesterday, max_ratio: 2 }")[0]
                    .contains("unknown value")
        );
    }

    #[test]
    fn reads_the_design_example() {
        let CheckKind::Metric(p) = check(DESIGN).unwrap().kind else {
            panic!()
        };
        assert_eq!(p.stat, Statistic::Sum);
        assert_eq!(p.period, Duration::from_secs(60));
        assert_eq!(p.max, Some(5.0));
        assert_eq!(
            p.dimensions["TargetGroup"]
                .placeholders()
                .collect::<Vec<_>>(),
            vec![Placeholder::GreenTargetGroup]
        );
        let CheckKind::Metric(p) = check("metric: { namespace: App, name: Latency, stat: p99.9, max: 0.3, period: 5m, max_age: 10m, min_datapoints: 3 }").unwrap().kind else { panic!() };
        assert_eq!(p.stat.to_string(), "p99.9");
    }

    #[test]
    fn refuses_unknown_placeholders_with_the_field_path() {
        let e = errors(
            "metric: { namespace: A, name: B, stat: Sum, max: 1, dimensions: { TargetGroup: '{green.targetgroup}' } }",
        );
        assert_eq!(
            e,
            vec![
                "checks[0].metric.dimensions.TargetGroup: unknown placeholder \"{green.targetgroup}\"; did you mean \"{green.target_group}\"?"
            ]
        );
    }

    #[test]
    fn treat_missing_defaults_to_inconclusive_and_zero_is_for_counts() {
        let CheckKind::Metric(p) = check("metric: { namespace: A, name: B, stat: Sum, max: 1 }")
            .unwrap()
            .kind
        else {
            panic!()
        };
        assert_eq!(p.treat_missing, TreatMissing::Inconclusive);
        for (text, expected) in [
            ("zero", TreatMissing::Zero),
            ("ignore", TreatMissing::Ignore),
            ("inconclusive", TreatMissing::Inconclusive),
        ] {
            let CheckKind::Metric(p) = check(&format!(
                "metric: {{ namespace: A, name: B, stat: SampleCount, max: 1, treat_missing: {text} }}"
            ))
            .unwrap()
            .kind
            else {
                panic!()
            };
            assert_eq!(p.treat_missing, expected);
        }
        let e = errors("metric: { namespace: A, name: B, stat: p99, max: 1, treat_missing: zero }");
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].starts_with("checks[0].metric.treat_missing:"), "{e:?}");
        assert!(e[0].contains("not p99"), "{e:?}");
        let e = errors(
            "metric: { namespace: A, name: B, stat: Sum, max: 1, treat_missing: ignore, max_age: 5m }",
        );
        assert!(
            e[0].contains("no effect with treat_missing: ignore"),
            "{e:?}"
        );
        assert!(
            errors("metric: { namespace: A, name: B, stat: Sum, max: 1, treat_missing: nothing }")
                [0]
            .contains("expected one of: inconclusive, zero, ignore"),
        );
    }

    #[test]
    fn cross_field_rules() {
        assert!(
            errors("metric: { namespace: A, name: B, stat: Sum }")[0].contains("give a threshold")
        );
        assert!(
            errors("metric: { namespace: A, name: B, stat: Sum, min: 5, max: 1 }")[0]
                .contains("above max")
        );
        assert!(
            errors("metric: { namespace: A, name: B, stat: Sum, max: 1, period: 45s }")[0]
                .contains("multiple of 1m")
        );
        assert!(
            errors("metric: { namespace: A, name: B, stat: Sum, max: 1, min_datapoints: 0 }")[0]
                .contains("at least 1")
        );
        assert!(
            errors("metric: { namespace: A, name: B, stat: Sum, max: 1, max_age: 30s }")[0]
                .contains("stale")
        );
        assert!(
            errors("metric: { namespace: '', name: B, stat: Sum, max: 1 }")[0]
                .contains("namespace of 1 to 255")
        );
        assert!(
            errors("metric: { namespace: A, name: B, stat: avg, max: 1 }")[0]
                .contains("expected a statistic")
        );
        assert!(
            errors("metric: { namespace: A, name: B, max: 1 }")[0]
                .contains("missing required field `stat`")
        );
    }
}
