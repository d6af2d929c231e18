//! The HBONE server side (port 15008): TLS-accept a peer node proxy's connection presenting the
//! certificate of the local pod it dialled, then for each CONNECT stream check the authority,
//! recover the client pod's IP, authorize, connect to the pod from that IP and relay.
//! Every stream yields one inbound close event carrying both identities.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};

use super::authz::{AuthzInput, Transport};
use super::conn::{connect, non_empty, relay_end, reset};
use super::engine::Shared;
use super::events::{Event, Kind, Reason};
use super::relay::CloseReason;
use super::table::Direction;
use crate::hbone::{self, InboundRequest};
use crate::l7::detect::{Detected, DEFAULT_DETECT_TIMEOUT};
use crate::l7::inbound::{self, detect_read, Inbound, Prefixed};
use crate::l7::io::{Counts, HboneIo};
use crate::l7::upstream::Proto;

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Tunnel connections refused before any stream: by reason (read by `tunnel_counters`).
pub static REFUSED_NOT_LOCAL: AtomicU64 = AtomicU64::new(0);
pub static REFUSED_HANDSHAKE: AtomicU64 = AtomicU64::new(0);
pub static STREAMS_BAD_AUTHORITY: AtomicU64 = AtomicU64::new(0);

pub async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        match listener.accept().await {
            Ok((tcp, _)) => {
                tokio::spawn(serve(shared.clone(), tcp));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

fn v4(a: std::io::Result<SocketAddr>) -> Option<SocketAddrV4> {
    match a {
        Ok(SocketAddr::V4(a)) => Some(a),
        _ => None,
    }
}

/// One HBONE connection from a peer proxy.
async fn serve(shared: Arc<Shared>, tcp: TcpStream) {
    let (Some(local), Some(peer_addr)) = (v4(tcp.local_addr()), v4(tcp.peer_addr())) else {
        return;
    };
    let table = shared.table();
    // the server certificate is the dialled pod's: the accepted socket's local IP
    let Some(identity) = table
        .local_identity(*local.ip())
        .filter(|_| table.is_local_workload(*local.ip()))
    else {
        REFUSED_NOT_LOCAL.fetch_add(1, Ordering::Relaxed);
        reset(&tcp);
        return;
    };
    drop(table);
    let mut conn = match hbone::accept(tcp, &shared.certs, &identity, HANDSHAKE_TIMEOUT).await {
        Ok(c) => c,
        Err(_) => {
            REFUSED_HANDSHAKE.fetch_add(1, Ordering::Relaxed);
            return;
        }
    };
    let peer = conn.peer_identity();
    while let Some(req) = conn.next().await {
        tokio::spawn(stream(
            shared.clone(),
            req,
            peer.clone(),
            identity.clone(),
            *peer_addr.ip(),
        ));
    }
}

/// The state of one tunnelled stream; its Drop reports the close event.
struct StreamState {
    shared: Arc<Shared>,
    id: u64,
    src: SocketAddrV4,
    dst: SocketAddrV4,
    start: Instant,
    up: u64,
    down: u64,
    reason: Reason,
    src_identity: Arc<str>,
    dst_identity: Arc<str>,
    policy: Option<Arc<str>>,
    audit: Option<Arc<str>>,
    upstream: Option<TcpStream>,
    connected: bool,
}

impl StreamState {
    fn event(&self, kind: Kind, reason: Reason) -> Event {
        Event {
            kind,
            id: self.id,
            dir: Direction::Inbound,
            src: self.src,
            dst: self.dst,
            up: self.up,
            down: self.down,
            duration_us: u64::try_from(self.start.elapsed().as_micros()).unwrap_or(u64::MAX),
            reason,
            service: None,
            upstream: self.connected.then_some(self.dst),
            src_identity: Some(self.src_identity.clone()),
            dst_identity: Some(self.dst_identity.clone()),
            tls: true,
            policy: self.policy.clone(),
            audit: self.audit.clone(),
        }
    }
}

impl Drop for StreamState {
    fn drop(&mut self) {
        if self.reason != Reason::Close(CloseReason::Eof) {
            if let Some(u) = &self.upstream {
                reset(u);
            }
        }
        let reason = std::mem::replace(&mut self.reason, Reason::None);
        self.shared.events.push(self.event(Kind::Close, reason));
        self.shared.stats.active.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One CONNECT stream: authority check, client IP, authorization, connect, relay.
async fn stream(
    shared: Arc<Shared>,
    req: InboundRequest,
    peer: Arc<str>,
    identity: Arc<str>,
    peer_node_ip: Ipv4Addr,
) {
    shared.stats.accepted.fetch_add(1, Ordering::Relaxed);
    shared.stats.active.fetch_add(1, Ordering::Relaxed);
    let table = shared.table();
    let dst = req.authority;
    // the client pod's address: `forwarded: for=` only when that IP is a meshed pod holding the
    // identity the peer proved; otherwise the peer node's address
    let src = req
        .forwarded_for
        .filter(|f| table.peer(*f.ip()).is_some_and(|p| p.identity == peer))
        .unwrap_or(SocketAddrV4::new(peer_node_ip, 0));
    let mut st = StreamState {
        id: shared.next_id(),
        shared: shared.clone(),
        src,
        dst,
        start: Instant::now(),
        up: 0,
        down: 0,
        reason: Reason::Close(CloseReason::Shutdown),
        src_identity: peer.clone(),
        dst_identity: identity.clone(),
        policy: None,
        audit: None,
        upstream: None,
        connected: false,
    };
    // the authority must be a local enrolled pod with the identity this connection presented,
    // and never a proxy port
    let proxy_port = [shared.own_ports[0], shared.own_ports[1], shared.tunnel_port]
        .contains(&dst.port())
        || dst.port() == 15008;
    if !table.is_local_workload(*dst.ip())
        || table.local_identity(*dst.ip()).as_deref() != Some(&*identity)
        || proxy_port
    {
        STREAMS_BAD_AUTHORITY.fetch_add(1, Ordering::Relaxed);
        shared.stats.denied.fetch_add(1, Ordering::Relaxed);
        st.reason = Reason::Denied(Arc::from("MESH_ERR_TUNNEL_AUTHORITY"));
        req.refuse(if proxy_port { 503 } else { 400 });
        return;
    }
    let v = table.authz.evaluate(&AuthzInput {
        dst_ip: *dst.ip(),
        dst_port: dst.port(),
        src_ip: *src.ip(),
        identity: Some(&peer),
        transport: Transport::Mtls,
    });
    // HTTP fields in this port's policies, or the pod's requests access-logged: served per
    // request (or, when the stream is not HTTP, by this verdict once its first bytes said so)
    let per_request = table.authz.needs_http(*dst.ip(), dst.port())
        || table.http.as_ref().is_some_and(|h| h.per_request(dst.ip()));
    drop(table);
    st.policy = non_empty(&v.policy);
    st.audit = non_empty(&v.audit);
    // from the client pod's own IP when we know it, so the server sees it
    let bind = if src.port() == 0 {
        peer_node_ip
    } else {
        *src.ip()
    };
    if per_request {
        Box::pin(http_stream(&mut st, req, v.allow, v.code, bind)).await;
        return;
    }
    if !v.allow {
        shared.stats.denied.fetch_add(1, Ordering::Relaxed);
        st.reason = Reason::Denied(Arc::from(v.code));
        req.refuse(401);
        return;
    }
    let up = match connect(bind, dst, shared.transparent, shared.connect_timeout).await {
        Ok(u) => u,
        Err(r) => {
            st.reason = Reason::Close(r);
            req.refuse(503);
            return;
        }
    };
    let stream = match req.accept() {
        Ok(s) => s,
        Err(_) => {
            reset(&up);
            st.reason = Reason::Close(CloseReason::ResetClient);
            return;
        }
    };
    st.connected = true;
    shared.events.push(st.event(Kind::Open, Reason::None));
    let mut up = up;
    let out = hbone::relay(&mut up, stream, shared.max_buffer).await;
    // relay's "up" is tcp → stream: bytes from the pod back to the client (down for us)
    st.down = out.up;
    st.up = out.down;
    st.reason = Reason::Close(match relay_end(out.end) {
        CloseReason::ResetClient => CloseReason::ResetUpstream,
        CloseReason::ResetUpstream => CloseReason::ResetClient,
        r => r,
    });
    st.upstream = Some(up);
}

/// A stream to a port with HTTP authorization: accepted at once, its first bytes read; HTTP is
/// served request by request (l7/inbound.rs), anything else gets the stream's verdict `allow`.
async fn http_stream(
    st: &mut StreamState,
    req: InboundRequest,
    allow: bool,
    code: &'static str,
    bind: Ipv4Addr,
) {
    let stream = match req.accept() {
        Ok(s) => s,
        Err(_) => {
            st.reason = Reason::Close(CloseReason::ResetClient);
            return;
        }
    };
    let detect = st
        .shared
        .table()
        .http
        .as_ref()
        .map_or(DEFAULT_DETECT_TIMEOUT, |h| h.detect_timeout);
    let mut io = HboneIo::new(stream);
    let (kind, prefix) = detect_read(&mut io, detect).await;
    let counts = Arc::new(Counts::default());
    let io = Prefixed::new(io, prefix, counts.clone());
    let ctx = Inbound {
        shared: st.shared.clone(),
        src: st.src,
        dst: st.dst,
        bind,
        identity: Some(st.src_identity.clone()),
        dst_identity: Some(st.dst_identity.clone()),
        transport: Transport::Mtls,
    };
    st.connected = true;
    st.shared.events.push(st.event(Kind::Open, Reason::None));
    let ok = match kind {
        Detected::Http1 => inbound::serve(ctx, io, Proto::H1).await,
        Detected::H2c => inbound::serve(ctx, io, Proto::H2).await,
        Detected::Tls | Detected::Tcp if !allow => {
            st.shared.stats.denied.fetch_add(1, Ordering::Relaxed);
            st.reason = Reason::Denied(Arc::from(code));
            return;
        }
        Detected::Tls | Detected::Tcp => inbound::relay_opaque(&ctx, io).await.is_ok(),
    };
    st.up = counts.up.load(Ordering::Relaxed);
    st.down = counts.down.load(Ordering::Relaxed);
    st.reason = Reason::Close(if ok {
        CloseReason::Eof
    } else {
        CloseReason::ResetClient
    });
}
