//! A campaign: scenarios rehearsed again and again under seeded random faults, each run checked
//! against greenlight's promises.
//!
//! Each run layers 1 to 3 faults on a scenario, drawn from its seed: throttling, 5xx, dropped
//! connections, latency spikes and (rarely) denials, each on a random service and operation
//! greenlight calls (the CodeDeploy report and the Lambda `Invoke` of team functions included),
//! with a random share of calls hit in a random window. The same seed gives the same faults and
//! the same draws, so any run can be replayed (`greenlight campaign --scenario FILE --first-seed
//! SEED --seeds 1`).
//!
//! The invariants ([`invariant_breaks`]):
//! - a scenario whose green is bad never ends SUCCESSFUL / Succeeded;
//! - a good green ends SUCCESSFUL / Succeeded, or is stopped only by what the faults caused (an
//!   error, a wait that ran out): never by a check that concluded "fail";
//! - every invocation answers (no timeout past its deadline, no crash), and no answer or check
//!   speaks of a panic;
//! - while ECS rolls back, every hook invocation answers SUCCEEDED;
//! - CodeDeploy gets at most one report per lifecycle event;
//! - the functions' logs never hold a secret header value the scenario stored (SSM, Secrets
//!   Manager), nor an event as it was given.

use std::collections::BTreeMap;

use futures::StreamExt;
use serde::Serialize;

use crate::scenario::format::{Controller, FaultKind, FaultSpec, Scenario};
use crate::scenario::{RunOptions, run};
use crate::timeline::{SimReport, TimelineEvent};
use crate::world::prng::Prng;

/// The services and operations greenlight's functions call, where faults are drawn from.
const TARGETS: &[(&str, &[&str])] = &[
    (
        "ecs",
        &[
            "DescribeServiceDeployments",
            "DescribeServiceRevisions",
            "ListServiceDeployments",
            "ListTasks",
            "DescribeTasks",
            "DescribeServices",
            "DescribeTaskDefinition",
        ],
    ),
    (
        "elasticloadbalancing",
        &[
            "DescribeRules",
            "DescribeListeners",
            "DescribeLoadBalancers",
            "DescribeTargetHealth",
            "DescribeTargetGroups",
        ],
    ),
    ("cloudwatch", &["DescribeAlarms", "GetMetricData"]),
    (
        "ecr",
        &[
            "DescribeImages",
            "DescribeRepositories",
            "DescribeImageScanFindings",
        ],
    ),
    (
        "codedeploy",
        &[
            "PutLifecycleEventHookExecutionStatus",
            "GetDeployment",
            "ListDeploymentTargets",
            "GetDeploymentTarget",
        ],
    ),
    ("lambda", &["Invoke"]),
];

/// The faults of run `seed`: 1 to 3, each on a random target, kind, share and window.
pub fn faults_for(seed: u64) -> Vec<FaultSpec> {
    let mut prng = Prng::new(seed);
    let count = 1 + prng.next_u64() % 3;
    (0..count)
        .map(|_| {
            let (service, operations) = TARGETS[pick(&mut prng, TARGETS.len())];
            // A whole service now and then, else one operation.
            let operation = (prng.next_f64() < 0.8)
                .then(|| operations[pick(&mut prng, operations.len())].to_owned());
            let roll = prng.next_f64();
            let kind = match roll {
                r if r < 0.35 => FaultKind::Throttle,
                r if r < 0.6 => FaultKind::ServerError,
                r if r < 0.75 => FaultKind::DropConnection,
                r if r < 0.95 => FaultKind::Latency,
                _ => FaultKind::AccessDenied,
            };
            let after = round1(prng.next_f64() * 4.0);
            FaultSpec {
                service: service.to_owned(),
                operation,
                kind,
                latency_ms: (kind == FaultKind::Latency).then(|| 200 + prng.next_u64() % 2_800),
                probability: round1(0.2 + prng.next_f64() * 0.7),
                after_seconds: Some(after),
                until_seconds: Some(round1(after + 0.5 + prng.next_f64() * 6.0)),
                max_hits: None,
            }
        })
        .collect()
}

fn pick(prng: &mut Prng, len: usize) -> usize {
    usize::try_from(prng.next_u64() % u64::try_from(len).unwrap_or(1)).unwrap_or(0)
}

fn round1(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

/// `scenario` with run `seed`'s faults layered on its own, and the seed for their draws.
pub fn with_faults(scenario: &Scenario, seed: u64) -> Scenario {
    let mut faulted = scenario.clone();
    faulted.faults.extend(faults_for(seed));
    faulted.fault_seed = Some(seed);
    faulted
}

/// Whether a final status is a success, ECS's or CodeDeploy's.
fn succeeded(status: &str) -> bool {
    matches!(status, "SUCCESSFUL" | "Succeeded")
}

/// Every promise run `report` of `scenario` broke, in words.
pub fn invariant_breaks(scenario: &Scenario, report: &SimReport) -> Vec<String> {
    let mut breaks = Vec::new();
    let good = succeeded(&scenario.expect.status);
    if !good && succeeded(&report.final_status) {
        breaks.push(format!(
            "a bad green ended {} (the scenario expects {})",
            report.final_status, scenario.expect.status
        ));
    }
    let mut rolling_back = false;
    let mut reports: BTreeMap<&str, u32> = BTreeMap::new();
    for timed in report.timeline.events() {
        match &timed.event {
            TimelineEvent::RollbackStarted { .. } => rolling_back = true,
            TimelineEvent::HookAnswered {
                stage,
                function,
                status,
                reason,
                message,
                checks,
                ..
            } => {
                let at = format!("{function} at {stage}");
                if status == "ERROR" {
                    breaks.push(format!(
                        "{at} did not answer before its deadline: {}",
                        message.as_deref().unwrap_or("no message")
                    ));
                }
                let crashed = reason.as_deref() == Some("CHECK_CRASHED")
                    || message
                        .as_deref()
                        .is_some_and(|text| text.contains("panicked"))
                    || checks.iter().any(|check| {
                        check.code == "CHECK_CRASHED" || check.message.contains("panicked")
                    });
                if crashed {
                    breaks.push(format!(
                        "{at}: a panic ({})",
                        reason.as_deref().unwrap_or("")
                    ));
                }
                if scenario.deployment.controller == Controller::Ecs
                    && rolling_back
                    && status != "SUCCEEDED"
                {
                    breaks.push(format!(
                        "{at} answered {status} while the deployment rolled back"
                    ));
                }
                if scenario.deployment.controller == Controller::CodeDeploy
                    && matches!(status.as_str(), "Succeeded" | "Failed")
                {
                    *reports.entry(stage.as_str()).or_default() += 1;
                }
                if good && !rolling_back && matches!(status.as_str(), "FAILED" | "Failed") {
                    for check in checks.iter().filter(|check| check.status == "fail") {
                        breaks.push(format!(
                            "{at}: a good green was failed by {} ({}: {})",
                            check.id, check.code, check.message
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    for (event, count) in reports {
        if count > 1 {
            breaks.push(format!("CodeDeploy got {count} reports for {event}"));
        }
    }
    breaks.extend(log_breaks(scenario, report));
    breaks
}

/// What the functions' logs must never hold: a secret header value the scenario stored (SSM,
/// Secrets Manager), or an event as it was given (its `hookDetails` may carry a team's config).
fn log_breaks(scenario: &Scenario, report: &SimReport) -> Vec<String> {
    let secrets: Vec<&str> = scenario
        .world
        .ssm_parameters
        .values()
        .chain(scenario.world.secrets.values())
        .map(String::as_str)
        .filter(|value| value.len() >= 8)
        .collect();
    // An event logged whole shows as its own JSON, or escaped inside a JSON log line.
    let mut events: Vec<String> = Vec::new();
    for timed in report.timeline.events() {
        if let TimelineEvent::HookInvoked { payload, .. } = &timed.event {
            let raw = payload.to_string();
            let escaped = serde_json::to_string(&raw).unwrap_or_default();
            events.push(escaped.trim_matches('"').to_owned());
            events.push(raw);
        }
    }
    events.sort();
    events.dedup();
    let mut breaks = Vec::new();
    for line in &report.function_logs {
        if let Some(secret) = secrets.iter().find(|secret| line.contains(**secret)) {
            breaks.push(format!(
                "a function logged a secret header's value (the one beginning {:?})",
                secret.chars().take(3).collect::<String>()
            ));
        }
        if events.iter().any(|event| line.contains(event.as_str())) {
            breaks.push("a function logged a whole event".to_owned());
        }
    }
    breaks.sort();
    breaks.dedup();
    breaks
}

/// One run of a campaign.
#[derive(Debug, Clone, Serialize)]
pub struct CampaignRun {
    /// The scenario's name.
    pub scenario: String,
    /// The run's seed.
    pub seed: u64,
    /// The faults layered on it.
    pub faults: Vec<FaultSpec>,
    /// How the deployment ended (or why the rehearsal could not run).
    pub final_status: String,
    /// The promises it broke.
    pub breaks: Vec<String>,
    /// For a good green that did not succeed: the answer that stopped it (function, stage, reason
    /// code and message), which the invariants allow only when a fault caused it. Recorded so that
    /// every such stop can be read, and replayed when the faults look too short to explain it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub good_release_stopped_by: Option<String>,
}

/// The first FAILED answer of a run: what stopped the deployment.
fn stopping_answer(report: &SimReport) -> Option<String> {
    report
        .timeline
        .events()
        .iter()
        .find_map(|timed| match &timed.event {
            TimelineEvent::HookAnswered {
                stage,
                function,
                status,
                reason,
                message,
                ..
            } if matches!(status.as_str(), "FAILED" | "Failed") => Some(format!(
                "{function} at {stage}: {}: {}",
                reason.as_deref().unwrap_or("no reason"),
                message.as_deref().unwrap_or("no message")
            )),
            _ => None,
        })
}

/// Runs every scenario with seeds `first_seed..first_seed + seeds`, `jobs` rehearsals at a time
/// (each in its own moto), reporting each run to `progress` in order.
pub async fn run_campaign(
    scenarios: &[Scenario],
    first_seed: u64,
    seeds: u64,
    jobs: usize,
    options: &RunOptions,
    mut progress: impl FnMut(&CampaignRun),
) -> Vec<CampaignRun> {
    let planned = scenarios.iter().flat_map(|scenario| {
        (first_seed..first_seed.saturating_add(seeds)).map(move |seed| (scenario, seed))
    });
    let mut runs = futures::stream::iter(planned)
        .map(|(scenario, seed)| rehearse(scenario, seed, options))
        .buffered(jobs.max(1));
    let mut done = Vec::new();
    while let Some(run) = runs.next().await {
        progress(&run);
        done.push(run);
    }
    done
}

/// One run of a campaign: `scenario` under the faults of `seed`, judged against its promises.
async fn rehearse(scenario: &Scenario, seed: u64, options: &RunOptions) -> CampaignRun {
    let faulted = with_faults(scenario, seed);
    let good = succeeded(&scenario.expect.status);
    let (final_status, breaks, good_release_stopped_by) = match run(&faulted, options).await {
        Ok(report) => {
            let breaks = invariant_breaks(scenario, &report);
            let stopped = (good && !succeeded(&report.final_status))
                .then(|| stopping_answer(&report))
                .flatten();
            (report.final_status, breaks, stopped)
        }
        Err(error) => (
            "NOT RUN".to_owned(),
            vec![format!("the rehearsal could not run: {error}")],
            None,
        ),
    };
    CampaignRun {
        scenario: scenario.name.clone(),
        seed,
        faults: faulted.faults[scenario.faults.len()..].to_vec(),
        final_status,
        breaks,
        good_release_stopped_by,
    }
}

/// The campaign's table: per scenario, runs, outcomes and breaks; then each break with the seed
/// to replay it.
pub fn table(runs: &[CampaignRun]) -> String {
    let mut by_scenario: BTreeMap<&str, (u32, BTreeMap<&str, u32>, u32)> = BTreeMap::new();
    for run in runs {
        let entry = by_scenario.entry(run.scenario.as_str()).or_default();
        entry.0 += 1;
        *entry.1.entry(run.final_status.as_str()).or_default() += 1;
        entry.2 += u32::from(!run.breaks.is_empty());
    }
    let mut text = String::from(
        "| scenario | runs | outcomes | runs breaking an invariant |\n|---|---|---|---|\n",
    );
    for (scenario, (count, outcomes, broken)) in &by_scenario {
        let outcomes: Vec<String> = outcomes
            .iter()
            .map(|(status, n)| format!("{status} {n}"))
            .collect();
        text.push_str(&format!(
            "| `{scenario}` | {count} | {} | {broken} |\n",
            outcomes.join(", ")
        ));
    }
    let stopped: Vec<&CampaignRun> = runs
        .iter()
        .filter(|run| run.good_release_stopped_by.is_some())
        .collect();
    if !stopped.is_empty() {
        text.push_str("\nGood releases stopped by their faults (allowed; replay any the faults do not explain):\n");
        for run in stopped {
            text.push_str(&format!(
                "  - {} seed {}: {}\n",
                run.scenario,
                run.seed,
                run.good_release_stopped_by.as_deref().unwrap_or_default()
            ));
        }
    }
    for run in runs.iter().filter(|run| !run.breaks.is_empty()) {
        text.push_str(&format!("\n{} seed {}:\n", run.scenario, run.seed));
        for broken in &run.breaks {
            text.push_str(&format!("  - {broken}\n"));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::*;
    use crate::timeline::{CheckLine, Timeline};

    fn scenario(expect: &str) -> Scenario {
        let text = format!(
            "name: s\nservice: {{ cluster: c, name: web }}\nrevisions:\n  blue: {{ image: {{ repository: web, tag: v1 }} }}\n  green: {{ image: {{ repository: web, tag: v2 }} }}\ndeployment:\n  strategy: BLUE_GREEN\n  lifecycleHooks:\n    - {{ function: test-traffic, lifecycleStages: [POST_TEST_TRAFFIC_SHIFT] }}\nexpect: {{ status: {expect} }}\n"
        );
        Scenario::parse(&text, "test").expect("a valid scenario")
    }

    fn answered(status: &str, reason: &str, check_status: &str) -> TimelineEvent {
        TimelineEvent::HookAnswered {
            stage: "POST_TEST_TRAFFIC_SHIFT".into(),
            function: "test-traffic".into(),
            attempt: 1,
            status: status.into(),
            call_back_delay: None,
            reason: Some(reason.into()),
            message: Some("a sentence".into()),
            checks: vec![CheckLine {
                id: "http".into(),
                status: check_status.into(),
                disposition: String::new(),
                code: reason.into(),
                message: "m".into(),
                evidence: json!([]),
            }],
            latency: Duration::from_millis(3),
            cold: false,
            raw_response: json!({}),
        }
    }

    fn report(final_status: &str, events: Vec<TimelineEvent>) -> SimReport {
        let mut timeline = Timeline::new("s", "BLUE_GREEN");
        for event in events {
            timeline.record(Duration::ZERO, event);
        }
        SimReport {
            timeline,
            final_status: final_status.into(),
            ..SimReport::default()
        }
    }

    #[test]
    fn the_answer_that_stopped_a_run_is_named() {
        let erred = report(
            "ROLLBACK_SUCCESSFUL",
            vec![
                answered("IN_PROGRESS", "VERDICT_WAITING", "error"),
                answered("FAILED", "AWS_THROTTLED", "error"),
                answered("SUCCEEDED", "VERDICT_ROLLBACK", "pass"),
            ],
        );
        assert_eq!(
            stopping_answer(&erred).as_deref(),
            Some("test-traffic at POST_TEST_TRAFFIC_SHIFT: AWS_THROTTLED: a sentence")
        );
        let passed = report(
            "SUCCESSFUL",
            vec![answered("SUCCEEDED", "VERDICT_PASSED", "pass")],
        );
        assert_eq!(stopping_answer(&passed), None);
        let run = CampaignRun {
            scenario: "s".into(),
            seed: 7,
            faults: Vec::new(),
            final_status: "ROLLBACK_SUCCESSFUL".into(),
            breaks: Vec::new(),
            good_release_stopped_by: stopping_answer(&erred),
        };
        assert!(
            table(&[run])
                .contains("s seed 7: test-traffic at POST_TEST_TRAFFIC_SHIFT: AWS_THROTTLED"),
            "{}",
            table(&[])
        );
    }

    #[test]
    fn each_broken_promise_is_named_and_a_faithful_run_breaks_none() {
        let good = scenario("SUCCESSFUL");
        let bad = scenario("ROLLBACK_SUCCESSFUL");
        let rollback = TimelineEvent::RollbackStarted {
            stage: "POST_TEST_TRAFFIC_SHIFT".into(),
            reason: "r".into(),
        };
        // Faithful: a good green passed; a good green stopped by a fault's error; a bad one caught.
        let passed = report(
            "SUCCESSFUL",
            vec![answered("SUCCEEDED", "VERDICT_PASSED", "pass")],
        );
        assert!(invariant_breaks(&good, &passed).is_empty());
        let erred = report(
            "ROLLBACK_SUCCESSFUL",
            vec![
                answered("FAILED", "AWS_THROTTLED", "error"),
                rollback.clone(),
                answered("SUCCEEDED", "VERDICT_ROLLBACK", "pass"),
            ],
        );
        assert!(
            invariant_breaks(&good, &erred).is_empty(),
            "{:?}",
            invariant_breaks(&good, &erred)
        );
        let caught = report(
            "ROLLBACK_SUCCESSFUL",
            vec![
                answered("FAILED", "HTTP_ERROR_RATE", "fail"),
                rollback.clone(),
            ],
        );
        assert!(invariant_breaks(&bad, &caught).is_empty());

        // Broken, each named.
        let cases = [
            (
                &bad,
                report("SUCCESSFUL", vec![]),
                "a bad green ended SUCCESSFUL",
            ),
            (
                &good,
                report(
                    "ROLLBACK_SUCCESSFUL",
                    vec![answered("FAILED", "HTTP_ERROR_RATE", "fail")],
                ),
                "a good green was failed by http",
            ),
            (
                &good,
                report("ROLLBACK_SUCCESSFUL", vec![answered("ERROR", "", "error")]),
                "did not answer before its deadline",
            ),
            (
                &good,
                report(
                    "ROLLBACK_SUCCESSFUL",
                    vec![answered("FAILED", "CHECK_CRASHED", "error")],
                ),
                "a panic",
            ),
            (
                &good,
                report(
                    "ROLLBACK_SUCCESSFUL",
                    vec![
                        rollback,
                        answered("IN_PROGRESS", "VERDICT_WAITING", "inconclusive"),
                    ],
                ),
                "while the deployment rolled back",
            ),
        ];
        let mut secret = good.clone();
        secret.world.ssm_parameters.insert(
            "/greenlight/secrets/c/web/key".into(),
            "s3cr3t-api-key".into(),
        );
        let invoked = TimelineEvent::HookInvoked {
            stage: "POST_TEST_TRAFFIC_SHIFT".into(),
            function: "test-traffic".into(),
            attempt: 1,
            payload: json!({ "executionDetails": { "x": 1 }, "hookDetails": { "k": "v" } }),
        };
        let mut leaked = report("SUCCESSFUL", vec![invoked.clone()]);
        leaked.function_logs = vec![
            r#"{"level":"INFO","message":"sent X-Api-Key: s3cr3t-api-key"}"#.into(),
            format!(
                r#"{{"level":"DEBUG","event":{}}}"#,
                json!({ "executionDetails": { "x": 1 }, "hookDetails": { "k": "v" } })
            ),
        ];
        let breaks = invariant_breaks(&secret, &leaked);
        assert!(
            breaks.iter().any(|b| b.contains("secret header's value")),
            "{breaks:?}"
        );
        assert!(
            breaks.iter().any(|b| b.contains("a whole event")),
            "{breaks:?}"
        );
        assert!(
            !breaks.iter().any(|b| b.contains("s3cr3t")),
            "the break never repeats the secret"
        );
        let mut quiet = report("SUCCESSFUL", vec![invoked]);
        quiet.function_logs = vec![r#"{"level":"INFO","message":"greenlight summary"}"#.into()];
        assert!(invariant_breaks(&secret, &quiet).is_empty());

        for (scenario, report, says) in cases {
            let breaks = invariant_breaks(scenario, &report);
            assert!(
                breaks.iter().any(|broken| broken.contains(says)),
                "{says}: {breaks:?}"
            );
        }
    }

    #[test]
    fn a_seed_always_draws_the_same_faults_and_seeds_differ() {
        assert_eq!(faults_for(7), faults_for(7));
        assert_ne!(faults_for(7), faults_for(8));
        for seed in 0..200 {
            let faults = faults_for(seed);
            assert!((1..=3).contains(&faults.len()));
            for fault in faults {
                assert!((0.2..=0.9).contains(&fault.probability), "{fault:?}");
                let (after, until) = (
                    fault.after_seconds.expect("a window"),
                    fault.until_seconds.expect("a window"),
                );
                assert!(after < until, "{fault:?}");
                assert_eq!(fault.latency_ms.is_some(), fault.kind == FaultKind::Latency);
                assert!(TARGETS.iter().any(|(service, operations)| {
                    *service == fault.service
                        && fault
                            .operation
                            .as_deref()
                            .is_none_or(|op| operations.contains(&op))
                }));
            }
        }
    }
}
