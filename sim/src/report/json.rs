//! The report as JSON: the [`SimReport`] with a format version, for tools and CI.
//!
//! Field names are `snake_case` and stable; durations are milliseconds (`*_ms`). Readers should
//! ignore fields they do not know: new ones may be added without bumping
//! [`REPORT_FORMAT_VERSION`], which changes only when a field changes meaning or goes away.

use serde::{Deserialize, Serialize};

use crate::timeline::SimReport;

/// The version of the JSON report's format.
pub const REPORT_FORMAT_VERSION: u32 = 1;

#[derive(Serialize)]
struct Envelope<'a> {
    format_version: u32,
    expectations_met: bool,
    #[serde(flatten)]
    report: &'a SimReport,
}

#[derive(Deserialize)]
struct OwnedEnvelope {
    format_version: u32,
    #[serde(flatten)]
    report: SimReport,
}

/// The report as pretty-printed JSON, ending with a newline.
pub fn render(report: &SimReport) -> Result<String, serde_json::Error> {
    let mut text = serde_json::to_string_pretty(&Envelope {
        format_version: REPORT_FORMAT_VERSION,
        expectations_met: report.expectations_met(),
        report,
    })?;
    text.push('\n');
    Ok(text)
}

/// Reads a report written by [`render`]; a report of another format version is an error that
/// says which versions are involved.
pub fn parse(text: &str) -> Result<SimReport, String> {
    let envelope: OwnedEnvelope =
        serde_json::from_str(text).map_err(|error| format!("not a rehearsal report: {error}"))?;
    if envelope.format_version != REPORT_FORMAT_VERSION {
        return Err(format!(
            "report format version {} is not supported (this build reads version {REPORT_FORMAT_VERSION})",
            envelope.format_version
        ));
    }
    Ok(envelope.report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::samples;

    #[test]
    fn the_report_round_trips_through_json() {
        for report in [samples::good(), samples::bad_test_traffic()] {
            let text = render(&report).unwrap();
            assert_eq!(parse(&text).unwrap(), report);
        }
    }

    #[test]
    fn field_names_are_stable_snake_case() {
        let text = render(&samples::bad_test_traffic()).unwrap();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["format_version"], 1);
        assert_eq!(json["expectations_met"], true);
        assert_eq!(json["final_status"], "ROLLBACK_SUCCESSFUL");
        assert_eq!(json["rollback_stage"], "POST_TEST_TRAFFIC_SHIFT");
        assert_eq!(json["duration_ms"], 9000);
        assert_eq!(json["subject"]["green"], "web:1.1");
        assert_eq!(
            json["calls_by_stage"]["POST_SCALE_UP"]["ecs:DescribeServiceDeployments"],
            2
        );
        let events = json["timeline"]["events"].as_array().unwrap();
        let stage = &events[0];
        assert_eq!(stage["kind"], "stage_started");
        assert_eq!(stage["at_ms"], 0);
        assert_eq!(stage["production_weights"]["green"], 0.0);
        assert_eq!(stage["production_weights"]["blue"], 100.0);
        let failed = events
            .iter()
            .find(|event| event["kind"] == "hook_answered" && event["status"] == "FAILED")
            .unwrap();
        assert_eq!(failed["latency_ms"], 150);
        assert_eq!(failed["reason"], "HTTP_ERROR_RATE");
        assert_eq!(failed["checks"][0]["evidence"][0]["samples"], 20);
        assert_eq!(failed["raw_response"]["hookStatus"], "FAILED");
        let note = events.iter().find(|event| event["kind"] == "note").unwrap();
        assert_eq!(note["text"], "green tasks stopped");
        assert!(
            events
                .iter()
                .any(|event| event["kind"] == "rollback_started")
        );
        assert!(
            events
                .iter()
                .any(|event| event["kind"] == "traffic_shifted")
        );
    }

    #[test]
    fn another_format_version_is_refused_with_both_versions_named() {
        let mut json: serde_json::Value =
            serde_json::from_str(&render(&samples::good()).unwrap()).unwrap();
        json["format_version"] = 7.into();
        let error = parse(&json.to_string()).unwrap_err();
        assert!(
            error.contains("version 7") && error.contains("version 1"),
            "{error}"
        );
    }
}
