//! Load balancer addresses that reach the local data plane.
//!
//! moto gives every load balancer a made-up DNS name (`<name>-1.us-east-1.elb.amazonaws.com`)
//! that resolves nowhere. greenlight's `http` check builds its URLs from the load balancer's
//! `DNSName` and the listener's port, so the answers that carry a `DNSName`
//! (`DescribeLoadBalancers`, `CreateLoadBalancer`) are rewritten to the loopback address, where
//! [`crate::lb::LoadBalancerPlane`] serves each listener on the very port the listener was created
//! with. The rest of the answer is moto's.

use super::query::{splice, xml_reply};
use crate::endpoint::{Call, Protocol, Supplement, SupplementFuture, Upstream};

/// The address every simulated load balancer answers on.
pub const LOAD_BALANCER_ADDRESS: &str = "127.0.0.1";

/// Rewrites `DNSName` in ELBv2 answers.
pub(crate) struct LoadBalancerAddressSupplement;

impl Supplement for LoadBalancerAddressSupplement {
    fn answer<'a>(&'a self, call: &'a Call, upstream: &'a Upstream) -> SupplementFuture<'a> {
        Box::pin(async move {
            if call.service != "elasticloadbalancing"
                || call.protocol != Protocol::Query
                || !matches!(
                    call.operation.as_str(),
                    "DescribeLoadBalancers" | "CreateLoadBalancer"
                )
            {
                return None;
            }
            let reply = upstream.forward(call).await.ok()?;
            if !reply.status.is_success() {
                return Some(reply);
            }
            let xml = String::from_utf8_lossy(&reply.body);
            match rewrite_dns_names(&xml) {
                Some(edited) => Some(xml_reply(reply.status, edited)),
                None => Some(reply),
            }
        })
    }
}

fn rewrite_dns_names(xml: &str) -> Option<String> {
    let document = roxmltree::Document::parse(xml).ok()?;
    let edits = document
        .descendants()
        .filter(|node| node.is_element() && node.tag_name().name() == "DNSName")
        .map(|node| {
            (
                node.range(),
                format!("<DNSName>{LOAD_BALANCER_ADDRESS}</DNSName>"),
            )
        })
        .collect();
    Some(splice(xml, edits))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_dns_name_becomes_the_loopback_address() {
        let xml = "<R><LoadBalancers><member><DNSName>web-1.us-east-1.elb.amazonaws.com</DNSName>\
                   <LoadBalancerName>web</LoadBalancerName></member><member><DNSName>b</DNSName>\
                   </member></LoadBalancers></R>";
        let edited = rewrite_dns_names(xml).expect("parses");
        assert_eq!(
            edited.matches("<DNSName>127.0.0.1</DNSName>").count(),
            2,
            "{edited}"
        );
        assert!(edited.contains("<LoadBalancerName>web</LoadBalancerName>"));
        assert_eq!(rewrite_dns_names("not xml <"), None);
    }
}
