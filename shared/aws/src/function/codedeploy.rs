//! What the `codedeploy-hook` function runs: the wiring between the Lambda runtime, the AWS
//! adapters and the core's CodeDeploy runner.
//!
//! One binary is deployed five times, once per hook (`CodeDeployHook_greenlight_<Event>`), each with
//! `GREENLIGHT_HOOK` naming its event. Clients are built once at cold start; the deployment is learned
//! once per invocation and the facts once per judgement.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use greenlight_core::codedeploy_hook::{
    BackendFuture, CodeDeployBackend, Discovered, HOOK_ENV_VAR, HookOutcome, HookSettings,
    handle_codedeploy_hook,
};
use greenlight_core::config::StagePlanSpec;
use greenlight_core::config::resolve::{ConfigReferenceReader, ENV_VAR};
use greenlight_core::engine::Plan;
use greenlight_core::engine::clock::SystemClock;
use greenlight_core::facts::{FactError, Facts};
use greenlight_core::protocol::codedeploy::LifecycleReporter;
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::Value;

use super::Adapters;
use super::events::VerdictEvents;
use crate::codedeploy::handoff::SelfInvoker;
use crate::codedeploy::reporter::SdkReporter;
use crate::facts::codedeploy::discover_for_hook;

/// The AWS side of the CodeDeploy hook function.
pub struct CodeDeployAwsBackend {
    adapters: Adapters,
    reporter: SdkReporter,
    invoker: SelfInvoker,
}

impl CodeDeployAwsBackend {
    /// A backend whose clients come from `sdk_config`, handing off to `function_name`. Makes no
    /// network call.
    pub fn new(sdk_config: &SdkConfig, function_name: Option<String>) -> Self {
        let adapters = Adapters::new(sdk_config);
        CodeDeployAwsBackend {
            reporter: SdkReporter::new(adapters.clients.codedeploy.clone()),
            invoker: SelfInvoker::new(adapters.clients.lambda.clone(), function_name),
            adapters,
        }
    }
}

impl CodeDeployBackend for CodeDeployAwsBackend {
    fn discover<'a>(
        &'a self,
        deployment_id: &'a str,
    ) -> BackendFuture<'a, Result<Discovered, FactError>> {
        Box::pin(discover_for_hook(&self.adapters.clients, deployment_id))
    }

    fn build_plan(&self, spec: &StagePlanSpec, facts: &Arc<dyn Facts>) -> Plan {
        self.adapters.build_plan(spec, facts)
    }

    fn config_reader(&self) -> &dyn ConfigReferenceReader {
        &self.adapters.reader
    }

    fn reporter(&self) -> &dyn LifecycleReporter {
        &self.reporter
    }

    fn hand_off<'a>(&'a self, payload: Value) -> BackendFuture<'a, Result<(), String>> {
        Box::pin(async move { self.invoker.invoke(&payload).await })
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
}

/// Runs the CodeDeploy hook function until the Lambda runtime stops it.
///
/// An invocation answers a small JSON summary (CodeDeploy ignores it); it fails — a function error
/// Lambda logs and counts — only for an event without ids or a report that did not get through.
pub async fn run_codedeploy_hook() -> Result<(), lambda_runtime::Error> {
    super::logging::init();
    let sdk_config = crate::clients::load_sdk_config().await;
    let backend = CodeDeployAwsBackend::new(&sdk_config, env("AWS_LAMBDA_FUNCTION_NAME"));
    let hook = env(HOOK_ENV_VAR);
    let env_config = env(ENV_VAR);
    let backend = &backend;
    let settings = HookSettings {
        hook: hook.as_deref(),
        env_config: env_config.as_deref(),
    };
    let settings = &settings;
    let events = VerdictEvents::from_env(&sdk_config);
    let events = &events;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let deadline = SystemTime::UNIX_EPOCH + Duration::from_millis(event.context.deadline);
        let answer =
            handle_codedeploy_hook(&event.payload, backend, &SystemClock, settings, deadline).await;
        greenlight_core::telemetry::emit_summary(&answer.summary);
        // An event says what CodeDeploy was told: not a report that did not get through (the
        // retry may report otherwise), nor one CodeDeploy had already taken.
        if let Ok(HookOutcome::Reported {
            already_completed: false,
            ..
        }) = &answer.result
        {
            events.publish(&answer.summary, deadline).await;
        }
        let outcome = answer.result.map_err(|error| Diagnostic {
            // The reason code, so Lambda's error metrics and logs name what went wrong.
            error_type: error.reason().code.to_owned(),
            error_message: error.to_string(),
        })?;
        serde_json::to_value(outcome).map_err(|error| Diagnostic {
            error_type: "SerializationError".to_owned(),
            error_message: error.to_string(),
        })
    }))
    .await
}
