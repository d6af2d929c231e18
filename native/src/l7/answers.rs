//! The node proxy's own HTTP answers: `x-nodemesh-error: MESH_ERR_*` with a one-line body saying
//! what to do (`local`, `hint`), 429 with `retry-after`, redirects, and small full bodies. Used by
//! the outbound and inbound HTTP paths alike.

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use std::time::Duration;

use super::ratelimit::retry_after_secs;
use super::upstream::Body;

/// Header naming the MESH_ERR_* code of an answer the proxy gave itself.
pub const ERROR_HEADER: &str = "x-nodemesh-error";

/// 429 with `retry-after` in whole seconds.
pub fn too_many(wait: Duration) -> Response<Body> {
    let mut r = local(
        StatusCode::TOO_MANY_REQUESTS,
        "MESH_ERR_RATE_LIMITED",
        hint("MESH_ERR_RATE_LIMITED"),
    );
    r.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(retry_after_secs(wait)),
    );
    r
}

/// What to do about a code the proxy answers with.
pub fn hint(code: &str) -> &'static str {
    match code {
        "MESH_ERR_NO_ROUTE" => "no route of this Service matches the request; check the HTTPRoute/GRPCRoute matches and hostnames",
        "MESH_ERR_INVALID_BACKEND" => "the matched rule has no usable backend; check the route's ResolvedRefs status and backendRefs",
        "MESH_ERR_NO_ENDPOINTS" => "the backend Service has no ready endpoint; check its pods and their readiness",
        "MESH_ERR_RATE_LIMITED" => "the RateLimitPolicy of this route or Service is exhausted; retry after the retry-after seconds",
        "MESH_ERR_REQUEST_TIMEOUT" => "the request did not complete within the route's timeouts.request; raise it or check the backend",
        "MESH_ERR_BACKEND_TIMEOUT" => "the backend did not answer within the route's timeouts.backendRequest; raise it or check the backend",
        "MESH_ERR_UPSTREAM_CONNECT" => "no endpoint of the backend Service accepted a connection; check its pods",
        "MESH_ERR_UPSTREAM_RESET" => "the backend closed or reset the connection before answering; check its logs",
        "MESH_ERR_PENDING_LIMIT" => "every endpoint of the backend has the maximum of pending requests; scale the backend or retry later",
        "MESH_ERR_FAULT_ABORT" => "a FaultPolicy aborted this request on purpose; remove the policy to stop it",
        "MESH_ERR_ENDPOINTS_EJECTED" => "every endpoint of the backend failed repeatedly and is ejected by failure accrual; they are probed back after a backoff",
        "MESH_ERR_AUTHZ_DENIED" => "an AuthorizationPolicy of the destination denies this client",
        _ => "the node proxy could not forward the request; see the agent's log",
    }
}

pub fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into()).map_err(|never| match never {}).boxed()
}

/// An answer of the proxy itself: `x-nodemesh-error: code` and a one-line body saying what to do.
pub fn local(status: StatusCode, code: &str, msg: &str) -> Response<Body> {
    let mut r = Response::new(full(format!("{code}: {msg}\n")));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(code) {
        h.insert(ERROR_HEADER, v);
    }
    r
}

pub(super) fn redirect(status: u16, location: &str) -> Response<Body> {
    let mut r = Response::new(full(Bytes::new()));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::FOUND);
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}
