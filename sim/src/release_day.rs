//! Release day: many services deploying at once in one account, against that account's API limits.
//!
//! A wave of N deployments rehearses N copies of one scenario (each its own service, images and
//! alarms, in the scenario's cluster), their worlds sharing one [`AccountRateLimits`]: the token
//! buckets AWS documents, per account and Region. Every copy
//! builds its world first; then all deployments begin together ([`StartGate`]). Each copy's
//! functions run in their own warm processes, reused across its invocations: at most what Lambda
//! would start at that concurrency, so cold starts are counted high, never low.
//!
//! A wave reports what a platform team needs to know before its release day: false rollbacks
//! (a good release rolled back: must be zero), the time each deployment took over one deployment
//! alone, the AWS calls per deployment, and the throttles the account's buckets answered.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::moto::MotoServer;
use crate::scenario::format::Scenario;
use crate::scenario::runner::StartGate;
use crate::scenario::{RunOptions, run};
use crate::timeline::{SimReport, TimelineEvent};
use crate::world::AccountRateLimits;

/// Copy `index` of `scenario`: its own service, image repositories, alarms and secrets (renamed
/// wherever the hooks' details name them), in the same cluster.
pub fn copy_for(scenario: &Scenario, index: usize) -> Scenario {
    let suffix = |name: &str| format!("{name}-{index:03}");
    let mut copy = scenario.clone();
    copy.name = suffix(&scenario.name);
    copy.service.name = suffix(&scenario.service.name);
    for revision in [&mut copy.revisions.blue, &mut copy.revisions.green] {
        revision.image.repository = suffix(&revision.image.repository);
    }
    let mut renamed = BTreeMap::new();
    for alarm in &mut copy.world.alarms {
        let new = suffix(&alarm.name);
        renamed.insert(std::mem::replace(&mut alarm.name, new.clone()), new);
    }
    for name in &mut copy.world.deployment_alarms {
        if let Some(new) = renamed.get(name) {
            name.clone_from(new);
        }
    }
    // Secrets live under the service's own path (`…/<cluster>/<service>/…`).
    let cluster = &scenario.service.cluster;
    let path = (
        format!("{cluster}/{}/", scenario.service.name),
        format!("{cluster}/{}/", copy.service.name),
    );
    let move_secrets = |secrets: &BTreeMap<String, String>| -> BTreeMap<String, String> {
        secrets
            .iter()
            .map(|(name, value)| (name.replace(&path.0, &path.1), value.clone()))
            .collect()
    };
    copy.world.ssm_parameters = move_secrets(&scenario.world.ssm_parameters);
    copy.world.secrets = move_secrets(&scenario.world.secrets);
    for hook in &mut copy.deployment.lifecycle_hooks {
        if let Some(details) = &mut hook.hook_details {
            rename_strings(details, &renamed, &path);
        }
    }
    if let Some(config) = &mut copy.deployment.greenlight_config {
        rename_strings(config, &renamed, &path);
    }
    copy
}

/// Replaces every string in `value` that is exactly a key of `renamed`, and the secret path
/// `path.0` within any string by `path.1`.
fn rename_strings(value: &mut Value, renamed: &BTreeMap<String, String>, path: &(String, String)) {
    match value {
        Value::String(text) => {
            if let Some(new) = renamed.get(text.as_str()) {
                text.clone_from(new);
            } else if text.contains(&path.0) {
                *text = text.replace(&path.0, &path.1);
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|item| rename_strings(item, renamed, path)),
        Value::Object(map) => map
            .values_mut()
            .for_each(|item| rename_strings(item, renamed, path)),
        _ => {}
    }
}

/// One deployment of a wave.
#[derive(Debug, Clone, Serialize)]
pub struct WaveDeployment {
    /// The copy's name.
    pub name: String,
    /// How it ended (`NOT RUN: …` when the rehearsal could not run).
    pub final_status: String,
    /// From its start to its end.
    #[serde(rename = "time_to_verdict_ms", with = "crate::timeline::duration_ms")]
    pub time_to_verdict: Duration,
    /// The AWS calls its functions made.
    pub calls: usize,
    /// Its hook invocations.
    pub invocations: usize,
    /// How many of them started a new process.
    pub cold_starts: usize,
    /// The reason codes of its failed checks, when it rolled back.
    pub failed_checks: Vec<String>,
}

impl WaveDeployment {
    fn not_run(&self) -> bool {
        self.final_status.starts_with("NOT RUN")
    }
}

/// What a wave of concurrent deployments showed.
#[derive(Debug, Clone, Serialize)]
pub struct Wave {
    /// How many deployments ran at once.
    pub deployments: usize,
    /// Each deployment.
    pub runs: Vec<WaveDeployment>,
    /// The calls the account's buckets throttled, per `service:Operation`.
    pub throttled: BTreeMap<String, u64>,
    /// The calls they admitted, per `service:Operation`.
    pub admitted: BTreeMap<String, u64>,
}

impl Wave {
    /// Deployments of a good release that did not succeed, or of a bad one that did: judged
    /// against the scenario's expected status. A deployment whose rehearsal could not be set up is
    /// not among them ([`Wave::not_run`]).
    pub fn wrong_outcomes(&self, expected: &str) -> usize {
        self.runs
            .iter()
            .filter(|run| !run.not_run() && run.final_status != expected)
            .count()
    }

    /// Deployments whose rehearsal could not be set up, so greenlight never judged them.
    pub fn not_run(&self) -> usize {
        self.runs.iter().filter(|run| run.not_run()).count()
    }

    /// The times to verdict, in milliseconds, of the deployments that ran.
    fn times_ms(&self) -> Vec<u64> {
        self.runs
            .iter()
            .filter(|run| !run.not_run())
            .map(|run| u64::try_from(run.time_to_verdict.as_millis()).unwrap_or(u64::MAX))
            .collect()
    }

    /// The `quantile` (0..=1) of the times to verdict.
    pub fn time_quantile(&self, quantile: f64) -> Option<Duration> {
        let times = self.times_ms();
        if times.is_empty() {
            return None;
        }
        let mut histogram = hdrhistogram::Histogram::<u64>::new(3).ok()?;
        for time in times {
            histogram.record(time).ok()?;
        }
        Some(Duration::from_millis(histogram.value_at_quantile(quantile)))
    }

    /// The mean of the AWS calls per deployment.
    pub fn calls_per_deployment(&self) -> f64 {
        mean(self.runs.iter().map(|run| run.calls))
    }

    /// Every throttle the buckets answered.
    pub fn throttles(&self) -> u64 {
        self.throttled.values().sum()
    }
}

#[allow(clippy::cast_precision_loss)]
fn mean(values: impl Iterator<Item = usize>) -> f64 {
    let (sum, count) = values.fold((0usize, 0usize), |(sum, count), value| {
        (sum + value, count + 1)
    });
    if count == 0 {
        0.0
    } else {
        sum as f64 / count as f64
    }
}

/// What a deployment's report says for the wave's table.
fn summarize(report: &SimReport) -> WaveDeployment {
    let mut invocations = 0;
    let mut cold_starts = 0;
    let mut failed_checks = Vec::new();
    for timed in report.timeline.events() {
        if let TimelineEvent::HookAnswered {
            cold,
            checks,
            status,
            ..
        } = &timed.event
        {
            invocations += 1;
            cold_starts += usize::from(*cold);
            if matches!(status.as_str(), "FAILED" | "Failed") {
                failed_checks.extend(
                    checks
                        .iter()
                        .filter(|check| check.status != "pass")
                        .map(|check| format!("{}: {}", check.id, check.code)),
                );
            }
        }
    }
    WaveDeployment {
        name: report.scenario.clone(),
        final_status: report.final_status.clone(),
        time_to_verdict: report.timeline.span(),
        calls: report
            .calls_by_stage
            .iter()
            .filter(|(stage, _)| stage.as_str() != "before the deployment")
            .flat_map(|(_, calls)| calls.values())
            .sum(),
        invocations,
        cold_starts,
        failed_checks,
    }
}

/// How many deployments share one moto. moto is one Python process (one core at most); a hundred services'
/// calls through one would measure moto, not the account's limits, which the shared
/// [`AccountRateLimits`] enforce whichever moto answers.
const DEPLOYMENTS_PER_MOTO: usize = 10;

/// Rehearses `deployments` copies of `scenario` at once in one account: their worlds in a moto
/// per ten deployments (started with `options.python`), `limits` shared by every copy.
pub async fn run_wave(
    scenario: &Scenario,
    deployments: usize,
    limits: AccountRateLimits,
    options: &RunOptions,
) -> Result<Wave, String> {
    let gate = StartGate::new(deployments);
    // Each moto with its own turns: one world built at a time in it.
    let mut motos = Vec::new();
    for _ in 0..deployments.div_ceil(DEPLOYMENTS_PER_MOTO) {
        let moto = match &options.python {
            Some(python) => MotoServer::start_with(python).await,
            None => MotoServer::start().await,
        }
        .map_err(|error| format!("cannot start moto: {error}"))?;
        motos.push((Arc::new(moto), Arc::new(tokio::sync::Semaphore::new(1))));
    }
    let copies: Vec<(Scenario, RunOptions)> = (1..=deployments)
        .map(|index| {
            let mut options = options.clone();
            let (moto, turns) = motos
                .get((index - 1) / DEPLOYMENTS_PER_MOTO)
                .cloned()
                .unzip();
            options.shared_moto = moto;
            options.setup_turns = turns;
            options.rate_limits = Some(limits.clone());
            options.start_gate = Some(gate.clone());
            (copy_for(scenario, index), options)
        })
        .collect();
    let reports =
        futures::future::join_all(copies.iter().map(|(copy, options)| run(copy, options))).await;
    let runs = reports
        .into_iter()
        .zip(&copies)
        .map(|(report, (copy, _))| match report {
            Ok(report) => summarize(&report),
            Err(error) => WaveDeployment {
                name: copy.name.clone(),
                final_status: format!("NOT RUN: {}", error.message),
                time_to_verdict: Duration::ZERO,
                calls: 0,
                invocations: 0,
                cold_starts: 0,
                failed_checks: Vec::new(),
            },
        })
        .collect();
    Ok(Wave {
        deployments,
        runs,
        throttled: limits.throttled(),
        admitted: limits.admitted(),
    })
}

/// The release-day table: one row per wave, against `alone` (one deployment by itself).
pub fn table(scenario: &Scenario, alone: &Wave, waves: &[Wave]) -> String {
    let expected = scenario.expect.status.as_str();
    let baseline = alone.time_quantile(0.5).unwrap_or_default();
    let seconds = |time: Option<Duration>| {
        time.map_or_else(
            || "—".to_owned(),
            |time| format!("{:.1}", time.as_secs_f64()),
        )
    };
    let added = |time: Option<Duration>| {
        time.map_or_else(
            || "—".to_owned(),
            |time| {
                let added = time.as_secs_f64() - baseline.as_secs_f64();
                format!("{added:+.1}")
            },
        )
    };
    let mut text = format!(
        "scenario `{}` (expected: {expected}); one deployment alone: {} s to verdict, {:.0} AWS calls\n\n",
        scenario.name,
        seconds(Some(baseline)),
        alone.calls_per_deployment(),
    );
    text.push_str(
        "| deployments at once | ended as expected | wrong outcomes | not run | time to verdict p50 / p99 (s) | added p50 / p99 (s) | AWS calls per deployment | throttled calls | cold starts per deployment |\n|---|---|---|---|---|---|---|---|---|\n",
    );
    for wave in std::iter::once(alone).chain(waves) {
        let (p50, p99) = (wave.time_quantile(0.5), wave.time_quantile(0.99));
        let (wrong, not_run) = (wave.wrong_outcomes(expected), wave.not_run());
        text.push_str(&format!(
            "| {} | {} | {wrong} | {not_run} | {} / {} | {} / {} | {:.1} | {} | {:.1} |\n",
            wave.deployments,
            wave.runs.len() - wrong - not_run,
            seconds(p50),
            seconds(p99),
            added(p50),
            added(p99),
            wave.calls_per_deployment(),
            wave.throttles(),
            mean(wave.runs.iter().map(|run| run.cold_starts)),
        ));
    }
    for wave in std::iter::once(alone).chain(waves) {
        if !wave.throttled.is_empty() {
            let by_operation: Vec<String> = wave
                .throttled
                .iter()
                .map(|(operation, count)| format!("{operation} {count}"))
                .collect();
            text.push_str(&format!(
                "\n{} at once, throttled: {}",
                wave.deployments,
                by_operation.join(", ")
            ));
        }
        for run in wave.runs.iter().filter(|run| run.final_status != expected) {
            text.push_str(&format!(
                "\n{} at once: {} ended {} ({})",
                wave.deployments,
                run.name,
                run.final_status,
                run.failed_checks.join(", ")
            ));
        }
    }
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_renames_its_service_images_and_alarms_everywhere_they_are_named() {
        let text = "name: s\nservice: { cluster: c, name: web }\nrevisions:\n  blue: { image: { repository: web, tag: v1 } }\n  green: { image: { repository: web, tag: v2 } }\nworld:\n  alarms: [ { name: web-5xx, state: OK } ]\n  deployment_alarms: [web-5xx]\n  ssm_parameters: { /greenlight/secrets/c/web/key: v }\ndeployment:\n  strategy: BLUE_GREEN\n  lifecycleHooks:\n    - function: test-traffic\n      lifecycleStages: [POST_TEST_TRAFFIC_SHIFT]\n      hookDetails: { greenlight: { version: 1, stages: { POST_TEST_TRAFFIC_SHIFT: { checks: [ { alarms: { names: [web-5xx, other] } }, { http: { headers: { K: { ssm: /greenlight/secrets/c/web/key } } } } ] } } } }\nexpect: { status: SUCCESSFUL }\n";
        let scenario = Scenario::parse(text, "test").expect("a valid scenario");
        let copy = copy_for(&scenario, 7);
        assert_eq!(copy.name, "s-007");
        assert_eq!(copy.service.name, "web-007");
        assert_eq!(copy.service.cluster, "c", "one cluster, many services");
        assert_eq!(copy.revisions.green.image.repository, "web-007");
        assert_eq!(copy.world.alarms[0].name, "web-5xx-007");
        assert_eq!(copy.world.deployment_alarms, vec!["web-5xx-007"]);
        let details = copy.deployment.lifecycle_hooks[0]
            .hook_details
            .as_ref()
            .expect("details");
        assert_eq!(
            details["greenlight"]["stages"]["POST_TEST_TRAFFIC_SHIFT"]["checks"][0]["alarms"]["names"],
            serde_json::json!(["web-5xx-007", "other"])
        );
        assert_eq!(
            details["greenlight"]["stages"]["POST_TEST_TRAFFIC_SHIFT"]["checks"][1]["http"]["headers"]
                ["K"]["ssm"],
            "/greenlight/secrets/c/web-007/key"
        );
        assert!(
            copy.world
                .ssm_parameters
                .contains_key("/greenlight/secrets/c/web-007/key")
        );
    }

    #[test]
    fn the_table_counts_wrong_outcomes_and_quantiles() {
        let run = |status: &str, ms: u64| WaveDeployment {
            name: "s-001".into(),
            final_status: status.into(),
            time_to_verdict: Duration::from_millis(ms),
            calls: 40,
            invocations: 8,
            cold_starts: 4,
            failed_checks: vec!["alarms: ALARM_FIRING".into()],
        };
        let wave = |runs: Vec<WaveDeployment>| Wave {
            deployments: runs.len(),
            runs,
            throttled: BTreeMap::from([("ecs:ListTasks".to_owned(), 3)]),
            admitted: BTreeMap::new(),
        };
        let alone = wave(vec![run("SUCCESSFUL", 10_000)]);
        let busy = wave(vec![
            run("SUCCESSFUL", 11_000),
            run("ROLLBACK_SUCCESSFUL", 30_000),
            run("NOT RUN: moto", 0),
        ]);
        assert_eq!(busy.wrong_outcomes("SUCCESSFUL"), 1);
        assert_eq!(busy.not_run(), 1);
        // Three significant figures: the median of 11 s and 30 s is 11 s, within 0.1 %.
        let median = busy.time_quantile(0.5).expect("two ran").as_millis();
        assert!((11_000..=11_011).contains(&median), "{median}");
        let scenario = Scenario::parse(
            "name: s\nservice: { cluster: c, name: web }\nrevisions:\n  blue: { image: { repository: web, tag: v1 } }\n  green: { image: { repository: web, tag: v2 } }\ndeployment: { strategy: BLUE_GREEN, lifecycleHooks: [] }\nexpect: { status: SUCCESSFUL }\n",
            "test",
        )
        .expect("a valid scenario");
        let text = table(&scenario, &alone, &[busy]);
        assert!(text.contains("| 3 | 1 | 1 | 1 |"), "{text}");
        assert!(
            text.contains("ended ROLLBACK_SUCCESSFUL (alarms: ALARM_FIRING)"),
            "{text}"
        );
        assert!(text.contains("throttled: ecs:ListTasks 3"), "{text}");
    }
}
