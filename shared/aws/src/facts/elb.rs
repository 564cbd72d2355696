//! Load balancer lookups both providers make the same way.

use aws_sdk_elasticloadbalancingv2::Client;
use greenlight_core::facts::FactError;

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
