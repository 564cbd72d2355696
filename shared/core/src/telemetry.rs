//! Structured telemetry: one event per check, then one summary per invocation.
//!
//! Functions install the Lambda-aware subscriber (`lambda_runtime::tracing::init_default_subscriber`,
//! JSON when `AWS_LAMBDA_LOG_FORMAT=JSON`); the core only emits events with fields:
//! - `greenlight check`, one per check: id, kind, status, disposition, reason code, message and the
//!   evidence as a JSON string, so a log query (or the local rehearsal's timeline) sees why each
//!   check concluded what it did without parsing prose;
//! - `greenlight verdict`, the summary: stage, step, verdict, reason, message and each check's
//!   outcome on one line.
//!
//! Never the payload, never secrets: check messages and evidence name resources and values, not
//! credentials or header values. Evidence is bounded ([`MAX_EVIDENCE_BYTES`]) so a check with a
//! long list of findings cannot flood the log or blow CloudWatch's event size.

use crate::engine::{CheckReport, Verdict};
use crate::outcome::Evidence;

/// The most bytes of JSON evidence one check event carries; evidence items that do not fit are
/// dropped (most telling first, so the first items stay) and counted in a final `{"truncated": n}`.
pub const MAX_EVIDENCE_BYTES: usize = 2048;

/// The most characters of a check's message in its event.
pub const MAX_MESSAGE_CHARS: usize = 1024;

/// The most characters of a verdict's message (or a config's list of errors) in a log event.
pub const MAX_VERDICT_MESSAGE_CHARS: usize = 4096;

/// Emits one event per check, then the one summary event of an invocation.
pub fn log_verdict(verdict: &Verdict) {
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
