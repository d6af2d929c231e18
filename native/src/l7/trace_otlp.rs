//! OTLP protobuf encoding of the proxy's spans, natively: an `ExportTraceServiceRequest`
//! (proto/opentelemetry/otlp-trace.proto) written field by field, so the agent only POSTs bytes
//! and no JavaScript runs per span. The TypeScript decoder reads it back in test/unit/tracing.

use serde_json::{Map, Value};

use super::trace::{Kind, Span};

const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;

fn tag(out: &mut Vec<u8>, field: u32, wire: u8) {
    varint(out, u64::from(field << 3 | u32::from(wire)));
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn bytes(out: &mut Vec<u8>, field: u32, b: &[u8]) {
    tag(out, field, LEN);
    varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn fixed64(out: &mut Vec<u8>, field: u32, v: u64) {
    tag(out, field, FIXED64);
    out.extend_from_slice(&v.to_le_bytes());
}

/// A nested message: written into a scratch buffer, then length-prefixed.
fn message(out: &mut Vec<u8>, field: u32, f: impl FnOnce(&mut Vec<u8>)) {
    let mut m = Vec::new();
    f(&mut m);
    bytes(out, field, &m);
}

/// `KeyValue { key = 1; AnyValue value = 2 }`; AnyValue: string 1, bool 2, int64 3, double 4.
fn key_value(out: &mut Vec<u8>, field: u32, k: &str, v: &Value) {
    message(out, field, |kv| {
        bytes(kv, 1, k.as_bytes());
        message(kv, 2, |a| match v {
            Value::String(s) => bytes(a, 1, s.as_bytes()),
            Value::Bool(b) => {
                tag(a, 2, VARINT);
                varint(a, u64::from(*b));
            }
            Value::Number(n) => match n.as_i64() {
                Some(i) => {
                    tag(a, 3, VARINT);
                    varint(a, i as u64); // int64: two's complement, as protobuf writes it
                }
                None => fixed64(a, 4, n.as_f64().unwrap_or(0.0).to_bits()),
            },
            other => bytes(a, 1, other.to_string().as_bytes()),
        });
    });
}

fn span(out: &mut Vec<u8>, s: &Span) {
    message(out, 2, |m| {
        bytes(m, 1, &s.trace_id);
        bytes(m, 2, &s.span_id);
        if let Some(p) = &s.parent {
            bytes(m, 4, p);
        }
        bytes(m, 5, s.name.as_bytes());
        tag(m, 6, VARINT);
        varint(m, if s.kind == Kind::Client { 3 } else { 2 });
        fixed64(m, 7, s.start_ns);
        fixed64(m, 8, s.end_ns);
        for (k, v) in &s.attrs {
            key_value(m, 9, k, v);
        }
        // Status { code = 3 }: 2 ERROR, else UNSET (an empty message)
        message(m, 15, |st| {
            if s.error {
                tag(st, 3, VARINT);
                varint(st, 2);
            }
        });
    });
}

/// One `ExportTraceServiceRequest` holding `spans` under one resource and scope.
pub fn encode(resource: &Map<String, Value>, scope: &str, spans: &[Span]) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + spans.len() * 512);
    message(&mut out, 1, |rs| {
        message(rs, 1, |r| {
            for (k, v) in resource {
                key_value(r, 1, k, v);
            }
        });
        message(rs, 2, |ss| {
            message(ss, 1, |sc| bytes(sc, 1, scope.as_bytes()));
            for s in spans {
                span(ss, s);
            }
        });
    });
    out
}
