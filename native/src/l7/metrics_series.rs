//! One golden-metrics series (metrics.rs): its labels (borrowed and owned forms, hashed alike),
//! the response counters keyed by (status, gRPC status) in lock-free slots, the latency histogram
//! in atomics, and its part of the snapshot. Linkerd's classification lives here too.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{json, Value};

/// Upper bounds of the latency buckets in ms: 0.1, 0.25, 0.5, then Linkerd's (the agent exports them in
/// seconds, as `response_latency_seconds`).
pub const BUCKETS_MS: [f64; 28] = [
    0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 10.0, 20.0, 30.0, 40.0, 50.0, 100.0, 200.0, 300.0,
    400.0, 500.0, 1000.0, 2000.0, 3000.0, 4000.0, 5000.0, 10000.0, 20000.0, 30000.0, 40000.0,
    50000.0,
];
pub(super) const BOUNDS_US: [u64; 28] = [
    100, 250, 500, 1_000, 2_000, 3_000, 4_000, 5_000, 10_000, 20_000, 30_000, 40_000, 50_000,
    100_000, 200_000, 300_000, 400_000, 500_000, 1_000_000, 2_000_000, 3_000_000, 4_000_000,
    5_000_000, 10_000_000, 20_000_000, 30_000_000, 40_000_000, 50_000_000,
];

/// Distinct (status, grpc_status) pairs a series counts lock-free; more go to a small locked map.
const RESPONSE_SLOTS: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    Inbound,
    Outbound,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }
}

/// The labels of one series, borrowed (what the proxy has at hand per request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Labels<'a> {
    pub direction: Direction,
    pub src_namespace: &'a str,
    pub src_workload: &'a str,
    pub dst_namespace: &'a str,
    pub dst_workload: &'a str,
    /// "namespace/name" of the route, '' for the default route
    pub route_name: &'a str,
    /// HTTPRoute, GRPCRoute or default
    pub route_kind: &'a str,
    /// "namespace/name" of the backend Service
    pub backend: &'a str,
    /// the request crossed the node link in mTLS (HBONE)
    pub tls: bool,
}

/// The same labels, owned (kept by each series).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelsOwned {
    pub direction: Direction,
    pub src_namespace: String,
    pub src_workload: String,
    pub dst_namespace: String,
    pub dst_workload: String,
    pub route_name: String,
    pub route_kind: String,
    pub backend: String,
    pub tls: bool,
}

impl Labels<'_> {
    pub(super) fn key(&self) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (self.direction, self.tls).hash(&mut h);
        for s in [
            self.src_namespace,
            self.src_workload,
            self.dst_namespace,
            self.dst_workload,
            self.route_name,
            self.route_kind,
            self.backend,
        ] {
            s.hash(&mut h); // str hashing ends with a separator byte: ("a","bc") ≠ ("ab","c")
        }
        h.finish()
    }

    pub fn to_owned(&self) -> LabelsOwned {
        LabelsOwned {
            direction: self.direction,
            src_namespace: self.src_namespace.into(),
            src_workload: self.src_workload.into(),
            dst_namespace: self.dst_namespace.into(),
            dst_workload: self.dst_workload.into(),
            route_name: self.route_name.into(),
            route_kind: self.route_kind.into(),
            backend: self.backend.into(),
            tls: self.tls,
        }
    }
}

impl LabelsOwned {
    pub fn as_labels(&self) -> Labels<'_> {
        Labels {
            direction: self.direction,
            src_namespace: &self.src_namespace,
            src_workload: &self.src_workload,
            dst_namespace: &self.dst_namespace,
            dst_workload: &self.dst_workload,
            route_name: &self.route_name,
            route_kind: &self.route_kind,
            backend: &self.backend,
            tls: self.tls,
        }
    }
}

/// Linkerd's classification of one response.
pub fn is_failure(status: u16, grpc_status: Option<u32>) -> bool {
    status >= 500 || grpc_status.is_some_and(|g| g != 0)
}

struct Slot {
    /// 0: free; else `response_key`
    key: AtomicU32,
    count: AtomicU64,
}

/// status in bits 8..24, grpc_status + 1 in bits 0..8 (0: none; codes above 253 count as 253), bit 31.
pub(super) fn response_key(status: u16, grpc_status: Option<u32>) -> u32 {
    let g = grpc_status.map_or(0, |g| g.min(253) + 1);
    1 << 31 | u32::from(status) << 8 | g
}

pub(super) fn unkey(k: u32) -> (u16, Option<u32>) {
    let g = k & 0xff;
    (
        ((k >> 8) & 0xffff) as u16,
        if g == 0 { None } else { Some(g - 1) },
    )
}

/// One label set's counters. Every method is a few relaxed atomic adds.
pub struct Series {
    pub(super) labels: LabelsOwned,
    overflow: bool,
    /// ms since the registry's epoch when `series()` last returned it
    pub(super) used_ms: AtomicU64,
    requests: AtomicU64,
    responses: [Slot; RESPONSE_SLOTS],
    responses_more: Mutex<HashMap<u32, u64>>,
    /// non-cumulative; the last one counts responses slower than the last bound
    buckets: [AtomicU64; BUCKETS_MS.len() + 1],
    latency_sum_ns: AtomicU64,
}

impl Series {
    pub(super) fn new(labels: LabelsOwned, overflow: bool, now_ms: u64) -> Self {
        Self {
            labels,
            overflow,
            used_ms: AtomicU64::new(now_ms),
            requests: AtomicU64::new(0),
            responses: std::array::from_fn(|_| Slot {
                key: AtomicU32::new(0),
                count: AtomicU64::new(0),
            }),
            responses_more: Mutex::new(HashMap::new()),
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            latency_sum_ns: AtomicU64::new(0),
        }
    }

    pub fn labels(&self) -> &LabelsOwned {
        &self.labels
    }

    /// A request arrived (counted once, however many attempts it takes).
    pub fn request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    /// The response the client got: its status, the gRPC status when the response is gRPC, and the
    /// time from the request's arrival to the response headers (Linkerd's response_latency_ms).
    /// A response the proxy made itself (502, 503, 504, 429) is recorded the same way.
    pub fn response(&self, status: u16, grpc_status: Option<u32>, latency: Duration) {
        self.count_response(response_key(status, grpc_status));
        let ns = latency.as_nanos().min(u128::from(u64::MAX)) as u64;
        // le: a latency equal to a bound is in that bucket; compared in ns, 0.1 ms stays exact
        let i = BOUNDS_US.partition_point(|b| b * 1000 < ns);
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.latency_sum_ns.fetch_add(ns, Ordering::Relaxed);
    }

    fn count_response(&self, key: u32) {
        for slot in &self.responses {
            let k = slot.key.load(Ordering::Acquire);
            let mine = k == key
                || (k == 0
                    && match slot
                        .key
                        .compare_exchange(0, key, Ordering::AcqRel, Ordering::Acquire)
                    {
                        Ok(_) => true,
                        Err(other) => other == key,
                    });
            if mine {
                slot.count.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
        // more than RESPONSE_SLOTS distinct pairs in one series: rare, a short lock
        *self
            .responses_more
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key)
            .or_insert(0) += 1;
    }

    pub(super) fn snapshot(&self) -> Value {
        let mut by_key: Vec<(u32, u64)> = self
            .responses
            .iter()
            .map(|s| {
                (
                    s.key.load(Ordering::Acquire),
                    s.count.load(Ordering::Relaxed),
                )
            })
            .filter(|(k, c)| *k != 0 && *c > 0)
            .collect();
        by_key.extend(
            self.responses_more
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .map(|(k, c)| (*k, *c)),
        );
        by_key.sort_unstable();
        let responses: Vec<Value> = by_key
            .into_iter()
            .map(|(k, count)| {
                let (status, grpc) = unkey(k);
                json!({
                    "status_code": status.to_string(),
                    "classification": if is_failure(status, grpc) { "failure" } else { "success" },
                    "grpc_status": grpc.map(|g| g.to_string()).unwrap_or_default(),
                    "count": count,
                })
            })
            .collect();
        let counts: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        let l = &self.labels;
        let labels = if self.overflow {
            json!({"direction": "overflow", "src_namespace": "overflow", "src_workload": "overflow", "dst_namespace": "overflow",
                   "dst_workload": "overflow", "route_name": "overflow", "route_kind": "overflow", "backend": "overflow", "tls": "overflow"})
        } else {
            json!({"direction": l.direction.as_str(), "src_namespace": l.src_namespace, "src_workload": l.src_workload,
                   "dst_namespace": l.dst_namespace, "dst_workload": l.dst_workload, "route_name": l.route_name,
                   "route_kind": l.route_kind, "backend": l.backend, "tls": if l.tls { "true" } else { "false" }})
        };
        json!({
            "labels": labels,
            "requests": self.requests.load(Ordering::Relaxed),
            "responses": responses,
            "latency": {
                "count": counts.iter().sum::<u64>(),
                "sumMs": self.latency_sum_ns.load(Ordering::Relaxed) as f64 / 1e6,
                "counts": counts,
            },
        })
    }
}
