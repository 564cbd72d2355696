//! Small statistics over timed samples: the median and percentiles the tables print.

use std::time::Duration;

use serde::Serialize;

/// A set of timings, summarized.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Summary {
    /// How many samples.
    pub samples: usize,
    /// The median, in milliseconds.
    pub median_ms: f64,
    /// The 90th percentile (nearest rank), in milliseconds.
    pub p90_ms: f64,
    /// The smallest, in milliseconds.
    pub min_ms: f64,
    /// The largest, in milliseconds.
    pub max_ms: f64,
}

impl Summary {
    /// Summarizes `samples`; `None` when there are none.
    pub fn of(samples: &[Duration]) -> Option<Summary> {
        let mut millis: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
        if millis.is_empty() {
            return None;
        }
        millis.sort_by(f64::total_cmp);
        Some(Summary {
            samples: millis.len(),
            median_ms: round(median(&millis)),
            p90_ms: round(nearest_rank(&millis, 0.90)),
            min_ms: round(millis[0]),
            max_ms: round(millis[millis.len() - 1]),
        })
    }
}

/// The median of sorted values (the mean of the two middle ones for an even count).
fn median(sorted: &[f64]) -> f64 {
    let middle = sorted.len() / 2;
    if sorted.len().is_multiple_of(2) {
        (sorted[middle - 1] + sorted[middle]) / 2.0
    } else {
        sorted[middle]
    }
}

/// The nearest-rank percentile `quantile` (0 to 1) of sorted, non-empty values.
fn nearest_rank(sorted: &[f64], quantile: f64) -> f64 {
    let rank = (quantile * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Rounds to a tenth of a millisecond, the resolution the tables print.
pub fn round(millis: f64) -> f64 {
    (millis * 10.0).round() / 10.0
}

/// `numerator / denominator` rounded to two decimals; `None` when the denominator is not positive.
pub fn ratio(numerator: f64, denominator: f64) -> Option<f64> {
    (denominator > 0.0).then(|| (numerator / denominator * 100.0).round() / 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(values: &[u64]) -> Vec<Duration> {
        values.iter().map(|v| Duration::from_millis(*v)).collect()
    }

    #[test]
    fn median_and_p90_of_an_odd_count() {
        let summary = Summary::of(&ms(&[5, 1, 3, 2, 4])).expect("samples");
        assert_eq!(summary.median_ms, 3.0);
        assert_eq!(summary.p90_ms, 5.0);
        assert_eq!((summary.min_ms, summary.max_ms), (1.0, 5.0));
    }

    #[test]
    fn median_of_an_even_count_is_the_mean_of_the_middle_two() {
        let summary = Summary::of(&ms(&[1, 2, 3, 10])).expect("samples");
        assert_eq!(summary.median_ms, 2.5);
        assert_eq!(summary.p90_ms, 10.0);
    }

    #[test]
    fn p90_is_the_nearest_rank() {
        let values: Vec<u64> = (1..=20).collect();
        assert_eq!(Summary::of(&ms(&values)).expect("samples").p90_ms, 18.0);
    }

    #[test]
    fn no_samples_no_summary() {
        assert_eq!(Summary::of(&[]), None);
    }

    #[test]
    fn ratio_refuses_a_zero_denominator() {
        assert_eq!(ratio(3.0, 2.0), Some(1.5));
        assert_eq!(ratio(1.0, 0.0), None);
    }
}
