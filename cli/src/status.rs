//! `greenlight status`: a real deployment's timeline, as the rehearsal prints it.
//!
//! Two sources, one renderer: the deployment engine's own record of the deployment and the
//! functions' summary lines, turned into the rehearsal's report
//! (`greenlight_sim::observed::report`) and rendered by the same text, JSON and HTML renderers
//! `greenlight simulate` uses. Read-only calls only:
//! - `ecs:ListServiceDeployments` (the newest deployment, unless `--deployment` names one) and
//!   `ecs:DescribeServiceDeployments` (status, rollback, lifecycle hooks, revisions);
//! - for a CodeDeploy deployment (`--deployment d-…`), `codedeploy:GetDeployment` instead: its
//!   status, error, rollback and AppSpec, whose `Hooks` name the functions;
//! - one CloudWatch Logs Insights query over the hook functions' log groups, by deployment id
//!   (`logs:StartQuery`, then `logs:GetQueryResults` until it completes).
//!
//! Exit 0 when the deployment was read (whatever its outcome), 1 when something could not be
//! read (the message names the call, and for a denied one the permission to grant), 2 for a
//! usage error.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use aws_sdk_cloudwatchlogs::Client as Logs;
use aws_sdk_cloudwatchlogs::types::QueryStatus;
use aws_sdk_codedeploy::Client as CodeDeploy;
use aws_sdk_ecs::Client as Ecs;
use aws_sdk_ecs::error::ProvideErrorMetadata;
use aws_sdk_ecs::types::{ServiceDeployment, ServiceDeploymentStatus};
use clap::Args;
use greenlight_sim::observed::{DeploymentRecord, RollbackRecord, SummaryRecord};
use greenlight_sim::report::text;
use greenlight_sim::timeline::SimReport;

use crate::Exit;
use crate::simulate::Color;

/// The arguments of `greenlight status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The service's cluster (name or ARN).
    #[arg(long)]
    pub cluster: String,
    /// The service (name or ARN).
    #[arg(long)]
    pub service: String,
    /// The ECS service deployment ARN (default: the service's newest), or a CodeDeploy
    /// deployment id (`d-…`) for a service CodeDeploy deploys.
    #[arg(long, value_name = "ARN|ID")]
    pub deployment: Option<String>,
    /// A log group to read summary lines from; repeat for several (default: `/aws/lambda/<name>`
    /// of each Lambda function the deployment's lifecycle hooks invoke).
    #[arg(long = "log-group", value_name = "NAME")]
    pub log_groups: Vec<String>,
    /// Also write the report as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Also write the timeline as an HTML page (with an SVG picture) to this file.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// When to colour the timeline (`auto`: on a terminal, unless NO_COLOR is set).
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
}

/// Every permission `greenlight status` needs: read-only (AWS's access levels List and Read;
/// a test holds them to AWS's authorization data and to the README).
pub const STATUS_PERMISSIONS: &[&str] = &[
    "ecs:ListServiceDeployments",
    "ecs:DescribeServiceDeployments",
    "codedeploy:ListApplications",
    "codedeploy:ListDeploymentGroups",
    "codedeploy:GetDeploymentGroup",
    "codedeploy:GetDeployment",
    "codedeploy:GetApplicationRevision",
    "logs:StartQuery",
    "logs:GetQueryResults",
];

/// What could not be read, naming the call and (when denied) the permission.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StatusError(pub String);

/// How long a Logs Insights query is waited for.
const QUERY_WAIT: Duration = Duration::from_secs(60);
/// Between two `GetQueryResults`.
const QUERY_POLL: Duration = Duration::from_millis(500);
/// Summary lines are looked for this long before the deployment started and after it finished
/// (clock skew, a hook answering just after the engine recorded the end).
const LOG_SLACK: Duration = Duration::from_secs(5 * 60);

/// Runs `greenlight status`.
pub fn status(
    args: &StatusArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<Exit> {
    let Some(runtime) = crate::async_runtime(err)? else {
        return Ok(Exit::Failure);
    };
    let read = runtime.block_on(async {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let clients = Clients {
            ecs: Ecs::new(&config),
            codedeploy: CodeDeploy::new(&config),
            logs: Logs::new(&config),
        };
        read_report(&clients, args).await
    });
    match read {
        Ok(report) => present(&report, args, out, err),
        Err(error) => {
            writeln!(err, "greenlight status: {error}")?;
            Ok(Exit::Failure)
        }
    }
}

/// Prints the report's timeline and writes the files `args` asks for.
pub fn present(
    report: &SimReport,
    args: &StatusArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<Exit> {
    write!(out, "{}", text::render(report, args.color.text_options()))?;
    let written = crate::simulate::write_reports(
        report,
        args.json.as_deref(),
        args.html.as_deref(),
        out,
        err,
    )?;
    Ok(if written {
        Exit::Success
    } else {
        Exit::Failure
    })
}

/// The clients `status` reads with.
#[derive(Debug, Clone)]
pub struct Clients {
    /// ECS: the service deployment.
    pub ecs: Ecs,
    /// CodeDeploy: a CodeDeploy deployment.
    pub codedeploy: CodeDeploy,
    /// CloudWatch Logs: the summary lines.
    pub logs: Logs,
}

/// Reads the deployment and its summary lines, and builds the report.
pub async fn read_report(clients: &Clients, args: &StatusArgs) -> Result<SimReport, StatusError> {
    if let Some(id) = args.deployment.as_deref().filter(|id| is_codedeploy_id(id)) {
        let (record, groups) = codedeploy_deployment(&clients.codedeploy, id, args).await?;
        return observe(&clients.logs, &record, groups, args).await;
    }
    let ecs = &clients.ecs;
    let arn = match &args.deployment {
        Some(arn) => arn.clone(),
        None => match newest_deployment(ecs, &args.cluster, &args.service).await? {
            Some(arn) => arn,
            // ECS lists no deployment of a service CodeDeploy deploys: its deployment group
            // knows the newest.
            None => {
                let id = newest_codedeploy_deployment(&clients.codedeploy, args).await?;
                let (record, groups) =
                    codedeploy_deployment(&clients.codedeploy, &id, args).await?;
                return observe(&clients.logs, &record, groups, args).await;
            }
        },
    };
    let described = ecs
        .describe_service_deployments()
        .service_deployment_arns(&arn)
        .send()
        .await
        .map_err(|error| aws_error("ecs:DescribeServiceDeployments", &arn, &error))?;
    let Some(deployment) = described.service_deployments().first() else {
        let why = described
            .failures()
            .first()
            .and_then(|failure| failure.reason())
            .unwrap_or("not found");
        return Err(StatusError(format!(
            "ECS does not know service deployment {arn} ({why}); list the service's deployments with `aws ecs list-service-deployments --cluster {} --service {}`",
            args.cluster, args.service
        )));
    };
    let record = deployment_record(deployment, &args.cluster, &args.service);
    observe(&clients.logs, &record, hook_log_groups(deployment), args).await
}

/// The report of `record` from the summary lines in `groups` (or the `--log-group`s named).
async fn observe(
    logs: &Logs,
    record: &DeploymentRecord,
    groups: Vec<String>,
    args: &StatusArgs,
) -> Result<SimReport, StatusError> {
    let groups = if args.log_groups.is_empty() {
        groups
    } else {
        args.log_groups.clone()
    };
    let summaries = if groups.is_empty() {
        Vec::new()
    } else {
        summary_lines(logs, &groups, record).await?
    };
    Ok(greenlight_sim::observed::report(record, &summaries))
}

/// An engine's timestamp as a `SystemTime` (ECS and CodeDeploy share the SDK's `DateTime`).
fn system_time(at: Option<&aws_sdk_ecs::primitives::DateTime>) -> Option<SystemTime> {
    at.and_then(|at| SystemTime::try_from(*at).ok())
}

/// `cluster/service` by their names, whether given as names or ARNs.
fn service_label(cluster: &str, service: &str) -> String {
    use crate::doctor::short_name;
    format!("{}/{}", short_name(cluster), short_name(service))
}

/// The default log groups (`/aws/lambda/<name>`) of the Lambda functions `targets` name: function
/// names or ARNs, with or without a version or alias; a target that is another service's ARN
/// names none.
fn lambda_log_groups<'a>(targets: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut groups: Vec<String> = targets
        .filter(|target| !target.starts_with("arn:") || target.contains(":function:"))
        .map(greenlight_sim::world::function_name)
        .filter(|name| !name.is_empty())
        .map(|name| format!("/aws/lambda/{name}"))
        .collect();
    groups.sort();
    groups.dedup();
    groups
}

/// Whether `id` is a CodeDeploy deployment id (`d-` and nine characters), not an ECS ARN.
fn is_codedeploy_id(id: &str) -> bool {
    id.strip_prefix("d-")
        .is_some_and(|rest| !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// What CodeDeploy recorded of deployment `id`, and the log groups of the functions its
/// AppSpec's hooks name.
async fn codedeploy_deployment(
    codedeploy: &CodeDeploy,
    id: &str,
    args: &StatusArgs,
) -> Result<(DeploymentRecord, Vec<String>), StatusError> {
    let got = codedeploy
        .get_deployment()
        .deployment_id(id)
        .send()
        .await
        .map_err(|error| aws_error("codedeploy:GetDeployment", id, &error))?;
    let info = got
        .deployment_info()
        .ok_or_else(|| StatusError(format!("CodeDeploy returned no deployment {id}")))?;
    let status = info
        .status()
        .map(|status| status.as_str().to_owned())
        .unwrap_or_default();
    let finished = matches!(status.as_str(), "Succeeded" | "Failed" | "Stopped");
    let error_message = info
        .error_information()
        .and_then(|error| error.message())
        .map(str::to_owned);
    let record = DeploymentRecord {
        id: id.to_owned(),
        service: service_label(&args.cluster, &args.service),
        strategy: "CODE_DEPLOY".to_owned(),
        rollback: info
            .rollback_info()
            .map(|rollback| RollbackRecord {
                reason: rollback
                    .rollback_message()
                    .unwrap_or("rolled back")
                    .to_owned(),
                started_at: None,
            })
            .or_else(|| {
                // A failed ECS blue/green deployment reroutes traffic to blue whether or not
                // automatic rollback is on; the error says why.
                (status == "Failed").then(|| RollbackRecord {
                    reason: error_message
                        .clone()
                        .unwrap_or_else(|| "the deployment failed".to_owned()),
                    started_at: None,
                })
            }),
        status_reason: error_message,
        started_at: system_time(info.start_time().or(info.create_time())),
        finished_at: if finished {
            system_time(info.complete_time())
        } else {
            None
        },
        status,
        blue: String::new(),
        green: String::new(),
    };
    let appspec = appspec_text(codedeploy, info).await?;
    let groups = appspec_log_groups(&appspec);
    if groups.is_empty() && args.log_groups.is_empty() {
        return Err(StatusError(format!(
            "deployment {id}'s AppSpec names no hook function, so there are no logs to read; name the functions' log groups with --log-group"
        )));
    }
    Ok((record, groups))
}

/// The deployment's AppSpec. The API reference says `GetDeployment`'s `appSpecContent.content`
/// is always null and to use `GetApplicationRevision`; both are read, inline text first.
async fn appspec_text(
    codedeploy: &CodeDeploy,
    info: &aws_sdk_codedeploy::types::DeploymentInfo,
) -> Result<String, StatusError> {
    let Some(revision) = info.revision() else {
        return Ok(String::new());
    };
    if let Some(content) = revision
        .app_spec_content()
        .and_then(|content| content.content())
    {
        return Ok(content.to_owned());
    }
    let application = info.application_name().unwrap_or_default();
    let fetched = codedeploy
        .get_application_revision()
        .application_name(application)
        .revision(revision.clone())
        .send()
        .await
        .map_err(|error| aws_error("codedeploy:GetApplicationRevision", application, &error))?;
    Ok(fetched
        .revision()
        .and_then(|revision| revision.app_spec_content())
        .and_then(|content| content.content())
        .unwrap_or_default()
        .to_owned())
}

/// `/aws/lambda/<name>` of each function an AppSpec's `Hooks` name (YAML or JSON; a name or an
/// ARN). An AppSpec that cannot be read names none: `--log-group` does.
fn appspec_log_groups(appspec: &str) -> Vec<String> {
    let Ok(parsed) = serde_saphyr::from_str::<serde_json::Value>(appspec) else {
        return Vec::new();
    };
    let hooks = parsed["Hooks"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    lambda_log_groups(
        hooks
            .iter()
            .filter_map(serde_json::Value::as_object)
            .flat_map(|hook| hook.values())
            .filter_map(serde_json::Value::as_str),
    )
}

/// The service's newest deployment that ECS lists; `None` when it lists none (a service
/// CodeDeploy deploys, or one never deployed).
async fn newest_deployment(
    ecs: &Ecs,
    cluster: &str,
    service: &str,
) -> Result<Option<String>, StatusError> {
    newest_deployment_in(ecs, cluster, service, None, "greenlight status").await
}

/// The service's newest deployment that ECS lists in `status` (any when `None`), for `command`'s
/// messages; `None` when it lists none.
pub(crate) async fn newest_deployment_in(
    ecs: &Ecs,
    cluster: &str,
    service: &str,
    status: Option<ServiceDeploymentStatus>,
    command: &str,
) -> Result<Option<String>, StatusError> {
    // Every page (the SDK model has no paginator for it; at most 100): the API reference does not
    // say in which order briefs are listed.
    let mut newest: Option<(Option<(i64, u32)>, String)> = None;
    let mut token: Option<String> = None;
    for _ in 0..100 {
        let page = match ecs
            .list_service_deployments()
            .cluster(cluster)
            .service(service)
            .set_status(status.clone().map(|status| vec![status]))
            .set_next_token(token.take())
            .send()
            .await
        {
            Ok(page) => page,
            // What ECS answers for a CODE_DEPLOY service is not documented: an empty list, or
            // this refusal. Either way it lists nothing.
            Err(error)
                if error
                    .as_service_error()
                    .and_then(ProvideErrorMetadata::code)
                    == Some("InvalidParameterException") =>
            {
                return Ok(None);
            }
            Err(error) => {
                return Err(aws_error_for(
                    command,
                    "ecs:ListServiceDeployments",
                    service,
                    &error,
                ));
            }
        };
        for brief in page.service_deployments() {
            let created = brief.created_at().map(|at| (at.secs(), at.subsec_nanos()));
            if let Some(arn) = brief.service_deployment_arn()
                && newest.as_ref().is_none_or(|(known, _)| created > *known)
            {
                newest = Some((created, arn.to_owned()));
            }
        }
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    Ok(newest.map(|(_, arn)| arn))
}

/// The newest CodeDeploy deployment of the service: its deployment group's last attempted one.
async fn newest_codedeploy_deployment(
    codedeploy: &CodeDeploy,
    args: &StatusArgs,
) -> Result<String, StatusError> {
    let group = crate::codedeploy_group::find(codedeploy, &args.cluster, &args.service, None)
        .await
        .map_err(|why| StatusError(format!("{}; {}", why.detail, why.fix)))?;
    let none = || {
        StatusError(format!(
            "service {} in cluster {} has no deployment that ECS lists, and no CodeDeploy \
             deployment group that deploys it has a deployment; name one with --deployment ARN \
             or --deployment d-…",
            args.service, args.cluster
        ))
    };
    group
        .as_ref()
        .and_then(crate::codedeploy_group::last_deployment)
        .ok_or_else(none)
}

/// What ECS recorded, in the report's terms.
fn deployment_record(
    deployment: &ServiceDeployment,
    cluster: &str,
    service: &str,
) -> DeploymentRecord {
    DeploymentRecord {
        id: deployment
            .service_deployment_arn()
            .unwrap_or_default()
            .to_owned(),
        service: service_label(cluster, service),
        strategy: deployment
            .deployment_configuration()
            .and_then(|configuration| configuration.strategy())
            .map_or("ROLLING", |strategy| strategy.as_str())
            .to_owned(),
        status: deployment
            .status()
            .map(|status| status.as_str().to_owned())
            .unwrap_or_default(),
        status_reason: deployment.status_reason().map(str::to_owned),
        started_at: system_time(deployment.started_at().or(deployment.created_at())),
        finished_at: system_time(deployment.finished_at()),
        rollback: deployment.rollback().map(|rollback| RollbackRecord {
            reason: rollback.reason().unwrap_or("rolled back").to_owned(),
            started_at: system_time(rollback.started_at()),
        }),
        blue: deployment
            .source_service_revisions()
            .first()
            .and_then(|revision| revision.arn())
            .unwrap_or_default()
            .to_owned(),
        green: deployment
            .target_service_revision()
            .and_then(|revision| revision.arn())
            .unwrap_or_default()
            .to_owned(),
    }
}

/// `/aws/lambda/<name>` of each Lambda function the deployment's lifecycle hooks invoke (a
/// function's default log group; `--log-group` names others).
fn hook_log_groups(deployment: &ServiceDeployment) -> Vec<String> {
    let configured = deployment
        .deployment_configuration()
        .map(|configuration| configuration.lifecycle_hooks())
        .unwrap_or_default()
        .iter()
        .filter_map(|hook| hook.hook_target_arn());
    let running = deployment
        .lifecycle_hook_details()
        .iter()
        .filter_map(|hook| hook.target_arn());
    lambda_log_groups(configured.chain(running))
}

/// The Logs Insights query for one deployment's summary lines, matching the raw text: Logs
/// Insights discovers at most 200 fields of a JSON event, and a line with many checks and their
/// evidence can have more, so a filter on `greenlight.deployment` could miss exactly the line with
/// the most to say. Lines are parsed and checked again after the query. The id is a string
/// literal, so one with a quote or a backslash is refused rather than escaped.
pub fn summary_query(deployment: &str) -> Result<String, StatusError> {
    if deployment.contains(['"', '\\', '\n']) {
        return Err(StatusError(format!("not a deployment id: {deployment:?}")));
    }
    Ok(format!(
        "fields @timestamp, @message, @log\n| filter @message like \"{}\" and @message like \"{deployment}\"\n| sort @timestamp asc\n| limit 10000",
        greenlight_core::telemetry::SUMMARY_MESSAGE
    ))
}

/// The deployment's summary lines from `groups`, by one Logs Insights query. A query naming a
/// log group that does not exist fails as a whole (`ResourceNotFoundException`), and a function
/// that was never invoked has none (a rollback before the production hooks): then each group is
/// queried alone and the missing ones are skipped.
async fn summary_lines(
    logs: &Logs,
    groups: &[String],
    deployment: &DeploymentRecord,
) -> Result<Vec<SummaryRecord>, StatusError> {
    match query_summaries(logs, groups, deployment).await {
        Err(Query::NoSuchGroup) if groups.len() > 1 => {
            let mut lines = Vec::new();
            for group in groups {
                match query_summaries(logs, std::slice::from_ref(group), deployment).await {
                    Ok(found) => lines.extend(found),
                    Err(Query::NoSuchGroup) => {}
                    Err(Query::Failed(error)) => return Err(error),
                }
            }
            Ok(lines)
        }
        Err(Query::NoSuchGroup) => Ok(Vec::new()),
        Err(Query::Failed(error)) => Err(error),
        Ok(lines) => Ok(lines),
    }
}

/// Why a query found nothing.
enum Query {
    /// A log group it names does not exist.
    NoSuchGroup,
    /// Anything else.
    Failed(StatusError),
}

/// One Logs Insights query over `groups`. Lines are checked again here (message and
/// deployment), so an endpoint that filters loosely cannot mix in another deployment's answers.
async fn query_summaries(
    logs: &Logs,
    groups: &[String],
    deployment: &DeploymentRecord,
) -> Result<Vec<SummaryRecord>, Query> {
    let seconds = |at: SystemTime| {
        at.duration_since(SystemTime::UNIX_EPOCH)
            .map(|since| i64::try_from(since.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or_default()
    };
    let start = deployment
        .started_at
        .map_or(SystemTime::UNIX_EPOCH, |at| at - LOG_SLACK);
    // Logs Insights takes whole seconds: a deployment still in progress reads up to "now" plus
    // the slack too, or the lines of the current second (the newest answers) would be cut off.
    let end = deployment.finished_at.unwrap_or_else(SystemTime::now) + LOG_SLACK;
    let query = summary_query(&deployment.id).map_err(Query::Failed)?;
    let started = logs
        .start_query()
        .set_log_group_names(Some(groups.to_vec()))
        .start_time(seconds(start))
        .end_time(seconds(end))
        .query_string(query)
        .send()
        .await
        .map_err(|error| {
            let missing = error
                .as_service_error()
                .is_some_and(|service| service.is_resource_not_found_exception());
            if missing {
                Query::NoSuchGroup
            } else {
                Query::Failed(aws_error("logs:StartQuery", &groups.join(", "), &error))
            }
        })?;
    let query_id = started.query_id().unwrap_or_default().to_owned();
    let waited_from = tokio::time::Instant::now();
    loop {
        let results = logs
            .get_query_results()
            .query_id(&query_id)
            .send()
            .await
            .map_err(|error| Query::Failed(aws_error("logs:GetQueryResults", &query_id, &error)))?;
        match results.status() {
            Some(QueryStatus::Complete) => {
                return Ok(results
                    .results()
                    .iter()
                    .filter_map(|row| {
                        let field = |name: &str| {
                            row.iter()
                                .find(|field| field.field() == Some(name))
                                .and_then(|field| field.value())
                        };
                        let group = field("@log").unwrap_or_default();
                        // `@log` is `account:group`; a group name has no colon.
                        let group = group.rsplit(':').next().unwrap_or(group);
                        let function = group.strip_prefix("/aws/lambda/").unwrap_or(group);
                        SummaryRecord::parse(field("@message")?, function)
                    })
                    .filter(|line| line.deployment() == Some(deployment.id.as_str()))
                    .collect());
            }
            Some(QueryStatus::Failed | QueryStatus::Cancelled | QueryStatus::Timeout) => {
                return Err(Query::Failed(StatusError(format!(
                    "the Logs Insights query over {} ended {}; run it in the console to see why:\n{}",
                    groups.join(", "),
                    results.status().map_or("", |status| status.as_str()),
                    summary_query(&deployment.id).unwrap_or_default()
                ))));
            }
            _ if waited_from.elapsed() >= QUERY_WAIT => {
                return Err(Query::Failed(StatusError(format!(
                    "the Logs Insights query over {} did not complete within {}s",
                    groups.join(", "),
                    QUERY_WAIT.as_secs()
                ))));
            }
            _ => tokio::time::sleep(QUERY_POLL).await,
        }
    }
}

/// An SDK error as one sentence naming the call, and for a denial the permission to grant.
fn aws_error<E: ProvideErrorMetadata + std::error::Error + 'static>(
    action: &str,
    resource: &str,
    error: &aws_sdk_ecs::error::SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> StatusError {
    aws_error_for("greenlight status", action, resource, error)
}

/// What a failed call of `command` says: for a denied one, the permission to grant.
pub(crate) fn aws_error_for<E: ProvideErrorMetadata + std::error::Error + 'static>(
    command: &str,
    action: &str,
    resource: &str,
    error: &aws_sdk_ecs::error::SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> StatusError {
    let detail = error
        .as_service_error()
        .and_then(|service| service.message().map(str::to_owned))
        .unwrap_or_else(|| aws_sdk_ecs::error::DisplayErrorContext(error).to_string());
    let code = error.as_service_error().and_then(|service| service.code());
    match code {
        Some("AccessDeniedException" | "AccessDenied" | "UnauthorizedOperation") => {
            StatusError(format!(
                "{action} was denied on {resource}: {command} needs the permission {action} ({detail})"
            ))
        }
        Some(code) => StatusError(format!("{action} on {resource} failed: {code}: {detail}")),
        None => StatusError(format!(
            "{action} on {resource} could not be sent: {detail}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_cloudwatchlogs::operation::get_query_results::GetQueryResultsOutput;
    use aws_sdk_cloudwatchlogs::operation::start_query::{StartQueryError, StartQueryOutput};
    use aws_sdk_cloudwatchlogs::types::ResultField;
    use aws_sdk_cloudwatchlogs::types::error::ResourceNotFoundException;
    use aws_sdk_codedeploy::operation::get_deployment_group::GetDeploymentGroupOutput;
    use aws_sdk_codedeploy::operation::list_applications::ListApplicationsOutput;
    use aws_sdk_codedeploy::operation::list_deployment_groups::ListDeploymentGroupsOutput;
    use aws_sdk_codedeploy::types::{DeploymentGroupInfo, EcsService, LastDeploymentInfo};
    use aws_sdk_ecs::operation::describe_service_deployments::DescribeServiceDeploymentsOutput;
    use aws_sdk_ecs::operation::list_service_deployments::{
        ListServiceDeploymentsError, ListServiceDeploymentsOutput,
    };
    use aws_sdk_ecs::types as ecs;
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;

    const ARN: &str = "arn:aws:ecs:us-east-1:111122223333:service-deployment/prod/web/abc";

    fn args() -> StatusArgs {
        StatusArgs {
            cluster: "prod".into(),
            service: "web".into(),
            deployment: None,
            log_groups: Vec::new(),
            json: None,
            html: None,
            color: Color::Never,
        }
    }

    fn clients(ecs: Ecs, logs: Logs) -> Clients {
        let config = aws_sdk_codedeploy::Config::builder()
            .behavior_version(aws_sdk_codedeploy::config::BehaviorVersion::latest())
            .build();
        Clients {
            ecs,
            codedeploy: CodeDeploy::from_conf(config),
            logs,
        }
    }

    #[test]
    fn codedeploy_ids_and_appspec_hooks_are_told_apart_from_ecs() {
        assert!(is_codedeploy_id("d-ABCDEF123"));
        assert!(!is_codedeploy_id(
            "arn:aws:ecs:us-east-1:1:service-deployment/c/s/x"
        ));
        let appspec = "version: 0.0\nResources: []\nHooks:\n  - BeforeInstall: \"CodeDeployHook_greenlight_BeforeInstall\"\n  - AfterAllowTraffic: arn:aws:lambda:us-east-1:1:function:CodeDeployHook_greenlight_AfterAllowTraffic:live\n";
        assert_eq!(
            appspec_log_groups(appspec),
            [
                "/aws/lambda/CodeDeployHook_greenlight_AfterAllowTraffic",
                "/aws/lambda/CodeDeployHook_greenlight_BeforeInstall"
            ]
        );
        assert!(appspec_log_groups("not: [valid").is_empty());
    }

    fn hook(function: &str) -> ecs::DeploymentLifecycleHook {
        ecs::DeploymentLifecycleHook::builder()
            .hook_target_arn(format!(
                "arn:aws:lambda:us-east-1:111122223333:function:{function}:live"
            ))
            .build()
    }

    fn ecs_rules() -> Vec<Rule> {
        let listed = mock!(Ecs::list_service_deployments).then_output(|| {
            ListServiceDeploymentsOutput::builder()
                .service_deployments(
                    ecs::ServiceDeploymentBrief::builder()
                        .service_deployment_arn(ARN)
                        .created_at(aws_smithy_types::DateTime::from_secs(1_000))
                        .build(),
                )
                .build()
        });
        let described = mock!(Ecs::describe_service_deployments).then_output(|| {
            DescribeServiceDeploymentsOutput::builder()
                .service_deployments(
                    ecs::ServiceDeployment::builder()
                        .service_deployment_arn(ARN)
                        .status(ecs::ServiceDeploymentStatus::Successful)
                        .started_at(aws_smithy_types::DateTime::from_secs(1_000))
                        .finished_at(aws_smithy_types::DateTime::from_secs(1_100))
                        .deployment_configuration(
                            ecs::DeploymentConfiguration::builder()
                                .strategy(ecs::DeploymentStrategy::BlueGreen)
                                .lifecycle_hooks(hook("greenlight-post-scale-up"))
                                .lifecycle_hooks(hook("greenlight-production-traffic"))
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
        vec![listed, described]
    }

    fn summary(stage: &str) -> String {
        format!(
            r#"{{"timestamp":"1970-01-01T00:16:50.000Z","level":"INFO","message":"greenlight summary","greenlight":{{"version":1,"deployment":"{ARN}","stage":"{stage}","verdict":"SUCCEEDED","reason":"VERDICT_PASSED","attempt":1,"checks":[]}}}}"#
        )
    }

    #[tokio::test]
    async fn a_denied_log_query_names_the_permission_status_needs() {
        let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, &ecs_rules());
        let denied = mock!(Logs::start_query).then_error(|| {
            StartQueryError::generic(
                ErrorMetadata::builder()
                    .code("AccessDeniedException")
                    .message("User is not authorized to perform: logs:StartQuery")
                    .build(),
            )
        });
        let logs = mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, &[&denied]);
        let error = read_report(&clients(ecs, logs), &args())
            .await
            .unwrap_err()
            .0;
        assert!(
            error.contains("greenlight status needs the permission logs:StartQuery"),
            "{error}"
        );
        assert!(
            error.contains("/aws/lambda/greenlight-post-scale-up"),
            "{error}"
        );
    }

    /// `GetDeployment` leaves the AppSpec out (its API reference says the content is always
    /// null): it is read with `GetApplicationRevision`, whose hooks name the log groups.
    #[tokio::test]
    async fn a_codedeploy_deployment_s_appspec_is_fetched_when_get_deployment_leaves_it_out() {
        use aws_sdk_codedeploy::operation::get_application_revision::GetApplicationRevisionOutput;
        use aws_sdk_codedeploy::operation::get_deployment::GetDeploymentOutput;
        use aws_sdk_codedeploy::types as cd;
        let revision = || {
            cd::RevisionLocation::builder()
                .revision_type(cd::RevisionLocationType::AppSpecContent)
                .app_spec_content(cd::AppSpecContent::builder().sha256("abc").build())
                .build()
        };
        let deployment = mock!(CodeDeploy::get_deployment).then_output(move || {
            GetDeploymentOutput::builder()
                .deployment_info(
                    cd::DeploymentInfo::builder()
                        .deployment_id("d-ABCDEF123")
                        .application_name("web-app")
                        .status(cd::DeploymentStatus::Failed)
                        .revision(revision())
                        .build(),
                )
                .build()
        });
        let fetched = mock!(CodeDeploy::get_application_revision)
            .match_requests(|request| request.application_name() == Some("web-app"))
            .then_output(|| {
                GetApplicationRevisionOutput::builder()
                    .revision(
                        cd::RevisionLocation::builder()
                            .app_spec_content(
                                cd::AppSpecContent::builder()
                                    .content("Hooks:\n  - AfterAllowTraffic: CodeDeployHook_greenlight_AfterAllowTraffic\n")
                                    .build(),
                            )
                            .build(),
                    )
                    .build()
            });
        let codedeploy = mock_client!(
            aws_sdk_codedeploy,
            RuleMode::MatchAny,
            &[&deployment, &fetched]
        );
        let mut args = args();
        args.deployment = Some("d-ABCDEF123".into());
        let (record, groups) = codedeploy_deployment(&codedeploy, "d-ABCDEF123", &args)
            .await
            .expect("read");
        assert_eq!(
            groups,
            ["/aws/lambda/CodeDeployHook_greenlight_AfterAllowTraffic"]
        );
        assert_eq!(record.status, "Failed");
        assert!(
            record.rollback.is_some(),
            "a failed ECS blue/green deployment went back to blue"
        );
        assert_eq!(fetched.num_calls(), 1);
    }

    /// The newest deployment is found on any page, whatever order ECS lists them in.
    #[tokio::test]
    async fn the_newest_deployment_is_found_on_any_page() {
        let first = mock!(Ecs::list_service_deployments)
            .match_requests(|request| request.next_token().is_none())
            .then_output(|| {
                ListServiceDeploymentsOutput::builder()
                    .service_deployments(
                        ecs::ServiceDeploymentBrief::builder()
                            .service_deployment_arn("old")
                            .created_at(aws_smithy_types::DateTime::from_secs(1_000))
                            .build(),
                    )
                    .next_token("2")
                    .build()
            });
        let second = mock!(Ecs::list_service_deployments)
            .match_requests(|request| request.next_token() == Some("2"))
            .then_output(|| {
                ListServiceDeploymentsOutput::builder()
                    .service_deployments(
                        ecs::ServiceDeploymentBrief::builder()
                            .service_deployment_arn("new")
                            .created_at(aws_smithy_types::DateTime::from_secs(2_000))
                            .build(),
                    )
                    .build()
            });
        let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, &[&first, &second]);
        assert_eq!(
            newest_deployment(&ecs, "prod", "web").await.expect("found"),
            Some("new".to_owned())
        );
    }

    /// A deployment group that has no deployment yet (or one whose record lacks it: whether
    /// CodeDeploy sets `lastAttemptedDeployment` as soon as a deployment is created is read as yes,
    /// not documented) gives no deployment to show: status says so, naming `--deployment`.
    #[tokio::test]
    async fn a_deployment_group_without_a_deployment_is_said_so() {
        let (applications, groups) = codedeploy_listing(&["web-group"]);
        let group = mock!(CodeDeploy::get_deployment_group).then_output(|| {
            GetDeploymentGroupOutput::builder()
                .deployment_group_info(group_info("web-group", "web", None))
                .build()
        });
        let codedeploy = mock_client!(
            aws_sdk_codedeploy,
            RuleMode::MatchAny,
            &[&applications, &groups, &group]
        );
        let error = newest_codedeploy_deployment(&codedeploy, &args())
            .await
            .expect_err("nothing to show");
        assert!(error.0.contains("has a deployment"), "{error}");
        assert!(error.0.contains("--deployment"), "{error}");
    }

    /// `ListApplications` answering the application `shop`, and `ListDeploymentGroups` `groups`.
    fn codedeploy_listing(groups: &'static [&'static str]) -> (Rule, Rule) {
        let applications = mock!(CodeDeploy::list_applications).then_output(|| {
            ListApplicationsOutput::builder()
                .applications("shop")
                .build()
        });
        let listed = mock!(CodeDeploy::list_deployment_groups).then_output(move || {
            ListDeploymentGroupsOutput::builder()
                .set_deployment_groups(Some(groups.iter().map(|g| (*g).to_owned()).collect()))
                .build()
        });
        (applications, listed)
    }

    /// Group `name` of application `shop`, deploying `prod/service`, its last attempted
    /// deployment `last`.
    fn group_info(name: &str, service: &str, last: Option<&str>) -> DeploymentGroupInfo {
        DeploymentGroupInfo::builder()
            .application_name("shop")
            .deployment_group_name(name)
            .ecs_services(
                EcsService::builder()
                    .cluster_name("prod")
                    .service_name(service)
                    .build(),
            )
            .set_last_attempted_deployment(
                last.map(|id| LastDeploymentInfo::builder().deployment_id(id).build()),
            )
            .build()
    }

    /// ECS lists no deployment of a service CodeDeploy deploys (an empty list, or a refusal: it
    /// is undocumented which): the deployment group whose `ecsServices` name the service gives
    /// the newest.
    #[tokio::test]
    async fn a_codedeploy_service_s_newest_deployment_comes_from_its_deployment_group() {
        let refused = mock!(Ecs::list_service_deployments).then_error(|| {
            ListServiceDeploymentsError::generic(
                ErrorMetadata::builder()
                    .code("InvalidParameterException")
                    .message("not an ECS-controlled service")
                    .build(),
            )
        });
        let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, &[&refused]);
        assert_eq!(
            newest_deployment(&ecs, "prod", "web").await.expect("read"),
            None
        );

        let (applications, groups) = codedeploy_listing(&["other", "web-group"]);
        let other = mock!(CodeDeploy::get_deployment_group)
            .match_requests(|request| request.deployment_group_name() == Some("other"))
            .then_output(move || {
                GetDeploymentGroupOutput::builder()
                    .deployment_group_info(group_info("other", "cart", Some("d-5")))
                    .build()
            });
        let ours = mock!(CodeDeploy::get_deployment_group)
            .match_requests(|request| request.deployment_group_name() == Some("web-group"))
            .then_output(move || {
                GetDeploymentGroupOutput::builder()
                    .deployment_group_info(group_info("web-group", "web", Some("d-9")))
                    .build()
            });
        let codedeploy = mock_client!(
            aws_sdk_codedeploy,
            RuleMode::MatchAny,
            &[&applications, &groups, &other, &ours]
        );
        assert_eq!(
            newest_codedeploy_deployment(&codedeploy, &args())
                .await
                .expect("found"),
            "d-9"
        );
    }

    #[tokio::test]
    async fn a_denied_listing_names_ecs_permission() {
        let denied = mock!(Ecs::list_service_deployments).then_error(|| {
            ListServiceDeploymentsError::generic(
                ErrorMetadata::builder()
                    .code("AccessDeniedException")
                    .message("no")
                    .build(),
            )
        });
        let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, &[&denied]);
        let logs = mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, &[]);
        let error = read_report(&clients(ecs, logs), &args())
            .await
            .unwrap_err()
            .0;
        assert!(
            error.contains("ecs:ListServiceDeployments was denied"),
            "{error}"
        );
    }

    /// A hook function never invoked has no log group: the query over all groups fails as AWS
    /// fails it, and each group is then read alone.
    #[tokio::test]
    async fn a_missing_log_group_is_skipped_and_the_others_are_read() {
        let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, &ecs_rules());
        let all = mock!(Logs::start_query)
            .match_requests(|request| request.log_group_names().len() == 2)
            .then_error(|| {
                StartQueryError::ResourceNotFoundException(
                    ResourceNotFoundException::builder()
                        .message("The specified log group does not exist.")
                        .build(),
                )
            });
        let missing = mock!(Logs::start_query)
            .match_requests(|request| {
                request.log_group_names() == ["/aws/lambda/greenlight-production-traffic"]
            })
            .then_error(|| {
                StartQueryError::ResourceNotFoundException(
                    ResourceNotFoundException::builder().build(),
                )
            });
        let found = mock!(Logs::start_query)
            .then_output(|| StartQueryOutput::builder().query_id("q-1").build());
        let results = mock!(Logs::get_query_results).then_output(|| {
            let field =
                |name: &str, value: &str| ResultField::builder().field(name).value(value).build();
            GetQueryResultsOutput::builder()
                .status(QueryStatus::Complete)
                .results(vec![
                    field("@message", &summary("POST_SCALE_UP")),
                    field("@log", "111122223333:/aws/lambda/greenlight-post-scale-up"),
                ])
                .build()
        });
        let logs = mock_client!(
            aws_sdk_cloudwatchlogs,
            RuleMode::MatchAny,
            &[&all, &missing, &found, &results]
        );
        let report = read_report(&clients(ecs, logs), &args())
            .await
            .expect("read");
        assert_eq!(all.num_calls(), 1);
        assert_eq!(missing.num_calls(), 1);
        assert_eq!(found.num_calls(), 1);
        let answered: Vec<&str> = report
            .timeline
            .events()
            .iter()
            .filter_map(|timed| match &timed.event {
                greenlight_sim::timeline::TimelineEvent::HookAnswered { function, .. } => {
                    Some(function.as_str())
                }
                _ => None,
            })
            .collect();
        assert_eq!(answered, ["greenlight-post-scale-up"]);
        assert_eq!(report.final_status, "SUCCESSFUL");
    }

    #[test]
    fn function_names_come_from_function_arns_without_their_alias() {
        assert_eq!(
            lambda_log_groups(
                [
                    "arn:aws:lambda:us-east-1:111122223333:function:greenlight-test-traffic:live",
                    "arn:aws:lambda:us-east-1:111122223333:function:hook",
                    "arn:aws:sns:us-east-1:111122223333:topic",
                    "named-hook:live",
                ]
                .into_iter()
            ),
            [
                "/aws/lambda/greenlight-test-traffic",
                "/aws/lambda/hook",
                "/aws/lambda/named-hook"
            ]
        );
    }

    #[test]
    fn the_query_filters_on_the_summary_and_the_deployment_and_refuses_a_quote() {
        let query = summary_query("arn:aws:ecs:us-east-1:1:service-deployment/c/s/x").unwrap();
        assert!(
            query.contains("filter @message like \"greenlight summary\""),
            "{query}"
        );
        assert!(
            query.contains("@message like \"arn:aws:ecs:us-east-1:1:service-deployment/c/s/x\"")
        );
        assert!(summary_query("x\" or 1=1").is_err());
    }
}
