#!/usr/bin/env python3
"""Scaffolds a new check kind: `make new-check NAME=my_check` (or `tools/new_check.py my_check`).

Writes the three new files of a check and adds its two registry lines, so that the tree builds,
its tests pass and the kind appears in `greenlight checks` at once (run `make docs` to regenerate
the README tables and infra/iam/needs.json):

  new   shared/core/src/checks/NAME/params.rs   what a team writes, and its validation
  new   shared/core/src/checks/NAME/mod.rs      docs, reason codes and the pure judge
  new   shared/aws/src/checks/NAME.rs           the gather half (I/O)
  edit  shared/core/src/checks/mod.rs           `pub mod NAME;` and the registry line
  edit  shared/aws/src/checks/mod.rs            `pub mod NAME;` and the builder's arm

The skeleton never passes: until its gather half is written it answers a permanent error with its
own reason code (NAME_NOT_GATHERED), so a half-written check cannot wave a deployment through.
See CONTRIBUTING.md, "Adding a check".
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "shared" / "core" / "src" / "checks"
AWS = ROOT / "shared" / "aws" / "src" / "checks"


def fail(message: str) -> None:
    print(f"new-check: {message}", file=sys.stderr)
    sys.exit(2)


def camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def params_rs(name: str) -> str:
    c = camel(name)
    return f'''//! `{name}`: the params a team writes under `- {name}:`, and their validation.

use schemars::JsonSchema;
use serde::{{Deserialize, Serialize}};

use crate::checks::CheckKind;
use crate::checks::registry::{{CheckParams, Validation}};

/// Params of the `{name}` check. Every field is documented: the docs are the JSON Schema editors
/// show.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct {c}Params {{}}

impl From<{c}Params> for CheckKind {{
    fn from(params: {c}Params) -> Self {{
        CheckKind::{c}(params)
    }}
}}

impl CheckParams for {c}Params {{
    const KIND: &'static str = "{name}";

    /// Cross-field rules, and the first stage the check can judge green at
    /// (`validation.require_stage_from`); keep its `IamNeed`s' `from` in step (a test holds them).
    fn validate(&self, _validation: &mut Validation<'_>) {{}}
}}

#[cfg(test)]
mod tests {{
    use super::*;
    use crate::checks::registry::test_support::{{check, errors}};

    #[test]
    fn a_bare_entry_is_a_{name}_check() {{
        assert!(matches!(check("{name}").unwrap().kind, CheckKind::{c}(_)));
    }}

    #[test]
    fn an_unknown_field_is_refused() {{
        assert!(!errors("{name}: {{ no_such_field: 1 }}").is_empty());
    }}
}}
'''


def mod_rs(name: str) -> str:
    c, u = camel(name), name.upper()
    return f'''//! `{name}`: TODO say in one line what it checks.
//!
//! The judge half: pure functions from evidence to an [`Outcome`], tested on tables. The gather
//! half is in the AWS adapter (`greenlight_aws::checks::{name}`).

pub mod params;

use super::{{CheckDoc, IamNeed}};
use crate::checks::{name}::params::{c}Params;
use crate::outcome::Outcome;
use crate::reason::ReasonCode;
use crate::stage::LifecycleStage;

/// The evidence says green is good.
pub static {u}_PASSED: ReasonCode = ReasonCode {{
    code: "{u}_PASSED",
    summary: "TODO: what a pass means, in one line.",
    what: "TODO: what was looked at.",
    why: "TODO: why that says green is good.",
    fix: "Nothing to fix.",
}};

/// The evidence says green is bad.
pub static {u}_FAILED: ReasonCode = ReasonCode {{
    code: "{u}_FAILED",
    summary: "TODO: what a failure means, in one line.",
    what: "TODO: what was looked at, and what was wrong.",
    why: "TODO: why that must stop the deployment.",
    fix: "TODO: what the team should do.",
}};

/// The gather half is not written yet: never a pass.
pub static {u}_NOT_GATHERED: ReasonCode = ReasonCode {{
    code: "{u}_NOT_GATHERED",
    summary: "The `{name}` check gathers no evidence yet.",
    what: "The check's gather half (shared/aws/src/checks/{name}.rs) is the skeleton the scaffolder wrote.",
    why: "A check that cannot gather evidence must not pass a deployment.",
    fix: "Write the gather half, or remove the check from the config.",
}};

/// The `{name}` check.
pub static DOC: CheckDoc = CheckDoc {{
    kind: "{name}",
    summary: "TODO: what it checks, in one line (the README's table).",
    why: "TODO: why it matters, and what it catches that others do not.",
    example: "{name}: {{}}",
    iam: &[IamNeed {{
        when: "",
        example: "{name}",
        from: LifecycleStage::ReconcileService,
        facts: &[],
        calls: &[],
    }}],
    codes: &[&{u}_PASSED, &{u}_FAILED, &{u}_NOT_GATHERED],
}};

/// What the gather half learned.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct {c}Evidence {{
    /// What is wrong with green, one line each.
    pub problems: Vec<String>,
}}

/// Judges the evidence.
pub fn judge(_params: &{c}Params, evidence: &{c}Evidence) -> Outcome {{
    match evidence.problems.as_slice() {{
        [] => Outcome::pass(&{u}_PASSED, "TODO: say what was seen"),
        problems => Outcome::fail(&{u}_FAILED, problems.join("; ")),
    }}
}}

#[cfg(test)]
mod tests {{
    use super::*;
    use crate::outcome::Status;

    #[test]
    fn a_problem_fails_and_none_passes() {{
        let params = {c}Params::default();
        let bad = {c}Evidence {{
            problems: vec!["TODO".to_owned()],
        }};
        assert_eq!(judge(&params, &bad).status, Status::Fail);
        assert_eq!(judge(&params, &{c}Evidence::default()).status, Status::Pass);
    }}
}}
'''


def aws_rs(name: str) -> str:
    c, u = camel(name), name.upper()
    return f'''//! The `{name}` check's gather half: TODO say what it calls, batched, and which shared facts it
//! reads (`CheckDeps::facts`); then hand the evidence to the core's judge
//! (`greenlight_core::checks::{name}::judge`). List every call in the check's `IamNeed`s.

use greenlight_core::Outcome;
use greenlight_core::checks::{name}::params::{c}Params;
use greenlight_core::checks::{name}::{{DOC, {u}_NOT_GATHERED}};
use greenlight_core::engine::{{Check, CheckFuture, StageView}};

use super::CheckDeps;

/// Builds the `{name}` check.
pub fn build(params: &{c}Params, _deps: &CheckDeps) -> Box<dyn Check> {{
    Box::new({c}Check {{
        params: params.clone(),
    }})
}}

/// The `{name}` check with its params.
pub struct {c}Check {{
    params: {c}Params,
}}

impl Check for {c}Check {{
    fn kind(&self) -> &'static str {{
        DOC.kind
    }}

    fn run<'a>(&'a self, _stage: &'a StageView) -> CheckFuture<'a> {{
        Box::pin(async move {{
            let _ = &self.params;
            Outcome::permanent_error(
                &{u}_NOT_GATHERED,
                "the `{name}` check gathers no evidence yet (shared/aws/src/checks/{name}.rs)",
            )
        }})
    }}
}}

#[cfg(test)]
mod tests {{
    use greenlight_core::outcome::Status;

    use super::*;
    use crate::checks::tasks::tests::stage_view;

    #[tokio::test]
    async fn a_check_without_evidence_never_passes() {{
        let check = {c}Check {{
            params: {c}Params::default(),
        }};
        let outcome = check.run(&stage_view("POST_SCALE_UP")).await;
        assert_eq!(outcome.status, Status::Error);
        assert_eq!(outcome.code.code, "{u}_NOT_GATHERED");
    }}
}}
'''


def insert_module(text: str, name: str, path: Path) -> str:
    """Adds `pub mod NAME;` among the file's `pub mod` lines, in order."""
    lines = text.split("\n")
    mods = [i for i, line in enumerate(lines) if re.fullmatch(r"pub mod \w+;", line)]
    if not mods:
        fail(f"{path.relative_to(ROOT)} has no `pub mod` lines to join")
    at = next((i for i in mods if lines[i] > f"pub mod {name};"), mods[-1] + 1)
    lines.insert(at, f"pub mod {name};")
    return "\n".join(lines)


def insert_before_close(text: str, opener: str, line: str, path: Path) -> str:
    """Adds `line` as the last entry of the block that starts with `opener`."""
    start = text.find(opener)
    if start < 0:
        fail(f"{path.relative_to(ROOT)} has no `{opener.strip()}`")
    close = text.find("\n    }\n", start) if "match" in opener else text.find("\n}\n", start)
    if close < 0:
        fail(f"{path.relative_to(ROOT)}: the block `{opener.strip()}` does not close")
    return text[: close + 1] + line + text[close + 1 :]


def main() -> None:
    if len(sys.argv) != 2:
        fail("usage: tools/new_check.py NAME   (snake_case, like disk_space)")
    name = sys.argv[1]
    if not re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)*", name):
        fail(f"{name!r} is not a snake_case name like disk_space")
    core_dir, aws_file = CORE / name, AWS / f"{name}.rs"
    core_mod, aws_mod = CORE / "mod.rs", AWS / "mod.rs"
    if core_dir.exists() or aws_file.exists() or re.search(rf"\b{name}::DOC\b", core_mod.read_text()):
        fail(f"a check kind `{name}` exists already")
    c = camel(name)

    core_text = insert_module(core_mod.read_text(), name, core_mod)
    core_text = insert_before_close(
        core_text, "registry::check_registry! {",
        f"    /// `{name}`: TODO one line.\n    {c}({name}::params::{c}Params) => {name}::DOC,\n", core_mod)
    aws_text = insert_module(aws_mod.read_text(), name, aws_mod)
    aws_text = insert_before_close(
        aws_text, "    match kind {", f"        CheckKind::{c}(params) => {name}::build(params, deps),\n", aws_mod)

    core_dir.mkdir()
    (core_dir / "params.rs").write_text(params_rs(name))
    (core_dir / "mod.rs").write_text(mod_rs(name))
    aws_file.write_text(aws_rs(name))
    core_mod.write_text(core_text)
    aws_mod.write_text(aws_text)
    for path in (core_dir / "params.rs", core_dir / "mod.rs", aws_file, core_mod, aws_mod):
        print(f"wrote {path.relative_to(ROOT)}")
    # The templates are laid out for a short name; rustfmt settles the rest.
    if subprocess.run(["cargo", "fmt", "--all"], cwd=ROOT).returncode != 0:
        print("new-check: `cargo fmt --all` failed; run it before `make test`", file=sys.stderr)
    print("next: fill in the TODOs, then `make docs` (README tables, infra/iam/needs.json) and `make test`")


if __name__ == "__main__":
    main()
