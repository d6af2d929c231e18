//! BPF steering datapath: loads bpf/tc_steer.bpf.o with libbpf, pins its maps and TCX links under a
//! per-node bpffs directory so they survive agent restarts, and exposes map updates and counters.
//! Layout: `api` (napi surface) → `loader` (object + map pins), `links` (TCX) in `netns`, `maps`,
//! `pins` (bpffs paths and cleanup), `shared` (mirror of shared.h), `sys` (the only `unsafe`).

pub mod api;
mod links;
mod loader;
mod maps;
mod netns;
mod pins;
pub mod shared;
mod sys;

#[cfg(test)]
mod tests;

/// True when the tests run as root (root-only tests print SKIPPED otherwise).
#[cfg(test)]
pub(crate) fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

/// Reports a skipped root-only test on the real stderr (the test harness hides `eprintln!`).
#[cfg(test)]
pub(crate) fn skip(test: &str, why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
}
