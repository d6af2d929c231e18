//! HBONE, Istio ambient's node-to-node tunnel, as the node proxy speaks it: HTTP/2 CONNECT streams
//! over pooled mutual TLS 1.3 connections on port 15008, each side presenting the certificate of
//! the workload it acts for (see ARCHITECTURE.md, "HBONE"). `certs` holds keys and the bundle,
//! `verify` the SPIFFE checks, `client` the pool, `server` one accepted connection, `stream` relays.

mod certs;
mod client;
mod error;
mod keepalive;
mod server;
mod stream;
mod verify;

pub use certs::{CertStore, IdentityMaterial};
pub use client::{Pool, PoolConfig, PoolKey, PoolStats};
pub use error::{handshake_counters, HboneError};
pub use keepalive::Keepalive;
pub use server::{accept, InboundRequest, ServerConn};
pub use stream::{relay, HboneStream, RelayEnd, RelayOutcome};

#[cfg(test)]
mod tests;
