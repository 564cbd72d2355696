//! The simulated world: the state a rehearsal needs that moto does not keep.
//!
//! moto stores resources (services, load balancers, target groups, alarms) but not what happens to
//! them: which deployments ECS ran and what revisions they had, how healthy each target is, what
//! traffic the load balancer served, and when AWS misbehaves. A [`World`] holds those, and its
//! [`World::supplements`] answer the calls that read them, in the real services' wire dialects:
//! - [`EcsRecords`]: ECS `DescribeServiceRevisions`, `DescribeServiceDeployments` and
//!   `ListServiceDeployments`, from records a driver writes;
//! - [`TargetHealthOverrides`]: ELBv2 `DescribeTargetHealth`, moto's answer edited;
//! - [`TrafficRecorder`]: CloudWatch `GetMetricData` for the `AWS/ApplicationELB` metrics of the
//!   requests the local load balancer ([`crate::lb::LoadBalancerPlane`]) served;
//! - [`Iam`] (when [`World::enforce_iam`] was called): every call a function's role signs is
//!   authorized as AWS would, before anything else answers it;
//! - [`AccountRateLimits`] (when [`World::share_rate_limits`] was called): the account's API
//!   token buckets, shared with the other worlds of the same account, throttling what they cannot
//!   admit;
//! - [`FaultPlan`]: throttling, access denied, server errors, dropped connections and latency on
//!   any call, supplemented or not;
//! - [`LambdaFunctions`]: Lambda `Invoke` of the functions a rehearsal runs itself (a team's own
//!   check), which moto could only run in Docker;
//! - load balancer addresses rewritten to the loopback data plane (module `load_balancers`).
//!
//! A `World` is cheap to clone; clones share the same state.

mod alb_metrics;
mod ecs;
mod faults;
mod lambda_functions;
mod load_balancers;
pub(crate) mod prng;
pub(crate) mod query;
mod rate_limits;
mod target_health;
mod task_digests;

use std::sync::{Arc, OnceLock};

pub use alb_metrics::{PublicationDelay, RequestRecord, TrafficRecorder};
pub use ecs::EcsRecords;
pub use faults::{Fault, FaultId, FaultPlan, FaultRule};
pub use lambda_functions::{LambdaFunctions, function_name};
pub use load_balancers::LOAD_BALANCER_ADDRESS;
pub use rate_limits::{AccountRateLimits, BucketSpec, Undocumented, buckets_for};
pub use target_health::{TargetHealthOverride, TargetHealthOverrides};
pub use task_digests::{TaskDigestSupplement, TaskDigests};

use crate::endpoint::Supplement;
use crate::iam::{Iam, IamSupplement};

/// The sim's own state, shared by the endpoint's supplements, the load balancer data plane and
/// whoever drives a scenario.
#[derive(Clone, Default)]
pub struct World {
    inner: Arc<WorldState>,
}

#[derive(Default)]
struct WorldState {
    iam: OnceLock<Iam>,
    ecs: EcsRecords,
    target_health: TargetHealthOverrides,
    traffic: TrafficRecorder,
    faults: FaultPlan,
    lambda: LambdaFunctions,
    rate_limits: OnceLock<AccountRateLimits>,
}

impl std::fmt::Debug for World {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("World").finish_non_exhaustive()
    }
}

impl World {
    /// An empty world: no records, no overrides, no traffic, no faults.
    pub fn new() -> Self {
        Self::default()
    }

    /// ECS deployments and service revisions, as ECS would describe them.
    pub fn ecs(&self) -> &EcsRecords {
        &self.inner.ecs
    }

    /// Target health that differs from moto's (which says `healthy` for every IP target).
    pub fn target_health(&self) -> &TargetHealthOverrides {
        &self.inner.target_health
    }

    /// Every request the local load balancers served, the source of the ALB metrics.
    pub fn traffic(&self) -> &TrafficRecorder {
        &self.inner.traffic
    }

    /// Enforces `iam` on every call from now on: calls signed with a role's credentials
    /// ([`Iam::credentials_for_function`]) are authorized against that role. A world enforces one
    /// IAM for its whole life; `Err` hands back an `iam` given when one is already enforced.
    pub fn enforce_iam(&self, iam: Iam) -> Result<(), Iam> {
        self.inner.iam.set(iam)
    }

    /// The IAM this world enforces, if any.
    pub fn iam(&self) -> Option<&Iam> {
        self.inner.iam.get()
    }

    /// The faults injected into AWS calls.
    pub fn faults(&self) -> &FaultPlan {
        &self.inner.faults
    }

    /// The Lambda functions the rehearsal runs itself, invoked through the endpoint.
    pub fn lambda_functions(&self) -> &LambdaFunctions {
        &self.inner.lambda
    }

    /// Makes this world's calls draw on `limits`, an account's token buckets that other worlds
    /// may share (several services deploying in one account). Call it before
    /// [`World::supplements`]; false when the world already has limits.
    pub fn share_rate_limits(&self, limits: AccountRateLimits) -> bool {
        self.inner.rate_limits.set(limits).is_ok()
    }

    /// The supplements that answer from this world, in the order the endpoint must ask them:
    /// IAM first (a denied call is denied whatever else would happen), then the account's rate
    /// limits, then faults (so they apply to supplemented calls too), then the answers moto lacks.
    pub fn supplements(&self) -> Vec<Arc<dyn Supplement>> {
        let mut supplements: Vec<Arc<dyn Supplement>> =
            vec![Arc::new(IamSupplement::new(self.clone()))];
        if let Some(limits) = self.inner.rate_limits.get() {
            supplements.push(Arc::new(rate_limits::RateLimitSupplement(limits.clone())));
        }
        supplements.extend::<[Arc<dyn Supplement>; 7]>([
            Arc::new(faults::FaultSupplement::new(self.clone())),
            Arc::new(crate::iam::IamApiSupplement::new(self.clone())),
            Arc::new(ecs::EcsSupplement::new(self.clone())),
            Arc::new(target_health::TargetHealthSupplement::new(self.clone())),
            Arc::new(alb_metrics::AlbMetricsSupplement::new(self.clone())),
            Arc::new(lambda_functions::LambdaInvokeSupplement::new(
                self.inner.lambda.clone(),
            )),
            Arc::new(load_balancers::LoadBalancerAddressSupplement),
        ]);
        supplements
    }
}

/// An error from the world's data plane, sample app or load generator.
#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    /// An argument is out of range or malformed.
    #[error("invalid {what}: {detail}")]
    InvalidInput {
        /// What was invalid (`rate_per_second`, `url`, ...).
        what: &'static str,
        /// Why, and what to use instead.
        detail: String,
    },
    /// A loopback port could not be bound or served.
    #[error("could not listen on 127.0.0.1: {0}")]
    Bind(#[source] std::io::Error),
    /// A call to moto failed.
    #[error("moto {operation} failed: {detail}")]
    Moto {
        /// The operation called.
        operation: &'static str,
        /// What failed.
        detail: String,
    },
}
