//! A seeded Monte Carlo of the error-rate and slow-share decision rules exactly as the check runs
//! them: minute by minute, judged at every minute, through canary steps and the step where green takes all
//! traffic, with the engine's "pass once the bake is over, fail at once" reading of outcomes.
//!
//! The tests assert the promises (a release as good as blue is failed at most α of the time, one
//! worse than the margin passed at most β of the time, each plus three standard errors);
//! [`table`] prints the detection rates and minutes needed for the docs.

use std::time::{Duration, SystemTime};

use super::error_rate::{Counts, ErrorRateObservation, MinuteObservation, judge};
use super::latency::{self, SlowThreshold, ThresholdSource};
use crate::checks::metric::MetricWindow;
use crate::checks::registry::test_support::check;
use crate::checks::{CheckKind, CompareMetric, CompareParams};
use crate::outcome::Status;

/// SplitMix64: small, seeded, and good enough for counts.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1).
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }

    /// Requests in a minute: Poisson, by its normal approximation above 50.
    pub(crate) fn requests(&mut self, mean: f64) -> f64 {
        if mean <= 0.0 {
            return 0.0;
        }
        if mean > 50.0 {
            return (mean + mean.sqrt() * self.normal()).round().max(0.0);
        }
        let (limit, mut product, mut count) = ((-mean).exp(), self.uniform(), 0.0);
        while product > limit {
            product *= self.uniform();
            count += 1.0;
        }
        count
    }

    /// Binomial(n, p) by inversion (n·p stays small here).
    pub(crate) fn binomial(&mut self, n: f64, p: f64) -> f64 {
        if n <= 0.0 || p <= 0.0 {
            return 0.0;
        }
        let p = p.min(1.0);
        let (mut k, mut probability) = (0.0, (1.0 - p).powf(n));
        let mut cumulative = probability;
        let u = self.uniform();
        while u > cumulative && k < n {
            probability *= (n - k) / (k + 1.0) * p / (1.0 - p);
            k += 1.0;
            cumulative += probability;
        }
        k
    }
}

/// One traffic step: green's share, and for how many minutes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Step {
    pub share: f64,
    pub minutes: u32,
}

/// A simulated deployment.
#[derive(Debug, Clone)]
pub(crate) struct Deployment {
    /// Requests per minute over both sides.
    pub requests_per_minute: f64,
    /// Blue's error rate (or share of slow requests, for a latency comparison).
    pub blue_rate: f64,
    /// Green's.
    pub green_rate: f64,
    /// The production steps; each is one stage, judged every minute.
    pub steps: Vec<Step>,
    /// Minutes of each step that must pass before it may succeed (the bake).
    pub bake_minutes: u32,
    /// Blue's minutes before the deployment, each as a share of a full minute's traffic (the
    /// first and last of a short history are often partial).
    pub history: Vec<f64>,
}

/// Thirty full minutes of blue before the deployment.
pub(crate) fn full_history() -> Vec<f64> {
    vec![1.0; 30]
}

/// How a simulated deployment ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    Succeeded,
    /// Failed by the comparison at this minute of the deployment.
    Failed(u32),
    /// A step ran out of its minutes without a pass (the wait was spent).
    Exhausted,
}

/// Runs one deployment: every minute of every step is a look.
pub(crate) fn run(params: &CompareParams, deployment: &Deployment, rng: &mut Rng) -> End {
    let minute = Duration::from_secs(60);
    let origin = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let mut minutes: Vec<MinuteObservation> = Vec::new();
    let mut at = origin;
    let side = |rng: &mut Rng, mean: f64, rate: f64| {
        let requests = rng.requests(mean);
        Counts {
            requests,
            errors: rng.binomial(requests, rate),
        }
    };
    for share in &deployment.history {
        let blue = side(
            rng,
            deployment.requests_per_minute * share,
            deployment.blue_rate,
        );
        minutes.push(MinuteObservation {
            at,
            green: Counts::default(),
            blue,
        });
        at += minute;
    }
    let deployment_started_at = at;
    let mut elapsed = 0;
    for step in &deployment.steps {
        let step_start = at;
        let mut passed = false;
        for look in 1..=step.minutes {
            let green_mean = deployment.requests_per_minute * step.share;
            let blue_mean = deployment.requests_per_minute - green_mean;
            minutes.push(MinuteObservation {
                at,
                green: side(rng, green_mean, deployment.green_rate),
                blue: side(rng, blue_mean, deployment.blue_rate),
            });
            at += minute;
            elapsed += 1;
            let observed = ErrorRateObservation {
                green_target_group: "green".into(),
                blue_target_group: "blue".into(),
                minutes: minutes.clone(),
                deployment_started_at: Some(deployment_started_at),
                window: MetricWindow {
                    start: step_start,
                    end: at,
                },
                horizon: Some(step_start + minute * (step.minutes + 2)),
            };
            let outcome = match params.metric {
                CompareMetric::ErrorRate => judge(params, &observed),
                // The counts are slow requests above a fixed threshold: only the words differ.
                CompareMetric::Latency => latency::judge(
                    params,
                    &SlowThreshold {
                        seconds: 0.5,
                        source: ThresholdSource::Configured,
                    },
                    &observed,
                    &[],
                ),
            };
            match outcome.status {
                Status::Fail => return End::Failed(elapsed),
                Status::Pass if look >= deployment.bake_minutes => {
                    passed = true;
                    break;
                }
                _ => {}
            }
        }
        if !passed {
            return End::Exhausted;
        }
    }
    End::Succeeded
}

pub(crate) fn params(yaml: &str) -> CompareParams {
    match check(yaml).expect("a valid compare check").kind {
        CheckKind::Compare(params) => params,
        other => panic!("{other:?}"),
    }
}

/// Outcomes of `runs` deployments: (failed, succeeded, exhausted, mean minute of failure).
pub(crate) fn tally(
    params: &CompareParams,
    deployment: &Deployment,
    runs: u32,
    seed: u64,
) -> (u32, u32, u32, f64) {
    let mut rng = Rng::new(seed);
    let (mut failed, mut succeeded, mut exhausted, mut fail_minutes) = (0, 0, 0, 0u64);
    for _ in 0..runs {
        match run(params, deployment, &mut rng) {
            End::Failed(minute) => {
                failed += 1;
                fail_minutes += u64::from(minute);
            }
            End::Succeeded => succeeded += 1,
            End::Exhausted => exhausted += 1,
        }
    }
    let mean = if failed > 0 {
        fail_minutes as f64 / f64::from(failed)
    } else {
        0.0
    };
    (failed, succeeded, exhausted, mean)
}

/// Three standard errors of a proportion near `p` over `runs`.
fn three_se(p: f64, runs: u32) -> f64 {
    3.0 * (p * (1.0 - p) / f64::from(runs)).sqrt()
}

/// A step is judged through its 5-minute bake and a 15-minute `max_wait`.
const STEP_MINUTES: u32 = 20;

fn canary(share: f64) -> Vec<Step> {
    vec![
        Step {
            share,
            minutes: STEP_MINUTES,
        },
        Step {
            share: 1.0,
            minutes: STEP_MINUTES,
        },
    ]
}

#[test]
fn good_releases_are_failed_at_most_alpha_of_the_time() {
    let params = params("compare: { metric: error_rate, max_increase: 1pp, min_requests: 50 }");
    let alpha = params.alpha();
    let runs = 600;
    let mut seed = 1;
    for requests_per_minute in [100.0, 400.0, 2000.0] {
        for share in [0.1, 0.5] {
            let deployment = Deployment {
                requests_per_minute,
                blue_rate: 0.01,
                green_rate: 0.01,
                steps: canary(share),
                bake_minutes: 5,
                history: full_history(),
            };
            seed += 1;
            let (failed, ..) = tally(&params, &deployment, runs, seed);
            let rate = f64::from(failed) / f64::from(runs);
            assert!(
                rate <= alpha + three_se(alpha, runs),
                "{failed} of {runs} good releases failed at {requests_per_minute}/min, {share} canary"
            );
        }
    }
}

#[test]
fn releases_worse_than_the_margin_are_passed_at_most_beta_of_the_time() {
    let params = params("compare: { metric: error_rate, max_increase: 1pp, min_requests: 50 }");
    let beta = params.beta();
    let runs = 400;
    for (seed, (requests_per_minute, share)) in [(400.0, 0.5), (2000.0, 0.1), (2000.0, 1.0)]
        .into_iter()
        .enumerate()
    {
        let deployment = Deployment {
            requests_per_minute,
            blue_rate: 0.01,
            // Exactly at the margin: the hardest bad release to catch.
            green_rate: 0.02,
            steps: if share < 1.0 {
                canary(share)
            } else {
                vec![Step {
                    share,
                    minutes: STEP_MINUTES,
                }]
            },
            bake_minutes: 5,
            history: full_history(),
        };
        let (_, succeeded, ..) = tally(&params, &deployment, runs, 100 + seed as u64);
        let rate = f64::from(succeeded) / f64::from(runs);
        assert!(
            rate <= beta + three_se(beta, runs),
            "{succeeded} of {runs} releases at the margin passed at {requests_per_minute}/min, share {share}"
        );
    }
}

#[test]
fn clearly_bad_releases_are_caught_and_good_ones_go_on() {
    let params = params("compare: { metric: error_rate, max_increase: 1pp, min_requests: 50 }");
    let runs = 200;
    let bad = Deployment {
        requests_per_minute: 1000.0,
        blue_rate: 0.01,
        green_rate: 0.06,
        steps: canary(0.2),
        bake_minutes: 5,
        history: full_history(),
    };
    let (failed, ..) = tally(&params, &bad, runs, 7);
    assert!(failed >= runs * 99 / 100, "{failed} of {runs} caught");
    let good = Deployment {
        green_rate: 0.01,
        ..bad
    };
    let (_, succeeded, ..) = tally(&params, &good, runs, 8);
    assert!(
        succeeded >= runs * 95 / 100,
        "{succeeded} of {runs} went on"
    );
}

/// The table in docs/judgement.md: run with
/// `cargo test -p greenlight-core --release compare::simulation::table -- --nocapture`.
#[test]
fn table() {
    let params = params("compare: { metric: error_rate, max_increase: 1pp, min_requests: 50 }");
    let runs = 200;
    let mut caught_big = 0;
    let mut failed_good = 0;
    println!(
        "| requests/min (both sides) | canary | green | failed | succeeded | exhausted | mean minute of failure |"
    );
    println!("|---|---|---|---|---|---|---|");
    for requests_per_minute in [100.0, 400.0, 2000.0] {
        for share in [0.1, 0.5] {
            for (name, green_rate) in [("= blue (1%)", 0.01), ("+1 pp", 0.02), ("+5 pp", 0.06)] {
                let deployment = Deployment {
                    requests_per_minute,
                    blue_rate: 0.01,
                    green_rate,
                    steps: canary(share),
                    bake_minutes: 5,
                    history: full_history(),
                };
                let (failed, succeeded, exhausted, minute) = tally(&params, &deployment, runs, 42);
                if green_rate > 0.05 {
                    caught_big += failed;
                } else if green_rate <= 0.01 {
                    failed_good += failed;
                }
                println!(
                    "| {requests_per_minute} | {}% | {name} | {failed} | {succeeded} | {exhausted} | {minute:.1} |",
                    share * 100.0
                );
            }
        }
    }
    // The table's own sanity: +5 pp is caught far more often than a good release is failed.
    assert!(
        caught_big > 10 * failed_good.max(1),
        "{caught_big} {failed_good}"
    );
}

/// Latency as a share of slow requests: 1% of blue's requests are above the threshold (blue's
/// p99); a green whose slow tail doubles has 2%. The second table in docs/judgement.md: run with
/// `cargo test -p greenlight-core --release compare::simulation::slow_tail -- --nocapture`.
#[test]
fn slow_tail_table() {
    let params = params("compare: { metric: latency, max_ratio: 1.5, min_requests: 50 }");
    let alpha = params.alpha();
    let runs = 300;
    let mut seed = 100;
    println!(
        "| requests/min (both sides) | canary | green's slow share | failed | succeeded | exhausted | mean minute of failure |"
    );
    println!("|---|---|---|---|---|---|---|");
    for requests_per_minute in [400.0, 2000.0] {
        for share in [0.1, 0.5] {
            for (name, green_rate) in [("= blue (1%)", 0.01), ("2× tail (2%)", 0.02)] {
                seed += 1;
                let deployment = Deployment {
                    requests_per_minute,
                    blue_rate: 0.01,
                    green_rate,
                    steps: canary(share),
                    bake_minutes: 5,
                    history: full_history(),
                };
                let (failed, succeeded, exhausted, minute) =
                    tally(&params, &deployment, runs, seed);
                println!(
                    "| {requests_per_minute} | {}% | {name} | {failed} | {succeeded} | {exhausted} | {minute:.1} |",
                    share * 100.0
                );
                let rate = f64::from(failed) / f64::from(runs);
                if green_rate <= 0.01 {
                    assert!(
                        rate <= alpha + three_se(alpha, runs),
                        "{failed} of {runs} equal tails failed at {requests_per_minute}/min, {share} canary"
                    );
                } else if requests_per_minute >= 2000.0 {
                    // 20 slow requests a minute on blue's side: a doubled tail cannot hide.
                    assert!(
                        failed >= runs * 9 / 10,
                        "{failed} of {runs} doubled tails caught at {requests_per_minute}/min, {share} canary"
                    );
                }
            }
        }
    }
}

/// A service with little history (the load began two minutes before the deployment, its first
/// and last minutes partial) and equal error rates: blue's few minutes are binomial, and the
/// dispersion guard must not call them too noisy. Only overdispersion the minutes show beyond
/// chance is applied. The third table in docs/judgement.md: run with
/// `cargo test -p greenlight-core --release compare::simulation::a_short -- --nocapture`.
#[test]
fn a_short_uneven_history_is_not_mistaken_for_bursts() {
    let params = params(
        "compare: { metric: error_rate, max_increase: 2pp, min_requests: 200, confidence: 99.9% }",
    );
    let runs = 300;
    for (seed, history) in [
        vec![0.05, 1.0, 0.2],
        vec![0.5, 1.0, 0.7],
        vec![0.02, 1.0, 1.0, 0.1],
    ]
    .into_iter()
    .enumerate()
    {
        let deployment = Deployment {
            requests_per_minute: 3600.0,
            blue_rate: 0.03,
            green_rate: 0.03,
            // BLUE_GREEN: all traffic at once, judged against blue's minutes before the shift.
            steps: vec![Step {
                share: 1.0,
                minutes: 6,
            }],
            bake_minutes: 1,
            history: history.clone(),
        };
        let (failed, succeeded, exhausted, _) =
            tally(&params, &deployment, runs, 500 + seed as u64);
        println!("| {history:?} | {failed} | {succeeded} | {exhausted} |");
        assert!(
            succeeded >= runs * 99 / 100,
            "history {history:?}: {succeeded} of {runs} equal releases went on ({failed} failed, {exhausted} exhausted)"
        );
    }
}
