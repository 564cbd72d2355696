//! The `alarms` check's judge.

use super::CheckDoc;

/// The `alarms` check.
pub static DOC: CheckDoc = CheckDoc {
    kind: "alarms",
    summary: "",
    why: "",
    example: "",
    iam_actions: &[],
    codes: &[],
};
