//! What every ECS phase function runs: the wiring between the Lambda runtime, the AWS adapters and
//! the core's hook runner (`greenlight_core::hook`).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use greenlight_core::config::StagePlanSpec;
use greenlight_core::config::resolve::{ConfigReferenceReader, ENV_VAR};
use greenlight_core::engine::clock::SystemClock;
use greenlight_core::engine::{Engine, Plan};
use greenlight_core::facts::Facts;
use greenlight_core::hook::{HookBackend, Phase, handle_ecs_hook};
use greenlight_core::protocol::ecs::{EventError, HookEvent};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

use super::Adapters;
use super::events::VerdictEvents;
use crate::facts::ecs::EcsFacts;

/// Work stops this long before the Lambda deadline, leaving time to answer.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(2);

/// The AWS side of an ECS phase function: clients, config reader and the HTTP client.
pub struct EcsBackend {
    adapters: Adapters,
}

impl EcsBackend {
    /// A backend whose clients come from `sdk_config`. Makes no network call.
    pub fn new(sdk_config: &SdkConfig) -> Self {
        EcsBackend {
            adapters: Adapters::new(sdk_config),
        }
    }
}

impl EcsBackend {
    /// The backend for one invocation of the function `invoked_function_arn` (the Lambda context's
    /// invoked function ARN, alias or version included), so that the facts find this hook among the
    /// deployment's hooks and its own expiry. An empty ARN (a runtime that does not say) leaves
    /// the expiry unknown when several hooks run at the stage.
    pub fn for_invocation(&self, invoked_function_arn: &str) -> InvocationBackend<'_> {
        InvocationBackend {
            backend: self,
            function_arn: Some(invoked_function_arn.to_owned()).filter(|arn| !arn.is_empty()),
        }
    }
}

impl HookBackend for EcsBackend {
    fn facts(&self, event: &HookEvent) -> Result<Arc<dyn Facts>, EventError> {
        Ok(Arc::new(EcsFacts::new(event, &self.adapters.clients)?))
    }

    fn build_plan(&self, spec: &StagePlanSpec, facts: &Arc<dyn Facts>) -> Plan {
        self.adapters.build_plan(spec, facts)
    }

    fn config_reader(&self) -> &dyn ConfigReferenceReader {
        &self.adapters.reader
    }
}

/// An [`EcsBackend`] for one invocation: the same clients, and the function the invocation runs in.
pub struct InvocationBackend<'a> {
    backend: &'a EcsBackend,
    function_arn: Option<String>,
}

impl HookBackend for InvocationBackend<'_> {
    fn facts(&self, event: &HookEvent) -> Result<Arc<dyn Facts>, EventError> {
        let facts = EcsFacts::new(event, &self.backend.adapters.clients)?;
        Ok(Arc::new(match &self.function_arn {
            Some(arn) => facts.with_function_arn(arn.clone()),
            None => facts,
        }))
    }

    fn build_plan(&self, spec: &StagePlanSpec, facts: &Arc<dyn Facts>) -> Plan {
        self.backend.build_plan(spec, facts)
    }

    fn config_reader(&self) -> &dyn ConfigReferenceReader {
        self.backend.config_reader()
    }
}

/// Runs an ECS phase function until the Lambda runtime stops it.
pub async fn run_ecs_phase(phase: Phase) -> Result<(), lambda_runtime::Error> {
    super::logging::init();
    let sdk_config = crate::clients::load_sdk_config().await;
    let backend = EcsBackend::new(&sdk_config);
    let env_config = std::env::var(ENV_VAR)
        .ok()
        .filter(|value| !value.is_empty());
    let events = VerdictEvents::from_env(&sdk_config);
    let backend = &backend;
    let events = &events;
    let env_config = env_config.as_deref();
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let deadline = SystemTime::UNIX_EPOCH + Duration::from_millis(event.context.deadline);
        let clock = SystemClock;
        let engine = Engine::new(&clock, DEADLINE_MARGIN);
        let invocation = backend.for_invocation(&event.context.invoked_function_arn);
        let answer = handle_ecs_hook(
            phase,
            &event.payload,
            &invocation,
            &engine,
            env_config,
            Some(deadline),
        )
        .await;
        greenlight_core::telemetry::emit_summary(&answer.summary);
        events.publish(&answer.summary, deadline).await;
        Ok::<_, lambda_runtime::Error>(answer.response)
    }))
    .await
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use aws_config::BehaviorVersion;
    use aws_sdk_ecs::Client as Ecs;
    use aws_sdk_ecs::operation::describe_service_deployments::DescribeServiceDeploymentsOutput;
    use aws_sdk_ecs::operation::list_service_deployments::ListServiceDeploymentsOutput;
    use aws_sdk_ecs::types as ecs;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use aws_smithy_types::DateTime;
    use serde_json::json;

    use super::*;

    const DEPLOYMENT: &str = "arn:aws:ecs:us-west-2:123456789012:service-deployment/web-cluster/web/EZe5RNVLH6PPzHXINuP28";
    const FUNCTION: &str =
        "arn:aws:lambda:us-west-2:123456789012:function:greenlight-production-traffic";

    fn event() -> HookEvent {
        HookEvent::parse(&json!({
            "executionId": "f4fcae0f-9bec-41c6-ba87-0eaa0cef8af5",
            "lifecycleStage": "POST_SCALE_UP",
            "resourceArn": DEPLOYMENT,
            "executionDetails": {
                "serviceArn": "arn:aws:ecs:us-west-2:123456789012:service/web-cluster/web",
                "targetServiceRevisionArn": "arn:aws:ecs:us-west-2:123456789012:service-revision/web-cluster/web/2",
                "testTrafficWeights": {},
                "productionTrafficWeights": {},
            }
        }))
        .expect("a valid event")
    }

    fn hook(target: &str, expires: i64) -> ecs::DeploymentLifecycleHookDetail {
        ecs::DeploymentLifecycleHookDetail::builder()
            .target_type(ecs::DeploymentLifecycleHookTargetType::AwsLambda)
            .target_arn(target)
            .status(ecs::DeploymentLifecycleHookStatus::InProgress)
            .expires_at(DateTime::from_secs(expires))
            .build()
    }

    /// Two Lambda hooks in progress at the stage: only the invoked function's ARN tells which
    /// expiry is this hook's.
    fn backend() -> EcsBackend {
        let described = mock!(Ecs::describe_service_deployments).then_output(|| {
            DescribeServiceDeploymentsOutput::builder()
                .service_deployments(
                    ecs::ServiceDeployment::builder()
                        .service_deployment_arn(DEPLOYMENT)
                        .status(ecs::ServiceDeploymentStatus::InProgress)
                        .lifecycle_hook_details(hook(
                            "arn:aws:lambda:us-west-2:123456789012:function:team-hook",
                            1_700_009_999,
                        ))
                        .lifecycle_hook_details(hook(FUNCTION, 1_700_003_600))
                        .build(),
                )
                .build()
        });
        let listed = mock!(Ecs::list_service_deployments)
            .then_output(|| ListServiceDeploymentsOutput::builder().build());
        let sdk_config = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .build();
        let mut backend = EcsBackend::new(&sdk_config);
        backend.adapters.clients.ecs =
            mock_client!(aws_sdk_ecs, RuleMode::MatchAny, &[&described, &listed]);
        backend
    }

    #[tokio::test]
    async fn each_invocation_finds_its_own_hooks_expiry_from_the_invoked_function_arn() {
        let backend = backend();
        let facts = backend
            .for_invocation(&format!("{FUNCTION}:live"))
            .facts(&event())
            .expect("facts");
        let deployment = facts.deployment().await.expect("deployment");
        assert_eq!(
            deployment.hook_expires_at,
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_003_600))
        );

        // A runtime that names no function: the expiry cannot be told apart, so it is unknown.
        let facts = backend.for_invocation("").facts(&event()).expect("facts");
        assert_eq!(
            facts
                .deployment()
                .await
                .expect("deployment")
                .hook_expires_at,
            None
        );
    }
}
