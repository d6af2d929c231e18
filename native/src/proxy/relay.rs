//! The byte relay between an accepted client socket and its upstream socket: both directions run
//! concurrently in one task, EOF on one side half-closes the other, an error on either side ends
//! the connection with a stable close reason, and counts live in the caller's `Tally` so nothing is
//! lost on error or cancellation. Plain TCP only: it knows nothing about transparent sockets.

use std::future::Future;
use std::io;
use std::net::Shutdown;
use std::pin::{pin, Pin};

use socket2::SockRef;
use tokio::net::TcpStream;

use super::splice::{self, Pipe};

/// How a connection ended; `as_str()` is the stable reason JavaScript sees (docs/errors.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseReason {
    Eof,
    ResetClient,
    ResetUpstream,
    IoError,
    Shutdown,
    ConnectRefused,
    ConnectTimeout,
    ConnectError,
}

impl CloseReason {
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::Eof => "eof",
            CloseReason::ResetClient => "reset_client",
            CloseReason::ResetUpstream => "reset_upstream",
            CloseReason::IoError => "io_error",
            CloseReason::Shutdown => "shutdown",
            CloseReason::ConnectRefused => "connect_refused",
            CloseReason::ConnectTimeout => "connect_timeout",
            CloseReason::ConnectError => "connect_error",
        }
    }
}

/// Which socket an error came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Client,
    Upstream,
}

impl Side {
    fn other(self) -> Side {
        match self {
            Side::Client => Side::Upstream,
            Side::Upstream => Side::Client,
        }
    }
}

/// How bytes move. `Splice` is the production choice (see mod.rs); `Copy` is the fallback when
/// pipes cannot be created, and the baseline the throughput test compares against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Copy,
    Splice,
}

/// Per-connection byte counts, owned by the connection so they survive errors and cancellation.
/// `peak_*` is the largest number of bytes the relay held at once in one direction (tests assert
/// it never exceeds the configured bound).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub up: u64,
    pub down: u64,
    pub peak_up: u32,
    pub peak_down: u32,
}

/// Counters of one direction.
pub(super) struct Dir<'a> {
    pub bytes: &'a mut u64,
    pub peak: &'a mut u32,
}

impl Dir<'_> {
    pub(super) fn held(&mut self, n: usize) {
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        if n > *self.peak {
            *self.peak = n;
        }
    }
}

/// Failure of one direction: the side whose socket failed, and the error.
pub(super) type DirResult = Result<(), (Side, io::Error)>;

/// First buffer of a copy direction; it grows ×4 on every read that fills it, up to the bound.
const COPY_INITIAL: usize = 4096;

/// Relays until both directions end (`Eof`) or one fails. `max_buffer` bounds the bytes held per
/// direction. Never panics on peer behaviour; errors become close reasons.
pub async fn relay(
    client: &TcpStream,
    upstream: &TcpStream,
    mode: Mode,
    max_buffer: usize,
    tally: &mut Tally,
) -> CloseReason {
    let pipes = match mode {
        Mode::Splice => Pipe::new(max_buffer)
            .and_then(|a| Ok((a, Pipe::new(max_buffer)?)))
            .ok(),
        Mode::Copy => None,
    };
    let Tally {
        up,
        down,
        peak_up,
        peak_down,
    } = tally;
    let up = Dir {
        bytes: up,
        peak: peak_up,
    };
    let down = Dir {
        bytes: down,
        peak: peak_down,
    };
    match pipes {
        Some((p_up, p_down)) => {
            let a = pin!(splice::pump(client, upstream, Side::Client, &p_up, up));
            let b = pin!(splice::pump(
                upstream,
                client,
                Side::Upstream,
                &p_down,
                down
            ));
            both(a, b).await
        }
        None => copy_both(client, upstream, max_buffer, up, down).await,
    }
}

async fn copy_both(
    client: &TcpStream,
    upstream: &TcpStream,
    max: usize,
    up: Dir<'_>,
    down: Dir<'_>,
) -> CloseReason {
    let a = pin!(copy_pump(client, upstream, Side::Client, max, up));
    let b = pin!(copy_pump(upstream, client, Side::Upstream, max, down));
    both(a, b).await
}

/// Waits until `s` may be readable (the per-direction waker slot: no waiter node in the future,
/// which keeps the per-connection future small; each direction polls one slot of each socket).
pub(super) async fn read_ready(s: &TcpStream, side: Side) -> DirResult {
    std::future::poll_fn(|cx| s.poll_read_ready(cx))
        .await
        .map_err(|e| (side, e))
}

/// Waits until `s` may be writable (see `read_ready`).
pub(super) async fn write_ready(s: &TcpStream, side: Side) -> DirResult {
    std::future::poll_fn(|cx| s.poll_write_ready(cx))
        .await
        .map_err(|e| (side, e))
}

/// Drives both directions; the connection ends cleanly when both finish, or at the first error.
async fn both<A: Future<Output = DirResult>, B: Future<Output = DirResult>>(
    mut a: Pin<&mut A>,
    mut b: Pin<&mut B>,
) -> CloseReason {
    let (mut a_done, mut b_done) = (false, false);
    while !(a_done && b_done) {
        let r = tokio::select! {
            r = a.as_mut(), if !a_done => { a_done = true; r }
            r = b.as_mut(), if !b_done => { b_done = true; r }
        };
        if let Err((side, e)) = r {
            return classify(side, &e);
        }
    }
    CloseReason::Eof
}

/// Maps an I/O error of one side to a close reason.
pub fn classify(side: Side, e: &io::Error) -> CloseReason {
    use io::ErrorKind::*;
    match e.kind() {
        ConnectionReset | ConnectionAborted | BrokenPipe | NotConnected | UnexpectedEof => {
            match side {
                Side::Client => CloseReason::ResetClient,
                Side::Upstream => CloseReason::ResetUpstream,
            }
        }
        _ => CloseReason::IoError,
    }
}

/// Half-closes `dst` after its source sent FIN.
pub(super) fn shutdown_write(dst: &TcpStream, dst_side: Side) -> DirResult {
    SockRef::from(dst)
        .shutdown(Shutdown::Write)
        .map_err(|e| (dst_side, e))
}

/// One direction through a userspace buffer (allocated on first data, grown while reads fill it).
async fn copy_pump(
    src: &TcpStream,
    dst: &TcpStream,
    src_side: Side,
    max: usize,
    mut dir: Dir<'_>,
) -> DirResult {
    let dst_side = src_side.other();
    let mut buf: Vec<u8> = Vec::new();
    let mut cap = COPY_INITIAL.min(max);
    loop {
        if buf.len() < cap {
            read_ready(src, src_side).await?;
            buf = vec![0u8; cap];
        }
        let n = match src.try_read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                read_ready(src, src_side).await?;
                continue;
            }
            Err(e) => return Err((src_side, e)),
        };
        if n == 0 {
            return shutdown_write(dst, dst_side);
        }
        dir.held(n);
        let mut off = 0;
        while off < n {
            match dst.try_write(&buf[off..n]) {
                Ok(m) => {
                    off += m;
                    *dir.bytes += m as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    write_ready(dst, dst_side).await?
                }
                Err(e) => return Err((dst_side, e)),
            }
        }
        if n == buf.len() && cap < max {
            cap = cap.saturating_mul(4).min(max);
        }
    }
}
