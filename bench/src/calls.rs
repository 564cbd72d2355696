//! The AWS calls of one invocation: when each reached the endpoint and when it was answered, and
//! the critical path a plan allows.
//!
//! [`CallTimes`] is the functions' endpoint's only supplement: it notes each call's arrival, hands
//! the call to the supplements it wraps (the world's faults and answers) and else to moto, and
//! notes when the answer was ready. Under an injected latency `L` per call, a call that had to wait
//! for another's answer arrives at least `L` after it, while calls made side by side arrive
//! together; [`sequential_rounds`] counts those waves, the round trips the invocation actually
//! made in a row. [`CriticalPath::measured`] times the plan's chains of dependent calls as the
//! endpoint answered them.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use greenlight_sim::endpoint::{Call, Reply, Supplement, SupplementFuture, Upstream};
use reqwest::StatusCode;

/// One call as the endpoint saw it.
#[derive(Debug, Clone)]
pub struct TimedCall {
    /// `service:operation`.
    pub name: String,
    /// When the call reached the endpoint.
    pub arrived: Instant,
    /// When its answer was ready (injected latency included).
    pub answered: Instant,
}

impl TimedCall {
    /// How long the endpoint took to answer.
    pub fn duration(&self) -> Duration {
        self.answered.saturating_duration_since(self.arrived)
    }
}

/// The calls that reached the endpoint, timed; clones share what they note.
#[derive(Clone)]
pub struct CallTimes {
    seen: Arc<Mutex<Vec<TimedCall>>>,
    inner: Arc<Vec<Arc<dyn Supplement>>>,
}

impl CallTimes {
    /// Times every call, answered by `inner` (in order) or else by moto, as the endpoint would.
    pub fn around(inner: Vec<Arc<dyn Supplement>>) -> Self {
        CallTimes {
            seen: Arc::default(),
            inner: Arc::new(inner),
        }
    }

    /// Forgets what was noted.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// What was noted, in the order the answers were ready.
    pub fn take(&self) -> Vec<TimedCall> {
        std::mem::take(&mut *self.lock())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<TimedCall>> {
        self.seen.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Supplement for CallTimes {
    fn answer<'a>(&'a self, call: &'a Call, upstream: &'a Upstream) -> SupplementFuture<'a> {
        Box::pin(async move {
            let arrived = Instant::now();
            let mut reply = None;
            for supplement in self.inner.iter() {
                reply = supplement.answer(call, upstream).await;
                if reply.is_some() {
                    break;
                }
            }
            let reply = match reply {
                Some(reply) => reply,
                None => upstream.forward(call).await.unwrap_or_else(|error| {
                    Reply::json_error(
                        StatusCode::BAD_GATEWAY,
                        "InternalFailure",
                        &format!("the local AWS endpoint could not reach moto: {error}"),
                    )
                }),
            };
            self.lock().push(TimedCall {
                name: format!("{}:{}", call.service, call.operation),
                arrived,
                answered: Instant::now(),
            });
            Some(reply)
        })
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

/// A step of a chain: calls made side by side, all of which the next step waits for.
type Step = &'static [&'static str];

/// The chains of dependent AWS calls of a plan as greenlight gathers it, derived from the facts
/// each check needs (bench/README.md explains each chain).
#[derive(Debug, Clone, Copy)]
pub struct CriticalPath {
    /// The longest chain by round trips, in order: each call needs the previous one's answer.
    pub chain: &'static [&'static str],
    /// Every chain, step by step: the critical path is the longest of them in time.
    pub chains: &'static [&'static [Step]],
}

impl CriticalPath {
    /// Round trips on the longest chain.
    pub fn round_trips(&self) -> usize {
        self.chain.len()
    }

    /// The chain's length under `latency` per call with an endpoint that answers at once: the
    /// least time the stage can take anywhere.
    pub fn floor(&self, latency: Duration) -> Duration {
        latency * u32::try_from(self.round_trips()).unwrap_or(u32::MAX)
    }

    /// The longest chain as the endpoint answered this invocation's calls: each step takes as long
    /// as its slowest call, and a chain as long as its steps one after another. `None` when no
    /// chain's calls were all made.
    pub fn measured(&self, calls: &[TimedCall]) -> Option<Duration> {
        self.chains
            .iter()
            .filter_map(|chain| {
                chain
                    .iter()
                    .map(|step| {
                        calls
                            .iter()
                            .filter(|call| step.contains(&call.name.as_str()))
                            .map(TimedCall::duration)
                            .max()
                    })
                    .sum::<Option<Duration>>()
            })
            .max()
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
    chains: &[
        &[
            &["ecs:DescribeServiceDeployments"],
            &["ecs:DescribeServiceRevisions"],
            &["ecs:ListTasks"],
            &["ecs:DescribeTasks"],
        ],
        &[
            &["ecs:DescribeServiceDeployments"],
            &["ecs:DescribeServiceRevisions"],
            &[
                "elasticloadbalancing:DescribeRules",
                "elasticloadbalancing:DescribeListeners",
                "elasticloadbalancing:DescribeLoadBalancers",
            ],
            &["elasticloadbalancing:DescribeTargetHealth"],
        ],
    ],
};

/// The six-check PRODUCTION_TRAFFIC_SHIFT plan (image, tasks, target health, both listener rules,
/// alarms). The event's weights name blue, so the revisions are described at once; everything else
/// needs green's revision (the alarms the deployment record), and the longest chains are revision →
/// task lists → task details and revision → listener rules → green's target health.
pub const SIX_CHECK_PATH: CriticalPath = CriticalPath {
    chain: &[
        "ecs:DescribeServiceRevisions",
        "ecs:ListTasks",
        "ecs:DescribeTasks",
    ],
    chains: &[
        &[
            &["ecs:DescribeServiceRevisions"],
            &["ecs:ListTasks"],
            &["ecs:DescribeTasks"],
        ],
        &[
            &["ecs:DescribeServiceRevisions"],
            &[
                "elasticloadbalancing:DescribeRules",
                "elasticloadbalancing:DescribeListeners",
                "elasticloadbalancing:DescribeLoadBalancers",
            ],
            &["elasticloadbalancing:DescribeTargetHealth"],
        ],
        &[&["ecs:DescribeServiceRevisions"], &["ecr:DescribeImages"]],
        &[
            &[
                "ecs:DescribeServiceDeployments",
                "ecs:ListServiceDeployments",
            ],
            &["cloudwatch:DescribeAlarms"],
        ],
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

    fn call(name: &str, start: Instant, from_ms: u64, to_ms: u64) -> TimedCall {
        TimedCall {
            name: name.to_owned(),
            arrived: start + Duration::from_millis(from_ms),
            answered: start + Duration::from_millis(to_ms),
        }
    }

    #[test]
    fn the_measured_path_is_the_longest_chain_of_its_slowest_steps() {
        let start = Instant::now();
        let calls = [
            call("ecs:DescribeServiceRevisions", start, 0, 25),
            call("ecs:DescribeServiceDeployments", start, 0, 22),
            call("ecs:ListServiceDeployments", start, 0, 30),
            // Two task lists side by side: the step takes as long as the slower.
            call("ecs:ListTasks", start, 26, 50),
            call("ecs:ListTasks", start, 26, 60),
            call("ecr:DescribeImages", start, 26, 48),
            call("elasticloadbalancing:DescribeRules", start, 26, 70),
            call("cloudwatch:DescribeAlarms", start, 31, 55),
            call("ecs:DescribeTasks", start, 61, 85),
            call("elasticloadbalancing:DescribeTargetHealth", start, 71, 90),
        ];
        // Tasks: 25 + 34 + 24 = 83; routing: 25 + 44 + 19 = 88; image 47; alarms 54.
        assert_eq!(
            SIX_CHECK_PATH.measured(&calls),
            Some(Duration::from_millis(88))
        );
    }

    #[test]
    fn a_chain_whose_calls_were_not_all_made_is_not_a_path() {
        let start = Instant::now();
        let calls = [call("ecs:DescribeServiceRevisions", start, 0, 25)];
        assert_eq!(SIX_CHECK_PATH.measured(&calls), None);
    }
}
