//! RequestMirror (Gateway API): a copy of a forwarded request — its head after the request
//! filters and its body when replayable (empty, or buffered within the retry buffer) — sent to
//! the mirror backend in the background. The client never waits for it; the mirror's response
//! is drained and dropped. Outcomes are counted per route (`route_mirror_requests_total`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::BodyExt;

use super::forward::{chance, Head};
use super::proxy::{full, ConnCtx};
use super::route_stats::Stat;
use super::table::{Backend, Filter, RouteEntry};
use super::upstream::{self, Key};

/// How long a mirrored request may take before it is abandoned (it never holds the client).
const MIRROR_TIMEOUT: Duration = Duration::from_secs(10);
/// Mirrored requests in flight per node proxy; beyond it mirrors are skipped (counted).
const MAX_IN_FLIGHT: u64 = 1024;

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

/// Mirrored requests in flight now (bounded by [`MAX_IN_FLIGHT`]).
static IN_FLIGHT: AtomicU64 = AtomicU64::new(0);

/// Sends the mirrors of this request that their percentage selects; `body` None: the body is
/// streamed and cannot be copied, so the mirror is skipped.
pub(super) fn send(
    c: &Arc<ConnCtx>,
    e: &RouteEntry,
    b: &Backend,
    head: &Head,
    body: Option<&Bytes>,
) {
    let stats = &c.shared.l7.route_stats;
    for (m, percent) in mirrors(e, b) {
        if !chance(percent) {
            continue;
        }
        let route = if e.route.is_empty() {
            b.service.clone()
        } else {
            e.route.clone()
        };
        let Some(bytes) = body else {
            stats.count(&route, Stat::MirrorSkipped);
            continue;
        };
        if m.invalid.is_some() || IN_FLIGHT.fetch_add(1, Ordering::Relaxed) >= MAX_IN_FLIGHT {
            IN_FLIGHT.fetch_sub(u64::from(m.invalid.is_none()), Ordering::Relaxed);
            stats.count(&route, Stat::MirrorSkipped);
            continue;
        }
        let Some(claim) = c
            .shared
            .l7
            .balancer
            .pick(&m.endpoints, fastrand::f64(), fastrand::f64())
        else {
            IN_FLIGHT.fetch_sub(1, Ordering::Relaxed);
            stats.count(&route, Stat::MirrorSkipped);
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
            let stat = if ok {
                Stat::MirrorSent
            } else {
                Stat::MirrorFailed
            };
            c.shared.l7.route_stats.count(&route, stat);
            IN_FLIGHT.fetch_sub(1, Ordering::Relaxed);
        });
    }
}
