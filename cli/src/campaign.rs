//! `greenlight campaign`: rehearse scenarios many times under seeded random faults and check
//! greenlight's promises on every run (`greenlight_sim::campaign` says which).
//!
//! Prints a table (per scenario: runs, outcomes, runs breaking an invariant) and each break with
//! its seed; exits 0 when nothing broke, 1 when something did (or a rehearsal could not run), 2
//! for a usage error. Replay one run with `--scenario FILE --first-seed SEED --seeds 1`.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use greenlight_sim::campaign::{CampaignRun, run_campaign, table};
use greenlight_sim::scenario::Scenario;

use crate::Exit;

/// The arguments of `greenlight campaign`.
#[derive(Debug, Args)]
pub struct CampaignArgs {
    /// A scenario file; repeat for several.
    #[arg(long, value_name = "FILE")]
    pub scenario: Vec<PathBuf>,
    /// Every `*.yaml` scenario in this directory (a scenario library).
    #[arg(long, value_name = "DIR")]
    pub library: Option<PathBuf>,
    /// How many seeds (runs) per scenario.
    #[arg(long, default_value_t = 5)]
    pub seeds: u64,
    /// The first seed.
    #[arg(long, default_value_t = 1)]
    pub first_seed: u64,
    /// How many rehearsals run at once, each in its own moto. More than the machine's cores can
    /// starve the functions of CPU until they miss deadlines: a break of the machine, not of
    /// greenlight.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub jobs: usize,
    /// Also write every run (its faults, outcome and breaks) as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// The function binaries and moto the rehearsals run (as for `simulate`).
    #[command(flatten)]
    pub parts: crate::simulate::RehearsalParts,
}

/// Runs `greenlight campaign`.
pub fn campaign(
    args: &CampaignArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<Exit> {
    let mut files = args.scenario.clone();
    if let Some(library) = &args.library {
        match std::fs::read_dir(library) {
            Ok(entries) => {
                let mut found: Vec<PathBuf> = entries
                    .filter_map(Result::ok)
                    .map(|entry| entry.path())
                    .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
                    .collect();
                found.sort();
                files.extend(found);
            }
            Err(error) => {
                writeln!(
                    err,
                    "greenlight campaign: cannot read {}: {error}",
                    library.display()
                )?;
                return Ok(Exit::Usage);
            }
        }
    }
    if files.is_empty() || args.seeds == 0 || args.jobs == 0 {
        writeln!(
            err,
            "greenlight campaign: name scenarios with --scenario FILE or --library DIR, at least one seed and one job"
        )?;
        return Ok(Exit::Usage);
    }
    let mut scenarios = Vec::new();
    for file in &files {
        match Scenario::load(file) {
            Ok(scenario) => scenarios.push(scenario),
            Err(error) => {
                writeln!(err, "{error}")?;
                return Ok(Exit::Usage);
            }
        }
    }
    let Some(runtime) = crate::async_runtime(err)? else {
        return Ok(Exit::Failure);
    };
    let options = crate::simulate::run_options(&args.parts);
    let runs = runtime.block_on(run_campaign(
        &scenarios,
        args.first_seed,
        args.seeds,
        args.jobs,
        &options,
        |run: &CampaignRun| {
            // Progress goes out as each run ends: a long campaign shows where it is.
            let _ = writeln!(
                err,
                "{} seed {}: {}{}",
                run.scenario,
                run.seed,
                run.final_status,
                if run.breaks.is_empty() {
                    ""
                } else {
                    " — INVARIANT BROKEN"
                }
            );
        },
    ));
    write!(out, "{}", table(&runs))?;
    if let Some(path) = &args.json
        && !crate::write_json_file("campaign", path, &runs, err)?
    {
        return Ok(Exit::Failure);
    }
    let broken = runs.iter().filter(|run| !run.breaks.is_empty()).count();
    writeln!(
        out,
        "\n{} runs ({} scenarios × {} seeds from {}): {broken} broke an invariant",
        runs.len(),
        scenarios.len(),
        args.seeds,
        args.first_seed
    )?;
    Ok(if broken == 0 {
        Exit::Success
    } else {
        Exit::Failure
    })
}
