//! The JSON Schema of the config, for editors (`yaml-language-server`, VS Code's JSON support) and
//! for `greenlight config schema`.
//!
//! It is generated with `schemars` from the same types the loader deserializes (descriptions come
//! from their doc comments), so the schema and the loader cannot drift apart; the few shapes the
//! loader reads by hand (the top level, a stage, a check entry) are described here, and a test
//! holds them to the loader's field lists. The loader stays the authority: the schema cannot say
//! everything it checks (cross-field rules), and errs on the strict side where they differ.

use std::borrow::Cow;

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator};

use crate::checks::KINDS;
use crate::checks::PolicyOverrides;
use crate::document::values::{HumanDuration, schema};

/// The JSON Schema (draft 2020-12) of a greenlight config.
pub fn json_schema() -> serde_json::Value {
    let generator = SchemaSettings::draft2020_12().into_generator();
    generator.into_root_schema_for::<Document>().to_value()
}

/// A greenlight config: which checks run at which stage of an ECS deployment, and with what
/// policy. Stages not named keep their built-in plans unless `inherit_defaults` is false.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, title = "greenlight config")]
#[allow(dead_code)]
struct Document {
    /// The config format version: 1.
    #[schemars(range(min = 1, max = 1))]
    version: u32,
    /// The policy every check starts from, and the default interval between judgements.
    defaults: Option<DefaultsSection>,
    /// Whether stages this config does not name keep their built-in plans (default true). With
    /// false, only the stages named here have checks.
    inherit_defaults: Option<bool>,
    /// The checks of each stage. A stage is a list of checks, or a map with `bake`, `interval`
    /// and `checks`.
    stages: Option<Stages>,
    /// The schema of this file, for editors; ignored by greenlight.
    #[schemars(rename = "$schema")]
    schema: Option<String>,
}

/// Defaults for every check's policy, and the interval between judgements.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct DefaultsSection {
    #[schemars(flatten)]
    policy: PolicyOverrides,
    /// How long to wait between judgements while a stage is IN_PROGRESS (default 30s; 1s to 1h).
    interval: Option<HumanDuration>,
}

/// The stages, as ECS names them.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct Stages {
    /// A new deployment starts while more than one revision is ACTIVE.
    #[schemars(rename = "RECONCILE_SERVICE")]
    reconcile_service: Option<Stage>,
    /// Green has not started; blue serves all production traffic.
    #[schemars(rename = "PRE_SCALE_UP")]
    pre_scale_up: Option<Stage>,
    /// Green tasks are running; no traffic reaches them yet.
    #[schemars(rename = "POST_SCALE_UP")]
    post_scale_up: Option<Stage>,
    /// Test traffic is moving to green.
    #[schemars(rename = "TEST_TRAFFIC_SHIFT")]
    test_traffic_shift: Option<Stage>,
    /// Green has all test traffic.
    #[schemars(rename = "POST_TEST_TRAFFIC_SHIFT")]
    post_test_traffic_shift: Option<Stage>,
    /// Before each production traffic shift step.
    #[schemars(rename = "PRE_PRODUCTION_TRAFFIC_SHIFT")]
    pre_production_traffic_shift: Option<Stage>,
    /// Production traffic is moving to green (once per LINEAR/CANARY step).
    #[schemars(rename = "PRODUCTION_TRAFFIC_SHIFT")]
    production_traffic_shift: Option<Stage>,
    /// Green has all production traffic; blue still runs.
    #[schemars(rename = "POST_PRODUCTION_TRAFFIC_SHIFT")]
    post_production_traffic_shift: Option<Stage>,
}

/// A stage's plan: a list of checks, or a map with a bake window, an interval and checks.
struct Stage;

impl JsonSchema for Stage {
    fn schema_name() -> Cow<'static, str> {
        "Stage".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let checks = generator.subschema_for::<Checks>().to_value();
        let object = generator.subschema_for::<StageObject>().to_value();
        schema(serde_json::json!({
            "description": "A list of checks, or a map with `bake`, `interval` and `checks`. `[]` runs no checks.",
            "anyOf": [checks, object],
        }))
    }
}

/// A stage written as a map.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct StageObject {
    /// How long the stage (or each traffic step) must be observed before it may succeed; at most
    /// 24h.
    bake: Option<HumanDuration>,
    /// How long to wait between judgements while IN_PROGRESS (1s to 1h); overrides `defaults`.
    interval: Option<HumanDuration>,
    /// The checks.
    checks: Checks,
}

/// The checks of a stage, at most 50.
struct Checks;

impl JsonSchema for Checks {
    fn schema_name() -> Cow<'static, str> {
        "Checks".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let entry = generator.subschema_for::<CheckEntry>().to_value();
        schema(serde_json::json!({
            "type": "array",
            "items": entry,
            "maxItems": super::MAX_CHECKS_PER_STAGE,
        }))
    }
}

/// One check: `kind: { params }`, or just `kind` for its defaults.
struct CheckEntry;

impl JsonSchema for CheckEntry {
    fn schema_name() -> Cow<'static, str> {
        "Check".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let mut any_of: Vec<serde_json::Value> = KINDS
            .iter()
            .map(|kind| (kind.schema)(generator).to_value())
            .collect();
        let names: Vec<&str> = KINDS.iter().map(|kind| kind.name).collect();
        any_of.push(serde_json::json!({
            "description": "A check kind alone runs that check with its default params.",
            "enum": names,
        }));
        schema(serde_json::json!({
            "description": "A check: a map with one key, the kind, holding its params (`- tasks: { min_running_percent: 100 }`), or the kind alone (`- tasks`).",
            "anyOf": any_of,
        }))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::checks::CheckKind;
    use crate::config::load::{STAGE_FIELDS, TOP_LEVEL_FIELDS};
    use crate::stage::LifecycleStage;

    fn definition<'a>(schema: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
        &schema["$defs"][name]
    }

    fn property_names(schema: &serde_json::Value) -> BTreeSet<String> {
        schema["properties"]
            .as_object()
            .map(|properties| properties.keys().cloned().collect())
            .unwrap_or_default()
    }

    #[test]
    fn the_schema_names_what_the_loader_reads() {
        let schema = json_schema();
        assert_eq!(
            property_names(&schema),
            TOP_LEVEL_FIELDS.iter().map(|s| s.to_string()).collect()
        );
        assert_eq!(
            property_names(definition(&schema, "StageObject")),
            STAGE_FIELDS.iter().map(|s| s.to_string()).collect()
        );
        assert_eq!(
            property_names(definition(&schema, "Stages")),
            LifecycleStage::known_names().map(str::to_owned).collect()
        );
        let mut defaults: BTreeSet<String> = PolicyOverrides::fields()
            .iter()
            .map(|s| s.to_string())
            .collect();
        defaults.insert("interval".into());
        assert_eq!(
            property_names(definition(&schema, "DefaultsSection")),
            defaults
        );
    }

    #[test]
    fn every_kind_has_an_entry_with_its_fields_and_the_common_ones() {
        let schema = json_schema();
        let entries = definition(&schema, "Check")["anyOf"]
            .as_array()
            .unwrap()
            .clone();
        assert_eq!(entries.len(), KINDS.len() + 1);
        for (kind, entry) in CheckKind::names().zip(&entries) {
            assert_eq!(entry["required"], serde_json::json!([kind]));
            let params = &entry["properties"][kind];
            let params = match params.get("$ref").and_then(|r| r.as_str()) {
                Some(reference) => {
                    definition(&schema, reference.trim_start_matches("#/$defs/")).clone()
                }
                None => params.clone(),
            };
            let names = property_names(&params);
            assert!(
                names.contains("name")
                    && names.contains("timeout")
                    && names.contains("consecutive"),
                "{kind}: {names:?}"
            );
            assert_eq!(
                params["additionalProperties"],
                serde_json::json!(false),
                "{kind}"
            );
        }
    }

    #[test]
    fn descriptions_come_from_doc_comments() {
        let text = json_schema().to_string();
        assert!(text.contains("How long one run of the check may take"));
        assert!(text.contains("Registries images may come from"));
    }
}
