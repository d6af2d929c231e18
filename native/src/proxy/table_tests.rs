//! Table tests: a good table, each malformed field reported with its path, and the decisions
//! (the same rows as test/fixtures/decide-table.ts plus the per-workload and loop-guard cases).
use super::*;

pub(crate) const GOOD: &str = r#"{
  "version": 7,
  "localAddrs": ["10.199.0.1", "10.200.1.1"],
  "defaults": { "outbound": { "action": "deny", "reason": "MESH_ERR_NOT_ENROLLED" },
                "inbound": { "action": "deny", "reason": "MESH_ERR_NOT_ENROLLED" } },
  "workloads": [
    { "ip": "10.200.1.10", "index": 0, "outbound": { "action": "forward", "reason": "" },
      "inbound": { "action": "forward", "reason": "" } },
    { "ip": "10.200.1.11", "index": 1, "outbound": { "action": "forward", "reason": "" },
      "inbound": { "action": "deny", "reason": "MESH_ERR_POLICY_DENIED" } }
  ]
}"#;

fn sa(s: &str) -> SocketAddrV4 {
    s.parse().unwrap()
}

#[test]
fn parses_a_good_table() {
    let t = Table::parse(GOOD).unwrap();
    assert_eq!(t.version, 7);
    assert_eq!(t.workload_count(), 2);
    assert_eq!(t.local.len(), 2);
}

#[test]
fn rejects_each_malformed_field_with_its_path() {
    let v: Value = serde_json::from_str(GOOD).unwrap();
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "/version",
            Value::from(-1),
            "version: -1 is not a non-negative safe integer",
        ),
        ("/version", Value::from(1.5), "version: 1.5 is not"),
        (
            "/version",
            Value::from(9007199254740992u64),
            "version: 9007199254740992 is not",
        ),
        (
            "/localAddrs",
            Value::from("10.0.0.1"),
            "localAddrs: \"10.0.0.1\" is not an array",
        ),
        (
            "/localAddrs/1",
            Value::from("10.0.0.256"),
            "localAddrs[1]: \"10.0.0.256\" is not an IPv4 address",
        ),
        (
            "/localAddrs/0",
            Value::from(3),
            "localAddrs[0]: 3 is not an IPv4 address",
        ),
        ("/defaults", Value::Null, "defaults: null is not an object"),
        (
            "/defaults/inbound/action",
            Value::from("allow"),
            "defaults.inbound.action: \"allow\" is not",
        ),
        (
            "/defaults/outbound/reason",
            Value::from(""),
            "defaults.outbound.reason: \"\" must be a MESH_ERR_* code",
        ),
        (
            "/defaults/outbound/reason",
            Value::from("nope"),
            "defaults.outbound.reason: \"nope\" must be",
        ),
        ("/workloads", Value::from(1), "workloads: 1 is not an array"),
        (
            "/workloads/1",
            Value::from("x"),
            "workloads[1]: \"x\" is not an object",
        ),
        (
            "/workloads/1/ip",
            Value::from("x"),
            "workloads[1].ip: \"x\" is not an IPv4 address",
        ),
        (
            "/workloads/1/ip",
            Value::from("010.200.1.11"),
            "workloads[1].ip: \"010.200.1.11\" is not an IPv4",
        ),
        (
            "/workloads/1/ip",
            Value::from("10.200.1.10"),
            "workloads[1].ip: \"10.200.1.10\" duplicates workloads[0].ip",
        ),
        (
            "/workloads/0/index",
            Value::from(-3),
            "workloads[0].index: -3 is not an integer",
        ),
        (
            "/workloads/0/index",
            Value::from(4294967296u64),
            "workloads[0].index: 4294967296 is not",
        ),
        (
            "/workloads/0/outbound",
            Value::from(true),
            "workloads[0].outbound: true is not an object",
        ),
        (
            "/workloads/0/outbound/reason",
            Value::from("MESH_ERR_X"),
            "workloads[0].outbound.reason: \"MESH_ERR_X\" must be \"\"",
        ),
        (
            "/workloads/1/inbound/reason",
            Value::from(5),
            "workloads[1].inbound.reason: 5 is not a string",
        ),
    ];
    for (ptr, bad, want) in cases {
        let mut t = v.clone();
        *t.pointer_mut(ptr).unwrap() = bad;
        let got = Table::parse(&t.to_string()).unwrap_err();
        assert!(
            got.starts_with(want),
            "{ptr}: got {got:?}, want prefix {want:?}"
        );
    }
    for (parent, name, want) in [
        ("", "version", "version: missing"),
        ("", "workloads", "workloads: missing"),
        ("/workloads/1", "ip", "workloads[1].ip: missing"),
        ("/workloads/0", "index", "workloads[0].index: missing"),
        ("/defaults", "inbound", "defaults.inbound: missing"),
        (
            "/defaults/inbound",
            "action",
            "defaults.inbound.action: missing",
        ),
    ] {
        let mut t = v.clone();
        t.pointer_mut(parent)
            .unwrap()
            .as_object_mut()
            .unwrap()
            .remove(name);
        assert_eq!(Table::parse(&t.to_string()).unwrap_err(), want);
    }
    assert!(Table::parse("{")
        .unwrap_err()
        .starts_with("table: invalid JSON"));
    assert_eq!(
        Table::parse("[]").unwrap_err(),
        "table: [] is not an object"
    );
    let long = format!("{{\"version\": \"{}\"}}", "a".repeat(500));
    assert!(Table::parse(&long).unwrap_err().len() < 120);
}

#[test]
fn decides_table_driven() {
    let t = Table::parse(GOOD).unwrap();
    let own = [15001, 15006];
    let fwd = |up: &str, bind: &str| Decision::Forward {
        upstream: sa(up),
        bind_ip: bind.parse().unwrap(),
        service: None,
    };
    let deny = |r: &str| Decision::Deny(Arc::from(r));
    use Direction::*;
    let rows: Vec<(&str, Direction, &str, &str, Decision)> = vec![
        (
            "enrolled out, same node",
            Outbound,
            "10.200.1.10:40000",
            "10.200.1.11:80",
            fwd("10.200.1.11:80", "10.200.1.10"),
        ),
        (
            "enrolled out, remote",
            Outbound,
            "10.200.1.10:40000",
            "10.200.2.10:8080",
            fwd("10.200.2.10:8080", "10.200.1.10"),
        ),
        (
            "enrolled in",
            Inbound,
            "10.200.2.10:5555",
            "10.200.1.10:80",
            fwd("10.200.1.10:80", "10.200.2.10"),
        ),
        (
            "per-workload inbound deny",
            Inbound,
            "10.200.2.10:5555",
            "10.200.1.11:80",
            deny("MESH_ERR_POLICY_DENIED"),
        ),
        (
            "unknown source out",
            Outbound,
            "10.9.9.9:1",
            "10.200.1.11:80",
            deny(NOT_ENROLLED),
        ),
        (
            "unknown dest in",
            Inbound,
            "10.200.1.10:1",
            "10.200.1.99:80",
            deny(NOT_ENROLLED),
        ),
        (
            "outbound keys on source",
            Outbound,
            "10.200.2.10:1",
            "10.200.1.10:80",
            deny(NOT_ENROLLED),
        ),
        (
            "local addr",
            Outbound,
            "10.200.1.10:1",
            "10.200.1.1:15001",
            deny(DIRECT_CONNECT),
        ),
        (
            "uplink addr",
            Inbound,
            "10.200.2.10:1",
            "10.199.0.1:15006",
            deny(DIRECT_CONNECT),
        ),
        (
            "loopback",
            Outbound,
            "10.200.1.10:1",
            "127.0.0.1:80",
            deny(DIRECT_CONNECT),
        ),
        (
            "loopback /8",
            Inbound,
            "10.200.1.10:1",
            "127.9.8.7:80",
            deny(DIRECT_CONNECT),
        ),
        (
            "own port, any addr",
            Outbound,
            "10.200.1.10:1",
            "10.200.2.10:15006",
            deny(DIRECT_CONNECT),
        ),
    ];
    for (name, dir, src, dst, want) in rows {
        assert_eq!(t.decide(dir, sa(src), sa(dst), own), want, "{name}");
    }
    let e = Table::empty();
    assert_eq!(
        e.decide(Outbound, sa("10.200.1.10:1"), sa("10.200.1.11:80"), own),
        deny(NOT_ENROLLED)
    );
}
