//! A CodeDeploy ECS blue/green deployment's world in moto and the CodeDeploy sim: a cluster, a
//! service with the `CODE_DEPLOY` deployment controller, blue's task set (`PRIMARY`) with running
//! tasks registered in blue's target group, an ALB with a production and a test listener (served
//! by the [`LoadBalancerPlane`]) forwarding to blue, alarms; and the deployment in the
//! [`CodeDeploySim`] (deployment, deployment group, ECS target) that the hook functions read.
//! The stack also makes the changes CodeDeploy makes while a deployment runs (green's task set,
//! the listeners' targets, the rollback), for the driver to call in CodeDeploy's order.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, LoadBalancerTypeEnum, ProtocolEnum, TargetDescription, TargetTypeEnum,
};
use serde_json::{Value, json};

use crate::codedeploy::{CodeDeploySim, SimDeployment};
use crate::driver::ecs::DriverError;
use crate::lb::LoadBalancerPlane;
use crate::local_aws::{ACCOUNT_ID, LocalAws};
use crate::moto_client::Moto;

use super::util::{fnv1a, moto_elb_client, now_epoch, sdk_error, text, with_health_check};
use crate::driver::codedeploy::LifecycleEvent;
use crate::scenario::format::HealthCheckSpec;

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
    /// How both target groups check health.
    pub health_check: HealthCheckSpec,
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

/// A deployment id as CodeDeploy makes them: `d-` and nine upper-case letters and digits.
fn deployment_id(name: &str) -> String {
    let hash = fnv1a(name);
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let id: String = (0..9)
        .map(|index| {
            let digit = (hash >> (index * 6)) % ALPHABET.len() as u64;
            char::from(ALPHABET[digit as usize])
        })
        .collect();
    format!("d-{id}")
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
        let moto = Moto::new(aws.moto().endpoint_url());
        let elb = moto_elb_client(aws);
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
            .ok_or_else(|| {
                DriverError::new(
                    "elasticloadbalancing:CreateLoadBalancer",
                    "moto's answer has no ARN",
                )
            })?
            .to_owned();
        let mut groups = Vec::new();
        for side in ["blue", "green"] {
            let create = elb
                .create_target_group()
                .name(format!("{name}-{side}"))
                .protocol(ProtocolEnum::Http)
                .port(i32::from(spec.port))
                .vpc_id(&network.vpc_id)
                .target_type(TargetTypeEnum::Ip);
            let group = with_health_check(create, &spec.health_check, false)
                .send()
                .await
                .map_err(|error| sdk_error("elasticloadbalancing:CreateTargetGroup", &error))?
                .target_groups()
                .first()
                .and_then(|group| group.target_group_arn())
                .ok_or_else(|| {
                    DriverError::new(
                        "elasticloadbalancing:CreateTargetGroup",
                        "moto's answer has no ARN",
                    )
                })?
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
                .ok_or_else(|| {
                    DriverError::new(
                        "elasticloadbalancing:CreateListener",
                        "moto's answer has no ARN",
                    )
                })?
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
                "startTime": now_epoch(),
                "computePlatform": "ECS",
                "deploymentStyle": { "deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL" },
                "revision": {
                    "revisionType": "AppSpecContent",
                    "appSpecContent": { "content": self.appspec, "sha256": sha256_hex(&self.appspec) },
                },
            }),
            group: json!({
                "applicationName": self.application,
                "deploymentGroupName": self.deployment_group,
                "computePlatform": "ECS",
                "serviceRoleArn": codedeploy_service_role_arn(),
                // CodeDeploy records a deployment here as soon as it is created.
                "lastAttemptedDeployment": {
                    "deploymentId": self.deployment_id,
                    "status": "InProgress",
                    "createTime": now_epoch(),
                },
                "deploymentConfigName": "CodeDeployDefault.ECSAllAtOnce",
                "deploymentStyle": { "deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL" },
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
    /// Green's task set's ARN, once it is installed.
    pub(crate) fn green_task_set(&self) -> Option<String> {
        self.green_task_set
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) async fn install_green(&self, count: u32, port: u16) -> Result<String, DriverError> {
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
    pub(crate) async fn make_green_primary(&self) -> Result<(), DriverError> {
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
    pub(crate) async fn point(&self, listener: &str, group: &str) -> Result<(), DriverError> {
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
    pub(crate) async fn remove_green(&self) -> Result<(), DriverError> {
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

/// The id of a task set (`ecs-svc/…`-style, the last segment of its ARN): what a deployment
/// target's `taskSetsInfo[].identifer` names.
pub(crate) fn task_set_id(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// The service role CodeDeploy runs the deployment group with: the rehearsal's
/// `CodeDeployServiceRole` (AWS's `AWSCodeDeployRoleForECSLimited`).
pub fn codedeploy_service_role_arn() -> String {
    crate::iam::RoleSet::bundled()
        .ok()
        .and_then(|roles| {
            roles
                .role(crate::iam::CODEDEPLOY_SERVICE_ROLE)
                .map(|role| role.arn.clone())
        })
        .unwrap_or_else(|| format!("arn:aws:iam::{ACCOUNT_ID}:role/ecsCodeDeployRole"))
}

/// The SHA-256 of `text` in lowercase hex, as CodeDeploy names an AppSpec-content revision.
fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
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
    fn a_task_set_id_is_its_arns_last_segment() {
        assert_eq!(
            task_set_id("arn:aws:ecs:us-east-1:123456789012:task-set/c/s/ecs-svc/123"),
            "123"
        );
    }
}
