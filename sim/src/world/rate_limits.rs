//! One account's API request-rate limits: token buckets at the rates AWS documents, shared by
//! every deployment a rehearsal runs in that account.
//!
//! AWS throttles per account and Region, per group of operations: a call takes a token from its
//! group's bucket (and, for ELB, from the account-wide ELB bucket too); a bucket refills at a
//! steady rate up to its capacity; a call that finds no token is answered with the service's
//! throttling error. The figures, with their sources (`docs/aws-contracts.md` §15):
//! - ECS, "Request throttling for the Amazon ECS API": service reads (DescribeServices) 100 / 20
//!   per second; cluster resource reads (DescribeTasks, ListTasks) 100 / 20; task definition reads
//!   50 / 20; service deployment actions (Describe/ListServiceDeployments) 50 / 20; service
//!   revision actions 50 / 20.
//! - ELB, "Request throttling for the ELB API": non-mutating actions 40 / 10, and every ELB action
//!   also from the account-level bucket, 40 / 10.
//! - CloudWatch, "CloudWatch service quotas": GetMetricData 500 per second, DescribeAlarms 9 per
//!   second (a rate, not a bucket: modelled as a bucket of one second's worth).
//! - ECR describe calls and CodeDeploy: no rate is documented. [`Undocumented`] rehearses both
//!   answers: no limit, or a strict assumed one.
//! - Lambda `Invoke`: 10 × the concurrency quota (10,000 per second by default), far above what a
//!   rehearsal sends; not modelled.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::time::Instant;

use super::faults::{Fault, fault_reply};
use crate::endpoint::{Call, Supplement, SupplementFuture, Upstream};

/// What the rehearsal assumes where AWS documents no rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Undocumented {
    /// No limit at all.
    #[default]
    Unlimited,
    /// A strict assumed bucket: 20 calls, refilled at 5 per second.
    Strict,
}

/// One bucket's documented size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BucketSpec {
    /// The bucket's name, as AWS's page names the group.
    pub name: &'static str,
    /// The most tokens it holds (the burst).
    pub capacity: f64,
    /// Tokens added per second.
    pub refill_per_second: f64,
}

const fn bucket(name: &'static str, capacity: f64, refill_per_second: f64) -> BucketSpec {
    BucketSpec {
        name,
        capacity,
        refill_per_second,
    }
}

const ECS_SERVICE_READS: BucketSpec = bucket("ecs: service read actions", 100.0, 20.0);
const ECS_CLUSTER_READS: BucketSpec = bucket("ecs: cluster resource read actions", 100.0, 20.0);
const ECS_TASK_DEFINITION_READS: BucketSpec =
    bucket("ecs: task definition read actions", 50.0, 20.0);
const ECS_SERVICE_DEPLOYMENTS: BucketSpec = bucket("ecs: service deployment actions", 50.0, 20.0);
const ECS_SERVICE_REVISIONS: BucketSpec = bucket("ecs: service revision actions", 50.0, 20.0);
const ELB_NON_MUTATING: BucketSpec = bucket("elasticloadbalancing: non-mutating", 40.0, 10.0);
const ELB_ACCOUNT: BucketSpec = bucket("elasticloadbalancing: account level", 40.0, 10.0);
const CLOUDWATCH_GET_METRIC_DATA: BucketSpec = bucket("cloudwatch: GetMetricData", 500.0, 500.0);
const CLOUDWATCH_DESCRIBE_ALARMS: BucketSpec = bucket("cloudwatch: DescribeAlarms", 9.0, 9.0);
const ECR_ASSUMED: BucketSpec = bucket("ecr: describe (assumed, undocumented)", 20.0, 5.0);
const CODEDEPLOY_ASSUMED: BucketSpec = bucket("codedeploy (assumed, undocumented)", 20.0, 5.0);

/// The buckets a call of `service`'s `operation` takes a token from (none: not limited here).
pub fn buckets_for(service: &str, operation: &str, undocumented: Undocumented) -> Vec<BucketSpec> {
    let strict = undocumented == Undocumented::Strict;
    match (service, operation) {
        ("ecs", "DescribeServices" | "ListServices") => vec![ECS_SERVICE_READS],
        (
            "ecs",
            "DescribeTasks"
            | "ListTasks"
            | "DescribeContainerInstances"
            | "ListContainerInstances"
            | "ListAttributes",
        ) => vec![ECS_CLUSTER_READS],
        (
            "ecs",
            "DescribeTaskDefinition" | "ListTaskDefinitions" | "ListTaskDefinitionFamilies",
        ) => vec![ECS_TASK_DEFINITION_READS],
        ("ecs", "DescribeServiceDeployments" | "ListServiceDeployments") => {
            vec![ECS_SERVICE_DEPLOYMENTS]
        }
        ("ecs", "DescribeServiceRevisions") => vec![ECS_SERVICE_REVISIONS],
        ("elasticloadbalancing", operation) if operation.starts_with("Describe") => {
            vec![ELB_NON_MUTATING, ELB_ACCOUNT]
        }
        ("elasticloadbalancing", _) => vec![ELB_ACCOUNT],
        ("cloudwatch", "GetMetricData") => vec![CLOUDWATCH_GET_METRIC_DATA],
        ("cloudwatch", "DescribeAlarms") => vec![CLOUDWATCH_DESCRIBE_ALARMS],
        ("ecr", operation) if strict && operation.starts_with("Describe") => vec![ECR_ASSUMED],
        ("codedeploy", _) if strict => vec![CODEDEPLOY_ASSUMED],
        _ => Vec::new(),
    }
}

#[derive(Debug)]
struct Bucket {
    spec: BucketSpec,
    tokens: f64,
    refilled_at: Instant,
}

impl Bucket {
    fn refill(&mut self, now: Instant, scale: f64) {
        let seconds = now
            .saturating_duration_since(self.refilled_at)
            .as_secs_f64();
        self.tokens =
            (self.tokens + seconds * self.spec.refill_per_second * scale).min(self.capacity(scale));
        self.refilled_at = now;
    }

    fn capacity(&self, scale: f64) -> f64 {
        (self.spec.capacity * scale).max(1.0)
    }
}

#[derive(Debug, Default)]
struct LimitsState {
    buckets: BTreeMap<&'static str, Bucket>,
    admitted: BTreeMap<String, u64>,
    throttled: BTreeMap<String, u64>,
}

/// One account's token buckets, shared by every endpoint in that account (clones share them).
#[derive(Debug, Clone)]
pub struct AccountRateLimits {
    state: Arc<Mutex<LimitsState>>,
    undocumented: Undocumented,
    scale: f64,
}

impl AccountRateLimits {
    /// The documented limits, full buckets.
    pub fn documented(undocumented: Undocumented) -> Self {
        Self::scaled(undocumented, 1.0)
    }

    /// The documented limits with every capacity and refill rate multiplied by `scale` (0.1:
    /// an account whose other tools already spend nine tenths of every bucket). A scale that is
    /// not a positive number is taken as 1.
    pub fn scaled(undocumented: Undocumented, scale: f64) -> Self {
        AccountRateLimits {
            state: Arc::default(),
            undocumented,
            scale: if scale.is_finite() && scale > 0.0 {
                scale
            } else {
                1.0
            },
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LimitsState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes a token for the call from each of its buckets; false (and nothing taken) when one of
    /// them is empty.
    pub fn admit(&self, service: &str, operation: &str) -> bool {
        let specs = buckets_for(service, operation, self.undocumented);
        let key = format!("{service}:{operation}");
        let now = Instant::now();
        let scale = self.scale;
        let mut state = self.lock();
        let mut admitted = true;
        for spec in &specs {
            let bucket = state.buckets.entry(spec.name).or_insert_with(|| Bucket {
                spec: *spec,
                tokens: (spec.capacity * scale).max(1.0),
                refilled_at: now,
            });
            bucket.refill(now, scale);
            admitted &= bucket.tokens >= 1.0;
        }
        if admitted {
            for spec in &specs {
                if let Some(bucket) = state.buckets.get_mut(spec.name) {
                    bucket.tokens -= 1.0;
                }
            }
            *state.admitted.entry(key).or_default() += 1;
        } else {
            *state.throttled.entry(key).or_default() += 1;
        }
        admitted
    }

    /// The calls throttled so far, per `service:Operation`.
    pub fn throttled(&self) -> BTreeMap<String, u64> {
        self.lock().throttled.clone()
    }

    /// The calls admitted so far, per `service:Operation`.
    pub fn admitted(&self) -> BTreeMap<String, u64> {
        self.lock().admitted.clone()
    }
}

/// Throttles the calls the account's buckets cannot admit, in each service's own error dialect.
pub(crate) struct RateLimitSupplement(pub(crate) AccountRateLimits);

impl Supplement for RateLimitSupplement {
    fn answer<'a>(&'a self, call: &'a Call, _upstream: &'a Upstream) -> SupplementFuture<'a> {
        Box::pin(async move {
            (!self.0.admit(&call.service, &call.operation))
                .then(|| fault_reply(call, Fault::Throttle))
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn every_operation_greenlight_calls_has_its_documented_bucket() {
        let documented = Undocumented::Unlimited;
        let names = |service: &str, operation: &str| -> Vec<&str> {
            buckets_for(service, operation, documented)
                .iter()
                .map(|spec| spec.name)
                .collect()
        };
        assert_eq!(
            names("ecs", "DescribeTasks"),
            names("ecs", "ListTasks"),
            "one bucket for cluster resource reads"
        );
        assert_ne!(names("ecs", "DescribeServices"), names("ecs", "ListTasks"));
        assert_eq!(
            names("elasticloadbalancing", "DescribeTargetHealth"),
            vec![ELB_NON_MUTATING.name, ELB_ACCOUNT.name]
        );
        assert_eq!(
            names("cloudwatch", "DescribeAlarms"),
            vec![CLOUDWATCH_DESCRIBE_ALARMS.name]
        );
        // Undocumented: unlimited, or the strict assumption.
        assert!(names("ecr", "DescribeImages").is_empty());
        assert_eq!(
            buckets_for("ecr", "DescribeImages", Undocumented::Strict),
            vec![ECR_ASSUMED]
        );
        assert!(buckets_for("lambda", "Invoke", Undocumented::Strict).is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_bucket_bursts_to_its_capacity_then_admits_at_its_refill_rate() {
        let limits = AccountRateLimits::documented(Undocumented::Unlimited);
        let admitted = (0..20)
            .filter(|_| limits.admit("cloudwatch", "DescribeAlarms"))
            .count();
        assert_eq!(admitted, 9, "DescribeAlarms: 9 per second");
        assert_eq!(limits.throttled()["cloudwatch:DescribeAlarms"], 11);
        tokio::time::advance(Duration::from_millis(500)).await;
        let admitted = (0..20)
            .filter(|_| limits.admit("cloudwatch", "DescribeAlarms"))
            .count();
        assert_eq!(admitted, 4, "half a second refills 4.5 tokens");
        // Other buckets are untouched.
        assert!(limits.admit("ecs", "DescribeServices"));
    }

    #[tokio::test(start_paused = true)]
    async fn an_elb_call_needs_both_its_buckets_and_takes_nothing_when_refused() {
        let limits = AccountRateLimits::documented(Undocumented::Unlimited);
        // Mutating calls drain the account-level bucket alone.
        for _ in 0..40 {
            assert!(limits.admit("elasticloadbalancing", "ModifyRule"));
        }
        assert!(!limits.admit("elasticloadbalancing", "DescribeTargetHealth"));
        tokio::time::advance(Duration::from_millis(100)).await;
        // One token back in the account bucket; the non-mutating bucket was never drawn from.
        assert!(limits.admit("elasticloadbalancing", "DescribeTargetHealth"));
        assert!(!limits.admit("elasticloadbalancing", "DescribeTargetHealth"));
    }

    #[tokio::test(start_paused = true)]
    async fn scaled_limits_shrink_every_bucket_but_never_below_one_call() {
        let limits = AccountRateLimits::scaled(Undocumented::Unlimited, 0.1);
        let admitted = (0..100)
            .filter(|_| limits.admit("ecs", "DescribeServices"))
            .count();
        assert_eq!(admitted, 10);
        let tiny = AccountRateLimits::scaled(Undocumented::Unlimited, 0.001);
        assert!(tiny.admit("cloudwatch", "DescribeAlarms"));
        assert!(!tiny.admit("cloudwatch", "DescribeAlarms"));
    }
}
