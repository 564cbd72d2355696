//! The report as a self-contained HTML page with the timeline drawn as SVG.
//!
//! Time runs left to right. From the top: the stages as bands, the production and test listener
//! weights (green's and blue's share as lines), one lane per hook function with a marker per
//! answer coloured by verdict, the failing check annotated next to its marker, and the rollback
//! shaded. Hovering a marker shows its verdict, reason and the checks that mattered. Below the
//! picture: the closing sentence, the expectations and the readable timeline.
//!
//! No external assets, scripts or fonts: the page is one file that opens anywhere, and it is
//! well-formed XML so tests (and tools) can parse it.

use std::fmt::Write as _;
use std::time::Duration;

use super::text::{self, TextOptions};
use super::{
    WeightHistory, deciding_check, deployed_with, evidence_phrases, is_success, offset,
    outcome_sentence, percent,
};
use crate::timeline::{CheckLine, SimReport, TimelineEvent, WeightPair};

const WIDTH: f64 = 1000.0;
const LEFT: f64 = 170.0;
const RIGHT: f64 = 30.0;
const TOP: f64 = 165.0;
/// Room right of the plot for the last stages' slanted labels.
const LABEL_OVERHANG: f64 = 110.0;
const WEIGHT_HEIGHT: f64 = 70.0;
const ROW_GAP: f64 = 24.0;
const LANE_HEIGHT: f64 = 34.0;
const AXIS_HEIGHT: f64 = 40.0;
/// The least horizontal distance between two stage labels' anchors.
const LABEL_GAP: f64 = 16.0;

const GREEN: &str = "#2e7d32";
const BLUE: &str = "#1565c0";
const SUCCEEDED: &str = "#2e7d32";
const IN_PROGRESS: &str = "#f9a825";
const FAILED: &str = "#c62828";
const ERROR: &str = "#6a1b9a";

/// The page, as a string.
pub fn render(report: &SimReport) -> String {
    let mut page = String::new();
    let title = match report.origin {
        crate::timeline::Origin::Rehearsal => format!("greenlight rehearsal: {}", report.scenario),
        crate::timeline::Origin::Observed => format!("greenlight deployment: {}", report.scenario),
    };
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\" xmlns=\"http://www.w3.org/1999/xhtml\">\n<head>\n\
         <meta charset=\"utf-8\"/>\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        escape(&title)
    );
    let _ = writeln!(page, "<h1>{}</h1>", escape(&title));
    if !report.description.trim().is_empty() {
        let _ = writeln!(page, "<p>{}</p>", escape(report.description.trim()));
    }
    let subject = &report.subject;
    let mut what = format!(
        "Deploying {} with {}",
        if subject.service.is_empty() {
            "the service"
        } else {
            &subject.service
        },
        deployed_with(&report.strategy)
    );
    if !subject.green.is_empty() {
        let _ = write!(
            what,
            ": blue runs {}, green runs {}",
            subject.blue, subject.green
        );
    }
    let _ = writeln!(page, "<p>{}.</p>", escape(&what));
    let succeeded = is_success(&report.final_status);
    let _ = writeln!(
        page,
        "<p class=\"outcome {}\">{}</p>",
        if succeeded { "good" } else { "bad" },
        escape(&outcome_sentence(report))
    );
    page.push_str(&svg(report));
    page.push('\n');
    expectations(report, &mut page);
    let readable = text::render(report, TextOptions { color: false });
    let _ = writeln!(
        page,
        "<details><summary>Readable timeline</summary><pre>{}</pre></details>",
        escape(&readable)
    );
    page.push_str("</body>\n</html>\n");
    page
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}\
h1{font-size:1.4em}.outcome{font-weight:bold;padding:.6em;border-radius:4px}\
.outcome.good{background:#e8f5e9}.outcome.bad{background:#ffebee}\
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}\
.met{color:#2e7d32}.unmet{color:#c62828;font-weight:bold}pre{font-size:12px;overflow-x:auto}\
svg text{font-family:system-ui,sans-serif}";

fn expectations(report: &SimReport, page: &mut String) {
    if report.expectations.is_empty() {
        return;
    }
    page.push_str("<h2>Expectations</h2>\n<table>\n<tr><th>What</th><th>Expected</th><th>Actual</th><th>Met</th></tr>\n");
    for expectation in &report.expectations {
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td></tr>",
            escape(&expectation.what),
            escape(&expectation.expected),
            escape(&expectation.actual),
            if expectation.met { "met" } else { "unmet" },
            if expectation.met { "yes" } else { "no" }
        );
    }
    page.push_str("</table>\n");
}

/// Maps offsets to x.
struct Scale {
    span: f64,
}

impl Scale {
    fn x(&self, at: Duration) -> f64 {
        LEFT + (at.as_secs_f64() / self.span).min(1.0) * (WIDTH - LEFT - RIGHT)
    }
}

struct Answer<'a> {
    at: Duration,
    function: &'a str,
    attempt: u32,
    status: &'a str,
    reason: Option<&'a str>,
    message: Option<&'a str>,
    checks: &'a [CheckLine],
}

/// The most characters of a function's name that fit left of the plot.
const MAX_LANE_LABEL: usize = 24;

/// A function's name as its lane shows it: a long one (`CodeDeployHook_greenlight_AfterInstall`) by
/// what follows its last `_` or `-`, which tells the hooks apart; the full name is the tooltip.
fn lane_label(function: &str) -> String {
    if function.chars().count() <= MAX_LANE_LABEL {
        return function.to_owned();
    }
    let tail = function
        .rsplit(['_', '-'])
        .next()
        .filter(|tail| !tail.is_empty() && tail.chars().count() < MAX_LANE_LABEL)
        .unwrap_or(function);
    let kept: String = tail
        .chars()
        .rev()
        .take(MAX_LANE_LABEL - 1)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("…{kept}")
}

/// The timeline as an `<svg>` element.
pub fn svg(report: &SimReport) -> String {
    let timeline = &report.timeline;
    let end = timeline.span().max(Duration::from_millis(100));
    let scale = Scale {
        span: end.as_secs_f64() * 1.02,
    };

    let mut functions: Vec<&str> = Vec::new();
    let mut answers = Vec::new();
    let mut stages: Vec<(Duration, String)> = Vec::new();
    for timed in timeline.events() {
        match &timed.event {
            TimelineEvent::StageStarted { stage, step, .. } => {
                let name = match step {
                    Some(step) => format!("{stage} #{step}"),
                    None => stage.clone(),
                };
                stages.push((timed.at(), name));
            }
            TimelineEvent::HookAnswered {
                function,
                attempt,
                status,
                reason,
                message,
                checks,
                ..
            } => {
                if !functions.contains(&function.as_str()) {
                    functions.push(function);
                }
                answers.push(Answer {
                    at: timed.at(),
                    function,
                    attempt: *attempt,
                    status,
                    reason: reason.as_deref(),
                    message: message.as_deref(),
                    checks,
                });
            }
            _ => {}
        }
    }

    let production_top = TOP;
    let test_top = production_top + WEIGHT_HEIGHT + ROW_GAP;
    let lanes_top = test_top + WEIGHT_HEIGHT + ROW_GAP;
    let lanes_height = LANE_HEIGHT * functions.len().max(1) as f64;
    let axis_top = lanes_top + lanes_height + 8.0;
    let annotation_top = axis_top + AXIS_HEIGHT;
    let legend_top = annotation_top + 36.0;
    let height = legend_top + 24.0;
    let plot_bottom = lanes_top + lanes_height;

    let mut svg = String::new();
    let _ = writeln!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height:.0}\" \
         viewBox=\"0 0 {width} {height:.0}\" role=\"img\" aria-label=\"{}\">",
        escape(&format!("Deployment timeline of {}", report.scenario)),
        width = WIDTH + LABEL_OVERHANG,
    );
    let _ = writeln!(svg, "<title>{}</title>", escape(&outcome_sentence(report)));

    // Stage bands across the whole plot, labels slanted above.
    let _ = writeln!(svg, "<g class=\"stages\">");
    // Stages can follow each other within milliseconds: labels keep a minimum gap, and a shifted
    // label is tied to its band by a short leader.
    let mut next_label_x = f64::MIN;
    for (index, (start, name)) in stages.iter().enumerate() {
        let stop = stages.get(index + 1).map_or(end, |(next, _)| *next);
        let (x0, x1) = (scale.x(*start), scale.x(stop));
        let fill = if index % 2 == 0 { "#f5f5f5" } else { "#ebebeb" };
        let _ = writeln!(
            svg,
            "<rect class=\"stage\" x=\"{x0:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{fill}\">\
             <title>{}</title></rect>",
            TOP - 8.0,
            (x1 - x0).max(1.0),
            plot_bottom - TOP + 8.0,
            escape(&format!(
                "{name} from {} to {}",
                offset(*start),
                offset(stop)
            ))
        );
        let label_x = (x0 + 2.0).max(next_label_x);
        next_label_x = label_x + LABEL_GAP;
        if label_x > x0 + 3.0 {
            let _ = writeln!(
                svg,
                "<line class=\"leader\" x1=\"{label_x:.1}\" y1=\"{:.1}\" x2=\"{x0:.1}\" y2=\"{:.1}\" stroke=\"#999\" stroke-width=\"0.8\"/>",
                TOP - 12.0,
                TOP - 8.0
            );
        }
        let _ = writeln!(
            svg,
            "<text class=\"stage-label\" x=\"{label_x:.1}\" y=\"{:.1}\" font-size=\"11\" transform=\"rotate(-50 {label_x:.1} {:.1})\">{}</text>",
            TOP - 12.0,
            TOP - 12.0,
            escape(name)
        );
    }
    let _ = writeln!(svg, "</g>");

    // Rollback region.
    if let Some((at, stage, reason)) = timeline.rollback() {
        let x0 = scale.x(at);
        let x1 = scale.x(end);
        let _ = writeln!(
            svg,
            "<rect class=\"rollback\" x=\"{x0:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#c62828\" fill-opacity=\"0.12\">\
             <title>{}</title></rect>",
            TOP - 8.0,
            (x1 - x0).max(2.0),
            plot_bottom - TOP + 8.0,
            escape(&format!(
                "Rollback from {} at {stage}: {reason}",
                offset(at)
            ))
        );
        let _ = writeln!(
            svg,
            "<text class=\"rollback-label\" x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"#c62828\" font-weight=\"bold\" text-anchor=\"{}\">rollback</text>",
            // Inside the shaded region, unless it is too close to the right edge to hold the word.
            if x0 > WIDTH - RIGHT - 60.0 {
                x0 - 3.0
            } else {
                x0 + 4.0
            },
            TOP + 13.0,
            if x0 > WIDTH - RIGHT - 60.0 {
                "end"
            } else {
                "start"
            }
        );
    }

    let history = WeightHistory::of(timeline);
    weight_chart(
        &mut svg,
        &scale,
        end,
        production_top,
        "production",
        &history.production,
    );
    weight_chart(&mut svg, &scale, end, test_top, "test", &history.test);

    // One lane per function, a marker per answer.
    let _ = writeln!(svg, "<g class=\"invocations\">");
    for (lane, function) in functions.iter().enumerate() {
        let y = lanes_top + LANE_HEIGHT * lane as f64 + LANE_HEIGHT / 2.0;
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"end\"><title>{}</title>{}</text>\
             <line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#bbb\" stroke-dasharray=\"2 3\"/>",
            LEFT - 8.0,
            y + 4.0,
            escape(function),
            escape(&lane_label(function)),
            WIDTH - RIGHT
        );
    }
    let mut annotated = false;
    for answer in &answers {
        let lane = functions
            .iter()
            .position(|function| *function == answer.function)
            .unwrap_or(0);
        let x = scale.x(answer.at);
        let y = lanes_top + LANE_HEIGHT * lane as f64 + LANE_HEIGHT / 2.0;
        let (fill, class) = match answer.status {
            "SUCCEEDED" => (SUCCEEDED, "succeeded"),
            "IN_PROGRESS" => (IN_PROGRESS, "in-progress"),
            "FAILED" => (FAILED, "failed"),
            _ => (ERROR, "error"),
        };
        let radius = if class == "failed" || class == "error" {
            8.0
        } else {
            6.0
        };
        let _ = writeln!(
            svg,
            "<circle class=\"answer {class}\" cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"{radius}\" fill=\"{fill}\" stroke=\"#fff\" stroke-width=\"1.5\"><title>{}</title></circle>",
            escape(&hover(answer))
        );
        if !annotated && (class == "failed" || class == "error") {
            annotated = true;
            let label = match deciding_check(answer.checks) {
                Some(check) => format!("{}: {}", check.code, check.message),
                None => format!(
                    "{}: {}",
                    answer.reason.unwrap_or(answer.status),
                    answer.message.unwrap_or_default()
                ),
            };
            let _ = writeln!(
                svg,
                "<line class=\"annotation\" x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"{FAILED}\" stroke-width=\"1\"/>\
                 <text class=\"annotation\" x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" fill=\"{FAILED}\" text-anchor=\"{}\">{}</text>",
                y + radius,
                annotation_top + 4.0,
                x,
                annotation_top + 18.0,
                if x > WIDTH / 2.0 { "end" } else { "start" },
                escape(&shorten(&label, 110))
            );
        }
    }
    let _ = writeln!(svg, "</g>");

    // Time axis.
    let _ = writeln!(
        svg,
        "<g class=\"axis\"><line x1=\"{LEFT}\" y1=\"{axis_top:.1}\" x2=\"{:.1}\" y2=\"{axis_top:.1}\" stroke=\"#555\"/>",
        WIDTH - RIGHT
    );
    for tick in ticks(end) {
        let x = scale.x(tick);
        let _ = writeln!(
            svg,
            "<line x1=\"{x:.1}\" y1=\"{axis_top:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#555\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\">{}</text>",
            axis_top + 5.0,
            axis_top + 17.0,
            escape(&offset(tick))
        );
    }
    let _ = writeln!(
        svg,
        "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">time since start</text></g>",
        LEFT - 22.0,
        axis_top + 17.0
    );

    // Legend.
    let _ = write!(svg, "<g class=\"legend\" font-size=\"11\">");
    let mut x = LEFT;
    for (label, colour) in [
        ("SUCCEEDED", SUCCEEDED),
        ("IN_PROGRESS", IN_PROGRESS),
        ("FAILED", FAILED),
        ("no answer", ERROR),
        ("green weight", GREEN),
        ("blue weight", BLUE),
    ] {
        let _ = write!(
            svg,
            "<rect x=\"{x:.1}\" y=\"{legend_top:.1}\" width=\"10\" height=\"10\" fill=\"{colour}\"/><text x=\"{:.1}\" y=\"{:.1}\">{label}</text>",
            x + 14.0,
            legend_top + 9.0
        );
        x += 14.0 + 7.0 * label.len() as f64 + 16.0;
    }
    let _ = writeln!(svg, "</g>");
    svg.push_str("</svg>");
    svg
}

fn weight_chart(
    svg: &mut String,
    scale: &Scale,
    end: Duration,
    top: f64,
    listener: &str,
    series: &[(Duration, WeightPair)],
) {
    let y = |weight: f64| top + WEIGHT_HEIGHT - (weight.clamp(0.0, 100.0) / 100.0) * WEIGHT_HEIGHT;
    let _ = writeln!(
        svg,
        "<g class=\"weights {listener}\"><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"end\">{listener} traffic</text>\
         <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"9\" text-anchor=\"end\" fill=\"#777\">100%</text>\
         <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"9\" text-anchor=\"end\" fill=\"#777\">0%</text>\
         <rect x=\"{LEFT}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{WEIGHT_HEIGHT}\" fill=\"none\" stroke=\"#ddd\"/>",
        LEFT - 30.0,
        top + WEIGHT_HEIGHT / 2.0 + 4.0,
        LEFT - 4.0,
        top + 8.0,
        LEFT - 4.0,
        top + WEIGHT_HEIGHT,
        WIDTH - LEFT - RIGHT
    );
    for (colour, class, pick) in [(BLUE, "blue", 1usize), (GREEN, "green", 0usize)] {
        let mut points = Vec::new();
        for (index, (at, pair)) in series.iter().enumerate() {
            let weight = if pick == 0 { pair.0 } else { pair.1 };
            let x = scale.x(*at);
            if index > 0 {
                // Hold the previous value until this change: a step, not a ramp.
                let previous = series[index - 1].1;
                let held = if pick == 0 { previous.0 } else { previous.1 };
                points.push(format!("{x:.1},{:.1}", y(held)));
            }
            points.push(format!("{x:.1},{:.1}", y(weight)));
        }
        if let Some((_, last)) = series.last() {
            let weight = if pick == 0 { last.0 } else { last.1 };
            points.push(format!("{:.1},{:.1}", scale.x(end), y(weight)));
        }
        let changes: Vec<String> = series
            .iter()
            .map(|(at, pair)| {
                format!(
                    "{} {class} {}%",
                    offset(*at),
                    percent(if pick == 0 { pair.0 } else { pair.1 })
                )
            })
            .collect();
        let _ = writeln!(
            svg,
            "<polyline class=\"weight {class}\" points=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2.5\"><title>{}</title></polyline>",
            points.join(" "),
            escape(&format!(
                "{listener} {class} weight: {}",
                changes.join(", ")
            ))
        );
    }
    let _ = writeln!(svg, "</g>");
}

/// Tick offsets: about six, on a round step.
fn ticks(end: Duration) -> Vec<Duration> {
    let seconds = end.as_secs_f64();
    let raw = seconds / 6.0;
    let step = [
        0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0,
    ]
    .into_iter()
    .find(|step| *step >= raw)
    .unwrap_or(1200.0);
    let mut ticks = Vec::new();
    let mut at = 0.0;
    while at <= seconds + 1e-9 && ticks.len() < 20 {
        ticks.push(Duration::from_secs_f64(at));
        at += step;
    }
    ticks
}

fn hover(answer: &Answer<'_>) -> String {
    let mut text = format!(
        "{} {} #{} at {}: {}",
        answer.function,
        answer.status,
        answer.attempt,
        offset(answer.at),
        answer.reason.unwrap_or("(no reason logged)")
    );
    if let Some(message) = answer.message.filter(|message| !message.is_empty()) {
        let _ = write!(text, "\n{message}");
    }
    for check in answer.checks.iter().filter(|check| check.is_notable()) {
        let _ = write!(text, "\n• {} {}: {}", check.id, check.code, check.message);
        for phrase in evidence_phrases(&check.evidence).iter().take(3) {
            let _ = write!(text, "\n    {phrase}");
        }
    }
    text
}

fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// Escapes text for XML content and attribute values.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            // Terminal escapes or other control characters are not valid XML.
            control if control.is_control() && control != '\n' && control != '\t' => {}
            other => escaped.push(other),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::samples;

    fn parse(text: &str) -> roxmltree::Document<'_> {
        let options = roxmltree::ParsingOptions { allow_dtd: true };
        roxmltree::Document::parse_with_options(text, options).expect("well-formed XML")
    }

    fn class_of<'a>(node: &roxmltree::Node<'a, '_>) -> &'a str {
        node.attribute("class").unwrap_or_default()
    }

    #[test]
    fn long_function_names_show_what_tells_them_apart() {
        assert_eq!(lane_label("test-traffic"), "test-traffic");
        assert_eq!(
            lane_label("CodeDeployHook_greenlight_AfterAllowTestTraffic"),
            "…AfterAllowTestTraffic"
        );
        assert_eq!(
            lane_label("abcdefghijklmnopqrstuvwxyz0123"),
            "…hijklmnopqrstuvwxyz0123"
        );
        let page = render(&samples::codedeploy_bad_test_traffic());
        parse(&page);
        assert!(page.contains(
            "<title>CodeDeployHook_greenlight_AfterAllowTestTraffic</title>…AfterAllowTestTraffic"
        ));
    }

    #[test]
    fn the_page_is_well_formed_and_self_contained() {
        let page = render(&samples::bad_test_traffic());
        let document = parse(&page);
        let root = document.root_element();
        assert_eq!(root.tag_name().name(), "html");
        assert!(
            root.descendants()
                .any(|node| node.tag_name().name() == "svg")
        );
        // No scripts, stylesheets, images or fonts from elsewhere.
        for node in root.descendants().filter(|node| node.is_element()) {
            for attribute in ["src", "href"] {
                assert!(
                    node.attribute(attribute).is_none(),
                    "{:?} has {attribute}",
                    node.tag_name()
                );
            }
            assert_ne!(node.tag_name().name(), "script");
            assert_ne!(node.tag_name().name(), "link");
        }
        assert!(!page.contains("url("));
        assert!(!page.contains('\x1b'));
    }

    #[test]
    fn every_answer_is_a_marker_coloured_by_verdict_with_its_reason_on_hover() {
        let report = samples::bad_test_traffic();
        let svg_text = svg(&report);
        let document = parse(&svg_text);
        let markers: Vec<_> = document
            .descendants()
            .filter(|node| node.tag_name().name() == "circle")
            .collect();
        let answers = report
            .timeline
            .events()
            .iter()
            .filter(|timed| matches!(timed.event, TimelineEvent::HookAnswered { .. }))
            .count();
        assert_eq!(markers.len(), answers);
        let failed: Vec<_> = markers
            .iter()
            .filter(|node| class_of(node) == "answer failed")
            .collect();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].attribute("fill"), Some(FAILED));
        let hover = failed[0]
            .children()
            .find(|node| node.tag_name().name() == "title")
            .and_then(|title| title.text())
            .expect("a hover title");
        assert!(
            hover.starts_with("test-traffic FAILED #1 at +2.1s: HTTP_ERROR_RATE"),
            "{hover}"
        );
        assert!(
            hover.contains("• http HTTP_ERROR_RATE: 9 of 20 requests"),
            "{hover}"
        );
        assert!(hover.contains("threshold <= 0.01"), "{hover}");
        assert!(
            markers
                .iter()
                .any(|node| class_of(node) == "answer succeeded"
                    && node.attribute("fill") == Some(SUCCEEDED))
        );
    }

    #[test]
    fn the_failing_check_is_annotated_and_the_rollback_shaded() {
        let svg_text = svg(&samples::bad_test_traffic());
        let document = parse(&svg_text);
        let annotation = document
            .descendants()
            .find(|node| node.tag_name().name() == "text" && class_of(node) == "annotation")
            .and_then(|node| node.text())
            .expect("an annotation");
        assert!(
            annotation.starts_with("HTTP_ERROR_RATE: 9 of 20 requests"),
            "{annotation}"
        );
        let rollback = document
            .descendants()
            .find(|node| class_of(node) == "rollback")
            .expect("a rollback region");
        let x: f64 = rollback.attribute("x").unwrap().parse().unwrap();
        let width: f64 = rollback.attribute("width").unwrap().parse().unwrap();
        assert!(x > LEFT && x + width <= WIDTH - RIGHT + 0.5, "{x} {width}");
    }

    #[test]
    fn weights_are_drawn_for_both_listeners_and_both_colours() {
        let svg_text = svg(&samples::good());
        let document = parse(&svg_text);
        let lines: Vec<_> = document
            .descendants()
            .filter(|node| node.tag_name().name() == "polyline")
            .collect();
        assert_eq!(lines.len(), 4);
        let test_green = lines
            .iter()
            .find(|node| {
                class_of(node) == "weight green"
                    && node
                        .parent()
                        .is_some_and(|group| class_of(&group) == "weights test")
            })
            .expect("test green line");
        // Starts at 0% (bottom of its chart), ends at 100% (top).
        let points: Vec<(f64, f64)> = test_green
            .attribute("points")
            .unwrap()
            .split(' ')
            .map(|point| {
                let (x, y) = point.split_once(',').unwrap();
                (x.parse().unwrap(), y.parse().unwrap())
            })
            .collect();
        let (first, last) = (points[0], points[points.len() - 1]);
        assert!(first.1 > last.1, "{points:?}");
        assert!(first.0 < last.0, "{points:?}");
        // No rollback, no shading.
        assert!(
            !document
                .descendants()
                .any(|node| class_of(&node) == "rollback")
        );
        let stages = document
            .descendants()
            .filter(|node| class_of(node) == "stage-label")
            .count();
        assert_eq!(stages, 4);
    }

    #[test]
    fn text_is_escaped() {
        let mut report = samples::good();
        report.scenario = "a <b> & \"c\"".into();
        report.description = "\x1b[31mred\x1b[0m".into();
        let page = render(&report);
        parse(&page);
        assert!(page.contains("a &lt;b&gt; &amp; &quot;c&quot;"));
    }

    #[test]
    fn ticks_are_round_and_cover_the_span() {
        assert_eq!(
            ticks(Duration::from_secs(30)),
            (0..=6)
                .map(|step| Duration::from_secs(step * 5))
                .collect::<Vec<_>>()
        );
        assert_eq!(ticks(Duration::from_millis(100)).len(), 2);
    }
}
