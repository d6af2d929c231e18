//! HBONE over loopback with generated certificates: the verifier accept/refuse table (both sides),
//! CONNECT framing (authority, forwarded, status codes, half-close, bytes both ways), pool reuse
//! and its stream bound. Real TLS and HTTP/2 on real sockets; no mocks.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    SanType, PKCS_ECDSA_P256_SHA256,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;

const TD: &str = "cluster.local";
const CLIENT: &str = "spiffe://cluster.local/ns/shop/sa/web";
const SERVER: &str = "spiffe://cluster.local/ns/shop/sa/api";

struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

fn ca(name: &str) -> Ca {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(rcgen::DnType::CommonName, name);
    p.not_before = date_time_ymd(2024, 1, 1);
    p.not_after = date_time_ymd(2090, 1, 1);
    let cert = p.self_signed(&key).unwrap();
    Ca { cert, key }
}

#[derive(Clone, Copy)]
enum Validity {
    Now,
    Expired,
    Future,
}

/// A leaf for `id` signed by `issuer` (None: self-signed), as PEM chain + key.
fn leaf(id: &str, issuer: Option<&Ca>, v: Validity) -> (Vec<String>, String) {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.subject_alt_names = vec![SanType::URI(id.try_into().unwrap())];
    p.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let (a, b) = match v {
        Validity::Now => ((2025, 1, 1), (2089, 1, 1)),
        Validity::Expired => ((2020, 1, 1), (2021, 1, 1)),
        Validity::Future => ((2080, 1, 1), (2089, 1, 1)),
    };
    p.not_before = date_time_ymd(a.0, a.1, a.2);
    p.not_after = date_time_ymd(b.0, b.1, b.2);
    let cert = match issuer {
        Some(ca) => p.signed_by(&key, &ca.cert, &ca.key).unwrap(),
        None => p.self_signed(&key).unwrap(),
    };
    (vec![cert.pem()], key.serialize_pem())
}

fn store(td: &str, anchors: &[&Ca], ids: Vec<(&str, (Vec<String>, String))>) -> Arc<CertStore> {
    let s = Arc::new(CertStore::new());
    let anchors: Vec<String> = anchors.iter().map(|c| c.cert.pem()).collect();
    let ids = ids
        .into_iter()
        .map(|(id, (chain, key))| IdentityMaterial {
            identity: id.to_string(),
            cert_chain_pem: chain,
            key_pem: key,
        })
        .collect();
    s.update(td, &anchors, ids).unwrap();
    s
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn key() -> PoolKey {
    PoolKey {
        src_identity: Arc::from(CLIENT),
        dst_identity: Arc::from(SERVER),
        dst_node: Arc::from("node-b"),
    }
}

fn pool(certs: Arc<CertStore>, max: usize) -> Pool {
    Pool::new(
        PoolConfig {
            max_streams_per_conn: max,
            connect_timeout: Duration::from_secs(3),
            idle_timeout: Duration::from_secs(60),
            keepalive: Keepalive::default(),
        },
        certs,
    )
}

/// A server that accepts HBONE presenting `SERVER` and echoes every accepted stream; it reports
/// each stream's (authority, forwarded_for, peer identity) and each connection's accept result.
async fn echo_server(
    certs: Arc<CertStore>,
) -> (
    SocketAddrV4,
    tokio::sync::mpsc::UnboundedReceiver<
        Result<(SocketAddrV4, Option<SocketAddrV4>, Arc<str>), String>,
    >,
) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = match l.local_addr().unwrap() {
        std::net::SocketAddr::V4(a) => a,
        _ => unreachable!(),
    };
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = l.accept().await.unwrap();
            let (certs, tx) = (certs.clone(), tx.clone());
            tokio::spawn(async move {
                let mut conn = match accept(tcp, &certs, SERVER, Duration::from_secs(3)).await {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = tx.send(Err(e.code().to_string()));
                        return;
                    }
                };
                let peer = conn.peer_identity();
                while let Some(req) = conn.next().await {
                    let _ = tx.send(Ok((req.authority, req.forwarded_for, peer.clone())));
                    if req.authority.port() == 9 {
                        req.refuse(401);
                        continue;
                    }
                    tokio::spawn(async move {
                        let mut s = req.accept().unwrap();
                        while let Ok(Some(b)) = s.read().await {
                            s.write(b).await.unwrap();
                        }
                        let _ = s.finish();
                    });
                }
            });
        }
    });
    (addr, rx)
}

const AUTH: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 0, 2, 7), 8080);
const FWD: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 0, 1, 5), 40000);

async fn roundtrip(p: &Pool, dial: SocketAddrV4, msg: &[u8]) -> Result<Vec<u8>, HboneError> {
    let mut s = p.connect(&key(), dial, None, AUTH, FWD).await?;
    s.write(Bytes::copy_from_slice(msg)).await?;
    s.finish()?;
    let mut got = Vec::new();
    while let Some(b) = s.read().await? {
        got.extend_from_slice(&b);
    }
    Ok(got)
}

#[test]
fn connect_stream_carries_authority_forwarded_and_bytes() {
    rt().block_on(async {
        let root = ca("root");
        let srv = store(
            TD,
            &[&root],
            vec![(SERVER, leaf(SERVER, Some(&root), Validity::Now))],
        );
        let cli = store(
            TD,
            &[&root],
            vec![(CLIENT, leaf(CLIENT, Some(&root), Validity::Now))],
        );
        let (addr, mut seen) = echo_server(srv).await;
        let p = pool(cli, 100);
        let big = vec![7u8; 5 << 20]; // above the 4 MiB stream window: flow control must work
        assert_eq!(roundtrip(&p, addr, &big).await.unwrap(), big);
        let (a, f, peer) = seen.recv().await.unwrap().unwrap();
        assert_eq!((a, f, &*peer), (AUTH, Some(FWD), CLIENT));
        // a refused stream reports the status and leaves the connection usable
        let r = p
            .connect(&key(), addr, None, SocketAddrV4::new(*AUTH.ip(), 9), FWD)
            .await;
        assert_eq!(r.err().map(|e| e.code()), Some("MESH_ERR_AUTHZ_DENIED"));
        assert_eq!(roundtrip(&p, addr, b"again").await.unwrap(), b"again");
        assert_eq!(p.stats().connections_opened, 1);
    });
}

#[test]
fn pool_reuses_connections_up_to_the_stream_bound() {
    rt().block_on(async {
        let root = ca("root");
        let srv = store(
            TD,
            &[&root],
            vec![(SERVER, leaf(SERVER, Some(&root), Validity::Now))],
        );
        let cli = store(
            TD,
            &[&root],
            vec![(CLIENT, leaf(CLIENT, Some(&root), Validity::Now))],
        );
        let (addr, _seen) = echo_server(srv).await;
        // sequential streams: one connection
        let p = pool(cli.clone(), 2);
        for _ in 0..10 {
            roundtrip(&p, addr, b"x").await.unwrap();
        }
        assert_eq!(p.stats().connections_opened, 1);
        assert_eq!(p.stats().streams_opened, 10);
        // 6 streams held open at once with 2 per connection: exactly 3 connections
        let mut held = Vec::new();
        for _ in 0..6 {
            held.push(p.connect(&key(), addr, None, AUTH, FWD).await.unwrap());
        }
        assert_eq!(p.stats().connections_opened, 3);
        drop(held);
        // concurrent callers of one key share the dial
        let p2 = Arc::new(pool(cli, 100));
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let p2 = p2.clone();
            tasks.push(tokio::spawn(async move {
                roundtrip(&p2, addr, b"c").await.unwrap()
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap(), b"c");
        }
        assert_eq!(p2.stats().connections_opened, 1);
    });
}

#[test]
fn idle_connections_are_closed() {
    rt().block_on(async {
        let root = ca("root");
        let srv = store(
            TD,
            &[&root],
            vec![(SERVER, leaf(SERVER, Some(&root), Validity::Now))],
        );
        let cli = store(
            TD,
            &[&root],
            vec![(CLIENT, leaf(CLIENT, Some(&root), Validity::Now))],
        );
        let (addr, _seen) = echo_server(srv).await;
        let p = Pool::new(
            PoolConfig {
                max_streams_per_conn: 100,
                connect_timeout: Duration::from_secs(3),
                idle_timeout: Duration::from_millis(100),
                keepalive: Keepalive::default(),
            },
            cli,
        );
        roundtrip(&p, addr, b"x").await.unwrap();
        assert_eq!(p.stats().connections_live, 1);
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(p.stats().connections_live, 0);
        roundtrip(&p, addr, b"y").await.unwrap();
        assert_eq!(p.stats().connections_opened, 2);
    });
}

#[test]
fn renewal_and_rotation_retire_pooled_connections_without_cutting_streams() {
    rt().block_on(async {
        let root = ca("root");
        let next_root = ca("next-root");
        let srv = store(
            TD,
            &[&root, &next_root],
            vec![(SERVER, leaf(SERVER, Some(&root), Validity::Now))],
        );
        let cli = store(
            TD,
            &[&root],
            vec![(CLIENT, leaf(CLIENT, Some(&root), Validity::Now))],
        );
        let (addr, _seen) = echo_server(srv).await;
        let p = pool(cli.clone(), 100);
        // a long-lived stream on the first connection
        let mut s1 = p.connect(&key(), addr, None, AUTH, FWD).await.unwrap();
        s1.write(Bytes::from_static(b"a")).await.unwrap();
        assert_eq!(&s1.read().await.unwrap().unwrap()[..], b"a");
        roundtrip(&p, addr, b"same leaf").await.unwrap();
        assert_eq!(
            p.stats().connections_opened,
            1,
            "reused while nothing changed"
        );
        let material = |l: (Vec<String>, String)| IdentityMaterial {
            identity: CLIENT.to_string(),
            cert_chain_pem: l.0,
            key_pem: l.1,
        };
        let pems = |cs: &[&Ca]| cs.iter().map(|c| c.cert.pem()).collect::<Vec<_>>();
        // renewal: a new leaf for the same identity
        cli.update(
            TD,
            &pems(&[&root]),
            vec![material(leaf(CLIENT, Some(&root), Validity::Now))],
        )
        .unwrap();
        roundtrip(&p, addr, b"renewed").await.unwrap();
        assert_eq!(p.stats().connections_opened, 2, "a renewed leaf dials anew");
        roundtrip(&p, addr, b"again").await.unwrap();
        assert_eq!(
            p.stats().connections_opened,
            2,
            "and then reuses that connection"
        );
        // rotation step: the bundle gains an anchor, with the leaf unchanged (same PEM)
        let same = cli.snapshot().identities[CLIENT].fingerprint;
        let (chain, key_pem) = leaf(CLIENT, Some(&next_root), Validity::Now);
        cli.update(
            TD,
            &pems(&[&root, &next_root]),
            vec![material((chain, key_pem))],
        )
        .unwrap();
        assert_ne!(cli.snapshot().identities[CLIENT].fingerprint, same);
        roundtrip(&p, addr, b"rotated").await.unwrap();
        assert_eq!(p.stats().connections_opened, 3, "a new bundle dials anew");
        // the stream opened before all this still flows, on its retired connection
        s1.write(Bytes::from_static(b"b")).await.unwrap();
        assert_eq!(&s1.read().await.unwrap().unwrap()[..], b"b");
        s1.finish().unwrap();
        while s1.read().await.unwrap().is_some() {}
        drop(s1);
        assert!(p.stats().connections_live >= 1);
    });
}

/// A TCP relay to `to` that can be switched to swallow every byte both ways (a peer that vanished
/// without FIN or RST).
async fn blackhole_relay(to: SocketAddrV4) -> (SocketAddrV4, Arc<std::sync::atomic::AtomicBool>) {
    use std::sync::atomic::{AtomicBool, Ordering};
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = match l.local_addr().unwrap() {
        std::net::SocketAddr::V4(a) => a,
        _ => unreachable!(),
    };
    let hole = Arc::new(AtomicBool::new(false));
    let h = hole.clone();
    tokio::spawn(async move {
        loop {
            let (a, _) = l.accept().await.unwrap();
            let b = TcpStream::connect(to).await.unwrap();
            let (mut ar, mut aw) = a.into_split();
            let (mut br, mut bw) = b.into_split();
            let (h1, h2) = (h.clone(), h.clone());
            tokio::spawn(async move {
                let mut buf = [0u8; 16384];
                while let Ok(n) = ar.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    if !h1.load(Ordering::Relaxed) {
                        let _ = bw.write_all(&buf[..n]).await;
                    }
                }
            });
            tokio::spawn(async move {
                let mut buf = [0u8; 16384];
                while let Ok(n) = br.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    if !h2.load(Ordering::Relaxed) {
                        let _ = aw.write_all(&buf[..n]).await;
                    }
                }
            });
        }
    });
    (addr, hole)
}

#[test]
fn keepalive_pings_keep_a_live_peer_and_drop_a_vanished_one() {
    rt().block_on(async {
        let root = ca("root");
        let srv = store(
            TD,
            &[&root],
            vec![(SERVER, leaf(SERVER, Some(&root), Validity::Now))],
        );
        let cli = store(
            TD,
            &[&root],
            vec![(CLIENT, leaf(CLIENT, Some(&root), Validity::Now))],
        );
        let (addr, _seen) = echo_server(srv).await;
        let (via, hole) = blackhole_relay(addr).await;
        let p = Pool::new(
            PoolConfig {
                max_streams_per_conn: 100,
                connect_timeout: Duration::from_secs(3),
                idle_timeout: Duration::from_secs(60),
                keepalive: Keepalive {
                    interval: Duration::from_millis(100),
                    timeout: Duration::from_millis(200),
                },
            },
            cli,
        );
        roundtrip(&p, via, b"x").await.unwrap();
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert_eq!(p.stats().connections_live, 1, "PONGs came back: kept");
        roundtrip(&p, via, b"y").await.unwrap();
        assert_eq!(p.stats().connections_opened, 1);
        hole.store(true, std::sync::atomic::Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(800)).await;
        assert_eq!(
            p.stats().connections_live,
            0,
            "no PONG within the timeout: closed"
        );
        hole.store(false, std::sync::atomic::Ordering::Relaxed);
        roundtrip(&p, via, b"z").await.unwrap();
        assert_eq!(p.stats().connections_opened, 2, "the key dials anew");
    });
}

/// Which side's certificate is bad in a handshake case.
enum Bad {
    Server((Vec<String>, String)),
    Client((Vec<String>, String)),
    /// the server trusts only `other`, so the (good) client chain is unknown to it
    ServerTrustsOther,
    /// the client's trust domain differs from the server's
    ClientDomain,
    /// the server presents a valid certificate of another identity
    WrongServerIdentity,
}

#[test]
fn handshake_accept_refuse_table() {
    rt().block_on(async {
        let root = ca("root");
        let other = ca("other");
        let inter = {
            let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
            let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
            p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            p.not_before = date_time_ymd(2024, 1, 1);
            p.not_after = date_time_ymd(2090, 1, 1);
            let cert = p.signed_by(&key, &root.cert, &root.key).unwrap();
            Ca { cert, key }
        };
        let with_inter = |id: &str| {
            let (mut chain, key) = leaf(id, Some(&inter), Validity::Now);
            chain.push(inter.cert.pem());
            (chain, key)
        };
        let cases: Vec<(&str, Option<Bad>, Option<&str>)> = vec![
            ("good chains", None, None),
            (
                "server expired",
                Some(Bad::Server(leaf(SERVER, Some(&root), Validity::Expired))),
                Some("MESH_ERR_TLS_HANDSHAKE"),
            ),
            (
                "server not yet valid",
                Some(Bad::Server(leaf(SERVER, Some(&root), Validity::Future))),
                Some("MESH_ERR_TLS_HANDSHAKE"),
            ),
            (
                "server self-signed",
                Some(Bad::Server(leaf(SERVER, None, Validity::Now))),
                Some("MESH_ERR_TLS_HANDSHAKE"),
            ),
            (
                "server chain-less (intermediate not sent)",
                Some(Bad::Server(leaf(SERVER, Some(&inter), Validity::Now))),
                Some("MESH_ERR_TLS_HANDSHAKE"),
            ),
            (
                "server with intermediate",
                Some(Bad::Server(with_inter(SERVER))),
                None,
            ),
            (
                "server of another identity",
                Some(Bad::WrongServerIdentity),
                Some("MESH_ERR_PEER_IDENTITY"),
            ),
            (
                "client expired",
                Some(Bad::Client(leaf(CLIENT, Some(&root), Validity::Expired))),
                Some("refused"),
            ),
            (
                "client self-signed",
                Some(Bad::Client(leaf(CLIENT, None, Validity::Now))),
                Some("refused"),
            ),
            (
                "client of another CA",
                Some(Bad::ServerTrustsOther),
                Some("refused"),
            ),
            (
                "client of another trust domain",
                Some(Bad::ClientDomain),
                Some("refused"),
            ),
        ];
        for (name, bad, want) in cases {
            let mut srv_leaf = leaf(SERVER, Some(&root), Validity::Now);
            let mut cli_leaf = leaf(CLIENT, Some(&root), Validity::Now);
            let mut srv_anchors = vec![&root];
            let (mut cli_id, mut srv_id) = (CLIENT, SERVER);
            match bad {
                None => {}
                Some(Bad::Server(l)) => srv_leaf = l,
                Some(Bad::Client(l)) => cli_leaf = l,
                Some(Bad::ServerTrustsOther) => srv_anchors = vec![&other],
                Some(Bad::ClientDomain) => {
                    cli_id = "spiffe://evil.example/ns/shop/sa/web";
                    cli_leaf = leaf(cli_id, Some(&root), Validity::Now);
                }
                Some(Bad::WrongServerIdentity) => {
                    srv_id = "spiffe://cluster.local/ns/shop/sa/impostor";
                    srv_leaf = leaf(srv_id, Some(&root), Validity::Now);
                }
            }
            let srv = store(TD, &srv_anchors, vec![(srv_id, srv_leaf)]);
            let cli_td = if cli_id.contains("evil") {
                "evil.example"
            } else {
                TD
            };
            let cli = store(cli_td, &[&root], vec![(cli_id, cli_leaf)]);
            let (addr, mut seen) = echo_server_as(srv, srv_id).await;
            let p = pool(cli, 100);
            let k = PoolKey {
                src_identity: Arc::from(cli_id),
                ..key()
            };
            let r = async {
                let mut s = p.connect(&k, addr, None, AUTH, FWD).await?;
                s.write(Bytes::from_static(b"hi")).await?;
                s.finish()?;
                s.read().await
            }
            .await;
            match want {
                None => assert_eq!(r.unwrap().as_deref(), Some(&b"hi"[..]), "{name}"),
                Some("refused") => {
                    assert!(r.is_err(), "{name}: client side must fail too");
                    let e = tokio::time::timeout(Duration::from_secs(3), seen.recv())
                        .await
                        .unwrap()
                        .unwrap();
                    assert!(e.is_err(), "{name}: the server must refuse the handshake");
                }
                Some(code) => assert_eq!(r.err().map(|e| e.code()), Some(code), "{name}"),
            }
        }
    });
}

/// As `echo_server`, presenting `identity`.
async fn echo_server_as(
    certs: Arc<CertStore>,
    identity: &'static str,
) -> (
    SocketAddrV4,
    tokio::sync::mpsc::UnboundedReceiver<Result<Arc<str>, String>>,
) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = match l.local_addr().unwrap() {
        std::net::SocketAddr::V4(a) => a,
        _ => unreachable!(),
    };
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = l.accept().await {
            let (certs, tx) = (certs.clone(), tx.clone());
            tokio::spawn(async move {
                match accept(tcp, &certs, identity, Duration::from_secs(3)).await {
                    Err(e) => {
                        let _ = tx.send(Err(e.code().to_string()));
                    }
                    Ok(mut conn) => {
                        let _ = tx.send(Ok(conn.peer_identity()));
                        while let Some(req) = conn.next().await {
                            tokio::spawn(async move {
                                let mut s = req.accept().unwrap();
                                while let Ok(Some(b)) = s.read().await {
                                    s.write(b).await.unwrap();
                                }
                                let _ = s.finish();
                            });
                        }
                    }
                }
            });
        }
    });
    (addr, rx)
}

#[test]
fn garbage_and_plain_tcp_close_only_that_connection() {
    rt().block_on(async {
        let root = ca("root");
        let srv = store(
            TD,
            &[&root],
            vec![(SERVER, leaf(SERVER, Some(&root), Validity::Now))],
        );
        let cli = store(
            TD,
            &[&root],
            vec![(CLIENT, leaf(CLIENT, Some(&root), Validity::Now))],
        );
        let (addr, mut seen) = echo_server_as(srv, SERVER).await;
        let mut t = TcpStream::connect(addr).await.unwrap();
        t.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(3), t.read_to_end(&mut buf)).await;
        let e = seen.recv().await.unwrap();
        assert_eq!(e.err().as_deref(), Some("MESH_ERR_TLS_HANDSHAKE"));
        // the listener still serves a proper client
        let p = pool(cli, 100);
        assert_eq!(roundtrip(&p, addr, b"ok").await.unwrap(), b"ok");
    });
}
