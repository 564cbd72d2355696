//! greenlight's adapters at the edge: the AWS and HTTP calls that gather evidence.
//!
//! The pure core (`greenlight-core`) decides; this crate fetches. It holds:
//! - [`clients`]: the SDK clients, built once per Lambda cold start from one `SdkConfig`;
//! - [`error`]: how an SDK error becomes a [`FactError`](greenlight_core::facts::FactError) that says
//!   whether waiting can heal it and which IAM action was denied;
//! - [`facts`]: the [`Facts`](greenlight_core::facts::Facts) providers for ECS-native and CodeDeploy
//!   deployments, gathering each fact once per invocation with batched calls;
//! - [`checks`]: one module per check kind, the gather half of each check (the judge half is pure and
//!   lives in the core), and [`plan`], which turns a config's stage plan into runnable checks;
//! - [`config_reader`]: reads config references from SSM Parameter Store and S3;
//! - [`function`]: what every function's `main` runs, for ECS and for CodeDeploy;
//! - [`codedeploy`]: the CodeDeploy hook function: its reporter and handoff.

pub mod checks;
pub mod clients;
pub mod codedeploy;
pub mod config_reader;
pub mod error;
pub mod facts;
pub mod function;
pub mod plan;

pub use clients::AwsClients;
