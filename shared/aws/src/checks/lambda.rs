//! The `lambda` check's gather half: invokes the team's function with the documented input and
//! hands its reply to the core's judge ([`greenlight_core::checks::lambda`], which documents the
//! input and output contract).
//!
//! Green, blue and routing (for the target groups) come from the shared facts, asked concurrently;
//! the one call of its own is `lambda:Invoke`, synchronous (`RequestResponse`). Its SDK errors go
//! through [`classify`]: throttling and 5xx are transient, access denied names
//! `lambda:InvokeFunction` on the function's ARN, an unknown function is named.

use std::sync::Arc;

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use greenlight_core::Outcome;
use greenlight_core::checks::LambdaParams;
use greenlight_core::checks::lambda::{
    FunctionReply, LambdaCheckInput, RevisionInput, function_arn, judge,
};
use greenlight_core::engine::{Check, CheckFuture, StageView};
use greenlight_core::facts::{FactError, Facts};
use greenlight_core::outcome::Evidence;

use super::CheckDeps;
use crate::error::classify;

/// The IAM action an invocation needs.
const INVOKE_ACTION: &str = "lambda:InvokeFunction";
/// The Lambda error codes that mean the function (or its version or alias) does not exist.
const NOT_FOUND: &[(&str, &str)] = &[("ResourceNotFoundException", "Lambda function")];

/// Builds the `lambda` check from its params.
pub fn build(params: &LambdaParams, deps: &CheckDeps) -> Box<dyn Check> {
    Box::new(LambdaCheck::new(
        params.clone(),
        Arc::clone(&deps.facts),
        deps.clients.lambda.clone(),
    ))
}

/// The `lambda` check: one synchronous invocation of the team's function per judgement.
pub struct LambdaCheck {
    params: LambdaParams,
    facts: Arc<dyn Facts>,
    lambda: aws_sdk_lambda::Client,
}

impl LambdaCheck {
    /// A check invoking `params.function` with the client given.
    pub fn new(
        params: LambdaParams,
        facts: Arc<dyn Facts>,
        lambda: aws_sdk_lambda::Client,
    ) -> Self {
        LambdaCheck {
            params,
            facts,
            lambda,
        }
    }

    async fn gather_and_judge(&self, stage: &StageView) -> Outcome {
        let service = self.facts.service();
        let function = function_arn(&self.params.function, service);
        let input = match self.input(stage).await {
            Ok(input) => input,
            Err(error) => return error.to_outcome(),
        };
        let payload = match serde_json::to_vec(&input) {
            Ok(payload) => payload,
            Err(error) => {
                return FactError::Unexpected {
                    action: INVOKE_ACTION.to_owned(),
                    message: format!("the function's input could not be written: {error}"),
                }
                .to_outcome();
            }
        };
        tracing::debug!(function = %function, stage = %stage.key.stage, "invoking the team's check function");
        let started = tokio::time::Instant::now();
        let response = self
            .lambda
            .invoke()
            .function_name(&self.params.function)
            .invocation_type(InvocationType::RequestResponse)
            .payload(Blob::new(payload))
            .send()
            .await;
        let output = match response {
            Ok(output) => output,
            Err(error) => {
                return classify(&error, INVOKE_ACTION, &function, NOT_FOUND).to_outcome();
            }
        };
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let payload = output.payload.map(Blob::into_inner).unwrap_or_default();
        let reply = match output.function_error {
            Some(function_error) => FunctionReply::Raised {
                function_error,
                payload,
            },
            None => FunctionReply::Returned(payload),
        };
        let mut invocation = serde_json::json!({ "elapsed_ms": elapsed_ms });
        if let Some(version) = output.executed_version {
            invocation["executed_version"] = serde_json::Value::String(version);
        }
        judge(&function, &reply)
            .with_evidence(Evidence::new("invocation", invocation).resource(function))
    }

    /// The documented input, from the shared facts (green, blue and routing asked together).
    async fn input(&self, stage: &StageView) -> Result<LambdaCheckInput, FactError> {
        let (green, blue, routing) =
            futures::join!(self.facts.green(), self.facts.blue(), self.facts.routing());
        let (green, blue, routing) = (green?, blue?, routing?);
        let green = RevisionInput::new(&green, routing.green_target_group.as_deref());
        let blue = blue
            .as_deref()
            .map(|blue| RevisionInput::new(blue, routing.blue_target_group.as_deref()));
        Ok(LambdaCheckInput::new(
            &stage.key,
            self.facts.service(),
            green,
            blue,
            &self.params,
        ))
    }
}

impl Check for LambdaCheck {
    fn kind(&self) -> &'static str {
        "lambda"
    }

    fn run<'a>(&'a self, stage: &'a StageView) -> CheckFuture<'a> {
        Box::pin(self.gather_and_judge(stage))
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use aws_sdk_lambda::config::retry::RetryConfig;
    use aws_sdk_lambda::error::ErrorMetadata;
    use aws_sdk_lambda::operation::invoke::{InvokeError, InvokeOutput};
    use aws_sdk_lambda::types::error::{ResourceNotFoundException, TooManyRequestsException};
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
    use greenlight_core::checks::lambda::{
        LAMBDA_BAD_OUTPUT, LAMBDA_FAILED, LAMBDA_FUNCTION_ERROR, LAMBDA_PASSED,
    };
    use greenlight_core::engine::state::CheckMemory;
    use greenlight_core::facts::{
        AWS_ACCESS_DENIED, AWS_NOT_FOUND, AWS_THROTTLED, AWS_UNAVAILABLE, RevisionFacts,
        RoutingFacts, ServiceIdentity, StaticFacts,
    };
    use greenlight_core::outcome::{ErrorClass, Status};
    use greenlight_core::stage::StageKey;
    use serde_json::{Value, json};

    use super::*;

    const FUNCTION: &str = "web-contract-tests:live";
    const FUNCTION_ARN: &str =
        "arn:aws:lambda:eu-west-1:123456789012:function:web-contract-tests:live";

    fn revision(n: u32) -> Arc<RevisionFacts> {
        Arc::new(RevisionFacts {
            arn: format!("arn:aws:ecs:eu-west-1:123456789012:service-revision/prod/web/{n}"),
            task_definition_arn: format!(
                "arn:aws:ecs:eu-west-1:123456789012:task-definition/web:{n}"
            ),
            containers: Vec::new(),
            target_group_arns: Vec::new(),
            test_header: None,
        })
    }

    fn facts() -> StaticFacts {
        let mut facts = StaticFacts::new(ServiceIdentity {
            partition: "aws".into(),
            region: "eu-west-1".into(),
            account: "123456789012".into(),
            cluster: "prod".into(),
            service: "web".into(),
            service_arn: "arn:aws:ecs:eu-west-1:123456789012:service/prod/web".into(),
        });
        facts.green = Ok(revision(42));
        facts.blue = Ok(Some(revision(41)));
        facts.routing = Ok(Arc::new(RoutingFacts {
            green_target_group: Some("tg-green".into()),
            blue_target_group: Some("tg-blue".into()),
            load_balancer_arn: None,
            production_rule: None,
            test_rule: None,
            test_endpoint: None,
        }));
        facts
    }

    fn stage() -> StageView {
        StageView {
            key: StageKey::new("arn:deployment/1", "POST_TEST_TRAFFIC_SHIFT", None),
            started_at: SystemTime::UNIX_EPOCH,
            now: SystemTime::UNIX_EPOCH,
            attempt: 1,
            memory: CheckMemory::default(),
            horizon: None,
        }
    }

    fn params() -> LambdaParams {
        serde_json::from_value(json!({ "function": FUNCTION, "params": { "suite": "smoke" } }))
            .expect("params")
    }

    /// A client whose calls hit `rules`, retrying up to three attempts without waiting.
    fn client(rules: &[&Rule]) -> aws_sdk_lambda::Client {
        mock_client!(aws_sdk_lambda, RuleMode::Sequential, rules, |config| {
            config.retry_config(
                RetryConfig::standard()
                    .with_max_attempts(3)
                    .with_initial_backoff(Duration::ZERO)
                    .with_max_backoff(Duration::ZERO),
            )
        })
    }

    async fn run(facts: StaticFacts, rules: &[&Rule]) -> Outcome {
        LambdaCheck::new(params(), Arc::new(facts), client(rules))
            .run(&stage())
            .await
    }

    fn answer(payload: Value) -> InvokeOutput {
        InvokeOutput::builder()
            .status_code(200)
            .executed_version("7")
            .payload(Blob::new(payload.to_string()))
            .build()
    }

    fn throttled() -> InvokeError {
        InvokeError::TooManyRequestsException(
            TooManyRequestsException::builder()
                .message("Rate exceeded")
                .meta(
                    ErrorMetadata::builder()
                        .code("TooManyRequestsException")
                        .message("Rate exceeded")
                        .build(),
                )
                .build(),
        )
    }

    #[tokio::test]
    async fn sends_the_documented_input_and_judges_the_answer() {
        let invoke = mock!(aws_sdk_lambda::Client::invoke)
            .match_requests(|request| {
                let input: Value = request
                    .payload()
                    .and_then(|blob| serde_json::from_slice(blob.as_ref()).ok())
                    .unwrap_or_default();
                request.function_name() == Some(FUNCTION)
                    && request.invocation_type() == Some(&InvocationType::RequestResponse)
                    && input
                        == json!({
                            "version": 1,
                            "stage": "POST_TEST_TRAFFIC_SHIFT",
                            "step": null,
                            "deployment": { "id": "arn:deployment/1", "service": "web", "cluster": "prod" },
                            "green": {
                                "revision": "arn:aws:ecs:eu-west-1:123456789012:service-revision/prod/web/42",
                                "task_definition": "arn:aws:ecs:eu-west-1:123456789012:task-definition/web:42",
                                "target_group": "tg-green"
                            },
                            "blue": {
                                "revision": "arn:aws:ecs:eu-west-1:123456789012:service-revision/prod/web/41",
                                "task_definition": "arn:aws:ecs:eu-west-1:123456789012:task-definition/web:41",
                                "target_group": "tg-blue"
                            },
                            "params": { "suite": "smoke" }
                        })
            })
            .then_output(|| answer(json!({ "result": "pass", "reason": "40 contract cases ok" })));
        let outcome = run(facts(), &[&invoke]).await;
        assert_eq!(outcome.code, &LAMBDA_PASSED, "{outcome:?}");
        assert_eq!(
            outcome.message,
            format!("function {FUNCTION_ARN} passed green: 40 contract cases ok")
        );
        let invocation = outcome.evidence.last().expect("invocation evidence");
        assert_eq!(invocation.value["executed_version"], json!("7"));
        assert_eq!(invocation.resource.as_deref(), Some(FUNCTION_ARN));
        assert_eq!(invoke.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_failing_answer_fails_with_the_teams_reason_and_evidence() {
        let invoke = mock!(aws_sdk_lambda::Client::invoke).then_output(|| {
            answer(json!({
                "result": "fail",
                "reason": "POST /orders answered 500",
                "evidence": [{ "measured": "failed cases", "value": 3, "samples": 40 }]
            }))
        });
        let outcome = run(facts(), &[&invoke]).await;
        assert_eq!(
            (outcome.status, outcome.code),
            (Status::Fail, &LAMBDA_FAILED)
        );
        assert!(outcome.message.ends_with("POST /orders answered 500"));
        assert_eq!(outcome.evidence[1].measured, "failed cases");
        assert_eq!(outcome.evidence[1].samples, Some(40));
    }

    #[tokio::test]
    async fn function_errors_and_malformed_answers_are_errors() {
        let raised = mock!(aws_sdk_lambda::Client::invoke).then_output(|| {
            InvokeOutput::builder()
                .status_code(200)
                .function_error("Unhandled")
                .payload(Blob::new(
                    r#"{"errorType":"KeyError","errorMessage":"'orders'"}"#,
                ))
                .build()
        });
        let outcome = run(facts(), &[&raised]).await;
        assert_eq!(outcome.code, &LAMBDA_FUNCTION_ERROR);
        assert_eq!(outcome.error_class, Some(ErrorClass::Transient));
        assert!(outcome.message.contains("KeyError: 'orders'"));

        let malformed =
            mock!(aws_sdk_lambda::Client::invoke).then_output(|| answer(json!({ "status": "ok" })));
        let outcome = run(facts(), &[&malformed]).await;
        assert_eq!(outcome.code, &LAMBDA_BAD_OUTPUT);
        assert!(outcome.is_permanent_error());
    }

    #[tokio::test]
    async fn throttling_is_retried_then_answered() {
        let invoke = mock!(aws_sdk_lambda::Client::invoke)
            .sequence()
            .error(throttled)
            .times(2)
            .output(|| answer(json!({ "result": "pass" })))
            .build();
        let outcome = run(facts(), &[&invoke]).await;
        assert_eq!(outcome.code, &LAMBDA_PASSED, "{outcome:?}");
        assert_eq!(invoke.num_calls(), 3);
    }

    #[tokio::test]
    async fn throttled_throughout_is_a_transient_error() {
        let invoke = mock!(aws_sdk_lambda::Client::invoke)
            .sequence()
            .error(throttled)
            .times(3)
            .build();
        let outcome = run(facts(), &[&invoke]).await;
        assert_eq!(outcome.code, &AWS_THROTTLED, "{outcome:?}");
        assert_eq!(outcome.error_class, Some(ErrorClass::Transient));
        assert!(outcome.message.contains("lambda:InvokeFunction"));
        assert_eq!(invoke.num_calls(), 3);
    }

    #[tokio::test]
    async fn server_errors_are_transient() {
        let invoke = mock!(aws_sdk_lambda::Client::invoke)
            .sequence()
            .http_status(503, None)
            .times(3)
            .build();
        let outcome = run(facts(), &[&invoke]).await;
        assert_eq!(outcome.code, &AWS_UNAVAILABLE, "{outcome:?}");
        assert_eq!(invoke.num_calls(), 3);
    }

    #[tokio::test]
    async fn access_denied_names_the_action_and_the_function_arn() {
        let invoke = mock!(aws_sdk_lambda::Client::invoke).then_error(|| {
            InvokeError::generic(
                ErrorMetadata::builder()
                    .code("AccessDeniedException")
                    .message("User is not authorized to perform: lambda:InvokeFunction")
                    .build(),
            )
        });
        let outcome = run(facts(), &[&invoke]).await;
        assert_eq!(outcome.code, &AWS_ACCESS_DENIED, "{outcome:?}");
        assert!(outcome.is_permanent_error());
        assert_eq!(outcome.evidence[0].value, json!("lambda:InvokeFunction"));
        assert_eq!(outcome.evidence[0].resource.as_deref(), Some(FUNCTION_ARN));
        assert_eq!(invoke.num_calls(), 1, "access denied is not retried");
    }

    #[tokio::test]
    async fn an_unknown_function_is_named() {
        let invoke = mock!(aws_sdk_lambda::Client::invoke).then_error(|| {
            InvokeError::ResourceNotFoundException(
                ResourceNotFoundException::builder()
                    .meta(
                        ErrorMetadata::builder()
                            .code("ResourceNotFoundException")
                            .message("Function not found")
                            .build(),
                    )
                    .build(),
            )
        });
        let outcome = run(facts(), &[&invoke]).await;
        assert_eq!(outcome.code, &AWS_NOT_FOUND, "{outcome:?}");
        assert_eq!(
            outcome.message,
            format!("Lambda function not found: {FUNCTION_ARN}")
        );
    }

    #[tokio::test]
    async fn missing_facts_stop_before_invoking() {
        let invoke = mock!(aws_sdk_lambda::Client::invoke)
            .then_output(|| answer(json!({ "result": "pass" })));
        let mut facts = facts();
        facts.routing = Err(FactError::Throttled {
            action: "elasticloadbalancing:DescribeRules".into(),
            message: "Rate exceeded".into(),
        });
        let outcome = run(facts, &[&invoke]).await;
        assert_eq!(outcome.code, &AWS_THROTTLED);
        assert_eq!(invoke.num_calls(), 0);
    }
}
