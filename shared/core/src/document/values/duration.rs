//! Durations written for people: `90s`, `5m`, `1h30m`, `250ms`.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{number_text, schema};
use crate::document::node::quote;

const EXPECTED: &str = "a duration like \"30s\", \"5m\" or \"1h30m\"";

/// A duration as the config writes it (`90s`, `5m`, `1h30m`), parsed by `humantime`.
///
/// A bare number is refused rather than guessed at: `timeout: 30` could mean seconds or
/// milliseconds, and the difference matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct HumanDuration(pub Duration);

impl HumanDuration {
    /// The duration.
    pub fn get(self) -> Duration {
        self.0
    }
}

impl From<Duration> for HumanDuration {
    fn from(duration: Duration) -> Self {
        HumanDuration(duration)
    }
}

impl From<HumanDuration> for Duration {
    fn from(duration: HumanDuration) -> Self {
        duration.0
    }
}

impl FromStr for HumanDuration {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let trimmed = text.trim();
        if trimmed.parse::<f64>().is_ok() {
            return Err(format!(
                "expected {EXPECTED}, got {} (add a unit, such as \"{trimmed}s\")",
                quote(text)
            ));
        }
        humantime::parse_duration(trimmed)
            .map(HumanDuration)
            .map_err(|error| {
                let hint = match error {
                    humantime::DurationError::UnknownUnit { unit, .. } => {
                        format!(" (unknown unit {}; use ms, s, m, h or d)", quote(&unit))
                    }
                    humantime::DurationError::NumberOverflow => " (too large)".to_owned(),
                    _ => String::new(),
                };
                format!("expected {EXPECTED}, got {}{hint}", quote(text))
            })
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_zero() {
            return f.write_str("0s");
        }
        // The config's own spelling (`1h30m`, `1d1h`), which `humantime` reads back.
        let seconds = self.0.as_secs();
        let nanos = self.0.subsec_nanos();
        let parts = [
            (seconds / 86_400, "d"),
            (seconds / 3600 % 24, "h"),
            (seconds / 60 % 60, "m"),
            (seconds % 60, "s"),
            (u64::from(nanos / 1_000_000), "ms"),
            (u64::from(nanos / 1000 % 1000), "us"),
            (u64::from(nanos % 1000), "ns"),
        ];
        for (value, unit) in parts {
            if value > 0 {
                write!(f, "{value}{unit}")?;
            }
        }
        Ok(())
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DurationVisitor;
        impl Visitor<'_> for DurationVisitor {
            type Value = HumanDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(EXPECTED)
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<HumanDuration, E> {
                text.parse().map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, value: u64) -> Result<HumanDuration, E> {
                Err(bare_number(value as f64))
            }
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<HumanDuration, E> {
                Err(bare_number(value as f64))
            }
            fn visit_f64<E: de::Error>(self, value: f64) -> Result<HumanDuration, E> {
                Err(bare_number(value))
            }
        }
        deserializer.deserialize_any(DurationVisitor)
    }
}

fn bare_number<E: de::Error>(value: f64) -> E {
    let number = number_text(value);
    E::custom(format!(
        "expected {EXPECTED}, got {number} (add a unit, such as \"{number}s\")"
    ))
}

impl JsonSchema for HumanDuration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schema(serde_json::json!({
            "type": "string",
            "pattern": "^\\s*([0-9]+\\s*[a-zA-Z]+\\s*)+$",
            "description": "A duration with a unit: `250ms`, `30s`, `5m`, `1h30m`, `2d`.",
            "examples": ["30s", "5m", "1h30m"],
        }))
    }
}

/// `#[serde(with)]` for a [`Duration`] field written as a [`HumanDuration`].
pub(crate) mod serde_duration {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(
        value: &Duration,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        HumanDuration(*value).serialize(serializer)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Duration, D::Error> {
        HumanDuration::deserialize(deserializer).map(HumanDuration::get)
    }
}

/// `#[serde(with)]` for an optional [`Duration`] field written as a [`HumanDuration`].
pub(crate) mod serde_option_duration {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(
        value: &Option<Duration>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        value.map(HumanDuration).serialize(serializer)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Duration>, D::Error> {
        Option::<HumanDuration>::deserialize(deserializer)
            .map(|value| value.map(HumanDuration::get))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Duration, String> {
        text.parse::<HumanDuration>().map(HumanDuration::get)
    }

    #[test]
    fn parses_the_usual_spellings() {
        assert_eq!(parse("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse(" 250ms "), Ok(Duration::from_millis(250)));
        assert_eq!(parse("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn refuses_bare_numbers_and_says_why() {
        assert_eq!(
            parse("30").unwrap_err(),
            "expected a duration like \"30s\", \"5m\" or \"1h30m\", got \"30\" (add a unit, such as \"30s\")"
        );
        let from_yaml: Result<HumanDuration, _> = serde_json::from_value(serde_json::json!(30));
        assert!(from_yaml.unwrap_err().to_string().contains("add a unit"));
    }

    #[test]
    fn refuses_nonsense_with_the_unit_named() {
        assert_eq!(
            parse("5 minuets").unwrap_err(),
            "expected a duration like \"30s\", \"5m\" or \"1h30m\", got \"5 minuets\" (unknown unit \"minuets\"; use ms, s, m, h or d)"
        );
        assert!(parse("").is_err());
        assert!(parse("-5s").is_err());
        assert!(parse("soon").is_err());
        assert!(parse("99999999999999999999999h").is_err());
    }

    #[test]
    fn displays_and_serializes_compactly() {
        assert_eq!(
            HumanDuration(Duration::from_secs(5400)).to_string(),
            "1h30m"
        );
        assert_eq!(
            HumanDuration(Duration::from_secs(90_061)).to_string(),
            "1d1h1m1s"
        );
        assert_eq!(
            "1d1h1m1s".parse::<HumanDuration>().map(HumanDuration::get),
            Ok(Duration::from_secs(90_061))
        );
        assert_eq!(HumanDuration(Duration::ZERO).to_string(), "0s");
        let json = serde_json::to_value(HumanDuration(Duration::from_millis(1500))).unwrap();
        assert_eq!(json, serde_json::json!("1s500ms"));
        let back: HumanDuration = serde_json::from_value(json).unwrap();
        assert_eq!(back.get(), Duration::from_millis(1500));
    }
}
