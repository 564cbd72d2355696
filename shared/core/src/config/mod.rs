//! The per-service config: which checks run at which stage, and with what policy.
//!
//! ```yaml
//! version: 1
//! defaults: { timeout: 10s, on_error: retry, on_inconclusive: wait, on_exhausted: fail,
//!             max_wait: 15m, interval: 30s, mode: enforce }
//! stages:
//!   PRE_SCALE_UP:                      # a stage is a list of checks…
//!     - image: { registries: ["*.dkr.ecr.*.amazonaws.com"], max_findings: { CRITICAL: 0 } }
//!   PRODUCTION_TRAFFIC_SHIFT:          # …or a map with a bake window, an interval and checks
//!     bake: 5m
//!     interval: 30s
//!     checks:
//!       - alarms: { prefix: web-, insufficient_data: inconclusive }
//!       - compare: { metric: error_rate, max_increase: 0.5pp, min_requests: 200 }
//! ```
//!
//! - **Checks** are single-key maps, `kind: params` (or just `- kind` for the defaults). Params are
//!   the kind's own fields ([`crate::checks`]) and the common ones: `name` and the policy fields
//!   of [`PolicyOverrides`](crate::checks::PolicyOverrides), which override `defaults`. Unknown fields are errors, with a suggestion
//!   when one is close, because a misspelt threshold must not silently become no threshold.
//! - **Inheritance**: a config replaces the built-in plan ([`BUILTIN_YAML`], `builtin.yaml`) of each
//!   stage it names; stages it does not name keep their built-in plan, run with the config's
//!   `defaults`. `inherit_defaults: false` at the top level turns that off: then only the stages
//!   the config names have checks, and the others pass with no checks.
//! - **Errors** ([`ConfigError`]) name the source, the line and column, the field path and what is
//!   allowed; loading reports every error it finds, not only the first.
//! - **Where the config comes from** is [`resolve`]'s business: inline in `hookDetails`, a
//!   reference to a file, SSM parameter or S3 object, or the built-in plans. In the inline object
//!   (`hookDetails.greenlight`) the key `state` is reserved for the engine and is not config.
//!
//! Parsing goes through a located tree and serde over it ([`crate::document`]): YAML with
//! `granit-parser`, JSON with `serde_json`; the input is bounded in size, depth and alias
//! expansion, and nothing in it can panic the function.

mod error;
mod load;
pub mod resolve;
pub mod schema;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

pub use crate::document::node::{MAX_CONFIG_BYTES, MAX_DEPTH, MAX_NODES};
pub use error::{ConfigError, ConfigErrors, ConfigSource};
pub use load::{
    DEFAULT_INTERVAL, INTERVAL_RANGE, MAX_BAKE, MAX_CHECKS_PER_STAGE,
    TOP_LEVEL_FIELDS as CONFIG_FIELDS, VERSION,
};
pub use resolve::{
    ConfigLookup, ConfigReference, ConfigReferenceReader, FileReader, Placeholders, ReadError,
    ReadErrorKind, ReadFuture, ResolvedConfig, resolve_config,
};
pub use schema::json_schema;

use crate::checks::registry::check_ids;
use crate::checks::{CheckConfig, CheckKind};
use crate::document::node;
use crate::policy::CheckPolicy;
use crate::stage::LifecycleStage;

/// The built-in plans: what runs at each stage with no config at all, and at the stages a config
/// does not name.
pub const BUILTIN_YAML: &str = include_str!("builtin.yaml");

/// The syntax a config text is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigFormat {
    /// YAML (also reads JSON, which YAML contains).
    Yaml,
    /// JSON, read strictly by `serde_json`.
    Json,
}

impl ConfigFormat {
    /// JSON for names ending in `.json`, YAML otherwise.
    pub fn for_name(name: &str) -> ConfigFormat {
        let is_json = Path::new(name)
            .extension()
            .is_some_and(|extension| extension.eq_ignore_ascii_case("json"));
        if is_json {
            ConfigFormat::Json
        } else {
            ConfigFormat::Yaml
        }
    }

    /// The format of the file at `path`, by its extension.
    pub fn for_path(path: &Path) -> ConfigFormat {
        ConfigFormat::for_name(&path.to_string_lossy())
    }
}

/// A validated config.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The format version (always [`VERSION`]).
    pub version: u32,
    /// The policy every check starts from, and the default interval.
    pub defaults: Defaults,
    /// Whether stages the config does not name keep their built-in plans.
    pub inherit_defaults: bool,
    /// The plan of each stage that has one: the config's own, or inherited from the built-in plans.
    pub stages: BTreeMap<LifecycleStage, StageConfig>,
}

/// The `defaults` of a config, with everything it leaves out filled in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Defaults {
    /// The policy of a check that sets none of its own.
    pub policy: CheckPolicy,
    /// How long to wait between judgements while a stage is IN_PROGRESS, unless the stage says.
    pub interval: Duration,
}

/// Where a stage's plan came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageOrigin {
    /// The config names the stage.
    Config,
    /// The built-in plan, inherited.
    Builtin,
}

/// A stage's plan as the config (or the built-in plans) wrote it.
#[derive(Debug, Clone, PartialEq)]
pub struct StageConfig {
    /// Where it came from.
    pub origin: StageOrigin,
    /// How long the stage (or each traffic step) must be observed before it may succeed.
    pub bake: Option<Duration>,
    /// The wait between judgements, when the stage sets its own.
    pub interval: Option<Duration>,
    /// The checks, in order.
    pub checks: Vec<CheckConfig>,
}

/// What the engine runs for one stage.
#[derive(Debug, Clone, PartialEq)]
pub struct StagePlanSpec {
    /// The stage.
    pub stage: LifecycleStage,
    /// How long the stage (or each traffic step) must be observed before it may succeed.
    pub bake: Option<Duration>,
    /// How long to wait between judgements while IN_PROGRESS.
    pub interval: Duration,
    /// The checks, in config order.
    pub checks: Vec<CheckSpec>,
}

/// One check of a plan.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckSpec {
    /// Unique within the stage: the check's `name`, else its kind, with `#2`, `#3` for the second
    /// and third unnamed check of a kind (`alarms`, `http#2`).
    pub id: String,
    /// The kind and its params.
    pub kind: CheckKind,
    /// `defaults` overlaid with the check's own policy fields.
    pub policy: CheckPolicy,
}

impl Config {
    /// Parses and validates a config text; stages it does not name get the built-in plans unless
    /// it says `inherit_defaults: false`.
    pub fn parse(
        text: &str,
        format: ConfigFormat,
        source: ConfigSource,
    ) -> Result<Config, ConfigErrors> {
        let root = parse_tree(text, format, &source)?;
        load::load(&root, &source, true)
    }

    /// Validates a config that is already JSON (the inline config in `hookDetails`). Errors have
    /// field paths but no lines: the value has no text.
    pub fn from_json_value(
        value: &serde_json::Value,
        source: ConfigSource,
    ) -> Result<Config, ConfigErrors> {
        let root = node::from_json_value(value).map_err(|error| syntax_error(error, &source))?;
        load::load(&root, &source, true)
    }

    /// The built-in plans alone: the config of a service that has none.
    pub fn builtin() -> Result<Config, ConfigErrors> {
        load::builtin().clone()
    }

    /// The plan for `stage`, or `None` when the stage has none (an unknown stage, or one the
    /// config leaves out with `inherit_defaults: false`).
    pub fn stage_plan(&self, stage: &LifecycleStage) -> Option<StagePlanSpec> {
        let config = self.stages.get(stage)?;
        let ids = check_ids(&config.checks);
        let checks = config
            .checks
            .iter()
            .zip(ids)
            .map(|(check, id)| CheckSpec {
                id,
                kind: check.kind.clone(),
                policy: check.policy.apply(self.defaults.policy),
            })
            .collect();
        Some(StagePlanSpec {
            stage: stage.clone(),
            bake: config.bake,
            interval: config.interval.unwrap_or(self.defaults.interval),
            checks,
        })
    }

    /// The stages whose plans came from `origin`, in deployment order.
    pub fn stages_from(&self, origin: StageOrigin) -> impl Iterator<Item = &LifecycleStage> {
        self.stages
            .iter()
            .filter(move |(_, config)| config.origin == origin)
            .map(|(stage, _)| stage)
    }
}

/// The document as JSON, parsed but not validated: what the JSON Schema judges.
pub fn parse_document(
    text: &str,
    format: ConfigFormat,
    source: ConfigSource,
) -> Result<serde_json::Value, ConfigErrors> {
    parse_tree(text, format, &source).map(|root| root.to_json())
}

fn parse_tree(
    text: &str,
    format: ConfigFormat,
    source: &ConfigSource,
) -> Result<node::Node, ConfigErrors> {
    let parsed = match format {
        ConfigFormat::Yaml => node::from_yaml_text(text),
        ConfigFormat::Json => node::from_json_text(text),
    };
    parsed.map_err(|error| ConfigErrors::from(syntax_error(error, source)))
}

fn syntax_error(error: node::SyntaxError, source: &ConfigSource) -> ConfigError {
    let mut config_error = ConfigError::invalid(source.clone(), error.message);
    if let Some(pos) = error.pos {
        config_error = config_error.at_position(pos.line, pos.column);
    }
    config_error
}

#[cfg(test)]
mod tests;
