//! Doctor for a service ECS deploys itself (controller `ECS`, lifecycle hooks).

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ecs::types::Service;
use greenlight_core::config::Config;
use greenlight_core::config::resolve::ConfigLookup;
use greenlight_core::hook::Phase;
use greenlight_core::stage::LifecycleStage;

use super::account::{self, Existence, FunctionFacts, Simulated, Trust};
use super::needs::{self, Scope};
use super::{Checklist, Clients, DoctorArgs, FoundConfig};

/// The strategies that run lifecycle hooks at every stage.
const HOOKED_STRATEGIES: &[&str] = &["BLUE_GREEN", "LINEAR", "CANARY"];

/// A greenlight function behind one or more hooks, and what it is hooked at.
struct Hooked {
    function: FunctionFacts,
    stages: BTreeSet<LifecycleStage>,
    configs: Vec<Config>,
    reference: Option<greenlight_core::config::resolve::ConfigReference>,
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

    // Each hook: its function, its stages, its role.
    let mut hooked: BTreeMap<String, Hooked> = BTreeMap::new();
    let mut invoke_by_role: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let deployment_alarms: Vec<String> = configuration
        .and_then(|configuration| configuration.alarms())
        .filter(|alarms| alarms.enable())
        .map(|alarms| alarms.alarm_names().to_vec())
        .unwrap_or_default();
    for hook in hooks {
        let stages: Vec<LifecycleStage> = hook
            .lifecycle_stages()
            .iter()
            .map(|stage| {
                let Ok(stage) = stage.as_str().parse::<LifecycleStage>();
                stage
            })
            .collect();
        let stage_names: Vec<&str> = stages.iter().map(LifecycleStage::as_str).collect();
        let subject = format!("hook at {}", stage_names.join(", "));
        let Some(target) = hook.hook_target_arn() else {
            list.note(
                subject,
                "has no Lambda target (a PAUSE hook?); doctor skips it",
            );
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
        let served = Phase::ALL
            .into_iter()
            .find(|phase| phase.function_name() == function.identity);
        let mut right = true;
        for stage in &stages {
            let serves = served.is_some_and(|phase| phase.stages().contains(stage));
            if !serves {
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
                        "calls {} (greenlight's {}), which serves {serves_text}: the deployment \
                         would roll back at {stage} with EVENT_STAGE_NOT_SERVED",
                        function.name, function.identity
                    ),
                    format!("point the {stage} hook at {wanted}"),
                );
            }
        }
        if right {
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
                    .insert(function.arn.clone());
            }
            None => list.problem(
                subject.clone(),
                "names no role for ECS to invoke it with",
                "set the hook's roleArn to greenlight's HookInvokeRole",
            ),
        }

        // The config this hook makes the function read.
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
        let entry = hooked
            .entry(function.arn.clone())
            .or_insert_with(|| Hooked {
                function: function.clone(),
                stages: BTreeSet::new(),
                configs: Vec::new(),
                reference: None,
            });
        entry.stages.extend(stages.iter().cloned());
        entry.configs.extend(config);
        if reference.is_some() {
            entry.reference = reference;
        }
    }

    // Each hook role: ECS may assume it, and it may invoke the functions.
    for (role, functions) in &invoke_by_role {
        check_hook_role(clients, role, functions, &service_arn, list).await;
    }

    // Every stage the config puts checks at has a greenlight hook.
    let hooked_stages: BTreeSet<LifecycleStage> = hooked
        .values()
        .flat_map(|hooked| hooked.stages.iter().cloned())
        .collect();
    let mut uncovered = BTreeSet::new();
    let mut builtin_only = BTreeSet::new();
    for config in hooked.values().flat_map(|hooked| &hooked.configs) {
        let (own, builtin) = super::config_stages(config);
        uncovered.extend(
            own.into_iter()
                .filter(|stage| !hooked_stages.contains(stage)),
        );
        builtin_only.extend(
            builtin
                .into_iter()
                .filter(|stage| !hooked_stages.contains(stage)),
        );
    }
    for stage in &uncovered {
        let function = Phase::for_stage(stage).map_or("?", Phase::function_name);
        list.problem(
            format!("stage {stage}"),
            "the config puts checks here, but no lifecycle hook calls greenlight at this stage, \
             so they would never run",
            format!(
                "add {stage} to the lifecycleStages of the hook calling greenlight's {function}"
            ),
        );
    }
    let builtin_only: Vec<&str> = builtin_only
        .difference(&uncovered)
        .map(LifecycleStage::as_str)
        .collect();
    if !builtin_only.is_empty() {
        list.note(
            "built-in checks",
            format!("not hooked, so not run: {}", builtin_only.join(", ")),
        );
    }

    // What the deployment names exists.
    check_load_balancers(clients, service, list).await;
    let mut alarms: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for name in &deployment_alarms {
        alarms
            .entry(name.clone())
            .or_default()
            .insert("the deployment configuration".to_owned());
    }
    for hooked in hooked.values() {
        for config in &hooked.configs {
            for (name, by) in super::config_alarms(config, &hooked.stages) {
                alarms.entry(name).or_default().insert(by);
            }
        }
    }
    super::check_alarms(clients, &alarms, list).await;
    let repositories = super::check_images(clients, service.task_definition(), list).await;

    // Each function's role allows what its hooks and checks need.
    let scope = Scope {
        partition,
        region,
        account: account_id,
        cluster: super::short_name(&args.cluster),
        service: super::short_name(&args.service),
        repositories,
        ..Scope::default()
    };
    for hooked in hooked.values() {
        let mut function_needs = Vec::new();
        for config in &hooked.configs {
            function_needs.extend(needs::function_needs(
                config,
                &hooked.stages,
                None,
                &deployment_alarms,
                hooked.reference.as_ref(),
            ));
        }
        if hooked.configs.is_empty() {
            continue;
        }
        super::check_function_role(clients, &hooked.function, &function_needs, &scope, list).await;
    }
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
async fn check_load_balancers(clients: &Clients, service: &Service, list: &mut Checklist) {
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
            None => list.note(
                "test listener rule",
                "none: checks that send test traffic (http with target test_listener, routing \
                 listener test) cannot run",
            ),
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
