//! The hook benchmarks: the real function binaries and the Python reference, each behind its own
//! Lambda Runtime API host, judging stages of one deployment in a moto world where every check
//! passes.
//!
//! The deployment is played in order: green's revision and deployment record, PRE_SCALE_UP, green's
//! tasks (POST_SCALE_UP), the test rule to green (TEST_TRAFFIC_SHIFT), the production rule to green
//! (PRODUCTION_TRAFFIC_SHIFT with the six-check plan), then cold starts of every host, so every
//! invocation sees the state its stage expects.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use greenlight_sim::app::{AppBehaviour, SampleApp};
use greenlight_sim::driver::ecs::{DeploymentIds, DeploymentWorld, Listener};
use greenlight_sim::endpoint::AwsEndpoint;
use greenlight_sim::lambda_host::{FunctionSpec, Invocation, InvocationResult, LambdaHost};
use greenlight_sim::lb::LoadBalancerPlane;
use greenlight_sim::local_aws::LocalAws;
use greenlight_sim::scenario::Scenario;
use greenlight_sim::scenario::rehearsal::RehearsalWorld;
use greenlight_sim::stack::ecs as stack;
use greenlight_sim::world::{Fault, FaultRule, World};
use greenlight_sim::world::{TaskDigestSupplement, TaskDigests};
use serde::Serialize;
use serde_json::{Value, json};

use crate::calls::{
    CallTimes, CriticalPath, POST_SCALE_UP_PATH, SIX_CHECK_PATH, TimedCall, sequential_rounds,
};
use crate::stats::{Summary, round};

/// The world the benchmark judges.
const SCENARIO: &str = include_str!("scenario.yaml");

/// The services the benchmark plans call, by IAM prefix: injected latency hits each.
const SERVICES: &[&str] = &["ecs", "elasticloadbalancing", "ecr", "cloudwatch"];

/// The host name of the Python reference in the results.
pub const REFERENCE: &str = "reference (Python 3 + boto3)";

/// The phase functions benchmarked, with the stage each is invoked at.
const FUNCTIONS: &[(&str, &str)] = &[
    ("pre-scale-up", "PRE_SCALE_UP"),
    ("post-scale-up", "POST_SCALE_UP"),
    ("test-traffic", "TEST_TRAFFIC_SHIFT"),
    ("production-traffic", "PRODUCTION_TRAFFIC_SHIFT"),
];

/// How many of each measurement.
#[derive(Debug, Clone)]
pub struct HookOptions {
    /// Cold starts per host.
    pub cold_rounds: usize,
    /// Warm invocations of the POST_SCALE_UP plan per host.
    pub warm: usize,
    /// Invocations of the six-check plan per host and injected latency.
    pub latency_runs: usize,
    /// Injected latencies per AWS call, besides none.
    pub latencies: Vec<Duration>,
    /// Where the function binaries are.
    pub functions_dir: PathBuf,
    /// Where the reference's `bootstrap` and `handler.py` are.
    pub reference_dir: PathBuf,
    /// The directory of the Python interpreter the reference runs with (boto3 installed).
    pub python_bin_dir: PathBuf,
}

/// Cold starts of one host.
#[derive(Debug, Clone, Serialize)]
pub struct ColdStart {
    /// The function, or the reference.
    pub name: String,
    /// Spawn → first Runtime API `next`.
    pub init: Summary,
}

/// First and warm latency of one host's POST_SCALE_UP invocations.
#[derive(Debug, Clone, Serialize)]
pub struct InvocationLatency {
    /// The function, or the reference.
    pub name: String,
    /// The first invocation, cold start included, in milliseconds.
    pub first_ms: f64,
    /// The warm invocations after it.
    pub warm: Summary,
}

/// Peak resident memory of one host's processes.
#[derive(Debug, Clone, Serialize)]
pub struct Memory {
    /// The function, or the reference.
    pub name: String,
    /// The highest `VmHWM` seen, in MiB.
    pub peak_rss_mib: f64,
}

/// The six-check plan under one injected latency.
#[derive(Debug, Clone, Serialize)]
pub struct StageLatency {
    /// Latency added to every AWS call, in milliseconds.
    pub injected_ms: u64,
    /// Round trips on the longest chain of dependent calls.
    pub critical_path_round_trips: usize,
    /// The chain's length under the injected latency alone (an endpoint answering at once), in
    /// milliseconds.
    pub critical_path_ms: f64,
    /// The longest chain of dependent calls as the endpoint answered greenlight's calls (injected
    /// latency, moto's own time and its queue), per invocation.
    pub critical_path_measured: Summary,
    /// greenlight's invocations.
    pub greenlight: Summary,
    /// The reference's invocations.
    pub reference: Summary,
    /// Waves of calls greenlight made one after another (None without injected latency).
    pub greenlight_rounds: Option<usize>,
    /// Waves of calls the reference made one after another.
    pub reference_rounds: Option<usize>,
}

/// AWS calls of one stage's invocation, counted at the endpoint.
#[derive(Debug, Clone, Serialize)]
pub struct StageCalls {
    /// The stage, and the plan.
    pub stage: String,
    /// greenlight's calls by `service:operation`.
    pub greenlight: BTreeMap<String, usize>,
    /// The reference's calls by `service:operation`.
    pub reference: BTreeMap<String, usize>,
    /// The critical path of the plan, for the README.
    pub critical_path: Vec<String>,
}

/// Everything the hook benchmarks measured.
#[derive(Debug, Clone, Serialize)]
pub struct HookResults {
    /// Cold starts per host.
    pub cold_starts: Vec<ColdStart>,
    /// POST_SCALE_UP latency, greenlight then the reference.
    pub post_scale_up: Vec<InvocationLatency>,
    /// Peak RSS per host.
    pub memory: Vec<Memory>,
    /// The six-check plan under each injected latency.
    pub stage_latency: Vec<StageLatency>,
    /// AWS calls per stage.
    pub api_calls: Vec<StageCalls>,
}

/// A host and what it is called in the results.
struct Host {
    name: String,
    stage: &'static str,
    host: LambdaHost,
}

/// What every event needs.
struct Events<'a> {
    ids: &'a DeploymentIds,
    next_execution: AtomicU64,
}

impl Events<'_> {
    /// An ECS lifecycle hook event for `stage`; weights are (green, blue) percentages.
    fn event(
        &self,
        stage: &str,
        test: Option<(f64, f64)>,
        production: Option<(f64, f64)>,
        config: Option<&Value>,
    ) -> Value {
        let ids = self.ids;
        let weights = |pair: Option<(f64, f64)>| match pair {
            Some((green, blue)) => json!({
                ids.green_revision_arn.clone(): green,
                ids.blue_revision_arn.clone(): blue,
            }),
            None => json!({}),
        };
        let number = self.next_execution.fetch_add(1, Ordering::Relaxed);
        let mut event = json!({
            "executionId": format!("bench-{number:08}"),
            "lifecycleStage": stage,
            "resourceArn": ids.deployment_arn,
            "executionDetails": {
                "serviceArn": ids.service_arn,
                "targetServiceRevisionArn": ids.green_revision_arn,
                "testTrafficWeights": weights(test),
                "productionTrafficWeights": weights(production),
            },
        });
        if let Some(config) = config {
            event["hookDetails"] = json!({ "greenlight": config });
        }
        event
    }
}

/// The six-check plan, inline in `hookDetails` as a service would give it.
fn six_check_config() -> Value {
    json!({
        "version": 1,
        "stages": {
            "PRODUCTION_TRAFFIC_SHIFT": [
                "image",
                { "tasks": { "min_running_percent": 100 } },
                { "target_health": { "group": "green" } },
                { "routing": { "listener": "production" } },
                { "routing": { "listener": "test" } },
                { "alarms": { "include_deployment_alarms": true } },
            ],
        },
    })
}

/// The service deployment record at `stage`, as ECS describes it.
fn deployment_record(
    scenario: &Scenario,
    ids: &DeploymentIds,
    stage: &str,
    green_running: u32,
    green_weights: (f64, f64),
) -> Value {
    let count = scenario.service.desired_count;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|since| since.as_secs_f64())
        .unwrap_or_default();
    json!({
        "serviceDeploymentArn": ids.deployment_arn,
        "serviceArn": ids.service_arn,
        "clusterArn": ids.cluster_arn,
        "createdAt": now - 60.0,
        "startedAt": now - 60.0,
        "updatedAt": now,
        "status": "IN_PROGRESS",
        "lifecycleStage": stage,
        "sourceServiceRevisions": [{
            "arn": ids.blue_revision_arn,
            "requestedTaskCount": count,
            "runningTaskCount": count,
            "pendingTaskCount": 0,
            "requestedTestTrafficWeight": 100.0 - green_weights.0,
            "requestedProductionTrafficWeight": 100.0 - green_weights.1,
        }],
        "targetServiceRevision": {
            "arn": ids.green_revision_arn,
            "requestedTaskCount": count,
            "runningTaskCount": green_running,
            "pendingTaskCount": 0,
            "requestedTestTrafficWeight": green_weights.0,
            "requestedProductionTrafficWeight": green_weights.1,
        },
        "deploymentConfiguration": stack::deployment_configuration(scenario),
        "alarms": {
            "status": "MONITORING",
            "alarmNames": scenario.world.deployment_alarms,
            "triggeredAlarmNames": [],
        },
        "lifecycleHookDetails": [],
    })
}

/// One invocation that must answer SUCCEEDED; anything else is an error naming the host, what it
/// answered and its last log lines, since a benchmark of a failing judgement measures nothing.
async fn invoke_succeeded(host: &Host, payload: &Value) -> Result<Invocation, String> {
    let invocation = host
        .host
        .invoke(payload)
        .await
        .map_err(|error| format!("{}: {error}", host.name))?;
    let status = match &invocation.result {
        InvocationResult::Response(answer) => answer["hookStatus"].as_str().map(str::to_owned),
        _ => None,
    };
    if status.as_deref() == Some("SUCCEEDED") {
        return Ok(invocation);
    }
    let logs = host.host.logs();
    let tail: Vec<&String> = logs
        .iter()
        .rev()
        .take(15)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    Err(format!(
        "{} at {} did not answer SUCCEEDED in the benchmark world: {:?}\nits last log lines:\n{}",
        host.name,
        host.stage,
        invocation.result,
        tail.iter()
            .map(|line| format!("  {line}"))
            .collect::<Vec<_>>()
            .join("\n")
    ))
}

/// An invocation with its calls counted and timed at the functions' endpoint.
async fn measured(
    host: &Host,
    payload: &Value,
    endpoint: &AwsEndpoint,
    times: &CallTimes,
) -> Result<(Invocation, BTreeMap<String, usize>, Vec<TimedCall>), String> {
    endpoint.reset_calls();
    times.clear();
    let invocation = invoke_succeeded(host, payload).await?;
    let counts = endpoint
        .call_counts()
        .into_iter()
        .map(|((service, operation), count)| (format!("{service}:{operation}"), count))
        .collect();
    Ok((invocation, counts, times.take()))
}

fn summary(samples: &[Duration], what: &str) -> Result<Summary, String> {
    Summary::of(samples).ok_or_else(|| format!("no samples of {what}"))
}

fn function_binary(dir: &Path, name: &str) -> Result<PathBuf, String> {
    let binary = dir.join(name);
    if binary.is_file() {
        Ok(binary)
    } else {
        Err(format!(
            "the function binary {} is not built: run `cargo build --release -p {name}` (make bench does)",
            binary.display()
        ))
    }
}

/// Runs the hook benchmarks.
pub async fn run(options: &HookOptions) -> Result<HookResults, String> {
    let scenario =
        Scenario::parse(SCENARIO, "bench/src/scenario.yaml").map_err(|e| e.to_string())?;
    let world = World::new();
    let aws = LocalAws::start_with_world(&world)
        .await
        .map_err(|error| format!("cannot start moto and the local endpoint: {error}"))?;
    let digests = Arc::new(TaskDigests::default());
    // The functions' own endpoint: every call timed around the world (faults first), then the
    // running containers' digests, which moto does not report, then moto.
    let mut supplements = world.supplements();
    supplements.push(Arc::new(TaskDigestSupplement(Arc::clone(&digests))));
    let times = CallTimes::around(supplements);
    let endpoint = AwsEndpoint::builder(aws.moto().endpoint_url())
        .supplement(times.clone())
        .start()
        .await
        .map_err(|error| format!("cannot start the functions' endpoint: {error}"))?;
    let plane = LoadBalancerPlane::new(aws.moto().endpoint_url(), &world);
    let blue_app = SampleApp::start(AppBehaviour::version("blue"))
        .await
        .map_err(|error| format!("cannot start blue's app: {error}"))?;
    let green_app = SampleApp::start(AppBehaviour::version("green"))
        .await
        .map_err(|error| format!("cannot start green's app: {error}"))?;
    let stack = stack::build(&scenario, &aws, &world, &plane, &digests)
        .await
        .map_err(|error| format!("setting up the benchmark world failed: {error}"))?;
    let rehearsal = RehearsalWorld::new(
        &scenario, &stack, &aws, &world, &plane, &blue_app, &green_app, &digests, &endpoint,
    );

    // The hosts: the four phase functions and the reference.
    let env = greenlight_sim::scenario::runner::function_env(&aws, &endpoint);
    let mut hosts: Vec<Host> = Vec::new();
    for (function, stage) in FUNCTIONS {
        let mut spec = FunctionSpec::new(
            function_binary(&options.functions_dir, function)?,
            format!("greenlight-{function}"),
        );
        spec.timeout = Duration::from_secs(60);
        spec.env = env.clone();
        hosts.push(Host {
            name: (*function).to_owned(),
            stage,
            host: LambdaHost::start(spec).await.map_err(|e| e.to_string())?,
        });
    }
    let bootstrap = options.reference_dir.join("bootstrap");
    let mut spec = FunctionSpec::new(&bootstrap, "reference-hook");
    spec.timeout = Duration::from_secs(60);
    spec.env = env.clone();
    // The bootstrap's `#!/usr/bin/env python3` finds the interpreter with boto3 first.
    spec.env.push((
        "PATH".to_owned(),
        format!(
            "{}:{}",
            options.python_bin_dir.display(),
            std::env::var("PATH").unwrap_or_default()
        ),
    ));
    hosts.push(Host {
        name: REFERENCE.to_owned(),
        stage: "POST_SCALE_UP",
        host: LambdaHost::start(spec)
            .await
            .map_err(|error| format!("the reference ({}): {error}", bootstrap.display()))?,
    });
    let reference = hosts.len() - 1;
    let by_name = |name: &str| hosts.iter().position(|host| host.name == name);
    let post_scale_up = by_name("post-scale-up").ok_or("no post-scale-up host")?;
    let production = by_name("production-traffic").ok_or("no production-traffic host")?;

    let ids = &stack.ids;
    let events = Events {
        ids,
        next_execution: AtomicU64::new(1),
    };
    let six_checks = six_check_config();
    let put_record = |stage: &str, running: u32, weights: (f64, f64)| {
        rehearsal.put_deployment(deployment_record(&scenario, ids, stage, running, weights))
    };
    let world_error = |error: greenlight_sim::driver::ecs::DriverError| error.to_string();

    // PRE_SCALE_UP.
    rehearsal
        .put_revision(stack.green_revision.clone())
        .await
        .map_err(world_error)?;
    put_record("PRE_SCALE_UP", 0, (0.0, 0.0))
        .await
        .map_err(world_error)?;
    let pre_scale_up_event = events.event("PRE_SCALE_UP", None, None, None);
    let pre = by_name("pre-scale-up").ok_or("no pre-scale-up host")?;
    invoke_succeeded(&hosts[pre], &pre_scale_up_event).await?;

    // POST_SCALE_UP: first and warm invocations, and one invocation's calls.
    let running = rehearsal.scale_up_green().await.map_err(world_error)?;
    put_record("POST_SCALE_UP", running, (0.0, 0.0))
        .await
        .map_err(world_error)?;
    let post_event = events.event("POST_SCALE_UP", None, None, None);
    let mut post_latency = Vec::new();
    let mut post_calls = BTreeMap::new();
    for index in [post_scale_up, reference] {
        let host = &hosts[index];
        let (first, counts, _) = measured(host, &post_event, &endpoint, &times).await?;
        let mut warm = Vec::new();
        for _ in 0..options.warm {
            warm.push(invoke_succeeded(host, &post_event).await?.latency);
        }
        post_calls.insert(index, counts);
        post_latency.push(InvocationLatency {
            name: host.name.clone(),
            first_ms: round(first.latency.as_secs_f64() * 1000.0),
            warm: summary(&warm, "warm POST_SCALE_UP invocations")?,
        });
    }

    // TEST_TRAFFIC_SHIFT.
    rehearsal
        .shift(Listener::Test, 100.0, 0.0)
        .await
        .map_err(world_error)?;
    put_record("TEST_TRAFFIC_SHIFT", running, (100.0, 0.0))
        .await
        .map_err(world_error)?;
    let test_event = events.event("TEST_TRAFFIC_SHIFT", Some((100.0, 0.0)), None, None);
    let test = by_name("test-traffic").ok_or("no test-traffic host")?;
    invoke_succeeded(&hosts[test], &test_event).await?;

    // PRODUCTION_TRAFFIC_SHIFT with the six-check plan, under each injected latency.
    rehearsal
        .shift(Listener::Production, 100.0, 0.0)
        .await
        .map_err(world_error)?;
    put_record("PRODUCTION_TRAFFIC_SHIFT", running, (100.0, 100.0))
        .await
        .map_err(world_error)?;
    let production_event = events.event(
        "PRODUCTION_TRAFFIC_SHIFT",
        Some((100.0, 0.0)),
        Some((100.0, 0.0)),
        Some(&six_checks),
    );
    // Warm both hosts up: the cold start is measured on its own.
    let (_, six_calls_greenlight, _) =
        measured(&hosts[production], &production_event, &endpoint, &times).await?;
    let (_, six_calls_reference, _) =
        measured(&hosts[reference], &production_event, &endpoint, &times).await?;
    let mut stage_latency = Vec::new();
    let latencies = std::iter::once(Duration::ZERO).chain(options.latencies.iter().copied());
    for injected in latencies {
        world.faults().clear();
        if !injected.is_zero() {
            for service in SERVICES {
                world
                    .faults()
                    .add(FaultRule::new(service, Fault::Latency(injected)))
                    .map_err(|error| error.to_string())?;
            }
        }
        let mut samples: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
        let mut rounds: [Option<usize>; 2] = [None, None];
        let mut paths = Vec::new();
        for _ in 0..options.latency_runs {
            for (slot, index) in [production, reference].into_iter().enumerate() {
                let (invocation, _, calls) =
                    measured(&hosts[index], &production_event, &endpoint, &times).await?;
                samples[slot].push(invocation.latency);
                let arrivals: Vec<_> = calls.iter().map(|call| call.arrived).collect();
                // The most waves any run made: a run that happened to overlap less is no proof.
                rounds[slot] = rounds[slot].max(sequential_rounds(&arrivals, injected));
                if index == production {
                    paths.push(SIX_CHECK_PATH.measured(&calls).ok_or(
                        "greenlight's six-check invocation did not make the calls of its chains",
                    )?);
                }
            }
        }
        world.faults().clear();
        stage_latency.push(StageLatency {
            injected_ms: u64::try_from(injected.as_millis()).unwrap_or(u64::MAX),
            critical_path_round_trips: SIX_CHECK_PATH.round_trips(),
            critical_path_ms: round(SIX_CHECK_PATH.floor(injected).as_secs_f64() * 1000.0),
            critical_path_measured: summary(&paths, "six-check critical paths")?,
            greenlight: summary(&samples[0], "six-check invocations")?,
            reference: summary(&samples[1], "reference invocations")?,
            greenlight_rounds: rounds[0],
            reference_rounds: rounds[1],
        });
    }

    // Cold starts: every host restarted, in turn, round after round.
    let cold_events: Vec<Value> = hosts
        .iter()
        .map(|host| match host.stage {
            "PRE_SCALE_UP" => pre_scale_up_event.clone(),
            "TEST_TRAFFIC_SHIFT" => test_event.clone(),
            "PRODUCTION_TRAFFIC_SHIFT" => production_event.clone(),
            _ => post_event.clone(),
        })
        .collect();
    let mut inits: Vec<Vec<Duration>> = vec![Vec::new(); hosts.len()];
    for _ in 0..options.cold_rounds {
        for (index, host) in hosts.iter().enumerate() {
            host.host.stop_function().await;
            let invocation = host
                .host
                .invoke(&cold_events[index])
                .await
                .map_err(|error| format!("{}: {error}", host.name))?;
            match invocation.init {
                Some(init) => inits[index].push(init),
                None => {
                    return Err(format!(
                        "{} started but never asked for an event ({:?})",
                        host.name, invocation.result
                    ));
                }
            }
        }
    }
    let mut cold_starts = Vec::new();
    let mut memory = Vec::new();
    for (index, host) in hosts.iter().enumerate() {
        cold_starts.push(ColdStart {
            name: host.name.clone(),
            init: summary(&inits[index], "cold starts")?,
        });
        memory.push(Memory {
            name: host.name.clone(),
            peak_rss_mib: round(host.host.peak_rss_kb() as f64 / 1024.0),
        });
    }

    let chain = |path: &CriticalPath| path.chain.iter().map(|call| (*call).to_owned()).collect();
    let api_calls = vec![
        StageCalls {
            stage: "POST_SCALE_UP (built-in plan: tasks, target_health)".to_owned(),
            greenlight: post_calls.remove(&post_scale_up).unwrap_or_default(),
            reference: post_calls.remove(&reference).unwrap_or_default(),
            critical_path: chain(&POST_SCALE_UP_PATH),
        },
        StageCalls {
            stage: "PRODUCTION_TRAFFIC_SHIFT (six checks)".to_owned(),
            greenlight: six_calls_greenlight,
            reference: six_calls_reference,
            critical_path: chain(&SIX_CHECK_PATH),
        },
    ];
    for host in &hosts {
        host.host.stop_function().await;
    }
    Ok(HookResults {
        cold_starts,
        post_scale_up: post_latency,
        memory,
        stage_latency,
        api_calls,
    })
}
