//! `lambda`: a team's own function (contract tests, a business probe) says whether green is good.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::checks::CheckKind;
use crate::checks::registry::{CheckParams, Validation};
use crate::document::node::quote;

/// Params of the `lambda` check. The function gets the deployment's facts and `params`, and
/// answers with a status (pass, fail, inconclusive) and a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LambdaParams {
    /// The function: a name (`team-contract-tests`), a name with a version or alias
    /// (`team-contract-tests:live`), or an ARN.
    pub function: String,
    /// A JSON object passed to the function as is.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub params: serde_json::Map<String, serde_json::Value>,
}

impl From<LambdaParams> for CheckKind {
    fn from(params: LambdaParams) -> Self {
        CheckKind::Lambda(params)
    }
}

impl CheckParams for LambdaParams {
    const KIND: &'static str = "lambda";

    fn validate(&self, validation: &mut Validation<'_>) {
        if !is_function_reference(&self.function) {
            validation.error(
                "function",
                format!(
                    "expected a function name (`team-tests`), a name with a version or alias (`team-tests:live`) or a function ARN, got {}",
                    quote(&self.function)
                ),
            );
        }
    }
}

/// Lambda accepts a name, `name:qualifier`, `account:function:name[:qualifier]` and the full ARN.
fn is_function_reference(reference: &str) -> bool {
    let is_name = |s: &str| {
        (1..=64).contains(&s.len())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    let is_qualifier = |s: &str| {
        s == "$LATEST"
            || ((1..=128).contains(&s.len())
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    };
    let parts: Vec<&str> = reference.split(':').collect();
    match parts.as_slice() {
        [name] => is_name(name),
        [name, qualifier] => is_name(name) && is_qualifier(qualifier),
        [account, "function", name] => is_account(account) && is_name(name),
        [account, "function", name, qualifier] => {
            is_account(account) && is_name(name) && is_qualifier(qualifier)
        }
        [
            "arn",
            partition,
            "lambda",
            region,
            account,
            "function",
            name,
            rest @ ..,
        ] => {
            partition.starts_with("aws")
                && !region.is_empty()
                && region
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && is_account(account)
                && is_name(name)
                && match rest {
                    [] => true,
                    [qualifier] => is_qualifier(qualifier),
                    _ => false,
                }
        }
        _ => false,
    }
}

fn is_account(account: &str) -> bool {
    account.len() == 12 && account.chars().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::registry::test_support::{check, errors};

    #[test]
    fn accepts_the_forms_lambda_takes() {
        for function in [
            "team-contract-tests",
            "team_tests:live",
            "team-tests:$LATEST",
            "123456789012:function:team-tests",
            "arn:aws:lambda:eu-west-1:123456789012:function:team-tests",
            "arn:aws-cn:lambda:cn-north-1:123456789012:function:team-tests:7",
        ] {
            assert!(is_function_reference(function), "{function}");
        }
        for function in [
            "",
            "a b",
            "arn:aws:s3:::bucket",
            "arn:aws:lambda:eu-west-1:1:function:x",
            "x:y:z",
        ] {
            assert!(!is_function_reference(function), "{function}");
        }
    }

    #[test]
    fn params_are_any_json_object() {
        let check = check("lambda: { function: team-tests, params: { suite: smoke, retries: 2, tags: [a] }, mode: advisory }").unwrap();
        let CheckKind::Lambda(params) = check.kind else {
            panic!()
        };
        assert_eq!(
            serde_json::Value::Object(params.params),
            serde_json::json!({"suite": "smoke", "retries": 2, "tags": ["a"]})
        );
        assert!(
            errors("lambda: { function: team-tests, params: [1] }")[0].contains("expected a map")
        );
        assert!(errors("lambda: {}")[0].contains("missing required field `function`"));
        assert!(
            errors("lambda: { function: 'arn:aws:lambda:…:function:x' }")[0]
                .contains("expected a function name")
        );
    }
}
