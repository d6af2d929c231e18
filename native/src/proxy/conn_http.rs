//! The HTTP paths of a captured connection: an outbound one to a Service port served by the L7
//! proxy (l7/proxy.rs), and one to a local pod port whose authorization has HTTP fields, served
//! request by request by l7/inbound.rs (same-node clients and plaintext from outside the mesh).

use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{ConnState, MTLS_REQUIRED};
use crate::l7::{
    self,
    detect::{self, Detected},
    inbound::{self, Inbound},
    io::{ClientIo, Counts},
    table::Protocol,
    upstream::Proto,
};
use crate::proxy::authz::{AuthzInput, Transport};
use crate::proxy::events::{Kind, Reason};
use crate::proxy::relay::CloseReason;

/// Whether an outbound connection to `dst` is served as HTTP: its Service port is in the HTTP
/// table with a known HTTP protocol, or `detect` and the client's first bytes are HTTP/1.x or the
/// h2c preface within the detection bound (anything else, TLS included, stays TCP).
pub(super) async fn l7_protocol(st: &ConnState, dst: SocketAddrV4) -> Option<Proto> {
    let table = st.shared.table();
    let http = table.http.as_ref()?;
    let port = http.port(dst)?;
    match port.protocol {
        Protocol::Tcp => None,
        Protocol::Http1 => Some(Proto::H1),
        Protocol::H2c | Protocol::Grpc => Some(Proto::H2),
        Protocol::Detect => match detect::sniff(&st.client, http.detect_timeout).await {
            Detected::Http1 => Some(Proto::H1),
            Detected::H2c => Some(Proto::H2),
            Detected::Tls | Detected::Tcp => None,
        },
    }
}

/// Serves the connection with the HTTP proxy (l7/proxy.rs): requests are routed and balanced one
/// by one, so the connection itself has no single upstream. Its open and close events count the
/// client's bytes as on the TCP path.
pub(super) async fn serve_http(
    st: &mut ConnState,
    src: SocketAddrV4,
    dst: SocketAddrV4,
    proto: Proto,
) {
    let _ = st.client.set_nodelay(true);
    st.sec.src_identity = st.shared.table().local_identity(*src.ip());
    st.shared.events.push(st.event(Kind::Open, Reason::None));
    let counts = Arc::new(Counts::default());
    let ok = l7::proxy::serve(
        st.shared.clone(),
        st.client.clone(),
        src,
        dst,
        proto,
        counts.clone(),
    )
    .await;
    served(st, &counts, ok);
}

/// A captured connection to local pod port `pod` whose authorization has HTTP fields: when its
/// first bytes are HTTP (within the detection bound) it is served request by request with the
/// client's identity (`transport`: a same-node pod's own, or none for plaintext) and true is
/// returned; false leaves the connection to the TCP path and its connection verdict. A STRICT
/// port refuses plaintext at the connection (the TCP path says MESH_ERR_MTLS_REQUIRED).
pub(super) async fn serve_local_http(
    st: &mut ConnState,
    src: SocketAddrV4,
    pod: SocketAddrV4,
    bind: Ipv4Addr,
    transport: Transport,
) -> bool {
    let table = st.shared.table();
    let logged = table.http.as_ref().is_some_and(|h| h.per_request(pod.ip()));
    if !table.is_local_workload(*pod.ip())
        || !(logged || table.authz.needs_http(*pod.ip(), pod.port()))
    {
        return false;
    }
    let identity = match transport {
        Transport::Local => table.local_identity(*src.ip()),
        _ => None,
    };
    let v = table.authz.evaluate(&AuthzInput {
        dst_ip: *pod.ip(),
        dst_port: pod.port(),
        src_ip: *src.ip(),
        identity: identity.as_deref(),
        transport,
    });
    if v.code == MTLS_REQUIRED {
        return false;
    }
    let timeout = table
        .http
        .as_ref()
        .map_or(detect::DEFAULT_DETECT_TIMEOUT, |h| h.detect_timeout);
    let dst_identity = table.local_identity(*pod.ip());
    drop(table);
    let proto = match detect::sniff(&st.client, timeout).await {
        Detected::Http1 => Proto::H1,
        Detected::H2c => Proto::H2,
        Detected::Tls | Detected::Tcp => return false,
    };
    let _ = st.client.set_nodelay(true);
    st.sec.src_identity = identity.clone();
    st.sec.dst_identity = dst_identity.clone();
    st.upstream_addr = Some(pod);
    st.shared.events.push(st.event(Kind::Open, Reason::None));
    let counts = Arc::new(Counts::default());
    let (done, finished) = tokio::sync::oneshot::channel::<()>();
    let io = ClientIo {
        sock: st.client.clone(),
        counts: counts.clone(),
        done,
    };
    let ctx = Inbound {
        shared: st.shared.clone(),
        src,
        dst: pod,
        bind,
        identity,
        dst_identity,
        transport,
    };
    let ok = inbound::serve(ctx, io, proto).await;
    let _ = finished.await;
    served(st, &counts, ok);
    true
}

/// The end of a connection served as HTTP: the bytes moved and a clean or reset close.
fn served(st: &mut ConnState, counts: &Counts, ok: bool) {
    st.tally.up = counts.up.load(Ordering::Relaxed);
    st.tally.down = counts.down.load(Ordering::Relaxed);
    st.reason = Reason::Close(if ok {
        CloseReason::Eof
    } else {
        CloseReason::ResetClient
    });
}
