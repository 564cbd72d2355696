//! The `routing` check's judge: the test or production listener rule forwards the expected share of
//! its traffic to green's target group.
//!
//! ELB forward weights are relative integers (0–999), so green's share is its weight over the sum
//! of the rule's weights. The expected share is the `expected_weight` param, else what the event
//! says for this stage (test traffic: 100% unless the event says otherwise; production: the step's
//! weight). Shares are compared within [`TOLERANCE_PP`] percentage points: ECS's LINEAR and CANARY
//! steps are multiples of 0.1% while the rule holds integers, and how ECS rounds is undocumented.
//!
//! # A shift that has not happened yet
//! Whether ECS invokes the TEST_TRAFFIC_SHIFT and PRODUCTION_TRAFFIC_SHIFT hooks before or after it
//! moves the listener weights is undocumented, and so is whether it waits for the hook's SUCCEEDED
//! before moving them. If it waits, a check that insisted on the moved weights would hold every
//! deployment until its `max_wait` ran out and roll a good release back. So at those two stages a
//! rule that still holds a share an earlier step could have left ([`previous_shares`]: 0, or for a
//! LINEAR step the share one step back) passes as [`ROUTING_SHIFT_PENDING`], its evidence saying
//! the weights have not moved yet; the moved weights are proved at the stage after the shift
//! (POST_TEST_TRAFFIC_SHIFT, POST_PRODUCTION_TRAFFIC_SHIFT), where every order agrees they have
//! moved, and where the built-in plans check them. A share that is neither the expected one nor a
//! previous step's fails at once, whatever the order.

pub mod params;

use serde_json::json;

use super::CheckDoc;
use crate::checks::IamNeed;
use crate::checks::Listener;
use crate::document::values::Percent;
use crate::facts::Fact;
use crate::facts::{ListenerRuleFacts, TrafficWeights};
use crate::outcome::{Evidence, Outcome};
use crate::reason::ReasonCode;
use crate::stage::LifecycleStage;

/// How far green's share may be from the expected one, in percentage points.
pub const TOLERANCE_PP: f64 = 1.0;

/// The share green should get and where that number came from.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpectedWeight {
    /// Percent, 0–100.
    pub percent: f64,
    /// Where it came from, for the evidence (`expected_weight param`, `event testTrafficWeights`).
    pub source: String,
}

/// The rule sends green the expected share.
pub static ROUTING_OK: ReasonCode = ReasonCode {
    code: "ROUTING_OK",
    summary: "The listener rule forwards the expected share of traffic to green's target group.",
    what: "The rule's forward action weights (ELB DescribeRules) were read; green's target group's share of the total was compared with the expected weight.",
    why: "Checks that judge green under traffic are only meaningful if the traffic really reaches green.",
    fix: "Nothing to fix.",
};

/// The rule sends green another share.
pub static ROUTING_WEIGHT_MISMATCH: ReasonCode = ReasonCode {
    code: "ROUTING_WEIGHT_MISMATCH",
    summary: "The listener rule does not forward the expected share of traffic to green's target group.",
    what: "Green's target group's share of the rule's forward weights differs from the expected weight by more than the tolerance; both target groups' weights are in the evidence.",
    why: "Traffic is not where the deployment says it is: green may be judged on traffic it never got, or take more traffic than intended.",
    fix: "Compare the rule in the EC2 console with the service's `advancedConfiguration` (production and test listener rules, target groups); look for other tools that modify the rule (IaC drift, another controller).",
};

/// The rule still holds a previous step's share at the stage that shifts it.
pub static ROUTING_SHIFT_PENDING: ReasonCode = ReasonCode {
    code: "ROUTING_SHIFT_PENDING",
    summary: "At the shift stage the rule still forwards a previous step's share: ECS has not moved the weights yet (passed; the moved weights are checked at the stage after the shift).",
    what: "At TEST_TRAFFIC_SHIFT (test rule) or PRODUCTION_TRAFFIC_SHIFT (production rule), green's share is below the expected weight and equal, within the tolerance, to a share an earlier step leaves: 0%, or for a LINEAR step the share one step back. The rule forwards to green's and blue's target groups; both shares are in the evidence.",
    why: "Whether ECS calls the hook before or after it moves the weights, and whether it waits for the hook's answer before moving them, is undocumented. Waiting for the move could hold every deployment until `max_wait` and roll good releases back, so the wiring is accepted here and the moved weights are proved at POST_TEST_TRAFFIC_SHIFT / POST_PRODUCTION_TRAFFIC_SHIFT.",
    fix: "Nothing. Keep a `routing` check at the stage after the shift (the built-in plans have one) so the moved weights are proved.",
};

/// The listener rule is not configured.
pub static ROUTING_RULE_MISSING: ReasonCode = ReasonCode {
    code: "ROUTING_RULE_MISSING",
    summary: "The service has no listener rule of the kind the check reads.",
    what: "The service's load balancer `advancedConfiguration` names no production (or test) listener rule.",
    why: "Without the rule there is no routing to verify; waiting will not create one.",
    fix: "Add `productionListenerRule` / `testListenerRule` to the service's `loadBalancers[].advancedConfiguration`, or remove this `routing` check (Service Connect test traffic has no listener rule).",
};

/// Green's target group is not known.
pub static ROUTING_NO_TARGET_GROUP: ReasonCode = ReasonCode {
    code: "ROUTING_NO_TARGET_GROUP",
    summary: "Green's target group is not known, so its share of the rule cannot be read.",
    what: "The green revision's load balancer configuration (resolved, else configured) names no target group.",
    why: "The two target groups swap roles between deployments; greenlight never guesses which one is green.",
    fix: "Check the service's `loadBalancers` (`targetGroupArn` and `advancedConfiguration.alternateTargetGroupArn`).",
};

/// No expected weight is known for this stage.
pub static ROUTING_WEIGHT_UNKNOWN: ReasonCode = ReasonCode {
    code: "ROUTING_WEIGHT_UNKNOWN",
    summary: "The expected share of traffic for green is not known at this stage.",
    what: "The check has no `expected_weight`, and the event carries no traffic weight for green for this listener at this stage.",
    why: "Without an expected weight there is nothing to compare with; the check waits within its `max_wait`.",
    fix: "Set `expected_weight` on the check, or run it at a stage whose event carries the weights (TEST_TRAFFIC_SHIFT for test, PRODUCTION_TRAFFIC_SHIFT for production).",
};

/// The `routing` check.
pub static DOC: CheckDoc = CheckDoc {
    kind: "routing",
    summary: "The test or production listener rule forwards the expected share of traffic to green's target group (within 1 percentage point).",
    why: "Synthetic traffic and bake-time metrics judge green only if traffic really reaches it; a rule changed by hand or by IaC drift makes every later check meaningless. The expected share is `expected_weight`, else the event's weight for the stage (100% of test traffic at TEST_TRAFFIC_SHIFT). At PRODUCTION_TRAFFIC_SHIFT the hook may run before ECS moves the weights (the order is undocumented): a rule still at a previous step's share (0%, or one LINEAR step back) is inconclusive (`ROUTING_SHIFT_PENDING`) and judged again, failing only when it stays there past `max_wait` (through `on_exhausted`, `fail` by default); any other share fails at once.",
    example: "routing:\n  listener: production\n  expected_weight: 10%",
    iam: &[
        IamNeed {
            when: "listener: test",
            example: "routing: { listener: test }",
            from: LifecycleStage::TestTrafficShift,
            facts: &[Fact::Routing],
            calls: &[],
        },
        IamNeed {
            when: "listener: production",
            example: "routing: { listener: production }",
            from: LifecycleStage::PreProductionTrafficShift,
            facts: &[Fact::Routing],
            calls: &[],
        },
    ],
    codes: &[
        &ROUTING_OK,
        &ROUTING_WEIGHT_MISMATCH,
        &ROUTING_SHIFT_PENDING,
        &ROUTING_RULE_MISSING,
        &ROUTING_NO_TARGET_GROUP,
        &ROUTING_WEIGHT_UNKNOWN,
    ],
};

/// The share green should get on `listener` at `stage`: the configured `expected_weight`, else the
/// event's weight for green; with no weight in the event, all test traffic (test traffic moves to
/// green whole), and all production traffic once the last shift is done. `None` when nothing says.
pub fn expected_weight(
    configured: Option<Percent>,
    listener: Listener,
    weights: TrafficWeights,
    stage: &LifecycleStage,
) -> Option<ExpectedWeight> {
    let expected = |percent: f64, source: &str| {
        Some(ExpectedWeight {
            percent,
            source: source.to_owned(),
        })
    };
    if let Some(configured) = configured {
        return expected(configured.value(), "expected_weight in the config");
    }
    match (listener, weights.green_test, weights.green_production) {
        (Listener::Test, Some(percent), _) => expected(percent, "the event's testTrafficWeights"),
        (Listener::Test, None, _) => expected(100.0, "all test traffic goes to green"),
        (Listener::Production, _, Some(percent)) => {
            expected(percent, "the event's productionTrafficWeights")
        }
        (Listener::Production, _, None) if *stage == LifecycleStage::PostProductionTrafficShift => {
            expected(100.0, "all production traffic after the last shift")
        }
        (Listener::Production, _, None) => None,
    }
}

fn listener_name(listener: Listener) -> &'static str {
    match listener {
        Listener::Test => "test",
        Listener::Production => "production",
    }
}

/// Green's share (percent) of a rule's forward weights: 0 when the rule does not forward to green
/// or its weights are all 0.
pub fn green_share(rule: &ListenerRuleFacts, green_target_group: &str) -> f64 {
    let total: f64 = rule
        .forwards
        .iter()
        .map(|(_, weight)| weight.max(0.0))
        .sum();
    let green: f64 = rule
        .forwards
        .iter()
        .filter(|(arn, _)| arn == green_target_group)
        .map(|(_, weight)| weight.max(0.0))
        .sum();
    if total > 0.0 {
        green / total * 100.0
    } else {
        0.0
    }
}

/// Green's shares an earlier production step can leave on the rule when the next step expects
/// `expected` percent, lowest first: 0 (before the first step of any strategy), and when
/// `expected` is the k-th step of a LINEAR deployment of `expected / k` per step, the share one step
/// back (`expected · (k-1)/k`: half of it, two thirds, three quarters, …). A last step to 100% may
/// come from any share (LINEAR's remainder, CANARY's canary), so below 100 every share counts as
/// previous. Shares closer together than the tolerance are one.
pub fn previous_shares(expected: f64) -> Vec<f64> {
    if expected >= 100.0 - 1e-9 {
        return Vec::new();
    }
    let mut shares = vec![0.0];
    // LINEAR steps are at least 3% (3.0–100 in 0.1 steps), so a share has at most 33 steps below.
    for steps in 2..=34u32 {
        let share = expected * f64::from(steps - 1) / f64::from(steps);
        if shares
            .last()
            .is_none_or(|last| (share - last).abs() > TOLERANCE_PP)
        {
            shares.push(share);
        }
    }
    shares
}

/// Whether `share` is one an earlier step could have left when the step expects `expected`.
fn is_previous_share(share: f64, expected: f64) -> bool {
    // Below the expected share by more than the tolerance: the weights only grow towards green.
    if share >= expected - TOLERANCE_PP - 1e-9 {
        return false;
    }
    if expected >= 100.0 - 1e-9 {
        return true;
    }
    previous_shares(expected)
        .iter()
        .any(|previous| (share - previous).abs() <= TOLERANCE_PP + 1e-9)
}

/// Judges the `listener` rule. `rule` and `green_target_group` are from the routing facts; `blue`
/// only names blue's group in the evidence. `stage` is where the check runs: at
/// PRODUCTION_TRAFFIC_SHIFT a production rule still at a previous step's share is
/// [`ROUTING_SHIFT_PENDING`] rather than a mismatch.
#[allow(clippy::too_many_arguments)]
pub fn judge(
    listener: Listener,
    stage: &LifecycleStage,
    service_arn: &str,
    rule: Option<&ListenerRuleFacts>,
    green_target_group: Option<&str>,
    blue_target_group: Option<&str>,
    expected: Option<&ExpectedWeight>,
) -> Outcome {
    let which = listener_name(listener);
    let Some(rule) = rule else {
        return Outcome::not_applicable(
            &ROUTING_RULE_MISSING,
            format!(
                "service {service_arn} has no {which} listener rule in its load balancer configuration (advancedConfiguration.{which}ListenerRule)"
            ),
        )
        .with_evidence(
            Evidence::new(format!("{which} listener rule"), "none")
                .threshold("a rule in the service's loadBalancers[].advancedConfiguration")
                .resource(service_arn),
        );
    };
    let Some(green) = green_target_group else {
        return Outcome::permanent_error(
            &ROUTING_NO_TARGET_GROUP,
            format!(
                "green's target group is not known for service {service_arn}, so its share of {which} rule {} cannot be read",
                rule.rule_arn
            ),
        )
        .with_evidence(
            Evidence::new("green target group", "none")
                .threshold("a target group in green's load balancer configuration")
                .resource(service_arn),
        );
    };
    let forwards = forwards_evidence(rule, green, blue_target_group);
    let Some(expected) = expected else {
        return Outcome::inconclusive(
            &ROUTING_WEIGHT_UNKNOWN,
            format!(
                "no expected weight for green on the {which} rule at this stage: the event carries none and expected_weight is not set"
            ),
        )
        .with_evidence(forwards);
    };

    let share = green_share(rule, green);
    let difference = (share - expected.percent).abs();
    let evidence = Evidence::new(format!("green's share of the {which} rule"), round(share))
        .threshold(format!(
            "= {}% ± {TOLERANCE_PP}pp ({})",
            round(expected.percent),
            expected.source
        ))
        .resource(rule.rule_arn.as_str())
        .samples(1);
    // A tiny epsilon so 1.0pp off by float noise still counts as within tolerance.
    if difference <= TOLERANCE_PP + 1e-9 {
        return Outcome::pass(
            &ROUTING_OK,
            format!(
                "{which} rule {} sends {}% of its traffic to green's target group {green}, as expected ({}%)",
                rule.rule_arn,
                round(share),
                round(expected.percent)
            ),
        )
        .with_evidence(evidence)
        .with_evidence(forwards);
    }
    let shift_stage = match listener {
        Listener::Production => LifecycleStage::ProductionTrafficShift,
        Listener::Test => LifecycleStage::TestTrafficShift,
    };
    if *stage == shift_stage && is_previous_share(share, expected.percent) {
        return Outcome::pass(
            &ROUTING_SHIFT_PENDING,
            format!(
                "{which} rule {} still sends {}% of its traffic to green's target group {green}, a previous step's share: ECS has not moved the weights yet (expected {}% ({}) once it does; proved at the stage after the shift)",
                rule.rule_arn,
                round(share),
                round(expected.percent),
                expected.source
            ),
        )
        .with_evidence(evidence)
        .with_evidence(forwards);
    }
    let forwards_to_green = rule.forwards.iter().any(|(arn, _)| arn == green);
    let detail = if forwards_to_green {
        String::new()
    } else {
        " (it does not forward to green's target group at all)".to_owned()
    };
    Outcome::fail(
        &ROUTING_WEIGHT_MISMATCH,
        format!(
            "{which} rule {} sends {}% of its traffic to green's target group {green}, expected {}% ({}){detail}",
            rule.rule_arn,
            round(share),
            round(expected.percent),
            expected.source
        ),
    )
    .with_evidence(evidence)
    .with_evidence(forwards)
}

/// Every target group the rule forwards to, with its weight and role.
fn forwards_evidence(rule: &ListenerRuleFacts, green: &str, blue: Option<&str>) -> Evidence {
    let groups: Vec<serde_json::Value> = rule
        .forwards
        .iter()
        .map(|(arn, weight)| {
            let role = if arn == green {
                "green"
            } else if Some(arn.as_str()) == blue {
                "blue"
            } else {
                "other"
            };
            json!({ "target_group": arn, "role": role, "weight": weight })
        })
        .collect();
    Evidence::new("forward weights of the rule", json!(groups))
        .resource(rule.rule_arn.as_str())
        .samples(1)
}

/// Rounds to 0.01 for display, so 33.333… reads 33.33.
fn round(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Status;

    const GREEN: &str = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web-b/2";
    const BLUE: &str = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web-a/1";
    const SERVICE: &str = "arn:aws:ecs:us-east-1:1:service/c/web";

    fn rule(forwards: &[(&str, f64)]) -> ListenerRuleFacts {
        ListenerRuleFacts {
            rule_arn: "arn:aws:elasticloadbalancing:us-east-1:1:listener-rule/app/web/1/2/3"
                .to_owned(),
            listener_arn: "arn:aws:elasticloadbalancing:us-east-1:1:listener/app/web/1/2"
                .to_owned(),
            forwards: forwards
                .iter()
                .map(|(arn, w)| ((*arn).to_owned(), *w))
                .collect(),
            conditions: vec![],
        }
    }

    fn expect(percent: f64) -> ExpectedWeight {
        ExpectedWeight {
            percent,
            source: "event productionTrafficWeights".to_owned(),
        }
    }

    /// (name, rule, green target group, expected, status, code)
    type RuleCase<'a> = (
        &'a str,
        Option<ListenerRuleFacts>,
        Option<&'a str>,
        Option<ExpectedWeight>,
        Status,
        &'a ReasonCode,
    );

    #[test]
    fn judges_each_case_by_its_reason() {
        // (name, rule, green tg, expected, status, code)
        let cases: Vec<RuleCase<'_>> = vec![
            (
                "all to green",
                Some(rule(&[(GREEN, 100.0), (BLUE, 0.0)])),
                Some(GREEN),
                Some(expect(100.0)),
                Status::Pass,
                &ROUTING_OK,
            ),
            (
                "a linear step",
                Some(rule(&[(GREEN, 10.0), (BLUE, 90.0)])),
                Some(GREEN),
                Some(expect(10.0)),
                Status::Pass,
                &ROUTING_OK,
            ),
            (
                "relative weights",
                Some(rule(&[(GREEN, 1.0), (BLUE, 9.0)])),
                Some(GREEN),
                Some(expect(10.0)),
                Status::Pass,
                &ROUTING_OK,
            ),
            (
                "a rounded 3.3% step",
                Some(rule(&[(GREEN, 3.0), (BLUE, 97.0)])),
                Some(GREEN),
                Some(expect(3.3)),
                Status::Pass,
                &ROUTING_OK,
            ),
            (
                "exactly at the tolerance",
                Some(rule(&[(GREEN, 11.0), (BLUE, 89.0)])),
                Some(GREEN),
                Some(expect(10.0)),
                Status::Pass,
                &ROUTING_OK,
            ),
            (
                "still all blue",
                Some(rule(&[(GREEN, 0.0), (BLUE, 100.0)])),
                Some(GREEN),
                Some(expect(100.0)),
                Status::Fail,
                &ROUTING_WEIGHT_MISMATCH,
            ),
            (
                "too much to green",
                Some(rule(&[(GREEN, 50.0), (BLUE, 50.0)])),
                Some(GREEN),
                Some(expect(10.0)),
                Status::Fail,
                &ROUTING_WEIGHT_MISMATCH,
            ),
            (
                "green not forwarded",
                Some(rule(&[(BLUE, 1.0)])),
                Some(GREEN),
                Some(expect(100.0)),
                Status::Fail,
                &ROUTING_WEIGHT_MISMATCH,
            ),
            (
                "no rule",
                None,
                Some(GREEN),
                Some(expect(100.0)),
                Status::Error,
                &ROUTING_RULE_MISSING,
            ),
            (
                "no green group",
                Some(rule(&[(GREEN, 100.0)])),
                None,
                Some(expect(100.0)),
                Status::Error,
                &ROUTING_NO_TARGET_GROUP,
            ),
            (
                "no expected weight",
                Some(rule(&[(GREEN, 100.0)])),
                Some(GREEN),
                None,
                Status::Inconclusive,
                &ROUTING_WEIGHT_UNKNOWN,
            ),
        ];
        for (name, rule, green, expected, status, code) in cases {
            let outcome = judge(
                Listener::Production,
                &LifecycleStage::PostProductionTrafficShift,
                SERVICE,
                rule.as_ref(),
                green,
                Some(BLUE),
                expected.as_ref(),
            );
            assert_eq!(
                (outcome.status, outcome.code.code),
                (status, code.code),
                "{name}: {}",
                outcome.message
            );
            assert!(!outcome.evidence.is_empty(), "{name}");
            if status == Status::Error {
                assert!(outcome.is_permanent_error(), "{name}");
            }
        }
    }

    #[test]
    fn a_mismatch_shows_both_target_groups_weights() {
        let outcome = judge(
            Listener::Test,
            &LifecycleStage::TestTrafficShift,
            SERVICE,
            Some(&rule(&[(GREEN, 0.0), (BLUE, 100.0)])),
            Some(GREEN),
            Some(BLUE),
            Some(&ExpectedWeight {
                percent: 100.0,
                source: "all test traffic at TEST_TRAFFIC_SHIFT".to_owned(),
            }),
        );
        assert!(outcome.message.starts_with("test rule"));
        let share = &outcome.evidence[0];
        assert_eq!(share.value, json!(0.0));
        assert_eq!(
            share.threshold.as_deref(),
            Some("= 100% ± 1pp (all test traffic at TEST_TRAFFIC_SHIFT)")
        );
        assert_eq!(share.samples, Some(1));
        let forwards = &outcome.evidence[1];
        assert_eq!(
            forwards.value,
            json!([
                { "target_group": GREEN, "role": "green", "weight": 0.0 },
                { "target_group": BLUE, "role": "blue", "weight": 100.0 },
            ])
        );
    }

    #[test]
    fn at_a_shift_stage_a_previous_steps_share_passes_as_pending_and_others_fail() {
        let shift = LifecycleStage::ProductionTrafficShift;
        let post = LifecycleStage::PostProductionTrafficShift;
        // (name, listener, stage, green share, expected, status, code)
        let cases = [
            (
                "moved",
                Listener::Production,
                &shift,
                20.0,
                20.0,
                Status::Pass,
                &ROUTING_OK,
            ),
            (
                "blue/green not moved yet",
                Listener::Production,
                &shift,
                0.0,
                100.0,
                Status::Pass,
                &ROUTING_SHIFT_PENDING,
            ),
            (
                "canary's second step not moved yet",
                Listener::Production,
                &shift,
                5.0,
                100.0,
                Status::Pass,
                &ROUTING_SHIFT_PENDING,
            ),
            (
                "first step not moved yet",
                Listener::Production,
                &shift,
                0.0,
                10.0,
                Status::Pass,
                &ROUTING_SHIFT_PENDING,
            ),
            (
                "linear 10% step two not moved yet",
                Listener::Production,
                &shift,
                10.0,
                20.0,
                Status::Pass,
                &ROUTING_SHIFT_PENDING,
            ),
            (
                "linear 10% step three not moved yet",
                Listener::Production,
                &shift,
                20.0,
                30.0,
                Status::Pass,
                &ROUTING_SHIFT_PENDING,
            ),
            (
                "linear 3.3% step, rounded",
                Listener::Production,
                &shift,
                3.0,
                6.6,
                Status::Pass,
                &ROUTING_SHIFT_PENDING,
            ),
            (
                "between steps",
                Listener::Production,
                &shift,
                8.0,
                30.0,
                Status::Fail,
                &ROUTING_WEIGHT_MISMATCH,
            ),
            (
                "beyond the step",
                Listener::Production,
                &shift,
                50.0,
                20.0,
                Status::Fail,
                &ROUTING_WEIGHT_MISMATCH,
            ),
            (
                "after the last shift",
                Listener::Production,
                &post,
                0.0,
                100.0,
                Status::Fail,
                &ROUTING_WEIGHT_MISMATCH,
            ),
            (
                "test listener at the production shift",
                Listener::Test,
                &shift,
                0.0,
                100.0,
                Status::Fail,
                &ROUTING_WEIGHT_MISMATCH,
            ),
            (
                "test rule not moved yet at the test shift",
                Listener::Test,
                &LifecycleStage::TestTrafficShift,
                0.0,
                100.0,
                Status::Pass,
                &ROUTING_SHIFT_PENDING,
            ),
            (
                "test rule half moved at the test shift",
                Listener::Test,
                &LifecycleStage::TestTrafficShift,
                50.0,
                100.0,
                Status::Pass,
                &ROUTING_SHIFT_PENDING,
            ),
            (
                "test rule not moved after the test shift",
                Listener::Test,
                &LifecycleStage::PostTestTrafficShift,
                0.0,
                100.0,
                Status::Fail,
                &ROUTING_WEIGHT_MISMATCH,
            ),
        ];
        for (name, listener, stage, share, expected, status, code) in cases {
            let outcome = judge(
                listener,
                stage,
                SERVICE,
                Some(&rule(&[(GREEN, share), (BLUE, 100.0 - share)])),
                Some(GREEN),
                Some(BLUE),
                Some(&expect(expected)),
            );
            assert_eq!(
                (outcome.status, outcome.code.code),
                (status, code.code),
                "{name}: {}",
                outcome.message
            );
            if code.code == ROUTING_SHIFT_PENDING.code {
                assert!(outcome.message.contains("previous step"), "{name}");
                assert_eq!(outcome.evidence.len(), 2, "{name}");
            }
        }
    }

    #[test]
    fn previous_shares_are_zero_and_one_linear_step_back() {
        assert!(previous_shares(100.0).is_empty());
        let shares = previous_shares(30.0);
        assert_eq!(shares[0], 0.0);
        for share in [15.0, 20.0, 22.5] {
            assert!(
                shares.iter().any(|s| (s - share).abs() < 1e-9),
                "{share} in {shares:?}"
            );
        }
        assert!(!is_previous_share(15.1 + TOLERANCE_PP, 30.0));
        // Shares within the tolerance of one another collapse.
        assert!(shares.windows(2).all(|w| w[1] - w[0] > TOLERANCE_PP));
    }

    #[test]
    fn the_expected_weight_comes_from_config_then_the_event() {
        let event = TrafficWeights {
            green_production: Some(10.0),
            green_test: Some(100.0),
        };
        let none = TrafficWeights::default();
        let shift = LifecycleStage::ProductionTrafficShift;
        let post = LifecycleStage::PostProductionTrafficShift;
        let configured = Percent::new(25.0);
        // (configured, listener, weights, stage, expected percent)
        let cases = [
            (configured, Listener::Production, event, &shift, Some(25.0)),
            (None, Listener::Production, event, &shift, Some(10.0)),
            (None, Listener::Test, event, &shift, Some(100.0)),
            (
                None,
                Listener::Test,
                none,
                &LifecycleStage::TestTrafficShift,
                Some(100.0),
            ),
            (None, Listener::Production, none, &post, Some(100.0)),
            (None, Listener::Production, none, &shift, None),
        ];
        for (configured, listener, weights, stage, percent) in cases {
            assert_eq!(
                expected_weight(configured, listener, weights, stage).map(|e| e.percent),
                percent,
                "{listener:?} {stage:?} {weights:?}"
            );
        }
        assert_eq!(
            expected_weight(
                None,
                Listener::Test,
                none,
                &LifecycleStage::TestTrafficShift
            )
            .map(|e| e.source),
            Some("all test traffic goes to green".to_owned())
        );
    }

    #[test]
    fn shares_are_relative_to_the_total() {
        assert_eq!(
            green_share(&rule(&[(GREEN, 1.0), (BLUE, 3.0)]), GREEN),
            25.0
        );
        assert_eq!(green_share(&rule(&[(GREEN, 0.0), (BLUE, 0.0)]), GREEN), 0.0);
        assert_eq!(green_share(&rule(&[]), GREEN), 0.0);
        assert_eq!(green_share(&rule(&[(GREEN, 5.0)]), GREEN), 100.0);
    }

    #[test]
    fn the_doc_example_is_a_valid_check() {
        let check = crate::checks::registry::test_support::check(DOC.example)
            .unwrap_or_else(|errors| panic!("{errors:?}"));
        assert_eq!(check.kind.name(), DOC.kind);
    }

    #[test]
    fn the_doc_lists_every_code_with_its_family() {
        for code in DOC.codes {
            assert_eq!(code.family(), "ROUTING", "{}", code.code);
        }
    }
}
