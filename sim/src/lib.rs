//! Local rehearsal of AWS for greenlight: moto, and an endpoint in front of it.
//!
//! No machine that builds greenlight reaches AWS, yet the gather code must be exercised against
//! something that speaks the real wire protocols with the real SDK clients. moto does most of that;
//! this crate fills the gaps:
//! - [`moto::MotoServer`] runs moto on a free loopback port and never leaves it running;
//! - [`endpoint::AwsEndpoint`] is the one URL the SDK is pointed at. It forwards to moto, translates
//!   CloudWatch's RPC v2 CBOR (which moto does not speak), counts calls per operation, and offers
//!   each call to [`endpoint::Supplement`]s first: the place for what moto lacks and for faults;
//! - [`lambda_host::LambdaHost`] runs a real function binary behind the Lambda Runtime API, and
//!   records init time, latency and peak memory;
//! - [`local_aws::LocalAws`] starts both and hands out the `SdkConfig` that reaches them;
//! - [`release_day`] rehearses many deployments at once in one account, against its API limits;
//! - [`world::World`] holds what moto lacks (ECS deployment records, target health, ALB traffic,
//!   faults) and answers for it; [`lb::LoadBalancerPlane`] moves real HTTP through moto's
//!   listeners and rules to [`app::SampleApp`]s, with [`traffic::LoadGenerator`] as production load.
//!
//! moto comes from the project's `.venv`, which `make test` creates (`make moto` alone); the
//! `GREENLIGHT_PYTHON` environment variable names another interpreter.

pub mod app;
pub mod campaign;
pub mod codedeploy;
pub mod driver;
pub mod endpoint;
pub mod error;
mod http_client;
pub mod iam;
pub mod lambda_host;
pub mod lb;
pub mod local_aws;
pub mod moto;
mod moto_client;
pub mod observed;
pub mod release_day;
pub mod report;
pub mod scenario;
pub mod service_connect;
pub mod stack;
pub mod team_functions;
pub mod timeline;
pub mod traffic;
pub mod world;

pub use endpoint::AwsEndpoint;
pub use error::SimError;
pub use local_aws::LocalAws;
pub use moto::MotoServer;
pub use world::World;
