//! Retry budget as Linkerd's (tower's TpsBudget): over the last `ttl` (to a tenth of it), retries
//! ≤ ratio × requests + min_per_second × ttl. Lock-free: ten time slots, each one atomic word (slot period, balance),
//! so deposits and withdrawals from many tasks never wait on each other.
//!
//! API: `RetryBudget::new(ratio, min_per_second, ttl)`; `deposit()` once per original request,
//! `try_withdraw() -> bool` once per retry (false: do not retry); `*_at(Instant)` take the clock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// One retry, in budget units (a deposit is ratio × UNIT, rounded).
const UNIT: i64 = 1000;
const SLOTS: usize = 10;

/// Linkerd's default budget: 20 % of requests plus 10 retries per second, over 10 s.
pub const DEFAULT_RATIO: f64 = 0.2;
pub const DEFAULT_MIN_PER_SECOND: f64 = 10.0;
pub const DEFAULT_TTL: Duration = Duration::from_secs(10);

/// A shared retry budget (one per route, or per backend: the caller decides the scope).
pub struct RetryBudget {
    epoch: Instant,
    slot_ns: u64,
    deposit: i64,
    reserve: i64,
    /// (period: u32 << 32) | balance as i32: the balance of the slot for that period
    slots: [AtomicU64; SLOTS],
}

fn pack(period: u32, balance: i32) -> u64 {
    (u64::from(period) << 32) | u64::from(balance as u32)
}

fn unpack(w: u64) -> (u32, i32) {
    ((w >> 32) as u32, w as u32 as i32)
}

impl RetryBudget {
    /// `ratio` retries per request (0.2 = 20 %), `min_per_second` retries on top, over `ttl`
    /// (split in ten slots; at least 10 ms). Negative or non-finite numbers count as 0; the table
    /// parser rejects them with their field path before this is reached.
    pub fn new(ratio: f64, min_per_second: f64, ttl: Duration) -> Self {
        Self::new_at(ratio, min_per_second, ttl, Instant::now())
    }

    pub fn new_at(ratio: f64, min_per_second: f64, ttl: Duration, now: Instant) -> Self {
        let clean = |x: f64| if x.is_finite() && x > 0.0 { x } else { 0.0 };
        let ttl = ttl.max(Duration::from_millis(10));
        let reserve = clean(min_per_second) * ttl.as_secs_f64() * UNIT as f64;
        Self {
            epoch: now,
            slot_ns: (ttl.as_nanos() / SLOTS as u128) as u64,
            deposit: (clean(ratio).min(1000.0) * UNIT as f64).round() as i64,
            reserve: reserve.min(i64::MAX as f64 / 2.0) as i64,
            slots: std::array::from_fn(|_| AtomicU64::new(pack(0, 0))),
        }
    }

    /// A period of `slot_ns` since the epoch (wraps after 2^32 periods: decades at 1 s slots).
    fn period(&self, now: Instant) -> u32 {
        (now.saturating_duration_since(self.epoch).as_nanos() as u64 / self.slot_ns) as u32
    }

    /// Add `delta` to the current slot, starting it afresh when it still holds an older period.
    fn add(&self, p: u32, delta: i64) {
        let slot = &self.slots[p as usize % SLOTS];
        let mut cur = slot.load(Ordering::Relaxed);
        loop {
            let (tag, bal) = unpack(cur);
            let base = if tag == p { i64::from(bal) } else { 0 };
            let next = pack(
                p,
                (base + delta).clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32,
            );
            match slot.compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) => return,
                Err(seen) => cur = seen,
            }
        }
    }

    /// Deposits minus withdrawals over the window, plus the reserve, in units.
    fn balance(&self, p: u32) -> i64 {
        let window: i64 = self
            .slots
            .iter()
            .map(|s| unpack(s.load(Ordering::Acquire)))
            .filter(|(tag, _)| p.wrapping_sub(*tag) < SLOTS as u32)
            .map(|(_, bal)| i64::from(bal))
            .sum();
        window + self.reserve
    }

    /// One original request (not a retry) went out.
    pub fn deposit(&self) {
        self.deposit_at(Instant::now());
    }

    pub fn deposit_at(&self, now: Instant) {
        if self.deposit > 0 {
            self.add(self.period(now), self.deposit);
        }
    }

    /// May one retry go out? Withdraws first and gives back on refusal, so concurrent callers can
    /// only be refused too often, never let through beyond the budget.
    pub fn try_withdraw(&self) -> bool {
        self.try_withdraw_at(Instant::now())
    }

    pub fn try_withdraw_at(&self, now: Instant) -> bool {
        let p = self.period(now);
        self.add(p, -UNIT);
        if self.balance(p) >= 0 {
            return true;
        }
        self.add(p, UNIT);
        false
    }

    /// Retries the budget would allow now (for metrics and tests).
    pub fn remaining_at(&self, now: Instant) -> u64 {
        (self.balance(self.period(now)).max(0) / UNIT) as u64
    }
}

#[cfg(test)]
#[path = "budget_tests.rs"]
mod tests;
