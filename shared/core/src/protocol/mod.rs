//! The two ways a deployment engine calls greenlight.
//!
//! - [`ecs`]: ECS native lifecycle hooks (BLUE_GREEN, LINEAR, CANARY, ROLLING admission). ECS sends an
//!   event, greenlight answers with a hook status.
//! - [`codedeploy`]: CodeDeploy AppSpec hooks for ECS blue/green. CodeDeploy sends an opaque execution
//!   id and waits for exactly one report through its API.

pub mod codedeploy;
pub mod codes;
pub mod ecs;

/// The key of `hookDetails` that greenlight owns: the inline config, and inside it the state
/// between IN_PROGRESS invocations (see [`crate::engine::state`]). The CodeDeploy hook's handoff
/// payload carries the same shape.
pub const GREENLIGHT_DETAILS_KEY: &str = "greenlight";
/// The key of the static `hookDetails` that names the service's greenlight config (`ssm:`, `s3://`
/// or a bundled file).
pub const CONFIG_REFERENCE_KEY: &str = "greenlightConfig";
/// The key inside greenlight's `hookDetails` object that the engine owns: the stage's state.
pub const STATE_KEY: &str = "state";
