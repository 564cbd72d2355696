//! `greenlight approve` and `greenlight reject`: a person's answer to a deployment that an ECS
//! PAUSE lifecycle hook holds, given after reading greenlight's evidence for it.
//!
//! 1. The deployment: `--deployment`, else the service's newest one in progress
//!    (`ecs:ListServiceDeployments`); it must be IN_PROGRESS with a PAUSE hook AWAITING_ACTION
//!    (`ecs:DescribeServiceDeployments`, `lifecycleHookDetails`), or `--hook` names which.
//! 2. greenlight's evidence so far, as `greenlight status` prints it (the functions' summary
//!    lines for the deployment, read with CloudWatch Logs Insights).
//! 3. `ecs:ContinueServiceDeployment` with `action` CONTINUE (approve) or ROLLBACK (reject).
//!
//! Approving needs evidence: when greenlight's summary lines cannot be read, when none exists
//! for the deployment, or when a greenlight hook answered FAILED, approve stops without acting
//! (`--force` acts anyway, saying so). Rejecting is never held back: a rollback must not wait on
//! a log query; the evidence is printed when it can be read.
//!
//! Exit 0 when ECS took the answer, 1 when nothing was answered (the message says why and what to
//! do), 2 for a usage error.

use std::io::Write;

use aws_sdk_ecs::error::ProvideErrorMetadata;
use aws_sdk_ecs::types::{
    DeploymentLifecycleHookAction, DeploymentLifecycleHookStatus,
    DeploymentLifecycleHookTargetType, ServiceDeploymentStatus,
};
use clap::Args;
use greenlight_sim::report::text;
use greenlight_sim::timeline::{SimReport, TimelineEvent};

use crate::Exit;
use crate::simulate::Color;
use crate::status::{Clients, StatusArgs, StatusError, aws_error_for, read_report};

/// The arguments of `greenlight approve` and `greenlight reject`.
#[derive(Debug, Args)]
pub struct DecideArgs {
    /// The service's cluster (name or ARN).
    #[arg(long)]
    pub cluster: String,
    /// The service (name or ARN).
    #[arg(long)]
    pub service: String,
    /// The ECS service deployment ARN (default: the service's newest deployment in progress).
    #[arg(long, value_name = "ARN")]
    pub deployment: Option<String>,
    /// The PAUSE hook to answer (its `hookId`; default: the one awaiting action).
    #[arg(long, value_name = "ID")]
    pub hook: Option<String>,
    /// A log group to read greenlight's summary lines from; repeat for several (default:
    /// `/aws/lambda/<name>` of each Lambda function the deployment's lifecycle hooks invoke).
    #[arg(long = "log-group", value_name = "NAME")]
    pub log_groups: Vec<String>,
    /// Approve even without greenlight's evidence, or over a greenlight hook that answered
    /// FAILED (rejecting never needs it).
    #[arg(long)]
    pub force: bool,
    /// When to colour the evidence (`auto`: on a terminal, unless NO_COLOR is set).
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
}

/// What the person answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Carry on past the PAUSE hook (`action` CONTINUE).
    Approve,
    /// Roll the deployment back (`action` ROLLBACK).
    Reject,
}

impl Decision {
    fn command(self) -> &'static str {
        match self {
            Decision::Approve => "greenlight approve",
            Decision::Reject => "greenlight reject",
        }
    }

    fn action(self) -> DeploymentLifecycleHookAction {
        match self {
            Decision::Approve => DeploymentLifecycleHookAction::Continue,
            Decision::Reject => DeploymentLifecycleHookAction::Rollback,
        }
    }
}

/// Every permission `approve` and `reject` need: `greenlight status`'s ECS and Logs reads, and
/// the one write (a test holds them to AWS's authorization data and to the README).
pub const DECIDE_PERMISSIONS: &[&str] = &[
    "ecs:ListServiceDeployments",
    "ecs:DescribeServiceDeployments",
    "logs:StartQuery",
    "logs:GetQueryResults",
    "ecs:ContinueServiceDeployment",
];

/// Runs `greenlight approve` or `greenlight reject`.
pub fn decide(
    args: &DecideArgs,
    decision: Decision,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<Exit> {
    let Some(runtime) = crate::async_runtime(err)? else {
        return Ok(Exit::Failure);
    };
    runtime.block_on(async {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let clients = Clients {
            ecs: aws_sdk_ecs::Client::new(&config),
            codedeploy: aws_sdk_codedeploy::Client::new(&config),
            logs: aws_sdk_cloudwatchlogs::Client::new(&config),
        };
        answer(&clients, args, decision, out, err).await
    })
}

/// A PAUSE hook awaiting a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Paused {
    deployment: String,
    hook_id: String,
    stage: String,
}

/// Finds the paused deployment, shows greenlight's evidence, and answers ECS.
pub async fn answer<O: Write + ?Sized, E: Write + ?Sized>(
    clients: &Clients,
    args: &DecideArgs,
    decision: Decision,
    out: &mut O,
    err: &mut E,
) -> std::io::Result<Exit> {
    let command = decision.command();
    let paused = match paused_hook(clients, args, command).await {
        Ok(paused) => paused,
        Err(error) => {
            writeln!(err, "{command}: {error}")?;
            return Ok(Exit::Failure);
        }
    };
    let status_args = StatusArgs {
        cluster: args.cluster.clone(),
        service: args.service.clone(),
        deployment: Some(paused.deployment.clone()),
        log_groups: args.log_groups.clone(),
        json: None,
        html: None,
        color: args.color,
    };
    let evidence = read_report(clients, &status_args).await;
    let objection = match &evidence {
        Ok(report) => {
            write!(out, "{}", text::render(report, args.color.text_options()))?;
            writeln!(out)?;
            if !answered_at(report, &paused.stage) {
                // ECS moves on only once every hook of the stage is done (the developer guide).
                writeln!(
                    err,
                    "{command}: note: greenlight has not answered at {} yet; ECS acts on this answer only once its hooks there are done too",
                    paused.stage
                )?;
            }
            objection(report)
        }
        Err(error) => Some(format!("greenlight's evidence could not be read: {error}")),
    };
    if let Some(objection) = objection {
        match (decision, args.force) {
            (Decision::Approve, false) => {
                writeln!(
                    err,
                    "{command}: not approved: {objection}. Read the evidence (greenlight status), then approve with --force to continue anyway, or reject."
                )?;
                return Ok(Exit::Failure);
            }
            _ => writeln!(err, "{command}: note: {objection}")?,
        }
    }
    let sent = clients
        .ecs
        .continue_service_deployment()
        .service_deployment_arn(&paused.deployment)
        .hook_id(&paused.hook_id)
        .action(decision.action())
        .send()
        .await;
    if let Err(error) = sent {
        let refused = match error
            .as_service_error()
            .and_then(ProvideErrorMetadata::code)
        {
            Some("InvalidParameterException") => format!(
                "ECS refused: {} (the hook may have timed out or been answered already; `greenlight status` shows where the deployment is)",
                error
                    .as_service_error()
                    .and_then(ProvideErrorMetadata::message)
                    .unwrap_or("invalid parameter")
            ),
            _ => aws_error_for(
                command,
                "ecs:ContinueServiceDeployment",
                &paused.deployment,
                &error,
            )
            .to_string(),
        };
        writeln!(err, "{command}: {refused}")?;
        return Ok(Exit::Failure);
    }
    let what = match decision {
        Decision::Approve => "approved: ECS continues",
        Decision::Reject => "rejected: ECS rolls back",
    };
    writeln!(
        out,
        "{what} service deployment {} from {} (PAUSE hook {}).",
        paused.deployment, paused.stage, paused.hook_id
    )?;
    Ok(Exit::Success)
}

/// Why greenlight's evidence does not support approving: no greenlight answer at all, or a
/// greenlight hook that answered FAILED. `None` when every answer so far passed or is still
/// judging.
fn objection(report: &SimReport) -> Option<String> {
    let answers: Vec<(&str, &str, Option<&str>)> = report
        .timeline
        .events()
        .iter()
        .filter_map(|timed| match &timed.event {
            TimelineEvent::HookAnswered {
                stage,
                status,
                reason,
                ..
            } => Some((stage.as_str(), status.as_str(), reason.as_deref())),
            _ => None,
        })
        .collect();
    if answers.is_empty() {
        return Some(
            "no greenlight summary line was found for this deployment, so nothing was judged"
                .to_owned(),
        );
    }
    answers
        .iter()
        .find(|(_, status, _)| *status == "FAILED")
        .map(|(stage, _, reason)| {
            format!(
                "greenlight answered FAILED at {stage} ({})",
                reason.unwrap_or("no reason code")
            )
        })
}

/// Whether a greenlight hook has answered at `stage` (anything but IN_PROGRESS).
fn answered_at(report: &SimReport, stage: &str) -> bool {
    report.timeline.events().iter().any(|timed| {
        matches!(&timed.event, TimelineEvent::HookAnswered { stage: at, status, .. }
            if at == stage && status != "IN_PROGRESS")
    })
}

/// The deployment's PAUSE hook awaiting action.
async fn paused_hook(
    clients: &Clients,
    args: &DecideArgs,
    command: &str,
) -> Result<Paused, StatusError> {
    let ecs = &clients.ecs;
    let arn = match &args.deployment {
        Some(arn) => arn.clone(),
        None => crate::status::newest_deployment_in(
            ecs,
            &args.cluster,
            &args.service,
            Some(ServiceDeploymentStatus::InProgress),
            command,
        )
        .await?
        .ok_or_else(|| {
            StatusError(format!(
                "no deployment of {}/{} is in progress, so none is paused",
                args.cluster, args.service
            ))
        })?,
    };
    let described = ecs
        .describe_service_deployments()
        .service_deployment_arns(&arn)
        .send()
        .await
        .map_err(|error| aws_error_for(command, "ecs:DescribeServiceDeployments", &arn, &error))?;
    let Some(deployment) = described.service_deployments().first() else {
        return Err(StatusError(format!(
            "ECS does not know service deployment {arn}"
        )));
    };
    let status = deployment
        .status()
        .map_or("UNKNOWN", ServiceDeploymentStatus::as_str);
    if deployment.status() != Some(&ServiceDeploymentStatus::InProgress) {
        return Err(StatusError(format!(
            "service deployment {arn} is {status}, not IN_PROGRESS: there is nothing to answer"
        )));
    }
    let stage = deployment
        .lifecycle_stage()
        .map_or("an unknown stage", |stage| stage.as_str())
        .to_owned();
    let awaiting: Vec<&str> = deployment
        .lifecycle_hook_details()
        .iter()
        .filter(|hook| {
            hook.target_type() == Some(&DeploymentLifecycleHookTargetType::Pause)
                && hook.status() == Some(&DeploymentLifecycleHookStatus::AwaitingAction)
        })
        .filter_map(|hook| hook.hook_id())
        .collect();
    let hook_id = match (&args.hook, awaiting.as_slice()) {
        (Some(wanted), _) if awaiting.contains(&wanted.as_str()) => wanted.clone(),
        (Some(wanted), _) => {
            return Err(StatusError(format!(
                "service deployment {arn} has no PAUSE hook {wanted} awaiting action{}",
                listed(&awaiting)
            )));
        }
        (None, [only]) => (*only).to_owned(),
        (None, []) => {
            return Err(StatusError(format!(
                "service deployment {arn} is at {stage} and no PAUSE hook is awaiting action: nothing to answer yet (`ecspresso wait --until paused`, or `greenlight status` to see where it is)"
            )));
        }
        (None, _) => {
            return Err(StatusError(format!(
                "service deployment {arn} has several PAUSE hooks awaiting action{}: name one with --hook",
                listed(&awaiting)
            )));
        }
    };
    Ok(Paused {
        deployment: arn,
        hook_id,
        stage,
    })
}

fn listed(ids: &[&str]) -> String {
    if ids.is_empty() {
        String::new()
    } else {
        format!(" ({})", ids.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_cloudwatchlogs::Client as Logs;
    use aws_sdk_cloudwatchlogs::operation::start_query::StartQueryError;
    use aws_sdk_ecs::Client as Ecs;
    use aws_sdk_ecs::operation::continue_service_deployment::{
        ContinueServiceDeploymentError, ContinueServiceDeploymentOutput,
    };
    use aws_sdk_ecs::operation::describe_service_deployments::DescribeServiceDeploymentsOutput;
    use aws_sdk_ecs::operation::list_service_deployments::ListServiceDeploymentsOutput;
    use aws_sdk_ecs::types as ecs;
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;

    const ARN: &str = "arn:aws:ecs:us-east-1:111122223333:service-deployment/prod/web/abc";

    fn args() -> DecideArgs {
        DecideArgs {
            cluster: "prod".into(),
            service: "web".into(),
            deployment: None,
            hook: None,
            log_groups: Vec::new(),
            force: false,
            color: Color::Never,
        }
    }

    fn paused(hooks: &[&str]) -> ecs::ServiceDeployment {
        let mut deployment = ecs::ServiceDeployment::builder()
            .service_deployment_arn(ARN)
            .status(ecs::ServiceDeploymentStatus::InProgress)
            .lifecycle_stage(ecs::ServiceDeploymentLifecycleStage::PostTestTrafficShift)
            .started_at(aws_smithy_types::DateTime::from_secs(1_000))
            .deployment_configuration(
                ecs::DeploymentConfiguration::builder()
                    .lifecycle_hooks(
                        ecs::DeploymentLifecycleHook::builder()
                            .hook_target_arn(
                                "arn:aws:lambda:us-east-1:111122223333:function:greenlight-test-traffic",
                            )
                            .build(),
                    )
                    .build(),
            );
        for id in hooks {
            deployment = deployment.lifecycle_hook_details(
                ecs::DeploymentLifecycleHookDetail::builder()
                    .hook_id(*id)
                    .target_type(ecs::DeploymentLifecycleHookTargetType::Pause)
                    .status(ecs::DeploymentLifecycleHookStatus::AwaitingAction)
                    .build(),
            );
        }
        deployment.build()
    }

    fn ecs_rules(hooks: &'static [&'static str], continued: Rule) -> Vec<Rule> {
        let listed = mock!(Ecs::list_service_deployments)
            .match_requests(|input| input.status() == [ecs::ServiceDeploymentStatus::InProgress])
            .then_output(|| {
                ListServiceDeploymentsOutput::builder()
                    .service_deployments(
                        ecs::ServiceDeploymentBrief::builder()
                            .service_deployment_arn(ARN)
                            .build(),
                    )
                    .build()
            });
        let described = mock!(Ecs::describe_service_deployments).then_output(move || {
            DescribeServiceDeploymentsOutput::builder()
                .service_deployments(paused(hooks))
                .build()
        });
        vec![listed, described, continued]
    }

    fn continued(action: ecs::DeploymentLifecycleHookAction) -> Rule {
        mock!(Ecs::continue_service_deployment)
            .match_requests(move |input| {
                input.service_deployment_arn() == Some(ARN)
                    && input.hook_id() == Some("ecs-pause-1")
                    && input.action() == Some(&action)
            })
            .then_output(|| {
                ContinueServiceDeploymentOutput::builder()
                    .service_deployment_arn(ARN)
                    .build()
            })
    }

    fn denied_logs() -> Logs {
        let denied = mock!(Logs::start_query).then_error(|| {
            StartQueryError::generic(
                ErrorMetadata::builder()
                    .code("AccessDeniedException")
                    .message("User is not authorized to perform: logs:StartQuery")
                    .build(),
            )
        });
        mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, &[&denied])
    }

    fn clients(ecs: Ecs, logs: Logs) -> Clients {
        let config = aws_sdk_codedeploy::Config::builder()
            .behavior_version(aws_sdk_codedeploy::config::BehaviorVersion::latest())
            .build();
        Clients {
            ecs,
            codedeploy: aws_sdk_codedeploy::Client::from_conf(config),
            logs,
        }
    }

    async fn run(clients: &Clients, args: &DecideArgs, decision: Decision) -> (Exit, String) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let exit = answer(clients, args, decision, &mut out, &mut err)
            .await
            .expect("writes to memory");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(&err)
        );
        (exit, text)
    }

    #[tokio::test]
    async fn approve_without_evidence_acts_only_when_forced_and_reject_is_never_held_back() {
        use ecs::DeploymentLifecycleHookAction::{Continue, Rollback};
        // Approve: greenlight's summary lines cannot be read, so nothing is sent.
        let rule = continued(Continue);
        let ecs = mock_client!(
            aws_sdk_ecs,
            RuleMode::MatchAny,
            &ecs_rules(&["ecs-pause-1"], rule.clone())
        );
        let clients = clients(ecs, denied_logs());
        let (exit, text) = run(&clients, &args(), Decision::Approve).await;
        assert_eq!(exit, Exit::Failure, "{text}");
        assert!(text.contains("not approved"), "{text}");
        assert!(text.contains("logs:StartQuery"), "{text}");
        assert_eq!(rule.num_calls(), 0);
        // --force approves anyway, saying why it had to.
        let forced = DecideArgs {
            force: true,
            ..args()
        };
        let (exit, text) = run(&clients, &forced, Decision::Approve).await;
        assert_eq!(exit, Exit::Success, "{text}");
        assert!(
            text.contains("note: greenlight's evidence could not be read"),
            "{text}"
        );
        assert_eq!(rule.num_calls(), 1);

        // Reject: the rollback goes out whatever the logs say.
        let rule = continued(Rollback);
        let ecs = mock_client!(
            aws_sdk_ecs,
            RuleMode::MatchAny,
            &ecs_rules(&["ecs-pause-1"], rule.clone())
        );
        let (exit, text) = run(&clients_with(ecs), &args(), Decision::Reject).await;
        assert_eq!(exit, Exit::Success, "{text}");
        assert!(text.contains("rejected: ECS rolls back"), "{text}");
        assert_eq!(rule.num_calls(), 1);
    }

    fn clients_with(ecs: Ecs) -> Clients {
        clients(ecs, denied_logs())
    }

    #[tokio::test]
    async fn nothing_or_several_paused_and_a_denied_answer_are_named_and_nothing_is_guessed() {
        let rule = continued(ecs::DeploymentLifecycleHookAction::Rollback);
        let none = mock_client!(
            aws_sdk_ecs,
            RuleMode::MatchAny,
            &ecs_rules(&[], rule.clone())
        );
        let (exit, text) = run(&clients_with(none), &args(), Decision::Reject).await;
        assert_eq!(exit, Exit::Failure);
        assert!(text.contains("no PAUSE hook is awaiting action"), "{text}");
        assert!(text.contains("POST_TEST_TRAFFIC_SHIFT"), "{text}");

        let several = mock_client!(
            aws_sdk_ecs,
            RuleMode::MatchAny,
            &ecs_rules(&["ecs-pause-1", "ecs-pause-2"], rule.clone())
        );
        let clients = clients_with(several);
        let (exit, text) = run(&clients, &args(), Decision::Reject).await;
        assert_eq!(exit, Exit::Failure);
        assert!(
            text.contains("--hook") && text.contains("ecs-pause-2"),
            "{text}"
        );
        assert_eq!(rule.num_calls(), 0);
        let named = DecideArgs {
            hook: Some("ecs-pause-1".into()),
            ..args()
        };
        assert_eq!(
            run(&clients, &named, Decision::Reject).await.0,
            Exit::Success
        );
        assert_eq!(rule.num_calls(), 1);

        let denied = mock!(Ecs::continue_service_deployment).then_error(|| {
            ContinueServiceDeploymentError::generic(
                ErrorMetadata::builder()
                    .code("AccessDeniedException")
                    .message("not authorized")
                    .build(),
            )
        });
        let ecs = mock_client!(
            aws_sdk_ecs,
            RuleMode::MatchAny,
            &ecs_rules(&["ecs-pause-1"], denied)
        );
        let (exit, text) = run(&clients_with(ecs), &args(), Decision::Reject).await;
        assert_eq!(exit, Exit::Failure);
        assert!(
            text.contains("greenlight reject needs the permission ecs:ContinueServiceDeployment"),
            "{text}"
        );
    }
}
