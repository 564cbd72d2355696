//! Where a function finds its config. The first of these that is present wins:
//!
//! 1. **Inline**: the `greenlight` object in the hook's `hookDetails`, holding config fields
//!    (`version`, `defaults`, `stages`…). Its `state` key is reserved: the engine keeps the state
//!    of a stage between IN_PROGRESS invocations there, so config parsing ignores it, and a
//!    `greenlight` object holding only `state` is no config at all. (The engine, when it writes
//!    `state`, keeps the config keys next to it.)
//! 2. **A reference** in `hookDetails.greenlightConfig`: `ssm:/name`, `s3://bucket/key` or a path
//!    to a file bundled with the function.
//! 3. **`GREENLIGHT_CONFIG`**: the same kinds of reference, set on the function. Its value is
//!    passed in by the caller; nothing here reads the environment.
//! 4. **The built-in plans**.
//!
//! References may hold placeholders, filled in per deployment so that one function serves many
//! services: `{application}` and `{deploymentGroup}` (CodeDeploy), `{cluster}` and `{service}`
//! (ECS). Reading a reference is the job of a [`ConfigReferenceReader`]: [`FileReader`] here
//! reads bundled files; SSM and S3 readers live with the AWS adapters.

use std::fmt;
use std::future::Future;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::pin::Pin;

use super::error::{ConfigError, ConfigErrors, ConfigSource};
use super::{Config, ConfigFormat};
use crate::document::node::{MAX_CONFIG_BYTES, quote};
use crate::protocol::{CONFIG_REFERENCE_KEY, GREENLIGHT_DETAILS_KEY, STATE_KEY};

/// The environment variable naming a config reference.
pub const ENV_VAR: &str = "GREENLIGHT_CONFIG";

/// Where a config can be read from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ConfigReference {
    /// An SSM parameter (`ssm:/greenlight/config/web` or `ssm:greenlight-web`; an ARN works too).
    Ssm(String),
    /// An S3 object (`s3://bucket/path/greenlight.yaml`).
    S3 {
        /// The bucket.
        bucket: String,
        /// The object key.
        key: String,
    },
    /// A file, usually bundled with the function (relative paths are from the working directory,
    /// which is the function's code directory on Lambda).
    File(PathBuf),
}

/// SSM parameter names are at most 2048 characters, ARNs included.
const MAX_SSM_NAME: usize = 2048;

impl ConfigReference {
    /// Parses a reference, after filling in its placeholders from `placeholders`. Errors are
    /// `CONFIG_REFERENCE_INVALID`, naming `source` (where the reference was written); like every
    /// fallible config function it returns [`ConfigErrors`], here holding one.
    pub fn parse(
        raw: &str,
        placeholders: &Placeholders,
        source: ConfigSource,
    ) -> Result<ConfigReference, ConfigErrors> {
        let invalid = |message: String| {
            ConfigErrors::from(ConfigError::reference_invalid(source.clone(), message))
        };
        let text = placeholders.fill(raw.trim()).map_err(invalid)?;
        if text.is_empty() {
            return Err(invalid(
                "the config reference is empty; use ssm:/name, s3://bucket/key or a file path"
                    .into(),
            ));
        }
        if let Some(name) = text.strip_prefix("ssm:") {
            let valid = !name.is_empty()
                && name.len() <= MAX_SSM_NAME
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.-/:".contains(c));
            if !valid {
                return Err(invalid(format!(
                    "{} is not an SSM parameter name (letters, digits, _ . - and /, like ssm:/greenlight/config/web)",
                    quote(&text)
                )));
            }
            return Ok(ConfigReference::Ssm(name.to_owned()));
        }
        if let Some(rest) = text.strip_prefix("s3://") {
            let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
            let bucket_ok = (3..=63).contains(&bucket.len())
                && bucket
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-');
            if !bucket_ok || key.is_empty() {
                return Err(invalid(format!(
                    "{} is not an S3 object reference; use s3://bucket/key.yaml",
                    quote(&text)
                )));
            }
            return Ok(ConfigReference::S3 {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
            });
        }
        if let Some((scheme, _)) = text.split_once("://") {
            return Err(invalid(format!(
                "{scheme}:// references are not supported; use ssm:/name, s3://bucket/key or a file path"
            )));
        }
        if text.chars().any(|c| c.is_control()) {
            return Err(invalid(format!("{} is not a file path", quote(&text))));
        }
        Ok(ConfigReference::File(PathBuf::from(text)))
    }

    /// The format of what the reference points at: JSON for names ending in `.json`, else YAML
    /// (which reads JSON too).
    pub fn format(&self) -> ConfigFormat {
        match self {
            ConfigReference::Ssm(name) => ConfigFormat::for_name(name),
            ConfigReference::S3 { key, .. } => ConfigFormat::for_name(key),
            ConfigReference::File(path) => ConfigFormat::for_path(path),
        }
    }
}

impl fmt::Display for ConfigReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigReference::Ssm(name) => write!(f, "ssm:{name}"),
            ConfigReference::S3 { bucket, key } => write!(f, "s3://{bucket}/{key}"),
            ConfigReference::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// Values for the placeholders of a reference, from the deployment being judged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Placeholders {
    /// `{application}`: the CodeDeploy application.
    pub application: Option<String>,
    /// `{deploymentGroup}`: the CodeDeploy deployment group.
    pub deployment_group: Option<String>,
    /// `{cluster}`: the ECS cluster name.
    pub cluster: Option<String>,
    /// `{service}`: the ECS service name.
    pub service: Option<String>,
}

impl Placeholders {
    const NAMES: [&'static str; 4] = ["application", "deploymentGroup", "cluster", "service"];

    fn value(&self, name: &str) -> Option<&Option<String>> {
        match name {
            "application" => Some(&self.application),
            "deploymentGroup" => Some(&self.deployment_group),
            "cluster" => Some(&self.cluster),
            "service" => Some(&self.service),
            _ => None,
        }
    }

    /// `raw` with every `{placeholder}` replaced. A placeholder that is unknown, or has no value
    /// for this deployment, is an error; so is a value that could change the shape of the reference
    /// (a `/` or `..` could reach another parameter or file).
    pub fn fill(&self, raw: &str) -> Result<String, String> {
        let mut filled = String::new();
        let mut rest = raw;
        while let Some(open) = rest.find('{') {
            filled.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            let Some(close) = after.find('}') else {
                return Err(format!("{} has a `{{` without its `}}`", quote(raw)));
            };
            let name = &after[..close];
            let value = match self.value(name) {
                None => {
                    return Err(format!(
                        "unknown placeholder {} in {}; known: {}",
                        quote(&format!("{{{name}}}")),
                        quote(raw),
                        Self::NAMES.map(|n| format!("{{{n}}}")).join(", ")
                    ));
                }
                Some(None) => {
                    return Err(format!(
                        "placeholder {{{name}}} in {} has no value for this deployment",
                        quote(raw)
                    ));
                }
                Some(Some(value)) => value,
            };
            let safe = !value.is_empty()
                && value != "."
                && value != ".."
                && value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
            if !safe {
                return Err(format!(
                    "placeholder {{{name}}} has the value {}, which a reference cannot hold (letters, digits, - _ . only)",
                    quote(value)
                ));
            }
            filled.push_str(value);
            rest = &after[close + 1..];
        }
        filled.push_str(rest);
        Ok(filled)
    }
}

/// Why a reference could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadErrorKind {
    /// The file, parameter or object does not exist.
    NotFound,
    /// The function's role may not read it.
    AccessDenied,
    /// It is larger than a config may be.
    TooLarge,
    /// This reader does not read this kind of reference.
    Unsupported,
    /// The store is throttling or unavailable; reading again later may work.
    Unavailable,
    /// Anything else.
    Other,
}

impl ReadErrorKind {
    /// Whether reading again later may work.
    pub fn is_transient(self) -> bool {
        self == ReadErrorKind::Unavailable
    }
}

/// A reference could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ReadError {
    /// Why, for callers that act on it.
    pub kind: ReadErrorKind,
    /// Why, in words (naming the missing permission when there is one).
    pub message: String,
}

impl ReadError {
    /// A read error of `kind`.
    pub fn new(kind: ReadErrorKind, message: impl Into<String>) -> Self {
        ReadError {
            kind,
            message: message.into(),
        }
    }
}

/// The future a [`ConfigReferenceReader`] returns.
pub type ReadFuture<'a> = Pin<Box<dyn Future<Output = Result<String, ReadError>> + Send + 'a>>;

/// Reads the text a reference points at. Implementations refuse texts over
/// [`MAX_CONFIG_BYTES`] without reading them whole.
pub trait ConfigReferenceReader: Send + Sync {
    /// Reads `reference`.
    fn read<'a>(&'a self, reference: &'a ConfigReference) -> ReadFuture<'a>;
}

/// Reads file references from the local file system (bundled configs, and the CLI).
#[derive(Debug, Clone, Default)]
pub struct FileReader {
    root: Option<PathBuf>,
}

impl FileReader {
    /// A reader of any path, relative to the working directory: for the CLI, whose user names
    /// the file.
    pub fn new() -> Self {
        FileReader::default()
    }

    /// A reader confined to `root`, the function's package: a relative path is read under it, an
    /// absolute one only when it lies under it; `..` is refused, and the file must be a regular
    /// file that is still under `root` once symlinks are resolved. Whoever writes `hookDetails`
    /// must not be able to make the function read (and echo) `/etc/passwd` or its environment.
    pub fn with_root(root: impl Into<PathBuf>) -> Self {
        FileReader {
            root: Some(root.into()),
        }
    }

    /// The reader a function uses: confined to its package (`LAMBDA_TASK_ROOT`, else the working
    /// directory).
    pub fn for_function_package() -> Self {
        let root = std::env::var_os("LAMBDA_TASK_ROOT")
            .filter(|root| !root.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::current_dir().ok())
            .unwrap_or_else(|| PathBuf::from("."));
        FileReader::with_root(root)
    }

    /// Where `path` may be read, or why not.
    fn locate(&self, path: &Path) -> Result<PathBuf, ReadError> {
        let Some(root) = &self.root else {
            return Ok(path.to_owned());
        };
        let refused = |why: String| ReadError::new(ReadErrorKind::Unsupported, why);
        if path
            .components()
            .any(|part| matches!(part, std::path::Component::ParentDir))
        {
            return Err(refused(format!(
                "{}: a file reference may not contain `..`; name a file inside the function's package ({})",
                path.display(),
                root.display()
            )));
        }
        let full = if path.is_absolute() {
            path.to_owned()
        } else {
            root.join(path)
        };
        let outside = || {
            refused(format!(
                "{} is outside the function's package ({}); bundle the config with the function and name it relative to the package",
                path.display(),
                root.display()
            ))
        };
        if !full.starts_with(root) {
            return Err(outside());
        }
        // Symlinks resolved, the file must still be in the package, and be a regular file.
        let real = std::fs::canonicalize(&full).map_err(|error| io_error(path, &error))?;
        let real_root = std::fs::canonicalize(root).map_err(|error| io_error(root, &error))?;
        if !real.starts_with(&real_root) {
            return Err(outside());
        }
        let metadata = std::fs::metadata(&real).map_err(|error| io_error(path, &error))?;
        if !metadata.is_file() {
            return Err(refused(format!("{} is not a regular file", path.display())));
        }
        Ok(real)
    }

    /// Reads a file, refusing one over [`MAX_CONFIG_BYTES`].
    pub fn read_path(&self, path: &Path) -> Result<String, ReadError> {
        let full = self.locate(path)?;
        let file = std::fs::File::open(&full).map_err(|error| io_error(path, &error))?;
        let mut text = String::new();
        // One byte over the limit tells a too-large file from one exactly at it.
        let limit = u64::try_from(MAX_CONFIG_BYTES)
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        file.take(limit)
            .read_to_string(&mut text)
            .map_err(|error| io_error(path, &error))?;
        if text.len() > MAX_CONFIG_BYTES {
            return Err(ReadError::new(
                ReadErrorKind::TooLarge,
                format!("{} is larger than {MAX_CONFIG_BYTES} bytes", path.display()),
            ));
        }
        Ok(text)
    }
}

fn io_error(path: &Path, error: &std::io::Error) -> ReadError {
    let kind = match error.kind() {
        std::io::ErrorKind::NotFound => ReadErrorKind::NotFound,
        std::io::ErrorKind::PermissionDenied => ReadErrorKind::AccessDenied,
        _ => ReadErrorKind::Other,
    };
    let what = match error.kind() {
        std::io::ErrorKind::InvalidData => "is not UTF-8 text".to_owned(),
        _ => error.to_string(),
    };
    ReadError::new(kind, format!("{}: {what}", path.display()))
}

impl ConfigReferenceReader for FileReader {
    fn read<'a>(&'a self, reference: &'a ConfigReference) -> ReadFuture<'a> {
        // Bundled configs are a few KB on local disk: a blocking read is shorter than handing it to
        // a thread, and keeps the core free of tokio's fs feature.
        let result = match reference {
            ConfigReference::File(path) => self.read_path(path),
            other => Err(ReadError::new(
                ReadErrorKind::Unsupported,
                format!("{other} is not a file; this function has no reader for it"),
            )),
        };
        Box::pin(std::future::ready(result))
    }
}

/// What the caller knows that decides where the config comes from.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConfigLookup<'a> {
    /// The hook's `hookDetails`, if any.
    pub hook_details: Option<&'a serde_json::Value>,
    /// The value of `GREENLIGHT_CONFIG`, if set.
    pub env_config: Option<&'a str>,
    /// Values for the placeholders of references.
    pub placeholders: Option<&'a Placeholders>,
}

/// A config and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedConfig {
    /// The validated config.
    pub config: Config,
    /// Where it came from.
    pub source: ConfigSource,
}

/// Finds, reads, parses and validates the config for one invocation (see the module docs for the
/// order). A config that is present but broken is an error, never a silent fall back to the
/// built-in plans: a team that wrote checks must not get fewer than it asked for.
pub async fn resolve_config(
    lookup: &ConfigLookup<'_>,
    reader: &dyn ConfigReferenceReader,
) -> Result<ResolvedConfig, ConfigErrors> {
    let no_placeholders = Placeholders::default();
    let placeholders = lookup.placeholders.unwrap_or(&no_placeholders);
    let details = lookup.hook_details.and_then(serde_json::Value::as_object);

    if let Some(inline) = details.and_then(|details| details.get(GREENLIGHT_DETAILS_KEY)) {
        match inline {
            serde_json::Value::Object(fields) => {
                let config: serde_json::Map<_, _> = fields
                    .iter()
                    .filter(|(key, _)| key.as_str() != STATE_KEY)
                    .map(|(key, value)| (key.clone(), value.clone()))
                    .collect();
                if !config.is_empty() {
                    let value = serde_json::Value::Object(config);
                    return Config::from_json_value(&value, ConfigSource::Inline).map(|config| {
                        ResolvedConfig {
                            config,
                            source: ConfigSource::Inline,
                        }
                    });
                }
            }
            serde_json::Value::Null => {}
            other => {
                return Err(ConfigError::invalid(
                    ConfigSource::Inline,
                    format!(
                        "expected an object of config fields (and the reserved `state`), got {}",
                        json_kind(other)
                    ),
                )
                .into());
            }
        }
    }

    if let Some(reference) = details.and_then(|details| details.get(CONFIG_REFERENCE_KEY)) {
        let Some(raw) = reference.as_str() else {
            return Err(ConfigError::reference_invalid(
                ConfigSource::HookReference,
                format!(
                    "expected a reference string (ssm:/name, s3://bucket/key or a file path), got {}",
                    json_kind(reference)
                ),
            )
            .into());
        };
        let reference = ConfigReference::parse(raw, placeholders, ConfigSource::HookReference)?;
        return read_reference(reference, reader).await;
    }

    if let Some(raw) = lookup.env_config.filter(|raw| !raw.trim().is_empty()) {
        let reference = ConfigReference::parse(raw, placeholders, ConfigSource::Env)?;
        return read_reference(reference, reader).await;
    }

    Config::builtin().map(|config| ResolvedConfig {
        config,
        source: ConfigSource::Builtin,
    })
}

async fn read_reference(
    reference: ConfigReference,
    reader: &dyn ConfigReferenceReader,
) -> Result<ResolvedConfig, ConfigErrors> {
    let text = reader
        .read(&reference)
        .await
        .map_err(|cause| ConfigError::unreadable(&reference, cause))?;
    let source = ConfigSource::Reference(reference.clone());
    if text.len() > MAX_CONFIG_BYTES {
        return Err(ConfigError::unreadable(
            &reference,
            ReadError::new(
                ReadErrorKind::TooLarge,
                format!("larger than {MAX_CONFIG_BYTES} bytes"),
            ),
        )
        .into());
    }
    Config::parse(&text, reference.format(), source.clone())
        .map(|config| ResolvedConfig { config, source })
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use serde_json::json;

    use super::*;
    use crate::config::StageOrigin;
    use crate::document::codes::{CONFIG_INVALID, CONFIG_REFERENCE_INVALID, CONFIG_UNREADABLE};
    use crate::stage::LifecycleStage;

    /// A reader over texts in memory that remembers what it was asked for.
    #[derive(Default)]
    struct MemoryReader {
        texts: HashMap<String, Result<String, ReadError>>,
        asked: Mutex<Vec<String>>,
    }

    impl MemoryReader {
        fn with(mut self, reference: &str, text: &str) -> Self {
            self.texts.insert(reference.into(), Ok(text.into()));
            self
        }

        fn failing(mut self, reference: &str, error: ReadError) -> Self {
            self.texts.insert(reference.into(), Err(error));
            self
        }
    }

    impl ConfigReferenceReader for MemoryReader {
        fn read<'a>(&'a self, reference: &'a ConfigReference) -> ReadFuture<'a> {
            let key = reference.to_string();
            if let Ok(mut asked) = self.asked.lock() {
                asked.push(key.clone());
            }
            let result = self.texts.get(&key).cloned().unwrap_or_else(|| {
                Err(ReadError::new(
                    ReadErrorKind::NotFound,
                    format!("{key} does not exist"),
                ))
            });
            Box::pin(async move { result })
        }
    }

    const TEAM: &str =
        "version: 1\nstages:\n  POST_SCALE_UP:\n    - tasks: { min_running_percent: 50 }\n";
    const ENV: &str =
        "version: 1\nstages:\n  PRE_SCALE_UP:\n    - image: { require_digest_pinning: true }\n";

    fn inline() -> serde_json::Value {
        json!({"version": 1, "stages": {"POST_SCALE_UP": [{"target_health": {"group": "green"}}]}})
    }

    fn resolve(
        details: Option<serde_json::Value>,
        env: Option<&str>,
        reader: &MemoryReader,
    ) -> Result<ResolvedConfig, ConfigErrors> {
        let placeholders = Placeholders {
            service: Some("web".into()),
            ..Placeholders::default()
        };
        let lookup = ConfigLookup {
            hook_details: details.as_ref(),
            env_config: env,
            placeholders: Some(&placeholders),
        };
        block_on(resolve_config(&lookup, reader))
    }

    fn block_on<F: Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    fn reader() -> MemoryReader {
        MemoryReader::default()
            .with("ssm:/greenlight/web", TEAM)
            .with("env.yaml", ENV)
    }

    #[test]
    fn inline_beats_reference_beats_env_beats_builtin() {
        let reader = reader();
        let both = json!({"greenlight": inline(), "greenlightConfig": "ssm:/greenlight/web"});
        let resolved = resolve(Some(both), Some("env.yaml"), &reader).unwrap();
        assert_eq!(resolved.source, ConfigSource::Inline);
        assert!(
            reader.asked.lock().unwrap().is_empty(),
            "inline config reads nothing"
        );

        let resolved = resolve(
            Some(json!({"greenlightConfig": "ssm:/greenlight/{service}"})),
            Some("env.yaml"),
            &reader,
        )
        .unwrap();
        assert_eq!(resolved.source.to_string(), "ssm:/greenlight/web");
        assert_eq!(
            resolved
                .config
                .stages_from(StageOrigin::Config)
                .collect::<Vec<_>>(),
            vec![&LifecycleStage::PostScaleUp]
        );

        let resolved = resolve(Some(json!({"other": 1})), Some("env.yaml"), &reader).unwrap();
        assert_eq!(resolved.source.to_string(), "env.yaml");

        let resolved = resolve(None, None, &reader).unwrap();
        assert_eq!(resolved.source, ConfigSource::Builtin);
        assert!(
            resolved
                .config
                .stage_plan(&LifecycleStage::PostScaleUp)
                .is_some()
        );
    }

    #[test]
    fn inline_config_with_state_still_parses_and_state_alone_is_no_config() {
        let reader = reader();
        let mut with_state = inline();
        with_state["state"] = json!({"startedAt": 1_700_000_000, "attempts": 3, "checks": {}});
        let resolved = resolve(Some(json!({"greenlight": with_state})), None, &reader).unwrap();
        assert_eq!(resolved.source, ConfigSource::Inline);

        let state_only = json!({"greenlight": {"state": {"attempts": 2}}, "greenlightConfig": "ssm:/greenlight/web"});
        let resolved = resolve(Some(state_only), None, &reader).unwrap();
        assert_eq!(resolved.source.to_string(), "ssm:/greenlight/web");
    }

    #[test]
    fn broken_inline_config_is_an_error_with_field_paths() {
        let details = json!({"greenlight": {"version": 1, "stages": {"POST_SCALE_UP": [{"tasks": {"min_running_percent": "lots"}}]}}});
        let errors = resolve(Some(details), None, &reader()).unwrap_err();
        assert_eq!(errors.code(), &CONFIG_INVALID);
        assert_eq!(
            errors.first().to_string(),
            "hookDetails.greenlight: stages.POST_SCALE_UP[0].tasks.min_running_percent: expected a percentage like \"1%\" or a number from 0 to 100, got \"lots\""
        );
        let errors = resolve(Some(json!({"greenlight": "ssm:/x"})), None, &reader()).unwrap_err();
        assert!(errors.first().message.contains("got a string"));
    }

    #[test]
    fn unreadable_reference_is_config_unreadable() {
        let denied = reader().failing(
            "s3://team-configs/web.yaml",
            ReadError::new(ReadErrorKind::AccessDenied, "s3:GetObject denied"),
        );
        let errors = resolve(
            Some(json!({"greenlightConfig": "s3://team-configs/web.yaml"})),
            None,
            &denied,
        )
        .unwrap_err();
        let error = errors.first();
        assert_eq!(error.code, &CONFIG_UNREADABLE);
        assert!(!errors.is_transient());
        assert_eq!(
            error.to_string(),
            "s3://team-configs/web.yaml: could not read the config: s3:GetObject denied"
        );
        assert_eq!(
            error.cause.as_ref().map(|c| c.kind),
            Some(ReadErrorKind::AccessDenied)
        );

        let throttled = MemoryReader::default().failing(
            "ssm:/x",
            ReadError::new(ReadErrorKind::Unavailable, "throttled"),
        );
        assert!(
            resolve(None, Some("ssm:/x"), &throttled)
                .unwrap_err()
                .is_transient()
        );

        let errors = resolve(None, Some("missing.yaml"), &reader()).unwrap_err();
        assert_eq!(errors.code(), &CONFIG_UNREADABLE);
    }

    #[test]
    fn bad_references_are_config_reference_invalid() {
        for (details, env, source) in [
            (
                Some(json!({"greenlightConfig": "https://example.com/x.yaml"})),
                None,
                "hookDetails.greenlightConfig",
            ),
            (
                Some(json!({"greenlightConfig": 42})),
                None,
                "hookDetails.greenlightConfig",
            ),
            (None, Some("s3://Bad_Bucket/x"), "GREENLIGHT_CONFIG"),
            (None, Some("ssm:"), "GREENLIGHT_CONFIG"),
            (
                None,
                Some("ssm:/greenlight/{application}"),
                "GREENLIGHT_CONFIG",
            ),
            (None, Some("ssm:/greenlight/{team}"), "GREENLIGHT_CONFIG"),
        ] {
            let errors = resolve(details, env, &reader()).unwrap_err();
            assert_eq!(errors.code(), &CONFIG_REFERENCE_INVALID, "{errors}");
            assert_eq!(errors.first().source.to_string(), source);
        }
    }

    #[test]
    fn a_broken_referenced_config_names_its_source_and_line() {
        let reader = MemoryReader::default().with(
            "ssm:/x",
            "version: 1\nstages:\n  POST_SCALE_UP:\n    - tasks: { min_running_percent: lots }\n",
        );
        let errors = resolve(None, Some("ssm:/x"), &reader).unwrap_err();
        assert_eq!(
            errors.first().to_string(),
            "ssm:/x:4:37: stages.POST_SCALE_UP[0].tasks.min_running_percent: expected a percentage like \"1%\" or a number from 0 to 100, got \"lots\""
        );
    }

    #[test]
    fn references_parse_every_supported_form() {
        let none = Placeholders::default();
        let parse = |raw: &str| ConfigReference::parse(raw, &none, ConfigSource::Env);
        assert_eq!(
            parse("ssm:/greenlight/web"),
            Ok(ConfigReference::Ssm("/greenlight/web".into()))
        );
        assert_eq!(
            parse("ssm:greenlight-web"),
            Ok(ConfigReference::Ssm("greenlight-web".into()))
        );
        assert_eq!(
            parse("s3://team-configs/web/greenlight.json"),
            Ok(ConfigReference::S3 {
                bucket: "team-configs".into(),
                key: "web/greenlight.json".into()
            })
        );
        assert_eq!(
            parse("config/greenlight.yaml"),
            Ok(ConfigReference::File("config/greenlight.yaml".into()))
        );
        assert_eq!(
            parse("s3://team-configs/web/greenlight.json").map(|r| r.format()),
            Ok(ConfigFormat::Json)
        );
        assert_eq!(
            parse("ssm:/greenlight/web").map(|r| r.format()),
            Ok(ConfigFormat::Yaml)
        );
        for bad in [
            "",
            "ssm:/has space",
            "s3://bucket",
            "s3://b/key",
            "ftp://x/y",
        ] {
            assert_eq!(
                parse(bad).map_err(|e| e.code()),
                Err(&CONFIG_REFERENCE_INVALID),
                "{bad}"
            );
        }
    }

    #[test]
    fn placeholders_fill_codedeploy_and_ecs_names_safely() {
        let placeholders = Placeholders {
            application: Some("web-app".into()),
            deployment_group: Some("web-dg".into()),
            cluster: None,
            service: Some("../etc".into()),
        };
        assert_eq!(
            placeholders.fill("ssm:/greenlight/{application}/{deploymentGroup}"),
            Ok("ssm:/greenlight/web-app/web-dg".into())
        );
        assert!(
            placeholders
                .fill("{cluster}")
                .unwrap_err()
                .contains("no value")
        );
        assert!(
            placeholders
                .fill("{service}")
                .unwrap_err()
                .contains("cannot hold")
        );
        assert!(
            placeholders
                .fill("{nope}")
                .unwrap_err()
                .contains("unknown placeholder")
        );
        assert!(
            placeholders
                .fill("{application")
                .unwrap_err()
                .contains("without its")
        );
    }

    #[test]
    fn file_reader_reads_files_and_refuses_others() {
        let dir = std::env::temp_dir().join(format!("greenlight-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("ok.yaml"), TEAM).unwrap();
        std::fs::write(dir.join("big.yaml"), "#".repeat(MAX_CONFIG_BYTES + 10)).unwrap();
        let reader = FileReader::with_root(&dir);
        let read = |reference: ConfigReference| block_on(reader.read(&reference));
        assert_eq!(
            read(ConfigReference::File("ok.yaml".into())),
            Ok(TEAM.to_owned())
        );
        assert_eq!(
            read(ConfigReference::File("big.yaml".into()))
                .unwrap_err()
                .kind,
            ReadErrorKind::TooLarge
        );
        assert_eq!(
            read(ConfigReference::File("none.yaml".into()))
                .unwrap_err()
                .kind,
            ReadErrorKind::NotFound
        );
        assert_eq!(
            read(ConfigReference::Ssm("/x".into())).unwrap_err().kind,
            ReadErrorKind::Unsupported
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_function_reads_only_regular_files_inside_its_package() {
        let base = std::env::temp_dir().join(format!("greenlight-package-{}", std::process::id()));
        let package = base.join("package");
        std::fs::create_dir_all(package.join("configs")).unwrap();
        std::fs::write(package.join("configs/web.yaml"), TEAM).unwrap();
        std::fs::write(base.join("outside.yaml"), TEAM).unwrap();
        std::os::unix::fs::symlink(base.join("outside.yaml"), package.join("link.yaml")).unwrap();
        let reader = FileReader::with_root(&package);
        let read = |path: &str| reader.read_path(Path::new(path));

        assert_eq!(read("configs/web.yaml"), Ok(TEAM.to_owned()));
        let absolute = package.join("configs/web.yaml");
        assert_eq!(read(absolute.to_str().unwrap()), Ok(TEAM.to_owned()));
        for (path, why) in [
            ("/etc/passwd", "outside the function's package"),
            ("../outside.yaml", "may not contain `..`"),
            ("configs/../../outside.yaml", "may not contain `..`"),
            ("link.yaml", "outside the function's package"),
            ("configs", "not a regular file"),
        ] {
            let error = read(path).unwrap_err();
            assert_eq!(error.kind, ReadErrorKind::Unsupported, "{path}");
            assert!(error.message.contains(why), "{path}: {}", error.message);
            assert!(
                !error.message.contains("root:x:0"),
                "{path}: echoed content"
            );
        }
        std::fs::remove_dir_all(&base).unwrap();
    }
}
