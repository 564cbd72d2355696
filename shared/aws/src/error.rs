//! How an SDK error becomes a [`FactError`]: transient or not, and which IAM action was denied.
//!
//! Every adapter call goes through [`classify`], so on-call sees the same wording for the same
//! failure everywhere: throttling and 5xx are transient (the SDK has already retried with backoff),
//! access denied names the action and the resource, a missing resource names it.

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use greenlight_core::facts::FactError;

const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "ProvisionedThroughputExceededException",
    "SlowDown",
    "PriorRequestNotComplete",
    "LimitExceededException",
];

const ACCESS_DENIED_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "UnauthorizedException",
    "AuthorizationError",
    "NotAuthorized",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "KMSAccessDeniedException",
];

/// Errors that say nothing about permissions or green and heal by themselves: expired session
/// credentials (the next invocation gets fresh ones), a request the service timed out, a
/// conflicting transaction still in flight.
const TRANSIENT_CODES: &[&str] = &[
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
    "RequestTimeout",
    "RequestTimeoutException",
    "TransactionInProgressException",
];

/// Classifies an SDK error from a call of IAM `action` (`ecs:DescribeServiceRevisions`) on `resource`.
///
/// `not_found` lists the service's error codes that mean the resource does not exist, with the words
/// for what was looked up (`("TargetGroupNotFoundException", "target group")`).
pub fn classify<E>(
    error: &SdkError<E, HttpResponse>,
    action: &str,
    resource: &str,
    not_found: &[(&str, &str)],
) -> FactError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let action = action.to_owned();
    match error {
        SdkError::ServiceError(context) => {
            let service_error = context.err();
            let code = service_error.code().unwrap_or_default();
            let message = service_error
                .message()
                .map(str::to_owned)
                .unwrap_or_else(|| code.to_owned());
            let status = context.raw().status().as_u16();
            if THROTTLING_CODES.contains(&code) || status == 429 {
                FactError::Throttled { action, message }
            } else if TRANSIENT_CODES.contains(&code) {
                FactError::Unavailable {
                    action,
                    message: format!("{code}: {message}"),
                }
            } else if ACCESS_DENIED_CODES.contains(&code) || status == 403 {
                FactError::AccessDenied {
                    action,
                    resource: resource.to_owned(),
                    message,
                }
            } else if let Some((_, what)) = not_found.iter().find(|(name, _)| *name == code) {
                FactError::NotFound {
                    what: (*what).to_owned(),
                    resource: resource.to_owned(),
                }
            } else if status >= 500 {
                FactError::Unavailable {
                    action,
                    message: format!("HTTP {status}: {message}"),
                }
            } else {
                FactError::Unexpected {
                    action,
                    message: format!("{code}: {message}"),
                }
            }
        }
        SdkError::TimeoutError(_) => FactError::Unavailable {
            action,
            message: "the call timed out".to_owned(),
        },
        SdkError::DispatchFailure(failure) => FactError::Unavailable {
            action,
            // `DispatchFailure` is not an `Error` itself; its connector error is.
            message: match failure.as_connector_error() {
                Some(cause) => format!(
                    "the request could not be sent: {}",
                    DisplayErrorContext(cause)
                ),
                None => "the request could not be sent".to_owned(),
            },
        },
        SdkError::ResponseError(response) => FactError::Unavailable {
            action,
            message: format!(
                "the response could not be read (HTTP {})",
                response.raw().status().as_u16()
            ),
        },
        other => FactError::Unexpected {
            action,
            message: DisplayErrorContext(other).to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_ecs::operation::describe_services::DescribeServicesError;
    use aws_smithy_runtime_api::client::result::ConnectorError;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;

    const ACTION: &str = "ecs:DescribeServices";
    const RESOURCE: &str = "arn:aws:ecs:us-west-2:123456789012:service/web-cluster/web";
    const NOT_FOUND: &[(&str, &str)] = &[("ServiceNotFoundException", "service")];

    fn raw(status: u16) -> HttpResponse {
        HttpResponse::new(
            StatusCode::try_from(status).expect("status"),
            SdkBody::empty(),
        )
    }

    fn service_error(
        status: u16,
        code: &str,
        message: &str,
    ) -> SdkError<DescribeServicesError, HttpResponse> {
        let meta = ErrorMetadata::builder().code(code).message(message).build();
        SdkError::service_error(DescribeServicesError::generic(meta), raw(status))
    }

    fn classified(error: &SdkError<DescribeServicesError, HttpResponse>) -> FactError {
        classify(error, ACTION, RESOURCE, NOT_FOUND)
    }

    #[test]
    fn service_errors_are_classified_by_code_then_status() {
        let throttled = |message: &str| FactError::Throttled {
            action: ACTION.into(),
            message: message.into(),
        };
        let denied = |message: &str| FactError::AccessDenied {
            action: ACTION.into(),
            resource: RESOURCE.into(),
            message: message.into(),
        };
        let cases = [
            (
                400,
                "ThrottlingException",
                "Rate exceeded",
                throttled("Rate exceeded"),
            ),
            (
                400,
                "RequestLimitExceeded",
                "slow down",
                throttled("slow down"),
            ),
            (429, "SomethingNew", "too many", throttled("too many")),
            (
                400,
                "AccessDeniedException",
                "not authorized",
                denied("not authorized"),
            ),
            (
                400,
                "UnrecognizedClientException",
                "bad token",
                denied("bad token"),
            ),
            (403, "SomethingNew", "forbidden", denied("forbidden")),
            // Expired session credentials and service-side timeouts heal by themselves.
            (
                400,
                "ExpiredTokenException",
                "token expired",
                FactError::Unavailable {
                    action: ACTION.into(),
                    message: "ExpiredTokenException: token expired".into(),
                },
            ),
            (
                400,
                "RequestTimeoutException",
                "timed out",
                FactError::Unavailable {
                    action: ACTION.into(),
                    message: "RequestTimeoutException: timed out".into(),
                },
            ),
            (
                400,
                "ServiceNotFoundException",
                "Service not found.",
                FactError::NotFound {
                    what: "service".into(),
                    resource: RESOURCE.into(),
                },
            ),
            (
                500,
                "ServerException",
                "internal",
                FactError::Unavailable {
                    action: ACTION.into(),
                    message: "HTTP 500: internal".into(),
                },
            ),
            (
                503,
                "ServiceUnavailable",
                "try later",
                FactError::Unavailable {
                    action: ACTION.into(),
                    message: "HTTP 503: try later".into(),
                },
            ),
            (
                400,
                "InvalidParameterException",
                "bad arn",
                FactError::Unexpected {
                    action: ACTION.into(),
                    message: "InvalidParameterException: bad arn".into(),
                },
            ),
        ];
        for (status, code, message, expected) in cases {
            assert_eq!(
                classified(&service_error(status, code, message)),
                expected,
                "{status} {code}"
            );
        }
    }

    #[test]
    fn a_code_that_is_not_listed_as_not_found_is_not_a_missing_resource() {
        // ClusterNotFoundException is not in this call's list: it stays unexpected, not NotFound.
        let error = classified(&service_error(
            400,
            "ClusterNotFoundException",
            "no cluster",
        ));
        assert!(matches!(error, FactError::Unexpected { .. }), "{error:?}");
    }

    #[test]
    fn a_missing_message_falls_back_to_the_code() {
        let meta = ErrorMetadata::builder().code("ThrottlingException").build();
        let error = SdkError::service_error(DescribeServicesError::generic(meta), raw(400));
        assert_eq!(
            classified(&error),
            FactError::Throttled {
                action: ACTION.into(),
                message: "ThrottlingException".into(),
            }
        );
    }

    #[test]
    fn timeouts_and_transport_failures_are_unavailable() {
        let timeout: SdkError<DescribeServicesError, HttpResponse> =
            SdkError::timeout_error("operation timed out");
        assert_eq!(
            classified(&timeout),
            FactError::Unavailable {
                action: ACTION.into(),
                message: "the call timed out".into(),
            }
        );

        let dispatch: SdkError<DescribeServicesError, HttpResponse> =
            SdkError::dispatch_failure(ConnectorError::io("connection refused".into()));
        let error = classified(&dispatch);
        assert!(
            matches!(&error, FactError::Unavailable { message, .. }
                if message.starts_with("the request could not be sent") && message.contains("connection refused")),
            "{error:?}"
        );

        let unreadable: SdkError<DescribeServicesError, HttpResponse> =
            SdkError::response_error("truncated body", raw(200));
        assert_eq!(
            classified(&unreadable),
            FactError::Unavailable {
                action: ACTION.into(),
                message: "the response could not be read (HTTP 200)".into(),
            }
        );

        let unbuildable: SdkError<DescribeServicesError, HttpResponse> =
            SdkError::construction_failure("missing field");
        assert!(matches!(
            classified(&unbuildable),
            FactError::Unexpected { .. }
        ));
    }

    #[test]
    fn transient_and_permanent_errors_map_to_the_right_outcomes() {
        use greenlight_core::outcome::ErrorClass;
        let transient = [
            service_error(400, "ThrottlingException", "Rate exceeded"),
            service_error(502, "BadGateway", "bad gateway"),
        ];
        for error in &transient {
            assert_eq!(
                classified(error).to_outcome().error_class,
                Some(ErrorClass::Transient)
            );
        }
        let denied = classified(&service_error(400, "AccessDeniedException", "no"));
        let outcome = denied.to_outcome();
        assert_eq!(outcome.error_class, Some(ErrorClass::Permanent));
        assert!(outcome.message.contains(ACTION) && outcome.message.contains(RESOURCE));
    }
}
