//! The `metric` check's judge, and the metric types the `compare` check and the gather half share.
//!
//! # The window
//! Every metric of a stage is read over one window, [`MetricWindow::for_stage`]: from the start of
//! the stage (or LINEAR/CANARY step), rounded *up* to the minute, to now, rounded *down* to the
//! minute. Rounding inwards keeps traffic from before the shift out of the first datapoint and
//! leaves out the minute still being filled, whose partial sums would read low. A window shorter
//! than a minute holds no datapoint yet, and that is inconclusive, never a pass.
//!
//! # What is judged
//! The query returns one datapoint per `period` (a CloudWatch statistic over that period). The
//! metric "stays within bounds" when **every** datapoint of the window is within `min`/`max`, the
//! way a CloudWatch alarm judges its datapoints: one breaching period is a failure, and the
//! evidence names the worst value and lists the breaching datapoints.
//!
//! In order:
//! 1. no datapoint at all → [`METRIC_NO_DATA`] (inconclusive);
//! 2. fewer than `min_datapoints` → [`METRIC_TOO_FEW_DATAPOINTS`] (inconclusive: not judged yet);
//! 3. a datapoint above `max` → [`METRIC_ABOVE_MAX`], below `min` → [`METRIC_BELOW_MIN`] (fail);
//!    a breach in the window stays a breach even when later data is missing;
//! 4. the newest datapoint older than `max_age` (measured from its timestamp, the start of its
//!    period) → [`METRIC_STALE`] (inconclusive: a pass needs fresh data);
//! 5. otherwise [`METRIC_WITHIN_BOUNDS`].
//!
//! Count metrics that CloudWatch publishes only when non-zero (the load balancer's
//! `HTTPCode_Target_5XX_Count` in a minute without errors) have no datapoint for a perfect green.
//! By default that is [`METRIC_NO_DATA`]: greenlight cannot tell "no errors" from "wrong
//! dimensions" with one metric. The `compare` check reads such counts next to `RequestCount`, which
//! tells them apart.
//!
//! # Against the service's own past (`compare_to: before_deployment`)
//! The same query, at the same statistic and `period`, over the hour before the deployment
//! started: the mean of its per-period values ([`baseline_of`]; empty periods count as 0 under
//! `treat_missing: zero`) is on the datapoints' own scale, a per-minute sum against per-minute
//! sums. It bounds the metric from above as well: at most `max_ratio` times it (only when it is
//! above 0) and at most `max_increase` over it, besides any absolute `max`. The evidence names
//! the baseline, its window and the bound. Without a baseline (no datapoint in that hour, an
//! unknown deployment start, or a baseline of 0 or less with only `max_ratio`) the absolute
//! bounds still fail a breach, and otherwise the check says [`METRIC_NO_BASELINE`] (not
//! applicable): it never passes on the absolute bounds alone. The metric is not a count, so there
//! is no significance test: the bound is applied to every datapoint like an alarm's threshold, and
//! a noisy metric needs a generous margin (or a longer `period`, whose datapoints average noise).
//!
//! # Missing data
//! `treat_missing` says what a period without a datapoint means, like a CloudWatch alarm's
//! `TreatMissingData`:
//! - `inconclusive` (the default): the rules above; no data is never a pass.
//! - `zero`: every whole period of the window without a datapoint counts as 0 before judging (for
//!   counts, `Sum` or `SampleCount`, which the config enforces). A window that holds no whole
//!   period yet is still [`METRIC_NO_DATA`]. The evidence says how many periods were filled.
//! - `ignore`: the datapoints there are are judged and `max_age` is not applied; no datapoint at all
//!   and fewer than `min_datapoints` stay inconclusive.
//!
//! # Dimensions
//! Dimension values may name deployment facts ([`Placeholder`]); [`PlaceholderValues`] fills them
//! in the form CloudWatch uses: target groups as `targetgroup/<name>/<id>` and load balancers as
//! `app/<name>/<id>`, cut from their ARNs ([`target_group_dimension`], [`load_balancer_dimension`]).

pub mod params;

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, SystemTime};

use serde_json::json;

use super::CheckDoc;
use crate::checks::IamNeed;
use crate::checks::MetricParams;
use crate::checks::metric::params::TreatMissing;
use crate::document::values::{DimensionTemplate, HumanDuration, Placeholder, number_text};
use crate::facts::Fact;
use crate::facts::{RoutingFacts, ServiceIdentity};
use crate::outcome::{Evidence, Outcome};
use crate::reason::ReasonCode;
use crate::stage::LifecycleStage;

/// The metric had no datapoint before the deployment to compare with.
pub static METRIC_NO_BASELINE: ReasonCode = ReasonCode {
    code: "METRIC_NO_BASELINE",
    summary: "The metric had no datapoint in the hour before the deployment, so there is nothing to compare it with.",
    what: "`compare_to: before_deployment` asks for the same query's statistic over the hour before the deployment started, and CloudWatch returned no datapoint there (a new metric, a dimension that names something that did not exist yet, or a service's first deployment).",
    why: "Without a baseline the relative bound has no evidence either way. It is not applicable: `on_not_applicable` decides (a team's config fails unless it says `on_not_applicable: pass`).",
    fix: "Use dimensions that existed before the deployment (the service or cluster, not green's target group), add an absolute `max`, or `on_not_applicable: pass` on a service's first deployment.",
};

/// The same query's value before the deployment, for `compare_to: before_deployment`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricBaseline {
    /// The statistic over the window.
    pub value: f64,
    /// The hour before the deployment started.
    pub window: MetricWindow,
}

/// The baseline from the same query over the hour before the deployment (`hour`): the mean of its
/// per-period values, empty periods as 0 under `treat_missing: zero`. `Err` says why there is
/// none.
pub fn baseline_of(params: &MetricParams, hour: &MetricSeries) -> Result<MetricBaseline, String> {
    let mut points: Vec<Datapoint> = hour
        .datapoints
        .iter()
        .copied()
        .filter(|point| point.value.is_finite())
        .collect();
    if params.treat_missing == TreatMissing::Zero {
        fill_empty_periods(&mut points, &hour.window, hour.query.period);
    }
    if points.is_empty() {
        return Err(format!(
            "{} has no datapoint in {}, the hour before the deployment started",
            hour.query, hour.window
        ));
    }
    let value = points.iter().map(|point| point.value).sum::<f64>() / points.len() as f64;
    if value <= 0.0 && params.max_increase.is_none() {
        return Err(format!(
            "its value before the deployment was {} (in {}), and a ratio of that bounds nothing; add `max_increase`",
            number_text(value),
            hour.window
        ));
    }
    Ok(MetricBaseline {
        value,
        window: hour.window,
    })
}

/// Judges `series` for `compare_to: before_deployment`: against the baseline when there is one;
/// without one, an absolute bound still fails a breach, and otherwise the check is not applicable
/// ([`METRIC_NO_BASELINE`]), never a pass on the absolute bounds alone.
pub fn judge_compared(
    params: &MetricParams,
    series: &MetricSeries,
    now: SystemTime,
    baseline: Result<MetricBaseline, String>,
) -> Outcome {
    let why = match baseline {
        Ok(baseline) => return judge_against(params, series, now, Some(&baseline)),
        Err(why) => why,
    };
    let absolute = params.max.is_some() || params.min.is_some();
    if absolute {
        let outcome = judge_bounds(params, series, now, None);
        if outcome.status == crate::outcome::Status::Fail {
            return outcome;
        }
    }
    Outcome::not_applicable(
        &METRIC_NO_BASELINE,
        format!(
            "nothing to compare {} with: {why}{}",
            series.query,
            if absolute {
                " (its absolute bounds hold, but are not judged alone)"
            } else {
                ""
            }
        ),
    )
    .with_evidence(
        Evidence::new("query", series.query.to_json()).resource(series.query.dimensions_text()),
    )
}

/// The highest value allowed: the absolute `max`, and the bounds relative to `baseline` (a ratio
/// only of a baseline above 0).
fn effective_max(params: &MetricParams, baseline: Option<&MetricBaseline>) -> Option<f64> {
    let relative = baseline.map(|baseline| {
        let by_ratio = params
            .max_ratio
            .filter(|_| baseline.value > 0.0)
            .map(|ratio| ratio * baseline.value);
        let by_increase = params
            .max_increase
            .map(|increase| baseline.value + increase);
        [by_ratio, by_increase]
            .into_iter()
            .flatten()
            .fold(f64::INFINITY, f64::min)
    });
    match (params.max, relative.filter(|bound| bound.is_finite())) {
        (Some(max), Some(bound)) => Some(max.min(bound)),
        (max, bound) => max.or(bound),
    }
}

/// The metric stayed within bounds.
pub static METRIC_WITHIN_BOUNDS: ReasonCode = ReasonCode {
    code: "METRIC_WITHIN_BOUNDS",
    summary: "Every datapoint of the metric in the window was within its bounds.",
    what: "The CloudWatch query returned at least `min_datapoints` datapoints since the stage started, none above `max` or below `min`, and the newest within `max_age`.",
    why: "The metric the team chose as a signal of green's health stayed where it should.",
    fix: "Nothing to fix.",
};

/// A datapoint was above `max`.
pub static METRIC_ABOVE_MAX: ReasonCode = ReasonCode {
    code: "METRIC_ABOVE_MAX",
    summary: "The metric went above its `max` while green ran.",
    what: "At least one datapoint of the CloudWatch query since the stage started was above `max`. The evidence shows the highest value, the breaching datapoints with their times, and the query.",
    why: "The team named this metric and bound as a signal that green is unhealthy.",
    fix: "Look at green's logs and traces for the breaching periods. If the bound is too tight for normal traffic, raise `max` (or widen `period` to smooth spikes).",
};

/// A datapoint was below `min`.
pub static METRIC_BELOW_MIN: ReasonCode = ReasonCode {
    code: "METRIC_BELOW_MIN",
    summary: "The metric went below its `min` while green ran.",
    what: "At least one datapoint of the CloudWatch query since the stage started was below `min`. The evidence shows the lowest value, the breaching datapoints with their times, and the query.",
    why: "The team named this metric and bound as a signal that green is unhealthy (throughput lost, work not done).",
    fix: "Check that green receives and processes its share of the work. If the bound is too tight for quiet periods, lower `min`.",
};

/// The query returned nothing.
pub static METRIC_NO_DATA: ReasonCode = ReasonCode {
    code: "METRIC_NO_DATA",
    summary: "The metric has no datapoint in the window.",
    what: "The CloudWatch query (namespace, name, statistic and the dimensions as rendered, shown in the evidence) returned no datapoint since the stage started.",
    why: "No data is not success: the metric may be named wrongly, the dimensions may not match, or nothing was published yet. The check waits within its `max_wait`.",
    fix: "Compare the query in the evidence with the metric in the CloudWatch console (dimension names and values must match exactly). A window shorter than a minute holds no datapoint yet. Count metrics published only when non-zero (`HTTPCode_Target_5XX_Count`) are better judged with `compare`, which reads them next to `RequestCount`, or with `treat_missing: zero` once the dimensions are known to be right.",
};

/// Too few datapoints to judge.
pub static METRIC_TOO_FEW_DATAPOINTS: ReasonCode = ReasonCode {
    code: "METRIC_TOO_FEW_DATAPOINTS",
    summary: "The metric has fewer datapoints in the window than `min_datapoints`.",
    what: "The CloudWatch query returned some datapoints since the stage started, but fewer than `min_datapoints`; the metric is not judged until it has enough.",
    why: "A judgement on one or two periods is mostly noise; the check waits within its `max_wait`.",
    fix: "Usually nothing: more datapoints come as the stage runs. If the stage's bake is shorter than `min_datapoints` periods, lower `min_datapoints`, shorten `period` or lengthen the bake.",
};

/// The newest datapoint is too old.
pub static METRIC_STALE: ReasonCode = ReasonCode {
    code: "METRIC_STALE",
    summary: "The metric's newest datapoint is older than `max_age`.",
    what: "The newest datapoint's timestamp (the start of its period) was more than `max_age` before now, though none breached the bounds.",
    why: "A pass must rest on current data: green may have changed since the metric was last published. The check waits within its `max_wait`.",
    fix: "Check that whatever publishes the metric is still publishing for green. CloudWatch delivers most AWS metrics a minute or two late: keep `max_age` at least `period` plus that delay.",
};

/// A dimension names a fact the deployment lacks.
pub static METRIC_DIMENSION_UNRESOLVED: ReasonCode = ReasonCode {
    code: "METRIC_DIMENSION_UNRESOLVED",
    summary: "A dimension names a deployment fact that is not known.",
    what: "A dimension value names a placeholder (`{green.target_group}`, `{blue.target_group}`, `{load_balancer}`) that the deployment does not have or has not resolved yet.",
    why: "Querying with a guessed dimension would judge the wrong metric; the check waits within its `max_wait` in case ECS fills the fact in.",
    fix: "Use placeholders the service has: target groups and a load balancer exist only for services behind a load balancer, and blue only once a previous revision runs.",
};

/// The `metric` check.
pub static DOC: CheckDoc = CheckDoc {
    kind: "metric",
    summary: "A CloudWatch metric of the team's choosing stays within bounds while green runs.",
    why: "Teams know which signal says their service is sick — queue depth, business errors, p99 latency. This check reads it over the stage's window (from the traffic shift on, so blue-only history does not count), with every datapoint judged like an alarm would, and tells missing, sparse or stale data apart from a pass. `treat_missing` (`inconclusive` by default, `zero` for counts published only when non-zero, `ignore`) says what an empty period means, as an alarm's TreatMissingData does; no data at all is never a pass unless `zero` is chosen for a count.",
    example: "metric:\n  namespace: AWS/ApplicationELB\n  name: TargetResponseTime\n  stat: p99\n  dimensions:\n    TargetGroup: \"{green.target_group}\"\n    LoadBalancer: \"{load_balancer}\"\n  period: 1m\n  max: 0.5\n  min_datapoints: 3\n  max_age: 5m",
    iam: &[IamNeed {
        when: "",
        example: "metric: { namespace: AWS/ApplicationELB, name: TargetResponseTime, stat: p99, dimensions: { TargetGroup: \"{green.target_group}\" }, max: 0.5 }",
        from: LifecycleStage::ReconcileService,
        facts: &[Fact::Deployment, Fact::Routing],
        calls: &["cloudwatch:GetMetricData"],
    }],
    codes: &[
        &METRIC_WITHIN_BOUNDS,
        &METRIC_ABOVE_MAX,
        &METRIC_BELOW_MIN,
        &METRIC_NO_DATA,
        &METRIC_TOO_FEW_DATAPOINTS,
        &METRIC_STALE,
        &METRIC_DIMENSION_UNRESOLVED,
        &METRIC_NO_BASELINE,
    ],
};

/// Windows are aligned to whole minutes: the finest period CloudWatch keeps beyond three hours,
/// and a multiple of every high-resolution period (1s, 5s, 10s, 30s).
const WINDOW_ALIGNMENT: u64 = 60;

/// The time range every metric query of a stage reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MetricWindow {
    /// Inclusive start.
    pub start: SystemTime,
    /// Exclusive end.
    pub end: SystemTime,
}

/// `time` rounded down to the whole minute (CloudWatch's one-minute periods start there).
pub fn minute_floor(time: SystemTime) -> SystemTime {
    let unix = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    SystemTime::UNIX_EPOCH + Duration::from_secs(unix - unix % WINDOW_ALIGNMENT)
}

/// A sum of counts as a whole number (CloudWatch returns them as floats; negative or not-a-number
/// sums read as zero).
pub fn whole_count(total: f64) -> u64 {
    if total.is_finite() && total > 0.0 {
        total.round() as u64
    } else {
        0
    }
}

impl MetricWindow {
    /// The window of a stage that started at `started_at`, judged at `now`: from the start rounded
    /// up to the minute to now rounded down to the minute. Empty (start = end) in the stage's
    /// first minute or two.
    pub fn for_stage(started_at: SystemTime, now: SystemTime) -> MetricWindow {
        let unix = |time: SystemTime| {
            time.duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default()
        };
        let started = unix(started_at);
        let mut start = started.as_secs() - started.as_secs() % WINDOW_ALIGNMENT;
        if started > Duration::from_secs(start) {
            start += WINDOW_ALIGNMENT;
        }
        let now = unix(now).as_secs();
        // An empty window reads as zero-length at its start rather than as an inverted interval.
        let end = (now - now % WINDOW_ALIGNMENT).max(start);
        MetricWindow {
            start: SystemTime::UNIX_EPOCH + Duration::from_secs(start),
            end: SystemTime::UNIX_EPOCH + Duration::from_secs(end),
        }
    }

    /// Whether the window holds no whole minute yet.
    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    /// How long the window is (zero when empty).
    pub fn duration(&self) -> Duration {
        self.end.duration_since(self.start).unwrap_or_default()
    }
}

impl fmt::Display for MetricWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}",
            humantime::format_rfc3339_seconds(self.start),
            humantime::format_rfc3339_seconds(self.end)
        )
    }
}

/// One CloudWatch metric query with its dimensions rendered: what `GetMetricData` is asked.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MetricQuery {
    /// The namespace (`AWS/ApplicationELB`).
    pub namespace: String,
    /// The metric name (`RequestCount`).
    pub metric_name: String,
    /// Dimension names and values, in a stable order.
    pub dimensions: Vec<(String, String)>,
    /// The statistic as CloudWatch spells it (`Sum`, `p99`, `tm90`).
    pub stat: String,
    /// The period of each datapoint.
    pub period: Duration,
}

impl MetricQuery {
    /// The dimensions as `Name=value, …`, or `no dimensions`.
    pub fn dimensions_text(&self) -> String {
        if self.dimensions.is_empty() {
            return "no dimensions".to_owned();
        }
        self.dimensions
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The query as evidence data.
    pub fn to_json(&self) -> serde_json::Value {
        let dimensions: serde_json::Map<String, serde_json::Value> = self
            .dimensions
            .iter()
            .map(|(name, value)| (name.clone(), json!(value)))
            .collect();
        json!({
            "namespace": self.namespace,
            "metric": self.metric_name,
            "stat": self.stat,
            "period_seconds": self.period.as_secs(),
            "dimensions": dimensions,
        })
    }
}

impl fmt::Display for MetricQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} per {} ({})",
            self.namespace,
            self.metric_name,
            self.stat,
            HumanDuration(self.period),
            self.dimensions_text()
        )
    }
}

/// One datapoint: the statistic over the period starting at `at`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Datapoint {
    /// The start of the datapoint's period.
    pub at: SystemTime,
    /// The value.
    pub value: f64,
}

/// What one query returned over the window.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricSeries {
    /// The query.
    pub query: MetricQuery,
    /// The window it covers.
    pub window: MetricWindow,
    /// Its datapoints, oldest first.
    pub datapoints: Vec<Datapoint>,
}

impl MetricSeries {
    /// The sum of the datapoints' values (for `Sum` and `SampleCount` statistics: the total over
    /// the window), ignoring values that are not finite.
    pub fn total(&self) -> f64 {
        self.datapoints
            .iter()
            .map(|point| point.value)
            .filter(|value| value.is_finite())
            .sum()
    }
}

/// A target group ARN in the form CloudWatch's `TargetGroup` dimension takes
/// (`targetgroup/web-green/0123456789abcdef`); a value already in that form is kept.
pub fn target_group_dimension(arn: &str) -> Option<String> {
    let resource = arn_resource(arn);
    (resource.starts_with("targetgroup/") && resource.split('/').count() == 3)
        .then(|| resource.to_owned())
}

/// A load balancer ARN in the form CloudWatch's `LoadBalancer` dimension takes
/// (`app/web/0123456789abcdef`, `net/…`); a value already in that form is kept.
pub fn load_balancer_dimension(arn: &str) -> Option<String> {
    let resource = arn_resource(arn);
    let resource = resource.strip_prefix("loadbalancer/").unwrap_or(resource);
    let parts: Vec<&str> = resource.split('/').collect();
    (parts.len() == 3 && matches!(parts[0], "app" | "net" | "gwy")).then(|| resource.to_owned())
}

/// The resource part of an ARN (after the fifth `:`), or the text itself if it is not an ARN.
fn arn_resource(arn: &str) -> &str {
    if !arn.starts_with("arn:") {
        return arn;
    }
    arn.splitn(6, ':').nth(5).unwrap_or(arn)
}

/// The values of the placeholders a dimension may name, in CloudWatch's forms.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlaceholderValues {
    /// `{green.target_group}`.
    pub green_target_group: Option<String>,
    /// `{blue.target_group}`.
    pub blue_target_group: Option<String>,
    /// `{load_balancer}`.
    pub load_balancer: Option<String>,
    /// `{cluster}`.
    pub cluster: Option<String>,
    /// `{service}`.
    pub service: Option<String>,
}

impl PlaceholderValues {
    /// The values known from the service and, when it was gathered, its routing.
    pub fn from_facts(service: &ServiceIdentity, routing: Option<&RoutingFacts>) -> Self {
        let routed = |pick: fn(&RoutingFacts) -> Option<&String>,
                      convert: fn(&str) -> Option<String>| {
            routing.and_then(pick).and_then(|arn| convert(arn))
        };
        PlaceholderValues {
            green_target_group: routed(|r| r.green_target_group.as_ref(), target_group_dimension),
            blue_target_group: routed(|r| r.blue_target_group.as_ref(), target_group_dimension),
            load_balancer: routed(|r| r.load_balancer_arn.as_ref(), load_balancer_dimension),
            cluster: Some(service.cluster.clone()).filter(|name| !name.is_empty()),
            service: Some(service.service.clone()).filter(|name| !name.is_empty()),
        }
    }

    /// The value of one placeholder, when known.
    pub fn get(&self, placeholder: Placeholder) -> Option<String> {
        match placeholder {
            Placeholder::GreenTargetGroup => self.green_target_group.clone(),
            Placeholder::BlueTargetGroup => self.blue_target_group.clone(),
            Placeholder::LoadBalancer => self.load_balancer.clone(),
            Placeholder::Cluster => self.cluster.clone(),
            Placeholder::Service => self.service.clone(),
        }
    }
}

/// Whether any dimension names a fact of the routing (target groups, load balancer), which must
/// be gathered before the dimensions can be rendered.
pub fn needs_routing(dimensions: &BTreeMap<String, DimensionTemplate>) -> bool {
    dimensions
        .values()
        .flat_map(|template| template.placeholders())
        .any(|placeholder| !matches!(placeholder, Placeholder::Cluster | Placeholder::Service))
}

/// The dimensions with every placeholder filled in, or the first placeholder with no value.
pub fn render_dimensions(
    dimensions: &BTreeMap<String, DimensionTemplate>,
    values: &PlaceholderValues,
) -> Result<Vec<(String, String)>, Placeholder> {
    dimensions
        .iter()
        .map(|(name, template)| Ok((name.clone(), template.render(|p| values.get(p))?)))
        .collect()
}

/// The outcome of a query whose dimension names a fact the deployment lacks.
pub fn dimension_unresolved(query: &str, placeholder: Placeholder) -> Outcome {
    let fact = match placeholder {
        Placeholder::GreenTargetGroup => {
            "green's target group (the service has no load balancer, or ECS has not resolved it yet)"
        }
        Placeholder::BlueTargetGroup => {
            "blue's target group (there is no previous revision behind the load balancer)"
        }
        Placeholder::LoadBalancer => "the load balancer (the service has none that ECS knows of)",
        Placeholder::Cluster | Placeholder::Service => "the service's identity",
    };
    Outcome::inconclusive(
        &METRIC_DIMENSION_UNRESOLVED,
        format!(
            "cannot query {query}: `{{{}}}` names {fact}",
            placeholder.name()
        ),
    )
    .with_evidence(Evidence::new(
        "placeholder",
        format!("{{{}}}", placeholder.name()),
    ))
}

/// The bounds as written: `>= 1`, `<= 5`, `>= 1 and <= 5`.
fn bounds_text(min: Option<f64>, max: Option<f64>) -> String {
    match (min, max) {
        (Some(min), Some(max)) => format!(">= {} and <= {}", number_text(min), number_text(max)),
        (Some(min), None) => format!(">= {}", number_text(min)),
        (None, Some(max)) => format!("<= {}", number_text(max)),
        (None, None) => "no bound".to_owned(),
    }
}

/// How many breaching datapoints the evidence lists.
const LISTED_BREACHES: usize = 10;

/// Judges one query's datapoints against the params' bounds, at `now`.
pub fn judge(params: &MetricParams, series: &MetricSeries, now: SystemTime) -> Outcome {
    judge_against(params, series, now, None)
}

/// Judges `series` against the bounds, the relative ones against `baseline` (the same query
/// before the deployment) when the config compares with it.
pub fn judge_against(
    params: &MetricParams,
    series: &MetricSeries,
    now: SystemTime,
    baseline: Option<&MetricBaseline>,
) -> Outcome {
    let outcome = judge_bounds(params, series, now, baseline);
    match baseline {
        Some(baseline) => outcome.with_evidence(
            Evidence::new(
                "baseline before_deployment",
                json!({
                    "baseline": "before_deployment",
                    "value": baseline.value,
                    "max_ratio": params.max_ratio,
                    "max_increase": params.max_increase,
                    "bound": effective_max(params, Some(baseline)),
                }),
            )
            .window(baseline.window.to_string())
            .resource(series.query.dimensions_text()),
        ),
        None => outcome,
    }
}

fn judge_bounds(
    params: &MetricParams,
    series: &MetricSeries,
    now: SystemTime,
    baseline: Option<&MetricBaseline>,
) -> Outcome {
    let max = effective_max(params, baseline);
    let query = &series.query;
    let mut points: Vec<Datapoint> = series
        .datapoints
        .iter()
        .copied()
        .filter(|point| point.value.is_finite())
        .collect();
    points.sort_by_key(|point| point.at);
    let filled = if params.treat_missing == TreatMissing::Zero {
        fill_empty_periods(&mut points, &series.window, query.period)
    } else {
        0
    };
    let count = points.len() as u64;
    let mut bounds = bounds_text(params.min, max);
    if let Some(baseline) = baseline {
        let mut relative = Vec::new();
        if let Some(ratio) = params.max_ratio {
            relative.push(format!("{}×", number_text(ratio)));
        }
        if let Some(increase) = params.max_increase {
            relative.push(format!("+{}", number_text(increase)));
        }
        bounds = format!(
            "{bounds}: {} its {} before the deployment",
            relative.join(" and "),
            number_text(baseline.value)
        );
    }
    let query_evidence = Evidence::new("query", query.to_json()).resource(query.dimensions_text());
    let measured = format!(
        "{} {} {} per {}",
        query.namespace,
        query.metric_name,
        query.stat,
        HumanDuration(query.period)
    );
    let observation = |value: serde_json::Value| {
        Evidence::new(measured.as_str(), value)
            .threshold(bounds.as_str())
            .window(series.window.to_string())
            .samples(count)
            .resource(query.dimensions_text())
    };

    if points.is_empty() {
        let why = if series.window.is_empty() {
            "the stage has not yet run a whole minute".to_owned()
        } else {
            format!("none in {}", series.window)
        };
        return Outcome::inconclusive(
            &METRIC_NO_DATA,
            format!("{query} has no datapoint yet ({why}); no data is not success"),
        )
        .with_evidence(observation(serde_json::Value::Null))
        .with_evidence(query_evidence);
    }

    let newest = points[points.len() - 1];
    if count < u64::from(params.min_datapoints) {
        return Outcome::inconclusive(
            &METRIC_TOO_FEW_DATAPOINTS,
            format!(
                "{query} has {count} datapoint(s) in {}, fewer than the {} needed to judge it",
                series.window, params.min_datapoints
            ),
        )
        .with_evidence(
            observation(json!(newest.value))
                .threshold(format!("at least {} datapoints", params.min_datapoints)),
        )
        .with_evidence(query_evidence);
    }

    let above: Vec<Datapoint> = max
        .map(|max| points.iter().copied().filter(|p| p.value > max).collect())
        .unwrap_or_default();
    let below: Vec<Datapoint> = params
        .min
        .map(|min| points.iter().copied().filter(|p| p.value < min).collect())
        .unwrap_or_default();
    let highest = points.iter().map(|p| p.value).fold(f64::MIN, f64::max);
    let lowest = points.iter().map(|p| p.value).fold(f64::MAX, f64::min);
    let listed = |breaches: &[Datapoint]| {
        let shown: Vec<serde_json::Value> = breaches
            .iter()
            .take(LISTED_BREACHES)
            .map(|p| {
                json!({
                    "at": humantime::format_rfc3339_seconds(p.at).to_string(),
                    "value": p.value,
                })
            })
            .collect();
        Evidence::new("datapoints outside the bounds", shown)
            .threshold(bounds.as_str())
            .samples(breaches.len() as u64)
    };
    if !above.is_empty() || !below.is_empty() {
        let (code, worst, breaches, side) = if !above.is_empty() {
            (&METRIC_ABOVE_MAX, highest, &above, "above")
        } else {
            (&METRIC_BELOW_MIN, lowest, &below, "below")
        };
        let mut outcome = Outcome::fail(
            code,
            format!(
                "{query} was {side} its bound ({bounds}) in {} of {count} datapoint(s) in {}; worst {}",
                breaches.len(),
                series.window,
                number_text(worst)
            ),
        )
        .with_evidence(observation(json!(worst)))
        .with_evidence(listed(breaches));
        if !above.is_empty() && !below.is_empty() {
            outcome = outcome.with_evidence(listed(&below));
        }
        if filled > 0 {
            outcome = outcome.with_evidence(filled_evidence(filled, &series.window));
        }
        return outcome.with_evidence(query_evidence);
    }

    let max_age = params
        .max_age
        .filter(|_| params.treat_missing != TreatMissing::Ignore);
    if let Some(max_age) = max_age {
        let age = now.duration_since(newest.at).unwrap_or_default();
        if age > max_age {
            return Outcome::inconclusive(
                &METRIC_STALE,
                format!(
                    "{query}: the newest datapoint ({}) is {} old, older than max_age {}",
                    humantime::format_rfc3339_seconds(newest.at),
                    HumanDuration(Duration::from_secs(age.as_secs())),
                    HumanDuration(max_age)
                ),
            )
            .with_evidence(
                Evidence::new(
                    format!("age of the newest datapoint of {measured}"),
                    json!({
                        "at": humantime::format_rfc3339_seconds(newest.at).to_string(),
                        "age_seconds": age.as_secs(),
                        "value": newest.value,
                    }),
                )
                .threshold(format!("<= {}", HumanDuration(max_age)))
                .window(series.window.to_string())
                .samples(count)
                .resource(query.dimensions_text()),
            )
            .with_evidence(query_evidence);
        }
    }

    // The value that came closest to a bound says most about the margin left.
    let telling = if max.is_some() { highest } else { lowest };
    let filled_note = if filled > 0 {
        format!("; {filled} empty period(s) counted as 0 (treat_missing: zero)")
    } else {
        String::new()
    };
    let mut outcome = Outcome::pass(
        &METRIC_WITHIN_BOUNDS,
        format!(
            "{query} stayed {bounds} in all {count} datapoint(s) in {} (worst {}, latest {}){filled_note}",
            series.window,
            number_text(telling),
            number_text(newest.value)
        ),
    )
    .with_evidence(observation(json!(telling)));
    if filled > 0 {
        outcome = outcome.with_evidence(filled_evidence(filled, &series.window));
    }
    outcome.with_evidence(query_evidence)
}

/// Most periods a window is filled with: CloudWatch's own limit on datapoints per query.
const MAX_FILLED_PERIODS: u64 = 100_800;

/// Adds a 0 for every whole period of `window` that holds no datapoint (`treat_missing: zero`),
/// keeping `points` sorted; returns how many were added. Periods start at the window's start,
/// which is where CloudWatch starts them for a query over that window.
fn fill_empty_periods(points: &mut Vec<Datapoint>, window: &MetricWindow, period: Duration) -> u64 {
    let period_seconds = period.as_secs();
    if period_seconds == 0 {
        return 0;
    }
    let periods = (window.duration().as_secs() / period_seconds).min(MAX_FILLED_PERIODS);
    let mut filled = 0;
    for index in 0..periods {
        let start = window.start + period * u32::try_from(index).unwrap_or(u32::MAX);
        let end = start + period;
        if !points
            .iter()
            .any(|point| point.at >= start && point.at < end)
        {
            points.push(Datapoint {
                at: start,
                value: 0.0,
            });
            filled += 1;
        }
    }
    points.sort_by_key(|point| point.at);
    filled
}

fn filled_evidence(filled: u64, window: &MetricWindow) -> Evidence {
    Evidence::new("empty periods counted as 0", json!(filled))
        .threshold("treat_missing: zero")
        .window(window.to_string())
        .samples(filled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::CheckKind;
    use crate::checks::registry::test_support::check;
    use crate::outcome::Status;

    const T0: u64 = 1_800_000_000; // a whole minute

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)
    }

    fn params(yaml: &str) -> MetricParams {
        match check(yaml).expect("valid metric check").kind {
            CheckKind::Metric(params) => params,
            other => panic!("{other:?}"),
        }
    }

    fn series(values: &[f64]) -> MetricSeries {
        MetricSeries {
            query: MetricQuery {
                namespace: "AWS/ApplicationELB".into(),
                metric_name: "TargetResponseTime".into(),
                dimensions: vec![("TargetGroup".into(), "targetgroup/web-green/1".into())],
                stat: "p99".into(),
                period: Duration::from_secs(60),
            },
            window: MetricWindow {
                start: at(T0),
                end: at(T0 + 600),
            },
            datapoints: values
                .iter()
                .enumerate()
                .map(|(i, value)| Datapoint {
                    at: at(T0 + 60 * i as u64),
                    value: *value,
                })
                .collect(),
        }
    }

    #[test]
    fn compare_to_before_deployment_bounds_by_the_baseline() {
        let p = params(
            "metric: { namespace: AWS/ECS, name: CPUUtilization, stat: Average, compare_to: before_deployment, max_ratio: 1.5, max_increase: 30 }",
        );
        let baseline = MetricBaseline {
            value: 40.0,
            window: MetricWindow {
                start: at(T0 - 3600),
                end: at(T0),
            },
        };
        // 1.5 × 40 = 60 is tighter than 40 + 30 = 70.
        assert_eq!(effective_max(&p, Some(&baseline)), Some(60.0));
        let within = judge_against(
            &p,
            &series(&[45.0, 58.0, 52.0]),
            at(T0 + 240),
            Some(&baseline),
        );
        assert_eq!(within.code, &METRIC_WITHIN_BOUNDS, "{}", within.message);
        assert!(
            within
                .message
                .contains("<= 60: 1.5× and +30 its 40 before the deployment"),
            "{}",
            within.message
        );
        let evidence = within
            .evidence
            .iter()
            .find(|e| e.measured == "baseline before_deployment")
            .expect("the baseline");
        assert_eq!(evidence.value["bound"], json!(60.0));
        assert_eq!(
            evidence.window.as_deref(),
            Some("2027-01-15T07:00:00Z/2027-01-15T08:00:00Z")
        );
        let above = judge_against(
            &p,
            &series(&[45.0, 61.0, 52.0]),
            at(T0 + 240),
            Some(&baseline),
        );
        assert_eq!(above.code, &METRIC_ABOVE_MAX, "{}", above.message);
        // An absolute max still applies, whichever is tighter.
        let capped = params(
            "metric: { namespace: AWS/ECS, name: CPUUtilization, stat: Average, compare_to: before_deployment, max_ratio: 2, max: 50 }",
        );
        assert_eq!(effective_max(&capped, Some(&baseline)), Some(50.0));
        // Without a baseline an absolute breach still fails; holding the absolute bound alone is
        // not a pass.
        let why = || Err("no datapoint".to_owned());
        let breach = judge_compared(&capped, &series(&[45.0, 55.0]), at(T0 + 240), why());
        assert_eq!(breach.code, &METRIC_ABOVE_MAX, "{}", breach.message);
        let none = judge_compared(&capped, &series(&[45.0, 48.0]), at(T0 + 240), why());
        assert!(none.not_applicable);
        assert_eq!(none.code, &METRIC_NO_BASELINE);
        assert!(
            none.message
                .contains("absolute bounds hold, but are not judged alone"),
            "{}",
            none.message
        );
    }

    #[test]
    fn the_baseline_is_on_the_datapoints_scale_and_never_zero_for_a_ratio() {
        let p = params(
            "metric: { namespace: App, name: Errors, stat: Sum, compare_to: before_deployment, max_ratio: 2, treat_missing: zero }",
        );
        let hour = |values: &[f64]| {
            let mut hour = series(values);
            hour.window = MetricWindow {
                start: at(T0 - 3600),
                end: at(T0),
            };
            for (i, point) in hour.datapoints.iter_mut().enumerate() {
                point.at = at(T0 - 3600 + 60 * i as u64);
            }
            hour
        };
        // Two minutes of 30 errors in the hour, the rest empty (zero): a per-minute mean of 1.
        let baseline = baseline_of(&p, &hour(&[30.0, 30.0])).expect("a baseline");
        assert!((baseline.value - 1.0).abs() < 1e-9, "{}", baseline.value);
        // An hour without a single error: a ratio of 0 bounds nothing.
        let never = baseline_of(&p, &hour(&[])).expect_err("no bound from a ratio of 0");
        assert!(never.contains("add `max_increase`"), "{never}");
        let with_increase = params(
            "metric: { namespace: App, name: Errors, stat: Sum, compare_to: before_deployment, max_ratio: 2, max_increase: 5, treat_missing: zero }",
        );
        let zero = baseline_of(&with_increase, &hour(&[])).expect("a baseline of 0");
        assert_eq!(effective_max(&with_increase, Some(&zero)), Some(5.0));
        // Without treat_missing: zero, an hour with no datapoint has no baseline.
        let plain = params(
            "metric: { namespace: App, name: Latency, stat: Average, compare_to: before_deployment, max_ratio: 2 }",
        );
        assert!(baseline_of(&plain, &hour(&[])).is_err());
    }

    #[test]
    fn windows_round_inwards_to_whole_minutes() {
        let window = MetricWindow::for_stage(at(T0 + 30), at(T0 + 330));
        assert_eq!(window.start, at(T0 + 60));
        assert_eq!(window.end, at(T0 + 300));
        assert_eq!(window.duration(), Duration::from_secs(240));
        let aligned = MetricWindow::for_stage(at(T0), at(T0 + 60));
        assert_eq!((aligned.start, aligned.end), (at(T0), at(T0 + 60)));
        let young = MetricWindow::for_stage(at(T0 + 10), at(T0 + 100));
        assert!(young.is_empty());
        assert_eq!((young.start, young.end), (at(T0 + 60), at(T0 + 60)));
        assert_eq!(
            aligned.to_string(),
            "2027-01-15T08:00:00Z/2027-01-15T08:01:00Z"
        );
    }

    #[test]
    fn arns_become_cloudwatch_dimensions() {
        let tg = "arn:aws:elasticloadbalancing:us-east-1:111122223333:targetgroup/web-green/0123456789abcdef";
        let lb = "arn:aws:elasticloadbalancing:us-east-1:111122223333:loadbalancer/app/web/fedcba9876543210";
        assert_eq!(
            target_group_dimension(tg).as_deref(),
            Some("targetgroup/web-green/0123456789abcdef")
        );
        assert_eq!(
            load_balancer_dimension(lb).as_deref(),
            Some("app/web/fedcba9876543210")
        );
        assert_eq!(
            target_group_dimension("targetgroup/a/1").as_deref(),
            Some("targetgroup/a/1")
        );
        assert_eq!(
            load_balancer_dimension("net/nlb/1").as_deref(),
            Some("net/nlb/1")
        );
        assert_eq!(target_group_dimension(lb), None);
        assert_eq!(load_balancer_dimension("web"), None);
    }

    #[test]
    fn dimensions_render_from_facts() {
        let service = ServiceIdentity {
            partition: "aws".into(),
            region: "us-east-1".into(),
            account: "111122223333".into(),
            cluster: "prod".into(),
            service: "web".into(),
            service_arn: "arn:aws:ecs:us-east-1:111122223333:service/prod/web".into(),
        };
        let routing = RoutingFacts {
            green_target_group: Some(
                "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/g/1".into(),
            ),
            blue_target_group: None,
            load_balancer_arn: Some(
                "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/web/2".into(),
            ),
            production_rule: None,
            test_rule: None,
            test_endpoint: None,
        };
        let values = PlaceholderValues::from_facts(&service, Some(&routing));
        let dims: BTreeMap<String, DimensionTemplate> = [
            ("LoadBalancer", "{load_balancer}"),
            ("TargetGroup", "{green.target_group}"),
            ("Service", "{cluster}/{service}"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.parse().expect("template")))
        .collect();
        assert!(needs_routing(&dims));
        assert_eq!(
            render_dimensions(&dims, &values),
            Ok(vec![
                ("LoadBalancer".into(), "app/web/2".into()),
                ("Service".into(), "prod/web".into()),
                ("TargetGroup".into(), "targetgroup/g/1".into()),
            ])
        );
        let blue: BTreeMap<String, DimensionTemplate> = [(
            "TargetGroup".to_owned(),
            "{blue.target_group}".parse().expect("template"),
        )]
        .into();
        assert_eq!(
            render_dimensions(&blue, &values),
            Err(Placeholder::BlueTargetGroup)
        );
        let outcome = dimension_unresolved("the query", Placeholder::BlueTargetGroup);
        assert_eq!(outcome.code, &METRIC_DIMENSION_UNRESOLVED);
        assert!(outcome.message.contains("{blue.target_group}"));
        let own: BTreeMap<String, DimensionTemplate> = [(
            "ServiceName".to_owned(),
            "{service}".parse().expect("template"),
        )]
        .into();
        assert!(!needs_routing(&own));
    }

    #[test]
    fn judges_every_datapoint_against_the_bounds() {
        let now = at(T0 + 660);
        let cases: &[(&str, &[f64], &ReasonCode, Status)] = &[
            (
                "max: 0.5",
                &[0.1, 0.2, 0.3],
                &METRIC_WITHIN_BOUNDS,
                Status::Pass,
            ),
            (
                "max: 0.5",
                &[0.1, 0.9, 0.3],
                &METRIC_ABOVE_MAX,
                Status::Fail,
            ),
            (
                "min: 10",
                &[12.0, 4.0, 11.0],
                &METRIC_BELOW_MIN,
                Status::Fail,
            ),
            (
                "min: 1, max: 5",
                &[1.0, 5.0],
                &METRIC_WITHIN_BOUNDS,
                Status::Pass,
            ),
            (
                "min: 1, max: 5",
                &[0.0, 9.0],
                &METRIC_ABOVE_MAX,
                Status::Fail,
            ),
            ("max: 0.5", &[], &METRIC_NO_DATA, Status::Inconclusive),
            (
                "max: 0.5, min_datapoints: 3",
                &[0.1, 0.1],
                &METRIC_TOO_FEW_DATAPOINTS,
                Status::Inconclusive,
            ),
            // Not judged before min_datapoints, even when breaching.
            (
                "max: 0.5, min_datapoints: 3",
                &[0.9, 0.9],
                &METRIC_TOO_FEW_DATAPOINTS,
                Status::Inconclusive,
            ),
            (
                "max: 0.5",
                &[f64::NAN],
                &METRIC_NO_DATA,
                Status::Inconclusive,
            ),
        ];
        for (bounds, values, code, status) in cases {
            let params = params(&format!(
                "metric: {{ namespace: AWS/ApplicationELB, name: TargetResponseTime, stat: p99, {bounds} }}"
            ));
            let outcome = judge(&params, &series(values), now);
            assert_eq!(
                outcome.code, *code,
                "{bounds} {values:?}: {}",
                outcome.message
            );
            assert_eq!(outcome.status, *status, "{bounds} {values:?}");
            let first = &outcome.evidence[0];
            assert_eq!(
                first.window.as_deref(),
                Some("2027-01-15T08:00:00Z/2027-01-15T08:10:00Z")
            );
            assert!(first.threshold.is_some());
            assert!(outcome.evidence.iter().any(|e| e.measured == "query"));
        }
    }

    #[test]
    fn failure_evidence_names_the_worst_value_and_the_breaches() {
        let params = params(
            "metric: { namespace: AWS/ApplicationELB, name: TargetResponseTime, stat: p99, max: 0.5 }",
        );
        let outcome = judge(&params, &series(&[0.1, 0.9, 0.7, 0.2]), at(T0 + 600));
        assert_eq!(outcome.code, &METRIC_ABOVE_MAX);
        assert_eq!(outcome.evidence[0].value, json!(0.9));
        assert_eq!(outcome.evidence[0].samples, Some(4));
        assert_eq!(outcome.evidence[0].threshold.as_deref(), Some("<= 0.5"));
        assert_eq!(
            outcome.evidence[0].resource.as_deref(),
            Some("TargetGroup=targetgroup/web-green/1")
        );
        assert_eq!(outcome.evidence[1].samples, Some(2));
        assert_eq!(outcome.evidence[1].value[0]["value"], json!(0.9));
        assert!(
            outcome.message.contains("in 2 of 4 datapoint(s)"),
            "{}",
            outcome.message
        );
        let query = &outcome.evidence.last().expect("query evidence").value;
        assert_eq!(query["stat"], json!("p99"));
        assert_eq!(
            query["dimensions"]["TargetGroup"],
            json!("targetgroup/web-green/1")
        );
    }

    #[test]
    fn stale_data_is_inconclusive_but_a_breach_still_fails() {
        let params = params("metric: { namespace: A, name: B, stat: Sum, max: 5, max_age: 5m }");
        // Newest datapoint at T0+120; judged 10 minutes later.
        let now = at(T0 + 720);
        let stale = judge(&params, &series(&[1.0, 2.0, 3.0]), now);
        assert_eq!(stale.code, &METRIC_STALE);
        assert_eq!(stale.status, Status::Inconclusive);
        assert_eq!(stale.evidence[0].value["age_seconds"], json!(600));
        assert_eq!(stale.evidence[0].threshold.as_deref(), Some("<= 5m"));
        let breach = judge(&params, &series(&[1.0, 9.0, 3.0]), now);
        assert_eq!(breach.code, &METRIC_ABOVE_MAX);
        let fresh = judge(&params, &series(&[1.0, 2.0, 3.0]), at(T0 + 240));
        assert_eq!(fresh.code, &METRIC_WITHIN_BOUNDS);
    }

    /// A count series of the 10-minute window with datapoints only at the given minutes.
    fn sparse_counts(minutes: &[(u64, f64)]) -> MetricSeries {
        let mut series = series(&[]);
        series.query.metric_name = "HTTPCode_Target_5XX_Count".into();
        series.query.stat = "Sum".into();
        series.datapoints = minutes
            .iter()
            .map(|(minute, value)| Datapoint {
                at: at(T0 + 60 * minute),
                value: *value,
            })
            .collect();
        series
    }

    #[test]
    fn treat_missing_decides_what_empty_periods_mean() {
        let now = at(T0 + 600);
        let base = "metric: { namespace: AWS/ApplicationELB, name: HTTPCode_Target_5XX_Count, stat: Sum, max: 5, min_datapoints: 5";
        let with = |treat: &str| params(&format!("{base}, treat_missing: {treat} }}"));
        let default = params(&format!("{base} }}"));
        let none = sparse_counts(&[]);
        let two = sparse_counts(&[(2, 1.0), (7, 3.0)]);
        let breach = sparse_counts(&[(4, 9.0)]);
        // (name, params, series, status, code)
        let cases = [
            (
                "default: nothing",
                &default,
                &none,
                Status::Inconclusive,
                &METRIC_NO_DATA,
            ),
            (
                "default: sparse",
                &default,
                &two,
                Status::Inconclusive,
                &METRIC_TOO_FEW_DATAPOINTS,
            ),
            (
                "inconclusive: nothing",
                &with("inconclusive"),
                &none,
                Status::Inconclusive,
                &METRIC_NO_DATA,
            ),
            (
                "zero: nothing is ten zeros",
                &with("zero"),
                &none,
                Status::Pass,
                &METRIC_WITHIN_BOUNDS,
            ),
            (
                "zero: sparse fills up",
                &with("zero"),
                &two,
                Status::Pass,
                &METRIC_WITHIN_BOUNDS,
            ),
            (
                "zero: a breach still fails",
                &with("zero"),
                &breach,
                Status::Fail,
                &METRIC_ABOVE_MAX,
            ),
            (
                "ignore: nothing",
                &with("ignore"),
                &none,
                Status::Inconclusive,
                &METRIC_NO_DATA,
            ),
            (
                "ignore: sparse is too few",
                &with("ignore"),
                &two,
                Status::Inconclusive,
                &METRIC_TOO_FEW_DATAPOINTS,
            ),
        ];
        for (name, params, series, status, code) in cases {
            let outcome = judge(params, series, now);
            assert_eq!(
                (outcome.status, outcome.code.code),
                (status, code.code),
                "{name}: {}",
                outcome.message
            );
        }

        let outcome = judge(&with("zero"), &two, now);
        assert!(
            outcome.message.contains("8 empty period(s) counted as 0"),
            "{}",
            outcome.message
        );
        let filled = outcome
            .evidence
            .iter()
            .find(|e| e.measured == "empty periods counted as 0")
            .expect("filled evidence");
        assert_eq!(filled.value, json!(8));

        // A window without a whole period is no data, even with zero.
        let mut young = sparse_counts(&[]);
        young.window.end = young.window.start;
        assert_eq!(judge(&with("zero"), &young, now).code, &METRIC_NO_DATA);
    }

    #[test]
    fn ignore_does_not_hold_old_data_against_the_metric() {
        let stale = params("metric: { namespace: A, name: B, stat: Sum, max: 5, max_age: 2m }");
        let ignore =
            params("metric: { namespace: A, name: B, stat: Sum, max: 5, treat_missing: ignore }");
        let old = sparse_counts(&[(0, 1.0)]);
        let now = at(T0 + 600);
        assert_eq!(judge(&stale, &old, now).code, &METRIC_STALE);
        assert_eq!(judge(&ignore, &old, now).code, &METRIC_WITHIN_BOUNDS);
    }

    #[test]
    fn filling_keeps_datapoints_sorted_and_counts_whole_periods_only() {
        let window = MetricWindow {
            start: at(T0),
            end: at(T0 + 330),
        };
        let mut points = vec![Datapoint {
            at: at(T0 + 120),
            value: 2.0,
        }];
        let filled = fill_empty_periods(&mut points, &window, Duration::from_secs(60));
        assert_eq!(filled, 4);
        let times: Vec<SystemTime> = points.iter().map(|p| p.at).collect();
        assert_eq!(
            times,
            vec![
                at(T0),
                at(T0 + 60),
                at(T0 + 120),
                at(T0 + 180),
                at(T0 + 240)
            ]
        );
        assert_eq!(
            fill_empty_periods(&mut points, &window, Duration::from_secs(600)),
            0
        );
    }

    #[test]
    fn an_empty_window_says_the_stage_is_too_young() {
        let params = params("metric: { namespace: A, name: B, stat: Sum, max: 5 }");
        let mut young = series(&[]);
        young.window = MetricWindow::for_stage(at(T0 + 10), at(T0 + 70));
        let outcome = judge(&params, &young, at(T0 + 70));
        assert_eq!(outcome.code, &METRIC_NO_DATA);
        assert!(
            outcome.message.contains("whole minute"),
            "{}",
            outcome.message
        );
    }

    #[test]
    fn doc_lists_every_code_and_a_valid_example() {
        assert_eq!(DOC.kind, "metric");
        assert!(DOC.codes.iter().all(|code| code.family() == "METRIC"));
        assert!(DOC.iam_actions().contains("cloudwatch:GetMetricData"));
        let example = check(DOC.example).expect("the documented example is a valid check");
        assert!(matches!(example.kind, CheckKind::Metric(_)));
    }
}
