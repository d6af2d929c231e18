//! Services: table parsing with field paths, the decision rows for VIPs, power-of-two-choices
//! picks, and retrying another endpoint when one refuses (on loopback, no IP_TRANSPARENT needed).

use super::*;
use crate::proxy::table::{Decision, Direction, Table};
use std::net::Ipv4Addr;

const TABLE: &str = r#"{"version": 1, "localAddrs": [], "workloads": [
    {"ip": "10.200.1.10", "index": 1, "outbound": {"action": "forward", "reason": ""}, "inbound": {"action": "forward", "reason": ""}}],
  "defaults": {"outbound": {"action": "deny", "reason": "MESH_ERR_NOT_ENROLLED"}, "inbound": {"action": "deny", "reason": "MESH_ERR_NOT_ENROLLED"}},
  "services": [
    {"name": "shop/web", "vip": "10.96.0.10", "port": 80, "endpoints": [{"ip": "10.200.1.11", "port": 8080}, {"ip": "10.200.2.10", "port": 8080}]},
    {"name": "shop/empty", "vip": "10.96.0.11", "port": 80, "endpoints": []}]}"#;

fn sa(s: &str) -> SocketAddrV4 {
    s.parse().unwrap()
}

#[test]
fn service_rows() {
    let t = Table::parse(TABLE).unwrap();
    let own = [15001, 15006];
    let src = sa("10.200.1.10:40000");
    match t.decide(Direction::Outbound, src, sa("10.96.0.10:80"), own) {
        Decision::Forward {
            upstream,
            service: Some(s),
            ..
        } => {
            assert_eq!(upstream, sa("10.96.0.10:80"));
            assert_eq!(&*s.name, "shop/web");
            assert_eq!(s.endpoints.len(), 2);
        }
        d => panic!("service hit: {d:?}"),
    }
    assert!(
        matches!(
            t.decide(Direction::Outbound, src, sa("10.96.0.10:81"), own),
            Decision::Forward { service: None, .. }
        ),
        "port mismatch is a plain forward"
    );
    assert_eq!(
        t.decide(Direction::Outbound, src, sa("10.96.0.11:80"), own),
        Decision::Deny(Arc::from(NO_ENDPOINTS))
    );
    assert!(
        matches!(
            t.decide(
                Direction::Inbound,
                sa("10.200.2.5:1"),
                sa("10.200.1.10:80"),
                own
            ),
            Decision::Forward { service: None, .. }
        ),
        "inbound is never a service route"
    );
}

#[test]
fn bad_services_name_the_field() {
    let cases = [
        (r#""services": 3"#, "services: 3 is not an array"),
        (
            r#""services": [{"vip": "10.96.0.1", "port": 80, "endpoints": []}]"#,
            "services[0].name: missing",
        ),
        (
            r#""services": [{"name": "a/b", "vip": "x", "port": 80, "endpoints": []}]"#,
            "services[0].vip",
        ),
        (
            r#""services": [{"name": "a/b", "vip": "10.96.0.1", "port": 0, "endpoints": []}]"#,
            "services[0].port",
        ),
        (
            r#""services": [{"name": "a/b", "vip": "10.96.0.1", "port": 80, "endpoints": [{"ip": "10.0.0.1", "port": 70000}]}]"#,
            "services[0].endpoints[0].port",
        ),
        (
            r#""services": [{"name": "a/b", "vip": "10.96.0.1", "port": 80, "endpoints": [{"ip": "nope", "port": 1}]}]"#,
            "services[0].endpoints[0].ip",
        ),
    ];
    for (services, want) in cases {
        let json = format!(
            r#"{{"version": 1, "localAddrs": [], "workloads": [], "defaults": {{"outbound": {{"action": "deny", "reason": "MESH_ERR_NOT_ENROLLED"}}, "inbound": {{"action": "deny", "reason": "MESH_ERR_NOT_ENROLLED"}}}}, {services}}}"#
        );
        let e = Table::parse(&json).unwrap_err();
        assert!(e.starts_with(want), "{services}: {e}");
    }
}

#[test]
fn p2c_prefers_the_less_loaded_of_two() {
    let b = Balancer::default();
    let (a, c) = (sa("10.0.0.1:80"), sa("10.0.0.2:80"));
    for _ in 0..5 {
        b.acquire(a);
    }
    for _ in 0..200 {
        assert_eq!(
            b.pick(&[a, c], &[]),
            Some(c),
            "with two endpoints both are compared"
        );
    }
    assert_eq!(
        b.pick(&[a, c], &[c]),
        Some(a),
        "tried endpoints are skipped"
    );
    assert_eq!(b.pick(&[a, c], &[a, c]), None);
    for _ in 0..5 {
        b.release(a);
    }
    assert_eq!(b.open_count(a), 0);
}

#[test]
fn p2c_spreads_equal_load_evenly() {
    let b = Balancer::default();
    let eps: Vec<SocketAddrV4> = (1..=4)
        .map(|i| SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, i), 80))
        .collect();
    let mut hits = [0u32; 4];
    for _ in 0..10_000 {
        let e = b.pick(&eps, &[]).unwrap();
        hits[eps.iter().position(|x| *x == e).unwrap()] += 1;
    }
    for h in hits {
        assert!((2000..=3000).contains(&h), "uneven spread {hits:?}");
    }
}

#[test]
fn p2c_keeps_open_connections_balanced() {
    let b = Balancer::default();
    let eps: Vec<SocketAddrV4> = (1..=4)
        .map(|i| SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, i), 80))
        .collect();
    // 4 000 connections over 4 endpoints: random placement would drift ~80 apart; two choices
    // keep the gap to a handful.
    for _ in 0..4000 {
        let e = b.pick(&eps, &[]).unwrap();
        b.acquire(e);
    }
    let counts: Vec<u32> = eps.iter().map(|e| b.open_count(*e)).collect();
    let (min, max) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
    assert!(
        max - min <= 12,
        "open connections drifted apart: {counts:?}"
    );
}
