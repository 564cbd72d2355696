//! A task as both providers see it: ECS's `DescribeTasks` answer made into [`TaskFacts`].

use aws_sdk_ecs::types::Task;
use greenlight_core::facts::{RunningContainer, TaskFacts};

/// The facts of one described task; `None` for a task without an ARN or task definition.
pub(crate) fn task_from(task: &Task) -> Option<TaskFacts> {
    let private_ip = task
        .attachments()
        .iter()
        .filter(|attachment| attachment.r#type() == Some("ElasticNetworkInterface"))
        .flat_map(|attachment| attachment.details())
        .find(|detail| detail.name() == Some("privateIPv4Address"))
        .and_then(|detail| detail.value())
        .or_else(|| {
            task.containers()
                .iter()
                .flat_map(|container| container.network_interfaces())
                .find_map(|interface| interface.private_ipv4_address())
        })
        .map(str::to_owned);
    Some(TaskFacts {
        arn: task.task_arn()?.to_owned(),
        task_definition_arn: task.task_definition_arn()?.to_owned(),
        last_status: task.last_status().unwrap_or_default().to_owned(),
        desired_status: task.desired_status().unwrap_or_default().to_owned(),
        stopped_reason: task.stopped_reason().map(str::to_owned),
        private_ip,
        containers: task
            .containers()
            .iter()
            .map(|container| RunningContainer {
                name: container.name().unwrap_or_default().to_owned(),
                image: container.image().unwrap_or_default().to_owned(),
                image_digest: container
                    .image_digest()
                    .filter(|digest| !digest.is_empty())
                    .or_else(|| container.image().and_then(pinned_digest))
                    .map(str::to_owned),
                last_status: container.last_status().unwrap_or_default().to_owned(),
                exit_code: container.exit_code(),
                reason: container.reason().map(str::to_owned),
            })
            .collect(),
    })
}

/// The digest an image reference pins (`repo@sha256:…`): what a container started from it runs,
/// whether or not the task reports an `imageDigest` of its own.
fn pinned_digest(image: &str) -> Option<&str> {
    image
        .split_once('@')
        .map(|(_, digest)| digest)
        .filter(|digest| digest.starts_with("sha256:") && digest.len() > "sha256:".len())
}
