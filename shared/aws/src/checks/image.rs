//! The `image` check's gather half.
//!
//! The green revision's containers come from the shared facts; the ECR lookups are this check's
//! own, batched:
//! - `DescribeImages`: one call per repository with every tag and digest the revision uses from it
//!   (at most 100 ids a call). ECR answers `ImageNotFoundException` for the whole call when any id
//!   is missing, so only then are that call's ids asked one by one, to name the missing ones.
//! - `DescribeRepositories` (only with `require_immutable_tags`, for images referenced by tag): one
//!   call per registry with every repository, at the same time as `DescribeImages`.
//! - `DescribeImageScanFindings` (only with `max_findings`): per image, and only for images whose
//!   `DescribeImages` answer carried no findings summary.
//!
//! Images in another account's or region's registry are described there (the client's region is
//! switched; FIPS registry hosts use the FIPS endpoint). Images outside ECR make no calls.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use aws_sdk_ecr::Client;
use aws_sdk_ecr::types::{FindingSeverity, ImageDetail, ImageIdentifier, Repository};
use futures::future::join_all;
use greenlight_core::checks::image::{
    DOC, EcrEvidence, EcrImage, EcrImageLookup, ImageEvidence, ScanEvidence, TagMutability, judge,
};
use greenlight_core::checks::image_ref::{EcrRegistry, ImageRef};
use greenlight_core::checks::{ImageParams, Severity};
use greenlight_core::engine::{Check, CheckFuture, StageView};
use greenlight_core::facts::{FactError, Facts};

use super::CheckDeps;
use crate::error::classify;

const DESCRIBE_IMAGES: &str = "ecr:DescribeImages";
const DESCRIBE_REPOSITORIES: &str = "ecr:DescribeRepositories";
const DESCRIBE_SCAN_FINDINGS: &str = "ecr:DescribeImageScanFindings";
/// ECR takes at most 100 image ids, or 100 repository names, per call.
const MAX_IDS_PER_CALL: usize = 100;

const NOT_FOUND: &[(&str, &str)] = &[
    ("RepositoryNotFoundException", "ECR repository"),
    ("ImageNotFoundException", "ECR image"),
];

/// Builds the `image` check.
pub fn build(params: &ImageParams, deps: &CheckDeps) -> Box<dyn Check> {
    Box::new(ImageCheck::new(
        params.clone(),
        Arc::clone(&deps.facts),
        deps.clients.ecr.clone(),
    ))
}

/// The green revision's images, looked up in ECR and judged against the params.
pub struct ImageCheck {
    params: ImageParams,
    facts: Arc<dyn Facts>,
    ecr: Client,
}

/// What an image is looked up by: its digest when the reference pins one, else its tag.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum ImageKey {
    Digest(String),
    Tag(String),
}

impl ImageKey {
    fn of(reference: &ImageRef) -> Option<ImageKey> {
        match (&reference.digest, reference.effective_tag()) {
            (Some(digest), _) => Some(ImageKey::Digest(digest.clone())),
            (None, Some(tag)) => Some(ImageKey::Tag(tag.to_owned())),
            (None, None) => None,
        }
    }

    fn identifier(&self) -> ImageIdentifier {
        match self {
            ImageKey::Digest(digest) => ImageIdentifier::builder().image_digest(digest).build(),
            ImageKey::Tag(tag) => ImageIdentifier::builder().image_tag(tag).build(),
        }
    }

    fn matches(&self, detail: &ImageDetail) -> bool {
        match self {
            ImageKey::Digest(digest) => detail.image_digest() == Some(digest.as_str()),
            ImageKey::Tag(tag) => detail.image_tags().iter().any(|t| t == tag),
        }
    }
}

/// A registry as an API endpoint: the account, and the region and FIPS-ness to call.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct RegistryKey {
    account: String,
    region: String,
    fips: bool,
}

impl RegistryKey {
    fn of(registry: &EcrRegistry) -> Self {
        RegistryKey {
            account: registry.account.clone(),
            region: registry.region.clone(),
            fips: registry.fips,
        }
    }
}

/// One repository to describe: where, and which images.
struct RepositoryLookup {
    registry: EcrRegistry,
    client: Client,
    keys: BTreeSet<ImageKey>,
}

/// One registry's repositories whose tag mutability is needed.
struct MutabilityLookup {
    registry: EcrRegistry,
    client: Client,
    repositories: BTreeSet<String>,
}

type RepositoryId = (RegistryKey, String);

impl ImageCheck {
    /// The check with its params, the invocation's facts and the ECR client (whose region is
    /// switched for images in other regions).
    pub fn new(params: ImageParams, facts: Arc<dyn Facts>, ecr: Client) -> Self {
        ImageCheck { params, facts, ecr }
    }

    /// A client that calls `registry`'s region (and FIPS endpoint when its host is one).
    fn client_for(&self, registry: &EcrRegistry) -> Client {
        let config = self.ecr.config();
        let same_region = config.region().map(|region| region.as_ref()) == Some(&registry.region);
        if same_region && !registry.fips {
            return self.ecr.clone();
        }
        let mut builder = config
            .to_builder()
            .region(aws_sdk_ecr::config::Region::new(registry.region.clone()));
        if registry.fips {
            builder = builder.use_fips(true);
        }
        Client::from_conf(builder.build())
    }

    async fn gather(&self) -> Result<Vec<ImageEvidence>, FactError> {
        let green = self.facts.green().await?;
        let with_scans = !self.params.max_findings.is_empty();
        let references: Vec<_> = green
            .containers
            .iter()
            .map(|container| (container, ImageRef::parse(&container.image)))
            .collect();

        // Group what to ask by repository (images) and by registry (tag mutability).
        let mut clients: BTreeMap<RegistryKey, Client> = BTreeMap::new();
        let mut repositories: BTreeMap<RepositoryId, RepositoryLookup> = BTreeMap::new();
        let mut mutability: BTreeMap<RegistryKey, MutabilityLookup> = BTreeMap::new();
        for (_, reference) in &references {
            let Ok(reference) = reference else { continue };
            let (Some(registry), Some(key)) = (&reference.ecr, ImageKey::of(reference)) else {
                continue;
            };
            let registry_key = RegistryKey::of(registry);
            let client = clients
                .entry(registry_key.clone())
                .or_insert_with(|| self.client_for(registry))
                .clone();
            repositories
                .entry((registry_key.clone(), reference.repository.clone()))
                .or_insert_with(|| RepositoryLookup {
                    registry: registry.clone(),
                    client: client.clone(),
                    keys: BTreeSet::new(),
                })
                .keys
                .insert(key);
            if self.params.require_immutable_tags && !reference.is_pinned() {
                mutability
                    .entry(registry_key)
                    .or_insert_with(|| MutabilityLookup {
                        registry: registry.clone(),
                        client,
                        repositories: BTreeSet::new(),
                    })
                    .repositories
                    .insert(reference.repository.clone());
            }
        }

        let image_lookups = join_all(repositories.iter().map(|(id, lookup)| async move {
            let found = describe_images(
                &lookup.client,
                &lookup.registry,
                &id.1,
                &lookup.keys,
                with_scans,
            )
            .await;
            (id.clone(), found)
        }));
        let mutability_lookups = join_all(mutability.iter().map(|(key, lookup)| async move {
            let found =
                describe_repositories(&lookup.client, &lookup.registry, &lookup.repositories).await;
            (key.clone(), found)
        }));
        let (images, mutabilities) = futures::join!(image_lookups, mutability_lookups);
        let mut images: BTreeMap<RepositoryId, BTreeMap<ImageKey, EcrImageLookup>> =
            images.into_iter().collect();
        let mutabilities: BTreeMap<
            RegistryKey,
            BTreeMap<String, Result<TagMutability, FactError>>,
        > = mutabilities.into_iter().collect();

        if with_scans {
            read_missing_scans(&repositories, &mut images).await;
        }

        Ok(references
            .into_iter()
            .map(|(container, reference)| {
                let ecr = reference.as_ref().ok().and_then(|reference| {
                    let registry = reference.ecr.as_ref()?;
                    let registry_key = RegistryKey::of(registry);
                    let image = ImageKey::of(reference)
                        .and_then(|key| {
                            images
                                .get(&(registry_key.clone(), reference.repository.clone()))
                                .and_then(|found| found.get(&key))
                                .cloned()
                        })
                        .unwrap_or_else(|| {
                            EcrImageLookup::Failed(FactError::Unexpected {
                                action: DESCRIBE_IMAGES.to_owned(),
                                message: format!("no answer for {}", container.image),
                            })
                        });
                    let tag_mutability = (self.params.require_immutable_tags
                        && !reference.is_pinned())
                    .then(|| {
                        mutabilities
                            .get(&registry_key)
                            .and_then(|found| found.get(&reference.repository))
                            .cloned()
                    })
                    .flatten();
                    Some(EcrEvidence {
                        repository_arn: registry.repository_arn(&reference.repository),
                        image,
                        tag_mutability,
                    })
                });
                ImageEvidence {
                    container: container.container.clone(),
                    image: container.image.clone(),
                    ecs_digest: container.digest.clone(),
                    reference,
                    ecr,
                }
            })
            .collect())
    }
}

impl Check for ImageCheck {
    fn kind(&self) -> &'static str {
        DOC.kind
    }

    fn run<'a>(&'a self, _stage: &'a StageView) -> CheckFuture<'a> {
        Box::pin(async move {
            match self.gather().await {
                Ok(images) => judge(&self.params, &images),
                Err(error) => error.to_outcome(),
            }
        })
    }
}

/// Describes `keys` of one repository: one call per 100 ids; when ECR says one of a call's images
/// is missing (which fails the whole call), that call's ids are asked one by one.
async fn describe_images(
    client: &Client,
    registry: &EcrRegistry,
    repository: &str,
    keys: &BTreeSet<ImageKey>,
    with_scans: bool,
) -> BTreeMap<ImageKey, EcrImageLookup> {
    let keys: Vec<ImageKey> = keys.iter().cloned().collect();
    let chunks = keys.chunks(MAX_IDS_PER_CALL).map(|chunk| async move {
        match describe_image_chunk(client, registry, repository, chunk, with_scans).await {
            Some(found) => found,
            None => join_all(chunk.iter().map(|key| async move {
                describe_image_chunk(
                    client,
                    registry,
                    repository,
                    std::slice::from_ref(key),
                    with_scans,
                )
                .await
                .unwrap_or_else(|| BTreeMap::from([(key.clone(), EcrImageLookup::ImageNotFound)]))
            }))
            .await
            .into_iter()
            .flatten()
            .collect(),
        }
    });
    join_all(chunks).await.into_iter().flatten().collect()
}

/// One `DescribeImages` call for `keys`; `None` when ECR answered that an image is missing, which
/// for more than one key does not say which.
async fn describe_image_chunk(
    client: &Client,
    registry: &EcrRegistry,
    repository: &str,
    keys: &[ImageKey],
    with_scans: bool,
) -> Option<BTreeMap<ImageKey, EcrImageLookup>> {
    let result = client
        .describe_images()
        .registry_id(&registry.account)
        .repository_name(repository)
        .set_image_ids(Some(keys.iter().map(ImageKey::identifier).collect()))
        .send()
        .await;
    let every = |lookup: EcrImageLookup| {
        keys.iter()
            .map(|key| (key.clone(), lookup.clone()))
            .collect::<BTreeMap<_, _>>()
    };
    match result {
        Ok(output) => Some(
            keys.iter()
                .map(|key| {
                    let lookup = output
                        .image_details()
                        .iter()
                        .find(|detail| key.matches(detail))
                        .and_then(|detail| found_image(detail, with_scans))
                        .unwrap_or(EcrImageLookup::ImageNotFound);
                    (key.clone(), lookup)
                })
                .collect(),
        ),
        Err(error) => {
            let service = error.as_service_error();
            if service.is_some_and(|e| e.is_repository_not_found_exception()) {
                Some(every(EcrImageLookup::RepositoryNotFound))
            } else if service.is_some_and(|e| e.is_image_not_found_exception()) {
                None
            } else {
                let resource = registry.repository_arn(repository);
                Some(every(EcrImageLookup::Failed(classify(
                    &error,
                    DESCRIBE_IMAGES,
                    &resource,
                    NOT_FOUND,
                ))))
            }
        }
    }
}

fn found_image(detail: &ImageDetail, with_scans: bool) -> Option<EcrImageLookup> {
    let digest = detail.image_digest()?.to_owned();
    let scan = if with_scans {
        scan_from_summary(detail)
    } else {
        ScanEvidence::NotAsked
    };
    Some(EcrImageLookup::Found(EcrImage {
        digest,
        tags: detail.image_tags().to_vec(),
        scan,
    }))
}

/// The scan as `DescribeImages` summarizes it; `NotAsked` when the summary is not enough, so that
/// `DescribeImageScanFindings` is asked.
fn scan_from_summary(detail: &ImageDetail) -> ScanEvidence {
    let status = detail.image_scan_status();
    let status_text = status
        .and_then(|s| s.status())
        .map(|s| s.as_str().to_owned());
    let description = status.and_then(|s| s.description()).map(str::to_owned);
    let summary = detail.image_scan_findings_summary();
    match status_text.as_deref() {
        Some("PENDING" | "IN_PROGRESS") => ScanEvidence::Pending {
            status: status_text.unwrap_or_default(),
        },
        Some("COMPLETE" | "ACTIVE") | None => match summary {
            Some(summary) if summary.finding_severity_counts.is_some() => ScanEvidence::Complete {
                counts: counts(summary.finding_severity_counts.as_ref()),
                completed_at: summary.image_scan_completed_at().map(ToString::to_string),
            },
            // A finished basic scan with no findings omits the counts.
            Some(summary) if status_text.as_deref() == Some("COMPLETE") => ScanEvidence::Complete {
                counts: BTreeMap::new(),
                completed_at: summary.image_scan_completed_at().map(ToString::to_string),
            },
            _ => ScanEvidence::NotAsked,
        },
        Some(_) => ScanEvidence::Missing {
            status: status_text,
            description,
        },
    }
}

fn counts(
    counts: Option<&std::collections::HashMap<FindingSeverity, i32>>,
) -> BTreeMap<Severity, u32> {
    let mut by_severity = BTreeMap::new();
    for (severity, count) in counts.into_iter().flatten() {
        let severity = match severity {
            FindingSeverity::Critical => Severity::Critical,
            FindingSeverity::High => Severity::High,
            FindingSeverity::Medium => Severity::Medium,
            FindingSeverity::Low => Severity::Low,
            FindingSeverity::Informational => Severity::Informational,
            _ => Severity::Undefined,
        };
        *by_severity.entry(severity).or_insert(0) += u32::try_from(*count).unwrap_or(0);
    }
    by_severity
}

/// Asks `DescribeImageScanFindings` for every found image whose summary was not enough, once per
/// repository and digest, concurrently.
async fn read_missing_scans(
    repositories: &BTreeMap<RepositoryId, RepositoryLookup>,
    images: &mut BTreeMap<RepositoryId, BTreeMap<ImageKey, EcrImageLookup>>,
) {
    let mut wanted: BTreeSet<(RepositoryId, String)> = BTreeSet::new();
    for (id, found) in images.iter() {
        for lookup in found.values() {
            if let EcrImageLookup::Found(image) = lookup
                && image.scan == ScanEvidence::NotAsked
            {
                wanted.insert((id.clone(), image.digest.clone()));
            }
        }
    }
    let scans = join_all(wanted.into_iter().filter_map(|(id, digest)| {
        let lookup = repositories.get(&id)?;
        Some(async move {
            let scan = describe_scan(&lookup.client, &lookup.registry, &id.1, &digest).await;
            ((id, digest), scan)
        })
    }))
    .await;
    for ((id, digest), scan) in scans {
        for lookup in images
            .get_mut(&id)
            .into_iter()
            .flat_map(|found| found.values_mut())
        {
            if let EcrImageLookup::Found(image) = lookup
                && image.digest == digest
            {
                image.scan = scan.clone();
            }
        }
    }
}

async fn describe_scan(
    client: &Client,
    registry: &EcrRegistry,
    repository: &str,
    digest: &str,
) -> ScanEvidence {
    let result = client
        .describe_image_scan_findings()
        .registry_id(&registry.account)
        .repository_name(repository)
        .image_id(ImageIdentifier::builder().image_digest(digest).build())
        // The severity counts come with every page; one finding keeps the answer small.
        .max_results(1)
        .send()
        .await;
    match result {
        Ok(output) => {
            let status = output.image_scan_status();
            let status_text = status
                .and_then(|s| s.status())
                .map(|s| s.as_str().to_owned());
            let description = status.and_then(|s| s.description()).map(str::to_owned);
            match (status_text.as_deref(), output.image_scan_findings()) {
                (Some("PENDING" | "IN_PROGRESS"), _) => ScanEvidence::Pending {
                    status: status_text.unwrap_or_default(),
                },
                (Some("COMPLETE" | "ACTIVE") | None, Some(findings)) => ScanEvidence::Complete {
                    counts: counts(findings.finding_severity_counts.as_ref()),
                    completed_at: findings.image_scan_completed_at().map(ToString::to_string),
                },
                _ => ScanEvidence::Missing {
                    status: status_text,
                    description,
                },
            }
        }
        Err(error) => {
            let service = error.as_service_error();
            if service.is_some_and(|e| e.is_scan_not_found_exception()) {
                ScanEvidence::Missing {
                    status: None,
                    description: Some("ECR has no scan of this image".to_owned()),
                }
            } else {
                let resource = format!("{}@{digest}", registry.repository_arn(repository));
                ScanEvidence::Failed(classify(
                    &error,
                    DESCRIBE_SCAN_FINDINGS,
                    &resource,
                    NOT_FOUND,
                ))
            }
        }
    }
}

/// Reads the tag mutability of `repositories` in one registry: one call per 100 names; when ECR
/// says one is missing (which fails the whole call), each is asked alone. Missing repositories are
/// left out (the image lookup reports them).
async fn describe_repositories(
    client: &Client,
    registry: &EcrRegistry,
    repositories: &BTreeSet<String>,
) -> BTreeMap<String, Result<TagMutability, FactError>> {
    let names: Vec<String> = repositories.iter().cloned().collect();
    let chunks = names.chunks(MAX_IDS_PER_CALL).map(|chunk| async move {
        match describe_repository_chunk(client, registry, chunk).await {
            Some(found) => found,
            None => join_all(chunk.iter().map(|name| async move {
                describe_repository_chunk(client, registry, std::slice::from_ref(name))
                    .await
                    .unwrap_or_default()
            }))
            .await
            .into_iter()
            .flatten()
            .collect(),
        }
    });
    join_all(chunks).await.into_iter().flatten().collect()
}

/// One `DescribeRepositories` call; `None` when ECR answered that a repository is missing.
async fn describe_repository_chunk(
    client: &Client,
    registry: &EcrRegistry,
    names: &[String],
) -> Option<BTreeMap<String, Result<TagMutability, FactError>>> {
    let result = client
        .describe_repositories()
        .registry_id(&registry.account)
        .set_repository_names(Some(names.to_vec()))
        .send()
        .await;
    match result {
        Ok(output) => Some(
            output
                .repositories()
                .iter()
                .filter_map(|repository| {
                    let name = repository.repository_name()?.to_owned();
                    Some((name, Ok(tag_mutability(repository))))
                })
                .collect(),
        ),
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_repository_not_found_exception()) =>
        {
            if names.len() > 1 {
                None
            } else {
                Some(BTreeMap::new())
            }
        }
        Err(error) => {
            let resource = names
                .iter()
                .map(|name| registry.repository_arn(name))
                .collect::<Vec<_>>()
                .join(", ");
            let error = classify(&error, DESCRIBE_REPOSITORIES, &resource, NOT_FOUND);
            Some(
                names
                    .iter()
                    .map(|name| (name.clone(), Err(error.clone())))
                    .collect(),
            )
        }
    }
}

fn tag_mutability(repository: &Repository) -> TagMutability {
    let filters = || {
        repository
            .image_tag_mutability_exclusion_filters()
            .iter()
            .map(|filter| filter.filter().to_owned())
            .collect()
    };
    match repository.image_tag_mutability().map(|m| m.as_str()) {
        // MUTABLE is ECR's default when a repository says nothing.
        None | Some("MUTABLE") => TagMutability::Mutable,
        Some("IMMUTABLE") => TagMutability::Immutable,
        Some("IMMUTABLE_WITH_EXCLUSION") => TagMutability::ImmutableWithExclusion(filters()),
        Some("MUTABLE_WITH_EXCLUSION") => TagMutability::MutableWithExclusion(filters()),
        Some(other) => TagMutability::Other(other.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_ecr::operation::describe_image_scan_findings::DescribeImageScanFindingsOutput;
    use aws_sdk_ecr::operation::describe_images::DescribeImagesOutput;
    use aws_sdk_ecr::operation::describe_repositories::DescribeRepositoriesOutput;
    use aws_sdk_ecr::types::{
        ImageScanFindings, ImageScanFindingsSummary, ImageScanStatus, ImageTagMutability,
        ImageTagMutabilityExclusionFilter, ImageTagMutabilityExclusionFilterType, ScanStatus,
    };
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
    use aws_smithy_types::retry::RetryConfig;
    use greenlight_core::checks::image::{
        IMAGE_DIGEST_MISMATCH, IMAGE_EXTERNAL_UNVERIFIED, IMAGE_FINDINGS_EXCEEDED, IMAGE_NOT_FOUND,
        IMAGE_REPOSITORY_NOT_FOUND, IMAGE_TAG_MUTABLE, IMAGE_VERIFIED,
    };
    use greenlight_core::facts::StaticFacts;
    use greenlight_core::outcome::{ErrorClass, Status};

    use super::*;
    use crate::checks::tasks::tests::{green_revision, service, stage_view};

    const REGISTRY: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
    const A: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    const C: &str = "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";

    /// An ECR (awsJson1.1) error body.
    fn json_error(code: &str, message: &str) -> String {
        format!("{{\"__type\":\"{code}\",\"message\":\"{message}\"}}")
    }

    fn detail(repository: &str, digest: &str, tags: &[&str], critical: Option<i32>) -> ImageDetail {
        let mut detail = ImageDetail::builder()
            .registry_id("123456789012")
            .repository_name(repository)
            .image_digest(digest)
            .set_image_tags(Some(tags.iter().map(|t| (*t).to_owned()).collect()));
        if let Some(critical) = critical {
            detail = detail
                .image_scan_status(
                    ImageScanStatus::builder()
                        .status(ScanStatus::Complete)
                        .build(),
                )
                .image_scan_findings_summary(
                    ImageScanFindingsSummary::builder()
                        .finding_severity_counts(FindingSeverity::Critical, critical)
                        .finding_severity_counts(FindingSeverity::Low, 7)
                        .build(),
                );
        }
        detail.build()
    }

    fn images(details: Vec<ImageDetail>) -> DescribeImagesOutput {
        DescribeImagesOutput::builder()
            .set_image_details(Some(details))
            .build()
    }

    fn repository(name: &str, mutability: ImageTagMutability, exclusions: &[&str]) -> Repository {
        Repository::builder()
            .registry_id("123456789012")
            .repository_name(name)
            .image_tag_mutability(mutability)
            .set_image_tag_mutability_exclusion_filters(Some(
                exclusions
                    .iter()
                    .map(|filter| {
                        ImageTagMutabilityExclusionFilter::builder()
                            .filter_type(ImageTagMutabilityExclusionFilterType::Wildcard)
                            .filter(*filter)
                            .build()
                            .expect("filter")
                    })
                    .collect(),
            ))
            .build()
    }

    fn client(rules: &[&Rule]) -> Client {
        mock_client!(aws_sdk_ecr, RuleMode::MatchAny, rules, |config| {
            config.retry_config(RetryConfig::standard().with_max_attempts(3))
        })
    }

    fn facts(containers: &[(&str, &str, Option<&str>)]) -> StaticFacts {
        let mut facts = StaticFacts::new(service());
        facts.green = Ok(Arc::new(green_revision(containers)));
        facts
    }

    async fn run(params: ImageParams, facts: StaticFacts, ecr: Client) -> greenlight_core::Outcome {
        ImageCheck::new(params, Arc::new(facts), ecr)
            .run(&stage_view("PRE_SCALE_UP"))
            .await
    }

    fn web(tag: &str) -> String {
        format!("{REGISTRY}/team/web:{tag}")
    }

    fn one_image() -> StaticFacts {
        facts(&[("web", &web("v1"), Some(A))])
    }

    fn strict() -> ImageParams {
        ImageParams {
            require_immutable_tags: true,
            max_findings: BTreeMap::from([(Severity::Critical, 0)]),
            ..ImageParams::default()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn one_describe_images_call_per_repository_and_one_describe_repositories() {
        let web_images = mock!(Client::describe_images)
            .match_requests(|input| {
                input.repository_name() == Some("team/web")
                    && input.registry_id() == Some("123456789012")
                    && input.image_ids().len() == 2
            })
            .then_output(|| {
                images(vec![
                    detail("team/web", A, &["v1"], Some(0)),
                    detail("team/web", B, &["v0"], Some(0)),
                ])
            });
        let proxy_images = mock!(Client::describe_images)
            .match_requests(|input| {
                input.repository_name() == Some("team/proxy") && input.image_ids().len() == 1
            })
            .then_output(|| images(vec![detail("team/proxy", C, &["v3"], Some(0))]));
        let repositories = mock!(Client::describe_repositories)
            .match_requests(|input| input.repository_names() == ["team/proxy", "team/web"])
            .then_output(|| {
                DescribeRepositoriesOutput::builder()
                    .repositories(repository("team/web", ImageTagMutability::Immutable, &[]))
                    .repositories(repository(
                        "team/proxy",
                        ImageTagMutability::ImmutableWithExclusion,
                        &["latest", "dev-*"],
                    ))
                    .build()
            });
        let scans = mock!(Client::describe_image_scan_findings)
            .then_output(|| DescribeImageScanFindingsOutput::builder().build());
        let facts = facts(&[
            ("web", &web("v1"), Some(A)),
            ("worker", &format!("{REGISTRY}/team/web@{B}"), Some(B)),
            ("proxy", &format!("{REGISTRY}/team/proxy:v3"), Some(C)),
            ("also-web", &web("v1"), Some(A)),
        ]);
        let ecr = client(&[&web_images, &proxy_images, &repositories, &scans]);
        let outcome = run(strict(), facts, ecr).await;
        assert_eq!(outcome.code, &IMAGE_VERIFIED, "{}", outcome.message);
        assert_eq!(outcome.evidence.len(), 4);
        assert_eq!(web_images.num_calls(), 1);
        assert_eq!(proxy_images.num_calls(), 1);
        assert_eq!(repositories.num_calls(), 1);
        assert_eq!(scans.num_calls(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_tag_excluded_from_immutability_fails() {
        let found = mock!(Client::describe_images)
            .then_output(|| images(vec![detail("team/web", A, &["dev-42"], None)]));
        let repositories = mock!(Client::describe_repositories).then_output(|| {
            DescribeRepositoriesOutput::builder()
                .repositories(repository(
                    "team/web",
                    ImageTagMutability::ImmutableWithExclusion,
                    &["dev-*"],
                ))
                .build()
        });
        let params = ImageParams {
            require_immutable_tags: true,
            ..ImageParams::default()
        };
        let facts = facts(&[("web", &web("dev-42"), None)]);
        let outcome = run(params, facts, client(&[&found, &repositories])).await;
        assert_eq!(outcome.code, &IMAGE_TAG_MUTABLE, "{}", outcome.message);
        assert!(outcome.message.contains("dev-*"));
    }

    #[tokio::test(start_paused = true)]
    async fn scans_without_a_summary_are_read_once_per_image() {
        let found = mock!(Client::describe_images)
            .then_output(|| images(vec![detail("team/web", A, &["v1", "v1.0"], None)]));
        let scans = mock!(Client::describe_image_scan_findings)
            .match_requests(|input| {
                input.image_id().and_then(|id| id.image_digest()) == Some(A)
                    && input.repository_name() == Some("team/web")
            })
            .then_output(|| {
                DescribeImageScanFindingsOutput::builder()
                    .image_scan_status(
                        ImageScanStatus::builder()
                            .status(ScanStatus::Active)
                            .build(),
                    )
                    .image_scan_findings(
                        ImageScanFindings::builder()
                            .finding_severity_counts(FindingSeverity::Critical, 2)
                            .build(),
                    )
                    .build()
            });
        let facts = facts(&[
            ("web", &web("v1"), Some(A)),
            ("web-too", &web("v1.0"), Some(A)),
        ]);
        let params = ImageParams {
            max_findings: BTreeMap::from([(Severity::Critical, 0)]),
            ..ImageParams::default()
        };
        let outcome = run(params, facts, client(&[&found, &scans])).await;
        assert_eq!(
            outcome.code, &IMAGE_FINDINGS_EXCEEDED,
            "{}",
            outcome.message
        );
        assert_eq!(found.num_calls(), 1);
        assert_eq!(scans.num_calls(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn an_image_never_scanned_is_inconclusive() {
        let found = mock!(Client::describe_images)
            .then_output(|| images(vec![detail("team/web", A, &["v1"], None)]));
        let scans = mock!(Client::describe_image_scan_findings)
            .sequence()
            .http_status(400, Some(json_error("ScanNotFoundException", "no scan")))
            .build();
        let outcome = run(strict_scans(), one_image(), client(&[&found, &scans])).await;
        assert_eq!(outcome.status, Status::Inconclusive, "{}", outcome.message);
        assert_eq!(outcome.code.code, "IMAGE_SCAN_MISSING");
    }

    fn strict_scans() -> ImageParams {
        ImageParams {
            max_findings: BTreeMap::from([(Severity::Critical, 0)]),
            ..ImageParams::default()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_missing_tag_in_a_batch_is_found_by_asking_one_by_one() {
        let batch = mock!(Client::describe_images)
            .match_requests(|input| input.image_ids().len() == 2)
            .sequence()
            .http_status(
                400,
                Some(json_error(
                    "ImageNotFoundException",
                    "The image requested does not exist",
                )),
            )
            .build();
        let present = mock!(Client::describe_images)
            .match_requests(|input| {
                input.image_ids().len() == 1 && input.image_ids()[0].image_tag() == Some("v1")
            })
            .then_output(|| images(vec![detail("team/web", A, &["v1"], None)]));
        let absent = mock!(Client::describe_images)
            .match_requests(|input| {
                input.image_ids().len() == 1 && input.image_ids()[0].image_tag() == Some("v9")
            })
            .sequence()
            .http_status(
                400,
                Some(json_error(
                    "ImageNotFoundException",
                    "The image requested does not exist",
                )),
            )
            .build();
        let facts = facts(&[("web", &web("v1"), Some(A)), ("sidecar", &web("v9"), None)]);
        let outcome = run(
            ImageParams::default(),
            facts,
            client(&[&batch, &present, &absent]),
        )
        .await;
        assert_eq!(outcome.code, &IMAGE_NOT_FOUND, "{}", outcome.message);
        assert!(outcome.message.contains("container sidecar"));
        assert!(outcome.message.contains("tagged v9"));
        assert!(!outcome.message.contains("container web:"));
        assert_eq!(
            (batch.num_calls(), present.num_calls(), absent.num_calls()),
            (1, 1, 1)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_missing_repository_fails() {
        let rule = mock!(Client::describe_images)
            .sequence()
            .http_status(
                400,
                Some(json_error(
                    "RepositoryNotFoundException",
                    "The repository does not exist",
                )),
            )
            .build();
        let outcome = run(ImageParams::default(), one_image(), client(&[&rule])).await;
        assert_eq!(
            outcome.code, &IMAGE_REPOSITORY_NOT_FOUND,
            "{}",
            outcome.message
        );
        assert_eq!(
            outcome.evidence[0].resource.as_deref(),
            Some("arn:aws:ecr:us-east-1:123456789012:repository/team/web")
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_moved_tag_fails() {
        let rule = mock!(Client::describe_images)
            .then_output(|| images(vec![detail("team/web", B, &["v1"], None)]));
        let outcome = run(ImageParams::default(), one_image(), client(&[&rule])).await;
        assert_eq!(outcome.code, &IMAGE_DIGEST_MISMATCH, "{}", outcome.message);
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_then_success_passes() {
        let rule = mock!(Client::describe_images)
            .sequence()
            .http_status(
                400,
                Some(json_error("ThrottlingException", "Rate exceeded")),
            )
            .output(|| images(vec![detail("team/web", A, &["v1"], None)]))
            .build();
        let outcome = run(ImageParams::default(), one_image(), client(&[&rule])).await;
        assert_eq!(outcome.code, &IMAGE_VERIFIED, "{}", outcome.message);
        assert_eq!(rule.num_calls(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn throttled_throughout_is_transient() {
        let rule = mock!(Client::describe_images)
            .sequence()
            .http_status(
                400,
                Some(json_error("ThrottlingException", "Rate exceeded")),
            )
            .times(3)
            .build();
        let outcome = run(ImageParams::default(), one_image(), client(&[&rule])).await;
        assert_eq!(outcome.status, Status::Error);
        assert_eq!(outcome.error_class, Some(ErrorClass::Transient));
        assert_eq!(outcome.code.code, "AWS_THROTTLED");
        assert_eq!(rule.num_calls(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn access_denied_names_the_action_and_repository() {
        let rule = mock!(Client::describe_images)
            .sequence()
            .http_status(
                400,
                Some(json_error(
                    "AccessDeniedException",
                    "User is not authorized to perform ecr:DescribeImages",
                )),
            )
            .build();
        let outcome = run(ImageParams::default(), one_image(), client(&[&rule])).await;
        assert!(outcome.is_permanent_error());
        assert_eq!(outcome.code.code, "AWS_ACCESS_DENIED");
        assert!(
            outcome.message.contains(DESCRIBE_IMAGES),
            "{}",
            outcome.message
        );
        assert!(
            outcome
                .message
                .contains("arn:aws:ecr:us-east-1:123456789012:repository/team/web"),
            "{}",
            outcome.message
        );
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn images_outside_ecr_make_no_calls() {
        let rule = mock!(Client::describe_images).then_output(|| images(vec![]));
        let facts = facts(&[
            ("proxy", "nginx:1.27", None),
            ("envoy", "public.ecr.aws/envoy/envoy:v1", None),
        ]);
        let outcome = run(ImageParams::default(), facts, client(&[&rule])).await;
        assert_eq!(
            outcome.code, &IMAGE_EXTERNAL_UNVERIFIED,
            "{}",
            outcome.message
        );
        assert_eq!(rule.num_calls(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn the_green_revision_fact_error_is_the_outcome() {
        let rule = mock!(Client::describe_images).then_output(|| images(vec![]));
        let mut facts = StaticFacts::new(service());
        facts.green = Err(FactError::Throttled {
            action: "ecs:DescribeServiceRevisions".to_owned(),
            message: "Rate exceeded".to_owned(),
        });
        let outcome = run(ImageParams::default(), facts, client(&[&rule])).await;
        assert_eq!(outcome.error_class, Some(ErrorClass::Transient));
        assert_eq!(rule.num_calls(), 0);
    }

    #[test]
    fn registries_in_other_regions_get_a_client_for_their_region() {
        let check = ImageCheck::new(ImageParams::default(), Arc::new(one_image()), client(&[]));
        let registry = |host: &str| {
            ImageRef::parse(&format!("{host}/web"))
                .expect("reference")
                .ecr
                .expect("ECR")
        };
        let home = check.client_for(&registry(REGISTRY));
        assert_eq!(
            home.config().region().map(|r| r.as_ref()),
            Some("us-east-1")
        );
        let away = check.client_for(&registry("123456789012.dkr.ecr.eu-west-1.amazonaws.com"));
        assert_eq!(
            away.config().region().map(|r| r.as_ref()),
            Some("eu-west-1")
        );
        let fips = check.client_for(&registry(
            "123456789012.dkr.ecr-fips.us-east-1.amazonaws.com",
        ));
        assert_eq!(
            fips.config().region().map(|r| r.as_ref()),
            Some("us-east-1")
        );
    }
}
