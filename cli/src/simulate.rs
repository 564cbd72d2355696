//! `greenlight simulate`: rehearse a deployment locally and show what greenlight would do.
//!
//! The scenario file says what is deployed, what the world does and what must come of it; the
//! rehearsal runs the real function binaries against a local AWS (moto) with real HTTP traffic,
//! prints the timeline, writes the JSON and HTML reports when asked, and exits:
//! - 0 when the scenario's expectations were met, whatever the deployment's outcome (a scenario
//!   that expects a rollback passes when it rolls back);
//! - 1 when they were not, or when the rehearsal could not run (moto or a function binary missing);
//! - 2 when the scenario file is invalid (the message names the line and field).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use greenlight_sim::report::{html, json, text};
use greenlight_sim::scenario::Scenario;
use greenlight_sim::scenario::format::Controller;
use greenlight_sim::timeline::SimReport;

use crate::Exit;

/// The arguments of `greenlight simulate`.
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// The scenario file (YAML; see docs/scenarios.md).
    #[arg(long, value_name = "FILE")]
    pub scenario: PathBuf,
    /// Also write the report as JSON to this file.
    #[arg(long, value_name = "REPORT")]
    pub json: Option<PathBuf>,
    /// Also write the timeline as an HTML page (with an SVG picture) to this file.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Print only how the deployment ended and whether the expectations were met.
    #[arg(long)]
    pub quiet: bool,
    /// Only check the scenario file; rehearse nothing.
    #[arg(long)]
    pub validate: bool,
    /// When to colour the timeline (`auto`: on a terminal, unless NO_COLOR is set).
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
    /// The function binaries and moto the rehearsal runs.
    #[command(flatten)]
    pub parts: RehearsalParts,
}

/// What a rehearsal runs besides itself, as `simulate`, `campaign` and `release-day` take it.
#[derive(Debug, Default, Args)]
pub struct RehearsalParts {
    /// The directory holding the function binaries (`pre-scale-up`, …, `codedeploy-hook`).
    /// Default: a release archive's `lib/greenlight/functions`, else beside this executable (a
    /// cargo build).
    #[arg(long, value_name = "DIR")]
    pub functions_dir: Option<PathBuf>,
    /// A Python interpreter with `moto[server]`, the local AWS. Default: GREENLIGHT_PYTHON, else a
    /// release archive's `lib/greenlight/moto` (made by its `install-moto`), else the checkout's
    /// `.venv`.
    #[arg(long, value_name = "PYTHON")]
    pub python: Option<PathBuf>,
}

/// Where a release archive keeps what `simulate` runs, relative to its root (`bin/greenlight`'s
/// parent's parent): `lib/greenlight/functions/` and `lib/greenlight/moto/bin/python`.
fn in_archive(relative: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let path = exe.parent()?.parent()?.join(relative);
    path.exists().then_some(path)
}

/// The run options `parts` ask for: flags first, then the environment, then a release archive's
/// own layout, then the checkout's build (the simulator's defaults).
pub(crate) fn run_options(parts: &RehearsalParts) -> greenlight_sim::scenario::RunOptions {
    let RehearsalParts {
        functions_dir,
        python,
    } = parts;
    let functions_dir = functions_dir.clone();
    let python = python
        .clone()
        .or_else(|| {
            std::env::var_os(greenlight_sim::moto::PYTHON_ENV)
                .filter(|python| !python.is_empty())
                .map(PathBuf::from)
        })
        .or_else(|| in_archive("lib/greenlight/moto/bin/python"));
    greenlight_sim::scenario::RunOptions {
        functions_dir: functions_dir.or_else(|| in_archive("lib/greenlight/functions")),
        python,
        ..greenlight_sim::scenario::RunOptions::default()
    }
}

/// When to colour the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Color {
    /// On a terminal, unless NO_COLOR is set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

impl Color {
    /// How to render the timeline on stdout.
    pub fn text_options(self) -> text::TextOptions {
        text::TextOptions {
            color: match self {
                Color::Always => true,
                Color::Never => false,
                Color::Auto => text::TextOptions::for_output(std::io::stdout().is_terminal()).color,
            },
        }
    }
}

/// Runs `greenlight simulate`.
pub fn simulate(
    args: &SimulateArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<Exit> {
    let scenario = match Scenario::load(&args.scenario) {
        Ok(scenario) => scenario,
        Err(error) => {
            writeln!(err, "{error}")?;
            writeln!(
                err,
                "greenlight: {} is not a valid scenario (the format: docs/scenarios.md)",
                args.scenario.display()
            )?;
            return Ok(Exit::Usage);
        }
    };
    let (how, hook_kind) = match scenario.deployment.controller {
        Controller::Ecs => (scenario.deployment.strategy.as_str(), "lifecycle"),
        Controller::CodeDeploy => ("CODE_DEPLOY", "AppSpec"),
    };
    if args.validate {
        let hooks = scenario.deployment.hook_count();
        writeln!(
            out,
            "{}: valid (scenario {:?}, {how}, {hooks} {hook_kind} {}, expects {})",
            args.scenario.display(),
            scenario.name,
            if hooks == 1 { "hook" } else { "hooks" },
            scenario.expect.status
        )?;
        return Ok(Exit::Success);
    }

    writeln!(
        err,
        "greenlight: rehearsing {:?} ({how}): starting a local AWS, the load balancer, the apps and the functions…",
        scenario.name,
    )?;
    let report = match rehearse(&scenario, &run_options(&args.parts)) {
        Ok(report) => report,
        Err(error) => {
            writeln!(
                err,
                "greenlight: the rehearsal of {} could not run: {error}",
                args.scenario.display()
            )?;
            return Ok(Exit::Failure);
        }
    };
    present(&report, args, out, err)
}

/// Prints the report, writes the files asked for, and says whether the expectations held.
pub fn present(
    report: &SimReport,
    args: &SimulateArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<Exit> {
    let options = args.color.text_options();
    if args.quiet {
        writeln!(out, "{}", greenlight_sim::report::outcome_sentence(report))?;
        let met = report
            .expectations
            .iter()
            .filter(|expectation| expectation.met)
            .count();
        writeln!(
            out,
            "Expectations: {met} of {} met",
            report.expectations.len()
        )?;
        for expectation in report
            .expectations
            .iter()
            .filter(|expectation| !expectation.met)
        {
            writeln!(
                out,
                "  ✗ {}: expected {}, got {}",
                expectation.what, expectation.expected, expectation.actual
            )?;
        }
    } else {
        out.write_all(text::render(report, options).as_bytes())?;
    }

    let written_ok = write_reports(report, args.json.as_deref(), args.html.as_deref(), out, err)?;
    Ok(if report.expectations_met() && written_ok {
        Exit::Success
    } else {
        Exit::Failure
    })
}

/// Writes the JSON report and the HTML timeline where asked, saying where; whether both were
/// written.
pub fn write_reports(
    report: &SimReport,
    json_path: Option<&Path>,
    html_path: Option<&Path>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<bool> {
    let mut written_ok = true;
    if let Some(path) = json_path {
        let written = json::render(report)
            .map_err(std::io::Error::other)
            .and_then(|text| write_file(path, &text));
        written_ok &= announce(path, "JSON report", written, out, err)?;
    }
    if let Some(path) = html_path {
        let written = write_file(path, &html::render(report));
        written_ok &= announce(path, "HTML timeline", written, out, err)?;
    }
    Ok(written_ok)
}

fn announce(
    path: &Path,
    what: &str,
    written: std::io::Result<()>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<bool> {
    match written {
        Ok(()) => {
            writeln!(out, "{what}: {}", path.display())?;
            Ok(true)
        }
        Err(error) => {
            writeln!(
                err,
                "greenlight: cannot write the {what} to {}: {error}",
                path.display()
            )?;
            Ok(false)
        }
    }
}

fn write_file(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(parent) = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, text)
}

/// Runs the scenario on a runtime of its own: the command is synchronous, the rehearsal is not.
fn rehearse(
    scenario: &Scenario,
    options: &greenlight_sim::scenario::RunOptions,
) -> Result<SimReport, String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| format!("cannot start the async runtime: {error}"))?;
    runtime
        .block_on(greenlight_sim::scenario::run(scenario, options))
        .map_err(|error| error.to_string())
}
