//! The load balancers' data plane: real HTTP through the listeners and rules moto holds.
//!
//! moto keeps load balancers, listeners, rules and target groups but moves no traffic. The plane
//! serves each listener on a loopback port (the listener is created in moto with that very port,
//! and `DNSName` answers are rewritten to `127.0.0.1`, so greenlight's `http` check reaches it),
//! and routes each request as an ALB does: the listener's rules in priority order, conditions on
//! host, path, header, query string and method (`*` and `?` wildcards, host and header values
//! case-insensitive), the default rule last; forward actions to one target group or to weighted
//! groups (picked by a seeded generator), fixed responses. A target group's backends are the
//! sample apps a scenario puts behind it, taken round robin. Every request is recorded in the
//! world's [`crate::world::TrafficRecorder`], which the ALB metrics are computed from.
//!
//! Rules are read from moto directly, not through the local AWS endpoint, so the functions' call
//! counts show only their own calls. They are cached for a short time; [`LoadBalancerPlane::refresh`]
//! drops the cache at once (call it after changing a rule, e.g. a traffic shift).

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_elasticloadbalancingv2::Client as ElbClient;
use aws_sdk_elasticloadbalancingv2::types::{
    Action as SdkAction, ActionTypeEnum, Rule as SdkRule, RuleCondition,
};
use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

use crate::endpoint::is_hop_by_hop;
use crate::local_aws::REGION;
use crate::world::prng::Prng;
use crate::world::{RequestRecord, World, WorldError};

/// How long cached rules are trusted without a [`LoadBalancerPlane::refresh`].
const RULES_TTL: Duration = Duration::from_millis(200);

/// How long a backend may take before the load balancer answers 504 (an ALB's idle timeout).
const BACKEND_TIMEOUT: Duration = Duration::from_secs(60);

/// The seed of the weighted target group choice.
const ROUTING_SEED: u64 = 0x0061_6C62_5F77_6569;

/// The local data plane of every simulated load balancer.
#[derive(Clone)]
pub struct LoadBalancerPlane {
    inner: Arc<PlaneState>,
}

impl std::fmt::Debug for LoadBalancerPlane {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("LoadBalancerPlane")
            .finish_non_exhaustive()
    }
}

struct PlaneState {
    elb: ElbClient,
    world: World,
    client: Client<HttpConnector, Full<Bytes>>,
    /// Ports bound by `bind_listener_port`, not yet served.
    reserved: Mutex<HashMap<u16, StdTcpListener>>,
    /// Cached rules by listener ARN.
    rules: Mutex<HashMap<String, CachedRules>>,
    /// Bumped by `refresh`: a cache from an older generation is stale.
    generation: AtomicU64,
    backends: Mutex<HashMap<String, Backends>>,
    prng: Mutex<Prng>,
    servers: Mutex<Vec<JoinHandle<()>>>,
}

impl Drop for PlaneState {
    fn drop(&mut self) {
        for server in self
            .servers
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
        {
            server.abort();
        }
    }
}

#[derive(Debug, Default)]
struct Backends {
    addresses: Vec<SocketAddr>,
    next: usize,
}

#[derive(Debug, Clone)]
struct CachedRules {
    fetched_at: Instant,
    generation: u64,
    rules: Arc<Vec<Route>>,
}

/// One listener rule, as the plane evaluates it.
#[derive(Debug, Clone, PartialEq)]
struct Route {
    /// The priority; the default rule sorts last.
    priority: u32,
    conditions: Vec<Condition>,
    action: RouteAction,
}

#[derive(Debug, Clone, PartialEq)]
enum Condition {
    /// Any of these host patterns.
    Host(Vec<String>),
    /// Any of these path patterns.
    Path(Vec<String>),
    /// The header has any of these value patterns.
    Header { name: String, values: Vec<String> },
    /// Any of these `key=value` pairs (key `None`: any key) is in the query string.
    Query(Vec<(Option<String>, String)>),
    /// Any of these methods.
    Method(Vec<String>),
    /// A condition the plane does not evaluate (source IP): never matches, so a rule that
    /// depends on it is not taken by mistake.
    Unsupported,
}

#[derive(Debug, Clone, PartialEq)]
enum RouteAction {
    /// Target groups and weights.
    Forward(Vec<(String, u64)>),
    Fixed {
        status: u16,
        content_type: Option<String>,
        body: String,
    },
    Unsupported(String),
}

/// What one request is, for rule matching.
struct RequestView<'r> {
    host: &'r str,
    path: &'r str,
    query: Vec<(String, String)>,
    method: &'r str,
    headers: &'r http::HeaderMap,
}

impl LoadBalancerPlane {
    /// A plane that reads listeners and rules from moto at `moto_url` and records into `world`.
    pub fn new(moto_url: &str, world: &World) -> Self {
        let config = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::from_static(REGION))
            .endpoint_url(moto_url)
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "AKIDLOCALTEST",
                "local-test-secret",
                None,
                None,
                "greenlight-sim-plane",
            )))
            .retry_config(RetryConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_timeout(Duration::from_secs(30))
                    .build(),
            )
            .build();
        Self {
            inner: Arc::new(PlaneState {
                elb: ElbClient::new(&config),
                world: world.clone(),
                client: Client::builder(TokioExecutor::new()).build_http(),
                reserved: Mutex::new(HashMap::new()),
                rules: Mutex::new(HashMap::new()),
                generation: AtomicU64::new(0),
                backends: Mutex::new(HashMap::new()),
                prng: Mutex::new(Prng::new(ROUTING_SEED)),
                servers: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Reserves a free loopback port for a listener: create the listener in moto with this port,
    /// then [`LoadBalancerPlane::serve`] it.
    pub fn bind_listener_port(&self) -> Result<u16, WorldError> {
        let listener = StdTcpListener::bind(("127.0.0.1", 0)).map_err(WorldError::Bind)?;
        listener.set_nonblocking(true).map_err(WorldError::Bind)?;
        let port = listener.local_addr().map_err(WorldError::Bind)?.port();
        self.inner
            .reserved
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(port, listener);
        Ok(port)
    }

    /// Starts serving the listener `listener_arn` on `port` (reserved with
    /// [`LoadBalancerPlane::bind_listener_port`]), on the current tokio runtime.
    pub async fn serve(&self, listener_arn: &str, port: u16) -> Result<(), WorldError> {
        let described = self
            .inner
            .elb
            .describe_listeners()
            .listener_arns(listener_arn)
            .send()
            .await
            .map_err(|error| WorldError::Moto {
                operation: "DescribeListeners",
                detail: format!(
                    "{listener_arn}: {}",
                    aws_sdk_elasticloadbalancingv2::error::DisplayErrorContext(&error)
                ),
            })?;
        let Some(listener) = described.listeners().first() else {
            return Err(WorldError::InvalidInput {
                what: "listener_arn",
                detail: format!("moto has no listener {listener_arn}"),
            });
        };
        if listener.port() != Some(i32::from(port)) {
            return Err(WorldError::InvalidInput {
                what: "port",
                detail: format!(
                    "listener {listener_arn} has port {:?} in moto, not {port}: create it with \
                     the port bind_listener_port reserved",
                    listener.port()
                ),
            });
        }
        let load_balancer_arn = listener.load_balancer_arn().unwrap_or_default().to_owned();
        let reserved = self
            .inner
            .reserved
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&port)
            .ok_or_else(|| WorldError::InvalidInput {
                what: "port",
                detail: format!(
                    "port {port} was not reserved with bind_listener_port (or is already served)"
                ),
            })?;
        let socket = TcpListener::from_std(reserved).map_err(WorldError::Bind)?;
        let server = tokio::spawn(accept(
            socket,
            Arc::downgrade(&self.inner),
            Arc::new(ListenerIdentity {
                listener_arn: listener_arn.to_owned(),
                load_balancer_arn,
            }),
        ));
        self.inner
            .servers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(server);
        Ok(())
    }

    /// Forgets cached rules: the next request reads them from moto.
    pub fn refresh(&self) {
        self.inner.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// Says which app instances stand behind a target group (round robin among them); an empty
    /// list leaves it without backends (503).
    pub fn set_backends(&self, target_group_arn: &str, backends: Vec<SocketAddr>) {
        self.inner
            .backends
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(
                target_group_arn.to_owned(),
                Backends {
                    addresses: backends,
                    next: 0,
                },
            );
    }

    /// Restarts the generator of weighted choices, for a reproducible run.
    pub fn reseed(&self, seed: u64) {
        *self
            .inner
            .prng
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Prng::new(seed);
    }
}

/// Which listener a connection came in on.
struct ListenerIdentity {
    listener_arn: String,
    load_balancer_arn: String,
}

async fn accept(
    socket: TcpListener,
    plane: std::sync::Weak<PlaneState>,
    identity: Arc<ListenerIdentity>,
) {
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let Ok((stream, _)) = socket.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let plane = plane.clone();
        let identity = Arc::clone(&identity);
        connections.spawn(async move {
            let service = service_fn(move |request| {
                let plane = plane.clone();
                let identity = Arc::clone(&identity);
                async move {
                    let response = match plane.upgrade() {
                        Some(plane) => plane.handle(&identity, request).await,
                        None => elb_response(StatusCode::SERVICE_UNAVAILABLE),
                    };
                    Ok::<_, std::convert::Infallible>(response)
                }
            });
            if let Err(error) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(%error, "load balancer connection ended with an error");
            }
        });
    }
}

/// An answer the load balancer makes itself, with an ALB-like HTML body.
fn elb_response(status: StatusCode) -> Response<Full<Bytes>> {
    let reason = status.canonical_reason().unwrap_or("Error");
    let code = status.as_u16();
    let body = format!(
        "<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n<center><h1>{code} \
         {reason}</h1></center>\r\n</body>\r\n</html>\r\n"
    );
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/html"),
    );
    response
        .headers_mut()
        .insert("server", HeaderValue::from_static("awselb/2.0"));
    response
}

impl PlaneState {
    async fn handle(
        &self,
        identity: &ListenerIdentity,
        request: Request<Incoming>,
    ) -> Response<Full<Bytes>> {
        let (parts, body) = request.into_parts();
        let (response, target_group, target_time) = match body.collect().await {
            Err(_) => (elb_response(StatusCode::BAD_REQUEST), None, None),
            Ok(collected) => self.route(identity, parts, collected.to_bytes()).await,
        };
        self.world.traffic().record(RequestRecord {
            at: SystemTime::now(),
            load_balancer_arn: identity.load_balancer_arn.clone(),
            target_group_arn: target_group,
            status: response.status().as_u16(),
            target_response_time: target_time,
        });
        response
    }

    /// The response, the target group it went to, and the target's response time.
    async fn route(
        &self,
        identity: &ListenerIdentity,
        parts: http::request::Parts,
        body: Bytes,
    ) -> (Response<Full<Bytes>>, Option<String>, Option<Duration>) {
        let routes = match self.routes(&identity.listener_arn).await {
            Ok(routes) => routes,
            Err(error) => {
                tracing::warn!(%error, "load balancer could not read its rules");
                return (elb_response(StatusCode::INTERNAL_SERVER_ERROR), None, None);
            }
        };
        let host = parts
            .headers
            .get(http::header::HOST)
            .and_then(|value| value.to_str().ok())
            .map(|host| host.rsplit_once(':').map_or(host, |(name, _)| name))
            .unwrap_or_default()
            .to_owned();
        let view = RequestView {
            host: &host,
            path: parts.uri.path(),
            query: parts
                .uri
                .query()
                .map(|query| {
                    form_urlencoded::parse(query.as_bytes())
                        .map(|(key, value)| (key.into_owned(), value.into_owned()))
                        .collect()
                })
                .unwrap_or_default(),
            method: parts.method.as_str(),
            headers: &parts.headers,
        };
        let Some(route) = routes.iter().find(|route| {
            route
                .conditions
                .iter()
                .all(|condition| condition.matches(&view))
        }) else {
            return (elb_response(StatusCode::SERVICE_UNAVAILABLE), None, None);
        };
        match &route.action {
            RouteAction::Fixed {
                status,
                content_type,
                body,
            } => {
                let mut response = Response::new(Full::new(Bytes::from(body.clone())));
                *response.status_mut() =
                    StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                if let Some(value) = content_type
                    .as_deref()
                    .and_then(|value| HeaderValue::from_str(value).ok())
                {
                    response
                        .headers_mut()
                        .insert(http::header::CONTENT_TYPE, value);
                }
                (response, None, None)
            }
            RouteAction::Unsupported(kind) => {
                tracing::warn!(action = %kind, "the local load balancer does not simulate this action");
                (elb_response(StatusCode::NOT_IMPLEMENTED), None, None)
            }
            RouteAction::Forward(groups) => {
                let weights: Vec<u64> = groups.iter().map(|(_, weight)| *weight).collect();
                let picked = self
                    .prng
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .pick_weighted(&weights);
                let Some((group, _)) = picked.and_then(|index| groups.get(index)) else {
                    return (elb_response(StatusCode::SERVICE_UNAVAILABLE), None, None);
                };
                let (response, time) = self.proxy(group, parts, body).await;
                (response, Some(group.clone()), time)
            }
        }
    }

    fn next_backend(&self, target_group_arn: &str) -> Option<SocketAddr> {
        let mut backends = self.backends.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = backends.get_mut(target_group_arn)?;
        let address = *entry
            .addresses
            .get(entry.next % entry.addresses.len().max(1))?;
        entry.next = entry.next.wrapping_add(1);
        Some(address)
    }

    /// Sends the request to the next backend of the group: its answer and how long it took, or
    /// the load balancer's own 503 (no backend), 502 (backend unreachable) or 504 (too slow).
    async fn proxy(
        &self,
        target_group_arn: &str,
        parts: http::request::Parts,
        body: Bytes,
    ) -> (Response<Full<Bytes>>, Option<Duration>) {
        let Some(backend) = self.next_backend(target_group_arn) else {
            return (elb_response(StatusCode::SERVICE_UNAVAILABLE), None);
        };
        let path = parts.uri.path_and_query().map_or("/", |path| path.as_str());
        let Ok(uri) = format!("http://{backend}{path}").parse::<Uri>() else {
            return (elb_response(StatusCode::BAD_REQUEST), None);
        };
        let mut request = Request::new(Full::new(body));
        *request.method_mut() = parts.method;
        *request.uri_mut() = uri;
        for (name, value) in &parts.headers {
            if !is_hop_by_hop(name) && name != http::header::CONTENT_LENGTH {
                request.headers_mut().append(name, value.clone());
            }
        }
        request
            .headers_mut()
            .insert("x-forwarded-proto", HeaderValue::from_static("http"));
        let started = Instant::now();
        let exchange = async {
            let response = self.client.request(request).await.ok()?;
            let (parts, body) = response.into_parts();
            let body = body.collect().await.ok()?.to_bytes();
            Some((parts, body))
        };
        match tokio::time::timeout(BACKEND_TIMEOUT, exchange).await {
            Err(_) => (elb_response(StatusCode::GATEWAY_TIMEOUT), None),
            Ok(None) => (elb_response(StatusCode::BAD_GATEWAY), None),
            Ok(Some((mut parts, body))) => {
                let elapsed = started.elapsed();
                let names: Vec<http::HeaderName> = parts
                    .headers
                    .keys()
                    .filter(|name| is_hop_by_hop(name) || *name == http::header::CONTENT_LENGTH)
                    .cloned()
                    .collect();
                for name in names {
                    parts.headers.remove(name);
                }
                (Response::from_parts(parts, Full::new(body)), Some(elapsed))
            }
        }
    }

    /// The listener's rules in evaluation order, cached.
    async fn routes(&self, listener_arn: &str) -> Result<Arc<Vec<Route>>, WorldError> {
        let generation = self.generation.load(Ordering::SeqCst);
        if let Some(cached) = self
            .rules
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(listener_arn)
            && cached.generation == generation
            && cached.fetched_at.elapsed() < RULES_TTL
        {
            return Ok(Arc::clone(&cached.rules));
        }
        let mut rules = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let page = self
                .elb
                .describe_rules()
                .listener_arn(listener_arn)
                .set_marker(marker.take())
                .send()
                .await
                .map_err(|error| WorldError::Moto {
                    operation: "DescribeRules",
                    detail: format!(
                        "{listener_arn}: {}",
                        aws_sdk_elasticloadbalancingv2::error::DisplayErrorContext(&error)
                    ),
                })?;
            rules.extend(page.rules().iter().map(Route::from_sdk));
            match page.next_marker() {
                Some(next) if !next.is_empty() => marker = Some(next.to_owned()),
                _ => break,
            }
        }
        rules.sort_by_key(|route| route.priority);
        let rules = Arc::new(rules);
        self.rules
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(
                listener_arn.to_owned(),
                CachedRules {
                    fetched_at: Instant::now(),
                    generation,
                    rules: Arc::clone(&rules),
                },
            );
        Ok(rules)
    }
}

impl Route {
    fn from_sdk(rule: &SdkRule) -> Self {
        let is_default = rule.is_default() == Some(true) || rule.priority() == Some("default");
        let priority = if is_default {
            u32::MAX
        } else {
            rule.priority()
                .and_then(|priority| priority.parse().ok())
                .unwrap_or(u32::MAX - 1)
        };
        let mut actions: Vec<&SdkAction> = rule.actions().iter().collect();
        actions.sort_by_key(|action| action.order().unwrap_or(i32::MAX));
        let action = actions
            .iter()
            .find_map(|action| RouteAction::from_sdk(action))
            .unwrap_or_else(|| RouteAction::Unsupported("no action".to_owned()));
        Self {
            priority,
            conditions: rule.conditions().iter().map(Condition::from_sdk).collect(),
            action,
        }
    }
}

impl RouteAction {
    /// The action, or `None` for one that does not end routing (authentication).
    fn from_sdk(action: &SdkAction) -> Option<Self> {
        match action.r#type() {
            Some(ActionTypeEnum::Forward) => {
                let tuples = action
                    .forward_config()
                    .map(|config| config.target_groups())
                    .unwrap_or_default();
                let groups: Vec<(String, u64)> = if tuples.is_empty() {
                    action
                        .target_group_arn()
                        .map(|arn| vec![(arn.to_owned(), 1)])
                        .unwrap_or_default()
                } else {
                    tuples
                        .iter()
                        .filter_map(|tuple| {
                            let weight = u64::try_from(tuple.weight().unwrap_or(1)).unwrap_or(0);
                            Some((tuple.target_group_arn()?.to_owned(), weight))
                        })
                        .collect()
                };
                Some(Self::Forward(groups))
            }
            Some(ActionTypeEnum::FixedResponse) => {
                let config = action.fixed_response_config();
                Some(Self::Fixed {
                    status: config
                        .and_then(|config| config.status_code())
                        .and_then(|code| code.parse().ok())
                        .unwrap_or(200),
                    content_type: config
                        .and_then(|config| config.content_type())
                        .map(str::to_owned),
                    body: config
                        .and_then(|config| config.message_body())
                        .unwrap_or_default()
                        .to_owned(),
                })
            }
            Some(ActionTypeEnum::AuthenticateCognito | ActionTypeEnum::AuthenticateOidc) => None,
            other => Some(Self::Unsupported(other.map_or_else(
                || "unknown".to_owned(),
                |kind| kind.as_str().to_owned(),
            ))),
        }
    }
}

impl Condition {
    fn from_sdk(condition: &RuleCondition) -> Self {
        let legacy = || condition.values().to_vec();
        if let Some(config) = condition.host_header_config() {
            return Self::Host(config.values().to_vec());
        }
        if let Some(config) = condition.path_pattern_config() {
            return Self::Path(config.values().to_vec());
        }
        if let Some(config) = condition.http_header_config() {
            return Self::Header {
                name: config.http_header_name().unwrap_or_default().to_owned(),
                values: config.values().to_vec(),
            };
        }
        if let Some(config) = condition.query_string_config() {
            return Self::Query(
                config
                    .values()
                    .iter()
                    .map(|pair| {
                        (
                            pair.key().map(str::to_owned),
                            pair.value().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect(),
            );
        }
        if let Some(config) = condition.http_request_method_config() {
            return Self::Method(config.values().to_vec());
        }
        match condition.field() {
            Some("host-header") => Self::Host(legacy()),
            Some("path-pattern") => Self::Path(legacy()),
            _ => Self::Unsupported,
        }
    }

    fn matches(&self, request: &RequestView<'_>) -> bool {
        match self {
            Self::Host(patterns) => patterns.iter().any(|pattern| {
                wildcard_match(
                    &pattern.to_ascii_lowercase(),
                    &request.host.to_ascii_lowercase(),
                )
            }),
            Self::Path(patterns) => patterns
                .iter()
                .any(|pattern| wildcard_match(pattern, request.path)),
            Self::Header { name, values } => request
                .headers
                .get_all(name.as_str())
                .iter()
                .filter_map(|value| value.to_str().ok())
                .any(|value| {
                    values.iter().any(|pattern| {
                        wildcard_match(&pattern.to_ascii_lowercase(), &value.to_ascii_lowercase())
                    })
                }),
            Self::Query(pairs) => pairs.iter().any(|(key, value)| {
                request.query.iter().any(|(have_key, have_value)| {
                    key.as_deref().is_none_or(|key| {
                        wildcard_match(&key.to_ascii_lowercase(), &have_key.to_ascii_lowercase())
                    }) && wildcard_match(
                        &value.to_ascii_lowercase(),
                        &have_value.to_ascii_lowercase(),
                    )
                })
            }),
            Self::Method(methods) => methods.iter().any(|method| method == request.method),
            Self::Unsupported => false,
        }
    }
}

/// ALB pattern matching: `*` is any run of characters, `?` exactly one.
fn wildcard_match(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    // Where the last `*` was, and the text position it was tried at.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((star_p, star_t)) = star {
            p = star_p + 1;
            t = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_like_an_alb() {
        assert!(wildcard_match("/api/*", "/api/orders/1"));
        assert!(wildcard_match("/api/*", "/api/"));
        assert!(!wildcard_match("/api/*", "/apix"));
        assert!(wildcard_match("*.example.com", "test.example.com"));
        assert!(wildcard_match("v?", "v2"));
        assert!(!wildcard_match("v?", "v10"));
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("a*b*c", "aXXbYYc"));
        assert!(!wildcard_match("a*b*c", "aXXbYY"));
    }

    fn view<'r>(
        headers: &'r http::HeaderMap,
        path: &'r str,
        query: &[(&str, &str)],
    ) -> RequestView<'r> {
        RequestView {
            host: "Web.Example.com",
            path,
            query: query
                .iter()
                .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
                .collect(),
            method: "GET",
            headers,
        }
    }

    #[test]
    fn conditions_match_host_path_header_query_and_method() {
        let mut headers = http::HeaderMap::new();
        headers.insert("x-canary", HeaderValue::from_static("True"));
        let request = view(&headers, "/api/v1", &[("version", "green")]);
        assert!(Condition::Host(vec!["*.example.com".into()]).matches(&request));
        assert!(!Condition::Host(vec!["other.com".into()]).matches(&request));
        assert!(Condition::Path(vec!["/api/*".into()]).matches(&request));
        assert!(
            !Condition::Path(vec!["/API/*".into()]).matches(&request),
            "paths are case-sensitive"
        );
        let header = |value: &str| Condition::Header {
            name: "X-Canary".into(),
            values: vec![value.into()],
        };
        assert!(header("true").matches(&request));
        assert!(!header("false").matches(&request));
        assert!(Condition::Query(vec![(Some("version".into()), "GREEN".into())]).matches(&request));
        assert!(Condition::Query(vec![(None, "green".into())]).matches(&request));
        assert!(!Condition::Query(vec![(Some("v".into()), "green".into())]).matches(&request));
        assert!(Condition::Method(vec!["GET".into()]).matches(&request));
        assert!(!Condition::Unsupported.matches(&request));
    }

    #[test]
    fn sdk_rules_become_routes_with_the_default_last() {
        use aws_sdk_elasticloadbalancingv2::types::{
            ForwardActionConfig, PathPatternConditionConfig, TargetGroupTuple,
        };
        let weighted = SdkRule::builder()
            .priority("10")
            .conditions(
                RuleCondition::builder()
                    .field("path-pattern")
                    .path_pattern_config(
                        PathPatternConditionConfig::builder()
                            .values("/api/*")
                            .build(),
                    )
                    .build(),
            )
            .actions(
                SdkAction::builder()
                    .r#type(ActionTypeEnum::Forward)
                    .forward_config(
                        ForwardActionConfig::builder()
                            .target_groups(
                                TargetGroupTuple::builder()
                                    .target_group_arn("blue")
                                    .weight(80)
                                    .build(),
                            )
                            .target_groups(
                                TargetGroupTuple::builder()
                                    .target_group_arn("green")
                                    .weight(20)
                                    .build(),
                            )
                            .build(),
                    )
                    .build(),
            )
            .build();
        let default = SdkRule::builder()
            .priority("default")
            .is_default(true)
            .actions(
                SdkAction::builder()
                    .r#type(ActionTypeEnum::Forward)
                    .target_group_arn("blue")
                    .build(),
            )
            .build();
        let mut routes = [Route::from_sdk(&default), Route::from_sdk(&weighted)];
        routes.sort_by_key(|route| route.priority);
        assert_eq!(routes[0].priority, 10);
        assert_eq!(
            routes[0].conditions,
            vec![Condition::Path(vec!["/api/*".into()])]
        );
        assert_eq!(
            routes[0].action,
            RouteAction::Forward(vec![("blue".into(), 80), ("green".into(), 20)])
        );
        assert_eq!(
            routes[1].action,
            RouteAction::Forward(vec![("blue".into(), 1)])
        );
    }
}
