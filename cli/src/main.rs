//! The `greenlight` command.

fn main() {}
