//! The image digests ECS reports for running containers, which moto leaves out of
//! `DescribeTasks`: a supplement that adds them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use serde_json::{Value, json};

use crate::endpoint::{Call, Supplement, SupplementFuture, Upstream};

/// The digests ECS reports for running containers, which moto leaves out of `DescribeTasks`: by
/// task definition and container, and per task where a scenario makes one task run another digest.
#[derive(Debug, Default)]
pub struct TaskDigests {
    by_definition: Mutex<HashMap<String, HashMap<String, String>>>,
    by_task: Mutex<HashMap<String, HashMap<String, String>>>,
}

impl TaskDigests {
    /// The digest each task of `task_definition_arn` reports for `container`.
    pub fn set_definition(&self, task_definition_arn: &str, container: &str, digest: &str) {
        self.by_definition
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(task_definition_arn.to_owned())
            .or_default()
            .insert(container.to_owned(), digest.to_owned());
    }

    /// The digest one task reports for `container`, whatever its task definition says.
    pub fn set_task(&self, task_arn: &str, container: &str, digest: &str) {
        self.by_task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(task_arn.to_owned())
            .or_default()
            .insert(container.to_owned(), digest.to_owned());
    }

    fn digest(&self, task_arn: &str, task_definition: &str, container: &str) -> Option<String> {
        let by_task = self.by_task.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(digest) = by_task.get(task_arn).and_then(|c| c.get(container)) {
            return Some(digest.clone());
        }
        drop(by_task);
        self.by_definition
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(task_definition)
            .and_then(|c| c.get(container))
            .cloned()
    }

    fn fill(&self, answer: &mut Value) {
        let Some(tasks) = answer.get_mut("tasks").and_then(Value::as_array_mut) else {
            return;
        };
        for task in tasks {
            let task_arn = task["taskArn"].as_str().unwrap_or_default().to_owned();
            let definition = task["taskDefinitionArn"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let Some(containers) = task.get_mut("containers").and_then(Value::as_array_mut) else {
                continue;
            };
            for container in containers {
                let name = container["name"].as_str().unwrap_or_default().to_owned();
                if let Some(digest) = self.digest(&task_arn, &definition, &name) {
                    container["imageDigest"] = json!(digest);
                }
            }
        }
    }
}

/// Adds the running containers' image digests to moto's `DescribeTasks` answers.
pub struct TaskDigestSupplement(pub Arc<TaskDigests>);

impl Supplement for TaskDigestSupplement {
    fn answer<'a>(&'a self, call: &'a Call, upstream: &'a Upstream) -> SupplementFuture<'a> {
        Box::pin(async move {
            if call.service != "ecs" || call.operation != "DescribeTasks" {
                return None;
            }
            let mut reply = upstream.forward(call).await.ok()?;
            if !reply.status.is_success() {
                return Some(reply);
            }
            let mut answer: Value = serde_json::from_slice(&reply.body).ok()?;
            self.0.fill(&mut answer);
            reply.headers.remove(http::header::CONTENT_LENGTH);
            reply.body = Bytes::from(answer.to_string());
            Some(reply)
        })
    }
}
