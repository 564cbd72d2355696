//! The AWS calls of one invocation: when each reached the endpoint, and the critical path a plan
//! allows.
//!
//! [`CallTimes`] is the first supplement of the functions' endpoint: it notes each call's arrival
//! and lets the call through. Under an injected latency `L` per call, a call that had to wait for
//! another's answer arrives at least `L` after it, while calls made side by side arrive together;
//! [`sequential_rounds`] counts those waves, the round trips the invocation actually made in a row.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use greenlight_sim::endpoint::{Call, Supplement, SupplementFuture, Upstream};

/// Arrival times of the calls that reached the endpoint, with their `service:operation`.
#[derive(Debug, Default, Clone)]
pub struct CallTimes {
    seen: Arc<Mutex<Vec<(Instant, String)>>>,
}

impl CallTimes {
    /// Forgets what was noted.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// What was noted, in arrival order.
    pub fn take(&self) -> Vec<(Instant, String)> {
        std::mem::take(&mut *self.lock())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(Instant, String)>> {
        self.seen.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Supplement for CallTimes {
    fn answer<'a>(&'a self, call: &'a Call, _upstream: &'a Upstream) -> SupplementFuture<'a> {
        let name = format!("{}:{}", call.service, call.operation);
        self.lock().push((Instant::now(), name));
        Box::pin(async { None })
    }
}

/// How many waves of calls arrived one after another: a call more than half the injected latency
/// after the previous one starts a new wave. With no latency injected the waves cannot be told
/// apart, and `None` is returned.
pub fn sequential_rounds(arrivals: &[Instant], injected: Duration) -> Option<usize> {
    if injected.is_zero() {
        return None;
    }
    let mut sorted = arrivals.to_vec();
    sorted.sort();
    let Some(first) = sorted.first().copied() else {
        return Some(0);
    };
    let mut rounds = 1;
    let mut previous = first;
    for arrival in sorted.into_iter().skip(1) {
        if arrival.saturating_duration_since(previous) > injected / 2 {
            rounds += 1;
        }
        previous = arrival;
    }
    Some(rounds)
}

/// The longest chain of dependent AWS calls of a plan as greenlight gathers it, derived from the
/// facts each check needs (bench/README.md explains each chain).
#[derive(Debug, Clone, Copy)]
pub struct CriticalPath {
    /// The chain, in order: each call needs the previous one's answer.
    pub chain: &'static [&'static str],
}

impl CriticalPath {
    /// Round trips on the chain.
    pub fn round_trips(&self) -> usize {
        self.chain.len()
    }

    /// The chain's length under `latency` per call: the least time the stage can take.
    pub fn floor(&self, latency: Duration) -> Duration {
        latency * u32::try_from(self.round_trips()).unwrap_or(u32::MAX)
    }
}

/// POST_SCALE_UP (tasks and green's target health). The event has no traffic weights yet, so blue
/// is the deployment's source revision: the revisions wait for the deployment, the task list and
/// the listener rules wait for green's revision, and green's target health waits for the rule that
/// names green's target group.
pub const POST_SCALE_UP_PATH: CriticalPath = CriticalPath {
    chain: &[
        "ecs:DescribeServiceDeployments",
        "ecs:DescribeServiceRevisions",
        "ecs:ListTasks",
        "ecs:DescribeTasks",
    ],
};

/// The six-check PRODUCTION_TRAFFIC_SHIFT plan (image, tasks, target health, both listener rules,
/// alarms). The event's weights name blue, so the revisions are described at once; everything else
/// needs green's revision, and the longest chains are revision → task list → task details and
/// revision → listener rules → green's target health.
pub const SIX_CHECK_PATH: CriticalPath = CriticalPath {
    chain: &[
        "ecs:DescribeServiceRevisions",
        "ecs:ListTasks",
        "ecs:DescribeTasks",
    ],
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waves_are_counted_by_gaps_above_half_the_latency() {
        let start = Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);
        let arrivals = [at(0), at(1), at(102), at(103), at(104), at(205)];
        assert_eq!(
            sequential_rounds(&arrivals, Duration::from_millis(100)),
            Some(3)
        );
    }

    #[test]
    fn without_injected_latency_waves_are_not_told_apart() {
        assert_eq!(sequential_rounds(&[Instant::now()], Duration::ZERO), None);
    }

    #[test]
    fn no_calls_no_rounds() {
        assert_eq!(sequential_rounds(&[], Duration::from_millis(20)), Some(0));
    }

    #[test]
    fn the_floor_is_round_trips_times_latency() {
        assert_eq!(
            SIX_CHECK_PATH.floor(Duration::from_millis(20)),
            Duration::from_millis(60)
        );
        assert_eq!(POST_SCALE_UP_PATH.round_trips(), 4);
    }
}
