//! greenlight end to end with real parts, one binary in three tiers (the pure contracts are
//! `greenlight-core`'s own `contract` tests):
//!
//! - `cli`: the command line on files (validate, schema, codes), no AWS;
//! - `aws`: the AWS adapters and the simulator's world against moto, through the real SDK clients;
//! - `rehearsal`: the function binaries as Lambdas, and whole deployments rehearsed end to end.
//!
//! `cargo test -p greenlight-tests --test e2e aws::` (or `rehearsal::`, `cli::`) runs one tier.
//! Tests that need moto or the function binaries go through [`parts`], which stops the binary with
//! one line saying `make test` when they are not built.
mod aws;
pub(crate) mod cli;
mod parts;
mod rehearsal;
