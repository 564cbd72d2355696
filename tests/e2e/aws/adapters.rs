//! The checks' gather halves against moto's server, through the local endpoint, with the real SDK
//! clients: what moto implements (ECR images and digests, ELBv2 rules and weights, task definitions
//! and tasks, target health, CloudWatch alarms and metric data) is exercised for real, wire
//! protocols included. What moto lacks (service deployments and revisions) comes from
//! `StaticFacts`; everything read from moto goes through the real gather code.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{
    ComparisonOperator, Dimension, MetricDatum, StateValue, Statistic,
};
use aws_sdk_ecs::types::{
    AwsVpcConfiguration, Compatibility, ContainerDefinition, LaunchType, NetworkConfiguration,
    NetworkMode,
};
use aws_sdk_elasticloadbalancingv2::types::{
    ProtocolEnum, RuleCondition as ElbRuleCondition, TargetDescription,
};
use greenlight_aws::checks::alarms::AlarmsCheck;
use greenlight_aws::checks::image::ImageCheck;
use greenlight_aws::checks::metric::MetricCheck;
use greenlight_aws::checks::metric_data::MetricData;
use greenlight_aws::checks::routing::RoutingCheck;
use greenlight_aws::checks::target_health::TargetHealthCheck;
use greenlight_aws::checks::tasks::TasksCheck;
use greenlight_aws::facts::ecs::{
    BlueTaskIdentity, GreenTaskIdentity, describe_listener_rules, gather_green_tasks,
};
use greenlight_core::checks::{
    AlarmsParams, ImageParams, InsufficientData, Listener, MetricParams, RoutingParams,
    TargetGroupRole, TargetHealthParams, TasksParams,
};
use greenlight_core::engine::state::CheckMemory;
use greenlight_core::engine::{Check, StageView};
use greenlight_core::facts::{
    ContainerImage, DeploymentFacts, RevisionFacts, RoutingFacts, ServiceIdentity, StaticFacts,
    TaskCounts, TaskFacts, TrafficWeights,
};
use greenlight_core::outcome::Status;
use greenlight_core::stage::StageKey;
use greenlight_sim::LocalAws;
use greenlight_sim::local_aws::{ACCOUNT_ID, REGION};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::common::{BlueGreenBalancer, blue_green_balancer, forward, two_zone_network};
use super::moto::MANIFEST;
use crate::parts::local_aws;

fn service(cluster: &str) -> ServiceIdentity {
    ServiceIdentity {
        partition: "aws".into(),
        region: REGION.into(),
        account: ACCOUNT_ID.into(),
        cluster: cluster.into(),
        service: "web".into(),
        service_arn: format!("arn:aws:ecs:{REGION}:{ACCOUNT_ID}:service/{cluster}/web"),
    }
}

fn facts(containers: Vec<ContainerImage>) -> StaticFacts {
    let mut facts = StaticFacts::new(service("adapters"));
    facts.green = Ok(Arc::new(RevisionFacts {
        arn: format!("arn:aws:ecs:{REGION}:{ACCOUNT_ID}:service-revision/adapters/web/2"),
        task_definition_arn: format!("arn:aws:ecs:{REGION}:{ACCOUNT_ID}:task-definition/web:2"),
        containers,
        target_group_arns: Vec::new(),
        test_header: None,
    }));
    facts
}

fn stage_view(started_at: SystemTime) -> StageView {
    stage_view_at("PRE_SCALE_UP", started_at)
}

fn stage_view_at(stage: &str, started_at: SystemTime) -> StageView {
    StageView {
        key: StageKey::new("d", stage, None),
        started_at,
        now: SystemTime::now(),
        attempt: 1,
        memory: CheckMemory::default(),
        horizon: None,
    }
}

#[tokio::test]
async fn the_image_check_resolves_tags_against_ecr() {
    let aws = local_aws().await;
    let ecr = aws_sdk_ecr::Client::new(&aws.sdk_config());
    ecr.create_repository()
        .repository_name("adapters/web")
        .send()
        .await
        .expect("CreateRepository");
    let pushed = ecr
        .put_image()
        .repository_name("adapters/web")
        .image_manifest(MANIFEST)
        .image_tag("2.0.0")
        .send()
        .await
        .expect("PutImage");
    let digest = pushed
        .image()
        .and_then(|image| image.image_id())
        .and_then(|id| id.image_digest())
        .expect("digest")
        .to_owned();
    let host = format!("{ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com");

    let good = facts(vec![ContainerImage {
        digest_by_consensus: false,
        container: "web".into(),
        image: format!("{host}/adapters/web:2.0.0"),
        digest: Some(digest.clone()),
    }]);
    let check = ImageCheck::new(ImageParams::default(), Arc::new(good), ecr.clone());
    let outcome = check.run(&stage_view(SystemTime::now())).await;
    assert_eq!(outcome.status, Status::Pass, "{outcome:?}");
    assert_eq!(aws.endpoint().calls("ecr", "DescribeImages"), 1);

    let missing = facts(vec![ContainerImage {
        digest_by_consensus: false,
        container: "web".into(),
        image: format!("{host}/adapters/web:9.9.9"),
        digest: None,
    }]);
    let check = ImageCheck::new(ImageParams::default(), Arc::new(missing), ecr.clone());
    let outcome = check.run(&stage_view(SystemTime::now())).await;
    assert_eq!(outcome.status, Status::Fail, "{outcome:?}");
    assert_eq!(outcome.code.code, "IMAGE_NOT_FOUND", "{outcome:?}");
    assert!(outcome.message.contains("9.9.9"), "{}", outcome.message);

    let drifted = facts(vec![ContainerImage {
        digest_by_consensus: false,
        container: "web".into(),
        image: format!("{host}/adapters/web:2.0.0"),
        digest: Some(format!("sha256:{}", "0".repeat(64))),
    }]);
    let check = ImageCheck::new(ImageParams::default(), Arc::new(drifted), ecr);
    let outcome = check.run(&stage_view(SystemTime::now())).await;
    assert_eq!(outcome.code.code, "IMAGE_DIGEST_MISMATCH", "{outcome:?}");
}

#[tokio::test]
async fn the_alarms_check_reads_alarm_states_from_cloudwatch() {
    let aws = local_aws().await;
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&aws.sdk_config());
    for name in ["adapters-web-5xx", "adapters-web-latency"] {
        cloudwatch
            .put_metric_alarm()
            .alarm_name(name)
            .namespace("AWS/ApplicationELB")
            .metric_name("HTTPCode_Target_5XX_Count")
            .statistic(Statistic::Sum)
            .period(60)
            .evaluation_periods(1)
            .threshold(5.0)
            .comparison_operator(ComparisonOperator::GreaterThanThreshold)
            .send()
            .await
            .expect("PutMetricAlarm");
    }
    let deployment_started = SystemTime::now() - Duration::from_secs(600);
    let mut facts = facts(Vec::new());
    facts.deployment = Ok(Arc::new(DeploymentFacts {
        id: "d".into(),
        status: "IN_PROGRESS".into(),
        started_at: Some(deployment_started),
        green_tasks: Default::default(),
        alarm_names: Vec::new(),
        triggered_alarms: Vec::new(),
        rollback: None,
        hook_expires_at: None,
        other_in_flight: Vec::new(),
    }));
    let facts = Arc::new(facts);
    let params = AlarmsParams {
        names: Vec::new(),
        prefix: Some("adapters-web-".into()),
        include_deployment_alarms: true,
        insufficient_data: InsufficientData::default(),
        require_evaluated_after_shift: false,
        allow_no_alarms: false,
    };

    let check = AlarmsCheck::new(params.clone(), facts.clone(), cloudwatch.clone());
    let outcome = check.run(&stage_view(deployment_started)).await;
    assert_eq!(outcome.status, Status::Pass, "{outcome:?}");

    cloudwatch
        .set_alarm_state()
        .alarm_name("adapters-web-5xx")
        .state_value(StateValue::Alarm)
        .state_reason("5xx above 5")
        .send()
        .await
        .expect("SetAlarmState");
    let check = AlarmsCheck::new(params, facts, cloudwatch);
    let outcome = check.run(&stage_view(deployment_started)).await;
    assert_eq!(outcome.status, Status::Fail, "{outcome:?}");
    assert_eq!(outcome.code.code, "ALARM_FIRING", "{outcome:?}");
    assert!(
        outcome.message.contains("adapters-web-5xx"),
        "{}",
        outcome.message
    );
    assert!(aws.endpoint().calls("cloudwatch", "DescribeAlarms") >= 2);
}

// -------------------------------------------------------------------------------------------------
// Tasks, target health and routing: ECS tasks and an ALB in moto
// -------------------------------------------------------------------------------------------------

const GREEN_REVISION: &str = "1111111111111111111";
const BLUE_REVISION: &str = "2222222222222222222";

fn revision_arn(cluster: &str, id: &str) -> String {
    format!("arn:aws:ecs:{REGION}:{ACCOUNT_ID}:service-revision/{cluster}/web/{id}")
}

/// One EC2 Query call moto needs and `LocalAws` does not make: Fargate tasks get an ENI only in a
/// VPC with DNS hostnames on. A plain HTTP/1.1 exchange through the endpoint.
async fn enable_dns_hostnames(aws: &LocalAws, vpc_id: &str) {
    let address = aws
        .endpoint_url()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let body = format!(
        "Action=ModifyVpcAttribute&Version=2016-11-15&VpcId={vpc_id}&EnableDnsHostnames.Value=true"
    );
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=AKIDLOCALTEST/20260101/{REGION}/ec2/aws4_request, SignedHeaders=host, Signature=0\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(&address)
        .await
        .expect("connect to the endpoint");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send ModifyVpcAttribute");
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .await
        .expect("read ModifyVpcAttribute");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

/// A cluster with a Fargate task definition whose image is pinned by digest, in a VPC of its own.
struct TaskWorld {
    ecs: aws_sdk_ecs::Client,
    cluster: String,
    task_definition: String,
    subnets: Vec<String>,
    vpc_id: String,
    digest: String,
}

impl TaskWorld {
    async fn new(aws: &LocalAws, cluster: &str, octet: u8) -> TaskWorld {
        let network = two_zone_network(aws, octet).await;
        enable_dns_hostnames(aws, &network.vpc_id).await;
        let ecs = aws_sdk_ecs::Client::new(&aws.sdk_config());
        ecs.create_cluster()
            .cluster_name(cluster)
            .send()
            .await
            .expect("CreateCluster");
        let digest = format!("sha256:{}", "ab".repeat(32));
        let registered = ecs
            .register_task_definition()
            .family(format!("{cluster}-web"))
            .network_mode(NetworkMode::Awsvpc)
            .requires_compatibilities(Compatibility::Fargate)
            .cpu("256")
            .memory("512")
            .container_definitions(
                ContainerDefinition::builder()
                    .name("web")
                    .image(format!(
                        "{ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com/{cluster}/web@{digest}"
                    ))
                    .cpu(256)
                    .memory(512)
                    .build(),
            )
            .send()
            .await
            .expect("RegisterTaskDefinition");
        let task_definition = registered
            .task_definition()
            .and_then(|definition| definition.task_definition_arn())
            .expect("task definition ARN")
            .to_owned();
        TaskWorld {
            ecs,
            cluster: cluster.to_owned(),
            task_definition,
            subnets: network.subnet_ids.clone(),
            vpc_id: network.vpc_id,
            digest,
        }
    }

    /// Runs `count` tasks of the task definition, started by the revision `revision` as ECS does.
    async fn run(&self, count: i32, revision: &str) -> Vec<String> {
        let ran = self
            .ecs
            .run_task()
            .cluster(&self.cluster)
            .task_definition(&self.task_definition)
            .count(count)
            .launch_type(LaunchType::Fargate)
            .started_by(format!("ecs-svc/{revision}"))
            .network_configuration(
                NetworkConfiguration::builder()
                    .awsvpc_configuration(
                        AwsVpcConfiguration::builder()
                            .subnets(&self.subnets[0])
                            .security_groups("sg-0123456789abcdef0")
                            .build()
                            .expect("awsvpc configuration"),
                    )
                    .build(),
            )
            .send()
            .await
            .expect("RunTask");
        ran.tasks()
            .iter()
            .map(|task| task.task_arn().expect("task ARN").to_owned())
            .collect()
    }

    fn identity(&self, blue_shares_the_task_definition: bool) -> GreenTaskIdentity {
        GreenTaskIdentity {
            revision_arn: revision_arn(&self.cluster, GREEN_REVISION),
            task_definition_arn: self.task_definition.clone(),
            blue: blue_shares_the_task_definition.then(|| BlueTaskIdentity {
                revision_arn: revision_arn(&self.cluster, BLUE_REVISION),
                task_definition_arn: self.task_definition.clone(),
            }),
            deployment_started_at: None,
        }
    }

    /// Green's tasks as the real gather code reads them from moto.
    async fn green_tasks(&self, blue_shares_the_task_definition: bool) -> Vec<TaskFacts> {
        gather_green_tasks(
            &self.ecs,
            &service(&self.cluster),
            &self.identity(blue_shares_the_task_definition),
        )
        .await
        .expect("green's tasks")
    }

    /// Static facts for the revision (moto has no service revisions) and deployment, with green's
    /// tasks from moto.
    fn facts(&self, revision_digest: &str, requested: u32, tasks: Vec<TaskFacts>) -> StaticFacts {
        let mut facts = StaticFacts::new(service(&self.cluster));
        facts.green = Ok(Arc::new(RevisionFacts {
            arn: revision_arn(&self.cluster, GREEN_REVISION),
            task_definition_arn: self.task_definition.clone(),
            containers: vec![ContainerImage {
                digest_by_consensus: false,
                container: "web".into(),
                image: format!("{}/web", self.cluster),
                digest: Some(revision_digest.to_owned()),
            }],
            target_group_arns: Vec::new(),
            test_header: None,
        }));
        facts.deployment = Ok(Arc::new(DeploymentFacts {
            id: "d".into(),
            status: "IN_PROGRESS".into(),
            started_at: None,
            green_tasks: TaskCounts {
                requested,
                running: requested,
                pending: 0,
            },
            alarm_names: Vec::new(),
            triggered_alarms: Vec::new(),
            rollback: None,
            hook_expires_at: None,
            other_in_flight: Vec::new(),
        }));
        facts.green_tasks = Ok(Arc::new(tasks));
        facts
    }
}

#[tokio::test]
async fn the_tasks_check_compares_moto_tasks_digests_with_the_revisions() {
    let aws = local_aws().await;
    let world = TaskWorld::new(&aws, "adapters-tasks", 31).await;
    let green = world.run(2, GREEN_REVISION).await;

    let tasks = world.green_tasks(false).await;
    let mut arns: Vec<&str> = tasks.iter().map(|task| task.arn.as_str()).collect();
    arns.sort_unstable();
    let mut expected: Vec<&str> = green.iter().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(arns, expected);
    assert!(
        tasks.iter().all(|task| task.private_ip.is_some()),
        "{tasks:?}"
    );
    assert!(aws.endpoint().calls("ecs", "ListTasks") >= 2);
    assert!(aws.endpoint().calls("ecs", "DescribeTasks") >= 1);

    let matching = world.facts(&world.digest, 2, tasks.clone());
    let check = TasksCheck::new(TasksParams::default(), Arc::new(matching));
    let outcome = check
        .run(&stage_view_at("POST_SCALE_UP", SystemTime::now()))
        .await;
    assert_eq!(outcome.status, Status::Pass, "{outcome:?}");
    assert_eq!(outcome.code.code, "TASKS_RUNNING", "{outcome:?}");

    let drifted = world.facts(&format!("sha256:{}", "cd".repeat(32)), 2, tasks);
    let check = TasksCheck::new(TasksParams::default(), Arc::new(drifted));
    let outcome = check
        .run(&stage_view_at("POST_SCALE_UP", SystemTime::now()))
        .await;
    assert_eq!(outcome.status, Status::Fail, "{outcome:?}");
    assert_eq!(outcome.code.code, "TASKS_DIGEST_DRIFT", "{outcome:?}");
    assert!(
        outcome.message.contains(&world.digest),
        "{}",
        outcome.message
    );
}

#[tokio::test]
async fn a_redeploy_of_one_task_definition_keeps_blues_tasks_out_of_greens() {
    let aws = local_aws().await;
    let world = TaskWorld::new(&aws, "adapters-redeploy", 32).await;
    let blue = world.run(3, BLUE_REVISION).await;
    let green = world.run(1, GREEN_REVISION).await;

    let tasks = world.green_tasks(true).await;
    let arns: Vec<&str> = tasks.iter().map(|task| task.arn.as_str()).collect();
    assert_eq!(arns, vec![green[0].as_str()]);

    // Green asked for 2 and runs 1: blue's three healthy tasks do not make up the difference.
    let facts = world.facts(&world.digest, 2, tasks);
    let check = TasksCheck::new(TasksParams::default(), Arc::new(facts));
    let outcome = check
        .run(&stage_view_at("POST_SCALE_UP", SystemTime::now()))
        .await;
    assert_eq!(outcome.code.code, "TASKS_PENDING", "{outcome:?}");
    assert_eq!(blue.len(), 3);
}

/// An ALB with blue's and green's target groups, a production listener and a weighted rule.
struct Balancer {
    elb: aws_sdk_elasticloadbalancingv2::Client,
    blue: String,
    green: String,
    rule: String,
    listener: String,
}

impl Balancer {
    async fn new(aws: &LocalAws, name: &str, vpc_id: &str, subnets: &[String]) -> Balancer {
        let elb = aws_sdk_elasticloadbalancingv2::Client::new(&aws.sdk_config());
        let BlueGreenBalancer {
            arn: balancer_arn,
            blue,
            green,
        } = blue_green_balancer(&elb, name, subnets, vpc_id).await;
        let listener = elb
            .create_listener()
            .load_balancer_arn(&balancer_arn)
            .protocol(ProtocolEnum::Http)
            .port(80)
            .default_actions(forward(&blue, 100, &green, 0))
            .send()
            .await
            .expect("CreateListener")
            .listeners()[0]
            .listener_arn()
            .expect("listener ARN")
            .to_owned();
        let rule = elb
            .create_rule()
            .listener_arn(&listener)
            .priority(10)
            .conditions(
                ElbRuleCondition::builder()
                    .field("path-pattern")
                    .values("/*")
                    .build(),
            )
            .actions(forward(&blue, 100, &green, 0))
            .send()
            .await
            .expect("CreateRule")
            .rules()[0]
            .rule_arn()
            .expect("rule ARN")
            .to_owned();
        Balancer {
            elb,
            blue,
            green,
            rule,
            listener,
        }
    }

    async fn shift(&self, blue_weight: i32, green_weight: i32) {
        self.elb
            .modify_rule()
            .rule_arn(&self.rule)
            .actions(forward(&self.blue, blue_weight, &self.green, green_weight))
            .send()
            .await
            .expect("ModifyRule");
    }

    /// Routing facts with the production rule as the real gather code reads it from moto.
    async fn routing(&self) -> RoutingFacts {
        let mut rules = describe_listener_rules(&self.elb, std::slice::from_ref(&self.rule))
            .await
            .expect("DescribeRules");
        let rule = rules.pop().expect("the rule");
        assert_eq!(rule.listener_arn, self.listener);
        RoutingFacts {
            green_target_group: Some(self.green.clone()),
            blue_target_group: Some(self.blue.clone()),
            load_balancer_arn: None,
            production_rule: Some(rule),
            test_rule: None,
            test_endpoint: None,
        }
    }
}

#[tokio::test]
async fn the_target_health_check_finds_greens_tasks_among_the_groups_targets() {
    let aws = local_aws().await;
    let world = TaskWorld::new(&aws, "adapters-targets", 33).await;
    world.run(2, GREEN_REVISION).await;
    let tasks = world.green_tasks(false).await;
    assert_eq!(tasks.len(), 2);
    let balancer = Balancer::new(&aws, "adapters-targets", &world.vpc_id, &world.subnets).await;
    let register = |task: &TaskFacts| {
        TargetDescription::builder()
            .id(task.private_ip.clone().expect("an awsvpc task has an IP"))
            .port(8080)
            .build()
    };
    balancer
        .elb
        .register_targets()
        .target_group_arn(&balancer.green)
        .targets(register(&tasks[0]))
        .send()
        .await
        .expect("RegisterTargets");

    let run = |tasks: Vec<TaskFacts>, routing: RoutingFacts| {
        let mut facts = world.facts(&world.digest, 2, tasks);
        facts.routing = Ok(Arc::new(routing));
        TargetHealthCheck::new(
            TargetHealthParams {
                group: TargetGroupRole::Green,
            },
            Arc::new(facts),
            balancer.elb.clone(),
        )
    };
    let routing = balancer.routing().await;

    // One of green's two tasks is not registered.
    let check = run(tasks.clone(), routing.clone());
    let outcome = check
        .run(&stage_view_at("POST_SCALE_UP", SystemTime::now()))
        .await;
    assert_eq!(outcome.code.code, "TARGET_NOT_REGISTERED", "{outcome:?}");
    let missing_ip = tasks[1].private_ip.clone().expect("IP");
    assert!(
        outcome.message.contains(&missing_ip)
            || format!("{:?}", outcome.evidence).contains(&missing_ip),
        "{outcome:?}"
    );

    balancer
        .elb
        .register_targets()
        .target_group_arn(&balancer.green)
        .targets(register(&tasks[1]))
        .send()
        .await
        .expect("RegisterTargets");
    let check = run(tasks, routing);
    let outcome = check
        .run(&stage_view_at("POST_SCALE_UP", SystemTime::now()))
        .await;
    // moto reports every registered IP target healthy.
    assert_eq!(outcome.status, Status::Pass, "{outcome:?}");
    assert_eq!(outcome.code.code, "TARGET_HEALTHY", "{outcome:?}");
    assert!(
        aws.endpoint()
            .calls("elasticloadbalancing", "DescribeTargetHealth")
            >= 2
    );
}

#[tokio::test]
async fn the_routing_check_reads_weighted_rules_from_elbv2() {
    let aws = local_aws().await;
    let network = two_zone_network(&aws, 34).await;
    let balancer = Balancer::new(
        &aws,
        "adapters-routing",
        &network.vpc_id,
        &network.subnet_ids,
    )
    .await;
    let run = |routing: RoutingFacts, green_weight: f64, stage: &'static str| {
        let mut facts = StaticFacts::new(service("adapters-routing"));
        facts.routing = Ok(Arc::new(routing));
        facts.weights = TrafficWeights {
            green_production: Some(green_weight),
            green_test: None,
        };
        async move {
            RoutingCheck::new(
                RoutingParams {
                    listener: Listener::Production,
                    expected_weight: None,
                },
                Arc::new(facts),
            )
            .run(&stage_view_at(stage, SystemTime::now()))
            .await
        }
    };

    balancer.shift(90, 10).await;
    let outcome = run(balancer.routing().await, 10.0, "PRODUCTION_TRAFFIC_SHIFT").await;
    assert_eq!(outcome.status, Status::Pass, "{outcome:?}");
    assert_eq!(outcome.code.code, "ROUTING_OK");

    // The event says 50%; no step leaves 10% before a 50% step.
    let outcome = run(balancer.routing().await, 50.0, "PRODUCTION_TRAFFIC_SHIFT").await;
    assert_eq!(outcome.status, Status::Fail, "{outcome:?}");
    assert_eq!(outcome.code.code, "ROUTING_WEIGHT_MISMATCH");
    assert!(
        outcome.message.contains(&balancer.rule),
        "{}",
        outcome.message
    );

    // The next 10% step before ECS moved the weights: pending, not failed (ECS may move them only
    // once the hook answers); the moved weights are proved at the stage after the shift.
    let outcome = run(balancer.routing().await, 20.0, "PRODUCTION_TRAFFIC_SHIFT").await;
    assert_eq!(outcome.status, Status::Pass, "{outcome:?}");
    assert_eq!(outcome.code.code, "ROUTING_SHIFT_PENDING");

    balancer.shift(0, 100).await;
    let outcome = run(
        balancer.routing().await,
        100.0,
        "POST_PRODUCTION_TRAFFIC_SHIFT",
    )
    .await;
    assert_eq!(outcome.code.code, "ROUTING_OK", "{outcome:?}");
    assert!(
        aws.endpoint()
            .calls("elasticloadbalancing", "DescribeRules")
            >= 4
    );
}

// -------------------------------------------------------------------------------------------------
// Metric data
// -------------------------------------------------------------------------------------------------

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

#[tokio::test]
async fn the_metric_check_reads_put_metric_data_through_the_cbor_translation() {
    let aws = local_aws().await;
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&aws.sdk_config());
    // The stage began six whole minutes ago; its window ends at this minute's start.
    let minute = unix_now() / 60 * 60;
    let started = UNIX_EPOCH + Duration::from_secs(minute - 360);
    let put = |service: &'static str, values: Vec<(u64, f64)>| {
        let cloudwatch = cloudwatch.clone();
        async move {
            let mut request = cloudwatch
                .put_metric_data()
                .namespace("Adapters/Greenlight");
            for (minutes_ago, value) in values {
                request = request.metric_data(
                    MetricDatum::builder()
                        .metric_name("Latency")
                        .dimensions(Dimension::builder().name("Service").value(service).build())
                        .value(value)
                        .timestamp(DateTime::from_secs((minute - 60 * minutes_ago + 10) as i64))
                        .build(),
                );
            }
            request.send().await.expect("PutMetricData");
        }
    };
    put(
        "adapters-metric-steady",
        vec![(6, 0.2), (5, 0.25), (4, 0.3), (3, 0.2)],
    )
    .await;
    put("adapters-metric-spiky", vec![(6, 0.2), (5, 0.9), (4, 0.3)]).await;
    put("adapters-metric-sparse", vec![(2, 0.2)]).await;

    let check = |service: &str| {
        let params: MetricParams = serde_json::from_value(serde_json::json!({
            "namespace": "Adapters/Greenlight",
            "name": "Latency",
            "stat": "Maximum",
            "dimensions": { "Service": service },
            "period": "1m",
            "max": 0.5,
            "min_datapoints": 3,
        }))
        .expect("metric params");
        let facts: Arc<StaticFacts> = Arc::new(StaticFacts::new(service_identity()));
        MetricCheck::new(params, facts, Arc::new(MetricData::new(cloudwatch.clone())))
    };
    let view = stage_view_at("PRODUCTION_TRAFFIC_SHIFT", started);

    let outcome = check("adapters-metric-steady").run(&view).await;
    assert_eq!(outcome.status, Status::Pass, "{outcome:?}");
    assert_eq!(outcome.code.code, "METRIC_WITHIN_BOUNDS", "{outcome:?}");

    let outcome = check("adapters-metric-spiky").run(&view).await;
    assert_eq!(outcome.status, Status::Fail, "{outcome:?}");
    assert_eq!(outcome.code.code, "METRIC_ABOVE_MAX", "{outcome:?}");
    assert!(outcome.message.contains("0.9"), "{}", outcome.message);

    let outcome = check("adapters-metric-sparse").run(&view).await;
    assert_eq!(outcome.status, Status::Inconclusive, "{outcome:?}");
    assert_eq!(
        outcome.code.code, "METRIC_TOO_FEW_DATAPOINTS",
        "{outcome:?}"
    );

    assert_eq!(aws.endpoint().calls("cloudwatch", "PutMetricData"), 3);
    assert!(aws.endpoint().calls("cloudwatch", "GetMetricData") >= 3);
}

fn service_identity() -> ServiceIdentity {
    service("adapters-metric")
}
