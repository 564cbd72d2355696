//! The `codedeploy-hook` binary as a real Lambda behind the local Runtime API, reporting to a local
//! CodeDeploy (the `CodeDeploySim` supplement): exactly one report on every path, a clear invocation
//! error when there is nothing to report to or the report is denied, and a report before the deadline
//! when AWS throttles every read.

use std::time::Duration;

use greenlight_sim::AwsEndpoint;
use greenlight_sim::codedeploy::CodeDeploySim;
use greenlight_sim::lambda_host::{FunctionSpec, InvocationResult, LambdaHost};
use serde_json::{Value, json};

/// Nothing listens here: calls the supplement does not answer fail at once.
const NO_MOTO: &str = "http://127.0.0.1:9";
const TOKEN: &str = "eyJlbmNyeXB0ZWREYXRhIjoiYWJjIn0=";

async fn start(sim: &CodeDeploySim, hook: &str, timeout: Duration) -> (AwsEndpoint, LambdaHost) {
    let endpoint = AwsEndpoint::builder(NO_MOTO)
        .supplement(sim.clone())
        .start()
        .await
        .expect("endpoint");
    let binary = crate::parts::function_binary("codedeploy-hook");
    let mut spec = FunctionSpec::new(binary, format!("CodeDeployHook_greenlight_{hook}"));
    spec.timeout = timeout;
    spec.env = vec![
        (
            "AWS_ENDPOINT_URL".into(),
            endpoint.endpoint_url().to_owned(),
        ),
        ("AWS_ACCESS_KEY_ID".into(), "test".into()),
        ("AWS_SECRET_ACCESS_KEY".into(), "test".into()),
        ("AWS_MAX_ATTEMPTS".into(), "1".into()),
        ("AWS_LAMBDA_LOG_FORMAT".into(), "JSON".into()),
        ("GREENLIGHT_HOOK".into(), hook.into()),
    ];
    (
        endpoint,
        LambdaHost::start(spec).await.expect("lambda host"),
    )
}

fn event() -> Value {
    json!({ "DeploymentId": "d-ABCDEF123", "LifecycleEventHookExecutionId": TOKEN })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_malformed_event_is_a_clear_invocation_error_and_reports_nothing() {
    let sim = CodeDeploySim::new();
    let (_endpoint, host) = start(&sim, "AfterAllowTraffic", Duration::from_secs(30)).await;
    let invocation = host
        .invoke(&json!({ "DeploymentId": "d-ABCDEF123" }))
        .await
        .expect("invoke");
    match invocation.result {
        InvocationResult::Error { message, .. } => {
            assert!(
                message.contains("LifecycleEventHookExecutionId"),
                "{message}"
            );
            assert!(message.contains("malformed"), "{message}");
        }
        other => panic!("expected an invocation error, got {other:?}"),
    }
    assert!(sim.reports().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wiring_mistake_is_reported_failed_exactly_once() {
    let sim = CodeDeploySim::new();
    let (_endpoint, host) = start(&sim, "ValidateService", Duration::from_secs(30)).await;
    let invocation = host.invoke(&event()).await.expect("invoke");
    let InvocationResult::Response(answer) = invocation.result else {
        panic!("expected an answer, got {:?}", invocation.result);
    };
    assert_eq!(answer["status"], "Failed", "{answer}");
    assert_eq!(answer["reason"], "EVENT_HOOK_UNKNOWN", "{answer}");
    let reports = sim.reports();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(
        (
            reports[0].deployment_id.as_str(),
            reports[0].execution_id.as_str(),
            reports[0].status.as_str()
        ),
        ("d-ABCDEF123", TOKEN, "Failed")
    );
    // Asked again (Lambda may retry), CodeDeploy says it is done; still one accepted report.
    let again = host.invoke(&event()).await.expect("invoke");
    let InvocationResult::Response(answer) = again.result else {
        panic!("expected an answer, got {:?}", again.result);
    };
    assert_eq!(answer["already_completed"], true, "{answer}");
    assert_eq!(sim.reports().iter().filter(|r| r.accepted).count(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_denied_report_fails_the_invocation_naming_the_permission() {
    let sim = CodeDeploySim::new();
    sim.deny_reports(true);
    let (_endpoint, host) = start(&sim, "ValidateService", Duration::from_secs(30)).await;
    let invocation = host.invoke(&event()).await.expect("invoke");
    match invocation.result {
        InvocationResult::Error { message, .. } => assert!(
            message.contains("codedeploy:PutLifecycleEventHookExecutionStatus"),
            "{message}"
        ),
        other => panic!("expected an invocation error, got {other:?}"),
    }
    assert_eq!(sim.reports().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn throttled_throughout_reports_failed_once_before_the_deadline() {
    let sim = CodeDeploySim::new();
    sim.throttle_reads(true);
    let (_endpoint, host) = start(&sim, "AfterAllowTraffic", Duration::from_secs(30)).await;
    let invocation = host.invoke(&event()).await.expect("invoke");
    let InvocationResult::Response(answer) = invocation.result else {
        panic!(
            "expected an answer before the deadline, got {:?}",
            invocation.result
        );
    };
    assert_eq!(answer["status"], "Failed", "{answer}");
    assert_eq!(answer["reason"], "AWS_THROTTLED", "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .unwrap_or_default()
            .contains("codedeploy:GetDeployment"),
        "{answer}"
    );
    let reports = sim.reports();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0].status, "Failed");
}

// ----- End to end against moto: the CodeDeploy driver plays the deployment -----

mod against_moto {
    use std::collections::BTreeMap;
    use std::path::PathBuf;
    use std::sync::Arc;
    use std::time::Duration;

    use greenlight_sim::AwsEndpoint;
    use greenlight_sim::LocalAws;
    use greenlight_sim::app::{AppBehaviour, SampleApp};
    use greenlight_sim::codedeploy::CodeDeploySim;
    use greenlight_sim::driver::codedeploy::{
        CodeDeployDriver, CodeDeployResult, CodeDeployRun, LambdaHooks, LifecycleEvent,
    };
    use greenlight_sim::iam::{EngineRole, Iam};
    use greenlight_sim::lambda_host::{FunctionSpec, LambdaHost};
    use greenlight_sim::lb::LoadBalancerPlane;
    use greenlight_sim::scenario::format::HealthCheckSpec;
    use greenlight_sim::stack::codedeploy::{CodeDeployStack, CodeDeployStackSpec};
    use greenlight_sim::timeline::TimelineEvent;
    use greenlight_sim::world::{TargetHealthOverride, TaskDigestSupplement, TaskDigests, World};

    const HOOKS: [&str; 5] = [
        "BeforeInstall",
        "AfterInstall",
        "AfterAllowTestTraffic",
        "BeforeAllowTraffic",
        "AfterAllowTraffic",
    ];

    /// Short waits so each judgement ends in seconds; every hook has a plan.
    fn config(bake: &str) -> String {
        format!(
            "version: 1
defaults:
  interval: 1s
  max_wait: 3s
  timeout: 5s
  on_exhausted: fail
stages:
  PRE_SCALE_UP:
    - image
  POST_SCALE_UP:
    - tasks: {{ min_running_percent: 100 }}
    - target_health: {{ group: green }}
  POST_TEST_TRAFFIC_SHIFT:
    - http: {{ target: test_listener, path: /, requests: 20 }}
  PRE_PRODUCTION_TRAFFIC_SHIFT:
    - alarms: {{ include_deployment_alarms: true }}
  POST_PRODUCTION_TRAFFIC_SHIFT:
    bake: {bake}
    checks:
      - alarms: {{ include_deployment_alarms: true }}
"
        )
    }

    /// Everything one rehearsed CodeDeploy deployment needs, kept alive for the test.
    struct Rehearsal {
        _aws: LocalAws,
        world: World,
        plane: LoadBalancerPlane,
        sim: CodeDeploySim,
        _endpoint: AwsEndpoint,
        stack: CodeDeployStack,
        hooks: LambdaHooks,
        _blue: SampleApp,
        green: SampleApp,
        config_path: PathBuf,
    }

    impl Drop for Rehearsal {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.config_path);
        }
    }

    async fn rehearsal(name: &str, green_image: &str, bake: &str, timeout: Duration) -> Rehearsal {
        // IAM enforced as in every rehearsal: the template's hook role, CodeDeploy's limited role.
        let world = World::new();
        let iam = Iam::rehearsal().expect("the bundled IAM data");
        assert!(world.enforce_iam(iam.clone()).is_ok());
        let aws = crate::parts::local_aws().await;
        let plane = LoadBalancerPlane::new(aws.moto().endpoint_url(), &world);
        let sim = CodeDeploySim::new();
        let hook_names: BTreeMap<String, String> = HOOKS
            .iter()
            .map(|hook| {
                (
                    (*hook).to_owned(),
                    format!("CodeDeployHook_greenlight_{hook}"),
                )
            })
            .collect();
        let spec = CodeDeployStackSpec {
            name: name.to_owned(),
            cluster: format!("{name}-cluster"),
            service: format!("{name}-web"),
            container: "web".to_owned(),
            desired_count: 2,
            port: 8080,
            blue_image: "public.ecr.aws/acme/web:1.0".to_owned(),
            green_image: green_image.to_owned(),
            alarms: vec![format!("{name}-5xx")],
            hooks: hook_names.clone(),
            health_check: HealthCheckSpec::default(),
        };
        let stack = CodeDeployStack::build(&aws, &plane, &sim, &spec)
            .await
            .unwrap_or_else(|error| panic!("{error}\n{}", aws.moto().stderr_tail()));
        iam.note_codedeploy_deployment(
            &stack.deployment_id,
            &stack.application,
            &stack.deployment_group,
        );
        let blue = SampleApp::start(AppBehaviour::version("blue"))
            .await
            .expect("blue app");
        let green = SampleApp::start(AppBehaviour::version("green"))
            .await
            .expect("green app");
        plane.set_backends(&stack.blue_target_group, vec![blue.addr()]);
        plane.set_backends(&stack.green_target_group, vec![green.addr()]);
        // moto's DescribeTasks has no digests; ECS reports the one each task resolved.
        let digests = Arc::new(TaskDigests::default());
        digests.set_definition(
            &stack.blue_task_definition,
            "web",
            &format!("sha256:{}", "b".repeat(64)),
        );
        digests.set_definition(
            &stack.green_task_definition,
            "web",
            &format!("sha256:{}", "9".repeat(64)),
        );
        // The functions' endpoint: the world's answers (faults first), then CodeDeploy's.
        let endpoint = AwsEndpoint::builder(aws.moto().endpoint_url())
            .supplements(world.supplements())
            .supplement(TaskDigestSupplement(digests))
            .supplement(sim.clone())
            .start()
            .await
            .expect("endpoint");
        let config_path =
            std::env::temp_dir().join(format!("greenlight-{name}-{}.yaml", std::process::id()));
        std::fs::write(&config_path, config(bake)).expect("config written");
        let hooks = LambdaHooks::new();
        hooks.invoke_as(EngineRole::codedeploy(&iam));
        let binary = crate::parts::function_binary("codedeploy-hook");
        for (event, function) in &hook_names {
            let mut spec = FunctionSpec::new(binary.clone(), function.clone());
            spec.timeout = timeout;
            spec.env = aws_env(endpoint.endpoint_url());
            let credentials = iam
                .credentials_for_function(function)
                .expect("a template role");
            spec.env
                .retain(|(key, _)| key != "AWS_ACCESS_KEY_ID" && key != "AWS_SECRET_ACCESS_KEY");
            spec.env.extend(credentials.env());
            spec.env.push(("GREENLIGHT_HOOK".into(), event.clone()));
            // Bundled with the function: its directory is the package (LAMBDA_TASK_ROOT).
            spec.env.push((
                "LAMBDA_TASK_ROOT".into(),
                config_path
                    .parent()
                    .expect("a directory")
                    .display()
                    .to_string(),
            ));
            spec.env.push((
                "GREENLIGHT_CONFIG".into(),
                config_path.display().to_string(),
            ));
            let host = LambdaHost::start(spec).await.expect("lambda host");
            hooks.add(function, Arc::new(host));
        }
        hooks.serve_invocations(&world);
        Rehearsal {
            _aws: aws,
            world,
            plane,
            sim,
            _endpoint: endpoint,
            stack,
            hooks,
            _blue: blue,
            green,
            config_path,
        }
    }

    fn aws_env(endpoint: &str) -> Vec<(String, String)> {
        vec![
            ("AWS_ENDPOINT_URL".into(), endpoint.to_owned()),
            ("AWS_REGION".into(), "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID".into(), "AKIDLOCALTEST".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), "local-test-secret".into()),
            ("AWS_MAX_ATTEMPTS".into(), "1".into()),
            ("AWS_LAMBDA_LOG_FORMAT".into(), "JSON".into()),
            ("GREENLIGHT_ALLOW_LOOPBACK".into(), "true".into()),
        ]
    }

    impl Rehearsal {
        fn driver(&self, scenario: &str) -> CodeDeployDriver<'_, LambdaHooks> {
            CodeDeployDriver::new(
                &self.stack,
                &self.sim,
                &self.plane,
                &self.hooks,
                CodeDeployRun {
                    scenario: scenario.to_owned(),
                    desired_count: 2,
                    port: 8080,
                    hook_limit: Duration::from_secs(90),
                    green_primary: Default::default(),
                },
            )
        }

        /// Exactly one accepted report per hook execution, and no report refused as a duplicate.
        fn assert_one_report_per_execution(&self) {
            let reports = self.sim.reports();
            let mut executions = std::collections::BTreeSet::new();
            for report in &reports {
                assert!(report.accepted, "a refused report: {reports:?}");
                assert!(
                    executions.insert(report.execution_id.clone()),
                    "two reports for one execution: {reports:?}"
                );
            }
        }

        fn deployment_status(&self) -> String {
            let deployment = self
                .sim
                .deployment(&self.stack.deployment_id)
                .expect("the deployment");
            deployment.info["status"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        }
    }

    fn report<'r>(result: &'r CodeDeployResult, hook: &str) -> (&'r str, Option<&'r str>) {
        let (status, reason) = result
            .reports
            .get(hook)
            .unwrap_or_else(|| panic!("no report for {hook}: {:?}", result.reports));
        (status.as_str(), reason.as_deref())
    }

    fn failure_of(result: &CodeDeployResult) -> String {
        format!(
            "{:?}: {:?}\n{:#?}",
            result.failed_event,
            result.failure,
            result.timeline.events()
        )
    }

    /// The deployment failed at `hook`, which reported Failed with ALARM_FIRING naming `alarm`.
    fn assert_failed_by_alarm(result: &CodeDeployResult, hook: &str, alarm: &str) {
        assert_eq!(
            result.failed_event.as_deref(),
            Some(hook),
            "{}",
            failure_of(result)
        );
        let (status, reason) = report(result, hook);
        assert_eq!(status, "Failed");
        assert!(
            reason.is_some_and(|code| code.starts_with("ALARM_FIRING")),
            "{reason:?}: {}",
            failure_of(result)
        );
        assert!(
            result
                .failure
                .as_deref()
                .unwrap_or_default()
                .contains(alarm),
            "the failure names the alarm: {:?}",
            result.failure
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_good_deployment_succeeds_at_every_hook() {
        let rehearsal = rehearsal(
            "cd-good",
            "public.ecr.aws/acme/web:2.0",
            "2s",
            Duration::from_secs(30),
        )
        .await;
        let result = rehearsal
            .driver("codedeploy-good")
            .run()
            .await
            .expect("played");
        assert_eq!(result.status, "Succeeded", "{}", failure_of(&result));
        for hook in HOOKS {
            assert_eq!(report(&result, hook).0, "Succeeded", "{hook}");
        }
        assert_eq!(report(&result, "AfterInstall").1, Some("VERDICT_PASSED"));
        rehearsal.assert_one_report_per_execution();
        assert_eq!(rehearsal.sim.reports().len(), HOOKS.len());
        assert_eq!(rehearsal.deployment_status(), "Succeeded");
        // Synthetic traffic reached green through the test listener.
        assert!(rehearsal.green.requests_served() >= 20);
        let shifts: Vec<&TimelineEvent> = result
            .timeline
            .events()
            .iter()
            .map(|event| &event.event)
            .filter(|event| matches!(event, TimelineEvent::TrafficShifted { .. }))
            .collect();
        assert_eq!(shifts.len(), 2, "test then production: {shifts:?}");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_green_image_missing_from_ecr_fails_before_install() {
        let rehearsal = rehearsal(
            "cd-image",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/cd-image-missing:2.0",
            "2s",
            Duration::from_secs(30),
        )
        .await;
        let result = rehearsal
            .driver("codedeploy-image")
            .run()
            .await
            .expect("played");
        assert_eq!(result.status, "Failed", "{}", failure_of(&result));
        assert_eq!(result.failed_event.as_deref(), Some("BeforeInstall"));
        let (status, reason) = report(&result, "BeforeInstall");
        assert_eq!(status, "Failed");
        assert!(
            reason.is_some_and(|code| code.starts_with("IMAGE_")),
            "{reason:?}: {}",
            failure_of(&result)
        );
        // Nothing was installed, so only the one hook ran.
        assert_eq!(rehearsal.sim.reports().len(), 1);
        assert!(rehearsal.stack.green_targets().is_empty());
        assert_eq!(rehearsal.deployment_status(), "Failed");
        rehearsal.assert_one_report_per_execution();
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn unhealthy_green_targets_fail_after_install() {
        let rehearsal = rehearsal(
            "cd-unhealthy",
            "public.ecr.aws/acme/web:2.0",
            "2s",
            Duration::from_secs(30),
        )
        .await;
        let world = rehearsal.world.clone();
        let result = rehearsal
            .driver("codedeploy-unhealthy")
            .on_event(Box::new(move |event, stack| {
                if event == LifecycleEvent::AfterInstall {
                    for ip in stack.green_targets() {
                        world.target_health().set(
                            &stack.green_target_group,
                            &ip,
                            None,
                            TargetHealthOverride::unhealthy_status("502"),
                        );
                    }
                }
                Box::pin(async { Ok(()) })
            }))
            .run()
            .await
            .expect("played");
        assert_eq!(
            result.failed_event.as_deref(),
            Some("AfterInstall"),
            "{}",
            failure_of(&result)
        );
        assert_eq!(
            report(&result, "AfterInstall"),
            ("Failed", Some("TARGET_UNHEALTHY")),
            "{}",
            failure_of(&result)
        );
        assert!(
            result
                .failure
                .as_deref()
                .unwrap_or_default()
                .contains("TARGET_UNHEALTHY"),
            "on-call sees why: {:?}",
            result.failure
        );
        assert_eq!(rehearsal.deployment_status(), "Failed");
        rehearsal.assert_one_report_per_execution();
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn failing_synthetic_traffic_fails_after_allow_test_traffic_and_rolls_back() {
        let rehearsal = rehearsal(
            "cd-http",
            "public.ecr.aws/acme/web:2.0",
            "2s",
            Duration::from_secs(30),
        )
        .await;
        let mut failing = AppBehaviour::version("green");
        failing.status_mix = vec![(500, 1)];
        rehearsal.green.set_behaviour(failing).expect("behaviour");
        let result = rehearsal
            .driver("codedeploy-http")
            .run()
            .await
            .expect("played");
        assert_eq!(
            result.failed_event.as_deref(),
            Some("AfterAllowTestTraffic"),
            "{}",
            failure_of(&result)
        );
        assert_eq!(
            report(&result, "AfterAllowTestTraffic"),
            ("Failed", Some("HTTP_ERROR_RATE")),
            "{}",
            failure_of(&result)
        );
        // The rollback moved the test listener back to blue; production never left it.
        let rolled_back = result.timeline.events().iter().any(|event| {
            matches!(
                &event.event,
                TimelineEvent::TrafficShifted { listener, green, .. } if listener == "test" && *green == 0.0
            )
        });
        assert!(rolled_back, "{}", failure_of(&result));
        assert!(result.timeline.rollback().is_some());
        rehearsal.assert_one_report_per_execution();
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_firing_alarm_fails_before_allow_traffic() {
        let rehearsal = rehearsal(
            "cd-alarm",
            "public.ecr.aws/acme/web:2.0",
            "2s",
            Duration::from_secs(30),
        )
        .await;
        rehearsal
            .stack
            .set_alarm_state("cd-alarm-5xx", "ALARM")
            .await
            .expect("alarm set");
        let result = rehearsal
            .driver("codedeploy-alarm")
            .run()
            .await
            .expect("played");
        assert_failed_by_alarm(&result, "BeforeAllowTraffic", "cd-alarm-5xx");
        rehearsal.assert_one_report_per_execution();
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn an_alarm_firing_once_production_is_on_green_fails_after_allow_traffic() {
        let rehearsal = rehearsal(
            "cd-late",
            "public.ecr.aws/acme/web:2.0",
            "2s",
            Duration::from_secs(30),
        )
        .await;
        let result = rehearsal
            .driver("codedeploy-late-alarm")
            .on_event(Box::new(|event, stack| {
                Box::pin(async move {
                    if event == LifecycleEvent::AllowTraffic {
                        stack.set_alarm_state("cd-late-5xx", "ALARM").await?;
                    }
                    Ok(())
                })
            }))
            .run()
            .await
            .expect("played");
        for hook in &HOOKS[..4] {
            assert_eq!(report(&result, hook).0, "Succeeded", "{hook}");
        }
        assert_failed_by_alarm(&result, "AfterAllowTraffic", "cd-late-5xx");
        // Production had moved to green; the rollback moved it, and the test listener, back.
        let events = result.timeline.events();
        let rollback = events
            .iter()
            .position(|event| matches!(event.event, TimelineEvent::RollbackStarted { .. }))
            .expect("a rollback");
        let moved_back: Vec<&str> = events[rollback..]
            .iter()
            .filter_map(|event| match &event.event {
                TimelineEvent::TrafficShifted {
                    listener, green, ..
                } if *green == 0.0 => Some(listener.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(
            moved_back,
            ["production", "test"],
            "{}",
            failure_of(&result)
        );
        assert_eq!(rehearsal.deployment_status(), "Failed");
        rehearsal.assert_one_report_per_execution();
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_long_bake_continues_in_another_invocation_and_reports_once() {
        // Judging stops 10 s before each 17 s deadline: a 10 s bake needs at least two invocations.
        let rehearsal = rehearsal(
            "cd-bake",
            "public.ecr.aws/acme/web:2.0",
            "10s",
            Duration::from_secs(17),
        )
        .await;
        let result = rehearsal
            .driver("codedeploy-bake")
            .run()
            .await
            .expect("played");
        assert_eq!(result.status, "Succeeded", "{}", failure_of(&result));
        let handoffs = result
            .timeline
            .events()
            .iter()
            .filter(|event| matches!(&event.event, TimelineEvent::Note(note) if note.contains("handed its bake")))
            .count();
        assert_eq!(
            handoffs,
            1,
            "the first invocation handed off: {}",
            failure_of(&result)
        );
        let after_allow_traffic: Vec<_> = rehearsal
            .sim
            .reports()
            .into_iter()
            .filter(|report| {
                result.timeline.events().iter().any(|event| matches!(
                    &event.event,
                    TimelineEvent::HookInvoked { stage, payload, .. }
                        if stage == "AfterAllowTraffic"
                            && payload["LifecycleEventHookExecutionId"] == report.execution_id.as_str()
                ))
            })
            .collect();
        assert_eq!(after_allow_traffic.len(), 1, "{after_allow_traffic:?}");
        assert_eq!(after_allow_traffic[0].status, "Succeeded");
        rehearsal.assert_one_report_per_execution();
    }
}
