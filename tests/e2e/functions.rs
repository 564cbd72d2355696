//! The phase functions as real Lambdas: their binaries, started with the Runtime API
//! environment by the local Lambda host, answering fixture events.
//!
//! AWS here is unreachable (or hangs) on purpose: what is tested is the function's contract with ECS —
//! well-formed answers for every stage it serves, clear failures for bad events and wiring mistakes,
//! rollbacks never blocked, and an answer before the deadline whatever AWS does. Judgements against a
//! live (local) AWS are the scenario tests' job.

use std::path::PathBuf;
use std::time::Duration;

use greenlight_sim::lambda_host::{FunctionSpec, InvocationResult, LambdaHost};
use serde_json::{Value, json};

/// A function binary: the release build `make functions` makes (GREENLIGHT_FUNCTION_PROFILE=release
/// under `make test`), else the test binary's own profile.
fn function_binary(name: &str) -> PathBuf {
    let path = greenlight_sim::lambda_host::workspace_binary(name);
    let build = match std::env::var(greenlight_sim::lambda_host::FUNCTION_PROFILE_ENV).as_deref() {
        Ok("release") => format!("`make functions` (cargo build --release -p {name})"),
        Ok(profile) if !profile.is_empty() => format!("cargo build --profile {profile} -p {name}"),
        _ => format!("cargo build -p {name}, or `make test`"),
    };
    assert!(
        path.is_file(),
        "{} is not built: run {build}",
        path.display()
    );
    path
}

fn fixture(name: &str) -> Value {
    let path = format!("{}/fixtures/events/{name}", env!("CARGO_MANIFEST_DIR"));
    let mut event: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("fixture")).expect("JSON");
    // Fixtures name SSM config references; these runs use the built-in plans.
    if let Some(details) = event.get_mut("hookDetails").and_then(Value::as_object_mut) {
        details.remove("greenlightConfig");
    }
    event
}

async fn host(function: &str, endpoint: &str, timeout: Duration) -> LambdaHost {
    let mut spec = FunctionSpec::new(function_binary(function), format!("greenlight-{function}"));
    spec.timeout = timeout;
    spec.env = vec![
        ("AWS_ENDPOINT_URL".into(), endpoint.into()),
        ("AWS_ACCESS_KEY_ID".into(), "test".into()),
        ("AWS_SECRET_ACCESS_KEY".into(), "test".into()),
        ("AWS_MAX_ATTEMPTS".into(), "1".into()),
        ("AWS_LAMBDA_LOG_FORMAT".into(), "JSON".into()),
    ];
    LambdaHost::start(spec).await.expect("lambda host")
}

/// An address where nothing listens: every AWS call is refused at once.
const UNREACHABLE: &str = "http://127.0.0.1:9";

fn response(result: &InvocationResult) -> &Value {
    match result {
        InvocationResult::Response(value) => value,
        other => panic!("expected a hook response, got {other:?}"),
    }
}

fn assert_well_formed(answer: &Value) {
    let status = answer["hookStatus"].as_str().expect("hookStatus");
    assert!(
        ["SUCCEEDED", "IN_PROGRESS", "FAILED"].contains(&status),
        "{answer}"
    );
    if status == "IN_PROGRESS" {
        assert!(answer["callBackDelay"].as_u64().is_some(), "{answer}");
        assert!(
            answer["hookDetails"]["greenlight"]["state"].is_object(),
            "{answer}"
        );
    }
}

/// The reason code of the function's last verdict, from its JSON logs.
fn last_reason(host: &LambdaHost) -> Option<String> {
    host.logs().iter().rev().find_map(|line| {
        let log: Value = serde_json::from_str(line).ok()?;
        log["fields"]["reason"]
            .as_str()
            .or_else(|| log["reason"].as_str())
            .map(str::to_owned)
    })
}

#[tokio::test]
async fn every_function_answers_every_stage_it_serves_with_a_well_formed_response() {
    let cases = [
        (
            "pre-scale-up",
            vec!["ecs-reconcile-service.json", "ecs-pre-scale-up.json"],
        ),
        ("post-scale-up", vec!["ecs-post-scale-up.json"]),
        (
            "test-traffic",
            vec![
                "ecs-test-traffic-shift.json",
                "ecs-post-test-traffic-shift.json",
            ],
        ),
        (
            "production-traffic",
            vec![
                "ecs-pre-production-traffic-shift.json",
                "ecs-production-traffic-shift.json",
                "ecs-production-traffic-shift-linear-step.json",
                "ecs-production-traffic-shift-canary-step.json",
                "ecs-post-production-traffic-shift.json",
            ],
        ),
    ];
    for (function, fixtures) in cases {
        let host = host(function, UNREACHABLE, Duration::from_secs(20)).await;
        for name in fixtures {
            let invocation = host.invoke(&fixture(name)).await.expect("invoke");
            let answer = response(&invocation.result);
            assert_well_formed(answer);
            // AWS cannot be reached: no evidence, so never SUCCEEDED; a transient error waits.
            assert_eq!(
                answer["hookStatus"], "IN_PROGRESS",
                "{function} {name}: {answer}"
            );
        }
    }
}

#[tokio::test]
async fn bad_events_and_wiring_mistakes_fail_clearly() {
    let host = host("post-scale-up", UNREACHABLE, Duration::from_secs(20)).await;

    let wrong_stage = host
        .invoke(&fixture("ecs-pre-scale-up.json"))
        .await
        .expect("invoke");
    assert_eq!(response(&wrong_stage.result)["hookStatus"], "FAILED");
    assert_eq!(
        last_reason(&host).as_deref(),
        Some("EVENT_STAGE_NOT_SERVED")
    );

    let malformed = host
        .invoke(&json!({ "lifecycleStage": 7 }))
        .await
        .expect("invoke");
    assert_eq!(response(&malformed.result)["hookStatus"], "FAILED");
    assert_eq!(last_reason(&host).as_deref(), Some("EVENT_MALFORMED"));
    assert!(
        host.logs()
            .iter()
            .any(|line| line.contains("lifecycleStage")),
        "the log names the field"
    );

    let not_an_object = host.invoke(&json!("hello")).await.expect("invoke");
    assert_eq!(response(&not_an_object.result)["hookStatus"], "FAILED");

    let unknown = host
        .invoke(&fixture("ecs-unknown-stage-extra-fields.json"))
        .await
        .expect("invoke");
    assert_eq!(response(&unknown.result)["hookStatus"], "FAILED");
}

#[tokio::test]
async fn rollbacks_pass_at_once_even_when_aws_is_unreachable() {
    let production = host("production-traffic", UNREACHABLE, Duration::from_secs(20)).await;
    let answer = production
        .invoke(&fixture("ecs-production-traffic-shift-rollback.json"))
        .await
        .expect("invoke");
    assert_eq!(response(&answer.result)["hookStatus"], "SUCCEEDED");
    assert_eq!(
        last_reason(&production).as_deref(),
        Some("VERDICT_ROLLBACK")
    );

    let test = host("test-traffic", UNREACHABLE, Duration::from_secs(20)).await;
    let answer = test
        .invoke(&fixture("ecs-test-traffic-shift-rollback.json"))
        .await
        .expect("invoke");
    assert_eq!(response(&answer.result)["hookStatus"], "SUCCEEDED");
}

#[tokio::test]
async fn a_hanging_aws_is_answered_before_the_lambda_deadline() {
    // Accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let host = host(
        "post-scale-up",
        &format!("http://{address}"),
        Duration::from_secs(6),
    )
    .await;
    let invocation = host
        .invoke(&fixture("ecs-post-scale-up.json"))
        .await
        .expect("invoke");
    let answer = response(&invocation.result);
    // A response at all proves it came before the deadline: the host kills a function that is late.
    assert_eq!(answer["hookStatus"], "IN_PROGRESS", "{answer}");
    holder.abort();
}

#[tokio::test]
async fn a_warm_function_serves_many_invocations_in_one_process() {
    let host = host("pre-scale-up", UNREACHABLE, Duration::from_secs(20)).await;
    let first = host
        .invoke(&fixture("ecs-pre-scale-up.json"))
        .await
        .expect("invoke");
    let second = host
        .invoke(&fixture("ecs-pre-scale-up.json"))
        .await
        .expect("invoke");
    assert!(first.cold && !second.cold);
    assert!(first.init.is_some());
    assert!(host.peak_rss_kb() > 0);
}
