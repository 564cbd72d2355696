//! What greenlight's test suites share, kept apart from the product and from any AWS SDK so that
//! the pure tests (`cargo test -p greenlight-core`) stay quick to build:
//!
//! - [`fixtures`]: recorded ECS and CodeDeploy events, broken configs, captured function logs and
//!   a team function, with loaders that name the file when it is missing or malformed;
//! - [`repository`]: the project's own files (README, examples, docs) that tests hold to the code;
//! - [`emf`]: a reader of CloudWatch Embedded Metric Format records held to the published
//!   specification;
//! - [`prerequisites`]: the gate that stops a suite with one line saying `make test` when what it
//!   runs (moto, the function binaries) is not there, instead of failing test by test.

pub mod emf;
pub mod fixtures;
pub mod prerequisites;

use std::path::PathBuf;

/// A file or folder of the repository, by its path from the repository's root (`README.md`,
/// `infra/examples/config`).
pub fn repository(relative: &str) -> PathBuf {
    // This crate lives in `<repo>/tests/support`.
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative)
}

/// The text of a repository file; panics naming the file when it cannot be read.
pub fn repository_text(relative: &str) -> String {
    read(&repository(relative))
}

pub(crate) fn read(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}
