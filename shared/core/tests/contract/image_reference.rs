//! The image-reference grammar against the reference implementation's own test table
//! (distribution/reference's `TestReferenceParse`, kept as a fixture with its commit): every
//! reference it refuses, greenlight refuses; every one it parses, greenlight parses to the same
//! tag, digest, registry and repository, read the way Docker and ECS read a name (a first
//! component is a registry only when it has a `.` or `:` or is `localhost`, else the registry is
//! Docker Hub, as distribution/reference's `ParseNormalizedNamed` reads it).
//!
//! One case differs on purpose: the Go test links only crypto/sha256, so go-digest calls a
//! sha512 digest unsupported there; sha512 is a registered algorithm (OCI image specification),
//! and greenlight accepts it.

use greenlight_core::checks::image_ref::ImageRef;
use serde_json::Value;

#[test]
fn references_parse_as_distribution_reference_parses_them() {
    let fixture: Value = serde_json::from_str(&greenlight_test_support::repository_text(
        "tests/support/fixtures/distribution-reference/reference_parse.json",
    ))
    .expect("the vectors are JSON");
    let vectors = fixture["vectors"].as_array().expect("vectors");
    assert!(vectors.len() >= 40, "the whole table: {}", vectors.len());
    let mut wrong = Vec::new();
    for vector in vectors {
        let input = vector["input"].as_str().expect("an input");
        let text = |key: &str| vector[key].as_str().filter(|value| !value.is_empty());
        let parsed = ImageRef::parse(input);
        let linked_only_sha256 = vector["err"] == "digest.ErrDigestUnsupported"
            && text("digest").is_none()
            && input.contains("@sha512:");
        let expected_error = vector.get("err").filter(|_| !linked_only_sha256);
        match (expected_error, parsed) {
            (Some(error), Ok(image)) => {
                wrong.push(format!("{input:?}: accepted ({image:?}), expected {error}"))
            }
            (Some(_), Err(_)) => {}
            (None, Err(error)) => {
                wrong.push(format!("{input:?}: refused ({error}), expected to parse"))
            }
            (None, Ok(image)) => {
                if image.tag.as_deref() != text("tag") {
                    wrong.push(format!(
                        "{input:?}: tag {:?}, expected {:?}",
                        image.tag,
                        text("tag")
                    ));
                }
                let expected_digest = if linked_only_sha256 {
                    input.split_once('@').map(|(_, digest)| digest)
                } else {
                    text("digest")
                };
                if image.digest.as_deref() != expected_digest {
                    wrong.push(format!(
                        "{input:?}: digest {:?}, expected {expected_digest:?}",
                        image.digest
                    ));
                }
                if let Some(repository) = text("repository") {
                    let (registry, path) = normalized(text("domain"), repository);
                    if image.registry != registry || image.repository != path {
                        wrong.push(format!(
                            "{input:?}: {}/{}, expected {registry}/{path}",
                            image.registry, image.repository
                        ));
                    }
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} differ:\n{}",
        wrong.len(),
        vectors.len(),
        wrong.join("\n")
    );
}

/// The registry and repository Docker reads from `Parse`'s domain and repository.
fn normalized(domain: Option<&str>, repository: &str) -> (String, String) {
    let is_host = |domain: &str| domain.contains(['.', ':']) || domain == "localhost";
    match domain {
        Some(domain) if is_host(domain) => (
            domain.to_ascii_lowercase(),
            repository
                .strip_prefix(&format!("{domain}/"))
                .unwrap_or(repository)
                .to_owned(),
        ),
        _ if repository.contains('/') => ("docker.io".to_owned(), repository.to_owned()),
        _ => ("docker.io".to_owned(), format!("library/{repository}")),
    }
}
