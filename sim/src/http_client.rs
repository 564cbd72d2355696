//! The one HTTP client stack the crate uses to talk to moto.

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::error::SimError;

/// A plain-HTTP client for loopback calls.
pub(crate) type LoopbackClient = Client<HttpConnector, Full<Bytes>>;

/// A whole HTTP answer, body collected.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

/// Builds a client that keeps no idle connections: moto closes each connection anyway, and an idle
/// connection would tie the client to the runtime that opened it, which a shared moto outlives.
pub(crate) fn loopback_client() -> LoopbackClient {
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(0)
        .build_http()
}

/// Sends one request and collects the whole answer.
pub(crate) async fn exchange(
    client: &LoopbackClient,
    request: Request<Full<Bytes>>,
) -> Result<Answer, SimError> {
    let url = request.uri().to_string();
    let response = client
        .request(request)
        .await
        .map_err(|error| SimError::Http {
            url: url.clone(),
            detail: error.to_string(),
        })?;
    let (parts, body) = response.into_parts();
    let body = body
        .collect()
        .await
        .map_err(|error| SimError::Http {
            url,
            detail: with_causes(&error),
        })?
        .to_bytes();
    Ok(Answer {
        status: parts.status,
        headers: parts.headers,
        body,
    })
}

/// An error and its causes on one line: the client's own message ("client error (Connect)") says
/// little without them.
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}
