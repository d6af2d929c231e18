//! One captured connection: decide from the table, connect upstream transparently from the
//! client's own IP, relay, report. `ConnState` is all a connection holds besides relay buffers;
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

use super::engine::Shared;
use super::events::{Event, Kind, Reason};
use super::relay::{relay, CloseReason, Tally};
use super::services::{ServiceRoute, NO_ENDPOINTS};
use super::table::{Decision, Direction};

/// Per-connection state (kept small: see the size test).
pub struct ConnState {
    shared: Arc<Shared>,
    client: TcpStream,
    upstream: Option<TcpStream>,
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
        }
    }
}

impl Drop for ConnState {
    fn drop(&mut self) {
        if self.reason != Reason::Close(CloseReason::Eof) {
            reset(&self.client);
            if let Some(u) = &self.upstream {
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
        client,
        upstream: None,
        dir,
        start: Instant::now(),
        tally: Tally::default(),
        reason: Reason::Close(CloseReason::Shutdown),
        service: None,
        upstream_addr: None,
    };
    let (Some(src), Some(dst)) = (src, dst) else {
        // The client reset before we could read its addresses.
        st.reason = Reason::Close(CloseReason::ResetClient);
        return;
    };
    let (upstream, bind_ip, service) = match st.shared.decide(dir, src, dst) {
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
    let _ = st.client.set_nodelay(true);
    let connected = match &service {
        None => connect(
            bind_ip,
            upstream,
            st.shared.transparent,
            st.shared.connect_timeout,
        )
        .await
        .map(|s| (s, upstream)),
        Some(svc) => connect_service(&st.shared, bind_ip, svc, &mut Vec::new()).await,
    };
    st.service = service;
    match connected {
        Ok((u, ep)) => {
            st.upstream = Some(u);
            st.upstream_addr = Some(ep);
        }
        Err(r) => {
            st.reason = Reason::Close(r);
            return;
        }
    }
    st.shared.events.push(st.event(Kind::Open, Reason::None));
    if let Some(up) = &st.upstream {
        let r = relay(
            &st.client,
            up,
            st.shared.mode,
            st.shared.max_buffer,
            &mut st.tally,
        )
        .await;
        st.reason = Reason::Close(r);
    }
}

/// Connects to one of a Service's endpoints: power of two choices over open connections, the
/// pick counted open at once (so concurrent connects see it). An endpoint that fails (refused,
/// unreachable, reset) is pushed onto `tried` and another is picked among the rest, until one
/// connects, all were tried or the connect timeout is spent; the error is then the last one
/// (`connect_timeout` when the budget ran out in a connect). A success stays counted open in the
/// balancer until the connection releases it.
pub async fn connect_service(
    shared: &Shared,
    bind_ip: Ipv4Addr,
    svc: &ServiceRoute,
    tried: &mut Vec<SocketAddrV4>,
) -> Result<(TcpStream, SocketAddrV4), CloseReason> {
    let deadline = Instant::now() + shared.connect_timeout;
    let mut last = CloseReason::ConnectError;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(if tried.is_empty() {
                CloseReason::ConnectTimeout
            } else {
                last
            });
        }
        let Some(claim) = shared.balancer.claim(&svc.endpoints, tried) else {
            return Err(last);
        };
        let ep = claim.endpoint();
        match connect(bind_ip, ep, shared.transparent, left).await {
            Ok(s) => return Ok((s, claim.keep())),
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
