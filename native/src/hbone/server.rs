//! The HBONE server side of one accepted connection: TLS 1.3 presenting the dialled pod's
//! certificate and requiring a client certificate of our trust domain, then HTTP/2 whose streams
//! must be CONNECT to `ip:port`. A bad stream is answered 400 and closes only that stream; a
//! protocol violation or TLS failure closes only this connection.

use std::future::Future;
use std::net::SocketAddrV4;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use h2::server::{Connection, SendResponse};
use http::{Method, Request, Response, StatusCode};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use super::certs::{unix_now, CertStore};
use super::error::{count, from_h2, handshake_failed, HboneError, Reason, Side};
use super::keepalive::{dead_peer, Keepalive};
use super::stream::HboneStream;
use super::verify::{identity_in_domain, LeafInfo};

const STREAM_WINDOW: u32 = 4 << 20;
const CONN_WINDOW: u32 = 16 << 20;
const MAX_FRAME: u32 = 1 << 20;
const MAX_HEADER_LIST: u32 = 64 << 10;
/// Streams a peer may have open on one connection (ztunnel advertises 200).
const MAX_STREAMS: u32 = 200;

/// One established HBONE connection from a peer proxy.
pub struct ServerConn {
    conn: Connection<TlsStream<TcpStream>, Bytes>,
    /// resolves when the client stopped answering our PINGs
    dead: Pin<Box<dyn Future<Output = ()> + Send>>,
    peer: Arc<str>,
    /// Unix seconds when the client's leaf expires: later streams are refused (401)
    peer_not_after: i64,
}

/// One CONNECT stream waiting for our answer.
pub struct InboundRequest {
    /// the original destination (`:authority`)
    pub authority: SocketAddrV4,
    /// the client pod's address from `forwarded: for="ip:port"`, when present and well-formed
    pub forwarded_for: Option<SocketAddrV4>,
    respond: SendResponse<Bytes>,
    recv: h2::RecvStream,
}

/// TLS-accepts `tcp` presenting `local_identity`'s certificate, then the HTTP/2 handshake; all
/// within `timeout`. The client's certificate is verified by the store's bundle and trust domain.
pub async fn accept(
    tcp: TcpStream,
    certs: &CertStore,
    local_identity: &str,
    timeout: Duration,
) -> Result<ServerConn, HboneError> {
    let snap = certs.snapshot();
    let cfg = snap
        .server_config(local_identity)
        .inspect_err(|_| count(Side::Server, Reason::Other))?;
    let td = certs.trust_domain();
    drop(snap);
    let _ = tcp.set_nodelay(true);
    let work = async {
        let tls = TlsAcceptor::from(cfg)
            .accept(tcp)
            .await
            .map_err(|e| handshake_failed(Side::Server, &e))?;
        // the verifier accepted the chain and the trust domain; read the identity it checked
        let leaf = tls.get_ref().1.peer_certificates().and_then(|c| c.first());
        let peer_not_after = leaf
            .and_then(|l| LeafInfo::parse(l).ok())
            .map_or(0, |l| l.not_after);
        let peer = leaf.and_then(|leaf| td.as_deref().and_then(|td| identity_in_domain(leaf, td)));
        let Some(peer) = peer else {
            count(Side::Server, Reason::WrongTrustDomain);
            return Err(HboneError::PeerIdentity(
                "the client certificate carries no SPIFFE identity of our trust domain".into(),
            ));
        };
        count(Side::Server, Reason::Ok);
        let conn = h2::server::Builder::new()
            .initial_window_size(STREAM_WINDOW)
            .initial_connection_window_size(CONN_WINDOW)
            .max_frame_size(MAX_FRAME)
            .max_header_list_size(MAX_HEADER_LIST)
            .max_concurrent_streams(MAX_STREAMS)
            .handshake::<_, Bytes>(tls)
            .await
            .map_err(from_h2)?;
        let mut conn = conn;
        let dead = Box::pin(dead_peer(conn.ping_pong(), Keepalive::default()));
        Ok(ServerConn {
            conn,
            dead,
            peer: Arc::from(peer.as_str()),
            peer_not_after,
        })
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(r) => r,
        Err(_) => {
            count(Side::Server, Reason::Timeout);
            Err(HboneError::Timeout)
        }
    }
}

impl ServerConn {
    /// The client's verified SPIFFE identity.
    pub fn peer_identity(&self) -> Arc<str> {
        self.peer.clone()
    }

    /// The next well-formed CONNECT stream; malformed ones are answered 400 here. None when the
    /// connection ended (closed by the peer, or a protocol error: the connection is dropped).
    /// Must be polled continuously: it also drives the connection's I/O.
    pub async fn next(&mut self) -> Option<InboundRequest> {
        loop {
            let next = tokio::select! {
                n = self.conn.accept() => n,
                _ = &mut self.dead => {
                    count(Side::Server, Reason::Timeout);
                    return None; // no PONG in time: drop the connection
                }
            };
            let (req, mut respond) = match next? {
                Ok(r) => r,
                Err(_) => return None,
            };
            if unix_now() >= self.peer_not_after {
                // the handshake was valid, the client's certificate is not any more
                count(Side::Server, Reason::Expired);
                let _ = respond.send_response(status_only(401), true);
                continue;
            }
            match parse(&req) {
                Ok((authority, forwarded_for)) => {
                    return Some(InboundRequest {
                        authority,
                        forwarded_for,
                        respond,
                        recv: req.into_body(),
                    })
                }
                Err(status) => {
                    let _ = respond.send_response(status_only(status), true);
                }
            }
        }
    }
}

fn status_only(code: u16) -> Response<()> {
    let mut r = Response::new(());
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST);
    r
}

/// `:method CONNECT` with an `ip:port` authority, else 400; reads `forwarded: for="ip:port"`.
fn parse(req: &Request<h2::RecvStream>) -> Result<(SocketAddrV4, Option<SocketAddrV4>), u16> {
    if req.method() != Method::CONNECT {
        return Err(400);
    }
    let authority = req
        .uri()
        .authority()
        .and_then(|a| a.as_str().parse::<SocketAddrV4>().ok())
        .ok_or(400u16)?;
    let forwarded_for = req
        .headers()
        .get("forwarded")
        .and_then(|v| v.to_str().ok())
        .and_then(forwarded_for);
    Ok((authority, forwarded_for))
}

/// The `for=` of an RFC 7239 `forwarded` value (first element), quoted or not.
pub(crate) fn forwarded_for(v: &str) -> Option<SocketAddrV4> {
    let first = v.split(',').next()?;
    first.split(';').find_map(|pair| {
        let (k, val) = pair.trim().split_once('=')?;
        if !k.trim().eq_ignore_ascii_case("for") {
            return None;
        }
        val.trim().trim_matches('"').parse().ok()
    })
}

impl InboundRequest {
    /// Answers 200 and returns the stream to relay.
    pub fn accept(mut self) -> Result<HboneStream, HboneError> {
        let send = self
            .respond
            .send_response(status_only(200), false)
            .map_err(from_h2)?;
        Ok(HboneStream::new(send, self.recv, None))
    }

    /// Answers `status` (400 bad authority, 401 denied, 503 upstream failed) and ends the stream.
    pub fn refuse(mut self, status: u16) {
        let _ = self.respond.send_response(status_only(status), true);
    }
}

#[cfg(test)]
mod tests {
    use super::forwarded_for;

    #[test]
    fn forwarded_for_forms() {
        let a = "10.0.0.1:4000".parse().ok();
        for (v, want) in [
            ("for=\"10.0.0.1:4000\"", a),
            ("for=10.0.0.1:4000", a),
            ("for=\"10.0.0.1:4000\";host=svc.ns", a),
            ("host=x;For=\"10.0.0.1:4000\"", a),
            ("for=\"10.0.0.1:4000\", for=\"10.9.9.9:1\"", a),
            ("for=\"[::1]:4000\"", None),
            ("for=unknown", None),
            ("", None),
        ] {
            assert_eq!(forwarded_for(v), want, "{v}");
        }
    }
}
