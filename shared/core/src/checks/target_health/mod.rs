//! The `target_health` check's judge: every green task is registered and healthy in green's target
//! group (or, with `group: blue`, every target of blue's group is healthy).
//!
//! Green's tasks are matched to targets by private IP (IP target groups, `awsvpc` tasks). When
//! green's tasks have no private IP (bridge or host networking, instance targets) they cannot be
//! matched one by one; then every target in the group that is not draining is judged and there must
//! be at least as many as green has running tasks. How many healthy observations in a row are
//! needed is the engine's common `consecutive` policy, not this judge's concern.

pub mod params;

use serde_json::json;

use super::CheckDoc;
use crate::checks::IamNeed;
use crate::checks::TargetGroupRole;
use crate::facts::Fact;
use crate::facts::TaskFacts;
use crate::outcome::{Evidence, Outcome};
use crate::reason::ReasonCode;
use crate::stage::LifecycleStage;

/// One target of the group as ELB reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetObservation {
    /// The target id: an IP address, an instance id or a Lambda ARN.
    pub id: String,
    /// The port it is registered on.
    pub port: Option<i32>,
    /// ELB's state: `initial`, `healthy`, `unhealthy`, `unhealthy.draining`, `unused`,
    /// `draining`, `unavailable`.
    pub state: String,
    /// ELB's reason code (`Target.ResponseCodeMismatch`), when not healthy.
    pub reason: Option<String>,
    /// ELB's description of the reason.
    pub description: Option<String>,
}

impl TargetObservation {
    fn name(&self) -> String {
        match self.port {
            Some(port) => format!("{}:{port}", self.id),
            None => self.id.clone(),
        }
    }

    fn evidence(&self, target_group: &str) -> Evidence {
        Evidence::new(
            format!("health of target {}", self.name()),
            json!({
                "state": self.state,
                "reason": self.reason,
                "description": self.description,
            }),
        )
        .threshold("healthy")
        .resource(target_group)
        .samples(1)
    }

    fn detail(&self) -> String {
        let mut detail = format!("target {} is {}", self.name(), self.state);
        match (&self.reason, &self.description) {
            (Some(reason), Some(description)) => {
                detail.push_str(&format!(" ({reason}: {description})"))
            }
            (Some(reason), None) => detail.push_str(&format!(" ({reason})")),
            (None, Some(description)) => detail.push_str(&format!(" ({description})")),
            (None, None) => {}
        }
        detail
    }
}

/// Every green target is healthy.
pub static TARGET_HEALTHY: ReasonCode = ReasonCode {
    code: "TARGET_HEALTHY",
    summary: "Every green task is registered and healthy in the target group.",
    what: "ELB DescribeTargetHealth on the target group; each running green task (matched by private IP) had a target in state `healthy`.",
    why: "Traffic shifted to green reaches only targets the load balancer considers healthy; unhealthy green targets mean errors or no capacity after the shift.",
    fix: "Nothing to fix.",
};

/// A target is unhealthy.
pub static TARGET_UNHEALTHY: ReasonCode = ReasonCode {
    code: "TARGET_UNHEALTHY",
    summary: "A green target is failing the target group's health checks.",
    what: "ELB reported the target `unhealthy`; its reason (`Target.ResponseCodeMismatch`, `Target.Timeout`, `Target.FailedHealthChecks`) and description are in the evidence.",
    why: "The load balancer will not send traffic to it: green would serve with less capacity, or not at all.",
    fix: "Check the health check path, port and matcher of the target group against what the app serves, the security group from the load balancer to the tasks, and the app's logs.",
};

/// A target is draining.
pub static TARGET_DRAINING: ReasonCode = ReasonCode {
    code: "TARGET_DRAINING",
    summary: "A green target is being deregistered from the target group.",
    what: "ELB reported the target `draining` (or `unhealthy.draining`).",
    why: "A green task leaving the group during the deployment was stopped or replaced; it will not serve.",
    fix: "Look at why the task is being stopped (the `tasks` check's evidence, ECS events): failed container health checks, scale-in, or a manual deregistration.",
};

/// A target is not in use.
pub static TARGET_UNUSED: ReasonCode = ReasonCode {
    code: "TARGET_UNUSED",
    summary: "A green target is registered but not in use by the load balancer.",
    what: "ELB reported the target `unused` (reasons: `Target.NotInUse` — the target group is not used by any listener rule; `Target.InvalidState` — the target is stopped; `Target.IpUnusable`; `Target.NotRegistered`).",
    why: "The load balancer cannot send traffic to green through this target group.",
    fix: "Check that the target group is attached to the listener rules named in the service's `advancedConfiguration`, and that the target's Availability Zone is enabled on the load balancer.",
};

/// A target's health is still being checked.
pub static TARGET_INITIAL: ReasonCode = ReasonCode {
    code: "TARGET_INITIAL",
    summary: "A green target's first health checks have not finished.",
    what: "ELB reported the target `initial` (`Elb.RegistrationInProgress` or `Elb.InitialHealthChecking`).",
    why: "Health is not known yet; the check waits within its `max_wait`.",
    fix: "Usually nothing. If it persists, compare the target group's health check interval and healthy threshold with `max_wait`.",
};

/// A green task has no target in the group.
pub static TARGET_NOT_REGISTERED: ReasonCode = ReasonCode {
    code: "TARGET_NOT_REGISTERED",
    summary: "A running green task is not registered in the target group, or green's target group is not known yet.",
    what: "No target of the group had the green task's private IP (or, for instance targets, there were fewer non-draining targets than running green tasks); or the service is behind a load balancer but ECS has not resolved green's target group and green's running tasks are registered in neither group of the pair.",
    why: "ECS registers tasks shortly after they start; until then the task serves no load-balanced traffic. The check waits, and `on_exhausted` decides when `max_wait` runs out.",
    fix: "If it persists, check the service's `loadBalancers` (container name and port) and that the target group named is the one ECS registers green into.",
};

/// ELB cannot say whether a target is healthy.
pub static TARGET_HEALTH_UNAVAILABLE: ReasonCode = ReasonCode {
    code: "TARGET_HEALTH_UNAVAILABLE",
    summary: "ELB cannot report a green target's health.",
    what: "ELB reported the target `unavailable`, or in a state greenlight does not know.",
    why: "Unknown health is not a pass; the check waits within its `max_wait`.",
    fix: "Usually transient (`Elb.InternalError`); if it persists, look at the target group in the EC2 console.",
};

/// The target group's health checks are off.
pub static TARGET_HEALTH_CHECKS_DISABLED: ReasonCode = ReasonCode {
    code: "TARGET_HEALTH_CHECKS_DISABLED",
    summary: "The target group has health checks disabled, so target health cannot be judged.",
    what: "ELB reported a target `unavailable` with reason `Target.HealthCheckDisabled`.",
    why: "Without health checks the load balancer sends traffic to any target; waiting will not produce evidence.",
    fix: "Enable health checks on the target group, or remove the `target_health` check for this service.",
};

/// There is nothing to judge.
pub static TARGET_NONE: ReasonCode = ReasonCode {
    code: "TARGET_NONE",
    summary: "There are no green tasks (or no targets) to judge yet.",
    what: "Green has no running tasks, or the target group has no targets.",
    why: "An empty group is not a healthy one; the check waits within its `max_wait`.",
    fix: "Usually nothing while tasks start. If it persists, see the `tasks` check.",
};

/// The service has no target group for the revision.
pub static TARGET_GROUP_MISSING: ReasonCode = ReasonCode {
    code: "TARGET_GROUP_MISSING",
    summary: "The service has no target group for the revision the check looks at.",
    what: "The service revision's load balancer configuration (resolved, else configured) names no target group for green (or blue).",
    why: "Without a target group there is no load-balancer health to judge; waiting will not create one.",
    fix: "Add `loadBalancers` (with `advancedConfiguration.alternateTargetGroupArn` for blue/green) to the service, or remove the `target_health` check from its config.",
};

/// The `target_health` check.
pub static DOC: CheckDoc = CheckDoc {
    kind: "target_health",
    summary: "Every running green task is registered and `healthy` in green's target group (or every target of blue's with `group: blue`), with ELB's reason when not. The common `consecutive: N` policy field requires N healthy observations in a row.",
    why: "ECS's own health view lags and flaps; the load balancer's view is what traffic will see. Unhealthy, draining or unused targets fail with ELB's reason code and description; targets still in `initial` or not yet registered wait.",
    example: "target_health:\n  group: green\n  consecutive: 2",
    iam: &[
        IamNeed {
            when: "group: blue",
            example: "target_health: { group: blue }",
            from: LifecycleStage::ReconcileService,
            facts: &[Fact::TargetGroups],
            calls: &["elasticloadbalancing:DescribeTargetHealth"],
        },
        IamNeed {
            when: "group: green",
            example: "target_health: { group: green }",
            from: LifecycleStage::PostScaleUp,
            facts: &[Fact::TargetGroups, Fact::GreenTasks],
            calls: &["elasticloadbalancing:DescribeTargetHealth"],
        },
    ],
    codes: &[
        &TARGET_HEALTHY,
        &TARGET_UNHEALTHY,
        &TARGET_DRAINING,
        &TARGET_UNUSED,
        &TARGET_INITIAL,
        &TARGET_NOT_REGISTERED,
        &TARGET_HEALTH_UNAVAILABLE,
        &TARGET_HEALTH_CHECKS_DISABLED,
        &TARGET_NONE,
        &TARGET_GROUP_MISSING,
    ],
};

/// How many problem targets the evidence lists, so it stays readable.
const MAX_LISTED: usize = 10;

/// What one target's state means, worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Verdict {
    ChecksDisabled,
    Unhealthy,
    Draining,
    Unused,
    Unavailable,
    Initial,
    NotRegistered,
    Healthy,
}

impl Verdict {
    fn of(target: &TargetObservation) -> Verdict {
        match target.state.as_str() {
            "healthy" => Verdict::Healthy,
            "initial" => Verdict::Initial,
            "unhealthy" => Verdict::Unhealthy,
            "draining" | "unhealthy.draining" => Verdict::Draining,
            "unused" => Verdict::Unused,
            "unavailable" if target.reason.as_deref() == Some("Target.HealthCheckDisabled") => {
                Verdict::ChecksDisabled
            }
            _ => Verdict::Unavailable,
        }
    }

    fn code(self) -> &'static ReasonCode {
        match self {
            Verdict::ChecksDisabled => &TARGET_HEALTH_CHECKS_DISABLED,
            Verdict::Unhealthy => &TARGET_UNHEALTHY,
            Verdict::Draining => &TARGET_DRAINING,
            Verdict::Unused => &TARGET_UNUSED,
            Verdict::Unavailable => &TARGET_HEALTH_UNAVAILABLE,
            Verdict::Initial => &TARGET_INITIAL,
            Verdict::NotRegistered => &TARGET_NOT_REGISTERED,
            Verdict::Healthy => &TARGET_HEALTHY,
        }
    }

    fn outcome(self, message: String) -> Outcome {
        match self {
            Verdict::ChecksDisabled => Outcome::permanent_error(self.code(), message),
            Verdict::Unhealthy | Verdict::Draining | Verdict::Unused => {
                Outcome::fail(self.code(), message)
            }
            Verdict::Unavailable | Verdict::Initial | Verdict::NotRegistered => {
                Outcome::inconclusive(self.code(), message)
            }
            Verdict::Healthy => Outcome::pass(self.code(), message),
        }
    }
}

/// The outcome when the service has no target group for `role`.
pub fn no_target_group(role: TargetGroupRole, service_arn: &str) -> Outcome {
    let which = role_name(role);
    Outcome::not_applicable(
        &TARGET_GROUP_MISSING,
        format!(
            "service {service_arn} has no {which} target group: its load balancer configuration names none, so there is no target health to judge"
        ),
    )
    .with_evidence(
        Evidence::new(format!("{which} target group"), "none")
            .threshold("a target group in the service's loadBalancers")
            .resource(service_arn),
    )
}

/// The outcome when the service is behind a load balancer but green's target group is not known
/// yet: ECS has not resolved it and green's running tasks are registered in neither group of the
/// pair. Green's tasks are not in service yet, so there is nothing healthy to pass: wait.
pub fn green_target_group_unknown(service_arn: &str) -> Outcome {
    Outcome::inconclusive(
        &TARGET_NOT_REGISTERED,
        format!(
            "service {service_arn} is behind a load balancer, but green's target group is not known yet: ECS has not resolved it and green's running tasks are registered in neither target group"
        ),
    )
    .with_evidence(
        Evidence::new("green target group", "unknown")
            .threshold("resolved by ECS, or the group green's running tasks are registered in")
            .resource(service_arn),
    )
}

fn role_name(role: TargetGroupRole) -> &'static str {
    match role {
        TargetGroupRole::Green => "green",
        TargetGroupRole::Blue => "blue",
    }
}

/// Judges the targets of `target_group`. `green_tasks` are green's tasks (running and stopped) when
/// the group is green's, `None` for blue's group, whose targets are judged all together.
pub fn judge(
    role: TargetGroupRole,
    target_group: &str,
    targets: &[TargetObservation],
    green_tasks: Option<&[TaskFacts]>,
) -> Outcome {
    let running: Vec<&TaskFacts> = green_tasks
        .unwrap_or_default()
        .iter()
        .filter(|t| t.last_status == "RUNNING" && t.desired_status == "RUNNING")
        .collect();
    match green_tasks {
        Some(_) if !running.is_empty() && running.iter().all(|t| t.private_ip.is_some()) => {
            judge_by_task(target_group, targets, &running)
        }
        Some(_) => judge_group(role, target_group, targets, running.len()),
        None => judge_group(role, target_group, targets, 1),
    }
}

/// Matches each running green task to its targets by private IP.
fn judge_by_task(
    target_group: &str,
    targets: &[TargetObservation],
    running: &[&TaskFacts],
) -> Outcome {
    // (verdict, task, its worst target)
    let mut judged: Vec<(Verdict, &TaskFacts, Option<&TargetObservation>)> = running
        .iter()
        .map(|task| {
            let worst = targets
                .iter()
                .filter(|target| Some(&target.id) == task.private_ip.as_ref())
                .min_by_key(|target| Verdict::of(target));
            (
                worst.map_or(Verdict::NotRegistered, Verdict::of),
                *task,
                worst,
            )
        })
        .collect();
    judged.sort_by_key(|(verdict, _, _)| *verdict);
    let healthy = judged
        .iter()
        .filter(|(verdict, _, _)| *verdict == Verdict::Healthy)
        .count();
    let green_ips: Vec<&str> = running
        .iter()
        .filter_map(|t| t.private_ip.as_deref())
        .collect();
    let others = targets
        .iter()
        .filter(|target| !green_ips.contains(&target.id.as_str()))
        .count();
    let summary = Evidence::new("healthy green targets", healthy)
        .threshold(format!("all {} running green tasks", running.len()))
        .resource(target_group)
        .samples(targets.len() as u64);

    let worst = judged[0].0;
    if worst == Verdict::Healthy {
        let mut message = format!(
            "all {healthy} running green task(s) are healthy in target group {target_group}"
        );
        if others > 0 {
            message.push_str(&format!(
                " ({others} other target(s) in the group are not running green tasks and were not judged)"
            ));
        }
        return Outcome::pass(&TARGET_HEALTHY, message).with_evidence(summary);
    }

    let problems: Vec<&(Verdict, &TaskFacts, Option<&TargetObservation>)> = judged
        .iter()
        .filter(|(verdict, _, _)| *verdict != Verdict::Healthy)
        .collect();
    let describe = |(verdict, task, target): &(Verdict, &TaskFacts, Option<&TargetObservation>)| {
        match target {
            Some(target) => format!("task {}: {}", task.arn, target.detail()),
            None if *verdict == Verdict::NotRegistered => format!(
                "task {} ({}) is not registered",
                task.arn,
                task.private_ip.as_deref().unwrap_or("no IP")
            ),
            None => format!("task {}", task.arn),
        }
    };
    let message = format!(
        "{} of {} running green task(s) not healthy in target group {target_group}: {}",
        problems.len(),
        running.len(),
        problems
            .iter()
            .take(3)
            .map(|p| describe(p))
            .collect::<Vec<_>>()
            .join("; ")
    );
    problems
        .iter()
        .take(MAX_LISTED)
        .map(|(verdict, task, target)| match target {
            Some(target) => target.evidence(target_group),
            None => Evidence::new(
                format!("registration of task {}", task.arn),
                format!(
                    "no target with IP {}",
                    task.private_ip.as_deref().unwrap_or("?")
                ),
            )
            .threshold(if *verdict == Verdict::NotRegistered {
                "registered and healthy"
            } else {
                "healthy"
            })
            .resource(target_group)
            .samples(targets.len() as u64),
        })
        .fold(worst.outcome(message), Outcome::with_evidence)
        .with_evidence(summary)
}

/// Judges every target of the group when tasks cannot be matched to targets: draining targets are
/// leaving and are not counted; the rest must be healthy and at least `expected` many.
fn judge_group(
    role: TargetGroupRole,
    target_group: &str,
    targets: &[TargetObservation],
    expected: usize,
) -> Outcome {
    let which = role_name(role);
    let staying: Vec<&TargetObservation> = targets
        .iter()
        .filter(|target| Verdict::of(target) != Verdict::Draining)
        .collect();
    let healthy = staying
        .iter()
        .filter(|target| Verdict::of(target) == Verdict::Healthy)
        .count();
    let summary = Evidence::new(format!("healthy {which} targets"), healthy)
        .threshold(format!(
            "all targets healthy, at least {expected} (draining targets not counted)"
        ))
        .resource(target_group)
        .samples(targets.len() as u64);

    if expected == 0 || staying.is_empty() {
        let message = if expected == 0 {
            format!(
                "green has no running tasks yet, so target group {target_group} has nothing to judge"
            )
        } else {
            format!("target group {target_group} has no targets that are not draining")
        };
        return Outcome::inconclusive(&TARGET_NONE, message).with_evidence(summary);
    }

    let mut problems: Vec<&TargetObservation> = staying
        .iter()
        .copied()
        .filter(|target| Verdict::of(target) != Verdict::Healthy)
        .collect();
    problems.sort_by_key(|target| Verdict::of(target));
    if let Some(first) = problems.first() {
        let message = format!(
            "{} of {} {which} target(s) not healthy in target group {target_group}: {}",
            problems.len(),
            staying.len(),
            problems
                .iter()
                .take(3)
                .map(|t| t.detail())
                .collect::<Vec<_>>()
                .join("; ")
        );
        return problems
            .iter()
            .take(MAX_LISTED)
            .map(|target| target.evidence(target_group))
            .fold(Verdict::of(first).outcome(message), Outcome::with_evidence)
            .with_evidence(summary);
    }
    if staying.len() < expected {
        return Outcome::inconclusive(
            &TARGET_NOT_REGISTERED,
            format!(
                "{} healthy target(s) in target group {target_group}, fewer than the {expected} running green task(s): the rest are not registered yet",
                staying.len()
            ),
        )
        .with_evidence(summary);
    }
    Outcome::pass(
        &TARGET_HEALTHY,
        format!("all {healthy} {which} target(s) are healthy in target group {target_group}"),
    )
    .with_evidence(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::{ErrorClass, Status};

    const TG: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-green/1";

    fn target(id: &str, state: &str, reason: Option<&str>) -> TargetObservation {
        TargetObservation {
            id: id.to_owned(),
            port: Some(8080),
            state: state.to_owned(),
            reason: reason.map(str::to_owned),
            description: reason.map(|r| format!("{r} described")),
        }
    }

    fn task(n: u8, ip: Option<&str>) -> TaskFacts {
        TaskFacts {
            arn: format!("arn:aws:ecs:us-east-1:123456789012:task/c/t{n}"),
            task_definition_arn: "td".to_owned(),
            last_status: "RUNNING".to_owned(),
            desired_status: "RUNNING".to_owned(),
            stopped_reason: None,
            private_ip: ip.map(str::to_owned),
            containers: vec![],
        }
    }

    fn two_tasks() -> Vec<TaskFacts> {
        vec![task(1, Some("10.0.0.1")), task(2, Some("10.0.0.2"))]
    }

    /// (name, role, tasks, targets, status, code)
    type GroupCase<'a> = (
        &'a str,
        TargetGroupRole,
        Option<&'a [TaskFacts]>,
        Vec<TargetObservation>,
        Status,
        &'a ReasonCode,
    );

    #[test]
    fn judges_green_tasks_by_ip() {
        let healthy = |ip| target(ip, "healthy", None);
        let cases: Vec<(&str, Vec<TargetObservation>, Status, &ReasonCode)> = vec![
            (
                "all healthy",
                vec![healthy("10.0.0.1"), healthy("10.0.0.2")],
                Status::Pass,
                &TARGET_HEALTHY,
            ),
            (
                "foreign targets are not judged",
                vec![
                    healthy("10.0.0.1"),
                    healthy("10.0.0.2"),
                    target("10.0.9.9", "unhealthy", Some("Target.Timeout")),
                ],
                Status::Pass,
                &TARGET_HEALTHY,
            ),
            (
                "unhealthy",
                vec![
                    healthy("10.0.0.1"),
                    target("10.0.0.2", "unhealthy", Some("Target.ResponseCodeMismatch")),
                ],
                Status::Fail,
                &TARGET_UNHEALTHY,
            ),
            (
                "draining",
                vec![
                    healthy("10.0.0.1"),
                    target(
                        "10.0.0.2",
                        "draining",
                        Some("Target.DeregistrationInProgress"),
                    ),
                ],
                Status::Fail,
                &TARGET_DRAINING,
            ),
            (
                "unhealthy.draining",
                vec![
                    healthy("10.0.0.1"),
                    target("10.0.0.2", "unhealthy.draining", None),
                ],
                Status::Fail,
                &TARGET_DRAINING,
            ),
            (
                "unused",
                vec![
                    healthy("10.0.0.1"),
                    target("10.0.0.2", "unused", Some("Target.NotInUse")),
                ],
                Status::Fail,
                &TARGET_UNUSED,
            ),
            (
                "initial",
                vec![
                    healthy("10.0.0.1"),
                    target("10.0.0.2", "initial", Some("Elb.InitialHealthChecking")),
                ],
                Status::Inconclusive,
                &TARGET_INITIAL,
            ),
            (
                "not registered",
                vec![healthy("10.0.0.1")],
                Status::Inconclusive,
                &TARGET_NOT_REGISTERED,
            ),
            (
                "unavailable",
                vec![
                    healthy("10.0.0.1"),
                    target("10.0.0.2", "unavailable", Some("Elb.InternalError")),
                ],
                Status::Inconclusive,
                &TARGET_HEALTH_UNAVAILABLE,
            ),
            (
                "unknown state",
                vec![
                    healthy("10.0.0.1"),
                    target("10.0.0.2", "something_new", None),
                ],
                Status::Inconclusive,
                &TARGET_HEALTH_UNAVAILABLE,
            ),
            (
                "unhealthy outranks initial",
                vec![
                    target("10.0.0.1", "initial", None),
                    target("10.0.0.2", "unhealthy", None),
                ],
                Status::Fail,
                &TARGET_UNHEALTHY,
            ),
        ];
        for (name, targets, status, code) in cases {
            let tasks = two_tasks();
            let outcome = judge(TargetGroupRole::Green, TG, &targets, Some(&tasks));
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
    fn health_checks_disabled_is_an_error_waiting_cannot_heal() {
        let tasks = two_tasks();
        let targets = [
            target(
                "10.0.0.1",
                "unavailable",
                Some("Target.HealthCheckDisabled"),
            ),
            target(
                "10.0.0.2",
                "unavailable",
                Some("Target.HealthCheckDisabled"),
            ),
        ];
        let outcome = judge(TargetGroupRole::Green, TG, &targets, Some(&tasks));
        assert_eq!(outcome.code, &TARGET_HEALTH_CHECKS_DISABLED);
        assert_eq!(outcome.error_class, Some(ErrorClass::Permanent));
    }

    #[test]
    fn unhealthy_evidence_carries_elb_reason_and_description() {
        let tasks = two_tasks();
        let targets = [
            target("10.0.0.1", "healthy", None),
            target("10.0.0.2", "unhealthy", Some("Target.ResponseCodeMismatch")),
        ];
        let outcome = judge(TargetGroupRole::Green, TG, &targets, Some(&tasks));
        let evidence = &outcome.evidence[0];
        assert_eq!(evidence.value["state"], json!("unhealthy"));
        assert_eq!(
            evidence.value["reason"],
            json!("Target.ResponseCodeMismatch")
        );
        assert_eq!(
            evidence.value["description"],
            json!("Target.ResponseCodeMismatch described")
        );
        assert_eq!(evidence.threshold.as_deref(), Some("healthy"));
        assert_eq!(evidence.resource.as_deref(), Some(TG));
        assert!(outcome.message.contains("task arn:aws:ecs:us-east-1:123456789012:task/c/t2: target 10.0.0.2:8080 is unhealthy (Target.ResponseCodeMismatch"));
        let summary = outcome.evidence.last().expect("summary");
        assert_eq!(summary.value, json!(1));
        assert_eq!(
            summary.threshold.as_deref(),
            Some("all 2 running green tasks")
        );
        assert_eq!(summary.samples, Some(2));
    }

    #[test]
    fn judges_the_whole_group_when_tasks_have_no_ip_or_for_blue() {
        let no_ip = vec![task(1, None), task(2, None)];
        let healthy = |id| target(id, "healthy", None);
        // (name, role, tasks, targets, status, code)
        let cases: Vec<GroupCase<'_>> = vec![
            (
                "instances all healthy",
                TargetGroupRole::Green,
                Some(&no_ip),
                vec![healthy("i-1"), healthy("i-2")],
                Status::Pass,
                &TARGET_HEALTHY,
            ),
            (
                "draining ones are leaving",
                TargetGroupRole::Green,
                Some(&no_ip),
                vec![
                    healthy("i-1"),
                    healthy("i-2"),
                    target("i-3", "draining", None),
                ],
                Status::Pass,
                &TARGET_HEALTHY,
            ),
            (
                "fewer targets than tasks",
                TargetGroupRole::Green,
                Some(&no_ip),
                vec![healthy("i-1")],
                Status::Inconclusive,
                &TARGET_NOT_REGISTERED,
            ),
            (
                "an unhealthy instance",
                TargetGroupRole::Green,
                Some(&no_ip),
                vec![
                    healthy("i-1"),
                    target("i-2", "unhealthy", Some("Target.Timeout")),
                ],
                Status::Fail,
                &TARGET_UNHEALTHY,
            ),
            (
                "no running green tasks",
                TargetGroupRole::Green,
                Some(&[]),
                vec![healthy("10.0.0.1")],
                Status::Inconclusive,
                &TARGET_NONE,
            ),
            (
                "blue healthy",
                TargetGroupRole::Blue,
                None,
                vec![healthy("10.1.0.1")],
                Status::Pass,
                &TARGET_HEALTHY,
            ),
            (
                "blue empty",
                TargetGroupRole::Blue,
                None,
                vec![],
                Status::Inconclusive,
                &TARGET_NONE,
            ),
            (
                "blue only draining",
                TargetGroupRole::Blue,
                None,
                vec![target("10.1.0.1", "draining", None)],
                Status::Inconclusive,
                &TARGET_NONE,
            ),
            (
                "blue unhealthy",
                TargetGroupRole::Blue,
                None,
                vec![healthy("10.1.0.1"), target("10.1.0.2", "unhealthy", None)],
                Status::Fail,
                &TARGET_UNHEALTHY,
            ),
        ];
        for (name, role, tasks, targets, status, code) in cases {
            let outcome = judge(role, TG, &targets, tasks);
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
    fn a_missing_target_group_names_the_service() {
        let outcome = no_target_group(
            TargetGroupRole::Green,
            "arn:aws:ecs:us-east-1:1:service/c/web",
        );
        assert_eq!(outcome.code, &TARGET_GROUP_MISSING);
        assert!(outcome.is_permanent_error());
        assert!(
            outcome
                .message
                .contains("service/c/web has no green target group")
        );
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
            assert_eq!(code.family(), "TARGET", "{}", code.code);
        }
        assert!(DOC.summary.contains("consecutive"));
    }
}
