//! The gather half of every check: the I/O that fetches evidence for the core's judges.
//!
//! Each module builds its check from the config params and the shared [`CheckDeps`], and implements
//! [`Check`]. Facts several checks need come from
//! [`CheckDeps::facts`], gathered once per invocation; what only one check needs (ECR images, alarm
//! states, target health) it fetches itself, batched.

pub mod alarms;
pub mod compare;
pub mod http;
pub mod image;
pub mod lambda;
pub mod metric;
pub mod metric_data;
pub mod routing;
pub mod target_health;
pub mod tasks;

use std::sync::Arc;

use greenlight_core::checks::CheckKind;
use greenlight_core::engine::Check;
use greenlight_core::facts::Facts;
use greenlight_core::platform::Platform;

use crate::clients::AwsClients;

/// What every check is built with: the invocation's shared facts and the clients.
#[derive(Clone)]
pub struct CheckDeps {
    /// Facts about the deployment, gathered once per invocation.
    pub facts: Arc<dyn Facts>,
    /// The AWS clients (cheap to clone).
    pub clients: AwsClients,
    /// The HTTP client for synthetic traffic, built once per cold start.
    pub http: reqwest::Client,
    /// All metric queries of the stage, fetched together.
    pub metric_data: Arc<metric_data::MetricData>,
    /// The platform's rules (secret paths and hosts, loopback), from the function's environment.
    pub platform: Arc<Platform>,
}

/// The runnable check for one kind and its params: one arm per kind of the core's check registry
/// (the compiler holds the two together).
pub fn build_check(kind: &CheckKind, deps: &CheckDeps) -> Box<dyn Check> {
    match kind {
        CheckKind::Image(params) => image::build(params, deps),
        CheckKind::Tasks(params) => tasks::build(params, deps),
        CheckKind::TargetHealth(params) => target_health::build(params, deps),
        CheckKind::Routing(params) => routing::build(params, deps),
        CheckKind::Alarms(params) => alarms::build(params, deps),
        CheckKind::Metric(params) => metric::build(params, deps),
        CheckKind::Compare(params) => compare::build(params, deps),
        CheckKind::Http(params) => http::build(params, deps),
        CheckKind::Lambda(params) => lambda::build(params, deps),
    }
}
