//! `greenlight approve` and `greenlight reject` against a rehearsed deployment held by an ECS PAUSE
//! hook after greenlight's test-traffic checks: the operator waits until ECS lists the hook
//! AWAITING_ACTION (as `ecspresso wait --until paused` does), reads greenlight's evidence, and
//! answers through `ContinueServiceDeployment`; the rehearsal's ECS carries the answer out.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_ecs::types::{DeploymentLifecycleHookStatus, DeploymentLifecycleHookTargetType};
use greenlight_cli::Exit;
use greenlight_cli::decide::{DecideArgs, Decision, answer};
use greenlight_cli::simulate::Color;
use greenlight_cli::status::Clients;
use greenlight_sim::scenario::{Afterwards, RehearsedWorld, RunOptions, Scenario, run};
use greenlight_sim::timeline::{SimReport, TimelineEvent};

/// What one `approve`/`reject` printed: (exit, stdout, stderr).
type Answered = (Exit, String, String);

fn args(world: &RehearsedWorld) -> DecideArgs {
    DecideArgs {
        cluster: world.cluster.clone(),
        service: world.service.clone(),
        deployment: None,
        hook: None,
        log_groups: Vec::new(),
        force: false,
        color: Color::Never,
    }
}

fn clients(world: &RehearsedWorld) -> Clients {
    let config = greenlight_sim::local_aws::sdk_config_for(&world.endpoint_url);
    Clients {
        ecs: aws_sdk_ecs::Client::new(&config),
        codedeploy: aws_sdk_codedeploy::Client::new(&config),
        logs: aws_sdk_cloudwatchlogs::Client::new(&config),
    }
}

/// Waits until ECS lists a PAUSE hook of `world`'s deployment awaiting action.
async fn until_paused(world: &RehearsedWorld, ecs: &aws_sdk_ecs::Client) {
    for _ in 0..300 {
        let described = ecs
            .describe_service_deployments()
            .service_deployment_arns(&world.deployment)
            .send()
            .await
            .expect("DescribeServiceDeployments");
        let paused = described.service_deployments().iter().any(|deployment| {
            deployment.lifecycle_hook_details().iter().any(|hook| {
                hook.target_type() == Some(&DeploymentLifecycleHookTargetType::Pause)
                    && hook.status() == Some(&DeploymentLifecycleHookStatus::AwaitingAction)
            })
        });
        if paused {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the deployment never paused");
}

/// Rehearses the library's PAUSE scenario; while it waits, answers `decision`; afterwards,
/// answers `decision` again, when nothing is paused any more.
async fn rehearse_answering(decision: Decision) -> (SimReport, Answered, Answered) {
    crate::parts::require();
    let scenario = Scenario::load(&greenlight_test_support::repository(
        "tests/scenarios/pause-after-test-traffic.yaml",
    ))
    .expect("the scenario parses");
    let during_slot: Arc<Mutex<Option<Answered>>> = Arc::default();
    let after_slot: Arc<Mutex<Option<Answered>>> = Arc::default();
    let slot = Arc::clone(&during_slot);
    let during = Afterwards(Arc::new(move |world: RehearsedWorld| {
        let slot = Arc::clone(&slot);
        Box::pin(async move {
            let clients = clients(&world);
            until_paused(&world, &clients.ecs).await;
            let (mut out, mut err) = (Vec::new(), Vec::new());
            let exit = answer(&clients, &args(&world), decision, &mut out, &mut err)
                .await
                .expect("writes to memory");
            *slot.lock().expect("the slot") = Some((
                exit,
                String::from_utf8_lossy(&out).into_owned(),
                String::from_utf8_lossy(&err).into_owned(),
            ));
        })
    }));
    let slot = Arc::clone(&after_slot);
    let afterwards = Afterwards(Arc::new(move |world: RehearsedWorld| {
        let slot = Arc::clone(&slot);
        Box::pin(async move {
            let (mut out, mut err) = (Vec::new(), Vec::new());
            let exit = answer(
                &clients(&world),
                &args(&world),
                decision,
                &mut out,
                &mut err,
            )
            .await
            .expect("writes to memory");
            *slot.lock().expect("the slot") = Some((
                exit,
                String::from_utf8_lossy(&out).into_owned(),
                String::from_utf8_lossy(&err).into_owned(),
            ));
        })
    }));
    let options = RunOptions {
        during: Some(during),
        afterwards: Some(afterwards),
        ..RunOptions::default()
    };
    let report = run(&scenario, &options)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    let take = |slot: &Arc<Mutex<Option<Answered>>>| {
        slot.lock()
            .expect("the slot")
            .take()
            .expect("the operator answered")
    };
    (report, take(&during_slot), take(&after_slot))
}

fn notes(report: &SimReport) -> Vec<String> {
    report
        .timeline
        .events()
        .iter()
        .filter_map(|timed| match &timed.event {
            TimelineEvent::Note(text) => Some(text.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_shows_greenlights_evidence_then_continues_the_paused_deployment() {
    let (report, (exit, out, err), (after, _, after_err)) =
        rehearse_answering(Decision::Approve).await;
    assert_eq!(exit, Exit::Success, "{out}\n{err}");
    // greenlight's evidence first: the test-traffic hook's passing answers, then the answer.
    let evidence = out
        .find("test-traffic")
        .expect("the evidence names the hook");
    let approved = out
        .find("approved: ECS continues")
        .expect("says what it did");
    assert!(evidence < approved, "{out}");
    assert!(out.contains("VERDICT_PASSED"), "{out}");
    assert!(
        out.contains("IN_PROGRESS: the deployment is still under way"),
        "{out}"
    );
    assert!(
        out.contains("POST_TEST_TRAFFIC_SHIFT (PAUSE hook ecs-pause-"),
        "{out}"
    );
    // The scenario's hook would roll back at its timeout: SUCCESSFUL is the approval's doing.
    assert_eq!(report.final_status, "SUCCESSFUL", "{:?}", notes(&report));
    assert!(
        notes(&report)
            .iter()
            .any(|note| note.contains("ContinueServiceDeployment CONTINUE")),
        "{:?}",
        notes(&report)
    );
    // Once the deployment has ended there is nothing to answer, and nothing is sent.
    assert_eq!(after, Exit::Failure);
    assert!(after_err.contains("is in progress"), "{after_err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reject_rolls_the_paused_deployment_back_before_production_moves() {
    let (report, (exit, out, err), _) = rehearse_answering(Decision::Reject).await;
    assert_eq!(exit, Exit::Success, "{out}\n{err}");
    assert!(out.contains("rejected: ECS rolls back"), "{out}");
    assert_eq!(report.final_status, "ROLLBACK_SUCCESSFUL");
    assert_eq!(
        report.rollback_stage.as_deref(),
        Some("POST_TEST_TRAFFIC_SHIFT")
    );
    assert!(
        notes(&report)
            .iter()
            .any(|note| note.contains("ContinueServiceDeployment ROLLBACK")),
        "{:?}",
        notes(&report)
    );
    // Production never reached green.
    assert!(!report.timeline.events().iter().any(|timed| matches!(
        &timed.event,
        TimelineEvent::TrafficShifted { listener, green, .. } if listener == "production" && *green > 0.0
    )));
}
