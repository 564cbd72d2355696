//! Scenarios: a deployment rehearsed end to end, from a YAML file.
//!
//! A [`Scenario`] names a service, its blue and green revisions, the world around them (target
//! health, alarms, faults), the deployment ECS or CodeDeploy runs and what must come of it. [`run`]
//! starts moto with the sim's world, the load balancer data plane, the sample apps and the real
//! function binaries, builds the world ([`crate::stack`]), lets [`crate::driver::ecs::EcsDriver`] play
//! ECS (or [`crate::driver::codedeploy::CodeDeployDriver`] play CodeDeploy, [`codedeploy`]), and
//! checks the expectations. `docs/scenarios.md` describes the format.

pub mod codedeploy;
pub mod format;
pub mod functions;
pub mod rehearsal;
pub mod runner;

pub use format::{Scenario, ScenarioError};
pub use runner::{
    Afterwards, GateTicket, NOT_DEPLOYED, RehearsedWorld, RunError, RunOptions, StartGate, run,
};
