//! Golden metrics of the HTTP proxy, Linkerd's names: `request_total`, `response_total` (by
//! status_code, classification, grpc_status) and latency (ms here, exported as `response_latency_seconds`), bucketed here
//! in atomics; JavaScript reads a snapshot at scrape time (agent/src/telemetry/golden.ts) and runs
//! nothing per request. Series are interned: a request looks its series up once, then records.
//!
//! API: `GoldenMetrics::new()` / `with_limits(max_series, retain_idle)`; `series(&LabelsOwned)`
//! or `series_ref(Labels<'_>)` → `Arc<Series>`; `Series::request()`, `Series::response(status,
//! grpc_status, latency)`; `snapshot() -> serde_json::Value` (shape at [`GoldenMetrics::snapshot`]).
//! Classification as Linkerd: HTTP status ≥ 500 is a failure, and so is a gRPC status other than
//! OK (from the trailers, or the headers of a trailers-only response); everything else a success.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

#[path = "metrics_series.rs"]
mod series;
pub use series::{is_failure, Direction, Labels, LabelsOwned, Series, BUCKETS_MS};
#[cfg(test)]
use series::{response_key, unkey, BOUNDS_US};

/// Default cap on series: beyond it new label sets are counted in one "overflow" series.
pub const DEFAULT_MAX_SERIES: usize = 10_000;
/// An unused series is dropped after this long (Linkerd's proxy retains idle metrics 10 min).
pub const DEFAULT_RETAIN_IDLE: Duration = Duration::from_secs(600);

const SHARDS: usize = 16;

type SortKey<'a> = (
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    bool,
);

fn sort_key(l: &LabelsOwned) -> SortKey<'_> {
    (
        l.direction.as_str(),
        &l.src_namespace,
        &l.src_workload,
        &l.dst_namespace,
        &l.dst_workload,
        &l.route_name,
        &l.route_kind,
        &l.backend,
        l.tls,
    )
}

/// The registry of series of one node proxy.
pub struct GoldenMetrics {
    epoch: Instant,
    max_series: usize,
    retain_idle: Duration,
    shards: [RwLock<HashMap<u64, Vec<Arc<Series>>>>; SHARDS],
    count: AtomicUsize,
    overflow: Arc<Series>,
    /// lookups of a new label set refused by the cap (their data went to `overflow`)
    overflowed: AtomicU64,
}

impl Default for GoldenMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl GoldenMetrics {
    pub fn new() -> Self {
        Self::with_limits(DEFAULT_MAX_SERIES, DEFAULT_RETAIN_IDLE)
    }

    pub fn with_limits(max_series: usize, retain_idle: Duration) -> Self {
        let none = Labels {
            direction: Direction::Outbound,
            src_namespace: "",
            src_workload: "",
            dst_namespace: "",
            dst_workload: "",
            route_name: "",
            route_kind: "",
            backend: "",
            tls: false,
        };
        Self {
            epoch: Instant::now(),
            max_series,
            retain_idle,
            shards: std::array::from_fn(|_| RwLock::new(HashMap::new())),
            count: AtomicUsize::new(0),
            overflow: Arc::new(Series::new(none.to_owned(), true, 0)),
            overflowed: AtomicU64::new(0),
        }
    }

    fn now_ms(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.epoch).as_millis() as u64
    }

    /// The series of `labels` (created on first use).
    pub fn series(&self, labels: &LabelsOwned) -> Arc<Series> {
        self.series_at(labels.as_labels(), Instant::now())
    }

    /// The same from borrowed labels: no allocation once the series exists.
    pub fn series_ref(&self, labels: Labels<'_>) -> Arc<Series> {
        self.series_at(labels, Instant::now())
    }

    pub fn series_at(&self, labels: Labels<'_>, now: Instant) -> Arc<Series> {
        let key = labels.key();
        let shard = &self.shards[key as usize % SHARDS];
        let now_ms = self.now_ms(now);
        let found = |m: &HashMap<u64, Vec<Arc<Series>>>| {
            m.get(&key)?
                .iter()
                .find(|s| s.labels.as_labels() == labels)
                .map(|s| {
                    s.used_ms.store(now_ms, Ordering::Relaxed);
                    s.clone()
                })
        };
        if let Some(s) = found(&shard.read().unwrap_or_else(|e| e.into_inner())) {
            return s;
        }
        let mut w = shard.write().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = found(&w) {
            return s;
        }
        if self.count.fetch_add(1, Ordering::AcqRel) >= self.max_series {
            self.count.fetch_sub(1, Ordering::AcqRel);
            self.overflowed.fetch_add(1, Ordering::Relaxed);
            return self.overflow.clone();
        }
        let s = Arc::new(Series::new(labels.to_owned(), false, now_ms));
        w.entry(key).or_default().push(s.clone());
        s
    }

    /// Drop series nobody holds that were last looked up more than `retain_idle` ago.
    fn sweep(&self, now: Instant) {
        let now_ms = self.now_ms(now);
        let idle_ms = self.retain_idle.as_millis() as u64;
        for shard in &self.shards {
            let mut w = shard.write().unwrap_or_else(|e| e.into_inner());
            w.retain(|_, v| {
                let before = v.len();
                v.retain(|s| {
                    Arc::strong_count(s) > 1
                        || now_ms.saturating_sub(s.used_ms.load(Ordering::Relaxed)) <= idle_ms
                });
                self.count.fetch_sub(before - v.len(), Ordering::AcqRel);
                !v.is_empty()
            });
        }
    }

    /// Series currently held (not counting the overflow series).
    pub fn len(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The snapshot JavaScript reads at scrape time (idle series are dropped first):
    /// `{ "bucketsMs": [0.1, …, 50000], "maxSeries": n, "seriesOverflow": refused lookups,
    ///    "series": [{ "labels": { direction, src_namespace, src_workload, dst_namespace,
    ///                 dst_workload, route_name, route_kind, backend, tls: "true"|"false" },
    ///                 "requests": n,
    ///                 "responses": [{ status_code: "200", classification: "success"|"failure",
    ///                                 grpc_status: "" | "0".."16", count: n }],
    ///                 "latency": { count: n, sumMs: x, counts: [per bucket, NOT cumulative,
    ///                              bucketsMs.length + 1 entries: the last is above 50000 ms] } }] }`
    /// Series are sorted by labels; the overflow series (every label "overflow") comes last, only
    /// once something was counted in it. All label values are strings.
    pub fn snapshot(&self) -> Value {
        self.snapshot_at(Instant::now())
    }

    pub fn snapshot_at(&self, now: Instant) -> Value {
        self.sweep(now);
        let mut all: Vec<Arc<Series>> = Vec::with_capacity(self.len());
        for shard in &self.shards {
            all.extend(
                shard
                    .read()
                    .unwrap_or_else(|e| e.into_inner())
                    .values()
                    .flatten()
                    .cloned(),
            );
        }
        all.sort_by(|a, b| sort_key(&a.labels).cmp(&sort_key(&b.labels)));
        let mut series: Vec<Value> = all.iter().map(|s| s.snapshot()).collect();
        if self.overflowed.load(Ordering::Relaxed) > 0 {
            series.push(self.overflow.snapshot());
        }
        json!({
            "bucketsMs": BUCKETS_MS,
            "maxSeries": self.max_series,
            "seriesOverflow": self.overflowed.load(Ordering::Relaxed),
            "series": series,
        })
    }

    /// The snapshot as a JSON string (for a napi method returning a string).
    pub fn snapshot_json(&self) -> String {
        self.snapshot().to_string()
    }
}

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;
