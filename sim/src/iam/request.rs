//! What IAM authorizes a call against: its action, the ARNs of the resources it names, and the
//! condition keys it carries.
//!
//! The Service Authorization Reference says, per action, which resource types it is authorized on
//! (none: the resource is `*`). Which request field names that resource is each API's own business;
//! this module knows it for every call greenlight's functions make. A call whose action has
//! resource types but which this module cannot place answers [`Placement::Unknown`], so the gap
//! is loud instead of an accidental allow.

use std::collections::BTreeMap;

use serde_json::Value;

use super::data::ActionAuthorization;
use crate::endpoint::{Call, Protocol};
use crate::world::function_name;
use crate::world::query::json_body;

/// Where a call is, for IAM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// Authorize `action` on each of `resources` (all must be allowed), with these condition keys.
    Resources {
        /// The resource ARNs (`*` for actions without resource-level permissions).
        resources: Vec<String>,
        /// Condition keys the request carries (lower-cased names).
        keys: BTreeMap<String, Vec<String>>,
    },
    /// A CodeDeploy deployment whose group must be looked up first.
    CodeDeployDeployment(String),
    /// The rehearsal does not know which request field names the resource.
    Unknown(String),
}

/// The IAM action of a call: `service:Action`. Most operations are their own action; the
/// exceptions are the REST operations whose action is named otherwise.
pub fn action_of(call: &Call) -> String {
    let action = match (call.service.as_str(), call.operation.as_str()) {
        ("lambda", "Invoke") => "InvokeFunction",
        ("s3", "HeadObject") => "GetObject",
        ("s3", "ListObjects") => "ListBucket",
        (_, operation) => operation,
    };
    format!("{}:{action}", call.service)
}

/// Where in the account a call lands: region and account for ARNs.
#[derive(Debug, Clone)]
pub struct Scope<'a> {
    /// The region the call was signed for.
    pub region: &'a str,
    /// The rehearsal's account.
    pub account: &'a str,
}

/// Places `call` for `authorization` (the action's entry in the reference).
pub fn place(call: &Call, authorization: &ActionAuthorization, scope: &Scope<'_>) -> Placement {
    let mut keys = BTreeMap::new();
    let cluster = cluster_arn(call, scope);
    if let Some(cluster) = &cluster {
        keys.insert("ecs:cluster".to_owned(), vec![cluster.clone()]);
    }
    keys.insert(
        "aws:requestedregion".to_owned(),
        vec![scope.region.to_owned()],
    );
    if authorization.resource_types.is_empty() {
        return Placement::Resources {
            resources: vec!["*".to_owned()],
            keys,
        };
    }
    let required = authorization
        .resource_types
        .iter()
        .any(|kind| kind.required);
    match resources_named(call, scope) {
        Named::Arns(resources) if !resources.is_empty() => Placement::Resources { resources, keys },
        // The request names none of the action's (optional) resource types: IAM authorizes `*`.
        Named::Arns(_) | Named::Nothing if !required => Placement::Resources {
            resources: vec!["*".to_owned()],
            keys,
        },
        Named::Deployment(id) => Placement::CodeDeployDeployment(id),
        Named::Star => Placement::Resources {
            resources: vec!["*".to_owned()],
            keys,
        },
        Named::Arns(_) | Named::Nothing => Placement::Unknown(format!(
            "the rehearsal's IAM does not know which field of a {} request names its {} \
             (add it to sim/src/iam/request.rs)",
            action_of(call),
            authorization
                .resource_types
                .iter()
                .map(|kind| kind.name.as_str())
                .collect::<Vec<_>>()
                .join(" or ")
        )),
    }
}

enum Named {
    Arns(Vec<String>),
    Deployment(String),
    /// The call is authorized on `*` although the reference lists a required resource type.
    Star,
    Nothing,
}

fn resources_named(call: &Call, scope: &Scope<'_>) -> Named {
    let Scope { region, account } = *scope;
    let body = match call.protocol {
        Protocol::AwsJson | Protocol::RpcV2Cbor => json_body(call).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    let strings = |name: &str| -> Vec<String> {
        match &body[name] {
            Value::String(text) => vec![text.clone()],
            Value::Array(items) => items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        }
    };
    let cluster_name = || {
        body["cluster"]
            .as_str()
            .map_or("default", |cluster| last_segment(cluster))
            .to_owned()
    };
    let arns = match (call.service.as_str(), call.operation.as_str()) {
        ("ecs", "DescribeServiceDeployments") => strings("serviceDeploymentArns"),
        ("ecs", "DescribeServiceRevisions") => strings("serviceRevisionArns"),
        ("ecs", "ListServiceDeployments" | "DescribeServices") => {
            let field = if call.operation == "DescribeServices" {
                "services"
            } else {
                "service"
            };
            let cluster = cluster_name();
            strings(field)
                .into_iter()
                .map(|service| {
                    or_arn(service, |service| {
                        format!("arn:aws:ecs:{region}:{account}:service/{cluster}/{service}")
                    })
                })
                .collect()
        }
        ("ecs", "DescribeTasks") => {
            let cluster = cluster_name();
            strings("tasks")
                .into_iter()
                .map(|task| {
                    or_arn(task, |task| {
                        format!("arn:aws:ecs:{region}:{account}:task/{cluster}/{task}")
                    })
                })
                .collect()
        }
        ("ecs", "DescribeTaskDefinition") => strings("taskDefinition")
            .into_iter()
            .map(|definition| {
                or_arn(definition, |definition| {
                    format!("arn:aws:ecs:{region}:{account}:task-definition/{definition}")
                })
            })
            .collect(),
        // The reference marks `container-instance` required, yet most ListTasks calls name none;
        // IAM then evaluates `*` with the `ecs:cluster` key (AWS's own examples grant ListTasks on
        // "*" with that condition). A policy granting `*` under the cluster condition holds under
        // either reading; see docs/aws-contracts.md.
        ("ecs", "ListTasks") => {
            let instances = strings("containerInstance");
            if instances.is_empty() {
                return Named::Star;
            }
            let cluster = cluster_name();
            instances
                .into_iter()
                .map(|instance| {
                    or_arn(instance, |instance| {
                        format!(
                            "arn:aws:ecs:{region}:{account}:container-instance/{cluster}/{instance}"
                        )
                    })
                })
                .collect()
        }
        ("ecr", _) => {
            let registry = body["registryId"].as_str().unwrap_or(account).to_owned();
            let mut names = strings("repositoryName");
            names.extend(strings("repositoryNames"));
            names
                .into_iter()
                .map(|name| format!("arn:aws:ecr:{region}:{registry}:repository/{name}"))
                .collect()
        }
        ("cloudwatch", "DescribeAlarms") => {
            let names = strings("AlarmNames");
            if names.is_empty() {
                // By prefix or all alarms: no one alarm is named. Authorized on every alarm of
                // the account and region (an assumption: AWS does not say; see docs).
                vec![format!("arn:aws:cloudwatch:{region}:{account}:alarm:*")]
            } else {
                names
                    .into_iter()
                    .map(|name| format!("arn:aws:cloudwatch:{region}:{account}:alarm:{name}"))
                    .collect()
            }
        }
        ("codedeploy", "GetDeployment") => {
            return match body["deploymentId"].as_str() {
                Some(id) => Named::Deployment(id.to_owned()),
                None => Named::Nothing,
            };
        }
        ("codedeploy", "GetDeploymentGroup") => {
            match (
                body["applicationName"].as_str(),
                body["deploymentGroupName"].as_str(),
            ) {
                (Some(application), Some(group)) => vec![format!(
                    "arn:aws:codedeploy:{region}:{account}:deploymentgroup:{application}/{group}"
                )],
                _ => Vec::new(),
            }
        }
        ("codedeploy", "GetApplicationRevision" | "GetApplication") => strings("applicationName")
            .into_iter()
            .map(|application| {
                format!("arn:aws:codedeploy:{region}:{account}:application:{application}")
            })
            .collect(),
        ("lambda", "Invoke") => lambda_function_arn(call, scope).into_iter().collect(),
        ("ssm", "GetParameter" | "GetParameters") => {
            let mut names = strings("Name");
            names.extend(strings("Names"));
            names
                .into_iter()
                .map(|name| {
                    or_arn(name, |name| {
                        let name = name.strip_prefix('/').unwrap_or(name);
                        format!("arn:aws:ssm:{region}:{account}:parameter/{name}")
                    })
                })
                .collect()
        }
        ("secretsmanager", "GetSecretValue") => strings("SecretId")
            .into_iter()
            .map(|secret| {
                or_arn(secret, |secret| {
                    // A secret's ARN ends in a dash and six random characters.
                    format!("arn:aws:secretsmanager:{region}:{account}:secret:{secret}-AbCdEf")
                })
            })
            .collect(),
        ("s3", "GetObject" | "HeadObject" | "ListObjects") => {
            s3_resource(call).into_iter().collect()
        }
        _ => return Named::Nothing,
    };
    if arns.is_empty() {
        Named::Nothing
    } else {
        Named::Arns(arns)
    }
}

/// `value` when it is already an ARN; else the ARN `make` builds from it (a name or id).
fn or_arn(value: String, make: impl FnOnce(&str) -> String) -> String {
    if value.starts_with("arn:") {
        value
    } else {
        make(&value)
    }
}

/// The cluster ARN of an ECS call that names (or defaults) a cluster: condition key `ecs:cluster`.
/// Calls that name resources by ARN alone (service deployments, revisions) carry the cluster in
/// the ARN.
fn cluster_arn(call: &Call, scope: &Scope<'_>) -> Option<String> {
    if call.service != "ecs" {
        return None;
    }
    let body = json_body(call).ok()?;
    let from_arn = ["serviceDeploymentArns", "serviceRevisionArns"]
        .iter()
        .find_map(|field| body[*field].get(0)?.as_str())
        .and_then(|arn| arn.split_once(':')?.1.rsplit_once(':'))
        .and_then(|(_, path)| path.split('/').nth(1).map(str::to_owned));
    let cluster = match (&from_arn, body["cluster"].as_str()) {
        (_, Some(cluster)) => cluster,
        (Some(cluster), None) => cluster.as_str(),
        (None, None) => "default",
    };
    Some(if cluster.starts_with("arn:") {
        cluster.to_owned()
    } else {
        format!(
            "arn:aws:ecs:{}:{}:cluster/{cluster}",
            scope.region, scope.account
        )
    })
}

/// `arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]` of an `Invoke`.
fn lambda_function_arn(call: &Call, scope: &Scope<'_>) -> Option<String> {
    let segment = call.uri.path().split('/').nth(3)?;
    let identifier = percent_encoding::percent_decode_str(segment).decode_utf8_lossy();
    let name = function_name(&identifier);
    // A qualifier comes as `?Qualifier=` or as the name's `:qualifier` suffix.
    let qualifier = call
        .uri
        .query()
        .and_then(|query| {
            form_urlencoded::parse(query.as_bytes())
                .find(|(key, _)| key == "Qualifier")
                .map(|(_, value)| value.into_owned())
        })
        .or_else(|| {
            let mut after = identifier.split(':').skip_while(|part| *part != name);
            after.nth(1).map(str::to_owned)
        });
    let base = format!(
        "arn:aws:lambda:{}:{}:function:{name}",
        scope.region, scope.account
    );
    Some(match qualifier {
        Some(qualifier) if !qualifier.is_empty() => format!("{base}:{qualifier}"),
        _ => base,
    })
}

/// `arn:aws:s3:::bucket/key` (or `arn:aws:s3:::bucket` for a listing), path-style or virtual-host.
fn s3_resource(call: &Call) -> Option<String> {
    let path = call.uri.path().trim_start_matches('/');
    let host = call
        .headers
        .get(http::header::HOST)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let (bucket, key) = match host.split_once(".s3.") {
        Some((bucket, _)) => (bucket.to_owned(), path.to_owned()),
        None => match path.split_once('/') {
            Some((bucket, key)) => (bucket.to_owned(), key.to_owned()),
            None => (path.to_owned(), String::new()),
        },
    };
    let key = percent_encoding::percent_decode_str(&key)
        .decode_utf8_lossy()
        .into_owned();
    if bucket.is_empty() {
        return None;
    }
    Some(if key.is_empty() || call.operation == "ListObjects" {
        format!("arn:aws:s3:::{bucket}")
    } else {
        format!("arn:aws:s3:::{bucket}/{key}")
    })
}

fn last_segment(name_or_arn: &str) -> &str {
    name_or_arn.rsplit('/').next().unwrap_or(name_or_arn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Uri;

    const SCOPE: Scope<'static> = Scope {
        region: "us-east-1",
        account: "123456789012",
    };

    fn json_call(service: &str, operation: &str, body: Value) -> Call {
        Call::json_for_test(service, operation, &body)
    }

    fn authorization(kinds: &[(&str, bool)]) -> ActionAuthorization {
        serde_json::from_value(serde_json::json!({
            "access_level": "Read",
            "resource_types": kinds.iter().map(|(name, required)| serde_json::json!({
                "name": name, "required": required
            })).collect::<Vec<_>>(),
        }))
        .expect("an action")
    }

    fn resources(placement: Placement) -> Vec<String> {
        match placement {
            Placement::Resources { resources, .. } => resources,
            other => panic!("not placed: {other:?}"),
        }
    }

    #[test]
    fn an_action_without_resource_types_is_authorized_on_star() {
        let call = json_call(
            "codedeploy",
            "PutLifecycleEventHookExecutionStatus",
            serde_json::json!({"deploymentId": "d-1"}),
        );
        assert_eq!(
            resources(place(&call, &authorization(&[]), &SCOPE)),
            vec!["*"]
        );
    }

    #[test]
    fn ecs_services_and_tasks_get_full_arns_and_the_cluster_key() {
        let call = json_call(
            "ecs",
            "DescribeServices",
            serde_json::json!({"cluster": "web", "services": ["api"]}),
        );
        let placement = place(&call, &authorization(&[("service", true)]), &SCOPE);
        let Placement::Resources {
            resources: named,
            keys,
        } = placement
        else {
            panic!("placed")
        };
        assert_eq!(
            named,
            vec!["arn:aws:ecs:us-east-1:123456789012:service/web/api"]
        );
        assert_eq!(
            keys["ecs:cluster"],
            vec!["arn:aws:ecs:us-east-1:123456789012:cluster/web"]
        );
        let tasks = json_call(
            "ecs",
            "DescribeTasks",
            serde_json::json!({"cluster": "arn:aws:ecs:us-east-1:123456789012:cluster/web", "tasks": ["abc"]}),
        );
        assert_eq!(
            resources(place(&tasks, &authorization(&[("task", true)]), &SCOPE)),
            vec!["arn:aws:ecs:us-east-1:123456789012:task/web/abc"]
        );
    }

    #[test]
    fn an_optional_resource_type_not_named_is_star_and_a_required_one_is_loud() {
        let list = json_call("ecs", "ListTasks", serde_json::json!({"cluster": "web"}));
        assert_eq!(
            resources(place(
                &list,
                &authorization(&[("container-instance", false)]),
                &SCOPE
            )),
            vec!["*"]
        );
        let unknown = json_call("ecs", "TagResource", serde_json::json!({}));
        assert!(matches!(
            place(&unknown, &authorization(&[("service", true)]), &SCOPE),
            Placement::Unknown(message) if message.contains("ecs:TagResource")
        ));
    }

    #[test]
    fn lambda_invoke_names_the_function_and_its_qualifier() {
        let mut call = json_call("lambda", "Invoke", Value::Null);
        call.protocol = Protocol::Rest;
        call.uri = Uri::from_static(
            "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3ACodeDeployHook_greenlight_AfterInstall/invocations",
        );
        assert_eq!(action_of(&call), "lambda:InvokeFunction");
        assert_eq!(
            resources(place(&call, &authorization(&[("function", true)]), &SCOPE)),
            vec![
                "arn:aws:lambda:us-east-1:123456789012:function:CodeDeployHook_greenlight_AfterInstall"
            ]
        );
        call.uri = Uri::from_static("/2015-03-31/functions/greenlight-check-x:live/invocations");
        assert_eq!(
            resources(place(&call, &authorization(&[("function", true)]), &SCOPE)),
            vec!["arn:aws:lambda:us-east-1:123456789012:function:greenlight-check-x:live"]
        );
    }

    #[test]
    fn codedeploy_deployments_need_their_group_looked_up() {
        let call = json_call(
            "codedeploy",
            "GetDeployment",
            serde_json::json!({"deploymentId": "d-ABC"}),
        );
        assert_eq!(
            place(&call, &authorization(&[("deploymentgroup", true)]), &SCOPE),
            Placement::CodeDeployDeployment("d-ABC".to_owned())
        );
    }

    #[test]
    fn ssm_parameters_drop_the_leading_slash() {
        let call = json_call(
            "ssm",
            "GetParameters",
            serde_json::json!({"Names": ["/greenlight/web/token", "plain"]}),
        );
        assert_eq!(
            resources(place(&call, &authorization(&[("parameter", true)]), &SCOPE)),
            vec![
                "arn:aws:ssm:us-east-1:123456789012:parameter/greenlight/web/token",
                "arn:aws:ssm:us-east-1:123456789012:parameter/plain"
            ]
        );
    }
}
