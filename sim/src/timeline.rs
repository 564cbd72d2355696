//! What happened during a rehearsed deployment, in order: the model the driver records into and
//! the reports render.
//!
//! The driver records [`TimelineEvent`]s with their offset since the deployment started; the runner
//! wraps the finished [`Timeline`] in a [`SimReport`] with the scenario's expectations. The JSON form
//! (`greenlight simulate --json`) is a product surface: field names are `snake_case` and stable,
//! durations are whole milliseconds in fields ending `_ms`, and traffic weights are objects
//! `{"green": .., "blue": ..}` in percent.
//!
//! What a function concluded comes from its own summary line, read by [`parse_invocation_logs`]
//! (see `greenlight_core::telemetry`): the line `greenlight status` reads from CloudWatch Logs.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Traffic weights in percent, green first: `(green, blue)`.
pub type WeightPair = (f64, f64);

/// One check of one invocation, as the function logged it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CheckLine {
    /// The check's id in its plan (`alarms`, `http#2`).
    pub id: String,
    /// What it concluded: `pass`, `fail`, `inconclusive` or `error`.
    pub status: String,
    /// How that weighed: `pass`, `wait`, `fail`, `advisory` or `cancelled` (empty when the log
    /// line did not say).
    #[serde(default)]
    pub disposition: String,
    /// The reason code.
    pub code: String,
    /// The check's sentence for humans.
    pub message: String,
    /// The evidence behind it: an array of `{measured, value, threshold, window, samples, resource}`.
    #[serde(default)]
    pub evidence: Value,
}

impl CheckLine {
    /// Whether this check is what held the stage back or stopped it: it failed, or could not
    /// conclude, or erred (advisory and cancelled checks never are).
    pub fn is_notable(&self) -> bool {
        match self.disposition.as_str() {
            "fail" | "wait" => true,
            "pass" | "advisory" | "cancelled" => false,
            _ => self.status != "pass",
        }
    }
}

/// Something that happened during the deployment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "EventRepr", from = "EventRepr")]
pub enum TimelineEvent {
    /// ECS entered a lifecycle stage (or a step of one).
    StageStarted {
        /// The stage, as ECS spells it.
        stage: String,
        /// The step of a LINEAR or CANARY production shift, from 1.
        step: Option<u32>,
        /// Production listener weights at the start of the stage, `(green, blue)`.
        production_weights: Option<WeightPair>,
        /// Test listener weights at the start of the stage, `(green, blue)`.
        test_weights: Option<WeightPair>,
    },
    /// A hook function was invoked.
    HookInvoked {
        /// The stage.
        stage: String,
        /// The function's name.
        function: String,
        /// The invocation's number at this stage (and step) for this hook, from 1.
        attempt: u32,
        /// The event it was given.
        payload: Value,
    },
    /// A hook function answered (or failed to).
    HookAnswered {
        /// The stage.
        stage: String,
        /// The function's name.
        function: String,
        /// The invocation's number at this stage (and step) for this hook, from 1.
        attempt: u32,
        /// `SUCCEEDED`, `IN_PROGRESS`, `FAILED`, or `ERROR` when the function did not answer.
        status: String,
        /// For IN_PROGRESS: seconds until ECS calls again.
        call_back_delay: Option<u32>,
        /// The verdict's reason code, from the function's logs.
        reason: Option<String>,
        /// The verdict's sentence, from the function's logs (or the error, for ERROR).
        message: Option<String>,
        /// Each check's outcome, from the function's logs.
        checks: Vec<CheckLine>,
        /// How long the invocation took.
        latency: Duration,
        /// Whether it started a new process.
        cold: bool,
        /// What the function answered, verbatim.
        raw_response: Value,
    },
    /// A listener's weights changed.
    TrafficShifted {
        /// `production` or `test`.
        listener: String,
        /// Green's weight in percent.
        green: f64,
        /// Blue's weight in percent.
        blue: f64,
    },
    /// The deployment began to roll back.
    RollbackStarted {
        /// The stage that failed.
        stage: String,
        /// Why, in a sentence.
        reason: String,
    },
    /// Anything else worth telling.
    Note(String),
    /// The deployment ended.
    DeploymentFinished {
        /// `SUCCESSFUL`, `ROLLBACK_SUCCESSFUL`, …
        status: String,
    },
}

/// One event with its offset since the deployment started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimedEvent {
    /// Milliseconds since the deployment started.
    pub at_ms: u64,
    /// What happened.
    #[serde(flatten)]
    pub event: TimelineEvent,
}

impl TimedEvent {
    /// The offset since the deployment started.
    pub fn at(&self) -> Duration {
        Duration::from_millis(self.at_ms)
    }
}

/// Everything that happened during one rehearsed deployment, in order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    /// The scenario's name.
    pub scenario: String,
    /// The deployment strategy (`BLUE_GREEN`, `LINEAR`, `CANARY`, `ROLLING`).
    pub strategy: String,
    /// The events, in the order recorded.
    pub events: Vec<TimedEvent>,
    /// How the deployment ended, once finished.
    pub final_status: Option<String>,
}

impl Timeline {
    /// An empty timeline for a scenario deploying with `strategy`.
    pub fn new(scenario: impl Into<String>, strategy: impl Into<String>) -> Self {
        Timeline {
            scenario: scenario.into(),
            strategy: strategy.into(),
            events: Vec::new(),
            final_status: None,
        }
    }

    /// Records `event`, `at` after the deployment started.
    pub fn record(&mut self, at: Duration, event: TimelineEvent) {
        self.events.push(TimedEvent {
            at_ms: millis(at),
            event,
        });
    }

    /// Marks the deployment as ended with `final_status`.
    pub fn finish(&mut self, final_status: &str) {
        self.final_status = Some(final_status.to_owned());
    }

    /// The events, in the order recorded.
    pub fn events(&self) -> &[TimedEvent] {
        &self.events
    }

    /// The offset of the last event: how long the deployment took.
    pub fn span(&self) -> Duration {
        self.events
            .iter()
            .map(TimedEvent::at)
            .max()
            .unwrap_or_default()
    }

    /// Whether a rollback moved traffic back to blue: some listener was shifted back after the
    /// rollback began, and every listener that had moved ends with green at 0.
    pub fn rerouted_to_blue(&self) -> bool {
        let Some(rollback_at) = self
            .events
            .iter()
            .position(|timed| matches!(timed.event, TimelineEvent::RollbackStarted { .. }))
        else {
            return false;
        };
        let mut last_green: BTreeMap<&str, f64> = BTreeMap::new();
        let mut moved_back = false;
        for (index, timed) in self.events.iter().enumerate() {
            if let TimelineEvent::TrafficShifted {
                listener, green, ..
            } = &timed.event
            {
                last_green.insert(listener, *green);
                moved_back |= index > rollback_at && *green == 0.0;
            }
        }
        moved_back && last_green.values().all(|green| *green == 0.0)
    }

    /// The stage where the rollback began, with its reason, if the deployment rolled back.
    pub fn rollback(&self) -> Option<(Duration, &str, &str)> {
        self.events.iter().find_map(|timed| match &timed.event {
            TimelineEvent::RollbackStarted { stage, reason } => {
                Some((timed.at(), stage.as_str(), reason.as_str()))
            }
            _ => None,
        })
    }
}

/// What is being deployed: for the report's header.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Subject {
    /// The service (`cluster/service`).
    pub service: String,
    /// What blue runs (an image reference, a version).
    pub blue: String,
    /// What green runs.
    pub green: String,
}

/// One expectation of the scenario and whether it held.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExpectationResult {
    /// What was expected of (`final status`, `rollback stage`, `reason code TARGET_UNHEALTHY`).
    pub what: String,
    /// The expected value.
    pub expected: String,
    /// What happened.
    pub actual: String,
    /// Whether it held.
    pub met: bool,
}

/// Where a report's timeline comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// A local rehearsal (`greenlight simulate`).
    #[default]
    Rehearsal,
    /// A real deployment, from the engine's record and the functions' logs (`greenlight status`).
    Observed,
}

/// The result of rehearsing one scenario, or of reading a real deployment (`origin`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SimReport {
    /// Where the timeline comes from.
    #[serde(default)]
    pub origin: Origin,
    /// The scenario's name (for a real deployment, its id).
    pub scenario: String,
    /// The scenario's description.
    pub description: String,
    /// The deployment strategy.
    pub strategy: String,
    /// What is being deployed.
    #[serde(default)]
    pub subject: Subject,
    /// What happened.
    pub timeline: Timeline,
    /// The scenario's expectations, each with whether it held.
    pub expectations: Vec<ExpectationResult>,
    /// AWS calls the functions made, per stage then per `service:Operation`.
    pub calls_by_stage: BTreeMap<String, BTreeMap<String, usize>>,
    /// How the deployment ended (`SUCCESSFUL`, `ROLLBACK_SUCCESSFUL`).
    pub final_status: String,
    /// The stage at which the rollback began, if it did.
    pub rollback_stage: Option<String>,
    /// How long the rehearsal took, wall time.
    #[serde(rename = "duration_ms", with = "duration_ms")]
    pub duration: Duration,
    /// Every line greenlight's functions logged, for checks of what logs must never hold (not
    /// part of the JSON report).
    #[serde(skip)]
    pub function_logs: Vec<String>,
}

impl SimReport {
    /// Whether every expectation held.
    pub fn expectations_met(&self) -> bool {
        self.expectations.iter().all(|expectation| expectation.met)
    }
}

/// What a function's log lines for one invocation say, from its summary line (see
/// `greenlight_core::telemetry`): the verdict's reason and message, and each check's outcome.
/// Lines that are not JSON, or not a summary line, are skipped; when the lines hold several
/// summaries, the last one is taken. No summary line at all (a function that crashed, or an older
/// one) gives nothing.
pub fn parse_invocation_logs(lines: &[String]) -> (Option<String>, Option<String>, Vec<CheckLine>) {
    let Some(summary) = lines.iter().rev().find_map(|line| summary_of(line)) else {
        return (None, None, Vec::new());
    };
    let (reason, message, checks) = (
        text(&summary["reason"]),
        text(&summary["message"]),
        summary["checks"]
            .as_array()
            .map(|checks| checks.iter().map(check_line).collect())
            .unwrap_or_default(),
    );
    (reason, message, checks)
}

/// The `greenlight` object of a summary line, if `line` is one.
pub fn summary_of(line: &str) -> Option<Value> {
    let mut log: Value = serde_json::from_str(line.trim()).ok()?;
    if log["message"] != greenlight_core::telemetry::SUMMARY_MESSAGE {
        return None;
    }
    Some(log["greenlight"].take()).filter(Value::is_object)
}

/// One check of a summary line.
pub fn check_line(check: &Value) -> CheckLine {
    CheckLine {
        id: text(&check["id"]).unwrap_or_default(),
        status: text(&check["status"]).unwrap_or_default(),
        disposition: text(&check["disposition"]).unwrap_or_default(),
        code: text(&check["code"]).unwrap_or_default(),
        message: text(&check["message"]).unwrap_or_default(),
        evidence: match &check["evidence"] {
            Value::Null => Value::Array(Vec::new()),
            evidence => evidence.clone(),
        },
    }
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) if !text.is_empty() => Some(text.clone()),
        Value::Null | Value::String(_) => None,
        other => Some(other.to_string()),
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

pub(crate) mod duration_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(super::millis(*duration))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        u64::deserialize(deserializer).map(Duration::from_millis)
    }
}

/// Traffic weights in their JSON form.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Weights {
    green: f64,
    blue: f64,
}

impl From<WeightPair> for Weights {
    fn from((green, blue): WeightPair) -> Self {
        Weights { green, blue }
    }
}

/// The JSON form of [`TimelineEvent`]: tagged by `kind`, durations in milliseconds.
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum EventRepr {
    StageStarted {
        stage: String,
        step: Option<u32>,
        production_weights: Option<Weights>,
        test_weights: Option<Weights>,
    },
    HookInvoked {
        stage: String,
        function: String,
        attempt: u32,
        payload: Value,
    },
    HookAnswered {
        stage: String,
        function: String,
        attempt: u32,
        status: String,
        call_back_delay: Option<u32>,
        reason: Option<String>,
        message: Option<String>,
        checks: Vec<CheckLine>,
        latency_ms: u64,
        cold: bool,
        raw_response: Value,
    },
    TrafficShifted {
        listener: String,
        green: f64,
        blue: f64,
    },
    RollbackStarted {
        stage: String,
        reason: String,
    },
    Note {
        text: String,
    },
    DeploymentFinished {
        status: String,
    },
}

impl From<TimelineEvent> for EventRepr {
    fn from(event: TimelineEvent) -> Self {
        match event {
            TimelineEvent::StageStarted {
                stage,
                step,
                production_weights,
                test_weights,
            } => EventRepr::StageStarted {
                stage,
                step,
                production_weights: production_weights.map(Weights::from),
                test_weights: test_weights.map(Weights::from),
            },
            TimelineEvent::HookInvoked {
                stage,
                function,
                attempt,
                payload,
            } => EventRepr::HookInvoked {
                stage,
                function,
                attempt,
                payload,
            },
            TimelineEvent::HookAnswered {
                stage,
                function,
                attempt,
                status,
                call_back_delay,
                reason,
                message,
                checks,
                latency,
                cold,
                raw_response,
            } => EventRepr::HookAnswered {
                stage,
                function,
                attempt,
                status,
                call_back_delay,
                reason,
                message,
                checks,
                latency_ms: millis(latency),
                cold,
                raw_response,
            },
            TimelineEvent::TrafficShifted {
                listener,
                green,
                blue,
            } => EventRepr::TrafficShifted {
                listener,
                green,
                blue,
            },
            TimelineEvent::RollbackStarted { stage, reason } => {
                EventRepr::RollbackStarted { stage, reason }
            }
            TimelineEvent::Note(text) => EventRepr::Note { text },
            TimelineEvent::DeploymentFinished { status } => {
                EventRepr::DeploymentFinished { status }
            }
        }
    }
}

impl From<EventRepr> for TimelineEvent {
    fn from(repr: EventRepr) -> Self {
        let pair = |weights: Weights| (weights.green, weights.blue);
        match repr {
            EventRepr::StageStarted {
                stage,
                step,
                production_weights,
                test_weights,
            } => TimelineEvent::StageStarted {
                stage,
                step,
                production_weights: production_weights.map(pair),
                test_weights: test_weights.map(pair),
            },
            EventRepr::HookInvoked {
                stage,
                function,
                attempt,
                payload,
            } => TimelineEvent::HookInvoked {
                stage,
                function,
                attempt,
                payload,
            },
            EventRepr::HookAnswered {
                stage,
                function,
                attempt,
                status,
                call_back_delay,
                reason,
                message,
                checks,
                latency_ms,
                cold,
                raw_response,
            } => TimelineEvent::HookAnswered {
                stage,
                function,
                attempt,
                status,
                call_back_delay,
                reason,
                message,
                checks,
                latency: Duration::from_millis(latency_ms),
                cold,
                raw_response,
            },
            EventRepr::TrafficShifted {
                listener,
                green,
                blue,
            } => TimelineEvent::TrafficShifted {
                listener,
                green,
                blue,
            },
            EventRepr::RollbackStarted { stage, reason } => {
                TimelineEvent::RollbackStarted { stage, reason }
            }
            EventRepr::Note { text } => TimelineEvent::Note(text),
            EventRepr::DeploymentFinished { status } => {
                TimelineEvent::DeploymentFinished { status }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Log lines our own function binaries printed (`AWS_LAMBDA_LOG_FORMAT=JSON`), kept as fixtures.
    fn captured(name: &str) -> Vec<String> {
        greenlight_test_support::fixtures::log_lines(name)
    }

    #[test]
    fn a_failed_verdict_gives_its_reason_sentence_and_checks_with_evidence() {
        let (reason, message, checks) =
            parse_invocation_logs(&captured("test-traffic-http-failed.jsonl"));
        assert_eq!(reason.as_deref(), Some("HTTP_ERROR_RATE"));
        let message = message.expect("the verdict's sentence");
        assert!(
            message.starts_with("http failed: 20 of 20 requests"),
            "{message}"
        );
        assert_eq!(checks.len(), 2);
        let http = &checks[0];
        assert_eq!(
            (
                http.id.as_str(),
                http.status.as_str(),
                http.disposition.as_str(),
                http.code.as_str()
            ),
            ("http", "fail", "fail", "HTTP_ERROR_RATE")
        );
        assert!(
            http.message
                .starts_with("20 of 20 requests to http://127.0.0.1:"),
            "{}",
            http.message
        );
        assert_eq!(http.evidence[0]["measured"], "error rate of requests (%)");
        assert_eq!(http.evidence[0]["samples"], 20);
        assert_eq!(http.evidence[0]["threshold"], "<= 0%");
        assert_eq!(http.evidence[1]["value"]["503"], 20);
        assert!(http.is_notable());
        let image = &checks[1];
        assert_eq!(
            (image.status.as_str(), image.disposition.as_str()),
            ("error", "wait")
        );
        assert_eq!(image.code, "AWS_UNAVAILABLE");
    }

    #[test]
    fn a_waiting_verdict_and_a_rollback_verdict_are_read_too() {
        let (reason, message, checks) =
            parse_invocation_logs(&captured("post-scale-up-waiting.jsonl"));
        assert_eq!(reason.as_deref(), Some("VERDICT_WAITING"));
        assert!(message.is_some_and(|text| text.starts_with("tasks waiting:")));
        let ids: Vec<&str> = checks.iter().map(|check| check.id.as_str()).collect();
        assert_eq!(ids, ["tasks", "target_health"]);

        let (reason, message, checks) =
            parse_invocation_logs(&captured("test-traffic-rollback.jsonl"));
        assert_eq!(reason.as_deref(), Some("VERDICT_ROLLBACK"));
        assert!(message.is_some_and(|text| text.contains("never blocking a rollback")));
        assert!(checks.is_empty());
    }

    #[test]
    fn a_stage_failed_before_any_check_gives_the_hook_level_reason() {
        let (reason, message, checks) =
            parse_invocation_logs(&captured("test-traffic-config-invalid.jsonl"));
        assert_eq!(reason.as_deref(), Some("CONFIG_INVALID"));
        assert!(message.is_some_and(|text| text.contains("unknown field \"max_error_rate\"")));
        assert!(checks.is_empty());
    }

    #[test]
    fn the_last_verdict_wins_and_other_lines_are_skipped() {
        let mut lines = captured("post-scale-up-waiting.jsonl");
        lines.insert(0, "not json at all".to_owned());
        lines.push(r#"{"level":"INFO","fields":{"message":"something else"}}"#.to_owned());
        lines.extend(captured("test-traffic-http-failed.jsonl"));
        let (reason, _, checks) = parse_invocation_logs(&lines);
        assert_eq!(reason.as_deref(), Some("HTTP_ERROR_RATE"));
        assert_eq!(checks.len(), 2);
        assert_eq!(parse_invocation_logs(&[]), (None, None, Vec::new()));
    }

    #[test]
    fn traffic_is_rerouted_to_blue_only_by_a_rollback_that_moves_every_listener_back() {
        let shift = |listener: &str, green: f64| TimelineEvent::TrafficShifted {
            listener: listener.into(),
            green,
            blue: 100.0 - green,
        };
        let rollback = TimelineEvent::RollbackStarted {
            stage: "AfterAllowTraffic".into(),
            reason: "alarm".into(),
        };
        let timeline = |events: Vec<TimelineEvent>| {
            let mut timeline = Timeline::new("demo", "CODE_DEPLOY");
            for event in events {
                timeline.record(Duration::ZERO, event);
            }
            timeline
        };
        let back = timeline(vec![
            shift("test", 100.0),
            shift("production", 100.0),
            rollback.clone(),
            shift("production", 0.0),
            shift("test", 0.0),
        ]);
        assert!(back.rerouted_to_blue());
        let half = timeline(vec![
            shift("test", 100.0),
            shift("production", 100.0),
            rollback.clone(),
            shift("production", 0.0),
        ]);
        assert!(
            !half.rerouted_to_blue(),
            "the test listener stayed on green"
        );
        let nothing_moved = timeline(vec![rollback]);
        assert!(!nothing_moved.rerouted_to_blue());
        let succeeded = timeline(vec![shift("test", 100.0), shift("production", 100.0)]);
        assert!(!succeeded.rerouted_to_blue());
    }

    #[test]
    fn events_serialize_with_a_kind_and_millisecond_offsets() {
        let mut timeline = Timeline::new("demo", "BLUE_GREEN");
        timeline.record(
            Duration::from_millis(1_500),
            TimelineEvent::StageStarted {
                stage: "TEST_TRAFFIC_SHIFT".into(),
                step: None,
                production_weights: Some((0.0, 100.0)),
                test_weights: None,
            },
        );
        timeline.record(Duration::from_secs(2), TimelineEvent::Note("hello".into()));
        timeline.finish("SUCCESSFUL");
        let json = serde_json::to_value(&timeline).unwrap();
        assert_eq!(json["events"][0]["kind"], "stage_started");
        assert_eq!(json["events"][0]["at_ms"], 1500);
        assert_eq!(json["events"][0]["production_weights"]["blue"], 100.0);
        assert_eq!(json["events"][0]["test_weights"], Value::Null);
        assert_eq!(
            json["events"][1],
            serde_json::json!({"at_ms": 2000, "kind": "note", "text": "hello"})
        );
        assert_eq!(json["final_status"], "SUCCESSFUL");
        let back: Timeline = serde_json::from_value(json).unwrap();
        assert_eq!(back, timeline);
        assert_eq!(timeline.span(), Duration::from_secs(2));
    }
}
