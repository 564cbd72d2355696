//! The `lambda` check's judge: a team's own function (contract tests, a business probe) says
//! whether green is good, under a small, versioned contract.
//!
//! greenlight invokes the function synchronously (`Invoke`, `RequestResponse`) once per judgement
//! of the stage, so the function may be called again at every IN_PROGRESS re-invocation: it should
//! be idempotent, and answer within the check's `timeout` (default 10s; raise it for longer suites).
//!
//! # Input: what the function receives
//! ```json
//! {
//!   "version": 1,
//!   "stage": "POST_TEST_TRAFFIC_SHIFT",
//!   "step": null,
//!   "deployment": {
//!     "id": "arn:aws:ecs:eu-west-1:123456789012:service-deployment/prod/web/4bc5…",
//!     "service": "web",
//!     "cluster": "prod"
//!   },
//!   "green": {
//!     "revision": "arn:aws:ecs:eu-west-1:123456789012:service-revision/prod/web/9313…",
//!     "task_definition": "arn:aws:ecs:eu-west-1:123456789012:task-definition/web:42",
//!     "target_group": "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web-b/…"
//!   },
//!   "blue": {
//!     "revision": "arn:aws:ecs:eu-west-1:123456789012:service-revision/prod/web/1920…",
//!     "task_definition": "arn:aws:ecs:eu-west-1:123456789012:task-definition/web:41",
//!     "target_group": "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web-a/…"
//!   },
//!   "params": { "suite": "smoke" }
//! }
//! ```
//! - `version`: the contract version, `1`. A future incompatible input gets a new number.
//! - `stage`: the ECS lifecycle stage being judged (CodeDeploy hooks are given as the stage they
//!   map to). `step`: for LINEAR and CANARY production steps, green's production weight as the
//!   event states it (`"10"`), else `null`.
//! - `deployment.id`: the ECS service-deployment ARN (the CodeDeploy deployment id under
//!   CodeDeploy). `service`, `cluster`: names.
//! - `green`, `blue`: the service revision ARN, its task definition ARN and the target group it
//!   serves from (`null` without a load balancer). `blue` is `null` on a service's first deployment.
//! - `params`: the check's `params` from the config, as written.
//!
//! New fields may be added to the input without a version change; functions should ignore fields
//! they do not know.
//!
//! # Output: what the function returns
//! ```json
//! {
//!   "result": "fail",
//!   "reason": "checkout contract: 3 of 40 cases failed (POST /orders answered 500)",
//!   "evidence": [
//!     { "measured": "failed contract cases", "value": 3, "threshold": "0", "samples": 40,
//!       "resource": "https://test.web.example.com/orders" }
//!   ]
//! }
//! ```
//! - `result` (required, exact): `"pass"`, `"fail"` or `"inconclusive"` (not enough evidence yet;
//!   greenlight waits under the check's `on_inconclusive` policy). Anything else is a malformed
//!   answer ([`LAMBDA_BAD_OUTPUT`]): greenlight never guesses a pass.
//! - `reason` (optional): one line for on-call, shown verbatim (cut at 500 characters).
//! - `evidence` (optional): up to 10 entries are kept, each with `measured` (required, text) and
//!   `value` (any JSON), and optionally `threshold`, `window` (text), `samples` (a count) and
//!   `resource` (text; the function's ARN when absent). Entries without `measured` are dropped.
//! - Other fields are ignored.
//!
//! # When the function does not answer
//! A function that raises (Lambda's `FunctionError`, handled or not) is [`LAMBDA_FUNCTION_ERROR`],
//! one that runs out of time [`LAMBDA_TIMEOUT`]; both are transient errors, retried within the
//! check's `max_wait`, with the function's error type and message in the outcome. Throttling, access
//! denied (`lambda:InvokeFunction` on the function's ARN) and an unknown function are the common
//! `AWS_*` errors.

pub mod params;

use serde::Serialize;
use serde_json::{Value, json};

use super::CheckDoc;
use crate::checks::IamNeed;
use crate::checks::LambdaParams;
use crate::facts::Fact;
use crate::facts::{RevisionFacts, ServiceIdentity};
use crate::outcome::{Evidence, Outcome};
use crate::reason::ReasonCode;
use crate::stage::LifecycleStage;
use crate::stage::StageKey;

/// The function said green is good.
pub static LAMBDA_PASSED: ReasonCode = ReasonCode {
    code: "LAMBDA_PASSED",
    summary: "The team's check function said green passes.",
    what: "The function was invoked with the deployment's facts and answered `\"result\": \"pass\"`.",
    why: "The team's own tests of green succeeded.",
    fix: "Nothing to fix.",
};

/// The function said green is bad.
pub static LAMBDA_FAILED: ReasonCode = ReasonCode {
    code: "LAMBDA_FAILED",
    summary: "The team's check function said green fails.",
    what: "The function was invoked with the deployment's facts and answered `\"result\": \"fail\"`; its reason and evidence are shown as it gave them.",
    why: "The team's own tests of green failed.",
    fix: "Read the function's reason and evidence, and its logs for this invocation.",
};

/// The function could not decide yet.
pub static LAMBDA_INCONCLUSIVE: ReasonCode = ReasonCode {
    code: "LAMBDA_INCONCLUSIVE",
    summary: "The team's check function could not decide yet.",
    what: "The function answered `\"result\": \"inconclusive\"`, with its reason.",
    why: "No evidence is not success; greenlight waits under the check's `on_inconclusive` policy and asks again.",
    fix: "Usually nothing. If it persists, read the function's reason.",
};

/// The function raised an error.
pub static LAMBDA_FUNCTION_ERROR: ReasonCode = ReasonCode {
    code: "LAMBDA_FUNCTION_ERROR",
    summary: "The team's check function raised an error instead of answering.",
    what: "Lambda reported a function error (an exception, a crash, running out of memory); its error type and message are shown.",
    why: "A function that crashed said nothing about green; the check is retried within its `max_wait`, and fails the stage when that runs out.",
    fix: "Read the function's logs for the error. Make the function catch its own failures and answer `inconclusive` or `fail` with a reason.",
};

/// The function ran out of time.
pub static LAMBDA_TIMEOUT: ReasonCode = ReasonCode {
    code: "LAMBDA_TIMEOUT",
    summary: "The team's check function ran out of time.",
    what: "Lambda stopped the function at its configured timeout before it answered.",
    why: "A function that did not finish said nothing about green; the check is retried within its `max_wait`.",
    fix: "Raise the function's timeout (and the check's `timeout` above it), or make the function's tests faster.",
};

/// The function's answer does not follow the contract.
pub static LAMBDA_BAD_OUTPUT: ReasonCode = ReasonCode {
    code: "LAMBDA_BAD_OUTPUT",
    summary: "The team's check function answered something that is not a greenlight answer.",
    what: "The function's output was not a JSON object with `result` set to exactly `\"pass\"`, `\"fail\"` or `\"inconclusive\"`.",
    why: "greenlight never guesses a pass from an answer it cannot read.",
    fix: "Return `{\"result\": \"pass\" | \"fail\" | \"inconclusive\", \"reason\": \"…\"}` from the function (see the contract in the docs).",
};

/// The `lambda` check.
pub static DOC: CheckDoc = CheckDoc {
    kind: "lambda",
    summary: "A team's own function (contract tests, a business probe) is invoked with the deployment's facts and answers pass, fail or inconclusive, with a reason and evidence.",
    why: "Teams know what 'working' means for their service better than any generic check. The input and output are a small versioned contract; the team's reason is shown verbatim, and a function that crashes, times out or answers something else is an error, never a pass.",
    example: "lambda:\n  function: arn:aws:lambda:eu-west-1:123456789012:function:web-contract-tests:live\n  params: { suite: smoke }\n  timeout: 2m",
    iam: &[IamNeed {
        when: "",
        example: "lambda: { function: web-contract-tests }",
        from: LifecycleStage::ReconcileService,
        facts: &[Fact::Deployment, Fact::Revisions, Fact::Routing],
        calls: &["lambda:InvokeFunction"],
    }],
    codes: &[
        &LAMBDA_PASSED,
        &LAMBDA_FAILED,
        &LAMBDA_INCONCLUSIVE,
        &LAMBDA_FUNCTION_ERROR,
        &LAMBDA_TIMEOUT,
        &LAMBDA_BAD_OUTPUT,
    ],
};

/// The version of the input this greenlight sends.
pub const INPUT_VERSION: u32 = 1;
/// The most characters of the function's reason shown.
pub const MAX_REASON_CHARS: usize = 500;
/// The most pieces of the function's evidence kept.
pub const MAX_FUNCTION_EVIDENCE: usize = 10;
const MAX_TEXT_CHARS: usize = 200;
const MAX_VALUE_CHARS: usize = 1000;

/// What the function receives (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LambdaCheckInput {
    /// [`INPUT_VERSION`].
    pub version: u32,
    /// The lifecycle stage.
    pub stage: String,
    /// The LINEAR/CANARY step, when there is one.
    pub step: Option<String>,
    /// The deployment.
    pub deployment: DeploymentInput,
    /// The green revision.
    pub green: RevisionInput,
    /// The blue revision, when there is one.
    pub blue: Option<RevisionInput>,
    /// The check's `params`.
    pub params: serde_json::Map<String, Value>,
}

/// The deployment, in the input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeploymentInput {
    /// The service-deployment ARN (or CodeDeploy deployment id).
    pub id: String,
    /// The service name.
    pub service: String,
    /// The cluster name.
    pub cluster: String,
}

/// A revision, in the input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RevisionInput {
    /// The service revision ARN.
    pub revision: String,
    /// The task definition ARN.
    pub task_definition: String,
    /// The target group it serves from.
    pub target_group: Option<String>,
}

impl RevisionInput {
    /// A revision and the target group it serves from.
    pub fn new(revision: &RevisionFacts, target_group: Option<&str>) -> Self {
        RevisionInput {
            revision: revision.arn.clone(),
            task_definition: revision.task_definition_arn.clone(),
            target_group: target_group.map(str::to_owned),
        }
    }
}

impl LambdaCheckInput {
    /// The input for the stage `key` of `service`'s deployment.
    pub fn new(
        key: &StageKey,
        service: &ServiceIdentity,
        green: RevisionInput,
        blue: Option<RevisionInput>,
        params: &LambdaParams,
    ) -> Self {
        LambdaCheckInput {
            version: INPUT_VERSION,
            stage: key.stage.clone(),
            step: key.step.clone(),
            deployment: DeploymentInput {
                id: key.deployment.clone(),
                service: service.service.clone(),
                cluster: service.cluster.clone(),
            },
            green,
            blue,
            params: params.params.clone(),
        }
    }
}

/// The function's ARN for a reference as the config writes it (a name, `name:qualifier`,
/// `account:function:name`, or an ARN), in the service's partition, region and account when the
/// reference does not say: the ARN an IAM policy must allow `lambda:InvokeFunction` on.
pub fn function_arn(reference: &str, service: &ServiceIdentity) -> String {
    if reference.starts_with("arn:") {
        return reference.to_owned();
    }
    let prefix = |account: &str| {
        format!(
            "arn:{}:lambda:{}:{account}:function:",
            service.partition, service.region
        )
    };
    match reference.split(':').collect::<Vec<_>>().as_slice() {
        [account, "function", rest @ ..] => format!("{}{}", prefix(account), rest.join(":")),
        _ => format!("{}{reference}", prefix(&service.account)),
    }
}

/// How the function answered an invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FunctionReply {
    /// It returned this payload.
    Returned(Vec<u8>),
    /// It raised: Lambda's `FunctionError` (`Unhandled`, `Handled`) and the error payload.
    Raised {
        /// `Unhandled` or `Handled`.
        function_error: String,
        /// The error document (`{"errorType", "errorMessage", …}`), as Lambda gave it.
        payload: Vec<u8>,
    },
}

/// Judges the function's reply. `function` is its ARN.
pub fn judge(function: &str, reply: &FunctionReply) -> Outcome {
    match reply {
        FunctionReply::Returned(payload) => match parse_answer(payload) {
            Ok(answer) => answer_outcome(function, answer),
            Err(why) => Outcome::permanent_error(
                &LAMBDA_BAD_OUTPUT,
                format!(
                    "function {function} answered {}, which is not a greenlight answer: {why}; expected {{\"result\": \"pass\" | \"fail\" | \"inconclusive\", \"reason\": \"…\"}}",
                    snippet(payload)
                ),
            )
            .with_evidence(
                Evidence::new("function output", snippet(payload))
                    .threshold("a JSON object with result pass, fail or inconclusive")
                    .resource(function),
            ),
        },
        FunctionReply::Raised {
            function_error,
            payload,
        } => raised_outcome(function, function_error, payload),
    }
}

/// The function's answer, read.
#[derive(Debug, Clone, PartialEq)]
struct FunctionAnswer {
    result: AnswerResult,
    reason: String,
    evidence: Vec<Evidence>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AnswerResult {
    Pass,
    Fail,
    Inconclusive,
}

impl AnswerResult {
    fn as_str(self) -> &'static str {
        match self {
            AnswerResult::Pass => "pass",
            AnswerResult::Fail => "fail",
            AnswerResult::Inconclusive => "inconclusive",
        }
    }
}

/// Reads an answer: strict on `result`, lenient on everything else.
fn parse_answer(payload: &[u8]) -> Result<FunctionAnswer, String> {
    let document: Value =
        serde_json::from_slice(payload).map_err(|error| format!("it is not JSON ({error})"))?;
    let Value::Object(answer) = document else {
        return Err("it is not a JSON object".to_owned());
    };
    let result = match answer.get("result") {
        None => return Err("it has no `result`".to_owned()),
        Some(Value::String(text)) => match text.as_str() {
            "pass" => AnswerResult::Pass,
            "fail" => AnswerResult::Fail,
            "inconclusive" => AnswerResult::Inconclusive,
            _ => {
                return Err(format!(
                    "`result` is {}, not \"pass\", \"fail\" or \"inconclusive\"",
                    truncate(&Value::String(text.clone()).to_string(), 50)
                ));
            }
        },
        Some(other) => {
            return Err(format!(
                "`result` is {}, not \"pass\", \"fail\" or \"inconclusive\"",
                truncate(&other.to_string(), 50)
            ));
        }
    };
    let reason = match answer.get("reason") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => truncate(text.trim(), MAX_REASON_CHARS),
        Some(other) => truncate(&other.to_string(), MAX_REASON_CHARS),
    };
    let evidence = match answer.get("evidence") {
        Some(Value::Array(entries)) => entries
            .iter()
            .filter_map(read_evidence)
            .take(MAX_FUNCTION_EVIDENCE)
            .collect(),
        _ => Vec::new(),
    };
    Ok(FunctionAnswer {
        result,
        reason,
        evidence,
    })
}

fn read_evidence(entry: &Value) -> Option<Evidence> {
    let text = |key: &str| -> Option<String> {
        match entry.get(key)? {
            Value::String(text) => Some(truncate(text, MAX_TEXT_CHARS)),
            Value::Null => None,
            other => Some(truncate(&other.to_string(), MAX_TEXT_CHARS)),
        }
    };
    let measured = match entry.get("measured")? {
        Value::String(text) if !text.trim().is_empty() => truncate(text, MAX_TEXT_CHARS),
        _ => return None,
    };
    let value = entry.get("value").cloned().unwrap_or(Value::Null);
    let written = value.to_string();
    let value = if written.chars().count() > MAX_VALUE_CHARS {
        Value::String(truncate(&written, MAX_VALUE_CHARS))
    } else {
        value
    };
    Some(Evidence {
        measured,
        value,
        threshold: text("threshold"),
        window: text("window"),
        samples: entry.get("samples").and_then(Value::as_u64),
        resource: text("resource"),
    })
}

fn answer_outcome(function: &str, answer: FunctionAnswer) -> Outcome {
    let reason = if answer.reason.is_empty() {
        "(no reason given)".to_owned()
    } else {
        answer.reason.clone()
    };
    let outcome = match answer.result {
        AnswerResult::Pass => Outcome::pass(
            &LAMBDA_PASSED,
            format!("function {function} passed green: {reason}"),
        ),
        AnswerResult::Fail => Outcome::fail(
            &LAMBDA_FAILED,
            format!("function {function} failed green: {reason}"),
        ),
        AnswerResult::Inconclusive => Outcome::inconclusive(
            &LAMBDA_INCONCLUSIVE,
            format!("function {function} could not decide yet: {reason}"),
        ),
    };
    let mut outcome = outcome.with_evidence(
        Evidence::new("function result", answer.result.as_str())
            .threshold("pass")
            .resource(function),
    );
    for mut evidence in answer.evidence {
        if evidence.resource.is_none() {
            evidence.resource = Some(function.to_owned());
        }
        outcome = outcome.with_evidence(evidence);
    }
    outcome
}

fn raised_outcome(function: &str, function_error: &str, payload: &[u8]) -> Outcome {
    let document: Option<Value> = serde_json::from_slice(payload).ok();
    let field = |key: &str| {
        document
            .as_ref()
            .and_then(|document| document.get(key))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let error_type = field("errorType");
    let message = field("errorMessage").unwrap_or_else(|| snippet(payload));
    let timed_out = error_type.as_deref() == Some("Sandbox.Timedout")
        || message.contains("Task timed out after");
    let described = match &error_type {
        Some(error_type) => format!("{error_type}: {}", truncate(&message, MAX_REASON_CHARS)),
        None => truncate(&message, MAX_REASON_CHARS),
    };
    let evidence = Evidence::new(
        "function error",
        json!({ "function_error": function_error, "error_type": error_type }),
    )
    .resource(function);
    if timed_out {
        Outcome::transient_error(
            &LAMBDA_TIMEOUT,
            format!("function {function} ran out of time before answering: {described}"),
        )
        .with_evidence(evidence)
    } else {
        Outcome::transient_error(
            &LAMBDA_FUNCTION_ERROR,
            format!(
                "function {function} raised an error ({function_error}) instead of answering: {described}"
            ),
        )
        .with_evidence(evidence)
    }
}

/// The start of a payload, as text.
fn snippet(payload: &[u8]) -> String {
    if payload.is_empty() {
        return "nothing".to_owned();
    }
    let end = payload.len().min(MAX_TEXT_CHARS * 4);
    truncate(
        String::from_utf8_lossy(&payload[..end]).trim(),
        MAX_TEXT_CHARS,
    )
}

/// At most `chars` characters of `text`, with `…` when cut.
fn truncate(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::registry::test_support::check_at;
    use crate::outcome::{ErrorClass, Status};
    use crate::stage::LifecycleStage;

    const FUNCTION: &str = "arn:aws:lambda:eu-west-1:123456789012:function:web-tests";

    fn service() -> ServiceIdentity {
        ServiceIdentity {
            partition: "aws".into(),
            region: "eu-west-1".into(),
            account: "123456789012".into(),
            cluster: "prod".into(),
            service: "web".into(),
            service_arn: "arn:aws:ecs:eu-west-1:123456789012:service/prod/web".into(),
        }
    }

    fn revision(n: u32) -> RevisionFacts {
        RevisionFacts {
            arn: format!("arn:aws:ecs:eu-west-1:123456789012:service-revision/prod/web/{n}"),
            task_definition_arn: format!(
                "arn:aws:ecs:eu-west-1:123456789012:task-definition/web:{n}"
            ),
            containers: Vec::new(),
            target_group_arns: Vec::new(),
            test_header: None,
        }
    }

    #[test]
    fn the_input_is_the_documented_document() {
        let params: LambdaParams = serde_json::from_value(json!({
            "function": "web-tests", "params": { "suite": "smoke" }
        }))
        .expect("params");
        let key = StageKey::new("arn:deployment", "PRODUCTION_TRAFFIC_SHIFT", Some("10"));
        let input = LambdaCheckInput::new(
            &key,
            &service(),
            RevisionInput::new(&revision(42), Some("tg-b")),
            Some(RevisionInput::new(&revision(41), None)),
            &params,
        );
        assert_eq!(
            serde_json::to_value(&input).expect("serializes"),
            json!({
                "version": 1,
                "stage": "PRODUCTION_TRAFFIC_SHIFT",
                "step": "10",
                "deployment": { "id": "arn:deployment", "service": "web", "cluster": "prod" },
                "green": {
                    "revision": "arn:aws:ecs:eu-west-1:123456789012:service-revision/prod/web/42",
                    "task_definition": "arn:aws:ecs:eu-west-1:123456789012:task-definition/web:42",
                    "target_group": "tg-b"
                },
                "blue": {
                    "revision": "arn:aws:ecs:eu-west-1:123456789012:service-revision/prod/web/41",
                    "task_definition": "arn:aws:ecs:eu-west-1:123456789012:task-definition/web:41",
                    "target_group": null
                },
                "params": { "suite": "smoke" }
            })
        );
        let first = LambdaCheckInput {
            blue: None,
            step: None,
            ..input
        };
        let value = serde_json::to_value(&first).expect("serializes");
        assert_eq!(
            (value["blue"].clone(), value["step"].clone()),
            (Value::Null, Value::Null)
        );
    }

    #[test]
    fn function_references_become_arns() {
        for (reference, arn) in [
            (
                "web-tests",
                "arn:aws:lambda:eu-west-1:123456789012:function:web-tests",
            ),
            (
                "web-tests:live",
                "arn:aws:lambda:eu-west-1:123456789012:function:web-tests:live",
            ),
            (
                "210987654321:function:web-tests",
                "arn:aws:lambda:eu-west-1:210987654321:function:web-tests",
            ),
            (
                "210987654321:function:web-tests:3",
                "arn:aws:lambda:eu-west-1:210987654321:function:web-tests:3",
            ),
            (FUNCTION, FUNCTION),
        ] {
            assert_eq!(function_arn(reference, &service()), arn, "{reference}");
        }
    }

    #[test]
    fn answers_are_judged_strictly_on_result() {
        let long_reason = "x".repeat(800);
        // (payload, status, code, message fragment)
        let cases: Vec<(String, Status, &ReasonCode, String)> = vec![
            (
                r#"{"result":"pass","reason":"40 cases ok","extra":1}"#.into(),
                Status::Pass,
                &LAMBDA_PASSED,
                format!("function {FUNCTION} passed green: 40 cases ok"),
            ),
            (
                r#"{"result":"fail","reason":"POST /orders answered 500"}"#.into(),
                Status::Fail,
                &LAMBDA_FAILED,
                "failed green: POST /orders answered 500".into(),
            ),
            (
                r#"{"result":"inconclusive"}"#.into(),
                Status::Inconclusive,
                &LAMBDA_INCONCLUSIVE,
                "could not decide yet: (no reason given)".into(),
            ),
            (
                format!(r#"{{"result":"fail","reason":"{long_reason}"}}"#),
                Status::Fail,
                &LAMBDA_FAILED,
                format!("{}…", "x".repeat(MAX_REASON_CHARS)),
            ),
            (
                r#"{"result":"PASS"}"#.into(),
                Status::Error,
                &LAMBDA_BAD_OUTPUT,
                "`result` is \"PASS\", not".into(),
            ),
            (
                r#"{"result":true}"#.into(),
                Status::Error,
                &LAMBDA_BAD_OUTPUT,
                "`result` is true".into(),
            ),
            (
                r#"{"status":"pass"}"#.into(),
                Status::Error,
                &LAMBDA_BAD_OUTPUT,
                "it has no `result`".into(),
            ),
            (
                r#""pass""#.into(),
                Status::Error,
                &LAMBDA_BAD_OUTPUT,
                "not a JSON object".into(),
            ),
            (
                "null".into(),
                Status::Error,
                &LAMBDA_BAD_OUTPUT,
                "not a JSON object".into(),
            ),
            (
                "ok!".into(),
                Status::Error,
                &LAMBDA_BAD_OUTPUT,
                "answered ok!, which is not a greenlight answer: it is not JSON".into(),
            ),
            (
                String::new(),
                Status::Error,
                &LAMBDA_BAD_OUTPUT,
                "answered nothing".into(),
            ),
        ];
        for (payload, status, code, says) in cases {
            let outcome = judge(
                FUNCTION,
                &FunctionReply::Returned(payload.clone().into_bytes()),
            );
            assert_eq!((outcome.status, outcome.code), (status, code), "{payload}");
            assert!(
                outcome.message.contains(&says),
                "{payload}: {}",
                outcome.message
            );
            assert_eq!(
                outcome.evidence[0].resource.as_deref(),
                Some(FUNCTION),
                "{payload}"
            );
            if status == Status::Error {
                assert!(outcome.is_permanent_error(), "{payload}");
            }
        }
    }

    #[test]
    fn the_functions_evidence_is_kept_bounded() {
        let mut entries = vec![
            json!({"measured": "failed cases", "value": 3, "threshold": 0, "samples": 40, "window": "last 5m"}),
            json!({"value": "no measured, dropped"}),
            json!({"measured": "big", "value": "y".repeat(5000), "resource": "https://x"}),
        ];
        entries.extend((0..20).map(|i| json!({"measured": format!("m{i}"), "value": i})));
        let payload = json!({"result": "fail", "reason": 7, "evidence": entries}).to_string();
        let outcome = judge(FUNCTION, &FunctionReply::Returned(payload.into_bytes()));
        assert!(outcome.message.ends_with(": 7"));
        assert_eq!(outcome.evidence.len(), 1 + MAX_FUNCTION_EVIDENCE);
        let first = &outcome.evidence[1];
        assert_eq!(
            (
                first.measured.as_str(),
                first.value.clone(),
                first.threshold.as_deref(),
                first.samples,
                first.window.as_deref(),
                first.resource.as_deref()
            ),
            (
                "failed cases",
                json!(3),
                Some("0"),
                Some(40),
                Some("last 5m"),
                Some(FUNCTION)
            )
        );
        let big = &outcome.evidence[2];
        assert_eq!(big.resource.as_deref(), Some("https://x"));
        assert!(
            big.value
                .as_str()
                .is_some_and(|v| v.chars().count() == MAX_VALUE_CHARS + 1)
        );
    }

    #[test]
    fn errors_raised_by_the_function_are_transient_and_named() {
        let cases = [
            (
                "Unhandled",
                r#"{"errorType":"KeyError","errorMessage":"'orders'","stackTrace":[]}"#,
                &LAMBDA_FUNCTION_ERROR,
                "raised an error (Unhandled) instead of answering: KeyError: 'orders'",
            ),
            (
                "Handled",
                r#"{"errorMessage":"suite setup failed"}"#,
                &LAMBDA_FUNCTION_ERROR,
                "raised an error (Handled) instead of answering: suite setup failed",
            ),
            (
                "Unhandled",
                r#"{"errorType":"Sandbox.Timedout","errorMessage":"RequestId: 1 Error: Task timed out after 3.00 seconds"}"#,
                &LAMBDA_TIMEOUT,
                "ran out of time before answering: Sandbox.Timedout",
            ),
            (
                "Unhandled",
                "2026-11-22T10:00:00Z 1 Task timed out after 3.00 seconds",
                &LAMBDA_TIMEOUT,
                "Task timed out after 3.00 seconds",
            ),
            (
                "Unhandled",
                "",
                &LAMBDA_FUNCTION_ERROR,
                "instead of answering: nothing",
            ),
        ];
        for (function_error, payload, code, says) in cases {
            let outcome = judge(
                FUNCTION,
                &FunctionReply::Raised {
                    function_error: function_error.into(),
                    payload: payload.as_bytes().to_vec(),
                },
            );
            assert_eq!(outcome.code, code, "{payload}");
            assert_eq!(outcome.status, Status::Error);
            assert_eq!(outcome.error_class, Some(ErrorClass::Transient));
            assert!(
                outcome.message.contains(says),
                "{payload}: {}",
                outcome.message
            );
            assert_eq!(outcome.evidence[0].resource.as_deref(), Some(FUNCTION));
            assert_eq!(
                outcome.evidence[0].value["function_error"],
                json!(function_error)
            );
        }
    }

    #[test]
    fn doc_lists_every_code_and_a_valid_example() {
        assert_eq!(DOC.kind, "lambda");
        assert!(DOC.codes.iter().all(|code| code.family() == "LAMBDA"));
        assert!(DOC.iam_actions().contains("lambda:InvokeFunction"));
        let example = check_at(DOC.example, &LifecycleStage::PostProductionTrafficShift)
            .expect("the documented example is a valid check");
        assert!(matches!(example.kind, crate::checks::CheckKind::Lambda(_)));
    }

    mod hostile {
        //! A team function's answer, fuzzed: nothing it returns or raises panics the judge, and
        //! only an object whose `result` is exactly "pass" passes. Budget: 512 cases each.
        use proptest::prelude::*;
        use serde_json::{Value, json};

        use super::super::{FunctionReply, judge};
        use crate::outcome::Status;

        const FUNCTION: &str = "arn:aws:lambda:eu-west-1:123456789012:function:greenlight-check-x";

        fn answer() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::from),
                any::<f64>().prop_map(Value::from),
                prop_oneof![
                    Just("pass"),
                    Just("PASS"),
                    Just("pass "),
                    Just("fail"),
                    Just("inconclusive"),
                    Just(""),
                ]
                .prop_map(Value::from),
                any::<String>().prop_map(Value::from),
            ];
            let value = leaf.prop_recursive(2, 16, 4, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..3).prop_map(Value::from),
                    prop::collection::btree_map("[a-z]{1,8}", inner, 0..3)
                        .prop_map(|map| Value::Object(map.into_iter().collect())),
                ]
            });
            prop_oneof![
                (value.clone(), value.clone(), value.clone()).prop_map(
                    |(result, reason, evidence)| {
                        json!({ "result": result, "reason": reason, "evidence": evidence })
                    }
                ),
                value,
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            #[test]
            fn only_an_exact_pass_passes(document in answer()) {
                let payload = serde_json::to_vec(&document).expect("serializes");
                let outcome = judge(FUNCTION, &FunctionReply::Returned(payload));
                if outcome.status == Status::Pass {
                    prop_assert_eq!(&document["result"], &json!("pass"));
                }
            }

            #[test]
            fn arbitrary_bytes_returned_or_raised_never_pass(
                bytes in prop::collection::vec(any::<u8>(), 0..256),
                function_error in "[A-Za-z]{0,10}",
            ) {
                let returned = judge(FUNCTION, &FunctionReply::Returned(bytes.clone()));
                let is_pass_object = serde_json::from_slice::<Value>(&bytes)
                    .is_ok_and(|value| value["result"] == "pass");
                prop_assert!(returned.status != Status::Pass || is_pass_object);
                let raised = judge(FUNCTION, &FunctionReply::Raised { function_error, payload: bytes });
                prop_assert_ne!(raised.status, Status::Pass);
            }
        }
    }
}
