//! Helpers shared by greenlight's end-to-end tests.
