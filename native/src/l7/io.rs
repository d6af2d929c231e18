//! Byte streams hyper runs on: `ClientIo` is the captured client socket shared with the connection
//! state (which resets it on an abnormal end) and counts bytes both ways for the connection events;
//! `HboneIo` turns one HBONE CONNECT stream into AsyncRead/AsyncWrite so a hyper client can speak
//! HTTP inside the tunnel. Both apply backpressure: nothing is read or sent beyond what is asked.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use h2::{Reason, RecvStream, SendStream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::hbone::HboneStream;

/// Bytes moved on a client connection: `up` read from the client, `down` written to it.
#[derive(Default)]
pub struct Counts {
    pub up: AtomicU64,
    pub down: AtomicU64,
}

/// The client socket as hyper's server IO (readiness + try_read/try_write on a shared stream).
pub struct ClientIo {
    pub sock: Arc<TcpStream>,
    pub counts: Arc<Counts>,
    /// dropped with the IO (also when an upgraded connection's relay ends): the connection's
    /// owner waits for it before it reports the close
    pub done: tokio::sync::oneshot::Sender<()>,
}

impl AsyncRead for ClientIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            ready!(self.sock.poll_read_ready(cx))?;
            match self.sock.try_read(buf.initialize_unfilled()) {
                Ok(n) => {
                    buf.advance(n);
                    self.counts.up.fetch_add(n as u64, Ordering::Relaxed);
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for ClientIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.sock.poll_write_ready(cx))?;
            match self.sock.try_write(buf) {
                Ok(n) => {
                    self.counts.down.fetch_add(n as u64, Ordering::Relaxed);
                    return Poll::Ready(Ok(n));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let _ = socket2::SockRef::from(self.sock.as_ref()).shutdown(std::net::Shutdown::Write);
        Poll::Ready(Ok(()))
    }
}

/// One HBONE stream as a byte stream. Holds the pool slot until dropped (then the stream resets
/// if it is still open).
pub struct HboneIo {
    send: SendStream<Bytes>,
    recv: RecvStream,
    pending: Bytes,
    eof: bool,
    _stream_slot: Box<dyn Send + Sync>,
}

impl HboneIo {
    pub fn new(s: HboneStream) -> HboneIo {
        let HboneStream { send, recv, _slot } = s;
        HboneIo {
            send,
            recv,
            pending: Bytes::new(),
            eof: false,
            _stream_slot: Box::new(_slot),
        }
    }
}

fn h2_io(e: h2::Error) -> io::Error {
    if e.is_io() {
        e.into_io()
            .unwrap_or_else(|| io::Error::other("h2 connection failed"))
    } else {
        io::Error::new(io::ErrorKind::ConnectionReset, e)
    }
}

impl AsyncRead for HboneIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            if !self.pending.is_empty() {
                let n = self.pending.len().min(buf.remaining());
                let chunk = self.pending.split_to(n);
                buf.put_slice(&chunk);
                return Poll::Ready(Ok(()));
            }
            if self.eof {
                return Poll::Ready(Ok(()));
            }
            match ready!(self.recv.poll_data(cx)) {
                Some(Ok(b)) => {
                    let _ = self.recv.flow_control().release_capacity(b.len());
                    self.pending = b;
                }
                None => self.eof = true,
                Some(Err(e))
                    if e.is_reset()
                        && matches!(e.reason(), Some(Reason::NO_ERROR) | Some(Reason::CANCEL)) =>
                {
                    self.eof = true
                }
                Some(Err(e)) => return Poll::Ready(Err(h2_io(e))),
            }
        }
    }
}

impl AsyncWrite for HboneIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        self.send.reserve_capacity(buf.len());
        match ready!(self.send.poll_capacity(cx)) {
            None => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "HBONE stream closed",
            ))),
            Some(Err(e)) => Poll::Ready(Err(h2_io(e))),
            Some(Ok(0)) => {
                // capacity was assigned and taken back; ask again on the next poll
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            Some(Ok(cap)) => {
                let n = cap.min(buf.len());
                self.send
                    .send_data(Bytes::copy_from_slice(&buf[..n]), false)
                    .map_err(h2_io)?;
                Poll::Ready(Ok(n))
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let _ = self.send.send_data(Bytes::new(), true);
        Poll::Ready(Ok(()))
    }
}
