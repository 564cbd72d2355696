//! The world a rehearsal's driver acts on: moto, the sim's records, the data plane and the sample
//! apps, changed as the scenario says when the deployment reaches each moment; and the functions'
//! AWS calls, tallied per moment.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use aws_sdk_elasticloadbalancingv2 as elb;
use serde_json::{Value, json};

use super::format::{AppSpec, DigestResolved, Scenario, Topology};
use crate::app::{AppBehaviour, LatencyProfile, SampleApp};
use crate::driver::Moment;
use crate::driver::ecs::{DeploymentWorld, DriverError, Listener, PauseAction};
use crate::endpoint::AwsEndpoint;
use crate::lb::LoadBalancerPlane;
use crate::local_aws::LocalAws;
use crate::moto_client::Moto;
use crate::stack::ecs::{Stack, forward, register_targets, run_tasks, set_alarm_state};
use crate::stack::util::{moto_elb_client, sdk_error};
use crate::world::TaskDigests;
use crate::world::{TargetHealthOverride, World};

/// What the scenario changes when the deployment reaches `moment`: the apps' behaviour and the
/// alarms' states. (Green's target health is applied by the driver's world, which knows the
/// targets.)
pub(crate) async fn change_world_at(
    scenario: &Scenario,
    moment: Moment,
    blue_app: &SampleApp,
    green_app: &SampleApp,
    moto_url: &str,
) -> Result<(), DriverError> {
    for (app, spec, version, seed) in [
        (blue_app, &scenario.revisions.blue, "blue", 11),
        (green_app, &scenario.revisions.green, "green", 22),
    ] {
        for change in &spec.behaviour_after {
            if moment.matches(&change.at.moment()) {
                app.set_behaviour(behaviour(&change.app, version, seed))
                    .map_err(|error| DriverError::new("change app behaviour", error.to_string()))?;
            }
        }
    }
    let moto = Moto::new(moto_url);
    for alarm in &scenario.world.alarms {
        for change in &alarm.changes {
            if moment.matches(&change.at.moment()) {
                let reason = change
                    .reason
                    .clone()
                    .unwrap_or_else(|| format!("set by the scenario at {moment}"));
                set_alarm_state(&moto, &alarm.name, &change.state, &reason).await?;
            }
        }
    }
    Ok(())
}

/// Whether green's scenario target health applies from `moment` on (None: from the start).
pub(crate) fn target_health_starts_at(scenario: &Scenario, moment: Option<Moment>) -> bool {
    match (&scenario.world.green_target_health, moment) {
        (Some(health), None) => health.from.is_none(),
        (Some(health), Some(moment)) => health
            .from
            .is_some_and(|from| moment.matches(&from.moment())),
        (None, _) => false,
    }
}

/// Makes green's targets report the scenario's target health.
pub(crate) fn override_target_health(
    scenario: &Scenario,
    world: &World,
    target_group: &str,
    ips: &[String],
) {
    let Some(health) = &scenario.world.green_target_health else {
        return;
    };
    let overriding = TargetHealthOverride {
        state: health.state.clone(),
        reason: health.reason.clone(),
        description: health.description.clone(),
    };
    for ip in ips {
        world
            .target_health()
            .set(target_group, ip, None, overriding.clone());
    }
}

/// The functions' AWS calls, attributed to the moment during which they were made: the
/// endpoint's counts move into the current moment's tally each time a new moment begins.
pub struct CallTally<'a> {
    endpoint: &'a AwsEndpoint,
    state: Mutex<Tally>,
}

/// The moment being counted, and the counts so far per moment then per `service:Operation`.
#[derive(Default)]
struct Tally {
    current: Option<String>,
    by_stage: BTreeMap<String, BTreeMap<String, usize>>,
}

impl<'a> CallTally<'a> {
    /// Counts the calls `endpoint` sees.
    pub fn new(endpoint: &'a AwsEndpoint) -> Self {
        CallTally {
            endpoint,
            state: Mutex::new(Tally::default()),
        }
    }

    /// Closes the current moment's tally and, with `next`, starts another.
    pub fn attribute(&self, next: Option<String>) {
        let counts = self.endpoint.call_counts();
        self.endpoint.reset_calls();
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let label = state
            .current
            .clone()
            .unwrap_or_else(|| "before the deployment".to_owned());
        if !counts.is_empty() {
            let tally = state.by_stage.entry(label).or_default();
            for ((service, operation), count) in counts {
                *tally.entry(format!("{service}:{operation}")).or_default() += count;
            }
        }
        if let Some(next) = next {
            state.current = Some(next);
        }
    }

    /// The calls so far, per moment then per `service:Operation`.
    pub fn by_stage(&self) -> BTreeMap<String, BTreeMap<String, usize>> {
        self.attribute(None);
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .by_stage
            .clone()
    }
}

/// Blue's and green's sample apps, answering as the scenario says.
pub async fn start_apps(scenario: &Scenario) -> Result<(SampleApp, SampleApp), String> {
    let blue = SampleApp::start(behaviour(&scenario.revisions.blue.app, "blue", 11))
        .await
        .map_err(|error| format!("cannot start blue's app: {error}"))?;
    let green = SampleApp::start(behaviour(&scenario.revisions.green.app, "green", 22))
        .await
        .map_err(|error| format!("cannot start green's app: {error}"))?;
    Ok((blue, green))
}

/// The app behaviour a scenario describes for a revision.
pub fn behaviour(app: &AppSpec, version: &str, seed: u64) -> AppBehaviour {
    AppBehaviour {
        status_mix: app.status_mix.clone(),
        paths: app.paths.clone(),
        protected_paths: app.protected_paths.clone(),
        latency: LatencyProfile {
            base: Duration::from_millis(app.latency.base_ms),
            jitter: Duration::from_millis(app.latency.jitter_ms),
            slow_fraction: app.latency.slow_fraction,
            slow: Duration::from_millis(app.latency.slow_ms),
        },
        body: app.body.clone().unwrap_or_default(),
        version: version.to_owned(),
        seed,
    }
}

/// The world the driver acts on in a rehearsal: moto, the sim's records, the data plane and the
/// sample apps.
pub struct RehearsalWorld<'a> {
    /// The scenario.
    pub scenario: &'a Scenario,
    /// What setup created.
    pub stack: &'a Stack,
    /// The sim's world.
    pub world: &'a World,
    /// The data plane.
    pub plane: &'a LoadBalancerPlane,
    /// Blue's app.
    pub blue_app: &'a SampleApp,
    /// Green's app.
    pub green_app: &'a SampleApp,
    /// Running containers' digests.
    pub digests: &'a TaskDigests,
    /// The endpoint the functions call (for per-stage call counts).
    pub endpoint: &'a AwsEndpoint,
    moto: Moto,
    moto_url: String,
    elb: elb::Client,
    calls: CallTally<'a>,
    state: Mutex<RehearsalState>,
}

#[derive(Default)]
struct RehearsalState {
    green_tasks: Vec<(String, String)>,
    health_active: bool,
}

impl<'a> RehearsalWorld<'a> {
    /// The world for a rehearsal; `aws` is the local AWS setup used.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        scenario: &'a Scenario,
        stack: &'a Stack,
        aws: &LocalAws,
        world: &'a World,
        plane: &'a LoadBalancerPlane,
        blue_app: &'a SampleApp,
        green_app: &'a SampleApp,
        digests: &'a TaskDigests,
        endpoint: &'a AwsEndpoint,
    ) -> Self {
        RehearsalWorld {
            scenario,
            stack,
            world,
            plane,
            blue_app,
            green_app,
            digests,
            endpoint,
            moto: Moto::new(aws.moto().endpoint_url()),
            moto_url: aws.moto().endpoint_url().to_owned(),
            elb: moto_elb_client(aws),
            calls: CallTally::new(endpoint),
            state: Mutex::new(RehearsalState {
                health_active: target_health_starts_at(scenario, None),
                ..RehearsalState::default()
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, RehearsalState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The functions' AWS calls so far, attributed to the moment during which they were made.
    pub fn calls_by_stage(&self) -> BTreeMap<String, BTreeMap<String, usize>> {
        self.calls.by_stage()
    }

    fn apply_target_health(&self) {
        let state = self.lock();
        if !state.health_active {
            return;
        }
        let ips: Vec<String> = state.green_tasks.iter().map(|(_, ip)| ip.clone()).collect();
        drop(state);
        override_target_health(
            self.scenario,
            self.world,
            &self.stack.green_target_group,
            &ips,
        );
    }
}

impl DeploymentWorld for RehearsalWorld<'_> {
    fn pause_decision(&self, deployment_arn: &str, hook_id: &str) -> Option<PauseAction> {
        self.world.ecs().pause_decision(deployment_arn, hook_id)
    }

    async fn put_revision(&self, revision: Value) -> Result<(), DriverError> {
        self.world
            .ecs()
            .put_revision(revision)
            .map_err(|error| DriverError::new("put a service revision", error.to_string()))
    }

    async fn put_deployment(&self, deployment: Value) -> Result<(), DriverError> {
        self.world
            .ecs()
            .put_deployment(deployment)
            .map_err(|error| DriverError::new("put the service deployment", error.to_string()))
    }

    async fn reached(&self, moment: Moment, rolling_back: bool) -> Result<(), DriverError> {
        if rolling_back {
            self.calls.attribute(Some(format!("rollback: {moment}")));
            return Ok(());
        }
        self.calls.attribute(Some(moment.to_string()));
        change_world_at(
            self.scenario,
            moment,
            self.blue_app,
            self.green_app,
            &self.moto_url,
        )
        .await?;
        if target_health_starts_at(self.scenario, Some(moment)) {
            self.lock().health_active = true;
            self.apply_target_health();
        }
        Ok(())
    }

    async fn scale_up_green(&self) -> Result<u32, DriverError> {
        let service = &self.scenario.service;
        let tasks = run_tasks(
            &self.moto,
            &self.stack.ids.cluster_arn,
            &self.stack.green_task_definition,
            service.desired_count,
            &self.stack.subnets,
            &service.name,
        )
        .await?;
        if let (Some(digest), Some((first, _))) =
            (&self.scenario.revisions.green.running_digest, tasks.first())
        {
            self.digests.set_task(first, &service.container, digest);
        }
        if self.scenario.revisions.green.digest_resolved == DigestResolved::AfterFirstTask
            && !tasks.is_empty()
        {
            // The first task started establishes the revision's digests.
            self.put_revision(self.stack.green_revision_resolved.clone())
                .await?;
        }
        let ips: Vec<String> = tasks.iter().map(|(_, ip)| ip.clone()).collect();
        register_targets(
            &self.elb,
            &self.stack.green_target_group,
            &ips,
            service.port,
        )
        .await?;
        self.plane
            .set_backends(&self.stack.green_target_group, vec![self.green_app.addr()]);
        let count = tasks.len() as u32;
        self.lock().green_tasks = tasks;
        self.apply_target_health();
        Ok(count)
    }

    async fn shift(&self, listener: Listener, green: f64, blue: f64) -> Result<(), DriverError> {
        let topology = self.stack.topology;
        if let Some(client) = &self.stack.service_connect {
            // Service Connect: ECS moves the routes in the clients' proxies.
            match listener {
                Listener::Test => client.shift_test(green >= 100.0),
                Listener::Production => client.shift_production(green),
            }
            return Ok(());
        }
        // ECS moves only the routes the service names: none without a load balancer, no test
        // route without a test listener rule.
        let named = match listener {
            Listener::Production => topology.has_load_balancer(),
            Listener::Test => topology.has_test_route(),
        };
        if !named {
            return Ok(());
        }
        let rule = match listener {
            Listener::Production => &self.stack.production_rule,
            Listener::Test => &self.stack.test_rule,
        };
        let weights = forward(
            &self.stack.green_target_group,
            &self.stack.blue_target_group,
            green,
            blue,
        );
        if topology == Topology::Nlb {
            // An NLB's weights live in the listener's default action.
            self.elb
                .modify_listener()
                .listener_arn(rule)
                .default_actions(weights)
                .send()
                .await
                .map_err(|error| sdk_error("elasticloadbalancing:ModifyListener", &error))?;
        } else {
            self.elb
                .modify_rule()
                .rule_arn(rule)
                .actions(weights)
                .send()
                .await
                .map_err(|error| sdk_error("elasticloadbalancing:ModifyRule", &error))?;
        }
        self.plane.refresh();
        Ok(())
    }

    async fn clean_up(&self, rolled_back: bool) -> Result<(), DriverError> {
        if rolled_back {
            // Green's tasks stop; its targets leave the data plane.
            let tasks = std::mem::take(&mut self.lock().green_tasks);
            for (arn, _) in tasks {
                self.moto
                    .ecs(
                        "StopTask",
                        json!({
                            "cluster": self.stack.ids.cluster_arn,
                            "task": arn,
                            "reason": "Rolled back",
                        }),
                    )
                    .await?;
            }
            self.plane
                .set_backends(&self.stack.green_target_group, Vec::<SocketAddr>::new());
        }
        Ok(())
    }
}
