//! IAM policy documents and their evaluation, as the IAM User Guide's "policy evaluation logic"
//! describes it for one identity-based policy set (no resource policies, no SCPs, no session
//! policies, which a Lambda execution role in one account does not have):
//! an explicit `Deny` wins; otherwise an `Allow` whose action, resource and conditions all match
//! allows; otherwise the request is implicitly denied.
//!
//! Matching follows the IAM JSON policy reference: action names are case-insensitive and take `*`
//! and `?` wildcards; resource ARNs are case-sensitive with the same wildcards; condition operators
//! are the documented ones greenlight's policies and the AWS managed policies use. An operator this
//! module does not know never matches (an `Allow` then does not allow), so a policy the rehearsal
//! cannot read errs on the side of denying, and [`Statement::unsupported`] says why.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A policy document.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct PolicyDocument {
    /// The statements, in order (order does not matter to IAM).
    #[serde(rename = "Statement")]
    pub statements: Vec<Statement>,
}

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum Effect {
    /// The statement grants.
    Allow,
    /// The statement refuses, whatever else grants.
    Deny,
}

/// One statement. `Action`/`NotAction`/`Resource`/`NotResource` are lists (the generated roles file
/// normalises a single string to a list of one).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Statement {
    /// The statement id, when it has one.
    #[serde(rename = "Sid", default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// Allow or Deny.
    #[serde(rename = "Effect")]
    pub effect: Effect,
    /// Actions the statement covers.
    #[serde(rename = "Action", default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Vec<String>>,
    /// Actions the statement covers by exclusion.
    #[serde(rename = "NotAction", default, skip_serializing_if = "Option::is_none")]
    pub not_action: Option<Vec<String>>,
    /// Resources the statement covers.
    #[serde(rename = "Resource", default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<Vec<String>>,
    /// Resources the statement covers by exclusion.
    #[serde(
        rename = "NotResource",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub not_resource: Option<Vec<String>>,
    /// `{operator: {key: [values]}}`.
    #[serde(
        rename = "Condition",
        default,
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub condition: BTreeMap<String, BTreeMap<String, Vec<String>>>,
    /// Who the statement is about, in a trust policy (`{"Service": "ecs.amazonaws.com"}`).
    #[serde(rename = "Principal", default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<serde_json::Value>,
}

/// The request as IAM sees it: the action, one resource and the condition keys present.
#[derive(Debug, Clone)]
pub struct RequestContext<'a> {
    /// `service:Operation`, e.g. `ecs:DescribeServices`.
    pub action: &'a str,
    /// The resource ARN, or `*` for actions without resource-level permissions.
    pub resource: &'a str,
    /// Condition keys present in the request (lower-cased names), each with its values.
    pub keys: &'a BTreeMap<String, Vec<String>>,
}

/// The result of evaluating a set of policies for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// An `Allow` statement matched and no `Deny` did.
    Allowed,
    /// A `Deny` statement matched (its `Sid`, when it has one).
    ExplicitDeny(Option<String>),
    /// Nothing allowed it.
    ImplicitDeny,
}

/// Evaluates `documents` (all the policies of one principal) for `request`.
pub fn evaluate<'d>(
    documents: impl IntoIterator<Item = &'d PolicyDocument>,
    request: &RequestContext<'_>,
) -> Decision {
    let mut allowed = false;
    for statement in documents
        .into_iter()
        .flat_map(|document| &document.statements)
    {
        if !statement.applies(request) {
            continue;
        }
        match statement.effect {
            Effect::Deny => return Decision::ExplicitDeny(statement.sid.clone()),
            Effect::Allow => allowed = true,
        }
    }
    if allowed {
        Decision::Allowed
    } else {
        Decision::ImplicitDeny
    }
}

impl PolicyDocument {
    /// Whether this trust policy lets `service_principal` (`ecs.amazonaws.com`) `sts:AssumeRole`
    /// with the request's condition keys `keys` (lower-cased names).
    pub fn trusts(&self, service_principal: &str, keys: &BTreeMap<String, Vec<String>>) -> bool {
        self.statements.iter().any(|statement| {
            statement.effect == Effect::Allow
                && statement.conditions_hold(keys)
                && statement.action.as_ref().is_some_and(|actions| {
                    actions
                        .iter()
                        .any(|action| wildcard_match(action, "sts:AssumeRole", true))
                })
                && statement
                    .principal_services()
                    .any(|service| service == service_principal)
        })
    }
}

impl Statement {
    /// Whether the statement's action, resource and condition blocks all match `request`.
    pub fn applies(&self, request: &RequestContext<'_>) -> bool {
        self.covers(request) && self.conditions_hold(request.keys)
    }

    /// Whether the statement's action and resource blocks match `request` (its conditions aside).
    pub fn covers(&self, request: &RequestContext<'_>) -> bool {
        let action_matches = match (&self.action, &self.not_action) {
            (Some(actions), _) => actions
                .iter()
                .any(|pattern| wildcard_match(pattern, request.action, true)),
            (None, Some(actions)) => !actions
                .iter()
                .any(|pattern| wildcard_match(pattern, request.action, true)),
            (None, None) => false,
        };
        let resource_matches = match (&self.resource, &self.not_resource) {
            (Some(resources), _) => resources
                .iter()
                .any(|pattern| resource_match(pattern, request.resource)),
            (None, Some(resources)) => !resources
                .iter()
                .any(|pattern| resource_match(pattern, request.resource)),
            (None, None) => false,
        };
        action_matches && resource_matches
    }

    /// The service principals a trust statement names (`ecs.amazonaws.com`).
    pub fn principal_services(&self) -> impl Iterator<Item = &str> {
        let services = self
            .principal
            .as_ref()
            .map(|principal| &principal["Service"]);
        let list: Vec<&str> = match services {
            Some(serde_json::Value::String(service)) => vec![service.as_str()],
            Some(serde_json::Value::Array(items)) => {
                items.iter().filter_map(serde_json::Value::as_str).collect()
            }
            _ => Vec::new(),
        };
        list.into_iter()
    }

    /// The condition keys the statement reads that `keys` does not hold (lower-cased), as IAM's
    /// policy simulator lists them in `MissingContextValues`.
    pub fn missing_keys(&self, keys: &BTreeMap<String, Vec<String>>) -> Vec<String> {
        self.condition
            .values()
            .flat_map(|entries| entries.keys())
            .filter(|key| !keys.contains_key(&key.to_ascii_lowercase()))
            .cloned()
            .collect()
    }

    /// Every condition operator this module cannot evaluate, for a clear message.
    pub fn unsupported(&self) -> Vec<String> {
        self.condition
            .keys()
            .filter(|operator| parse_operator(operator).is_none())
            .cloned()
            .collect()
    }

    pub(crate) fn conditions_hold(&self, keys: &BTreeMap<String, Vec<String>>) -> bool {
        self.condition.iter().all(|(operator, entries)| {
            let Some(operator) = parse_operator(operator) else {
                return false;
            };
            entries.iter().all(|(key, expected)| {
                let present = keys.get(&key.to_ascii_lowercase());
                operator.holds(present.map(Vec::as_slice), expected)
            })
        })
    }
}

/// A resource pattern against an ARN: `*` alone matches anything; otherwise wildcards within the
/// whole ARN, case-sensitively.
fn resource_match(pattern: &str, resource: &str) -> bool {
    pattern == "*" || wildcard_match(pattern, resource, false)
}

/// `*` (any run of characters, `:` and `/` included) and `?` (one character), as IAM matches them.
pub fn wildcard_match(pattern: &str, text: &str, ignore_case: bool) -> bool {
    let fold = |text: &str| -> Vec<char> {
        if ignore_case {
            text.to_lowercase().chars().collect()
        } else {
            text.chars().collect()
        }
    };
    let (pattern, text) = (fold(pattern), fold(text));
    // Iterative glob matching with one backtrack point: linear in practice, no recursion.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == '?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((star_p, star_t)) => {
                    p = star_p + 1;
                    t = star_t + 1;
                    star = Some((star_p, star_t + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

/// A condition operator: its comparison, whether it is negated, and its qualifiers.
#[derive(Debug, Clone, Copy)]
struct Operator {
    comparison: Comparison,
    negated: bool,
    if_exists: bool,
    set: SetQualifier,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Comparison {
    StringEquals,
    StringEqualsIgnoreCase,
    StringLike,
    ArnLike,
    Bool,
    Null,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetQualifier {
    Single,
    ForAnyValue,
    ForAllValues,
}

fn parse_operator(name: &str) -> Option<Operator> {
    let (set, rest) = if let Some(rest) = name.strip_prefix("ForAnyValue:") {
        (SetQualifier::ForAnyValue, rest)
    } else if let Some(rest) = name.strip_prefix("ForAllValues:") {
        (SetQualifier::ForAllValues, rest)
    } else {
        (SetQualifier::Single, name)
    };
    let (rest, if_exists) = match rest.strip_suffix("IfExists") {
        Some(rest) => (rest, true),
        None => (rest, false),
    };
    let (comparison, negated) = match rest {
        "StringEquals" => (Comparison::StringEquals, false),
        "StringNotEquals" => (Comparison::StringEquals, true),
        "StringEqualsIgnoreCase" => (Comparison::StringEqualsIgnoreCase, false),
        "StringNotEqualsIgnoreCase" => (Comparison::StringEqualsIgnoreCase, true),
        "StringLike" => (Comparison::StringLike, false),
        "StringNotLike" => (Comparison::StringLike, true),
        // ArnEquals and ArnLike behave the same way (the reference says so).
        "ArnLike" | "ArnEquals" => (Comparison::ArnLike, false),
        "ArnNotLike" | "ArnNotEquals" => (Comparison::ArnLike, true),
        "Bool" => (Comparison::Bool, false),
        "Null" => (Comparison::Null, false),
        _ => return None,
    };
    Some(Operator {
        comparison,
        negated,
        if_exists,
        set,
    })
}

impl Operator {
    /// Whether the condition holds, given the request's values for the key (`None`: absent).
    ///
    /// The reference's rules for an absent key: `Null: true` holds; `...IfExists` holds; a negated
    /// operator holds (nothing equals the values); any other operator does not hold.
    fn holds(&self, present: Option<&[String]>, expected: &[String]) -> bool {
        if self.comparison == Comparison::Null {
            let wants_absent = expected.iter().any(|value| value == "true");
            return present.is_none() == wants_absent;
        }
        let Some(values) = present else {
            return self.if_exists || self.negated;
        };
        let one = |value: &str| expected.iter().any(|e| self.compare(value, e));
        let matched = match self.set {
            SetQualifier::Single | SetQualifier::ForAnyValue => values.iter().any(|v| one(v)),
            SetQualifier::ForAllValues => values.iter().all(|v| one(v)),
        };
        matched != self.negated
    }

    fn compare(&self, value: &str, expected: &str) -> bool {
        match self.comparison {
            Comparison::StringEquals => value == expected,
            Comparison::StringEqualsIgnoreCase => value.eq_ignore_ascii_case(expected),
            Comparison::StringLike => wildcard_match(expected, value, false),
            Comparison::ArnLike => arn_like(expected, value),
            Comparison::Bool => value.eq_ignore_ascii_case(expected),
            Comparison::Null => false,
        }
    }
}

/// `ArnLike`: each of the six colon-separated parts matched on its own, wildcards within a part.
fn arn_like(pattern: &str, arn: &str) -> bool {
    let pattern_parts: Vec<&str> = pattern.splitn(6, ':').collect();
    let arn_parts: Vec<&str> = arn.splitn(6, ':').collect();
    pattern_parts.len() == arn_parts.len()
        && pattern_parts
            .iter()
            .zip(&arn_parts)
            .all(|(pattern, part)| wildcard_match(pattern, part, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document(json: serde_json::Value) -> PolicyDocument {
        serde_json::from_value(json).expect("a policy document")
    }

    fn decide(policy: &PolicyDocument, action: &str, resource: &str) -> Decision {
        decide_with(policy, action, resource, &[])
    }

    fn decide_with(
        policy: &PolicyDocument,
        action: &str,
        resource: &str,
        keys: &[(&str, &str)],
    ) -> Decision {
        let keys: BTreeMap<String, Vec<String>> = keys
            .iter()
            .map(|(key, value)| (key.to_ascii_lowercase(), vec![(*value).to_owned()]))
            .collect();
        evaluate(
            [policy],
            &RequestContext {
                action,
                resource,
                keys: &keys,
            },
        )
    }

    #[test]
    fn wildcards_match_as_iam_documents() {
        assert!(wildcard_match(
            "ecs:Describe*",
            "ecs:DescribeServices",
            false
        ));
        assert!(wildcard_match(
            "ECS:describe*",
            "ecs:DescribeServices",
            true
        ));
        assert!(!wildcard_match(
            "ECS:describe*",
            "ecs:DescribeServices",
            false
        ));
        assert!(wildcard_match(
            "arn:aws:ecs:*:123456789012:service/*",
            "arn:aws:ecs:us-east-1:123456789012:service/c/s",
            false
        ));
        assert!(wildcard_match("a?c", "abc", false));
        assert!(!wildcard_match("a?c", "ac", false));
        assert!(wildcard_match("*", "", false));
        assert!(wildcard_match("a*b*c", "aXbYbZc", false));
        assert!(!wildcard_match("a*b*c", "aXbYbZ", false));
    }

    #[test]
    fn an_allow_needs_action_and_resource_to_match() {
        let policy = document(serde_json::json!({"Statement": [{
            "Effect": "Allow",
            "Action": ["codedeploy:PutLifecycleEventHookExecutionStatus"],
            "Resource": ["arn:aws:codedeploy:us-east-1:123456789012:deploymentgroup:*"]
        }]}));
        // The action has no resource-level permissions: IAM evaluates it on `*`, which a scoped
        // ARN pattern does not match.
        assert_eq!(
            decide(
                &policy,
                "codedeploy:PutLifecycleEventHookExecutionStatus",
                "*"
            ),
            Decision::ImplicitDeny
        );
        assert_eq!(
            decide(
                &policy,
                "codedeploy:PutLifecycleEventHookExecutionStatus",
                "arn:aws:codedeploy:us-east-1:123456789012:deploymentgroup:app/group"
            ),
            Decision::Allowed
        );
    }

    #[test]
    fn an_explicit_deny_wins() {
        let policy = document(serde_json::json!({"Statement": [
            {"Effect": "Allow", "Action": ["ecs:*"], "Resource": ["*"]},
            {"Sid": "NoTasks", "Effect": "Deny", "Action": ["ecs:DescribeTasks"], "Resource": ["*"]}
        ]}));
        assert_eq!(
            decide(
                &policy,
                "ecs:DescribeTasks",
                "arn:aws:ecs:us-east-1:1:task/c/t"
            ),
            Decision::ExplicitDeny(Some("NoTasks".to_owned()))
        );
        assert_eq!(decide(&policy, "ecs:ListTasks", "*"), Decision::Allowed);
    }

    #[test]
    fn not_action_and_not_resource_exclude() {
        let policy = document(serde_json::json!({"Statement": [
            {"Effect": "Allow", "NotAction": ["iam:*"], "NotResource": ["arn:aws:s3:::secret/*"]}
        ]}));
        assert_eq!(decide(&policy, "ecs:ListTasks", "*"), Decision::Allowed);
        assert_eq!(decide(&policy, "iam:PassRole", "*"), Decision::ImplicitDeny);
        assert_eq!(
            decide(&policy, "s3:GetObject", "arn:aws:s3:::secret/key"),
            Decision::ImplicitDeny
        );
    }

    #[test]
    fn conditions_follow_the_reference_for_absent_keys() {
        let policy = document(serde_json::json!({"Statement": [{
            "Effect": "Allow", "Action": ["ecs:ListTasks"], "Resource": ["*"],
            "Condition": {"ArnLike": {"ecs:cluster": ["arn:aws:ecs:us-east-1:123456789012:cluster/*"]}}
        }]}));
        let cluster = "arn:aws:ecs:us-east-1:123456789012:cluster/web";
        assert_eq!(
            decide_with(&policy, "ecs:ListTasks", "*", &[("ecs:cluster", cluster)]),
            Decision::Allowed
        );
        assert_eq!(
            decide_with(
                &policy,
                "ecs:ListTasks",
                "*",
                &[(
                    "ecs:cluster",
                    "arn:aws:ecs:us-east-1:999999999999:cluster/web"
                )]
            ),
            Decision::ImplicitDeny
        );
        // Absent key: ArnLike does not hold.
        assert_eq!(
            decide(&policy, "ecs:ListTasks", "*"),
            Decision::ImplicitDeny
        );

        let negated = document(serde_json::json!({"Statement": [{
            "Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": ["*"],
            "Condition": {"StringNotEquals": {"kms:ViaService": ["ec2.us-east-1.amazonaws.com"]}}
        }]}));
        assert_eq!(decide(&negated, "kms:Decrypt", "*"), Decision::Allowed);
        let if_exists = document(serde_json::json!({"Statement": [{
            "Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": ["*"],
            "Condition": {"StringEqualsIfExists": {"kms:ViaService": ["ssm.us-east-1.amazonaws.com"]}}
        }]}));
        assert_eq!(decide(&if_exists, "kms:Decrypt", "*"), Decision::Allowed);
        assert_eq!(
            decide_with(
                &if_exists,
                "kms:Decrypt",
                "*",
                &[("kms:ViaService", "ec2.us-east-1.amazonaws.com")]
            ),
            Decision::ImplicitDeny
        );
    }

    #[test]
    fn an_unknown_operator_never_allows_and_is_named() {
        let policy = document(serde_json::json!({"Statement": [{
            "Effect": "Allow", "Action": ["ecs:ListTasks"], "Resource": ["*"],
            "Condition": {"DateGreaterThan": {"aws:CurrentTime": ["2020-01-01T00:00:00Z"]}}
        }]}));
        assert_eq!(
            decide(&policy, "ecs:ListTasks", "*"),
            Decision::ImplicitDeny
        );
        assert_eq!(policy.statements[0].unsupported(), vec!["DateGreaterThan"]);
    }

    #[test]
    fn arn_like_matches_part_by_part() {
        assert!(arn_like(
            "arn:aws:lambda:*:*:function:CodeDeployHook_*",
            "arn:aws:lambda:us-east-1:123456789012:function:CodeDeployHook_greenlight_AfterInstall"
        ));
        assert!(!arn_like(
            "arn:aws:lambda:*:*:function:CodeDeployHook_*",
            "arn:aws:lambda:us-east-1:123456789012:function:greenlight-post-scale-up"
        ));
    }
}
