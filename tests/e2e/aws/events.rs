//! Verdict events put on a real (moto) EventBridge bus, delivered by a rule to CloudWatch Logs
//! as EventBridge delivers them: one event per final verdict, none while a stage waits.

use greenlight_aws::function::events::{Published, VerdictEvents};
use greenlight_core::engine::verdict::VerdictStatus;
use greenlight_core::telemetry::{DeploymentEngine, InvocationSummary, Subject};
use serde_json::{Value, json};

use crate::parts::local_aws;

const DEPLOYMENT: &str = "arn:aws:ecs:us-east-1:123456789012:service-deployment/prod/web/abc";

fn summary(status: VerdictStatus) -> InvocationSummary {
    let mut subject = Subject::unknown(DeploymentEngine::Ecs);
    subject.deployment = Some(DEPLOYMENT.into());
    subject.cluster = Some("prod".into());
    subject.service = Some("web".into());
    subject.stage = Some("POST_TEST_TRAFFIC_SHIFT".into());
    InvocationSummary::decided(
        subject,
        status,
        &greenlight_core::checks::http::HTTP_ERROR_RATE,
        "http failed: 20 of 20 requests failed",
    )
}

#[tokio::test]
async fn a_final_verdict_reaches_a_rule_on_the_named_bus_once() {
    let aws = local_aws().await;
    let config = aws.sdk_config();
    let events = aws_sdk_eventbridge::Client::new(&config);
    let logs = aws_sdk_cloudwatchlogs::Client::new(&config);
    let bus = "deployments-events-test";
    let group = "/aws/events/greenlight-verdicts-test";
    events
        .create_event_bus()
        .name(bus)
        .send()
        .await
        .expect("CreateEventBus");
    logs.create_log_group()
        .log_group_name(group)
        .send()
        .await
        .expect("CreateLogGroup");
    events
        .put_rule()
        .name("stopped-deployments")
        .event_bus_name(bus)
        .event_pattern(
            json!({ "source": ["greenlight"], "detail-type": ["greenlight stage verdict"] })
                .to_string(),
        )
        .send()
        .await
        .expect("PutRule");
    events
        .put_targets()
        .rule("stopped-deployments")
        .event_bus_name(bus)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("logs")
                .arn(format!(
                    "arn:aws:logs:us-east-1:123456789012:log-group:{group}"
                ))
                .build()
                .expect("a target"),
        )
        .send()
        .await
        .expect("PutTargets");

    let verdicts = VerdictEvents::to_bus(events.clone(), bus);
    let soon = std::time::SystemTime::now() + std::time::Duration::from_secs(30);
    assert_eq!(
        verdicts
            .publish(&summary(VerdictStatus::InProgress), soon)
            .await,
        Published::NotFinal
    );
    assert_eq!(
        verdicts
            .publish(&summary(VerdictStatus::Failed), soon)
            .await,
        Published::Put
    );

    // Read through Logs Insights, fields @message only: moto writes an event it delivers to a log
    // group with a fractional `timestamp`, which FilterLogEvents' model (a long) cannot carry.
    let query = logs
        .start_query()
        .log_group_names(group)
        .start_time(0)
        .end_time(i64::MAX / 1000)
        .query_string("fields @message")
        .send()
        .await
        .expect("StartQuery");
    let results = logs
        .get_query_results()
        .query_id(query.query_id().unwrap_or_default())
        .send()
        .await
        .expect("GetQueryResults");
    assert_eq!(
        results.status(),
        Some(&aws_sdk_cloudwatchlogs::types::QueryStatus::Complete)
    );
    let delivered: Vec<Value> = results
        .results()
        .iter()
        .flatten()
        .filter(|field| field.field() == Some("@message"))
        .filter_map(|field| field.value())
        .filter_map(|message| serde_json::from_str(message).ok())
        .collect();
    assert_eq!(delivered.len(), 1, "{delivered:#?}");
    let event = &delivered[0];
    assert_eq!(event["source"], "greenlight");
    assert_eq!(event["detail-type"], "greenlight stage verdict");
    assert_eq!(event["resources"], json!([DEPLOYMENT]));
    assert_eq!(event["detail"]["verdict"], "FAILED");
    assert_eq!(event["detail"]["reason"], "HTTP_ERROR_RATE");
    assert_eq!(event["detail"]["service"], "web");

    // A bus that does not exist: the put fails, is reported, and nothing panics or waits long.
    let nowhere = VerdictEvents::to_bus(events, "no-such-bus");
    let missing = nowhere.publish(&summary(VerdictStatus::Failed), soon).await;
    assert!(matches!(missing, Published::Failed(_)), "{missing:?}");
}
