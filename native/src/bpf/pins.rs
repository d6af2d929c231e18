//! Pin layout and bpffs housekeeping: `<pin_dir>/<map name>` for maps and `<pin_dir>/links/<ifname>`
//! for TCX links; the check that a pin directory really is on bpffs (from /proc/self/mountinfo),
//! and the recursive cleanup used by `bpfCleanup` (which also detaches pinned links).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::sys;
use crate::errors::{err, Code, Result};

pub const BPFFS_ROOT: &str = "/sys/fs/bpf";
pub const LINKS_DIR: &str = "links";

/// Checks that `pin_dir` is an absolute, normalized path (no `.`/`..`), returning it as a PathBuf.
pub fn validate_dir(pin_dir: &str) -> Result<PathBuf> {
    let trimmed = pin_dir.strip_suffix('/').unwrap_or(pin_dir);
    let ok = trimmed.strip_prefix('/').is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .split('/')
                .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
    });
    if !ok {
        return Err(err(
            Code::InvalidArg,
            format!("pin dir \"{pin_dir}\" must be an absolute path without . or .. under {BPFFS_ROOT}/"),
        ));
    }
    Ok(PathBuf::from(trimmed))
}

/// Checks that an interface name is a valid Linux name and safe as a file name.
pub fn validate_ifname(ifname: &str) -> Result<()> {
    let ok = !ifname.is_empty()
        && ifname.len() <= 15
        && ifname
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.@-".contains(&b))
        && ifname != "."
        && ifname != "..";
    if ok {
        Ok(())
    } else {
        Err(err(
            Code::InvalidArg,
            format!("interface name \"{ifname}\" is invalid (1-15 of A-Za-z0-9_.@-)"),
        ))
    }
}

pub fn map_pin(pin_dir: &Path, map: &str) -> PathBuf {
    pin_dir.join(map)
}

pub fn links_dir(pin_dir: &Path) -> PathBuf {
    pin_dir.join(LINKS_DIR)
}

pub fn link_pin(pin_dir: &Path, ifname: &str) -> PathBuf {
    links_dir(pin_dir).join(ifname)
}

fn unescape_mountinfo(s: &str) -> String {
    // mountinfo escapes space, tab, newline and backslash as \ooo (octal).
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The (mount point, fs type) of the mount that contains `path`, from mountinfo text.
pub fn mount_of(mountinfo: &str, path: &Path) -> Option<(PathBuf, String)> {
    let mut best: Option<(PathBuf, String)> = None;
    for line in mountinfo.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let (Some(mp), Some(dash)) = (fields.get(4), fields.iter().position(|f| *f == "-")) else {
            continue;
        };
        let (mp, Some(fstype)) = (PathBuf::from(unescape_mountinfo(mp)), fields.get(dash + 1))
        else {
            continue;
        };
        // Later lines stack on earlier ones at the same mount point: `>=` keeps the last.
        if path.starts_with(&mp)
            && best
                .as_ref()
                .is_none_or(|(b, _)| mp.components().count() >= b.components().count())
        {
            best = Some((mp, fstype.to_string()));
        }
    }
    best
}

/// Fails with an actionable message unless `pin_dir` lies on a mounted bpffs.
pub fn require_bpffs(pin_dir: &Path) -> Result<()> {
    let info = fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| err(Code::BpfPin, format!("reading /proc/self/mountinfo: {e}")))?;
    match mount_of(&info, pin_dir) {
        Some((_, fstype)) if fstype == "bpf" => Ok(()),
        other => {
            let on = other
                .map(|(mp, t)| format!("{t} at {}", mp.display()))
                .unwrap_or_else(|| "no mount".into());
            let hint = if pin_dir.starts_with(BPFFS_ROOT) {
                format!(
                    "bpffs is not mounted at {BPFFS_ROOT}: run `mount -t bpf bpf {BPFFS_ROOT}` \
                     (under `ip netns exec` /sys is remounted and bpffs is hidden: use `nsenter --net=` instead)"
                )
            } else {
                format!("use a pin dir under {BPFFS_ROOT}/")
            };
            Err(err(
                Code::BpfPin,
                format!(
                    "pin dir {} is on {on}, not bpffs; {hint}",
                    pin_dir.display()
                ),
            ))
        }
    }
}

/// `mkdir -p` for a pin directory (bpffs supports directories).
pub fn create_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| {
        err(
            Code::BpfPin,
            format!("creating pin dir {}: {e}", dir.display()),
        )
    })
}

/// Interface names with a pinned link, sorted.
pub fn list_links(pin_dir: &Path) -> Result<Vec<String>> {
    let dir = links_dir(pin_dir);
    let rd = match fs::read_dir(&dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(err(Code::BpfPin, format!("listing {}: {e}", dir.display()))),
    };
    let mut names = Vec::new();
    for entry in rd {
        let entry =
            entry.map_err(|e| err(Code::BpfPin, format!("listing {}: {e}", dir.display())))?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    Ok(names)
}

/// Detaches (best effort) and unpins the link pinned at `pin`. Ok(false) when there was no pin.
pub fn remove_link_pin(pin: &Path) -> Result<bool> {
    if let Ok(fd) = sys::obj_get(pin) {
        // Not a link (EINVAL) or already defunct: unpinning below is all that is left to do.
        let _ = sys::link_detach(std::os::fd::AsFd::as_fd(&fd));
    }
    match fs::remove_file(pin) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(err(
            Code::BpfPin,
            format!("unpinning {}: {e}", pin.display()),
        )),
    }
}

/// Removes every pin under `dir` (links are detached first) and the directories; returns the
/// number of pins removed. A missing directory counts 0.
pub fn remove_tree(dir: &Path) -> Result<u32> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(err(Code::BpfPin, format!("listing {}: {e}", dir.display()))),
    };
    let mut count = 0;
    for entry in rd {
        let entry =
            entry.map_err(|e| err(Code::BpfPin, format!("listing {}: {e}", dir.display())))?;
        let path = entry.path();
        let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
        if is_dir {
            count += remove_tree(&path)?;
        } else if remove_link_pin(&path)? {
            count += 1;
        }
    }
    match fs::remove_dir(dir) {
        Ok(()) => Ok(count),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(count),
        Err(e) => Err(err(
            Code::BpfPin,
            format!("removing {}: {e}", dir.display()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
22 1 0:21 / / rw,relatime shared:1 - ext4 /dev/vda rw
23 22 0:22 / /sys rw,nosuid shared:2 - sysfs sysfs rw
40 23 0:35 / /sys/fs/bpf rw,relatime shared:20 - bpf bpf rw,mode=700
41 22 0:36 / /mnt/with\\040space rw - tmpfs tmpfs rw
";

    #[test]
    fn finds_the_innermost_mount() {
        let m = |p: &str| {
            mount_of(MOUNTINFO, Path::new(p)).map(|(mp, t)| (mp.display().to_string(), t))
        };
        assert_eq!(
            m("/sys/fs/bpf/nodemesh/n1"),
            Some(("/sys/fs/bpf".into(), "bpf".into()))
        );
        assert_eq!(m("/sys/fs/bpfx"), Some(("/sys".into(), "sysfs".into())));
        assert_eq!(m("/sys/class/net"), Some(("/sys".into(), "sysfs".into())));
        assert_eq!(
            m("/mnt/with space/x"),
            Some(("/mnt/with space".into(), "tmpfs".into()))
        );
        assert_eq!(m("/home"), Some(("/".into(), "ext4".into())));
    }

    #[test]
    fn without_bpffs_the_pin_dir_is_on_sysfs() {
        let info: String = MOUNTINFO
            .lines()
            .filter(|l| !l.contains(" bpf "))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(
            mount_of(&info, Path::new("/sys/fs/bpf/x")).map(|(_, t)| t),
            Some("sysfs".into())
        );
    }

    #[test]
    fn pin_paths() {
        let d = Path::new("/sys/fs/bpf/nodemesh/node1");
        assert_eq!(
            map_pin(d, "mesh_workloads"),
            Path::new("/sys/fs/bpf/nodemesh/node1/mesh_workloads")
        );
        assert_eq!(
            link_pin(d, "veth-a"),
            Path::new("/sys/fs/bpf/nodemesh/node1/links/veth-a")
        );
    }

    #[test]
    fn validates_pin_dirs_and_ifnames() {
        assert!(validate_dir("/sys/fs/bpf/nodemesh").is_ok());
        assert_eq!(
            validate_dir("/sys/fs/bpf/n1/").unwrap(),
            Path::new("/sys/fs/bpf/n1")
        );
        for bad in [
            "relative/x",
            "/sys/fs/bpf/../etc",
            "/sys/./fs",
            "/",
            "",
            "//x",
            "/a//b",
        ] {
            assert_eq!(
                validate_dir(bad).unwrap_err().status,
                Code::InvalidArg,
                "{bad}"
            );
        }
        for ok in ["eth0", "veth-a", "n1-n2", "br.10", "a@b", "x23456789012345"] {
            assert!(validate_ifname(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".", "..", "a/b", "x234567890123456", "sp ace"] {
            assert_eq!(
                validate_ifname(bad).unwrap_err().status,
                Code::InvalidArg,
                "{bad}"
            );
        }
    }

    #[test]
    fn cleanup_of_a_missing_dir_counts_zero() {
        assert_eq!(
            remove_tree(Path::new("/nonexistent/nodemesh-test-dir")).unwrap(),
            0
        );
    }
}
