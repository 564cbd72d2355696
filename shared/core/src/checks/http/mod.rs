//! The `http` check's judge: synthetic requests to green and their judgement in one step.
//!
//! The gather half sends the requests and hands this module a [`TrafficSummary`]; everything that
//! decides (where the requests go, whether one response is good, whether the run is good) is here,
//! pure, and tested on tables.
//!
//! # Where the requests go ([`resolve_target`])
//! - `target: test_listener` (the default): the deployment's test endpoint
//!   ([`RoutingFacts::test_endpoint`]): the load balancer's DNS name with the test listener's
//!   protocol and port, plus whatever the test listener rule needs to match, its host, path and
//!   headers. When the rule needs a host, that host is the URL's host (so TLS checks the certificate
//!   for it and the `Host` header carries it) and the connection goes to the load balancer's DNS
//!   name ([`ResolvedTarget::connect_to`]). A service without a test listener rule gets
//!   [`HTTP_NO_TEST_ROUTE`]: the config asks for something the service does not have.
//!   Without a test listener rule, when green has a Service Connect test traffic rule, the facts
//!   offer the Service Connect client alias (`http://alias:port`) with the test header instead; it
//!   answers only where the alias resolves, from inside the namespace.
//! - `target: test_header`: the same endpoint, and it must carry a header that routes to green:
//!   the header conditions of the test rule, plus green's Service Connect test header
//!   ([`RevisionFacts::test_header`], `x-amzn-ecs-blue-green-test` unless the service names
//!   another). Without any such header the answer is [`HTTP_NO_TEST_HEADER`].
//! - `target: url`: the URL as written.
//!
//! The `path` given is requested as is, and must be one the test rule forwards (ELB path patterns,
//! [`HTTP_PATH_NOT_ROUTED`] otherwise): a request the rule does not match reaches whatever the
//! listener's default action serves, not green. Without a `path`, the path the endpoint offers is
//! used, else `/`. Headers the route needs replace configured headers of the same name.
//!
//! With `health_check: true` ([`with_health_check`]), the `path` and `expect.status` the config
//! leaves out come from green's target group health check (ELB `DescribeTargetGroups`): its path
//! and its success codes, what the service itself declares a healthy answer. The built-in plan
//! uses it, so a service whose `/` redirects or 404s is not failed for that. A health check the
//! listener cannot repeat (TCP, gRPC, another port than the traffic port, a path the test rule
//! does not forward, no codes) is [`HTTP_HEALTH_CHECK_UNUSABLE`], not applicable: the check never
//! falls back to a guess.
//!
//! # What counts as an error
//! A request is an error when it is not answered in `request_timeout`, when the connection fails
//! or drops, or when the response fails any expectation: `status`, `headers`, `body_contains`,
//! `body_regex`, `json_path` (and `equals`). Only the first `body_max_bytes` of a body are judged.
//! Redirects are not followed: a 301 is green's answer, to be expected (`status: "2xx,301"`) or not.
//! The error rate is errors over requests sent, against `max_error_rate`.
//!
//! # Latency
//! Latency is measured per request from sending to the end of the body read, recorded in an HDR
//! histogram (three significant digits), for every request that was answered; a request that timed
//! out is recorded at `request_timeout`, a lower bound of its latency, so timeouts cannot flatter
//! the percentiles.
//!
//! A threshold on a percentile is a threshold on a share: "p99 ≤ 300ms" says at most 1% of
//! requests take longer than 300ms. A percentile over a few hundred requests is decided by two or
//! three of them, so each threshold is judged by the share of requests slower than it (counted
//! from the histogram) with an exact binomial test:
//! - the share is above the allowed one (1% for p99) *beyond noise* — the chance of that many slow
//!   requests at the allowed share is below α_k — [`HTTP_LATENCY`];
//! - above it but not beyond noise: [`HTTP_LATENCY_NOT_SIGNIFICANT`], judged again with a fresh
//!   batch at the next look within `max_wait`;
//! - at or below it: the threshold is met, and the evidence gives the Clopper–Pearson interval of
//!   the slow share, whose upper end is the largest share this batch could rule out.
//!
//! Every look sends a fresh batch, so α is spent across the stage's looks: look k tests at
//! α_k = α / (k(k+1)) with α = 1%, whose sum over any number of looks is at most α. A release whose
//! latency meets its thresholds is failed by this check at most 1% of the time per stage.
//!
//! # No evidence is not a pass
//! Nothing sent, or latency thresholds with nothing timed, is [`HTTP_NO_SAMPLES`] (inconclusive).
//! When no request reached the target at all (connection refused, DNS, TLS handshake), that says
//! nothing about green: [`HTTP_UNREACHABLE`], a transient error.
//!
//! # Safety
//! Whether written as an address or reached through a name ([`address_refusal`]):
//! - the instance metadata service (169.254.169.254, fd00:ec2::/32) and unspecified addresses
//!   (0.0.0.0, ::) are always refused ([`HTTP_ADDRESS_REFUSED`]);
//! - loopback (127.0.0.0/8, ::1), where the Lambda Runtime API and extensions (the Parameters and
//!   Secrets extension among them) listen, is refused unless the platform sets
//!   `GREENLIGHT_ALLOW_LOOPBACK=true` on the function (local rehearsals do; no config can);
//! - other link-local addresses (169.254.0.0/16, fe80::/10) are refused
//!   ([`HTTP_LINK_LOCAL_REFUSED`]) unless `allow_link_local: true`.
//!
//! TLS certificates are verified unless `tls_verify: false`. Header values read from SSM or
//! Secrets Manager never appear in evidence or logs: they are redacted from every text kept
//! ([`redact`]); where they may be sent is the platform's rule ([`crate::platform`]).

pub mod params;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use serde_json::json;

use super::CheckDoc;
use crate::checks::IamNeed;
use crate::checks::{HttpExpect, HttpParams, HttpTarget};
use crate::document::values::{HumanDuration, StatusMatcher};
use crate::facts::Fact;
use crate::facts::{
    HeaderMatch, HealthCheckFacts, ListenerRuleFacts, RevisionFacts, RoutingFacts, RuleCondition,
};
use crate::outcome::{Evidence, Outcome};
use crate::reason::ReasonCode;
use crate::stage::LifecycleStage;

/// Every request met the expectations, fast enough.
pub static HTTP_OK: ReasonCode = ReasonCode {
    code: "HTTP_OK",
    summary: "Synthetic requests to green got the expected answers, fast enough.",
    what: "The error rate of the requests sent (wrong status, body, header, timeout, dropped connection) was within `max_error_rate`, and every latency percentile set was within its threshold.",
    why: "Green answers real requests as expected through the route production traffic will take.",
    fix: "Nothing to fix.",
};

/// Too many requests failed.
pub static HTTP_ERROR_RATE: ReasonCode = ReasonCode {
    code: "HTTP_ERROR_RATE",
    summary: "Too many synthetic requests to green failed.",
    what: "The share of requests that timed out, lost their connection, or got a response failing an expectation (status, headers, body, JSON) was above `max_error_rate`. The evidence counts responses by status and failures by kind, and shows the first failures with their bodies.",
    why: "Green does not answer as expected; sending it production traffic would serve those failures to users.",
    fix: "Read the first failures in the evidence and green's logs for the same requests. If the expectation is wrong rather than green, correct `expect`.",
};

/// A latency percentile is above its threshold.
pub static HTTP_LATENCY: ReasonCode = ReasonCode {
    code: "HTTP_LATENCY",
    summary: "Synthetic requests to green were slower than allowed.",
    what: "More requests than a percentile allows (for p99, 1%) were slower than its threshold, beyond noise: an exact binomial test at the allowed share rejects it at the look's α (1% spent over the stage's looks). Latency is measured to the end of the body; timed-out requests count at `request_timeout`. The evidence gives the percentile, the slow count, the share and its interval.",
    why: "Green is slower than the service promises; production traffic would see it.",
    fix: "Compare green's resource use and dependencies with blue's. A cold green (caches, JIT) may need a warm-up check before this one; if the threshold is unrealistic, raise it.",
};

/// A latency threshold looks breached, but not beyond noise.
pub static HTTP_LATENCY_NOT_SIGNIFICANT: ReasonCode = ReasonCode {
    code: "HTTP_LATENCY_NOT_SIGNIFICANT",
    summary: "More synthetic requests than allowed were slower than a latency threshold, but too few to tell from noise.",
    what: "The share of requests slower than a percentile's threshold (for p99, more than 1%) was above the allowed share, but an exact binomial test at the allowed share could explain that many slow requests by luck (at the look's α, 1% spent over the stage's looks). The evidence gives the slow count, the share and its interval.",
    why: "A p99 over a few hundred requests is decided by two or three of them; failing on them would roll back good releases. The check judges a fresh batch at its next look, within `max_wait`.",
    fix: "Usually nothing: the next batch settles it. If it persists, green is likely slow; send more `requests` per look for a sharper answer.",
};

/// Nothing was measured.
pub static HTTP_NO_SAMPLES: ReasonCode = ReasonCode {
    code: "HTTP_NO_SAMPLES",
    summary: "No synthetic request was sent or timed, so there is nothing to judge.",
    what: "The run ended without sending a request, or latency thresholds are set and no response was timed.",
    why: "No evidence is not success; the check waits within its `max_wait`.",
    fix: "Usually nothing. If it persists, look for the check's `timeout` cutting the run short.",
};

/// No request reached the target.
pub static HTTP_UNREACHABLE: ReasonCode = ReasonCode {
    code: "HTTP_UNREACHABLE",
    summary: "No synthetic request reached the target: every connection failed.",
    what: "Every request failed before an HTTP answer: connection refused or timed out, the name did not resolve, or the TLS handshake failed. The evidence shows the first failure.",
    why: "This is about the path from the function to the target, not about green; the check is retried within its `max_wait`.",
    fix: "Check that the function's VPC, subnets and security groups reach the load balancer's listener, that the name resolves from there, and, for TLS errors, that the certificate matches the host (or set `tls_verify: false` for a test listener with a self-signed certificate).",
};

/// The service has no test route.
pub static HTTP_NO_TEST_ROUTE: ReasonCode = ReasonCode {
    code: "HTTP_NO_TEST_ROUTE",
    summary: "The check targets the test listener, but the service has no test route to green.",
    what: "`target: test_listener` (or `test_header`) needs the test listener rule of the service's load balancer (`testListenerRule` in `advancedConfiguration`), and the service has none.",
    why: "Without a test route there is no way to reach green alone; sending the requests elsewhere would judge blue.",
    fix: "Add a `testListenerRule` to the service's load balancer configuration, or set the check's `target: url` to an address that reaches green, or remove the check from the stage.",
};

/// The test rule has conditions greenlight cannot satisfy.
pub static HTTP_TEST_ROUTE_UNSUPPORTED: ReasonCode = ReasonCode {
    code: "HTTP_TEST_ROUTE_UNSUPPORTED",
    summary: "The test listener rule has conditions a synthetic request cannot be made to satisfy.",
    what: "The test listener rule exists, but it matches on conditions greenlight does not build requests for (source IP, query string, HTTP method), so no test endpoint could be derived from it.",
    why: "A request the rule does not match would be served by the listener's default action, not green.",
    fix: "Route test traffic by host, path or header, or set the check's `target: url` with the `headers` the rule needs.",
};

/// `test_header` without a header.
pub static HTTP_NO_TEST_HEADER: ReasonCode = ReasonCode {
    code: "HTTP_NO_TEST_HEADER",
    summary: "The check targets the test header, but no header routes test traffic to green.",
    what: "`target: test_header` needs a header condition on the test listener rule or a Service Connect test traffic rule on green's revision, and neither exists.",
    why: "Without the header the requests would follow the production route and judge blue.",
    fix: "Use `target: test_listener` when the test rule routes by listener, host or path; otherwise add a header condition to the test rule or `testTrafficRules` to the Service Connect client alias.",
};

/// The path is not one the test rule forwards.
pub static HTTP_PATH_NOT_ROUTED: ReasonCode = ReasonCode {
    code: "HTTP_PATH_NOT_ROUTED",
    summary: "The check's `path` is not one the test listener rule forwards to green.",
    what: "The test listener rule has path patterns and the configured `path` matches none of them.",
    why: "The requests would be served by the listener's default action, not green.",
    fix: "Set the check's `path` to one the rule's path patterns match (the message lists them).",
};

/// The test route does not (yet) send all test traffic to green.
pub static HTTP_NOT_ROUTED_TO_GREEN: ReasonCode = ReasonCode {
    code: "HTTP_NOT_ROUTED_TO_GREEN",
    summary: "The test listener rule does not send all its traffic to green's target group, so synthetic requests would not judge green.",
    what: "Before sending, the check read where the test listener rule (an NLB's test listener) forwards: green's share of its weights is below 100%, or green's target group is not known yet. The rule's forwards are in the evidence.",
    why: "Requests through a route that forwards to blue judge blue: a pass would be a green light for a revision nobody tested. The check waits (inconclusive) within its `max_wait`.",
    fix: "Run the `http` check at POST_TEST_TRAFFIC_SHIFT, after ECS has moved the test traffic. If it persists, compare the test rule with the service's `advancedConfiguration` and look for tools that rewrite it.",
};

/// The target is a link-local or metadata address.
pub static HTTP_LINK_LOCAL_REFUSED: ReasonCode = ReasonCode {
    code: "HTTP_LINK_LOCAL_REFUSED",
    summary: "The target is a link-local or instance-metadata address, which the check refuses.",
    what: "The target's address (as written, or what its name resolves to) is in 169.254.0.0/16 or fe80::/10, or is the metadata service fd00:ec2::254.",
    why: "Those addresses serve the function's own credentials; a config should not reach them by accident.",
    fix: "Correct the target. If the address is really meant, set `allow_link_local: true` on the check.",
};

/// The target is an address no config may reach.
pub static HTTP_ADDRESS_REFUSED: ReasonCode = ReasonCode {
    code: "HTTP_ADDRESS_REFUSED",
    summary: "The target is the instance metadata service, an unspecified address or (outside local rehearsals) loopback, which the check never sends to.",
    what: "The target's address (as written, or what its name resolves to) is 169.254.169.254 or in fd00:ec2::/32 (metadata), 0.0.0.0 or :: (unspecified), or in 127.0.0.0/8 or ::1 (loopback) while the platform has not set GREENLIGHT_ALLOW_LOOPBACK on the function.",
    why: "On Lambda, loopback serves the Runtime API and extensions (the Parameters and Secrets extension reads any secret the role may read), and the metadata addresses serve credentials: a config, which hookDetails can carry, must not be able to reach them.",
    fix: "Correct the target to the service's address. Only a local rehearsal, which serves everything on loopback, sets GREENLIGHT_ALLOW_LOOPBACK=true on the functions.",
};

/// A secret-valued header would go where the platform does not allow.
pub static HTTP_SECRET_HEADER_REFUSED: ReasonCode = ReasonCode {
    code: "HTTP_SECRET_HEADER_REFUSED",
    summary: "A header whose value is a secret names a parameter or secret outside the service's secret path, or would be sent somewhere other than the service's own test endpoint or a host the platform allows.",
    what: "Before any call, the check compared each `{ ssm: … }` / `{ secret: … }` header value with the platform's GREENLIGHT_SECRET_PATH (filled with the service's cluster and name), and the request's destination with the service's own test listener and the platform's GREENLIGHT_SECRET_HOSTS (https with TLS verified only).",
    why: "Whoever can write a config (hookDetails included) or invoke the function could otherwise read any secret the role can decrypt and send it to a host of their choosing.",
    fix: "Store the service's secrets under its own path (the message names it), and send them to the service's test listener (`target: test_listener` or `test_header`). To send one to another host, the platform team adds that host to SecretHeaderHosts (GREENLIGHT_SECRET_HOSTS) and the URL must be https with `tls_verify` on.",
};

/// A header value could not be used.
pub static HTTP_HEADER_VALUE_INVALID: ReasonCode = ReasonCode {
    code: "HTTP_HEADER_VALUE_INVALID",
    summary: "A request header's value, read from SSM or Secrets Manager, cannot be sent.",
    what: "The secret has no text value (a binary secret), or its text cannot be a header value (line breaks, control characters). The value itself is never shown.",
    why: "Sending the request without the header would judge green on requests it is right to refuse.",
    fix: "Store the header value as text on one line in the named parameter or secret.",
};

/// `health_check: true`, and green's health check is not a request the test listener can make.
pub static HTTP_HEALTH_CHECK_UNUSABLE: ReasonCode = ReasonCode {
    code: "HTTP_HEALTH_CHECK_UNUSABLE",
    summary: "The check takes its request from green's target group health check, and that health check is not an HTTP request the test listener can repeat.",
    what: "With `health_check: true`, the check reads green's target group (ELB DescribeTargetGroups) for the path and success codes to use. The health check is TCP or gRPC, checks a port other than the one traffic reaches, has no success codes, or its path is not one the test listener rule forwards. The evidence shows the health check as ELB returned it.",
    why: "Requesting some other path, or expecting codes the service never declared, would judge green on an answer it was never meant to give: a good release could be rolled back for a 404 on `/`. The check says it cannot judge instead (the built-in plan passes it as not applicable and lets the other checks decide).",
    fix: "Give the check a `path` (and `expect.status`) that green serves through the test listener, or point the target group's health check at an HTTP path on the traffic port.",
};

/// The check could not be set up.
pub static HTTP_SETUP_FAILED: ReasonCode = ReasonCode {
    code: "HTTP_SETUP_FAILED",
    summary: "The synthetic requests could not be prepared.",
    what: "The HTTP client could not be built, or the target URL derived from the facts or the config is not a valid URL.",
    why: "No request could be sent, so there is no evidence about green.",
    fix: "Read the message; correct the URL or path in the config. If it names the TLS setup, report it with the function's log line.",
};

/// The `http` check.
pub static DOC: CheckDoc = CheckDoc {
    kind: "http",
    summary: "Synthetic requests to green, through the test listener, with the test header or to a URL, get the expected status, headers and body, with an error rate and latency percentiles within thresholds.",
    why: "Green is judged on real answers before production traffic reaches it, through the route production will take. Every failure is counted by kind and the first ones are shown with their bodies; latency comes from an HDR histogram. Header values can come from SSM or Secrets Manager and are never shown; link-local and metadata addresses are refused; redirects are not followed. SecureString parameters or secrets under a customer-managed KMS key also need kms:Decrypt on that key.",
    example: "http:\n  target: test_listener\n  path: /health\n  requests: 200\n  concurrency: 8\n  headers:\n    X-Api-Key: { ssm: /web/synthetic-api-key }\n  expect: { status: 2xx, json_path: $.status, equals: ok, p99: 300ms, max_error_rate: 1% }",
    iam: &[
        IamNeed {
            when: "target: url",
            example: "http: { target: url, url: \"https://web.internal.example.com/health\" }",
            from: LifecycleStage::ReconcileService,
            facts: &[],
            calls: &[
                "ssm:GetParameters",
                "secretsmanager:GetSecretValue",
                "kms:Decrypt",
            ],
        },
        IamNeed {
            when: "target: test_listener",
            example: "http: { target: test_listener }",
            from: LifecycleStage::TestTrafficShift,
            facts: &[Fact::Routing],
            calls: &[
                "ssm:GetParameters",
                "secretsmanager:GetSecretValue",
                "kms:Decrypt",
            ],
        },
        IamNeed {
            when: "health_check: true",
            example: "http: { target: test_listener, health_check: true }",
            from: LifecycleStage::TestTrafficShift,
            facts: &[Fact::Routing, Fact::HealthCheck],
            calls: &[
                "ssm:GetParameters",
                "secretsmanager:GetSecretValue",
                "kms:Decrypt",
            ],
        },
        IamNeed {
            when: "target: test_header",
            example: "http: { target: test_header }",
            from: LifecycleStage::TestTrafficShift,
            facts: &[Fact::Routing, Fact::Revisions],
            calls: &[
                "ssm:GetParameters",
                "secretsmanager:GetSecretValue",
                "kms:Decrypt",
            ],
        },
    ],
    codes: &[
        &HTTP_OK,
        &HTTP_ERROR_RATE,
        &HTTP_LATENCY,
        &HTTP_LATENCY_NOT_SIGNIFICANT,
        &HTTP_NO_SAMPLES,
        &HTTP_UNREACHABLE,
        &HTTP_NO_TEST_ROUTE,
        &HTTP_TEST_ROUTE_UNSUPPORTED,
        &HTTP_NO_TEST_HEADER,
        &HTTP_PATH_NOT_ROUTED,
        &HTTP_NOT_ROUTED_TO_GREEN,
        &HTTP_LINK_LOCAL_REFUSED,
        &HTTP_ADDRESS_REFUSED,
        &HTTP_SECRET_HEADER_REFUSED,
        &HTTP_HEADER_VALUE_INVALID,
        &HTTP_HEALTH_CHECK_UNUSABLE,
        &HTTP_SETUP_FAILED,
    ],
};

/// How many failed requests the evidence shows.
pub const MAX_FAILURE_SAMPLES: usize = 5;
/// How many characters of a failed response's body the evidence shows.
pub const BODY_SNIPPET_CHARS: usize = 200;

// ---------------------------------------------------------------------------------------------
// Where the requests go

/// Where the requests of one run go, resolved from the params and the deployment's facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedTarget {
    /// The URL requested: scheme, host, port, path and query.
    pub url: String,
    /// The name to resolve and connect to instead of the URL's host, when the URL carries the host
    /// a listener rule matches rather than the load balancer's own DNS name.
    pub connect_to: Option<String>,
    /// Headers the route to green needs (a rule's header condition, the Service Connect test
    /// header); they replace configured headers of the same name.
    pub route_headers: Vec<HeaderMatch>,
    /// How the target was chosen, in words, for evidence.
    pub via: String,
}

/// Where the requests go: see the module docs. `routing` is needed for the listener targets and
/// `green` for `test_header`; an `Err` is the outcome to report.
pub fn resolve_target(
    params: &HttpParams,
    routing: Option<&RoutingFacts>,
    green: Option<&RevisionFacts>,
) -> Result<ResolvedTarget, Outcome> {
    if params.target == HttpTarget::Url {
        let url = params.url.clone().ok_or_else(|| {
            setup_failed("target: url has no `url` (the config validation should have refused it)")
        })?;
        return Ok(ResolvedTarget {
            url,
            connect_to: None,
            route_headers: Vec::new(),
            via: "the configured url".to_owned(),
        });
    }
    let target_name = target_name(params.target);
    let Some(routing) = routing else {
        return Err(setup_failed(&format!(
            "target: {target_name} needs the service's routing facts, which were not gathered"
        )));
    };
    let Some(endpoint) = &routing.test_endpoint else {
        return Err(match &routing.test_rule {
            None => no_test_route(params.target, green),
            Some(rule) => test_route_unsupported(params.target, &rule.rule_arn, &rule.conditions),
        });
    };

    let path = match &params.path {
        Some(path) => path.clone(),
        None => endpoint.path.clone().unwrap_or_else(|| "/".to_owned()),
    };
    if let Some(rule) = &routing.test_rule {
        check_path_is_routed(&path, &rule.rule_arn, &rule.conditions)?;
        check_routed_to_green(rule, routing.green_target_group.as_deref())?;
    }

    let (scheme, authority) = split_base_url(&endpoint.base_url).ok_or_else(|| {
        setup_failed(&format!(
            "the test endpoint's base URL {:?} is not an http:// or https:// URL",
            endpoint.base_url
        ))
    })?;
    let (lb_host, port) = split_authority(authority);
    let (url_host, connect_to) = match &endpoint.host {
        Some(host) if !host.eq_ignore_ascii_case(lb_host) => {
            (host.as_str(), Some(lb_host.to_owned()))
        }
        _ => (lb_host, None),
    };
    let url = match port {
        Some(port) => format!("{scheme}://{url_host}:{port}{path}"),
        None => format!("{scheme}://{url_host}{path}"),
    };

    let mut route_headers = endpoint.headers.clone();
    let mut via = match &routing.test_rule {
        Some(rule) => format!("the test listener rule {}", rule.rule_arn),
        None => "the test endpoint".to_owned(),
    };
    if params.health_check {
        via = format!(
            "{via}, with the path and success codes of green's target group health check where the config gives none"
        );
    }
    if params.target == HttpTarget::TestHeader {
        if let Some(header) = green.and_then(|green| green.test_header.as_ref())
            && !route_headers
                .iter()
                .any(|known| known.name.eq_ignore_ascii_case(&header.name))
        {
            route_headers.push(header.clone());
        }
        if route_headers.is_empty() {
            return Err(no_test_header(&endpoint.base_url));
        }
        let names: Vec<&str> = route_headers.iter().map(|h| h.name.as_str()).collect();
        via = format!("{via} with the test header {}", names.join(", "));
    }
    Ok(ResolvedTarget {
        url,
        connect_to,
        route_headers,
        via,
    })
}

/// With `health_check: true`: `params` with the path and success codes of green's target group
/// health check where the config gives none. A health check the test listener cannot repeat (not
/// HTTP, another port, no codes, a path the test rule does not forward) is
/// [`HTTP_HEALTH_CHECK_UNUSABLE`]; `params` without `health_check` come back as they are.
pub fn with_health_check(
    params: &HttpParams,
    health: &HealthCheckFacts,
    routing: &RoutingFacts,
) -> Result<HttpParams, Outcome> {
    if !params.health_check {
        return Ok(params.clone());
    }
    let evidence = || {
        Evidence::new(
            "green's target group health check",
            json!({
                "protocol": health.protocol,
                "protocol_version": health.protocol_version,
                "port": health.port,
                "target_group_port": health.target_group_port,
                "path": health.path,
                "http_codes": health.http_codes,
                "grpc_codes": health.grpc_codes,
            }),
        )
        .resource(health.target_group_arn.as_str())
    };
    let unusable = |why: String| {
        Err(Outcome::not_applicable(
            &HTTP_HEALTH_CHECK_UNUSABLE,
            format!(
                "health_check: true, but green's target group {} {why}; give the check a `path` and `expect.status` green serves through the test listener",
                health.target_group_arn
            ),
        )
        .with_evidence(evidence()))
    };
    let protocol = health.protocol.as_deref().unwrap_or("");
    if !protocol.eq_ignore_ascii_case("HTTP") && !protocol.eq_ignore_ascii_case("HTTPS") {
        let protocol = if protocol.is_empty() { "no" } else { protocol };
        return unusable(format!("checks health over {protocol} protocol, not HTTP"));
    }
    if health
        .protocol_version
        .as_deref()
        .is_some_and(|version| version.eq_ignore_ascii_case("GRPC"))
    {
        return unusable("checks health with gRPC".to_owned());
    }
    match health.port.as_deref() {
        None | Some("traffic-port") => {}
        Some(port) if port.parse::<i32>().ok() == health.target_group_port => {}
        Some(port) => {
            return unusable(format!(
                "checks health on port {port}, not the port traffic reaches, which the test listener may not serve"
            ));
        }
    }
    let path = match (&params.path, &health.path) {
        (Some(path), _) => path.clone(),
        (None, Some(path)) if path.starts_with('/') => {
            if let Some(rule) = &routing.test_rule
                && check_path_is_routed(path, &rule.rule_arn, &rule.conditions).is_err()
            {
                return unusable(format!(
                    "checks health at {path:?}, which the test listener rule {} does not forward",
                    rule.rule_arn
                ));
            }
            path.clone()
        }
        (None, _) => return unusable("names no health-check path".to_owned()),
    };
    let status = match (&params.expect.status, &health.http_codes) {
        (Some(status), _) => status.clone(),
        (None, Some(codes)) => match codes.parse::<StatusMatcher>() {
            Ok(status) => status,
            Err(why) => {
                return unusable(format!(
                    "has success codes {codes:?} that do not read: {why}"
                ));
            }
        },
        (None, None) => return unusable("names no success codes (matcher)".to_owned()),
    };
    let mut resolved = params.clone();
    resolved.path = Some(path);
    resolved.expect.status = Some(status);
    Ok(resolved)
}

/// The test rule must send all its traffic to green's target group, or the requests judge blue.
fn check_routed_to_green(rule: &ListenerRuleFacts, green: Option<&str>) -> Result<(), Outcome> {
    let forwards = Evidence::new(
        "test rule forwards (target group → weight)",
        json!(
            rule.forwards
                .iter()
                .map(|(group, weight)| json!({ "target_group": group, "weight": weight }))
                .collect::<Vec<_>>()
        ),
    )
    .resource(rule.rule_arn.as_str());
    let Some(green) = green else {
        return Err(Outcome::inconclusive(
            &HTTP_NOT_ROUTED_TO_GREEN,
            format!(
                "green's target group is not known yet, so it cannot be shown that the test listener rule {} reaches green",
                rule.rule_arn
            ),
        )
        .with_evidence(forwards));
    };
    let share = super::routing::green_share(rule, green);
    if share < 100.0 - super::routing::TOLERANCE_PP {
        return Err(Outcome::inconclusive(
            &HTTP_NOT_ROUTED_TO_GREEN,
            format!(
                "the test listener rule {} sends {:.1}% of its traffic to green's target group {green}, not all of it: requests now would judge blue too",
                rule.rule_arn, share
            ),
        )
        .with_evidence(forwards));
    }
    Ok(())
}

fn target_name(target: HttpTarget) -> &'static str {
    match target {
        HttpTarget::TestListener => "test_listener",
        HttpTarget::TestHeader => "test_header",
        HttpTarget::Url => "url",
    }
}

/// `https://name:443/…` → (`https`, `name:443`).
fn split_base_url(base_url: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = base_url.split_once("://")?;
    let scheme_ok = scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https");
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    (scheme_ok && !authority.is_empty() && !authority.contains('@')).then_some((scheme, authority))
}

/// `name:8080` → (`name`, `8080`); `[::1]:80` → (`[::1]`, `80`).
fn split_authority(authority: &str) -> (&str, Option<&str>) {
    if authority.starts_with('[') {
        return match authority.rsplit_once("]:") {
            Some((host, port)) => (&authority[..host.len() + 1], Some(port)),
            None => (authority, None),
        };
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    }
}

fn check_path_is_routed(
    path: &str,
    rule_arn: &str,
    conditions: &[RuleCondition],
) -> Result<(), Outcome> {
    let path_only = &path[..path.find('?').unwrap_or(path.len())];
    for condition in conditions {
        if let RuleCondition::Path(patterns) = condition
            && !patterns.is_empty()
            && !patterns
                .iter()
                .any(|pattern| elb_pattern_matches(pattern, path_only))
        {
            return Err(Outcome::permanent_error(
                &HTTP_PATH_NOT_ROUTED,
                format!(
                    "path {path_only:?} is not forwarded by the test listener rule {rule_arn}, which matches {}; set the check's `path` to one of those",
                    patterns.join(", ")
                ),
            )
            .with_evidence(
                Evidence::new("path", path_only)
                    .threshold(format!("matches one of {}", patterns.join(", ")))
                    .resource(rule_arn),
            ));
        }
    }
    Ok(())
}

/// An ELB condition pattern: `*` matches any run of characters, `?` exactly one; case-sensitive.
fn elb_pattern_matches(pattern: &str, text: &str) -> bool {
    let (pattern, text): (Vec<char>, Vec<char>) =
        (pattern.chars().collect(), text.chars().collect());
    let (mut p, mut t) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            backtrack = Some((p, t));
            p += 1;
        } else if let Some((star, matched)) = backtrack {
            p = star + 1;
            t = matched + 1;
            backtrack = Some((star, matched + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

fn no_test_route(target: HttpTarget, green: Option<&RevisionFacts>) -> Outcome {
    let hint = match green.and_then(|green| green.test_header.as_ref()) {
        Some(header) => format!(
            "; green routes test traffic with Service Connect (header {}), which only a Service Connect client in the namespace can send (a Lambda function is not one): use `target: url` with the URL of a client there that forwards requests, and put the header in `headers`",
            header.name
        ),
        None => String::new(),
    };
    Outcome::not_applicable(
        &HTTP_NO_TEST_ROUTE,
        format!(
            "the check's `target: {}` needs the service's test listener rule, and the service has none (no `testListenerRule` in its load balancer's advancedConfiguration){hint}",
            target_name(target)
        ),
    )
    .with_evidence(Evidence::new("test listener rule", "none").threshold("a test listener rule"))
}

fn test_route_unsupported(
    target: HttpTarget,
    rule_arn: &str,
    conditions: &[RuleCondition],
) -> Outcome {
    let unsupported: Vec<&str> = conditions
        .iter()
        .filter_map(|condition| match condition {
            RuleCondition::Other(text) => Some(text.as_str()),
            _ => None,
        })
        .collect();
    let listed = if unsupported.is_empty() {
        "conditions greenlight cannot satisfy".to_owned()
    } else {
        unsupported.join(", ")
    };
    Outcome::permanent_error(
        &HTTP_TEST_ROUTE_UNSUPPORTED,
        format!(
            "the check's `target: {}` cannot build a request the test listener rule {rule_arn} matches: it needs {listed}; route test traffic by host, path or header, or use `target: url`",
            target_name(target)
        ),
    )
    .with_evidence(Evidence::new("rule conditions", json!(unsupported)).resource(rule_arn))
}

fn no_test_header(base_url: &str) -> Outcome {
    Outcome::permanent_error(
        &HTTP_NO_TEST_HEADER,
        format!(
            "the check's `target: test_header` needs a header that routes test traffic to green, and neither the test listener rule (at {base_url}) nor green's Service Connect configuration has one; use `target: test_listener`"
        ),
    )
    .with_evidence(Evidence::new("test header", "none").resource(base_url))
}

/// The outcome when the secret-valued headers `names` may not be read or sent, and `why`.
pub fn secret_header_refused(names: &[&str], why: &str) -> Outcome {
    Outcome::permanent_error(
        &HTTP_SECRET_HEADER_REFUSED,
        format!(
            "refusing to send the secret-valued header(s) {}: {why}",
            names.join(", ")
        ),
    )
    .with_evidence(Evidence::new("secret headers", json!(names)).threshold(
        "under the service's secret path; to its own test endpoint or a platform-listed https host",
    ))
}

/// The outcome when the header `name`, read from `source` (`ssm /x`, `secret arn`), cannot be sent.
pub fn header_value_invalid(name: &str, source: &str, why: &str) -> Outcome {
    Outcome::permanent_error(
        &HTTP_HEADER_VALUE_INVALID,
        format!("request header {name} cannot be sent: the value from {source} {why}"),
    )
    .with_evidence(Evidence::new("header value", "<redacted>").resource(source))
}

/// The outcome when the requests could not be prepared.
pub fn setup_failed(detail: &str) -> Outcome {
    Outcome::permanent_error(
        &HTTP_SETUP_FAILED,
        format!("the synthetic requests could not be prepared: {detail}"),
    )
}

/// Which addresses a run may reach beyond the always-allowed ones.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AddressGuard {
    /// Link-local addresses (the check's `allow_link_local`).
    pub allow_link_local: bool,
    /// Loopback (the platform's `GREENLIGHT_ALLOW_LOOPBACK`, for local rehearsals).
    pub allow_loopback: bool,
}

/// Why an address is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressRefusal {
    /// The instance metadata service: never.
    Metadata,
    /// 0.0.0.0 or ::, which connect to the local host: never.
    Unspecified,
    /// 127.0.0.0/8 or ::1: the Lambda Runtime API and extensions.
    Loopback,
    /// 169.254.0.0/16 or fe80::/10.
    LinkLocal,
}

impl AddressRefusal {
    fn describe(self) -> &'static str {
        match self {
            AddressRefusal::Metadata => "the instance metadata service, where credentials live",
            AddressRefusal::Unspecified => {
                "an unspecified address, which reaches the function's own host"
            }
            AddressRefusal::Loopback => {
                "a loopback address, where the Lambda Runtime API and extensions listen"
            }
            AddressRefusal::LinkLocal => "a link-local address, where credentials can live",
        }
    }
}

/// The IPv4 address of the instance metadata service.
const IMDS_V4: std::net::Ipv4Addr = std::net::Ipv4Addr::new(169, 254, 169, 254);

/// Why `address` may not be reached under `guard`, or `None` when it may. IPv4-mapped IPv6
/// addresses are judged as the IPv4 address they carry.
pub fn address_refusal(address: IpAddr, guard: AddressGuard) -> Option<AddressRefusal> {
    let address = match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    };
    let (metadata, unspecified, loopback, link_local) = match address {
        IpAddr::V4(v4) => (
            v4 == IMDS_V4,
            v4.is_unspecified(),
            v4.is_loopback(),
            v4.is_link_local(),
        ),
        IpAddr::V6(v6) => (
            // fd00:ec2::/32: the metadata service and the other EC2 services on IPv6.
            v6.segments()[..2] == [0xfd00, 0x0ec2],
            v6.is_unspecified(),
            v6.is_loopback(),
            v6.is_unicast_link_local(),
        ),
    };
    if metadata {
        Some(AddressRefusal::Metadata)
    } else if unspecified {
        Some(AddressRefusal::Unspecified)
    } else if loopback && !guard.allow_loopback {
        Some(AddressRefusal::Loopback)
    } else if link_local && !guard.allow_link_local {
        Some(AddressRefusal::LinkLocal)
    } else {
        None
    }
}

/// The outcome when the target (`host`, as written or resolved to `address`) is refused.
pub fn address_refused(host: &str, address: IpAddr, refusal: AddressRefusal) -> Outcome {
    let (code, fix) = match refusal {
        AddressRefusal::LinkLocal => (
            &HTTP_LINK_LOCAL_REFUSED,
            "; set `allow_link_local: true` if that is meant",
        ),
        AddressRefusal::Loopback => (
            &HTTP_ADDRESS_REFUSED,
            "; only a local rehearsal allows it (GREENLIGHT_ALLOW_LOOPBACK on the function)",
        ),
        AddressRefusal::Metadata | AddressRefusal::Unspecified => (&HTTP_ADDRESS_REFUSED, ""),
    };
    Outcome::permanent_error(
        code,
        format!(
            "refusing to send requests to {host} ({address}): {}{fix}",
            refusal.describe()
        ),
    )
    .with_evidence(
        Evidence::new("target address", address.to_string())
            .threshold("not metadata (169.254.169.254, fd00:ec2::/32), unspecified, loopback (unless the platform allows it) or link-local (unless allow_link_local)")
            .resource(host),
    )
}

/// `text` with every occurrence of each secret replaced by `<redacted>`.
pub fn redact(text: &str, secrets: &[String]) -> String {
    let mut forms: Vec<String> = secrets
        .iter()
        .filter(|secret| !secret.is_empty())
        .flat_map(|secret| secret_forms(secret))
        .collect();
    // Longest first, so a form containing another is replaced whole.
    forms.sort_by_key(|form| std::cmp::Reverse(form.len()));
    forms.dedup();
    forms.iter().fold(text.to_owned(), |text, form| {
        text.replace(form.as_str(), "<redacted>")
    })
}

/// The forms a secret takes where an answer may echo it: as sent, JSON-escaped (a body that
/// quotes the request) and percent-encoded (a URL or a form).
fn secret_forms(secret: &str) -> Vec<String> {
    let mut forms = vec![secret.to_owned()];
    if let Ok(quoted) = serde_json::to_string(secret)
        && let Some(inner) = quoted.get(1..quoted.len().saturating_sub(1))
    {
        forms.push(inner.to_owned());
        // JSON may also escape the solidus.
        forms.push(inner.replace('/', "\\/"));
    }
    // Encoders differ on RFC 3986's unreserved marks; cover both.
    const UNRESERVED_KEPT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    for set in [percent_encoding::NON_ALPHANUMERIC, UNRESERVED_KEPT] {
        forms.push(percent_encoding::utf8_percent_encode(secret, set).to_string());
    }
    forms.retain(|form| !form.is_empty());
    forms
}

/// How much of a body is searched for secrets before its snippet is cut: far more than the
/// snippet, so no secret can straddle the cut.
const REDACT_WINDOW_BYTES: usize = 64 * 1024;

/// The body's snippet for evidence with `secrets` redacted first and cut after, so a secret that
/// straddles the cut cannot leak in part.
pub fn redacted_body_snippet(body: &[u8], secrets: &[String]) -> String {
    let window = &body[..body.len().min(REDACT_WINDOW_BYTES)];
    let text = redact(&String::from_utf8_lossy(window), secrets);
    body_snippet(text.as_bytes())
}

// ---------------------------------------------------------------------------------------------
// One response

/// Why one request counted as an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FailureKind {
    /// No connection: refused, name not resolved, TLS handshake failed.
    Connect,
    /// No complete answer within `request_timeout`.
    Timeout,
    /// The connection broke while sending or reading.
    Transport,
    /// The status is not one expected.
    Status,
    /// A response header is missing or has another value.
    Header,
    /// The body does not contain `body_contains`.
    BodyContains,
    /// The body does not match `body_regex`.
    BodyRegex,
    /// The body is not JSON, and `json_path` needs it to be.
    NotJson,
    /// The `json_path` points at nothing.
    JsonPathMissing,
    /// The value at `json_path` is not `equals`.
    JsonMismatch,
}

impl FailureKind {
    /// The kind as evidence names it.
    pub fn name(self) -> &'static str {
        match self {
            FailureKind::Connect => "connect",
            FailureKind::Timeout => "timeout",
            FailureKind::Transport => "transport",
            FailureKind::Status => "status",
            FailureKind::Header => "header",
            FailureKind::BodyContains => "body_contains",
            FailureKind::BodyRegex => "body_regex",
            FailureKind::NotJson => "not_json",
            FailureKind::JsonPathMissing => "json_path_missing",
            FailureKind::JsonMismatch => "json_mismatch",
        }
    }
}

/// Why one response failed its expectations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseFailure {
    /// Which expectation.
    pub kind: FailureKind,
    /// What was seen, in words.
    pub detail: String,
}

/// The expectations on one response, with their patterns compiled once for the run.
#[derive(Debug, Clone)]
pub struct ResponseExpectations {
    expect: HttpExpect,
    status: StatusMatcher,
    body_contains: Option<regex::bytes::Regex>,
    body_regex: Option<regex::bytes::Regex>,
}

/// The most memory a compiled body pattern may take (the config validation holds the same line).
const REGEX_SIZE_LIMIT: usize = 1024 * 1024;

impl ResponseExpectations {
    /// Compiles `expect`'s body patterns; an `Err` says which one is invalid.
    pub fn new(expect: &HttpExpect) -> Result<Self, String> {
        let compile = |pattern: &str, field: &str| {
            regex::bytes::RegexBuilder::new(pattern)
                .size_limit(REGEX_SIZE_LIMIT)
                .build()
                .map_err(|error| format!("expect.{field} is not a valid pattern: {error}"))
        };
        let body_contains = expect
            .body_contains
            .as_deref()
            .map(|text| compile(&regex::escape(text), "body_contains"))
            .transpose()?;
        let body_regex = expect
            .body_regex
            .as_deref()
            .map(|pattern| compile(pattern, "body_regex"))
            .transpose()?;
        Ok(ResponseExpectations {
            expect: expect.clone(),
            status: expect.status.clone().unwrap_or_default(),
            body_contains,
            body_regex,
        })
    }

    /// Whether any expectation looks at the body.
    pub fn reads_body(&self) -> bool {
        self.body_contains.is_some() || self.body_regex.is_some() || self.expect.json_path.is_some()
    }

    /// Judges one response: its `status`, its headers (looked up by name with `header`) and the
    /// `body` read (its first `body_max_bytes`).
    pub fn assess(
        &self,
        status: u16,
        header: impl Fn(&str) -> Option<String>,
        body: &[u8],
    ) -> Result<(), ResponseFailure> {
        let fail = |kind, detail: String| Err(ResponseFailure { kind, detail });
        let expect = &self.expect;
        if !self.status.matches(status) {
            return fail(
                FailureKind::Status,
                format!("status {status} is not {}", self.status),
            );
        }
        for (name, wanted) in &expect.headers {
            match header(name) {
                Some(found) if found == *wanted => {}
                Some(found) => {
                    return fail(
                        FailureKind::Header,
                        format!(
                            "header {name} is {:?}, expected {wanted:?}",
                            truncate(&found, 100)
                        ),
                    );
                }
                None => {
                    return fail(
                        FailureKind::Header,
                        format!("header {name} is missing, expected {wanted:?}"),
                    );
                }
            }
        }
        if let (Some(pattern), Some(text)) = (&self.body_contains, &expect.body_contains)
            && !pattern.is_match(body)
        {
            return fail(
                FailureKind::BodyContains,
                format!("body does not contain {text:?}"),
            );
        }
        if let (Some(pattern), Some(text)) = (&self.body_regex, &expect.body_regex)
            && !pattern.is_match(body)
        {
            return fail(
                FailureKind::BodyRegex,
                format!("body does not match /{text}/"),
            );
        }
        if let Some(path) = &expect.json_path {
            let document: serde_json::Value = match serde_json::from_slice(body) {
                Ok(document) => document,
                Err(error) => {
                    return fail(
                        FailureKind::NotJson,
                        format!("body is not JSON ({error}), and {path} needs it to be"),
                    );
                }
            };
            match (path.select(&document), &expect.equals) {
                (None, _) => {
                    return fail(
                        FailureKind::JsonPathMissing,
                        format!("{path} is absent from the body"),
                    );
                }
                (Some(found), Some(wanted)) if !json_equal(found, wanted) => {
                    return fail(
                        FailureKind::JsonMismatch,
                        format!(
                            "{path} is {}, expected {wanted}",
                            truncate(&found.to_string(), 100)
                        ),
                    );
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// JSON equality where numbers compare by value (`1` equals `1.0`).
fn json_equal(found: &serde_json::Value, wanted: &serde_json::Value) -> bool {
    match (found.as_f64(), wanted.as_f64()) {
        (Some(a), Some(b)) if found.is_number() && wanted.is_number() => a == b,
        _ => found == wanted,
    }
}

/// At most `chars` characters of `text`, with `…` when cut.
fn truncate(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// The start of a body, as text fit for evidence: lossy UTF-8, control characters as spaces,
/// [`BODY_SNIPPET_CHARS`] at most.
pub fn body_snippet(body: &[u8]) -> String {
    let end = body.len().min(BODY_SNIPPET_CHARS * 4);
    let text: String = String::from_utf8_lossy(&body[..end])
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    truncate(text.trim(), BODY_SNIPPET_CHARS)
}

// ---------------------------------------------------------------------------------------------
// The run

/// Latency percentiles of the timed requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LatencySummary {
    /// How many requests were timed (answered, or timed out at `request_timeout`).
    pub samples: u64,
    /// The median.
    pub p50: Duration,
    /// The 90th percentile.
    pub p90: Duration,
    /// The 95th percentile.
    pub p95: Duration,
    /// The 99th percentile.
    pub p99: Duration,
    /// The slowest.
    pub max: Duration,
}

/// One failed request, as the evidence shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedRequest {
    /// Its number in the run, from 1.
    pub number: u64,
    /// Its status, when it got an answer.
    pub status: Option<u16>,
    /// Why it failed.
    pub kind: FailureKind,
    /// What was seen, in words (secrets redacted).
    pub detail: String,
    /// The start of its body, when it had one (secrets redacted).
    pub body: Option<String>,
}

/// What one run of synthetic requests saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrafficSummary {
    /// The URL requested (header values are not part of it).
    pub url: String,
    /// How the target was chosen.
    pub via: String,
    /// When the first request was sent.
    pub started_at: SystemTime,
    /// When the last one ended.
    pub finished_at: SystemTime,
    /// How many requests the run meant to send.
    pub planned: u64,
    /// How many it sent.
    pub sent: u64,
    /// Answered requests by status.
    pub by_status: BTreeMap<u16, u64>,
    /// Failed requests by why (each request counted once, for its first failure).
    pub failures: BTreeMap<FailureKind, u64>,
    /// Latency of the timed requests.
    pub latency: LatencySummary,
    /// How many timed requests were slower than each latency threshold of the expectations.
    pub slower_than: BTreeMap<Duration, u64>,
    /// The first failed requests, by number, at most [`MAX_FAILURE_SAMPLES`].
    pub first_failures: Vec<FailedRequest>,
}

impl TrafficSummary {
    /// How many requests failed.
    pub fn errors(&self) -> u64 {
        self.failures.values().sum()
    }

    /// How many requests got an HTTP answer.
    pub fn answered(&self) -> u64 {
        self.by_status.values().sum()
    }

    /// The failed requests' share of those sent, in percent.
    pub fn error_rate(&self) -> f64 {
        if self.sent == 0 {
            0.0
        } else {
            self.errors() as f64 * 100.0 / self.sent as f64
        }
    }
}

/// The chance of failing a release that meets its latency thresholds, over every look of a stage.
const LATENCY_ALPHA: f64 = 0.01;

/// The α of look `attempt` (from 1): α / (k(k+1)), which sums to at most α over any number of
/// looks.
fn look_alpha(attempt: u32) -> f64 {
    let k = f64::from(attempt.max(1));
    LATENCY_ALPHA / (k * (k + 1.0))
}

/// One latency threshold judged as the share of requests slower than it.
struct SlowShare {
    name: &'static str,
    threshold: Duration,
    seen: Duration,
    slow: u64,
    allowed: f64,
    /// Above the allowed share.
    over: bool,
    /// Above it beyond noise.
    significant: bool,
}

impl SlowShare {
    fn judge(
        (name, threshold, seen): (&'static str, Duration, Duration),
        slow: u64,
        timed: u64,
        attempt: u32,
    ) -> SlowShare {
        let allowed = allowed_share(name);
        let over = timed > 0 && slow as f64 > allowed * timed as f64 + 1e-9;
        let significant =
            over && crate::stats::binomial::upper_tail(slow, timed, allowed) < look_alpha(attempt);
        SlowShare {
            name,
            threshold,
            seen,
            slow,
            allowed,
            over,
            significant,
        }
    }

    fn described(&self, timed: u64) -> String {
        format!(
            "{} {}ms: {} of {timed} slower than {} ({}%, allowed {}%)",
            self.name,
            millis(self.seen),
            self.slow,
            HumanDuration(self.threshold),
            round2(share_percent(self.slow, timed)),
            round2(self.allowed * 100.0)
        )
    }
}

/// The slow requests a percentile implies when the run counted none at its threshold: none when
/// the percentile is within it, else just over the allowed share (judged for significance like
/// any count), never a count that leans toward a pass.
fn fallback_slow(name: &str, threshold: Duration, seen: Duration, timed: u64) -> u64 {
    if seen <= threshold {
        return 0;
    }
    ((allowed_share(name) * timed as f64).floor() as u64 + 1).min(timed)
}

/// The share of requests a percentile threshold allows above it (1% for p99).
fn allowed_share(percentile: &str) -> f64 {
    match percentile {
        "p50" => 0.50,
        "p90" => 0.10,
        "p95" => 0.05,
        _ => 0.01,
    }
}

fn share_percent(count: u64, of: u64) -> f64 {
    if of == 0 {
        0.0
    } else {
        count as f64 * 100.0 / of as f64
    }
}

/// Judges a run of synthetic requests against the expectations, at look `attempt` of the stage
/// (from 1).
pub fn judge(summary: &TrafficSummary, expect: &HttpExpect, attempt: u32) -> Outcome {
    let url = summary.url.as_str();
    let window = format!(
        "{}/{}",
        humantime::format_rfc3339_seconds(summary.started_at),
        humantime::format_rfc3339_seconds(summary.finished_at)
    );
    let sent = summary.sent;
    if sent == 0 {
        return Outcome::inconclusive(
            &HTTP_NO_SAMPLES,
            format!(
                "no request was sent to {url} (of {} planned)",
                summary.planned
            ),
        )
        .with_evidence(
            Evidence::new("requests sent", 0)
                .threshold(format!("{} planned", summary.planned))
                .window(window)
                .samples(0)
                .resource(url),
        );
    }

    let connect_failures = summary
        .failures
        .get(&FailureKind::Connect)
        .copied()
        .unwrap_or(0);
    if summary.answered() == 0 && connect_failures == sent {
        let first = summary
            .first_failures
            .first()
            .map_or_else(|| "no detail".to_owned(), |failure| failure.detail.clone());
        let mut outcome = Outcome::transient_error(
            &HTTP_UNREACHABLE,
            format!("none of the {sent} requests to {url} reached it: {first}"),
        )
        .with_evidence(
            Evidence::new("requests that connected", 0)
                .threshold("at least one")
                .window(window)
                .samples(sent)
                .resource(url),
        );
        for failure in &summary.first_failures {
            outcome = outcome.with_evidence(failure_evidence(failure, url));
        }
        return outcome;
    }

    let errors = summary.errors();
    let rate = summary.error_rate();
    let max_rate = expect.max_error_rate;
    let rate_failed = rate > max_rate.value() + 1e-9;

    let thresholds: Vec<(&str, Duration, Duration)> = [
        ("p50", expect.p50, summary.latency.p50),
        ("p90", expect.p90, summary.latency.p90),
        ("p95", expect.p95, summary.latency.p95),
        ("p99", expect.p99, summary.latency.p99),
    ]
    .into_iter()
    .filter_map(|(name, threshold, seen)| threshold.map(|threshold| (name, threshold, seen)))
    .collect();
    let timed = summary.latency.samples;
    let shares: Vec<SlowShare> = if timed == 0 {
        Vec::new()
    } else {
        thresholds
            .iter()
            .map(|&(name, threshold, seen)| {
                // A run that did not count slow requests at a threshold falls back on the
                // percentile: above it, at least the allowed share and one more were slower.
                let slow = summary
                    .slower_than
                    .get(&threshold)
                    .copied()
                    .unwrap_or_else(|| fallback_slow(name, threshold, seen, timed));
                SlowShare::judge((name, threshold, seen), slow, timed, attempt)
            })
            .collect()
    };
    let breaches: Vec<&SlowShare> = shares.iter().filter(|share| share.significant).collect();
    let unsettled: Vec<&SlowShare> = shares
        .iter()
        .filter(|share| share.over && !share.significant)
        .collect();

    let mut evidence = vec![
        Evidence::new("error rate of requests (%)", round2(rate))
            .threshold(format!("<= {max_rate}"))
            .window(window.clone())
            .samples(sent)
            .resource(url),
        Evidence::new(
            "responses by status",
            json!(
                summary
                    .by_status
                    .iter()
                    .map(|(status, count)| (status.to_string(), *count))
                    .collect::<BTreeMap<_, _>>()
            ),
        )
        .window(window.clone())
        .samples(summary.answered())
        .resource(url),
    ];
    if errors > 0 {
        evidence.push(
            Evidence::new(
                "failed requests by kind",
                json!(
                    summary
                        .failures
                        .iter()
                        .map(|(kind, count)| (kind.name(), *count))
                        .collect::<BTreeMap<_, _>>()
                ),
            )
            .window(window.clone())
            .samples(errors)
            .resource(url),
        );
    }
    if timed > 0 {
        for share in &shares {
            let (low, high) = (
                crate::stats::binomial::lower_bound(share.slow, timed, 0.025),
                crate::stats::binomial::upper_bound(share.slow, timed, 0.025),
            );
            evidence.push(
                Evidence::new(
                    format!(
                        "{} latency: requests slower than {}",
                        share.name,
                        HumanDuration(share.threshold)
                    ),
                    json!({
                        "percentile_ms": millis(share.seen),
                        "slow_requests": share.slow,
                        "slow_percent": round2(share_percent(share.slow, timed)),
                        "allowed_percent": round2(share.allowed * 100.0),
                        "interval_95_percent": [round2(low * 100.0), round2(high * 100.0)],
                        "look_alpha": look_alpha(attempt),
                    }),
                )
                .threshold(format!(
                    "{} <= {}: at most {}% slower, failed beyond noise",
                    share.name,
                    HumanDuration(share.threshold),
                    round2(share.allowed * 100.0)
                ))
                .window(window.clone())
                .samples(timed)
                .resource(url),
            );
        }
        evidence.push(
            Evidence::new(
                "latency (ms)",
                json!({
                    "p50": millis(summary.latency.p50),
                    "p90": millis(summary.latency.p90),
                    "p95": millis(summary.latency.p95),
                    "p99": millis(summary.latency.p99),
                    "max": millis(summary.latency.max),
                }),
            )
            .window(window.clone())
            .samples(timed)
            .resource(url),
        );
    }
    evidence.extend(
        summary
            .first_failures
            .iter()
            .map(|failure| failure_evidence(failure, url)),
    );
    evidence.push(Evidence::new("target", summary.via.as_str()).resource(url));

    let outcome = if rate_failed {
        let kinds = summary
            .failures
            .iter()
            .map(|(kind, count)| format!("{count} {}", kind.name()))
            .collect::<Vec<_>>()
            .join(", ");
        let mut message = format!(
            "{errors} of {sent} requests to {url} failed ({}% > {max_rate} allowed): {kinds}",
            round2(rate)
        );
        if let Some(first) = summary.first_failures.first() {
            let _ = write!(message, "; first: #{} {}", first.number, first.detail);
        }
        Outcome::fail(&HTTP_ERROR_RATE, message)
    } else if !breaches.is_empty() {
        let described = breaches
            .iter()
            .map(|share| share.described(timed))
            .collect::<Vec<_>>()
            .join("; ");
        Outcome::fail(
            &HTTP_LATENCY,
            format!(
                "requests to {url} were too slow, beyond noise: {described} (over {timed} timed requests)"
            ),
        )
    } else if !unsettled.is_empty() {
        let described = unsettled
            .iter()
            .map(|share| share.described(timed))
            .collect::<Vec<_>>()
            .join("; ");
        Outcome::inconclusive(
            &HTTP_LATENCY_NOT_SIGNIFICANT,
            format!(
                "requests to {url} look slower than allowed, but not beyond noise: {described} (over {timed} timed requests); the next look judges a fresh batch"
            ),
        )
    } else if !thresholds.is_empty() && timed == 0 {
        Outcome::inconclusive(
            &HTTP_NO_SAMPLES,
            format!("no request to {url} was timed, so its latency cannot be judged"),
        )
    } else {
        let mut message = format!(
            "{} of {sent} requests to {url} met the expectations (error rate {}% <= {max_rate}",
            sent - errors,
            round2(rate)
        );
        for share in &shares {
            let could = crate::stats::binomial::upper_bound(share.slow, timed, 0.05);
            let _ = write!(
                message,
                ", {} {}ms {} {} ({} of {timed} slower; this batch rules out more than {}% slower at 95%)",
                share.name,
                millis(share.seen),
                if share.seen <= share.threshold {
                    "<="
                } else {
                    "above, yet the share within"
                },
                HumanDuration(share.threshold),
                share.slow,
                round2(could * 100.0)
            );
        }
        message.push(')');
        Outcome::pass(&HTTP_OK, message)
    };
    evidence
        .into_iter()
        .fold(outcome, |outcome, evidence| outcome.with_evidence(evidence))
}

fn failure_evidence(failure: &FailedRequest, url: &str) -> Evidence {
    let mut value = json!({ "kind": failure.kind.name(), "detail": failure.detail });
    if let Some(status) = failure.status {
        value["status"] = json!(status);
    }
    if let Some(body) = &failure.body {
        value["body"] = json!(body);
    }
    Evidence::new(format!("failed request #{}", failure.number), value).resource(url)
}

/// Milliseconds with one decimal.
fn millis(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 10_000.0).round() / 10.0
}

fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::registry::test_support::check_at;
    use crate::facts::{ListenerRuleFacts, TestEndpoint};
    use crate::outcome::{ErrorClass, Status};
    use crate::stage::LifecycleStage;

    fn params(yaml: &str) -> HttpParams {
        let value: serde_json::Value = serde_json::from_str(yaml).expect("test params are JSON");
        serde_json::from_value(value).expect("test params parse")
    }

    fn rule(conditions: Vec<RuleCondition>) -> ListenerRuleFacts {
        ListenerRuleFacts {
            rule_arn: "arn:aws:elasticloadbalancing:eu-west-1:1:listener-rule/app/web/1/2/3".into(),
            listener_arn: "arn:aws:elasticloadbalancing:eu-west-1:1:listener/app/web/1/2".into(),
            forwards: vec![("green-tg".into(), 100.0)],
            conditions,
        }
    }

    fn routing(
        endpoint: Option<TestEndpoint>,
        test_rule: Option<ListenerRuleFacts>,
    ) -> RoutingFacts {
        RoutingFacts {
            green_target_group: Some("green-tg".into()),
            blue_target_group: Some("blue-tg".into()),
            load_balancer_arn: None,
            production_rule: None,
            test_rule,
            test_endpoint: endpoint,
        }
    }

    fn health(
        protocol: &str,
        port: &str,
        path: Option<&str>,
        codes: Option<&str>,
    ) -> HealthCheckFacts {
        HealthCheckFacts {
            target_group_arn: "green-tg".into(),
            target_group_port: Some(8080),
            protocol: Some(protocol.into()),
            port: Some(port.into()),
            path: path.map(Into::into),
            http_codes: codes.map(Into::into),
            grpc_codes: None,
            protocol_version: Some("HTTP1".into()),
        }
    }

    #[test]
    fn health_check_gives_the_path_and_codes_the_service_declares_healthy() {
        let route = routing(Some(endpoint("http://lb.example.com")), Some(rule(vec![])));
        let declared = health(
            "HTTP",
            "traffic-port",
            Some("/healthz"),
            Some("200-299,302"),
        );
        let resolved = with_health_check(&params(r#"{"health_check": true}"#), &declared, &route)
            .expect("usable");
        assert_eq!(resolved.path(), "/healthz");
        let status = resolved.expect.status.clone().expect("codes filled in");
        assert!(status.matches(204) && status.matches(302) && !status.matches(404));
        let target = resolve_target(&resolved, Some(&route), None).expect("routed");
        assert!(target.url.ends_with("/healthz"), "{}", target.url);
        assert!(target.via.contains("health check"), "{}", target.via);

        // What the config gives wins; the rest still comes from the health check.
        let given = with_health_check(
            &params(r#"{"health_check": true, "path": "/ready", "expect": {"status": "2xx,301"}}"#),
            &declared,
            &route,
        )
        .expect("usable");
        assert_eq!(given.path(), "/ready");
        assert!(given.expect.status.expect("given").matches(301));
        // The number of the traffic port is the traffic port.
        let numbered = health("HTTPS", "8080", Some("/healthz"), Some("200"));
        assert!(with_health_check(&params(r#"{"health_check": true}"#), &numbered, &route).is_ok());
        // Without `health_check`, the params stay as written (`/`, 2xx).
        let plain = with_health_check(&params("{}"), &declared, &route).expect("unchanged");
        assert_eq!((plain.path(), plain.expect.status.as_ref()), ("/", None));
    }

    #[test]
    fn a_health_check_the_listener_cannot_repeat_is_not_applicable_never_a_guess() {
        let route = routing(Some(endpoint("http://lb.example.com")), Some(rule(vec![])));
        let params = params(r#"{"health_check": true}"#);
        let mut grpc = health("HTTP", "traffic-port", Some("/AWS.ALB/healthcheck"), None);
        grpc.protocol_version = Some("GRPC".into());
        grpc.grpc_codes = Some("12".into());
        let cases = [
            ("TCP", health("TCP", "traffic-port", None, None), "TCP"),
            ("gRPC", grpc, "gRPC"),
            (
                "another port",
                health("HTTP", "9901", Some("/healthz"), Some("200")),
                "port 9901",
            ),
            (
                "no path",
                health("HTTP", "traffic-port", None, Some("200")),
                "no health-check path",
            ),
            (
                "no codes",
                health("HTTP", "traffic-port", Some("/healthz"), None),
                "no success codes",
            ),
            (
                "odd codes",
                health("HTTP", "traffic-port", Some("/healthz"), Some("2xx-ish")),
                "2xx-ish",
            ),
        ];
        for (name, declared, says) in cases {
            let outcome = with_health_check(&params, &declared, &route).expect_err(name);
            assert_eq!(
                (outcome.status, outcome.not_applicable, outcome.code.code),
                (Status::Error, true, "HTTP_HEALTH_CHECK_UNUSABLE"),
                "{name}"
            );
            assert!(
                outcome.message.contains(says),
                "{name}: {}",
                outcome.message
            );
            assert!(outcome.message.contains("`path`"), "{name}: names the fix");
            assert_eq!(
                outcome.evidence[0].resource.as_deref(),
                Some("green-tg"),
                "{name}"
            );
        }
        // A health-check path the test rule does not forward would reach the listener's default
        // action, not green.
        let api_only = routing(
            Some(endpoint("http://lb.example.com")),
            Some(rule(vec![RuleCondition::Path(vec!["/api/*".into()])])),
        );
        let declared = health("HTTP", "traffic-port", Some("/healthz"), Some("200"));
        let outcome = with_health_check(&params, &declared, &api_only).expect_err("not routed");
        assert_eq!(outcome.code.code, "HTTP_HEALTH_CHECK_UNUSABLE");
        assert!(
            outcome.message.contains("does not forward"),
            "{}",
            outcome.message
        );
    }

    #[test]
    fn requests_go_only_through_a_route_that_reaches_green() {
        let params = params("{}");
        let to = |forwards: Vec<(String, f64)>| {
            let mut test_rule = rule(vec![]);
            test_rule.forwards = forwards;
            routing(Some(endpoint("http://lb.example.com")), Some(test_rule))
        };
        // The rule still forwards to blue: requests would judge blue, so nothing is sent.
        let outcome = resolve_target(
            &params,
            Some(&to(vec![
                ("green-tg".into(), 0.0),
                ("blue-tg".into(), 100.0),
            ])),
            Some(&green(None)),
        )
        .expect_err("not routed to green");
        assert_eq!(
            (outcome.status, outcome.code.code),
            (Status::Inconclusive, "HTTP_NOT_ROUTED_TO_GREEN")
        );
        assert!(outcome.message.contains("0.0%"), "{}", outcome.message);
        assert_eq!(outcome.evidence.len(), 1);
        // Green's group unknown: cannot show the route reaches green either.
        let mut unknown = to(vec![("green-tg".into(), 100.0)]);
        unknown.green_target_group = None;
        let outcome =
            resolve_target(&params, Some(&unknown), Some(&green(None))).expect_err("green unknown");
        assert_eq!(outcome.code.code, "HTTP_NOT_ROUTED_TO_GREEN");
        // All test traffic on green: the requests go.
        assert!(
            resolve_target(
                &params,
                Some(&to(vec![
                    ("green-tg".into(), 100.0),
                    ("blue-tg".into(), 0.0)
                ])),
                Some(&green(None)),
            )
            .is_ok()
        );
    }

    fn endpoint(base_url: &str) -> TestEndpoint {
        TestEndpoint {
            base_url: base_url.into(),
            host: None,
            path: None,
            headers: Vec::new(),
        }
    }

    fn green(test_header: Option<HeaderMatch>) -> RevisionFacts {
        RevisionFacts {
            arn: "arn:aws:ecs:eu-west-1:1:service-revision/c/web/2".into(),
            task_definition_arn: "arn:aws:ecs:eu-west-1:1:task-definition/web:2".into(),
            containers: Vec::new(),
            target_group_arns: Vec::new(),
            test_header,
        }
    }

    fn header(name: &str, value: &str) -> HeaderMatch {
        HeaderMatch {
            name: name.into(),
            value: value.into(),
        }
    }

    /// (params, routing, green's test header, url, connect_to, route header names).
    type TargetCase = (
        &'static str,
        RoutingFacts,
        Option<HeaderMatch>,
        &'static str,
        Option<&'static str>,
        Vec<&'static str>,
    );

    /// (status, content-type, body, failure kind, detail fragment).
    type ResponseCase = (
        u16,
        Option<&'static str>,
        &'static [u8],
        FailureKind,
        &'static str,
    );

    #[test]
    fn secrets_are_redacted_in_every_form_before_the_snippet_is_cut() {
        let secret = "ghp_s3cr3t/value+x".to_owned();
        // The secret straddles the snippet's cut: cutting first would leak its first characters.
        let mut body = "x".repeat(BODY_SNIPPET_CHARS - 4);
        body.push_str(&secret);
        let snippet = redacted_body_snippet(body.as_bytes(), std::slice::from_ref(&secret));
        assert!(!snippet.contains("ghp_"), "{snippet}");
        // JSON-escaped and percent-encoded echoes are redacted too.
        let echoed = r#"{"token":"ghp_s3cr3t\/value+x"} url=/?t=ghp_s3cr3t%2Fvalue%2Bx"#;
        let redacted = redact(echoed, std::slice::from_ref(&secret));
        assert!(!redacted.contains("s3cr3t"), "{redacted}");
    }

    #[test]
    fn targets_resolve_from_the_facts() {
        let lb = "http://web-123.eu-west-1.elb.amazonaws.com:8080";
        let with_host = TestEndpoint {
            host: Some("test.web.example.com".into()),
            path: Some("/green/".into()),
            headers: vec![header("x-route", "green")],
            ..endpoint("https://web-123.eu-west-1.elb.amazonaws.com:8443/")
        };
        let sc = Some(header("x-amzn-ecs-blue-green-test", "1"));
        // (params, routing, green header, url, connect_to, route headers)
        let cases: Vec<TargetCase> = vec![
            (
                r#"{}"#,
                routing(Some(endpoint(lb)), Some(rule(vec![]))),
                None,
                "http://web-123.eu-west-1.elb.amazonaws.com:8080/",
                None,
                vec![],
            ),
            (
                r#"{"path": "/health?deep=1"}"#,
                routing(Some(endpoint(lb)), None),
                None,
                "http://web-123.eu-west-1.elb.amazonaws.com:8080/health?deep=1",
                None,
                vec![],
            ),
            (
                r#"{}"#,
                routing(Some(with_host.clone()), None),
                None,
                "https://test.web.example.com:8443/green/",
                Some("web-123.eu-west-1.elb.amazonaws.com"),
                vec!["x-route"],
            ),
            (
                r#"{"target": "test_header"}"#,
                routing(Some(with_host), None),
                sc.clone(),
                "https://test.web.example.com:8443/green/",
                Some("web-123.eu-west-1.elb.amazonaws.com"),
                vec!["x-route", "x-amzn-ecs-blue-green-test"],
            ),
            (
                r#"{"target": "test_header", "path": "/h"}"#,
                routing(Some(endpoint("http://lb.example.com")), None),
                sc,
                "http://lb.example.com/h",
                None,
                vec!["x-amzn-ecs-blue-green-test"],
            ),
            (
                r#"{"target": "url", "url": "https://green.internal/health"}"#,
                routing(None, None),
                None,
                "https://green.internal/health",
                None,
                vec![],
            ),
        ];
        for (yaml, routing, header, url, connect_to, headers) in cases {
            let green = green(header);
            let resolved = resolve_target(&params(yaml), Some(&routing), Some(&green))
                .unwrap_or_else(|outcome| panic!("{yaml}: {outcome:?}"));
            assert_eq!(resolved.url, url, "{yaml}");
            assert_eq!(resolved.connect_to.as_deref(), connect_to, "{yaml}");
            let names: Vec<&str> = resolved
                .route_headers
                .iter()
                .map(|h| h.name.as_str())
                .collect();
            assert_eq!(names, headers, "{yaml}");
        }
    }

    #[test]
    fn missing_routes_are_wiring_errors_naming_the_field() {
        let no_rule = routing(None, None);
        let odd_rule = routing(
            None,
            Some(rule(vec![RuleCondition::Other(
                "source-ip 10.0.0.0/8".into(),
            )])),
        );
        let path_rule = routing(
            Some(endpoint("http://lb.example.com")),
            Some(rule(vec![RuleCondition::Path(vec![
                "/api/*".into(),
                "/v?/x".into(),
            ])])),
        );
        let plain = routing(Some(endpoint("http://lb.example.com")), Some(rule(vec![])));
        let cases: Vec<(&str, &RoutingFacts, Option<HeaderMatch>, &ReasonCode, &str)> = vec![
            (
                r#"{}"#,
                &no_rule,
                None,
                &HTTP_NO_TEST_ROUTE,
                "`target: test_listener`",
            ),
            (
                r#"{"target": "test_header"}"#,
                &no_rule,
                Some(header("x-amzn-ecs-blue-green-test", "1")),
                &HTTP_NO_TEST_ROUTE,
                "Service Connect (header x-amzn-ecs-blue-green-test), which only a Service Connect client in the namespace can send",
            ),
            (
                r#"{}"#,
                &odd_rule,
                None,
                &HTTP_TEST_ROUTE_UNSUPPORTED,
                "source-ip 10.0.0.0/8",
            ),
            (
                r#"{"path": "/"}"#,
                &path_rule,
                None,
                &HTTP_PATH_NOT_ROUTED,
                "/api/*, /v?/x",
            ),
            (
                r#"{"target": "test_header"}"#,
                &plain,
                None,
                &HTTP_NO_TEST_HEADER,
                "`target: test_listener`",
            ),
        ];
        for (yaml, routing, header, code, says) in cases {
            let green = green(header);
            let outcome =
                resolve_target(&params(yaml), Some(routing), Some(&green)).expect_err(yaml);
            assert_eq!(outcome.code, code, "{yaml}");
            assert!(outcome.is_permanent_error(), "{yaml}");
            assert!(
                outcome.message.contains(says),
                "{yaml}: {}",
                outcome.message
            );
        }
        for path in ["/api/users", "/v1/x", "/api/?q=1"] {
            let yaml = format!(r#"{{"path": "{path}"}}"#);
            assert!(
                resolve_target(&params(&yaml), Some(&path_rule), None).is_ok(),
                "{path}"
            );
        }
    }

    #[test]
    fn elb_patterns_match_like_elb() {
        for (pattern, text, matches) in [
            ("/api/*", "/api/", true),
            ("/api/*", "/api/a/b", true),
            ("/api/*", "/apix", false),
            ("*", "/", true),
            ("/v?/x", "/v1/x", true),
            ("/v?/x", "/v10/x", false),
            ("/a*b*c", "/aXbYc", true),
            ("/a*b*c", "/aXbY", false),
            ("/API", "/api", false),
        ] {
            assert_eq!(
                elb_pattern_matches(pattern, text),
                matches,
                "{pattern} {text}"
            );
        }
    }

    #[test]
    fn refused_addresses_follow_the_guard() {
        use AddressRefusal::*;
        let closed = AddressGuard::default();
        let rehearsal = AddressGuard {
            allow_link_local: false,
            allow_loopback: true,
        };
        let link_local_ok = AddressGuard {
            allow_link_local: true,
            allow_loopback: false,
        };
        for (address, by_default, in_rehearsal, with_link_local) in [
            (
                "169.254.169.254",
                Some(Metadata),
                Some(Metadata),
                Some(Metadata),
            ),
            (
                "::ffff:169.254.169.254",
                Some(Metadata),
                Some(Metadata),
                Some(Metadata),
            ),
            (
                "fd00:ec2::254",
                Some(Metadata),
                Some(Metadata),
                Some(Metadata),
            ),
            (
                "fd00:ec2::23",
                Some(Metadata),
                Some(Metadata),
                Some(Metadata),
            ),
            (
                "0.0.0.0",
                Some(Unspecified),
                Some(Unspecified),
                Some(Unspecified),
            ),
            (
                "::",
                Some(Unspecified),
                Some(Unspecified),
                Some(Unspecified),
            ),
            ("127.0.0.1", Some(Loopback), None, Some(Loopback)),
            ("127.1.2.3", Some(Loopback), None, Some(Loopback)),
            ("::1", Some(Loopback), None, Some(Loopback)),
            ("::ffff:127.0.0.1", Some(Loopback), None, Some(Loopback)),
            ("169.254.170.2", Some(LinkLocal), Some(LinkLocal), None),
            ("fe80::1", Some(LinkLocal), Some(LinkLocal), None),
            ("10.0.0.1", None, None, None),
            ("fd00:ec3::1", None, None, None),
            ("2001:db8::1", None, None, None),
        ] {
            let ip: IpAddr = address.parse().expect("test address");
            assert_eq!(address_refusal(ip, closed), by_default, "{address}");
            assert_eq!(
                address_refusal(ip, rehearsal),
                in_rehearsal,
                "{address} in a rehearsal"
            );
            assert_eq!(
                address_refusal(ip, link_local_ok),
                with_link_local,
                "{address} with allow_link_local"
            );
        }
        let outcome = address_refused(
            "imds.example",
            "169.254.170.2".parse().expect("ip"),
            LinkLocal,
        );
        assert_eq!(outcome.code, &HTTP_LINK_LOCAL_REFUSED);
        assert!(outcome.is_permanent_error());
        assert!(outcome.message.contains("allow_link_local"));
        let outcome = address_refused("localhost", "127.0.0.1".parse().expect("ip"), Loopback);
        assert_eq!(outcome.code, &HTTP_ADDRESS_REFUSED);
        assert!(
            outcome.message.contains("Runtime API"),
            "{}",
            outcome.message
        );
    }

    #[test]
    fn secrets_are_redacted_everywhere() {
        let secrets = vec!["s3cr3t".to_owned(), String::new()];
        assert_eq!(
            redact("echo: Authorization: s3cr3t, again s3cr3t", &secrets),
            "echo: Authorization: <redacted>, again <redacted>"
        );
        assert_eq!(redact("nothing here", &secrets), "nothing here");
        let outcome = header_value_invalid("X-Key", "ssm /team/key", "has a line break");
        assert_eq!(outcome.evidence[0].value, json!("<redacted>"));
    }

    fn expect(json: serde_json::Value) -> HttpExpect {
        serde_json::from_value(json).expect("test expectations parse")
    }

    #[test]
    fn responses_are_assessed_against_every_expectation() {
        let all = expect(json!({
            "status": "2xx",
            "headers": { "content-type": "application/json" },
            "body_contains": "\"ok\"",
            "body_regex": "version\":\\s*\"2\\.",
            "json_path": "$.checks[0].status",
            "equals": "ok",
        }));
        let good = br#"{"checks":[{"status":"ok"}],"version": "2.1"}"#;
        let json_header =
            |name: &str| (name == "content-type").then(|| "application/json".to_owned());
        let expectations = ResponseExpectations::new(&all).expect("compiles");
        assert!(expectations.reads_body());
        assert_eq!(expectations.assess(200, json_header, good), Ok(()));

        let cases: Vec<ResponseCase> = vec![
            (
                503,
                Some("application/json"),
                good,
                FailureKind::Status,
                "status 503 is not 2xx",
            ),
            (
                200,
                Some("text/html"),
                good,
                FailureKind::Header,
                "header content-type is \"text/html\"",
            ),
            (
                200,
                None,
                good,
                FailureKind::Header,
                "content-type is missing",
            ),
            (
                200,
                Some("application/json"),
                br#"{"checks":[{"status":"degraded"}],"version": "2.1"}"#,
                FailureKind::BodyContains,
                "does not contain \"\\\"ok\\\"\"",
            ),
            (
                200,
                Some("application/json"),
                br#"{"checks":[{"status":"ok"}],"version": "1.9"}"#,
                FailureKind::BodyRegex,
                "does not match",
            ),
            (
                200,
                Some("application/json"),
                br#""ok" version": "2.1 <html>"#,
                FailureKind::NotJson,
                "not JSON",
            ),
            (
                200,
                Some("application/json"),
                br#"{"checks":[],"s":"ok","version": "2.1"}"#,
                FailureKind::JsonPathMissing,
                "$.checks[0].status is absent",
            ),
            (
                200,
                Some("application/json"),
                br#"{"checks":[{"status":"okay","x":"ok"}],"version": "2.1"}"#,
                FailureKind::JsonMismatch,
                "is \"okay\", expected \"ok\"",
            ),
        ];
        for (status, content_type, body, kind, says) in cases {
            let failure = expectations
                .assess(status, |_| content_type.map(str::to_owned), body)
                .expect_err(says);
            assert_eq!(failure.kind, kind, "{says}");
            assert!(failure.detail.contains(says), "{}", failure.detail);
        }
    }

    #[test]
    fn json_numbers_compare_by_value() {
        let expectations =
            ResponseExpectations::new(&expect(json!({ "json_path": "$.n", "equals": 1 })))
                .expect("compiles");
        assert_eq!(expectations.assess(200, |_| None, br#"{"n": 1.0}"#), Ok(()));
        assert!(
            expectations
                .assess(200, |_| None, br#"{"n": "1"}"#)
                .is_err()
        );
        let default = ResponseExpectations::new(&HttpExpect::default()).expect("compiles");
        assert!(!default.reads_body());
        assert_eq!(default.assess(204, |_| None, b""), Ok(()));
    }

    #[test]
    fn body_snippets_are_short_and_printable() {
        let long = "é".repeat(500);
        let snippet = body_snippet(long.as_bytes());
        assert_eq!(snippet.chars().count(), BODY_SNIPPET_CHARS + 1);
        assert!(snippet.ends_with('…'));
        assert_eq!(body_snippet(b"  line1\nline2\x00 "), "line1 line2");
        assert_eq!(body_snippet(&[0xff, b'a']), "\u{fffd}a");
    }

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000 + seconds)
    }

    fn ms(value: u64) -> Duration {
        Duration::from_millis(value)
    }

    fn summary(
        sent: u64,
        statuses: &[(u16, u64)],
        failures: &[(FailureKind, u64)],
        p99: u64,
    ) -> TrafficSummary {
        let failures: BTreeMap<FailureKind, u64> = failures.iter().copied().collect();
        let first_failures = failures
            .keys()
            .enumerate()
            .map(|(i, kind)| FailedRequest {
                number: i as u64 + 1,
                status: (*kind == FailureKind::Status).then_some(503),
                kind: *kind,
                detail: format!("{} detail", kind.name()),
                body: (*kind == FailureKind::Status).then(|| "upstream down".to_owned()),
            })
            .collect();
        let answered: u64 = statuses.iter().map(|(_, n)| n).sum();
        let timeouts = failures.get(&FailureKind::Timeout).copied().unwrap_or(0);
        TrafficSummary {
            url: "http://lb.example.com/health".into(),
            via: "the test listener rule arn:rule".into(),
            started_at: at(0),
            finished_at: at(3),
            planned: sent,
            sent,
            by_status: statuses.iter().copied().collect(),
            failures,
            latency: LatencySummary {
                samples: answered + timeouts,
                p50: ms(p99 / 4),
                p90: ms(p99 / 2),
                p95: ms(p99 * 3 / 4),
                p99: ms(p99),
                max: ms(p99 + 10),
            },
            slower_than: BTreeMap::new(),
            first_failures,
        }
    }

    /// `summary` with `count` requests slower than `threshold_ms`.
    fn with_slow(mut summary: TrafficSummary, threshold_ms: u64, count: u64) -> TrafficSummary {
        summary.slower_than.insert(ms(threshold_ms), count);
        summary
    }

    #[test]
    fn runs_are_judged_on_error_rate_and_latency() {
        let strict = expect(json!({ "p99": "300ms", "max_error_rate": "1%" }));
        let lenient = expect(json!({ "max_error_rate": "100%", "p50": "1s" }));
        // (name, summary, expectations, status, code, message fragment)
        let cases: Vec<(&str, TrafficSummary, &HttpExpect, Status, &ReasonCode, &str)> = vec![
            (
                "all good",
                summary(200, &[(200, 200)], &[], 120),
                &strict,
                Status::Pass,
                &HTTP_OK,
                "200 of 200 requests to http://lb.example.com/health met the expectations (error rate 0% <= 1%, p99 120ms <= 300ms (0 of 200 slower",
            ),
            (
                "at the threshold",
                summary(
                    100,
                    &[(200, 99), (503, 1)],
                    &[(FailureKind::Status, 1)],
                    120,
                ),
                &strict,
                Status::Pass,
                &HTTP_OK,
                "99 of 100",
            ),
            (
                "5xx above threshold",
                summary(
                    200,
                    &[(200, 180), (503, 20)],
                    &[(FailureKind::Status, 20)],
                    120,
                ),
                &strict,
                Status::Fail,
                &HTTP_ERROR_RATE,
                "20 of 200 requests to http://lb.example.com/health failed (10% > 1% allowed): 20 status; first: #1 status detail",
            ),
            (
                "timeouts count",
                summary(10, &[(200, 8)], &[(FailureKind::Timeout, 2)], 120),
                &strict,
                Status::Fail,
                &HTTP_ERROR_RATE,
                "2 timeout",
            ),
            (
                "slow",
                with_slow(summary(50, &[(200, 50)], &[], 450), 300, 5),
                &strict,
                Status::Fail,
                &HTTP_LATENCY,
                "too slow, beyond noise: p99 450ms: 5 of 50 slower than 300ms (10%, allowed 1%) (over 50 timed requests)",
            ),
            (
                // Two slow requests of a hundred decide a p99, but 1% would give two by luck.
                "a p99 decided by two requests",
                with_slow(summary(100, &[(200, 100)], &[], 450), 300, 2),
                &strict,
                Status::Inconclusive,
                &HTTP_LATENCY_NOT_SIGNIFICANT,
                "not beyond noise: p99 450ms: 2 of 100 slower than 300ms (2%, allowed 1%)",
            ),
            (
                "nothing sent",
                summary(0, &[], &[], 0),
                &strict,
                Status::Inconclusive,
                &HTTP_NO_SAMPLES,
                "no request was sent",
            ),
            (
                "nothing timed",
                summary(
                    3,
                    &[],
                    &[(FailureKind::Connect, 1), (FailureKind::Transport, 2)],
                    0,
                ),
                &lenient,
                Status::Inconclusive,
                &HTTP_NO_SAMPLES,
                "cannot be judged",
            ),
            (
                "refused",
                summary(10, &[], &[(FailureKind::Connect, 10)], 0),
                &strict,
                Status::Error,
                &HTTP_UNREACHABLE,
                "none of the 10 requests to http://lb.example.com/health reached it: connect detail",
            ),
        ];
        for (name, summary, expectations, status, code, says) in cases {
            let outcome = judge(&summary, expectations, 1);
            assert_eq!(outcome.status, status, "{name}: {outcome:?}");
            assert_eq!(outcome.code, code, "{name}");
            assert!(
                outcome.message.contains(says),
                "{name}: {}",
                outcome.message
            );
            assert!(
                outcome.evidence.iter().all(|e| e
                    .resource
                    .as_deref()
                    .is_some_and(|r| r.starts_with("http://lb"))),
                "{name}: every piece of evidence names the target"
            );
        }
    }

    #[test]
    fn the_latency_test_spends_its_alpha_over_the_looks() {
        let strict = expect(json!({ "p99": "300ms" }));
        let five_of_fifty = with_slow(summary(50, &[(200, 50)], &[], 450), 300, 5);
        // P(5 or more of 50 slow | 1%) is about 0.00015: beyond noise at the first look's
        // α (0.5%), not at the tenth's (0.009%).
        assert_eq!(judge(&five_of_fifty, &strict, 1).code, &HTTP_LATENCY);
        assert_eq!(
            judge(&five_of_fifty, &strict, 10).code,
            &HTTP_LATENCY_NOT_SIGNIFICANT
        );
        // Without a count at the threshold, a percentile above it is "just over", never "none".
        let uncounted = summary(400, &[(200, 400)], &[], 450);
        let outcome = judge(&uncounted, &strict, 1);
        assert_eq!(
            outcome.code, &HTTP_LATENCY_NOT_SIGNIFICANT,
            "{}",
            outcome.message
        );
        assert!(
            outcome.message.contains("5 of 400 slower"),
            "{}",
            outcome.message
        );
        let total: f64 = (1..10_000).map(look_alpha).sum();
        assert!(total <= LATENCY_ALPHA, "{total}");
        // A pass says what the batch could rule out.
        let clean = with_slow(summary(300, &[(200, 300)], &[], 120), 300, 0);
        let outcome = judge(&clean, &strict, 1);
        assert_eq!(outcome.code, &HTTP_OK);
        assert!(
            outcome
                .message
                .contains("p99 120ms <= 300ms (0 of 300 slower; this batch rules out more than 0.99% slower at 95%)"),
            "{}",
            outcome.message
        );
        let share = outcome
            .evidence
            .iter()
            .find(|e| e.measured == "p99 latency: requests slower than 300ms")
            .expect("the share");
        assert_eq!(share.value["slow_requests"], json!(0));
        assert_eq!(share.value["interval_95_percent"][0], json!(0.0));
    }

    #[test]
    fn evidence_has_counts_thresholds_windows_and_first_failures() {
        let strict = expect(json!({ "p99": "300ms", "max_error_rate": "1%" }));
        let outcome = judge(
            &summary(
                200,
                &[(200, 180), (503, 20)],
                &[(FailureKind::Status, 20)],
                120,
            ),
            &strict,
            1,
        );
        let rate = &outcome.evidence[0];
        assert_eq!(rate.value, json!(10.0));
        assert_eq!(rate.threshold.as_deref(), Some("<= 1%"));
        assert_eq!(rate.samples, Some(200));
        assert!(
            rate.window
                .as_deref()
                .is_some_and(|w| w.contains('/') && w.ends_with('Z'))
        );
        assert_eq!(outcome.evidence[1].value, json!({"200": 180, "503": 20}));
        assert_eq!(outcome.evidence[2].value, json!({"status": 20}));
        let p99 = outcome
            .evidence
            .iter()
            .find(|e| e.measured == "p99 latency: requests slower than 300ms")
            .expect("p99");
        assert_eq!(
            (p99.value["percentile_ms"].clone(), p99.threshold.as_deref()),
            (
                json!(120.0),
                Some("p99 <= 300ms: at most 1% slower, failed beyond noise")
            )
        );
        let first = outcome
            .evidence
            .iter()
            .find(|e| e.measured == "failed request #1")
            .expect("first");
        assert_eq!(first.value["status"], json!(503));
        assert_eq!(first.value["body"], json!("upstream down"));

        let refused = judge(
            &summary(4, &[], &[(FailureKind::Connect, 4)], 0),
            &strict,
            1,
        );
        assert_eq!(refused.error_class, Some(ErrorClass::Transient));
    }

    #[test]
    fn doc_lists_every_code_once() {
        assert_eq!(DOC.kind, "http");
        assert!(!DOC.summary.is_empty() && !DOC.why.is_empty() && !DOC.iam.is_empty());
        let mut codes: Vec<&str> = DOC.codes.iter().map(|code| code.code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), DOC.codes.len());
        assert!(DOC.codes.iter().all(|code| code.family() == "HTTP"));
        let example = check_at(DOC.example, &LifecycleStage::PostTestTrafficShift)
            .expect("the documented example is a valid check");
        assert!(matches!(example.kind, crate::checks::CheckKind::Http(_)));
    }
}
