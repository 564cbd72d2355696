//! Injected faults: AWS calls that are slow, throttled, denied, failing or cut off.
//!
//! A [`FaultRule`] picks calls by service (IAM prefix) and optionally operation, fires with a
//! probability drawn from a seeded generator (the same seed gives the same faults), within a time
//! window relative to when it was added, and at most so many times. The fault supplement is the
//! first the endpoint asks, so faults hit answers moto gives and answers the world gives alike.
//! Errors are in the call's own dialect, with the codes and messages real AWS sends, so the SDK's
//! error classification sees what it would in production.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use http::StatusCode;
use tokio::time::Instant;

use super::prng::Prng;
use super::query::{ErrorCodes, error_reply, field, form_fields, json_body};
use super::{World, WorldError};
use crate::endpoint::{Call, Protocol, Reply, Supplement, SupplementFuture, Upstream};
use crate::local_aws::ACCOUNT_ID;

/// The seed of a new plan's generator.
const DEFAULT_SEED: u64 = 0x0067_7265_656E_6C69;

/// What an injected fault does to a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Wait this long, then answer normally. Each call waits on its own, so concurrent calls are
    /// delayed side by side, not one after another.
    Latency(Duration),
    /// A throttling error: `ThrottlingException` (JSON) or `Throttling` (Query, CloudWatch), 400.
    Throttle,
    /// An internal server error: `InternalFailure`, 500.
    ServerError,
    /// An IAM denial naming the action and resource, like real AWS: `AccessDeniedException`
    /// (JSON) or `AccessDenied` (Query, CloudWatch), 400 / 403.
    AccessDenied,
    /// The connection is closed without an answer.
    DropConnection,
}

/// Which calls a fault hits, and how often.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultRule {
    /// The service by its IAM prefix: `ecs`, `elasticloadbalancing`, `cloudwatch`, `ecr`,
    /// `codedeploy`, `lambda`, ...
    pub service: String,
    /// The operation (`DescribeServiceRevisions`); `None` hits every operation of the service.
    pub operation: Option<String>,
    /// What happens to a hit call.
    pub fault: Fault,
    /// The chance, from 0 to 1, that a matching call is hit.
    pub probability: f64,
    /// The rule starts this long after it was added (at once when `None`).
    pub after: Option<Duration>,
    /// The rule ends this long after it was added (never when `None`).
    pub until: Option<Duration>,
    /// The rule hits at most this many calls (no limit when `None`).
    pub max_hits: Option<u32>,
}

impl FaultRule {
    /// A rule that hits every call of `service` with `fault`, from now on, every time.
    pub fn new(service: &str, fault: Fault) -> Self {
        Self {
            service: service.to_owned(),
            operation: None,
            fault,
            probability: 1.0,
            after: None,
            until: None,
            max_hits: None,
        }
    }

    /// Only `operation` of the service.
    #[must_use]
    pub fn operation(mut self, operation: &str) -> Self {
        self.operation = Some(operation.to_owned());
        self
    }

    /// Hits a matching call with this chance (0 to 1).
    #[must_use]
    pub fn probability(mut self, probability: f64) -> Self {
        self.probability = probability;
        self
    }

    /// Active from `after` to `until` after the rule was added.
    #[must_use]
    pub fn window(mut self, after: Option<Duration>, until: Option<Duration>) -> Self {
        self.after = after;
        self.until = until;
        self
    }

    /// Hits at most `max_hits` calls.
    #[must_use]
    pub fn max_hits(mut self, max_hits: u32) -> Self {
        self.max_hits = Some(max_hits);
        self
    }

    fn validate(&self) -> Result<(), WorldError> {
        let invalid = |detail: String| WorldError::InvalidInput {
            what: "fault rule",
            detail,
        };
        if self.service.trim().is_empty() {
            return Err(invalid(
                "`service` is empty: name the service by its IAM prefix, e.g. `ecs`".to_owned(),
            ));
        }
        if !(0.0..=1.0).contains(&self.probability) {
            return Err(invalid(format!(
                "`probability` is {}: it must be between 0 and 1",
                self.probability
            )));
        }
        if let (Some(after), Some(until)) = (self.after, self.until)
            && until <= after
        {
            return Err(invalid(format!(
                "`until` ({until:?}) is not after `after` ({after:?}): the rule would never apply"
            )));
        }
        Ok(())
    }
}

/// Identifies a rule added to a [`FaultPlan`], to read its hit count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FaultId(u64);

/// The faults in force.
#[derive(Debug)]
pub struct FaultPlan {
    state: Mutex<PlanState>,
}

#[derive(Debug)]
struct PlanState {
    rules: Vec<ActiveRule>,
    next_id: u64,
    prng: Prng,
    /// Hits of rules since removed by `clear`, so counts stay readable.
    retired_hits: Vec<(FaultId, u32)>,
}

#[derive(Debug)]
struct ActiveRule {
    id: FaultId,
    rule: FaultRule,
    added_at: Instant,
    hits: u32,
}

impl Default for FaultPlan {
    fn default() -> Self {
        Self {
            state: Mutex::new(PlanState {
                rules: Vec::new(),
                next_id: 0,
                prng: Prng::new(DEFAULT_SEED),
                retired_hits: Vec::new(),
            }),
        }
    }
}

impl FaultPlan {
    fn lock(&self) -> std::sync::MutexGuard<'_, PlanState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Puts a rule in force from now; rules are tried in the order they were added.
    pub fn add(&self, rule: FaultRule) -> Result<FaultId, WorldError> {
        rule.validate()?;
        let mut state = self.lock();
        let id = FaultId(state.next_id);
        state.next_id += 1;
        state.rules.push(ActiveRule {
            id,
            rule,
            added_at: Instant::now(),
            hits: 0,
        });
        Ok(id)
    }

    /// Removes every rule (their hit counts stay readable).
    pub fn clear(&self) {
        let mut state = self.lock();
        let retired: Vec<(FaultId, u32)> = state
            .rules
            .drain(..)
            .map(|rule| (rule.id, rule.hits))
            .collect();
        state.retired_hits.extend(retired);
    }

    /// Restarts the generator that decides probabilistic hits, for a reproducible run.
    pub fn reseed(&self, seed: u64) {
        self.lock().prng = Prng::new(seed);
    }

    /// How many calls the rule has hit.
    pub fn hits(&self, id: FaultId) -> u32 {
        let state = self.lock();
        state
            .rules
            .iter()
            .find(|rule| rule.id == id)
            .map(|rule| rule.hits)
            .or_else(|| {
                state
                    .retired_hits
                    .iter()
                    .find(|(retired, _)| *retired == id)
                    .map(|(_, hits)| *hits)
            })
            .unwrap_or_default()
    }

    /// The faults that hit a call of `service`/`operation` now, in rule order; each hit counts.
    fn draw(&self, service: &str, operation: &str) -> Vec<Fault> {
        let now = Instant::now();
        let mut state = self.lock();
        let PlanState { rules, prng, .. } = &mut *state;
        let mut faults = Vec::new();
        for active in rules.iter_mut() {
            let rule = &active.rule;
            let elapsed = now.saturating_duration_since(active.added_at);
            let matches = rule.service == service
                && rule.operation.as_deref().is_none_or(|op| op == operation)
                && rule.after.is_none_or(|after| elapsed >= after)
                && rule.until.is_none_or(|until| elapsed < until)
                && rule.max_hits.is_none_or(|max| active.hits < max);
            if !matches {
                continue;
            }
            let fires = rule.probability >= 1.0 || prng.next_f64() < rule.probability;
            if fires {
                active.hits += 1;
                faults.push(rule.fault);
            }
        }
        faults
    }
}

/// Applies the world's fault plan to every call.
pub(crate) struct FaultSupplement {
    world: World,
}

impl FaultSupplement {
    pub(crate) fn new(world: World) -> Self {
        Self { world }
    }
}

impl Supplement for FaultSupplement {
    fn answer<'a>(&'a self, call: &'a Call, _upstream: &'a Upstream) -> SupplementFuture<'a> {
        Box::pin(async move {
            let faults = self.world.faults().draw(&call.service, &call.operation);
            let mut delay = Duration::ZERO;
            let mut failure = None;
            for fault in faults {
                match fault {
                    Fault::Latency(extra) => delay += extra,
                    other => {
                        failure = Some(other);
                        break;
                    }
                }
            }
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            failure.map(|fault| fault_reply(call, fault))
        })
    }
}

/// The answer AWS gives when `fault` hits `call`.
pub(crate) fn fault_reply(call: &Call, fault: Fault) -> Reply {
    // CloudWatch came from the Query protocol and keeps its error codes in JSON and CBOR.
    let query_codes = call.protocol == Protocol::Query || call.service == "cloudwatch";
    let pick = |json: &'static str, query: &'static str| ErrorCodes {
        json: if query_codes { query } else { json },
        query,
    };
    match fault {
        Fault::Latency(_) => Reply::json_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalFailure",
            "latency is not an error",
        ),
        Fault::Throttle => error_reply(
            call,
            StatusCode::BAD_REQUEST,
            true,
            pick("ThrottlingException", "Throttling"),
            "Rate exceeded",
        ),
        Fault::ServerError => error_reply(
            call,
            StatusCode::INTERNAL_SERVER_ERROR,
            false,
            ErrorCodes {
                json: "InternalFailure",
                query: "InternalFailure",
            },
            "The request processing has failed because of an unknown error, exception or failure.",
        ),
        Fault::AccessDenied => {
            let status = if call.protocol == Protocol::Query {
                StatusCode::FORBIDDEN
            } else {
                StatusCode::BAD_REQUEST
            };
            error_reply(
                call,
                status,
                true,
                pick("AccessDeniedException", "AccessDenied"),
                &access_denied_message(call),
            )
        }
        Fault::DropConnection => Reply::drop_connection(),
    }
}

/// The message IAM gives: who, which action, which resource, and why.
fn access_denied_message(call: &Call) -> String {
    format!(
        "User: arn:aws:sts::{ACCOUNT_ID}:assumed-role/greenlight-rehearsal/greenlight is not \
         authorized to perform: {}:{} on resource: {} because no identity-based policy allows the \
         {}:{} action",
        call.service,
        call.operation,
        resource_of(call),
        call.service,
        call.operation
    )
}

/// The resource a call is about, as far as its input names one; `*` otherwise.
fn resource_of(call: &Call) -> String {
    const JSON_FIELDS: [&str; 6] = [
        "serviceRevisionArns",
        "serviceDeploymentArns",
        "service",
        "cluster",
        "repositoryName",
        "deploymentId",
    ];
    const QUERY_FIELDS: [&str; 4] = [
        "TargetGroupArn",
        "ListenerArn",
        "LoadBalancerArns.member.1",
        "RuleArns.member.1",
    ];
    match call.protocol {
        Protocol::Query => {
            let fields = form_fields(call);
            QUERY_FIELDS
                .iter()
                .find_map(|name| field(&fields, name))
                .unwrap_or("*")
                .to_owned()
        }
        _ => {
            let Ok(body) = json_body(call) else {
                return "*".to_owned();
            };
            JSON_FIELDS
                .iter()
                .find_map(|name| match body.get(name)? {
                    serde_json::Value::String(text) => Some(text.clone()),
                    serde_json::Value::Array(items) => items.first()?.as_str().map(str::to_owned),
                    _ => None,
                })
                .unwrap_or_else(|| "*".to_owned())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http::{HeaderMap, Method, Uri};

    fn call(service: &str, operation: &str, protocol: Protocol, body: &str) -> Call {
        Call {
            service: service.to_owned(),
            operation: operation.to_owned(),
            protocol,
            method: Method::POST,
            uri: Uri::from_static("/"),
            headers: HeaderMap::new(),
            body: Bytes::from(body.to_owned()),
        }
    }

    #[test]
    fn rules_are_validated_with_the_field_named() {
        let plan = FaultPlan::default();
        let error = plan
            .add(FaultRule::new("ecs", Fault::Throttle).probability(1.5))
            .expect_err("out of range");
        assert!(
            error.to_string().contains("`probability` is 1.5"),
            "{error}"
        );
        let error = plan
            .add(FaultRule::new(" ", Fault::Throttle))
            .expect_err("no service");
        assert!(error.to_string().contains("`service` is empty"), "{error}");
        let error = plan
            .add(
                FaultRule::new("ecs", Fault::Throttle)
                    .window(Some(Duration::from_secs(5)), Some(Duration::from_secs(1))),
            )
            .expect_err("empty window");
        assert!(error.to_string().contains("`until`"), "{error}");
    }

    #[tokio::test(start_paused = true)]
    async fn rules_match_by_service_operation_window_and_hit_limit() {
        let plan = FaultPlan::default();
        let limited = plan
            .add(
                FaultRule::new("ecs", Fault::Throttle)
                    .operation("DescribeServices")
                    .max_hits(2),
            )
            .expect("valid");
        let windowed = plan
            .add(
                FaultRule::new("cloudwatch", Fault::ServerError)
                    .window(Some(Duration::from_secs(10)), Some(Duration::from_secs(20))),
            )
            .expect("valid");
        assert_eq!(plan.draw("ecs", "DescribeTasks"), vec![]);
        assert_eq!(plan.draw("ecs", "DescribeServices"), vec![Fault::Throttle]);
        assert_eq!(plan.draw("ecs", "DescribeServices"), vec![Fault::Throttle]);
        assert_eq!(plan.draw("ecs", "DescribeServices"), vec![]);
        assert_eq!(plan.hits(limited), 2);

        assert_eq!(plan.draw("cloudwatch", "GetMetricData"), vec![]);
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(
            plan.draw("cloudwatch", "GetMetricData"),
            vec![Fault::ServerError]
        );
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(plan.draw("cloudwatch", "GetMetricData"), vec![]);
        assert_eq!(plan.hits(windowed), 1);

        plan.clear();
        assert_eq!(plan.draw("ecs", "DescribeServices"), vec![]);
        assert_eq!(plan.hits(limited), 2, "counts survive clear");
    }

    #[test]
    fn probabilistic_rules_are_reproducible_for_a_seed() {
        let run = |seed: u64| {
            let plan = FaultPlan::default();
            plan.reseed(seed);
            plan.add(FaultRule::new("ecr", Fault::Throttle).probability(0.3))
                .expect("valid");
            (0..200)
                .map(|_| !plan.draw("ecr", "DescribeImages").is_empty())
                .collect::<Vec<bool>>()
        };
        let first = run(3);
        assert_eq!(first, run(3));
        let hits = first.iter().filter(|hit| **hit).count();
        assert!((30..90).contains(&hits), "{hits} of 200");
    }

    #[test]
    fn errors_speak_each_protocols_dialect() {
        let json = call(
            "ecs",
            "DescribeServiceRevisions",
            Protocol::AwsJson,
            r#"{"serviceRevisionArns":["arn:aws:ecs:us-east-1:123456789012:service-revision/c/s/1"]}"#,
        );
        let reply = fault_reply(&json, Fault::AccessDenied);
        let body: serde_json::Value = serde_json::from_slice(&reply.body).expect("json");
        assert_eq!(body["__type"], "AccessDeniedException");
        let message = body["message"].as_str().expect("message");
        assert!(
            message.contains("is not authorized to perform: ecs:DescribeServiceRevisions on resource: arn:aws:ecs:us-east-1:123456789012:service-revision/c/s/1"),
            "{message}"
        );
        let throttled = fault_reply(&json, Fault::Throttle);
        assert_eq!(throttled.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            throttled
                .headers
                .get("x-amzn-errortype")
                .map(|v| v.as_bytes()),
            Some(&b"ThrottlingException"[..])
        );

        let query = call(
            "elasticloadbalancing",
            "DescribeTargetHealth",
            Protocol::Query,
            "Action=DescribeTargetHealth&TargetGroupArn=arn%3Atg",
        );
        let reply = fault_reply(&query, Fault::Throttle);
        let text = String::from_utf8_lossy(&reply.body);
        assert!(
            text.contains("<Type>Sender</Type><Code>Throttling</Code>"),
            "{text}"
        );
        let denied = fault_reply(&query, Fault::AccessDenied);
        assert_eq!(denied.status, StatusCode::FORBIDDEN);
        assert!(String::from_utf8_lossy(&denied.body).contains("on resource: arn:tg"));

        let cloudwatch = call("cloudwatch", "GetMetricData", Protocol::AwsJson, "{}");
        let body: serde_json::Value =
            serde_json::from_slice(&fault_reply(&cloudwatch, Fault::Throttle).body).expect("json");
        assert_eq!(body["__type"], "Throttling");
        assert!(fault_reply(&cloudwatch, Fault::DropConnection).is_drop_connection());
    }
}
