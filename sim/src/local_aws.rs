//! The local AWS: moto and the endpoint in front of it started together, and the SDK configuration
//! that reaches them (for the rehearsals, the tests and the benchmarks alike).

use std::sync::Arc;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use tokio::sync::OnceCell;

use crate::endpoint::AwsEndpoint;
use crate::error::SimError;
use crate::moto::MotoServer;
use crate::moto_client::Moto;
pub use crate::moto_client::Network;
use crate::world::World;

/// The region everything local lives in.
pub const REGION: &str = "us-east-1";

/// The account moto puts in every ARN.
pub const ACCOUNT_ID: &str = "123456789012";

/// A bound on any one SDK call, so that a hung moto fails a test instead of stalling it.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(30);

/// One moto for the whole test binary, started by the first test that asks.
static SHARED_MOTO: OnceCell<Arc<MotoServer>> = OnceCell::const_new();

/// moto plus an endpoint in front of it, with the SDK configuration to reach them.
#[derive(Debug)]
pub struct LocalAws {
    // Field order is drop order: stop serving before moto goes away.
    endpoint: AwsEndpoint,
    moto: Arc<MotoServer>,
    world: Option<World>,
}

impl LocalAws {
    /// Starts a moto of its own and an endpoint in front of it (about a second, plus about 0.7 s
    /// the first time each service is called). State and counts belong to this test alone.
    pub async fn start() -> Result<Self, SimError> {
        let moto = Arc::new(MotoServer::start().await?);
        Self::in_front_of(moto).await
    }

    /// Starts an endpoint of its own in front of the moto shared by the whole test binary.
    ///
    /// Counts belong to this endpoint alone, but moto's state is shared with tests running in
    /// parallel: give resources unique names, and don't reset moto.
    pub async fn on_shared_moto() -> Result<Self, SimError> {
        let moto = SHARED_MOTO
            .get_or_try_init(|| async { MotoServer::start().await.map(Arc::new) })
            .await?;
        Self::in_front_of(Arc::clone(moto)).await
    }

    /// Like [`LocalAws::start`], with `world`'s supplements in the endpoint: ECS deployments and
    /// revisions, target health, ALB metrics, load balancer addresses and faults.
    pub async fn start_with_world(world: &World) -> Result<Self, SimError> {
        Self::start_with_world_on(world, None).await
    }

    /// Like [`LocalAws::start_with_world`], with moto in `python` (default: [`MotoServer::start`]'s).
    pub async fn start_with_world_on(
        world: &World,
        python: Option<&std::path::Path>,
    ) -> Result<Self, SimError> {
        let moto = match python {
            Some(python) => MotoServer::start_with(python).await?,
            None => MotoServer::start().await?,
        };
        Self::in_front_of_with(Arc::new(moto), Some(world)).await
    }

    /// Like [`LocalAws::on_shared_moto`], with `world`'s supplements in the endpoint. The world is
    /// this endpoint's alone; moto's state is shared.
    pub async fn on_shared_moto_with_world(world: &World) -> Result<Self, SimError> {
        let moto = SHARED_MOTO
            .get_or_try_init(|| async { MotoServer::start().await.map(Arc::new) })
            .await?;
        Self::in_front_of_with(Arc::clone(moto), Some(world)).await
    }

    /// An endpoint with `world`'s supplements in front of a moto other rehearsals may share (one
    /// account, several services). moto's state is shared; the world is this endpoint's alone.
    pub async fn in_front_of_shared(
        moto: Arc<MotoServer>,
        world: &World,
    ) -> Result<Self, SimError> {
        Self::in_front_of_with(moto, Some(world)).await
    }

    async fn in_front_of(moto: Arc<MotoServer>) -> Result<Self, SimError> {
        Self::in_front_of_with(moto, None).await
    }

    async fn in_front_of_with(
        moto: Arc<MotoServer>,
        world: Option<&World>,
    ) -> Result<Self, SimError> {
        moto.set_ecs_tasks_manual().await?;
        let mut builder = AwsEndpoint::builder(moto.endpoint_url());
        if let Some(world) = world {
            builder = builder.supplements(world.supplements());
        }
        let endpoint = builder.start().await?;
        Ok(Self {
            endpoint,
            moto,
            world: world.cloned(),
        })
    }

    /// The world whose supplements the endpoint has, if it was started with one.
    pub fn world(&self) -> Option<&World> {
        self.world.as_ref()
    }

    /// The endpoint (for call counts).
    pub fn endpoint(&self) -> &AwsEndpoint {
        &self.endpoint
    }

    /// moto (for `reset`, and its stderr when something fails).
    pub fn moto(&self) -> &MotoServer {
        &self.moto
    }

    /// The endpoint's URL.
    pub fn endpoint_url(&self) -> &str {
        self.endpoint.endpoint_url()
    }

    /// SDK configuration that reaches the endpoint ([`sdk_config_for`]).
    pub fn sdk_config(&self) -> SdkConfig {
        sdk_config_for(self.endpoint_url())
    }

    /// The environment a function binary needs to reach this endpoint instead of AWS.
    pub fn function_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint_url().to_owned()),
            ("AWS_REGION", REGION.to_owned()),
            ("AWS_ACCESS_KEY_ID", "AKIDLOCALTEST".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "local-test-secret".to_owned()),
            ("AWS_MAX_ATTEMPTS", "1".to_owned()),
            // The platform's settings, as the template sets them; and loopback, where every
            // service of a local rehearsal listens (never set on Lambda).
            (
                "GREENLIGHT_SECRET_PATH",
                "/greenlight/secrets/{cluster}/{service}/".to_owned(),
            ),
            ("GREENLIGHT_ALLOW_LOOPBACK", "true".to_owned()),
        ]
    }

    /// Creates a VPC with one subnet per `(availability zone, CIDR)` (an ALB needs real subnets),
    /// through the endpoint (which counts the calls), with the rehearsal's one moto client.
    pub async fn create_network(
        &self,
        vpc_cidr: &str,
        subnets: &[(&str, &str)],
    ) -> Result<Network, SimError> {
        Moto::new(self.endpoint_url())
            .create_network(vpc_cidr, subnets)
            .await
            .map_err(|error| SimError::Aws {
                service: "ec2".to_owned(),
                operation: error.action,
                status: 0,
                body: error.message,
            })
    }
}

/// SDK configuration that reaches a local endpoint at `url`: test credentials, `us-east-1`,
/// retries off (so a test sees the first error, and moto's 500s are not retried), and nothing
/// read from the environment or profile files.
pub fn sdk_config_for(url: &str) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::from_static(REGION))
        .endpoint_url(url)
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "AKIDLOCALTEST",
            "local-test-secret",
            None,
            None,
            "greenlight-sim",
        )))
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .operation_timeout(OPERATION_TIMEOUT)
                .build(),
        )
        .build()
}
