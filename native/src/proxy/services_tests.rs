//! Services: table parsing with field paths, the decision rows for VIPs, power-of-two-choices
//! picks (deterministic and statistical), and the connector retrying another endpoint when one
//! refuses (on loopback, no IP_TRANSPARENT needed).

use super::*;
use crate::proxy::conn;
use crate::proxy::engine::{Config, Shared};
use crate::proxy::relay::CloseReason;
use crate::proxy::table::{Decision, Direction, Table};
use std::net::Ipv4Addr;
use std::time::Duration;

const HEAD: &str = r#""version": 1, "localAddrs": ["10.200.1.1"], "workloads": [
    {"ip": "10.200.1.10", "index": 1, "outbound": {"action": "forward", "reason": ""}, "inbound": {"action": "forward", "reason": ""}},
    {"ip": "10.200.1.12", "index": 2, "outbound": {"action": "deny", "reason": "MESH_ERR_POLICY_DENIED"}, "inbound": {"action": "forward", "reason": ""}}],
  "defaults": {"outbound": {"action": "deny", "reason": "MESH_ERR_NOT_ENROLLED"}, "inbound": {"action": "forward", "reason": ""}}"#;

const SERVICES: &str = r#""services": [
    {"name": "shop/web", "vip": "10.96.0.10", "port": 80, "endpoints": [{"ip": "10.200.1.11", "port": 8080}, {"ip": "10.200.2.10", "port": 8080}]},
    {"name": "shop/empty", "vip": "10.96.0.11", "port": 80, "endpoints": []},
    {"name": "shop/dup", "vip": "10.96.0.12", "port": 80, "endpoints": [{"ip": "10.200.1.11", "port": 80}, {"ip": "10.200.1.11", "port": 80}, {"ip": "10.200.1.11", "port": 81}]},
    {"name": "shop/local", "vip": "10.200.1.1", "port": 80, "endpoints": [{"ip": "10.200.1.11", "port": 80}]},
    {"name": "shop/own", "vip": "10.96.0.13", "port": 15001, "endpoints": [{"ip": "10.200.1.11", "port": 80}]}]"#;

fn table(services: &str) -> Result<Table, String> {
    if services.is_empty() {
        Table::parse(&format!("{{{HEAD}}}"))
    } else {
        Table::parse(&format!("{{{HEAD}, {services}}}"))
    }
}

fn sa(s: &str) -> SocketAddrV4 {
    s.parse().unwrap()
}

/// A short summary of a decision: "deny:CODE", "deny:CODE(SERVICE)", "fwd:UPSTREAM" or
/// "svc:NAME/N@UPSTREAM".
fn row(d: Decision) -> String {
    match d {
        Decision::Deny(code) => format!("deny:{code}"),
        Decision::NoEndpoints(s) => format!("deny:{NO_ENDPOINTS}({})", s.name),
        Decision::Forward {
            upstream,
            service: None,
            ..
        } => format!("fwd:{upstream}"),
        Decision::Forward {
            upstream,
            service: Some(s),
            ..
        } => format!("svc:{}/{}@{upstream}", s.name, s.endpoints.len()),
    }
}

#[test]
fn service_rows() {
    let t = table(SERVICES).unwrap();
    let own = [15001, 15006];
    use Direction::*;
    #[rustfmt::skip]
    let rows = [
        ("service hit", Outbound, "10.200.1.10", "10.96.0.10:80", "svc:shop/web/2@10.96.0.10:80"),
        ("VIP, other port: plain forward", Outbound, "10.200.1.10", "10.96.0.10:81", "fwd:10.96.0.10:81"),
        ("no endpoints", Outbound, "10.200.1.10", "10.96.0.11:80", "deny:MESH_ERR_NO_ENDPOINTS(shop/empty)"),
        ("repeated endpoints count once", Outbound, "10.200.1.10", "10.96.0.12:80", "svc:shop/dup/2@10.96.0.12:80"),
        ("inbound to a VIP is no service route", Inbound, "10.200.2.5", "10.96.0.10:80", "fwd:10.96.0.10:80"),
        ("inbound to a VIP without endpoints", Inbound, "10.200.2.5", "10.96.0.11:80", "fwd:10.96.0.11:80"),
        ("unenrolled source: workload verdict first", Outbound, "10.200.9.9", "10.96.0.10:80", "deny:MESH_ERR_NOT_ENROLLED"),
        ("unenrolled source, no endpoints", Outbound, "10.200.9.9", "10.96.0.11:80", "deny:MESH_ERR_NOT_ENROLLED"),
        ("per-workload deny wins", Outbound, "10.200.1.12", "10.96.0.10:80", "deny:MESH_ERR_POLICY_DENIED"),
        ("a VIP that is a local address", Outbound, "10.200.1.10", "10.200.1.1:80", "deny:MESH_ERR_DIRECT_CONNECT"),
        ("a VIP on a proxy port (loop guard)", Outbound, "10.200.1.10", "10.96.0.13:15001", "deny:MESH_ERR_DIRECT_CONNECT"),
    ];
    for (name, dir, src, dst, want) in rows {
        let src = SocketAddrV4::new(src.parse().unwrap(), 40000);
        assert_eq!(row(t.decide(dir, src, sa(dst), own)), want, "{name}");
    }
    match t.decide(Outbound, sa("10.200.1.10:1"), sa("10.96.0.12:80"), own) {
        Decision::Forward {
            service: Some(s),
            bind_ip,
            ..
        } => {
            assert_eq!(bind_ip, Ipv4Addr::new(10, 200, 1, 10), "bind is the client");
            let want = [sa("10.200.1.11:80"), sa("10.200.1.11:81")];
            assert_eq!(&*s.endpoints, &want, "repeats dropped, order kept");
        }
        d => panic!("{d:?}"),
    }
}

#[test]
fn services_are_optional() {
    let own = [15001, 15006];
    let (src, vip) = (sa("10.200.1.10:1"), sa("10.96.0.10:80"));
    for t in [table("").unwrap(), table(r#""services": []"#).unwrap()] {
        let got = row(t.decide(Direction::Outbound, src, vip, own));
        assert_eq!(got, "fwd:10.96.0.10:80");
    }
}

#[test]
fn bad_services_name_the_field() {
    let svc = |name: &str, vip: &str, port: &str, eps: &str| {
        format!(
            r#""services": [{{"name": "ok/one", "vip": "10.96.0.1", "port": 80, "endpoints": []}}, {{"name": {name}, "vip": {vip}, "port": {port}, "endpoints": {eps}}}]"#
        )
    };
    let good_eps = r#"[{"ip": "10.0.0.1", "port": 1}]"#;
    let one = |s: &str| format!(r#""services": [{s}]"#);
    #[rustfmt::skip]
    let cases = [
        (r#""services": 3"#.to_string(), "services: 3 is not an array"),
        (r#""services": null"#.to_string(), "services: null is not an array"),
        (one(r#""x""#), "services[0]: \"x\" is not an object"),
        (one(r#"{"vip": "10.96.0.1", "port": 80, "endpoints": []}"#), "services[0].name: missing"),
        (one(r#"{"name": "a/b", "port": 80, "endpoints": []}"#), "services[0].vip: missing"),
        (one(r#"{"name": "a/b", "vip": "10.96.0.1", "endpoints": []}"#), "services[0].port: missing"),
        (one(r#"{"name": "a/b", "vip": "10.96.0.1", "port": 80}"#), "services[0].endpoints: missing"),
        (svc(r#""""#, r#""10.96.0.2""#, "80", "[]"), "services[1].name: \"\" is not \"namespace/name\""),
        (svc(r#""web""#, r#""10.96.0.2""#, "80", "[]"), "services[1].name: \"web\" is not"),
        (svc(r#""a/b/c""#, r#""10.96.0.2""#, "80", "[]"), "services[1].name: \"a/b/c\" is not"),
        (svc(r#""/b""#, r#""10.96.0.2""#, "80", "[]"), "services[1].name: \"/b\" is not"),
        (svc(r#""a b/c""#, r#""10.96.0.2""#, "80", "[]"), "services[1].name: \"a b/c\" is not"),
        (svc("7", r#""10.96.0.2""#, "80", "[]"), "services[1].name: 7 is not"),
        (svc(r#""a/b""#, r#""x""#, "80", "[]"), "services[1].vip: \"x\" is not an IPv4 address"),
        (svc(r#""a/b""#, r#""10.96.0.256""#, "80", "[]"), "services[1].vip: \"10.96.0.256\" is not"),
        (svc(r#""a/b""#, r#""10.96.0.2""#, "0", "[]"), "services[1].port: 0 is not a port in 1..65535"),
        (svc(r#""a/b""#, r#""10.96.0.2""#, "65536", "[]"), "services[1].port: 65536 is not a port"),
        (svc(r#""a/b""#, r#""10.96.0.2""#, r#""80""#, "[]"), "services[1].port: \"80\" is not a port"),
        (svc(r#""a/b""#, r#""10.96.0.2""#, "8.5", "[]"), "services[1].port: 8.5 is not a port"),
        (svc(r#""a/b""#, r#""10.96.0.2""#, "80", "{}"), "services[1].endpoints: {} is not an array"),
        (svc(r#""a/b""#, r#""10.96.0.2""#, "80", "[1]"), "services[1].endpoints[0]: 1 is not an object"),
        (svc(r#""a/b""#, r#""10.96.0.2""#, "80", r#"[{"ip": "10.0.0.1", "port": 1}, {"port": 1}]"#), "services[1].endpoints[1].ip: missing"),
        (svc(r#""a/b""#, r#""10.96.0.2""#, "80", r#"[{"ip": "nope", "port": 1}]"#), "services[1].endpoints[0].ip: \"nope\" is not an IPv4 address"),
        (svc(r#""a/b""#, r#""10.96.0.2""#, "80", r#"[{"ip": "10.0.0.1"}]"#), "services[1].endpoints[0].port: missing"),
        (svc(r#""a/b""#, r#""10.96.0.2""#, "80", r#"[{"ip": "10.0.0.1", "port": 70000}]"#), "services[1].endpoints[0].port: 70000 is not a port"),
        (svc(r#""a/b""#, r#""10.96.0.2""#, "80", r#"[{"ip": "10.0.0.1", "port": -1}]"#), "services[1].endpoints[0].port: -1 is not a port"),
        (svc(r#""a/b""#, r#""10.96.0.1""#, "80", good_eps), "services[1]: 10.96.0.1:80 (vip:port) duplicates services[0]"),
    ];
    for (services, want) in cases {
        let e = table(&services).unwrap_err();
        assert!(e.starts_with(want), "{services}\n got: {e}\nwant: {want}");
    }
    // The same VIP on another port, or another VIP on the same port, is fine.
    table(&svc(r#""a/b""#, r#""10.96.0.1""#, "81", good_eps)).unwrap();
    table(&svc(r#""a/b""#, r#""10.96.0.2""#, "80", good_eps)).unwrap();
}

#[test]
fn a_rejected_service_table_keeps_the_previous_one() {
    let sh = Shared::new(&Config::node(1, 2), [1, 2]);
    sh.set_table(table(SERVICES).unwrap());
    let bad = r#""services": [{"name": "a/b", "vip": "10.96.0.1", "port": 80, "endpoints": [{"ip": "x", "port": 1}]}]"#;
    assert!(table(bad).is_err());
    let got = row(sh.decide(
        Direction::Outbound,
        sa("10.200.1.10:1"),
        sa("10.96.0.10:80"),
    ));
    assert_eq!(got, "svc:shop/web/2@10.96.0.10:80");
}

fn eps(n: u8) -> Vec<SocketAddrV4> {
    (1..=n)
        .map(|i| SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, i), 80))
        .collect()
}

/// Share of `picks` that went to each endpoint of `e`, as hit counts.
fn spread(b: &Balancer, e: &[SocketAddrV4], picks: usize) -> Vec<u32> {
    let mut hits = vec![0u32; e.len()];
    for _ in 0..picks {
        let got = b.pick(e, &[]).unwrap();
        hits[e.iter().position(|x| *x == got).unwrap()] += 1;
    }
    hits
}

/// Every ordered pair of candidates, drawn through an injected RNG: the less loaded one wins.
#[test]
fn p2c_takes_the_less_loaded_of_the_two_drawn() {
    let e = eps(4);
    let load = [3u32, 0, 2, 1];
    let open: HashMap<SocketAddrV4, u32> = e.iter().copied().zip(load).collect();
    let mut pairs = HashSet::new();
    for r1 in 0..4u64 {
        for r2 in 0..3u64 {
            let mut seq = [r1, r2].into_iter();
            let got = choose(&e, &[], &open, || seq.next().unwrap()).unwrap();
            let (a, b) = (r1 as usize, (r1 as usize + 1 + r2 as usize) % 4);
            assert_ne!(a, b, "two distinct candidates");
            pairs.insert((a, b));
            let want = if load[b] < load[a] { e[b] } else { e[a] };
            assert_eq!(got, want, "pair {a},{b}");
        }
    }
    assert_eq!(pairs.len(), 12, "every ordered pair is reachable");
    // One candidate left: it, without drawing.
    let only = choose(&e, &e[1..], &open, || unreachable!()).unwrap();
    assert_eq!(only, e[0]);
    assert_eq!(choose(&e, &e, &open, || 0), None);
    assert_eq!(choose(&[], &[], &open, || 0), None);
}

#[test]
fn p2c_with_unequal_load_never_picks_the_most_loaded() {
    let b = Balancer::default();
    let e = eps(4);
    for (i, ep) in e.iter().enumerate() {
        for _ in 0..i {
            b.acquire(*ep);
        }
    }
    let hits = spread(&b, &e, 10_000);
    // P(i wins) = (endpoints more loaded than i) / 6 pairs: 3/6, 2/6, 1/6, 0.
    assert_eq!(hits[3], 0, "{hits:?}");
    assert!((4500..=5500).contains(&hits[0]), "{hits:?}");
    assert!(hits[0] > hits[1] && hits[1] > hits[2], "{hits:?}");
    // With two endpoints both are always compared.
    for _ in 0..200 {
        assert_eq!(b.pick(&e[..2], &[]), Some(e[0]));
    }
}

#[test]
fn p2c_spreads_equal_load_evenly() {
    let hits = spread(&Balancer::default(), &eps(4), 10_000);
    for h in &hits {
        assert!((2000..=3000).contains(h), "uneven spread {hits:?}");
    }
}

#[test]
fn p2c_skips_tried_endpoints() {
    let b = Balancer::default();
    let e = eps(4);
    for _ in 0..1000 {
        let got = b.pick(&e, &[e[0], e[2]]).unwrap();
        assert!(got == e[1] || got == e[3], "{got}");
    }
    assert_eq!(b.pick(&e, &[e[0], e[1], e[2]]), Some(e[3]));
    assert_eq!(b.pick(&e, &e), None);
}

#[test]
fn claims_count_until_dropped_or_kept_and_released() {
    let b = Balancer::default();
    let e = eps(4);
    // 4 000 claimed connections: each sees the ones before it, so the counts stay level
    // (random placement would drift ~80 apart).
    let kept: Vec<SocketAddrV4> = (0..4000)
        .map(|_| b.claim(&e, &[]).unwrap().keep())
        .collect();
    let counts: Vec<u32> = e.iter().map(|x| b.open_count(*x)).collect();
    let (min, max) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
    assert!(
        max - min <= 12,
        "open connections drifted apart: {counts:?}"
    );
    for ep in kept {
        b.release(ep);
    }
    assert!(b.counts().is_empty(), "entries at zero are dropped");
    {
        let c = b.claim(&e[..1], &[]).unwrap();
        assert_eq!(b.open_count(c.endpoint()), 1, "a pending connect counts");
    }
    assert_eq!(b.open_count(e[0]), 0, "a dropped claim uncounts");
    b.release(e[0]); // an unknown or zero entry stays absent
    assert!(b.counts().is_empty());
}

fn v4(a: std::net::SocketAddr) -> SocketAddrV4 {
    match a {
        std::net::SocketAddr::V4(a) => a,
        std::net::SocketAddr::V6(_) => panic!("not v4"),
    }
}

fn shared(timeout: Duration) -> Shared {
    let mut cfg = Config::node(0, 0);
    cfg.transparent = false;
    cfg.connect_timeout = timeout;
    Shared::new(&cfg, [1, 2])
}

/// A loopback port nobody listens on: bind, read the port, drop the listener.
fn closed_port() -> SocketAddrV4 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    v4(l.local_addr().unwrap())
}

fn route(name: &str, endpoints: Vec<SocketAddrV4>) -> ServiceRoute {
    ServiceRoute {
        name: Arc::from(name),
        endpoints: endpoints.into_boxed_slice(),
    }
}

fn sec() -> conn::Security {
    conn::Security::default()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The first endpoint picked refuses, the second accepts: the connection lands on the second,
/// the refused one is recorded as tried, and only the accepted one stays counted.
#[test]
fn connect_service_retries_elsewhere_on_refusal() {
    runtime().block_on(async {
        let open = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let good = v4(open.local_addr().unwrap());
        let closed = closed_port();
        let sh = shared(Duration::from_secs(5));
        let svc = route("shop/web", vec![good, closed]);
        // `good` carries one connection already, so two choices always try `closed` first.
        sh.balancer.acquire(good);
        let src = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0);
        let t0 = Table::empty();
        for i in 1..=5u32 {
            let mut tried = Vec::new();
            let (s, ep) = conn::connect_service(&sh, &t0, src, &svc, &mut tried, &mut sec())
                .await
                .ok()
                .expect("an endpoint accepts");
            assert_eq!((ep, tried.as_slice()), (good, &[closed][..]), "attempt {i}");
            let conn::Upstream::Tcp(s) = s else {
                panic!("a plain endpoint is reached over TCP")
            };
            assert_eq!(v4(s.peer_addr().unwrap()), good);
            assert_eq!(sh.balancer.open_count(good), 1 + i);
            assert_eq!(sh.balancer.open_count(closed), 0);
        }

        let mut tried = Vec::new();
        let down = route("shop/down", vec![closed, closed_port()]);
        let r = conn::connect_service(&sh, &t0, src, &down, &mut tried, &mut sec()).await;
        assert!(
            matches!(r, Err(conn::Fail::Close(CloseReason::ConnectRefused))),
            "the last error"
        );
        assert_eq!(tried.len(), 2, "every endpoint was tried once");
        assert_eq!(sh.balancer.open_count(closed), 0);

        let none = route("shop/none", vec![]);
        let r = conn::connect_service(&sh, &t0, src, &none, &mut Vec::new(), &mut sec()).await;
        assert!(matches!(
            r,
            Err(conn::Fail::Close(CloseReason::ConnectError))
        ));
    });
}

/// A spent budget stops before any connect: `connect_timeout`, nothing tried, nothing counted.
#[test]
fn connect_service_stops_when_the_budget_is_spent() {
    runtime().block_on(async {
        let open = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let good = v4(open.local_addr().unwrap());
        let sh = shared(Duration::ZERO);
        let svc = route("shop/web", vec![good]);
        let mut tried = Vec::new();
        let src = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0);
        let r =
            conn::connect_service(&sh, &Table::empty(), src, &svc, &mut tried, &mut sec()).await;
        assert!(matches!(
            r,
            Err(conn::Fail::Close(CloseReason::ConnectTimeout))
        ));
        assert!(tried.is_empty());
        assert_eq!(sh.balancer.open_count(good), 0);
    });
}
