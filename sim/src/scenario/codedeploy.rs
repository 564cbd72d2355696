//! Running a scenario whose service deploys through CodeDeploy (`deployment.controller:
//! CODE_DEPLOY`).
//!
//! The world is the ECS rehearsal's — ECR images with their digests and scan findings, alarms and
//! their changes, the sample apps and their behaviour per moment, green's target health, faults,
//! production load — around the CodeDeploy topology that [`CodeDeployStack`] builds (a
//! `CODE_DEPLOY` service with task sets, listeners whose default action CodeDeploy re-points, the
//! deployment in the [`CodeDeploySim`]). Each AppSpec hook is the real `codedeploy-hook` binary,
//! deployed under the function name the AppSpec gives, with `GREENLIGHT_HOOK` naming its event and
//! `GREENLIGHT_CONFIG` the scenario's `greenlight_config`; [`CodeDeployDriver`] plays the lifecycle
//! events. A scenario's moments name events (`event: AfterAllowTraffic`) or the ECS stages they
//! correspond to.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::format::Scenario;
use super::rehearsal::{
    self, CallTally, change_world_at, override_target_health, target_health_starts_at,
};
use super::runner::{
    RunError, RunOptions, SetupSlot, begin_deployment, check_expectations, deployment_result,
    function_binary, function_env, local_aws_for, note_load, role_env, stop_load,
};
use crate::codedeploy::CodeDeploySim;
use crate::driver::Moment;
use crate::driver::codedeploy::{
    CodeDeployDriver, CodeDeployRun, HOOK_LIMIT, LambdaHooks, LifecycleEvent, OnEvent,
};
use crate::endpoint::AwsEndpoint;
use crate::iam::EngineRole;
use crate::lambda_host::{FunctionSpec, LambdaHost};
use crate::lb::LoadBalancerPlane;
use crate::stack::codedeploy::{CodeDeployStack, CodeDeployStackSpec};
use crate::stack::ecs as stack;
use crate::stack::util::short_name;
use crate::timeline::{SimReport, Subject};
use crate::world::{TaskDigestSupplement, TaskDigests};
use crate::world::{World, function_name};

/// The binary every AppSpec hook function runs.
const HOOK_BINARY: &str = "codedeploy-hook";

/// The greenlight config the hook functions read, in a file of its own for the rehearsal's
/// length.
struct ConfigFile(PathBuf);

impl ConfigFile {
    fn write(scenario: &Scenario) -> Result<Option<ConfigFile>, String> {
        let Some(config) = &scenario.deployment.greenlight_config else {
            return Ok(None);
        };
        let path = config_path(&scenario.name);
        // JSON is YAML: the functions read it as they read any config file.
        std::fs::write(&path, config.to_string())
            .map_err(|error| format!("cannot write the greenlight config: {error}"))?;
        Ok(Some(ConfigFile(path)))
    }
}

/// A config file path of its own for each rehearsal: a campaign runs the same scenario several
/// times at once in one process, and one run's file must not be another's (each removes its own).
fn config_path(scenario: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let run = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::env::temp_dir().join(format!(
        "greenlight-rehearsal-{}-{run}-{}.yaml",
        std::process::id(),
        short_name(scenario, 40)
    ))
}

impl Drop for ConfigFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The AppSpec's hooks, by event name, each naming the function by its name.
fn appspec_hooks(scenario: &Scenario) -> BTreeMap<String, String> {
    scenario
        .deployment
        .appspec_hooks()
        .into_iter()
        .map(|(event, function)| {
            (
                event.as_str().to_owned(),
                function_name(&function).to_owned(),
            )
        })
        .collect()
}

/// Starts one Lambda host per hook function. A function that serves one event gets
/// `GREENLIGHT_HOOK`; one named for several events learns its event from the deployment target.
async fn start_hooks(
    hooks: &BTreeMap<String, String>,
    options: &RunOptions,
    env: &[(String, String)],
    config: Option<&ConfigFile>,
    world: &World,
    logs_endpoint: &str,
) -> Result<LambdaHooks, String> {
    let binary = function_binary(HOOK_BINARY, options.functions_dir.as_ref())?;
    let lambda = LambdaHooks::new();
    if let Some(iam) = world.iam() {
        lambda.invoke_as(EngineRole::codedeploy(iam));
    }
    let mut events_by_function: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (event, function) in hooks {
        events_by_function
            .entry(function.as_str())
            .or_default()
            .push(event.as_str());
    }
    for (function, events) in events_by_function {
        let mut spec = FunctionSpec::new(binary.clone(), function);
        spec.timeout = options.function_timeout;
        spec.env = role_env(env, world, function)?;
        spec.logs_endpoint = Some(logs_endpoint.to_owned());
        if let [event] = events.as_slice() {
            spec.env
                .push(("GREENLIGHT_HOOK".into(), (*event).to_owned()));
        }
        if let Some(config) = config {
            // The config is bundled with the function: its directory is the package, as on Lambda
            // (file references are read only inside LAMBDA_TASK_ROOT).
            if let Some(package) = config.0.parent() {
                spec.env
                    .push(("LAMBDA_TASK_ROOT".into(), package.display().to_string()));
            }
            spec.env
                .push(("GREENLIGHT_CONFIG".into(), config.0.display().to_string()));
        }
        let host = LambdaHost::start(spec)
            .await
            .map_err(|error| error.to_string())?;
        lambda.add(function, Arc::new(host));
    }
    Ok(lambda)
}

/// Rehearses a scenario whose service CodeDeploy deploys.
pub async fn run(scenario: &Scenario, options: &RunOptions) -> Result<SimReport, RunError> {
    let began = Instant::now();
    let fail = |message: String| RunError {
        scenario: scenario.name.clone(),
        message,
    };
    let service = &scenario.service;
    let slot = SetupSlot::take(options).await;
    let (world, aws) = local_aws_for(scenario, options).await.map_err(fail)?;
    let digests = Arc::new(TaskDigests::default());
    let sim = CodeDeploySim::new();
    // The functions' endpoint: the world's supplements (faults first), the running containers'
    // digests, then CodeDeploy.
    let endpoint = AwsEndpoint::builder(aws.moto().endpoint_url())
        .supplements(world.supplements())
        .supplement(TaskDigestSupplement(Arc::clone(&digests)))
        .supplement(sim.clone())
        .start()
        .await
        .map_err(|error| fail(format!("cannot start the functions' endpoint: {error}")))?;
    let plane = LoadBalancerPlane::new(aws.moto().endpoint_url(), &world);
    let (blue_app, green_app) = rehearsal::start_apps(scenario).await.map_err(fail)?;

    let setup_failed = |error: crate::driver::ecs::DriverError| {
        fail(format!("setting up the world failed: {error}"))
    };
    let images = stack::push_images(&aws, scenario)
        .await
        .map_err(setup_failed)?;
    let hooks = appspec_hooks(scenario);
    let spec = CodeDeployStackSpec {
        name: short_name(&service.name, 20),
        cluster: service.cluster.clone(),
        service: service.name.clone(),
        container: service.container.clone(),
        desired_count: service.desired_count,
        port: service.port,
        blue_image: images.blue.0.clone(),
        green_image: images.green.0.clone(),
        alarms: scenario.world.deployment_alarms.clone(),
        hooks: hooks.clone(),
        health_check: service.health_check.clone(),
    };
    let stack = CodeDeployStack::build(&aws, &plane, &sim, &spec)
        .await
        .map_err(setup_failed)?;
    crate::stack::ecs::create_secrets(&aws, scenario)
        .await
        .map_err(setup_failed)?;
    if let Some(iam) = world.iam() {
        iam.note_codedeploy_deployment(
            &stack.deployment_id,
            &stack.application,
            &stack.deployment_group,
        );
    }
    for (definition, digest) in [
        (&stack.blue_task_definition, &images.blue.1),
        (&stack.green_task_definition, &images.green.1),
    ] {
        if let Some(digest) = digest {
            digests.set_definition(definition, &service.container, digest);
        }
    }
    stack::create_alarms(&aws, scenario, &stack.load_balancer_arn)
        .await
        .map_err(setup_failed)?;
    plane.set_backends(&stack.blue_target_group, vec![blue_app.addr()]);
    plane.set_backends(&stack.green_target_group, vec![green_app.addr()]);

    let _team_functions = super::runner::start_team_functions(
        scenario,
        &stack.test_listener,
        &stack.production_listener,
        &world,
    )
    .await
    .map_err(fail)?;
    let config = ConfigFile::write(scenario).map_err(fail)?;
    let mut functions: Vec<String> = hooks.values().cloned().collect();
    functions.sort();
    functions.dedup();
    let records: Vec<crate::stack::functions::FunctionRecord> = functions
        .into_iter()
        .map(|name| crate::stack::functions::FunctionRecord {
            name,
            identity: greenlight_core::catalogue::CODEDEPLOY_FUNCTION.to_owned(),
            // The config is bundled in the package: its name there, as the template's
            // ConfigReference would give it.
            config_reference: config.as_ref().and_then(|config| {
                config
                    .0
                    .file_name()
                    .map(|name| name.to_string_lossy().into_owned())
            }),
        })
        .collect();
    crate::stack::functions::register(&aws, &world, &records)
        .await
        .map_err(setup_failed)?;
    if options.stop_before_deploying {
        let rehearsed = super::runner::RehearsedWorld {
            endpoint_url: endpoint.endpoint_url().to_owned(),
            cluster: scenario.service.cluster.clone(),
            service: scenario.service.name.clone(),
            deployment: stack.deployment_id.clone(),
        };
        return Ok(super::runner::before_deploying(scenario, options, rehearsed, began).await);
    }
    let lambda = start_hooks(
        &hooks,
        options,
        &function_env(&aws, &endpoint),
        config.as_ref(),
        &world,
        aws.moto().endpoint_url(),
    )
    .await
    .map_err(fail)?;
    lambda.serve_invocations(&world);

    let load = begin_deployment(
        scenario,
        &world,
        &endpoint,
        stack.production_listener.1,
        slot,
    )
    .await
    .map_err(fail)?;

    let calls = CallTally::new(&endpoint);
    let health_active = AtomicBool::new(target_health_starts_at(scenario, None));
    let moto_url = aws.moto().endpoint_url().to_owned();
    let (blue_app, green_app, world, digests) = (&blue_app, &green_app, &world, &digests);
    let (calls_ref, health_active, moto_url) = (&calls, &health_active, moto_url.as_str());
    let on_event: OnEvent<'_> = Box::new(move |event, stack| {
        Box::pin(async move {
            let moment = Moment {
                stage: event.stage(),
                step: None,
            };
            calls_ref.attribute(Some(event.as_str().to_owned()));
            change_world_at(scenario, moment, blue_app, green_app, moto_url).await?;
            if event == LifecycleEvent::Install
                && let (Some(digest), Some((task, _))) = (
                    &scenario.revisions.green.running_digest,
                    stack.green_tasks().first(),
                )
            {
                digests.set_task(task, &scenario.service.container, digest);
            }
            if target_health_starts_at(scenario, Some(moment)) {
                health_active.store(true, Ordering::Relaxed);
            }
            if health_active.load(Ordering::Relaxed) {
                override_target_health(
                    scenario,
                    world,
                    &stack.green_target_group,
                    &stack.green_targets(),
                );
            }
            Ok(())
        })
    });
    let hook_limit = Duration::try_from_secs_f64(
        HOOK_LIMIT.as_secs_f64() / 60.0 * scenario.deployment.time.seconds_per_minute,
    )
    .unwrap_or(HOOK_LIMIT);
    let driver = CodeDeployDriver::new(
        &stack,
        &sim,
        &plane,
        &lambda,
        CodeDeployRun {
            scenario: scenario.name.clone(),
            desired_count: service.desired_count,
            port: service.port,
            hook_limit,
            green_primary: scenario.deployment.green_primary,
        },
    )
    .on_event(on_event);
    let result = tokio::time::timeout(options.max_duration, driver.run()).await;
    let load_summary = stop_load(load).await;
    let result = deployment_result(result, options.max_duration).map_err(fail)?;
    if let Some(afterwards) = &options.afterwards {
        (afterwards.0)(super::runner::RehearsedWorld {
            endpoint_url: endpoint.endpoint_url().to_owned(),
            cluster: scenario.service.cluster.clone(),
            service: scenario.service.name.clone(),
            deployment: stack.deployment_id.clone(),
        })
        .await;
    }
    let calls_by_stage = calls.by_stage();

    let mut timeline = result.timeline;
    note_load(load_summary, &mut timeline);
    let expectations = check_expectations(
        scenario,
        &result.status,
        result.failed_event.as_deref(),
        &timeline,
    );
    drop(config);
    Ok(SimReport {
        origin: Default::default(),
        scenario: scenario.name.clone(),
        description: scenario.description.clone(),
        strategy: scenario.deployment.controller.as_str().to_owned(),
        subject: Subject {
            service: format!("{}/{}", service.cluster, service.name),
            blue: images.blue.0,
            green: images.green.0,
        },
        timeline,
        expectations,
        calls_by_stage,
        final_status: result.status,
        rollback_stage: result.failed_event,
        duration: began.elapsed(),
        function_logs: lambda.logs(),
    })
}

#[cfg(test)]
mod tests {
    use super::config_path;

    #[test]
    fn runs_of_one_scenario_at_once_each_have_their_own_config_file() {
        // A campaign rehearses one scenario under several seeds at once in one process.
        assert_ne!(
            config_path("codedeploy-good"),
            config_path("codedeploy-good")
        );
    }
}
