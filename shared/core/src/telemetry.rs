//! Structured telemetry: one event per check, then one summary line per invocation.
//!
//! Functions install the Lambda-aware subscriber (`lambda_runtime::tracing::init_default_subscriber`,
//! JSON when `AWS_LAMBDA_LOG_FORMAT=JSON`); the core emits:
//! - `greenlight check` events, one per check and judgement: id, kind, status, disposition, reason
//!   code, `detail` (the check's sentence) and the evidence as a JSON string;
//! - the **summary line** ([`InvocationSummary`], [`summary_line`]): exactly one JSON object per
//!   invocation, whatever it decided and however early (a malformed event, a wiring mistake, a
//!   broken config, a rollback, a judged stage), written to stdout as it is (not through the log
//!   formatter), in a versioned format ([`SUMMARY_VERSION`], documented in `docs/operations.md`).
//!   It is what `greenlight status`, log queries and the local rehearsal's timeline read, and a
//!   CloudWatch Embedded Metric Format record: CloudWatch Logs turns it into the `greenlight`
//!   namespace's metrics with no API call and no cost at the hook's latency.
//!
//! Never the payload, never secrets: check messages and evidence name resources and values, not
//! credentials or header values. Evidence is bounded ([`MAX_EVIDENCE_BYTES`]) so a check with a
//! long list of findings cannot flood the log or blow CloudWatch's event size.

use std::io::Write;
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value, json};

use crate::engine::verdict::VerdictStatus;
use crate::engine::{CheckReport, Verdict};
use crate::facts::{ServiceIdentity, TrafficWeights};
use crate::outcome::Evidence;
use crate::reason::ReasonCode;

/// The summary line's format version: bumped whenever a field a reader relies on changes meaning
/// or goes away (new fields may appear without a bump).
pub const SUMMARY_VERSION: u32 = 1;

/// The CloudWatch namespace of the metrics the summary line carries.
pub const METRICS_NAMESPACE: &str = "greenlight";

/// The `message` of the summary line, what a log query filters on.
pub const SUMMARY_MESSAGE: &str = "greenlight summary";

/// The metric counting verdicts (one per invocation), by service, stage and verdict.
pub const VERDICTS_METRIC: &str = "Verdicts";

/// The most bytes of JSON evidence one check event carries; evidence items that do not fit are
/// dropped (most telling first, so the first items stay) and counted in a final `{"truncated": n}`.
pub const MAX_EVIDENCE_BYTES: usize = 2048;

/// The most characters of a check's message in its event.
pub const MAX_MESSAGE_CHARS: usize = 1024;

/// The most characters of a verdict's message (or a config's list of errors) in a log event.
pub const MAX_VERDICT_MESSAGE_CHARS: usize = 4096;

/// The most checks whose metrics one line carries: EMF allows 100 metrics per directive, and each
/// check kind has three.
const MAX_CHECK_KINDS_WITH_METRICS: usize = 33;

/// The deployment engine that invoked the function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeploymentEngine {
    /// An ECS lifecycle hook (native blue/green, linear, canary).
    Ecs,
    /// A CodeDeploy AppSpec hook.
    CodeDeploy,
}

impl DeploymentEngine {
    fn name(self) -> &'static str {
        match self {
            DeploymentEngine::Ecs => "ecs",
            DeploymentEngine::CodeDeploy => "codedeploy",
        }
    }
}

/// Who an invocation judged, as far as it learned: filled in as the invocation goes, so that even
/// an answer given before anything could be read names what it can.
#[derive(Debug, Clone, PartialEq)]
pub struct Subject {
    /// Which engine invoked the function.
    pub engine: DeploymentEngine,
    /// The ECS service-deployment ARN or the CodeDeploy deployment id.
    pub deployment: Option<String>,
    /// The cluster's name.
    pub cluster: Option<String>,
    /// The service's name.
    pub service: Option<String>,
    /// The CodeDeploy lifecycle event (`AfterAllowTestTraffic`), for CodeDeploy.
    pub hook: Option<String>,
    /// The ECS lifecycle stage judged (for CodeDeploy, the stage its hook maps to).
    pub stage: Option<String>,
    /// The LINEAR/CANARY step (green's production weight), when the stage has steps.
    pub step: Option<String>,
    /// Green's share of production and of test traffic (percent) as the event stated them, when
    /// it did.
    pub traffic: TrafficWeights,
}

impl Subject {
    /// Nothing known yet but the engine.
    pub fn unknown(engine: DeploymentEngine) -> Self {
        Subject {
            engine,
            deployment: None,
            cluster: None,
            service: None,
            hook: None,
            stage: None,
            step: None,
            traffic: TrafficWeights::default(),
        }
    }

    /// Names `service`'s cluster and service.
    pub fn with_service(mut self, service: &ServiceIdentity) -> Self {
        self.cluster = Some(service.cluster.clone());
        self.service = Some(service.service.clone());
        self
    }

    /// Fills what is still unknown from an ECS lifecycle hook event as it arrived, valid or not:
    /// `resourceArn`, `lifecycleStage` and the cluster and service of
    /// `executionDetails.serviceArn` (`arn:…:service/<cluster>/<service>`).
    pub fn fill_from_ecs_event(&mut self, payload: &Value) {
        let text = |value: &Value| {
            value
                .as_str()
                .filter(|text| !text.is_empty())
                .map(str::to_owned)
        };
        if self.deployment.is_none() {
            self.deployment = text(&payload["resourceArn"]);
        }
        if self.stage.is_none() {
            self.stage = text(&payload["lifecycleStage"]);
        }
        let service_path = payload["executionDetails"]["serviceArn"]
            .as_str()
            .and_then(|arn| arn.split_once(":service/"))
            .and_then(|(_, path)| path.split_once('/'));
        if let Some((cluster, service)) = service_path
            && !cluster.is_empty()
            && !service.is_empty()
        {
            self.cluster.get_or_insert_with(|| cluster.to_owned());
            self.service.get_or_insert_with(|| service.to_owned());
        }
    }
}

/// What one invocation decided, with who it judged and each check's outcome: the content of its
/// one summary line.
#[derive(Debug, Clone)]
pub struct InvocationSummary {
    /// Who was judged.
    pub subject: Subject,
    /// The how-many-th invocation of this stage (and step) this was, from 1; 0 when unknown.
    pub attempt: u32,
    /// The answer.
    pub status: VerdictStatus,
    /// Why, as a stable code.
    pub reason: &'static ReasonCode,
    /// Why, for humans.
    pub message: String,
    /// For IN_PROGRESS: when the stage is judged again.
    pub callback_delay: Option<Duration>,
    /// Each check's outcome in plan order (none when the answer came before any check ran).
    pub checks: Vec<CheckReport>,
}

impl InvocationSummary {
    /// An answer given before (or instead of) any check.
    pub fn decided(
        subject: Subject,
        status: VerdictStatus,
        reason: &'static ReasonCode,
        message: impl Into<String>,
    ) -> Self {
        InvocationSummary {
            subject,
            attempt: 0,
            status,
            reason,
            message: message.into(),
            callback_delay: None,
            checks: Vec::new(),
        }
    }

    /// The engine's verdict on a stage; the stage and step come from the verdict's key.
    pub fn judged(mut subject: Subject, verdict: &Verdict) -> Self {
        let key = &verdict.state.key;
        subject
            .deployment
            .get_or_insert_with(|| key.deployment.clone());
        subject.stage = Some(key.stage.clone());
        subject.step = key.step.clone();
        InvocationSummary {
            subject,
            attempt: verdict.state.attempts,
            status: verdict.status,
            reason: verdict.code,
            message: verdict.message.clone(),
            callback_delay: verdict.callback_delay,
            checks: verdict.checks.clone(),
        }
    }

    /// Whether this answer ends the stage (SUCCEEDED or FAILED).
    pub fn is_final(&self) -> bool {
        self.status != VerdictStatus::InProgress
    }
}

/// Emits one `greenlight check` event per check of a judgement (the CodeDeploy hook judges
/// several times in one invocation; each judgement's checks are logged as they conclude).
pub fn log_checks(verdict: &Verdict) {
    let stage = verdict.state.key.stage.as_str();
    let step = verdict.state.key.step.as_deref().unwrap_or("");
    // A check that stops the stage is a warning, so it is kept at `LogLevel: WARN`.
    macro_rules! check_event {
        ($level:ident, $check:expr) => {
            tracing::$level!(
                stage,
                step,
                id = %$check.id,
                kind = $check.kind,
                status = status_name($check),
                disposition = disposition_name($check),
                code = $check.outcome.code.code,
                elapsed_ms = $check.elapsed_ms,
                detail = %bounded(&$check.outcome.message, MAX_MESSAGE_CHARS),
                evidence = %evidence_json(&$check.outcome.evidence),
                "greenlight check"
            )
        };
    }
    for check in &verdict.checks {
        if check.disposition == crate::engine::verdict::Disposition::Fail {
            check_event!(warn, check);
        } else {
            check_event!(info, check);
        }
    }
}

/// Writes an invocation's one summary line, at its end.
pub fn emit_summary(summary: &InvocationSummary) {
    // Straight to stdout, one line, not through the log formatter: CloudWatch Logs extracts
    // metrics only from an event that is the EMF object itself. Written, not `println!`ed: a
    // closed stdout loses a log line, and must never panic after the verdict is decided (the
    // test harness does not capture it, so tests' output shows these lines).
    let line = summary_line(summary, SystemTime::now());
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

/// The name of a verdict status in the summary line (as ECS spells the hook status).
pub fn verdict_name(status: VerdictStatus) -> &'static str {
    match status {
        VerdictStatus::Succeeded => "SUCCEEDED",
        VerdictStatus::InProgress => "IN_PROGRESS",
        VerdictStatus::Failed => "FAILED",
    }
}

/// The summary line of an invocation that answered at `now`: who was judged, the verdict and
/// each check's outcome with its evidence, and an Embedded Metric Format directive per metric
/// family (CloudWatch's *Specification: Embedded metric format*):
/// - `Verdicts` (a count of 1), by service, stage and verdict, and by verdict alone;
/// - per check kind `K` that ran: `Check.K.DurationMs` (milliseconds), `Check.K.Failed` and
///   `Check.K.Waiting` (1 or 0, so their sum counts failing and waiting checks and their sample
///   count the checks run), by service. Two checks of one kind give arrays of values, as EMF
///   allows.
///
/// The reason code is a property (`Reason`), searchable but not a dimension, so it creates no
/// metrics of its own. A FAILED verdict is a `WARN` line, so that it (and its metrics) survives a
/// function's log level set to WARN; the others are `INFO`.
pub fn summary_line(summary: &InvocationSummary, now: SystemTime) -> Value {
    let subject = &summary.subject;
    let verdict = verdict_name(summary.status);
    let checks: Vec<Value> = summary
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
                "message": bounded(&check.outcome.message, MAX_MESSAGE_CHARS),
                "evidence": bounded_evidence(&check.outcome.evidence),
            })
        })
        .collect();
    let millis = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|since| since.as_millis())
        .unwrap_or_default();
    let mut line = Map::new();
    line.insert(
        "timestamp".into(),
        humantime::format_rfc3339_millis(now).to_string().into(),
    );
    line.insert(
        "level".into(),
        if summary.status == VerdictStatus::Failed {
            "WARN"
        } else {
            "INFO"
        }
        .into(),
    );
    line.insert("message".into(), SUMMARY_MESSAGE.into());
    line.insert(
        "greenlight".into(),
        json!({
            "version": SUMMARY_VERSION,
            "engine": subject.engine.name(),
            "deployment": subject.deployment,
            "cluster": subject.cluster,
            "service": subject.service,
            "hook": subject.hook,
            "stage": subject.stage,
            "step": subject.step,
            "traffic": {
                "production_green": subject.traffic.green_production,
                "test_green": subject.traffic.green_test,
            },
            "attempt": summary.attempt,
            "verdict": verdict,
            "final": summary.is_final(),
            "reason": summary.reason.code,
            "message": bounded(&summary.message, MAX_VERDICT_MESSAGE_CHARS),
            "callback_delay_s": summary.callback_delay.map(|delay| delay.as_secs()),
            "checks": checks,
        }),
    );

    let mut directives = vec![json!({
        "Namespace": METRICS_NAMESPACE,
        "Dimensions": [["Service", "Stage", "Verdict"], ["Verdict"]],
        "Metrics": [{ "Name": VERDICTS_METRIC, "Unit": "Count" }],
    })];
    // Dimension values: what any invoker's event says must not mint metrics, so only a stage
    // spelled as ECS spells stages, and a service name within ECS's 255 characters.
    let stage_dimension = subject.stage.as_deref().filter(|stage| {
        (1..=64).contains(&stage.len())
            && stage
                .bytes()
                .all(|byte| byte.is_ascii_uppercase() || byte == b'_')
    });
    let service_dimension = subject
        .service
        .as_deref()
        .filter(|service| (1..=255).contains(&service.len()));
    line.insert(
        "Service".into(),
        service_dimension.unwrap_or("unknown").into(),
    );
    line.insert("Stage".into(), stage_dimension.unwrap_or("unknown").into());
    line.insert("Verdict".into(), verdict.into());
    line.insert("Reason".into(), summary.reason.code.into());
    line.insert(VERDICTS_METRIC.into(), 1.into());

    let mut check_metrics = Vec::new();
    let mut kinds: Vec<&str> = summary.checks.iter().map(|check| check.kind).collect();
    kinds.sort_unstable();
    kinds.dedup();
    for kind in kinds.into_iter().take(MAX_CHECK_KINDS_WITH_METRICS) {
        let of_kind: Vec<&CheckReport> = summary
            .checks
            .iter()
            .filter(|check| check.kind == kind)
            .collect();
        let values = |value: &dyn Fn(&CheckReport) -> u64| -> Value {
            match of_kind.as_slice() {
                [only] => value(only).into(),
                many => many.iter().map(|check| value(check)).collect(),
            }
        };
        use crate::engine::verdict::Disposition;
        for (name, unit, value) in [
            (
                check_metric(kind, "DurationMs"),
                "Milliseconds",
                values(&|check| check.elapsed_ms),
            ),
            (
                check_metric(kind, "Failed"),
                "Count",
                values(&|check| u64::from(check.disposition == Disposition::Fail)),
            ),
            (
                check_metric(kind, "Waiting"),
                "Count",
                values(&|check| u64::from(check.disposition == Disposition::Wait)),
            ),
        ] {
            check_metrics.push(json!({ "Name": name, "Unit": unit }));
            line.insert(name, value);
        }
    }
    if !check_metrics.is_empty() {
        directives.push(json!({
            "Namespace": METRICS_NAMESPACE,
            // By service only: whether CloudWatch accepts an empty dimension set is not
            // documented, and a refused directive could cost the record's other metrics.
            "Dimensions": [["Service"]],
            "Metrics": check_metrics,
        }));
    }
    line.insert(
        "_aws".into(),
        json!({ "Timestamp": millis, "CloudWatchMetrics": directives }),
    );
    Value::Object(line)
}

/// The `Source` of greenlight's EventBridge events.
pub const EVENT_SOURCE: &str = "greenlight";

/// The `DetailType` of the event a final stage verdict puts on the bus.
pub const EVENT_DETAIL_TYPE: &str = "greenlight stage verdict";

/// The most characters of a sentence in an event's detail: enough for a chat message, small
/// enough for any target.
const MAX_EVENT_TEXT_CHARS: usize = 512;

/// An EventBridge event to put: `Source` [`EVENT_SOURCE`], `DetailType` [`EVENT_DETAIL_TYPE`].
#[derive(Debug, Clone, PartialEq)]
pub struct VerdictEvent {
    /// The event's `Detail`, a JSON object.
    pub detail: Value,
    /// The event's `Resources`: the ECS service deployment ARN (a CodeDeploy id is not an ARN).
    pub resources: Vec<String>,
}

/// The event for a final verdict (SUCCEEDED or FAILED); `None` for IN_PROGRESS, which is not an
/// outcome anyone routes. The detail says who, what and why in a few fields a rule can match
/// (`verdict`, `reason`, `service`), the check that decided with its sentence, and the command
/// that shows the whole timeline.
pub fn verdict_event(summary: &InvocationSummary) -> Option<VerdictEvent> {
    if !summary.is_final() {
        return None;
    }
    let subject = &summary.subject;
    let deciding = summary
        .checks
        .iter()
        .find(|check| check.disposition == crate::engine::verdict::Disposition::Fail)
        .or_else(|| {
            summary
                .checks
                .iter()
                .find(|check| check.outcome.code.code == summary.reason.code)
        })
        .map(|check| {
            json!({
                "id": check.id,
                "kind": check.kind,
                "code": check.outcome.code.code,
                "message": bounded(&check.outcome.message, MAX_EVENT_TEXT_CHARS),
            })
        });
    let status_command = match (&subject.cluster, &subject.service, &subject.deployment) {
        (Some(cluster), Some(service), Some(deployment)) => Some(format!(
            "greenlight status --cluster {cluster} --service {service} --deployment {deployment}"
        )),
        _ => None,
    };
    let resources = subject
        .deployment
        .iter()
        .filter(|deployment| deployment.starts_with("arn:"))
        .cloned()
        .collect();
    Some(VerdictEvent {
        detail: json!({
            "version": SUMMARY_VERSION,
            "engine": subject.engine.name(),
            "deployment": subject.deployment,
            "cluster": subject.cluster,
            "service": subject.service,
            "hook": subject.hook,
            "stage": subject.stage,
            "step": subject.step,
            "verdict": verdict_name(summary.status),
            "reason": summary.reason.code,
            "message": bounded(&summary.message, MAX_EVENT_TEXT_CHARS),
            "deciding_check": deciding,
            "status_command": status_command,
        }),
        resources,
    })
}

/// The name of a per-check-kind metric: `Check.<kind>.<measure>`.
pub fn check_metric(kind: &str, measure: &str) -> String {
    format!("Check.{kind}.{measure}")
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
    bounded_evidence(evidence).to_string()
}

/// The evidence as a JSON array of at most [`MAX_EVIDENCE_BYTES`] bytes once serialized: items
/// that do not fit are dropped (most telling first, so the first items stay) and counted in a
/// final `{"truncated": n}`.
pub fn bounded_evidence(evidence: &[Evidence]) -> Value {
    let mut kept: Vec<Value> = Vec::with_capacity(evidence.len());
    // Room for the closing bracket and a `{"truncated":N}` marker.
    let budget = MAX_EVIDENCE_BYTES.saturating_sub(32);
    let mut used = 2;
    for (index, item) in evidence.iter().enumerate() {
        let value = serde_json::to_value(item).unwrap_or(Value::Null);
        let size = value.to_string().len() + 1;
        if used + size > budget {
            kept.push(json!({ "truncated": evidence.len() - index }));
            break;
        }
        used += size;
        kept.push(value);
    }
    Value::Array(kept)
}

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
                outcome: Outcome::fail(code, "7 of 20 requests failed")
                    .with_evidence(Evidence::new("failed requests", 7).threshold("<= 1")),
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

    fn judged(status: VerdictStatus) -> InvocationSummary {
        let mut subject = Subject::unknown(DeploymentEngine::Ecs).with_service(&service());
        subject.traffic = TrafficWeights {
            green_production: Some(25.0),
            green_test: None,
        };
        InvocationSummary::judged(subject, &verdict(status))
    }

    #[test]
    fn the_summary_line_says_who_what_and_why_in_its_versioned_shape() {
        let now = SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_800_000_000_123);
        let line = summary_line(&judged(VerdictStatus::Failed), now);
        assert_eq!(line["timestamp"], "2027-01-15T08:00:00.123Z");
        assert_eq!(line["level"], "WARN");
        assert_eq!(line["message"], SUMMARY_MESSAGE);
        let summary = &line["greenlight"];
        assert_eq!(summary["version"], 1);
        assert_eq!(summary["engine"], "ecs");
        assert_eq!(
            summary["deployment"],
            "arn:aws:ecs:us-east-1:123456789012:service-deployment/prod/web/abc"
        );
        assert_eq!(summary["service"], "web");
        assert_eq!(summary["cluster"], "prod");
        assert_eq!(summary["stage"], "PRODUCTION_TRAFFIC_SHIFT");
        assert_eq!(summary["step"], "25");
        assert_eq!(summary["traffic"]["production_green"], 25.0);
        assert_eq!(summary["traffic"]["test_green"], Value::Null);
        assert_eq!(summary["verdict"], "FAILED");
        assert_eq!(summary["final"], true);
        assert_eq!(summary["reason"], "HTTP_ERROR_RATE");
        let check = &summary["checks"][0];
        assert_eq!(check["kind"], "http");
        assert_eq!(check["status"], "fail");
        assert_eq!(check["code"], "HTTP_ERROR_RATE");
        assert_eq!(check["elapsed_ms"], 62);
        assert_eq!(check["message"], "7 of 20 requests failed");
        assert_eq!(check["evidence"][0]["measured"], "failed requests");
        assert_eq!(check["evidence"][0]["value"], 7);
        assert_eq!(line["Reason"], "HTTP_ERROR_RATE");

        let mut waiting = verdict(VerdictStatus::InProgress);
        waiting.callback_delay = Some(Duration::from_secs(45));
        let waiting = summary_line(
            &InvocationSummary::judged(Subject::unknown(DeploymentEngine::Ecs), &waiting),
            now,
        );
        assert_eq!(waiting["level"], "INFO");
        assert_eq!(waiting["greenlight"]["final"], false);
        assert_eq!(waiting["greenlight"]["callback_delay_s"], 45);
        assert_eq!(waiting["greenlight"]["service"], Value::Null);
        assert_eq!(waiting["Service"], "unknown");
    }

    /// A decision taken before any check (here a malformed event) still names what the event
    /// said, carries no checks and no per-check metrics, and is a valid EMF record.
    #[test]
    fn an_answer_before_any_check_names_what_the_raw_event_said() {
        let mut subject = Subject::unknown(DeploymentEngine::Ecs);
        subject.fill_from_ecs_event(&json!({
            "resourceArn": "arn:aws:ecs:us-east-1:123456789012:service-deployment/prod/web/abc",
            "lifecycleStage": "POST_SCALE_UP",
            "executionDetails": { "serviceArn": "arn:aws:ecs:us-east-1:123456789012:service/prod/web" },
        }));
        let summary = InvocationSummary::decided(
            subject,
            VerdictStatus::Failed,
            &crate::protocol::codes::EVENT_MALFORMED,
            "malformed hook event: executionDetails.targetServiceRevisionArn is missing",
        );
        let line = summary_line(&summary, SystemTime::UNIX_EPOCH);
        assert_eq!(line["greenlight"]["stage"], "POST_SCALE_UP");
        assert_eq!(line["greenlight"]["cluster"], "prod");
        assert_eq!(line["greenlight"]["service"], "web");
        assert_eq!(line["greenlight"]["reason"], "EVENT_MALFORMED");
        assert_eq!(line["greenlight"]["checks"], json!([]));
        let data = greenlight_test_support::emf::extract(&line).expect("a valid EMF record");
        assert!(!data.is_empty());
        assert!(data.iter().all(|datum| datum.name == VERDICTS_METRIC));

        // A stage no engine spells, from any invoker: not a dimension value.
        let mut odd = Subject::unknown(DeploymentEngine::Ecs);
        odd.fill_from_ecs_event(&json!({ "lifecycleStage": "x".repeat(2_000) }));
        let line = summary_line(
            &InvocationSummary::decided(
                odd,
                VerdictStatus::Failed,
                &crate::protocol::codes::EVENT_STAGE_UNKNOWN,
                "unknown stage",
            ),
            SystemTime::UNIX_EPOCH,
        );
        assert_eq!(line["Stage"], "unknown");

        // Nothing readable at all: still one line, with the dimensions CloudWatch requires.
        let mut nothing = Subject::unknown(DeploymentEngine::Ecs);
        nothing.fill_from_ecs_event(&json!("not an event"));
        let line = summary_line(
            &InvocationSummary::decided(
                nothing,
                VerdictStatus::Failed,
                &crate::protocol::codes::EVENT_MALFORMED,
                "malformed",
            ),
            SystemTime::UNIX_EPOCH,
        );
        assert_eq!(line["Stage"], "unknown");
        greenlight_test_support::emf::extract(&line).expect("a valid EMF record");
    }

    /// Read as CloudWatch Logs would (the published EMF rules, in the test-support reader): one
    /// `Verdicts` datum per dimension set, and per check kind its duration, failed and waiting
    /// values, two checks of a kind giving arrays.
    #[test]
    fn the_summary_line_is_a_valid_embedded_metric_format_record_with_per_kind_metrics() {
        let now = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000);
        let mut two_kinds = verdict(VerdictStatus::Failed);
        let mut second_http = two_kinds.checks[0].clone();
        second_http.id = "http#2".into();
        second_http.disposition = Disposition::Wait;
        second_http.elapsed_ms = 80;
        let mut alarms = two_kinds.checks[0].clone();
        alarms.id = "alarms".into();
        alarms.kind = "alarms";
        alarms.disposition = Disposition::Pass;
        alarms.elapsed_ms = 9;
        two_kinds.checks.extend([second_http, alarms]);
        let line = summary_line(
            &InvocationSummary::judged(
                Subject::unknown(DeploymentEngine::Ecs).with_service(&service()),
                &two_kinds,
            ),
            now,
        );
        assert_eq!(line["_aws"]["Timestamp"], 1_800_000_000_000_u64);
        let data = greenlight_test_support::emf::extract(&line).expect("a valid EMF record");
        let find = |name: &str, dimensions: &[(&str, &str)]| {
            data.iter()
                .find(|datum| {
                    datum.name == name
                        && datum.dimensions
                            == dimensions
                                .iter()
                                .map(|(key, value)| (key.to_string(), value.to_string()))
                                .collect::<Vec<_>>()
                })
                .unwrap_or_else(|| panic!("no {name} by {dimensions:?} in {data:#?}"))
        };
        let verdicts = find(
            VERDICTS_METRIC,
            &[
                ("Service", "web"),
                ("Stage", "PRODUCTION_TRAFFIC_SHIFT"),
                ("Verdict", "FAILED"),
            ],
        );
        assert_eq!(
            (verdicts.values.clone(), verdicts.unit.as_str()),
            (vec![1.0], "Count")
        );
        assert_eq!(
            find(VERDICTS_METRIC, &[("Verdict", "FAILED")]).values,
            vec![1.0]
        );
        let http = find("Check.http.DurationMs", &[("Service", "web")]);
        assert_eq!(
            (http.values.clone(), http.unit.as_str()),
            (vec![62.0, 80.0], "Milliseconds")
        );
        assert_eq!(
            find("Check.http.Failed", &[("Service", "web")]).values,
            vec![1.0, 0.0]
        );
        assert_eq!(
            find("Check.http.Waiting", &[("Service", "web")]).values,
            vec![0.0, 1.0]
        );
        assert_eq!(
            find("Check.alarms.DurationMs", &[("Service", "web")]).values,
            vec![9.0]
        );
        assert_eq!(
            find("Check.alarms.Failed", &[("Service", "web")]).values,
            vec![0.0]
        );
        assert_eq!(line["Reason"], "HTTP_ERROR_RATE");
    }

    /// A final verdict is one event naming who, why, the deciding check and the command to see
    /// more; IN_PROGRESS is none.
    #[test]
    fn a_final_verdict_is_one_event_and_a_waiting_one_none() {
        let event = verdict_event(&judged(VerdictStatus::Failed)).expect("an event");
        let detail = &event.detail;
        assert_eq!(detail["verdict"], "FAILED");
        assert_eq!(detail["reason"], "HTTP_ERROR_RATE");
        assert_eq!(detail["service"], "web");
        assert_eq!(detail["stage"], "PRODUCTION_TRAFFIC_SHIFT");
        assert_eq!(detail["deciding_check"]["id"], "http");
        assert_eq!(
            detail["deciding_check"]["message"],
            "7 of 20 requests failed"
        );
        assert_eq!(
            detail["status_command"],
            "greenlight status --cluster prod --service web --deployment arn:aws:ecs:us-east-1:123456789012:service-deployment/prod/web/abc"
        );
        assert_eq!(
            event.resources,
            ["arn:aws:ecs:us-east-1:123456789012:service-deployment/prod/web/abc"]
        );
        let passed = verdict_event(&judged(VerdictStatus::Succeeded)).expect("an event");
        assert_eq!(passed.detail["verdict"], "SUCCEEDED");
        assert!(verdict_event(&judged(VerdictStatus::InProgress)).is_none());

        // A CodeDeploy id is not an ARN, so it is not a resource; a long message is cut.
        let mut codedeploy = judged(VerdictStatus::Failed);
        codedeploy.subject.deployment = Some("d-ABCDEF123".into());
        codedeploy.message = "x".repeat(5_000);
        let event = verdict_event(&codedeploy).expect("an event");
        assert!(event.resources.is_empty());
        assert!(event.detail["message"].as_str().unwrap().chars().count() <= 513);
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
