//! The JavaScript surface of the BPF datapath (native/index.ts: `bpfOpen`, `bpfCleanup`,
//! `RawDatapath`). Every body runs inside `errors::guard`; arguments are re-validated here even
//! though the TypeScript wrapper checks them first. After `close()` every call is MESH_ERR_CLOSED.

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use napi_derive::napi;

use super::loader::{self, Loaded};
use super::maps::parse_ip;
use super::shared::MeshWorkload;
use super::{links, netns, pins};
use crate::errors::{err, guard, Code, Result};

/// `RawAttachResult` of native/index.ts.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct AttachResult {
    pub ifindex: u32,
    /// true when a pinned link on the same interface was updated to this program in place
    pub replaced: bool,
}

/// `RawWorkloadEntry` of native/index.ts.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct WorkloadEntry {
    pub ip: String,
    pub index: u32,
    pub flags: u32,
}

/// Loads the BPF object and opens (or reuses) the maps pinned under `pin_dir`; live links pinned
/// there by an earlier agent are switched to the new program.
#[napi]
pub fn bpf_open(object_path: String, pin_dir: String) -> Result<Datapath> {
    guard("bpfOpen", || {
        let dir = pins::validate_dir(&pin_dir)?;
        let loaded = loader::load(Path::new(&object_path), &dir)?;
        // Links pinned by an earlier agent now run this program; defunct ones are pruned.
        links::adopt_all(loaded.prog.as_fd(), &dir)?;
        Ok(Datapath {
            pin_dir: dir,
            inner: Some(loaded),
        })
    })
}

/// Removes every pin under `pin_dir` (detaching pinned links) and the directory itself; returns
/// the number of pins removed. Needs no loaded object: `cluster down` uses it after a crash.
#[napi]
pub fn bpf_cleanup(pin_dir: String) -> Result<u32> {
    guard("bpfCleanup", || {
        let dir = pins::validate_dir(&pin_dir)?;
        if !dir.exists() {
            return Ok(0);
        }
        pins::require_bpffs(&dir)?;
        pins::remove_tree(&dir)
    })
}

/// The steering datapath of one node: the loaded program, its pinned maps and TCX links.
#[napi]
pub struct Datapath {
    pin_dir: PathBuf,
    inner: Option<Loaded>,
}

#[napi]
impl Datapath {
    fn loaded(&self, what: &str) -> Result<&Loaded> {
        self.inner.as_ref().ok_or_else(|| {
            err(
                Code::Closed,
                format!("{what}: the datapath is closed; open a new one with bpfOpen"),
            )
        })
    }

    /// Attaches the program at the TCX ingress of `ifname`, inside the network namespace at
    /// `netns_path` when given (else the current one); the link is pinned under `<pinDir>/links/`.
    #[napi(ts_args_type = "ifname: string, netnsPath: string | null")]
    pub fn attach(&self, ifname: String, netns_path: Option<String>) -> Result<AttachResult> {
        guard("attach", || {
            let l = self.loaded("attach")?;
            pins::validate_ifname(&ifname)?;
            let prog = l.prog.as_fd();
            let dir = self.pin_dir.as_path();
            let a = netns::run_in(netns_path.as_deref(), || links::attach(prog, dir, &ifname))?;
            Ok(AttachResult {
                ifindex: a.ifindex,
                replaced: a.replaced,
            })
        })
    }

    /// Detaches and unpins the link of `ifname`; false when there was none.
    #[napi]
    pub fn detach(&self, ifname: String) -> Result<bool> {
        guard("detach", || {
            self.loaded("detach")?;
            links::detach(&self.pin_dir, &ifname)
        })
    }

    /// Interfaces with a live pinned link (including those attached by an earlier agent),
    /// sorted. Pins of defunct links (interface deleted or recreated) are pruned and not listed.
    #[napi]
    pub fn attached_interfaces(&self) -> Result<Vec<String>> {
        guard("attachedInterfaces", || {
            self.loaded("attachedInterfaces")?;
            links::list_live(&self.pin_dir)
        })
    }

    #[napi]
    pub fn set_workload(&self, ip: String, index: u32, flags: u32) -> Result<()> {
        guard("setWorkload", || {
            let l = self.loaded("setWorkload")?;
            l.maps
                .set_workload(parse_ip("setWorkload", &ip)?, MeshWorkload { index, flags })
        })
    }

    #[napi]
    pub fn delete_workload(&self, ip: String) -> Result<bool> {
        guard("deleteWorkload", || {
            let l = self.loaded("deleteWorkload")?;
            l.maps.delete_workload(parse_ip("deleteWorkload", &ip)?)
        })
    }

    #[napi]
    pub fn list_workloads(&self) -> Result<Vec<WorkloadEntry>> {
        guard("listWorkloads", || {
            let l = self.loaded("listWorkloads")?;
            let all = l.maps.list_workloads()?;
            Ok(all
                .into_iter()
                .map(|(ip, w)| WorkloadEntry {
                    ip: ip.to_string(),
                    index: w.index,
                    flags: w.flags,
                })
                .collect())
        })
    }

    #[napi]
    pub fn set_local_addr(&self, ip: String) -> Result<()> {
        guard("setLocalAddr", || {
            let l = self.loaded("setLocalAddr")?;
            l.maps.set_local_addr(parse_ip("setLocalAddr", &ip)?)
        })
    }

    #[napi]
    pub fn delete_local_addr(&self, ip: String) -> Result<bool> {
        guard("deleteLocalAddr", || {
            let l = self.loaded("deleteLocalAddr")?;
            l.maps.delete_local_addr(parse_ip("deleteLocalAddr", &ip)?)
        })
    }

    #[napi]
    pub fn list_local_addrs(&self) -> Result<Vec<String>> {
        guard("listLocalAddrs", || {
            let l = self.loaded("listLocalAddrs")?;
            Ok(l.maps
                .list_local_addrs()?
                .into_iter()
                .map(|ip| ip.to_string())
                .collect())
        })
    }

    /// Counters summed over CPUs, indexed by `enum mesh_counter` (exact up to 2^53).
    #[napi]
    pub fn counters(&self) -> Result<Vec<f64>> {
        guard("counters", || {
            let l = self.loaded("counters")?;
            Ok(l.maps.counters()?.into_iter().map(|v| v as f64).collect())
        })
    }

    /// Releases the program and map fds. Pinned maps and links stay, so steering continues
    /// (and the next bpfOpen reuses them); bpfCleanup removes them. Idempotent.
    #[napi]
    pub fn close(&mut self) -> Result<()> {
        guard("close", || {
            self.inner = None;
            Ok(())
        })
    }
}
