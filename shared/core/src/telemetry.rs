//! Structured telemetry: one event per check, then one summary per invocation.
//!
//! Functions install the Lambda-aware subscriber (`lambda_runtime::tracing::init_default_subscriber`,
//! JSON when `AWS_LAMBDA_LOG_FORMAT=JSON`); the core only emits events with fields:
//! - `greenlight check`, one per check: id, kind, status, disposition, reason code, message and the
//!   evidence as a JSON string, so a log query (or the local rehearsal's timeline) sees why each
//!   check concluded what it did without parsing prose;
//! - `greenlight verdict`, the summary: stage, step, verdict, reason, message and each check's
//!   outcome on one line;
//! - the **summary line** ([`summary_line`]): one JSON object per judged invocation, written to
//!   stdout as it is (not through the log formatter), in a versioned format ([`SUMMARY_VERSION`],
//!   documented in `docs/operations.md`) that log queries and tools can rely on. It is also a
//!   CloudWatch Embedded Metric Format record: CloudWatch Logs turns it into the `greenlight`
//!   namespace's `Verdicts` metric with no API call and no cost at the hook's latency.
//!
//! Never the payload, never secrets: check messages and evidence name resources and values, not
//! credentials or header values. Evidence is bounded ([`MAX_EVIDENCE_BYTES`]) so a check with a
//! long list of findings cannot flood the log or blow CloudWatch's event size.

use std::io::Write;
use std::time::SystemTime;

use serde_json::{Value, json};

use crate::engine::verdict::VerdictStatus;
use crate::engine::{CheckReport, Verdict};
use crate::facts::ServiceIdentity;
use crate::outcome::Evidence;

/// The summary line's format version: bumped whenever a field a reader relies on changes meaning
/// or goes away (new fields may appear without a bump).
pub const SUMMARY_VERSION: u32 = 1;

/// The CloudWatch namespace of the metrics the summary line carries.
pub const METRICS_NAMESPACE: &str = "greenlight";

/// The `message` of the summary line, what a log query filters on.
pub const SUMMARY_MESSAGE: &str = "greenlight summary";

/// The most bytes of JSON evidence one check event carries; evidence items that do not fit are
/// dropped (most telling first, so the first items stay) and counted in a final `{"truncated": n}`.
pub const MAX_EVIDENCE_BYTES: usize = 2048;

/// The most characters of a check's message in its event.
pub const MAX_MESSAGE_CHARS: usize = 1024;

/// The most characters of a verdict's message (or a config's list of errors) in a log event.
pub const MAX_VERDICT_MESSAGE_CHARS: usize = 4096;

/// Emits one event per check and the summary event of an invocation, then its summary line.
/// `service` is the service judged, when the invocation knows it.
pub fn log_verdict(verdict: &Verdict, service: Option<&ServiceIdentity>) {
    log_events(verdict);
    // Straight to stdout, one line, not through the log formatter: CloudWatch Logs extracts
    // metrics only from an event that is the EMF object itself. Written, not `println!`ed: a
    // closed stdout loses a log line, and must never panic after the verdict is decided (the
    // test harness does not capture it, so tests' output shows these lines).
    let line = summary_line(verdict, service, SystemTime::now());
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

/// The summary line of an invocation judged at `now`: who was judged, the verdict and each
/// check's outcome, with an Embedded Metric Format directive (CloudWatch's *Specification:
/// Embedded metric format*): `Verdicts` (a count of 1) in namespace [`METRICS_NAMESPACE`], by
/// service, stage and verdict, and by verdict alone. A FAILED verdict is a `WARN` line, so that
/// it (and its metric) survives a function's log level set to WARN; the others are `INFO`.
pub fn summary_line(
    verdict: &Verdict,
    service: Option<&ServiceIdentity>,
    now: SystemTime,
) -> Value {
    let key = &verdict.state.key;
    let status = match verdict.status {
        VerdictStatus::Succeeded => "SUCCEEDED",
        VerdictStatus::InProgress => "IN_PROGRESS",
        VerdictStatus::Failed => "FAILED",
    };
    let checks: Vec<Value> = verdict
        .checks
        .iter()
        .map(|check| {
            json!({
                "id": check.id,
                "kind": check.kind,
                "status": status_name(check),
                "disposition": disposition_name(check),
                "code": check.outcome.code.code,
                "elapsed_ms": check.elapsed_ms,
            })
        })
        .collect();
    let millis = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|since| since.as_millis())
        .unwrap_or_default();
    let service_name = service.map_or("unknown", |service| service.service.as_str());
    json!({
        "timestamp": humantime::format_rfc3339_millis(now).to_string(),
        "level": if verdict.status == VerdictStatus::Failed { "WARN" } else { "INFO" },
        "message": SUMMARY_MESSAGE,
        "greenlight": {
            "version": SUMMARY_VERSION,
            "deployment": key.deployment,
            "cluster": service.map(|service| service.cluster.as_str()),
            "service": service.map(|service| service.service.as_str()),
            "stage": key.stage,
            "step": key.step,
            "attempt": verdict.state.attempts,
            "verdict": status,
            "final": verdict.status != VerdictStatus::InProgress,
            "reason": verdict.code.code,
            "message": bounded(&verdict.message, MAX_VERDICT_MESSAGE_CHARS),
            "callback_delay_s": verdict.callback_delay.map(|delay| delay.as_secs()),
            "checks": checks,
        },
        "_aws": {
            "Timestamp": millis,
            "CloudWatchMetrics": [{
                "Namespace": METRICS_NAMESPACE,
                "Dimensions": [["Service", "Stage", "Verdict"], ["Verdict"]],
                "Metrics": [{ "Name": "Verdicts", "Unit": "Count" }],
            }],
        },
        "Service": service_name,
        "Stage": key.stage,
        "Verdict": status,
        "Verdicts": 1,
    })
}

/// Emits one event per check, then the one summary event of an invocation.
fn log_events(verdict: &Verdict) {
    let stage = verdict.state.key.stage.to_string();
    let step = verdict.state.key.step.as_deref().unwrap_or("");
    for check in &verdict.checks {
        tracing::info!(
            stage = %stage,
            step,
            id = %check.id,
            kind = check.kind,
            status = status_name(check),
            disposition = disposition_name(check),
            code = check.outcome.code.code,
            elapsed_ms = check.elapsed_ms,
            message = %bounded(&check.outcome.message, MAX_MESSAGE_CHARS),
            evidence = %evidence_json(&check.outcome.evidence),
            "greenlight check"
        );
    }
    let checks: Vec<String> = verdict
        .checks
        .iter()
        .map(|check| {
            format!(
                "{}={:?}/{:?}({}) {}ms",
                check.id,
                check.outcome.status,
                check.disposition,
                check.outcome.code,
                check.elapsed_ms
            )
        })
        .collect();
    tracing::info!(
        stage = %stage,
        step,
        attempt = verdict.state.attempts,
        verdict = ?verdict.status,
        reason = verdict.code.code,
        callback_delay_s = verdict.callback_delay.map(|delay| delay.as_secs()),
        checks = %checks.join(", "),
        message = %bounded(&verdict.message, MAX_VERDICT_MESSAGE_CHARS),
        "greenlight verdict"
    );
}

/// The check's status as its JSON name (`pass`, `fail`, `inconclusive`, `error`).
fn status_name(check: &CheckReport) -> &'static str {
    use crate::outcome::Status;
    match check.outcome.status {
        Status::Pass => "pass",
        Status::Fail => "fail",
        Status::Inconclusive => "inconclusive",
        Status::Error => "error",
    }
}

/// The disposition as its JSON name (`pass`, `wait`, `fail`, `advisory`, `cancelled`).
fn disposition_name(check: &CheckReport) -> &'static str {
    use crate::engine::verdict::Disposition;
    match check.disposition {
        Disposition::Pass => "pass",
        Disposition::Wait => "wait",
        Disposition::Fail => "fail",
        Disposition::Advisory => "advisory",
        Disposition::Cancelled => "cancelled",
    }
}

/// The evidence as a JSON array of at most [`MAX_EVIDENCE_BYTES`] bytes.
pub fn evidence_json(evidence: &[Evidence]) -> String {
    let mut kept: Vec<serde_json::Value> = Vec::with_capacity(evidence.len());
    // Room for the closing bracket and a `{"truncated":N}` marker.
    let budget = MAX_EVIDENCE_BYTES.saturating_sub(32);
    let mut used = 2;
    for (index, item) in evidence.iter().enumerate() {
        let value = serde_json::to_value(item).unwrap_or(serde_json::Value::Null);
        let size = value.to_string().len() + 1;
        if used + size > budget {
            kept.push(serde_json::json!({ "truncated": evidence.len() - index }));
            break;
        }
        used += size;
        kept.push(value);
    }
    serde_json::Value::Array(kept).to_string()
}

/// `text` cut to `max` characters, with an ellipsis when cut.
/// `text`, cut to `max` characters with an ellipsis when longer.
pub fn bounded(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]).into(),
        None => text.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::state::StageState;
    use crate::engine::verdict::Disposition;
    use crate::outcome::Outcome;
    use crate::stage::StageKey;

    fn verdict(status: VerdictStatus) -> Verdict {
        let key = StageKey::new(
            "arn:aws:ecs:us-east-1:123456789012:service-deployment/prod/web/abc",
            "PRODUCTION_TRAFFIC_SHIFT",
            Some("25"),
        );
        let code = &crate::checks::http::HTTP_ERROR_RATE;
        Verdict {
            status,
            code,
            message: "http failed: 7 of 20 requests failed".to_owned(),
            callback_delay: None,
            checks: vec![CheckReport {
                id: "http".to_owned(),
                kind: "http",
                outcome: Outcome::fail(code, "7 of 20 requests failed"),
                disposition: Disposition::Fail,
                exhausted: false,
                elapsed_ms: 62,
            }],
            state: StageState::fresh(key, 0),
        }
    }

    fn service() -> ServiceIdentity {
        ServiceIdentity {
            partition: "aws".into(),
            region: "us-east-1".into(),
            account: "123456789012".into(),
            cluster: "prod".into(),
            service: "web".into(),
            service_arn: "arn:aws:ecs:us-east-1:123456789012:service/prod/web".into(),
        }
    }

    #[test]
    fn the_summary_line_says_who_what_and_why_in_its_versioned_shape() {
        let now = SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_800_000_000_123);
        let line = summary_line(&verdict(VerdictStatus::Failed), Some(&service()), now);
        assert_eq!(line["timestamp"], "2027-01-15T08:00:00.123Z");
        assert_eq!(line["level"], "WARN");
        assert_eq!(line["message"], SUMMARY_MESSAGE);
        let summary = &line["greenlight"];
        assert_eq!(summary["version"], 1);
        assert_eq!(summary["service"], "web");
        assert_eq!(summary["cluster"], "prod");
        assert_eq!(summary["stage"], "PRODUCTION_TRAFFIC_SHIFT");
        assert_eq!(summary["step"], "25");
        assert_eq!(summary["verdict"], "FAILED");
        assert_eq!(summary["final"], true);
        assert_eq!(summary["reason"], "HTTP_ERROR_RATE");
        assert_eq!(summary["checks"][0]["kind"], "http");
        assert_eq!(summary["checks"][0]["status"], "fail");
        assert_eq!(summary["checks"][0]["code"], "HTTP_ERROR_RATE");
        assert_eq!(summary["checks"][0]["elapsed_ms"], 62);
        let waiting = summary_line(&verdict(VerdictStatus::InProgress), None, now);
        assert_eq!(waiting["level"], "INFO");
        assert_eq!(waiting["greenlight"]["final"], false);
        assert_eq!(waiting["greenlight"]["service"], Value::Null);
        assert_eq!(waiting["Service"], "unknown");
    }

    /// The EMF specification: a root `_aws` with a millisecond `Timestamp` and `CloudWatchMetrics`
    /// directives; every dimension a directive names is a string member of the root, every metric
    /// a number member; at most 30 dimensions per set and 100 metrics per directive.
    #[test]
    fn the_summary_line_is_a_valid_embedded_metric_format_record() {
        let now = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000);
        let line = summary_line(&verdict(VerdictStatus::Succeeded), Some(&service()), now);
        let metadata = &line["_aws"];
        assert_eq!(metadata["Timestamp"], 1_800_000_000_000_u64);
        let directives = metadata["CloudWatchMetrics"]
            .as_array()
            .expect("directives");
        assert!(!directives.is_empty());
        for directive in directives {
            assert_eq!(directive["Namespace"], METRICS_NAMESPACE);
            for set in directive["Dimensions"].as_array().expect("dimension sets") {
                let names = set.as_array().expect("a dimension set");
                assert!(!names.is_empty() && names.len() <= 30);
                for name in names {
                    let name = name.as_str().expect("a dimension name");
                    assert!(
                        line[name].is_string(),
                        "dimension {name} is not a string member"
                    );
                }
            }
            let metrics = directive["Metrics"].as_array().expect("metrics");
            assert!(!metrics.is_empty() && metrics.len() <= 100);
            for metric in metrics {
                let name = metric["Name"].as_str().expect("a metric name");
                assert!(
                    line[name].is_number(),
                    "metric {name} is not a number member"
                );
            }
        }
        assert_eq!(line["Service"], "web");
        assert_eq!(line["Verdict"], "SUCCEEDED");
        assert_eq!(line["Verdicts"], 1);
    }

    #[test]
    fn evidence_is_a_json_array_of_the_items() {
        let evidence = vec![
            Evidence::new("running tasks", 2)
                .threshold(">= 4")
                .resource("arn:aws:ecs:us-east-1:123456789012:service/prod/web"),
        ];
        let json: serde_json::Value = serde_json::from_str(&evidence_json(&evidence)).unwrap();
        assert_eq!(json[0]["measured"], "running tasks");
        assert_eq!(json[0]["value"], 2);
        assert_eq!(json[0]["threshold"], ">= 4");
        assert_eq!(evidence_json(&[]), "[]");
    }

    #[test]
    fn long_evidence_is_cut_to_the_bound_and_says_how_many_items_were_dropped() {
        let evidence: Vec<Evidence> = (0..200)
            .map(|index| {
                Evidence::new(format!("finding {index}"), "x".repeat(40)).resource("image")
            })
            .collect();
        let text = evidence_json(&evidence);
        assert!(text.len() <= MAX_EVIDENCE_BYTES, "{}", text.len());
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        let items = json.as_array().unwrap();
        assert_eq!(items[0]["measured"], "finding 0");
        let dropped = items.last().unwrap()["truncated"].as_u64().unwrap();
        assert_eq!(dropped as usize + items.len() - 1, 200);
    }

    #[test]
    fn long_messages_are_cut_on_a_character_boundary() {
        assert_eq!(bounded("short", 10), "short");
        assert_eq!(bounded("ééééé", 3), "ééé…");
    }
}
