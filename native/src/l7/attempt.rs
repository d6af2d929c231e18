//! The attempts of one forwarded request: endpoint choice (P2C peak-EWMA with failure accrual,
//! a pending bound per endpoint), a pooled or new upstream connection, `timeouts.backendRequest`
//! per attempt and `timeouts.request` over all, retries of retryable codes and connect failures
//! under the route's retry budget with full-jitter backoff (a refused connect moves on to an
//! untried endpoint even without a retry policy), and the golden metrics of the request.

use std::net::SocketAddrV4;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;

use super::balancer::AccrualConfig;
use super::forward::{respond, timeout_response, Head};
use super::inbound;
use super::matching::NO_ENDPOINTS;
use super::metrics::{is_failure, Direction as MetricsDirection, Labels, Series};
use super::observe::grpc_status;
use super::proxy::{full, hint, local, ConnCtx};
use super::route_stats::Stat;
use super::table::{Backend, RouteEntry};
use super::upstream::{self, Body, Key};
use crate::proxy::authz::Transport;
use crate::proxy::conn::Fail;
use crate::proxy::table::Table;

/// Why one attempt produced no response.
enum AttemptErr {
    /// no endpoint could be connected (`Fail` of the last one)
    Connect(Fail),
    BackendTimeout,
    /// the upstream failed after the request was sent (`reused`: on a pooled connection)
    Upstream {
        reused: bool,
    },
}

/// The outbound golden-metrics series of a request of `c`'s client (labels: docs/l7.md,
/// metrics.rs): its route (None: none matched), the backend Service, whether it crossed the node
/// link over mTLS. `dst_workload` is the reached endpoint's workload (service account) when
/// `ep` is a meshed pod, else the backend Service's name.
pub(super) fn outbound_series(
    c: &ConnCtx,
    table: &Table,
    e: Option<&RouteEntry>,
    backend: &str,
    tls: bool,
) -> Arc<Series> {
    outbound_series_to(c, table, e, backend, tls, None)
}

fn outbound_series_to(
    c: &ConnCtx,
    table: &Table,
    e: Option<&RouteEntry>,
    backend: &str,
    tls: bool,
    ep: Option<SocketAddrV4>,
) -> Arc<Series> {
    let src_id = table.local_identity(*c.src.ip());
    let (src_ns, src_sa) = src_id.as_deref().map_or(("", ""), spiffe_ns_sa);
    let dst_id: Option<Arc<str>> = ep.and_then(|ep| {
        table
            .peer(*ep.ip())
            .map(|p| p.identity.clone())
            .or_else(|| table.local_identity(*ep.ip()))
    });
    let (dst_ns, dst_name) = match dst_id.as_deref().map(spiffe_ns_sa) {
        Some((ns, sa)) if !sa.is_empty() => (ns, sa),
        _ => backend.split_once('/').unwrap_or(("", backend)),
    };
    c.shared.l7.metrics.series_ref(Labels {
        direction: MetricsDirection::Outbound,
        src_namespace: src_ns,
        src_workload: src_sa,
        dst_namespace: dst_ns,
        dst_workload: dst_name,
        route_name: e.map_or("", |e| &e.route),
        route_kind: e.map_or("default", |e| e.kind.as_str()),
        backend,
        tls,
    })
}

/// The series of a forwarded request to endpoint `ep`.
fn series(
    c: &ConnCtx,
    table: &Table,
    e: &RouteEntry,
    b: &Backend,
    ep: SocketAddrV4,
) -> Arc<Series> {
    outbound_series_to(
        c,
        table,
        Some(e),
        &b.service,
        table.peer(*ep.ip()).is_some(),
        Some(ep),
    )
}

/// The series of an answer the proxy gives itself before any endpoint is tried (rate limit,
/// fault abort, every endpoint ejected): `tls` false, nothing crossed the node link. The request
/// is counted here; the caller records the response.
pub(super) fn local_series(c: &ConnCtx, table: &Table, e: &RouteEntry, b: &Backend) -> Arc<Series> {
    let s = outbound_series(c, table, Some(e), &b.service, false);
    s.request();
    s
}

/// Records `out` as the response of the request (its series made first when no attempt made it)
/// and returns it.
pub(super) fn recorded(
    m: Option<&Arc<Series>>,
    make: impl FnOnce() -> Arc<Series>,
    out: Response<Body>,
    start: Instant,
) -> Response<Body> {
    let status = out.status().as_u16();
    match m {
        Some(s) => s.response(status, None, start.elapsed()),
        None => make().response(status, None, start.elapsed()),
    }
    out
}

/// (namespace, service account) of `spiffe://<td>/ns/<ns>/sa/<sa>`; ("", "") otherwise.
pub(super) fn spiffe_ns_sa(id: &str) -> (&str, &str) {
    let mut parts = id.trim_start_matches("spiffe://").split('/').skip(1);
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("ns"), Some(ns), Some("sa"), Some(sa)) => (ns, sa),
        _ => ("", ""),
    }
}

/// Runs up to `n` attempts (retries only with a replayable body, each withdrawing from the
/// route's retry budget) under the request timeout.
#[allow(clippy::too_many_arguments)]
pub(super) async fn attempts(
    c: &Arc<ConnCtx>,
    table: &Table,
    e: &RouteEntry,
    b: &Backend,
    head: &Head,
    replay: Option<Bytes>,
    mut once: Option<Body>,
    n: u32,
    start: Instant,
) -> Response<Body> {
    let Some(http) = table.http.as_ref() else {
        return local(
            StatusCode::SERVICE_UNAVAILABLE,
            NO_ENDPOINTS,
            hint(NO_ENDPOINTS),
        );
    };
    let l7 = &c.shared.l7;
    // the table's failure accrual (Linkerd's jitter); a few atomic loads when unchanged
    let acc = http.accrual;
    l7.balancer.set_accrual(AccrualConfig {
        consecutive_failures: acc.consecutive_failures,
        min_backoff: acc.min_backoff,
        max_backoff: acc.max_backoff,
        ..AccrualConfig::default()
    });
    let max_pending = u64::from(http.limits.max_pending_per_endpoint);
    let deadline = e.request_timeout.map(|d| start + d);
    let codes: &[u16] = e.retry.as_ref().map_or(&[], |r| &r.codes);
    let base = e.retry.as_ref().map_or(Duration::ZERO, |r| r.backoff);
    let budget_key = if e.route.is_empty() {
        &b.service
    } else {
        &e.route
    };
    let budget = (n > 1).then(|| l7.budget(budget_key, http.retry_budget));
    if let Some(bg) = &budget {
        bg.deposit();
    }
    let mut tried: Vec<SocketAddrV4> = Vec::new();
    let mut metric: Option<Arc<Series>> = None;
    let mut attempt = 0u32;
    // one free retry when a pooled connection turned out dead before answering (replayable only)
    let mut stale_retry = replay.is_some();
    // a refused connect sent nothing: another endpoint not tried yet gets the request, retry
    // policy or not (as the L4 path's connect_service does), once per endpoint at most
    let mut connect_retries = if replay.is_some() {
        b.endpoints.len().saturating_sub(1)
    } else {
        0
    };
    loop {
        attempt += 1;
        // prefer endpoints not tried yet; once all were, any
        let fresh: Vec<SocketAddrV4>;
        let eps: &[SocketAddrV4] = if tried.is_empty() || tried.len() >= b.endpoints.len() {
            &b.endpoints
        } else {
            fresh = b
                .endpoints
                .iter()
                .copied()
                .filter(|x| !tried.contains(x))
                .collect();
            &fresh
        };
        // these answers are golden-metrics responses too (a retry's request is already counted)
        let Some(claim) = l7.balancer.pick(eps, fastrand::f64(), fastrand::f64()) else {
            let out = local(
                StatusCode::SERVICE_UNAVAILABLE,
                "MESH_ERR_ENDPOINTS_EJECTED",
                hint("MESH_ERR_ENDPOINTS_EJECTED"),
            );
            return recorded(metric.as_ref(), || local_series(c, table, e, b), out, start);
        };
        let ep = claim.endpoint();
        if claim.pending() >= max_pending {
            drop(claim);
            let out = local(
                StatusCode::SERVICE_UNAVAILABLE,
                "MESH_ERR_PENDING_LIMIT",
                hint("MESH_ERR_PENDING_LIMIT"),
            );
            let make = || {
                let s = series(c, table, e, b, ep);
                s.request();
                s
            };
            return recorded(metric.as_ref(), make, out, start);
        }
        let m = metric.get_or_insert_with(|| {
            let s = series(c, table, e, b, ep);
            s.request();
            s
        });
        if let Some(denied) = authorize_same_node(c, table, ep, head) {
            // a legitimate answer of the destination, not an endpoint failure
            claim.finish(Duration::ZERO, true);
            m.response(
                denied.status().as_u16(),
                grpc_status(denied.headers()),
                start.elapsed(),
            );
            return denied;
        }
        let body = match (&replay, once.take()) {
            (Some(bytes), _) => full(bytes.clone()),
            (None, Some(b)) => b,
            (None, None) => full(Bytes::new()),
        };
        let t0 = Instant::now();
        let fut = attempt_once(c, table, ep, head.request(body), e.backend_timeout);
        let res = match deadline {
            Some(d) => match tokio::time::timeout_at(d.into(), fut).await {
                Ok(r) => r,
                Err(_) => {
                    claim.finish(t0.elapsed(), false);
                    m.response(504, None, start.elapsed());
                    return timeout_response("MESH_ERR_REQUEST_TIMEOUT");
                }
            },
            None => fut.await,
        };
        let ok = res
            .as_ref()
            .is_ok_and(|r| !is_failure(r.status().as_u16(), grpc_status(r.headers())));
        claim.finish(t0.elapsed(), ok);
        if res.is_err() {
            tried.push(ep);
        }
        let more = attempt < n;
        let mut retry_now = match &res {
            Ok(r) => more && codes.contains(&r.status().as_u16()),
            Err(AttemptErr::Upstream { reused: true }) if stale_retry => {
                stale_retry = false;
                attempt -= 1;
                true
            }
            Err(AttemptErr::Connect(Fail::Code(_))) => false,
            Err(AttemptErr::Connect(Fail::Close(_)))
                if connect_retries > 0 && tried.len() < b.endpoints.len() =>
            {
                connect_retries -= 1;
                if !more {
                    attempt -= 1;
                }
                true
            }
            Err(
                AttemptErr::Connect(_) | AttemptErr::Upstream { .. } | AttemptErr::BackendTimeout,
            ) => more,
        };
        let wanted = retry_now && replay.is_some();
        retry_now = wanted && budget.as_ref().is_none_or(|bg| bg.try_withdraw());
        if wanted {
            let stat = if retry_now {
                Stat::Retry
            } else {
                Stat::RetryBudgetExhausted
            };
            l7.route_stats.count(budget_key, stat);
        }
        if retry_now {
            let cap = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(10));
            let wait = cap.mul_f64(fastrand::f64());
            if deadline.is_some_and(|d| Instant::now() + wait >= d) {
                m.response(504, None, start.elapsed());
                return timeout_response("MESH_ERR_REQUEST_TIMEOUT");
            }
            tokio::time::sleep(wait).await;
            continue;
        }
        let out = match res {
            Ok(mut r) => {
                // the endpoint that answered, for the request's span, access log and tap
                r.extensions_mut().insert(super::trace::PeerEndpoint(ep));
                return respond(r, e, b, m.clone(), start.elapsed(), deadline);
            }
            Err(AttemptErr::BackendTimeout) => timeout_response("MESH_ERR_BACKEND_TIMEOUT"),
            Err(AttemptErr::Upstream { .. }) => local(
                StatusCode::BAD_GATEWAY,
                "MESH_ERR_UPSTREAM_RESET",
                hint("MESH_ERR_UPSTREAM_RESET"),
            ),
            Err(AttemptErr::Connect(Fail::Code(code))) => {
                let status = if code.as_ref() == "MESH_ERR_AUTHZ_DENIED" {
                    StatusCode::FORBIDDEN
                } else {
                    StatusCode::SERVICE_UNAVAILABLE
                };
                local(status, &code, hint(&code))
            }
            Err(AttemptErr::Connect(Fail::Close(_))) => local(
                StatusCode::SERVICE_UNAVAILABLE,
                "MESH_ERR_UPSTREAM_CONNECT",
                hint("MESH_ERR_UPSTREAM_CONNECT"),
            ),
        };
        m.response(out.status().as_u16(), None, start.elapsed());
        return out;
    }
}

/// One attempt on endpoint `ep`: take or open a pooled connection, send, wait for the response
/// head (bounded by `timeouts.backendRequest`).
async fn attempt_once(
    c: &Arc<ConnCtx>,
    table: &Table,
    ep: SocketAddrV4,
    req: Request<Body>,
    backend_timeout: Option<Duration>,
) -> Result<Response<Incoming>, AttemptErr> {
    let sh = &c.shared;
    let key = Key {
        client: *c.src.ip(),
        endpoint: ep,
        proto: c.proto,
    };
    let (mut sender, reused) = match sh.l7.pool.take(&key) {
        Some(s) => (s, true),
        None => match upstream::connect(sh, table, c.src, key, sh.connect_timeout).await {
            Ok(s) => (s, false),
            Err(f) => return Err(AttemptErr::Connect(f)),
        },
    };
    let sent = sender.send(req);
    let res = match backend_timeout {
        Some(d) => tokio::time::timeout(d, sent)
            .await
            .map_err(|_| AttemptErr::BackendTimeout)?,
        None => sent.await,
    };
    match res {
        Ok(r) => {
            sh.l7.pool.put(key, sender);
            Ok(r)
        }
        Err(_) => Err(AttemptErr::Upstream { reused }),
    }
}

/// A same-node endpoint whose port's authorization has HTTP fields: the request is authorized
/// here, as the destination's proxy would (l7/inbound.rs); Some(answer) when denied.
fn authorize_same_node(
    c: &ConnCtx,
    table: &Table,
    ep: SocketAddrV4,
    head: &Head,
) -> Option<Response<Body>> {
    if !table.is_local_workload(*ep.ip()) || !table.authz.needs_http(*ep.ip(), ep.port()) {
        return None;
    }
    let src_id = table.local_identity(*c.src.ip());
    inbound::authorize(
        &c.shared,
        *c.src.ip(),
        ep,
        src_id.as_deref(),
        Transport::Local,
        &head.request(full(Bytes::new())),
    )
}
