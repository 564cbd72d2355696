//! Doctor for a service CodeDeploy deploys (controller `CODE_DEPLOY`, AppSpec hooks).

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_codedeploy::types::DeploymentGroupInfo;
use aws_sdk_ecs::types::Service;
use greenlight_core::catalogue::CODEDEPLOY_FUNCTION;
use greenlight_core::config::Config;
use greenlight_core::config::resolve::ConfigLookup;
use greenlight_core::protocol::codedeploy::CodeDeployHook;
use greenlight_core::stage::LifecycleStage;

use super::account::{self, Existence, Simulated, Trust, unreadable};
use super::needs::{self, Scope};
use super::{Checklist, Clients, DoctorArgs, FoundConfig};

/// The prefix AWS's `AWSCodeDeployRoleForECSLimited` lets CodeDeploy invoke.
const LIMITED_PREFIX: &str = "CodeDeployHook_";

/// Checks a CodeDeploy-controlled service.
pub async fn examine(
    clients: &Clients,
    args: &DoctorArgs,
    service: &Service,
    list: &mut Checklist,
) {
    let Some((partition, region, account_id)) = super::service_scope(service, list) else {
        return;
    };
    list.ok(
        "deployment controller",
        "CODE_DEPLOY: CodeDeploy runs the AppSpec's hooks",
    );
    let Some(group) = deployment_group(clients, args, list).await else {
        return;
    };
    let application = group.application_name().unwrap_or_default().to_owned();
    let group_name = group.deployment_group_name().unwrap_or_default().to_owned();
    let group_arn = format!(
        "arn:{partition}:codedeploy:{region}:{account_id}:deploymentgroup:{application}/{group_name}"
    );
    list.ok(
        format!("deployment group {application}/{group_name}"),
        "deploys this service",
    );

    // The service role: CodeDeploy may assume it.
    let service_role = group.service_role_arn().map(str::to_owned);
    match &service_role {
        Some(role) => {
            let subject = format!("service role {}", super::short_name(role));
            match account::trust(clients, role, "codedeploy.amazonaws.com", &group_arn).await {
                Trust::Trusted => list.ok(subject, "CodeDeploy may assume it"),
                Trust::NotTrusted(message) | Trust::Missing(message) => list.problem(
                    subject,
                    message,
                    "let codedeploy.amazonaws.com sts:AssumeRole in the role's trust policy",
                ),
                Trust::Undetermined(message) => list.unchecked(
                    subject,
                    message,
                    "let codedeploy.amazonaws.com sts:AssumeRole with or without the source keys",
                ),
                Trust::Unreadable(why) => list.unchecked(subject, why.detail, why.fix),
            }
        }
        None => list.problem(
            "service role",
            "the deployment group names none",
            "set the deployment group's serviceRoleArn",
        ),
    }

    // The AppSpec's hooks.
    let Some(appspec) = appspec(clients, args, &group, list).await else {
        return;
    };
    let hooks = match appspec_hooks(&appspec) {
        Ok(hooks) => hooks,
        Err(message) => {
            list.problem("AppSpec", message, "fix the AppSpec's Hooks section");
            return;
        }
    };
    if hooks.is_empty() {
        list.problem(
            "AppSpec",
            "has no Hooks, so greenlight is never asked",
            "add Hooks naming greenlight's CodeDeployHook_ functions",
        );
        return;
    }
    let mut greenlight: BTreeMap<String, (account::FunctionFacts, BTreeSet<LifecycleStage>)> =
        BTreeMap::new();
    for (event, target) in &hooks {
        let subject = format!("AppSpec hook {event}");
        let Some(hook) = CodeDeployHook::ALL
            .into_iter()
            .find(|hook| hook.as_str() == event)
        else {
            list.problem(
                subject,
                format!("{event} is not a hook CodeDeploy runs for ECS"),
                "use BeforeInstall, AfterInstall, AfterAllowTestTraffic, BeforeAllowTraffic or \
                 AfterAllowTraffic",
            );
            continue;
        };
        let Some(function) = super::hooked_function(
            clients,
            target,
            &subject,
            "deploy greenlight's stack, or correct the function name",
            list,
        )
        .await
        else {
            continue;
        };
        if function.identity != CODEDEPLOY_FUNCTION {
            list.problem(
                subject.clone(),
                format!(
                    "calls {} (greenlight's {}), which answers ECS lifecycle hooks, not CodeDeploy",
                    function.name, function.identity
                ),
                "point the hook at greenlight's CodeDeployHook_ function",
            );
            continue;
        }
        list.ok(subject.clone(), format!("calls {}", function.name));
        if let Some(role) = &service_role {
            check_invoke(clients, role, &function, &subject, list).await;
        }
        greenlight
            .entry(function.arn.clone())
            .or_insert_with(|| (function.clone(), BTreeSet::new()))
            .1
            .insert(hook.stage());
    }
    if greenlight.is_empty() {
        list.problem(
            "AppSpec",
            "no hook calls greenlight's CodeDeploy function (recognised by its GREENLIGHT_FUNCTION \
             variable), so greenlight judges nothing",
            "name greenlight's CodeDeployHook_ functions in the AppSpec's Hooks; a greenlight \
             stack deployed before GREENLIGHT_FUNCTION existed needs deploying again",
        );
        return;
    }

    let group_alarms = greenlight_aws::facts::codedeploy::group_alarm_names(&group);

    // Each function: its config, and its role.
    let mut checked = Vec::new();
    for (function, stages) in greenlight.values() {
        let placeholders = super::placeholders(args, Some(&application), Some(&group_name));
        let lookup = ConfigLookup {
            hook_details: None,
            env_config: function.config_reference.as_deref(),
            placeholders: Some(&placeholders),
        };
        let FoundConfig { config, reference } = super::check_config(
            clients,
            args,
            &format!("config of {}", function.name),
            lookup,
            true,
            list,
        )
        .await;
        if let Some(config) = config {
            checked.push((function.clone(), stages.clone(), config, reference));
        }
    }
    let hooked_stages: BTreeSet<LifecycleStage> = greenlight
        .values()
        .flat_map(|(_, stages)| stages.iter().cloned())
        .collect();
    let configs: Vec<(&Config, &BTreeSet<LifecycleStage>)> = checked
        .iter()
        .map(|(_, stages, config, _)| (config, stages))
        .collect();
    super::check_stage_coverage(&configs, &hooked_stages, list, |stage| {
        let hook = CodeDeployHook::ALL
            .into_iter()
            .find(|hook| hook.stage() == *stage)
            .map(CodeDeployHook::as_str);
        match hook {
            Some(hook) => format!(
                "add a {hook} hook calling greenlight's CodeDeployHook_ function to the AppSpec"
            ),
            None => format!(
                "CodeDeploy has no hook at {stage}: move those checks to a stage an AppSpec hook \
                 maps onto (PRE_SCALE_UP, POST_SCALE_UP, POST_TEST_TRAFFIC_SHIFT, \
                 PRE_PRODUCTION_TRAFFIC_SHIFT, POST_PRODUCTION_TRAFFIC_SHIFT)"
            ),
        }
    });
    let test_listener_needed = configs
        .iter()
        .find_map(|(config, stages)| super::test_listener_check(config, stages));
    check_load_balancer_info(clients, &group, test_listener_needed.as_deref(), list).await;
    let (prefix_alarms, repositories) = super::check_named_resources(
        clients,
        (&group_alarms, "the deployment group"),
        &configs,
        service.task_definition(),
        list,
    )
    .await;
    let scope = Scope {
        partition,
        region,
        account: account_id,
        cluster: super::short_name(&args.cluster).to_owned(),
        service: super::short_name(&args.service).to_owned(),
        repositories,
        application: Some(application),
        deployment_group: Some(group_name),
    };
    for (function, stages, config, reference) in &checked {
        let function_needs = needs::function_needs(&needs::NeedsInput {
            config,
            stages,
            codedeploy: Some(&function.name),
            deployment_alarms: &group_alarms,
            prefix_alarms: &prefix_alarms,
            config_reference: reference.as_ref(),
        });
        super::check_function_role(clients, function, &function_needs, &scope, list).await;
    }
}

/// The deployment group that deploys the service: the one named, or the one whose
/// `ecsServices` name it.
async fn deployment_group(
    clients: &Clients,
    args: &DoctorArgs,
    list: &mut Checklist,
) -> Option<DeploymentGroupInfo> {
    let found = match (&args.application, &args.deployment_group) {
        (Some(application), Some(group)) => {
            crate::codedeploy_group::get(&clients.codedeploy, application, group).await
        }
        (application, _) => {
            crate::codedeploy_group::find(
                &clients.codedeploy,
                &args.cluster,
                &args.service,
                application.as_deref(),
            )
            .await
        }
    };
    match found {
        Ok(Some(group)) => Some(group),
        Ok(None) => {
            let detail = match (&args.application, &args.deployment_group) {
                (Some(application), Some(group)) => {
                    format!("CodeDeploy has no deployment group {application}/{group}")
                }
                _ => format!(
                    "no CodeDeploy deployment group deploys {}/{}",
                    super::short_name(&args.cluster),
                    super::short_name(&args.service)
                ),
            };
            list.problem(
                "deployment group",
                detail,
                "create one for the service (infra/README.md), or name it with --application \
                 and --deployment-group",
            );
            None
        }
        Err(why) => {
            list.unchecked(
                "deployment group",
                why.detail,
                format!(
                    "{}, or name it with --application and --deployment-group",
                    why.fix
                ),
            );
            None
        }
    }
}

/// The AppSpec: `--appspec`, or the group's last deployment's revision.
async fn appspec(
    clients: &Clients,
    args: &DoctorArgs,
    group: &DeploymentGroupInfo,
    list: &mut Checklist,
) -> Option<String> {
    if let Some(path) = &args.appspec {
        return match std::fs::read_to_string(path) {
            Ok(text) => Some(text),
            Err(error) => {
                list.problem(
                    "AppSpec",
                    format!("{} could not be read: {error}", path.display()),
                    "pass a readable AppSpec",
                );
                None
            }
        };
    }
    let Some(deployment_id) = crate::codedeploy_group::last_deployment(group) else {
        list.unchecked(
            "AppSpec",
            "the deployment group has no deployment yet, and the AppSpec comes with each deployment",
            "pass the AppSpec your pipeline deploys with --appspec FILE",
        );
        return None;
    };
    let deployment = match clients
        .codedeploy
        .get_deployment()
        .deployment_id(&deployment_id)
        .send()
        .await
    {
        Ok(output) => output.deployment_info,
        Err(error) => {
            let why = unreadable("codedeploy:GetDeployment", &deployment_id, &error);
            list.unchecked("AppSpec", why.detail, why.fix);
            return None;
        }
    };
    let revision = deployment
        .as_ref()
        .and_then(|info| info.revision())
        .cloned();
    let application = deployment
        .as_ref()
        .and_then(|info| info.application_name())
        .unwrap_or_default()
        .to_owned();
    if let Some(content) = revision
        .as_ref()
        .and_then(|revision| revision.app_spec_content())
        .and_then(|content| content.content())
    {
        return Some(content.to_owned());
    }
    // GetDeployment leaves the AppSpec text out (its API reference says so).
    match clients
        .codedeploy
        .get_application_revision()
        .application_name(&application)
        .set_revision(revision)
        .send()
        .await
    {
        Ok(output) => {
            let content = output
                .revision()
                .and_then(|revision| revision.app_spec_content())
                .and_then(|content| content.content())
                .map(str::to_owned);
            if content.is_none() {
                list.unchecked(
                    "AppSpec",
                    format!("deployment {deployment_id}'s revision is not AppSpec content (an S3 revision?)"),
                    "pass the AppSpec with --appspec FILE",
                );
            }
            content
        }
        Err(error) => {
            let why = unreadable("codedeploy:GetApplicationRevision", &application, &error);
            list.unchecked("AppSpec", why.detail, why.fix);
            None
        }
    }
}

/// The AppSpec's `Hooks`: `(event, function)` in order.
fn appspec_hooks(appspec: &str) -> Result<Vec<(String, String)>, String> {
    let value: serde_json::Value = serde_saphyr::from_str(appspec)
        .map_err(|error| format!("the AppSpec does not parse: {error}"))?;
    let mut hooks = Vec::new();
    let Some(list) = value.get("Hooks") else {
        return Ok(hooks);
    };
    let entries = list
        .as_array()
        .ok_or_else(|| "Hooks is not a list".to_owned())?;
    for entry in entries {
        let object = entry
            .as_object()
            .ok_or_else(|| format!("a Hooks entry is not a map: {entry}"))?;
        for (event, function) in object {
            let function = function
                .as_str()
                .ok_or_else(|| format!("hook {event} names no function"))?;
            hooks.push((event.clone(), function.to_owned()));
        }
    }
    Ok(hooks)
}

/// The service role may invoke the hook's function; AWS's managed policy allows only
/// `CodeDeployHook_*`, which is worth saying when that is why.
async fn check_invoke(
    clients: &Clients,
    role: &str,
    function: &account::FunctionFacts,
    subject: &str,
    list: &mut Checklist,
) {
    let wanted = [Simulated {
        action: "lambda:InvokeFunction".to_owned(),
        resources: vec![function.invoked_arn.clone()],
        context: Vec::new(),
    }];
    match account::simulate(clients, role, &wanted).await {
        Ok(allowances) => {
            let allowed = allowances
                .get("lambda:InvokeFunction")
                .is_some_and(account::Allowance::allowed);
            if allowed {
                list.ok(
                    subject,
                    format!("{} may invoke {}", super::short_name(role), function.name),
                );
            } else {
                let prefix = if function.name.starts_with(LIMITED_PREFIX) {
                    String::new()
                } else {
                    format!(
                        " (AWS's AWSCodeDeployRoleForECSLimited allows only functions named \
                         {LIMITED_PREFIX}*)"
                    )
                };
                list.problem(
                    subject,
                    format!(
                        "{} may not lambda:InvokeFunction on {}{prefix}: CodeDeploy could not \
                         run the hook",
                        super::short_name(role),
                        function.name
                    ),
                    if prefix.is_empty() {
                        format!(
                            "allow lambda:InvokeFunction on {} in the service role",
                            function.arn
                        )
                    } else {
                        format!(
                            "name the function {LIMITED_PREFIX}… (greenlight's template does), or \
                             allow lambda:InvokeFunction on {} in the service role",
                            function.arn
                        )
                    },
                );
            }
        }
        Err(why) => list.unchecked(subject, why.detail, why.fix),
    }
}

/// The deployment group's target groups and production and test listeners exist.
async fn check_load_balancer_info(
    clients: &Clients,
    group: &DeploymentGroupInfo,
    test_listener_needed: Option<&str>,
    list: &mut Checklist,
) {
    let pairs = group
        .load_balancer_info()
        .map(|info| info.target_group_pair_info_list())
        .unwrap_or_default();
    if pairs.is_empty() {
        list.problem(
            "load balancer",
            "the deployment group names no target group pair",
            "set the deployment group's loadBalancerInfo.targetGroupPairInfoList",
        );
        return;
    }
    for pair in pairs {
        for target_group in pair.target_groups() {
            let Some(name) = target_group.name() else {
                continue;
            };
            let subject = format!("target group {name}");
            match clients
                .elb
                .describe_target_groups()
                .names(name)
                .send()
                .await
            {
                Ok(output) if !output.target_groups().is_empty() => list.ok(subject, "exists"),
                Ok(_) => list.problem(
                    subject,
                    "does not exist",
                    "create it or correct the deployment group",
                ),
                Err(error) if account::error_code(&error) == Some("TargetGroupNotFound") => {
                    list.problem(
                        subject,
                        "does not exist (TargetGroupNotFound)",
                        "create it or correct the deployment group",
                    );
                }
                Err(error) => {
                    let why = unreadable("elasticloadbalancing:DescribeTargetGroups", name, &error);
                    list.unchecked(subject, why.detail, why.fix);
                }
            }
        }
        let routes = [
            ("production listener", pair.prod_traffic_route()),
            ("test listener", pair.test_traffic_route()),
        ];
        for (what, route) in routes {
            let listeners = route.map(|route| route.listener_arns()).unwrap_or_default();
            if listeners.is_empty() {
                if what == "test listener" {
                    match test_listener_needed {
                        Some(check) => list.problem(
                            what,
                            format!("none, but {check} needs the test listener"),
                            "set the deployment group's testTrafficRoute.listenerArns, or give \
                             the check another target",
                        ),
                        None => list.note(
                            what,
                            "none: checks that send test traffic (http with target \
                             test_listener) could not run",
                        ),
                    }
                } else {
                    list.problem(
                        what,
                        "the deployment group names none",
                        "set prodTrafficRoute.listenerArns",
                    );
                }
                continue;
            }
            for arn in listeners {
                let subject = format!("{what} {arn}");
                match account::listener(clients, arn).await {
                    Existence::Exists => list.ok(subject, "exists"),
                    Existence::Missing(code) => list.problem(
                        subject,
                        format!("does not exist ({code})"),
                        "create it or correct the deployment group's traffic route",
                    ),
                    Existence::Unreadable(why) => list.unchecked(subject, why.detail, why.fix),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appspec_hooks_are_read_in_order() {
        let appspec = "version: 0.0\nResources: []\nHooks:\n  - BeforeInstall: CodeDeployHook_a\n  - AfterAllowTestTraffic: \"arn:aws:lambda:us-east-1:1:function:CodeDeployHook_b\"\n";
        assert_eq!(
            appspec_hooks(appspec).expect("parses"),
            vec![
                ("BeforeInstall".to_owned(), "CodeDeployHook_a".to_owned()),
                (
                    "AfterAllowTestTraffic".to_owned(),
                    "arn:aws:lambda:us-east-1:1:function:CodeDeployHook_b".to_owned()
                ),
            ]
        );
        assert!(appspec_hooks("Hooks: 3").is_err());
        assert!(appspec_hooks("version: 0.0").expect("parses").is_empty());
    }
}
