//! Engine tests without privileges: loopback listeners without IP_TRANSPARENT, a closure as the
//! event sink. Covers the deny path end to end (RST + close event), stats, table swaps, listen
//! errors, close, and the size bounds of the per-connection state and future.

use std::io::Read;
use std::net::{Ipv4Addr, SocketAddrV4, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::conn::{self, ConnState};
use super::engine::{Config, Engine};
use super::events::{Event, Kind, Sink};
use super::table::{Decision, Direction, Table, DIRECT_CONNECT};
use crate::errors::Code;

fn test_config() -> Config {
    let mut c = Config::node(0, 0);
    c.outbound = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0);
    c.inbound = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0);
    c.transparent = false;
    c.flush = Duration::from_millis(5);
    c
}

fn collecting() -> (Sink, Arc<Mutex<Vec<Event>>>) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let g = got.clone();
    (
        Arc::new(move |b: Vec<Event>| {
            g.lock().unwrap().extend(b);
            true
        }),
        got,
    )
}

fn wait_for(got: &Mutex<Vec<Event>>, n: usize) -> Vec<Event> {
    let t = Instant::now();
    while got.lock().unwrap().len() < n && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(5));
    }
    got.lock().unwrap().clone()
}

#[test]
fn a_direct_connection_is_reset_and_reported() {
    let (sink, got) = collecting();
    let e = Engine::start(test_config(), sink).unwrap();
    let [out_port, in_port] = e.shared.own_ports;
    assert!(out_port != 0 && in_port != 0 && out_port != in_port);
    let mut c = TcpStream::connect(("127.0.0.1", out_port)).unwrap();
    let src = c.local_addr().unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let err = c.read(&mut [0u8; 16]).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset);
    let evs = wait_for(&got, 1);
    assert_eq!(evs.len(), 1);
    let ev = &evs[0];
    assert_eq!(
        (ev.kind, ev.dir, ev.reason.as_str()),
        (Kind::Close, Direction::Outbound, DIRECT_CONNECT)
    );
    assert_eq!(std::net::SocketAddr::V4(ev.src), src);
    assert_eq!(ev.dst.port(), out_port);
    assert_eq!((ev.up, ev.down, ev.id), (0, 0, 1));
    let s = &e.shared.stats;
    assert_eq!(s.accepted.load(std::sync::atomic::Ordering::Relaxed), 1);
    assert_eq!(s.denied.load(std::sync::atomic::Ordering::Relaxed), 1);
    assert_eq!(s.active.load(std::sync::atomic::Ordering::Relaxed), 0);

    // Inbound listener too; ids keep counting.
    let mut c = TcpStream::connect(("127.0.0.1", in_port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert!(c.read(&mut [0u8; 16]).is_err());
    let evs = wait_for(&got, 2);
    assert_eq!((evs[1].dir, evs[1].id), (Direction::Inbound, 2));

    e.finish_close(Duration::from_secs(2));
    assert!(e.is_closed());
    assert!(
        TcpStream::connect(("127.0.0.1", out_port)).is_err(),
        "listener must be closed"
    );
    e.finish_close(Duration::from_secs(2)); // idempotent
}

#[test]
fn tables_swap_whole_and_decide_like_evaluate() {
    let (sink, _) = collecting();
    let e = Engine::start(test_config(), sink).unwrap();
    let sh = &e.shared;
    let src: SocketAddrV4 = "10.200.1.10:40000".parse().unwrap();
    let dst: SocketAddrV4 = "10.200.1.11:80".parse().unwrap();
    assert_eq!(sh.table_version(), 0);
    assert!(matches!(
        sh.decide(Direction::Outbound, src, dst),
        Decision::Deny(_)
    ));
    let json = r#"{"version": 3, "localAddrs": [], "workloads": [],
      "defaults": {"outbound": {"action": "forward", "reason": ""}, "inbound": {"action": "forward", "reason": ""}}}"#;
    assert_eq!(sh.set_table(Table::parse(json).unwrap()), 3);
    assert_eq!(
        sh.decide(Direction::Outbound, src, dst),
        Decision::Forward {
            upstream: dst,
            bind_ip: *src.ip(),
            service: None,
        }
    );
    let own = SocketAddrV4::new(*dst.ip(), sh.own_ports[0]);
    assert_eq!(
        sh.decide(Direction::Outbound, src, own),
        Decision::Deny(Arc::from(DIRECT_CONNECT))
    );
    assert!(Table::parse(&json.replace("\"forward\", \"reason\": \"\"}}", "\"fwd\"}}")).is_err());
    assert_eq!(
        sh.table_version(),
        3,
        "a rejected table leaves the previous one in force"
    );
    e.finish_close(Duration::from_secs(1));
}

#[test]
fn a_busy_port_is_a_listen_error_that_names_it() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let mut cfg = test_config();
    cfg.inbound = SocketAddrV4::new(Ipv4Addr::LOCALHOST, port);
    let (sink, _) = collecting();
    let e = Engine::start(cfg, sink).err().expect("must fail");
    assert_eq!(e.status, Code::Listen);
    assert!(
        e.reason.contains(&port.to_string()) && e.reason.contains("inboundPort"),
        "{}",
        e.reason
    );
    assert!(
        e.reason
            .contains("another nodemesh agent or process holds port"),
        "{}",
        e.reason
    );
}

#[test]
fn per_connection_state_stays_small() {
    let n = std::mem::size_of::<ConnState>();
    // 192 before identities: the tunnel upstream and the boxed security record add 8 bytes each
    assert!(n <= 208, "ConnState is {n} bytes");
    assert!(
        // 96 before identities: two identities, the policy and the audit policy are Arc<str>
        // (16 B each); 65 536 queued events then hold 10 MiB at most
        std::mem::size_of::<Event>() <= 160,
        "Event is {} bytes",
        std::mem::size_of::<Event>()
    );
    // The whole per-connection task (state + connect + relay futures), as spawned.
    let (sink, _) = collecting();
    let e = Engine::start(test_config(), sink).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let _c = tokio::net::TcpStream::connect(l.local_addr().unwrap())
            .await
            .unwrap();
        let (s, _) = l.accept().await.unwrap();
        let fut = conn::handle(e.shared.clone(), s, Direction::Outbound);
        let size = std::mem::size_of_val(&fut);
        println!("ConnState {n} B, connection task future {size} B");
        // 1024 before identities; the tunnel connect and relay are boxed (they are large), what
        // remains is the authorization and tunnel branch state (1072 B measured)
        assert!(size <= 1152, "connection future is {size} bytes");
    });
    e.finish_close(Duration::from_secs(1));
}
