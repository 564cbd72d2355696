//! The `compare` check's gather half.
//!
//! The check registers four queries with the stage's [`MetricData`] when it is built — for green's
//! and blue's target groups, `RequestCount` and either `HTTPCode_Target_5XX_Count` (error rate) or
//! `TargetResponseTime` at the percentile (latency) — each as one datapoint over the whole window,
//! so they are fetched with every other metric query of the stage in one call, and the request
//! counts are shared with any other comparison of the same target groups.
//!
//! Which target group is green and which blue comes from the routing facts (the groups swap roles
//! between deployments); a deployment without a distinct blue group has nothing to compare.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use greenlight_core::checks::compare::{
    COMPARE_NO_LOAD_BALANCER, CompareObservation, DOC, NAMESPACE, REQUEST_COUNT, SideObservation,
    TARGET_5XX_COUNT, TARGET_RESPONSE_TIME, judge, no_baseline,
};
use greenlight_core::checks::metric::MetricSeries;
use greenlight_core::config::checks::{CompareMetric, CompareParams};
use greenlight_core::config::values::DimensionTemplate;
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

/// The queries of one side.
struct SideQueries {
    requests: (QuerySpec, QueryHandle),
    measure: (QuerySpec, QueryHandle),
}

/// Green's error rate or latency against blue's over the same window.
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
        let register = |target_group: &str| {
            let query = |metric_name: &str, stat: String| {
                let spec = QuerySpec {
                    namespace: NAMESPACE.to_owned(),
                    metric_name: metric_name.to_owned(),
                    dimensions: side_dimensions(target_group),
                    stat,
                    period: QueryPeriod::WholeWindow,
                };
                let handle = metric_data.register(spec.clone());
                (spec, handle)
            };
            SideQueries {
                requests: query(REQUEST_COUNT, "Sum".to_owned()),
                measure: match params.metric {
                    CompareMetric::ErrorRate => query(TARGET_5XX_COUNT, "Sum".to_owned()),
                    CompareMetric::Latency => query(
                        TARGET_RESPONSE_TIME,
                        params.latency_percentile().to_string(),
                    ),
                },
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

    async fn side(
        &self,
        queries: &SideQueries,
        target_group: &str,
        stage: &StageView,
    ) -> Result<(SideObservation, MetricSeries), Outcome> {
        let requests = self.series(&queries.requests, stage).await?;
        let measure = self.series(&queries.measure, stage).await?;
        let observation = SideObservation {
            target_group: target_group.to_owned(),
            requests: count(requests.total()),
            errors: match self.params.metric {
                CompareMetric::ErrorRate => count(measure.total()),
                CompareMetric::Latency => 0,
            },
            latency_seconds: match self.params.metric {
                CompareMetric::ErrorRate => None,
                CompareMetric::Latency => window_latency(&measure, &requests),
            },
        };
        Ok((observation, requests))
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
        let (green, green_requests) = self.side(&self.green, green, stage).await?;
        let (blue, _) = self.side(&self.blue, blue, stage).await?;
        Ok(judge(
            &self.params,
            &CompareObservation {
                window: green_requests.window,
                green,
                blue,
            },
        ))
    }
}

/// A sum of counts as a whole number (CloudWatch returns them as floats).
fn count(total: f64) -> u64 {
    if total.is_finite() && total > 0.0 {
        total.round() as u64
    } else {
        0
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
    use greenlight_core::checks::compare::{
        COMPARE_ERROR_RATE_HIGHER, COMPARE_LATENCY_HIGHER, COMPARE_NO_BASELINE, COMPARE_NOT_WORSE,
        COMPARE_TOO_FEW_REQUESTS,
    };
    use greenlight_core::checks::metric::{Datapoint, MetricQuery, MetricWindow};
    use greenlight_core::config::checks::MaxIncrease;
    use greenlight_core::config::values::{PercentagePoints, Percentile};
    use greenlight_core::facts::{AWS_ACCESS_DENIED, AWS_THROTTLED, FACT_NOT_READY, StaticFacts};
    use greenlight_core::outcome::{ErrorClass, Status};
    use serde_json::json;

    use super::*;
    use crate::checks::metric::MetricCheck;
    use crate::checks::metric_data::tests::{
        BLUE_TG, GREEN_TG, STARTED, answer, at, client, facts, stage, throttling,
    };

    const GREEN_DIMENSION: &str = "targetgroup/web-b/0000000000000002";
    const BLUE_DIMENSION: &str = "targetgroup/web-a/0000000000000001";

    fn error_rate() -> CompareParams {
        CompareParams {
            metric: CompareMetric::ErrorRate,
            percentile: None,
            max_increase: PercentagePoints::new(0.5).map(MaxIncrease::Points),
            max_ratio: None,
            min_requests: 100,
        }
    }

    fn latency() -> CompareParams {
        CompareParams {
            metric: CompareMetric::Latency,
            percentile: "p99".parse::<Percentile>().ok(),
            max_increase: Some(MaxIncrease::Duration(Duration::from_millis(50))),
            max_ratio: None,
            min_requests: 100,
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
    async fn error_rates_of_both_sides_over_the_whole_window() {
        let rule = traffic((1000.0, 30.0, 0.2), (1000.0, 10.0, 0.2));
        let outcome = run(error_rate(), client(&[&rule]), facts(Some(BLUE_TG))).await;
        assert_eq!(
            outcome.code, &COMPARE_ERROR_RATE_HIGHER,
            "{}",
            outcome.message
        );
        assert_eq!(outcome.status, Status::Fail);
        let green = &outcome.evidence[1];
        assert_eq!(green.resource.as_deref(), Some(GREEN_TG));
        assert_eq!(green.value["errors"], json!(30));
        assert_eq!(green.samples, Some(1000));
        assert_eq!(
            green.window.as_deref(),
            Some("2027-01-15T08:00:00Z/2027-01-15T08:10:00Z")
        );
        assert_eq!(outcome.evidence[2].resource.as_deref(), Some(BLUE_TG));
        assert_eq!(rule.num_calls(), 1);

        let clean = traffic((1000.0, 0.0, 0.2), (1000.0, 2.0, 0.2));
        let outcome = run(error_rate(), client(&[&clean]), facts(Some(BLUE_TG))).await;
        assert_eq!(outcome.code, &COMPARE_NOT_WORSE, "{}", outcome.message);
        assert_eq!(outcome.evidence[1].value["error_rate_percent"], json!(0.0));
    }

    #[tokio::test(start_paused = true)]
    async fn queries_are_whole_window_sums_and_percentiles() {
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let recorded = Arc::clone(&seen);
        let rule = mock!(Client::get_metric_data).then_compute_output(move |input| {
            for query in input.metric_data_queries() {
                let stat = query.metric_stat().expect("a metric stat");
                recorded.lock().expect("lock").push((
                    stat.metric()
                        .and_then(|m| m.metric_name())
                        .unwrap_or_default()
                        .to_owned(),
                    stat.stat().unwrap_or_default().to_owned(),
                    stat.period(),
                ));
            }
            aws_sdk_cloudwatch::operation::get_metric_data::GetMetricDataOutput::builder().build()
        });
        let outcome = run(latency(), client(&[&rule]), facts(Some(BLUE_TG))).await;
        assert_eq!(outcome.code, &COMPARE_TOO_FEW_REQUESTS);
        let mut seen = seen.lock().expect("lock").clone();
        seen.sort();
        assert_eq!(
            seen,
            vec![
                ("RequestCount".to_owned(), "Sum".to_owned(), Some(600)),
                ("RequestCount".to_owned(), "Sum".to_owned(), Some(600)),
                ("TargetResponseTime".to_owned(), "p99".to_owned(), Some(600)),
                ("TargetResponseTime".to_owned(), "p99".to_owned(), Some(600)),
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn latency_of_both_sides() {
        let rule = traffic((500.0, 0.0, 0.290), (500.0, 0.0, 0.200));
        let outcome = run(latency(), client(&[&rule]), facts(Some(BLUE_TG))).await;
        assert_eq!(outcome.code, &COMPARE_LATENCY_HIGHER, "{}", outcome.message);
        assert_eq!(outcome.evidence[0].value["increase_ms"], json!(90.0));
        let rule = traffic((500.0, 0.0, 0.210), (500.0, 0.0, 0.200));
        let outcome = run(latency(), client(&[&rule]), facts(Some(BLUE_TG))).await;
        assert_eq!(outcome.code, &COMPARE_NOT_WORSE, "{}", outcome.message);
    }

    #[tokio::test(start_paused = true)]
    async fn too_few_requests_shows_both_counts() {
        let rule = traffic((40.0, 1.0, 0.2), (2000.0, 0.0, 0.2));
        let outcome = run(error_rate(), client(&[&rule]), facts(Some(BLUE_TG))).await;
        assert_eq!(outcome.code, &COMPARE_TOO_FEW_REQUESTS);
        assert_eq!(outcome.status, Status::Inconclusive);
        assert!(
            outcome.message.contains("green 40 and blue 2000"),
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

    /// The stage's two metric checks and two comparisons share one `GetMetricData` call.
    #[tokio::test(start_paused = true)]
    async fn a_stage_with_two_metric_and_two_compare_checks_makes_one_call() {
        let rule = answer(|metric, _stat, target_group| match (metric, target_group) {
            (REQUEST_COUNT, Some(_)) => vec![1000.0],
            (TARGET_RESPONSE_TIME, Some(_)) => vec![0.2],
            ("CPUUtilization", None) => vec![40.0, 45.0, 50.0],
            _ => Vec::new(),
        });
        let metric_data = Arc::new(MetricData::new(client(&[&rule])));
        let facts: Arc<dyn Facts> = facts(Some(BLUE_TG));
        let metric = |name: &str, dimensions: &[(&str, &str)], max: f64| {
            greenlight_core::config::checks::MetricParams {
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
                latency(),
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
                "COMPARE_NOT_WORSE",
                "COMPARE_NOT_WORSE"
            ]
        );
        assert_eq!(
            rule.num_calls(),
            1,
            "one GetMetricData call for the whole stage"
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
        assert_eq!(count(999.6), 1000);
        assert_eq!(count(f64::NAN), 0);
    }
}
