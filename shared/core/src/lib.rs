//! The pure core of greenlight.
//!
//! Everything that decides whether a green revision may go on — SUCCEEDED, IN_PROGRESS or FAILED —
//! lives here, without the AWS SDK: the two hook protocols (ECS native lifecycle hooks and CodeDeploy
//! AppSpec hooks), the per-service config, outcomes and their reason codes, the verdict policy and the
//! engine that runs a stage's checks within the Lambda deadline. Keeping the SDK out makes this crate
//! fast to build and lets every rule be tested with plain values, a fake clock and fake checks.
//!
//! Gathering evidence (AWS and HTTP calls) happens at the edge, in adapters that implement
//! [`engine::Check`] and [`config::ConfigReferenceReader`]; the Lambda functions only wire them together.
//!
//! # Layers
//!
//! Each module uses only modules of the layers below its own, never a sibling's (a test reads every
//! `crate::` path to hold this), so the crate reads from the bottom up with no cycles:
//!
//! 1. [`reason`] (what a reason code is), [`stage`] (the lifecycle stages), [`stats`]
//! 2. [`outcome`] (what a check concludes), [`protocol`] (the two hook wire formats), [`document`]
//!    (a config document's building blocks)
//! 3. [`facts`] (what checks read about a deployment), [`policy`] (what an outcome means)
//! 4. [`checks`]: each kind's params, docs, reason codes and judge, and their registry
//! 5. [`config`] (loading and resolving a service's plans), [`platform`] (the operator's limits)
//! 6. [`engine`]: one stage's checks, within the deadline, folded into a verdict
//! 7. [`telemetry`]: the events an invocation logs
//! 8. [`hook`] and [`codedeploy_hook`]: one invocation of each engine, end to end
//! 9. [`catalogue`]: every code, check and IAM need, for the docs and the tools

pub mod catalogue;
pub mod checks;
pub mod codedeploy_hook;
pub mod config;
pub mod document;
pub mod engine;
pub mod facts;
pub mod hook;
pub mod outcome;
pub mod platform;
pub mod policy;
pub mod protocol;
pub mod reason;
pub mod stage;
pub mod stats;
pub mod telemetry;

pub use outcome::{Evidence, Outcome, Status};
pub use reason::ReasonCode;
pub use stage::LifecycleStage;

/// The layers of the module docs, bottom first.
#[cfg(test)]
const LAYERS: &[&[&str]] = &[
    &["reason", "stage", "stats"],
    &["outcome", "protocol", "document"],
    &["facts", "policy"],
    &["checks"],
    &["config", "platform"],
    &["engine"],
    &["telemetry"],
    &["hook", "codedeploy_hook"],
    &["catalogue"],
];

#[cfg(test)]
mod layer_tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::LAYERS;

    /// The top-level module each `crate::` path names in `text`, outside comments (an intra-doc
    /// link is not a dependency). The crate root's re-exports count as their modules.
    fn uses(text: &str) -> BTreeSet<String> {
        let code: String = text
            .lines()
            .filter(|line| !line.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let mut used = BTreeSet::new();
        for (at, _) in code.match_indices("crate::") {
            let rest = &code[at + "crate::".len()..];
            // `crate::{a::X, b}` names every module of its group.
            let heads: Vec<&str> = match rest.strip_prefix('{') {
                Some(group) => top_level_items(group),
                None => vec![rest],
            };
            for head in heads {
                let name: String = head
                    .trim_start()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                let module = match name.as_str() {
                    "Outcome" | "Evidence" | "Status" => "outcome".to_owned(),
                    "ReasonCode" => "reason".to_owned(),
                    "LifecycleStage" => "stage".to_owned(),
                    _ => name,
                };
                if !module.is_empty() {
                    used.insert(module);
                }
            }
        }
        used
    }

    /// The items of a `{…}` group whose opening brace has been read, split at its own commas.
    fn top_level_items(group: &str) -> Vec<&str> {
        let mut items = Vec::new();
        let (mut depth, mut start) = (0usize, 0usize);
        for (index, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => {
                    items.push(&group[start..index]);
                    return items;
                }
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    items.push(&group[start..index]);
                    start = index + 1;
                }
                _ => {}
            }
        }
        items.push(&group[start..]);
        items
    }

    #[test]
    fn grouped_and_multi_line_uses_name_each_module() {
        let text = "use crate::{\n    engine::{Engine, Plan},\n    facts::Facts,\n    Outcome,\n};\nuse crate::stage::StageKey;\n// use crate::hook;";
        let expected: BTreeSet<String> = ["engine", "facts", "outcome", "stage"]
            .into_iter()
            .map(str::to_owned)
            .collect();
        assert_eq!(uses(text), expected);
    }

    fn layer_of(module: &str) -> Option<usize> {
        LAYERS.iter().position(|layer| layer.contains(&module))
    }

    fn visit(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("src readable") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                visit(&path, files);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                files.push(path);
            }
        }
    }

    /// Every module uses only lower layers: the import graph of the crate's modules has no cycle
    /// (a module and its own children are one module here).
    #[test]
    fn every_module_uses_only_the_layers_below_its_own() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        visit(&src, &mut files);
        let mut seen = BTreeSet::new();
        let mut wrong = Vec::new();
        for file in files {
            let relative = file.strip_prefix(&src).expect("under src");
            let top = relative
                .components()
                .next()
                .and_then(|c| c.as_os_str().to_str())
                .expect("a name")
                .trim_end_matches(".rs")
                .to_owned();
            if top == "lib" {
                continue;
            }
            let Some(own) = layer_of(&top) else {
                wrong.push(format!("{top} is in no layer of lib.rs"));
                continue;
            };
            seen.insert(top.clone());
            let text = std::fs::read_to_string(&file).expect("source readable");
            for used in uses(&text) {
                if used == top {
                    continue;
                }
                match layer_of(&used) {
                    Some(layer) if layer < own => {}
                    Some(_) => wrong.push(format!(
                        "{} uses crate::{used}, which is not in a layer below {top}'s",
                        relative.display()
                    )),
                    None => wrong.push(format!(
                        "{} uses crate::{used}, which is in no layer",
                        relative.display()
                    )),
                }
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
        let listed: BTreeSet<String> = LAYERS
            .iter()
            .flat_map(|layer| layer.iter().map(|m| (*m).to_owned()))
            .collect();
        assert_eq!(seen, listed, "every layer names a module of the crate");
    }

    #[test]
    fn the_layer_test_sees_uses_and_ignores_comments() {
        let text =
            "use crate::engine::Verdict;\n/// [`crate::hook`]\nlet x = crate::Outcome::pass;";
        let found: Vec<String> = uses(text).into_iter().collect();
        assert_eq!(found, ["engine", "outcome"]);
    }
}
