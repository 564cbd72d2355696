//! The `http` check's judge.

use super::CheckDoc;

/// The `http` check.
pub static DOC: CheckDoc = CheckDoc {
    kind: "http",
    summary: "",
    why: "",
    example: "",
    iam_actions: &[],
    codes: &[],
};
