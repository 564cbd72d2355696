//! An ECS service's world in moto, built from a scenario: the network, the images in ECR, the
//! task definitions, the cluster and service (with the deployment configuration ECS reports), the
//! load balancer with its production and test listeners and rules, blue's running tasks
//! registered in blue's target group, and the alarms.
//!
//! Building talks to moto directly (not through the endpoint the functions use), so the
//! functions' call counts and injected faults concern their own calls only. ECS, ECR and
//! CloudWatch are called with their JSON protocols; ELBv2 with the SDK.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_sdk_elasticloadbalancingv2 as elb;
use elb::types::{
    Action, ActionTypeEnum, ForwardActionConfig, LoadBalancerTypeEnum, PathPatternConditionConfig,
    ProtocolEnum, RuleCondition, TargetDescription, TargetGroupTuple, TargetTypeEnum,
};
use serde_json::{Value, json};

use super::util::{
    arn_suffix, hex64, moto_elb_client, now_epoch, sdk_error, short_name, text, with_health_check,
};
use crate::driver::ecs::{DeploymentIds, DriverError};
use crate::lb::LoadBalancerPlane;
use crate::local_aws::{ACCOUNT_ID, LocalAws, REGION};
use crate::moto_client::Moto;
use crate::scenario::format::{DigestResolved, RevisionSpec, Scenario, Strategy, Topology};
use crate::service_connect::{
    DEFAULT_TEST_HEADER as SERVICE_CONNECT_TEST_HEADER, ServiceConnectClient,
};
use crate::world::TaskDigests;
use crate::world::World;

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
    let elb = moto_elb_client(aws);

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
    moto.enable_dns_hostnames(&network.vpc_id).await?;
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
        let create = elb
            .create_target_group()
            .name(&name)
            .protocol(if nlb {
                ProtocolEnum::Tcp
            } else {
                ProtocolEnum::Http
            })
            .port(i32::from(service.port))
            .vpc_id(&network.vpc_id)
            .target_type(TargetTypeEnum::Ip);
        let created = with_health_check(create, &service.health_check, nlb)
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
    create_secrets(aws, scenario).await?;

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

    let functions: Vec<super::functions::FunctionRecord> = service_hook_functions(scenario)
        .into_iter()
        .map(|function| super::functions::FunctionRecord {
            name: function_name(&function),
            identity: function,
            config_reference: None,
        })
        .collect();
    super::functions::register(aws, world, &functions).await?;

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

/// The functions the service's lifecycle hooks name, once each.
fn service_hook_functions(scenario: &Scenario) -> Vec<String> {
    let mut functions: Vec<String> = scenario
        .deployment
        .lifecycle_hooks
        .iter()
        .filter(|hook| hook.is_lambda())
        .map(|hook| hook.function.clone())
        .collect();
    functions.sort();
    functions.dedup();
    functions
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
            let stages: Vec<&str> = hook.lifecycle_stages.iter().map(|stage| stage.as_str()).collect();
            // A PAUSE hook has no target, role or details (the ECS API reference).
            let mut entry = if hook.is_lambda() {
                json!({
                    "targetType": hook.target_type.as_str(),
                    "hookTargetArn": function_arn(&hook.function),
                    "roleArn": hook_role_arn(),
                    "lifecycleStages": stages,
                })
            } else {
                json!({ "targetType": hook.target_type.as_str(), "lifecycleStages": stages })
            };
            if let Some(details) = &hook.hook_details {
                entry["hookDetails"] = details.clone();
            }
            if let Some(timeout) = &hook.timeout_configuration {
                entry["timeoutConfiguration"] = json!({
                    "timeoutInMinutes": timeout.timeout_in_minutes.round() as i64,
                    "action": timeout.action.as_str(),
                });
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

/// Stores the scenario's secret header values: SSM SecureString parameters and Secrets Manager
/// secrets.
pub(crate) async fn create_secrets(aws: &LocalAws, scenario: &Scenario) -> Result<(), DriverError> {
    let moto = Moto::new(aws.moto().endpoint_url());
    for (name, value) in &scenario.world.ssm_parameters {
        moto.ssm(
            "PutParameter",
            json!({ "Name": name, "Value": value, "Type": "SecureString", "Overwrite": true }),
        )
        .await?;
    }
    for (name, value) in &scenario.world.secrets {
        moto.secrets_manager(
            "CreateSecret",
            json!({ "Name": name, "SecretString": value }),
        )
        .await?;
    }
    Ok(())
}

/// The role ECS invokes the hooks with: the template's `HookInvokeRole`, as the rehearsal's IAM
/// holds it.
pub fn hook_role_arn() -> String {
    crate::iam::RoleSet::bundled()
        .ok()
        .and_then(|roles| {
            roles
                .role(crate::iam::HOOK_INVOKE_ROLE)
                .map(|role| role.arn.clone())
        })
        .unwrap_or_else(|| format!("arn:aws:iam::{ACCOUNT_ID}:role/greenlight-HookInvokeRole"))
}

/// The ARN a hook's function has in the rehearsal.
pub fn function_arn(function: &str) -> String {
    format!(
        "arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{}",
        function_name(function)
    )
}

/// The Lambda name of greenlight's function `function` (`test-traffic`) in the rehearsal.
pub fn function_name(function: &str) -> String {
    format!("greenlight-{function}")
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
pub(crate) async fn run_tasks(
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

pub(crate) async fn register_targets(
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

pub(crate) async fn set_alarm_state(
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
pub(crate) fn forward(green_group: &str, blue_group: &str, green: f64, blue: f64) -> Action {
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
