//! `greenlight doctor` against rehearsed worlds before their first deployment: the world a
//! scenario builds (moto plus the simulator's IAM, ECS and CodeDeploy supplements), correct or
//! with one mis-wiring planted, read through the SDK as doctor reads a real account.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use greenlight_cli::Exit;
use greenlight_cli::doctor::{Checklist, Clients, DoctorArgs, Item, Status, examine, present};
use greenlight_sim::scenario::{
    Afterwards, NOT_DEPLOYED, RehearsedWorld, RunOptions, Scenario, run,
};

fn scenario(name: &str) -> Scenario {
    let path: PathBuf =
        greenlight_test_support::repository(&format!("tests/scenarios/{name}.yaml"));
    Scenario::load(&path).expect("the scenario parses")
}

/// A change made to the built world before doctor looks.
#[derive(Clone, Copy)]
enum Plant {
    Nothing,
    /// The test listener rule ECS names is deleted from the load balancer.
    DeleteTestListenerRule,
    /// The service names no test listener rule at all.
    NoTestListenerRule,
    /// The functions lack `GREENLIGHT_FUNCTION`, as a stack from before it would.
    FunctionsWithoutIdentity,
    /// The CodeDeploy AfterInstall hook's function is one of the ECS functions.
    EcsFunctionBehindAfterInstall,
    /// The AppSpec (given with `--appspec`) names a greenlight CodeDeploy function whose name
    /// lacks the `CodeDeployHook_` prefix.
    UnprefixedAppSpecHook,
}

/// The function [`Plant::UnprefixedAppSpecHook`] creates.
const UNPREFIXED: &str = "greenlight-after-install";

/// Builds `scenario`'s world without deploying, plants `plant`, and runs doctor on it.
async fn doctor_on(scenario: &Scenario, plant: Plant) -> Checklist {
    doctor_with(scenario, plant, None).await
}

/// [`doctor_on`], with `--config FILE`.
async fn doctor_with(scenario: &Scenario, plant: Plant, config: Option<PathBuf>) -> Checklist {
    crate::parts::require();
    let found: Arc<Mutex<Option<Checklist>>> = Arc::default();
    let slot = Arc::clone(&found);
    let afterwards = Afterwards(Arc::new(move |world: RehearsedWorld| {
        let slot = Arc::clone(&slot);
        let config = config.clone();
        Box::pin(async move {
            let file = config;
            let config = greenlight_sim::local_aws::sdk_config_for(&world.endpoint_url);
            let clients = Clients::new(&config);
            if let Plant::FunctionsWithoutIdentity = plant {
                let functions = clients
                    .lambda
                    .list_functions()
                    .send()
                    .await
                    .expect("the functions");
                for function in functions.functions() {
                    clients
                        .lambda
                        .update_function_configuration()
                        .function_name(function.function_name().expect("a name"))
                        .environment(
                            aws_sdk_lambda::types::Environment::builder()
                                .set_variables(Some(Default::default()))
                                .build(),
                        )
                        .send()
                        .await
                        .expect("updated");
                }
            }
            if let Plant::EcsFunctionBehindAfterInstall = plant {
                clients
                    .lambda
                    .update_function_configuration()
                    .function_name("CodeDeployHook_greenlight_AfterInstall")
                    .environment(
                        aws_sdk_lambda::types::Environment::builder()
                            .variables("GREENLIGHT_FUNCTION", "post-scale-up")
                            .build(),
                    )
                    .send()
                    .await
                    .expect("updated");
            }
            let mut appspec = None;
            if let Plant::UnprefixedAppSpecHook = plant {
                let role = clients
                    .lambda
                    .get_function_configuration()
                    .function_name("CodeDeployHook_greenlight_AfterInstall")
                    .send()
                    .await
                    .expect("the AfterInstall function")
                    .role
                    .expect("its role");
                // An empty zip (its end-of-central-directory record): moto keeps code, never runs it.
                let mut zip = b"PK\x05\x06".to_vec();
                zip.resize(22, 0);
                clients
                    .lambda
                    .create_function()
                    .function_name(UNPREFIXED)
                    .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
                    .handler("bootstrap")
                    .role(role)
                    .code(
                        aws_sdk_lambda::types::FunctionCode::builder()
                            .zip_file(aws_sdk_lambda::primitives::Blob::new(zip))
                            .build(),
                    )
                    .environment(
                        aws_sdk_lambda::types::Environment::builder()
                            .variables("GREENLIGHT_FUNCTION", "codedeploy-hook")
                            .build(),
                    )
                    .send()
                    .await
                    .expect("created");
                let path = std::env::temp_dir().join(format!(
                    "greenlight-doctor-appspec-{}.yaml",
                    std::process::id()
                ));
                std::fs::write(
                    &path,
                    format!(
                        "version: 0.0\nResources: []\nHooks:\n  - AfterInstall: {UNPREFIXED}\n"
                    ),
                )
                .expect("written");
                appspec = Some(path);
            }
            if let Plant::NoTestListenerRule = plant {
                let service = the_service(&clients, &world).await;
                let mut balancer = service.load_balancers()[0].clone();
                let advanced = balancer
                    .advanced_configuration
                    .take()
                    .expect("an advanced configuration");
                balancer.advanced_configuration = Some(
                    aws_sdk_ecs::types::AdvancedConfiguration::builder()
                        .set_alternate_target_group_arn(
                            advanced.alternate_target_group_arn().map(str::to_owned),
                        )
                        .set_production_listener_rule(
                            advanced.production_listener_rule().map(str::to_owned),
                        )
                        .set_role_arn(advanced.role_arn().map(str::to_owned))
                        .build(),
                );
                clients
                    .ecs
                    .update_service()
                    .cluster(&world.cluster)
                    .service(&world.service)
                    .load_balancers(balancer)
                    .send()
                    .await
                    .expect("updated");
            }
            if let Plant::DeleteTestListenerRule = plant {
                let service = the_service(&clients, &world).await;
                let rule = service.load_balancers()[0]
                    .advanced_configuration()
                    .and_then(|advanced| advanced.test_listener_rule())
                    .expect("a test listener rule")
                    .to_owned();
                clients
                    .elb
                    .delete_rule()
                    .rule_arn(&rule)
                    .send()
                    .await
                    .expect("the rule is deleted");
            }
            let args = DoctorArgs {
                cluster: world.cluster.clone(),
                service: world.service.clone(),
                config: file,
                appspec: appspec.clone(),
                ..doctor_args(false)
            };
            *slot.lock().expect("the slot") = Some(examine(&clients, &args).await);
            if let Some(path) = appspec {
                let _ = std::fs::remove_file(path);
            }
        })
    }));
    let options = RunOptions {
        afterwards: Some(afterwards),
        stop_before_deploying: true,
        ..RunOptions::default()
    };
    let report = run(scenario, &options)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(report.final_status, NOT_DEPLOYED, "nothing was deployed");
    found
        .lock()
        .expect("the slot")
        .take()
        .expect("doctor ran on the built world")
}

/// The service as ECS describes it.
async fn the_service(clients: &Clients, world: &RehearsedWorld) -> aws_sdk_ecs::types::Service {
    clients
        .ecs
        .describe_services()
        .cluster(&world.cluster)
        .services(&world.service)
        .send()
        .await
        .expect("the service")
        .services()[0]
        .clone()
}

/// Doctor's arguments for the rehearsal's service.
fn doctor_args(json: bool) -> DoctorArgs {
    DoctorArgs {
        cluster: "demo".into(),
        service: "web".into(),
        config: None,
        appspec: None,
        application: None,
        deployment_group: None,
        json,
    }
}

fn text(list: &Checklist) -> String {
    let mut out = Vec::new();
    list.write_text("doctor", &mut out).expect("written");
    String::from_utf8(out).expect("utf-8")
}

fn not_ok(list: &Checklist) -> Vec<&Item> {
    list.items
        .iter()
        .filter(|item| matches!(item.status, Status::Problem | Status::Unchecked))
        .collect()
}

/// The one problem doctor found, which must be about `subject` and say `saying`.
fn the_problem<'a>(list: &'a Checklist, subject: &str, saying: &str) -> &'a Item {
    let problems = not_ok(list);
    assert_eq!(problems.len(), 1, "one problem expected:\n{}", text(list));
    let problem = problems[0];
    assert_eq!(problem.status, Status::Problem, "{}", text(list));
    assert!(
        problem.subject.contains(subject) && problem.detail.contains(saying),
        "expected a problem about {subject} saying {saying}:\n{}",
        text(list)
    );
    assert!(problem.fix.is_some(), "a problem comes with its fix");
    problem
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_correctly_wired_ecs_service_is_ready() {
    let list = doctor_on(&scenario("good-blue-green"), Plant::Nothing).await;
    let report = text(&list);
    assert!(list.is_ready(), "{report}");
    for expected in [
        "deployment strategy: BLUE_GREEN",
        "hook at TEST_TRAFFIC_SHIFT, POST_TEST_TRAFFIC_SHIFT: calls greenlight-test-traffic",
        "hook role greenlight-HookInvokeRole: ECS may assume it",
        "hook role greenlight-HookInvokeRole: may invoke the functions",
        "role of greenlight-production-traffic: greenlight-ProductionTrafficRole allows the",
        "alarm web-5xx: exists",
        "image of container web: ",
    ] {
        assert!(report.contains(expected), "missing {expected:?}:\n{report}");
    }
    assert!(report.ends_with(" checks passed.\n"), "{report}");
    let test_rule = list
        .items
        .iter()
        .find(|item| {
            item.subject
                .starts_with("test listener rule arn:aws:elasticloadbalancing:")
        })
        .expect("the test listener rule is checked");
    assert_eq!(
        (test_rule.status, test_rule.detail.as_str()),
        (Status::Ok, "exists")
    );

    // What the command prints and exits with: JSON saying ready, exit 0.
    let args = doctor_args(true);
    let mut out = Vec::new();
    let exit = present(&list, &args, &mut out).expect("written");
    assert_eq!(exit, Exit::Success);
    let json: serde_json::Value = serde_json::from_slice(&out).expect("JSON");
    assert_eq!(json["ready"], true);
    assert_eq!(
        json["items"].as_array().map(Vec::len),
        Some(list.items.len())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hooks_on_functions_that_are_not_greenlights_are_not_ready() {
    let list = doctor_on(
        &scenario("good-blue-green"),
        Plant::FunctionsWithoutIdentity,
    )
    .await;
    let problem = the_problem(
        &list,
        "lifecycle hooks",
        "none calls one of greenlight's functions",
    );
    assert!(
        problem
            .fix
            .as_deref()
            .is_some_and(|fix| fix.contains("GREENLIGHT_FUNCTION")),
        "{problem:?}"
    );
    let mut out = Vec::new();
    let args = doctor_args(false);
    assert_eq!(
        present(&list, &args, &mut out).expect("written"),
        Exit::Failure
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_listener_the_config_needs_but_the_service_lacks_is_found() {
    // The built-in test-traffic plans read the test rule (routing at TEST_TRAFFIC_SHIFT) and send
    // requests through it (http at POST_TEST_TRAFFIC_SHIFT).
    let list = doctor_on(&scenario("good-blue-green"), Plant::NoTestListenerRule).await;
    let problem = the_problem(&list, "test listener rule", "needs the test listener");
    assert!(
        problem
            .detail
            .contains("check routing at TEST_TRAFFIC_SHIFT"),
        "{problem:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hook_on_the_wrong_function_is_named_with_the_function_to_use() {
    let list = doctor_on(&scenario("miswired-test-hook"), Plant::Nothing).await;
    let problem = the_problem(
        &list,
        "hook at TEST_TRAFFIC_SHIFT",
        "greenlight-production-traffic",
    );
    assert!(
        problem.detail.contains("EVENT_STAGE_NOT_SERVED"),
        "{problem:?}"
    );
    assert!(
        problem
            .fix
            .as_deref()
            .is_some_and(|fix| fix.contains("test-traffic")),
        "{problem:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hook_role_that_may_not_invoke_the_functions_is_found() {
    let mut world = scenario("good-blue-green");
    world
        .iam
        .overrides
        .push(greenlight_sim::scenario::format::GrantSpec {
            role: "HookInvokeRole".into(),
            action: "lambda:InvokeFunction".into(),
            resources: Vec::new(),
        });
    let list = doctor_on(&world, Plant::Nothing).await;
    let problem = the_problem(
        &list,
        "hook role greenlight-HookInvokeRole",
        "may not lambda:InvokeFunction on arn:aws:lambda:",
    );
    assert!(
        problem.detail.contains("greenlight-test-traffic"),
        "{problem:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_test_listener_rule_is_found() {
    let list = doctor_on(&scenario("good-blue-green"), Plant::DeleteTestListenerRule).await;
    the_problem(
        &list,
        "test listener rule arn:aws:elasticloadbalancing:",
        "does not exist",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_naming_an_alarm_that_does_not_exist_is_found() {
    let mut world = scenario("good-blue-green");
    for hook in &mut world.deployment.lifecycle_hooks {
        let checks = hook
            .hook_details
            .as_mut()
            .and_then(|details| {
                details.pointer_mut("/greenlight/stages/PRODUCTION_TRAFFIC_SHIFT/checks")
            })
            .and_then(serde_json::Value::as_array_mut)
            .expect("the scenario's checks");
        checks.push(serde_json::json!({ "alarms": { "names": ["web-latency-p99"] } }));
    }
    let list = doctor_on(&world, Plant::Nothing).await;
    let problem = the_problem(&list, "alarm web-latency-p99", "does not exist");
    assert!(
        problem.detail.contains("PRODUCTION_TRAFFIC_SHIFT"),
        "{problem:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_role_missing_an_action_its_checks_need_is_found() {
    let mut world = scenario("good-blue-green");
    world
        .iam
        .overrides
        .push(greenlight_sim::scenario::format::GrantSpec {
            role: "ProductionTrafficRole".into(),
            action: "cloudwatch:DescribeAlarms".into(),
            resources: Vec::new(),
        });
    let list = doctor_on(&world, Plant::Nothing).await;
    let problem = the_problem(
        &list,
        "role of greenlight-production-traffic",
        "cloudwatch:DescribeAlarms on arn:aws:cloudwatch:us-east-1:123456789012:alarm:web-5xx",
    );
    assert!(
        problem
            .detail
            .contains("(alarms) at PRODUCTION_TRAFFIC_SHIFT"),
        "{problem:?}"
    );
}

/// The CodeDeploy functions read a config bundled in their package, which doctor cannot read
/// from outside: unchecked (never "ready") until the same file is given with `--config`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_correctly_wired_codedeploy_service_is_ready_once_its_bundled_config_is_given() {
    let world = scenario("codedeploy-good");
    let without = doctor_on(&world, Plant::Nothing).await;
    let unchecked: Vec<&Item> = not_ok(&without);
    assert!(!unchecked.is_empty(), "{}", text(&without));
    for item in unchecked {
        assert_eq!(item.status, Status::Unchecked, "{}", text(&without));
        assert!(
            item.fix
                .as_deref()
                .is_some_and(|fix| fix.contains("--config")),
            "{}",
            text(&without)
        );
    }

    let config = std::env::temp_dir().join(format!(
        "greenlight-doctor-test-{}.yaml",
        std::process::id()
    ));
    let text_of_config = world
        .deployment
        .greenlight_config
        .as_ref()
        .expect("the scenario's config")
        .to_string();
    std::fs::write(&config, text_of_config).expect("written");
    let list = doctor_with(&world, Plant::Nothing, Some(config.clone())).await;
    let _ = std::fs::remove_file(&config);
    let report = text(&list);
    assert!(list.is_ready(), "{report}");
    for expected in [
        "deployment group ",
        "service role ecsCodeDeployRole: CodeDeploy may assume it",
        "AppSpec hook AfterAllowTestTraffic: calls CodeDeployHook_greenlight_AfterAllowTestTraffic",
        "ecsCodeDeployRole may invoke CodeDeployHook_greenlight_AfterAllowTestTraffic",
        "config from --config is valid",
        "role of CodeDeployHook_greenlight_AfterAllowTestTraffic: greenlight-CodeDeployHookRole allows",
    ] {
        assert!(report.contains(expected), "missing {expected:?}:\n{report}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_codedeploy_service_role_that_may_not_invoke_the_hooks_is_found() {
    let mut world = scenario("codedeploy-good");
    world
        .iam
        .overrides
        .push(greenlight_sim::scenario::format::GrantSpec {
            role: "CodeDeployServiceRole".into(),
            action: "lambda:InvokeFunction".into(),
            resources: Vec::new(),
        });
    let list = doctor_on(&world, Plant::Nothing).await;
    let problems: Vec<&Item> = list.with(Status::Problem).collect();
    assert_eq!(problems.len(), 5, "one per AppSpec hook:\n{}", text(&list));
    for (problem, hook) in problems.iter().zip([
        "AfterAllowTestTraffic",
        "AfterAllowTraffic",
        "AfterInstall",
        "BeforeAllowTraffic",
        "BeforeInstall",
    ]) {
        assert_eq!(
            problem.subject,
            format!("AppSpec hook {hook}"),
            "{}",
            text(&list)
        );
        assert!(
            problem
                .detail
                .contains("ecsCodeDeployRole may not lambda:InvokeFunction"),
            "{}",
            text(&list)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_appspec_hook_on_an_ecs_function_is_found() {
    let list = doctor_on(
        &scenario("codedeploy-good"),
        Plant::EcsFunctionBehindAfterInstall,
    )
    .await;
    let problems: Vec<&Item> = list.with(Status::Problem).collect();
    assert_eq!(problems.len(), 1, "{}", text(&list));
    assert_eq!(problems[0].subject, "AppSpec hook AfterInstall");
    assert!(
        problems[0]
            .detail
            .contains("(greenlight's post-scale-up), which answers ECS lifecycle hooks"),
        "{}",
        text(&list)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_appspec_hook_without_the_codedeploy_prefix_is_found_naming_the_prefix() {
    let list = doctor_on(&scenario("codedeploy-good"), Plant::UnprefixedAppSpecHook).await;
    // Two problems: CodeDeploy may not invoke it, and it may not invoke itself to hand off a
    // long bake (the template grants its role CodeDeployHook_greenlight_* only).
    let problems: Vec<&Item> = list.with(Status::Problem).collect();
    assert_eq!(problems.len(), 2, "{}", text(&list));
    assert_eq!(problems[0].subject, "AppSpec hook AfterInstall");
    assert_eq!(problems[1].subject, format!("role of {UNPREFIXED}"));
    assert!(
        problems[1].detail.contains("lambda:InvokeFunction"),
        "{}",
        text(&list)
    );
    assert!(
        problems[0].detail.contains(&format!(
            "ecsCodeDeployRole may not lambda:InvokeFunction on {UNPREFIXED}"
        )) && problems[0]
            .detail
            .contains("allows only functions named CodeDeployHook_*"),
        "{}",
        text(&list)
    );
    assert!(
        problems[0]
            .fix
            .as_deref()
            .is_some_and(|fix| fix.contains("name the function CodeDeployHook_")),
        "{}",
        text(&list)
    );
}
