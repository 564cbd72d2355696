//! The endpoint's first supplement: every call a role signs is authorized before anything answers.

use http::StatusCode;

use super::Authorization;
use crate::endpoint::{
    Call, Protocol, Reply, Supplement, SupplementFuture, Upstream, credential_scope,
};
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
            let scope = credential_scope(&call.headers)?;
            match iam.authorize(scope.access_key, scope.region, call) {
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
