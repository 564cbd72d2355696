//! The CodeDeploy hook function's AWS side.
//!
//! - learning the deployment from CodeDeploy and ECS, and the facts provider built on it, are in
//!   [`crate::facts::codedeploy`];
//! - [`reporter`]: `PutLifecycleEventHookExecutionStatus` over the SDK;
//! - [`handoff`]: the asynchronous invocation of itself that carries a long bake on;
//! - what the `codedeploy-hook` binary runs is in [`crate::function::codedeploy`].
//!
//! The logic — which hook, which plan, the bake loop, the one report — is the core's
//! [`greenlight_core::codedeploy_hook`].

pub mod handoff;
pub mod reporter;
