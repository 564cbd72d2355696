//! The example configs in `infra/examples/config` and the config fixtures: every
//! example validates and passes the generated JSON Schema; every broken fixture fails both, with
//! its line and field named.

use std::path::{Path, PathBuf};

use greenlight_test_support::{fixtures, repository};

use greenlight_core::config::{
    BUILTIN_YAML, Config, ConfigFormat, ConfigReference, ConfigSource, json_schema, parse_document,
};

fn examples() -> PathBuf {
    repository("infra/examples/config")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
        .map(|entry| entry.expect("a readable directory entry").path())
        .filter(|path| {
            matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml" | "json")
            )
        })
        .collect();
    files.sort();
    files
}

fn source(path: &Path) -> ConfigSource {
    ConfigSource::Reference(ConfigReference::File(path.to_owned()))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

fn document(path: &Path) -> serde_json::Value {
    parse_document(&read(path), ConfigFormat::for_path(path), source(path))
        .unwrap_or_else(|errors| panic!("{errors}"))
}

fn schema() -> jsonschema::Validator {
    jsonschema::validator_for(&json_schema()).expect("the generated schema compiles")
}

#[test]
fn the_expected_examples_exist() {
    let names: Vec<String> = files(&examples())
        .iter()
        .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for expected in [
        "canary.yaml",
        "full.yaml",
        "json-example.json",
        "minimal.yaml",
    ] {
        assert!(
            names.iter().any(|name| name == expected),
            "missing {expected} in {names:?}"
        );
    }
}

#[test]
fn every_example_parses_and_validates() {
    for path in files(&examples()) {
        let config = Config::parse(&read(&path), ConfigFormat::for_path(&path), source(&path));
        assert!(
            config.is_ok(),
            "{}: {}",
            path.display(),
            config.unwrap_err()
        );
    }
}

#[test]
fn the_full_example_uses_every_check_kind() {
    let path = examples().join("full.yaml");
    let config = Config::parse(&read(&path), ConfigFormat::Yaml, source(&path)).unwrap();
    let mut used: Vec<&str> = config
        .stages
        .keys()
        .filter_map(|stage| config.stage_plan(stage))
        .flat_map(|plan| plan.checks.into_iter().map(|check| check.kind.name()))
        .collect();
    used.sort_unstable();
    used.dedup();
    let mut every: Vec<&str> = greenlight_core::checks::CheckKind::names().collect();
    every.sort_unstable();
    assert_eq!(used, every);
}

#[test]
fn the_schema_accepts_every_example_and_the_builtin_plans() {
    let validator = schema();
    for path in files(&examples()) {
        let instance = document(&path);
        let errors: Vec<String> = validator
            .iter_errors(&instance)
            .map(|error| format!("{} at {}", error, error.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
    }
    let builtin = parse_document(BUILTIN_YAML, ConfigFormat::Yaml, ConfigSource::Builtin).unwrap();
    assert!(validator.is_valid(&builtin));
}

#[test]
fn the_schema_rejects_the_broken_fixture() {
    let validator = schema();
    let instance = document(&fixtures::config("broken.yaml"));
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|error| error.to_string())
        .collect();
    assert!(!errors.is_empty());
}

#[test]
fn the_broken_fixture_reports_every_mistake_with_its_line() {
    let path = fixtures::config("broken.yaml");
    let errors = Config::parse(&read(&path), ConfigFormat::Yaml, source(&path)).unwrap_err();
    let found: Vec<(Option<usize>, String)> = errors
        .iter()
        .map(|error| (error.line, error.path.clone()))
        .collect();
    assert_eq!(
        found,
        vec![
            (
                Some(8),
                "stages.POST_SCALE_UP[0].tasks.min_running_percnt".to_owned()
            ),
            (Some(10), "stages.PRODUCTION_TRAFFIC_SHIFT.bake".to_owned()),
            (
                Some(13),
                "stages.PRODUCTION_TRAFFIC_SHIFT.checks[1].compare.max_increase".to_owned()
            ),
            (Some(14), "stages.POST_BAKE".to_owned()),
        ]
    );
    assert!(
        errors
            .iter()
            .all(|error| error.code.code == "CONFIG_INVALID")
    );
}

#[test]
fn each_single_mistake_fixture_fails_once_where_expected() {
    let cases = [
        ("bad-duration.yaml", 4, "defaults.timeout", "add a unit"),
        (
            "bad-percent.json",
            4,
            "stages.POST_SCALE_UP[0].tasks.min_running_percent",
            "expected a percentage",
        ),
        (
            "http-url-missing.yaml",
            5,
            "stages.POST_TEST_TRAFFIC_SHIFT[0].http.url",
            "needs a `url`",
        ),
        (
            "max-wait-below-interval.yaml",
            3,
            "defaults.max_wait",
            "shorter than the stage's interval",
        ),
        (
            "typo-field.yaml",
            5,
            "stages.POST_SCALE_UP[0].target_health.gruop",
            "did you mean \"group\"",
        ),
        (
            "unknown-placeholder.yaml",
            5,
            "stages.POST_PRODUCTION_TRAFFIC_SHIFT[0].metric.dimensions.TargetGroup",
            "{green.target_group}",
        ),
        (
            "unknown-stage.yaml",
            4,
            "stages.POST_DEPLOY",
            "unknown stage",
        ),
    ];
    let validator = schema();
    for (file, line, field, says) in cases {
        let path = fixtures::config(file);
        let errors = Config::parse(&read(&path), ConfigFormat::for_path(&path), source(&path))
            .expect_err(file);
        assert_eq!(errors.len(), 1, "{file}: {errors}");
        let error = errors.first();
        assert_eq!(
            (error.line, error.path.as_str()),
            (Some(line), field),
            "{file}: {error}"
        );
        assert!(error.message.contains(says), "{file}: {error}");
        // Cross-field rules (max_wait against interval, url with target) are the loader's alone.
        if !matches!(
            file,
            "max-wait-below-interval.yaml" | "http-url-missing.yaml"
        ) {
            assert!(
                !validator.is_valid(&document(&path)),
                "{file} passes the schema"
            );
        }
    }
}
