//! The `tasks` check's judge.

use super::CheckDoc;

/// The `tasks` check.
pub static DOC: CheckDoc = CheckDoc {
    kind: "tasks",
    summary: "",
    why: "",
    example: "",
    iam_actions: &[],
    codes: &[],
};
