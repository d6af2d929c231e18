//! Per-request endpoint choice as Linkerd's HTTP balancer: power of two choices over the ready
//! endpoints, cost = peak-EWMA latency × (outstanding + 1), plus failure accrual (N consecutive
//! failures eject an endpoint for a growing, jittered backoff, then one probe request decides).
//! No global lock per request: sharded read-locked maps, per-endpoint atomics, and a per-endpoint
//! mutex held for a few arithmetic operations when a response finishes.
//!
//! API: `Balancer::new(AccrualConfig)` (`with_config` for EWMA and forgetting);
//! `pick(&eps, u1, u2) -> Option<Claim>` (None: every endpoint ejected, or none);
//! `Claim::endpoint()`, `Claim::pending()`, `Claim::finish(latency, ok)` (a dropped Claim is a
//! cancel: outstanding released, no sample); `pending(ep)` for the 503 bound
//! (`claim.pending() >= max` → drop the claim, answer 503); `state(ep)`, `rtt_at(ep, now)` and
//! `snapshot_at(now)` (JSON, for config_dump) for metrics and tests.
//! `*_at(…, Instant)` variants take the clock (tests).
//!
//! Peak EWMA (tower's PeakEwma): a sample above the estimate replaces it at once; a lower one is
//! blended with weight 1 − e^(−Δt/τ) (Δt since the last sample, τ = `decay`). Reads decay the
//! estimate toward 0 with the same τ, so an endpoint left alone after a slow spell is tried
//! again. A new endpoint starts at `default_rtt`. A failure never lowers the estimate: a fast 5xx
//! is no evidence of a fast endpoint.

use std::collections::HashMap;
use std::net::SocketAddrV4;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

#[path = "balancer_endpoint.rs"]
mod endpoint;
use endpoint::{ms, ns, Endpoint, SharedAccrual};

const SHARDS: usize = 16;

/// Failure accrual (Linkerd's defaults: 7 failures, 1 s to 1 min, jitter 0.5).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AccrualConfig {
    /// consecutive failures (5xx by the classification, connect failures) that eject; 0: never
    pub consecutive_failures: u32,
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    /// each backoff is base × (1 + jitter × r), r uniform in [0, 1), capped at max_backoff
    pub jitter: f64,
}

impl Default for AccrualConfig {
    fn default() -> Self {
        Self {
            consecutive_failures: 7,
            min_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            jitter: 0.5,
        }
    }
}

/// Latency estimate and forgetting (Linkerd's defaults: τ 10 s, first estimate 30 ms).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BalancerConfig {
    pub accrual: AccrualConfig,
    pub decay: Duration,
    pub default_rtt: Duration,
    /// an endpoint no pick has looked at for this long, with nothing in flight, is forgotten
    pub forget_after: Duration,
    /// seeds the backoff jitter (per endpoint, mixed with its address)
    pub seed: u64,
}

impl Default for BalancerConfig {
    fn default() -> Self {
        Self {
            accrual: AccrualConfig::default(),
            decay: Duration::from_secs(10),
            default_rtt: Duration::from_millis(30),
            forget_after: Duration::from_secs(300),
            seed: 0x6e6f_6465_6d65_7368,
        }
    }
}

/// What accrual says about an endpoint (for metrics, config_dump and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointState {
    /// never picked, or forgotten
    Unknown,
    Ready {
        consecutive_failures: u32,
    },
    /// `ejections` in a row so far; `remaining` until a probe may go (zero: the next pick may)
    Ejected {
        remaining: Duration,
        ejections: u32,
    },
    /// its probe request is in flight
    Probing {
        ejections: u32,
    },
}

/// One request's hold on an endpoint: counted in its outstanding requests until finished or
/// dropped. `Send`, so it travels with the request's future.
pub struct Claim {
    ep: Arc<Endpoint>,
    accrual: AccrualConfig,
    addr: SocketAddrV4,
    probe: bool,
    pending: u64,
    done: bool,
}

impl Claim {
    pub fn endpoint(&self) -> SocketAddrV4 {
        self.addr
    }

    /// Requests that were in flight to this endpoint before this one.
    pub fn pending(&self) -> u64 {
        self.pending
    }

    /// This request is the one probe after an ejection.
    pub fn is_probe(&self) -> bool {
        self.probe
    }

    /// The response (or the failure to get one): `latency` to the response headers, `ok` by
    /// the classification (false for 5xx, gRPC failures if the caller counts them, connect
    /// errors, resets, timeouts).
    pub fn finish(self, latency: Duration, ok: bool) {
        self.finish_at(latency, ok, Instant::now());
    }

    pub fn finish_at(mut self, latency: Duration, ok: bool, now: Instant) {
        self.done = true;
        self.ep.record(latency, ok, self.probe, now, &self.accrual);
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.ep.outstanding.fetch_sub(1, Ordering::AcqRel);
        if self.probe && !self.done {
            self.ep.cancel_probe();
        }
    }
}

/// Endpoint statistics shared by every request of the node proxy (keyed by address, so the
/// same endpoint behind two Services shares its latency and accrual).
pub struct Balancer {
    cfg: BalancerConfig,
    /// `cfg.accrual` at first, then what `set_accrual` (the table) says
    accrual: SharedAccrual,
    epoch: Instant,
    shards: [RwLock<HashMap<SocketAddrV4, Arc<Endpoint>>>; SHARDS],
    last_sweep_ms: AtomicU64,
}

fn idx(u: f64, n: usize) -> usize {
    let u = if u.is_finite() {
        u.clamp(0.0, 1.0)
    } else {
        0.0
    };
    ((u * n as f64) as usize).min(n - 1)
}

fn shard_of(addr: &SocketAddrV4) -> usize {
    (u32::from(*addr.ip()) as usize ^ addr.port() as usize).wrapping_mul(0x9e37_79b9) >> 7
        & (SHARDS - 1)
}

impl Balancer {
    pub fn new(accrual: AccrualConfig) -> Self {
        Self::with_config(BalancerConfig {
            accrual,
            ..BalancerConfig::default()
        })
    }

    pub fn with_config(cfg: BalancerConfig) -> Self {
        Self::with_config_at(cfg, Instant::now())
    }

    pub fn with_config_at(cfg: BalancerConfig, now: Instant) -> Self {
        Self {
            cfg,
            accrual: SharedAccrual::new(cfg.accrual),
            epoch: now,
            shards: std::array::from_fn(|_| RwLock::new(HashMap::new())),
            last_sweep_ms: AtomicU64::new(0),
        }
    }

    fn lookup(&self, addr: SocketAddrV4) -> Option<Arc<Endpoint>> {
        self.shards[shard_of(&addr)]
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&addr)
            .cloned()
    }

    fn get(&self, addr: SocketAddrV4, now: Instant) -> Arc<Endpoint> {
        let ep = match self.lookup(addr) {
            Some(ep) => ep,
            None => {
                let mut w = self.shards[shard_of(&addr)]
                    .write()
                    .unwrap_or_else(|e| e.into_inner());
                w.entry(addr)
                    .or_insert_with(|| Arc::new(Endpoint::new(self.cfg, self.epoch, addr, now)))
                    .clone()
            }
        };
        ep.seen_ms.store(ms(self.epoch, now), Ordering::Relaxed);
        ep
    }

    fn claim(&self, ep: Arc<Endpoint>, addr: SocketAddrV4, now_ns: u64) -> Option<Claim> {
        let probe = ep.admit(now_ns)?;
        let pending = ep.outstanding.fetch_add(1, Ordering::AcqRel);
        Some(Claim {
            ep,
            accrual: self.accrual.get(),
            addr,
            probe,
            pending,
            done: false,
        })
    }

    /// Power of two choices among `eps` (the backend's ready endpoints) with `u1`, `u2` uniform in
    /// [0, 1): two distinct candidates, the cheaper wins (a tie goes to the first). Ejected
    /// endpoints are left out (the draw is redone over the rest); None when nothing is left.
    pub fn pick(&self, eps: &[SocketAddrV4], u1: f64, u2: f64) -> Option<Claim> {
        self.pick_at(eps, u1, u2, Instant::now())
    }

    pub fn pick_at(&self, eps: &[SocketAddrV4], u1: f64, u2: f64, now: Instant) -> Option<Claim> {
        self.maybe_sweep(now);
        let now_ns = ns(self.epoch, now);
        let n = eps.len();
        if n == 0 {
            return None;
        }
        // fast path, no allocation: the two drawn endpoints are both available
        let a = idx(u1, n);
        let ea = self.get(eps[a], now);
        if n == 1 {
            return self.claim(ea, eps[a], now_ns);
        }
        let b = (a + 1 + idx(u2, n - 1)) % n;
        let eb = self.get(eps[b], now);
        if ea.available(now_ns) && eb.available(now_ns) {
            if let Some(c) = self.p2c(&[(eps[a], ea), (eps[b], eb)], 0, 1, now_ns) {
                return Some(c);
            }
        }
        // one is ejected (or both probes raced away): redo the draw over the available ones
        let ready: Vec<(SocketAddrV4, Arc<Endpoint>)> = eps
            .iter()
            .map(|&e| (e, self.get(e, now)))
            .filter(|(_, ep)| ep.available(now_ns))
            .collect();
        self.choose(&ready, u1, u2, now_ns)
    }

    /// P2C over `cands` (all available): two distinct draws.
    fn choose(
        &self,
        cands: &[(SocketAddrV4, Arc<Endpoint>)],
        u1: f64,
        u2: f64,
        now_ns: u64,
    ) -> Option<Claim> {
        let n = cands.len();
        if n == 0 {
            return None;
        }
        let a = idx(u1, n);
        if n == 1 {
            return self.claim(cands[a].1.clone(), cands[a].0, now_ns);
        }
        self.p2c(cands, a, (a + 1 + idx(u2, n - 1)) % n, now_ns)
    }

    /// The cheaper of `cands[a]` and `cands[b]` (a tie goes to `a`), the other as the fallback
    /// when a concurrent request took the winner's probe.
    fn p2c(
        &self,
        cands: &[(SocketAddrV4, Arc<Endpoint>)],
        a: usize,
        b: usize,
        now_ns: u64,
    ) -> Option<Claim> {
        let (x, y) = if cands[b].1.cost(now_ns) < cands[a].1.cost(now_ns) {
            (b, a)
        } else {
            (a, b)
        };
        self.claim(cands[x].1.clone(), cands[x].0, now_ns)
            .or_else(|| self.claim(cands[y].1.clone(), cands[y].0, now_ns))
    }

    /// Failure accrual from now on (the decision table's `accrual`); requests already picked
    /// finish under the config they were picked with.
    pub fn set_accrual(&self, c: AccrualConfig) {
        self.accrual.set(c);
    }

    /// Requests in flight to `ep` (0 when unknown).
    pub fn pending(&self, ep: SocketAddrV4) -> u64 {
        self.lookup(ep)
            .map_or(0, |e| e.outstanding.load(Ordering::Acquire))
    }

    /// Same as `pending` (the brief's name for it).
    pub fn outstanding(&self, ep: SocketAddrV4) -> u64 {
        self.pending(ep)
    }

    pub fn state(&self, ep: SocketAddrV4) -> EndpointState {
        self.state_at(ep, Instant::now())
    }

    pub fn state_at(&self, ep: SocketAddrV4, now: Instant) -> EndpointState {
        self.lookup(ep)
            .map_or(EndpointState::Unknown, |e| e.state_at(now))
    }

    /// The latency estimate of `ep` at `now` (decayed since its last sample), None when unknown.
    pub fn rtt_at(&self, ep: SocketAddrV4, now: Instant) -> Option<Duration> {
        self.lookup(ep)
            .map(|e| Duration::from_nanos(e.rtt_ns(ns(self.epoch, now)) as u64))
    }

    /// Every remembered endpoint, sorted by address, for config_dump and end-to-end checks:
    /// `[{ "endpoint": "ip:port", "state": "ready"|"ejected"|"probing", "consecutiveFailures",
    ///     "ejections", "remainingMs" (until a probe may go), "pending", "rttMs" }]`.
    pub fn snapshot(&self) -> serde_json::Value {
        self.snapshot_at(Instant::now())
    }

    pub fn snapshot_at(&self, now: Instant) -> serde_json::Value {
        let mut all: Vec<(SocketAddrV4, Arc<Endpoint>)> = Vec::new();
        for shard in &self.shards {
            let m = shard.read().unwrap_or_else(|e| e.into_inner());
            all.extend(m.iter().map(|(a, e)| (*a, e.clone())));
        }
        all.sort_by_key(|(a, _)| *a);
        let now_ns = ns(self.epoch, now);
        let rows = all.iter().map(|(addr, e)| {
            let (state, failures, ejections, remaining) = match e.state_at(now) {
                EndpointState::Ready {
                    consecutive_failures,
                } => ("ready", consecutive_failures, 0, Duration::ZERO),
                EndpointState::Ejected {
                    remaining,
                    ejections,
                } => ("ejected", 0, ejections, remaining),
                EndpointState::Probing { ejections } => ("probing", 0, ejections, Duration::ZERO),
                EndpointState::Unknown => ("unknown", 0, 0, Duration::ZERO),
            };
            serde_json::json!({
                "endpoint": addr.to_string(), "state": state, "consecutiveFailures": failures,
                "ejections": ejections, "remainingMs": remaining.as_millis() as u64,
                "pending": e.outstanding.load(Ordering::Acquire), "rttMs": e.rtt_ns(now_ns) / 1e6,
            })
        });
        serde_json::Value::Array(rows.collect())
    }

    /// Endpoints currently remembered.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.read().unwrap_or_else(|e| e.into_inner()).len())
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// At most every forget_after / 4: drop endpoints unseen for forget_after with nothing in
    /// flight (no unbounded growth as pods come and go). One caller sweeps, the others skip.
    fn maybe_sweep(&self, now: Instant) {
        let now_ms = ms(self.epoch, now);
        let forget_ms = self.cfg.forget_after.as_millis() as u64;
        let last = self.last_sweep_ms.load(Ordering::Relaxed);
        if now_ms < last.saturating_add(forget_ms / 4)
            || self
                .last_sweep_ms
                .compare_exchange(last, now_ms, Ordering::AcqRel, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        for shard in &self.shards {
            shard
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .retain(|_, ep| {
                    Arc::strong_count(ep) > 1
                        || now_ms.saturating_sub(ep.seen_ms.load(Ordering::Relaxed)) <= forget_ms
                });
        }
    }
}

#[cfg(test)]
#[path = "balancer_tests.rs"]
mod tests;
