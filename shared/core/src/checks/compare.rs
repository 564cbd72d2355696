//! The `compare` check's judge.

use super::CheckDoc;

/// The `compare` check.
pub static DOC: CheckDoc = CheckDoc {
    kind: "compare",
    summary: "",
    why: "",
    example: "",
    iam_actions: &[],
    codes: &[],
};
