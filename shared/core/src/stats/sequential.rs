//! Always-valid tests of green's error rate against blue's, from per-minute counts.
//!
//! # Failing: is green worse than blue? (a mixture sequential probability ratio test)
//! Take one minute j in which both sides served requests: n_g and n_b requests, e_g and e_b
//! errors, green's share of the requests π_j = n_g / (n_g + n_b). If green's per-request error
//! rate is ρ times blue's, each of that minute's errors is green's with probability
//!
//! ```text
//! θ_j(ρ) = ρ·π_j / (ρ·π_j + 1 − π_j)
//! ```
//!
//! Conditioning on the minute's total errors is what makes this robust: an outage of a shared
//! dependency raises both sides' errors and cancels out, and the traffic share may change from
//! minute to minute (canary steps). The log likelihood ratio of "ρ" against "ρ = 1" is
//!
//! ```text
//! S_t(ρ) = Σ_j w_j · [ e_gj · ln(θ_j(ρ) / π_j) + e_bj · ln((1 − θ_j(ρ)) / (1 − π_j)) ]
//! ```
//!
//! with `w_j = 1` for binomial noise (see the dispersion guard below). Under "green is no worse
//! than blue" (ρ ≤ 1), `exp(S_t(ρ1))` for any fixed ρ1 > 1 is a nonnegative supermartingale, and
//! so is the average of several. [`RatioEvidence::log_mixture`] averages ρ1, 2ρ1 and 4ρ1 (ρ1 the
//! smallest ratio that matters), and by Ville's inequality
//!
//! ```text
//! P( the mixture ever reaches 1/α | ρ ≤ 1 ) ≤ α
//! ```
//!
//! for any number of looks at any times — the guarantee a stage judged every 30 s needs, and one
//! that also holds when the sum runs over a whole LINEAR/CANARY deployment (one α per deployment,
//! not one per step). This is the mixture SPRT of Johari, Pekelis and Walsh ("Always valid
//! inference", 2017), with the conditional binomial likelihood of Lindon, Sanden and Shirikian
//! ("Rapid regression detection in software deployments through sequential testing", KDD 2022,
//! arXiv:2205.14762) for canary counts.
//!
//! # An interval valid at every look
//! On a log-spaced grid of ratios (eight per doubling, 1/8× to 64×), a ratio ρ stays in
//! [`RatioEvidence::interval`] while a two-sided mixture of ratios around it (ρ·2^±½, 2^±1, 2^±2)
//! has not reached `1/α` against it. The true ratio leaves the interval at some look with
//! probability at most α (again by Ville's inequality), so "green's errors are 0.7×–2.9× blue's"
//! can be read at every look.
//!
//! # Passing: green is not worse by the margin (a one-sample mixture test)
//! A ratio test learns nothing from minutes without errors, and a service whose blue has no
//! errors at all has no ratio. Passing therefore asks a different question of green's own
//! requests: is green's error rate below `p_bad`, the highest rate the config allows (blue's
//! rate plus `max_increase`, or times `max_ratio`)? For alternatives `m·p_bad` (m = ¾, ½, ¼),
//!
//! ```text
//! L_t(m) = m^e · ((1 − m·p_bad) / (1 − p_bad))^(n − e)
//! ```
//!
//! over green's n requests and e errors is a nonnegative supermartingale when green's true rate is
//! p_bad or more, so [`log_below`] (the log of their average) reaches `ln(1/β)` with probability
//! at most β for a release that is worse than the margin: P(pass | green too bad) ≤ β at every
//! look. `p_bad` is computed from blue's observed rate and treated as known; blue usually has as
//! much traffic as green or more (or a fixed window before the shift), which keeps that
//! approximation mild.
//!
//! # What could have been seen
//! [`smallest_ruled_out`] inverts the pass test: the smallest rate above blue's that `n` green
//! requests of blue's quality would rule out at β. A pass reports it ("could have told +0.4 pp");
//! when the traffic expected before the wait runs out cannot rule out the configured margin the
//! comparison is *underpowered*, which the check says as its own outcome.
//!
//! # Assumptions, and the dispersion guard
//! Requests are independent given the minute: errors are binomial with the minute's rate. Errors
//! bunched in time on one side break that and make any request-level test too eager. The guard
//! estimates blue's extra-binomial variance from its own minutes ([`dispersion`]: the squared
//! coefficient of variation `c` of the per-minute rate beyond what binomial noise explains) and
//! divides each minute's increment by `1 + 2c·π_j(1 − π_j)·E_j` (E_j the minute's errors), the
//! variance inflation of the conditional count; when a minute's factor exceeds
//! [`MAX_DISPERSION_FACTOR`] the data is too noisy to claim α and the caller says so.
//!
//! A few minutes of binomial noise can look bursty by chance, above all a short partial minute
//! (the first of a service's history) with a handful of errors. So `c` is estimated with each
//! minute weighted by its expected errors squared (a small minute moves it little), and it is
//! applied only when Pearson's χ² over blue's minutes shows overdispersion beyond chance
//! ([`DISPERSION_SIGNIFICANCE`]); otherwise the minutes are taken as binomial, as they look.

use statrs::distribution::{ChiSquared, ContinuousCDF};

/// Grid points per doubling of the ratio.
const STEPS_PER_DOUBLING: i32 = 8;
/// The grid's lowest exponent: 2^(-24/8) = 1/8×.
const GRID_LOW: i32 = -3 * STEPS_PER_DOUBLING;
/// The grid's highest exponent: 2^(48/8) = 64×.
const GRID_HIGH: i32 = 6 * STEPS_PER_DOUBLING;
/// Grid offsets of the two-sided mixture around a ratio: ×2^±½, ×2^±1, ×2^±2.
const INTERVAL_OFFSETS: [i32; 6] = [
    STEPS_PER_DOUBLING / 2,
    -STEPS_PER_DOUBLING / 2,
    STEPS_PER_DOUBLING,
    -STEPS_PER_DOUBLING,
    2 * STEPS_PER_DOUBLING,
    -2 * STEPS_PER_DOUBLING,
];
/// Alternatives of the one-sample pass test, as fractions of `p_bad`.
const PASS_ALTERNATIVES: [f64; 3] = [0.75, 0.5, 0.25];

/// Above this variance inflation a minute is too noisy for the stated α.
pub const MAX_DISPERSION_FACTOR: f64 = 3.0;

/// Blue's minutes are taken as overdispersed only when binomial noise would show a χ² as large
/// as theirs less often than this.
pub const DISPERSION_SIGNIFICANCE: f64 = 0.01;

/// Both sides' counts in one minute (or, against a baseline before the shift, green's minute and
/// the blue minute paired with it).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct MinuteCounts {
    /// Green's requests.
    pub green_requests: f64,
    /// Green's errors.
    pub green_errors: f64,
    /// Blue's requests.
    pub blue_requests: f64,
    /// Blue's errors.
    pub blue_errors: f64,
}

impl MinuteCounts {
    /// Green's share of the minute's requests, when both sides served some.
    pub fn green_share(&self) -> Option<f64> {
        let total = self.green_requests + self.blue_requests;
        (self.green_requests > 0.0 && self.blue_requests > 0.0 && total.is_finite())
            .then(|| self.green_requests / total)
    }
}

/// The ratio on the grid at exponent `k`.
fn grid_ratio(k: i32) -> f64 {
    2f64.powf(f64::from(k) / f64::from(STEPS_PER_DOUBLING))
}

/// The grid exponent at or below `ratio` (so a snapped alternative is never further from 1 than
/// the one asked for), clamped to the grid.
fn grid_index_below(ratio: f64) -> i32 {
    if !(ratio.is_finite() && ratio > 0.0) {
        return GRID_HIGH;
    }
    let exact = ratio.log2() * f64::from(STEPS_PER_DOUBLING);
    // A hair of tolerance so 2.0 lands on its own grid point.
    ((exact + 1e-9).floor() as i32).clamp(GRID_LOW, GRID_HIGH)
}

/// `ln(mean(exp(values)))` without overflow.
fn log_mean_exp(values: &[f64]) -> f64 {
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !max.is_finite() {
        return max;
    }
    let sum: f64 = values.iter().map(|v| (v - max).exp()).sum();
    max + (sum / values.len() as f64).ln()
}

/// The running log likelihood ratios of every grid ratio against "green's rate equals blue's".
#[derive(Debug, Clone, PartialEq)]
pub struct RatioEvidence {
    sums: Vec<f64>,
    /// Minutes that carried information (both sides served requests).
    pub minutes: u32,
    /// The largest dispersion factor applied to a minute (1 for binomial noise).
    pub max_factor: f64,
}

impl Default for RatioEvidence {
    fn default() -> Self {
        RatioEvidence {
            sums: vec![0.0; (GRID_HIGH - GRID_LOW + 1) as usize],
            minutes: 0,
            max_factor: 1.0,
        }
    }
}

impl RatioEvidence {
    fn sum(&self, k: i32) -> f64 {
        self.sums[(k.clamp(GRID_LOW, GRID_HIGH) - GRID_LOW) as usize]
    }

    /// Adds one minute, with blue's extra-binomial variance `dispersion` (0 for binomial noise).
    /// Minutes where a side served nothing carry no information and are skipped.
    pub fn add(&mut self, minute: &MinuteCounts, dispersion: f64) {
        let Some(share) = minute.green_share() else {
            return;
        };
        let (green_errors, blue_errors) =
            (minute.green_errors.max(0.0), minute.blue_errors.max(0.0));
        let total_errors = green_errors + blue_errors;
        let factor = 1.0 + 2.0 * dispersion.max(0.0) * share * (1.0 - share) * total_errors;
        self.minutes += 1;
        self.max_factor = self.max_factor.max(factor);
        if total_errors <= 0.0 {
            return;
        }
        for (index, sum) in self.sums.iter_mut().enumerate() {
            let rho = grid_ratio(index as i32 + GRID_LOW);
            let theta = rho * share / (rho * share + 1.0 - share);
            let increment = green_errors * (theta / share).ln()
                + blue_errors * ((1.0 - theta) / (1.0 - share)).ln();
            *sum += increment / factor;
        }
    }

    /// The log of the mixture of ρ1, 2ρ1 and 4ρ1 against ρ = 1: reaching `ln(1/α)` rejects
    /// "green is no worse than blue" at level α, whatever the number of looks.
    pub fn log_mixture(&self, smallest_ratio: f64) -> f64 {
        let k = grid_index_below(smallest_ratio).max(1);
        log_mean_exp(&[
            self.sum(k),
            self.sum(k + STEPS_PER_DOUBLING),
            self.sum(k + 2 * STEPS_PER_DOUBLING),
        ])
    }

    /// The ratios of green's error rate to blue's not yet rejected at level α: `(low, high)`,
    /// `high` infinite when the grid's top is still in. `None` when no ratio survives (only when
    /// the data contradict every ratio on the grid, e.g. errors on one side only at extreme
    /// shares).
    pub fn interval(&self, alpha: f64) -> Option<(f64, f64)> {
        let limit = (1.0 / alpha).ln();
        let kept: Vec<i32> = (GRID_LOW..=GRID_HIGH)
            .filter(|&k| {
                let here = self.sum(k);
                let around: Vec<f64> = INTERVAL_OFFSETS
                    .iter()
                    .map(|offset| self.sum(k + offset) - here)
                    .collect();
                log_mean_exp(&around) < limit
            })
            .collect();
        let (low, high) = (*kept.first()?, *kept.last()?);
        let low = if low == GRID_LOW {
            0.0
        } else {
            grid_ratio(low)
        };
        let high = if high == GRID_HIGH {
            f64::INFINITY
        } else {
            grid_ratio(high)
        };
        Some((low, high))
    }
}

/// The log of the pass test's mixture: reaching `ln(1/β)` says green's error rate is below
/// `p_bad`, with at most β chance of saying so for a green whose rate is `p_bad` or more.
pub fn log_below(errors: f64, requests: f64, p_bad: f64) -> f64 {
    if !(p_bad > 0.0 && p_bad < 1.0) || requests <= 0.0 {
        return 0.0;
    }
    let errors = errors.clamp(0.0, requests);
    let terms: Vec<f64> = PASS_ALTERNATIVES
        .iter()
        .map(|m| errors * m.ln() + (requests - errors) * ((1.0 - m * p_bad) / (1.0 - p_bad)).ln())
        .collect();
    log_mean_exp(&terms)
}

/// The expected gain of [`log_below`] per request when green's true rate is `p_true`: the best
/// of the alternatives (non-positive when `p_true` is too close to `p_bad` to ever pass).
fn gain_per_request(p_true: f64, p_bad: f64) -> f64 {
    PASS_ALTERNATIVES
        .iter()
        .map(|m| p_true * m.ln() + (1.0 - p_true) * ((1.0 - m * p_bad) / (1.0 - p_bad)).ln())
        .fold(f64::NEG_INFINITY, f64::max)
}

/// How many requests of a green whose rate is `p_true` the pass test needs, on average, to rule
/// out `p_bad` at level β (`None`: never).
pub fn requests_to_rule_out(p_true: f64, p_bad: f64, beta: f64) -> Option<f64> {
    let gain = gain_per_request(p_true, p_bad);
    // The mixture of three costs at most ln 3 against its best member.
    (gain > 0.0).then(|| ((3.0 / beta).ln()) / gain)
}

/// The smallest error rate above `p_true` that `requests` requests of a green at `p_true` would
/// rule out at level β, on average; `None` when even 100% could not be ruled out.
pub fn smallest_ruled_out(p_true: f64, requests: f64, beta: f64) -> Option<f64> {
    let reaches = |p_bad: f64| {
        requests_to_rule_out(p_true, p_bad, beta).is_some_and(|needed| needed <= requests)
    };
    let (mut low, mut high) = (p_true.max(0.0), 0.999_999);
    if requests <= 0.0 || !reaches(high) {
        return None;
    }
    for _ in 0..60 {
        let middle = 0.5 * (low + high);
        if reaches(middle) {
            high = middle;
        } else {
            low = middle;
        }
    }
    Some(high)
}

/// Blue's extra-binomial variance, estimated from its own minutes, and whether the minutes
/// show it beyond chance.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Dispersion {
    /// The squared coefficient of variation of the per-minute rate beyond binomial noise
    /// (method of moments, each minute weighted by its expected count squared); 0 when binomial
    /// noise explains it all or there is too little to tell.
    pub estimate: f64,
    /// How often binomial minutes would show a Pearson χ² as large as these (`None` with fewer
    /// than three minutes or no errors: nothing to test).
    pub p_value: Option<f64>,
    /// The minutes it was estimated from.
    pub minutes: usize,
}

impl Dispersion {
    /// The extra variance the test applies: the estimate when the minutes show overdispersion
    /// beyond chance ([`DISPERSION_SIGNIFICANCE`]), else 0 (binomial, as they look).
    pub fn applied(&self) -> f64 {
        match self.p_value {
            Some(p) if p < DISPERSION_SIGNIFICANCE => self.estimate,
            _ => 0.0,
        }
    }
}

/// Blue's dispersion from its own minutes `(requests, errors)`.
pub fn dispersion(minutes: &[(f64, f64)]) -> Dispersion {
    let used: Vec<(f64, f64)> = minutes
        .iter()
        .copied()
        .filter(|(requests, _)| *requests > 0.0)
        .collect();
    let (requests, errors) = used
        .iter()
        .fold((0.0, 0.0), |(n, e), (rn, re)| (n + rn, e + re));
    let rate = if requests > 0.0 {
        errors / requests
    } else {
        0.0
    };
    if used.len() < 3 || rate <= 0.0 || rate >= 1.0 {
        return Dispersion {
            minutes: used.len(),
            ..Dispersion::default()
        };
    }
    let (mut excess, mut weight, mut chi_square) = (0.0, 0.0, 0.0);
    for (n, e) in &used {
        let expected = n * rate;
        let binomial_variance = expected * (1.0 - rate);
        excess += (e - expected).powi(2) - binomial_variance;
        weight += expected.powi(2);
        chi_square += (e - expected).powi(2) / binomial_variance;
    }
    // One degree of freedom goes to the pooled rate.
    let freedom = (used.len() - 1) as f64;
    let p_value = ChiSquared::new(freedom)
        .map(|distribution| distribution.sf(chi_square))
        .ok();
    Dispersion {
        estimate: (excess / weight).max(0.0),
        p_value,
        minutes: used.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minute(green: (f64, f64), blue: (f64, f64)) -> MinuteCounts {
        MinuteCounts {
            green_requests: green.0,
            green_errors: green.1,
            blue_requests: blue.0,
            blue_errors: blue.1,
        }
    }

    #[test]
    fn the_grid_snaps_down_and_holds_exact_doublings() {
        assert_eq!(grid_index_below(2.0), STEPS_PER_DOUBLING);
        assert_eq!(grid_index_below(1.0), 0);
        assert!(grid_ratio(grid_index_below(1.33)) <= 1.33);
        assert!(grid_ratio(grid_index_below(1.33) + 1) > 1.33);
        assert_eq!(grid_index_below(f64::INFINITY), GRID_HIGH);
        assert_eq!(grid_index_below(1e-9), GRID_LOW);
    }

    #[test]
    fn errors_that_follow_the_traffic_share_are_no_evidence_against_green() {
        let mut evidence = RatioEvidence::default();
        // 10% canary: one error in ten is green's, exactly what equal rates predict.
        for _ in 0..20 {
            evidence.add(&minute((100.0, 1.0), (900.0, 9.0)), 0.0);
        }
        assert!(evidence.log_mixture(1.5) < 0.0);
        let (low, high) = evidence.interval(0.01).expect("an interval");
        assert!(low < 1.0 && high > 1.0, "{low}..{high}");
        assert_eq!(evidence.minutes, 20);
    }

    #[test]
    fn green_errors_beyond_its_share_build_evidence_and_lift_the_interval() {
        let mut evidence = RatioEvidence::default();
        let mut crossed_at = None;
        for look in 1..=30 {
            // Green fails 5% against blue's 1% at a 50/50 split.
            evidence.add(&minute((200.0, 10.0), (200.0, 2.0)), 0.0);
            if crossed_at.is_none() && evidence.log_mixture(1.5) >= (1.0 / 0.01f64).ln() {
                crossed_at = Some(look);
            }
        }
        let crossed_at = crossed_at.expect("a fivefold rate is detected");
        assert!(crossed_at <= 5, "crossed at minute {crossed_at}");
        let (low, high) = evidence.interval(0.01).expect("an interval");
        assert!(low > 2.0 && high < 10.0, "{low}..{high}");
    }

    #[test]
    fn a_shared_outage_cancels_out() {
        let mut evidence = RatioEvidence::default();
        // Both sides fail half their requests for a minute: conditional on the minute's errors,
        // green's share of them is its share of the traffic.
        evidence.add(&minute((500.0, 250.0), (500.0, 250.0)), 0.0);
        assert!(evidence.log_mixture(1.5) < 0.0);
    }

    #[test]
    fn minutes_without_both_sides_carry_nothing() {
        let mut evidence = RatioEvidence::default();
        evidence.add(&minute((500.0, 50.0), (0.0, 0.0)), 0.0);
        evidence.add(&minute((0.0, 0.0), (500.0, 5.0)), 0.0);
        assert_eq!(evidence, RatioEvidence::default());
    }

    #[test]
    fn dispersion_shrinks_each_minutes_weight() {
        let counts = minute((200.0, 10.0), (200.0, 2.0));
        let (mut binomial, mut noisy) = (RatioEvidence::default(), RatioEvidence::default());
        binomial.add(&counts, 0.0);
        noisy.add(&counts, 0.05);
        assert!(noisy.log_mixture(1.5) < binomial.log_mixture(1.5));
        assert!((noisy.max_factor - (1.0 + 2.0 * 0.05 * 0.25 * 12.0)).abs() < 1e-12);
    }

    #[test]
    fn dispersion_is_zero_for_binomial_minutes_and_large_for_bursts() {
        let steady: Vec<(f64, f64)> = (0..30)
            .map(|i| (1000.0, 10.0 + f64::from(i % 3) - 1.0))
            .collect();
        assert_eq!(dispersion(&steady).estimate, 0.0);
        assert_eq!(dispersion(&steady).applied(), 0.0);
        let bursty: Vec<(f64, f64)> = (0..30)
            .map(|i| (1000.0, if i % 5 == 0 { 50.0 } else { 0.0 }))
            .collect();
        let bursts = dispersion(&bursty);
        assert!(bursts.estimate > 1.0, "{bursts:?}");
        assert!(bursts.p_value.is_some_and(|p| p < 1e-6), "{bursts:?}");
        assert_eq!(bursts.applied(), bursts.estimate);
        assert_eq!(
            dispersion(&[(100.0, 1.0)]),
            Dispersion {
                minutes: 1,
                ..Dispersion::default()
            }
        );
    }

    #[test]
    fn a_small_partial_minute_by_chance_is_not_called_bursts() {
        // Three minutes of a 3% service, the first only 100 requests: 7 errors where 3 were
        // expected moved the unweighted estimate to about 0.4; weighted, it barely moves, and
        // χ² shows nothing beyond chance.
        let minutes = [(100.0, 7.0), (3600.0, 108.0), (700.0, 21.0)];
        let found = dispersion(&minutes);
        assert!(found.estimate < 0.01, "{found:?}");
        assert!(
            found.p_value.is_some_and(|p| p > DISPERSION_SIGNIFICANCE),
            "{found:?}"
        );
        assert_eq!(found.applied(), 0.0);
    }

    #[test]
    fn overdispersion_is_applied_only_beyond_chance() {
        // Three minutes of 1,000 requests; the middle one's errors set Pearson's χ² (2 degrees
        // of freedom, 1% point 9.21): 45 against 30 and 30 gives 4.4, 60 gives 15.6.
        let middle = |errors: f64| dispersion(&[(1000.0, 30.0), (1000.0, errors), (1000.0, 30.0)]);
        let mild = middle(45.0);
        assert!(
            mild.estimate > 0.0 && mild.p_value.is_some_and(|p| p > 0.05),
            "{mild:?}"
        );
        assert_eq!(mild.applied(), 0.0);
        let strong = middle(60.0);
        assert!(strong.p_value.is_some_and(|p| p < 0.001), "{strong:?}");
        assert!(strong.applied() > 0.0);
    }

    #[test]
    fn the_pass_test_needs_enough_clean_requests() {
        let p_bad = 0.005;
        let limit = (1.0 / 0.01f64).ln();
        assert!(log_below(0.0, 500.0, p_bad) < limit);
        assert!(log_below(0.0, 3000.0, p_bad) >= limit);
        // A green at the margin never passes on average.
        assert!(requests_to_rule_out(p_bad, p_bad, 0.01).is_none());
        let needed = requests_to_rule_out(0.0, p_bad, 0.01).expect("clean green passes");
        assert!((1000.0..3000.0).contains(&needed), "{needed}");
        assert_eq!(log_below(1.0, 0.0, p_bad), 0.0);
    }

    #[test]
    fn what_could_be_ruled_out_shrinks_with_traffic() {
        let few = smallest_ruled_out(0.01, 1_000.0, 0.01).expect("some rate");
        let many = smallest_ruled_out(0.01, 100_000.0, 0.01).expect("some rate");
        assert!(few > many && many > 0.01, "{few} {many}");
        let needed = requests_to_rule_out(0.01, many, 0.01).expect("reachable");
        assert!((needed - 100_000.0).abs() / 100_000.0 < 0.01, "{needed}");
        assert_eq!(smallest_ruled_out(0.01, 0.0, 0.01), None);
    }
}
