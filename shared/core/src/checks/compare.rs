//! The `compare` check's judge: green against blue over the same window, from the load balancer's
//! per-target-group metrics.
//!
//! # Why this baseline
//! Both target groups sit behind the same load balancer and serve the same production traffic at
//! the same time, so blue is a free and fair baseline: the same clients, the same time of day, the
//! same downstream dependencies. A regression shows as green being worse than blue in the same
//! window, which a fixed threshold can miss (a slow dependency hits both) or invent.
//!
//! # What is measured (`AWS/ApplicationELB`, dimensions `TargetGroup` and `LoadBalancer`)
//! - `error_rate`: the sum of `HTTPCode_Target_5XX_Count` over the sum of `RequestCount` in the
//!   window, per target group. The load balancer publishes no 5xx datapoint in a minute without
//!   errors, so a side with requests and no 5xx datapoint has an error rate of zero.
//! - `latency`: `TargetResponseTime` at the percentile (default p99), computed by CloudWatch over
//!   the whole window in one period, so it is the percentile of every request in the window, not
//!   an average of per-minute percentiles.
//!
//! # The rule
//! 1. Each side needs `min_requests` requests in the window, else [`COMPARE_TOO_FEW_REQUESTS`]
//!    (inconclusive, with both counts): comparing a handful of requests is noise.
//! 2. The thresholds are the primary rule: green is worse when its value exceeds blue's by more
//!    than `max_increase` (percentage points for error rates, a duration for latency) or is more
//!    than `max_ratio` times blue's. Blue at zero and green above it is an infinite ratio.
//! 3. For error rates, a breach of a threshold fails ([`COMPARE_ERROR_RATE_HIGHER`]) only when it
//!    is also unlikely to be noise: a one-sided two-proportion z-test (pooled) of "green's error
//!    rate is higher than blue's" must give p < [`SIGNIFICANCE`]. A breach that is not yet
//!    significant is [`COMPARE_INCREASE_NOT_SIGNIFICANT`] (inconclusive): more requests will tell.
//!    The stage is judged again and again while it bakes, and each look is another chance for
//!    noise to pass a test; 0.01 per look is about Pocock's boundary for ten looks at an overall
//!    5%, which keeps repeated looks honest. The p-value is in the evidence either way.
//! 4. Latency has no such test: CloudWatch returns one percentile per side, not the samples, so a
//!    latency breach fails at once ([`COMPARE_LATENCY_HIGHER`]). `min_requests` guards it.
//!
//! Kayenta compares distributions with a Mann-Whitney U test; CloudWatch does not return the
//! per-request samples that needs, so this check does not pretend to.

use serde_json::json;

use super::CheckDoc;
use super::metric::MetricWindow;
use crate::config::checks::{CompareMetric, CompareParams, MaxIncrease};
use crate::config::values::number_text;
use crate::outcome::{Evidence, Outcome};
use crate::reason::ReasonCode;

/// The load balancer's namespace.
pub const NAMESPACE: &str = "AWS/ApplicationELB";
/// Requests routed to a target group.
pub const REQUEST_COUNT: &str = "RequestCount";
/// 5xx responses a target group's targets sent.
pub const TARGET_5XX_COUNT: &str = "HTTPCode_Target_5XX_Count";
/// Seconds from the request leaving the load balancer to the target's response headers.
pub const TARGET_RESPONSE_TIME: &str = "TargetResponseTime";

/// The p-value below which a breach of an error-rate threshold counts as real, per look.
pub const SIGNIFICANCE: f64 = 0.01;

/// Green is not worse than blue.
pub static COMPARE_NOT_WORSE: ReasonCode = ReasonCode {
    code: "COMPARE_NOT_WORSE",
    summary: "Green's error rate or latency is within the allowed margin of blue's.",
    what: "Over the same window, with at least `min_requests` requests on each side, green's value did not exceed blue's by more than `max_increase` nor reach more than `max_ratio` times it.",
    why: "Green serves the same traffic as well as the revision it replaces.",
    fix: "Nothing to fix.",
};

/// Green's error rate is significantly higher.
pub static COMPARE_ERROR_RATE_HIGHER: ReasonCode = ReasonCode {
    code: "COMPARE_ERROR_RATE_HIGHER",
    summary: "Green's 5xx error rate is higher than blue's by more than allowed, beyond noise.",
    what: "Over the same window, green's `HTTPCode_Target_5XX_Count / RequestCount` exceeded blue's by more than `max_increase` or `max_ratio`, and a one-sided two-proportion z-test put the increase at p < 0.01. The evidence shows both sides' errors and requests, the increase, the ratio and the p-value.",
    why: "Green fails requests that blue, serving the same traffic at the same time, answers.",
    fix: "Read green's logs for the 5xx responses in the window. If the difference is expected (a deliberate change of error handling), widen `max_increase` for this deployment.",
};

/// Green is slower.
pub static COMPARE_LATENCY_HIGHER: ReasonCode = ReasonCode {
    code: "COMPARE_LATENCY_HIGHER",
    summary: "Green's response time at the percentile is higher than blue's by more than allowed.",
    what: "Over the same window, green's `TargetResponseTime` at the percentile exceeded blue's by more than `max_increase` or `max_ratio`, with at least `min_requests` requests on each side. The evidence shows both sides' latency and requests.",
    why: "Green answers the same traffic more slowly than the revision it replaces; users would feel it.",
    fix: "Compare green's resource use, dependencies and configuration with blue's. A cold green (caches, JIT) can settle with a longer bake; if the margin is too tight, raise `max_increase` or `max_ratio`.",
};

/// Green looks worse but not yet beyond noise.
pub static COMPARE_INCREASE_NOT_SIGNIFICANT: ReasonCode = ReasonCode {
    code: "COMPARE_INCREASE_NOT_SIGNIFICANT",
    summary: "Green's error rate exceeds the allowed margin, but not yet beyond noise.",
    what: "Green's error rate exceeded blue's by more than `max_increase` or `max_ratio`, but with the requests seen so far a one-sided two-proportion z-test gave p >= 0.01: a few unlucky requests could explain it.",
    why: "Failing on noise rolls back good deployments; passing on it ships bad ones. The check waits for more requests within its `max_wait`.",
    fix: "Usually nothing: more traffic settles it either way. Low-traffic services may need a longer bake or a larger `max_increase`.",
};

/// Too few requests on a side.
pub static COMPARE_TOO_FEW_REQUESTS: ReasonCode = ReasonCode {
    code: "COMPARE_TOO_FEW_REQUESTS",
    summary: "Green or blue served fewer requests in the window than `min_requests`.",
    what: "The sum of `RequestCount` in the window was below `min_requests` for green, for blue, or for both; the evidence shows both counts.",
    why: "Rates over a handful of requests are noise; no evidence is not success. The check waits within its `max_wait`.",
    fix: "Usually nothing early in a step. At small traffic shares (a 5% canary) green needs longer to reach `min_requests`: lengthen the bake, or lower `min_requests` knowing the comparison gets noisier.",
};

/// Nothing to compare green with.
pub static COMPARE_NO_BASELINE: ReasonCode = ReasonCode {
    code: "COMPARE_NO_BASELINE",
    summary: "There is no blue target group to compare green with.",
    what: "The deployment has no blue target group (no previous revision behind the load balancer), or green and blue resolve to the same target group.",
    why: "Without a baseline the comparison has no evidence either way; the check waits within its `max_wait`.",
    fix: "On a service's first deployment there is nothing to compare: set the check `mode: advisory` for it, or judge green with a `metric` check. If blue should exist, check the service's load balancer configuration (two target groups).",
};

/// The service has no load balancer, so there are no per-target-group metrics to compare.
pub static COMPARE_NO_LOAD_BALANCER: ReasonCode = ReasonCode {
    code: "COMPARE_NO_LOAD_BALANCER",
    summary: "The service has no Application Load Balancer: there are no per-target-group HTTP metrics to compare green with blue.",
    what: "The service's revisions name no load balancer (a Service Connect-only service, or one with no traffic routing at all), or a Network Load Balancer (ECS names its listeners, not rules), so neither side has `AWS/ApplicationELB` status and response time metrics.",
    why: "A comparison without data is no evidence. Under `on_not_applicable: pass` (the built-in plans) the check passes saying so; in a team's own config it is a mistake that fails the stage.",
    fix: "Judge such a service with `metric` checks on its own metrics (with `compare_to` when available), `alarms`, or a `lambda` check; or remove `compare` from its config.",
};

/// A side has requests but no latency datapoint.
pub static COMPARE_NO_DATA: ReasonCode = ReasonCode {
    code: "COMPARE_NO_DATA",
    summary: "A side has requests but no latency datapoint in the window.",
    what: "`RequestCount` showed traffic but `TargetResponseTime` returned no datapoint for green, blue or both.",
    why: "No data is not success; the check waits within its `max_wait`.",
    fix: "Usually nothing: CloudWatch delivers the load balancer's metrics a minute or two late. If it persists, check the target group and load balancer dimensions in the evidence.",
};

/// The `compare` check.
pub static DOC: CheckDoc = CheckDoc {
    kind: "compare",
    summary: "Green's error rate or latency is not worse than blue's over the same window.",
    why: "Blue serves the same production traffic behind the same load balancer at the same time: a free, fair baseline that a fixed threshold cannot match. Error rates are compared with an absolute and a relative margin, and a breach fails only when a two-proportion z-test says it is not noise (p < 0.01); too few requests on either side is inconclusive, never a pass.",
    example: "compare:\n  metric: error_rate\n  max_increase: 0.5pp\n  max_ratio: 2\n  min_requests: 200",
    iam_actions: &[
        "cloudwatch:GetMetricData",
        "ecs:DescribeServiceRevisions",
        "elasticloadbalancing:DescribeRules",
    ],
    codes: &[
        &COMPARE_NOT_WORSE,
        &COMPARE_ERROR_RATE_HIGHER,
        &COMPARE_LATENCY_HIGHER,
        &COMPARE_INCREASE_NOT_SIGNIFICANT,
        &COMPARE_TOO_FEW_REQUESTS,
        &COMPARE_NO_BASELINE,
        &COMPARE_NO_DATA,
        &COMPARE_NO_LOAD_BALANCER,
    ],
};

/// What one side (green or blue) showed in the window.
#[derive(Debug, Clone, PartialEq)]
pub struct SideObservation {
    /// The target group, as CloudWatch names it (`targetgroup/web-green/…`).
    pub target_group: String,
    /// The sum of `RequestCount`.
    pub requests: u64,
    /// The sum of `HTTPCode_Target_5XX_Count` (zero without datapoints).
    pub errors: u64,
    /// `TargetResponseTime` at the percentile, in seconds, when there was a datapoint.
    pub latency_seconds: Option<f64>,
}

impl SideObservation {
    fn error_rate(&self) -> f64 {
        if self.requests == 0 {
            return 0.0;
        }
        self.errors.min(self.requests) as f64 / self.requests as f64
    }
}

/// Both sides over one window.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareObservation {
    /// The window both sides cover.
    pub window: MetricWindow,
    /// Green.
    pub green: SideObservation,
    /// Blue.
    pub blue: SideObservation,
}

/// The outcome when there is no blue to compare with; `detail` says why.
pub fn no_baseline(detail: &str) -> Outcome {
    Outcome::inconclusive(
        &COMPARE_NO_BASELINE,
        format!("nothing to compare green with: {detail}"),
    )
}

/// The one-sided p-value of "the first rate is higher than the second" from a pooled
/// two-proportion z-test: 1 when the first is not higher or nothing varies.
pub fn p_value_higher(errors_a: u64, requests_a: u64, errors_b: u64, requests_b: u64) -> f64 {
    if requests_a == 0 || requests_b == 0 {
        return 1.0;
    }
    let (n_a, n_b) = (requests_a as f64, requests_b as f64);
    let rate_a = errors_a.min(requests_a) as f64 / n_a;
    let rate_b = errors_b.min(requests_b) as f64 / n_b;
    let pooled = (errors_a.min(requests_a) + errors_b.min(requests_b)) as f64 / (n_a + n_b);
    let spread = (pooled * (1.0 - pooled) * (1.0 / n_a + 1.0 / n_b)).sqrt();
    if spread <= 0.0 || rate_a <= rate_b {
        return 1.0;
    }
    let z = (rate_a - rate_b) / spread;
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// The complementary error function, by the Chebyshev fit of Press et al. (Numerical Recipes,
/// §6.2): fractional error below 1.2e-7 everywhere, so small tail probabilities stay accurate.
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let tail = t * poly.exp();
    if x >= 0.0 { tail } else { 2.0 - tail }
}

/// `x` as a percentage with at most three decimals (`1.234%`).
fn percent_text(fraction: f64) -> String {
    format!("{}%", trimmed(fraction * 100.0, 3))
}

/// Seconds as milliseconds with at most one decimal (`231.5ms`).
fn millis_text(seconds: f64) -> String {
    format!("{}ms", trimmed(seconds * 1000.0, 1))
}

fn trimmed(value: f64, decimals: usize) -> String {
    let text = format!("{value:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

/// Rounds to `decimals` for evidence, keeping JSON numbers readable.
fn rounded(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

/// `a / b`, infinite when only `b` is zero, 1 when both are.
fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else if a > 0.0 {
        f64::INFINITY
    } else {
        1.0
    }
}

/// The ratio as evidence: a number, or `null` for an infinite ratio (JSON has no infinity).
fn ratio_json(value: f64) -> serde_json::Value {
    if value.is_finite() {
        json!(rounded(value, 3))
    } else {
        serde_json::Value::Null
    }
}

fn ratio_text(value: f64) -> String {
    if value.is_finite() {
        format!("{}×", trimmed(value, 2))
    } else {
        "∞× (blue is zero)".to_owned()
    }
}

/// Tolerance for comparing an increase with its threshold: float noise must not breach `0.5pp`.
const EPSILON: f64 = 1e-12;

/// Judges green against blue.
pub fn judge(params: &CompareParams, observed: &CompareObservation) -> Outcome {
    // Validation refuses this; params built in code must not turn "no limit" into a pass.
    if params.max_increase.is_none() && params.max_ratio.is_none() {
        return Outcome::permanent_error(
            &crate::config::codes::CONFIG_INVALID,
            "compare has no threshold: give `max_increase`, `max_ratio` or both",
        );
    }
    let window = observed.window.to_string();
    let (green, blue) = (&observed.green, &observed.blue);
    let side_evidence = |name: &str, side: &SideObservation| {
        match params.metric {
            CompareMetric::ErrorRate => Evidence::new(
                format!("{name} error rate ({TARGET_5XX_COUNT} / {REQUEST_COUNT})"),
                json!({
                    "error_rate_percent": rounded(side.error_rate() * 100.0, 4),
                    "errors": side.errors,
                    "requests": side.requests,
                }),
            ),
            CompareMetric::Latency => Evidence::new(
                format!(
                    "{name} {TARGET_RESPONSE_TIME} {}",
                    params.latency_percentile()
                ),
                json!({
                    "latency_ms": side.latency_seconds.map(|s| rounded(s * 1000.0, 3)),
                    "requests": side.requests,
                }),
            ),
        }
        .window(window.as_str())
        .samples(side.requests)
        .resource(side.target_group.as_str())
    };
    let sides = |outcome: Outcome| {
        outcome
            .with_evidence(side_evidence("green", green))
            .with_evidence(side_evidence("blue", blue))
    };

    if green.requests < params.min_requests || blue.requests < params.min_requests {
        let during = if observed.window.is_empty() {
            "yet (the stage has not run a whole minute)".to_owned()
        } else {
            format!("in {window}")
        };
        return sides(Outcome::inconclusive(
            &COMPARE_TOO_FEW_REQUESTS,
            format!(
                "too few requests to compare {during}: green {} and blue {}; each side needs at least {}",
                green.requests, blue.requests, params.min_requests
            ),
        ))
        .with_evidence(
            Evidence::new(
                "requests per side",
                json!({ "green": green.requests, "blue": blue.requests }),
            )
            .threshold(format!(">= {} on each side", params.min_requests))
            .window(window.as_str()),
        );
    }

    match params.metric {
        CompareMetric::ErrorRate => judge_error_rate(params, observed, sides),
        CompareMetric::Latency => judge_latency(params, observed, sides),
    }
}

fn thresholds_text(params: &CompareParams) -> String {
    let mut parts = Vec::new();
    if let Some(increase) = params.max_increase {
        parts.push(format!("at most {increase} over blue"));
    }
    if let Some(max_ratio) = params.max_ratio {
        parts.push(format!("at most {}× blue", number_text(max_ratio)));
    }
    parts.join(" and ")
}

fn judge_error_rate(
    params: &CompareParams,
    observed: &CompareObservation,
    sides: impl Fn(Outcome) -> Outcome,
) -> Outcome {
    let (green, blue) = (&observed.green, &observed.blue);
    let (green_rate, blue_rate) = (green.error_rate(), blue.error_rate());
    let increase_points = (green_rate - blue_rate) * 100.0;
    let rate_ratio = ratio(green_rate, blue_rate);
    let over_increase = match params.max_increase {
        Some(MaxIncrease::Points(points)) => increase_points > points.value() + EPSILON,
        _ => false,
    };
    let over_ratio = params
        .max_ratio
        .is_some_and(|max_ratio| rate_ratio > max_ratio + EPSILON);
    let p_value = p_value_higher(green.errors, green.requests, blue.errors, blue.requests);
    let thresholds = thresholds_text(params);
    let comparison = Evidence::new(
        "green's error rate over blue's",
        json!({
            "increase_pp": rounded(increase_points, 4),
            "ratio": ratio_json(rate_ratio),
            "p_value": rounded(p_value, 6),
        }),
    )
    .threshold(format!(
        "{thresholds}; a breach fails only when significant (one-sided two-proportion z-test, p < {SIGNIFICANCE})"
    ))
    .window(observed.window.to_string())
    .samples(green.requests + blue.requests);
    let summary = format!(
        "green {} ({} of {} requests) against blue {} ({} of {}) in {}: {} points, {}; p = {}",
        percent_text(green_rate),
        green.errors,
        green.requests,
        percent_text(blue_rate),
        blue.errors,
        blue.requests,
        observed.window,
        signed(increase_points, 3),
        ratio_text(rate_ratio),
        trimmed(p_value, 4)
    );
    let outcome = if !(over_increase || over_ratio) {
        Outcome::pass(
            &COMPARE_NOT_WORSE,
            format!("green's error rate is within {thresholds}: {summary}"),
        )
    } else if p_value < SIGNIFICANCE {
        Outcome::fail(
            &COMPARE_ERROR_RATE_HIGHER,
            format!("green's error rate is worse than {thresholds}: {summary}"),
        )
    } else {
        Outcome::inconclusive(
            &COMPARE_INCREASE_NOT_SIGNIFICANT,
            format!(
                "green's error rate is worse than {thresholds}, but not yet beyond noise (p >= {SIGNIFICANCE}): {summary}"
            ),
        )
    };
    sides(outcome.with_evidence(comparison))
}

fn signed(value: f64, decimals: usize) -> String {
    let text = trimmed(value, decimals);
    if value > 0.0 && text != "0" {
        format!("+{text}")
    } else {
        text
    }
}

fn judge_latency(
    params: &CompareParams,
    observed: &CompareObservation,
    sides: impl Fn(Outcome) -> Outcome,
) -> Outcome {
    let (green, blue) = (&observed.green, &observed.blue);
    let percentile = params.latency_percentile();
    let (Some(green_latency), Some(blue_latency)) = (green.latency_seconds, blue.latency_seconds)
    else {
        let missing: Vec<&str> = [("green", green), ("blue", blue)]
            .iter()
            .filter(|(_, side)| side.latency_seconds.is_none())
            .map(|(name, _)| *name)
            .collect();
        return sides(Outcome::inconclusive(
            &COMPARE_NO_DATA,
            format!(
                "no {TARGET_RESPONSE_TIME} {percentile} datapoint for {} in {}, though requests were served",
                missing.join(" and "),
                observed.window
            ),
        ));
    };
    let increase = green_latency - blue_latency;
    let latency_ratio = ratio(green_latency, blue_latency);
    let over_increase = match params.max_increase {
        Some(MaxIncrease::Duration(allowed)) => increase > allowed.as_secs_f64() + EPSILON,
        _ => false,
    };
    let over_ratio = params
        .max_ratio
        .is_some_and(|max_ratio| latency_ratio > max_ratio + EPSILON);
    let thresholds = thresholds_text(params);
    let comparison = Evidence::new(
        format!("green's {TARGET_RESPONSE_TIME} {percentile} over blue's"),
        json!({
            "increase_ms": rounded(increase * 1000.0, 3),
            "ratio": ratio_json(latency_ratio),
        }),
    )
    .threshold(thresholds.as_str())
    .window(observed.window.to_string())
    .samples(green.requests + blue.requests);
    let summary = format!(
        "green {percentile} {} ({} requests) against blue {} ({}) in {}: {}, {}",
        millis_text(green_latency),
        green.requests,
        millis_text(blue_latency),
        blue.requests,
        observed.window,
        if increase >= 0.0 {
            format!("+{}", millis_text(increase))
        } else {
            millis_text(increase)
        },
        ratio_text(latency_ratio)
    );
    let outcome = if over_increase || over_ratio {
        Outcome::fail(
            &COMPARE_LATENCY_HIGHER,
            format!("green is slower than {thresholds}: {summary}"),
        )
    } else {
        Outcome::pass(
            &COMPARE_NOT_WORSE,
            format!("green's latency is within {thresholds}: {summary}"),
        )
    };
    sides(outcome.with_evidence(comparison))
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::config::checks::CheckKind;
    use crate::config::checks::test_support::check;
    use crate::outcome::Status;

    fn params(yaml: &str) -> CompareParams {
        match check(yaml).expect("valid compare check").kind {
            CheckKind::Compare(params) => params,
            other => panic!("{other:?}"),
        }
    }

    fn side(
        target_group: &str,
        requests: u64,
        errors: u64,
        latency_ms: Option<f64>,
    ) -> SideObservation {
        SideObservation {
            target_group: target_group.into(),
            requests,
            errors,
            latency_seconds: latency_ms.map(|ms| ms / 1000.0),
        }
    }

    fn observed(green: SideObservation, blue: SideObservation) -> CompareObservation {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        CompareObservation {
            window: MetricWindow {
                start,
                end: start + Duration::from_secs(300),
            },
            green,
            blue,
        }
    }

    #[test]
    fn p_values_follow_the_two_proportion_z_test() {
        // 30/1000 against 10/1000: z ≈ 3.2, one-sided p ≈ 0.0007.
        let p = p_value_higher(30, 1000, 10, 1000);
        assert!((p - 0.000_68).abs() < 0.000_05, "{p}");
        // 2/100 against 0/100: z ≈ 1.42, p ≈ 0.078.
        let p = p_value_higher(2, 100, 0, 100);
        assert!((p - 0.078).abs() < 0.002, "{p}");
        assert_eq!(p_value_higher(0, 100, 5, 100), 1.0);
        assert_eq!(p_value_higher(0, 100, 0, 100), 1.0);
        assert_eq!(p_value_higher(5, 0, 0, 100), 1.0);
        assert!((erfc(0.0) - 1.0).abs() < 1e-7);
        assert!((erfc(-1.0) - 1.842_700_79).abs() < 1e-6);
    }

    #[test]
    fn error_rates_are_judged_by_threshold_then_significance() {
        let p = params("compare: { metric: error_rate, max_increase: 0.5pp, min_requests: 100 }");
        let cases: &[(u64, u64, u64, u64, &ReasonCode, Status)] = &[
            // Same rate.
            (1000, 5, 1000, 5, &COMPARE_NOT_WORSE, Status::Pass),
            // +0.4pp: within the margin.
            (1000, 9, 1000, 5, &COMPARE_NOT_WORSE, Status::Pass),
            // +2pp on 1000 requests each: significant.
            (1000, 30, 1000, 10, &COMPARE_ERROR_RATE_HIGHER, Status::Fail),
            // +2pp on 100 requests each: could be noise.
            (
                100,
                2,
                100,
                0,
                &COMPARE_INCREASE_NOT_SIGNIFICANT,
                Status::Inconclusive,
            ),
            // Green better than blue.
            (1000, 0, 1000, 50, &COMPARE_NOT_WORSE, Status::Pass),
            // Too few on green's side (a 5% canary early on).
            (
                40,
                10,
                2000,
                0,
                &COMPARE_TOO_FEW_REQUESTS,
                Status::Inconclusive,
            ),
            // Too few on blue's side.
            (
                2000,
                0,
                10,
                0,
                &COMPARE_TOO_FEW_REQUESTS,
                Status::Inconclusive,
            ),
        ];
        for (green_requests, green_errors, blue_requests, blue_errors, code, status) in cases {
            let outcome = judge(
                &p,
                &observed(
                    side("targetgroup/g/1", *green_requests, *green_errors, None),
                    side("targetgroup/b/2", *blue_requests, *blue_errors, None),
                ),
            );
            assert_eq!(outcome.code, *code, "{}", outcome.message);
            assert_eq!(outcome.status, *status, "{}", outcome.message);
            let green = outcome
                .evidence
                .iter()
                .find(|e| e.measured.starts_with("green error rate"))
                .expect("green's side");
            assert_eq!(green.samples, Some(*green_requests));
            assert_eq!(green.resource.as_deref(), Some("targetgroup/g/1"));
            assert_eq!(
                green.window.as_deref(),
                Some("2027-01-15T08:00:00Z/2027-01-15T08:05:00Z")
            );
            assert!(
                outcome
                    .evidence
                    .iter()
                    .any(|e| e.measured.starts_with("blue error rate"))
            );
        }
    }

    #[test]
    fn evidence_shows_both_sides_and_the_p_value() {
        let p = params("compare: { metric: error_rate, max_increase: 0.5pp, max_ratio: 2 }");
        let outcome = judge(
            &p,
            &observed(
                side("targetgroup/g/1", 1000, 30, None),
                side("targetgroup/b/2", 1000, 10, None),
            ),
        );
        assert_eq!(outcome.code, &COMPARE_ERROR_RATE_HIGHER);
        let comparison = &outcome.evidence[0];
        assert_eq!(comparison.value["increase_pp"], json!(2.0));
        assert_eq!(comparison.value["ratio"], json!(3.0));
        assert!(
            comparison.value["p_value"]
                .as_f64()
                .is_some_and(|p| p < 0.01)
        );
        assert!(
            comparison
                .threshold
                .as_deref()
                .is_some_and(|t| t.contains("at most 0.5pp over blue and at most 2× blue"))
        );
        assert_eq!(outcome.evidence[1].value["errors"], json!(30));
        assert_eq!(outcome.evidence[2].value["error_rate_percent"], json!(1.0));
        assert!(
            outcome
                .message
                .contains("green 3% (30 of 1000 requests) against blue 1% (10 of 1000)"),
            "{}",
            outcome.message
        );

        let few = judge(
            &p,
            &observed(
                side("targetgroup/g/1", 40, 0, None),
                side("targetgroup/b/2", 900, 0, None),
            ),
        );
        assert!(
            few.message.contains("green 40 and blue 900"),
            "{}",
            few.message
        );
        let counts = few.evidence.last().expect("counts");
        assert_eq!(counts.value, json!({ "green": 40, "blue": 900 }));
    }

    #[test]
    fn params_without_a_threshold_never_pass() {
        let mut p = params("compare: { metric: error_rate, max_ratio: 2 }");
        p.max_ratio = None;
        let outcome = judge(
            &p,
            &observed(side("g", 1000, 230, None), side("b", 1000, 0, None)),
        );
        assert_eq!(outcome.code, &crate::config::codes::CONFIG_INVALID);
        assert!(
            outcome.message.contains("no threshold"),
            "{}",
            outcome.message
        );
    }

    #[test]
    fn a_ratio_over_a_zero_baseline_is_infinite_but_must_be_significant() {
        let p = params("compare: { metric: error_rate, max_ratio: 2 }");
        let noisy = judge(
            &p,
            &observed(side("g", 1000, 1, None), side("b", 1000, 0, None)),
        );
        assert_eq!(noisy.code, &COMPARE_INCREASE_NOT_SIGNIFICANT);
        assert_eq!(noisy.evidence[0].value["ratio"], serde_json::Value::Null);
        assert!(noisy.message.contains("∞×"), "{}", noisy.message);
        let real = judge(
            &p,
            &observed(side("g", 1000, 20, None), side("b", 1000, 0, None)),
        );
        assert_eq!(real.code, &COMPARE_ERROR_RATE_HIGHER);
        let both_clean = judge(
            &p,
            &observed(side("g", 1000, 0, None), side("b", 1000, 0, None)),
        );
        assert_eq!(both_clean.code, &COMPARE_NOT_WORSE);
    }

    #[test]
    fn latency_is_judged_by_increase_and_ratio() {
        // (thresholds, green's latency, blue's latency in ms, expected code, expected status)
        type Case = (
            &'static str,
            Option<f64>,
            Option<f64>,
            &'static ReasonCode,
            Status,
        );
        let cases: &[Case] = &[
            (
                "max_increase: 50ms",
                Some(240.0),
                Some(200.0),
                &COMPARE_NOT_WORSE,
                Status::Pass,
            ),
            (
                "max_increase: 50ms",
                Some(260.0),
                Some(200.0),
                &COMPARE_LATENCY_HIGHER,
                Status::Fail,
            ),
            (
                "max_ratio: 1.2",
                Some(230.0),
                Some(200.0),
                &COMPARE_NOT_WORSE,
                Status::Pass,
            ),
            (
                "max_ratio: 1.2",
                Some(250.0),
                Some(200.0),
                &COMPARE_LATENCY_HIGHER,
                Status::Fail,
            ),
            (
                "max_increase: 50ms, max_ratio: 2",
                Some(300.0),
                Some(200.0),
                &COMPARE_LATENCY_HIGHER,
                Status::Fail,
            ),
            (
                "max_increase: 50ms",
                None,
                Some(200.0),
                &COMPARE_NO_DATA,
                Status::Inconclusive,
            ),
        ];
        for (thresholds, green, blue, code, status) in cases {
            let p = params(&format!(
                "compare: {{ metric: latency, percentile: p99.9, {thresholds} }}"
            ));
            let outcome = judge(
                &p,
                &observed(side("g", 500, 0, *green), side("b", 500, 0, *blue)),
            );
            assert_eq!(outcome.code, *code, "{thresholds}: {}", outcome.message);
            assert_eq!(outcome.status, *status);
            let green_side = outcome
                .evidence
                .iter()
                .find(|e| e.measured == "green TargetResponseTime p99.9")
                .expect("green's side");
            assert_eq!(green_side.samples, Some(500));
        }
        let p = params("compare: { metric: latency, max_increase: 50ms }");
        let slow = judge(
            &p,
            &observed(
                side("g", 500, 0, Some(260.0)),
                side("b", 500, 0, Some(200.0)),
            ),
        );
        assert!(
            slow.message
                .contains("green p99 260ms (500 requests) against blue 200ms"),
            "{}",
            slow.message
        );
        assert_eq!(slow.evidence[0].value["increase_ms"], json!(60.0));
        let few = judge(
            &p,
            &observed(side("g", 5, 0, Some(900.0)), side("b", 500, 0, Some(200.0))),
        );
        assert_eq!(few.code, &COMPARE_TOO_FEW_REQUESTS);
    }

    #[test]
    fn no_baseline_is_inconclusive() {
        let outcome = no_baseline("the deployment has no blue target group");
        assert_eq!(outcome.status, Status::Inconclusive);
        assert_eq!(outcome.code, &COMPARE_NO_BASELINE);
    }

    #[test]
    fn doc_lists_every_code_and_a_valid_example() {
        assert_eq!(DOC.kind, "compare");
        assert!(DOC.codes.iter().all(|code| code.family() == "COMPARE"));
        assert!(DOC.iam_actions.contains(&"cloudwatch:GetMetricData"));
        let example = check(DOC.example).expect("the documented example is a valid check");
        assert!(matches!(example.kind, CheckKind::Compare(_)));
    }
}
