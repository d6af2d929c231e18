//! Loading tc_steer.bpf.o with libbpf: each map reuses its pin at `<pin_dir>/<name>` when one exists
//! (a restarted agent keeps the workload map) or is pinned there by libbpf right after creation.
//! A pin whose type or sizes no longer match the object (an upgrade changed it) is replaced.

use std::collections::VecDeque;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::sync::{Mutex, Once};

use libbpf_rs::{ErrorKind, MapCore, MapHandle, ObjectBuilder, OpenMap, PrintLevel};

use super::maps::Maps;
use super::pins;
use super::shared::{MAP_COUNTERS, MAP_LOCAL_ADDRS, MAP_WORKLOADS, PROG_TC_STEER};
use crate::errors::{err, Code, Result};

const MAPS: [&str; 3] = [MAP_WORKLOADS, MAP_LOCAL_ADDRS, MAP_COUNTERS];
/// Lines of libbpf output (the verifier log on failure) kept for error messages.
const LOG_LINES: usize = 40;

static LOG: Mutex<VecDeque<String>> = Mutex::new(VecDeque::new());
static LOG_INIT: Once = Once::new();

fn capture(_level: PrintLevel, msg: String) {
    if let Ok(mut log) = LOG.lock() {
        for line in msg.lines().filter(|l| !l.trim().is_empty()) {
            if log.len() == LOG_LINES {
                log.pop_front();
            }
            log.push_back(line.to_string());
        }
    }
}

fn log_reset() {
    LOG_INIT.call_once(|| {
        libbpf_rs::set_print(Some((PrintLevel::Warn, capture)));
    });
    if let Ok(mut log) = LOG.lock() {
        log.clear();
    }
}

fn log_tail() -> String {
    LOG.lock()
        .map(|l| l.iter().cloned().collect::<Vec<_>>().join("\n"))
        .unwrap_or_default()
}

fn load_err(what: &str, e: libbpf_rs::Error) -> crate::errors::JsError {
    let hint = if e.kind() == ErrorKind::PermissionDenied {
        "; loading BPF needs root (CAP_BPF + CAP_NET_ADMIN)"
    } else {
        ""
    };
    let log = log_tail();
    let log = if log.is_empty() {
        String::new()
    } else {
        format!("\nlibbpf log (last lines):\n{log}")
    };
    err(Code::BpfLoad, format!("{what}: {e:#}{hint}{log}"))
}

/// What the datapath keeps after loading: the program and the three maps, as owned fds.
pub struct Loaded {
    pub prog: OwnedFd,
    pub maps: Maps,
}

/// Removes the pin at `pin` unless it is a map of the same type and sizes as `want`.
fn drop_incompatible_pin(pin: &Path, want: &OpenMap<'_>) -> Result<()> {
    if !pin.exists() {
        return Ok(());
    }
    let same = MapHandle::from_pinned_path(pin).is_ok_and(|have| {
        have.map_type() == want.map_type()
            && have.key_size() == want.key_size()
            && have.value_size() == want.value_size()
            && have.max_entries() == want.max_entries()
    });
    if same {
        return Ok(());
    }
    std::fs::remove_file(pin).map_err(|e| {
        err(
            Code::BpfPin,
            format!("replacing incompatible pinned map {}: {e}", pin.display()),
        )
    })
}

/// Loads the object at `object_path`, reusing or creating the map pins under `pin_dir`.
pub fn load(object_path: &Path, pin_dir: &Path) -> Result<Loaded> {
    if !object_path.is_file() {
        return Err(err(
            Code::BpfLoad,
            format!(
                "BPF object {} not found: run `bash scripts/build-bpf.sh`",
                object_path.display()
            ),
        ));
    }
    pins::require_bpffs(pin_dir)?;
    pins::create_dir(pin_dir)?;
    log_reset();

    let what = format!("loading {}", object_path.display());
    let mut open = ObjectBuilder::default()
        .open_file(object_path)
        .map_err(|e| load_err(&what, e))?;
    let mut found = 0;
    for mut m in open.maps_mut() {
        let name = m.name().to_string_lossy().into_owned();
        if !MAPS.contains(&name.as_str()) {
            continue;
        }
        let pin = pins::map_pin(pin_dir, &name);
        drop_incompatible_pin(&pin, &m)?;
        m.set_pin_path(&pin)
            .map_err(|e| err(Code::BpfPin, format!("pin path {}: {e:#}", pin.display())))?;
        found += 1;
    }
    if found != MAPS.len() {
        return Err(err(
            Code::BpfLoad,
            format!("{what}: the object lacks one of the maps {MAPS:?}; rebuild it"),
        ));
    }
    let obj = open.load().map_err(|e| load_err(&what, e))?;

    let prog = obj
        .progs()
        .find(|p| p.name() == PROG_TC_STEER)
        .ok_or_else(|| {
            err(
                Code::BpfLoad,
                format!("{what}: no program named {PROG_TC_STEER}"),
            )
        })?
        .as_fd()
        .try_clone_to_owned()
        .map_err(|e| {
            err(
                Code::BpfLoad,
                format!("{what}: duplicating the program fd: {e}"),
            )
        })?;
    let handle = |name: &str| -> Result<MapHandle> {
        let m = obj.maps().find(|m| m.name() == name).ok_or_else(|| {
            err(
                Code::BpfLoad,
                format!("{what}: map {name} missing after load"),
            )
        })?;
        MapHandle::try_from(&m).map_err(|e| err(Code::BpfMap, format!("{what}: map {name}: {e:#}")))
    };
    let maps = Maps {
        workloads: handle(MAP_WORKLOADS)?,
        local_addrs: handle(MAP_LOCAL_ADDRS)?,
        counters: handle(MAP_COUNTERS)?,
    };
    Ok(Loaded { prog, maps })
}
