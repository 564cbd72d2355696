//! The ECS facts provider's tests: pure mappings on tables, gathering against `aws-smithy-mocks`.
use std::time::Duration;

use aws_sdk_ecs::Client as Ecs;
use aws_sdk_ecs::operation::describe_service_deployments::DescribeServiceDeploymentsOutput;
use aws_sdk_ecs::operation::describe_service_revisions::DescribeServiceRevisionsOutput;
use aws_sdk_ecs::operation::describe_tasks::DescribeTasksOutput;
use aws_sdk_ecs::operation::list_service_deployments::ListServiceDeploymentsOutput;
use aws_sdk_ecs::operation::list_tasks::ListTasksOutput;
use aws_sdk_ecs::types as ecs;
use aws_sdk_elasticloadbalancingv2::Client as Elb;
use aws_sdk_elasticloadbalancingv2::operation::describe_listeners::DescribeListenersOutput;
use aws_sdk_elasticloadbalancingv2::operation::describe_load_balancers::DescribeLoadBalancersOutput;
use aws_sdk_elasticloadbalancingv2::operation::describe_rules::DescribeRulesOutput;
use aws_sdk_elasticloadbalancingv2::operation::describe_target_groups::DescribeTargetGroupsOutput;
use aws_sdk_elasticloadbalancingv2::operation::describe_target_health::DescribeTargetHealthOutput;
use aws_sdk_elasticloadbalancingv2::types as elb;
use aws_smithy_mocks::{Rule as MockRule, RuleMode, mock, mock_client};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::DateTime;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::RetryConfig;
use greenlight_core::outcome::{ErrorClass, Status};
use serde_json::json;

use super::*;

const SERVICE: &str = "arn:aws:ecs:us-west-2:123456789012:service/web-cluster/web";
const DEPLOYMENT: &str =
    "arn:aws:ecs:us-west-2:123456789012:service-deployment/web-cluster/web/EZe5RNVLH6PPzHXINuP28";
const OTHER_DEPLOYMENT: &str =
    "arn:aws:ecs:us-west-2:123456789012:service-deployment/web-cluster/web/Older1";
const GREEN: &str =
    "arn:aws:ecs:us-west-2:123456789012:service-revision/web-cluster/web/9313423515462893900";
const BLUE: &str =
    "arn:aws:ecs:us-west-2:123456789012:service-revision/web-cluster/web/1920498462936580504";
const GREEN_TD: &str = "arn:aws:ecs:us-west-2:123456789012:task-definition/web:8";
const BLUE_TD: &str = "arn:aws:ecs:us-west-2:123456789012:task-definition/web:7";
const TG_A: &str = "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/web-a/aaaa";
const TG_B: &str = "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/web-b/bbbb";
const LB: &str =
    "arn:aws:elasticloadbalancing:us-west-2:123456789012:loadbalancer/app/web/50dc6c495c0c9188";
const PROD_LISTENER: &str =
    "arn:aws:elasticloadbalancing:us-west-2:123456789012:listener/app/web/50dc6c495c0c9188/1111";
const TEST_LISTENER: &str =
    "arn:aws:elasticloadbalancing:us-west-2:123456789012:listener/app/web/50dc6c495c0c9188/2222";
const PROD_RULE: &str = "arn:aws:elasticloadbalancing:us-west-2:123456789012:listener-rule/app/web/50dc6c495c0c9188/1111/p1";
const TEST_RULE: &str = "arn:aws:elasticloadbalancing:us-west-2:123456789012:listener-rule/app/web/50dc6c495c0c9188/2222/t1";
const FUNCTION: &str = "arn:aws:lambda:us-west-2:123456789012:function:greenlight-post-scale-up";

// ----- events and clients -----

fn event(stage: &str, production: serde_json::Value) -> HookEvent {
    HookEvent::parse(&json!({
        "executionId": "f4fcae0f-9bec-41c6-ba87-0eaa0cef8af5",
        "lifecycleStage": stage,
        "resourceArn": DEPLOYMENT,
        "executionDetails": {
            "serviceArn": SERVICE,
            "targetServiceRevisionArn": GREEN,
            "testTrafficWeights": {},
            "productionTrafficWeights": production,
        }
    }))
    .expect("a valid event")
}

fn shifting() -> HookEvent {
    event("PRODUCTION_TRAFFIC_SHIFT", json!({ GREEN: 0, BLUE: 100 }))
}

/// Retries as in production (standard, three attempts); the tests run on paused time, so the
/// backoff between attempts costs nothing.
fn ecs_client(rules: &[&MockRule]) -> Ecs {
    mock_client!(aws_sdk_ecs, RuleMode::MatchAny, rules, |config| {
        config.retry_config(RetryConfig::standard().with_max_attempts(3))
    })
}

fn elb_client(rules: &[&MockRule]) -> Elb {
    mock_client!(
        aws_sdk_elasticloadbalancingv2,
        RuleMode::MatchAny,
        rules,
        |config| config.retry_config(RetryConfig::standard().with_max_attempts(3))
    )
}

fn facts(event: &HookEvent, ecs_rules: &[&MockRule], elb_rules: &[&MockRule]) -> Arc<EcsFacts> {
    Arc::new(
        EcsFacts::with_clients(event, ecs_client(ecs_rules), elb_client(elb_rules)).expect("facts"),
    )
}

/// An ECS (JSON protocol) error response.
fn ecs_error(status: u16, code: &str, message: &str) -> HttpResponse {
    HttpResponse::new(
        StatusCode::try_from(status).expect("status"),
        SdkBody::from(json!({ "__type": code, "message": message }).to_string()),
    )
}

/// An ELBv2 (query protocol) error response.
fn elb_error(status: u16, code: &str, message: &str) -> HttpResponse {
    HttpResponse::new(
        StatusCode::try_from(status).expect("status"),
        SdkBody::from(format!(
            "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>r</RequestId></ErrorResponse>"
        )),
    )
}

// ----- SDK shapes -----

fn pair_load_balancer() -> ecs::LoadBalancer {
    ecs::LoadBalancer::builder()
        .target_group_arn(TG_A)
        .container_name("web")
        .container_port(8080)
        .advanced_configuration(
            ecs::AdvancedConfiguration::builder()
                .alternate_target_group_arn(TG_B)
                .production_listener_rule(PROD_RULE)
                .test_listener_rule(TEST_RULE)
                .role_arn("arn:aws:iam::123456789012:role/ecs-infrastructure-elb")
                .build(),
        )
        .build()
}

fn green_revision(resolved_group: Option<&str>) -> ecs::ServiceRevision {
    let mut revision = ecs::ServiceRevision::builder()
        .service_revision_arn(GREEN)
        .task_definition(GREEN_TD)
        .container_images(
            ecs::ContainerImage::builder()
                .container_name("web")
                .image("123456789012.dkr.ecr.us-west-2.amazonaws.com/web:1.8")
                .image_digest("sha256:green")
                .build(),
        )
        // ECS has not resolved the sidecar's digest yet.
        .container_images(
            ecs::ContainerImage::builder()
                .container_name("log-router")
                .image("public.ecr.aws/aws-observability/aws-for-fluent-bit:stable")
                .build(),
        )
        .load_balancers(pair_load_balancer());
    if let Some(group) = resolved_group {
        revision = revision.resolved_configuration(
            ecs::ResolvedConfiguration::builder()
                .load_balancers(
                    ecs::ServiceRevisionLoadBalancer::builder()
                        .target_group_arn(group)
                        .production_listener_rule(PROD_RULE)
                        .build(),
                )
                .build(),
        );
    }
    revision.build()
}

fn blue_revision() -> ecs::ServiceRevision {
    ecs::ServiceRevision::builder()
        .service_revision_arn(BLUE)
        .task_definition(BLUE_TD)
        .container_images(
            ecs::ContainerImage::builder()
                .container_name("web")
                .image("123456789012.dkr.ecr.us-west-2.amazonaws.com/web:1.7")
                .image_digest("sha256:blue")
                .build(),
        )
        .load_balancers(pair_load_balancer())
        .resolved_configuration(
            ecs::ResolvedConfiguration::builder()
                .load_balancers(
                    ecs::ServiceRevisionLoadBalancer::builder()
                        .target_group_arn(TG_A)
                        .build(),
                )
                .build(),
        )
        .build()
}

fn revisions_output(revisions: Vec<ecs::ServiceRevision>) -> DescribeServiceRevisionsOutput {
    DescribeServiceRevisionsOutput::builder()
        .set_service_revisions(Some(revisions))
        .build()
}

fn describe_revisions(
    expected: &'static [&'static str],
    green_group: Option<&'static str>,
) -> MockRule {
    mock!(Ecs::describe_service_revisions)
        .match_requests(move |input| input.service_revision_arns() == expected)
        .then_output(move || {
            let mut revisions = vec![green_revision(green_group)];
            if expected.contains(&BLUE) {
                revisions.push(blue_revision());
            }
            revisions_output(revisions)
        })
}

fn deployment(sources: &[&str]) -> ecs::ServiceDeployment {
    let mut deployment = ecs::ServiceDeployment::builder()
        .service_deployment_arn(DEPLOYMENT)
        .status(ecs::ServiceDeploymentStatus::InProgress)
        .started_at(DateTime::from_secs(1_700_000_000))
        .target_service_revision(
            ecs::ServiceRevisionSummary::builder()
                .arn(GREEN)
                .requested_task_count(4)
                .running_task_count(3)
                .pending_task_count(1)
                .build(),
        )
        .alarms(
            ecs::ServiceDeploymentAlarms::builder()
                .alarm_names("web-5xx")
                .alarm_names("web-latency")
                .triggered_alarm_names("web-5xx")
                .build(),
        )
        .lifecycle_hook_details(
            ecs::DeploymentLifecycleHookDetail::builder()
                .target_type(ecs::DeploymentLifecycleHookTargetType::AwsLambda)
                .target_arn("arn:aws:lambda:us-west-2:123456789012:function:team-hook")
                .status(ecs::DeploymentLifecycleHookStatus::InProgress)
                .expires_at(DateTime::from_secs(1_700_009_999))
                .build(),
        )
        .lifecycle_hook_details(
            ecs::DeploymentLifecycleHookDetail::builder()
                .target_type(ecs::DeploymentLifecycleHookTargetType::AwsLambda)
                .target_arn(FUNCTION)
                .status(ecs::DeploymentLifecycleHookStatus::InProgress)
                .expires_at(DateTime::from_secs(1_700_003_600))
                .build(),
        );
    for (index, source) in sources.iter().enumerate() {
        deployment = deployment.source_service_revisions(
            ecs::ServiceRevisionSummary::builder()
                .arn(*source)
                .requested_production_traffic_weight(if index == 0 { 100.0 } else { 0.0 })
                .running_task_count(4)
                .build(),
        );
    }
    deployment.build()
}

fn describe_deployment(sources: &'static [&'static str]) -> MockRule {
    mock!(Ecs::describe_service_deployments)
        .match_requests(|input| input.service_deployment_arns() == [DEPLOYMENT])
        .then_output(move || {
            DescribeServiceDeploymentsOutput::builder()
                .service_deployments(deployment(sources))
                .build()
        })
}

fn list_deployments() -> MockRule {
    mock!(Ecs::list_service_deployments)
        .match_requests(|input| {
            input.cluster() == Some("web-cluster")
                && input.service() == Some(SERVICE)
                && input
                    .status()
                    .contains(&ecs::ServiceDeploymentStatus::InProgress)
        })
        .then_output(|| {
            ListServiceDeploymentsOutput::builder()
                .service_deployments(
                    ecs::ServiceDeploymentBrief::builder()
                        .service_deployment_arn(DEPLOYMENT)
                        .build(),
                )
                .service_deployments(
                    ecs::ServiceDeploymentBrief::builder()
                        .service_deployment_arn(OTHER_DEPLOYMENT)
                        .status(ecs::ServiceDeploymentStatus::RollbackInProgress)
                        .build(),
                )
                .build()
        })
}

fn task(arn: &str, definition: &str, stopped: Option<&str>) -> ecs::Task {
    let status = if stopped.is_some() {
        "STOPPED"
    } else {
        "RUNNING"
    };
    let mut container = ecs::Container::builder()
        .name("web")
        .image("123456789012.dkr.ecr.us-west-2.amazonaws.com/web:1.8")
        .image_digest("sha256:green")
        .last_status(status);
    if stopped.is_some() {
        container = container
            .exit_code(137)
            .reason("OutOfMemoryError: container killed");
    }
    let mut task = ecs::Task::builder()
        .task_arn(arn)
        .task_definition_arn(definition)
        .last_status(status)
        .desired_status(status)
        .attachments(
            ecs::Attachment::builder()
                .r#type("ElasticNetworkInterface")
                .details(
                    ecs::KeyValuePair::builder()
                        .name("subnetId")
                        .value("subnet-1")
                        .build(),
                )
                .details(
                    ecs::KeyValuePair::builder()
                        .name("privateIPv4Address")
                        .value("10.0.1.23")
                        .build(),
                )
                .build(),
        )
        .containers(container.build());
    if let Some(reason) = stopped {
        task = task.stopped_reason(reason);
    }
    task.build()
}

fn task_arn(n: usize) -> String {
    format!("arn:aws:ecs:us-west-2:123456789012:task/web-cluster/{n:032}")
}

fn rule(arn: &str, conditions: Vec<elb::RuleCondition>, weights: &[(&str, i32)]) -> elb::Rule {
    let mut forward = elb::ForwardActionConfig::builder();
    for (group, weight) in weights {
        forward = forward.target_groups(
            elb::TargetGroupTuple::builder()
                .target_group_arn(*group)
                .weight(*weight)
                .build(),
        );
    }
    elb::Rule::builder()
        .rule_arn(arn)
        .set_conditions(Some(conditions))
        .actions(
            elb::Action::builder()
                .r#type(elb::ActionTypeEnum::Forward)
                .forward_config(forward.build())
                .build(),
        )
        .build()
}

fn test_rule_conditions() -> Vec<elb::RuleCondition> {
    vec![
        elb::RuleCondition::builder()
            .field("host-header")
            .host_header_config(
                elb::HostHeaderConditionConfig::builder()
                    .values("*.test.example.com")
                    .build(),
            )
            .build(),
        elb::RuleCondition::builder()
            .field("path-pattern")
            .path_pattern_config(
                elb::PathPatternConditionConfig::builder()
                    .values("/api/*")
                    .build(),
            )
            .build(),
        elb::RuleCondition::builder()
            .field("http-header")
            .http_header_config(
                elb::HttpHeaderConditionConfig::builder()
                    .http_header_name("x-canary")
                    .values("beta*")
                    .build(),
            )
            .build(),
        elb::RuleCondition::builder()
            .field("source-ip")
            .values("10.0.0.0/8")
            .build(),
    ]
}

fn describe_rules(production: &'static [(&'static str, i32)]) -> MockRule {
    mock!(Elb::describe_rules)
        .match_requests(|input| input.rule_arns() == [PROD_RULE, TEST_RULE])
        .then_output(move || {
            DescribeRulesOutput::builder()
                .rules(rule(TEST_RULE, test_rule_conditions(), &[(TG_B, 1)]))
                .rules(rule(PROD_RULE, Vec::new(), production))
                .build()
        })
}

fn describe_listener() -> MockRule {
    mock!(Elb::describe_listeners)
        .match_requests(|input| input.listener_arns() == [TEST_LISTENER])
        .then_output(|| {
            DescribeListenersOutput::builder()
                .listeners(
                    elb::Listener::builder()
                        .listener_arn(TEST_LISTENER)
                        .load_balancer_arn(LB)
                        .port(8443)
                        .protocol(elb::ProtocolEnum::Https)
                        .build(),
                )
                .build()
        })
}

fn describe_load_balancer() -> MockRule {
    mock!(Elb::describe_load_balancers)
        .match_requests(|input| input.load_balancer_arns() == [LB])
        .then_output(|| {
            DescribeLoadBalancersOutput::builder()
                .load_balancers(
                    elb::LoadBalancer::builder()
                        .load_balancer_arn(LB)
                        .dns_name("web-123.us-west-2.elb.amazonaws.com")
                        .build(),
                )
                .build()
        })
}

// ----- revisions -----

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn green_and_blue_come_from_one_call_even_when_asked_concurrently() {
    let revisions = describe_revisions(&[GREEN, BLUE], Some(TG_B));
    let facts = facts(&shifting(), &[&revisions], &[]);
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let facts = facts.clone();
            tokio::spawn(async move {
                if i % 2 == 0 {
                    facts.green().await.map(|green| green.arn.clone())
                } else {
                    facts
                        .blue()
                        .await
                        .map(|blue| blue.expect("a blue").arn.clone())
                }
            })
        })
        .collect();
    for (i, task) in tasks.into_iter().enumerate() {
        let arn = task.await.expect("joined").expect("a revision");
        assert_eq!(arn, if i % 2 == 0 { GREEN } else { BLUE });
    }
    let (green, blue) = tokio::join!(facts.green(), facts.blue());
    assert_eq!(revisions.num_calls(), 1);

    let green = green.expect("green");
    assert_eq!(green.task_definition_arn, GREEN_TD);
    assert_eq!(
        green.containers,
        vec![
            ContainerImage {
                digest_by_consensus: false,
                container: "web".into(),
                image: "123456789012.dkr.ecr.us-west-2.amazonaws.com/web:1.8".into(),
                digest: Some("sha256:green".into()),
            },
            ContainerImage {
                digest_by_consensus: false,
                container: "log-router".into(),
                image: "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable".into(),
                digest: None,
            },
        ]
    );
    assert_eq!(green.target_group_arns, vec![TG_B]);
    assert_eq!(green.test_header, None);
    let blue = blue.expect("blue").expect("a blue");
    assert_eq!(blue.target_group_arns, vec![TG_A]);
}

#[tokio::test(start_paused = true)]
async fn blue_comes_from_the_source_revisions_when_the_event_has_no_weights() {
    let described = describe_deployment(&[BLUE]);
    let listed = list_deployments();
    let revisions = describe_revisions(&[GREEN, BLUE], None);
    let facts = facts(
        &event("PRE_SCALE_UP", json!({})),
        &[&described, &listed, &revisions],
        &[],
    );
    let (green, blue, deployment) = tokio::join!(facts.green(), facts.blue(), facts.deployment());
    assert_eq!(green.expect("green").arn, GREEN);
    assert_eq!(blue.expect("blue").expect("a blue").arn, BLUE);
    assert_eq!(deployment.expect("deployment").id, DEPLOYMENT);
    // The deployment was described once, for both the revisions and the deployment fact.
    assert_eq!(described.num_calls(), 1);
    assert_eq!(revisions.num_calls(), 1);
    assert_eq!(listed.num_calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_deployment_status_needs_only_the_describe_call() {
    // A throttled in-flight listing must not stand between a hook and its rollback's status.
    let described = describe_deployment(&[BLUE]);
    let throttled = mock!(Ecs::list_service_deployments)
        .then_http_response(|| ecs_error(400, "ThrottlingException", "Rate exceeded"));
    let facts = facts(
        &event("PRODUCTION_TRAFFIC_SHIFT", json!({})),
        &[&described, &throttled],
        &[],
    );
    let status = facts.deployment_status().await.expect("status");
    assert_eq!(status.status, "IN_PROGRESS");
    assert_eq!(throttled.num_calls(), 0);
    assert!(
        facts.deployment().await.is_err(),
        "the full fact still needs the listing"
    );
}

#[tokio::test(start_paused = true)]
async fn a_first_deployment_has_no_blue() {
    let described = describe_deployment(&[]);
    let revisions = describe_revisions(&[GREEN], None);
    let facts = facts(
        &event("PRE_SCALE_UP", json!({})),
        &[&described, &revisions],
        &[],
    );
    assert_eq!(facts.blue().await, Ok(None));
    assert_eq!(facts.green().await.expect("green").arn, GREEN);
    assert_eq!(revisions.num_calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn blue_that_cannot_be_learned_leaves_green_alone() {
    let denied = mock!(Ecs::describe_service_deployments)
        .then_http_response(|| ecs_error(400, "AccessDeniedException", "not authorized"));
    let revisions = describe_revisions(&[GREEN], None);
    let facts = facts(
        &event("PRE_SCALE_UP", json!({})),
        &[&denied, &revisions],
        &[],
    );
    assert!(facts.green().await.is_ok());
    assert!(matches!(
        facts.blue().await,
        Err(FactError::AccessDenied { action, .. }) if action == "ecs:DescribeServiceDeployments"
    ));
}

#[tokio::test(start_paused = true)]
async fn green_tasks_wait_for_a_blue_that_cannot_be_learned() {
    // On a redeploy of one task definition, blue's tasks run green's task definition: without
    // blue, nothing tells them apart, so the tasks fact carries the lookup's error.
    let denied = mock!(Ecs::describe_service_deployments)
        .then_http_response(|| ecs_error(400, "ThrottlingException", "Rate exceeded"));
    let revisions = describe_revisions(&[GREEN], None);
    let [running, stopped, tasks] = green_tasks_mocks();
    let facts = facts(
        &event("POST_SCALE_UP", json!({})),
        &[&denied, &revisions, &running, &stopped, &tasks],
        &[],
    );
    assert!(matches!(
        facts.green_tasks().await,
        Err(FactError::Throttled { action, .. }) if action == "ecs:DescribeServiceDeployments"
    ));
    assert_eq!(running.num_calls(), 0);
}

#[test]
fn resolved_target_groups_win_over_configured_ones() {
    let resolved = revision_from(&green_revision(Some(TG_B)), GREEN).expect("revision");
    assert_eq!(resolved.facts.target_group_arns, vec![TG_B]);

    // Unresolved, the configured pair does not say which group is green's.
    let unresolved = revision_from(&green_revision(None), GREEN).expect("revision");
    assert!(unresolved.facts.target_group_arns.is_empty());
    assert_eq!(
        unresolved.load_balancers.configured[0]
            .alternate_target_group
            .as_deref(),
        Some(TG_B)
    );

    // A single configured group (no blue/green pair) is unambiguous.
    let single = ecs::ServiceRevision::builder()
        .service_revision_arn(GREEN)
        .task_definition(GREEN_TD)
        .load_balancers(ecs::LoadBalancer::builder().target_group_arn(TG_A).build())
        .build();
    let single = revision_from(&single, GREEN).expect("revision");
    assert_eq!(single.facts.target_group_arns, vec![TG_A]);

    let no_task_definition = ecs::ServiceRevision::builder()
        .service_revision_arn(GREEN)
        .build();
    assert!(matches!(
        revision_from(&no_task_definition, GREEN),
        Err(FactError::Unexpected { .. })
    ));
}

#[test]
fn service_connect_test_headers_come_from_the_rules_or_the_default() {
    let alias = |rules: Option<ecs::ServiceConnectTestTrafficRules>| {
        ecs::ServiceConnectClientAlias::builder()
            .port(8080)
            .dns_name("web.internal")
            .set_test_traffic_rules(rules)
            .build()
            .expect("alias")
    };
    let config = |alias: ecs::ServiceConnectClientAlias| {
        ecs::ServiceConnectConfiguration::builder()
            .enabled(true)
            .services(
                ecs::ServiceConnectService::builder()
                    .port_name("http")
                    .client_aliases(alias)
                    .build()
                    .expect("service"),
            )
            .build()
    };
    let with_header = ecs::ServiceConnectTestTrafficRules::builder()
        .header(
            ecs::ServiceConnectTestTrafficHeaderRules::builder()
                .name("x-team-test")
                .value(
                    ecs::ServiceConnectTestTrafficHeaderMatchRules::builder()
                        .exact("green")
                        .build()
                        .expect("match"),
                )
                .build()
                .expect("header"),
        )
        .build();
    let (header, endpoint) = service_connect_test(Some(&config(alias(Some(with_header)))));
    assert_eq!(
        header,
        Some(HeaderMatch {
            name: "x-team-test".into(),
            value: "green".into()
        })
    );
    assert_eq!(
        endpoint,
        Some(ServiceConnectAlias {
            host: "web.internal".into(),
            port: 8080
        })
    );

    let (header, _) = service_connect_test(Some(&config(alias(None))));
    assert_eq!(header.map(|h| h.name), Some(DEFAULT_TEST_HEADER.to_owned()));

    let disabled = ecs::ServiceConnectConfiguration::builder()
        .enabled(false)
        .build();
    assert_eq!(service_connect_test(Some(&disabled)), (None, None));
    assert_eq!(service_connect_test(None), (None, None));
}

// ----- the deployment -----

#[tokio::test(start_paused = true)]
async fn the_deployment_names_counts_alarms_this_hooks_expiry_and_others_in_flight() {
    let described = describe_deployment(&[BLUE]);
    let listed = list_deployments();
    let facts = Arc::new(
        EcsFacts::with_clients(
            &shifting(),
            ecs_client(&[&described, &listed]),
            elb_client(&[]),
        )
        .expect("facts")
        .with_function_arn(format!("{FUNCTION}:live")),
    );
    let deployment = facts.deployment().await.expect("deployment");
    assert_eq!(deployment.status, "IN_PROGRESS");
    assert_eq!(
        deployment.started_at,
        Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000))
    );
    assert_eq!(
        deployment.green_tasks,
        TaskCounts {
            requested: 4,
            running: 3,
            pending: 1
        }
    );
    assert_eq!(deployment.alarm_names, vec!["web-5xx", "web-latency"]);
    assert_eq!(deployment.triggered_alarms, vec!["web-5xx"]);
    assert_eq!(deployment.rollback, None);
    assert_eq!(
        deployment.hook_expires_at,
        Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_003_600))
    );
    assert_eq!(deployment.other_in_flight, vec![OTHER_DEPLOYMENT]);
    let _ = facts.deployment().await;
    assert_eq!((described.num_calls(), listed.num_calls()), (1, 1));
}

#[test]
fn this_functions_hook_is_running_only_when_the_deployment_lists_it_in_progress() {
    let detail = |target: &str, status: ecs::DeploymentLifecycleHookStatus| {
        ecs::DeploymentLifecycleHookDetail::builder()
            .target_type(ecs::DeploymentLifecycleHookTargetType::AwsLambda)
            .target_arn(target)
            .status(status)
            .build()
    };
    const ME: &str = "arn:aws:lambda:us-west-2:123456789012:function:greenlight-post-scale-up";
    const OTHER: &str = "arn:aws:lambda:us-west-2:123456789012:function:team-hook";
    let running = [detail(ME, ecs::DeploymentLifecycleHookStatus::InProgress)];
    let done = [
        detail(ME, ecs::DeploymentLifecycleHookStatus::Succeeded),
        detail(OTHER, ecs::DeploymentLifecycleHookStatus::InProgress),
    ];
    let qualified = format!("{ME}:live");
    assert_eq!(hook_running(&running, Some(&qualified)), Some(true));
    assert_eq!(hook_running(&done, Some(ME)), Some(false));
    assert_eq!(hook_running(&done[1..], Some(ME)), None, "not listed");
    assert_eq!(hook_running(&running, None), None, "function unknown");
}

#[test]
fn hook_expiry_is_unknown_when_hooks_cannot_be_told_apart() {
    let described = described_deployment(&deployment(&[]), DEPLOYMENT, None).expect("deployment");
    // Two Lambda hooks are in progress and the function is not known.
    assert_eq!(described.facts.hook_expires_at, None);
}

#[test]
fn a_rollback_is_reported_with_its_reason() {
    let rolling_back = ecs::ServiceDeployment::builder()
        .service_deployment_arn(DEPLOYMENT)
        .status(ecs::ServiceDeploymentStatus::RollbackInProgress)
        .rollback(
            ecs::Rollback::builder()
                .reason("alarm web-5xx fired")
                .build(),
        )
        .build();
    let described = described_deployment(&rolling_back, DEPLOYMENT, None).expect("deployment");
    assert_eq!(
        described.facts.rollback.as_deref(),
        Some("alarm web-5xx fired")
    );

    let no_status = ecs::ServiceDeployment::builder()
        .service_deployment_arn(DEPLOYMENT)
        .build();
    assert!(matches!(
        described_deployment(&no_status, DEPLOYMENT, None),
        Err(FactError::Unexpected { .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn a_failure_for_the_deployment_is_not_found() {
    let described = mock!(Ecs::describe_service_deployments).then_output(|| {
        DescribeServiceDeploymentsOutput::builder()
            .failures(
                ecs::Failure::builder()
                    .arn(DEPLOYMENT)
                    .reason("MISSING")
                    .build(),
            )
            .build()
    });
    let listed = list_deployments();
    let facts = facts(&shifting(), &[&described, &listed], &[]);
    let error = facts.deployment().await.expect_err("missing");
    assert_eq!(
        error,
        FactError::NotFound {
            what: "service deployment".into(),
            resource: DEPLOYMENT.into()
        }
    );
    let outcome = error.to_outcome();
    assert_eq!(outcome.error_class, Some(ErrorClass::Permanent));
}

#[tokio::test(start_paused = true)]
async fn a_missing_revision_is_not_found_by_name() {
    let revisions = mock!(Ecs::describe_service_revisions).then_output(|| {
        DescribeServiceRevisionsOutput::builder()
            .service_revisions(green_revision(None))
            .failures(ecs::Failure::builder().arn(BLUE).reason("MISSING").build())
            .build()
    });
    let facts = facts(&shifting(), &[&revisions], &[]);
    assert!(facts.green().await.is_ok());
    assert_eq!(
        facts.blue().await,
        Err(FactError::NotFound {
            what: "blue service revision".into(),
            resource: BLUE.into()
        })
    );
}

// ----- errors -----

#[tokio::test(start_paused = true)]
async fn throttling_then_success_is_retried_by_the_sdk() {
    let revisions = mock!(Ecs::describe_service_revisions)
        .sequence()
        .http_response(|| ecs_error(400, "ThrottlingException", "Rate exceeded"))
        .output(|| revisions_output(vec![green_revision(None), blue_revision()]))
        .build();
    let facts = facts(&shifting(), &[&revisions], &[]);
    assert_eq!(facts.green().await.expect("green").arn, GREEN);
    assert_eq!(revisions.num_calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn throttled_throughout_is_a_transient_error_kept_for_the_invocation() {
    let revisions = mock!(Ecs::describe_service_revisions)
        .sequence()
        .http_response(|| ecs_error(400, "ThrottlingException", "Rate exceeded"))
        .times(5)
        .build();
    let facts = facts(&shifting(), &[&revisions], &[]);
    let error = facts.green().await.expect_err("throttled");
    assert!(
        matches!(&error, FactError::Throttled { action, .. } if action == "ecs:DescribeServiceRevisions"),
        "{error:?}"
    );
    assert_eq!(error.to_outcome().error_class, Some(ErrorClass::Transient));
    // Three attempts by the SDK, then the error is memoized: blue does not call again.
    assert_eq!(revisions.num_calls(), 3);
    assert!(facts.blue().await.is_err());
    assert_eq!(revisions.num_calls(), 3);
}

#[tokio::test(start_paused = true)]
async fn access_denied_names_the_action_and_resource() {
    let described = mock!(Ecs::describe_service_deployments).then_http_response(|| {
        ecs_error(
            400,
            "AccessDeniedException",
            "User is not authorized to perform: ecs:DescribeServiceDeployments",
        )
    });
    let listed = list_deployments();
    let facts = facts(&shifting(), &[&described, &listed], &[]);
    let error = facts.deployment().await.expect_err("denied");
    assert!(
        matches!(&error, FactError::AccessDenied { action, resource, .. }
            if action == "ecs:DescribeServiceDeployments" && resource == DEPLOYMENT),
        "{error:?}"
    );
    let outcome = error.to_outcome();
    assert_eq!(outcome.status, Status::Error);
    assert_eq!(outcome.error_class, Some(ErrorClass::Permanent));
    assert!(outcome.message.contains("ecs:DescribeServiceDeployments"));
    // Access denied is not retried.
    assert_eq!(described.num_calls(), 1);
}

// ----- tasks -----

#[tokio::test(start_paused = true)]
async fn green_tasks_are_filtered_by_task_definition_with_stopped_reasons() {
    let revisions = describe_revisions(&[GREEN, BLUE], Some(TG_B));
    let running = mock!(Ecs::list_tasks)
        .match_requests(|input| input.desired_status() == Some(&ecs::DesiredStatus::Running))
        .then_output(|| {
            ListTasksOutput::builder()
                .task_arns(task_arn(1))
                .task_arns(task_arn(2))
                .build()
        });
    let stopped = mock!(Ecs::list_tasks)
        .match_requests(|input| input.desired_status() == Some(&ecs::DesiredStatus::Stopped))
        .then_output(|| ListTasksOutput::builder().task_arns(task_arn(3)).build());
    let described = mock!(Ecs::describe_tasks)
        .match_requests(|input| input.tasks().len() == 3 && input.cluster() == Some("web-cluster"))
        .then_output(|| {
            DescribeTasksOutput::builder()
                .tasks(task(&task_arn(1), GREEN_TD, None))
                // Blue's task, which the service filter alone would not drop.
                .tasks(task(&task_arn(2), BLUE_TD, None))
                .tasks(task(
                    &task_arn(3),
                    GREEN_TD,
                    Some("Essential container in task exited"),
                ))
                .build()
        });
    let facts = facts(
        &shifting(),
        &[&revisions, &running, &stopped, &described],
        &[],
    );
    let tasks = facts.green_tasks().await.expect("tasks");
    let arns: Vec<&str> = tasks.iter().map(|task| task.arn.as_str()).collect();
    assert_eq!(arns, vec![task_arn(1), task_arn(3)]);
    let stopped_task = &tasks[1];
    assert_eq!(stopped_task.last_status, "STOPPED");
    assert_eq!(
        stopped_task.stopped_reason.as_deref(),
        Some("Essential container in task exited")
    );
    assert_eq!(stopped_task.private_ip.as_deref(), Some("10.0.1.23"));
    assert_eq!(stopped_task.containers[0].exit_code, Some(137));
    assert_eq!(
        stopped_task.containers[0].reason.as_deref(),
        Some("OutOfMemoryError: container killed")
    );
    assert_eq!(
        tasks[0].containers[0].image_digest.as_deref(),
        Some("sha256:green")
    );
    assert_eq!(described.num_calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn tasks_are_described_in_batches_of_one_hundred() {
    let revisions = describe_revisions(&[GREEN, BLUE], Some(TG_B));
    let running = mock!(Ecs::list_tasks)
        .match_requests(|input| {
            input.desired_status() == Some(&ecs::DesiredStatus::Running)
                && input.next_token().is_none()
        })
        .then_output(|| {
            ListTasksOutput::builder()
                .set_task_arns(Some((0..100).map(task_arn).collect()))
                .next_token("page-2")
                .build()
        });
    let running_page_2 = mock!(Ecs::list_tasks)
        .match_requests(|input| input.next_token() == Some("page-2"))
        .then_output(|| {
            ListTasksOutput::builder()
                .set_task_arns(Some((100..150).map(task_arn).collect()))
                .build()
        });
    let stopped = mock!(Ecs::list_tasks)
        .match_requests(|input| input.desired_status() == Some(&ecs::DesiredStatus::Stopped))
        .then_output(|| ListTasksOutput::builder().build());
    let described = mock!(Ecs::describe_tasks)
        .match_requests(|input| input.tasks().len() <= 100)
        .then_compute_output(|input| {
            DescribeTasksOutput::builder()
                .set_tasks(Some(
                    input
                        .tasks()
                        .iter()
                        .map(|arn| task(arn, GREEN_TD, None))
                        .collect(),
                ))
                .build()
        });
    let facts = facts(
        &shifting(),
        &[&revisions, &running, &running_page_2, &stopped, &described],
        &[],
    );
    assert_eq!(facts.green_tasks().await.expect("tasks").len(), 150);
    assert_eq!(described.num_calls(), 2);
    assert_eq!((running.num_calls(), running_page_2.num_calls()), (1, 1));
}

fn shared_task(n: usize, started_by: Option<&str>, created: Option<i64>) -> ecs::Task {
    ecs::Task::builder()
        .task_arn(task_arn(n))
        .task_definition_arn(GREEN_TD)
        .last_status("RUNNING")
        .desired_status("RUNNING")
        .set_started_by(started_by.map(str::to_owned))
        .set_created_at(created.map(DateTime::from_secs))
        .containers(
            ecs::Container::builder()
                .name("web")
                .image("123456789012.dkr.ecr.us-west-2.amazonaws.com/web@sha256:pinned")
                .last_status("RUNNING")
                .build(),
        )
        .build()
}

fn redeploy(started: Option<i64>) -> GreenTaskIdentity {
    GreenTaskIdentity {
        revision_arn: GREEN.to_owned(),
        task_definition_arn: GREEN_TD.to_owned(),
        blue: Some(BlueTaskIdentity {
            revision_arn: BLUE.to_owned(),
            task_definition_arn: GREEN_TD.to_owned(),
        }),
        deployment_started_at: started
            .map(|secs| SystemTime::UNIX_EPOCH + Duration::from_secs(secs as u64)),
    }
}

fn arns(tasks: &[TaskFacts]) -> Vec<String> {
    tasks.iter().map(|task| task.arn.clone()).collect()
}

#[test]
fn a_redeploy_of_the_same_task_definition_tells_tasks_apart_by_started_by_then_creation() {
    let green_starter = "ecs-svc/9313423515462893900";
    let blue_starter = "ecs-svc/1920498462936580504";
    let tasks = [
        shared_task(1, Some(green_starter), Some(100)),
        // Blue's, though created after the deployment began (a replacement): startedBy wins.
        shared_task(2, Some(blue_starter), Some(2_000)),
        // No startedBy: the creation time decides.
        shared_task(3, None, Some(2_000)),
        shared_task(4, None, Some(500)),
        // Another starter entirely (a scheduled task of the same definition): time decides.
        shared_task(5, Some("events-rule/nightly"), Some(100)),
    ];
    let green = select_green_tasks(&tasks, &redeploy(Some(1_000))).expect("tasks");
    assert_eq!(arns(&green), vec![task_arn(1), task_arn(3)]);

    // Without the deployment's start, tasks that startedBy does not place are left out…
    let green = select_green_tasks(&tasks, &redeploy(None)).expect("tasks");
    assert_eq!(arns(&green), vec![task_arn(1)]);

    // …and when none can be placed, the fact is not ready, saying why.
    let unplaced = [shared_task(3, None, None), shared_task(4, None, Some(5))];
    let error = select_green_tasks(&unplaced, &redeploy(None)).expect_err("undecidable");
    let FactError::NotReady { detail, .. } = &error else {
        panic!("{error:?}")
    };
    assert!(detail.contains("both run task definition"), "{detail}");
    assert!(detail.contains(green_starter), "{detail}");
}

#[test]
fn distinct_task_definitions_are_identity_enough() {
    let mut identity = redeploy(None);
    identity.blue = Some(BlueTaskIdentity {
        revision_arn: BLUE.to_owned(),
        task_definition_arn: BLUE_TD.to_owned(),
    });
    let tasks = [
        shared_task(1, None, None),
        task(&task_arn(2), BLUE_TD, None),
        // startedBy is not consulted: the task definition already says green.
        shared_task(3, Some("ecs-svc/1920498462936580504"), None),
    ];
    let green = select_green_tasks(&tasks, &identity).expect("tasks");
    assert_eq!(arns(&green), vec![task_arn(1), task_arn(3)]);
    // A pinned image reference stands in for a digest the task does not report.
    assert_eq!(
        green[0].containers[0].image_digest.as_deref(),
        Some("sha256:pinned")
    );
}

#[tokio::test(start_paused = true)]
async fn a_redeploy_reads_the_deployment_start_to_tell_tasks_apart() {
    let described = describe_deployment(&[BLUE]);
    // Blue's revision runs green's task definition.
    let revisions = mock!(Ecs::describe_service_revisions).then_output(|| {
        let mut blue = blue_revision();
        blue.task_definition = Some(GREEN_TD.to_owned());
        revisions_output(vec![green_revision(Some(TG_B)), blue])
    });
    let running = mock!(Ecs::list_tasks)
        .match_requests(|input| input.desired_status() == Some(&ecs::DesiredStatus::Running))
        .then_output(|| {
            ListTasksOutput::builder()
                .task_arns(task_arn(1))
                .task_arns(task_arn(2))
                .build()
        });
    let stopped = mock!(Ecs::list_tasks)
        .match_requests(|input| input.desired_status() == Some(&ecs::DesiredStatus::Stopped))
        .then_output(|| ListTasksOutput::builder().build());
    let tasks = mock!(Ecs::describe_tasks).then_output(|| {
        DescribeTasksOutput::builder()
            // The deployment started at 1_700_000_000.
            .tasks(shared_task(1, None, Some(1_600_000_000)))
            .tasks(shared_task(2, None, Some(1_700_000_100)))
            .build()
    });
    let facts = facts(
        &shifting(),
        &[&described, &revisions, &running, &stopped, &tasks],
        &[],
    );
    let green = facts.green_tasks().await.expect("tasks");
    assert_eq!(arns(&green), vec![task_arn(2)]);
    assert_eq!(described.num_calls(), 1);
}

// ----- routing -----

#[test]
fn deployment_alarm_names_are_split_on_commas_as_documented() {
    assert_eq!(
        split_alarm_names(&["web-5xx,web-latency".to_owned(), " db-errors ".to_owned()]),
        vec!["web-5xx", "web-latency", "db-errors"]
    );
    assert_eq!(split_alarm_names(&["web-5xx".to_owned()]), vec!["web-5xx"]);
    assert!(split_alarm_names(&[String::new()]).is_empty());
}

#[tokio::test(start_paused = true)]
async fn an_nlb_is_routed_by_its_listeners_default_actions() {
    // ECS names listeners, not rules, for a Network Load Balancer (botocore
    // AdvancedConfiguration): the weights are in each listener's default forward action.
    const NLB: &str =
        "arn:aws:elasticloadbalancing:us-west-2:123456789012:loadbalancer/net/web/50dc6c495c0c9188";
    const NLB_PROD: &str = "arn:aws:elasticloadbalancing:us-west-2:123456789012:listener/net/web/50dc6c495c0c9188/1111";
    const NLB_TEST: &str = "arn:aws:elasticloadbalancing:us-west-2:123456789012:listener/net/web/50dc6c495c0c9188/2222";
    let nlb_pair = || {
        ecs::LoadBalancer::builder()
            .target_group_arn(TG_A)
            .container_name("web")
            .container_port(8080)
            .advanced_configuration(
                ecs::AdvancedConfiguration::builder()
                    .alternate_target_group_arn(TG_B)
                    .production_listener_rule(NLB_PROD)
                    .test_listener_rule(NLB_TEST)
                    .role_arn("arn:aws:iam::123456789012:role/ecs-infrastructure-elb")
                    .build(),
            )
            .build()
    };
    let described = describe_deployment(&[BLUE]);
    let revisions = mock!(Ecs::describe_service_revisions).then_output(move || {
        let mut green = green_revision(None);
        green.load_balancers = Some(vec![nlb_pair()]);
        let mut blue = blue_revision();
        blue.load_balancers = Some(vec![nlb_pair()]);
        revisions_output(vec![green, blue])
    });
    let weighted = |green: i32, blue: i32| {
        elb::Action::builder()
            .r#type(elb::ActionTypeEnum::Forward)
            .forward_config(
                elb::ForwardActionConfig::builder()
                    .target_groups(
                        elb::TargetGroupTuple::builder()
                            .target_group_arn(TG_A)
                            .weight(blue)
                            .build(),
                    )
                    .target_groups(
                        elb::TargetGroupTuple::builder()
                            .target_group_arn(TG_B)
                            .weight(green)
                            .build(),
                    )
                    .build(),
            )
            .build()
    };
    let listeners = mock!(Elb::describe_listeners)
        .match_requests(|input| input.listener_arns() == [NLB_PROD.to_owned(), NLB_TEST.to_owned()])
        .then_output(move || {
            let listener = |arn: &str, port: i32, action: elb::Action| {
                elb::Listener::builder()
                    .listener_arn(arn)
                    .load_balancer_arn(NLB)
                    .port(port)
                    .protocol(elb::ProtocolEnum::Tcp)
                    .default_actions(action)
                    .build()
            };
            DescribeListenersOutput::builder()
                .listeners(listener(NLB_PROD, 80, weighted(0, 100)))
                .listeners(listener(NLB_TEST, 8080, weighted(100, 0)))
                .build()
        });
    let balancer = mock!(Elb::describe_load_balancers).then_output(|| {
        DescribeLoadBalancersOutput::builder()
            .load_balancers(
                elb::LoadBalancer::builder()
                    .load_balancer_arn(NLB)
                    .dns_name("web-nlb.elb.us-west-2.amazonaws.com")
                    .build(),
            )
            .build()
    });
    let rules = mock!(Elb::describe_rules).then_output(|| DescribeRulesOutput::builder().build());
    // Green's group is not resolved: it is the one green's task is registered in.
    let [running, stopped, tasks] = green_tasks_mocks();
    let in_a = target_health(TG_A, "10.0.9.9");
    let in_b = target_health(TG_B, "10.0.1.23");
    let facts = facts(
        &event("POST_TEST_TRAFFIC_SHIFT", json!({})),
        &[&described, &revisions, &running, &stopped, &tasks],
        &[&listeners, &balancer, &rules, &in_a, &in_b],
    );
    let routing = facts.routing().await.expect("routing");
    assert_eq!((listeners.num_calls(), rules.num_calls()), (1, 0));
    assert_eq!(routing.green_target_group.as_deref(), Some(TG_B));
    assert!(routing.has_load_balancer());
    let production = routing.production_rule.as_ref().expect("production");
    assert_eq!(production.rule_arn, NLB_PROD);
    assert_eq!(production.listener_arn, NLB_PROD);
    assert_eq!(
        production.forwards,
        vec![(TG_A.to_owned(), 100.0), (TG_B.to_owned(), 0.0)]
    );
    let test = routing.test_rule.as_ref().expect("test");
    assert_eq!(
        test.forwards,
        vec![(TG_A.to_owned(), 0.0), (TG_B.to_owned(), 100.0)]
    );
    assert!(test.conditions.is_empty());
    assert_eq!(routing.load_balancer_arn.as_deref(), Some(NLB));
    let endpoint = routing.test_endpoint.as_ref().expect("test endpoint");
    assert_eq!(
        endpoint.base_url,
        "http://web-nlb.elb.us-west-2.amazonaws.com:8080"
    );
}

/// A blue/green service behind an ALB with production and test rules, green's group (TG_B)
/// resolved by ECS, and no weights in the event (blue comes from the deployment).
struct ResolvedBlueGreen {
    described: MockRule,
    revisions: MockRule,
    rules: MockRule,
    listener: MockRule,
    balancer: MockRule,
}

impl ResolvedBlueGreen {
    fn new() -> Self {
        ResolvedBlueGreen {
            described: describe_deployment(&[BLUE]),
            revisions: describe_revisions(&[GREEN, BLUE], Some(TG_B)),
            rules: describe_rules(&[(TG_A, 100), (TG_B, 0)]),
            listener: describe_listener(),
            balancer: describe_load_balancer(),
        }
    }

    fn facts_at(&self, stage: &str) -> Arc<EcsFacts> {
        facts(
            &event(stage, json!({})),
            &[&self.described, &self.revisions],
            &[&self.rules, &self.listener, &self.balancer],
        )
    }

    /// The ELB calls made: (DescribeRules, DescribeListeners, DescribeLoadBalancers).
    fn elb_calls(&self) -> (usize, usize, usize) {
        (
            self.rules.num_calls(),
            self.listener.num_calls(),
            self.balancer.num_calls(),
        )
    }
}

#[tokio::test(start_paused = true)]
async fn routing_describes_both_rules_in_one_call_and_builds_the_test_endpoint() {
    let service = ResolvedBlueGreen::new();
    let facts = service.facts_at("POST_TEST_TRAFFIC_SHIFT");
    let (routing, again) = tokio::join!(facts.routing(), facts.routing());
    let routing = routing.expect("routing");
    assert_eq!(again.expect("routing"), routing);
    assert_eq!(service.elb_calls(), (1, 1, 1));
    assert_eq!(routing.green_target_group.as_deref(), Some(TG_B));
    assert_eq!(routing.blue_target_group.as_deref(), Some(TG_A));
    assert_eq!(routing.load_balancer_arn.as_deref(), Some(LB));
    let production = routing.production_rule.as_ref().expect("production rule");
    assert_eq!(production.listener_arn, PROD_LISTENER);
    assert_eq!(
        production.forwards,
        vec![(TG_A.to_owned(), 100.0), (TG_B.to_owned(), 0.0)]
    );
    let test = routing.test_rule.as_ref().expect("test rule");
    assert_eq!(test.listener_arn, TEST_LISTENER);
    assert_eq!(
        test.conditions,
        vec![
            RuleCondition::Host(vec!["*.test.example.com".into()]),
            RuleCondition::Path(vec!["/api/*".into()]),
            RuleCondition::Header {
                name: "x-canary".into(),
                values: vec!["beta*".into()]
            },
            RuleCondition::Other("source-ip".into()),
        ]
    );
    assert_eq!(
        routing.test_endpoint,
        Some(TestEndpoint {
            base_url: "https://web-123.us-west-2.elb.amazonaws.com:8443".into(),
            host: Some("test.test.example.com".into()),
            path: Some("/api/".into()),
            headers: vec![HeaderMatch {
                name: "x-canary".into(),
                value: "beta".into()
            }],
        })
    );
}

#[tokio::test(start_paused = true)]
async fn target_groups_resolved_by_ecs_read_no_listener_or_rule() {
    // What `target_health` asks for at every judgement while targets come into service: on a
    // crowded account, ELB's describe budget is shared by every deployment.
    let service = ResolvedBlueGreen::new();
    let facts = service.facts_at("POST_SCALE_UP");
    let (groups, again) = tokio::join!(facts.target_groups(), facts.target_groups());
    let groups = groups.expect("target groups");
    assert_eq!(again.expect("target groups"), groups);
    assert_eq!(groups.green.as_deref(), Some(TG_B));
    assert_eq!(groups.blue.as_deref(), Some(TG_A));
    assert!(groups.load_balanced);
    assert_eq!(service.elb_calls(), (0, 0, 0));
    // Routing, asked later in the same invocation, builds on the same target groups.
    let routing = facts.routing().await.expect("routing");
    assert_eq!(routing.green_target_group.as_deref(), Some(TG_B));
    assert_eq!(routing.blue_target_group.as_deref(), Some(TG_A));
    assert_eq!(service.revisions.num_calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn green_health_check_reads_green_target_group_once_as_elb_declares_it() {
    let described = describe_deployment(&[BLUE]);
    let revisions = describe_revisions(&[GREEN, BLUE], Some(TG_B));
    let rules = describe_rules(&[(TG_A, 100), (TG_B, 0)]);
    let listener = describe_listener();
    let balancer = describe_load_balancer();
    let groups = mock!(Elb::describe_target_groups)
        .match_requests(|input| input.target_group_arns() == [TG_B])
        .then_output(|| {
            DescribeTargetGroupsOutput::builder()
                .target_groups(
                    elb::TargetGroup::builder()
                        .target_group_arn(TG_B)
                        .port(8080)
                        .health_check_protocol(elb::ProtocolEnum::Http)
                        .health_check_port("traffic-port")
                        .health_check_path("/healthz")
                        .matcher(elb::Matcher::builder().http_code("200-299").build())
                        .protocol_version("HTTP1")
                        .build(),
                )
                .build()
        });
    let facts = facts(
        &event("POST_TEST_TRAFFIC_SHIFT", json!({})),
        &[&described, &revisions],
        &[&rules, &listener, &balancer, &groups],
    );
    let (health, again) = tokio::join!(facts.green_health_check(), facts.green_health_check());
    let health = health.expect("health check");
    assert_eq!(again.expect("health check"), health);
    assert_eq!(groups.num_calls(), 1);
    assert_eq!(
        *health,
        HealthCheckFacts {
            target_group_arn: TG_B.into(),
            target_group_port: Some(8080),
            protocol: Some("HTTP".into()),
            port: Some("traffic-port".into()),
            path: Some("/healthz".into()),
            http_codes: Some("200-299".into()),
            grpc_codes: None,
            protocol_version: Some("HTTP1".into()),
        }
    );
}

#[tokio::test(start_paused = true)]
async fn a_target_group_elb_does_not_know_is_not_found_and_a_denial_names_the_action() {
    let described = describe_deployment(&[BLUE]);
    let revisions = describe_revisions(&[GREEN, BLUE], Some(TG_B));
    let rules = describe_rules(&[(TG_A, 100), (TG_B, 0)]);
    let listener = describe_listener();
    let balancer = describe_load_balancer();
    let missing = mock!(Elb::describe_target_groups).then_http_response(|| {
        elb_error(
            400,
            "TargetGroupNotFound",
            "One or more target groups not found",
        )
    });
    let facts = facts(
        &event("POST_TEST_TRAFFIC_SHIFT", json!({})),
        &[&described, &revisions],
        &[&rules, &listener, &balancer, &missing],
    );
    let error = facts.green_health_check().await.expect_err("not found");
    assert!(
        matches!(&error, FactError::NotFound { resource, .. } if resource == TG_B),
        "{error:?}"
    );
    let denied = mock!(Elb::describe_target_groups).then_http_response(|| {
        elb_error(
            403,
            "AccessDenied",
            "not authorized to perform: elasticloadbalancing:DescribeTargetGroups",
        )
    });
    let facts = self::facts(
        &event("POST_TEST_TRAFFIC_SHIFT", json!({})),
        &[&described, &revisions],
        &[&rules, &listener, &balancer, &denied],
    );
    let error = facts.green_health_check().await.expect_err("denied");
    assert!(
        matches!(&error, FactError::AccessDenied { action, .. } if action == "elasticloadbalancing:DescribeTargetGroups"),
        "{error:?}"
    );
}

fn green_tasks_mocks() -> [MockRule; 3] {
    let running = mock!(Ecs::list_tasks)
        .match_requests(|input| input.desired_status() == Some(&ecs::DesiredStatus::Running))
        .then_output(|| ListTasksOutput::builder().task_arns(task_arn(1)).build());
    let stopped = mock!(Ecs::list_tasks)
        .match_requests(|input| input.desired_status() == Some(&ecs::DesiredStatus::Stopped))
        .then_output(|| ListTasksOutput::builder().build());
    let described = mock!(Ecs::describe_tasks).then_output(|| {
        DescribeTasksOutput::builder()
            .tasks(task(&task_arn(1), GREEN_TD, None))
            .build()
    });
    [running, stopped, described]
}

fn target_health(group: &'static str, ip: &'static str) -> MockRule {
    mock!(Elb::describe_target_health)
        .match_requests(move |input| input.target_group_arn() == Some(group))
        .then_output(move || {
            DescribeTargetHealthOutput::builder()
                .target_health_descriptions(
                    elb::TargetHealthDescription::builder()
                        .target(elb::TargetDescription::builder().id(ip).port(8080).build())
                        .build(),
                )
                .build()
        })
}

#[tokio::test(start_paused = true)]
async fn unresolved_green_target_group_is_where_green_tasks_are_registered() {
    // ECS has not resolved green's group. The production rule sends everything to TG_A; green's
    // task (10.0.1.23) is registered in TG_B, so TG_B is green whatever the weights say.
    let described = describe_deployment(&[BLUE]);
    let revisions = describe_revisions(&[GREEN, BLUE], None);
    let [running, stopped, tasks] = green_tasks_mocks();
    let rules = describe_rules(&[(TG_A, 1), (TG_B, 0)]);
    let listener = describe_listener();
    let balancer = describe_load_balancer();
    let in_a = target_health(TG_A, "10.0.9.9");
    let in_b = target_health(TG_B, "10.0.1.23");
    let facts = facts(
        &event("POST_SCALE_UP", json!({})),
        &[&described, &revisions, &running, &stopped, &tasks],
        &[&rules, &listener, &balancer, &in_a, &in_b],
    );
    assert!(
        facts
            .green()
            .await
            .expect("green")
            .target_group_arns
            .is_empty()
    );
    let routing = facts.routing().await.expect("routing");
    assert_eq!(routing.green_target_group.as_deref(), Some(TG_B));
    assert_eq!(routing.blue_target_group.as_deref(), Some(TG_A));
}

#[tokio::test(start_paused = true)]
async fn unresolved_green_target_group_is_never_read_off_the_weights() {
    // The rule sends 100% to TG_A and green's task is registered in neither group: reading
    // the weights would call TG_A green at 100% and pass `routing`; the group stays unknown.
    let described = describe_deployment(&[BLUE]);
    let revisions = describe_revisions(&[GREEN, BLUE], None);
    let [running, stopped, tasks] = green_tasks_mocks();
    let rules = describe_rules(&[(TG_A, 1), (TG_B, 0)]);
    let listener = describe_listener();
    let balancer = describe_load_balancer();
    let in_a = target_health(TG_A, "10.0.9.9");
    let in_b = target_health(TG_B, "10.0.9.8");
    let facts = facts(
        &event("PRODUCTION_TRAFFIC_SHIFT", json!({})),
        &[&described, &revisions, &running, &stopped, &tasks],
        &[&rules, &listener, &balancer, &in_a, &in_b],
    );
    let routing = facts.routing().await.expect("routing");
    assert_eq!(routing.green_target_group, None);
    assert_eq!(in_a.num_calls() + in_b.num_calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_service_without_a_load_balancer_has_empty_routing() {
    let revisions = mock!(Ecs::describe_service_revisions).then_output(|| {
        revisions_output(vec![
            ecs::ServiceRevision::builder()
                .service_revision_arn(GREEN)
                .task_definition(GREEN_TD)
                .build(),
            ecs::ServiceRevision::builder()
                .service_revision_arn(BLUE)
                .task_definition(BLUE_TD)
                .build(),
        ])
    });
    // No ELBv2 rule: any ELBv2 call would fail the test.
    let facts = facts(&shifting(), &[&revisions], &[]);
    let routing = facts.routing().await.expect("routing");
    assert_eq!(*routing, RoutingFacts::default());
}

#[tokio::test(start_paused = true)]
async fn a_missing_rule_is_not_found_naming_the_rules() {
    let revisions = describe_revisions(&[GREEN, BLUE], Some(TG_B));
    let rules = mock!(Elb::describe_rules)
        .then_http_response(|| elb_error(400, "RuleNotFound", "One or more rules not found"));
    let listener = describe_listener();
    let balancer = describe_load_balancer();
    let facts = facts(&shifting(), &[&revisions], &[&rules, &listener, &balancer]);
    let error = facts.routing().await.expect_err("missing");
    assert_eq!(
        error,
        FactError::NotFound {
            what: "listener rule".into(),
            resource: format!("{PROD_RULE}, {TEST_RULE}")
        }
    );
}

#[tokio::test(start_paused = true)]
async fn elb_access_denied_names_the_elb_action() {
    let revisions = describe_revisions(&[GREEN, BLUE], Some(TG_B));
    let rules = describe_rules(&[(TG_A, 100), (TG_B, 0)]);
    let listener = mock!(Elb::describe_listeners)
        .then_http_response(|| elb_error(403, "AccessDenied", "not authorized"));
    let balancer = describe_load_balancer();
    let facts = facts(&shifting(), &[&revisions], &[&rules, &listener, &balancer]);
    let error = facts.routing().await.expect_err("denied");
    assert!(
        matches!(&error, FactError::AccessDenied { action, resource, .. }
            if action == "elasticloadbalancing:DescribeListeners" && resource == TEST_LISTENER),
        "{error:?}"
    );
}

#[test]
fn target_groups_are_assigned_from_resolution_or_registered_tasks() {
    let pair = || Some((TG_A.to_owned(), TG_B.to_owned()));
    let some = |arn: &str| Some(arn.to_owned());
    let cases = [
        // (resolved green, green registered in [A, B]) → (green, blue, source)
        (
            some(TG_B),
            Some([true, false]),
            (some(TG_B), some(TG_A), TargetGroupSource::Resolved),
        ),
        (
            None,
            Some([false, true]),
            (some(TG_B), some(TG_A), TargetGroupSource::RegisteredTasks),
        ),
        (
            None,
            Some([true, false]),
            (some(TG_A), some(TG_B), TargetGroupSource::RegisteredTasks),
        ),
        // In both, in neither, or unknown: no guess.
        (
            None,
            Some([true, true]),
            (None, None, TargetGroupSource::Unknown),
        ),
        (
            None,
            Some([false, false]),
            (None, None, TargetGroupSource::Unknown),
        ),
        (None, None, (None, None, TargetGroupSource::Unknown)),
    ];
    for (resolved, registered_in, (green, blue, source)) in cases {
        let groups = assign_target_groups(resolved.clone(), None, pair(), registered_in);
        assert_eq!(
            groups,
            TargetGroups {
                green,
                blue,
                source
            },
            "resolved {resolved:?}, registered in {registered_in:?}"
        );
    }
}

#[test]
fn listener_and_load_balancer_arns_are_parts_of_the_rule_arn() {
    assert_eq!(
        listener_arn_of_rule(TEST_RULE).expect("listener"),
        TEST_LISTENER
    );
    assert_eq!(
        load_balancer_arn_of_listener(TEST_LISTENER).expect("lb"),
        LB
    );
    for bad in [
        "",
        TG_A,
        "arn:aws:elasticloadbalancing:us-west-2:1:listener-rule/app/web",
    ] {
        assert!(listener_arn_of_rule(bad).is_err(), "{bad}");
    }
    assert!(load_balancer_arn_of_listener(LB).is_err());
}

#[test]
fn wildcard_patterns_become_literals_that_match_them() {
    assert_eq!(literal("/api/*", ""), "/api/");
    assert_eq!(literal("/v?/health", ""), "/vx/health");
    assert_eq!(literal("*.example.com", "test"), "test.example.com");
    let endpoint = |conditions: Vec<RuleCondition>| {
        alb_test_endpoint(
            &ListenerRuleFacts {
                rule_arn: TEST_RULE.into(),
                listener_arn: TEST_LISTENER.into(),
                forwards: Vec::new(),
                conditions,
            },
            &ListenerFacts {
                arn: TEST_LISTENER.into(),
                port: 80,
                secure: false,
                load_balancer_arn: None,
                default_forwards: Vec::new(),
            },
            "lb.example.com",
        )
    };
    let plain = endpoint(vec![
        RuleCondition::Host(vec!["*.a.example.com".into(), "b.example.com".into()]),
        RuleCondition::Path(vec!["*".into()]),
        RuleCondition::Header {
            name: "x-any".into(),
            values: vec!["*".into()],
        },
    ]);
    assert_eq!(plain.base_url, "http://lb.example.com:80");
    assert_eq!(plain.host.as_deref(), Some("b.example.com"));
    assert_eq!(plain.path.as_deref(), Some("/"));
    assert_eq!(plain.headers[0].value, "test");
    assert_eq!(endpoint(Vec::new()).host, None);
}

#[test]
fn blue_is_the_busiest_other_revision() {
    let third =
        "arn:aws:ecs:us-west-2:123456789012:service-revision/web-cluster/web/1111111111111111111";
    let event = event(
        "PRODUCTION_TRAFFIC_SHIFT",
        json!({ GREEN: 50, BLUE: 40, third: 10 }),
    );
    assert_eq!(blue_from_event(&event).as_deref(), Some(BLUE));
    assert_eq!(blue_from_event(&shifting()).as_deref(), Some(BLUE));
    assert_eq!(
        blue_from_event(&super::tests::event("PRE_SCALE_UP", json!({}))),
        None
    );

    let source = |arn: &str, weight: f64| SourceRevision {
        arn: arn.into(),
        production_weight: Some(weight),
        running: 1,
    };
    assert_eq!(
        blue_from_sources(&[source(third, 0.0), source(BLUE, 100.0)], GREEN).as_deref(),
        Some(BLUE)
    );
    assert_eq!(blue_from_sources(&[source(GREEN, 100.0)], GREEN), None);
}
