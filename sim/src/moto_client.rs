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

    /// One EC2 Query call.
    pub(crate) async fn ec2(&self, action: &str, params: &str) -> Result<(), DriverError> {
        self.send(
            &format!("ec2:{action}"),
            "ec2",
            "application/x-www-form-urlencoded",
            None,
            format!("Action={action}&Version=2016-11-15&{params}"),
        )
        .await
        .map(|_| ())
    }

    /// Fargate tasks get an ENI only in a VPC with DNS hostnames on.
    pub(crate) async fn enable_dns_hostnames(&self, vpc_id: &str) -> Result<(), DriverError> {
        self.ec2(
            "ModifyVpcAttribute",
            &format!("VpcId={vpc_id}&EnableDnsHostnames.Value=true"),
        )
        .await
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
