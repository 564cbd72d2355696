//! What every ECS phase function runs: the wiring between the Lambda runtime, the AWS adapters and
//! the core's hook runner.
//!
//! Cold start does as little as possible: it installs the log subscriber and loads the SDK config
//! (credentials and region resolve lazily; no network call is made). Clients are built once and
//! shared by every invocation; the facts provider, the plan and the engine are built per invocation.

use std::sync::{Arc, OnceLock};
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

use crate::checks::CheckDeps;
use crate::clients::AwsClients;
use crate::config_reader::AwsConfigReader;
use crate::ecs_facts::EcsFacts;
use crate::plan::build_plan;

/// Work stops this long before the Lambda deadline, leaving time to answer.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(2);

/// The AWS side of an ECS phase function: clients, config reader and the HTTP client.
pub struct EcsBackend {
    clients: AwsClients,
    reader: AwsConfigReader,
    http: OnceLock<reqwest::Client>,
}

impl EcsBackend {
    /// A backend whose clients come from `sdk_config`. Makes no network call.
    pub fn new(sdk_config: &SdkConfig) -> Self {
        let clients = AwsClients::from_conf(sdk_config);
        let reader = AwsConfigReader::new(&clients);
        EcsBackend {
            clients,
            reader,
            http: OnceLock::new(),
        }
    }

    /// The shared HTTP client, built on first use: a plan without synthetic traffic never pays for
    /// loading TLS roots.
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

impl HookBackend for EcsBackend {
    fn facts(&self, event: &HookEvent) -> Result<Arc<dyn Facts>, EventError> {
        Ok(Arc::new(EcsFacts::new(event, &self.clients)?))
    }

    fn build_plan(&self, spec: &StagePlanSpec, facts: &Arc<dyn Facts>) -> Plan {
        // A fresh MetricData per invocation: checks register their queries as they are built.
        let deps = CheckDeps::new(Arc::clone(facts), self.clients.clone(), self.http());
        build_plan(spec, &deps)
    }

    fn config_reader(&self) -> &dyn ConfigReferenceReader {
        &self.reader
    }
}

/// Runs an ECS phase function until the Lambda runtime stops it.
pub async fn run_ecs_phase(phase: Phase) -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let sdk_config = aws_config::load_from_env().await;
    let backend = EcsBackend::new(&sdk_config);
    let env_config = std::env::var(ENV_VAR)
        .ok()
        .filter(|value| !value.is_empty());
    let backend = &backend;
    let env_config = env_config.as_deref();
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let deadline = SystemTime::UNIX_EPOCH + Duration::from_millis(event.context.deadline);
        let clock = SystemClock;
        let engine = Engine::new(&clock, DEADLINE_MARGIN);
        let answer = handle_ecs_hook(
            phase,
            &event.payload,
            backend,
            &engine,
            env_config,
            Some(deadline),
        )
        .await;
        Ok::<_, lambda_runtime::Error>(answer.response)
    }))
    .await
}
