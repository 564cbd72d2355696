//! Building a scenario's world in moto, and acting on it for the driver.
//!
//! Setup talks to moto directly (not through the endpoint the functions use), so the functions'
//! call counts and injected faults concern their own calls only. ECS, ECR and CloudWatch are
//! called with their JSON protocols; ELBv2 with the SDK.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use aws_sdk_elasticloadbalancingv2 as elb;
use bytes::Bytes;
use elb::types::{
    Action, ActionTypeEnum, ForwardActionConfig, LoadBalancerTypeEnum, PathPatternConditionConfig,
    ProtocolEnum, RuleCondition, TargetDescription, TargetGroupTuple, TargetTypeEnum,
};
use serde_json::{Value, json};

use super::format::{AppSpec, DigestResolved, RevisionSpec, Scenario, Strategy, Topology};
use crate::app::{AppBehaviour, LatencyProfile, SampleApp};
use crate::driver::Moment;
use crate::driver::ecs::{DeploymentIds, DeploymentWorld, DriverError, Listener};
use crate::endpoint::{AwsEndpoint, Call, Supplement, SupplementFuture, Upstream};
use crate::lb::LoadBalancerPlane;
use crate::local_aws::{ACCOUNT_ID, LocalAws, REGION};
use crate::moto_client::Moto;
use crate::service_connect::{
    DEFAULT_TEST_HEADER as SERVICE_CONNECT_TEST_HEADER, ServiceConnectClient,
};
use crate::world::{TargetHealthOverride, World};

/// The digests ECS reports for running containers, which moto leaves out of `DescribeTasks`: by
/// task definition and container, and per task where a scenario makes one task run another digest.
#[derive(Debug, Default)]
pub struct TaskDigests {
    by_definition: Mutex<HashMap<String, HashMap<String, String>>>,
    by_task: Mutex<HashMap<String, HashMap<String, String>>>,
}

impl TaskDigests {
    /// The digest each task of `task_definition_arn` reports for `container`.
    pub fn set_definition(&self, task_definition_arn: &str, container: &str, digest: &str) {
        self.by_definition
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(task_definition_arn.to_owned())
            .or_default()
            .insert(container.to_owned(), digest.to_owned());
    }

    /// The digest one task reports for `container`, whatever its task definition says.
    pub fn set_task(&self, task_arn: &str, container: &str, digest: &str) {
        self.by_task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(task_arn.to_owned())
            .or_default()
            .insert(container.to_owned(), digest.to_owned());
    }

    fn digest(&self, task_arn: &str, task_definition: &str, container: &str) -> Option<String> {
        let by_task = self.by_task.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(digest) = by_task.get(task_arn).and_then(|c| c.get(container)) {
            return Some(digest.clone());
        }
        drop(by_task);
        self.by_definition
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(task_definition)
            .and_then(|c| c.get(container))
            .cloned()
    }

    fn fill(&self, answer: &mut Value) {
        let Some(tasks) = answer.get_mut("tasks").and_then(Value::as_array_mut) else {
            return;
        };
        for task in tasks {
            let task_arn = task["taskArn"].as_str().unwrap_or_default().to_owned();
            let definition = task["taskDefinitionArn"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let Some(containers) = task.get_mut("containers").and_then(Value::as_array_mut) else {
                continue;
            };
            for container in containers {
                let name = container["name"].as_str().unwrap_or_default().to_owned();
                if let Some(digest) = self.digest(&task_arn, &definition, &name) {
                    container["imageDigest"] = json!(digest);
                }
            }
        }
    }
}

/// Adds the running containers' image digests to moto's `DescribeTasks` answers.
pub struct TaskDigestSupplement(pub Arc<TaskDigests>);

impl Supplement for TaskDigestSupplement {
    fn answer<'a>(&'a self, call: &'a Call, upstream: &'a Upstream) -> SupplementFuture<'a> {
        Box::pin(async move {
            if call.service != "ecs" || call.operation != "DescribeTasks" {
                return None;
            }
            let mut reply = upstream.forward(call).await.ok()?;
            if !reply.status.is_success() {
                return Some(reply);
            }
            let mut answer: Value = serde_json::from_slice(&reply.body).ok()?;
            self.0.fill(&mut answer);
            reply.headers.remove(http::header::CONTENT_LENGTH);
            reply.body = Bytes::from(answer.to_string());
            Some(reply)
        })
    }
}

/// Everything setup created, by ARN.
#[derive(Debug, Clone)]
pub struct Stack {
    /// The deployment's ARNs.
    pub ids: DeploymentIds,
    /// The load balancer.
    pub load_balancer_arn: String,
    /// Blue's target group.
    pub blue_target_group: String,
    /// Green's target group.
    pub green_target_group: String,
    /// The production listener, and its port on 127.0.0.1.
    pub production_listener: (String, u16),
    /// The test listener, and its port on 127.0.0.1.
    pub test_listener: (String, u16),
    /// The production listener rule ECS shifts (for an NLB, the production listener).
    pub production_rule: String,
    /// The test listener rule (for an NLB, the test listener).
    pub test_rule: String,
    /// How traffic reaches the service.
    pub topology: Topology,
    /// The Service Connect client in the namespace (topology `service_connect`).
    pub service_connect: Option<Arc<ServiceConnectClient>>,
    /// Blue's task definition.
    pub blue_task_definition: String,
    /// Green's task definition.
    pub green_task_definition: String,
    /// Green's image reference and its digest in ECR (None when not pushed).
    pub green_image: (String, Option<String>),
    /// Blue's image reference.
    pub blue_image: String,
    /// The subnets tasks run in.
    pub subnets: Vec<String>,
    /// Green's service revision record, as the deployment starts.
    pub green_revision: Value,
    /// Green's service revision record once its first task started (digests resolved).
    pub green_revision_resolved: Value,
}

/// Creates the scenario's world in moto and in the sim's records.
pub async fn build(
    scenario: &Scenario,
    aws: &LocalAws,
    world: &World,
    plane: &LoadBalancerPlane,
    digests: &TaskDigests,
) -> Result<Stack, DriverError> {
    let moto = Moto::new(aws.moto().endpoint_url());
    let service = &scenario.service;
    let elb = elb_client(aws);

    let RevisionImages {
        blue: (blue_image, blue_digest),
        green: (green_image, green_digest),
    } = push_images(aws, scenario).await?;

    // Cluster and task definitions.
    let cluster = moto
        .ecs("CreateCluster", json!({ "clusterName": service.cluster }))
        .await?;
    let cluster_arn = text(
        &cluster["cluster"]["clusterArn"],
        "CreateCluster clusterArn",
    )?;
    let blue_task_definition = register_task_definition(&moto, scenario, &blue_image).await?;
    let green_task_definition = register_task_definition(&moto, scenario, &green_image).await?;
    if let Some(digest) = &blue_digest {
        digests.set_definition(&blue_task_definition, &service.container, digest);
    }
    if let Some(digest) = &green_digest {
        digests.set_definition(&green_task_definition, &service.container, digest);
    }

    // Network and load balancer.
    let network = aws
        .create_network(
            "10.0.0.0/16",
            &[("us-east-1a", "10.0.1.0/24"), ("us-east-1b", "10.0.2.0/24")],
        )
        .await
        .map_err(|error| DriverError::new("ec2:CreateVpc", error.to_string()))?;
    // Fargate tasks get an ENI only in a VPC with DNS hostnames on.
    moto.ec2(
        "ModifyVpcAttribute",
        &format!("VpcId={}&EnableDnsHostnames.Value=true", network.vpc_id),
    )
    .await?;
    // Every topology gets a load balancer in moto, so the rehearsal's production load has somewhere
    // to go; what ECS knows of it (the service's `loadBalancers`) depends on the topology.
    let topology = service.topology;
    let nlb = topology == Topology::Nlb;
    let lb_name = short_name(&format!("{}-{}", service.cluster, service.name), 32);
    let created = elb
        .create_load_balancer()
        .name(&lb_name)
        .r#type(if nlb {
            LoadBalancerTypeEnum::Network
        } else {
            LoadBalancerTypeEnum::Application
        })
        .set_subnets(Some(network.subnet_ids.clone()))
        .send()
        .await
        .map_err(|error| sdk_error("elasticloadbalancing:CreateLoadBalancer", &error))?;
    let load_balancer_arn = created
        .load_balancers()
        .first()
        .and_then(|lb| lb.load_balancer_arn())
        .map(str::to_owned)
        .ok_or_else(|| DriverError::new("elasticloadbalancing:CreateLoadBalancer", "no ARN"))?;
    let mut groups = Vec::new();
    for side in ["blue", "green"] {
        let name = short_name(&format!("{}-{side}", service.name), 32);
        let created = elb
            .create_target_group()
            .name(&name)
            .protocol(if nlb {
                ProtocolEnum::Tcp
            } else {
                ProtocolEnum::Http
            })
            .port(i32::from(service.port))
            .vpc_id(&network.vpc_id)
            .target_type(TargetTypeEnum::Ip)
            .health_check_path("/")
            .send()
            .await
            .map_err(|error| sdk_error("elasticloadbalancing:CreateTargetGroup", &error))?;
        groups.push(
            created
                .target_groups()
                .first()
                .and_then(|group| group.target_group_arn())
                .map(str::to_owned)
                .ok_or_else(|| {
                    DriverError::new("elasticloadbalancing:CreateTargetGroup", "no ARN")
                })?,
        );
    }
    let (blue_target_group, green_target_group) = (groups[0].clone(), groups[1].clone());

    let mut listeners = Vec::new();
    for _ in ["production", "test"] {
        let port = plane
            .bind_listener_port()
            .map_err(|error| DriverError::new("bind a listener port", error.to_string()))?;
        // An NLB listener forwards with its default action, weighted blue 100 / green 0.
        let default_action = if nlb {
            forward(&green_target_group, &blue_target_group, 0.0, 100.0)
        } else {
            Action::builder()
                .r#type(ActionTypeEnum::Forward)
                .target_group_arn(&blue_target_group)
                .build()
        };
        let listener = elb
            .create_listener()
            .load_balancer_arn(&load_balancer_arn)
            .protocol(if nlb {
                ProtocolEnum::Tcp
            } else {
                ProtocolEnum::Http
            })
            .port(i32::from(port))
            .default_actions(default_action)
            .send()
            .await
            .map_err(|error| sdk_error("elasticloadbalancing:CreateListener", &error))?;
        let listener_arn = listener
            .listeners()
            .first()
            .and_then(|listener| listener.listener_arn())
            .map(str::to_owned)
            .ok_or_else(|| DriverError::new("elasticloadbalancing:CreateListener", "no ARN"))?;
        if nlb {
            listeners.push((listener_arn.clone(), port, listener_arn));
            continue;
        }
        let rule = elb
            .create_rule()
            .listener_arn(&listener_arn)
            .priority(1)
            .conditions(
                RuleCondition::builder()
                    .field("path-pattern")
                    .path_pattern_config(PathPatternConditionConfig::builder().values("/*").build())
                    .build(),
            )
            .actions(forward(&green_target_group, &blue_target_group, 0.0, 100.0))
            .send()
            .await
            .map_err(|error| sdk_error("elasticloadbalancing:CreateRule", &error))?;
        let rule_arn = rule
            .rules()
            .first()
            .and_then(|rule| rule.rule_arn())
            .map(str::to_owned)
            .ok_or_else(|| DriverError::new("elasticloadbalancing:CreateRule", "no ARN"))?;
        listeners.push((listener_arn, port, rule_arn));
    }
    let (production_listener, production_port, production_rule) = listeners[0].clone();
    let (test_listener, test_port, test_rule) = listeners[1].clone();

    // Blue's tasks, behind blue's target group.
    let blue_tasks = run_tasks(
        &moto,
        &cluster_arn,
        &blue_task_definition,
        service.desired_count,
        &network.subnet_ids,
        &service.name,
    )
    .await?;
    register_targets(
        &elb,
        &blue_target_group,
        &blue_tasks.iter().map(|t| t.1.clone()).collect::<Vec<_>>(),
        service.port,
    )
    .await?;

    create_alarms(aws, scenario, &load_balancer_arn).await?;

    // The service: moto drops deploymentConfiguration on create; UpdateService keeps it.
    let mut advanced = json!({
        "alternateTargetGroupArn": green_target_group,
        "productionListenerRule": production_rule,
        "roleArn": format!("arn:aws:iam::{ACCOUNT_ID}:role/ecs-infrastructure-elb"),
    });
    if topology.has_test_route() {
        advanced["testListenerRule"] = json!(test_rule);
    }
    let service_connect = if topology == Topology::ServiceConnect {
        Some(Arc::new(
            ServiceConnectClient::start(SERVICE_CONNECT_TEST_HEADER)
                .await
                .map_err(|error| {
                    DriverError::new("start the Service Connect client", error.to_string())
                })?,
        ))
    } else {
        None
    };
    // The namespace's view of the service, as ECS's model spells it: the test header is the
    // default one, named explicitly.
    let service_connect_configuration = json!({
        "enabled": true,
        "namespace": service.cluster,
        "services": [{
            "portName": service.container,
            "discoveryName": service.name,
            "clientAliases": [{
                "port": service.port,
                "dnsName": format!("{}.{}", service.name, service.cluster),
                "testTrafficRules": { "header": {
                    "name": SERVICE_CONNECT_TEST_HEADER,
                    "value": { "exact": "true" },
                } },
            }],
        }],
    });
    let load_balancers = if topology.has_load_balancer() {
        json!([{
            "targetGroupArn": blue_target_group,
            "containerName": service.container,
            "containerPort": service.port,
            "advancedConfiguration": advanced,
        }])
    } else {
        json!([])
    };
    let created = moto
        .ecs(
            "CreateService",
            json!({
                "cluster": service.cluster,
                "serviceName": service.name,
                "taskDefinition": blue_task_definition,
                "desiredCount": service.desired_count,
                "launchType": "FARGATE",
                "deploymentController": { "type": "ECS" },
                "networkConfiguration": network_configuration(&network.subnet_ids),
                "loadBalancers": load_balancers,
            }),
        )
        .await?;
    let service_arn = text(
        &created["service"]["serviceArn"],
        "CreateService serviceArn",
    )?;
    let deployment_configuration = deployment_configuration(scenario);
    moto.ecs(
        "UpdateService",
        json!({
            "cluster": service.cluster,
            "service": service.name,
            "deploymentConfiguration": deployment_configuration,
        }),
    )
    .await?;

    // ECS's records: blue's revision and its finished deployment, green's revision (the driver
    // writes it when the deployment starts) and the new deployment's ARN.
    let revision_arn = |id: u64| {
        format!(
            "arn:aws:ecs:{REGION}:{ACCOUNT_ID}:service-revision/{}/{}/{id}",
            service.cluster, service.name
        )
    };
    let blue_revision_arn = revision_arn(1_920_498_462_936_580_504);
    let green_revision_arn = revision_arn(9_313_423_515_462_893_900);
    let deployment_arn = |id: &str| {
        format!(
            "arn:aws:ecs:{REGION}:{ACCOUNT_ID}:service-deployment/{}/{}/{id}",
            service.cluster, service.name
        )
    };
    let ids = DeploymentIds {
        cluster_arn: cluster_arn.clone(),
        service_arn: service_arn.clone(),
        deployment_arn: deployment_arn("EZe5RNVLH6PPzHXINuP28"),
        green_revision_arn: green_revision_arn.clone(),
        blue_revision_arn: blue_revision_arn.clone(),
    };
    let revision = |arn: &str,
                    task_definition: &str,
                    image: &str,
                    digest: Option<&str>,
                    group: &str| {
        let mut container = json!({ "containerName": service.container, "image": image });
        if let Some(digest) = digest {
            container["imageDigest"] = json!(digest);
        }
        json!({
            "serviceRevisionArn": arn,
            "serviceArn": service_arn,
            "clusterArn": cluster_arn,
            "taskDefinition": task_definition,
            "launchType": "FARGATE",
            "platformVersion": "1.4.0",
            "containerImages": [container],
            "loadBalancers": load_balancers,
            "networkConfiguration": network_configuration(&network.subnet_ids),
            "createdAt": now_epoch(),
            "serviceConnectConfiguration": if topology == Topology::ServiceConnect {
                service_connect_configuration.clone()
            } else {
                Value::Null
            },
            "resolvedConfiguration": if topology.has_load_balancer() {
                json!({ "loadBalancers": [{ "targetGroupArn": group, "productionListenerRule": production_rule }] })
            } else {
                json!({})
            },
        })
    };
    world
        .ecs()
        .put_revision(revision(
            &blue_revision_arn,
            &blue_task_definition,
            &blue_image,
            blue_digest.as_deref(),
            &blue_target_group,
        ))
        .map_err(|error| DriverError::new("put blue's service revision", error.to_string()))?;
    let earlier = now_epoch() - 86_400.0;
    world
        .ecs()
        .put_deployment(json!({
            "serviceDeploymentArn": deployment_arn("b1ueD3p1oyment0000001"),
            "serviceArn": service_arn,
            "clusterArn": cluster_arn,
            "createdAt": earlier,
            "startedAt": earlier,
            "finishedAt": earlier + 600.0,
            "status": "SUCCESSFUL",
            "targetServiceRevision": {
                "arn": blue_revision_arn,
                "requestedTaskCount": service.desired_count,
                "runningTaskCount": service.desired_count,
                "pendingTaskCount": 0,
            },
            "sourceServiceRevisions": [],
        }))
        .map_err(|error| DriverError::new("put blue's deployment", error.to_string()))?;
    // The digest ECS records for green: the one its first task runs (a moved tag included).
    let resolved_digest = scenario
        .revisions
        .green
        .running_digest
        .clone()
        .or_else(|| green_digest.clone());
    let green_revision_resolved = revision(
        &green_revision_arn,
        &green_task_definition,
        &green_image,
        resolved_digest.as_deref(),
        &green_target_group,
    );
    let green_revision = match scenario.revisions.green.digest_resolved {
        DigestResolved::AtStart => revision(
            &green_revision_arn,
            &green_task_definition,
            &green_image,
            green_digest.as_deref(),
            &green_target_group,
        ),
        DigestResolved::AfterFirstTask => revision(
            &green_revision_arn,
            &green_task_definition,
            &green_image,
            None,
            &green_target_group,
        ),
    };

    Ok(Stack {
        ids,
        load_balancer_arn,
        blue_target_group,
        green_target_group,
        production_listener: (production_listener, production_port),
        test_listener: (test_listener, test_port),
        production_rule,
        test_rule,
        topology,
        service_connect,
        blue_task_definition,
        green_task_definition,
        green_image: (green_image, green_digest),
        blue_image,
        subnets: network.subnet_ids,
        green_revision,
        green_revision_resolved,
    })
}

/// The service's `deploymentConfiguration`, as ECS reports it.
pub fn deployment_configuration(scenario: &Scenario) -> Value {
    let deployment = &scenario.deployment;
    let mut configuration = json!({
        "strategy": deployment.strategy.as_str(),
        "maximumPercent": 200,
        "minimumHealthyPercent": 100,
        "bakeTimeInMinutes": deployment.bake_time_in_minutes.round() as i64,
        "lifecycleHooks": deployment.lifecycle_hooks.iter().map(|hook| {
            let mut entry = json!({
                "hookTargetArn": function_arn(&hook.function),
                "roleArn": format!("arn:aws:iam::{ACCOUNT_ID}:role/ecs-invoke-hooks"),
                "lifecycleStages": hook.lifecycle_stages.iter().map(|stage| stage.as_str()).collect::<Vec<_>>(),
            });
            if let Some(details) = &hook.hook_details {
                entry["hookDetails"] = details.clone();
            }
            entry
        }).collect::<Vec<_>>(),
    });
    if !scenario.world.deployment_alarms.is_empty() {
        configuration["alarms"] = json!({
            "alarmNames": scenario.world.deployment_alarms,
            "enable": true,
            "rollback": true,
        });
    }
    match deployment.strategy {
        Strategy::Linear => {
            if let Some(linear) = &deployment.linear_configuration {
                configuration["linearConfiguration"] = json!({
                    "stepPercent": linear.step_percent,
                    "stepBakeTimeInMinutes": linear.step_bake_time_in_minutes.round() as i64,
                });
            }
        }
        Strategy::Canary => {
            if let Some(canary) = &deployment.canary_configuration {
                configuration["canaryConfiguration"] = json!({
                    "canaryPercent": canary.canary_percent,
                    "canaryBakeTimeInMinutes": canary.canary_bake_time_in_minutes.round() as i64,
                });
            }
        }
        Strategy::BlueGreen | Strategy::Rolling => {}
    }
    configuration
}

/// Blue's and green's images: each reference (what the task definition names) and the digest
/// ECR resolved it to (None when the image is not pushed).
pub(crate) struct RevisionImages {
    pub(crate) blue: (String, Option<String>),
    pub(crate) green: (String, Option<String>),
}

/// Pushes blue's and green's images to ECR, with their scan findings.
pub(crate) async fn push_images(
    aws: &LocalAws,
    scenario: &Scenario,
) -> Result<RevisionImages, DriverError> {
    let moto = Moto::new(aws.moto().endpoint_url());
    Ok(RevisionImages {
        blue: push_image(&moto, &scenario.revisions.blue, "blue").await?,
        green: push_image(&moto, &scenario.revisions.green, "green").await?,
    })
}

/// Creates the scenario's alarms (on the load balancer's 5xx count) in their starting states.
pub(crate) async fn create_alarms(
    aws: &LocalAws,
    scenario: &Scenario,
    load_balancer_arn: &str,
) -> Result<(), DriverError> {
    let moto = Moto::new(aws.moto().endpoint_url());
    for alarm in &scenario.world.alarms {
        moto.cloudwatch(
            "PutMetricAlarm",
            json!({
                "AlarmName": alarm.name,
                "Namespace": "AWS/ApplicationELB",
                "MetricName": "HTTPCode_Target_5XX_Count",
                "Statistic": "Sum",
                "Period": 60,
                "EvaluationPeriods": 1,
                "Threshold": 10.0,
                "ComparisonOperator": "GreaterThanThreshold",
                "Dimensions": [{ "Name": "LoadBalancer", "Value": arn_suffix(load_balancer_arn, "loadbalancer/") }],
            }),
        )
        .await?;
        if alarm.state != "OK" {
            set_alarm_state(&moto, &alarm.name, &alarm.state, "set by the scenario").await?;
        }
    }
    Ok(())
}

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

/// The ARN a hook's function has in the rehearsal.
pub fn function_arn(function: &str) -> String {
    format!("arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:greenlight-{function}")
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

async fn push_image(
    moto: &Moto,
    revision: &RevisionSpec,
    side: &str,
) -> Result<(String, Option<String>), DriverError> {
    let image = &revision.image;
    let registry = format!("{ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com");
    match moto
        .ecr(
            "CreateRepository",
            json!({ "repositoryName": image.repository }),
        )
        .await
    {
        Ok(_) => {}
        Err(error) if error.message.contains("RepositoryAlreadyExists") => {}
        Err(error) => return Err(error),
    }
    let pushed = if image.missing {
        None
    } else {
        // Different content per revision, so each gets its own digest.
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 1000,
                "digest": format!("sha256:{}", hex64(&format!("{side}:{}:{}", image.repository, image.tag))),
            },
            // moto's digest is a hash of the layer digests: one layer of each revision's own.
            "layers": [{
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "size": 2000,
                "digest": format!("sha256:{}", hex64(&format!("layer:{side}:{}:{}", image.repository, image.tag))),
            }],
        });
        let answer = moto
            .ecr(
                "PutImage",
                json!({
                    "repositoryName": image.repository,
                    "imageManifest": manifest.to_string(),
                    "imageTag": image.tag,
                }),
            )
            .await?;
        let digest = text(
            &answer["image"]["imageId"]["imageDigest"],
            "PutImage imageDigest",
        )?;
        if !revision.scan_findings.is_empty() {
            scan_findings(moto, &image.repository, &digest, &revision.scan_findings).await?;
        }
        Some(digest)
    };
    let reference = match (&image.digest, &pushed) {
        (Some(digest), _) => format!("{registry}/{}@{digest}", image.repository),
        (None, _) => format!("{registry}/{}:{}", image.repository, image.tag),
    };
    let resolved = image.digest.clone().or(pushed);
    Ok((reference, resolved))
}

/// Injects scan findings through moto's API (after StartImageScan, as moto requires).
async fn scan_findings(
    moto: &Moto,
    repository: &str,
    digest: &str,
    findings: &BTreeMap<String, u32>,
) -> Result<(), DriverError> {
    let image_id = json!({ "imageDigest": digest });
    moto.ecr(
        "StartImageScan",
        json!({ "repositoryName": repository, "imageId": image_id }),
    )
    .await?;
    let mut list = Vec::new();
    for (severity, count) in findings {
        for n in 0..*count {
            list.push(json!({
                "name": format!("CVE-2026-{:04}", list.len() + 1),
                "severity": severity,
                "uri": format!("https://nvd.nist.gov/vuln/detail/CVE-2026-{n:04}"),
            }));
        }
    }
    let counts: serde_json::Map<String, Value> = findings
        .iter()
        .map(|(severity, count)| (severity.clone(), json!(count)))
        .collect();
    moto.moto_api(
        "/moto-api/static/ecr/scan-finding-results",
        json!({
            "results": [{
                "registryId": ACCOUNT_ID,
                "repositoryName": repository,
                "imageId": image_id,
                "imageScanStatus": { "status": "COMPLETE", "description": "The scan was completed successfully." },
                "imageScanFindings": {
                    "findings": list,
                    "findingSeverityCounts": counts,
                },
            }],
        }),
    )
    .await
}

async fn register_task_definition(
    moto: &Moto,
    scenario: &Scenario,
    image: &str,
) -> Result<String, DriverError> {
    let service = &scenario.service;
    let answer = moto
        .ecs(
            "RegisterTaskDefinition",
            json!({
                "family": service.name,
                "networkMode": "awsvpc",
                "requiresCompatibilities": ["FARGATE"],
                "cpu": "256",
                "memory": "512",
                "containerDefinitions": [{
                    "name": service.container,
                    "image": image,
                    "cpu": 256,
                    "memory": 512,
                    "essential": true,
                    "portMappings": [{ "containerPort": service.port, "protocol": "tcp" }],
                }],
            }),
        )
        .await?;
    text(
        &answer["taskDefinition"]["taskDefinitionArn"],
        "RegisterTaskDefinition taskDefinitionArn",
    )
}

fn network_configuration(subnets: &[String]) -> Value {
    json!({
        "awsvpcConfiguration": {
            "subnets": subnets,
            "securityGroups": ["sg-0123456789abcdef0"],
            "assignPublicIp": "DISABLED",
        }
    })
}

/// Runs `count` tasks; returns each task's ARN and private IP.
async fn run_tasks(
    moto: &Moto,
    cluster_arn: &str,
    task_definition: &str,
    count: u32,
    subnets: &[String],
    service: &str,
) -> Result<Vec<(String, String)>, DriverError> {
    let answer = moto
        .ecs(
            "RunTask",
            json!({
                "cluster": cluster_arn,
                "taskDefinition": task_definition,
                "count": count,
                "launchType": "FARGATE",
                "startedBy": format!("ecs-svc/{service}"),
                "networkConfiguration": network_configuration(subnets),
            }),
        )
        .await?;
    let tasks = answer["tasks"].as_array().cloned().unwrap_or_default();
    let mut started = Vec::new();
    for (index, task) in tasks.iter().enumerate() {
        let arn = text(&task["taskArn"], "RunTask taskArn")?;
        let ip = task["attachments"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|attachment| {
                attachment["details"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .find(|detail| detail["name"] == "privateIPv4Address")
            .and_then(|detail| detail["value"].as_str().map(str::to_owned))
            .unwrap_or_else(|| format!("10.0.1.{}", 10 + index));
        started.push((arn, ip));
    }
    if started.len() != count as usize {
        return Err(DriverError::new(
            "ecs:RunTask",
            format!("asked for {count} tasks, moto started {}", started.len()),
        ));
    }
    Ok(started)
}

async fn register_targets(
    elb: &elb::Client,
    target_group: &str,
    ips: &[String],
    port: u16,
) -> Result<(), DriverError> {
    elb.register_targets()
        .target_group_arn(target_group)
        .set_targets(Some(
            ips.iter()
                .map(|ip| {
                    TargetDescription::builder()
                        .id(ip)
                        .port(i32::from(port))
                        .build()
                })
                .collect::<Vec<_>>(),
        ))
        .send()
        .await
        .map_err(|error| sdk_error("elasticloadbalancing:RegisterTargets", &error))?;
    Ok(())
}

async fn set_alarm_state(
    moto: &Moto,
    name: &str,
    state: &str,
    reason: &str,
) -> Result<(), DriverError> {
    moto.cloudwatch(
        "SetAlarmState",
        json!({ "AlarmName": name, "StateValue": state, "StateReason": reason }),
    )
    .await
    .map(|_| ())
}

/// A weighted forward to green and blue. ELB weights are integers (0–999): whole percents as they
/// are, else tenths of a percent.
fn forward(green_group: &str, blue_group: &str, green: f64, blue: f64) -> Action {
    let (green_weight, blue_weight) = if green.fract() == 0.0 && blue.fract() == 0.0 {
        (green as i32, blue as i32)
    } else {
        ((green * 10.0).round() as i32, (blue * 10.0).round() as i32)
    };
    Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .forward_config(
            ForwardActionConfig::builder()
                .target_groups(
                    TargetGroupTuple::builder()
                        .target_group_arn(blue_group)
                        .weight(blue_weight)
                        .build(),
                )
                .target_groups(
                    TargetGroupTuple::builder()
                        .target_group_arn(green_group)
                        .weight(green_weight)
                        .build(),
                )
                .build(),
        )
        .build()
}

fn elb_client(aws: &LocalAws) -> elb::Client {
    let config = elb::config::Builder::from(&aws.sdk_config())
        .endpoint_url(aws.moto().endpoint_url())
        .build();
    elb::Client::from_conf(config)
}

fn sdk_error<E: std::fmt::Debug>(action: &str, error: &E) -> DriverError {
    DriverError::new(action, format!("{error:?}"))
}

fn text(value: &Value, what: &str) -> Result<String, DriverError> {
    value
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| DriverError::new(what, format!("missing in moto's answer: {value}")))
}

pub(crate) fn short_name(name: &str, max: usize) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    cleaned
        .chars()
        .take(max)
        .collect::<String>()
        .trim_end_matches('-')
        .to_owned()
}

/// The part of an ARN after `marker` (`app/<name>/<id>` for a load balancer).
fn arn_suffix(arn: &str, marker: &str) -> String {
    arn.split_once(marker)
        .map(|(_, rest)| rest.to_owned())
        .unwrap_or_else(|| arn.to_owned())
}

/// 64 hex characters derived from `seed` (not a real hash: a stand-in config digest).
fn hex64(seed: &str) -> String {
    let mut state: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in seed.bytes() {
        state ^= u64::from(byte);
        state = state.wrapping_mul(0x0100_0000_01b3);
    }
    (0..4)
        .map(|round| {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15 ^ round);
            format!("{state:016x}")
        })
        .collect()
}

fn now_epoch() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|since| since.as_secs_f64())
        .unwrap_or_default()
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
            elb: elb_client(aws),
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
