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
//! - `error_rate`: per settled minute, `HTTPCode_Target_5XX_Count` + `TargetConnectionErrorCount`
//!   over `RequestCount` of each target group, judged by always-valid sequential tests against a
//!   concurrent baseline or blue's own minutes before the shift ([`error_rate`]).
//! - `latency`: `TargetResponseTime` at the percentile (default p99), computed by CloudWatch over
//!   the whole stage window in one period, so it is the percentile of every request in the
//!   window, not an average of per-minute percentiles. Both sides need `min_requests`; a breach of
//!   `max_increase` or `max_ratio` fails ([`COMPARE_LATENCY_HIGHER`]). CloudWatch returns one
//!   percentile per side, not the samples, so latency has no significance test yet.
//!
//! Kayenta compares distributions with a Mann-Whitney U test at every interval, with no stated
//! error rate under repeated looks; the error-rate test here states one.

pub mod error_rate;
#[cfg(test)]
mod simulation;

use serde_json::json;

use super::CheckDoc;
use super::metric::MetricWindow;
use crate::config::checks::{CompareParams, MaxIncrease};
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

/// Connections to a target that could not be made (a crashing green refuses them).
pub const TARGET_CONNECTION_ERROR_COUNT: &str = "TargetConnectionErrorCount";

/// Green is not worse than blue.
pub static COMPARE_NOT_WORSE: ReasonCode = ReasonCode {
    code: "COMPARE_NOT_WORSE",
    summary: "Green's error rate or latency is within the allowed margin of blue's.",
    what: "Error rate: green's own requests in the stage's settled window rule out the highest rate the config allows (blue's rate plus `max_increase`, or times `max_ratio`) at the configured confidence; the evidence names the baseline, the increase this traffic could have told, and an interval for green's errors against blue's. Latency: green's percentile did not exceed blue's by more than `max_increase` nor reach `max_ratio` times it.",
    why: "Green serves production traffic as well as the revision it replaces, with the evidence to say so.",
    fix: "Nothing to fix.",
};

/// Green's error rate is higher, beyond noise.
pub static COMPARE_ERROR_RATE_HIGHER: ReasonCode = ReasonCode {
    code: "COMPARE_ERROR_RATE_HIGHER",
    summary: "Green's error rate is higher than blue's by more than allowed, at the configured confidence.",
    what: "Over every settled minute since the deployment started, an always-valid sequential test (a mixture SPRT on each minute's errors split by traffic share) rejected \"green is no worse than blue\" at the configured confidence (default 99%), and green's observed rate breaches `max_increase` or `max_ratio`. Errors are target 5xx plus target connection errors. The evidence shows both sides, the baseline, the test's log evidence and an interval for green's errors against blue's.",
    why: "Green fails requests that blue answers; the test's error rate holds however often the stage is looked at.",
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
    summary: "Green's error rate looks worse than the margin, but not yet beyond noise.",
    what: "Green's observed error rate breaches `max_increase` or `max_ratio`, but the sequential test has not reached the configured confidence: a few unlucky requests could explain it. The evidence shows how far the test has come.",
    why: "Failing on noise rolls back good deployments; passing on it ships bad ones. The check keeps judging within its `max_wait`.",
    fix: "Usually nothing: more traffic settles it either way.",
};

/// Not enough evidence yet either way.
pub static COMPARE_UNDECIDED: ReasonCode = ReasonCode {
    code: "COMPARE_UNDECIDED",
    summary: "Green's error rate is not yet shown to be within the margin, nor worse.",
    what: "Green's observed rate is within the margin but its requests do not yet rule out the allowed rate at the configured confidence; the message estimates the minutes still needed at the current traffic.",
    why: "Looking fine over a few requests is not evidence. The check keeps judging within its `max_wait`, and the traffic expected by then can settle it.",
    fix: "Usually nothing. If it runs out of wait, see COMPARE_UNDERPOWERED.",
};

/// Too little traffic to tell within the wait.
pub static COMPARE_UNDERPOWERED: ReasonCode = ReasonCode {
    code: "COMPARE_UNDERPOWERED",
    summary: "Too little traffic to tell green's error rate from blue's by the margin before the wait runs out.",
    what: "At green's current request rate, the requests it will have served when the check's wait runs out (stage start + bake + `max_wait`) cannot rule out an increase of `max_increase` at the configured confidence. The evidence gives the requests per minute, the requests expected and needed, and the smallest increase that traffic could tell. `on_underpowered` decides: `wait` (default; then `on_exhausted`), `pass` (this code, as a pass without evidence) or `fail`.",
    why: "\"Too little traffic to tell\" must never read as \"green is fine\": the timeline shows this code, not COMPARE_NOT_WORSE.",
    fix: "Lengthen the bake or the canary percentage, raise `max_increase`, lower `confidence`, or set `on_underpowered: pass` for a quiet service where alarms decide.",
};

/// Blue's errors are too bursty for the stated confidence.
pub static COMPARE_TOO_NOISY: ReasonCode = ReasonCode {
    code: "COMPARE_TOO_NOISY",
    summary: "Blue's errors come in bursts beyond binomial noise: too noisy to claim the configured confidence.",
    what: "Blue's per-minute error rates before the window vary more than independent requests would (the dispersion in the evidence), so a minute's evidence would have to be discounted more than threefold; the test would not hold its stated error rate.",
    why: "Bursty errors break the independence every request-level test assumes; saying so beats misjudging.",
    fix: "Find the source of the bursts (a flaky dependency, retries), judge with `alarms` or a `metric` check meanwhile, or lower `confidence`.",
};

/// Too few requests on a side.
pub static COMPARE_TOO_FEW_REQUESTS: ReasonCode = ReasonCode {
    code: "COMPARE_TOO_FEW_REQUESTS",
    summary: "Green (or, for latency, either side) served fewer requests in the settled window than `min_requests`.",
    what: "The sum of `RequestCount` over the stage's settled minutes was below `min_requests`; the evidence shows the counts. Minutes newer than `settle` are not counted yet.",
    why: "Rates over a handful of requests are noise; no evidence is not success. The check waits within its `max_wait`.",
    fix: "Usually nothing early in a step. At small traffic shares (a 5% canary) green needs longer to reach `min_requests`: lengthen the bake, or lower `min_requests`.",
};

/// Nothing to compare green with.
pub static COMPARE_NO_BASELINE: ReasonCode = ReasonCode {
    code: "COMPARE_NO_BASELINE",
    summary: "There is no blue traffic to compare green with.",
    what: "The deployment has no blue target group, green and blue resolve to the same one, or blue served fewer than `min_requests` both in the stage's window and in the hour before it (a service's first deployment). A latency comparison also has none where green has all the traffic: it compares percentiles of the same window only.",
    why: "Without a baseline the comparison has no evidence either way. It is not applicable: `on_not_applicable` decides (the built-in plans pass saying so; a team's config fails unless it says `on_not_applicable: pass`).",
    fix: "On a service's first deployment there is nothing to compare: judge green with `alarms` or a `metric` check. If blue should exist, check the service's load balancer configuration (two target groups). For latency once green has all the traffic, use a `metric` check on green's `TargetResponseTime`, or `on_not_applicable: pass` where an error-rate `compare` and alarms guard the stage.",
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
    why: "Blue serves the same production traffic behind the same load balancer at the same time: a free, fair baseline that a fixed threshold cannot match; when green has all the traffic, blue's own minutes before the shift stand in. Error rates are judged by always-valid sequential tests whose stated confidence holds however often the stage is looked at, across every step of the deployment; too little traffic to tell is its own outcome, never a pass.",
    example: "compare:\n  metric: error_rate\n  max_increase: 0.5pp\n  confidence: 99%\n  min_requests: 200",
    iam_actions: &[
        "cloudwatch:GetMetricData",
        "ecs:DescribeServiceDeployments",
        "ecs:DescribeServiceRevisions",
        "elasticloadbalancing:DescribeRules",
    ],
    codes: &[
        &COMPARE_NOT_WORSE,
        &COMPARE_ERROR_RATE_HIGHER,
        &COMPARE_LATENCY_HIGHER,
        &COMPARE_INCREASE_NOT_SIGNIFICANT,
        &COMPARE_UNDECIDED,
        &COMPARE_UNDERPOWERED,
        &COMPARE_TOO_NOISY,
        &COMPARE_TOO_FEW_REQUESTS,
        &COMPARE_NO_BASELINE,
        &COMPARE_NO_DATA,
        &COMPARE_NO_LOAD_BALANCER,
    ],
};

/// What one side (green or blue) showed in the window, for a latency comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct SideObservation {
    /// The target group, as CloudWatch names it (`targetgroup/web-green/…`).
    pub target_group: String,
    /// The sum of `RequestCount`.
    pub requests: u64,
    /// `TargetResponseTime` at the percentile, in seconds, when there was a datapoint.
    pub latency_seconds: Option<f64>,
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

/// Which baseline an error-rate comparison at `stage` will use, for `greenlight config validate`.
pub fn baseline_note(stage: &crate::stage::LifecycleStage) -> &'static str {
    use crate::stage::LifecycleStage;
    match stage {
        LifecycleStage::ProductionTrafficShift => {
            "concurrent at canary and linear steps below 100%; before_shift (blue's minutes before the stage) at BLUE_GREEN's shift and the step that moves all traffic"
        }
        _ => {
            "before_shift (blue's minutes before green took all traffic; green has all of it here)"
        }
    }
}

/// Whether an error-rate comparison can reach `min_requests` in the time it has, for
/// `greenlight config validate`: the stage's `bake` plus the check's `max_wait`, less `settle`
/// (the last minutes are not yet readable when the wait runs out). With the traffic expected to
/// reach green (requests a minute), a shortfall is a warning: the check would end
/// [`COMPARE_UNDERPOWERED`] or wait out `max_wait`. Returns (warning, sentence).
pub fn traffic_note(
    params: &CompareParams,
    bake: std::time::Duration,
    max_wait: std::time::Duration,
    green_per_minute: Option<f64>,
) -> (bool, String) {
    let usable = (bake + max_wait).saturating_sub(params.settle());
    let minutes = (usable.as_secs() / 60) as f64;
    let time = format!(
        "bake {} + max_wait {} less settle {}",
        humantime::format_duration(bake),
        humantime::format_duration(max_wait),
        humantime::format_duration(params.settle())
    );
    let min_requests = params.min_requests as f64;
    if minutes < 1.0 {
        return (
            true,
            format!(
                "{time} leaves no whole settled minute to judge: lengthen the bake or max_wait"
            ),
        );
    }
    let needed = (min_requests / minutes).ceil();
    match green_per_minute {
        None => (
            false,
            format!(
                "needs about {needed} requests a minute reaching green to serve min_requests {} in {time}",
                params.min_requests
            ),
        ),
        Some(rate) => {
            let expected = (rate * minutes).floor();
            if expected < min_requests {
                (
                    true,
                    format!(
                        "at {} requests a minute reaching green, green serves about {expected} requests in {time}, fewer than min_requests {}: it would end COMPARE_UNDERPOWERED or wait out max_wait; lengthen the bake, raise the traffic share or lower min_requests (it needs about {needed} a minute)",
                        number_text(rate),
                        params.min_requests
                    ),
                )
            } else {
                (
                    false,
                    format!(
                        "at {} requests a minute reaching green, green serves about {expected} requests in {time}, at least min_requests {}",
                        number_text(rate),
                        params.min_requests
                    ),
                )
            }
        }
    }
}

/// The outcome when there is no blue to compare with; `detail` says why.
pub fn no_baseline(detail: &str) -> Outcome {
    Outcome::not_applicable(
        &COMPARE_NO_BASELINE,
        format!("nothing to compare green with: {detail}"),
    )
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

/// Judges green's latency against blue's over the stage's window.
pub fn judge_latency(params: &CompareParams, observed: &CompareObservation) -> Outcome {
    if let Some(refused) = without_threshold(params) {
        return refused;
    }
    let window = observed.window.to_string();
    let (green, blue) = (&observed.green, &observed.blue);
    let side_evidence = |name: &str, side: &SideObservation| {
        Evidence::new(
            format!(
                "{name} {TARGET_RESPONSE_TIME} {}",
                params.latency_percentile()
            ),
            json!({
                "latency_ms": side.latency_seconds.map(|s| rounded(s * 1000.0, 3)),
                "requests": side.requests,
            }),
        )
        .window(window.as_str())
        .samples(side.requests)
        .resource(side.target_group.as_str())
    };
    let sides = |outcome: Outcome| {
        outcome
            .with_evidence(side_evidence("green", green))
            .with_evidence(side_evidence("blue", blue))
    };

    // Green has all the traffic: blue's percentile over the same window does not exist, and no
    // amount of waiting makes it. Say so now instead of waiting out `max_wait`.
    if !observed.window.is_empty() && blue.requests == 0 && green.requests >= params.min_requests {
        return sides(Outcome::not_applicable(
            &COMPARE_NO_BASELINE,
            format!(
                "blue served no requests in {window} while green served {}: green has all the traffic, and a latency comparison only compares the two sides in the same window (use a `metric` check on green's {TARGET_RESPONSE_TIME} here)",
                green.requests
            ),
        ));
    }
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
    judge_latency_values(params, observed, sides)
}

/// Validation refuses a comparison without a threshold; params built in code must not turn "no
/// limit" into a pass.
pub fn without_threshold(params: &CompareParams) -> Option<Outcome> {
    (params.max_increase.is_none() && params.max_ratio.is_none()).then(|| {
        Outcome::permanent_error(
            &crate::config::codes::CONFIG_INVALID,
            "compare has no threshold: give `max_increase`, `max_ratio` or both",
        )
    })
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

fn signed(value: f64, decimals: usize) -> String {
    let text = trimmed(value, decimals);
    if value > 0.0 && text != "0" {
        format!("+{text}")
    } else {
        text
    }
}

fn judge_latency_values(
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

    use super::simulation::params;

    fn side(target_group: &str, requests: u64, latency_ms: Option<f64>) -> SideObservation {
        SideObservation {
            target_group: target_group.into(),
            requests,
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
    fn params_without_a_threshold_never_pass() {
        let mut p = params("compare: { metric: latency, max_ratio: 2 }");
        p.max_ratio = None;
        let outcome = judge_latency(
            &p,
            &observed(side("g", 1000, Some(900.0)), side("b", 1000, Some(100.0))),
        );
        assert_eq!(outcome.code, &crate::config::codes::CONFIG_INVALID);
        assert!(
            outcome.message.contains("no threshold"),
            "{}",
            outcome.message
        );
    }

    #[test]
    fn latency_without_blue_traffic_has_no_baseline_at_once() {
        let p = params("compare: { metric: latency, max_ratio: 2, min_requests: 100 }");
        let all_green = judge_latency(
            &p,
            &observed(side("g", 1000, Some(90.0)), side("b", 0, None)),
        );
        assert_eq!(
            all_green.code, &COMPARE_NO_BASELINE,
            "{}",
            all_green.message
        );
        assert!(all_green.not_applicable);
        assert!(all_green.message.contains("green has all the traffic"));
        // Too little of green's own traffic is still "not yet", whatever blue did.
        let early = judge_latency(&p, &observed(side("g", 10, Some(90.0)), side("b", 0, None)));
        assert_eq!(early.code, &COMPARE_TOO_FEW_REQUESTS, "{}", early.message);
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
            let outcome =
                judge_latency(&p, &observed(side("g", 500, *green), side("b", 500, *blue)));
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
        let slow = judge_latency(
            &p,
            &observed(side("g", 500, Some(260.0)), side("b", 500, Some(200.0))),
        );
        assert!(
            slow.message
                .contains("green p99 260ms (500 requests) against blue 200ms"),
            "{}",
            slow.message
        );
        assert_eq!(slow.evidence[0].value["increase_ms"], json!(60.0));
        let few = judge_latency(
            &p,
            &observed(side("g", 5, Some(900.0)), side("b", 500, Some(200.0))),
        );
        assert_eq!(few.code, &COMPARE_TOO_FEW_REQUESTS);
    }

    #[test]
    fn a_quiet_canary_cannot_reach_min_requests_in_its_bake() {
        let params = crate::checks::compare::simulation::params(
            "compare: { metric: error_rate, max_increase: 0.5pp, min_requests: 100 }",
        );
        let minutes = |m: u64| std::time::Duration::from_secs(60 * m);
        // 5m bake + 10m wait − 2m settle = 13 minutes.
        let (warned, quiet) = traffic_note(&params, minutes(5), minutes(10), Some(6.0));
        assert!(warned, "{quiet}");
        assert!(quiet.contains("about 78 requests"), "{quiet}");
        assert!(quiet.contains("about 8 a minute"), "{quiet}");
        let (warned, busy) = traffic_note(&params, minutes(5), minutes(10), Some(60.0));
        assert!(!warned, "{busy}");
        let (warned, unknown) = traffic_note(&params, minutes(5), minutes(10), None);
        assert!(
            !warned && unknown.contains("needs about 8 requests a minute"),
            "{unknown}"
        );
        let (warned, none) = traffic_note(&params, std::time::Duration::ZERO, minutes(2), None);
        assert!(warned && none.contains("no whole settled minute"), "{none}");
    }

    #[test]
    fn no_baseline_is_not_applicable() {
        let outcome = no_baseline("the deployment has no blue target group");
        assert!(outcome.not_applicable);
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
