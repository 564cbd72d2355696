//! Lambda `Invoke` for functions the rehearsal runs itself.
//!
//! moto can only run a function inside Docker, which these machines do not have. A team's own
//! check (the `lambda` check) must still really run: the rehearsal starts the function's code behind
//! a [`LambdaHost`] (its Runtime API, deadline and environment, as Lambda runs it) and registers it
//! here by name. This supplement answers `Invoke` for those names the way the Lambda API does:
//! - `RequestResponse` (the default): `200` with the function's answer; a function that raised, ran
//!   out of time or died answers `200` with `X-Amz-Function-Error: Unhandled` and Lambda's error
//!   payload (`Sandbox.Timedout`: "Task timed out after N seconds"; `Runtime.ExitError`);
//! - `Event`: `202` at once, the invocation runs in the background;
//! - `DryRun`: `204`;
//! - a body that is not JSON: `400 InvalidRequestContentException`.
//!
//! The function is named as the API allows: name, `name:qualifier`, partial ARN or full ARN (the
//! qualifier is ignored: a rehearsal runs one version). Calls for other names pass on to moto,
//! which answers an unknown function with `ResourceNotFoundException`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::{Value, json};

use crate::endpoint::{Call, Reply, Supplement, SupplementFuture, Upstream};
use crate::lambda_host::{InvocationResult, LambdaHost};

/// The functions the rehearsal runs, by name.
#[derive(Clone, Default)]
pub struct LambdaFunctions {
    hosts: Arc<Mutex<BTreeMap<String, Arc<LambdaHost>>>>,
}

impl std::fmt::Debug for LambdaFunctions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LambdaFunctions")
            .field("names", &self.names())
            .finish()
    }
}

impl LambdaFunctions {
    /// Answers `Invoke` for the function `name` by running it in `host`.
    pub fn add(&self, name: &str, host: Arc<LambdaHost>) {
        self.lock().insert(name.to_owned(), host);
    }

    /// The names registered.
    pub fn names(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    fn host(&self, name: &str) -> Option<Arc<LambdaHost>> {
        self.lock().get(name).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Arc<LambdaHost>>> {
        self.hosts.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The function name in any of the forms `Invoke` accepts: `my-fn`, `my-fn:live`,
/// `123456789012:function:my-fn`, `arn:aws:lambda:eu-west-1:123456789012:function:my-fn:live`.
pub fn function_name(identifier: &str) -> &str {
    let parts: Vec<&str> = identifier.split(':').collect();
    match parts.iter().position(|part| *part == "function") {
        Some(at) => parts.get(at + 1).copied().unwrap_or(identifier),
        None => parts.first().copied().unwrap_or(identifier),
    }
}

/// The supplement answering `Invoke` for the registered functions.
pub(crate) struct LambdaInvokeSupplement {
    functions: LambdaFunctions,
}

impl LambdaInvokeSupplement {
    pub(crate) fn new(functions: LambdaFunctions) -> Self {
        LambdaInvokeSupplement { functions }
    }

    async fn answer_invoke(&self, call: &Call) -> Option<Reply> {
        let segment = call.uri.path().split('/').nth(3)?;
        let identifier = percent_encoding::percent_decode_str(segment).decode_utf8_lossy();
        let host = self.functions.host(function_name(&identifier))?;
        let payload: Value = if call.body.is_empty() {
            json!({})
        } else {
            match serde_json::from_slice(&call.body) {
                Ok(payload) => payload,
                Err(error) => {
                    return Some(Reply::json_error(
                        StatusCode::BAD_REQUEST,
                        "InvalidRequestContentException",
                        &format!("Could not parse request body into json: {error}"),
                    ));
                }
            }
        };
        let invocation_type = call
            .headers
            .get("x-amz-invocation-type")
            .and_then(|value| value.to_str().ok())
            .unwrap_or("RequestResponse");
        match invocation_type {
            "Event" => {
                tokio::spawn(async move {
                    if let Err(error) = host.invoke(&payload).await {
                        tracing::warn!(%error, "asynchronous invocation failed");
                    }
                });
                Some(empty(StatusCode::ACCEPTED))
            }
            "DryRun" => Some(empty(StatusCode::NO_CONTENT)),
            _ => Some(synchronous_reply(&host, &payload).await),
        }
    }
}

impl Supplement for LambdaInvokeSupplement {
    fn answer<'a>(&'a self, call: &'a Call, _upstream: &'a Upstream) -> SupplementFuture<'a> {
        Box::pin(async move {
            if call.service != "lambda" || call.operation != "Invoke" {
                return None;
            }
            self.answer_invoke(call).await
        })
    }
}

/// Runs one `RequestResponse` invocation and answers as Lambda does.
async fn synchronous_reply(host: &LambdaHost, payload: &Value) -> Reply {
    let invocation = match host.invoke(payload).await {
        Ok(invocation) => invocation,
        Err(error) => {
            return Reply::json_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "ServiceException",
                &error.to_string(),
            );
        }
    };
    let request_id = "00000000-0000-4000-8000-000000000000";
    let (body, raised) = match invocation.result {
        InvocationResult::Response(answer) => (answer, false),
        InvocationResult::Error {
            error_type,
            message,
        } => (
            json!({ "errorType": error_type, "errorMessage": message }),
            true,
        ),
        InvocationResult::Timeout => (
            json!({
                "errorType": "Sandbox.Timedout",
                "errorMessage": format!(
                    "RequestId: {request_id} Error: Task timed out after {:.2} seconds",
                    host.timeout().as_secs_f64()
                ),
            }),
            true,
        ),
        InvocationResult::Crashed(detail) => (
            json!({
                "errorType": "Runtime.ExitError",
                "errorMessage": format!("RequestId: {request_id} Error: Runtime exited: {detail}"),
            }),
            true,
        ),
    };
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(
        "x-amz-executed-version",
        HeaderValue::from_static("$LATEST"),
    );
    if raised {
        headers.insert(
            "x-amz-function-error",
            HeaderValue::from_static("Unhandled"),
        );
    }
    Reply {
        status: StatusCode::OK,
        headers,
        body: Bytes::from(body.to_string()),
    }
}

fn empty(status: StatusCode) -> Reply {
    Reply {
        status,
        headers: HeaderMap::new(),
        body: Bytes::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::function_name;

    #[test]
    fn every_form_of_the_function_identifier_names_the_function() {
        for identifier in [
            "checkout-contract",
            "checkout-contract:live",
            "123456789012:function:checkout-contract",
            "arn:aws:lambda:eu-west-1:123456789012:function:checkout-contract",
            "arn:aws:lambda:eu-west-1:123456789012:function:checkout-contract:7",
        ] {
            assert_eq!(
                function_name(identifier),
                "checkout-contract",
                "{identifier}"
            );
        }
    }
}
