//! A problem found in a config document, where it is, before the document's source is attached.

use super::de::FieldPath;
use super::node::Pos;

/// An error found while loading, before the source is attached.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Issue {
    pub(crate) path: FieldPath,
    pub(crate) pos: Option<Pos>,
    pub(crate) message: String,
}

impl Issue {
    pub(crate) fn new(path: FieldPath, message: impl Into<String>) -> Self {
        Issue {
            path,
            pos: None,
            message: message.into(),
        }
    }

    pub(crate) fn at(mut self, pos: Option<Pos>) -> Self {
        if self.pos.is_none() {
            self.pos = pos;
        }
        self
    }
}
