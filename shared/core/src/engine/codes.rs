//! Reason codes the engine itself emits: verdicts, and what happened to a check's run.

use crate::reason::ReasonCode;

/// Every code of this family.
pub static ALL: &[&ReasonCode] = &[];
