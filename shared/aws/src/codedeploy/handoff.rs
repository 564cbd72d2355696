//! Handing a long bake to an asynchronous invocation of the same function.

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use serde_json::Value;

/// Starts asynchronous (`Event`) invocations of one function: this one.
#[derive(Debug, Clone)]
pub struct SelfInvoker {
    client: aws_sdk_lambda::Client,
    function_name: Option<String>,
}

impl SelfInvoker {
    /// An invoker of `function_name` (from `AWS_LAMBDA_FUNCTION_NAME`); `None` when the function does
    /// not know its own name, which makes every handoff fail with a message saying so.
    pub fn new(client: aws_sdk_lambda::Client, function_name: Option<String>) -> Self {
        SelfInvoker {
            client,
            function_name,
        }
    }

    /// Queues one invocation with `payload`; Lambda answers 202 once it has accepted it.
    pub async fn invoke(&self, payload: &Value) -> Result<(), String> {
        let Some(name) = self.function_name.as_deref() else {
            return Err(
                "AWS_LAMBDA_FUNCTION_NAME is not set, so the function cannot invoke itself".into(),
            );
        };
        let body = serde_json::to_vec(payload).map_err(|error| error.to_string())?;
        let output = self
            .client
            .invoke()
            .function_name(name)
            .invocation_type(InvocationType::Event)
            .payload(Blob::new(body))
            .send()
            .await
            .map_err(|error| {
                format!(
                    "lambda:InvokeFunction on {name}: {}",
                    aws_smithy_types::error::display::DisplayErrorContext(&error)
                )
            })?;
        if output.status_code() == 202 {
            Ok(())
        } else {
            Err(format!(
                "lambda:InvokeFunction on {name} answered HTTP {} instead of 202",
                output.status_code()
            ))
        }
    }
}
