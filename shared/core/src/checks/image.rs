//! The `image` check's judge.

use super::CheckDoc;

/// The `image` check.
pub static DOC: CheckDoc = CheckDoc {
    kind: "image",
    summary: "",
    why: "",
    example: "",
    iam_actions: &[],
    codes: &[],
};
