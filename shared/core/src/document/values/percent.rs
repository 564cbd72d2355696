//! Percentages (`1%`, a share of something) and percentage points (`0.5pp`, a difference between
//! two percentages) as distinct types, so a threshold cannot be written in the wrong one.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{number_text, schema};
use crate::document::node::quote;

const PERCENT_EXPECTED: &str = "a percentage like \"1%\" or a number from 0 to 100";
const POINTS_EXPECTED: &str = "percentage points like \"0.5pp\"";

/// A percentage from 0 to 100: `1%`, `0.5%`, or a bare number (`100` means 100%, and `0.01` means
/// 0.01%, not 1%).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Percent(f64);

impl Percent {
    /// A percentage, when `value` is from 0 to 100.
    pub fn new(value: f64) -> Option<Percent> {
        (value.is_finite() && (0.0..=100.0).contains(&value)).then_some(Percent(value))
    }

    /// The percentage (`1.0` for 1%).
    pub fn value(self) -> f64 {
        self.0
    }

    /// The share it stands for (`0.01` for 1%).
    pub fn fraction(self) -> f64 {
        self.0 / 100.0
    }

    fn from_number(value: f64) -> Result<Percent, String> {
        Percent::new(value).ok_or_else(|| {
            format!(
                "expected {PERCENT_EXPECTED}, got {} (out of range)",
                number_text(value)
            )
        })
    }
}

impl FromStr for Percent {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let trimmed = text.trim();
        let number = trimmed.strip_suffix('%').unwrap_or(trimmed).trim_end();
        if trimmed.ends_with("pp") {
            return Err(format!(
                "expected {PERCENT_EXPECTED}, got {} (percentage points are for differences between two rates)",
                quote(text)
            ));
        }
        match number.parse::<f64>() {
            Ok(value) if value.is_finite() => Percent::new(value).ok_or_else(|| {
                format!(
                    "expected {PERCENT_EXPECTED}, got {} (out of range)",
                    quote(text)
                )
            }),
            _ => Err(format!("expected {PERCENT_EXPECTED}, got {}", quote(text))),
        }
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", number_text(self.0))
    }
}

impl Serialize for Percent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Percent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PercentVisitor;
        impl Visitor<'_> for PercentVisitor {
            type Value = Percent;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(PERCENT_EXPECTED)
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Percent, E> {
                text.parse().map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, value: u64) -> Result<Percent, E> {
                Percent::from_number(value as f64).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<Percent, E> {
                Percent::from_number(value as f64).map_err(E::custom)
            }
            fn visit_f64<E: de::Error>(self, value: f64) -> Result<Percent, E> {
                Percent::from_number(value).map_err(E::custom)
            }
        }
        deserializer.deserialize_any(PercentVisitor)
    }
}

impl JsonSchema for Percent {
    fn schema_name() -> Cow<'static, str> {
        "Percent".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schema(serde_json::json!({
            "description": "A percentage from 0 to 100: `1%`, `0.5%`, or a bare number (`100`).",
            "anyOf": [
                { "type": "string", "pattern": "^\\s*(100(\\.0+)?|[0-9]{1,2}(\\.[0-9]+)?|\\.[0-9]+)\\s*%?\\s*$" },
                { "type": "number", "minimum": 0, "maximum": 100 }
            ],
            "examples": ["1%", "0.5%", 100],
        }))
    }
}

/// A difference between two percentages, in percentage points: `0.5pp` means green's error rate
/// may be at most half a point above blue's (1.0% against 0.5%), which "0.5%" would not say.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct PercentagePoints(f64);

impl PercentagePoints {
    /// Percentage points, when `value` is from 0 to 100.
    pub fn new(value: f64) -> Option<PercentagePoints> {
        (value.is_finite() && (0.0..=100.0).contains(&value)).then_some(PercentagePoints(value))
    }

    /// The number of points (`0.5` for 0.5pp).
    pub fn value(self) -> f64 {
        self.0
    }

    /// The difference as a share (`0.005` for 0.5pp).
    pub fn fraction(self) -> f64 {
        self.0 / 100.0
    }
}

impl FromStr for PercentagePoints {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let trimmed = text.trim();
        let Some(number) = trimmed.strip_suffix("pp") else {
            let hint = if let Some(number) = trimmed.strip_suffix('%') {
                format!(
                    " (a difference between two rates is in percentage points: \"{}pp\")",
                    number.trim()
                )
            } else if trimmed.parse::<f64>().is_ok() {
                format!(" (add the unit: \"{trimmed}pp\")")
            } else {
                String::new()
            };
            return Err(format!(
                "expected {POINTS_EXPECTED}, got {}{hint}",
                quote(text)
            ));
        };
        match number.trim_end().parse::<f64>() {
            Ok(value) => PercentagePoints::new(value).ok_or_else(|| {
                format!(
                    "expected {POINTS_EXPECTED}, got {} (from 0pp to 100pp)",
                    quote(text)
                )
            }),
            Err(_) => Err(format!("expected {POINTS_EXPECTED}, got {}", quote(text))),
        }
    }
}

impl fmt::Display for PercentagePoints {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}pp", number_text(self.0))
    }
}

impl Serialize for PercentagePoints {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PercentagePoints {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PointsVisitor;
        impl Visitor<'_> for PointsVisitor {
            type Value = PercentagePoints;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(POINTS_EXPECTED)
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<PercentagePoints, E> {
                text.parse().map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, value: u64) -> Result<PercentagePoints, E> {
                self.visit_f64(value as f64)
            }
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<PercentagePoints, E> {
                self.visit_f64(value as f64)
            }
            fn visit_f64<E: de::Error>(self, value: f64) -> Result<PercentagePoints, E> {
                let number = number_text(value);
                Err(E::custom(format!(
                    "expected {POINTS_EXPECTED}, got {number} (add the unit: \"{number}pp\")"
                )))
            }
        }
        deserializer.deserialize_any(PointsVisitor)
    }
}

impl JsonSchema for PercentagePoints {
    fn schema_name() -> Cow<'static, str> {
        "PercentagePoints".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schema(serde_json::json!({
            "type": "string",
            "pattern": "^\\s*([0-9]+(\\.[0-9]+)?|\\.[0-9]+)\\s*pp\\s*$",
            "description": "A difference between two percentages, in percentage points: `0.5pp`.",
            "examples": ["0.5pp", "1pp"],
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_parse_with_or_without_the_sign() {
        assert_eq!("1%".parse::<Percent>().map(Percent::value), Ok(1.0));
        assert_eq!(" 0.5 % ".parse::<Percent>().map(Percent::value), Ok(0.5));
        assert_eq!("100".parse::<Percent>().map(Percent::value), Ok(100.0));
        let json: Percent = serde_json::from_value(serde_json::json!(50)).unwrap();
        assert_eq!(json.fraction(), 0.5);
    }

    #[test]
    fn percentages_refuse_what_they_are_not() {
        assert_eq!(
            "101%".parse::<Percent>().unwrap_err(),
            "expected a percentage like \"1%\" or a number from 0 to 100, got \"101%\" (out of range)"
        );
        assert!("-1%".parse::<Percent>().is_err());
        assert!("NaN%".parse::<Percent>().is_err());
        assert!("lots".parse::<Percent>().is_err());
        assert!(
            "0.5pp"
                .parse::<Percent>()
                .unwrap_err()
                .contains("percentage points are for differences")
        );
        let error = serde_json::from_value::<Percent>(serde_json::json!(150)).unwrap_err();
        assert!(
            error.to_string().contains("got 150 (out of range)"),
            "{error}"
        );
    }

    #[test]
    fn percentage_points_need_their_unit() {
        assert_eq!(
            "0.5pp"
                .parse::<PercentagePoints>()
                .map(PercentagePoints::value),
            Ok(0.5)
        );
        assert_eq!(
            "half".parse::<PercentagePoints>().unwrap_err(),
            "expected percentage points like \"0.5pp\", got \"half\""
        );
        assert_eq!(
            "0.5%".parse::<PercentagePoints>().unwrap_err(),
            "expected percentage points like \"0.5pp\", got \"0.5%\" (a difference between two rates is in percentage points: \"0.5pp\")"
        );
        assert_eq!(
            "0.5".parse::<PercentagePoints>().unwrap_err(),
            "expected percentage points like \"0.5pp\", got \"0.5\" (add the unit: \"0.5pp\")"
        );
        let error = serde_json::from_value::<PercentagePoints>(serde_json::json!(0.5)).unwrap_err();
        assert!(
            error.to_string().contains("add the unit: \"0.5pp\""),
            "{error}"
        );
        assert!("200pp".parse::<PercentagePoints>().is_err());
    }

    #[test]
    fn both_serialize_as_written() {
        assert_eq!(
            serde_json::to_value(Percent(1.0)).unwrap(),
            serde_json::json!("1%")
        );
        assert_eq!(
            serde_json::to_value(PercentagePoints(0.5)).unwrap(),
            serde_json::json!("0.5pp")
        );
    }
}
