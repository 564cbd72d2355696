//! The `alarms` check's gather half.
//!
//! The watched alarms are the names in the config, the service's deployment alarms (from the
//! shared deployment facts) and every alarm matching the prefix. They are described with one
//! `DescribeAlarms` call per 100 names (the API's limit) and one per prefix, all concurrently,
//! asking for metric, composite and log alarms alike and following `NextToken` pages. The
//! deployment facts also say when the deployment started (to tell an alarm that was already
//! firing) and which alarms ECS saw trigger.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_sdk_cloudwatch::operation::describe_alarms::DescribeAlarmsOutput;
use aws_sdk_cloudwatch::operation::describe_alarms::builders::DescribeAlarmsFluentBuilder;
use aws_sdk_cloudwatch::types::{
    AlarmType, ComparisonOperator, CompositeAlarm, LogAlarm, MetricAlarm, StateValue,
};
use aws_smithy_types::DateTime;
use greenlight_core::checks::AlarmsParams;
use greenlight_core::checks::alarms::{
    AlarmKind, AlarmObservation, AlarmSource, AlarmState, AlarmsObservation, DOC, MissingAlarm,
    composite_children, judge,
};
use greenlight_core::document::values::HumanDuration;
use greenlight_core::engine::{Check, CheckFuture, StageView};
use greenlight_core::facts::{FactError, Facts};
use greenlight_core::outcome::Outcome;

use super::CheckDeps;
use crate::error::classify;

/// The IAM action of every call made here.
const ACTION: &str = "cloudwatch:DescribeAlarms";

/// `DescribeAlarms` takes at most 100 names per call, and returns at most 100 alarms per page.
const MAX_PER_CALL: usize = 100;
/// At most this many pages of alarms (a thousand): a bound on a prefix that matches too much.
const MAX_PAGES: usize = 10;

/// Builds the `alarms` check.
pub fn build(params: &AlarmsParams, deps: &CheckDeps) -> Box<dyn Check> {
    Box::new(AlarmsCheck::new(
        params.clone(),
        Arc::clone(&deps.facts),
        deps.clients.cloudwatch.clone(),
    ))
}

/// No watched CloudWatch alarm is firing.
pub struct AlarmsCheck {
    params: AlarmsParams,
    facts: Arc<dyn Facts>,
    cloudwatch: aws_sdk_cloudwatch::Client,
}

impl AlarmsCheck {
    /// The check with its params, the invocation's facts and the CloudWatch client.
    pub fn new(
        params: AlarmsParams,
        facts: Arc<dyn Facts>,
        cloudwatch: aws_sdk_cloudwatch::Client,
    ) -> Self {
        AlarmsCheck {
            params,
            facts,
            cloudwatch,
        }
    }

    /// The ARN pattern of the account's alarms: what the role needs `DescribeAlarms` on.
    fn alarms_resource(&self) -> String {
        let service = self.facts.service();
        format!(
            "arn:{}:cloudwatch:{}:{}:alarm:*",
            service.partition, service.region, service.account
        )
    }

    /// One request and its pages, for every kind of alarm.
    async fn describe(
        &self,
        request: impl Fn(DescribeAlarmsFluentBuilder) -> DescribeAlarmsFluentBuilder,
    ) -> Result<Vec<AlarmObservation>, FactError> {
        let mut alarms = Vec::new();
        let mut next_token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let output = request(self.cloudwatch.describe_alarms())
                .alarm_types(AlarmType::MetricAlarm)
                .alarm_types(AlarmType::CompositeAlarm)
                .alarm_types(AlarmType::LogAlarm)
                .max_records(MAX_PER_CALL as i32)
                .set_next_token(next_token.take())
                .send()
                .await
                .map_err(|error| classify(&error, ACTION, &self.alarms_resource(), &[]))?;
            next_token = output
                .next_token()
                .filter(|t| !t.is_empty())
                .map(str::to_owned);
            alarms.extend(observations(output)?);
            if next_token.is_none() {
                return Ok(alarms);
            }
        }
        // Judging only the first pages would pass on alarms never looked at.
        Err(FactError::Unexpected {
            action: ACTION.to_owned(),
            message: format!(
                "more than {} alarms match; name fewer alarms or use a narrower prefix",
                MAX_PAGES * MAX_PER_CALL
            ),
        })
    }

    /// The alarms named, 100 names per call, concurrently.
    async fn describe_names(&self, names: &[String]) -> Result<Vec<AlarmObservation>, FactError> {
        let calls = names.chunks(MAX_PER_CALL).map(|chunk| {
            self.describe(move |request| request.set_alarm_names(Some(chunk.to_vec())))
        });
        let found = futures::future::try_join_all(calls).await?;
        Ok(found.into_iter().flatten().collect())
    }

    /// The alarms whose names start with `prefix`.
    async fn describe_prefix(
        &self,
        prefix: Option<&str>,
    ) -> Result<Vec<AlarmObservation>, FactError> {
        match prefix {
            Some(prefix) => {
                self.describe(|request| request.alarm_name_prefix(prefix))
                    .await
            }
            None => Ok(Vec::new()),
        }
    }

    /// Describes the alarms named by the rules of composite alarms whose own state has not
    /// changed since `shift`: whether such a composite has evaluated green's traffic is whether
    /// they have. Alarms already watched are not asked for again; the rest go in one batch.
    async fn describe_children(
        &self,
        alarms: &mut [AlarmObservation],
        shift: SystemTime,
    ) -> Result<(), FactError> {
        let steady: Vec<(usize, Vec<String>)> = alarms
            .iter()
            .enumerate()
            .filter(|(_, alarm)| {
                alarm.kind == AlarmKind::Composite
                    && alarm.state != AlarmState::Alarm
                    && alarm.state_updated_at.is_none_or(|updated| updated < shift)
            })
            .map(|(index, alarm)| {
                let names = alarm
                    .condition
                    .as_deref()
                    .map(composite_children)
                    .unwrap_or_default();
                (index, names)
            })
            .collect();
        let mut unknown: Vec<String> = Vec::new();
        for name in steady.iter().flat_map(|(_, names)| names) {
            if !unknown.contains(name) && !alarms.iter().any(|alarm| &alarm.name == name) {
                unknown.push(name.clone());
            }
        }
        let described = self.describe_names(&unknown).await?;
        for (index, names) in steady {
            let children: Vec<AlarmObservation> = names
                .iter()
                .filter_map(|name| {
                    alarms
                        .iter()
                        .chain(&described)
                        .find(|alarm| &alarm.name == name)
                        .cloned()
                })
                .collect();
            if let Some(composite) = alarms.get_mut(index) {
                composite.children = children;
            }
        }
        Ok(())
    }

    async fn observe(&self, stage: &StageView) -> Result<AlarmsObservation, Outcome> {
        // The prefix does not depend on the deployment: ask for both at once. Deployment alarms
        // need the deployment; otherwise its start time is only a refinement (telling an alarm
        // that was already firing), so a failure to get it is not fatal.
        let (deployment, prefixed) = futures::join!(
            self.facts.deployment(),
            self.describe_prefix(self.params.prefix.as_deref())
        );
        let deployment = match (self.params.include_deployment_alarms, deployment) {
            (true, Err(error)) => return Err(error.to_outcome()),
            (_, deployment) => deployment.ok(),
        };

        let mut wanted: Vec<(String, Vec<AlarmSource>)> = Vec::new();
        let mut want = |name: &str, source: AlarmSource| match wanted
            .iter_mut()
            .find(|(known, _)| known == name)
        {
            Some((_, sources)) if !sources.contains(&source) => sources.push(source),
            Some(_) => {}
            None => wanted.push((name.to_owned(), vec![source])),
        };
        for name in &self.params.names {
            want(name, AlarmSource::Named);
        }
        if self.params.include_deployment_alarms
            && let Some(deployment) = &deployment
        {
            for name in &deployment.alarm_names {
                want(name, AlarmSource::Deployment);
            }
        }
        let names: Vec<String> = wanted.iter().map(|(name, _)| name.clone()).collect();
        let named = self
            .describe_names(&names)
            .await
            .map_err(|error| error.to_outcome())?;
        let prefixed = prefixed.map_err(|error| error.to_outcome())?;

        let mut found: HashMap<String, AlarmObservation> = named
            .into_iter()
            .map(|alarm| (alarm.name.clone(), alarm))
            .collect();
        let mut alarms = Vec::new();
        let mut missing = Vec::new();
        for (name, sources) in wanted {
            match found.remove(&name) {
                Some(alarm) => alarms.push(AlarmObservation { sources, ..alarm }),
                None => missing.push(MissingAlarm { name, sources }),
            }
        }
        for alarm in prefixed {
            match alarms.iter_mut().find(|known| known.name == alarm.name) {
                Some(known) => known.sources.push(AlarmSource::Prefix),
                None => alarms.push(AlarmObservation {
                    sources: vec![AlarmSource::Prefix],
                    ..alarm
                }),
            }
        }

        if self.params.require_evaluated_after_shift {
            self.describe_children(&mut alarms, stage.started_at)
                .await
                .map_err(|error| error.to_outcome())?;
        }

        Ok(AlarmsObservation {
            alarms,
            missing,
            deployment_started_at: deployment.as_ref().and_then(|d| d.started_at),
            triggered_by_ecs: deployment
                .as_ref()
                .filter(|_| self.params.include_deployment_alarms)
                .map(|d| d.triggered_alarms.clone())
                .unwrap_or_default(),
            stage_started_at: stage.started_at,
            now: stage.now,
        })
    }
}

impl Check for AlarmsCheck {
    fn kind(&self) -> &'static str {
        DOC.kind
    }

    fn run<'a>(&'a self, stage: &'a StageView) -> CheckFuture<'a> {
        Box::pin(async move {
            match self.observe(stage).await {
                Ok(observed) => judge(&self.params, &observed),
                Err(outcome) => outcome,
            }
        })
    }
}

fn time(at: Option<&DateTime>) -> Option<SystemTime> {
    at.and_then(|at| SystemTime::try_from(*at).ok())
}

fn state(value: Option<&StateValue>, name: &str) -> Result<AlarmState, FactError> {
    match value {
        Some(StateValue::Ok) => Ok(AlarmState::Ok),
        Some(StateValue::Alarm) => Ok(AlarmState::Alarm),
        Some(StateValue::InsufficientData) => Ok(AlarmState::InsufficientData),
        other => Err(FactError::Unexpected {
            action: ACTION.to_owned(),
            message: format!(
                "alarm {name} has a state greenlight does not know: {}",
                other.map_or("none", |state| state.as_str())
            ),
        }),
    }
}

/// Every alarm of a page, whatever its kind.
fn observations(output: DescribeAlarmsOutput) -> Result<Vec<AlarmObservation>, FactError> {
    let metric = output.metric_alarms().iter().filter_map(|alarm| {
        let name = alarm.alarm_name()?;
        Some(
            state(alarm.state_value(), name).map(|state| AlarmObservation {
                name: name.to_owned(),
                arn: alarm.alarm_arn().map(str::to_owned),
                kind: AlarmKind::Metric,
                state,
                state_reason: alarm.state_reason().map(str::to_owned),
                state_updated_at: time(alarm.state_updated_timestamp()),
                state_transitioned_at: time(alarm.state_transitioned_timestamp()),
                evaluation_state: alarm.evaluation_state().map(|s| s.as_str().to_owned()),
                condition: Some(metric_condition(alarm)),
                period: metric_period(alarm),
                children: Vec::new(),
                sources: Vec::new(),
            }),
        )
    });
    let composite = output
        .composite_alarms()
        .iter()
        .filter_map(|alarm: &CompositeAlarm| {
            let name = alarm.alarm_name()?;
            Some(
                state(alarm.state_value(), name).map(|state| AlarmObservation {
                    name: name.to_owned(),
                    arn: alarm.alarm_arn().map(str::to_owned),
                    kind: AlarmKind::Composite,
                    state,
                    state_reason: alarm.state_reason().map(str::to_owned),
                    state_updated_at: time(alarm.state_updated_timestamp()),
                    state_transitioned_at: time(alarm.state_transitioned_timestamp()),
                    evaluation_state: None,
                    condition: alarm.alarm_rule().map(str::to_owned),
                    period: None,
                    children: Vec::new(),
                    sources: Vec::new(),
                }),
            )
        });
    let log = output.log_alarms().iter().filter_map(|alarm: &LogAlarm| {
        let name = alarm.alarm_name()?;
        Some(
            state(alarm.state_value(), name).map(|state| AlarmObservation {
                name: name.to_owned(),
                arn: alarm.alarm_arn().map(str::to_owned),
                kind: AlarmKind::Log,
                state,
                state_reason: alarm.state_reason().map(str::to_owned),
                state_updated_at: time(alarm.state_updated_timestamp()),
                state_transitioned_at: time(alarm.state_transitioned_timestamp()),
                evaluation_state: alarm.evaluation_state().map(|s| s.as_str().to_owned()),
                condition: Some(log_condition(alarm)),
                period: None,
                children: Vec::new(),
                sources: Vec::new(),
            }),
        )
    });
    metric.chain(composite).chain(log).collect()
}

fn operator(operator: Option<&ComparisonOperator>) -> &'static str {
    match operator {
        Some(ComparisonOperator::GreaterThanOrEqualToThreshold) => ">=",
        Some(ComparisonOperator::GreaterThanThreshold) => ">",
        Some(ComparisonOperator::LessThanThreshold) => "<",
        Some(ComparisonOperator::LessThanOrEqualToThreshold) => "<=",
        Some(ComparisonOperator::LessThanLowerOrGreaterThanUpperThreshold) => "outside the band",
        Some(ComparisonOperator::LessThanLowerThreshold) => "below the band",
        Some(ComparisonOperator::GreaterThanUpperThreshold) => "above the band",
        _ => "compared with",
    }
}

/// The condition of a metric alarm in words: `HTTPCode_Target_5XX_Count Sum > 5 for 2 of 3
/// periods of 1m`.
fn metric_condition(alarm: &MetricAlarm) -> String {
    let subject = match alarm.metric_name() {
        Some(name) => {
            let stat = alarm
                .extended_statistic()
                .or_else(|| alarm.statistic().map(|s| s.as_str()))
                .unwrap_or_default();
            format!("{name} {stat}").trim_end().to_owned()
        }
        None => {
            let returned = alarm
                .metrics()
                .iter()
                .find(|query| query.return_data().unwrap_or(false));
            match returned.and_then(|q| q.expression().or(q.label()).or(q.id())) {
                Some(expression) => format!("metric math {expression}"),
                None => "metric math".to_owned(),
            }
        }
    };
    let threshold = match (alarm.threshold(), alarm.threshold_metric_id()) {
        (_, Some(band)) => band.to_owned(),
        (Some(threshold), None) => format!("{threshold}"),
        (None, None) => "its threshold".to_owned(),
    };
    let mut text = format!(
        "{subject} {} {threshold}",
        operator(alarm.comparison_operator())
    );
    if let Some(periods) = alarm.evaluation_periods() {
        let breaching = alarm.datapoints_to_alarm().unwrap_or(periods);
        text.push_str(&format!(" for {breaching} of {periods} periods"));
        if let Some(period) = metric_period(alarm) {
            text.push_str(&format!(" of {}", HumanDuration(period)));
        }
    }
    text
}

/// The period of a metric alarm; for metric math, the longest period of its queries.
fn metric_period(alarm: &MetricAlarm) -> Option<Duration> {
    let seconds = alarm.period().or_else(|| {
        alarm
            .metrics()
            .iter()
            .filter_map(|query| {
                query
                    .metric_stat()
                    .and_then(|stat| stat.period())
                    .or(query.period())
            })
            .max()
    })?;
    u64::try_from(seconds)
        .ok()
        .filter(|seconds| *seconds > 0)
        .map(Duration::from_secs)
}

fn log_condition(alarm: &LogAlarm) -> String {
    let threshold = alarm
        .threshold()
        .map_or_else(|| "its threshold".to_owned(), |t| format!("{t}"));
    let mut text = format!(
        "query result {} {threshold}",
        operator(alarm.comparison_operator())
    );
    if let (Some(breaching), Some(evaluated)) = (
        alarm.query_results_to_alarm(),
        alarm.query_results_to_evaluate(),
    ) {
        text.push_str(&format!(" in {breaching} of {evaluated} query results"));
    }
    text
}

#[cfg(test)]
mod tests {
    use aws_sdk_cloudwatch::Client;
    use aws_sdk_cloudwatch::error::ErrorMetadata;
    use aws_sdk_cloudwatch::operation::describe_alarms::DescribeAlarmsError;
    use aws_sdk_cloudwatch::types::{EvaluationState, Statistic};
    use aws_smithy_mocks::{Rule, mock};
    use greenlight_core::checks::InsufficientData;
    use greenlight_core::checks::alarms::{
        ALARM_EVALUATION_FAILING, ALARM_FIRING, ALARM_FIRING_BEFORE_DEPLOYMENT, ALARM_NOT_FOUND,
        ALARM_OK,
    };
    use greenlight_core::facts::{
        AWS_ACCESS_DENIED, AWS_THROTTLED, DeploymentFacts, FACT_NOT_READY, StaticFacts, TaskCounts,
    };
    use greenlight_core::outcome::{ErrorClass, Status};
    use serde_json::json;

    use super::*;
    use crate::checks::metric_data::tests::{STARTED, at, client, service, stage};

    /// The deployment started five minutes before the stage.
    const DEPLOYED: u64 = STARTED - 300;

    fn params(names: &[&str], prefix: Option<&str>, deployment_alarms: bool) -> AlarmsParams {
        AlarmsParams {
            names: names.iter().map(|n| (*n).to_owned()).collect(),
            prefix: prefix.map(str::to_owned),
            include_deployment_alarms: deployment_alarms,
            insufficient_data: InsufficientData::Inconclusive,
            require_evaluated_after_shift: false,
            allow_no_alarms: false,
        }
    }

    fn facts(deployment_alarms: &[&str]) -> Arc<StaticFacts> {
        let mut facts = StaticFacts::new(service());
        facts.deployment = Ok(Arc::new(DeploymentFacts {
            id: "arn:aws:ecs:us-east-1:111122223333:service-deployment/prod/web/1".into(),
            status: "IN_PROGRESS".into(),
            started_at: Some(at(DEPLOYED)),
            green_tasks: TaskCounts::default(),
            alarm_names: deployment_alarms.iter().map(|n| (*n).to_owned()).collect(),
            triggered_alarms: Vec::new(),
            rollback: None,
            hook_expires_at: None,
            other_in_flight: Vec::new(),
        }));
        Arc::new(facts)
    }

    fn metric_alarm(name: &str, state: StateValue, since: u64) -> MetricAlarm {
        MetricAlarm::builder()
            .alarm_name(name)
            .alarm_arn(format!(
                "arn:aws:cloudwatch:us-east-1:111122223333:alarm:{name}"
            ))
            .state_value(state)
            .state_reason(format!("{name} is what it is"))
            .state_updated_timestamp(DateTime::from(at(since)))
            .state_transitioned_timestamp(DateTime::from(at(since)))
            .metric_name("HTTPCode_Target_5XX_Count")
            .statistic(Statistic::Sum)
            .comparison_operator(ComparisonOperator::GreaterThanThreshold)
            .threshold(5.0)
            .evaluation_periods(3)
            .datapoints_to_alarm(2)
            .period(60)
            .build()
    }

    fn ok(name: &str) -> MetricAlarm {
        metric_alarm(name, StateValue::Ok, DEPLOYED - 86_400)
    }

    fn page(alarms: Vec<MetricAlarm>) -> DescribeAlarmsOutput {
        DescribeAlarmsOutput::builder()
            .set_metric_alarms(Some(alarms))
            .build()
    }

    /// Answers every request naming alarms with those of `known` it names.
    fn known_alarms(known: Vec<MetricAlarm>) -> Rule {
        mock!(Client::describe_alarms)
            .match_requests(|input| !input.alarm_names().is_empty())
            .then_compute_output(move |input| {
                page(
                    known
                        .iter()
                        .filter(|alarm| {
                            input
                                .alarm_names()
                                .iter()
                                .any(|name| Some(name.as_str()) == alarm.alarm_name())
                        })
                        .cloned()
                        .collect(),
                )
            })
    }

    fn throttling() -> DescribeAlarmsError {
        DescribeAlarmsError::generic(
            ErrorMetadata::builder()
                .code("Throttling")
                .message("Rate exceeded")
                .build(),
        )
    }

    async fn run(params: AlarmsParams, facts: Arc<StaticFacts>, rules: &[&Rule]) -> Outcome {
        AlarmsCheck::new(params, facts, client(rules))
            .run(&stage(10))
            .await
    }

    #[tokio::test(start_paused = true)]
    async fn names_deployment_alarms_and_prefix_are_watched_together() {
        let by_name = known_alarms(vec![ok("web-5xx"), ok("web-latency")]);
        let by_prefix = mock!(Client::describe_alarms)
            .match_requests(|input| {
                input.alarm_name_prefix() == Some("web-")
                    && input.alarm_names().is_empty()
                    && input.alarm_types().contains(&AlarmType::CompositeAlarm)
                    && input.alarm_types().contains(&AlarmType::MetricAlarm)
            })
            .then_output(|| {
                DescribeAlarmsOutput::builder()
                    .metric_alarms(ok("web-5xx"))
                    .composite_alarms(
                        CompositeAlarm::builder()
                            .alarm_name("web-any")
                            .alarm_rule("ALARM(web-5xx) OR ALARM(web-latency)")
                            .state_value(StateValue::Ok)
                            .state_updated_timestamp(DateTime::from(at(DEPLOYED - 60)))
                            .build(),
                    )
                    .build()
            });
        let outcome = run(
            params(&["web-5xx"], Some("web-"), true),
            facts(&["web-latency", "web-5xx"]),
            &[&by_name, &by_prefix],
        )
        .await;
        assert_eq!(outcome.code, &ALARM_OK, "{}", outcome.message);
        let summary = outcome.evidence.last().expect("summary");
        assert_eq!(
            summary.value["names"],
            json!(["web-5xx", "web-latency", "web-any"])
        );
        assert_eq!(summary.samples, Some(3));
        assert_eq!((by_name.num_calls(), by_prefix.num_calls()), (1, 1));
    }

    #[tokio::test(start_paused = true)]
    async fn names_are_described_a_hundred_per_call() {
        let named: Vec<String> = (0..100).map(|i| format!("named-{i}")).collect();
        let deployment: Vec<String> = (0..50).map(|i| format!("deploy-{i}")).collect();
        let known: Vec<MetricAlarm> = named.iter().chain(&deployment).map(|n| ok(n)).collect();
        let rule = mock!(Client::describe_alarms)
            .match_requests(|input| {
                input.alarm_names().len() <= 100 && input.max_records() == Some(100)
            })
            .then_compute_output(move |input| {
                page(
                    known
                        .iter()
                        .filter(|a| {
                            input
                                .alarm_names()
                                .iter()
                                .any(|n| Some(n.as_str()) == a.alarm_name())
                        })
                        .cloned()
                        .collect(),
                )
            });
        let named_refs: Vec<&str> = named.iter().map(String::as_str).collect();
        let deployment_refs: Vec<&str> = deployment.iter().map(String::as_str).collect();
        let outcome = run(
            params(&named_refs, None, true),
            facts(&deployment_refs),
            &[&rule],
        )
        .await;
        assert_eq!(outcome.code, &ALARM_OK, "{}", outcome.message);
        assert!(
            outcome.message.contains("all 150 watched alarm(s)"),
            "{}",
            outcome.message
        );
        assert_eq!(rule.num_calls(), 2, "150 names in two calls");
    }

    #[tokio::test(start_paused = true)]
    async fn endless_pages_are_an_error_not_a_partial_pass() {
        // Every page is OK and names another: judging only what was read would pass on alarms
        // never looked at.
        let endless = mock!(Client::describe_alarms)
            .sequence()
            .output(|| {
                DescribeAlarmsOutput::builder()
                    .metric_alarms(ok("web-1"))
                    .next_token("more")
                    .build()
            })
            .repeatedly()
            .build();
        let outcome = run(params(&[], Some("web-"), false), facts(&[]), &[&endless]).await;
        assert_eq!(outcome.status, Status::Error, "{}", outcome.message);
        assert!(
            outcome.message.contains("narrower prefix"),
            "{}",
            outcome.message
        );
        assert_eq!(endless.num_calls(), MAX_PAGES);
    }

    #[tokio::test(start_paused = true)]
    async fn prefix_results_are_paginated() {
        let first = mock!(Client::describe_alarms)
            .match_requests(|input| input.next_token().is_none())
            .then_output(|| {
                DescribeAlarmsOutput::builder()
                    .metric_alarms(ok("web-1"))
                    .next_token("page-2")
                    .build()
            });
        let second = mock!(Client::describe_alarms)
            .match_requests(|input| input.next_token() == Some("page-2"))
            .then_output(|| {
                page(vec![metric_alarm(
                    "web-2",
                    StateValue::Alarm,
                    STARTED + 120,
                )])
            });
        let outcome = run(
            params(&[], Some("web-"), false),
            facts(&[]),
            &[&first, &second],
        )
        .await;
        assert_eq!(outcome.code, &ALARM_FIRING, "{}", outcome.message);
        assert_eq!(
            outcome.evidence[0].threshold.as_deref(),
            Some("HTTPCode_Target_5XX_Count Sum > 5 for 2 of 3 periods of 1m")
        );
        assert_eq!(
            outcome.evidence[0].value["watched_because"],
            json!(["prefix"])
        );
        assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_steady_composite_counts_by_the_alarms_its_rule_names() {
        let composite = || {
            CompositeAlarm::builder()
                .alarm_name("web-any")
                .alarm_rule("ALARM(web-5xx) OR ALARM(\"db-cpu\")")
                .state_value(StateValue::Ok)
                .state_updated_timestamp(DateTime::from(at(DEPLOYED - 86_400)))
                .build()
        };
        let first = mock!(Client::describe_alarms)
            .match_requests(|input| input.alarm_names() == ["web-any", "web-5xx"])
            .then_output(move || {
                DescribeAlarmsOutput::builder()
                    .metric_alarms(ok("web-5xx"))
                    .composite_alarms(composite())
                    .build()
            });
        let children = mock!(Client::describe_alarms)
            .match_requests(|input| input.alarm_names() == ["db-cpu"])
            .then_output(|| page(vec![ok("db-cpu")]));
        let fresh = AlarmsParams {
            require_evaluated_after_shift: true,
            ..params(&["web-any", "web-5xx"], None, false)
        };
        let outcome = run(fresh.clone(), facts(&[]), &[&first, &children]).await;
        assert_eq!(outcome.code, &ALARM_OK, "{}", outcome.message);
        assert_eq!((first.num_calls(), children.num_calls()), (1, 1));

        // Two minutes into the stage the children have not looked at a whole period yet.
        let early = AlarmsCheck::new(fresh, facts(&[]), client(&[&first, &children]))
            .run(&stage(2))
            .await;
        assert_eq!(
            early.code.code, "ALARM_NOT_EVALUATED_SINCE_SHIFT",
            "{}",
            early.message
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_alarm_firing_since_before_the_deployment_is_a_failed_precondition() {
        let rule = known_alarms(vec![metric_alarm(
            "web-5xx",
            StateValue::Alarm,
            DEPLOYED - 60,
        )]);
        let outcome = run(params(&[], None, true), facts(&["web-5xx"]), &[&rule]).await;
        assert_eq!(
            outcome.code, &ALARM_FIRING_BEFORE_DEPLOYMENT,
            "{}",
            outcome.message
        );
        assert_eq!(outcome.status, Status::Fail);
    }

    #[tokio::test(start_paused = true)]
    async fn a_missing_alarm_is_named() {
        let rule = known_alarms(vec![ok("web-5xx")]);
        let outcome = run(
            params(&["web-5xx", "web-typo"], None, false),
            facts(&[]),
            &[&rule],
        )
        .await;
        assert_eq!(outcome.code, &ALARM_NOT_FOUND);
        assert_eq!(outcome.error_class, Some(ErrorClass::Permanent));
        assert_eq!(outcome.message, "alarm web-typo (named) does not exist");
    }

    #[tokio::test(start_paused = true)]
    async fn failing_evaluations_come_through() {
        let mut broken = ok("web-insights");
        broken.evaluation_state = Some(EvaluationState::PartialData);
        let rule = known_alarms(vec![broken]);
        let outcome = run(params(&["web-insights"], None, false), facts(&[]), &[&rule]).await;
        assert_eq!(outcome.code, &ALARM_EVALUATION_FAILING);
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_then_success_is_retried_by_the_sdk() {
        let rule = mock!(Client::describe_alarms)
            .sequence()
            .error(throttling)
            .output(|| page(vec![ok("web-5xx")]))
            .build();
        let outcome = run(params(&["web-5xx"], None, false), facts(&[]), &[&rule]).await;
        assert_eq!(outcome.code, &ALARM_OK, "{}", outcome.message);
        assert_eq!(rule.num_calls(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn throttled_throughout_is_a_transient_error() {
        let rule = mock!(Client::describe_alarms)
            .sequence()
            .error(throttling)
            .times(3)
            .build();
        let outcome = run(params(&["web-5xx"], None, false), facts(&[]), &[&rule]).await;
        assert_eq!(outcome.code, &AWS_THROTTLED);
        assert_eq!(outcome.error_class, Some(ErrorClass::Transient));
        assert_eq!(rule.num_calls(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn access_denied_names_the_action_and_the_alarms() {
        let rule = mock!(Client::describe_alarms).then_error(|| {
            DescribeAlarmsError::generic(
                ErrorMetadata::builder()
                    .code("AccessDenied")
                    .message("User is not authorized to perform: cloudwatch:DescribeAlarms")
                    .build(),
            )
        });
        let outcome = run(params(&["web-5xx"], None, false), facts(&[]), &[&rule]).await;
        assert_eq!(outcome.code, &AWS_ACCESS_DENIED);
        assert!(outcome.is_permanent_error());
        assert_eq!(
            outcome.evidence[0].value,
            json!("cloudwatch:DescribeAlarms")
        );
        assert_eq!(
            outcome.evidence[0].resource.as_deref(),
            Some("arn:aws:cloudwatch:us-east-1:111122223333:alarm:*")
        );
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn deployment_alarms_need_the_deployment() {
        let rule = known_alarms(vec![ok("web-5xx")]);
        let unknown = Arc::new(StaticFacts::new(service()));
        let outcome = run(params(&[], None, true), Arc::clone(&unknown), &[&rule]).await;
        assert_eq!(outcome.code, &FACT_NOT_READY);
        assert_eq!(rule.num_calls(), 0);
        // Without deployment alarms the deployment is only a refinement.
        let outcome = run(params(&["web-5xx"], None, false), unknown, &[&rule]).await;
        assert_eq!(outcome.code, &ALARM_OK, "{}", outcome.message);
    }

    #[test]
    fn conditions_read_like_the_alarm() {
        let math = MetricAlarm::builder()
            .metrics(
                aws_sdk_cloudwatch::types::MetricDataQuery::builder()
                    .id("e1")
                    .expression("m1 / m2 * 100")
                    .return_data(true)
                    .build(),
            )
            .metrics(
                aws_sdk_cloudwatch::types::MetricDataQuery::builder()
                    .id("m1")
                    .metric_stat(
                        aws_sdk_cloudwatch::types::MetricStat::builder()
                            .period(300)
                            .stat("Sum")
                            .build(),
                    )
                    .return_data(false)
                    .build(),
            )
            .comparison_operator(ComparisonOperator::GreaterThanOrEqualToThreshold)
            .threshold(1.5)
            .evaluation_periods(1)
            .build();
        assert_eq!(
            metric_condition(&math),
            "metric math m1 / m2 * 100 >= 1.5 for 1 of 1 periods of 5m"
        );
        assert_eq!(metric_period(&math), Some(Duration::from_secs(300)));
        let p99 = MetricAlarm::builder()
            .metric_name("TargetResponseTime")
            .extended_statistic("p99")
            .comparison_operator(ComparisonOperator::GreaterThanUpperThreshold)
            .threshold_metric_id("ad1")
            .build();
        assert_eq!(
            metric_condition(&p99),
            "TargetResponseTime p99 above the band ad1"
        );
    }
}
