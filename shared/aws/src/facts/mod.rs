//! The two [`Facts`](greenlight_core::facts::Facts) providers, one per deployment engine, and what
//! they share.
//!
//! - [`ecs`]: ECS-native deployments, learned from `DescribeServiceDeployments`,
//!   `DescribeServiceRevisions`, the tasks and the load balancer;
//! - [`codedeploy`]: CodeDeploy's ECS blue/green deployments, learned from CodeDeploy (the deployment,
//!   its group and target) and ECS (the service, its task sets and their task definitions);
//! - `tasks` and `elb`: a described task made into facts, and the load balancer's DNS name,
//!   the same for both;
//! - `Memo`: each fact gathered at most once per invocation, errors included.
//!
//! Every fact of either provider needs the same checks' IAM (the core's
//! [`Fact::ecs_actions`](greenlight_core::facts::Fact::ecs_actions), and the CodeDeploy hooks'
//! own actions in the core's catalogue).

pub mod codedeploy;
pub mod ecs;
mod elb;
pub use elb::LoadBalancerNames;
mod tasks;

use std::future::Future;

use greenlight_core::facts::FactError;
use tokio::sync::OnceCell;

/// One fact of an invocation: gathered on first use and only once, however many checks ask at the
/// same time; every caller gets the same result, errors included. An error is kept for the rest
/// of the invocation on purpose: the SDK has already retried, and the engine judges again on the
/// next invocation, which starts afresh.
#[derive(Debug)]
pub(crate) struct Memo<T>(OnceCell<Result<T, FactError>>);

impl<T: Clone> Memo<T> {
    /// A fact not gathered yet.
    pub(crate) const fn new() -> Self {
        Memo(OnceCell::const_new())
    }

    /// The fact, gathering it with `gather` the first time.
    pub(crate) async fn get<F>(&self, gather: impl FnOnce() -> F) -> Result<T, FactError>
    where
        F: Future<Output = Result<T, FactError>>,
    {
        self.0.get_or_init(gather).await.clone()
    }
}
