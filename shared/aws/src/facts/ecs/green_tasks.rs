//! Green's tasks: listed, described in batches and told apart from blue's.

use super::*;
/// What tells green's tasks from the other tasks of the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GreenTaskIdentity {
    /// Green's service revision ARN.
    pub revision_arn: String,
    /// The task definition green runs.
    pub task_definition_arn: String,
    /// Blue, when known.
    pub blue: Option<BlueTaskIdentity>,
    /// When the deployment started, when known.
    pub deployment_started_at: Option<SystemTime>,
}

/// Blue's side of [`GreenTaskIdentity`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlueTaskIdentity {
    /// Blue's service revision ARN.
    pub revision_arn: String,
    /// The task definition blue runs.
    pub task_definition_arn: String,
}

/// Green's tasks, running and recently stopped: `ListTasks` for running and for stopped tasks of
/// the service concurrently, then `DescribeTasks` in batches of 100, keeping green's tasks as
/// [`select_green_tasks`] tells them apart.
pub async fn gather_green_tasks(
    ecs: &aws_sdk_ecs::Client,
    service: &ServiceIdentity,
    identity: &GreenTaskIdentity,
) -> Result<Vec<TaskFacts>, FactError> {
    let (running, stopped) = tokio::join!(
        list_tasks(ecs, service, DesiredStatus::Running),
        list_tasks(ecs, service, DesiredStatus::Stopped),
    );
    let mut arns = running?;
    // A task that stopped between the two lists appears in both.
    for arn in stopped? {
        if !arns.contains(&arn) {
            arns.push(arn);
        }
    }
    let batches = arns
        .chunks(DESCRIBE_TASKS_BATCH)
        .map(|batch| describe_tasks(ecs, service, batch));
    let described: Vec<Task> = futures::future::try_join_all(batches)
        .await?
        .into_iter()
        .flatten()
        .collect();
    select_green_tasks(&described, identity)
}

/// The `startedBy` ECS gives the tasks a service revision starts: `ecs-svc/<revision id>`, the id
/// being the last part of the revision ARN.
pub(super) fn revision_starter(revision_arn: &str) -> String {
    let id = revision_arn.rsplit('/').next().unwrap_or(revision_arn);
    format!("ecs-svc/{id}")
}

/// Green's tasks among the service's.
///
/// `ListTasks`' service filter is not enough on its own (some endpoints ignore it, and blue's tasks
/// belong to the same service), so a task is green's when it runs green's task definition. When
/// blue runs the same task definition (a redeploy of it, as `--force-new-deployment` makes), that
/// says nothing, and each task is told apart by, in order:
/// 1. its `startedBy`: `ecs-svc/<id>` of green's revision ARN is green, of blue's is blue;
/// 2. its creation time: a task created before the deployment started is blue's.
///
/// A task that neither tells apart is left out rather than counted for green: counting blue's
/// healthy tasks could pass a green that never started. When no task can be told apart at all the
/// fact is not ready (the check waits), with a message that says why.
pub fn select_green_tasks(
    tasks: &[Task],
    identity: &GreenTaskIdentity,
) -> Result<Vec<TaskFacts>, FactError> {
    let candidates = tasks
        .iter()
        .filter(|task| task.task_definition_arn() == Some(identity.task_definition_arn.as_str()));
    let Some(blue) = identity
        .blue
        .as_ref()
        .filter(|blue| blue.task_definition_arn == identity.task_definition_arn)
    else {
        return Ok(candidates.filter_map(task_from).collect());
    };
    let green_starter = revision_starter(&identity.revision_arn);
    let blue_starter = revision_starter(&blue.revision_arn);
    let mut green = Vec::new();
    let mut undecided = 0usize;
    for task in candidates {
        let is_green = match task.started_by() {
            Some(started_by) if started_by == green_starter => Some(true),
            Some(started_by) if started_by == blue_starter => Some(false),
            _ => match (
                system_time(task.created_at()),
                identity.deployment_started_at,
            ) {
                (Some(created), Some(started)) => Some(created >= started),
                _ => None,
            },
        };
        match is_green {
            Some(true) => green.extend(task_from(task)),
            Some(false) => {}
            None => undecided += 1,
        }
    }
    if green.is_empty() && undecided > 0 {
        return Err(FactError::NotReady {
            what: "green's tasks".to_owned(),
            detail: format!(
                "blue ({}) and green ({}) both run task definition {}, and {undecided} task(s) of it carry neither revision's startedBy ({green_starter} or {blue_starter}) nor a creation time to compare with the deployment's start",
                blue.revision_arn, identity.revision_arn, identity.task_definition_arn
            ),
        });
    }
    Ok(green)
}

pub(super) fn cluster_arn(service: &ServiceIdentity) -> String {
    format!(
        "arn:{}:ecs:{}:{}:cluster/{}",
        service.partition, service.region, service.account, service.cluster
    )
}

pub(super) async fn list_tasks(
    ecs: &aws_sdk_ecs::Client,
    service: &ServiceIdentity,
    desired: DesiredStatus,
) -> Result<Vec<String>, FactError> {
    const ACTION: &str = "ecs:ListTasks";
    let mut arns = Vec::new();
    let mut next_token: Option<String> = None;
    for _ in 0..MAX_LIST_PAGES {
        let output = ecs
            .list_tasks()
            .cluster(&service.cluster)
            .service_name(&service.service)
            .desired_status(desired.clone())
            .max_results(100)
            .set_next_token(next_token.take())
            .send()
            .await
            .map_err(|error| classify(&error, ACTION, &cluster_arn(service), ECS_NOT_FOUND))?;
        arns.extend(output.task_arns().iter().cloned());
        match output.next_token() {
            Some(token) if !token.is_empty() => next_token = Some(token.to_owned()),
            _ => break,
        }
    }
    Ok(arns)
}

pub(super) async fn describe_tasks(
    ecs: &aws_sdk_ecs::Client,
    service: &ServiceIdentity,
    arns: &[String],
) -> Result<Vec<Task>, FactError> {
    const ACTION: &str = "ecs:DescribeTasks";
    let output = ecs
        .describe_tasks()
        .cluster(&service.cluster)
        .set_tasks(Some(arns.to_vec()))
        .send()
        .await
        .map_err(|error| {
            let resource = format!("tasks in {}", cluster_arn(service));
            classify(&error, ACTION, &resource, ECS_NOT_FOUND)
        })?;
    // Failures here are tasks that vanished between ListTasks and DescribeTasks (stopped tasks
    // expire): there is nothing left to judge of them.
    Ok(output.tasks().to_vec())
}
