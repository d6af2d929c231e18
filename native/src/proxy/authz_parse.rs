//! Parsing of the table's `authz` part for authz.rs: workloads, policies, rules and sources with
//! their field paths, the HTTP fields of a rule (an unknown one is refused) and each workload's
//! needsHttp, computed and checked against what the table states.

use super::*;
use crate::l7::authz_http::{valid_pattern, HeaderMatch};

pub(super) fn text<'a>(v: &'a Value, path: &str) -> Result<&'a str, String> {
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

pub(super) fn workload(
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

pub(super) fn policy(v: &Value, path: &str) -> Result<Policy, String> {
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
pub(super) fn needs_http_of(
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
pub(super) fn stated_needs(w: &Value, path: &str) -> Result<Option<NeedsHttp>, String> {
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
pub(super) fn parse_ipv4(s: &str) -> Option<u32> {
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
pub(super) fn parse_cidr(s: &str) -> Option<(u32, u32)> {
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
