//! The phase functions as real Lambdas: their binaries, started with the Runtime API
//! environment by the local Lambda host, answering fixture events.
//!
//! AWS here is unreachable (or hangs) on purpose: what is tested is the function's contract with ECS —
//! well-formed answers for every stage it serves, clear failures for bad events and wiring mistakes,
//! rollbacks never blocked, and an answer before the deadline whatever AWS does. Judgements against a
//! live (local) AWS are the scenario tests' job.

use std::time::Duration;

use greenlight_sim::lambda_host::{FunctionSpec, InvocationResult, LambdaHost};
use greenlight_test_support::fixtures;
use serde_json::{Value, json};

/// A recorded event, without its SSM config reference: these runs use the built-in plans.
fn fixture(name: &str) -> Value {
    let mut event = fixtures::event(name);
    if let Some(details) = event.get_mut("hookDetails").and_then(Value::as_object_mut) {
        details.remove("greenlightConfig");
    }
    event
}

async fn host(function: &str, endpoint: &str, timeout: Duration) -> LambdaHost {
    let mut spec = FunctionSpec::new(
        crate::parts::function_binary(function),
        format!("greenlight-{function}"),
    );
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

/// The reason code of the function's last verdict, from its summary line.
fn last_reason(host: &LambdaHost) -> Option<String> {
    host.logs()
        .iter()
        .rev()
        .find_map(|line| greenlight_sim::timeline::summary_of(line))
        .and_then(|summary| summary["reason"].as_str().map(str::to_owned))
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

/// At Lambda's `LogLevel: WARN`, a stopped stage still shows why: the failing check's line is a
/// WARN, every kept line carries an RFC 3339 timestamp (Lambda uses it, and reads a line without
/// a valid level as INFO), and passing checks' INFO lines are dropped.
#[tokio::test]
async fn at_warn_a_failed_stage_keeps_its_failing_check_with_a_timestamp() {
    let mut event = fixture("ecs-post-test-traffic-shift.json");
    let host = judging_test_traffic(
        &event,
        &[
            ("GREENLIGHT_ALLOW_LOOPBACK", "true"),
            ("AWS_LAMBDA_LOG_LEVEL", "WARN"),
        ],
    )
    .await;
    let (healthy, _) = outside_listener().await;
    let (failing, _) = serve_status("503 Service Unavailable", b"down", "text/plain").await;
    event["hookDetails"] = json!({ "greenlight": { "version": 1, "stages": { "POST_TEST_TRAFFIC_SHIFT": [
        { "http": { "target": "url", "url": format!("{healthy}/health"), "requests": 2 } },
        { "http": { "target": "url", "url": format!("{failing}/health"), "requests": 2 } }
    ] } } });
    let invocation = host.invoke(&event).await.expect("invoke");
    assert_eq!(response(&invocation.result)["hookStatus"], "FAILED");
    let lines: Vec<Value> = invocation
        .logs
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .collect();
    for line in &lines {
        let timestamp = line["timestamp"].as_str().unwrap_or_default();
        assert!(
            humantime::parse_rfc3339_weak(timestamp).is_ok() && timestamp.ends_with('Z'),
            "no RFC 3339 timestamp: {line}"
        );
        assert_ne!(line["level"], "INFO", "an INFO line at WARN: {line}");
    }
    let checks: Vec<&Value> = lines
        .iter()
        .filter(|line| line["fields"]["message"] == "greenlight check")
        .collect();
    assert_eq!(
        checks.len(),
        1,
        "only the failing check is kept: {:#?}",
        invocation.logs
    );
    assert_eq!(checks[0]["level"], "WARN");
    assert_eq!(checks[0]["fields"]["code"], "HTTP_ERROR_RATE");
    assert!(
        checks[0]["fields"]["evidence"]
            .as_str()
            .is_some_and(|evidence| evidence.contains("error")),
        "{:#?}",
        checks[0]
    );
    let summary: Vec<&Value> = lines
        .iter()
        .filter(|line| line["message"] == "greenlight summary")
        .collect();
    assert_eq!(summary.len(), 1, "{:#?}", invocation.logs);
    assert_eq!(summary[0]["level"], "WARN");
}

/// Whatever an invocation decides, and however early, it prints exactly one summary line: a
/// valid Embedded Metric Format record (read by the specification's rules) whose verdict is what
/// the function answered.
#[tokio::test]
async fn every_invocation_prints_exactly_one_summary_line_that_is_a_valid_emf_record() {
    let check = |name: &str, invocation: &greenlight_sim::lambda_host::Invocation| {
        let lines: Vec<Value> = invocation
            .logs
            .iter()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|log| log["message"] == "greenlight summary")
            .collect();
        assert_eq!(lines.len(), 1, "{name}: {:#?}", invocation.logs);
        let line = &lines[0];
        let data = greenlight_test_support::emf::extract(line)
            .unwrap_or_else(|error| panic!("{name}: not a valid EMF record: {error}\n{line}"));
        assert!(
            data.iter().any(|datum| datum.name == "Verdicts"),
            "{name}: {data:#?}"
        );
        let answered = &response(&invocation.result)["hookStatus"];
        assert_eq!(&line["greenlight"]["verdict"], answered, "{name}");
        assert_eq!(&line["Verdict"], answered, "{name}");
        line["greenlight"]["reason"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };

    let unreachable = host("post-scale-up", UNREACHABLE, Duration::from_secs(20)).await;
    let cases = [
        (
            "wrong stage",
            fixture("ecs-pre-scale-up.json"),
            "EVENT_STAGE_NOT_SERVED",
        ),
        (
            "malformed",
            json!({ "lifecycleStage": 7 }),
            "EVENT_MALFORMED",
        ),
        ("not an object", json!("hello"), "EVENT_MALFORMED"),
        (
            "status unreadable",
            fixture("ecs-post-scale-up.json"),
            "EVENT_NOT_A_RUNNING_HOOK",
        ),
    ];
    for (name, event, reason) in cases {
        let invocation = unreachable.invoke(&event).await.expect("invoke");
        assert_eq!(check(name, &invocation), reason, "{name}");
    }

    let mut event = fixture("ecs-post-test-traffic-shift.json");
    let host = judging_test_traffic(&event, &[("GREENLIGHT_ALLOW_LOOPBACK", "true")]).await;
    let (healthy, _) = outside_listener().await;
    event["hookDetails"] = json!({ "greenlight": { "version": 1, "stages": { "POST_TEST_TRAFFIC_SHIFT": [
        { "http": { "target": "url", "url": format!("{healthy}/health"), "requests": 2 } }
    ] } } });
    let judged = host.invoke(&event).await.expect("invoke");
    assert_eq!(check("judged", &judged), "VERDICT_PASSED");
    event["hookDetails"] = json!({ "greenlight": { "version": 1, "stages": { "POST_TEST_TRAFFIC_SHIFT": [
        { "http": { "max_error_rate": 5 } }
    ] } } });
    let broken = host.invoke(&event).await.expect("invoke");
    assert_eq!(check("broken config", &broken), "CONFIG_INVALID");
}

#[tokio::test]
async fn rollback_weights_wait_for_confirmation_when_aws_is_unreachable() {
    // The weights alone look the same as a first production step before its weights move: an
    // unreadable deployment status is asked again, never taken as a rollback.
    for (function, event) in [
        (
            "production-traffic",
            "ecs-production-traffic-shift-rollback.json",
        ),
        ("test-traffic", "ecs-test-traffic-shift-rollback.json"),
    ] {
        let host = host(function, UNREACHABLE, Duration::from_secs(20)).await;
        let answer = host.invoke(&fixture(event)).await.expect("invoke");
        assert_eq!(response(&answer.result)["hookStatus"], "IN_PROGRESS");
        assert_eq!(
            last_reason(&host).as_deref(),
            Some("ROLLBACK_UNCONFIRMED"),
            "{function}"
        );
    }
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

/// A listener outside the service: counts the connections it gets, answers each with a 200.
async fn outside_listener() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    serve_fixed(b"ok", "text/plain").await
}

/// An ECS endpoint that answers every call with `deployment` as DescribeServiceDeployments
/// documents it (the only call these functions make before the checks).
async fn ecs_describing(deployment: Value) -> String {
    let body = json!({ "serviceDeployments": [deployment], "failures": [] }).to_string();
    let body: &'static [u8] = Box::leak(body.into_bytes().into_boxed_slice());
    serve_fixed(body, "application/x-amz-json-1.1").await.0
}

/// A listener answering every request with a 200 carrying `body`, counting connections.
async fn serve_fixed(
    body: &'static [u8],
    content_type: &'static str,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    serve_status("200 OK", body, content_type).await
}

/// A listener answering every request with `status` (`503 Service Unavailable`) and `body`.
async fn serve_status(
    status: &'static str,
    body: &'static [u8],
    content_type: &'static str,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&hits);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buffer = [0u8; 16384];
                let _ = stream.read(&mut buffer).await;
                let head = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes()).await;
                let _ = stream.write_all(body).await;
            });
        }
    });
    (url, hits)
}

/// The test-traffic function for `event`'s deployment, with an ECS endpoint that says it is in
/// progress (so the stage is judged), JSON logs, and `env` on top.
async fn judging_test_traffic(event: &Value, env: &[(&str, &str)]) -> LambdaHost {
    let ecs = ecs_describing(json!({
        "serviceDeploymentArn": event["resourceArn"],
        "status": "IN_PROGRESS",
    }))
    .await;
    let mut spec = FunctionSpec::new(
        crate::parts::function_binary("test-traffic"),
        "greenlight-test-traffic".to_owned(),
    );
    spec.timeout = Duration::from_secs(20);
    spec.env = vec![
        ("AWS_ENDPOINT_URL".into(), ecs),
        ("AWS_ACCESS_KEY_ID".into(), "test".into()),
        ("AWS_SECRET_ACCESS_KEY".into(), "test".into()),
        ("AWS_MAX_ATTEMPTS".into(), "1".into()),
        ("AWS_LAMBDA_LOG_FORMAT".into(), "JSON".into()),
    ];
    spec.env.extend(
        env.iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned())),
    );
    LambdaHost::start(spec).await.expect("lambda host")
}

#[tokio::test]
async fn an_event_that_would_send_secrets_to_an_outside_listener_is_refused() {
    // Whoever may invoke the function (or write hookDetails) sends a config naming two of the
    // service's secrets as headers of requests to a listener of their choosing. The platform's
    // rules (environment, not config) refuse it before any secret is read; the same requests
    // without secrets do reach the listener, so its silence means something.
    let (outside, hits) = outside_listener().await;
    let mut event = fixture("ecs-post-test-traffic-shift.json");
    let host = judging_test_traffic(
        &event,
        &[
            (
                "GREENLIGHT_SECRET_PATH",
                "/greenlight/secrets/{cluster}/{service}/",
            ),
            // Loopback allowed, as in any local rehearsal: the secret rule alone must refuse.
            ("GREENLIGHT_ALLOW_LOOPBACK", "true"),
        ],
    )
    .await;
    let service = event["executionDetails"]["serviceArn"]
        .as_str()
        .expect("service ARN")
        .rsplit('/')
        .take(2)
        .collect::<Vec<_>>();
    let (name, cluster) = (service[0], service[1]);
    let inline = |headers: Value| {
        json!({ "greenlight": { "version": 1, "stages": { "POST_TEST_TRAFFIC_SHIFT": [
            { "http": { "target": "url", "url": format!("{outside}/collect"), "requests": 2, "headers": headers } }
        ] } } })
    };

    event["hookDetails"] = inline(json!({
        "X-Api-Key": { "ssm": format!("/greenlight/secrets/{cluster}/{name}/api-key") },
        "Authorization": { "secret": format!("greenlight/secrets/{cluster}/{name}/token") }
    }));
    let refused = host.invoke(&event).await.expect("invoke");
    assert_eq!(response(&refused.result)["hookStatus"], "FAILED");
    assert_eq!(
        last_reason(&host).as_deref(),
        Some("HTTP_SECRET_HEADER_REFUSED")
    );
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0);

    event["hookDetails"] = inline(json!({ "X-Plain": "visible" }));
    let plain = host.invoke(&event).await.expect("invoke");
    assert_eq!(response(&plain.result)["hookStatus"], "SUCCEEDED");
    assert!(hits.load(std::sync::atomic::Ordering::SeqCst) >= 2);
}

/// The summary lines among a function's log lines.
fn summary_lines(host: &LambdaHost) -> Vec<Value> {
    host.logs()
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|log| log["message"] == "greenlight summary")
        .collect()
}

/// Each judged invocation prints one summary line: the versioned record log queries read, and an
/// Embedded Metric Format record CloudWatch Logs turns into the `greenlight` namespace's metrics.
#[tokio::test]
async fn a_judged_invocation_prints_one_summary_line_with_its_metrics() {
    let (healthy, _) = outside_listener().await;
    let mut event = fixture("ecs-post-test-traffic-shift.json");
    let host = judging_test_traffic(&event, &[("GREENLIGHT_ALLOW_LOOPBACK", "true")]).await;
    let service = event["executionDetails"]["serviceArn"]
        .as_str()
        .and_then(|arn| arn.rsplit('/').next())
        .expect("service ARN")
        .to_owned();
    let plan = |url: String| {
        json!({ "greenlight": { "version": 1, "stages": { "POST_TEST_TRAFFIC_SHIFT": [
            { "http": { "target": "url", "url": url, "requests": 2 } }
        ] } } })
    };

    event["hookDetails"] = plan(format!("{healthy}/health"));
    let passed = host.invoke(&event).await.expect("invoke");
    assert_eq!(response(&passed.result)["hookStatus"], "SUCCEEDED");
    let lines = summary_lines(&host);
    assert_eq!(lines.len(), 1, "{:#?}", host.logs());
    let line = &lines[0];
    assert_eq!(line["level"], "INFO");
    let summary = &line["greenlight"];
    assert_eq!(summary["version"], 1);
    assert_eq!(summary["deployment"], event["resourceArn"]);
    assert_eq!(summary["service"], service.as_str());
    assert_eq!(summary["stage"], "POST_TEST_TRAFFIC_SHIFT");
    assert_eq!(summary["verdict"], "SUCCEEDED");
    assert_eq!(summary["final"], true);
    assert_eq!(summary["checks"][0]["kind"], "http");
    assert_eq!(summary["checks"][0]["status"], "pass");
    let directive = &line["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(directive["Namespace"], "greenlight");
    assert_eq!(directive["Metrics"][0]["Name"], "Verdicts");
    assert_eq!(line["Service"], service.as_str());
    assert_eq!(line["Verdict"], "SUCCEEDED");
    assert_eq!(line["Verdicts"], 1);

    // Every request answered 503: the stage is FAILED, and its line is a WARN, which a function
    // logging at WARN still keeps.
    let (down, _) = serve_status("503 Service Unavailable", b"down", "text/plain").await;
    event["hookDetails"] = plan(format!("{down}/health"));
    let failed = host.invoke(&event).await.expect("invoke");
    assert_eq!(response(&failed.result)["hookStatus"], "FAILED");
    let lines = summary_lines(&host);
    assert_eq!(lines.len(), 2, "{:#?}", host.logs());
    assert_eq!(lines[1]["level"], "WARN");
    assert_eq!(lines[1]["greenlight"]["verdict"], "FAILED");
    assert_eq!(lines[1]["greenlight"]["checks"][0]["status"], "fail");
    assert_eq!(lines[1]["Verdict"], "FAILED");
}
