//! `test-traffic`: the ECS lifecycle hook for TEST_TRAFFIC_SHIFT and POST_TEST_TRAFFIC_SHIFT.
//!
//! Everything it does is in `greenlight_aws::function::ecs`; this binary only names its phase.

use greenlight_core::hook::Phase;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    greenlight_aws::function::ecs::run_ecs_phase(Phase::TestTraffic).await
}
