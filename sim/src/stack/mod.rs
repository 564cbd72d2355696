//! The worlds deployments run in, built in moto before a rehearsal plays one: an ECS service's
//! ([`ecs`]) and a CodeDeploy ECS blue/green deployment's ([`codedeploy`]). The drivers
//! (`crate::driver`) then play the deployment engine's lifecycle on them.
//!
//! Building talks to moto directly with the rehearsal's one moto client and the ELBv2 SDK, never
//! through the endpoint the functions use, so the functions' call counts and injected faults
//! concern their own calls only.

pub mod codedeploy;
pub mod ecs;
pub mod functions;
pub mod util;
