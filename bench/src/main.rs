//! `greenlight-bench`, which `make bench` runs: greenlight's functions measured beside a Python
//! reference hook, in one process and one run, against moto and local servers.
//!
//! It prints a table of the plan's targets (met or missed, by how much and why) and every
//! measurement behind them, and writes the same as JSON (`bench/results.json`). bench/README.md
//! says what each figure means and how the critical path is derived. No timing here is asserted by
//! any test: the machine is shared and noisy.

mod calls;
mod hooks;
mod http;
mod report;
mod stats;
mod zips;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use clap::{Parser, Subcommand};

/// The workspace root, where the reference, `.venv` and `target/lambda` are.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_owned)
}

#[derive(Parser, Debug)]
#[command(
    name = "greenlight-bench",
    about = "Benchmarks greenlight's functions beside a Python reference hook"
)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// Where to write the results as JSON.
    #[arg(long, default_value = "bench/results.json")]
    json: PathBuf,
    /// Cold starts per function (and for the reference).
    #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u32).range(1..=1000))]
    cold_rounds: u32,
    /// Warm POST_SCALE_UP invocations per function.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    warm: u32,
    /// Invocations of the six-check plan per injected latency.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100))]
    latency_runs: u32,
    /// Injected AWS latencies per call, in milliseconds (besides none).
    #[arg(long, value_delimiter = ',', default_value = "20,100")]
    latency_ms: Vec<u64>,
    /// Requests of the http check's measured run.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(100..=10_000))]
    http_requests: u32,
    /// Rounds of the http comparison (the check's run, then the load tool's).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=50))]
    http_rounds: u32,
    /// Connections of the http check and the load tool alike.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=64))]
    concurrency: u32,
    /// The load tool (wrk or oha); default: wrk, else oha, on the PATH.
    #[arg(long)]
    load_tool: Option<PathBuf>,
    /// Where the function binaries are; default: beside this binary (target/release).
    #[arg(long)]
    functions_dir: Option<PathBuf>,
    /// The Python interpreter with boto3 for the reference; default: $GREENLIGHT_PYTHON, else
    /// .venv/bin/python.
    #[arg(long)]
    python: Option<PathBuf>,
    /// Where `make package` puts the zips.
    #[arg(long)]
    zips_dir: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the benchmark's sample app (answers 200 at once) until stdin closes; prints
    /// `listening <address>` first. The http comparison runs it in a process of its own.
    #[command(hide = true)]
    ServeApp,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("greenlight-bench: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = match args.command {
        Some(Command::ServeApp) => runtime.block_on(serve_app()),
        None => runtime.block_on(bench(&args)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("greenlight-bench: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn serve_app() -> Result<(), String> {
    use greenlight_sim::app::{AppBehaviour, LatencyProfile, SampleApp};
    use tokio::io::AsyncReadExt;
    let app = SampleApp::start(AppBehaviour {
        latency: LatencyProfile {
            base: Duration::ZERO,
            jitter: Duration::ZERO,
            slow_fraction: 0.0,
            slow: Duration::ZERO,
        },
        ..AppBehaviour::version("bench")
    })
    .await
    .map_err(|error| format!("cannot start the sample app: {error}"))?;
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "listening {}", app.addr())
            .and_then(|()| stdout.flush())
            .map_err(|error| format!("cannot write the address: {error}"))?;
    }
    // Serve until the benchmark closes stdin (or dies).
    let mut sink = Vec::new();
    let _ = tokio::io::stdin().read_to_end(&mut sink).await;
    drop(app);
    Ok(())
}

async fn bench(args: &Args) -> Result<(), String> {
    let root = workspace_root();
    let functions_dir = match &args.functions_dir {
        Some(dir) => dir.clone(),
        None => std::env::current_exe()
            .map_err(|error| format!("own path: {error}"))?
            .parent()
            .map(Path::to_owned)
            .ok_or("this binary has no directory")?,
    };
    let python = args
        .python
        .clone()
        .or_else(|| std::env::var_os("GREENLIGHT_PYTHON").map(PathBuf::from))
        .unwrap_or_else(|| root.join(".venv/bin/python"));
    if !python.is_file() {
        return Err(format!(
            "the Python interpreter {} does not exist: run `make moto` (the reference needs boto3, \
             which comes with moto)",
            python.display()
        ));
    }
    let python_bin_dir = python
        .parent()
        .map(Path::to_owned)
        .ok_or("the Python interpreter has no directory")?;
    let hook_options = hooks::HookOptions {
        cold_rounds: args.cold_rounds as usize,
        warm: args.warm as usize,
        latency_runs: args.latency_runs as usize,
        latencies: args
            .latency_ms
            .iter()
            .filter(|ms| **ms > 0)
            .map(|ms| Duration::from_millis(*ms))
            .collect(),
        functions_dir,
        reference_dir: root.join("bench/reference"),
        python_bin_dir,
    };

    progress("hooks: cold starts, POST_SCALE_UP, memory, six checks under latency, AWS calls");
    let hooks = hooks::run(&hook_options).await?;
    progress("http: the check's traffic engine vs the load tool");
    let load_tool = http::find_load_tool(args.load_tool.as_deref());
    let http = http::run(
        args.http_requests,
        args.concurrency,
        args.http_rounds,
        load_tool,
    )
    .await;
    let zips = zips::measure(
        &args
            .zips_dir
            .clone()
            .unwrap_or_else(|| root.join("target/lambda")),
    );
    let targets = report::targets(&hooks, &http, &zips);
    let results = report::Results {
        finished_unix: SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|since| since.as_secs())
            .unwrap_or_default(),
        machine: machine(),
        hooks,
        http,
        zips,
        targets,
    };
    let text = report::render(&results);
    {
        let mut stdout = std::io::stdout().lock();
        stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush())
            .map_err(|error| format!("cannot print the table: {error}"))?;
    }
    let json = serde_json::to_string_pretty(&results)
        .map_err(|error| format!("cannot encode the results: {error}"))?;
    if let Some(dir) = args.json.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|error| format!("cannot create {}: {error}", dir.display()))?;
    }
    std::fs::write(&args.json, json + "\n")
        .map_err(|error| format!("cannot write {}: {error}", args.json.display()))?;
    eprintln!(
        "greenlight-bench: results written to {}",
        args.json.display()
    );
    Ok(())
}

fn progress(what: &str) {
    eprintln!("greenlight-bench: {what} ...");
}

/// The machine in a line: cores and OS, so figures from different machines are not confused.
fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|line| line.strip_prefix("model name"))
                .map(|rest| rest.trim_start_matches([' ', '\t', ':']).trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    format!("{cores} cores, {cpu}, {}", std::env::consts::ARCH)
}
