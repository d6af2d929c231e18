//! Inbound authorization: the `authz` part of the decision table (wire shape and semantics:
//! agent/src/authz, compiled there from AuthorizationPolicy and MeshTLSPolicy objects) and its
//! evaluation per connection or per HTTP request (the HTTP fields: l7/authz_http.rs), the same
//! algorithm as agent/src/authz/evaluate.ts: the rows of test/fixtures/authz/cases.json must agree.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::table::{as_array, as_object, describe, field, ipv4};
pub use crate::l7::authz_http::AuthzRequest;
use crate::l7::authz_http::{valid_pattern, HeaderMatch, HttpOp};

/// Close reason of a connection no policy allows (or a DENY policy matches).
pub const AUTHZ_DENIED: &str = "MESH_ERR_AUTHZ_DENIED";
/// Close reason of a plaintext connection to a workload (port) in STRICT mTLS mode.
pub const MTLS_REQUIRED: &str = "MESH_ERR_MTLS_REQUIRED";
/// Policy named by an MTLS_REQUIRED verdict when the table's STRICT mode names no MeshTLSPolicy.
const MESH_DEFAULT_POLICY: &str = "mesh-default";
/// Longest policy name, identity glob or namespace accepted (sanity bounds, not Kubernetes rules).
const MAX_TEXT: usize = 512;
/// Longest HTTP value pattern accepted (the CRD's bound on paths and header values).
const MAX_HTTP_TEXT: usize = 1024;

/// How the connection reached the node proxy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// over HBONE: the identity is the peer's verified certificate
    Mtls,
    /// from an enrolled pod of this node: the identity is that pod's own
    Local,
    /// captured on :15006 without mTLS: no identity
    Plaintext,
}

/// One inbound connection to authorize.
#[derive(Clone, Copy, Debug)]
pub struct AuthzInput<'a> {
    pub dst_ip: Ipv4Addr,
    /// the pod port the connection is for
    pub dst_port: u16,
    pub src_ip: Ipv4Addr,
    pub identity: Option<&'a str>,
    pub transport: Transport,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthzVerdict {
    pub allow: bool,
    /// "" when allowed, else [`AUTHZ_DENIED`] or [`MTLS_REQUIRED`]
    pub code: &'static str,
    /// the deciding policy: "ns/name", "default:<policy>", "" (no authorization for this destination)
    pub policy: Arc<str>,
    /// the first matching AUDIT policy, "" none
    pub audit: Arc<str>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Strict,
    /// PERMISSIVE, and DISABLE (which accepts inbound plaintext the same way)
    Lenient,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DefaultPolicy {
    AllUnauthenticated,
    AllAuthenticated,
    ClusterAuthenticated,
    Deny,
}

const DEFAULTS: [(&str, DefaultPolicy); 4] = [
    ("all-unauthenticated", DefaultPolicy::AllUnauthenticated),
    ("all-authenticated", DefaultPolicy::AllAuthenticated),
    ("cluster-authenticated", DefaultPolicy::ClusterAuthenticated),
    ("deny", DefaultPolicy::Deny),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    Allow,
    Deny,
    Audit,
}

#[derive(Debug)]
struct Workload {
    mode: Mode,
    /// policy named when STRICT refuses plaintext (the MeshTLSPolicy, or "mesh-default")
    strict_policy: Arc<str>,
    port_modes: Box<[(u16, Mode)]>,
    default: DefaultPolicy,
    /// "default:<policy>"
    default_name: Arc<str>,
    policies: Box<[u32]>,
    needs_http: NeedsHttp,
}

/// Which ports of a workload have L7 rules (`needsHttp` of the table).
#[derive(Debug, Clone, PartialEq, Eq)]
enum NeedsHttp {
    No,
    All,
    Ports(Box<[u16]>),
}

#[derive(Debug)]
struct Policy {
    name: Arc<str>,
    action: Action,
    rules: Box<[Rule]>,
}

#[derive(Debug)]
struct Rule {
    from: Option<Box<[Source]>>,
    ports: Option<Box<[u16]>>,
    /// the HTTP fields: Some exactly when the table's l7 is true
    http: Option<HttpOp>,
}

#[derive(Debug)]
struct Source {
    identities: Option<Box<[Box<str>]>>,
    namespaces: Option<Box<[Box<str>]>>,
    ip_blocks: Option<Box<[(u32, u32)]>>,
}

/// The compiled authorization of one table: workloads by IP, policies by index.
#[derive(Debug)]
pub struct Authz {
    /// "spiffe://<trust domain>/": the prefix of cluster-authenticated identities
    cluster_prefix: Box<str>,
    workloads: HashMap<Ipv4Addr, Workload>,
    policies: Box<[Policy]>,
    none: Arc<str>,
}

impl Authz {
    /// No authorization: every destination is allowed (the table before `authz` is set).
    pub fn empty() -> Authz {
        Authz {
            cluster_prefix: Box::from("spiffe://cluster.local/"),
            workloads: HashMap::new(),
            policies: Box::new([]),
            none: Arc::from(""),
        }
    }

    /// Parses `table.authz` (absent or null → [`Authz::empty`]); errors name the field path.
    pub fn parse(v: Option<&Value>) -> Result<Authz, String> {
        let v = match v {
            None | Some(Value::Null) => return Ok(Authz::empty()),
            Some(v) => v,
        };
        let path = "authz";
        let o = as_object(v, path)?;
        let td = text(field(o, path, "trustDomain")?, "authz.trustDomain")?;
        if td.contains('/') {
            return Err(format!(
                "authz.trustDomain: \"{td}\" is not a trust domain (no '/')"
            ));
        }
        let policies = as_array(field(o, path, "policies")?, "authz.policies")?
            .iter()
            .enumerate()
            .map(|(i, p)| policy(p, &format!("authz.policies[{i}]")))
            .collect::<Result<Box<[Policy]>, String>>()?;
        let names: Vec<Arc<str>> = DEFAULTS
            .iter()
            .map(|(n, _)| Arc::from(format!("default:{n}")))
            .collect();
        let mut workloads = HashMap::new();
        for (i, wv) in as_array(field(o, path, "workloads")?, "authz.workloads")?
            .iter()
            .enumerate()
        {
            let wp = format!("authz.workloads[{i}]");
            let (ip, mut w) = workload(wv, &wp, policies.len(), &names)?;
            w.needs_http = needs_http_of(stated_needs(wv, &wp)?, &w, &policies, &wp)?;
            if workloads.insert(ip, w).is_some() {
                return Err(format!("{wp}.ip: \"{ip}\" is listed twice"));
            }
        }
        Ok(Authz {
            cluster_prefix: Box::from(format!("spiffe://{td}/")),
            workloads,
            policies,
            none: Arc::from(""),
        })
    }

    /// Number of workloads with authorization.
    #[cfg(test)]
    pub fn workload_count(&self) -> usize {
        self.workloads.len()
    }

    /// Whether authorizing a connection to `dst_ip:dst_port` needs its HTTP requests (the table's
    /// `needsHttp`): the inbound path then parses HTTP and calls [`Authz::evaluate_request`] per
    /// request; otherwise (and for a connection that is not HTTP) [`Authz::evaluate`] is final.
    pub fn needs_http(&self, dst_ip: Ipv4Addr, dst_port: u16) -> bool {
        match self.workloads.get(&dst_ip).map(|w| &w.needs_http) {
            None | Some(NeedsHttp::No) => false,
            Some(NeedsHttp::All) => true,
            Some(NeedsHttp::Ports(ps)) => ps.contains(&dst_port),
        }
    }

    /// Authorizes one inbound connection with no HTTP request: [`Authz::evaluate_request`] with None.
    pub fn evaluate(&self, i: &AuthzInput) -> AuthzVerdict {
        self.evaluate_request(i, None)
    }

    /// Authorizes one inbound connection, or one HTTP request on it (the order is agent/src/authz/evaluate.ts `authorize`):
    /// not a workload here → allow; STRICT and plaintext → MTLS_REQUIRED; a matching DENY →
    /// denied; ALLOW policies present → the first matching allows, none → denied; else the
    /// default policy. The first matching AUDIT policy is reported in the authz verdicts. Without a
    /// request, a rule with HTTP fields never matches for ALLOW and AUDIT and matches on its other
    /// fields for DENY (Istio's rule for HTTP-only fields on TCP traffic).
    pub fn evaluate_request(&self, i: &AuthzInput, http: Option<&AuthzRequest>) -> AuthzVerdict {
        let Some(w) = self.workloads.get(&i.dst_ip) else {
            return self.verdict(true, "", &self.none, &self.none);
        };
        let mode = w
            .port_modes
            .iter()
            .find(|(p, _)| *p == i.dst_port)
            .map_or(w.mode, |(_, m)| *m);
        if mode == Mode::Strict && i.transport == Transport::Plaintext {
            return self.verdict(false, MTLS_REQUIRED, &w.strict_policy, &self.none);
        }
        let mut deny: Option<&Arc<str>> = None;
        let mut audit: Option<&Arc<str>> = None;
        let mut first_allow: Option<&Arc<str>> = None;
        let mut allowed: Option<&Arc<str>> = None;
        for &idx in w.policies.iter() {
            let p = &self.policies[idx as usize];
            match p.action {
                Action::Deny => {
                    if deny.is_none() && p.matches(i, http) {
                        deny = Some(&p.name);
                    }
                }
                Action::Audit => {
                    if audit.is_none() && p.matches(i, http) {
                        audit = Some(&p.name);
                    }
                }
                Action::Allow => {
                    first_allow = first_allow.or(Some(&p.name));
                    if allowed.is_none() && p.matches(i, http) {
                        allowed = Some(&p.name);
                    }
                }
            }
        }
        let audit = audit.unwrap_or(&self.none);
        if let Some(d) = deny {
            return self.verdict(false, AUTHZ_DENIED, d, audit);
        }
        if let Some(first) = first_allow {
            return match allowed {
                Some(a) => self.verdict(true, "", a, audit),
                None => self.verdict(false, AUTHZ_DENIED, first, audit),
            };
        }
        let ok = match w.default {
            DefaultPolicy::AllUnauthenticated => true,
            DefaultPolicy::AllAuthenticated => i.identity.is_some(),
            DefaultPolicy::ClusterAuthenticated => i
                .identity
                .is_some_and(|id| id.starts_with(&*self.cluster_prefix)),
            DefaultPolicy::Deny => false,
        };
        let code = if ok { "" } else { AUTHZ_DENIED };
        self.verdict(ok, code, &w.default_name, audit)
    }

    fn verdict(
        &self,
        allow: bool,
        code: &'static str,
        policy: &Arc<str>,
        audit: &Arc<str>,
    ) -> AuthzVerdict {
        AuthzVerdict {
            allow,
            code,
            policy: policy.clone(),
            audit: audit.clone(),
        }
    }
}

// === matching ===

impl Policy {
    fn matches(&self, i: &AuthzInput, http: Option<&AuthzRequest>) -> bool {
        let deny = self.action == Action::Deny;
        self.rules.iter().any(|r| r.matches(deny, i, http))
    }
}

impl Rule {
    /// Without a request an L7 rule never matches for ALLOW and AUDIT; for DENY it matches on its
    /// L4 fields alone. With a request its HTTP fields must match too.
    fn matches(&self, deny: bool, i: &AuthzInput, http: Option<&AuthzRequest>) -> bool {
        if self.http.is_some() && http.is_none() && !deny {
            return false;
        }
        if let Some(ports) = &self.ports {
            if !ports.contains(&i.dst_port) {
                return false;
            }
        }
        if let (Some(op), Some(r)) = (&self.http, http) {
            if !op.matches(r) {
                return false;
            }
        }
        match &self.from {
            None => true,
            Some(from) => from.iter().any(|s| s.matches(i)),
        }
    }
}

impl Source {
    fn matches(&self, i: &AuthzInput) -> bool {
        if let Some(globs) = &self.identities {
            let Some(id) = i.identity else { return false };
            if !globs.iter().any(|g| glob_matches(g, id)) {
                return false;
            }
        }
        if let Some(nss) = &self.namespaces {
            let Some(ns) = i.identity.and_then(identity_namespace) else {
                return false;
            };
            if !nss.iter().any(|n| &**n == ns) {
                return false;
            }
        }
        if let Some(blocks) = &self.ip_blocks {
            let ip = u32::from(i.src_ip);
            if !blocks.iter().any(|(net, mask)| ip & mask == *net) {
                return false;
            }
        }
        true
    }
}

/// A SPIFFE identity glob: "*" alone matches any identity; otherwise pattern and identity have the
/// same number of '/'-separated segments and '*' matches any run of characters inside a segment.
fn glob_matches(pattern: &str, identity: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    let mut ps = pattern.split('/');
    let mut ts = identity.split('/');
    loop {
        match (ps.next(), ts.next()) {
            (Some(p), Some(t)) => {
                if !segment_matches(p.as_bytes(), t.as_bytes()) {
                    return false;
                }
            }
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// '*' wildcard match of one segment: greedy, backtracking to the last star (linear).
fn segment_matches(p: &[u8], t: &[u8]) -> bool {
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<usize> = None;
    let mut mark = 0;
    while ti < t.len() {
        if pi < p.len() && p[pi] != b'*' && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            pi += 1;
            mark = ti;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

/// The namespace of spiffe://<td>/ns/<ns>/sa/<sa> (no part empty or holding '/'); None otherwise.
fn identity_namespace(id: &str) -> Option<&str> {
    let rest = id.strip_prefix("spiffe://")?;
    let (td, rest) = rest.split_once('/')?;
    let (ns, sa) = rest.strip_prefix("ns/")?.split_once('/')?;
    let sa = sa.strip_prefix("sa/")?;
    (!td.is_empty() && !ns.is_empty() && !sa.is_empty() && !sa.contains('/')).then_some(ns)
}

// === parsing ===

fn text<'a>(v: &'a Value, path: &str) -> Result<&'a str, String> {
    match v.as_str() {
        Some(s) if !s.is_empty() && s.len() <= MAX_TEXT => Ok(s),
        _ => Err(format!(
            "{path}: {} is not a non-empty string of at most {MAX_TEXT} bytes",
            describe(v)
        )),
    }
}

fn port(v: &Value, path: &str) -> Result<u16, String> {
    v.as_u64()
        .and_then(|n| u16::try_from(n).ok())
        .filter(|p| *p != 0)
        .ok_or_else(|| format!("{path}: {} is not a port in 1..65535", describe(v)))
}

fn tls_mode(v: &Value, path: &str) -> Result<Mode, String> {
    match v.as_str() {
        Some("STRICT") => Ok(Mode::Strict),
        Some("PERMISSIVE" | "DISABLE") => Ok(Mode::Lenient),
        _ => Err(format!(
            "{path}: {} is not STRICT, PERMISSIVE or DISABLE",
            describe(v)
        )),
    }
}

/// An optional list (absent or null → None) of parsed items.
fn opt_list<T>(
    o: &Map<String, Value>,
    name: &str,
    path: &str,
    item: impl Fn(&Value, &str) -> Result<T, String>,
) -> Result<Option<Box<[T]>>, String> {
    match o.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => {
            let lp = format!("{path}.{name}");
            as_array(v, &lp)?
                .iter()
                .enumerate()
                .map(|(i, x)| item(x, &format!("{lp}[{i}]")))
                .collect::<Result<Box<[T]>, String>>()
                .map(Some)
        }
    }
}

fn workload(
    v: &Value,
    path: &str,
    n_policies: usize,
    names: &[Arc<str>],
) -> Result<(Ipv4Addr, Workload), String> {
    let o = as_object(v, path)?;
    let ip = ipv4(field(o, path, "ip")?, &format!("{path}.ip"))?;
    let mode = tls_mode(field(o, path, "mode")?, &format!("{path}.mode"))?;
    let mp_v = field(o, path, "modePolicy")?;
    let mode_policy = match mp_v.as_str() {
        Some("") => MESH_DEFAULT_POLICY,
        Some(s) if s.len() <= MAX_TEXT => s,
        _ => {
            return Err(format!(
                "{path}.modePolicy: {} is not a policy name",
                describe(mp_v)
            ))
        }
    };
    let pm_path = format!("{path}.portModes");
    let mut port_modes: Vec<(u16, Mode)> = Vec::new();
    for (i, pm) in as_array(field(o, path, "portModes")?, &pm_path)?
        .iter()
        .enumerate()
    {
        let pp = format!("{pm_path}[{i}]");
        let pmo = as_object(pm, &pp)?;
        let p = port(field(pmo, &pp, "port")?, &format!("{pp}.port"))?;
        let m = tls_mode(field(pmo, &pp, "mode")?, &format!("{pp}.mode"))?;
        if port_modes.iter().any(|(q, _)| *q == p) {
            return Err(format!("{pp}.port: {p} is listed twice"));
        }
        port_modes.push((p, m));
    }
    let dp_v = field(o, path, "defaultPolicy")?;
    let Some(k) = DEFAULTS.iter().position(|(n, _)| dp_v.as_str() == Some(n)) else {
        return Err(format!(
            "{path}.defaultPolicy: {} is not all-unauthenticated, all-authenticated, cluster-authenticated or deny",
            describe(dp_v)
        ));
    };
    let pol_path = format!("{path}.policies");
    let policies = as_array(field(o, path, "policies")?, &pol_path)?
        .iter()
        .enumerate()
        .map(|(i, x)| match x.as_u64() {
            Some(n) if (n as usize) < n_policies => Ok(n as u32),
            _ => Err(format!(
                "{pol_path}[{i}]: {} is not an index into authz.policies (0..{n_policies})",
                describe(x)
            )),
        })
        .collect::<Result<Box<[u32]>, String>>()?;
    Ok((
        ip,
        Workload {
            mode,
            strict_policy: Arc::from(mode_policy),
            port_modes: port_modes.into_boxed_slice(),
            default: DEFAULTS[k].1,
            default_name: names[k].clone(),
            policies,
            needs_http: NeedsHttp::No,
        },
    ))
}

fn policy(v: &Value, path: &str) -> Result<Policy, String> {
    let o = as_object(v, path)?;
    let name = text(field(o, path, "name")?, &format!("{path}.name"))?;
    let a_v = field(o, path, "action")?;
    let action = match a_v.as_str() {
        Some("ALLOW") => Action::Allow,
        Some("DENY") => Action::Deny,
        Some("AUDIT") => Action::Audit,
        _ => {
            return Err(format!(
                "{path}.action: {} is not ALLOW, DENY or AUDIT",
                describe(a_v)
            ))
        }
    };
    let rp = format!("{path}.rules");
    let rules = as_array(field(o, path, "rules")?, &rp)?
        .iter()
        .enumerate()
        .map(|(i, r)| rule(r, &format!("{rp}[{i}]")))
        .collect::<Result<Box<[Rule]>, String>>()?;
    Ok(Policy {
        name: Arc::from(name),
        action,
        rules,
    })
}

fn rule(v: &Value, path: &str) -> Result<Rule, String> {
    let o = as_object(v, path)?;
    let from = opt_list(o, "from", path, source)?;
    let ports = opt_list(o, "ports", path, port)?;
    let l7 = match o.get("l7") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(x) => return Err(format!("{path}.l7: {} is not a boolean", describe(x))),
    };
    let http = match o.get("http") {
        None | Some(Value::Null) => None,
        Some(v) => Some(http_op(v, &format!("{path}.http"))?),
    };
    if l7 != http.is_some() {
        return Err(format!(
            "{path}.http: must be set exactly when l7 is true (l7 is {l7})"
        ));
    }
    Ok(Rule { from, ports, http })
}

const HTTP_FIELDS: [&str; 7] = [
    "methods",
    "notMethods",
    "paths",
    "notPaths",
    "hosts",
    "notHosts",
    "headers",
];

/// A value pattern of an HTTP field: non-empty, bounded, '*' only whole, first or last.
fn http_text<'a>(v: &'a Value, path: &str) -> Result<&'a str, String> {
    match v.as_str() {
        Some(s) if s.len() <= MAX_HTTP_TEXT && valid_pattern(s) => Ok(s),
        _ => Err(format!(
            "{path}: {} is not a value pattern (exact, \"prefix*\", \"*suffix\" or \"*\", at most {MAX_HTTP_TEXT} bytes)",
            describe(v)
        )),
    }
}

/// The `http` of a rule (`TableAuthzHttp`); an unknown field is refused, since ignoring one
/// would make a rule match more than its policy says.
fn http_op(v: &Value, path: &str) -> Result<HttpOp, String> {
    let o = as_object(v, path)?;
    if let Some(k) = o.keys().find(|k| !HTTP_FIELDS.contains(&k.as_str())) {
        return Err(format!(
            "{path}.{k}: not a field of an operation's HTTP fields"
        ));
    }
    if o.is_empty() {
        return Err(format!("{path}: sets no HTTP field"));
    }
    let owned = |check: fn(&str) -> bool, what: &'static str| {
        move |x: &Value, p: &str| -> Result<Box<str>, String> {
            let s = http_text(x, p)?;
            if check(s) {
                Ok(Box::from(s))
            } else {
                Err(format!("{p}: {} {what}", describe(x)))
            }
        }
    };
    let method = owned(
        |s| !s.contains('*') && s.bytes().all(|b| b.is_ascii_uppercase()),
        "is not an HTTP method (uppercase letters)",
    );
    let path_p = owned(
        |s| s.starts_with('/') || s.starts_with('*'),
        "does not start with '/' or '*'",
    );
    let host = owned(
        |s| !s.bytes().any(|b| b.is_ascii_uppercase()),
        "is not lowercase",
    );
    let hp = format!("{path}.headers");
    let mut headers: Vec<HeaderMatch> = Vec::new();
    if let Some(hv) = o.get("headers") {
        for (i, h) in as_array(hv, &hp)?.iter().enumerate() {
            let ip = format!("{hp}[{i}]");
            let ho = as_object(h, &ip)?;
            let nv = field(ho, &ip, "name")?;
            let name = match nv.as_str() {
                Some(n)
                    if !n.is_empty()
                        && n.len() <= MAX_TEXT
                        && n.bytes()
                            .all(|b| b.is_ascii_graphic() && !b.is_ascii_uppercase()) =>
                {
                    n
                }
                _ => {
                    return Err(format!(
                        "{ip}.name: {} is not a lowercase header name",
                        describe(nv)
                    ))
                }
            };
            if headers.last().is_some_and(|(prev, _)| &**prev >= name) {
                return Err(format!(
                    "{ip}.name: \"{name}\" is not after the previous name (sorted, unique)"
                ));
            }
            let vp = format!("{ip}.values");
            let values = as_array(field(ho, &ip, "values")?, &vp)?
                .iter()
                .enumerate()
                .map(|(k, x)| http_text(x, &format!("{vp}[{k}]")).map(Box::<str>::from))
                .collect::<Result<Box<[Box<str>]>, String>>()?;
            if values.is_empty() {
                return Err(format!("{vp}: lists no value"));
            }
            headers.push((Box::from(name), values));
        }
    }
    Ok(HttpOp {
        methods: opt_list(o, "methods", path, method)?,
        not_methods: opt_list(o, "notMethods", path, method)?,
        paths: opt_list(o, "paths", path, path_p)?,
        not_paths: opt_list(o, "notPaths", path, path_p)?,
        hosts: opt_list(o, "hosts", path, host)?,
        not_hosts: opt_list(o, "notHosts", path, host)?,
        headers: headers.into_boxed_slice(),
    })
}

/// What a workload's policies need (agent/src/authz/http.ts `workloadNeedsHttp`); the table's
/// `needsHttp`, when present, must say the same.
fn needs_http_of(
    stated: Option<NeedsHttp>,
    w: &Workload,
    policies: &[Policy],
    path: &str,
) -> Result<NeedsHttp, String> {
    let mut ports: Vec<u16> = Vec::new();
    let mut all = false;
    for &idx in w.policies.iter() {
        for r in policies[idx as usize]
            .rules
            .iter()
            .filter(|r| r.http.is_some())
        {
            match &r.ports {
                None => all = true,
                Some(ps) => ports.extend(ps.iter()),
            }
        }
    }
    ports.sort_unstable();
    ports.dedup();
    let computed = if all {
        NeedsHttp::All
    } else if ports.is_empty() {
        NeedsHttp::No
    } else {
        NeedsHttp::Ports(ports.into_boxed_slice())
    };
    match stated {
        Some(s) if s != computed => Err(format!(
            "{path}.needsHttp: says {s:?} but the workload's L7 rules need {computed:?}"
        )),
        _ => Ok(computed),
    }
}

/// The table's `needsHttp` of one workload: absent → None (computed), false, true or pod ports.
fn stated_needs(w: &Value, path: &str) -> Result<Option<NeedsHttp>, String> {
    let np = format!("{path}.needsHttp");
    match w.get("needsHttp") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(false)) => Ok(Some(NeedsHttp::No)),
        Some(Value::Bool(true)) => Ok(Some(NeedsHttp::All)),
        Some(Value::Array(ps)) => ps
            .iter()
            .enumerate()
            .map(|(k, x)| port(x, &format!("{np}[{k}]")))
            .collect::<Result<Vec<u16>, String>>()
            .map(|v| {
                Some(if v.is_empty() {
                    NeedsHttp::No
                } else {
                    NeedsHttp::Ports(v.into_boxed_slice())
                })
            }),
        Some(x) => Err(format!(
            "{np}: {} is not a boolean or a list of ports",
            describe(x)
        )),
    }
}

fn source(v: &Value, path: &str) -> Result<Source, String> {
    let o = as_object(v, path)?;
    let owned = |x: &Value, p: &str| text(x, p).map(Box::<str>::from);
    Ok(Source {
        identities: opt_list(o, "identities", path, owned)?,
        namespaces: opt_list(o, "namespaces", path, owned)?,
        ip_blocks: opt_list(o, "ipBlocks", path, |x, p| {
            x.as_str()
                .and_then(parse_cidr)
                .ok_or_else(|| format!("{p}: {} is not an IPv4 CIDR", describe(x)))
        })?,
    })
}

/// A dotted quad without leading zeros (as agent/src/authz/evaluate.ts `parseIpv4`).
fn parse_ipv4(s: &str) -> Option<u32> {
    let mut n: u32 = 0;
    let mut parts = 0;
    for p in s.split('.') {
        parts += 1;
        let ok = !p.is_empty()
            && p.len() <= 3
            && p.bytes().all(|b| b.is_ascii_digit())
            && !(p.len() > 1 && p.starts_with('0'));
        let octet: u32 = if ok { p.parse().ok()? } else { return None };
        if octet > 255 || parts > 4 {
            return None;
        }
        n = (n << 8) | octet;
    }
    (parts == 4).then_some(n)
}

/// "a.b.c.d/len" (or "a.b.c.d" = /32) → (network, mask); host bits are ignored.
fn parse_cidr(s: &str) -> Option<(u32, u32)> {
    let (ip, len) = match s.split_once('/') {
        Some((ip, len)) => {
            let ok = !len.is_empty()
                && len.len() <= 2
                && len.bytes().all(|b| b.is_ascii_digit())
                && !(len.len() > 1 && len.starts_with('0'));
            (
                ip,
                if ok {
                    len.parse::<u32>().ok()?
                } else {
                    return None;
                },
            )
        }
        None => (s, 32),
    };
    if len > 32 {
        return None;
    }
    let ip = parse_ipv4(ip)?;
    let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
    Some((ip & mask, mask))
}

#[cfg(test)]
#[path = "authz_tests.rs"]
mod tests;
