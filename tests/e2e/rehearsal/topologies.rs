//! Both answers to what AWS leaves open. The topology matrix: the same good and bad releases on
//! every load balancer topology AWS documents for ECS blue/green (an ALB with a test listener rule,
//! an ALB without one, an NLB, Service Connect only, no load balancer), under both orders of traffic-shift weights and
//! hooks (the weights move before the stage's hooks, or only once they answered SUCCEEDED). Then
//! digests known only once green's first task runs, and CodeDeploy making green PRIMARY before or
//! after its last hook. A good release is never rolled back, a bad one never passes, and the
//! built-in plans say "not applicable" for what a topology does not have instead of failing.

use std::path::PathBuf;

use greenlight_sim::driver::Stage;
use greenlight_sim::driver::codedeploy::GreenPrimary;
use greenlight_sim::scenario::format::{
    DigestResolved, HealthCheckProtocol, Topology, WeightsMove,
};
use greenlight_sim::scenario::runner::reason_codes;
use greenlight_sim::scenario::{RunOptions, Scenario, run};
use greenlight_sim::timeline::SimReport;

const ORDERS: [WeightsMove; 2] = [WeightsMove::BeforeHooks, WeightsMove::AfterHooks];

fn load(name: &str) -> Scenario {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(format!("{name}.yaml"));
    Scenario::load(&path).expect("the scenario parses")
}

async fn rehearse(mut scenario: Scenario, topology: Topology, order: WeightsMove) -> SimReport {
    crate::parts::require();
    scenario.service.topology = topology;
    scenario.deployment.weights_move = order;
    scenario.name = format!("{} on {} ({order:?})", scenario.name, topology.as_str());
    run(&scenario, &RunOptions::default())
        .await
        .unwrap_or_else(|error| panic!("{error}"))
}

fn summary(report: &SimReport) -> String {
    let failed: Vec<String> = report
        .expectations
        .iter()
        .filter(|expectation| !expectation.met)
        .map(|e| format!("{}: expected {}, got {}", e.what, e.expected, e.actual))
        .collect();
    format!(
        "{}: {} (rolled back at {:?}); codes {:?}; unmet: {failed:?}",
        report.scenario,
        report.final_status,
        report.rollback_stage,
        reason_codes(&report.timeline)
    )
}

/// The messages of every check whose sentence names `code` (a not-applicable pass keeps its
/// check's own code in its sentence).
fn checks_saying(report: &SimReport, code: &str) -> Vec<String> {
    report
        .timeline
        .events()
        .iter()
        .filter_map(|timed| match &timed.event {
            greenlight_sim::timeline::TimelineEvent::HookAnswered { checks, .. } => Some(checks),
            _ => None,
        })
        .flatten()
        .filter(|check| check.code == code || check.message.contains(code))
        .map(|check| check.message.clone())
        .collect()
}

/// Runs the good and the bad release on `topology` under both orders.
async fn matrix(topology: Topology) {
    for order in ORDERS {
        let good = rehearse(load("topology-good"), topology, order).await;
        assert!(good.expectations_met(), "{}", summary(&good));
        let codes = reason_codes(&good.timeline);
        if !topology.has_test_route() {
            // The built-in test-route checks found nothing to judge and said so.
            assert!(
                codes.iter().any(|code| code == "CHECK_NOT_APPLICABLE"),
                "{}",
                summary(&good)
            );
        }
        if topology.has_test_route() && order == WeightsMove::AfterHooks {
            // The test rule had not moved when its hook ran: accepted as pending, then proved
            // moved at POST_TEST_TRAFFIC_SHIFT.
            assert!(
                codes.iter().any(|code| code == "ROUTING_SHIFT_PENDING"),
                "{}",
                summary(&good)
            );
        }

        if topology == Topology::Nlb {
            // An NLB's groups check health over TCP (ELB's default): the built-in `http` check
            // has no path or codes the service declared, and says so instead of guessing `/`.
            let said = checks_saying(&good, "HTTP_HEALTH_CHECK_UNUSABLE");
            assert!(!said.is_empty(), "{}", summary(&good));
            assert!(
                said.iter().all(|message| message.contains("TCP")),
                "{said:?}"
            );
        }

        // With a TCP health check the built-in plan sends no synthetic requests: the bad release
        // is stopped by its alarm once production traffic reaches it.
        let synthetic_requests = topology.has_test_route() && topology != Topology::Nlb;
        let mut bad = load("topology-bad");
        bad.expect.rollback_stage = Some(if synthetic_requests {
            Stage::PostTestTrafficShift
        } else {
            Stage::ProductionTrafficShift
        });
        let bad = rehearse(bad, topology, order).await;
        assert!(bad.expectations_met(), "{}", summary(&bad));
        assert_ne!(bad.final_status, "SUCCESSFUL", "{}", summary(&bad));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_nlb_whose_groups_check_http_health_is_judged_on_that_path_before_production() {
    // The other answer for an NLB: its target groups check an HTTP path, so the built-in plan
    // requests it through the test listener and stops the bad release before production moves.
    for order in ORDERS {
        let mut good = load("topology-good");
        good.service.health_check.protocol = Some(HealthCheckProtocol::Http);
        let good = rehearse(good, Topology::Nlb, order).await;
        assert!(good.expectations_met(), "{}", summary(&good));
        assert!(
            reason_codes(&good.timeline)
                .iter()
                .any(|code| code == "HTTP_OK"),
            "{}",
            summary(&good)
        );
        let mut bad = load("topology-bad");
        bad.service.health_check.protocol = Some(HealthCheckProtocol::Http);
        bad.expect.rollback_stage = Some(Stage::PostTestTrafficShift);
        let bad = rehearse(bad, Topology::Nlb, order).await;
        assert!(bad.expectations_met(), "{}", summary(&bad));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alb_with_a_test_rule_judges_good_and_bad_under_both_orders() {
    matrix(Topology::Alb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alb_without_a_test_rule_judges_good_and_bad_under_both_orders() {
    matrix(Topology::AlbWithoutTestRule).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_nlb_judges_good_and_bad_under_both_orders() {
    matrix(Topology::Nlb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_connect_judges_good_and_bad_under_both_orders() {
    // The built-in plans have no test route to use (a Lambda is not a Service Connect client)...
    matrix(Topology::ServiceConnect).await;
    // ...while a team that names a client in the namespace sends real test traffic through it.
    for order in ORDERS {
        for name in ["service-connect-good", "service-connect-bad"] {
            rehearse_adjusted(name, |scenario| scenario.deployment.weights_move = order).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hooks_are_bound_whether_or_not_ecs_lists_the_running_hook() {
    // AWS does not document whether DescribeServiceDeployments lists a hook as IN_PROGRESS while
    // ECS invokes it; greenlight binds each invocation to a running hook either way, and judges
    // good and bad releases the same.
    for name in ["good-blue-green", "green-5xx-on-test-traffic"] {
        rehearse_adjusted(name, |scenario| {
            scenario.deployment.running_hook_listed = false;
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_without_a_load_balancer_judges_good_and_bad_under_both_orders() {
    matrix(Topology::None).await;
}

/// Loads `name`, lets `adjust` change it, runs it and checks its own expectations.
async fn rehearse_adjusted(name: &str, adjust: impl FnOnce(&mut Scenario)) -> SimReport {
    crate::parts::require();
    let mut scenario = load(name);
    adjust(&mut scenario);
    let report = run(&scenario, &RunOptions::default())
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert!(report.expectations_met(), "{}", summary(&report));
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digests_resolved_only_by_the_first_green_task_judge_good_and_bad_alike() {
    // AWS: "the first task started establishes the digest"; whether the revision carries it at
    // PRE_SCALE_UP is undocumented. Admission then resolves the tags in ECR itself.
    for name in [
        "good-blue-green",
        "image-digest-drift",
        "missing-green-image",
    ] {
        rehearse_adjusted(name, |scenario| {
            scenario.revisions.green.digest_resolved = DigestResolved::AfterFirstTask;
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codedeploy_judges_alike_whenever_green_becomes_primary() {
    // ECS's TaskSet.status PRIMARY means "serves production"; when CodeDeploy makes green
    // PRIMARY is undocumented. The library runs it at AllowTraffic; here, after the last hook.
    for name in ["codedeploy-good", "codedeploy-alarm-after-traffic"] {
        rehearse_adjusted(name, |scenario| {
            scenario.deployment.green_primary = GreenPrimary::AfterAllowTrafficHook;
        })
        .await;
    }
}
