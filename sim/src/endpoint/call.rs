//! What a request to the endpoint is: which service, which operation, which wire protocol.

use bytes::Bytes;
use http::{HeaderMap, Method, Uri};

/// The wire protocol of a call's body, as the endpoint holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// AWS JSON 1.0 / 1.1: `POST /` with the operation in `X-Amz-Target` (ECS, ECR, SSM, CodeDeploy).
    AwsJson,
    /// AWS Query: form fields with `Action=` (ELBv2, EC2).
    Query,
    /// Smithy RPC v2 CBOR: `POST /service/<Service>/operation/<Op>` (CloudWatch's current SDK).
    RpcV2Cbor,
    /// REST: the operation is in the method and path (Lambda, S3).
    Rest,
}

/// One AWS API call as the endpoint received it, body read.
///
/// Supplements see CloudWatch's CBOR calls already translated: `protocol` is then [`Protocol::AwsJson`]
/// and `body` is JSON 1.0, the dialect moto answers in.
#[derive(Debug, Clone)]
pub struct Call {
    /// The service, by its IAM prefix: `ecs`, `ecr`, `elasticloadbalancing`, `cloudwatch`, `ec2`, ...
    pub service: String,
    /// The operation, e.g. `DescribeServices`.
    pub operation: String,
    /// The protocol `body` is in.
    pub protocol: Protocol,
    /// The HTTP method.
    pub method: Method,
    /// The path and query, as sent.
    pub uri: Uri,
    /// The headers, as sent (the SigV4 `authorization` included: moto does not verify it).
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl Call {
    /// Reads service, operation and protocol off a request.
    pub(crate) fn identify(method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Self {
        let target = header_str(&headers, "x-amz-target");
        let signing_service = signing_service(&headers);
        let (protocol, target_service, operation) = if let Some(target) = target {
            let (prefix, operation) = target.rsplit_once('.').unwrap_or(("", target));
            (
                Protocol::AwsJson,
                Some(prefix.to_owned()),
                operation.to_owned(),
            )
        } else if let Some((service_shape, operation)) = rpc_v2_route(uri.path()) {
            (
                Protocol::RpcV2Cbor,
                Some(service_shape.to_owned()),
                operation.to_owned(),
            )
        } else if let Some(action) = query_action(&uri, &headers, &body) {
            (Protocol::Query, None, action)
        } else {
            let service = signing_service.as_deref().unwrap_or_default();
            (Protocol::Rest, None, rest_operation(service, &method, &uri))
        };
        let service = signing_service
            .or_else(|| target_service.as_deref().and_then(service_of_shape))
            .unwrap_or_else(|| "unknown".to_owned());
        Self {
            service,
            operation,
            protocol,
            method,
            uri,
            headers,
            body,
        }
    }
}

/// `/service/<ServiceShape>/operation/<Operation>` → its two names.
pub(crate) fn rpc_v2_route(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix("/service/")?;
    let (service_shape, operation) = rest.split_once("/operation/")?;
    (!service_shape.is_empty() && !operation.is_empty() && !operation.contains('/'))
        .then_some((service_shape, operation))
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// The service from the SigV4 credential scope (`Credential=AKID/date/region/<service>/aws4_request`),
/// named by its IAM prefix so that counts read like IAM actions (`cloudwatch:GetMetricData`).
fn signing_service(headers: &HeaderMap) -> Option<String> {
    let signing_name = credential_scope(headers)?.service;
    Some(match signing_name {
        "monitoring" => "cloudwatch".to_owned(),
        other => other.to_owned(),
    })
}

/// The parts of a SigV4 `Credential=AKID/date/region/service/aws4_request`.
pub(crate) struct CredentialScope<'h> {
    /// Who signed: the access key id.
    pub(crate) access_key: &'h str,
    /// The region the call was signed for.
    pub(crate) region: &'h str,
    /// The signing name (`ecs`, `monitoring`, ...).
    pub(crate) service: &'h str,
}

/// The credential scope of a SigV4 `authorization` header, when the call is signed.
pub(crate) fn credential_scope(headers: &HeaderMap) -> Option<CredentialScope<'_>> {
    let authorization = header_str(headers, "authorization")?;
    let credential = authorization
        .split([' ', ','])
        .find_map(|part| part.trim().strip_prefix("Credential="))?;
    let scope: Vec<&str> = credential.split('/').collect();
    let [access_key, .., region, service, _terminator] = scope.as_slice() else {
        return None;
    };
    Some(CredentialScope {
        access_key,
        region,
        service,
    })
}

#[cfg(test)]
impl Call {
    /// A JSON-protocol call, as tests build them.
    pub(crate) fn json_for_test(service: &str, operation: &str, body: &serde_json::Value) -> Self {
        Call {
            service: service.to_owned(),
            operation: operation.to_owned(),
            protocol: Protocol::AwsJson,
            method: Method::POST,
            uri: Uri::from_static("/"),
            headers: HeaderMap::new(),
            body: Bytes::from(body.to_string()),
        }
    }
}

/// The service behind an `X-Amz-Target` prefix or RPC v2 service shape, for unsigned calls.
fn service_of_shape(shape: &str) -> Option<String> {
    let service = match shape {
        "AmazonEC2ContainerServiceV20141113" => "ecs",
        "AmazonEC2ContainerRegistry_V20150921" => "ecr",
        "GraniteServiceVersion20100801" => "cloudwatch",
        "CodeDeploy_20141006" => "codedeploy",
        "AmazonSSM" => "ssm",
        "secretsmanager" => "secretsmanager",
        _ => return None,
    };
    Some(service.to_owned())
}

/// `Action=` from the query string, or from a form-encoded body.
fn query_action(uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Option<String> {
    if let Some(action) = uri.query().and_then(form_action) {
        return Some(action);
    }
    let is_form = header_str(headers, "content-type")
        .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));
    if is_form {
        std::str::from_utf8(body).ok().and_then(form_action)
    } else {
        None
    }
}

fn form_action(form: &str) -> Option<String> {
    form.split('&')
        .find_map(|pair| pair.strip_prefix("Action="))
        .filter(|action| !action.is_empty())
        .map(str::to_owned)
}

/// Names the REST calls greenlight makes; anything else is named by method and first path segment.
fn rest_operation(service: &str, method: &Method, uri: &Uri) -> String {
    let segments: Vec<&str> = uri.path().split('/').filter(|s| !s.is_empty()).collect();
    let named = match (service, method.as_str(), segments.as_slice()) {
        ("lambda", "POST", [_, "functions", _, "invocations"]) => Some("Invoke"),
        ("lambda", "GET", [_, "functions", _]) => Some("GetFunction"),
        ("lambda", "GET", [_, "functions", _, "configuration"]) => Some("GetFunctionConfiguration"),
        ("s3", "GET", [_]) => Some("ListObjects"),
        ("s3", "GET", [_, _, ..]) => Some("GetObject"),
        ("s3", "HEAD", [_, _, ..]) => Some("HeadObject"),
        ("s3", "PUT", [_]) => Some("CreateBucket"),
        ("s3", "PUT", [_, _, ..]) => Some("PutObject"),
        _ => None,
    };
    named.map_or_else(
        || format!("{method} /{}", segments.first().unwrap_or(&"")),
        str::to_owned,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(service: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let value = format!(
            "AWS4-HMAC-SHA256 Credential=AKIDTEST/20260101/us-east-1/{service}/aws4_request, \
             SignedHeaders=host;x-amz-date, Signature=00"
        );
        headers.insert("authorization", value.parse().expect("header value"));
        headers
    }

    fn identify(method: Method, uri: &str, headers: HeaderMap, body: &'static str) -> Call {
        Call::identify(
            method,
            uri.parse().expect("uri"),
            headers,
            Bytes::from_static(body.as_bytes()),
        )
    }

    #[test]
    fn calls_are_named_by_iam_prefix_and_operation_whatever_the_protocol() {
        let mut json = signed("ecs");
        json.insert(
            "x-amz-target",
            "AmazonEC2ContainerServiceV20141113.DescribeServices"
                .parse()
                .expect("header value"),
        );
        let mut form = signed("elasticloadbalancing");
        form.insert(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8"
                .parse()
                .expect("header value"),
        );
        let cases = [
            (
                identify(Method::POST, "/", json, "{}"),
                ("ecs", "DescribeServices", Protocol::AwsJson),
            ),
            (
                identify(
                    Method::POST,
                    "/service/GraniteServiceVersion20100801/operation/GetMetricData",
                    signed("monitoring"),
                    "",
                ),
                ("cloudwatch", "GetMetricData", Protocol::RpcV2Cbor),
            ),
            (
                identify(
                    Method::POST,
                    "/",
                    form,
                    "Action=DescribeRules&Version=2015-12-01&ListenerArn=x",
                ),
                ("elasticloadbalancing", "DescribeRules", Protocol::Query),
            ),
            (
                identify(
                    Method::GET,
                    "/?Action=DescribeSubnets&Version=2016-11-15",
                    signed("ec2"),
                    "",
                ),
                ("ec2", "DescribeSubnets", Protocol::Query),
            ),
            (
                identify(
                    Method::POST,
                    "/2015-03-31/functions/contract-tests/invocations",
                    signed("lambda"),
                    "{}",
                ),
                ("lambda", "Invoke", Protocol::Rest),
            ),
            (
                identify(Method::GET, "/config/greenlight.yaml", signed("s3"), ""),
                ("s3", "GetObject", Protocol::Rest),
            ),
            (
                identify(Method::DELETE, "/bucket", signed("s3"), ""),
                ("s3", "DELETE /bucket", Protocol::Rest),
            ),
        ];
        for (call, (service, operation, protocol)) in cases {
            assert_eq!(
                (
                    call.service.as_str(),
                    call.operation.as_str(),
                    call.protocol
                ),
                (service, operation, protocol),
                "{call:?}"
            );
        }
    }

    #[test]
    fn unsigned_calls_fall_back_to_the_target_prefix() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-amz-target",
            "AmazonEC2ContainerRegistry_V20150921.DescribeImages"
                .parse()
                .expect("header value"),
        );
        let call = identify(Method::POST, "/", headers, "{}");
        assert_eq!(
            (call.service.as_str(), call.operation.as_str()),
            ("ecr", "DescribeImages")
        );
        let cbor = identify(
            Method::POST,
            "/service/GraniteServiceVersion20100801/operation/DescribeAlarms",
            HeaderMap::new(),
            "",
        );
        assert_eq!(cbor.service, "cloudwatch");
        let unknown = identify(Method::GET, "/", HeaderMap::new(), "");
        assert_eq!(unknown.service, "unknown");
    }

    #[test]
    fn only_well_formed_rpc_v2_paths_are_routes() {
        assert_eq!(rpc_v2_route("/service/S/operation/Op"), Some(("S", "Op")));
        assert_eq!(rpc_v2_route("/service//operation/Op"), None);
        assert_eq!(rpc_v2_route("/service/S/operation/"), None);
        assert_eq!(rpc_v2_route("/service/S/operation/Op/extra"), None);
        assert_eq!(rpc_v2_route("/other"), None);
    }
}
