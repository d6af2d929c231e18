//! Parsing of the HTTP table: a valid table round-trips into the structure, and each kind of
//! invalid field is rejected with its field path; matching (matching.rs) on the parsed table.

use serde_json::{json, Value};

use super::*;
use crate::l7::matching::{
    host_matches, pick_backend, prefix_matches, replace_prefix, route, Outcome, RequestHead,
};

fn valid() -> Value {
    json!({
        "detectTimeoutMs": 100,
        "defaultProtocol": "detect",
        "limits": {"maxHeaderBytes": 61440, "retryBufferBytes": 65536, "maxPendingPerEndpoint": 1024},
        "retryBudget": {"ratio": 0.2, "minPerSecond": 10, "ttlMs": 10000},
        "accrual": {"consecutiveFailures": 7, "minBackoffMs": 1000, "maxBackoffMs": 60000},
        "ports": [{
            "service": "shop/web", "vip": "10.96.0.10", "port": 80, "protocol": "detect",
            "routes": [
                {
                    "route": "shop/canary", "kind": "HTTPRoute", "rule": 0, "hostnames": ["*.example.com"],
                    "match": {"path": {"kind": "prefix", "value": "/api/"}, "method": "GET",
                              "headers": [{"name": "x-v", "kind": "regex", "value": "v[0-9]+"}],
                              "query": [{"name": "Q", "kind": "exact", "value": "1"}]},
                    "filters": [{"type": "requestHeaders", "modifier": {"set": [{"name": "x-a", "value": "1"}], "add": [], "remove": ["x-b"]}}],
                    "backends": [
                        {"service": "shop/web-v1", "port": 80, "weight": 90, "endpoints": [{"ip": "10.0.1.5", "port": 8080}]},
                        {"service": "shop/web-v2", "port": 80, "weight": 10, "endpoints": [{"ip": "10.0.1.6", "port": 8080}]}
                    ],
                    "requestTimeoutMs": 2000, "backendTimeoutMs": 0,
                    "retry": {"attempts": 3, "codes": [503], "backoffMs": 25}
                },
                {
                    "route": "", "kind": "default", "rule": 0, "hostnames": [],
                    "match": {"headers": [], "query": []}, "filters": [],
                    "backends": [{"service": "shop/web", "port": 80, "weight": 1, "endpoints": []}],
                    "requestTimeoutMs": 0, "backendTimeoutMs": 0
                }
            ]
        }]
    })
}

fn reject(mutate: impl FnOnce(&mut Value)) -> String {
    let mut v = valid();
    mutate(&mut v);
    HttpTable::parse(&v).expect_err("the table must be rejected")
}

#[test]
fn valid_table_parses() {
    let t = HttpTable::parse(&valid()).unwrap();
    let p = t.port("10.96.0.10:80".parse().unwrap()).unwrap();
    assert_eq!(p.routes.len(), 2);
    assert_eq!(p.routes[0].request_timeout, Some(Duration::from_secs(2)));
    assert_eq!(p.routes[0].backend_timeout, None);
    assert_eq!(p.routes[0].retry.as_ref().unwrap().attempts, 3);
    assert_eq!(
        t.protocol("10.96.0.10:81".parse().unwrap()),
        Protocol::Detect
    );
}

#[test]
fn invalid_fields_name_their_path() {
    type Case = (Box<dyn FnOnce(&mut Value)>, &'static str);
    let cases: Vec<Case> = vec![
        (Box::new(|v| v["detectTimeoutMs"] = json!(0)), "http.detectTimeoutMs: 0 is not an integer"),
        (Box::new(|v| v["defaultProtocol"] = json!("udp")), "http.defaultProtocol: \"udp\" is not"),
        (Box::new(|v| { v["limits"].as_object_mut().unwrap().remove("retryBufferBytes"); }), "http.limits.retryBufferBytes: missing"),
        (Box::new(|v| v["ports"][0]["vip"] = json!("10.96.0")), "http.ports[0].vip: \"10.96.0\" is not an IPv4"),
        (Box::new(|v| v["ports"][0]["routes"][0]["match"]["path"] = json!({"kind": "regex", "value": "("})), "http.ports[0].routes[0].match.path.value: \"(\" is not a valid regular expression"),
        (Box::new(|v| v["ports"][0]["routes"][0]["match"]["path"]["value"] = json!("api")), "http.ports[0].routes[0].match.path.value: \"api\" does not start with '/'"),
        (Box::new(|v| v["ports"][0]["routes"][0]["match"]["headers"][0]["value"] = json!("[a-")), "http.ports[0].routes[0].match.headers[0].value: \"[a-\" is not a valid regular expression"),
        (Box::new(|v| v["ports"][0]["routes"][0]["match"]["headers"][0]["name"] = json!("X-V")), "http.ports[0].routes[0].match.headers[0].name: \"X-V\" is not a lowercase name"),
        (Box::new(|v| v["ports"][0]["routes"][0]["kind"] = json!("TCPRoute")), "http.ports[0].routes[0].kind: \"TCPRoute\""),
        (Box::new(|v| v["ports"][0]["routes"][0]["backends"][1]["weight"] = json!(-1)), "http.ports[0].routes[0].backends[1].weight: -1 is not an integer"),
        (Box::new(|v| v["ports"][0]["routes"][0]["backends"][0]["endpoints"][0]["port"] = json!(0)), "http.ports[0].routes[0].backends[0].endpoints[0].port: 0"),
        (Box::new(|v| v["ports"][0]["routes"][0]["filters"][0]["modifier"]["set"][0]["name"] = json!("X A")), "http.ports[0].routes[0].filters[0].modifier.set[0].name: \"X A\" is not a lowercase header name"),
        (Box::new(|v| v["ports"][0]["routes"][0]["filters"] = json!([{"type": "redirect", "status": 200}])), "http.ports[0].routes[0].filters[0].status: 200 is not 301"),
        (Box::new(|v| v["ports"][0]["routes"][0]["backends"][0]["filters"] = json!([{"type": "redirect", "status": 302}])), "http.ports[0].routes[0].backends[0].filters[0].type: \"redirect\" is not requestHeaders or responseHeaders"),
        (Box::new(|v| v["ports"][0]["routes"][0]["retry"]["codes"] = json!([200])), "http.ports[0].routes[0].retry.codes[0]: 200 is not an integer in 400..599"),
        (Box::new(|v| v["ports"][0]["routes"][0]["hostnames"] = json!(["Foo.com"])), "http.ports[0].routes[0].hostnames[0]: \"Foo.com\""),
        (Box::new(|v| { let p = v["ports"][0].clone(); v["ports"].as_array_mut().unwrap().push(p); }), "http.ports[1]: 10.96.0.10:80 (vip:port) duplicates http.ports[0]"),
        (Box::new(|v| v["accrual"]["maxBackoffMs"] = json!(10)), "http.accrual.maxBackoffMs: must be >= minBackoffMs"),
        (Box::new(|v| v["ports"][0]["rateLimit"] = json!({"policy": "p", "requestsPerSecond": 0, "burst": 1})), "http.ports[0].rateLimit.requestsPerSecond: must be > 0"),
    ];
    for (i, (m, want)) in cases.into_iter().enumerate() {
        let got = reject(m);
        assert!(
            got.starts_with(want),
            "case {i}: got {got:?}, want a message starting {want:?}"
        );
    }
}

#[test]
fn regexes_are_anchored() {
    let mut v = valid();
    v["ports"][0]["routes"][0]["match"]["path"] = json!({"kind": "regex", "value": "/api/[a-z]+"});
    let t = HttpTable::parse(&v).unwrap();
    let p = t.port("10.96.0.10:80".parse().unwrap()).unwrap();
    let head = |path: &str| RequestHead {
        method: "GET".into(),
        authority: "a.example.com:80".into(),
        path: path.into(),
        query: "Q=1".into(),
        headers: [("x-v".to_string(), "v2".to_string())]
            .into_iter()
            .collect(),
    };
    assert!(matches!(
        route(p, &head("/api/items"), 0.0, None),
        Outcome::Forward { entry: 0, .. }
    ));
    // a substring match is not enough: falls through to the default route (no endpoints → 503)
    assert!(matches!(
        route(p, &head("/x/api/items"), 0.0, None),
        Outcome::Respond {
            status: 503,
            entry: 1,
            ..
        }
    ));
    assert!(matches!(
        route(p, &head("/api/items/1"), 0.0, None),
        Outcome::Respond {
            status: 503,
            entry: 1,
            ..
        }
    ));
}

#[test]
fn matching_helpers() {
    assert!(prefix_matches("/api/", "/api"));
    assert!(prefix_matches("/api", "/api/x"));
    assert!(!prefix_matches("/api", "/apix"));
    assert!(prefix_matches("/", "/anything"));
    assert_eq!(
        replace_prefix("/prefix/one/two", "/prefix/one", "/one"),
        "/one/two"
    );
    assert_eq!(
        replace_prefix("/strip-prefix/three", "/strip-prefix", "/"),
        "/three"
    );
    assert_eq!(replace_prefix("/strip-prefix", "/strip-prefix", "/"), "/");
    assert!(host_matches(&["*.example.com".into()], "a.b.example.com"));
    assert!(!host_matches(&["*.example.com".into()], "example.com"));
    assert!(host_matches(&[], "anything"));
    let t = HttpTable::parse(&valid()).unwrap();
    let p = t.port("10.96.0.10:80".parse().unwrap()).unwrap();
    let b = &p.routes[0].backends;
    assert_eq!(pick_backend(b, 0.0), Some(0));
    assert_eq!(pick_backend(b, 0.8999), Some(0));
    assert_eq!(pick_backend(b, 0.9), Some(1));
    assert_eq!(pick_backend(b, 0.9999), Some(1));
}
