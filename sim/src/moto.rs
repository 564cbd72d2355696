//! moto as a child process: listening on a loopback port it bound itself, waited for, and never left
//! behind.
//!
//! moto binds port 0 and prints the port the kernel gave it. Picking a free port here and passing it
//! on would leave a window in which a moto started in parallel takes the same port; the second moto
//! then fails to bind while its readiness probe is answered by the first, and two rehearsals share
//! one moto's state.
//!
//! The process is a plain `std::process::Child` killed in `Drop` rather than a tokio child with
//! `kill_on_drop`: a moto shared by a whole test binary outlives the runtime of the test that started
//! it, and its stderr must be drained by a thread (not a task) for the same reason. A server kept in a
//! `static` is never dropped, so moto also exits by itself when its stdin closes, which the kernel does
//! when this process ends in any way, `SIGKILL` included.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request};
use http_body_util::Full;

use crate::error::SimError;
use crate::http_client::{Answer, exchange, loopback_client};

/// The environment variable naming the Python interpreter that has moto installed.
pub const PYTHON_ENV: &str = "GREENLIGHT_PYTHON";

/// How long moto may take to answer its first request: it is ready in about half a second on an idle
/// machine, but imports slow down a lot when the two cores are busy compiling.
const READY_WAIT: Duration = Duration::from_secs(60);

/// How long one readiness probe may take: a process that accepted but does not answer is not ready.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// How many stderr lines are kept to explain a failure.
const STDERR_TAIL_LINES: usize = 40;

/// Starts moto's threaded server on 127.0.0.1, port 0, prints the port it was given (moto's own URLs
/// need it in `MOTO_PORT`), and ends the process as soon as stdin reaches end of file, that is when
/// the process that started it is gone. Requests are logged to stderr.
const LAUNCHER: &str = r#"
import os, sys
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
port = server.get_host_and_port()[1]
os.environ["MOTO_PORT"] = str(port)
print(port, flush=True)
sys.stdin.buffer.read()
os._exit(0)
"#;

/// A running moto server on 127.0.0.1, killed when dropped.
#[derive(Debug)]
pub struct MotoServer {
    child: Child,
    /// Held only so that moto's stdin stays open: closing it stops moto.
    _lifeline: ChildStdin,
    endpoint_url: String,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
    stderr_reader: Option<std::thread::JoinHandle<()>>,
}

impl MotoServer {
    /// Starts moto with the interpreter named by `GREENLIGHT_PYTHON`, or else the project's
    /// `.venv/bin/python` (which `make test` creates), and waits until it answers.
    pub async fn start() -> Result<Self, SimError> {
        Self::start_with(&default_python()).await
    }

    /// Starts moto with the given Python interpreter and waits until it answers.
    pub async fn start_with(python: &Path) -> Result<Self, SimError> {
        if !python.exists() {
            return Err(SimError::MotoMissing {
                python: python.to_path_buf(),
                detail: "no such interpreter".to_owned(),
            });
        }
        let mut child = spawn_launcher(python)
            .await
            .map_err(|source| SimError::MotoSpawn {
                python: python.to_path_buf(),
                source,
            })?;
        let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
        let stderr_reader = child
            .stderr
            .take()
            .and_then(|stderr| drain_stderr(stderr, Arc::clone(&stderr_tail)));
        let port = Arc::new(Mutex::new(None));
        if let Some(stdout) = child.stdout.take() {
            read_port(stdout, Arc::clone(&port));
        }
        let Some(lifeline) = child.stdin.take() else {
            kill_and_reap(&mut child);
            return Err(SimError::MotoSpawn {
                python: python.to_path_buf(),
                source: std::io::Error::other("stdin was not piped"),
            });
        };
        let mut server = Self {
            child,
            _lifeline: lifeline,
            endpoint_url: String::new(),
            stderr_tail,
            stderr_reader,
        };
        server.wait_until_ready(python, &port).await?;
        Ok(server)
    }

    /// Waits for moto to say its port, then polls it until it answers, failing early with its
    /// stderr if it exits.
    async fn wait_until_ready(
        &mut self,
        python: &Path,
        port: &Mutex<Option<u16>>,
    ) -> Result<(), SimError> {
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.wait_for_stderr_end().await;
                let stderr = self.stderr_tail();
                if stderr.contains("No module named") {
                    return Err(SimError::MotoMissing {
                        python: python.to_path_buf(),
                        detail: last_line(&stderr),
                    });
                }
                return Err(SimError::MotoExited {
                    status: status.to_string(),
                    stderr,
                });
            }
            if self.endpoint_url.is_empty()
                && let Some(port) = *port.lock().unwrap_or_else(PoisonError::into_inner)
            {
                self.endpoint_url = format!("http://127.0.0.1:{port}");
            }
            if !self.endpoint_url.is_empty() {
                let probe = tokio::time::timeout(PROBE_TIMEOUT, self.get("/moto-api/config")).await;
                if probe.is_ok_and(|answer| answer.is_ok_and(|answer| answer.status.is_success())) {
                    return Ok(());
                }
            }
            if started.elapsed() > READY_WAIT {
                return Err(SimError::MotoNotReady {
                    waited: READY_WAIT,
                    stderr: self.stderr_tail(),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Lets the stderr thread read the last lines of a process that has exited (bounded: a
    /// grandchild could hold the pipe open).
    async fn wait_for_stderr_end(&self) {
        for _ in 0..40 {
            if self
                .stderr_reader
                .as_ref()
                .is_none_or(std::thread::JoinHandle::is_finished)
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The base URL moto listens on, e.g. `http://127.0.0.1:41234`.
    pub fn endpoint_url(&self) -> &str {
        &self.endpoint_url
    }

    /// Wipes every service's state (`POST /moto-api/reset`). State-manager transitions survive it.
    pub async fn reset(&self) -> Result<(), SimError> {
        self.control("/moto-api/reset", Bytes::new()).await
    }

    /// Keeps ECS tasks `RUNNING`: by default moto moves a task one step towards `STOPPED` on every
    /// `DescribeTasks`, which would make every task check flaky.
    pub async fn set_ecs_tasks_manual(&self) -> Result<(), SimError> {
        let body = serde_json::json!({
            "model_name": "ecs::task",
            "transition": { "progression": "manual", "times": 1_000_000 },
        });
        self.control(
            "/moto-api/state-manager/set-transition",
            Bytes::from(body.to_string()),
        )
        .await
    }

    /// The last lines moto wrote to stderr (its request log and any traceback).
    pub fn stderr_tail(&self) -> String {
        let lines = self
            .stderr_tail
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        lines.iter().cloned().collect::<Vec<_>>().join("\n")
    }

    async fn control(&self, path: &str, body: Bytes) -> Result<(), SimError> {
        let answer = self.send(Method::POST, path, body).await?;
        if answer.status.is_success() {
            Ok(())
        } else {
            Err(SimError::MotoApi {
                path: path.to_owned(),
                status: answer.status.as_u16(),
                body: String::from_utf8_lossy(&answer.body).into_owned(),
            })
        }
    }

    async fn get(&self, path: &str) -> Result<Answer, SimError> {
        self.send(Method::GET, path, Bytes::new()).await
    }

    async fn send(&self, method: Method, path: &str, body: Bytes) -> Result<Answer, SimError> {
        let url = format!("{}{path}", self.endpoint_url);
        let request = Request::builder()
            .method(method)
            .uri(&url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(body))
            .map_err(|error| SimError::Http {
                url,
                detail: error.to_string(),
            })?;
        exchange(&loopback_client(), request).await
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        kill_and_reap(&mut self.child);
    }
}

/// The interpreter named by `GREENLIGHT_PYTHON`, or the project's `.venv/bin/python`.
pub fn default_python() -> PathBuf {
    match std::env::var_os(PYTHON_ENV) {
        Some(python) if !python.is_empty() => PathBuf::from(python),
        _ => repo_root().join(".venv").join("bin").join("python"),
    }
}

/// The repository root, known at build time: this crate lives in `<repo>/sim`.
fn repo_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map_or_else(|| manifest_dir.to_path_buf(), Path::to_path_buf)
}

/// Starts the launcher. An interpreter file just written (a venv being made, a test's stand-in)
/// can be briefly "busy" when another thread forks while it is still open for writing: asked
/// again a few times before giving up.
async fn spawn_launcher(python: &Path) -> std::io::Result<Child> {
    let mut attempt = 0;
    loop {
        let spawned = Command::new(python)
            .arg("-c")
            .arg(LAUNCHER)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        match spawned {
            Err(error)
                if error.kind() == std::io::ErrorKind::ExecutableFileBusy && attempt < 10 =>
            {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            spawned => return spawned,
        }
    }
}

/// Reads the port moto prints first, then the rest of stdout to its end on a thread (a full pipe
/// would block moto should anything else be printed there).
fn read_port(stdout: std::process::ChildStdout, port: Arc<Mutex<Option<u16>>>) {
    let spawned = std::thread::Builder::new()
        .name("moto-stdout".to_owned())
        .spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(first)) = lines.next()
                && let Ok(number) = first.trim().parse::<u16>()
            {
                *port.lock().unwrap_or_else(PoisonError::into_inner) = Some(number);
            }
            for _ in lines.map_while(Result::ok) {}
        });
    if let Err(error) = spawned {
        tracing::warn!(%error, "could not start the thread that reads moto's stdout");
    }
}

fn last_line(text: &str) -> String {
    text.lines().last().unwrap_or_default().to_owned()
}

fn kill_and_reap(child: &mut Child) {
    // Errors mean it has already exited, which is what we want.
    let _ = child.kill();
    let _ = child.wait();
}

/// Reads stderr to its end on a thread, keeping the last lines. Reading is not optional: moto logs
/// every request there, and a full pipe would block it.
fn drain_stderr(
    stderr: std::process::ChildStderr,
    tail: Arc<Mutex<VecDeque<String>>>,
) -> Option<std::thread::JoinHandle<()>> {
    let spawned = std::thread::Builder::new()
        .name("moto-stderr".to_owned())
        .spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let mut lines = tail.lock().unwrap_or_else(PoisonError::into_inner);
                if lines.len() == STDERR_TAIL_LINES {
                    lines.pop_front();
                }
                lines.push_back(line);
            }
        });
    match spawned {
        Ok(handle) => Some(handle),
        Err(error) => {
            tracing::warn!(%error, "could not start the thread that reads moto's stderr");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_missing_interpreter_says_how_to_install_moto() {
        let error = MotoServer::start_with(Path::new("/nonexistent/python"))
            .await
            .expect_err("no interpreter there");
        let message = error.to_string();
        // Every way to get moto: a checkout's target, a release archive's script, a flag.
        for how in [
            "make moto",
            "install-moto",
            "--python",
            "/nonexistent/python",
        ] {
            assert!(message.contains(how), "{how}: {message}");
        }
    }

    /// Writes an executable stand-in for Python that prints `stderr` and exits with `code`.
    fn fake_python(name: &str, stderr: &str, code: i32) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("greenlight-sim-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join(name);
        std::fs::write(
            &path,
            format!("#!/bin/sh\necho \"{stderr}\" >&2\nexit {code}\n"),
        )
        .expect("write fake python");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .expect("make it executable");
        path
    }

    #[tokio::test]
    async fn an_interpreter_without_moto_is_reported_as_missing_moto() {
        let python = fake_python(
            "python-without-moto",
            "ModuleNotFoundError: No module named 'moto'",
            1,
        );
        let error = MotoServer::start_with(&python)
            .await
            .expect_err("moto is not importable");
        assert!(matches!(error, SimError::MotoMissing { .. }), "{error:?}");
        assert!(error.to_string().contains("make moto"), "{error}");
    }

    #[tokio::test]
    async fn a_moto_that_dies_early_is_reported_with_its_stderr() {
        let python = fake_python("python-that-crashes", "Traceback: boom", 3);
        let error = MotoServer::start_with(&python)
            .await
            .expect_err("the process exits at once");
        assert!(matches!(error, SimError::MotoExited { .. }), "{error:?}");
        assert!(error.to_string().contains("Traceback: boom"), "{error}");
    }

    #[test]
    fn the_default_interpreter_is_the_project_venv() {
        if std::env::var_os(PYTHON_ENV).is_some() {
            return;
        }
        let python = default_python();
        assert!(python.ends_with(".venv/bin/python"), "{}", python.display());
        assert!(python.parent().and_then(Path::parent).is_some_and(|venv| {
            venv.parent()
                .is_some_and(|root| root.join("Cargo.toml").exists())
        }));
    }
}
