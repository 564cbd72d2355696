//! The registry of check kinds, and a check entry as a config writes it.
//!
//! A check entry is a single-key map, `kind: params`. Its params are the kind's own fields plus the
//! fields every check takes ([`PolicyOverrides`] and `name`). Each kind lives in its own folder
//! (`checks/<kind>/`: its params and their validation in `params.rs`, its docs, reason codes and
//! judge in `mod.rs`); one registry (`check_registry!`) lists them all with their documentation,
//! and the loader, the JSON Schema and the docs are driven from it.

use std::time::Duration;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::document::Issue;
use crate::document::de::{FieldPath, collect, struct_fields, unknown_name_message};
use crate::document::node::{Node, Value};
use crate::document::values::{HumanDuration, serde_option_duration};
use crate::policy::{CheckPolicy, Mode, OnError, OnExhausted, OnInconclusive, OnNotApplicable};
use crate::stage::LifecycleStage;

use super::{CheckKind, KINDS};

/// Turns the one list of check kinds (in `checks/mod.rs`: each variant, its params and its
/// documentation) into the config enum ([`CheckKind`]), the loader's and schema's table (`KINDS`)
/// and the documentation list ([`DOCS`], behind the README's tables and `greenlight codes`), so
/// none can miss a kind; the AWS adapter's builder is an exhaustive `match` on [`CheckKind`].
macro_rules! check_registry {
    ($( $(#[$meta:meta])* $variant:ident($params:ty) => $doc:path ),+ $(,)?) => {
        /// A check and its params: one variant per kind.
        // A plan holds a few of these, built once per invocation; boxing the larger params would
        // only add indirection for the engine to read through.
        #[allow(clippy::large_enum_variant)]
        #[derive(Debug, Clone, PartialEq)]
        pub enum CheckKind {
            $( $(#[$meta])* $variant($params), )+
        }

        impl CheckKind {
            /// The kind as written in config (`target_health`).
            pub fn name(&self) -> &'static str {
                match self {
                    $( CheckKind::$variant(_) => <$params as $crate::checks::registry::CheckParams>::KIND, )+
                }
            }

            /// The kind's documentation: summary, example, IAM actions and reason codes.
            pub fn doc(&self) -> &'static $crate::checks::CheckDoc {
                match self {
                    $( CheckKind::$variant(_) => &$doc, )+
                }
            }

            fn validate(&self, validation: &mut $crate::checks::registry::Validation<'_>) {
                match self {
                    $( CheckKind::$variant(params) => $crate::checks::registry::CheckParams::validate(params, validation), )+
                }
            }
        }

        /// Every check kind, in the order documented.
        pub(crate) const KINDS: &[$crate::checks::registry::KindEntry] =
            &[ $( $crate::checks::registry::entry::<$params>(), )+ ];

        /// Every check's documentation, in the order the README lists them.
        pub static DOCS: &[&$crate::checks::CheckDoc] = &[ $( &$doc, )+ ];
    };
}
pub(crate) use check_registry;

impl CheckKind {
    /// The names of every kind, in the order documented.
    pub fn names() -> impl Iterator<Item = &'static str> {
        KINDS.iter().map(|kind| kind.name)
    }
}

/// What each kind's params struct provides.
pub(crate) trait CheckParams: DeserializeOwned + JsonSchema + Into<CheckKind> {
    /// The kind as written in config.
    const KIND: &'static str;

    /// Cross-field rules the types alone cannot hold. Policy-dependent rules see the check's
    /// resolved policy.
    fn validate(&self, validation: &mut Validation<'_>);
}

/// One row of the kind registry.
pub(crate) struct KindEntry {
    pub(crate) name: &'static str,
    fields: fn() -> &'static [&'static str],
    load: fn(&Node, &FieldPath, &mut Vec<Issue>) -> Option<CheckKind>,
    pub(crate) schema: fn(&mut SchemaGenerator) -> Schema,
}

pub(crate) const fn entry<P: CheckParams>() -> KindEntry {
    KindEntry {
        name: P::KIND,
        fields: struct_fields::<P>,
        load: load_params::<P>,
        schema: entry_schema::<P>,
    }
}

/// The policy fields every check takes, overriding `defaults`; unset fields keep the default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyOverrides {
    /// `enforce` (the outcome decides the verdict) or `advisory` (reported, never gating).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    /// What an inconclusive outcome (no data, too few samples, not ready) means: `wait`, `fail`
    /// or `pass`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_inconclusive: Option<OnInconclusive>,
    /// What a transient error (throttling, 5xx, timeout) means: `retry` or `fail` (`pass` is
    /// refused: an error is no evidence). Errors waiting cannot heal (access denied, bad config)
    /// always fail an enforcing check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_error: Option<OnError>,
    /// What to answer when the check is still inconclusive or erroring after `max_wait`: `fail`
    /// (no evidence is not success) or `pass`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_exhausted: Option<OnExhausted>,
    /// What to answer when the service lacks what the check judges (no load balancer, no test
    /// listener rule, no Service Connect): `fail` (default), or `pass` with `CHECK_NOT_APPLICABLE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_not_applicable: Option<OnNotApplicable>,
    /// How long one run of the check may take, at most 15m (the Lambda limit).
    #[serde(
        default,
        with = "serde_option_duration",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "Option<HumanDuration>")]
    pub timeout: Option<Duration>,
    /// How long the check may stay inconclusive or erroring before `on_exhausted` decides; at
    /// least the stage's `interval`.
    #[serde(
        default,
        with = "serde_option_duration",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "Option<HumanDuration>")]
    pub max_wait: Option<Duration>,
    /// How many passing observations in a row, across invocations, count as a pass (1 to 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub consecutive: Option<u32>,
}

impl PolicyOverrides {
    /// `base` with every field this sets replaced.
    pub fn apply(&self, base: CheckPolicy) -> CheckPolicy {
        CheckPolicy {
            mode: self.mode.unwrap_or(base.mode),
            on_inconclusive: self.on_inconclusive.unwrap_or(base.on_inconclusive),
            on_error: self.on_error.unwrap_or(base.on_error),
            on_exhausted: self.on_exhausted.unwrap_or(base.on_exhausted),
            on_not_applicable: self.on_not_applicable.unwrap_or(base.on_not_applicable),
            timeout: self.timeout.unwrap_or(base.timeout),
            max_wait: self.max_wait.unwrap_or(base.max_wait),
            consecutive: self.consecutive.unwrap_or(base.consecutive),
        }
    }

    /// The names of the policy fields.
    pub fn fields() -> &'static [&'static str] {
        struct_fields::<PolicyOverrides>()
    }
}

/// The longest a check may wait: ECS's longest hook timeout (`timeoutInMinutes` 20160), past
/// which ECS stops waiting for the hook anyway.
pub(crate) const MAX_WAIT: Duration = Duration::from_secs(20_160 * 60);

/// The longest a check may run: a Lambda invocation lasts at most 15 minutes.
pub(crate) const MAX_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// The range rules of the policy fields, shared by `defaults` and each check.
pub(crate) fn validate_overrides(
    overrides: &PolicyOverrides,
    path: &FieldPath,
    issues: &mut Vec<Issue>,
) {
    if let Some(timeout) = overrides.timeout
        && (timeout.is_zero() || timeout > MAX_TIMEOUT)
    {
        issues.push(Issue::new(
            path.key("timeout"),
            format!(
                "expected a timeout above 0s and at most 15m (a Lambda runs at most 15 minutes), got {}",
                HumanDuration(timeout)
            ),
        ));
    }
    if overrides
        .max_wait
        .is_some_and(|max_wait| max_wait.is_zero())
    {
        issues.push(Issue::new(
            path.key("max_wait"),
            "expected a max_wait above 0s; use on_inconclusive: fail to stop waiting at once",
        ));
    }
    if overrides.on_error == Some(OnError::Pass) {
        issues.push(Issue::new(
            path.key("on_error"),
            "on_error: pass would let a check that timed out or could not reach AWS pass with no evidence; use `mode: advisory` to report a check without gating, or `on_exhausted: pass` to accept its absence only after `max_wait`",
        ));
    }
    if let Some(max_wait) = overrides.max_wait
        && max_wait > MAX_WAIT
    {
        issues.push(Issue::new(
            path.key("max_wait"),
            format!(
                "expected a max_wait of at most 14d (20160m, ECS's longest hook timeout), got {}",
                HumanDuration(max_wait)
            ),
        ));
    }
    if let Some(consecutive) = overrides.consecutive
        && !(1..=100).contains(&consecutive)
    {
        issues.push(Issue::new(
            path.key("consecutive"),
            format!("expected consecutive from 1 to 100, got {consecutive}"),
        ));
    }
}

/// A check as the config wrote it.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckConfig {
    /// The name the config gave it, unique within its stage.
    pub name: Option<String>,
    /// The kind and its params.
    pub kind: CheckKind,
    /// The policy fields it sets.
    pub policy: PolicyOverrides,
}

/// The longest check name.
const MAX_NAME_CHARS: usize = 64;

/// Reads one entry of a stage's check list; problems go to `issues`.
pub(crate) fn load_check(
    node: &Node,
    path: &FieldPath,
    issues: &mut Vec<Issue>,
) -> Option<CheckConfig> {
    let empty = Node::new(Value::Map(Vec::new()), node.pos);
    let (kind_name, params) = match &node.value {
        // `- tasks` is short for `- tasks: {}`.
        Value::Str(name) => (name.as_str(), &empty),
        Value::Map(entries) if entries.len() == 1 => {
            let (key, params) = &entries[0];
            (key.name.as_str(), params)
        }
        Value::Map(entries) => {
            let keys: Vec<&str> = entries.iter().map(|(key, _)| key.name.as_str()).collect();
            let kinds: Vec<&str> = keys
                .iter()
                .copied()
                .filter(|key| CheckKind::names().any(|kind| kind == *key))
                .collect();
            let message = if kinds.len() == 1 {
                format!(
                    "a check is a map with one key, its kind; indent the other fields ({}) under `{}:`",
                    keys.iter()
                        .filter(|key| **key != kinds[0])
                        .copied()
                        .collect::<Vec<_>>()
                        .join(", "),
                    kinds[0]
                )
            } else {
                format!(
                    "a check is a map with one key, its kind ({}); this one has {} keys: {}",
                    CheckKind::names().collect::<Vec<_>>().join(", "),
                    keys.len(),
                    keys.join(", ")
                )
            };
            issues.push(Issue::new(path.clone(), message).at(node.pos));
            return None;
        }
        _ => {
            issues.push(
                Issue::new(
                    path.clone(),
                    format!(
                        "expected a check such as `- tasks: {{ min_running_percent: 100 }}`, got {}",
                        node.describe()
                    ),
                )
                .at(node.pos),
            );
            return None;
        }
    };
    let kind_path = path.key(kind_name);
    let Some(kind) = KINDS.iter().find(|kind| kind.name == kind_name) else {
        let known: Vec<&str> = CheckKind::names().collect();
        let key_pos = node
            .entries()
            .and_then(|e| e.first())
            .and_then(|(key, _)| key.pos);
        issues.push(
            Issue::new(
                kind_path,
                unknown_name_message("check kind", kind_name, &known),
            )
            .at(key_pos.or(node.pos)),
        );
        return None;
    };
    let params = match params.value {
        Value::Null => &Node::new(Value::Map(Vec::new()), params.pos),
        Value::Map(_) => params,
        _ => {
            issues.push(
                Issue::new(
                    kind_path,
                    format!(
                        "expected the fields of the check as a map, got {}",
                        params.describe()
                    ),
                )
                .at(params.pos),
            );
            return None;
        }
    };

    let policy_fields = PolicyOverrides::fields();
    // A kind with a `name` of its own (`metric`: the metric's name) keeps it; such checks are
    // identified by kind and position.
    let own_name = (kind.fields)().contains(&"name");
    let is_common = |key: &str| (key == "name" && !own_name) || policy_fields.contains(&key);
    let before = issues.len();

    let name_node = params.get("name").filter(|_| !own_name);
    let name = name_node.and_then(|node| match &node.value {
        Value::Str(name) | Value::Plain(_, name) => {
            if let Err(message) = check_name(name) {
                issues.push(Issue::new(kind_path.key("name"), message).at(node.pos));
            }
            Some(name.clone())
        }
        _ => {
            issues.push(
                Issue::new(
                    kind_path.key("name"),
                    format!("expected a name, got {}", node.describe()),
                )
                .at(node.pos),
            );
            None
        }
    });

    let policy_node = params.filter_map_entries(|key| key != "name" && is_common(key));
    let policy = collect::<PolicyOverrides>(&policy_node).map_err(|errors| {
        for error in errors {
            let message = error.render(&[]);
            issues.push(Issue::new(kind_path.join(&error.path), message).at(error.pos));
        }
    });
    if let Ok(policy) = &policy {
        validate_overrides(policy, &kind_path, issues);
    }

    let own_node = params.filter_map_entries(|key| !is_common(key));
    let own = (kind.load)(&own_node, &kind_path, issues);

    match (own, policy) {
        (Some(kind), Ok(policy)) if issues.len() == before => {
            Some(CheckConfig { name, kind, policy })
        }
        _ => None,
    }
}

fn load_params<P: CheckParams>(
    node: &Node,
    path: &FieldPath,
    issues: &mut Vec<Issue>,
) -> Option<CheckKind> {
    // Unknown fields are matched against the common fields too, so a misspelt `timout` is
    // suggested `timeout`.
    let mut also = vec!["name"];
    also.extend_from_slice(PolicyOverrides::fields());
    match collect::<P>(node) {
        Ok(params) => Some(params.into()),
        Err(errors) => {
            for error in errors {
                let message = error.render(&also);
                issues.push(Issue::new(path.join(&error.path), message).at(error.pos));
            }
            None
        }
    }
}

/// Names become check ids in reports and in the state kept between invocations, so they are
/// short and plain; `#` is kept for the ids of repeated kinds (`http#2`).
fn check_name(name: &str) -> Result<(), String> {
    let plain = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS || !plain {
        return Err(format!(
            "expected a name of 1 to {MAX_NAME_CHARS} letters, digits, `-`, `_` or `.`, got {}",
            crate::document::node::quote(name)
        ));
    }
    Ok(())
}

/// The ids of a stage's checks: the name if given, else the kind, with `#2`, `#3` for the second
/// and third unnamed check of the same kind.
pub(crate) fn check_ids(checks: &[CheckConfig]) -> Vec<String> {
    let mut seen: Vec<(&str, usize)> = Vec::new();
    checks
        .iter()
        .map(|check| match &check.name {
            Some(name) => name.clone(),
            None => {
                let kind = check.kind.name();
                let count = match seen.iter_mut().find(|(k, _)| *k == kind) {
                    Some((_, count)) => {
                        *count += 1;
                        *count
                    }
                    None => {
                        seen.push((kind, 1));
                        1
                    }
                };
                if count == 1 {
                    kind.to_owned()
                } else {
                    format!("{kind}#{count}")
                }
            }
        })
        .collect()
}

/// Where a check's validation rules report, with what they may consult.
pub(crate) struct Validation<'a> {
    /// The stage the check runs at.
    pub(crate) stage: &'a LifecycleStage,
    /// The check's resolved policy.
    pub(crate) policy: &'a CheckPolicy,
    /// The path of the check's params (`stages.X.checks[1].http`).
    path: FieldPath,
    issues: &'a mut Vec<Issue>,
}

impl<'a> Validation<'a> {
    pub(crate) fn new(
        stage: &'a LifecycleStage,
        policy: &'a CheckPolicy,
        path: FieldPath,
        issues: &'a mut Vec<Issue>,
    ) -> Self {
        Validation {
            stage,
            policy,
            path,
            issues,
        }
    }

    /// Reports a problem with `field` (dotted, relative to the params: `expect.p99`).
    pub(crate) fn error(&mut self, field: &str, message: impl Into<String>) {
        self.issues
            .push(Issue::new(self.path.dotted(field), message));
    }

    /// Reports that the check cannot judge green at this stage, because what it looks at does not
    /// exist yet (no green tasks before POST_SCALE_UP, no test route before TEST_TRAFFIC_SHIFT).
    pub(crate) fn require_stage_from(&mut self, first: LifecycleStage, why: &str) {
        if *self.stage < first {
            let stage = self.stage.as_str().to_owned();
            self.error("", format!("cannot run at {stage}: {why}, from {first} on"));
        }
    }

    /// Reports a problem at a path relative to the params.
    pub(crate) fn error_at(&mut self, path: FieldPath, message: impl Into<String>) {
        self.issues.push(Issue::new(self.path.join(&path), message));
    }
}

/// Runs a check's validation rules.
pub(crate) fn validate_check(check: &CheckConfig, validation: &mut Validation<'_>) {
    check.kind.validate(validation);
}

/// The schema of one check entry: `{ kind: params }` where params are the kind's fields, `name` and
/// the policy fields.
fn entry_schema<P: CheckParams>(generator: &mut SchemaGenerator) -> Schema {
    /// Params of a kind that has a `name` of its own.
    #[derive(JsonSchema)]
    #[schemars(deny_unknown_fields, rename = "{P}")]
    #[allow(dead_code)]
    struct OwnNameParams<P> {
        #[schemars(flatten)]
        own: P,
        #[schemars(flatten)]
        policy: PolicyOverrides,
    }

    // Named after the kind's params (`TasksParams`): that is what editors show.
    #[derive(JsonSchema)]
    #[schemars(deny_unknown_fields, rename = "{P}")]
    #[allow(dead_code)]
    struct Params<P> {
        #[schemars(flatten)]
        own: P,
        /// A name for the check, unique within its stage: it becomes the check's id in reports and
        /// in the state kept between invocations. Letters, digits, `-`, `_` and `.`.
        #[schemars(length(min = 1, max = 64), regex(pattern = r"^[A-Za-z0-9._-]+$"))]
        name: Option<String>,
        #[schemars(flatten)]
        policy: PolicyOverrides,
    }
    let params = if struct_fields::<P>().contains(&"name") {
        generator.subschema_for::<OwnNameParams<P>>()
    } else {
        generator.subschema_for::<Params<P>>()
    };
    let mut properties = serde_json::Map::new();
    properties.insert(P::KIND.to_owned(), params.to_value());
    let mut entry = serde_json::json!({
        "type": "object",
        "properties": properties,
        "required": [P::KIND],
        "additionalProperties": false,
    });
    // The params' own doc comment says what the check does; it sits on their definition, which
    // the entry only references.
    if let Some(description) = P::json_schema(generator).get("description") {
        entry["description"] = description.clone();
    }
    crate::document::values::schema(entry)
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;
    use crate::document::node::from_yaml_text;

    /// Loads and validates one check written in YAML (`tasks: { … }`) at `stage` with the default
    /// policy overlaid by the check's own fields; returns the check or the messages.
    pub(crate) fn check(yaml: &str) -> Result<CheckConfig, Vec<String>> {
        check_at(yaml, &LifecycleStage::ProductionTrafficShift)
    }

    pub(crate) fn check_at(yaml: &str, stage: &LifecycleStage) -> Result<CheckConfig, Vec<String>> {
        let node = from_yaml_text(yaml).map_err(|e| vec![e.message])?;
        let mut issues = Vec::new();
        let path = FieldPath::root().key("checks").index(0);
        let loaded = load_check(&node, &path, &mut issues);
        if let Some(check) = &loaded {
            let policy = check.policy.apply(CheckPolicy::default());
            let mut validation =
                Validation::new(stage, &policy, path.key(check.kind.name()), &mut issues);
            validate_check(check, &mut validation);
        }
        match loaded {
            Some(check) if issues.is_empty() => Ok(check),
            _ => Err(issues
                .into_iter()
                .map(|issue| format!("{}: {}", issue.path, issue.message))
                .collect()),
        }
    }

    /// The messages of a check that must not validate.
    pub(crate) fn errors(yaml: &str) -> Vec<String> {
        match check(yaml) {
            Ok(check) => panic!("expected errors, got {check:?}"),
            Err(messages) => messages,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::{check, errors};
    use super::*;

    #[test]
    fn a_bare_kind_is_a_check_with_default_params() {
        let check = check("tasks").unwrap();
        assert_eq!(check.kind.name(), "tasks");
        assert_eq!(check.name, None);
    }

    #[test]
    fn common_fields_sit_next_to_the_kinds_own() {
        let check =
            check("tasks: { min_running_percent: 50, name: half, mode: advisory, timeout: 5s }")
                .unwrap();
        assert_eq!(check.name.as_deref(), Some("half"));
        assert_eq!(check.policy.mode, Some(Mode::Advisory));
        assert_eq!(check.policy.timeout, Some(Duration::from_secs(5)));
        let policy = check.policy.apply(CheckPolicy::default());
        assert_eq!(policy.mode, Mode::Advisory);
        assert_eq!(policy.on_error, OnError::Retry);
        assert_eq!(policy.timeout, Duration::from_secs(5));
    }

    #[test]
    fn unknown_kinds_and_fields_suggest_the_closest() {
        assert_eq!(
            errors("taks: {}"),
            vec!["checks[0].taks: unknown check kind \"taks\"; did you mean \"tasks\"?"]
        );
        assert_eq!(
            errors("tasks: { timout: 5s }"),
            vec!["checks[0].tasks.timout: unknown field \"timout\"; did you mean \"timeout\"?"]
        );
        assert_eq!(
            errors("tasks: { mode: advisery }"),
            vec!["checks[0].tasks.mode: unknown value \"advisery\"; did you mean \"advisory\"?"]
        );
    }

    #[test]
    fn a_check_with_fields_beside_its_kind_is_explained() {
        assert_eq!(
            errors("tasks:\nmin_running_percent: 50"),
            vec![
                "checks[0]: a check is a map with one key, its kind; indent the other fields (min_running_percent) under `tasks:`"
            ]
        );
        assert!(errors("42")[0].contains("expected a check such as"));
        assert!(errors("tasks: 5")[0].contains("expected the fields of the check as a map"));
    }

    #[test]
    fn names_are_plain() {
        assert!(errors("tasks: { name: 'has space' }")[0].contains("expected a name of 1 to 64"));
        assert!(errors("tasks: { name: 'http#2' }")[0].contains("expected a name"));
        assert!(check("tasks: { name: web-tasks_1.0 }").is_ok());
    }

    #[test]
    fn policy_ranges_are_checked() {
        assert!(errors("tasks: { timeout: 20m }")[0].contains("at most 15m"));
        assert!(errors("tasks: { consecutive: 0 }")[0].contains("from 1 to 100"));
        assert!(errors("tasks: { max_wait: 0s }")[0].contains("above 0s"));
    }

    #[test]
    fn ids_number_repeated_kinds() {
        let make = |name: Option<&str>, kind: CheckKind| CheckConfig {
            name: name.map(str::to_owned),
            kind,
            policy: PolicyOverrides::default(),
        };
        let alarms = || {
            CheckKind::Alarms(
                check("alarms")
                    .map(|c| match c.kind {
                        CheckKind::Alarms(p) => p,
                        _ => unreachable!(),
                    })
                    .unwrap(),
            )
        };
        let tasks = || CheckKind::Tasks(crate::checks::TasksParams::default());
        let ids = check_ids(&[
            make(None, alarms()),
            make(Some("web"), alarms()),
            make(None, tasks()),
            make(None, alarms()),
            make(None, alarms()),
        ]);
        assert_eq!(ids, vec!["alarms", "web", "tasks", "alarms#2", "alarms#3"]);
    }

    #[test]
    fn every_kind_is_registered_once_with_its_name() {
        let names: Vec<&str> = CheckKind::names().collect();
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(
            unique.len(),
            names.len(),
            "a kind is registered twice: {names:?}"
        );
        for name in names {
            assert!(
                name.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{name} is not snake_case"
            );
            // A bare entry names its kind, or is refused for a rule of that kind (a required
            // field), never taken for another kind.
            match check(name) {
                Ok(loaded) => assert_eq!(loaded.kind.name(), name),
                Err(messages) => assert!(
                    messages.iter().all(|m| !m.contains("unknown check kind")),
                    "{name}: {messages:?}"
                ),
            }
        }
    }
}
