//! Authz tests: every row of test/fixtures/authz/cases.json (the rows agent/src/authz authorize()
//! passes too), each malformed field reported with its path, and the table without authz.
use super::*;

const CASES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../test/fixtures/authz/cases.json"
);

fn cases() -> Value {
    let text = std::fs::read_to_string(CASES).unwrap_or_else(|e| panic!("{CASES}: {e}"));
    serde_json::from_str(&text).unwrap()
}

fn transport(s: &str) -> Transport {
    match s {
        "mtls" => Transport::Mtls,
        "local" => Transport::Local,
        "plaintext" => Transport::Plaintext,
        _ => panic!("unknown transport {s}"),
    }
}

fn ip(v: &Value) -> Ipv4Addr {
    v.as_str().unwrap().parse().unwrap()
}

#[test]
fn authz_agrees_with_every_row_of_cases_json() {
    let all = cases();
    let mut rows = 0;
    let mut failures = Vec::new();
    for t in all["tables"].as_array().unwrap() {
        let authz =
            Authz::parse(Some(&t["table"])).unwrap_or_else(|e| panic!("table {}: {e}", t["name"]));
        for r in t["rows"].as_array().unwrap() {
            rows += 1;
            let i = &r["input"];
            let got = authz.evaluate(&AuthzInput {
                dst_ip: ip(&i["dstIp"]),
                dst_port: i["dstPort"].as_u64().unwrap() as u16,
                src_ip: ip(&i["srcIp"]),
                identity: i["identity"].as_str(),
                transport: transport(i["transport"].as_str().unwrap()),
            });
            let w = &r["want"];
            let want = (
                w["allow"].as_bool().unwrap(),
                w["code"].as_str().unwrap(),
                w["policy"].as_str().unwrap(),
                w["audit"].as_str().unwrap(),
            );
            if (got.allow, got.code, &*got.policy, &*got.audit) != want {
                failures.push(format!(
                    "[{}] {}: got {got:?}, want {want:?}",
                    t["name"], r["name"]
                ));
            }
        }
    }
    assert!(rows >= 80, "only {rows} rows");
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn authz_absent_or_null_allows_everything() {
    for v in [None, Some(&Value::Null)] {
        let a = Authz::parse(v).unwrap();
        assert_eq!(a.workload_count(), 0);
        let got = a.evaluate(&AuthzInput {
            dst_ip: Ipv4Addr::new(10, 0, 0, 1),
            dst_port: 80,
            src_ip: Ipv4Addr::new(10, 0, 0, 2),
            identity: None,
            transport: Transport::Plaintext,
        });
        assert_eq!(
            got,
            AuthzVerdict {
                allow: true,
                code: "",
                policy: Arc::from(""),
                audit: Arc::from("")
            }
        );
    }
}

#[test]
fn authz_verdicts_share_the_table_names() {
    // evaluation clones Arcs, never builds strings: the verdict points into the table
    let t = &cases()["tables"][0]["table"];
    let a = Authz::parse(Some(t)).unwrap();
    let input = AuthzInput {
        dst_ip: Ipv4Addr::new(10, 0, 0, 10),
        dst_port: 22,
        src_ip: Ipv4Addr::new(10, 1, 1, 1),
        identity: Some("spiffe://cluster.local/ns/shop/sa/web"),
        transport: Transport::Mtls,
    };
    let (v1, v2) = (a.evaluate(&input), a.evaluate(&input));
    assert!(Arc::ptr_eq(&v1.policy, &v2.policy));
    assert!(Arc::ptr_eq(&v1.audit, &v2.audit));
    assert_eq!(&*v1.policy, "a/allow-shop");
}

const GOOD: &str = r#"{
  "trustDomain": "cluster.local",
  "workloads": [
    { "ip": "10.0.0.1", "mode": "STRICT", "modePolicy": "a/m", "portModes": [{ "port": 80, "mode": "DISABLE" }],
      "defaultPolicy": "deny", "policies": [0] }
  ],
  "policies": [
    { "name": "a/p", "action": "ALLOW", "rules": [
      { "from": [{ "identities": ["*"], "namespaces": ["a"], "ipBlocks": ["10.0.0.0/8"] }], "ports": [80], "l7": false } ] }
  ]
}"#;

#[test]
fn authz_parses_a_good_table() {
    let v: Value = serde_json::from_str(GOOD).unwrap();
    assert_eq!(Authz::parse(Some(&v)).unwrap().workload_count(), 1);
}

#[test]
fn authz_rejects_each_malformed_field_with_its_path() {
    let good: Value = serde_json::from_str(GOOD).unwrap();
    let p0 = "/policies/0/rules/0";
    let cases: Vec<(String, Option<Value>, &str)> = vec![
        ("".into(), Some(Value::from(3)), "authz: 3 is not an object"),
        ("/trustDomain".into(), None, "authz.trustDomain: missing"),
        (
            "/trustDomain".into(),
            Some(Value::from("")),
            "authz.trustDomain: \"\" is not a non-empty string",
        ),
        (
            "/trustDomain".into(),
            Some(Value::from("a/b")),
            "authz.trustDomain: \"a/b\" is not a trust domain",
        ),
        ("/workloads".into(), None, "authz.workloads: missing"),
        (
            "/workloads".into(),
            Some(Value::from("x")),
            "authz.workloads: \"x\" is not an array",
        ),
        (
            "/workloads/0/ip".into(),
            Some(Value::from("10.0.0.256")),
            "authz.workloads[0].ip: \"10.0.0.256\" is not an IPv4 address",
        ),
        (
            "/workloads/0/mode".into(),
            Some(Value::from("ON")),
            "authz.workloads[0].mode: \"ON\" is not STRICT, PERMISSIVE or DISABLE",
        ),
        (
            "/workloads/0/modePolicy".into(),
            Some(Value::from(1)),
            "authz.workloads[0].modePolicy: 1 is not a policy name",
        ),
        (
            "/workloads/0/portModes/0/port".into(),
            Some(Value::from(0)),
            "authz.workloads[0].portModes[0].port: 0 is not a port in 1..65535",
        ),
        (
            "/workloads/0/portModes/0/mode".into(),
            None,
            "authz.workloads[0].portModes[0].mode: missing",
        ),
        (
            "/workloads/0/portModes/1".into(),
            Some(serde_json::json!({ "port": 80, "mode": "STRICT" })),
            "authz.workloads[0].portModes[1].port: 80 is listed twice",
        ),
        (
            "/workloads/0/defaultPolicy".into(),
            Some(Value::from("allow-all")),
            "authz.workloads[0].defaultPolicy: \"allow-all\" is not all-unauthenticated",
        ),
        (
            "/workloads/0/policies/0".into(),
            Some(Value::from(1)),
            "authz.workloads[0].policies[0]: 1 is not an index into authz.policies (0..1)",
        ),
        (
            "/workloads/0/policies/0".into(),
            Some(Value::from(-1)),
            "authz.workloads[0].policies[0]: -1 is not an index",
        ),
        (
            "/workloads/1".into(),
            Some(
                serde_json::json!({ "ip": "10.0.0.1", "mode": "STRICT", "modePolicy": "", "portModes": [], "defaultPolicy": "deny", "policies": [] }),
            ),
            "authz.workloads[1].ip: \"10.0.0.1\" is listed twice",
        ),
        ("/policies".into(), None, "authz.policies: missing"),
        (
            "/policies/0/name".into(),
            Some(Value::from("")),
            "authz.policies[0].name: \"\" is not a non-empty string",
        ),
        (
            "/policies/0/action".into(),
            Some(Value::from("LOG")),
            "authz.policies[0].action: \"LOG\" is not ALLOW, DENY or AUDIT",
        ),
        (
            "/policies/0/rules".into(),
            Some(Value::from(1)),
            "authz.policies[0].rules: 1 is not an array",
        ),
        (
            format!("{p0}/from"),
            Some(Value::from(1)),
            "authz.policies[0].rules[0].from: 1 is not an array",
        ),
        (
            format!("{p0}/from/0"),
            Some(Value::from("x")),
            "authz.policies[0].rules[0].from[0]: \"x\" is not an object",
        ),
        (
            format!("{p0}/from/0/identities/0"),
            Some(Value::from(7)),
            "authz.policies[0].rules[0].from[0].identities[0]: 7 is not a non-empty string",
        ),
        (
            format!("{p0}/from/0/namespaces"),
            Some(Value::from("a")),
            "authz.policies[0].rules[0].from[0].namespaces: \"a\" is not an array",
        ),
        (
            format!("{p0}/from/0/ipBlocks/0"),
            Some(Value::from("10.0.0.0/33")),
            "authz.policies[0].rules[0].from[0].ipBlocks[0]: \"10.0.0.0/33\" is not an IPv4 CIDR",
        ),
        (
            format!("{p0}/from/0/ipBlocks/0"),
            Some(Value::from("10.0.0.0/08")),
            "ipBlocks[0]: \"10.0.0.0/08\" is not an IPv4 CIDR",
        ),
        (
            format!("{p0}/from/0/ipBlocks/0"),
            Some(Value::from("010.0.0.0/8")),
            "ipBlocks[0]: \"010.0.0.0/8\" is not an IPv4 CIDR",
        ),
        (
            format!("{p0}/from/0/ipBlocks/0"),
            Some(Value::from("10.0.0/8")),
            "ipBlocks[0]: \"10.0.0/8\" is not an IPv4 CIDR",
        ),
        (
            format!("{p0}/from/0/ipBlocks/0"),
            Some(Value::from("10.0.0.0.0")),
            "ipBlocks[0]: \"10.0.0.0.0\" is not an IPv4 CIDR",
        ),
        (
            format!("{p0}/from/0/ipBlocks/0"),
            Some(Value::from("fd00::/8")),
            "ipBlocks[0]: \"fd00::/8\" is not an IPv4 CIDR",
        ),
        (
            format!("{p0}/from/0/ipBlocks/0"),
            Some(Value::from(10)),
            "ipBlocks[0]: 10 is not an IPv4 CIDR",
        ),
        (
            format!("{p0}/ports/0"),
            Some(Value::from(65536)),
            "authz.policies[0].rules[0].ports[0]: 65536 is not a port in 1..65535",
        ),
        (
            format!("{p0}/l7"),
            Some(Value::from("yes")),
            "authz.policies[0].rules[0].l7: \"yes\" is not a boolean",
        ),
    ];
    for (ptr, value, want) in cases {
        let mut v = good.clone();
        if ptr.is_empty() {
            v = value.clone().unwrap();
        } else {
            let (parent, key) = ptr.rsplit_once('/').unwrap();
            match v.pointer_mut(parent).unwrap() {
                Value::Object(m) => match &value {
                    Some(x) => {
                        m.insert(key.to_string(), x.clone());
                    }
                    None => {
                        m.remove(key);
                    }
                },
                Value::Array(a) => {
                    let i: usize = key.parse().unwrap();
                    let x = value.clone().unwrap();
                    if i < a.len() {
                        a[i] = x;
                    } else {
                        a.push(x);
                    }
                }
                _ => panic!("{ptr}"),
            }
        }
        let err = Authz::parse(Some(&v)).expect_err(&ptr);
        assert!(err.contains(want), "{ptr}: got {err:?}, want {want:?}");
        assert!(err.starts_with("authz"), "{ptr}: {err:?} names no path");
    }
}

#[test]
fn authz_optional_rule_fields_default_to_any() {
    // a rule without from/ports/l7 matches everything (the compiler always writes them)
    let v = serde_json::json!({ "trustDomain": "td", "workloads": [
        { "ip": "10.0.0.1", "mode": "PERMISSIVE", "modePolicy": "", "portModes": [], "defaultPolicy": "deny", "policies": [0] } ],
        "policies": [{ "name": "a/any", "action": "ALLOW", "rules": [{}] }] });
    let a = Authz::parse(Some(&v)).unwrap();
    let got = a.evaluate(&AuthzInput {
        dst_ip: Ipv4Addr::new(10, 0, 0, 1),
        dst_port: 1,
        src_ip: Ipv4Addr::new(1, 2, 3, 4),
        identity: None,
        transport: Transport::Plaintext,
    });
    assert!(got.allow);
    assert_eq!(&*got.policy, "a/any");
}

#[test]
fn authz_glob_and_cidr_helpers() {
    assert!(glob_matches("*", "spiffe://a/ns/b/sa/c"));
    assert!(glob_matches(
        "spiffe://td/ns/*a*a/sa/s",
        "spiffe://td/ns/aaa/sa/s"
    ));
    assert!(!glob_matches(
        "spiffe://td/ns/*a*a/sa/s",
        "spiffe://td/ns/aab/sa/s"
    ));
    assert!(glob_matches(
        "spiffe://td/ns/a**b/sa/s",
        "spiffe://td/ns/ab/sa/s"
    ));
    assert!(!glob_matches(
        "spiffe://td/ns/*/sa/s",
        "spiffe://td/ns/a/b/sa/s"
    ));
    assert_eq!(
        identity_namespace("spiffe://td/ns/shop/sa/web"),
        Some("shop")
    );
    assert_eq!(identity_namespace("spiffe://td/ns/shop/sa/web/x"), None);
    assert_eq!(identity_namespace("spiffe://td/ns//sa/web"), None);
    assert_eq!(parse_cidr("10.1.2.3/8"), Some((0x0a00_0000, 0xff00_0000)));
    assert_eq!(parse_cidr("0.0.0.0/0"), Some((0, 0)));
    assert_eq!(parse_cidr("10.1.2.3"), Some((0x0a01_0203, u32::MAX)));
    assert_eq!(parse_cidr("10.0.0.0/"), None);
    assert_eq!(parse_ipv4("255.255.255.255"), Some(u32::MAX));
    assert_eq!(parse_ipv4("1.2.3.4.5"), None);
}
