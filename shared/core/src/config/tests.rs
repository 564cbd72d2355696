//! Whole-config tests: plans, inheritance, rules across fields and stages, error reports, and
//! that no input can panic the parser.

use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::checks::{CompareMetric, HttpTarget};
use crate::policy::{Mode, OnError, OnExhausted, OnInconclusive, OnNotApplicable};

fn source() -> ConfigSource {
    ConfigSource::Reference(ConfigReference::File("greenlight.yaml".into()))
}

fn parse(yaml: &str) -> Result<Config, ConfigErrors> {
    Config::parse(yaml, ConfigFormat::Yaml, source())
}

fn errors(yaml: &str) -> Vec<String> {
    match parse(yaml) {
        Ok(config) => panic!("expected errors, got {config:?}"),
        Err(errors) => errors.iter().map(ToString::to_string).collect(),
    }
}

fn plan(config: &Config, stage: LifecycleStage) -> StagePlanSpec {
    config.stage_plan(&stage).unwrap()
}

#[test]
fn plans_overlay_check_policy_on_defaults() {
    let config = parse(
        "version: 1
defaults: { timeout: 20s, on_error: fail, max_wait: 10m, interval: 15s, mode: advisory, consecutive: 2 }
stages:
  POST_SCALE_UP:
    - tasks: { min_running_percent: 100 }
    - target_health: { consecutive: 3, mode: enforce, on_inconclusive: pass, on_exhausted: pass, timeout: 5s, max_wait: 1m }
",
    )
    .unwrap();
    let plan = plan(&config, LifecycleStage::PostScaleUp);
    assert_eq!(plan.interval, Duration::from_secs(15));
    assert_eq!(plan.bake, None);
    let [tasks, health] = plan.checks.as_slice() else {
        panic!("{plan:?}")
    };
    assert_eq!(tasks.id, "tasks");
    assert_eq!(
        tasks.policy,
        CheckPolicy {
            mode: Mode::Advisory,
            on_inconclusive: OnInconclusive::Wait,
            on_error: OnError::Fail,
            on_exhausted: OnExhausted::Fail,
            on_not_applicable: OnNotApplicable::Fail,
            timeout: Duration::from_secs(20),
            max_wait: Duration::from_secs(600),
            consecutive: 2,
        }
    );
    assert_eq!(health.id, "target_health");
    assert_eq!(
        health.policy,
        CheckPolicy {
            mode: Mode::Enforce,
            on_inconclusive: OnInconclusive::Pass,
            on_error: OnError::Fail,
            on_exhausted: OnExhausted::Pass,
            on_not_applicable: OnNotApplicable::Fail,
            timeout: Duration::from_secs(5),
            max_wait: Duration::from_secs(60),
            consecutive: 3,
        }
    );
}

#[test]
fn a_stage_map_sets_bake_and_interval_and_repeats_get_numbered_ids() {
    let config = parse(
        "version: 1
stages:
  PRODUCTION_TRAFFIC_SHIFT:
    bake: 5m
    interval: 1m
    checks:
      - alarms: { prefix: web- }
      - alarms: { names: [db-cpu] }
      - alarms: { name: payments, prefix: pay- }
      - compare: { metric: error_rate, max_increase: 0.5pp, min_requests: 200 }
",
    )
    .unwrap();
    let plan = plan(&config, LifecycleStage::ProductionTrafficShift);
    assert_eq!(plan.bake, Some(Duration::from_secs(300)));
    assert_eq!(plan.interval, Duration::from_secs(60));
    let ids: Vec<&str> = plan.checks.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, vec!["alarms", "alarms#2", "payments", "compare"]);
    assert!(
        matches!(&plan.checks[3].kind, CheckKind::Compare(p) if p.metric == CompareMetric::ErrorRate)
    );
}

#[test]
fn builtin_plans_cover_every_known_stage() {
    let config = Config::builtin().unwrap();
    let kinds = |stage| -> Vec<&'static str> {
        plan(&config, stage)
            .checks
            .iter()
            .map(|c| c.kind.name())
            .collect()
    };
    assert_eq!(kinds(LifecycleStage::ReconcileService), vec!["image"]);
    assert_eq!(kinds(LifecycleStage::PreScaleUp), vec!["image"]);
    assert_eq!(
        kinds(LifecycleStage::PostScaleUp),
        vec!["tasks", "target_health"]
    );
    assert_eq!(kinds(LifecycleStage::TestTrafficShift), vec!["routing"]);
    assert_eq!(
        kinds(LifecycleStage::PostTestTrafficShift),
        vec!["routing", "http"]
    );
    assert_eq!(
        kinds(LifecycleStage::PreProductionTrafficShift),
        vec!["alarms"]
    );
    for (stage, expected) in [
        (
            LifecycleStage::ProductionTrafficShift,
            vec!["alarms", "compare"],
        ),
        (
            LifecycleStage::PostProductionTrafficShift,
            vec!["routing", "alarms", "compare"],
        ),
    ] {
        let plan = plan(&config, stage);
        assert_eq!(plan.bake, Some(Duration::from_secs(300)));
        assert_eq!(
            plan.checks
                .iter()
                .map(|c| c.kind.name())
                .collect::<Vec<_>>(),
            expected
        );
    }
    // Every check that needs a resource some topologies lack says so instead of failing.
    for stage in LifecycleStage::KNOWN {
        for check in plan(&config, stage.clone()).checks {
            if matches!(
                check.kind.name(),
                "routing" | "http" | "target_health" | "compare"
            ) {
                assert_eq!(
                    check.policy.on_not_applicable,
                    OnNotApplicable::Pass,
                    "{stage} {}",
                    check.id
                );
            }
        }
    }
    let http = plan(&config, LifecycleStage::PostTestTrafficShift);
    assert!(
        matches!(&http.checks[1].kind, CheckKind::Http(p) if p.target == HttpTarget::TestListener && p.path() == "/")
    );
    assert_eq!(
        config.stage_plan(&LifecycleStage::Other("POST_BAKE".into())),
        None
    );
    assert_eq!(config.stages_from(StageOrigin::Config).count(), 0);
}

#[test]
fn a_config_replaces_the_stages_it_names_and_inherits_the_rest() {
    let config = parse(
        "version: 1
defaults: { mode: advisory }
stages:
  POST_SCALE_UP:
    - tasks: { min_running_percent: 50 }
",
    )
    .unwrap();
    assert_eq!(
        plan(&config, LifecycleStage::PostScaleUp)
            .checks
            .iter()
            .map(|c| c.kind.name())
            .collect::<Vec<_>>(),
        vec!["tasks"]
    );
    assert_eq!(
        config.stages_from(StageOrigin::Config).collect::<Vec<_>>(),
        vec![&LifecycleStage::PostScaleUp]
    );
    assert_eq!(config.stages_from(StageOrigin::Builtin).count(), 7);
    // Inherited plans run with the config's defaults.
    let inherited = plan(&config, LifecycleStage::PreScaleUp);
    assert_eq!(inherited.checks[0].policy.mode, Mode::Advisory);

    let alone =
        parse("version: 1\ninherit_defaults: false\nstages:\n  POST_SCALE_UP: [tasks]\n").unwrap();
    assert_eq!(alone.stages.len(), 1);
    assert_eq!(alone.stage_plan(&LifecycleStage::PreScaleUp), None);

    let none = parse("version: 1\nstages:\n  PRE_SCALE_UP: []\n").unwrap();
    assert!(plan(&none, LifecycleStage::PreScaleUp).checks.is_empty());
}

#[test]
fn unknown_stages_list_the_known_ones() {
    assert_eq!(
        errors("version: 1\nstages:\n  POST_SCALEUP: [tasks]\n"),
        vec![
            "greenlight.yaml:3:3: stages.POST_SCALEUP: unknown stage \"POST_SCALEUP\"; did you mean \"POST_SCALE_UP\"?"
        ]
    );
    let e = errors("version: 1\nstages:\n  DEPLOY: [tasks]\n");
    assert!(
        e[0].ends_with("expected one of: RECONCILE_SERVICE, PRE_SCALE_UP, POST_SCALE_UP, TEST_TRAFFIC_SHIFT, POST_TEST_TRAFFIC_SHIFT, PRE_PRODUCTION_TRAFFIC_SHIFT, PRODUCTION_TRAFFIC_SHIFT, POST_PRODUCTION_TRAFFIC_SHIFT"),
        "{e:?}"
    );
}

#[test]
fn top_level_and_stage_shapes_are_checked() {
    assert_eq!(
        errors(""),
        vec!["greenlight.yaml:1:1: the config is empty; it needs at least `version: 1`"]
    );
    assert!(errors("- a\n")[0].contains("expected a map of config fields"));
    // A reference to a secret that is not a config: its shape, never its value.
    let secret = "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB";
    let shown = errors(&format!("{secret}\n"))[0].clone();
    assert!(shown.contains("a string of 42 characters"), "{shown}");
    assert!(!shown.contains("ghp_"), "{shown}");
    assert_eq!(
        errors("stages: {}\n"),
        vec!["greenlight.yaml:1:1: version: missing required field `version`; add `version: 1`"]
    );
    assert!(
        errors("version: 2\n")[0]
            .contains("unsupported version 2; this greenlight reads version 1")
    );
    assert!(errors("version: '1'\n")[0].contains("unsupported version \"1\""));
    assert_eq!(
        errors("version: 1\nstage: {}\n"),
        vec!["greenlight.yaml:2:1: stage: unknown field \"stage\"; did you mean \"stages\"?"]
    );
    assert!(
        errors("version: 1\ninherit_defaults: no\n")[0]
            .contains("expected true or false, got \"no\"")
    );
    assert!(
        errors("version: 1\nstages:\n  PRE_SCALE_UP:\n")[0].contains("write [] to run no checks")
    );
    assert!(
        errors("version: 1\nstages:\n  PRE_SCALE_UP: { bake: 5m }\n")[0].contains("needs `checks`")
    );
    assert!(
        errors("version: 1\nstages:\n  PRE_SCALE_UP: { chekcs: [] , checks: [] }\n")[0]
            .contains("unknown field \"chekcs\"; did you mean \"checks\"?")
    );
    assert!(
        errors("version: 1\nstages:\n  PRE_SCALE_UP: { image: {}, checks: [] }\n")[0]
            .contains("a check goes in the `checks` list")
    );
    assert!(
        errors("version: 1\nstages:\n  PRE_SCALE_UP: { checks: image }\n")[0]
            .contains("expected a list of checks")
    );
    assert!(
        errors("version: 1\ndefaults: { intervall: 5s }\n")[0]
            .contains("did you mean \"interval\"?")
    );
    assert!(
        errors("version: 1\ndefaults: 5s\n")[0].contains("expected a map of default policy fields")
    );
    assert!(parse("version: 1\n$schema: ./schema.json\n").is_ok());
}

#[test]
fn durations_and_intervals_have_bounds() {
    assert_eq!(
        errors("version: 1\nstages:\n  PRODUCTION_TRAFFIC_SHIFT:\n    bake: 25h\n    checks: []\n"),
        vec![
            "greenlight.yaml:4:11: stages.PRODUCTION_TRAFFIC_SHIFT.bake: expected a bake of at most 24h, got 1d1h"
        ]
    );
    assert!(
        errors("version: 1\ndefaults: { interval: 2h }\n")[0]
            .contains("expected an interval from 1s to 1h, got 2h")
    );
    assert!(
        errors("version: 1\ndefaults: { timeout: ten }\n")[0]
            .contains("defaults.timeout: expected a duration")
    );
    assert!(errors("version: 1\ndefaults: { timeout: 0s }\n")[0].contains("above 0s"));
    // A max_wait past any deadline ECS keeps is refused, not carried into wait arithmetic.
    assert!(
        errors("version: 1\ndefaults: { max_wait: 18446744073709551615s }\n")
            .iter()
            .any(|error| error.contains("max_wait")),
        "{:?}",
        errors("version: 1\ndefaults: { max_wait: 18446744073709551615s }\n")
    );
    assert!(errors("version: 1\ndefaults: { max_wait: 15d }\n")[0].contains("at most 14d"));
    // A transient error never passes by policy: nothing was seen.
    assert!(errors("version: 1\ndefaults: { on_error: pass }\n")[0].contains("mode: advisory"));
}

#[test]
fn max_wait_must_cover_an_interval() {
    let e = errors(
        "version: 1
stages:
  POST_SCALE_UP:
    interval: 2m
    checks:
      - tasks: { max_wait: 1m }
",
    );
    assert_eq!(
        e,
        vec![
            "greenlight.yaml:6:28: stages.POST_SCALE_UP.checks[0].tasks.max_wait: max_wait (1m) is shorter than the stage's interval (2m); the check could not be judged twice"
        ]
    );
    let e = errors(
        "version: 1\ndefaults: { max_wait: 1m }\nstages:\n  POST_SCALE_UP: { interval: 5m, checks: [tasks] }\n",
    );
    assert!(
        e[0].contains("defaults.max_wait: max_wait (1m, from defaults) is shorter"),
        "{e:?}"
    );
}

#[test]
fn defaults_that_break_an_inherited_plan_are_reported_at_defaults() {
    let e = errors("version: 1\ndefaults: { interval: 30m, max_wait: 20m }\nstages: {}\n");
    assert_eq!(
        e,
        vec![
            "greenlight.yaml:2:38: defaults.max_wait: these defaults break the built-in plans for RECONCILE_SERVICE, PRE_SCALE_UP, POST_SCALE_UP, TEST_TRAFFIC_SHIFT, POST_TEST_TRAFFIC_SHIFT, PRE_PRODUCTION_TRAFFIC_SHIFT, PRODUCTION_TRAFFIC_SHIFT, POST_PRODUCTION_TRAFFIC_SHIFT: max_wait (20m, from defaults) is shorter than the stage's interval (30m); the check could not be judged twice; name the stage to give it a plan of your own, or change the defaults"
        ]
    );
    let e = errors("version: 1\ndefaults: { timeout: 3s }\n");
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with("greenlight.yaml:2:11: defaults: these defaults break the built-in plan for POST_TEST_TRAFFIC_SHIFT: expected a request_timeout above 0s and at most the check's timeout (3s)"),
        "{e:?}"
    );
}

#[test]
fn stages_hold_at_most_fifty_checks_with_unique_ids() {
    let many = format!(
        "version: 1\nstages:\n  PRE_SCALE_UP:\n{}",
        "    - image\n".repeat(51)
    );
    assert!(errors(&many)[0].contains("expected at most 50 checks in a stage, got 51"));
    let fifty = format!(
        "version: 1\nstages:\n  PRE_SCALE_UP:\n{}",
        "    - image\n".repeat(50)
    );
    assert_eq!(
        plan(&parse(&fifty).unwrap(), LifecycleStage::PreScaleUp).checks[49].id,
        "image#50"
    );

    let e = errors(
        "version: 1
stages:
  PRE_SCALE_UP:
    - image: { name: images }
    - image: { name: images, require_digest_pinning: true }
",
    );
    assert_eq!(
        e,
        vec![
            "greenlight.yaml:5:22: stages.PRE_SCALE_UP[1].image.name: the check id \"images\" is already used by the check at stages.PRE_SCALE_UP[0].image; give one of them another `name`"
        ]
    );
    let e =
        errors("version: 1\nstages:\n  PRE_SCALE_UP:\n    - image\n    - image: { name: image }\n");
    assert!(
        e[0].contains("the check id \"image\" is already used"),
        "{e:?}"
    );
}

#[test]
fn checks_that_cannot_see_green_yet_are_refused_at_early_stages() {
    let e = errors("version: 1\nstages:\n  PRE_SCALE_UP: [tasks]\n");
    assert!(e[0].contains("stages.PRE_SCALE_UP[0].tasks: cannot run at PRE_SCALE_UP: green has tasks, from POST_SCALE_UP on"), "{e:?}");
    let e = errors("version: 1\nstages:\n  POST_SCALE_UP: [http]\n");
    assert!(
        e[0].contains("test traffic reaches green, from TEST_TRAFFIC_SHIFT on"),
        "{e:?}"
    );
    let e = errors(
        "version: 1\nstages:\n  POST_TEST_TRAFFIC_SHIFT:\n    - compare: { metric: latency, max_ratio: 1.5 }\n",
    );
    assert!(e[0].contains("from PRODUCTION_TRAFFIC_SHIFT on"), "{e:?}");
    assert!(
        errors("version: 1\nstages:\n  POST_SCALE_UP:\n    - routing: { listener: test }\n")[0]
            .contains("the test route moves")
    );
    assert!(parse("version: 1\nstages:\n  POST_SCALE_UP:\n    - http: { target: url, url: 'https://green.internal/' }\n    - target_health: { group: blue }\n").is_ok());
}

const BROKEN: &str = "version: 1
defaults:
  timeout: 10s
stages:
  POST_SCALE_UP:
    - tasks: { min_running_percnt: 100 }
  PRODUCTION_TRAFFIC_SHIFT:
    bake: 5 minuets
    checks:
      - alarms: { prefix: web- }
      - compare: { metric: error_rate, max_increase: half }
  POST_BAKE:
    - alarms
";

#[test]
fn every_mistake_in_a_file_is_reported_in_document_order() {
    assert_eq!(
        errors(BROKEN),
        vec![
            "greenlight.yaml:6:16: stages.POST_SCALE_UP[0].tasks.min_running_percnt: unknown field \"min_running_percnt\"; did you mean \"min_running_percent\"?",
            "greenlight.yaml:8:11: stages.PRODUCTION_TRAFFIC_SHIFT.bake: expected a duration like \"30s\", \"5m\" or \"1h30m\", got \"5 minuets\" (unknown unit \"minuets\"; use ms, s, m, h or d)",
            "greenlight.yaml:11:54: stages.PRODUCTION_TRAFFIC_SHIFT.checks[1].compare.max_increase: expected percentage points like \"0.5pp\", got \"half\"",
            "greenlight.yaml:12:3: stages.POST_BAKE: unknown stage \"POST_BAKE\"; expected one of: RECONCILE_SERVICE, PRE_SCALE_UP, POST_SCALE_UP, TEST_TRAFFIC_SHIFT, POST_TEST_TRAFFIC_SHIFT, PRE_PRODUCTION_TRAFFIC_SHIFT, PRODUCTION_TRAFFIC_SHIFT, POST_PRODUCTION_TRAFFIC_SHIFT",
        ]
    );
}

#[test]
fn several_bad_fields_of_one_check_are_all_reported() {
    let e = errors(
        "version: 1\nstages:\n  POST_TEST_TRAFFIC_SHIFT:\n    - http: { requests: lots, concurency: 4, expect: { status: 9xx }, tls_verify: maybe }\n",
    );
    assert_eq!(e.len(), 4, "{e:?}");
    assert!(e[1].contains("did you mean \"concurrency\"?"), "{e:?}");
}

#[test]
fn yaml_syntax_errors_carry_the_parser_position() {
    let e = errors("version: 1\nstages:\n  PRE_SCALE_UP: [image\n");
    assert_eq!(e.len(), 1);
    assert_eq!(e, vec!["greenlight.yaml:3:17: unclosed bracket '['"]);
}

#[test]
fn json_configs_get_lines_too() {
    let json = "{\n  \"version\": 1,\n  \"stages\": {\n    \"POST_SCALE_UP\": [\n      { \"tasks\": { \"min_running_percent\": \"all\" } }\n    ]\n  }\n}\n";
    let errors = Config::parse(json, ConfigFormat::Json, source()).unwrap_err();
    assert_eq!(
        errors.first().to_string(),
        "greenlight.yaml:5:43: stages.POST_SCALE_UP[0].tasks.min_running_percent: expected a percentage like \"1%\" or a number from 0 to 100, got \"all\""
    );
    let errors =
        Config::parse("{\n  \"version\": 1,\n}", ConfigFormat::Json, source()).unwrap_err();
    assert_eq!(errors.first().line, Some(3));
}

#[test]
fn the_document_converts_to_json_for_schema_checks() {
    let value = parse_document(
        "version: 1\nstages:\n  PRE_SCALE_UP:\n    - image: { max_findings: { CRITICAL: 0 } }\n",
        ConfigFormat::Yaml,
        source(),
    )
    .unwrap();
    assert_eq!(
        value,
        serde_json::json!({"version": 1, "stages": {"PRE_SCALE_UP": [{"image": {"max_findings": {"CRITICAL": 0}}}]}})
    );
}

#[test]
fn formats_follow_the_extension() {
    assert_eq!(
        ConfigFormat::for_path(Path::new("a/b.JSON")),
        ConfigFormat::Json
    );
    assert_eq!(
        ConfigFormat::for_path(Path::new("greenlight.yaml")),
        ConfigFormat::Yaml
    );
    assert_eq!(
        ConfigFormat::for_name("/greenlight/web"),
        ConfigFormat::Yaml
    );
}

fn arbitrary_json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        "[a-zA-Z0-9_%.{} -]{0,12}".prop_map(serde_json::Value::String),
        prop_oneof![
            Just("version"),
            Just("stages"),
            Just("defaults"),
            Just("PRE_SCALE_UP"),
            Just("POST_SCALE_UP"),
            Just("PRODUCTION_TRAFFIC_SHIFT"),
            Just("http"),
            Just("tasks"),
            Just("compare"),
            Just("metric"),
            Just("0.5pp"),
            Just("5m"),
            Just("2xx"),
            Just("p99"),
            Just("{green.target_group}"),
            Just("checks"),
        ]
        .prop_map(|s| serde_json::Value::String(s.into())),
    ];
    leaf.prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        "[a-z_]{1,10}",
                        Just("version".to_owned()),
                        Just("stages".to_owned()),
                        Just("checks".to_owned()),
                        Just("POST_SCALE_UP".to_owned()),
                        Just("http".to_owned()),
                        Just("expect".to_owned()),
                        Just("name".to_owned()),
                    ],
                    inner
                ),
                0..6
            )
            .prop_map(|entries| serde_json::Value::Object(entries.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_json_values_never_panic(value in arbitrary_json()) {
        let _ = Config::from_json_value(&value, ConfigSource::Inline);
        let mut versioned = value;
        if let Some(object) = versioned.as_object_mut() {
            object.insert("version".into(), serde_json::json!(1));
        }
        let _ = Config::from_json_value(&versioned, ConfigSource::Inline);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let _ = Config::parse(&text, ConfigFormat::Yaml, source());
        let _ = Config::parse(&text, ConfigFormat::Json, source());
    }

    #[test]
    fn yaml_shaped_text_never_panics(text in "[-:{}\\[\\], &*!|>'\"#%@`?\n a-z0-9]{0,300}") {
        let _ = Config::parse(&text, ConfigFormat::Yaml, source());
    }

    #[test]
    fn mangled_configs_never_panic(cut in 0usize..BROKEN.len(), insert in "[-:{}\\[\\], &*\n a-z0-9]{0,8}") {
        let mut text = BROKEN.to_owned();
        let at = (0..=cut).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
        text.insert_str(at, &insert);
        let _ = Config::parse(&text, ConfigFormat::Yaml, source());
        let _ = Config::parse(&text[..at], ConfigFormat::Yaml, source());
    }
}
