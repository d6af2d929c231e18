//! JSON readers for the HTTP table parser: each names the field path of what it rejects
//! ("http.ports[0].routes[1].match.path.value: …"), as native/src/proxy/table.rs does for the
//! rest of the decision table.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

pub(super) fn describe(v: &Value) -> String {
    let s = v.to_string();
    match s.char_indices().nth(57) {
        Some((i, _)) if s.len() > 60 => format!("{}…", &s[..i]),
        _ => s,
    }
}

pub(super) fn at(p: &str, k: &str) -> String {
    format!("{p}.{k}")
}

pub(super) fn get<'a>(o: &'a Map<String, Value>, p: &str, k: &str) -> Result<&'a Value, String> {
    o.get(k).ok_or_else(|| format!("{p}.{k}: missing"))
}

/// An optional field: absent or null → None.
pub(super) fn opt<'a>(o: &'a Map<String, Value>, k: &str) -> Option<&'a Value> {
    o.get(k).filter(|v| !v.is_null())
}

pub(super) fn obj<'a>(v: &'a Value, p: &str) -> Result<&'a Map<String, Value>, String> {
    v.as_object()
        .ok_or_else(|| format!("{p}: {} is not an object", describe(v)))
}

pub(super) fn arr<'a>(v: &'a Value, p: &str) -> Result<&'a Vec<Value>, String> {
    v.as_array()
        .ok_or_else(|| format!("{p}: {} is not an array", describe(v)))
}

pub(super) fn string<'a>(v: &'a Value, p: &str) -> Result<&'a str, String> {
    v.as_str()
        .ok_or_else(|| format!("{p}: {} is not a string", describe(v)))
}

pub(super) fn int(v: &Value, p: &str, lo: u64, hi: u64) -> Result<u64, String> {
    v.as_u64()
        .filter(|n| (lo..=hi).contains(n))
        .ok_or_else(|| format!("{p}: {} is not an integer in {lo}..{hi}", describe(v)))
}

pub(super) fn num(v: &Value, p: &str, lo: f64, hi: f64) -> Result<f64, String> {
    v.as_f64()
        .filter(|n| n.is_finite() && *n >= lo && *n <= hi)
        .ok_or_else(|| format!("{p}: {} is not a number in {lo}..{hi}", describe(v)))
}

pub(super) fn ms(v: &Value, p: &str, lo: u64) -> Result<Duration, String> {
    int(v, p, lo, 86_400_000).map(Duration::from_millis)
}

/// 0 → no timeout.
pub(super) fn timeout(v: &Value, p: &str) -> Result<Option<Duration>, String> {
    ms(v, p, 0).map(|d| (!d.is_zero()).then_some(d))
}

pub(super) fn port(v: &Value, p: &str) -> Result<u16, String> {
    int(v, p, 1, 65535).map(|n| n as u16)
}

pub(super) fn ip(v: &Value, p: &str) -> Result<Ipv4Addr, String> {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("{p}: {} is not an IPv4 address", describe(v)))
}

pub(super) fn name(v: &Value, p: &str) -> Result<Arc<str>, String> {
    match v.as_str() {
        Some(s)
            if s.split_once('/')
                .is_some_and(|(a, b)| !a.is_empty() && !b.is_empty()) =>
        {
            Ok(Arc::from(s))
        }
        _ => Err(format!("{p}: {} is not \"namespace/name\"", describe(v))),
    }
}
