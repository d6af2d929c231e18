//! Tracing at each proxy hop (docs/tracing.md): for a pod whose namespace is traced
//! (`http.trace` of the table), a request's context is read (trace_context.rs), sampled
//! parent-based, propagated with this hop's span as parent, and one CLIENT (outbound) or SERVER
//! (inbound) span is recorded into a bounded queue the agent drains and exports over OTLP.

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::BodyExt;
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use serde_json::{json, Map, Value};

use super::access_log::Served;
use super::observe::grpc_status;
use super::proxy::{authority_of, ERROR_HEADER};
use super::trace_context::{extract, hex_bytes, inject, new_span_id, new_trace_id, sampled};
use super::trace_context::{SpanId, TraceId};
use super::upstream::{Body, BoxError};
use crate::proxy::engine::Shared;
use crate::proxy::table::Table;

/// Spans kept between two drains by the agent; past that new spans are dropped and counted.
pub const SPAN_QUEUE: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Client,
    Server,
}

/// The endpoint an outbound request was sent to, put on its response by attempt.rs (read by the
/// span, the access log and the tap).
#[derive(Clone, Copy, Debug)]
pub struct PeerEndpoint(pub SocketAddrV4);

/// One finished span, as queued (encoded by trace_otlp.rs).
pub struct Span {
    pub(super) trace_id: TraceId,
    pub(super) span_id: SpanId,
    pub(super) parent: Option<SpanId>,
    pub(super) kind: Kind,
    pub(super) name: String,
    pub(super) start_ns: u64,
    pub(super) end_ns: u64,
    pub(super) error: bool,
    pub(super) attrs: Map<String, Value>,
}

impl Span {
    /// A span from the JSON record shape of agent/src/tracing/otlp.ts `SpanRecord` (the encoder's
    /// test hook); None when a field is missing or malformed.
    pub fn from_json(v: &Value) -> Option<Span> {
        let s = |k: &str| v.get(k).and_then(Value::as_str);
        let parent = match v.get("parentSpanId") {
            None | Some(Value::Null) => None,
            Some(p) => Some(hex_bytes(p.as_str()?)?),
        };
        Some(Span {
            trace_id: hex_bytes(s("traceId")?)?,
            span_id: hex_bytes(s("spanId")?)?,
            parent,
            kind: match s("kind")? {
                "client" => Kind::Client,
                "server" => Kind::Server,
                _ => return None,
            },
            name: s("name")?.to_string(),
            start_ns: s("startNs")?.parse().ok()?,
            end_ns: s("endNs")?.parse().ok()?,
            error: v.get("error")?.as_bool()?,
            attrs: v.get("attributes")?.as_object()?.clone(),
        })
    }
}

/// The bounded span queue of one node proxy: pushing never blocks on a full queue, it drops.
#[derive(Default)]
pub struct SpanQueue {
    q: Mutex<VecDeque<Span>>,
    pub dropped: AtomicU64,
    pub recorded: AtomicU64,
}

impl SpanQueue {
    pub fn push(&self, s: Span) {
        self.recorded.fetch_add(1, Ordering::Relaxed);
        let mut q = self.q.lock().unwrap_or_else(|p| p.into_inner());
        if q.len() >= SPAN_QUEUE {
            drop(q);
            self.dropped.fetch_add(1, Ordering::Relaxed);
        } else {
            q.push_back(s);
        }
    }

    /// Takes up to `max` queued spans, oldest first.
    pub fn take(&self, max: usize) -> Vec<Span> {
        let mut q = self.q.lock().unwrap_or_else(|p| p.into_inner());
        let n = q.len().min(max);
        q.drain(..n).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn len(&self) -> usize {
        self.q.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

/// A request being recorded at this hop.
pub struct Active {
    trace_id: TraceId,
    span_id: SpanId,
    parent: Option<SpanId>,
    kind: Kind,
    start_ns: u64,
    start: Instant,
    method: String,
    path: String,
    authority: String,
    version: &'static str,
}

fn unix_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// At a hop of traced `pod` (the client outbound, the server inbound): reads the request's
/// context, decides, and rewrites what the next hop sees. Some when this hop records a span.
/// A pod whose namespace is not traced passes requests untouched.
pub fn begin<B>(table: &Table, pod: Ipv4Addr, kind: Kind, req: &mut Request<B>) -> Option<Active> {
    let percent = *table.http.as_ref()?.trace.get(&pod)?;
    let came = extract(req.headers());
    let record = sampled(came.as_ref(), percent, fastrand::f64());
    let ids = came.as_ref().and_then(|c| c.ids);
    if !record {
        // an unsampled parent goes on as it came; a new root goes on unsampled, so no later hop
        // (proxy or application) starts a trace of its own
        if ids.is_none() {
            inject(req.headers_mut(), &new_trace_id(), &new_span_id(), false);
        }
        return None;
    }
    let trace_id = ids.map_or_else(new_trace_id, |i| i.0);
    let span_id = new_span_id();
    inject(req.headers_mut(), &trace_id, &span_id, true);
    Some(Active {
        trace_id,
        span_id,
        parent: ids.map(|i| i.1),
        kind,
        start_ns: unix_ns(),
        start: Instant::now(),
        method: req.method().as_str().to_string(),
        path: req.uri().path().to_string(),
        authority: authority_of(req).to_string(),
        version: if req.version() == http::Version::HTTP_2 {
            "2"
        } else {
            "1.1"
        },
    })
}

/// Makes the span of a request that got `resp` (`src`: the client, `dst`: the original
/// destination outbound, the local pod inbound) and returns the response with its body wrapped:
/// the span is queued when the body ends (its trailers may carry the gRPC status), fails or is
/// dropped.
pub fn finish(
    shared: &Arc<Shared>,
    a: Active,
    resp: Response<Body>,
    s: &Served,
    src: SocketAddrV4,
    dst: SocketAddrV4,
) -> Response<Body> {
    let status = resp.status().as_u16();
    let code = resp
        .headers()
        .get(ERROR_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let (host, port) = match a.authority.rsplit_once(':') {
        Some((h, p)) if p.parse::<u16>().is_ok() => (h.to_string(), p.parse::<u16>().ok()),
        _ => (a.authority.clone(), None),
    };
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_string(), v);
    };
    put("http.request.method", json!(a.method));
    put("url.path", json!(a.path));
    put("url.scheme", json!("http"));
    put("network.protocol.version", json!(a.version));
    put("http.response.status_code", json!(status));
    put("client.address", json!(src.ip().to_string()));
    let peer = match a.kind {
        Kind::Client => {
            put("server.address", json!(host));
            if let Some(p) = port {
                put("server.port", json!(p));
            }
            resp.extensions().get::<PeerEndpoint>().map(|e| e.0)
        }
        Kind::Server => {
            put("server.address", json!(dst.ip().to_string()));
            put("server.port", json!(dst.port()));
            Some(src)
        }
    };
    if let Some(p) = peer {
        put("network.peer.address", json!(p.ip().to_string()));
        put("network.peer.port", json!(p.port()));
    }
    if let Some(r) = s.route.as_deref().filter(|r| !r.is_empty()) {
        put("nodemesh.route", json!(r));
    }
    if let Some(k) = s.route_kind {
        put("nodemesh.route_kind", json!(k));
    }
    if let Some(b) = s.backend.as_deref() {
        put("nodemesh.backend", json!(b));
    }
    if let Some(i) = s.src_identity.as_deref() {
        put("nodemesh.src.identity", json!(i));
    }
    if let Some(i) = s.dst_identity.as_deref() {
        put("nodemesh.dst.identity", json!(i));
    }
    if !code.is_empty() {
        put("nodemesh.error", json!(code));
    }
    let target = match (a.kind, s.backend.as_deref()) {
        (Kind::Client, Some(b)) => b.to_string(),
        _ => host,
    };
    let span = Span {
        trace_id: a.trace_id,
        span_id: a.span_id,
        parent: a.parent,
        kind: a.kind,
        name: format!("{} {target}", a.method),
        start_ns: a.start_ns,
        end_ns: 0,
        error: status >= 500 || !code.is_empty(),
        attrs: m,
    };
    let grpc = grpc_status(resp.headers());
    let (parts, body) = resp.into_parts();
    let mut t = Traced {
        inner: body,
        pending: Some((span, a.start, shared.clone())),
        grpc,
    };
    if t.inner.is_end_stream() {
        t.record();
    }
    Response::from_parts(parts, BodyExt::boxed(t))
}

/// A response body whose span is queued once it ends.
struct Traced {
    inner: Body,
    pending: Option<(Span, Instant, Arc<Shared>)>,
    grpc: Option<u32>,
}

impl Traced {
    fn record(&mut self) {
        let Some((mut span, start, shared)) = self.pending.take() else {
            return;
        };
        span.end_ns = span
            .start_ns
            .saturating_add(u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX));
        if let Some(g) = self.grpc {
            span.attrs
                .insert("rpc.grpc.status_code".to_string(), json!(g));
            span.error |= g != 0;
        }
        shared.l7.spans.push(span);
    }
}

impl HttpBody for Traced {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let r = Pin::new(&mut self.inner).poll_frame(cx);
        match &r {
            Poll::Ready(Some(Ok(f))) => {
                if let Some(g) = f.trailers_ref().and_then(grpc_status) {
                    self.grpc = Some(g);
                }
                if self.inner.is_end_stream() {
                    self.record();
                }
            }
            Poll::Ready(Some(Err(_))) => {
                if let Some(p) = self.pending.as_mut() {
                    p.0.error = true;
                }
                self.record();
            }
            Poll::Ready(None) => self.record(),
            Poll::Pending => {}
        }
        r
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Traced {
    fn drop(&mut self) {
        self.record();
    }
}

#[cfg(test)]
#[path = "trace_tests.rs"]
mod tests;
