//! Tests of the datapath against the real kernel: argument and bpffs checks (any user), then, as
//! root with bpffs mounted and the object built, a full cycle in a throwaway netns: load, maps,
//! attach, reopen with pin reuse, in-place link update, defunct-link replacement, detach, cleanup.

use std::path::Path;
use std::process::Command;

use libbpf_rs::query::{LinkInfoIter, LinkTypeInfo};

use super::api::{bpf_cleanup, bpf_open, Datapath};
use super::{is_root, pins};
use crate::errors::Code;

const OBJECT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../build/bpf/tc_steer.bpf.o");

fn object_built() -> bool {
    Path::new(OBJECT).is_file()
}

fn bpffs_mounted() -> bool {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    pins::mount_of(&info, Path::new("/sys/fs/bpf/x")).is_some_and(|(_, t)| t == "bpf")
}

fn open_err(obj: &str, dir: &str) -> crate::errors::JsError {
    match bpf_open(obj.into(), dir.into()) {
        Ok(_) => panic!("bpf_open({obj}, {dir}) unexpectedly succeeded"),
        Err(e) => e,
    }
}

#[test]
fn a_missing_object_says_how_to_build_it() {
    let e = open_err("/nonexistent/tc_steer.bpf.o", "/sys/fs/bpf/nodemesh-test");
    assert_eq!(e.status, Code::BpfLoad);
    assert!(e.reason.contains("scripts/build-bpf.sh"), "{}", e.reason);
}

#[test]
fn pin_dirs_must_be_absolute_and_on_bpffs() {
    assert_eq!(open_err(OBJECT, "relative/dir").status, Code::InvalidArg);
    if !object_built() {
        super::skip(
            "pin_dirs_must_be_absolute_and_on_bpffs (bpffs part)",
            "run scripts/build-bpf.sh",
        );
        return;
    }
    let e = open_err(OBJECT, "/tmp/nodemesh-not-bpffs");
    assert_eq!(e.status, Code::BpfPin);
    assert!(e.reason.contains("not bpffs"), "{}", e.reason);
    assert!(
        !Path::new("/tmp/nodemesh-not-bpffs").exists(),
        "nothing is created off bpffs"
    );
}

#[test]
fn cleanup_refuses_directories_off_bpffs() {
    let dir = std::env::temp_dir().join(format!("nodemesh-cleanup-test-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("links")).unwrap();
    std::fs::write(dir.join("mesh_workloads"), b"not a pin").unwrap();
    let r = bpf_cleanup(dir.display().to_string());
    let kept = dir.join("mesh_workloads").exists();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(r.unwrap_err().status, Code::BpfPin);
    assert!(kept, "bpf_cleanup must never delete files outside bpffs");
    assert_eq!(
        bpf_cleanup("/sys/fs/bpf/nodemesh-test-never-created".into()).unwrap(),
        0
    );
}

/// A throwaway netns with a veth pair, and a scratch pin dir; both removed on drop (also on panic).
struct Scratch {
    netns: String,
    pin_dir: String,
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("running ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Scratch {
    fn new() -> Self {
        let name = format!("nmcargo-{}", std::process::id());
        let s = Scratch {
            pin_dir: format!("/sys/fs/bpf/{name}"),
            netns: name,
        };
        ip(&["netns", "add", &s.netns]);
        s.veth();
        s
    }

    fn veth(&self) {
        ip(&[
            "-n",
            &self.netns,
            "link",
            "add",
            "v0",
            "type",
            "veth",
            "peer",
            "name",
            "v1",
        ]);
        ip(&["-n", &self.netns, "link", "set", "v0", "up"]);
    }

    fn path(&self) -> String {
        format!("/var/run/netns/{}", self.netns)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = bpf_cleanup(self.pin_dir.clone());
        let _ = Command::new("ip")
            .args(["netns", "del", &self.netns])
            .status();
    }
}

/// (link id, prog id) of every TCX ingress link on `ifindex` running one of `progs`.
fn tcx_links(ifindex: u32, progs: &[u32]) -> Vec<(u32, u32)> {
    LinkInfoIter::default()
        .filter(|l| {
            matches!(&l.info, LinkTypeInfo::Tcx(t) if t.ifindex == ifindex)
                && progs.contains(&l.prog_id)
        })
        .map(|l| (l.id, l.prog_id))
        .collect()
}

fn pinned_link(pin_dir: &str, ifname: &str) -> (u32, u32) {
    let fd = super::sys::obj_get(&pins::link_pin(Path::new(pin_dir), ifname)).expect("pinned link");
    let info =
        libbpf_rs::query::LinkInfo::from_fd(std::os::fd::AsFd::as_fd(&fd)).expect("link info");
    (info.id, info.prog_id)
}

fn open(s: &Scratch) -> Datapath {
    bpf_open(OBJECT.into(), s.pin_dir.clone())
        .unwrap_or_else(|e| panic!("{}: {}", e.status, e.reason))
}

#[test]
fn full_cycle_in_a_throwaway_netns() {
    if !is_root() || !bpffs_mounted() || !object_built() {
        super::skip(
            "full_cycle_in_a_throwaway_netns",
            "needs root, bpffs at /sys/fs/bpf and build/bpf/tc_steer.bpf.o",
        );
        return;
    }
    let s = Scratch::new();

    let mut dp = open(&s);
    dp.set_workload("10.200.1.10".into(), 1, 1).unwrap();
    dp.set_workload("10.200.1.11".into(), 2, 0).unwrap();
    dp.set_local_addr("10.200.1.1".into()).unwrap();
    assert_eq!(
        dp.set_workload("10.200.1".into(), 1, 1).unwrap_err().status,
        Code::InvalidArg
    );
    assert_eq!(
        dp.counters().unwrap(),
        vec![0.0; super::shared::MESH_CNT_MAX as usize]
    );
    let a = dp.attach("v0".into(), Some(s.path())).unwrap();
    assert!(a.ifindex > 0 && !a.replaced);
    assert_eq!(dp.attached_interfaces().unwrap(), vec!["v0".to_string()]);
    assert_eq!(
        dp.attach("nope0".into(), Some(s.path()))
            .unwrap_err()
            .status,
        Code::BpfAttach
    );
    let (link1, prog1) = pinned_link(&s.pin_dir, "v0");
    dp.close().unwrap();
    dp.close().unwrap();
    assert_eq!(dp.counters().unwrap_err().status, Code::Closed);

    // A restarted agent: maps come back with their contents and the pinned link is adopted
    // (switched to the new program) at open; attach then updates it in place again.
    let mut dp = open(&s);
    let (link2, prog2) = pinned_link(&s.pin_dir, "v0");
    assert_eq!(link2, link1, "same link");
    assert_ne!(prog2, prog1, "adopted: running the new program");
    let wl: Vec<(String, u32, u32)> = dp
        .list_workloads()
        .unwrap()
        .into_iter()
        .map(|w| (w.ip, w.index, w.flags))
        .collect();
    assert_eq!(
        wl,
        vec![("10.200.1.10".into(), 1, 1), ("10.200.1.11".into(), 2, 0)]
    );
    assert_eq!(
        dp.list_local_addrs().unwrap(),
        vec!["10.200.1.1".to_string()]
    );
    let b = dp.attach("v0".into(), Some(s.path())).unwrap();
    assert_eq!((b.ifindex, b.replaced), (a.ifindex, true));
    assert_eq!(pinned_link(&s.pin_dir, "v0"), (link1, prog2));
    assert_eq!(
        tcx_links(a.ifindex, &[prog1, prog2]),
        vec![(link1, prog2)],
        "exactly one tc_steer link on v0"
    );

    // The interface is deleted and recreated: the defunct link is pruned from the listing (so the
    // agent re-attaches) and attach creates a new one.
    ip(&["-n", &s.netns, "link", "del", "v0"]);
    s.veth();
    assert!(
        dp.attached_interfaces().unwrap().is_empty(),
        "a defunct link is not listed"
    );
    assert!(
        !pins::link_pin(Path::new(&s.pin_dir), "v0").exists(),
        "its pin is pruned"
    );
    let c = dp.attach("v0".into(), Some(s.path())).unwrap();
    assert!(!c.replaced, "a defunct link is never reused");
    let (link3, _) = pinned_link(&s.pin_dir, "v0");
    assert_ne!(link3, link1);
    assert_eq!(tcx_links(c.ifindex, &[prog1, prog2]).len(), 1);
    assert_eq!(dp.attached_interfaces().unwrap(), vec!["v0".to_string()]);

    // Without a listing in between, attach itself replaces the defunct pin.
    ip(&["-n", &s.netns, "link", "del", "v0"]);
    s.veth();
    let d = dp.attach("v0".into(), Some(s.path())).unwrap();
    assert!(!d.replaced);
    assert_eq!(tcx_links(d.ifindex, &[prog1, prog2]).len(), 1);

    assert!(dp.delete_workload("10.200.1.11".into()).unwrap());
    assert!(!dp.delete_workload("10.200.1.11".into()).unwrap());
    assert!(dp.delete_local_addr("10.200.1.1".into()).unwrap());
    assert!(dp.detach("v0".into()).unwrap());
    assert!(!dp.detach("v0".into()).unwrap());
    assert!(
        tcx_links(c.ifindex, &[prog1, prog2]).is_empty(),
        "detach removes the link"
    );
    assert!(dp.attached_interfaces().unwrap().is_empty());
    dp.close().unwrap();

    assert_eq!(bpf_cleanup(s.pin_dir.clone()).unwrap(), 3, "three map pins");
    assert!(!Path::new(&s.pin_dir).exists());
}
