//! HTTP/2 PING keepalive on pooled HBONE connections, as ztunnel does: both sides send a PING every
//! 10 s (the first after 10 s) and close the connection when no PONG came back within 20 s, so a
//! peer node that vanished without a FIN or RST does not keep a pool entry (and its streams) forever.

use std::time::Duration;

/// PING period and PONG deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keepalive {
    pub interval: Duration,
    pub timeout: Duration,
}

impl Default for Keepalive {
    fn default() -> Keepalive {
        Keepalive {
            interval: Duration::from_secs(10),
            timeout: Duration::from_secs(20),
        }
    }
}

/// Resolves when the peer failed to answer a PING in time (or the PING could not be sent: the
/// connection is gone). Never resolves while the peer answers. Without a handle: never resolves.
pub(crate) async fn dead_peer(pp: Option<h2::PingPong>, ka: Keepalive) {
    let Some(mut pp) = pp else {
        return std::future::pending().await;
    };
    loop {
        tokio::time::sleep(ka.interval).await;
        match tokio::time::timeout(ka.timeout, pp.ping(h2::Ping::opaque())).await {
            Ok(Ok(_pong)) => {}
            Ok(Err(_)) | Err(_) => return,
        }
    }
}
