//! `greenlight simulate` end to end: the demo's scenarios rehearsed through the command, their
//! timelines, JSON reports and HTML pages, and the exit codes users and CI rely on.

use std::path::PathBuf;

use greenlight_cli::Exit;
use greenlight_sim::report::json;
use greenlight_sim::timeline::TimelineEvent;

use crate::cli::greenlight;

const GOOD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/demo/good.yaml");
const BAD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/demo/bad.yaml");

/// `greenlight simulate ARGS…` for a whole rehearsal: moto and the function binaries first.
fn simulate(args: &[&str]) -> (Exit, String, String) {
    crate::parts::require();
    greenlight(&[&["simulate"], args].concat())
}

/// A fresh directory for one test's reports.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("greenlight-report-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

#[test]
fn the_demo_scenarios_validate() {
    for file in [GOOD, BAD] {
        let (exit, out, err) = greenlight(&["simulate", "--scenario", file, "--validate"]);
        assert_eq!(exit, Exit::Success, "{out}{err}");
        assert!(out.contains(": valid (scenario \"demo-"), "{out}");
    }
}

#[test]
fn an_invalid_scenario_exits_2_naming_the_line_and_field() {
    let dir = scratch("invalid");
    let file = dir.join("broken.yaml");
    std::fs::write(
        &file,
        "name: broken\nservice: { cluster: a, name: b }\nrevisions:\n  blue: { image: { repository: r, tag: t } }\n  green: { image: { repository: r, tag: u } }\ndeployment:\n  strategy: BLUE_GREN\nexpect: { status: SUCCESSFUL }\n",
    )
    .expect("write");
    let path = file.to_str().expect("UTF-8 path");
    for extra in [&[][..], &["--validate"][..]] {
        let mut args = vec!["simulate", "--scenario", path];
        args.extend_from_slice(extra);
        let (exit, out, err) = greenlight(&args);
        assert_eq!(exit, Exit::Usage, "{out}{err}");
        assert_eq!(exit.code(), 2);
        assert!(err.contains("line 7 column 13"), "{err}");
        assert!(err.contains("BLUE_GREN"), "{err}");
        assert!(err.contains("docs/scenarios.md"), "{err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The bad release of `make demo`: stopped at the test listener, rolled back before production
/// traffic moved, and that is what the scenario expects, so the command exits 0.
#[test]
fn the_bad_demo_release_is_stopped_at_the_test_listener_and_reported_three_ways() {
    let dir = scratch("bad");
    let json_path = dir.join("bad.json");
    let html_path = dir.join("reports/bad.html");
    let (exit, out, err) = simulate(&[
        "--scenario",
        BAD,
        "--json",
        json_path.to_str().expect("UTF-8 path"),
        "--html",
        html_path.to_str().expect("UTF-8 path"),
        "--color",
        "never",
    ]);
    assert_eq!(exit, Exit::Success, "{out}\n{err}");

    // The readable timeline.
    assert!(out.starts_with("Rehearsal: demo-bad-release\n"), "{out}");
    assert!(out.contains("Deploying shop/web with BLUE_GREEN"), "{out}");
    let failed = out
        .lines()
        .find(|line| line.contains("test-traffic #1 FAILED HTTP_ERROR_RATE"))
        .unwrap_or_else(|| panic!("no failed answer in\n{out}"));
    assert!(failed.trim_start().starts_with('+'), "{failed}");
    assert!(out.contains("http [fail/fail] HTTP_ERROR_RATE: "), "{out}");
    assert!(out.contains("error rate of requests (%) = "), "{out}");
    assert!(out.contains("ROLLBACK at POST_TEST_TRAFFIC_SHIFT"), "{out}");
    assert!(
        out.lines().any(|line| line
            .starts_with("ROLLBACK_SUCCESSFUL: rolled back at POST_TEST_TRAFFIC_SHIFT")
            && line.contains("before any production traffic reached green")),
        "{out}"
    );
    assert!(out.contains("Expectations: 3 of 3 met"), "{out}");
    assert!(!out.contains('\x1b'), "--color never");

    // The JSON report reads back, and says the same.
    let text = std::fs::read_to_string(&json_path).expect("JSON report written");
    let report = json::parse(&text).expect("a report");
    assert_eq!(report.final_status, "ROLLBACK_SUCCESSFUL");
    assert_eq!(
        report.rollback_stage.as_deref(),
        Some("POST_TEST_TRAFFIC_SHIFT")
    );
    assert!(report.expectations_met());
    let reasons: Vec<&str> = report
        .timeline
        .events()
        .iter()
        .filter_map(|timed| match &timed.event {
            TimelineEvent::HookAnswered {
                status,
                reason: Some(reason),
                ..
            } if status == "FAILED" => Some(reason.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(reasons, ["HTTP_ERROR_RATE"]);
    // Production never moved to green.
    assert!(report.timeline.events().iter().all(|timed| !matches!(
        &timed.event,
        TimelineEvent::TrafficShifted { listener, green, .. } if listener == "production" && *green > 0.0
    )));

    // The HTML page: one file, with the picture.
    let page = std::fs::read_to_string(&html_path).expect("HTML written (its folder created)");
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(page.contains("class=\"answer failed\""));
    assert!(page.contains("class=\"rollback\""));
    assert!(!page.contains("<script") && !page.contains("<link"));
    assert!(
        out.contains(&format!("JSON report: {}", json_path.display())),
        "{out}"
    );
    assert!(
        out.contains(&format!("HTML timeline: {}", html_path.display())),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A scenario whose expectation is not met exits 1, and `--quiet` says which expectation.
#[test]
fn an_unmet_expectation_exits_1() {
    let dir = scratch("unmet");
    let file = dir.join("bad-expected-good.yaml");
    let text = std::fs::read_to_string(BAD).expect("demo scenario");
    let start = text.find("\nexpect:").expect("an expect section");
    std::fs::write(
        &file,
        format!("{}\nexpect:\n  status: SUCCESSFUL\n", &text[..start]),
    )
    .expect("write");
    let (exit, out, err) = simulate(&["--scenario", file.to_str().expect("UTF-8 path"), "--quiet"]);
    assert_eq!(exit, Exit::Failure, "{out}\n{err}");
    assert_eq!(exit.code(), 1);
    assert!(
        out.starts_with("ROLLBACK_SUCCESSFUL: rolled back at POST_TEST_TRAFFIC_SHIFT"),
        "{out}"
    );
    assert!(out.contains("Expectations: 0 of 1 met"), "{out}");
    assert!(
        out.contains("✗ final status: expected SUCCESSFUL, got ROLLBACK_SUCCESSFUL"),
        "{out}"
    );
    assert!(
        !out.contains("Rehearsal:"),
        "--quiet prints no timeline: {out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
