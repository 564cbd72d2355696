//! Structured telemetry: one summary per invocation.
