//! CodeDeploy as a CodeDeploy hook sees it, answered locally: what moto lacks for ECS hooks.
//!
//! [`CodeDeploySim`] is a [`Supplement`] holding the deployments a test sets up
//! ([`CodeDeploySim::add_deployment`]) and answering, in the AWS JSON dialect:
//! - `ListApplications` and `ListDeploymentGroups` (one page);
//! - `GetDeployment`, `GetDeploymentGroup`, `ListDeploymentTargets` and `GetDeploymentTarget` (an
//!   `ecsTarget` with the lifecycle events and task sets the test set);
//! - `PutLifecycleEventHookExecutionStatus`, recording every report and answering
//!   `LifecycleEventAlreadyCompletedException` to a second report for the same execution id, which
//!   is how tests prove there was exactly one; or `AccessDeniedException` when the test denies it;
//! - `ThrottlingException` for every CodeDeploy read, when the test throttles them;
//! - ECS `DescribeServices`: moto's answer with each task set's `computedDesiredCount` filled in
//!   (moto leaves it 0; ECS computes it from the service's desired count and the task set's scale);
//!
//! Everything else passes on (to moto).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use http::StatusCode;
use serde_json::{Value, json};

use crate::endpoint::{Call, Reply, Supplement, SupplementFuture, Upstream};

/// What a test knows about one deployment: the JSON objects CodeDeploy would answer with.
#[derive(Debug, Clone)]
pub struct SimDeployment {
    /// `deploymentInfo` of `GetDeployment` (must hold `deploymentId`, `applicationName`,
    /// `deploymentGroupName`).
    pub info: Value,
    /// `deploymentGroupInfo` of `GetDeploymentGroup`.
    pub group: Value,
    /// The deployment's targets: `ecsTarget` objects (each with its `targetId`).
    pub targets: Vec<Value>,
}

/// One recorded `PutLifecycleEventHookExecutionStatus` call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimReport {
    /// The deployment id.
    pub deployment_id: String,
    /// The execution id.
    pub execution_id: String,
    /// `Succeeded` or `Failed`.
    pub status: String,
    /// Whether CodeDeploy took it (false: denied, or already completed).
    pub accepted: bool,
}

#[derive(Default)]
struct State {
    deployments: BTreeMap<String, SimDeployment>,
    reports: Vec<SimReport>,
    deny_reports: bool,
    throttle_reads: bool,
}

/// The CodeDeploy supplement. Cheap to clone: clones share state, so a test keeps one and gives
/// another to the endpoint.
#[derive(Clone, Default)]
pub struct CodeDeploySim {
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for CodeDeploySim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeDeploySim").finish_non_exhaustive()
    }
}

impl CodeDeploySim {
    /// A CodeDeploy with no deployments.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds (or replaces) a deployment, keyed by its `info.deploymentId`.
    pub fn add_deployment(&self, deployment: SimDeployment) {
        let id = deployment.info["deploymentId"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        self.state().deployments.insert(id, deployment);
    }

    /// Edits a deployment in place (a driver moving lifecycle events and weights); false when there
    /// is no deployment `deployment_id`.
    pub fn update_deployment(
        &self,
        deployment_id: &str,
        edit: impl FnOnce(&mut SimDeployment),
    ) -> bool {
        match self.state().deployments.get_mut(deployment_id) {
            Some(deployment) => {
                edit(deployment);
                true
            }
            None => false,
        }
    }

    /// The deployment `deployment_id` as it stands.
    pub fn deployment(&self, deployment_id: &str) -> Option<SimDeployment> {
        self.state().deployments.get(deployment_id).cloned()
    }

    /// The first accepted report for one hook execution, if there is one yet.
    pub fn accepted_report(&self, deployment_id: &str, execution_id: &str) -> Option<SimReport> {
        self.state()
            .reports
            .iter()
            .find(|report| {
                report.accepted
                    && report.deployment_id == deployment_id
                    && report.execution_id == execution_id
            })
            .cloned()
    }

    /// Makes `PutLifecycleEventHookExecutionStatus` answer access denied.
    pub fn deny_reports(&self, deny: bool) {
        self.state().deny_reports = deny;
    }

    /// Makes every CodeDeploy read answer `ThrottlingException`.
    pub fn throttle_reads(&self, throttle: bool) {
        self.state().throttle_reads = throttle;
    }

    /// Every report received, in order.
    pub fn reports(&self) -> Vec<SimReport> {
        self.state().reports.clone()
    }

    fn answer_codedeploy(&self, operation: &str, body: &Value) -> Option<Reply> {
        let mut state = self.state();
        let not_found = |code: &str, what: &str| {
            Reply::json_error(
                StatusCode::BAD_REQUEST,
                code,
                &format!("{what} does not exist"),
            )
        };
        let deployment_id = body["deploymentId"].as_str().unwrap_or_default().to_owned();
        let is_read = matches!(
            operation,
            "GetDeployment"
                | "GetApplicationRevision"
                | "GetDeploymentGroup"
                | "ListDeploymentTargets"
                | "GetDeploymentTarget"
        );
        if is_read && state.throttle_reads {
            return Some(Reply::json_error(
                StatusCode::BAD_REQUEST,
                "ThrottlingException",
                "Rate exceeded",
            ));
        }
        let reply = match operation {
            // The API reference: `appSpecContent.content` "is always null. Use
            // GetApplicationRevision", which the answer below follows (the sha256 stays).
            "GetDeployment" => match state.deployments.get(&deployment_id) {
                Some(deployment) => {
                    let mut info = deployment.info.clone();
                    if let Some(content) = info
                        .pointer_mut("/revision/appSpecContent")
                        .and_then(Value::as_object_mut)
                    {
                        content.remove("content");
                    }
                    Reply::json(StatusCode::OK, &json!({ "deploymentInfo": info }))
                }
                None => not_found("DeploymentDoesNotExistException", &deployment_id),
            },
            "GetApplicationRevision" => {
                let application = body["applicationName"].as_str().unwrap_or_default();
                let sha256 = &body["revision"]["appSpecContent"]["sha256"];
                match state.deployments.values().find(|deployment| {
                    deployment.info["applicationName"] == application
                        && deployment.info["revision"]["appSpecContent"]["sha256"] == *sha256
                }) {
                    Some(deployment) => Reply::json(
                        StatusCode::OK,
                        &json!({
                            "applicationName": application,
                            "revision": deployment.info["revision"],
                            "revisionInfo": { "registerTime": deployment.info["createTime"] },
                        }),
                    ),
                    None => not_found("RevisionDoesNotExistException", application),
                }
            }
            // Both lists answer in one page here (`nextToken` never set): a rehearsal has one
            // application with one deployment group.
            "ListApplications" => {
                let mut names: Vec<&Value> = state
                    .deployments
                    .values()
                    .map(|d| &d.info["applicationName"])
                    .collect();
                names.sort_by_key(|name| name.as_str().unwrap_or_default().to_owned());
                names.dedup();
                Reply::json(StatusCode::OK, &json!({ "applications": names }))
            }
            "ListDeploymentGroups" => {
                let application = &body["applicationName"];
                let mut names: Vec<&Value> = state
                    .deployments
                    .values()
                    .filter(|d| d.info["applicationName"] == *application)
                    .map(|d| &d.info["deploymentGroupName"])
                    .collect();
                if names.is_empty() {
                    return Some(not_found(
                        "ApplicationDoesNotExistException",
                        application.as_str().unwrap_or_default(),
                    ));
                }
                names.dedup();
                Reply::json(
                    StatusCode::OK,
                    &json!({ "applicationName": application, "deploymentGroups": names }),
                )
            }
            "GetDeploymentGroup" => {
                let group = body["deploymentGroupName"].as_str().unwrap_or_default();
                match state
                    .deployments
                    .values()
                    .find(|d| d.info["deploymentGroupName"] == group)
                {
                    Some(deployment) => Reply::json(
                        StatusCode::OK,
                        &json!({ "deploymentGroupInfo": deployment.group }),
                    ),
                    None => not_found("DeploymentGroupDoesNotExistException", group),
                }
            }
            "ListDeploymentTargets" => match state.deployments.get(&deployment_id) {
                Some(deployment) => {
                    let ids: Vec<Value> = deployment
                        .targets
                        .iter()
                        .map(|t| t["targetId"].clone())
                        .collect();
                    Reply::json(StatusCode::OK, &json!({ "targetIds": ids }))
                }
                None => not_found("DeploymentDoesNotExistException", &deployment_id),
            },
            "GetDeploymentTarget" => {
                let target_id = body["targetId"].as_str().unwrap_or_default();
                let target = state
                    .deployments
                    .get(&deployment_id)
                    .and_then(|d| d.targets.iter().find(|t| t["targetId"] == target_id));
                match target {
                    Some(target) => Reply::json(
                        StatusCode::OK,
                        &json!({ "deploymentTarget": { "deploymentTargetType": "ECSTarget", "ecsTarget": target } }),
                    ),
                    None => not_found("DeploymentTargetDoesNotExistException", target_id),
                }
            }
            "PutLifecycleEventHookExecutionStatus" => {
                let execution_id = body["lifecycleEventHookExecutionId"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                let status = body["status"].as_str().unwrap_or_default().to_owned();
                let done = state.reports.iter().any(|r| {
                    r.accepted && r.deployment_id == deployment_id && r.execution_id == execution_id
                });
                let (reply, accepted) = if state.deny_reports {
                    (
                        Reply::json_error(
                            StatusCode::BAD_REQUEST,
                            "AccessDeniedException",
                            "User is not authorized to perform: codedeploy:PutLifecycleEventHookExecutionStatus",
                        ),
                        false,
                    )
                } else if done {
                    (
                        Reply::json_error(
                            StatusCode::BAD_REQUEST,
                            "LifecycleEventAlreadyCompletedException",
                            "The lifecycle event is already completed",
                        ),
                        false,
                    )
                } else {
                    (
                        Reply::json(
                            StatusCode::OK,
                            &json!({ "lifecycleEventHookExecutionId": execution_id }),
                        ),
                        true,
                    )
                };
                state.reports.push(SimReport {
                    deployment_id,
                    execution_id,
                    status,
                    accepted,
                });
                reply
            }
            _ => return None,
        };
        Some(reply)
    }
}

/// moto leaves a task set's `computedDesiredCount` at 0; ECS computes it from the service's desired
/// count and the task set's scale. Fills it in an ECS `DescribeServices` answer (JSON), if missing.
fn fill_computed_desired_counts(answer: &mut Value) {
    let Some(services) = answer["services"].as_array_mut() else {
        return;
    };
    for service in services {
        let desired = service["desiredCount"].as_f64().unwrap_or_default();
        let Some(sets) = service["taskSets"].as_array_mut() else {
            continue;
        };
        for set in sets {
            if set["computedDesiredCount"].as_u64().unwrap_or_default() > 0 {
                continue;
            }
            let percent = match set["scale"]["unit"].as_str() {
                Some("PERCENT") => set["scale"]["value"].as_f64().unwrap_or(100.0),
                _ => 100.0,
            };
            // An integer on the wire: the SDK refuses `2.0`.
            let computed = (desired * percent / 100.0).ceil().max(0.0) as u64;
            set["computedDesiredCount"] = json!(computed);
        }
    }
}

impl Supplement for CodeDeploySim {
    fn answer<'a>(&'a self, call: &'a Call, upstream: &'a Upstream) -> SupplementFuture<'a> {
        if call.service == "ecs" && call.operation == "DescribeServices" {
            return Box::pin(async move {
                let mut reply = upstream.forward(call).await.ok()?;
                if !reply.status.is_success() {
                    return Some(reply);
                }
                let mut answer: Value = serde_json::from_slice(&reply.body).ok()?;
                fill_computed_desired_counts(&mut answer);
                reply.body = Bytes::from(answer.to_string());
                reply.headers.remove(http::header::CONTENT_LENGTH);
                Some(reply)
            });
        }
        let reply = match (call.service.as_str(), call.operation.as_str()) {
            ("codedeploy", operation) => {
                let body: Value = serde_json::from_slice(&call.body).unwrap_or(Value::Null);
                self.answer_codedeploy(operation, &body)
            }
            _ => None,
        };
        Box::pin(async move { reply })
    }
}
