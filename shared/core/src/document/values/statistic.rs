//! CloudWatch statistics: `Sum`, `Average`, `p99`, `p99.9`, `tm90`, `IQM`.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::schema;
use crate::document::node::quote;
use crate::document::suggest::did_you_mean;

/// Serialize as the display string and deserialize from a string through `FromStr`.
macro_rules! string_serde {
    ($type:ty, $expected:expr) => {
        impl Serialize for $type {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $type {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct StringVisitor;
                impl Visitor<'_> for StringVisitor {
                    type Value = $type;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($expected)
                    }
                    fn visit_str<E: de::Error>(self, text: &str) -> Result<$type, E> {
                        text.parse().map_err(E::custom)
                    }
                }
                deserializer.deserialize_str(StringVisitor)
            }
        }
    };
}

/// A percentile from above 0 to 100 with up to two decimals (`p99`, `p99.9`, `p99.99`), held
/// exactly in hundredths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Percentile {
    hundredths: u16,
}

impl Percentile {
    /// The 99th percentile.
    pub const P99: Percentile = Percentile { hundredths: 9900 };

    /// The percentile as a number (`99.9`).
    pub fn value(self) -> f64 {
        f64::from(self.hundredths) / 100.0
    }

    /// Parses the number after the prefix (`99.9` of `p99.9`).
    fn parse_number(text: &str) -> Option<Percentile> {
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        let digits_ok = !whole.is_empty()
            && whole.len() <= 3
            && whole.chars().all(|c| c.is_ascii_digit())
            && fraction.len() <= 2
            && fraction.chars().all(|c| c.is_ascii_digit())
            && !(text.ends_with('.'));
        if !digits_ok {
            return None;
        }
        let whole: u16 = whole.parse().ok()?;
        let fraction: u16 = format!("{fraction:0<2}").parse().ok()?;
        let hundredths = whole.checked_mul(100)?.checked_add(fraction)?;
        (1..=10_000)
            .contains(&hundredths)
            .then_some(Percentile { hundredths })
    }
}

impl fmt::Display for Percentile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (whole, fraction) = (self.hundredths / 100, self.hundredths % 100);
        match fraction {
            0 => write!(f, "p{whole}"),
            f10 if f10 % 10 == 0 => write!(f, "p{whole}.{}", f10 / 10),
            _ => write!(f, "p{whole}.{fraction:02}"),
        }
    }
}

const PERCENTILE_EXPECTED: &str = "a percentile like \"p50\", \"p99\" or \"p99.9\"";

impl FromStr for Percentile {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let trimmed = text.trim();
        trimmed
            .strip_prefix(['p', 'P'])
            .and_then(Percentile::parse_number)
            .ok_or_else(|| format!("expected {PERCENTILE_EXPECTED}, got {}", quote(text)))
    }
}

string_serde!(Percentile, PERCENTILE_EXPECTED);

impl JsonSchema for Percentile {
    fn schema_name() -> Cow<'static, str> {
        "Percentile".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schema(serde_json::json!({
            "type": "string",
            "pattern": "^[pP][0-9]{1,3}(\\.[0-9]{1,2})?$",
            "description": "A percentile: `p50`, `p90`, `p99`, `p99.9`.",
            "examples": ["p50", "p99", "p99.9"],
        }))
    }
}

/// A CloudWatch statistic, named as CloudWatch spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Statistic {
    /// `SampleCount`.
    SampleCount,
    /// `Average`.
    Average,
    /// `Sum`.
    Sum,
    /// `Minimum`.
    Minimum,
    /// `Maximum`.
    Maximum,
    /// `IQM`: the interquartile mean.
    InterquartileMean,
    /// `p99`: a percentile.
    Percentile(Percentile),
    /// `tm90`: the mean of the values up to that percentile.
    TrimmedMean(Percentile),
    /// `wm90`: the mean with values above that percentile clamped to it.
    WinsorizedMean(Percentile),
    /// `tc90`: the number of values up to that percentile.
    TrimmedCount(Percentile),
    /// `ts90`: the sum of the values up to that percentile.
    TrimmedSum(Percentile),
}

const NAMED: [(&str, Statistic); 6] = [
    ("SampleCount", Statistic::SampleCount),
    ("Average", Statistic::Average),
    ("Sum", Statistic::Sum),
    ("Minimum", Statistic::Minimum),
    ("Maximum", Statistic::Maximum),
    ("IQM", Statistic::InterquartileMean),
];

const STATISTIC_EXPECTED: &str = "a statistic: SampleCount, Average, Sum, Minimum, Maximum, IQM, or p99, p99.9, tm90, wm90, tc90, ts90";

impl Statistic {
    /// Whether CloudWatch calls this an extended statistic (percentiles and their kin), which
    /// `GetMetricData` takes under another name than the plain five.
    pub fn is_extended(self) -> bool {
        !matches!(
            self,
            Statistic::SampleCount
                | Statistic::Average
                | Statistic::Sum
                | Statistic::Minimum
                | Statistic::Maximum
        )
    }
}

impl fmt::Display for Statistic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (prefix, percentile) = match self {
            Statistic::Percentile(p) => return p.fmt(f),
            Statistic::TrimmedMean(p) => ("tm", p),
            Statistic::WinsorizedMean(p) => ("wm", p),
            Statistic::TrimmedCount(p) => ("tc", p),
            Statistic::TrimmedSum(p) => ("ts", p),
            named => {
                let name = NAMED
                    .iter()
                    .find(|(_, statistic)| statistic == named)
                    .map_or("Sum", |(name, _)| name);
                return f.write_str(name);
            }
        };
        // The percentile prints as `p99.9`; the prefix replaces its `p`.
        write!(f, "{prefix}{}", &percentile.to_string()[1..])
    }
}

impl FromStr for Statistic {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let trimmed = text.trim();
        if let Some((_, statistic)) = NAMED
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(trimmed))
        {
            return Ok(*statistic);
        }
        let lower = trimmed.to_ascii_lowercase();
        type Make = fn(Percentile) -> Statistic;
        let extended: [(&str, Make); 5] = [
            ("tm", Statistic::TrimmedMean),
            ("wm", Statistic::WinsorizedMean),
            ("tc", Statistic::TrimmedCount),
            ("ts", Statistic::TrimmedSum),
            ("p", Statistic::Percentile),
        ];
        for (prefix, make) in extended {
            if let Some(number) = lower.strip_prefix(prefix)
                && let Some(percentile) = Percentile::parse_number(number)
            {
                return Ok(make(percentile));
            }
        }
        let hint = did_you_mean(trimmed, NAMED.iter().map(|(name, _)| *name))
            .map(|name| format!("; did you mean {}?", quote(name)))
            .unwrap_or_default();
        Err(format!(
            "expected {STATISTIC_EXPECTED}, got {}{hint}",
            quote(text)
        ))
    }
}

string_serde!(Statistic, STATISTIC_EXPECTED);

impl JsonSchema for Statistic {
    fn schema_name() -> Cow<'static, str> {
        "Statistic".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schema(serde_json::json!({
            "type": "string",
            "description": "A CloudWatch statistic: `SampleCount`, `Average`, `Sum`, `Minimum`, `Maximum`, `IQM`, a percentile (`p99`, `p99.9`) or a trimmed/winsorized statistic (`tm90`, `wm90`, `tc90`, `ts90`).",
            "anyOf": [
                { "enum": ["SampleCount", "Average", "Sum", "Minimum", "Maximum", "IQM"] },
                { "pattern": "^([pP]|[tT][mM]|[wW][mM]|[tT][cC]|[tT][sS])[0-9]{1,3}(\\.[0-9]{1,2})?$" }
            ],
            "examples": ["Sum", "Average", "p99"],
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_parse_and_print_exactly() {
        for (text, value, shown) in [
            ("p99", 99.0, "p99"),
            ("P99.9", 99.9, "p99.9"),
            ("p99.99", 99.99, "p99.99"),
            ("p50", 50.0, "p50"),
            ("p100", 100.0, "p100"),
            ("p0.5", 0.5, "p0.5"),
        ] {
            let p: Percentile = text.parse().unwrap();
            assert_eq!(p.value(), value, "{text}");
            assert_eq!(p.to_string(), shown);
        }
        for bad in [
            "99", "p", "p0", "p101", "p99.999", "p99.", "p-1", "pp99", "p 99",
        ] {
            assert!(bad.parse::<Percentile>().is_err(), "{bad}");
        }
        assert_eq!(
            "99".parse::<Percentile>().unwrap_err(),
            "expected a percentile like \"p50\", \"p99\" or \"p99.9\", got \"99\""
        );
    }

    #[test]
    fn statistics_parse_in_any_case_and_print_as_cloudwatch_does() {
        for (text, shown) in [
            ("Sum", "Sum"),
            ("sum", "Sum"),
            ("samplecount", "SampleCount"),
            ("iqm", "IQM"),
            ("p99.9", "p99.9"),
            ("TM90", "tm90"),
            ("wm99.5", "wm99.5"),
            ("tc90", "tc90"),
            ("ts90", "ts90"),
        ] {
            let statistic: Statistic = text.parse().unwrap();
            assert_eq!(statistic.to_string(), shown);
        }
        assert!("Sum".parse::<Statistic>().is_ok_and(|s| !s.is_extended()));
        assert!("p90".parse::<Statistic>().is_ok_and(Statistic::is_extended));
    }

    #[test]
    fn unknown_statistics_suggest_a_name() {
        let error = "Averag".parse::<Statistic>().unwrap_err();
        assert!(error.ends_with("did you mean \"Average\"?"), "{error}");
        assert!("avg".parse::<Statistic>().is_err());
        assert!("p999".parse::<Statistic>().is_err());
        let error = serde_json::from_value::<Statistic>(serde_json::json!(99)).unwrap_err();
        assert!(
            error.to_string().contains("expected a statistic"),
            "{error}"
        );
    }
}
