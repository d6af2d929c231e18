//! Balancer on a fake clock: peak-EWMA arithmetic (peak, blend, decay on read, failures never
//! lower it), P2C preferring the faster and the less loaded endpoint (seeded draws), the pending
//! count and cancels, degenerate draws, forgetting, threads. Accrual: balancer_accrual_tests.rs.

use super::*;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn ep(i: u8) -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, i), 8080)
}

fn ms(n: f64) -> Duration {
    Duration::from_secs_f64(n / 1000.0)
}

fn cfg(n: u32, min_s: u64, max_s: u64) -> BalancerConfig {
    BalancerConfig {
        accrual: AccrualConfig {
            consecutive_failures: n,
            min_backoff: Duration::from_secs(min_s),
            max_backoff: Duration::from_secs(max_s),
            jitter: 0.0,
        },
        ..BalancerConfig::default()
    }
}

/// A first estimate below every sample, so one sample each sets the latencies a test wants.
fn learning() -> BalancerConfig {
    BalancerConfig {
        default_rtt: Duration::from_nanos(1),
        ..cfg(0, 1, 1)
    }
}

#[path = "balancer_accrual_tests.rs"]
mod accrual;

fn close(a: Duration, b: Duration) -> bool {
    (a.as_secs_f64() - b.as_secs_f64()).abs() < 1e-6
}

#[test]
fn peak_ewma_arithmetic() {
    let e1 = (-1.0f64).exp();
    // (name, [(at s, latency ms, ok)], read at s, expected estimate ms)
    type Case<'a> = (&'a str, &'a [(f64, f64, bool)], f64, f64);
    let cases: &[Case] = &[
        ("new endpoint: default rtt", &[], 0.0, 30.0),
        (
            "higher sample replaces at once",
            &[(0.0, 100.0, true)],
            0.0,
            100.0,
        ),
        (
            "lower sample after τ blends with e^-1",
            &[(0.0, 100.0, true), (10.0, 10.0, true)],
            10.0,
            100.0 * e1 + 10.0 * (1.0 - e1),
        ),
        (
            "lower sample at once: no weight",
            &[(0.0, 100.0, true), (0.0, 10.0, true)],
            0.0,
            100.0,
        ),
        (
            "read decays toward 0",
            &[(0.0, 100.0, true)],
            10.0,
            100.0 * e1,
        ),
        (
            "lower sample after 5 τ: nearly the sample",
            &[(0.0, 100.0, true), (50.0, 10.0, true)],
            50.0,
            100.0 * (-5.0f64).exp() + 10.0 * (1.0 - (-5.0f64).exp()),
        ),
        (
            "a fast failure never lowers",
            &[(0.0, 100.0, true), (10.0, 1.0, false)],
            10.0,
            100.0,
        ),
        (
            "a slow failure raises",
            &[(0.0, 10.0, true), (1.0, 200.0, false)],
            1.0,
            200.0,
        ),
        (
            "default rtt blends with the first lower sample",
            &[(10.0, 10.0, true)],
            10.0,
            30.0 * e1 + 10.0 * (1.0 - e1),
        ),
    ];
    for (name, samples, read_at, want) in cases {
        let t0 = Instant::now();
        let at = |s: f64| t0 + Duration::from_secs_f64(s);
        let b = Balancer::with_config_at(cfg(0, 1, 1), t0);
        drop(b.pick_at(&[ep(1)], 0.0, 0.0, t0).unwrap());
        for (s, lat, ok) in *samples {
            b.pick_at(&[ep(1)], 0.0, 0.0, at(*s))
                .unwrap()
                .finish_at(ms(*lat), *ok, at(*s));
        }
        let got = b.rtt_at(ep(1), at(*read_at)).unwrap();
        assert!(
            (got.as_secs_f64() * 1000.0 - want).abs() < 1e-3,
            "{name}: {got:?} ≠ {want} ms"
        );
    }
}

/// Learn each endpoint's latency, then count picks over seeded draws (finished at once).
fn shares(lat_ms: &[f64], picks: usize) -> Vec<usize> {
    let t0 = Instant::now();
    let b = Balancer::with_config_at(learning(), t0);
    let eps: Vec<_> = (0..lat_ms.len()).map(|i| ep(i as u8 + 1)).collect();
    for (i, l) in lat_ms.iter().enumerate() {
        b.pick_at(&eps[i..=i], 0.0, 0.0, t0)
            .unwrap()
            .finish_at(ms(*l), true, t0);
    }
    let mut rng = fastrand::Rng::with_seed(7);
    let mut n = vec![0; eps.len()];
    for _ in 0..picks {
        let c = b.pick_at(&eps, rng.f64(), rng.f64(), t0).unwrap();
        let i = eps.iter().position(|e| *e == c.endpoint()).unwrap();
        n[i] += 1;
        c.finish_at(ms(lat_ms[i]), true, t0);
    }
    n
}

#[test]
fn p2c_prefers_the_faster_endpoint() {
    // two endpoints: the comparison is always between both
    assert_eq!(shares(&[10.0, 50.0], 1000), vec![1000, 0]);
    // ten, one slow: it only ever loses its comparisons; the nine fast share evenly
    let n = shares(
        &[10.0, 10.0, 10.0, 10.0, 100.0, 10.0, 10.0, 10.0, 10.0, 10.0],
        9000,
    );
    assert_eq!(n[4], 0, "{n:?}");
    for (i, c) in n.iter().enumerate().filter(|(i, _)| *i != 4) {
        assert!(
            (700..=1300).contains(c),
            "endpoint {i}: {c} of 9000 ({n:?})"
        );
    }
    // three tiers: the slowest is never picked, the fastest most
    let n = shares(&[5.0, 20.0, 80.0], 3000);
    assert!(n[0] > n[1] && n[2] == 0, "{n:?}");
}

#[test]
fn p2c_prefers_the_less_loaded_endpoint() {
    let t0 = Instant::now();
    let b = Balancer::with_config_at(cfg(0, 1, 1), t0);
    let eps = [ep(1), ep(2), ep(3), ep(4)];
    let mut rng = fastrand::Rng::with_seed(11);
    let held: Vec<Claim> = (0..400)
        .map(|_| b.pick_at(&eps, rng.f64(), rng.f64(), t0).unwrap())
        .collect();
    let loads: Vec<u64> = eps.iter().map(|e| b.pending(*e)).collect();
    let (lo, hi) = (loads.iter().min().unwrap(), loads.iter().max().unwrap());
    assert!(
        hi - lo <= 4,
        "P2C over outstanding should stay balanced: {loads:?}"
    );
    // outstanding × rtt: a faster endpoint carries more in flight before the slower one wins
    drop(held);
    let b = Balancer::with_config_at(learning(), t0);
    b.pick_at(&[ep(1)], 0.0, 0.0, t0)
        .unwrap()
        .finish_at(ms(10.0), true, t0);
    b.pick_at(&[ep(2)], 0.0, 0.0, t0)
        .unwrap()
        .finish_at(ms(30.0), true, t0);
    let two = [ep(1), ep(2)];
    let held: Vec<Claim> = (0..8)
        .map(|i| b.pick_at(&two, (i % 2) as f64 * 0.9, 0.5, t0).unwrap())
        .collect();
    // costs: ep1 10 × (k+1), ep2 30 × (m+1): ep1 takes 6, ep2 2 (ties to the first drawn)
    assert_eq!(
        (b.pending(ep(1)), b.pending(ep(2))),
        (6, 2),
        "{:?}",
        held.iter().map(|c| c.endpoint()).collect::<Vec<_>>()
    );
}

#[test]
fn claims_count_pending_and_a_drop_is_a_cancel() {
    let t0 = Instant::now();
    let b = Balancer::with_config_at(cfg(0, 1, 1), t0);
    let a = [ep(1)];
    let c1 = b.pick_at(&a, 0.0, 0.0, t0).unwrap();
    let c2 = b.pick_at(&a, 0.0, 0.0, t0).unwrap();
    assert_eq!(
        (
            c1.pending(),
            c2.pending(),
            b.pending(ep(1)),
            b.outstanding(ep(1))
        ),
        (0, 1, 2, 2)
    );
    // the 503 bound as the proxy applies it: a third request over max_pending = 2 is refused
    let c3 = b.pick_at(&a, 0.0, 0.0, t0).unwrap();
    assert!(c3.pending() >= 2);
    drop(c3);
    let before = b.rtt_at(ep(1), t0);
    drop(c1);
    assert_eq!(b.pending(ep(1)), 1);
    assert_eq!(b.rtt_at(ep(1), t0), before, "a cancel leaves no sample");
    c2.finish_at(ms(500.0), true, t0);
    assert_eq!(b.pending(ep(1)), 0);
    assert!(close(b.rtt_at(ep(1), t0).unwrap(), ms(500.0)));
    assert_eq!(b.pending(ep(9)), 0, "unknown endpoint");
    assert_eq!(b.state_at(ep(9), t0), EndpointState::Unknown);
}

#[test]
fn empty_and_degenerate_draws() {
    let t0 = Instant::now();
    let b = Balancer::with_config_at(cfg(0, 1, 1), t0);
    assert!(b.pick_at(&[], 0.5, 0.5, t0).is_none());
    let eps = [ep(1), ep(2), ep(3)];
    for (u1, u2) in [
        (1.0, 1.0),
        (0.999_999, 0.0),
        (-3.0, f64::NAN),
        (f64::INFINITY, 2.0),
    ] {
        let c = b.pick_at(&eps, u1, u2, t0).expect("a pick for any u");
        assert!(eps.contains(&c.endpoint()));
    }
}

#[test]
fn unseen_endpoints_are_forgotten_but_not_while_in_flight() {
    let t0 = Instant::now();
    let s = |x: u64| t0 + Duration::from_secs(x);
    let mut c = cfg(0, 1, 1);
    c.forget_after = Duration::from_secs(4);
    let b = Balancer::with_config_at(c, t0);
    drop(b.pick_at(&[ep(1)], 0.0, 0.0, t0).unwrap());
    let held = b.pick_at(&[ep(2)], 0.0, 0.0, t0).unwrap();
    assert_eq!(b.len(), 2);
    for x in 1..=6 {
        drop(b.pick_at(&[ep(3)], 0.0, 0.0, s(x)).unwrap());
    }
    assert_eq!(b.state_at(ep(1), s(6)), EndpointState::Unknown, "forgotten");
    assert_ne!(
        b.state_at(ep(2), s(6)),
        EndpointState::Unknown,
        "a claim holds it"
    );
    assert_eq!(b.len(), 2);
    held.finish_at(ms(1.0), true, s(6));
}

#[test]
fn many_threads_pick_and_finish() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Balancer>();
    send::<Claim>();
    let b = Arc::new(Balancer::new(AccrualConfig::default()));
    let eps: Vec<_> = (1..=8).map(ep).collect();
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let (b, eps) = (b.clone(), eps.clone());
            std::thread::spawn(move || {
                let mut rng = fastrand::Rng::with_seed(t);
                for i in 0..5000 {
                    let c = b.pick(&eps, rng.f64(), rng.f64()).unwrap();
                    if i % 3 == 0 {
                        drop(c);
                    } else {
                        c.finish(Duration::from_micros(100 + i % 50), true);
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert!(eps.iter().all(|e| b.pending(*e) == 0));
    assert!(eps.iter().all(|e| b.state(*e)
        == EndpointState::Ready {
            consecutive_failures: 0
        }));
}

#[test]
fn snapshot_lists_every_endpoint_with_its_state() {
    let t0 = Instant::now();
    let b = Balancer::with_config_at(cfg(1, 2, 8), t0);
    b.pick_at(&[ep(2)], 0.0, 0.0, t0)
        .unwrap()
        .finish_at(ms(1.0), false, t0);
    let held = b.pick_at(&[ep(1)], 0.0, 0.0, t0).unwrap();
    let v = b.snapshot_at(t0 + Duration::from_millis(500));
    let e1 = (-0.05f64).exp() * 30.0;
    assert_eq!(v[0]["endpoint"], "10.0.0.1:8080");
    assert_eq!(v[0]["state"], "ready");
    assert_eq!(v[0]["pending"], 1);
    assert!(
        (v[0]["rttMs"].as_f64().unwrap() - e1).abs() < 1e-9,
        "{}",
        v[0]["rttMs"]
    );
    assert_eq!(v[1]["endpoint"], "10.0.0.2:8080");
    assert_eq!(v[1]["state"], "ejected");
    assert_eq!(v[1]["ejections"], 1);
    assert_eq!(v[1]["remainingMs"], 1500);
    assert_eq!(v.as_array().unwrap().len(), 2);
    drop(held);
}
