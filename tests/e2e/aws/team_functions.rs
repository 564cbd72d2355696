//! A team's own function in a rehearsal: real Python code behind the Lambda host, invoked through
//! the local AWS endpoint as the `lambda` check invokes it, answering as the Lambda API answers.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use greenlight_sim::LocalAws;
use greenlight_sim::app::{AppBehaviour, SampleApp};
use greenlight_sim::lambda_host::LambdaHost;
use greenlight_sim::team_functions::{Runtime, TeamFunction};
use greenlight_sim::world::World;
use greenlight_test_support::fixtures;
use serde_json::{Value, json};

fn probe(env: Vec<(String, String)>, timeout: Duration) -> TeamFunction {
    TeamFunction {
        name: "probe".into(),
        runtime: Runtime::Python,
        code: fixtures::team_function("probe"),
        handler: "probe.handler".into(),
        env,
        timeout,
    }
}

/// moto behind the world's endpoint, with `function` registered, and a Lambda client for it.
async fn with_function(function: TeamFunction) -> (LocalAws, aws_sdk_lambda::Client) {
    let world = World::new();
    let aws = crate::parts::local_aws_with(&world).await;
    let spec = function.function_spec().expect("the probe's spec");
    let host = LambdaHost::start(spec).await.expect("the Lambda host");
    world.lambda_functions().add(&function.name, Arc::new(host));
    let lambda = aws_sdk_lambda::Client::new(&aws.sdk_config());
    (aws, lambda)
}

async fn invoke(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
    payload: Value,
) -> aws_sdk_lambda::operation::invoke::InvokeOutput {
    lambda
        .invoke()
        .function_name(function)
        .invocation_type(InvocationType::RequestResponse)
        .payload(Blob::new(payload.to_string()))
        .send()
        .await
        .unwrap_or_else(|error| panic!("{error:?}"))
}

fn payload_of(output: &aws_sdk_lambda::operation::invoke::InvokeOutput) -> Value {
    let bytes = output.payload.as_ref().expect("a payload").as_ref();
    serde_json::from_slice(bytes).expect("JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_function_answers_with_its_context_by_any_name_form() {
    let (_aws, lambda) = with_function(probe(Vec::new(), Duration::from_secs(10))).await;
    for name in [
        "probe",
        "probe:live",
        "arn:aws:lambda:us-east-1:123456789012:function:probe",
    ] {
        let output = invoke(&lambda, name, json!({ "suite": "smoke" })).await;
        assert_eq!(output.status_code, 200);
        assert_eq!(output.function_error, None, "{name}");
        let answer = payload_of(&output);
        assert_eq!(answer["result"], "pass");
        assert_eq!(answer["event"]["suite"], "smoke");
        assert_eq!(answer["function"], "probe");
        let remaining = answer["remaining_ms"].as_u64().expect("remaining time");
        assert!(remaining > 0 && remaining <= 10_000, "{remaining}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_function_reaches_the_app_it_is_configured_for() {
    let app = SampleApp::start(AppBehaviour {
        body: r#"{"order":42,"total":"9.99"}"#.into(),
        ..AppBehaviour::version("green")
    })
    .await
    .expect("the app");
    let base_url = format!("http://{}", app.addr());
    let (_aws, lambda) = with_function(probe(
        vec![("BASE_URL".into(), base_url)],
        Duration::from_secs(10),
    ))
    .await;
    let answer = payload_of(
        &invoke(
            &lambda,
            "probe",
            json!({ "mode": "fetch", "path": "/orders/42" }),
        )
        .await,
    );
    assert_eq!(answer["status"], 200, "{answer}");
    assert_eq!(answer["body"]["total"], "9.99", "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raising_and_running_out_of_time_answer_as_lambda_does() {
    let (_aws, lambda) = with_function(probe(Vec::new(), Duration::from_secs(2))).await;

    let raised = invoke(&lambda, "probe", json!({ "mode": "raise" })).await;
    assert_eq!(raised.status_code, 200);
    assert_eq!(raised.function_error.as_deref(), Some("Unhandled"));
    let error = payload_of(&raised);
    assert_eq!(error["errorType"], "RuntimeError", "{error}");
    assert_eq!(
        error["errorMessage"], "the contract suite could not start",
        "{error}"
    );

    let slow = invoke(&lambda, "probe", json!({ "mode": "sleep", "seconds": 30 })).await;
    assert_eq!(slow.function_error.as_deref(), Some("Unhandled"));
    let error = payload_of(&slow);
    assert_eq!(error["errorType"], "Sandbox.Timedout", "{error}");
    let message = error["errorMessage"].as_str().unwrap_or_default();
    assert!(
        message.contains("Task timed out after 2.00 seconds"),
        "{message}"
    );

    // The timed-out environment was discarded; the next invocation starts afresh and answers.
    let after = invoke(&lambda, "probe", json!({})).await;
    assert_eq!(after.function_error, None);
    assert_eq!(payload_of(&after)["result"], "pass");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_invocation_is_accepted_at_once_and_still_runs() {
    let record = std::env::temp_dir().join(format!(
        "greenlight-probe-record-{}.json",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&record);
    let (_aws, lambda) = with_function(probe(
        vec![("RECORD_TO".into(), record.display().to_string())],
        Duration::from_secs(10),
    ))
    .await;
    let accepted = lambda
        .invoke()
        .function_name("probe")
        .invocation_type(InvocationType::Event)
        .payload(Blob::new(json!({ "mode": "record", "n": 7 }).to_string()))
        .send()
        .await
        .expect("accepted");
    assert_eq!(accepted.status_code, 202);
    let mut recorded = None;
    for _ in 0..200 {
        if let Ok(text) = std::fs::read_to_string(&record)
            && let Ok(value) = serde_json::from_str::<Value>(&text)
        {
            recorded = Some(value);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = std::fs::remove_file(&record);
    assert_eq!(recorded.expect("the event ran")["n"], 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_the_rehearsal_does_not_run_is_not_found() {
    let (_aws, lambda) = with_function(probe(Vec::new(), Duration::from_secs(10))).await;
    let error = lambda
        .invoke()
        .function_name("no-such-function")
        .payload(Blob::new("{}"))
        .send()
        .await
        .expect_err("an unknown function");
    let service_error = error.into_service_error();
    assert!(
        service_error.is_resource_not_found_exception(),
        "{service_error:?}"
    );
}
