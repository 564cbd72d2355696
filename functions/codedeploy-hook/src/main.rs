//! `codedeploy-hook`: the CodeDeploy AppSpec hook for ECS blue/green deployments. Deployed once per
//! hook event as `CodeDeployHook_greenlight_<Event>`, with `GREENLIGHT_HOOK` naming the event.
//!
//! Everything it does is in `greenlight_aws::function::codedeploy`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    greenlight_aws::function::codedeploy::run_codedeploy_hook().await
}
