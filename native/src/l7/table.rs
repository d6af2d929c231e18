//! The `http` part of the decision table (wire shape: agent/src/routing/table.ts, `TableHttp`) as
//! the proxy holds it: immutable, validated once per `setTable` by `HttpTable::parse` (parse.rs,
//! field paths in errors; a rejected table never replaces the one in force), regexes compiled.
//! Matching on it lives in matching.rs.

use std::collections::HashMap;
use std::net::SocketAddrV4;
use std::sync::Arc;
use std::time::Duration;

use regex::Regex;

/// How the outbound proxy treats a destination port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Detect,
    Http1,
    H2c,
    Grpc,
    Tcp,
}

/// A string compared exactly or by an anchored regex.
#[derive(Clone, Debug)]
pub enum Text {
    Exact(String),
    Regex(Regex),
}

impl Text {
    pub fn matches(&self, s: &str) -> bool {
        match self {
            Text::Exact(v) => v == s,
            Text::Regex(r) => r.is_match(s),
        }
    }
}

#[derive(Clone, Debug)]
pub struct NamedMatch {
    pub name: String,
    pub value: Text,
}

#[derive(Clone, Debug)]
pub enum PathMatch {
    Exact(String),
    Prefix(String),
    Regex(Regex),
}

#[derive(Clone, Debug, Default)]
pub struct Match {
    pub path: Option<PathMatch>,
    pub method: Option<String>,
    pub headers: Vec<NamedMatch>,
    pub query: Vec<NamedMatch>,
}

#[derive(Clone, Debug, Default)]
pub struct HeaderModifier {
    pub set: Vec<(String, String)>,
    pub add: Vec<(String, String)>,
    pub remove: Vec<String>,
}

#[derive(Clone, Debug)]
pub enum PathModifier {
    Full(String),
    Prefix(String),
}

#[derive(Clone, Debug)]
pub enum Filter {
    RequestHeaders(HeaderModifier),
    ResponseHeaders(HeaderModifier),
    Redirect {
        scheme: Option<String>,
        hostname: Option<String>,
        port: Option<u16>,
        path: Option<PathModifier>,
        status: u16,
    },
    Rewrite {
        hostname: Option<String>,
        path: Option<PathModifier>,
    },
    Mirror {
        backend: Arc<Backend>,
        percent: f64,
    },
}

#[derive(Debug)]
pub struct Backend {
    pub service: Arc<str>,
    pub port: u16,
    pub weight: u64,
    pub endpoints: Box<[SocketAddrV4]>,
    pub invalid: Option<String>,
    pub filters: Vec<Filter>,
}

#[derive(Clone, Debug)]
pub struct Retry {
    pub attempts: u32,
    pub codes: Vec<u16>,
    pub backoff: Duration,
}

#[derive(Clone, Debug)]
pub struct Fault {
    pub policy: Arc<str>,
    pub delay: Option<(Duration, f64)>,
    pub abort: Option<(u16, f64)>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RateLimit {
    pub policy: Arc<str>,
    pub requests_per_second: f64,
    pub burst: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteKind {
    HttpRoute,
    GrpcRoute,
    Default,
}

impl RouteKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RouteKind::HttpRoute => "HTTPRoute",
            RouteKind::GrpcRoute => "GRPCRoute",
            RouteKind::Default => "default",
        }
    }
}

#[derive(Debug)]
pub struct RouteEntry {
    pub route: Arc<str>,
    pub kind: RouteKind,
    pub rule: u32,
    pub hostnames: Vec<String>,
    pub matcher: Match,
    pub filters: Vec<Filter>,
    pub backends: Vec<Arc<Backend>>,
    /// None: no timeout
    pub request_timeout: Option<Duration>,
    pub backend_timeout: Option<Duration>,
    pub retry: Option<Retry>,
    pub fault: Option<Fault>,
    pub rate_limit: Option<RateLimit>,
}

#[derive(Debug)]
pub struct HttpPort {
    pub service: Arc<str>,
    pub addr: SocketAddrV4,
    pub protocol: Protocol,
    pub routes: Vec<RouteEntry>,
    /// GAMMA consumer routes: (client namespace, its routes), used instead of `routes` for clients
    /// of that namespace
    pub consumers: Vec<(Box<str>, Vec<RouteEntry>)>,
    pub rate_limit: Option<RateLimit>,
}

impl HttpPort {
    /// The routes a client of namespace `client_ns` gets: its consumer routes, else the port's.
    pub fn routes_for(&self, client_ns: Option<&str>) -> &[RouteEntry] {
        client_ns
            .and_then(|ns| self.consumers.iter().find(|(n, _)| &**n == ns))
            .map_or(&self.routes, |(_, r)| r)
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_header_bytes: usize,
    pub retry_buffer_bytes: usize,
    pub max_pending_per_endpoint: u32,
}

#[derive(Clone, Copy, Debug)]
pub struct BudgetConfig {
    pub ratio: f64,
    pub min_per_second: f64,
    pub ttl: Duration,
}

#[derive(Clone, Copy, Debug)]
pub struct AccrualConfig {
    pub consecutive_failures: u32,
    pub min_backoff: Duration,
    pub max_backoff: Duration,
}

/// The validated `http` of one decision table.
#[derive(Debug)]
pub struct HttpTable {
    /// this node's pods whose HTTP requests are access-logged (both directions)
    pub access_log: std::collections::HashSet<std::net::Ipv4Addr>,
    /// this node's pods whose namespace is traced, with its new-root sampling percentage
    pub trace: HashMap<std::net::Ipv4Addr, f64>,
    pub detect_timeout: Duration,
    pub default_protocol: Protocol,
    pub ports: HashMap<SocketAddrV4, Arc<HttpPort>>,
    pub limits: Limits,
    pub retry_budget: BudgetConfig,
    pub accrual: AccrualConfig,
}

impl HttpTable {
    /// Whether requests to (or from) local pod `ip` are served one by one at its proxy even
    /// without HTTP authorization: access-logged or traced.
    pub fn per_request(&self, ip: &std::net::Ipv4Addr) -> bool {
        self.access_log.contains(ip) || self.trace.contains_key(ip)
    }

    pub fn port(&self, dst: SocketAddrV4) -> Option<&Arc<HttpPort>> {
        self.ports.get(&dst)
    }

    /// How a connection to `dst` is handled: its port's protocol, else the default.
    pub fn protocol(&self, dst: SocketAddrV4) -> Protocol {
        self.ports
            .get(&dst)
            .map_or(self.default_protocol, |p| p.protocol)
    }
}

#[cfg(test)]
#[path = "table_tests.rs"]
mod tests;
