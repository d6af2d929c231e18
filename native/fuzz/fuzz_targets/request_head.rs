//! Fuzz target: an HTTP/1 request head as hyper parses it (httparse), then what the proxy derives
//! from it for authorization (native/src/l7/authz_http.rs, included): path normalization is
//! idempotent and leaves no dot segment, hosts lose their port, and matching never panics.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../src/l7/authz_http.rs"]
mod authz_http;

use authz_http::{host_of, normalize_path, value_matches, AuthzRequest, HttpOp};

fn op(methods: &[&str], paths: &[&str], headers: &[(&str, &[&str])]) -> HttpOp {
    let list = |v: &[&str]| Some(v.iter().map(|s| Box::<str>::from(*s)).collect::<Box<[_]>>());
    HttpOp {
        methods: list(methods),
        paths: list(paths),
        headers: headers
            .iter()
            .map(|(n, v)| {
                (
                    Box::<str>::from(*n),
                    v.iter().map(|s| Box::<str>::from(*s)).collect(),
                )
            })
            .collect(),
        ..HttpOp::default()
    }
}

fuzz_target!(|data: &[u8]| {
    let mut slots = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut slots);
    let Ok(httparse::Status::Complete(_)) = req.parse(data) else {
        return;
    };
    let target = req.path.unwrap_or("");
    let path = target.split_once('?').map_or(target, |(p, _)| p);
    let n = normalize_path(path);
    assert_eq!(
        normalize_path(&n),
        n,
        "normalization is not idempotent for {path:?}"
    );
    if path.starts_with('/') {
        assert!(n.starts_with('/'));
        for seg in n.split('/') {
            assert!(seg != "." && seg != "..", "a dot segment survived in {n:?}");
        }
    }
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    let mut authority = String::new();
    for h in req.headers.iter() {
        let v = String::from_utf8_lossy(h.value).into_owned();
        let name = h.name.to_ascii_lowercase();
        if name == "host" && authority.is_empty() {
            authority = v.clone();
        }
        headers
            .entry(name)
            .and_modify(|e| {
                e.push(',');
                e.push_str(&v);
            })
            .or_insert(v);
    }
    let host = host_of(&authority);
    assert_eq!(host, host.to_ascii_lowercase());
    if !host.starts_with('[') {
        assert!(!host.contains(':'), "a port survived in {host:?}");
    }
    let method = req.method.unwrap_or("");
    let r = AuthzRequest::new(method, &authority, path, &headers);
    let ops = [
        op(&["GET"], &["/api/*"], &[]),
        op(
            &[],
            &["*.css", "/exact"],
            &[("x-user", &["ann", "b*", "*c"])],
        ),
        op(
            &["POST", "PUT"],
            &["*"],
            &[("content-type", &["application/grpc*"])],
        ),
    ];
    for o in &ops {
        let _ = o.matches(&r);
    }
    let _ = r.is_grpc();
    for p in ["*", "/a*", "*b", "exact", ""] {
        let _ = value_matches(p, &n);
    }
});
