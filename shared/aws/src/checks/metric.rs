//! The `metric` check's gather half.
//!
//! The check registers its one query with the stage's [`MetricData`] when it is built, so it is
//! fetched in the same `GetMetricData` call as every other metric query of the stage; running it
//! reads the series and hands it to the core's judge. With `compare_to: before_deployment` it
//! also asks, in a call of its own, for the same query at its own period over the hour before the
//! deployment started.

use std::sync::Arc;

use std::time::Duration;

use greenlight_core::checks::MetricParams;
use greenlight_core::checks::metric::{
    DOC, MetricBaseline, MetricWindow, baseline_of, judge, judge_compared, minute_floor,
};
use greenlight_core::engine::{Check, CheckFuture, StageView};
use greenlight_core::facts::Facts;
use greenlight_core::outcome::Outcome;

use super::CheckDeps;
use super::metric_data::{MetricData, QueryHandle, QueryPeriod, QuerySpec};

/// Builds the `metric` check and registers its query.
pub fn build(params: &MetricParams, deps: &CheckDeps) -> Box<dyn Check> {
    Box::new(MetricCheck::new(
        params.clone(),
        Arc::clone(&deps.facts),
        Arc::clone(&deps.metric_data),
    ))
}

/// A CloudWatch metric of the team's choosing, judged against its bounds.
pub struct MetricCheck {
    params: MetricParams,
    facts: Arc<dyn Facts>,
    metric_data: Arc<MetricData>,
    query: QuerySpec,
    handle: QueryHandle,
}

impl MetricCheck {
    /// The check with its params, registering its query with the stage's `metric_data`.
    pub fn new(params: MetricParams, facts: Arc<dyn Facts>, metric_data: Arc<MetricData>) -> Self {
        let query = QuerySpec {
            namespace: params.namespace.clone(),
            metric_name: params.name.clone(),
            dimensions: params.dimensions.clone(),
            stat: params.stat.to_string(),
            period: QueryPeriod::Fixed(params.period),
        };
        let handle = metric_data.register(query.clone());
        MetricCheck {
            params,
            facts,
            metric_data,
            query,
            handle,
        }
    }
}

/// How far back the baseline reaches before the deployment.
const BASELINE_SPAN: Duration = Duration::from_secs(60 * 60);

impl MetricCheck {
    /// The same query, at its own period, over the hour before the deployment started; `Err`
    /// inside says why there is no baseline.
    async fn baseline(&self) -> Result<Result<MetricBaseline, String>, Outcome> {
        let deployment = self
            .facts
            .deployment()
            .await
            .map_err(|error| error.to_outcome())?;
        // Without the deployment's start, the stage's would take in green's earlier steps.
        let Some(started) = deployment.started_at else {
            return Ok(Err(
                "the deployment's start is not known, so the hour before it cannot be read"
                    .to_owned(),
            ));
        };
        let end = minute_floor(started);
        let window = MetricWindow {
            start: end.checked_sub(BASELINE_SPAN).unwrap_or(end),
            end,
        };
        let series = self
            .metric_data
            .fetch_now(
                std::slice::from_ref(&self.query),
                self.facts.as_ref(),
                window,
            )
            .await
            .map_err(|error| error.to_outcome(&self.query.describe()))?;
        Ok(match series.first() {
            Some(hour) => baseline_of(&self.params, hour),
            None => Err(format!("no answer for {}", self.query.describe())),
        })
    }
}

impl Check for MetricCheck {
    fn kind(&self) -> &'static str {
        DOC.kind
    }

    fn run<'a>(&'a self, stage: &'a StageView) -> CheckFuture<'a> {
        Box::pin(async move {
            let series = match self
                .metric_data
                .series(self.handle, self.facts.as_ref(), stage)
                .await
            {
                Ok(series) => series,
                Err(error) => return error.to_outcome(&self.query.describe()),
            };
            if self.params.compare_to.is_none() {
                return judge(&self.params, &series, stage.now);
            }
            match self.baseline().await {
                Ok(baseline) => judge_compared(&self.params, &series, stage.now, baseline),
                Err(outcome) => outcome,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use aws_sdk_cloudwatch::Client;
    use aws_sdk_cloudwatch::error::ErrorMetadata;
    use aws_sdk_cloudwatch::operation::get_metric_data::{GetMetricDataError, GetMetricDataOutput};
    use aws_smithy_mocks::mock;
    use greenlight_core::checks::metric::{
        METRIC_ABOVE_MAX, METRIC_DIMENSION_UNRESOLVED, METRIC_NO_DATA, METRIC_WITHIN_BOUNDS,
    };
    use greenlight_core::document::values::Statistic;
    use greenlight_core::facts::{AWS_ACCESS_DENIED, AWS_THROTTLED, FactError, StaticFacts};
    use greenlight_core::outcome::{ErrorClass, Outcome, Status};

    use super::*;
    use crate::checks::metric_data::tests::{answer, client, facts, service, stage, throttling};

    fn params(stat: &str, dimensions: &[(&str, &str)], max: f64) -> MetricParams {
        MetricParams {
            namespace: "AWS/ApplicationELB".into(),
            name: "TargetResponseTime".into(),
            stat: stat.parse::<Statistic>().expect("a statistic"),
            dimensions: dimensions
                .iter()
                .map(|(name, value)| ((*name).to_owned(), value.parse().expect("a template")))
                .collect(),
            period: Duration::from_secs(60),
            min: None,
            max: Some(max),
            min_datapoints: 3,
            max_age: None,
            treat_missing: Default::default(),
            compare_to: None,
            max_ratio: None,
            max_increase: None,
        }
    }

    const GREEN_DIMENSIONS: &[(&str, &str)] = &[
        ("TargetGroup", "{green.target_group}"),
        ("LoadBalancer", "{load_balancer}"),
    ];

    async fn run(check: &MetricCheck, minutes: u64) -> Outcome {
        check.run(&stage(minutes)).await
    }

    fn check_with(client: Client, params: MetricParams, facts: Arc<StaticFacts>) -> MetricCheck {
        MetricCheck::new(params, facts, Arc::new(MetricData::new(client)))
    }

    #[tokio::test(start_paused = true)]
    async fn percentiles_are_asked_as_extended_statistics_with_rendered_dimensions() {
        let rule = mock!(Client::get_metric_data)
            .match_requests(|input| {
                let query = &input.metric_data_queries()[0];
                let stat = query.metric_stat().expect("a metric stat");
                let dimensions: Vec<(Option<&str>, Option<&str>)> = stat
                    .metric()
                    .map(|m| {
                        m.dimensions()
                            .iter()
                            .map(|d| (d.name(), d.value()))
                            .collect()
                    })
                    .unwrap_or_default();
                stat.stat() == Some("p99.9")
                    && stat.period() == Some(60)
                    && dimensions
                        == vec![
                            (Some("LoadBalancer"), Some("app/web/00000000000000ff")),
                            (
                                Some("TargetGroup"),
                                Some("targetgroup/web-b/0000000000000002"),
                            ),
                        ]
            })
            .then_compute_output(|input| answer_values(input, &[0.2, 0.25, 0.3, 0.28]));
        let check = check_with(
            client(&[&rule]),
            params("p99.9", GREEN_DIMENSIONS, 0.5),
            facts(None),
        );
        let outcome = run(&check, 10).await;
        assert_eq!(outcome.code, &METRIC_WITHIN_BOUNDS, "{}", outcome.message);
        assert_eq!(outcome.evidence[0].samples, Some(4));
        assert_eq!(outcome.evidence[0].value, serde_json::json!(0.3));
        assert_eq!(rule.num_calls(), 1);
    }

    /// One result per query of `input`, with `values` a minute apart.
    fn answer_values(
        input: &aws_sdk_cloudwatch::operation::get_metric_data::GetMetricDataInput,
        values: &[f64],
    ) -> GetMetricDataOutput {
        use aws_sdk_cloudwatch::types::MetricDataResult;
        use aws_smithy_types::DateTime;
        let start = input.start_time().copied().expect("a start time");
        let results = input
            .metric_data_queries()
            .iter()
            .map(|query| {
                MetricDataResult::builder()
                    .id(query.id().unwrap_or_default())
                    .set_timestamps(Some(
                        (0..values.len())
                            .map(|i| DateTime::from_secs(start.secs() + 60 * i as i64))
                            .collect(),
                    ))
                    .set_values(Some(values.to_vec()))
                    .build()
            })
            .collect();
        GetMetricDataOutput::builder()
            .set_metric_data_results(Some(results))
            .build()
    }

    #[tokio::test(start_paused = true)]
    async fn a_breach_fails_with_the_query_in_evidence() {
        let rule = answer(|_, _, _| vec![0.2, 0.9, 0.3]);
        let check = check_with(
            client(&[&rule]),
            params("p99", GREEN_DIMENSIONS, 0.5),
            facts(None),
        );
        let outcome = run(&check, 10).await;
        assert_eq!(outcome.code, &METRIC_ABOVE_MAX);
        assert_eq!(outcome.status, Status::Fail);
        let query = &outcome.evidence.last().expect("the query").value;
        assert_eq!(
            query["dimensions"]["TargetGroup"],
            "targetgroup/web-b/0000000000000002"
        );
        assert_eq!(query["stat"], "p99");
    }

    #[tokio::test(start_paused = true)]
    async fn compare_to_before_deployment_reads_the_hour_before_in_a_call_of_its_own() {
        use crate::checks::metric_data::tests::{STARTED, at};
        use greenlight_core::checks::metric::METRIC_NO_BASELINE;
        let deployment_started = STARTED - 300;
        let facts = || {
            let mut facts = Arc::try_unwrap(facts(None)).expect("fresh facts");
            facts.deployment = Ok(Arc::new(
                greenlight_core::facts::DeploymentFacts::in_progress(
                    "deployment-1",
                    Some(at(deployment_started)),
                ),
            ));
            Arc::new(facts)
        };
        /// (start, period) of every query asked.
        type Seen = Arc<std::sync::Mutex<Vec<(u64, Option<i32>)>>>;
        let seen: Seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let answer = |seen: Seen, baseline: Option<f64>| {
            mock!(Client::get_metric_data).then_compute_output(move |input| {
                use aws_sdk_cloudwatch::types::{MetricDataResult, StatusCode};
                use aws_smithy_types::DateTime;
                let start = input.start_time().map_or(0, |t| t.secs() as u64);
                let query = &input.metric_data_queries()[0];
                let period = query.metric_stat().and_then(|stat| stat.period());
                seen.lock().expect("lock").push((start, period));
                let values: Vec<f64> = if start < STARTED - 300 {
                    baseline.into_iter().collect()
                } else {
                    vec![45.0, 61.0, 52.0]
                };
                let result = MetricDataResult::builder()
                    .id(query.id().unwrap_or_default())
                    .set_timestamps(Some(
                        (0..values.len())
                            .map(|i| DateTime::from_secs((start + 60 * i as u64) as i64))
                            .collect(),
                    ))
                    .set_values(Some(values))
                    .status_code(StatusCode::Complete)
                    .build();
                GetMetricDataOutput::builder()
                    .metric_data_results(result)
                    .build()
            })
        };
        let mut relative = params("Average", &[("ServiceName", "{service}")], 0.0);
        relative.max = None;
        relative.compare_to =
            Some(greenlight_core::checks::metric::params::MetricBaseline::BeforeDeployment);
        relative.max_ratio = Some(1.5);

        let rule = answer(Arc::clone(&seen), Some(40.0));
        let outcome = run(&check_with(client(&[&rule]), relative.clone(), facts()), 10).await;
        // 61 is above 1.5 × 40.
        assert_eq!(outcome.code, &METRIC_ABOVE_MAX, "{}", outcome.message);
        assert!(
            outcome
                .message
                .contains("1.5× its 40 before the deployment"),
            "{}",
            outcome.message
        );
        let mut calls = seen.lock().expect("lock").clone();
        calls.sort();
        // The hour before the deployment, at the query's own period; then the stage.
        assert_eq!(
            calls,
            vec![(deployment_started - 3600, Some(60)), (STARTED, Some(60))]
        );

        let empty = answer(Arc::new(std::sync::Mutex::new(Vec::new())), None);
        let outcome = run(&check_with(client(&[&empty]), relative, facts()), 10).await;
        assert_eq!(outcome.code, &METRIC_NO_BASELINE, "{}", outcome.message);
        assert!(outcome.not_applicable);
    }

    #[tokio::test(start_paused = true)]
    async fn no_datapoints_is_inconclusive() {
        let rule = answer(|_, _, _| Vec::new());
        let check = check_with(
            client(&[&rule]),
            params("Sum", GREEN_DIMENSIONS, 5.0),
            facts(None),
        );
        let outcome = run(&check, 10).await;
        assert_eq!(outcome.code, &METRIC_NO_DATA);
        assert_eq!(outcome.status, Status::Inconclusive);
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_then_success_passes() {
        let rule = mock!(Client::get_metric_data)
            .sequence()
            .error(throttling)
            .output(|| {
                use aws_sdk_cloudwatch::types::MetricDataResult;
                use aws_smithy_types::DateTime;
                let start = crate::checks::metric_data::tests::STARTED;
                GetMetricDataOutput::builder()
                    .metric_data_results(
                        MetricDataResult::builder()
                            .id("q0")
                            .set_timestamps(Some(
                                (0..3)
                                    .map(|i| DateTime::from_secs(start as i64 + 60 * i))
                                    .collect(),
                            ))
                            .set_values(Some(vec![0.1, 0.1, 0.1]))
                            .build(),
                    )
                    .build()
            })
            .build();
        let check = check_with(
            client(&[&rule]),
            params("p99", GREEN_DIMENSIONS, 0.5),
            facts(None),
        );
        let outcome = run(&check, 10).await;
        assert_eq!(outcome.code, &METRIC_WITHIN_BOUNDS, "{}", outcome.message);
        assert_eq!(rule.num_calls(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn throttled_throughout_is_a_transient_error() {
        let rule = mock!(Client::get_metric_data)
            .sequence()
            .error(throttling)
            .times(3)
            .build();
        let check = check_with(
            client(&[&rule]),
            params("p99", GREEN_DIMENSIONS, 0.5),
            facts(None),
        );
        let outcome = run(&check, 10).await;
        assert_eq!(outcome.code, &AWS_THROTTLED);
        assert_eq!(outcome.error_class, Some(ErrorClass::Transient));
        assert_eq!(rule.num_calls(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn access_denied_names_the_action() {
        let rule = mock!(Client::get_metric_data).then_error(|| {
            GetMetricDataError::generic(
                ErrorMetadata::builder()
                    .code("AccessDenied")
                    .message("User is not authorized to perform: cloudwatch:GetMetricData")
                    .build(),
            )
        });
        let check = check_with(
            client(&[&rule]),
            params("p99", GREEN_DIMENSIONS, 0.5),
            facts(None),
        );
        let outcome = run(&check, 10).await;
        assert_eq!(outcome.code, &AWS_ACCESS_DENIED);
        assert!(outcome.is_permanent_error());
        assert!(
            outcome.message.contains("cloudwatch:GetMetricData"),
            "{}",
            outcome.message
        );
        assert_eq!(rule.num_calls(), 1, "access denied is not retried");
    }

    #[tokio::test(start_paused = true)]
    async fn a_missing_target_group_is_named_and_nothing_is_asked() {
        let rule = answer(|_, _, _| vec![1.0]);
        let check = check_with(
            client(&[&rule]),
            params("Sum", &[("TargetGroup", "{blue.target_group}")], 5.0),
            facts(None),
        );
        let outcome = run(&check, 10).await;
        assert_eq!(outcome.code, &METRIC_DIMENSION_UNRESOLVED);
        assert!(
            outcome.message.contains("{blue.target_group}"),
            "{}",
            outcome.message
        );
        assert_eq!(rule.num_calls(), 0);

        let mut broken = StaticFacts::new(service());
        broken.routing = Err(FactError::NotFound {
            what: "target group".into(),
            resource: "arn:aws:elasticloadbalancing:us-east-1:111122223333:targetgroup/gone/1"
                .into(),
        });
        let check = check_with(
            client(&[&rule]),
            params("Sum", GREEN_DIMENSIONS, 5.0),
            Arc::new(broken),
        );
        let outcome = run(&check, 10).await;
        assert_eq!(outcome.code.code, "AWS_NOT_FOUND");
        assert_eq!(outcome.error_class, Some(ErrorClass::Permanent));
        assert_eq!(rule.num_calls(), 0);
    }
}
