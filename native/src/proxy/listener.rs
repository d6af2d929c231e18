//! The two capture listeners: transparent (IP_TRANSPARENT) TCP sockets on 0.0.0.0:outboundPort
//! and 0.0.0.0:inboundPort in the calling thread's network namespace, and their accept loops,
//! which spawn one task per connection and never wait on JavaScript.

use std::io;
use std::net::SocketAddrV4;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::TcpListener;

use super::conn;
use super::engine::Shared;
use super::table::Direction;
use crate::errors::{err, Code, JsError, Result};

const BACKLOG: i32 = 4096;

fn listen_err(addr: SocketAddrV4, what: &str, step: &str, e: io::Error) -> JsError {
    let fix = match e.raw_os_error() {
        Some(libc::EADDRINUSE) => format!(
            "another nodemesh agent or process holds port {}; stop it or choose another {what}",
            addr.port()
        ),
        Some(libc::EPERM) | Some(libc::EACCES) => {
            "the proxy needs CAP_NET_ADMIN; run the agent as root".to_string()
        }
        Some(libc::EADDRNOTAVAIL) => {
            format!("{} is not an address of this network namespace", addr.ip())
        }
        _ => "check the port and the network namespace the agent runs in".to_string(),
    };
    err(
        Code::Listen,
        format!("cannot listen on {addr} ({what}): {step} failed: {e}; {fix}"),
    )
}

/// Opens a listening socket (nonblocking, SO_REUSEADDR, optionally IP_TRANSPARENT).
pub fn bind(addr: SocketAddrV4, transparent: bool, what: &str) -> Result<std::net::TcpListener> {
    let s = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))
        .map_err(|e| listen_err(addr, what, "socket", e))?;
    s.set_reuse_address(true)
        .map_err(|e| listen_err(addr, what, "SO_REUSEADDR", e))?;
    if transparent {
        s.set_ip_transparent_v4(true)
            .map_err(|e| listen_err(addr, what, "IP_TRANSPARENT", e))?;
    }
    s.set_nonblocking(true)
        .map_err(|e| listen_err(addr, what, "O_NONBLOCK", e))?;
    s.bind(&addr.into())
        .map_err(|e| listen_err(addr, what, "bind", e))?;
    s.listen(BACKLOG)
        .map_err(|e| listen_err(addr, what, "listen", e))?;
    Ok(s.into())
}

/// Accepts until the runtime shuts down. Running out of descriptors or memory backs off briefly
/// instead of spinning; other accept errors (a client that reset before accept) are skipped.
pub async fn accept_loop(listener: TcpListener, dir: Direction, shared: Arc<Shared>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                shared.stats.accepted.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(conn::handle(shared.clone(), stream, dir));
            }
            Err(e) => match e.raw_os_error() {
                Some(libc::EMFILE) | Some(libc::ENFILE) | Some(libc::ENOBUFS)
                | Some(libc::ENOMEM) => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                _ => tokio::task::yield_now().await,
            },
        }
    }
}
