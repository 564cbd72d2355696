//! Which HTTP status codes count as success: `2xx`, `200`, `200-299`, `"2xx,301"`, `[200, 204]`.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::schema;
use crate::document::node::quote;

const EXPECTED: &str = "status codes like 2xx, 200, 200-299, \"2xx,301\" or [200, 204]";

/// One accepted status or set of statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusPattern {
    /// One code (`204`).
    Exact(u16),
    /// A class of codes by first digit (`2` for `2xx`).
    Class(u8),
    /// A range of codes, both ends included (`200-299`).
    Range(u16, u16),
}

impl StatusPattern {
    /// Whether `status` is one of the codes this pattern accepts.
    pub fn matches(self, status: u16) -> bool {
        match self {
            StatusPattern::Exact(code) => status == code,
            StatusPattern::Class(class) => status / 100 == u16::from(class),
            StatusPattern::Range(low, high) => (low..=high).contains(&status),
        }
    }
}

impl fmt::Display for StatusPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StatusPattern::Exact(code) => write!(f, "{code}"),
            StatusPattern::Class(class) => write!(f, "{class}xx"),
            StatusPattern::Range(low, high) => write!(f, "{low}-{high}"),
        }
    }
}

fn code(text: &str, whole: &str) -> Result<u16, String> {
    match text.trim().parse::<u16>() {
        Ok(code) if (100..=599).contains(&code) => Ok(code),
        _ => Err(format!(
            "expected {EXPECTED}, got {} ({} is not a status code from 100 to 599)",
            quote(whole),
            quote(text.trim())
        )),
    }
}

impl FromStr for StatusPattern {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let trimmed = text.trim();
        let lower = trimmed.to_ascii_lowercase();
        if let Some(class) = lower.strip_suffix("xx") {
            return match class.as_bytes() {
                [digit @ b'1'..=b'5'] => Ok(StatusPattern::Class(digit - b'0')),
                _ => Err(format!(
                    "expected {EXPECTED}, got {} (classes are 1xx to 5xx)",
                    quote(text)
                )),
            };
        }
        if let Some((low, high)) = trimmed.split_once('-') {
            let (low, high) = (code(low, text)?, code(high, text)?);
            if low > high {
                return Err(format!(
                    "expected {EXPECTED}, got {} (the range is backwards)",
                    quote(text)
                ));
            }
            return Ok(StatusPattern::Range(low, high));
        }
        if trimmed.chars().all(|c| c.is_ascii_digit()) && !trimmed.is_empty() {
            return code(trimmed, text).map(StatusPattern::Exact);
        }
        Err(format!("expected {EXPECTED}, got {}", quote(text)))
    }
}

/// The statuses that count as success, any of which matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusMatcher(Vec<StatusPattern>);

impl StatusMatcher {
    /// A matcher of the given patterns (at least one).
    pub fn new(patterns: Vec<StatusPattern>) -> Option<StatusMatcher> {
        (!patterns.is_empty()).then_some(StatusMatcher(patterns))
    }

    /// Whether `status` counts as success.
    pub fn matches(&self, status: u16) -> bool {
        self.0.iter().any(|pattern| pattern.matches(status))
    }

    /// The patterns, in the order written.
    pub fn patterns(&self) -> &[StatusPattern] {
        &self.0
    }
}

impl Default for StatusMatcher {
    /// `2xx`.
    fn default() -> Self {
        StatusMatcher(vec![StatusPattern::Class(2)])
    }
}

impl FromStr for StatusMatcher {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let patterns = text
            .split(',')
            .map(|part| {
                if part.trim().is_empty() {
                    Err(format!("expected {EXPECTED}, got {}", quote(text)))
                } else {
                    part.parse()
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(StatusMatcher(patterns))
    }
}

impl fmt::Display for StatusMatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, pattern) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            pattern.fmt(f)?;
        }
        Ok(())
    }
}

impl Serialize for StatusMatcher {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0.as_slice() {
            [StatusPattern::Exact(code)] => serializer.serialize_u16(*code),
            _ => serializer.collect_str(self),
        }
    }
}

impl<'de> Deserialize<'de> for StatusMatcher {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MatcherVisitor;
        impl<'de> Visitor<'de> for MatcherVisitor {
            type Value = StatusMatcher;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(EXPECTED)
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<StatusMatcher, E> {
                text.parse().map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, value: u64) -> Result<StatusMatcher, E> {
                self.visit_str(&value.to_string())
            }
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<StatusMatcher, E> {
                self.visit_str(&value.to_string())
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StatusMatcher, A::Error> {
                let mut patterns = Vec::new();
                while let Some(part) = seq.next_element::<StatusMatcher>()? {
                    patterns.extend(part.0);
                }
                StatusMatcher::new(patterns).ok_or_else(|| {
                    de::Error::custom(format!("expected {EXPECTED}, got an empty list"))
                })
            }
        }
        deserializer.deserialize_any(MatcherVisitor)
    }
}

impl JsonSchema for StatusMatcher {
    fn schema_name() -> Cow<'static, str> {
        "StatusMatcher".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let one = serde_json::json!({
            "anyOf": [
                { "type": "integer", "minimum": 100, "maximum": 599 },
                { "type": "string", "pattern": PATTERN }
            ]
        });
        schema(serde_json::json!({
            "description": "Status codes that count as success: `2xx`, `200`, `200-299`, `\"2xx,301\"` or a list such as `[200, 204]`.",
            "anyOf": [
                one,
                { "type": "array", "items": one, "minItems": 1 }
            ],
            "examples": ["2xx", 200, "2xx,301", [200, 204]],
        }))
    }
}

/// One or more patterns separated by commas.
const PATTERN: &str = "^\\s*([1-5][xX][xX]|[1-5][0-9][0-9](\\s*-\\s*[1-5][0-9][0-9])?)\\s*(,\\s*([1-5][xX][xX]|[1-5][0-9][0-9](\\s*-\\s*[1-5][0-9][0-9])?)\\s*)*$";

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(json: serde_json::Value) -> Result<StatusMatcher, String> {
        serde_json::from_value(json).map_err(|e| e.to_string())
    }

    #[test]
    fn reads_every_spelling() {
        let m = matcher(serde_json::json!("2xx,301")).unwrap();
        assert!(m.matches(204) && m.matches(301) && !m.matches(302) && !m.matches(500));
        let m = matcher(serde_json::json!([200, "204", "3XX"])).unwrap();
        assert_eq!(m.to_string(), "200,204,3xx");
        let m = matcher(serde_json::json!(200)).unwrap();
        assert!(m.matches(200) && !m.matches(201));
        let m = matcher(serde_json::json!("200-299")).unwrap();
        assert!(m.matches(250) && !m.matches(300));
        assert_eq!(StatusMatcher::default().to_string(), "2xx");
    }

    #[test]
    fn refuses_what_is_not_a_status() {
        for (input, says) in [
            (serde_json::json!("6xx"), "classes are 1xx to 5xx"),
            (serde_json::json!("2x"), "got \"2x\""),
            (serde_json::json!(99), "\"99\" is not a status code"),
            (serde_json::json!("299-200"), "backwards"),
            (serde_json::json!("ok"), "got \"ok\""),
            (serde_json::json!("2xx,"), "got \"2xx,\""),
            (serde_json::json!([]), "empty list"),
            (serde_json::json!(true), "expected status codes"),
        ] {
            let error = matcher(input.clone()).unwrap_err();
            assert!(error.contains(says), "{input}: {error}");
        }
    }

    #[test]
    fn serializes_back() {
        let m: StatusMatcher = "2xx,301".parse().unwrap();
        assert_eq!(
            serde_json::to_value(&m).unwrap(),
            serde_json::json!("2xx,301")
        );
        let m: StatusMatcher = "204".parse().unwrap();
        assert_eq!(serde_json::to_value(&m).unwrap(), serde_json::json!(204));
    }
}
