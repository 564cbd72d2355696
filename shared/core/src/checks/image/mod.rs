//! The `image` check's judge: every container image of the green revision is a valid reference
//! from an allowed registry, exists, is the digest ECS resolved, and obeys the tag and scan rules.
//!
//! The gather half looks each ECR image up (batched per repository) and hands the judge one
//! [`ImageEvidence`] per container. Images outside Amazon ECR can only be held to the registry
//! allow-list and digest pinning: their existence is not verified, which the outcome says (code
//! [`IMAGE_EXTERNAL_UNVERIFIED`], a pass), and a rule that cannot be verified for them (immutable
//! tags, scan findings) makes the check inconclusive ([`IMAGE_UNVERIFIABLE`]) rather than pass.

pub mod params;

use std::collections::BTreeMap;

use serde_json::json;

use super::CheckDoc;
use super::image_ref::{ImageRef, ImageRefError};
use crate::checks::IamNeed;
use crate::checks::{ImageParams, Severity};
use crate::facts::Fact;
use crate::facts::FactError;
use crate::outcome::{Evidence, Outcome};
use crate::reason::ReasonCode;
use crate::stage::LifecycleStage;

/// What was learned about one container's image.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageEvidence {
    /// The container name.
    pub container: String,
    /// The image reference as the task definition writes it.
    pub image: String,
    /// The digest ECS resolved for it, once it has.
    pub ecs_digest: Option<String>,
    /// The parsed reference.
    pub reference: Result<ImageRef, ImageRefError>,
    /// What ECR said, for images in an ECR private registry; `None` for other registries.
    pub ecr: Option<EcrEvidence>,
}

/// What ECR said about one image and its repository.
#[derive(Debug, Clone, PartialEq)]
pub struct EcrEvidence {
    /// The repository ARN.
    pub repository_arn: String,
    /// The image, looked up by digest when the reference pins one, else by tag.
    pub image: EcrImageLookup,
    /// The repository's tag mutability; `None` when it was not asked (not required, or the image is
    /// pinned by digest so no tag can move under it).
    pub tag_mutability: Option<Result<TagMutability, FactError>>,
}

/// The result of looking an image up in ECR.
#[derive(Debug, Clone, PartialEq)]
pub enum EcrImageLookup {
    /// The image exists.
    Found(EcrImage),
    /// The repository exists but has no image with that tag or digest.
    ImageNotFound,
    /// The repository does not exist.
    RepositoryNotFound,
    /// ECR could not be asked.
    Failed(FactError),
}

/// An image as ECR describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct EcrImage {
    /// Its digest (`sha256:…`).
    pub digest: String,
    /// The tags that point at it now.
    pub tags: Vec<String>,
    /// Its scan findings, when asked for.
    pub scan: ScanEvidence,
}

/// An image's vulnerability scan, as far as ECR knows it.
#[derive(Debug, Clone, PartialEq)]
pub enum ScanEvidence {
    /// Not asked: no `max_findings` limit is configured.
    NotAsked,
    /// A finished scan and its finding counts per severity (absent severities have none).
    Complete {
        /// Findings per severity.
        counts: BTreeMap<Severity, u32>,
        /// When the scan finished (RFC 3339), if ECR says.
        completed_at: Option<String>,
    },
    /// A scan is queued or running.
    Pending {
        /// ECR's scan status (`IN_PROGRESS`, `PENDING`).
        status: String,
    },
    /// There are no findings to judge: never scanned, failed, unsupported.
    Missing {
        /// ECR's scan status, if any (`FAILED`, `UNSUPPORTED_IMAGE`).
        status: Option<String>,
        /// ECR's description of it.
        description: Option<String>,
    },
    /// ECR could not be asked.
    Failed(FactError),
}

/// An ECR repository's tag mutability setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagMutability {
    /// No tag can be moved.
    Immutable,
    /// Every tag can be moved.
    Mutable,
    /// Tags are immutable except those matching these wildcard filters.
    ImmutableWithExclusion(Vec<String>),
    /// Tags are mutable except those matching these wildcard filters.
    MutableWithExclusion(Vec<String>),
    /// A setting this version of greenlight does not know.
    Other(String),
}

impl TagMutability {
    /// Whether `tag` cannot be moved to another image.
    pub fn is_immutable(&self, tag: &str) -> bool {
        match self {
            TagMutability::Immutable => true,
            TagMutability::Mutable | TagMutability::Other(_) => false,
            TagMutability::ImmutableWithExclusion(filters) => {
                !filters.iter().any(|filter| wildcard_matches(filter, tag))
            }
            TagMutability::MutableWithExclusion(filters) => {
                filters.iter().any(|filter| wildcard_matches(filter, tag))
            }
        }
    }

    fn describe(&self) -> String {
        match self {
            TagMutability::Immutable => "IMMUTABLE".to_owned(),
            TagMutability::Mutable => "MUTABLE".to_owned(),
            TagMutability::ImmutableWithExclusion(filters) => {
                format!("IMMUTABLE_WITH_EXCLUSION (mutable: {})", filters.join(", "))
            }
            TagMutability::MutableWithExclusion(filters) => {
                format!("MUTABLE_WITH_EXCLUSION (immutable: {})", filters.join(", "))
            }
            TagMutability::Other(value) => value.clone(),
        }
    }
}

/// ECR's tag filters: `*` matches any run of characters. Linear in pattern × text.
fn wildcard_matches(pattern: &str, text: &str) -> bool {
    let (pattern, text) = (pattern.as_bytes(), text.as_bytes());
    let mut reachable = vec![false; text.len() + 1];
    reachable[0] = true;
    for &p in pattern {
        let mut next = vec![false; text.len() + 1];
        for j in 0..=text.len() {
            next[j] = if p == b'*' {
                reachable[j] || (j > 0 && next[j - 1])
            } else {
                j > 0 && reachable[j - 1] && text[j - 1] == p
            };
        }
        reachable = next;
    }
    reachable[text.len()]
}

/// Every image passed every configured rule.
pub static IMAGE_VERIFIED: ReasonCode = ReasonCode {
    code: "IMAGE_VERIFIED",
    summary: "Every container image exists, is the digest ECS resolved, and obeys the configured rules.",
    what: "Each image reference parsed, came from an allowed registry, was found in ECR (by tag or digest) with the digest ECS resolved, and met the pinning, tag-mutability and scan-finding rules that are configured.",
    why: "A revision whose images are missing, moved or vulnerable fails later and worse, after tasks start.",
    fix: "Nothing to fix.",
};

/// Images outside ECR passed the rules that can be checked for them.
pub static IMAGE_EXTERNAL_UNVERIFIED: ReasonCode = ReasonCode {
    code: "IMAGE_EXTERNAL_UNVERIFIED",
    summary: "Images outside Amazon ECR passed the registry and pinning rules; their existence was not verified.",
    what: "At least one image comes from a registry other than an ECR private registry (Docker Hub, ECR Public, a private registry); greenlight does not call third-party registries, so only the registry allow-list and digest pinning were checked for it. ECR images were fully verified.",
    why: "The check passes so that images from other registries are not blocked by default, but the evidence says what was not verified.",
    fix: "Nothing to fix. To have existence, tags and scans verified, push the image to ECR (a pull-through cache rule works); to require a digest, set `require_digest_pinning: true`.",
};

/// An image reference does not parse.
pub static IMAGE_REFERENCE_INVALID: ReasonCode = ReasonCode {
    code: "IMAGE_REFERENCE_INVALID",
    summary: "A container image reference is not a valid image reference.",
    what: "The task definition's image string was parsed as `[registry[:port]/]repository[:tag][@sha256:digest]` and did not match the grammar (the evidence says which part).",
    why: "ECS cannot pull an invalid reference; the tasks would never start.",
    fix: "Correct the image in the task definition (lowercase repository path, valid tag, a 64-hex-digit sha256 digest).",
};

/// An image comes from a registry not on the allow-list.
pub static IMAGE_REGISTRY_NOT_ALLOWED: ReasonCode = ReasonCode {
    code: "IMAGE_REGISTRY_NOT_ALLOWED",
    summary: "A container image comes from a registry that the check's `registries` allow-list does not match.",
    what: "The image's registry host (Docker Hub short names count as `docker.io`) was matched against each `registries` glob.",
    why: "Images from unapproved registries bypass the organisation's supply-chain controls.",
    fix: "Push the image to an allowed registry and update the task definition, or add the registry to `registries` if it is approved.",
};

/// An image is referenced by tag only.
pub static IMAGE_NOT_PINNED: ReasonCode = ReasonCode {
    code: "IMAGE_NOT_PINNED",
    summary: "A container image is referenced by tag without a digest, and `require_digest_pinning` is set.",
    what: "The image reference has no `@sha256:…` part.",
    why: "A tag can be moved to another image; only a digest names exactly what runs.",
    fix: "Reference the image as `repository@sha256:…` (or `repository:tag@sha256:…`) in the task definition, for example from your CI's push output.",
};

/// An image's ECR repository does not exist.
pub static IMAGE_REPOSITORY_NOT_FOUND: ReasonCode = ReasonCode {
    code: "IMAGE_REPOSITORY_NOT_FOUND",
    summary: "The ECR repository a container image refers to does not exist.",
    what: "ECR DescribeImages answered RepositoryNotFoundException for the image's registry and repository.",
    why: "ECS cannot pull from a repository that does not exist; the tasks would never start.",
    fix: "Correct the repository (or registry account and region) in the task definition, or create the repository and push the image.",
};

/// An image tag or digest does not exist in its ECR repository.
pub static IMAGE_NOT_FOUND: ReasonCode = ReasonCode {
    code: "IMAGE_NOT_FOUND",
    summary: "A container image's tag or digest does not exist in its ECR repository.",
    what: "ECR DescribeImages found no image with the reference's tag (or its digest, when pinned) in the repository.",
    why: "ECS cannot pull an image that does not exist; the tasks would never start.",
    fix: "Push the image, or correct the tag or digest in the task definition. Check that a lifecycle policy has not expired it.",
};

/// The digest ECS resolved is not the one ECR has for the reference.
pub static IMAGE_DIGEST_MISMATCH: ReasonCode = ReasonCode {
    code: "IMAGE_DIGEST_MISMATCH",
    summary: "The digest ECS resolved for an image differs from the one ECR has for its tag or digest now.",
    what: "The revision's resolved image digest (from DescribeServiceRevisions) was compared with the digest ECR returned for the reference.",
    why: "The tag was moved after ECS resolved it: what is deployed is not what the tag now names, and a rollback or scale-out may pull something else.",
    fix: "Use immutable tags (`require_immutable_tags: true`) or pin digests; redeploy with the intended image.",
};

/// A tag can be moved in its repository.
pub static IMAGE_TAG_MUTABLE: ReasonCode = ReasonCode {
    code: "IMAGE_TAG_MUTABLE",
    summary: "An image is referenced by a tag that its ECR repository allows to be moved, and `require_immutable_tags` is set.",
    what: "ECR DescribeRepositories' `imageTagMutability` (and its exclusion filters) says this tag is mutable.",
    why: "A mutable tag can be pointed at another image during or after the deployment.",
    fix: "Set the repository's tag mutability to IMMUTABLE (or exclude this tag pattern from the mutable exceptions), or pin the image by digest.",
};

/// An image has more scan findings than allowed.
pub static IMAGE_FINDINGS_EXCEEDED: ReasonCode = ReasonCode {
    code: "IMAGE_FINDINGS_EXCEEDED",
    summary: "An image's vulnerability scan has more findings of a severity than `max_findings` allows.",
    what: "ECR's scan finding counts per severity (from DescribeImages or DescribeImageScanFindings) were compared with `max_findings`.",
    why: "The team decided images with these findings must not reach production.",
    fix: "Rebuild the image on patched base images and dependencies, push, and redeploy; or raise the limit in `max_findings` if the risk is accepted.",
};

/// An image's scan has not finished.
pub static IMAGE_SCAN_PENDING: ReasonCode = ReasonCode {
    code: "IMAGE_SCAN_PENDING",
    summary: "An image's vulnerability scan is still running, so its findings cannot be judged yet.",
    what: "ECR reports the image's scan status as PENDING or IN_PROGRESS.",
    why: "No findings is not the same as a clean scan; the check waits within its `max_wait`.",
    fix: "Usually nothing: the scan finishes within minutes. Scan on push avoids the wait.",
};

/// An image has no scan findings to judge.
pub static IMAGE_SCAN_MISSING: ReasonCode = ReasonCode {
    code: "IMAGE_SCAN_MISSING",
    summary: "An image has no scan findings, but `max_findings` limits them.",
    what: "ECR has no completed scan for the image (never scanned, scan failed, unsupported image, or findings unavailable).",
    why: "An unscanned image must not pass a findings limit; the check is inconclusive and `on_exhausted` decides when `max_wait` runs out.",
    fix: "Enable scan on push for the repository (or enhanced scanning), or start a scan (`aws ecr start-image-scan`); if the image cannot be scanned, remove `max_findings` for this check.",
};

/// A configured rule cannot be verified for an image outside ECR.
pub static IMAGE_UNVERIFIABLE: ReasonCode = ReasonCode {
    code: "IMAGE_UNVERIFIABLE",
    summary: "A configured rule (immutable tags or scan findings) cannot be verified for an image outside Amazon ECR.",
    what: "The image comes from a registry that is not an ECR private registry, so its tag mutability and scan findings cannot be read.",
    why: "A rule that cannot be checked must not pass; the check is inconclusive and `on_exhausted` decides.",
    fix: "Move the image to ECR (a pull-through cache rule works), pin it by digest (satisfies `require_immutable_tags`), or set `on_inconclusive: pass` for this check if the rule should not apply.",
};

/// The revision lists no container images.
pub static IMAGE_NONE: ReasonCode = ReasonCode {
    code: "IMAGE_NONE",
    summary: "The green revision lists no container images to check.",
    what: "The service revision's container images (DescribeServiceRevisions `containerImages`) were empty.",
    why: "No evidence is not success.",
    fix: "Usually transient while ECS fills the revision in; if it persists, check that the service revision is the one being deployed.",
};

/// The `image` check.
pub static DOC: CheckDoc = CheckDoc {
    kind: "image",
    summary: "Every container image is a valid reference from an allowed registry, exists in ECR as the digest ECS resolved, and meets the pinning, immutable-tag and scan-finding rules.",
    why: "Admission control before any task starts: a missing image, a moved tag or a vulnerable build is caught at PRE_SCALE_UP instead of as crash-looping tasks or in production. Images outside ECR get the registry and pinning rules and are reported as unverified.",
    example: "image:\n  registries: [\"*.dkr.ecr.*.amazonaws.com\"]\n  require_digest_pinning: false\n  require_immutable_tags: true\n  max_findings: { CRITICAL: 0, HIGH: 5 }",
    iam: &[IamNeed {
        when: "",
        example: "image",
        from: LifecycleStage::ReconcileService,
        facts: &[Fact::Revisions],
        calls: &[
            "ecr:DescribeImages",
            "ecr:DescribeRepositories",
            "ecr:DescribeImageScanFindings",
        ],
    }],
    codes: &[
        &IMAGE_VERIFIED,
        &IMAGE_EXTERNAL_UNVERIFIED,
        &IMAGE_REFERENCE_INVALID,
        &IMAGE_REGISTRY_NOT_ALLOWED,
        &IMAGE_NOT_PINNED,
        &IMAGE_REPOSITORY_NOT_FOUND,
        &IMAGE_NOT_FOUND,
        &IMAGE_DIGEST_MISMATCH,
        &IMAGE_TAG_MUTABLE,
        &IMAGE_FINDINGS_EXCEEDED,
        &IMAGE_SCAN_PENDING,
        &IMAGE_SCAN_MISSING,
        &IMAGE_UNVERIFIABLE,
        &IMAGE_NONE,
    ],
};

/// How bad a problem is, worst first; the outcome takes the worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Rank {
    Fail,
    PermanentError,
    TransientError,
    Inconclusive,
}

/// One problem with one image.
struct Problem {
    rank: Rank,
    code: &'static ReasonCode,
    message: String,
    evidence: Evidence,
    error: Option<FactError>,
}

impl Problem {
    fn new(rank: Rank, code: &'static ReasonCode, message: String, evidence: Evidence) -> Self {
        Problem {
            rank,
            code,
            message,
            evidence,
            error: None,
        }
    }

    fn error(container: &str, what: &str, error: &FactError, resource: &str) -> Self {
        let outcome = error.to_outcome();
        let rank = match outcome.error_class {
            Some(crate::outcome::ErrorClass::Transient) => Rank::TransientError,
            _ => Rank::PermanentError,
        };
        Problem {
            rank,
            code: outcome.code,
            message: format!("container {container}: {what}: {error}"),
            evidence: Evidence::new(
                format!("{what} of container {container}"),
                error.to_string(),
            )
            .resource(resource),
            error: Some(error.clone()),
        }
    }
}

/// The position of a code in [`DOC`]'s list: among failures of the same rank, the earlier code is
/// the more fundamental one and names the outcome.
fn code_order(code: &ReasonCode) -> usize {
    DOC.codes
        .iter()
        .position(|c| std::ptr::eq(*c, code))
        .unwrap_or(usize::MAX)
}

/// Judges the green revision's images under `params`.
pub fn judge(params: &ImageParams, images: &[ImageEvidence]) -> Outcome {
    if images.is_empty() {
        return Outcome::inconclusive(
            &IMAGE_NONE,
            "the green revision lists no container images yet",
        )
        .with_evidence(Evidence::new("container images", 0).threshold(">= 1"));
    }
    let mut problems = Vec::new();
    let mut passed = Vec::new();
    let mut external = 0usize;
    for image in images {
        let found = assess(params, image, &mut problems);
        match found {
            Some(Assessed::Verified(evidence)) => passed.push(evidence),
            Some(Assessed::External(evidence)) => {
                external += 1;
                passed.push(evidence);
            }
            None => {}
        }
    }

    let Some(worst) = problems.iter().min_by_key(|p| (p.rank, code_order(p.code))) else {
        let code = if external > 0 {
            &IMAGE_EXTERNAL_UNVERIFIED
        } else {
            &IMAGE_VERIFIED
        };
        let message = if external > 0 {
            format!(
                "{} image(s) checked: {} verified in ECR; {external} outside ECR passed the registry and pinning rules but their existence was not verified",
                images.len(),
                images.len() - external
            )
        } else {
            format!(
                "all {} image(s) exist in ECR as the digest ECS resolved and meet the configured rules",
                images.len()
            )
        };
        return passed
            .into_iter()
            .fold(Outcome::pass(code, message), Outcome::with_evidence);
    };

    let (code, rank, error) = (worst.code, worst.rank, worst.error.clone());
    problems.sort_by_key(|p| (p.rank, code_order(p.code)));
    let shown: Vec<&str> = problems
        .iter()
        .take(5)
        .map(|p| p.message.as_str())
        .collect();
    let mut message = shown.join("; ");
    if problems.len() > shown.len() {
        message.push_str(&format!("; and {} more", problems.len() - shown.len()));
    }
    let outcome = match rank {
        Rank::Fail => Outcome::fail(code, message),
        Rank::Inconclusive => Outcome::inconclusive(code, message),
        Rank::PermanentError | Rank::TransientError => {
            // Keep the error's own code and class (AWS_ACCESS_DENIED names the IAM action).
            let mut outcome = error
                .map(|e| e.to_outcome())
                .unwrap_or_else(|| Outcome::permanent_error(code, String::new()));
            outcome.message = message;
            outcome.evidence.clear();
            outcome
        }
    };
    problems
        .into_iter()
        .map(|p| p.evidence)
        .chain(passed)
        .fold(outcome, Outcome::with_evidence)
}

enum Assessed {
    Verified(Evidence),
    External(Evidence),
}

/// Adds the image's problems to `problems`; returns its passing evidence when it has none.
fn assess(
    params: &ImageParams,
    image: &ImageEvidence,
    problems: &mut Vec<Problem>,
) -> Option<Assessed> {
    let container = image.container.as_str();
    let before = problems.len();
    let reference = match &image.reference {
        Ok(reference) => reference,
        Err(error) => {
            problems.push(Problem::new(
                Rank::Fail,
                &IMAGE_REFERENCE_INVALID,
                format!("container {container}: {error}"),
                Evidence::new(
                    format!("image reference of container {container}"),
                    image.image.as_str(),
                )
                .threshold("[registry[:port]/]repository[:tag][@sha256:<64 hex>]")
                .resource(container)
                .samples(1),
            ));
            return None;
        }
    };

    if !params.registries.is_empty()
        && !params
            .registries
            .iter()
            .any(|pattern| pattern.matches(&reference.registry))
    {
        let allowed: Vec<&str> = params.registries.iter().map(|p| p.as_str()).collect();
        problems.push(Problem::new(
            Rank::Fail,
            &IMAGE_REGISTRY_NOT_ALLOWED,
            format!(
                "container {container}: image {} comes from registry {}, which is not in the allow-list ({})",
                image.image,
                reference.registry,
                allowed.join(", ")
            ),
            Evidence::new(format!("registry of container {container}'s image"), reference.registry.as_str())
                .threshold(format!("one of: {}", allowed.join(", ")))
                .resource(image.image.as_str())
                .samples(1),
        ));
    }

    if params.require_digest_pinning && !reference.is_pinned() {
        problems.push(Problem::new(
            Rank::Fail,
            &IMAGE_NOT_PINNED,
            format!(
                "container {container}: image {} is referenced by tag, not by digest",
                image.image
            ),
            Evidence::new(
                format!("digest in container {container}'s image reference"),
                "none",
            )
            .threshold("@sha256:… required")
            .resource(image.image.as_str())
            .samples(1),
        ));
    }

    let Some(ecr) = &image.ecr else {
        return assess_external(params, image, reference, before, problems);
    };
    let resource = ecr.repository_arn.as_str();
    let found = match &ecr.image {
        EcrImageLookup::Found(found) => found,
        EcrImageLookup::RepositoryNotFound => {
            problems.push(Problem::new(
                Rank::Fail,
                &IMAGE_REPOSITORY_NOT_FOUND,
                format!(
                    "container {container}: ECR repository {} does not exist",
                    reference.repository
                ),
                Evidence::new(
                    format!("ECR repository of container {container}"),
                    "not found",
                )
                .resource(resource)
                .samples(1),
            ));
            return None;
        }
        EcrImageLookup::ImageNotFound => {
            let wanted = lookup_key(reference);
            problems.push(Problem::new(
                Rank::Fail,
                &IMAGE_NOT_FOUND,
                format!(
                    "container {container}: ECR repository {} has no image {wanted}",
                    reference.repository
                ),
                Evidence::new(
                    format!("image {wanted} of container {container}"),
                    "not found",
                )
                .resource(resource)
                .samples(1),
            ));
            return None;
        }
        EcrImageLookup::Failed(error) => {
            problems.push(Problem::error(
                container,
                "ECR image lookup",
                error,
                resource,
            ));
            return None;
        }
    };

    let image_resource = format!("{resource}@{}", found.digest);
    // ECS resolved a digest for this revision; ECR's digest for the same reference must match, or
    // the tag moved (or the pinned digest is not what ECS resolved).
    let expected = reference.digest.as_deref().unwrap_or(&found.digest);
    if let Some(ecs_digest) = &image.ecs_digest
        && ecs_digest != expected
    {
        let named = lookup_key(reference);
        problems.push(Problem::new(
            Rank::Fail,
            &IMAGE_DIGEST_MISMATCH,
            format!(
                "container {container}: ECS resolved {ecs_digest} for {}, but ECR has {expected} for {named} now (the tag moved after the deployment started)",
                image.image
            ),
            Evidence::new(format!("digest ECS resolved for container {container}"), ecs_digest.as_str())
                .threshold(format!("= {expected} (ECR's digest for {named})"))
                .resource(image_resource.as_str())
                .samples(1),
        ));
    }

    if params.require_immutable_tags && !reference.is_pinned() {
        let tag = reference.effective_tag().unwrap_or("latest");
        match &ecr.tag_mutability {
            Some(Ok(mutability)) if mutability.is_immutable(tag) => {}
            Some(Ok(mutability)) => problems.push(Problem::new(
                Rank::Fail,
                &IMAGE_TAG_MUTABLE,
                format!(
                    "container {container}: tag {tag} of ECR repository {} can be moved (tag mutability {})",
                    reference.repository,
                    mutability.describe()
                ),
                Evidence::new(format!("tag mutability for container {container}'s tag {tag}"), mutability.describe())
                    .threshold("immutable")
                    .resource(resource)
                    .samples(1),
            )),
            Some(Err(error)) => problems.push(Problem::error(
                container,
                "ECR repository lookup",
                error,
                resource,
            )),
            None => problems.push(Problem::new(
                Rank::Inconclusive,
                &IMAGE_UNVERIFIABLE,
                format!(
                    "container {container}: the tag mutability of ECR repository {} was not read",
                    reference.repository
                ),
                Evidence::new(format!("tag mutability for container {container}"), "unknown")
                    .threshold("immutable")
                    .resource(resource),
            )),
        }
    }

    if !params.max_findings.is_empty() {
        assess_scan(params, container, found, &image_resource, problems);
    }

    (problems.len() == before).then(|| {
        let source = if image.ecs_digest.is_some() {
            "ECS resolved the same digest"
        } else {
            "ECS has not resolved a digest yet"
        };
        Assessed::Verified(
            Evidence::new(
                format!("ECR digest of container {container}'s image"),
                json!({
                    "image": image.image,
                    "digest": found.digest,
                    "tags": found.tags,
                    "ecs": source,
                }),
            )
            .resource(resource)
            .samples(1),
        )
    })
}

fn assess_external(
    params: &ImageParams,
    image: &ImageEvidence,
    reference: &ImageRef,
    before: usize,
    problems: &mut Vec<Problem>,
) -> Option<Assessed> {
    let container = image.container.as_str();
    let registry = if reference.is_ecr_public() {
        format!("{} (ECR Public)", reference.registry)
    } else {
        reference.registry.clone()
    };
    let mut unverifiable = Vec::new();
    if params.require_immutable_tags && !reference.is_pinned() {
        unverifiable.push("tag mutability");
    }
    if !params.max_findings.is_empty() {
        unverifiable.push("scan findings");
    }
    if !unverifiable.is_empty() {
        problems.push(Problem::new(
            Rank::Inconclusive,
            &IMAGE_UNVERIFIABLE,
            format!(
                "container {container}: image {} is in {registry}, not an ECR private registry, so its {} cannot be verified",
                image.image,
                unverifiable.join(" and ")
            ),
            Evidence::new(format!("{} of container {container}'s image", unverifiable.join(" and ")), "unknown")
                .threshold(rules_text(params))
                .resource(image.image.as_str()),
        ));
    }
    (problems.len() == before).then(|| {
        Assessed::External(
            Evidence::new(
                format!("existence of container {container}'s image"),
                format!("not verified: {registry} is not an ECR private registry"),
            )
            .resource(image.image.as_str()),
        )
    })
}

fn assess_scan(
    params: &ImageParams,
    container: &str,
    found: &EcrImage,
    resource: &str,
    problems: &mut Vec<Problem>,
) {
    let limits = limits_text(&params.max_findings);
    match &found.scan {
        ScanEvidence::Complete {
            counts,
            completed_at,
        } => {
            let over: Vec<String> = params
                .max_findings
                .iter()
                .filter_map(|(severity, max)| {
                    let count = counts.get(severity).copied().unwrap_or(0);
                    (count > *max).then(|| format!("{} {count} > {max}", severity_name(*severity)))
                })
                .collect();
            if !over.is_empty() {
                let counted: BTreeMap<&str, u32> = counts
                    .iter()
                    .map(|(severity, count)| (severity_name(*severity), *count))
                    .collect();
                let mut evidence = Evidence::new(
                    format!("scan findings of container {container}'s image"),
                    json!(counted),
                )
                .threshold(limits)
                .resource(resource)
                .samples(u64::from(counts.values().sum::<u32>()));
                if let Some(at) = completed_at {
                    evidence = evidence.window(format!("scan completed {at}"));
                }
                problems.push(Problem::new(
                    Rank::Fail,
                    &IMAGE_FINDINGS_EXCEEDED,
                    format!(
                        "container {container}: image {} has too many scan findings ({})",
                        found.digest,
                        over.join(", ")
                    ),
                    evidence,
                ));
            }
        }
        ScanEvidence::Pending { status } => problems.push(Problem::new(
            Rank::Inconclusive,
            &IMAGE_SCAN_PENDING,
            format!(
                "container {container}: the scan of image {} is {status}",
                found.digest
            ),
            Evidence::new(
                format!("scan status of container {container}'s image"),
                status.as_str(),
            )
            .threshold(format!("COMPLETE, then {limits}"))
            .resource(resource),
        )),
        ScanEvidence::Missing {
            status,
            description,
        } => {
            let detail = match (status, description) {
                (Some(status), Some(description)) => format!("scan status {status}: {description}"),
                (Some(status), None) => format!("scan status {status}"),
                (None, Some(description)) => description.clone(),
                (None, None) => "it was never scanned".to_owned(),
            };
            problems.push(Problem::new(
                Rank::Inconclusive,
                &IMAGE_SCAN_MISSING,
                format!(
                    "container {container}: image {} has no scan findings ({detail})",
                    found.digest
                ),
                Evidence::new(format!("scan of container {container}'s image"), detail)
                    .threshold(limits)
                    .resource(resource),
            ));
        }
        ScanEvidence::Failed(error) => problems.push(Problem::error(
            container,
            "ECR scan findings lookup",
            error,
            resource,
        )),
        // The gather half asks for scans whenever limits are set; a scan it did not ask for is
        // missing evidence, not a pass.
        ScanEvidence::NotAsked => problems.push(Problem::new(
            Rank::Inconclusive,
            &IMAGE_SCAN_MISSING,
            format!(
                "container {container}: the scan findings of image {} were not read",
                found.digest
            ),
            Evidence::new(format!("scan of container {container}'s image"), "not read")
                .threshold(limits)
                .resource(resource),
        )),
    }
}

/// What the reference is looked up by in ECR: its digest when pinned, else its tag.
fn lookup_key(reference: &ImageRef) -> String {
    match (&reference.digest, reference.effective_tag()) {
        (Some(digest), _) => digest.clone(),
        (None, Some(tag)) => format!("tagged {tag}"),
        (None, None) => "?".to_owned(),
    }
}

fn severity_name(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "CRITICAL",
        Severity::High => "HIGH",
        Severity::Medium => "MEDIUM",
        Severity::Low => "LOW",
        Severity::Informational => "INFORMATIONAL",
        Severity::Undefined => "UNDEFINED",
    }
}

fn limits_text(limits: &BTreeMap<Severity, u32>) -> String {
    limits
        .iter()
        .map(|(severity, max)| format!("{} <= {max}", severity_name(*severity)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn rules_text(params: &ImageParams) -> String {
    let mut rules = Vec::new();
    if params.require_immutable_tags {
        rules.push("immutable tags".to_owned());
    }
    if !params.max_findings.is_empty() {
        rules.push(format!("findings {}", limits_text(&params.max_findings)));
    }
    rules.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::RegistryPattern;
    use crate::outcome::{ErrorClass, Status};

    const ECR: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
    const REPO_ARN: &str = "arn:aws:ecr:us-east-1:123456789012:repository/team/web";
    const DIGEST_A: &str =
        "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const DIGEST_B: &str =
        "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    fn found(digest: &str, scan: ScanEvidence) -> EcrImageLookup {
        EcrImageLookup::Found(EcrImage {
            digest: digest.to_owned(),
            tags: vec!["v1".to_owned()],
            scan,
        })
    }

    fn ecr_image(image: &str, ecs_digest: Option<&str>, lookup: EcrImageLookup) -> ImageEvidence {
        ImageEvidence {
            container: "web".to_owned(),
            image: image.to_owned(),
            ecs_digest: ecs_digest.map(str::to_owned),
            reference: ImageRef::parse(image),
            ecr: Some(EcrEvidence {
                repository_arn: REPO_ARN.to_owned(),
                image: lookup,
                tag_mutability: Some(Ok(TagMutability::Immutable)),
            }),
        }
    }

    fn external(image: &str) -> ImageEvidence {
        ImageEvidence {
            container: "proxy".to_owned(),
            image: image.to_owned(),
            ecs_digest: None,
            reference: ImageRef::parse(image),
            ecr: None,
        }
    }

    fn tagged() -> String {
        format!("{ECR}/team/web:v1")
    }

    fn with_mutability(mut image: ImageEvidence, mutability: TagMutability) -> ImageEvidence {
        if let Some(ecr) = &mut image.ecr {
            ecr.tag_mutability = Some(Ok(mutability));
        }
        image
    }

    fn complete(critical: u32, high: u32) -> ScanEvidence {
        ScanEvidence::Complete {
            counts: BTreeMap::from([(Severity::Critical, critical), (Severity::High, high)]),
            completed_at: Some("2026-01-01T00:00:00Z".to_owned()),
        }
    }

    fn strict() -> ImageParams {
        ImageParams {
            registries: vec![
                "*.dkr.ecr.*.amazonaws.com"
                    .parse::<RegistryPattern>()
                    .expect("pattern"),
            ],
            require_digest_pinning: false,
            require_immutable_tags: true,
            max_findings: BTreeMap::from([(Severity::Critical, 0), (Severity::High, 5)]),
        }
    }

    fn throttled() -> FactError {
        FactError::Throttled {
            action: "ecr:DescribeImages".to_owned(),
            message: "Rate exceeded".to_owned(),
        }
    }

    fn denied() -> FactError {
        FactError::AccessDenied {
            action: "ecr:DescribeImages".to_owned(),
            resource: REPO_ARN.to_owned(),
            message: "not authorized".to_owned(),
        }
    }

    #[test]
    fn judges_each_case_by_its_reason() {
        let pinned = format!("{ECR}/team/web@{DIGEST_A}");
        let cases: Vec<(&str, ImageParams, Vec<ImageEvidence>, Status, &ReasonCode)> = vec![
            (
                "verified",
                strict(),
                vec![ecr_image(
                    &tagged(),
                    Some(DIGEST_A),
                    found(DIGEST_A, complete(0, 5)),
                )],
                Status::Pass,
                &IMAGE_VERIFIED,
            ),
            (
                "ECS has not resolved a digest yet",
                strict(),
                vec![ecr_image(&tagged(), None, found(DIGEST_A, complete(0, 0)))],
                Status::Pass,
                &IMAGE_VERIFIED,
            ),
            (
                "external image with default params",
                ImageParams::default(),
                vec![external("nginx:1.27")],
                Status::Pass,
                &IMAGE_EXTERNAL_UNVERIFIED,
            ),
            (
                "invalid reference",
                ImageParams::default(),
                vec![external("Team/Web:latest")],
                Status::Fail,
                &IMAGE_REFERENCE_INVALID,
            ),
            (
                "registry not allowed",
                strict(),
                vec![external("nginx:1.27")],
                Status::Fail,
                &IMAGE_REGISTRY_NOT_ALLOWED,
            ),
            (
                "not pinned",
                ImageParams {
                    require_digest_pinning: true,
                    ..ImageParams::default()
                },
                vec![ecr_image(
                    &tagged(),
                    Some(DIGEST_A),
                    found(DIGEST_A, ScanEvidence::NotAsked),
                )],
                Status::Fail,
                &IMAGE_NOT_PINNED,
            ),
            (
                "repository missing",
                strict(),
                vec![ecr_image(
                    &tagged(),
                    None,
                    EcrImageLookup::RepositoryNotFound,
                )],
                Status::Fail,
                &IMAGE_REPOSITORY_NOT_FOUND,
            ),
            (
                "tag missing",
                strict(),
                vec![ecr_image(&tagged(), None, EcrImageLookup::ImageNotFound)],
                Status::Fail,
                &IMAGE_NOT_FOUND,
            ),
            (
                "tag moved after ECS resolved it",
                strict(),
                vec![ecr_image(
                    &tagged(),
                    Some(DIGEST_A),
                    found(DIGEST_B, complete(0, 0)),
                )],
                Status::Fail,
                &IMAGE_DIGEST_MISMATCH,
            ),
            (
                "pinned digest differs from ECS's",
                ImageParams::default(),
                vec![ecr_image(
                    &pinned,
                    Some(DIGEST_B),
                    found(DIGEST_A, ScanEvidence::NotAsked),
                )],
                Status::Fail,
                &IMAGE_DIGEST_MISMATCH,
            ),
            (
                "mutable tags",
                strict(),
                vec![with_mutability(
                    ecr_image(&tagged(), Some(DIGEST_A), found(DIGEST_A, complete(0, 0))),
                    TagMutability::Mutable,
                )],
                Status::Fail,
                &IMAGE_TAG_MUTABLE,
            ),
            (
                "a pinned image needs no immutable tags",
                strict(),
                vec![with_mutability(
                    ecr_image(&pinned, Some(DIGEST_A), found(DIGEST_A, complete(0, 0))),
                    TagMutability::Mutable,
                )],
                Status::Pass,
                &IMAGE_VERIFIED,
            ),
            (
                "too many critical findings",
                strict(),
                vec![ecr_image(
                    &tagged(),
                    Some(DIGEST_A),
                    found(DIGEST_A, complete(1, 0)),
                )],
                Status::Fail,
                &IMAGE_FINDINGS_EXCEEDED,
            ),
            (
                "too many high findings",
                strict(),
                vec![ecr_image(
                    &tagged(),
                    Some(DIGEST_A),
                    found(DIGEST_A, complete(0, 6)),
                )],
                Status::Fail,
                &IMAGE_FINDINGS_EXCEEDED,
            ),
            (
                "scan running",
                strict(),
                vec![ecr_image(
                    &tagged(),
                    Some(DIGEST_A),
                    found(
                        DIGEST_A,
                        ScanEvidence::Pending {
                            status: "IN_PROGRESS".to_owned(),
                        },
                    ),
                )],
                Status::Inconclusive,
                &IMAGE_SCAN_PENDING,
            ),
            (
                "never scanned",
                strict(),
                vec![ecr_image(
                    &tagged(),
                    Some(DIGEST_A),
                    found(
                        DIGEST_A,
                        ScanEvidence::Missing {
                            status: None,
                            description: None,
                        },
                    ),
                )],
                Status::Inconclusive,
                &IMAGE_SCAN_MISSING,
            ),
            (
                "limits set but scan not read",
                strict(),
                vec![ecr_image(
                    &tagged(),
                    Some(DIGEST_A),
                    found(DIGEST_A, ScanEvidence::NotAsked),
                )],
                Status::Inconclusive,
                &IMAGE_SCAN_MISSING,
            ),
            (
                "external image with scan limits",
                ImageParams {
                    max_findings: BTreeMap::from([(Severity::Critical, 0)]),
                    ..ImageParams::default()
                },
                vec![external("nginx:1.27")],
                Status::Inconclusive,
                &IMAGE_UNVERIFIABLE,
            ),
            (
                "external image needing immutable tags",
                ImageParams {
                    require_immutable_tags: true,
                    ..ImageParams::default()
                },
                vec![external("ghcr.io/org/app:v1")],
                Status::Inconclusive,
                &IMAGE_UNVERIFIABLE,
            ),
            (
                "external pinned image needs no immutable tags",
                ImageParams {
                    require_immutable_tags: true,
                    ..ImageParams::default()
                },
                vec![external(&format!("ghcr.io/org/app@{DIGEST_A}"))],
                Status::Pass,
                &IMAGE_EXTERNAL_UNVERIFIED,
            ),
            (
                "no images",
                ImageParams::default(),
                vec![],
                Status::Inconclusive,
                &IMAGE_NONE,
            ),
        ];
        for (name, params, images, status, code) in cases {
            let outcome = judge(&params, &images);
            assert_eq!(
                (outcome.status, outcome.code.code),
                (status, code.code),
                "{name}: {}",
                outcome.message
            );
            assert!(!outcome.evidence.is_empty(), "{name}: no evidence");
        }
    }

    #[test]
    fn lookup_errors_keep_their_class_and_name_the_container() {
        let cases = [
            (throttled(), ErrorClass::Transient, "AWS_THROTTLED"),
            (denied(), ErrorClass::Permanent, "AWS_ACCESS_DENIED"),
        ];
        for (error, class, code) in cases {
            let outcome = judge(
                &ImageParams::default(),
                &[ecr_image(&tagged(), None, EcrImageLookup::Failed(error))],
            );
            assert_eq!(outcome.status, Status::Error);
            assert_eq!(outcome.error_class, Some(class));
            assert_eq!(outcome.code.code, code);
            assert!(
                outcome
                    .message
                    .starts_with("container web: ECR image lookup")
            );
            assert_eq!(outcome.evidence[0].resource.as_deref(), Some(REPO_ARN));
        }
        let scan_error = judge(
            &strict(),
            &[ecr_image(
                &tagged(),
                Some(DIGEST_A),
                found(DIGEST_A, ScanEvidence::Failed(throttled())),
            )],
        );
        assert_eq!(scan_error.error_class, Some(ErrorClass::Transient));
        let repo_error = ImageEvidence {
            ecr: Some(EcrEvidence {
                repository_arn: REPO_ARN.to_owned(),
                image: found(DIGEST_A, complete(0, 0)),
                tag_mutability: Some(Err(denied())),
            }),
            ..ecr_image(&tagged(), Some(DIGEST_A), EcrImageLookup::ImageNotFound)
        };
        assert_eq!(
            judge(&strict(), &[repo_error]).code.code,
            "AWS_ACCESS_DENIED"
        );
    }

    #[test]
    fn a_failure_outranks_an_error_and_every_problem_is_reported() {
        let missing = ImageEvidence {
            container: "sidecar".to_owned(),
            ..ecr_image(
                &format!("{ECR}/team/sidecar:v1"),
                None,
                EcrImageLookup::ImageNotFound,
            )
        };
        let erroring = ecr_image(&tagged(), None, EcrImageLookup::Failed(throttled()));
        let outcome = judge(&ImageParams::default(), &[erroring, missing]);
        assert_eq!(outcome.status, Status::Fail);
        assert_eq!(outcome.code, &IMAGE_NOT_FOUND);
        assert!(outcome.message.contains("container sidecar"));
        assert!(outcome.message.contains("container web"));
        assert_eq!(outcome.evidence.len(), 2);
    }

    #[test]
    fn evidence_names_value_threshold_and_resource() {
        let outcome = judge(
            &strict(),
            &[ecr_image(
                &tagged(),
                Some(DIGEST_A),
                found(DIGEST_A, complete(2, 9)),
            )],
        );
        let evidence = &outcome.evidence[0];
        assert_eq!(evidence.value, json!({"CRITICAL": 2, "HIGH": 9}));
        assert_eq!(
            evidence.threshold.as_deref(),
            Some("CRITICAL <= 0, HIGH <= 5")
        );
        assert_eq!(evidence.samples, Some(11));
        assert_eq!(
            evidence.resource.as_deref(),
            Some(format!("{REPO_ARN}@{DIGEST_A}").as_str())
        );
        assert!(outcome.message.contains("CRITICAL 2 > 0, HIGH 9 > 5"));

        let moved = judge(
            &strict(),
            &[ecr_image(
                &tagged(),
                Some(DIGEST_A),
                found(DIGEST_B, complete(0, 0)),
            )],
        );
        assert_eq!(moved.evidence[0].value, json!(DIGEST_A));
        assert_eq!(
            moved.evidence[0].threshold.as_deref(),
            Some(format!("= {DIGEST_B} (ECR's digest for tagged v1)").as_str())
        );
    }

    #[test]
    fn exclusion_filters_decide_which_tags_are_immutable() {
        let cases = [
            (TagMutability::Immutable, "v1", true),
            (TagMutability::Mutable, "v1", false),
            (
                TagMutability::ImmutableWithExclusion(vec!["latest".into(), "dev-*".into()]),
                "v1",
                true,
            ),
            (
                TagMutability::ImmutableWithExclusion(vec!["latest".into(), "dev-*".into()]),
                "dev-42",
                false,
            ),
            (
                TagMutability::ImmutableWithExclusion(vec!["latest".into()]),
                "latest",
                false,
            ),
            (
                TagMutability::MutableWithExclusion(vec!["release-*".into()]),
                "release-1.2",
                true,
            ),
            (
                TagMutability::MutableWithExclusion(vec!["release-*".into()]),
                "main",
                false,
            ),
            (TagMutability::Other("SOMETHING_NEW".into()), "v1", false),
        ];
        for (mutability, tag, immutable) in cases {
            assert_eq!(
                mutability.is_immutable(tag),
                immutable,
                "{mutability:?} {tag}"
            );
        }
        assert!(wildcard_matches("*", ""));
        assert!(wildcard_matches("a*b*c", "aXXbYc"));
        assert!(!wildcard_matches("a*b", "ab.c"));
    }

    #[test]
    fn the_doc_example_is_a_valid_check() {
        let check = crate::checks::registry::test_support::check(DOC.example)
            .unwrap_or_else(|errors| panic!("{errors:?}"));
        assert_eq!(check.kind.name(), DOC.kind);
    }

    #[test]
    fn the_doc_lists_every_code_with_its_family() {
        for code in DOC.codes {
            assert_eq!(code.family(), "IMAGE", "{}", code.code);
        }
        assert!(!DOC.summary.is_empty() && !DOC.why.is_empty() && !DOC.example.is_empty());
    }
}
