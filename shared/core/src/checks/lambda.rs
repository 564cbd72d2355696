//! The `lambda` check's judge.

use super::CheckDoc;

/// The `lambda` check.
pub static DOC: CheckDoc = CheckDoc {
    kind: "lambda",
    summary: "",
    why: "",
    example: "",
    iam_actions: &[],
    codes: &[],
};
