//! Golden metrics: classification table, bucket edges (le semantics, 0.1 ms exact), interning
//! (one series per label set, borrowed and owned lookups agree), the snapshot's JSON shape, the
//! series cap with its overflow series, idle series dropped, and threads recording at once.

use super::*;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn labels(route: &str) -> LabelsOwned {
    LabelsOwned {
        direction: Direction::Outbound,
        src_namespace: "shop".into(),
        src_workload: "web".into(),
        dst_namespace: "shop".into(),
        dst_workload: "cart-v2".into(),
        route_name: route.into(),
        route_kind: "HTTPRoute".into(),
        backend: "shop/cart-v2".into(),
        tls: true,
    }
}

#[test]
fn classification_as_linkerd() {
    let cases = [
        (200, None, false),
        (204, None, false),
        (302, None, false),
        (404, None, false),
        (429, None, false),
        (499, None, false),
        (500, None, true),
        (503, None, true),
        (599, None, true),
        (200, Some(0), false),
        (200, Some(2), true),
        (200, Some(14), true),
        (200, Some(5), true),
        (503, Some(0), true),
    ];
    for (status, grpc, fail) in cases {
        assert_eq!(is_failure(status, grpc), fail, "{status} {grpc:?}");
        let (s, g) = unkey(response_key(status, grpc));
        assert_eq!((s, g), (status, grpc), "key round trip");
    }
    assert_eq!(
        unkey(response_key(200, Some(9999))),
        (200, Some(253)),
        "odd gRPC codes are clamped"
    );
}

fn bucket_of(d: Duration) -> usize {
    let m = GoldenMetrics::new();
    let s = m.series(&labels("r"));
    s.response(200, None, d);
    let v = m.snapshot();
    let counts = v["series"][0]["latency"]["counts"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(counts.len(), BUCKETS_MS.len() + 1);
    let hit: Vec<usize> = (0..counts.len()).filter(|i| counts[*i] == 1).collect();
    assert_eq!(hit.len(), 1);
    hit[0]
}

#[test]
fn latency_bucket_edges() {
    let us = Duration::from_micros;
    let cases = [
        (Duration::ZERO, 0),
        (us(100), 0),
        (Duration::from_nanos(100_001), 1),
        (us(250), 1),
        (us(251), 2),
        (us(500), 2),
        (us(999), 3),
        (Duration::from_millis(1), 3),
        (Duration::from_millis(7), 8),
        (Duration::from_millis(50_000), 27),
        (Duration::from_millis(50_001), 28),
        (Duration::from_secs(3600), 28),
    ];
    for (d, want) in cases {
        assert_eq!(bucket_of(d), want, "{d:?}");
    }
    for (i, b) in BUCKETS_MS.iter().enumerate() {
        assert_eq!(BOUNDS_US[i] as f64, b * 1000.0, "bounds agree at {i}");
    }
}

#[test]
fn series_are_interned() {
    let m = GoldenMetrics::new();
    let a = m.series(&labels("shop/canary"));
    let b = m.series_ref(labels("shop/canary").as_labels());
    assert!(Arc::ptr_eq(&a, &b));
    let mut other = labels("shop/canary");
    other.tls = false;
    assert!(!Arc::ptr_eq(&a, &m.series(&other)));
    // field boundaries matter: ("ab","c") is not ("a","bc")
    let mut x = labels("");
    x.src_namespace = "ab".into();
    x.src_workload = "c".into();
    let mut y = labels("");
    y.src_namespace = "a".into();
    y.src_workload = "bc".into();
    assert!(!Arc::ptr_eq(&m.series(&x), &m.series(&y)));
    assert_eq!(m.len(), 4);
    assert_eq!(a.labels(), &labels("shop/canary"));
}

#[test]
fn snapshot_shape() {
    let m = GoldenMetrics::new();
    let s = m.series(&labels("shop/canary"));
    for _ in 0..3 {
        s.request();
    }
    s.response(200, None, Duration::from_micros(300));
    s.response(200, None, Duration::from_millis(2));
    s.response(503, None, Duration::from_millis(2));
    let g = m.series_ref(Labels {
        direction: Direction::Inbound,
        route_kind: "GRPCRoute",
        tls: false,
        ..labels("shop/grpc").as_labels()
    });
    g.request();
    g.response(200, Some(0), Duration::from_millis(1));
    g.response(200, Some(14), Duration::from_millis(1));
    let v = m.snapshot();
    assert_eq!(v["bucketsMs"].as_array().unwrap().len(), 28);
    assert_eq!(v["bucketsMs"][0], json!(0.1));
    assert_eq!(v["maxSeries"], json!(DEFAULT_MAX_SERIES));
    assert_eq!(v["seriesOverflow"], json!(0));
    let series = v["series"].as_array().unwrap();
    assert_eq!(
        series.len(),
        2,
        "no overflow series when nothing overflowed"
    );
    // sorted: inbound before outbound
    let (grpc, http) = (&series[0], &series[1]);
    assert_eq!(
        http["labels"],
        json!({"direction": "outbound", "src_namespace": "shop", "src_workload": "web", "dst_namespace": "shop",
               "dst_workload": "cart-v2", "route_name": "shop/canary", "route_kind": "HTTPRoute", "backend": "shop/cart-v2", "tls": "true"})
    );
    assert_eq!(http["requests"], json!(3));
    assert_eq!(
        http["responses"],
        json!([{"status_code": "200", "classification": "success", "grpc_status": "", "count": 2},
               {"status_code": "503", "classification": "failure", "grpc_status": "", "count": 1}])
    );
    assert_eq!(http["latency"]["count"], json!(3));
    assert!((http["latency"]["sumMs"].as_f64().unwrap() - 4.3).abs() < 1e-9);
    let mut counts = vec![0u64; 29];
    counts[2] = 1; // 0.3 ms ≤ 0.5
    counts[4] = 2; // 2 ms ≤ 2
    assert_eq!(http["latency"]["counts"], json!(counts));
    assert_eq!(grpc["labels"]["direction"], json!("inbound"));
    assert_eq!(grpc["labels"]["tls"], json!("false"));
    assert_eq!(
        grpc["responses"],
        json!([{"status_code": "200", "classification": "success", "grpc_status": "0", "count": 1},
               {"status_code": "200", "classification": "failure", "grpc_status": "14", "count": 1}])
    );
    // the string form parses to the same value
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&m.snapshot_json()).unwrap(),
        m.snapshot()
    );
}

#[test]
fn many_distinct_responses_in_one_series() {
    let m = GoldenMetrics::new();
    let s = m.series(&labels("r"));
    for code in 200..240u16 {
        for _ in 0..(code - 199) {
            s.response(code, None, Duration::from_millis(1));
        }
    }
    let v = m.snapshot();
    let r = v["series"][0]["responses"].as_array().unwrap();
    assert_eq!(r.len(), 40, "past the lock-free slots nothing is lost");
    for (i, x) in r.iter().enumerate() {
        assert_eq!(x["status_code"], json!((200 + i).to_string()));
        assert_eq!(x["count"], json!(i + 1));
    }
}

#[test]
fn cardinality_is_capped_with_an_overflow_series() {
    let m = GoldenMetrics::with_limits(3, DEFAULT_RETAIN_IDLE);
    let keep: Vec<_> = (0..3)
        .map(|i| m.series(&labels(&format!("r{i}"))))
        .collect();
    for i in 3..10 {
        let s = m.series(&labels(&format!("r{i}")));
        s.request();
        s.response(200, None, Duration::from_millis(1));
    }
    assert_eq!(m.len(), 3);
    // an existing series is still found once the cap is reached
    assert!(Arc::ptr_eq(&keep[0], &m.series(&labels("r0"))));
    let v = m.snapshot();
    assert_eq!(v["seriesOverflow"], json!(7));
    let series = v["series"].as_array().unwrap();
    assert_eq!(series.len(), 4);
    let over = &series[3];
    assert_eq!(over["labels"]["route_name"], json!("overflow"));
    assert_eq!(over["labels"]["direction"], json!("overflow"));
    assert_eq!(over["requests"], json!(7), "totals survive the cap");
    assert_eq!(over["latency"]["count"], json!(7));
}

#[test]
fn idle_series_are_dropped_unless_held() {
    let m = GoldenMetrics::with_limits(100, Duration::from_secs(60));
    let t0 = Instant::now();
    m.series_at(labels("old").as_labels(), t0).request();
    let held = m.series_at(labels("held").as_labels(), t0);
    m.series_at(labels("fresh").as_labels(), t0 + Duration::from_secs(50))
        .request();
    let v = m.snapshot_at(t0 + Duration::from_secs(61));
    let names: Vec<_> = v["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["labels"]["route_name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, vec!["fresh", "held"]);
    assert_eq!(m.len(), 2);
    held.request();
    // the freed slot can be taken again
    assert_eq!(m.series(&labels("old")).labels().route_name, "old");
}

#[test]
fn threads_record_at_once() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<GoldenMetrics>();
    send_sync::<Series>();
    let m = Arc::new(GoldenMetrics::new());
    let hs: Vec<_> = (0..4)
        .map(|t| {
            let m = m.clone();
            std::thread::spawn(move || {
                for i in 0..10_000u32 {
                    let s = m.series(&labels(&format!("r{}", i % 5)));
                    s.request();
                    s.response(
                        if (i + t) % 10 == 0 { 503 } else { 200 },
                        None,
                        Duration::from_micros(u64::from(i % 700)),
                    );
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    let v = m.snapshot();
    let series = v["series"].as_array().unwrap();
    assert_eq!(series.len(), 5);
    let total = |k: &str| series.iter().map(|s| s[k].as_u64().unwrap()).sum::<u64>();
    assert_eq!(total("requests"), 40_000);
    let responses: u64 = series
        .iter()
        .flat_map(|s| s["responses"].as_array().unwrap())
        .map(|r| r["count"].as_u64().unwrap())
        .sum();
    assert_eq!(responses, 40_000);
    let failures: u64 = series
        .iter()
        .flat_map(|s| s["responses"].as_array().unwrap())
        .filter(|r| r["classification"] == "failure")
        .map(|r| r["count"].as_u64().unwrap())
        .sum();
    assert_eq!(failures, 4_000);
    assert_eq!(
        series
            .iter()
            .map(|s| s["latency"]["count"].as_u64().unwrap())
            .sum::<u64>(),
        40_000
    );
}
