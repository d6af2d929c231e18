//! L7: HTTP/1.1, h2c and gRPC in the node proxy (docs/l7.md). Protocol detection on captured
//! connections, the compiled route table and its matching, per-request balancing, retries under a
//! budget, faults, rate limits and golden metrics, and the hyper-based proxy that executes them.

mod access_log;
mod answers;
pub mod api;
mod attempt;
pub mod authz_http;
pub mod balancer;
pub mod budget;
pub mod detect;
mod forward;
pub mod inbound;
pub mod io;
mod json;
pub mod matching;
pub mod metrics;
mod mirror;
mod observe;
mod parse;
mod parse_filters;
pub mod proxy;
pub mod ratelimit;
mod route_stats;
pub mod table;
pub mod tap;
pub mod trace;
pub mod trace_context;
pub mod trace_otlp;
pub mod upstream;
