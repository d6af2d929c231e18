//! The access log: one JSON line per HTTP request of a pod whose namespace enables it
//! (`nodemesh.io/access-log: enabled`, compiled into `http.accessLog`), written by each proxy
//! hop when the response head is sent, through the bounded log queue the agent drains. Paths are
//! logged without their query and no header value is logged (either may carry credentials).
//! The same record feeds a live tap (tap.rs) while one is on.

use std::net::SocketAddrV4;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{Request, Response};
use serde_json::json;

use super::metrics::Direction;
use super::observe::grpc_status;
use super::proxy::{authority_of, ERROR_HEADER};
use crate::proxy::engine::Shared;
use crate::proxy::table::Table;

/// What a request was, captured before it is forwarded (only when its pod is logged).
pub struct Pending {
    start: Instant,
    direction: Direction,
    src: SocketAddrV4,
    dst: SocketAddrV4,
    method: String,
    authority: String,
    path: String,
    protocol: &'static str,
    /// the pod is access-logged (else the record exists only for the tap)
    logged: bool,
}

/// Route, backend and identities learnt while serving (outbound: the matched route).
#[derive(Default)]
pub struct Served {
    pub route: Option<Arc<str>>,
    pub route_kind: Option<&'static str>,
    pub backend: Option<Arc<str>>,
    pub src_identity: Option<Arc<str>>,
    pub dst_identity: Option<Arc<str>>,
}

/// Starts a log record when `pod` (the client outbound, the server inbound) is access-logged or
/// a tap is on.
pub fn begin<B>(
    shared: &Shared,
    table: &Table,
    pod: SocketAddrV4,
    direction: Direction,
    src: SocketAddrV4,
    dst: SocketAddrV4,
    req: &Request<B>,
) -> Option<Pending> {
    let logged = table.http.as_ref()?.access_log.contains(pod.ip());
    if !logged && !shared.l7.tap.active() {
        return None;
    }
    let authority = authority_of(req).to_string();
    Some(Pending {
        start: Instant::now(),
        direction,
        src,
        dst,
        method: req.method().as_str().to_string(),
        authority,
        path: req.uri().path().to_string(),
        protocol: if req.version() == http::Version::HTTP_2 {
            "HTTP/2"
        } else {
            "HTTP/1.1"
        },
        logged,
    })
}

/// Queues the line of a request that got `resp`.
pub fn finish<B>(shared: &Shared, p: Pending, resp: &Response<B>, s: &Served) {
    let ms = |d: Duration| (d.as_secs_f64() * 1e6).round() / 1e3;
    let code = resp
        .headers()
        .get(ERROR_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let line = json!({
        "msg": "http request",
        "direction": p.direction.as_str(),
        "src": p.src.to_string(),
        "dst": p.dst.to_string(),
        "src_identity": s.src_identity.as_deref(),
        "dst_identity": s.dst_identity.as_deref(),
        "protocol": p.protocol,
        "method": p.method,
        "authority": p.authority,
        "path": p.path,
        "status": resp.status().as_u16(),
        "grpc_status": grpc_status(resp.headers()),
        "error": (!code.is_empty()).then_some(code),
        "route": s.route.as_deref().filter(|r| !r.is_empty()),
        "route_kind": s.route_kind,
        "backend": s.backend.as_deref(),
        "endpoint": resp
            .extensions()
            .get::<super::trace::PeerEndpoint>()
            .map(|r| r.0.to_string()),
        "duration_ms": ms(p.start.elapsed()),
    });
    let line = line.to_string();
    if shared.l7.tap.active() {
        shared.l7.tap.push(line.clone());
    }
    if p.logged {
        shared.l7.log_line(line);
    }
}
