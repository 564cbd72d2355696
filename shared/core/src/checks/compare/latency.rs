//! Green's latency against blue's, as a proportion: the share of requests slower than a threshold.
//!
//! # Why a share and not two percentiles
//! CloudWatch returns one percentile per side and period, not the samples, so two percentiles
//! cannot be tested against each other: a p99 over a few hundred requests is decided by two or
//! three of them, and a doubled slow tail can leave the p99 where it was. The share of requests
//! slower than a fixed threshold *is* a count (CloudWatch's percentile rank, `PR(:L)` on
//! `TargetResponseTime`, is the percentage of requests at or below `L`), so it goes through the
//! same always-valid sequential test as the error rate ([`super::error_rate::judge_measure`]),
//! with the same baselines, carried steps, `settle`, dispersion guard and underpowered outcome.
//!
//! # The threshold `L`
//! - `slow_above` when the config gives one (`slow_above: 500ms`: a latency objective);
//! - else blue's `percentile` (default p99) over blue's own minutes before the deployment started,
//!   or, without enough of those, before the stage: one figure, fixed for every look at the
//!   stage, so blue's share above it is about 1 − percentile and green's is compared with that.
//!   Blue needs at least fifty requests expected above the percentile (5,000 for p99), and at
//!   least `min_requests`; with fewer there is no baseline ([`super::COMPARE_NO_BASELINE`]).
//!   When that fallback window ends at the stage's start, the threshold can differ between steps
//!   (each stage reads its own), and the carried minutes are re-counted at the new one.
//!
//! # What this leaves out
//! CloudWatch computes percentile ranks from its own compressed distribution of the samples, so
//! the slow count is an approximation within CloudWatch's bucket width, the same for both sides.
//! A minute's slow count is `SampleCount × (100 − PR) / 100` of `TargetResponseTime`, whose sample
//! count is the requests a target answered (not those the load balancer answered itself).

use serde_json::json;

use super::error_rate::{self, ErrorRateObservation, Measure};
use super::{
    COMPARE_LATENCY_HIGHER, COMPARE_NO_BASELINE, TARGET_RESPONSE_TIME, millis_text, trimmed,
};
use crate::checks::CompareParams;
use crate::checks::metric::MetricWindow;
use crate::outcome::{Evidence, Outcome};

/// Where the slow threshold came from.
#[derive(Debug, Clone, PartialEq)]
pub enum ThresholdSource {
    /// The config's `slow_above`.
    Configured,
    /// Blue's percentile over `window`, from `requests` requests.
    BluePercentile {
        /// The minutes it was computed over.
        window: MetricWindow,
        /// Blue's requests in them.
        requests: u64,
    },
}

/// The response time above which a request counts as slow, for the whole stage.
#[derive(Debug, Clone, PartialEq)]
pub struct SlowThreshold {
    /// In seconds, as `TargetResponseTime` is.
    pub seconds: f64,
    /// Where it came from.
    pub source: ThresholdSource,
}

impl SlowThreshold {
    /// The config's `slow_above`, if it gives one.
    pub fn configured(params: &CompareParams) -> Option<SlowThreshold> {
        params.slow_above.map(|slow_above| SlowThreshold {
            seconds: slow_above.get().as_secs_f64(),
            source: ThresholdSource::Configured,
        })
    }

    /// The CloudWatch statistic whose value is the percentage of requests at or below the
    /// threshold (CloudWatch: "the lower bound is exclusive, the upper inclusive").
    pub fn percentile_rank_stat(&self) -> String {
        format!("PR(:{})", trimmed(self.seconds, 6))
    }

    fn text(&self, params: &CompareParams) -> String {
        match &self.source {
            ThresholdSource::Configured => format!("slower than {}", millis_text(self.seconds)),
            ThresholdSource::BluePercentile { window, .. } => format!(
                "slower than {} (blue's {} over {window})",
                millis_text(self.seconds),
                params.latency_percentile()
            ),
        }
    }
}

/// Requests expected above blue's percentile before it may set the threshold.
const EXPECTED_ABOVE: f64 = 50.0;

/// How many requests blue needs before its percentile can set the threshold: fifty expected above
/// it (5,000 for p99), and `min_requests`. A percentile read from k requests above it leaves the
/// true share above it uncertain by about 1/√k of itself; with 50 that is 14%, so an equal green
/// is not pushed past a `max_ratio` of 1.5 by the threshold's own luck (3.5 of those), even where
/// blue's baseline minutes are the ones the threshold was read from (`before_shift`).
pub fn history_needed(params: &CompareParams) -> u64 {
    let above_percent = (100.0 - params.latency_percentile().value()).max(1e-4);
    // Less a hair, so float noise (100 − 99.9) does not round 50,000 up to 50,001.
    ((EXPECTED_ABOVE * 100.0 / above_percent - 1e-6).ceil() as u64).max(params.min_requests)
}

/// The threshold from blue's percentile over its minutes before the deployment (or the stage);
/// `None` when blue served too few requests there to set one.
pub fn threshold_from_blue(
    params: &CompareParams,
    blue_percentile_seconds: Option<f64>,
    blue_requests: u64,
    window: MetricWindow,
) -> Option<SlowThreshold> {
    let seconds = blue_percentile_seconds.filter(|s| s.is_finite() && *s > 0.0)?;
    (blue_requests >= history_needed(params)).then_some(SlowThreshold {
        seconds,
        source: ThresholdSource::BluePercentile {
            window,
            requests: blue_requests,
        },
    })
}

/// Which slow threshold a latency comparison will use, for `greenlight config validate`.
pub fn threshold_note(params: &CompareParams) -> String {
    match params.slow_above {
        Some(slow_above) => {
            format!("slow means {TARGET_RESPONSE_TIME} above {slow_above} (`slow_above`)")
        }
        None => format!(
            "slow means {TARGET_RESPONSE_TIME} above blue's {} in the hour before the deployment (it needs {} of blue's requests there, else before the stage; set `slow_above` for a fixed bound)",
            params.latency_percentile(),
            history_needed(params)
        ),
    }
}

/// Blue served too little before the stage to set the threshold, and the config names none.
pub fn no_threshold(params: &CompareParams, blue_requests: u64, window: MetricWindow) -> Outcome {
    Outcome::not_applicable(
        &COMPARE_NO_BASELINE,
        format!(
            "nothing to set the slow threshold from: blue served {blue_requests} requests in {window}, fewer than the {} its {} needs; set `slow_above` (for example `slow_above: 500ms`) to judge green's share of slow requests against a fixed bound",
            history_needed(params),
            params.latency_percentile()
        ),
    )
}

/// One side's percentile over the stage's window, shown for people beside the test.
#[derive(Debug, Clone, PartialEq)]
pub struct ShownPercentile {
    /// The target group, as CloudWatch names it.
    pub target_group: String,
    /// `TargetResponseTime` at the percentile, in seconds, when there was a datapoint.
    pub seconds: Option<f64>,
    /// The window it covers.
    pub window: MetricWindow,
}

/// Judges green's share of requests slower than `threshold` against blue's. `observed` holds, per
/// minute, `TargetResponseTime`'s sample count as requests and the slow requests as errors.
pub fn judge(
    params: &CompareParams,
    threshold: &SlowThreshold,
    observed: &ErrorRateObservation,
    shown: &[(&str, ShownPercentile)],
) -> Outcome {
    let measure = Measure {
        name: "slow share",
        events: "slow requests",
        formula: format!(
            "requests with {TARGET_RESPONSE_TIME} above {} / requests answered, from {}",
            millis_text(threshold.seconds),
            threshold.percentile_rank_stat()
        ),
        percent_key: "slow_percent",
        count_key: "slow_requests",
        worse: &COMPARE_LATENCY_HIGHER,
    };
    let mut outcome = error_rate::judge_measure(params, observed, &measure);
    outcome.message = format!("{}: {}", threshold.text(params), outcome.message);
    let (source, window, requests) = match &threshold.source {
        ThresholdSource::Configured => ("slow_above".to_owned(), None, None),
        ThresholdSource::BluePercentile { window, requests } => (
            format!("blue {}", params.latency_percentile()),
            Some(window.to_string()),
            Some(*requests),
        ),
    };
    let mut threshold_evidence = Evidence::new(
        "slow threshold",
        json!({
            "threshold_ms": (threshold.seconds * 1_000_000.0).round() / 1000.0,
            "source": source,
        }),
    );
    if let Some(window) = window {
        threshold_evidence = threshold_evidence.window(window);
    }
    if let Some(requests) = requests {
        threshold_evidence = threshold_evidence.samples(requests);
    }
    outcome = outcome.with_evidence(threshold_evidence);
    for (side, percentile) in shown {
        outcome = outcome.with_evidence(
            Evidence::new(
                format!(
                    "{side} {TARGET_RESPONSE_TIME} {} (for people; not what is tested)",
                    params.latency_percentile()
                ),
                json!({
                    "latency_ms": percentile.seconds.map(|s| (s * 1_000_000.0).round() / 1000.0),
                }),
            )
            .window(percentile.window.to_string())
            .resource(percentile.target_group.as_str()),
        );
    }
    outcome
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::checks::compare::error_rate::{Counts, MinuteObservation};
    use crate::checks::compare::simulation::params;
    use crate::checks::compare::{COMPARE_NOT_WORSE, COMPARE_UNDECIDED};
    use crate::outcome::Status;

    const ORIGIN: u64 = 1_800_000_000;

    fn at(minute: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(ORIGIN + 60 * minute)
    }

    fn window(from: u64, to: u64) -> MetricWindow {
        MetricWindow {
            start: at(from),
            end: at(to),
        }
    }

    /// Thirty minutes of blue alone, then `stage` minutes of a 50% canary; shares in percent.
    fn canary(stage: u64, per_side: f64, green_slow: f64, blue_slow: f64) -> ErrorRateObservation {
        let side = |slow_percent: f64| Counts {
            requests: per_side,
            errors: per_side * slow_percent / 100.0,
        };
        let mut minutes: Vec<MinuteObservation> = (0..30)
            .map(|m| MinuteObservation {
                at: at(m),
                green: Counts::default(),
                blue: side(blue_slow),
            })
            .collect();
        minutes.extend((30..30 + stage).map(|m| MinuteObservation {
            at: at(m),
            green: side(green_slow),
            blue: side(blue_slow),
        }));
        ErrorRateObservation {
            green_target_group: "targetgroup/g/1".into(),
            blue_target_group: "targetgroup/b/2".into(),
            minutes,
            deployment_started_at: Some(at(30)),
            window: window(30, 30 + stage),
            // A 40-minute wait: time enough for an equal tail to be told apart.
            horizon: Some(at(70)),
        }
    }

    fn blue_p99(params: &CompareParams) -> SlowThreshold {
        threshold_from_blue(params, Some(0.120), 30_000, window(0, 30)).expect("enough history")
    }

    #[test]
    fn a_doubled_slow_tail_fails_and_an_equal_one_passes() {
        let p = params("compare: { metric: latency, max_ratio: 1.5, min_requests: 100 }");
        let threshold = blue_p99(&p);
        // Green's tail doubles: 2% of its requests above blue's p99 against blue's 1%.
        let doubled = judge(&p, &threshold, &canary(8, 600.0, 2.0, 1.0), &[]);
        assert_eq!(doubled.code, &COMPARE_LATENCY_HIGHER, "{}", doubled.message);
        assert_eq!(doubled.status, Status::Fail);
        assert!(
            doubled
                .message
                .starts_with("slower than 120ms (blue's p99 over "),
            "{}",
            doubled.message
        );
        assert!(
            doubled.message.contains("green's slow share is worse"),
            "{}",
            doubled.message
        );
        let green = doubled
            .evidence
            .iter()
            .find(|e| e.measured.starts_with("green slow share"))
            .expect("green's share");
        assert_eq!(green.value["slow_percent"], json!(2.0));
        assert!(green.measured.contains("PR(:0.12)"), "{}", green.measured);
        let source = doubled
            .evidence
            .iter()
            .find(|e| e.measured == "slow threshold")
            .expect("the threshold");
        assert_eq!(source.value["source"], json!("blue p99"));
        assert_eq!(source.value["threshold_ms"], json!(120.0));

        let equal = judge(&p, &threshold, &canary(20, 600.0, 1.0, 1.0), &[]);
        assert_eq!(equal.code, &COMPARE_NOT_WORSE, "{}", equal.message);
        // Early on, an equal tail is not yet evidence either way.
        let early = judge(&p, &threshold, &canary(2, 600.0, 1.0, 1.0), &[]);
        assert_eq!(early.code, &COMPARE_UNDECIDED, "{}", early.message);
    }

    #[test]
    fn a_configured_bound_is_the_threshold_and_percentiles_are_shown() {
        let p = params(
            "compare: { metric: latency, slow_above: 250ms, max_increase: 1pp, min_requests: 100 }",
        );
        let threshold = SlowThreshold::configured(&p).expect("slow_above");
        assert_eq!(threshold.percentile_rank_stat(), "PR(:0.25)");
        let shown = ShownPercentile {
            target_group: "targetgroup/g/1".into(),
            seconds: Some(0.2314),
            window: window(30, 38),
        };
        let outcome = judge(
            &p,
            &threshold,
            &canary(8, 600.0, 6.0, 1.0),
            &[("green", shown)],
        );
        assert_eq!(outcome.code, &COMPARE_LATENCY_HIGHER, "{}", outcome.message);
        assert!(outcome.message.starts_with("slower than 250ms: "));
        let people = outcome
            .evidence
            .iter()
            .find(|e| e.measured.starts_with("green TargetResponseTime p99"))
            .expect("green's percentile");
        assert_eq!(people.value["latency_ms"], json!(231.4));
    }

    #[test]
    fn blue_needs_enough_history_to_set_the_threshold() {
        let p = params("compare: { metric: latency, max_ratio: 2, min_requests: 100 }");
        assert_eq!(history_needed(&p), 5000);
        let p999 = params("compare: { metric: latency, percentile: p99.9, max_ratio: 2 }");
        assert_eq!(history_needed(&p999), 50_000);
        assert!(threshold_from_blue(&p, Some(0.1), 4999, window(0, 30)).is_none());
        assert!(threshold_from_blue(&p, None, 5000, window(0, 30)).is_none());
        assert!(threshold_from_blue(&p, Some(0.1), 5000, window(0, 30)).is_some());
        assert!(
            threshold_note(&p)
                .contains("blue's p99 in the hour before the deployment (it needs 5000"),
            "{}",
            threshold_note(&p)
        );
        let fixed = params("compare: { metric: latency, slow_above: 300ms, max_ratio: 2 }");
        assert_eq!(
            threshold_note(&fixed),
            "slow means TargetResponseTime above 300ms (`slow_above`)"
        );
        let outcome = no_threshold(&p, 400, window(0, 30));
        assert!(outcome.not_applicable);
        assert!(
            outcome.message.contains("set `slow_above`"),
            "{}",
            outcome.message
        );
    }
}
