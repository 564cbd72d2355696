//! `http`: synthetic requests to green (through the test listener, with the test header, or to a
//! URL) get the expected answers, fast enough.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;
use std::time::Duration;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::checks::CheckKind;
use crate::checks::registry::{CheckParams, Validation};
use crate::document::de::FieldPath;
use crate::document::node::quote;
use crate::document::values::{
    HumanDuration, Percent, StatusMatcher, schema, serde_duration, serde_option_duration,
};
use crate::stage::LifecycleStage;

/// Where the requests go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HttpTarget {
    /// The load balancer's test listener, which routes to green during test traffic.
    #[default]
    TestListener,
    /// The production listener with the header of the service's test traffic rule (or the
    /// Service Connect test header), which routes to green.
    TestHeader,
    /// The `url` given.
    Url,
}

/// The request method.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    /// `GET`.
    #[default]
    Get,
    /// `HEAD`.
    Head,
    /// `POST`.
    Post,
    /// `PUT`.
    Put,
    /// `PATCH`.
    Patch,
    /// `DELETE`.
    Delete,
    /// `OPTIONS`.
    Options,
}

/// A request header's value: plain text, or read when the check runs from an SSM parameter or a
/// Secrets Manager secret, so secrets stay out of the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderValue {
    /// The value as written.
    Plain(String),
    /// `{ ssm: /path/to/parameter }`: an SSM parameter (SecureString is decrypted).
    Ssm(String),
    /// `{ secret: arn:aws:secretsmanager:… }`: a Secrets Manager secret's string, by ARN or name.
    Secret(String),
}

impl Serialize for HeaderValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            HeaderValue::Plain(value) => serializer.serialize_str(value),
            HeaderValue::Ssm(name) | HeaderValue::Secret(name) => {
                let key = if matches!(self, HeaderValue::Ssm(_)) {
                    "ssm"
                } else {
                    "secret"
                };
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry(key, name)?;
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for HeaderValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ValueVisitor;
        impl<'de> Visitor<'de> for ValueVisitor {
            type Value = HeaderValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a header value, { ssm: /parameter } or { secret: arn }")
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<HeaderValue, E> {
                Ok(HeaderValue::Plain(value.to_owned()))
            }
            fn visit_u64<E: de::Error>(self, value: u64) -> Result<HeaderValue, E> {
                Ok(HeaderValue::Plain(value.to_string()))
            }
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<HeaderValue, E> {
                Ok(HeaderValue::Plain(value.to_string()))
            }
            fn visit_bool<E: de::Error>(self, value: bool) -> Result<HeaderValue, E> {
                Ok(HeaderValue::Plain(value.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<HeaderValue, A::Error> {
                const FIELDS: &[&str] = &["ssm", "secret"];
                let mut found = None;
                while let Some(key) = map.next_key::<String>()? {
                    let value: String = map.next_value()?;
                    let made = match key.as_str() {
                        "ssm" => HeaderValue::Ssm(value),
                        "secret" => HeaderValue::Secret(value),
                        other => return Err(de::Error::unknown_field(other, FIELDS)),
                    };
                    if found.replace(made).is_some() {
                        return Err(de::Error::custom("give one of `ssm` or `secret`, not both"));
                    }
                }
                found.ok_or_else(|| {
                    de::Error::custom("expected `ssm` or `secret`, got an empty map")
                })
            }
        }
        deserializer.deserialize_any(ValueVisitor)
    }
}

impl JsonSchema for HeaderValue {
    fn schema_name() -> Cow<'static, str> {
        "HeaderValue".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schema(serde_json::json!({
            "description": "A header value: plain text, `{ ssm: /parameter/name }` or `{ secret: arn-or-name }`.",
            "anyOf": [
                { "type": ["string", "number", "boolean"] },
                { "type": "object", "properties": { "ssm": { "type": "string", "minLength": 1 } }, "required": ["ssm"], "additionalProperties": false },
                { "type": "object", "properties": { "secret": { "type": "string", "minLength": 1 } }, "required": ["secret"], "additionalProperties": false }
            ]
        }))
    }
}

/// One step of a [`JsonPath`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonPathStep {
    /// `.name` or `['name']`.
    Key(String),
    /// `[0]`.
    Index(usize),
}

/// A simple JSON path into a response body: `$`, then `.name`, `['name']` or `[0]` steps
/// (`$.status`, `$.checks[0].ok`). Filters and wildcards are not supported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPath {
    written: String,
    steps: Vec<JsonPathStep>,
}

impl JsonPath {
    /// The steps after `$`.
    pub fn steps(&self) -> &[JsonPathStep] {
        &self.steps
    }

    /// The value the path points at in `document`, if any.
    pub fn select<'a>(&self, document: &'a serde_json::Value) -> Option<&'a serde_json::Value> {
        self.steps
            .iter()
            .try_fold(document, |value, step| match step {
                JsonPathStep::Key(key) => value.get(key),
                JsonPathStep::Index(index) => value.get(index),
            })
    }
}

impl FromStr for JsonPath {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = |why: &str| {
            format!(
                "expected a JSON path like \"$.status\" or \"$.items[0].id\", got {} ({why})",
                quote(text)
            )
        };
        let Some(mut rest) = text.trim().strip_prefix('$') else {
            return Err(bad("it starts with `$`"));
        };
        let mut steps = Vec::new();
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('.') {
                let end = after.find(['.', '[']).unwrap_or(after.len());
                let name = &after[..end];
                if name.is_empty() {
                    return Err(bad("a `.` needs a name after it"));
                }
                if name.contains([']', '*', '?', '(', ')', '@', ' ']) {
                    return Err(bad("filters and wildcards are not supported"));
                }
                steps.push(JsonPathStep::Key(name.to_owned()));
                rest = &after[end..];
            } else if let Some(after) = rest.strip_prefix('[') {
                let Some(end) = after.find(']') else {
                    return Err(bad("a `[` needs its `]`"));
                };
                let inner = after[..end].trim();
                let quoted = inner
                    .strip_prefix('\'')
                    .and_then(|s| s.strip_suffix('\''))
                    .or_else(|| inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')));
                match (quoted, inner.parse::<usize>()) {
                    (Some(name), _) => steps.push(JsonPathStep::Key(name.to_owned())),
                    (None, Ok(index)) => steps.push(JsonPathStep::Index(index)),
                    _ => return Err(bad("brackets hold an index or a quoted name")),
                }
                rest = &after[end + 1..];
            } else {
                return Err(bad("steps are `.name`, `['name']` or `[0]`"));
            }
        }
        Ok(JsonPath {
            written: text.trim().to_owned(),
            steps,
        })
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.written)
    }
}

impl Serialize for JsonPath {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.written)
    }
}

impl<'de> Deserialize<'de> for JsonPath {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PathVisitor;
        impl Visitor<'_> for PathVisitor {
            type Value = JsonPath;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON path like \"$.status\"")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<JsonPath, E> {
                text.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_str(PathVisitor)
    }
}

impl JsonSchema for JsonPath {
    fn schema_name() -> Cow<'static, str> {
        "JsonPath".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schema(serde_json::json!({
            "type": "string",
            "pattern": "^\\s*\\$",
            "description": "A JSON path into the response body: `$.status`, `$.items[0].id`, `$['a key']`.",
        }))
    }
}

/// What a response must look like to count as a success, and how fast responses must be.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpExpect {
    /// Status codes that count as success: `2xx`, `200`, `"2xx,301"`, `[200, 204]`. By default
    /// `2xx`, or with `health_check: true` the success codes of green's target group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<StatusMatcher>,
    /// Text the body must contain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_contains: Option<String>,
    /// A regular expression (Rust `regex` syntax) the body must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_regex: Option<String>,
    /// A JSON path into the body that must exist (and equal `equals`, when given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_path: Option<JsonPath>,
    /// The value the `json_path` must hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<serde_json::Value>,
    /// Response headers that must have these exact values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// The slowest median response allowed.
    #[serde(
        default,
        with = "serde_option_duration",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "Option<HumanDuration>")]
    pub p50: Option<Duration>,
    /// The slowest 90th-percentile response allowed.
    #[serde(
        default,
        with = "serde_option_duration",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "Option<HumanDuration>")]
    pub p90: Option<Duration>,
    /// The slowest 95th-percentile response allowed.
    #[serde(
        default,
        with = "serde_option_duration",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "Option<HumanDuration>")]
    pub p95: Option<Duration>,
    /// The slowest 99th-percentile response allowed.
    #[serde(
        default,
        with = "serde_option_duration",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "Option<HumanDuration>")]
    pub p99: Option<Duration>,
    /// The share of requests that may fail (wrong status, body, timeout) before the check fails
    /// (default 0%).
    #[serde(default)]
    pub max_error_rate: Percent,
}

/// Params of the `http` check. Give `requests` (a count, default 10) or `duration` with a `rate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpParams {
    /// `test_listener` (default), `test_header` or `url`.
    #[serde(default)]
    pub target: HttpTarget,
    /// For `target: url`: the full URL (`https://green.internal.example.com/health`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// For the listener targets: the path and query to request (default `/`, or with
    /// `health_check: true` the path of green's target group health check).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// For the listener targets: request the path of green's target group health check and
    /// accept its success codes (its matcher), where `path` and `expect.status` are not given:
    /// what the service already declares a healthy answer (default false).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub health_check: bool,
    /// The request method (default `GET`).
    #[serde(default)]
    pub method: HttpMethod,
    /// Request headers; a value may be `{ ssm: /parameter }` or `{ secret: arn }`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, HeaderValue>,
    /// How many requests to send (default 10 when no `duration` is given), 1 to 10000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10000))]
    pub requests: Option<u32>,
    /// How many requests may be in flight at once (default 2), 1 to 64.
    #[serde(default = "two")]
    #[schemars(range(min = 1, max = 64))]
    pub concurrency: u32,
    /// The most requests per second (above 0, at most 1000); required with `duration`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// Send at `rate` for this long instead of a count of `requests`.
    #[serde(
        default,
        with = "serde_option_duration",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "Option<HumanDuration>")]
    pub duration: Option<Duration>,
    /// How long one request may take (default 5s); a slower one counts as failed.
    #[serde(default = "five_seconds", with = "serde_duration")]
    #[schemars(with = "HumanDuration")]
    pub request_timeout: Duration,
    /// How much of each body to read and judge (default 1 MiB, at most 10 MiB).
    #[serde(default = "one_mebibyte")]
    #[schemars(range(min = 1, max = 10485760))]
    pub body_max_bytes: u64,
    /// Allow requests to link-local addresses (169.254.0.0/16, fe80::/10) and the instance
    /// metadata service (default false), which hold credentials a config should not reach by
    /// accident.
    #[serde(default)]
    pub allow_link_local: bool,
    /// Verify TLS certificates (default true).
    #[serde(default = "yes")]
    pub tls_verify: bool,
    /// What counts as a good response.
    #[serde(default)]
    pub expect: HttpExpect,
}

fn two() -> u32 {
    2
}

fn five_seconds() -> Duration {
    Duration::from_secs(5)
}

fn one_mebibyte() -> u64 {
    1024 * 1024
}

fn yes() -> bool {
    true
}

/// Requests sent when neither `requests` nor `duration` is given.
pub const DEFAULT_REQUESTS: u32 = 10;
const MAX_REQUESTS: u64 = 10_000;
const MAX_CONCURRENCY: u32 = 64;
const MAX_RATE: f64 = 1000.0;
const MAX_BODY_BYTES: u64 = 10 * 1024 * 1024;
/// The most response body bytes all of a check's concurrent requests may buffer together: a
/// quarter of the template's default 256 MB function.
const MAX_BODY_BYTES_IN_FLIGHT: u64 = 64 * 1024 * 1024;
/// A compiled `body_regex` may take at most this much memory.
const REGEX_SIZE_LIMIT: usize = 1024 * 1024;

impl HttpParams {
    /// The path for the listener targets: the one given, else `/`.
    pub fn path(&self) -> &str {
        self.path.as_deref().unwrap_or("/")
    }

    /// How many requests to send in all: `requests`, or `rate` × `duration`.
    pub fn total_requests(&self) -> u64 {
        match (self.requests, self.duration, self.rate) {
            (Some(requests), _, _) => u64::from(requests),
            (None, Some(duration), Some(rate)) => (duration.as_secs_f64() * rate).ceil() as u64,
            _ => u64::from(DEFAULT_REQUESTS),
        }
    }
}

impl From<HttpParams> for CheckKind {
    fn from(params: HttpParams) -> Self {
        CheckKind::Http(params)
    }
}

impl CheckParams for HttpParams {
    const KIND: &'static str = "http";

    fn validate(&self, v: &mut Validation<'_>) {
        if self.target != HttpTarget::Url {
            v.require_stage_from(
                LifecycleStage::TestTrafficShift,
                "test traffic reaches green",
            );
        }
        self.validate_target(v);
        self.validate_load(v);
        self.validate_headers(v);
        self.validate_expect(v);
    }
}

impl HttpParams {
    fn validate_target(&self, v: &mut Validation<'_>) {
        match (self.target, &self.url) {
            (HttpTarget::Url, None) => v.error("url", "target: url needs a `url`"),
            (HttpTarget::Url, Some(url)) => {
                if let Err(message) = check_url(url, self.allow_link_local) {
                    v.error("url", message);
                }
                if self.path.is_some() {
                    v.error("path", "with target: url, put the path in the `url`");
                }
                if self.health_check {
                    v.error(
                        "health_check",
                        "health_check: true requests green's target group health-check path through the test listener; with target: url, put the path in the `url`",
                    );
                }
            }
            (target, Some(_)) => v.error(
                "url",
                format!(
                    "`url` is used only with target: url (this check's target is {})",
                    serde_json::to_value(target)
                        .ok()
                        .and_then(|t| t.as_str().map(str::to_owned))
                        .unwrap_or_default()
                ),
            ),
            (_, None) => {}
        }
        if let Some(path) = &self.path
            && (!path.starts_with('/') || path.chars().any(|c| c.is_whitespace() || c.is_control()))
        {
            v.error(
                "path",
                format!(
                    "expected a path starting with `/` and without spaces, got {}",
                    quote(path)
                ),
            );
        }
    }

    fn validate_load(&self, v: &mut Validation<'_>) {
        let timeout = v.policy.timeout;
        if self.requests.is_some() && self.duration.is_some() {
            v.error(
                "duration",
                "give `requests` (a count) or `duration` (with a `rate`), not both",
            );
        }
        if self.duration.is_some() && self.rate.is_none() {
            v.error(
                "duration",
                "`duration` needs a `rate` (requests per second), which bounds how many requests are sent",
            );
        }
        if let Some(requests) = self.requests
            && !(1..=MAX_REQUESTS).contains(&u64::from(requests))
        {
            v.error(
                "requests",
                format!("expected 1 to {MAX_REQUESTS} requests, got {requests}"),
            );
        }
        if !(1..=MAX_CONCURRENCY).contains(&self.concurrency) {
            v.error(
                "concurrency",
                format!(
                    "expected a concurrency of 1 to {MAX_CONCURRENCY}, got {}",
                    self.concurrency
                ),
            );
        }
        if let Some(rate) = self.rate {
            if !rate.is_finite() || rate <= 0.0 || rate > MAX_RATE {
                v.error(
                    "rate",
                    format!(
                        "expected a rate above 0 and at most {MAX_RATE} per second, got {rate}"
                    ),
                );
            } else if let Some(requests) = self.requests {
                // A tiny rate makes a span no Duration holds: that is longer than any timeout.
                let needs = Duration::try_from_secs_f64(f64::from(requests) / rate)
                    .unwrap_or(Duration::MAX);
                if needs > timeout {
                    v.error(
                        "rate",
                        format!(
                            "{requests} requests at {rate} per second take {}, longer than the check's timeout ({}); raise `timeout` or `rate`",
                            HumanDuration(round_to_millis(needs)),
                            HumanDuration(timeout)
                        ),
                    );
                }
            }
        }
        if let Some(duration) = self.duration {
            if duration.is_zero() {
                v.error("duration", "expected a duration above 0s");
            } else if duration.saturating_add(self.request_timeout) > timeout {
                v.error(
                    "duration",
                    format!(
                        "duration ({}) plus request_timeout ({}) is longer than the check's timeout ({}); raise `timeout`",
                        HumanDuration(duration),
                        HumanDuration(self.request_timeout),
                        HumanDuration(timeout)
                    ),
                );
            }
            if self.total_requests() > MAX_REQUESTS {
                v.error(
                    "duration",
                    format!(
                        "rate × duration is {} requests; at most {MAX_REQUESTS} are sent by one check",
                        self.total_requests()
                    ),
                );
            }
        }
        if self.request_timeout.is_zero() || self.request_timeout > timeout {
            v.error(
                "request_timeout",
                format!(
                    "expected a request_timeout above 0s and at most the check's timeout ({}), got {}",
                    HumanDuration(timeout),
                    HumanDuration(self.request_timeout)
                ),
            );
        }
        if !(1..=MAX_BODY_BYTES).contains(&self.body_max_bytes) {
            v.error(
                "body_max_bytes",
                format!(
                    "expected 1 to {MAX_BODY_BYTES} bytes, got {}",
                    self.body_max_bytes
                ),
            );
        } else if u64::from(self.concurrency).saturating_mul(self.body_max_bytes)
            > MAX_BODY_BYTES_IN_FLIGHT
        {
            v.error(
                "body_max_bytes",
                format!(
                    "{} concurrent requests of up to {} bytes each could hold {} MiB of bodies at once, more than {} MiB a function keeps for them; lower `concurrency` or `body_max_bytes`",
                    self.concurrency,
                    self.body_max_bytes,
                    u64::from(self.concurrency).saturating_mul(self.body_max_bytes) / (1024 * 1024),
                    MAX_BODY_BYTES_IN_FLIGHT / (1024 * 1024)
                ),
            );
        }
    }

    fn validate_headers(&self, v: &mut Validation<'_>) {
        for (name, value) in &self.headers {
            let path = FieldPath::root().key("headers").key(name.clone());
            if let Err(message) = check_header_name(name) {
                v.error_at(path.clone(), message);
            }
            let (text, what) = match value {
                HeaderValue::Plain(text) => (text, "value"),
                HeaderValue::Ssm(text) => (text, "SSM parameter name"),
                HeaderValue::Secret(text) => (text, "secret ARN or name"),
            };
            if text.chars().any(|c| matches!(c, '\r' | '\n' | '\0')) {
                v.error_at(
                    path.clone(),
                    format!("a header {what} cannot hold line breaks"),
                );
            }
            if !matches!(value, HeaderValue::Plain(_)) && text.trim().is_empty() {
                v.error_at(path, format!("expected a {what}, got an empty string"));
            }
        }
    }

    fn validate_expect(&self, v: &mut Validation<'_>) {
        let expect = &self.expect;
        let reads_body = expect.body_contains.is_some()
            || expect.body_regex.is_some()
            || expect.json_path.is_some();
        if self.method == HttpMethod::Head && reads_body {
            v.error(
                "expect",
                "HEAD responses have no body; drop the body expectations or use GET",
            );
        }
        if expect.body_contains.as_deref() == Some("") {
            v.error(
                "expect.body_contains",
                "expected some text; an empty string matches every body",
            );
        }
        if expect.max_error_rate.value() >= 100.0 {
            v.error(
                "expect.max_error_rate",
                format!(
                    "expected below 100%, got {}%: a check that tolerates every request failing judges nothing; use `mode: advisory` to report without gating",
                    expect.max_error_rate.value()
                ),
            );
        }
        if let Some(pattern) = &expect.body_regex {
            let compiled = regex::RegexBuilder::new(pattern)
                .size_limit(REGEX_SIZE_LIMIT)
                .build();
            if let Err(error) = compiled {
                let detail = match error {
                    regex::Error::CompiledTooBig(_) => {
                        "it compiles too large; simplify it".to_owned()
                    }
                    other => other
                        .to_string()
                        .lines()
                        .last()
                        .unwrap_or_default()
                        .trim()
                        .to_owned(),
                };
                v.error(
                    "expect.body_regex",
                    format!("not a valid regular expression: {detail}"),
                );
            }
        }
        if expect.equals.is_some() && expect.json_path.is_none() {
            v.error(
                "expect.equals",
                "`equals` needs a `json_path` saying which value to compare",
            );
        }
        for name in expect.headers.keys() {
            if let Err(message) = check_header_name(name) {
                v.error_at(
                    FieldPath::root()
                        .key("expect")
                        .key("headers")
                        .key(name.clone()),
                    message,
                );
            }
        }
        let latencies = [
            ("p50", expect.p50),
            ("p90", expect.p90),
            ("p95", expect.p95),
            ("p99", expect.p99),
        ];
        for (field, latency) in latencies {
            if latency.is_some_and(|l| l > self.request_timeout) {
                v.error(
                    &format!("expect.{field}"),
                    format!(
                        "{field} ({}) is above request_timeout ({}); slower requests already fail",
                        HumanDuration(latency.unwrap_or_default()),
                        HumanDuration(self.request_timeout)
                    ),
                );
            }
        }
        let set: Vec<(&str, Duration)> = latencies
            .iter()
            .filter_map(|(field, latency)| latency.map(|l| (*field, l)))
            .collect();
        for pair in set.windows(2) {
            let ((low_name, low), (high_name, high)) = (pair[0], pair[1]);
            if low > high {
                v.error(
                    &format!("expect.{low_name}"),
                    format!(
                        "{low_name} ({}) is above {high_name} ({}); a lower percentile cannot be slower",
                        HumanDuration(low),
                        HumanDuration(high)
                    ),
                );
            }
        }
    }
}

fn round_to_millis(duration: Duration) -> Duration {
    Duration::from_millis(duration.as_millis().try_into().unwrap_or(u64::MAX))
}

/// Header names are HTTP tokens.
fn check_header_name(name: &str) -> Result<(), String> {
    let token = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c));
    if token {
        Ok(())
    } else {
        Err(format!(
            "expected a header name of letters, digits and !#$%&'*+-.^_`|~, got {}",
            quote(name)
        ))
    }
}

/// The IPv6 address of the EC2 instance metadata service.
const IMDS_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254);

/// Checks a URL's shape and that it does not point at a link-local address unless allowed. Host
/// names are checked again where they resolve, by the check itself.
fn check_url(url: &str, allow_link_local: bool) -> Result<(), String> {
    let bad = |why: &str| {
        format!(
            "expected an http:// or https:// URL, got {} ({why})",
            quote(url)
        )
    };
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| bad("the scheme must be http or https"))?;
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("it has spaces or control characters"));
    }
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    if authority.contains('@') {
        return Err(format!(
            "the url holds credentials; send them in `headers` with {{ ssm: … }} or {{ secret: … }} instead, got {}",
            quote(url)
        ));
    }
    let host = if let Some(bracketed) = authority.strip_prefix('[') {
        bracketed.split(']').next().unwrap_or_default()
    } else {
        authority.split(':').next().unwrap_or_default()
    };
    if host.is_empty() {
        return Err(bad("it has no host"));
    }
    if !allow_link_local {
        let address = host.parse::<IpAddr>().ok().map(|ip| match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        });
        let link_local = match address {
            Some(IpAddr::V4(v4)) => v4.is_link_local(),
            Some(IpAddr::V6(v6)) => v6.is_unicast_link_local() || v6 == IMDS_V6,
            None => false,
        };
        if link_local {
            return Err(format!(
                "{} is a link-local or metadata address, where instance credentials live; set allow_link_local: true if you mean it",
                quote(host)
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::registry::test_support::{check, errors};

    fn params(yaml: &str) -> HttpParams {
        match check(yaml).unwrap().kind {
            CheckKind::Http(params) => params,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn reads_the_design_example() {
        let p = params(
            "http:\n  target: test_listener\n  path: /health\n  requests: 200\n  concurrency: 8\n  timeout: 1m\n  expect: { status: 2xx, body_contains: ok, p99: 300ms, max_error_rate: 1% }\n",
        );
        assert_eq!(p.path(), "/health");
        assert_eq!(p.total_requests(), 200);
        assert_eq!(p.expect.p99, Some(Duration::from_millis(300)));
        assert_eq!(p.expect.max_error_rate.value(), 1.0);
        assert!(p.expect.status.as_ref().is_some_and(|s| s.matches(204)));
    }

    #[test]
    fn defaults_are_small_and_safe() {
        let p = params("http");
        assert_eq!(p.target, HttpTarget::TestListener);
        assert_eq!(
            (p.path(), p.method, p.total_requests(), p.concurrency),
            ("/", HttpMethod::Get, 10, 2)
        );
        assert!(p.tls_verify && !p.allow_link_local);
        assert_eq!(p.expect.max_error_rate.value(), 0.0);
    }

    #[test]
    fn url_target_needs_a_url_and_only_it_takes_one() {
        assert_eq!(
            errors("http: { target: url }"),
            vec!["checks[0].http.url: target: url needs a `url`"]
        );
        assert!(
            errors("http: { url: 'https://x.example.com' }")[0]
                .contains("only with target: url (this check's target is test_listener)")
        );
        assert!(
            errors("http: { target: url, url: 'https://x.example.com', path: /a }")[0]
                .contains("put the path in the `url`")
        );
        assert!(check("http: { target: url, url: 'https://x.example.com/health?x=1' }").is_ok());
    }

    #[test]
    fn urls_are_checked_for_shape_credentials_and_link_local() {
        assert!(errors("http: { target: url, url: 'ftp://x' }")[0].contains("scheme"));
        assert!(
            errors("http: { target: url, url: 'https://u:p@x.example.com/' }")[0]
                .contains("holds credentials")
        );
        assert!(
            errors("http: { target: url, url: 'http://169.254.169.254/latest/meta-data' }")[0]
                .contains("link-local")
        );
        assert!(
            errors("http: { target: url, url: 'http://[fe80::1]/' }")[0].contains("link-local")
        );
        assert!(
            errors("http: { target: url, url: 'http://[fd00:ec2::254]/' }")[0].contains("metadata")
        );
        assert!(
            errors("http: { target: url, url: 'http://[::ffff:169.254.170.2]/' }")[0]
                .contains("link-local")
        );
        assert!(
            check("http: { target: url, url: 'http://169.254.170.2/v4', allow_link_local: true }")
                .is_ok()
        );
    }

    #[test]
    fn load_rules_respect_the_timeout() {
        assert!(errors("http: { requests: 10, duration: 5s, rate: 1 }")[0].contains("not both"));
        assert!(errors("http: { duration: 5s }")[0].contains("needs a `rate`"));
        assert!(
            errors("http: { duration: 30s, rate: 5 }")[0]
                .contains("longer than the check's timeout (10s)")
        );
        assert!(check("http: { duration: 30s, rate: 5, timeout: 1m }").is_ok());
        assert!(
            errors("http: { requests: 100, rate: 5 }")[0]
                .contains("take 20s, longer than the check's timeout")
        );
        assert!(errors("http: { requests: 0 }")[0].contains("1 to 10000"));
        assert!(errors("http: { concurrency: 100 }")[0].contains("1 to 64"));
        assert!(errors("http: { rate: 0 }")[0].contains("above 0"));
        // A rate so small the run would outlast any Duration is refused, not a panic.
        assert!(
            errors("http: { requests: 1000, rate: 1e-20 }")[0]
                .contains("longer than the check's timeout")
        );
        assert!(
            errors("http: { request_timeout: 20s }")[0].contains("at most the check's timeout")
        );
        assert!(errors("http: { body_max_bytes: 0 }")[0].contains("1 to 10485760"));
        // 64 requests of 10 MiB would buffer 640 MiB in a 256 MB function.
        assert!(
            errors("http: { concurrency: 64, body_max_bytes: 10485760 }")[0].contains("640 MiB")
        );
        assert!(check("http: { concurrency: 6, body_max_bytes: 10485760 }").is_ok());
        assert!(errors("http: { expect: { max_error_rate: 100% } }")[0].contains("judges nothing"));
        assert!(
            errors("http: { duration: 5m, rate: 1000, timeout: 15m }")[0].contains("at most 10000")
        );
    }

    #[test]
    fn headers_may_come_from_ssm_or_secrets_manager() {
        let p = params(
            "http: { headers: { X-Api-Key: { ssm: /team/key }, Authorization: { secret: 'arn:aws:secretsmanager:eu-west-1:1:secret:x' }, X-Version: 2 } }",
        );
        assert_eq!(p.headers["X-Api-Key"], HeaderValue::Ssm("/team/key".into()));
        assert!(matches!(p.headers["Authorization"], HeaderValue::Secret(_)));
        assert_eq!(p.headers["X-Version"], HeaderValue::Plain("2".into()));
        assert!(
            errors("http: { headers: { X: { sm: /a } } }")[0]
                .contains("unknown field \"sm\"; did you mean \"ssm\"?")
        );
        assert!(errors("http: { headers: { X: { ssm: /a, secret: b } } }")[0].contains("not both"));
        assert!(errors("http: { headers: { 'Bad Name': x } }")[0].contains("header name"));
        assert!(errors("http: { headers: { X: { ssm: '' } } }")[0].contains("empty string"));
    }

    #[test]
    fn expectations_are_checked() {
        assert!(
            errors("http: { expect: { body_regex: '(unclosed' } }")[0]
                .contains("checks[0].http.expect.body_regex: not a valid regular expression")
        );
        assert!(
            errors("http: { expect: { body_regex: 'a{1000}{1000}' } }")[0].contains("too large")
        );
        assert!(errors("http: { expect: { equals: ok } }")[0].contains("needs a `json_path`"));
        assert!(errors("http: { expect: { json_path: status } }")[0].contains("starts with `$`"));
        assert!(
            errors("http: { method: HEAD, expect: { body_contains: ok } }")[0].contains("no body")
        );
        assert!(
            errors("http: { expect: { p50: 2s, p99: 1s } }")[0]
                .contains("p50 (2s) is above p99 (1s)")
        );
        assert!(errors("http: { expect: { p99: 6s } }")[0].contains("above request_timeout"));
        assert!(errors("http: { expect: { status: 6xx } }")[0].contains("classes are 1xx to 5xx"));
        assert!(
            errors("http: { expect: { max_error_rate: 0.5pp } }")[0]
                .contains("percentage points are for differences")
        );
        assert!(errors("http: { method: get }")[0].contains("did you mean \"GET\"?"));
        let p = params(
            "http: { expect: { json_path: '$.checks[0][\"ok\"]', equals: true, status: [200, 204] } }",
        );
        let body = serde_json::json!({"checks": [{"ok": true}]});
        assert_eq!(
            p.expect.json_path.unwrap().select(&body),
            Some(&serde_json::json!(true))
        );
    }

    #[test]
    fn json_paths_parse_simple_steps_only() {
        let path: JsonPath = "$.a['b c'][2].d".parse().unwrap();
        assert_eq!(
            path.steps(),
            &[
                JsonPathStep::Key("a".into()),
                JsonPathStep::Key("b c".into()),
                JsonPathStep::Index(2),
                JsonPathStep::Key("d".into())
            ]
        );
        assert!("$".parse::<JsonPath>().is_ok_and(|p| p.steps().is_empty()));
        for bad in ["$.", "$[", "$[x]", "$..a", "$.a[*]", "$a", "a.b"] {
            assert!(bad.parse::<JsonPath>().is_err(), "{bad}");
        }
    }
}
