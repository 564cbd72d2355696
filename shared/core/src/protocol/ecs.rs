//! ECS native lifecycle hook events and responses.
//!
//! ECS invokes the hook Lambda synchronously with a [`HookEvent`] and reads back a [`HookResponse`].
//! The event is parsed by hand-held serde rather than trusted: every failure names the field path and
//! what was expected ([`EventError`], reason code `EVENT_MALFORMED`), because the person reading it is
//! on call and the event is not something they can easily capture. Parsing is tolerant where the
//! contract is open-ended (unknown fields, unknown stages, empty or absent weight maps) and strict where
//! greenlight would otherwise have to guess (the ARNs it calls AWS with, weights outside 0..=100).
//!
//! A Lambda handler should take the payload as a `serde_json::Value` and call [`HookEvent::parse`], so
//! that a malformed event becomes an answer with a reason code instead of a runtime deserialization
//! error.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::protocol::codes;
use crate::reason::ReasonCode;
use crate::stage::LifecycleStage;

use super::{CONFIG_REFERENCE_KEY, GREENLIGHT_DETAILS_KEY};

/// How an error names the event as a whole, when no field is to blame.
pub(crate) const ROOT_FIELD: &str = "(event)";

/// Longest `field` or `got` text an error keeps: the values come from the event, which may be huge.
const MAX_ERROR_TEXT: usize = 200;

const EXPECT_STAGE: &str = "a lifecycle stage name such as POST_SCALE_UP";
const EXPECT_WEIGHT: &str = "a number from 0 to 100";
const EXPECT_DEPLOYMENT_ARN: &str = "a service deployment ARN (arn:<partition>:ecs:<region>:<account>:service-deployment/<cluster>/<service>/<id>)";
const EXPECT_SERVICE_ARN: &str =
    "a service ARN (arn:<partition>:ecs:<region>:<account>:service/<cluster>/<service>)";
const EXPECT_REVISION_ARN: &str = "a service revision ARN (arn:<partition>:ecs:<region>:<account>:service-revision/<cluster>/<service>/<id>)";

// ---------------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------------

/// An event that does not follow the contract: which field, what was expected, what came instead.
///
/// Displayed as `<field>: expected <expected>, got <got>`, for example
/// `executionDetails.productionTrafficWeights.arn:…: expected a number from 0 to 100, got string "abc"`.
/// It always maps to the reason code [`EVENT_MALFORMED`](codes::EVENT_MALFORMED).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: expected {expected}, got {got}")]
pub struct EventError {
    field: String,
    expected: String,
    got: String,
}

impl EventError {
    /// An error about `field` (a dotted path such as `executionDetails.serviceArn`, or `(event)` for
    /// the event as a whole). Overlong texts are shortened, since they may echo the event.
    pub fn new(
        field: impl Into<String>,
        expected: impl Into<String>,
        got: impl Into<String>,
    ) -> Self {
        EventError {
            field: shorten(field.into()),
            expected: expected.into(),
            got: shorten(got.into()),
        }
    }

    /// The path of the offending field, e.g. `executionDetails.serviceArn`; `(event)` for the whole event.
    pub fn field(&self) -> &str {
        &self.field
    }

    /// What the contract expects there.
    pub fn expected(&self) -> &str {
        &self.expected
    }

    /// What the event held instead (`nothing` when the field is missing or null).
    pub fn got(&self) -> &str {
        &self.got
    }

    /// The reason code an answer built from this error carries.
    pub fn reason(&self) -> &'static ReasonCode {
        &codes::EVENT_MALFORMED
    }

    /// The error for a missing (or null) field.
    pub(crate) fn missing(field: impl Into<String>, expected: impl Into<String>) -> Self {
        EventError::new(field, expected, "nothing")
    }

    /// The error for a payload that is not a JSON object.
    pub(crate) fn not_an_object(field: &str, expected: &str, value: &Value) -> Self {
        EventError::new(field, expected, describe_json(value))
    }

    /// The error for bytes that are not JSON at all.
    pub(crate) fn not_json(error: &serde_json::Error) -> Self {
        EventError::new(
            ROOT_FIELD,
            "a JSON object",
            format!("text that is not JSON ({error})"),
        )
    }

    /// Turns a serde error into one that names the field path and splits expected from got.
    ///
    /// serde reports type mismatches as `invalid type: <got>, expected <expected>` and missing fields
    /// as ``missing field `name` `` at the parent's path; both are taken apart so every error has the
    /// same shape. `missing_expectation` describes what a missing field should have held.
    pub(crate) fn from_serde(
        error: serde_path_to_error::Error<serde_json::Error>,
        missing_expectation: impl Fn(&str) -> &'static str,
    ) -> Self {
        let path = field_path(error.path());
        // Errors from the `Value` deserializer carry no line/column, so this is serde's bare message.
        let message = error.into_inner().to_string();
        if let Some(name) = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.strip_suffix('`'))
        {
            let field = if path == ROOT_FIELD {
                name.to_owned()
            } else {
                format!("{path}.{name}")
            };
            return EventError::missing(&field, missing_expectation(&field));
        }
        let mismatch = message
            .strip_prefix("invalid type: ")
            .or_else(|| message.strip_prefix("invalid value: "))
            .or_else(|| message.strip_prefix("invalid length "));
        // The expected part is ours or serde's and never contains the separator; the got part echoes
        // the event and might, so split at the last one.
        match mismatch.and_then(|rest| rest.rsplit_once(", expected ")) {
            Some((got, expected)) => EventError::new(path, expected, got),
            None => EventError::new(path, "a value that follows the contract", message),
        }
    }
}

/// A dotted path for humans: map keys and struct fields joined by `.`, sequence indexes as `[i]`.
fn field_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Enum { variant } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(variant);
            }
            Segment::Unknown => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push('?');
            }
        }
    }
    if out.is_empty() {
        ROOT_FIELD.to_owned()
    } else {
        out
    }
}

/// What kind of JSON value this is, for `got`.
fn describe_json(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("boolean `{b}`"),
        Value::Number(n) => format!("number `{n}`"),
        Value::String(s) => format!("string {s:?}"),
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

/// Cuts `text` to [`MAX_ERROR_TEXT`] characters, on a character boundary.
fn shorten(mut text: String) -> String {
    if let Some((cut, _)) = text.char_indices().nth(MAX_ERROR_TEXT) {
        text.truncate(cut);
        text.push('…');
    }
    text
}

// ---------------------------------------------------------------------------------------------------
// ARNs
// ---------------------------------------------------------------------------------------------------

/// A string that is not the ARN that was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected {expected}, got {got}")]
pub struct ArnError {
    expected: &'static str,
    got: String,
}

impl ArnError {
    fn new(expected: &'static str, got: &str) -> Self {
        ArnError {
            expected,
            got: shorten(format!("{got:?}")),
        }
    }

    /// The shape of ARN that was expected.
    pub fn expected(&self) -> &'static str {
        self.expected
    }

    /// The string that came instead, quoted.
    pub fn got(&self) -> &str {
        &self.got
    }

    /// The same error, blamed on an event field.
    pub fn at(self, field: impl Into<String>) -> EventError {
        EventError::new(field, self.expected, self.got)
    }
}

/// The parts every ECS ARN shares, and its resource (`service/…`) split on `/`.
struct EcsArn<'a> {
    partition: &'a str,
    region: &'a str,
    account: &'a str,
    resource_type: &'a str,
    names: Vec<&'a str>,
}

impl<'a> EcsArn<'a> {
    /// Splits `arn:<partition>:ecs:<region>:<account>:<type>/<name>/…`, checking each part's shape.
    fn split(arn: &'a str) -> Option<Self> {
        let mut parts = arn.splitn(6, ':');
        let (prefix, partition, service, region, account, resource) = (
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
        );
        let lower = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        };
        let account_ok = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
        if prefix != "arn" || !lower(partition) || service != "ecs" || !lower(region) || !account_ok
        {
            return None;
        }
        let mut segments = resource.split('/');
        let resource_type = segments.next()?;
        // ECS names are letters, digits, hyphens and underscores (up to 255); revision and deployment
        // ids are alphanumeric.
        let names: Vec<&str> = segments.collect();
        let name_ok = |s: &&str| {
            !s.is_empty()
                && s.len() <= 255
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        if !names.iter().all(name_ok) {
            return None;
        }
        Some(EcsArn {
            partition,
            region,
            account,
            resource_type,
            names,
        })
    }
}

/// An ECS service ARN, from `executionDetails.serviceArn`: where the cluster and service names come from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceArn {
    /// `aws`, `aws-cn`, `aws-us-gov`, ….
    pub partition: String,
    /// The region, e.g. `us-west-2`.
    pub region: String,
    /// The 12-digit account id.
    pub account: String,
    /// The cluster name; `default` for an ARN in the old format, which does not name the cluster.
    pub cluster: String,
    /// The service name.
    pub service: String,
    /// Whether the ARN is in the long format (`service/<cluster>/<service>`) rather than the old
    /// `service/<service>`, which accounts created before 2018 may still use.
    pub long_format: bool,
}

impl FromStr for ServiceArn {
    type Err = ArnError;

    fn from_str(arn: &str) -> Result<Self, Self::Err> {
        let parsed = EcsArn::split(arn).filter(|a| a.resource_type == "service");
        let Some(parsed) = parsed else {
            return Err(ArnError::new(EXPECT_SERVICE_ARN, arn));
        };
        let (cluster, service, long_format) = match parsed.names.as_slice() {
            [cluster, service] => (*cluster, *service, true),
            [service] => ("default", *service, false),
            _ => return Err(ArnError::new(EXPECT_SERVICE_ARN, arn)),
        };
        Ok(ServiceArn {
            partition: parsed.partition.to_owned(),
            region: parsed.region.to_owned(),
            account: parsed.account.to_owned(),
            cluster: cluster.to_owned(),
            service: service.to_owned(),
            long_format,
        })
    }
}

impl fmt::Display for ServiceArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:ecs:{}:{}:service/",
            self.partition, self.region, self.account
        )?;
        if self.long_format {
            write!(f, "{}/", self.cluster)?;
        }
        f.write_str(&self.service)
    }
}

/// An ECS service revision ARN: one revision (blue or green) of a service.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceRevisionArn {
    /// `aws`, `aws-cn`, `aws-us-gov`, ….
    pub partition: String,
    /// The region.
    pub region: String,
    /// The 12-digit account id.
    pub account: String,
    /// The cluster name.
    pub cluster: String,
    /// The service name.
    pub service: String,
    /// The revision id (digits).
    pub revision_id: String,
}

impl FromStr for ServiceRevisionArn {
    type Err = ArnError;

    fn from_str(arn: &str) -> Result<Self, Self::Err> {
        match EcsArn::split(arn) {
            Some(EcsArn {
                partition,
                region,
                account,
                resource_type: "service-revision",
                names,
            }) if names.len() == 3 => Ok(ServiceRevisionArn {
                partition: partition.to_owned(),
                region: region.to_owned(),
                account: account.to_owned(),
                cluster: names[0].to_owned(),
                service: names[1].to_owned(),
                revision_id: names[2].to_owned(),
            }),
            _ => Err(ArnError::new(EXPECT_REVISION_ARN, arn)),
        }
    }
}

impl fmt::Display for ServiceRevisionArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:ecs:{}:{}:service-revision/{}/{}/{}",
            self.partition, self.region, self.account, self.cluster, self.service, self.revision_id
        )
    }
}

/// An ECS service deployment ARN, from `resourceArn`: usable with DescribeServiceDeployments.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceDeploymentArn {
    /// `aws`, `aws-cn`, `aws-us-gov`, ….
    pub partition: String,
    /// The region.
    pub region: String,
    /// The 12-digit account id.
    pub account: String,
    /// The cluster name.
    pub cluster: String,
    /// The service name.
    pub service: String,
    /// The deployment id.
    pub deployment_id: String,
}

impl FromStr for ServiceDeploymentArn {
    type Err = ArnError;

    fn from_str(arn: &str) -> Result<Self, Self::Err> {
        match EcsArn::split(arn) {
            Some(EcsArn {
                partition,
                region,
                account,
                resource_type: "service-deployment",
                names,
            }) if names.len() == 3 => Ok(ServiceDeploymentArn {
                partition: partition.to_owned(),
                region: region.to_owned(),
                account: account.to_owned(),
                cluster: names[0].to_owned(),
                service: names[1].to_owned(),
                deployment_id: names[2].to_owned(),
            }),
            _ => Err(ArnError::new(EXPECT_DEPLOYMENT_ARN, arn)),
        }
    }
}

impl fmt::Display for ServiceDeploymentArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:ecs:{}:{}:service-deployment/{}/{}/{}",
            self.partition,
            self.region,
            self.account,
            self.cluster,
            self.service,
            self.deployment_id
        )
    }
}

// ---------------------------------------------------------------------------------------------------
// The event
// ---------------------------------------------------------------------------------------------------

/// The event ECS sends to a lifecycle hook Lambda.
///
/// Build it with [`HookEvent::parse`]. serde's `Deserialize` runs the same validation but, like all
/// derived structs, would also read a JSON array positionally, and its errors are plain text; `parse`
/// refuses non-objects and returns a structured [`EventError`]. The fields are public so tests and the
/// local simulator can adjust a parsed event; [`HookEvent::validate`] re-checks one built by hand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "WireHookEvent")]
pub struct HookEvent {
    /// An id of this invocation. Whether it stays the same across IN_PROGRESS re-invocations, or
    /// changes per LINEAR/CANARY step, is undocumented: log it, never key state on it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_id: Option<String>,
    /// The stage ECS is at; a stage this version does not know is kept verbatim.
    pub lifecycle_stage: LifecycleStage,
    /// The service deployment ARN (`…:service-deployment/<cluster>/<service>/<id>`).
    pub resource_arn: String,
    /// The service, the green revision and the traffic weights.
    pub execution_details: ExecutionDetails,
    /// The hook's static `hookDetails` merged with what the previous IN_PROGRESS answer of this hook
    /// returned in this deployment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hook_details: Option<Map<String, Value>>,
}

/// `executionDetails`: which service, which revision is green, and where traffic goes.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionDetails {
    /// The service ARN (`…:service/<cluster>/<service>`, or the old `…:service/<service>`).
    pub service_arn: String,
    /// The green revision. It stays green during a rollback; only the weights reverse.
    pub target_service_revision_arn: String,
    /// Revision ARN → percentage of test traffic. Empty at stages where test traffic does not apply.
    pub test_traffic_weights: BTreeMap<String, f64>,
    /// Revision ARN → percentage of production traffic. Empty at stages where it does not apply.
    pub production_traffic_weights: BTreeMap<String, f64>,
}

/// Which of the two weight maps something was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TrafficMap {
    /// `executionDetails.productionTrafficWeights`.
    Production,
    /// `executionDetails.testTrafficWeights`.
    Test,
}

impl TrafficMap {
    /// The field name in the event.
    pub fn field_name(self) -> &'static str {
        match self {
            TrafficMap::Production => "productionTrafficWeights",
            TrafficMap::Test => "testTrafficWeights",
        }
    }
}

impl fmt::Display for TrafficMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TrafficMap::Production => "production",
            TrafficMap::Test => "test",
        })
    }
}

/// Signs, read from the weights, that ECS is rolling the deployment back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollback {
    /// The weight map that shows the reversal.
    pub map: TrafficMap,
    /// The revision that gets all of that traffic back (blue).
    pub restored_revision: String,
}

/// One production traffic shift step, identified so that state can be kept per step.
#[derive(Debug, Clone, PartialEq)]
pub struct TrafficStep {
    green_weight: f64,
    key: String,
}

impl TrafficStep {
    fn new(green_weight: f64) -> Self {
        // `+ 0.0` turns -0.0 into 0.0, so the key never reads "-0.0".
        TrafficStep {
            green_weight,
            key: format!("{:.1}", green_weight + 0.0),
        }
    }

    /// Green's share of production traffic, as ECS sent it.
    pub fn green_weight(&self) -> f64 {
        self.green_weight
    }

    /// The weight rounded to one decimal (`"33.3"`, `"5.0"`, `"100.0"`). LINEAR and CANARY percents
    /// are multiples of 0.1, but whether ECS sends 3.3 or 3.333… at a step is undocumented; rounding
    /// makes both the same step.
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl HookEvent {
    /// Parses and validates an event. Never panics; the error names the field and what was expected.
    pub fn parse(value: &Value) -> Result<HookEvent, EventError> {
        // serde would accept a JSON array positionally as a struct; the contract says object.
        if !value.is_object() {
            return Err(EventError::not_an_object(
                ROOT_FIELD,
                "an ECS lifecycle hook event (a JSON object)",
                value,
            ));
        }
        if let Some(details) = value.get("executionDetails")
            && !(details.is_object() || details.is_null())
        {
            return Err(EventError::not_an_object(
                "executionDetails",
                "an object",
                details,
            ));
        }
        let wire: WireHookEvent = serde_path_to_error::deserialize(value)
            .map_err(|error| EventError::from_serde(error, missing_expectation))?;
        HookEvent::try_from(wire)
    }

    /// Parses and validates an event from raw bytes.
    pub fn parse_slice(bytes: &[u8]) -> Result<HookEvent, EventError> {
        let value: Value =
            serde_json::from_slice(bytes).map_err(|error| EventError::not_json(&error))?;
        HookEvent::parse(&value)
    }

    /// Checks what serde cannot: the ARNs' shapes and the weights' range.
    pub fn validate(&self) -> Result<(), EventError> {
        if self.lifecycle_stage.as_str().trim().is_empty() {
            return Err(EventError::new(
                "lifecycleStage",
                EXPECT_STAGE,
                format!("{:?}", self.lifecycle_stage.as_str()),
            ));
        }
        let deployment = self.deployment()?;
        let service = self.service()?;
        // Every ARN must name the service the event is about: the service decides whose secrets
        // a check may read, the revisions and deployment what it judges, so one event must not
        // mix services.
        let same_service = |field: &str, account: &str, region: &str, cluster: &str, name: &str| {
            let cluster_matches = !service.long_format || cluster == service.cluster;
            if account == service.account
                && region == service.region
                && cluster_matches
                && name == service.service
            {
                Ok(())
            } else {
                Err(EventError::new(
                    field,
                    format!(
                        "an ARN of the service in executionDetails.serviceArn ({})",
                        self.execution_details.service_arn
                    ),
                    format!("{account}/{region}/{cluster}/{name}"),
                ))
            }
        };
        same_service(
            "resourceArn",
            &deployment.account,
            &deployment.region,
            &deployment.cluster,
            &deployment.service,
        )?;
        let green = self
            .green_revision()
            .parse::<ServiceRevisionArn>()
            .map_err(|e| e.at("executionDetails.targetServiceRevisionArn"))?;
        same_service(
            "executionDetails.targetServiceRevisionArn",
            &green.account,
            &green.region,
            &green.cluster,
            &green.service,
        )?;
        let details = &self.execution_details;
        for (map, weights) in [
            (TrafficMap::Test, &details.test_traffic_weights),
            (TrafficMap::Production, &details.production_traffic_weights),
        ] {
            for (revision, weight) in weights {
                let field = format!("executionDetails.{}.{revision}", map.field_name());
                let parsed = revision.parse::<ServiceRevisionArn>().map_err(|e| {
                    EventError::new(&field, "a service revision ARN as the key", e.got)
                })?;
                same_service(
                    &field,
                    &parsed.account,
                    &parsed.region,
                    &parsed.cluster,
                    &parsed.service,
                )?;
                // NaN fails both comparisons, infinities the range.
                if !(0.0..=100.0).contains(weight) {
                    return Err(EventError::new(field, EXPECT_WEIGHT, weight.to_string()));
                }
            }
        }
        Ok(())
    }

    /// The service, with its cluster and service names.
    pub fn service(&self) -> Result<ServiceArn, EventError> {
        self.execution_details
            .service_arn
            .parse()
            .map_err(|e: ArnError| e.at("executionDetails.serviceArn"))
    }

    /// The service deployment this invocation belongs to, from `resourceArn`.
    pub fn deployment(&self) -> Result<ServiceDeploymentArn, EventError> {
        self.resource_arn
            .parse()
            .map_err(|e: ArnError| e.at("resourceArn"))
    }

    /// The green revision's ARN (`targetServiceRevisionArn`).
    pub fn green_revision(&self) -> &str {
        &self.execution_details.target_service_revision_arn
    }

    /// Every other revision named in either weight map, deduplicated and sorted.
    ///
    /// Empty at stages where both maps are empty (before any traffic shift): ask
    /// DescribeServiceDeployments for the source revisions there.
    pub fn blue_revisions(&self) -> Vec<&str> {
        let details = &self.execution_details;
        details
            .test_traffic_weights
            .keys()
            .chain(details.production_traffic_weights.keys())
            .map(String::as_str)
            .filter(|revision| *revision != self.green_revision())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    }

    /// The one other revision, when the weight maps name exactly one.
    pub fn blue_revision(&self) -> Option<&str> {
        match self.blue_revisions().as_slice() {
            [blue] => Some(blue),
            _ => None,
        }
    }

    /// Green's share of production traffic; `None` when the map does not name green (as when it is
    /// empty, at stages where production weights do not apply).
    pub fn green_production_weight(&self) -> Option<f64> {
        self.green_weight(TrafficMap::Production)
    }

    /// Green's share of test traffic; `None` when the map does not name green.
    pub fn green_test_weight(&self) -> Option<f64> {
        self.green_weight(TrafficMap::Test)
    }

    /// The weights of one map.
    pub fn weights(&self, map: TrafficMap) -> &BTreeMap<String, f64> {
        match map {
            TrafficMap::Production => &self.execution_details.production_traffic_weights,
            TrafficMap::Test => &self.execution_details.test_traffic_weights,
        }
    }

    fn green_weight(&self, map: TrafficMap) -> Option<f64> {
        self.weights(map).get(self.green_revision()).copied()
    }

    /// The production traffic step, at PRE_PRODUCTION_TRAFFIC_SHIFT and PRODUCTION_TRAFFIC_SHIFT when
    /// the production map names green. A LINEAR or CANARY deployment invokes these stages once per
    /// step; the step key tells the steps apart when state is kept across invocations.
    pub fn traffic_step(&self) -> Option<TrafficStep> {
        match self.lifecycle_stage {
            LifecycleStage::PreProductionTrafficShift | LifecycleStage::ProductionTrafficShift => {
                self.green_production_weight().map(TrafficStep::new)
            }
            _ => None,
        }
    }

    /// Whether the weights say ECS is rolling back, by the documented rule: green has weight 0 and
    /// another revision has 100.
    ///
    /// Only TEST_TRAFFIC_SHIFT and PRODUCTION_TRAFFIC_SHIFT are re-invoked on rollback, and only the
    /// map that stage shifts is read (at PRODUCTION_TRAFFIC_SHIFT the test map too): green 0 / blue 100
    /// is also the ordinary state of production traffic at TEST_TRAFFIC_SHIFT and before the first
    /// production step, and reading it there would skip a forward deployment's checks. The weights are
    /// a hint; DescribeServiceDeployments' `status` (ROLLBACK_IN_PROGRESS) is authoritative.
    pub fn rollback(&self) -> Option<Rollback> {
        let maps: &[TrafficMap] = match self.lifecycle_stage {
            LifecycleStage::TestTrafficShift => &[TrafficMap::Test],
            LifecycleStage::ProductionTrafficShift => &[TrafficMap::Production, TrafficMap::Test],
            _ => &[],
        };
        maps.iter().find_map(|&map| {
            if self.green_weight(map) != Some(0.0) {
                return None;
            }
            self.weights(map)
                .iter()
                .find(|(revision, weight)| {
                    revision.as_str() != self.green_revision() && **weight == 100.0
                })
                .map(|(revision, _)| Rollback {
                    map,
                    restored_revision: revision.clone(),
                })
        })
    }

    /// greenlight's own state from a previous IN_PROGRESS answer: `hookDetails.greenlight`.
    pub fn greenlight_details(&self) -> Option<&Value> {
        self.hook_details.as_ref()?.get(GREENLIGHT_DETAILS_KEY)
    }

    /// The config reference set in the hook's static `hookDetails.greenlightConfig`, when it is a string.
    pub fn config_reference(&self) -> Option<&str> {
        self.hook_details
            .as_ref()?
            .get(CONFIG_REFERENCE_KEY)?
            .as_str()
    }
}

/// What a missing required field should have held.
fn missing_expectation(field: &str) -> &'static str {
    match field {
        "lifecycleStage" => EXPECT_STAGE,
        "resourceArn" => EXPECT_DEPLOYMENT_ARN,
        "executionDetails" => "an object with serviceArn and targetServiceRevisionArn",
        "executionDetails.serviceArn" => EXPECT_SERVICE_ARN,
        "executionDetails.targetServiceRevisionArn" => EXPECT_REVISION_ARN,
        _ => "a value",
    }
}

/// The event as it arrives: everything optional, so that a missing field is reported by name by
/// [`HookEvent::try_from`] rather than as serde's bare `missing field`.
#[derive(Deserialize)]
#[serde(
    rename_all = "camelCase",
    expecting = "an ECS lifecycle hook event (a JSON object)"
)]
struct WireHookEvent {
    execution_id: Option<String>,
    lifecycle_stage: Option<LifecycleStage>,
    resource_arn: Option<String>,
    execution_details: Option<WireExecutionDetails>,
    hook_details: Option<Map<String, Value>>,
}

#[derive(Deserialize)]
#[serde(
    rename_all = "camelCase",
    expecting = "an object with serviceArn, targetServiceRevisionArn and the traffic weight maps"
)]
struct WireExecutionDetails {
    service_arn: Option<String>,
    target_service_revision_arn: Option<String>,
    test_traffic_weights: Option<BTreeMap<String, Weight>>,
    production_traffic_weights: Option<BTreeMap<String, Weight>>,
}

impl TryFrom<WireHookEvent> for HookEvent {
    type Error = EventError;

    fn try_from(wire: WireHookEvent) -> Result<Self, Self::Error> {
        fn required<T>(value: Option<T>, field: &str) -> Result<T, EventError> {
            value.ok_or_else(|| EventError::missing(field, missing_expectation(field)))
        }
        fn weights(map: Option<BTreeMap<String, Weight>>) -> BTreeMap<String, f64> {
            map.unwrap_or_default()
                .into_iter()
                .map(|(revision, Weight(weight))| (revision, weight))
                .collect()
        }
        let details = required(wire.execution_details, "executionDetails")?;
        let event = HookEvent {
            execution_id: wire.execution_id,
            lifecycle_stage: required(wire.lifecycle_stage, "lifecycleStage")?,
            resource_arn: required(wire.resource_arn, "resourceArn")?,
            execution_details: ExecutionDetails {
                service_arn: required(details.service_arn, "executionDetails.serviceArn")?,
                target_service_revision_arn: required(
                    details.target_service_revision_arn,
                    "executionDetails.targetServiceRevisionArn",
                )?,
                test_traffic_weights: weights(details.test_traffic_weights),
                production_traffic_weights: weights(details.production_traffic_weights),
            },
            hook_details: wire.hook_details,
        };
        event.validate()?;
        Ok(event)
    }
}

/// A traffic weight: a JSON integer or float. The range is checked by [`HookEvent::validate`].
struct Weight(f64);

impl<'de> Deserialize<'de> for Weight {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct WeightVisitor;

        impl Visitor<'_> for WeightVisitor {
            type Value = Weight;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(EXPECT_WEIGHT)
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Weight, E> {
                Ok(Weight(v as f64))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Weight, E> {
                Ok(Weight(v as f64))
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Weight, E> {
                Ok(Weight(v))
            }
        }

        deserializer.deserialize_f64(WeightVisitor)
    }
}

// ---------------------------------------------------------------------------------------------------
// The response
// ---------------------------------------------------------------------------------------------------

/// What the hook tells ECS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HookStatus {
    /// Go on with the deployment.
    Succeeded,
    /// Invoke the hook again after `callBackDelay` seconds.
    InProgress,
    /// Roll the deployment back.
    Failed,
}

impl HookStatus {
    /// The status as ECS spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            HookStatus::Succeeded => "SUCCEEDED",
            HookStatus::InProgress => "IN_PROGRESS",
            HookStatus::Failed => "FAILED",
        }
    }
}

impl fmt::Display for HookStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The JSON the hook Lambda returns to ECS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HookResponse {
    /// SUCCEEDED, IN_PROGRESS or FAILED.
    pub hook_status: HookStatus,
    /// Seconds until ECS invokes the hook again after IN_PROGRESS (ECS's default is 30; the bounds
    /// are undocumented). One documentation page spells it `callBackDelaySeconds`, which is read too.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        alias = "callBackDelaySeconds"
    )]
    pub call_back_delay: Option<u32>,
    /// State ECS merges into `hookDetails` for the next invocation of this hook in this deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook_details: Option<Map<String, Value>>,
}

impl HookResponse {
    fn with_status(hook_status: HookStatus) -> Self {
        HookResponse {
            hook_status,
            call_back_delay: None,
            hook_details: None,
        }
    }

    /// Go on with the deployment.
    pub fn succeeded() -> Self {
        HookResponse::with_status(HookStatus::Succeeded)
    }

    /// Roll the deployment back.
    pub fn failed() -> Self {
        HookResponse::with_status(HookStatus::Failed)
    }

    /// Invoke the hook again in `delay_secs` seconds.
    pub fn in_progress(delay_secs: u32) -> Self {
        HookResponse {
            call_back_delay: Some(delay_secs),
            ..HookResponse::with_status(HookStatus::InProgress)
        }
    }

    /// Adds the `hookDetails` to hand to the next invocation.
    #[must_use]
    pub fn with_hook_details(mut self, hook_details: Map<String, Value>) -> Self {
        self.hook_details = Some(hook_details);
        self
    }
}

// ---------------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    const DEPLOYMENT: &str = "arn:aws:ecs:us-west-2:123456789012:service-deployment/web-cluster/web/EZe5RNVLH6PPzHXINuP28";
    const SERVICE: &str = "arn:aws:ecs:us-west-2:123456789012:service/web-cluster/web";
    const GREEN: &str =
        "arn:aws:ecs:us-west-2:123456789012:service-revision/web-cluster/web/9313423515462893900";
    const BLUE: &str =
        "arn:aws:ecs:us-west-2:123456789012:service-revision/web-cluster/web/1920498462936580504";

    fn event_with(stage: &str, production: Value, test: Value) -> Value {
        json!({
            "executionId": "f4fcae0f-9bec-41c6-ba87-0eaa0cef8af5",
            "lifecycleStage": stage,
            "resourceArn": DEPLOYMENT,
            "executionDetails": {
                "serviceArn": SERVICE,
                "targetServiceRevisionArn": GREEN,
                "testTrafficWeights": test,
                "productionTrafficWeights": production,
            },
            "hookDetails": { "greenlightConfig": "ssm:/greenlight/web", "greenlight": { "v": 1 } }
        })
    }

    fn valid() -> Value {
        event_with(
            "PRODUCTION_TRAFFIC_SHIFT",
            json!({ GREEN: 100, BLUE: 0 }),
            json!({}),
        )
    }

    /// Applies `edit` to a valid event and returns the parse error.
    fn error_after(edit: impl FnOnce(&mut Value)) -> EventError {
        let mut event = valid();
        edit(&mut event);
        HookEvent::parse(&event).expect_err("the edited event should not parse")
    }

    fn remove(path: &[&str]) -> impl FnOnce(&mut Value) {
        move |event| {
            let (last, parents) = path.split_last().unwrap();
            let mut node = event;
            for key in parents {
                node = node.get_mut(*key).unwrap();
            }
            node.as_object_mut().unwrap().remove(*last);
        }
    }

    fn set(pointer: &'static str, value: Value) -> impl FnOnce(&mut Value) {
        move |event| *event.pointer_mut(pointer).unwrap() = value
    }

    #[test]
    fn an_event_may_not_mix_services() {
        // The service decides whose secrets a check may read: a deployment, green or weight map
        // of another service (or account) in the same event is refused, naming the field.
        let other_green =
            "arn:aws:ecs:us-west-2:123456789012:service-revision/web-cluster/payments/1";
        type Edit = Box<dyn FnOnce(&mut Value)>;
        let cases: Vec<(&str, Edit)> = vec![
            (
                "executionDetails.serviceArn",
                Box::new(set(
                    "/executionDetails/serviceArn",
                    json!("arn:aws:ecs:us-west-2:123456789012:service/web-cluster/payments"),
                )),
            ),
            (
                "executionDetails.targetServiceRevisionArn",
                Box::new(set(
                    "/executionDetails/targetServiceRevisionArn",
                    json!(other_green),
                )),
            ),
            (
                "resourceArn",
                Box::new(set(
                    "/resourceArn",
                    json!(
                        "arn:aws:ecs:us-west-2:999999999999:service-deployment/web-cluster/web/x"
                    ),
                )),
            ),
            (
                "productionTrafficWeights",
                Box::new(set(
                    "/executionDetails/productionTrafficWeights",
                    json!({ GREEN: 100, other_green: 0 }),
                )),
            ),
        ];
        for (field, edit) in cases {
            let error = error_after(edit);
            assert!(
                error.to_string().contains("an ARN of the service"),
                "{field}: {error}"
            );
        }
    }

    #[test]
    fn parses_the_documented_example() {
        let event = HookEvent::parse(&valid()).unwrap();
        assert_eq!(
            event.lifecycle_stage,
            LifecycleStage::ProductionTrafficShift
        );
        assert_eq!(event.green_revision(), GREEN);
        assert_eq!(event.blue_revision(), Some(BLUE));
        assert_eq!(event.green_production_weight(), Some(100.0));
        assert_eq!(event.green_test_weight(), None);
        assert_eq!(event.traffic_step().unwrap().key(), "100.0");
        assert_eq!(event.rollback(), None);
        assert_eq!(event.config_reference(), Some("ssm:/greenlight/web"));
        assert_eq!(event.greenlight_details(), Some(&json!({ "v": 1 })));
        let service = event.service().unwrap();
        assert_eq!(
            (service.cluster.as_str(), service.service.as_str()),
            ("web-cluster", "web")
        );
        assert_eq!(
            event.deployment().unwrap().deployment_id,
            "EZe5RNVLH6PPzHXINuP28"
        );
    }

    #[test]
    fn serde_deserialize_validates_like_parse() {
        let event: HookEvent = serde_json::from_value(valid()).unwrap();
        assert_eq!(event, HookEvent::parse(&valid()).unwrap());
        let mut bad = valid();
        bad["resourceArn"] = json!("nope");
        let error = serde_json::from_value::<HookEvent>(bad).unwrap_err();
        assert!(error.to_string().starts_with("resourceArn: expected"));
    }

    #[test]
    fn tolerates_unknown_fields_absent_maps_and_null_optionals() {
        let mut event = valid();
        event["somethingNew"] = json!({ "nested": [1, 2] });
        event["executionDetails"]["alsoNew"] = json!(true);
        event["executionId"] = Value::Null;
        event["hookDetails"] = Value::Null;
        let details = event["executionDetails"].as_object_mut().unwrap();
        details.remove("testTrafficWeights");
        details.insert("productionTrafficWeights".into(), Value::Null);
        let event = HookEvent::parse(&event).unwrap();
        assert_eq!(event.execution_id, None);
        assert!(
            event
                .execution_details
                .production_traffic_weights
                .is_empty()
        );
        assert!(event.execution_details.test_traffic_weights.is_empty());
        assert_eq!(event.green_production_weight(), None);
        assert_eq!(event.traffic_step(), None);
        assert!(event.blue_revisions().is_empty());
    }

    #[test]
    fn weights_parse_from_integers_and_floats() {
        let event = event_with(
            "PRODUCTION_TRAFFIC_SHIFT",
            json!({ GREEN: 33.3, BLUE: 67 }),
            json!({}),
        );
        let event = HookEvent::parse(&event).unwrap();
        assert_eq!(event.green_production_weight(), Some(33.3));
        assert_eq!(
            event.execution_details.production_traffic_weights[BLUE],
            67.0
        );
    }

    #[test]
    fn not_json_names_the_event() {
        let error = HookEvent::parse_slice(b"{ not json").unwrap_err();
        assert_eq!(error.field(), "(event)");
        assert_eq!(error.expected(), "a JSON object");
        assert!(error.got().starts_with("text that is not JSON"));
        assert_eq!(error.reason().code, "EVENT_MALFORMED");
    }

    #[test]
    fn non_objects_are_refused_by_name() {
        for value in [json!([]), json!("event"), json!(1), Value::Null] {
            assert_eq!(HookEvent::parse(&value).unwrap_err().field(), "(event)");
        }
        // An array would otherwise be read positionally as a struct.
        let error = error_after(set("/executionDetails", json!([SERVICE, GREEN, {}, {}])));
        assert_eq!(error.field(), "executionDetails");
        assert_eq!(error.got(), "an array");
    }

    #[test]
    fn each_missing_required_field_is_named() {
        let cases: [(&[&str], &str); 5] = [
            (&["lifecycleStage"], "lifecycleStage"),
            (&["resourceArn"], "resourceArn"),
            (&["executionDetails"], "executionDetails"),
            (
                &["executionDetails", "serviceArn"],
                "executionDetails.serviceArn",
            ),
            (
                &["executionDetails", "targetServiceRevisionArn"],
                "executionDetails.targetServiceRevisionArn",
            ),
        ];
        for (path, field) in cases {
            let error = error_after(remove(path));
            assert_eq!(error.field(), field, "{error}");
            assert_eq!(error.got(), "nothing");
            assert!(!error.expected().is_empty());
        }
        let error = error_after(set("/resourceArn", Value::Null));
        assert_eq!(error.field(), "resourceArn");
    }

    #[test]
    fn wrong_types_are_named_with_what_was_expected() {
        let cases = [
            ("/lifecycleStage", json!(5), "lifecycleStage", "a string"),
            ("/executionId", json!(7), "executionId", "a string"),
            ("/resourceArn", json!(["x"]), "resourceArn", "a string"),
            (
                "/executionDetails/serviceArn",
                json!({}),
                "executionDetails.serviceArn",
                "a string",
            ),
            (
                "/executionDetails/testTrafficWeights",
                json!([1]),
                "executionDetails.testTrafficWeights",
                "a map",
            ),
            ("/hookDetails", json!("static"), "hookDetails", "a map"),
        ];
        for (pointer, value, field, expected) in cases {
            let error = error_after(set(pointer, value));
            assert_eq!(error.field(), field, "{error}");
            assert_eq!(error.expected(), expected, "{error}");
        }
    }

    #[test]
    fn a_weight_that_is_not_a_number_names_the_revision() {
        for bad in [
            json!("abc"),
            json!("NaN"),
            json!("Infinity"),
            json!("50"),
            json!(null),
            json!(true),
        ] {
            let event = event_with("PRODUCTION_TRAFFIC_SHIFT", json!({ GREEN: bad }), json!({}));
            let error = HookEvent::parse(&event).unwrap_err();
            assert_eq!(
                error.field(),
                format!("executionDetails.productionTrafficWeights.{GREEN}")
            );
            assert_eq!(error.expected(), "a number from 0 to 100");
        }
        let event = event_with(
            "PRODUCTION_TRAFFIC_SHIFT",
            json!({ GREEN: "abc" }),
            json!({}),
        );
        assert_eq!(
            HookEvent::parse(&event).unwrap_err().to_string(),
            format!(
                "executionDetails.productionTrafficWeights.{GREEN}: expected a number from 0 to 100, got string \"abc\""
            )
        );
    }

    #[test]
    fn a_weight_out_of_range_names_the_revision() {
        for (bad, got) in [
            (json!(120), "120"),
            (json!(-1), "-1"),
            (json!(100.5), "100.5"),
        ] {
            let event = event_with("TEST_TRAFFIC_SHIFT", json!({}), json!({ BLUE: bad }));
            let error = HookEvent::parse(&event).unwrap_err();
            assert_eq!(
                error.field(),
                format!("executionDetails.testTrafficWeights.{BLUE}")
            );
            assert_eq!(error.got(), got);
        }
        // JSON cannot carry NaN or infinities; events built in code can.
        let mut event = HookEvent::parse(&valid()).unwrap();
        for weight in [f64::NAN, f64::INFINITY] {
            event
                .execution_details
                .production_traffic_weights
                .insert(GREEN.into(), weight);
            assert!(event.validate().is_err());
        }
        assert!(HookEvent::parse_slice(br#"{"x": 1e999}"#).is_err());
    }

    #[test]
    fn bad_arns_are_refused_with_the_expected_shape() {
        let cases = [
            ("/resourceArn", "", "resourceArn"),
            ("/resourceArn", SERVICE, "resourceArn"),
            (
                "/executionDetails/serviceArn",
                "web",
                "executionDetails.serviceArn",
            ),
            (
                "/executionDetails/serviceArn",
                GREEN,
                "executionDetails.serviceArn",
            ),
            (
                "/executionDetails/serviceArn",
                "arn:aws:ecs:us-west-2:123456789012:service/a/b/c",
                "executionDetails.serviceArn",
            ),
            (
                "/executionDetails/serviceArn",
                "arn:aws:lambda:us-west-2:123456789012:service/a/b",
                "executionDetails.serviceArn",
            ),
            (
                "/executionDetails/serviceArn",
                "arn:aws:ecs:us-west-2:1234:service/a/b",
                "executionDetails.serviceArn",
            ),
            (
                "/executionDetails/targetServiceRevisionArn",
                "arn:aws:ecs:us-west-2:123456789012:service-revision/a//1",
                "executionDetails.targetServiceRevisionArn",
            ),
            (
                "/executionDetails/targetServiceRevisionArn",
                "arn:aws:ecs:us-west-2:123456789012:service-revision/a/b/1 ",
                "executionDetails.targetServiceRevisionArn",
            ),
        ];
        for (pointer, arn, field) in cases {
            let error = error_after(set(pointer, json!(arn)));
            assert_eq!(error.field(), field, "{error}");
            assert!(error.expected().contains("ARN"), "{error}");
            assert_eq!(error.got(), format!("{arn:?}"));
        }
        let event = event_with(
            "PRODUCTION_TRAFFIC_SHIFT",
            json!({ "blue": 100 }),
            json!({}),
        );
        let error = HookEvent::parse(&event).unwrap_err();
        assert_eq!(
            error.field(),
            "executionDetails.productionTrafficWeights.blue"
        );
    }

    #[test]
    fn an_empty_stage_is_refused_and_an_unknown_one_kept() {
        assert_eq!(
            error_after(set("/lifecycleStage", json!(" "))).field(),
            "lifecycleStage"
        );
        let mut event = valid();
        event["lifecycleStage"] = json!("POST_BAKE_TIME");
        let event = HookEvent::parse(&event).unwrap();
        assert_eq!(
            event.lifecycle_stage,
            LifecycleStage::Other("POST_BAKE_TIME".into())
        );
        assert_eq!(event.traffic_step(), None);
        assert_eq!(event.rollback(), None);
    }

    #[test]
    fn long_values_are_shortened_in_errors() {
        let huge = "é".repeat(10_000);
        let error = error_after(set("/resourceArn", json!(huge)));
        assert!(error.got().chars().count() <= MAX_ERROR_TEXT + 1);
        assert!(error.got().ends_with('…'));
    }

    #[test]
    fn service_arns_in_both_formats() {
        let new: ServiceArn = SERVICE.parse().unwrap();
        assert_eq!(
            new,
            ServiceArn {
                partition: "aws".into(),
                region: "us-west-2".into(),
                account: "123456789012".into(),
                cluster: "web-cluster".into(),
                service: "web".into(),
                long_format: true,
            }
        );
        let old: ServiceArn = "arn:aws-cn:ecs:cn-north-1:123456789012:service/web_2"
            .parse()
            .unwrap();
        assert_eq!(old.cluster, "default");
        assert_eq!(old.service, "web_2");
        assert_eq!(old.partition, "aws-cn");
        assert!(!old.long_format);
        for arn in [
            SERVICE,
            "arn:aws-cn:ecs:cn-north-1:123456789012:service/web_2",
        ] {
            assert_eq!(arn.parse::<ServiceArn>().unwrap().to_string(), arn);
        }
    }

    #[test]
    fn revision_and_deployment_arns_round_trip() {
        let green: ServiceRevisionArn = GREEN.parse().unwrap();
        assert_eq!(green.revision_id, "9313423515462893900");
        assert_eq!(green.to_string(), GREEN);
        let deployment: ServiceDeploymentArn = DEPLOYMENT.parse().unwrap();
        assert_eq!(deployment.cluster, "web-cluster");
        assert_eq!(deployment.to_string(), DEPLOYMENT);
        assert!(SERVICE.parse::<ServiceRevisionArn>().is_err());
        assert!(GREEN.parse::<ServiceDeploymentArn>().is_err());
    }

    #[test]
    fn blue_revisions_merge_both_maps() {
        let third = "arn:aws:ecs:us-west-2:123456789012:service-revision/web-cluster/web/1111111111111111111";
        let event = event_with(
            "PRODUCTION_TRAFFIC_SHIFT",
            json!({ GREEN: 50, BLUE: 25, third: 25 }),
            json!({ GREEN: 100, BLUE: 0 }),
        );
        let event = HookEvent::parse(&event).unwrap();
        // Sorted, not in weight order.
        assert_eq!(event.blue_revisions(), vec![third, BLUE]);
        assert_eq!(event.blue_revision(), None);
    }

    #[test]
    fn step_keys_round_to_a_tenth() {
        for (weight, key) in [
            (json!(3.3), "3.3"),
            (json!(3.3333333333333335), "3.3"),
            (json!(33.3), "33.3"),
            (json!(66.66666666666667), "66.7"),
            (json!(5), "5.0"),
            (json!(0), "0.0"),
            (json!(-0.0), "0.0"),
            (json!(100), "100.0"),
        ] {
            let event = event_with(
                "PRE_PRODUCTION_TRAFFIC_SHIFT",
                json!({ GREEN: weight }),
                json!({}),
            );
            let step = HookEvent::parse(&event).unwrap().traffic_step().unwrap();
            assert_eq!(step.key(), key);
        }
        let at_test_shift = event_with("TEST_TRAFFIC_SHIFT", json!({ GREEN: 5 }), json!({}));
        assert_eq!(
            HookEvent::parse(&at_test_shift).unwrap().traffic_step(),
            None
        );
    }

    #[test]
    fn rollback_follows_the_documented_rule_at_reinvoked_stages_only() {
        let reversed = json!({ GREEN: 0, BLUE: 100 });
        let production = event_with("PRODUCTION_TRAFFIC_SHIFT", reversed.clone(), json!({}));
        assert_eq!(
            HookEvent::parse(&production).unwrap().rollback(),
            Some(Rollback {
                map: TrafficMap::Production,
                restored_revision: BLUE.into()
            })
        );
        let test = event_with("TEST_TRAFFIC_SHIFT", json!({}), reversed.clone());
        assert_eq!(
            HookEvent::parse(&test).unwrap().rollback().map(|r| r.map),
            Some(TrafficMap::Test)
        );
        // The same weights are the ordinary state before the first production step, and of production
        // traffic while test traffic shifts.
        let before_first_step =
            event_with("PRE_PRODUCTION_TRAFFIC_SHIFT", reversed.clone(), json!({}));
        assert_eq!(
            HookEvent::parse(&before_first_step).unwrap().rollback(),
            None
        );
        let test_shift_forward = event_with(
            "TEST_TRAFFIC_SHIFT",
            reversed,
            json!({ GREEN: 100, BLUE: 0 }),
        );
        assert_eq!(
            HookEvent::parse(&test_shift_forward).unwrap().rollback(),
            None
        );
        // Green absent, or nobody at 100, is not the documented rule.
        for weights in [json!({ BLUE: 100 }), json!({ GREEN: 0, BLUE: 50 })] {
            let event = event_with("PRODUCTION_TRAFFIC_SHIFT", weights, json!({}));
            assert_eq!(HookEvent::parse(&event).unwrap().rollback(), None);
        }
    }

    #[test]
    fn config_reference_must_be_a_string() {
        let mut event = valid();
        event["hookDetails"] = json!({ "greenlightConfig": 5 });
        let event = HookEvent::parse(&event).unwrap();
        assert_eq!(event.config_reference(), None);
        assert_eq!(event.greenlight_details(), None);
    }

    #[test]
    fn responses_use_the_wire_names() {
        let mut details = Map::new();
        details.insert("greenlight".into(), json!({ "since": 1 }));
        let response = HookResponse::in_progress(60).with_hook_details(details);
        assert_eq!(
            serde_json::to_value(&response).unwrap(),
            json!({ "hookStatus": "IN_PROGRESS", "callBackDelay": 60, "hookDetails": { "greenlight": { "since": 1 } } })
        );
        assert_eq!(
            serde_json::to_value(HookResponse::succeeded()).unwrap(),
            json!({ "hookStatus": "SUCCEEDED" })
        );
        assert_eq!(
            serde_json::to_value(HookResponse::failed()).unwrap(),
            json!({ "hookStatus": "FAILED" })
        );
        let read: HookResponse = serde_json::from_value(
            json!({ "hookStatus": "IN_PROGRESS", "callBackDelaySeconds": 45 }),
        )
        .unwrap();
        assert_eq!(read, HookResponse::in_progress(45));
        let round_trip: HookResponse =
            serde_json::from_value(serde_json::to_value(&response).unwrap()).unwrap();
        assert_eq!(round_trip, response);
        assert!(serde_json::from_value::<HookResponse>(json!({ "hookStatus": "DONE" })).is_err());
    }

    /// Arbitrary JSON, with keys that sometimes hit the contract's field names.
    fn arbitrary_json() -> impl Strategy<Value = Value> {
        let key = prop_oneof![
            Just("lifecycleStage".to_owned()),
            Just("resourceArn".to_owned()),
            Just("executionDetails".to_owned()),
            Just("serviceArn".to_owned()),
            Just("targetServiceRevisionArn".to_owned()),
            Just("productionTrafficWeights".to_owned()),
            Just("testTrafficWeights".to_owned()),
            Just("hookDetails".to_owned()),
            Just(GREEN.to_owned()),
            any::<String>(),
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            any::<String>().prop_map(Value::from),
            Just(json!(GREEN)),
            Just(json!(SERVICE)),
            Just(json!(DEPLOYMENT)),
            Just(json!("PRODUCTION_TRAFFIC_SHIFT")),
        ];
        leaf.prop_recursive(4, 64, 8, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
                prop::collection::btree_map(key.clone(), inner, 0..6)
                    .prop_map(|map| Value::Object(map.into_iter().collect())),
            ]
        })
    }

    /// Every helper, so a property test proves none of them panics on a parsed event.
    fn exercise(event: &HookEvent) {
        let _ = (event.service(), event.deployment(), event.validate());
        let _ = (event.blue_revisions(), event.blue_revision());
        let _ = (event.green_production_weight(), event.green_test_weight());
        let _ = (event.traffic_step(), event.rollback());
        let _ = (event.greenlight_details(), event.config_reference());
        let value = serde_json::to_value(event).unwrap();
        assert_eq!(&HookEvent::parse(&value).unwrap(), event);
    }

    /// The JSON pointers of every field of the valid event, for mutations.
    const POINTERS: [&str; 9] = [
        "",
        "/executionId",
        "/lifecycleStage",
        "/resourceArn",
        "/executionDetails",
        "/executionDetails/serviceArn",
        "/executionDetails/targetServiceRevisionArn",
        "/executionDetails/testTrafficWeights",
        "/executionDetails/productionTrafficWeights",
    ];

    proptest! {
        #[test]
        fn parse_never_panics_on_arbitrary_json(value in arbitrary_json()) {
            if let Ok(event) = HookEvent::parse(&value) {
                exercise(&event);
            }
        }

        #[test]
        fn parse_slice_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
            let _ = HookEvent::parse_slice(&bytes);
        }

        #[test]
        fn parse_never_panics_on_mutated_events(
            mutations in prop::collection::vec(
                (0..POINTERS.len(), prop::option::of(arbitrary_json()), any::<String>()),
                1..4,
            )
        ) {
            let mut event = valid();
            for (index, replacement, key) in mutations {
                let pointer = POINTERS[index];
                match (replacement, event.pointer_mut(pointer)) {
                    (Some(replacement), Some(slot)) => *slot = replacement,
                    // No replacement: drop the field, or add an odd key to the object.
                    (None, Some(Value::Object(map))) => { map.insert(key, json!(1)); }
                    (None, _) => {
                        if let Some((parent, last)) = pointer.rsplit_once('/')
                            && let Some(Value::Object(map)) = event.pointer_mut(parent)
                        {
                            map.remove(last);
                        }
                    }
                    (Some(_), None) => {}
                }
            }
            match HookEvent::parse(&event) {
                Ok(parsed) => exercise(&parsed),
                Err(error) => prop_assert!(!error.field().is_empty()),
            }
        }

        #[test]
        fn arn_parsers_never_panic(text in any::<String>(), cut in 0usize..120) {
            let _ = text.parse::<ServiceArn>();
            let _ = text.parse::<ServiceRevisionArn>();
            let _ = text.parse::<ServiceDeploymentArn>();
            let truncated: String = GREEN.chars().take(cut).chain(text.chars()).collect();
            let _ = truncated.parse::<ServiceRevisionArn>();
        }

        #[test]
        fn any_weight_in_range_parses_and_keys_a_step(weight in 0.0f64..=100.0) {
            let event = event_with("PRODUCTION_TRAFFIC_SHIFT", json!({ GREEN: weight }), json!({}));
            let step = HookEvent::parse(&event).unwrap().traffic_step().unwrap();
            prop_assert_eq!(step.green_weight(), weight);
            prop_assert!(step.key().parse::<f64>().is_ok());
        }
    }
}
