//! Green's error rate against blue's: which baseline, and the always-valid decision.
//!
//! # The data
//! Per settled minute and per target group: `RequestCount`, and as errors the sum of
//! `HTTPCode_Target_5XX_Count` and `TargetConnectionErrorCount` (a crashing green that refuses
//! connections produces the second, not the first). The load balancer's own 502/503/504
//! (`HTTPCode_ELB_5XX_Count`) have no `TargetGroup` dimension and cannot be told apart per side;
//! they are not counted. A minute is *settled* once `settle` (default 2m) has passed since it
//! ended: CloudWatch publishes load balancer metrics one to three minutes late, and a minute
//! without errors has no 5xx datapoint at all, so a minute that is still filling would read as
//! clean.
//!
//! # The baseline
//! - `concurrent`: blue served requests in the same minutes as green (canary and linear steps
//!   below 100%): the fairest comparison, the same clients at the same time.
//! - `before_shift`: blue serves nothing now (green at 100%: BLUE_GREEN's production shift, the
//!   last canary or linear step, POST_PRODUCTION_TRAFFIC_SHIFT): blue's own most recent minutes
//!   with traffic before this stage's window, as many as green's (at least five, at most an
//!   hour). A weaker, historical baseline: the evidence says so.
//! - none: blue served nothing in the hour before either (a service's first deployment):
//!   [`super::COMPARE_NO_BASELINE`], not applicable, and `on_not_applicable` decides.
//!
//! # The decision (formulas and guarantees in [`crate::stats::sequential`])
//! - **Fail** when the mixture SPRT rejects "green is no worse than blue" at α = 1 − confidence
//!   *and* green's observed rate breaches the configured margin. The SPRT sums every minute since
//!   the deployment started (earlier steps carried forward; green-only minutes paired one to one
//!   with blue minutes from before green took all traffic), so a LINEAR deployment of ten steps
//!   has one false-rollback rate, not ten.
//! - **Pass** when green's own requests in this stage's window rule out the highest rate the
//!   config allows (blue's rate plus `max_increase`, or times `max_ratio`) at β = α.
//! - Otherwise undecided: while the traffic expected before the wait runs out could still settle
//!   it, [`super::COMPARE_UNDECIDED`] (or [`super::COMPARE_INCREASE_NOT_SIGNIFICANT`] when green
//!   looks worse); when it could not, [`super::COMPARE_UNDERPOWERED`] and `on_underpowered`
//!   decides.
//! - Blue minutes more dispersed than binomial noise weaken every minute's evidence; past a
//!   variance inflation of 3 the check says [`super::COMPARE_TOO_NOISY`] instead of claiming α.

use std::time::{Duration, SystemTime};

use serde_json::json;

use super::{
    COMPARE_ERROR_RATE_HIGHER, COMPARE_INCREASE_NOT_SIGNIFICANT, COMPARE_NO_BASELINE,
    COMPARE_NOT_WORSE, COMPARE_TOO_FEW_REQUESTS, COMPARE_TOO_NOISY, COMPARE_UNDECIDED,
    COMPARE_UNDERPOWERED, percent_text, rounded, signed, thresholds_text, trimmed,
};
use crate::checks::metric::{MetricWindow, minute_floor, whole_count};
use crate::checks::{CompareParams, MaxIncrease, OnUnderpowered};
use crate::outcome::{Evidence, Outcome};
use crate::stats::sequential::{
    Dispersion, MAX_DISPERSION_FACTOR, MinuteCounts, RatioEvidence, dispersion, log_below,
    requests_to_rule_out, smallest_ruled_out,
};

/// At least this many of blue's minutes make a baseline before the shift.
const MIN_BASELINE_MINUTES: usize = 5;
/// At most this many (an hour).
const MAX_BASELINE_MINUTES: usize = 60;
/// Blue's minutes the dispersion is estimated from.
const DISPERSION_MINUTES: usize = 30;
/// Look this far back before the stage (and before the deployment) for blue's minutes.
pub const LOOKBACK: Duration = Duration::from_secs(60 * 60);
const MINUTE: Duration = Duration::from_secs(60);

/// One side's counts in one minute.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Counts {
    /// `RequestCount`.
    pub requests: f64,
    /// `HTTPCode_Target_5XX_Count` + `TargetConnectionErrorCount`.
    pub errors: f64,
}

impl Counts {
    fn add(&mut self, other: Counts) {
        self.requests += other.requests;
        self.errors += other.errors.clamp(0.0, other.requests.max(0.0));
    }

    fn rate(&self) -> f64 {
        if self.requests > 0.0 {
            (self.errors / self.requests).clamp(0.0, 1.0)
        } else {
            0.0
        }
    }
}

/// Both target groups in one settled minute.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MinuteObservation {
    /// The minute's start.
    pub at: SystemTime,
    /// Green's target group.
    pub green: Counts,
    /// Blue's target group.
    pub blue: Counts,
}

/// What the error-rate comparison reads.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorRateObservation {
    /// Green's target group, as CloudWatch names it.
    pub green_target_group: String,
    /// Blue's.
    pub blue_target_group: String,
    /// Settled minutes from [`LOOKBACK`] before the deployment (or the stage) to the end of the
    /// window, oldest first. A minute with no datapoint on either side may be absent.
    pub minutes: Vec<MinuteObservation>,
    /// When the deployment started, from the deployment engine's own timeline.
    pub deployment_started_at: Option<SystemTime>,
    /// The stage's window: from its start to the last settled minute.
    pub window: MetricWindow,
    /// When waiting on the check runs out.
    pub horizon: Option<SystemTime>,
}

/// Which baseline a comparison used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BaselineKind {
    Concurrent,
    BeforeShift,
}

impl BaselineKind {
    fn name(self) -> &'static str {
        match self {
            BaselineKind::Concurrent => "concurrent",
            BaselineKind::BeforeShift => "before_shift",
        }
    }
}

struct Baseline {
    kind: BaselineKind,
    blue: Counts,
    window: String,
    minutes: usize,
}

fn window_text(start: SystemTime, end: SystemTime) -> String {
    MetricWindow { start, end }.to_string()
}

/// Blue's minutes with traffic before `before`, most recent first, in which green served nothing.
fn blue_only_before(minutes: &[MinuteObservation], before: SystemTime) -> Vec<&MinuteObservation> {
    minutes
        .iter()
        .rev()
        .filter(|minute| minute.at < before && minute.blue.requests > 0.0)
        .filter(|minute| minute.green.requests <= 0.0)
        .collect()
}

/// Picks the baseline for the stage's minutes; `None` when blue has served nothing to compare.
fn baseline(
    params: &CompareParams,
    observed: &ErrorRateObservation,
    stage: &[&MinuteObservation],
) -> Option<Baseline> {
    let mut blue = Counts::default();
    for minute in stage {
        blue.add(minute.blue);
    }
    let green_minutes = stage.iter().filter(|m| m.green.requests > 0.0).count();
    let blue_minutes = stage.iter().filter(|m| m.blue.requests > 0.0).count();
    if blue.requests >= params.min_requests as f64 && blue_minutes * 2 >= green_minutes {
        return Some(Baseline {
            kind: BaselineKind::Concurrent,
            blue,
            window: observed.window.to_string(),
            minutes: blue_minutes,
        });
    }
    let wanted = green_minutes.clamp(MIN_BASELINE_MINUTES, MAX_BASELINE_MINUTES);
    let before: Vec<&MinuteObservation> = observed
        .minutes
        .iter()
        .rev()
        .filter(|minute| minute.at < observed.window.start && minute.blue.requests > 0.0)
        .take(wanted)
        .collect();
    let mut blue = Counts::default();
    for minute in &before {
        blue.add(minute.blue);
    }
    if blue.requests < params.min_requests as f64 {
        return None;
    }
    let (first, last) = (before.last()?.at, before.first()?.at);
    Some(Baseline {
        kind: BaselineKind::BeforeShift,
        blue,
        window: window_text(first, last + MINUTE),
        minutes: before.len(),
    })
}

/// The highest error rate the config allows green, given blue's.
fn allowed_rate(params: &CompareParams, blue: &Counts) -> f64 {
    let floor = 0.5 / blue.requests.max(1.0);
    let blue_rate = blue.rate();
    let mut allowed = f64::INFINITY;
    if let Some(MaxIncrease::Points(points)) = params.max_increase {
        allowed = allowed.min(blue_rate + points.fraction());
    }
    if let Some(ratio) = params.max_ratio {
        allowed = allowed.min(ratio * blue_rate.max(floor));
    }
    allowed.min(0.999)
}

/// Whether green's observed rate breaches the configured margin over blue's.
fn breaches(params: &CompareParams, green: &Counts, blue: &Counts) -> bool {
    const EPSILON: f64 = 1e-12;
    let (green_rate, blue_rate) = (green.rate(), blue.rate());
    let over_increase = matches!(params.max_increase, Some(MaxIncrease::Points(points))
        if green_rate - blue_rate > points.fraction() + EPSILON);
    let over_ratio = params.max_ratio.is_some_and(|ratio| {
        if blue_rate > 0.0 {
            green_rate / blue_rate > ratio + EPSILON
        } else {
            green_rate > 0.0
        }
    });
    over_increase || over_ratio
}

/// The sequential test's evidence over the whole deployment, and the counts it used.
struct Sequence {
    evidence: RatioEvidence,
    green: Counts,
    blue: Counts,
    concurrent: u32,
    paired: u32,
    carried: u32,
}

fn sequence(observed: &ErrorRateObservation, dispersion: f64) -> Sequence {
    let from = observed
        .deployment_started_at
        .map_or(observed.window.start, minute_floor)
        .min(observed.window.start);
    let in_sequence: Vec<&MinuteObservation> = observed
        .minutes
        .iter()
        .filter(|m| m.at >= from && m.at < observed.window.end)
        .collect();
    // Blue minutes from before green took all the traffic, each paired at most once: blue's own
    // counts whatever green served then (test traffic before the deployment's production shift),
    // except minutes the sequence already uses as concurrent ones.
    let first_green_only = in_sequence
        .iter()
        .find(|m| m.green.requests > 0.0 && m.blue.requests <= 0.0)
        .map(|m| m.at);
    let mut pool = first_green_only
        .map(|before| {
            observed
                .minutes
                .iter()
                .rev()
                .filter(|m| m.at < before && m.blue.requests > 0.0)
                .filter(|m| m.at < from || m.green.requests <= 0.0)
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
        .into_iter();
    let mut result = Sequence {
        evidence: RatioEvidence::default(),
        green: Counts::default(),
        blue: Counts::default(),
        concurrent: 0,
        paired: 0,
        carried: 0,
    };
    for minute in in_sequence {
        if minute.green.requests <= 0.0 {
            continue;
        }
        let blue = if minute.blue.requests > 0.0 {
            result.concurrent += 1;
            minute.blue
        } else if let Some(paired) = pool.next() {
            result.paired += 1;
            paired.blue
        } else {
            continue;
        };
        if minute.at < observed.window.start {
            result.carried += 1;
        }
        result.green.add(minute.green);
        result.blue.add(blue);
        result.evidence.add(
            &MinuteCounts {
                green_requests: minute.green.requests,
                green_errors: minute.green.errors,
                blue_requests: blue.requests,
                blue_errors: blue.errors,
            },
            dispersion,
        );
    }
    result
}

fn dispersion_p_text(dispersion: &Dispersion) -> String {
    match dispersion.p_value {
        Some(p) if p < 1e-4 => "< 0.0001".to_owned(),
        Some(p) => trimmed(p, 4),
        None => "untested".to_owned(),
    }
}

fn ratio_text(value: f64) -> String {
    if value.is_finite() {
        format!("{}×", trimmed(value, 2))
    } else {
        "∞".to_owned()
    }
}

/// What a comparison counts per request: an error, or an answer slower than a threshold. The
/// same sequential test judges both; only the words, the evidence keys and the failing code differ.
#[derive(Debug, Clone)]
pub struct Measure {
    /// The proportion's name in messages (`error rate`, `slow share`).
    pub name: &'static str,
    /// What is counted, plural (`errors`, `slow requests`).
    pub events: &'static str,
    /// How green's side is measured, for its evidence.
    pub formula: String,
    /// The evidence key of a side's proportion in percent (`error_rate_percent`).
    pub percent_key: &'static str,
    /// The evidence key of a side's count (`errors`).
    pub count_key: &'static str,
    /// The code when green is worse.
    pub worse: &'static crate::reason::ReasonCode,
}

impl Measure {
    /// Target 5xx and connection errors over requests.
    pub fn errors() -> Measure {
        Measure {
            name: "error rate",
            events: "errors",
            formula: "(HTTPCode_Target_5XX_Count + TargetConnectionErrorCount) / RequestCount"
                .to_owned(),
            percent_key: "error_rate_percent",
            count_key: "errors",
            worse: &COMPARE_ERROR_RATE_HIGHER,
        }
    }
}

/// Judges green's error rate against its baseline.
pub fn judge(params: &CompareParams, observed: &ErrorRateObservation) -> Outcome {
    judge_measure(params, observed, &Measure::errors())
}

/// Judges green's proportion of `measure` (counted in [`Counts::errors`]) against its baseline.
pub fn judge_measure(
    params: &CompareParams,
    observed: &ErrorRateObservation,
    measure: &Measure,
) -> Outcome {
    if let Some(refused) = super::without_threshold(params) {
        return refused;
    }
    let window = observed.window.to_string();
    let settled_note = format!(
        "minutes count once {} have passed since they ended (load balancer metrics arrive late)",
        humantime::format_duration(params.settle())
    );
    let stage: Vec<&MinuteObservation> = observed
        .minutes
        .iter()
        .filter(|m| m.at >= observed.window.start && m.at < observed.window.end)
        .collect();
    let mut green = Counts::default();
    for minute in &stage {
        green.add(minute.green);
    }
    let green_evidence = |green: &Counts| {
        let mut value = serde_json::Map::new();
        value.insert(
            measure.percent_key.into(),
            json!(rounded(green.rate() * 100.0, 4)),
        );
        value.insert(measure.count_key.into(), json!(whole_count(green.errors)));
        value.insert("requests".into(), json!(whole_count(green.requests)));
        Evidence::new(
            format!("green {} ({})", measure.name, measure.formula),
            serde_json::Value::Object(value),
        )
        .window(window.as_str())
        .samples(whole_count(green.requests))
        .resource(observed.green_target_group.as_str())
    };

    let settle = params.settle();
    let stage_minutes = (observed.window.duration().as_secs() / 60) as f64;
    let per_minute = green.requests / stage_minutes.max(1.0);
    let minutes_left = observed.horizon.map_or(0.0, |horizon| {
        horizon
            .checked_sub(settle)
            .and_then(|usable| usable.duration_since(observed.window.end).ok())
            .map_or(0.0, |left| (left.as_secs() / 60) as f64)
    });
    // What green will have served when the wait runs out, at its rate so far.
    let expected = green.requests + per_minute * minutes_left;
    let underpowered = |message: String| -> Outcome {
        match params.on_underpowered {
            OnUnderpowered::Wait => Outcome::inconclusive(&COMPARE_UNDERPOWERED, message),
            OnUnderpowered::Pass => Outcome::pass(
                &COMPARE_UNDERPOWERED,
                format!("passed by `on_underpowered: pass`, without evidence: {message}"),
            ),
            OnUnderpowered::Fail => Outcome::fail(
                &COMPARE_UNDERPOWERED,
                format!("failed by `on_underpowered: fail`: {message}"),
            ),
        }
    };
    let traffic_evidence = |needed: Option<f64>| {
        Evidence::new(
            "traffic to settle the comparison",
            json!({
                "green_requests_per_minute": rounded(per_minute, 2),
                "expected_requests_before_the_wait_ends": whole_count(expected),
                "requests_needed": needed.map(whole_count),
            }),
        )
        .window(window.as_str())
    };
    // Underpowered needs a horizon to project to; without one, only "not yet".
    let can_project = observed.horizon.is_some() && stage_minutes >= 2.0;
    if can_project && expected < params.min_requests as f64 {
        return underpowered(format!(
            "too little traffic to tell: at {} requests a minute green would serve about {} requests before the wait runs out, fewer than `min_requests` {} ({settled_note})",
            trimmed(per_minute, 1),
            whole_count(expected),
            params.min_requests
        ))
        .with_evidence(green_evidence(&green))
        .with_evidence(traffic_evidence(Some(params.min_requests as f64)));
    }
    if observed.window.is_empty() || green.requests < params.min_requests as f64 {
        let during = if observed.window.is_empty() {
            format!("yet (no settled minute in this stage: {settled_note})")
        } else {
            format!("in {window} ({settled_note})")
        };
        return Outcome::inconclusive(
            &COMPARE_TOO_FEW_REQUESTS,
            format!(
                "too few requests to compare {during}: green served {}; it needs at least {}",
                whole_count(green.requests),
                params.min_requests
            ),
        )
        .with_evidence(
            green_evidence(&green).threshold(format!(">= {} requests", params.min_requests)),
        );
    }

    let Some(baseline) = baseline(params, observed, &stage) else {
        return Outcome::not_applicable(
            &COMPARE_NO_BASELINE,
            format!(
                "nothing to compare green with: blue ({}) served fewer than {} requests in this stage and in the hour before it (a service's first deployment has no baseline)",
                observed.blue_target_group, params.min_requests
            ),
        )
        .with_evidence(green_evidence(&green));
    };
    let alpha = params.alpha();
    let beta = params.beta();
    let limit = (1.0 / alpha).ln();
    let blue_rate = baseline.blue.rate();
    let allowed = allowed_rate(params, &baseline.blue);
    let smallest_ratio = allowed / blue_rate.max(0.5 / baseline.blue.requests.max(1.0));
    let blue_history: Vec<(f64, f64)> = blue_only_before(&observed.minutes, observed.window.start)
        .into_iter()
        .take(DISPERSION_MINUTES)
        .map(|m| (m.blue.requests, m.blue.errors))
        .collect();
    let dispersion = dispersion(&blue_history);
    let sequence = sequence(observed, dispersion.applied());
    let log_worse = sequence.evidence.log_mixture(smallest_ratio);
    let log_within = log_below(green.errors, green.requests, allowed);
    let interval = sequence.evidence.interval(alpha);
    let could_rule_out = smallest_ruled_out(blue_rate, green.requests, beta);
    let thresholds = thresholds_text(params);
    let confidence = format!("{}%", trimmed((1.0 - alpha) * 100.0, 2));
    let pass_confidence = format!("{}%", trimmed((1.0 - beta) * 100.0, 2));

    let mut blue_value = serde_json::Map::new();
    blue_value.insert("baseline".into(), json!(baseline.kind.name()));
    blue_value.insert(
        measure.percent_key.into(),
        json!(rounded(blue_rate * 100.0, 4)),
    );
    blue_value.insert(
        measure.count_key.into(),
        json!(whole_count(baseline.blue.errors)),
    );
    blue_value.insert(
        "requests".into(),
        json!(whole_count(baseline.blue.requests)),
    );
    blue_value.insert("minutes".into(), json!(baseline.minutes));
    let baseline_evidence = Evidence::new(
        format!("blue {}, baseline {}", measure.name, baseline.kind.name()),
        serde_json::Value::Object(blue_value),
    )
    .window(baseline.window.as_str())
    .samples(whole_count(baseline.blue.requests))
    .resource(observed.blue_target_group.as_str());
    let test_evidence = Evidence::new(
        "green against blue, always-valid sequential test",
        json!({
            "confidence_percent": rounded((1.0 - alpha) * 100.0, 2),
            "allowed_percent": rounded(allowed * 100.0, 4),
            "worse_log_evidence": rounded(log_worse, 3),
            "within_log_evidence": rounded(log_within, 3),
            "fail_log_threshold": rounded(limit, 3),
            "pass_log_threshold": rounded((1.0 / beta).ln(), 3),
            "ratio_interval": interval.map(|(low, high)| json!([
                rounded(low, 3),
                if high.is_finite() { json!(rounded(high, 3)) } else { serde_json::Value::Null },
            ])),
            "minutes_concurrent": sequence.concurrent,
            "minutes_paired_before_shift": sequence.paired,
            "minutes_carried_from_earlier_steps": sequence.carried,
            "dispersion": rounded(dispersion.applied(), 4),
            "dispersion_estimate": rounded(dispersion.estimate, 4),
            "dispersion_p_value": dispersion.p_value.map(|p| rounded(p, 6)),
            "dispersion_minutes": dispersion.minutes,
            "could_rule_out_increase_pp": could_rule_out.map(|rate| rounded((rate - blue_rate) * 100.0, 3)),
            "settled_through": humantime::format_rfc3339_seconds(observed.window.end).to_string(),
        }),
    )
    .threshold(format!(
        "{thresholds}; fail when the mixture SPRT rejects \"no worse than blue\" at {confidence} and the margin is breached; pass when green's requests rule out the allowed rate at {pass_confidence}"
    ))
    .window(window.as_str())
    .samples(whole_count(green.requests + baseline.blue.requests));
    let with_evidence = |outcome: Outcome| {
        outcome
            .with_evidence(test_evidence.clone())
            .with_evidence(green_evidence(&green))
            .with_evidence(baseline_evidence.clone())
    };
    let interval_text = match interval {
        Some((low, high)) => format!(
            "green's {} are {}–{} blue's (valid at every look)",
            measure.events,
            ratio_text(low),
            ratio_text(high)
        ),
        None => format!(
            "no ratio of green's {} to blue's fits the data",
            measure.events
        ),
    };
    let summary = format!(
        "green {} ({} of {} requests) against blue {} ({} of {}, baseline {}); {interval_text}",
        percent_text(green.rate()),
        whole_count(green.errors),
        whole_count(green.requests),
        percent_text(blue_rate),
        whole_count(baseline.blue.errors),
        whole_count(baseline.blue.requests),
        baseline.kind.name(),
    );

    if sequence.evidence.max_factor > MAX_DISPERSION_FACTOR {
        return with_evidence(Outcome::inconclusive(
            &COMPARE_TOO_NOISY,
            format!(
                "blue's {} come in bursts (dispersion {} over {} minutes, p = {}; a minute's evidence would be inflated {}×, more than {}×): too noisy to claim {confidence}: {summary}",
                measure.events,
                trimmed(dispersion.estimate, 3),
                dispersion.minutes,
                dispersion_p_text(&dispersion),
                trimmed(sequence.evidence.max_factor, 1),
                trimmed(MAX_DISPERSION_FACTOR, 0)
            ),
        ));
    }
    let breached = breaches(params, &sequence.green, &sequence.blue);
    if log_worse >= limit && breached {
        return with_evidence(Outcome::fail(
            measure.worse,
            format!(
                "green's {} is worse than {thresholds}, at {confidence}: {summary}",
                measure.name
            ),
        ));
    }
    if log_within >= (1.0 / beta).ln() {
        let could = could_rule_out
            .map(|rate| {
                format!(
                    "; this traffic could tell an increase of {} points",
                    signed((rate - blue_rate) * 100.0, 3)
                )
            })
            .unwrap_or_default();
        return with_evidence(Outcome::pass(
            &COMPARE_NOT_WORSE,
            format!(
                "green's {} is within {thresholds}, at {pass_confidence}: {summary}{could}",
                measure.name
            ),
        ));
    }

    // Undecided: could the traffic still to come settle it before the wait runs out?
    let needed = requests_to_rule_out(blue_rate, allowed, beta);
    // The estimate for people uses green's own rate when it is higher than blue's: a green at
    // blue's rate would need `needed`, this one needs more. (Whether the wait could settle it
    // stays judged at blue's rate, so a green that looks worse is never called underpowered, and
    // passed by `on_underpowered: pass`, sooner.)
    let minutes_needed = requests_to_rule_out(green.rate().max(blue_rate), allowed, beta)
        .map(|needed| ((needed - green.requests) / per_minute.max(1e-9)).ceil())
        .filter(|minutes| *minutes >= 1.0);
    if can_project && needed.is_none_or(|needed| needed > expected) {
        let could_by_horizon = smallest_ruled_out(blue_rate, expected, beta).map_or(
            "no increase at all".to_owned(),
            |rate| {
                format!(
                    "an increase of {} points",
                    signed((rate - blue_rate) * 100.0, 3)
                )
            },
        );
        let message = format!(
            "too little traffic to tell: at {} requests a minute green would serve about {} requests before the wait runs out, enough to tell {could_by_horizon} at {pass_confidence}, not the allowed {}: {summary}",
            trimmed(per_minute, 1),
            whole_count(expected),
            thresholds
        );
        return with_evidence(underpowered(message)).with_evidence(traffic_evidence(needed));
    }
    let more = minutes_needed.map_or(String::new(), |minutes| {
        format!(
            " (about {} more minutes at this traffic)",
            trimmed(minutes, 0)
        )
    });
    if breached {
        with_evidence(Outcome::inconclusive(
            &COMPARE_INCREASE_NOT_SIGNIFICANT,
            format!(
                "green's {} looks worse than {thresholds}, but not yet beyond noise at {confidence}{more}: {summary}",
                measure.name
            ),
        ))
    } else {
        with_evidence(Outcome::inconclusive(
            &COMPARE_UNDECIDED,
            format!("not enough evidence yet either way at {confidence}{more}: {summary}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::compare::simulation::params;
    use crate::outcome::Status;

    const ORIGIN: u64 = 1_800_000_000;

    fn at(minute: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(ORIGIN + 60 * minute)
    }

    /// Minutes 0..before of blue alone, then `stage` minutes from `before` on with both.
    fn observed(
        before: u64,
        blue_before: Counts,
        stage: u64,
        green: Counts,
        blue: Counts,
    ) -> ErrorRateObservation {
        let mut minutes: Vec<MinuteObservation> = (0..before)
            .map(|minute| MinuteObservation {
                at: at(minute),
                green: Counts::default(),
                blue: blue_before,
            })
            .collect();
        minutes.extend((before..before + stage).map(|minute| MinuteObservation {
            at: at(minute),
            green,
            blue,
        }));
        ErrorRateObservation {
            green_target_group: "targetgroup/g/1".into(),
            blue_target_group: "targetgroup/b/2".into(),
            minutes,
            deployment_started_at: Some(at(before)),
            window: MetricWindow {
                start: at(before),
                end: at(before + stage),
            },
            horizon: Some(at(before + stage + 3)),
        }
    }

    fn counts(requests: f64, errors: f64) -> Counts {
        Counts { requests, errors }
    }

    #[test]
    fn a_quiet_canary_is_underpowered_and_the_policy_decides() {
        let quiet = observed(
            30,
            counts(500.0, 5.0),
            4,
            counts(30.0, 0.0),
            counts(470.0, 5.0),
        );
        let wait = judge(
            &params("compare: { metric: error_rate, max_increase: 0.5pp, min_requests: 100 }"),
            &quiet,
        );
        assert_eq!(wait.code, &COMPARE_UNDERPOWERED, "{}", wait.message);
        assert_eq!(wait.status, Status::Inconclusive);
        assert!(
            wait.message.contains("too little traffic to tell"),
            "{}",
            wait.message
        );
        let pass = judge(
            &params(
                "compare: { metric: error_rate, max_increase: 0.5pp, min_requests: 100, on_underpowered: pass }",
            ),
            &quiet,
        );
        assert_eq!(
            (pass.code, pass.status),
            (&COMPARE_UNDERPOWERED, Status::Pass)
        );
        let fail = judge(
            &params(
                "compare: { metric: error_rate, max_increase: 0.5pp, min_requests: 100, on_underpowered: fail }",
            ),
            &quiet,
        );
        assert_eq!(
            (fail.code, fail.status),
            (&COMPARE_UNDERPOWERED, Status::Fail)
        );
    }

    #[test]
    fn blue_minutes_before_the_deployment_pair_whatever_green_served_then() {
        // Before the deployment began, green's target group still served (the previous
        // deployment's last minutes); blue's counts then are blue's own. Green then takes all the
        // traffic at 8% errors against blue's 3%.
        let mut shifted = observed(
            3,
            counts(2500.0, 75.0),
            1,
            counts(3000.0, 240.0),
            counts(0.0, 0.0),
        );
        for minute in &mut shifted.minutes[..3] {
            minute.green = counts(500.0, 15.0);
        }
        let outcome = judge(
            &params("compare: { metric: error_rate, max_increase: 2pp, min_requests: 100 }"),
            &shifted,
        );
        assert_eq!(
            (outcome.code, outcome.status),
            (&COMPARE_ERROR_RATE_HIGHER, Status::Fail),
            "{}",
            outcome.message
        );
        assert!(
            outcome.message.contains("baseline before_shift"),
            "{}",
            outcome.message
        );
    }

    #[test]
    fn a_first_deployment_has_no_baseline() {
        let first = observed(
            0,
            counts(0.0, 0.0),
            5,
            counts(1000.0, 0.0),
            counts(0.0, 0.0),
        );
        let outcome = judge(
            &params("compare: { metric: error_rate, max_increase: 0.5pp }"),
            &first,
        );
        assert_eq!(outcome.code, &COMPARE_NO_BASELINE, "{}", outcome.message);
        assert!(outcome.not_applicable);
    }

    #[test]
    fn bursty_blue_is_too_noisy_to_claim_the_confidence() {
        let mut bursty = observed(
            30,
            counts(1000.0, 0.0),
            5,
            counts(1000.0, 20.0),
            counts(1000.0, 10.0),
        );
        for minute in bursty.minutes.iter_mut().take(30).step_by(5) {
            minute.blue.errors = 100.0;
        }
        let outcome = judge(
            &params("compare: { metric: error_rate, max_increase: 0.5pp }"),
            &bursty,
        );
        assert_eq!(outcome.code, &COMPARE_TOO_NOISY, "{}", outcome.message);
        assert_eq!(outcome.status, Status::Inconclusive);
    }

    #[test]
    fn minutes_still_settling_are_not_judged() {
        let none_settled = ErrorRateObservation {
            window: MetricWindow {
                start: at(30),
                end: at(30),
            },
            ..observed(
                30,
                counts(1000.0, 10.0),
                0,
                counts(0.0, 0.0),
                counts(0.0, 0.0),
            )
        };
        let outcome = judge(
            &params("compare: { metric: error_rate, max_increase: 0.5pp }"),
            &none_settled,
        );
        assert_eq!(outcome.code, &COMPARE_TOO_FEW_REQUESTS);
        assert!(
            outcome.message.contains("no settled minute"),
            "{}",
            outcome.message
        );
    }

    #[test]
    fn the_ratio_margin_alone_works_over_a_clean_blue() {
        let clean = observed(
            30,
            counts(1000.0, 0.0),
            5,
            counts(1000.0, 0.0),
            counts(1000.0, 0.0),
        );
        let outcome = judge(
            &params("compare: { metric: error_rate, max_ratio: 2 }"),
            &clean,
        );
        assert_ne!(outcome.status, Status::Fail, "{}", outcome.message);
        let broken = observed(
            30,
            counts(1000.0, 0.0),
            5,
            counts(1000.0, 50.0),
            counts(1000.0, 0.0),
        );
        let outcome = judge(
            &params("compare: { metric: error_rate, max_ratio: 2 }"),
            &broken,
        );
        assert_eq!(
            outcome.code, &COMPARE_ERROR_RATE_HIGHER,
            "{}",
            outcome.message
        );
    }
}
