//! Exact binomial tails and Clopper–Pearson bounds, for a share judged from one batch of
//! requests (the `http` check's slow requests).
//!
//! With `k` of `n` requests slow and a true share `p`, `P(X ≥ k)` is the chance of seeing at
//! least `k` by luck. A batch whose upper tail at the allowed share is below α is beyond noise.
//! The Clopper–Pearson bounds invert the same tails: the upper bound at level β is the largest
//! share whose lower tail `P(X ≤ k)` is still at least β (Clopper and Pearson, "The use of
//! confidence or fiducial limits illustrated in the case of the binomial", Biometrika 1934).

/// `P(X ≥ k)` for `X ~ Binomial(n, p)`.
pub fn upper_tail(k: u64, n: u64, p: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > n {
        return 0.0;
    }
    1.0 - lower_tail(k - 1, n, p)
}

/// `P(X ≤ k)` for `X ~ Binomial(n, p)`, its terms computed in log space and summed relative to
/// the largest, so that large `n` neither underflows nor loses the small terms.
pub fn lower_tail(k: u64, n: u64, p: f64) -> f64 {
    if k >= n || p <= 0.0 {
        return 1.0;
    }
    if p >= 1.0 {
        return 0.0;
    }
    let (ln_p, ln_q) = (p.ln(), (-p).ln_1p());
    // ln C(n, j) by the running product C(n, j) = C(n, j − 1) · (n − j + 1) / j.
    let mut ln_choose = 0.0;
    let mut terms = Vec::with_capacity(usize::try_from(k + 1).unwrap_or(0));
    for j in 0..=k {
        if j > 0 {
            ln_choose += ((n - j + 1) as f64).ln() - (j as f64).ln();
        }
        terms.push(ln_choose + j as f64 * ln_p + (n - j) as f64 * ln_q);
    }
    let largest = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let sum: f64 = terms.iter().map(|t| (t - largest).exp()).sum();
    (largest + sum.ln()).exp().clamp(0.0, 1.0)
}

/// The Clopper–Pearson upper bound on the share: the largest `p` with `P(X ≤ k) ≥ beta`. With no
/// slow request in `n`, it is about `−ln(β) / n` (3/n at 95%): what the batch could rule out.
pub fn upper_bound(k: u64, n: u64, beta: f64) -> f64 {
    if n == 0 || k >= n {
        return 1.0;
    }
    bisect(|p| lower_tail(k, n, p) >= beta)
}

/// The Clopper–Pearson lower bound: the smallest `p` with `P(X ≥ k) ≥ alpha`; 0 when `k` is 0.
pub fn lower_bound(k: u64, n: u64, alpha: f64) -> f64 {
    if n == 0 || k == 0 {
        return 0.0;
    }
    // The predicate "the tail is still below α" holds from 0 up to the bound.
    bisect(|p| upper_tail(k, n, p) < alpha)
}

/// The point in [0, 1] where `holds` turns from true to false (it is true at 0).
fn bisect(holds: impl Fn(f64) -> bool) -> f64 {
    let (mut low, mut high) = (0.0_f64, 1.0_f64);
    for _ in 0..60 {
        let mid = (low + high) / 2.0;
        if holds(mid) {
            low = mid;
        } else {
            high = mid;
        }
    }
    low
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tolerance: f64) -> bool {
        (a - b).abs() <= tolerance
    }

    #[test]
    fn tails_match_hand_computed_values() {
        // P(X ≥ 1 | 50, 1%) = 1 − 0.99^50.
        assert!(close(
            upper_tail(1, 50, 0.01),
            1.0 - 0.99f64.powi(50),
            1e-12
        ));
        // P(X ≤ 1 | 100, 1%) = 0.99^100 + 100 · 0.01 · 0.99^99.
        let expected = 0.99f64.powi(100) + 100.0 * 0.01 * 0.99f64.powi(99);
        assert!(close(lower_tail(1, 100, 0.01), expected, 1e-12));
        assert_eq!(upper_tail(0, 10, 0.3), 1.0);
        assert_eq!(upper_tail(11, 10, 0.3), 0.0);
        assert_eq!(lower_tail(10, 10, 0.3), 1.0);
        // Large n neither underflows nor overflows.
        let big = upper_tail(150, 10_000, 0.01);
        assert!(big > 0.0 && big < 1e-4, "{big}");
    }

    #[test]
    fn bounds_are_clopper_pearson() {
        // No slow request in 300: the 95% upper bound is 1 − 0.05^(1/300) ≈ 0.995%.
        let none = upper_bound(0, 300, 0.05);
        assert!(close(none, 1.0 - 0.05f64.powf(1.0 / 300.0), 1e-9), "{none}");
        assert_eq!(lower_bound(0, 300, 0.05), 0.0);
        // 10 of 100 (published tables: 4.90%–17.62% two-sided 95%, i.e. 2.5% each side).
        assert!(close(lower_bound(10, 100, 0.025), 0.0490, 5e-4));
        assert!(close(upper_bound(10, 100, 0.025), 0.1762, 5e-4));
        assert_eq!(upper_bound(5, 5, 0.05), 1.0);
    }
}
