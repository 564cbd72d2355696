//! `compare`: green's error rate or share of slow requests is not worse than blue's by more than
//! allowed, judged from the load balancer's metrics of the two target groups.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::checks::CheckKind;
use crate::checks::registry::{CheckParams, Validation};
use crate::document::node::quote;
use crate::document::values::{
    HumanDuration, Percent, PercentagePoints, Percentile, number_text, schema,
};
use crate::stage::LifecycleStage;

/// What to compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CompareMetric {
    /// 5xx responses over requests.
    ErrorRate,
    /// The share of requests slower than a threshold (`slow_above`, or blue's percentile).
    Latency,
}

/// How much worse green may be than blue: percentage points of the error rate or of the share of
/// slow requests. A duration is read only to say what to write instead.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MaxIncrease {
    /// Percentage points (`0.5pp`).
    Points(PercentagePoints),
    /// A duration (`50ms`): refused by validation, with the `slow_above` that replaces it.
    Duration(Duration),
}

const MAX_INCREASE_EXPECTED: &str = "percentage points like \"0.5pp\"";

impl fmt::Display for MaxIncrease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MaxIncrease::Points(points) => points.fmt(f),
            MaxIncrease::Duration(duration) => HumanDuration(*duration).fmt(f),
        }
    }
}

impl Serialize for MaxIncrease {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for MaxIncrease {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IncreaseVisitor;
        impl Visitor<'_> for IncreaseVisitor {
            type Value = MaxIncrease;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(MAX_INCREASE_EXPECTED)
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<MaxIncrease, E> {
                let trimmed = text.trim();
                if trimmed.ends_with("pp") || trimmed.ends_with('%') {
                    return trimmed.parse().map(MaxIncrease::Points).map_err(E::custom);
                }
                if let Ok(duration) = trimmed.parse::<HumanDuration>() {
                    return Ok(MaxIncrease::Duration(duration.get()));
                }
                Err(E::custom(format!(
                    "expected {MAX_INCREASE_EXPECTED}, got {}",
                    quote(text)
                )))
            }
            fn visit_u64<E: de::Error>(self, value: u64) -> Result<MaxIncrease, E> {
                self.visit_f64(value as f64)
            }
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<MaxIncrease, E> {
                self.visit_f64(value as f64)
            }
            fn visit_f64<E: de::Error>(self, value: f64) -> Result<MaxIncrease, E> {
                let number = number_text(value);
                Err(E::custom(format!(
                    "expected {MAX_INCREASE_EXPECTED}, got {number} (add the unit: \"{number}pp\" or \"{number}ms\")"
                )))
            }
        }
        deserializer.deserialize_any(IncreaseVisitor)
    }
}

impl JsonSchema for MaxIncrease {
    fn schema_name() -> Cow<'static, str> {
        "MaxIncrease".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        schema(serde_json::json!({
            "description": "How much worse green may be than blue, in percentage points of the error rate or of the share of slow requests (`0.5pp`).",
            "anyOf": [
                generator.subschema_for::<PercentagePoints>().to_value(),
                generator.subschema_for::<HumanDuration>().to_value(),
            ],
        }))
    }
}

/// Params of the `compare` check. Give `max_increase`, `max_ratio` or both; green fails when it
/// exceeds either.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CompareParams {
    /// `error_rate` or `latency`.
    pub metric: CompareMetric,
    /// For `latency`: blue's percentile that sets the slow threshold when `slow_above` is not
    /// given, and the percentile shown for both sides (default p99).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percentile: Option<Percentile>,
    /// For `latency`: a request is slow when its `TargetResponseTime` exceeds this (`500ms`).
    /// Without it, the threshold is blue's `percentile` over its minutes before the stage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slow_above: Option<HumanDuration>,
    /// How much higher green's error rate (or share of slow requests) may be than blue's, in
    /// percentage points (`0.5pp`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_increase: Option<MaxIncrease>,
    /// How many times blue's error rate (or share of slow requests) green may reach (`1.2`: at
    /// most 20% higher), 1 or more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1.0))]
    pub max_ratio: Option<f64>,
    /// How many requests each side needs in the window before they are compared (default 100);
    /// fewer is inconclusive.
    #[serde(default = "hundred")]
    pub min_requests: u64,
    /// How sure the comparison must be, over every look of the whole deployment
    /// (default 99%): at most 1 − confidence of releases no worse than blue are failed by this
    /// check; a release at or beyond the margin is passed at most 1 − confidence of the time, or
    /// 5% when that is larger.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<Percent>,
    /// How long after a minute ends its load balancer metrics count as complete
    /// (default 2m; CloudWatch publishes them one to three minutes late). Newer minutes are not
    /// judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settle: Option<HumanDuration>,
    /// What to answer when the traffic expected before the wait runs out cannot
    /// tell an increase of `max_increase` from noise: `wait` (default: keep judging within
    /// `max_wait`, then `on_exhausted`), `pass` (pass, saying so) or `fail`.
    #[serde(default)]
    pub on_underpowered: OnUnderpowered,
}

fn hundred() -> u64 {
    100
}

/// What an underpowered comparison answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnUnderpowered {
    /// Keep judging within `max_wait`; then the check's `on_exhausted` decides.
    #[default]
    Wait,
    /// Pass, with the underpowered code and what could have been seen in the evidence.
    Pass,
    /// Fail: a release that cannot be judged does not go on.
    Fail,
}

/// The default `confidence`.
pub const DEFAULT_CONFIDENCE: f64 = 99.0;
/// The default `settle`.
pub const DEFAULT_SETTLE: Duration = Duration::from_secs(120);

impl CompareParams {
    /// The percentile compared for latency: the one given, else p99.
    pub fn latency_percentile(&self) -> Percentile {
        self.percentile.unwrap_or(Percentile::P99)
    }

    /// The chance of a wrong answer the comparison accepts: 1 − confidence.
    pub fn alpha(&self) -> f64 {
        1.0 - self.confidence.map_or(DEFAULT_CONFIDENCE, Percent::value) / 100.0
    }

    /// The chance of passing a release exactly at the margin the comparison accepts: α, but at
    /// least 5%. Passing needs evidence that green is within the margin; at the margin itself
    /// that takes the most traffic, and releases worse than the margin are caught by the failing
    /// test long before. A stricter β would hold good releases on quiet services far longer.
    pub fn beta(&self) -> f64 {
        self.alpha().max(0.05)
    }

    /// How long a minute's metrics take to count as complete.
    pub fn settle(&self) -> Duration {
        self.settle.map_or(DEFAULT_SETTLE, |settle| settle.get())
    }
}

impl From<CompareParams> for CheckKind {
    fn from(params: CompareParams) -> Self {
        CheckKind::Compare(params)
    }
}

impl CheckParams for CompareParams {
    const KIND: &'static str = "compare";

    fn validate(&self, validation: &mut Validation<'_>) {
        validation.require_stage_from(
            LifecycleStage::ProductionTrafficShift,
            "green and blue both serve production traffic",
        );
        if self.max_increase.is_none() && self.max_ratio.is_none() {
            validation.error("", "give a threshold: `max_increase`, `max_ratio` or both");
        }
        match (self.metric, self.max_increase) {
            (CompareMetric::ErrorRate, Some(MaxIncrease::Duration(duration))) => validation.error(
                "max_increase",
                format!(
                    "expected percentage points like \"0.5pp\" for metric error_rate, got a duration ({})",
                    HumanDuration(duration)
                ),
            ),
            (CompareMetric::Latency, Some(MaxIncrease::Duration(duration))) => validation.error(
                "max_increase",
                format!(
                    "latency is judged by the share of slow requests, so `max_increase` takes percentage points of that share (\"1pp\"), not a duration ({}); to call every request slower than a bound slow, set `slow_above` (for example `slow_above: 500ms`) and compare shares with `max_ratio: 2` or `max_increase: 1pp`",
                    HumanDuration(duration)
                ),
            ),
            _ => {}
        }
        if self.metric == CompareMetric::ErrorRate {
            for (field, given) in [
                ("percentile", self.percentile.is_some()),
                ("slow_above", self.slow_above.is_some()),
            ] {
                if given {
                    validation.error(field, "applies to metric latency only");
                }
            }
        }
        if let Some(slow_above) = self.slow_above
            && (slow_above.get().is_zero() || slow_above.get() > Duration::from_secs(4000))
        {
            validation.error(
                "slow_above",
                format!(
                    "expected a response time above 0 and at most 4000s (the load balancer's longest idle timeout), got {slow_above}"
                ),
            );
        }
        if let Some(ratio) = self.max_ratio
            && (!ratio.is_finite() || !(1.0..=100.0).contains(&ratio))
        {
            validation.error(
                "max_ratio",
                format!("expected a ratio from 1 to 100 (1.2 allows 20% worse), got {ratio}"),
            );
        }
        if let Some(confidence) = self.confidence
            && !(80.0..=99.99).contains(&confidence.value())
        {
            validation.error(
                "confidence",
                format!(
                    "expected a confidence from 80% to 99.99% (99% fails at most 1 in 100 good releases), got {}%",
                    number_text(confidence.value())
                ),
            );
        }
        if let Some(settle) = self.settle
            && settle.get() > Duration::from_secs(15 * 60)
        {
            validation.error(
                "settle",
                format!("expected at most 15m (CloudWatch publishes within minutes), got {settle}"),
            );
        }
        if self.min_requests == 0 {
            validation.error(
                "min_requests",
                "expected at least 1 request: comparing no traffic is no evidence",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::registry::test_support::{check, errors};

    fn params(yaml: &str) -> CompareParams {
        match check(yaml).unwrap().kind {
            CheckKind::Compare(params) => params,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn reads_error_rate_and_latency() {
        let p = params("compare: { metric: error_rate, max_increase: 0.5pp, min_requests: 200 }");
        assert_eq!(
            p.max_increase,
            PercentagePoints::new(0.5).map(MaxIncrease::Points)
        );
        assert_eq!(p.min_requests, 200);
        let p = params(
            "compare: { metric: latency, percentile: p99.9, max_increase: 1pp, max_ratio: 1.2, slow_above: 400ms }",
        );
        assert_eq!(
            p.max_increase,
            PercentagePoints::new(1.0).map(MaxIncrease::Points)
        );
        assert_eq!(p.latency_percentile().to_string(), "p99.9");
        assert_eq!(
            p.slow_above.map(HumanDuration::get),
            Some(Duration::from_millis(400))
        );
        assert_eq!(
            params("compare: { metric: latency, max_ratio: 1.5 }").latency_percentile(),
            Percentile::P99
        );
    }

    #[test]
    fn says_what_max_increase_takes() {
        assert_eq!(
            errors("compare: { metric: error_rate, max_increase: half }"),
            vec![
                "checks[0].compare.max_increase: expected percentage points like \"0.5pp\", got \"half\""
            ]
        );
        assert!(
            errors("compare: { metric: error_rate, max_increase: 0.5% }")[0].contains("\"0.5pp\")")
        );
        assert!(
            errors("compare: { metric: error_rate, max_increase: 0.5 }")[0]
                .contains("add the unit")
        );
        assert!(
            errors("compare: { metric: error_rate, max_increase: 50ms }")[0]
                .contains("for metric error_rate, got a duration (50ms)")
        );
        let duration = errors("compare: { metric: latency, max_increase: 50ms }");
        assert!(
            duration[0].contains("share of slow requests")
                && duration[0].contains("not a duration (50ms)")
                && duration[0].contains("slow_above: 500ms"),
            "{duration:?}"
        );
    }

    #[test]
    fn cross_field_rules() {
        assert!(errors("compare: { metric: error_rate }")[0].contains("give a threshold"));
        assert!(
            errors("compare: { metric: error_rate, max_ratio: 0.5 }")[0].contains("from 1 to 100")
        );
        assert!(
            errors("compare: { metric: error_rate, max_ratio: 2, percentile: p99 }")[0]
                .contains("latency only")
        );
        assert!(
            errors("compare: { metric: error_rate, max_ratio: 2, slow_above: 1s }")[0]
                .contains("compare.slow_above: applies to metric latency only")
        );
        assert!(
            errors("compare: { metric: latency, max_ratio: 2, slow_above: 0s }")[0]
                .contains("above 0")
        );
        // The sequential test's knobs apply to both metrics.
        assert!(
            check(
                "compare: { metric: latency, max_ratio: 2, confidence: 95%, settle: 3m, on_underpowered: pass }"
            )
            .is_ok()
        );
        assert!(
            errors("compare: { metric: error_rate, max_ratio: 2, min_requests: 0 }")[0]
                .contains("at least 1")
        );
        assert!(
            errors("compare: { metric: errors, max_ratio: 2 }")[0]
                .contains("unknown value \"errors\"")
        );
    }
}
