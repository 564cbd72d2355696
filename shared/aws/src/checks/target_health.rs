//! The `target_health` check's gather half.
//!
//! Green's (or blue's) target group comes from the shared target-group facts (no listener or rule
//! read where the provider knows the groups without one); its targets' health is
//! this check's own call: one `DescribeTargetHealth` for the whole group (no target list, so every
//! registered target comes back in one answer), made while green's tasks are awaited.

use std::sync::Arc;

use aws_sdk_elasticloadbalancingv2::operation::describe_target_health::DescribeTargetHealthOutput;
use greenlight_core::checks::target_health::{
    DOC, TargetObservation, green_target_group_unknown, judge, no_target_group,
};
use greenlight_core::checks::{TargetGroupRole, TargetHealthParams};
use greenlight_core::engine::{Check, CheckFuture, StageView};
use greenlight_core::facts::{FactError, Facts};

use super::CheckDeps;
use crate::error::classify;

const ACTION: &str = "elasticloadbalancing:DescribeTargetHealth";

/// ELB's codes for a target group that does not exist (the wire code, and the modeled name).
const NOT_FOUND: &[(&str, &str)] = &[
    ("TargetGroupNotFound", "target group"),
    ("TargetGroupNotFoundException", "target group"),
];

/// Builds the `target_health` check.
pub fn build(params: &TargetHealthParams, deps: &CheckDeps) -> Box<dyn Check> {
    Box::new(TargetHealthCheck::new(
        params.clone(),
        Arc::clone(&deps.facts),
        deps.clients.elbv2.clone(),
    ))
}

/// The health of green's tasks as targets of a target group.
pub struct TargetHealthCheck {
    params: TargetHealthParams,
    facts: Arc<dyn Facts>,
    elbv2: aws_sdk_elasticloadbalancingv2::Client,
}

impl TargetHealthCheck {
    /// The check with its params, the invocation's facts and the ELB client.
    pub fn new(
        params: TargetHealthParams,
        facts: Arc<dyn Facts>,
        elbv2: aws_sdk_elasticloadbalancingv2::Client,
    ) -> Self {
        TargetHealthCheck {
            params,
            facts,
            elbv2,
        }
    }

    async fn describe_targets(
        &self,
        target_group: &str,
    ) -> Result<Vec<TargetObservation>, FactError> {
        describe_targets(&self.elbv2, target_group).await
    }
}

/// The targets of `target_group` with their health: one `DescribeTargetHealth` call.
pub(crate) async fn describe_targets(
    elbv2: &aws_sdk_elasticloadbalancingv2::Client,
    target_group: &str,
) -> Result<Vec<TargetObservation>, FactError> {
    let output = elbv2
        .describe_target_health()
        .target_group_arn(target_group)
        .send()
        .await
        .map_err(|error| classify(&error, ACTION, target_group, NOT_FOUND))?;
    Ok(observations(output))
}

fn observations(output: DescribeTargetHealthOutput) -> Vec<TargetObservation> {
    output
        .target_health_descriptions
        .unwrap_or_default()
        .into_iter()
        .filter_map(|description| {
            let target = description.target?;
            let health = description.target_health;
            Some(TargetObservation {
                id: target.id?,
                port: target.port,
                state: health
                    .as_ref()
                    .and_then(|h| h.state.as_ref())
                    .map_or_else(|| "unknown".to_owned(), |s| s.as_str().to_owned()),
                reason: health
                    .as_ref()
                    .and_then(|h| h.reason.as_ref())
                    .map(|r| r.as_str().to_owned()),
                description: health.and_then(|h| h.description),
            })
        })
        .collect()
}

impl Check for TargetHealthCheck {
    fn kind(&self) -> &'static str {
        DOC.kind
    }

    fn run<'a>(&'a self, _stage: &'a StageView) -> CheckFuture<'a> {
        Box::pin(async move {
            let groups = match self.facts.target_groups().await {
                Ok(groups) => groups,
                Err(error) => return error.to_outcome(),
            };
            let role = self.params.group;
            let target_group = match role {
                TargetGroupRole::Green => groups.green.as_deref(),
                TargetGroupRole::Blue => groups.blue.as_deref(),
            };
            let Some(target_group) = target_group else {
                let service_arn = &self.facts.service().service_arn;
                return match role {
                    TargetGroupRole::Green if groups.load_balanced => {
                        green_target_group_unknown(service_arn)
                    }
                    _ => no_target_group(role, service_arn),
                };
            };
            match role {
                TargetGroupRole::Green => {
                    let (targets, tasks) = futures::join!(
                        self.describe_targets(target_group),
                        self.facts.green_tasks()
                    );
                    match (targets, tasks) {
                        (Ok(targets), Ok(tasks)) => {
                            judge(role, target_group, &targets, Some(tasks.as_slice()))
                        }
                        (Err(error), _) | (_, Err(error)) => error.to_outcome(),
                    }
                }
                TargetGroupRole::Blue => match self.describe_targets(target_group).await {
                    Ok(targets) => judge(role, target_group, &targets, None),
                    Err(error) => error.to_outcome(),
                },
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_elasticloadbalancingv2::Client;
    use aws_sdk_elasticloadbalancingv2::types::{
        TargetDescription, TargetHealth, TargetHealthDescription, TargetHealthReasonEnum,
        TargetHealthStateEnum,
    };
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
    use aws_smithy_types::retry::RetryConfig;
    use greenlight_core::checks::target_health::{
        TARGET_GROUP_MISSING, TARGET_HEALTHY, TARGET_INITIAL, TARGET_NOT_REGISTERED,
        TARGET_UNHEALTHY,
    };
    use greenlight_core::facts::{RoutingFacts, StaticFacts, TaskFacts};
    use greenlight_core::outcome::{ErrorClass, Status};

    use super::*;
    use crate::checks::tasks::tests::{DIGEST, running_task, service, stage_view};

    const GREEN: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-b/2";
    const BLUE: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-a/1";

    /// An ELB (awsQuery) error body.
    fn query_error(code: &str, message: &str) -> String {
        format!(
            "<ErrorResponse xmlns=\"http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>r-1</RequestId></ErrorResponse>"
        )
    }

    fn target(ip: &str, state: &str, reason: Option<&str>) -> TargetHealthDescription {
        let mut health = TargetHealth::builder().state(TargetHealthStateEnum::from(state));
        if let Some(reason) = reason {
            health = health
                .reason(TargetHealthReasonEnum::from(reason))
                .description(format!("{reason} (described by ELB)"));
        }
        TargetHealthDescription::builder()
            .target(TargetDescription::builder().id(ip).port(8080).build())
            .target_health(health.build())
            .build()
    }

    fn health(targets: Vec<TargetHealthDescription>) -> DescribeTargetHealthOutput {
        DescribeTargetHealthOutput::builder()
            .set_target_health_descriptions(Some(targets))
            .build()
    }

    fn both_healthy() -> DescribeTargetHealthOutput {
        health(vec![
            target("10.0.0.1", "healthy", None),
            target("10.0.0.2", "healthy", None),
        ])
    }

    fn facts(green_target_group: Option<&str>) -> StaticFacts {
        let mut facts = StaticFacts::new(service());
        facts.routing = Ok(Arc::new(RoutingFacts {
            green_target_group: green_target_group.map(str::to_owned),
            blue_target_group: Some(BLUE.to_owned()),
            load_balancer_arn: None,
            production_rule: None,
            test_rule: None,
            test_endpoint: None,
        }));
        let tasks: Vec<TaskFacts> = vec![running_task(1, DIGEST), running_task(2, DIGEST)];
        facts.green_tasks = Ok(Arc::new(tasks));
        facts
    }

    fn client(rules: &[&Rule]) -> Client {
        mock_client!(
            aws_sdk_elasticloadbalancingv2,
            RuleMode::MatchAny,
            rules,
            |config| config.retry_config(RetryConfig::standard().with_max_attempts(3))
        )
    }

    async fn run(
        group: TargetGroupRole,
        facts: StaticFacts,
        elbv2: Client,
    ) -> greenlight_core::Outcome {
        TargetHealthCheck::new(TargetHealthParams { group }, Arc::new(facts), elbv2)
            .run(&stage_view("POST_SCALE_UP"))
            .await
    }

    #[tokio::test(start_paused = true)]
    async fn one_call_judges_every_green_task() {
        let rule = mock!(Client::describe_target_health)
            .match_requests(|input| {
                input.target_group_arn() == Some(GREEN) && input.targets().is_empty()
            })
            .then_output(both_healthy);
        let outcome = run(TargetGroupRole::Green, facts(Some(GREEN)), client(&[&rule])).await;
        assert_eq!(outcome.code, &TARGET_HEALTHY, "{}", outcome.message);
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn elb_reasons_reach_the_outcome() {
        let unhealthy = mock!(Client::describe_target_health).then_output(|| {
            health(vec![
                target("10.0.0.1", "healthy", None),
                target("10.0.0.2", "unhealthy", Some("Target.ResponseCodeMismatch")),
            ])
        });
        let outcome = run(
            TargetGroupRole::Green,
            facts(Some(GREEN)),
            client(&[&unhealthy]),
        )
        .await;
        assert_eq!(outcome.code, &TARGET_UNHEALTHY);
        assert_eq!(
            outcome.evidence[0].value["reason"],
            "Target.ResponseCodeMismatch"
        );
        assert_eq!(outcome.evidence[0].resource.as_deref(), Some(GREEN));

        let initial = mock!(Client::describe_target_health).then_output(|| {
            health(vec![
                target("10.0.0.1", "healthy", None),
                target("10.0.0.2", "initial", Some("Elb.RegistrationInProgress")),
            ])
        });
        let outcome = run(
            TargetGroupRole::Green,
            facts(Some(GREEN)),
            client(&[&initial]),
        )
        .await;
        assert_eq!(outcome.code, &TARGET_INITIAL);
    }

    #[tokio::test(start_paused = true)]
    async fn blue_is_read_from_blues_group() {
        let rule = mock!(Client::describe_target_health)
            .match_requests(|input| input.target_group_arn() == Some(BLUE))
            .then_output(|| health(vec![target("10.1.0.1", "healthy", None)]));
        let outcome = run(TargetGroupRole::Blue, facts(Some(GREEN)), client(&[&rule])).await;
        assert_eq!(outcome.code, &TARGET_HEALTHY, "{}", outcome.message);
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_then_success_passes() {
        let rule = mock!(Client::describe_target_health)
            .sequence()
            .http_status(400, Some(query_error("Throttling", "Rate exceeded")))
            .output(both_healthy)
            .build();
        let outcome = run(TargetGroupRole::Green, facts(Some(GREEN)), client(&[&rule])).await;
        assert_eq!(outcome.code, &TARGET_HEALTHY, "{}", outcome.message);
        assert_eq!(rule.num_calls(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn throttled_throughout_is_transient() {
        let rule = mock!(Client::describe_target_health)
            .sequence()
            .http_status(400, Some(query_error("Throttling", "Rate exceeded")))
            .times(3)
            .build();
        let outcome = run(TargetGroupRole::Green, facts(Some(GREEN)), client(&[&rule])).await;
        assert_eq!(outcome.status, Status::Error);
        assert_eq!(outcome.error_class, Some(ErrorClass::Transient));
        assert_eq!(outcome.code.code, "AWS_THROTTLED");
        assert_eq!(rule.num_calls(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn access_denied_names_the_action_and_target_group() {
        let rule = mock!(Client::describe_target_health)
            .sequence()
            .http_status(
                403,
                Some(query_error("AccessDenied", "User is not authorized")),
            )
            .build();
        let outcome = run(TargetGroupRole::Green, facts(Some(GREEN)), client(&[&rule])).await;
        assert!(outcome.is_permanent_error());
        assert_eq!(outcome.code.code, "AWS_ACCESS_DENIED");
        assert!(outcome.message.contains(ACTION), "{}", outcome.message);
        assert!(outcome.message.contains(GREEN), "{}", outcome.message);
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_missing_target_group_is_named() {
        let rule = mock!(Client::describe_target_health)
            .sequence()
            .http_status(
                400,
                Some(query_error(
                    "TargetGroupNotFound",
                    "One or more target groups not found",
                )),
            )
            .build();
        let outcome = run(TargetGroupRole::Green, facts(Some(GREEN)), client(&[&rule])).await;
        assert!(outcome.is_permanent_error());
        assert_eq!(outcome.code.code, "AWS_NOT_FOUND");
        assert!(outcome.message.contains(GREEN), "{}", outcome.message);
    }

    #[tokio::test(start_paused = true)]
    async fn no_load_balancer_is_not_applicable_and_makes_no_call() {
        let rule = mock!(Client::describe_target_health).then_output(both_healthy);
        let mut facts = facts(None);
        facts.routing = Ok(Arc::new(RoutingFacts::default()));
        let outcome = run(TargetGroupRole::Green, facts, client(&[&rule])).await;
        assert_eq!(outcome.code, &TARGET_GROUP_MISSING);
        assert!(outcome.not_applicable);
        assert!(outcome.message.contains("service/prod/web"));
        assert_eq!(rule.num_calls(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn green_group_not_known_yet_waits_and_never_passes() {
        // Behind a load balancer (blue's group is known), but nothing says which group is green's.
        let rule = mock!(Client::describe_target_health).then_output(both_healthy);
        let outcome = run(TargetGroupRole::Green, facts(None), client(&[&rule])).await;
        assert_eq!(outcome.code, &TARGET_NOT_REGISTERED);
        assert_eq!(outcome.status, Status::Inconclusive);
        assert!(
            outcome.message.contains("not known yet"),
            "{}",
            outcome.message
        );
        assert_eq!(rule.num_calls(), 0);
    }
}
