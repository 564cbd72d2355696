//! Stack building (`greenlight_sim::stack`) against moto, read back through the real SDK clients:
//! what a rehearsal's world holds before its deployment starts is what ECS, ELB, ECR and CloudWatch
//! would hold for such a service. The rehearsals rely on it without looking; these tests look.

use std::collections::BTreeMap;
use std::path::PathBuf;

use aws_sdk_ecr::types::ImageIdentifier;
use aws_sdk_ecs::types::DeploymentControllerType;
use greenlight_sim::LocalAws;
use greenlight_sim::codedeploy::CodeDeploySim;
use greenlight_sim::lb::LoadBalancerPlane;
use greenlight_sim::scenario::Scenario;
use greenlight_sim::scenario::format::HealthCheckSpec;
use greenlight_sim::scenario::format::Topology;
use greenlight_sim::stack::codedeploy::{CodeDeployStack, CodeDeployStackSpec};
use greenlight_sim::stack::ecs::{Stack, build, function_arn};
use greenlight_sim::world::{TaskDigests, World};

use crate::parts::local_aws_with;

/// A library scenario under names of its own (moto is shared by the whole binary).
fn scenario(file: &str, name: &str, topology: Topology) -> Scenario {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("scenarios/{file}.yaml"));
    let mut scenario = Scenario::load(&path).unwrap_or_else(|error| panic!("{error}"));
    scenario.service.cluster = format!("stack-{name}");
    scenario.service.name = format!("svc-{name}");
    scenario.service.topology = topology;
    for revision in [&mut scenario.revisions.blue, &mut scenario.revisions.green] {
        revision.image.repository = format!("stack-{name}");
    }
    for alarm in &mut scenario.world.alarms {
        alarm.name = format!("{}-{name}", alarm.name);
    }
    scenario.world.deployment_alarms = scenario
        .world
        .deployment_alarms
        .iter()
        .map(|alarm| format!("{alarm}-{name}"))
        .collect();
    scenario
}

struct Built {
    aws: LocalAws,
    world: World,
    stack: Stack,
    _plane: LoadBalancerPlane,
}

async fn build_stack(scenario: &Scenario) -> Built {
    let world = World::new();
    let aws = local_aws_with(&world).await;
    let plane = LoadBalancerPlane::new(aws.moto().endpoint_url(), &world);
    let digests = TaskDigests::default();
    let stack = build(scenario, &aws, &world, &plane, &digests)
        .await
        .unwrap_or_else(|error| panic!("building {}: {error}", scenario.name));
    Built {
        aws,
        world,
        stack,
        _plane: plane,
    }
}

/// The (target group ARN, weight) pairs a rule or listener action forwards to.
fn weights(actions: &[aws_sdk_elasticloadbalancingv2::types::Action]) -> BTreeMap<String, i32> {
    actions
        .iter()
        .filter_map(|action| action.forward_config())
        .flat_map(|forward| forward.target_groups())
        .map(|group| {
            (
                group.target_group_arn().unwrap_or_default().to_owned(),
                group.weight().unwrap_or_default(),
            )
        })
        .collect()
}

#[tokio::test]
async fn an_alb_service_is_built_as_ecs_would_hold_it_before_the_deployment() {
    let scenario = scenario("good-blue-green", "alb", Topology::Alb);
    let Built {
        aws, world, stack, ..
    } = build_stack(&scenario).await;
    let config = aws.sdk_config();
    let ecs = aws_sdk_ecs::Client::new(&config);
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&config);

    // The service: ECS-controlled, the scenario's strategy, a hook per scenario hook pointing at
    // the function that serves it, and the blue/green wiring on its load balancer.
    let described = ecs
        .describe_services()
        .cluster(&scenario.service.cluster)
        .services(&scenario.service.name)
        .send()
        .await
        .expect("DescribeServices");
    let service = described.services().first().expect("the service");
    assert_eq!(service.service_arn(), Some(stack.ids.service_arn.as_str()));
    assert_eq!(
        service
            .deployment_controller()
            .map(|controller| controller.r#type()),
        Some(&DeploymentControllerType::Ecs)
    );
    assert_eq!(service.desired_count(), 2);
    let configuration = service
        .deployment_configuration()
        .expect("deploymentConfiguration survives UpdateService");
    assert_eq!(
        configuration.strategy().map(|s| s.as_str()),
        Some("BLUE_GREEN")
    );
    let hooks: Vec<(String, Vec<String>)> = configuration
        .lifecycle_hooks()
        .iter()
        .map(|hook| {
            (
                hook.hook_target_arn().unwrap_or_default().to_owned(),
                hook.lifecycle_stages()
                    .iter()
                    .map(|stage| stage.as_str().to_owned())
                    .collect(),
            )
        })
        .collect();
    let expected: Vec<(String, Vec<String>)> = scenario
        .deployment
        .lifecycle_hooks
        .iter()
        .map(|hook| {
            (
                function_arn(&hook.function),
                hook.lifecycle_stages
                    .iter()
                    .map(|stage| stage.as_str().to_owned())
                    .collect(),
            )
        })
        .collect();
    assert_eq!(hooks, expected);
    assert!(
        hooks[0].0.ends_with(":function:greenlight-pre-scale-up"),
        "{hooks:?}"
    );
    let balancer = service.load_balancers().first().expect("a load balancer");
    assert_eq!(
        balancer.target_group_arn(),
        Some(stack.blue_target_group.as_str())
    );
    let advanced = balancer
        .advanced_configuration()
        .expect("advancedConfiguration");
    assert_eq!(
        advanced.alternate_target_group_arn(),
        Some(stack.green_target_group.as_str())
    );
    assert_eq!(
        advanced.production_listener_rule(),
        Some(stack.production_rule.as_str())
    );
    assert_eq!(
        advanced.test_listener_rule(),
        Some(stack.test_rule.as_str())
    );

    // Both rules forward everything to blue and nothing to green yet.
    for rule_arn in [&stack.production_rule, &stack.test_rule] {
        let rules = elb
            .describe_rules()
            .rule_arns(rule_arn)
            .send()
            .await
            .expect("DescribeRules");
        let rule = rules.rules().first().expect("the rule");
        assert_eq!(
            weights(rule.actions()),
            BTreeMap::from([
                (stack.blue_target_group.clone(), 100),
                (stack.green_target_group.clone(), 0),
            ]),
            "{rule_arn}"
        );
    }

    // Blue's tasks run blue's task definition and are blue's group's targets; green has none.
    let tasks = ecs
        .list_tasks()
        .cluster(&scenario.service.cluster)
        .send()
        .await
        .expect("ListTasks");
    let described = ecs
        .describe_tasks()
        .cluster(&scenario.service.cluster)
        .set_tasks(Some(tasks.task_arns().to_vec()))
        .send()
        .await
        .expect("DescribeTasks");
    assert_eq!(described.tasks().len(), 2, "{:?}", described.tasks());
    assert!(
        described
            .tasks()
            .iter()
            .all(|task| task.task_definition_arn() == Some(stack.blue_task_definition.as_str()))
    );
    for (group, expected) in [
        (&stack.blue_target_group, 2),
        (&stack.green_target_group, 0),
    ] {
        let health = elb
            .describe_target_health()
            .target_group_arn(group)
            .send()
            .await
            .expect("DescribeTargetHealth");
        assert_eq!(
            health.target_health_descriptions().len(),
            expected,
            "{group}"
        );
    }

    // The task definitions name the revisions' images; ECR resolves green's tag to the digest the
    // stack recorded.
    for (arn, image) in [
        (&stack.blue_task_definition, &stack.blue_image),
        (&stack.green_task_definition, &stack.green_image.0),
    ] {
        let definition = ecs
            .describe_task_definition()
            .task_definition(arn)
            .send()
            .await
            .expect("DescribeTaskDefinition");
        let container = definition
            .task_definition()
            .and_then(|definition| definition.container_definitions().first())
            .expect("a container");
        assert_eq!(container.image(), Some(image.as_str()));
    }
    let ecr = aws_sdk_ecr::Client::new(&config);
    let images = ecr
        .describe_images()
        .repository_name(&scenario.revisions.green.image.repository)
        .image_ids(ImageIdentifier::builder().image_tag("v2").build())
        .send()
        .await
        .expect("DescribeImages");
    let digest = images
        .image_details()
        .first()
        .and_then(|image| image.image_digest())
        .expect("green's digest");
    assert_eq!(stack.green_image.1.as_deref(), Some(digest));

    // The deployment's alarm exists in CloudWatch, in its starting state.
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&config);
    let alarms = cloudwatch
        .describe_alarms()
        .alarm_names(&scenario.world.deployment_alarms[0])
        .send()
        .await
        .expect("DescribeAlarms");
    assert_eq!(
        alarms
            .metric_alarms()
            .first()
            .and_then(|alarm| alarm.state_value())
            .map(|state| state.as_str()),
        Some("OK")
    );

    // ECS's records: blue's revision and finished deployment, read back through the endpoint.
    let revisions = ecs
        .describe_service_revisions()
        .service_revision_arns(&stack.ids.blue_revision_arn)
        .send()
        .await
        .expect("DescribeServiceRevisions");
    let blue = revisions
        .service_revisions()
        .first()
        .expect("blue's revision");
    assert_eq!(
        blue.task_definition(),
        Some(stack.blue_task_definition.as_str())
    );
    assert!(
        world.ecs().deployments().iter().any(
            |deployment| deployment["targetServiceRevision"]["arn"]
                == stack.ids.blue_revision_arn.as_str()
                && deployment["status"] == "SUCCESSFUL"
        ),
        "blue's finished deployment is recorded"
    );
    // Green's revision is the driver's to write when the deployment starts.
    assert!(
        world
            .ecs()
            .revision(&stack.ids.green_revision_arn)
            .is_none()
    );
}

#[tokio::test]
async fn an_nlb_service_names_its_listeners_and_weights_their_default_actions() {
    let scenario = scenario("topology-good", "nlb", Topology::Nlb);
    let Built { aws, stack, .. } = build_stack(&scenario).await;
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&aws.sdk_config());
    // An NLB has no rules: the production and test "rules" are the listeners themselves.
    assert_eq!(stack.production_rule, stack.production_listener.0);
    assert_eq!(stack.test_rule, stack.test_listener.0);
    let listeners = elb
        .describe_listeners()
        .listener_arns(&stack.production_listener.0)
        .listener_arns(&stack.test_listener.0)
        .send()
        .await
        .expect("DescribeListeners");
    assert_eq!(listeners.listeners().len(), 2);
    for listener in listeners.listeners() {
        assert_eq!(
            listener.protocol().map(|protocol| protocol.as_str()),
            Some("TCP")
        );
        assert_eq!(
            weights(listener.default_actions()),
            BTreeMap::from([
                (stack.blue_target_group.clone(), 100),
                (stack.green_target_group.clone(), 0),
            ])
        );
    }
}

#[tokio::test]
async fn a_green_image_never_pushed_has_no_digest() {
    let scenario = scenario("missing-green-image", "missing", Topology::Alb);
    assert!(scenario.revisions.green.image.missing);
    let Built { aws, stack, .. } = build_stack(&scenario).await;
    assert_eq!(stack.green_image.1, None);
    let ecr = aws_sdk_ecr::Client::new(&aws.sdk_config());
    let green_tag = scenario.revisions.green.image.tag.clone();
    let listed = ecr
        .list_images()
        .repository_name(&scenario.revisions.green.image.repository)
        .send()
        .await
        .expect("ListImages");
    assert!(
        listed
            .image_ids()
            .iter()
            .all(|image| image.image_tag() != Some(green_tag.as_str())),
        "{:?}",
        listed.image_ids()
    );
}

#[tokio::test]
async fn a_codedeploy_stack_is_a_code_deploy_service_with_its_appspec_and_group() {
    let world = World::new();
    let aws = local_aws_with(&world).await;
    let plane = LoadBalancerPlane::new(aws.moto().endpoint_url(), &world);
    let sim = CodeDeploySim::new();
    let hooks = BTreeMap::from([(
        "AfterAllowTestTraffic".to_owned(),
        "CodeDeployHook_greenlight_test".to_owned(),
    )]);
    let spec = CodeDeployStackSpec {
        name: "stack-cd".into(),
        cluster: "stack-cd".into(),
        service: "svc-cd".into(),
        container: "web".into(),
        desired_count: 2,
        port: 8080,
        blue_image: "stack-cd:v1".into(),
        green_image: "stack-cd:v2".into(),
        alarms: vec!["stack-cd-5xx".into()],
        hooks: hooks.clone(),
        health_check: HealthCheckSpec::default(),
    };
    let stack = CodeDeployStack::build(&aws, &plane, &sim, &spec)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert!(
        stack.deployment_id.starts_with("d-"),
        "{}",
        stack.deployment_id
    );
    assert_eq!(stack.deployment_id.len(), 11);
    assert_eq!(stack.hooks, hooks);
    assert!(
        stack.appspec.contains(&stack.green_task_definition),
        "{}",
        stack.appspec
    );
    assert!(
        stack.appspec.contains("AfterAllowTestTraffic"),
        "{}",
        stack.appspec
    );
    // CodeDeploy's records: the group names the service, the alarms, both target groups and both
    // listeners.
    let deployment = sim
        .deployment(&stack.deployment_id)
        .expect("the deployment");
    let group = &deployment.group;
    assert_eq!(group["ecsServices"][0]["serviceName"], "svc-cd");
    assert_eq!(
        group["alarmConfiguration"]["alarms"][0]["name"],
        "stack-cd-5xx"
    );
    let pair = &group["loadBalancerInfo"]["targetGroupPairInfoList"][0];
    assert!(
        stack.blue_target_group.contains(&format!(
            "/{}/",
            pair["targetGroups"][0]["name"].as_str().unwrap_or("?")
        )),
        "{pair}"
    );
    assert_eq!(
        pair["prodTrafficRoute"]["listenerArns"][0],
        stack.production_listener.0.as_str()
    );
    assert_eq!(
        pair["testTrafficRoute"]["listenerArns"][0],
        stack.test_listener.0.as_str()
    );

    let ecs = aws_sdk_ecs::Client::new(&aws.sdk_config());
    let described = ecs
        .describe_services()
        .cluster(&spec.cluster)
        .services(&spec.service)
        .send()
        .await
        .expect("DescribeServices");
    let service = described.services().first().expect("the service");
    assert_eq!(service.service_arn(), Some(stack.service_arn.as_str()));
    assert_eq!(
        service
            .deployment_controller()
            .map(|controller| controller.r#type()),
        Some(&DeploymentControllerType::CodeDeploy)
    );
    let definition = ecs
        .describe_task_definition()
        .task_definition(&stack.green_task_definition)
        .send()
        .await
        .expect("DescribeTaskDefinition");
    assert_eq!(
        definition
            .task_definition()
            .and_then(|definition| definition.container_definitions().first())
            .and_then(|container| container.image()),
        Some("stack-cd:v2")
    );
    // Green has no tasks before the deployment starts: CodeDeploy makes its task set.
    assert!(stack.green_tasks().is_empty());
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&aws.sdk_config());
    let health = elb
        .describe_target_health()
        .target_group_arn(&stack.blue_target_group)
        .send()
        .await
        .expect("DescribeTargetHealth");
    assert_eq!(health.target_health_descriptions().len(), 2);
}

#[tokio::test]
async fn a_codedeploy_stack_name_too_long_for_elb_is_refused_before_anything_is_made() {
    let world = World::new();
    let aws = local_aws_with(&world).await;
    let plane = LoadBalancerPlane::new(aws.moto().endpoint_url(), &world);
    let spec = CodeDeployStackSpec {
        name: "a-name-of-twenty-one!".into(),
        cluster: "stack-cd-long".into(),
        service: "svc".into(),
        container: "web".into(),
        desired_count: 1,
        port: 8080,
        blue_image: "r:v1".into(),
        green_image: "r:v2".into(),
        alarms: vec![],
        hooks: BTreeMap::new(),
        health_check: HealthCheckSpec::default(),
    };
    let sim = CodeDeploySim::new();
    let error = CodeDeployStack::build(&aws, &plane, &sim, &spec)
        .await
        .expect_err("21 characters");
    assert!(error.to_string().contains("1 to 20 characters"), "{error}");
    let ecs = aws_sdk_ecs::Client::new(&aws.sdk_config());
    let clusters = ecs
        .describe_clusters()
        .clusters("stack-cd-long")
        .send()
        .await
        .expect("DescribeClusters");
    assert!(
        clusters
            .clusters()
            .iter()
            .all(|cluster| cluster.status() == Some("INACTIVE")),
        "{:?}",
        clusters.clusters()
    );
}
