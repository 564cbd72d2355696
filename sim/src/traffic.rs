//! Background production traffic, so the load balancer has requests to report while a
//! deployment shifts traffic.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Uri};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::world::WorldError;

/// A request gets at most this long before it counts as an error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What a load generator sent and got back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadSummary {
    /// Requests that got an HTTP answer.
    pub requests: u64,
    /// Those answers by status.
    pub by_status: BTreeMap<u16, u64>,
    /// Requests that got no answer (refused, reset, timed out).
    pub errors: u64,
}

/// Sends GET requests to one URL at a steady rate until stopped.
#[derive(Debug)]
pub struct LoadGenerator {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    summary: Arc<Mutex<LoadSummary>>,
    in_flight: Arc<Semaphore>,
    concurrency: u32,
}

impl LoadGenerator {
    /// Starts sending `rate_per_second` requests a second to `url`, with at most `concurrency`
    /// in flight (when all are busy, the rate drops rather than the queue growing). Runs on the
    /// current tokio runtime.
    pub fn start(url: &str, rate_per_second: f64, concurrency: u32) -> Result<Self, WorldError> {
        let uri: Uri = url.parse().map_err(|error| WorldError::InvalidInput {
            what: "url",
            detail: format!("{url:?} is not a URL ({error}): use e.g. http://127.0.0.1:8080/"),
        })?;
        if uri.scheme_str() != Some("http") {
            return Err(WorldError::InvalidInput {
                what: "url",
                detail: format!(
                    "{url:?} is not an http:// URL; the local data plane speaks plain HTTP"
                ),
            });
        }
        if !(rate_per_second.is_finite() && rate_per_second > 0.0 && rate_per_second <= 100_000.0) {
            return Err(WorldError::InvalidInput {
                what: "rate_per_second",
                detail: format!("{rate_per_second} is not a rate from above 0 to 100000"),
            });
        }
        if concurrency == 0 {
            return Err(WorldError::InvalidInput {
                what: "concurrency",
                detail: "0 would send nothing: use at least 1".to_owned(),
            });
        }
        let (stop, stopped) = watch::channel(false);
        let summary = Arc::new(Mutex::new(LoadSummary::default()));
        let in_flight = Arc::new(Semaphore::new(concurrency as usize));
        let client: Client<HttpConnector, Empty<Bytes>> =
            Client::builder(TokioExecutor::new()).build_http();
        let task = tokio::spawn(run(
            uri,
            Duration::from_secs_f64(1.0 / rate_per_second),
            client,
            stopped,
            Arc::clone(&summary),
            Arc::clone(&in_flight),
        ));
        Ok(Self {
            stop,
            task,
            summary,
            in_flight,
            concurrency,
        })
    }

    /// What was sent so far.
    pub fn summary(&self) -> LoadSummary {
        self.summary
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Stops sending, waits for the requests in flight, and says what was sent.
    pub async fn stop(self) -> LoadSummary {
        // The receiver may be gone if the task ended; either way it stops.
        let _ = self.stop.send(true);
        if let Err(error) = self.task.await {
            tracing::warn!(%error, "load generator task ended abnormally");
        }
        // Every permit back means every request has finished.
        if let Ok(permits) = self.in_flight.acquire_many(self.concurrency).await {
            permits.forget();
        }
        self.summary
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

async fn run(
    uri: Uri,
    interval: Duration,
    client: Client<HttpConnector, Empty<Bytes>>,
    mut stopped: watch::Receiver<bool>,
    summary: Arc<Mutex<LoadSummary>>,
    in_flight: Arc<Semaphore>,
) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stopped.changed() => return,
            _ = ticks.tick() => {}
        }
        let permit = tokio::select! {
            _ = stopped.changed() => return,
            permit = Arc::clone(&in_flight).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => return,
            },
        };
        let client = client.clone();
        let uri = uri.clone();
        let summary = Arc::clone(&summary);
        tokio::spawn(async move {
            let status = send(&client, uri).await;
            let mut summary = summary.lock().unwrap_or_else(PoisonError::into_inner);
            match status {
                Some(status) => {
                    summary.requests += 1;
                    *summary.by_status.entry(status).or_default() += 1;
                }
                None => summary.errors += 1,
            }
            drop(permit);
        });
    }
}

/// One GET; the status, or `None` when no answer came.
async fn send(client: &Client<HttpConnector, Empty<Bytes>>, uri: Uri) -> Option<u16> {
    let request = Request::get(uri).body(Empty::new()).ok()?;
    let exchange = async {
        let response = client.request(request).await.ok()?;
        let status = response.status().as_u16();
        // Read the body so the connection can be reused.
        response.into_body().collect().await.ok()?;
        Some(status)
    };
    tokio::time::timeout(REQUEST_TIMEOUT, exchange)
        .await
        .ok()
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::{AppBehaviour, SampleApp};

    #[tokio::test]
    async fn bad_arguments_are_refused_with_the_argument_named() {
        let error = LoadGenerator::start("not a url", 10.0, 1).expect_err("bad url");
        assert!(error.to_string().contains("invalid url"), "{error}");
        let error = LoadGenerator::start("https://x/", 10.0, 1).expect_err("tls");
        assert!(error.to_string().contains("http://"), "{error}");
        let error = LoadGenerator::start("http://127.0.0.1:1/", 0.0, 1).expect_err("rate");
        assert!(error.to_string().contains("rate_per_second"), "{error}");
        let error = LoadGenerator::start("http://127.0.0.1:1/", 1.0, 0).expect_err("concurrency");
        assert!(error.to_string().contains("concurrency"), "{error}");
    }

    #[tokio::test]
    async fn it_sends_until_stopped_and_counts_by_status() {
        let app = SampleApp::start(AppBehaviour {
            status_mix: vec![(200, 1), (500, 1)],
            ..AppBehaviour::default()
        })
        .await
        .expect("app starts");
        let load = LoadGenerator::start(&format!("{}/", app.url()), 200.0, 4).expect("starts");
        // Hang guard only: wait until some requests were answered.
        for _ in 0..500 {
            if load.summary().requests >= 20 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let summary = load.stop().await;
        assert!(summary.requests >= 20, "{summary:?}");
        assert_eq!(summary.by_status.values().sum::<u64>(), summary.requests);
        assert!(summary.by_status.contains_key(&200) && summary.by_status.contains_key(&500));
        assert_eq!(summary.errors, 0);
        assert_eq!(app.requests_served(), summary.requests);
    }
}
