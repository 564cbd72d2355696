//! The `compare` check's gather half.
//!
//! - `error_rate`: six per-minute queries — `RequestCount`, `HTTPCode_Target_5XX_Count` and
//!   `TargetConnectionErrorCount` of green's and blue's target groups — over the check's own window:
//!   from an hour before the deployment started (blue's baseline before the shift, and its
//!   dispersion) to the last settled minute (`settle` before now). They are fetched in one
//!   `GetMetricData` call with every other such query of the stage, and judged by
//!   [`greenlight_core::checks::compare::error_rate`].
//! - `latency`: the slow threshold is `slow_above`, or blue's `TargetResponseTime` percentile over
//!   its minutes before the deployment (else before the stage), asked for in one call; then, over
//!   the same window as the error rate, each side's per-minute `TargetResponseTime` sample count
//!   and percentile rank `PR(:threshold)` — with `slow_above` in the error rate's own call, else in a
//!   second — which give the slow requests per minute judged by [`greenlight_core::checks::compare::latency`]. Both sides'
//!   percentiles over the stage, shown for people, come with the stage's other metric queries.
//!
//! Which target group is green and which blue comes from the routing facts (the groups swap roles
//! between deployments); a deployment without a distinct blue group has nothing to compare.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use greenlight_core::checks::compare::error_rate::{
    self, Counts, ErrorRateObservation, LOOKBACK, MinuteObservation,
};
use greenlight_core::checks::compare::latency::{
    self, ShownPercentile, SlowThreshold, no_threshold, threshold_from_blue,
};
use greenlight_core::checks::compare::{
    COMPARE_NO_DATA, COMPARE_NO_LOAD_BALANCER, DOC, NAMESPACE, REQUEST_COUNT, TARGET_5XX_COUNT,
    TARGET_CONNECTION_ERROR_COUNT, TARGET_RESPONSE_TIME, no_baseline,
};
use greenlight_core::checks::metric::{MetricSeries, MetricWindow, minute_floor, whole_count};
use greenlight_core::checks::{CompareMetric, CompareParams};
use greenlight_core::document::values::DimensionTemplate;
use greenlight_core::engine::{Check, CheckFuture, StageView};
use greenlight_core::facts::{FactError, Facts, ListenerRuleFacts};
use greenlight_core::outcome::{Evidence, Outcome};

use super::CheckDeps;
use super::metric_data::{MetricData, QueryHandle, QueryPeriod, QuerySpec};

/// Builds the `compare` check and registers its queries.
pub fn build(params: &CompareParams, deps: &CheckDeps) -> Box<dyn Check> {
    Box::new(CompareCheck::new(
        params.clone(),
        Arc::clone(&deps.facts),
        Arc::clone(&deps.metric_data),
    ))
}

const MINUTE: Duration = Duration::from_secs(60);
/// The oldest minute asked for, however long the deployment has run: a day before now.
const MAX_SPAN: Duration = Duration::from_secs(24 * 60 * 60);

/// The queries of one side.
struct SideQueries {
    /// Its dimensions (target group and load balancer), for queries asked for later.
    dimensions: BTreeMap<String, DimensionTemplate>,
    /// Error rate only: requests.
    requests: Option<(QuerySpec, QueryHandle)>,
    /// Error rate: target 5xx; latency: the percentile over the stage, shown for people.
    measure: (QuerySpec, QueryHandle),
    /// Error rate only: target connection errors.
    connection_errors: Option<(QuerySpec, QueryHandle)>,
    /// Latency with `slow_above`: the threshold is known when the check is built, so the side's
    /// per-minute sample count and rank at it join the stage's per-minute batch.
    slow_counts: Option<[(QuerySpec, QueryHandle); 2]>,
}

/// Green's error rate or latency against blue's.
pub struct CompareCheck {
    params: CompareParams,
    facts: Arc<dyn Facts>,
    metric_data: Arc<MetricData>,
    green: SideQueries,
    blue: SideQueries,
}

/// The dimensions of one side: its target group and the load balancer.
fn side_dimensions(target_group: &str) -> BTreeMap<String, DimensionTemplate> {
    // Both are fixed placeholders that always parse; a failure would only drop a dimension, and
    // the query would then find no data (inconclusive), never a wrong pass.
    [
        ("TargetGroup", target_group),
        ("LoadBalancer", "{load_balancer}"),
    ]
    .into_iter()
    .filter_map(|(name, value)| Some((name.to_owned(), value.parse().ok()?)))
    .collect()
}

impl CompareCheck {
    /// The check with its params, registering its queries with the stage's `metric_data`.
    pub fn new(params: CompareParams, facts: Arc<dyn Facts>, metric_data: Arc<MetricData>) -> Self {
        let per_minute = params.metric == CompareMetric::ErrorRate;
        let configured =
            SlowThreshold::configured(&params).filter(|_| params.metric == CompareMetric::Latency);
        let register = |target_group: &str| {
            let query = |metric_name: &str, stat: String, period: QueryPeriod| {
                let spec = QuerySpec {
                    namespace: NAMESPACE.to_owned(),
                    metric_name: metric_name.to_owned(),
                    dimensions: side_dimensions(target_group),
                    stat,
                    period,
                };
                let handle = metric_data.register(spec.clone());
                (spec, handle)
            };
            let minutely = QueryPeriod::OwnWindow(MINUTE);
            SideQueries {
                dimensions: side_dimensions(target_group),
                requests: per_minute.then(|| query(REQUEST_COUNT, "Sum".to_owned(), minutely)),
                measure: match params.metric {
                    CompareMetric::ErrorRate => query(TARGET_5XX_COUNT, "Sum".to_owned(), minutely),
                    CompareMetric::Latency => query(
                        TARGET_RESPONSE_TIME,
                        params.latency_percentile().to_string(),
                        QueryPeriod::WholeWindow,
                    ),
                },
                connection_errors: per_minute
                    .then(|| query(TARGET_CONNECTION_ERROR_COUNT, "Sum".to_owned(), minutely)),
                slow_counts: configured.as_ref().map(|threshold| {
                    [
                        query(TARGET_RESPONSE_TIME, "SampleCount".to_owned(), minutely),
                        query(
                            TARGET_RESPONSE_TIME,
                            threshold.percentile_rank_stat(),
                            minutely,
                        ),
                    ]
                }),
            }
        };
        let green = register("{green.target_group}");
        let blue = register("{blue.target_group}");
        CompareCheck {
            params,
            facts,
            metric_data,
            green,
            blue,
        }
    }

    async fn series(
        &self,
        (spec, handle): &(QuerySpec, QueryHandle),
        stage: &StageView,
    ) -> Result<MetricSeries, Outcome> {
        self.metric_data
            .series(*handle, self.facts.as_ref(), stage)
            .await
            .map_err(|error| error.to_outcome(&spec.describe()))
    }

    async fn series_over(
        &self,
        (spec, handle): &(QuerySpec, QueryHandle),
        window: MetricWindow,
    ) -> Result<MetricSeries, Outcome> {
        self.metric_data
            .series_over(*handle, self.facts.as_ref(), window)
            .await
            .map_err(|error| error.to_outcome(&spec.describe()))
    }

    /// A query of one side asked for outside the stage's batches.
    fn unregistered(
        side: &SideQueries,
        metric_name: &str,
        stat: String,
        period: QueryPeriod,
    ) -> QuerySpec {
        QuerySpec {
            namespace: NAMESPACE.to_owned(),
            metric_name: metric_name.to_owned(),
            dimensions: side.dimensions.clone(),
            stat,
            period,
        }
    }

    /// The stage's window (to the last settled minute) and the window fetched for it: from
    /// [`LOOKBACK`] before the deployment (or the stage) started.
    fn windows(
        &self,
        stage: &StageView,
        deployment_started: Option<SystemTime>,
    ) -> (MetricWindow, MetricWindow) {
        let settled_now = stage
            .now
            .checked_sub(self.params.settle())
            .unwrap_or(stage.now);
        let window = MetricWindow::for_stage(stage.started_at, settled_now);
        let earliest = minute_floor(stage.now.checked_sub(MAX_SPAN).unwrap_or(stage.now));
        let from = deployment_started
            .map_or(window.start, |started| started.min(window.start))
            .checked_sub(LOOKBACK)
            .map_or(earliest, |from| minute_floor(from).max(earliest));
        let fetched = MetricWindow {
            start: from,
            end: window.end.max(from),
        };
        (window, fetched)
    }

    /// The slow threshold from blue's percentile over its minutes from `from` to the first of
    /// `ends` (the deployment's start, then the stage's) that holds enough of them.
    async fn blue_threshold(
        &self,
        from: SystemTime,
        ends: &[SystemTime],
    ) -> Result<SlowThreshold, Outcome> {
        let specs = [
            Self::unregistered(
                &self.blue,
                TARGET_RESPONSE_TIME,
                self.params.latency_percentile().to_string(),
                QueryPeriod::WholeWindow,
            ),
            Self::unregistered(
                &self.blue,
                TARGET_RESPONSE_TIME,
                "SampleCount".to_owned(),
                QueryPeriod::WholeWindow,
            ),
        ];
        let mut last = (
            0,
            MetricWindow {
                start: from,
                end: from,
            },
            false,
        );
        let mut tried = Vec::new();
        for end in ends {
            let window = MetricWindow {
                start: from,
                end: minute_floor(*end).max(from),
            };
            if window.is_empty() || tried.contains(&window) {
                continue;
            }
            tried.push(window);
            let series = self
                .metric_data
                .fetch_now(&specs, self.facts.as_ref(), window)
                .await
                .map_err(|error| error.to_outcome(&specs[0].describe()))?;
            let (Some(percentiles), Some(samples)) = (series.first(), series.get(1)) else {
                continue;
            };
            let requests = whole_count(samples.total());
            let seconds = window_latency(percentiles, samples);
            if let Some(threshold) = threshold_from_blue(&self.params, seconds, requests, window) {
                return Ok(threshold);
            }
            last = (requests, window, seconds.is_none() && requests > 0);
        }
        let (requests, window, no_percentile) = last;
        if no_percentile {
            return Err(Outcome::inconclusive(
                &COMPARE_NO_DATA,
                format!(
                    "blue answered {requests} requests in {window} but {TARGET_RESPONSE_TIME} {} has no datapoint to set the slow threshold from",
                    self.params.latency_percentile()
                ),
            ));
        }
        Err(no_threshold(&self.params, requests, window))
    }

    /// Each side's answered and slow requests per minute over `window`, from `TargetResponseTime`'s
    /// sample count and its percentile rank at the threshold, in one call.
    async fn slow_minutes(
        &self,
        threshold: &SlowThreshold,
        window: MetricWindow,
    ) -> Result<[SlowMinutes; 2], Outcome> {
        let series = match (&self.green.slow_counts, &self.blue.slow_counts) {
            // `slow_above`: registered with the stage's per-minute batch (shared with an error-rate
            // comparison's call).
            (Some(green), Some(blue)) => {
                let mut series = Vec::with_capacity(4);
                for query in green.iter().chain(blue.iter()) {
                    series.push(self.series_over(query, window).await?);
                }
                series
            }
            // Blue's percentile: known only now, so asked for in a call of its own.
            _ => {
                let mut specs = Vec::new();
                for side in [&self.green, &self.blue] {
                    for stat in ["SampleCount".to_owned(), threshold.percentile_rank_stat()] {
                        specs.push(Self::unregistered(
                            side,
                            TARGET_RESPONSE_TIME,
                            stat,
                            QueryPeriod::OwnWindow(MINUTE),
                        ));
                    }
                }
                self.metric_data
                    .fetch_now(&specs, self.facts.as_ref(), window)
                    .await
                    .map_err(|error| error.to_outcome(&specs[1].describe()))?
            }
        };
        let side = |samples: Option<&MetricSeries>, ranks: Option<&MetricSeries>| {
            let answered: BTreeMap<SystemTime, f64> = samples
                .map(|s| s.datapoints.as_slice())
                .unwrap_or_default()
                .iter()
                .map(|point| (point.at, point.value.max(0.0)))
                .collect();
            // A minute counts only with both its sample count and its rank: requests without a
            // rank would read as all fast, a rank without requests as nothing.
            let counted: BTreeMap<SystemTime, Counts> = ranks
                .map(|s| s.datapoints.as_slice())
                .unwrap_or_default()
                .iter()
                .filter(|point| point.value.is_finite())
                .filter_map(|point| {
                    let requests = *answered.get(&point.at)?;
                    let slow_share = (100.0 - point.value.clamp(0.0, 100.0)) / 100.0;
                    Some((
                        point.at,
                        Counts {
                            requests,
                            errors: requests * slow_share,
                        },
                    ))
                })
                .collect();
            let unranked = answered
                .iter()
                .filter(|(at, requests)| **requests > 0.0 && !counted.contains_key(at))
                .map(|(at, _)| *at)
                .collect();
            SlowMinutes { counted, unranked }
        };
        Ok([
            side(series.first(), series.get(1)),
            side(series.get(2), series.get(3)),
        ])
    }

    /// Both sides' percentile over the stage, for people.
    async fn shown_percentile(
        &self,
        side: &SideQueries,
        target_group: &str,
        stage: &StageView,
    ) -> Option<ShownPercentile> {
        let series = self.series(&side.measure, stage).await.ok()?;
        Some(ShownPercentile {
            target_group: target_group.to_owned(),
            seconds: series
                .datapoints
                .iter()
                .map(|point| point.value)
                .find(|value| value.is_finite()),
            window: series.window,
        })
    }

    async fn latency(
        &self,
        stage: &StageView,
        green_target_group: &str,
        blue_target_group: &str,
        deployment_started: Option<SystemTime>,
    ) -> Result<Outcome, Outcome> {
        let (window, fetched) = self.windows(stage, deployment_started);
        let threshold = match SlowThreshold::configured(&self.params) {
            Some(threshold) => threshold,
            None => {
                let ends: Vec<SystemTime> = deployment_started
                    .into_iter()
                    .chain([window.start])
                    .collect();
                self.blue_threshold(fetched.start, &ends).await?
            }
        };
        let [green, blue] = self.slow_minutes(&threshold, fetched).await?;
        for (name, side) in [("green", &green), ("blue", &blue)] {
            if let Some(outcome) = side.unjudgeable(name, window) {
                return Ok(outcome);
            }
        }
        let (green, blue) = (green.counted, blue.counted);
        // The percentiles are for people: a failure to read them never changes the judgement.
        let mut shown = Vec::new();
        for (name, side, target_group) in [
            ("green", &self.green, green_target_group),
            ("blue", &self.blue, blue_target_group),
        ] {
            if let Some(percentile) = self.shown_percentile(side, target_group, stage).await {
                shown.push((name, percentile));
            }
        }
        Ok(latency::judge(
            &self.params,
            &threshold,
            &observation(
                green_target_group,
                blue_target_group,
                green,
                blue,
                window,
                deployment_started,
                stage,
            ),
            &shown,
        ))
    }

    /// One side's counts per minute over `window`.
    async fn minutes_of(
        &self,
        queries: &SideQueries,
        window: MetricWindow,
    ) -> Result<BTreeMap<SystemTime, Counts>, Outcome> {
        let mut minutes: BTreeMap<SystemTime, Counts> = BTreeMap::new();
        if let Some(requests) = &queries.requests {
            for point in self.series_over(requests, window).await?.datapoints {
                minutes.entry(point.at).or_default().requests += point.value.max(0.0);
            }
        }
        let mut errors = self.series_over(&queries.measure, window).await?.datapoints;
        if let Some(connection) = &queries.connection_errors {
            errors.extend(self.series_over(connection, window).await?.datapoints);
        }
        for point in errors {
            minutes.entry(point.at).or_default().errors += point.value.max(0.0);
        }
        Ok(minutes)
    }

    async fn error_rate(
        &self,
        stage: &StageView,
        green_target_group: &str,
        blue_target_group: &str,
        deployment_started: Option<SystemTime>,
    ) -> Result<Outcome, Outcome> {
        let (window, fetched) = self.windows(stage, deployment_started);
        let green = self.minutes_of(&self.green, fetched).await?;
        let blue = self.minutes_of(&self.blue, fetched).await?;
        Ok(error_rate::judge(
            &self.params,
            &observation(
                green_target_group,
                blue_target_group,
                green,
                blue,
                window,
                deployment_started,
                stage,
            ),
        ))
    }

    async fn compare(&self, stage: &StageView) -> Result<Outcome, Outcome> {
        let routing = self.facts.routing().await.map_err(|e| e.to_outcome())?;
        // ECS names a listener, not a listener rule, for a Network Load Balancer, which publishes
        // no HTTP status or response time metrics per target group.
        let network_lb = routing
            .production_rule
            .as_ref()
            .is_some_and(ListenerRuleFacts::is_listener_default);
        if !routing.has_load_balancer() || network_lb {
            let what = if network_lb {
                "is behind a Network Load Balancer, which has no HTTP metrics per target group"
            } else {
                "has no load balancer, so there are no target group metrics"
            };
            return Err(Outcome::not_applicable(
                &COMPARE_NO_LOAD_BALANCER,
                format!(
                    "service {} {what} to compare",
                    self.facts.service().service_arn
                ),
            )
            .with_evidence(
                Evidence::new("load balancer", "none")
                    .resource(self.facts.service().service_arn.as_str()),
            ));
        }
        let green = routing.green_target_group.as_deref().ok_or_else(|| {
            FactError::NotReady {
                what: "green's target group".to_owned(),
                detail: "the service has no load balancer, or ECS has not resolved green's target group yet".to_owned(),
            }
            .to_outcome()
        })?;
        let blue = routing
            .blue_target_group
            .as_deref()
            .ok_or_else(|| no_baseline("the deployment has no blue target group"))?;
        if green == blue {
            return Err(no_baseline(&format!(
                "green and blue resolve to the same target group {green}"
            )));
        }
        if routing.load_balancer_arn.is_none() {
            return Err(FactError::NotReady {
                what: "the load balancer".to_owned(),
                detail: "the routing facts name no load balancer for the target groups".to_owned(),
            }
            .to_outcome());
        }
        let started = self
            .facts
            .deployment()
            .await
            .map_err(|error| error.to_outcome())?
            .started_at;
        match self.params.metric {
            CompareMetric::ErrorRate => self.error_rate(stage, green, blue, started).await,
            CompareMetric::Latency => self.latency(stage, green, blue, started).await,
        }
    }
}

/// One side's minutes for a latency comparison.
struct SlowMinutes {
    /// Minutes with both a sample count and a percentile rank.
    counted: BTreeMap<SystemTime, Counts>,
    /// Minutes with requests but no rank.
    unranked: Vec<SystemTime>,
}

impl SlowMinutes {
    /// [`COMPARE_NO_DATA`] when most of the side's minutes with requests in the stage's window
    /// have no rank: judging only the ranked ones would judge a sample CloudWatch chose.
    fn unjudgeable(&self, side: &str, window: MetricWindow) -> Option<Outcome> {
        let in_window = |at: &SystemTime| *at >= window.start && *at < window.end;
        let unranked = self.unranked.iter().filter(|at| in_window(at)).count();
        let counted = self.counted.keys().filter(|at| in_window(at)).count();
        (unranked > 0 && unranked >= counted).then(|| {
            Outcome::inconclusive(
                &COMPARE_NO_DATA,
                format!(
                    "{side}'s {TARGET_RESPONSE_TIME} has requests but no percentile rank in {unranked} of its {} minutes in {window}: its slow requests cannot be counted yet",
                    unranked + counted
                ),
            )
        })
    }
}

/// Both sides' counts per minute as the judge reads them: every minute either side has, before
/// the end of the stage's settled window.
fn observation(
    green_target_group: &str,
    blue_target_group: &str,
    green: BTreeMap<SystemTime, Counts>,
    blue: BTreeMap<SystemTime, Counts>,
    window: MetricWindow,
    deployment_started_at: Option<SystemTime>,
    stage: &StageView,
) -> ErrorRateObservation {
    let mut at: Vec<SystemTime> = green.keys().chain(blue.keys()).copied().collect();
    at.sort();
    at.dedup();
    let minutes = at
        .into_iter()
        .filter(|minute| *minute < window.end)
        .map(|minute| MinuteObservation {
            at: minute,
            green: green.get(&minute).copied().unwrap_or_default(),
            blue: blue.get(&minute).copied().unwrap_or_default(),
        })
        .collect();
    ErrorRateObservation {
        green_target_group: green_target_group.to_owned(),
        blue_target_group: blue_target_group.to_owned(),
        minutes,
        deployment_started_at,
        window,
        horizon: stage.horizon,
    }
}

/// The percentile over the window. With one datapoint (the whole window in one period) that is
/// CloudWatch's own figure; should CloudWatch split the window into several periods, their values
/// are averaged weighted by the requests of each period (an approximation, the same for both
/// sides).
fn window_latency(latency: &MetricSeries, requests: &MetricSeries) -> Option<f64> {
    let points: Vec<_> = latency
        .datapoints
        .iter()
        .filter(|p| p.value.is_finite())
        .collect();
    match points.as_slice() {
        [] => None,
        [only] => Some(only.value),
        several => {
            let weight = |at: SystemTime| {
                requests
                    .datapoints
                    .iter()
                    .find(|r| r.at == at)
                    .map_or(0.0, |r| r.value.max(0.0))
            };
            let total: f64 = several.iter().map(|p| weight(p.at)).sum();
            if total > 0.0 {
                Some(several.iter().map(|p| p.value * weight(p.at)).sum::<f64>() / total)
            } else {
                Some(several.iter().map(|p| p.value).sum::<f64>() / several.len() as f64)
            }
        }
    }
}

impl Check for CompareCheck {
    fn kind(&self) -> &'static str {
        DOC.kind
    }

    fn run<'a>(&'a self, stage: &'a StageView) -> CheckFuture<'a> {
        Box::pin(async move {
            match self.compare(stage).await {
                Ok(outcome) | Err(outcome) => outcome,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use aws_sdk_cloudwatch::Client;
    use aws_sdk_cloudwatch::error::ErrorMetadata;
    use aws_sdk_cloudwatch::operation::get_metric_data::GetMetricDataError;
    use aws_smithy_mocks::mock;
    use greenlight_core::checks::MaxIncrease;
    use greenlight_core::checks::compare::{
        COMPARE_ERROR_RATE_HIGHER, COMPARE_LATENCY_HIGHER, COMPARE_NO_BASELINE, COMPARE_NOT_WORSE,
        COMPARE_TOO_FEW_REQUESTS,
    };
    use greenlight_core::checks::metric::{Datapoint, MetricQuery, MetricWindow};
    use greenlight_core::document::values::{PercentagePoints, Percentile};
    use greenlight_core::facts::{AWS_ACCESS_DENIED, AWS_THROTTLED, FACT_NOT_READY, StaticFacts};
    use greenlight_core::outcome::{ErrorClass, Status};
    use serde_json::json;

    use super::*;
    use crate::checks::metric::MetricCheck;
    use crate::checks::metric_data::tests::{
        BLUE_TG, GREEN_TG, STARTED, answer, at, client, dimension, stage, throttling,
    };

    /// The deployment started five minutes before the stage.
    const DEPLOYMENT_STARTED: u64 = STARTED - 300;

    /// Routing facts with `blue`, and a deployment that started at [`DEPLOYMENT_STARTED`].
    fn facts(blue: Option<&str>) -> Arc<StaticFacts> {
        let facts = crate::checks::metric_data::tests::facts(blue);
        let mut facts = Arc::try_unwrap(facts).expect("a fresh facts");
        facts.deployment = Ok(Arc::new(
            greenlight_core::facts::DeploymentFacts::in_progress(
                "deployment-1",
                Some(at(DEPLOYMENT_STARTED)),
            ),
        ));
        Arc::new(facts)
    }

    /// Answers every query per period from its start to its end: `values(metric, side, minute)`
    /// with the side `green` or `blue` and the minute's Unix seconds; `None` is no datapoint.
    fn per_minute(
        values: impl Fn(&str, &str, u64) -> Option<f64> + Send + Sync + 'static,
    ) -> aws_smithy_mocks::Rule {
        per_period(move |metric, _stat, side, minute, _period| values(metric, side, minute))
    }

    /// Like [`per_minute`], with the statistic and the period (seconds) as well:
    /// `values(metric, stat, side, period_start, period)`.
    fn per_period(
        values: impl Fn(&str, &str, &str, u64, u64) -> Option<f64> + Send + Sync + 'static,
    ) -> aws_smithy_mocks::Rule {
        use aws_sdk_cloudwatch::types::{MetricDataResult, StatusCode};
        use aws_smithy_types::DateTime;
        mock!(Client::get_metric_data).then_compute_output(move |input| {
            let seconds = |time: Option<&DateTime>| time.map_or(0, |t| t.secs() as u64);
            let (start, end) = (seconds(input.start_time()), seconds(input.end_time()));
            let results = input
                .metric_data_queries()
                .iter()
                .map(|query| {
                    let stat = query.metric_stat().expect("a metric stat");
                    let name = stat
                        .metric()
                        .and_then(|m| m.metric_name())
                        .unwrap_or_default();
                    let side = match dimension(query, "TargetGroup") {
                        Some(GREEN_DIMENSION) => "green",
                        Some(BLUE_DIMENSION) => "blue",
                        _ => "other",
                    };
                    let period = stat.period().unwrap_or(60).max(60) as u64;
                    let statistic = stat.stat().unwrap_or_default();
                    let (mut times, mut points) = (Vec::new(), Vec::new());
                    for minute in (start..end).step_by(period as usize) {
                        if let Some(value) = values(name, statistic, side, minute, period) {
                            times.push(DateTime::from_secs(minute as i64));
                            points.push(value);
                        }
                    }
                    MetricDataResult::builder()
                        .id(query.id().unwrap_or_default())
                        .set_timestamps(Some(times))
                        .set_values(Some(points))
                        .status_code(StatusCode::Complete)
                        .build()
                })
                .collect();
            aws_sdk_cloudwatch::operation::get_metric_data::GetMetricDataOutput::builder()
                .set_metric_data_results(Some(results))
                .build()
        })
    }

    /// Steady traffic per side: (requests, errors) a minute from the deployment's start (green)
    /// or always (blue); no 5xx datapoint in a minute without errors, as ALB does.
    fn steady(green: (f64, f64), blue: (f64, f64)) -> aws_smithy_mocks::Rule {
        per_minute(move |metric, side, minute| {
            let (requests, errors) = match side {
                "green" if minute >= DEPLOYMENT_STARTED => green,
                "blue" => blue,
                _ => return None,
            };
            match metric {
                REQUEST_COUNT if requests > 0.0 => Some(requests),
                TARGET_5XX_COUNT if errors > 0.0 => Some(errors),
                _ => None,
            }
        })
    }

    const GREEN_DIMENSION: &str = "targetgroup/web-b/0000000000000002";
    const BLUE_DIMENSION: &str = "targetgroup/web-a/0000000000000001";

    fn error_rate() -> CompareParams {
        CompareParams {
            metric: CompareMetric::ErrorRate,
            percentile: None,
            slow_above: None,
            max_increase: PercentagePoints::new(0.5).map(MaxIncrease::Points),
            max_ratio: None,
            min_requests: 100,
            confidence: None,
            settle: None,
            on_underpowered: Default::default(),
        }
    }

    fn latency() -> CompareParams {
        CompareParams {
            metric: CompareMetric::Latency,
            percentile: "p99".parse::<Percentile>().ok(),
            slow_above: None,
            max_increase: None,
            max_ratio: Some(1.5),
            min_requests: 100,
            confidence: None,
            settle: None,
            on_underpowered: Default::default(),
        }
    }

    /// Green and blue traffic: (requests, 5xx, p99 seconds) per side, one datapoint each.
    fn traffic(green: (f64, f64, f64), blue: (f64, f64, f64)) -> aws_smithy_mocks::Rule {
        answer(move |metric, _stat, target_group| {
            let side = match target_group {
                Some(GREEN_DIMENSION) => green,
                Some(BLUE_DIMENSION) => blue,
                _ => return Vec::new(),
            };
            match metric {
                REQUEST_COUNT => vec![side.0],
                // The load balancer publishes no 5xx datapoint without errors.
                TARGET_5XX_COUNT if side.1 > 0.0 => vec![side.1],
                TARGET_RESPONSE_TIME => vec![side.2],
                _ => Vec::new(),
            }
        })
    }

    async fn run(params: CompareParams, client: Client, facts: Arc<StaticFacts>) -> Outcome {
        CompareCheck::new(params, facts, Arc::new(MetricData::new(client)))
            .run(&stage(10))
            .await
    }

    #[tokio::test(start_paused = true)]
    async fn error_rates_per_settled_minute_against_a_concurrent_baseline() {
        let rule = steady((500.0, 30.0), (500.0, 5.0));
        let outcome = run(error_rate(), client(&[&rule]), facts(Some(BLUE_TG))).await;
        assert_eq!(
            outcome.code, &COMPARE_ERROR_RATE_HIGHER,
            "{}",
            outcome.message
        );
        assert_eq!(outcome.status, Status::Fail);
        let test = &outcome.evidence[0];
        // Ten minutes into the stage, the last two have not settled: eight stage minutes, plus
        // the five since the deployment started, carried.
        assert_eq!(test.value["minutes_concurrent"], json!(13));
        assert_eq!(test.value["minutes_carried_from_earlier_steps"], json!(5));
        let green = &outcome.evidence[1];
        assert_eq!(green.resource.as_deref(), Some(GREEN_TG));
        assert_eq!(green.value["errors"], json!(240));
        assert_eq!(green.samples, Some(4000));
        assert_eq!(
            green.window.as_deref(),
            Some("2027-01-15T08:00:00Z/2027-01-15T08:08:00Z")
        );
        let blue = &outcome.evidence[2];
        assert_eq!(blue.resource.as_deref(), Some(BLUE_TG));
        assert_eq!(blue.value["baseline"], json!("concurrent"));
        assert_eq!(rule.num_calls(), 1);

        let clean = steady((500.0, 0.0), (500.0, 5.0));
        let outcome = run(error_rate(), client(&[&clean]), facts(Some(BLUE_TG))).await;
        assert_eq!(outcome.code, &COMPARE_NOT_WORSE, "{}", outcome.message);
        assert_eq!(outcome.evidence[1].value["error_rate_percent"], json!(0.0));
    }

    #[tokio::test(start_paused = true)]
    async fn green_at_all_traffic_is_compared_with_blue_before_the_shift() {
        let rule = per_minute(|metric, side, minute| {
            let (requests, errors) = match side {
                // Green took all production traffic when the stage started.
                "green" if minute >= STARTED => (1000.0, 10.0),
                "blue" if minute < STARTED => (1000.0, 10.0),
                _ => return None,
            };
            match metric {
                REQUEST_COUNT => Some(requests),
                TARGET_5XX_COUNT => Some(errors),
                _ => None,
            }
        });
        let outcome = run(error_rate(), client(&[&rule]), facts(Some(BLUE_TG))).await;
        assert_eq!(outcome.code, &COMPARE_NOT_WORSE, "{}", outcome.message);
        let blue = &outcome.evidence[2];
        assert_eq!(blue.value["baseline"], json!("before_shift"));
        assert_eq!(blue.value["minutes"], json!(8));
        assert_eq!(
            blue.window.as_deref(),
            Some("2027-01-15T07:52:00Z/2027-01-15T08:00:00Z")
        );
        assert!(
            outcome.message.contains("baseline before_shift"),
            "{}",
            outcome.message
        );
    }

    #[tokio::test(start_paused = true)]
    async fn connection_errors_count_as_errors() {
        let rule = per_minute(|metric, side, minute| match (metric, side) {
            (REQUEST_COUNT, _) => Some(500.0),
            (TARGET_CONNECTION_ERROR_COUNT, "green") if minute >= DEPLOYMENT_STARTED => Some(40.0),
            (TARGET_5XX_COUNT, _) => Some(2.0),
            _ => None,
        });
        let outcome = run(error_rate(), client(&[&rule]), facts(Some(BLUE_TG))).await;
        assert_eq!(
            outcome.code, &COMPARE_ERROR_RATE_HIGHER,
            "{}",
            outcome.message
        );
        assert_eq!(outcome.evidence[1].value["errors"], json!(8 * 42));
    }

    #[tokio::test(start_paused = true)]
    async fn error_rate_queries_are_per_minute_from_an_hour_before_the_deployment() {
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let recorded = Arc::clone(&seen);
        let rule = mock!(Client::get_metric_data).then_compute_output(move |input| {
            let mut recorded = recorded.lock().expect("lock");
            for query in input.metric_data_queries() {
                let stat = query.metric_stat().expect("a metric stat");
                recorded.push((
                    stat.metric()
                        .and_then(|m| m.metric_name())
                        .unwrap_or_default()
                        .to_owned(),
                    stat.period(),
                    input.start_time().map(|t| t.secs() as u64),
                    input.end_time().map(|t| t.secs() as u64),
                ));
            }
            aws_sdk_cloudwatch::operation::get_metric_data::GetMetricDataOutput::builder().build()
        });
        let outcome = run(error_rate(), client(&[&rule]), facts(Some(BLUE_TG))).await;
        assert_eq!(outcome.code, &COMPARE_TOO_FEW_REQUESTS);
        let mut seen = seen.lock().expect("lock").clone();
        seen.sort();
        let window = (
            Some(60),
            Some(DEPLOYMENT_STARTED - 3600),
            Some(STARTED + 480),
        );
        let expected: Vec<_> = [
            "HTTPCode_Target_5XX_Count",
            "HTTPCode_Target_5XX_Count",
            "RequestCount",
            "RequestCount",
            "TargetConnectionErrorCount",
            "TargetConnectionErrorCount",
        ]
        .into_iter()
        .map(|name| (name.to_owned(), window.0, window.1, window.2))
        .collect();
        assert_eq!(seen, expected);
    }

    /// Per-minute `TargetResponseTime` of each side: `requests` a minute (green from the
    /// deployment's start, blue always, or from `blue_from`), and the percentage at or below the
    /// threshold; blue's p99 over any longer window is 200 ms.
    fn response_times(
        green: (f64, f64),
        blue: (f64, f64),
        blue_from: u64,
    ) -> aws_smithy_mocks::Rule {
        per_period(move |metric, stat, side, start, period| {
            if metric != TARGET_RESPONSE_TIME {
                return None;
            }
            let (requests, at_or_below) = match side {
                "green" if start >= DEPLOYMENT_STARTED => green,
                "blue" if start >= blue_from => blue,
                "blue" if period > 60 && start + period > blue_from => blue,
                _ => return None,
            };
            // Blue's minutes in the period.
            let minutes = ((start + period).saturating_sub(start.max(blue_from)) / 60) as f64;
            match stat {
                "SampleCount" => Some(requests * minutes),
                "p99" => Some(0.2),
                rank if rank.starts_with("PR(:") => Some(at_or_below),
                _ => None,
            }
        })
    }

    #[tokio::test(start_paused = true)]
    async fn a_doubled_slow_tail_is_counted_from_percentile_ranks() {
        let rule = response_times((3000.0, 98.0), (3000.0, 99.0), 0);
        let outcome = run(latency(), client(&[&rule]), facts(Some(BLUE_TG))).await;
        assert_eq!(outcome.code, &COMPARE_LATENCY_HIGHER, "{}", outcome.message);
        assert!(
            outcome.message.starts_with(
                "slower than 200ms (blue's p99 over 2027-01-15T06:55:00Z/2027-01-15T07:55:00Z)"
            ),
            "{}",
            outcome.message
        );
        let green = outcome
            .evidence
            .iter()
            .find(|e| e.measured.starts_with("green slow share"))
            .expect("green's share");
        assert_eq!(green.value["slow_percent"], json!(2.0));
        assert_eq!(green.value["slow_requests"], json!(8 * 60));
        let threshold = outcome
            .evidence
            .iter()
            .find(|e| e.measured == "slow threshold")
            .expect("the threshold");
        assert_eq!(threshold.value["threshold_ms"], json!(200.0));
        assert_eq!(threshold.samples, Some(180_000));
        let shown = outcome
            .evidence
            .iter()
            .find(|e| {
                e.measured
                    .starts_with("blue TargetResponseTime p99 (for people")
            })
            .expect("blue's percentile for people");
        assert_eq!(shown.value["latency_ms"], json!(200.0));
        // The stage's batch (the percentiles shown), the threshold, the per-minute ranks.
        assert_eq!(rule.num_calls(), 3);

        let equal = response_times((3000.0, 99.0), (3000.0, 99.0), 0);
        let outcome = run(latency(), client(&[&equal]), facts(Some(BLUE_TG))).await;
        assert_eq!(outcome.code, &COMPARE_NOT_WORSE, "{}", outcome.message);
    }

    #[tokio::test(start_paused = true)]
    async fn requests_without_a_rank_are_not_judged() {
        // Green's ranks are not published (yet): its requests must not read as all fast.
        let rule = per_period(
            |metric, stat, side, _start, period| match (metric, stat, side) {
                (TARGET_RESPONSE_TIME, "SampleCount", _) => Some(3000.0 * (period / 60) as f64),
                (TARGET_RESPONSE_TIME, "p99", _) => Some(0.2),
                (TARGET_RESPONSE_TIME, rank, "blue") if rank.starts_with("PR(") => Some(99.0),
                _ => None,
            },
        );
        let outcome = run(latency(), client(&[&rule]), facts(Some(BLUE_TG))).await;
        assert_eq!(outcome.code, &COMPARE_NO_DATA, "{}", outcome.message);
        assert_eq!(outcome.status, Status::Inconclusive);
        assert!(
            outcome.message.contains(
                "green's TargetResponseTime has requests but no percentile rank in 8 of its 8 minutes"
            ),
            "{}",
            outcome.message
        );
    }

    #[tokio::test(start_paused = true)]
    async fn latency_queries_rank_at_the_threshold_per_minute() {
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let recorded = Arc::clone(&seen);
        let rule = mock!(Client::get_metric_data).then_compute_output(move |input| {
            for query in input.metric_data_queries() {
                let stat = query.metric_stat().expect("a metric stat");
                recorded.lock().expect("lock").push((
                    stat.stat().unwrap_or_default().to_owned(),
                    stat.period(),
                    input.start_time().map(|t| t.secs() as u64),
                ));
            }
            aws_sdk_cloudwatch::operation::get_metric_data::GetMetricDataOutput::builder().build()
        });
        let mut params = latency();
        params.slow_above = Some(greenlight_core::document::values::HumanDuration(
            Duration::from_millis(250),
        ));
        let outcome = run(params, client(&[&rule]), facts(Some(BLUE_TG))).await;
        assert_eq!(
            outcome.code, &COMPARE_TOO_FEW_REQUESTS,
            "{}",
            outcome.message
        );
        let mut seen = seen.lock().expect("lock").clone();
        seen.sort();
        let from = Some(DEPLOYMENT_STARTED - 3600);
        assert_eq!(
            seen,
            vec![
                ("PR(:0.25)".to_owned(), Some(60), from),
                ("PR(:0.25)".to_owned(), Some(60), from),
                ("SampleCount".to_owned(), Some(60), from),
                ("SampleCount".to_owned(), Some(60), from),
                ("p99".to_owned(), Some(600), Some(STARTED)),
                ("p99".to_owned(), Some(600), Some(STARTED)),
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_threshold_falls_back_to_blue_before_the_stage_then_to_no_baseline() {
        // Blue has no minutes before the deployment; its five minutes before the stage set the
        // threshold (15,000 requests).
        let rule = response_times((3000.0, 98.0), (3000.0, 99.0), DEPLOYMENT_STARTED);
        let outcome = run(latency(), client(&[&rule]), facts(Some(BLUE_TG))).await;
        assert_eq!(outcome.code, &COMPARE_LATENCY_HIGHER, "{}", outcome.message);
        assert!(
            outcome
                .message
                .contains("over 2027-01-15T06:55:00Z/2027-01-15T08:00:00Z"),
            "{}",
            outcome.message
        );
        // A quiet blue: 500 requests before the stage cannot set a p99.
        let quiet = response_times((100.0, 98.0), (100.0, 99.0), DEPLOYMENT_STARTED);
        let outcome = run(latency(), client(&[&quiet]), facts(Some(BLUE_TG))).await;
        assert_eq!(outcome.code, &COMPARE_NO_BASELINE, "{}", outcome.message);
        assert!(outcome.not_applicable);
        assert!(
            outcome.message.contains("blue served 500 requests"),
            "{}",
            outcome.message
        );
    }

    #[tokio::test(start_paused = true)]
    async fn no_blue_target_group_is_no_baseline_and_asks_nothing() {
        let rule = traffic((1000.0, 0.0, 0.2), (1000.0, 0.0, 0.2));
        let outcome = run(error_rate(), client(&[&rule]), facts(None)).await;
        assert_eq!(outcome.code, &COMPARE_NO_BASELINE);
        assert_eq!(rule.num_calls(), 0);
        let outcome = run(error_rate(), client(&[&rule]), facts(Some(GREEN_TG))).await;
        assert_eq!(outcome.code, &COMPARE_NO_BASELINE);
        assert!(
            outcome.message.contains("same target group"),
            "{}",
            outcome.message
        );

        let mut no_green = StaticFacts::new(crate::checks::metric_data::tests::service());
        no_green.routing = Ok(Arc::new(greenlight_core::facts::RoutingFacts {
            green_target_group: None,
            blue_target_group: Some(BLUE_TG.into()),
            load_balancer_arn: None,
            production_rule: None,
            test_rule: None,
            test_endpoint: None,
        }));
        let outcome = run(error_rate(), client(&[&rule]), Arc::new(no_green)).await;
        assert_eq!(outcome.code, &FACT_NOT_READY);
        assert!(
            outcome.message.contains("green's target group"),
            "{}",
            outcome.message
        );
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_then_success_and_throttled_throughout() {
        let recovering = mock!(Client::get_metric_data)
            .sequence()
            .error(throttling)
            .output(|| {
                aws_sdk_cloudwatch::operation::get_metric_data::GetMetricDataOutput::builder()
                    .build()
            })
            .build();
        let outcome = run(error_rate(), client(&[&recovering]), facts(Some(BLUE_TG))).await;
        assert_eq!(
            outcome.code, &COMPARE_TOO_FEW_REQUESTS,
            "{}",
            outcome.message
        );
        assert_eq!(recovering.num_calls(), 2);

        let throttled = mock!(Client::get_metric_data)
            .sequence()
            .error(throttling)
            .times(3)
            .build();
        let outcome = run(error_rate(), client(&[&throttled]), facts(Some(BLUE_TG))).await;
        assert_eq!(outcome.code, &AWS_THROTTLED);
        assert_eq!(outcome.error_class, Some(ErrorClass::Transient));
        assert_eq!(throttled.num_calls(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn access_denied_is_permanent() {
        let rule = mock!(Client::get_metric_data).then_error(|| {
            GetMetricDataError::generic(
                ErrorMetadata::builder()
                    .code("AccessDeniedException")
                    .message("not authorized")
                    .build(),
            )
        });
        let outcome = run(error_rate(), client(&[&rule]), facts(Some(BLUE_TG))).await;
        assert_eq!(outcome.code, &AWS_ACCESS_DENIED);
        assert!(
            outcome.message.contains("cloudwatch:GetMetricData"),
            "{}",
            outcome.message
        );
    }

    /// The stage's two metric checks and the latency comparison's percentiles for people share one
    /// `GetMetricData` call; the per-minute window of the error-rate comparison and of the latency
    /// comparison's ranks at its `slow_above` is a second.
    #[tokio::test(start_paused = true)]
    async fn a_stage_with_two_metric_and_two_compare_checks_makes_two_calls() {
        let rule = answer(|metric, _stat, target_group| match (metric, target_group) {
            (REQUEST_COUNT, Some(_)) => vec![1000.0],
            (TARGET_RESPONSE_TIME, Some(_)) => vec![0.2],
            ("CPUUtilization", None) => vec![40.0, 45.0, 50.0],
            _ => Vec::new(),
        });
        let metric_data = Arc::new(MetricData::new(client(&[&rule])));
        let facts: Arc<dyn Facts> = facts(Some(BLUE_TG));
        let metric = |name: &str, dimensions: &[(&str, &str)], max: f64| {
            greenlight_core::checks::MetricParams {
                namespace: "AWS/ECS".into(),
                name: name.into(),
                stat: "Average".parse().expect("a statistic"),
                dimensions: dimensions
                    .iter()
                    .map(|(n, v)| ((*n).to_owned(), v.parse().expect("a template")))
                    .collect(),
                period: Duration::from_secs(60),
                min: None,
                max: Some(max),
                min_datapoints: 1,
                max_age: None,
                treat_missing: Default::default(),
                compare_to: None,
                max_ratio: None,
                max_increase: None,
            }
        };
        let checks: Vec<Box<dyn Check>> = vec![
            Box::new(MetricCheck::new(
                metric(
                    "CPUUtilization",
                    &[("ClusterName", "{cluster}"), ("ServiceName", "{service}")],
                    80.0,
                ),
                Arc::clone(&facts),
                Arc::clone(&metric_data),
            )),
            Box::new(MetricCheck::new(
                metric(
                    "MemoryUtilization",
                    &[("ClusterName", "{cluster}"), ("ServiceName", "{service}")],
                    80.0,
                ),
                Arc::clone(&facts),
                Arc::clone(&metric_data),
            )),
            Box::new(CompareCheck::new(
                error_rate(),
                Arc::clone(&facts),
                Arc::clone(&metric_data),
            )),
            Box::new(CompareCheck::new(
                CompareParams {
                    slow_above: Some(greenlight_core::document::values::HumanDuration(
                        Duration::from_millis(500),
                    )),
                    ..latency()
                },
                Arc::clone(&facts),
                Arc::clone(&metric_data),
            )),
        ];
        let view = stage(10);
        let outcomes = futures::future::join_all(checks.iter().map(|check| check.run(&view))).await;
        let codes: Vec<&str> = outcomes.iter().map(|o| o.code.code).collect();
        assert_eq!(
            codes,
            vec![
                "METRIC_WITHIN_BOUNDS",
                "METRIC_NO_DATA",
                // One minute of requests an hour before the deployment: nothing in the stage.
                "COMPARE_TOO_FEW_REQUESTS",
                // The mock answers 0.2 to every response-time statistic: 0.2 requests a minute.
                "COMPARE_TOO_FEW_REQUESTS"
            ]
        );
        assert_eq!(
            rule.num_calls(),
            2,
            "one GetMetricData call for the stage's window, one for the per-minute window the error-rate comparison and the latency comparison's ranks at `slow_above` share"
        );
    }

    #[test]
    fn split_windows_weigh_percentiles_by_requests() {
        let window = MetricWindow::for_stage(at(STARTED), at(STARTED + 600));
        let series = |values: &[f64]| MetricSeries {
            query: MetricQuery {
                namespace: NAMESPACE.into(),
                metric_name: TARGET_RESPONSE_TIME.into(),
                dimensions: Vec::new(),
                stat: "p99".into(),
                period: Duration::from_secs(300),
            },
            window,
            datapoints: values
                .iter()
                .enumerate()
                .map(|(i, value)| Datapoint {
                    at: at(STARTED + 300 * i as u64),
                    value: *value,
                })
                .collect(),
        };
        assert_eq!(window_latency(&series(&[]), &series(&[])), None);
        assert_eq!(window_latency(&series(&[0.3]), &series(&[10.0])), Some(0.3));
        let weighted = window_latency(&series(&[0.1, 0.4]), &series(&[300.0, 100.0]));
        assert!(
            weighted.is_some_and(|v| (v - 0.175).abs() < 1e-9),
            "{weighted:?}"
        );
        assert_eq!(whole_count(999.6), 1000);
        assert_eq!(whole_count(f64::NAN), 0);
    }
}
