//! One captured connection: decide from the table, authorize, connect upstream (transparently
//! from the client's own IP, or through an HBONE tunnel to another node), relay, report. `ConnState` is all a connection holds besides relay buffers;
//! its Drop resets the sockets unless they closed cleanly and queues the close event, so every
//! accepted connection yields exactly one close event, even when runtime shutdown drops its task.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use socket2::SockRef;
use tokio::net::{TcpSocket, TcpStream};

use super::authz::{AuthzInput, Transport};
use super::engine::Shared;
use super::events::{Event, Kind, Reason};
use super::relay::{relay, CloseReason, Tally};
use super::services::{ServiceRoute, NO_ENDPOINTS};
use super::table::{Decision, Direction, Table};
use crate::hbone::{self, HboneStream, PoolKey, RelayEnd};
#[path = "conn_http.rs"]
mod http;
use http::{l7_protocol, serve_http, serve_local_http};

const AUTHZ_DENIED: &str = "MESH_ERR_AUTHZ_DENIED";
const MTLS_REQUIRED: &str = "MESH_ERR_MTLS_REQUIRED";

/// Where a forwarded connection's bytes go: a TCP socket (same node, or outside the mesh) or an
/// HBONE stream to the destination node's proxy.
pub enum Upstream {
    Tcp(TcpStream),
    Tunnel(Box<HboneStream>),
}

/// What was learnt while connecting: identities, TLS, the policy that decided.
#[derive(Default)]
pub struct Security {
    pub src_identity: Option<Arc<str>>,
    pub dst_identity: Option<Arc<str>>,
    pub tls: bool,
    pub policy: Option<Arc<str>>,
    pub audit: Option<Arc<str>>,
    /// the caller (the L7 proxy) authorizes each HTTP request to a same-node pod itself, so a
    /// connection verdict is not final where the port's policies have HTTP fields
    pub per_request: bool,
}

/// Why a connection was not forwarded: a relay/connect reason or a MESH_ERR_* code.
pub enum Fail {
    Close(CloseReason),
    Code(Arc<str>),
}

/// Per-connection state (kept small: see the size test).
pub struct ConnState {
    shared: Arc<Shared>,
    /// shared with the L7 proxy's hyper IO while it serves; reset on an abnormal end either way
    client: Arc<TcpStream>,
    upstream: Option<Upstream>,
    id: u64,
    src: SocketAddrV4,
    dst: SocketAddrV4,
    dir: Direction,
    start: Instant,
    tally: Tally,
    reason: Reason,
    /// the Service this connection was routed through, if any
    service: Option<Arc<ServiceRoute>>,
    /// the endpoint connected; for a Service it is counted open in the balancer until drop
    upstream_addr: Option<SocketAddrV4>,
    sec: Box<Security>,
}

impl ConnState {
    fn event(&self, kind: Kind, reason: Reason) -> Event {
        Event {
            kind,
            id: self.id,
            dir: self.dir,
            src: self.src,
            dst: self.dst,
            up: self.tally.up,
            down: self.tally.down,
            duration_us: u64::try_from(self.start.elapsed().as_micros()).unwrap_or(u64::MAX),
            reason,
            service: self.service.as_ref().map(|s| s.name.clone()),
            upstream: self.upstream_addr,
            src_identity: self.sec.src_identity.clone(),
            dst_identity: self.sec.dst_identity.clone(),
            tls: self.sec.tls,
            policy: self.sec.policy.clone(),
            audit: self.sec.audit.clone(),
        }
    }
}

impl Drop for ConnState {
    fn drop(&mut self) {
        if self.reason != Reason::Close(CloseReason::Eof) {
            reset(&self.client);
            if let Some(Upstream::Tcp(u)) = &self.upstream {
                reset(u);
            }
        }
        if let (Some(_), Some(ep)) = (&self.service, self.upstream_addr) {
            self.shared.balancer.release(ep);
        }
        let reason = std::mem::replace(&mut self.reason, Reason::None);
        self.shared.events.push(self.event(Kind::Close, reason));
        self.shared.stats.active.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Makes the coming close send RST instead of FIN (SO_LINGER 0).
pub fn reset(s: &TcpStream) {
    let _ = SockRef::from(s).set_linger(Some(Duration::ZERO));
}

fn v4(a: io::Result<SocketAddr>) -> Option<SocketAddrV4> {
    match a {
        Ok(SocketAddr::V4(a)) => Some(a),
        _ => None,
    }
}

/// Handles one accepted connection to its end.
pub async fn handle(shared: Arc<Shared>, client: TcpStream, dir: Direction) {
    shared.stats.active.fetch_add(1, Ordering::Relaxed);
    let src = v4(client.peer_addr());
    let dst = v4(client.local_addr());
    let mut st = ConnState {
        id: shared.next_id(),
        shared,
        src: src.unwrap_or(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)),
        dst: dst.unwrap_or(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)),
        client: Arc::new(client),
        upstream: None,
        dir,
        start: Instant::now(),
        tally: Tally::default(),
        reason: Reason::Close(CloseReason::Shutdown),
        service: None,
        upstream_addr: None,
        sec: Box::default(),
    };
    let (Some(src), Some(dst)) = (src, dst) else {
        // The client reset before we could read its addresses.
        st.reason = Reason::Close(CloseReason::ResetClient);
        return;
    };
    let decision = st.shared.decide(dir, src, dst);
    if dir == Direction::Outbound {
        if let Decision::Forward {
            service: Some(ref svc),
            ..
        }
        | Decision::NoEndpoints(ref svc) = decision
        {
            // boxed: the HTTP path's state would otherwise grow every connection's future
            if let Some(proto) = Box::pin(l7_protocol(&st, dst)).await {
                st.service = Some(svc.clone());
                Box::pin(serve_http(&mut st, src, dst, proto)).await;
                return;
            }
        }
    }
    let (upstream, bind_ip, service) = match decision {
        Decision::Deny(code) => {
            st.shared.stats.denied.fetch_add(1, Ordering::Relaxed);
            st.reason = Reason::Denied(code);
            return;
        }
        Decision::NoEndpoints(svc) => {
            st.shared.stats.denied.fetch_add(1, Ordering::Relaxed);
            st.reason = Reason::Denied(Arc::from(NO_ENDPOINTS));
            st.service = Some(svc);
            return;
        }
        Decision::Forward {
            upstream,
            bind_ip,
            service,
        } => (upstream, bind_ip, service),
    };
    // a local pod port with HTTP authorization rules: authorized request by request
    let local_http = match (dir, &service) {
        (Direction::Inbound, _) => Some((bind_ip, Transport::Plaintext)),
        (Direction::Outbound, None) => Some((*src.ip(), Transport::Local)),
        _ => None,
    };
    if let Some((bind, transport)) = local_http {
        if Box::pin(serve_local_http(&mut st, src, upstream, bind, transport)).await {
            return;
        }
    }
    let _ = st.client.set_nodelay(true);
    let table = st.shared.table();
    let connected = match (&service, dir) {
        (_, Direction::Inbound) => {
            // captured on :15006: plaintext from outside the mesh (meshed peers come over HBONE)
            st.sec.dst_identity = table.local_identity(*upstream.ip());
            let v = table.authz.evaluate(&AuthzInput {
                dst_ip: *upstream.ip(),
                dst_port: upstream.port(),
                src_ip: *src.ip(),
                identity: None,
                transport: Transport::Plaintext,
            });
            st.sec.policy = non_empty(&v.policy);
            st.sec.audit = non_empty(&v.audit);
            if v.allow {
                connect(
                    bind_ip,
                    upstream,
                    st.shared.transparent,
                    st.shared.connect_timeout,
                )
                .await
                .map(|s| (Upstream::Tcp(s), upstream))
                .map_err(Fail::Close)
            } else {
                Err(Fail::Code(Arc::from(v.code)))
            }
        }
        (None, Direction::Outbound) => connect_to(
            &st.shared,
            &table,
            src,
            upstream,
            st.shared.connect_timeout,
            &mut st.sec,
        )
        .await
        .map(|u| (u, upstream)),
        (Some(svc), Direction::Outbound) => {
            connect_service(&st.shared, &table, src, svc, &mut Vec::new(), &mut st.sec).await
        }
    };
    st.service = service;
    match connected {
        Ok((u, ep)) => {
            st.upstream = Some(u);
            st.upstream_addr = Some(ep);
        }
        Err(Fail::Close(r)) => {
            st.reason = Reason::Close(r);
            return;
        }
        Err(Fail::Code(code)) => {
            st.shared.stats.denied.fetch_add(1, Ordering::Relaxed);
            st.reason = Reason::Denied(code);
            return;
        }
    }
    st.shared.events.push(st.event(Kind::Open, Reason::None));
    match st.upstream.take() {
        Some(Upstream::Tcp(up)) => {
            let r = relay(
                &st.client,
                &up,
                st.shared.mode,
                st.shared.max_buffer,
                &mut st.tally,
            )
            .await;
            st.upstream = Some(Upstream::Tcp(up));
            st.reason = Reason::Close(r);
        }
        Some(Upstream::Tunnel(stream)) => {
            let Some(client) = Arc::get_mut(&mut st.client) else {
                st.reason = Reason::Close(CloseReason::IoError);
                return;
            };
            let out = Box::pin(hbone::relay(client, *stream, st.shared.max_buffer)).await;
            st.tally.up = out.up;
            st.tally.down = out.down;
            st.reason = Reason::Close(relay_end(out.end));
        }
        None => {}
    }
}

/// The close reason of a tunnelled relay's end.
pub fn relay_end(e: RelayEnd) -> CloseReason {
    match e {
        RelayEnd::Eof => CloseReason::Eof,
        RelayEnd::ResetClient => CloseReason::ResetClient,
        RelayEnd::ResetPeer => CloseReason::ResetUpstream,
        RelayEnd::IoError => CloseReason::IoError,
    }
}

/// A policy name to report ('' → none).
pub fn non_empty(name: &Arc<str>) -> Option<Arc<str>> {
    (!name.is_empty()).then(|| name.clone())
}

/// How long a connection of a pod whose certificate has not arrived yet waits for it.
const CERT_WAIT: Duration = Duration::from_secs(2);

/// Connects an outbound connection of local pod `src` to endpoint `ep`: a pod of this node →
/// authorize here (identity known, no TLS) and connect directly; a meshed pod of another node →
/// an HBONE stream through the pool (never plaintext: no certificate or a failed handshake fails
/// the connection); anything else is outside the mesh → a plain transparent connect.
pub async fn connect_to(
    shared: &Shared,
    table: &Table,
    src: SocketAddrV4,
    ep: SocketAddrV4,
    timeout: Duration,
    sec: &mut Security,
) -> Result<Upstream, Fail> {
    sec.src_identity = table.local_identity(*src.ip());
    if table.is_local_workload(*ep.ip()) {
        sec.dst_identity = table.local_identity(*ep.ip());
        let v = table.authz.evaluate(&AuthzInput {
            dst_ip: *ep.ip(),
            dst_port: ep.port(),
            src_ip: *src.ip(),
            identity: sec.src_identity.as_deref(),
            transport: Transport::Local,
        });
        sec.policy = non_empty(&v.policy);
        sec.audit = non_empty(&v.audit);
        let per_request = sec.per_request && table.authz.needs_http(*ep.ip(), ep.port());
        if !v.allow && !per_request {
            return Err(Fail::Code(Arc::from(v.code)));
        }
        return connect(*src.ip(), ep, shared.transparent, timeout)
            .await
            .map(Upstream::Tcp)
            .map_err(Fail::Close);
    }
    let Some(peer) = table.peer(*ep.ip()) else {
        return connect(*src.ip(), ep, shared.transparent, timeout)
            .await
            .map(Upstream::Tcp)
            .map_err(Fail::Close);
    };
    sec.dst_identity = Some(peer.identity.clone());
    sec.tls = true;
    let Some(src_id) = sec.src_identity.clone() else {
        return Err(Fail::Code(Arc::from("MESH_ERR_NO_CERTIFICATE")));
    };
    let waited = Instant::now();
    while !shared.certs.has(&src_id) {
        if waited.elapsed() >= CERT_WAIT.min(timeout) {
            return Err(Fail::Code(Arc::from("MESH_ERR_NO_CERTIFICATE")));
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let key = PoolKey {
        src_identity: src_id,
        dst_identity: peer.identity.clone(),
        dst_node: peer.node.clone(),
    };
    let dial = SocketAddrV4::new(*ep.ip(), shared.remote_tunnel_port());
    match tokio::time::timeout(
        timeout,
        Box::pin(shared.pool.connect(&key, dial, None, ep, src)),
    )
    .await
    {
        Err(_) => Err(Fail::Code(Arc::from("MESH_ERR_TUNNEL_TIMEOUT"))),
        Ok(Err(e)) => Err(Fail::Code(Arc::from(e.code()))),
        Ok(Ok(s)) => Ok(Upstream::Tunnel(Box::new(s))),
    }
}

/// Connects to one of a Service's endpoints: power of two choices over open connections, the
/// pick counted open at once (so concurrent connects see it). An endpoint that fails (refused,
/// unreachable, reset, tunnel failure) is pushed onto `tried` and another is picked among the
/// rest, until one connects, all were tried or the connect timeout is spent; the error is then the
/// last one. An authorization denial is final. A success stays counted open in the balancer until
/// the connection releases it.
pub async fn connect_service(
    shared: &Shared,
    table: &Table,
    src: SocketAddrV4,
    svc: &ServiceRoute,
    tried: &mut Vec<SocketAddrV4>,
    sec: &mut Security,
) -> Result<(Upstream, SocketAddrV4), Fail> {
    let deadline = Instant::now() + shared.connect_timeout;
    let mut last = Fail::Close(CloseReason::ConnectError);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(if tried.is_empty() {
                Fail::Close(CloseReason::ConnectTimeout)
            } else {
                last
            });
        }
        let Some(claim) = shared.balancer.claim(&svc.endpoints, tried) else {
            return Err(last);
        };
        let ep = claim.endpoint();
        match connect_to(shared, table, src, ep, left, sec).await {
            Ok(s) => return Ok((s, claim.keep())),
            Err(Fail::Code(c)) if c.as_ref() == AUTHZ_DENIED || c.as_ref() == MTLS_REQUIRED => {
                return Err(Fail::Code(c))
            }
            Err(r) => {
                // dropping the claim uncounts the failed endpoint
                last = r;
                tried.push(ep);
            }
        }
    }
}

/// Asks the kernel to pick the source port at connect() time (by 4-tuple), not at bind(), so
/// many upstream connections from one pod IP do not exhaust the ephemeral range.
fn bind_address_no_port(s: &TcpSocket) {
    let one: libc::c_int = 1;
    // SAFETY: the descriptor is open (borrowed from `s`), and the option value points to a c_int
    // that outlives the call, with its exact length.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

/// Connects to `to` from `bind_ip` (the client's IP; IP_TRANSPARENT lets us bind a foreign
/// address), with TCP_NODELAY and a timeout. Failures map to the connect close reasons.
pub async fn connect(
    bind_ip: Ipv4Addr,
    to: SocketAddrV4,
    transparent: bool,
    timeout: Duration,
) -> Result<TcpStream, CloseReason> {
    let sock = TcpSocket::new_v4().map_err(|_| CloseReason::ConnectError)?;
    if transparent {
        SockRef::from(&sock)
            .set_ip_transparent_v4(true)
            .map_err(|_| CloseReason::ConnectError)?;
    }
    bind_address_no_port(&sock);
    let _ = sock.set_nodelay(true);
    sock.bind(SocketAddr::V4(SocketAddrV4::new(bind_ip, 0)))
        .map_err(|_| CloseReason::ConnectError)?;
    match tokio::time::timeout(timeout, sock.connect(SocketAddr::V4(to))).await {
        Err(_) => Err(CloseReason::ConnectTimeout),
        Ok(Err(e)) => Err(match e.kind() {
            io::ErrorKind::ConnectionRefused => CloseReason::ConnectRefused,
            io::ErrorKind::TimedOut => CloseReason::ConnectTimeout,
            _ => CloseReason::ConnectError,
        }),
        Ok(Ok(s)) => Ok(s),
    }
}
