//! The JavaScript surface of L7 matching: `routeEvaluate` runs native route() on a table and a
//! request head given as JSON and returns the RouteResult JSON of agent/src/routing/table.ts, so
//! test/unit/routing/native-agree.test.ts can require that native and TypeScript agree per row;
//! `otlpEncodeTest` runs the proxy's OTLP span encoder so test/unit/tracing can decode it.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};

use napi::bindgen_prelude::Buffer;
use napi_derive::napi;
use serde_json::{json, Map, Value};

use super::matching::{modify, request_modifiers, route, Outcome, RequestHead, NO_ROUTE};
use super::table::HttpTable;
use super::trace::Span;
use super::trace_otlp;
use crate::errors::{err, guard, Code, Result};

/// Parses a `RequestHead` JSON object (docs/l7.md).
pub fn parse_head(json: &str) -> std::result::Result<RequestHead, String> {
    let v: Value = serde_json::from_str(json).map_err(|e| format!("head: invalid JSON ({e})"))?;
    let o = v.as_object().ok_or("head: not an object")?;
    let s = |k: &str| -> std::result::Result<String, String> {
        o.get(k)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| format!("head.{k}: missing or not a string"))
    };
    let mut headers = BTreeMap::new();
    if let Some(h) = o.get("headers") {
        for (k, v) in h.as_object().ok_or("head.headers: not an object")? {
            let v = v
                .as_str()
                .ok_or_else(|| format!("head.headers.{k}: not a string"))?;
            headers.insert(k.clone(), v.to_string());
        }
    }
    Ok(RequestHead {
        method: s("method")?,
        authority: s("authority")?,
        path: s("path")?,
        query: s("query")?,
        headers,
    })
}

/// The RouteResult JSON for a request on the port `dst` of an HTTP table (`respond` 404 when the
/// table has no such port).
pub fn evaluate(
    t: &HttpTable,
    dst: SocketAddrV4,
    head: &RequestHead,
    u: f64,
    client_ns: Option<&str>,
) -> Value {
    let Some(port) = t.port(dst) else {
        return json!({"kind": "respond", "status": 404, "code": NO_ROUTE, "entry": -1});
    };
    match route(port, head, u, client_ns) {
        Outcome::Respond {
            status,
            code,
            location,
            entry,
        } => {
            let mut r = json!({"kind": "respond", "status": status, "code": code, "entry": entry});
            if let Some(l) = location {
                r["location"] = Value::String(l);
            }
            r
        }
        Outcome::Forward {
            entry,
            route: e,
            backend,
            target,
            authority,
            path,
        } => {
            let mut headers = head.headers.clone();
            for m in request_modifiers(e, target) {
                modify(m, &mut headers);
            }
            let headers: Vec<Value> = headers.into_iter().map(|(k, v)| json!([k, v])).collect();
            json!({
                "kind": "forward", "entry": entry, "route": e.route.as_ref(), "routeKind": e.kind.as_str(),
                "rule": e.rule, "backend": backend, "authority": authority, "path": path, "headers": headers,
            })
        }
    }
}

/// Native route(): `tableJson` is a `TableHttp` (or a whole DecisionTable, whose `http` is used),
/// `headJson` a `RequestHead`, `u` in [0,1) the backend draw, `clientNamespace` the client pod's
/// namespace (consumer routes). Returns the RouteResult JSON.
#[napi]
pub fn route_evaluate(
    table_json: String,
    dst_ip: String,
    dst_port: u32,
    head_json: String,
    u: f64,
    client_namespace: Option<String>,
) -> Result<String> {
    guard("routeEvaluate", || {
        let v: Value = serde_json::from_str(&table_json).map_err(|e| {
            err(
                Code::InvalidArg,
                format!("tableJson: invalid JSON ({e}); pass JSON.stringify(table)"),
            )
        })?;
        let http = v
            .get("http")
            .filter(|_| v.get("ports").is_none())
            .unwrap_or(&v);
        let t = HttpTable::parse(http)
            .map_err(|m| err(Code::InvalidArg, format!("HTTP table rejected: {m}")))?;
        let ip: Ipv4Addr = dst_ip.parse().map_err(|_| {
            err(
                Code::InvalidArg,
                format!("dstIp: \"{dst_ip}\" is not an IPv4 address"),
            )
        })?;
        let port = u16::try_from(dst_port).map_err(|_| {
            err(
                Code::InvalidArg,
                format!("dstPort: {dst_port} is not in 0..65535"),
            )
        })?;
        if !(0.0..1.0).contains(&u) {
            return Err(err(Code::InvalidArg, format!("u: {u} is not in [0, 1)")));
        }
        let head = parse_head(&head_json)
            .map_err(|m| err(Code::InvalidArg, format!("headJson rejected: {m}")))?;
        Ok(evaluate(
            &t,
            SocketAddrV4::new(ip, port),
            &head,
            u,
            client_namespace.as_deref(),
        )
        .to_string())
    })
}

/// The OTLP resource attributes the agent passes, as JSON.
pub fn resource_of(json: &str) -> Result<Map<String, Value>> {
    match serde_json::from_str::<Value>(json) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(err(
            Code::InvalidArg,
            "takeSpans: the resource must be a JSON object of attributes",
        )),
    }
}

/// Test hook: spans in the JSON record shape encoded as the proxy encodes its own, so the
/// TypeScript decoder can check the native encoder (test/unit/tracing).
#[napi]
pub fn otlp_encode_test(spans_json: String, resource_json: String) -> Result<Buffer> {
    guard("otlpEncodeTest", || {
        let resource = resource_of(&resource_json)?;
        let v: Value = serde_json::from_str(&spans_json)
            .map_err(|e| err(Code::InvalidArg, format!("otlpEncodeTest: {e}")))?;
        let spans = v
            .as_array()
            .map(|a| a.iter().map(Span::from_json).collect::<Option<Vec<_>>>())
            .unwrap_or(None)
            .ok_or_else(|| {
                err(
                    Code::InvalidArg,
                    "otlpEncodeTest: not an array of span records",
                )
            })?;
        Ok(trace_otlp::encode(&resource, "nodemesh", &spans).into())
    })
}
