//! One endpoint's statistics for the balancer (balancer.rs): in-flight count, peak-EWMA latency
//! and the failure-accrual state machine Ready → Ejected (backoff) → Probing → Ready | Ejected.
//! Reads are lock-free atomics; a finished request takes the endpoint's own mutex for a few
//! arithmetic operations. Private to the balancer.

use std::hash::{Hash, Hasher};
use std::net::SocketAddrV4;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::{AccrualConfig, BalancerConfig, EndpointState};

const READY: u8 = 0;
const EJECTED: u8 = 1;
const PROBING: u8 = 2;

struct Accrual {
    failures: u32,
    /// ejections in a row (the backoff level), reset by a success
    ejections: u32,
    rng: fastrand::Rng,
}

/// The accrual config every endpoint of a balancer follows, replaceable while requests run (the
/// table's `accrual`): lock-free words; a reader racing a change may mix old and new fields for
/// one request, which only matters for that request's own ejection decision.
pub(super) struct SharedAccrual {
    failures: AtomicU32,
    min_ns: AtomicU64,
    max_ns: AtomicU64,
    jitter_bits: AtomicU64,
}

impl SharedAccrual {
    pub(super) fn new(c: AccrualConfig) -> Self {
        Self {
            failures: AtomicU32::new(c.consecutive_failures),
            min_ns: AtomicU64::new(c.min_backoff.as_nanos() as u64),
            max_ns: AtomicU64::new(c.max_backoff.as_nanos() as u64),
            jitter_bits: AtomicU64::new(c.jitter.to_bits()),
        }
    }

    pub(super) fn get(&self) -> AccrualConfig {
        AccrualConfig {
            consecutive_failures: self.failures.load(Ordering::Relaxed),
            min_backoff: Duration::from_nanos(self.min_ns.load(Ordering::Relaxed)),
            max_backoff: Duration::from_nanos(self.max_ns.load(Ordering::Relaxed)),
            jitter: f64::from_bits(self.jitter_bits.load(Ordering::Relaxed)),
        }
    }

    /// Stores `c` (only the words that differ: a per-request call with the same table is loads).
    pub(super) fn set(&self, c: AccrualConfig) {
        let store = |w: &AtomicU64, v: u64| {
            if w.load(Ordering::Relaxed) != v {
                w.store(v, Ordering::Relaxed);
            }
        };
        if self.failures.load(Ordering::Relaxed) != c.consecutive_failures {
            self.failures
                .store(c.consecutive_failures, Ordering::Relaxed);
        }
        store(&self.min_ns, c.min_backoff.as_nanos() as u64);
        store(&self.max_ns, c.max_backoff.as_nanos() as u64);
        store(&self.jitter_bits, c.jitter.to_bits());
    }
}

pub(super) struct Endpoint {
    cfg: BalancerConfig,
    epoch: Instant,
    pub(super) outstanding: AtomicU64,
    /// ms since `epoch` of the last pick that looked at it
    pub(super) seen_ms: AtomicU64,
    /// READY, EJECTED or PROBING; `until_ns` is meaningful when EJECTED
    state: AtomicU8,
    until_ns: AtomicU64,
    /// f64 bits of the estimate in ns, and when (ns since `epoch`) it was last sampled: written
    /// under `accrual`'s lock, read lock-free (a torn pair only skews one cost comparison)
    rtt_bits: AtomicU64,
    rtt_at_ns: AtomicU64,
    accrual: Mutex<Accrual>,
}

pub(super) fn ns(epoch: Instant, now: Instant) -> u64 {
    now.saturating_duration_since(epoch).as_nanos() as u64
}

pub(super) fn ms(epoch: Instant, now: Instant) -> u64 {
    now.saturating_duration_since(epoch).as_millis() as u64
}

impl Endpoint {
    /// `epoch` is the balancer's: every endpoint counts time from the same instant.
    pub(super) fn new(
        cfg: BalancerConfig,
        epoch: Instant,
        addr: SocketAddrV4,
        now: Instant,
    ) -> Self {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        addr.hash(&mut h);
        Self {
            cfg,
            epoch,
            outstanding: AtomicU64::new(0),
            seen_ms: AtomicU64::new(ms(epoch, now)),
            state: AtomicU8::new(READY),
            until_ns: AtomicU64::new(0),
            rtt_bits: AtomicU64::new((cfg.default_rtt.as_nanos() as f64).to_bits()),
            rtt_at_ns: AtomicU64::new(ns(epoch, now)),
            accrual: Mutex::new(Accrual {
                failures: 0,
                ejections: 0,
                rng: fastrand::Rng::with_seed(cfg.seed ^ h.finish()),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Accrual> {
        self.accrual.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn tau_ns(&self) -> f64 {
        (self.cfg.decay.as_nanos() as f64).max(1.0)
    }

    /// The estimate at `now`, decayed toward 0 since the last sample.
    pub(super) fn rtt_ns(&self, now_ns: u64) -> f64 {
        let rtt = f64::from_bits(self.rtt_bits.load(Ordering::Relaxed));
        let dt = now_ns.saturating_sub(self.rtt_at_ns.load(Ordering::Relaxed)) as f64;
        rtt * (-dt / self.tau_ns()).exp()
    }

    /// Peak-EWMA latency × (outstanding + 1).
    pub(super) fn cost(&self, now_ns: u64) -> f64 {
        self.rtt_ns(now_ns) * (self.outstanding.load(Ordering::Relaxed) + 1) as f64
    }

    /// Ready, or ejected with the backoff over (the next claim becomes the probe).
    pub(super) fn available(&self, now_ns: u64) -> bool {
        match self.state.load(Ordering::Acquire) {
            READY => true,
            EJECTED => self.until_ns.load(Ordering::Acquire) <= now_ns,
            _ => false,
        }
    }

    /// Take a request: Some(false) when ready, Some(true) when it becomes the probe, None when
    /// ejected (or probing). The in-flight count is the caller's to add.
    pub(super) fn admit(&self, now_ns: u64) -> Option<bool> {
        match self.state.load(Ordering::Acquire) {
            READY => Some(false),
            EJECTED => {
                let _a = self.lock();
                let due = self.state.load(Ordering::Acquire) == EJECTED
                    && self.until_ns.load(Ordering::Acquire) <= now_ns;
                if !due {
                    return None;
                }
                self.state.store(PROBING, Ordering::Release);
                Some(true)
            }
            _ => None,
        }
    }

    fn backoff(&self, a: &mut Accrual, c: &AccrualConfig) -> Duration {
        let base = c
            .min_backoff
            .saturating_mul(1u32 << a.ejections.min(20))
            .min(c.max_backoff);
        let jitter = if c.jitter > 0.0 {
            c.jitter.min(1.0) * a.rng.f64()
        } else {
            0.0
        };
        base.mul_f64(1.0 + jitter)
            .min(c.max_backoff)
            .max(c.min_backoff.min(c.max_backoff))
    }

    fn eject(&self, a: &mut Accrual, now_ns: u64, c: &AccrualConfig) {
        let d = self.backoff(a, c);
        a.ejections = a.ejections.saturating_add(1);
        a.failures = 0;
        self.until_ns.store(
            now_ns.saturating_add(d.as_nanos() as u64),
            Ordering::Release,
        );
        self.state.store(EJECTED, Ordering::Release);
    }

    /// A finished request: the EWMA sample, then accrual. Only a ready endpoint's results and
    /// its probe's count; results of requests sent before an ejection are ignored. `acc`: the
    /// balancer's accrual config when the request was picked.
    pub(super) fn record(
        &self,
        latency: Duration,
        ok: bool,
        probe: bool,
        now: Instant,
        acc: &AccrualConfig,
    ) {
        let now_ns = ns(self.epoch, now);
        let mut a = self.lock();
        let cur = f64::from_bits(self.rtt_bits.load(Ordering::Relaxed));
        let dt = now_ns.saturating_sub(self.rtt_at_ns.load(Ordering::Relaxed)) as f64;
        let sample = latency.as_nanos() as f64;
        let next = if sample > cur {
            sample
        } else if !ok {
            cur
        } else {
            let w = (-dt / self.tau_ns()).exp();
            cur * w + sample * (1.0 - w)
        };
        self.rtt_bits.store(next.to_bits(), Ordering::Relaxed);
        self.rtt_at_ns.store(now_ns, Ordering::Relaxed);
        let state = self.state.load(Ordering::Acquire);
        if probe && state == PROBING {
            if ok {
                a.ejections = 0;
                a.failures = 0;
                self.state.store(READY, Ordering::Release);
            } else {
                self.eject(&mut a, now_ns, acc);
            }
        } else if state == READY {
            if ok {
                a.failures = 0;
            } else {
                a.failures += 1;
                let n = acc.consecutive_failures;
                if n > 0 && a.failures >= n {
                    self.eject(&mut a, now_ns, acc);
                }
            }
        }
    }

    /// A probe dropped unfinished proves nothing: the next pick may probe again.
    pub(super) fn cancel_probe(&self) {
        let _a = self.lock();
        if self.state.load(Ordering::Acquire) == PROBING {
            self.until_ns.store(0, Ordering::Release);
            self.state.store(EJECTED, Ordering::Release);
        }
    }

    pub(super) fn state_at(&self, now: Instant) -> EndpointState {
        let a = self.lock();
        match self.state.load(Ordering::Acquire) {
            READY => EndpointState::Ready {
                consecutive_failures: a.failures,
            },
            EJECTED => EndpointState::Ejected {
                remaining: Duration::from_nanos(
                    self.until_ns
                        .load(Ordering::Acquire)
                        .saturating_sub(ns(self.epoch, now)),
                ),
                ejections: a.ejections,
            },
            _ => EndpointState::Probing {
                ejections: a.ejections,
            },
        }
    }
}
