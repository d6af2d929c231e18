//! Per-route counters of what happens besides the golden metrics: retries sent and retries the
//! budget refused (Linkerd's outbound_http_route_retry_*), RequestMirror copies sent, failed and
//! skipped. Counted when they happen (a short lock to find the route's cell, then an atomic add),
//! read as one JSON snapshot at scrape time.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

/// What is counted per route.
#[derive(Clone, Copy, Debug)]
pub enum Stat {
    Retry = 0,
    RetryBudgetExhausted = 1,
    MirrorSent = 2,
    MirrorFailed = 3,
    MirrorSkipped = 4,
}

const NAMES: [&str; 5] = [
    "retries",
    "retryBudgetExhausted",
    "mirrorSent",
    "mirrorFailed",
    "mirrorSkipped",
];

/// Routes counted at most; beyond it new routes are not counted (bounds the series).
const MAX_ROUTES: usize = 1024;

#[derive(Default)]
pub struct RouteStats {
    by_route: Mutex<HashMap<Arc<str>, Arc<[AtomicU64; 5]>>>,
}

impl RouteStats {
    pub fn count(&self, route: &Arc<str>, what: Stat) {
        let cell = {
            let mut m = self.by_route.lock().unwrap_or_else(|p| p.into_inner());
            if m.len() >= MAX_ROUTES && !m.contains_key(route) {
                return;
            }
            m.entry(route.clone()).or_default().clone()
        };
        cell[what as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// `[{ route, retries, retryBudgetExhausted, mirrorSent, mirrorFailed, mirrorSkipped }]`, by route.
    pub fn snapshot(&self) -> Value {
        let m = self.by_route.lock().unwrap_or_else(|p| p.into_inner());
        let mut keys: Vec<&Arc<str>> = m.keys().collect();
        keys.sort();
        Value::Array(
            keys.into_iter()
                .map(|k| {
                    let c = &m[k];
                    let mut row = json!({ "route": &**k });
                    for (i, n) in NAMES.iter().enumerate() {
                        row[*n] = json!(c[i].load(Ordering::Relaxed));
                    }
                    row
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_route_and_snapshots_sorted() {
        let s = RouteStats::default();
        let (a, b): (Arc<str>, Arc<str>) = (Arc::from("ns/b"), Arc::from("ns/a"));
        s.count(&a, Stat::Retry);
        s.count(&a, Stat::Retry);
        s.count(&b, Stat::MirrorSkipped);
        s.count(&a, Stat::RetryBudgetExhausted);
        let v = s.snapshot();
        assert_eq!(v[0]["route"], "ns/a");
        assert_eq!(v[0]["mirrorSkipped"], 1);
        assert_eq!(v[1]["retries"], 2);
        assert_eq!(v[1]["retryBudgetExhausted"], 1);
        assert_eq!(v[1]["mirrorSent"], 0);
    }
}
