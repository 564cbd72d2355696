//! A sample application whose behaviour a scenario sets: the service a rehearsal deploys.
//!
//! Each revision of the service is a [`SampleApp`] on its own loopback port; the scenario decides
//! how it answers (a mix of status codes, a latency profile with a slow tail, a version) and can
//! change that while it serves, to make a revision go bad mid-deployment. Its randomness comes from
//! a seeded generator, so the same scenario serves the same sequence of answers.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

use crate::world::WorldError;
use crate::world::prng::Prng;

/// How long a sample app takes to answer.
#[derive(Debug, Clone, PartialEq)]
pub struct LatencyProfile {
    /// Every answer takes at least this long.
    pub base: Duration,
    /// Plus a uniform extra from zero up to this.
    pub jitter: Duration,
    /// The share of answers (0 to 1) that take `slow` more: the tail a p99 sees.
    pub slow_fraction: f64,
    /// The extra time of a slow answer.
    pub slow: Duration,
}

impl Default for LatencyProfile {
    /// About 2 ms, no slow tail.
    fn default() -> Self {
        Self {
            base: Duration::from_millis(2),
            jitter: Duration::from_millis(1),
            slow_fraction: 0.0,
            slow: Duration::ZERO,
        }
    }
}

/// How a sample app answers.
#[derive(Debug, Clone, PartialEq)]
pub struct AppBehaviour {
    /// Status codes and their weights: `[(200, 98), (500, 2)]` answers 2 % errors.
    pub status_mix: Vec<(u16, u32)>,
    /// Status mixes for exact paths (no query), in place of `status_mix`: a service that serves
    /// `/healthz` but answers 404 at `/`.
    pub paths: BTreeMap<String, Vec<(u16, u32)>>,
    /// Paths (exact, no query) that answer 401 unless the request carries every header listed
    /// for it with exactly that value: an endpoint behind an API key.
    pub protected_paths: BTreeMap<String, BTreeMap<String, String>>,
    /// How long answers take.
    pub latency: LatencyProfile,
    /// The body; empty means `{"status":"ok"|"error","version":<version>}`.
    pub body: String,
    /// The version it reports, in the `x-app-version` header and the default body.
    pub version: String,
    /// The seed of its choices.
    pub seed: u64,
}

impl Default for AppBehaviour {
    /// Always 200, about 2 ms, version `v1`.
    fn default() -> Self {
        Self {
            status_mix: vec![(200, 1)],
            paths: BTreeMap::new(),
            protected_paths: BTreeMap::new(),
            latency: LatencyProfile::default(),
            body: String::new(),
            version: "v1".to_owned(),
            seed: 1,
        }
    }
}

impl AppBehaviour {
    /// The default behaviour reporting `version`.
    pub fn version(version: &str) -> Self {
        Self {
            version: version.to_owned(),
            ..Self::default()
        }
    }

    fn validate(&self) -> Result<(), WorldError> {
        let invalid = |detail: String| WorldError::InvalidInput {
            what: "app behaviour",
            detail,
        };
        let mixes = std::iter::once(("status_mix".to_owned(), &self.status_mix)).chain(
            self.paths
                .iter()
                .map(|(path, mix)| (format!("paths[{path:?}]"), mix)),
        );
        for (field, mix) in mixes {
            if mix.iter().all(|(_, weight)| *weight == 0) {
                return Err(invalid(format!(
                    "`{field}` has no positive weight: give at least one (status, weight) with \
                     weight > 0, e.g. [(200, 1)]"
                )));
            }
            if let Some((status, _)) = mix
                .iter()
                .find(|(status, _)| StatusCode::from_u16(*status).is_err() || *status < 200)
            {
                return Err(invalid(format!(
                    "`{field}` has status {status}: use a final HTTP status from 200 to 599"
                )));
            }
        }
        if !(0.0..=1.0).contains(&self.latency.slow_fraction) {
            return Err(invalid(format!(
                "`latency.slow_fraction` is {}: it must be between 0 and 1",
                self.latency.slow_fraction
            )));
        }
        HeaderValue::from_str(&self.version).map_err(|_| {
            invalid(format!(
                "`version` {:?} cannot be sent as a header: use visible ASCII",
                self.version
            ))
        })?;
        Ok(())
    }
}

/// A running sample app on 127.0.0.1; it stops serving when dropped.
#[derive(Debug)]
pub struct SampleApp {
    address: SocketAddr,
    state: Arc<AppState>,
    server: JoinHandle<()>,
}

#[derive(Debug)]
struct AppState {
    behaviour: Mutex<(AppBehaviour, Prng)>,
    served: AtomicU64,
}

/// One answer, decided before it is sent.
struct Answer {
    status: StatusCode,
    delay: Duration,
    body: String,
    version: String,
}

impl AppState {
    fn decide(&self, path: &str, headers: &http::HeaderMap) -> Answer {
        let mut guard = self
            .behaviour
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let (behaviour, prng) = &mut *guard;
        let refused = behaviour.protected_paths.get(path).is_some_and(|required| {
            required.iter().any(|(name, value)| {
                headers
                    .get(name.as_str())
                    .and_then(|sent| sent.to_str().ok())
                    != Some(value)
            })
        });
        let unauthorized = [(401, 1)];
        let mix = if refused {
            &unauthorized[..]
        } else {
            behaviour
                .paths
                .get(path)
                .unwrap_or(&behaviour.status_mix)
                .as_slice()
        };
        let weights: Vec<u64> = mix.iter().map(|(_, weight)| u64::from(*weight)).collect();
        let status = prng
            .pick_weighted(&weights)
            .and_then(|index| mix.get(index))
            .and_then(|(status, _)| StatusCode::from_u16(*status).ok())
            .unwrap_or(StatusCode::OK);
        let latency = &behaviour.latency;
        let mut delay = latency.base + latency.jitter.mul_f64(prng.next_f64());
        if latency.slow_fraction > 0.0 && prng.next_f64() < latency.slow_fraction {
            delay += latency.slow;
        }
        let body = if behaviour.body.is_empty() {
            let outcome = if status.as_u16() < 400 { "ok" } else { "error" };
            serde_json::json!({ "status": outcome, "version": behaviour.version }).to_string()
        } else {
            behaviour.body.clone()
        };
        Answer {
            status,
            delay,
            body,
            version: behaviour.version.clone(),
        }
    }
}

impl SampleApp {
    /// Starts serving `behaviour` on an ephemeral loopback port, on the current tokio runtime.
    pub async fn start(behaviour: AppBehaviour) -> Result<Self, WorldError> {
        behaviour.validate()?;
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(WorldError::Bind)?;
        let address = listener.local_addr().map_err(WorldError::Bind)?;
        let prng = Prng::new(behaviour.seed);
        let state = Arc::new(AppState {
            behaviour: Mutex::new((behaviour, prng)),
            served: AtomicU64::new(0),
        });
        let server = tokio::spawn(serve(listener, Arc::clone(&state)));
        Ok(Self {
            address,
            state,
            server,
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.address
    }

    /// Its base URL, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Changes how it answers from the next request on (its generator restarts from the new seed).
    pub fn set_behaviour(&self, behaviour: AppBehaviour) -> Result<(), WorldError> {
        behaviour.validate()?;
        let prng = Prng::new(behaviour.seed);
        *self
            .state
            .behaviour
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = (behaviour, prng);
        Ok(())
    }

    /// How many requests it has answered.
    pub fn requests_served(&self) -> u64 {
        self.state.served.load(Ordering::Relaxed)
    }
}

impl Drop for SampleApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn serve(listener: TcpListener, state: Arc<AppState>) {
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let state = Arc::clone(&state);
        connections.spawn(async move {
            let service = service_fn(move |request| {
                let state = Arc::clone(&state);
                async move { Ok::<_, std::convert::Infallible>(answer(&state, request).await) }
            });
            if let Err(error) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(%error, "sample app connection ended with an error");
            }
        });
    }
}

async fn answer(state: &AppState, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let answer = state.decide(request.uri().path(), request.headers());
    if !answer.delay.is_zero() {
        tokio::time::sleep(answer.delay).await;
    }
    state.served.fetch_add(1, Ordering::Relaxed);
    let mut response = Response::new(Full::new(Bytes::from(answer.body)));
    *response.status_mut() = answer.status;
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(version) = HeaderValue::from_str(&answer.version) {
        headers.insert("x-app-version", version);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_behaviours_name_the_field() {
        let no_weight = AppBehaviour {
            status_mix: vec![(200, 0)],
            ..AppBehaviour::default()
        };
        assert!(
            no_weight
                .validate()
                .expect_err("invalid")
                .to_string()
                .contains("`status_mix`")
        );
        let bad_status = AppBehaviour {
            status_mix: vec![(99, 1)],
            ..AppBehaviour::default()
        };
        assert!(
            bad_status
                .validate()
                .expect_err("invalid")
                .to_string()
                .contains("status 99")
        );
        let mut bad_tail = AppBehaviour::default();
        bad_tail.latency.slow_fraction = 2.0;
        assert!(
            bad_tail
                .validate()
                .expect_err("invalid")
                .to_string()
                .contains("slow_fraction")
        );
    }

    #[test]
    fn a_protected_path_answers_401_unless_every_header_is_sent_with_its_value() {
        let behaviour = AppBehaviour {
            protected_paths: BTreeMap::from([(
                "/private".to_owned(),
                BTreeMap::from([("x-api-key".to_owned(), "k1".to_owned())]),
            )]),
            ..AppBehaviour::version("v2")
        };
        let state = AppState {
            behaviour: Mutex::new((behaviour.clone(), Prng::new(behaviour.seed))),
            served: AtomicU64::new(0),
        };
        let with_key = |value: &str| {
            let mut headers = http::HeaderMap::new();
            headers.insert("X-Api-Key", HeaderValue::from_str(value).expect("ascii"));
            headers
        };
        let status = |path: &str, headers: &http::HeaderMap| state.decide(path, headers).status;
        assert_eq!(status("/private", &with_key("k1")), StatusCode::OK);
        assert_eq!(
            status("/private", &with_key("k2")),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            status("/private", &http::HeaderMap::new()),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            status("/", &http::HeaderMap::new()),
            StatusCode::OK,
            "only that path"
        );
    }

    #[test]
    fn answers_follow_the_mix_and_the_slow_tail_deterministically() {
        let behaviour = AppBehaviour {
            status_mix: vec![(200, 90), (503, 10)],
            latency: LatencyProfile {
                base: Duration::from_millis(2),
                jitter: Duration::ZERO,
                slow_fraction: 0.05,
                slow: Duration::from_millis(300),
            },
            ..AppBehaviour::version("v2")
        };
        let run = || {
            let state = AppState {
                behaviour: Mutex::new((behaviour.clone(), Prng::new(behaviour.seed))),
                served: AtomicU64::new(0),
            };
            (0..1000)
                .map(|_| {
                    let answer = state.decide("/", &http::HeaderMap::new());
                    (answer.status.as_u16(), answer.delay)
                })
                .collect::<Vec<_>>()
        };
        let answers = run();
        assert_eq!(answers, run(), "same seed, same answers");
        let errors = answers.iter().filter(|(status, _)| *status == 503).count();
        let slow = answers
            .iter()
            .filter(|(_, delay)| *delay == Duration::from_millis(302))
            .count();
        assert!((60..140).contains(&errors), "{errors}");
        assert!((25..80).contains(&slow), "{slow}");
    }

    #[test]
    fn a_path_of_its_own_answers_its_own_mix_and_every_mix_is_validated() {
        let behaviour = AppBehaviour {
            status_mix: vec![(404, 1)],
            paths: BTreeMap::from([("/healthz".to_owned(), vec![(200, 1)])]),
            ..AppBehaviour::default()
        };
        let state = AppState {
            behaviour: Mutex::new((behaviour.clone(), Prng::new(behaviour.seed))),
            served: AtomicU64::new(0),
        };
        assert_eq!(
            state.decide("/healthz", &http::HeaderMap::new()).status,
            StatusCode::OK
        );
        assert_eq!(
            state.decide("/", &http::HeaderMap::new()).status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            state
                .decide("/healthz/deep", &http::HeaderMap::new())
                .status,
            StatusCode::NOT_FOUND
        );
        let broken = AppBehaviour {
            paths: BTreeMap::from([("/healthz".to_owned(), vec![(200, 0)])]),
            ..AppBehaviour::default()
        };
        let message = broken.validate().expect_err("no weight").to_string();
        assert!(message.contains("paths[\"/healthz\"]"), "{message}");
    }
}
