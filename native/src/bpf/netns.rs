//! Running a piece of work inside another network namespace. Interface names and TCX ifindexes
//! resolve in the calling thread's netns, so the work runs on a dedicated OS thread that has done
//! `setns(CLONE_NEWNET)`; the thread exits afterwards, so no thread is ever left in a foreign netns.

use std::fs::File;
use std::thread;

use super::sys;
use crate::errors::{err, Code, Result};

/// Runs `f` in the network namespace at `netns_path` (e.g. /var/run/netns/node1 or
/// /proc/PID/ns/net), or on the calling thread when `netns_path` is None.
pub fn run_in<T: Send>(
    netns_path: Option<&str>,
    f: impl FnOnce() -> Result<T> + Send,
) -> Result<T> {
    let Some(path) = netns_path else { return f() };
    let ns = File::open(path).map_err(|e| {
        err(Code::Netns, format!("opening network namespace {path}: {e} (is it a netns file such as /var/run/netns/NAME?)"))
    })?;
    thread::scope(|s| {
        let worker = thread::Builder::new()
            .name("nodemesh-netns".into())
            .spawn_scoped(s, move || {
                sys::setns_net(&ns).map_err(|e| {
                    err(
                        Code::Netns,
                        format!("entering network namespace {path}: {e} (needs CAP_SYS_ADMIN)"),
                    )
                })?;
                f()
            })
            .map_err(|e| {
                err(
                    Code::Netns,
                    format!("starting a thread for netns {path}: {e}"),
                )
            })?;
        worker.join().unwrap_or_else(|p| {
            let detail = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned());
            Err(err(
                Code::Panic,
                format!(
                    "native panic in netns worker: {}",
                    detail.unwrap_or_default()
                ),
            ))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_path_runs_inline() {
        let me = thread::current().id();
        assert_eq!(run_in(None, || Ok(thread::current().id())).unwrap(), me);
    }

    #[test]
    fn a_missing_netns_is_a_netns_error() {
        let e = run_in(Some("/nonexistent/netns/x"), || Ok(())).unwrap_err();
        assert_eq!(e.status, Code::Netns);
        assert!(e.reason.contains("/nonexistent/netns/x"), "{}", e.reason);
    }

    #[test]
    fn runs_inside_the_current_netns_by_path() {
        // Entering our own netns needs CAP_SYS_ADMIN; skip visibly when not root.
        if crate::bpf::is_root() {
            let r = run_in(Some("/proc/self/ns/net"), || {
                Ok(thread::current().name().map(String::from))
            });
            assert_eq!(r.unwrap().as_deref(), Some("nodemesh-netns"));
        } else {
            crate::bpf::skip("runs_inside_the_current_netns_by_path", "needs root");
        }
    }
}
