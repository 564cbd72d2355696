//! Config errors that point at the source, the line and the field.

use std::fmt;

use crate::reason::ReasonCode;

use super::resolve::{ConfigReference, ReadError};
use crate::document::Issue;
use crate::document::codes::{CONFIG_INVALID, CONFIG_REFERENCE_INVALID, CONFIG_UNREADABLE};
use crate::document::node::Node;

/// Where a config came from, as error messages name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    /// Inline in the hook's `hookDetails`, under `greenlight`.
    Inline,
    /// The reference in the hook's `hookDetails`, under `greenlightConfig` (named when the reference
    /// itself is wrong).
    HookReference,
    /// The `GREENLIGHT_CONFIG` environment variable (named when its value is wrong).
    Env,
    /// A file, SSM parameter or S3 object.
    Reference(ConfigReference),
    /// The built-in plans of `config/builtin.yaml`.
    Builtin,
}

impl fmt::Display for ConfigSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigSource::Inline => f.write_str("hookDetails.greenlight"),
            ConfigSource::HookReference => f.write_str("hookDetails.greenlightConfig"),
            ConfigSource::Env => f.write_str("GREENLIGHT_CONFIG"),
            ConfigSource::Reference(reference) => reference.fmt(f),
            ConfigSource::Builtin => f.write_str("built-in defaults"),
        }
    }
}

/// One thing wrong with a config, displayed as
/// `greenlight.yaml:14:9: stages.PRODUCTION_TRAFFIC_SHIFT.checks[1].compare.max_increase: expected …`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}", self.render())]
pub struct ConfigError {
    /// `CONFIG_INVALID`, `CONFIG_UNREADABLE` or `CONFIG_REFERENCE_INVALID`.
    pub code: &'static ReasonCode,
    /// Where the config came from.
    pub source: ConfigSource,
    /// The 1-based line, when known.
    pub line: Option<usize>,
    /// The 1-based column, when known.
    pub column: Option<usize>,
    /// The field the error is about (`stages.POST_SCALE_UP[0].tasks.min_running_percent`); empty
    /// when it is about the whole text.
    pub path: String,
    /// What is wrong and what is allowed.
    pub message: String,
    /// Whether reading again later may work (a throttled or unavailable store).
    pub transient: bool,
    /// Why a reference could not be read.
    #[source]
    pub cause: Option<ReadError>,
}

impl ConfigError {
    /// An error of `code` about `source`, at no particular place.
    pub fn new(
        code: &'static ReasonCode,
        source: ConfigSource,
        message: impl Into<String>,
    ) -> Self {
        ConfigError {
            code,
            source,
            line: None,
            column: None,
            path: String::new(),
            message: message.into(),
            transient: false,
            cause: None,
        }
    }

    /// The config does not parse or validate.
    pub fn invalid(source: ConfigSource, message: impl Into<String>) -> Self {
        ConfigError::new(&CONFIG_INVALID, source, message)
    }

    /// A reference is not of a supported form.
    pub fn reference_invalid(source: ConfigSource, message: impl Into<String>) -> Self {
        ConfigError::new(&CONFIG_REFERENCE_INVALID, source, message)
    }

    /// A reference could not be read.
    pub fn unreadable(reference: &ConfigReference, cause: ReadError) -> Self {
        ConfigError {
            transient: cause.kind.is_transient(),
            message: format!("could not read the config: {cause}"),
            cause: Some(cause),
            ..ConfigError::new(
                &CONFIG_UNREADABLE,
                ConfigSource::Reference(reference.clone()),
                String::new(),
            )
        }
    }

    /// Sets the field path.
    pub fn at_path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// Sets the line and column.
    pub fn at_position(mut self, line: usize, column: usize) -> Self {
        self.line = Some(line);
        self.column = Some(column);
        self
    }

    fn render(&self) -> String {
        let mut text = self.source.to_string();
        if let Some(line) = self.line {
            text.push_str(&format!(":{line}"));
            if let Some(column) = self.column {
                text.push_str(&format!(":{column}"));
            }
        }
        text.push_str(": ");
        if !self.path.is_empty() {
            text.push_str(&self.path);
            text.push_str(": ");
        }
        text.push_str(&self.message);
        text
    }
}

/// Every thing wrong with a config, in the order found (never empty).
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigErrors {
    errors: Vec<ConfigError>,
}

impl ConfigErrors {
    /// Errors from a list; `None` when the list is empty.
    pub fn from_vec(errors: Vec<ConfigError>) -> Option<Self> {
        (!errors.is_empty()).then_some(ConfigErrors { errors })
    }

    /// The first error, the one to lead with when there is room for only one.
    pub fn first(&self) -> &ConfigError {
        // Never empty: every constructor checks.
        &self.errors[0]
    }

    /// The reason code of the first error.
    pub fn code(&self) -> &'static ReasonCode {
        self.first().code
    }

    /// Whether reading again later may heal every error.
    pub fn is_transient(&self) -> bool {
        self.errors.iter().all(|error| error.transient)
    }

    /// How many errors there are.
    pub fn len(&self) -> usize {
        self.errors.len()
    }

    /// Always false; present because `len` is.
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// The errors in order.
    pub fn iter(&self) -> std::slice::Iter<'_, ConfigError> {
        self.errors.iter()
    }

    /// The errors as a list.
    pub fn into_vec(self) -> Vec<ConfigError> {
        self.errors
    }
}

impl From<ConfigError> for ConfigErrors {
    fn from(error: ConfigError) -> Self {
        ConfigErrors {
            errors: vec![error],
        }
    }
}

/// Keeps the first error, for callers with room for one message.
impl From<ConfigErrors> for ConfigError {
    fn from(errors: ConfigErrors) -> Self {
        errors.errors.into_iter().next().unwrap_or_else(|| {
            ConfigError::invalid(ConfigSource::Builtin, "the config has an unnamed error")
        })
    }
}

impl<'a> IntoIterator for &'a ConfigErrors {
    type Item = &'a ConfigError;
    type IntoIter = std::slice::Iter<'a, ConfigError>;

    fn into_iter(self) -> Self::IntoIter {
        self.errors.iter()
    }
}

impl IntoIterator for ConfigErrors {
    type Item = ConfigError;
    type IntoIter = std::vec::IntoIter<ConfigError>;

    fn into_iter(self) -> Self::IntoIter {
        self.errors.into_iter()
    }
}

/// The most errors a config's error list shows; the rest are counted. The first ones are what to
/// fix first, and a log line must stay readable.
pub const MAX_SHOWN_ERRORS: usize = 20;

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.errors.iter().take(MAX_SHOWN_ERRORS).enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            error.fmt(f)?;
        }
        if self.errors.len() > MAX_SHOWN_ERRORS {
            write!(
                f,
                "\n… and {} more error(s)",
                self.errors.len() - MAX_SHOWN_ERRORS
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl ConfigError {
    /// The error for `issue`, positioned from `root` when it has no position of its own.
    pub(crate) fn from_issue(
        issue: Issue,
        source: &ConfigSource,
        root: Option<&Node>,
    ) -> ConfigError {
        let pos = issue
            .pos
            .or_else(|| root.and_then(|root| issue.path.locate(root)));
        let mut error =
            ConfigError::invalid(source.clone(), issue.message).at_path(issue.path.to_string());
        if let Some(pos) = pos {
            error = error.at_position(pos.line, pos.column);
        }
        error
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_source_position_path_and_message() {
        let error = ConfigError::invalid(
            ConfigSource::Reference(ConfigReference::File("greenlight.yaml".into())),
            "expected percentage points like \"0.5pp\", got \"half\"",
        )
        .at_path("stages.PRODUCTION_TRAFFIC_SHIFT.checks[1].compare.max_increase")
        .at_position(14, 9);
        assert_eq!(
            error.to_string(),
            "greenlight.yaml:14:9: stages.PRODUCTION_TRAFFIC_SHIFT.checks[1].compare.max_increase: expected percentage points like \"0.5pp\", got \"half\""
        );
    }

    #[test]
    fn displays_without_position_or_path() {
        let error = ConfigError::invalid(ConfigSource::Inline, "the config is empty");
        assert_eq!(
            error.to_string(),
            "hookDetails.greenlight: the config is empty"
        );
    }

    #[test]
    fn errors_list_one_per_line_and_keep_the_first() {
        let errors = ConfigErrors::from_vec(vec![
            ConfigError::invalid(ConfigSource::Env, "one"),
            ConfigError::invalid(ConfigSource::Env, "two"),
        ])
        .unwrap();
        assert_eq!(
            errors.to_string(),
            "GREENLIGHT_CONFIG: one\nGREENLIGHT_CONFIG: two"
        );
        assert_eq!(ConfigError::from(errors).message, "one");
        assert!(ConfigErrors::from_vec(Vec::new()).is_none());
    }

    #[test]
    fn a_long_error_list_shows_the_first_and_counts_the_rest() {
        let errors = ConfigErrors::from_vec(
            (0..500)
                .map(|i| ConfigError::invalid(ConfigSource::Env, format!("error {i}")))
                .collect(),
        )
        .unwrap();
        let shown = errors.to_string();
        assert_eq!(shown.lines().count(), MAX_SHOWN_ERRORS + 1);
        assert!(shown.contains("error 0\n"), "{shown}");
        assert!(shown.ends_with("… and 480 more error(s)"), "{shown}");
    }
}
