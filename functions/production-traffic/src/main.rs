//! `production-traffic`: the ECS lifecycle hook for PRE_PRODUCTION_TRAFFIC_SHIFT, PRODUCTION_TRAFFIC_SHIFT (every LINEAR/CANARY step) and POST_PRODUCTION_TRAFFIC_SHIFT.
//!
//! Everything it does is in `greenlight_aws::function::ecs`; this binary only names its phase.

use greenlight_core::hook::Phase;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    greenlight_aws::function::ecs::run_ecs_phase(Phase::ProductionTraffic).await
}
