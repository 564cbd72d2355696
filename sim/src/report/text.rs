//! The readable timeline: what `greenlight simulate` prints.
//!
//! Written for someone who has never seen greenlight: a header saying what is deployed and how, one
//! block per stage with its time offset and the traffic weights, each hook invocation with its
//! verdict, the checks that held a stage back or stopped it with their reason code, message and
//! key evidence, and one closing sentence: how the deployment ended, where a rollback began, why.
//! Repeated IN_PROGRESS answers that say nothing new are folded into one line.

use std::fmt::Write as _;

use super::{
    deployed_with, evidence_phrases, is_success, offset, outcome_sentence, stage_of_event, weights,
};
use crate::timeline::{CheckLine, SimReport, TimelineEvent};

/// How to render.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TextOptions {
    /// ANSI colours for verdicts.
    pub color: bool,
}

impl TextOptions {
    /// Colour when writing to a terminal, unless `NO_COLOR` is set (to anything non-empty), as
    /// <https://no-color.org> asks.
    pub fn for_output(is_terminal: bool) -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
        TextOptions {
            color: is_terminal && !no_color,
        }
    }
}

/// The most evidence phrases shown per check; the JSON report has them all.
const MAX_EVIDENCE_SHOWN: usize = 3;

const INDENT_ANSWER: &str = "          ";
const INDENT_CHECK: &str = "              ";
const INDENT_EVIDENCE: &str = "                  ";

/// The report as text, ending with a newline.
pub fn render(report: &SimReport, options: TextOptions) -> String {
    let paint = Paint(options.color);
    let mut out = String::new();
    header(report, &paint, &mut out);

    // (function, stage) → what the last IN_PROGRESS answer said, to fold repeats.
    let mut last_waiting: Option<(String, String, String)> = None;
    let mut folded = 0u32;
    for timed in report.timeline.events() {
        let at = offset(timed.at());
        let answer_or_invocation = matches!(
            timed.event,
            TimelineEvent::HookAnswered { .. } | TimelineEvent::HookInvoked { .. }
        );
        if !answer_or_invocation && folded > 0 {
            flush_folded(&mut folded, &mut out);
        }
        match &timed.event {
            TimelineEvent::StageStarted {
                stage,
                step,
                production_weights,
                test_weights,
            } => {
                last_waiting = None;
                let name = match step {
                    Some(step) => format!("{stage} (step {step})"),
                    None => stage.clone(),
                };
                // A CodeDeploy event, with the config's stage plan its hook runs.
                let plan = stage_of_event(stage)
                    .map(|plan| paint.dim(&format!(" ({plan})")))
                    .unwrap_or_default();
                let mut traffic = Vec::new();
                if let Some(pair) = production_weights {
                    traffic.push(format!("production {}", weights(*pair)));
                }
                if let Some(pair) = test_weights {
                    traffic.push(format!("test {}", weights(*pair)));
                }
                let _ = writeln!(out);
                let _ = writeln!(
                    out,
                    "{at:>9} {}{plan}{}",
                    paint.bold(&name),
                    if traffic.is_empty() {
                        String::new()
                    } else {
                        paint.dim(&format!("   [{}]", traffic.join("; ")))
                    }
                );
            }
            TimelineEvent::HookInvoked { .. } => {}
            TimelineEvent::HookAnswered {
                stage,
                function,
                attempt,
                status,
                call_back_delay,
                reason,
                message,
                checks,
                latency,
                cold,
                ..
            } => {
                let notable: Vec<&CheckLine> =
                    checks.iter().filter(|check| check.is_notable()).collect();
                let signature = format!(
                    "{status} {} {}",
                    reason.as_deref().unwrap_or(""),
                    notable
                        .iter()
                        .map(|check| format!("{}={}", check.id, check.code))
                        .collect::<Vec<_>>()
                        .join(",")
                );
                let key = (function.clone(), stage.clone(), signature);
                if status == "IN_PROGRESS" && last_waiting.as_ref() == Some(&key) {
                    folded += 1;
                    continue;
                }
                if folded > 0 {
                    flush_folded(&mut folded, &mut out);
                }
                last_waiting = (status == "IN_PROGRESS").then_some(key);

                let mut line = format!(
                    "{at:>9} {} {function} #{attempt} {}",
                    paint.verdict_mark(status),
                    paint.verdict(status)
                );
                if let Some(code) = reason {
                    let _ = write!(line, " {code}");
                }
                if let Some(delay) = call_back_delay.filter(|_| status == "IN_PROGRESS") {
                    let _ = write!(line, ", again in {delay}s");
                }
                // A real deployment's logs do not say how long an invocation took.
                if !latency.is_zero() || *cold {
                    let timing = format!(
                        " ({} ms{})",
                        latency.as_millis(),
                        if *cold { ", cold start" } else { "" }
                    );
                    line.push_str(&paint.dim(&timing));
                }
                let _ = writeln!(out, "{line}");
                let said_by_checks = !notable.is_empty();
                if let Some(text) = message.as_deref().filter(|text| !text.is_empty())
                    && (status != "SUCCEEDED" || reason.as_deref() == Some("VERDICT_ROLLBACK"))
                    && !said_by_checks
                {
                    let _ = writeln!(out, "{INDENT_ANSWER}{text}");
                }
                for check in notable {
                    write_check(check, &paint, &mut out);
                }
            }
            TimelineEvent::TrafficShifted {
                listener,
                green,
                blue,
            } => {
                let _ = writeln!(
                    out,
                    "{at:>9} {} {listener} traffic → {}",
                    paint.dim("⇄"),
                    weights((*green, *blue))
                );
            }
            TimelineEvent::RollbackStarted { stage, reason } => {
                last_waiting = None;
                let _ = writeln!(out);
                let _ = writeln!(
                    out,
                    "{at:>9} {} at {stage}: {reason}",
                    paint.red(&paint.bold("ROLLBACK"))
                );
            }
            TimelineEvent::Note(text) => {
                let _ = writeln!(out, "{at:>9} {} {text}", paint.dim("·"));
            }
            TimelineEvent::DeploymentFinished { status } => {
                let _ = writeln!(out);
                let _ = writeln!(
                    out,
                    "{at:>9} deployment finished: {}",
                    paint.final_status(status)
                );
            }
        }
    }
    if folded > 0 {
        flush_folded(&mut folded, &mut out);
    }

    let _ = writeln!(out);
    let _ = writeln!(out, "{}", paint.bold(&outcome_sentence(report)));
    expectations(report, &paint, &mut out);
    out
}

fn header(report: &SimReport, paint: &Paint, out: &mut String) {
    let _ = writeln!(
        out,
        "{} {}",
        paint.bold(match report.origin {
            crate::timeline::Origin::Rehearsal => "Rehearsal:",
            crate::timeline::Origin::Observed => "Deployment:",
        }),
        paint.bold(&report.scenario)
    );
    if !report.description.trim().is_empty() {
        for line in report.description.trim().lines() {
            let _ = writeln!(out, "  {}", line.trim());
        }
    }
    let subject = &report.subject;
    let service = if subject.service.is_empty() {
        "the service".to_owned()
    } else {
        subject.service.clone()
    };
    let mut what = format!(
        "Deploying {service} with {}",
        deployed_with(&report.strategy)
    );
    if !subject.green.is_empty() {
        let _ = write!(
            what,
            ": blue runs {}, green runs {}",
            or_unknown(&subject.blue),
            subject.green
        );
    }
    let _ = writeln!(out, "  {what}.");
    let _ = writeln!(
        out,
        "  {}",
        paint.dim("Offsets are since the deployment started; weights are green / blue.")
    );
}

fn or_unknown(text: &str) -> &str {
    if text.is_empty() { "(unknown)" } else { text }
}

fn flush_folded(folded: &mut u32, out: &mut String) {
    let _ = writeln!(
        out,
        "{INDENT_ANSWER}… {} more IN_PROGRESS {} saying the same",
        folded,
        if *folded == 1 { "answer" } else { "answers" }
    );
    *folded = 0;
}

fn write_check(check: &CheckLine, paint: &Paint, out: &mut String) {
    let label = match check.disposition.as_str() {
        "" => check.status.clone(),
        disposition => format!("{}/{disposition}", check.status),
    };
    let _ = writeln!(
        out,
        "{INDENT_CHECK}{} {} {}: {}",
        paint.check_status(&check.status, &check.id),
        paint.dim(&format!("[{label}]")),
        check.code,
        check.message
    );
    let phrases = evidence_phrases(&check.evidence);
    for phrase in phrases.iter().take(MAX_EVIDENCE_SHOWN) {
        let _ = writeln!(out, "{INDENT_EVIDENCE}{phrase}");
    }
    if phrases.len() > MAX_EVIDENCE_SHOWN {
        let _ = writeln!(
            out,
            "{INDENT_EVIDENCE}… {} more in the JSON report",
            phrases.len() - MAX_EVIDENCE_SHOWN
        );
    }
}

fn expectations(report: &SimReport, paint: &Paint, out: &mut String) {
    if report.expectations.is_empty() {
        return;
    }
    let met = report
        .expectations
        .iter()
        .filter(|expectation| expectation.met)
        .count();
    let total = report.expectations.len();
    let summary = format!("Expectations: {met} of {total} met");
    let _ = writeln!(
        out,
        "{}",
        if met == total {
            paint.green(&summary)
        } else {
            paint.red(&summary)
        }
    );
    for expectation in &report.expectations {
        let mark = if expectation.met {
            paint.green("✓")
        } else {
            paint.red("✗")
        };
        let _ = writeln!(
            out,
            "  {mark} {}: expected {}, got {}",
            expectation.what, expectation.expected, expectation.actual
        );
    }
}

/// ANSI styling, or none.
struct Paint(bool);

impl Paint {
    fn style(&self, code: &str, text: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    fn bold(&self, text: &str) -> String {
        self.style("1", text)
    }

    fn dim(&self, text: &str) -> String {
        self.style("2", text)
    }

    fn green(&self, text: &str) -> String {
        self.style("32", text)
    }

    fn red(&self, text: &str) -> String {
        self.style("31", text)
    }

    fn yellow(&self, text: &str) -> String {
        self.style("33", text)
    }

    fn verdict_mark(&self, status: &str) -> String {
        match status {
            "SUCCEEDED" => self.green("✓"),
            "IN_PROGRESS" => self.yellow("…"),
            _ => self.red("✗"),
        }
    }

    fn verdict(&self, status: &str) -> String {
        match status {
            "SUCCEEDED" => self.green(status),
            "IN_PROGRESS" => self.yellow(status),
            _ => self.red(&self.bold(status)),
        }
    }

    fn final_status(&self, status: &str) -> String {
        if is_success(status) {
            self.green(&self.bold(status))
        } else {
            self.red(&self.bold(status))
        }
    }

    fn check_status(&self, status: &str, id: &str) -> String {
        match status {
            "pass" => self.green(id),
            "fail" | "error" => self.red(id),
            _ => self.yellow(id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::samples;

    fn plain(report: &SimReport) -> String {
        render(report, TextOptions { color: false })
    }

    #[test]
    fn the_header_says_what_is_deployed_and_how() {
        let text = plain(&samples::good());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "Rehearsal: good");
        assert_eq!(lines[1], "  The sample service deploys a new version.");
        assert_eq!(
            lines[2],
            "  Deploying demo/web with BLUE_GREEN: blue runs web:1.0, green runs web:1.1."
        );
    }

    #[test]
    fn a_codedeploy_event_shows_the_config_stage_its_hook_runs() {
        let text = plain(&samples::codedeploy_bad_test_traffic());
        assert!(
            text.contains(
                "Deploying demo/web with CodeDeploy (ECS blue/green, all traffic at once)"
            ),
            "{text}"
        );
        assert!(
            text.contains("    +0.0s AfterAllowTestTraffic (POST_TEST_TRAFFIC_SHIFT)   [production green 0% / blue 100%; test green 100% / blue 0%]"),
            "{text}"
        );
        assert!(
            text.contains(
                "✗ CodeDeployHook_greenlight_AfterAllowTestTraffic #1 FAILED HTTP_ERROR_RATE"
            ),
            "{text}"
        );
        assert!(
            text.contains("ROLLBACK at AfterAllowTestTraffic: AfterAllowTestTraffic hook reported Failed (HTTP_ERROR_RATE)"),
            "{text}"
        );
        assert!(text.contains("deployment finished: Failed"), "{text}");
    }

    #[test]
    fn each_stage_is_a_block_with_its_offset_and_weights() {
        let text = plain(&samples::good());
        assert!(
            text.contains("    +0.4s POST_SCALE_UP   [production green 0% / blue 100%; test green 0% / blue 100%]"),
            "{text}"
        );
        assert!(
            text.contains("    +0.5s … post-scale-up #1 IN_PROGRESS VERDICT_WAITING, again in 5s (150 ms, cold start)"),
            "{text}"
        );
        assert!(
            text.contains("target_health [inconclusive/wait] TARGET_INITIAL: 1 of 2 green targets still in initial health checks"),
            "{text}"
        );
        assert!(
            text.contains("    +2.0s ⇄ test traffic → green 100% / blue 0%"),
            "{text}"
        );
        assert!(text.contains("deployment finished: SUCCESSFUL"), "{text}");
        // Passing checks of a passing answer are not noise in the timeline.
        assert!(!text.contains("IMAGE_VERIFIED"), "{text}");
    }

    #[test]
    fn a_failed_stage_shows_the_failing_check_its_evidence_and_the_rollback() {
        let text = plain(&samples::bad_test_traffic());
        assert!(
            text.contains(
                "    +2.1s ✗ test-traffic #1 FAILED HTTP_ERROR_RATE (150 ms, cold start)"
            ),
            "{text}"
        );
        assert!(
            text.contains("              http [fail/fail] HTTP_ERROR_RATE: 9 of 20 requests"),
            "{text}"
        );
        assert!(
            text.contains("                  5xx share = 0.45 (threshold <= 0.01, 20 samples) on http://127.0.0.1:8081/health"),
            "{text}"
        );
        // The cancelled check is not what stopped the deployment.
        assert!(!text.contains("CHECK_CANCELLED"), "{text}");
        assert!(
            text.contains(
                "    +2.3s ROLLBACK at POST_TEST_TRAFFIC_SHIFT: hook test-traffic answered FAILED"
            ),
            "{text}"
        );
        assert!(text.contains("VERDICT_ROLLBACK"), "{text}");
        let closing = text
            .lines()
            .find(|line| {
                line.starts_with("ROLLBACK_SUCCESSFUL: rolled back at POST_TEST_TRAFFIC_SHIFT")
            })
            .expect("closing sentence");
        assert!(
            closing.contains("before any production traffic reached green"),
            "{closing}"
        );
        assert!(text.contains("Expectations: 1 of 1 met"), "{text}");
        assert!(
            text.contains(
                "  ✓ final status: expected ROLLBACK_SUCCESSFUL, got ROLLBACK_SUCCESSFUL"
            ),
            "{text}"
        );
    }

    #[test]
    fn repeated_waiting_answers_fold_into_one_line() {
        let mut report = samples::good();
        let events = &mut report.timeline.events;
        let index = events
            .iter()
            .position(|timed| matches!(&timed.event, TimelineEvent::HookAnswered { status, .. } if status == "IN_PROGRESS"))
            .expect("an IN_PROGRESS answer");
        let repeat = events[index].clone();
        events.insert(index + 1, repeat.clone());
        events.insert(index + 1, repeat);
        let text = plain(&report);
        assert_eq!(
            text.matches("post-scale-up #1 IN_PROGRESS").count(),
            1,
            "{text}"
        );
        assert!(
            text.contains("… 2 more IN_PROGRESS answers saying the same"),
            "{text}"
        );
    }

    #[test]
    fn unmet_expectations_are_listed_as_such() {
        let mut report = samples::good();
        report.expectations[0].actual = "ROLLBACK_SUCCESSFUL".into();
        report.expectations[0].met = false;
        let text = plain(&report);
        assert!(text.contains("Expectations: 0 of 1 met"), "{text}");
        assert!(
            text.contains("  ✗ final status: expected SUCCESSFUL, got ROLLBACK_SUCCESSFUL"),
            "{text}"
        );
    }

    #[test]
    fn colour_is_only_used_when_asked() {
        assert!(!plain(&samples::bad_test_traffic()).contains('\x1b'));
        let coloured = render(&samples::bad_test_traffic(), TextOptions { color: true });
        assert!(
            coloured.contains("\x1b[31m\x1b[1mFAILED\x1b[0m\x1b[0m"),
            "{coloured}"
        );
        assert!(!TextOptions::for_output(false).color);
    }
}
