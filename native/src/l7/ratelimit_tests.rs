//! Token bucket on a fake clock: burst then refusal with the exact wait, refill over time (never
//! above the burst), fractional rates, retry-after rounding, and many threads at once taking
//! exactly the tokens there are.

use super::*;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[test]
fn burst_then_refusal_with_the_wait() {
    // (name, rps, burst, tokens taken at t0, wait reported for the next one)
    let cases: &[(&str, f64, u32, u32, Duration)] = &[
        ("10/s burst 5", 10.0, 5, 5, Duration::from_millis(100)),
        ("1/s burst 1", 1.0, 1, 1, Duration::from_secs(1)),
        ("burst 0 counts as 1", 1.0, 0, 1, Duration::from_secs(1)),
        ("0.5/s", 0.5, 2, 2, Duration::from_secs(2)),
        (
            "1000/s burst 100",
            1000.0,
            100,
            100,
            Duration::from_millis(1),
        ),
    ];
    for (name, rps, burst, take, wait) in cases {
        let t0 = Instant::now();
        let b = TokenBucket::new_at(*rps, *burst, t0);
        assert_eq!(b.available_at(t0), u64::from(*take), "{name}: starts full");
        for i in 0..*take {
            assert_eq!(b.try_acquire_at(t0), Ok(()), "{name}: token {i}");
        }
        assert_eq!(
            b.try_acquire_at(t0),
            Err(*wait),
            "{name}: refused with the wait"
        );
        // a refusal takes nothing: still the same wait
        assert_eq!(b.try_acquire_at(t0), Err(*wait), "{name}: second refusal");
        // after exactly that wait one token is back
        assert_eq!(
            b.try_acquire_at(t0 + *wait),
            Ok(()),
            "{name}: after the wait"
        );
        assert!(b.try_acquire_at(t0 + *wait).is_err(), "{name}: only one");
    }
}

#[test]
fn refill_is_linear_and_capped_at_burst() {
    let t0 = Instant::now();
    let ms = |n: u64| t0 + Duration::from_millis(n);
    let b = TokenBucket::new_at(10.0, 3, t0);
    for _ in 0..3 {
        b.try_acquire_at(t0).unwrap();
    }
    assert_eq!(b.available_at(ms(99)), 0);
    assert_eq!(b.available_at(ms(100)), 1);
    assert_eq!(b.available_at(ms(250)), 2);
    assert_eq!(b.available_at(ms(300)), 3);
    assert_eq!(b.available_at(ms(60_000)), 3, "never more than the burst");
    // partial wait: 50 ms into a 100 ms interval, 50 ms left
    let b = TokenBucket::new_at(10.0, 1, t0);
    b.try_acquire_at(t0).unwrap();
    assert_eq!(b.try_acquire_at(ms(50)), Err(Duration::from_millis(50)));
    // steady rate: one every 100 ms is always allowed, 11 in a second are not
    let b = TokenBucket::new_at(10.0, 1, t0);
    let ok = (0..20)
        .filter(|i| b.try_acquire_at(ms(i * 100)).is_ok())
        .count();
    assert_eq!(ok, 20);
    let b = TokenBucket::new_at(10.0, 1, t0);
    let ok = (0..110)
        .filter(|i| b.try_acquire_at(ms(i * 9)).is_ok())
        .count();
    assert_eq!(ok, 10, "990 ms at 10/s with a burst of 1");
}

#[test]
fn degenerate_rates_refuse() {
    let t0 = Instant::now();
    for rps in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let b = TokenBucket::new_at(rps, 10, t0);
        assert_eq!(
            b.try_acquire_at(t0),
            Err(Duration::from_secs(3600)),
            "rps {rps}"
        );
    }
    // a huge burst does not overflow
    let b = TokenBucket::new_at(1e-6, u32::MAX, t0);
    assert!(b.try_acquire_at(t0).is_ok());
}

#[test]
fn retry_after_rounds_up_to_whole_seconds() {
    let cases = [
        (0, 1),
        (1, 1),
        (999_999_999, 1),
        (1_000_000_000, 1),
        (1_000_000_001, 2),
        (2_500_000_000, 3),
    ];
    for (ns, want) in cases {
        assert_eq!(retry_after_secs(Duration::from_nanos(ns)), want, "{ns} ns");
    }
}

#[test]
fn concurrent_takers_get_exactly_the_burst() {
    let t0 = Instant::now();
    let b = Arc::new(TokenBucket::new_at(1.0, 500, t0));
    let got: usize = (0..8)
        .map(|_| {
            let b = b.clone();
            std::thread::spawn(move || (0..200).filter(|_| b.try_acquire_at(t0).is_ok()).count())
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .sum();
    assert_eq!(got, 500);
}

#[test]
fn real_clock_api() {
    let b = TokenBucket::new(100.0, 1);
    assert!(b.try_acquire().is_ok());
    let wait = b.try_acquire().unwrap_err();
    assert!(wait <= Duration::from_millis(10));
}
