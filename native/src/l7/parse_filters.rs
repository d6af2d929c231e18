//! Parsing of route and backend filters (request/response header modifiers, redirect, URL
//! rewrite, mirror) of the HTTP table, with field paths; header names must already be lowercase
//! and values valid, as agent/src/routing/compile.ts emits them.

use std::sync::Arc;

use serde_json::Value;

use super::json::{arr, at, get, int, num, obj, opt, port, string};
use super::parse::backend;
use super::table::{Filter, HeaderModifier, PathModifier};

fn modifier(v: &Value, p: &str) -> Result<HeaderModifier, String> {
    let o = obj(v, p)?;
    let pairs = |k: &str| -> Result<Vec<(String, String)>, String> {
        let kp = at(p, k);
        let mut out = Vec::new();
        for (i, e) in arr(get(o, p, k)?, &kp)?.iter().enumerate() {
            let ep = format!("{kp}[{i}]");
            let eo = obj(e, &ep)?;
            let n = header_name(get(eo, &ep, "name")?, &at(&ep, "name"))?;
            let val = string(get(eo, &ep, "value")?, &at(&ep, "value"))?;
            if http::HeaderValue::from_str(val).is_err() {
                return Err(format!("{ep}.value: \"{val}\" is not a valid header value"));
            }
            out.push((n, val.to_string()));
        }
        Ok(out)
    };
    let mut remove = Vec::new();
    for (i, n) in arr(get(o, p, "remove")?, &at(p, "remove"))?
        .iter()
        .enumerate()
    {
        remove.push(header_name(n, &format!("{p}.remove[{i}]"))?);
    }
    Ok(HeaderModifier {
        set: pairs("set")?,
        add: pairs("add")?,
        remove,
    })
}

fn header_name(v: &Value, p: &str) -> Result<String, String> {
    let s = string(v, p)?;
    match http::HeaderName::from_bytes(s.as_bytes()) {
        Ok(h) if h.as_str() == s => Ok(s.to_string()),
        _ => Err(format!("{p}: \"{s}\" is not a lowercase header name")),
    }
}

fn path_modifier(v: &Value, p: &str) -> Result<PathModifier, String> {
    let o = obj(v, p)?;
    let value = string(get(o, p, "value")?, &at(p, "value"))?.to_string();
    match string(get(o, p, "kind")?, &at(p, "kind"))? {
        "full" => Ok(PathModifier::Full(value)),
        "prefix" => Ok(PathModifier::Prefix(value)),
        other => Err(format!("{p}.kind: \"{other}\" is not full or prefix")),
    }
}

pub(super) fn filters(v: &Value, p: &str, backend_level: bool) -> Result<Vec<Filter>, String> {
    let mut out = Vec::new();
    for (i, f) in arr(v, p)?.iter().enumerate() {
        let fp = format!("{p}[{i}]");
        let o = obj(f, &fp)?;
        let ty = string(get(o, &fp, "type")?, &at(&fp, "type"))?;
        let f = match ty {
            "requestHeaders" => {
                Filter::RequestHeaders(modifier(get(o, &fp, "modifier")?, &at(&fp, "modifier"))?)
            }
            "responseHeaders" => {
                Filter::ResponseHeaders(modifier(get(o, &fp, "modifier")?, &at(&fp, "modifier"))?)
            }
            _ if backend_level => {
                return Err(format!(
                "{fp}.type: \"{ty}\" is not requestHeaders or responseHeaders (backend filters)"
            ))
            }
            "redirect" => Filter::Redirect {
                scheme: opt(o, "scheme")
                    .map(|s| string(s, &at(&fp, "scheme")).map(str::to_string))
                    .transpose()?,
                hostname: opt(o, "hostname")
                    .map(|s| string(s, &at(&fp, "hostname")).map(str::to_string))
                    .transpose()?,
                port: opt(o, "port")
                    .map(|s| port(s, &at(&fp, "port")))
                    .transpose()?,
                path: opt(o, "path")
                    .map(|s| path_modifier(s, &at(&fp, "path")))
                    .transpose()?,
                status: match int(get(o, &fp, "status")?, &at(&fp, "status"), 0, 999)? {
                    s @ (301 | 302 | 303 | 307 | 308) => s as u16,
                    s => return Err(format!("{fp}.status: {s} is not 301, 302, 303, 307 or 308")),
                },
            },
            "rewrite" => Filter::Rewrite {
                hostname: opt(o, "hostname")
                    .map(|s| string(s, &at(&fp, "hostname")).map(str::to_string))
                    .transpose()?,
                path: opt(o, "path")
                    .map(|s| path_modifier(s, &at(&fp, "path")))
                    .transpose()?,
            },
            "mirror" => Filter::Mirror {
                backend: Arc::new(backend(get(o, &fp, "backend")?, &at(&fp, "backend"))?),
                percent: num(get(o, &fp, "percent")?, &at(&fp, "percent"), 0.0, 100.0)?,
            },
            other => return Err(format!("{fp}.type: \"{other}\" is not a known filter type")),
        };
        out.push(f);
    }
    Ok(out)
}
