//! All CloudWatch metric queries of a stage, fetched with as few `GetMetricData` calls as possible.
//!
//! Every `metric` and `compare` check of a plan registers its queries here when it is built
//! ([`MetricData::register`]), before any check runs. The first check to need its datapoints
//! ([`MetricData::series`]) fetches every registered query at once; the others wait for that fetch
//! and read its memoized results. So a stage with any number of metric checks makes one
//! `GetMetricData` call (one per 500 distinct queries, plus the pages CloudWatch splits a large
//! answer into), and identical queries of different checks (`RequestCount` of green's target group
//! for an `error_rate` and a `latency` comparison) are asked once.
//!
//! Dimensions may name deployment facts (`{green.target_group}`); they are rendered at fetch time
//! from the invocation's facts, which the fetching check passes in. A query whose placeholder has
//! no value is left out of the call and answers [`SeriesError::Unresolved`]; a failed call
//! answers every query with the same [`FactError`], memoized too, so a throttled API is asked
//! once per invocation, not once per check.
//!
//! The window is the stage's ([`MetricWindow::for_stage`]): every check of a stage runs with the
//! same `started_at` and `now`, so one fetch serves them all. A caller with a different window (or
//! a query registered after the fetch) triggers a new fetch rather than reading the wrong data.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_sdk_cloudwatch::types::{
    Dimension, Metric, MetricDataQuery, MetricDataResult, MetricStat, ScanBy, StatusCode,
};
use aws_smithy_types::DateTime;
use greenlight_core::checks::metric::{
    Datapoint, MetricQuery, MetricSeries, MetricWindow, PlaceholderValues, dimension_unresolved,
    needs_routing, render_dimensions,
};
use greenlight_core::document::values::{DimensionTemplate, Placeholder};
use greenlight_core::engine::StageView;
use greenlight_core::facts::{FactError, Facts};
use greenlight_core::outcome::Outcome;

use crate::error::classify;

/// The IAM action of every call made here.
pub const ACTION: &str = "cloudwatch:GetMetricData";

/// At most this many pages for one batch of queries over one window.
const MAX_PAGES: usize = 20;
/// `GetMetricData` takes at most this many queries per call.
const MAX_QUERIES_PER_CALL: usize = 500;

/// A whole-window period is at least a minute (a multiple of 60 seconds, as CloudWatch requires).
const MINUTE: Duration = Duration::from_secs(60);

/// The period of a query's datapoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryPeriod {
    /// One datapoint per this period.
    Fixed(Duration),
    /// One datapoint for the whole window: the statistic over every sample in it (a percentile of
    /// all requests, not an average of per-minute percentiles).
    WholeWindow,
    /// One datapoint per this period over a window the check chooses ([`MetricData::series_over`]),
    /// such as the hour before the deployment as well as the stage: fetched together with every
    /// other query registered this way, apart from the stage's own window.
    OwnWindow(Duration),
}

/// A query as a check registers it: its dimensions may still name deployment facts.
#[derive(Debug, Clone, PartialEq)]
pub struct QuerySpec {
    /// The namespace (`AWS/ApplicationELB`).
    pub namespace: String,
    /// The metric name (`RequestCount`).
    pub metric_name: String,
    /// Dimension names and values, which may name placeholders.
    pub dimensions: BTreeMap<String, DimensionTemplate>,
    /// The statistic as CloudWatch spells it (`Sum`, `p99`, `tm90`).
    pub stat: String,
    /// The period of its datapoints.
    pub period: QueryPeriod,
}

impl QuerySpec {
    /// The query as written, for messages before its dimensions are rendered.
    pub fn describe(&self) -> String {
        let dimensions: Vec<String> = self
            .dimensions
            .iter()
            .map(|(name, value)| format!("{name}={}", value.as_str()))
            .collect();
        format!(
            "{} {} {} ({})",
            self.namespace,
            self.metric_name,
            self.stat,
            dimensions.join(", ")
        )
    }
}

/// Identifies a registered query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QueryHandle(usize);

/// Why a query has no series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeriesError {
    /// A fact or the call failed (throttled, denied, unavailable).
    Fact(FactError),
    /// A dimension names a placeholder the deployment has no value for.
    Unresolved(Placeholder),
}

impl SeriesError {
    /// The outcome of a check that could not get its series; `query` describes it.
    pub fn to_outcome(&self, query: &str) -> Outcome {
        match self {
            SeriesError::Fact(error) => error.to_outcome(),
            SeriesError::Unresolved(placeholder) => dimension_unresolved(query, *placeholder),
        }
    }
}

/// Which specs one fetch sends.
#[derive(Debug, Clone, Copy)]
enum Batch {
    /// The registered queries over the stage's window.
    Stage,
    /// The registered queries over a check's own window.
    OwnWindow,
    /// Every spec given, whatever its period.
    Given,
}

/// What one fetch produced, per registered query.
struct Fetched {
    window: MetricWindow,
    results: Vec<Result<MetricSeries, SeriesError>>,
}

/// The stage's metric queries and their memoized results.
pub struct MetricData {
    cloudwatch: aws_sdk_cloudwatch::Client,
    specs: Mutex<Vec<QuerySpec>>,
    fetched: tokio::sync::Mutex<Option<Arc<Fetched>>>,
    fetched_over: tokio::sync::Mutex<Option<Arc<Fetched>>>,
}

impl std::fmt::Debug for MetricData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricData")
            .field("queries", &self.specs().len())
            .finish_non_exhaustive()
    }
}

impl MetricData {
    /// An empty set of queries, fetched with `cloudwatch`.
    pub fn new(cloudwatch: aws_sdk_cloudwatch::Client) -> Self {
        MetricData {
            cloudwatch,
            specs: Mutex::new(Vec::new()),
            fetched: tokio::sync::Mutex::new(None),
            fetched_over: tokio::sync::Mutex::new(None),
        }
    }

    fn specs(&self) -> std::sync::MutexGuard<'_, Vec<QuerySpec>> {
        // A panic while pushing a spec cannot leave the list half-written.
        self.specs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers a query, to be fetched with every other query of the stage.
    pub fn register(&self, spec: QuerySpec) -> QueryHandle {
        let mut specs = self.specs();
        specs.push(spec);
        QueryHandle(specs.len() - 1)
    }

    /// The series of a registered query over the stage's window. The first caller fetches every
    /// registered query; concurrent callers wait for that fetch.
    pub async fn series(
        &self,
        handle: QueryHandle,
        facts: &dyn Facts,
        stage: &StageView,
    ) -> Result<MetricSeries, SeriesError> {
        let window = MetricWindow::for_stage(stage.started_at, stage.now);
        self.memoized(&self.fetched, handle, facts, window, Batch::Stage)
            .await
    }

    /// The series of a query registered with [`QueryPeriod::OwnWindow`] over `window`. Every such
    /// query is fetched at once; callers asking for the same window share the fetch.
    pub async fn series_over(
        &self,
        handle: QueryHandle,
        facts: &dyn Facts,
        window: MetricWindow,
    ) -> Result<MetricSeries, SeriesError> {
        self.memoized(&self.fetched_over, handle, facts, window, Batch::OwnWindow)
            .await
    }

    /// Asks for `specs` over `window` now, in one call, unregistered and unmemoized: for queries
    /// whose statistic depends on an earlier answer (a latency comparison's `PR(:threshold)`,
    /// where the threshold is blue's percentile). The series come back in the order given.
    pub async fn fetch_now(
        &self,
        specs: &[QuerySpec],
        facts: &dyn Facts,
        window: MetricWindow,
    ) -> Result<Vec<MetricSeries>, SeriesError> {
        self.fetch(specs, window, facts, Batch::Given)
            .await
            .results
            .into_iter()
            .collect()
    }

    async fn memoized(
        &self,
        slot: &tokio::sync::Mutex<Option<Arc<Fetched>>>,
        handle: QueryHandle,
        facts: &dyn Facts,
        window: MetricWindow,
        batch: Batch,
    ) -> Result<MetricSeries, SeriesError> {
        let mut memo = slot.lock().await;
        if let Some(fetched) = memo.as_ref()
            && fetched.window == window
            && let Some(result) = fetched.results.get(handle.0)
        {
            return result.clone();
        }
        let specs = self.specs().clone();
        let fetched = Arc::new(self.fetch(&specs, window, facts, batch).await);
        *memo = Some(Arc::clone(&fetched));
        drop(memo);
        fetched.results.get(handle.0).cloned().unwrap_or_else(|| {
            Err(SeriesError::Fact(FactError::Unexpected {
                action: ACTION.to_owned(),
                message: "a metric query was asked for that was never registered".to_owned(),
            }))
        })
    }

    /// Renders every spec, asks CloudWatch for the distinct queries, and maps the answers back.
    /// Only the specs of the batch asked for are sent; the others answer an error saying they
    /// were asked over the wrong window.
    async fn fetch(
        &self,
        specs: &[QuerySpec],
        window: MetricWindow,
        facts: &dyn Facts,
        batch: Batch,
    ) -> Fetched {
        let included = |spec: &QuerySpec| match batch {
            Batch::Given => true,
            Batch::Stage => !matches!(spec.period, QueryPeriod::OwnWindow(_)),
            Batch::OwnWindow => matches!(spec.period, QueryPeriod::OwnWindow(_)),
        };
        let routing = if specs
            .iter()
            .any(|spec| included(spec) && needs_routing(&spec.dimensions))
        {
            Some(facts.routing().await)
        } else {
            None
        };
        let values = PlaceholderValues::from_facts(
            facts.service(),
            routing
                .as_ref()
                .and_then(|routing| routing.as_ref().ok())
                .map(|r| r.as_ref()),
        );

        // Each spec's rendered query (or why it has none), and the distinct queries to ask.
        let mut distinct: Vec<MetricQuery> = Vec::new();
        let mut index_of: HashMap<MetricQuery, usize> = HashMap::new();
        let rendered: Vec<Result<usize, SeriesError>> = specs
            .iter()
            .map(|spec| {
                if !included(spec) {
                    return Err(SeriesError::Fact(FactError::Unexpected {
                        action: ACTION.to_owned(),
                        message: format!(
                            "{} was asked for over another window than it was registered for",
                            spec.describe()
                        ),
                    }));
                }
                if needs_routing(&spec.dimensions)
                    && let Some(Err(error)) = &routing
                {
                    return Err(SeriesError::Fact(error.clone()));
                }
                let dimensions = render_dimensions(&spec.dimensions, &values)
                    .map_err(SeriesError::Unresolved)?;
                let query = MetricQuery {
                    namespace: spec.namespace.clone(),
                    metric_name: spec.metric_name.clone(),
                    dimensions,
                    stat: spec.stat.clone(),
                    period: match spec.period {
                        QueryPeriod::Fixed(period) | QueryPeriod::OwnWindow(period) => period,
                        QueryPeriod::WholeWindow => whole_window_period(window),
                    },
                };
                let next = distinct.len();
                let index = *index_of.entry(query.clone()).or_insert(next);
                if index == next {
                    distinct.push(query);
                }
                Ok(index)
            })
            .collect();

        let answers: Result<Vec<Vec<Datapoint>>, FactError> = if window.is_empty() {
            // Nothing whole to ask for yet: every series is empty, and no call is made.
            Ok(vec![Vec::new(); distinct.len()])
        } else {
            self.get_metric_data(&distinct, window).await
        };
        let results = rendered
            .into_iter()
            .map(|rendered| {
                let index = rendered?;
                let datapoints = match &answers {
                    Ok(answers) => answers.get(index).cloned().unwrap_or_default(),
                    Err(error) => return Err(SeriesError::Fact(error.clone())),
                };
                Ok(MetricSeries {
                    query: distinct[index].clone(),
                    window,
                    datapoints,
                })
            })
            .collect();
        Fetched { window, results }
    }

    /// Asks for `queries` in calls of at most 500, concurrently, following each call's pages.
    /// Returns the datapoints of each query, in the order given.
    async fn get_metric_data(
        &self,
        queries: &[MetricQuery],
        window: MetricWindow,
    ) -> Result<Vec<Vec<Datapoint>>, FactError> {
        let calls = queries
            .chunks(MAX_QUERIES_PER_CALL)
            .enumerate()
            .map(|(chunk, batch)| self.get_batch(chunk * MAX_QUERIES_PER_CALL, batch, window));
        let mut datapoints = Vec::with_capacity(queries.len());
        for batch in futures::future::try_join_all(calls).await? {
            datapoints.extend(batch);
        }
        Ok(datapoints)
    }

    /// One call (and its pages) for up to 500 queries; ids are `q<index>` over all queries.
    async fn get_batch(
        &self,
        first_index: usize,
        batch: &[MetricQuery],
        window: MetricWindow,
    ) -> Result<Vec<Vec<Datapoint>>, FactError> {
        let ids: Vec<String> = (0..batch.len())
            .map(|offset| format!("q{}", first_index + offset))
            .collect();
        let requests: Vec<MetricDataQuery> = batch
            .iter()
            .zip(&ids)
            .map(|(query, id)| to_request(id, query))
            .collect();
        let mut by_id: HashMap<String, Vec<Datapoint>> = HashMap::new();
        let mut next_token: Option<String> = None;
        let mut pages = 0usize;
        loop {
            pages += 1;
            if pages > MAX_PAGES {
                // A window's worth of datapoints fits in a few pages; past this bound something
                // else is wrong, and judging part of the window could miss the bad minutes.
                return Err(FactError::Unexpected {
                    action: ACTION.to_owned(),
                    message: format!(
                        "GetMetricData kept paging past {MAX_PAGES} pages for one window; shorten the window or raise the period"
                    ),
                });
            }
            let output = self
                .cloudwatch
                .get_metric_data()
                .set_metric_data_queries(Some(requests.clone()))
                .start_time(DateTime::from(window.start))
                .end_time(DateTime::from(window.end))
                .scan_by(ScanBy::TimestampAscending)
                .set_next_token(next_token.take())
                .send()
                .await
                .map_err(|error| classify(&error, ACTION, "*", &[]))?;
            for result in output.metric_data_results() {
                let Some(id) = result.id() else { continue };
                let query = ids
                    .iter()
                    .position(|known| known == id)
                    .and_then(|position| batch.get(position));
                check_status(result, query)?;
                by_id
                    .entry(id.to_owned())
                    .or_default()
                    .extend(datapoints(result));
            }
            match output.next_token() {
                Some(token) if !token.is_empty() => next_token = Some(token.to_owned()),
                _ => break,
            }
        }
        Ok(ids
            .iter()
            .map(|id| {
                let mut points = by_id.remove(id).unwrap_or_default();
                points.sort_by_key(|point| point.at);
                points
            })
            .collect())
    }
}

/// The period of a whole-window query: the window's length, in whole minutes (at least one).
fn whole_window_period(window: MetricWindow) -> Duration {
    let minutes = window.duration().as_secs() / MINUTE.as_secs();
    MINUTE * u32::try_from(minutes.max(1)).unwrap_or(u32::MAX)
}

fn to_request(id: &str, query: &MetricQuery) -> MetricDataQuery {
    let dimensions: Vec<Dimension> = query
        .dimensions
        .iter()
        .map(|(name, value)| Dimension::builder().name(name).value(value).build())
        .collect();
    let metric = Metric::builder()
        .namespace(&query.namespace)
        .metric_name(&query.metric_name)
        .set_dimensions(Some(dimensions))
        .build();
    MetricDataQuery::builder()
        .id(id)
        .metric_stat(
            MetricStat::builder()
                .metric(metric)
                .period(i32::try_from(query.period.as_secs()).unwrap_or(i32::MAX))
                .stat(&query.stat)
                .build(),
        )
        .return_data(true)
        .build()
}

/// A query CloudWatch could not answer fails the fetch like a failed call would: `Forbidden` is
/// a missing permission (cross-account metrics), `InternalError` an outage.
fn check_status(result: &MetricDataResult, query: Option<&MetricQuery>) -> Result<(), FactError> {
    let detail = || {
        let messages: Vec<String> = result
            .messages()
            .iter()
            .filter_map(|message| message.value().map(str::to_owned))
            .collect();
        let query = query.map(ToString::to_string).unwrap_or_default();
        if messages.is_empty() {
            query
        } else {
            format!("{query}: {}", messages.join("; "))
        }
    };
    match result.status_code() {
        Some(StatusCode::Forbidden) => Err(FactError::AccessDenied {
            action: ACTION.to_owned(),
            resource: query.map_or_else(
                || "*".to_owned(),
                |q| format!("{}/{}", q.namespace, q.metric_name),
            ),
            message: detail(),
        }),
        Some(StatusCode::InternalError) => Err(FactError::Unavailable {
            action: ACTION.to_owned(),
            message: format!("CloudWatch could not answer {}", detail()),
        }),
        _ => Ok(()),
    }
}

fn datapoints(result: &MetricDataResult) -> Vec<Datapoint> {
    result
        .timestamps()
        .iter()
        .zip(result.values())
        .filter_map(|(at, value)| {
            let at = SystemTime::try_from(*at).ok()?;
            Some(Datapoint { at, value: *value })
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Arc;

    use aws_sdk_cloudwatch::Client;
    use aws_sdk_cloudwatch::error::ErrorMetadata;
    use aws_sdk_cloudwatch::operation::get_metric_data::{GetMetricDataError, GetMetricDataOutput};
    use aws_sdk_cloudwatch::types::MessageData;
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
    use aws_smithy_types::retry::RetryConfig;
    use greenlight_core::engine::state::CheckMemory;
    use greenlight_core::facts::{RoutingFacts, ServiceIdentity, StaticFacts};
    use greenlight_core::stage::StageKey;

    use super::*;

    pub(crate) const GREEN_TG: &str =
        "arn:aws:elasticloadbalancing:us-east-1:111122223333:targetgroup/web-b/0000000000000002";
    pub(crate) const BLUE_TG: &str =
        "arn:aws:elasticloadbalancing:us-east-1:111122223333:targetgroup/web-a/0000000000000001";
    pub(crate) const LOAD_BALANCER: &str =
        "arn:aws:elasticloadbalancing:us-east-1:111122223333:loadbalancer/app/web/00000000000000ff";
    /// The stage started here (a whole minute), and is judged ten minutes later.
    pub(crate) const STARTED: u64 = 1_800_000_000;

    pub(crate) fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)
    }

    pub(crate) fn stage(minutes: u64) -> StageView {
        StageView {
            key: StageKey::new("deployment-1", "PRODUCTION_TRAFFIC_SHIFT", Some("100")),
            started_at: at(STARTED),
            now: at(STARTED + 60 * minutes),
            attempt: 1,
            memory: CheckMemory::default(),
            horizon: None,
        }
    }

    pub(crate) fn service() -> ServiceIdentity {
        ServiceIdentity {
            partition: "aws".into(),
            region: "us-east-1".into(),
            account: "111122223333".into(),
            cluster: "prod".into(),
            service: "web".into(),
            service_arn: "arn:aws:ecs:us-east-1:111122223333:service/prod/web".into(),
        }
    }

    pub(crate) fn facts(blue: Option<&str>) -> Arc<StaticFacts> {
        let mut facts = StaticFacts::new(service());
        facts.routing = Ok(Arc::new(RoutingFacts {
            green_target_group: Some(GREEN_TG.into()),
            blue_target_group: blue.map(str::to_owned),
            load_balancer_arn: Some(LOAD_BALANCER.into()),
            production_rule: None,
            test_rule: None,
            test_endpoint: None,
        }));
        Arc::new(facts)
    }

    /// A client whose calls hit `rules`, with up to three attempts; tests pause tokio's clock, so
    /// the backoff between attempts takes no real time.
    pub(crate) fn client(rules: &[&Rule]) -> Client {
        mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, rules, |config| {
            config.retry_config(RetryConfig::standard().with_max_attempts(3))
        })
    }

    pub(crate) fn throttling() -> GetMetricDataError {
        GetMetricDataError::generic(
            ErrorMetadata::builder()
                .code("Throttling")
                .message("Rate exceeded")
                .build(),
        )
    }

    pub(crate) fn dimension<'a>(query: &'a MetricDataQuery, name: &str) -> Option<&'a str> {
        query
            .metric_stat()?
            .metric()?
            .dimensions()
            .iter()
            .find(|d| d.name() == Some(name))?
            .value()
    }

    /// Answers every query of a request: `values` picks the datapoints (one a minute from the
    /// window's start) by metric name, stat and `TargetGroup` dimension.
    pub(crate) fn answer(
        values: impl Fn(&str, &str, Option<&str>) -> Vec<f64> + Send + Sync + 'static,
    ) -> Rule {
        mock!(Client::get_metric_data).then_compute_output(move |input| {
            let start = input.start_time().copied().expect("a start time");
            let start = SystemTime::try_from(start).expect("a valid start");
            let results = input
                .metric_data_queries()
                .iter()
                .map(|query| {
                    let stat = query.metric_stat().expect("a metric stat");
                    let name = stat
                        .metric()
                        .and_then(|m| m.metric_name())
                        .unwrap_or_default();
                    let picked = values(
                        name,
                        stat.stat().unwrap_or_default(),
                        dimension(query, "TargetGroup"),
                    );
                    MetricDataResult::builder()
                        .id(query.id().unwrap_or_default())
                        .set_timestamps(Some(
                            (0..picked.len())
                                .map(|i| DateTime::from(start + Duration::from_secs(60 * i as u64)))
                                .collect(),
                        ))
                        .set_values(Some(picked))
                        .status_code(StatusCode::Complete)
                        .build()
                })
                .collect();
            GetMetricDataOutput::builder()
                .set_metric_data_results(Some(results))
                .build()
        })
    }

    fn spec(metric_name: &str, dimensions: &[(&str, &str)]) -> QuerySpec {
        QuerySpec {
            namespace: "App".into(),
            metric_name: metric_name.into(),
            dimensions: dimensions
                .iter()
                .map(|(name, value)| ((*name).to_owned(), value.parse().expect("a template")))
                .collect(),
            stat: "Sum".into(),
            period: QueryPeriod::Fixed(Duration::from_secs(60)),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn identical_queries_are_asked_once_with_placeholders_rendered() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&seen);
        let rule = mock!(Client::get_metric_data).then_compute_output(move |input| {
            recorded
                .lock()
                .expect("lock")
                .push(input.metric_data_queries().to_vec());
            GetMetricDataOutput::builder().build()
        });
        let data = MetricData::new(client(&[&rule]));
        let first = data.register(spec("Jobs", &[("Service", "{cluster}/{service}")]));
        let second = data.register(spec("Jobs", &[("Service", "{cluster}/{service}")]));
        let third = data.register(spec("Jobs", &[("TargetGroup", "{green.target_group}")]));
        let facts = facts(None);
        for handle in [first, second, third] {
            let series = data
                .series(handle, facts.as_ref(), &stage(10))
                .await
                .expect("series");
            assert!(series.datapoints.is_empty());
            assert_eq!(
                series.window,
                MetricWindow::for_stage(at(STARTED), at(STARTED + 600))
            );
        }
        assert_eq!(rule.num_calls(), 1);
        let calls = seen.lock().expect("lock");
        let queries = &calls[0];
        assert_eq!(queries.len(), 2, "{queries:?}");
        assert_eq!(queries[0].id(), Some("q0"));
        assert_eq!(dimension(&queries[0], "Service"), Some("prod/web"));
        assert_eq!(
            dimension(&queries[1], "TargetGroup"),
            Some("targetgroup/web-b/0000000000000002")
        );
        assert_eq!(queries[1].metric_stat().and_then(|s| s.period()), Some(60));
    }

    #[tokio::test(start_paused = true)]
    async fn more_than_500_queries_take_two_calls() {
        let rule = answer(|_, _, _| vec![1.0]);
        let data = MetricData::new(client(&[&rule]));
        let handles: Vec<QueryHandle> = (0..501)
            .map(|i| data.register(spec(&format!("Metric{i}"), &[])))
            .collect();
        let facts = facts(None);
        for handle in &handles {
            let series = data
                .series(*handle, facts.as_ref(), &stage(10))
                .await
                .expect("series");
            assert_eq!(series.datapoints.len(), 1);
        }
        assert_eq!(rule.num_calls(), 2);
        let last = data
            .series(handles[500], facts.as_ref(), &stage(10))
            .await
            .expect("series");
        assert_eq!(last.query.metric_name, "Metric500");
    }

    #[tokio::test(start_paused = true)]
    async fn pages_are_followed_and_merged() {
        let page = |token: Option<&str>, minute: u64, value: f64| {
            let token = token.map(str::to_owned);
            move || {
                GetMetricDataOutput::builder()
                    .metric_data_results(
                        MetricDataResult::builder()
                            .id("q0")
                            .timestamps(DateTime::from(at(STARTED + 60 * minute)))
                            .values(value)
                            .status_code(StatusCode::PartialData)
                            .build(),
                    )
                    .set_next_token(token.clone())
                    .build()
            }
        };
        let rule = mock!(Client::get_metric_data)
            .match_requests(|input| input.next_token().is_none())
            .then_output(page(Some("page-2"), 1, 2.0));
        let second = mock!(Client::get_metric_data)
            .match_requests(|input| input.next_token() == Some("page-2"))
            .then_output(page(None, 0, 1.0));
        let data = MetricData::new(client(&[&rule, &second]));
        let handle = data.register(spec("Jobs", &[]));
        let series = data
            .series(handle, facts(None).as_ref(), &stage(10))
            .await
            .expect("series");
        assert_eq!((rule.num_calls(), second.num_calls()), (1, 1));
        let values: Vec<f64> = series.datapoints.iter().map(|p| p.value).collect();
        assert_eq!(values, vec![1.0, 2.0], "sorted by time");
        assert_eq!(series.total(), 3.0);
    }

    #[tokio::test(start_paused = true)]
    async fn an_empty_window_makes_no_call() {
        let rule = answer(|_, _, _| vec![1.0]);
        let data = MetricData::new(client(&[&rule]));
        let handle = data.register(spec("Jobs", &[]));
        let series = data
            .series(handle, facts(None).as_ref(), &stage(0))
            .await
            .expect("series");
        assert!(series.window.is_empty() && series.datapoints.is_empty());
        assert_eq!(rule.num_calls(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_then_success_is_retried_by_the_sdk() {
        let rule = mock!(Client::get_metric_data)
            .sequence()
            .error(throttling)
            .output(|| GetMetricDataOutput::builder().build())
            .build();
        let data = MetricData::new(client(&[&rule]));
        let handle = data.register(spec("Jobs", &[]));
        assert!(
            data.series(handle, facts(None).as_ref(), &stage(10))
                .await
                .is_ok()
        );
        assert_eq!(rule.num_calls(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_fetch_is_memoized_for_every_query() {
        let rule = mock!(Client::get_metric_data)
            .sequence()
            .error(throttling)
            .times(3)
            .build();
        let data = MetricData::new(client(&[&rule]));
        let first = data.register(spec("Jobs", &[]));
        let second = data.register(spec("Errors", &[]));
        let facts = facts(None);
        for handle in [first, second] {
            let error = data
                .series(handle, facts.as_ref(), &stage(10))
                .await
                .expect_err("throttled");
            assert!(
                matches!(&error, SeriesError::Fact(FactError::Throttled { action, .. }) if action == ACTION),
                "{error:?}"
            );
        }
        assert_eq!(rule.num_calls(), 3, "three attempts, once for both queries");
    }

    #[tokio::test(start_paused = true)]
    async fn forbidden_results_are_access_denied_naming_the_metric() {
        let rule = mock!(Client::get_metric_data).then_output(|| {
            GetMetricDataOutput::builder()
                .metric_data_results(
                    MetricDataResult::builder()
                        .id("q0")
                        .status_code(StatusCode::Forbidden)
                        .messages(
                            MessageData::builder()
                                .code("Forbidden")
                                .value("no access to account 444455556666")
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
        let data = MetricData::new(client(&[&rule]));
        let handle = data.register(spec("Jobs", &[]));
        let error = data
            .series(handle, facts(None).as_ref(), &stage(10))
            .await
            .expect_err("denied");
        let SeriesError::Fact(FactError::AccessDenied {
            action,
            resource,
            message,
        }) = error
        else {
            panic!("{error:?}")
        };
        assert_eq!((action.as_str(), resource.as_str()), (ACTION, "App/Jobs"));
        assert!(message.contains("444455556666"), "{message}");
    }

    #[tokio::test(start_paused = true)]
    async fn unresolved_placeholders_and_failed_facts_stay_with_their_queries() {
        let rule = answer(|_, _, _| vec![1.0]);
        let data = MetricData::new(client(&[&rule]));
        let blue = data.register(spec("Jobs", &[("TargetGroup", "{blue.target_group}")]));
        let own = data.register(spec("Jobs", &[("Service", "{service}")]));
        let error = data
            .series(blue, facts(None).as_ref(), &stage(10))
            .await
            .expect_err("no blue");
        assert_eq!(error, SeriesError::Unresolved(Placeholder::BlueTargetGroup));
        let outcome = error.to_outcome("App Jobs Sum");
        assert_eq!(outcome.code.code, "METRIC_DIMENSION_UNRESOLVED");
        assert!(
            data.series(own, facts(None).as_ref(), &stage(10))
                .await
                .is_ok()
        );
        assert_eq!(rule.num_calls(), 1);

        let mut broken = StaticFacts::new(service());
        broken.routing = Err(FactError::Throttled {
            action: "elasticloadbalancing:DescribeRules".into(),
            message: "Rate exceeded".into(),
        });
        let data = MetricData::new(client(&[&rule]));
        let green = data.register(spec("Jobs", &[("TargetGroup", "{green.target_group}")]));
        let own = data.register(spec("Jobs", &[("Service", "{service}")]));
        let error = data
            .series(green, &broken, &stage(10))
            .await
            .expect_err("no routing");
        assert!(matches!(
            error,
            SeriesError::Fact(FactError::Throttled { .. })
        ));
        assert!(data.series(own, &broken, &stage(10)).await.is_ok());
        assert_eq!(rule.num_calls(), 2);
    }

    #[test]
    fn whole_window_periods_are_whole_minutes() {
        let window = MetricWindow::for_stage(at(STARTED), at(STARTED + 330));
        assert_eq!(whole_window_period(window), Duration::from_secs(300));
        let empty = MetricWindow::for_stage(at(STARTED), at(STARTED + 30));
        assert_eq!(whole_window_period(empty), Duration::from_secs(60));
    }
}
