//! Container image references as a task definition writes them, parsed the way the Docker and OCI
//! tooling reads them, and the Amazon ECR registries among them.
//!
//! Validators that split a reference on the first `:` or look a `tag@digest` reference up as a tag
//! turn a registry port into a tag (`registry.local:5000/web`) or report a pinned image missing. This
//! parser follows the reference grammar instead: the digest is split off first, the tag is the part
//! after the last `:` of the last path component, and the first component names a registry only when
//! it looks like a host (a `.` or `:`, or `localhost`). Docker Hub short names are normalized
//! (`nginx` → `docker.io/library/nginx:latest`) so registry allow-lists see the registry that is
//! really pulled from.

use std::fmt;

/// The registry Docker Hub references resolve to.
pub const DOCKER_HUB: &str = "docker.io";

/// The longest repository name (registry and path) the reference grammar allows.
const MAX_NAME_CHARS: usize = 255;
/// The longest tag the reference grammar allows.
const MAX_TAG_CHARS: usize = 128;

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// The registry host, lowercased, with its port if written (`registry.local:5000`);
    /// [`DOCKER_HUB`] when the reference names none.
    pub registry: String,
    /// The repository path within the registry (`library/nginx`, `team/web`).
    pub repository: String,
    /// The tag as written, if any.
    pub tag: Option<String>,
    /// The digest as written (`sha256:…`), if any: what ECS pulls whatever the tag says.
    pub digest: Option<String>,
    /// The Amazon ECR private registry the host names, if it is one.
    pub ecr: Option<EcrRegistry>,
}

/// An Amazon ECR private registry, from its host name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcrRegistry {
    /// The registry id: the 12-digit account that owns it.
    pub account: String,
    /// The region it lives in.
    pub region: String,
    /// The partition (`aws`, `aws-cn`, `aws-us-gov`, …).
    pub partition: String,
    /// Whether the host is a FIPS endpoint (`dkr.ecr-fips`).
    pub fips: bool,
}

impl EcrRegistry {
    /// The ARN of a repository in this registry.
    pub fn repository_arn(&self, repository: &str) -> String {
        format!(
            "arn:{}:ecr:{}:{}:repository/{}",
            self.partition, self.region, self.account, repository
        )
    }
}

/// Why an image reference is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid image reference \"{reference}\": {problem}")]
pub struct ImageRefError {
    /// The reference as written.
    pub reference: String,
    /// What is wrong with it.
    pub problem: String,
}

impl ImageRef {
    /// Parses a reference: `[registry[:port]/]path[:tag][@algorithm:hex]`.
    pub fn parse(reference: &str) -> Result<ImageRef, ImageRefError> {
        let error = |problem: String| ImageRefError {
            reference: reference.to_owned(),
            problem,
        };
        if reference.is_empty() {
            return Err(error("it is empty".to_owned()));
        }
        if let Some(c) = reference
            .chars()
            .find(|c| c.is_whitespace() || c.is_control())
        {
            return Err(error(format!("it contains the character {c:?}")));
        }

        // The digest first: it contains a `:` that must not be read as a tag.
        let (name_and_tag, digest) = match reference.split_once('@') {
            Some((rest, digest)) => {
                validate_digest(digest).map_err(error)?;
                (rest, Some(digest.to_owned()))
            }
            None => (reference, None),
        };

        // The tag is after the last `:` that follows the last `/`, so a registry port is not a tag.
        let last_slash = name_and_tag.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match name_and_tag[last_slash..].rfind(':') {
            Some(colon) => {
                let at = last_slash + colon;
                let tag = &name_and_tag[at + 1..];
                validate_tag(tag).map_err(error)?;
                (&name_and_tag[..at], Some(tag.to_owned()))
            }
            None => (name_and_tag, None),
        };
        if name.is_empty() {
            return Err(error("it names no repository".to_owned()));
        }

        let (registry, path) = match name.split_once('/') {
            Some((first, rest)) if looks_like_host(first) => {
                validate_host(first).map_err(error)?;
                (first.to_ascii_lowercase(), rest)
            }
            _ => (DOCKER_HUB.to_owned(), name),
        };
        let registry = if registry == "index.docker.io" || registry == "registry-1.docker.io" {
            DOCKER_HUB.to_owned()
        } else {
            registry
        };
        // The limit is on the repository path, the registry aside (as distribution/reference
        // counts it).
        if path.len() > MAX_NAME_CHARS {
            return Err(error(format!(
                "the repository name is {} characters long, more than {MAX_NAME_CHARS}",
                path.len()
            )));
        }
        validate_path(path).map_err(error)?;
        let repository = if registry == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path.to_owned()
        };
        let ecr = ecr_registry(&registry);
        Ok(ImageRef {
            registry,
            repository,
            tag,
            digest,
            ecr,
        })
    }

    /// The tag that is pulled: the one written, or `latest` when neither a tag nor a digest is.
    pub fn effective_tag(&self) -> Option<&str> {
        match (&self.tag, &self.digest) {
            (Some(tag), _) => Some(tag),
            (None, None) => Some("latest"),
            (None, Some(_)) => None,
        }
    }

    /// Whether the reference pins a digest, so no tag can change what is pulled.
    pub fn is_pinned(&self) -> bool {
        self.digest.is_some()
    }

    /// Whether the registry is Amazon ECR Public (`public.ecr.aws`), which the private ECR API
    /// does not describe.
    pub fn is_ecr_public(&self) -> bool {
        self.registry == "public.ecr.aws"
    }
}

impl fmt::Display for ImageRef {
    /// The fully qualified form: `docker.io/library/nginx:latest`, `host/repo:tag@sha256:…`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = self.effective_tag() {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// The first path component names a registry when it could not be a Docker Hub user: it has a
/// `.` or a `:`, is `localhost`, or has capitals (repository paths are lowercase).
fn looks_like_host(component: &str) -> bool {
    component.contains(['.', ':'])
        || component == "localhost"
        || component.chars().any(|c| c.is_ascii_uppercase())
        || component.starts_with('[')
}

fn validate_host(host: &str) -> Result<(), String> {
    let bad = || format!("\"{host}\" is not a valid registry host (expected host[:port])");
    // `[v6]:port`, else `name:port`.
    let (name, port) = if let Some(rest) = host.strip_prefix('[') {
        let (address, after) = rest.split_once(']').ok_or_else(bad)?;
        if address.is_empty() || !address.chars().all(|c| c.is_ascii_hexdigit() || c == ':') {
            return Err(bad());
        }
        match after {
            "" => return Ok(()),
            _ => (None, after.strip_prefix(':').ok_or_else(bad)?),
        }
    } else {
        match host.split_once(':') {
            Some((name, port)) => (Some(name), port),
            None => (Some(host), ""),
        }
    };
    if let Some(name) = name {
        let label_ok = |label: &str| {
            !label.is_empty()
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        };
        if !name.split('.').all(label_ok) {
            return Err(bad());
        }
    }
    if host.contains(':') && !host.ends_with(']') {
        if port.is_empty() || !port.chars().all(|c| c.is_ascii_digit()) {
            return Err(format!(
                "\"{host}\" has an invalid port \"{port}\" (expected host:port with a numeric port)"
            ));
        }
        if port.parse::<u32>().map_or(true, |p| p == 0 || p > 65_535) {
            return Err(format!("\"{host}\" has a port out of range"));
        }
    }
    Ok(())
}

/// Path components are lowercase letters and digits, joined by `.`, `_`, `__` or runs of `-`.
fn validate_path(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("it names a registry but no repository".to_owned());
    }
    if path.len() == 64 && path.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err("a 64-character hex string is an image id, not a repository name".to_owned());
    }
    for component in path.split('/') {
        if component.is_empty() {
            return Err(format!(
                "the repository path \"{path}\" has an empty component"
            ));
        }
        if component.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(format!("the repository path \"{path}\" must be lowercase"));
        }
        if !component_ok(component) {
            return Err(format!(
                "\"{component}\" is not a valid repository path component (lowercase letters and digits, separated by '.', '_', '__' or '-')"
            ));
        }
    }
    Ok(())
}

fn component_ok(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !bytes.first().copied().is_some_and(alnum) || !bytes.last().copied().is_some_and(alnum) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        // A separator: `.`, `_`, `__`, or a run of `-`; followed by an alphanumeric.
        let start = i;
        match bytes[i] {
            b'.' => i += 1,
            b'_' => {
                i += 1;
                if bytes.get(i) == Some(&b'_') {
                    i += 1;
                }
            }
            b'-' => {
                while bytes.get(i) == Some(&b'-') {
                    i += 1;
                }
            }
            _ => return false,
        }
        if i == start || !bytes.get(i).copied().is_some_and(alnum) {
            return false;
        }
    }
    true
}

fn validate_tag(tag: &str) -> Result<(), String> {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let valid = !tag.is_empty()
        && tag.len() <= MAX_TAG_CHARS
        && tag.chars().next().is_some_and(word)
        && tag.chars().all(|c| word(c) || c == '.' || c == '-');
    if valid {
        Ok(())
    } else if tag.is_empty() {
        Err("the tag after ':' is empty".to_owned())
    } else if tag.contains('/') {
        Err(format!(
            "\"{tag}\" is not a valid tag; a registry port goes before the first '/' (host:5000/repo)"
        ))
    } else {
        Err(format!(
            "\"{tag}\" is not a valid tag (1 to {MAX_TAG_CHARS} letters, digits, '_', '.' or '-', not starting with '.' or '-')"
        ))
    }
}

fn validate_digest(digest: &str) -> Result<(), String> {
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return Err(format!(
            "the digest \"{digest}\" has no algorithm (expected sha256:<64 hex digits>)"
        ));
    };
    let algorithm_ok = algorithm.split(['+', '.', '_', '-']).all(|part| {
        part.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && part.chars().all(|c| c.is_ascii_alphanumeric())
    });
    if !algorithm_ok {
        return Err(format!("the digest algorithm \"{algorithm}\" is not valid"));
    }
    // The algorithms a registry can verify (go-digest's registered ones); any other is
    // well-formed but unsupported, and nothing could pull it.
    let expected_len = match algorithm {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => {
            return Err(format!(
                "the digest algorithm \"{algorithm}\" is not supported (sha256, sha384 or sha512)"
            ));
        }
    };
    let lower_hex = |c: char| c.is_ascii_digit() || ('a'..='f').contains(&c);
    let hex_ok = hex.chars().all(lower_hex) && hex.len() == expected_len;
    if !hex_ok {
        return Err(format!(
            "the digest \"{digest}\" is not valid ({algorithm} takes {expected_len} lowercase hex digits, got {})",
            hex.len()
        ));
    }
    Ok(())
}

/// The DNS suffixes of ECR private registries by partition, longest first so `.com.cn` wins over
/// `.com`. The partition of `amazonaws.com` and `on.aws` depends on the region (GovCloud).
const ECR_SUFFIXES: &[(&str, &str)] = &[
    ("on.amazonwebservices.com.cn", "aws-cn"),
    ("amazonaws.com.cn", "aws-cn"),
    ("csp.hci.ic.gov", "aws-iso-f"),
    ("sc2s.sgov.gov", "aws-iso-b"),
    ("cloud.adc-e.uk", "aws-iso-e"),
    ("c2s.ic.gov", "aws-iso"),
    ("amazonaws.com", "aws"),
    ("amazonaws.eu", "aws-eusc"),
    ("on.aws", "aws"),
];

/// `<account>.dkr.ecr[-fips].<region>.<suffix>`, or the dual-stack
/// `<account>.dkr-ecr[-fips].<region>.<suffix>`.
fn ecr_registry(host: &str) -> Option<EcrRegistry> {
    if host.contains(':') {
        return None;
    }
    let (prefix, base_partition) = ECR_SUFFIXES.iter().find_map(|(suffix, partition)| {
        host.strip_suffix(suffix)
            .and_then(|rest| rest.strip_suffix('.'))
            .map(|rest| (rest, *partition))
    })?;
    let mut labels = prefix.split('.');
    let account = labels.next()?;
    let (service, region) = match (labels.next()?, labels.next()?, labels.next()) {
        ("dkr", service, Some(region)) => (service, region),
        (service @ ("dkr-ecr" | "dkr-ecr-fips"), region, None) => (service, region),
        _ => return None,
    };
    if labels.next().is_some() {
        return None;
    }
    let fips = match service {
        "ecr" | "dkr-ecr" => false,
        "ecr-fips" | "dkr-ecr-fips" => true,
        _ => return None,
    };
    let account_ok = account.len() == 12 && account.chars().all(|c| c.is_ascii_digit());
    let region_ok = !region.is_empty()
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !account_ok || !region_ok {
        return None;
    }
    let partition = match base_partition {
        "aws" if region.starts_with("us-gov-") => "aws-us-gov",
        other => other,
    };
    Some(EcrRegistry {
        account: account.to_owned(),
        region: region.to_owned(),
        partition: partition.to_owned(),
        fips,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn parsed(reference: &str) -> ImageRef {
        ImageRef::parse(reference).unwrap_or_else(|e| panic!("{e}"))
    }

    /// (reference, registry, repository, tag, digest, fully qualified)
    type ParseCase<'a> = (
        &'a str,
        &'a str,
        &'a str,
        Option<&'a str>,
        Option<&'a str>,
        String,
    );

    #[test]
    fn parses_every_form() {
        // (reference, registry, repository, tag, digest, fully qualified)
        let digest = DIGEST;
        let cases: &[ParseCase] = &[
            (
                "nginx",
                "docker.io",
                "library/nginx",
                None,
                None,
                "docker.io/library/nginx:latest".into(),
            ),
            (
                "nginx:1.27",
                "docker.io",
                "library/nginx",
                Some("1.27"),
                None,
                "docker.io/library/nginx:1.27".into(),
            ),
            (
                "user/repo",
                "docker.io",
                "user/repo",
                None,
                None,
                "docker.io/user/repo:latest".into(),
            ),
            (
                "docker.io/nginx",
                "docker.io",
                "library/nginx",
                None,
                None,
                "docker.io/library/nginx:latest".into(),
            ),
            (
                "index.docker.io/library/nginx:1",
                "docker.io",
                "library/nginx",
                Some("1"),
                None,
                "docker.io/library/nginx:1".into(),
            ),
            (
                "registry.local:5000/team/web",
                "registry.local:5000",
                "team/web",
                None,
                None,
                "registry.local:5000/team/web:latest".into(),
            ),
            (
                "registry.local:5000/web:v1",
                "registry.local:5000",
                "web",
                Some("v1"),
                None,
                "registry.local:5000/web:v1".into(),
            ),
            (
                "localhost/web:dev",
                "localhost",
                "web",
                Some("dev"),
                None,
                "localhost/web:dev".into(),
            ),
            (
                "localhost:5000/web",
                "localhost:5000",
                "web",
                None,
                None,
                "localhost:5000/web:latest".into(),
            ),
            (
                "[::1]:5000/web:v1",
                "[::1]:5000",
                "web",
                Some("v1"),
                None,
                "[::1]:5000/web:v1".into(),
            ),
            (
                &format!("web@{digest}"),
                "docker.io",
                "library/web",
                None,
                Some(digest),
                format!("docker.io/library/web@{digest}"),
            ),
            (
                &format!("web:v1@{digest}"),
                "docker.io",
                "library/web",
                Some("v1"),
                Some(digest),
                format!("docker.io/library/web:v1@{digest}"),
            ),
            (
                &format!("registry.local:5000/web:v1@{digest}"),
                "registry.local:5000",
                "web",
                Some("v1"),
                Some(digest),
                format!("registry.local:5000/web:v1@{digest}"),
            ),
            (
                "public.ecr.aws/nginx/nginx:stable",
                "public.ecr.aws",
                "nginx/nginx",
                Some("stable"),
                None,
                "public.ecr.aws/nginx/nginx:stable".into(),
            ),
            (
                "ghcr.io/org/team/app:1.0.0-rc.1",
                "ghcr.io",
                "org/team/app",
                Some("1.0.0-rc.1"),
                None,
                "ghcr.io/org/team/app:1.0.0-rc.1".into(),
            ),
            (
                "Registry.Example.COM/app",
                "registry.example.com",
                "app",
                None,
                None,
                "registry.example.com/app:latest".into(),
            ),
            (
                "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/web:v42",
                "123456789012.dkr.ecr.us-east-1.amazonaws.com",
                "team/web",
                Some("v42"),
                None,
                "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/web:v42".into(),
            ),
            (
                "my_org/a__b.c-d---e",
                "docker.io",
                "my_org/a__b.c-d---e",
                None,
                None,
                "docker.io/my_org/a__b.c-d---e:latest".into(),
            ),
        ];
        for (reference, registry, repository, tag, digest, full) in cases {
            let image = parsed(reference);
            assert_eq!(image.registry, *registry, "{reference}");
            assert_eq!(image.repository, *repository, "{reference}");
            assert_eq!(image.tag.as_deref(), *tag, "{reference}");
            assert_eq!(image.digest.as_deref(), *digest, "{reference}");
            assert_eq!(image.to_string(), *full, "{reference}");
        }
    }

    #[test]
    fn a_registry_port_is_never_read_as_a_tag() {
        let image = parsed("registry.local:5000/web");
        assert_eq!(image.tag, None);
        assert_eq!(image.effective_tag(), Some("latest"));
        assert!(!image.is_pinned());
    }

    #[test]
    fn a_pinned_reference_pulls_its_digest_and_has_no_implied_tag() {
        let by_digest = parsed(&format!("team/web@{DIGEST}"));
        assert!(by_digest.is_pinned());
        assert_eq!(by_digest.effective_tag(), None);
        let both = parsed(&format!("team/web:v1@{DIGEST}"));
        assert_eq!(both.effective_tag(), Some("v1"));
        assert_eq!(both.digest.as_deref(), Some(DIGEST));
    }

    #[test]
    fn recognizes_ecr_registries_in_every_partition() {
        // (host, account, region, partition, fips)
        let cases = [
            (
                "123456789012.dkr.ecr.us-east-1.amazonaws.com",
                "123456789012",
                "us-east-1",
                "aws",
                false,
            ),
            (
                "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn",
                "123456789012",
                "cn-north-1",
                "aws-cn",
                false,
            ),
            (
                "123456789012.dkr.ecr-fips.us-east-1.amazonaws.com",
                "123456789012",
                "us-east-1",
                "aws",
                true,
            ),
            (
                "123456789012.dkr.ecr.us-gov-west-1.amazonaws.com",
                "123456789012",
                "us-gov-west-1",
                "aws-us-gov",
                false,
            ),
            (
                "123456789012.dkr.ecr-fips.us-gov-east-1.amazonaws.com",
                "123456789012",
                "us-gov-east-1",
                "aws-us-gov",
                true,
            ),
            (
                "123456789012.dkr.ecr.us-iso-east-1.c2s.ic.gov",
                "123456789012",
                "us-iso-east-1",
                "aws-iso",
                false,
            ),
            (
                "123456789012.dkr.ecr.us-isob-east-1.sc2s.sgov.gov",
                "123456789012",
                "us-isob-east-1",
                "aws-iso-b",
                false,
            ),
            (
                "123456789012.dkr-ecr.eu-west-1.on.aws",
                "123456789012",
                "eu-west-1",
                "aws",
                false,
            ),
            (
                "123456789012.dkr-ecr-fips.us-east-2.on.aws",
                "123456789012",
                "us-east-2",
                "aws",
                true,
            ),
        ];
        for (host, account, region, partition, fips) in cases {
            let image = parsed(&format!("{host}/team/web:v1"));
            let ecr = image.ecr.unwrap_or_else(|| panic!("{host} is ECR"));
            assert_eq!(
                (
                    ecr.account.as_str(),
                    ecr.region.as_str(),
                    ecr.partition.as_str(),
                    ecr.fips
                ),
                (account, region, partition, fips),
                "{host}"
            );
        }
        let ecr = parsed("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/web")
            .ecr
            .expect("ECR");
        assert_eq!(
            ecr.repository_arn("web"),
            "arn:aws-cn:ecr:cn-north-1:123456789012:repository/web"
        );
    }

    #[test]
    fn lookalikes_are_not_ecr() {
        for reference in [
            "public.ecr.aws/nginx/nginx",
            "nginx",
            "12345.dkr.ecr.us-east-1.amazonaws.com/web",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.example/web",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com:443/web",
            "evil.123456789012.dkr.ecr.us-east-1.amazonaws.com/web",
            "123456789012.dkr.s3.us-east-1.amazonaws.com/web",
        ] {
            assert_eq!(parsed(reference).ecr, None, "{reference}");
        }
        assert!(parsed("public.ecr.aws/nginx/nginx").is_ecr_public());
    }

    #[test]
    fn refuses_invalid_references_with_the_reason() {
        let cases = [
            ("", "it is empty"),
            ("web app", "contains the character ' '"),
            ("Web", "must be lowercase"),
            ("docker.io/Team/web", "must be lowercase"),
            ("web:", "the tag after ':' is empty"),
            ("web:-bad", "is not a valid tag"),
            (
                "web:v1:v2",
                "\"web:v1\" is not a valid repository path component",
            ),
            ("web@sha256:abc", "takes 64 lowercase hex digits, got 3"),
            (
                "web@sha256:0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF",
                "lowercase hex",
            ),
            ("web@0123456789abcdef", "has no algorithm"),
            (
                "web@1sha:0123456789abcdef0123456789abcdef",
                "algorithm \"1sha\" is not valid",
            ),
            ("registry.local:5000/", "no repository"),
            ("registry.local:port/web", "invalid port"),
            ("registry.local:99999/web", "port out of range"),
            ("-bad.example.com/web", "not a valid registry host"),
            ("team//web", "empty component"),
            ("team/web-", "not a valid repository path component"),
            ("team/.web", "not a valid repository path component"),
            ("team/we___b", "not a valid repository path component"),
            (":v1", "no repository"),
            (
                "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                "image id",
            ),
        ];
        for (reference, expected) in cases {
            let error =
                ImageRef::parse(reference).expect_err(&format!("{reference:?} should be refused"));
            assert!(
                error.to_string().contains(expected),
                "{reference:?}: {error} does not say {expected:?}"
            );
            assert!(error.to_string().starts_with("invalid image reference"));
        }
        let long = format!("team/{}", "a".repeat(300));
        assert!(
            ImageRef::parse(&long)
                .expect_err("too long")
                .problem
                .contains("more than 255")
        );
        let long_tag = format!("web:{}", "a".repeat(129));
        assert!(ImageRef::parse(&long_tag).is_err());
    }
}
