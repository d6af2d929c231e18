//! Retry budget arithmetic on a fake clock: the reserve alone, the ratio of requests, the window
//! sliding out (deposits and withdrawals both expire), degenerate budgets, and a retry storm from
//! many threads that never gets past the budget.

use super::*;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn drain(b: &RetryBudget, now: Instant) -> u64 {
    let mut n = 0;
    while b.try_withdraw_at(now) {
        n += 1;
        assert!(n < 1_000_000, "unbounded budget");
    }
    n
}

#[test]
fn budget_table() {
    // (name, ratio, min/s, ttl s, requests deposited at t0, retries allowed at t0)
    let cases: &[(&str, f64, f64, u64, u64, u64)] = &[
        ("reserve only: min × ttl", 0.2, 10.0, 10, 0, 100),
        (
            "Linkerd default with 1000 requests",
            0.2,
            10.0,
            10,
            1000,
            300,
        ),
        ("ratio only", 0.5, 0.0, 10, 10, 5),
        ("ratio rounds down per whole retry", 0.2, 0.0, 10, 4, 0),
        ("five requests at 20 % make one retry", 0.2, 0.0, 10, 5, 1),
        ("nothing allowed", 0.0, 0.0, 10, 1000, 0),
        ("ratio above 1", 3.0, 0.0, 1, 2, 6),
        ("fractional min per second", 0.0, 0.5, 10, 0, 5),
        ("negative numbers count as 0", -1.0, f64::NAN, 10, 100, 0),
    ];
    for (name, ratio, min, ttl, requests, want) in cases {
        let t0 = Instant::now();
        let b = RetryBudget::new_at(*ratio, *min, Duration::from_secs(*ttl), t0);
        for _ in 0..*requests {
            b.deposit_at(t0);
        }
        assert_eq!(b.remaining_at(t0), *want, "{name}: remaining");
        assert_eq!(drain(&b, t0), *want, "{name}: withdrawn");
        assert_eq!(b.remaining_at(t0), 0, "{name}: after draining");
    }
}

#[test]
fn refusal_costs_nothing() {
    let t0 = Instant::now();
    let b = RetryBudget::new_at(0.2, 0.0, Duration::from_secs(10), t0);
    for _ in 0..100 {
        assert!(!b.try_withdraw_at(t0));
    }
    for _ in 0..10 {
        b.deposit_at(t0);
    }
    assert_eq!(drain(&b, t0), 2, "refused withdrawals left no debt");
}

#[test]
fn window_slides_deposits_and_withdrawals_out() {
    let t0 = Instant::now();
    let s = |ms: u64| t0 + Duration::from_millis(ms);
    let b = RetryBudget::new_at(0.2, 1.0, Duration::from_secs(10), t0);
    // reserve 10; 100 requests in slot 0 → 20 more
    for _ in 0..100 {
        b.deposit_at(t0);
    }
    assert_eq!(drain(&b, s(500)), 30);
    // still inside the window (slot 9 of 10): nothing is back yet
    assert_eq!(b.remaining_at(s(9_999)), 0);
    // slot 0 left the window: its deposits and withdrawals are gone, the reserve is whole again
    assert_eq!(b.remaining_at(s(10_000)), 10);
    // deposits spread over the window expire one slot at a time
    let b = RetryBudget::new_at(1.0, 0.0, Duration::from_secs(10), t0);
    for sec in 0..10 {
        b.deposit_at(s(sec * 1000));
    }
    assert_eq!(b.remaining_at(s(9_500)), 10);
    assert_eq!(b.remaining_at(s(10_500)), 9);
    assert_eq!(b.remaining_at(s(15_500)), 4);
    assert_eq!(b.remaining_at(s(19_000)), 0);
    // a slot reused a whole window later starts afresh rather than adding to the old period
    b.deposit_at(s(20_000));
    assert_eq!(b.remaining_at(s(20_000)), 1);
    // far in the future, nothing from the past counts
    assert_eq!(b.remaining_at(s(10_000_000)), 0);
}

#[test]
fn retries_spent_early_in_the_window_block_later_ones() {
    let t0 = Instant::now();
    let b = RetryBudget::new_at(0.2, 0.0, Duration::from_secs(10), t0);
    for _ in 0..50 {
        b.deposit_at(t0);
    }
    assert_eq!(drain(&b, t0 + Duration::from_secs(1)), 10);
    // a new request 5 s later adds 0.2: still nothing until 5 of them
    for i in 0..4 {
        b.deposit_at(t0 + Duration::from_secs(5));
        assert!(
            !b.try_withdraw_at(t0 + Duration::from_secs(5)),
            "request {i}"
        );
    }
    b.deposit_at(t0 + Duration::from_secs(5));
    assert!(b.try_withdraw_at(t0 + Duration::from_secs(5)));
}

#[test]
fn retry_storm_from_many_threads_never_exceeds_the_budget() {
    let t0 = Instant::now();
    let b = Arc::new(RetryBudget::new_at(0.2, 10.0, Duration::from_secs(10), t0));
    for _ in 0..5000 {
        b.deposit_at(t0);
    }
    let budget = 5000 / 5 + 100;
    let got: u64 = (0..8)
        .map(|_| {
            let b = b.clone();
            std::thread::spawn(move || (0..1000).filter(|_| b.try_withdraw_at(t0)).count() as u64)
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .sum();
    assert!(got <= budget, "storm got {got} retries, budget {budget}");
    // whatever contention refused is still there: the total is exactly the budget
    assert_eq!(got + drain(&b, t0), budget);
}

#[test]
fn real_clock_api() {
    let b = RetryBudget::new(DEFAULT_RATIO, DEFAULT_MIN_PER_SECOND, DEFAULT_TTL);
    b.deposit();
    assert!(b.try_withdraw());
}
