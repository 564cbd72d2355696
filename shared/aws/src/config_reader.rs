//! Reads config references from SSM Parameter Store and S3 (and bundled files).
//!
//! [`AwsConfigReader`] is the core's [`ConfigReferenceReader`] for a Lambda function:
//! - `ssm:/name` → `GetParameter` with decryption, so a `SecureString` works too;
//! - `s3://bucket/key` → `GetObject`, refusing an object larger than [`MAX_CONFIG_BYTES`] from its
//!   `Content-Length` without reading it, and stopping a body without one at the limit;
//! - a path → the core's [`FileReader`], confined to the function's package (`LAMBDA_TASK_ROOT`).
//!
//! Errors become [`ReadError`]s whose kind says whether reading again later may work, and whose
//! message names the IAM action that was denied (`ssm:GetParameter`, `s3:GetObject`, or
//! `kms:Decrypt` when the key of an encrypted parameter or object is the obstacle).

use greenlight_core::config::{
    ConfigReference, ConfigReferenceReader, FileReader, MAX_CONFIG_BYTES, ReadError, ReadErrorKind,
    ReadFuture,
};
use greenlight_core::facts::FactError;

use crate::clients::AwsClients;
use crate::error::classify;

const SSM_GET_PARAMETER: &str = "ssm:GetParameter";
const S3_GET_OBJECT: &str = "s3:GetObject";
const KMS_DECRYPT: &str = "kms:Decrypt";

/// Reads `ssm:`, `s3://` and file config references.
#[derive(Debug, Clone)]
pub struct AwsConfigReader {
    ssm: aws_sdk_ssm::Client,
    s3: aws_sdk_s3::Client,
    files: FileReader,
}

impl AwsConfigReader {
    /// A reader using the shared clients, reading file paths only inside the function's package
    /// (`LAMBDA_TASK_ROOT`, the code directory on Lambda).
    pub fn new(clients: &AwsClients) -> Self {
        Self::with_clients(clients.ssm.clone(), clients.s3.clone())
    }

    /// A reader from the only two clients it uses.
    pub fn with_clients(ssm: aws_sdk_ssm::Client, s3: aws_sdk_s3::Client) -> Self {
        AwsConfigReader {
            ssm,
            s3,
            files: FileReader::for_function_package(),
        }
    }

    /// The same reader with file references read by `files` (e.g. relative to another root).
    pub fn with_file_reader(mut self, files: FileReader) -> Self {
        self.files = files;
        self
    }

    async fn read_ssm(&self, name: &str, reference: &ConfigReference) -> Result<String, ReadError> {
        let output = self
            .ssm
            .get_parameter()
            .name(name)
            .with_decryption(true)
            .send()
            .await
            .map_err(|error| {
                let code = aws_smithy_types::error::metadata::ProvideErrorMetadata::code(&error);
                // An invalid or disabled key is the key's problem, not a missing permission.
                if let Some(code @ ("InvalidKeyId" | "KMSInvalidStateException")) = code {
                    return ReadError::new(
                        ReadErrorKind::Other,
                        format!(
                            "{reference}: its KMS key cannot decrypt it ({code}); check the key named on the parameter"
                        ),
                    );
                }
                let fact = classify(
                    &error,
                    SSM_GET_PARAMETER,
                    &format!("parameter {name}"),
                    &[
                        ("ParameterNotFound", "SSM parameter"),
                        ("ParameterVersionNotFound", "SSM parameter version"),
                    ],
                );
                read_error(&fact, reference, None)
            })?;
        let value = output
            .parameter()
            .and_then(|parameter| parameter.value())
            .ok_or_else(|| {
                ReadError::new(
                    ReadErrorKind::Other,
                    format!("{reference}: GetParameter answered without a value"),
                )
            })?;
        if value.len() > MAX_CONFIG_BYTES {
            return Err(too_large(reference));
        }
        Ok(value.to_owned())
    }

    async fn read_s3(
        &self,
        bucket: &str,
        key: &str,
        reference: &ConfigReference,
    ) -> Result<String, ReadError> {
        let mut output = self
            .s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|error| {
                let fact = classify(
                    &error,
                    S3_GET_OBJECT,
                    &format!("arn:aws:s3:::{bucket}/{key}"),
                    &[("NoSuchKey", "S3 object"), ("NoSuchBucket", "S3 bucket")],
                );
                read_error(
                    &fact,
                    reference,
                    Some("S3 also answers AccessDenied for a missing object when the role lacks s3:ListBucket on the bucket"),
                )
            })?;
        let declared = output
            .content_length()
            .and_then(|length| usize::try_from(length).ok());
        if declared.is_some_and(|length| length > MAX_CONFIG_BYTES) {
            return Err(too_large(reference));
        }
        let mut body = Vec::with_capacity(declared.unwrap_or(0));
        while let Some(chunk) = output.body.next().await {
            let chunk = chunk.map_err(|error| {
                ReadError::new(
                    ReadErrorKind::Unavailable,
                    format!("{reference}: the object could not be read to its end: {error}"),
                )
            })?;
            // Stop at the limit even when the object did not declare its length.
            if body.len() + chunk.len() > MAX_CONFIG_BYTES {
                return Err(too_large(reference));
            }
            body.extend_from_slice(&chunk);
        }
        String::from_utf8(body).map_err(|_| {
            ReadError::new(
                ReadErrorKind::Other,
                format!("{reference}: the object is not UTF-8 text"),
            )
        })
    }
}

impl ConfigReferenceReader for AwsConfigReader {
    fn read<'a>(&'a self, reference: &'a ConfigReference) -> ReadFuture<'a> {
        Box::pin(async move {
            match reference {
                ConfigReference::Ssm(name) => self.read_ssm(name, reference).await,
                ConfigReference::S3 { bucket, key } => self.read_s3(bucket, key, reference).await,
                ConfigReference::File(_) => self.files.read(reference).await,
            }
        })
    }
}

fn too_large(reference: &ConfigReference) -> ReadError {
    ReadError::new(
        ReadErrorKind::TooLarge,
        format!("{reference} is larger than {MAX_CONFIG_BYTES} bytes"),
    )
}

/// A classified SDK error as a read error; `denied_hint` is added to an access denied message.
fn read_error(
    error: &FactError,
    reference: &ConfigReference,
    denied_hint: Option<&str>,
) -> ReadError {
    match error {
        FactError::Throttled { .. } | FactError::Unavailable { .. } => {
            ReadError::new(ReadErrorKind::Unavailable, format!("{reference}: {error}"))
        }
        FactError::NotFound { what, .. } => ReadError::new(
            ReadErrorKind::NotFound,
            format!("{reference}: the {what} does not exist"),
        ),
        FactError::AccessDenied {
            action, message, ..
        } => {
            // Encrypted parameters and objects fail on the key's policy with the store's own
            // AccessDenied code; only the message tells.
            let message = if message.to_ascii_lowercase().contains("kms") {
                format!(
                    "{reference}: access denied: the function's role may not call {KMS_DECRYPT} on the KMS key that encrypts it: {message}"
                )
            } else {
                let hint = denied_hint
                    .map(|hint| format!(" ({hint})"))
                    .unwrap_or_default();
                format!(
                    "{reference}: access denied: the function's role may not call {action} on it: {message}{hint}"
                )
            };
            ReadError::new(ReadErrorKind::AccessDenied, message)
        }
        FactError::NotReady { .. } | FactError::Unexpected { .. } => {
            ReadError::new(ReadErrorKind::Other, format!("{reference}: {error}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_s3::operation::get_object::GetObjectOutput;
    use aws_sdk_ssm::operation::get_parameter::GetParameterOutput;
    use aws_sdk_ssm::types::Parameter;
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::byte_stream::ByteStream;
    use aws_smithy_types::retry::RetryConfig;

    use super::*;

    const CONFIG: &str =
        "version: 1\nstages:\n  POST_SCALE_UP:\n    - tasks: { min_running_percent: 100 }\n";

    fn reader(ssm_rules: &[&Rule], s3_rules: &[&Rule]) -> AwsConfigReader {
        let retries = || RetryConfig::standard().with_max_attempts(3);
        let ssm = mock_client!(aws_sdk_ssm, RuleMode::MatchAny, ssm_rules, |config| {
            config.retry_config(retries())
        });
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, s3_rules, |config| {
            config.retry_config(retries())
        });
        AwsConfigReader::with_clients(ssm, s3)
    }

    fn ssm(name: &str) -> ConfigReference {
        ConfigReference::Ssm(name.into())
    }

    fn s3() -> ConfigReference {
        ConfigReference::S3 {
            bucket: "team-configs".into(),
            key: "web/greenlight.yaml".into(),
        }
    }

    /// A JSON-protocol (SSM) error.
    fn json_error(status: u16, code: &str, message: &str) -> HttpResponse {
        HttpResponse::new(
            StatusCode::try_from(status).expect("status"),
            SdkBody::from(serde_json::json!({ "__type": code, "message": message }).to_string()),
        )
    }

    /// A REST-XML (S3) error.
    fn xml_error(status: u16, code: &str, message: &str) -> HttpResponse {
        HttpResponse::new(
            StatusCode::try_from(status).expect("status"),
            SdkBody::from(format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{message}</Message><RequestId>r</RequestId></Error>"
            )),
        )
    }

    fn parameter(value: &'static str) -> impl Fn() -> GetParameterOutput + Send + Sync + 'static {
        move || {
            GetParameterOutput::builder()
                .parameter(
                    Parameter::builder()
                        .name("/greenlight/web")
                        .value(value)
                        .build(),
                )
                .build()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn ssm_parameters_are_read_decrypted() {
        let get = mock!(aws_sdk_ssm::Client::get_parameter)
            .match_requests(|input| {
                input.name() == Some("/greenlight/web") && input.with_decryption() == Some(true)
            })
            .then_output(parameter(CONFIG));
        let reader = reader(&[&get], &[]);
        assert_eq!(
            reader.read(&ssm("/greenlight/web")).await,
            Ok(CONFIG.to_owned())
        );
        assert_eq!(get.num_calls(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn ssm_errors_become_read_errors_that_name_the_action() {
        let cases: [(HttpResponse, ReadErrorKind, &str); 4] = [
            (
                json_error(400, "ParameterNotFound", "not found"),
                ReadErrorKind::NotFound,
                "ssm:/greenlight/web: the SSM parameter does not exist",
            ),
            (
                json_error(
                    400,
                    "AccessDeniedException",
                    "User is not authorized to perform: ssm:GetParameter",
                ),
                ReadErrorKind::AccessDenied,
                "may not call ssm:GetParameter on it",
            ),
            (
                json_error(
                    400,
                    "AccessDeniedException",
                    "The ciphertext refers to a customer master key that does not exist, or you are not authorized (Service: AWSKMS)",
                ),
                ReadErrorKind::AccessDenied,
                "may not call kms:Decrypt on the KMS key",
            ),
            (
                json_error(400, "InvalidKeyId", "key disabled"),
                ReadErrorKind::Other,
                "its KMS key cannot decrypt it (InvalidKeyId)",
            ),
        ];
        for (response, kind, text) in cases {
            let response = std::sync::Mutex::new(Some(response));
            let get = mock!(aws_sdk_ssm::Client::get_parameter).then_http_response(move || {
                response.lock().expect("lock").take().expect("one response")
            });
            let error = reader(&[&get], &[])
                .read(&ssm("/greenlight/web"))
                .await
                .expect_err("an error");
            assert_eq!(error.kind, kind, "{error}");
            assert!(error.message.contains(text), "{error}");
            assert_eq!(get.num_calls(), 1, "{error}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn ssm_throttling_is_retried_then_transient() {
        let recovers = mock!(aws_sdk_ssm::Client::get_parameter)
            .sequence()
            .http_response(|| json_error(400, "ThrottlingException", "Rate exceeded"))
            .output(parameter(CONFIG))
            .build();
        assert_eq!(
            reader(&[&recovers], &[])
                .read(&ssm("/greenlight/web"))
                .await,
            Ok(CONFIG.to_owned())
        );
        assert_eq!(recovers.num_calls(), 2);

        let throttled = mock!(aws_sdk_ssm::Client::get_parameter)
            .sequence()
            .http_response(|| json_error(400, "ThrottlingException", "Rate exceeded"))
            .times(5)
            .build();
        let error = reader(&[&throttled], &[])
            .read(&ssm("/greenlight/web"))
            .await
            .expect_err("throttled");
        assert_eq!(error.kind, ReadErrorKind::Unavailable);
        assert!(error.kind.is_transient());
        assert!(
            error.message.contains("ssm:GetParameter was throttled"),
            "{error}"
        );
        assert_eq!(throttled.num_calls(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn s3_objects_are_read() {
        let get = mock!(aws_sdk_s3::Client::get_object)
            .match_requests(|input| {
                input.bucket() == Some("team-configs") && input.key() == Some("web/greenlight.yaml")
            })
            .then_output(|| {
                GetObjectOutput::builder()
                    .content_length(i64::try_from(CONFIG.len()).expect("length"))
                    .body(ByteStream::from_static(CONFIG.as_bytes()))
                    .build()
            });
        assert_eq!(
            reader(&[], &[&get]).read(&s3()).await,
            Ok(CONFIG.to_owned())
        );
        assert_eq!(get.num_calls(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn s3_objects_over_the_limit_are_refused() {
        // Declared too large: refused before the body is read.
        let declared = mock!(aws_sdk_s3::Client::get_object).then_output(|| {
            GetObjectOutput::builder()
                .content_length(i64::try_from(MAX_CONFIG_BYTES + 1).expect("length"))
                .body(ByteStream::from_static(b"#"))
                .build()
        });
        let error = reader(&[], &[&declared])
            .read(&s3())
            .await
            .expect_err("too large");
        assert_eq!(error.kind, ReadErrorKind::TooLarge);

        // No declared length: the read stops at the limit.
        let undeclared = mock!(aws_sdk_s3::Client::get_object).then_output(|| {
            GetObjectOutput::builder()
                .body(ByteStream::from(vec![b'#'; MAX_CONFIG_BYTES + 1]))
                .build()
        });
        let error = reader(&[], &[&undeclared])
            .read(&s3())
            .await
            .expect_err("too large");
        assert_eq!(error.kind, ReadErrorKind::TooLarge);

        let binary = mock!(aws_sdk_s3::Client::get_object).then_output(|| {
            GetObjectOutput::builder()
                .body(ByteStream::from_static(&[0xff, 0xfe]))
                .build()
        });
        let error = reader(&[], &[&binary])
            .read(&s3())
            .await
            .expect_err("binary");
        assert_eq!(error.kind, ReadErrorKind::Other);
        assert!(error.message.contains("not UTF-8"));
    }

    #[tokio::test(start_paused = true)]
    async fn s3_errors_become_read_errors_that_name_the_action() {
        let cases: [(HttpResponse, ReadErrorKind, &str, usize); 5] = [
            (
                xml_error(404, "NoSuchKey", "The specified key does not exist."),
                ReadErrorKind::NotFound,
                "the S3 object does not exist",
                1,
            ),
            (
                xml_error(404, "NoSuchBucket", "The specified bucket does not exist"),
                ReadErrorKind::NotFound,
                "the S3 bucket does not exist",
                1,
            ),
            (
                xml_error(403, "AccessDenied", "Access Denied"),
                ReadErrorKind::AccessDenied,
                "may not call s3:GetObject on it: Access Denied (S3 also answers AccessDenied",
                1,
            ),
            (
                xml_error(
                    403,
                    "AccessDenied",
                    "User is not authorized to perform: kms:Decrypt",
                ),
                ReadErrorKind::AccessDenied,
                "may not call kms:Decrypt",
                1,
            ),
            (
                xml_error(503, "SlowDown", "Please reduce your request rate."),
                ReadErrorKind::Unavailable,
                "s3:GetObject was throttled",
                3,
            ),
        ];
        for (response, kind, text, calls) in cases {
            let status = response.status();
            let body = response.body().bytes().expect("in-memory body").to_vec();
            let get = mock!(aws_sdk_s3::Client::get_object)
                .then_http_response(move || HttpResponse::new(status, SdkBody::from(body.clone())));
            let error = reader(&[], &[&get])
                .read(&s3())
                .await
                .expect_err("an error");
            assert_eq!(error.kind, kind, "{error}");
            assert!(error.message.contains(text), "{error}");
            assert_eq!(get.num_calls(), calls, "{error}");
        }
    }

    #[tokio::test]
    async fn files_are_read_by_the_file_reader() {
        let dir = std::env::temp_dir().join(format!("greenlight-reader-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(dir.join("greenlight.yaml"), CONFIG).expect("write");
        let reader = reader(&[], &[]).with_file_reader(FileReader::with_root(&dir));
        let read = reader
            .read(&ConfigReference::File("greenlight.yaml".into()))
            .await;
        let missing = reader
            .read(&ConfigReference::File("missing.yaml".into()))
            .await;
        std::fs::remove_dir_all(&dir).expect("cleanup");
        assert_eq!(read, Ok(CONFIG.to_owned()));
        assert_eq!(missing.expect_err("missing").kind, ReadErrorKind::NotFound);
    }
}
