//! The few raw calls libbpf-rs does not wrap the way the loader needs them: TCX link create, update
//! and detach by fd, pin and open by path, `setns` and `if_nametoindex`. This is the only module of
//! `bpf` with `unsafe`; every function takes plain values and returns owned fds or `io::Error`.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::ptr;

fn cstring(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "contains a NUL byte"))
}

/// libbpf 1.x low-level calls return `-errno` on failure.
fn check(ret: i32) -> io::Result<i32> {
    if ret < 0 {
        Err(io::Error::from_raw_os_error(-ret))
    } else {
        Ok(ret)
    }
}

fn owned(fd: i32) -> OwnedFd {
    // SAFETY: `fd` was just returned by a successful bpf(2) call of ours, so it is an open file
    // descriptor that nothing else owns; OwnedFd closes it exactly once.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Creates a TCX ingress link of `prog` on `ifindex`, resolved in the calling thread's netns.
pub fn tcx_ingress_link(prog: BorrowedFd<'_>, ifindex: u32) -> io::Result<OwnedFd> {
    let target = i32::try_from(ifindex).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: plain integers in; NULL opts is documented as "all defaults" (append to the chain).
    let ret = unsafe {
        libbpf_sys::bpf_link_create(
            prog.as_raw_fd(),
            target,
            libbpf_sys::BPF_TCX_INGRESS,
            ptr::null(),
        )
    };
    check(ret).map(owned)
}

/// Atomically replaces the program of an existing link.
pub fn link_update(link: BorrowedFd<'_>, prog: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: plain integers in; NULL opts means an unconditional replace.
    let ret =
        unsafe { libbpf_sys::bpf_link_update(link.as_raw_fd(), prog.as_raw_fd(), ptr::null()) };
    check(ret).map(drop)
}

/// Detaches a link from its hook now, whoever else still holds it.
pub fn link_detach(link: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: a plain integer in; the kernel validates that it is a link fd.
    check(unsafe { libbpf_sys::bpf_link_detach(link.as_raw_fd()) }).map(drop)
}

/// Pins a BPF object (map, program or link) at `path` on bpffs.
pub fn obj_pin(fd: BorrowedFd<'_>, path: &Path) -> io::Result<()> {
    let p = cstring(path.as_os_str().as_bytes())?;
    // SAFETY: `p` is a valid NUL-terminated string that outlives the call.
    check(unsafe { libbpf_sys::bpf_obj_pin(fd.as_raw_fd(), p.as_ptr()) }).map(drop)
}

/// Opens the BPF object pinned at `path`.
pub fn obj_get(path: &Path) -> io::Result<OwnedFd> {
    let p = cstring(path.as_os_str().as_bytes())?;
    // SAFETY: `p` is a valid NUL-terminated string that outlives the call.
    check(unsafe { libbpf_sys::bpf_obj_get(p.as_ptr()) }).map(owned)
}

/// Moves the calling thread into the network namespace `ns` (an nsfs file).
pub fn setns_net(ns: &File) -> io::Result<()> {
    // SAFETY: `ns` is an open file for the duration of the call; setns only changes this thread.
    if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The interface index of `name` in the calling thread's network namespace.
pub fn if_nametoindex(name: &str) -> io::Result<u32> {
    let n = cstring(name.as_bytes())?;
    // SAFETY: `n` is a valid NUL-terminated string that outlives the call.
    match unsafe { libc::if_nametoindex(n.as_ptr()) } {
        0 => Err(io::Error::last_os_error()),
        i => Ok(i),
    }
}
