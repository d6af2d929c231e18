//! Zero-copy direction of the relay: socket → pipe → socket with splice(2), one nonblocking pipe
//! per direction whose capacity is the per-direction buffer bound. EAGAIN is turned into tokio
//! readiness waits on the sockets (`try_io` clears readiness only when the syscall said so).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use tokio::io::Interest;
use tokio::net::TcpStream;

use super::relay::{read_ready, shutdown_write, write_ready, Dir, DirResult, Side};

/// Smallest pipe the kernel makes (one page); `maxBufferBytes` is validated to be at least this.
const MIN_PIPE: usize = 4096;

/// A nonblocking pipe used as the buffer of one direction.
pub struct Pipe {
    r: OwnedFd,
    w: OwnedFd,
    cap: usize,
}

impl Pipe {
    /// Creates a pipe holding at most `max` bytes: the largest power of two ≤ `max` (the kernel
    /// rounds pipe sizes up to a power-of-two number of pages, so this never exceeds the bound).
    pub fn new(max: usize) -> io::Result<Pipe> {
        let mut fds: [libc::c_int; 2] = [-1, -1];
        // SAFETY: `fds` is a writable array of two c_ints, as pipe2(2) requires.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: pipe2 succeeded, so both descriptors are open and owned by nothing else.
        let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        let max = max.max(MIN_PIPE);
        let want = 1usize << (usize::BITS - 1 - max.leading_zeros());
        let want = libc::c_int::try_from(want).unwrap_or(1 << 30);
        // SAFETY: fcntl on a descriptor we own, with an integer argument.
        let mut cap = unsafe { libc::fcntl(w.as_raw_fd(), libc::F_SETPIPE_SZ, want) };
        if cap < 0 {
            // Above pipe-max-size without CAP_SYS_RESOURCE: keep the current size if it fits.
            // SAFETY: as above; F_GETPIPE_SZ takes no argument.
            cap = unsafe { libc::fcntl(w.as_raw_fd(), libc::F_GETPIPE_SZ) };
        }
        match usize::try_from(cap) {
            Ok(cap) if cap > 0 && cap <= max => Ok(Pipe { r, w, cap }),
            _ => Err(io::Error::other(format!(
                "pipe of {cap} bytes does not fit the {max}-byte bound"
            ))),
        }
    }

    #[cfg(test)]
    pub fn capacity(&self) -> usize {
        self.cap
    }
}

/// One splice(2) call between two descriptors, nonblocking.
fn splice_fds(from: RawFd, to: RawFd, len: usize) -> io::Result<usize> {
    // SAFETY: both descriptors belong to live objects borrowed by the caller for the whole call
    // (a TcpStream and a Pipe); null offsets are required for sockets and pipes.
    let n = unsafe {
        libc::splice(
            from,
            std::ptr::null_mut(),
            to,
            std::ptr::null_mut(),
            len,
            libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK,
        )
    };
    usize::try_from(n).map_err(|_| io::Error::last_os_error())
}

/// One direction through `pipe`. The pipe is filled only when empty, so an EAGAIN from the
/// socket → pipe splice always means the socket is drained (never "pipe full"), which keeps the
/// readiness bookkeeping exact. A write that stalls stops reads: at most `cap` bytes are held.
/// Relies on SIGPIPE being ignored (Node and Rust test binaries both do) for splice to a dead peer.
pub(super) async fn pump(
    src: &TcpStream,
    dst: &TcpStream,
    src_side: Side,
    pipe: &Pipe,
    mut dir: Dir<'_>,
) -> DirResult {
    let dst_side = match src_side {
        Side::Client => Side::Upstream,
        Side::Upstream => Side::Client,
    };
    let (src_fd, dst_fd) = (src.as_raw_fd(), dst.as_raw_fd());
    let (pipe_r, pipe_w) = (pipe.r.as_raw_fd(), pipe.w.as_raw_fd());
    loop {
        let n = match src.try_io(Interest::READABLE, || splice_fds(src_fd, pipe_w, pipe.cap)) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                read_ready(src, src_side).await?;
                continue;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err((src_side, e)),
        };
        if n == 0 {
            return shutdown_write(dst, dst_side);
        }
        dir.held(n);
        let mut left = n;
        while left > 0 {
            match dst.try_io(Interest::WRITABLE, || splice_fds(pipe_r, dst_fd, left)) {
                Ok(0) => return Err((dst_side, io::ErrorKind::WriteZero.into())),
                Ok(m) => {
                    left -= m;
                    *dir.bytes += m as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    write_ready(dst, dst_side).await?;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err((dst_side, e)),
            }
        }
    }
}
