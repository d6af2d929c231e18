//! Per-request matching on the parsed HTTP table, with exactly the semantics of
//! agent/src/routing/route.ts (docs/l7.md): the first entry whose hostnames and match accept the
//! request wins, its filters run in order (a redirect answers), a backend is picked by cumulative
//! weight with `u`, and an unusable backend answers 500 or 503. Pure: no I/O, no clock, no RNG.

use std::collections::BTreeMap;

use super::table::{
    Backend, Filter, HeaderModifier, HttpPort, PathMatch, PathModifier, RouteEntry,
};

pub const NO_ROUTE: &str = "MESH_ERR_NO_ROUTE";
pub const INVALID_BACKEND: &str = "MESH_ERR_INVALID_BACKEND";
pub const NO_ENDPOINTS: &str = "MESH_ERR_NO_ENDPOINTS";

/// The request head route() sees (docs/l7.md, `RequestHead`).
#[derive(Clone, Debug, Default)]
pub struct RequestHead {
    pub method: String,
    /// Host or :authority, lowercase, as received (port included when sent)
    pub authority: String,
    pub path: String,
    /// raw query without '?'
    pub query: String,
    /// lowercase names, repeated headers joined with ','
    pub headers: BTreeMap<String, String>,
}

/// What route() decides.
#[derive(Debug)]
pub enum Outcome<'a> {
    Forward {
        entry: usize,
        route: &'a RouteEntry,
        backend: usize,
        target: &'a Backend,
        /// after URLRewrite
        authority: String,
        path: String,
    },
    Respond {
        status: u16,
        code: &'static str,
        location: Option<String>,
        /// -1: no entry matched
        entry: i64,
    },
}

/// Something request header modifiers can edit: the joined map of the head (what route() returns)
/// or the real `http::HeaderMap` the proxy forwards.
pub trait HeaderStore {
    fn set(&mut self, name: &str, value: &str);
    fn add(&mut self, name: &str, value: &str);
    fn remove(&mut self, name: &str);
}

impl HeaderStore for BTreeMap<String, String> {
    fn set(&mut self, name: &str, value: &str) {
        self.insert(name.to_string(), value.to_string());
    }
    fn add(&mut self, name: &str, value: &str) {
        match self.get_mut(name) {
            Some(v) => {
                v.push(',');
                v.push_str(value);
            }
            None => {
                self.insert(name.to_string(), value.to_string());
            }
        }
    }
    fn remove(&mut self, name: &str) {
        BTreeMap::remove(self, name);
    }
}

impl HeaderStore for http::HeaderMap {
    fn set(&mut self, name: &str, value: &str) {
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_str(value),
        ) {
            self.insert(n, v);
        }
    }
    fn add(&mut self, name: &str, value: &str) {
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_str(value),
        ) {
            self.append(n, v);
        }
    }
    fn remove(&mut self, name: &str) {
        http::HeaderMap::remove(self, name);
    }
}

/// Applies one modifier: set, then add, then remove (Gateway API HTTPHeaderFilter).
pub fn modify(m: &HeaderModifier, h: &mut impl HeaderStore) {
    for (n, v) in &m.set {
        h.set(n, v);
    }
    for (n, v) in &m.add {
        h.add(n, v);
    }
    for n in &m.remove {
        h.remove(n);
    }
}

/// The request header modifiers of a forward, in order: the rule's, then the backend's.
pub fn request_modifiers<'a>(
    route: &'a RouteEntry,
    target: &'a Backend,
) -> impl Iterator<Item = &'a HeaderModifier> {
    route
        .filters
        .iter()
        .chain(target.filters.iter())
        .filter_map(|f| match f {
            Filter::RequestHeaders(m) => Some(m),
            _ => None,
        })
}

/// The response header modifiers of a forward, in order: the rule's, then the backend's.
pub fn response_modifiers<'a>(
    route: &'a RouteEntry,
    target: &'a Backend,
) -> impl Iterator<Item = &'a HeaderModifier> {
    route
        .filters
        .iter()
        .chain(target.filters.iter())
        .filter_map(|f| match f {
            Filter::ResponseHeaders(m) => Some(m),
            _ => None,
        })
}

/// The hostname of an authority: lowercase, the port (and an IPv6 literal's brackets kept) removed.
pub fn hostname(authority: &str) -> String {
    let a = authority.to_lowercase();
    if a.starts_with('[') {
        return a.find(']').map_or(a.clone(), |i| a[..=i].to_string());
    }
    match a.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h.to_string(),
        _ => a,
    }
}

/// A trailing '/' removed (one).
fn trim_slash(v: &str) -> &str {
    v.strip_suffix('/').unwrap_or(v)
}

/// Route hostnames: empty accepts any; `*.suffix` is a suffix match needing at least one label.
pub fn host_matches(hostnames: &[String], host: &str) -> bool {
    hostnames.is_empty()
        || hostnames.iter().any(|h| match h.strip_prefix('*') {
            Some(suffix) => host.len() > suffix.len() && host.ends_with(suffix),
            None => h == host,
        })
}

/// A prefix matches whole path segments; a trailing '/' of the prefix is ignored.
pub fn prefix_matches(prefix: &str, path: &str) -> bool {
    let p = trim_slash(prefix);
    p.is_empty()
        || (path.starts_with(p) && matches!(path.as_bytes().get(p.len()), None | Some(b'/')))
}

/// First value of query parameter `name` in `query` (names and values as received; `a` alone is
/// `a` = '').
pub fn query_param<'q>(query: &'q str, name: &str) -> Option<&'q str> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (k == name && !kv.is_empty()).then_some(v)
    })
}

fn entry_matches(e: &RouteEntry, head: &RequestHead, host: &str) -> bool {
    let m = &e.matcher;
    host_matches(&e.hostnames, host)
        && match &m.path {
            None => true,
            Some(PathMatch::Exact(v)) => head.path == *v,
            Some(PathMatch::Prefix(v)) => prefix_matches(v, &head.path),
            Some(PathMatch::Regex(r)) => r.is_match(&head.path),
        }
        && m.method.as_ref().is_none_or(|x| *x == head.method)
        && m.headers.iter().all(|h| {
            let v = head.headers.get(&h.name).map(String::as_str);
            let v = v.or_else(|| (h.name == "host").then_some(head.authority.as_str()));
            v.is_some_and(|v| h.value.matches(v))
        })
        && m.query
            .iter()
            .all(|q| query_param(&head.query, &q.name).is_some_and(|v| q.value.matches(v)))
}

/// Replaces the matched prefix of `path` by `with` (Gateway API ReplacePrefixMatch): both
/// without one trailing '/', '' becoming '/'.
pub fn replace_prefix(path: &str, prefix: &str, with: &str) -> String {
    let p = trim_slash(prefix);
    let mut out = trim_slash(with).to_string();
    out.push_str(path.get(p.len()..).unwrap_or(""));
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// A path modifier on `path`; a prefix modifier on an entry without a prefix match changes nothing.
fn rewrite_path(m: &PathModifier, e: &RouteEntry, path: &str) -> String {
    match (m, &e.matcher.path) {
        (PathModifier::Full(v), _) => v.clone(),
        (PathModifier::Prefix(v), Some(PathMatch::Prefix(p))) => replace_prefix(path, p, v),
        (PathModifier::Prefix(_), _) => path.to_string(),
    }
}

fn well_known(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

/// Picks a backend by cumulative weight for `u` in [0,1); zero weights never win. None: no
/// backend has a weight.
pub fn pick_backend(backends: &[impl std::borrow::Borrow<Backend>], u: f64) -> Option<usize> {
    let total: u64 = backends.iter().map(|b| b.borrow().weight).sum();
    if total == 0 {
        return None;
    }
    let target = u.clamp(0.0, 1.0) * total as f64;
    let mut acc = 0u64;
    let mut last = None;
    for (i, b) in backends.iter().enumerate() {
        let w = b.borrow().weight;
        if w == 0 {
            continue;
        }
        acc += w;
        last = Some(i);
        if target < acc as f64 {
            return Some(i);
        }
    }
    last
}

/// route(table, dst, head, u) of route.ts on the Service port `port` (the one of `dst`).
pub fn route<'a>(
    port: &'a HttpPort,
    head: &RequestHead,
    u: f64,
    client_ns: Option<&str>,
) -> Outcome<'a> {
    let host = hostname(&head.authority);
    let Some((i, e)) = port
        .routes_for(client_ns)
        .iter()
        .enumerate()
        .find(|(_, e)| entry_matches(e, head, &host))
    else {
        return Outcome::Respond {
            status: 404,
            code: NO_ROUTE,
            location: None,
            entry: -1,
        };
    };
    let redirect = e.filters.iter().find_map(|f| match f {
        Filter::Redirect {
            scheme,
            hostname,
            port,
            path,
            status,
        } => Some((scheme, hostname, port, path, status)),
        _ => None,
    });
    if let Some((scheme, h, p, pm, status)) = redirect {
        let scheme_s = scheme.as_deref().unwrap_or("http");
        let port_n = p.unwrap_or_else(|| match scheme {
            Some(_) => well_known(scheme_s).unwrap_or(port.addr.port()),
            None => port.addr.port(),
        });
        let mut loc = format!("{scheme_s}://{}", h.as_deref().unwrap_or(&host));
        if well_known(scheme_s) != Some(port_n) {
            loc.push_str(&format!(":{port_n}"));
        }
        loc.push_str(
            &pm.as_ref()
                .map_or_else(|| head.path.clone(), |m| rewrite_path(m, e, &head.path)),
        );
        if !head.query.is_empty() {
            loc.push('?');
            loc.push_str(&head.query);
        }
        return Outcome::Respond {
            status: *status,
            code: "",
            location: Some(loc),
            entry: i as i64,
        };
    }
    let respond = |status, code| Outcome::Respond {
        status,
        code,
        location: None,
        entry: i as i64,
    };
    let Some(b) = pick_backend(&e.backends, u) else {
        return respond(500, INVALID_BACKEND);
    };
    let target: &Backend = &e.backends[b];
    if target.invalid.is_some() {
        return respond(500, INVALID_BACKEND);
    }
    if target.endpoints.is_empty() {
        return respond(503, NO_ENDPOINTS);
    }
    let mut authority = head.authority.clone();
    let mut path = head.path.clone();
    for f in &e.filters {
        if let Filter::Rewrite {
            hostname: h,
            path: pm,
        } = f
        {
            if let Some(h) = h {
                authority = h.clone();
            }
            if let Some(m) = pm {
                path = rewrite_path(m, e, &path);
            }
        }
    }
    Outcome::Forward {
        entry: i,
        route: e,
        backend: b,
        target,
        authority,
        path,
    }
}
