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
use crate::l7::authz_http::{
    deny_log_line, deny_response, DenyResponse, HttpAuthzCounters, HttpOp,
};

#[path = "authz_parse.rs"]
mod parse;
use parse::{needs_http_of, policy, stated_needs, text, workload};
#[cfg(test)]
use parse::{parse_cidr, parse_ipv4};

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

/// What [`Authz::authorize_http`] decided for one request.
#[derive(Debug)]
pub struct HttpDecision {
    pub verdict: AuthzVerdict,
    /// a denial: the response to answer instead of forwarding, and the line to log
    pub denied: Option<(DenyResponse, String)>,
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

    /// The inbound HTTP path's one call per request: the verdict, counted by policy in `counters`
    /// (inbound_http_authz_*_total), and for a denial the answer to send (403, or gRPC status 7)
    /// with its JSON log line. A destination without authorization here is allowed, uncounted.
    pub fn authorize_http(
        &self,
        i: &AuthzInput,
        req: &AuthzRequest,
        counters: &HttpAuthzCounters,
    ) -> HttpDecision {
        let verdict = self.evaluate_request(i, Some(req));
        counters.record(verdict.allow, &verdict.policy);
        let denied = (!verdict.allow).then(|| {
            let dst = format!("{}:{}", i.dst_ip, i.dst_port);
            let log = deny_log_line(
                &verdict.policy,
                verdict.code,
                &i.src_ip.to_string(),
                i.identity,
                &dst,
                req,
            );
            (deny_response(verdict.code, req.is_grpc()), log)
        });
        HttpDecision { verdict, denied }
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

#[cfg(test)]
#[path = "authz_tests.rs"]
mod tests;
