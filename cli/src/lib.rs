//! The `greenlight` command for service teams.
//!
//! - `greenlight config validate FILE...` checks config files the way the functions will, and
//!   prints every error as `FILE:LINE:COLUMN: FIELD: what is wrong and what is allowed`. With
//!   `--codedeploy` it also rejects plans of CodeDeploy-mapped stages that cannot report within
//!   CodeDeploy's one-hour hook limit. For each error-rate `compare` it says which baseline the
//!   stage uses and, given `--requests-per-minute` (and `--green-percent`), warns when green
//!   cannot reach `min_requests` in the stage's time.
//! - `greenlight config schema` prints the config's JSON Schema, for editors.
//! - `greenlight checks` lists the checks; `greenlight iam` says which IAM actions each check
//!   needs from which stage, and so what each function's role must grant (JSON for the template's
//!   IAM test, `infra/iam/needs.json`; Markdown for the infrastructure README).
//! - `greenlight codes` lists the reason codes greenlight can emit, with what each means and how
//!   to fix it.
//! - `greenlight simulate --scenario FILE` rehearses a deployment locally (the real functions
//!   against a local AWS, with real traffic) and prints its timeline; see [`simulate`].
//! - `greenlight campaign` and `greenlight release-day` rehearse under seeded faults and under one
//!   account's API limits with many deployments at once.
//! - `greenlight status --cluster C --service S` prints a real deployment's timeline the same
//!   way, from ECS and the functions' summary lines in CloudWatch Logs; see [`status`].
//!
//! The command is a library function, [`run`], writing to the streams it is given, so tests call
//! it in-process and `main` stays three lines.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use greenlight_core::catalogue::{
    CODEDEPLOY_HOOKS, EVERY_FUNCTION, checks_markdown_table, codes_markdown_table, functions_iam,
    iam_markdown_table, registry,
};
use greenlight_core::config::{
    Config, ConfigFormat, ConfigReference, ConfigSource, FileReader, StageOrigin, json_schema,
};
use greenlight_core::reason::ReasonCode;

pub mod campaign;
pub mod codedeploy_group;
pub mod decide;
pub mod doctor;
pub mod release_day;
pub mod simulate;
pub mod status;

/// How the command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything checked out.
    Success,
    /// Something was invalid or unreadable (a config error, a file that is not there).
    Failure,
    /// The command line itself was wrong.
    Usage,
}

impl Exit {
    /// The process exit code: 0, 1 or 2.
    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Failure => 1,
            Exit::Usage => 2,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit.code())
    }
}

/// Lint and inspect greenlight configs.
#[derive(Debug, Parser)]
#[command(name = "greenlight", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate config files and print the config's JSON Schema.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// List the checks a config can ask for, with their reason codes and IAM actions.
    Checks {
        /// How to print them: the README's Markdown table, or JSON (kind, summary, reason codes
        /// and IAM actions of each check) for tools such as the IAM policy tests.
        #[arg(long, value_enum, default_value_t = ChecksFormat::Markdown)]
        format: ChecksFormat,
    },
    /// Say which IAM actions each check needs from which stage, and what each function's role
    /// must therefore grant.
    Iam {
        /// How to print it: JSON (what the template's IAM test reads, `infra/iam/needs.json`) or
        /// the infrastructure README's Markdown table.
        #[arg(long, value_enum, default_value_t = IamFormat::Json)]
        format: IamFormat,
    },
    /// Rehearse a deployment locally and print its timeline (exit 0 when the scenario's
    /// expectations are met, 1 when not, 2 when the scenario file is invalid).
    Simulate(simulate::SimulateArgs),
    /// Rehearse scenarios many times under seeded random faults (throttling, 5xx, dropped
    /// connections, latency, denials) and check greenlight's promises on every run (exit 0 when
    /// none broke, 1 when one did, naming the seed to replay).
    Campaign(campaign::CampaignArgs),
    /// Rehearse many services deploying at once in one account, against the API rate limits AWS
    /// documents, and report false rollbacks, added time to verdict, calls and throttles (exit 0
    /// when every deployment ended as its scenario expects).
    ReleaseDay(release_day::ReleaseDayArgs),
    /// Print a real deployment's timeline: ECS's record of it and the functions' summary lines
    /// from CloudWatch Logs, rendered as the rehearsal renders (read-only; exit 1 when something
    /// cannot be read, naming the permission).
    Status(status::StatusArgs),
    /// Check a service's wiring against the live account before its first greenlight deployment:
    /// a checklist with a fix for each problem (read-only; exit 0 when ready, 1 when not).
    Doctor(doctor::DoctorArgs),
    /// Continue a deployment paused by an ECS PAUSE lifecycle hook, after showing greenlight's
    /// evidence for it (refused without evidence, or over a FAILED greenlight answer, unless
    /// --force; exit 0 when ECS took the answer, 1 when nothing was answered).
    Approve(decide::DecideArgs),
    /// Roll back a deployment paused by an ECS PAUSE lifecycle hook, after showing greenlight's
    /// evidence when it can be read (never held back by it).
    Reject(decide::DecideArgs),
    /// List the reason codes greenlight can emit.
    Codes {
        /// How to print them.
        #[arg(long, value_enum, default_value_t = CodesFormat::Table)]
        format: CodesFormat,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Check config files as the functions will; exit 1 if any is invalid.
    Validate {
        /// Config files (YAML, or JSON when the name ends in .json).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Also require that every CodeDeploy hook's plan (bake + longest max_wait) can report
        /// within CodeDeploy's one-hour hook limit.
        #[arg(long)]
        codedeploy: bool,
        /// The service's production requests a minute: each error-rate `compare` then says
        /// whether green can reach `min_requests` in its stage's bake and `max_wait`, and warns
        /// when not.
        #[arg(long, value_name = "N")]
        requests_per_minute: Option<f64>,
        /// Green's share of production at PRODUCTION_TRAFFIC_SHIFT (a canary's or a linear
        /// step's percentage; default 100). POST_PRODUCTION_TRAFFIC_SHIFT is always 100.
        #[arg(long, value_name = "PERCENT", default_value_t = 100.0)]
        green_percent: f64,
    },
    /// Print the JSON Schema of the config, for editors.
    Schema,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ChecksFormat {
    /// The Markdown table of the README.
    Markdown,
    /// A JSON array with one object per check.
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum IamFormat {
    /// Every function's stages and actions, and every check's needs.
    Json,
    /// The infrastructure README's table of every check's needs.
    Markdown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum CodesFormat {
    /// Aligned text for a terminal.
    Table,
    /// The Markdown table of the README.
    Markdown,
    /// A JSON array of objects.
    Json,
}

/// Writes `value` as pretty JSON to `path` for `command`'s `--json`; `false` (said on `err`) when it
/// cannot be serialized or written.
pub(crate) fn write_json_file(
    command: &str,
    path: &std::path::Path,
    value: &impl serde::Serialize,
    err: &mut dyn Write,
) -> std::io::Result<bool> {
    let written = serde_json::to_string_pretty(value)
        .map_err(std::io::Error::other)
        .and_then(|text| std::fs::write(path, text));
    if let Err(error) = written {
        writeln!(
            err,
            "greenlight {command}: cannot write {}: {error}",
            path.display()
        )?;
        return Ok(false);
    }
    Ok(true)
}

/// The runtime the AWS-reading commands (`status`, `doctor`) run on; `None` (said on `err`) when
/// it cannot start.
pub(crate) fn async_runtime(
    err: &mut dyn Write,
) -> std::io::Result<Option<tokio::runtime::Runtime>> {
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => Ok(Some(runtime)),
        Err(error) => {
            writeln!(err, "greenlight: cannot start the async runtime: {error}")?;
            Ok(None)
        }
    }
}

/// Runs the command line `args` (the program name first), writing output to `out` and
/// diagnostics to `err`.
pub fn run<I, T>(args: I, out: &mut dyn Write, err: &mut dyn Write) -> Exit
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) => {
            // `--help` and `--version` are not errors; clap says which stream each belongs on.
            let text = error.render().to_string();
            let (written, exit) = if error.use_stderr() {
                (err.write_all(text.as_bytes()), Exit::Usage)
            } else {
                (out.write_all(text.as_bytes()), Exit::Success)
            };
            return if written.is_ok() { exit } else { Exit::Failure };
        }
    };
    let result = match cli.command {
        Command::Config {
            command:
                ConfigCommand::Validate {
                    files,
                    codedeploy,
                    requests_per_minute,
                    green_percent,
                },
        } => {
            let traffic = Traffic {
                requests_per_minute,
                green_percent,
            };
            validate(&files, codedeploy, traffic, out, err)
        }
        Command::Config {
            command: ConfigCommand::Schema,
        } => schema(out),
        Command::Checks {
            format: ChecksFormat::Json,
        } => checks_json(out).map(|()| Exit::Success),
        Command::Checks {
            format: ChecksFormat::Markdown,
        } => out
            .write_all(checks_markdown_table().as_bytes())
            .map(|()| Exit::Success),
        Command::Iam {
            format: IamFormat::Json,
        } => iam_json(out).map(|()| Exit::Success),
        Command::Iam {
            format: IamFormat::Markdown,
        } => out
            .write_all(iam_markdown_table().as_bytes())
            .map(|()| Exit::Success),
        Command::Codes { format } => codes(format, out),
        Command::Simulate(args) => simulate::simulate(&args, out, err),
        Command::Campaign(args) => campaign::campaign(&args, out, err),
        Command::ReleaseDay(args) => release_day::release_day(&args, out, err),
        Command::Status(args) => status::status(&args, out, err),
        Command::Doctor(args) => doctor::doctor(&args, out, err),
        Command::Approve(args) => decide::decide(&args, decide::Decision::Approve, out, err),
        Command::Reject(args) => decide::decide(&args, decide::Decision::Reject, out, err),
    };
    // A closed pipe (`greenlight codes | head`) ends the command; there is no one left to tell.
    result.unwrap_or(Exit::Failure)
}

/// The traffic `config validate` was told to expect.
#[derive(Debug, Clone, Copy)]
struct Traffic {
    requests_per_minute: Option<f64>,
    green_percent: f64,
}

fn validate(
    files: &[PathBuf],
    codedeploy: bool,
    traffic: Traffic,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<Exit> {
    let reader = FileReader::new();
    let mut invalid_files = 0;
    let mut error_count = 0;
    for path in files {
        let source = ConfigSource::Reference(ConfigReference::File(path.clone()));
        let text = match reader.read_path(path) {
            Ok(text) => text,
            Err(error) => {
                writeln!(out, "{}: could not read: {error}", path.display())?;
                invalid_files += 1;
                error_count += 1;
                continue;
            }
        };
        match Config::parse(&text, ConfigFormat::for_path(path), source) {
            Ok(config) if codedeploy => {
                let problems = greenlight_core::codedeploy_hook::codedeploy_limit_problems(&config);
                if problems.is_empty() {
                    writeln!(
                        out,
                        "{}: valid for CodeDeploy ({})",
                        path.display(),
                        describe(&config)
                    )?;
                } else {
                    invalid_files += 1;
                    error_count += problems.len();
                    for problem in &problems {
                        writeln!(out, "{}: {problem}", path.display())?;
                    }
                }
            }
            Ok(config) => {
                writeln!(out, "{}: valid ({})", path.display(), describe(&config))?;
                for note in compare_notes(&config, traffic) {
                    writeln!(out, "{}: {note}", path.display())?;
                }
            }
            Err(errors) => {
                invalid_files += 1;
                error_count += errors.len();
                for error in &errors {
                    writeln!(out, "{error}")?;
                }
            }
        }
    }
    if invalid_files == 0 {
        return Ok(Exit::Success);
    }
    writeln!(
        err,
        "greenlight: {error_count} {} in {invalid_files} of {} {}",
        plural(error_count, "error", "errors"),
        files.len(),
        plural(files.len(), "file", "files")
    )?;
    Ok(Exit::Failure)
}

/// `stages: POST_SCALE_UP, PRODUCTION_TRAFFIC_SHIFT; built-in: …`.
fn describe(config: &Config) -> String {
    let names = |origin| {
        let names: Vec<&str> = config
            .stages_from(origin)
            .map(|stage| stage.as_str())
            .collect();
        if names.is_empty() {
            "none".to_owned()
        } else {
            names.join(", ")
        }
    };
    let own = format!("stages: {}", names(StageOrigin::Config));
    if config.inherit_defaults {
        format!("{own}; built-in: {}", names(StageOrigin::Builtin))
    } else {
        format!("{own}; built-in plans off")
    }
}

/// Two lines per error-rate `compare`: which baseline it will use, and whether the traffic can
/// reach `min_requests` in the stage's time (a warning when it cannot).
fn compare_notes(config: &Config, traffic: Traffic) -> Vec<String> {
    use greenlight_core::checks::compare::latency::threshold_note;
    use greenlight_core::checks::compare::{baseline_note, traffic_note};
    use greenlight_core::checks::{CheckKind, CompareMetric};
    use greenlight_core::stage::LifecycleStage;
    let mut notes = Vec::new();
    for plan in config
        .stages
        .keys()
        .filter_map(|stage| config.stage_plan(stage))
    {
        // Production reaches green from PRODUCTION_TRAFFIC_SHIFT on; earlier stages see test
        // traffic only, which the flags do not describe.
        let share = match plan.stage {
            LifecycleStage::ProductionTrafficShift => {
                Some(traffic.green_percent.clamp(0.0, 100.0) / 100.0)
            }
            LifecycleStage::PostProductionTrafficShift => Some(1.0),
            _ => None,
        };
        for check in &plan.checks {
            let CheckKind::Compare(params) = &check.kind else {
                continue;
            };
            let name = format!("{} {}", plan.stage.as_str(), check.id);
            notes.push(format!("{name}: baseline {}", baseline_note(&plan.stage)));
            if params.metric == CompareMetric::Latency {
                notes.push(format!("{name}: {}", threshold_note(params)));
            }
            let (warning, sentence) = traffic_note(
                params,
                plan.bake.unwrap_or_default(),
                check.policy.max_wait,
                traffic
                    .requests_per_minute
                    .zip(share)
                    .map(|(rate, share)| rate * share),
            );
            let prefix = if warning { "warning: " } else { "" };
            notes.push(format!("{prefix}{name}: {sentence}"));
        }
    }
    notes
}

fn plural<'a>(count: usize, one: &'a str, many: &'a str) -> &'a str {
    if count == 1 { one } else { many }
}

fn schema(out: &mut dyn Write) -> std::io::Result<Exit> {
    let text = serde_json::to_string_pretty(&json_schema()).map_err(std::io::Error::other)?;
    writeln!(out, "{text}")?;
    Ok(Exit::Success)
}

/// Every check's kind, summary, reason codes and IAM actions, as a JSON array.
fn checks_json(out: &mut dyn Write) -> std::io::Result<()> {
    let list: Vec<serde_json::Value> = greenlight_core::checks::DOCS
        .iter()
        .map(|doc| {
            serde_json::json!({
                "kind": doc.kind,
                "summary": doc.summary,
                "codes": doc.codes.iter().map(|code| code.code).collect::<Vec<_>>(),
                "iam_actions": doc.iam_actions(),
            })
        })
        .collect();
    let text = serde_json::to_string_pretty(&list).map_err(std::io::Error::other)?;
    writeln!(out, "{text}")
}

/// The IAM every function needs, from the checks' docs: the stages, each function's stages and
/// actions, what every function needs besides its checks, and each check's needs by first stage.
fn iam_json(out: &mut dyn Write) -> std::io::Result<()> {
    let functions: Vec<serde_json::Value> = functions_iam()
        .into_iter()
        .map(|function| {
            serde_json::json!({
                "name": function.name,
                "stages": function.stages,
                "actions": function.actions,
            })
        })
        .collect();
    let platform = |need: &greenlight_core::catalogue::PlatformNeed| serde_json::json!({ "what": need.what, "actions": need.actions() });
    let needs: Vec<serde_json::Value> = greenlight_core::checks::DOCS
        .iter()
        .flat_map(|doc| {
            doc.iam.iter().map(|need| {
                serde_json::json!({
                    "check": doc.kind,
                    "when": need.when,
                    "first_stage": need.from,
                    "actions": need.actions(),
                })
            })
        })
        .collect();
    let document = serde_json::json!({
        "generated_by": "greenlight iam --format json (make docs)",
        "stages": greenlight_core::stage::LifecycleStage::KNOWN,
        "functions": functions,
        "every_function": EVERY_FUNCTION.iter().map(platform).collect::<Vec<_>>(),
        "codedeploy_hooks": platform(&CODEDEPLOY_HOOKS),
        "checks": needs,
    });
    let text = serde_json::to_string_pretty(&document).map_err(std::io::Error::other)?;
    writeln!(out, "{text}")
}

fn codes(format: CodesFormat, out: &mut dyn Write) -> std::io::Result<Exit> {
    let codes = registry();
    match format {
        CodesFormat::Table => write_table(&codes, out)?,
        CodesFormat::Markdown => out.write_all(codes_markdown_table().as_bytes())?,
        CodesFormat::Json => {
            let list: Vec<serde_json::Value> = codes
                .iter()
                .map(|reason| {
                    serde_json::json!({
                        "code": reason.code,
                        "family": reason.family(),
                        "summary": reason.summary,
                        "what": reason.what,
                        "why": reason.why,
                        "fix": reason.fix,
                    })
                })
                .collect();
            let text = serde_json::to_string_pretty(&list).map_err(std::io::Error::other)?;
            writeln!(out, "{text}")?;
        }
    }
    Ok(Exit::Success)
}

/// Each code with its summary on one line, and what, why and how to fix it indented below.
fn write_table(codes: &[&ReasonCode], out: &mut dyn Write) -> std::io::Result<()> {
    let width = codes
        .iter()
        .map(|reason| reason.code.len())
        .max()
        .unwrap_or(0);
    writeln!(out, "{:width$}  SUMMARY", "CODE")?;
    for reason in codes {
        writeln!(out, "{:width$}  {}", reason.code, reason.summary)?;
        for (label, text) in [
            ("what", reason.what),
            ("why", reason.why),
            ("fix", reason.fix),
        ] {
            writeln!(out, "{:width$}    {label}: {text}", "")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_print_as_json_with_codes_and_iam_actions() {
        let (exit, out, err) = run_with(&["checks", "--format", "json"]);
        assert_eq!((exit, err.as_str()), (Exit::Success, ""));
        let list: Vec<serde_json::Value> = serde_json::from_str(&out).expect("JSON");
        assert_eq!(list.len(), greenlight_core::checks::DOCS.len());
        let routing = list
            .iter()
            .find(|check| check["kind"] == "routing")
            .expect("routing");
        assert!(
            routing["codes"]
                .as_array()
                .expect("codes")
                .contains(&serde_json::json!("ROUTING_SHIFT_PENDING"))
        );
        assert!(
            routing["iam_actions"]
                .as_array()
                .expect("actions")
                .contains(&serde_json::json!("elasticloadbalancing:DescribeRules"))
        );
        let (exit, markdown, _) = run_with(&["checks"]);
        assert_eq!(exit, Exit::Success);
        assert!(markdown.starts_with("| check |"));
    }

    #[test]
    fn iam_prints_each_function_and_each_checks_needs_by_stage() {
        let (exit, out, err) = run_with(&["iam"]);
        assert_eq!((exit, err.as_str()), (Exit::Success, ""));
        let iam: serde_json::Value = serde_json::from_str(&out).expect("JSON");
        let function = |name: &str| {
            iam["functions"]
                .as_array()
                .expect("functions")
                .iter()
                .find(|function| function["name"] == name)
                .unwrap_or_else(|| panic!("{name}"))
                .clone()
        };
        assert_eq!(
            function("test-traffic")["stages"],
            serde_json::json!(["TEST_TRAFFIC_SHIFT", "POST_TEST_TRAFFIC_SHIFT"])
        );
        let grants = |name: &str, action: &str| {
            function(name)["actions"]
                .as_array()
                .expect("actions")
                .contains(&serde_json::json!(action))
        };
        assert!(!grants("pre-scale-up", "ecs:DescribeTasks"));
        assert!(grants("post-scale-up", "ecs:DescribeTasks"));
        let green_health = iam["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .find(|need| need["check"] == "target_health" && need["when"] == "group: green")
            .expect("target_health group: green");
        assert_eq!(green_health["first_stage"], "POST_SCALE_UP");
        let (exit, markdown, _) = run_with(&["iam", "--format", "markdown"]);
        assert_eq!(exit, Exit::Success);
        assert!(markdown.starts_with("| check | when | from |"));
    }

    #[test]
    fn the_iam_tests_read_what_greenlight_iam_prints() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/iam/needs.json");
        let file = std::fs::read_to_string(path).expect("infra/iam/needs.json");
        let (exit, printed, _) = run_with(&["iam"]);
        assert_eq!(exit, Exit::Success);
        // Compared as JSON: whether serde_json keeps key order depends on the features the
        // build unifies, and the order means nothing to the readers.
        let file: serde_json::Value = serde_json::from_str(&file).expect("needs.json is JSON");
        let printed: serde_json::Value = serde_json::from_str(&printed).expect("JSON");
        assert!(
            file == printed,
            "infra/iam/needs.json is stale (the infra IAM test reads it): run `make docs`"
        );
    }

    fn run_with(args: &[&str]) -> (Exit, String, String) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let exit = run(
            std::iter::once("greenlight").chain(args.iter().copied()),
            &mut out,
            &mut err,
        );
        (
            exit,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    #[test]
    fn exit_codes_are_zero_one_two() {
        assert_eq!(
            [Exit::Success, Exit::Failure, Exit::Usage].map(Exit::code),
            [0, 1, 2]
        );
    }

    #[test]
    fn validate_warns_when_a_canary_cannot_reach_min_requests() {
        let dir = std::env::temp_dir().join(format!("greenlight-cli-quiet-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let yaml = dir.join("quiet.yaml");
        std::fs::write(
            &yaml,
            "version: 1\ninherit_defaults: false\ndefaults: { max_wait: 10m }\nstages:\n  PRODUCTION_TRAFFIC_SHIFT:\n    bake: 5m\n    checks:\n      - compare: { metric: error_rate, max_increase: 1pp, min_requests: 100 }\n  POST_PRODUCTION_TRAFFIC_SHIFT:\n    bake: 5m\n    checks:\n      - compare: { metric: error_rate, max_increase: 1pp, min_requests: 100 }\n",
        )
        .unwrap();
        let path = yaml.to_str().unwrap();
        let (exit, out, _) = run_with(&[
            "config",
            "validate",
            path,
            "--requests-per-minute",
            "120",
            "--green-percent",
            "5",
        ]);
        let (_, unknown, _) = run_with(&["config", "validate", path]);
        std::fs::remove_dir_all(&dir).unwrap();
        // Warnings do not make the config invalid.
        assert_eq!(exit, Exit::Success, "{out}");
        // A 5% canary of 120 requests a minute: 6 a minute for 13 settled minutes.
        assert!(
            out.contains("quiet.yaml: warning: PRODUCTION_TRAFFIC_SHIFT compare: at 6 requests a minute reaching green, green serves about 78 requests"),
            "{out}"
        );
        // All the traffic after the shift is plenty.
        assert!(
            out.contains("quiet.yaml: POST_PRODUCTION_TRAFFIC_SHIFT compare: at 120 requests a minute reaching green, green serves about 1560 requests"),
            "{out}"
        );
        assert!(
            unknown.contains(
                "PRODUCTION_TRAFFIC_SHIFT compare: needs about 8 requests a minute reaching green"
            ) && !unknown.contains("warning"),
            "{unknown}"
        );
    }

    #[test]
    fn validate_reads_yaml_and_json_by_extension() {
        let dir = std::env::temp_dir().join(format!("greenlight-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let yaml = dir.join("ok.yaml");
        let json = dir.join("bad.json");
        std::fs::write(
            &yaml,
            "version: 1\ninherit_defaults: false\nstages:\n  POST_PRODUCTION_TRAFFIC_SHIFT:\n    - compare: { metric: error_rate, max_increase: 1pp }\n",
        )
        .unwrap();
        std::fs::write(&json, "{ \"version\": 1, \"stages\": 3 }").unwrap();
        let (exit, out, err) = run_with(&[
            "config",
            "validate",
            yaml.to_str().unwrap(),
            json.to_str().unwrap(),
        ]);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(exit, Exit::Failure);
        assert!(
            out.contains(
                "ok.yaml: valid (stages: POST_PRODUCTION_TRAFFIC_SHIFT; built-in plans off)"
            ),
            "{out}"
        );
        assert!(
            out.contains("ok.yaml: POST_PRODUCTION_TRAFFIC_SHIFT compare: baseline before_shift"),
            "{out}"
        );
        assert!(
            out.contains(
                "bad.json:1:27: stages: expected a map from stage names to their checks, got 3"
            ),
            "{out}"
        );
        assert_eq!(err.trim(), "greenlight: 1 error in 1 of 2 files");
    }

    #[test]
    fn a_closed_output_is_a_failure_not_a_panic() {
        struct Closed;
        impl Write for Closed {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let exit = run(["greenlight", "codes"], &mut Closed, &mut Closed);
        assert_eq!(exit, Exit::Failure);
    }
}
