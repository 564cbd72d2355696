//! The value types of the config language, each parsed from what a person writes (`90s`, `1%`,
//! `0.5pp`, `2xx`, `p99`, `{green.target_group}`) with errors that say what is allowed, serialized
//! back to the same spelling, and described in the JSON Schema with a pattern.

mod duration;
mod percent;
mod statistic;
mod status;
mod template;

pub use duration::HumanDuration;
pub(crate) use duration::{serde_duration, serde_option_duration};
pub use percent::{Percent, PercentagePoints};
pub use statistic::{Percentile, Statistic};
pub use status::{StatusMatcher, StatusPattern};
pub use template::{DimensionTemplate, Placeholder};

use schemars::Schema;

/// A schema from a JSON object literal.
pub(crate) fn schema(value: serde_json::Value) -> Schema {
    match value {
        serde_json::Value::Object(map) => Schema::from(map),
        _ => Schema::default(),
    }
}

/// How a number the author wrote reads in a message: `30`, not `30.0`.
pub(crate) fn number_text(value: f64) -> String {
    format!("{value}")
}
