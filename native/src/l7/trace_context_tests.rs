//! Table-driven tests of trace_context.rs: traceparent and B3 parsing (valid, malformed, edge
//! versions), the header precedence, injection for each incoming format and the sampling rule.

use super::*;

const T: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const S: &str = "00f067aa0ba902b7";

fn tid(s: &str) -> TraceId {
    hex_bytes(s).unwrap()
}
fn sid(s: &str) -> SpanId {
    hex_bytes(s).unwrap()
}

#[test]
fn traceparent_rows() {
    let ok = |v: &str, sampled: bool| {
        assert_eq!(parse_traceparent(v), Some((tid(T), sid(S), sampled)), "{v}")
    };
    ok(&format!("00-{T}-{S}-01"), true);
    ok(&format!("00-{T}-{S}-00"), false);
    ok(&format!("00-{T}-{S}-03"), true); // other flag bits are ignored
    ok(&format!(" 00-{T}-{S}-01 "), true);
    // a later version: its first four fields, with more after
    ok(&format!("cc-{T}-{S}-01-what-comes-next"), true);
    let bad = [
        format!("ff-{T}-{S}-01"),                  // version ff is invalid
        format!("00-{T}-{S}-01-extra"),            // version 00 has exactly four fields
        format!("00-{}-{S}-01", "0".repeat(32)),   // all-zero trace id
        format!("00-{T}-{}-01", "0".repeat(16)),   // all-zero parent id
        format!("00-{}-{S}-01", T.to_uppercase()), // uppercase hex
        format!("00-{}-{S}-01", &T[1..]),          // short trace id
        format!("00-{T}-{S}-1"),                   // short flags
        format!("00-{T}-{S}-zz"),
        format!("0g-{T}-{S}-01"),
        format!("00_{T}_{S}_01"),
        String::new(),
    ];
    for b in bad {
        assert_eq!(parse_traceparent(&b), None, "{b}");
    }
}

#[test]
fn b3_single_rows() {
    let low = "a3ce929d0e0e4736";
    let mut t64 = [0u8; 16];
    t64[8..].copy_from_slice(&hex_bytes::<8>(low).unwrap());
    type Row = (String, Option<(Option<(TraceId, SpanId)>, Option<bool>)>);
    let rows: Vec<Row> = vec![
        (
            format!("{T}-{S}-1"),
            Some((Some((tid(T), sid(S))), Some(true))),
        ),
        (
            format!("{T}-{S}-0"),
            Some((Some((tid(T), sid(S))), Some(false))),
        ),
        (
            format!("{T}-{S}-d"),
            Some((Some((tid(T), sid(S))), Some(true))),
        ),
        (format!("{T}-{S}"), Some((Some((tid(T), sid(S))), None))),
        (
            format!("{T}-{S}-1-{S}"),
            Some((Some((tid(T), sid(S))), Some(true))),
        ),
        (
            format!("{low}-{S}-1"),
            Some((Some((t64, sid(S))), Some(true))),
        ),
        ("0".into(), Some((None, Some(false)))),
        ("1".into(), Some((None, Some(true)))),
        (format!("{T}-{S}-2"), None),
        (format!("{T}-{S}-1-zz"), None),
        (T.to_string(), None),
        ("x".into(), None),
        (format!("{T}-{S}-1-{S}-more"), None),
    ];
    for (v, want) in rows {
        let got = parse_b3_single(&v).map(|i| (i.ids, i.sampled));
        assert_eq!(got, want, "{v}");
    }
}

fn headers(kv: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in kv {
        h.insert(*k, HeaderValue::from_str(v).unwrap());
    }
    h
}

#[test]
fn b3_multi_rows() {
    type Row<'a> = (Vec<(&'static str, &'a str)>, Option<(bool, Option<bool>)>);
    let rows: Vec<Row> = vec![
        (
            vec![
                ("x-b3-traceid", T),
                ("x-b3-spanid", S),
                ("x-b3-sampled", "1"),
            ],
            Some((true, Some(true))),
        ),
        (
            vec![
                ("x-b3-traceid", T),
                ("x-b3-spanid", S),
                ("x-b3-sampled", "true"),
            ],
            Some((true, Some(true))),
        ),
        (
            vec![
                ("x-b3-traceid", T),
                ("x-b3-spanid", S),
                ("x-b3-sampled", "0"),
            ],
            Some((true, Some(false))),
        ),
        (
            vec![("x-b3-traceid", T), ("x-b3-spanid", S)],
            Some((true, None)),
        ),
        (
            vec![("x-b3-traceid", T), ("x-b3-spanid", S), ("x-b3-flags", "1")],
            Some((true, Some(true))),
        ),
        (vec![("x-b3-sampled", "0")], Some((false, Some(false)))),
        (vec![("x-b3-traceid", T)], None),
        (
            vec![
                ("x-b3-traceid", T),
                ("x-b3-spanid", S),
                ("x-b3-sampled", "maybe"),
            ],
            None,
        ),
        (vec![], None),
    ];
    for (kv, want) in rows {
        let got = parse_b3_multi(&headers(&kv)).map(|i| (i.ids.is_some(), i.sampled));
        assert_eq!(got, want, "{kv:?}");
    }
}

#[test]
fn extract_prefers_traceparent_then_b3_then_multi() {
    let tp = format!("00-{T}-{S}-00");
    let b3 = format!("{T}-{S}-1");
    let h = headers(&[("traceparent", &tp), ("b3", &b3), ("x-b3-sampled", "1")]);
    assert_eq!(extract(&h).unwrap().format, Format::W3c);
    assert_eq!(extract(&h).unwrap().sampled, Some(false));
    // a malformed traceparent is ignored
    let h = headers(&[("traceparent", "00-nope"), ("b3", &b3)]);
    assert_eq!(extract(&h).unwrap().format, Format::B3Single);
    let h = headers(&[("x-b3-traceid", T), ("x-b3-spanid", S)]);
    assert_eq!(extract(&h).unwrap().format, Format::B3Multi);
    assert_eq!(extract(&HeaderMap::new()), None);
}

#[test]
fn sampling_rows() {
    let parent = |s: Option<bool>| Incoming {
        ids: Some((tid(T), sid(S))),
        sampled: s,
        format: Format::W3c,
    };
    // (parent, percent, draw, recorded)
    let rows = [
        (Some(parent(Some(true))), 0.0, 0.99, true), // a sampled parent always
        (Some(parent(Some(false))), 100.0, 0.0, false), // an unsampled parent never
        (Some(parent(None)), 50.0, 0.49, true),      // deferred: the rate decides
        (Some(parent(None)), 50.0, 0.5, false),
        (None, 0.0, 0.0, false),
        (None, 100.0, 0.999, true),
        (None, 1.0, 0.009, true),
        (None, 1.0, 0.01, false),
    ];
    for (i, (p, pct, u, want)) in rows.into_iter().enumerate() {
        assert_eq!(sampled(p.as_ref(), pct, u), want, "row {i}");
    }
}

#[test]
fn inject_per_incoming_format() {
    let (t, s) = (tid(T), sid("1111111111111111"));
    let mut h = headers(&[("tracestate", "vendor=x")]);
    inject(&mut h, &t, &s, true);
    assert_eq!(
        h["traceparent"],
        format!("00-{T}-1111111111111111-01").as_str()
    );
    assert_eq!(h["tracestate"], "vendor=x", "tracestate is passed on");
    let mut h = headers(&[("b3", &format!("{T}-{S}-1"))]);
    inject(&mut h, &t, &s, true);
    assert_eq!(h["b3"], format!("{T}-1111111111111111-1").as_str());
    assert!(h.contains_key("traceparent"));
    let mut h = headers(&[
        ("x-b3-traceid", T),
        ("x-b3-spanid", S),
        ("x-b3-parentspanid", S),
    ]);
    inject(&mut h, &t, &s, false);
    assert_eq!(h["x-b3-spanid"], "1111111111111111");
    assert_eq!(h["x-b3-sampled"], "0");
    assert!(!h.contains_key("x-b3-parentspanid"));
    assert_eq!(
        h["traceparent"],
        format!("00-{T}-1111111111111111-00").as_str()
    );
    // what it writes, it reads back
    let (rt, rs, rsm) = parse_traceparent(h["traceparent"].to_str().unwrap()).unwrap();
    assert_eq!((rt, rs, rsm), (t, s, false));
}

#[test]
fn fresh_ids_are_valid_and_distinct() {
    let (a, b) = (new_trace_id(), new_trace_id());
    assert_ne!(a, b);
    let tp = format_traceparent(&a, &new_span_id(), true);
    assert!(parse_traceparent(&tp).is_some(), "{tp}");
}
