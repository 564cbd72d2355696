//! The `tasks` check's judge: enough green tasks run, and each runs the image digests its revision
//! resolved.
//!
//! It reads only shared facts (the green revision, the deployment's task counts and green's tasks),
//! so the judge takes those plain fact types directly.

pub mod params;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;

use super::CheckDoc;
use crate::checks::IamNeed;
use crate::checks::TasksParams;
use crate::facts::Fact;
use crate::facts::{DeploymentFacts, RevisionFacts, TaskFacts};
use crate::outcome::{Evidence, Outcome};
use crate::reason::ReasonCode;
use crate::stage::LifecycleStage;

/// Enough green tasks run, on the resolved digests.
pub static TASKS_RUNNING: ReasonCode = ReasonCode {
    code: "TASKS_RUNNING",
    summary: "Enough green tasks are running, each on the image digests its revision resolved.",
    what: "Green's running tasks were counted against `min_running_percent` of the count ECS requested, and (with `verify_digests`) every running container's image digest was compared with the revision's.",
    why: "Green must be fully up on the exact build that was admitted before traffic moves to it.",
    fix: "Nothing to fix.",
};

/// Fewer tasks run than required, and none stopped: they are still starting.
pub static TASKS_PENDING: ReasonCode = ReasonCode {
    code: "TASKS_PENDING",
    summary: "Fewer green tasks are running than required; the rest are still starting.",
    what: "Green's running tasks were counted against `min_running_percent` of the requested count; no green task has stopped.",
    why: "Tasks take time to pull images and pass container health checks; the check waits within its `max_wait`.",
    fix: "Usually nothing. If it persists, look at the pending tasks in the ECS console (image pulls, capacity, ENI limits, placement constraints).",
};

/// Fewer tasks run than required, and some stopped.
pub static TASKS_STOPPED: ReasonCode = ReasonCode {
    code: "TASKS_STOPPED",
    summary: "Fewer green tasks are running than required, and green tasks have stopped.",
    what: "Green's running tasks were counted against `min_running_percent` of the requested count, and green has stopped (or stopping) tasks; their stop reasons and container exit codes are in the evidence.",
    why: "Tasks that stop during scale-up are crashing or failing health checks; waiting would only repeat it.",
    fix: "Read the stop reason and exit codes in the evidence, and the container logs; fix the image or its configuration and redeploy.",
};

/// A running container runs another digest than its revision resolved.
pub static TASKS_DIGEST_DRIFT: ReasonCode = ReasonCode {
    code: "TASKS_DIGEST_DRIFT",
    summary: "A running green task runs an image digest other than the one its revision resolved.",
    what: "Each running container's reported image digest (DescribeTasks) was compared with the digest the service revision resolved for that container.",
    why: "The task is not running the build that was admitted and scanned: the tag moved, or a registry served something else.",
    fix: "Pin images by digest or use immutable tags, then redeploy. Find out who moved the tag.",
};

/// Tasks of one container run different digests.
pub static TASKS_DIGEST_MIXED: ReasonCode = ReasonCode {
    code: "TASKS_DIGEST_MIXED",
    summary: "Running green tasks run different image digests for the same container.",
    what: "The image digests reported by the running green tasks were grouped by container; a container had more than one.",
    why: "Green is not one build: results from some tasks say nothing about the others.",
    fix: "Pin images by digest or use immutable tags, then redeploy.",
};

/// A digest needed for the comparison is not known yet.
pub static TASKS_DIGEST_UNKNOWN: ReasonCode = ReasonCode {
    code: "TASKS_DIGEST_UNKNOWN",
    summary: "The image digest of a running green container, or the one its revision resolved, is not known yet.",
    what: "`verify_digests` is on, and a running task's container reported no image digest, or the service revision has no resolved digest for it.",
    why: "Without both digests the comparison cannot be made, and no evidence is not a pass; the check waits within its `max_wait`.",
    fix: "Usually nothing: ECS reports digests shortly after containers start. If it persists, set `verify_digests: false` for this check.",
};

/// ECS requests no green tasks.
pub static TASKS_NONE_REQUESTED: ReasonCode = ReasonCode {
    code: "TASKS_NONE_REQUESTED",
    summary: "ECS requests no green tasks, so there is nothing to count.",
    what: "The service deployment's requested task count for the green revision was 0.",
    why: "A pass here would say green runs when nothing does.",
    fix: "If the service is meant to run with no tasks, set `on_inconclusive: pass` for this check or leave it out of the stage.",
};

/// The `tasks` check.
pub static DOC: CheckDoc = CheckDoc {
    kind: "tasks",
    summary: "Green runs at least `min_running_percent` of its requested tasks, none has stopped, and every running container runs the digest its revision resolved.",
    why: "The ECS waiters only count tasks: tasks that crash and restart, or that pulled a moved tag, pass them. This check reports the stop reasons and exit codes, and catches digest drift between tasks and the admitted revision.",
    example: "tasks:\n  min_running_percent: 100\n  verify_digests: true",
    iam: &[IamNeed {
        when: "",
        example: "tasks",
        from: LifecycleStage::PostScaleUp,
        facts: &[Fact::Deployment, Fact::Revisions, Fact::GreenTasks],
        calls: &[],
    }],
    codes: &[
        &TASKS_RUNNING,
        &TASKS_PENDING,
        &TASKS_STOPPED,
        &TASKS_DIGEST_DRIFT,
        &TASKS_DIGEST_MIXED,
        &TASKS_DIGEST_UNKNOWN,
        &TASKS_NONE_REQUESTED,
    ],
};

/// How many stopped tasks and drifting containers the evidence lists, so it stays readable.
const MAX_LISTED: usize = 10;

fn is_running(task: &TaskFacts) -> bool {
    task.last_status == "RUNNING" && task.desired_status == "RUNNING"
}

/// Stopped, or on its way to stopping.
fn is_stopped(task: &TaskFacts) -> bool {
    task.last_status == "STOPPED" || task.desired_status == "STOPPED"
}

/// The tasks needed: `percent` of `requested`, rounded up, so 50% of 3 is 2; at least one when
/// any is requested, so no percentage makes "zero tasks running" a pass.
pub fn required_tasks(requested: u32, percent: f64) -> u32 {
    let exact = f64::from(requested) * percent / 100.0;
    // Forgive float noise (33.3% of 3 is 0.999…, which means 1).
    let needed = (exact - 1e-9).ceil().max(1.0);
    if needed >= f64::from(requested) {
        requested
    } else {
        needed as u32
    }
}

/// Judges green's tasks: `green` is the revision, `deployment` holds ECS's counts, and `tasks` are
/// green's tasks, running and recently stopped.
pub fn judge(
    params: &TasksParams,
    green: &RevisionFacts,
    deployment: &DeploymentFacts,
    tasks: &[TaskFacts],
) -> Outcome {
    let counts = deployment.green_tasks;
    let percent = params.min_running_percent.value();
    let requested = counts.requested;
    let required = required_tasks(requested, percent);
    let running: Vec<&TaskFacts> = tasks.iter().filter(|t| is_running(t)).collect();
    let stopped: Vec<&TaskFacts> = tasks.iter().filter(|t| is_stopped(t)).collect();

    let count_evidence = Evidence::new("running green tasks", running.len())
        .threshold(format!(
            ">= {required} ({percent}% of {requested} requested)"
        ))
        .samples(tasks.len() as u64)
        .resource(green.arn.as_str());
    let ecs_counts = Evidence::new(
        "ECS task counts for green",
        json!({
            "requested": counts.requested,
            "running": counts.running,
            "pending": counts.pending,
        }),
    )
    .resource(deployment.id.as_str());

    if requested == 0 {
        return Outcome::inconclusive(
            &TASKS_NONE_REQUESTED,
            format!(
                "ECS requests no tasks for green revision {}; nothing to count",
                green.arn
            ),
        )
        .with_evidence(count_evidence)
        .with_evidence(ecs_counts);
    }

    let digests = if params.verify_digests {
        compare_digests(green, &running)
    } else {
        DigestReport::default()
    };

    if !digests.drift.is_empty() {
        let first = &digests.drift[0];
        let message = format!(
            "{} running green container(s) of revision {} run another digest than {}: task {} container {} runs {} instead of {}",
            digests.drift.len(),
            green.arn,
            digest_basis(green),
            first.task,
            first.container,
            first.observed,
            first.expected
        );
        return digests
            .drift
            .iter()
            .take(MAX_LISTED)
            .map(|drift| {
                Evidence::new(
                    format!("image digest of container {}", drift.container),
                    drift.observed.as_str(),
                )
                .threshold(format!("= {} ({})", drift.expected, digest_basis(green)))
                .resource(drift.task.as_str())
                .samples(1)
            })
            .fold(
                Outcome::fail(&TASKS_DIGEST_DRIFT, message),
                Outcome::with_evidence,
            )
            .with_evidence(count_evidence);
    }

    if let Some((container, seen)) = digests.mixed.iter().next() {
        let message = format!(
            "running green tasks run {} different digests for container {container}: {}",
            seen.len(),
            seen.keys().cloned().collect::<Vec<_>>().join(", ")
        );
        return digests
            .mixed
            .iter()
            .map(|(container, seen)| {
                Evidence::new(
                    format!("image digests of container {container}"),
                    json!(seen),
                )
                .threshold("one digest across tasks")
                .resource(green.arn.as_str())
                .samples(seen.values().map(|tasks| tasks.len() as u64).sum())
            })
            .fold(
                Outcome::fail(&TASKS_DIGEST_MIXED, message),
                Outcome::with_evidence,
            )
            .with_evidence(count_evidence);
    }

    if (running.len() as u64) < u64::from(required) {
        if !stopped.is_empty() {
            let first = stopped[0];
            let message = format!(
                "{} of {required} required green tasks running, and {} green task(s) stopped; first: task {} ({})",
                running.len(),
                stopped.len(),
                first.arn,
                stop_summary(first)
            );
            return stopped
                .iter()
                .take(MAX_LISTED)
                .map(|task| stopped_evidence(task))
                .fold(
                    Outcome::fail(&TASKS_STOPPED, message).with_evidence(count_evidence),
                    Outcome::with_evidence,
                )
                .with_evidence(ecs_counts);
        }
        let pending = tasks.len() - running.len();
        return Outcome::inconclusive(
            &TASKS_PENDING,
            format!(
                "{} of {required} required green tasks running ({percent}% of {requested} requested); {pending} still starting",
                running.len()
            ),
        )
        .with_evidence(count_evidence)
        .with_evidence(ecs_counts);
    }

    // Nothing compared (the revision names no container images) proves no digest: say so.
    if params.verify_digests && digests.compared == 0 && digests.unknown.is_empty() {
        return Outcome::inconclusive(
            &TASKS_DIGEST_UNKNOWN,
            format!(
                "enough green tasks run, but no container digest could be compared: revision {} lists no container images to compare with",
                green.arn
            ),
        )
        .with_evidence(
            Evidence::new("containers compared", 0)
                .threshold("at least one running container on the revision's digest")
                .resource(green.arn.as_str()),
        )
        .with_evidence(count_evidence);
    }

    if !digests.unknown.is_empty() {
        let shown: Vec<String> = digests.unknown.iter().take(MAX_LISTED).cloned().collect();
        return Outcome::inconclusive(
            &TASKS_DIGEST_UNKNOWN,
            format!(
                "enough green tasks run, but {} digest(s) needed for the comparison are not known yet: {}",
                digests.unknown.len(),
                shown.join("; ")
            ),
        )
        .with_evidence(
            Evidence::new("digests not known yet", json!(shown))
                .threshold("every running container's digest and its revision's")
                .resource(green.arn.as_str())
                .samples(digests.compared),
        )
        .with_evidence(count_evidence);
    }

    let mut message = format!(
        "{} green task(s) running, at least {required} required ({percent}% of {requested} requested)",
        running.len()
    );
    if params.verify_digests {
        message.push_str(&format!(
            "; {} container(s) run {}",
            digests.compared,
            digest_basis(green)
        ));
    }
    if !stopped.is_empty() {
        message.push_str(&format!(
            "; {} green task(s) stopped earlier and were replaced",
            stopped.len()
        ));
    }
    let mut outcome = Outcome::pass(&TASKS_RUNNING, message).with_evidence(count_evidence);
    if params.verify_digests {
        outcome = outcome.with_evidence(
            Evidence::new(
                format!("containers on {}", digest_basis(green)),
                digests.compared,
            )
            .threshold("all running containers")
            .resource(green.arn.as_str())
            .samples(digests.compared),
        );
    }
    stopped
        .iter()
        .take(MAX_LISTED)
        .map(|task| stopped_evidence(task))
        .fold(outcome, Outcome::with_evidence)
}

#[derive(Default)]
struct DigestReport {
    drift: Vec<Drift>,
    /// Container → digest → tasks running it, for containers with more than one digest.
    mixed: BTreeMap<String, BTreeMap<String, Vec<String>>>,
    /// What could not be compared, in words.
    unknown: Vec<String>,
    /// Containers compared.
    compared: u64,
}

struct Drift {
    task: String,
    container: String,
    observed: String,
    expected: String,
}

/// What the expected digests are, in words: a record of what the revision resolved, or (for
/// CodeDeploy's task sets, which keep none) the digest most of green's tasks agree on.
fn digest_basis(green: &RevisionFacts) -> &'static str {
    if green
        .containers
        .iter()
        .any(|container| container.digest_by_consensus)
    {
        "the digests most green tasks run (consensus: no record of what the tag resolved to)"
    } else {
        "the digests the revision resolved"
    }
}

fn compare_digests(green: &RevisionFacts, running: &[&TaskFacts]) -> DigestReport {
    let mut report = DigestReport::default();
    let mut seen: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    let mut unresolved = BTreeSet::new();
    for task in running {
        for container in &task.containers {
            // Containers ECS adds itself (the Service Connect proxy, the awsvpc pause container)
            // are not in the revision; only the revision's own containers are compared.
            let Some(resolved) = green
                .containers
                .iter()
                .find(|image| image.container == container.name)
            else {
                continue;
            };
            let Some(observed) = &container.image_digest else {
                report.unknown.push(format!(
                    "task {} container {} reports no digest",
                    task.arn, container.name
                ));
                continue;
            };
            seen.entry(container.name.clone())
                .or_default()
                .entry(observed.clone())
                .or_default()
                .push(task.arn.clone());
            match &resolved.digest {
                Some(expected) if expected != observed => report.drift.push(Drift {
                    task: task.arn.clone(),
                    container: container.name.clone(),
                    observed: observed.clone(),
                    expected: expected.clone(),
                }),
                Some(_) => report.compared += 1,
                None => {
                    unresolved.insert(container.name.clone());
                }
            }
        }
    }
    report.unknown.extend(unresolved.into_iter().map(|name| {
        format!(
            "revision {} has no resolved digest for container {name}",
            green.arn
        )
    }));
    report.mixed = seen
        .into_iter()
        .filter(|(_, digests)| digests.len() > 1)
        .collect();
    report
}

fn stop_summary(task: &TaskFacts) -> String {
    let mut parts = Vec::new();
    if let Some(reason) = &task.stopped_reason {
        parts.push(reason.clone());
    }
    for container in &task.containers {
        match (container.exit_code, &container.reason) {
            (Some(code), Some(reason)) => {
                parts.push(format!("{} exited {code}: {reason}", container.name))
            }
            (Some(code), None) => parts.push(format!("{} exited {code}", container.name)),
            (None, Some(reason)) => parts.push(format!("{}: {reason}", container.name)),
            (None, None) => {}
        }
    }
    if parts.is_empty() {
        "no stop reason reported".to_owned()
    } else {
        parts.join("; ")
    }
}

fn stopped_evidence(task: &TaskFacts) -> Evidence {
    let containers: Vec<serde_json::Value> = task
        .containers
        .iter()
        .map(|c| {
            json!({
                "name": c.name,
                "last_status": c.last_status,
                "exit_code": c.exit_code,
                "reason": c.reason,
            })
        })
        .collect();
    Evidence::new(
        "stopped green task",
        json!({
            "last_status": task.last_status,
            "stopped_reason": task.stopped_reason,
            "containers": containers,
        }),
    )
    .resource(task.arn.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::values::Percent;
    use crate::facts::{ContainerImage, RunningContainer, TaskCounts};
    use crate::outcome::Status;

    const A: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    fn green(digest: Option<&str>) -> RevisionFacts {
        RevisionFacts {
            arn: "arn:aws:ecs:us-east-1:123456789012:service-revision/c/web/2".to_owned(),
            task_definition_arn: "arn:aws:ecs:us-east-1:123456789012:task-definition/web:2"
                .to_owned(),
            containers: vec![ContainerImage {
                digest_by_consensus: false,
                container: "web".to_owned(),
                image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:v2".to_owned(),
                digest: digest.map(str::to_owned),
            }],
            target_group_arns: vec![],
            test_header: None,
        }
    }

    fn deployment(requested: u32) -> DeploymentFacts {
        DeploymentFacts {
            id: "arn:aws:ecs:us-east-1:123456789012:service-deployment/c/web/d1".to_owned(),
            status: "IN_PROGRESS".to_owned(),
            started_at: None,
            green_tasks: TaskCounts {
                requested,
                running: 0,
                pending: 0,
            },
            alarm_names: vec![],
            triggered_alarms: vec![],
            rollback: None,
            hook_expires_at: None,
            other_in_flight: vec![],
        }
    }

    fn task(n: u32, last: &str, desired: &str, digest: Option<&str>) -> TaskFacts {
        TaskFacts {
            arn: format!("arn:aws:ecs:us-east-1:123456789012:task/c/t{n}"),
            task_definition_arn: "arn:aws:ecs:us-east-1:123456789012:task-definition/web:2"
                .to_owned(),
            last_status: last.to_owned(),
            desired_status: desired.to_owned(),
            stopped_reason: (last == "STOPPED")
                .then(|| "Essential container in task exited".to_owned()),
            private_ip: Some(format!("10.0.0.{n}")),
            containers: vec![
                RunningContainer {
                    name: "web".to_owned(),
                    image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:v2".to_owned(),
                    image_digest: digest.map(str::to_owned),
                    last_status: last.to_owned(),
                    exit_code: (last == "STOPPED").then_some(137),
                    reason: (last == "STOPPED").then(|| "OutOfMemoryError".to_owned()),
                },
                // ECS's own proxy: not in the revision, never compared.
                RunningContainer {
                    name: "ecs-service-connect-agent".to_owned(),
                    image: "ecs-service-connect-agent:latest".to_owned(),
                    image_digest: Some(B.to_owned()),
                    last_status: last.to_owned(),
                    exit_code: None,
                    reason: None,
                },
            ],
        }
    }

    fn running(n: u32, digest: Option<&str>) -> TaskFacts {
        task(n, "RUNNING", "RUNNING", digest)
    }

    fn params(percent: f64, verify_digests: bool) -> TasksParams {
        TasksParams {
            min_running_percent: Percent::new(percent).expect("percent"),
            verify_digests,
        }
    }

    /// (name, params, resolved digest, requested, tasks, status, code)
    type TasksCase<'a> = (
        &'a str,
        TasksParams,
        Option<&'a str>,
        u32,
        Vec<TaskFacts>,
        Status,
        &'a ReasonCode,
    );

    #[test]
    fn a_revision_without_container_images_proves_no_digest() {
        let mut empty = green(Some(A));
        empty.containers.clear();
        let outcome = judge(
            &params(100.0, true),
            &empty,
            &deployment(2),
            &[running(1, Some(A)), running(2, Some(A))],
        );
        assert_eq!(
            (outcome.status, outcome.code.code),
            (Status::Inconclusive, "TASKS_DIGEST_UNKNOWN"),
            "{}",
            outcome.message
        );
        // Without digest verification the same tasks pass on their count alone.
        let outcome = judge(
            &params(100.0, false),
            &empty,
            &deployment(2),
            &[running(1, Some(A)), running(2, Some(A))],
        );
        assert_eq!(outcome.code.code, "TASKS_RUNNING");
    }

    #[test]
    fn judges_each_case_by_its_reason() {
        let all = params(100.0, true);
        let cases: Vec<TasksCase<'_>> = vec![
            (
                "all running on the digest",
                all.clone(),
                Some(A),
                2,
                vec![running(1, Some(A)), running(2, Some(A))],
                Status::Pass,
                &TASKS_RUNNING,
            ),
            (
                "half is enough at 50%",
                params(50.0, true),
                Some(A),
                4,
                vec![
                    running(1, Some(A)),
                    running(2, Some(A)),
                    task(3, "PENDING", "RUNNING", None),
                ],
                Status::Pass,
                &TASKS_RUNNING,
            ),
            (
                "a replaced stopped task still passes",
                all.clone(),
                Some(A),
                1,
                vec![running(1, Some(A)), task(2, "STOPPED", "STOPPED", Some(A))],
                Status::Pass,
                &TASKS_RUNNING,
            ),
            (
                "digests not verified",
                params(100.0, false),
                None,
                1,
                vec![running(1, None)],
                Status::Pass,
                &TASKS_RUNNING,
            ),
            (
                "still starting",
                all.clone(),
                Some(A),
                2,
                vec![
                    running(1, Some(A)),
                    task(2, "PROVISIONING", "RUNNING", None),
                ],
                Status::Inconclusive,
                &TASKS_PENDING,
            ),
            (
                "none listed yet",
                all.clone(),
                Some(A),
                2,
                vec![],
                Status::Inconclusive,
                &TASKS_PENDING,
            ),
            (
                "a task stopped",
                all.clone(),
                Some(A),
                2,
                vec![running(1, Some(A)), task(2, "STOPPED", "STOPPED", Some(A))],
                Status::Fail,
                &TASKS_STOPPED,
            ),
            (
                "a task stopping",
                all.clone(),
                Some(A),
                2,
                vec![
                    running(1, Some(A)),
                    task(2, "DEACTIVATING", "STOPPED", Some(A)),
                ],
                Status::Fail,
                &TASKS_STOPPED,
            ),
            (
                "drift",
                all.clone(),
                Some(A),
                2,
                vec![running(1, Some(A)), running(2, Some(B))],
                Status::Fail,
                &TASKS_DIGEST_DRIFT,
            ),
            (
                "drift outranks too few",
                all.clone(),
                Some(A),
                3,
                vec![running(1, Some(B))],
                Status::Fail,
                &TASKS_DIGEST_DRIFT,
            ),
            (
                "mixed with no resolved digest",
                all.clone(),
                None,
                2,
                vec![running(1, Some(A)), running(2, Some(B))],
                Status::Fail,
                &TASKS_DIGEST_MIXED,
            ),
            (
                "task digest unknown",
                all.clone(),
                Some(A),
                1,
                vec![running(1, None)],
                Status::Inconclusive,
                &TASKS_DIGEST_UNKNOWN,
            ),
            (
                "revision digest unknown",
                all.clone(),
                None,
                1,
                vec![running(1, Some(A))],
                Status::Inconclusive,
                &TASKS_DIGEST_UNKNOWN,
            ),
            (
                "nothing requested",
                all.clone(),
                Some(A),
                0,
                vec![],
                Status::Inconclusive,
                &TASKS_NONE_REQUESTED,
            ),
        ];
        for (name, params, digest, requested, tasks, status, code) in cases {
            let outcome = judge(&params, &green(digest), &deployment(requested), &tasks);
            assert_eq!(
                (outcome.status, outcome.code.code),
                (status, code.code),
                "{name}: {}",
                outcome.message
            );
            assert!(!outcome.evidence.is_empty(), "{name}");
        }
    }

    #[test]
    fn stopped_tasks_carry_their_reasons_and_exit_codes() {
        let outcome = judge(
            &params(100.0, true),
            &green(Some(A)),
            &deployment(2),
            &[running(1, Some(A)), task(2, "STOPPED", "STOPPED", Some(A))],
        );
        assert!(
            outcome
                .message
                .contains("Essential container in task exited")
        );
        assert!(outcome.message.contains("web exited 137: OutOfMemoryError"));
        let count = &outcome.evidence[0];
        assert_eq!(count.value, json!(1));
        assert_eq!(
            count.threshold.as_deref(),
            Some(">= 2 (100% of 2 requested)")
        );
        assert_eq!(count.samples, Some(2));
        let stopped = &outcome.evidence[1];
        assert_eq!(
            stopped.resource.as_deref(),
            Some("arn:aws:ecs:us-east-1:123456789012:task/c/t2")
        );
        assert_eq!(stopped.value["containers"][0]["exit_code"], json!(137));
        assert_eq!(
            stopped.value["stopped_reason"],
            json!("Essential container in task exited")
        );
    }

    #[test]
    fn drift_evidence_names_task_observed_and_expected() {
        let outcome = judge(
            &params(100.0, true),
            &green(Some(A)),
            &deployment(1),
            &[running(7, Some(B))],
        );
        let drift = &outcome.evidence[0];
        assert_eq!(drift.value, json!(B));
        assert_eq!(
            drift.threshold.as_deref(),
            Some(format!("= {A} (the digests the revision resolved)").as_str())
        );
        assert_eq!(
            drift.resource.as_deref(),
            Some("arn:aws:ecs:us-east-1:123456789012:task/c/t7")
        );
    }

    #[test]
    fn a_digest_by_consensus_is_never_called_resolved() {
        // CodeDeploy's task sets keep no resolved digest: green's expected digest is what most of
        // its tasks run, and a pass says so rather than claiming a record it does not have.
        let mut revision = green(Some(A));
        revision.containers[0].digest_by_consensus = true;
        let outcome = judge(
            &params(100.0, true),
            &revision,
            &deployment(1),
            &[running(1, Some(A))],
        );
        assert_eq!(outcome.code, &TASKS_RUNNING);
        assert!(outcome.message.contains("consensus"), "{}", outcome.message);
        assert!(
            !outcome.message.contains("resolved digest"),
            "{}",
            outcome.message
        );
        assert!(
            !outcome
                .message
                .contains("the digests the revision resolved"),
            "{}",
            outcome.message
        );
        let outcome = judge(
            &params(100.0, true),
            &revision,
            &deployment(2),
            &[running(1, Some(A)), running(2, Some(B))],
        );
        assert!(outcome.message.contains("consensus"), "{}", outcome.message);
    }

    #[test]
    fn required_count_rounds_up_and_forgives_float_noise() {
        let cases = [
            (3, 50.0, 2),
            (4, 50.0, 2),
            (3, 100.0, 3),
            (3, 33.333333333, 1),
            (10, 0.1, 1),
            (0, 100.0, 0),
            (1, 1.0, 1),
            // A vanishing percentage still needs one running task.
            (4, 0.0000001, 1),
        ];
        for (requested, percent, required) in cases {
            assert_eq!(
                required_tasks(requested, percent),
                required,
                "{percent}% of {requested}"
            );
        }
    }

    #[test]
    fn the_doc_example_is_a_valid_check() {
        let check = crate::checks::registry::test_support::check(DOC.example)
            .unwrap_or_else(|errors| panic!("{errors:?}"));
        assert_eq!(check.kind.name(), DOC.kind);
    }

    #[test]
    fn the_doc_lists_every_code_with_its_family() {
        for code in DOC.codes {
            assert_eq!(code.family(), "TASKS", "{}", code.code);
        }
    }
}
