//! Authz tests: every row of test/fixtures/authz/cases.json (the rows agent/src/authz authorize()
//! passes too), per connection or per HTTP request, each malformed field reported with its path,
//! needsHttp, the table without authz, and the HTTP helpers of l7/authz_http.rs.
use super::*;
use crate::l7::authz_http::{
    deny_response, grpc_message, host_of, normalize_path, valid_pattern, value_matches,
    HttpAuthzCounters, MAX_POLICIES, OTHER_POLICY,
};
use std::collections::BTreeMap;

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

fn headers_of(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .unwrap()
        .iter()
        .map(|(k, x)| (k.clone(), x.as_str().unwrap().to_string()))
        .collect()
}

/// Sets (Some) or removes (None) the value at a JSON pointer (an array index past the end appends).
fn set_at(v: &mut Value, ptr: &str, value: &Option<Value>) {
    let (parent, key) = ptr.rsplit_once('/').unwrap();
    match v.pointer_mut(parent).unwrap() {
        Value::Object(m) => match value {
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

#[test]
fn authz_agrees_with_every_row_of_cases_json() {
    let all = cases();
    let mut rows = 0;
    let mut http_rows = 0;
    let mut failures = Vec::new();
    for t in all["tables"].as_array().unwrap() {
        let authz =
            Authz::parse(Some(&t["table"])).unwrap_or_else(|e| panic!("table {}: {e}", t["name"]));
        for r in t["rows"].as_array().unwrap() {
            rows += 1;
            let i = &r["input"];
            let input = AuthzInput {
                dst_ip: ip(&i["dstIp"]),
                dst_port: i["dstPort"].as_u64().unwrap() as u16,
                src_ip: ip(&i["srcIp"]),
                identity: i["identity"].as_str(),
                transport: transport(i["transport"].as_str().unwrap()),
            };
            let got = match r.get("http") {
                None => authz.evaluate(&input),
                Some(h) => {
                    http_rows += 1;
                    let headers = headers_of(&h["headers"]);
                    let req = AuthzRequest::new(
                        h["method"].as_str().unwrap(),
                        h["authority"].as_str().unwrap(),
                        h["path"].as_str().unwrap(),
                        &headers,
                    );
                    authz.evaluate_request(&input, Some(&req))
                }
            };
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
    assert!(rows >= 160, "only {rows} rows");
    assert!(
        http_rows >= 60,
        "only {http_rows} rows with an HTTP request"
    );
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
            set_at(&mut v, &ptr, &value);
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

const GOOD_L7: &str = r#"{
  "trustDomain": "cluster.local",
  "workloads": [
    { "ip": "10.0.0.1", "mode": "PERMISSIVE", "modePolicy": "", "portModes": [], "defaultPolicy": "deny",
      "policies": [0], "needsHttp": [80] },
    { "ip": "10.0.0.2", "mode": "PERMISSIVE", "modePolicy": "", "portModes": [], "defaultPolicy": "deny",
      "policies": [] }
  ],
  "policies": [
    { "name": "a/p", "action": "DENY", "rules": [
      { "from": null, "ports": [80], "l7": true, "http": { "methods": ["GET"], "notMethods": ["PUT"],
        "paths": ["/a/*"], "notPaths": ["*.php"], "hosts": ["web"], "notHosts": ["*.evil"],
        "headers": [{ "name": "x-a", "values": ["1"] }, { "name": "x-b", "values": ["*"] }] } } ] }
  ]
}"#;

#[test]
fn authz_rejects_malformed_http_fields_with_their_path() {
    let good: Value = serde_json::from_str(GOOD_L7).unwrap();
    let a = Authz::parse(Some(&good)).unwrap();
    assert!(a.needs_http(Ipv4Addr::new(10, 0, 0, 1), 80));
    let h = "/policies/0/rules/0/http";
    let r0 = "authz.policies[0].rules[0]";
    let cases: Vec<(String, Option<Value>, String)> = vec![
        (
            h.to_string(),
            None,
            format!("{r0}.http: must be set exactly when l7 is true (l7 is true)"),
        ),
        (
            "/policies/0/rules/0/l7".into(),
            Some(Value::from(false)),
            format!("{r0}.http: must be set exactly when l7 is true (l7 is false)"),
        ),
        (
            h.to_string(),
            Some(serde_json::json!({})),
            format!("{r0}.http: sets no HTTP field"),
        ),
        (
            h.to_string(),
            Some(Value::from(1)),
            format!("{r0}.http: 1 is not an object"),
        ),
        (
            format!("{h}/notHeaders"),
            Some(serde_json::json!([])),
            format!("{r0}.http.notHeaders: not a field"),
        ),
        (
            format!("{h}/methods/0"),
            Some(Value::from("get")),
            format!("{r0}.http.methods[0]: \"get\" is not an HTTP method"),
        ),
        (
            format!("{h}/notMethods"),
            Some(Value::from("GET")),
            format!("{r0}.http.notMethods: \"GET\" is not an array"),
        ),
        (
            format!("{h}/paths/0"),
            Some(Value::from("a/*")),
            format!("{r0}.http.paths[0]: \"a/*\" does not start with '/' or '*'"),
        ),
        (
            format!("{h}/notPaths/0"),
            Some(Value::from("/a/*/b")),
            format!("{r0}.http.notPaths[0]: \"/a/*/b\" is not a value pattern"),
        ),
        (
            format!("{h}/paths/0"),
            Some(Value::from("*a*")),
            format!("{r0}.http.paths[0]: \"*a*\" is not a value pattern"),
        ),
        (
            format!("{h}/paths/0"),
            Some(Value::from("/".repeat(1025))),
            format!("{r0}.http.paths[0]:"),
        ),
        (
            format!("{h}/hosts/0"),
            Some(Value::from("Web")),
            format!("{r0}.http.hosts[0]: \"Web\" is not lowercase"),
        ),
        (
            format!("{h}/notHosts/0"),
            Some(Value::from("")),
            format!("{r0}.http.notHosts[0]: \"\" is not a value pattern"),
        ),
        (
            format!("{h}/headers/0/name"),
            Some(Value::from("X-A")),
            format!("{r0}.http.headers[0].name: \"X-A\" is not a lowercase header name"),
        ),
        (
            format!("{h}/headers/1/name"),
            Some(Value::from("x-a")),
            format!("{r0}.http.headers[1].name: \"x-a\" is not after the previous name"),
        ),
        (
            format!("{h}/headers/0/values"),
            Some(serde_json::json!([])),
            format!("{r0}.http.headers[0].values: lists no value"),
        ),
        (
            format!("{h}/headers/0/values/0"),
            Some(Value::from("a*b")),
            format!("{r0}.http.headers[0].values[0]: \"a*b\" is not a value pattern"),
        ),
        (
            format!("{h}/headers/0/values"),
            None,
            format!("{r0}.http.headers[0].values: missing"),
        ),
        (
            "/workloads/0/needsHttp".into(),
            Some(Value::from(true)),
            "authz.workloads[0].needsHttp: says All but the workload's L7 rules need Ports([80])"
                .into(),
        ),
        (
            "/workloads/0/needsHttp".into(),
            Some(Value::from(false)),
            "authz.workloads[0].needsHttp: says No".into(),
        ),
        (
            "/workloads/1/needsHttp".into(),
            Some(serde_json::json!([80])),
            "authz.workloads[1].needsHttp: says Ports([80]) but the workload's L7 rules need No"
                .into(),
        ),
        (
            "/workloads/0/needsHttp".into(),
            Some(serde_json::json!([0])),
            "authz.workloads[0].needsHttp[0]: 0 is not a port".into(),
        ),
        (
            "/workloads/0/needsHttp".into(),
            Some(Value::from("all")),
            "authz.workloads[0].needsHttp: \"all\" is not a boolean or a list of ports".into(),
        ),
    ];
    for (ptr, value, want) in cases {
        let mut v = good.clone();
        set_at(&mut v, &ptr, &value);
        let err = Authz::parse(Some(&v)).expect_err(&ptr);
        assert!(err.contains(&want), "{ptr}: got {err:?}, want {want:?}");
    }
    // an absent needsHttp is computed
    let mut v = good.clone();
    set_at(&mut v, "/workloads/0/needsHttp", &None);
    let a = Authz::parse(Some(&v)).unwrap();
    assert!(a.needs_http(Ipv4Addr::new(10, 0, 0, 1), 80));
    assert!(!a.needs_http(Ipv4Addr::new(10, 0, 0, 1), 81));
}

#[test]
fn authz_needs_http_per_workload_and_port() {
    let all = cases();
    let t = all["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "http")
        .unwrap();
    let a = Authz::parse(Some(&t["table"])).unwrap();
    let rows: [(&str, u16, bool); 7] = [
        ("10.1.0.1", 1, true),
        ("10.1.0.7", 8080, true),
        ("10.1.0.7", 8081, false),
        ("10.1.0.9", 9000, true),
        ("10.1.0.9", 9001, false),
        ("10.1.0.13", 80, false),
        ("10.9.9.9", 80, false),
    ];
    for (dst, port, want) in rows {
        assert_eq!(
            a.needs_http(dst.parse().unwrap(), port),
            want,
            "{dst}:{port}"
        );
    }
}

#[test]
fn authz_http_value_patterns_paths_and_hosts() {
    let values: [(&str, &str, bool); 12] = [
        ("*", "", true),
        ("/api/*", "/api/", true),
        ("/api/*", "/api", false),
        ("*.css", "/a/b.css", true),
        ("*.css", "/a/b.cssx", false),
        ("/x", "/x", true),
        ("/x", "/X", false),
        ("es-*", "es-", true),
        ("*iPhone", "iPhone", true),
        ("*iPhone", "iPhone OS", false),
        ("/x", "/x/", false),
        ("*", "anything", true),
    ];
    for (p, v, want) in values {
        assert_eq!(value_matches(p, v), want, "{p} ~ {v:?}");
    }
    for (p, want) in [
        ("*", true),
        ("a*", true),
        ("*a", true),
        ("a", true),
        ("**", false),
        ("*a*", false),
        ("a*b", false),
        ("", false),
    ] {
        assert_eq!(valid_pattern(p), want, "{p:?}");
    }
    // the same rows as test/unit/authz/http.test.ts
    let paths: [(&str, &str); 25] = [
        ("/", "/"),
        ("/a/b", "/a/b"),
        ("/a/./b", "/a/b"),
        ("/a/b/../c", "/a/c"),
        ("/a/b/..", "/a/"),
        ("/a/b/.", "/a/b/"),
        ("/..", "/"),
        ("/../../x", "/x"),
        ("/a//../b", "/a/b"),
        ("/a//b", "/a//b"),
        ("/%61dmin", "/admin"),
        ("/%7e%2D%5F", "/~-_"),
        ("/a%2fb", "/a%2Fb"),
        ("/a%2Fb", "/a%2Fb"),
        ("/%2e%2e/x", "/x"),
        ("/%2E/x", "/x"),
        ("/a%zz", "/a%25zz"),
        ("/a%4", "/a%254"),
        ("/%", "/%25"),
        ("/%%33", "/%253"),
        ("/%%2e%2e/x", "/%25../x"),
        ("/caf%C3%A9", "/caf%C3%A9"),
        ("/a/..%2f", "/a/..%2F"),
        ("*", "*"),
        ("", ""),
    ];
    for (inp, want) in paths {
        assert_eq!(normalize_path(inp), want, "{inp}");
        assert_eq!(normalize_path(want), want, "idempotent on {inp}");
    }
    for (a, want) in [
        ("Web.Shop:8080", "web.shop"),
        ("web", "web"),
        ("[::1]:80", "[::1]"),
        ("[::1]", "[::1]"),
        ("10.0.0.1:80", "10.0.0.1"),
        ("", ""),
    ] {
        assert_eq!(host_of(a), want, "{a}");
    }
}

#[test]
fn authz_deny_response_http_403_and_grpc_permission_denied() {
    let h = deny_response("MESH_ERR_AUTHZ_DENIED", false);
    assert_eq!(h.status, 403);
    assert_eq!(
        h.headers,
        vec![
            ("content-type", "text/plain; charset=utf-8".to_string()),
            ("x-nodemesh-error", "MESH_ERR_AUTHZ_DENIED".to_string())
        ]
    );
    assert!(
        h.body.starts_with("MESH_ERR_AUTHZ_DENIED: ") && h.body.ends_with("AuthorizationPolicy\n")
    );
    let g = deny_response("MESH_ERR_AUTHZ_DENIED", true);
    assert_eq!(g.status, 200);
    assert_eq!(
        g.headers[0],
        ("content-type", "application/grpc".to_string())
    );
    assert_eq!(g.headers[1], ("grpc-status", "7".to_string()));
    assert!(g.headers[2].1.starts_with("MESH_ERR_AUTHZ_DENIED: "));
    assert_eq!(g.body, "");
    let m = deny_response("MESH_ERR_MTLS_REQUIRED", false);
    assert!(m.body.starts_with("MESH_ERR_MTLS_REQUIRED: ") && m.body.contains("mutual TLS"));
    assert_eq!(deny_response("", false), h);
    assert_eq!(grpc_message("a b%c\n\u{e9}"), "a b%25c%0A%C3%A9");
    let headers: BTreeMap<String, String> = [(
        "content-type".to_string(),
        "application/grpc+proto".to_string(),
    )]
    .into();
    assert!(AuthzRequest::new("POST", "x", "/s/m", &headers).is_grpc());
    assert!(!AuthzRequest::new("POST", "x", "/s/m", &BTreeMap::new()).is_grpc());
}

#[test]
fn authz_http_counters_by_policy_with_a_series_cap() {
    let c = HttpAuthzCounters::default();
    let (a, b, none): (Arc<str>, Arc<str>, Arc<str>) =
        (Arc::from("ns/a"), Arc::from("ns/b"), Arc::from(""));
    c.record(true, &a);
    c.record(true, &a);
    c.record(false, &a);
    c.record(false, &b);
    c.record(false, &none);
    assert_eq!(
        c.snapshot(),
        serde_json::json!([{ "policy": "ns/a", "allow": 2, "deny": 1 }, { "policy": "ns/b", "allow": 0, "deny": 1 }])
    );
    for k in 0..MAX_POLICIES + 5 {
        c.record(false, &Arc::from(format!("p/{k}")));
    }
    let snap = c.snapshot();
    let rows = snap.as_array().unwrap();
    assert_eq!(rows.len(), MAX_POLICIES + 1);
    let other = rows.iter().find(|r| r["policy"] == OTHER_POLICY).unwrap();
    assert_eq!(other["deny"], 7);
    // a policy known before the cap keeps counting under its name
    c.record(true, &a);
    assert_eq!(
        c.snapshot()
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["policy"] == "ns/a")
            .unwrap()["allow"],
        3
    );
}

#[test]
fn authz_deny_log_line_is_one_json_line_without_header_values() {
    let headers: BTreeMap<String, String> =
        [("authorization".to_string(), "Bearer secret".to_string())].into();
    let r = AuthzRequest::new("GET", "Web:80", "/a/../admin", &headers);
    let line = crate::l7::authz_http::deny_log_line(
        "ns/p",
        "MESH_ERR_AUTHZ_DENIED",
        "10.0.0.2",
        Some("spiffe://td/ns/a/sa/b"),
        "10.0.0.1:80",
        &r,
    );
    assert!(!line.contains('\n') && !line.contains("secret"), "{line}");
    let v: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["policy"], "ns/p");
    assert_eq!(v["path"], "/admin");
    assert_eq!(v["host"], "web");
    assert_eq!(v["identity"], "spiffe://td/ns/a/sa/b");
}

#[test]
fn authz_authorize_http_counts_and_answers_a_denial() {
    let all = cases();
    let t = all["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "http")
        .unwrap();
    let a = Authz::parse(Some(&t["table"])).unwrap();
    let counters = HttpAuthzCounters::default();
    let input = |dst: [u8; 4]| AuthzInput {
        dst_ip: Ipv4Addr::from(dst),
        dst_port: 50051,
        src_ip: Ipv4Addr::new(10, 2, 0, 1),
        identity: Some("spiffe://cluster.local/ns/shop/sa/web"),
        transport: Transport::Mtls,
    };
    let grpc: BTreeMap<String, String> =
        [("content-type".to_string(), "application/grpc".to_string())].into();
    let ok = AuthzRequest::new("POST", "web", "/grpc.health.v1.Health/Check", &grpc);
    let bad = AuthzRequest::new("POST", "web", "/other.Svc/M", &grpc);
    let plain = BTreeMap::new();
    let bad_http = AuthzRequest::new("POST", "web", "/other.Svc/M", &plain);
    let d = a.authorize_http(&input([10, 1, 0, 10]), &ok, &counters);
    assert!(d.verdict.allow && d.denied.is_none());
    let d = a.authorize_http(&input([10, 1, 0, 10]), &bad, &counters);
    let (resp, log) = d.denied.expect("denied");
    assert_eq!((resp.status, resp.headers[1].1.as_str()), (200, "7"));
    assert!(
        log.contains("\"policy\":\"h/allow-grpc\"") && log.contains("\"dst\":\"10.1.0.10:50051\""),
        "{log}"
    );
    let d = a.authorize_http(&input([10, 1, 0, 10]), &bad_http, &counters);
    assert_eq!(d.denied.expect("denied").0.status, 403);
    // no authorization for this destination: allowed and not counted
    assert!(a
        .authorize_http(&input([10, 9, 9, 9]), &bad, &counters)
        .denied
        .is_none());
    assert_eq!(
        counters.snapshot(),
        serde_json::json!([{ "policy": "h/allow-grpc", "allow": 1, "deny": 2 }])
    );
}
