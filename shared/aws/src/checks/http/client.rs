//! The HTTP client of one run: TLS as the check says, no redirects, no proxy, and a DNS resolver
//! that refuses the addresses the core's `address_refusal` names (metadata, unspecified, loopback,
//! link-local).
//!
//! Why a client per run rather than the shared [`CheckDeps::http`](super::super::CheckDeps): the
//! guarantees this check makes are properties of the client, not of a request. Redirects must not
//! be followed (a redirect to 169.254.169.254 would bypass any check made on the first URL),
//! resolution must be checked where the connection is made (a name can resolve differently between
//! a check and the connection), the URL's host may need to be connected through the load balancer's
//! name, and `tls_verify: false` must not leak into other checks. The run's requests still share
//! this client's connection pool (`concurrency` connections), which is where pooling pays.

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use greenlight_core::checks::http::{AddressGuard, AddressRefusal, address_refusal};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Resolves a host name to its addresses.
pub(super) type Lookup = Arc<
    dyn Fn(String) -> Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send>> + Send + Sync,
>;

/// The system resolver (`getaddrinfo`, through tokio's blocking pool).
pub(super) fn system_lookup() -> Lookup {
    Arc::new(|host: String| {
        Box::pin(async move {
            let addresses = tokio::net::lookup_host((host.as_str(), 0)).await?;
            Ok(addresses.map(|address| address.ip()).collect())
        })
    })
}

/// A name resolved to an address the run may not reach.
#[derive(Debug, thiserror::Error)]
#[error("{host} resolves to {address}, an address this check refuses ({refusal:?})")]
pub(super) struct AddressRefused {
    /// The name.
    pub host: String,
    /// The refused address.
    pub address: IpAddr,
    /// Why.
    pub refusal: AddressRefusal,
}

/// Why a name could not be used.
#[derive(Debug, thiserror::Error)]
pub(super) enum ResolveError {
    /// It resolves to a refused address.
    #[error(transparent)]
    Refused(#[from] AddressRefused),
    /// It does not resolve.
    #[error("{host} does not resolve: {source}")]
    Lookup {
        /// The name.
        host: String,
        /// Why.
        source: io::Error,
    },
}

/// Resolves `host` with `lookup` and refuses the whole name when any of its addresses is refused
/// under `guard`: a name that mixes such an address in is not one to trust.
pub(super) async fn resolve_checked(
    lookup: &Lookup,
    host: &str,
    guard: AddressGuard,
) -> Result<Vec<IpAddr>, ResolveError> {
    let addresses = lookup(host.to_owned())
        .await
        .map_err(|source| ResolveError::Lookup {
            host: host.to_owned(),
            source,
        })?;
    if let Some((address, refusal)) = addresses
        .iter()
        .find_map(|ip| address_refusal(*ip, guard).map(|refusal| (*ip, refusal)))
    {
        return Err(AddressRefused {
            host: host.to_owned(),
            address,
            refusal,
        }
        .into());
    }
    Ok(addresses)
}

/// The resolver the client connects through.
struct GuardedResolver {
    lookup: Lookup,
    guard: AddressGuard,
    /// (the URL's host, the name to resolve for it instead).
    connect_to: Option<(String, String)>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let requested = name.as_str().to_owned();
        let host = match &self.connect_to {
            Some((url_host, instead)) if url_host.eq_ignore_ascii_case(&requested) => {
                instead.clone()
            }
            _ => requested,
        };
        let lookup = Arc::clone(&self.lookup);
        let guard = self.guard;
        Box::pin(async move {
            let addresses = resolve_checked(&lookup, &host, guard).await?;
            // Port 0: reqwest puts in the URL's port.
            let addrs: Addrs = Box::new(
                addresses
                    .into_iter()
                    .map(|ip| SocketAddr::new(ip, 0))
                    .collect::<Vec<_>>()
                    .into_iter(),
            );
            Ok(addrs)
        })
    }
}

/// What the run's client must do.
pub(super) struct ClientSettings {
    /// Verify TLS certificates.
    pub tls_verify: bool,
    /// Which addresses beyond the always-allowed ones may be reached.
    pub guard: AddressGuard,
    /// Connect to this name for that URL host.
    pub connect_to: Option<(String, String)>,
    /// How long one request may take.
    pub request_timeout: Duration,
    /// How many connections the run keeps.
    pub concurrency: usize,
    /// How names resolve.
    pub lookup: Lookup,
}

/// Builds the run's client.
pub(super) fn build_client(settings: ClientSettings) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .user_agent(concat!("greenlight-synthetic/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .tls_danger_accept_invalid_certs(!settings.tls_verify)
        // A connection not made within most of the request's time counts as unreachable rather
        // than slow: the request timeout would otherwise fire first and hide why.
        .connect_timeout(settings.request_timeout.mul_f64(0.9))
        .pool_max_idle_per_host(settings.concurrency)
        .dns_resolver(GuardedResolver {
            lookup: settings.lookup,
            guard: settings.guard,
            connect_to: settings.connect_to,
        })
        .build()
}

/// The address refusal somewhere in `error`'s sources, if that is why it failed.
pub(super) fn refused_cause<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a AddressRefused> {
    let mut current: Option<&'a (dyn std::error::Error + 'static)> = Some(error);
    while let Some(error) = current {
        if let Some(refused) = error.downcast_ref::<AddressRefused>() {
            return Some(refused);
        }
        if let Some(ResolveError::Refused(refused)) = error.downcast_ref::<ResolveError>() {
            return Some(refused);
        }
        // An `io::Error` wrapping an error reports that error's source, not the error itself.
        if let Some(inner) = error
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
            && let Some(refused) = refused_cause(inner)
        {
            return Some(refused);
        }
        current = error.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::test_support::table_lookup;
    use super::*;

    #[tokio::test]
    async fn names_resolving_to_refused_addresses_are_refused_unless_allowed() {
        let lookup = table_lookup(&[
            ("imds.test", "169.254.169.254"),
            ("task-creds.test", "169.254.170.2"),
            ("local.test", "127.0.0.1"),
            ("app.test", "10.0.0.7"),
        ]);
        let closed = AddressGuard::default();
        let refused = resolve_checked(&lookup, "imds.test", closed).await;
        assert!(
            matches!(&refused, Err(ResolveError::Refused(r)) if r.address.to_string() == "169.254.169.254"),
            "{refused:?}"
        );
        let open = AddressGuard {
            allow_link_local: true,
            allow_loopback: true,
        };
        // The metadata service stays refused whatever is allowed.
        assert!(resolve_checked(&lookup, "imds.test", open).await.is_err());
        assert!(
            resolve_checked(&lookup, "task-creds.test", closed)
                .await
                .is_err()
        );
        assert!(
            resolve_checked(&lookup, "task-creds.test", open)
                .await
                .is_ok()
        );
        assert!(
            resolve_checked(&lookup, "local.test", closed)
                .await
                .is_err()
        );
        assert!(resolve_checked(&lookup, "local.test", open).await.is_ok());
        assert!(resolve_checked(&lookup, "app.test", closed).await.is_ok());
        assert!(matches!(
            resolve_checked(&lookup, "nowhere.test", closed).await,
            Err(ResolveError::Lookup { .. })
        ));
    }

    #[tokio::test]
    async fn the_refusal_is_found_in_an_error_chain() {
        let refused = ResolveError::from(AddressRefused {
            host: "imds.test".into(),
            address: "169.254.169.254".parse().expect("ip"),
            refusal: AddressRefusal::Metadata,
        });
        let wrapped = io::Error::other(refused);
        assert_eq!(
            refused_cause(&wrapped).map(|r| r.host.as_str()),
            Some("imds.test")
        );
        assert!(refused_cause(&io::Error::other("refused")).is_none());
    }

    #[test]
    fn clients_build_with_and_without_tls_verification() {
        for tls_verify in [true, false] {
            build_client(ClientSettings {
                tls_verify,
                guard: AddressGuard::default(),
                connect_to: None,
                request_timeout: Duration::from_secs(5),
                concurrency: 8,
                lookup: system_lookup(),
            })
            .expect("client builds");
        }
    }
}
