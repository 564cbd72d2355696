//! The `http` check's traffic engine beside a load tool, at the same concurrency, against the same
//! local server.
//!
//! The server is a sample app answering 200 at once, in a process of its own (this binary's
//! `serve-app`), so that neither client shares a runtime with it. The check runs in process through
//! its public API (config → plan → `Check::run`), exactly the code a function runs, and its
//! requests per second are its requests over the time `run` took (client setup included). The
//! load tool (`wrk`, else `oha`) drives the same server with the same number of connections for
//! about as long. The two take turns for several rounds, so that both see the same machine; each
//! round gives a ratio, and the median ratio is the result.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use greenlight_aws::AwsClients;
use greenlight_aws::checks::CheckDeps;
use greenlight_aws::plan::build_plan;
use greenlight_core::config::{Config, ConfigSource};
use greenlight_core::engine::StageView;
use greenlight_core::engine::state::CheckMemory;
use greenlight_core::facts::{ServiceIdentity, StaticFacts};
use greenlight_core::stage::StageKey;
use greenlight_core::{LifecycleStage, Status};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::stats::round;

/// One client's run.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ClientRun {
    /// The client: `greenlight http check`, `wrk`, `oha`.
    pub client: String,
    /// Requests completed.
    pub requests: u64,
    /// How long the run took, in seconds.
    pub seconds: f64,
    /// Requests per second.
    pub requests_per_second: f64,
    /// Latency percentiles, in milliseconds.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
}

/// One round: the check's run, then the load tool's.
#[derive(Debug, Clone, Serialize)]
pub struct Round {
    /// The check's run.
    pub check: ClientRun,
    /// The load tool's run, when one ran.
    pub load_tool: Option<ClientRun>,
}

/// The comparison.
#[derive(Debug, Clone, Serialize)]
pub struct HttpResults {
    /// Connections (workers) both clients use.
    pub concurrency: u32,
    /// The check's runs, each figure the median over the rounds.
    pub check: ClientRun,
    /// The load tool's runs, each figure the median over the rounds, when it ran.
    pub load_tool: Option<ClientRun>,
    /// The median over the rounds of the check's throughput over the tool's.
    pub throughput_ratio: Option<f64>,
    /// The median over the rounds of the check's p99 over the tool's.
    pub p99_ratio: Option<f64>,
    /// Every round, in order.
    pub rounds: Vec<Round>,
    /// Why the load tool did not run.
    pub load_tool_skipped: Option<String>,
}

/// The sample app in a process of its own.
struct Server {
    child: Child,
    url: String,
}

async fn start_server() -> Result<Server, String> {
    let exe = std::env::current_exe().map_err(|error| format!("own path: {error}"))?;
    let mut child = Command::new(exe)
        .arg("serve-app")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|error| format!("cannot start the sample app: {error}"))?;
    let stdout = child.stdout.take().ok_or("the sample app has no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let first = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .map_err(|_| "the sample app did not say where it listens within 10 s".to_owned())?
        .map_err(|error| format!("reading the sample app's address: {error}"))?
        .ok_or("the sample app exited before listening")?;
    let address = first
        .strip_prefix("listening ")
        .ok_or_else(|| format!("the sample app said {first:?}, not `listening <address>`"))?;
    Ok(Server {
        child,
        url: format!("http://{address}/"),
    })
}

/// Runs the check once with `requests` requests; its run and the outcome's message.
async fn run_check(url: &str, requests: u32, concurrency: u32) -> Result<ClientRun, String> {
    let config = json!({
        "version": 1,
        "inherit_defaults": false,
        "stages": {
            "POST_TEST_TRAFFIC_SHIFT": [{
                "http": {
                    "target": "url",
                    "url": url,
                    "requests": requests,
                    "concurrency": concurrency,
                    "timeout": "5s",
                    "expect": { "status": "2xx", "max_error_rate": "0%" },
                },
            }],
        },
    });
    let config = Config::from_json_value(&config, ConfigSource::Inline)
        .map_err(|errors| format!("the benchmark's http check config: {errors}"))?;
    let stage = LifecycleStage::PostTestTrafficShift;
    let spec = config
        .stage_plan(&stage)
        .ok_or("the benchmark config has no POST_TEST_TRAFFIC_SHIFT plan")?;
    let sdk = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::from_static("us-east-1"))
        .build();
    let facts = StaticFacts::new(ServiceIdentity {
        partition: "aws".to_owned(),
        region: "us-east-1".to_owned(),
        account: "123456789012".to_owned(),
        cluster: "bench".to_owned(),
        service: "web".to_owned(),
        service_arn: "arn:aws:ecs:us-east-1:123456789012:service/bench/web".to_owned(),
    });
    let deps = CheckDeps::new(
        Arc::new(facts),
        AwsClients::from_conf(&sdk),
        reqwest::Client::new(),
    );
    let plan = build_plan(&spec, &deps);
    let check = &plan
        .checks
        .first()
        .ok_or("the benchmark plan has no check")?
        .check;
    let now = SystemTime::now();
    let view = StageView {
        key: StageKey {
            deployment: "bench".to_owned(),
            stage: stage.to_string(),
            step: None,
        },
        started_at: now,
        now,
        attempt: 1,
        memory: CheckMemory::default(),
        horizon: None,
    };
    let started = Instant::now();
    let outcome = check.run(&view).await;
    let seconds = started.elapsed().as_secs_f64();
    if outcome.status != Status::Pass {
        return Err(format!(
            "the http check did not pass against the local server: {} {}",
            outcome.code.code, outcome.message
        ));
    }
    let evidence = |measured: &str| {
        outcome
            .evidence
            .iter()
            .find(|evidence| evidence.measured == measured)
    };
    let latency = evidence("latency (ms)").ok_or("the http check gave no latency evidence")?;
    let answered = evidence("error rate of requests (%)")
        .and_then(|evidence| evidence.samples)
        .ok_or("the http check gave no request count")?;
    let at = |name: &str| latency.value[name].as_f64().unwrap_or(f64::NAN);
    Ok(ClientRun {
        client: "greenlight http check".to_owned(),
        requests: answered,
        seconds: round_seconds(seconds),
        requests_per_second: (answered as f64 / seconds).round(),
        p50_ms: at("p50"),
        p90_ms: at("p90"),
        p99_ms: at("p99"),
    })
}

fn round_seconds(seconds: f64) -> f64 {
    (seconds * 1000.0).round() / 1000.0
}

/// Finds the load tool: the one given, else `wrk`, else `oha` on the `PATH`.
pub fn find_load_tool(given: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(path) = given {
        return if path.is_file() {
            Ok(path.to_owned())
        } else {
            Err(format!("the load tool {} does not exist", path.display()))
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for tool in ["wrk", "oha"] {
        if let Some(found) = std::env::split_paths(&path)
            .map(|dir| dir.join(tool))
            .find(|candidate| candidate.is_file())
        {
            return Ok(found);
        }
    }
    Err(
        "neither wrk nor oha is installed (make bench installs one: wrk with apt-get as root, \
         else oha with cargo install)"
            .to_owned(),
    )
}

/// Runs the load tool against `url` with `concurrency` connections for `seconds`.
async fn run_load_tool(
    tool: &Path,
    url: &str,
    concurrency: u32,
    seconds: u64,
) -> Result<ClientRun, String> {
    let name = tool
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut command = Command::new(tool);
    let is_oha = name.starts_with("oha");
    if is_oha {
        command.args([
            "-c",
            &concurrency.to_string(),
            "-z",
            &format!("{seconds}s"),
            "--no-tui",
            "--output-format",
            "json",
            url,
        ]);
    } else {
        let threads = concurrency.clamp(1, 2);
        command.args([
            "-t",
            &threads.to_string(),
            "-c",
            &concurrency.to_string(),
            "-d",
            &format!("{seconds}s"),
            "--latency",
            url,
        ]);
    }
    let output = command
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|error| format!("cannot run {}: {error}", tool.display()))?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        return Err(format!(
            "{} failed ({}): {}{}",
            tool.display(),
            output.status,
            text,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    if is_oha {
        parse_oha(&text)
    } else {
        parse_wrk(&text)
    }
}

/// Reads wrk's `--latency` report.
pub fn parse_wrk(text: &str) -> Result<ClientRun, String> {
    let percentile = |wanted: &str| -> Result<f64, String> {
        text.lines()
            .map(str::trim)
            .find_map(|line| {
                let mut parts = line.split_whitespace();
                (parts.next() == Some(wanted))
                    .then(|| parts.next())
                    .flatten()
                    .and_then(wrk_millis)
            })
            .ok_or_else(|| format!("wrk printed no {wanted} latency:\n{text}"))
    };
    let p50_ms = percentile("50%")?;
    let p90_ms = percentile("90%")?;
    let p99_ms = percentile("99%")?;
    let field = |prefix: &str| {
        text.lines()
            .map(str::trim)
            .find_map(|line| line.strip_prefix(prefix))
            .map(str::trim)
    };
    let requests_per_second = field("Requests/sec:")
        .and_then(|value| value.parse::<f64>().ok())
        .ok_or_else(|| format!("wrk printed no Requests/sec:\n{text}"))?;
    // "12345 requests in 2.00s, 1.23MB read"
    let (requests, seconds) = text
        .lines()
        .map(str::trim)
        .find_map(|line| {
            let (count, rest) = line.split_once(" requests in ")?;
            let duration = rest.split(',').next()?;
            Some((
                count.trim().parse::<u64>().ok()?,
                wrk_millis(duration)? / 1000.0,
            ))
        })
        .ok_or_else(|| format!("wrk printed no request count:\n{text}"))?;
    if let Some(errors) = field("Non-2xx or 3xx responses:") {
        return Err(format!(
            "wrk saw {errors} non-2xx responses from the sample app"
        ));
    }
    Ok(ClientRun {
        client: "wrk".to_owned(),
        requests,
        seconds: round_seconds(seconds),
        requests_per_second: requests_per_second.round(),
        p50_ms: round(p50_ms),
        p90_ms: round(p90_ms),
        p99_ms: round(p99_ms),
    })
}

/// `635.00us`, `1.20ms`, `2.00s`, `1.50m` in milliseconds.
fn wrk_millis(value: &str) -> Option<f64> {
    let value = value.trim();
    let (number, scale) = if let Some(number) = value.strip_suffix("us") {
        (number, 0.001)
    } else if let Some(number) = value.strip_suffix("ms") {
        (number, 1.0)
    } else if let Some(number) = value.strip_suffix('s') {
        (number, 1000.0)
    } else if let Some(number) = value.strip_suffix('m') {
        (number, 60_000.0)
    } else {
        return None;
    };
    number.parse::<f64>().ok().map(|number| number * scale)
}

/// Reads oha's JSON report (seconds in `summary` and `latencyPercentiles`).
pub fn parse_oha(text: &str) -> Result<ClientRun, String> {
    let report: Value = serde_json::from_str(text)
        .map_err(|error| format!("oha's report is not JSON ({error})"))?;
    let seconds = report["summary"]["total"].as_f64();
    let rps = report["summary"]["requestsPerSec"].as_f64();
    let percentile = |name: &str| report["latencyPercentiles"][name].as_f64();
    let (Some(seconds), Some(rps), Some(p50), Some(p90), Some(p99)) = (
        seconds,
        rps,
        percentile("p50"),
        percentile("p90"),
        percentile("p99"),
    ) else {
        return Err(format!(
            "oha's report lacks the summary or percentiles: {text}"
        ));
    };
    Ok(ClientRun {
        client: "oha".to_owned(),
        requests: (rps * seconds).round() as u64,
        seconds: round_seconds(seconds),
        requests_per_second: rps.round(),
        p50_ms: round(p50 * 1000.0),
        p90_ms: round(p90 * 1000.0),
        p99_ms: round(p99 * 1000.0),
    })
}

/// The comparison: a warm-up run of the check, then `rounds` rounds of the check's run followed by
/// the load tool's.
pub async fn run(
    requests: u32,
    concurrency: u32,
    rounds: u32,
    load_tool: Result<PathBuf, String>,
) -> Result<HttpResults, String> {
    let mut server = start_server().await?;
    let result = async {
        run_check(&server.url, requests.min(1000), concurrency).await?;
        let mut done = Vec::new();
        for _ in 0..rounds.max(1) {
            let check = run_check(&server.url, requests, concurrency).await?;
            let load_tool = match &load_tool {
                Ok(tool) => {
                    // About as long as the check ran (the tools count whole seconds).
                    let seconds = (check.seconds.ceil() as u64).max(1);
                    Some(run_load_tool(tool, &server.url, concurrency, seconds).await?)
                }
                Err(_) => None,
            };
            done.push(Round { check, load_tool });
        }
        let checks: Vec<&ClientRun> = done.iter().map(|round| &round.check).collect();
        let tools: Vec<&ClientRun> = done
            .iter()
            .filter_map(|round| round.load_tool.as_ref())
            .collect();
        let per_round = |figure: fn(&ClientRun) -> f64| {
            median(
                done.iter()
                    .filter_map(|round| {
                        let tool = round.load_tool.as_ref()?;
                        crate::stats::ratio(figure(&round.check), figure(tool))
                    })
                    .collect(),
            )
        };
        Ok(HttpResults {
            concurrency,
            check: median_run(&checks).ok_or("the http check made no run")?,
            load_tool: median_run(&tools),
            throughput_ratio: per_round(|run| run.requests_per_second),
            p99_ratio: per_round(|run| run.p99_ms),
            rounds: done,
            load_tool_skipped: load_tool.err(),
        })
    }
    .await;
    let _ = server.child.kill().await;
    result
}

/// The median of `values` (the lower middle one for an even count, so it is a value seen), rounded
/// to hundredths.
fn median(mut values: Vec<f64>) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let middle = values.len().checked_sub(1)? / 2;
    values
        .get(middle)
        .map(|value| (value * 100.0).round() / 100.0)
}

/// One client's runs as one: each figure the median over the runs.
fn median_run(runs: &[&ClientRun]) -> Option<ClientRun> {
    let first = runs.first()?;
    let of = |figure: fn(&ClientRun) -> f64| {
        let mut values: Vec<f64> = runs.iter().map(|run| figure(run)).collect();
        values.sort_by(f64::total_cmp);
        values[(values.len() - 1) / 2]
    };
    Some(ClientRun {
        client: first.client.clone(),
        requests: of(|run| run.requests as f64) as u64,
        seconds: of(|run| run.seconds),
        requests_per_second: of(|run| run.requests_per_second),
        p50_ms: of(|run| run.p50_ms),
        p90_ms: of(|run| run.p90_ms),
        p99_ms: of(|run| run.p99_ms),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const WRK: &str = "Running 2s test @ http://127.0.0.1:40000/
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   610.12us  300.00us   5.00ms   90.00%
    Req/Sec    12.00k     1.00k   14.00k    70.00%
  Latency Distribution
     50%  550.00us
     75%  700.00us
     90%  900.00us
     99%    1.50ms
  48000 requests in 2.00s, 6.00MB read
Requests/sec:  24000.50
Transfer/sec:      3.00MB
";

    #[test]
    fn wrk_report_is_read() {
        let run = parse_wrk(WRK).expect("parsed");
        assert_eq!(run.requests, 48000);
        assert_eq!(run.seconds, 2.0);
        assert_eq!(run.requests_per_second, 24001.0);
        assert_eq!((run.p50_ms, run.p90_ms, run.p99_ms), (0.6, 0.9, 1.5));
    }

    #[test]
    fn wrk_errors_are_not_throughput() {
        let with_errors = WRK.replace(
            "Requests/sec:",
            "  Non-2xx or 3xx responses: 12\nRequests/sec:",
        );
        assert!(
            parse_wrk(&with_errors)
                .expect_err("errors")
                .contains("12 non-2xx")
        );
    }

    #[test]
    fn a_truncated_wrk_report_is_an_error() {
        assert!(parse_wrk("Running 2s test").is_err());
    }

    #[test]
    fn oha_report_is_read() {
        let report = json!({
            "summary": { "total": 2.0, "requestsPerSec": 20000.4 },
            "latencyPercentiles": { "p50": 0.0005, "p90": 0.0009, "p99": 0.002 },
        })
        .to_string();
        let run = parse_oha(&report).expect("parsed");
        assert_eq!(run.requests, 40001);
        assert_eq!((run.p50_ms, run.p90_ms, run.p99_ms), (0.5, 0.9, 2.0));
    }

    fn client_run(rps: f64, p99: f64) -> ClientRun {
        ClientRun {
            client: "c".to_owned(),
            requests: 100,
            seconds: 1.0,
            requests_per_second: rps,
            p50_ms: 0.5,
            p90_ms: 0.9,
            p99_ms: p99,
        }
    }

    #[test]
    fn each_figure_of_several_runs_is_its_median() {
        let runs = [
            client_run(300.0, 1.0),
            client_run(100.0, 3.0),
            client_run(200.0, 2.0),
        ];
        let merged = median_run(&runs.iter().collect::<Vec<_>>()).expect("runs");
        assert_eq!((merged.requests_per_second, merged.p99_ms), (200.0, 2.0));
        assert_eq!(median(vec![3.0, 1.0, 2.0, 4.0]), Some(2.0));
        assert_eq!(median(Vec::new()), None);
    }

    #[test]
    fn wrk_units_are_converted() {
        assert_eq!(wrk_millis("250.00us"), Some(0.25));
        assert_eq!(wrk_millis("2.00s"), Some(2000.0));
        assert_eq!(wrk_millis("12"), None);
    }
}
