//! Metric dimension values that name deployment facts: `{green.target_group}`, `{load_balancer}`.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::schema;
use crate::document::node::quote;
use crate::document::suggest::did_you_mean;

/// A deployment fact a dimension value can name, filled in when the check runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Placeholder {
    /// `{green.target_group}`: the green target group as CloudWatch names it
    /// (`targetgroup/web-green/0123456789abcdef`).
    GreenTargetGroup,
    /// `{blue.target_group}`: the blue target group, likewise.
    BlueTargetGroup,
    /// `{load_balancer}`: the load balancer as CloudWatch names it (`app/web/0123456789abcdef`).
    LoadBalancer,
    /// `{cluster}`: the ECS cluster name.
    Cluster,
    /// `{service}`: the ECS service name.
    Service,
}

impl Placeholder {
    /// Every placeholder, in the order documented.
    pub const ALL: [Placeholder; 5] = [
        Placeholder::GreenTargetGroup,
        Placeholder::BlueTargetGroup,
        Placeholder::LoadBalancer,
        Placeholder::Cluster,
        Placeholder::Service,
    ];

    /// The name between the braces.
    pub fn name(self) -> &'static str {
        match self {
            Placeholder::GreenTargetGroup => "green.target_group",
            Placeholder::BlueTargetGroup => "blue.target_group",
            Placeholder::LoadBalancer => "load_balancer",
            Placeholder::Cluster => "cluster",
            Placeholder::Service => "service",
        }
    }
}

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Fact(Placeholder),
}

/// A dimension value, plain text or with placeholders (`{green.target_group}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DimensionTemplate {
    written: String,
    pieces: Vec<Piece>,
}

impl DimensionTemplate {
    /// The placeholders it uses.
    pub fn placeholders(&self) -> impl Iterator<Item = Placeholder> + '_ {
        self.pieces.iter().filter_map(|piece| match piece {
            Piece::Fact(placeholder) => Some(*placeholder),
            Piece::Text(_) => None,
        })
    }

    /// The value with every placeholder filled in by `fact`, or the first placeholder `fact` does
    /// not know.
    pub fn render(
        &self,
        fact: impl Fn(Placeholder) -> Option<String>,
    ) -> Result<String, Placeholder> {
        let mut value = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => value.push_str(text),
                Piece::Fact(placeholder) => {
                    value.push_str(&fact(*placeholder).ok_or(*placeholder)?)
                }
            }
        }
        Ok(value)
    }

    /// The value as written.
    pub fn as_str(&self) -> &str {
        &self.written
    }
}

impl FromStr for DimensionTemplate {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let known = || Placeholder::ALL.iter().map(|p| format!("{{{}}}", p.name()));
        let mut pieces = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                pieces.push(Piece::Text(rest[..open].to_owned()));
            }
            let after = &rest[open + 1..];
            let Some(close) = after.find('}') else {
                return Err(format!(
                    "{} has a `{{` without its `}}`; placeholders are {}",
                    quote(text),
                    known().collect::<Vec<_>>().join(", ")
                ));
            };
            let name = after[..close].trim();
            match Placeholder::ALL.into_iter().find(|p| p.name() == name) {
                Some(placeholder) => pieces.push(Piece::Fact(placeholder)),
                None => {
                    let names: Vec<String> = known().collect();
                    let suggestion =
                        did_you_mean(&format!("{{{name}}}"), names.iter().map(String::as_str))
                            .map(|s| format!("; did you mean {}?", quote(s)))
                            .unwrap_or_else(|| {
                                format!("; known placeholders: {}", names.join(", "))
                            });
                    return Err(format!(
                        "unknown placeholder {}{suggestion}",
                        quote(&format!("{{{name}}}"))
                    ));
                }
            }
            rest = &after[close + 1..];
        }
        if rest.contains('}') {
            return Err(format!("{} has a `}}` without its `{{`", quote(text)));
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_owned()));
        }
        Ok(DimensionTemplate {
            written: text.to_owned(),
            pieces,
        })
    }
}

impl fmt::Display for DimensionTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.written)
    }
}

impl Serialize for DimensionTemplate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.written)
    }
}

impl<'de> Deserialize<'de> for DimensionTemplate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TemplateVisitor;
        impl Visitor<'_> for TemplateVisitor {
            type Value = DimensionTemplate;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a dimension value, such as \"{green.target_group}\"")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<DimensionTemplate, E> {
                text.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_str(TemplateVisitor)
    }
}

impl JsonSchema for DimensionTemplate {
    fn schema_name() -> Cow<'static, str> {
        "DimensionTemplate".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schema(serde_json::json!({
            "type": "string",
            "description": "A dimension value. It may name deployment facts: `{green.target_group}`, `{blue.target_group}`, `{load_balancer}`, `{cluster}`, `{service}`.",
            "pattern": "^([^{}]|\\{\\s*(green\\.target_group|blue\\.target_group|load_balancer|cluster|service)\\s*\\})*$",
            "examples": ["{green.target_group}", "{load_balancer}"],
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_placeholders_from_facts() {
        let template: DimensionTemplate = "{green.target_group}".parse().unwrap();
        assert_eq!(
            template.placeholders().collect::<Vec<_>>(),
            vec![Placeholder::GreenTargetGroup]
        );
        let value = template
            .render(|p| (p == Placeholder::GreenTargetGroup).then(|| "targetgroup/g/1".into()));
        assert_eq!(value, Ok("targetgroup/g/1".into()));
        let mixed: DimensionTemplate = "{cluster}/{service}-x".parse().unwrap();
        assert_eq!(
            mixed.render(|p| Some(p.name().to_uppercase())),
            Ok("CLUSTER/SERVICE-x".into())
        );
        assert_eq!(mixed.render(|_| None), Err(Placeholder::Cluster));
        let plain: DimensionTemplate = "web-tg".parse().unwrap();
        assert_eq!(plain.render(|_| None), Ok("web-tg".into()));
    }

    #[test]
    fn unknown_placeholders_are_errors_with_a_suggestion() {
        assert_eq!(
            "{green.targetgroup}"
                .parse::<DimensionTemplate>()
                .unwrap_err(),
            "unknown placeholder \"{green.targetgroup}\"; did you mean \"{green.target_group}\"?"
        );
        let error = "{region}".parse::<DimensionTemplate>().unwrap_err();
        assert!(
            error.contains("known placeholders: {green.target_group}"),
            "{error}"
        );
        assert!("{cluster".parse::<DimensionTemplate>().is_err());
        assert!("cluster}".parse::<DimensionTemplate>().is_err());
    }
}
