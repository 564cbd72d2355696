//! Reporting a hook's result to CodeDeploy with the SDK.

use aws_sdk_codedeploy::error::ProvideErrorMetadata;
use aws_sdk_codedeploy::operation::put_lifecycle_event_hook_execution_status::PutLifecycleEventHookExecutionStatusError;
use aws_sdk_codedeploy::types::LifecycleEventStatus;
use aws_smithy_runtime_api::client::result::SdkError;
use greenlight_core::protocol::codedeploy::{
    LifecycleReporter, ReportAck, ReportError, ReportFuture, ReportStatus,
};

/// Error codes that mean the call was throttled.
const THROTTLING: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
];
/// Error codes that mean the role may not report.
const DENIED: &[&str] = &[
    "AccessDeniedException",
    "AccessDenied",
    "UnauthorizedOperation",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
];

/// Sends `PutLifecycleEventHookExecutionStatus` with a CodeDeploy client, one call per use.
#[derive(Debug, Clone)]
pub struct SdkReporter {
    client: aws_sdk_codedeploy::Client,
}

impl SdkReporter {
    /// A reporter using `client`.
    pub fn new(client: aws_sdk_codedeploy::Client) -> Self {
        SdkReporter { client }
    }
}

impl LifecycleReporter for SdkReporter {
    fn put_lifecycle_event_hook_execution_status<'a>(
        &'a self,
        deployment_id: &'a str,
        execution_id: &'a str,
        status: ReportStatus,
    ) -> ReportFuture<'a> {
        Box::pin(async move {
            let status = match status {
                ReportStatus::Succeeded => LifecycleEventStatus::Succeeded,
                ReportStatus::Failed => LifecycleEventStatus::Failed,
            };
            self.client
                .put_lifecycle_event_hook_execution_status()
                .deployment_id(deployment_id)
                .lifecycle_event_hook_execution_id(execution_id)
                .status(status)
                .send()
                .await
                .map(|_| ReportAck::Recorded)
                .or_else(|error| map_error(&error))
        })
    }
}

/// Already-completed is success; throttling and denial are told apart, since only one of them heals.
fn map_error<R: std::fmt::Debug>(
    error: &SdkError<PutLifecycleEventHookExecutionStatusError, R>,
) -> Result<ReportAck, ReportError> {
    if let SdkError::ServiceError(context) = error {
        let service_error = context.err();
        if service_error.is_lifecycle_event_already_completed_exception() {
            return Ok(ReportAck::AlreadyCompleted);
        }
        let code = service_error.code().unwrap_or_default();
        let message = service_error.message().unwrap_or(code).to_owned();
        if THROTTLING.contains(&code) {
            return Err(ReportError::Throttled(message));
        }
        if DENIED.contains(&code) {
            return Err(ReportError::Denied { message });
        }
        return Err(ReportError::Other(format!("{code}: {message}")));
    }
    Err(ReportError::Other(
        aws_smithy_types::error::display::DisplayErrorContext(error).to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use aws_sdk_codedeploy::Client;
    use aws_sdk_codedeploy::operation::put_lifecycle_event_hook_execution_status::PutLifecycleEventHookExecutionStatusOutput;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    use super::*;

    fn error(status: u16, code: &str) -> HttpResponse {
        HttpResponse::new(
            StatusCode::try_from(status).expect("status"),
            SdkBody::from(format!(
                r#"{{"__type":"{code}","message":"{code} said no"}}"#
            )),
        )
    }

    async fn report(error_code: Option<&'static str>) -> Result<ReportAck, ReportError> {
        let rule = match error_code {
            Some(code) => mock!(Client::put_lifecycle_event_hook_execution_status)
                .match_requests(|input| {
                    input.deployment_id() == Some("d-1")
                        && input.lifecycle_event_hook_execution_id() == Some("tok==")
                        && input.status() == Some(&LifecycleEventStatus::Failed)
                })
                .then_http_response(move || error(400, code)),
            None => mock!(Client::put_lifecycle_event_hook_execution_status)
                .then_output(|| PutLifecycleEventHookExecutionStatusOutput::builder().build()),
        };
        // Retries off: each answer is seen once, as `PendingReport::send` does the retrying.
        let client = mock_client!(aws_sdk_codedeploy, RuleMode::MatchAny, [&rule], |config| {
            config.retry_config(aws_sdk_codedeploy::config::retry::RetryConfig::disabled())
        });
        let result = SdkReporter::new(client)
            .put_lifecycle_event_hook_execution_status("d-1", "tok==", ReportStatus::Failed)
            .await;
        assert_eq!(rule.num_calls(), 1);
        result
    }

    #[tokio::test]
    async fn statuses_and_errors_map_onto_the_contract() {
        assert_eq!(report(None).await, Ok(ReportAck::Recorded));
        let already = report(Some("LifecycleEventAlreadyCompletedException")).await;
        assert_eq!(already, Ok(ReportAck::AlreadyCompleted));
        let throttled = report(Some("ThrottlingException")).await;
        assert!(
            matches!(throttled, Err(ReportError::Throttled(_))),
            "{throttled:?}"
        );
        let denied = report(Some("AccessDeniedException")).await;
        let denied = denied.unwrap_err();
        assert!(matches!(denied, ReportError::Denied { .. }));
        assert!(
            denied
                .to_string()
                .contains("codedeploy:PutLifecycleEventHookExecutionStatus")
        );
        let other = report(Some("InvalidLifecycleEventHookExecutionIdException")).await;
        assert!(
            matches!(other, Err(ReportError::Other(message)) if message.contains("InvalidLifecycleEventHookExecutionIdException"))
        );
    }
}
