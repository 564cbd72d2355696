//! The `routing` check's judge.

use super::CheckDoc;

/// The `routing` check.
pub static DOC: CheckDoc = CheckDoc {
    kind: "routing",
    summary: "",
    why: "",
    example: "",
    iam_actions: &[],
    codes: &[],
};
