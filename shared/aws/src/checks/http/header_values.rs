//! Request headers of a run: plain values and values read from SSM Parameter Store and Secrets
//! Manager.
//!
//! SSM parameters are read together (`GetParameters`, ten names a call, with decryption), secrets
//! concurrently (`GetSecretValue`, each distinct secret once). Values read are marked sensitive
//! (so the HTTP stack never prints them) and returned for redaction from every text the check keeps.

use std::collections::{BTreeMap, HashMap};

use futures::future::join_all;
use greenlight_core::Outcome;
use greenlight_core::checks::HeaderValue;
use greenlight_core::checks::http::header_value_invalid;
use greenlight_core::facts::FactError;
use reqwest::header::{HeaderMap, HeaderName};

use crate::error::classify;

/// `GetParameters` takes at most this many names a call.
const SSM_BATCH: usize = 10;

/// The headers of every request of a run.
#[derive(Debug, Default)]
pub(super) struct RequestHeaders {
    /// The headers sent.
    pub headers: HeaderMap,
    /// The values read from SSM and Secrets Manager, to redact wherever text is kept.
    pub secrets: Vec<String>,
    /// Header name → value as evidence shows it (`<redacted: ssm /x>` for read values).
    pub shown: BTreeMap<String, String>,
}

/// Reads the configured header values. An `Err` is the outcome to report.
pub(super) async fn resolve(
    configured: &BTreeMap<String, HeaderValue>,
    ssm: &aws_sdk_ssm::Client,
    secrets: &aws_sdk_secretsmanager::Client,
) -> Result<RequestHeaders, Outcome> {
    let mut parameter_names: Vec<&str> = Vec::new();
    let mut secret_ids: Vec<&str> = Vec::new();
    for value in configured.values() {
        match value {
            HeaderValue::Ssm(name) if !parameter_names.contains(&name.as_str()) => {
                parameter_names.push(name)
            }
            HeaderValue::Secret(id) if !secret_ids.contains(&id.as_str()) => secret_ids.push(id),
            _ => {}
        }
    }
    let (parameters, secret_values) = futures::join!(
        read_parameters(ssm, &parameter_names),
        read_secrets(secrets, &secret_ids)
    );
    let parameters = parameters.map_err(|error| error.to_outcome())?;
    let secret_values = secret_values.map_err(|error| error.to_outcome())?;

    let mut resolved = RequestHeaders::default();
    for (name, value) in configured {
        let (text, source) = match value {
            HeaderValue::Plain(text) => (Some(text.clone()), None),
            HeaderValue::Ssm(parameter) => (
                parameters.get(parameter.as_str()).cloned(),
                Some(format!("SSM parameter {parameter}")),
            ),
            HeaderValue::Secret(id) => (
                secret_values.get(id.as_str()).cloned().flatten(),
                Some(format!("secret {id}")),
            ),
        };
        let Some(text) = text else {
            // Only a secret without a text value gets here: missing ones were errors above.
            let source = source.unwrap_or_default();
            return Err(header_value_invalid(
                name,
                &source,
                "has no text value (a binary secret)",
            ));
        };
        // Header values cannot start or end with whitespace; a stored value's trailing newline
        // is the usual reason it has some.
        let text = text.trim().to_owned();
        let header_name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            header_value_invalid(name, "the config", "has a name HTTP does not allow")
        })?;
        let mut header_value = reqwest::header::HeaderValue::from_str(&text).map_err(|_| {
            header_value_invalid(
                name,
                source.as_deref().unwrap_or("the config"),
                "holds characters a header cannot carry (line breaks or control characters)",
            )
        })?;
        match source {
            Some(source) => {
                header_value.set_sensitive(true);
                resolved.secrets.push(text);
                resolved
                    .shown
                    .insert(name.clone(), format!("<redacted: {source}>"));
            }
            None => {
                resolved.shown.insert(name.clone(), text);
            }
        }
        resolved.headers.insert(header_name, header_value);
    }
    Ok(resolved)
}

/// Reads SSM parameters (decrypted), ten a call, the calls concurrently.
async fn read_parameters(
    ssm: &aws_sdk_ssm::Client,
    names: &[&str],
) -> Result<HashMap<String, String>, FactError> {
    let batches = names.chunks(SSM_BATCH).map(|batch| async move {
        let response = ssm
            .get_parameters()
            .set_names(Some(batch.iter().map(|name| (*name).to_owned()).collect()))
            .with_decryption(true)
            .send()
            .await
            .map_err(|error| classify(&error, "ssm:GetParameters", &batch.join(", "), &[]))?;
        if let Some(missing) = response.invalid_parameters().first() {
            return Err(FactError::NotFound {
                what: "SSM parameter".to_owned(),
                resource: missing.clone(),
            });
        }
        let mut values = HashMap::new();
        for requested in batch {
            // A parameter asked for by ARN or with a version or label selector comes back under
            // its plain name.
            let found = response.parameters().iter().find(|parameter| {
                let name = parameter.name().unwrap_or_default();
                name == *requested
                    || parameter.arn() == Some(*requested)
                    || format!("{name}{}", parameter.selector().unwrap_or_default()) == *requested
            });
            match found.and_then(|parameter| parameter.value()) {
                Some(value) => {
                    values.insert((*requested).to_owned(), value.to_owned());
                }
                None => {
                    return Err(FactError::Unexpected {
                        action: "ssm:GetParameters".to_owned(),
                        message: format!("the answer has no value for {requested}"),
                    });
                }
            }
        }
        Ok(values)
    });
    let mut values = HashMap::new();
    for batch in join_all(batches).await {
        values.extend(batch?);
    }
    Ok(values)
}

/// Reads secrets' text values, concurrently; `None` for a binary secret.
async fn read_secrets(
    secrets: &aws_sdk_secretsmanager::Client,
    ids: &[&str],
) -> Result<HashMap<String, Option<String>>, FactError> {
    let reads = ids.iter().map(|id| async move {
        let response = secrets
            .get_secret_value()
            .secret_id(*id)
            .send()
            .await
            .map_err(|error| {
                classify(
                    &error,
                    "secretsmanager:GetSecretValue",
                    id,
                    &[("ResourceNotFoundException", "secret")],
                )
            })?;
        Ok((
            (*id).to_owned(),
            response.secret_string().map(str::to_owned),
        ))
    });
    join_all(reads).await.into_iter().collect()
}
