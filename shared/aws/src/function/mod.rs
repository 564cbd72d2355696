//! What the Lambda functions run: the wiring between the Lambda runtime, the AWS adapters and the
//! core's hook runners, one module per deployment engine ([`ecs`] for the four phase functions,
//! [`codedeploy`] for the CodeDeploy hooks), and what both share ([`Adapters`], and the verdict
//! events of [`events`]).
//!
//! Cold start does as little as possible: it installs the log subscriber and loads the SDK config
//! (credentials and region resolve lazily, TLS roots are read on the first AWS call; no network
//! call is made). Clients are built once and shared by every invocation; the facts provider, the
//! plan and the engine are built per invocation.

pub mod codedeploy;
pub mod ecs;
pub mod events;
pub mod logging;

use std::sync::{Arc, OnceLock};

use aws_config::SdkConfig;
use greenlight_core::config::StagePlanSpec;
use greenlight_core::engine::Plan;
use greenlight_core::facts::Facts;

use crate::checks::CheckDeps;
use crate::clients::AwsClients;
use crate::config_reader::AwsConfigReader;
use crate::plan::build_plan;

/// What both functions' backends are built on: the SDK clients, the config reader and the HTTP
/// client for synthetic traffic, all built once per cold start.
pub struct Adapters {
    /// The SDK clients.
    pub clients: AwsClients,
    /// Reads config references (SSM, S3).
    pub reader: AwsConfigReader,
    http: OnceLock<reqwest::Client>,
}

impl Adapters {
    /// Adapters whose clients come from `sdk_config`. Makes no network call.
    pub fn new(sdk_config: &SdkConfig) -> Self {
        let clients = AwsClients::from_conf(sdk_config);
        Adapters {
            reader: AwsConfigReader::new(&clients),
            clients,
            http: OnceLock::new(),
        }
    }

    /// The shared HTTP client, built on first use: a plan without synthetic traffic never pays for
    /// loading TLS roots.
    pub fn http(&self) -> reqwest::Client {
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

    /// The runnable checks of `spec` for one invocation, with fresh deps: checks register their
    /// metric queries as they are built, so that one `GetMetricData` serves the stage.
    pub fn build_plan(&self, spec: &StagePlanSpec, facts: &Arc<dyn Facts>) -> Plan {
        let deps = CheckDeps::new(Arc::clone(facts), self.clients.clone(), self.http());
        build_plan(spec, &deps)
    }
}
