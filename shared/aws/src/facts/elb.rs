//! Load balancer lookups both providers make the same way.

use aws_sdk_elasticloadbalancingv2::Client;
use std::sync::Arc;

use greenlight_core::facts::{FactError, HealthCheckFacts, RoutingFacts};

use super::Memo;
use crate::error::classify;

/// The DNS name of load balancer `arn` (one `DescribeLoadBalancers` call): the host a test
/// endpoint is reached at. A load balancer that does not come back, or has no name, is
/// [`FactError::NotFound`].
pub(crate) async fn load_balancer_dns(elbv2: &Client, arn: &str) -> Result<String, FactError> {
    const ACTION: &str = "elasticloadbalancing:DescribeLoadBalancers";
    let output = elbv2
        .describe_load_balancers()
        .load_balancer_arns(arn)
        .send()
        .await
        .map_err(|error| {
            classify(
                &error,
                ACTION,
                arn,
                &[("LoadBalancerNotFound", "load balancer")],
            )
        })?;
    output
        .load_balancers()
        .iter()
        .find(|lb| lb.load_balancer_arn() == Some(arn))
        .and_then(|lb| lb.dns_name())
        .filter(|dns| !dns.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| FactError::NotFound {
            what: "load balancer".to_owned(),
            resource: arn.to_owned(),
        })
}

/// How target group `arn` checks its targets' health (one `DescribeTargetGroups` call). A group
/// that does not come back is [`FactError::NotFound`].
pub(crate) async fn health_check(elbv2: &Client, arn: &str) -> Result<HealthCheckFacts, FactError> {
    const ACTION: &str = "elasticloadbalancing:DescribeTargetGroups";
    let output = elbv2
        .describe_target_groups()
        .target_group_arns(arn)
        .send()
        .await
        .map_err(|error| {
            classify(
                &error,
                ACTION,
                arn,
                &[("TargetGroupNotFound", "target group")],
            )
        })?;
    let group = output
        .target_groups()
        .iter()
        .find(|group| group.target_group_arn() == Some(arn))
        .ok_or_else(|| FactError::NotFound {
            what: "target group".to_owned(),
            resource: arn.to_owned(),
        })?;
    let matcher = group.matcher();
    Ok(HealthCheckFacts {
        target_group_arn: arn.to_owned(),
        target_group_port: group.port(),
        protocol: group.health_check_protocol().map(|p| p.as_str().to_owned()),
        port: group.health_check_port().map(str::to_owned),
        path: group.health_check_path().map(str::to_owned),
        http_codes: matcher.and_then(|m| m.http_code()).map(str::to_owned),
        grpc_codes: matcher.and_then(|m| m.grpc_code()).map(str::to_owned),
        protocol_version: group.protocol_version().map(str::to_owned),
    })
}

/// The health check of green's target group, gathered once into `memo`: `routing` names the
/// group ([`FactError::NotReady`] while it is not known).
pub(crate) async fn green_health_check_once(
    memo: &Memo<Arc<HealthCheckFacts>>,
    elbv2: &Client,
    routing: impl Future<Output = Result<Arc<RoutingFacts>, FactError>>,
) -> Result<Arc<HealthCheckFacts>, FactError> {
    memo.get(|| async { green_health_check(elbv2, &*routing.await?).await })
        .await
}

async fn green_health_check(
    elbv2: &Client,
    routing: &RoutingFacts,
) -> Result<Arc<HealthCheckFacts>, FactError> {
    let Some(group) = routing.green_target_group.as_deref() else {
        return Err(FactError::NotReady {
            what: "green's target group".to_owned(),
            detail: "neither green's resolved configuration nor the listener rules name it yet"
                .to_owned(),
        });
    };
    health_check(elbv2, group).await.map(Arc::new)
}
