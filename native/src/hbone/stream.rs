//! One HBONE CONNECT stream (h2 send + receive halves) and the byte relay between it and a TCP
//! socket. Flow control is explicit: capacity is reserved before sending and released only after
//! the bytes reached the socket, so a slow side bounds the memory held per stream.

use std::future::poll_fn;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use h2::{Reason, RecvStream, SendStream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::client::SlotGuard;
use super::error::{from_h2, HboneError};

/// One CONNECT stream, client or server side. Dropping it resets the stream if still open.
pub struct HboneStream {
    pub(crate) send: SendStream<Bytes>,
    pub(crate) recv: RecvStream,
    pub(crate) _slot: Option<SlotGuard>,
}

/// How a relay ended. `ResetClient`: the TCP side failed or reset; `ResetPeer`: the tunnel peer
/// reset the stream; `IoError`: the h2 connection under the stream failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayEnd {
    Eof,
    ResetClient,
    ResetPeer,
    IoError,
}

/// Bytes moved by [`relay`]: `up` tcp → stream, `down` stream → tcp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayOutcome {
    pub up: u64,
    pub down: u64,
    pub end: RelayEnd,
}

/// What a received h2 error means for the stream.
fn recv_end(e: &h2::Error) -> RelayEnd {
    match e.reason() {
        _ if e.is_io() || e.is_go_away() => RelayEnd::IoError,
        Some(Reason::NO_ERROR) | Some(Reason::CANCEL) if e.is_reset() => RelayEnd::Eof,
        Some(_) if e.is_reset() => RelayEnd::ResetPeer,
        _ => RelayEnd::IoError,
    }
}

impl HboneStream {
    pub(crate) fn new(send: SendStream<Bytes>, recv: RecvStream, slot: Option<SlotGuard>) -> Self {
        HboneStream {
            send,
            recv,
            _slot: slot,
        }
    }

    /// Sends `data` as DATA frames, waiting for flow-control capacity.
    pub async fn write(&mut self, data: Bytes) -> Result<(), HboneError> {
        send_all(&mut self.send, data).await.map_err(from_h2)
    }

    /// Half-closes our direction (empty DATA with END_STREAM).
    pub fn finish(&mut self) -> Result<(), HboneError> {
        self.send.send_data(Bytes::new(), true).map_err(from_h2)
    }

    /// Next chunk; `Ok(None)` at END_STREAM or on RST_STREAM NO_ERROR/CANCEL (read as EOF).
    pub async fn read(&mut self) -> Result<Option<Bytes>, HboneError> {
        match self.recv.data().await {
            None => Ok(None),
            Some(Ok(b)) => {
                let _ = self.recv.flow_control().release_capacity(b.len());
                Ok(Some(b))
            }
            Some(Err(e)) if recv_end(&e) == RelayEnd::Eof => Ok(None),
            Some(Err(e)) => Err(from_h2(e)),
        }
    }

    /// Resets the stream with CANCEL.
    pub fn reset(&mut self) {
        self.send.send_reset(Reason::CANCEL);
    }
}

async fn send_all(send: &mut SendStream<Bytes>, mut data: Bytes) -> Result<(), h2::Error> {
    while !data.is_empty() {
        send.reserve_capacity(data.len());
        let cap = match poll_fn(|cx| send.poll_capacity(cx)).await {
            Some(r) => r?,
            None => return Err(h2::Error::from(Reason::STREAM_CLOSED)),
        };
        if cap == 0 {
            continue;
        }
        let chunk = data.split_to(cap.min(data.len()));
        send.send_data(chunk, false)?;
    }
    Ok(())
}

/// tcp → stream until tcp EOF (then END_STREAM). Also watches for the peer resetting the stream.
async fn upstream(
    rd: &mut tokio::net::tcp::ReadHalf<'_>,
    send: &mut SendStream<Bytes>,
    max: usize,
    n: &AtomicU64,
) -> RelayEnd {
    let mut buf = BytesMut::with_capacity(max);
    loop {
        buf.reserve(max);
        let read = tokio::select! {
            r = rd.read_buf(&mut buf) => r,
            r = poll_fn(|cx| send.poll_reset(cx)) => return match r {
                Ok(Reason::NO_ERROR) | Ok(Reason::CANCEL) => RelayEnd::Eof,
                Ok(_) => RelayEnd::ResetPeer,
                Err(e) => recv_end(&e),
            },
        };
        match read {
            Ok(0) => {
                return match send.send_data(Bytes::new(), true) {
                    Ok(()) => RelayEnd::Eof,
                    Err(e) => recv_end(&e),
                }
            }
            Ok(k) => {
                if let Err(e) = send_all(send, buf.split().freeze()).await {
                    return recv_end(&e);
                }
                n.fetch_add(k as u64, Ordering::Relaxed);
            }
            Err(_) => return RelayEnd::ResetClient,
        }
    }
}

/// stream → tcp until END_STREAM (then shutdown(Write)); capacity released after each write.
async fn downstream(
    wr: &mut tokio::net::tcp::WriteHalf<'_>,
    recv: &mut RecvStream,
    n: &AtomicU64,
) -> RelayEnd {
    loop {
        match recv.data().await {
            Some(Ok(b)) => {
                let len = b.len();
                if wr.write_all(&b).await.is_err() {
                    return RelayEnd::ResetClient;
                }
                n.fetch_add(len as u64, Ordering::Relaxed);
                let _ = recv.flow_control().release_capacity(len);
            }
            None => {
                let _ = wr.shutdown().await;
                return RelayEnd::Eof;
            }
            Some(Err(e)) => return recv_end(&e),
        }
    }
}

/// Moves bytes both ways until both directions finished, or until either side resets (then the
/// other is reset too: RST_STREAM CONNECT_ERROR towards the peer, SO_LINGER 0 on the socket so the
/// caller's close sends a TCP RST).
pub async fn relay(tcp: &mut TcpStream, stream: HboneStream, max_buffer: usize) -> RelayOutcome {
    let HboneStream {
        mut send,
        mut recv,
        _slot,
    } = stream;
    let max = max_buffer.clamp(1024, 16 << 20);
    let (up_n, down_n) = (AtomicU64::new(0), AtomicU64::new(0));
    let end = {
        let (mut rd, mut wr) = tcp.split();
        let mut up = pin!(upstream(&mut rd, &mut send, max, &up_n));
        let mut down = pin!(downstream(&mut wr, &mut recv, &down_n));
        let (mut u, mut d) = (None, None);
        loop {
            tokio::select! {
                r = &mut up, if u.is_none() => u = Some(r),
                r = &mut down, if d.is_none() => d = Some(r),
            }
            // A reset (or a stream reset read as EOF while we still had data to send) ends both.
            let fatal = |x: Option<RelayEnd>| matches!(x, Some(e) if e != RelayEnd::Eof);
            if fatal(u) || fatal(d) {
                break if fatal(u) { u } else { d }.unwrap_or(RelayEnd::IoError);
            }
            if u.is_some() && d.is_some() {
                break RelayEnd::Eof;
            }
        }
    };
    match end {
        RelayEnd::Eof => {}
        RelayEnd::ResetClient => {
            send.send_reset(Reason::CONNECT_ERROR);
            linger_zero(tcp);
        }
        RelayEnd::ResetPeer | RelayEnd::IoError => {
            send.send_reset(Reason::CANCEL);
            linger_zero(tcp);
        }
    }
    RelayOutcome {
        up: up_n.load(Ordering::Relaxed),
        down: down_n.load(Ordering::Relaxed),
        end,
    }
}

fn linger_zero(tcp: &TcpStream) {
    let _ = socket2::SockRef::from(tcp).set_linger(Some(Duration::ZERO));
}
