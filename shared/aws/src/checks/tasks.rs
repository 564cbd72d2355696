//! The `tasks` check's gather half.
//!
//! Everything it needs is a shared fact (the green revision, the deployment's task counts and
//! green's tasks), gathered once per invocation by the facts provider, so it makes no calls of its
//! own: it awaits the three facts together and hands them to the core's judge.

use std::sync::Arc;

use greenlight_core::checks::TasksParams;
use greenlight_core::checks::tasks::{DOC, judge};
use greenlight_core::engine::{Check, CheckFuture, StageView};
use greenlight_core::facts::Facts;

use super::CheckDeps;

/// Builds the `tasks` check.
pub fn build(params: &TasksParams, deps: &CheckDeps) -> Box<dyn Check> {
    Box::new(TasksCheck::new(params.clone(), Arc::clone(&deps.facts)))
}

/// Green's running tasks, counted and compared with the revision's digests.
pub struct TasksCheck {
    params: TasksParams,
    facts: Arc<dyn Facts>,
}

impl TasksCheck {
    /// The check with its params and the invocation's facts.
    pub fn new(params: TasksParams, facts: Arc<dyn Facts>) -> Self {
        TasksCheck { params, facts }
    }
}

impl Check for TasksCheck {
    fn kind(&self) -> &'static str {
        DOC.kind
    }

    fn run<'a>(&'a self, _stage: &'a StageView) -> CheckFuture<'a> {
        Box::pin(async move {
            let (green, deployment, tasks) = futures::join!(
                self.facts.green(),
                self.facts.deployment(),
                self.facts.green_tasks()
            );
            let (green, deployment, tasks) = match (green, deployment, tasks) {
                (Ok(green), Ok(deployment), Ok(tasks)) => (green, deployment, tasks),
                (Err(error), _, _) | (_, Err(error), _) | (_, _, Err(error)) => {
                    return error.to_outcome();
                }
            };
            judge(&self.params, &green, &deployment, &tasks)
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::time::SystemTime;

    use greenlight_core::checks::tasks::{TASKS_DIGEST_DRIFT, TASKS_RUNNING};
    use greenlight_core::engine::state::CheckMemory;
    use greenlight_core::facts::{
        ContainerImage, DeploymentFacts, FactError, RevisionFacts, RunningContainer,
        ServiceIdentity, StaticFacts, TaskCounts, TaskFacts,
    };
    use greenlight_core::outcome::{ErrorClass, Status};
    use greenlight_core::stage::StageKey;

    use super::*;

    pub(crate) const DIGEST: &str =
        "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

    pub(crate) fn service() -> ServiceIdentity {
        ServiceIdentity {
            partition: "aws".to_owned(),
            region: "us-east-1".to_owned(),
            account: "123456789012".to_owned(),
            cluster: "prod".to_owned(),
            service: "web".to_owned(),
            service_arn: "arn:aws:ecs:us-east-1:123456789012:service/prod/web".to_owned(),
        }
    }

    pub(crate) fn stage_view(stage: &str) -> StageView {
        StageView {
            key: StageKey::new("deployment-1", stage, None),
            started_at: SystemTime::UNIX_EPOCH,
            now: SystemTime::UNIX_EPOCH,
            attempt: 1,
            memory: CheckMemory::default(),
            horizon: None,
        }
    }

    pub(crate) fn green_revision(containers: &[(&str, &str, Option<&str>)]) -> RevisionFacts {
        RevisionFacts {
            arn: "arn:aws:ecs:us-east-1:123456789012:service-revision/prod/web/2".to_owned(),
            task_definition_arn: "arn:aws:ecs:us-east-1:123456789012:task-definition/web:2"
                .to_owned(),
            containers: containers
                .iter()
                .map(|(container, image, digest)| ContainerImage {
                    digest_by_consensus: false,
                    container: (*container).to_owned(),
                    image: (*image).to_owned(),
                    digest: digest.map(str::to_owned),
                })
                .collect(),
            target_group_arns: vec![],
            test_header: None,
        }
    }

    pub(crate) fn running_task(n: u8, digest: &str) -> TaskFacts {
        TaskFacts {
            arn: format!("arn:aws:ecs:us-east-1:123456789012:task/prod/t{n}"),
            task_definition_arn: "arn:aws:ecs:us-east-1:123456789012:task-definition/web:2"
                .to_owned(),
            last_status: "RUNNING".to_owned(),
            desired_status: "RUNNING".to_owned(),
            stopped_reason: None,
            private_ip: Some(format!("10.0.0.{n}")),
            containers: vec![RunningContainer {
                name: "web".to_owned(),
                image: "web:v2".to_owned(),
                image_digest: Some(digest.to_owned()),
                last_status: "RUNNING".to_owned(),
                exit_code: None,
                reason: None,
            }],
        }
    }

    fn deployment(requested: u32) -> DeploymentFacts {
        DeploymentFacts {
            id: "arn:aws:ecs:us-east-1:123456789012:service-deployment/prod/web/d1".to_owned(),
            status: "IN_PROGRESS".to_owned(),
            started_at: None,
            green_tasks: TaskCounts {
                requested,
                running: requested,
                pending: 0,
            },
            alarm_names: vec![],
            triggered_alarms: vec![],
            rollback: None,
            hook_expires_at: None,
            other_in_flight: vec![],
        }
    }

    fn facts(tasks: Result<Vec<TaskFacts>, FactError>) -> StaticFacts {
        let mut facts = StaticFacts::new(service());
        facts.green = Ok(Arc::new(green_revision(&[("web", "web:v2", Some(DIGEST))])));
        facts.deployment = Ok(Arc::new(deployment(2)));
        facts.green_tasks = tasks.map(Arc::new);
        facts
    }

    async fn run(facts: StaticFacts) -> greenlight_core::Outcome {
        let check = TasksCheck::new(TasksParams::default(), Arc::new(facts));
        check.run(&stage_view("POST_SCALE_UP")).await
    }

    #[tokio::test]
    async fn judges_the_shared_facts() {
        let outcome = run(facts(Ok(vec![
            running_task(1, DIGEST),
            running_task(2, DIGEST),
        ])))
        .await;
        assert_eq!(outcome.code, &TASKS_RUNNING, "{}", outcome.message);

        let other = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
        let outcome = run(facts(Ok(vec![
            running_task(1, DIGEST),
            running_task(2, other),
        ])))
        .await;
        assert_eq!(outcome.code, &TASKS_DIGEST_DRIFT, "{}", outcome.message);
    }

    #[tokio::test]
    async fn fact_errors_become_their_outcomes() {
        let throttled = FactError::Throttled {
            action: "ecs:DescribeTasks".to_owned(),
            message: "Rate exceeded".to_owned(),
        };
        let outcome = run(facts(Err(throttled))).await;
        assert_eq!(outcome.error_class, Some(ErrorClass::Transient));
        assert_eq!(outcome.code.code, "AWS_THROTTLED");

        let denied = FactError::AccessDenied {
            action: "ecs:ListTasks".to_owned(),
            resource: "arn:aws:ecs:us-east-1:123456789012:container-instance/prod/*".to_owned(),
            message: "not authorized".to_owned(),
        };
        let outcome = run(facts(Err(denied))).await;
        assert!(outcome.is_permanent_error());
        assert!(outcome.message.contains("ecs:ListTasks"));

        let mut not_ready = facts(Ok(vec![]));
        not_ready.deployment = Err(FactError::NotReady {
            what: "deployment".to_owned(),
            detail: "not described yet".to_owned(),
        });
        assert_eq!(run(not_ready).await.status, Status::Inconclusive);
    }

    #[test]
    fn its_kind_is_the_configs() {
        let check = TasksCheck::new(TasksParams::default(), Arc::new(facts(Ok(vec![]))));
        assert_eq!(check.kind(), "tasks");
    }
}
