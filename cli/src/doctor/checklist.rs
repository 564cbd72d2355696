//! What `greenlight doctor` found: one line per thing checked, each with what to do about it.

use std::io::Write;

use serde::Serialize;

use crate::Exit;

/// How one item stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Checked, and right.
    Ok,
    /// Checked, and wrong: a deployment would fail, or be judged by less than the config asks.
    Problem,
    /// Could not be checked (a read was denied or failed): doctor cannot say it is right.
    Unchecked,
    /// Worth knowing; not a problem.
    Note,
}

impl Status {
    fn mark(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Problem => "PROBLEM",
            Status::Unchecked => "UNCHECKED",
            Status::Note => "note",
        }
    }
}

/// One thing checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    /// How it stands.
    pub status: Status,
    /// What was checked, naming the resource.
    pub subject: String,
    /// What doctor found.
    pub detail: String,
    /// What to do, for a problem or an unchecked item.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

/// Everything checked, in the order it was checked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Checklist {
    /// The items.
    pub items: Vec<Item>,
}

impl Checklist {
    /// Records a right thing.
    pub fn ok(&mut self, subject: impl Into<String>, detail: impl Into<String>) {
        self.push(Status::Ok, subject, detail, None);
    }

    /// Records a note.
    pub fn note(&mut self, subject: impl Into<String>, detail: impl Into<String>) {
        self.push(Status::Note, subject, detail, None);
    }

    /// Records a problem and its fix.
    pub fn problem(
        &mut self,
        subject: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) {
        self.push(Status::Problem, subject, detail, Some(fix.into()));
    }

    /// Records something that could not be checked, and what would let doctor check it.
    pub fn unchecked(
        &mut self,
        subject: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) {
        self.push(Status::Unchecked, subject, detail, Some(fix.into()));
    }

    fn push(
        &mut self,
        status: Status,
        subject: impl Into<String>,
        detail: impl Into<String>,
        fix: Option<String>,
    ) {
        self.items.push(Item {
            status,
            subject: subject.into(),
            detail: detail.into(),
            fix,
        });
    }

    /// The items with `status`.
    pub fn with(&self, status: Status) -> impl Iterator<Item = &Item> {
        self.items.iter().filter(move |item| item.status == status)
    }

    /// Ready when nothing is a problem and nothing went unchecked: doctor never says "ready" about
    /// what it could not see.
    pub fn is_ready(&self) -> bool {
        self.items
            .iter()
            .all(|item| matches!(item.status, Status::Ok | Status::Note))
    }

    /// 0 when ready, 1 otherwise.
    pub fn exit(&self) -> Exit {
        if self.is_ready() {
            Exit::Success
        } else {
            Exit::Failure
        }
    }

    /// The checklist as text: one line per item, its fix indented below it, and a last line that
    /// counts.
    pub fn write_text(&self, title: &str, out: &mut dyn Write) -> std::io::Result<()> {
        writeln!(out, "{title}")?;
        let width = self
            .items
            .iter()
            .map(|item| item.status.mark().len())
            .max()
            .unwrap_or(0);
        for item in &self.items {
            writeln!(
                out,
                "  {:<width$}  {}: {}",
                item.status.mark(),
                item.subject,
                item.detail
            )?;
            if let Some(fix) = &item.fix {
                writeln!(out, "  {:<width$}    fix: {fix}", "")?;
            }
        }
        let problems = self.with(Status::Problem).count();
        let unchecked = self.with(Status::Unchecked).count();
        if self.is_ready() {
            writeln!(
                out,
                "Ready: {} checks passed.",
                self.with(Status::Ok).count()
            )
        } else {
            writeln!(
                out,
                "Not ready: {problems} {}, {unchecked} unchecked.",
                if problems == 1 { "problem" } else { "problems" }
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ok_and_notes_are_ready() {
        let mut list = Checklist::default();
        list.ok("service", "found");
        list.note("stage", "built-in checks only");
        assert!(list.is_ready());
        assert_eq!(list.exit(), Exit::Success);
        list.unchecked("role", "denied", "grant iam:GetRole");
        assert!(!list.is_ready());
        assert_eq!(list.exit(), Exit::Failure);
    }

    #[test]
    fn the_text_puts_each_fix_under_its_item_and_counts() {
        let mut list = Checklist::default();
        list.ok("service demo/web", "found");
        list.problem(
            "hook",
            "wrong function",
            "point it at greenlight-test-traffic",
        );
        let mut out = Vec::new();
        list.write_text("doctor", &mut out).expect("written");
        let text = String::from_utf8(out).expect("utf-8");
        assert!(text.contains("PROBLEM  hook: wrong function\n"), "{text}");
        assert!(
            text.contains("fix: point it at greenlight-test-traffic"),
            "{text}"
        );
        assert!(
            text.ends_with("Not ready: 1 problem, 0 unchecked.\n"),
            "{text}"
        );
    }
}
