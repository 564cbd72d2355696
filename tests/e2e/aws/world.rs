//! The simulated world against a real moto, through the real SDK clients: ECS deployment
//! records, target health overrides, ALB metrics from real requests through the local data plane,
//! faults, load balancer addresses and rule routing; and greenlight's own `compare` gathering
//! against those metrics.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_sdk_cloudwatch::error::ProvideErrorMetadata;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{
    Dimension, Metric, MetricDataQuery, MetricDatum, MetricStat, ScanBy,
};
use aws_sdk_elasticloadbalancingv2::types::{
    Action, HttpHeaderConditionConfig, PathPatternConditionConfig, ProtocolEnum, RuleCondition,
    TargetDescription, TargetHealthReasonEnum, TargetHealthStateEnum,
};
use greenlight_aws::checks::compare::CompareCheck;
use greenlight_aws::checks::metric_data::MetricData;
use greenlight_core::engine::state::CheckMemory;
use greenlight_core::engine::{Check, StageView};
use greenlight_core::facts::{RoutingFacts, ServiceIdentity, StaticFacts};
use greenlight_core::outcome::Status;
use greenlight_core::stage::StageKey;
use greenlight_sim::LocalAws;
use greenlight_sim::app::{AppBehaviour, SampleApp};
use greenlight_sim::lb::LoadBalancerPlane;
use greenlight_sim::local_aws::{ACCOUNT_ID, REGION};
use greenlight_sim::world::{Fault, FaultRule, TargetHealthOverride, World};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::common::{BlueGreenBalancer, blue_green_balancer, forward, two_zone_network};
use crate::parts::local_aws_with;

/// An ALB in moto with blue's and green's target groups and one listener the plane serves.
struct Balancer {
    elb: aws_sdk_elasticloadbalancingv2::Client,
    arn: String,
    blue: String,
    green: String,
    listener: String,
    port: u16,
}

impl Balancer {
    async fn new(aws: &LocalAws, plane: &LoadBalancerPlane, name: &str, octet: u8) -> Balancer {
        let network = two_zone_network(aws, octet).await;
        let elb = aws_sdk_elasticloadbalancingv2::Client::new(&aws.sdk_config());
        let BlueGreenBalancer { arn, blue, green } =
            blue_green_balancer(&elb, name, &network.subnet_ids, &network.vpc_id).await;
        let port = plane.bind_listener_port().expect("a loopback port");
        let listener = elb
            .create_listener()
            .load_balancer_arn(&arn)
            .protocol(ProtocolEnum::Http)
            .port(i32::from(port))
            .default_actions(forward(&blue, 1, &green, 0))
            .send()
            .await
            .expect("CreateListener")
            .listeners()[0]
            .listener_arn()
            .expect("listener ARN")
            .to_owned();
        plane.serve(&listener, port).await.expect("serves");
        Balancer {
            elb,
            arn,
            blue,
            green,
            listener,
            port,
        }
    }

    async fn add_rule(&self, priority: i32, condition: RuleCondition, action: Action) {
        self.elb
            .create_rule()
            .listener_arn(&self.listener)
            .priority(priority)
            .conditions(condition)
            .actions(action)
            .send()
            .await
            .expect("CreateRule");
    }
}

/// One plain HTTP/1.1 GET: the status and the `x-app-version` header.
async fn get(port: u16, path: &str, headers: &[(&str, &str)]) -> (u16, Option<String>) {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connects to the load balancer");
    let mut request =
        format!("GET {path} HTTP/1.1\r\nHost: web.example.com\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.expect("sends");
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_string(&mut answer))
        .await
        .expect("answers in time (hang guard)")
        .expect("reads");
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {answer:?}"));
    let version = answer
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("x-app-version")
                .then(|| value.trim().to_owned())
        })
        .filter(|_| true);
    (status, version)
}

fn dimension(name: &str, value: &str) -> Dimension {
    Dimension::builder().name(name).value(value).build()
}

fn suffix(arn: &str) -> String {
    arn.rsplit_once(':')
        .map(|(_, resource)| resource)
        .unwrap_or(arn)
        .to_owned()
}

fn alb_query(id: &str, metric: &str, stat: &str, dimensions: Vec<Dimension>) -> MetricDataQuery {
    MetricDataQuery::builder()
        .id(id)
        .metric_stat(
            MetricStat::builder()
                .metric(
                    Metric::builder()
                        .namespace("AWS/ApplicationELB")
                        .metric_name(metric)
                        .set_dimensions(Some(dimensions))
                        .build(),
                )
                .period(60)
                .stat(stat)
                .build(),
        )
        .build()
}

#[tokio::test]
async fn ecs_deployments_and_revisions_round_trip_through_the_sdk() {
    let world = World::new();
    let aws = local_aws_with(&world).await;
    let service_arn = format!("arn:aws:ecs:{REGION}:{ACCOUNT_ID}:service/world-ecs/web");
    let cluster_arn = format!("arn:aws:ecs:{REGION}:{ACCOUNT_ID}:cluster/world-ecs");
    let green = format!("arn:aws:ecs:{REGION}:{ACCOUNT_ID}:service-revision/world-ecs/web/2");
    let blue = format!("arn:aws:ecs:{REGION}:{ACCOUNT_ID}:service-revision/world-ecs/web/1");
    let deployment =
        format!("arn:aws:ecs:{REGION}:{ACCOUNT_ID}:service-deployment/world-ecs/web/d2");
    let digest = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    world
        .ecs()
        .put_revision(json!({
            "serviceRevisionArn": green,
            "serviceArn": service_arn,
            "clusterArn": cluster_arn,
            "taskDefinition": format!("arn:aws:ecs:{REGION}:{ACCOUNT_ID}:task-definition/web:2"),
            "containerImages": [{ "containerName": "web", "image": "web:v2", "imageDigest": digest }],
            "loadBalancers": [{ "targetGroupArn": "arn:tg/green", "containerName": "web", "containerPort": 8080 }],
            "createdAt": 1_700_000_100.0,
        }))
        .expect("a revision");
    world
        .ecs()
        .put_deployment(json!({
            "serviceDeploymentArn": deployment,
            "serviceArn": service_arn,
            "clusterArn": cluster_arn,
            "createdAt": 1_700_000_100.0,
            "startedAt": 1_700_000_101.0,
            "status": "IN_PROGRESS",
            "lifecycleStage": "POST_SCALE_UP",
            "targetServiceRevision": { "arn": green, "requestedTaskCount": 2, "runningTaskCount": 1 },
            "sourceServiceRevisions": [{ "arn": blue, "requestedTaskCount": 2, "runningTaskCount": 2,
                "requestedProductionTrafficWeight": 100.0 }],
            "deploymentConfiguration": { "strategy": "BLUE_GREEN", "bakeTimeInMinutes": 5 },
        }))
        .expect("a deployment");

    let ecs = aws_sdk_ecs::Client::new(&aws.sdk_config());
    let revisions = ecs
        .describe_service_revisions()
        .service_revision_arns(&green)
        .service_revision_arns(&blue)
        .send()
        .await
        .expect("DescribeServiceRevisions");
    assert_eq!(revisions.service_revisions().len(), 1);
    let revision = &revisions.service_revisions()[0];
    assert_eq!(revision.service_revision_arn(), Some(green.as_str()));
    assert_eq!(revision.container_images()[0].image_digest(), Some(digest));
    assert_eq!(
        revision.load_balancers()[0].target_group_arn(),
        Some("arn:tg/green")
    );
    assert_eq!(revisions.failures().len(), 1);
    assert_eq!(revisions.failures()[0].arn(), Some(blue.as_str()));
    assert_eq!(revisions.failures()[0].reason(), Some("MISSING"));

    assert!(world.ecs().update_deployment(&deployment, |record| {
        record["status"] = json!("ROLLBACK_IN_PROGRESS");
        record["rollback"] = json!({ "reason": "alarm", "startedAt": 1_700_000_200.0,
            "serviceRevisionArn": blue });
    }));
    let described = ecs
        .describe_service_deployments()
        .service_deployment_arns(&deployment)
        .service_deployment_arns("arn:aws:ecs:us-east-1:123456789012:service-deployment/x/y/z")
        .send()
        .await
        .expect("DescribeServiceDeployments");
    let found = &described.service_deployments()[0];
    assert_eq!(
        found.status(),
        Some(&aws_sdk_ecs::types::ServiceDeploymentStatus::RollbackInProgress)
    );
    assert_eq!(found.rollback().and_then(|r| r.reason()), Some("alarm"));
    assert_eq!(
        found.target_service_revision().and_then(|t| t.arn()),
        Some(green.as_str())
    );
    assert_eq!(
        found.source_service_revisions()[0].requested_production_traffic_weight(),
        Some(100.0)
    );
    assert_eq!(described.failures()[0].reason(), Some("MISSING"));

    let listed = ecs
        .list_service_deployments()
        .cluster("world-ecs")
        .service(&service_arn)
        .status(aws_sdk_ecs::types::ServiceDeploymentStatus::RollbackInProgress)
        .send()
        .await
        .expect("ListServiceDeployments");
    assert_eq!(listed.service_deployments().len(), 1);
    let brief = &listed.service_deployments()[0];
    assert_eq!(brief.service_deployment_arn(), Some(deployment.as_str()));
    assert_eq!(brief.target_service_revision_arn(), Some(green.as_str()));
    let none = ecs
        .list_service_deployments()
        .cluster("world-ecs")
        .service("web")
        .status(aws_sdk_ecs::types::ServiceDeploymentStatus::Successful)
        .send()
        .await
        .expect("ListServiceDeployments");
    assert!(none.service_deployments().is_empty());
    assert_eq!(aws.endpoint().calls("ecs", "DescribeServiceRevisions"), 1);
}

#[tokio::test]
async fn a_target_health_override_is_what_describe_target_health_reports() {
    let world = World::new();
    let aws = local_aws_with(&world).await;
    let plane = LoadBalancerPlane::new(aws.moto().endpoint_url(), &world);
    let balancer = Balancer::new(&aws, &plane, "world-health", 61).await;
    balancer
        .elb
        .register_targets()
        .target_group_arn(&balancer.green)
        .targets(
            TargetDescription::builder()
                .id("10.61.1.10")
                .port(8080)
                .build(),
        )
        .targets(
            TargetDescription::builder()
                .id("10.61.1.11")
                .port(8080)
                .build(),
        )
        .send()
        .await
        .expect("RegisterTargets");
    world.target_health().set(
        &balancer.green,
        "10.61.1.10",
        Some(8080),
        TargetHealthOverride::unhealthy_status("500"),
    );
    let health = balancer
        .elb
        .describe_target_health()
        .target_group_arn(&balancer.green)
        .send()
        .await
        .expect("DescribeTargetHealth");
    let by_id = |id: &str| {
        health
            .target_health_descriptions()
            .iter()
            .find(|description| description.target().and_then(|t| t.id()) == Some(id))
            .and_then(|description| description.target_health())
            .unwrap_or_else(|| panic!("no target {id} in {health:?}"))
            .clone()
    };
    let overridden = by_id("10.61.1.10");
    assert_eq!(overridden.state(), Some(&TargetHealthStateEnum::Unhealthy));
    assert_eq!(
        overridden.reason(),
        Some(&TargetHealthReasonEnum::ResponseCodeMismatch)
    );
    assert_eq!(
        overridden.description(),
        Some("Health checks failed with these codes: [500]")
    );
    assert_eq!(
        by_id("10.61.1.11").state(),
        Some(&TargetHealthStateEnum::Healthy)
    );
}

#[tokio::test]
async fn alb_metrics_come_from_real_requests_through_a_weighted_rule() {
    let world = World::new();
    let aws = local_aws_with(&world).await;
    let plane = LoadBalancerPlane::new(aws.moto().endpoint_url(), &world);
    let balancer = Balancer::new(&aws, &plane, "world-metrics", 62).await;
    balancer
        .add_rule(
            10,
            RuleCondition::builder()
                .field("path-pattern")
                .path_pattern_config(PathPatternConditionConfig::builder().values("/*").build())
                .build(),
            forward(&balancer.blue, 80, &balancer.green, 20),
        )
        .await;
    plane.refresh();
    let blue_app = SampleApp::start(AppBehaviour::version("blue"))
        .await
        .expect("blue");
    let green_app = SampleApp::start(AppBehaviour {
        status_mix: vec![(200, 3), (500, 1)],
        ..AppBehaviour::version("green")
    })
    .await
    .expect("green");
    plane.set_backends(&balancer.blue, vec![blue_app.addr()]);
    plane.set_backends(&balancer.green, vec![green_app.addr()]);

    let started = SystemTime::now() - Duration::from_secs(60);
    const REQUESTS: u64 = 400;
    for _ in 0..REQUESTS {
        get(balancer.port, "/orders", &[]).await;
    }
    let served = blue_app.requests_served() + green_app.requests_served();
    assert_eq!(served, REQUESTS);
    assert!(
        (40..=120).contains(&green_app.requests_served()),
        "about 20% to green: {}",
        green_app.requests_served()
    );

    // DescribeLoadBalancers points at the data plane.
    let described = balancer
        .elb
        .describe_load_balancers()
        .load_balancer_arns(&balancer.arn)
        .send()
        .await
        .expect("DescribeLoadBalancers");
    assert_eq!(described.load_balancers()[0].dns_name(), Some("127.0.0.1"));

    // A custom metric in moto, asked in the same call as the ALB metrics.
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&aws.sdk_config());
    cloudwatch
        .put_metric_data()
        .namespace("World/Custom")
        .metric_data(
            MetricDatum::builder()
                .metric_name("Jobs")
                .value(7.0)
                .timestamp(DateTime::from(SystemTime::now()))
                .build(),
        )
        .send()
        .await
        .expect("PutMetricData");
    let lb = dimension(
        "LoadBalancer",
        &suffix(&balancer.arn).replacen("loadbalancer/", "", 1),
    );
    let group = |arn: &str| dimension("TargetGroup", &suffix(arn));
    let custom = MetricDataQuery::builder()
        .id("custom")
        .metric_stat(
            MetricStat::builder()
                .metric(
                    Metric::builder()
                        .namespace("World/Custom")
                        .metric_name("Jobs")
                        .build(),
                )
                .period(60)
                .stat("Sum")
                .build(),
        )
        .build();
    let now = SystemTime::now();
    let output = cloudwatch
        .get_metric_data()
        .metric_data_queries(alb_query(
            "blue",
            "RequestCount",
            "Sum",
            vec![group(&balancer.blue), lb.clone()],
        ))
        .metric_data_queries(custom)
        .metric_data_queries(alb_query(
            "green",
            "RequestCount",
            "Sum",
            vec![group(&balancer.green)],
        ))
        .metric_data_queries(alb_query(
            "green5xx",
            "HTTPCode_Target_5XX_Count",
            "Sum",
            vec![group(&balancer.green), lb.clone()],
        ))
        .metric_data_queries(alb_query(
            "p99",
            "TargetResponseTime",
            "p99",
            vec![group(&balancer.blue)],
        ))
        .metric_data_queries(alb_query("all", "RequestCount", "Sum", vec![lb.clone()]))
        .start_time(DateTime::from(now - Duration::from_secs(600)))
        .end_time(DateTime::from(now + Duration::from_secs(120)))
        .scan_by(ScanBy::TimestampAscending)
        .send()
        .await
        .expect("GetMetricData");
    let ids: Vec<&str> = output
        .metric_data_results()
        .iter()
        .map(|result| result.id().unwrap_or_default())
        .collect();
    assert_eq!(ids, ["blue", "custom", "green", "green5xx", "p99", "all"]);
    let sum = |id: &str| -> f64 {
        output
            .metric_data_results()
            .iter()
            .find(|result| result.id() == Some(id))
            .map(|result| result.values().iter().sum())
            .unwrap_or_default()
    };
    assert_eq!(sum("blue") as u64, blue_app.requests_served());
    assert_eq!(sum("green") as u64, green_app.requests_served());
    assert_eq!(sum("all") as u64, REQUESTS);
    assert_eq!(sum("custom"), 7.0);
    let green_errors = world
        .traffic()
        .for_target_group(&balancer.green)
        .iter()
        .filter(|record| record.status == 500)
        .count();
    assert!(green_errors > 0);
    assert_eq!(sum("green5xx") as usize, green_errors);
    let p99 = &output.metric_data_results()[4];
    assert!(!p99.values().is_empty());
    assert!(
        p99.values()
            .iter()
            .all(|seconds| *seconds > 0.0 && *seconds < 30.0),
        "{p99:?}"
    );

    // greenlight's own compare gathering, on the same target groups: green's 25% errors against
    // blue's none.
    let mut facts = StaticFacts::new(ServiceIdentity {
        partition: "aws".into(),
        region: REGION.into(),
        account: ACCOUNT_ID.into(),
        cluster: "world-metrics".into(),
        service: "web".into(),
        service_arn: format!("arn:aws:ecs:{REGION}:{ACCOUNT_ID}:service/world-metrics/web"),
    });
    facts.routing = Ok(Arc::new(RoutingFacts {
        green_target_group: Some(balancer.green.clone()),
        blue_target_group: Some(balancer.blue.clone()),
        load_balancer_arn: Some(balancer.arn.clone()),
        production_rule: None,
        test_rule: None,
        test_endpoint: None,
    }));
    facts.deployment = Ok(Arc::new(
        greenlight_core::facts::DeploymentFacts::in_progress("d", Some(started)),
    ));
    let params = serde_json::from_value(
        json!({ "metric": "error_rate", "max_increase": "1pp", "min_requests": 20 }),
    )
    .expect("compare params");
    let metric_data = Arc::new(MetricData::new(cloudwatch.clone()));
    let check = CompareCheck::new(params, Arc::new(facts), Arc::clone(&metric_data));
    aws.endpoint().reset_calls();
    let view = StageView {
        key: StageKey::new("d", "PRODUCTION_TRAFFIC_SHIFT", None),
        started_at: started,
        // The window ends at a whole minute, `settle` (2m) before now: put it past the requests
        // just sent.
        now: SystemTime::now() + Duration::from_secs(240),
        attempt: 1,
        memory: CheckMemory::default(),
        horizon: None,
    };
    let outcome = check.run(&view).await;
    assert_eq!(outcome.status, Status::Fail, "{outcome:?}");
    assert_eq!(
        outcome.code.code, "COMPARE_ERROR_RATE_HIGHER",
        "{outcome:?}"
    );
    assert_eq!(aws.endpoint().calls("cloudwatch", "GetMetricData"), 1);
}

#[tokio::test]
async fn rules_route_by_path_and_header_and_the_default_takes_the_rest() {
    let world = World::new();
    let aws = local_aws_with(&world).await;
    let plane = LoadBalancerPlane::new(aws.moto().endpoint_url(), &world);
    let balancer = Balancer::new(&aws, &plane, "world-routes", 63).await;
    let blue_app = SampleApp::start(AppBehaviour::version("blue"))
        .await
        .expect("blue");
    let green_app = SampleApp::start(AppBehaviour::version("green"))
        .await
        .expect("green");
    plane.set_backends(&balancer.blue, vec![blue_app.addr()]);
    plane.set_backends(&balancer.green, vec![green_app.addr()]);
    assert_eq!(
        get(balancer.port, "/v2/orders", &[]).await,
        (200, Some("blue".into()))
    );

    balancer
        .add_rule(
            5,
            RuleCondition::builder()
                .field("path-pattern")
                .path_pattern_config(
                    PathPatternConditionConfig::builder()
                        .values("/v2/*")
                        .build(),
                )
                .build(),
            forward(&balancer.blue, 0, &balancer.green, 1),
        )
        .await;
    balancer
        .add_rule(
            6,
            RuleCondition::builder()
                .field("http-header")
                .http_header_config(
                    HttpHeaderConditionConfig::builder()
                        .http_header_name("X-Canary")
                        .values("true")
                        .build(),
                )
                .build(),
            forward(&balancer.blue, 0, &balancer.green, 1),
        )
        .await;
    plane.refresh();
    assert_eq!(
        get(balancer.port, "/v2/orders", &[]).await,
        (200, Some("green".into()))
    );
    assert_eq!(
        get(balancer.port, "/v1/orders", &[("x-canary", "TRUE")]).await,
        (200, Some("green".into()))
    );
    assert_eq!(
        get(balancer.port, "/v1/orders", &[]).await,
        (200, Some("blue".into()))
    );

    // No backend behind a group: the load balancer's own 503; a backend gone: 502.
    plane.set_backends(&balancer.blue, Vec::new());
    assert_eq!(get(balancer.port, "/v1/orders", &[]).await.0, 503);
    let gone = green_app.addr();
    drop(green_app);
    plane.set_backends(&balancer.green, vec![gone]);
    assert_eq!(get(balancer.port, "/v2/orders", &[]).await.0, 502);
    let records = world.traffic().records();
    assert!(
        records
            .iter()
            .any(|r| r.status == 502 && r.target_response_time.is_none())
    );
}

#[tokio::test]
async fn faults_reach_the_sdk_in_each_protocols_dialect() {
    let world = World::new();
    let aws = local_aws_with(&world).await;
    let ecs = aws_sdk_ecs::Client::new(&aws.sdk_config());
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&aws.sdk_config());
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&aws.sdk_config());
    let faults = world.faults();

    let throttle = faults
        .add(
            FaultRule::new("ecs", Fault::Throttle)
                .operation("DescribeServiceRevisions")
                .max_hits(1),
        )
        .expect("valid rule");
    let error = ecs
        .describe_service_revisions()
        .service_revision_arns("arn:aws:ecs:us-east-1:123456789012:service-revision/c/s/1")
        .send()
        .await
        .expect_err("throttled");
    assert_eq!(
        aws_sdk_ecs::error::ProvideErrorMetadata::code(&error),
        Some("ThrottlingException")
    );
    assert_eq!(faults.hits(throttle), 1);
    // The hit limit is spent: the supplement answers again.
    let answered = ecs
        .describe_service_revisions()
        .service_revision_arns("arn:aws:ecs:us-east-1:123456789012:service-revision/c/s/1")
        .send()
        .await
        .expect("answered after the throttle's last hit");
    assert_eq!(answered.failures()[0].reason(), Some("MISSING"));

    faults
        .add(
            FaultRule::new("elasticloadbalancing", Fault::Throttle)
                .operation("DescribeLoadBalancers")
                .max_hits(1),
        )
        .expect("valid rule");
    let error = elb
        .describe_load_balancers()
        .send()
        .await
        .expect_err("throttled");
    assert_eq!(
        aws_sdk_elasticloadbalancingv2::error::ProvideErrorMetadata::code(&error),
        Some("Throttling")
    );

    faults
        .add(
            FaultRule::new("ecs", Fault::AccessDenied)
                .operation("ListServiceDeployments")
                .max_hits(1),
        )
        .expect("valid rule");
    let error = ecs
        .list_service_deployments()
        .service("web")
        .send()
        .await
        .expect_err("denied");
    assert_eq!(
        aws_sdk_ecs::error::ProvideErrorMetadata::code(&error),
        Some("AccessDeniedException")
    );
    let message = aws_sdk_ecs::error::ProvideErrorMetadata::message(&error).unwrap_or_default();
    assert!(
        message
            .contains("is not authorized to perform: ecs:ListServiceDeployments on resource: web"),
        "{message}"
    );

    faults
        .add(
            FaultRule::new("cloudwatch", Fault::ServerError)
                .operation("DescribeAlarms")
                .max_hits(1),
        )
        .expect("valid rule");
    let error = cloudwatch
        .describe_alarms()
        .send()
        .await
        .expect_err("server error");
    assert_eq!(error.code(), Some("InternalFailure"));

    faults
        .add(
            FaultRule::new("cloudwatch", Fault::DropConnection)
                .operation("DescribeAlarms")
                .max_hits(1),
        )
        .expect("valid rule");
    let error = cloudwatch
        .describe_alarms()
        .send()
        .await
        .expect_err("dropped");
    assert!(
        matches!(
            error,
            aws_sdk_cloudwatch::error::SdkError::DispatchFailure(_)
        ),
        "{error:?}"
    );

    let slow = faults
        .add(
            FaultRule::new("cloudwatch", Fault::Latency(Duration::from_millis(20)))
                .operation("DescribeAlarms"),
        )
        .expect("valid rule");
    tokio::time::timeout(Duration::from_secs(30), cloudwatch.describe_alarms().send())
        .await
        .expect("answers (hang guard)")
        .expect("a slow call still succeeds");
    assert_eq!(faults.hits(slow), 1);
    faults.clear();
    cloudwatch
        .describe_alarms()
        .send()
        .await
        .expect("no faults left");
    assert_eq!(faults.hits(slow), 1);
}
