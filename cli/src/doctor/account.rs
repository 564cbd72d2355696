//! The account reads `doctor` makes for ECS and CodeDeploy services alike: which greenlight
//! function a hook calls, whether a role trusts its engine, what IAM's policy simulator says a role
//! may do, and whether the load balancer parts, alarms and images a deployment names exist.
//! Each read answers with what it found or with why it could not look, never a guess.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ecs::error::ProvideErrorMetadata;
use aws_smithy_runtime_api::client::result::SdkError;
use greenlight_core::catalogue::FUNCTION_IDENTITY_VAR;
use greenlight_core::checks::image_ref::ImageRef;
use greenlight_core::config::resolve::ENV_VAR as CONFIG_ENV_VAR;
use greenlight_sim::iam::PolicyDocument;

use super::Clients;

/// Why a read could not answer: what to put in an unchecked item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    /// What happened.
    pub detail: String,
    /// What would let doctor look.
    pub fix: String,
}

/// An SDK error as an [`Unreadable`]: a denial names the permission doctor needs.
pub fn unreadable<E: ProvideErrorMetadata + std::error::Error + 'static>(
    action: &str,
    resource: &str,
    error: &SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> Unreadable {
    let detail = error
        .as_service_error()
        .and_then(|service| service.message().map(str::to_owned))
        .unwrap_or_else(|| aws_sdk_ecs::error::DisplayErrorContext(error).to_string());
    match error_code(error) {
        Some(code) if is_denial(code) => Unreadable {
            detail: format!("{action} on {resource} was denied ({detail})"),
            fix: format!("run doctor with a principal allowed {action} (see the README's table)"),
        },
        Some(code) => Unreadable {
            detail: format!("{action} on {resource} failed: {code}: {detail}"),
            fix: "run doctor again; if it persists, read the error above".to_owned(),
        },
        None => Unreadable {
            detail: format!("{action} on {resource} could not be sent: {detail}"),
            fix: "check the region, credentials and network (AWS_REGION, AWS_PROFILE)".to_owned(),
        },
    }
}

/// The service error code of an SDK error, if AWS answered.
pub fn error_code<E: ProvideErrorMetadata>(
    error: &SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> Option<&str> {
    error
        .as_service_error()
        .and_then(ProvideErrorMetadata::code)
}

fn is_denial(code: &str) -> bool {
    matches!(
        code,
        "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation"
    )
}

/// A Lambda function behind a hook, as its configuration says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FunctionLookup {
    /// One of greenlight's functions.
    Greenlight(FunctionFacts),
    /// A function that is not greenlight's (no `GREENLIGHT_FUNCTION`).
    Other(FunctionFacts),
    /// No such function.
    Missing(String),
    /// Could not be read.
    Unreadable(Unreadable),
}

/// What doctor reads of a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionFacts {
    /// Its name.
    pub name: String,
    /// Its ARN (unqualified).
    pub arn: String,
    /// The ARN the engine invokes: the hook's target as written (a version or alias kept), as a
    /// full ARN. IAM authorizes `lambda:InvokeFunction` on exactly that ARN.
    pub invoked_arn: String,
    /// greenlight's name for it (`test-traffic`), from `GREENLIGHT_FUNCTION`; empty for others.
    pub identity: String,
    /// Its execution role.
    pub role: String,
    /// `GREENLIGHT_CONFIG`, when set.
    pub config_reference: Option<String>,
}

/// Reads the function `target` (a name or ARN, qualified or not) names.
pub async fn function(clients: &Clients, target: &str) -> FunctionLookup {
    let answer = clients
        .lambda
        .get_function_configuration()
        .function_name(target)
        .send()
        .await;
    let configuration = match answer {
        Ok(configuration) => configuration,
        Err(error) if error_code(&error) == Some("ResourceNotFoundException") => {
            return FunctionLookup::Missing(format!("there is no Lambda function {target}"));
        }
        Err(error) => {
            return FunctionLookup::Unreadable(unreadable(
                "lambda:GetFunctionConfiguration",
                target,
                &error,
            ));
        }
    };
    let environment = configuration.environment();
    if let Some(error) = environment.and_then(|environment| environment.error()) {
        return FunctionLookup::Unreadable(Unreadable {
            detail: format!(
                "{target}'s environment could not be read: {}",
                error.message().unwrap_or("Lambda gave no reason")
            ),
            fix: "allow doctor's principal kms:Decrypt on the function's environment key"
                .to_owned(),
        });
    }
    let variables = environment.and_then(|environment| environment.variables());
    let variable = |name: &str| variables.and_then(|variables| variables.get(name)).cloned();
    let arn = unqualified(configuration.function_arn().unwrap_or(target)).to_owned();
    let facts = FunctionFacts {
        name: configuration.function_name().unwrap_or(target).to_owned(),
        invoked_arn: invoked_arn(target, &arn),
        arn,
        identity: variable(FUNCTION_IDENTITY_VAR).unwrap_or_default(),
        role: configuration.role().unwrap_or_default().to_owned(),
        config_reference: variable(CONFIG_ENV_VAR),
    };
    if facts.identity.is_empty() {
        FunctionLookup::Other(facts)
    } else {
        FunctionLookup::Greenlight(facts)
    }
}

/// The full ARN a hook target names: the target itself when it is a full ARN, else the function's
/// ARN with the target's qualifier (`name:live`), if any.
fn invoked_arn(target: &str, unqualified_arn: &str) -> String {
    if target.starts_with("arn:") {
        return target.to_owned();
    }
    let qualifier = target
        .rsplit_once(":function:")
        .map_or(target, |(_, rest)| rest)
        .split_once(':')
        .map(|(_, qualifier)| qualifier);
    match qualifier {
        Some(qualifier) if !qualifier.is_empty() => format!("{unqualified_arn}:{qualifier}"),
        _ => unqualified_arn.to_owned(),
    }
}

/// A function ARN without its version or alias.
fn unqualified(arn: &str) -> &str {
    match arn.match_indices(':').nth(6) {
        Some((at, _)) => &arn[..at],
        None => arn,
    }
}

/// Whether a role lets an AWS service assume it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// The trust policy allows the service, whether or not it passes the source keys.
    Trusted,
    /// It does not, and why.
    NotTrusted(String),
    /// It does under one of two undocumented behaviours and not the other: doctor cannot say.
    Undetermined(String),
    /// No such role.
    Missing(String),
    /// Could not be read or evaluated.
    Unreadable(Unreadable),
}

/// Whether the role `role_arn` trusts `service` (`ecs.amazonaws.com`). Whether a service passes
/// `aws:SourceAccount`/`aws:SourceArn` when it assumes a role is not documented for every
/// engine, so the trust must hold both when it does (with this account, and `source_arn`) and when
/// it does not.
pub async fn trust(clients: &Clients, role_arn: &str, service: &str, source_arn: &str) -> Trust {
    let name = super::short_name(role_arn);
    let role = match clients.iam.get_role().role_name(name).send().await {
        Ok(output) => output.role,
        Err(error) if error_code(&error) == Some("NoSuchEntity") => {
            return Trust::Missing(format!("there is no IAM role {name}"));
        }
        Err(error) => return Trust::Unreadable(unreadable("iam:GetRole", name, &error)),
    };
    let Some(encoded) = role.and_then(|role| role.assume_role_policy_document) else {
        return Trust::NotTrusted(format!("{name} has no trust policy"));
    };
    let document = match trust_document(&encoded) {
        Ok(document) => document,
        Err(message) => {
            return Trust::Unreadable(Unreadable {
                detail: format!("{name}'s trust policy could not be read: {message}"),
                fix: "check the trust policy by hand".to_owned(),
            });
        }
    };
    let unsupported: BTreeSet<String> = document
        .statements
        .iter()
        .flat_map(|statement| statement.unsupported())
        .collect();
    let account = source_arn.split(':').nth(4).unwrap_or_default();
    let with_keys = BTreeMap::from([
        ("aws:sourceaccount".to_owned(), vec![account.to_owned()]),
        ("aws:sourcearn".to_owned(), vec![source_arn.to_owned()]),
    ]);
    let without = document.trusts(service, &BTreeMap::new());
    let with = document.trusts(service, &with_keys);
    match (with, without) {
        (true, true) => Trust::Trusted,
        _ if !unsupported.is_empty() => Trust::Unreadable(Unreadable {
            detail: format!(
                "{name}'s trust policy uses condition operators doctor does not evaluate: {}",
                unsupported.into_iter().collect::<Vec<_>>().join(", ")
            ),
            fix: format!("check by hand that {service} may assume {name}"),
        }),
        (false, false) => Trust::NotTrusted(format!(
            "{name}'s trust policy does not let {service} assume it"
        )),
        (true, false) => Trust::Undetermined(format!(
            "{name}'s trust policy lets {service} assume it only when the request carries \
             aws:SourceAccount/aws:SourceArn, and AWS does not document {service} passing them"
        )),
        (false, true) => Trust::Undetermined(format!(
            "{name}'s trust policy refuses {service} when it passes aws:SourceAccount/\
             aws:SourceArn as doctor guessed them ({source_arn}); what {service} sends is not \
             documented"
        )),
    }
}

/// A trust policy as GetRole returns it: URL-encoded (RFC 3986), as IAM documents; read plain
/// JSON too.
fn trust_document(text: &str) -> Result<PolicyDocument, String> {
    let decoded;
    let json = if text.trim_start().starts_with('{') {
        text
    } else {
        decoded = percent_decode(text)?;
        &decoded
    };
    serde_json::from_str::<serde_json::Value>(json)
        .map(normalise_policy)
        .and_then(serde_json::from_value)
        .map_err(|error| error.to_string())
}

/// A policy with every single-string `Action`/`Resource` (and `Statement`) made a list, and each
/// condition value a list of strings, as [`PolicyDocument`] reads them.
pub fn normalise_policy(mut policy: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    fn list(value: &mut Value) {
        if !value.is_array() && !value.is_null() {
            *value = Value::Array(vec![value.take()]);
        }
    }
    if !policy.is_object() {
        return policy;
    }
    list(&mut policy["Statement"]);
    if let Some(statements) = policy["Statement"].as_array_mut() {
        for statement in statements {
            let Some(object) = statement.as_object_mut() else {
                continue;
            };
            for key in ["Action", "NotAction", "Resource", "NotResource"] {
                if let Some(value) = object.get_mut(key) {
                    list(value);
                }
            }
            if let Some(conditions) = object.get_mut("Condition").and_then(Value::as_object_mut) {
                for entries in conditions.values_mut().filter_map(Value::as_object_mut) {
                    for value in entries.values_mut() {
                        list(value);
                        if let Some(items) = value.as_array_mut() {
                            for item in items {
                                if !item.is_string() {
                                    *item = Value::String(item.to_string());
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    policy
}

fn percent_decode(text: &str) -> Result<String, String> {
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .map(std::borrow::Cow::into_owned)
        .map_err(|error| error.to_string())
}

/// One action to simulate: on which resources, with which request context.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Simulated {
    /// `service:Action`.
    pub action: String,
    /// Resource ARNs (`*` for actions without resource-level permissions).
    pub resources: Vec<String>,
    /// Context keys the call carries (`ecs:cluster`).
    pub context: Vec<(String, String)>,
}

/// What the simulator said about one action.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Allowance {
    /// The resources it is not allowed on (empty: allowed everywhere asked).
    pub denied_on: Vec<String>,
    /// Whether a `Deny` statement refused it.
    pub explicit: bool,
    /// Context keys the role's policies read that the simulation did not have.
    pub missing_context: Vec<String>,
}

impl Allowance {
    /// Whether the action is allowed on every resource asked.
    pub fn allowed(&self) -> bool {
        self.denied_on.is_empty()
    }
}

/// Asks IAM's policy simulator what `role_arn` may do: one `SimulatePrincipalPolicy` per
/// distinct (resources, context), every page read. The answer is read either way IAM has given it:
/// one result per action with each resource's decision in `ResourceSpecificResults` (as the API
/// reference documents now), or one result per action and resource (as it used to).
pub async fn simulate(
    clients: &Clients,
    role_arn: &str,
    wanted: &[Simulated],
) -> Result<BTreeMap<String, Allowance>, Unreadable> {
    // Actions asked together: same resources, same context.
    type Batch = (Vec<String>, Vec<(String, String)>);
    let mut groups: BTreeMap<Batch, Vec<String>> = BTreeMap::new();
    for item in wanted {
        groups
            .entry((item.resources.clone(), item.context.clone()))
            .or_default()
            .push(item.action.clone());
    }
    let mut allowances: BTreeMap<String, Allowance> = BTreeMap::new();
    for ((resources, context), actions) in groups {
        let entries: Vec<aws_sdk_iam::types::ContextEntry> = context
            .iter()
            .map(|(key, value)| {
                aws_sdk_iam::types::ContextEntry::builder()
                    .context_key_name(key)
                    .context_key_values(value)
                    .context_key_type(aws_sdk_iam::types::ContextKeyTypeEnum::String)
                    .build()
            })
            .collect();
        let mut marker: Option<String> = None;
        loop {
            let mut request = clients
                .iam
                .simulate_principal_policy()
                .policy_source_arn(role_arn)
                .set_action_names(Some(actions.clone()))
                .set_context_entries((!entries.is_empty()).then(|| entries.clone()))
                .set_marker(marker.clone());
            if resources.iter().any(|resource| resource != "*") {
                request = request.set_resource_arns(Some(resources.clone()));
            }
            let page = request
                .send()
                .await
                .map_err(|error| unreadable("iam:SimulatePrincipalPolicy", role_arn, &error))?;
            for result in page.evaluation_results() {
                let allowance = allowances
                    .entry(result.eval_action_name().to_owned())
                    .or_default();
                let specific = result.resource_specific_results();
                let decision = result.eval_decision().as_str();
                if specific.is_empty() {
                    if decision != "allowed" {
                        allowance
                            .denied_on
                            .push(result.eval_resource_name().unwrap_or("*").to_owned());
                        allowance.explicit |= decision == "explicitDeny";
                    }
                } else {
                    let mut refused_here = false;
                    for each in specific {
                        let resource_decision = each.eval_resource_decision().as_str();
                        if resource_decision != "allowed" {
                            refused_here = true;
                            allowance
                                .denied_on
                                .push(each.eval_resource_name().to_owned());
                            allowance.explicit |= resource_decision == "explicitDeny";
                        }
                        // With ResourceArns, IAM lists the missing keys per resource.
                        allowance
                            .missing_context
                            .extend(each.missing_context_values().iter().cloned());
                    }
                    // A top-level refusal with no resource refused still refuses.
                    if decision != "allowed" && !refused_here {
                        allowance.denied_on.push("*".to_owned());
                        allowance.explicit |= decision == "explicitDeny";
                    }
                }
                allowance
                    .missing_context
                    .extend(result.missing_context_values().iter().cloned());
            }
            match page.marker() {
                Some(next) if page.is_truncated() => marker = Some(next.to_owned()),
                _ => break,
            }
        }
    }
    for allowance in allowances.values_mut() {
        allowance.denied_on.sort();
        allowance.denied_on.dedup();
        allowance.missing_context.sort();
        allowance.missing_context.dedup();
    }
    Ok(allowances)
}

/// Whether something a deployment names exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Existence {
    /// It does.
    Exists,
    /// It does not (the service's error code).
    Missing(String),
    /// Could not be read.
    Unreadable(Unreadable),
}

/// Whether the target group `arn` exists.
pub async fn target_group(clients: &Clients, arn: &str) -> Existence {
    let answer = clients
        .elb
        .describe_target_groups()
        .target_group_arns(arn)
        .send()
        .await
        .map(|output| !output.target_groups().is_empty());
    existence(
        "elasticloadbalancing:DescribeTargetGroups",
        arn,
        "TargetGroupNotFound",
        answer,
    )
}

/// Whether the listener rule `arn` exists.
pub async fn listener_rule(clients: &Clients, arn: &str) -> Existence {
    let answer = clients
        .elb
        .describe_rules()
        .rule_arns(arn)
        .send()
        .await
        .map(|output| !output.rules().is_empty());
    existence(
        "elasticloadbalancing:DescribeRules",
        arn,
        "RuleNotFound",
        answer,
    )
}

/// Whether the listener `arn` exists.
pub async fn listener(clients: &Clients, arn: &str) -> Existence {
    let answer = clients
        .elb
        .describe_listeners()
        .listener_arns(arn)
        .send()
        .await
        .map(|output| !output.listeners().is_empty());
    existence(
        "elasticloadbalancing:DescribeListeners",
        arn,
        "ListenerNotFound",
        answer,
    )
}

/// A describe-by-ARN answer: found, `not_found` (ELBv2 answers an unknown ARN with an error, not
/// an empty list; both read as missing), or unreadable.
fn existence<E: ProvideErrorMetadata + std::error::Error + 'static>(
    action: &str,
    arn: &str,
    not_found: &str,
    answer: Result<bool, SdkError<E, aws_smithy_runtime_api::http::Response>>,
) -> Existence {
    match answer {
        Ok(true) => Existence::Exists,
        Ok(false) => Existence::Missing(not_found.to_owned()),
        Err(error) if error_code(&error) == Some(not_found) => {
            Existence::Missing(not_found.to_owned())
        }
        Err(error) => Existence::Unreadable(unreadable(action, arn, &error)),
    }
}

/// Which of `names` exist as CloudWatch alarms (metric or composite): the missing ones.
pub async fn missing_alarms(
    clients: &Clients,
    names: &BTreeSet<String>,
) -> Result<Vec<String>, Unreadable> {
    let mut missing = Vec::new();
    let names: Vec<&String> = names.iter().collect();
    // DescribeAlarms takes at most 100 names.
    for chunk in names.chunks(100) {
        let mut found = BTreeSet::new();
        let mut token: Option<String> = None;
        loop {
            let output = clients
                .cloudwatch
                .describe_alarms()
                .set_alarm_names(Some(chunk.iter().map(|name| (*name).clone()).collect()))
                .alarm_types(aws_sdk_cloudwatch::types::AlarmType::MetricAlarm)
                .alarm_types(aws_sdk_cloudwatch::types::AlarmType::CompositeAlarm)
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(|error| unreadable("cloudwatch:DescribeAlarms", "the alarms", &error))?;
            found.extend(
                output
                    .metric_alarms()
                    .iter()
                    .filter_map(|alarm| alarm.alarm_name().map(str::to_owned)),
            );
            found.extend(
                output
                    .composite_alarms()
                    .iter()
                    .filter_map(|alarm| alarm.alarm_name().map(str::to_owned)),
            );
            match output.next_token() {
                Some(next) => token = Some(next.to_owned()),
                None => break,
            }
        }
        missing.extend(
            chunk
                .iter()
                .filter(|name| !found.contains(name.as_str()))
                .map(|name| (*name).clone()),
        );
    }
    Ok(missing)
}

/// The alarms (metric or composite) whose names start with `prefix`, at most 100.
pub async fn alarms_with_prefix(
    clients: &Clients,
    prefix: &str,
) -> Result<Vec<String>, Unreadable> {
    let output = clients
        .cloudwatch
        .describe_alarms()
        .alarm_name_prefix(prefix)
        .alarm_types(aws_sdk_cloudwatch::types::AlarmType::MetricAlarm)
        .alarm_types(aws_sdk_cloudwatch::types::AlarmType::CompositeAlarm)
        .max_records(100)
        .send()
        .await
        .map_err(|error| unreadable("cloudwatch:DescribeAlarms", prefix, &error))?;
    Ok(output
        .metric_alarms()
        .iter()
        .filter_map(|alarm| alarm.alarm_name().map(str::to_owned))
        .chain(
            output
                .composite_alarms()
                .iter()
                .filter_map(|alarm| alarm.alarm_name().map(str::to_owned)),
        )
        .collect())
}

/// Whether a container image resolves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageLookup {
    /// ECR has it, at this digest.
    Resolves(String),
    /// Not in ECR: doctor does not look in other registries.
    NotEcr,
    /// ECR does not have it (why).
    Missing(String),
    /// The reference does not parse.
    Invalid(String),
    /// Could not be read.
    Unreadable(Unreadable),
}

/// Whether `reference` resolves in ECR.
pub async fn image(clients: &Clients, reference: &str) -> ImageLookup {
    let image = match ImageRef::parse(reference) {
        Ok(image) => image,
        Err(error) => return ImageLookup::Invalid(error.problem),
    };
    let Some(registry) = &image.ecr else {
        return ImageLookup::NotEcr;
    };
    let mut id = aws_sdk_ecr::types::ImageIdentifier::builder();
    if let Some(digest) = &image.digest {
        id = id.image_digest(digest);
    } else {
        id = id.image_tag(image.effective_tag().unwrap_or("latest"));
    }
    // The registry's own region, which may not be doctor's.
    let region = aws_sdk_ecr::config::Region::new(registry.region.clone());
    match clients
        .ecr
        .describe_images()
        .registry_id(&registry.account)
        .repository_name(&image.repository)
        .image_ids(id.build())
        .customize()
        .config_override(aws_sdk_ecr::config::Builder::default().region(region))
        .send()
        .await
    {
        Ok(output) => match output
            .image_details()
            .first()
            .and_then(|detail| detail.image_digest())
        {
            Some(digest) => ImageLookup::Resolves(digest.to_owned()),
            None => ImageLookup::Missing("ECR returned no image".to_owned()),
        },
        Err(error) => match error_code(&error) {
            Some(code @ ("ImageNotFoundException" | "RepositoryNotFoundException")) => {
                ImageLookup::Missing(code.to_owned())
            }
            _ => {
                ImageLookup::Unreadable(unreadable("ecr:DescribeImages", &image.repository, &error))
            }
        },
    }
}

/// A Smithy document (ECS's `hookDetails`) as JSON.
pub fn document_json(document: &aws_smithy_types::Document) -> serde_json::Value {
    use aws_smithy_types::{Document, Number};
    match document {
        Document::Object(map) => serde_json::Value::Object(
            map.iter()
                .map(|(key, value)| (key.clone(), document_json(value)))
                .collect(),
        ),
        Document::Array(items) => {
            serde_json::Value::Array(items.iter().map(document_json).collect())
        }
        Document::Number(Number::PosInt(n)) => (*n).into(),
        Document::Number(Number::NegInt(n)) => (*n).into(),
        Document::Number(Number::Float(n)) => serde_json::Number::from_f64(*n)
            .map_or(serde_json::Value::Null, serde_json::Value::Number),
        Document::String(text) => text.clone().into(),
        Document::Bool(value) => (*value).into(),
        Document::Null => serde_json::Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trust_policy_reads_url_encoded_or_plain_with_single_strings() {
        let plain = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"ecs.amazonaws.com"},"Action":"sts:AssumeRole"}}"#;
        let encoded: String = plain
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        for text in [plain, encoded.as_str()] {
            let document = trust_document(text).expect("reads");
            assert!(document.trusts("ecs.amazonaws.com", &BTreeMap::new()));
            assert!(!document.trusts("lambda.amazonaws.com", &BTreeMap::new()));
        }
    }

    #[test]
    fn the_invoked_arn_keeps_the_hook_targets_qualifier() {
        let arn = "arn:aws:lambda:us-east-1:111122223333:function:f";
        assert_eq!(invoked_arn("f", arn), arn);
        assert_eq!(invoked_arn("f:live", arn), format!("{arn}:live"));
        assert_eq!(invoked_arn(&format!("{arn}:7"), arn), format!("{arn}:7"));
        assert_eq!(
            invoked_arn("111122223333:function:f:live", arn),
            format!("{arn}:live")
        );
    }

    #[test]
    fn a_trust_policy_that_is_not_an_object_is_refused_not_a_panic() {
        assert!(trust_document("[1, 2]").is_err());
        assert!(trust_document("%5B1%5D").is_err());
        assert!(trust_document("%ZZ").is_err());
    }

    #[test]
    fn a_qualified_function_arn_loses_its_alias() {
        assert_eq!(
            unqualified(
                "arn:aws:lambda:us-east-1:111122223333:function:greenlight-test-traffic:live"
            ),
            "arn:aws:lambda:us-east-1:111122223333:function:greenlight-test-traffic"
        );
        assert_eq!(
            unqualified("arn:aws:lambda:us-east-1:111122223333:function:f"),
            "arn:aws:lambda:us-east-1:111122223333:function:f"
        );
    }

    #[test]
    fn a_hook_details_document_becomes_the_same_json() {
        use aws_smithy_types::{Document, Number};
        let document = Document::Object(
            [
                ("a".to_owned(), Document::Number(Number::PosInt(1))),
                (
                    "b".to_owned(),
                    Document::Array(vec![Document::Bool(true), Document::Null]),
                ),
                ("c".to_owned(), Document::String("x".into())),
            ]
            .into(),
        );
        assert_eq!(
            document_json(&document),
            serde_json::json!({ "a": 1, "b": [true, null], "c": "x" })
        );
    }
}

/// The reads against IAM and Lambda as AWS answers them, mocked the SDK's way.
#[cfg(test)]
mod sdk_tests {
    use aws_sdk_iam::operation::get_role::GetRoleOutput;
    use aws_sdk_iam::operation::simulate_principal_policy::SimulatePrincipalPolicyOutput;
    use aws_sdk_iam::types::{
        EvaluationResult, PolicyEvaluationDecisionType, ResourceSpecificResult, Role,
    };
    use aws_sdk_lambda::operation::get_function_configuration::GetFunctionConfigurationError;
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;

    const ROLE: &str = "arn:aws:iam::111122223333:role/hooks";
    const OWN: &str = "arn:aws:lambda:eu-west-1:111122223333:function:greenlight-test-traffic";
    const OTHER: &str = "arn:aws:lambda:eu-west-1:111122223333:function:other";

    fn clients(iam: &[&Rule], lambda: &[&Rule]) -> Clients {
        let config = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("eu-west-1"))
            .build();
        Clients {
            iam: mock_client!(aws_sdk_iam, RuleMode::MatchAny, iam),
            lambda: mock_client!(aws_sdk_lambda, RuleMode::MatchAny, lambda),
            ..Clients::new(&config)
        }
    }

    fn wanted() -> Vec<Simulated> {
        vec![Simulated {
            action: "lambda:InvokeFunction".into(),
            resources: vec![OWN.into(), OTHER.into()],
            context: Vec::new(),
        }]
    }

    fn decision(name: &str) -> PolicyEvaluationDecisionType {
        PolicyEvaluationDecisionType::from(name)
    }

    /// IAM's current answer: one result per action, each resource's decision inside it.
    #[tokio::test]
    async fn one_result_per_action_is_read_resource_by_resource() {
        let answer = mock!(aws_sdk_iam::Client::simulate_principal_policy).then_output(|| {
            let specific = |resource: &str, name: &str| {
                ResourceSpecificResult::builder()
                    .eval_resource_name(resource)
                    .eval_resource_decision(decision(name))
                    .build()
                    .expect("complete")
            };
            SimulatePrincipalPolicyOutput::builder()
                .evaluation_results(
                    EvaluationResult::builder()
                        .eval_action_name("lambda:InvokeFunction")
                        .eval_resource_name("*")
                        .eval_decision(decision("implicitDeny"))
                        .resource_specific_results(specific(OWN, "allowed"))
                        .resource_specific_results(specific(OTHER, "implicitDeny"))
                        .build()
                        .expect("complete"),
                )
                .is_truncated(false)
                .build()
        });
        let allowances = simulate(&clients(&[&answer], &[]), ROLE, &wanted())
            .await
            .expect("read");
        let invoke = &allowances["lambda:InvokeFunction"];
        assert!(!invoke.allowed());
        assert_eq!(invoke.denied_on, vec![OTHER.to_owned()]);
        assert!(!invoke.explicit);
    }

    /// IAM's former answer (one result per action and resource, no resource-specific results):
    /// read the same way.
    #[tokio::test]
    async fn one_result_per_resource_is_read_too() {
        let answer = mock!(aws_sdk_iam::Client::simulate_principal_policy).then_output(|| {
            let result = |resource: &str, name: &str| {
                EvaluationResult::builder()
                    .eval_action_name("lambda:InvokeFunction")
                    .eval_resource_name(resource)
                    .eval_decision(decision(name))
                    .build()
                    .expect("complete")
            };
            SimulatePrincipalPolicyOutput::builder()
                .evaluation_results(result(OWN, "allowed"))
                .evaluation_results(result(OTHER, "explicitDeny"))
                .is_truncated(false)
                .build()
        });
        let allowances = simulate(&clients(&[&answer], &[]), ROLE, &wanted())
            .await
            .expect("read");
        let invoke = &allowances["lambda:InvokeFunction"];
        assert_eq!(invoke.denied_on, vec![OTHER.to_owned()]);
        assert!(invoke.explicit);
    }

    #[tokio::test]
    async fn a_denied_simulation_names_the_permission_doctor_needs() {
        let denied = mock!(aws_sdk_iam::Client::simulate_principal_policy).then_error(|| {
            aws_sdk_iam::operation::simulate_principal_policy::SimulatePrincipalPolicyError::generic(
                ErrorMetadata::builder()
                    .code("AccessDenied")
                    .message("not authorized to perform: iam:SimulatePrincipalPolicy")
                    .build(),
            )
        });
        let error = simulate(&clients(&[&denied], &[]), ROLE, &wanted())
            .await
            .expect_err("denied");
        assert!(
            error.detail.contains("iam:SimulatePrincipalPolicy on"),
            "{error:?}"
        );
        assert!(
            error.fix.contains("iam:SimulatePrincipalPolicy"),
            "{error:?}"
        );
    }

    /// A trust policy that needs the source keys trusts ECS only if ECS sends them, which AWS
    /// does not document: doctor cannot say, and says why.
    #[tokio::test]
    async fn a_trust_that_holds_only_with_source_keys_is_undetermined() {
        let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ecs.amazonaws.com"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"aws:SourceAccount":"111122223333"}}}]}"#;
        let encoded: String = policy
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        let role = mock!(aws_sdk_iam::Client::get_role).then_output(move || {
            GetRoleOutput::builder()
                .role(
                    Role::builder()
                        .path("/")
                        .role_name("hooks")
                        .role_id("AROAEXAMPLE")
                        .arn(ROLE)
                        .create_date(aws_smithy_types::DateTime::from_secs(0))
                        .assume_role_policy_document(encoded.clone())
                        .build()
                        .expect("complete"),
                )
                .build()
        });
        let service = "arn:aws:ecs:eu-west-1:111122223333:service/prod/web";
        match trust(&clients(&[&role], &[]), ROLE, "ecs.amazonaws.com", service).await {
            Trust::Undetermined(message) => {
                assert!(
                    message.contains("only when the request carries"),
                    "{message}"
                );
                assert!(message.contains("does not document"), "{message}");
            }
            other => panic!("expected undetermined, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_function_that_does_not_exist_or_cannot_be_read_is_said_so() {
        let missing = mock!(aws_sdk_lambda::Client::get_function_configuration)
            .match_requests(|request| request.function_name() == Some("gone"))
            .then_error(|| {
                GetFunctionConfigurationError::generic(
                    ErrorMetadata::builder()
                        .code("ResourceNotFoundException")
                        .message("Function not found")
                        .build(),
                )
            });
        let denied = mock!(aws_sdk_lambda::Client::get_function_configuration)
            .match_requests(|request| request.function_name() == Some("secret"))
            .then_error(|| {
                GetFunctionConfigurationError::generic(
                    ErrorMetadata::builder()
                        .code("AccessDeniedException")
                        .message("not authorized")
                        .build(),
                )
            });
        let clients = clients(&[], &[&missing, &denied]);
        assert!(matches!(
            function(&clients, "gone").await,
            FunctionLookup::Missing(message) if message.contains("gone")
        ));
        match function(&clients, "secret").await {
            FunctionLookup::Unreadable(why) => {
                assert!(
                    why.detail.contains("lambda:GetFunctionConfiguration"),
                    "{why:?}"
                );
            }
            other => panic!("expected unreadable, got {other:?}"),
        }
    }
}
