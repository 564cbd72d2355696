//! Structured telemetry: one summary per invocation.
//!
//! Functions install the Lambda-aware subscriber (`lambda_runtime::tracing::init_default_subscriber`,
//! JSON when `AWS_LAMBDA_LOG_FORMAT=JSON`); the core only emits events with fields. The summary names
//! the stage, step, verdict and each check's outcome and reason — never the payload, never secrets
//! (check messages name resources and values, not credentials or header values).

use crate::engine::Verdict;

/// Emits the one summary event of an invocation.
pub fn log_verdict(verdict: &Verdict) {
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
        stage = %verdict.state.key.stage,
        step = verdict.state.key.step.as_deref().unwrap_or(""),
        attempt = verdict.state.attempts,
        verdict = ?verdict.status,
        reason = verdict.code.code,
        callback_delay_s = verdict.callback_delay.map(|delay| delay.as_secs()),
        checks = %checks.join(", "),
        message = %verdict.message,
        "greenlight verdict"
    );
}
