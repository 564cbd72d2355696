//! A Lambda Runtime API host: runs a real function binary the way Lambda runs it.
//!
//! The binary is started with the environment Lambda gives a `provided.al2023` function
//! (`AWS_LAMBDA_RUNTIME_API`, function name, memory, region…) and talks to this host over the
//! documented Runtime API (`GET …/invocation/next`, `POST …/invocation/{id}/response` and `/error`,
//! `POST …/init/error`). Each [`LambdaHost::invoke`] queues one event with a deadline header; when the
//! function does not answer by the deadline it is killed, as Lambda kills it, and started afresh on
//! the next invocation. The host records what benchmarks and tests need: init time (spawn → first
//! `next`), each invocation's latency and log lines, the process's peak resident memory, and all
//! its log lines.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::sync::{Mutex, mpsc, oneshot};

const API_PREFIX: &str = "/2018-06-01/runtime";

/// The host could not be started or could not run the function.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("lambda host: {0}")]
pub struct HostError(pub String);

/// How a function is run.
#[derive(Debug, Clone)]
pub struct FunctionSpec {
    /// The function binary (its `bootstrap`).
    pub binary: PathBuf,
    /// The function name, as Lambda would report it.
    pub name: String,
    /// The function timeout: each invocation's deadline.
    pub timeout: Duration,
    /// The configured memory, reported to the function.
    pub memory_mb: u32,
    /// Extra environment (`AWS_ENDPOINT_URL`, credentials, `GREENLIGHT_CONFIG`, …).
    pub env: Vec<(String, String)>,
    /// The CloudWatch Logs endpoint (the local AWS) that receives each invocation's lines, as
    /// Lambda sends a function's output: log group `/aws/lambda/<name>`, one stream per execution
    /// environment. `None` keeps the lines here only.
    pub logs_endpoint: Option<String>,
}

impl FunctionSpec {
    /// A function running `binary` with a 60 s timeout and 256 MB.
    pub fn new(binary: impl Into<PathBuf>, name: impl Into<String>) -> Self {
        FunctionSpec {
            binary: binary.into(),
            name: name.into(),
            timeout: Duration::from_secs(60),
            memory_mb: 256,
            env: Vec::new(),
            logs_endpoint: None,
        }
    }
}

/// How one invocation ended.
#[derive(Debug, Clone, PartialEq)]
pub enum InvocationResult {
    /// The function answered with this JSON.
    Response(Value),
    /// The function reported an error (`errorType`, `errorMessage`).
    Error {
        /// The error type the function gave.
        error_type: String,
        /// The message.
        message: String,
    },
    /// The function did not answer before the deadline and was killed.
    Timeout,
    /// The process exited (or failed to initialize) without answering.
    Crashed(String),
}

/// One invocation's record.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// What the function answered.
    pub result: InvocationResult,
    /// From queueing the event to the answer.
    pub latency: Duration,
    /// Whether this invocation started a new process (a cold start).
    pub cold: bool,
    /// Spawn → first `next` of the process that served it, when cold.
    pub init: Option<Duration>,
    /// The lines the function wrote while serving this invocation.
    pub logs: Vec<String>,
}

struct Pending {
    id: String,
    payload: Bytes,
    deadline: SystemTime,
}

struct Shared {
    queue_rx: Mutex<mpsc::UnboundedReceiver<Pending>>,
    waiting: StdMutex<HashMap<String, oneshot::Sender<InvocationResult>>>,
    first_next: StdMutex<Option<Instant>>,
    function_arn: String,
}

struct Process {
    child: Child,
    spawned: Instant,
}

/// A running Lambda Runtime API host for one function.
pub struct LambdaHost {
    spec: FunctionSpec,
    address: SocketAddr,
    shared: Arc<Shared>,
    queue_tx: mpsc::UnboundedSender<Pending>,
    process: Mutex<Option<Process>>,
    logs: Arc<StdMutex<Vec<String>>>,
    peak_rss_kb: AtomicU64,
    next_id: AtomicU64,
    server: tokio::task::JoinHandle<()>,
    /// The log stream of the running process, once it has logged.
    log_stream: StdMutex<Option<String>>,
}

impl LambdaHost {
    /// Starts the Runtime API on a loopback port. The function process starts on the first
    /// invocation, as on Lambda.
    pub async fn start(spec: FunctionSpec) -> Result<Self, HostError> {
        if !spec.binary.is_file() {
            return Err(HostError(format!(
                "function binary {} does not exist; build it first (cargo build --bins)",
                spec.binary.display()
            )));
        }
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|error| HostError(format!("cannot bind the Runtime API: {error}")))?;
        let address = listener
            .local_addr()
            .map_err(|error| HostError(error.to_string()))?;
        let (queue_tx, queue_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            queue_rx: Mutex::new(queue_rx),
            waiting: StdMutex::new(HashMap::new()),
            first_next: StdMutex::new(None),
            function_arn: format!(
                "arn:aws:lambda:us-east-1:123456789012:function:{}",
                spec.name
            ),
        });
        let server = tokio::spawn(serve(listener, Arc::clone(&shared)));
        Ok(LambdaHost {
            spec,
            address,
            shared,
            queue_tx,
            process: Mutex::new(None),
            logs: Arc::new(StdMutex::new(Vec::new())),
            peak_rss_kb: AtomicU64::new(0),
            next_id: AtomicU64::new(1),
            server,
            log_stream: StdMutex::new(None),
        })
    }

    /// The function timeout: each invocation's deadline.
    pub fn timeout(&self) -> Duration {
        self.spec.timeout
    }

    /// The Runtime API address (`127.0.0.1:port`).
    pub fn runtime_api(&self) -> String {
        self.address.to_string()
    }

    /// Every line the function has written to stdout or stderr.
    pub fn logs(&self) -> Vec<String> {
        lock(&self.logs).clone()
    }

    /// The highest resident memory seen of the function's processes, in KiB.
    pub fn peak_rss_kb(&self) -> u64 {
        self.peak_rss_kb.load(Ordering::Relaxed)
    }

    /// Invokes the function with `payload` and waits for its answer, the deadline, or its exit.
    pub async fn invoke(&self, payload: &Value) -> Result<Invocation, HostError> {
        let mut process = self.process.lock().await;
        // Invocations of one host are serialized by the process lock: the lines written from here
        // on are this invocation's.
        let first_line = lock(&self.logs).len();
        let cold = process.is_none();
        if cold {
            *lock(&self.shared.first_next) = None;
            *lock(&self.log_stream) = None;
            *process = Some(self.spawn()?);
        }
        let id = format!(
            "00000000-0000-4000-8000-{:012}",
            self.next_id.fetch_add(1, Ordering::Relaxed)
        );
        let (answer_tx, answer_rx) = oneshot::channel();
        lock(&self.shared.waiting).insert(id.clone(), answer_tx);
        let queued = Instant::now();
        let body = serde_json::to_vec(payload).map_err(|error| HostError(error.to_string()))?;
        self.queue_tx
            .send(Pending {
                id: id.clone(),
                payload: Bytes::from(body),
                deadline: SystemTime::now() + self.spec.timeout,
            })
            .map_err(|_| HostError("the Runtime API server stopped".into()))?;

        let running = process.as_mut().map(|process| &mut process.child);
        let result = match running {
            Some(child) => {
                tokio::select! {
                    answer = answer_rx => answer.unwrap_or(InvocationResult::Crashed("no answer".into())),
                    () = tokio::time::sleep(self.spec.timeout) => InvocationResult::Timeout,
                    status = child.wait() => InvocationResult::Crashed(format!(
                        "the function exited during the invocation: {}",
                        status.map_or_else(|error| error.to_string(), |status| status.to_string())
                    )),
                }
            }
            None => InvocationResult::Crashed("no process".into()),
        };
        let latency = queued.elapsed();
        lock(&self.shared.waiting).remove(&id);
        let init = match (cold, process.as_ref(), *lock(&self.shared.first_next)) {
            (true, Some(running), Some(first_next)) => {
                Some(first_next.saturating_duration_since(running.spawned))
            }
            _ => None,
        };
        if let Some(running) = process.as_ref() {
            self.record_rss(running);
        }
        if matches!(
            result,
            InvocationResult::Timeout | InvocationResult::Crashed(_)
        ) {
            // Lambda discards an environment whose function timed out or died.
            if let Some(mut dead) = process.take() {
                let _ = dead.child.kill().await;
            }
            self.drain_queue().await;
        }
        let logs = self.lines_since(first_line).await;
        if let Some(endpoint) = &self.spec.logs_endpoint
            && let Err(error) = self.send_logs(endpoint, &logs).await
        {
            tracing::warn!(function = %self.spec.name, %error, "the function's log lines were not stored in CloudWatch Logs");
        }
        Ok(Invocation {
            result,
            latency,
            cold,
            init,
            logs,
        })
    }

    /// The log lines from `first` on. A function logs its verdict before it answers, but the
    /// pipe's reader may not have read that far yet: wait briefly for the verdict line, and
    /// never long (a function that logs none costs at most `LOG_GRACE`).
    async fn lines_since(&self, first: usize) -> Vec<String> {
        const LOG_GRACE: Duration = Duration::from_millis(100);
        const POLL: Duration = Duration::from_millis(5);
        let waited_from = Instant::now();
        loop {
            let lines: Vec<String> = lock(&self.logs).get(first..).unwrap_or_default().to_vec();
            let has_verdict = lines.iter().any(|line| line.contains("greenlight summary"));
            if has_verdict || waited_from.elapsed() >= LOG_GRACE {
                return lines;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Puts `lines` in the function's log group, in the running process's stream (both created
    /// when first needed), as Lambda does with what a function writes.
    async fn send_logs(&self, endpoint: &str, lines: &[String]) -> Result<(), String> {
        let events: Vec<Value> = lines
            .iter()
            .filter(|line| !line.trim().is_empty())
            .map(|line| serde_json::json!({ "timestamp": epoch_millis(SystemTime::now()), "message": line }))
            .collect();
        if events.is_empty() {
            return Ok(());
        }
        let moto = crate::moto_client::Moto::new(endpoint);
        let group = log_group(&self.spec.name);
        let existing = lock(&self.log_stream).clone();
        let stream = match existing {
            Some(stream) => stream,
            None => {
                let created = moto
                    .logs(
                        "CreateLogGroup",
                        serde_json::json!({ "logGroupName": group }),
                    )
                    .await;
                if let Err(error) = created
                    && !error.to_string().contains("ResourceAlreadyExistsException")
                {
                    return Err(error.to_string());
                }
                let stream = log_stream_name(&self.spec.name, SystemTime::now());
                moto.logs(
                    "CreateLogStream",
                    serde_json::json!({ "logGroupName": group, "logStreamName": stream }),
                )
                .await
                .map_err(|error| error.to_string())?;
                *lock(&self.log_stream) = Some(stream.clone());
                stream
            }
        };
        moto.logs(
            "PutLogEvents",
            serde_json::json!({ "logGroupName": group, "logStreamName": stream, "logEvents": events }),
        )
        .await
        .map(|_| ())
        .map_err(|error| error.to_string())
    }

    /// Stops the function process (the next invocation is a cold start).
    pub async fn stop_function(&self) {
        if let Some(mut process) = self.process.lock().await.take() {
            let _ = process.child.kill().await;
        }
    }

    fn spawn(&self) -> Result<Process, HostError> {
        let mut command = Command::new(&self.spec.binary);
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", self.runtime_api())
            .env("AWS_LAMBDA_FUNCTION_NAME", &self.spec.name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env(
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                self.spec.memory_mb.to_string(),
            )
            .env(
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{}", self.spec.name),
            )
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "local")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("_HANDLER", "bootstrap")
            .env("LAMBDA_TASK_ROOT", "/var/task")
            .envs(self.spec.env.iter().map(|(key, value)| (key, value)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let spawned = Instant::now();
        let mut child = command.spawn().map_err(|error| {
            HostError(format!(
                "cannot start {}: {error}",
                self.spec.binary.display()
            ))
        })?;
        if let Some(stdout) = child.stdout.take() {
            tokio::spawn(collect_lines(stdout, Arc::clone(&self.logs)));
        }
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(collect_lines(stderr, Arc::clone(&self.logs)));
        }
        Ok(Process { child, spawned })
    }

    fn record_rss(&self, process: &Process) {
        let Some(pid) = process.child.id() else {
            return;
        };
        let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
            return;
        };
        let peak = status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|value| {
                value
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            });
        if let Some(peak) = peak {
            self.peak_rss_kb.fetch_max(peak, Ordering::Relaxed);
        }
    }

    async fn drain_queue(&self) {
        let mut queue = self.shared.queue_rx.lock().await;
        while queue.try_recv().is_ok() {}
    }
}

impl Drop for LambdaHost {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// The environment variable naming the cargo profile whose function binaries tests run
/// (`release` under `make test`, which builds them so); unset, the test binary's own profile.
pub const FUNCTION_PROFILE_ENV: &str = "GREENLIGHT_FUNCTION_PROFILE";

/// Where cargo put a workspace binary: `<target>/<profile>/<name>`, the target directory being the
/// running test binary's (`<target>/<its profile>/deps/…`) and the profile the one
/// [`FUNCTION_PROFILE_ENV`] names, else the test binary's own (`debug` for `cargo test`, so that
/// `cargo build -p <function>` then `cargo test` works).
pub fn workspace_binary(name: &str) -> PathBuf {
    let mut dir = std::env::current_exe().unwrap_or_default();
    dir.pop();
    if dir.ends_with("deps") {
        dir.pop();
    }
    match std::env::var(FUNCTION_PROFILE_ENV) {
        Ok(profile) if !profile.trim().is_empty() => {
            // `dir` is `<target>/<profile of the test binary>`.
            dir.pop();
            dir.join(profile.trim()).join(name)
        }
        _ => dir.join(name),
    }
}

/// Whether `path` exists: a small helper for clear test messages.
pub fn require_binary(path: &Path) -> Result<(), HostError> {
    if path.is_file() {
        Ok(())
    } else {
        Err(HostError(format!(
            "{} is not built; run `cargo build --bins` (make test does)",
            path.display()
        )))
    }
}

async fn collect_lines(
    stream: impl tokio::io::AsyncRead + Unpin,
    logs: Arc<StdMutex<Vec<String>>>,
) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        lock(&logs).push(line);
    }
}

async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    while let Ok((stream, _)) = listener.accept().await {
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let shared = Arc::clone(&shared);
                async move { Ok::<_, Infallible>(route(request, &shared).await) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn route(request: Request<Incoming>, shared: &Shared) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_owned();
    let Some(rest) = path.strip_prefix(API_PREFIX) else {
        return reply(StatusCode::NOT_FOUND, "unknown path");
    };
    match (request.method().clone(), rest) {
        (Method::GET, "/invocation/next") => next_invocation(shared).await,
        (Method::POST, "/init/error") => {
            let body = read_body(request).await;
            tracing::warn!(error = %String::from_utf8_lossy(&body), "function init error");
            reply(StatusCode::ACCEPTED, "")
        }
        (Method::POST, rest) => {
            let mut parts = rest.trim_start_matches("/invocation/").splitn(2, '/');
            let (Some(id), Some(kind)) = (parts.next(), parts.next()) else {
                return reply(StatusCode::NOT_FOUND, "unknown path");
            };
            let id = id.to_owned();
            let kind = kind.to_owned();
            let body = read_body(request).await;
            let result = match kind.as_str() {
                "response" => match serde_json::from_slice::<Value>(&body) {
                    Ok(value) => InvocationResult::Response(value),
                    Err(error) => InvocationResult::Error {
                        error_type: "Runtime.InvalidResponse".into(),
                        message: format!("the function's response is not JSON: {error}"),
                    },
                },
                "error" => {
                    let error: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    InvocationResult::Error {
                        error_type: error["errorType"].as_str().unwrap_or("Unknown").to_owned(),
                        message: error["errorMessage"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned(),
                    }
                }
                _ => return reply(StatusCode::NOT_FOUND, "unknown path"),
            };
            match lock(&shared.waiting).remove(&id) {
                Some(waiter) => {
                    let _ = waiter.send(result);
                    reply(StatusCode::ACCEPTED, "")
                }
                None => reply(StatusCode::BAD_REQUEST, "unknown or finished request id"),
            }
        }
        _ => reply(StatusCode::NOT_FOUND, "unknown path"),
    }
}

async fn next_invocation(shared: &Shared) -> Response<Full<Bytes>> {
    {
        let mut first = lock(&shared.first_next);
        if first.is_none() {
            *first = Some(Instant::now());
        }
    }
    let pending = shared.queue_rx.lock().await.recv().await;
    let Some(pending) = pending else {
        return reply(StatusCode::INTERNAL_SERVER_ERROR, "host stopped");
    };
    let deadline_ms = pending
        .deadline
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|since| since.as_millis())
        .unwrap_or_default();
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .header("lambda-runtime-aws-request-id", &pending.id)
        .header("lambda-runtime-deadline-ms", deadline_ms.to_string())
        .header("lambda-runtime-invoked-function-arn", &shared.function_arn)
        .header(
            "lambda-runtime-trace-id",
            "Root=1-00000000-000000000000000000000000;Sampled=0",
        )
        .body(Full::new(pending.payload))
        .unwrap_or_else(|_| reply(StatusCode::INTERNAL_SERVER_ERROR, "bad response"))
}

async fn read_body(request: Request<Incoming>) -> Bytes {
    request
        .into_body()
        .collect()
        .await
        .map(|collected| collected.to_bytes())
        .unwrap_or_default()
}

fn reply(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    response
}

fn lock<T>(mutex: &StdMutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The log group Lambda writes a function's output to by default.
pub fn log_group(function: &str) -> String {
    format!("/aws/lambda/{function}")
}

/// A log stream name the way Lambda names one per execution environment:
/// `2026/12/06/[$LATEST]` and 32 hex digits.
fn log_stream_name(function: &str, now: SystemTime) -> String {
    let date = humantime::format_rfc3339(now).to_string();
    let day = date.get(..10).unwrap_or("1970-01-01").replace('-', "/");
    let nanos = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|since| since.as_nanos())
        .unwrap_or_default();
    let seed = crate::stack::util::fnv1a(function) ^ (nanos as u64);
    format!(
        "{day}/[$LATEST]{seed:016x}{:016x}",
        seed.rotate_left(29) ^ 0x9e37_79b9_7f4a_7c15
    )
}

fn epoch_millis(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map(|since| u64::try_from(since.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or_default()
}
