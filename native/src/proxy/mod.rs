//! Node proxy data path: transparent listeners on the capture ports, a per-connection decision
//! from the table TypeScript installs, a transparent upstream connect from the client's own IP,
//! and a bounded zero-copy relay, all on a private tokio runtime. JavaScript only sees batched
//! connection events; nothing per connection or per byte waits on the event loop.
//!
//! Layout: `api` (napi surface) → `engine` (runtime, shared state, start/close) → `listener`
//! (accept loops) → `conn` (decide, connect, relay, report) → `relay` + `splice` (bytes);
//! `table` (parse + decide, shared with `evaluate()`), `services` (Service VIP:port routes and
//! the power-of-two-choices balancer `conn` connects through), `events` (bounded queue + flusher).
//!
//! Runtime sizing: a fixed [`WORKERS`] = 2 worker threads. The target nodes have 2 vCPUs and the
//! relay is syscall-bound (splice moves no bytes through user space), so two workers saturate the
//! machine while Node's own thread and libuv pool share the same cores; more workers only add
//! context switches. It is a constant rather than an option so the TS contract stays unchanged.
//!
//! Relay choice: splice(2) through one pipe per direction (`Mode::Splice`); the userspace copy
//! (buffer 4 KiB growing ×4 up to the bound) is the fallback when pipes cannot be made, and can be
//! forced with NODEMESH_PROXY_RELAY=copy. Measured here (2 vCPUs, 256 KiB bound, release):
//! - deployment path, iperf3 pod netns → veth → proxy (nft TPROXY) → veth → pod netns, 4 s, one
//!   stream: splice 13.3–13.6 Gbit/s at 283–297 ms proxy CPU per GB; copy 11.6–12.8 Gbit/s at
//!   382–427 ms/GB (direct 18.5–19.8). Four streams: splice 11.5–15.3 at 321–350 ms/GB, copy
//!   9.8–14.9 at 415–424 ms/GB. Connect + 1 B echo + close: no measurable difference.
//! - loopback micro-benchmark, 1 GiB writer → relay → reader in one process (`cargo test
//!   --release -- --ignored throughput --nocapture`): copy 16.7–18.9, splice 13.4–16.2, direct
//!   25–28 Gbit/s. Copy wins only there, where writer, relay and reader share both CPUs.
//!
//! Splice wins on the path that matters (≈+8 % throughput, ≈−25 % CPU per byte) and holds no
//! user-space buffer, so it is the default.

pub mod api;
pub(crate) mod authz;
pub(crate) mod conn;
pub(crate) mod engine;
mod events;
mod listener;
pub(crate) mod relay;
mod services;
mod splice;
pub(crate) mod table;
mod tunnel;

#[cfg(test)]
mod engine_tests;
#[cfg(test)]
mod relay_tests;

/// Worker threads of the proxy runtime (see the module comment).
pub const WORKERS: usize = 2;
