//! trace.rs: the hop's decision on a parsed table (untraced pods untouched, sampled parents kept,
//! unsampled parents passed on, 0 % roots propagated unsampled), the bounded queue's drops and
//! the JSON the agent reads; `http.trace` field errors.

use super::*;
use crate::l7::trace_context::hex;
use http::HeaderValue;

const TABLE: &str = r#"{"version": 1, "localAddrs": ["10.200.1.1"], "workloads": [
    {"ip": "10.200.1.10", "index": 1, "outbound": {"action": "forward", "reason": ""}, "inbound": {"action": "forward", "reason": ""}},
    {"ip": "10.200.1.11", "index": 2, "outbound": {"action": "forward", "reason": ""}, "inbound": {"action": "forward", "reason": ""}}],
  "defaults": {"outbound": {"action": "deny", "reason": "MESH_ERR_NOT_ENROLLED"}, "inbound": {"action": "forward", "reason": ""}},
  "http": {"detectTimeoutMs": 100, "defaultProtocol": "detect", "ports": [],
    "limits": {"maxHeaderBytes": 61440, "retryBufferBytes": 65536, "maxPendingPerEndpoint": 1024},
    "retryBudget": {"ratio": 0.2, "minPerSecond": 10, "ttlMs": 10000},
    "accrual": {"consecutiveFailures": 7, "minBackoffMs": 1000, "maxBackoffMs": 60000},
    "trace": [TRACE]}}"#;

fn table(trace: &str) -> Result<Table, String> {
    Table::parse(&TABLE.replace("TRACE", trace))
}

const T: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const P: &str = "00f067aa0ba902b7";

fn req(h: &[(&'static str, &str)]) -> Request<()> {
    let mut r = Request::builder().uri("/x").body(()).unwrap();
    for (k, v) in h {
        r.headers_mut()
            .insert(*k, HeaderValue::from_str(v).unwrap());
    }
    r
}

#[test]
fn the_hop_decides_from_the_table_and_the_parent() {
    let t = table(r#"{"ip": "10.200.1.10", "samplingPercent": 100}, {"ip": "10.200.1.11", "samplingPercent": 0}"#).unwrap();
    let (all, none, other) = (
        "10.200.1.10".parse().unwrap(),
        "10.200.1.11".parse().unwrap(),
        "10.200.1.12".parse().unwrap(),
    );
    let sampled = format!("00-{T}-{P}-01");
    let unsampled = format!("00-{T}-{P}-00");

    // not traced: untouched, nothing recorded
    let mut r = req(&[]);
    assert!(begin(&t, other, Kind::Client, &mut r).is_none());
    assert!(r.headers().get("traceparent").is_none());

    // a sampled parent: recorded even at 0 %, same trace, a new span id as the next hop's parent
    let mut r = req(&[("traceparent", &sampled)]);
    let a = begin(&t, none, Kind::Server, &mut r).expect("recorded");
    assert_eq!(a.parent, Some(*b"\x00\xf0\x67\xaa\x0b\xa9\x02\xb7"));
    let tp = r.headers()["traceparent"].to_str().unwrap().to_string();
    assert_eq!(tp, format!("00-{T}-{}-01", hex(&a.span_id)));

    // an unsampled parent: never recorded, passed on as it came
    let mut r = req(&[("traceparent", &unsampled)]);
    assert!(begin(&t, all, Kind::Client, &mut r).is_none());
    assert_eq!(r.headers()["traceparent"], unsampled.as_str());

    // a new root at 100 %: recorded, no parent; at 0 %: propagated unsampled
    let mut r = req(&[]);
    let a = begin(&t, all, Kind::Client, &mut r).expect("recorded");
    assert_eq!(a.parent, None);
    assert!(r.headers()["traceparent"]
        .to_str()
        .unwrap()
        .ends_with("-01"));
    let mut r = req(&[]);
    assert!(begin(&t, none, Kind::Client, &mut r).is_none());
    let tp = r.headers()["traceparent"].to_str().unwrap().to_string();
    assert!(tp.ends_with("-00") && !tp.contains(T), "{tp}");
}

fn span(i: u8) -> Span {
    Span {
        trace_id: [i; 16],
        span_id: [i; 8],
        parent: None,
        kind: Kind::Client,
        name: format!("GET s{i}"),
        start_ns: 1_765_000_000_123_456_789,
        end_ns: 1_765_000_000_223_456_789,
        error: false,
        attrs: Map::new(),
    }
}

#[test]
fn the_queue_is_bounded_and_counts_what_it_drops() {
    let q = SpanQueue::default();
    for i in 0..(SPAN_QUEUE + 10) {
        q.push(span((i % 200) as u8 + 1));
    }
    assert_eq!(q.len(), SPAN_QUEUE);
    assert_eq!(q.dropped.load(Ordering::Relaxed), 10);
    assert_eq!(q.recorded.load(Ordering::Relaxed), SPAN_QUEUE as u64 + 10);
    let first = q.take(2);
    assert_eq!(first.len(), 2);
    assert_eq!(q.len(), SPAN_QUEUE - 2, "the rest stays for the next drain");
    assert_eq!(
        (first[0].trace_id, first[1].trace_id),
        ([1; 16], [2; 16]),
        "oldest first"
    );
    // room again after a drain
    q.take(usize::MAX);
    q.push(span(1));
    assert_eq!((q.len(), q.dropped.load(Ordering::Relaxed)), (1, 10));
}

#[test]
fn span_records_parse_or_are_refused() {
    let ok = json!({"traceId": T, "spanId": P, "parentSpanId": null, "kind": "server", "name": "GET x",
        "startNs": "1765000000123456789", "endNs": "1765000000223456789", "error": true, "attributes": {"a": 1}});
    let s = Span::from_json(&ok).expect("valid");
    assert_eq!(
        (s.start_ns, s.kind, s.error, s.parent),
        (1_765_000_000_123_456_789, Kind::Server, true, None)
    );
    for (k, bad) in [
        ("traceId", json!("00")),
        ("kind", json!("internal")),
        ("startNs", json!(12)),
        ("attributes", json!([])),
    ] {
        let mut v = ok.clone();
        v[k] = bad;
        assert!(Span::from_json(&v).is_none(), "{k}");
    }
}

#[test]
fn trace_field_errors_name_the_path() {
    let rows = [
        (
            r#"{"ip": "10.200.1.10", "samplingPercent": 101}"#,
            "http.trace[0].samplingPercent",
        ),
        (
            r#"{"ip": "10.200.1.10", "samplingPercent": -1}"#,
            "http.trace[0].samplingPercent",
        ),
        (r#"{"ip": "10.200.1.10"}"#, "http.trace[0]"),
        (r#"{"ip": "x", "samplingPercent": 1}"#, "http.trace[0].ip"),
        (
            r#"{"ip": "10.200.1.10", "samplingPercent": 1}, 7"#,
            "http.trace[1]",
        ),
    ];
    for (t, path) in rows {
        let e = table(t).err().unwrap_or_else(|| panic!("{t} accepted"));
        assert!(e.contains(path), "{t}: {e}");
    }
    assert!(table("").is_ok());
}
