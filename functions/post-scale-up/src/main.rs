//! `post-scale-up`: the ECS lifecycle hook for POST_SCALE_UP.
//!
//! Everything it does is in `greenlight_aws::function::ecs`; this binary only names its phase.

use greenlight_core::hook::Phase;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    greenlight_aws::function::ecs::run_ecs_phase(Phase::PostScaleUp).await
}
