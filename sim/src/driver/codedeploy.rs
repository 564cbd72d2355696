//! CodeDeploy's ECS blue/green deployment with AppSpec hooks, played locally.
//!
//! [`CodeDeployStack::build`] makes the world such a deployment runs in, in moto: a cluster, a
//! service with the `CODE_DEPLOY` deployment controller, blue's task set (`PRIMARY`) with running
//! tasks registered in blue's target group, an ALB with a production and a test listener (served
//! by the [`LoadBalancerPlane`]) forwarding to blue, alarms; and the deployment in the
//! [`CodeDeploySim`] (deployment, deployment group, ECS target) that the hook functions read.
//!
//! [`CodeDeployDriver::run`] then plays the lifecycle events in CodeDeploy's order (see the
//! CodeDeploy hook contract):
//! BeforeInstall → Install (green's task set, `externalId` = the deployment id, its tasks registered
//! in green's target group) → AfterInstall → AllowTestTraffic (the test listener forwards to green) →
//! AfterAllowTestTraffic → BeforeAllowTraffic → AllowTraffic (the production listener forwards to
//! green) → AfterAllowTraffic. At each hook event named in the AppSpec's `Hooks` it invokes the
//! function with `{DeploymentId, LifecycleEventHookExecutionId}` and waits for the function's
//! `PutLifecycleEventHookExecutionStatus` in the sim — however many invocations that takes (a long
//! bake hands itself to a new invocation) — for at most the hook limit (one hour, scaled). What the
//! function returns is ignored, as CodeDeploy ignores it; an invocation error only shows in the
//! timeline.
//!
//! A `Failed` report or no report within the limit fails the event and rolls back: the listeners
//! go back to blue, green's task set is deleted, and the deployment ends `Failed` (with a
//! `rollbackInfo` message), as CodeDeploy does when automatic rollback is on. A failure at
//! BeforeInstall has nothing to roll back (green does not exist yet).
//!
//! Not modelled: canary/linear production shifts (AllowTraffic moves all traffic at once), the
//! deployment's own alarm monitoring and `terminationWaitTimeInMinutes`.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, LoadBalancerTypeEnum, ProtocolEnum, TargetDescription, TargetTypeEnum,
};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::ecs::DriverError;
use super::{HookInvoker, Stage};
use crate::codedeploy::{CodeDeploySim, SimDeployment};
use crate::iam::EngineRole;
use crate::lambda_host::LambdaHost;
use crate::lb::LoadBalancerPlane;
use crate::local_aws::{LocalAws, REGION};
use crate::moto_client::Moto;
use crate::timeline::{Timeline, TimelineEvent, parse_invocation_logs};
use crate::world::World;

/// CodeDeploy fails a hook that has not reported within this long.
pub const HOOK_LIMIT: Duration = Duration::from_secs(60 * 60);

/// How often the driver looks for a hook's report.
const REPORT_POLL: Duration = Duration::from_millis(100);

/// A lifecycle event of a CodeDeploy ECS blue/green deployment, spelt as the AppSpec spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
pub enum LifecycleEvent {
    /// Before green's task set exists (hookable).
    BeforeInstall,
    /// Green's task set is created (no hooks).
    Install,
    /// Green runs, no traffic (hookable).
    AfterInstall,
    /// The test listener moves to green (no hooks).
    AllowTestTraffic,
    /// Green serves the test listener (hookable).
    AfterAllowTestTraffic,
    /// Production still on blue (hookable).
    BeforeAllowTraffic,
    /// The production listener moves to green (no hooks).
    AllowTraffic,
    /// Green serves production (hookable).
    AfterAllowTraffic,
}

impl LifecycleEvent {
    /// Every event, in the order CodeDeploy runs them.
    pub const ALL: [LifecycleEvent; 8] = [
        LifecycleEvent::BeforeInstall,
        LifecycleEvent::Install,
        LifecycleEvent::AfterInstall,
        LifecycleEvent::AllowTestTraffic,
        LifecycleEvent::AfterAllowTestTraffic,
        LifecycleEvent::BeforeAllowTraffic,
        LifecycleEvent::AllowTraffic,
        LifecycleEvent::AfterAllowTraffic,
    ];

    /// The events an AppSpec's `Hooks` can name.
    pub const HOOKABLE: [LifecycleEvent; 5] = [
        LifecycleEvent::BeforeInstall,
        LifecycleEvent::AfterInstall,
        LifecycleEvent::AfterAllowTestTraffic,
        LifecycleEvent::BeforeAllowTraffic,
        LifecycleEvent::AfterAllowTraffic,
    ];

    /// The name, as in the AppSpec.
    pub fn as_str(self) -> &'static str {
        match self {
            LifecycleEvent::BeforeInstall => "BeforeInstall",
            LifecycleEvent::Install => "Install",
            LifecycleEvent::AfterInstall => "AfterInstall",
            LifecycleEvent::AllowTestTraffic => "AllowTestTraffic",
            LifecycleEvent::AfterAllowTestTraffic => "AfterAllowTestTraffic",
            LifecycleEvent::BeforeAllowTraffic => "BeforeAllowTraffic",
            LifecycleEvent::AllowTraffic => "AllowTraffic",
            LifecycleEvent::AfterAllowTraffic => "AfterAllowTraffic",
        }
    }

    /// The event named `name`, if it is one.
    pub fn parse(name: &str) -> Option<LifecycleEvent> {
        Self::ALL.into_iter().find(|event| event.as_str() == name)
    }

    /// Whether an AppSpec hook can run at this event.
    pub fn is_hookable(self) -> bool {
        Self::HOOKABLE.contains(&self)
    }

    /// The ECS lifecycle stage this event corresponds to: the stage plan of greenlight's config a
    /// hook at this event runs, and how a scenario's moments name it.
    pub fn stage(self) -> Stage {
        match self {
            LifecycleEvent::BeforeInstall => Stage::PreScaleUp,
            LifecycleEvent::Install => Stage::ScaleUp,
            LifecycleEvent::AfterInstall => Stage::PostScaleUp,
            LifecycleEvent::AllowTestTraffic => Stage::TestTrafficShift,
            LifecycleEvent::AfterAllowTestTraffic => Stage::PostTestTrafficShift,
            LifecycleEvent::BeforeAllowTraffic => Stage::PreProductionTrafficShift,
            LifecycleEvent::AllowTraffic => Stage::ProductionTrafficShift,
            LifecycleEvent::AfterAllowTraffic => Stage::PostProductionTrafficShift,
        }
    }
}

impl std::fmt::Display for LifecycleEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What to build: names (unique within one moto), sizes and images.
#[derive(Debug, Clone)]
pub struct CodeDeployStackSpec {
    /// A short prefix for the load balancer's, target groups' and CodeDeploy's names (`cd-good`);
    /// at most 20 characters.
    pub name: String,
    /// The ECS cluster's name.
    pub cluster: String,
    /// The ECS service's name.
    pub service: String,
    /// The container behind the load balancer.
    pub container: String,
    /// Tasks per side.
    pub desired_count: u32,
    /// The container port.
    pub port: u16,
    /// Blue's image.
    pub blue_image: String,
    /// Green's image (the AppSpec's task definition runs it).
    pub green_image: String,
    /// CloudWatch alarms to create (state `OK`) and name in the deployment group.
    pub alarms: Vec<String>,
    /// The AppSpec's `Hooks`: lifecycle event → function name.
    pub hooks: BTreeMap<String, String>,
}

/// A CodeDeploy ECS blue/green deployment ready to run, in moto and the CodeDeploy sim.
#[derive(Debug)]
pub struct CodeDeployStack {
    /// The deployment id (`d-` and nine characters).
    pub deployment_id: String,
    /// The CodeDeploy application.
    pub application: String,
    /// The deployment group.
    pub deployment_group: String,
    /// The cluster name.
    pub cluster: String,
    /// The service name.
    pub service: String,
    /// The service ARN.
    pub service_arn: String,
    /// Blue's task definition.
    pub blue_task_definition: String,
    /// Green's task definition (the AppSpec's).
    pub green_task_definition: String,
    /// The load balancer.
    pub load_balancer_arn: String,
    /// Blue's target group.
    pub blue_target_group: String,
    /// Green's target group.
    pub green_target_group: String,
    /// The production listener and its loopback port.
    pub production_listener: (String, u16),
    /// The test listener and its loopback port.
    pub test_listener: (String, u16),
    /// The alarms of the deployment group.
    pub alarms: Vec<String>,
    /// The AppSpec's `Hooks`: lifecycle event → function name.
    pub hooks: BTreeMap<String, String>,
    /// The AppSpec, as the deployment's revision holds it.
    pub appspec: String,
    /// The container behind the load balancer.
    pub container: String,
    subnets: Vec<String>,
    port: u16,
    moto: Moto,
    elb: aws_sdk_elasticloadbalancingv2::Client,
    green_tasks: Mutex<Vec<(String, String)>>,
    green_task_set: Mutex<Option<String>>,
}

/// SDK configuration that reaches moto directly: the functions' endpoint counts and faults stay
/// theirs alone.
fn moto_config(moto_url: &str) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::from_static(REGION))
        .endpoint_url(moto_url)
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "AKIDLOCALTEST",
            "local-test-secret",
            None,
            None,
            "greenlight-sim-codedeploy",
        )))
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .operation_timeout(Duration::from_secs(30))
                .build(),
        )
        .build()
}

fn sdk_error(action: &str, error: &impl std::error::Error) -> DriverError {
    DriverError::new(
        action,
        aws_smithy_types::error::display::DisplayErrorContext(error).to_string(),
    )
}

fn missing(action: &str, what: &str) -> DriverError {
    DriverError::new(action, format!("moto's answer has no {what}"))
}

/// A deployment id as CodeDeploy makes them: `d-` and nine upper-case letters and digits.
fn deployment_id(name: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.bytes() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let id: String = (0..9)
        .map(|index| {
            let digit = (hash >> (index * 6)) % ALPHABET.len() as u64;
            char::from(ALPHABET[digit as usize])
        })
        .collect();
    format!("d-{id}")
}

fn now_epoch() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs_f64())
        .unwrap_or_default()
}

impl CodeDeployStack {
    /// Builds the stack in the moto behind `aws`, serves its listeners on `plane`, and adds the
    /// deployment to `sim`. Nothing of green exists yet but its task definition.
    pub async fn build(
        aws: &LocalAws,
        plane: &LoadBalancerPlane,
        sim: &CodeDeploySim,
        spec: &CodeDeployStackSpec,
    ) -> Result<CodeDeployStack, DriverError> {
        if spec.name.is_empty() || spec.name.len() > 20 {
            return Err(DriverError::new(
                "build the CodeDeploy stack",
                format!(
                    "name {:?} must be 1 to 20 characters (it prefixes load balancer and target group names)",
                    spec.name
                ),
            ));
        }
        let config = moto_config(aws.moto().endpoint_url());
        let moto = Moto::new(aws.moto().endpoint_url());
        let elb = aws_sdk_elasticloadbalancingv2::Client::new(&config);
        let name = &spec.name;

        let network = aws
            .create_network(
                "10.0.0.0/16",
                &[("us-east-1a", "10.0.1.0/24"), ("us-east-1b", "10.0.2.0/24")],
            )
            .await
            .map_err(|error| DriverError::new("ec2:CreateVpc", error.to_string()))?;
        // Fargate tasks get an ENI only in a VPC with DNS hostnames on.
        moto.enable_dns_hostnames(&network.vpc_id).await?;

        let cluster = spec.cluster.clone();
        moto.ecs("CreateCluster", json!({ "clusterName": cluster }))
            .await?;
        let family = spec.service.clone();
        let mut definitions = Vec::new();
        for image in [&spec.blue_image, &spec.green_image] {
            let registered = moto
                .ecs(
                    "RegisterTaskDefinition",
                    json!({
                        "family": family,
                        "networkMode": "awsvpc",
                        "requiresCompatibilities": ["FARGATE"],
                        "cpu": "256",
                        "memory": "512",
                        "containerDefinitions": [{
                            "name": spec.container,
                            "image": image,
                            "cpu": 256,
                            "memory": 512,
                            "essential": true,
                            "portMappings": [{ "containerPort": spec.port }],
                        }],
                    }),
                )
                .await?;
            definitions.push(text(
                &registered["taskDefinition"]["taskDefinitionArn"],
                "ecs:RegisterTaskDefinition",
            )?);
        }
        let (blue_task_definition, green_task_definition) =
            (definitions[0].clone(), definitions[1].clone());

        let load_balancer_arn = elb
            .create_load_balancer()
            .name(format!("{name}-alb"))
            .r#type(LoadBalancerTypeEnum::Application)
            .set_subnets(Some(network.subnet_ids.clone()))
            .send()
            .await
            .map_err(|error| sdk_error("elasticloadbalancing:CreateLoadBalancer", &error))?
            .load_balancers()
            .first()
            .and_then(|lb| lb.load_balancer_arn())
            .ok_or_else(|| missing("elasticloadbalancing:CreateLoadBalancer", "ARN"))?
            .to_owned();
        let mut groups = Vec::new();
        for side in ["blue", "green"] {
            let group = elb
                .create_target_group()
                .name(format!("{name}-{side}"))
                .protocol(ProtocolEnum::Http)
                .port(i32::from(spec.port))
                .vpc_id(&network.vpc_id)
                .target_type(TargetTypeEnum::Ip)
                .health_check_path("/")
                .send()
                .await
                .map_err(|error| sdk_error("elasticloadbalancing:CreateTargetGroup", &error))?
                .target_groups()
                .first()
                .and_then(|group| group.target_group_arn())
                .ok_or_else(|| missing("elasticloadbalancing:CreateTargetGroup", "ARN"))?
                .to_owned();
            groups.push(group);
        }
        let (blue_target_group, green_target_group) = (groups[0].clone(), groups[1].clone());
        let mut listeners = Vec::new();
        for _ in ["production", "test"] {
            let port = plane
                .bind_listener_port()
                .map_err(|error| DriverError::new("bind a listener port", error.to_string()))?;
            let listener = elb
                .create_listener()
                .load_balancer_arn(&load_balancer_arn)
                .protocol(ProtocolEnum::Http)
                .port(i32::from(port))
                .default_actions(forward_to(&blue_target_group))
                .send()
                .await
                .map_err(|error| sdk_error("elasticloadbalancing:CreateListener", &error))?
                .listeners()
                .first()
                .and_then(|listener| listener.listener_arn())
                .ok_or_else(|| missing("elasticloadbalancing:CreateListener", "ARN"))?
                .to_owned();
            plane
                .serve(&listener, port)
                .await
                .map_err(|error| DriverError::new("serve a listener", error.to_string()))?;
            listeners.push((listener, port));
        }

        let service = spec.service.clone();
        let created = moto
            .ecs(
                "CreateService",
                json!({
                    "cluster": cluster,
                    "serviceName": service,
                    "desiredCount": spec.desired_count,
                    "deploymentController": { "type": "CODE_DEPLOY" },
                }),
            )
            .await?;
        let service_arn = text(&created["service"]["serviceArn"], "ecs:CreateService")?;

        let mut alarms = Vec::new();
        for alarm in &spec.alarms {
            moto.cloudwatch(
                "PutMetricAlarm",
                json!({
                    "AlarmName": alarm,
                    "Namespace": "AWS/ApplicationELB",
                    "MetricName": "HTTPCode_Target_5XX_Count",
                    "Statistic": "Sum",
                    "Period": 60,
                    "EvaluationPeriods": 1,
                    "Threshold": 10.0,
                    "ComparisonOperator": "GreaterThanThreshold",
                }),
            )
            .await?;
            alarms.push(alarm.clone());
        }

        let appspec = appspec_yaml(
            &green_task_definition,
            &spec.container,
            spec.port,
            &spec.hooks,
        );
        let stack = CodeDeployStack {
            deployment_id: deployment_id(name),
            application: format!("{name}-app"),
            deployment_group: format!("{name}-group"),
            cluster,
            service,
            service_arn,
            blue_task_definition,
            green_task_definition,
            load_balancer_arn,
            blue_target_group,
            green_target_group,
            production_listener: listeners[0].clone(),
            test_listener: listeners[1].clone(),
            alarms,
            hooks: spec.hooks.clone(),
            appspec,
            container: spec.container.clone(),
            subnets: network.subnet_ids,
            port: spec.port,
            moto,
            elb,
            green_tasks: Mutex::new(Vec::new()),
            green_task_set: Mutex::new(None),
        };

        // Blue: the PRIMARY task set, its tasks running behind blue's target group.
        let blue_set = stack
            .create_task_set(
                &stack.blue_task_definition,
                &stack.blue_target_group,
                "blue",
            )
            .await?;
        stack
            .moto
            .ecs(
                "UpdateServicePrimaryTaskSet",
                json!({ "cluster": stack.cluster, "service": stack.service, "primaryTaskSet": blue_set }),
            )
            .await?;
        let blue_ips: Vec<String> = stack
            .task_set_tasks(&stack.blue_task_definition, spec.desired_count)
            .await?
            .into_iter()
            .map(|(_, ip)| ip)
            .collect();
        stack
            .register(&stack.blue_target_group, &blue_ips, spec.port)
            .await?;

        sim.add_deployment(stack.sim_deployment(task_set_id(&blue_set)));
        Ok(stack)
    }

    /// The deployment as CodeDeploy describes it before its first lifecycle event.
    fn sim_deployment(&self, blue_task_set_id: &str) -> SimDeployment {
        let route = |listener: &str| json!({ "listenerArns": [listener] });
        let group_name = |arn: &str| arn.split('/').nth(1).unwrap_or_default().to_owned();
        SimDeployment {
            info: json!({
                "deploymentId": self.deployment_id,
                "applicationName": self.application,
                "deploymentGroupName": self.deployment_group,
                "status": "InProgress",
                "creator": "user",
                "createTime": now_epoch(),
                "computePlatform": "ECS",
                "deploymentStyle": { "deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL" },
                "revision": {
                    "revisionType": "AppSpecContent",
                    "appSpecContent": { "content": self.appspec },
                },
            }),
            group: json!({
                "applicationName": self.application,
                "deploymentGroupName": self.deployment_group,
                "computePlatform": "ECS",
                "ecsServices": [{ "clusterName": self.cluster, "serviceName": self.service }],
                "loadBalancerInfo": { "targetGroupPairInfoList": [{
                    "targetGroups": [
                        { "name": group_name(&self.blue_target_group) },
                        { "name": group_name(&self.green_target_group) },
                    ],
                    "prodTrafficRoute": route(&self.production_listener.0),
                    "testTrafficRoute": route(&self.test_listener.0),
                }]},
                "alarmConfiguration": {
                    "enabled": !self.alarms.is_empty(),
                    "alarms": self.alarms.iter().map(|name| json!({ "name": name })).collect::<Vec<_>>(),
                },
                "autoRollbackConfiguration": { "enabled": true, "events": ["DEPLOYMENT_FAILURE"] },
            }),
            targets: vec![json!({
                "deploymentId": self.deployment_id,
                "targetId": format!("{}:{}", self.cluster, self.service),
                "targetArn": self.service_arn,
                "status": "InProgress",
                "lifecycleEvents": LifecycleEvent::ALL
                    .iter()
                    .map(|event| json!({ "lifecycleEventName": event.as_str(), "status": "Pending" }))
                    .collect::<Vec<_>>(),
                "taskSetsInfo": [{
                    "identifer": blue_task_set_id,
                    "desiredCount": 0,
                    "trafficWeight": 100.0,
                    "taskSetLabel": "Blue",
                    "targetGroup": { "name": group_name(&self.blue_target_group) },
                }],
            })],
        }
    }

    /// Sets an alarm's state (`ALARM`, `OK`, `INSUFFICIENT_DATA`) in moto.
    pub async fn set_alarm_state(&self, alarm: &str, state: &str) -> Result<(), DriverError> {
        self.moto.set_alarm_state(alarm, state).await
    }

    /// The IPs of green's tasks, once Install has run.
    pub fn green_targets(&self) -> Vec<String> {
        self.green_tasks().into_iter().map(|(_, ip)| ip).collect()
    }

    /// Green's tasks, once Install has run: each task's ARN and private IP.
    pub fn green_tasks(&self) -> Vec<(String, String)> {
        self.green_tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    async fn create_task_set(
        &self,
        task_definition: &str,
        target_group: &str,
        external_id: &str,
    ) -> Result<String, DriverError> {
        let created = self
            .moto
            .ecs(
                "CreateTaskSet",
                json!({
                    "cluster": self.cluster,
                    "service": self.service,
                    "taskDefinition": task_definition,
                    "externalId": external_id,
                    "launchType": "FARGATE",
                    "networkConfiguration": self.network_configuration(),
                    "loadBalancers": [{
                        "targetGroupArn": target_group,
                        "containerName": self.container,
                        "containerPort": self.port,
                    }],
                    "scale": { "unit": "PERCENT", "value": 100.0 },
                }),
            )
            .await?;
        text(&created["taskSet"]["taskSetArn"], "ecs:CreateTaskSet")
    }

    fn network_configuration(&self) -> Value {
        json!({ "awsvpcConfiguration": {
            "subnets": self.subnets,
            "securityGroups": ["sg-0123456789abcdef0"],
        }})
    }

    /// The tasks (ARN, IP) of `task_definition` moto runs in the cluster (moto's `CreateTaskSet`
    /// starts the task set's tasks); when it runs none, starts `count` with `RunTask`.
    async fn task_set_tasks(
        &self,
        task_definition: &str,
        count: u32,
    ) -> Result<Vec<(String, String)>, DriverError> {
        let listed = self
            .moto
            .ecs("ListTasks", json!({ "cluster": self.cluster }))
            .await?;
        let arns: Vec<Value> = listed["taskArns"].as_array().cloned().unwrap_or_default();
        if !arns.is_empty() {
            let described = self
                .moto
                .ecs(
                    "DescribeTasks",
                    json!({ "cluster": self.cluster, "tasks": arns }),
                )
                .await?;
            let tasks: Vec<Value> = described["tasks"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|task| task["taskDefinitionArn"] == task_definition)
                .cloned()
                .collect();
            if !tasks.is_empty() {
                return Ok(tasks
                    .iter()
                    .enumerate()
                    .map(|(index, task)| (task_arn(task), task_ip(task, index)))
                    .collect());
            }
        }
        self.run_tasks(task_definition, count).await
    }

    /// Starts `count` tasks of `task_definition`; their ARNs and IPs.
    async fn run_tasks(
        &self,
        task_definition: &str,
        count: u32,
    ) -> Result<Vec<(String, String)>, DriverError> {
        let answer = self
            .moto
            .ecs(
                "RunTask",
                json!({
                    "cluster": self.cluster,
                    "taskDefinition": task_definition,
                    "count": count,
                    "launchType": "FARGATE",
                    "startedBy": format!("ecs-svc/{}", self.service),
                    "networkConfiguration": self.network_configuration(),
                }),
            )
            .await?;
        let tasks: Vec<(String, String)> = answer["tasks"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(index, task)| (task_arn(task), task_ip(task, index)))
            .collect();
        if tasks.len() != count as usize {
            return Err(DriverError::new(
                "ecs:RunTask",
                format!("asked for {count} tasks, moto started {}", tasks.len()),
            ));
        }
        Ok(tasks)
    }

    async fn register(&self, group: &str, ips: &[String], port: u16) -> Result<(), DriverError> {
        if ips.is_empty() {
            return Ok(());
        }
        self.elb
            .register_targets()
            .target_group_arn(group)
            .set_targets(Some(
                ips.iter()
                    .map(|ip| {
                        TargetDescription::builder()
                            .id(ip)
                            .port(i32::from(port))
                            .build()
                    })
                    .collect(),
            ))
            .send()
            .await
            .map_err(|error| sdk_error("elasticloadbalancing:RegisterTargets", &error))?;
        Ok(())
    }

    /// Install: green's task set (externalId = the deployment id), its tasks, its targets.
    async fn install_green(&self, count: u32, port: u16) -> Result<String, DriverError> {
        let set = self
            .create_task_set(
                &self.green_task_definition,
                &self.green_target_group,
                &self.deployment_id,
            )
            .await?;
        let tasks = self
            .task_set_tasks(&self.green_task_definition, count)
            .await?;
        let ips: Vec<String> = tasks.iter().map(|(_, ip)| ip.clone()).collect();
        self.register(&self.green_target_group, &ips, port).await?;
        *self
            .green_task_set
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(set.clone());
        *self
            .green_tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = tasks;
        Ok(set)
    }

    /// Makes green's task set PRIMARY, as CodeDeploy does once green serves production (blue's
    /// becomes ACTIVE).
    async fn make_green_primary(&self) -> Result<(), DriverError> {
        let set = self
            .green_task_set
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let Some(set) = set else { return Ok(()) };
        self.moto
            .ecs(
                "UpdateServicePrimaryTaskSet",
                json!({ "cluster": self.cluster, "service": self.service, "primaryTaskSet": set }),
            )
            .await?;
        Ok(())
    }

    /// Points a listener's default action at one target group.
    async fn point(&self, listener: &str, group: &str) -> Result<(), DriverError> {
        self.elb
            .modify_listener()
            .listener_arn(listener)
            .default_actions(forward_to(group))
            .send()
            .await
            .map_err(|error| sdk_error("elasticloadbalancing:ModifyListener", &error))?;
        Ok(())
    }

    /// Rollback: removes green's task set, if it was created.
    async fn remove_green(&self) -> Result<(), DriverError> {
        let set = self
            .green_task_set
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(set) = set else { return Ok(()) };
        self.moto
            .ecs(
                "DeleteTaskSet",
                json!({ "cluster": self.cluster, "service": self.service, "taskSet": set, "force": true }),
            )
            .await?;
        Ok(())
    }
}

fn task_arn(task: &Value) -> String {
    task["taskArn"].as_str().unwrap_or_default().to_owned()
}

/// A task's private IP from its ENI attachment (or a made-up one if moto gave none).
fn task_ip(task: &Value, index: usize) -> String {
    task["attachments"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|attachment| attachment["details"].as_array().into_iter().flatten())
        .find(|detail| detail["name"] == "privateIPv4Address")
        .and_then(|detail| detail["value"].as_str())
        .map(str::to_owned)
        .unwrap_or_else(|| format!("10.0.1.{}", 10 + index))
}

fn forward_to(group: &str) -> Action {
    Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .target_group_arn(group)
        .build()
}

/// The AppSpec of an ECS deployment, as `aws-actions/amazon-ecs-deploy-task-definition` or
/// ecspresso would send it.
fn appspec_yaml(
    task_definition: &str,
    container: &str,
    port: u16,
    hooks: &BTreeMap<String, String>,
) -> String {
    let mut yaml = format!(
        "version: 0.0\nResources:\n  - TargetService:\n      Type: AWS::ECS::Service\n      Properties:\n        TaskDefinition: \"{task_definition}\"\n        LoadBalancerInfo:\n          ContainerName: \"{container}\"\n          ContainerPort: {port}\n"
    );
    if !hooks.is_empty() {
        yaml.push_str("Hooks:\n");
        for (event, function) in hooks {
            yaml.push_str(&format!("  - {event}: \"{function}\"\n"));
        }
    }
    yaml
}

fn text(value: &Value, action: &str) -> Result<String, DriverError> {
    value
        .as_str()
        .filter(|text| !text.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| missing(action, "ARN"))
}

/// How a CodeDeploy deployment is played: its size, the scaled clock.
#[derive(Debug, Clone)]
pub struct CodeDeployRun {
    /// The scenario's name, for the timeline.
    pub scenario: String,
    /// Green's tasks.
    pub desired_count: u32,
    /// The container port.
    pub port: u16,
    /// How long a hook may take to report (CodeDeploy's hour, scaled for a rehearsal).
    pub hook_limit: Duration,
    /// When CodeDeploy makes green's task set PRIMARY (undocumented).
    pub green_primary: GreenPrimary,
}

/// When CodeDeploy makes green's task set PRIMARY: ECS's TaskSet.status says PRIMARY "serves
/// production traffic", and CodeDeploy does not document the moment, so rehearsals play both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GreenPrimary {
    /// With the production shift (`AllowTraffic`), before the `AfterAllowTraffic` hook runs.
    #[default]
    AtAllowTraffic,
    /// Only once the `AfterAllowTraffic` hook has reported Succeeded.
    AfterAllowTrafficHook,
}

/// What an [`OnEvent`] callback returns: ready once the world has changed.
pub type EventFuture<'a> = Pin<Box<dyn Future<Output = Result<(), DriverError>> + Send + 'a>>;

/// Called as each lifecycle event begins (before its hook is invoked, after its traffic moved):
/// where a scenario changes the world (target health, alarm states, app behaviour). An error
/// stops the rehearsal.
pub type OnEvent<'a> =
    Box<dyn Fn(LifecycleEvent, &'a CodeDeployStack) -> EventFuture<'a> + Send + Sync + 'a>;

/// How a played deployment ended.
#[derive(Debug, Clone)]
pub struct CodeDeployResult {
    /// `Succeeded` or `Failed`, as CodeDeploy spells a deployment's status.
    pub status: String,
    /// The lifecycle event that failed, if one did.
    pub failed_event: Option<String>,
    /// Why, as the rollback says.
    pub failure: Option<String>,
    /// Every report the hooks made, by lifecycle event: (status, reason code from the logs).
    pub reports: BTreeMap<String, (String, Option<String>)>,
    /// What happened, in order.
    pub timeline: Timeline,
}

/// Plays CodeDeploy for one deployment of a [`CodeDeployStack`].
pub struct CodeDeployDriver<'a, I: HookInvoker> {
    stack: &'a CodeDeployStack,
    sim: &'a CodeDeploySim,
    plane: &'a LoadBalancerPlane,
    invoker: &'a I,
    run: CodeDeployRun,
    on_event: Option<OnEvent<'a>>,
    started: Instant,
    timeline: Mutex<Timeline>,
    weights: Mutex<(f64, f64)>,
}

impl<'a, I: HookInvoker> CodeDeployDriver<'a, I> {
    /// A driver for `stack`'s deployment, invoking hooks through `invoker`.
    pub fn new(
        stack: &'a CodeDeployStack,
        sim: &'a CodeDeploySim,
        plane: &'a LoadBalancerPlane,
        invoker: &'a I,
        run: CodeDeployRun,
    ) -> Self {
        let timeline = Timeline::new(run.scenario.clone(), "CODE_DEPLOY");
        CodeDeployDriver {
            stack,
            sim,
            plane,
            invoker,
            run,
            on_event: None,
            started: Instant::now(),
            timeline: Mutex::new(timeline),
            weights: Mutex::new((0.0, 0.0)),
        }
    }

    /// Calls `on_event` as each lifecycle event begins.
    pub fn on_event(mut self, on_event: OnEvent<'a>) -> Self {
        self.on_event = Some(on_event);
        self
    }

    fn record(&self, event: TimelineEvent) {
        let at = self.started.elapsed();
        self.timeline
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .record(at, event);
    }

    fn set_event_status(&self, event: &str, status: &str) {
        self.sim
            .update_deployment(&self.stack.deployment_id, |deployment| {
                for target in &mut deployment.targets {
                    if let Some(events) = target["lifecycleEvents"].as_array_mut() {
                        for entry in events {
                            if entry["lifecycleEventName"] == event {
                                entry["status"] = json!(status);
                            }
                        }
                    }
                }
            });
    }

    fn set_deployment_status(&self, status: &str, rollback: Option<&str>) {
        self.sim
            .update_deployment(&self.stack.deployment_id, |deployment| {
                deployment.info["status"] = json!(status);
                if let Some(message) = rollback {
                    deployment.info["rollbackInfo"] = json!({ "rollbackMessage": message });
                    deployment.info["errorInformation"] =
                        json!({ "code": "HOOK_FAILED", "message": message });
                }
                for target in &mut deployment.targets {
                    target["status"] = json!(status);
                }
            });
    }

    /// Green's production weight in the target's task sets.
    fn set_task_sets(&self, green_weight: Option<f64>) {
        let green_id = self
            .stack
            .green_task_set
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_deref()
            .map(task_set_id)
            .unwrap_or("green")
            .to_owned();
        let green_group = self
            .stack
            .green_target_group
            .split('/')
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        self.sim
            .update_deployment(&self.stack.deployment_id, |deployment| {
                for target in &mut deployment.targets {
                    let Some(sets) = target["taskSetsInfo"].as_array_mut() else {
                        continue;
                    };
                    sets.retain(|set| set["taskSetLabel"] != "Green");
                    if let Some(weight) = green_weight {
                        for set in sets.iter_mut() {
                            set["trafficWeight"] = json!(100.0 - weight);
                        }
                        sets.push(json!({
                            "identifer": green_id,
                            "desiredCount": self.run.desired_count,
                            "runningCount": self.run.desired_count,
                            "trafficWeight": weight,
                            "taskSetLabel": "Green",
                            "targetGroup": { "name": green_group },
                        }));
                    } else {
                        for set in sets.iter_mut() {
                            set["trafficWeight"] = json!(100.0);
                        }
                    }
                }
            });
    }

    async fn shift(&self, listener: &str, to_green: bool) -> Result<(), DriverError> {
        let (arn, name) = if listener == "production" {
            (&self.stack.production_listener.0, "production")
        } else {
            (&self.stack.test_listener.0, "test")
        };
        let group = if to_green {
            &self.stack.green_target_group
        } else {
            &self.stack.blue_target_group
        };
        self.stack.point(arn, group).await?;
        self.plane.refresh();
        {
            let mut weights = self.weights.lock().unwrap_or_else(PoisonError::into_inner);
            let green = if to_green { 100.0 } else { 0.0 };
            if name == "production" {
                weights.0 = green;
            } else {
                weights.1 = green;
            }
        }
        self.record(TimelineEvent::TrafficShifted {
            listener: name.to_owned(),
            green: if to_green { 100.0 } else { 0.0 },
            blue: if to_green { 0.0 } else { 100.0 },
        });
        Ok(())
    }

    /// Plays the deployment to its end: `Succeeded`, or `Failed` after a rollback.
    pub async fn run(self) -> Result<CodeDeployResult, DriverError> {
        let mut reports = BTreeMap::new();
        let mut failure: Option<(String, String)> = None;
        for (execution, lifecycle_event) in LifecycleEvent::ALL.into_iter().enumerate() {
            let event = lifecycle_event.as_str();
            let (production, test) = *self.weights.lock().unwrap_or_else(PoisonError::into_inner);
            self.record(TimelineEvent::StageStarted {
                stage: event.to_owned(),
                step: None,
                production_weights: Some((production, 100.0 - production)),
                test_weights: Some((test, 100.0 - test)),
            });
            self.set_event_status(event, "InProgress");
            match lifecycle_event {
                LifecycleEvent::Install => {
                    self.stack
                        .install_green(self.run.desired_count, self.run.port)
                        .await?;
                    self.set_task_sets(Some(0.0));
                }
                LifecycleEvent::AllowTestTraffic => self.shift("test", true).await?,
                LifecycleEvent::AllowTraffic => {
                    self.shift("production", true).await?;
                    self.set_task_sets(Some(100.0));
                    if self.run.green_primary == GreenPrimary::AtAllowTraffic {
                        self.stack.make_green_primary().await?;
                    }
                }
                _ => {}
            }
            if let Some(on_event) = &self.on_event {
                on_event(lifecycle_event, self.stack).await?;
            }
            if lifecycle_event.is_hookable()
                && let Some(function) = self.stack.hooks.get(event)
            {
                let (status, reason, message) = self.hook(event, function, execution).await;
                reports.insert(event.to_owned(), (status.clone(), reason.clone()));
                if status != "Succeeded" {
                    self.set_event_status(event, "Failed");
                    failure = Some((
                        event.to_owned(),
                        format!(
                            "{event} hook {function} reported {status}{}: {message}",
                            reason.map(|code| format!(" ({code})")).unwrap_or_default()
                        ),
                    ));
                    break;
                }
            }
            self.set_event_status(event, "Succeeded");
            if lifecycle_event == LifecycleEvent::AfterAllowTraffic
                && self.run.green_primary == GreenPrimary::AfterAllowTrafficHook
            {
                self.stack.make_green_primary().await?;
            }
        }
        let status = match &failure {
            None => {
                self.set_deployment_status("Succeeded", None);
                "Succeeded"
            }
            Some((event, reason)) => {
                self.roll_back(event, reason).await;
                "Failed"
            }
        };
        self.record(TimelineEvent::DeploymentFinished {
            status: status.to_owned(),
        });
        let mut timeline = self
            .timeline
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        timeline.finish(status);
        let (failed_event, failure) = failure.unzip();
        Ok(CodeDeployResult {
            status: status.to_owned(),
            failed_event,
            failure,
            reports,
            timeline,
        })
    }

    /// CodeDeploy's automatic rollback: traffic back to blue, green's task set gone.
    async fn roll_back(&self, event: &str, reason: &str) {
        self.record(TimelineEvent::RollbackStarted {
            stage: event.to_owned(),
            reason: reason.to_owned(),
        });
        let (production, test) = *self.weights.lock().unwrap_or_else(PoisonError::into_inner);
        for (listener, moved) in [("production", production > 0.0), ("test", test > 0.0)] {
            if moved && let Err(error) = self.shift(listener, false).await {
                self.record(TimelineEvent::Note(format!(
                    "rollback could not move the {listener} listener back to blue: {error}"
                )));
            }
        }
        self.set_task_sets(None);
        if let Err(error) = self.stack.remove_green().await {
            self.record(TimelineEvent::Note(format!(
                "rollback could not delete green's task set: {error}"
            )));
        }
        self.set_deployment_status("Failed", Some(reason));
    }

    /// Invokes one hook and waits for its report: (status, reason code, message).
    async fn hook(
        &self,
        event: &str,
        function: &str,
        execution: usize,
    ) -> (String, Option<String>, String) {
        let deployment_id = &self.stack.deployment_id;
        let execution_id = base64_like(&format!("{deployment_id}/{event}/{execution}"));
        let payload = json!({
            "DeploymentId": deployment_id,
            "LifecycleEventHookExecutionId": execution_id,
        });
        self.record(TimelineEvent::HookInvoked {
            stage: event.to_owned(),
            function: function.to_owned(),
            attempt: 1,
            payload: payload.clone(),
        });
        let limit = self.run.hook_limit;
        let wait_for_report = async {
            let deadline = Instant::now() + limit;
            loop {
                if let Some(report) = self.sim.accepted_report(deployment_id, &execution_id) {
                    return Some(report);
                }
                if Instant::now() >= deadline {
                    return None;
                }
                tokio::time::sleep(REPORT_POLL).await;
            }
        };
        let (call, report) = tokio::join!(self.invoker.invoke(function, &payload), wait_for_report);
        let (reason, message, checks) = parse_invocation_logs(&call.logs);
        let (status, message) = match (&report, &call.outcome) {
            (Some(report), _) => (
                report.status.clone(),
                message.unwrap_or_else(|| format!("reported {}", report.status)),
            ),
            (None, super::HookCallOutcome::Failed(error)) => (
                "Failed".to_owned(),
                format!("no report within {limit:?}; the invocation failed: {error}"),
            ),
            (None, super::HookCallOutcome::Response(_)) => (
                "Failed".to_owned(),
                format!("no report within {limit:?} (CodeDeploy's hook limit, scaled)"),
            ),
        };
        if let super::HookCallOutcome::Response(answer) = &call.outcome
            && answer["outcome"] == "handed_off"
        {
            self.record(TimelineEvent::Note(format!(
                "{function} handed its bake to a new invocation (handoff {})",
                answer["handoffs"]
            )));
        }
        self.record(TimelineEvent::HookAnswered {
            stage: event.to_owned(),
            function: function.to_owned(),
            attempt: 1,
            status: status.to_uppercase(),
            call_back_delay: None,
            reason: reason.clone(),
            message: Some(message.clone()),
            checks,
            latency: call.latency,
            cold: call.cold,
            raw_response: match &call.outcome {
                super::HookCallOutcome::Response(answer) => answer.clone(),
                super::HookCallOutcome::Failed(error) => json!({ "error": error }),
            },
        });
        (status, reason, message)
    }
}

/// An opaque token from a text, shaped like CodeDeploy's execution ids (base64 of JSON).
fn base64_like(text: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = format!("{{\"encryptedData\":\"{text}\"}}").into_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for index in 0..4 {
            if index <= chunk.len() {
                out.push(char::from(
                    ALPHABET[((n >> (18 - 6 * index)) & 63) as usize],
                ));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The id of a task set (`ecs-svc/…`-style, the last segment of its ARN): what a deployment
/// target's `taskSetsInfo[].identifer` names.
fn task_set_id(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// Runs hook functions in [`LambdaHost`]s by function name; [`LambdaHooks::serve_invocations`]
/// makes their asynchronous self-invocations (a long bake's handoff) reach the same hosts.
#[derive(Clone, Default)]
pub struct LambdaHooks {
    hosts: Arc<Mutex<BTreeMap<String, Arc<LambdaHost>>>>,
    /// The role CodeDeploy invokes the hooks with, when IAM is enforced.
    engine: Arc<Mutex<Option<EngineRole>>>,
}

impl std::fmt::Debug for LambdaHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LambdaHooks").finish_non_exhaustive()
    }
}

impl LambdaHooks {
    /// No functions yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Authorizes every hook invocation against `engine` (CodeDeploy's service role) first: a
    /// function the role may not invoke fails its lifecycle event, as CodeDeploy fails it.
    pub fn invoke_as(&self, engine: EngineRole) {
        *self.engine.lock().unwrap_or_else(PoisonError::into_inner) = Some(engine);
    }

    /// Runs the function `name` in `host`.
    pub fn add(&self, name: &str, host: Arc<LambdaHost>) {
        self.hosts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.to_owned(), host);
    }

    fn host(&self, name: &str) -> Option<Arc<LambdaHost>> {
        self.hosts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .cloned()
    }

    /// Lets the functions be invoked through the local AWS endpoint too (a long bake's handoff is an
    /// asynchronous `Invoke` of the function itself): registers every host with `world`, whose
    /// supplements answer Lambda `Invoke` as Lambda does.
    pub fn serve_invocations(&self, world: &World) {
        for (name, host) in self
            .hosts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            world.lambda_functions().add(name, Arc::clone(host));
        }
    }
}

impl HookInvoker for LambdaHooks {
    fn invoke(
        &self,
        function: &str,
        payload: &Value,
    ) -> impl Future<Output = super::HookCall> + Send {
        let host = self.host(function);
        let denied = self
            .engine
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .and_then(|engine| engine.may_invoke(function).err());
        let function = function.to_owned();
        let payload = payload.clone();
        async move {
            if let Some(message) = denied {
                return super::HookCall {
                    outcome: super::HookCallOutcome::Failed(format!(
                        "IAM_ROLE_PERMISSIONS: CodeDeploy could not invoke {function}: {message}"
                    )),
                    latency: Duration::ZERO,
                    cold: false,
                    logs: Vec::new(),
                };
            }
            let Some(host) = host else {
                return super::HookCall {
                    outcome: super::HookCallOutcome::Failed(format!(
                        "no function named {function} is running"
                    )),
                    latency: Duration::ZERO,
                    cold: false,
                    logs: Vec::new(),
                };
            };
            match host.invoke(&payload).await {
                Ok(invocation) => super::HookCall {
                    outcome: match invocation.result {
                        crate::lambda_host::InvocationResult::Response(answer) => {
                            super::HookCallOutcome::Response(answer)
                        }
                        other => super::HookCallOutcome::Failed(format!("{other:?}")),
                    },
                    latency: invocation.latency,
                    cold: invocation.cold,
                    logs: invocation.logs,
                },
                Err(error) => super::HookCall {
                    outcome: super::HookCallOutcome::Failed(error.to_string()),
                    latency: Duration::ZERO,
                    cold: false,
                    logs: Vec::new(),
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployment_ids_look_like_codedeploy_s() {
        let id = deployment_id("cd-good");
        assert_eq!(id.len(), 11);
        assert!(id.starts_with("d-"));
        assert!(
            id[2..]
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        );
        assert_ne!(id, deployment_id("cd-bad"));
    }

    #[test]
    fn the_appspec_names_the_task_definition_and_the_hooks() {
        let hooks = BTreeMap::from([("AfterInstall".to_owned(), "fn-a".to_owned())]);
        let yaml = appspec_yaml("arn:td:1", "web", 8080, &hooks);
        assert!(yaml.contains("TaskDefinition: \"arn:td:1\""));
        assert!(yaml.contains("  - AfterInstall: \"fn-a\""));
    }

    #[test]
    fn execution_ids_are_base64() {
        assert_eq!(base64_like("a"), "eyJlbmNyeXB0ZWREYXRhIjoiYSJ9");
    }
}
