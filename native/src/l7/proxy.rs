//! The HTTP proxy on a captured outbound connection: hyper serves HTTP/1.1 (keep-alive, Upgrade
//! relayed as bytes after the 101) or h2c (trailers, so gRPC) on the client socket, and each
//! request is routed (matching.rs), filtered, balanced and forwarded with its timeouts, retries,
//! faults and limits (forward.rs). Answers of the proxy itself carry `x-nodemesh-error`.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddrV4;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::{header, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpStream;

use super::access_log::{self, Served};
use super::answers::redirect;
pub use super::answers::{full, hint, local, too_many, ERROR_HEADER};
use super::authz_http::HttpAuthzCounters;
use super::balancer::{AccrualConfig, Balancer};
use super::budget::RetryBudget;
use super::forward::forward;
use super::io::{ClientIo, Counts};
use super::matching::{route, Outcome, RequestHead, NO_ROUTE};
use super::metrics::Direction;
use super::metrics::GoldenMetrics;
use super::ratelimit::TokenBucket;
use super::route_stats::RouteStats;
use super::table::{BudgetConfig, HttpPort, RateLimit, RouteEntry};
use super::trace::{self, Kind, SpanQueue};
use super::upstream::{Body, Pool, Proto};
use crate::proxy::engine::Shared;
use crate::proxy::table::Table;

/// A route's retry budget with the config it was made for.
type Budget = (BudgetConfig, Arc<RetryBudget>);
/// A policy target's token bucket with the config it was made for.
type Bucket = (RateLimit, Arc<TokenBucket>);

/// L7 state of one node proxy, shared by every connection: upstream pools, the per-request
/// balancer (peak EWMA, failure accrual), retry budgets per route, token buckets per policy target
/// and the golden metrics. Budgets and buckets outlive table swaps while their config is unchanged.
pub struct L7State {
    pub pool: Pool,
    pub balancer: Balancer,
    pub metrics: GoldenMetrics,
    budgets: Mutex<HashMap<Arc<str>, Budget>>,
    buckets: Mutex<HashMap<(Arc<str>, String), Bucket>>,
    /// inbound_http_authz_{allow,deny}_total by policy (inbound.rs)
    pub http_authz: HttpAuthzCounters,
    /// retries and RequestMirror outcomes by route (route_stats.rs)
    pub route_stats: RouteStats,
    /// JSON log lines (request denials) for the agent to write; bounded, drops counted
    log: Mutex<VecDeque<String>>,
    pub log_dropped: AtomicU64,
    /// finished spans for the agent to export (trace.rs); bounded, drops counted
    pub spans: SpanQueue,
    /// live tap records (tap.rs)
    pub tap: super::tap::Tap,
}

/// Log lines kept for the agent between two drains.
const LOG_QUEUE: usize = 1024;

impl Default for L7State {
    fn default() -> Self {
        L7State {
            pool: Pool::default(),
            balancer: Balancer::new(AccrualConfig::default()),
            metrics: GoldenMetrics::new(),
            budgets: Mutex::default(),
            buckets: Mutex::default(),
            http_authz: HttpAuthzCounters::default(),
            route_stats: RouteStats::default(),
            log: Mutex::default(),
            log_dropped: AtomicU64::new(0),
            spans: SpanQueue::default(),
            tap: super::tap::Tap::default(),
        }
    }
}

impl L7State {
    /// Queues one JSON log line for the agent (dropped and counted when the queue is full).
    pub fn log_line(&self, line: String) {
        let mut q = self.log.lock().unwrap_or_else(|p| p.into_inner());
        if q.len() >= LOG_QUEUE {
            self.log_dropped.fetch_add(1, Ordering::Relaxed);
        } else {
            q.push_back(line);
        }
    }

    /// Takes the queued log lines.
    pub fn take_log(&self) -> Vec<String> {
        let mut q = self.log.lock().unwrap_or_else(|p| p.into_inner());
        q.drain(..).collect()
    }

    /// The retry budget of a route (`key`), made or remade when its config changed.
    pub fn budget(&self, key: &Arc<str>, cfg: BudgetConfig) -> Arc<RetryBudget> {
        let mut m = self.budgets.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((c, b)) = m.get(key) {
            if c.ratio == cfg.ratio && c.min_per_second == cfg.min_per_second && c.ttl == cfg.ttl {
                return b.clone();
            }
        }
        let b = Arc::new(RetryBudget::new(cfg.ratio, cfg.min_per_second, cfg.ttl));
        m.insert(key.clone(), (cfg, b.clone()));
        b
    }

    /// Takes a token of the policy's bucket for `scope` (the Service port or the route);
    /// Err(wait) when it is empty.
    pub fn rate_limit(&self, rl: &RateLimit, scope: String) -> Result<(), Duration> {
        let bucket = {
            let mut m = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
            let key = (rl.policy.clone(), scope);
            match m.get(&key) {
                Some((c, b)) if c == rl => b.clone(),
                _ => {
                    let b = Arc::new(TokenBucket::new(rl.requests_per_second, rl.burst));
                    m.insert(key, (rl.clone(), b.clone()));
                    b
                }
            }
        };
        bucket.try_acquire()
    }
}

/// What every request of one client connection shares.
pub struct ConnCtx {
    pub shared: Arc<Shared>,
    pub src: SocketAddrV4,
    pub dst: SocketAddrV4,
    pub proto: Proto,
}

/// Serves one client connection until it ends, upgraded relays included; false when it ended on
/// an error (malformed request, reset). Byte counts land in `counts` as they move.
pub async fn serve(
    shared: Arc<Shared>,
    sock: Arc<TcpStream>,
    src: SocketAddrV4,
    dst: SocketAddrV4,
    proto: Proto,
    counts: Arc<Counts>,
) -> bool {
    let (done, finished) = tokio::sync::oneshot::channel::<()>();
    let ok = serve_io(shared, ClientIo { sock, counts, done }, src, dst, proto).await;
    let _ = finished.await;
    ok
}

async fn serve_io(
    shared: Arc<Shared>,
    io: ClientIo,
    src: SocketAddrV4,
    dst: SocketAddrV4,
    proto: Proto,
) -> bool {
    let max_header = max_header_bytes(&shared);
    let ctx = Arc::new(ConnCtx {
        shared,
        src,
        dst,
        proto,
    });
    let svc = service_fn(move |req| {
        let c = ctx.clone();
        async move { Ok::<_, Infallible>(handle(c, req).await) }
    });
    serve_connection(io, proto, max_header, svc).await
}

/// The header limit of the table in force (Envoy's 60 KiB when there is no HTTP table).
pub(super) fn max_header_bytes(shared: &Shared) -> usize {
    shared
        .table()
        .http
        .as_ref()
        .map_or(60 << 10, |h| h.limits.max_header_bytes)
}

/// hyper's server on one client connection, as both HTTP paths run it (outbound here, inbound in
/// inbound.rs): HTTP/1.1 keep-alive with half-close and Upgrade, or h2c; heads bounded by
/// `max_header`. False when the connection ended on an error.
pub(super) async fn serve_connection<I, S>(io: I, proto: Proto, max_header: usize, svc: S) -> bool
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::HttpService<Incoming, ResBody = Body> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let io = TokioIo::new(io);
    match proto {
        Proto::H1 => http1::Builder::new()
            .timer(TokioTimer::new())
            .keep_alive(true)
            // a client may shut down its write side after its request and wait for the answer
            // (the TCP path relays half-closes too)
            .half_close(true)
            .max_buf_size(max_header.max(8192))
            // the head itself, however it arrives (max_buf_size only bounds one read buffer)
            .max_header_size(max_header)
            .serve_connection(io, svc)
            .with_upgrades()
            .await
            .is_ok(),
        Proto::H2 => http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .max_header_list_size(u32::try_from(max_header).unwrap_or(u32::MAX))
            .serve_connection(io, svc)
            .await
            .is_ok(),
    }
}

/// A request's authority: the URI's (HTTP/2, absolute-form), else its Host header, else "".
pub fn authority_of<B>(req: &Request<B>) -> &str {
    req.uri()
        .authority()
        .map(|a| a.as_str())
        .or_else(|| {
            req.headers()
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
        })
        .unwrap_or("")
}

/// The request head route() matches (docs/l7.md).
pub fn head_of<B>(req: &Request<B>) -> RequestHead {
    let authority = authority_of(req).to_ascii_lowercase();
    let mut headers: std::collections::BTreeMap<String, String> = std::collections::BTreeMap::new();
    for (k, v) in req.headers() {
        let v = String::from_utf8_lossy(v.as_bytes());
        headers
            .entry(k.as_str().to_string())
            .and_modify(|e| {
                e.push(',');
                e.push_str(&v);
            })
            .or_insert_with(|| v.into_owned());
    }
    RequestHead {
        method: req.method().as_str().to_string(),
        authority,
        path: req.uri().path().to_string(),
        query: req.uri().query().unwrap_or("").to_string(),
        headers,
    }
}

async fn handle(c: Arc<ConnCtx>, mut req: Request<Incoming>) -> Response<Body> {
    // one table snapshot per request, for the access log and tracing switches and the routing
    let table = c.shared.table();
    let span = trace::begin(&table, *c.src.ip(), Kind::Client, &mut req);
    let log = access_log::begin(
        &c.shared,
        &table,
        c.src,
        Direction::Outbound,
        c.src,
        c.dst,
        &req,
    );
    if log.is_none() && span.is_none() {
        return route_and_forward(&c, table, req, &mut Served::default()).await;
    }
    let mut served = Served {
        src_identity: table.local_identity(*c.src.ip()),
        ..Served::default()
    };
    let r = route_and_forward(&c, table.clone(), req, &mut served).await;
    if let Some(log) = log {
        access_log::finish(&c.shared, log, &r, &served);
    }
    if let Some(a) = span {
        if let Some(ep) = r.extensions().get::<trace::PeerEndpoint>() {
            served.dst_identity = table
                .peer(*ep.0.ip())
                .map(|p| p.identity.clone())
                .or_else(|| table.local_identity(*ep.0.ip()));
        }
        return trace::finish(&c.shared, a, r, &served, c.src, c.dst);
    }
    r
}

/// Routes one request and forwards it (or answers it); `served` learns the route and backend.
async fn route_and_forward(
    c: &Arc<ConnCtx>,
    table: Arc<Table>,
    req: Request<Incoming>,
    served: &mut Served,
) -> Response<Body> {
    let start = Instant::now();
    let Some(port) = table.http.as_ref().and_then(|h| h.port(c.dst)) else {
        return local(
            StatusCode::NOT_FOUND,
            NO_ROUTE,
            "this destination has no HTTP routes any more; retry the request",
        );
    };
    if let Some(rl) = &port.rate_limit {
        if let Err(wait) = c.shared.l7.rate_limit(rl, format!("port {}", port.addr)) {
            return answered(c, &table, port, None, too_many(wait), start);
        }
    }
    let head = head_of(&req);
    // GAMMA consumer routes: the client pod's namespace, from its identity
    let src_id = table.local_identity(*c.src.ip());
    let client_ns = src_id
        .as_deref()
        .map(|id| super::attempt::spiffe_ns_sa(id).0);
    let entry_of = |i: i64| {
        usize::try_from(i)
            .ok()
            .and_then(|i| port.routes_for(client_ns).get(i))
    };
    match route(port, &head, fastrand::f64(), client_ns) {
        Outcome::Respond {
            status,
            code: "",
            location: Some(loc),
            entry,
        } => answered(
            c,
            &table,
            port,
            entry_of(entry),
            redirect(status, &loc),
            start,
        ),
        Outcome::Respond {
            status,
            code,
            entry,
            ..
        } => {
            let out = local(
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                code,
                hint(code),
            );
            answered(c, &table, port, entry_of(entry), out, start)
        }
        Outcome::Forward {
            route: e,
            target,
            authority,
            path,
            ..
        } => {
            served.route = Some(e.route.clone());
            served.route_kind = Some(e.kind.as_str());
            served.backend = Some(target.service.clone());
            forward(c, &table, port, e, target, authority, path, req, start).await
        }
    }
}

/// Counts in the golden metrics an answer given before any backend was tried (the Service's rate
/// limit, no route, an invalid backend, no endpoints, a redirect): the matched route when there
/// is one, the Service itself as backend, no TLS.
fn answered(
    c: &ConnCtx,
    table: &Table,
    port: &HttpPort,
    e: Option<&RouteEntry>,
    out: Response<Body>,
    start: Instant,
) -> Response<Body> {
    let s = super::attempt::outbound_series(c, table, e, &port.service, false);
    s.request();
    s.response(
        out.status().as_u16(),
        super::observe::grpc_status(out.headers()),
        start.elapsed(),
    );
    out
}
