//! The `http` check's gather half: sends synthetic requests to green and hands what came back to
//! the core's judge ([`greenlight_core::checks::http`], which documents where the requests go and
//! how they are judged).
//!
//! One run:
//! 1. the target is resolved from the shared facts (routing, and green for `test_header`) while
//!    the header values are read from SSM and Secrets Manager, concurrently;
//! 2. the target's host is checked against the address guard (the check's `allow_link_local`, the
//!    platform's `GREENLIGHT_ALLOW_LOOPBACK`): an address literal directly, a name by resolving it
//!    (and again at every connection, by the client's resolver);
//! 3. a client for the run is built (the `client` module says why not the shared one), and
//!    `concurrency` workers send the requests (the `traffic` module);
//! 4. the judge weighs the tally.

mod client;
mod header_values;
#[cfg(test)]
mod test_support;
mod traffic;

use std::borrow::Cow;
use std::sync::Arc;

use greenlight_core::Outcome;
use greenlight_core::checks::http::{
    AddressGuard, ResolvedTarget, ResponseExpectations, address_refusal, address_refused, judge,
    resolve_target, secret_header_refused, setup_failed, with_health_check,
};
use greenlight_core::checks::{HeaderValue, HttpMethod, HttpParams, HttpTarget};
use greenlight_core::engine::{Check, CheckFuture, StageView};
use greenlight_core::facts::{Facts, RevisionFacts, RoutingFacts};
use greenlight_core::outcome::Evidence;
use greenlight_core::platform::{Destination, Platform};

use super::CheckDeps;
use client::{ClientSettings, Lookup, ResolveError, build_client, resolve_checked, system_lookup};
use header_values::RequestHeaders;
use traffic::{TrafficPlan, TrafficRun};

/// Builds the `http` check from its params.
pub fn build(params: &HttpParams, deps: &CheckDeps) -> Box<dyn Check> {
    Box::new(
        HttpCheck::new(
            params.clone(),
            Arc::clone(&deps.facts),
            deps.clients.ssm.clone(),
            deps.clients.secrets.clone(),
        )
        .with_platform((*deps.platform).clone()),
    )
}

/// The `http` check: one run of synthetic requests per judgement.
pub struct HttpCheck {
    params: HttpParams,
    facts: Arc<dyn Facts>,
    ssm: aws_sdk_ssm::Client,
    secrets: aws_sdk_secretsmanager::Client,
    lookup: Lookup,
    platform: Platform,
}

impl HttpCheck {
    /// A check sending the requests `params` describe, reading header values with the clients
    /// given.
    pub fn new(
        params: HttpParams,
        facts: Arc<dyn Facts>,
        ssm: aws_sdk_ssm::Client,
        secrets: aws_sdk_secretsmanager::Client,
    ) -> Self {
        HttpCheck {
            params,
            facts,
            ssm,
            secrets,
            lookup: system_lookup(),
            platform: Platform::default(),
        }
    }

    /// The same check under the platform's rules (by default: no secret references, no
    /// loopback).
    pub fn with_platform(mut self, platform: Platform) -> Self {
        self.platform = platform;
        self
    }

    async fn gather_and_judge(&self, attempt: u32) -> Outcome {
        let params = match self.with_health_check().await {
            Ok(params) => params,
            Err(outcome) => return outcome,
        };
        let params = params.as_ref();
        let expectations = match ResponseExpectations::new(&params.expect) {
            Ok(expectations) => expectations,
            Err(why) => return setup_failed(&why),
        };
        // The platform's rules on secrets hold before any parameter or secret is read.
        if let Err(outcome) = self.check_secret_rules() {
            return outcome;
        }
        let (target, headers) = futures::join!(
            self.target(params),
            header_values::resolve(&params.headers, &self.ssm, &self.secrets)
        );
        let target = match target {
            Ok(target) => target,
            Err(outcome) => return outcome,
        };
        let mut headers = match headers {
            Ok(headers) => headers,
            Err(outcome) => return outcome,
        };
        if let Err(outcome) = add_route_headers(&mut headers, &target) {
            return outcome;
        }
        let url = match reqwest::Url::parse(&target.url) {
            Ok(url) => url,
            Err(error) => {
                return setup_failed(&format!("{:?} is not a valid URL: {error}", target.url));
            }
        };
        let guard = AddressGuard {
            allow_link_local: params.allow_link_local,
            allow_loopback: self.platform.allow_loopback,
        };
        if let Err(outcome) = self.check_address(&url, &target, guard).await {
            return outcome;
        }
        let connect_to = match (&target.connect_to, url.host_str()) {
            (Some(instead), Some(host)) => Some((host.to_owned(), instead.clone())),
            _ => None,
        };
        let client = match build_client(ClientSettings {
            tls_verify: params.tls_verify,
            guard,
            connect_to,
            request_timeout: params.request_timeout,
            concurrency: usize::try_from(params.concurrency).unwrap_or(1),
            lookup: Arc::clone(&self.lookup),
        }) {
            Ok(client) => client,
            Err(error) => return setup_failed(&format!("the HTTP client: {error}")),
        };
        let plan = TrafficPlan {
            url,
            via: target.via.clone(),
            method: method(params.method),
            headers: headers.headers,
            total: params.total_requests(),
            concurrency: params.concurrency,
            rate: params.rate,
            request_timeout: params.request_timeout,
            body_max_bytes: params.body_max_bytes,
            latency_thresholds: [
                params.expect.p50,
                params.expect.p90,
                params.expect.p95,
                params.expect.p99,
            ]
            .into_iter()
            .flatten()
            .collect(),
        };
        tracing::debug!(url = %plan.url, requests = plan.total, concurrency = plan.concurrency, "sending synthetic requests");
        let TrafficRun { summary, refused } =
            match traffic::send(&client, &plan, &expectations, &headers.secrets).await {
                Ok(run) => run,
                Err(why) => return setup_failed(&why),
            };
        if let Some((host, address, refusal)) = refused {
            return address_refused(&host, address, refusal);
        }
        let request = serde_json::json!({
            "method": plan.method.as_str(),
            "headers": headers.shown,
            "timeout_ms": u64::try_from(params.request_timeout.as_millis()).unwrap_or(u64::MAX),
        });
        judge(&summary, &params.expect, attempt)
            .with_evidence(Evidence::new("request", request).resource(summary.url.as_str()))
    }

    /// Refuses secret-valued headers outside the service's secret path, or bound anywhere but
    /// the service's own test endpoint or a host the platform lists (https, TLS verified).
    fn check_secret_rules(&self) -> Result<(), Outcome> {
        let params = &self.params;
        let service = self.facts.service();
        let secret_headers: Vec<&str> = params
            .headers
            .iter()
            .filter(|(_, value)| !matches!(value, HeaderValue::Plain(_)))
            .map(|(name, _)| name.as_str())
            .collect();
        if secret_headers.is_empty() {
            return Ok(());
        }
        let refuse = |why: String| secret_header_refused(&secret_headers, &why);
        for value in params.headers.values() {
            self.platform
                .check_header_value(value, &service.cluster, &service.service)
                .map_err(refuse)?;
        }
        let destination = match (&params.target, params.url.as_deref()) {
            (HttpTarget::Url, Some(url)) => {
                let parsed = reqwest::Url::parse(url).map_err(|error| {
                    setup_failed(&format!("{url:?} is not a valid URL: {error}"))
                })?;
                let host = parsed.host_str().unwrap_or_default().to_owned();
                self.platform
                    .check_secret_destination(Destination::Url {
                        scheme: parsed.scheme(),
                        host: &host,
                        tls_verify: params.tls_verify,
                    })
                    .map_err(refuse)?;
                return Ok(());
            }
            (HttpTarget::Url, None) => return Err(setup_failed("`target: url` without a url")),
            _ => Destination::ServiceTestEndpoint,
        };
        self.platform
            .check_secret_destination(destination)
            .map_err(refuse)
    }

    /// The params with green's health-check path and success codes filled in, for
    /// `health_check: true`. Without a test route, or before green's target group is known, they
    /// stay as written: resolving the target then gives the answer that explains why.
    async fn with_health_check(&self) -> Result<Cow<'_, HttpParams>, Outcome> {
        if !self.params.health_check || self.params.target == HttpTarget::Url {
            return Ok(Cow::Borrowed(&self.params));
        }
        let routing = self.facts.routing().await.map_err(|e| e.to_outcome())?;
        if routing.test_endpoint.is_none() || routing.green_target_group.is_none() {
            return Ok(Cow::Borrowed(&self.params));
        }
        let health = self
            .facts
            .green_health_check()
            .await
            .map_err(|e| e.to_outcome())?;
        with_health_check(&self.params, &health, &routing).map(Cow::Owned)
    }

    /// Where the requests go, from the facts the target needs.
    async fn target(&self, params: &HttpParams) -> Result<ResolvedTarget, Outcome> {
        let (routing, green): (Option<Arc<RoutingFacts>>, Option<Arc<RevisionFacts>>) =
            match params.target {
                HttpTarget::Url => (None, None),
                HttpTarget::TestListener => {
                    let routing = self.facts.routing().await.map_err(|e| e.to_outcome())?;
                    (Some(routing), None)
                }
                HttpTarget::TestHeader => {
                    let (routing, green) = futures::join!(self.facts.routing(), self.facts.green());
                    let routing = routing.map_err(|e| e.to_outcome())?;
                    let green = green.map_err(|e| e.to_outcome())?;
                    (Some(routing), Some(green))
                }
            };
        resolve_target(params, routing.as_deref(), green.as_deref())
    }

    /// Refuses a target whose host is, or resolves to, an address `guard` refuses. A name that
    /// does not resolve is left to the requests, which then say so (and are checked again as they
    /// connect).
    async fn check_address(
        &self,
        url: &reqwest::Url,
        target: &ResolvedTarget,
        guard: AddressGuard,
    ) -> Result<(), Outcome> {
        let Some(host) = url.host_str() else {
            return Err(setup_failed(&format!("{url} has no host")));
        };
        // An address literal is never resolved, by this check or by the client: judge it here.
        let literal = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = literal.parse::<std::net::IpAddr>() {
            return refuse_literal(url, ip, guard);
        }
        let name = target.connect_to.clone().unwrap_or_else(|| host.to_owned());
        if let Ok(ip) = name.parse::<std::net::IpAddr>() {
            return refuse_literal(url, ip, guard);
        }
        match resolve_checked(&self.lookup, &name, guard).await {
            Err(ResolveError::Refused(refused)) => Err(address_refused(
                &refused.host,
                refused.address,
                refused.refusal,
            )),
            Ok(_) | Err(ResolveError::Lookup { .. }) => Ok(()),
        }
    }
}

fn refuse_literal(
    url: &reqwest::Url,
    ip: std::net::IpAddr,
    guard: AddressGuard,
) -> Result<(), Outcome> {
    match address_refusal(ip, guard) {
        Some(refusal) => Err(address_refused(
            url.host_str().unwrap_or_default(),
            ip,
            refusal,
        )),
        None => Ok(()),
    }
}

fn add_route_headers(headers: &mut RequestHeaders, target: &ResolvedTarget) -> Result<(), Outcome> {
    for route in &target.route_headers {
        let (Ok(name), Ok(value)) = (
            reqwest::header::HeaderName::from_bytes(route.name.as_bytes()),
            reqwest::header::HeaderValue::from_str(&route.value),
        ) else {
            return Err(setup_failed(&format!(
                "the route's header {:?} cannot be sent",
                route.name
            )));
        };
        headers
            .shown
            .retain(|shown, _| !shown.eq_ignore_ascii_case(&route.name));
        headers
            .shown
            .insert(route.name.clone(), route.value.clone());
        headers.headers.insert(name, value);
    }
    Ok(())
}

fn method(method: HttpMethod) -> reqwest::Method {
    match method {
        HttpMethod::Get => reqwest::Method::GET,
        HttpMethod::Head => reqwest::Method::HEAD,
        HttpMethod::Post => reqwest::Method::POST,
        HttpMethod::Put => reqwest::Method::PUT,
        HttpMethod::Patch => reqwest::Method::PATCH,
        HttpMethod::Delete => reqwest::Method::DELETE,
        HttpMethod::Options => reqwest::Method::OPTIONS,
    }
}

impl Check for HttpCheck {
    fn kind(&self) -> &'static str {
        "http"
    }

    fn run<'a>(&'a self, stage: &'a StageView) -> CheckFuture<'a> {
        Box::pin(self.gather_and_judge(stage.attempt))
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant, SystemTime};

    use aws_sdk_secretsmanager::operation::get_secret_value::{
        GetSecretValueError, GetSecretValueOutput,
    };
    use aws_sdk_ssm::error::ErrorMetadata;
    use aws_sdk_ssm::operation::get_parameters::{GetParametersError, GetParametersOutput};
    use aws_sdk_ssm::types::Parameter;
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
    use greenlight_core::ReasonCode;
    use greenlight_core::checks::http::{
        HTTP_ADDRESS_REFUSED, HTTP_ERROR_RATE, HTTP_HEADER_VALUE_INVALID, HTTP_LATENCY,
        HTTP_LATENCY_NOT_SIGNIFICANT, HTTP_LINK_LOCAL_REFUSED, HTTP_NO_TEST_ROUTE, HTTP_OK,
        HTTP_SECRET_HEADER_REFUSED, HTTP_UNREACHABLE,
    };
    use greenlight_core::engine::state::CheckMemory;
    use greenlight_core::facts::{
        AWS_ACCESS_DENIED, AWS_NOT_FOUND, AWS_THROTTLED, FactError, HeaderMatch, HealthCheckFacts,
        ServiceIdentity, StaticFacts, TestEndpoint,
    };
    use greenlight_core::outcome::{ErrorClass, Status};
    use greenlight_core::stage::StageKey;
    use serde_json::{Value, json};

    use super::test_support::{TestServer, closed_port, table_lookup};
    use super::*;

    const SECRET_ARN: &str =
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:web/token-AbCdEf";

    fn params(value: Value) -> HttpParams {
        serde_json::from_value(value).expect("test params parse")
    }

    fn facts() -> StaticFacts {
        StaticFacts::new(ServiceIdentity {
            partition: "aws".into(),
            region: "eu-west-1".into(),
            account: "123456789012".into(),
            cluster: "prod".into(),
            service: "web".into(),
            service_arn: "arn:aws:ecs:eu-west-1:123456789012:service/prod/web".into(),
        })
    }

    fn routing_to(endpoint: Option<TestEndpoint>) -> Arc<RoutingFacts> {
        Arc::new(RoutingFacts {
            green_target_group: Some("tg-green".into()),
            blue_target_group: Some("tg-blue".into()),
            load_balancer_arn: None,
            production_rule: None,
            test_rule: None,
            test_endpoint: endpoint,
        })
    }

    fn stage() -> StageView {
        StageView {
            key: StageKey::new("arn:deployment/1", "POST_TEST_TRAFFIC_SHIFT", None),
            started_at: SystemTime::UNIX_EPOCH,
            now: SystemTime::UNIX_EPOCH,
            attempt: 1,
            memory: CheckMemory::default(),
            horizon: None,
        }
    }

    /// Mock clients retry up to three attempts, without waiting.
    fn ssm(rules: &[&Rule]) -> aws_sdk_ssm::Client {
        mock_client!(aws_sdk_ssm, RuleMode::Sequential, rules, |config| {
            config.retry_config(
                aws_sdk_ssm::config::retry::RetryConfig::standard()
                    .with_max_attempts(3)
                    .with_initial_backoff(Duration::ZERO)
                    .with_max_backoff(Duration::ZERO),
            )
        })
    }

    fn secrets(rules: &[&Rule]) -> aws_sdk_secretsmanager::Client {
        mock_client!(
            aws_sdk_secretsmanager,
            RuleMode::Sequential,
            rules,
            |config| {
                config.retry_config(
                    aws_sdk_secretsmanager::config::retry::RetryConfig::standard()
                        .with_max_attempts(3)
                        .with_initial_backoff(Duration::ZERO)
                        .with_max_backoff(Duration::ZERO),
                )
            }
        )
    }

    struct Run {
        facts: StaticFacts,
        ssm: Vec<Rule>,
        secrets: Vec<Rule>,
        lookup: Option<Lookup>,
        platform: Platform,
    }

    /// The platform of these tests: the service `web`'s secrets under `/web/`, and loopback
    /// allowed, as in a local rehearsal (the test servers listen there).
    fn rehearsal_platform() -> Platform {
        Platform {
            secret_path: Some("/{service}/".into()),
            secret_hosts: Vec::new(),
            allow_loopback: true,
        }
    }

    impl Run {
        fn new() -> Self {
            Run {
                facts: facts(),
                ssm: Vec::new(),
                secrets: Vec::new(),
                lookup: None,
                platform: rehearsal_platform(),
            }
        }

        /// A run whose service's test listener is `server`.
        fn serving(server: &TestServer) -> Self {
            let mut run = Run::new();
            run.facts.routing = Ok(routing_to(Some(TestEndpoint {
                base_url: server.url(""),
                host: None,
                path: None,
                headers: Vec::new(),
            })));
            run
        }

        async fn check(self, params: HttpParams) -> Outcome {
            let ssm_rules: Vec<&Rule> = self.ssm.iter().collect();
            let secret_rules: Vec<&Rule> = self.secrets.iter().collect();
            let mut check = HttpCheck::new(
                params,
                Arc::new(self.facts),
                ssm(&ssm_rules),
                secrets(&secret_rules),
            )
            .with_platform(self.platform);
            if let Some(lookup) = self.lookup {
                check.lookup = lookup;
            }
            check.run(&stage()).await
        }
    }

    async fn check(params: HttpParams) -> Outcome {
        Run::new().check(params).await
    }

    fn evidence<'a>(outcome: &'a Outcome, measured: &str) -> &'a Value {
        &outcome
            .evidence
            .iter()
            .find(|evidence| evidence.measured == measured)
            .unwrap_or_else(|| panic!("no evidence {measured:?} in {outcome:#?}"))
            .value
    }

    fn green_health_check(path: &str, codes: &str) -> Arc<HealthCheckFacts> {
        Arc::new(HealthCheckFacts {
            target_group_arn: "tg-green".into(),
            target_group_port: Some(8080),
            protocol: Some("HTTP".into()),
            port: Some("traffic-port".into()),
            path: Some(path.into()),
            http_codes: Some(codes.into()),
            grpc_codes: None,
            protocol_version: Some("HTTP1".into()),
        })
    }

    #[tokio::test]
    async fn health_check_requests_green_health_path_and_accepts_its_codes() {
        let server = TestServer::start().await;
        let zero_config = params(json!({ "health_check": true, "requests": 4 }));
        // `/` is not what this service serves; its target group checks `/ok` for 200.
        let mut run = Run::serving(&server);
        run.facts.green_health_check = Ok(green_health_check("/ok", "200"));
        let outcome = run.check(zero_config.clone()).await;
        assert_eq!(
            (outcome.status, outcome.code),
            (Status::Pass, &HTTP_OK),
            "{outcome:#?}"
        );
        assert_eq!((server.hits("/ok"), server.hits("/")), (4, 0));
        // A green whose health path fails is failed, on the codes the target group names.
        let mut run = Run::serving(&server);
        run.facts.green_health_check = Ok(green_health_check("/flaky", "200"));
        let outcome = run.check(zero_config.clone()).await;
        assert_eq!(outcome.status, Status::Fail, "{outcome:#?}");
        assert_eq!(outcome.code, &HTTP_ERROR_RATE);
        // The health check cannot be read: the check says why, it never falls back to `/`.
        let mut run = Run::serving(&server);
        run.facts.green_health_check = Err(FactError::AccessDenied {
            action: "elasticloadbalancing:DescribeTargetGroups".into(),
            resource: "tg-green".into(),
            message: "denied".into(),
        });
        let outcome = run.check(zero_config).await;
        assert_eq!(outcome.code.code, "AWS_ACCESS_DENIED", "{outcome:#?}");
        assert_eq!(server.hits("/"), 0);
    }

    #[tokio::test]
    async fn all_good_passes_through_few_pooled_connections() {
        let server = TestServer::start().await;
        let outcome = check(params(json!({
            "target": "url", "url": server.url("/ok"), "requests": 10, "concurrency": 2,
            "expect": { "status": "2xx", "body_contains": "ok", "json_path": "$.status", "equals": "ok",
                        "headers": { "x-version": "2" }, "p99": "1s" }
        })))
        .await;
        assert_eq!(
            (outcome.status, outcome.code),
            (Status::Pass, &HTTP_OK),
            "{outcome:#?}"
        );
        assert_eq!(server.hits("/ok"), 10);
        assert!(
            server.connections() <= 2,
            "{} connections",
            server.connections()
        );
        assert_eq!(
            *evidence(&outcome, "responses by status"),
            json!({"200": 10})
        );
        assert_eq!(evidence(&outcome, "request")["method"], json!("GET"));
        let rate = &outcome.evidence[0];
        assert_eq!(
            (rate.samples, rate.resource.clone()),
            (Some(10), Some(server.url("/ok")))
        );
    }

    #[tokio::test]
    async fn server_errors_above_the_threshold_fail_with_counts() {
        let server = TestServer::start().await;
        let outcome = check(params(json!({
            "target": "url", "url": server.url("/flaky"), "requests": 20, "concurrency": 4,
            "expect": { "max_error_rate": "1%" }
        })))
        .await;
        assert_eq!(
            (outcome.status, outcome.code),
            (Status::Fail, &HTTP_ERROR_RATE),
            "{outcome:#?}"
        );
        assert!(
            outcome.message.contains("5 of 20 requests"),
            "{}",
            outcome.message
        );
        assert_eq!(
            *evidence(&outcome, "responses by status"),
            json!({"200": 15, "503": 5})
        );
        assert_eq!(
            *evidence(&outcome, "failed requests by kind"),
            json!({"status": 5})
        );
        let first = evidence(&outcome, "failed request #4");
        assert_eq!(
            (first["status"].clone(), first["body"].clone()),
            (json!(503), json!("upstream down"))
        );
    }

    #[tokio::test]
    async fn slow_responses_fail_on_latency() {
        let server = TestServer::start().await;
        let outcome = check(params(json!({
            "target": "url", "url": server.url("/slow"), "requests": 16, "concurrency": 8,
            "expect": { "p50": "50ms" }
        })))
        .await;
        // Sixteen of sixteen slower than a p50 of 50ms: beyond noise (1 in 65,536 at 50%).
        assert_eq!(
            (outcome.status, outcome.code),
            (Status::Fail, &HTTP_LATENCY),
            "{outcome:#?}"
        );
        let share = evidence(&outcome, "p50 latency: requests slower than 50ms");
        assert!(
            share["percentile_ms"].as_f64().expect("ms") >= 150.0,
            "{share}"
        );
        assert_eq!(share["slow_requests"], json!(16));

        // Four of four could be luck at a median: judged again with a fresh batch.
        let few = check(params(json!({
            "target": "url", "url": server.url("/slow"), "requests": 4, "concurrency": 4,
            "expect": { "p50": "50ms" }
        })))
        .await;
        assert_eq!(
            (few.status, few.code),
            (Status::Inconclusive, &HTTP_LATENCY_NOT_SIGNIFICANT),
            "{few:#?}"
        );
    }

    #[tokio::test]
    async fn body_json_and_header_expectations_are_applied_to_every_response() {
        let server = TestServer::start().await;
        let cases = [
            (
                json!({ "json_path": "$.status", "equals": "degraded" }),
                "json_mismatch",
            ),
            (json!({ "json_path": "$.missing" }), "json_path_missing"),
            (json!({ "headers": { "x-version": "3" } }), "header"),
            (
                json!({ "body_regex": "^\\{\"status\":\"down" }),
                "body_regex",
            ),
            (json!({ "body_contains": "healthy" }), "body_contains"),
            (json!({ "status": 204 }), "status"),
        ];
        for (expect, kind) in cases {
            let outcome = check(params(json!({
                "target": "url", "url": server.url("/ok"), "requests": 2, "expect": expect
            })))
            .await;
            assert_eq!(outcome.code, &HTTP_ERROR_RATE, "{kind}: {outcome:#?}");
            assert_eq!(
                *evidence(&outcome, "failed requests by kind"),
                json!({ kind: 2 }),
                "{kind}"
            );
        }
    }

    #[tokio::test]
    async fn a_slow_request_times_out_and_counts_as_an_error() {
        let server = TestServer::start().await;
        let started = Instant::now();
        let outcome = check(params(json!({
            "target": "url", "url": server.url("/hang"), "requests": 2, "concurrency": 2,
            "request_timeout": "200ms", "expect": { "max_error_rate": "50%" }
        })))
        .await;
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(outcome.code, &HTTP_ERROR_RATE, "{outcome:#?}");
        assert_eq!(
            *evidence(&outcome, "failed requests by kind"),
            json!({"timeout": 2})
        );
        let latency = evidence(&outcome, "latency (ms)");
        let p50 = latency["p50"].as_f64().expect("ms");
        assert!(
            (200.0..=201.0).contains(&p50),
            "timeouts are timed at request_timeout: {p50}"
        );
    }

    #[tokio::test]
    async fn connection_refused_is_unreachable_not_a_failure_of_green() {
        let port = closed_port().await;
        let outcome = check(params(json!({
            "target": "url", "url": format!("http://127.0.0.1:{port}/health"), "requests": 3
        })))
        .await;
        assert_eq!(
            (outcome.status, outcome.code),
            (Status::Error, &HTTP_UNREACHABLE),
            "{outcome:#?}"
        );
        assert_eq!(outcome.error_class, Some(ErrorClass::Transient));
        assert!(
            outcome.message.contains("none of the 3 requests"),
            "{}",
            outcome.message
        );
        assert!(
            outcome.message.to_lowercase().contains("connect"),
            "{}",
            outcome.message
        );
    }

    #[tokio::test]
    async fn redirects_are_answers_not_followed() {
        let server = TestServer::start().await;
        let outcome = check(params(json!({
            "target": "url", "url": server.url("/redirect"), "requests": 2
        })))
        .await;
        assert_eq!(outcome.code, &HTTP_ERROR_RATE, "{outcome:#?}");
        assert_eq!(
            *evidence(&outcome, "responses by status"),
            json!({"301": 2})
        );
        let expected = check(params(json!({
            "target": "url", "url": server.url("/redirect"), "requests": 2, "expect": { "status": "2xx,301" }
        })))
        .await;
        assert_eq!(expected.code, &HTTP_OK, "{expected:#?}");
    }

    #[tokio::test]
    async fn refused_targets_are_refused_before_any_request() {
        let cases: Vec<(&str, Option<Lookup>, &ReasonCode)> = vec![
            (
                "http://169.254.169.254/latest/meta-data/",
                None,
                &HTTP_ADDRESS_REFUSED,
            ),
            (
                "http://[fd00:ec2::254]/latest/meta-data/",
                None,
                &HTTP_ADDRESS_REFUSED,
            ),
            ("http://0.0.0.0:9001/", None, &HTTP_ADDRESS_REFUSED),
            (
                "http://imds.test/latest/meta-data/",
                Some(table_lookup(&[("imds.test", "169.254.169.254")])),
                &HTTP_ADDRESS_REFUSED,
            ),
            (
                "http://169.254.170.2/v2/credentials",
                None,
                &HTTP_LINK_LOCAL_REFUSED,
            ),
        ];
        for (url, lookup, code) in cases {
            let mut run = Run::new();
            run.lookup = lookup;
            let outcome = run
                .check(params(json!({ "target": "url", "url": url })))
                .await;
            assert_eq!(outcome.code, code, "{url}: {outcome:#?}");
            assert!(outcome.is_permanent_error());
        }
    }

    #[tokio::test]
    async fn loopback_is_refused_unless_the_platform_allows_it() {
        // On Lambda, loopback is the Runtime API and the extensions (the Parameters and Secrets
        // extension among them): no config reaches it; only a local rehearsal's platform may.
        let server = TestServer::start().await;
        for url in [
            server.url("/ok"),
            format!("http://localhost.test:{}/ok", server.addr.port()),
            format!("http://[::ffff:127.0.0.1]:{}/ok", server.addr.port()),
        ] {
            let mut run = Run::new();
            run.platform = Platform::default();
            run.lookup = Some(table_lookup(&[("localhost.test", "127.0.0.1")]));
            let outcome = run
                .check(params(
                    json!({ "target": "url", "url": url, "requests": 1 }),
                ))
                .await;
            assert_eq!(outcome.code, &HTTP_ADDRESS_REFUSED, "{url}: {outcome:#?}");
            assert!(
                outcome.message.contains("Runtime API"),
                "{}",
                outcome.message
            );
        }
        assert_eq!(server.hits("/ok"), 0);
    }

    #[tokio::test]
    async fn secrets_sent_to_an_outside_url_are_refused_before_any_read() {
        // The exfiltration attempt: a config (inline in hookDetails) naming two secrets as headers
        // of requests to a listener of the attacker's choosing.
        let outside = TestServer::start().await;
        let key = key_rule();
        let token = token_rule();
        let mut run = Run::new();
        run.ssm = vec![key.clone()];
        run.secrets = vec![token.clone()];
        let outcome = run
            .check(params(json!({
                "target": "url", "url": outside.url("/collect"), "requests": 1, "headers": secret_headers()
            })))
            .await;
        assert_eq!(outcome.code, &HTTP_SECRET_HEADER_REFUSED, "{outcome:#?}");
        assert!(outcome.is_permanent_error());
        assert!(
            outcome.message.contains("GREENLIGHT_SECRET_HOSTS"),
            "{}",
            outcome.message
        );
        assert_eq!((key.num_calls(), token.num_calls()), (0, 0));
        assert_eq!(outside.hits("/collect"), 0);
    }

    #[tokio::test]
    async fn secrets_outside_the_service_path_are_refused_before_any_read() {
        let server = TestServer::start().await;
        let other = mock!(aws_sdk_ssm::Client::get_parameters).then_output(|| {
            GetParametersOutput::builder()
                .parameters(parameter("/payments/key", "theirs"))
                .build()
        });
        let mut run = Run::serving(&server);
        run.ssm = vec![other.clone()];
        let outcome = run
            .check(params(json!({
                "target": "test_listener", "path": "/ok", "requests": 1,
                "headers": { "X-Api-Key": { "ssm": "/payments/key" } }
            })))
            .await;
        assert_eq!(outcome.code, &HTTP_SECRET_HEADER_REFUSED, "{outcome:#?}");
        assert!(outcome.message.contains("/web/"), "{}", outcome.message);
        assert_eq!(other.num_calls(), 0);
        assert_eq!(server.hits("/ok"), 0);
    }

    #[tokio::test]
    async fn secrets_reach_a_platform_listed_host_only_over_verified_https() {
        let server = TestServer::start().await;
        let mut run = Run::new();
        run.platform.secret_hosts = vec!["partner.test".into()];
        run.ssm = vec![key_rule()];
        let outcome = run
            .check(params(json!({
                "target": "url", "url": format!("http://partner.test:{}/ok", server.addr.port()),
                "requests": 1, "headers": { "X-Api-Key": { "ssm": "/web/key" } }
            })))
            .await;
        assert_eq!(outcome.code, &HTTP_SECRET_HEADER_REFUSED, "{outcome:#?}");
        assert!(outcome.message.contains("https"), "{}", outcome.message);
    }

    #[tokio::test]
    async fn allow_link_local_lets_the_requests_go() {
        let port = closed_port().await;
        let mut run = Run::new();
        run.lookup = Some(table_lookup(&[("metadata.test", "127.0.0.1")]));
        let outcome = run
            .check(params(json!({
                "target": "url", "url": format!("http://metadata.test:{port}/"), "requests": 1,
                "allow_link_local": true
            })))
            .await;
        assert_eq!(outcome.code, &HTTP_UNREACHABLE, "{outcome:#?}");
        // The metadata service itself stays refused.
        let outcome = Run::new()
            .check(params(json!({
                "target": "url", "url": "http://169.254.169.254/", "allow_link_local": true
            })))
            .await;
        assert_eq!(outcome.code, &HTTP_ADDRESS_REFUSED, "{outcome:#?}");
    }

    #[tokio::test]
    async fn a_name_that_turns_link_local_during_the_run_is_refused() {
        let server = TestServer::start().await;
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&calls);
        let lookup: Lookup = Arc::new(move |_host: String| {
            let ip: IpAddr = if counted.fetch_add(1, Ordering::SeqCst) == 0 {
                "127.0.0.1".parse().expect("ip")
            } else {
                "169.254.169.254".parse().expect("ip")
            };
            Box::pin(async move { Ok(vec![ip]) })
        });
        let mut run = Run::new();
        run.lookup = Some(lookup);
        let outcome = run
            .check(params(json!({
                "target": "url", "url": format!("http://rebind.test:{}/ok", server.addr.port()), "requests": 2
            })))
            .await;
        assert_eq!(outcome.code, &HTTP_ADDRESS_REFUSED, "{outcome:#?}");
        assert!(calls.load(Ordering::SeqCst) >= 2);
        assert_eq!(server.hits("/ok"), 0);
    }

    #[tokio::test]
    async fn the_test_listener_is_reached_through_the_load_balancer_name_with_the_rules_host() {
        let server = TestServer::start().await;
        let port = server.addr.port();
        let mut run = Run::new();
        run.facts.routing = Ok(routing_to(Some(TestEndpoint {
            base_url: format!("http://lb.test:{port}"),
            host: Some("app.example.test".into()),
            path: None,
            headers: vec![HeaderMatch {
                name: "x-route".into(),
                value: "green".into(),
            }],
        })));
        run.lookup = Some(table_lookup(&[("lb.test", "127.0.0.1")]));
        let outcome = run
            .check(params(
                json!({ "target": "test_listener", "path": "/routed", "requests": 3 }),
            ))
            .await;
        assert_eq!(outcome.code, &HTTP_OK, "{outcome:#?}");
        assert_eq!(server.hosts(), vec![format!("app.example.test:{port}"); 3]);
        assert_eq!(
            outcome.evidence[0].resource.as_deref(),
            Some(format!("http://app.example.test:{port}/routed").as_str())
        );
    }

    #[tokio::test]
    async fn the_test_header_target_sends_greens_service_connect_header() {
        let server = TestServer::start().await;
        let mut run = Run::new();
        run.facts.routing = Ok(routing_to(Some(TestEndpoint {
            base_url: server.url(""),
            host: None,
            path: Some("/routed".into()),
            headers: Vec::new(),
        })));
        run.facts.green = Ok(Arc::new(RevisionFacts {
            arn: "arn:aws:ecs:eu-west-1:123456789012:service-revision/prod/web/2".into(),
            task_definition_arn: "arn:aws:ecs:eu-west-1:123456789012:task-definition/web:2".into(),
            containers: Vec::new(),
            target_group_arns: Vec::new(),
            test_header: Some(HeaderMatch {
                name: "x-route".into(),
                value: "green".into(),
            }),
        }));
        let outcome = run
            .check(params(json!({ "target": "test_header", "requests": 2 })))
            .await;
        assert_eq!(outcome.code, &HTTP_OK, "{outcome:#?}");
        assert_eq!(
            evidence(&outcome, "request")["headers"],
            json!({"x-route": "green"})
        );
    }

    #[tokio::test]
    async fn a_missing_test_route_or_routing_fact_sends_nothing() {
        let mut run = Run::new();
        run.facts.routing = Ok(routing_to(None));
        let outcome = run
            .check(params(json!({ "target": "test_listener" })))
            .await;
        assert_eq!(outcome.code, &HTTP_NO_TEST_ROUTE, "{outcome:#?}");
        assert!(outcome.is_permanent_error());

        let mut run = Run::new();
        run.facts.routing = Err(FactError::Throttled {
            action: "elasticloadbalancing:DescribeRules".into(),
            message: "Rate exceeded".into(),
        });
        let outcome = run
            .check(params(json!({ "target": "test_listener" })))
            .await;
        assert_eq!(outcome.code, &AWS_THROTTLED);
    }

    #[tokio::test]
    async fn concurrency_bounds_the_requests_in_flight() {
        let server = TestServer::start().await;
        let outcome = check(params(json!({
            "target": "url", "url": server.url("/busy"), "requests": 12, "concurrency": 3
        })))
        .await;
        assert_eq!(outcome.code, &HTTP_OK, "{outcome:#?}");
        assert_eq!(server.hits("/busy"), 12);
        assert!(
            (2..=3).contains(&server.max_in_flight()),
            "{}",
            server.max_in_flight()
        );
        assert!(server.connections() <= 3);
    }

    #[tokio::test]
    async fn duration_and_rate_pace_the_requests() {
        let server = TestServer::start().await;
        let started = Instant::now();
        let outcome = check(params(json!({
            "target": "url", "url": server.url("/ok"), "duration": "200ms", "rate": 25, "concurrency": 4
        })))
        .await;
        assert_eq!(outcome.code, &HTTP_OK, "{outcome:#?}");
        assert_eq!(server.hits("/ok"), 5);
        assert!(
            started.elapsed() >= Duration::from_millis(160),
            "{:?}",
            started.elapsed()
        );
    }

    fn parameter(name: &str, value: &str) -> Parameter {
        Parameter::builder().name(name).value(value).build()
    }

    fn key_rule() -> Rule {
        mock!(aws_sdk_ssm::Client::get_parameters)
            .match_requests(|request| {
                request.names() == ["/web/key".to_owned()]
                    && request.with_decryption() == Some(true)
            })
            .then_output(|| {
                GetParametersOutput::builder()
                    .parameters(parameter("/web/key", "k3y-from-ssm\n"))
                    .build()
            })
    }

    fn token_rule() -> Rule {
        mock!(aws_sdk_secretsmanager::Client::get_secret_value)
            .match_requests(|request| request.secret_id() == Some(SECRET_ARN))
            .then_output(|| {
                GetSecretValueOutput::builder()
                    .secret_string("Bearer t0ken")
                    .build()
            })
    }

    fn secret_headers() -> Value {
        json!({ "X-Api-Key": { "ssm": "/web/key" }, "Authorization": { "secret": SECRET_ARN }, "X-Plain": "visible" })
    }

    #[tokio::test]
    async fn header_values_come_from_ssm_and_secrets_manager() {
        let server = TestServer::start().await;
        let mut run = Run::serving(&server);
        run.ssm = vec![key_rule()];
        run.secrets = vec![token_rule()];
        let outcome = run
            .check(params(json!({
                "target": "test_listener", "path": "/needs-key", "requests": 3, "headers": secret_headers()
            })))
            .await;
        assert_eq!(outcome.code, &HTTP_OK, "{outcome:#?}");
        assert_eq!(
            evidence(&outcome, "request")["headers"],
            json!({
                "Authorization": format!("<redacted: secret {SECRET_ARN}>"),
                "X-Api-Key": "<redacted: SSM parameter /web/key>",
                "X-Plain": "visible"
            })
        );
    }

    #[tokio::test]
    async fn secret_values_never_reach_the_evidence() {
        let server = TestServer::start().await;
        let mut run = Run::serving(&server);
        run.ssm = vec![key_rule()];
        run.secrets = vec![token_rule()];
        let outcome = run
            .check(params(json!({
                "target": "test_listener", "path": "/echo-fail", "requests": 2, "headers": secret_headers()
            })))
            .await;
        assert_eq!(outcome.code, &HTTP_ERROR_RATE, "{outcome:#?}");
        let everything = serde_json::to_string(&outcome).expect("serializes");
        assert!(
            !everything.contains("k3y-from-ssm") && !everything.contains("t0ken"),
            "{everything}"
        );
        let body = evidence(&outcome, "failed request #1")["body"]
            .as_str()
            .expect("body");
        assert!(
            body.contains("x-api-key=<redacted>") && body.contains("x-plain=visible"),
            "{body}"
        );
    }

    #[tokio::test]
    async fn ssm_parameters_are_read_in_one_call() {
        let server = TestServer::start().await;
        let batch = mock!(aws_sdk_ssm::Client::get_parameters)
            .match_requests(|request| {
                let mut names = request.names().to_vec();
                names.sort();
                names == ["/web/a".to_owned(), "/web/b".to_owned()]
            })
            .then_output(|| {
                GetParametersOutput::builder()
                    .parameters(parameter("/web/a", "1"))
                    .parameters(parameter("/web/b", "2"))
                    .build()
            });
        let mut run = Run::serving(&server);
        run.ssm = vec![batch.clone()];
        let outcome = run
            .check(params(json!({
                "target": "test_listener", "path": "/ok", "requests": 1,
                "headers": { "X-A": { "ssm": "/web/a" }, "X-B": { "ssm": "/web/b" }, "X-A-Again": { "ssm": "/web/a" } }
            })))
            .await;
        assert_eq!(outcome.code, &HTTP_OK, "{outcome:#?}");
        assert_eq!(batch.num_calls(), 1);
    }

    fn ssm_error(code: &'static str) -> impl Fn() -> GetParametersError + Send + Sync + 'static {
        move || {
            GetParametersError::generic(
                ErrorMetadata::builder()
                    .code(code)
                    .message(format!("{code} for the test"))
                    .build(),
            )
        }
    }

    #[tokio::test]
    async fn ssm_throttling_is_retried_then_the_requests_go() {
        let server = TestServer::start().await;
        let throttled_then_ok = mock!(aws_sdk_ssm::Client::get_parameters)
            .sequence()
            .error(ssm_error("ThrottlingException"))
            .times(2)
            .output(|| {
                GetParametersOutput::builder()
                    .parameters(parameter("/web/key", "k"))
                    .build()
            })
            .build();
        let mut run = Run::serving(&server);
        run.ssm = vec![throttled_then_ok.clone()];
        let outcome = run
            .check(params(json!({
                "target": "test_listener", "path": "/ok", "requests": 1, "headers": { "X-Api-Key": { "ssm": "/web/key" } }
            })))
            .await;
        assert_eq!(outcome.code, &HTTP_OK, "{outcome:#?}");
        assert_eq!(throttled_then_ok.num_calls(), 3);
    }

    /// A failure to read a header value is the outcome, and no request is sent.
    async fn header_failure(
        ssm: Vec<Rule>,
        secrets: Vec<Rule>,
        headers: Value,
    ) -> (Outcome, usize) {
        let server = TestServer::start().await;
        let mut run = Run::serving(&server);
        run.ssm = ssm;
        run.secrets = secrets;
        let outcome = run
            .check(params(
                json!({ "target": "test_listener", "path": "/ok", "headers": headers }),
            ))
            .await;
        (outcome, server.hits("/ok"))
    }

    /// (SSM rules, secret rules, headers, code, message fragment, error class).
    type HeaderFailureCase<'a> = (
        Vec<Rule>,
        Vec<Rule>,
        &'a Value,
        &'static ReasonCode,
        &'static str,
        ErrorClass,
    );

    #[tokio::test]
    async fn header_value_failures_are_named_and_send_nothing() {
        let ssm_header = json!({ "X-Api-Key": { "ssm": "/web/key" } });
        let secret_header = json!({ "Authorization": { "secret": SECRET_ARN } });
        let throttled = mock!(aws_sdk_ssm::Client::get_parameters)
            .sequence()
            .error(ssm_error("ThrottlingException"))
            .times(3)
            .build();
        let denied = mock!(aws_sdk_ssm::Client::get_parameters)
            .then_error(ssm_error("AccessDeniedException"));
        let missing = mock!(aws_sdk_ssm::Client::get_parameters).then_output(|| {
            GetParametersOutput::builder()
                .invalid_parameters("/web/key")
                .build()
        });
        let multiline = mock!(aws_sdk_ssm::Client::get_parameters).then_output(|| {
            GetParametersOutput::builder()
                .parameters(parameter("/web/key", "a\nb"))
                .build()
        });
        let no_secret = mock!(aws_sdk_secretsmanager::Client::get_secret_value).then_error(|| {
            GetSecretValueError::generic(
                ErrorMetadata::builder()
                    .code("ResourceNotFoundException")
                    .message("no such secret")
                    .build(),
            )
        });
        let binary = mock!(aws_sdk_secretsmanager::Client::get_secret_value).then_output(|| {
            GetSecretValueOutput::builder()
                .secret_binary(aws_sdk_secretsmanager::primitives::Blob::new(vec![0, 1]))
                .build()
        });
        // (ssm rules, secret rules, headers, code, message fragment, class)
        let cases: Vec<HeaderFailureCase<'_>> = vec![
            (
                vec![throttled.clone()],
                vec![],
                &ssm_header,
                &AWS_THROTTLED,
                "ssm:GetParameters was throttled",
                ErrorClass::Transient,
            ),
            (
                vec![denied],
                vec![],
                &ssm_header,
                &AWS_ACCESS_DENIED,
                "may not call ssm:GetParameters on /web/key",
                ErrorClass::Permanent,
            ),
            (
                vec![missing],
                vec![],
                &ssm_header,
                &AWS_NOT_FOUND,
                "SSM parameter not found: /web/key",
                ErrorClass::Permanent,
            ),
            (
                vec![multiline],
                vec![],
                &ssm_header,
                &HTTP_HEADER_VALUE_INVALID,
                "X-Api-Key cannot be sent: the value from SSM parameter /web/key holds",
                ErrorClass::Permanent,
            ),
            (
                vec![],
                vec![no_secret],
                &secret_header,
                &AWS_NOT_FOUND,
                "secret not found",
                ErrorClass::Permanent,
            ),
            (
                vec![],
                vec![binary],
                &secret_header,
                &HTTP_HEADER_VALUE_INVALID,
                "a binary secret",
                ErrorClass::Permanent,
            ),
        ];
        for (ssm, secrets, headers, code, says, class) in cases {
            let (outcome, hits) = header_failure(ssm, secrets, headers.clone()).await;
            assert_eq!(outcome.code, code, "{says}: {outcome:#?}");
            assert_eq!(outcome.error_class, Some(class), "{says}");
            assert!(
                outcome.message.contains(says),
                "{says}: {}",
                outcome.message
            );
            assert_eq!(hits, 0, "{says}: no request without its headers");
        }
        assert_eq!(throttled.num_calls(), 3, "throttling is retried by the SDK");
    }
}
