//! Reports built by hand, shaped like the runner's, for the renderers' tests.

use std::time::Duration;

use serde_json::json;

use crate::timeline::{CheckLine, ExpectationResult, SimReport, Subject, Timeline, TimelineEvent};

fn ms(value: u64) -> Duration {
    Duration::from_millis(value)
}

fn stage(timeline: &mut Timeline, at: u64, stage: &str, production: (f64, f64), test: (f64, f64)) {
    timeline.record(
        ms(at),
        TimelineEvent::StageStarted {
            stage: stage.into(),
            step: None,
            production_weights: Some(production),
            test_weights: Some(test),
        },
    );
}

#[allow(clippy::too_many_arguments)]
fn answer(
    timeline: &mut Timeline,
    at: u64,
    stage: &str,
    function: &str,
    attempt: u32,
    status: &str,
    reason: &str,
    checks: Vec<CheckLine>,
) {
    timeline.record(
        ms(at),
        TimelineEvent::HookInvoked {
            stage: stage.into(),
            function: function.into(),
            attempt,
            payload: json!({"lifecycleStage": stage}),
        },
    );
    timeline.record(
        ms(at + 150),
        TimelineEvent::HookAnswered {
            stage: stage.into(),
            function: function.into(),
            attempt,
            status: status.into(),
            call_back_delay: (status == "IN_PROGRESS").then_some(5),
            reason: Some(reason.into()),
            message: Some(format!("{reason} at {stage}")),
            checks,
            latency: ms(150),
            cold: attempt == 1,
            raw_response: json!({"hookStatus": status}),
        },
    );
}

fn check(id: &str, status: &str, disposition: &str, code: &str, message: &str) -> CheckLine {
    CheckLine {
        id: id.into(),
        status: status.into(),
        disposition: disposition.into(),
        code: code.into(),
        message: message.into(),
        evidence: json!([]),
    }
}

fn report(name: &str, timeline: Timeline, status: &str, rollback: Option<&str>) -> SimReport {
    SimReport {
        origin: Default::default(),
        scenario: name.into(),
        description: "The sample service deploys a new version.".into(),
        strategy: "BLUE_GREEN".into(),
        subject: Subject {
            service: "demo/web".into(),
            blue: "web:1.0".into(),
            green: "web:1.1".into(),
        },
        timeline,
        expectations: vec![ExpectationResult {
            what: "final status".into(),
            expected: status.into(),
            actual: status.into(),
            met: true,
        }],
        calls_by_stage: [(
            "POST_SCALE_UP".to_owned(),
            [("ecs:DescribeServiceDeployments".to_owned(), 2)].into(),
        )]
        .into(),
        final_status: status.into(),
        rollback_stage: rollback.map(str::to_owned),
        duration: ms(9_000),
        function_logs: Vec::new(),
    }
}

/// A blue/green deployment where every stage passes; POST_SCALE_UP waits once.
pub fn good() -> SimReport {
    let mut timeline = Timeline::new("good", "BLUE_GREEN");
    stage(&mut timeline, 0, "PRE_SCALE_UP", (0.0, 100.0), (0.0, 100.0));
    answer(
        &mut timeline,
        10,
        "PRE_SCALE_UP",
        "pre-scale-up",
        1,
        "SUCCEEDED",
        "VERDICT_PASSED",
        vec![check(
            "image",
            "pass",
            "pass",
            "IMAGE_VERIFIED",
            "green's image is pinned and scanned",
        )],
    );
    stage(
        &mut timeline,
        400,
        "POST_SCALE_UP",
        (0.0, 100.0),
        (0.0, 100.0),
    );
    answer(
        &mut timeline,
        410,
        "POST_SCALE_UP",
        "post-scale-up",
        1,
        "IN_PROGRESS",
        "VERDICT_WAITING",
        vec![check(
            "target_health",
            "inconclusive",
            "wait",
            "TARGET_INITIAL",
            "1 of 2 green targets still in initial health checks",
        )],
    );
    answer(
        &mut timeline,
        1_500,
        "POST_SCALE_UP",
        "post-scale-up",
        2,
        "SUCCEEDED",
        "VERDICT_PASSED",
        vec![check(
            "target_health",
            "pass",
            "pass",
            "TARGET_HEALTHY",
            "2 of 2 green targets healthy",
        )],
    );
    stage(
        &mut timeline,
        2_000,
        "TEST_TRAFFIC_SHIFT",
        (0.0, 100.0),
        (0.0, 100.0),
    );
    timeline.record(
        ms(2_010),
        TimelineEvent::TrafficShifted {
            listener: "test".into(),
            green: 100.0,
            blue: 0.0,
        },
    );
    answer(
        &mut timeline,
        2_020,
        "TEST_TRAFFIC_SHIFT",
        "test-traffic",
        1,
        "SUCCEEDED",
        "VERDICT_PASSED",
        vec![],
    );
    stage(
        &mut timeline,
        3_000,
        "PRODUCTION_TRAFFIC_SHIFT",
        (0.0, 100.0),
        (100.0, 0.0),
    );
    timeline.record(
        ms(3_010),
        TimelineEvent::TrafficShifted {
            listener: "production".into(),
            green: 100.0,
            blue: 0.0,
        },
    );
    answer(
        &mut timeline,
        3_020,
        "PRODUCTION_TRAFFIC_SHIFT",
        "production-traffic",
        1,
        "SUCCEEDED",
        "VERDICT_PASSED",
        vec![],
    );
    timeline.record(
        ms(4_000),
        TimelineEvent::DeploymentFinished {
            status: "SUCCESSFUL".into(),
        },
    );
    timeline.finish("SUCCESSFUL");
    report("good", timeline, "SUCCESSFUL", None)
}

/// A blue/green deployment whose green answers 5xx to test traffic: stopped at
/// POST_TEST_TRAFFIC_SHIFT and rolled back, production untouched.
pub fn bad_test_traffic() -> SimReport {
    let mut timeline = Timeline::new("bad", "BLUE_GREEN");
    stage(
        &mut timeline,
        0,
        "POST_SCALE_UP",
        (0.0, 100.0),
        (0.0, 100.0),
    );
    answer(
        &mut timeline,
        10,
        "POST_SCALE_UP",
        "post-scale-up",
        1,
        "SUCCEEDED",
        "VERDICT_PASSED",
        vec![],
    );
    stage(
        &mut timeline,
        1_000,
        "TEST_TRAFFIC_SHIFT",
        (0.0, 100.0),
        (0.0, 100.0),
    );
    timeline.record(
        ms(1_010),
        TimelineEvent::TrafficShifted {
            listener: "test".into(),
            green: 100.0,
            blue: 0.0,
        },
    );
    stage(
        &mut timeline,
        2_000,
        "POST_TEST_TRAFFIC_SHIFT",
        (0.0, 100.0),
        (100.0, 0.0),
    );
    let mut http = check(
        "http",
        "fail",
        "fail",
        "HTTP_ERROR_RATE",
        "9 of 20 requests to http://127.0.0.1:8081/health answered 5xx (45%), above the allowed 1%",
    );
    http.evidence = json!([
        {"measured": "5xx share", "value": 0.45, "threshold": "<= 0.01", "samples": 20,
         "resource": "http://127.0.0.1:8081/health"},
        {"measured": "status 503", "value": 9}
    ]);
    answer(
        &mut timeline,
        2_010,
        "POST_TEST_TRAFFIC_SHIFT",
        "test-traffic",
        1,
        "FAILED",
        "HTTP_ERROR_RATE",
        vec![
            http,
            check(
                "alarms",
                "pass",
                "cancelled",
                "CHECK_CANCELLED",
                "stopped: another enforcing check had already failed the stage",
            ),
        ],
    );
    timeline.record(
        ms(2_300),
        TimelineEvent::RollbackStarted {
            stage: "POST_TEST_TRAFFIC_SHIFT".into(),
            reason: "hook test-traffic answered FAILED".into(),
        },
    );
    timeline.record(
        ms(2_310),
        TimelineEvent::TrafficShifted {
            listener: "test".into(),
            green: 0.0,
            blue: 100.0,
        },
    );
    answer(
        &mut timeline,
        2_400,
        "TEST_TRAFFIC_SHIFT",
        "test-traffic",
        1,
        "SUCCEEDED",
        "VERDICT_ROLLBACK",
        vec![],
    );
    timeline.record(ms(2_600), TimelineEvent::Note("green tasks stopped".into()));
    timeline.record(
        ms(2_700),
        TimelineEvent::DeploymentFinished {
            status: "ROLLBACK_SUCCESSFUL".into(),
        },
    );
    timeline.finish("ROLLBACK_SUCCESSFUL");
    report(
        "bad",
        timeline,
        "ROLLBACK_SUCCESSFUL",
        Some("POST_TEST_TRAFFIC_SHIFT"),
    )
}

/// A CodeDeploy deployment whose green answers 5xx to test traffic: the AfterAllowTestTraffic
/// hook reports Failed, CodeDeploy moves the test listener back and the deployment fails.
pub fn codedeploy_bad_test_traffic() -> SimReport {
    let mut timeline = Timeline::new("codedeploy-bad", "CODE_DEPLOY");
    stage(
        &mut timeline,
        0,
        "AllowTestTraffic",
        (0.0, 100.0),
        (0.0, 100.0),
    );
    timeline.record(
        ms(10),
        TimelineEvent::TrafficShifted {
            listener: "test".into(),
            green: 100.0,
            blue: 0.0,
        },
    );
    stage(
        &mut timeline,
        20,
        "AfterAllowTestTraffic",
        (0.0, 100.0),
        (100.0, 0.0),
    );
    answer(
        &mut timeline,
        1_400,
        "AfterAllowTestTraffic",
        "CodeDeployHook_greenlight_AfterAllowTestTraffic",
        1,
        "FAILED",
        "HTTP_ERROR_RATE",
        vec![check(
            "http",
            "fail",
            "fail",
            "HTTP_ERROR_RATE",
            "7 of 20 requests to http://127.0.0.1:8081/ answered 5xx (35%), above the allowed 5%",
        )],
    );
    timeline.record(
        ms(1_600),
        TimelineEvent::RollbackStarted {
            stage: "AfterAllowTestTraffic".into(),
            reason: "AfterAllowTestTraffic hook reported Failed (HTTP_ERROR_RATE)".into(),
        },
    );
    timeline.record(
        ms(1_610),
        TimelineEvent::TrafficShifted {
            listener: "test".into(),
            green: 0.0,
            blue: 100.0,
        },
    );
    timeline.record(
        ms(1_700),
        TimelineEvent::DeploymentFinished {
            status: "Failed".into(),
        },
    );
    timeline.finish("Failed");
    let mut report = report(
        "codedeploy-bad",
        timeline,
        "Failed",
        Some("AfterAllowTestTraffic"),
    );
    report.strategy = "CODE_DEPLOY".into();
    report
}
