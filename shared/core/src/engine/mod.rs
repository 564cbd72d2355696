//! The engine: runs a stage's checks and folds their outcomes into a verdict.

pub mod codes;
