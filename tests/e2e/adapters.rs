//! The checks' gather halves against moto's server, through the local endpoint, with the real SDK
//! clients: what moto implements (ECR images and digests, CloudWatch alarms) is exercised for real,
//! wire protocols included.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_sdk_cloudwatch::types::{ComparisonOperator, StateValue, Statistic};
use greenlight_aws::checks::alarms::AlarmsCheck;
use greenlight_aws::checks::image::ImageCheck;
use greenlight_core::config::checks::{AlarmsParams, ImageParams, InsufficientData};
use greenlight_core::engine::state::{CheckMemory, StageKey};
use greenlight_core::engine::{Check, StageView};
use greenlight_core::facts::{
    ContainerImage, DeploymentFacts, RevisionFacts, ServiceIdentity, StaticFacts,
};
use greenlight_core::outcome::Status;
use greenlight_sim::testing::{ACCOUNT_ID, REGION};

use super::moto::{MANIFEST, local_aws};

fn facts(containers: Vec<ContainerImage>) -> StaticFacts {
    let mut facts = StaticFacts::new(ServiceIdentity {
        partition: "aws".into(),
        region: REGION.into(),
        account: ACCOUNT_ID.into(),
        cluster: "adapters".into(),
        service: "web".into(),
        service_arn: format!("arn:aws:ecs:{REGION}:{ACCOUNT_ID}:service/adapters/web"),
    });
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
    StageView {
        key: StageKey::new("d", "PRE_SCALE_UP", None),
        started_at,
        now: SystemTime::now(),
        attempt: 1,
        memory: CheckMemory::default(),
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
        container: "web".into(),
        image: format!("{host}/adapters/web:2.0.0"),
        digest: Some(digest.clone()),
    }]);
    let check = ImageCheck::new(ImageParams::default(), Arc::new(good), ecr.clone());
    let outcome = check.run(&stage_view(SystemTime::now())).await;
    assert_eq!(outcome.status, Status::Pass, "{outcome:?}");
    assert_eq!(aws.endpoint().calls("ecr", "DescribeImages"), 1);

    let missing = facts(vec![ContainerImage {
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
