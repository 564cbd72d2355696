//! Load balancer lookups both providers make the same way.

use aws_sdk_elasticloadbalancingv2::Client;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use greenlight_core::facts::{FactError, HealthCheckFacts, TargetGroupFacts};

use super::Memo;
use crate::error::classify;

/// The DNS names of the load balancers a warm function has described, by ARN. ELB gives a load
/// balancer its DNS name when it is created and never changes it, so one `DescribeLoadBalancers`
/// per load balancer and process is enough: on a release day every judgement of every deployment
/// draws on the account's one ELB request bucket, and this call need not be among them.
/// Clones share the names.
#[derive(Debug, Clone, Default)]
pub struct LoadBalancerNames(Arc<Mutex<HashMap<String, String>>>);

impl LoadBalancerNames {
    /// Names kept at most: a function serves a handful of services; past this the map starts over.
    const MOST: usize = 256;

    fn get(&self, arn: &str) -> Option<String> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(arn)
            .cloned()
    }

    fn remember(&self, arn: &str, dns: &str) {
        let mut names = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if names.len() >= Self::MOST {
            names.clear();
        }
        names.insert(arn.to_owned(), dns.to_owned());
    }
}

/// The DNS name of load balancer `arn`: the host a test endpoint is reached at. One
/// `DescribeLoadBalancers` call the first time this process asks (`known` keeps it). A load
/// balancer that does not come back, or has no name, is [`FactError::NotFound`].
pub(crate) async fn load_balancer_dns(
    elbv2: &Client,
    known: &LoadBalancerNames,
    arn: &str,
) -> Result<String, FactError> {
    const ACTION: &str = "elasticloadbalancing:DescribeLoadBalancers";
    if let Some(dns) = known.get(arn) {
        return Ok(dns);
    }
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
        .map(|dns| {
            known.remember(arn, dns);
            dns.to_owned()
        })
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

/// The health check of green's target group, gathered once into `memo`: `groups` names the
/// group ([`FactError::NotReady`] while it is not known).
pub(crate) async fn green_health_check_once(
    memo: &Memo<Arc<HealthCheckFacts>>,
    elbv2: &Client,
    groups: impl Future<Output = Result<Arc<TargetGroupFacts>, FactError>>,
) -> Result<Arc<HealthCheckFacts>, FactError> {
    memo.get(|| async { green_health_check(elbv2, &*groups.await?).await })
        .await
}

async fn green_health_check(
    elbv2: &Client,
    groups: &TargetGroupFacts,
) -> Result<Arc<HealthCheckFacts>, FactError> {
    let Some(group) = groups.green.as_deref() else {
        return Err(FactError::NotReady {
            what: "green's target group".to_owned(),
            detail: "neither green's resolved configuration nor where green's tasks are registered names it yet"
                .to_owned(),
        });
    };
    health_check(elbv2, group).await.map(Arc::new)
}

#[cfg(test)]
mod tests {
    use aws_sdk_elasticloadbalancingv2::Client as Elb;
    use aws_sdk_elasticloadbalancingv2::operation::describe_load_balancers::DescribeLoadBalancersOutput;
    use aws_sdk_elasticloadbalancingv2::types::LoadBalancer;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    use super::*;

    const ARN: &str = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/web/1";

    #[tokio::test]
    async fn a_warm_process_describes_each_load_balancer_once() {
        let described = mock!(Elb::describe_load_balancers).then_output(|| {
            DescribeLoadBalancersOutput::builder()
                .load_balancers(
                    LoadBalancer::builder()
                        .load_balancer_arn(ARN)
                        .dns_name("web.elb.example")
                        .build(),
                )
                .build()
        });
        let elbv2 = mock_client!(
            aws_sdk_elasticloadbalancingv2,
            RuleMode::MatchAny,
            [&described]
        );
        let known = LoadBalancerNames::default();
        for _ in 0..3 {
            let dns = load_balancer_dns(&elbv2, &known, ARN).await.expect("dns");
            assert_eq!(dns, "web.elb.example");
        }
        assert_eq!(
            described.num_calls(),
            1,
            "the name is kept across judgements"
        );
        // Another process (its own names) asks again.
        load_balancer_dns(&elbv2, &LoadBalancerNames::default(), ARN)
            .await
            .expect("dns");
        assert_eq!(described.num_calls(), 2);
    }

    #[tokio::test]
    async fn a_load_balancer_without_a_name_is_not_remembered() {
        let nameless = mock!(Elb::describe_load_balancers)
            .then_output(|| DescribeLoadBalancersOutput::builder().build());
        let elbv2 = mock_client!(
            aws_sdk_elasticloadbalancingv2,
            RuleMode::MatchAny,
            [&nameless]
        );
        let known = LoadBalancerNames::default();
        for _ in 0..2 {
            let error = load_balancer_dns(&elbv2, &known, ARN)
                .await
                .expect_err("no name");
            assert!(matches!(error, FactError::NotFound { .. }), "{error:?}");
        }
        assert_eq!(nameless.num_calls(), 2);
    }
}
