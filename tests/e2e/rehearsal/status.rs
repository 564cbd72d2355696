//! `greenlight status` against rehearsed worlds: after a real rehearsal (the function binaries
//! logging to the local CloudWatch Logs as Lambda does, ECS's record kept by the simulator), status
//! reads the deployment and its summary lines through the SDK and must tell the rehearsal's story:
//! the same answers in the same order, the same reason, code and evidence, and a picture drawn by
//! the same renderer.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use greenlight_cli::simulate::Color;
use greenlight_cli::status::{Clients, StatusArgs, present, read_report};
use greenlight_sim::report::{deciding_answer, deciding_check, html, outcome_sentence};
use greenlight_sim::scenario::{Afterwards, RehearsedWorld, RunOptions, Scenario, run};
use greenlight_sim::timeline::{SimReport, TimelineEvent};

fn scenario_path(name: &str) -> PathBuf {
    greenlight_test_support::repository(&format!("tests/scenarios/{name}.yaml"))
}

/// Rehearses `name`, then reads the world it left with `greenlight status`'s reader.
async fn rehearse_then_status(name: &str) -> (SimReport, SimReport) {
    crate::parts::require();
    let scenario = Scenario::load(&scenario_path(name)).expect("the scenario parses");
    let observed: Arc<Mutex<Option<Result<SimReport, String>>>> = Arc::default();
    let slot = Arc::clone(&observed);
    let afterwards = Afterwards(Arc::new(move |world: RehearsedWorld| {
        let slot = Arc::clone(&slot);
        Box::pin(async move {
            let config = greenlight_sim::local_aws::sdk_config_for(&world.endpoint_url);
            let args = StatusArgs {
                cluster: world.cluster.clone(),
                service: world.service.clone(),
                // The newest is found: ECS's, or for a CodeDeploy service its deployment
                // group's last attempted one.
                deployment: None,
                log_groups: Vec::new(),
                json: None,
                html: None,
                color: Color::Never,
            };
            let clients = Clients {
                ecs: aws_sdk_ecs::Client::new(&config),
                codedeploy: aws_sdk_codedeploy::Client::new(&config),
                logs: aws_sdk_cloudwatchlogs::Client::new(&config),
            };
            let report = read_report(&clients, &args)
                .await
                .map_err(|error| error.to_string());
            *slot.lock().expect("the slot") = Some(report);
        })
    }));
    let options = RunOptions {
        afterwards: Some(afterwards),
        ..RunOptions::default()
    };
    let rehearsal = run(&scenario, &options)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    let status = observed
        .lock()
        .expect("the slot")
        .take()
        .expect("status ran on the rehearsed world")
        .unwrap_or_else(|error| panic!("status could not read the rehearsed world: {error}"));
    (rehearsal, status)
}

/// Each answer as `(stage, verdict, reason)`, in order.
fn answers(report: &SimReport) -> Vec<(String, String, String)> {
    report
        .timeline
        .events()
        .iter()
        .filter_map(|timed| match &timed.event {
            TimelineEvent::HookAnswered {
                stage,
                status,
                reason,
                ..
            } => Some((
                stage.clone(),
                status.clone(),
                reason.clone().unwrap_or_default(),
            )),
            _ => None,
        })
        .collect()
}

/// The sentence's reason: what follows "because … answered FAILED with" (the function is named
/// as the rehearsal calls it, `test-traffic`, and as Lambda does, `greenlight-test-traffic`).
fn because(report: &SimReport) -> String {
    let sentence = outcome_sentence(report);
    sentence
        .split_once(" because ")
        .and_then(|(_, why)| why.split_once(" with "))
        .map(|(_, why)| why.to_owned())
        .unwrap_or(sentence)
}

/// The sentence's "before any production traffic reached green" or "after green had taken up to
/// N% of production traffic".
fn exposure(report: &SimReport) -> Option<String> {
    let sentence = outcome_sentence(report);
    let (_, after) = sentence.split_once("), ")?;
    let (exposure, _) = after.split_once(", because")?;
    Some(exposure.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_after_a_rolled_back_rehearsal_tells_the_same_reason_code_and_evidence() {
    let (rehearsal, status) = rehearse_then_status("green-5xx-on-test-traffic").await;
    assert_eq!(rehearsal.final_status, "ROLLBACK_SUCCESSFUL");
    assert_eq!(status.final_status, rehearsal.final_status);
    assert_eq!(status.rollback_stage, rehearsal.rollback_stage);
    assert_eq!(answers(&status), answers(&rehearsal));

    let deciding = |report: &SimReport| match deciding_answer(&report.timeline) {
        Some(TimelineEvent::HookAnswered { reason, checks, .. }) => {
            (reason.clone(), deciding_check(checks).cloned())
        }
        other => panic!("no deciding answer: {other:?}"),
    };
    let (status_reason, status_check) = deciding(&status);
    let (rehearsal_reason, rehearsal_check) = deciding(&rehearsal);
    assert_eq!(status_reason, rehearsal_reason);
    let (status_check, rehearsal_check) = (status_check.unwrap(), rehearsal_check.unwrap());
    assert_eq!(status_check.code, rehearsal_check.code);
    assert_eq!(status_check.message, rehearsal_check.message);
    assert_eq!(status_check.evidence, rehearsal_check.evidence);
    assert_eq!(because(&status), because(&rehearsal));
    // Green's exposure when it stopped, from the weights each hook event stated.
    assert_eq!(exposure(&status), exposure(&rehearsal));
    assert!(
        exposure(&rehearsal).is_some(),
        "{}",
        outcome_sentence(&rehearsal)
    );

    // One renderer: the command prints the same deciding check and evidence, and its HTML page
    // draws the same stages and codes as the rehearsal's.
    let dir = std::env::temp_dir().join(format!("greenlight-status-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let args = StatusArgs {
        cluster: "unused".into(),
        service: "unused".into(),
        deployment: None,
        log_groups: Vec::new(),
        json: Some(dir.join("status.json")),
        html: Some(dir.join("status.html")),
        color: Color::Never,
    };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let exit = present(&status, &args, &mut out, &mut err).unwrap();
    assert_eq!(
        exit,
        greenlight_cli::Exit::Success,
        "{}",
        String::from_utf8_lossy(&err)
    );
    let printed = String::from_utf8(out).unwrap();
    assert!(printed.starts_with("Deployment: "), "{printed}");
    assert!(printed.contains(&rehearsal_check.code), "{printed}");
    assert!(printed.contains(&because(&rehearsal)), "{printed}");
    let written: SimReport =
        serde_json::from_str(&std::fs::read_to_string(dir.join("status.json")).unwrap()).unwrap();
    assert_eq!(written.final_status, status.final_status);
    let status_html = std::fs::read_to_string(dir.join("status.html")).unwrap();
    let rehearsal_html = html::render(&rehearsal);
    let _ = std::fs::remove_dir_all(&dir);
    for (stage, _, reason) in answers(&rehearsal) {
        assert!(
            status_html.contains(&stage),
            "{stage} missing from the status picture"
        );
        assert!(
            status_html.contains(&reason) == rehearsal_html.contains(&reason),
            "{reason}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_after_a_good_rehearsal_shows_every_stage_passed() {
    let (rehearsal, status) = rehearse_then_status("good-blue-green").await;
    assert_eq!(status.final_status, "SUCCESSFUL");
    assert_eq!(status.rollback_stage, None);
    assert_eq!(answers(&status), answers(&rehearsal));
    assert!(outcome_sentence(&status).starts_with("SUCCESSFUL: every stage passed its checks"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_after_a_rolled_back_codedeploy_rehearsal_tells_the_same_story() {
    let (rehearsal, status) = rehearse_then_status("codedeploy-bad").await;
    assert_eq!(status.final_status, rehearsal.final_status);
    assert_eq!(answers(&status), answers(&rehearsal));
    assert_eq!(status.rollback_stage, rehearsal.rollback_stage);
    assert_eq!(because(&status), because(&rehearsal));
}
