//! Inbound HTTP at the destination's node proxy, for a local pod port whose authorization has HTTP
//! fields (`needsHttp`): hyper serves the connection (an HBONE stream, a same-node client or
//! plaintext from outside the mesh), each request is authorized (403, gRPC PERMISSION_DENIED)
//! and the allowed ones go to the pod over one upstream connection per client connection.

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

use super::access_log::{self, Served};
use super::authz_http::{AuthzRequest, DenyResponse};
use super::detect::{classify, Detected, DETECT_BYTES};
use super::forward::{is_upgrade, strip_hop_by_hop};
use super::io::Counts;
use super::metrics::{Direction, Labels, Series};
use super::observe::{grpc_status, Observed};
use super::proxy::{full, head_of, hint, local, max_header_bytes, serve_connection};
use super::trace::{self, Kind};
use super::upstream::{handshake, Body, BoxError, Proto, Sender};
use crate::proxy::authz::{AuthzInput, Transport};
use crate::proxy::conn::connect;
use crate::proxy::engine::Shared;

/// Who is calling which local pod, as authorization and the metrics see it.
pub struct Inbound {
    pub shared: Arc<Shared>,
    /// the client pod's address (or the peer node's, when the client is unknown)
    pub src: SocketAddrV4,
    /// the local pod and port
    pub dst: SocketAddrV4,
    /// where upstream connections to the pod come from (the client's IP when we have it)
    pub bind: Ipv4Addr,
    /// the client's identity: proved by mTLS, or the same-node pod's own; None for plaintext
    pub identity: Option<Arc<str>>,
    pub dst_identity: Option<Arc<str>>,
    pub transport: Transport,
}

/// Reads until the first bytes decide HTTP/1.x, h2c or neither, or `timeout` passes (then: TCP).
/// The bytes read are returned to be replayed in front of the stream ([`Prefixed`]).
pub async fn detect_read<I: AsyncRead + Unpin>(
    io: &mut I,
    timeout: Duration,
) -> (Detected, Vec<u8>) {
    let mut buf = Vec::with_capacity(DETECT_BYTES);
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(d) = classify(&buf) {
            return (d, buf);
        }
        let mut chunk = [0u8; DETECT_BYTES];
        let want = DETECT_BYTES - buf.len();
        match tokio::time::timeout_at(deadline, io.read(&mut chunk[..want])).await {
            Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
            _ => return (Detected::Tcp, buf),
        }
    }
}

/// A stream with bytes already read put back in front; counts bytes both ways.
pub struct Prefixed<I> {
    pub inner: I,
    prefix: Bytes,
    counts: Arc<Counts>,
}

impl<I> Prefixed<I> {
    pub fn new(inner: I, prefix: Vec<u8>, counts: Arc<Counts>) -> Prefixed<I> {
        counts.up.fetch_add(prefix.len() as u64, Ordering::Relaxed);
        Prefixed {
            inner,
            prefix: Bytes::from(prefix),
            counts,
        }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Prefixed<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(buf.remaining());
            let head = self.prefix.split_to(n);
            buf.put_slice(&head);
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        self.counts.up.fetch_add(n as u64, Ordering::Relaxed);
        r
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Prefixed<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &r {
            self.counts.down.fetch_add(*n as u64, Ordering::Relaxed);
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Per client connection: the request-independent parts and the upstream connection to the pod.
struct Conn {
    ctx: Inbound,
    proto: Proto,
    series: Arc<Series>,
    upstream: Mutex<Option<Sender>>,
}

/// Serves one client connection as HTTP until it ends; false when it ended on an error.
pub async fn serve<I>(ctx: Inbound, io: I, proto: Proto) -> bool
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let series = inbound_series(&ctx);
    let max_header = max_header_bytes(&ctx.shared);
    let conn = Arc::new(Conn {
        ctx,
        proto,
        series,
        upstream: Mutex::new(None),
    });
    let svc = service_fn(move |req| {
        let c = conn.clone();
        async move { Ok::<_, Infallible>(handle(c, req).await) }
    });
    serve_connection(io, proto, max_header, svc).await
}

/// The inbound golden-metrics series of a connection: source and destination workloads from
/// their identities (`spiffe://td/ns/<ns>/sa/<sa>`), no route (routing happened at the source).
fn inbound_series(c: &Inbound) -> Arc<Series> {
    let (src_ns, src_sa) = c
        .identity
        .as_deref()
        .map_or(("", ""), super::attempt::spiffe_ns_sa);
    let (dst_ns, dst_sa) = c
        .dst_identity
        .as_deref()
        .map_or(("", ""), super::attempt::spiffe_ns_sa);
    c.shared.l7.metrics.series_ref(Labels {
        direction: Direction::Inbound,
        src_namespace: src_ns,
        src_workload: src_sa,
        dst_namespace: dst_ns,
        dst_workload: dst_sa,
        route_name: "",
        route_kind: "",
        backend: "",
        tls: c.transport == Transport::Mtls,
    })
}

/// The answer to a denied request, as a response.
pub fn deny_to_response(d: DenyResponse) -> Response<Body> {
    let mut r = Response::new(full(d.body));
    *r.status_mut() = StatusCode::from_u16(d.status).unwrap_or(StatusCode::FORBIDDEN);
    for (k, v) in d.headers {
        if let Ok(v) = HeaderValue::from_str(&v) {
            r.headers_mut().insert(HeaderName::from_static(k), v);
        }
    }
    r
}

/// Authorizes one request to local pod `dst` from `src` (identity, transport); a denial is
/// counted, logged (the queue JS drains) and answered. None: allowed.
pub fn authorize(
    shared: &Shared,
    src: Ipv4Addr,
    dst: SocketAddrV4,
    identity: Option<&str>,
    transport: Transport,
    req: &Request<impl Sized>,
) -> Option<Response<Body>> {
    let table = shared.table();
    let head = head_of(req);
    let areq = AuthzRequest::new(&head.method, &head.authority, &head.path, &head.headers);
    let d = table.authz.authorize_http(
        &AuthzInput {
            dst_ip: *dst.ip(),
            dst_port: dst.port(),
            src_ip: src,
            identity,
            transport,
        },
        &areq,
        &shared.l7.http_authz,
    );
    let (resp, line) = d.denied?;
    shared.l7.log_line(line);
    Some(deny_to_response(resp))
}

async fn handle(c: Arc<Conn>, mut req: Request<Incoming>) -> Response<Body> {
    let x = &c.ctx;
    let table = x.shared.table();
    let span = trace::begin(&table, *x.dst.ip(), Kind::Server, &mut req);
    let log = access_log::begin(
        &x.shared,
        &table,
        x.dst,
        Direction::Inbound,
        x.src,
        x.dst,
        &req,
    );
    drop(table);
    if log.is_none() && span.is_none() {
        return authorize_and_send(&c, req).await;
    }
    let r = authorize_and_send(&c, req).await;
    let served = Served {
        src_identity: x.identity.clone(),
        dst_identity: x.dst_identity.clone(),
        ..Served::default()
    };
    if let Some(log) = log {
        access_log::finish(&x.shared, log, &r, &served);
    }
    if let Some(a) = span {
        return trace::finish(&x.shared, a, r, &served, x.src, x.dst);
    }
    r
}

async fn authorize_and_send(c: &Arc<Conn>, mut req: Request<Incoming>) -> Response<Body> {
    let start = Instant::now();
    let x = &c.ctx;
    c.series.request();
    if let Some(denied) = authorize(
        &x.shared,
        *x.src.ip(),
        x.dst,
        x.identity.as_deref(),
        x.transport,
        &req,
    ) {
        let grpc = grpc_status(denied.headers());
        c.series
            .response(denied.status().as_u16(), grpc, start.elapsed());
        return denied;
    }
    let upgrade = c.proto == Proto::H1 && is_upgrade(req.headers());
    let on_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
    let (mut parts, body) = req.into_parts();
    strip_hop_by_hop(&mut parts.headers, upgrade);
    let up_req = Request::from_parts(parts, body.map_err(BoxError::from).boxed());
    let mut sender = match take_sender(c).await {
        Ok(s) => s,
        Err(code) => {
            let r = local(StatusCode::SERVICE_UNAVAILABLE, code, hint(code));
            c.series.response(503, None, start.elapsed());
            return r;
        }
    };
    let mut r = match sender.send(up_req).await {
        Ok(r) => r,
        Err(_) => {
            c.series.response(502, None, start.elapsed());
            return local(
                StatusCode::BAD_GATEWAY,
                "MESH_ERR_UPSTREAM_RESET",
                hint("MESH_ERR_UPSTREAM_RESET"),
            );
        }
    };
    if let Some(on) = on_upgrade {
        if r.status() == StatusCode::SWITCHING_PROTOCOLS {
            let up = hyper::upgrade::on(&mut r);
            tokio::spawn(async move {
                if let (Ok(down), Ok(up)) = (on.await, up.await) {
                    let (mut d, mut u) = (TokioIo::new(down), TokioIo::new(up));
                    let _ = tokio::io::copy_bidirectional(&mut d, &mut u).await;
                }
                drop(sender);
            });
            c.series.response(101, None, start.elapsed());
            let (parts, _) = r.into_parts();
            return Response::from_parts(parts, full(Bytes::new()));
        }
    }
    if !sender.closed() {
        *c.upstream.lock().unwrap_or_else(|p| p.into_inner()) = Some(sender);
    }
    let (mut parts, body) = r.into_parts();
    strip_hop_by_hop(&mut parts.headers, false);
    let grpc = grpc_status(&parts.headers);
    let body = Observed::new(
        body.map_err(BoxError::from).boxed(),
        c.series.clone(),
        parts.status.as_u16(),
        grpc,
        start.elapsed(),
    );
    Response::from_parts(parts, BodyExt::boxed(body))
}

/// The connection's upstream to the pod: the kept one (an HTTP/2 one is shared, an HTTP/1.1 one
/// is taken until its response head arrived), or a new one from the client's address.
async fn take_sender(c: &Conn) -> Result<Sender, &'static str> {
    {
        let mut g = c.upstream.lock().unwrap_or_else(|p| p.into_inner());
        match g.as_ref() {
            Some(Sender::H2(h)) if !h.is_closed() => return Ok(Sender::H2(h.clone())),
            Some(Sender::H1(h)) if !h.is_closed() => {
                if let Some(s) = g.take() {
                    return Ok(s);
                }
            }
            _ => *g = None,
        }
    }
    let x = &c.ctx;
    let tcp = connect(
        x.bind,
        x.dst,
        x.shared.transparent,
        x.shared.connect_timeout,
    )
    .await
    .map_err(|_| "MESH_ERR_UPSTREAM_CONNECT")?;
    handshake(TokioIo::new(tcp), c.proto)
        .await
        .map_err(|_| "MESH_ERR_UPSTREAM_CONNECT")
}

/// Relays a connection that is not HTTP (its verdict was allowed) to the pod: bytes both ways.
pub async fn relay_opaque<I>(ctx: &Inbound, mut io: I) -> Result<(u64, u64), ()>
where
    I: AsyncRead + AsyncWrite + Unpin,
{
    let mut up = connect(
        ctx.bind,
        ctx.dst,
        ctx.shared.transparent,
        ctx.shared.connect_timeout,
    )
    .await
    .map_err(|_| ())?;
    tokio::io::copy_bidirectional(&mut io, &mut up)
        .await
        .map_err(|_| ())
}

#[cfg(test)]
#[path = "inbound_tests.rs"]
mod tests;
