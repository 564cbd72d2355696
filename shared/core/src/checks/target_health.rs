//! The `target_health` check's judge.

use super::CheckDoc;

/// The `target_health` check.
pub static DOC: CheckDoc = CheckDoc {
    kind: "target_health",
    summary: "",
    why: "",
    example: "",
    iam_actions: &[],
    codes: &[],
};
