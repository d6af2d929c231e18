//! Forwarding one routed request: faults, the upstream head (hop-by-hop headers dropped, request
//! header filters, URLRewrite), attempts under `timeouts.request` and `timeouts.backendRequest`,
//! retries of retryable codes and connect failures when the body fits the retry buffer (backoff
//! with full jitter), endpoint choice with a pending bound, response header filters, Upgrade. A
//! client body that breaks while it streams (bad chunk, reset) is answered 400, not as the backend's.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Uri, Version};
use http_body_util::{BodyExt, Limited};
use hyper::body::{Body as _, Frame, Incoming, SizeHint};
use hyper_util::rt::TokioIo;

use super::attempt::{attempts, local_series, recorded};
use super::matching::{modify, request_modifiers, response_modifiers, NO_ENDPOINTS};
use super::metrics::Series;
use super::mirror;
use super::observe::{grpc_status, Observed};
use super::proxy::{full, hint, local, too_many, ConnCtx};
use super::table::{Backend, HttpPort, RouteEntry};
use super::upstream::{self, Body, BoxError, Key, Proto, Sender};
use crate::proxy::table::Table;

/// The upstream request head, rebuilt for each attempt.
pub(super) struct Head {
    pub(super) method: Method,
    pub(super) uri: Uri,
    pub(super) version: Version,
    pub(super) headers: HeaderMap,
}

impl Head {
    pub(super) fn request(&self, body: Body) -> Request<Body> {
        let mut r = Request::new(body);
        *r.method_mut() = self.method.clone();
        *r.uri_mut() = self.uri.clone();
        *r.version_mut() = self.version;
        *r.headers_mut() = self.headers.clone();
        r
    }
}

/// Headers that belong to one hop (RFC 9110 §7.6.1), plus those the Connection header names.
pub(super) fn strip_hop_by_hop(h: &mut HeaderMap, keep_upgrade: bool) {
    let named: Vec<String> = h
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(',').map(|s| s.trim().to_ascii_lowercase()))
        .filter(|s| !(s.is_empty() || keep_upgrade && s == "upgrade"))
        .collect();
    for n in named {
        h.remove(n.as_str());
    }
    for n in [
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "proxy-authenticate",
        "proxy-authorization",
    ] {
        h.remove(n);
    }
    if h.get(header::TE)
        .is_some_and(|v| v.as_bytes() != b"trailers")
    {
        h.remove(header::TE);
    }
    if !keep_upgrade {
        h.remove(header::CONNECTION);
        h.remove(header::UPGRADE);
    }
}

pub(super) fn is_upgrade(h: &HeaderMap) -> bool {
    h.contains_key(header::UPGRADE)
        && h.get_all(header::CONNECTION).iter().any(|v| {
            v.to_str().is_ok_and(|s| {
                s.split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
            })
        })
}

/// True with probability `percent` / 100 (100 and above: always; 0 and below: never).
pub(super) fn chance(percent: f64) -> bool {
    percent >= 100.0 || (percent > 0.0 && fastrand::f64() * 100.0 < percent)
}

pub(super) fn timeout_response(code: &str) -> Response<Body> {
    local(StatusCode::GATEWAY_TIMEOUT, code, hint(code))
}

/// Forwards a routed request and returns the response the client gets.
#[allow(clippy::too_many_arguments)]
pub async fn forward(
    c: &Arc<ConnCtx>,
    table: &Table,
    port: &HttpPort,
    e: &RouteEntry,
    b: &Backend,
    authority: String,
    path: String,
    mut req: Request<Incoming>,
    start: Instant,
) -> Response<Body> {
    let _ = port;
    // the proxy's own answers below count in the golden metrics as the client sees them
    let answered =
        |out: Response<Body>| recorded(None, || local_series(c, table, e, b), out, start);
    if let Some(rl) = &e.rate_limit {
        if let Err(wait) = c.shared.l7.rate_limit(rl, format!("route {}", e.route)) {
            return answered(too_many(wait));
        }
    }
    if let Some(f) = &e.fault {
        if let Some((d, pct)) = f.delay {
            if chance(pct) {
                tokio::time::sleep(d).await;
            }
        }
        if let Some((status, pct)) = f.abort {
            if chance(pct) {
                let mut r = local(
                    StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
                    "MESH_ERR_FAULT_ABORT",
                    hint("MESH_ERR_FAULT_ABORT"),
                );
                if let Ok(v) = HeaderValue::from_str(&f.policy) {
                    r.headers_mut().insert("x-nodemesh-fault", v);
                }
                return answered(r);
            }
        }
    }
    let upgrade = c.proto == Proto::H1 && is_upgrade(req.headers());
    let on_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
    let (parts, body) = req.into_parts();
    let mut headers = parts.headers;
    strip_hop_by_hop(&mut headers, upgrade);
    for m in request_modifiers(e, b) {
        modify(m, &mut headers);
    }
    let pq = match parts.uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    let (uri, version) = match c.proto {
        Proto::H1 => (pq.parse::<Uri>(), Version::HTTP_11),
        Proto::H2 => (
            format!("http://{authority}{pq}").parse::<Uri>(),
            Version::HTTP_2,
        ),
    };
    let Ok(uri) = uri else {
        return local(
            StatusCode::BAD_REQUEST,
            "MESH_ERR_BAD_REQUEST",
            "the rewritten request target is not a valid URI; check the route's URLRewrite",
        );
    };
    match (c.proto, HeaderValue::from_str(&authority)) {
        (Proto::H1, Ok(v)) => {
            headers.insert(header::HOST, v);
        }
        _ => {
            headers.remove(header::HOST);
        }
    }
    let head = Head {
        method: parts.method,
        uri,
        version,
        headers,
    };
    if let Some(on) = on_upgrade {
        return upgrade_request(c, table, b, &head, on).await;
    }
    let Some(http) = table.http.as_ref() else {
        return local(
            StatusCode::SERVICE_UNAVAILABLE,
            NO_ENDPOINTS,
            hint(NO_ENDPOINTS),
        );
    };
    let limits = http.limits;
    // A replayable body: empty, or one whose announced size fits the retry buffer (read at once,
    // bounded by Limited). Anything else streams through exactly once.
    let retry = e.retry.as_ref().filter(|r| r.attempts > 1);
    let mirroring = mirror::mirrors(e, b).next().is_some();
    let replay: Option<Bytes> = if body.is_end_stream() {
        Some(Bytes::new())
    } else if (retry.is_some() || mirroring)
        && body
            .size_hint()
            .upper()
            .is_some_and(|n| n <= limits.retry_buffer_bytes as u64)
    {
        match Limited::new(body, limits.retry_buffer_bytes)
            .collect()
            .await
        {
            Ok(c) => Some(c.to_bytes()),
            Err(_) => {
                return local(
                    StatusCode::BAD_REQUEST,
                    "MESH_ERR_BAD_REQUEST",
                    "the request body ended early or exceeded its announced length",
                )
            }
        }
    } else {
        if mirroring {
            mirror::send(c, e, b, &head, None);
        }
        // The client's body breaking mid-stream (a bad chunk size, a reset) fails the upstream
        // send too; `broke` fires first, so the answer is a 400 of the client's making and the
        // attempt is dropped unfinished: no 502, no failure accrued against a healthy endpoint.
        let (tx, broke) = tokio::sync::oneshot::channel();
        let body = ClientBody {
            inner: body,
            broke: Some(tx),
        };
        let sent = attempts(c, table, e, b, &head, None, Some(body.boxed()), 1, start);
        return tokio::select! {
            biased;
            Ok(()) = broke => local(
                StatusCode::BAD_REQUEST,
                "MESH_ERR_BAD_REQUEST",
                "the request body broke while it was forwarded (a malformed chunk, or the client reset it)",
            ),
            r = sent => r,
        };
    };
    let n = if retry.is_some() {
        e.retry.as_ref().map_or(1, |r| r.attempts)
    } else {
        1
    };
    if mirroring {
        mirror::send(c, e, b, &head, replay.as_ref());
    }
    attempts(c, table, e, b, &head, replay, None, n, start).await
}

/// A streamed client request body that tells `forward` (`broke`) when it fails, before the
/// upstream client sees the error.
struct ClientBody {
    inner: Incoming,
    broke: Option<tokio::sync::oneshot::Sender<()>>,
}

impl hyper::body::Body for ClientBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let r = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Err(_))) = &r {
            if let Some(tx) = self.broke.take() {
                let _ = tx.send(());
            }
        }
        r.map(|f| f.map(|f| f.map_err(BoxError::from)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The client's response: hop-by-hop headers dropped, response header filters applied, the body
/// streamed as it arrives and cut at `deadline` (timeouts.request).
pub(super) fn respond(
    r: Response<Incoming>,
    e: &RouteEntry,
    b: &Backend,
    m: Arc<Series>,
    latency: Duration,
    deadline: Option<Instant>,
) -> Response<Body> {
    let (mut parts, body) = r.into_parts();
    strip_hop_by_hop(&mut parts.headers, false);
    for m in response_modifiers(e, b) {
        modify(m, &mut parts.headers);
    }
    let grpc = grpc_status(&parts.headers);
    let body = Observed::new(
        body.map_err(BoxError::from).boxed(),
        m,
        parts.status.as_u16(),
        grpc,
        latency,
    )
    .with_deadline(deadline);
    Response::from_parts(parts, BodyExt::boxed(body))
}

/// HTTP/1.1 Upgrade (WebSocket): a dedicated upstream connection; after a 101 both upgraded
/// connections are relayed as bytes.
async fn upgrade_request(
    c: &Arc<ConnCtx>,
    table: &Table,
    b: &Backend,
    head: &Head,
    on: hyper::upgrade::OnUpgrade,
) -> Response<Body> {
    let sh = &c.shared;
    let Some(claim) = sh.balancer.claim(&b.endpoints, &[]) else {
        return local(
            StatusCode::SERVICE_UNAVAILABLE,
            NO_ENDPOINTS,
            hint(NO_ENDPOINTS),
        );
    };
    let key = Key {
        client: *c.src.ip(),
        endpoint: claim.endpoint(),
        proto: Proto::H1,
    };
    let mut sender: Sender =
        match upstream::connect(sh, table, c.src, key, sh.connect_timeout).await {
            Ok(s) => s,
            Err(_) => {
                return local(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "MESH_ERR_UPSTREAM_CONNECT",
                    hint("MESH_ERR_UPSTREAM_CONNECT"),
                )
            }
        };
    let mut r = match sender.send(head.request(full(Bytes::new()))).await {
        Ok(r) => r,
        Err(_) => {
            return local(
                StatusCode::BAD_GATEWAY,
                "MESH_ERR_UPSTREAM_RESET",
                hint("MESH_ERR_UPSTREAM_RESET"),
            )
        }
    };
    if r.status() != StatusCode::SWITCHING_PROTOCOLS {
        let (parts, body) = r.into_parts();
        return Response::from_parts(parts, body.map_err(BoxError::from).boxed());
    }
    let up = hyper::upgrade::on(&mut r);
    let ep = claim.keep();
    let shared = sh.clone();
    tokio::spawn(async move {
        if let (Ok(down), Ok(up)) = (on.await, up.await) {
            let (mut d, mut u) = (TokioIo::new(down), TokioIo::new(up));
            let _ = tokio::io::copy_bidirectional(&mut d, &mut u).await;
        }
        drop(sender);
        shared.balancer.release(ep);
    });
    let (parts, _) = r.into_parts();
    Response::from_parts(parts, full(Bytes::new()))
}
