//! Live tap: while an operator taps (`nodemesh tap`, the UI), each finished HTTP request's metadata
//! (the access-log record: method, authority, path, status, latency, identities; never bodies or
//! header values) is queued here for the agent to drain. Off, it costs one atomic load per request;
//! on, the queue is bounded and rate-capped per second, and what does not fit is dropped and counted.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// Records kept between two drains.
pub const TAP_QUEUE: usize = 4096;

pub struct Tap {
    active: AtomicBool,
    /// records accepted per second, at most (0: no cap)
    max_per_second: AtomicU64,
    q: Mutex<Window>,
    pub dropped: AtomicU64,
}

struct Window {
    lines: VecDeque<String>,
    second: Option<Instant>,
    in_second: u64,
}

impl Default for Tap {
    fn default() -> Self {
        Tap {
            active: AtomicBool::new(false),
            max_per_second: AtomicU64::new(0),
            q: Mutex::new(Window {
                lines: VecDeque::new(),
                second: None,
                in_second: 0,
            }),
            dropped: AtomicU64::new(0),
        }
    }
}

impl Tap {
    /// Whether requests are being tapped (checked once per request).
    pub fn active(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }

    /// Turns tapping on (with a per-second cap, 0 = none) or off; off empties the queue.
    pub fn set(&self, on: bool, max_per_second: u64) {
        self.max_per_second.store(max_per_second, Ordering::Relaxed);
        self.active.store(on, Ordering::Relaxed);
        if !on {
            self.lock().lines.clear();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Window> {
        self.q.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues one record, or counts it dropped (queue full, or over the per-second cap).
    pub fn push(&self, line: String) {
        self.push_at(line, Instant::now());
    }

    pub fn push_at(&self, line: String, now: Instant) {
        if !self.active() {
            return;
        }
        let cap = self.max_per_second.load(Ordering::Relaxed);
        let mut w = self.lock();
        match w.second {
            Some(s) if now.duration_since(s).as_secs() < 1 => {}
            _ => {
                w.second = Some(now);
                w.in_second = 0;
            }
        }
        if w.lines.len() >= TAP_QUEUE || (cap > 0 && w.in_second >= cap) {
            drop(w);
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        w.in_second += 1;
        w.lines.push_back(line);
    }

    /// Takes the queued records.
    pub fn take(&self) -> Vec<String> {
        self.lock().lines.drain(..).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn off_records_nothing() {
        let t = Tap::default();
        t.push("a".into());
        assert!(t.take().is_empty());
        assert_eq!(t.dropped.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn cap_per_second_drops_and_counts_then_refills() {
        let t = Tap::default();
        t.set(true, 2);
        let t0 = Instant::now();
        for i in 0..5 {
            t.push_at(format!("{i}"), t0);
        }
        assert_eq!(t.take(), vec!["0", "1"]);
        assert_eq!(t.dropped.load(Ordering::Relaxed), 3);
        t.push_at("later".into(), t0 + Duration::from_millis(1001));
        assert_eq!(t.take(), vec!["later"]);
    }

    #[test]
    fn queue_is_bounded_and_off_clears() {
        let t = Tap::default();
        t.set(true, 0);
        let t0 = Instant::now();
        for i in 0..TAP_QUEUE + 10 {
            t.push_at(format!("{i}"), t0);
        }
        assert_eq!(t.dropped.load(Ordering::Relaxed), 10);
        t.set(false, 0);
        assert!(t.take().is_empty());
    }
}
