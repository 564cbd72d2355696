//! The endpoint against a scripted stand-in for moto: forwarding, translation, supplements, counts.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use aws_sdk_cloudwatch::error::ProvideErrorMetadata;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Metric, MetricDataQuery, MetricStat};
use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::*;
use crate::http_client::{exchange, loopback_client};

/// A request as the stand-in saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    path_and_query: String,
    headers: HeaderMap,
    body: Bytes,
}

type Script = Arc<dyn Fn(&Seen) -> Reply + Send + Sync>;

/// A scripted HTTP server standing in for moto; it records every request.
struct FakeMoto {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl FakeMoto {
    async fn start(script: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let script: Script = Arc::new(script);
        let recorder = Arc::clone(&seen);
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let script = Arc::clone(&script);
                let recorder = Arc::clone(&recorder);
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<Incoming>| {
                        let script = Arc::clone(&script);
                        let recorder = Arc::clone(&recorder);
                        async move {
                            let (parts, body) = request.into_parts();
                            let body = body.collect().await.expect("body").to_bytes();
                            let seen = Seen {
                                method: parts.method,
                                path_and_query: parts
                                    .uri
                                    .path_and_query()
                                    .map(ToString::to_string)
                                    .unwrap_or_default(),
                                headers: parts.headers,
                                body,
                            };
                            let reply = script(&seen);
                            recorder.lock().expect("lock").push(seen);
                            let mut response = http::Response::new(Full::new(reply.body));
                            *response.status_mut() = reply.status;
                            *response.headers_mut() = reply.headers;
                            Ok::<_, Infallible>(response)
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { url, seen }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }
}

fn cloudwatch_client(endpoint: &AwsEndpoint) -> aws_sdk_cloudwatch::Client {
    let config = aws_sdk_cloudwatch::Config::builder()
        .behavior_version(aws_sdk_cloudwatch::config::BehaviorVersion::latest())
        .region(aws_sdk_cloudwatch::config::Region::new("us-east-1"))
        .endpoint_url(endpoint.endpoint_url())
        .credentials_provider(aws_sdk_cloudwatch::config::Credentials::for_tests())
        .retry_config(aws_sdk_cloudwatch::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_cloudwatch::Client::from_conf(config)
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> &'h str {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
}

#[tokio::test]
async fn forwards_method_path_query_headers_and_body_verbatim() {
    let moto = FakeMoto::start(|_| {
        let mut reply = Reply::json(StatusCode::ACCEPTED, &serde_json::json!({ "ok": true }));
        reply
            .headers
            .insert("x-amzn-requestid", http::HeaderValue::from_static("req-1"));
        reply
    })
    .await;
    let endpoint = AwsEndpoint::start(&moto.url).await.expect("endpoint");
    let body = r#"{"cluster":"prod","services":["web"]}"#;
    let request = Request::builder()
        .method(Method::PUT)
        .uri(format!("{}/some/path?a=1&b=two", endpoint.endpoint_url()))
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/ecs/aws4_request, \
             SignedHeaders=host, Signature=abc",
        )
        .header(
            "x-amz-target",
            "AmazonEC2ContainerServiceV20141113.DescribeServices",
        )
        .header("x-custom", "kept")
        .body(Full::new(Bytes::from(body)))
        .expect("request");
    let answer = exchange(&loopback_client(), request).await.expect("answer");

    assert_eq!(answer.status, StatusCode::ACCEPTED);
    assert_eq!(header(&answer.headers, "x-amzn-requestid"), "req-1");
    assert_eq!(answer.body, Bytes::from(r#"{"ok":true}"#));
    let seen = moto.seen();
    assert_eq!(seen.len(), 1);
    let forwarded = &seen[0];
    assert_eq!(forwarded.method, Method::PUT);
    assert_eq!(forwarded.path_and_query, "/some/path?a=1&b=two");
    assert!(header(&forwarded.headers, "authorization").contains("Signature=abc"));
    assert_eq!(header(&forwarded.headers, "x-custom"), "kept");
    assert_eq!(forwarded.body, Bytes::from(body));
    assert_eq!(endpoint.calls("ecs", "DescribeServices"), 1);
}

#[tokio::test]
async fn cloudwatch_cbor_is_translated_to_json_and_back_for_the_real_sdk() {
    let moto = FakeMoto::start(|seen| {
        assert_eq!(
            header(&seen.headers, "x-amz-target"),
            "GraniteServiceVersion20100801.GetMetricData"
        );
        assert_eq!(
            header(&seen.headers, "content-type"),
            "application/x-amz-json-1.0"
        );
        let input: serde_json::Value = serde_json::from_slice(&seen.body).expect("json input");
        // Timestamps arrive as epoch seconds, JSON 1.0's format.
        assert_eq!(input["StartTime"].as_f64(), Some(1_700_000_000.0));
        assert_eq!(input["EndTime"].as_f64(), Some(1_700_000_600.0));
        assert_eq!(
            input["MetricDataQueries"][0]["MetricStat"]["Stat"],
            serde_json::json!("Sum")
        );
        Reply::json(
            StatusCode::OK,
            &serde_json::json!({
                "MetricDataResults": [{
                    "Id": "errors",
                    "Label": "5xx",
                    "Timestamps": [1_700_000_060, 1_700_000_000.5],
                    "Values": [3, 1.5],
                    "StatusCode": "Complete",
                }],
                "Messages": [],
            }),
        )
    })
    .await;
    let endpoint = AwsEndpoint::start(&moto.url).await.expect("endpoint");
    let output = cloudwatch_client(&endpoint)
        .get_metric_data()
        .start_time(DateTime::from_secs(1_700_000_000))
        .end_time(DateTime::from_secs(1_700_000_600))
        .metric_data_queries(
            MetricDataQuery::builder()
                .id("errors")
                .metric_stat(
                    MetricStat::builder()
                        .metric(
                            Metric::builder()
                                .namespace("AWS/ApplicationELB")
                                .metric_name("HTTPCode_Target_5XX_Count")
                                .build(),
                        )
                        .period(60)
                        .stat("Sum")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .expect("GetMetricData through the translation");

    let result = &output.metric_data_results()[0];
    assert_eq!(result.values(), &[3.0, 1.5]);
    assert_eq!(
        result.timestamps(),
        &[
            DateTime::from_secs(1_700_000_060),
            DateTime::from_millis(1_700_000_000_500)
        ]
    );
    assert_eq!(endpoint.calls("cloudwatch", "GetMetricData"), 1);
}

#[tokio::test]
async fn cloudwatch_errors_keep_their_status_code_and_message() {
    let moto = FakeMoto::start(|seen| {
        if header(&seen.headers, "x-amz-target").ends_with("SetAlarmState") {
            let mut reply = Reply::json_error(
                StatusCode::NOT_FOUND,
                "GraniteServiceVersion20100801#ResourceNotFound",
                "alarm web-5xx not found",
            );
            reply.headers.insert(
                "x-amzn-query-error",
                http::HeaderValue::from_static("ResourceNotFound;Sender"),
            );
            reply
        } else {
            Reply::json_error(StatusCode::BAD_REQUEST, "Throttling", "Rate exceeded")
        }
    })
    .await;
    let endpoint = AwsEndpoint::start(&moto.url).await.expect("endpoint");
    let client = cloudwatch_client(&endpoint);

    let missing = client
        .set_alarm_state()
        .alarm_name("web-5xx")
        .state_value(aws_sdk_cloudwatch::types::StateValue::Alarm)
        .state_reason("test")
        .send()
        .await
        .expect_err("no such alarm");
    let response_status = missing.raw_response().map(|raw| raw.status().as_u16());
    let service_error = missing.into_service_error();
    assert!(service_error.is_resource_not_found(), "{service_error:?}");
    assert_eq!(service_error.message(), Some("alarm web-5xx not found"));
    assert_eq!(response_status, Some(404));

    let throttled = client
        .describe_alarms()
        .send()
        .await
        .expect_err("throttled");
    assert_eq!(throttled.code(), Some("Throttling"));
    assert_eq!(throttled.message(), Some("Rate exceeded"));
}

/// Answers ECS `DescribeServiceDeployments`, which moto lacks, and passes everything else on.
struct ServiceDeployments;

impl Supplement for ServiceDeployments {
    fn answer<'a>(&'a self, call: &'a Call, _upstream: &'a Upstream) -> SupplementFuture<'a> {
        Box::pin(async move {
            (call.service == "ecs" && call.operation == "DescribeServiceDeployments").then(|| {
                Reply::json(
                    StatusCode::OK,
                    &serde_json::json!({ "serviceDeployments": [], "failures": [] }),
                )
            })
        })
    }
}

#[tokio::test]
async fn a_supplement_answers_in_place_of_moto_and_the_rest_still_reaches_moto() {
    let moto = FakeMoto::start(|_| Reply::json(StatusCode::OK, &serde_json::json!({}))).await;
    let endpoint = AwsEndpoint::builder(&moto.url)
        .supplement(ServiceDeployments)
        .start()
        .await
        .expect("endpoint");
    let ecs = |operation: &str| {
        Request::builder()
            .method(Method::POST)
            .uri(format!("{}/", endpoint.endpoint_url()))
            .header(
                "x-amz-target",
                format!("AmazonEC2ContainerServiceV20141113.{operation}"),
            )
            .body(Full::new(Bytes::from_static(b"{}")))
            .expect("request")
    };
    let client = loopback_client();

    let answered = exchange(&client, ecs("DescribeServiceDeployments"))
        .await
        .expect("answer");
    assert_eq!(answered.status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&answered.body).contains("serviceDeployments"));
    assert!(
        moto.seen().is_empty(),
        "moto must not see what a supplement answered"
    );

    exchange(&client, ecs("DescribeServices"))
        .await
        .expect("answer");
    exchange(&client, ecs("DescribeServices"))
        .await
        .expect("answer");
    assert_eq!(moto.seen().len(), 2);
    assert_eq!(endpoint.calls("ecs", "DescribeServiceDeployments"), 1);
    assert_eq!(endpoint.calls("ecs", "DescribeServices"), 2);
    assert_eq!(endpoint.calls("ecs", "ListTasks"), 0);
    assert_eq!(endpoint.call_counts().len(), 2);
    endpoint.reset_calls();
    assert_eq!(endpoint.calls("ecs", "DescribeServices"), 0);
}

#[tokio::test]
async fn an_unreachable_moto_is_a_bad_gateway_that_names_it() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("free port")
        .port();
    let endpoint = AwsEndpoint::start(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("endpoint");
    let request = Request::builder()
        .uri(format!("{}/", endpoint.endpoint_url()))
        .body(Full::new(Bytes::new()))
        .expect("request");
    let answer = exchange(&loopback_client(), request).await.expect("answer");
    assert_eq!(answer.status, StatusCode::BAD_GATEWAY);
    assert!(String::from_utf8_lossy(&answer.body).contains("could not reach moto"));
}

#[tokio::test]
async fn a_malformed_cbor_request_is_a_serialization_error_in_cbor() {
    let moto = FakeMoto::start(|_| Reply::json(StatusCode::OK, &serde_json::json!({}))).await;
    let endpoint = AwsEndpoint::start(&moto.url).await.expect("endpoint");
    let request = Request::builder()
        .method(Method::POST)
        .uri(format!(
            "{}/service/GraniteServiceVersion20100801/operation/DescribeAlarms",
            endpoint.endpoint_url()
        ))
        .header("smithy-protocol", "rpc-v2-cbor")
        .body(Full::new(Bytes::from_static(b"\xff\x00")))
        .expect("request");
    let answer = exchange(&loopback_client(), request).await.expect("answer");
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(header(&answer.headers, "smithy-protocol"), "rpc-v2-cbor");
    let error: ciborium::Value = ciborium::from_reader(&answer.body[..]).expect("cbor");
    assert!(format!("{error:?}").contains("SerializationException"));
    assert!(moto.seen().is_empty());
}
