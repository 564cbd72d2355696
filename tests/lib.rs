//! The end-to-end tests are the `e2e` binary (e2e/main.rs); what test suites share is the
//! `greenlight-test-support` crate (support/). This library is empty: cargo needs one target here.
