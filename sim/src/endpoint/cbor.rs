//! Smithy RPC v2 CBOR ⇄ AWS JSON 1.0, for CloudWatch.
//!
//! `aws-sdk-cloudwatch` speaks RPC v2 CBOR; moto speaks CloudWatch's JSON 1.0 and Query protocols
//! only. Requests are self-describing and translate without knowing the model (a CBOR timestamp is
//! tag 1, a blob a byte string). Responses are not: JSON has one number type and no timestamps or
//! blobs, while the SDK's CBOR decoder insists on a float for a double, an integer for an integer,
//! tag 1 for a timestamp and a byte string for a blob. So the response side carries the names of
//! CloudWatch's output members of those types, read from the SDK's generated deserializers
//! (`aws-sdk-cloudwatch` 1.140, `src/protocol_serde/shape_*.rs`). Member names are consistent in
//! type across CloudWatch's outputs, and a hint applies only to a JSON value of a matching kind, so
//! `Value` (a string in `Dimension`) needs no hint and gets none.

use aws_smithy_types::date_time::Format;
use aws_smithy_types::{DateTime, base64};
use ciborium::Value as Cbor;
use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::{Map, Number, Value as Json};

/// A service whose SDK speaks RPC v2 CBOR and whose moto speaks JSON instead.
#[derive(Debug)]
pub(crate) struct CborService {
    /// The service shape name in the CBOR path and the JSON `X-Amz-Target` prefix.
    pub(crate) shape: &'static str,
    /// The JSON protocol's content type.
    pub(crate) json_content_type: &'static str,
    /// Output members that are timestamps (or lists of them).
    timestamps: &'static [&'static str],
    /// Output members that are doubles (or lists or maps of them).
    doubles: &'static [&'static str],
    /// Output members that are integers or longs.
    integers: &'static [&'static str],
    /// Output members that are blobs.
    blobs: &'static [&'static str],
}

/// CloudWatch (`GraniteServiceVersion20100801`).
pub(crate) const CLOUDWATCH: CborService = CborService {
    shape: "GraniteServiceVersion20100801",
    json_content_type: "application/x-amz-json-1.0",
    timestamps: &[
        "AlarmConfigurationUpdatedTimestamp",
        "CreatedAt",
        "CreationDate",
        "EndDate",
        "EndTime",
        "ExpireDate",
        "LastModified",
        "LastUpdateDate",
        "LastUpdatedTimestamp",
        "StartDate",
        "StartTime",
        "StateTransitionedTimestamp",
        "StateUpdatedTimestamp",
        "Timestamp",
        "Timestamps",
        "UpdatedAt",
    ],
    doubles: &[
        "AggregateValue",
        "ApproximateAggregateValue",
        "ApproximateValue",
        "Average",
        "ExtendedStatistics",
        "MaxContributorValue",
        "Maximum",
        "Minimum",
        "SampleCount",
        "Sum",
        "Threshold",
        "UniqueContributors",
        "Values",
    ],
    integers: &[
        "ActionLogLineCount",
        "ActionsSuppressorExtensionPeriod",
        "ActionsSuppressorWaitPeriod",
        "ApproximateUniqueCount",
        "DatapointsToAlarm",
        "EndTimeOffset",
        "EvaluationInterval",
        "EvaluationPeriods",
        "PendingPeriod",
        "Period",
        "QueryResultsToAlarm",
        "QueryResultsToEvaluate",
        "RecoveryPeriod",
        "Size",
        "StartTimeOffset",
        "WarmUpPeriodDurationInMinutes",
    ],
    blobs: &["MetricWidgetImage"],
};

/// The services translated, looked up by the shape name in the CBOR path.
pub(crate) fn service(shape: &str) -> Option<&'static CborService> {
    [&CLOUDWATCH]
        .into_iter()
        .find(|service| service.shape == shape)
}

/// The type a member is known to have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hint {
    Unknown,
    Timestamp,
    Double,
    Integer,
    Blob,
}

impl CborService {
    fn hint(&self, member: &str) -> Hint {
        if self.timestamps.contains(&member) {
            Hint::Timestamp
        } else if self.doubles.contains(&member) {
            Hint::Double
        } else if self.integers.contains(&member) {
            Hint::Integer
        } else if self.blobs.contains(&member) {
            Hint::Blob
        } else {
            Hint::Unknown
        }
    }

    /// Translates a CBOR request body to JSON. An empty body is an empty input.
    pub(crate) fn request_to_json(&self, cbor: &[u8]) -> Result<Vec<u8>, String> {
        if cbor.is_empty() {
            return Ok(b"{}".to_vec());
        }
        let value: Cbor = ciborium::from_reader(cbor)
            .map_err(|error| format!("the request body is not CBOR: {error}"))?;
        let json = cbor_to_json(value)?;
        serde_json::to_vec(&json).map_err(|error| error.to_string())
    }

    /// Translates moto's JSON answer to the CBOR the SDK expects: the output on success, and an
    /// `{__type, message}` map on error (the HTTP status is kept by the caller).
    pub(crate) fn response_to_cbor(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        json: &[u8],
    ) -> Vec<u8> {
        let parsed = if json.iter().all(u8::is_ascii_whitespace) {
            Ok(Json::Object(Map::new()))
        } else {
            serde_json::from_slice::<Json>(json)
        };
        let value = match parsed {
            Ok(json) if status.is_success() => self.json_to_cbor(&json, Hint::Unknown),
            Ok(json) => error_map(&error_code(&json, headers), &error_message(&json)),
            Err(_) if status.is_success() => error_map(
                "SerializationException",
                &format!(
                    "moto answered {status} with a body that is not JSON: {}",
                    snippet(json)
                ),
            ),
            Err(_) => error_map(
                &header_error_type(headers).unwrap_or_else(|| "InternalFailure".to_owned()),
                &format!(
                    "moto answered {status} with a body that is not JSON: {}",
                    snippet(json)
                ),
            ),
        };
        encode(&value)
    }

    fn json_to_cbor(&self, json: &Json, hint: Hint) -> Cbor {
        match json {
            Json::Null => Cbor::Null,
            Json::Bool(flag) => Cbor::Bool(*flag),
            Json::Number(number) => number_to_cbor(number, hint),
            Json::String(text) => string_to_cbor(text, hint),
            // A list member's hint is its elements' type.
            Json::Array(items) => Cbor::Array(
                items
                    .iter()
                    .map(|item| self.json_to_cbor(item, hint))
                    .collect(),
            ),
            Json::Object(members) => Cbor::Map(
                members
                    .iter()
                    .map(|(name, value)| {
                        // A hinted object is a map of that type (`ExtendedStatistics`); otherwise
                        // each member is looked up by name.
                        let member_hint = match hint {
                            Hint::Unknown => self.hint(name),
                            inherited => inherited,
                        };
                        (
                            Cbor::Text(name.clone()),
                            self.json_to_cbor(value, member_hint),
                        )
                    })
                    .collect(),
            ),
        }
    }
}

fn number_to_cbor(number: &Number, hint: Hint) -> Cbor {
    let as_float = number.as_f64().unwrap_or(f64::NAN);
    match hint {
        Hint::Timestamp => timestamp(as_float),
        Hint::Double => Cbor::Float(as_float),
        Hint::Integer if number.as_i64().is_none() && as_float.fract() == 0.0 => {
            // moto wrote an integer as `60.0`; the SDK wants an integer. The guard makes the cast exact.
            #[allow(clippy::cast_possible_truncation)]
            Cbor::Integer((as_float as i64).into())
        }
        _ => plain_number(number),
    }
}

fn plain_number(number: &Number) -> Cbor {
    if let Some(signed) = number.as_i64() {
        Cbor::Integer(signed.into())
    } else if let Some(unsigned) = number.as_u64() {
        Cbor::Integer(unsigned.into())
    } else {
        Cbor::Float(number.as_f64().unwrap_or(f64::NAN))
    }
}

fn string_to_cbor(text: &str, hint: Hint) -> Cbor {
    match hint {
        Hint::Timestamp => DateTime::from_str(text, Format::DateTime)
            .map(|at| timestamp(at.as_secs_f64()))
            .unwrap_or_else(|_| Cbor::Text(text.to_owned())),
        Hint::Blob => base64::decode(text)
            .map(Cbor::Bytes)
            .unwrap_or_else(|_| Cbor::Text(text.to_owned())),
        // JSON carries the special doubles as strings.
        Hint::Double => match text {
            "NaN" => Cbor::Float(f64::NAN),
            "Infinity" => Cbor::Float(f64::INFINITY),
            "-Infinity" => Cbor::Float(f64::NEG_INFINITY),
            _ => Cbor::Text(text.to_owned()),
        },
        Hint::Unknown | Hint::Integer => Cbor::Text(text.to_owned()),
    }
}

/// A CBOR timestamp: tag 1 around epoch seconds as a float.
fn timestamp(epoch_seconds: f64) -> Cbor {
    Cbor::Tag(1, Box::new(Cbor::Float(epoch_seconds)))
}

fn cbor_to_json(value: Cbor) -> Result<Json, String> {
    Ok(match value {
        Cbor::Null => Json::Null,
        Cbor::Bool(flag) => Json::Bool(flag),
        Cbor::Integer(integer) => {
            let wide = i128::from(integer);
            if let Ok(signed) = i64::try_from(wide) {
                Json::from(signed)
            } else if let Ok(unsigned) = u64::try_from(wide) {
                Json::from(unsigned)
            } else {
                return Err(format!("integer {wide} is out of range"));
            }
        }
        Cbor::Float(float) => float_to_json(float),
        Cbor::Text(text) => Json::String(text),
        Cbor::Bytes(bytes) => Json::String(base64::encode(bytes)),
        // Tag 1 (epoch seconds) is already a number, which is JSON 1.0's timestamp format; other
        // tags carry no meaning AWS uses.
        Cbor::Tag(_, inner) => cbor_to_json(*inner)?,
        Cbor::Array(items) => Json::Array(
            items
                .into_iter()
                .map(cbor_to_json)
                .collect::<Result<_, _>>()?,
        ),
        Cbor::Map(entries) => {
            let mut members = Map::new();
            for (key, value) in entries {
                let Cbor::Text(name) = key else {
                    return Err(format!("map key {key:?} is not a string"));
                };
                members.insert(name, cbor_to_json(value)?);
            }
            Json::Object(members)
        }
        other => return Err(format!("unsupported CBOR value {other:?}")),
    })
}

/// JSON has no NaN or infinities; AWS's JSON protocols send them as strings.
fn float_to_json(float: f64) -> Json {
    Number::from_f64(float).map_or_else(
        || {
            let text = if float.is_nan() {
                "NaN"
            } else if float > 0.0 {
                "Infinity"
            } else {
                "-Infinity"
            };
            Json::String(text.to_owned())
        },
        Json::Number,
    )
}

/// The error code from `__type` (JSON), or else the `x-amzn-errortype` header.
fn error_code(json: &Json, headers: &HeaderMap) -> String {
    json.get("__type")
        .and_then(Json::as_str)
        .map(str::to_owned)
        .or_else(|| header_error_type(headers))
        .unwrap_or_else(|| "InternalFailure".to_owned())
}

fn header_error_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-amzn-errortype")
        .and_then(|value| value.to_str().ok())
        .map(|value| value.split(':').next().unwrap_or(value).to_owned())
}

fn error_message(json: &Json) -> String {
    ["message", "Message"]
        .iter()
        .find_map(|name| json.get(name).and_then(Json::as_str))
        .unwrap_or_default()
        .to_owned()
}

/// An RPC v2 CBOR error body.
pub(crate) fn error_map(code: &str, message: &str) -> Cbor {
    Cbor::Map(vec![
        (Cbor::Text("__type".to_owned()), Cbor::Text(code.to_owned())),
        (
            Cbor::Text("message".to_owned()),
            Cbor::Text(message.to_owned()),
        ),
    ])
}

/// Encodes a CBOR value; writing to a `Vec` cannot fail.
pub(crate) fn encode(value: &Cbor) -> Vec<u8> {
    let mut bytes = Vec::new();
    if let Err(error) = ciborium::into_writer(value, &mut bytes) {
        tracing::error!(%error, "could not encode a CBOR value");
    }
    bytes
}

/// The headers of a CBOR answer.
pub(crate) fn response_headers(headers: &mut HeaderMap) {
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/cbor"),
    );
    headers.insert("smithy-protocol", HeaderValue::from_static("rpc-v2-cbor"));
}

fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    flat.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cbor(value: &Cbor) -> Vec<u8> {
        encode(value)
    }

    fn decode(bytes: &[u8]) -> Cbor {
        ciborium::from_reader(bytes).expect("valid CBOR")
    }

    fn text(value: &str) -> Cbor {
        Cbor::Text(value.to_owned())
    }

    fn member<'v>(map: &'v Cbor, name: &str) -> &'v Cbor {
        let Cbor::Map(entries) = map else {
            panic!("not a map: {map:?}")
        };
        entries
            .iter()
            .find(|(key, _)| key == &text(name))
            .map(|(_, value)| value)
            .unwrap_or_else(|| panic!("no member {name} in {map:?}"))
    }

    #[test]
    fn requests_translate_timestamps_blobs_and_specials_to_json() {
        let request = Cbor::Map(vec![
            (text("Namespace"), text("app")),
            (text("StartTime"), timestamp(1_700_000_000.5)),
            (
                text("EndTime"),
                Cbor::Tag(1, Box::new(Cbor::Integer(1_700_000_600.into()))),
            ),
            (text("Payload"), Cbor::Bytes(b"hi".to_vec())),
            (
                text("Values"),
                Cbor::Array(vec![
                    Cbor::Float(1.5),
                    Cbor::Float(f64::NAN),
                    Cbor::Integer(2.into()),
                ]),
            ),
            (text("Enabled"), Cbor::Bool(true)),
        ]);
        let json: Json = serde_json::from_slice(
            &CLOUDWATCH
                .request_to_json(&cbor(&request))
                .expect("translates"),
        )
        .expect("json");
        assert_eq!(
            json,
            serde_json::json!({
                "Namespace": "app",
                "StartTime": 1_700_000_000.5,
                "EndTime": 1_700_000_600,
                "Payload": "aGk=",
                "Values": [1.5, "NaN", 2],
                "Enabled": true,
            })
        );
        assert_eq!(CLOUDWATCH.request_to_json(b"").expect("empty input"), b"{}");
        assert!(CLOUDWATCH.request_to_json(b"\xff\x00").is_err());
    }

    #[test]
    fn responses_type_members_the_way_the_sdk_decodes_them() {
        let json = serde_json::json!({
            "MetricDataResults": [{
                "Id": "errors",
                "Timestamps": [1_700_000_000, 1_700_000_060.25],
                "Values": [7, 2.5],
                "StatusCode": "Complete",
            }],
            "MetricAlarms": [{
                "AlarmName": "web-5xx",
                "Threshold": 5,
                "Period": 60.0,
                "EvaluationPeriods": 2,
                "StateUpdatedTimestamp": "2026-11-22T03:00:00.500Z",
                "Dimensions": [{ "Name": "TargetGroup", "Value": "tg/green" }],
            }],
            "Datapoints": [{ "ExtendedStatistics": { "p99": 120 } }],
            "MetricWidgetImage": "aGk=",
        });
        let bytes = CLOUDWATCH.response_to_cbor(
            StatusCode::OK,
            &HeaderMap::new(),
            json.to_string().as_bytes(),
        );
        let value = decode(&bytes);
        let Cbor::Array(results) = member(&value, "MetricDataResults") else {
            panic!("list")
        };
        let result = &results[0];
        assert_eq!(
            member(result, "Timestamps"),
            &Cbor::Array(vec![
                timestamp(1_700_000_000.0),
                timestamp(1_700_000_060.25)
            ])
        );
        assert_eq!(
            member(result, "Values"),
            &Cbor::Array(vec![Cbor::Float(7.0), Cbor::Float(2.5)])
        );
        assert_eq!(member(result, "StatusCode"), &text("Complete"));
        let Cbor::Array(alarms) = member(&value, "MetricAlarms") else {
            panic!("list")
        };
        let alarm = &alarms[0];
        assert_eq!(member(alarm, "Threshold"), &Cbor::Float(5.0));
        assert_eq!(member(alarm, "Period"), &Cbor::Integer(60.into()));
        assert_eq!(member(alarm, "EvaluationPeriods"), &Cbor::Integer(2.into()));
        assert_eq!(
            member(alarm, "StateUpdatedTimestamp"),
            &timestamp(1_795_316_400.5)
        );
        let Cbor::Array(dimensions) = member(alarm, "Dimensions") else {
            panic!("list")
        };
        assert_eq!(member(&dimensions[0], "Value"), &text("tg/green"));
        let Cbor::Array(datapoints) = member(&value, "Datapoints") else {
            panic!("list")
        };
        assert_eq!(
            member(member(&datapoints[0], "ExtendedStatistics"), "p99"),
            &Cbor::Float(120.0)
        );
        assert_eq!(
            member(&value, "MetricWidgetImage"),
            &Cbor::Bytes(b"hi".to_vec())
        );
    }

    #[test]
    fn errors_become_type_and_message_maps() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-amzn-errortype",
            HeaderValue::from_static("GraniteServiceVersion20100801#ResourceNotFound"),
        );
        let cases: [(StatusCode, &[u8], &str, &str); 4] = [
            (
                StatusCode::NOT_FOUND,
                br#"{"__type": "GraniteServiceVersion20100801#ResourceNotFound", "message": "gone"}"#,
                "GraniteServiceVersion20100801#ResourceNotFound",
                "gone",
            ),
            (
                StatusCode::BAD_REQUEST,
                br#"{"Message": "bad input"}"#,
                "GraniteServiceVersion20100801#ResourceNotFound",
                "bad input",
            ),
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                b"<html><title>500 Internal Server Error</title></html>",
                "GraniteServiceVersion20100801#ResourceNotFound",
                "moto answered 500 Internal Server Error with a body that is not JSON: <html><title>500 Internal Server Error</title></html>",
            ),
            (
                StatusCode::OK,
                b"<xml/>",
                "SerializationException",
                "moto answered 200 OK with a body that is not JSON: <xml/>",
            ),
        ];
        for (status, body, code, message) in cases {
            let value = decode(&CLOUDWATCH.response_to_cbor(status, &headers, body));
            assert_eq!(value, error_map(code, message), "{status}");
        }
        let bare = decode(&CLOUDWATCH.response_to_cbor(
            StatusCode::INTERNAL_SERVER_ERROR,
            &HeaderMap::new(),
            b"oops",
        ));
        assert_eq!(member(&bare, "__type"), &text("InternalFailure"));
    }

    #[test]
    fn an_empty_success_is_an_empty_output() {
        let value = decode(&CLOUDWATCH.response_to_cbor(StatusCode::OK, &HeaderMap::new(), b""));
        assert_eq!(value, Cbor::Map(Vec::new()));
    }
}
