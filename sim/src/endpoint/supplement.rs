//! The extension point: answer a call locally instead of forwarding it to moto.
//!
//! moto lacks what greenlight reads at some stages (ECS `DescribeServiceDeployments` and
//! `DescribeServiceRevisions`, CodeDeploy deployment targets, settable target health, ALB metrics),
//! and rehearsals need faults (throttling, access denied, latency). Each of those is a [`Supplement`]:
//! the endpoint offers every call to its supplements in order, the first that answers wins, and a call
//! nobody answers goes to moto. A supplement can also call moto itself through the [`Upstream`] (to
//! read the state it builds on, or to edit moto's answer).

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, StatusCode};
use http_body_util::Full;

use crate::endpoint::call::Call;
use crate::error::SimError;
use crate::http_client::{LoopbackClient, exchange, loopback_client};

/// The future a supplement returns: `Some(reply)` to answer, `None` to pass the call on.
pub type SupplementFuture<'a> = Pin<Box<dyn Future<Output = Option<Reply>> + Send + 'a>>;

/// Something that answers some calls locally instead of moto.
///
/// Answers are in moto's dialect for the call's [`Call::protocol`]: JSON for JSON services and for
/// CloudWatch (the endpoint turns that into CBOR), XML for Query services.
pub trait Supplement: Send + Sync {
    /// Answers `call`, or returns `None` to let the next supplement (and finally moto) have it.
    fn answer<'a>(&'a self, call: &'a Call, upstream: &'a Upstream) -> SupplementFuture<'a>;
}

/// A whole HTTP answer to a call.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The HTTP status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl Reply {
    /// An AWS JSON answer.
    pub fn json(status: StatusCode, body: &serde_json::Value) -> Self {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-amz-json-1.1"),
        );
        Self {
            status,
            headers,
            body: Bytes::from(body.to_string()),
        }
    }

    /// An AWS JSON error: `{"__type": code, "message": message}`, with the code in
    /// `x-amzn-errortype` too, as AWS sends it.
    pub fn json_error(status: StatusCode, code: &str, message: &str) -> Self {
        let mut reply = Self::json(
            status,
            &serde_json::json!({ "__type": code, "message": message }),
        );
        if let Ok(value) = HeaderValue::from_str(code) {
            reply.headers.insert("x-amzn-errortype", value);
        }
        reply
    }

    /// No answer at all: the endpoint closes the connection without a response, as a network
    /// failure or a crashed front end would. The SDK sees an I/O error, not an AWS error.
    pub fn drop_connection() -> Self {
        let mut headers = HeaderMap::new();
        headers.insert(DROP_CONNECTION, HeaderValue::from_static("1"));
        Self {
            status: StatusCode::BAD_GATEWAY,
            headers,
            body: Bytes::new(),
        }
    }

    /// Whether this reply is [`Reply::drop_connection`].
    pub fn is_drop_connection(&self) -> bool {
        self.headers.contains_key(DROP_CONNECTION)
    }
}

/// The internal marker of [`Reply::drop_connection`]; never sent to a client.
const DROP_CONNECTION: &str = "x-greenlight-sim-drop-connection";

/// moto, as seen from a supplement or the endpoint.
#[derive(Debug, Clone)]
pub struct Upstream {
    base_url: String,
    client: LoopbackClient,
}

impl Upstream {
    pub(crate) fn new(base_url: &str) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            client: loopback_client(),
        }
    }

    /// moto's base URL.
    pub fn url(&self) -> &str {
        &self.base_url
    }

    /// Sends the call to moto as it is: method, path, query, headers and body.
    pub async fn forward(&self, call: &Call) -> Result<Reply, SimError> {
        let path_and_query = call
            .uri
            .path_and_query()
            .map_or("/", http::uri::PathAndQuery::as_str);
        let url = format!("{}{path_and_query}", self.base_url);
        let mut request = Request::builder()
            .method(call.method.clone())
            .uri(&url)
            .body(Full::new(call.body.clone()))
            .map_err(|error| SimError::Http {
                url: url.clone(),
                detail: error.to_string(),
            })?;
        let headers = request.headers_mut();
        for (name, value) in &call.headers {
            if !is_hop_by_hop(name) {
                headers.append(name, value.clone());
            }
        }
        let answer = exchange(&self.client, request).await?;
        let mut headers = answer.headers;
        drop_hop_by_hop(&mut headers);
        Ok(Reply {
            status: answer.status,
            headers,
            body: answer.body,
        })
    }
}

/// Headers that describe one connection, not the message: a proxy must not pass them on. The body
/// is passed whole, so its framing (`transfer-encoding`) is the proxy's to choose too.
pub(crate) fn is_hop_by_hop(name: &http::HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
    )
}

/// Drops every hop-by-hop header.
pub(crate) fn drop_hop_by_hop(headers: &mut HeaderMap) {
    let names: Vec<http::HeaderName> = headers
        .keys()
        .filter(|name| is_hop_by_hop(name))
        .cloned()
        .collect();
    for name in names {
        headers.remove(name);
    }
}
