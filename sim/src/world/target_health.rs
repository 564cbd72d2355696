//! Target health as a scenario sets it.
//!
//! moto says `healthy` for every IP target and has no way to change that, while greenlight's
//! `target_health` check must see targets that are still `initial`, failing their health checks,
//! or `draining`. The supplement forwards `DescribeTargetHealth` to moto (which knows which
//! targets are registered) and replaces the `<TargetHealth>` of each target that has an override,
//! so the answer stays moto's in every other respect.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use super::World;
use super::query::{child_text, field, form_fields, splice, xml_escape, xml_reply};
use crate::endpoint::{Call, Protocol, Supplement, SupplementFuture, Upstream};

/// The health ELB reports for one target: `state` is one of `initial`, `healthy`, `unhealthy`,
/// `unused`, `draining`, `unavailable`, `unhealthy.draining`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetHealthOverride {
    /// The `State`.
    pub state: String,
    /// The `Reason` code (`Target.ResponseCodeMismatch`, `Target.Timeout`,
    /// `Elb.InitialHealthChecking`, `Target.DeregistrationInProgress`, ...).
    pub reason: Option<String>,
    /// The `Description` ELB gives with the reason.
    pub description: Option<String>,
}

impl TargetHealthOverride {
    /// Passing its health checks.
    pub fn healthy() -> Self {
        Self {
            state: "healthy".to_owned(),
            reason: None,
            description: None,
        }
    }

    /// Registered, first health checks still running.
    pub fn initial() -> Self {
        Self::with_reason(
            "initial",
            "Elb.InitialHealthChecking",
            "Initial health checks in progress",
        )
    }

    /// Failing its health checks with a wrong status code.
    pub fn unhealthy_status(codes: &str) -> Self {
        Self::with_reason(
            "unhealthy",
            "Target.ResponseCodeMismatch",
            &format!("Health checks failed with these codes: [{codes}]"),
        )
    }

    /// Failing its health checks by timing out.
    pub fn unhealthy_timeout() -> Self {
        Self::with_reason("unhealthy", "Target.Timeout", "Request timed out")
    }

    /// Being deregistered.
    pub fn draining() -> Self {
        Self::with_reason(
            "draining",
            "Target.DeregistrationInProgress",
            "Target deregistration is in progress",
        )
    }

    /// Any state with a reason and description.
    pub fn with_reason(state: &str, reason: &str, description: &str) -> Self {
        Self {
            state: state.to_owned(),
            reason: Some(reason.to_owned()),
            description: Some(description.to_owned()),
        }
    }

    fn to_xml(&self) -> String {
        let mut xml = String::from("<TargetHealth>");
        if let Some(description) = &self.description {
            xml.push_str(&format!(
                "<Description>{}</Description>",
                xml_escape(description)
            ));
        }
        xml.push_str(&format!("<State>{}</State>", xml_escape(&self.state)));
        if let Some(reason) = &self.reason {
            xml.push_str(&format!("<Reason>{}</Reason>", xml_escape(reason)));
        }
        xml.push_str("</TargetHealth>");
        xml
    }
}

/// Overrides by target group ARN, target id, and port (`None`: any port).
type OverrideKey = (String, String, Option<u16>);

/// The target health overrides in force.
#[derive(Debug, Default)]
pub struct TargetHealthOverrides {
    overrides: Mutex<BTreeMap<OverrideKey, TargetHealthOverride>>,
}

impl TargetHealthOverrides {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<OverrideKey, TargetHealthOverride>> {
        self.overrides
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Reports `health` for the target `target_id` (an IP, instance id or Lambda ARN) of the
    /// target group, on `port` only or, with `None`, on any port.
    pub fn set(
        &self,
        target_group_arn: &str,
        target_id: &str,
        port: Option<u16>,
        health: TargetHealthOverride,
    ) {
        self.lock().insert(
            (target_group_arn.to_owned(), target_id.to_owned(), port),
            health,
        );
    }

    /// Goes back to moto's answer for that target.
    pub fn remove(&self, target_group_arn: &str, target_id: &str, port: Option<u16>) {
        self.lock()
            .remove(&(target_group_arn.to_owned(), target_id.to_owned(), port));
    }

    /// Goes back to moto's answer for every target of the target group.
    pub fn clear_target_group(&self, target_group_arn: &str) {
        self.lock()
            .retain(|(group, _, _), _| group != target_group_arn);
    }

    /// The override for a target on a port: the port's own, else the any-port one.
    pub fn get(
        &self,
        target_group_arn: &str,
        target_id: &str,
        port: Option<u16>,
    ) -> Option<TargetHealthOverride> {
        let overrides = self.lock();
        let key = |port| (target_group_arn.to_owned(), target_id.to_owned(), port);
        port.and_then(|port| overrides.get(&key(Some(port))))
            .or_else(|| overrides.get(&key(None)))
            .cloned()
    }

    /// moto's `DescribeTargetHealth` XML with the overridden targets' health replaced.
    fn edit(&self, target_group_arn: &str, xml: &str) -> Option<String> {
        let document = roxmltree::Document::parse(xml).ok()?;
        let descriptions = document.descendants().find(|node| {
            node.is_element() && node.tag_name().name() == "TargetHealthDescriptions"
        })?;
        let mut edits = Vec::new();
        for member in descriptions.children().filter(roxmltree::Node::is_element) {
            let Some(target) = member
                .children()
                .find(|child| child.is_element() && child.tag_name().name() == "Target")
            else {
                continue;
            };
            let Some(id) = child_text(target, "Id") else {
                continue;
            };
            let port = child_text(target, "Port").and_then(|port| port.trim().parse().ok());
            let Some(health) = self.get(target_group_arn, id.trim(), port) else {
                continue;
            };
            if let Some(existing) = member
                .children()
                .find(|child| child.is_element() && child.tag_name().name() == "TargetHealth")
            {
                edits.push((existing.range(), health.to_xml()));
            }
        }
        Some(splice(xml, edits))
    }
}

/// Edits moto's `DescribeTargetHealth` answers with the world's overrides.
pub(crate) struct TargetHealthSupplement {
    world: World,
}

impl TargetHealthSupplement {
    pub(crate) fn new(world: World) -> Self {
        Self { world }
    }
}

impl Supplement for TargetHealthSupplement {
    fn answer<'a>(&'a self, call: &'a Call, upstream: &'a Upstream) -> SupplementFuture<'a> {
        Box::pin(async move {
            if call.service != "elasticloadbalancing"
                || call.protocol != Protocol::Query
                || call.operation != "DescribeTargetHealth"
            {
                return None;
            }
            let fields = form_fields(call);
            let target_group_arn = field(&fields, "TargetGroupArn")?.to_owned();
            // Let the endpoint forward (and report) a failure to reach moto.
            let reply = upstream.forward(call).await.ok()?;
            if !reply.status.is_success() {
                return Some(reply);
            }
            let xml = String::from_utf8_lossy(&reply.body);
            match self.world.target_health().edit(&target_group_arn, &xml) {
                Some(edited) => Some(xml_reply(reply.status, edited)),
                None => Some(reply),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOTO: &str = r#"<DescribeTargetHealthResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/">
  <DescribeTargetHealthResult>
    <TargetHealthDescriptions>
      <member>
        <HealthCheckPort>80</HealthCheckPort>
        <TargetHealth>
          <State>healthy</State>
        </TargetHealth>
        <Target>
          <Port>80</Port>
          <Id>10.0.0.1</Id>
        </Target>
      </member>
      <member>
        <HealthCheckPort>80</HealthCheckPort>
        <TargetHealth><State>healthy</State></TargetHealth>
        <Target><Port>8080</Port><Id>10.0.0.2</Id></Target>
      </member>
    </TargetHealthDescriptions>
  </DescribeTargetHealthResult>
</DescribeTargetHealthResponse>"#;

    #[test]
    fn overrides_replace_only_their_targets_health() {
        let overrides = TargetHealthOverrides::default();
        overrides.set(
            "tg",
            "10.0.0.1",
            None,
            TargetHealthOverride::unhealthy_status("500"),
        );
        overrides.set(
            "tg",
            "10.0.0.2",
            Some(9090),
            TargetHealthOverride::draining(),
        );
        overrides.set("other", "10.0.0.2", None, TargetHealthOverride::initial());
        let edited = overrides.edit("tg", MOTO).expect("parses");
        assert!(edited.contains(
            "<TargetHealth><Description>Health checks failed with these codes: [500]</Description>\
             <State>unhealthy</State><Reason>Target.ResponseCodeMismatch</Reason></TargetHealth>"
        ), "{edited}");
        // The second target's override is for another port, and another group's does not apply.
        assert!(
            edited.contains("<TargetHealth><State>healthy</State></TargetHealth>"),
            "{edited}"
        );
        assert!(roxmltree::Document::parse(&edited).is_ok());

        overrides.set(
            "tg",
            "10.0.0.2",
            Some(8080),
            TargetHealthOverride::initial(),
        );
        let edited = overrides.edit("tg", MOTO).expect("parses");
        assert!(
            edited.contains("<Reason>Elb.InitialHealthChecking</Reason>"),
            "{edited}"
        );
        overrides.clear_target_group("tg");
        assert_eq!(overrides.edit("tg", MOTO).expect("parses"), MOTO);
    }
}
