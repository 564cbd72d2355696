//! What the `codedeploy-hook` function runs: the wiring between the Lambda runtime, the AWS
//! adapters and the core's CodeDeploy runner.
//!
//! One binary is deployed five times, once per hook (`CodeDeployHook_greenlight_<Event>`), each with
//! `GREENLIGHT_HOOK` naming its event. Clients are built once at cold start; the deployment is learned
//! once per invocation and the facts once per judgement.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use greenlight_core::codedeploy_hook::{
    BackendFuture, CodeDeployBackend, Discovered, HOOK_ENV_VAR, HookSettings,
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

use crate::checks::CheckDeps;
use crate::clients::AwsClients;
use crate::codedeploy::handoff::SelfInvoker;
use crate::codedeploy::reporter::SdkReporter;
use crate::config_reader::AwsConfigReader;
use crate::facts::codedeploy::discover_for_hook;
use crate::plan::build_plan;

/// The AWS side of the CodeDeploy hook function.
pub struct CodeDeployAwsBackend {
    clients: AwsClients,
    reader: AwsConfigReader,
    reporter: SdkReporter,
    invoker: SelfInvoker,
    http: OnceLock<reqwest::Client>,
}

impl CodeDeployAwsBackend {
    /// A backend whose clients come from `sdk_config`, handing off to `function_name`. Makes no
    /// network call.
    pub fn new(sdk_config: &SdkConfig, function_name: Option<String>) -> Self {
        let clients = AwsClients::from_conf(sdk_config);
        CodeDeployAwsBackend {
            reader: AwsConfigReader::new(&clients),
            reporter: SdkReporter::new(clients.codedeploy.clone()),
            invoker: SelfInvoker::new(clients.lambda.clone(), function_name),
            clients,
            http: OnceLock::new(),
        }
    }

    fn http(&self) -> reqwest::Client {
        self.http
            .get_or_init(|| {
                reqwest::Client::builder()
                    .user_agent(concat!("greenlight/", env!("CARGO_PKG_VERSION")))
                    .build()
                    .unwrap_or_else(|error| {
                        tracing::warn!(%error, "falling back to a default HTTP client");
                        reqwest::Client::new()
                    })
            })
            .clone()
    }
}

impl CodeDeployBackend for CodeDeployAwsBackend {
    fn discover<'a>(
        &'a self,
        deployment_id: &'a str,
    ) -> BackendFuture<'a, Result<Discovered, FactError>> {
        Box::pin(discover_for_hook(&self.clients, deployment_id))
    }

    fn build_plan(&self, spec: &StagePlanSpec, facts: &Arc<dyn Facts>) -> Plan {
        let deps = CheckDeps::new(Arc::clone(facts), self.clients.clone(), self.http());
        build_plan(spec, &deps)
    }

    fn config_reader(&self) -> &dyn ConfigReferenceReader {
        &self.reader
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
    lambda_runtime::tracing::init_default_subscriber();
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
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let deadline = SystemTime::UNIX_EPOCH + Duration::from_millis(event.context.deadline);
        let outcome =
            handle_codedeploy_hook(&event.payload, backend, &SystemClock, settings, deadline)
                .await
                .map_err(|error| Diagnostic {
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
