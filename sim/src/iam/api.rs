//! The IAM API reads `greenlight doctor` makes, answered from the rehearsal's roles.
//!
//! moto keeps roles but has no policy simulator, and the roles a rehearsal enforces are the
//! template's, held by [`Iam`]. So the two reads that decide whether a wiring works are answered
//! here from exactly what the rehearsal enforces (overrides included), in IAM's Query dialect:
//! - `GetRole`: the role with its trust policy, URL-encoded as IAM returns it (RFC 3986);
//!   `NoSuchEntity` (404) for a name the rehearsal has no role of;
//! - `SimulatePrincipalPolicy` for a role ARN: each action evaluated on each resource (`*` when
//!   none is given) with the context keys given. As the IAM API reference now documents it, the
//!   answer has **one `EvaluationResult` per action**: its `EvalDecision` the most restrictive of
//!   the resources' (`explicitDeny` over `implicitDeny` over `allowed`), each resource's own
//!   decision in `ResourceSpecificResults`, and the condition keys the matching statements read but
//!   the request did not give in `MissingContextValues`.
//!
//! Every other IAM call goes on to moto.

use std::collections::{BTreeMap, BTreeSet};

use http::StatusCode;

use super::policy::{self, Decision, RequestContext};
use super::{Iam, RoleDefinition};
use crate::endpoint::{Call, Reply, Supplement, SupplementFuture, Upstream};
use crate::world::World;
use crate::world::query::{field, form_fields, query_error, xml_escape, xml_reply};

const NAMESPACE: &str = "https://iam.amazonaws.com/doc/2010-05-08/";

/// Answers `iam:GetRole` and `iam:SimulatePrincipalPolicy` from the rehearsal's roles.
pub(crate) struct IamApiSupplement {
    world: World,
}

impl IamApiSupplement {
    pub(crate) fn new(world: World) -> Self {
        IamApiSupplement { world }
    }
}

impl Supplement for IamApiSupplement {
    fn answer<'a>(&'a self, call: &'a Call, _upstream: &'a Upstream) -> SupplementFuture<'a> {
        Box::pin(async move {
            if call.service != "iam" {
                return None;
            }
            let iam = self.world.iam()?;
            let fields = form_fields(call);
            match call.operation.as_str() {
                "GetRole" => Some(get_role(iam, &fields)),
                "SimulatePrincipalPolicy" => Some(simulate_principal_policy(iam, &fields)),
                _ => None,
            }
        })
    }
}

fn get_role(iam: &Iam, fields: &[(String, String)]) -> Reply {
    let Some(name) = field(fields, "RoleName") else {
        return missing("roleName");
    };
    let Some(role) = iam.role_named(name) else {
        return no_such_role(name);
    };
    let mut trust = serde_json::to_value(&role.trust).unwrap_or_default();
    if let Some(object) = trust.as_object_mut() {
        object.insert("Version".into(), "2012-10-17".into());
    }
    let encoded = percent_encode(&trust.to_string());
    xml_reply(
        StatusCode::OK,
        format!(
            "<GetRoleResponse xmlns=\"{NAMESPACE}\"><GetRoleResult><Role>\
             <Path>/</Path><AssumeRolePolicyDocument>{}</AssumeRolePolicyDocument>\
             <MaxSessionDuration>3600</MaxSessionDuration><RoleId>{}</RoleId>\
             <RoleName>{}</RoleName><Arn>{}</Arn><CreateDate>2026-01-01T00:00:00Z</CreateDate>\
             </Role></GetRoleResult>{}</GetRoleResponse>",
            xml_escape(&encoded),
            role_id(&role),
            xml_escape(role.name()),
            xml_escape(&role.arn),
            metadata()
        ),
    )
}

fn simulate_principal_policy(iam: &Iam, fields: &[(String, String)]) -> Reply {
    let Some(source) = field(fields, "PolicySourceArn") else {
        return missing("policySourceArn");
    };
    let actions = members(fields, "ActionNames");
    if actions.is_empty() {
        return missing("actionNames");
    }
    let Some(name) = source
        .split_once(":role/")
        .map(|(_, path)| path.rsplit('/').next().unwrap_or(path))
    else {
        return query_error(
            StatusCode::BAD_REQUEST,
            true,
            "InvalidInput",
            &format!("Invalid ARN {source}: the rehearsal simulates roles only"),
        );
    };
    let Some(role) = iam.role_named(name).filter(|role| role.arn == source) else {
        return no_such_role(name);
    };
    let mut resources = members(fields, "ResourceArns");
    let named = !resources.is_empty();
    if !named {
        resources.push("*".to_owned());
    }
    let keys = context_keys(fields);
    let results: String = actions
        .iter()
        .map(|action| evaluation_result(&role, action, &resources, named, &keys))
        .collect();
    xml_reply(
        StatusCode::OK,
        format!(
            "<SimulatePrincipalPolicyResponse xmlns=\"{NAMESPACE}\"><SimulatePrincipalPolicyResult>\
             <IsTruncated>false</IsTruncated><EvaluationResults>{results}</EvaluationResults>\
             </SimulatePrincipalPolicyResult>{}</SimulatePrincipalPolicyResponse>",
            metadata()
        ),
    )
}

/// One action's `EvaluationResult` across `resources`. Missing context keys are listed per
/// resource when the request named resources (`named`), else at the top, as the API reference
/// describes `MissingContextValues` for the two cases.
fn evaluation_result(
    role: &RoleDefinition,
    action: &str,
    resources: &[String],
    named: bool,
    keys: &BTreeMap<String, Vec<String>>,
) -> String {
    let mut aggregate = Decision::Allowed;
    let mut all_matched = BTreeSet::new();
    let mut all_missing = BTreeSet::new();
    let mut per_resource = String::new();
    let empty = BTreeSet::new();
    for resource in resources {
        let request = RequestContext {
            action,
            resource,
            keys,
        };
        let decision = policy::evaluate(role.policies.iter().map(|p| &p.document), &request);
        let (matched, missing) = matched_and_missing(role, &request, &decision);
        per_resource.push_str(&format!(
            "<member><EvalResourceName>{}</EvalResourceName>\
             <EvalResourceDecision>{}</EvalResourceDecision>\
             <MatchedStatements>{}</MatchedStatements>\
             <MissingContextValues>{}</MissingContextValues></member>",
            xml_escape(resource),
            decision_name(&decision),
            statements_xml(&matched),
            keys_xml(if named { &missing } else { &empty })
        ));
        aggregate = most_restrictive(aggregate, decision);
        all_matched.extend(matched);
        if !named {
            all_missing.extend(missing);
        }
    }
    let resource_name = if resources.len() == 1 {
        resources[0].clone()
    } else {
        "*".to_owned()
    };
    format!(
        "<member><EvalActionName>{}</EvalActionName><EvalResourceName>{}</EvalResourceName>\
         <EvalDecision>{}</EvalDecision><MatchedStatements>{}</MatchedStatements>\
         <MissingContextValues>{}</MissingContextValues>\
         <ResourceSpecificResults>{per_resource}</ResourceSpecificResults></member>",
        xml_escape(action),
        xml_escape(&resource_name),
        decision_name(&aggregate),
        statements_xml(&all_matched),
        keys_xml(&all_missing)
    )
}

/// The policies whose statements decided (the deny, or the allows), and the condition keys that
/// statements covering the request read but the request lacks.
fn matched_and_missing(
    role: &RoleDefinition,
    request: &RequestContext<'_>,
    decision: &Decision,
) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut matched = BTreeSet::new();
    let mut missing = BTreeSet::new();
    for named in &role.policies {
        for statement in &named.document.statements {
            if !statement.covers(request) {
                continue;
            }
            missing.extend(statement.missing_keys(request.keys));
            if !statement.conditions_hold(request.keys) {
                continue;
            }
            let decides = match decision {
                Decision::ExplicitDeny(_) => statement.effect == policy::Effect::Deny,
                Decision::Allowed => statement.effect == policy::Effect::Allow,
                Decision::ImplicitDeny => false,
            };
            if decides {
                matched.insert(named.name.clone());
            }
        }
    }
    (matched, missing)
}

fn most_restrictive(a: Decision, b: Decision) -> Decision {
    match (a, b) {
        (deny @ Decision::ExplicitDeny(_), _) | (_, deny @ Decision::ExplicitDeny(_)) => deny,
        (Decision::ImplicitDeny, _) | (_, Decision::ImplicitDeny) => Decision::ImplicitDeny,
        _ => Decision::Allowed,
    }
}

fn decision_name(decision: &Decision) -> &'static str {
    match decision {
        Decision::Allowed => "allowed",
        Decision::ExplicitDeny(_) => "explicitDeny",
        Decision::ImplicitDeny => "implicitDeny",
    }
}

fn statements_xml(policies: &BTreeSet<String>) -> String {
    policies
        .iter()
        .map(|name| {
            format!(
                "<member><SourcePolicyId>{}</SourcePolicyId>\
                 <SourcePolicyType>IAM Policy</SourcePolicyType></member>",
                xml_escape(name)
            )
        })
        .collect()
}

fn keys_xml(keys: &BTreeSet<String>) -> String {
    keys.iter()
        .map(|key| format!("<member>{}</member>", xml_escape(key)))
        .collect()
}

/// `Name.member.1`, `Name.member.2`, … in order.
fn members(fields: &[(String, String)], name: &str) -> Vec<String> {
    let prefix = format!("{name}.member.");
    let mut numbered: Vec<(usize, String)> = fields
        .iter()
        .filter_map(|(field, value)| {
            let index = field.strip_prefix(&prefix)?.parse().ok()?;
            Some((index, value.clone()))
        })
        .collect();
    numbered.sort_by_key(|(index, _)| *index);
    numbered.into_iter().map(|(_, value)| value).collect()
}

/// `ContextEntries.member.N.ContextKeyName` with its `ContextKeyValues.member.M`, keys lower-cased
/// as IAM compares them.
fn context_keys(fields: &[(String, String)]) -> BTreeMap<String, Vec<String>> {
    let mut keys = BTreeMap::new();
    for index in 1.. {
        let entry = format!("ContextEntries.member.{index}");
        let Some(name) = field(fields, &format!("{entry}.ContextKeyName")) else {
            break;
        };
        let values = members(fields, &format!("{entry}.ContextKeyValues"));
        keys.insert(name.to_ascii_lowercase(), values);
    }
    keys
}

fn missing(member: &str) -> Reply {
    query_error(
        StatusCode::BAD_REQUEST,
        true,
        "ValidationError",
        &format!(
            "1 validation error detected: Value null at '{member}' failed to satisfy constraint: \
             Member must not be null"
        ),
    )
}

fn no_such_role(name: &str) -> Reply {
    query_error(
        StatusCode::NOT_FOUND,
        true,
        "NoSuchEntity",
        &format!("The role with name {name} cannot be found."),
    )
}

fn metadata() -> &'static str {
    "<ResponseMetadata><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ResponseMetadata>"
}

/// A stable role id of the documented shape (`AROA` and 17 upper-case letters and digits).
fn role_id(role: &RoleDefinition) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut hash = crate::stack::util::fnv1a(&role.arn);
    let tail: String = (0..17)
        .map(|_| {
            let c = ALPHABET[(hash % 32) as usize] as char;
            hash = hash.rotate_right(5) ^ 0x9e37_79b9_7f4a_7c15;
            c
        })
        .collect();
    format!("AROA{tail}")
}

/// RFC 3986 percent-encoding of everything but the unreserved characters (`A-Z a-z 0-9 - _ . ~`),
/// as IAM encodes policy documents in its answers.
fn percent_encode(text: &str) -> String {
    const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(text, UNRESERVED).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iam() -> Iam {
        Iam::rehearsal().expect("bundled data")
    }

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    fn body(reply: &Reply) -> String {
        String::from_utf8_lossy(&reply.body).into_owned()
    }

    #[test]
    fn get_role_returns_the_trust_policy_url_encoded_as_iam_does() {
        let reply = get_role(&iam(), &form(&[("RoleName", "greenlight-HookInvokeRole")]));
        assert_eq!(reply.status, StatusCode::OK);
        let text = body(&reply);
        let document = text
            .split("<AssumeRolePolicyDocument>")
            .nth(1)
            .and_then(|rest| rest.split('<').next())
            .expect("a document");
        assert!(document.starts_with("%7B"), "{document}");
        let decoded: serde_json::Value =
            serde_json::from_str(&percent_encoding_decode(document)).expect("JSON once decoded");
        assert_eq!(
            decoded["Statement"][0]["Principal"]["Service"],
            "ecs.amazonaws.com"
        );
        assert!(text.contains("<RoleId>AROA"));
    }

    fn percent_encoding_decode(text: &str) -> String {
        percent_encoding::percent_decode_str(text)
            .decode_utf8()
            .expect("utf-8")
            .into_owned()
    }

    #[test]
    fn an_unknown_role_is_no_such_entity() {
        let reply = get_role(&iam(), &form(&[("RoleName", "nobody")]));
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
        assert!(body(&reply).contains("<Code>NoSuchEntity</Code>"));
    }

    #[test]
    fn simulation_gives_one_result_per_action_with_each_resources_decision() {
        let arn = "arn:aws:iam::123456789012:role/greenlight-HookInvokeRole";
        let own = "arn:aws:lambda:us-east-1:123456789012:function:greenlight-test-traffic";
        let other = "arn:aws:lambda:us-east-1:123456789012:function:someone-else";
        let reply = simulate_principal_policy(
            &iam(),
            &form(&[
                ("PolicySourceArn", arn),
                ("ActionNames.member.1", "lambda:InvokeFunction"),
                ("ActionNames.member.2", "ecs:DescribeServices"),
                ("ResourceArns.member.1", own),
                ("ResourceArns.member.2", other),
            ]),
        );
        let text = body(&reply);
        assert_eq!(reply.status, StatusCode::OK, "{text}");
        assert_eq!(text.matches("<EvalActionName>").count(), 2, "{text}");
        // Invoke: allowed on greenlight's function, not on another: the aggregate is the stricter.
        let invoke = text.split("<EvalActionName>").nth(1).expect("first");
        assert!(
            invoke.contains("<EvalDecision>implicitDeny</EvalDecision>"),
            "{invoke}"
        );
        assert!(invoke.contains(&format!(
            "<EvalResourceName>{own}</EvalResourceName><EvalResourceDecision>allowed"
        )));
        assert!(invoke.contains(&format!(
            "<EvalResourceName>{other}</EvalResourceName><EvalResourceDecision>implicitDeny"
        )));
    }

    #[test]
    fn an_override_shows_in_the_simulation() {
        let iam = iam();
        iam.override_grant(&super::super::GrantOverride {
            role: "HookInvokeRole".into(),
            action: "lambda:InvokeFunction".into(),
            resources: vec![],
        })
        .expect("override");
        let reply = simulate_principal_policy(
            &iam,
            &form(&[
                (
                    "PolicySourceArn",
                    "arn:aws:iam::123456789012:role/greenlight-HookInvokeRole",
                ),
                ("ActionNames.member.1", "lambda:InvokeFunction"),
            ]),
        );
        assert!(body(&reply).contains("<EvalDecision>implicitDeny</EvalDecision>"));
    }

    #[test]
    fn a_missing_context_key_is_listed() {
        // The hook role's permission policy has no condition: give it one.
        let mut role = iam().role_named("greenlight-HookInvokeRole").expect("role");
        role.policies[0].document.statements[0].condition.insert(
            "StringEquals".into(),
            BTreeMap::from([("aws:PrincipalTag/team".into(), vec!["web".into()])]),
        );
        let arn = "arn:aws:lambda:us-east-1:123456789012:function:greenlight-test-traffic";
        // Resources named: the keys are listed with each resource's result, not at the top.
        let xml = evaluation_result(
            &role,
            "lambda:InvokeFunction",
            &[arn.to_owned()],
            true,
            &BTreeMap::new(),
        );
        assert!(xml.contains("<EvalDecision>implicitDeny</EvalDecision>"));
        let (top, per_resource) = xml
            .split_once("<ResourceSpecificResults>")
            .expect("both parts");
        assert!(
            top.contains("<MissingContextValues></MissingContextValues>"),
            "{xml}"
        );
        assert!(
            per_resource.contains("<MissingContextValues><member>aws:PrincipalTag/team</member>"),
            "{xml}"
        );
        // No resources named: IAM evaluates on `*` and lists the keys at the top.
        role.policies[0].document.statements[0].resource = Some(vec!["*".to_owned()]);
        let xml = evaluation_result(
            &role,
            "lambda:InvokeFunction",
            &["*".to_owned()],
            false,
            &BTreeMap::new(),
        );
        let (top, _) = xml
            .split_once("<ResourceSpecificResults>")
            .expect("both parts");
        assert!(
            top.contains("<MissingContextValues><member>aws:PrincipalTag/team</member>"),
            "{xml}"
        );
    }
}
