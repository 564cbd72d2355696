//! The `routing` check's gather half.
//!
//! The listener rules and green's target group are shared routing facts: the facts provider reads
//! both rules with one `DescribeRules` call per invocation, so this check makes no calls of its
//! own. It works out the expected weight (config, else the event, else the stage's rule) and hands
//! the rule to the core's judge.

use std::sync::Arc;

use greenlight_core::LifecycleStage;
use greenlight_core::checks::routing::{DOC, expected_weight, judge};
use greenlight_core::checks::{Listener, RoutingParams};
use greenlight_core::engine::{Check, CheckFuture, StageView};
use greenlight_core::facts::Facts;

use super::CheckDeps;

/// Builds the `routing` check.
pub fn build(params: &RoutingParams, deps: &CheckDeps) -> Box<dyn Check> {
    Box::new(RoutingCheck::new(params.clone(), Arc::clone(&deps.facts)))
}

/// Green's share of a listener rule's traffic, against the expected weight.
pub struct RoutingCheck {
    params: RoutingParams,
    facts: Arc<dyn Facts>,
}

impl RoutingCheck {
    /// The check with its params and the invocation's facts.
    pub fn new(params: RoutingParams, facts: Arc<dyn Facts>) -> Self {
        RoutingCheck { params, facts }
    }
}

impl Check for RoutingCheck {
    fn kind(&self) -> &'static str {
        DOC.kind
    }

    fn run<'a>(&'a self, stage: &'a StageView) -> CheckFuture<'a> {
        Box::pin(async move {
            let routing = match self.facts.routing().await {
                Ok(routing) => routing,
                Err(error) => return error.to_outcome(),
            };
            let rule = match self.params.listener {
                Listener::Test => routing.test_rule.as_ref(),
                Listener::Production => routing.production_rule.as_ref(),
            };
            let stage = stage
                .key
                .stage
                .parse::<LifecycleStage>()
                .unwrap_or_else(|never| match never {});
            let expected = expected_weight(
                self.params.expected_weight,
                self.params.listener,
                self.facts.weights(),
                &stage,
            );
            judge(
                self.params.listener,
                &stage,
                &self.facts.service().service_arn,
                rule,
                routing.green_target_group.as_deref(),
                routing.blue_target_group.as_deref(),
                expected.as_ref(),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use greenlight_core::checks::routing::{
        ROUTING_OK, ROUTING_RULE_MISSING, ROUTING_SHIFT_PENDING, ROUTING_WEIGHT_MISMATCH,
        ROUTING_WEIGHT_UNKNOWN,
    };
    use greenlight_core::facts::{
        FactError, ListenerRuleFacts, RoutingFacts, StaticFacts, TrafficWeights,
    };
    use greenlight_core::outcome::{ErrorClass, Status};

    use super::*;
    use crate::checks::tasks::tests::{service, stage_view};

    const GREEN: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-b/2";
    const BLUE: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-a/1";

    fn rule(green: f64, blue: f64) -> ListenerRuleFacts {
        ListenerRuleFacts {
            rule_arn:
                "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/web/1/2/3"
                    .to_owned(),
            listener_arn:
                "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/web/1/2"
                    .to_owned(),
            forwards: vec![(GREEN.to_owned(), green), (BLUE.to_owned(), blue)],
            conditions: vec![],
        }
    }

    fn facts(
        production: Option<ListenerRuleFacts>,
        test: Option<ListenerRuleFacts>,
    ) -> StaticFacts {
        let mut facts = StaticFacts::new(service());
        facts.routing = Ok(Arc::new(RoutingFacts {
            green_target_group: Some(GREEN.to_owned()),
            blue_target_group: Some(BLUE.to_owned()),
            load_balancer_arn: None,
            production_rule: production,
            test_rule: test,
            test_endpoint: None,
        }));
        facts
    }

    fn params(listener: Listener) -> RoutingParams {
        RoutingParams {
            listener,
            expected_weight: None,
        }
    }

    async fn run(
        params: RoutingParams,
        facts: StaticFacts,
        stage: &str,
    ) -> greenlight_core::Outcome {
        RoutingCheck::new(params, Arc::new(facts))
            .run(&stage_view(stage))
            .await
    }

    #[tokio::test]
    async fn compares_the_rule_with_the_events_weight() {
        let mut step = facts(Some(rule(10.0, 90.0)), None);
        step.weights = TrafficWeights {
            green_production: Some(10.0),
            green_test: None,
        };
        let outcome = run(
            params(Listener::Production),
            step.clone(),
            "PRODUCTION_TRAFFIC_SHIFT",
        )
        .await;
        assert_eq!(outcome.code, &ROUTING_OK, "{}", outcome.message);

        // The next LINEAR step, before ECS moved the weights: judged again.
        step.weights.green_production = Some(20.0);
        let outcome = run(
            params(Listener::Production),
            step.clone(),
            "PRODUCTION_TRAFFIC_SHIFT",
        )
        .await;
        assert_eq!(outcome.code, &ROUTING_SHIFT_PENDING, "{}", outcome.message);
        assert!(outcome.message.contains("expected 20%"));

        // No step leaves 10% before 50%: misrouted.
        step.weights.green_production = Some(50.0);
        let outcome = run(
            params(Listener::Production),
            step,
            "PRODUCTION_TRAFFIC_SHIFT",
        )
        .await;
        assert_eq!(
            outcome.code, &ROUTING_WEIGHT_MISMATCH,
            "{}",
            outcome.message
        );
        assert!(outcome.message.contains("expected 50%"));

        let no_weights = facts(Some(rule(10.0, 90.0)), None);
        let outcome = run(
            params(Listener::Production),
            no_weights,
            "PRODUCTION_TRAFFIC_SHIFT",
        )
        .await;
        assert_eq!(outcome.code, &ROUTING_WEIGHT_UNKNOWN);
    }

    #[tokio::test]
    async fn test_traffic_goes_wholly_to_green() {
        let moved = facts(Some(rule(0.0, 100.0)), Some(rule(100.0, 0.0)));
        let outcome = run(params(Listener::Test), moved, "TEST_TRAFFIC_SHIFT").await;
        assert_eq!(outcome.code, &ROUTING_OK, "{}", outcome.message);

        // Not moved yet at the shift stage (ECS may move the weights after the hook answers):
        // pending, a pass; still not moved at the stage after it: a mismatch.
        let stuck = facts(Some(rule(0.0, 100.0)), Some(rule(0.0, 100.0)));
        let outcome = run(params(Listener::Test), stuck.clone(), "TEST_TRAFFIC_SHIFT").await;
        assert_eq!(
            (outcome.status, outcome.code.code),
            (Status::Pass, "ROUTING_SHIFT_PENDING")
        );
        let outcome = run(params(Listener::Test), stuck, "POST_TEST_TRAFFIC_SHIFT").await;
        assert_eq!(outcome.status, Status::Fail);
    }

    #[tokio::test]
    async fn a_missing_rule_or_fact_is_an_error() {
        let outcome = run(
            params(Listener::Test),
            facts(Some(rule(0.0, 100.0)), None),
            "TEST_TRAFFIC_SHIFT",
        )
        .await;
        assert_eq!(outcome.code, &ROUTING_RULE_MISSING);
        assert!(outcome.is_permanent_error());

        let mut throttled = facts(None, None);
        throttled.routing = Err(FactError::Throttled {
            action: "elasticloadbalancing:DescribeRules".to_owned(),
            message: "Rate exceeded".to_owned(),
        });
        let outcome = run(params(Listener::Test), throttled, "TEST_TRAFFIC_SHIFT").await;
        assert_eq!(outcome.error_class, Some(ErrorClass::Transient));

        let mut denied = facts(None, None);
        denied.routing = Err(FactError::AccessDenied {
            action: "elasticloadbalancing:DescribeRules".to_owned(),
            resource:
                "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/web/1/2/3"
                    .to_owned(),
            message: "not authorized".to_owned(),
        });
        let outcome = run(params(Listener::Test), denied, "TEST_TRAFFIC_SHIFT").await;
        assert!(outcome.is_permanent_error());
        assert!(
            outcome
                .message
                .contains("elasticloadbalancing:DescribeRules")
        );
    }
}
