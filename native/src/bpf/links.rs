//! TCX ingress links, one per interface, pinned at `<pin_dir>/links/<ifname>` so they outlive the
//! agent. Attaching again swaps the program of a live pinned link (no duplicate in the chain); a
//! defunct pin (interface deleted or recreated) or one bound to another ifindex is replaced.
//! `attach` must run in the interface's network namespace (see netns.rs); detach works anywhere.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use libbpf_rs::query::{LinkInfo, LinkTypeInfo};
use libbpf_rs::ProgramAttachType;

use super::{pins, sys};
use crate::errors::{err, Code, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attached {
    pub ifindex: u32,
    pub replaced: bool,
}

/// What to do with an existing pin, from the ifindex its TCX ingress link reports
/// (None: not a TCX ingress link or unreadable; Some(0): defunct, its device is gone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinAction {
    /// Still attached to the wanted interface: update its program in place.
    Update,
    /// Defunct, on another interface, or not a TCX ingress link: detach, unpin, create anew.
    Replace,
}

pub fn pin_action(link_ifindex: Option<u32>, want: u32) -> PinAction {
    match link_ifindex {
        Some(i) if i != 0 && i == want => PinAction::Update,
        _ => PinAction::Replace,
    }
}

/// The ifindex of a TCX ingress link (0 when defunct); None for any other object.
fn tcx_ingress_ifindex(fd: BorrowedFd<'_>) -> Option<u32> {
    match LinkInfo::from_fd(fd).ok()?.info {
        LinkTypeInfo::Tcx(t) if matches!(t.attach_type, ProgramAttachType::TcxIngress) => {
            Some(t.ifindex)
        }
        _ => None,
    }
}

fn attach_err(ifname: &str, ifindex: u32, e: io::Error) -> crate::errors::JsError {
    let hint = match e.raw_os_error() {
        Some(libc::EPERM) => " (needs root: CAP_BPF + CAP_NET_ADMIN)",
        Some(libc::ENODEV) => " (the interface disappeared)",
        Some(libc::EINVAL) => " (TCX needs Linux >= 6.6 with CONFIG_NET_XGRESS)",
        _ => "",
    };
    err(
        Code::BpfAttach,
        format!("attaching tc_steer to {ifname} (ifindex {ifindex}) ingress: {e}{hint}"),
    )
}

/// Tries to reuse the link pinned at `pin`; returns true when its program was swapped in place.
/// Anything else about the pin (defunct, other ifindex, not a link) leaves no pin behind.
fn reuse_pin(pin: &Path, prog: BorrowedFd<'_>, ifindex: u32) -> Result<bool> {
    let link: Option<OwnedFd> = sys::obj_get(pin).ok();
    let action = pin_action(
        link.as_ref().and_then(|l| tcx_ingress_ifindex(l.as_fd())),
        ifindex,
    );
    if let (PinAction::Update, Some(l)) = (action, &link) {
        // ENOLINK here means the device vanished since the check: fall through to a new link.
        if sys::link_update(l.as_fd(), prog).is_ok() {
            return Ok(true);
        }
    }
    drop(link);
    pins::remove_link_pin(pin)?;
    Ok(false)
}

/// Attaches `prog` at the TCX ingress of `ifname` (resolved in the calling thread's netns) and
/// pins the link; an existing live pin for the same interface is updated instead.
pub fn attach(prog: BorrowedFd<'_>, pin_dir: &Path, ifname: &str) -> Result<Attached> {
    pins::validate_ifname(ifname)?;
    let ifindex = sys::if_nametoindex(ifname).map_err(|e| {
        err(
            Code::BpfAttach,
            format!("interface {ifname} not found in the target network namespace: {e}"),
        )
    })?;
    let pin = pins::link_pin(pin_dir, ifname);
    if pin.exists() && reuse_pin(&pin, prog, ifindex)? {
        return Ok(Attached {
            ifindex,
            replaced: true,
        });
    }
    pins::create_dir(&pins::links_dir(pin_dir))?;
    let link = sys::tcx_ingress_link(prog, ifindex).map_err(|e| attach_err(ifname, ifindex, e))?;
    // If pinning fails, `link` is dropped here and the kernel detaches it: nothing half-done stays.
    sys::obj_pin(link.as_fd(), &pin).map_err(|e| {
        err(
            Code::BpfPin,
            format!("pinning the {ifname} link at {}: {e}", pin.display()),
        )
    })?;
    Ok(Attached {
        ifindex,
        replaced: false,
    })
}

/// The pinned link of `ifname` if it is a TCX ingress link still bound to a device; a defunct
/// (device deleted) or foreign pin is detached and unpinned, and None returned.
fn live_or_prune(pin_dir: &Path, ifname: &str) -> Result<Option<OwnedFd>> {
    let pin = pins::link_pin(pin_dir, ifname);
    if let Ok(fd) = sys::obj_get(&pin) {
        if tcx_ingress_ifindex(fd.as_fd()).is_some_and(|i| i != 0) {
            return Ok(Some(fd));
        }
    }
    pins::remove_link_pin(&pin)?;
    Ok(None)
}

/// Interfaces whose pinned link is live, sorted. Pins of defunct links (their interface was
/// deleted, perhaps recreated since) are pruned, so a caller re-attaches recreated interfaces.
pub fn list_live(pin_dir: &Path) -> Result<Vec<String>> {
    let mut live = Vec::new();
    for name in pins::list_links(pin_dir)? {
        if live_or_prune(pin_dir, &name)?.is_some() {
            live.push(name);
        }
    }
    Ok(live)
}

/// Points every live pinned link at `prog` (a restarted or upgraded agent takes over the links
/// an earlier one left) and prunes defunct ones. Returns the number of links updated.
pub fn adopt_all(prog: BorrowedFd<'_>, pin_dir: &Path) -> Result<u32> {
    let mut n = 0;
    for name in pins::list_links(pin_dir)? {
        let Some(link) = live_or_prune(pin_dir, &name)? else {
            continue;
        };
        if sys::link_update(link.as_fd(), prog).is_ok() {
            n += 1;
        } else {
            drop(link);
            pins::remove_link_pin(&pins::link_pin(pin_dir, &name))?;
        }
    }
    Ok(n)
}

/// Detaches and unpins the link of `ifname`; false when none was pinned.
pub fn detach(pin_dir: &Path, ifname: &str) -> Result<bool> {
    pins::validate_ifname(ifname)?;
    pins::remove_link_pin(&pins::link_pin(pin_dir, ifname))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_link_on_the_same_interface_is_updated() {
        assert_eq!(pin_action(Some(7), 7), PinAction::Update);
    }

    #[test]
    fn defunct_foreign_or_unreadable_pins_are_replaced() {
        assert_eq!(
            pin_action(Some(0), 7),
            PinAction::Replace,
            "defunct: device deleted"
        );
        assert_eq!(
            pin_action(Some(0), 0),
            PinAction::Replace,
            "defunct never matches"
        );
        assert_eq!(
            pin_action(Some(8), 7),
            PinAction::Replace,
            "interface recreated with a new ifindex"
        );
        assert_eq!(
            pin_action(None, 7),
            PinAction::Replace,
            "not a TCX ingress link"
        );
    }
}
