//! RequestMirror (Gateway API): a copy of a forwarded request — its head after the request
//! filters and its body when replayable (empty, or buffered within the retry buffer) — sent to
//! the mirror backend in the background. The client never waits for it; the mirror's response
//! is drained and dropped. Outcomes are counted per route (`route_mirror_requests_total`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::BodyExt;
use serde_json::{json, Value};

use super::forward::Head;
use super::proxy::{full, ConnCtx};
use super::table::{Backend, Filter, RouteEntry};
use super::upstream::{self, Key};

/// How long a mirrored request may take before it is abandoned (it never holds the client).
const MIRROR_TIMEOUT: Duration = Duration::from_secs(10);
/// Mirrored requests in flight per node proxy; beyond it mirrors are skipped (counted).
const MAX_IN_FLIGHT: u64 = 1024;

/// Per route: mirrors sent (answered), failed (connect, reset, timeout), skipped (a streamed body
/// that cannot be copied, no endpoint, or too many in flight).
#[derive(Default)]
pub struct MirrorCounters {
    in_flight: AtomicU64,
    by_route: Mutex<HashMap<Arc<str>, Arc<[AtomicU64; 3]>>>,
}

const SENT: usize = 0;
const FAILED: usize = 1;
const SKIPPED: usize = 2;

impl MirrorCounters {
    fn count(&self, route: &Arc<str>, what: usize) {
        let cell = {
            let mut m = self.by_route.lock().unwrap_or_else(|p| p.into_inner());
            if m.len() >= 1024 && !m.contains_key(route) {
                return;
            }
            m.entry(route.clone()).or_default().clone()
        };
        cell[what].fetch_add(1, Ordering::Relaxed);
    }

    /// `[{ route, sent, failed, skipped }]` sorted by route, read at scrape time.
    pub fn snapshot(&self) -> Value {
        let m = self.by_route.lock().unwrap_or_else(|p| p.into_inner());
        let mut rows: Vec<Value> = m
            .iter()
            .map(|(r, c)| {
                json!({
                    "route": &**r,
                    "sent": c[SENT].load(Ordering::Relaxed),
                    "failed": c[FAILED].load(Ordering::Relaxed),
                    "skipped": c[SKIPPED].load(Ordering::Relaxed),
                })
            })
            .collect();
        rows.sort_by(|a, b| a["route"].as_str().cmp(&b["route"].as_str()));
        Value::Array(rows)
    }
}

/// The mirror filters of a forward (the rule's, then the backend's) with their percentages.
pub(super) fn mirrors<'a>(
    e: &'a RouteEntry,
    b: &'a Backend,
) -> impl Iterator<Item = (&'a Arc<Backend>, f64)> {
    e.filters
        .iter()
        .chain(b.filters.iter())
        .filter_map(|f| match f {
            Filter::Mirror { backend, percent } => Some((backend, *percent)),
            _ => None,
        })
}

/// Sends the mirrors of this request that their percentage selects; `body` None: the body is
/// streamed and cannot be copied, so the mirror is skipped.
pub(super) fn send(
    c: &Arc<ConnCtx>,
    e: &RouteEntry,
    b: &Backend,
    head: &Head,
    body: Option<&Bytes>,
) {
    let counters = &c.shared.l7.mirrors;
    for (m, percent) in mirrors(e, b) {
        if !(percent >= 100.0 || fastrand::f64() * 100.0 < percent) {
            continue;
        }
        let route = if e.route.is_empty() {
            b.service.clone()
        } else {
            e.route.clone()
        };
        let Some(bytes) = body else {
            counters.count(&route, SKIPPED);
            continue;
        };
        if m.invalid.is_some()
            || counters.in_flight.fetch_add(1, Ordering::Relaxed) >= MAX_IN_FLIGHT
        {
            counters
                .in_flight
                .fetch_sub(u64::from(m.invalid.is_none()), Ordering::Relaxed);
            counters.count(&route, SKIPPED);
            continue;
        }
        let Some(claim) = c
            .shared
            .l7
            .balancer
            .pick(&m.endpoints, fastrand::f64(), fastrand::f64())
        else {
            counters.in_flight.fetch_sub(1, Ordering::Relaxed);
            counters.count(&route, SKIPPED);
            continue;
        };
        let req = head.request(full(bytes.clone()));
        let c = c.clone();
        tokio::spawn(async move {
            let ep = claim.endpoint();
            let key = Key {
                client: *c.src.ip(),
                endpoint: ep,
                proto: c.proto,
            };
            let t0 = Instant::now();
            let sh = &c.shared;
            let work = async {
                let table = sh.table();
                let mut s = match sh.l7.pool.take(&key) {
                    Some(s) => s,
                    None => upstream::connect(sh, &table, c.src, key, sh.connect_timeout)
                        .await
                        .map_err(|_| ())?,
                };
                let r = s.send(req).await.map_err(|_| ())?;
                let status = r.status().as_u16();
                let _ = r.into_body().collect().await;
                sh.l7.pool.put(key, s);
                Ok::<u16, ()>(status)
            };
            let ok = matches!(tokio::time::timeout(MIRROR_TIMEOUT, work).await, Ok(Ok(_)));
            claim.finish(t0.elapsed(), ok);
            let counters = &c.shared.l7.mirrors;
            counters.count(&route, if ok { SENT } else { FAILED });
            counters.in_flight.fetch_sub(1, Ordering::Relaxed);
        });
    }
}
