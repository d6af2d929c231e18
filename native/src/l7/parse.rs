//! Parsing and validation of `table.http` (agent/src/routing/table.ts `TableHttp`) into the
//! structures of table.rs: every field checked, every regex compiled (anchored full match), the
//! first problem reported with its field path so the table in force stays. Filters: parse_filters.rs.

use std::collections::HashMap;
use std::net::SocketAddrV4;
use std::sync::Arc;
use std::time::Duration;

use regex::Regex;
use serde_json::Value;

use super::json::{
    arr, at, describe, get, int, ip, ms, name, num, obj, opt, port, string, timeout,
};
use super::parse_filters::filters;
use super::table::*;

impl HttpTable {
    /// Parses `table.http` (the value, already known to be present). Errors name the field path.
    pub fn parse(v: &Value) -> Result<HttpTable, String> {
        let p = "http";
        let o = obj(v, p)?;
        let detect_ms = int(
            get(o, p, "detectTimeoutMs")?,
            &at(p, "detectTimeoutMs"),
            1,
            10_000,
        )?;
        let default_protocol = protocol(get(o, p, "defaultProtocol")?, &at(p, "defaultProtocol"))?;
        let lp = at(p, "limits");
        let lo = obj(get(o, p, "limits")?, &lp)?;
        let limits = Limits {
            max_header_bytes: int(
                get(lo, &lp, "maxHeaderBytes")?,
                &at(&lp, "maxHeaderBytes"),
                1024,
                1 << 20,
            )? as usize,
            retry_buffer_bytes: int(
                get(lo, &lp, "retryBufferBytes")?,
                &at(&lp, "retryBufferBytes"),
                0,
                64 << 20,
            )? as usize,
            max_pending_per_endpoint: int(
                get(lo, &lp, "maxPendingPerEndpoint")?,
                &at(&lp, "maxPendingPerEndpoint"),
                1,
                1 << 20,
            )? as u32,
        };
        let bp = at(p, "retryBudget");
        let bo = obj(get(o, p, "retryBudget")?, &bp)?;
        let retry_budget = BudgetConfig {
            ratio: num(get(bo, &bp, "ratio")?, &at(&bp, "ratio"), 0.0, 1000.0)?,
            min_per_second: num(
                get(bo, &bp, "minPerSecond")?,
                &at(&bp, "minPerSecond"),
                0.0,
                1e6,
            )?,
            ttl: ms(get(bo, &bp, "ttlMs")?, &at(&bp, "ttlMs"), 1)?,
        };
        let ap = at(p, "accrual");
        let ao = obj(get(o, p, "accrual")?, &ap)?;
        let accrual = AccrualConfig {
            consecutive_failures: int(
                get(ao, &ap, "consecutiveFailures")?,
                &at(&ap, "consecutiveFailures"),
                1,
                1_000_000,
            )? as u32,
            min_backoff: ms(get(ao, &ap, "minBackoffMs")?, &at(&ap, "minBackoffMs"), 0)?,
            max_backoff: ms(get(ao, &ap, "maxBackoffMs")?, &at(&ap, "maxBackoffMs"), 0)?,
        };
        if accrual.max_backoff < accrual.min_backoff {
            return Err(format!("{ap}.maxBackoffMs: must be >= minBackoffMs"));
        }
        let mut ports = HashMap::new();
        let mut first: HashMap<SocketAddrV4, usize> = HashMap::new();
        for (i, pv) in arr(get(o, p, "ports")?, "http.ports")?.iter().enumerate() {
            let pp = format!("http.ports[{i}]");
            let port = http_port(pv, &pp)?;
            if let Some(prev) = first.insert(port.addr, i) {
                return Err(format!(
                    "{pp}: {} (vip:port) duplicates http.ports[{prev}]",
                    port.addr
                ));
            }
            ports.insert(port.addr, Arc::new(port));
        }
        let mut access_log = std::collections::HashSet::new();
        if let Some(v) = o.get("accessLog") {
            for (i, a) in arr(v, "http.accessLog")?.iter().enumerate() {
                access_log.insert(ip(a, &format!("http.accessLog[{i}]"))?);
            }
        }
        let mut trace = HashMap::new();
        if let Some(v) = o.get("trace") {
            for (i, t) in arr(v, "http.trace")?.iter().enumerate() {
                let tp = format!("http.trace[{i}]");
                let to = obj(t, &tp)?;
                let pod = ip(get(to, &tp, "ip")?, &at(&tp, "ip"))?;
                let pct = num(
                    get(to, &tp, "samplingPercent")?,
                    &at(&tp, "samplingPercent"),
                    0.0,
                    100.0,
                )?;
                trace.insert(pod, pct);
            }
        }
        Ok(HttpTable {
            access_log,
            trace,
            detect_timeout: Duration::from_millis(detect_ms),
            default_protocol,
            ports,
            limits,
            retry_budget,
            accrual,
        })
    }
}

fn http_port(v: &Value, p: &str) -> Result<HttpPort, String> {
    let o = obj(v, p)?;
    let service = name(get(o, p, "service")?, &at(p, "service"))?;
    let vip = ip(get(o, p, "vip")?, &at(p, "vip"))?;
    let port = port(get(o, p, "port")?, &at(p, "port"))?;
    let protocol = protocol(get(o, p, "protocol")?, &at(p, "protocol"))?;
    let mut routes = Vec::new();
    for (i, r) in arr(get(o, p, "routes")?, &at(p, "routes"))?
        .iter()
        .enumerate()
    {
        routes.push(entry(r, &format!("{p}.routes[{i}]"))?);
    }
    let mut consumers = Vec::new();
    if let Some(cv) = opt(o, "consumers") {
        for (i, c) in arr(cv, &at(p, "consumers"))?.iter().enumerate() {
            let cp = format!("{p}.consumers[{i}]");
            let co = obj(c, &cp)?;
            let ns = string(get(co, &cp, "namespace")?, &at(&cp, "namespace"))?;
            let mut list = Vec::new();
            for (j, r) in arr(get(co, &cp, "routes")?, &at(&cp, "routes"))?
                .iter()
                .enumerate()
            {
                list.push(entry(r, &format!("{cp}.routes[{j}]"))?);
            }
            consumers.push((Box::from(ns), list));
        }
    }
    Ok(HttpPort {
        consumers,
        service,
        addr: SocketAddrV4::new(vip, port),
        protocol,
        routes,
        rate_limit: opt(o, "rateLimit")
            .map(|v| rate_limit(v, &at(p, "rateLimit")))
            .transpose()?,
    })
}

fn entry(v: &Value, p: &str) -> Result<RouteEntry, String> {
    let o = obj(v, p)?;
    let route = string(get(o, p, "route")?, &at(p, "route"))?;
    let kind = match string(get(o, p, "kind")?, &at(p, "kind"))? {
        "HTTPRoute" => RouteKind::HttpRoute,
        "GRPCRoute" => RouteKind::GrpcRoute,
        "default" => RouteKind::Default,
        other => {
            return Err(format!(
                "{p}.kind: \"{other}\" is not HTTPRoute, GRPCRoute or default"
            ))
        }
    };
    let rule = int(get(o, p, "rule")?, &at(p, "rule"), 0, u32::MAX as u64)? as u32;
    let mut hostnames = Vec::new();
    for (i, h) in arr(get(o, p, "hostnames")?, &at(p, "hostnames"))?
        .iter()
        .enumerate()
    {
        let hp = format!("{p}.hostnames[{i}]");
        let s = string(h, &hp)?;
        let bare = s.strip_prefix("*.").unwrap_or(s);
        if bare.is_empty()
            || bare.contains('*')
            || s.bytes()
                .any(|b| b.is_ascii_uppercase() || !b.is_ascii_graphic())
        {
            return Err(format!(
                "{hp}: \"{s}\" is not a lowercase hostname (optionally \"*.\" prefixed)"
            ));
        }
        hostnames.push(s.to_string());
    }
    let mut backends = Vec::new();
    for (i, b) in arr(get(o, p, "backends")?, &at(p, "backends"))?
        .iter()
        .enumerate()
    {
        backends.push(Arc::new(backend(b, &format!("{p}.backends[{i}]"))?));
    }
    let retry = opt(o, "retry")
        .map(|v| retry(v, &at(p, "retry")))
        .transpose()?;
    Ok(RouteEntry {
        route: Arc::from(route),
        kind,
        rule,
        hostnames,
        matcher: matcher(get(o, p, "match")?, &at(p, "match"))?,
        filters: filters(get(o, p, "filters")?, &at(p, "filters"), false)?,
        backends,
        request_timeout: timeout(get(o, p, "requestTimeoutMs")?, &at(p, "requestTimeoutMs"))?,
        backend_timeout: timeout(get(o, p, "backendTimeoutMs")?, &at(p, "backendTimeoutMs"))?,
        retry,
        fault: opt(o, "fault")
            .map(|v| fault(v, &at(p, "fault")))
            .transpose()?,
        rate_limit: opt(o, "rateLimit")
            .map(|v| rate_limit(v, &at(p, "rateLimit")))
            .transpose()?,
    })
}

fn matcher(v: &Value, p: &str) -> Result<Match, String> {
    let o = obj(v, p)?;
    let path = match opt(o, "path") {
        None => None,
        Some(pv) => {
            let pp = at(p, "path");
            let po = obj(pv, &pp)?;
            let value = string(get(po, &pp, "value")?, &at(&pp, "value"))?;
            Some(match string(get(po, &pp, "kind")?, &at(&pp, "kind"))? {
                "exact" | "prefix" if !value.starts_with('/') => {
                    return Err(format!("{pp}.value: \"{value}\" does not start with '/'"))
                }
                "exact" => PathMatch::Exact(value.to_string()),
                "prefix" => PathMatch::Prefix(value.to_string()),
                "regex" => PathMatch::Regex(regex(value, &at(&pp, "value"))?),
                other => {
                    return Err(format!(
                        "{pp}.kind: \"{other}\" is not exact, prefix or regex"
                    ))
                }
            })
        }
    };
    let method = opt(o, "method")
        .map(|m| string(m, &at(p, "method")).map(str::to_string))
        .transpose()?;
    Ok(Match {
        path,
        method,
        headers: named(get(o, p, "headers")?, &at(p, "headers"), true)?,
        query: named(get(o, p, "query")?, &at(p, "query"), false)?,
    })
}

fn named(v: &Value, p: &str, lower: bool) -> Result<Vec<NamedMatch>, String> {
    let mut out = Vec::new();
    for (i, m) in arr(v, p)?.iter().enumerate() {
        let mp = format!("{p}[{i}]");
        let o = obj(m, &mp)?;
        let n = string(get(o, &mp, "name")?, &at(&mp, "name"))?;
        if n.is_empty() || (lower && n.bytes().any(|b| b.is_ascii_uppercase())) {
            return Err(format!(
                "{mp}.name: \"{n}\" is not a {}name",
                if lower { "lowercase " } else { "" }
            ));
        }
        let value = string(get(o, &mp, "value")?, &at(&mp, "value"))?;
        let value = match string(get(o, &mp, "kind")?, &at(&mp, "kind"))? {
            "exact" => Text::Exact(value.to_string()),
            "regex" => Text::Regex(regex(value, &at(&mp, "value"))?),
            other => return Err(format!("{mp}.kind: \"{other}\" is not exact or regex")),
        };
        out.push(NamedMatch {
            name: n.to_string(),
            value,
        });
    }
    Ok(out)
}

fn regex(pattern: &str, p: &str) -> Result<Regex, String> {
    regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
        .size_limit(1 << 20)
        .build()
        .map_err(|e| {
            let first = e
                .to_string()
                .lines()
                .last()
                .unwrap_or("")
                .trim()
                .to_string();
            format!("{p}: \"{pattern}\" is not a valid regular expression ({first})")
        })
}

pub(super) fn backend(v: &Value, p: &str) -> Result<Backend, String> {
    let o = obj(v, p)?;
    let ep = at(p, "endpoints");
    let mut endpoints = Vec::new();
    for (i, e) in arr(get(o, p, "endpoints")?, &ep)?.iter().enumerate() {
        let eip = format!("{ep}[{i}]");
        let eo = obj(e, &eip)?;
        let a = SocketAddrV4::new(
            ip(get(eo, &eip, "ip")?, &at(&eip, "ip"))?,
            port(get(eo, &eip, "port")?, &at(&eip, "port"))?,
        );
        if !endpoints.contains(&a) {
            endpoints.push(a);
        }
    }
    Ok(Backend {
        service: Arc::from(string(get(o, p, "service")?, &at(p, "service"))?),
        port: int(get(o, p, "port")?, &at(p, "port"), 0, 65535)? as u16,
        weight: int(get(o, p, "weight")?, &at(p, "weight"), 0, 1_000_000)?,
        endpoints: endpoints.into_boxed_slice(),
        invalid: opt(o, "invalid")
            .map(|s| string(s, &at(p, "invalid")).map(str::to_string))
            .transpose()?,
        filters: match opt(o, "filters") {
            None => Vec::new(),
            Some(f) => filters(f, &at(p, "filters"), true)?,
        },
    })
}

fn retry(v: &Value, p: &str) -> Result<Retry, String> {
    let o = obj(v, p)?;
    let mut codes = Vec::new();
    for (i, c) in arr(get(o, p, "codes")?, &at(p, "codes"))?
        .iter()
        .enumerate()
    {
        codes.push(int(c, &format!("{p}.codes[{i}]"), 400, 599)? as u16);
    }
    Ok(Retry {
        attempts: int(get(o, p, "attempts")?, &at(p, "attempts"), 1, 100)? as u32,
        codes,
        backoff: ms(get(o, p, "backoffMs")?, &at(p, "backoffMs"), 0)?,
    })
}

fn fault(v: &Value, p: &str) -> Result<Fault, String> {
    let o = obj(v, p)?;
    let delay = match opt(o, "delay") {
        None => None,
        Some(d) => {
            let dp = at(p, "delay");
            let d = obj(d, &dp)?;
            Some((
                ms(get(d, &dp, "ms")?, &at(&dp, "ms"), 0)?,
                num(get(d, &dp, "percent")?, &at(&dp, "percent"), 0.0, 100.0)?,
            ))
        }
    };
    let abort = match opt(o, "abort") {
        None => None,
        Some(a) => {
            let ap = at(p, "abort");
            let a = obj(a, &ap)?;
            Some((
                int(get(a, &ap, "status")?, &at(&ap, "status"), 200, 599)? as u16,
                num(get(a, &ap, "percent")?, &at(&ap, "percent"), 0.0, 100.0)?,
            ))
        }
    };
    Ok(Fault {
        policy: Arc::from(string(get(o, p, "policy")?, &at(p, "policy"))?),
        delay,
        abort,
    })
}

fn rate_limit(v: &Value, p: &str) -> Result<RateLimit, String> {
    let o = obj(v, p)?;
    let rps = num(
        get(o, p, "requestsPerSecond")?,
        &at(p, "requestsPerSecond"),
        0.0,
        1e9,
    )?;
    if rps <= 0.0 {
        return Err(format!("{p}.requestsPerSecond: must be > 0"));
    }
    Ok(RateLimit {
        policy: Arc::from(string(get(o, p, "policy")?, &at(p, "policy"))?),
        requests_per_second: rps,
        burst: int(get(o, p, "burst")?, &at(p, "burst"), 1, 1 << 30)? as u32,
    })
}

fn protocol(v: &Value, p: &str) -> Result<Protocol, String> {
    match v.as_str() {
        Some("detect") => Ok(Protocol::Detect),
        Some("http1") => Ok(Protocol::Http1),
        Some("h2c") => Ok(Protocol::H2c),
        Some("grpc") => Ok(Protocol::Grpc),
        Some("tcp") => Ok(Protocol::Tcp),
        _ => Err(format!(
            "{p}: {} is not detect, http1, h2c, grpc or tcp",
            describe(v)
        )),
    }
}
