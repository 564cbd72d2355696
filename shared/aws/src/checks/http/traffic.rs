//! Sends a run's requests with a bounded pool of workers and tallies what came back.
//!
//! `concurrency` workers (not a task per request) take request numbers from one counter until
//! the run's count is reached; with a `rate`, request `n` is not sent before `n / rate` seconds into
//! the run. Each worker keeps its own tally (counts, an HDR latency histogram, its first failures),
//! merged at the end, so the workers share nothing but the counter.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use futures::future::join_all;
use greenlight_core::checks::http::{
    AddressRefusal, FailedRequest, FailureKind, LatencySummary, MAX_FAILURE_SAMPLES,
    ResponseExpectations, TrafficSummary, redact, redacted_body_snippet,
};
use hdrhistogram::Histogram;
use reqwest::header::HeaderMap;
use tokio::time::Instant;

use super::client::refused_cause;

/// How much of a body no expectation reads is kept: enough for a failure's snippet and the
/// redaction of a secret that straddles it.
const UNREAD_BODY_KEPT: usize = 16 * 1024;

/// What to send.
pub(super) struct TrafficPlan {
    /// The URL.
    pub url: reqwest::Url,
    /// How the target was chosen, for evidence.
    pub via: String,
    /// The method.
    pub method: reqwest::Method,
    /// The headers of every request.
    pub headers: HeaderMap,
    /// How many requests.
    pub total: u64,
    /// How many workers.
    pub concurrency: u32,
    /// The most requests per second.
    pub rate: Option<f64>,
    /// How long one request may take.
    pub request_timeout: Duration,
    /// How much of a body to read.
    pub body_max_bytes: u64,
    /// The latency thresholds judged: the run counts the requests slower than each.
    pub latency_thresholds: Vec<Duration>,
}

/// What a run saw.
pub(super) struct TrafficRun {
    /// The tally, for the judge.
    pub summary: TrafficSummary,
    /// Set when a name resolved to a refused address during the run.
    pub refused: Option<(String, IpAddr, AddressRefusal)>,
}

/// One worker's tally.
struct Tally {
    sent: u64,
    by_status: BTreeMap<u16, u64>,
    failures: BTreeMap<FailureKind, u64>,
    latency: Histogram<u64>,
    first_failures: Vec<FailedRequest>,
    refused: Option<(String, IpAddr, AddressRefusal)>,
}

impl Tally {
    fn fail(&mut self, failure: FailedRequest) {
        *self.failures.entry(failure.kind).or_default() += 1;
        // Workers take numbers in increasing order, so a worker's first failures are its lowest.
        if self.first_failures.len() < MAX_FAILURE_SAMPLES {
            self.first_failures.push(failure);
        }
    }

    fn time(&mut self, elapsed: Duration) {
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.latency.saturating_record(micros.max(1));
    }
}

/// A histogram of latencies in microseconds up to twice the request timeout (values above are
/// recorded at the top), three significant digits.
pub(super) fn latency_histogram(request_timeout: Duration) -> Result<Histogram<u64>, String> {
    let high = u64::try_from(request_timeout.as_micros().saturating_mul(2))
        .unwrap_or(u64::MAX)
        .max(2);
    Histogram::new_with_bounds(1, high, 3).map_err(|error| format!("latency histogram: {error:?}"))
}

/// Sends the plan's requests and tallies them; failure texts have `secrets` redacted.
pub(super) async fn send(
    client: &reqwest::Client,
    plan: &TrafficPlan,
    expectations: &ResponseExpectations,
    secrets: &[String],
) -> Result<TrafficRun, String> {
    let workers = u64::from(plan.concurrency.max(1)).min(plan.total.max(1));
    let mut tallies = Vec::new();
    for _ in 0..workers {
        tallies.push(Tally {
            sent: 0,
            by_status: BTreeMap::new(),
            failures: BTreeMap::new(),
            latency: latency_histogram(plan.request_timeout)?,
            first_failures: Vec::new(),
            refused: None,
        });
    }
    let next = AtomicU64::new(0);
    let started = Instant::now();
    let started_at = SystemTime::now();
    let run = Worker {
        client,
        plan,
        expectations,
        secrets,
        next: &next,
        started,
    };
    let tallies = join_all(tallies.into_iter().map(|tally| run.work(tally))).await;
    let finished_at = SystemTime::now();

    let mut merged = latency_histogram(plan.request_timeout)?;
    let mut summary = TrafficSummary {
        url: redact(plan.url.as_str(), secrets),
        via: plan.via.clone(),
        started_at,
        finished_at,
        planned: plan.total,
        sent: 0,
        by_status: BTreeMap::new(),
        failures: BTreeMap::new(),
        latency: LatencySummary::default(),
        slower_than: BTreeMap::new(),
        first_failures: Vec::new(),
    };
    let mut refused = None;
    for tally in tallies {
        summary.sent += tally.sent;
        for (status, count) in tally.by_status {
            *summary.by_status.entry(status).or_default() += count;
        }
        for (kind, count) in tally.failures {
            *summary.failures.entry(kind).or_default() += count;
        }
        summary.first_failures.extend(tally.first_failures);
        merged
            .add(&tally.latency)
            .map_err(|error| format!("latency histogram: {error:?}"))?;
        refused = refused.or(tally.refused);
    }
    summary.first_failures.sort_by_key(|failure| failure.number);
    summary.first_failures.truncate(MAX_FAILURE_SAMPLES);
    let at = |quantile: f64| Duration::from_micros(merged.value_at_quantile(quantile));
    summary.latency = LatencySummary {
        samples: merged.len(),
        p50: at(0.50),
        p90: at(0.90),
        p95: at(0.95),
        p99: at(0.99),
        max: Duration::from_micros(merged.max()),
    };
    if merged.is_empty() {
        summary.latency = LatencySummary::default();
    } else {
        for threshold in &plan.latency_thresholds {
            // Values the histogram holds as equivalent to the threshold count as at it, within
            // its three significant digits.
            let micros = u64::try_from(threshold.as_micros()).unwrap_or(u64::MAX);
            let at_most = merged.count_between(0, micros);
            summary
                .slower_than
                .insert(*threshold, merged.len().saturating_sub(at_most));
        }
    }
    Ok(TrafficRun { summary, refused })
}

/// What every worker shares.
struct Worker<'a> {
    client: &'a reqwest::Client,
    plan: &'a TrafficPlan,
    expectations: &'a ResponseExpectations,
    secrets: &'a [String],
    next: &'a AtomicU64,
    started: Instant,
}

impl Worker<'_> {
    async fn work(&self, mut tally: Tally) -> Tally {
        loop {
            let index = self.next.fetch_add(1, Ordering::Relaxed);
            if index >= self.plan.total {
                return tally;
            }
            if let Some(rate) = self.plan.rate.filter(|rate| *rate > 0.0) {
                // Validation bounds the rate; saturate rather than panic on a span no Instant holds.
                let offset =
                    Duration::try_from_secs_f64(index as f64 / rate).unwrap_or(Duration::MAX);
                if let Some(due) = self.started.checked_add(offset) {
                    tokio::time::sleep_until(due).await;
                }
            }
            tally.sent += 1;
            self.one(index + 1, &mut tally).await;
        }
    }

    /// Sends request `number` and tallies it.
    async fn one(&self, number: u64, tally: &mut Tally) {
        let plan = self.plan;
        let began = Instant::now();
        let sent = self
            .client
            .request(plan.method.clone(), plan.url.clone())
            .headers(plan.headers.clone())
            .timeout(plan.request_timeout)
            .send()
            .await;
        let mut response = match sent {
            Ok(response) => response,
            Err(error) => {
                let kind = if error.is_connect() {
                    FailureKind::Connect
                } else if error.is_timeout() {
                    FailureKind::Timeout
                } else {
                    FailureKind::Transport
                };
                if kind == FailureKind::Timeout {
                    tally.time(plan.request_timeout);
                }
                if let Some(refused) = refused_cause(&error) {
                    tally.refused = Some((refused.host.clone(), refused.address, refused.refusal));
                }
                tally.fail(FailedRequest {
                    number,
                    status: None,
                    kind,
                    detail: redact(&describe(&error), self.secrets),
                    body: None,
                });
                return;
            }
        };
        let status = response.status().as_u16();
        *tally.by_status.entry(status).or_default() += 1;

        // Up to `body_max_bytes` is read; only what an expectation reads is kept (else a failure's
        // snippet, with room to redact a secret across its end), the rest is drained.
        let limit = usize::try_from(plan.body_max_bytes).unwrap_or(usize::MAX);
        let keep = if self.expectations.reads_body() {
            limit
        } else {
            limit.min(UNREAD_BODY_KEPT)
        };
        let mut body: Vec<u8> = Vec::new();
        let mut received = 0usize;
        let read = loop {
            if received >= limit {
                break Ok(());
            }
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    received = received.saturating_add(chunk.len());
                    let room = keep.saturating_sub(body.len());
                    body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                }
                Ok(None) => break Ok(()),
                Err(error) => break Err(error),
            }
        };
        if let Err(error) = read {
            let kind = if error.is_timeout() {
                tally.time(plan.request_timeout);
                FailureKind::Timeout
            } else {
                tally.time(began.elapsed());
                FailureKind::Transport
            };
            tally.fail(FailedRequest {
                number,
                status: Some(status),
                kind,
                detail: redact(
                    &format!("reading the body: {}", describe(&error)),
                    self.secrets,
                ),
                body: None,
            });
            return;
        }
        tally.time(began.elapsed());

        let headers = response.headers();
        let assessed = self.expectations.assess(
            status,
            |name| {
                headers
                    .get(name)
                    .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
            },
            &body,
        );
        if let Err(failure) = assessed {
            tally.fail(FailedRequest {
                number,
                status: Some(status),
                kind: failure.kind,
                detail: redact(&failure.detail, self.secrets),
                body: (!body.is_empty()).then(|| redacted_body_snippet(&body, self.secrets)),
            });
        }
    }
}

/// An error and its causes in one line, without repeating what a cause already says.
fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = Some(error);
    while let Some(error) = current {
        let text = error.to_string();
        if !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
        current = error.source();
    }
    let line = parts.join(": ");
    match line.char_indices().nth(300) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line,
    }
}
