//! What can go wrong while standing up the local AWS, phrased so the reader knows what to do.

use std::path::PathBuf;
use std::time::Duration;

/// An error from starting or driving moto or the local endpoint.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The Python interpreter, or moto inside it, is not installed.
    #[error(
        "moto is not installed for {python}: in a checkout, run `make moto` to create the project's \
         .venv with moto[server]; from a release archive, run its `install-moto` script; or name a \
         Python that has moto[server] with `--python` or GREENLIGHT_PYTHON ({detail})"
    )]
    MotoMissing {
        /// The interpreter that was tried.
        python: PathBuf,
        /// What showed it missing.
        detail: String,
    },
    /// The interpreter could not be started at all.
    #[error("could not start {python} for moto: {source}")]
    MotoSpawn {
        /// The interpreter that was tried.
        python: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// moto exited before it answered.
    #[error("moto exited ({status}) before it answered; its stderr ends with:\n{stderr}")]
    MotoExited {
        /// How it exited.
        status: String,
        /// The last lines it wrote to stderr.
        stderr: String,
    },
    /// moto did not answer within the wait.
    #[error("moto did not answer within {waited:?}; its stderr ends with:\n{stderr}")]
    MotoNotReady {
        /// How long the wait was.
        waited: Duration,
        /// The last lines it wrote to stderr.
        stderr: String,
    },
    /// A call to moto's own control API (`/moto-api/...`) was refused.
    #[error("moto's control API {path} answered {status}: {body}")]
    MotoApi {
        /// The control path called.
        path: String,
        /// The HTTP status it answered.
        status: u16,
        /// The body it answered.
        body: String,
    },
    /// The local endpoint could not listen.
    #[error("the local AWS endpoint could not listen on 127.0.0.1: {0}")]
    Bind(#[source] std::io::Error),
    /// An HTTP exchange with moto failed below the HTTP level (refused, reset, malformed).
    #[error("HTTP exchange with {url} failed: {detail}")]
    Http {
        /// The URL that was called.
        url: String,
        /// What failed.
        detail: String,
    },
    /// An AWS call made by a test fixture answered with an error.
    #[error("{service} {operation} answered {status}: {body}")]
    Aws {
        /// The service called.
        service: String,
        /// The operation called.
        operation: String,
        /// The HTTP status it answered.
        status: u16,
        /// The body it answered.
        body: String,
    },
}
