//! Everything greenlight documents, in one place: every reason code ([`registry`], [`lookup`]) and
//! every check (from the check registry, [`crate::checks::DOCS`]), and the Markdown tables the
//! README and `greenlight codes` / `greenlight checks` are generated from, so docs cannot drift.
//!
//! It also says what IAM each function needs ([`functions_iam`]): the checks' needs from their
//! docs, by the first stage each may run at, and what every function calls besides. The SAM
//! template's test reads that (`greenlight iam`, `infra/iam/needs.json`), so a role and the code it
//! serves cannot drift apart.
//!
//! The catalogue sits above the modules whose codes it lists; nothing below imports it.

use std::collections::BTreeSet;

use crate::checks::DOCS;
use crate::facts::Fact;
use crate::hook::Phase;
use crate::protocol::codedeploy::CodeDeployHook;
use crate::reason::ReasonCode;
use crate::stage::LifecycleStage;

/// Every reason code greenlight can emit, grouped by family in a stable order.
pub fn registry() -> Vec<&'static ReasonCode> {
    [
        crate::engine::codes::ALL,
        crate::protocol::codes::ALL,
        crate::document::codes::ALL,
        crate::facts::ALL,
        &crate::checks::codes(),
    ]
    .concat()
}

/// Finds a code by its name.
pub fn lookup(code: &str) -> Option<&'static ReasonCode> {
    registry().into_iter().find(|reason| reason.code == code)
}

/// The registry as a Markdown table (code, outcome summary, fix), for the README.
pub fn codes_markdown_table() -> String {
    let mut table = String::from("| code | what happened | how to fix |\n|---|---|---|\n");
    for reason in registry() {
        table.push_str(&format!(
            "| `{}` | {} | {} |\n",
            reason.code,
            reason.summary.replace('|', "\\|"),
            reason.fix.replace('|', "\\|")
        ));
    }
    table
}

/// Every check as a Markdown table (kind, what it checks, reason codes, IAM actions), for the README.
pub fn checks_markdown_table() -> String {
    let mut table = String::from(
        "| check | what it checks | reason codes | IAM actions |\n|---|---|---|---|\n",
    );
    for doc in DOCS {
        let codes: Vec<String> = doc
            .codes
            .iter()
            .map(|code| format!("`{}`", code.code))
            .collect();
        let actions: Vec<String> = doc
            .iam_actions()
            .into_iter()
            .map(|action| format!("`{action}`"))
            .collect();
        table.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            doc.kind,
            doc.summary.replace('|', "\\|"),
            codes.join(" "),
            actions.join(" ")
        ));
    }
    table
}

/// What a function calls whatever its config says.
#[derive(Debug)]
pub struct PlatformNeed {
    /// What it is for.
    pub what: &'static str,
    /// The shared facts it reads.
    pub facts: &'static [Fact],
    /// The calls it makes itself.
    pub calls: &'static [&'static str],
}

impl PlatformNeed {
    /// Its own calls and those of the facts it reads.
    pub fn actions(&self) -> BTreeSet<&'static str> {
        Fact::actions_with(self.facts, self.calls)
    }
}

/// What every function needs at every stage: the Lambda runtime's own logs and traces, the
/// deployment (every invocation confirms its status, and notices a rollback), and the config
/// references it reads (`ssm:`; a SecureString is decrypted through SSM). Reading config from S3
/// is granted only when the template's `ConfigBucket` is set.
pub static EVERY_FUNCTION: &[PlatformNeed] = &[
    PlatformNeed {
        what: "runtime: its own logs and traces",
        facts: &[],
        calls: &[
            "logs:CreateLogStream",
            "logs:PutLogEvents",
            "xray:PutTraceSegments",
            "xray:PutTelemetryRecords",
        ],
    },
    PlatformNeed {
        what: "deployment facts",
        facts: &[Fact::Deployment, Fact::Revisions],
        calls: &[],
    },
    PlatformNeed {
        what: "config references (ssm:)",
        facts: &[],
        calls: &["ssm:GetParameter", "kms:Decrypt"],
    },
];

/// What the CodeDeploy hooks need beyond that: they learn the deployment from CodeDeploy (the
/// service, its task sets and each task set's task definition: `greenlight_aws::codedeploy`),
/// report once, and hand a long bake to an asynchronous invocation of themselves. They share the
/// ECS functions' read policy, so their checks' needs are the same.
pub static CODEDEPLOY_HOOKS: PlatformNeed = PlatformNeed {
    what: "CodeDeploy: learn the deployment, report once, hand off long bakes",
    facts: &[],
    calls: &[
        "codedeploy:GetDeployment",
        "codedeploy:GetDeploymentGroup",
        "codedeploy:ListDeploymentTargets",
        "codedeploy:GetDeploymentTarget",
        "codedeploy:GetApplicationRevision",
        "codedeploy:PutLifecycleEventHookExecutionStatus",
        "ecs:DescribeServices",
        "ecs:DescribeTaskDefinition",
        "lambda:InvokeFunction",
    ],
};

/// The environment variable the template sets on every function to its name here (`pre-scale-up`,
/// …, `codedeploy-hook`): how `greenlight doctor` recognises greenlight's functions behind a hook,
/// whatever the stack named them.
pub const FUNCTION_IDENTITY_VAR: &str = "GREENLIGHT_FUNCTION";

/// The name the template and `greenlight iam` give the one binary behind the five CodeDeploy hooks.
pub const CODEDEPLOY_FUNCTION: &str = "codedeploy-hook";

/// One function of the template, with the stages it serves and every action it can call there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionIam {
    /// Its name (`pre-scale-up`, …, `codedeploy-hook`).
    pub name: &'static str,
    /// The stages it serves (a CodeDeploy hook serves the stage its event maps onto).
    pub stages: Vec<LifecycleStage>,
    /// Every action a config validation allows it to call: [`EVERY_FUNCTION`], the needs of every
    /// check that may run at one of its stages, and for the CodeDeploy hooks [`CODEDEPLOY_HOOKS`].
    pub actions: BTreeSet<&'static str>,
}

/// Every function with its IAM, in stage order.
pub fn functions_iam() -> Vec<FunctionIam> {
    let ecs = Phase::ALL
        .into_iter()
        .map(|phase| (phase.function_name(), phase.stages().to_vec()));
    let codedeploy = (
        CODEDEPLOY_FUNCTION,
        CodeDeployHook::ALL
            .into_iter()
            .map(CodeDeployHook::stage)
            .collect(),
    );
    ecs.chain(std::iter::once(codedeploy))
        .map(|(name, stages): (&'static str, Vec<LifecycleStage>)| {
            let mut actions: BTreeSet<&'static str> = EVERY_FUNCTION
                .iter()
                .flat_map(PlatformNeed::actions)
                .collect();
            for doc in DOCS {
                for need in doc.iam {
                    if stages.iter().any(|stage| *stage >= need.from) {
                        actions.extend(need.actions());
                    }
                }
            }
            if name == CODEDEPLOY_FUNCTION {
                actions.extend(CODEDEPLOY_HOOKS.actions());
            }
            FunctionIam {
                name,
                stages,
                actions,
            }
        })
        .collect()
}

/// The functions serving the stages from `from` on.
fn functions_from(functions: &[FunctionIam], from: &LifecycleStage) -> Vec<&'static str> {
    functions
        .iter()
        .filter(|function| function.stages.iter().any(|stage| stage >= from))
        .map(|function| function.name)
        .collect()
}

/// Every check's IAM needs as a Markdown table (check, params, first stage, actions, functions),
/// for the infrastructure README.
pub fn iam_markdown_table() -> String {
    let functions = functions_iam();
    let mut table =
        String::from("| check | when | from | IAM actions | functions |\n|---|---|---|---|---|\n");
    for doc in DOCS {
        for need in doc.iam {
            let actions: Vec<String> = need
                .actions()
                .into_iter()
                .map(|action| format!("`{action}`"))
                .collect();
            table.push_str(&format!(
                "| `{}` | {} | {} | {} | {} |\n",
                doc.kind,
                if need.when.is_empty() {
                    "always".to_owned()
                } else {
                    format!("`{}`", need.when)
                },
                need.from,
                actions.join(" "),
                functions_from(&functions, &need.from).join(", ")
            ));
        }
    }
    table
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn codes_are_unique_well_formed_and_documented() {
        let mut seen = HashSet::new();
        for reason in registry() {
            assert!(
                seen.insert(reason.code),
                "duplicate reason code {}",
                reason.code
            );
            assert!(
                reason
                    .code
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'),
                "{} is not SCREAMING_SNAKE_CASE",
                reason.code
            );
            assert!(
                reason.code.contains('_'),
                "{} has no family prefix",
                reason.code
            );
            for (field, text) in [
                ("summary", reason.summary),
                ("what", reason.what),
                ("why", reason.why),
                ("fix", reason.fix),
            ] {
                assert!(
                    !text.trim().is_empty(),
                    "{} has an empty {field}",
                    reason.code
                );
            }
        }
    }

    #[test]
    fn lookup_finds_registered_codes_only() {
        let first = registry()[0];
        assert_eq!(lookup(first.code), Some(first));
        assert_eq!(lookup("NO_SUCH_CODE"), None);
    }

    #[test]
    fn each_function_gets_the_needs_of_the_checks_that_may_run_at_its_stages() {
        let functions = functions_iam();
        let names: Vec<&str> = functions.iter().map(|f| f.name).collect();
        assert_eq!(
            names,
            [
                "pre-scale-up",
                "post-scale-up",
                "test-traffic",
                "production-traffic",
                "codedeploy-hook"
            ]
        );
        let actions = |name: &str| &functions.iter().find(|f| f.name == name).unwrap().actions;
        // Green has no tasks before POST_SCALE_UP: no task reads for the first function.
        assert!(!actions("pre-scale-up").contains("ecs:ListTasks"));
        assert!(actions("post-scale-up").contains("ecs:ListTasks"));
        // A lambda check may run at PRE_SCALE_UP and reads the routing.
        assert!(actions("pre-scale-up").contains("elasticloadbalancing:DescribeRules"));
        // Only the CodeDeploy hooks report to CodeDeploy.
        for function in &functions {
            assert_eq!(
                function
                    .actions
                    .contains("codedeploy:PutLifecycleEventHookExecutionStatus"),
                function.name == CODEDEPLOY_FUNCTION,
                "{}",
                function.name
            );
        }
        // Every action of every check lands in some function.
        let all: BTreeSet<&str> = functions.iter().flat_map(|f| f.actions.clone()).collect();
        for doc in DOCS {
            assert!(doc.iam_actions().is_subset(&all), "{}", doc.kind);
        }
    }
}
