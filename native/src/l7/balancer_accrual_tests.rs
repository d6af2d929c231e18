//! Failure accrual on a fake clock: ejection after N consecutive failures (not after scattered
//! ones), no pick while ejected, one probe at a time, escalation up to the cap, re-admission that
//! resets it, cancelled probes, stale results ignored, and jittered backoffs within their bounds.

use super::*;

#[test]
fn accrual_ejects_after_n_consecutive_failures_and_escalates() {
    let t0 = Instant::now();
    let s = |x: u64| t0 + Duration::from_secs(x);
    let b = Balancer::with_config_at(cfg(3, 1, 8), t0);
    let a = [ep(1)];
    let fail = |at| {
        b.pick_at(&a, 0.0, 0.0, at)
            .unwrap()
            .finish_at(ms(1.0), false, at)
    };
    // failures that are not consecutive do not eject
    fail(t0);
    fail(t0);
    b.pick_at(&a, 0.0, 0.0, t0)
        .unwrap()
        .finish_at(ms(1.0), true, t0);
    fail(t0);
    fail(t0);
    assert_eq!(
        b.state_at(ep(1), t0),
        EndpointState::Ready {
            consecutive_failures: 2
        }
    );
    fail(t0);
    assert_eq!(
        b.state_at(ep(1), t0),
        EndpointState::Ejected {
            remaining: Duration::from_secs(1),
            ejections: 1
        }
    );
    // no pick while ejected: alone → None; with another → always the other
    assert!(b.pick_at(&a, 0.0, 0.0, t0).is_none());
    let mut rng = fastrand::Rng::with_seed(3);
    for _ in 0..200 {
        let c = b
            .pick_at(&[ep(1), ep(2)], rng.f64(), rng.f64(), t0)
            .unwrap();
        assert_eq!(c.endpoint(), ep(2));
    }
    // each failed probe doubles the backoff, up to the cap: 2, 4, 8, 8
    let mut at = s(1);
    for want in [2, 4, 8, 8] {
        let probe = b
            .pick_at(&a, 0.0, 0.0, at)
            .expect("probe after the backoff");
        assert!(probe.is_probe());
        assert!(b.pick_at(&a, 0.0, 0.0, at).is_none(), "one probe at a time");
        assert!(matches!(
            b.state_at(ep(1), at),
            EndpointState::Probing { .. }
        ));
        probe.finish_at(ms(1.0), false, at);
        match b.state_at(ep(1), at) {
            EndpointState::Ejected { remaining, .. } => {
                assert_eq!(remaining, Duration::from_secs(want))
            }
            other => panic!("expected ejected, got {other:?}"),
        }
        assert!(b
            .pick_at(
                &a,
                0.0,
                0.0,
                at + Duration::from_secs(want) - Duration::from_millis(1)
            )
            .is_none());
        at += Duration::from_secs(want);
    }
    // a successful probe re-admits and resets the escalation
    let probe = b.pick_at(&a, 0.0, 0.0, at).unwrap();
    probe.finish_at(ms(1.0), true, at);
    assert_eq!(
        b.state_at(ep(1), at),
        EndpointState::Ready {
            consecutive_failures: 0
        }
    );
    assert!(!b.pick_at(&a, 0.0, 0.0, at).unwrap().is_probe());
    for _ in 0..3 {
        b.pick_at(&a, 0.0, 0.0, at)
            .unwrap()
            .finish_at(ms(1.0), false, at);
    }
    assert_eq!(
        b.state_at(ep(1), at),
        EndpointState::Ejected {
            remaining: Duration::from_secs(1),
            ejections: 1
        }
    );
}

#[test]
fn cancelled_probe_lets_the_next_pick_probe() {
    let t0 = Instant::now();
    let b = Balancer::with_config_at(cfg(1, 1, 8), t0);
    let a = [ep(1)];
    b.pick_at(&a, 0.0, 0.0, t0)
        .unwrap()
        .finish_at(ms(1.0), false, t0);
    let t1 = t0 + Duration::from_secs(1);
    drop(b.pick_at(&a, 0.0, 0.0, t1).unwrap());
    assert!(matches!(
        b.state_at(ep(1), t1),
        EndpointState::Ejected {
            remaining: Duration::ZERO,
            ejections: 1
        }
    ));
    let again = b.pick_at(&a, 0.0, 0.0, t1).unwrap();
    assert!(again.is_probe());
    assert_eq!(b.pending(ep(1)), 1);
}

#[test]
fn results_of_requests_sent_before_the_ejection_are_ignored() {
    let t0 = Instant::now();
    let b = Balancer::with_config_at(cfg(2, 1, 8), t0);
    let a = [ep(1)];
    let c: Vec<Claim> = (0..4)
        .map(|_| b.pick_at(&a, 0.0, 0.0, t0).unwrap())
        .collect();
    let mut c = c.into_iter();
    c.next().unwrap().finish_at(ms(1.0), false, t0);
    c.next().unwrap().finish_at(ms(1.0), false, t0);
    let ejected = EndpointState::Ejected {
        remaining: Duration::from_secs(1),
        ejections: 1,
    };
    assert_eq!(b.state_at(ep(1), t0), ejected);
    c.next().unwrap().finish_at(ms(1.0), true, t0); // a late success does not re-admit
    c.next().unwrap().finish_at(ms(1.0), false, t0); // nor a late failure escalate
    assert_eq!(b.state_at(ep(1), t0), ejected);
    assert_eq!(b.pending(ep(1)), 0);
}

#[test]
fn backoff_jitter_stays_within_bounds() {
    let t0 = Instant::now();
    let mut c = cfg(1, 1, 60);
    c.accrual.jitter = 0.5;
    let mut seen = std::collections::HashSet::new();
    for i in 1..=50 {
        let b = Balancer::with_config_at(c, t0);
        b.pick_at(&[ep(i)], 0.0, 0.0, t0)
            .unwrap()
            .finish_at(ms(1.0), false, t0);
        let EndpointState::Ejected { remaining, .. } = b.state_at(ep(i), t0) else {
            panic!("not ejected")
        };
        assert!(
            remaining >= Duration::from_secs(1) && remaining <= Duration::from_millis(1500),
            "{remaining:?}"
        );
        seen.insert(remaining);
    }
    assert!(seen.len() > 10, "jitter should spread backoffs: {seen:?}");
}

#[test]
fn set_accrual_applies_to_requests_picked_after_it() {
    let t0 = Instant::now();
    let b = Balancer::with_config_at(cfg(5, 1, 8), t0);
    let a = [ep(1)];
    // picked under the old config (5): its failure counts, but does not eject at 2
    let early = b.pick_at(&a, 0.0, 0.0, t0).unwrap();
    b.pick_at(&a, 0.0, 0.0, t0)
        .unwrap()
        .finish_at(ms(1.0), false, t0);
    b.set_accrual(AccrualConfig {
        consecutive_failures: 2,
        min_backoff: Duration::from_secs(3),
        max_backoff: Duration::from_secs(8),
        jitter: 0.0,
    });
    early.finish_at(ms(1.0), false, t0);
    assert_eq!(
        b.state_at(ep(1), t0),
        EndpointState::Ready {
            consecutive_failures: 2
        }
    );
    // the third failure, picked under the new config: ejected for its 3 s minimum backoff
    b.pick_at(&a, 0.0, 0.0, t0)
        .unwrap()
        .finish_at(ms(1.0), false, t0);
    assert_eq!(
        b.state_at(ep(1), t0),
        EndpointState::Ejected {
            remaining: Duration::from_secs(3),
            ejections: 1
        }
    );
}
