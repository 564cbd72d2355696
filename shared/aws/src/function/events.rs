//! Verdict events: one EventBridge event per final stage verdict, on the bus the platform names
//! (`GREENLIGHT_EVENT_BUS`, the template's `VerdictEventBusName`), so teams route stopped
//! deployments to chat or paging with rules they already write. Off when unset.
//!
//! Publishing comes after the verdict is decided and its summary line written, bounded to leave
//! the answer its time, and best-effort: a failure is logged and never changes the answer. The
//! event itself is the core's ([`greenlight_core::telemetry::verdict_event`]).

use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use aws_sdk_eventbridge::Client as EventBridge;
use aws_sdk_eventbridge::error::DisplayErrorContext;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use greenlight_core::telemetry::{
    EVENT_DETAIL_TYPE, EVENT_SOURCE, InvocationSummary, verdict_event,
};

/// The environment variable naming the event bus (a name or an ARN).
pub const EVENT_BUS_ENV_VAR: &str = "GREENLIGHT_EVENT_BUS";

/// The most time a put may take.
const PUBLISH_BUDGET: Duration = Duration::from_secs(1);

/// Time kept after a put for the function to answer before its deadline.
const ANSWER_RESERVE: Duration = Duration::from_millis(300);

/// What became of a verdict's event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Published {
    /// No bus is configured.
    Off,
    /// The verdict is IN_PROGRESS: no event.
    NotFinal,
    /// EventBridge accepted the event.
    Put,
    /// It was not put, and why (logged; the verdict stands).
    Failed(String),
}

/// Puts verdict events on one bus, or nowhere.
#[derive(Debug, Clone)]
pub struct VerdictEvents {
    target: Option<(EventBridge, String)>,
}

impl VerdictEvents {
    /// From the function's environment: on when [`EVENT_BUS_ENV_VAR`] names a bus. Makes no
    /// network call.
    pub fn from_env(sdk_config: &SdkConfig) -> Self {
        let bus = std::env::var(EVENT_BUS_ENV_VAR)
            .ok()
            .filter(|bus| !bus.trim().is_empty());
        VerdictEvents {
            target: bus.map(|bus| (EventBridge::new(sdk_config), bus)),
        }
    }

    /// Events put on `bus` with `client`.
    pub fn to_bus(client: EventBridge, bus: impl Into<String>) -> Self {
        VerdictEvents {
            target: Some((client, bus.into())),
        }
    }

    /// No events.
    pub fn off() -> Self {
        VerdictEvents { target: None }
    }

    /// Puts the event of `summary` when its verdict is final, finishing before `deadline` less
    /// the time to answer. Never fails: what went wrong is logged and returned.
    pub async fn publish(&self, summary: &InvocationSummary, deadline: SystemTime) -> Published {
        let Some((client, bus)) = &self.target else {
            return Published::Off;
        };
        let Some(event) = verdict_event(summary) else {
            return Published::NotFinal;
        };
        let budget = deadline
            .duration_since(SystemTime::now())
            .unwrap_or_default()
            .saturating_sub(ANSWER_RESERVE)
            .min(PUBLISH_BUDGET);
        let published = if budget.is_zero() {
            Published::Failed("no time was left before the invocation deadline".to_owned())
        } else {
            let entry = PutEventsRequestEntry::builder()
                .event_bus_name(bus)
                .source(EVENT_SOURCE)
                .detail_type(EVENT_DETAIL_TYPE)
                .detail(event.detail.to_string())
                .set_resources(Some(event.resources))
                .build();
            let put = client.put_events().entries(entry).send();
            match tokio::time::timeout(budget, put).await {
                Err(_) => Published::Failed(format!(
                    "events:PutEvents did not answer within {} ms",
                    budget.as_millis()
                )),
                Ok(Err(error)) => Published::Failed(format!(
                    "events:PutEvents failed: {}",
                    DisplayErrorContext(&error)
                )),
                // PutEvents answers 200 with per-entry failures (the API reference's
                // FailedEntryCount): a rejected entry is a failure too.
                Ok(Ok(output)) if output.failed_entry_count() > 0 => {
                    let entry = output.entries().first();
                    Published::Failed(format!(
                        "EventBridge rejected the event: {}: {}",
                        entry
                            .and_then(|entry| entry.error_code())
                            .unwrap_or("unknown"),
                        entry.and_then(|entry| entry.error_message()).unwrap_or("")
                    ))
                }
                Ok(Ok(_)) => Published::Put,
            }
        };
        if let Published::Failed(why) = &published {
            tracing::warn!(bus = %bus, error = %why, "the verdict event was not put on the bus; the verdict stands");
        }
        published
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use aws_sdk_eventbridge::operation::put_events::PutEventsOutput;
    use aws_sdk_eventbridge::types::PutEventsResultEntry;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use greenlight_core::engine::verdict::VerdictStatus;
    use greenlight_core::telemetry::{DeploymentEngine, Subject};

    use super::*;

    const DEPLOYMENT: &str = "arn:aws:ecs:us-east-1:111122223333:service-deployment/prod/web/abc";

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

    fn soon() -> SystemTime {
        SystemTime::now() + Duration::from_secs(30)
    }

    #[tokio::test]
    async fn a_final_verdict_puts_one_event_on_the_named_bus() {
        let put = mock!(EventBridge::put_events)
            .match_requests(|request| {
                let entry = &request.entries()[0];
                request.entries().len() == 1
                    && entry.event_bus_name() == Some("deployments")
                    && entry.source() == Some("greenlight")
                    && entry.detail_type() == Some("greenlight stage verdict")
                    && entry.resources() == [DEPLOYMENT]
                    && entry.detail().is_some_and(|detail| {
                        let detail: serde_json::Value =
                            serde_json::from_str(detail).unwrap_or_default();
                        detail["verdict"] == "FAILED" && detail["reason"] == "HTTP_ERROR_RATE"
                    })
            })
            .then_output(|| PutEventsOutput::builder().failed_entry_count(0).build());
        let events = VerdictEvents::to_bus(
            mock_client!(aws_sdk_eventbridge, RuleMode::MatchAny, &[&put]),
            "deployments",
        );
        assert_eq!(
            events
                .publish(&summary(VerdictStatus::Failed), soon())
                .await,
            Published::Put
        );
        assert_eq!(
            events
                .publish(&summary(VerdictStatus::InProgress), soon())
                .await,
            Published::NotFinal
        );
        assert_eq!(put.num_calls(), 1);
        assert_eq!(
            VerdictEvents::off()
                .publish(&summary(VerdictStatus::Failed), soon())
                .await,
            Published::Off
        );
    }

    #[tokio::test]
    async fn a_rejected_entry_or_no_time_left_is_a_failure_that_is_only_reported() {
        let rejected = mock!(EventBridge::put_events).then_output(|| {
            PutEventsOutput::builder()
                .failed_entry_count(1)
                .entries(
                    PutEventsResultEntry::builder()
                        .error_code("AccessDeniedException")
                        .error_message("not authorized")
                        .build(),
                )
                .build()
        });
        let events = VerdictEvents::to_bus(
            mock_client!(aws_sdk_eventbridge, RuleMode::MatchAny, &[&rejected]),
            "deployments",
        );
        let Published::Failed(why) = events
            .publish(&summary(VerdictStatus::Succeeded), soon())
            .await
        else {
            panic!("a rejected entry is a failure");
        };
        assert!(why.contains("AccessDeniedException"), "{why}");

        let late = events
            .publish(&summary(VerdictStatus::Failed), SystemTime::now())
            .await;
        assert!(matches!(late, Published::Failed(why) if why.contains("deadline")));
        assert_eq!(rejected.num_calls(), 1, "no call without time to make it");
    }
}
