//! The local AWS: moto and the endpoint in front of it started together, and the SDK configuration
//! that reaches them (for the rehearsals, the tests and the benchmarks alike).

use std::sync::Arc;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use bytes::Bytes;
use http::{Method, Request};
use http_body_util::Full;
use tokio::sync::OnceCell;

use crate::endpoint::AwsEndpoint;
use crate::error::SimError;
use crate::http_client::{exchange, loopback_client};
use crate::moto::MotoServer;
use crate::world::World;

/// The region everything local lives in.
pub const REGION: &str = "us-east-1";

/// The account moto puts in every ARN.
pub const ACCOUNT_ID: &str = "123456789012";

/// A bound on any one SDK call, so that a hung moto fails a test instead of stalling it.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(30);

/// One moto for the whole test binary, started by the first test that asks.
static SHARED_MOTO: OnceCell<Arc<MotoServer>> = OnceCell::const_new();

/// moto plus an endpoint in front of it, with the SDK configuration to reach them.
#[derive(Debug)]
pub struct LocalAws {
    // Field order is drop order: stop serving before moto goes away.
    endpoint: AwsEndpoint,
    moto: Arc<MotoServer>,
    world: Option<World>,
}

impl LocalAws {
    /// Starts a moto of its own and an endpoint in front of it (about a second, plus about 0.7 s
    /// the first time each service is called). State and counts belong to this test alone.
    pub async fn start() -> Result<Self, SimError> {
        let moto = Arc::new(MotoServer::start().await?);
        Self::in_front_of(moto).await
    }

    /// Starts an endpoint of its own in front of the moto shared by the whole test binary.
    ///
    /// Counts belong to this endpoint alone, but moto's state is shared with tests running in
    /// parallel: give resources unique names, and don't reset moto.
    pub async fn on_shared_moto() -> Result<Self, SimError> {
        let moto = SHARED_MOTO
            .get_or_try_init(|| async { MotoServer::start().await.map(Arc::new) })
            .await?;
        Self::in_front_of(Arc::clone(moto)).await
    }

    /// Like [`LocalAws::start`], with `world`'s supplements in the endpoint: ECS deployments and
    /// revisions, target health, ALB metrics, load balancer addresses and faults.
    pub async fn start_with_world(world: &World) -> Result<Self, SimError> {
        let moto = Arc::new(MotoServer::start().await?);
        Self::in_front_of_with(moto, Some(world)).await
    }

    /// Like [`LocalAws::on_shared_moto`], with `world`'s supplements in the endpoint. The world is
    /// this endpoint's alone; moto's state is shared.
    pub async fn on_shared_moto_with_world(world: &World) -> Result<Self, SimError> {
        let moto = SHARED_MOTO
            .get_or_try_init(|| async { MotoServer::start().await.map(Arc::new) })
            .await?;
        Self::in_front_of_with(Arc::clone(moto), Some(world)).await
    }

    async fn in_front_of(moto: Arc<MotoServer>) -> Result<Self, SimError> {
        Self::in_front_of_with(moto, None).await
    }

    async fn in_front_of_with(
        moto: Arc<MotoServer>,
        world: Option<&World>,
    ) -> Result<Self, SimError> {
        moto.set_ecs_tasks_manual().await?;
        let mut builder = AwsEndpoint::builder(moto.endpoint_url());
        if let Some(world) = world {
            builder = builder.supplements(world.supplements());
        }
        let endpoint = builder.start().await?;
        Ok(Self {
            endpoint,
            moto,
            world: world.cloned(),
        })
    }

    /// The world whose supplements the endpoint has, if it was started with one.
    pub fn world(&self) -> Option<&World> {
        self.world.as_ref()
    }

    /// The endpoint (for call counts).
    pub fn endpoint(&self) -> &AwsEndpoint {
        &self.endpoint
    }

    /// moto (for `reset`, and its stderr when something fails).
    pub fn moto(&self) -> &MotoServer {
        &self.moto
    }

    /// The endpoint's URL.
    pub fn endpoint_url(&self) -> &str {
        self.endpoint.endpoint_url()
    }

    /// SDK configuration that reaches the endpoint: test credentials, `us-east-1`, retries off (so
    /// a test sees the first error, and moto's 500s are not retried), and nothing read from the
    /// environment or profile files.
    pub fn sdk_config(&self) -> SdkConfig {
        SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::from_static(REGION))
            .endpoint_url(self.endpoint_url())
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "AKIDLOCALTEST",
                "local-test-secret",
                None,
                None,
                "greenlight-sim",
            )))
            .retry_config(RetryConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_timeout(OPERATION_TIMEOUT)
                    .build(),
            )
            .build()
    }

    /// The environment a function binary needs to reach this endpoint instead of AWS.
    pub fn function_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint_url().to_owned()),
            ("AWS_REGION", REGION.to_owned()),
            ("AWS_ACCESS_KEY_ID", "AKIDLOCALTEST".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "local-test-secret".to_owned()),
            ("AWS_MAX_ATTEMPTS", "1".to_owned()),
            // The platform's settings, as the template sets them; and loopback, where every
            // service of a local rehearsal listens (never set on Lambda).
            (
                "GREENLIGHT_SECRET_PATH",
                "/greenlight/secrets/{cluster}/{service}/".to_owned(),
            ),
            ("GREENLIGHT_ALLOW_LOOPBACK", "true".to_owned()),
        ]
    }

    /// Creates a VPC with one subnet per `(availability zone, CIDR)`, through the endpoint, with
    /// EC2's Query protocol (an ALB needs real subnets; this spares tests the EC2 SDK).
    pub async fn create_network(
        &self,
        vpc_cidr: &str,
        subnets: &[(&str, &str)],
    ) -> Result<Network, SimError> {
        let vpc = self
            .ec2("CreateVpc", &[("CidrBlock", vpc_cidr)])
            .await
            .and_then(|xml| xml_text(&xml, "vpcId", "CreateVpc"))?;
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
                .and_then(|xml| xml_text(&xml, "subnetId", "CreateSubnet"))?;
            subnet_ids.push(subnet);
        }
        Ok(Network {
            vpc_id: vpc,
            subnet_ids,
        })
    }

    /// One EC2 Query call; moto reads the service and region from the credential scope and does
    /// not check the signature.
    async fn ec2(&self, action: &str, params: &[(&str, &str)]) -> Result<String, SimError> {
        let mut form = format!("Action={action}&Version=2016-11-15");
        for (name, value) in params {
            form.push_str(&format!("&{name}={}", form_escape(value)));
        }
        let url = format!("{}/", self.endpoint_url());
        let request = Request::builder()
            .method(Method::POST)
            .uri(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .header(
                "authorization",
                format!(
                    "AWS4-HMAC-SHA256 Credential=AKIDLOCALTEST/20260101/{REGION}/ec2/aws4_request, \
                     SignedHeaders=host, Signature=0"
                ),
            )
            .body(Full::new(Bytes::from(form)))
            .map_err(|error| SimError::Http {
                url,
                detail: error.to_string(),
            })?;
        let answer = exchange(&loopback_client(), request).await?;
        let body = String::from_utf8_lossy(&answer.body).into_owned();
        if answer.status.is_success() {
            Ok(body)
        } else {
            Err(SimError::Aws {
                service: "ec2".to_owned(),
                operation: action.to_owned(),
                status: answer.status.as_u16(),
                body,
            })
        }
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
fn xml_text(xml: &str, element: &str, operation: &str) -> Result<String, SimError> {
    let open = format!("<{element}>");
    let close = format!("</{element}>");
    xml.split_once(&open)
        .and_then(|(_, rest)| rest.split_once(&close))
        .map(|(text, _)| text.trim().to_owned())
        .ok_or_else(|| SimError::Aws {
            service: "ec2".to_owned(),
            operation: operation.to_owned(),
            status: 200,
            body: format!("no <{element}> in: {xml}"),
        })
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
        assert_eq!(xml_text(xml, "vpcId", "CreateVpc").expect("found"), "vpc-1");
        assert!(xml_text(xml, "subnetId", "CreateSubnet").is_err());
    }

    #[test]
    fn form_values_are_percent_encoded() {
        assert_eq!(form_escape("10.0.0.0/16"), "10.0.0.0%2F16");
        assert_eq!(form_escape("us-east-1a"), "us-east-1a");
    }
}
