//! What the moto-backed tests build the same way: a two-zone network, an ALB with blue's and
//! green's target groups, and the weighted forward ECS writes into listener rules.

use aws_sdk_elasticloadbalancingv2::Client as ElbClient;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, ForwardActionConfig, ProtocolEnum, TargetGroupTuple, TargetTypeEnum,
};
use greenlight_sim::LocalAws;
use greenlight_sim::local_aws::Network;

/// A VPC `10.{octet}.0.0/16` with one subnet in each of two zones (an ALB needs two). Each test
/// uses its own octet: moto is shared by the whole binary.
pub(super) async fn two_zone_network(aws: &LocalAws, octet: u8) -> Network {
    aws.create_network(
        &format!("10.{octet}.0.0/16"),
        &[
            ("us-east-1a", &format!("10.{octet}.1.0/24")),
            ("us-east-1b", &format!("10.{octet}.2.0/24")),
        ],
    )
    .await
    .expect("VPC and subnets")
}

/// An ALB and its two IP target groups (HTTP, port 8080), named `{name}-blue` and `{name}-green`.
pub(super) struct BlueGreenBalancer {
    pub(super) arn: String,
    pub(super) blue: String,
    pub(super) green: String,
}

/// Creates an ALB named `name` in `subnets` with blue's and green's target groups in `vpc_id`.
pub(super) async fn blue_green_balancer(
    elb: &ElbClient,
    name: &str,
    subnets: &[String],
    vpc_id: &str,
) -> BlueGreenBalancer {
    let created = elb
        .create_load_balancer()
        .name(name)
        .set_subnets(Some(subnets.to_vec()))
        .send()
        .await
        .expect("CreateLoadBalancer");
    let arn = created.load_balancers()[0]
        .load_balancer_arn()
        .expect("balancer ARN")
        .to_owned();
    let mut groups = Vec::new();
    for role in ["blue", "green"] {
        let group = elb
            .create_target_group()
            .name(format!("{name}-{role}"))
            .protocol(ProtocolEnum::Http)
            .port(8080)
            .vpc_id(vpc_id)
            .target_type(TargetTypeEnum::Ip)
            .send()
            .await
            .expect("CreateTargetGroup");
        groups.push(
            group.target_groups()[0]
                .target_group_arn()
                .expect("target group ARN")
                .to_owned(),
        );
    }
    let green = groups.pop().expect("green's group");
    let blue = groups.pop().expect("blue's group");
    BlueGreenBalancer { arn, blue, green }
}

/// A forward action splitting traffic between blue's and green's target groups by weight.
pub(super) fn forward(blue: &str, blue_weight: i32, green: &str, green_weight: i32) -> Action {
    let tuple = |arn: &str, weight: i32| {
        TargetGroupTuple::builder()
            .target_group_arn(arn)
            .weight(weight)
            .build()
    };
    Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .forward_config(
            ForwardActionConfig::builder()
                .target_groups(tuple(blue, blue_weight))
                .target_groups(tuple(green, green_weight))
                .build(),
        )
        .build()
}
