//! ECS service deployments and revisions, which moto does not implement.
//!
//! A driver writes each record as the wire JSON ECS would return for it (JSON 1.1, timestamps as
//! epoch seconds), and the supplement answers `DescribeServiceRevisions`,
//! `DescribeServiceDeployments` and `ListServiceDeployments` from them as ECS does: unknown ARNs
//! are `failures[]` with reason `MISSING`, at most 20 ARNs per describe, and the list filters by
//! service (name or ARN), cluster (name or ARN, `default` when omitted), status and creation time.
//! `ContinueServiceDeployment` records the decision for a PAUSE hook awaiting action, which the
//! driver of the deployment picks up.

use std::sync::{Mutex, PoisonError};

use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use http::StatusCode;
use serde_json::{Value, json};

use super::query::json_body;
use super::{World, WorldError};
use crate::driver::ecs::PauseAction;
use crate::endpoint::{Call, Protocol, Reply, Supplement, SupplementFuture, Upstream};

/// ECS takes at most this many ARNs per describe call.
const MAX_DESCRIBE_ARNS: usize = 20;

/// `ListServiceDeployments` answers this many briefs per page unless asked otherwise.
const DEFAULT_PAGE_SIZE: usize = 20;

/// Service revisions and deployments, kept as ECS's wire JSON.
#[derive(Debug, Default)]
pub struct EcsRecords {
    state: Mutex<EcsState>,
}

#[derive(Debug, Default)]
struct EcsState {
    /// Revisions by `serviceRevisionArn`, in the order put.
    revisions: Vec<(String, Value)>,
    /// Deployments by `serviceDeploymentArn`, in the order put.
    deployments: Vec<(String, Value)>,
    /// `ContinueServiceDeployment` decisions: (deployment ARN, hook id, action).
    decisions: Vec<(String, String, PauseAction)>,
}

fn arn_of(record: &Value, member: &'static str) -> Result<String, WorldError> {
    record
        .get(member)
        .and_then(Value::as_str)
        .filter(|arn| !arn.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| WorldError::InvalidInput {
            what: "ECS record",
            detail: format!("the record has no string `{member}`: {record}"),
        })
}

fn upsert(records: &mut Vec<(String, Value)>, arn: String, record: Value) {
    match records.iter_mut().find(|(known, _)| *known == arn) {
        Some(slot) => slot.1 = record,
        None => records.push((arn, record)),
    }
}

impl EcsRecords {
    fn lock(&self) -> std::sync::MutexGuard<'_, EcsState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stores (or replaces) a `ServiceRevision`, keyed by its `serviceRevisionArn`.
    pub fn put_revision(&self, revision: Value) -> Result<(), WorldError> {
        let arn = arn_of(&revision, "serviceRevisionArn")?;
        upsert(&mut self.lock().revisions, arn, revision);
        Ok(())
    }

    /// Stores (or replaces) a `ServiceDeployment`, keyed by its `serviceDeploymentArn`.
    pub fn put_deployment(&self, deployment: Value) -> Result<(), WorldError> {
        let arn = arn_of(&deployment, "serviceDeploymentArn")?;
        upsert(&mut self.lock().deployments, arn, deployment);
        Ok(())
    }

    /// Edits a stored deployment in place (status, lifecycle stage, rollback, ...). Returns
    /// whether the deployment exists; the ARN stays the key whatever the edit does.
    pub fn update_deployment(&self, arn: &str, edit: impl FnOnce(&mut Value)) -> bool {
        let mut state = self.lock();
        match state.deployments.iter_mut().find(|(known, _)| known == arn) {
            Some((_, deployment)) => {
                edit(deployment);
                true
            }
            None => false,
        }
    }

    /// A stored deployment.
    pub fn deployment(&self, arn: &str) -> Option<Value> {
        self.lock()
            .deployments
            .iter()
            .find(|(known, _)| known == arn)
            .map(|(_, deployment)| deployment.clone())
    }

    /// A stored revision.
    pub fn revision(&self, arn: &str) -> Option<Value> {
        self.lock()
            .revisions
            .iter()
            .find(|(known, _)| known == arn)
            .map(|(_, revision)| revision.clone())
    }

    /// What `ContinueServiceDeployment` decided for the PAUSE hook `hook_id` of deployment `arn`.
    pub fn pause_decision(&self, arn: &str, hook_id: &str) -> Option<PauseAction> {
        self.lock()
            .decisions
            .iter()
            .find(|(deployment, hook, _)| deployment == arn && hook == hook_id)
            .map(|(_, _, action)| *action)
    }

    /// `ContinueServiceDeployment`, as the ECS API reference and developer guide describe it: the
    /// deployment must exist (`ServiceDeploymentNotFoundException`) and be IN_PROGRESS, and the
    /// hook must be one of its PAUSE hooks AWAITING_ACTION (`InvalidParameterException`
    /// otherwise); `action` is CONTINUE (the default) or ROLLBACK.
    fn continue_deployment(&self, input: &Value) -> Reply {
        let Some(arn) = input["serviceDeploymentArn"].as_str() else {
            return invalid_parameter("serviceDeploymentArn is required");
        };
        let Some(hook_id) = input["hookId"].as_str() else {
            return invalid_parameter("hookId is required");
        };
        let action = match input["action"].as_str() {
            None | Some("CONTINUE") => PauseAction::Continue,
            Some("ROLLBACK") => PauseAction::Rollback,
            Some(other) => {
                return invalid_parameter(&format!(
                    "action {other:?} is not one of CONTINUE, ROLLBACK"
                ));
            }
        };
        let mut state = self.lock();
        let Some((_, deployment)) = state.deployments.iter().find(|(known, _)| known == arn) else {
            return Reply::json_error(
                StatusCode::BAD_REQUEST,
                "ServiceDeploymentNotFoundException",
                &format!("The service deployment {arn} does not exist."),
            );
        };
        if deployment["status"] != "IN_PROGRESS" {
            return invalid_parameter(&format!(
                "The service deployment {arn} is {}, not IN_PROGRESS.",
                deployment["status"]
                    .as_str()
                    .unwrap_or("in an unknown status")
            ));
        }
        let awaiting = deployment["lifecycleHookDetails"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|hook| {
                hook["hookId"] == hook_id
                    && hook["targetType"] == "PAUSE"
                    && hook["status"] == "AWAITING_ACTION"
            });
        if !awaiting
            || state
                .decisions
                .iter()
                .any(|(known, hook, _)| known == arn && hook == hook_id)
        {
            return invalid_parameter(&format!(
                "The lifecycle hook {hook_id} of service deployment {arn} is not a PAUSE hook awaiting action."
            ));
        }
        state
            .decisions
            .push((arn.to_owned(), hook_id.to_owned(), action));
        Reply::json(StatusCode::OK, &json!({ "serviceDeploymentArn": arn }))
    }

    /// Every stored deployment, in the order first put.
    pub fn deployments(&self) -> Vec<Value> {
        self.lock()
            .deployments
            .iter()
            .map(|(_, deployment)| deployment.clone())
            .collect()
    }

    fn describe(
        &self,
        input: &Value,
        arns_member: &str,
        output_member: &str,
        deployments: bool,
    ) -> Reply {
        let arns = match string_list(input, arns_member) {
            Ok(arns) => arns,
            Err(message) => return invalid_parameter(&message),
        };
        if arns.is_empty() {
            return invalid_parameter(&format!("{arns_member} must not be empty."));
        }
        if arns.len() > MAX_DESCRIBE_ARNS {
            return invalid_parameter(&format!(
                "{arns_member} can have at most {MAX_DESCRIBE_ARNS} ARNs; {} were given.",
                arns.len()
            ));
        }
        let state = self.lock();
        let records = if deployments {
            &state.deployments
        } else {
            &state.revisions
        };
        let mut found = Vec::new();
        let mut failures = Vec::new();
        for arn in arns {
            match records.iter().find(|(known, _)| *known == arn) {
                Some((_, record)) => found.push(record.clone()),
                None => failures.push(json!({ "arn": arn, "reason": "MISSING" })),
            }
        }
        Reply::json(
            StatusCode::OK,
            &json!({ output_member: found, "failures": failures }),
        )
    }

    fn list(&self, input: &Value) -> Reply {
        let Some(service) = input.get("service").and_then(Value::as_str) else {
            return invalid_parameter("service is required: give the service's name or ARN.");
        };
        let cluster = input
            .get("cluster")
            .and_then(Value::as_str)
            .unwrap_or("default");
        let statuses = match string_list(input, "status") {
            Ok(statuses) => statuses,
            Err(message) => return invalid_parameter(&message),
        };
        let created = input.get("createdAt");
        let after = created.and_then(|range| range.get("after")).and_then(epoch);
        let before = created
            .and_then(|range| range.get("before"))
            .and_then(epoch);
        let page_size = match input.get("maxResults") {
            None | Some(Value::Null) => DEFAULT_PAGE_SIZE,
            Some(value) => match value.as_u64() {
                Some(size @ 1..=100) => usize::try_from(size).unwrap_or(DEFAULT_PAGE_SIZE),
                _ => {
                    return invalid_parameter(&format!(
                        "maxResults must be between 1 and 100; {value} was given."
                    ));
                }
            },
        };
        let start = match input.get("nextToken").and_then(Value::as_str) {
            None => 0,
            Some(token) => match token.parse::<usize>() {
                Ok(start) => start,
                Err(_) => return invalid_parameter(&format!("nextToken {token:?} is not valid.")),
            },
        };
        let state = self.lock();
        let mut matching: Vec<(usize, &Value)> = state
            .deployments
            .iter()
            .map(|(_, deployment)| deployment)
            .enumerate()
            .filter(|(_, deployment)| {
                names_match(deployment.get("serviceArn"), service)
                    && names_match(deployment.get("clusterArn"), cluster)
                    && (statuses.is_empty()
                        || deployment
                            .get("status")
                            .and_then(Value::as_str)
                            .is_some_and(|status| statuses.iter().any(|s| s == status)))
                    && within(deployment.get("createdAt").and_then(epoch), after, before)
            })
            .collect();
        // Newest first, as ECS lists them; ties keep the later-put first.
        matching.sort_by(|(a_index, a), (b_index, b)| {
            let a_at = a.get("createdAt").and_then(epoch).unwrap_or(f64::MIN);
            let b_at = b.get("createdAt").and_then(epoch).unwrap_or(f64::MIN);
            b_at.total_cmp(&a_at).then(b_index.cmp(a_index))
        });
        let page: Vec<Value> = matching
            .iter()
            .skip(start)
            .take(page_size)
            .map(|(_, deployment)| brief(deployment))
            .collect();
        let mut output = json!({ "serviceDeployments": page });
        if start + page_size < matching.len() {
            output["nextToken"] = json!((start + page_size).to_string());
        }
        Reply::json(StatusCode::OK, &output)
    }
}

/// The `ServiceDeploymentBrief` of a deployment.
fn brief(deployment: &Value) -> Value {
    let mut brief = serde_json::Map::new();
    for member in [
        "serviceDeploymentArn",
        "serviceArn",
        "clusterArn",
        "startedAt",
        "createdAt",
        "finishedAt",
        "status",
        "statusReason",
    ] {
        if let Some(value) = deployment.get(member) {
            brief.insert(member.to_owned(), value.clone());
        }
    }
    if let Some(target) = deployment
        .get("targetServiceRevision")
        .and_then(|target| target.get("arn"))
    {
        brief.insert("targetServiceRevisionArn".to_owned(), target.clone());
    }
    Value::Object(brief)
}

/// Whether an ARN field names `wanted`, given as the same ARN or as the resource's name (the last
/// path segment: `…:service/<cluster>/<name>`, `…:cluster/<name>`).
fn names_match(arn: Option<&Value>, wanted: &str) -> bool {
    let Some(arn) = arn.and_then(Value::as_str) else {
        return false;
    };
    arn == wanted || (!wanted.contains(':') && arn.rsplit('/').next() == Some(wanted))
}

/// A JSON 1.1 timestamp (epoch seconds), or an ISO 8601 string a driver may have written.
fn epoch(value: &Value) -> Option<f64> {
    match value {
        Value::Number(number) => number.as_f64(),
        Value::String(text) => DateTime::from_str(text, Format::DateTime)
            .ok()
            .map(|at| at.as_secs_f64()),
        _ => None,
    }
}

fn within(at: Option<f64>, after: Option<f64>, before: Option<f64>) -> bool {
    if after.is_none() && before.is_none() {
        return true;
    }
    at.is_some_and(|at| after.is_none_or(|after| at >= after) && before.is_none_or(|b| at <= b))
}

fn string_list(input: &Value, member: &str) -> Result<Vec<String>, String> {
    match input.get(member) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("{member} must be a list of strings; found {item}."))
            })
            .collect(),
        Some(other) => Err(format!(
            "{member} must be a list of strings; found {other}."
        )),
    }
}

fn invalid_parameter(message: &str) -> Reply {
    Reply::json_error(
        StatusCode::BAD_REQUEST,
        "InvalidParameterException",
        message,
    )
}

/// Answers the three ECS operations from [`EcsRecords`].
pub(crate) struct EcsSupplement {
    world: World,
}

impl EcsSupplement {
    pub(crate) fn new(world: World) -> Self {
        Self { world }
    }
}

impl Supplement for EcsSupplement {
    fn answer<'a>(&'a self, call: &'a Call, _upstream: &'a Upstream) -> SupplementFuture<'a> {
        Box::pin(async move {
            if call.service != "ecs" || call.protocol != Protocol::AwsJson {
                return None;
            }
            let operation = call.operation.as_str();
            if !matches!(
                operation,
                "DescribeServiceRevisions"
                    | "DescribeServiceDeployments"
                    | "ListServiceDeployments"
                    | "ContinueServiceDeployment"
            ) {
                return None;
            }
            let input = match json_body(call) {
                Ok(input) => input,
                Err(message) => {
                    return Some(Reply::json_error(
                        StatusCode::BAD_REQUEST,
                        "SerializationException",
                        &message,
                    ));
                }
            };
            let records = self.world.ecs();
            Some(match operation {
                "DescribeServiceRevisions" => {
                    records.describe(&input, "serviceRevisionArns", "serviceRevisions", false)
                }
                "DescribeServiceDeployments" => {
                    records.describe(&input, "serviceDeploymentArns", "serviceDeployments", true)
                }
                "ContinueServiceDeployment" => records.continue_deployment(&input),
                _ => records.list(&input),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVICE: &str = "arn:aws:ecs:us-east-1:123456789012:service/prod/web";
    const CLUSTER: &str = "arn:aws:ecs:us-east-1:123456789012:cluster/prod";

    fn deployment(id: &str, status: &str, created: f64) -> Value {
        json!({
            "serviceDeploymentArn": format!("arn:aws:ecs:us-east-1:123456789012:service-deployment/prod/web/{id}"),
            "serviceArn": SERVICE,
            "clusterArn": CLUSTER,
            "createdAt": created,
            "status": status,
            "targetServiceRevision": { "arn": format!("rev-{id}"), "runningTaskCount": 0 },
        })
    }

    fn body(reply: &Reply) -> Value {
        serde_json::from_slice(&reply.body).expect("json")
    }

    #[test]
    fn records_need_their_arn() {
        let records = EcsRecords::default();
        let error = records
            .put_revision(json!({ "taskDefinition": "x" }))
            .expect_err("no arn");
        assert!(
            error.to_string().contains("`serviceRevisionArn`"),
            "{error}"
        );
        assert!(!records.update_deployment("nope", |_| {}));
    }

    #[test]
    fn describe_answers_found_records_and_missing_failures() {
        let records = EcsRecords::default();
        records
            .put_revision(json!({ "serviceRevisionArn": "rev-1", "taskDefinition": "td:1" }))
            .expect("valid");
        let reply = records.describe(
            &json!({ "serviceRevisionArns": ["rev-1", "rev-2"] }),
            "serviceRevisionArns",
            "serviceRevisions",
            false,
        );
        assert_eq!(
            body(&reply),
            json!({
                "serviceRevisions": [{ "serviceRevisionArn": "rev-1", "taskDefinition": "td:1" }],
                "failures": [{ "arn": "rev-2", "reason": "MISSING" }],
            })
        );
        let too_many: Vec<String> = (0..21).map(|i| format!("rev-{i}")).collect();
        let reply = records.describe(
            &json!({ "serviceRevisionArns": too_many }),
            "serviceRevisionArns",
            "serviceRevisions",
            false,
        );
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(body(&reply)["__type"], "InvalidParameterException");
    }

    #[test]
    fn list_filters_by_service_cluster_status_and_time_newest_first() {
        let records = EcsRecords::default();
        records
            .put_deployment(deployment("a", "SUCCESSFUL", 100.0))
            .expect("valid");
        records
            .put_deployment(deployment("b", "IN_PROGRESS", 200.0))
            .expect("valid");
        assert!(records.update_deployment(
            "arn:aws:ecs:us-east-1:123456789012:service-deployment/prod/web/b",
            |d| d["status"] = json!("ROLLBACK_IN_PROGRESS"),
        ));
        let arns = |input: Value| -> Vec<String> {
            body(&records.list(&input))["serviceDeployments"]
                .as_array()
                .expect("list")
                .iter()
                .map(|brief| {
                    brief["targetServiceRevisionArn"]
                        .as_str()
                        .expect("arn")
                        .to_owned()
                })
                .collect()
        };
        assert_eq!(
            arns(json!({ "service": "web", "cluster": "prod" })),
            ["rev-b", "rev-a"]
        );
        assert_eq!(
            arns(json!({ "service": SERVICE, "cluster": CLUSTER })),
            ["rev-b", "rev-a"]
        );
        assert!(
            arns(json!({ "service": "web" })).is_empty(),
            "default cluster"
        );
        assert_eq!(
            arns(
                json!({ "service": "web", "cluster": "prod", "status": ["ROLLBACK_IN_PROGRESS"] })
            ),
            ["rev-b"]
        );
        assert_eq!(
            arns(json!({ "service": "web", "cluster": "prod", "createdAt": { "before": 150 } })),
            ["rev-a"]
        );
        let page =
            body(&records.list(&json!({ "service": "web", "cluster": "prod", "maxResults": 1 })));
        assert_eq!(page["nextToken"], "1");
        assert_eq!(
            arns(json!({ "service": "web", "cluster": "prod", "nextToken": "1" })),
            ["rev-a"]
        );
        assert_eq!(
            records.list(&json!({ "cluster": "prod" })).status,
            StatusCode::BAD_REQUEST
        );
    }

    #[test]
    fn continue_decides_only_a_pause_hook_awaiting_action_of_a_deployment_in_progress() {
        let records = EcsRecords::default();
        let mut paused = deployment("d1", "IN_PROGRESS", 1.0);
        paused["lifecycleHookDetails"] = json!([
            { "hookId": "ecs-pause-1", "targetType": "PAUSE", "status": "AWAITING_ACTION" },
            { "hookId": "hook-1", "targetType": "AWS_LAMBDA", "status": "IN_PROGRESS" },
        ]);
        let arn = paused["serviceDeploymentArn"]
            .as_str()
            .expect("arn")
            .to_owned();
        records.put_deployment(paused).expect("valid");
        let ask = |hook: &str, action: Option<&str>| {
            let mut input = json!({ "serviceDeploymentArn": arn, "hookId": hook });
            if let Some(action) = action {
                input["action"] = json!(action);
            }
            records.continue_deployment(&input)
        };
        // Not a PAUSE hook, an unknown action, an unknown deployment: refused, nothing decided.
        assert_eq!(
            body(&ask("hook-1", None))["__type"],
            "InvalidParameterException"
        );
        assert_eq!(
            body(&ask("ecs-pause-1", Some("ABORT")))["__type"],
            "InvalidParameterException"
        );
        let unknown = records.continue_deployment(
            &json!({ "serviceDeploymentArn": "nope", "hookId": "ecs-pause-1" }),
        );
        assert_eq!(
            body(&unknown)["__type"],
            "ServiceDeploymentNotFoundException"
        );
        assert_eq!(records.pause_decision(&arn, "ecs-pause-1"), None);
        // No action is CONTINUE; the answer names the deployment; a second decision is refused.
        let reply = ask("ecs-pause-1", None);
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(body(&reply), json!({ "serviceDeploymentArn": arn }));
        assert_eq!(
            records.pause_decision(&arn, "ecs-pause-1"),
            Some(PauseAction::Continue)
        );
        assert_eq!(
            body(&ask("ecs-pause-1", Some("ROLLBACK")))["__type"],
            "InvalidParameterException"
        );
        // A deployment no longer in progress takes no decision.
        records.update_deployment(&arn, |record| record["status"] = json!("SUCCESSFUL"));
        assert_eq!(
            body(&ask("ecs-pause-2", None))["__type"],
            "InvalidParameterException"
        );
    }
}
