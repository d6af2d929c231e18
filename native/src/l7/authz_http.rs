//! The HTTP half of inbound authorization (agent/src/authz/http.ts and respond.ts, line for line):
//! an operation's HTTP fields and their matching against one request (after RFC 3986 path
//! normalization), the 403 / gRPC PERMISSION_DENIED answer to a denied request, per-policy
//! allow/deny counters read at scrape time, and the one log line of a denial. Pure except the counters.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use serde_json::{json, Value};

/// One header condition: (lowercase name, value patterns).
pub type HeaderMatch = (Box<str>, Box<[Box<str>]>);

/// The HTTP fields of one operation (`TableAuthzHttp`); `None` is an unset field.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct HttpOp {
    pub methods: Option<Box<[Box<str>]>>,
    pub not_methods: Option<Box<[Box<str>]>>,
    pub paths: Option<Box<[Box<str>]>>,
    pub not_paths: Option<Box<[Box<str>]>>,
    /// lowercase
    pub hosts: Option<Box<[Box<str>]>>,
    pub not_hosts: Option<Box<[Box<str>]>>,
    /// (lowercase name, value patterns), sorted by name
    pub headers: Box<[HeaderMatch]>,
}

/// One request as authorization sees it: built once per request, matched against every rule.
#[derive(Debug)]
pub struct AuthzRequest<'a> {
    pub method: &'a str,
    /// Host / :authority lowercased, without its port
    pub host: String,
    /// the path normalized ([`normalize_path`])
    pub path: String,
    /// lowercase names, repeated headers joined with ',' (the l7 `RequestHead.headers`)
    pub headers: &'a BTreeMap<String, String>,
}

impl<'a> AuthzRequest<'a> {
    /// From the parts of the l7 `RequestHead` (method, authority, path without query, headers).
    pub fn new(
        method: &'a str,
        authority: &str,
        path: &str,
        headers: &'a BTreeMap<String, String>,
    ) -> AuthzRequest<'a> {
        AuthzRequest {
            method,
            host: host_of(authority),
            path: normalize_path(path),
            headers,
        }
    }

    /// Whether this is a gRPC request (content-type application/grpc…): it is denied with grpc-status.
    pub fn is_grpc(&self) -> bool {
        self.headers
            .get("content-type")
            .is_some_and(|c| c.starts_with("application/grpc"))
    }
}

/// "*" anything, "abc*" a prefix, "*abc" a suffix, else exact.
pub fn value_matches(pattern: &str, value: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    if let Some(p) = pattern.strip_suffix('*') {
        return value.starts_with(p);
    }
    if let Some(s) = pattern.strip_prefix('*') {
        return value.ends_with(s);
    }
    pattern == value
}

/// A valid value pattern: "*", or at most one '*', as the first or the last character.
pub fn valid_pattern(s: &str) -> bool {
    if s == "*" {
        return true;
    }
    let inner = s.len() > 1 && s.starts_with('*') && s.ends_with('*');
    let middle = s.len() > 2 && s[1..s.len() - 1].contains('*');
    !s.is_empty() && !inner && !middle
}

fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// RFC 3986 normalization (Istio's BASE): escapes of unreserved characters decoded, other escapes'
/// hex uppercased, a '%' starting no escape written "%25", "." and ".." segments removed; a path
/// not starting with '/' is unchanged. Idempotent (fuzzed: native/fuzz request_head).
pub fn normalize_path(path: &str) -> String {
    if !path.starts_with('/') {
        return path.to_string();
    }
    let b = path.as_bytes();
    let mut decoded = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                let c = h * 16 + l;
                if unreserved(c) {
                    decoded.push(c);
                } else {
                    decoded.push(b'%');
                    decoded.push(b[i + 1].to_ascii_uppercase());
                    decoded.push(b[i + 2].to_ascii_uppercase());
                }
                i += 3;
                continue;
            }
        }
        if b[i] == b'%' {
            // a '%' that starts no escape is itself escaped, so decoding what follows can never
            // form a new escape with it ("%%33" → "%253", not "%3" + "3" = "%33" on a second pass)
            decoded.extend_from_slice(b"%25");
        } else {
            decoded.push(b[i]);
        }
        i += 1;
    }
    // only ASCII was decoded, so the bytes stay UTF-8
    let decoded = String::from_utf8(decoded).unwrap_or_else(|_| path.to_string());
    let segs: Vec<&str> = decoded.split('/').skip(1).collect();
    let mut out: Vec<&str> = Vec::with_capacity(segs.len());
    for (k, s) in segs.iter().enumerate() {
        if *s == "." || *s == ".." {
            if *s == ".." {
                out.pop();
            }
            if k == segs.len() - 1 {
                out.push("");
            }
        } else {
            out.push(s);
        }
    }
    format!("/{}", out.join("/"))
}

/// The host of an authority: lowercase, without a port ("[::1]:80" → "[::1]").
pub fn host_of(authority: &str) -> String {
    let a = authority.to_ascii_lowercase();
    if a.starts_with('[') {
        return match a.find(']') {
            Some(end) => a[..=end].to_string(),
            None => a,
        };
    }
    match a.find(':') {
        Some(c) => a[..c].to_string(),
        None => a,
    }
}

fn list_matches(patterns: &Option<Box<[Box<str>]>>, value: &str, want: bool) -> bool {
    patterns
        .as_ref()
        .is_none_or(|ps| ps.iter().any(|p| value_matches(p, value)) == want)
}

impl HttpOp {
    /// Every field it sets matches the request (a not-field: no listed value matches).
    pub fn matches(&self, r: &AuthzRequest) -> bool {
        if let Some(ms) = &self.methods {
            if !ms.iter().any(|m| &**m == r.method) {
                return false;
            }
        }
        if let Some(ms) = &self.not_methods {
            if ms.iter().any(|m| &**m == r.method) {
                return false;
            }
        }
        if !list_matches(&self.paths, &r.path, true)
            || !list_matches(&self.not_paths, &r.path, false)
        {
            return false;
        }
        if !list_matches(&self.hosts, &r.host, true)
            || !list_matches(&self.not_hosts, &r.host, false)
        {
            return false;
        }
        self.headers.iter().all(|(name, values)| {
            r.headers
                .get(&**name)
                .is_some_and(|v| values.iter().any(|p| value_matches(p, v)))
        })
    }
}

/// gRPC status PERMISSION_DENIED.
pub const GRPC_PERMISSION_DENIED: u32 = 7;

/// The answer to a denied request (agent/src/authz/respond.ts `denyResponse`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DenyResponse {
    pub status: u16,
    /// lowercase names, in this order
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

/// 403 with the code (text/plain), or for gRPC a trailers-only 200 with grpc-status 7; the policy
/// name is never sent to the refused client (it is in the log line and the metrics).
pub fn deny_response(code: &str, grpc: bool) -> DenyResponse {
    let code = if code.is_empty() {
        "MESH_ERR_AUTHZ_DENIED"
    } else {
        code
    };
    let msg = if code == "MESH_ERR_MTLS_REQUIRED" {
        "the destination requires mutual TLS: send from a meshed workload"
    } else {
        "the destination's authorization policy denies this request: its owner can allow it with an AuthorizationPolicy"
    };
    if grpc {
        return DenyResponse {
            status: 200,
            headers: vec![
                ("content-type", "application/grpc".to_string()),
                ("grpc-status", GRPC_PERMISSION_DENIED.to_string()),
                ("grpc-message", grpc_message(&format!("{code}: {msg}"))),
                ("x-nodemesh-error", code.to_string()),
            ],
            body: String::new(),
        };
    }
    DenyResponse {
        status: 403,
        headers: vec![
            ("content-type", "text/plain; charset=utf-8".to_string()),
            ("x-nodemesh-error", code.to_string()),
        ],
        body: format!("{code}: {msg}\n"),
    }
}

/// grpc-message encoding: bytes outside 0x20..0x7E and '%' as %XX.
pub fn grpc_message(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if (0x20..=0x7e).contains(&b) && b != b'%' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Distinct policies counted; more are counted under [`OTHER_POLICY`] (bounds the series).
pub const MAX_POLICIES: usize = 1024;
pub const OTHER_POLICY: &str = "other";

/// `inbound_http_authz_allow_total` / `_deny_total` by policy: lock-free once a policy is known.
#[derive(Debug, Default)]
pub struct HttpAuthzCounters {
    by_policy: RwLock<HashMap<Arc<str>, Arc<[AtomicU64; 2]>>>,
}

impl HttpAuthzCounters {
    /// Counts one request's verdict under its deciding policy ("" when no authorization applied: not counted).
    pub fn record(&self, allow: bool, policy: &Arc<str>) {
        if policy.is_empty() {
            return;
        }
        let slot = usize::from(!allow);
        let found = self
            .by_policy
            .read()
            .ok()
            .and_then(|m| m.get(policy).cloned());
        let cell = match found {
            Some(c) => c,
            None => {
                let Ok(mut m) = self.by_policy.write() else {
                    return;
                };
                let key: Arc<str> = if m.len() >= MAX_POLICIES && !m.contains_key(policy) {
                    Arc::from(OTHER_POLICY)
                } else {
                    policy.clone()
                };
                m.entry(key).or_default().clone()
            }
        };
        cell[slot].fetch_add(1, Ordering::Relaxed);
    }

    /// `[{ policy, allow, deny }]` sorted by policy, for prom-client at scrape time.
    pub fn snapshot(&self) -> Value {
        let Ok(m) = self.by_policy.read() else {
            return json!([]);
        };
        let mut rows: Vec<(&Arc<str>, u64, u64)> = m
            .iter()
            .map(|(k, c)| {
                (
                    k,
                    c[0].load(Ordering::Relaxed),
                    c[1].load(Ordering::Relaxed),
                )
            })
            .collect();
        rows.sort_by(|a, b| a.0.cmp(b.0));
        Value::Array(
            rows.into_iter()
                .map(|(p, a, d)| json!({ "policy": &**p, "allow": a, "deny": d }))
                .collect(),
        )
    }
}

/// The one JSON log line of a denied request (no header values: they may carry credentials).
pub fn deny_log_line(
    policy: &str,
    code: &str,
    src: &str,
    identity: Option<&str>,
    dst: &str,
    r: &AuthzRequest,
) -> String {
    json!({
        "msg": "request denied by authorization",
        "code": code,
        "policy": policy,
        "src": src,
        "identity": identity,
        "dst": dst,
        "method": r.method,
        "host": r.host,
        "path": r.path,
    })
    .to_string()
}
