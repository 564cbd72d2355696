//! `greenlight doctor`: before a service's first greenlight deployment, check its wiring against
//! the live account and print a checklist with a fix for each problem.
//!
//! For an ECS-controlled service ([`ecs`]): the deployment strategy and its lifecycle hooks; that
//! each hooked stage calls the greenlight function serving it; that each hook's role trusts ECS
//! and may invoke its function; that the config resolves and validates, and has a hook at every
//! stage it puts checks at; that each function's role allows what those checks read (IAM's policy
//! simulator); that the target groups, listener rules and alarms the deployment names exist; and
//! that the task definition's images resolve in ECR. For a CodeDeploy-controlled service
//! ([`codedeploy`]): the deployment group, its service role, the AppSpec's hook names and
//! functions (and the `CodeDeployHook_` prefix AWS's managed policy needs), and the same config,
//! role, load balancer, alarm and image checks.
//!
//! Exit 0 when ready, 1 when anything is wrong or could not be checked, 2 on usage errors.
//! Everything it reads is read-only ([`DOCTOR_PERMISSIONS`]).

pub mod account;
pub mod checklist;
pub mod codedeploy;
pub mod ecs;
pub mod needs;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use greenlight_core::config::ConfigSource;
use greenlight_core::config::resolve::{
    ConfigLookup, ConfigReference, ConfigReferenceReader, FileReader, Placeholders, resolve_config,
};
use greenlight_core::config::{Config, ConfigFormat};
use greenlight_core::stage::LifecycleStage;
use greenlight_sim::iam::AuthorizationData;

use crate::Exit;
use account::{Allowance, ImageLookup, Unreadable};
pub use checklist::{Checklist, Item, Status};

/// `greenlight doctor`'s arguments.
#[derive(Debug, Clone, Args)]
pub struct DoctorArgs {
    /// The ECS cluster (name or ARN).
    #[arg(long)]
    pub cluster: String,
    /// The ECS service (name or ARN).
    #[arg(long)]
    pub service: String,
    /// The config the functions will read, when it is a file in their package (doctor cannot
    /// read inside a deployed package); checked instead of what the hooks and functions name.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// CodeDeploy: the AppSpec to check (default: the deployment group's last deployment's).
    #[arg(long, value_name = "FILE")]
    pub appspec: Option<PathBuf>,
    /// CodeDeploy: the application (default: found from the service).
    #[arg(long)]
    pub application: Option<String>,
    /// CodeDeploy: the deployment group (default: found from the service; needs --application).
    #[arg(long, requires = "application")]
    pub deployment_group: Option<String>,
    /// Print the checklist as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Every permission `greenlight doctor` needs: read-only (AWS's access levels List and Read; a
/// test holds them to AWS's authorization data and to the README).
pub const DOCTOR_PERMISSIONS: &[&str] = &[
    "ecs:DescribeServices",
    "ecs:DescribeTaskDefinition",
    "lambda:GetFunctionConfiguration",
    "iam:GetRole",
    "iam:SimulatePrincipalPolicy",
    "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeRules",
    "elasticloadbalancing:DescribeListeners",
    "cloudwatch:DescribeAlarms",
    "ecr:DescribeImages",
    "codedeploy:ListApplications",
    "codedeploy:ListDeploymentGroups",
    "codedeploy:GetDeploymentGroup",
    "codedeploy:GetDeployment",
    "codedeploy:GetApplicationRevision",
    "ssm:GetParameter",
    "s3:GetObject",
];

/// The clients doctor reads with.
#[derive(Debug, Clone)]
pub struct Clients {
    /// ECS: the service and its task definition.
    pub ecs: aws_sdk_ecs::Client,
    /// Lambda: the functions behind the hooks.
    pub lambda: aws_sdk_lambda::Client,
    /// IAM: roles and the policy simulator.
    pub iam: aws_sdk_iam::Client,
    /// ELBv2: target groups, listeners and rules.
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    /// CloudWatch: alarms.
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    /// ECR: images.
    pub ecr: aws_sdk_ecr::Client,
    /// CodeDeploy: deployment groups and AppSpecs.
    pub codedeploy: aws_sdk_codedeploy::Client,
    /// SSM: `ssm:` config references.
    pub ssm: aws_sdk_ssm::Client,
    /// S3: `s3://` config references.
    pub s3: aws_sdk_s3::Client,
}

impl Clients {
    /// Every client from one SDK config.
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Clients {
            ecs: aws_sdk_ecs::Client::new(config),
            lambda: aws_sdk_lambda::Client::new(config),
            iam: aws_sdk_iam::Client::new(config),
            elb: aws_sdk_elasticloadbalancingv2::Client::new(config),
            cloudwatch: aws_sdk_cloudwatch::Client::new(config),
            ecr: aws_sdk_ecr::Client::new(config),
            codedeploy: aws_sdk_codedeploy::Client::new(config),
            ssm: aws_sdk_ssm::Client::new(config),
            s3: aws_sdk_s3::Client::new(config),
        }
    }
}

/// Runs `greenlight doctor`.
pub fn doctor(
    args: &DoctorArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<Exit> {
    let Some(runtime) = crate::async_runtime(err)? else {
        return Ok(Exit::Failure);
    };
    for path in args.config.iter().chain(args.appspec.iter()) {
        if !path.is_file() {
            writeln!(
                err,
                "greenlight doctor: {} is not a readable file",
                path.display()
            )?;
            return Ok(Exit::Usage);
        }
    }
    let list = runtime.block_on(async {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        examine(&Clients::new(&config), args).await
    });
    present(&list, args, out)
}

/// Prints the checklist (text or JSON) and gives the exit code.
pub fn present(list: &Checklist, args: &DoctorArgs, out: &mut dyn Write) -> std::io::Result<Exit> {
    if args.json {
        let json = serde_json::json!({
            "cluster": args.cluster,
            "service": args.service,
            "ready": list.is_ready(),
            "items": list.items,
        });
        writeln!(out, "{json:#}")?;
    } else {
        list.write_text(
            &format!("greenlight doctor: {}/{}", args.cluster, args.service),
            out,
        )?;
    }
    Ok(list.exit())
}

/// Checks the service's wiring.
pub async fn examine(clients: &Clients, args: &DoctorArgs) -> Checklist {
    let mut list = Checklist::default();
    let subject = format!("service {}/{}", args.cluster, args.service);
    let described = clients
        .ecs
        .describe_services()
        .cluster(&args.cluster)
        .services(&args.service)
        .send()
        .await;
    let service = match described {
        Ok(output) => match output.services().first() {
            Some(service) if service.status() != Some("INACTIVE") => service.clone(),
            _ => {
                let reason = output
                    .failures()
                    .first()
                    .and_then(|failure| failure.reason())
                    .unwrap_or("INACTIVE");
                list.problem(
                    subject,
                    format!("ECS does not know it ({reason})"),
                    "check --cluster and --service, and the region (AWS_REGION)",
                );
                return list;
            }
        },
        Err(error) => {
            let why = account::unreadable("ecs:DescribeServices", &subject, &error);
            list.unchecked(subject, why.detail, why.fix);
            return list;
        }
    };
    let controller = service
        .deployment_controller()
        .map(|controller| controller.r#type())
        .map(|kind| kind.as_str().to_owned())
        .unwrap_or_else(|| "ECS".to_owned());
    match controller.as_str() {
        "ECS" => ecs::examine(clients, args, &service, &mut list).await,
        "CODE_DEPLOY" => codedeploy::examine(clients, args, &service, &mut list).await,
        other => list.problem(
            subject,
            format!("its deployment controller is {other}"),
            "greenlight judges ECS deployments (controller ECS) and CodeDeploy blue/green \
             deployments (controller CODE_DEPLOY)",
        ),
    }
    list
}

/// A config as doctor found it for some hooks.
#[derive(Debug, Clone)]
pub struct FoundConfig {
    /// The config, when it resolved and validated.
    pub config: Option<Config>,
    /// The reference it was read from, if any.
    pub reference: Option<ConfigReference>,
}

/// Finds, reads and validates the config a function reads for a hook, recording what was found.
/// `--config` stands in for every other source.
pub async fn check_config(
    clients: &Clients,
    args: &DoctorArgs,
    subject: &str,
    lookup: ConfigLookup<'_>,
    codedeploy: bool,
    list: &mut Checklist,
) -> FoundConfig {
    let resolved = match &args.config {
        Some(path) => {
            let reference = ConfigReference::File(path.clone());
            match FileReader::new().read_path(path) {
                Ok(text) => Config::parse(
                    &text,
                    ConfigFormat::for_path(path),
                    ConfigSource::Reference(reference.clone()),
                )
                .map(|config| (config, Some(reference), "--config".to_owned())),
                Err(error) => {
                    list.problem(
                        subject,
                        format!("{} could not be read: {error}", path.display()),
                        "pass a readable config file",
                    );
                    return FoundConfig {
                        config: None,
                        reference: None,
                    };
                }
            }
        }
        None => {
            let reader = OutsideThePackage(
                greenlight_aws::config_reader::AwsConfigReader::with_clients(
                    clients.ssm.clone(),
                    clients.s3.clone(),
                ),
            );
            resolve_config(&lookup, &reader as &dyn ConfigReferenceReader)
                .await
                .map(|resolved| {
                    let reference = match &resolved.source {
                        ConfigSource::Reference(reference) => Some(reference.clone()),
                        _ => None,
                    };
                    let from = resolved.source.to_string();
                    (resolved.config, reference, from)
                })
        }
    };
    match resolved {
        Ok((config, reference, from)) => {
            let problems = if codedeploy {
                greenlight_core::codedeploy_hook::codedeploy_limit_problems(&config)
            } else {
                Vec::new()
            };
            if problems.is_empty() {
                list.ok(subject, format!("config from {from} is valid"));
            } else {
                list.problem(
                    subject,
                    format!("config from {from}: {}", problems.join("; ")),
                    "shorten the stage's bake and waits so it fits CodeDeploy's hour per hook",
                );
            }
            FoundConfig {
                config: Some(config),
                reference,
            }
        }
        Err(errors) => {
            // A file reference is read from inside the function's package, which doctor
            // cannot see: that is unchecked, not wrong.
            let in_package = errors.iter().any(|error| {
                error.cause.is_some()
                    && matches!(
                        error.source,
                        ConfigSource::Reference(ConfigReference::File(_))
                    )
            });
            let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
            if in_package {
                list.unchecked(
                    subject,
                    format!(
                        "the config is a file in the function's package: {}",
                        text.join("; ")
                    ),
                    "pass the same file with --config FILE",
                );
            } else {
                list.problem(
                    subject,
                    text.join("; "),
                    "fix the config (greenlight config validate FILE shows every error)",
                );
            }
            FoundConfig {
                config: None,
                reference: None,
            }
        }
    }
}

/// Reads `ssm:` and `s3://` references as the function would, and refuses file references: a file
/// is read from inside the function's package, which doctor cannot see (a file of the same name
/// where doctor runs is not it).
struct OutsideThePackage(greenlight_aws::config_reader::AwsConfigReader);

impl ConfigReferenceReader for OutsideThePackage {
    fn read<'a>(
        &'a self,
        reference: &'a ConfigReference,
    ) -> greenlight_core::config::resolve::ReadFuture<'a> {
        if let ConfigReference::File(path) = reference {
            let error = greenlight_core::config::resolve::ReadError::new(
                greenlight_core::config::resolve::ReadErrorKind::Unsupported,
                format!("{} is inside the function's package", path.display()),
            );
            return Box::pin(async move { Err(error) });
        }
        self.0.read(reference)
    }
}

/// The placeholders of a config reference for this service.
pub fn placeholders(
    args: &DoctorArgs,
    application: Option<&str>,
    group: Option<&str>,
) -> Placeholders {
    Placeholders {
        application: application.map(str::to_owned),
        deployment_group: group.map(str::to_owned),
        cluster: Some(short_name(&args.cluster).to_owned()),
        service: Some(short_name(&args.service).to_owned()),
    }
}

/// A cluster, service or role name from a name or ARN (the ARN's last `/` segment).
pub fn short_name(name_or_arn: &str) -> &str {
    name_or_arn.rsplit('/').next().unwrap_or(name_or_arn)
}

/// The greenlight function a hook calls; `None` (recorded) when it is another function, missing
/// or unreadable. `fix_missing` says what to do about a missing one.
pub async fn hooked_function(
    clients: &Clients,
    target: &str,
    subject: &str,
    fix_missing: &str,
    list: &mut Checklist,
) -> Option<account::FunctionFacts> {
    match account::function(clients, target).await {
        account::FunctionLookup::Greenlight(function) => Some(function),
        account::FunctionLookup::Other(function) => {
            list.note(
                subject,
                format!(
                    "calls {}, which is not one of greenlight's functions",
                    function.name
                ),
            );
            None
        }
        account::FunctionLookup::Missing(message) => {
            list.problem(subject, message, fix_missing);
            None
        }
        account::FunctionLookup::Unreadable(why) => {
            list.unchecked(subject, why.detail, why.fix);
            None
        }
    }
}

/// AWS's authorization data (compiled in), parsed once however many roles are checked.
fn authorization_data() -> Result<&'static AuthorizationData, &'static String> {
    static DATA: std::sync::OnceLock<Result<AuthorizationData, String>> =
        std::sync::OnceLock::new();
    DATA.get_or_init(AuthorizationData::bundled).as_ref()
}

/// Checks that a greenlight function's role allows what it needs, by IAM's policy simulator.
pub async fn check_function_role(
    clients: &Clients,
    function: &account::FunctionFacts,
    needs: &[needs::Need],
    scope: &needs::Scope,
    list: &mut Checklist,
) {
    let subject = format!("role of {}", function.name);
    let data = match authorization_data() {
        Ok(data) => data,
        Err(message) => {
            list.unchecked(subject, message.clone(), "rebuild greenlight");
            return;
        }
    };
    let placed = needs::place(needs, scope, data);
    let allowances = match account::simulate(clients, &function.role, &placed.simulate).await {
        Ok(allowances) => allowances,
        Err(Unreadable { detail, fix }) => {
            list.unchecked(subject, detail, fix);
            return;
        }
    };
    let mut denied = 0;
    let mut undetermined = 0;
    let actions: BTreeSet<&str> = placed
        .simulate
        .iter()
        .map(|simulated| simulated.action.as_str())
        .collect();
    for action in actions {
        let allowance = allowances
            .get(action)
            .cloned()
            .unwrap_or_else(|| Allowance {
                denied_on: vec!["(no answer from the simulator)".to_owned()],
                ..Allowance::default()
            });
        if allowance.allowed() {
            continue;
        }
        let why: BTreeSet<&str> = needs
            .iter()
            .filter(|need| need.action == action)
            .map(|need| need.why.as_str())
            .collect();
        let why = why.into_iter().collect::<Vec<_>>().join("; ");
        let resources: BTreeSet<&str> = placed
            .simulate
            .iter()
            .filter(|simulated| simulated.action == action)
            .flat_map(|simulated| simulated.resources.iter().map(String::as_str))
            .collect();
        let resources = resources.into_iter().collect::<Vec<_>>().join(", ");
        let role = short_name(&function.role);
        if !allowance.explicit && !allowance.missing_context.is_empty() {
            // The policy's conditions read keys doctor cannot supply: it cannot say.
            undetermined += 1;
            list.unchecked(
                subject.clone(),
                format!(
                    "{action} on {} depends on {}, which only the real call carries; needed by \
                     {why}",
                    allowance.denied_on.join(", "),
                    allowance.missing_context.join(", ")
                ),
                format!("check by hand that {role} allows {action} on {resources}"),
            );
            continue;
        }
        denied += 1;
        let how = if allowance.explicit {
            "an explicit Deny refuses"
        } else {
            "nothing allows"
        };
        list.problem(
            subject.clone(),
            format!(
                "{how} {action} on {} for {}; needed by {why}",
                allowance.denied_on.join(", "),
                function.role,
            ),
            format!("grant {action} on {resources} to {role} (greenlight's template grants it)"),
        );
    }
    if denied == 0 && undetermined == 0 {
        list.ok(
            subject.clone(),
            format!(
                "{} allows the {} actions its hooks and checks need",
                short_name(&function.role),
                allowances.len()
            ),
        );
    }
    for (action, why) in &placed.unplaced {
        let needed_by: BTreeSet<&str> = needs
            .iter()
            .filter(|need| need.action == action)
            .map(|need| need.why.as_str())
            .collect();
        list.unchecked(
            subject.clone(),
            format!(
                "{action} was not simulated: {why}; needed by {}",
                needed_by.into_iter().collect::<Vec<_>>().join("; ")
            ),
            format!(
                "check by hand that {} allows {action} on what the check names",
                short_name(&function.role)
            ),
        );
    }
}

/// What the deployment and its configs name, checked to exist: the alarms the deployment names
/// (`deployment_alarms`, with who names them) and the configs' `alarms` checks name, each alarm-name
/// prefix, the task definition's images. Gives what the role checks place their needs on: the
/// alarms each prefix matches, and the ECR repositories.
pub async fn check_named_resources(
    clients: &Clients,
    deployment_alarms: (&[String], &str),
    configs: &[(&Config, &BTreeSet<LifecycleStage>)],
    task_definition: Option<&str>,
    list: &mut Checklist,
) -> (BTreeMap<String, Vec<String>>, BTreeSet<String>) {
    let (names, named_by) = deployment_alarms;
    let mut alarms: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for name in names {
        alarms
            .entry(name.clone())
            .or_default()
            .insert(named_by.to_owned());
    }
    for (config, stages) in configs {
        for (name, by) in config_alarms(config, stages) {
            alarms.entry(name).or_default().insert(by);
        }
    }
    check_alarms(clients, &alarms, list).await;
    let prefix_alarms = check_alarm_prefixes(clients, configs, list).await;
    let repositories = check_images(clients, task_definition, list).await;
    (prefix_alarms, repositories)
}

/// Checks that every alarm named exists; `names` maps each alarm to who names it.
async fn check_alarms(
    clients: &Clients,
    names: &BTreeMap<String, BTreeSet<String>>,
    list: &mut Checklist,
) {
    if names.is_empty() {
        return;
    }
    let wanted: BTreeSet<String> = names.keys().cloned().collect();
    match account::missing_alarms(clients, &wanted).await {
        Ok(missing) => {
            for alarm in &wanted {
                let named_by: Vec<&str> = names[alarm].iter().map(String::as_str).collect();
                if missing.contains(alarm) {
                    list.problem(
                        format!("alarm {alarm}"),
                        format!("does not exist (named by {})", named_by.join(", ")),
                        "create the alarm, or correct the name where it is named",
                    );
                } else {
                    list.ok(format!("alarm {alarm}"), "exists");
                }
            }
        }
        Err(Unreadable { detail, fix }) => list.unchecked("alarms", detail, fix),
    }
}

/// Checks that each container image of the task definition resolves; returns the ECR
/// repositories they are in.
async fn check_images(
    clients: &Clients,
    task_definition: Option<&str>,
    list: &mut Checklist,
) -> BTreeSet<String> {
    let mut repositories = BTreeSet::new();
    let Some(task_definition) = task_definition else {
        list.problem(
            "task definition",
            "the service names none",
            "set the service's task definition",
        );
        return repositories;
    };
    let described = clients
        .ecs
        .describe_task_definition()
        .task_definition(task_definition)
        .send()
        .await;
    let definition = match described {
        Ok(output) => output.task_definition,
        Err(error) => {
            let why = account::unreadable("ecs:DescribeTaskDefinition", task_definition, &error);
            list.unchecked(
                format!("task definition {task_definition}"),
                why.detail,
                why.fix,
            );
            return repositories;
        }
    };
    for container in definition
        .iter()
        .flat_map(|definition| definition.container_definitions())
    {
        let Some(image) = container.image() else {
            continue;
        };
        let subject = format!(
            "image of container {}",
            container.name().unwrap_or("(unnamed)")
        );
        if let Ok(parsed) = greenlight_core::checks::image_ref::ImageRef::parse(image)
            && parsed.ecr.is_some()
        {
            repositories.insert(parsed.repository.clone());
        }
        match account::image(clients, image).await {
            ImageLookup::Resolves(digest) => {
                list.ok(subject, format!("{image} resolves to {digest}"))
            }
            ImageLookup::NotEcr => list.note(
                subject,
                format!("{image} is not in ECR; doctor does not look in other registries"),
            ),
            ImageLookup::Missing(code) => list.problem(
                subject,
                format!("{image} does not resolve in ECR ({code})"),
                "push the image, or correct the task definition's image",
            ),
            ImageLookup::Invalid(problem) => list.problem(
                subject,
                format!("{image} is not an image reference: {problem}"),
                "correct the task definition's image",
            ),
            ImageLookup::Unreadable(Unreadable { detail, fix }) => {
                list.unchecked(subject, detail, fix);
            }
        }
    }
    repositories
}

/// Every stage a config puts its own checks at has a greenlight hook (a problem naming `fix` for
/// each that has not); the built-in stages not hooked are a note.
pub fn check_stage_coverage(
    configs: &[(&Config, &BTreeSet<LifecycleStage>)],
    hooked: &BTreeSet<LifecycleStage>,
    list: &mut Checklist,
    fix: impl Fn(&LifecycleStage) -> String,
) {
    let mut uncovered = BTreeSet::new();
    let mut builtin_only = BTreeSet::new();
    for (config, _) in configs {
        let (own, builtin) = config_stages(config);
        uncovered.extend(own.into_iter().filter(|stage| !hooked.contains(stage)));
        builtin_only.extend(builtin.into_iter().filter(|stage| !hooked.contains(stage)));
    }
    for stage in &uncovered {
        list.problem(
            format!("stage {stage}"),
            "the config puts checks here, but no hook calls greenlight at this stage, so they \
             would never run",
            fix(stage),
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
}

/// The first check at `stages` that sends traffic through, or reads, the test listener.
pub fn test_listener_check(config: &Config, stages: &BTreeSet<LifecycleStage>) -> Option<String> {
    use greenlight_core::checks::{CheckKind, HttpTarget, Listener};
    stages.iter().find_map(|stage| {
        config
            .stage_plan(stage)?
            .checks
            .into_iter()
            .find(|check| match &check.kind {
                CheckKind::Http(params) => params.target == HttpTarget::TestListener,
                CheckKind::Routing(params) => params.listener == Listener::Test,
                _ => false,
            })
            .map(|check| format!("check {} at {stage}", check.id))
    })
}

/// Each `alarms` check's `prefix` matches at least one alarm; the alarms each matches.
async fn check_alarm_prefixes(
    clients: &Clients,
    configs: &[(&Config, &BTreeSet<LifecycleStage>)],
    list: &mut Checklist,
) -> BTreeMap<String, Vec<String>> {
    use greenlight_core::checks::CheckKind;
    let mut prefixes: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (config, stages) in configs {
        for stage in *stages {
            for check in config
                .stage_plan(stage)
                .map(|plan| plan.checks)
                .unwrap_or_default()
            {
                if let CheckKind::Alarms(params) = &check.kind
                    && let Some(prefix) = &params.prefix
                {
                    prefixes
                        .entry(prefix.clone())
                        .or_default()
                        .insert(format!("check {} at {stage}", check.id));
                }
            }
        }
    }
    let mut matched = BTreeMap::new();
    for (prefix, named_by) in prefixes {
        let subject = format!("alarms named {prefix}*");
        let by = named_by.into_iter().collect::<Vec<_>>().join(", ");
        match account::alarms_with_prefix(clients, &prefix).await {
            Ok(alarms) if alarms.is_empty() => list.problem(
                subject,
                format!("no alarm's name starts with {prefix} (named by {by})"),
                "create the alarms, or correct the prefix",
            ),
            Ok(alarms) => {
                list.ok(subject, format!("{} alarm(s) match", alarms.len()));
                matched.insert(prefix, alarms);
            }
            Err(Unreadable { detail, fix }) => list.unchecked(subject, detail, fix),
        }
    }
    matched
}

/// The stages a config puts its own checks at, and those only the built-in plans cover.
pub fn config_stages(config: &Config) -> (BTreeSet<LifecycleStage>, BTreeSet<LifecycleStage>) {
    use greenlight_core::config::StageOrigin;
    let own = config.stages_from(StageOrigin::Config).cloned().collect();
    let builtin = if config.inherit_defaults {
        config.stages_from(StageOrigin::Builtin).cloned().collect()
    } else {
        BTreeSet::new()
    };
    (own, builtin)
}

/// The alarm names a config's `alarms` checks name, at the stages given.
fn config_alarms(config: &Config, stages: &BTreeSet<LifecycleStage>) -> BTreeMap<String, String> {
    use greenlight_core::checks::CheckKind;
    let mut alarms = BTreeMap::new();
    for stage in stages {
        for check in config
            .stage_plan(stage)
            .map(|plan| plan.checks)
            .unwrap_or_default()
        {
            if let CheckKind::Alarms(params) = &check.kind {
                for name in &params.names {
                    alarms.insert(name.clone(), format!("check {} at {stage}", check.id));
                }
            }
        }
    }
    alarms
}

/// The hook's `hookDetails` as JSON, for the config lookup.
pub fn hook_details_json(
    details: Option<&aws_smithy_types::Document>,
) -> Option<serde_json::Value> {
    details.map(account::document_json)
}

/// `(partition, region, account)` of the service, from its ARN; an unchecked item when ECS gave
/// none.
pub fn service_scope(
    service: &aws_sdk_ecs::types::Service,
    list: &mut Checklist,
) -> Option<(String, String, String)> {
    let arn = service.service_arn().unwrap_or_default();
    let scope = arn_scope(arn);
    if scope.is_none() {
        list.unchecked(
            "service",
            format!("ECS gave no usable service ARN ({arn:?})"),
            "run doctor again",
        );
    }
    scope
}

/// `(partition, region, account)` of an ARN.
pub fn arn_scope(arn: &str) -> Option<(String, String, String)> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    (parts.len() == 6 && parts[0] == "arn").then(|| {
        (
            parts[1].to_owned(),
            parts[3].to_owned(),
            parts[4].to_owned(),
        )
    })
}
