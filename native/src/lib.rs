//! nodemesh native addon: the node proxy's hot path, loaded by Node through Node-API (napi-rs).
//! TypeScript decides, this crate executes: it loads and attaches the BPF steering program, owns the
//! transparent listeners and moves bytes on tokio worker threads. No JavaScript runs per byte.
//! The JS-facing surface is the `#[napi]` items of `bpf::api` and `proxy::api`; see native/index.ts.

pub mod bpf;
pub mod errors;
pub mod hbone;
pub mod l7;
pub mod proxy;

use napi_derive::napi;

/// Version of the native addon (the crate version), for `nodemesh check` and /config_dump.
#[napi]
pub fn native_version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// Test hook: panics inside the boundary guard; JavaScript must see MESH_ERR_NATIVE_PANIC.
#[napi]
pub fn test_panic() -> errors::Result<()> {
    errors::guard("testPanic", || panic!("deliberate test panic"))
}
