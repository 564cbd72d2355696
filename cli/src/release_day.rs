//! `greenlight release-day`: rehearse many services deploying at once in one account, against the
//! API rate limits AWS documents (`greenlight_sim::release_day` says how).
//!
//! Runs one deployment alone, then a wave of each size asked for, and prints a table: deployments
//! that ended as the scenario expects, wrong outcomes (a good release rolled back: false
//! rollbacks), time to verdict and what the crowd added to it, AWS calls per deployment,
//! throttled calls. Exits 0 when every deployment ended as expected, 1 when one did not or could
//! not be set up (or a wave could not run), 2 for a usage error.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use greenlight_sim::release_day::{Wave, run_wave, table};
use greenlight_sim::scenario::Scenario;
use greenlight_sim::world::{AccountRateLimits, Undocumented};

use crate::Exit;

/// What to assume where AWS documents no rate (ECR describe calls, CodeDeploy).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UndocumentedLimits {
    /// No limit.
    Unlimited,
    /// A strict assumed bucket: 20 calls, refilled at 5 per second.
    Strict,
}

/// The arguments of `greenlight release-day`.
#[derive(Debug, Args)]
pub struct ReleaseDayArgs {
    /// The scenario every service deploys (copied per service, renamed).
    #[arg(long, value_name = "FILE")]
    pub scenario: PathBuf,
    /// How many deployments at once, per wave (comma-separated).
    #[arg(
        long,
        value_name = "N,N,...",
        value_delimiter = ',',
        default_value = "10,50,100"
    )]
    pub deployments: Vec<usize>,
    /// Multiply every documented bucket's size and refill rate by this: 0.1 rehearses an account
    /// whose other tools already spend nine tenths of each limit.
    #[arg(long, default_value_t = 1.0, value_name = "FACTOR")]
    pub limit_scale: f64,
    /// What to assume where AWS documents no rate.
    #[arg(long, value_enum, default_value_t = UndocumentedLimits::Unlimited)]
    pub undocumented: UndocumentedLimits,
    /// Also write every wave (each deployment, the throttles) as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// The function binaries and moto the rehearsals run (as for `simulate`).
    #[command(flatten)]
    pub parts: crate::simulate::RehearsalParts,
}

/// Runs `greenlight release-day`.
pub fn release_day(
    args: &ReleaseDayArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<Exit> {
    if args.deployments.contains(&0) || !(args.limit_scale.is_finite() && args.limit_scale > 0.0) {
        writeln!(
            err,
            "greenlight release-day: --deployments takes positive counts (10,50,100) and --limit-scale a positive factor"
        )?;
        return Ok(Exit::Usage);
    }
    let scenario = match Scenario::load(&args.scenario) {
        Ok(scenario) => scenario,
        Err(error) => {
            writeln!(err, "{error}")?;
            return Ok(Exit::Usage);
        }
    };
    let Some(runtime) = crate::async_runtime(err)? else {
        return Ok(Exit::Failure);
    };
    let options = crate::simulate::run_options(&args.parts);
    let undocumented = match args.undocumented {
        UndocumentedLimits::Unlimited => Undocumented::Unlimited,
        UndocumentedLimits::Strict => Undocumented::Strict,
    };
    let limits = || AccountRateLimits::scaled(undocumented, args.limit_scale);
    let mut waves: Vec<Wave> = Vec::new();
    for &deployments in std::iter::once(&1).chain(&args.deployments) {
        writeln!(err, "release day: {deployments} at once…")?;
        match runtime.block_on(run_wave(&scenario, deployments, limits(), &options)) {
            Ok(wave) => waves.push(wave),
            Err(error) => {
                writeln!(err, "greenlight release-day: {error}")?;
                return Ok(Exit::Failure);
            }
        }
    }
    let Some((alone, crowds)) = waves.split_first() else {
        return Ok(Exit::Failure);
    };
    write!(out, "{}", table(&scenario, alone, crowds))?;
    if let Some(path) = &args.json
        && !crate::write_json_file("release-day", path, &waves, err)?
    {
        return Ok(Exit::Failure);
    }
    let expected = &scenario.expect.status;
    let wrong: usize = waves.iter().map(|wave| wave.wrong_outcomes(expected)).sum();
    let not_run: usize = waves.iter().map(Wave::not_run).sum();
    writeln!(
        out,
        "\n{} deployments in {} waves: {wrong} did not end {expected}; {not_run} could not be set up",
        waves.iter().map(|wave| wave.runs.len()).sum::<usize>(),
        waves.len(),
    )?;
    // A deployment that was never judged is no evidence either way: the run is incomplete.
    Ok(if wrong == 0 && not_run == 0 {
        Exit::Success
    } else {
        Exit::Failure
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(deployments: Vec<usize>, limit_scale: f64, scenario: &str) -> ReleaseDayArgs {
        ReleaseDayArgs {
            scenario: PathBuf::from(scenario),
            deployments,
            limit_scale,
            undocumented: UndocumentedLimits::Unlimited,
            json: None,
            parts: crate::simulate::RehearsalParts::default(),
        }
    }

    fn run(args: &ReleaseDayArgs) -> (Exit, String) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let exit = release_day(args, &mut out, &mut err).expect("writes");
        (exit, String::from_utf8_lossy(&err).into_owned())
    }

    #[test]
    fn nonsense_counts_and_scales_are_usage_errors_before_anything_runs() {
        let scenario = "../tests/scenarios/release-day-blue-green.yaml";
        for bad in [
            args(vec![10, 0], 1.0, scenario),
            args(vec![10], 0.0, scenario),
            args(vec![10], f64::NAN, scenario),
        ] {
            let (exit, err) = run(&bad);
            assert_eq!(exit, Exit::Usage, "{bad:?}");
            assert!(err.contains("--deployments"), "{err}");
        }
        let (exit, err) = run(&args(vec![10], 1.0, "no/such/scenario.yaml"));
        assert_eq!(exit, Exit::Usage);
        assert!(err.contains("no/such/scenario.yaml"), "{err}");
    }
}
