//! Trace context on the wire, as pure functions: W3C `traceparent` (read and written), B3 single
//! (`b3`) and multi (`x-b3-*`) headers (read; rewritten when a request came with them), and the
//! parent-based sampling decision (a sampled parent is recorded, an unsampled one never, a new
//! root at the namespace's percentage). Table-driven tests: trace_context_tests.rs.

use http::{HeaderMap, HeaderValue};

pub type TraceId = [u8; 16];
pub type SpanId = [u8; 8];

/// Which header family a request's context came in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    W3c,
    B3Single,
    B3Multi,
}

/// The context a request arrived with. `ids` is None for a bare B3 sampling flag (`b3: 0`);
/// `sampled` is None when the sender deferred the decision (B3 without a sampling state).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Incoming {
    pub ids: Option<(TraceId, SpanId)>,
    pub sampled: Option<bool>,
    pub format: Format,
}

fn hex_nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// `N` bytes from exactly `2N` hex digits; None when malformed or all zero (invalid ids).
pub(super) fn hex_bytes<const N: usize>(s: &str) -> Option<[u8; N]> {
    let b = s.as_bytes();
    if b.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = hex_nibble(b[2 * i])? << 4 | hex_nibble(b[2 * i + 1])?;
    }
    (out != [0u8; N]).then_some(out)
}

/// A 64-bit B3 trace id is the low half of a 128-bit one.
fn trace_id_b3(s: &str) -> Option<TraceId> {
    if s.len() == 16 {
        let low: [u8; 8] = hex_bytes(s)?;
        let mut t = [0u8; 16];
        t[8..].copy_from_slice(&low);
        Some(t)
    } else {
        hex_bytes(s)
    }
}

pub fn hex(b: &[u8]) -> String {
    const D: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        s.push(D[(x >> 4) as usize] as char);
        s.push(D[(x & 15) as usize] as char);
    }
    s
}

/// `version-traceid-parentid-flags` (W3C Trace Context level 1). Version ff is invalid; a higher
/// version than 00 is read by its first four fields, as the spec asks.
pub fn parse_traceparent(v: &str) -> Option<(TraceId, SpanId, bool)> {
    let v = v.trim();
    // the spec's ids and flags are lowercase hex
    if v.bytes().any(|c| c.is_ascii_uppercase()) {
        return None;
    }
    let mut it = v.split('-');
    let (ver, tid, sid, flags) = (it.next()?, it.next()?, it.next()?, it.next()?);
    let ver_b: [u8; 1] = hex_bytes(ver).or((ver == "00").then_some([0]))?;
    if ver_b[0] == 0xff || (ver_b[0] == 0 && (it.next().is_some() || v.len() != 55)) {
        return None;
    }
    let f: [u8; 1] = hex_bytes(flags).or((flags == "00").then_some([0]))?;
    Some((hex_bytes(tid)?, hex_bytes(sid)?, f[0] & 1 == 1))
}

/// `b3: {traceid}-{spanid}[-{sampled}[-{parentspanid}]]` or a bare `0`/`1`/`d`.
pub fn parse_b3_single(v: &str) -> Option<Incoming> {
    let v = v.trim();
    let flag = |s: &str| match s {
        "0" => Some(Some(false)),
        "1" | "d" => Some(Some(true)),
        _ => None,
    };
    let parts: Vec<&str> = v.split('-').collect();
    match parts.as_slice() {
        [s] => Some(Incoming {
            ids: None,
            sampled: flag(s)?,
            format: Format::B3Single,
        }),
        [t, s, rest @ ..] if rest.len() <= 2 => {
            let sampled = match rest.first() {
                Some(f) => flag(f)?,
                None => None,
            };
            if let Some(p) = rest.get(1) {
                hex_bytes::<8>(p)?;
            }
            Some(Incoming {
                ids: Some((trace_id_b3(t)?, hex_bytes(s)?)),
                sampled,
                format: Format::B3Single,
            })
        }
        _ => None,
    }
}

/// `x-b3-traceid`, `x-b3-spanid`, `x-b3-sampled` (`1`/`0`/`true`/`false`), `x-b3-flags: 1` (debug).
pub fn parse_b3_multi(h: &HeaderMap) -> Option<Incoming> {
    let get = |k: &str| h.get(k).and_then(|v| v.to_str().ok()).map(str::trim);
    let sampled = match (get("x-b3-flags"), get("x-b3-sampled")) {
        (Some("1"), _) => Some(true),
        (_, Some("1" | "true")) => Some(true),
        (_, Some("0" | "false")) => Some(false),
        (_, None) => None,
        (_, Some(_)) => return None,
    };
    let ids = match (get("x-b3-traceid"), get("x-b3-spanid")) {
        (Some(t), Some(s)) => Some((trace_id_b3(t)?, hex_bytes(s)?)),
        (None, None) => None,
        _ => return None,
    };
    if ids.is_none() && sampled.is_none() {
        return None;
    }
    Some(Incoming {
        ids,
        sampled,
        format: Format::B3Multi,
    })
}

/// The context of a request: `traceparent` first (a malformed one is ignored, as the spec says),
/// then `b3`, then `x-b3-*`.
pub fn extract(h: &HeaderMap) -> Option<Incoming> {
    if let Some((t, s, sampled)) = h
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_traceparent)
    {
        return Some(Incoming {
            ids: Some((t, s)),
            sampled: Some(sampled),
            format: Format::W3c,
        });
    }
    if let Some(i) = h
        .get("b3")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_b3_single)
    {
        return Some(i);
    }
    parse_b3_multi(h)
}

/// Parent-based sampling: the parent's decision when it made one, else a draw `u` in [0, 1)
/// against `percent` (0–100).
pub fn sampled(parent: Option<&Incoming>, percent: f64, u: f64) -> bool {
    match parent.and_then(|p| p.sampled) {
        Some(s) => s,
        None => u * 100.0 < percent,
    }
}

pub fn format_traceparent(t: &TraceId, s: &SpanId, sampled: bool) -> String {
    format!(
        "00-{}-{}-{}",
        hex(t),
        hex(s),
        if sampled { "01" } else { "00" }
    )
}

/// Writes the context the next hop sees: `traceparent` always (tracestate is passed on as it
/// came), and the B3 headers rewritten to the same ids when the request carries them (whichever
/// header its context was read from), so a B3-only application nests under this hop too.
pub fn inject(h: &mut HeaderMap, t: &TraceId, s: &SpanId, sampled: bool) {
    let set = |h: &mut HeaderMap, k: &'static str, v: String| {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(k, v);
        }
    };
    set(h, "traceparent", format_traceparent(t, s, sampled));
    let flag = if sampled { "1" } else { "0" };
    if h.contains_key("b3") {
        set(h, "b3", format!("{}-{}-{flag}", hex(t), hex(s)));
    }
    if h.contains_key("x-b3-traceid") || h.contains_key("x-b3-spanid") {
        set(h, "x-b3-traceid", hex(t));
        set(h, "x-b3-spanid", hex(s));
        set(h, "x-b3-sampled", flag.to_string());
        h.remove("x-b3-parentspanid");
        h.remove("x-b3-flags");
    }
}

/// Fresh random ids (never all zero).
pub fn new_trace_id() -> TraceId {
    (fastrand::u128(..) | 1).to_be_bytes()
}

pub fn new_span_id() -> SpanId {
    (fastrand::u64(..) | 1).to_be_bytes()
}

#[cfg(test)]
#[path = "trace_context_tests.rs"]
mod tests;
