//! A real deployment as a report: what the deployment engine recorded (ECS's service deployment,
//! or CodeDeploy's deployment) and its functions' summary lines (from CloudWatch Logs), turned into
//! the same [`SimReport`] a rehearsal produces, so `greenlight status` and `greenlight simulate`
//! print and draw with one renderer ([`crate::report`]).
//!
//! Everything here comes from the summary line's versioned format (`greenlight_core::telemetry`)
//! and the engines' documented records; nothing is inferred that neither says. Traffic weights
//! are those each ECS hook event stated (CodeDeploy's events state none), and green's production
//! share is 0 at the stages ECS runs before it shifts production traffic; what a real deployment
//! does not record, the report leaves out: weights between invocations, and each invocation's
//! latency.

use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::timeline::{CheckLine, Origin, SimReport, Subject, Timeline, TimelineEvent, check_line};

/// The ECS lifecycle stages that come before any production traffic reaches green.
const BEFORE_PRODUCTION: &[&str] = &[
    "RECONCILE_SERVICE",
    "PRE_SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
];

/// What the deployment engine says about a deployment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeploymentRecord {
    /// The ECS service deployment ARN, or the CodeDeploy deployment id.
    pub id: String,
    /// `cluster/service`.
    pub service: String,
    /// `BLUE_GREEN`, `LINEAR`, `CANARY`, `ROLLING`, or `CODE_DEPLOY`.
    pub strategy: String,
    /// The engine's status (`SUCCESSFUL`, `ROLLBACK_SUCCESSFUL`, `IN_PROGRESS`; CodeDeploy's
    /// `Succeeded`, `Failed`, `Stopped`, …).
    pub status: String,
    /// The engine's reason for the status, if it gave one.
    pub status_reason: Option<String>,
    /// When the deployment started.
    pub started_at: Option<SystemTime>,
    /// When it finished, if it has.
    pub finished_at: Option<SystemTime>,
    /// The rollback, if one began.
    pub rollback: Option<RollbackRecord>,
    /// What blue runs (the source revision), when known.
    pub blue: String,
    /// What green runs (the target revision), when known.
    pub green: String,
}

/// A rollback as the engine recorded it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RollbackRecord {
    /// Why, as the engine says.
    pub reason: String,
    /// When it began.
    pub started_at: Option<SystemTime>,
}

/// One summary line as read from a function's logs.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryRecord {
    /// When the function answered (the line's `timestamp`).
    pub at: SystemTime,
    /// The function that wrote it (`greenlight-test-traffic`).
    pub function: String,
    /// The line's `greenlight` object.
    pub summary: Value,
}

impl SummaryRecord {
    /// Reads `line` (a log event's message) written by `function`: `None` when it is not a
    /// summary line or has no valid `timestamp`.
    pub fn parse(line: &str, function: &str) -> Option<Self> {
        let log: Value = serde_json::from_str(line.trim()).ok()?;
        if log["message"] != greenlight_core::telemetry::SUMMARY_MESSAGE {
            return None;
        }
        let at = humantime::parse_rfc3339_weak(log["timestamp"].as_str()?).ok()?;
        Some(SummaryRecord {
            at,
            function: function.to_owned(),
            summary: log["greenlight"].clone(),
        })
    }

    /// The deployment the line is about.
    pub fn deployment(&self) -> Option<&str> {
        self.summary["deployment"].as_str()
    }

    /// The stage as the timeline names it: the CodeDeploy lifecycle event for CodeDeploy (as
    /// the rehearsal does), else the ECS stage.
    fn stage(&self) -> String {
        let text = |key: &str| self.summary[key].as_str().map(str::to_owned);
        text("hook")
            .or_else(|| text("stage"))
            .unwrap_or_else(|| "(unknown stage)".to_owned())
    }
}

/// The report of `deployment` from its functions' `summaries` (any order; lines about other
/// deployments are left out).
pub fn report(deployment: &DeploymentRecord, summaries: &[SummaryRecord]) -> SimReport {
    let mut lines: Vec<&SummaryRecord> = summaries
        .iter()
        .filter(|line| line.deployment() == Some(deployment.id.as_str()))
        .collect();
    lines.sort_by_key(|line| line.at);
    let start = deployment
        .started_at
        .or_else(|| lines.first().map(|line| line.at))
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let since = |at: SystemTime| at.duration_since(start).unwrap_or(Duration::ZERO);

    let mut timeline = Timeline::new(deployment.id.clone(), deployment.strategy.clone());
    let mut events: Vec<(Duration, TimelineEvent)> = Vec::new();
    let mut current: Option<(String, Option<String>)> = None;
    let mut steps = 0_u32;
    let mut rollback_stage = None;
    for line in &lines {
        let stage = line.stage();
        let step = line.summary["step"].as_str().map(str::to_owned);
        if current.as_ref() != Some(&(stage.clone(), step.clone())) {
            if step.is_some() {
                steps += 1;
            }
            // The weights the event stated, as the rehearsal records them at a stage's start.
            let weights = |map: &str| {
                line.summary["traffic"][map]
                    .as_f64()
                    .map(|green| (green, 100.0 - green))
            };
            // ECS moves production traffic only from PRODUCTION_TRAFFIC_SHIFT on (its documented
            // stage order): before PRE_PRODUCTION_TRAFFIC_SHIFT, whose LINEAR and CANARY steps
            // may follow earlier shifts, green has none, stated or not.
            let production = weights("production_green").or_else(|| {
                (line.summary["engine"] == "ecs" && BEFORE_PRODUCTION.contains(&stage.as_str()))
                    .then_some((0.0, 100.0))
            });
            events.push((
                since(line.at),
                TimelineEvent::StageStarted {
                    stage: stage.clone(),
                    step: step.as_ref().map(|_| steps),
                    production_weights: production,
                    test_weights: weights("test_green"),
                },
            ));
            current = Some((stage.clone(), step));
        }
        let verdict = line.summary["verdict"].as_str().unwrap_or("").to_owned();
        let before_rollback = deployment
            .rollback
            .as_ref()
            .and_then(|rollback| rollback.started_at)
            .is_none_or(|started| line.at <= started);
        if verdict == "FAILED" && before_rollback {
            rollback_stage = Some(stage.clone());
        }
        let checks: Vec<CheckLine> = line.summary["checks"]
            .as_array()
            .map(|checks| checks.iter().map(check_line).collect())
            .unwrap_or_default();
        events.push((
            since(line.at),
            TimelineEvent::HookAnswered {
                stage,
                function: line.function.clone(),
                attempt: line.summary["attempt"]
                    .as_u64()
                    .and_then(|attempt| u32::try_from(attempt).ok())
                    .unwrap_or(0),
                status: verdict,
                call_back_delay: line.summary["callback_delay_s"]
                    .as_u64()
                    .and_then(|delay| u32::try_from(delay).ok()),
                reason: line.summary["reason"].as_str().map(str::to_owned),
                message: line.summary["message"].as_str().map(str::to_owned),
                checks,
                latency: Duration::ZERO,
                cold: false,
                raw_response: Value::Null,
            },
        ));
    }

    if let Some(rollback) = &deployment.rollback {
        let at = rollback
            .started_at
            .map(since)
            .or_else(|| events.last().map(|(at, _)| *at))
            .unwrap_or_default();
        events.push((
            at,
            TimelineEvent::RollbackStarted {
                stage: rollback_stage
                    .clone()
                    .unwrap_or_else(|| "(a stage greenlight did not judge)".to_owned()),
                reason: rollback.reason.clone(),
            },
        ));
    }
    if lines.is_empty() {
        events.push((
            Duration::ZERO,
            TimelineEvent::Note(
                "no greenlight summary line for this deployment was found in the functions' logs"
                    .to_owned(),
            ),
        ));
    }
    // Stable: the engine's rollback follows the answer that caused it at the same instant.
    events.sort_by_key(|(at, _)| *at);
    for (at, event) in events {
        timeline.record(at, event);
    }
    let finished = !deployment.status.is_empty() && deployment.finished_at.is_some();
    if finished {
        if let Some(at) = deployment.finished_at {
            timeline.record(
                since(at),
                TimelineEvent::DeploymentFinished {
                    status: deployment.status.clone(),
                },
            );
        }
        timeline.finish(&deployment.status);
    }
    let duration = match (deployment.started_at, deployment.finished_at) {
        (Some(started), Some(finished)) => finished.duration_since(started).unwrap_or_default(),
        _ => timeline.span(),
    };
    SimReport {
        origin: Origin::Observed,
        scenario: deployment.id.clone(),
        description: deployment.status_reason.clone().unwrap_or_default(),
        strategy: deployment.strategy.clone(),
        subject: Subject {
            service: deployment.service.clone(),
            blue: deployment.blue.clone(),
            green: deployment.green.clone(),
        },
        timeline,
        expectations: Vec::new(),
        calls_by_stage: Default::default(),
        final_status: deployment.status.clone(),
        rollback_stage: deployment.rollback.as_ref().and(rollback_stage),
        duration,
        function_logs: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const DEPLOYMENT: &str = "arn:aws:ecs:us-east-1:111122223333:service-deployment/prod/web/abc";

    fn line(at_secs: u64, stage: &str, verdict: &str, reason: &str, checks: Value) -> String {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(at_secs);
        json!({
            "timestamp": humantime::format_rfc3339_millis(at).to_string(),
            "level": "INFO",
            "message": "greenlight summary",
            "greenlight": {
                "version": 1, "engine": "ecs", "deployment": DEPLOYMENT,
                "stage": stage, "step": null, "attempt": 1, "verdict": verdict,
                "final": verdict != "IN_PROGRESS", "reason": reason,
                "message": format!("{stage}: {reason}"), "callback_delay_s": null, "checks": checks,
            },
        })
        .to_string()
    }

    fn deployment(status: &str, rollback: bool) -> DeploymentRecord {
        DeploymentRecord {
            id: DEPLOYMENT.to_owned(),
            service: "prod/web".to_owned(),
            strategy: "BLUE_GREEN".to_owned(),
            status: status.to_owned(),
            started_at: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_000)),
            finished_at: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_100)),
            rollback: rollback.then(|| RollbackRecord {
                reason: "a lifecycle hook failed".to_owned(),
                started_at: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_061)),
            }),
            ..DeploymentRecord::default()
        }
    }

    #[test]
    fn a_rolled_back_deployment_reads_as_the_rehearsal_tells_it() {
        let failing = json!([{
            "id": "http", "kind": "http", "status": "fail", "disposition": "fail",
            "code": "HTTP_ERROR_RATE", "elapsed_ms": 60, "message": "20 of 20 requests failed",
            "evidence": [{ "measured": "error rate of requests (%)", "value": 100.0, "threshold": "<= 1%" }],
        }]);
        let lines = [
            line(
                1_060,
                "POST_TEST_TRAFFIC_SHIFT",
                "FAILED",
                "HTTP_ERROR_RATE",
                failing,
            ),
            line(
                1_010,
                "POST_SCALE_UP",
                "SUCCEEDED",
                "VERDICT_PASSED",
                json!([]),
            ),
            // Another deployment's line in the same log group.
            line(
                1_020,
                "POST_SCALE_UP",
                "FAILED",
                "TASKS_NOT_RUNNING",
                json!([]),
            )
            .replace("/abc", "/other"),
            "START RequestId: 1".to_owned(),
        ];
        let summaries: Vec<SummaryRecord> = lines
            .iter()
            .filter_map(|line| SummaryRecord::parse(line, "greenlight-test-traffic"))
            .collect();
        assert_eq!(summaries.len(), 3);
        let report = report(&deployment("ROLLBACK_SUCCESSFUL", true), &summaries);
        assert_eq!(
            report.rollback_stage.as_deref(),
            Some("POST_TEST_TRAFFIC_SHIFT")
        );
        let answers: Vec<(&str, &str)> = report
            .timeline
            .events()
            .iter()
            .filter_map(|timed| match &timed.event {
                TimelineEvent::HookAnswered { stage, reason, .. } => {
                    Some((stage.as_str(), reason.as_deref().unwrap_or("")))
                }
                _ => None,
            })
            .collect();
        assert_eq!(
            answers,
            [
                ("POST_SCALE_UP", "VERDICT_PASSED"),
                ("POST_TEST_TRAFFIC_SHIFT", "HTTP_ERROR_RATE")
            ]
        );
        let sentence = crate::report::outcome_sentence(&report);
        assert!(
            sentence.starts_with(
                "ROLLBACK_SUCCESSFUL: rolled back at POST_TEST_TRAFFIC_SHIFT (+1m01.0s), before any production traffic reached green, because"
            ),
            "{sentence}"
        );
        assert!(
            sentence.contains("HTTP_ERROR_RATE: 20 of 20 requests failed"),
            "{sentence}"
        );
        // Without the engine's stage order to go by (another engine), nothing is said of exposure.
        let elsewhere: Vec<SummaryRecord> = summaries
            .iter()
            .cloned()
            .map(|mut line| {
                line.summary["engine"] = json!("codedeploy");
                line
            })
            .collect();
        let unknown = crate::report::outcome_sentence(&super::report(
            &deployment("ROLLBACK_SUCCESSFUL", true),
            &elsewhere,
        ));
        assert!(unknown.contains("(+1m01.0s), because"), "{unknown}");
        let text = crate::report::text::render(&report, Default::default());
        assert!(text.starts_with("Deployment: "), "{text}");
        assert!(
            text.contains("error rate of requests (%) = 100.0 (threshold <= 1%)"),
            "{text}"
        );
    }

    #[test]
    fn a_deployment_without_summary_lines_says_so_and_never_invents_a_stage() {
        let report = report(&deployment("SUCCESSFUL", false), &[]);
        assert!(report.rollback_stage.is_none());
        assert!(matches!(
            &report.timeline.events()[0].event,
            TimelineEvent::Note(text) if text.contains("no greenlight summary line")
        ));
        assert_eq!(report.final_status, "SUCCESSFUL");
    }
}
