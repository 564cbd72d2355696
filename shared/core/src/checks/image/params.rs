//! `image`: every container image of the green revision resolves to a digest that exists, comes
//! from an allowed registry, and has no more scan findings than allowed.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::checks::CheckKind;
use crate::checks::registry::{CheckParams, Validation};
use crate::document::node::quote;
use crate::document::values::schema;

/// Params of the `image` check. With none set it still checks that every image resolves to a
/// digest that exists.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImageParams {
    /// Registries images may come from, as host globs where `*` stands for one DNS label
    /// (`*.dkr.ecr.*.amazonaws.com`, `public.ecr.aws`). Empty: any registry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub registries: Vec<RegistryPattern>,
    /// Require every image to be referenced by digest (`@sha256:…`) in the task definition.
    #[serde(default)]
    pub require_digest_pinning: bool,
    /// Require ECR repositories to have immutable tags, so a tag cannot move under a deployment.
    #[serde(default)]
    pub require_immutable_tags: bool,
    /// The most scan findings allowed per severity (`{ CRITICAL: 0, HIGH: 5 }`); severities not
    /// listed are not limited.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub max_findings: BTreeMap<Severity, u32>,
}

impl From<ImageParams> for CheckKind {
    fn from(params: ImageParams) -> Self {
        CheckKind::Image(params)
    }
}

impl CheckParams for ImageParams {
    const KIND: &'static str = "image";

    fn validate(&self, _: &mut Validation<'_>) {
        // Patterns and severities are checked as they are read.
    }
}

/// An ECR scan finding severity.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Severity {
    /// `CRITICAL`.
    Critical,
    /// `HIGH`.
    High,
    /// `MEDIUM`.
    Medium,
    /// `LOW`.
    Low,
    /// `INFORMATIONAL`.
    Informational,
    /// `UNDEFINED`.
    Undefined,
}

/// A registry host glob: `*` matches one DNS label (no dots), so `*.dkr.ecr.*.amazonaws.com`
/// matches `123456789012.dkr.ecr.eu-west-1.amazonaws.com` and nothing outside `amazonaws.com`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryPattern(String);

impl RegistryPattern {
    /// Whether `host` (a registry host, with an optional port) matches, ignoring case.
    pub fn matches(&self, host: &str) -> bool {
        glob_label(self.0.as_bytes(), host.to_ascii_lowercase().as_bytes())
    }

    /// The pattern as written (lowercased).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Matches a glob where `*` is any run of characters other than `.`, in O(pattern × text) so that
/// no pattern can make matching slow.
fn glob_label(pattern: &[u8], text: &[u8]) -> bool {
    // reachable[j]: the pattern so far can match exactly text[..j].
    let mut reachable = vec![false; text.len() + 1];
    reachable[0] = true;
    for &p in pattern {
        let mut next = vec![false; text.len() + 1];
        for j in 0..=text.len() {
            if p == b'*' {
                // Stay, or extend the star over one more non-dot character.
                next[j] = reachable[j] || (j > 0 && next[j - 1] && text[j - 1] != b'.');
            } else {
                next[j] = j > 0 && reachable[j - 1] && text[j - 1] == p;
            }
        }
        reachable = next;
    }
    reachable[text.len()]
}

const EXPECTED: &str = "a registry host glob like \"*.dkr.ecr.*.amazonaws.com\"";

impl FromStr for RegistryPattern {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let pattern = text.trim().to_ascii_lowercase();
        if pattern.contains('/') {
            return Err(format!(
                "expected {EXPECTED}, got {} (registries match the host only, without a repository path)",
                quote(text)
            ));
        }
        let valid = !pattern.is_empty()
            && pattern.len() <= 253
            && pattern
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '*' | ':'));
        if !valid {
            return Err(format!("expected {EXPECTED}, got {}", quote(text)));
        }
        Ok(RegistryPattern(pattern))
    }
}

impl fmt::Display for RegistryPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for RegistryPattern {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for RegistryPattern {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PatternVisitor;
        impl Visitor<'_> for PatternVisitor {
            type Value = RegistryPattern;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(EXPECTED)
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<RegistryPattern, E> {
                text.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_str(PatternVisitor)
    }
}

impl JsonSchema for RegistryPattern {
    fn schema_name() -> Cow<'static, str> {
        "RegistryPattern".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schema(serde_json::json!({
            "type": "string",
            "pattern": "^[A-Za-z0-9.*:-]{1,253}$",
            "description": "A registry host glob; `*` matches one DNS label.",
            "examples": ["*.dkr.ecr.*.amazonaws.com", "public.ecr.aws"],
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::registry::test_support::{check, errors};

    fn params(yaml: &str) -> ImageParams {
        match check(yaml).unwrap().kind {
            CheckKind::Image(params) => params,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn reads_the_design_example() {
        let p = params(
            "image: { registries: ['*.dkr.ecr.*.amazonaws.com'], require_immutable_tags: true, max_findings: { CRITICAL: 0 } }",
        );
        assert!(p.require_immutable_tags && !p.require_digest_pinning);
        assert_eq!(p.max_findings.get(&Severity::Critical), Some(&0));
        assert!(p.registries[0].matches("123456789012.dkr.ecr.eu-west-1.amazonaws.com"));
        assert_eq!(params("image").registries, vec![]);
    }

    #[test]
    fn a_glob_star_stays_within_one_label() {
        let pattern: RegistryPattern = "*.dkr.ecr.*.amazonaws.com".parse().unwrap();
        assert!(pattern.matches("123456789012.DKR.ECR.us-east-1.amazonaws.com"));
        assert!(!pattern.matches("evil.example.dkr.ecr.us-east-1.amazonaws.com.attacker.net"));
        assert!(!pattern.matches("a.b.dkr.ecr.us-east-1.amazonaws.com"));
        let exact: RegistryPattern = "public.ecr.aws".parse().unwrap();
        assert!(exact.matches("public.ecr.aws") && !exact.matches("public.ecr.aws.evil"));
        let port: RegistryPattern = "registry.local:5000".parse().unwrap();
        assert!(port.matches("registry.local:5000"));
    }

    #[test]
    fn refuses_bad_patterns_and_severities() {
        assert!(
            errors("image: { registries: ['public.ecr.aws/team'] }")[0]
                .contains("without a repository path")
        );
        assert!(errors("image: { registries: [''] }")[0].contains("expected a registry host glob"));
        assert_eq!(
            errors("image: { max_findings: { CRITICL: 0 } }"),
            vec![
                "checks[0].image.max_findings.CRITICL: unknown value \"CRITICL\"; did you mean \"CRITICAL\"?"
            ]
        );
        assert!(
            errors("image: { max_findings: { HIGH: -1 } }")[0]
                .contains("expected a whole number, got -1")
        );
    }
}
