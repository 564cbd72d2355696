//! Small helpers the stack builders share.

use aws_sdk_elasticloadbalancingv2 as elb;
use aws_smithy_types::error::display::DisplayErrorContext;
use serde_json::Value;

use crate::driver::ecs::DriverError;
use crate::local_aws::LocalAws;
use crate::scenario::format::{HealthCheckProtocol, HealthCheckSpec};

/// An ELBv2 client of the moto behind `aws`, directly: the functions' endpoint counts and faults
/// stay theirs alone.
pub(crate) fn moto_elb_client(aws: &LocalAws) -> elb::Client {
    let config = elb::config::Builder::from(&aws.sdk_config())
        .endpoint_url(aws.moto().endpoint_url())
        .build();
    elb::Client::from_conf(config)
}

/// An SDK call's error, with the whole chain of causes.
pub(crate) fn sdk_error(action: &str, error: &impl std::error::Error) -> DriverError {
    DriverError::new(action, DisplayErrorContext(error).to_string())
}

/// A non-empty string field of moto's answer.
pub(crate) fn text(value: &Value, action: &str) -> Result<String, DriverError> {
    value
        .as_str()
        .filter(|text| !text.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| DriverError::new(action, format!("missing in moto's answer: {value}")))
}

/// `name` cut to `max` characters, with what AWS names refuse as `-`.
pub fn short_name(name: &str, max: usize) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    cleaned
        .chars()
        .take(max)
        .collect::<String>()
        .trim_end_matches('-')
        .to_owned()
}

/// The part of an ARN after `marker` (`app/<name>/<id>` for a load balancer).
pub(crate) fn arn_suffix(arn: &str, marker: &str) -> String {
    arn.split_once(marker)
        .map(|(_, rest)| rest.to_owned())
        .unwrap_or_else(|| arn.to_owned())
}

/// FNV-1a of `seed`: a stable stand-in for ids and digests derived from names.
pub(crate) fn fnv1a(seed: &str) -> u64 {
    seed.bytes().fold(0xcbf2_9ce4_8422_2325, |state, byte| {
        (state ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// 64 hex characters derived from `seed` (not a real hash: a stand-in config digest).
pub(crate) fn hex64(seed: &str) -> String {
    let mut state = fnv1a(seed);
    (0..4)
        .map(|round| {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15 ^ round);
            format!("{state:016x}")
        })
        .collect()
}

/// Seconds since the Unix epoch, as moto's JSON answers carry times.
pub(crate) fn now_epoch() -> f64 {
    epoch(std::time::SystemTime::now())
}

/// `time` in seconds since the Unix epoch, as moto's and ECS's JSON answers carry times.
pub(crate) fn epoch(time: std::time::SystemTime) -> f64 {
    time.duration_since(std::time::UNIX_EPOCH)
        .map(|since| since.as_secs_f64())
        .unwrap_or_default()
}

/// A target group's health check as the scenario declares it: HTTP on its path, port and success
/// codes, or TCP without a path or codes (ELB takes those only for HTTP and HTTPS health checks).
/// Unless the scenario says, ELB's default: TCP for a Network Load Balancer's TCP group
/// (`tcp_group`), HTTP otherwise.
pub(crate) fn with_health_check(
    create: elb::operation::create_target_group::builders::CreateTargetGroupFluentBuilder,
    spec: &HealthCheckSpec,
    tcp_group: bool,
) -> elb::operation::create_target_group::builders::CreateTargetGroupFluentBuilder {
    let create = create.health_check_port(&spec.port);
    let tcp = match spec.protocol {
        Some(protocol) => protocol == HealthCheckProtocol::Tcp,
        None => tcp_group,
    };
    if tcp {
        return create.health_check_protocol(elb::types::ProtocolEnum::Tcp);
    }
    create
        .health_check_protocol(elb::types::ProtocolEnum::Http)
        .health_check_path(&spec.path)
        .matcher(
            elb::types::Matcher::builder()
                .http_code(&spec.codes)
                .build(),
        )
}
