//! Upstream HTTP connections of the L7 proxy, pooled per (client pod IP, endpoint, protocol): a
//! transparent TCP connection from the client's own IP (same node, or outside the mesh) or an
//! HBONE CONNECT stream to the endpoint's node (`proxy::conn::connect_to` decides which and runs
//! same-node authorization), with a hyper HTTP/1.1 or HTTP/2 client on top.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};

use super::io::HboneIo;
use crate::proxy::conn::{connect_to, Fail, Security, Upstream};
use crate::proxy::engine::Shared;
use crate::proxy::table::Table;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// Request and response bodies as the proxy moves them (streamed or a bounded buffer).
pub type Body = BoxBody<Bytes, BoxError>;

/// Most idle HTTP/1.1 connections kept per key. All the keep-alive connections of one client pod
/// to one endpoint share a key, so this must exceed their concurrency, or every response past it
/// closes its upstream and the next request dials again (32 made 64 fortio connections open 3,268
/// upstreams for 33,110 requests). Idle ones close when the server ends them (keep-alive timeout).
const MAX_IDLE_H1: usize = 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Proto {
    H1,
    H2,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    pub client: Ipv4Addr,
    pub endpoint: SocketAddrV4,
    pub proto: Proto,
}

/// A hyper client handle on one upstream connection.
pub enum Sender {
    H1(http1::SendRequest<Body>),
    H2(http2::SendRequest<Body>),
}

impl Sender {
    fn usable(&self) -> bool {
        match self {
            Sender::H1(s) => s.is_ready() && !s.is_closed(),
            Sender::H2(s) => s.is_ready() && !s.is_closed(),
        }
    }

    pub(crate) fn closed(&self) -> bool {
        match self {
            Sender::H1(s) => s.is_closed(),
            Sender::H2(s) => s.is_closed(),
        }
    }

    /// Sends one request; the response head arrives when the future resolves.
    pub async fn send(
        &mut self,
        req: http::Request<Body>,
    ) -> hyper::Result<http::Response<hyper::body::Incoming>> {
        match self {
            Sender::H1(s) => {
                s.ready().await?;
                s.send_request(req).await
            }
            Sender::H2(s) => {
                s.ready().await?;
                s.send_request(req).await
            }
        }
    }
}

/// Idle (HTTP/1.1) and shared (HTTP/2) upstream connections.
#[derive(Default)]
pub struct Pool {
    idle: Mutex<HashMap<Key, Vec<Sender>>>,
}

impl Pool {
    /// A pooled connection ready for a request: an HTTP/2 one is shared (cloned), an idle
    /// HTTP/1.1 one is taken out until [`Pool::put`] returns it.
    pub fn take(&self, key: &Key) -> Option<Sender> {
        let mut m = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let list = m.get_mut(key)?;
        list.retain(|s| !s.closed());
        let found = match key.proto {
            Proto::H2 => list.iter().find_map(|s| match s {
                Sender::H2(h) if s.usable() => Some(Sender::H2(h.clone())),
                _ => None,
            }),
            Proto::H1 => list
                .iter()
                .position(Sender::usable)
                .map(|i| list.swap_remove(i)),
        };
        if list.is_empty() {
            m.remove(key);
        }
        found
    }

    /// Returns a connection after its response head arrived (an HTTP/1.1 one becomes ready again
    /// once that response's body is read; `take` skips it until then).
    pub fn put(&self, key: Key, s: Sender) {
        let mut m = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let list = m.entry(key).or_default();
        match key.proto {
            Proto::H2 if !list.is_empty() => {}
            Proto::H1 if list.len() >= MAX_IDLE_H1 => {}
            _ => list.push(s),
        }
    }

    /// Drops every pooled connection to `endpoint` (after a connection-level failure).
    pub fn forget(&self, key: &Key) {
        self.idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}

/// Opens a new upstream connection for `key` from client `src` and runs hyper's client on it.
/// `upgrades`: an HTTP/1.1 connection that may switch protocols (WebSocket); never pooled.
pub async fn connect(
    shared: &Shared,
    table: &Table,
    src: SocketAddrV4,
    key: Key,
    timeout: Duration,
) -> Result<Sender, Fail> {
    let mut sec = Security {
        per_request: true,
        ..Security::default()
    };
    let up = connect_to(shared, table, src, key.endpoint, timeout, &mut sec).await?;
    let r = match up {
        Upstream::Tcp(s) => handshake(TokioIo::new(s), key.proto).await,
        Upstream::Tunnel(h) => handshake(TokioIo::new(HboneIo::new(*h)), key.proto).await,
    };
    r.map_err(|_| Fail::Close(crate::proxy::relay::CloseReason::ConnectError))
}

pub(crate) async fn handshake<T>(io: T, proto: Proto) -> hyper::Result<Sender>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    match proto {
        Proto::H1 => {
            let (s, conn) = http1::Builder::new().handshake(io).await?;
            tokio::spawn(async move {
                let _ = conn.with_upgrades().await;
            });
            Ok(Sender::H1(s))
        }
        Proto::H2 => {
            let (s, conn) = http2::Builder::new(TokioExecutor::new())
                .timer(TokioTimer::new())
                .keep_alive_interval(Duration::from_secs(10))
                .keep_alive_timeout(Duration::from_secs(20))
                .handshake(io)
                .await?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            Ok(Sender::H2(s))
        }
    }
}
