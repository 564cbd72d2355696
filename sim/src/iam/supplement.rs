//! The endpoint's first supplement: every call a role signs is authorized before anything answers.

use http::StatusCode;

use super::Authorization;
use crate::endpoint::{Call, Protocol, Reply, Supplement, SupplementFuture, Upstream};
use crate::world::World;
use crate::world::query::{ErrorCodes, error_reply};

/// Answers a denied call as AWS does, and lets an allowed one go on to the next supplement.
pub(crate) struct IamSupplement {
    world: World,
}

impl IamSupplement {
    pub(crate) fn new(world: World) -> Self {
        IamSupplement { world }
    }
}

impl Supplement for IamSupplement {
    fn answer<'a>(&'a self, call: &'a Call, _upstream: &'a Upstream) -> SupplementFuture<'a> {
        Box::pin(async move {
            let iam = self.world.iam()?;
            let (access_key, region) = credential_scope(call)?;
            match iam.authorize(&access_key, &region, call).await {
                Authorization::Unenforced | Authorization::Allowed => None,
                Authorization::Denied(message) => Some(access_denied(call, &message)),
                Authorization::Unplaceable(message) => Some(Reply::json_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalFailure",
                    &message,
                )),
            }
        })
    }
}

/// The access key and region of a SigV4 `authorization` header
/// (`Credential=AKID/date/region/service/aws4_request`).
fn credential_scope(call: &Call) -> Option<(String, String)> {
    let authorization = call.headers.get("authorization")?.to_str().ok()?;
    let credential = authorization
        .split([' ', ','])
        .find_map(|part| part.trim().strip_prefix("Credential="))?;
    let mut scope = credential.split('/');
    let access_key = scope.next()?.to_owned();
    let _date = scope.next()?;
    let region = scope.next()?.to_owned();
    Some((access_key, region))
}

/// AWS's answer to a denied call, in the call's dialect: `AccessDenied` (HTTP 403) for Query
/// services and S3, `AccessDeniedException` for JSON services (HTTP 400) and Lambda (HTTP 403);
/// CloudWatch keeps its Query-era code `AccessDenied`.
fn access_denied(call: &Call, message: &str) -> Reply {
    let status = match (call.protocol, call.service.as_str()) {
        (Protocol::Query, _) | (Protocol::Rest, _) => StatusCode::FORBIDDEN,
        _ => StatusCode::BAD_REQUEST,
    };
    let json = if call.service == "cloudwatch" {
        "AccessDenied"
    } else {
        "AccessDeniedException"
    };
    error_reply(
        call,
        status,
        true,
        ErrorCodes {
            json,
            query: "AccessDenied",
        },
        message,
    )
}
