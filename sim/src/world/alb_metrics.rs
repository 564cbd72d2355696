//! ALB metrics from the requests the local data plane served.
//!
//! moto's CloudWatch stores only what is put into it, and no load balancer puts anything, so every
//! request [`crate::lb::LoadBalancerPlane`] proxies is recorded here ([`TrafficRecorder`]), and
//! `GetMetricData` queries of the `AWS/ApplicationELB` namespace are computed from the records the
//! way CloudWatch aggregates ALB metrics:
//! - dimensions `TargetGroup` (`targetgroup/<name>/<id>`, the end of the ARN) and/or
//!   `LoadBalancer` (`app/<name>/<id>`) select the requests;
//! - `RequestCount`, `HTTPCode_Target_{2,3,4,5}XX_Count`, `HTTPCode_ELB_{4,5}XX_Count`,
//!   `HTTPCode_ELB_502_Count`, `HTTPCode_ELB_503_Count` count requests, `TargetConnectionErrorCount`
//!   the requests routed to a target group whose target could not be reached (the load balancer's
//!   own 502); `TargetResponseTime` is
//!   each target answer's latency in seconds;
//! - statistics `Sum`, `SampleCount`, `Average`, `Minimum`, `Maximum`, percentiles `pNN[.N]` and
//!   percentile ranks `PR(low:high)` (the percentage of samples above `low` and at or below
//!   `high`, either bound optional: CloudWatch's "lower bound exclusive, upper inclusive");
//! - datapoints per `Period` from `StartTime` rounded down to the minute, up to `EndTime`; a
//!   period with no request has no datapoint (ALB publishes no zero counts); timestamps are the
//!   periods' starts, ordered by `ScanBy` (newest first unless asked otherwise).
//!
//! - a datapoint is published late ([`PublicationDelay`]): CloudWatch delivers load balancer
//!   metrics a minute or more after the requests, and the delay may differ by metric, so a recent
//!   minute can show its requests before its errors.
//!
//! A call that mixes these queries with others (custom metrics, metric math) has the others
//! answered by moto, and the results are merged in query order.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use bytes::Bytes;
use http::StatusCode;
use serde_json::{Value, json};

use super::World;
use super::query::json_body;
use crate::endpoint::{Call, Protocol, Reply, Supplement, SupplementFuture, Upstream};

/// The namespace answered here.
const NAMESPACE: &str = "AWS/ApplicationELB";

/// One request a load balancer served.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestRecord {
    /// When the response was sent.
    pub at: SystemTime,
    /// The load balancer's ARN.
    pub load_balancer_arn: String,
    /// The target group the request was routed to (`None`: answered by the load balancer itself,
    /// e.g. a fixed response).
    pub target_group_arn: Option<String>,
    /// The status the client got.
    pub status: u16,
    /// How long the target took to answer; `None` when no target answered (the load balancer made
    /// the response: no backend, backend unreachable, fixed response).
    pub target_response_time: Option<Duration>,
}

impl RequestRecord {
    fn elb_generated(&self) -> bool {
        self.target_response_time.is_none()
    }
}

/// How long after a request its samples become readable, by metric.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PublicationDelay {
    /// `RequestCount` and `TargetResponseTime`.
    pub requests: Duration,
    /// The status-code counts and `TargetConnectionErrorCount`.
    pub errors: Duration,
}

/// Every request the local load balancers served.
#[derive(Debug, Default)]
pub struct TrafficRecorder {
    records: Mutex<Vec<RequestRecord>>,
    delay: Mutex<PublicationDelay>,
}

impl TrafficRecorder {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<RequestRecord>> {
        self.records.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a request.
    pub fn record(&self, record: RequestRecord) {
        self.lock().push(record);
    }

    /// Every record so far, oldest first.
    pub fn records(&self) -> Vec<RequestRecord> {
        self.lock().clone()
    }

    /// The records of one target group.
    pub fn for_target_group(&self, target_group_arn: &str) -> Vec<RequestRecord> {
        self.lock()
            .iter()
            .filter(|record| record.target_group_arn.as_deref() == Some(target_group_arn))
            .cloned()
            .collect()
    }

    /// Forgets every record.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// Publishes samples `delay` after their requests from now on (none by default).
    pub fn set_publication_delay(&self, delay: PublicationDelay) {
        *self.delay.lock().unwrap_or_else(PoisonError::into_inner) = delay;
    }

    /// The samples of `metric` for the selected requests in `[from, to)`, with their times, or
    /// `None` when the metric is not an ALB metric answered here.
    fn samples(
        &self,
        metric: &str,
        selection: &Selection,
        from: SystemTime,
        to: SystemTime,
    ) -> Option<Vec<(SystemTime, f64)>> {
        let kind = MetricKind::of(metric)?;
        let delay = *self.delay.lock().unwrap_or_else(PoisonError::into_inner);
        let delay = match kind {
            MetricKind::RequestCount | MetricKind::TargetResponseTime => delay.requests,
            _ => delay.errors,
        };
        // Not yet published: anything later than `delay` before now.
        let to = to.min(SystemTime::now().checked_sub(delay).unwrap_or(UNIX_EPOCH));
        let records = self.lock();
        Some(
            records
                .iter()
                .filter(|record| record.at >= from && record.at < to && selection.selects(record))
                .filter_map(|record| kind.sample(record).map(|value| (record.at, value)))
                .collect(),
        )
    }
}

/// The ALB metrics answered here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MetricKind {
    RequestCount,
    /// Target answers whose status is in `[from, to)`.
    TargetCodes(u16, u16),
    /// Load-balancer answers whose status is in `[from, to)`.
    ElbCodes(u16, u16),
    TargetResponseTime,
    /// Requests routed to a target group whose target could not be reached: the load balancer
    /// answered 502 itself.
    TargetConnectionErrors,
}

impl MetricKind {
    fn of(metric: &str) -> Option<Self> {
        Some(match metric {
            "RequestCount" => Self::RequestCount,
            "HTTPCode_Target_2XX_Count" => Self::TargetCodes(200, 300),
            "HTTPCode_Target_3XX_Count" => Self::TargetCodes(300, 400),
            "HTTPCode_Target_4XX_Count" => Self::TargetCodes(400, 500),
            "HTTPCode_Target_5XX_Count" => Self::TargetCodes(500, 600),
            "HTTPCode_ELB_4XX_Count" => Self::ElbCodes(400, 500),
            "HTTPCode_ELB_5XX_Count" => Self::ElbCodes(500, 600),
            "HTTPCode_ELB_502_Count" => Self::ElbCodes(502, 503),
            "HTTPCode_ELB_503_Count" => Self::ElbCodes(503, 504),
            "TargetResponseTime" => Self::TargetResponseTime,
            "TargetConnectionErrorCount" => Self::TargetConnectionErrors,
            _ => return None,
        })
    }

    /// The record's sample of this metric: a count metric samples 1 per matching request.
    fn sample(self, record: &RequestRecord) -> Option<f64> {
        let status = record.status;
        match self {
            Self::RequestCount => Some(1.0),
            Self::TargetCodes(from, to) => {
                (!record.elb_generated() && (from..to).contains(&status)).then_some(1.0)
            }
            Self::ElbCodes(from, to) => {
                (record.elb_generated() && (from..to).contains(&status)).then_some(1.0)
            }
            Self::TargetResponseTime => record.target_response_time.map(|time| time.as_secs_f64()),
            Self::TargetConnectionErrors => {
                (record.elb_generated() && record.target_group_arn.is_some() && status == 502)
                    .then_some(1.0)
            }
        }
    }
}

/// Which requests a query's dimensions select.
#[derive(Debug, Default)]
struct Selection {
    target_group: Option<String>,
    load_balancer: Option<String>,
}

impl Selection {
    fn selects(&self, record: &RequestRecord) -> bool {
        let group_ok = self.target_group.as_deref().is_none_or(|wanted| {
            record
                .target_group_arn
                .as_deref()
                .is_some_and(|arn| target_group_dimension(arn) == wanted)
        });
        let balancer_ok = self
            .load_balancer
            .as_deref()
            .is_none_or(|wanted| load_balancer_dimension(&record.load_balancer_arn) == wanted);
        group_ok && balancer_ok
    }
}

/// The `TargetGroup` dimension of a target group ARN: `targetgroup/<name>/<id>`.
pub(crate) fn target_group_dimension(arn: &str) -> &str {
    arn.rsplit_once(':').map_or(arn, |(_, resource)| resource)
}

/// The `LoadBalancer` dimension of a load balancer ARN: `app/<name>/<id>`.
pub(crate) fn load_balancer_dimension(arn: &str) -> &str {
    let resource = arn.rsplit_once(':').map_or(arn, |(_, resource)| resource);
    resource.strip_prefix("loadbalancer/").unwrap_or(resource)
}

/// A statistic CloudWatch can compute.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Statistic {
    Sum,
    SampleCount,
    Average,
    Minimum,
    Maximum,
    Percentile(f64),
    PercentileRank {
        above: Option<f64>,
        at_most: Option<f64>,
    },
}

impl Statistic {
    fn parse(stat: &str) -> Option<Self> {
        Some(match stat {
            "Sum" => Self::Sum,
            "SampleCount" => Self::SampleCount,
            "Average" => Self::Average,
            "Minimum" => Self::Minimum,
            "Maximum" => Self::Maximum,
            other if other.starts_with("PR(") => {
                let bounds = other.strip_prefix("PR(")?.strip_suffix(')')?;
                let (low, high) = bounds.split_once(':')?;
                let bound = |text: &str| -> Option<Option<f64>> {
                    let text = text.trim();
                    if text.is_empty() {
                        return Some(None);
                    }
                    // Percentile ranks take absolute values only.
                    let value: f64 = text.parse().ok()?;
                    value.is_finite().then_some(Some(value))
                };
                let (above, at_most) = (bound(low)?, bound(high)?);
                if above.is_none() && at_most.is_none() {
                    return None;
                }
                Self::PercentileRank { above, at_most }
            }
            other => {
                let percent: f64 = other.strip_prefix('p')?.parse().ok()?;
                if !(0.0..=100.0).contains(&percent) {
                    return None;
                }
                Self::Percentile(percent)
            }
        })
    }

    /// The statistic of a non-empty set of samples.
    fn of(self, samples: &mut [f64]) -> f64 {
        #[allow(clippy::cast_precision_loss)]
        let count = samples.len() as f64;
        match self {
            Self::Sum => samples.iter().sum(),
            Self::SampleCount => count,
            Self::Average => samples.iter().sum::<f64>() / count,
            Self::Minimum => samples.iter().copied().fold(f64::INFINITY, f64::min),
            Self::Maximum => samples.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            Self::PercentileRank { above, at_most } => {
                let inside = samples
                    .iter()
                    .filter(|v| above.is_none_or(|low| **v > low))
                    .filter(|v| at_most.is_none_or(|high| **v <= high))
                    .count();
                #[allow(clippy::cast_precision_loss)]
                let inside = inside as f64;
                100.0 * inside / count
            }
            Self::Percentile(percent) => {
                samples.sort_by(f64::total_cmp);
                // Nearest rank: the smallest sample with at least `percent` % of samples at or
                // below it.
                #[allow(
                    clippy::cast_possible_truncation,
                    clippy::cast_sign_loss,
                    clippy::cast_precision_loss
                )]
                let rank = ((percent / 100.0) * count).ceil().max(1.0) as usize;
                samples[rank.min(samples.len()) - 1]
            }
        }
    }
}

/// One `MetricDataQuery` answered here.
struct AlbQuery {
    id: String,
    label: String,
    metric: String,
    selection: Selection,
    period: Duration,
    statistic: Statistic,
}

/// Why a call cannot be answered: CloudWatch's `InvalidParameterValue`.
struct InvalidParameter(String);

/// The query, if it is one answered here; an error if it is but is malformed.
fn alb_query(index: usize, query: &Value) -> Result<Option<AlbQuery>, InvalidParameter> {
    let Some(stat) = query.get("MetricStat") else {
        return Ok(None);
    };
    let metric = stat.get("Metric").unwrap_or(&Value::Null);
    let namespace = metric.get("Namespace").and_then(Value::as_str);
    let Some(name) = metric.get("MetricName").and_then(Value::as_str) else {
        return Ok(None);
    };
    if namespace != Some(NAMESPACE) || MetricKind::of(name).is_none() {
        return Ok(None);
    }
    let mut selection = Selection::default();
    let dimensions = metric
        .get("Dimensions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for dimension in &dimensions {
        let name = dimension.get("Name").and_then(Value::as_str);
        let value = dimension
            .get("Value")
            .and_then(Value::as_str)
            .map(str::to_owned);
        match name {
            Some("TargetGroup") => selection.target_group = value,
            Some("LoadBalancer") => selection.load_balancer = value,
            // Other dimensions (AvailabilityZone) are not recorded: moto answers (no data).
            _ => return Ok(None),
        }
    }
    if selection.target_group.is_none() && selection.load_balancer.is_none() {
        return Ok(None);
    }
    let member = format!("MetricDataQueries.member.{}", index + 1);
    let id = query
        .get("Id")
        .and_then(Value::as_str)
        .ok_or_else(|| InvalidParameter(format!("The parameter {member}.Id is required.")))?
        .to_owned();
    let stat_name = stat.get("Stat").and_then(Value::as_str).unwrap_or_default();
    let statistic = Statistic::parse(stat_name).ok_or_else(|| {
        InvalidParameter(format!(
            "The value {stat_name} for parameter {member}.MetricStat.Stat is not valid."
        ))
    })?;
    let period = stat
        .get("Period")
        .and_then(Value::as_u64)
        .filter(|period| *period > 0)
        .ok_or_else(|| {
            InvalidParameter(format!(
                "The parameter {member}.MetricStat.Period must be a positive number of seconds."
            ))
        })?;
    let label = query
        .get("Label")
        .and_then(Value::as_str)
        .unwrap_or(name)
        .to_owned();
    Ok(Some(AlbQuery {
        id,
        label,
        metric: name.to_owned(),
        selection,
        period: Duration::from_secs(period),
        statistic,
    }))
}

/// A JSON 1.0 timestamp: epoch seconds, or an ISO 8601 string.
fn timestamp(value: Option<&Value>, member: &str) -> Result<SystemTime, InvalidParameter> {
    let seconds = match value {
        Some(Value::Number(number)) => number.as_f64(),
        Some(Value::String(text)) => DateTime::from_str(text, Format::DateTime)
            .ok()
            .map(|at| at.as_secs_f64()),
        _ => None,
    }
    .filter(|seconds| seconds.is_finite() && *seconds >= 0.0)
    .ok_or_else(|| InvalidParameter(format!("The parameter {member} is required.")))?;
    Ok(UNIX_EPOCH + Duration::from_secs_f64(seconds))
}

fn epoch_seconds(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()
}

impl TrafficRecorder {
    /// The `MetricDataResult` of one query over `[start, end)`.
    fn result(
        &self,
        query: &AlbQuery,
        start: SystemTime,
        end: SystemTime,
        ascending: bool,
    ) -> Value {
        // CloudWatch rounds a recent StartTime down to the minute; periods start there.
        let origin = UNIX_EPOCH + Duration::from_secs(epoch_seconds(start) / 60 * 60);
        let samples = self
            .samples(&query.metric, &query.selection, origin, end)
            .unwrap_or_default();
        let mut points = Vec::new();
        let mut bucket_start = origin;
        while bucket_start < end {
            let bucket_end = bucket_start + query.period;
            let mut values: Vec<f64> = samples
                .iter()
                .filter(|(at, _)| *at >= bucket_start && *at < bucket_end)
                .map(|(_, value)| *value)
                .collect();
            if !values.is_empty() {
                points.push((epoch_seconds(bucket_start), query.statistic.of(&mut values)));
            }
            bucket_start = bucket_end;
        }
        if !ascending {
            points.reverse();
        }
        json!({
            "Id": query.id,
            "Label": query.label,
            "Timestamps": points.iter().map(|(at, _)| *at).collect::<Vec<u64>>(),
            "Values": points.iter().map(|(_, value)| *value).collect::<Vec<f64>>(),
            "StatusCode": "Complete",
        })
    }
}

/// Answers `GetMetricData` queries of ALB metrics from the world's traffic.
pub(crate) struct AlbMetricsSupplement {
    world: World,
}

impl AlbMetricsSupplement {
    pub(crate) fn new(world: World) -> Self {
        Self { world }
    }

    async fn answer_call(&self, call: &Call, upstream: &Upstream) -> Option<Reply> {
        let input = json_body(call).ok()?;
        let queries = input.get("MetricDataQueries")?.as_array()?;
        let mut ours = Vec::new();
        for (index, query) in queries.iter().enumerate() {
            match alb_query(index, query) {
                Ok(Some(alb)) => ours.push((index, alb)),
                Ok(None) => {}
                Err(InvalidParameter(message)) => return Some(invalid_parameter(&message)),
            }
        }
        if ours.is_empty() {
            return None;
        }
        let (start, end) = match (
            timestamp(input.get("StartTime"), "StartTime"),
            timestamp(input.get("EndTime"), "EndTime"),
        ) {
            (Ok(start), Ok(end)) => (start, end),
            (Err(InvalidParameter(message)), _) | (_, Err(InvalidParameter(message))) => {
                return Some(invalid_parameter(&message));
            }
        };
        if end <= start {
            return Some(invalid_parameter(
                "The parameter StartTime must be less than the parameter EndTime.",
            ));
        }
        let ascending = input.get("ScanBy").and_then(Value::as_str) == Some("TimestampAscending");
        let traffic = self.world.traffic();
        let mut answered: Vec<(usize, Value)> = ours
            .iter()
            .map(|(index, query)| (*index, traffic.result(query, start, end, ascending)))
            .collect();

        let others: Vec<Value> = queries
            .iter()
            .enumerate()
            .filter(|(index, _)| !ours.iter().any(|(mine, _)| mine == index))
            .map(|(_, query)| query.clone())
            .collect();
        let mut next_token = None;
        let mut messages = Vec::new();
        if !others.is_empty() {
            let mut forwarded_input = input.clone();
            forwarded_input["MetricDataQueries"] = Value::Array(others);
            let mut forwarded = call.clone();
            forwarded.body = Bytes::from(forwarded_input.to_string());
            forwarded.headers.remove(http::header::CONTENT_LENGTH);
            let reply = match upstream.forward(&forwarded).await {
                Ok(reply) => reply,
                Err(error) => {
                    return Some(Reply::json_error(
                        StatusCode::BAD_GATEWAY,
                        "InternalFailure",
                        &format!("the local AWS endpoint could not reach moto: {error}"),
                    ));
                }
            };
            if !reply.status.is_success() {
                return Some(reply);
            }
            let Ok(output) = serde_json::from_slice::<Value>(&reply.body) else {
                return Some(reply);
            };
            for result in output
                .get("MetricDataResults")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
            {
                let id = result.get("Id").and_then(Value::as_str);
                let index = queries
                    .iter()
                    .position(|query| query.get("Id").and_then(Value::as_str) == id);
                answered.push((index.unwrap_or(usize::MAX), result));
            }
            next_token = output.get("NextToken").cloned();
            if let Some(Value::Array(more)) = output.get("Messages") {
                messages.extend(more.iter().cloned());
            }
        }
        answered.sort_by_key(|(index, _)| *index);
        let results: Vec<Value> = answered
            .into_iter()
            .filter(|(index, _)| {
                queries
                    .get(*index)
                    .and_then(|query| query.get("ReturnData"))
                    .and_then(Value::as_bool)
                    != Some(false)
            })
            .map(|(_, result)| result)
            .collect();
        let mut output = json!({ "MetricDataResults": results, "Messages": messages });
        if let Some(token) = next_token.filter(|token| !token.is_null()) {
            output["NextToken"] = token;
        }
        let mut reply = Reply::json(StatusCode::OK, &output);
        reply.headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/x-amz-json-1.0"),
        );
        Some(reply)
    }
}

fn invalid_parameter(message: &str) -> Reply {
    Reply::json_error(StatusCode::BAD_REQUEST, "InvalidParameterValue", message)
}

impl Supplement for AlbMetricsSupplement {
    fn answer<'a>(&'a self, call: &'a Call, upstream: &'a Upstream) -> SupplementFuture<'a> {
        Box::pin(async move {
            if call.service != "cloudwatch"
                || call.protocol != Protocol::AwsJson
                || call.operation != "GetMetricData"
            {
                return None;
            }
            self.answer_call(call, upstream).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LB: &str =
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188";
    const GREEN: &str =
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/green/73e2d6bc24d8a067";
    const BLUE: &str =
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/blue/1111111111111111";

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

    fn served(recorder: &TrafficRecorder, seconds: u64, group: &str, status: u16, millis: u64) {
        recorder.record(RequestRecord {
            at: at(seconds),
            load_balancer_arn: LB.to_owned(),
            target_group_arn: Some(group.to_owned()),
            status,
            target_response_time: Some(Duration::from_millis(millis)),
        });
    }

    fn query(metric: &str, stat: &str, period: u64, group: &str) -> AlbQuery {
        alb_query(
            0,
            &json!({
                "Id": "q0",
                "MetricStat": {
                    "Metric": {
                        "Namespace": NAMESPACE,
                        "MetricName": metric,
                        "Dimensions": [
                            { "Name": "TargetGroup", "Value": target_group_dimension(group) },
                            { "Name": "LoadBalancer", "Value": load_balancer_dimension(LB) },
                        ],
                    },
                    "Period": period,
                    "Stat": stat,
                },
            }),
        )
        .ok()
        .flatten()
        .expect("an ALB query")
    }

    #[test]
    fn dimensions_are_the_arn_suffixes() {
        assert_eq!(
            target_group_dimension(GREEN),
            "targetgroup/green/73e2d6bc24d8a067"
        );
        assert_eq!(load_balancer_dimension(LB), "app/web/50dc6c495c0c9188");
    }

    #[test]
    fn counts_are_bucketed_by_period_without_empty_buckets() {
        let recorder = TrafficRecorder::default();
        // Minute 600..660: 3 green (one 500), 1 blue; minute 660..720: none; 720..780: 1 green.
        served(&recorder, 601, GREEN, 200, 10);
        served(&recorder, 610, GREEN, 500, 30);
        served(&recorder, 659, GREEN, 200, 20);
        served(&recorder, 630, BLUE, 200, 5);
        served(&recorder, 725, GREEN, 204, 40);
        recorder.record(RequestRecord {
            at: at(640),
            load_balancer_arn: LB.to_owned(),
            target_group_arn: Some(GREEN.to_owned()),
            status: 502,
            target_response_time: None,
        });
        let result = recorder.result(
            &query("RequestCount", "Sum", 60, GREEN),
            at(615),
            at(780),
            true,
        );
        assert_eq!(result["Timestamps"], json!([600, 720]));
        assert_eq!(result["Values"], json!([4.0, 1.0]));
        let descending = recorder.result(
            &query("RequestCount", "Sum", 60, GREEN),
            at(600),
            at(780),
            false,
        );
        assert_eq!(descending["Timestamps"], json!([720, 600]));

        let errors = recorder.result(
            &query("HTTPCode_Target_5XX_Count", "Sum", 180, GREEN),
            at(600),
            at(780),
            true,
        );
        assert_eq!(errors["Values"], json!([1.0]));
        let elb = recorder.result(
            &query("HTTPCode_ELB_5XX_Count", "Sum", 180, GREEN),
            at(600),
            at(780),
            true,
        );
        assert_eq!(elb["Values"], json!([1.0]));
        let none = recorder.result(
            &query("HTTPCode_Target_4XX_Count", "Sum", 180, GREEN),
            at(600),
            at(780),
            true,
        );
        assert_eq!(none["Values"], json!([]));
        assert_eq!(none["StatusCode"], "Complete");
    }

    #[test]
    fn a_recent_minute_can_show_its_requests_before_its_errors() {
        let recorder = TrafficRecorder::default();
        let now = epoch_seconds(SystemTime::now());
        let minute = now / 60 * 60 - 60;
        for second in 0..10 {
            served(&recorder, minute + second, GREEN, 500, 10);
        }
        recorder.set_publication_delay(PublicationDelay {
            requests: Duration::ZERO,
            errors: Duration::from_secs(3600),
        });
        let read = |metric: &str| {
            recorder.result(
                &query(metric, "Sum", 60, GREEN),
                at(minute),
                at(now + 60),
                true,
            )["Values"]
                .clone()
        };
        assert_eq!(read("RequestCount"), json!([10.0]));
        // Ten 500s, none published yet: no datapoint, exactly like a minute without errors.
        assert_eq!(read("HTTPCode_Target_5XX_Count"), json!([]));
        recorder.set_publication_delay(PublicationDelay::default());
        assert_eq!(read("HTTPCode_Target_5XX_Count"), json!([10.0]));
    }

    #[test]
    fn response_time_statistics_are_in_seconds() {
        let recorder = TrafficRecorder::default();
        for millis in 1..=100 {
            served(&recorder, 600 + millis % 50, GREEN, 200, millis);
        }
        let value = |stat: &str| {
            recorder.result(
                &query("TargetResponseTime", stat, 300, GREEN),
                at(600),
                at(900),
                true,
            )["Values"][0]
                .as_f64()
                .expect("a value")
        };
        assert!((value("p99") - 0.099).abs() < 1e-9);
        assert!((value("p50") - 0.050).abs() < 1e-9);
        assert!((value("p99.9") - 0.100).abs() < 1e-9);
        assert!((value("Average") - 0.0505).abs() < 1e-9);
        assert!((value("Maximum") - 0.100).abs() < 1e-9);
        assert!((value("Minimum") - 0.001).abs() < 1e-9);
        assert!((value("SampleCount") - 100.0).abs() < 1e-9);
        // Percentile ranks: the lower bound is exclusive, the upper inclusive.
        assert!((value("PR(:0.05)") - 50.0).abs() < 1e-9);
        assert!((value("PR(:0.0995)") - 99.0).abs() < 1e-9);
        assert!((value("PR(0.05:)") - 50.0).abs() < 1e-9);
        assert!((value("PR(0.01:0.02)") - 10.0).abs() < 1e-9);
        for malformed in ["PR(:)", "PR(5)", "PR(:50%)", "PR(:x)", "PR(:1"] {
            assert!(
                Statistic::parse(malformed).is_none(),
                "{malformed} is not a statistic"
            );
        }
    }

    #[test]
    fn malformed_alb_queries_are_invalid_parameters_and_others_are_not_ours() {
        let bad_stat = alb_query(
            2,
            &json!({ "Id": "x", "MetricStat": { "Metric": { "Namespace": NAMESPACE,
                "MetricName": "RequestCount", "Dimensions": [{ "Name": "TargetGroup", "Value": "t" }] },
                "Period": 60, "Stat": "Median" } }),
        );
        match bad_stat {
            Err(InvalidParameter(message)) => assert!(
                message.contains("Median for parameter MetricDataQueries.member.3.MetricStat.Stat"),
                "{message}"
            ),
            _ => panic!("expected an invalid parameter"),
        }
        let custom = json!({ "Id": "c", "MetricStat": { "Metric": { "Namespace": "App",
            "MetricName": "Jobs" }, "Period": 60, "Stat": "Sum" } });
        assert!(matches!(alb_query(0, &custom), Ok(None)));
        let by_zone = json!({ "Id": "z", "MetricStat": { "Metric": { "Namespace": NAMESPACE,
            "MetricName": "RequestCount", "Dimensions": [{ "Name": "AvailabilityZone", "Value": "a" }] },
            "Period": 60, "Stat": "Sum" } });
        assert!(matches!(alb_query(0, &by_zone), Ok(None)));
        let math = json!({ "Id": "e", "Expression": "m1 * 2" });
        assert!(matches!(alb_query(0, &math), Ok(None)));
    }
}
