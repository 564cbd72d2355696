//! The local AWS endpoint: the one URL functions and tests reach through `AWS_ENDPOINT_URL`.
//!
//! It stands in front of moto and forwards every request verbatim (method, path, query, headers with
//! the SigV4 `authorization`, body), except what moto cannot take:
//! - CloudWatch's Smithy RPC v2 CBOR, which the current `aws-sdk-cloudwatch` speaks and moto does not,
//!   is translated to JSON 1.0 and back (module `cbor`);
//! - calls a [`Supplement`] answers locally (what moto lacks, and injected faults).
//!
//! It also counts calls per service and operation, so tests and benchmarks can prove batching.

mod call;
mod cbor;
mod supplement;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

pub(crate) use call::credential_scope;
pub use call::{Call, Protocol};
pub(crate) use supplement::is_hop_by_hop;
pub use supplement::{Reply, Supplement, SupplementFuture, Upstream};

use crate::error::SimError;
use cbor::CborService;

/// A running local AWS endpoint on 127.0.0.1; it stops serving when dropped.
#[derive(Debug)]
pub struct AwsEndpoint {
    endpoint_url: String,
    calls: Arc<CallCounter>,
    server: JoinHandle<()>,
}

impl AwsEndpoint {
    /// Starts an endpoint that forwards to moto at `moto_url`, with no supplements, on an ephemeral
    /// port. It serves on the current tokio runtime.
    pub async fn start(moto_url: &str) -> Result<Self, SimError> {
        Self::builder(moto_url).start().await
    }

    /// Starts building an endpoint that forwards to moto at `moto_url`.
    pub fn builder(moto_url: &str) -> AwsEndpointBuilder {
        AwsEndpointBuilder {
            upstream: Upstream::new(moto_url),
            supplements: Vec::new(),
        }
    }

    /// The URL to give the SDK (`endpoint_url`, or `AWS_ENDPOINT_URL`), e.g. `http://127.0.0.1:40123`.
    pub fn endpoint_url(&self) -> &str {
        &self.endpoint_url
    }

    /// How many calls of `operation` on `service` (its IAM prefix, e.g. `cloudwatch`,
    /// `elasticloadbalancing`) reached the endpoint, whether moto or a supplement answered them.
    pub fn calls(&self, service: &str, operation: &str) -> usize {
        self.calls.count(service, operation)
    }

    /// Every call count so far, by service and operation.
    pub fn call_counts(&self) -> BTreeMap<(String, String), usize> {
        self.calls.snapshot()
    }

    /// Forgets the counts, to measure one phase of a test on its own.
    pub fn reset_calls(&self) {
        self.calls.clear();
    }
}

impl Drop for AwsEndpoint {
    fn drop(&mut self) {
        // Aborting the accept loop drops its set of connections, which aborts them too.
        self.server.abort();
    }
}

/// Configures an [`AwsEndpoint`] before it starts.
pub struct AwsEndpointBuilder {
    upstream: Upstream,
    supplements: Vec<Arc<dyn Supplement>>,
}

impl AwsEndpointBuilder {
    /// Adds a supplement; supplements are asked in the order they were added.
    #[must_use]
    pub fn supplement(mut self, supplement: impl Supplement + 'static) -> Self {
        self.supplements.push(Arc::new(supplement));
        self
    }

    /// Adds supplements already shared (a [`crate::world::World`]'s), after those added before,
    /// in their order.
    #[must_use]
    pub fn supplements(mut self, supplements: Vec<Arc<dyn Supplement>>) -> Self {
        self.supplements.extend(supplements);
        self
    }

    /// Binds an ephemeral port on 127.0.0.1 and serves on the current tokio runtime.
    pub async fn start(self) -> Result<AwsEndpoint, SimError> {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(SimError::Bind)?;
        let address = listener.local_addr().map_err(SimError::Bind)?;
        let calls = Arc::new(CallCounter::default());
        let router = Arc::new(Router {
            upstream: self.upstream,
            supplements: self.supplements,
            calls: Arc::clone(&calls),
        });
        let server = tokio::spawn(serve(listener, router));
        Ok(AwsEndpoint {
            endpoint_url: url_of(address),
            calls,
            server,
        })
    }
}

/// A supplement asked for the connection to be dropped ([`Reply::drop_connection`]).
#[derive(Debug)]
struct ConnectionDropped;

impl std::fmt::Display for ConnectionDropped {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("connection dropped on purpose")
    }
}

impl std::error::Error for ConnectionDropped {}

fn url_of(address: SocketAddr) -> String {
    format!("http://{address}")
}

/// Where each call goes: a supplement, or moto.
struct Router {
    upstream: Upstream,
    supplements: Vec<Arc<dyn Supplement>>,
    calls: Arc<CallCounter>,
}

async fn serve(listener: TcpListener, router: Arc<Router>) {
    let mut connections = JoinSet::new();
    loop {
        // Reap finished connections so the set does not grow without bound.
        while connections.try_join_next().is_some() {}
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(%error, "local AWS endpoint could not accept a connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let router = Arc::clone(&router);
        connections.spawn(async move {
            let service = service_fn(move |request| {
                let router = Arc::clone(&router);
                async move { router.handle(request).await }
            });
            if let Err(error) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(%error, "local AWS endpoint connection ended with an error");
            }
        });
    }
}

impl Router {
    /// Answers one request; an `Err` makes hyper close the connection without a response.
    async fn handle(
        &self,
        request: Request<Incoming>,
    ) -> Result<Response<Full<Bytes>>, ConnectionDropped> {
        let (parts, body) = request.into_parts();
        let body = match body.collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(error) => {
                return Ok(plain_response(
                    StatusCode::BAD_REQUEST,
                    format!("could not read the request body: {error}"),
                ));
            }
        };
        let is_head = parts.method == Method::HEAD;
        let call = Call::identify(parts.method, parts.uri, parts.headers, body);
        self.calls.record(&call.service, &call.operation);
        let cbor_service = (call.protocol == Protocol::RpcV2Cbor && call.method == Method::POST)
            .then(|| call::rpc_v2_route(call.uri.path()))
            .flatten()
            .and_then(|(shape, _)| cbor::service(shape));
        let reply = match cbor_service {
            Some(service) => self.handle_cbor(&call, service).await,
            None => self.dispatch(&call).await,
        };
        tracing::debug!(
            service = %call.service,
            operation = %call.operation,
            status = reply.status.as_u16(),
            "local AWS call"
        );
        if reply.is_drop_connection() {
            return Err(ConnectionDropped);
        }
        Ok(into_response(reply, is_head))
    }

    /// Offers the call to each supplement in turn, then to moto.
    async fn dispatch(&self, call: &Call) -> Reply {
        for supplement in &self.supplements {
            if let Some(reply) = supplement.answer(call, &self.upstream).await {
                return reply;
            }
        }
        match self.upstream.forward(call).await {
            Ok(reply) => reply,
            Err(error) => Reply::json_error(
                StatusCode::BAD_GATEWAY,
                "InternalFailure",
                &format!("the local AWS endpoint could not reach moto: {error}"),
            ),
        }
    }

    /// Translates a CBOR call to JSON, dispatches it, and translates the answer back.
    async fn handle_cbor(&self, call: &Call, service: &CborService) -> Reply {
        let json_call = match json_call(call, service) {
            Ok(json_call) => json_call,
            Err(message) => {
                let mut headers = http::HeaderMap::new();
                cbor::response_headers(&mut headers);
                return Reply {
                    status: StatusCode::BAD_REQUEST,
                    headers,
                    body: Bytes::from(cbor::encode(&cbor::error_map(
                        "SerializationException",
                        &message,
                    ))),
                };
            }
        };
        let reply = self.dispatch(&json_call).await;
        if reply.is_drop_connection() {
            return reply;
        }
        let body = service.response_to_cbor(reply.status, &reply.headers, &reply.body);
        let mut headers = reply.headers;
        headers.remove(http::header::CONTENT_LENGTH);
        cbor::response_headers(&mut headers);
        Reply {
            status: reply.status,
            headers,
            body: Bytes::from(body),
        }
    }
}

/// The JSON 1.0 call moto understands in place of a CBOR one.
fn json_call(call: &Call, service: &CborService) -> Result<Call, String> {
    let body = service.request_to_json(&call.body)?;
    let target = format!("{}.{}", service.shape, call.operation);
    let mut headers = call.headers.clone();
    headers.remove("smithy-protocol");
    headers.remove(http::header::ACCEPT);
    headers.remove(http::header::CONTENT_LENGTH);
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(service.json_content_type),
    );
    headers.insert(
        "x-amz-target",
        HeaderValue::from_str(&target).map_err(|error| error.to_string())?,
    );
    Ok(Call {
        service: call.service.clone(),
        operation: call.operation.clone(),
        protocol: Protocol::AwsJson,
        method: Method::POST,
        uri: Uri::from_static("/"),
        headers,
        body: Bytes::from(body),
    })
}

fn into_response(reply: Reply, is_head: bool) -> Response<Full<Bytes>> {
    let mut headers = reply.headers;
    supplement::drop_hop_by_hop(&mut headers);
    // hyper sets the length of the body it sends; a HEAD answer has no body but keeps the length
    // of the one it describes.
    if !is_head {
        headers.remove(http::header::CONTENT_LENGTH);
    }
    let mut response = Response::new(Full::new(reply.body));
    *response.status_mut() = reply.status;
    *response.headers_mut() = headers;
    response
}

fn plain_response(status: StatusCode, message: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(message)));
    *response.status_mut() = status;
    response
}

/// Calls per (service, operation).
#[derive(Debug, Default)]
struct CallCounter {
    counts: Mutex<BTreeMap<(String, String), usize>>,
}

impl CallCounter {
    fn record(&self, service: &str, operation: &str) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        *counts
            .entry((service.to_owned(), operation.to_owned()))
            .or_default() += 1;
    }

    fn count(&self, service: &str, operation: &str) -> usize {
        let counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        counts
            .get(&(service.to_owned(), operation.to_owned()))
            .copied()
            .unwrap_or_default()
    }

    fn snapshot(&self) -> BTreeMap<(String, String), usize> {
        self.counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn clear(&self) {
        self.counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}
