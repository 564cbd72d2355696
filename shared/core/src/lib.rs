//! The pure core of greenlight.
//!
//! Everything that decides whether a green revision may go on — SUCCEEDED, IN_PROGRESS or FAILED —
//! lives here, without the AWS SDK: the two hook protocols (ECS native lifecycle hooks and CodeDeploy
//! AppSpec hooks), the per-service config, outcomes and their reason codes, the verdict policy and the
//! engine that runs a stage's checks within the Lambda deadline. Keeping the SDK out makes this crate
//! fast to build and lets every rule be tested with plain values, a fake clock and fake checks.
//!
//! Gathering evidence (AWS and HTTP calls) happens at the edge, in adapters that implement
//! [`engine::Check`] and [`config::ConfigReferenceReader`]; the Lambda functions only wire them together.

pub mod catalogue;
pub mod checks;
pub mod codedeploy_hook;
pub mod config;
pub mod engine;
pub mod facts;
pub mod hook;
pub mod outcome;
pub mod platform;
pub mod policy;
pub mod protocol;
pub mod reason;
pub mod stage;
pub mod stats;
pub mod telemetry;

pub use outcome::{Evidence, Outcome, Status};
pub use reason::ReasonCode;
pub use stage::LifecycleStage;
