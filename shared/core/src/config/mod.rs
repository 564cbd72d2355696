//! The per-service config: which checks run at which stage, and with what policy.

pub mod codes;
