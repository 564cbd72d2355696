//! The two ways a deployment engine calls greenlight.
//!
//! - [`ecs`]: ECS native lifecycle hooks (BLUE_GREEN, LINEAR, CANARY, ROLLING admission). ECS sends an
//!   event, greenlight answers with a hook status.
//! - [`codedeploy`]: CodeDeploy AppSpec hooks for ECS blue/green. CodeDeploy sends an opaque execution
//!   id and waits for exactly one report through its API.

pub mod codedeploy;
pub mod codes;
pub mod ecs;
