//! The scenario library, rehearsed end to end: the real function binaries, invoked as ECS (or
//! CodeDeploy) invokes them by the sim's drivers, against moto with the sim's world and real HTTP
//! traffic through the local data plane. Each scenario states its own expectations (final status, rollback stage,
//! reason codes); a failure prints the timeline.

use std::path::PathBuf;

use greenlight_sim::scenario::{RunOptions, Scenario, run};
use greenlight_sim::timeline::{SimReport, TimelineEvent};

fn scenario_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(format!("{name}.yaml"))
}

/// The timeline in a few lines a failing test can print.
fn describe(report: &SimReport) -> String {
    let mut lines = Vec::new();
    for event in report.timeline.events() {
        let line = match &event.event {
            TimelineEvent::StageStarted { stage, step, .. } => format!("stage {stage} {step:?}"),
            TimelineEvent::HookAnswered {
                stage,
                function,
                attempt,
                status,
                reason,
                message,
                checks,
                ..
            } => {
                let checks: Vec<String> = checks
                    .iter()
                    .map(|check| {
                        format!(
                            "{}={}/{} {}",
                            check.id, check.status, check.code, check.message
                        )
                    })
                    .collect();
                format!(
                    "  {function} at {stage} #{attempt}: {status} {} {} [{}]",
                    reason.as_deref().unwrap_or("-"),
                    message.as_deref().unwrap_or(""),
                    checks.join("; ")
                )
            }
            TimelineEvent::HookInvoked { .. } => continue,
            other => format!("  {other:?}"),
        };
        lines.push(format!("{:>6} ms {line}", event.at_ms));
    }
    for expectation in &report.expectations {
        lines.push(format!(
            "expect {}: {} → {} ({})",
            expectation.what,
            expectation.expected,
            expectation.actual,
            if expectation.met { "met" } else { "NOT MET" }
        ));
    }
    lines.join("\n")
}

async fn rehearse(name: &str) -> SimReport {
    crate::parts::require();
    let scenario = Scenario::load(&scenario_path(name)).expect("the scenario parses");
    let report = run(&scenario, &RunOptions::default())
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    if std::env::var_os("GREENLIGHT_SCENARIO_TRACE").is_some() {
        eprintln!("{name}:\n{}", describe(&report));
    }
    assert!(report.expectations_met(), "{name}:\n{}", describe(&report));
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn good_blue_green_succeeds() {
    let report = rehearse("good-blue-green").await;
    assert_eq!(report.final_status, "SUCCESSFUL");
    assert_eq!(report.rollback_stage, None);
    // The production hook baked across IN_PROGRESS answers: each re-invocation carried the
    // state it returned, next to the inline config.
    let bake = payloads(
        &report,
        "production-traffic",
        "POST_PRODUCTION_TRAFFIC_SHIFT",
    );
    assert!(bake.len() >= 2, "{}", describe(&report));
    assert!(bake[0]["hookDetails"]["greenlight"].get("state").is_none());
    let later = &bake[1]["hookDetails"]["greenlight"];
    assert!(later["state"].is_object(), "{later}");
    assert_eq!(later["version"], 1, "{later}");
    // The functions' calls, per stage; setup's calls are not among them.
    let admission = &report.calls_by_stage["PRE_SCALE_UP"];
    assert!(
        admission.contains_key("ecr:DescribeImages"),
        "{admission:?}"
    );
    assert!(
        admission.contains_key("ecs:DescribeServiceRevisions"),
        "{admission:?}"
    );
    for calls in report.calls_by_stage.values() {
        assert!(
            !calls
                .keys()
                .any(|call| call.starts_with("ecs:Create") || call.ends_with(":PutImage")),
            "{calls:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_admission_hook_refuses_critical_findings() {
    let report = rehearse("rolling-critical-vulnerability").await;
    // Green never started.
    assert!(!report.timeline.events().iter().any(|event| matches!(&event.event, TimelineEvent::StageStarted { stage, .. } if stage == "SCALE_UP")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_green_image_is_refused_at_admission() {
    rehearse("missing-green-image").await;
}

/// The events of one hook at one stage, in order.
fn answers<'a>(report: &'a SimReport, function: &str, stage: &str) -> Vec<&'a TimelineEvent> {
    report
        .timeline
        .events()
        .iter()
        .map(|event| &event.event)
        .filter(|event| {
            matches!(event, TimelineEvent::HookAnswered { function: f, stage: s, .. } if f == function && s == stage)
        })
        .collect()
}

fn payloads<'a>(report: &'a SimReport, function: &str, stage: &str) -> Vec<&'a serde_json::Value> {
    report
        .timeline
        .events()
        .iter()
        .filter_map(|event| match &event.event {
            TimelineEvent::HookInvoked {
                function: f,
                stage: s,
                payload,
                ..
            } if f == function && s == stage => Some(payload),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linear_five_steps_invokes_the_production_hook_at_every_step() {
    let report = rehearse("linear-five-steps").await;
    let greens: Vec<f64> = payloads(&report, "production-traffic", "PRODUCTION_TRAFFIC_SHIFT")
        .iter()
        .filter_map(|payload| {
            let weights = &payload["executionDetails"]["productionTrafficWeights"];
            let green = payload["executionDetails"]["targetServiceRevisionArn"].as_str()?;
            weights[green].as_f64()
        })
        .collect();
    let mut steps = greens.clone();
    steps.dedup();
    assert_eq!(steps, [20.0, 40.0, 60.0, 80.0, 100.0], "{greens:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canary_good_succeeds() {
    let report = rehearse("canary-good").await;
    assert_eq!(report.final_status, "SUCCESSFUL");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_digest_drift_rolls_back_at_post_scale_up() {
    let report = rehearse("image-digest-drift").await;
    // Nothing had moved: no traffic hook ran, not even on the rollback.
    assert!(payloads(&report, "test-traffic", "TEST_TRAFFIC_SHIFT").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unhealthy_green_target_rolls_back_at_post_scale_up() {
    rehearse("unhealthy-green-target").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn green_5xx_on_test_traffic_rolls_back_and_reinvokes_the_test_hook_reversed() {
    let report = rehearse("green-5xx-on-test-traffic").await;
    let test = payloads(&report, "test-traffic", "TEST_TRAFFIC_SHIFT");
    let last = test
        .last()
        .expect("the rollback re-invoked the test traffic hook");
    let green = last["executionDetails"]["targetServiceRevisionArn"]
        .as_str()
        .expect("green");
    assert_eq!(last["executionDetails"]["testTrafficWeights"][green], 0);
    // Production never moved.
    assert!(payloads(&report, "production-traffic", "PRODUCTION_TRAFFIC_SHIFT").is_empty());
}

/// Every judgement of an `http` check: (its code, the URLs its evidence names).
fn http_requests(report: &SimReport) -> Vec<(String, Vec<String>)> {
    report
        .timeline
        .events
        .iter()
        .filter_map(|timed| match &timed.event {
            TimelineEvent::HookAnswered { checks, .. } => Some(checks),
            _ => None,
        })
        .flatten()
        .filter(|check| check.id.starts_with("http"))
        .map(|check| {
            let urls = check
                .evidence
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|item| item.get("resource").and_then(|r| r.as_str()))
                .filter(|resource| resource.starts_with("http"))
                .map(str::to_owned)
                .collect();
            (check.code.clone(), urls)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_that_404s_at_the_root_passes_on_its_own_health_check_path() {
    let report = rehearse("health-check-path-good").await;
    let requests = http_requests(&report);
    assert!(!requests.is_empty(), "{}", describe(&report));
    assert!(
        requests.iter().all(|(code, urls)| code == "HTTP_OK"
            && urls.iter().all(|url| url.ends_with("/healthz"))
            && !urls.is_empty()),
        "{requests:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_green_failing_its_own_health_check_path_rolls_back_before_production() {
    let report = rehearse("health-check-path-bad").await;
    assert!(payloads(&report, "production-traffic", "PRODUCTION_TRAFFIC_SHIFT").is_empty());
    assert!(
        http_requests(&report)
            .iter()
            .any(|(code, urls)| code == "HTTP_ERROR_RATE"
                && urls.iter().any(|url| url.ends_with("/healthz"))),
        "{}",
        describe(&report)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alarm_firing_during_the_canary_step_rolls_back() {
    let report = rehearse("alarm-fires-during-canary").await;
    let failed = answers(&report, "production-traffic", "PRODUCTION_TRAFFIC_SHIFT");
    assert!(
        failed.iter().any(|event| matches!(event, TimelineEvent::HookAnswered { status, .. } if status == "FAILED")),
        "the production hook failed the canary step"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alarm_already_firing_stops_the_deployment_before_production_traffic() {
    let report = rehearse("alarm-firing-before-deployment").await;
    assert!(
        payloads(
            &report,
            "production-traffic",
            "POST_PRODUCTION_TRAFFIC_SHIFT"
        )
        .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_aws_waits_then_succeeds() {
    rehearse("throttled-aws-recovers").await;
}

/// Found by the campaign (throttled-aws-recovers, seed 7): the hook's own retry of an unreadable
/// deployment status outlasted the checks' 15 s `max_wait`, and the next look failed a good release
/// as if the check had waited all along.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_spent_unable_to_read_the_status_is_not_the_checks_wait() {
    let report = rehearse("status-unreadable-after-throttling").await;
    let codes: Vec<&str> = answers(&report, "pre-scale-up", "PRE_SCALE_UP")
        .iter()
        .filter_map(|event| match event {
            TimelineEvent::HookAnswered { reason, .. } => reason.as_deref(),
            _ => None,
        })
        .collect();
    // Waiting on throttling, then unable to read the status, then waiting again, then passed.
    assert_eq!(
        codes,
        [
            "VERDICT_WAITING",
            "EVENT_NOT_A_RUNNING_HOOK",
            "VERDICT_WAITING",
            "VERDICT_PASSED"
        ],
        "{codes:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_denied_fails_the_first_hook_naming_the_action() {
    let report = rehearse("access-denied").await;
    let message = answers(&report, "pre-scale-up", "PRE_SCALE_UP")
        .iter()
        .find_map(|event| match event {
            TimelineEvent::HookAnswered {
                status, message, ..
            } if status == "FAILED" => message.clone(),
            _ => None,
        })
        .expect("the admission hook failed");
    assert!(
        message.contains("ecs:DescribeServiceRevisions"),
        "{message}"
    );
    // The denial is IAM's own, from the template's role: AWS's wording, the role and the resource.
    assert!(
        message.contains(
            "assumed-role/greenlight-PreScaleUpRole/greenlight-pre-scale-up is not authorized to perform: ecs:DescribeServiceRevisions on resource: arn:aws:ecs:us-east-1:123456789012:service-revision/"
        ),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mis_wired_traffic_hook_fails_forward_but_never_blocks_the_rollback() {
    let report = rehearse("miswired-test-hook").await;
    let statuses: Vec<String> = answers(&report, "production-traffic", "TEST_TRAFFIC_SHIFT")
        .iter()
        .filter_map(|event| match event {
            TimelineEvent::HookAnswered { status, .. } => Some(status.clone()),
            _ => None,
        })
        .collect();
    // Forward: FAILED (wiring); re-invoked during the rollback: SUCCEEDED.
    assert_eq!(statuses, ["FAILED", "SUCCEEDED"], "{}", describe(&report));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_permission_scoped_to_deployment_groups_fails_every_codedeploy_deployment() {
    // The self-test of the rehearsal's IAM: the template's `Resource: "*"` on the report is what
    // lets CodeDeploy hear the hooks at all.
    let report = rehearse("codedeploy-report-denied").await;
    assert_eq!(report.final_status, "Failed", "{}", describe(&report));
    assert!(
        !codedeploy_reports(&report)
            .iter()
            .any(|(_, status)| *status == "SUCCEEDED"),
        "{}",
        describe(&report)
    );
    let timeline = describe(&report);
    assert!(timeline.contains("REPORT_DENIED"), "{timeline}");
    assert!(
        timeline.contains(
            "is not authorized to perform: codedeploy:PutLifecycleEventHookExecutionStatus on resource: *"
        ),
        "{timeline}"
    );
}

/// Each production step's final answer of the check `id` (`compare`, `compare#2`), in order: its
/// code and the baseline its message names (`None` when it judged without one).
fn check_verdicts(report: &SimReport, id: &str) -> Vec<(String, Option<String>)> {
    answers(report, "production-traffic", "PRODUCTION_TRAFFIC_SHIFT")
        .into_iter()
        .filter_map(|event| match event {
            TimelineEvent::HookAnswered { status, checks, .. } if status != "IN_PROGRESS" => {
                checks.iter().find(|check| check.id == id)
            }
            _ => None,
        })
        .map(|check| {
            let baseline = check
                .message
                .split("baseline ")
                .nth(1)
                .and_then(|rest| rest.split(')').next())
                .map(str::to_owned);
            (check.code.clone(), baseline)
        })
        .collect()
}

/// The first comparison's verdicts.
fn compare_verdicts(report: &SimReport) -> Vec<(String, Option<String>)> {
    check_verdicts(report, "compare")
}

fn verdict(code: &str, baseline: Option<&str>) -> (String, Option<String>) {
    (code.to_owned(), baseline.map(str::to_owned))
}

/// The comparison on real ALB metrics from real requests, at every kind of step. The seven
/// deployments run side by side: each waits on whole CloudWatch minutes (several of real time),
/// not on the machine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compare_judges_every_step_against_the_right_baseline() {
    let (canary, linear, blue_green, worse_canary, worse_after_shift, quiet, slow_tail) = tokio::join!(
        rehearse("compare-equal-noise-canary"),
        rehearse("compare-equal-noise-linear"),
        rehearse("compare-equal-noise-blue-green"),
        rehearse("compare-worse-at-canary"),
        rehearse("compare-worse-after-shift"),
        rehearse("compare-underpowered-canary"),
        rehearse("compare-slow-tail-doubled"),
    );
    let timeline = |report: &SimReport| describe(report);
    // Equal noise on both sides passes every step, against blue in the same minutes while blue
    // serves, then against blue's own minutes before the shift.
    for report in [&canary, &linear] {
        assert_eq!(
            compare_verdicts(report),
            [
                verdict("COMPARE_NOT_WORSE", Some("concurrent")),
                verdict("COMPARE_NOT_WORSE", Some("before_shift")),
            ],
            "{}",
            timeline(report)
        );
    }
    assert_eq!(
        compare_verdicts(&blue_green),
        [verdict("COMPARE_NOT_WORSE", Some("before_shift"))],
        "{}",
        timeline(&blue_green)
    );
    // Latency as the share of slow requests: an equal slow tail passes against blue's history...
    assert_eq!(
        check_verdicts(&blue_green, "compare#2"),
        [verdict("COMPARE_NOT_WORSE", Some("before_shift"))],
        "{}",
        timeline(&blue_green)
    );
    // ...and a doubled one is stopped at the canary, against blue in the same minutes.
    assert_eq!(
        compare_verdicts(&slow_tail),
        [verdict("COMPARE_LATENCY_HIGHER", Some("concurrent"))],
        "{}",
        timeline(&slow_tail)
    );
    // Five points worse is stopped at the canary, and after a BLUE_GREEN shift.
    assert_eq!(
        compare_verdicts(&worse_canary),
        [verdict("COMPARE_ERROR_RATE_HIGHER", Some("concurrent"))],
        "{}",
        timeline(&worse_canary)
    );
    assert_eq!(
        compare_verdicts(&worse_after_shift),
        [verdict("COMPARE_ERROR_RATE_HIGHER", Some("before_shift"))],
        "{}",
        timeline(&worse_after_shift)
    );
    // Too quiet a canary is underpowered, passed by its policy, never called "not worse".
    let quiet_verdicts = compare_verdicts(&quiet);
    assert_eq!(
        quiet_verdicts.first().map(|(code, _)| code.as_str()),
        Some("COMPARE_UNDERPOWERED"),
        "{}",
        timeline(&quiet)
    );
    assert_eq!(
        quiet_verdicts.last(),
        Some(&verdict("COMPARE_NOT_WORSE", Some("before_shift"))),
        "{}",
        timeline(&quiet)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_team_lambda_check_catches_a_broken_contract_that_http_passes() {
    let report = rehearse("team-lambda-check").await;
    let checks: Vec<(String, String, String)> =
        answers(&report, "test-traffic", "POST_TEST_TRAFFIC_SHIFT")
            .iter()
            .flat_map(|event| match event {
                TimelineEvent::HookAnswered { checks, .. } => checks
                    .iter()
                    .map(|check| {
                        (
                            check.code.clone(),
                            check.status.clone(),
                            check.message.clone(),
                        )
                    })
                    .collect(),
                _ => Vec::new(),
            })
            .collect();
    // Every answer was a 200, so the synthetic requests pass ...
    assert!(
        checks.iter().any(|(code, _, _)| code == "HTTP_OK"),
        "{checks:?}"
    );
    // ... and the team's own suite, really run against green, says why green fails.
    let (_, _, message) = checks
        .iter()
        .find(|(code, _, _)| code == "LAMBDA_FAILED")
        .unwrap_or_else(|| panic!("{checks:?}"));
    assert!(
        message.contains("checkout contract: 3 of 3 cases failed")
            && message.contains("decimal-string `total`"),
        "{message}"
    );
    assert!(payloads(&report, "production-traffic", "PRODUCTION_TRAFFIC_SHIFT").is_empty());
}

/// The listeners' traffic shifts, in order: (listener, green weight).
fn shifts(report: &SimReport) -> Vec<(&str, f64)> {
    report
        .timeline
        .events()
        .iter()
        .filter_map(|event| match &event.event {
            TimelineEvent::TrafficShifted {
                listener, green, ..
            } => Some((listener.as_str(), *green)),
            _ => None,
        })
        .collect()
}

/// The CodeDeploy hooks that reported, in order: (event, status).
fn codedeploy_reports(report: &SimReport) -> Vec<(&str, &str)> {
    report
        .timeline
        .events()
        .iter()
        .filter_map(|event| match &event.event {
            TimelineEvent::HookAnswered { stage, status, .. } => {
                Some((stage.as_str(), status.as_str()))
            }
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codedeploy_good_succeeds_at_every_appspec_hook() {
    let report = rehearse("codedeploy-good").await;
    assert_eq!(report.final_status, "Succeeded");
    assert_eq!(
        codedeploy_reports(&report),
        [
            ("BeforeInstall", "SUCCEEDED"),
            ("AfterInstall", "SUCCEEDED"),
            ("AfterAllowTestTraffic", "SUCCEEDED"),
            ("BeforeAllowTraffic", "SUCCEEDED"),
            ("AfterAllowTraffic", "SUCCEEDED"),
        ],
        "{}",
        describe(&report)
    );
    assert_eq!(shifts(&report), [("test", 100.0), ("production", 100.0)]);
    // CodeDeploy's event payload, the ids verbatim; and the functions' calls per event.
    let invoked = payloads(
        &report,
        "CodeDeployHook_greenlight_AfterInstall",
        "AfterInstall",
    );
    assert_eq!(invoked.len(), 1);
    assert!(
        invoked[0]["DeploymentId"]
            .as_str()
            .is_some_and(|id| id.starts_with("d-"))
    );
    assert!(invoked[0]["LifecycleEventHookExecutionId"].is_string());
    let calls = &report.calls_by_stage["AfterInstall"];
    assert!(calls.contains_key("codedeploy:GetDeployment"), "{calls:?}");
    assert!(
        calls
            .keys()
            .any(|call| call.starts_with("codedeploy:PutLifecycleEventHookExecutionStatus")),
        "{calls:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codedeploy_bad_fails_at_after_allow_test_traffic_before_production_moves() {
    let report = rehearse("codedeploy-bad").await;
    assert_eq!(
        report.rollback_stage.as_deref(),
        Some("AfterAllowTestTraffic")
    );
    // The test listener moved to green and back; production never moved.
    assert_eq!(shifts(&report), [("test", 100.0), ("test", 0.0)]);
    let reports = codedeploy_reports(&report);
    assert_eq!(
        reports.last(),
        Some(&("AfterAllowTestTraffic", "FAILED")),
        "{}",
        describe(&report)
    );
    assert!(
        !reports
            .iter()
            .any(|(event, _)| event.ends_with("AllowTraffic")),
        "no production hook ran: {reports:?}"
    );
    let sentence = greenlight_sim::report::outcome_sentence(&report);
    assert!(
        sentence.contains("before any production traffic reached green"),
        "{sentence}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codedeploy_alarm_after_traffic_fails_after_allow_traffic_and_reroutes_production() {
    let report = rehearse("codedeploy-alarm-after-traffic").await;
    assert_eq!(report.rollback_stage.as_deref(), Some("AfterAllowTraffic"));
    assert_eq!(
        shifts(&report),
        [
            ("test", 100.0),
            ("production", 100.0),
            ("production", 0.0),
            ("test", 0.0)
        ]
    );
    let message = answers(
        &report,
        "CodeDeployHook_greenlight_AfterAllowTraffic",
        "AfterAllowTraffic",
    )
    .iter()
    .find_map(|event| match event {
        TimelineEvent::HookAnswered {
            status, message, ..
        } if status == "FAILED" => message.clone(),
        _ => None,
    })
    .expect("the AfterAllowTraffic hook reported Failed");
    assert!(message.contains("web-5xx"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codedeploy_unhealthy_green_fails_after_install_before_any_traffic_moves() {
    let report = rehearse("codedeploy-unhealthy-green").await;
    assert!(shifts(&report).is_empty(), "{}", describe(&report));
    assert_eq!(
        codedeploy_reports(&report),
        [("BeforeInstall", "SUCCEEDED"), ("AfterInstall", "FAILED")],
        "{}",
        describe(&report)
    );
}

#[test]
fn every_scenario_in_the_library_parses() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).expect("the scenario library") {
        let path = entry.expect("an entry").path();
        if path.extension().is_some_and(|ext| ext == "yaml") {
            Scenario::load(&path).unwrap_or_else(|error| panic!("{error}"));
            count += 1;
        }
    }
    assert!(count >= 10, "{count} scenarios");
}

#[test]
fn the_examples_in_the_docs_parse() {
    let docs =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/scenarios.md"))
            .expect("docs/scenarios.md");
    let blocks: Vec<&str> = docs
        .split("```yaml\n")
        .skip(1)
        .filter_map(|rest| rest.split("```").next())
        .collect();
    // Whole scenarios start with their name; the rest are snippets of one section.
    let scenarios: Vec<Scenario> = blocks
        .iter()
        .filter(|block| block.starts_with("name:"))
        .map(|block| {
            Scenario::parse(block, "docs/scenarios.md").unwrap_or_else(|error| panic!("{error}"))
        })
        .collect();
    let names: Vec<&str> = scenarios.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["alarm-fires-during-canary", "codedeploy-bad"]);
    assert_eq!(scenarios[0].deployment.lifecycle_hooks.len(), 4);
    assert_eq!(scenarios[1].deployment.appspec_hooks().len(), 5);
    // The team functions snippet is a valid `functions:` section.
    let snippet = blocks
        .iter()
        .find(|block| block.starts_with("functions:"))
        .expect("the team functions snippet");
    let functions: Vec<greenlight_sim::scenario::functions::FunctionSpec> =
        serde_saphyr::from_str(snippet.trim_start_matches("functions:\n"))
            .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(functions[0].name, "greenlight-check-checkout-contract");
    assert_eq!(functions[0].timeout, std::time::Duration::from_secs(10));
}
