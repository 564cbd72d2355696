//! What the platform team sets on the functions, and no config or event can change.
//!
//! A config can arrive in `hookDetails`, and whoever may invoke a function can write one: so the
//! rules that keep secrets where they belong are read from the function's environment, which only
//! whoever deploys the functions controls:
//! - [`SECRET_PATH_VAR`], a path template such as `/greenlight/secrets/{cluster}/{service}/`: a
//!   header value read from SSM (`{ ssm: … }`) must name a parameter under it, and one read from
//!   Secrets Manager (`{ secret: … }`) a secret whose name starts with it (without its leading
//!   `/`), `{cluster}` and `{service}` being the service under deployment. Unset, no secret
//!   reference is read at all.
//! - [`SECRET_HOSTS_VAR`], host names beside the service's own test endpoint that may receive
//!   secret-valued headers, over https with TLS verified only.
//! - [`ALLOW_LOOPBACK_VAR`], `true` only in local rehearsals, where every service listens on
//!   loopback: on Lambda, loopback is the Runtime API and the extensions.

use crate::checks::HeaderValue;

/// The secret path template.
pub const SECRET_PATH_VAR: &str = "GREENLIGHT_SECRET_PATH";
/// Comma-separated hosts that may receive secret-valued headers.
pub const SECRET_HOSTS_VAR: &str = "GREENLIGHT_SECRET_HOSTS";
/// `true` lets synthetic traffic reach loopback (local rehearsals only).
pub const ALLOW_LOOPBACK_VAR: &str = "GREENLIGHT_ALLOW_LOOPBACK";

/// The platform's rules, as the function's environment sets them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Platform {
    /// The secret path template (`{cluster}`, `{service}`), when set.
    pub secret_path: Option<String>,
    /// Hosts beside the service's own test endpoint that may receive secret-valued headers.
    pub secret_hosts: Vec<String>,
    /// Whether synthetic traffic may reach loopback.
    pub allow_loopback: bool,
}

/// Where a run's requests go, as far as secrets are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination<'a> {
    /// The service's own test endpoint (its test listener, or the test header's route), which
    /// greenlight found from the deployment, not from the config.
    ServiceTestEndpoint,
    /// A URL the config names.
    Url {
        /// `https` or `http`.
        scheme: &'a str,
        /// The URL's host.
        host: &'a str,
        /// Whether TLS certificates are verified.
        tls_verify: bool,
    },
}

impl Platform {
    /// The rules from the process environment.
    pub fn from_env() -> Self {
        Platform::from_lookup(|name| std::env::var(name).ok())
    }

    /// The rules from `get`, which reads one environment variable.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        let secret_path = get(SECRET_PATH_VAR)
            .map(|path| path.trim().to_owned())
            .filter(|path| !path.is_empty());
        let secret_hosts = get(SECRET_HOSTS_VAR)
            .unwrap_or_default()
            .split(',')
            .map(|host| host.trim().to_ascii_lowercase())
            .filter(|host| !host.is_empty())
            .collect();
        let allow_loopback = get(ALLOW_LOOPBACK_VAR).is_some_and(|value| value.trim() == "true");
        Platform {
            secret_path,
            secret_hosts,
            allow_loopback,
        }
    }

    /// The secret path of one service: the template with `{cluster}` and `{service}` filled.
    pub fn secret_path_for(&self, cluster: &str, service: &str) -> Option<String> {
        self.secret_path.as_ref().map(|template| {
            template
                .replace("{cluster}", cluster)
                .replace("{service}", service)
        })
    }

    /// Whether a header value may be read for the service `cluster`/`service`: a plain value
    /// always; a secret reference only under the service's secret path. `Err` says why not.
    pub fn check_header_value(
        &self,
        value: &HeaderValue,
        cluster: &str,
        service: &str,
    ) -> Result<(), String> {
        let (kind, name) = match value {
            HeaderValue::Plain(_) => return Ok(()),
            HeaderValue::Ssm(name) => ("SSM parameter", ssm_parameter_name(name)),
            HeaderValue::Secret(id) => ("secret", secret_name(id)),
        };
        let Some(path) = self.secret_path_for(cluster, service) else {
            return Err(format!(
                "the {kind} {name} may not be read: the platform sets no {SECRET_PATH_VAR} on this function, so no header may come from SSM or Secrets Manager"
            ));
        };
        let under = |prefix: &str| !prefix.is_empty() && name.starts_with(prefix);
        let allowed = match value {
            HeaderValue::Ssm(_) => under(&path),
            _ => under(path.trim_start_matches('/')) || under(&path),
        };
        if allowed && !name.contains("..") {
            Ok(())
        } else {
            Err(format!(
                "the {kind} {name} is outside this service's secret path {path} ({SECRET_PATH_VAR} for {cluster}/{service}); store the service's secrets under it"
            ))
        }
    }

    /// Whether secret-valued headers may be sent to `destination`. `Err` says why not.
    pub fn check_secret_destination(&self, destination: Destination<'_>) -> Result<(), String> {
        let Destination::Url {
            scheme,
            host,
            tls_verify,
        } = destination
        else {
            return Ok(());
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if !self
            .secret_hosts
            .iter()
            .any(|allowed| allowed.eq_ignore_ascii_case(host))
        {
            return Err(format!(
                "secret-valued headers go only to the service's own test endpoint (`target: test_listener` or `test_header`) or to a host the platform lists in {SECRET_HOSTS_VAR}; {host} is neither"
            ));
        }
        if !scheme.eq_ignore_ascii_case("https") || !tls_verify {
            return Err(format!(
                "secret-valued headers go to {host} only over https with TLS verified (`tls_verify` on)"
            ));
        }
        Ok(())
    }
}

/// The name part of an SSM parameter reference (a name, or an ARN ending in `parameter/name`).
fn ssm_parameter_name(reference: &str) -> &str {
    match reference.split_once(":parameter") {
        Some((arn, name)) if arn.starts_with("arn:") => name,
        _ => reference,
    }
}

/// The name part of a Secrets Manager reference: a name, or an ARN ending in `secret:<name>-<six
/// random characters>` (the suffix Secrets Manager adds, which never matters to a path prefix).
fn secret_name(reference: &str) -> &str {
    match reference.split_once(":secret:") {
        Some((arn, name)) if arn.starts_with("arn:") => name,
        _ => reference,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn platform(path: Option<&str>, hosts: &str) -> Platform {
        Platform::from_lookup(|name| match name {
            SECRET_PATH_VAR => path.map(str::to_owned),
            SECRET_HOSTS_VAR => Some(hosts.to_owned()),
            _ => None,
        })
    }

    #[test]
    fn secrets_are_confined_to_the_service_path() {
        let platform = platform(Some("/greenlight/secrets/{cluster}/{service}/"), "");
        let check = |value: HeaderValue| platform.check_header_value(&value, "prod", "web");
        assert_eq!(check(HeaderValue::Plain("x".into())), Ok(()));
        assert_eq!(
            check(HeaderValue::Ssm(
                "/greenlight/secrets/prod/web/token".into()
            )),
            Ok(())
        );
        assert_eq!(
            check(HeaderValue::Ssm(
                "arn:aws:ssm:us-east-1:123456789012:parameter/greenlight/secrets/prod/web/token"
                    .into()
            )),
            Ok(())
        );
        assert_eq!(
            check(HeaderValue::Secret(
                "greenlight/secrets/prod/web/api-key".into()
            )),
            Ok(())
        );
        assert_eq!(
            check(HeaderValue::Secret(
                "arn:aws:secretsmanager:us-east-1:123456789012:secret:greenlight/secrets/prod/web/api-key-AbCdEf"
                    .into()
            )),
            Ok(())
        );
        for refused in [
            HeaderValue::Ssm("/greenlight/secrets/prod/payments/token".into()),
            HeaderValue::Ssm("/greenlight/secrets/prod/web-admin/token".into()),
            HeaderValue::Ssm("/greenlight/secrets/prod/web/../payments/token".into()),
            HeaderValue::Secret("greenlight/secrets/prod/billing/key".into()),
            HeaderValue::Secret("prod/web/key".into()),
        ] {
            let error = check(refused.clone()).expect_err("outside the path");
            assert!(error.contains("/greenlight/secrets/prod/web/"), "{error}");
        }
    }

    #[test]
    fn without_a_secret_path_no_secret_is_read() {
        let error = platform(None, "")
            .check_header_value(&HeaderValue::Ssm("/x".into()), "prod", "web")
            .expect_err("refused");
        assert!(error.contains(SECRET_PATH_VAR), "{error}");
    }

    #[test]
    fn secrets_go_to_the_service_or_to_listed_hosts_over_verified_https() {
        let platform = platform(Some("/s/"), " Partner.example.com ,other.example");
        assert_eq!(
            platform.check_secret_destination(Destination::ServiceTestEndpoint),
            Ok(())
        );
        let url = |scheme, host, tls_verify| Destination::Url {
            scheme,
            host,
            tls_verify,
        };
        assert_eq!(
            platform.check_secret_destination(url("https", "partner.example.com", true)),
            Ok(())
        );
        for (destination, why) in [
            (url("https", "attacker.example", true), "neither"),
            (url("http", "partner.example.com", true), "https"),
            (url("https", "partner.example.com", false), "TLS verified"),
        ] {
            let error = platform
                .check_secret_destination(destination)
                .expect_err("refused");
            assert!(error.contains(why), "{error}");
        }
    }

    #[test]
    fn loopback_is_allowed_only_when_the_platform_says_true() {
        let with = |value: &str| {
            Platform::from_lookup(|name| (name == ALLOW_LOOPBACK_VAR).then(|| value.to_owned()))
        };
        assert!(with("true").allow_loopback);
        assert!(!with("1").allow_loopback);
        assert!(!with("").allow_loopback);
        assert!(!Platform::default().allow_loopback);
    }
}
