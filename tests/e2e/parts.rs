//! The real parts the AWS and rehearsal tests run — moto and the function binaries — behind one
//! gate: on a clone where `make test` has not built them, the binary stops at the first test that
//! needs them with one line saying so, rather than failing each test on its own.

use std::path::PathBuf;

use greenlight_sim::lambda_host::workspace_binary;
use greenlight_sim::{LocalAws, World, moto};
use greenlight_test_support::prerequisites::{self, Part};

/// Every function binary a rehearsal runs.
const FUNCTIONS: &[&str] = &[
    "pre-scale-up",
    "post-scale-up",
    "test-traffic",
    "production-traffic",
    "codedeploy-hook",
];

/// Stops the test binary with one line unless moto can run.
pub(crate) fn require_moto() {
    prerequisites::require(&[moto_part()]);
}

fn moto_part() -> Part {
    Part::Moto {
        python: moto::default_python(),
    }
}

/// Stops the test binary with one line unless moto and every function binary are there: what a
/// rehearsal runs.
pub(crate) fn require() {
    let mut parts = vec![moto_part()];
    parts.extend(FUNCTIONS.iter().map(|name| Part::Binary {
        path: workspace_binary(name),
    }));
    prerequisites::require(&parts);
}

/// A function binary (the release build under `make test`), behind the gate.
pub(crate) fn function_binary(name: &str) -> PathBuf {
    require();
    workspace_binary(name)
}

/// The shared moto behind a fresh endpoint of this test's own.
pub(crate) async fn local_aws() -> LocalAws {
    require_moto();
    LocalAws::on_shared_moto()
        .await
        .unwrap_or_else(|error| panic!("{error}"))
}

/// The shared moto behind a fresh endpoint with `world`'s supplements.
pub(crate) async fn local_aws_with(world: &World) -> LocalAws {
    require_moto();
    LocalAws::on_shared_moto_with_world(world)
        .await
        .unwrap_or_else(|error| panic!("{error}"))
}
