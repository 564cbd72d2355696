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
//! - `latency`: per settled minute, the share of requests whose `TargetResponseTime` is above a
//!   threshold (`slow_above`, or blue's percentile before the stage), from CloudWatch's
//!   percentile rank `PR(:L)`: a count, judged by the same sequential tests ([`latency`]). Both
//!   sides' percentiles over the stage are in the evidence for people; they are not what is
//!   tested.
//!
//! Kayenta compares distributions with a Mann-Whitney U test at every interval, with no stated
//! error rate under repeated looks; the tests here state one.

pub mod params;

pub mod error_rate;
pub mod latency;
#[cfg(test)]
mod simulation;

use super::CheckDoc;
use crate::checks::CompareParams;
use crate::checks::IamNeed;
use crate::document::values::number_text;
use crate::facts::Fact;
use crate::outcome::Outcome;
use crate::reason::ReasonCode;
use crate::stage::LifecycleStage;

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
    summary: "Green's error rate or share of slow requests is within the allowed margin of blue's.",
    what: "Green's own requests in the stage's settled window rule out the highest error rate (or share of requests slower than the threshold) the config allows — blue's plus `max_increase`, or times `max_ratio` — at the configured confidence; the evidence names the baseline, the increase this traffic could have told, and an interval for green's count against blue's.",
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
    summary: "More of green's requests are slow than blue's, beyond the margin, at the configured confidence.",
    what: "Requests are slow when their `TargetResponseTime` is above the threshold (`slow_above`, or blue's percentile, default p99, before the stage; CloudWatch's percentile rank `PR(:threshold)` counts them per minute). Over every settled minute since the deployment started, the same always-valid sequential test as the error rate rejected \"green's share of slow requests is no worse than blue's\" at the configured confidence, and green's observed share breaches `max_increase` (points) or `max_ratio`. The evidence shows the threshold and its source, both shares, the baseline, the test, and both sides' percentiles for people.",
    why: "Green answers the same traffic more slowly than the revision it replaces; users would feel it. A share of slow requests is a count that can be tested; two percentiles cannot, and a doubled slow tail can leave the p99 where it was.",
    fix: "Compare green's resource use, dependencies and configuration with blue's. A cold green (caches, JIT) can settle with a longer bake; if the margin is too tight, raise `max_ratio` or `max_increase`, or set `slow_above` to the response time your users notice.",
};

/// Green looks worse but not yet beyond noise.
pub static COMPARE_INCREASE_NOT_SIGNIFICANT: ReasonCode = ReasonCode {
    code: "COMPARE_INCREASE_NOT_SIGNIFICANT",
    summary: "Green's error rate (or share of slow requests) looks worse than the margin, but not yet beyond noise.",
    what: "Green's observed error rate (or share of slow requests) breaches `max_increase` or `max_ratio`, but the sequential test has not reached the configured confidence: a few unlucky requests could explain it. The evidence shows how far the test has come.",
    why: "Failing on noise rolls back good deployments; passing on it ships bad ones. The check keeps judging within its `max_wait`.",
    fix: "Usually nothing: more traffic settles it either way.",
};

/// Not enough evidence yet either way.
pub static COMPARE_UNDECIDED: ReasonCode = ReasonCode {
    code: "COMPARE_UNDECIDED",
    summary: "Green's error rate (or share of slow requests) is not yet shown to be within the margin, nor worse.",
    what: "Green's observed rate is within the margin but its requests do not yet rule out the allowed rate at the configured confidence; the message estimates the minutes still needed at the current traffic.",
    why: "Looking fine over a few requests is not evidence. The check keeps judging within its `max_wait`, and the traffic expected by then can settle it.",
    fix: "Usually nothing. If it runs out of wait, see COMPARE_UNDERPOWERED.",
};

/// Too little traffic to tell within the wait.
pub static COMPARE_UNDERPOWERED: ReasonCode = ReasonCode {
    code: "COMPARE_UNDERPOWERED",
    summary: "Too little traffic to tell green's error rate (or share of slow requests) from blue's by the margin before the wait runs out.",
    what: "At green's current request rate, the requests it will have served when the check's wait runs out (stage start + bake + `max_wait`) cannot rule out an increase of `max_increase` at the configured confidence. The evidence gives the requests per minute, the requests expected and needed, and the smallest increase that traffic could tell. `on_underpowered` decides: `wait` (default; then `on_exhausted`), `pass` (this code, as a pass without evidence) or `fail`.",
    why: "\"Too little traffic to tell\" must never read as \"green is fine\": the timeline shows this code, not COMPARE_NOT_WORSE.",
    fix: "Lengthen the bake or the canary percentage, raise `max_increase`, lower `confidence`, or set `on_underpowered: pass` for a quiet service where alarms decide.",
};

/// Blue's errors are too bursty for the stated confidence.
pub static COMPARE_TOO_NOISY: ReasonCode = ReasonCode {
    code: "COMPARE_TOO_NOISY",
    summary: "Blue's errors (or slow requests) come in bursts beyond binomial noise: too noisy to claim the configured confidence.",
    what: "Blue's per-minute error rates (or shares of slow requests) before the window vary more than independent requests would (the dispersion in the evidence), so a minute's evidence would have to be discounted more than threefold; the test would not hold its stated error rate.",
    why: "Bursty errors break the independence every request-level test assumes; saying so beats misjudging.",
    fix: "Find the source of the bursts (a flaky dependency, retries), judge with `alarms` or a `metric` check meanwhile, or lower `confidence`.",
};

/// Too few requests on a side.
pub static COMPARE_TOO_FEW_REQUESTS: ReasonCode = ReasonCode {
    code: "COMPARE_TOO_FEW_REQUESTS",
    summary: "Green served fewer requests in the settled window than `min_requests`.",
    what: "The sum of `RequestCount` over the stage's settled minutes was below `min_requests`; the evidence shows the counts. Minutes newer than `settle` are not counted yet.",
    why: "Rates over a handful of requests are noise; no evidence is not success. The check waits within its `max_wait`.",
    fix: "Usually nothing early in a step. At small traffic shares (a 5% canary) green needs longer to reach `min_requests`: lengthen the bake, or lower `min_requests`.",
};

/// Nothing to compare green with.
pub static COMPARE_NO_BASELINE: ReasonCode = ReasonCode {
    code: "COMPARE_NO_BASELINE",
    summary: "There is no blue traffic to compare green with.",
    what: "The deployment has no blue target group, green and blue resolve to the same one, or blue served fewer than `min_requests` both in the stage's window and in the hour before it (a service's first deployment). A latency comparison without `slow_above` also has none when blue served too few requests before the stage to set the slow threshold from its percentile (fifty expected above it: 5,000 for p99).",
    why: "Without a baseline the comparison has no evidence either way. It is not applicable: `on_not_applicable` decides (the built-in plans pass saying so; a team's config fails unless it says `on_not_applicable: pass`).",
    fix: "On a service's first deployment there is nothing to compare: judge green with `alarms` or a `metric` check. If blue should exist, check the service's load balancer configuration (two target groups). For latency on a quiet service, set `slow_above` to a fixed bound.",
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
    summary: "A latency comparison found requests without the response-time statistic it needs.",
    what: "`TargetResponseTime`'s sample count showed traffic, but the statistic to judge it by had no datapoint: blue's percentile before the stage (to set the slow threshold), or the percentile rank at the threshold in most of a side's minutes of the stage (its slow requests cannot be counted, and the minutes that have one would be a sample CloudWatch chose).",
    why: "No data is not success; the check waits within its `max_wait`.",
    fix: "Usually nothing: CloudWatch delivers the load balancer's metrics a minute or two late. If it persists, check the target group and load balancer dimensions in the evidence.",
};

/// The `compare` check.
pub static DOC: CheckDoc = CheckDoc {
    kind: "compare",
    summary: "Green's error rate or share of slow requests is not worse than blue's.",
    why: "Blue serves the same production traffic behind the same load balancer at the same time: a free, fair baseline that a fixed threshold cannot match; when green has all the traffic, blue's own minutes before the shift stand in. Error rates and shares of slow requests are judged by always-valid sequential tests whose stated confidence holds however often the stage is looked at, across every step of the deployment; too little traffic to tell is its own outcome, never a pass.",
    example: "compare:\n  metric: error_rate\n  max_increase: 0.5pp\n  confidence: 99%\n  min_requests: 200",
    iam: &[IamNeed {
        when: "",
        example: "compare: { metric: error_rate, max_increase: 0.5pp }",
        from: LifecycleStage::ProductionTrafficShift,
        facts: &[Fact::Deployment, Fact::Routing],
        calls: &["cloudwatch:GetMetricData"],
    }],
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

/// Validation refuses a comparison without a threshold; params built in code must not turn "no
/// limit" into a pass.
pub fn without_threshold(params: &CompareParams) -> Option<Outcome> {
    (params.max_increase.is_none() && params.max_ratio.is_none()).then(|| {
        Outcome::permanent_error(
            &crate::document::codes::CONFIG_INVALID,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::CheckKind;
    use crate::checks::registry::test_support::check;

    use super::simulation::params;

    #[test]
    fn params_without_a_threshold_never_pass() {
        let mut p = params("compare: { metric: error_rate, max_ratio: 2 }");
        p.max_ratio = None;
        let refused = without_threshold(&p).expect("refused");
        assert_eq!(refused.code, &crate::document::codes::CONFIG_INVALID);
        assert!(
            refused.message.contains("no threshold"),
            "{}",
            refused.message
        );
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
        assert!(DOC.iam_actions().contains("cloudwatch:GetMetricData"));
        let example = check(DOC.example).expect("the documented example is a valid check");
        assert!(matches!(example.kind, CheckKind::Compare(_)));
    }
}
