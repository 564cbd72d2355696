//! The `metric` check's judge.

use super::CheckDoc;

/// The `metric` check.
pub static DOC: CheckDoc = CheckDoc {
    kind: "metric",
    summary: "",
    why: "",
    example: "",
    iam_actions: &[],
    codes: &[],
};
