//! Renderings of a rehearsal's [`crate::timeline::SimReport`]:
//! - [`text`]: the readable timeline printed by `greenlight simulate`;
//! - [`json`]: the report as JSON, for tools;
//! - [`html`]: a self-contained HTML page with the timeline drawn as SVG.
//!
//! All three read the same [`Timeline`]; what they share (offsets, the weights in force at each
//! moment, the sentence that says how the deployment ended) lives here so they never disagree.

pub mod html;
pub mod json;
pub mod text;

use std::time::Duration;

use crate::timeline::{CheckLine, SimReport, Timeline, TimelineEvent, WeightPair};

/// Whether a deployment that ended with `status` succeeded (ECS's `SUCCESSFUL`, CodeDeploy's
/// `Succeeded`).
pub fn is_success(status: &str) -> bool {
    matches!(status, "SUCCESSFUL" | "Succeeded")
}

/// How the deployment is run, in words: the strategy, or CodeDeploy's for its controller.
pub fn deployed_with(strategy: &str) -> String {
    match strategy {
        "CODE_DEPLOY" => "CodeDeploy (ECS blue/green, all traffic at once)".to_owned(),
        other => other.to_owned(),
    }
}

/// For a CodeDeploy lifecycle event, the ECS stage it corresponds to: the stage plan of the
/// greenlight config its hook runs.
pub fn stage_of_event(name: &str) -> Option<&'static str> {
    crate::driver::codedeploy::LifecycleEvent::parse(name).map(|event| event.stage().as_str())
}

/// `+12.3s`, `+2m05.0s`: an offset since the deployment started.
pub fn offset(at: Duration) -> String {
    let tenths = at.as_millis() / 100;
    let (minutes, tenths) = (tenths / 600, tenths % 600);
    if minutes > 0 {
        format!("+{minutes}m{:02}.{}s", tenths / 10, tenths % 10)
    } else {
        format!("+{}.{}s", tenths / 10, tenths % 10)
    }
}

/// `green 10% / blue 90%`.
pub fn weights(pair: WeightPair) -> String {
    format!("green {}% / blue {}%", percent(pair.0), percent(pair.1))
}

/// A weight without a needless fraction: `10`, `12.5`.
pub fn percent(value: f64) -> String {
    if value.fract().abs() < 1e-9 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

/// The weights of each listener over time, as step functions: `(offset, (green, blue))` from the
/// start, beginning with blue taking everything.
#[derive(Debug, Clone, PartialEq)]
pub struct WeightHistory {
    /// Production listener weights.
    pub production: Vec<(Duration, WeightPair)>,
    /// Test listener weights.
    pub test: Vec<(Duration, WeightPair)>,
}

impl WeightHistory {
    /// Reads the weights stated at stage starts and every traffic shift.
    pub fn of(timeline: &Timeline) -> Self {
        let mut history = WeightHistory {
            production: vec![(Duration::ZERO, (0.0, 100.0))],
            test: vec![(Duration::ZERO, (0.0, 100.0))],
        };
        fn set(series: &mut Vec<(Duration, WeightPair)>, at: Duration, pair: WeightPair) {
            if series.last().map(|(_, last)| *last) != Some(pair) {
                series.push((at, pair));
            }
        }
        for timed in timeline.events() {
            match &timed.event {
                TimelineEvent::StageStarted {
                    production_weights,
                    test_weights,
                    ..
                } => {
                    if let Some(pair) = production_weights {
                        set(&mut history.production, timed.at(), *pair);
                    }
                    if let Some(pair) = test_weights {
                        set(&mut history.test, timed.at(), *pair);
                    }
                }
                TimelineEvent::TrafficShifted {
                    listener,
                    green,
                    blue,
                } => {
                    let series = if listener == "test" {
                        &mut history.test
                    } else {
                        &mut history.production
                    };
                    set(series, timed.at(), (*green, *blue));
                }
                _ => {}
            }
        }
        history
    }

    /// The most production traffic green had before `until` (percent).
    pub fn peak_production_green(&self, until: Duration) -> f64 {
        self.production
            .iter()
            .filter(|(at, _)| *at <= until)
            .map(|(_, (green, _))| *green)
            .fold(0.0, f64::max)
    }
}

/// The answer that started the rollback: the last FAILED (or ERROR) answer before it.
pub fn deciding_answer(timeline: &Timeline) -> Option<&TimelineEvent> {
    let rollback_at = timeline.rollback().map(|(at, _, _)| at);
    timeline
        .events()
        .iter()
        .rev()
        .filter(|timed| rollback_at.is_none_or(|at| timed.at() <= at))
        .map(|timed| &timed.event)
        .find(|event| {
            matches!(event, TimelineEvent::HookAnswered { status, .. }
                if status == "FAILED" || status == "ERROR")
        })
}

/// The first check that held the stage back, of a hook's answer.
pub fn deciding_check(checks: &[CheckLine]) -> Option<&CheckLine> {
    checks
        .iter()
        .find(|check| check.disposition == "fail")
        .or_else(|| checks.iter().find(|check| check.is_notable()))
}

/// One sentence: how the deployment ended, where a rollback began and why.
pub fn outcome_sentence(report: &SimReport) -> String {
    let timeline = &report.timeline;
    let status = if report.final_status.is_empty() {
        timeline.final_status.as_deref().unwrap_or("UNFINISHED")
    } else {
        report.final_status.as_str()
    };
    let Some((at, stage, reason)) = timeline.rollback() else {
        return match status {
            "SUCCESSFUL" => format!(
                "{status}: every stage passed its checks and green took all production traffic after {}.",
                seconds(timeline.span())
            ),
            "Succeeded" => format!(
                "{status}: every hook reported Succeeded and green took all production traffic after {}.",
                seconds(timeline.span())
            ),
            // ECS's and CodeDeploy's statuses of a deployment still under way.
            "IN_PROGRESS" | "PENDING" | "InProgress" | "Created" | "Queued" | "Ready" => format!(
                "{status}: the deployment is still under way after {}; nothing has stopped it so far.",
                seconds(timeline.span())
            ),
            _ => format!("{status}: the deployment ended without a rollback."),
        };
    };
    let history = WeightHistory::of(timeline);
    // A real deployment's record keeps no weights over time: say nothing rather than guess.
    let weights_known = timeline.events().iter().any(|timed| {
        matches!(
            &timed.event,
            TimelineEvent::TrafficShifted { .. }
                | TimelineEvent::StageStarted {
                    production_weights: Some(_),
                    ..
                }
        )
    });
    let exposure = match history.peak_production_green(at) {
        _ if !weights_known => String::new(),
        green if green <= 0.0 => ", before any production traffic reached green".to_owned(),
        green => format!(
            ", after green had taken up to {}% of production traffic",
            percent(green)
        ),
    };
    let why = match deciding_answer(timeline) {
        Some(TimelineEvent::HookAnswered {
            function,
            reason: Some(code),
            checks,
            message,
            ..
        }) => {
            let detail = deciding_check(checks)
                .map(|check| check.message.clone())
                .filter(|text| !text.is_empty())
                .or_else(|| message.clone())
                .unwrap_or_else(|| reason.to_owned());
            // CodeDeploy hooks report their verdict; ECS hooks answer it.
            let said = if timeline.strategy == "CODE_DEPLOY" {
                "reported Failed"
            } else {
                "answered FAILED"
            };
            format!("{function} {said} with {code}: {}", trim_period(&detail))
        }
        _ => trim_period(reason).to_owned(),
    };
    format!(
        "{status}: rolled back at {stage} ({}){exposure}, because {why}.",
        offset(at)
    )
}

fn trim_period(text: &str) -> &str {
    text.trim().trim_end_matches('.')
}

/// `12.3s`.
fn seconds(duration: Duration) -> String {
    format!("{:.1}s", duration.as_secs_f64())
}

/// Evidence items as short phrases: `measured = value (threshold …, window …, N samples) on resource`.
pub fn evidence_phrases(evidence: &serde_json::Value) -> Vec<String> {
    let Some(items) = evidence.as_array() else {
        return match evidence {
            serde_json::Value::Null => Vec::new(),
            other => vec![other.to_string()],
        };
    };
    items
        .iter()
        .map(|item| {
            if let Some(dropped) = item.get("truncated").and_then(serde_json::Value::as_u64) {
                return format!("… {dropped} more not logged");
            }
            let field = |key: &str| item.get(key).and_then(serde_json::Value::as_str);
            let mut phrase = field("measured").unwrap_or("value").to_owned();
            match item.get("value") {
                Some(serde_json::Value::String(value)) => phrase.push_str(&format!(" = {value}")),
                Some(serde_json::Value::Null) | None => {}
                Some(value) => phrase.push_str(&format!(" = {value}")),
            }
            let mut detail = Vec::new();
            if let Some(threshold) = field("threshold") {
                detail.push(format!("threshold {threshold}"));
            }
            if let Some(window) = field("window").and_then(window_phrase) {
                detail.push(window);
            }
            if let Some(samples) = item.get("samples").and_then(serde_json::Value::as_u64) {
                detail.push(format!("{samples} samples"));
            }
            if !detail.is_empty() {
                phrase.push_str(&format!(" ({})", detail.join(", ")));
            }
            if let Some(resource) = field("resource") {
                phrase.push_str(&format!(" on {resource}"));
            }
            phrase
        })
        .collect()
}

/// A window in few words: `over 5m00s` for an interval of timestamps, nothing for an instant
/// (the samples say enough), the text itself for anything else (`last 5m`).
fn window_phrase(window: &str) -> Option<String> {
    let Some((start, end)) = window.split_once('/') else {
        return Some(format!("window {window}"));
    };
    if start == end {
        return None;
    }
    match (clock_seconds(start), clock_seconds(end)) {
        (Some((start_day, start)), Some((end_day, end)))
            if start_day == end_day && end >= start =>
        {
            let seconds = end - start;
            Some(if seconds >= 60 {
                format!("over {}m{:02}s", seconds / 60, seconds % 60)
            } else {
                format!("over {seconds}s")
            })
        }
        _ => Some(format!("window {window}")),
    }
}

/// The day and the second of the day of an RFC 3339 UTC timestamp (`2026-11-22T10:00:00Z`).
fn clock_seconds(timestamp: &str) -> Option<(&str, u64)> {
    let (day, time) = timestamp.split_once('T')?;
    let time = time.strip_suffix('Z')?;
    let mut parts = time
        .split(':')
        .map(|part| part.split('.').next().unwrap_or(part).parse::<u64>());
    let (hours, minutes, seconds) = (
        parts.next()?.ok()?,
        parts.next()?.ok()?,
        parts.next()?.ok()?,
    );
    Some((day, hours * 3600 + minutes * 60 + seconds))
}

#[cfg(test)]
pub(crate) mod samples;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_read_as_seconds_then_minutes() {
        assert_eq!(offset(Duration::from_millis(0)), "+0.0s");
        assert_eq!(offset(Duration::from_millis(12_345)), "+12.3s");
        assert_eq!(offset(Duration::from_millis(125_000)), "+2m05.0s");
    }

    #[test]
    fn weights_drop_needless_fractions() {
        assert_eq!(weights((12.5, 87.5)), "green 12.5% / blue 87.5%");
        assert_eq!(weights((100.0, 0.0)), "green 100% / blue 0%");
    }

    #[test]
    fn weight_history_follows_stage_starts_and_shifts() {
        let report = samples::bad_test_traffic();
        let history = WeightHistory::of(&report.timeline);
        assert_eq!(
            history.test.first().map(|(_, pair)| *pair),
            Some((0.0, 100.0))
        );
        assert!(history.test.iter().any(|(_, pair)| *pair == (100.0, 0.0)));
        assert_eq!(history.peak_production_green(report.timeline.span()), 0.0);
    }

    #[test]
    fn the_outcome_sentence_names_the_stage_the_code_and_the_exposure() {
        let sentence = outcome_sentence(&samples::bad_test_traffic());
        assert!(
            sentence.starts_with("ROLLBACK_SUCCESSFUL: rolled back at POST_TEST_TRAFFIC_SHIFT"),
            "{sentence}"
        );
        assert!(
            sentence.contains("before any production traffic reached green"),
            "{sentence}"
        );
        assert!(sentence.contains("HTTP_ERROR_RATE"), "{sentence}");
        assert!(sentence.contains("9 of 20 requests"), "{sentence}");

        let good = outcome_sentence(&samples::good());
        assert!(good.starts_with("SUCCESSFUL: every stage passed"), "{good}");
    }

    #[test]
    fn a_codedeploy_outcome_names_the_event_and_how_the_hook_reported() {
        let sentence = outcome_sentence(&samples::codedeploy_bad_test_traffic());
        assert!(
            sentence.starts_with("Failed: rolled back at AfterAllowTestTraffic"),
            "{sentence}"
        );
        assert!(
            sentence.contains("before any production traffic reached green"),
            "{sentence}"
        );
        assert!(
            sentence.contains("CodeDeployHook_greenlight_AfterAllowTestTraffic reported Failed with HTTP_ERROR_RATE"),
            "{sentence}"
        );
        assert_eq!(
            stage_of_event("AfterAllowTestTraffic"),
            Some("POST_TEST_TRAFFIC_SHIFT")
        );
        assert_eq!(stage_of_event("POST_SCALE_UP"), None);
        assert!(is_success("Succeeded") && is_success("SUCCESSFUL") && !is_success("Failed"));
    }

    #[test]
    fn windows_read_as_durations() {
        assert_eq!(
            window_phrase("2026-11-22T10:00:00Z/2026-11-22T10:05:00Z").as_deref(),
            Some("over 5m00s")
        );
        assert_eq!(
            window_phrase("2026-11-22T10:00:00Z/2026-11-22T10:00:30Z").as_deref(),
            Some("over 30s")
        );
        assert_eq!(
            window_phrase("2026-11-22T10:00:00Z/2026-11-22T10:00:00Z"),
            None
        );
        assert_eq!(window_phrase("last 5m").as_deref(), Some("window last 5m"));
        assert_eq!(
            window_phrase("2026-11-21T23:59:00Z/2026-11-22T00:01:00Z").as_deref(),
            Some("window 2026-11-21T23:59:00Z/2026-11-22T00:01:00Z")
        );
    }

    #[test]
    fn evidence_reads_as_phrases() {
        let phrases = evidence_phrases(&serde_json::json!([
            {"measured": "5xx share", "value": 0.45, "threshold": "<= 0.01", "samples": 20,
             "resource": "http://127.0.0.1:8081/health"},
            {"truncated": 3}
        ]));
        assert_eq!(
            phrases,
            [
                "5xx share = 0.45 (threshold <= 0.01, 20 samples) on http://127.0.0.1:8081/health",
                "… 3 more not logged"
            ]
        );
    }
}
