//! Local rate limit: a token bucket of `burst` tokens refilled at `rps`, kept as GCRA's theoretical
//! arrival time in one atomic (no lock, one compare-exchange per request). A refusal says how long
//! until the next token: the proxy answers 429 with `retry-after` = that, rounded up to seconds.
//!
//! API: `TokenBucket::new(rps, burst)`, `try_acquire() -> Result<(), Duration>`,
//! `try_acquire_at(Instant)`, `retry_after_secs(Duration) -> u64`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// One bucket (per RateLimitPolicy target: a Service or a route), shared by all its requests.
pub struct TokenBucket {
    epoch: Instant,
    /// nanoseconds per token (1 / rps)
    interval_ns: u64,
    /// burst × interval: how far ahead of now the theoretical arrival time may run
    capacity_ns: u64,
    /// theoretical arrival time, ns since `epoch`: the bucket is full when it is ≤ now
    tat: AtomicU64,
}

impl TokenBucket {
    /// `rps` tokens per second (fractions allowed: 0.5 is one every 2 s), at most `burst` at once
    /// (at least 1). A non-positive or non-finite rate refuses everything, each refusal saying
    /// "retry in an hour"; the table parser rejects such values with their field path first.
    pub fn new(rps: f64, burst: u32) -> Self {
        Self::new_at(rps, burst, Instant::now())
    }

    pub fn new_at(rps: f64, burst: u32, now: Instant) -> Self {
        let interval_ns = if rps.is_finite() && rps > 0.0 {
            (1e9 / rps).clamp(1.0, 3.6e12) as u64
        } else {
            u64::MAX / 4
        };
        Self {
            epoch: now,
            interval_ns,
            capacity_ns: interval_ns
                .saturating_mul(u64::from(burst.max(1)))
                .min(u64::MAX / 4),
            tat: AtomicU64::new(0),
        }
    }

    fn ns(&self, now: Instant) -> u64 {
        // + capacity: the theoretical arrival time starts at 0 = a full bucket, with no underflow
        now.saturating_duration_since(self.epoch).as_nanos() as u64 + self.capacity_ns
    }

    /// Take one token, or say how long until one is there.
    pub fn try_acquire(&self) -> Result<(), Duration> {
        self.try_acquire_at(Instant::now())
    }

    pub fn try_acquire_at(&self, now: Instant) -> Result<(), Duration> {
        if self.interval_ns >= u64::MAX / 4 {
            return Err(Duration::from_secs(3600));
        }
        let t = self.ns(now);
        let mut tat = self.tat.load(Ordering::Relaxed);
        loop {
            let next = tat.max(t) + self.interval_ns;
            if next - t > self.capacity_ns {
                return Err(Duration::from_nanos(next - self.capacity_ns - t));
            }
            match self
                .tat
                .compare_exchange_weak(tat, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return Ok(()),
                Err(seen) => tat = seen,
            }
        }
    }

    /// Whole tokens available at `now` (for tests and config_dump).
    pub fn available_at(&self, now: Instant) -> u64 {
        let t = self.ns(now);
        let used = self.tat.load(Ordering::Acquire).saturating_sub(t);
        (self.capacity_ns - used.min(self.capacity_ns)) / self.interval_ns
    }
}

/// The `retry-after` header value for a refusal: whole seconds, rounded up, at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    let s = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    s.max(1)
}

#[cfg(test)]
#[path = "ratelimit_tests.rs"]
mod tests;
