//! The local AWS endpoint in front of moto, driven by the real SDK clients: every service greenlight
//! reads round-trips what the gather code relies on, CloudWatch through the CBOR translation, and
//! the endpoint counts the calls.
//!
//! One moto serves the whole binary (`LocalAws::on_shared_moto`); each test has its own endpoint and
//! so its own call counts, and its own resource names because moto's state is shared.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_cloudwatch::error::ProvideErrorMetadata;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{
    ComparisonOperator, Dimension, Metric, MetricDataQuery, MetricDatum, MetricStat, StateValue,
    Statistic,
};
use aws_sdk_ecr::types::{ImageIdentifier, ImageTagMutability};
use aws_sdk_ecs::types::{Compatibility, ContainerDefinition, NetworkMode};
use aws_sdk_elasticloadbalancingv2::types::{ProtocolEnum, RuleCondition};
use greenlight_sim::LocalAws;
use greenlight_sim::local_aws::ACCOUNT_ID;

use super::common::{BlueGreenBalancer, blue_green_balancer, forward, two_zone_network};
use crate::parts::local_aws;

fn epoch_seconds_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs_f64()
}

fn dimension(name: &str, value: &str) -> Dimension {
    Dimension::builder().name(name).value(value).build()
}

#[tokio::test]
async fn cloudwatch_alarm_state_round_trips_through_the_cbor_translation() {
    let aws = local_aws().await;
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&aws.sdk_config());
    let before = epoch_seconds_now();

    cloudwatch
        .put_metric_alarm()
        .alarm_name("e2e-alarms-web-5xx")
        .namespace("AWS/ApplicationELB")
        .metric_name("HTTPCode_Target_5XX_Count")
        .dimensions(dimension(
            "TargetGroup",
            "targetgroup/green/0123456789abcdef",
        ))
        .statistic(Statistic::Sum)
        .period(60)
        .evaluation_periods(2)
        .threshold(5.0)
        .comparison_operator(ComparisonOperator::GreaterThanThreshold)
        .send()
        .await
        .expect("PutMetricAlarm");
    cloudwatch
        .set_alarm_state()
        .alarm_name("e2e-alarms-web-5xx")
        .state_value(StateValue::Alarm)
        .state_reason("e2e: 7 errors in 60 s")
        .send()
        .await
        .expect("SetAlarmState");
    let firing = cloudwatch
        .describe_alarms()
        .alarm_name_prefix("e2e-alarms-")
        .state_value(StateValue::Alarm)
        .send()
        .await
        .expect("DescribeAlarms");

    let [alarm] = firing.metric_alarms() else {
        panic!("one firing alarm expected: {firing:?}")
    };
    assert_eq!(alarm.alarm_name(), Some("e2e-alarms-web-5xx"));
    assert_eq!(alarm.state_value(), Some(&StateValue::Alarm));
    assert_eq!(alarm.state_reason(), Some("e2e: 7 errors in 60 s"));
    assert_eq!(alarm.threshold(), Some(5.0));
    assert_eq!(alarm.period(), Some(60));
    assert_eq!(alarm.evaluation_periods(), Some(2));
    assert_eq!(
        alarm.dimensions(),
        &[dimension(
            "TargetGroup",
            "targetgroup/green/0123456789abcdef"
        )]
    );
    let updated = alarm
        .state_updated_timestamp()
        .expect("state timestamp")
        .as_secs_f64();
    assert!(
        (before - 1.0..=epoch_seconds_now() + 1.0).contains(&updated),
        "state updated at {updated}, test ran from {before}"
    );
    assert!(alarm.alarm_configuration_updated_timestamp().is_some());

    let missing = cloudwatch
        .set_alarm_state()
        .alarm_name("e2e-alarms-no-such-alarm")
        .state_value(StateValue::Ok)
        .state_reason("e2e")
        .send()
        .await
        .expect_err("no such alarm");
    assert_eq!(missing.code(), Some("ResourceNotFound"), "{missing:?}");

    let endpoint = aws.endpoint();
    assert_eq!(endpoint.calls("cloudwatch", "PutMetricAlarm"), 1);
    assert_eq!(endpoint.calls("cloudwatch", "SetAlarmState"), 2);
    assert_eq!(endpoint.calls("cloudwatch", "DescribeAlarms"), 1);
}

#[tokio::test]
async fn cloudwatch_metric_data_sums_and_averages_in_one_get_metric_data() {
    let aws = local_aws().await;
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&aws.sdk_config());
    let now = epoch_seconds_now().floor();
    let datum = |value: f64, seconds_ago: f64| {
        MetricDatum::builder()
            .metric_name("Errors")
            .dimensions(dimension("Service", "e2e-metrics"))
            .value(value)
            .timestamp(DateTime::from_secs_f64(now - seconds_ago))
            .build()
    };
    cloudwatch
        .put_metric_data()
        .namespace("E2E/Greenlight")
        .metric_data(datum(3.0, 120.0))
        .metric_data(datum(4.5, 60.0))
        .send()
        .await
        .expect("PutMetricData");

    let query = |id: &str, stat: &str| {
        MetricDataQuery::builder()
            .id(id)
            .metric_stat(
                MetricStat::builder()
                    .metric(
                        Metric::builder()
                            .namespace("E2E/Greenlight")
                            .metric_name("Errors")
                            .dimensions(dimension("Service", "e2e-metrics"))
                            .build(),
                    )
                    // One period spans the whole window, so both points land in one bucket.
                    .period(3600)
                    .stat(stat)
                    .build(),
            )
            .build()
    };
    let data = cloudwatch
        .get_metric_data()
        .start_time(DateTime::from_secs_f64(now - 600.0))
        .end_time(DateTime::from_secs_f64(now + 60.0))
        .metric_data_queries(query("errors_sum", "Sum"))
        .metric_data_queries(query("errors_avg", "Average"))
        .send()
        .await
        .expect("GetMetricData");

    let result = |id: &str| {
        data.metric_data_results()
            .iter()
            .find(|result| result.id() == Some(id))
            .unwrap_or_else(|| panic!("no result {id}: {data:?}"))
    };
    assert_eq!(result("errors_sum").values(), &[7.5]);
    assert_eq!(result("errors_avg").values(), &[3.75]);
    let [bucket] = result("errors_sum").timestamps() else {
        panic!("one bucket expected: {data:?}")
    };
    assert!((now - 600.0..=now + 60.0).contains(&bucket.as_secs_f64()));

    let endpoint = aws.endpoint();
    assert_eq!(endpoint.calls("cloudwatch", "PutMetricData"), 1);
    assert_eq!(endpoint.calls("cloudwatch", "GetMetricData"), 1);
}

pub(crate) const MANIFEST: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":1457,"digest":"sha256:3f57d9401f8d42f986df300f0c69192fc41da28ccc8d797829467780db3dd741"},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":3623807,"digest":"sha256:9b3977197b4f2147bdd31e1271f811319dcd5c2fc595f14e81f5351ab6275b99"}]}"#;

#[tokio::test]
async fn ecr_put_image_then_describe_by_tag_returns_its_digest() {
    let aws = local_aws().await;
    let ecr = aws_sdk_ecr::Client::new(&aws.sdk_config());

    ecr.create_repository()
        .repository_name("e2e-ecr/web")
        .image_tag_mutability(ImageTagMutability::Immutable)
        .send()
        .await
        .expect("CreateRepository");
    let pushed = ecr
        .put_image()
        .repository_name("e2e-ecr/web")
        .image_manifest(MANIFEST)
        .image_tag("1.4.2")
        .send()
        .await
        .expect("PutImage");
    let digest = pushed
        .image()
        .and_then(|image| image.image_id())
        .and_then(|id| id.image_digest())
        .expect("PutImage returns the digest")
        .to_owned();
    assert!(digest.starts_with("sha256:"), "{digest}");

    let described = ecr
        .describe_images()
        .repository_name("e2e-ecr/web")
        .image_ids(ImageIdentifier::builder().image_tag("1.4.2").build())
        .send()
        .await
        .expect("DescribeImages");
    let [image] = described.image_details() else {
        panic!("one image expected: {described:?}")
    };
    assert_eq!(image.image_digest(), Some(digest.as_str()));
    assert_eq!(image.image_tags(), &["1.4.2".to_owned()]);
    assert_eq!(image.registry_id(), Some(ACCOUNT_ID));

    let missing = ecr
        .describe_images()
        .repository_name("e2e-ecr/web")
        .image_ids(ImageIdentifier::builder().image_tag("9.9.9").build())
        .send()
        .await
        .expect_err("no such tag");
    assert!(
        missing
            .as_service_error()
            .is_some_and(|error| error.is_image_not_found_exception()),
        "{missing:?}"
    );

    let endpoint = aws.endpoint();
    assert_eq!(endpoint.calls("ecr", "PutImage"), 1);
    assert_eq!(endpoint.calls("ecr", "DescribeImages"), 2);
}

#[tokio::test]
async fn elbv2_listener_rule_round_trips_blue_green_weights() {
    let aws = local_aws().await;
    let network = two_zone_network(&aws, 20).await;
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&aws.sdk_config());

    let BlueGreenBalancer {
        arn: balancer_arn,
        blue,
        green,
    } = blue_green_balancer(&elb, "e2e-elb", &network.subnet_ids, &network.vpc_id).await;
    let (blue, green) = (&blue, &green);
    let listener = elb
        .create_listener()
        .load_balancer_arn(&balancer_arn)
        .protocol(ProtocolEnum::Http)
        .port(80)
        .default_actions(forward(blue, 100, green, 0))
        .send()
        .await
        .expect("CreateListener");
    let listener_arn = listener.listeners()[0]
        .listener_arn()
        .expect("listener ARN")
        .to_owned();
    let rule = elb
        .create_rule()
        .listener_arn(&listener_arn)
        .priority(10)
        .conditions(
            RuleCondition::builder()
                .field("path-pattern")
                .values("/api/*")
                .build(),
        )
        .actions(forward(blue, 80, green, 20))
        .send()
        .await
        .expect("CreateRule");
    let rule_arn = rule.rules()[0].rule_arn().expect("rule ARN").to_owned();

    let weights = |rules: &[aws_sdk_elasticloadbalancingv2::types::Rule]| -> Vec<(String, i32)> {
        let rule = rules
            .iter()
            .find(|rule| rule.rule_arn() == Some(rule_arn.as_str()))
            .expect("the rule is listed");
        rule.actions()[0]
            .forward_config()
            .expect("forward config")
            .target_groups()
            .iter()
            .map(|tuple| {
                (
                    tuple.target_group_arn().unwrap_or_default().to_owned(),
                    tuple.weight().unwrap_or_default(),
                )
            })
            .collect()
    };
    let listed = elb
        .describe_rules()
        .listener_arn(&listener_arn)
        .send()
        .await
        .expect("DescribeRules");
    assert_eq!(
        weights(listed.rules()),
        vec![(blue.clone(), 80), (green.clone(), 20)]
    );

    elb.modify_rule()
        .rule_arn(&rule_arn)
        .actions(forward(blue, 0, green, 100))
        .send()
        .await
        .expect("ModifyRule");
    let shifted = elb
        .describe_rules()
        .rule_arns(&rule_arn)
        .send()
        .await
        .expect("DescribeRules");
    assert_eq!(
        weights(shifted.rules()),
        vec![(blue.clone(), 0), (green.clone(), 100)]
    );

    let endpoint = aws.endpoint();
    assert_eq!(endpoint.calls("ec2", "CreateVpc"), 1);
    assert_eq!(endpoint.calls("ec2", "CreateSubnet"), 2);
    assert_eq!(
        endpoint.calls("elasticloadbalancing", "CreateTargetGroup"),
        2
    );
    assert_eq!(endpoint.calls("elasticloadbalancing", "DescribeRules"), 2);
    assert_eq!(endpoint.calls("elasticloadbalancing", "ModifyRule"), 1);
}

#[tokio::test]
async fn ecs_task_definition_keeps_its_digest_pinned_image() {
    let aws = local_aws().await;
    let ecs = aws_sdk_ecs::Client::new(&aws.sdk_config());
    let image = format!(
        "{ACCOUNT_ID}.dkr.ecr.us-east-1.amazonaws.com/e2e-ecs/web@sha256:{}",
        "4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945"
    );

    let cluster = ecs
        .create_cluster()
        .cluster_name("e2e-ecs-cluster")
        .send()
        .await
        .expect("CreateCluster");
    assert_eq!(cluster.cluster().and_then(|c| c.status()), Some("ACTIVE"));
    let registered = ecs
        .register_task_definition()
        .family("e2e-ecs-web")
        .requires_compatibilities(Compatibility::Fargate)
        .network_mode(NetworkMode::Awsvpc)
        .cpu("256")
        .memory("512")
        .container_definitions(
            ContainerDefinition::builder()
                .name("web")
                .image(&image)
                .cpu(256)
                .memory(512)
                .essential(true)
                .build(),
        )
        .send()
        .await
        .expect("RegisterTaskDefinition");
    let arn = registered
        .task_definition()
        .and_then(|definition| definition.task_definition_arn())
        .expect("task definition ARN")
        .to_owned();

    let described = ecs
        .describe_task_definition()
        .task_definition(&arn)
        .send()
        .await
        .expect("DescribeTaskDefinition");
    let definition = described.task_definition().expect("task definition");
    assert_eq!(definition.family(), Some("e2e-ecs-web"));
    assert_eq!(definition.revision(), 1);
    assert_eq!(
        definition.container_definitions()[0].image(),
        Some(image.as_str())
    );

    let endpoint = aws.endpoint();
    assert_eq!(endpoint.calls("ecs", "CreateCluster"), 1);
    assert_eq!(endpoint.calls("ecs", "RegisterTaskDefinition"), 1);
    assert_eq!(endpoint.calls("ecs", "DescribeTaskDefinition"), 1);
}

/// Rehearsals start their own motos in parallel: each must get a port, and so a state, of its own.
/// (Picking a free port before moto bound it once let two motos race for one port, and the loser's
/// readiness probe was answered by the winner.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn motos_started_together_each_have_their_own_port_and_state() {
    crate::parts::require_moto();
    let start = || async {
        LocalAws::start()
            .await
            .unwrap_or_else(|error| panic!("{error}"))
    };
    let (first, second, third, fourth) = tokio::join!(start(), start(), start(), start());
    let motos = [first, second, third, fourth];
    let mut urls: Vec<&str> = motos.iter().map(|aws| aws.moto().endpoint_url()).collect();
    urls.sort_unstable();
    urls.dedup();
    assert_eq!(urls.len(), 4, "{urls:?}");
    let ecs = aws_sdk_ecs::Client::new(&motos[0].sdk_config());
    ecs.create_cluster()
        .cluster_name("only-in-the-first")
        .send()
        .await
        .expect("CreateCluster");
    for aws in &motos[1..] {
        let clusters = aws_sdk_ecs::Client::new(&aws.sdk_config())
            .list_clusters()
            .send()
            .await
            .expect("ListClusters");
        assert!(
            clusters.cluster_arns().is_empty(),
            "{:?}",
            clusters.cluster_arns()
        );
    }
}

#[tokio::test]
async fn a_private_moto_resets_to_empty_and_is_gone_once_dropped() {
    crate::parts::require_moto();
    let aws = LocalAws::start()
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    let ecs = aws_sdk_ecs::Client::new(&aws.sdk_config());
    ecs.create_cluster()
        .cluster_name("e2e-private")
        .send()
        .await
        .expect("CreateCluster");
    let before = ecs.list_clusters().send().await.expect("ListClusters");
    assert_eq!(before.cluster_arns().len(), 1);

    aws.moto().reset().await.expect("reset");
    let after = ecs.list_clusters().send().await.expect("ListClusters");
    assert!(after.cluster_arns().is_empty(), "{after:?}");

    let moto_url = aws.moto().endpoint_url().to_owned();
    drop(aws);
    let address = moto_url.trim_start_matches("http://");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while std::net::TcpStream::connect(address).is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "moto still listens on {address} after drop"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
