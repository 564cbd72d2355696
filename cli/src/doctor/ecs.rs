//! Doctor for a service ECS deploys itself (controller `ECS`, lifecycle hooks).

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ecs::types::Service;
use greenlight_core::config::Config;
use greenlight_core::config::resolve::{ConfigLookup, ConfigReference};
use greenlight_core::hook::Phase;
use greenlight_core::stage::LifecycleStage;

use super::account::{self, Existence, FunctionFacts, Simulated, Trust};
use super::needs::{self, Scope};
use super::{Checklist, Clients, DoctorArgs, FoundConfig};

/// The strategies that run lifecycle hooks at every stage.
const HOOKED_STRATEGIES: &[&str] = &["BLUE_GREEN", "LINEAR", "CANARY"];

/// One hook that calls a greenlight function: the function, the stages, and the config the hook
/// makes it read (each hook reads its own `hookDetails`).
struct GreenlightHook {
    function: FunctionFacts,
    stages: BTreeSet<LifecycleStage>,
    config: Option<Config>,
    reference: Option<ConfigReference>,
}

/// Checks an ECS-controlled service.
pub async fn examine(
    clients: &Clients,
    args: &DoctorArgs,
    service: &Service,
    list: &mut Checklist,
) {
    let service_arn = service.service_arn().unwrap_or_default().to_owned();
    let Some((partition, region, account_id)) = super::service_scope(service, list) else {
        return;
    };
    let configuration = service.deployment_configuration();
    let strategy = configuration
        .and_then(|configuration| configuration.strategy())
        .map_or("ROLLING", |strategy| strategy.as_str());
    let hooks = configuration.map_or(&[][..], |configuration| configuration.lifecycle_hooks());
    if HOOKED_STRATEGIES.contains(&strategy) {
        list.ok(
            "deployment strategy",
            format!("{strategy}, which runs lifecycle hooks"),
        );
    } else if strategy == "ROLLING" && !hooks.is_empty() {
        list.note(
            "deployment strategy",
            "ROLLING: AWS documents lifecycle hooks for BLUE_GREEN, LINEAR and CANARY; a \
             ROLLING deployment's PRE_SCALE_UP hook (admission) is described only in a blog post",
        );
    } else {
        list.problem(
            "deployment strategy",
            format!("{strategy} runs no lifecycle hooks, so greenlight is never asked"),
            "set deploymentConfiguration.strategy to BLUE_GREEN, LINEAR or CANARY",
        );
    }
    if hooks.is_empty() {
        list.problem(
            "lifecycle hooks",
            "the service has none, so greenlight is never asked",
            "add lifecycle hooks calling greenlight's functions (infra/README.md shows them)",
        );
        return;
    }

    // Each hook: its function, its stages, its role, its config.
    let mut greenlight: Vec<GreenlightHook> = Vec::new();
    let mut invoke_by_role: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let deployment_alarms: Vec<String> = configuration
        .and_then(|configuration| configuration.alarms())
        .filter(|alarms| alarms.enable())
        .map(|alarms| alarms.alarm_names().to_vec())
        .unwrap_or_default();
    for hook in hooks {
        let stages: BTreeSet<LifecycleStage> = hook
            .lifecycle_stages()
            .iter()
            .map(|stage| {
                let Ok(stage) = stage.as_str().parse::<LifecycleStage>();
                stage
            })
            .collect();
        let stage_names: Vec<&str> = stages.iter().map(LifecycleStage::as_str).collect();
        let subject = format!("hook at {}", stage_names.join(", "));
        if hook.target_type() == Some(&aws_sdk_ecs::types::DeploymentLifecycleHookTargetType::Pause)
        {
            list.note(
                subject,
                "a PAUSE hook: the deployment waits there for a person, who answers with \
                 `greenlight approve` or `greenlight reject` (ecs:ContinueServiceDeployment)",
            );
            continue;
        }
        let Some(target) = hook.hook_target_arn() else {
            list.note(subject, "has no Lambda target; doctor skips it");
            continue;
        };
        let Some(function) = super::hooked_function(
            clients,
            target,
            &subject,
            "deploy greenlight's stack, or point the hook at one of its functions",
            list,
        )
        .await
        else {
            continue;
        };
        if served_right(&function, &stages, list) {
            list.ok(
                subject.clone(),
                format!(
                    "calls {} (greenlight's {})",
                    function.name, function.identity
                ),
            );
        }
        match hook.role_arn() {
            Some(role) => {
                invoke_by_role
                    .entry(role.to_owned())
                    .or_default()
                    .insert(function.invoked_arn.clone());
            }
            None => list.problem(
                subject.clone(),
                "names no role for ECS to invoke it with",
                "set the hook's roleArn to greenlight's HookInvokeRole",
            ),
        }
        let details = super::hook_details_json(hook.hook_details());
        let placeholders = super::placeholders(args, None, None);
        let lookup = ConfigLookup {
            hook_details: details.as_ref(),
            env_config: function.config_reference.as_deref(),
            placeholders: Some(&placeholders),
        };
        let FoundConfig { config, reference } = super::check_config(
            clients,
            args,
            &format!("config of the hook at {}", stage_names.join(", ")),
            lookup,
            false,
            list,
        )
        .await;
        greenlight.push(GreenlightHook {
            function,
            stages,
            config,
            reference,
        });
    }
    if greenlight.is_empty() {
        list.problem(
            "lifecycle hooks",
            "none calls one of greenlight's functions (recognised by their GREENLIGHT_FUNCTION \
             variable), so greenlight judges nothing",
            "point the hooks at greenlight's functions; a greenlight stack deployed before \
             GREENLIGHT_FUNCTION existed needs deploying again",
        );
        return;
    }

    // Each hook role: ECS may assume it, and it may invoke the functions.
    for (role, functions) in &invoke_by_role {
        check_hook_role(clients, role, functions, &service_arn, list).await;
    }

    // Every stage a hook's config puts checks at has a greenlight hook.
    let hooked_stages: BTreeSet<LifecycleStage> = greenlight
        .iter()
        .flat_map(|hook| hook.stages.iter().cloned())
        .collect();
    let configs: Vec<(&Config, &BTreeSet<LifecycleStage>)> = greenlight
        .iter()
        .filter_map(|hook| hook.config.as_ref().map(|config| (config, &hook.stages)))
        .collect();
    super::check_stage_coverage(&configs, &hooked_stages, list, |stage| {
        let function = Phase::for_stage(stage).map_or("?", Phase::function_name);
        format!("add {stage} to the lifecycleStages of the hook calling greenlight's {function}")
    });

    // What the deployment names exists.
    let test_listener_needed = configs
        .iter()
        .find_map(|(config, stages)| super::test_listener_check(config, stages));
    check_load_balancers(clients, service, test_listener_needed.as_deref(), list).await;
    let (prefix_alarms, repositories) = super::check_named_resources(
        clients,
        (&deployment_alarms, "the deployment configuration"),
        &configs,
        service.task_definition(),
        list,
    )
    .await;

    // Each function's role allows what its hooks and checks need.
    let scope = Scope {
        partition,
        region,
        account: account_id,
        cluster: super::short_name(&args.cluster).to_owned(),
        service: super::short_name(&args.service).to_owned(),
        repositories,
        ..Scope::default()
    };
    let mut by_function: BTreeMap<String, (FunctionFacts, Vec<needs::Need>, bool)> =
        BTreeMap::new();
    for hook in &greenlight {
        let entry = by_function
            .entry(hook.function.arn.clone())
            .or_insert_with(|| (hook.function.clone(), Vec::new(), true));
        match &hook.config {
            Some(config) => entry.1.extend(needs::function_needs(&needs::NeedsInput {
                config,
                stages: &hook.stages,
                codedeploy: None,
                deployment_alarms: &deployment_alarms,
                prefix_alarms: &prefix_alarms,
                config_reference: hook.reference.as_ref(),
            })),
            // Its config is unknown, so what its role must allow is too: the config's own item
            // already says so.
            None => entry.2 = false,
        }
    }
    for (function, function_needs, known) in by_function.values() {
        if *known {
            super::check_function_role(clients, function, function_needs, &scope, list).await;
        }
    }
}

/// Whether the function serves every stage it is hooked at; a problem for each it does not.
fn served_right(
    function: &FunctionFacts,
    stages: &BTreeSet<LifecycleStage>,
    list: &mut Checklist,
) -> bool {
    let served = Phase::ALL
        .into_iter()
        .find(|phase| phase.function_name() == function.identity);
    let mut right = true;
    for stage in stages {
        if served.is_some_and(|phase| phase.stages().contains(stage)) {
            continue;
        }
        right = false;
        let wanted = Phase::for_stage(stage)
            .map(|phase| format!("greenlight's {} function", phase.function_name()))
            .unwrap_or_else(|| "no greenlight function (ECS has no such stage)".to_owned());
        let serves_text = served
            .map(|phase| {
                phase
                    .stages()
                    .iter()
                    .map(LifecycleStage::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_else(|| "no ECS stage".to_owned());
        list.problem(
            format!("hook at {stage}"),
            format!(
                "calls {} (greenlight's {}), which serves {serves_text}: the deployment would \
                 roll back at {stage} with EVENT_STAGE_NOT_SERVED",
                function.name, function.identity
            ),
            format!("point the {stage} hook at {wanted}"),
        );
    }
    right
}

/// The hook role trusts ECS and may invoke each function.
async fn check_hook_role(
    clients: &Clients,
    role: &str,
    functions: &BTreeSet<String>,
    service_arn: &str,
    list: &mut Checklist,
) {
    let subject = format!("hook role {}", super::short_name(role));
    match account::trust(clients, role, "ecs.amazonaws.com", service_arn).await {
        Trust::Trusted => list.ok(subject.clone(), "ECS may assume it"),
        Trust::NotTrusted(message) => list.problem(
            subject.clone(),
            message,
            "let the service principal ecs.amazonaws.com sts:AssumeRole in the role's trust policy",
        ),
        Trust::Undetermined(message) => list.unchecked(
            subject.clone(),
            message,
            "let ecs.amazonaws.com sts:AssumeRole with or without aws:SourceAccount/aws:SourceArn \
             (…IfExists conditions, as greenlight's template does)",
        ),
        Trust::Missing(message) => {
            list.problem(
                subject,
                message,
                "create the role (greenlight's template has HookInvokeRole) or correct the hook's roleArn",
            );
            return;
        }
        Trust::Unreadable(why) => list.unchecked(subject.clone(), why.detail, why.fix),
    }
    let wanted = [Simulated {
        action: "lambda:InvokeFunction".to_owned(),
        resources: functions.iter().cloned().collect(),
        context: Vec::new(),
    }];
    match account::simulate(clients, role, &wanted).await {
        Ok(allowances) => {
            let allowance = allowances
                .get("lambda:InvokeFunction")
                .cloned()
                .unwrap_or_default();
            if allowances.contains_key("lambda:InvokeFunction") && allowance.allowed() {
                list.ok(subject, "may invoke the functions its hooks call");
            } else {
                let denied = if allowance.denied_on.is_empty() {
                    functions.iter().cloned().collect()
                } else {
                    allowance.denied_on.clone()
                };
                list.problem(
                    subject,
                    format!(
                        "may not lambda:InvokeFunction on {}: ECS could not call the hook and \
                         the deployment would fail",
                        denied.join(", ")
                    ),
                    format!(
                        "allow lambda:InvokeFunction on {} in {role}'s policy",
                        denied.join(", ")
                    ),
                );
            }
        }
        Err(why) => list.unchecked(subject, why.detail, why.fix),
    }
}

/// The target groups and the production and test listener rules the service names exist.
async fn check_load_balancers(
    clients: &Clients,
    service: &Service,
    test_listener_needed: Option<&str>,
    list: &mut Checklist,
) {
    let balancers = service.load_balancers();
    if balancers.is_empty() {
        list.note(
            "load balancer",
            "the service names none (Service Connect or no traffic shift); doctor checks no \
             target groups or listener rules",
        );
        return;
    }
    for balancer in balancers {
        if let Some(group) = balancer.target_group_arn() {
            record(
                list,
                "target group",
                group,
                account::target_group(clients, group).await,
            );
        }
        let Some(advanced) = balancer.advanced_configuration() else {
            list.problem(
                "load balancer",
                "has no advancedConfiguration: ECS blue/green needs the alternate target group \
                 and the production listener rule",
                "set loadBalancers[].advancedConfiguration (alternateTargetGroupArn, \
                 productionListenerRule, testListenerRule, roleArn)",
            );
            continue;
        };
        match advanced.alternate_target_group_arn() {
            Some(alternate) => record(
                list,
                "alternate target group",
                alternate,
                account::target_group(clients, alternate).await,
            ),
            None => list.problem(
                "alternate target group",
                "advancedConfiguration names none: green has no target group",
                "set advancedConfiguration.alternateTargetGroupArn",
            ),
        }
        match advanced.production_listener_rule() {
            Some(production) => record(
                list,
                "production listener rule",
                production,
                rule_or_listener(clients, production).await,
            ),
            None => list.problem(
                "production listener rule",
                "advancedConfiguration names none: ECS cannot shift production traffic",
                "set advancedConfiguration.productionListenerRule",
            ),
        }
        match advanced.test_listener_rule() {
            Some(test) => record(
                list,
                "test listener rule",
                test,
                rule_or_listener(clients, test).await,
            ),
            None => match test_listener_needed {
                Some(check) => list.problem(
                    "test listener rule",
                    format!("none, but {check} needs the test listener"),
                    "set advancedConfiguration.testListenerRule (a rule on a test listener), or \
                     give the check another target",
                ),
                None => list.note(
                    "test listener rule",
                    "none: checks that send test traffic (http with target test_listener, routing \
                     listener test) could not run",
                ),
            },
        }
    }
}

/// An NLB's "rule" is its listener.
async fn rule_or_listener(clients: &Clients, arn: &str) -> Existence {
    if arn.contains(":listener-rule/") {
        account::listener_rule(clients, arn).await
    } else {
        account::listener(clients, arn).await
    }
}

fn record(list: &mut Checklist, what: &str, arn: &str, existence: Existence) {
    let subject = format!("{what} {arn}");
    match existence {
        Existence::Exists => list.ok(subject, "exists"),
        Existence::Missing(code) => list.problem(
            subject,
            format!("does not exist ({code}): the deployment cannot shift traffic through it"),
            format!("create it, or correct the service's {what}"),
        ),
        Existence::Unreadable(why) => list.unchecked(subject, why.detail, why.fix),
    }
}
