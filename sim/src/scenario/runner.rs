//! Running a scenario end to end.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::format::{FaultKind, Scenario, Strategy};
use super::setup::{self, RehearsalWorld, TaskDigestSupplement, TaskDigests};
use crate::app::SampleApp;
use crate::driver::ecs::{EcsDeployment, EcsDriver, Hook};
use crate::driver::{HookCall, HookCallOutcome, HookInvoker};
use crate::endpoint::AwsEndpoint;
use crate::lambda_host::{FunctionSpec, InvocationResult, LambdaHost, workspace_binary};
use crate::lb::LoadBalancerPlane;
use crate::testing::LocalAws;
use crate::timeline::{ExpectationResult, SimReport, Subject, TimelineEvent};
use crate::traffic::LoadGenerator;
use crate::world::{Fault, FaultRule, World};

/// A rehearsal could not be run (as opposed to a deployment that rolled back).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("scenario {scenario}: {message}")]
pub struct RunError {
    /// The scenario's name.
    pub scenario: String,
    /// What failed.
    pub message: String,
}

/// How to run a scenario.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Where the function binaries are (default: next to the running executable, as cargo puts
    /// them: `target/<profile>/`).
    pub functions_dir: Option<PathBuf>,
    /// Each function invocation's deadline (Lambda's function timeout).
    pub function_timeout: Duration,
    /// The most the whole deployment may take, real time: a hang guard.
    pub max_duration: Duration,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            functions_dir: None,
            function_timeout: Duration::from_secs(30),
            max_duration: Duration::from_secs(600),
        }
    }
}

/// The function binaries, each behind its own Runtime API host, invoked by name.
pub struct FunctionHosts {
    hosts: BTreeMap<String, LambdaHost>,
}

impl FunctionHosts {
    /// Starts a host for each function, with `env` (endpoint, credentials, JSON logs).
    pub async fn start(
        functions: &[String],
        dir: Option<&PathBuf>,
        env: &[(String, String)],
        timeout: Duration,
    ) -> Result<Self, String> {
        let mut hosts = BTreeMap::new();
        for function in functions {
            if hosts.contains_key(function) {
                continue;
            }
            let binary = match dir {
                Some(dir) => dir.join(function),
                None => workspace_binary(function),
            };
            if !binary.is_file() {
                return Err(format!(
                    "the function binary {} is not built: run `cargo build -p {function}` (or `make test`)",
                    binary.display()
                ));
            }
            let mut spec = FunctionSpec::new(binary, format!("greenlight-{function}"));
            spec.timeout = timeout;
            spec.env = env.to_vec();
            let host = LambdaHost::start(spec)
                .await
                .map_err(|error| error.to_string())?;
            hosts.insert(function.clone(), host);
        }
        Ok(FunctionHosts { hosts })
    }
}

impl HookInvoker for FunctionHosts {
    async fn invoke(&self, function: &str, payload: &Value) -> HookCall {
        let Some(host) = self.hosts.get(function) else {
            return HookCall {
                outcome: HookCallOutcome::Failed(format!("no function named {function}")),
                latency: Duration::ZERO,
                cold: false,
                logs: Vec::new(),
            };
        };
        match host.invoke(payload).await {
            Ok(invocation) => HookCall {
                outcome: match invocation.result {
                    InvocationResult::Response(value) => HookCallOutcome::Response(value),
                    InvocationResult::Error {
                        error_type,
                        message,
                    } => HookCallOutcome::Failed(format!("{error_type}: {message}")),
                    InvocationResult::Timeout => {
                        HookCallOutcome::Failed("the function timed out".to_owned())
                    }
                    InvocationResult::Crashed(detail) => HookCallOutcome::Failed(detail),
                },
                latency: invocation.latency,
                cold: invocation.cold,
                logs: invocation.logs,
            },
            Err(error) => HookCall {
                outcome: HookCallOutcome::Failed(error.to_string()),
                latency: Duration::ZERO,
                cold: false,
                logs: Vec::new(),
            },
        }
    }
}

/// The deployment the driver runs for a scenario, with real durations.
pub fn ecs_deployment(scenario: &Scenario, stack: &setup::Stack) -> EcsDeployment {
    let deployment = &scenario.deployment;
    let scale = deployment.time.seconds_per_minute;
    let minutes = |value: f64| Duration::try_from_secs_f64(value * scale).unwrap_or(Duration::MAX);
    let (step_percent, step_bake) = deployment
        .linear_configuration
        .as_ref()
        .map_or((10.0, 6.0), |linear| {
            (linear.step_percent, linear.step_bake_time_in_minutes)
        });
    let (canary_percent, canary_bake) = deployment
        .canary_configuration
        .as_ref()
        .map_or((5.0, 10.0), |canary| {
            (canary.canary_percent, canary.canary_bake_time_in_minutes)
        });
    let step_bake = match deployment.strategy {
        Strategy::Linear => minutes(step_bake),
        Strategy::Canary => minutes(canary_bake),
        Strategy::BlueGreen | Strategy::Rolling => Duration::ZERO,
    };
    EcsDeployment {
        scenario: scenario.name.clone(),
        strategy: deployment.strategy,
        production_steps: EcsDeployment::steps_for(
            deployment.strategy,
            step_percent,
            canary_percent,
        ),
        step_bake,
        bake_time: minutes(deployment.bake_time_in_minutes),
        seconds_per_minute: scale,
        callback_scale: deployment.time.callback_scale,
        hooks: deployment
            .lifecycle_hooks
            .iter()
            .map(|hook| Hook {
                function: hook.function.clone(),
                function_arn: setup::function_arn(&hook.function),
                stages: hook.lifecycle_stages.clone(),
                hook_details: hook
                    .hook_details
                    .as_ref()
                    .and_then(Value::as_object)
                    .cloned(),
                timeout_in_minutes: hook.timeout_configuration.as_ref().map_or(
                    crate::driver::ecs::DEFAULT_HOOK_TIMEOUT_MINUTES,
                    |timeout| timeout.timeout_in_minutes,
                ),
                timeout_action: hook
                    .timeout_configuration
                    .as_ref()
                    .map(|timeout| timeout.action)
                    .unwrap_or_default(),
            })
            .collect(),
        ids: stack.ids.clone(),
        green_revision: stack.green_revision.clone(),
        desired_count: scenario.service.desired_count,
        deployment_alarms: scenario.world.deployment_alarms.clone(),
        deployment_configuration: setup::deployment_configuration(scenario),
    }
}

/// The fault rule a scenario's fault describes.
pub fn fault_rule(fault: &super::format::FaultSpec) -> FaultRule {
    let kind = match fault.kind {
        FaultKind::Latency => Fault::Latency(Duration::from_millis(fault.latency_ms.unwrap_or(0))),
        FaultKind::Throttle => Fault::Throttle,
        FaultKind::ServerError => Fault::ServerError,
        FaultKind::AccessDenied => Fault::AccessDenied,
        FaultKind::DropConnection => Fault::DropConnection,
    };
    let seconds = |value: Option<f64>| value.and_then(|s| Duration::try_from_secs_f64(s).ok());
    let mut rule = FaultRule::new(&fault.service, kind)
        .probability(fault.probability)
        .window(seconds(fault.after_seconds), seconds(fault.until_seconds));
    if let Some(operation) = &fault.operation {
        rule = rule.operation(operation);
    }
    if let Some(max_hits) = fault.max_hits {
        rule = rule.max_hits(max_hits);
    }
    rule
}

/// Rehearses `scenario`: starts moto with the sim's world, the data plane, the sample apps, the
/// load generator and the function binaries; builds the world; runs the deployment; checks the
/// expectations.
pub async fn run(scenario: &Scenario, options: &RunOptions) -> Result<SimReport, RunError> {
    let began = Instant::now();
    let fail = |message: String| RunError {
        scenario: scenario.name.clone(),
        message,
    };
    let world = World::new();
    let aws = LocalAws::start_with_world(&world)
        .await
        .map_err(|error| fail(format!("cannot start the local AWS: {error}")))?;
    let digests = Arc::new(TaskDigests::default());
    // The functions' own endpoint: the world's supplements (faults first), and the running
    // containers' digests, which moto does not report.
    let endpoint = AwsEndpoint::builder(aws.moto().endpoint_url())
        .supplements(world.supplements())
        .supplement(TaskDigestSupplement(Arc::clone(&digests)))
        .start()
        .await
        .map_err(|error| fail(format!("cannot start the functions' endpoint: {error}")))?;
    let plane = LoadBalancerPlane::new(aws.moto().endpoint_url(), &world);
    let blue_app = SampleApp::start(setup::behaviour(&scenario.revisions.blue.app, "blue", 11))
        .await
        .map_err(|error| fail(format!("cannot start blue's app: {error}")))?;
    let green_app = SampleApp::start(setup::behaviour(&scenario.revisions.green.app, "green", 22))
        .await
        .map_err(|error| fail(format!("cannot start green's app: {error}")))?;

    let stack = setup::build(scenario, &aws, &world, &plane, &digests)
        .await
        .map_err(|error| fail(format!("setting up the world failed: {error}")))?;
    plane.set_backends(&stack.blue_target_group, vec![blue_app.addr()]);
    for (listener, port) in [&stack.production_listener, &stack.test_listener] {
        plane
            .serve(listener, *port)
            .await
            .map_err(|error| fail(format!("cannot serve listener {listener}: {error}")))?;
    }

    let mut env: Vec<(String, String)> = aws
        .function_env()
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect();
    for (key, value) in &mut env {
        if key == "AWS_ENDPOINT_URL" {
            *value = endpoint.endpoint_url().to_owned();
        }
    }
    env.push(("AWS_LAMBDA_LOG_FORMAT".into(), "JSON".into()));
    let functions: Vec<String> = scenario
        .deployment
        .lifecycle_hooks
        .iter()
        .map(|hook| hook.function.clone())
        .collect();
    let hosts = FunctionHosts::start(
        &functions,
        options.functions_dir.as_ref(),
        &env,
        options.function_timeout,
    )
    .await
    .map_err(fail)?;

    let deployment = ecs_deployment(scenario, &stack);
    let rehearsal = RehearsalWorld::new(
        scenario, &stack, &aws, &world, &plane, &blue_app, &green_app, &digests, &endpoint,
    );
    for fault in &scenario.faults {
        world
            .faults()
            .add(fault_rule(fault))
            .map_err(|error| fail(format!("invalid fault: {error}")))?;
    }
    let load = match scenario.deployment.production_load {
        0 => None,
        rate => Some(
            LoadGenerator::start(
                &format!("http://127.0.0.1:{}/", stack.production_listener.1),
                f64::from(rate),
                16,
            )
            .map_err(|error| fail(format!("cannot start the production load: {error}")))?,
        ),
    };
    endpoint.reset_calls();

    let driver = EcsDriver::new(&deployment, &hosts, &rehearsal);
    let result = tokio::time::timeout(options.max_duration, driver.run()).await;
    let load_summary = match load {
        Some(load) => Some(load.stop().await),
        None => None,
    };
    let result = result
        .map_err(|_| {
            fail(format!(
                "the deployment did not finish within {} s",
                options.max_duration.as_secs()
            ))
        })?
        .map_err(|error| fail(format!("the rehearsal failed: {error}")))?;
    let calls_by_stage = rehearsal.calls_by_stage();
    drop(rehearsal);

    let mut timeline = result.timeline;
    if let Some(summary) = load_summary {
        let by_status: Vec<String> = summary
            .by_status
            .iter()
            .map(|(status, count)| format!("{status}: {count}"))
            .collect();
        let at = timeline.span();
        timeline.record(
            at,
            TimelineEvent::Note(format!(
                "production load: {} requests ({})",
                summary.requests,
                by_status.join(", ")
            )),
        );
    }
    let rollback_stage = result.rollback_stage.map(|stage| stage.as_str().to_owned());
    let expectations = check_expectations(
        scenario,
        &result.status,
        rollback_stage.as_deref(),
        &timeline,
    );
    Ok(SimReport {
        scenario: scenario.name.clone(),
        description: scenario.description.clone(),
        strategy: scenario.deployment.strategy.as_str().to_owned(),
        subject: Subject {
            service: format!("{}/{}", scenario.service.cluster, scenario.service.name),
            blue: stack.blue_image.clone(),
            green: stack.green_image.0.clone(),
        },
        timeline,
        expectations,
        calls_by_stage,
        final_status: result.status,
        rollback_stage,
        duration: began.elapsed(),
    })
}

/// Every reason code the functions gave: verdicts and checks.
pub fn reason_codes(timeline: &crate::timeline::Timeline) -> Vec<String> {
    let mut codes = Vec::new();
    for event in timeline.events() {
        if let TimelineEvent::HookAnswered { reason, checks, .. } = &event.event {
            codes.extend(reason.iter().cloned());
            codes.extend(checks.iter().map(|check| check.code.clone()));
        }
    }
    codes.sort();
    codes.dedup();
    codes
}

fn check_expectations(
    scenario: &Scenario,
    status: &str,
    rollback_stage: Option<&str>,
    timeline: &crate::timeline::Timeline,
) -> Vec<ExpectationResult> {
    let expect = &scenario.expect;
    let mut results = vec![ExpectationResult {
        what: "final status".to_owned(),
        expected: expect.status.clone(),
        actual: status.to_owned(),
        met: expect.status == status,
    }];
    if let Some(stage) = expect.rollback_stage {
        let actual = rollback_stage.unwrap_or("none").to_owned();
        results.push(ExpectationResult {
            what: "rollback stage".to_owned(),
            expected: stage.as_str().to_owned(),
            met: actual == stage.as_str(),
            actual,
        });
    }
    let seen = reason_codes(timeline);
    for code in &expect.reason_codes {
        let met = seen.contains(code);
        results.push(ExpectationResult {
            what: format!("reason code {code}"),
            expected: "reported".to_owned(),
            actual: if met {
                "reported".to_owned()
            } else {
                format!("not reported (seen: {})", seen.join(", "))
            },
            met,
        });
    }
    results
}
