//! A Service Connect client in the rehearsal's namespace: where test traffic to a Service
//! Connect service can really be sent from.
//!
//! With Service Connect, ECS routes blue/green traffic in the *client's* proxy (the ECS developer
//! guide, "Service Connect resources for Amazon ECS blue/green deployments"): every client task in
//! the namespace gets a production route and a test route, and a request carrying the test header
//! (`x-amzn-ecs-blue-green-test` by default) takes the test route. A Lambda function is not such
//! a client, so greenlight can only reach green's test route through a client the team names (an
//! `http` check with `target: url`). [`ServiceConnectClient`] is that client here: a loopback
//! HTTP server standing for a client task's proxy. Requests with the test header go to green once
//! ECS has shifted test traffic; the others follow the production weights.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use http::{Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::endpoint::is_hop_by_hop;
use crate::http_client::{LoopbackClient, loopback_client};
use crate::world::WorldError;
use crate::world::prng::Prng;

/// The test header Service Connect recognizes when a client alias names none.
pub const DEFAULT_TEST_HEADER: &str = "x-amzn-ecs-blue-green-test";

#[derive(Default)]
struct Routes {
    blue: Option<SocketAddr>,
    green: Option<SocketAddr>,
    /// ECS has moved test traffic to green.
    test_to_green: bool,
    /// Green's share of production traffic, percent.
    production_green: f64,
    prng: Option<Prng>,
}

struct Shared {
    header: String,
    routes: Mutex<Routes>,
    client: LoopbackClient,
}

/// A running Service Connect client proxy on 127.0.0.1; it stops when dropped.
pub struct ServiceConnectClient {
    url: String,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

impl std::fmt::Debug for ServiceConnectClient {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ServiceConnectClient")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Drop for ServiceConnectClient {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl ServiceConnectClient {
    /// Starts a client whose proxy routes requests carrying `test_header` over the test route.
    pub async fn start(test_header: &str) -> Result<Self, WorldError> {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(WorldError::Bind)?;
        let address = listener.local_addr().map_err(WorldError::Bind)?;
        let shared = Arc::new(Shared {
            header: test_header.to_ascii_lowercase(),
            routes: Mutex::new(Routes {
                prng: Some(Prng::new(7)),
                ..Routes::default()
            }),
            client: loopback_client(),
        });
        let server = tokio::spawn(serve(listener, Arc::clone(&shared)));
        Ok(ServiceConnectClient {
            url: format!("http://{address}"),
            shared,
            server,
        })
    }

    /// The URL a team names in its `http` check (`target: url`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Where blue's and green's tasks listen.
    pub fn set_backends(&self, blue: SocketAddr, green: SocketAddr) {
        let mut routes = self.routes();
        routes.blue = Some(blue);
        routes.green = Some(green);
    }

    /// ECS moved test traffic: to green (`true`) or back to blue.
    pub fn shift_test(&self, to_green: bool) {
        self.routes().test_to_green = to_green;
    }

    /// ECS moved production traffic: green's share, percent.
    pub fn shift_production(&self, green_percent: f64) {
        self.routes().production_green = green_percent.clamp(0.0, 100.0);
    }

    fn routes(&self) -> std::sync::MutexGuard<'_, Routes> {
        self.shared
            .routes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let shared = Arc::clone(&shared);
                async move { Ok::<_, std::convert::Infallible>(route(&shared, request).await) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Picks the route as a client's proxy does and forwards the request.
async fn route(shared: &Shared, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let is_test = request.headers().contains_key(shared.header.as_str());
    let backend = {
        let mut routes = shared.routes.lock().unwrap_or_else(PoisonError::into_inner);
        let to_green = if is_test {
            routes.test_to_green
        } else {
            let share = routes.production_green;
            let draw = routes.prng.as_mut().map_or(1.0, Prng::next_f64) * 100.0;
            draw < share
        };
        if to_green { routes.green } else { routes.blue }
    };
    let Some(backend) = backend else {
        return plain(StatusCode::SERVICE_UNAVAILABLE, "no upstream");
    };
    let (parts, body) = request.into_parts();
    let Ok(body) = body.collect().await.map(|body| body.to_bytes()) else {
        return plain(StatusCode::BAD_REQUEST, "unreadable request body");
    };
    let path = parts.uri.path_and_query().map_or("/", |path| path.as_str());
    let Ok(uri) = format!("http://{backend}{path}").parse::<Uri>() else {
        return plain(StatusCode::BAD_REQUEST, "bad path");
    };
    let mut forwarded = Request::new(Full::new(body));
    *forwarded.method_mut() = parts.method;
    *forwarded.uri_mut() = uri;
    for (name, value) in &parts.headers {
        if !is_hop_by_hop(name) && name != http::header::CONTENT_LENGTH {
            forwarded.headers_mut().append(name, value.clone());
        }
    }
    match shared.client.request(forwarded).await {
        Ok(response) => {
            let (mut parts, body) = response.into_parts();
            let body = body
                .collect()
                .await
                .map(|body| body.to_bytes())
                .unwrap_or_default();
            parts.headers.remove(http::header::CONTENT_LENGTH);
            parts.headers.remove(http::header::TRANSFER_ENCODING);
            Response::from_parts(parts, Full::new(body))
        }
        // Envoy's answer when the upstream cannot be reached.
        Err(_) => plain(StatusCode::SERVICE_UNAVAILABLE, "upstream connect error"),
    }
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::{AppBehaviour, SampleApp};

    async fn get(url: &str, test: bool) -> String {
        let client = loopback_client();
        let mut request = Request::new(Full::new(Bytes::new()));
        *request.uri_mut() = format!("{url}/").parse().expect("uri");
        if test {
            request
                .headers_mut()
                .insert(DEFAULT_TEST_HEADER, "true".parse().expect("value"));
        }
        let answer = crate::http_client::exchange(&client, request)
            .await
            .expect("answer");
        String::from_utf8_lossy(&answer.body).into_owned()
    }

    #[tokio::test]
    async fn test_requests_take_the_test_route_and_the_rest_follow_production() {
        let blue = SampleApp::start(AppBehaviour::version("blue"))
            .await
            .expect("blue");
        let green = SampleApp::start(AppBehaviour::version("green"))
            .await
            .expect("green");
        let client = ServiceConnectClient::start(DEFAULT_TEST_HEADER)
            .await
            .expect("client");
        client.set_backends(blue.addr(), green.addr());
        assert!(get(client.url(), true).await.contains("blue"));
        client.shift_test(true);
        assert!(get(client.url(), true).await.contains("green"));
        assert!(get(client.url(), false).await.contains("blue"));
        client.shift_production(100.0);
        assert!(get(client.url(), false).await.contains("green"));
    }
}
