//! The functions' log lines, to Lambda's conventions (Lambda developer guide, *Log-level
//! filtering* and *JSON log format*): with the function's `LogFormat: JSON`, each line is one JSON
//! object whose `level` Lambda filters on and whose `timestamp` is RFC 3339 (a line without a
//! valid timestamp gets the time Lambda received it; one without a valid level counts as INFO).
//! The level is Lambda's `AWS_LAMBDA_LOG_LEVEL` (`TRACE`, `DEBUG`, `INFO`, `WARN`, `ERROR`,
//! `FATAL`), else `RUST_LOG`, else INFO. `tracing` has no FATAL: it keeps ERROR, the only level
//! FATAL lets through.
//!
//! The Lambda runtime crate's default subscriber writes no timestamp and reads FATAL as INFO,
//! which is why greenlight installs its own.

use tracing::Subscriber;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// What the environment asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    /// JSON lines (`AWS_LAMBDA_LOG_FORMAT=JSON`), else text.
    pub json: bool,
    /// The most verbose level kept.
    pub level: LevelFilter,
    /// `RUST_LOG` directives, used only when Lambda names no level.
    pub directives: Option<String>,
    /// A level Lambda named that is not one of its own, said once the subscriber is up.
    pub unknown_level: Option<String>,
}

impl LogSettings {
    /// From the environment, read by `get`.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        let json =
            get("AWS_LAMBDA_LOG_FORMAT").is_some_and(|format| format.eq_ignore_ascii_case("json"));
        match get("AWS_LAMBDA_LOG_LEVEL").filter(|level| !level.trim().is_empty()) {
            Some(named) => {
                let level = lambda_level(&named);
                LogSettings {
                    json,
                    level: level.unwrap_or(LevelFilter::INFO),
                    directives: None,
                    unknown_level: level.is_none().then_some(named),
                }
            }
            None => LogSettings {
                json,
                level: LevelFilter::INFO,
                directives: get("RUST_LOG").filter(|value| !value.trim().is_empty()),
                unknown_level: None,
            },
        }
    }
}

/// One of Lambda's log levels as a `tracing` filter; `None` for anything else.
pub fn lambda_level(name: &str) -> Option<LevelFilter> {
    match name.trim().to_ascii_uppercase().as_str() {
        "TRACE" => Some(LevelFilter::TRACE),
        "DEBUG" => Some(LevelFilter::DEBUG),
        "INFO" => Some(LevelFilter::INFO),
        "WARN" => Some(LevelFilter::WARN),
        "ERROR" | "FATAL" => Some(LevelFilter::ERROR),
        _ => None,
    }
}

/// The subscriber for `settings`, writing to `writer`: RFC 3339 timestamps (UTC, microseconds),
/// the level, the fields.
pub fn subscriber<W>(settings: &LogSettings, writer: W) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    let filter = EnvFilter::builder()
        .with_default_directive(settings.level.into())
        .parse_lossy(settings.directives.as_deref().unwrap_or_default());
    let builder = tracing_subscriber::fmt()
        .with_target(false)
        .with_env_filter(filter)
        .with_writer(writer);
    if settings.json {
        Box::new(builder.json().finish())
    } else {
        Box::new(builder.finish())
    }
}

/// Installs the subscriber the environment asks for, writing to stdout (where Lambda reads).
pub fn init() {
    let settings = LogSettings::from_lookup(|name| std::env::var(name).ok());
    if tracing::subscriber::set_global_default(subscriber(&settings, std::io::stdout)).is_ok()
        && let Some(named) = &settings.unknown_level
    {
        tracing::warn!(
            level = %named,
            "AWS_LAMBDA_LOG_LEVEL is not one of Lambda's levels (TRACE, DEBUG, INFO, WARN, ERROR, FATAL); logging at INFO"
        );
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    use super::*;

    fn settings(vars: &[(&str, &str)]) -> LogSettings {
        let vars: BTreeMap<String, String> = vars
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        LogSettings::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn lambda_levels_map_to_tracing_and_fatal_keeps_errors_only() {
        for (name, level) in [
            ("TRACE", LevelFilter::TRACE),
            ("DEBUG", LevelFilter::DEBUG),
            ("INFO", LevelFilter::INFO),
            ("WARN", LevelFilter::WARN),
            ("ERROR", LevelFilter::ERROR),
            ("FATAL", LevelFilter::ERROR),
            ("warn", LevelFilter::WARN),
        ] {
            assert_eq!(
                settings(&[("AWS_LAMBDA_LOG_LEVEL", name)]).level,
                level,
                "{name}"
            );
        }
        let odd = settings(&[("AWS_LAMBDA_LOG_LEVEL", "LOUD")]);
        assert_eq!(
            (odd.level, odd.unknown_level.as_deref()),
            (LevelFilter::INFO, Some("LOUD"))
        );
    }

    #[test]
    fn lambda_s_level_wins_over_rust_log_which_is_used_alone() {
        let both = settings(&[("AWS_LAMBDA_LOG_LEVEL", "WARN"), ("RUST_LOG", "debug")]);
        assert_eq!((both.level, both.directives), (LevelFilter::WARN, None));
        let rust = settings(&[("RUST_LOG", "debug")]);
        assert_eq!(rust.directives.as_deref(), Some("debug"));
        assert!(!rust.json);
        assert!(settings(&[("AWS_LAMBDA_LOG_FORMAT", "JSON")]).json);
    }

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("buffer").extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    fn lines(vars: &[(&str, &str)], log: impl FnOnce()) -> Vec<serde_json::Value> {
        let buffer = Buffer::default();
        tracing::subscriber::with_default(subscriber(&settings(vars), buffer.clone()), log);
        let text = String::from_utf8(buffer.0.lock().expect("buffer").clone()).expect("utf-8");
        text.lines()
            .map(|line| serde_json::from_str(line).expect("each line is JSON"))
            .collect()
    }

    #[test]
    fn json_lines_carry_an_rfc3339_timestamp_and_the_level_lambda_filters_on() {
        let lines = lines(&[("AWS_LAMBDA_LOG_FORMAT", "JSON")], || {
            tracing::warn!(code = "HTTP_ERROR_RATE", "greenlight check");
        });
        assert_eq!(lines.len(), 1);
        let line = &lines[0];
        assert_eq!(line["level"], "WARN");
        assert_eq!(line["fields"]["code"], "HTTP_ERROR_RATE");
        let timestamp = line["timestamp"].as_str().expect("a timestamp");
        assert!(
            humantime::parse_rfc3339(timestamp).is_ok(),
            "not RFC 3339: {timestamp}"
        );
    }

    #[test]
    fn warn_keeps_warnings_and_drops_information() {
        let lines = lines(
            &[
                ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
                ("AWS_LAMBDA_LOG_LEVEL", "WARN"),
            ],
            || {
                tracing::info!("passed");
                tracing::warn!("failed");
            },
        );
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0]["fields"]["message"], "failed");
    }
}
