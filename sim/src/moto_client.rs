//! The one client the rehearsal uses to build its world in moto directly, with AWS's own wire
//! protocols (JSON with `X-Amz-Target`, EC2's query form, moto's own `/moto-api`). The functions
//! never use it: they talk to the endpoint in front of moto through the SDK, under IAM.

use bytes::Bytes;
use http::{Method, Request};
use http_body_util::Full;
use serde_json::{Value, json};

use crate::driver::ecs::DriverError;
use crate::http_client::{LoopbackClient, exchange, loopback_client};
use crate::local_aws::REGION;

const ECS_TARGET: &str = "AmazonEC2ContainerServiceV20141113";
const ECR_TARGET: &str = "AmazonEC2ContainerRegistry_V20150921";
const CLOUDWATCH_TARGET: &str = "GraniteServiceVersion20100801";
const LOGS_TARGET: &str = "Logs_20140328";
const SSM_TARGET: &str = "AmazonSSM";
const SECRETS_MANAGER_TARGET: &str = "secretsmanager";

/// moto, called directly: the rehearsal's setup, standing for the administrator who built the
/// stack (unsigned for IAM, so never enforced).
#[derive(Clone)]
pub(crate) struct Moto {
    url: String,
    client: LoopbackClient,
}

impl std::fmt::Debug for Moto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Moto").field("url", &self.url).finish()
    }
}

impl Moto {
    /// A client of the moto server at `url`.
    pub(crate) fn new(url: &str) -> Self {
        Moto {
            url: url.trim_end_matches('/').to_owned(),
            client: loopback_client(),
        }
    }

    /// One call; moto reads the service from the credential scope. `action` names it in errors.
    async fn send(
        &self,
        action: &str,
        service: &str,
        content_type: &str,
        target: Option<String>,
        body: String,
    ) -> Result<Bytes, DriverError> {
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(format!("{}/", self.url))
            .header("content-type", content_type)
            .header(
                "authorization",
                format!(
                    "AWS4-HMAC-SHA256 Credential=AKIDLOCALTEST/20260101/{REGION}/{service}/aws4_request, \
                     SignedHeaders=host, Signature=0"
                ),
            );
        if let Some(target) = target {
            request = request.header("x-amz-target", target);
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|error| DriverError::new(action, error.to_string()))?;
        self.answer(action, request).await
    }

    async fn answer(
        &self,
        action: &str,
        request: Request<Full<Bytes>>,
    ) -> Result<Bytes, DriverError> {
        let answer = exchange(&self.client, request)
            .await
            .map_err(|error| DriverError::new(action, error.to_string()))?;
        if answer.status.is_success() {
            Ok(answer.body)
        } else {
            Err(DriverError::new(
                action,
                format!(
                    "moto answered {}: {}",
                    answer.status,
                    String::from_utf8_lossy(&answer.body)
                ),
            ))
        }
    }

    /// One JSON-protocol call (an empty answer is `{}`).
    async fn json(
        &self,
        service: &str,
        target: &str,
        version: &str,
        operation: &str,
        body: Value,
    ) -> Result<Value, DriverError> {
        let action = format!("{service}:{operation}");
        let answer = self
            .send(
                &action,
                service,
                &format!("application/x-amz-json-{version}"),
                Some(format!("{target}.{operation}")),
                body.to_string(),
            )
            .await?;
        if answer.iter().all(u8::is_ascii_whitespace) {
            return Ok(json!({}));
        }
        serde_json::from_slice(&answer).map_err(|error| {
            DriverError::new(
                &action,
                format!("not JSON ({error}): {}", String::from_utf8_lossy(&answer)),
            )
        })
    }

    /// One ECS call.
    pub(crate) async fn ecs(&self, operation: &str, body: Value) -> Result<Value, DriverError> {
        self.json("ecs", ECS_TARGET, "1.1", operation, body).await
    }

    /// One ECR call.
    pub(crate) async fn ecr(&self, operation: &str, body: Value) -> Result<Value, DriverError> {
        self.json("ecr", ECR_TARGET, "1.1", operation, body).await
    }

    /// One CloudWatch call (JSON 1.0, as the SDK speaks it to moto).
    pub(crate) async fn cloudwatch(
        &self,
        operation: &str,
        body: Value,
    ) -> Result<Value, DriverError> {
        self.json("monitoring", CLOUDWATCH_TARGET, "1.0", operation, body)
            .await
    }

    /// One SSM call.
    pub(crate) async fn ssm(&self, operation: &str, body: Value) -> Result<Value, DriverError> {
        self.json("ssm", SSM_TARGET, "1.1", operation, body).await
    }

    /// One Secrets Manager call.
    pub(crate) async fn secrets_manager(
        &self,
        operation: &str,
        body: Value,
    ) -> Result<Value, DriverError> {
        self.json(
            "secretsmanager",
            SECRETS_MANAGER_TARGET,
            "1.1",
            operation,
            body,
        )
        .await
    }

    /// One CloudWatch Logs call.
    pub(crate) async fn logs(&self, operation: &str, body: Value) -> Result<Value, DriverError> {
        self.json("logs", LOGS_TARGET, "1.1", operation, body).await
    }

    /// One EC2 Query call; its XML answer.
    pub(crate) async fn ec2(
        &self,
        action: &str,
        params: &[(&str, &str)],
    ) -> Result<String, DriverError> {
        self.query("ec2", "2016-11-15", action, params).await
    }

    /// One IAM Query call; its XML answer.
    pub(crate) async fn iam(
        &self,
        action: &str,
        params: &[(&str, &str)],
    ) -> Result<String, DriverError> {
        self.query("iam", "2010-05-08", action, params).await
    }

    /// One Query-protocol call of `service` at API `version`; its XML answer.
    async fn query(
        &self,
        service: &str,
        version: &str,
        action: &str,
        params: &[(&str, &str)],
    ) -> Result<String, DriverError> {
        let mut form = format!("Action={action}&Version={version}");
        for (name, value) in params {
            form.push_str(&format!("&{name}={}", form_escape(value)));
        }
        self.send(
            &format!("{service}:{action}"),
            service,
            "application/x-www-form-urlencoded",
            None,
            form,
        )
        .await
        .map(|body| String::from_utf8_lossy(&body).into_owned())
    }

    /// Lambda `CreateFunction` (REST: `POST /2015-03-31/functions`).
    pub(crate) async fn create_function(&self, body: Value) -> Result<Value, DriverError> {
        let action = "lambda:CreateFunction";
        let request = Request::builder()
            .method(Method::POST)
            .uri(format!("{}/2015-03-31/functions", self.url))
            .header("content-type", "application/json")
            .header(
                "authorization",
                format!(
                    "AWS4-HMAC-SHA256 Credential=AKIDLOCALTEST/20260101/{REGION}/lambda/aws4_request, \
                     SignedHeaders=host, Signature=0"
                ),
            )
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(|error| DriverError::new(action, error.to_string()))?;
        let answer = self.answer(action, request).await?;
        serde_json::from_slice(&answer).map_err(|error| DriverError::new(action, error.to_string()))
    }

    /// Creates a VPC with one subnet per `(availability zone, CIDR)`.
    pub(crate) async fn create_network(
        &self,
        vpc_cidr: &str,
        subnets: &[(&str, &str)],
    ) -> Result<Network, DriverError> {
        let vpc = self
            .ec2("CreateVpc", &[("CidrBlock", vpc_cidr)])
            .await
            .and_then(|xml| xml_text(&xml, "vpcId", "ec2:CreateVpc"))?;
        let mut subnet_ids = Vec::with_capacity(subnets.len());
        for (zone, cidr) in subnets {
            let subnet = self
                .ec2(
                    "CreateSubnet",
                    &[
                        ("VpcId", vpc.as_str()),
                        ("CidrBlock", cidr),
                        ("AvailabilityZone", zone),
                    ],
                )
                .await
                .and_then(|xml| xml_text(&xml, "subnetId", "ec2:CreateSubnet"))?;
            subnet_ids.push(subnet);
        }
        Ok(Network {
            vpc_id: vpc,
            subnet_ids,
        })
    }

    /// Fargate tasks get an ENI only in a VPC with DNS hostnames on.
    pub(crate) async fn enable_dns_hostnames(&self, vpc_id: &str) -> Result<(), DriverError> {
        self.ec2(
            "ModifyVpcAttribute",
            &[("VpcId", vpc_id), ("EnableDnsHostnames.Value", "true")],
        )
        .await
        .map(|_| ())
    }

    /// Sets an alarm's state, as CloudWatch would on evaluating it.
    pub(crate) async fn set_alarm_state(
        &self,
        alarm: &str,
        state: &str,
    ) -> Result<(), DriverError> {
        self.cloudwatch(
            "SetAlarmState",
            json!({ "AlarmName": alarm, "StateValue": state, "StateReason": "set by the rehearsal" }),
        )
        .await
        .map(|_| ())
    }

    /// moto's own API (`/moto-api/...`).
    pub(crate) async fn moto_api(&self, path: &str, body: Value) -> Result<(), DriverError> {
        let request = Request::builder()
            .method(Method::POST)
            .uri(format!("{}{path}", self.url))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(|error| DriverError::new(path, error.to_string()))?;
        self.answer(path, request).await.map(|_| ())
    }
}

/// A VPC and its subnets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    /// The VPC's id.
    pub vpc_id: String,
    /// The subnets' ids, in the order asked for.
    pub subnet_ids: Vec<String>,
}

/// The text of the first `<element>` in a small XML answer.
fn xml_text(xml: &str, element: &str, action: &str) -> Result<String, DriverError> {
    let open = format!("<{element}>");
    let close = format!("</{element}>");
    xml.split_once(&open)
        .and_then(|(_, rest)| rest.split_once(&close))
        .map(|(text, _)| text.trim().to_owned())
        .ok_or_else(|| DriverError::new(action, format!("no <{element}> in: {xml}")))
}

/// Percent-encodes a form value (ids, CIDRs and zone names need only a few characters escaped).
fn form_escape(value: &str) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(byte).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_text_reads_the_first_element() {
        let xml = "<CreateVpcResponse><vpc><vpcId>vpc-1</vpcId><vpcId>vpc-2</vpcId></vpc></CreateVpcResponse>";
        assert_eq!(
            xml_text(xml, "vpcId", "ec2:CreateVpc").expect("found"),
            "vpc-1"
        );
        assert!(xml_text(xml, "subnetId", "ec2:CreateSubnet").is_err());
    }

    #[test]
    fn form_values_are_percent_encoded() {
        assert_eq!(form_escape("10.0.0.0/16"), "10.0.0.0%2F16");
        assert_eq!(form_escape("us-east-1a"), "us-east-1a");
    }
}
