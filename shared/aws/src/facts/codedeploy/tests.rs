//! What the CodeDeploy facts learn, against `aws-smithy-mocks` answers shaped as the services
//! document them.

use aws_sdk_codedeploy::Client as CodeDeploy;
use aws_sdk_codedeploy::config::retry::RetryConfig;
use aws_sdk_codedeploy::operation::get_deployment::GetDeploymentOutput;
use aws_sdk_codedeploy::operation::get_deployment_group::GetDeploymentGroupOutput;
use aws_sdk_codedeploy::operation::get_deployment_target::GetDeploymentTargetOutput;
use aws_sdk_codedeploy::operation::list_deployment_targets::ListDeploymentTargetsOutput;
use aws_sdk_codedeploy::types as cd;
use aws_sdk_ecs::Client as Ecs;
use aws_sdk_ecs::operation::describe_services::DescribeServicesOutput;
use aws_sdk_ecs::operation::describe_task_definition::DescribeTaskDefinitionOutput;
use aws_sdk_ecs::types as ecs;
use aws_sdk_elasticloadbalancingv2::Client as Elb;
use aws_sdk_elasticloadbalancingv2::operation::describe_listeners::DescribeListenersOutput;
use aws_sdk_elasticloadbalancingv2::operation::describe_load_balancers::DescribeLoadBalancersOutput;
use aws_sdk_elasticloadbalancingv2::types as elb;
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use serde_json::json;

use super::*;

const DEPLOYMENT: &str = "d-ABCDEF123";
const CLUSTER: &str = "prod";
const SERVICE: &str = "web";
const SERVICE_ARN: &str = "arn:aws:ecs:eu-west-1:123456789012:service/prod/web";
const GREEN_TD: &str = "arn:aws:ecs:eu-west-1:123456789012:task-definition/web:8";
const BLUE_TD: &str = "arn:aws:ecs:eu-west-1:123456789012:task-definition/web:7";
const GREEN_SET: &str = "arn:aws:ecs:eu-west-1:123456789012:task-set/prod/web/ecs-svc/222";
const BLUE_SET: &str = "arn:aws:ecs:eu-west-1:123456789012:task-set/prod/web/ecs-svc/111";
const TG_BLUE: &str = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web-blue/1";
const TG_GREEN: &str =
    "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web-green/2";
const LB: &str = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/web/3";
const PROD: &str = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/web/3/p";
const TEST: &str = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/web/3/t";

/// A JSON-protocol error (CodeDeploy and ECS).
fn json_error(status: u16, code: &str) -> HttpResponse {
    HttpResponse::new(
        StatusCode::try_from(status).expect("status"),
        SdkBody::from(json!({ "__type": code, "message": format!("{code} said no") }).to_string()),
    )
}

fn appspec(task_definition: &str) -> String {
    format!(
        "version: 0.0\nResources:\n  - TargetService:\n      Type: AWS::ECS::Service\n      Properties:\n        TaskDefinition: \"{task_definition}\"\n        LoadBalancerInfo:\n          ContainerName: web\n          ContainerPort: 8080\n"
    )
}

fn deployment_info(creator: cd::DeploymentCreator) -> cd::DeploymentInfo {
    cd::DeploymentInfo::builder()
        .deployment_id(DEPLOYMENT)
        .application_name("web-app")
        .deployment_group_name("web-group")
        .status(cd::DeploymentStatus::InProgress)
        .creator(creator)
        .rollback_info(
            cd::RollbackInfo::builder()
                .rollback_triggering_deployment_id("d-ORIGINAL1")
                .build(),
        )
        .revision(
            cd::RevisionLocation::builder()
                .revision_type(cd::RevisionLocationType::AppSpecContent)
                .app_spec_content(
                    cd::AppSpecContent::builder()
                        .content(appspec(GREEN_TD))
                        .build(),
                )
                .build(),
        )
        .build()
}

fn get_deployment(creator: cd::DeploymentCreator) -> Rule {
    mock!(CodeDeploy::get_deployment)
        .match_requests(|input| input.deployment_id() == Some(DEPLOYMENT))
        .then_output(move || {
            GetDeploymentOutput::builder()
                .deployment_info(deployment_info(creator.clone()))
                .build()
        })
}

fn get_group() -> Rule {
    mock!(CodeDeploy::get_deployment_group)
        .match_requests(|input| {
            input.application_name() == Some("web-app")
                && input.deployment_group_name() == Some("web-group")
        })
        .then_output(|| {
            let route = |arn: &str| cd::TrafficRoute::builder().listener_arns(arn).build();
            GetDeploymentGroupOutput::builder()
                .deployment_group_info(
                    cd::DeploymentGroupInfo::builder()
                        .ecs_services(
                            cd::EcsService::builder()
                                .cluster_name(CLUSTER)
                                .service_name(SERVICE)
                                .build(),
                        )
                        .load_balancer_info(
                            cd::LoadBalancerInfo::builder()
                                .target_group_pair_info_list(
                                    cd::TargetGroupPairInfo::builder()
                                        .prod_traffic_route(route(PROD))
                                        .test_traffic_route(route(TEST))
                                        .build(),
                                )
                                .build(),
                        )
                        .alarm_configuration(
                            cd::AlarmConfiguration::builder()
                                .enabled(true)
                                .alarms(cd::Alarm::builder().name("web-5xx").build())
                                .build(),
                        )
                        .build(),
                )
                .build()
        })
}

fn list_targets() -> Rule {
    mock!(CodeDeploy::list_deployment_targets)
        .match_requests(|input| input.deployment_id() == Some(DEPLOYMENT))
        .then_output(|| {
            ListDeploymentTargetsOutput::builder()
                .target_ids(format!("{CLUSTER}:{SERVICE}"))
                .build()
        })
}

fn get_target() -> Rule {
    mock!(CodeDeploy::get_deployment_target)
        .match_requests(|input| {
            input.deployment_id() == Some(DEPLOYMENT) && input.target_id() == Some("prod:web")
        })
        .then_output(|| {
            let event = |name: &str, status: cd::LifecycleEventStatus| {
                cd::LifecycleEvent::builder()
                    .lifecycle_event_name(name)
                    .status(status)
                    .build()
            };
            // Blue is listed first: the labels, not the order, say which is which.
            let set = |label: cd::TargetLabel, weight: f64| {
                cd::EcsTaskSet::builder()
                    .task_set_label(label)
                    .traffic_weight(weight)
                    .build()
            };
            GetDeploymentTargetOutput::builder()
                .deployment_target(
                    cd::DeploymentTarget::builder()
                        .deployment_target_type(cd::DeploymentTargetType::EcsTarget)
                        .ecs_target(
                            cd::EcsTarget::builder()
                                .deployment_id(DEPLOYMENT)
                                .target_id("prod:web")
                                .lifecycle_events(event(
                                    "AfterInstall",
                                    cd::LifecycleEventStatus::Succeeded,
                                ))
                                .lifecycle_events(event(
                                    "AfterAllowTestTraffic",
                                    cd::LifecycleEventStatus::InProgress,
                                ))
                                .task_sets_info(set(cd::TargetLabel::Blue, 100.0))
                                .task_sets_info(set(cd::TargetLabel::Green, 0.0))
                                .build(),
                        )
                        .build(),
                )
                .build()
        })
}

fn task_set(
    arn: &str,
    definition: &str,
    external: &str,
    status: &str,
    group: &str,
) -> ecs::TaskSet {
    ecs::TaskSet::builder()
        .task_set_arn(arn)
        .task_definition(definition)
        .external_id(external)
        .status(status)
        .computed_desired_count(2)
        .running_count(2)
        .pending_count(0)
        .load_balancers(ecs::LoadBalancer::builder().target_group_arn(group).build())
        .build()
}

fn describe_services(with_green: bool) -> Rule {
    mock!(Ecs::describe_services)
        .match_requests(|input| {
            input.cluster() == Some(CLUSTER) && input.services() == [SERVICE.to_owned()]
        })
        .then_output(move || {
            let mut service = ecs::Service::builder()
                .service_arn(SERVICE_ARN)
                .task_sets(task_set(
                    BLUE_SET,
                    BLUE_TD,
                    "d-EARLIER99",
                    "PRIMARY",
                    TG_BLUE,
                ));
            if with_green {
                service = service.task_sets(task_set(
                    GREEN_SET, GREEN_TD, DEPLOYMENT, "ACTIVE", TG_GREEN,
                ));
            }
            DescribeServicesOutput::builder()
                .services(service.build())
                .build()
        })
}

fn describe_task_definition() -> Rule {
    mock!(Ecs::describe_task_definition).then_compute_output(|input| {
        let arn = input.task_definition().unwrap_or_default().to_owned();
        let tag = if arn == GREEN_TD { "v8" } else { "v7" };
        DescribeTaskDefinitionOutput::builder()
            .task_definition(
                ecs::TaskDefinition::builder()
                    .task_definition_arn(&arn)
                    .container_definitions(
                        ecs::ContainerDefinition::builder()
                            .name("web")
                            .image(format!("public.ecr.aws/acme/web:{tag}"))
                            .build(),
                    )
                    .build(),
            )
            .build()
    })
}

fn describe_listeners() -> Rule {
    mock!(Elb::describe_listeners).then_output(|| {
        let listener = |arn: &str, port: i32, group: &str| {
            elb::Listener::builder()
                .listener_arn(arn)
                .load_balancer_arn(LB)
                .port(port)
                .protocol(elb::ProtocolEnum::Http)
                .default_actions(
                    elb::Action::builder()
                        .r#type(elb::ActionTypeEnum::Forward)
                        .target_group_arn(group)
                        .build(),
                )
                .build()
        };
        DescribeListenersOutput::builder()
            .listeners(listener(PROD, 80, TG_BLUE))
            .listeners(listener(TEST, 8443, TG_GREEN))
            .build()
    })
}

fn describe_load_balancers() -> Rule {
    mock!(Elb::describe_load_balancers).then_output(|| {
        DescribeLoadBalancersOutput::builder()
            .load_balancers(
                elb::LoadBalancer::builder()
                    .load_balancer_arn(LB)
                    .dns_name("web-123.eu-west-1.elb.amazonaws.com")
                    .build(),
            )
            .build()
    })
}

/// Retries as in production (standard, three attempts), on paused time.
fn clients(codedeploy: &[&Rule], ecs: &[&Rule], elb: &[&Rule]) -> AwsClients {
    let config = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::from_static("eu-west-1"))
        .build();
    let mut clients = AwsClients::from_conf(&config);
    clients.codedeploy = mock_client!(aws_sdk_codedeploy, RuleMode::MatchAny, codedeploy, |c| {
        c.retry_config(RetryConfig::standard().with_max_attempts(3))
    });
    clients.ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, ecs, |c| {
        c.retry_config(RetryConfig::standard().with_max_attempts(3))
    });
    clients.elbv2 = mock_client!(
        aws_sdk_elasticloadbalancingv2,
        RuleMode::MatchAny,
        elb,
        |c| { c.retry_config(RetryConfig::standard().with_max_attempts(3)) }
    );
    clients
}

#[tokio::test(start_paused = true)]
async fn discovery_reads_each_api_once_and_tells_green_from_blue() {
    let (deployment, group, targets, target) = (
        get_deployment(cd::DeploymentCreator::User),
        get_group(),
        list_targets(),
        get_target(),
    );
    let services = describe_services(true);
    let clients = clients(&[&deployment, &group, &targets, &target], &[&services], &[]);
    let found = discover(&clients, DEPLOYMENT).await.expect("discovered");
    for rule in [&deployment, &group, &targets, &target, &services] {
        assert_eq!(rule.num_calls(), 1);
    }
    let context = &found.context;
    assert_eq!(
        (
            context.application.as_str(),
            context.deployment_group.as_str()
        ),
        ("web-app", "web-group")
    );
    assert_eq!(
        (context.cluster.as_str(), context.service.as_str()),
        (CLUSTER, SERVICE)
    );
    assert_eq!(
        context.lifecycle_event_in_progress.as_deref(),
        Some("AfterAllowTestTraffic")
    );
    assert!(!context.is_rollback());
    assert_eq!(found.service.service_arn, SERVICE_ARN);
    assert_eq!(
        (
            found.service.region.as_str(),
            found.service.account.as_str()
        ),
        ("eu-west-1", "123456789012")
    );
    // Green is the task set whose externalId is the deployment; its weight is the Green label's.
    let green = found.green.as_ref().expect("green");
    assert_eq!(
        (green.arn.as_str(), green.task_definition_arn.as_str()),
        (GREEN_SET, GREEN_TD)
    );
    assert_eq!(green.target_group_arns, vec![TG_GREEN.to_owned()]);
    let blue = found.blue.as_ref().expect("blue");
    assert_eq!(
        (blue.arn.as_str(), blue.task_definition_arn.as_str()),
        (BLUE_SET, BLUE_TD)
    );
    assert_eq!(found.weights.green_production, Some(0.0));
    assert_eq!(found.production_listener.as_deref(), Some(PROD));
    assert_eq!(found.test_listener.as_deref(), Some(TEST));
    assert_eq!(found.deployment.alarm_names, vec!["web-5xx".to_owned()]);
    assert_eq!(found.deployment.green_tasks.running, 2);
    assert_eq!(found.deployment.rollback, None);
    assert_eq!(found.appspec_task_definition.as_deref(), Some(GREEN_TD));
}

#[tokio::test(start_paused = true)]
async fn blue_is_the_task_set_labelled_blue_even_once_green_is_primary() {
    // After AllowTraffic: green serves production and is PRIMARY, blue is ACTIVE, and a stale
    // task set of an earlier deployment lingers. PRIMARY would name green; the deployment
    // target's Blue label names blue.
    const STALE_SET: &str =
        "arn:aws:ecs:eu-west-1:123456789012:task-set/prod/web/ecs-svc/0000000000000000001";
    let target = mock!(CodeDeploy::get_deployment_target).then_output(|| {
        let set = |label: cd::TargetLabel, id: &str, weight: f64| {
            cd::EcsTaskSet::builder()
                .identifer(id)
                .task_set_label(label)
                .traffic_weight(weight)
                .build()
        };
        GetDeploymentTargetOutput::builder()
            .deployment_target(
                cd::DeploymentTarget::builder()
                    .ecs_target(
                        cd::EcsTarget::builder()
                            .deployment_id(DEPLOYMENT)
                            .target_id("prod:web")
                            .task_sets_info(set(
                                cd::TargetLabel::Blue,
                                BLUE_SET.rsplit('/').next().unwrap_or_default(),
                                0.0,
                            ))
                            .task_sets_info(set(cd::TargetLabel::Green, "green", 100.0))
                            .build(),
                    )
                    .build(),
            )
            .build()
    });
    let services = mock!(Ecs::describe_services).then_output(|| {
        DescribeServicesOutput::builder()
            .services(
                ecs::Service::builder()
                    .service_arn(SERVICE_ARN)
                    .task_sets(task_set(
                        STALE_SET,
                        BLUE_TD,
                        "d-OLDER0001",
                        "DRAINING",
                        TG_BLUE,
                    ))
                    .task_sets(task_set(
                        BLUE_SET,
                        BLUE_TD,
                        "d-EARLIER99",
                        "ACTIVE",
                        TG_BLUE,
                    ))
                    .task_sets(task_set(
                        GREEN_SET, GREEN_TD, DEPLOYMENT, "PRIMARY", TG_GREEN,
                    ))
                    .build(),
            )
            .build()
    });
    let (deployment, group, targets) = (
        get_deployment(cd::DeploymentCreator::User),
        get_group(),
        list_targets(),
    );
    let clients = clients(&[&deployment, &group, &targets, &target], &[&services], &[]);
    let found = discover(&clients, DEPLOYMENT).await.expect("discovered");
    assert_eq!(found.blue.as_ref().expect("blue").arn, BLUE_SET);
    assert_eq!(found.green.as_ref().expect("green").arn, GREEN_SET);
    assert_eq!(found.weights.green_production, Some(100.0));
}

#[tokio::test(start_paused = true)]
async fn each_fact_is_gathered_once_per_judgement_however_many_checks_ask() {
    let (deployment, group, targets, target) = (
        get_deployment(cd::DeploymentCreator::User),
        get_group(),
        list_targets(),
        get_target(),
    );
    let (services, definitions) = (describe_services(true), describe_task_definition());
    let tasks = mock!(Ecs::list_tasks)
        .then_output(|| aws_sdk_ecs::operation::list_tasks::ListTasksOutput::builder().build());
    let (listeners, balancers) = (describe_listeners(), describe_load_balancers());
    let clients = clients(
        &[&deployment, &group, &targets, &target],
        &[&services, &definitions, &tasks],
        &[&listeners, &balancers],
    );
    let discovered = discover_for_hook(&clients, DEPLOYMENT)
        .await
        .expect("discovered");
    let facts = (discovered.facts)();
    let (green_a, green_b, blue, routing_a, routing_b, deployment_fact) = tokio::join!(
        facts.green(),
        facts.green(),
        facts.blue(),
        facts.routing(),
        facts.routing(),
        facts.deployment(),
    );
    let green = green_a.expect("green");
    assert_eq!(green, green_b.expect("green again"));
    assert_eq!(green.task_definition_arn, GREEN_TD);
    assert_eq!(green.containers[0].image, "public.ecr.aws/acme/web:v8");
    assert_eq!(
        blue.expect("blue").expect("a blue").containers[0].image,
        "public.ecr.aws/acme/web:v7"
    );
    // Green and blue: one DescribeTaskDefinition each, not one per ask; green's tasks (for the
    // digests ECS resolved) listed once, running and stopped.
    assert_eq!(definitions.num_calls(), 2);
    assert_eq!(tasks.num_calls(), 2);
    // The target groups alone are what CodeDeploy named: no ELB call of their own.
    let groups = facts.target_groups().await.expect("target groups");
    assert_eq!(groups.green.as_deref(), Some(TG_GREEN));
    assert_eq!(groups.blue.as_deref(), Some(TG_BLUE));
    assert!(groups.load_balanced);
    let routing = routing_a.expect("routing");
    assert_eq!(routing, routing_b.expect("routing again"));
    assert_eq!(listeners.num_calls(), 1);
    assert_eq!(balancers.num_calls(), 1);
    assert_eq!(routing.green_target_group.as_deref(), Some(TG_GREEN));
    assert_eq!(routing.blue_target_group.as_deref(), Some(TG_BLUE));
    assert_eq!(
        routing.test_rule.as_ref().map(|rule| rule.forwards.clone()),
        Some(vec![(TG_GREEN.to_owned(), 100.0)])
    );
    assert_eq!(
        routing
            .test_endpoint
            .as_ref()
            .map(|endpoint| endpoint.base_url.as_str()),
        Some("http://web-123.eu-west-1.elb.amazonaws.com:8443")
    );
    assert_eq!(deployment_fact.expect("deployment").id, DEPLOYMENT);
    // The deployment itself was learned once, for the whole invocation.
    assert_eq!(deployment.num_calls(), 1);
    // A new judgement gathers afresh (tasks and routing move during a bake).
    let again = (discovered.facts)();
    again.routing().await.expect("routing");
    assert_eq!(listeners.num_calls(), 2);
    assert_eq!(deployment.num_calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn before_install_green_is_the_appspec_task_definition() {
    let (deployment, group, targets, target) = (
        get_deployment(cd::DeploymentCreator::User),
        get_group(),
        list_targets(),
        get_target(),
    );
    let (services, definitions) = (describe_services(false), describe_task_definition());
    let clients = clients(
        &[&deployment, &group, &targets, &target],
        &[&services, &definitions],
        &[],
    );
    let discovered = discover_for_hook(&clients, DEPLOYMENT)
        .await
        .expect("discovered");
    let facts = (discovered.facts)();
    let green = facts.green().await.expect("green from the AppSpec");
    assert_eq!(green.task_definition_arn, GREEN_TD);
    assert_eq!(green.containers[0].image, "public.ecr.aws/acme/web:v8");
    // Tasks need the task set: not there yet, which is a wait, not a failure.
    let tasks = facts.green_tasks().await.expect_err("no task set yet");
    assert!(matches!(tasks, FactError::NotReady { .. }), "{tasks:?}");
}

#[tokio::test(start_paused = true)]
async fn before_install_the_appspec_text_is_fetched_when_get_deployment_leaves_it_out() {
    let deployment = mock!(CodeDeploy::get_deployment).then_output(|| {
        let mut info = deployment_info(cd::DeploymentCreator::User);
        info.revision = Some(
            cd::RevisionLocation::builder()
                .revision_type(cd::RevisionLocationType::AppSpecContent)
                .app_spec_content(cd::AppSpecContent::builder().sha256("abc123").build())
                .build(),
        );
        GetDeploymentOutput::builder().deployment_info(info).build()
    });
    let revision = mock!(CodeDeploy::get_application_revision)
        .match_requests(|input| {
            input.application_name() == Some("web-app")
                && input
                    .revision()
                    .and_then(|revision| revision.app_spec_content())
                    .and_then(|content| content.sha256())
                    == Some("abc123")
        })
        .then_output(|| {
            aws_sdk_codedeploy::operation::get_application_revision::GetApplicationRevisionOutput::builder()
                .revision(
                    cd::RevisionLocation::builder()
                        .app_spec_content(
                            cd::AppSpecContent::builder()
                                .content(appspec(GREEN_TD))
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
    let (group, targets, target) = (get_group(), list_targets(), get_target());
    let services = describe_services(false);
    let clients = clients(
        &[&deployment, &revision, &group, &targets, &target],
        &[&services],
        &[],
    );
    let found = discover(&clients, DEPLOYMENT).await.expect("discovered");
    assert!(found.green.is_none(), "no green task set before Install");
    assert_eq!(found.appspec_task_definition.as_deref(), Some(GREEN_TD));
    assert_eq!(revision.num_calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_rollback_deployment_says_what_it_rolls_back() {
    let (deployment, group, targets, target) = (
        get_deployment(cd::DeploymentCreator::CodeDeployRollback),
        get_group(),
        list_targets(),
        get_target(),
    );
    let services = describe_services(true);
    let clients = clients(&[&deployment, &group, &targets, &target], &[&services], &[]);
    let found = discover(&clients, DEPLOYMENT).await.expect("discovered");
    assert!(found.context.is_rollback());
    assert_eq!(found.context.rolls_back.as_deref(), Some("d-ORIGINAL1"));
    assert_eq!(
        found.deployment.rollback.as_deref(),
        Some("CodeDeploy rollback of d-ORIGINAL1")
    );
}

#[tokio::test(start_paused = true)]
async fn throttling_is_retried_then_succeeds() {
    let deployment = mock!(CodeDeploy::get_deployment)
        .sequence()
        .http_response(|| json_error(400, "ThrottlingException"))
        .times(2)
        .output(|| {
            GetDeploymentOutput::builder()
                .deployment_info(deployment_info(cd::DeploymentCreator::User))
                .build()
        })
        .build();
    let (group, targets, target) = (get_group(), list_targets(), get_target());
    let services = describe_services(true);
    let clients = clients(&[&deployment, &group, &targets, &target], &[&services], &[]);
    let found = discover(&clients, DEPLOYMENT)
        .await
        .expect("discovered after retries");
    assert_eq!(deployment.num_calls(), 3);
    assert_eq!(found.context.deployment_id, DEPLOYMENT);
}

#[tokio::test(start_paused = true)]
async fn throttled_throughout_is_a_throttled_fact_naming_the_action() {
    let deployment = mock!(CodeDeploy::get_deployment)
        .then_http_response(|| json_error(400, "ThrottlingException"));
    let clients = clients(&[&deployment], &[], &[]);
    let error = discover(&clients, DEPLOYMENT).await.expect_err("throttled");
    assert!(
        matches!(&error, FactError::Throttled { action, .. } if action == "codedeploy:GetDeployment"),
        "{error:?}"
    );
    assert_eq!(deployment.num_calls(), 3);
}

#[tokio::test(start_paused = true)]
async fn access_denied_names_the_action_and_resource() {
    let deployment = get_deployment(cd::DeploymentCreator::User);
    let group = mock!(CodeDeploy::get_deployment_group)
        .then_http_response(|| json_error(400, "AccessDeniedException"));
    let targets = list_targets();
    let clients = clients(&[&deployment, &group, &targets], &[], &[]);
    let error = discover(&clients, DEPLOYMENT).await.expect_err("denied");
    match &error {
        FactError::AccessDenied {
            action, resource, ..
        } => {
            assert_eq!(action, "codedeploy:GetDeploymentGroup");
            assert_eq!(resource, "web-app/web-group");
        }
        other => panic!("expected access denied, got {other:?}"),
    }
    assert!(error.to_string().contains("codedeploy:GetDeploymentGroup"));
    assert_eq!(group.num_calls(), 1, "denial is not retried");
}

#[tokio::test(start_paused = true)]
async fn a_missing_deployment_is_not_found_naming_it() {
    let deployment = mock!(CodeDeploy::get_deployment)
        .then_http_response(|| json_error(400, "DeploymentDoesNotExistException"));
    let clients = clients(&[&deployment], &[], &[]);
    let error = discover(&clients, DEPLOYMENT).await.expect_err("missing");
    assert_eq!(
        error,
        FactError::NotFound {
            what: "CodeDeploy deployment".to_owned(),
            resource: DEPLOYMENT.to_owned(),
        }
    );
}

#[test]
fn green_s_digest_is_the_pinned_one_else_what_most_running_tasks_report() {
    let revision = |image: &str| RevisionFacts {
        arn: GREEN_SET.to_owned(),
        task_definition_arn: GREEN_TD.to_owned(),
        containers: vec![ContainerImage {
            digest_by_consensus: false,
            container: "web".to_owned(),
            image: image.to_owned(),
            digest: None,
        }],
        target_group_arns: Vec::new(),
        test_header: None,
    };
    let task = |status: &str, digest: &str| TaskFacts {
        arn: format!("task-{digest}"),
        task_definition_arn: GREEN_TD.to_owned(),
        last_status: status.to_owned(),
        desired_status: "RUNNING".to_owned(),
        stopped_reason: None,
        private_ip: None,
        containers: vec![greenlight_core::facts::RunningContainer {
            name: "web".to_owned(),
            image: "web:2".to_owned(),
            image_digest: Some(digest.to_owned()),
            last_status: status.to_owned(),
            exit_code: None,
            reason: None,
        }],
    };
    let tasks = [
        task("RUNNING", "sha256:aaa"),
        task("RUNNING", "sha256:bbb"),
        task("RUNNING", "sha256:bbb"),
        task("STOPPED", "sha256:ccc"),
        task("STOPPED", "sha256:ccc"),
    ];
    let digest = |revision: RevisionFacts| revision.containers[0].digest.clone();
    assert_eq!(
        digest(with_resolved_digests(&revision("web:2"), &tasks)).as_deref(),
        Some("sha256:bbb")
    );
    assert_eq!(
        digest(with_resolved_digests(
            &revision("web@sha256:pinned"),
            &tasks
        ))
        .as_deref(),
        Some("sha256:pinned")
    );
    assert_eq!(digest(with_resolved_digests(&revision("web:2"), &[])), None);
}

#[test]
fn the_appspec_task_definition_is_read_from_yaml_or_json() {
    assert_eq!(
        appspec_task_definition(&appspec(GREEN_TD)).as_deref(),
        Some(GREEN_TD)
    );
    let as_json = json!({
        "version": 0.0,
        "Resources": [{ "TargetService": { "Type": "AWS::ECS::Service", "Properties": { "TaskDefinition": BLUE_TD } } }],
    });
    assert_eq!(
        appspec_task_definition(&as_json.to_string()).as_deref(),
        Some(BLUE_TD)
    );
    assert_eq!(appspec_task_definition("version: 0.0\nHooks: []\n"), None);
    assert_eq!(appspec_task_definition("{not: [valid"), None);
}
