//! From a located tree to a validated [`Config`]: the top-level fields, the stages, each check, and
//! the rules that span fields. Every problem found is kept, so one run reports all of them.

use std::collections::BTreeMap;
use std::sync::LazyLock;
use std::time::Duration;

use super::error::{ConfigError, ConfigErrors, ConfigSource};
use super::{Config, Defaults, StageConfig, StageOrigin};
use crate::checks::PolicyOverrides;
use crate::checks::registry::{
    Validation, check_ids, load_check, validate_check, validate_overrides,
};
use crate::document::Issue;
use crate::document::de::{FieldPath, collect, unknown_name_message};
use crate::document::node::{self, Node, Value};
use crate::document::values::HumanDuration;
use crate::policy::CheckPolicy;
use crate::stage::LifecycleStage;

/// The config format version this code reads.
pub const VERSION: u32 = 1;

/// The most checks one stage may have: each runs in the same Lambda invocation.
pub const MAX_CHECKS_PER_STAGE: usize = 50;

/// The longest bake: ECS lifecycle hooks time out after 24 hours by default.
pub const MAX_BAKE: Duration = Duration::from_secs(24 * 60 * 60);

/// The shortest and longest wait between judgements of a stage.
pub const INTERVAL_RANGE: (Duration, Duration) =
    (Duration::from_secs(1), Duration::from_secs(60 * 60));

/// The interval when neither the stage nor `defaults` gives one: what ECS waits by default.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);

/// Top-level fields. `$schema` is allowed so JSON files can name their schema for editors.
pub const TOP_LEVEL_FIELDS: &[&str] = &[
    "version",
    "defaults",
    "inherit_defaults",
    "stages",
    "$schema",
];

/// Fields of a stage written as a map.
pub(crate) const STAGE_FIELDS: &[&str] = &["bake", "interval", "checks"];

/// Builds a config from a tree. With `inherit_builtin`, stages the config does not name get the
/// built-in plans (unless it says `inherit_defaults: false`).
pub(crate) fn load(
    root: &Node,
    source: &ConfigSource,
    inherit_builtin: bool,
) -> Result<Config, ConfigErrors> {
    let mut issues = Vec::new();
    let config = load_tree(root, &mut issues);
    let mut config = match config {
        Some(config) if issues.is_empty() => config,
        _ => return Err(to_errors(issues, source, root)),
    };
    if inherit_builtin && config.inherit_defaults {
        let builtin = builtin_stages().map_err(Clone::clone)?;
        for (stage, plan) in builtin {
            config
                .stages
                .entry(stage.clone())
                .or_insert_with(|| plan.clone());
        }
        validate_inherited(&config, &mut issues);
        if !issues.is_empty() {
            return Err(to_errors(issues, source, root));
        }
    }
    Ok(config)
}

fn to_errors(mut issues: Vec<Issue>, source: &ConfigSource, root: &Node) -> ConfigErrors {
    let errors: Vec<_> = {
        let mut errors: Vec<_> = issues
            .drain(..)
            .map(|issue| ConfigError::from_issue(issue, source, Some(root)))
            .collect();
        // Document order reads best; errors with no position keep their place at the end.
        errors.sort_by_key(|error| (error.line.is_none(), error.line, error.column));
        errors.dedup();
        errors
    };
    ConfigErrors::from_vec(errors).unwrap_or_else(|| {
        ConfigErrors::from(super::ConfigError::invalid(
            source.clone(),
            "the config is invalid",
        ))
    })
}

/// The built-in plans, parsed once.
static BUILTIN: LazyLock<Result<Config, ConfigErrors>> = LazyLock::new(|| {
    let root = node::from_yaml_text(super::BUILTIN_YAML)
        .map_err(|error| ConfigErrors::from(super::syntax_error(error, &ConfigSource::Builtin)))?;
    load(&root, &ConfigSource::Builtin, false).map(|mut config| {
        for stage in config.stages.values_mut() {
            stage.origin = StageOrigin::Builtin;
        }
        config
    })
});

pub(crate) fn builtin() -> &'static Result<Config, ConfigErrors> {
    &BUILTIN
}

fn builtin_stages() -> Result<&'static BTreeMap<LifecycleStage, StageConfig>, &'static ConfigErrors>
{
    BUILTIN.as_ref().map(|config| &config.stages)
}

fn load_tree(root: &Node, issues: &mut Vec<Issue>) -> Option<Config> {
    let entries = match &root.value {
        Value::Map(entries) => entries,
        Value::Null => {
            issues.push(
                Issue::new(
                    FieldPath::root(),
                    "the config is empty; it needs at least `version: 1`",
                )
                .at(root.pos),
            );
            return None;
        }
        _ => {
            issues.push(
                Issue::new(
                    FieldPath::root(),
                    format!(
                        "expected a map of config fields (version, defaults, inherit_defaults, stages), got {}",
                        // Never the value: a reference may name a secret that is not a config.
                        root.describe_shape()
                    ),
                )
                .at(root.pos),
            );
            return None;
        }
    };
    for (key, _) in entries {
        if !TOP_LEVEL_FIELDS.contains(&key.name.as_str()) {
            issues.push(
                Issue::new(
                    FieldPath::root().key(key.name.clone()),
                    unknown_name_message("field", &key.name, &TOP_LEVEL_FIELDS[..4]),
                )
                .at(key.pos),
            );
        }
    }

    let version = load_version(root.get("version"), root, issues);
    let defaults = load_defaults(root.get("defaults"), issues);
    let inherit_defaults = match root
        .get("inherit_defaults")
        .map(|node| (node, node.value()))
    {
        None => true,
        Some((_, Value::Bool(inherit))) => *inherit,
        Some((node, _)) => {
            issues.push(
                Issue::new(
                    FieldPath::root().key("inherit_defaults"),
                    format!("expected true or false, got {}", node.describe()),
                )
                .at(node.pos),
            );
            true
        }
    };
    let stages = load_stages(root.get("stages"), &defaults, issues);
    Some(Config {
        version: version?,
        defaults,
        inherit_defaults,
        stages,
    })
}

fn load_version(node: Option<&Node>, root: &Node, issues: &mut Vec<Issue>) -> Option<u32> {
    let path = FieldPath::root().key("version");
    let Some(node) = node else {
        issues.push(
            Issue::new(
                path,
                format!("missing required field `version`; add `version: {VERSION}`"),
            )
            .at(root.pos),
        );
        return None;
    };
    match node.value() {
        Value::UInt(1) => Some(VERSION),
        _ => {
            issues.push(
                Issue::new(
                    path,
                    format!(
                        "unsupported version {}; this greenlight reads version {VERSION}",
                        node.describe()
                    ),
                )
                .at(node.pos),
            );
            None
        }
    }
}

fn load_defaults(node: Option<&Node>, issues: &mut Vec<Issue>) -> Defaults {
    let mut defaults = Defaults::default();
    let Some(node) = node else {
        return defaults;
    };
    let path = FieldPath::root().key("defaults");
    match &node.value {
        Value::Map(_) => {}
        Value::Null => return defaults,
        _ => {
            issues.push(
                Issue::new(
                    path,
                    format!(
                        "expected a map of default policy fields, got {}",
                        node.describe()
                    ),
                )
                .at(node.pos),
            );
            return defaults;
        }
    }
    let overrides_node = node.filter_map_entries(|key| key != "interval");
    match collect::<PolicyOverrides>(&overrides_node) {
        Ok(overrides) => {
            validate_overrides(&overrides, &path, issues);
            defaults.policy = overrides.apply(defaults.policy);
        }
        Err(errors) => {
            for error in errors {
                let message = error.render(&["interval"]);
                issues.push(Issue::new(path.join(&error.path), message).at(error.pos));
            }
        }
    }
    if let Some(interval) = node.get("interval")
        && let Some(interval) = load_interval(interval, &path.key("interval"), issues)
    {
        defaults.interval = interval;
    }
    defaults
}

fn load_duration(node: &Node, path: &FieldPath, issues: &mut Vec<Issue>) -> Option<Duration> {
    match collect::<HumanDuration>(node) {
        Ok(duration) => Some(duration.get()),
        Err(errors) => {
            for error in errors {
                issues.push(Issue::new(path.join(&error.path), error.render(&[])).at(error.pos));
            }
            None
        }
    }
}

fn load_interval(node: &Node, path: &FieldPath, issues: &mut Vec<Issue>) -> Option<Duration> {
    let interval = load_duration(node, path, issues)?;
    let (min, max) = INTERVAL_RANGE;
    if interval < min || interval > max {
        issues.push(
            Issue::new(
                path.clone(),
                format!(
                    "expected an interval from {} to {}, got {}",
                    HumanDuration(min),
                    HumanDuration(max),
                    HumanDuration(interval)
                ),
            )
            .at(node.pos),
        );
        return None;
    }
    Some(interval)
}

fn load_stages(
    node: Option<&Node>,
    defaults: &Defaults,
    issues: &mut Vec<Issue>,
) -> BTreeMap<LifecycleStage, StageConfig> {
    let mut stages = BTreeMap::new();
    let Some(node) = node else {
        return stages;
    };
    let path = FieldPath::root().key("stages");
    let entries = match &node.value {
        Value::Map(entries) => entries,
        Value::Null => return stages,
        _ => {
            issues.push(
                Issue::new(
                    path,
                    format!(
                        "expected a map from stage names to their checks, got {}",
                        node.describe()
                    ),
                )
                .at(node.pos),
            );
            return stages;
        }
    };
    for (key, value) in entries {
        let stage_path = path.key(key.name.clone());
        let stage: LifecycleStage = key.name.parse().unwrap_or_else(|never| match never {});
        if !stage.is_known() {
            let known: Vec<&str> = LifecycleStage::known_names().collect();
            issues.push(
                Issue::new(stage_path, unknown_name_message("stage", &key.name, &known))
                    .at(key.pos),
            );
            continue;
        }
        if let Some(config) = load_stage(value, &stage, &stage_path, defaults, issues) {
            stages.insert(stage, config);
        }
    }
    stages
}

fn load_stage(
    node: &Node,
    stage: &LifecycleStage,
    path: &FieldPath,
    defaults: &Defaults,
    issues: &mut Vec<Issue>,
) -> Option<StageConfig> {
    let before = issues.len();
    let (checks_node, checks_path, bake, interval) = match &node.value {
        Value::Seq(_) => (node, path.clone(), None, None),
        Value::Map(entries) => {
            for (key, _) in entries {
                if !STAGE_FIELDS.contains(&key.name.as_str()) {
                    let mut message = unknown_name_message("field", &key.name, STAGE_FIELDS);
                    if crate::checks::CheckKind::names().any(|kind| kind == key.name) {
                        message.push_str(
                            "; a check goes in the `checks` list (`checks: [- kind: {…}]`)",
                        );
                    }
                    issues.push(Issue::new(path.key(key.name.clone()), message).at(key.pos));
                }
            }
            let bake = node.get("bake").and_then(|bake| {
                let bake_path = path.key("bake");
                let duration = load_duration(bake, &bake_path, issues)?;
                if duration > MAX_BAKE {
                    issues.push(
                        Issue::new(
                            bake_path,
                            format!(
                                "expected a bake of at most 24h, got {}",
                                HumanDuration(duration)
                            ),
                        )
                        .at(bake.pos),
                    );
                    return None;
                }
                Some(duration)
            });
            let interval = node
                .get("interval")
                .and_then(|interval| load_interval(interval, &path.key("interval"), issues));
            let Some(checks) = node.get("checks") else {
                issues.push(
                    Issue::new(
                        path.clone(),
                        "a stage written as a map needs `checks` (write `checks: []` to run none)",
                    )
                    .at(node.pos),
                );
                return None;
            };
            (checks, path.key("checks"), bake, interval)
        }
        _ => {
            issues.push(
                Issue::new(
                    path.clone(),
                    format!(
                        "expected a list of checks, or a map with bake, interval and checks, got {} (write [] to run no checks)",
                        node.describe()
                    ),
                )
                .at(node.pos),
            );
            return None;
        }
    };
    let Value::Seq(items) = &checks_node.value else {
        issues.push(
            Issue::new(
                checks_path,
                format!("expected a list of checks, got {}", checks_node.describe()),
            )
            .at(checks_node.pos),
        );
        return None;
    };
    if items.len() > MAX_CHECKS_PER_STAGE {
        issues.push(
            Issue::new(
                checks_path.clone(),
                format!(
                    "expected at most {MAX_CHECKS_PER_STAGE} checks in a stage, got {}",
                    items.len()
                ),
            )
            .at(checks_node.pos),
        );
        return None;
    }
    let mut checks = Vec::new();
    let mut paths = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let item_path = checks_path.index(i);
        if let Some(check) = load_check(item, &item_path, issues) {
            paths.push(item_path.key(check.kind.name()));
            checks.push(check);
        }
    }
    let config = StageConfig {
        origin: StageOrigin::Config,
        bake,
        interval,
        checks,
    };
    if issues.len() == before {
        validate_stage(stage, &config, &paths, defaults, issues);
    }
    (issues.len() == before).then_some(config)
}

/// Rules across a stage's checks and their resolved policies.
fn validate_stage(
    stage: &LifecycleStage,
    config: &StageConfig,
    paths: &[FieldPath],
    defaults: &Defaults,
    issues: &mut Vec<Issue>,
) {
    let ids = check_ids(&config.checks);
    for (i, id) in ids.iter().enumerate() {
        if let Some(first) = ids[..i].iter().position(|earlier| earlier == id) {
            let field = if config.checks[i].name.is_some() {
                "name"
            } else {
                ""
            };
            issues.push(Issue::new(
                paths[i].dotted(field),
                format!(
                    "the check id {id:?} is already used by the check at {}; give one of them another `name`",
                    paths[first]
                ),
            ));
        }
    }
    let interval = config.interval.unwrap_or(defaults.interval);
    for (check, path) in config.checks.iter().zip(paths) {
        let policy = check.policy.apply(defaults.policy);
        if policy.max_wait < interval {
            let (at, from) = if check.policy.max_wait.is_some() {
                (path.key("max_wait"), "")
            } else {
                (
                    FieldPath::root().key("defaults").key("max_wait"),
                    ", from defaults",
                )
            };
            issues.push(Issue::new(
                at,
                format!(
                    "max_wait ({}{from}) is shorter than the stage's interval ({}); the check could not be judged twice",
                    HumanDuration(policy.max_wait),
                    HumanDuration(interval)
                ),
            ));
        }
        let mut validation = Validation::new(stage, &policy, path.clone(), issues);
        validate_check(check, &mut validation);
    }
}

/// Built-in plans were validated with built-in defaults; the config's own defaults (a shorter
/// timeout, a longer interval) could break their policy-dependent rules, which are reported at the
/// config's `defaults` so the author knows what to change.
fn validate_inherited(config: &Config, issues: &mut Vec<Issue>) {
    // One error per distinct problem, naming every built-in plan it breaks.
    let mut grouped: Vec<(FieldPath, String, Vec<&str>)> = Vec::new();
    for (stage, plan) in &config.stages {
        if plan.origin != StageOrigin::Builtin {
            continue;
        }
        let paths: Vec<FieldPath> = (0..plan.checks.len())
            .map(|i| FieldPath::root().key("stages").key(stage.as_str()).index(i))
            .collect();
        let mut found = Vec::new();
        validate_stage(stage, plan, &paths, &config.defaults, &mut found);
        for issue in found {
            let defaults = FieldPath::root().key("defaults");
            let path = if issue.path.0.first() == defaults.0.first() {
                issue.path
            } else {
                defaults
            };
            match grouped
                .iter_mut()
                .find(|(p, message, _)| *p == path && *message == issue.message)
            {
                Some((_, _, stages)) => {
                    if !stages.contains(&stage.as_str()) {
                        stages.push(stage.as_str());
                    }
                }
                None => grouped.push((path, issue.message, vec![stage.as_str()])),
            }
        }
    }
    for (path, message, stages) in grouped {
        let plans = if stages.len() == 1 { "plan" } else { "plans" };
        issues.push(Issue::new(
            path,
            format!(
                "these defaults break the built-in {plans} for {}: {message}; name the stage to give it a plan of your own, or change the defaults",
                stages.join(", ")
            ),
        ));
    }
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            policy: CheckPolicy::default(),
            interval: DEFAULT_INTERVAL,
        }
    }
}
