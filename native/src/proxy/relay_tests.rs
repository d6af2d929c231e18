//! Relay tests on plain loopback TCP (no privileges): counts, half-close each way, a 20 MB
//! checksummed transfer, bounded memory under a stalled receiver, reset propagation; each runs
//! for both the splice and the copy relay. The ignored `throughput_1gib` test measures both.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::conn::reset;
use super::relay::{relay, CloseReason, Mode, Tally};
use super::splice::Pipe;

const MODES: [Mode; 2] = [Mode::Splice, Mode::Copy];

async fn pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    let (b, _) = l.accept().await.unwrap();
    (a, b)
}

/// app client ⇄ [relay] ⇄ app server. The relay task resets both sockets unless it ended in
/// `Eof`, exactly as a connection's state does on drop.
async fn relayed(
    mode: Mode,
    max: usize,
) -> (TcpStream, TcpStream, JoinHandle<(CloseReason, Tally)>) {
    relayed_with(mode, max, None).await
}

/// As `relayed`; `kbuf` pins SO_SNDBUF/SO_RCVBUF of all four sockets (no autotuning), so that
/// what the kernel buffers is small and known.
async fn relayed_with(
    mode: Mode,
    max: usize,
    kbuf: Option<usize>,
) -> (TcpStream, TcpStream, JoinHandle<(CloseReason, Tally)>) {
    let (client, p_client) = pair().await;
    let (p_up, server) = pair().await;
    if let Some(k) = kbuf {
        for s in [&client, &p_client, &p_up, &server] {
            let r = socket2::SockRef::from(s);
            r.set_send_buffer_size(k).unwrap();
            r.set_recv_buffer_size(k).unwrap();
        }
    }
    let h = tokio::spawn(async move {
        let mut t = Tally::default();
        let r = relay(&p_client, &p_up, mode, max, &mut t).await;
        if r != CloseReason::Eof {
            reset(&p_client);
            reset(&p_up);
        }
        (r, t)
    });
    (client, server, h)
}

/// Deterministic pseudo-random bytes (xorshift) and an order-sensitive checksum (FNV-1a).
fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn fnv(h: u64, bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(h, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3))
}

const FNV0: u64 = 0xcbf2_9ce4_8422_2325;

async fn read_all_sum(s: &mut TcpStream) -> (usize, u64) {
    let mut buf = vec![0u8; 64 * 1024];
    let (mut n, mut h) = (0, FNV0);
    loop {
        let m = s.read(&mut buf).await.unwrap();
        if m == 0 {
            return (n, h);
        }
        n += m;
        h = fnv(h, &buf[..m]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_bytes_and_ends_in_eof() {
    for mode in MODES {
        let (mut c, mut s, h) = relayed(mode, 256 * 1024).await;
        c.write_all(&[7u8; 1000]).await.unwrap();
        c.shutdown().await.unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).await.unwrap();
        assert_eq!(got.len(), 1000, "{mode:?}");
        s.write_all(&[9u8; 500]).await.unwrap();
        s.shutdown().await.unwrap();
        got.clear();
        c.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, vec![9u8; 500]);
        let (r, t) = h.await.unwrap();
        assert_eq!((r, t.up, t.down), (CloseReason::Eof, 1000, 500), "{mode:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_close_from_the_client_keeps_the_reply_flowing() {
    for mode in MODES {
        let (mut c, mut s, h) = relayed(mode, 64 * 1024).await;
        c.write_all(b"request").await.unwrap();
        c.shutdown().await.unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"request");
        // The server saw EOF; it answers afterwards, in several writes.
        for _ in 0..10 {
            s.write_all(&[1u8; 10_000]).await.unwrap();
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        s.shutdown().await.unwrap();
        got.clear();
        c.read_to_end(&mut got).await.unwrap();
        assert_eq!(got.len(), 100_000, "{mode:?}");
        let (r, t) = h.await.unwrap();
        assert_eq!(
            (r, t.up, t.down),
            (CloseReason::Eof, 7, 100_000),
            "{mode:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_close_from_the_upstream_keeps_the_request_flowing() {
    for mode in MODES {
        let (mut c, mut s, h) = relayed(mode, 64 * 1024).await;
        s.write_all(b"banner").await.unwrap();
        s.shutdown().await.unwrap();
        let mut got = Vec::new();
        c.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"banner");
        c.write_all(&[2u8; 70_000]).await.unwrap();
        c.shutdown().await.unwrap();
        got.clear();
        s.read_to_end(&mut got).await.unwrap();
        assert_eq!(got.len(), 70_000, "{mode:?}");
        let (r, t) = h.await.unwrap();
        assert_eq!((r, t.up, t.down), (CloseReason::Eof, 70_000, 6), "{mode:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_megabytes_each_way_arrive_intact() {
    const N: usize = 20 * 1000 * 1000;
    let up = data(N, 1);
    let down = data(N, 2);
    let (up_sum, down_sum) = (fnv(FNV0, &up), fnv(FNV0, &down));
    for mode in MODES {
        let (c, s, h) = relayed(mode, 256 * 1024).await;
        let (mut cr, mut cw) = c.into_split();
        let (mut sr, mut sw) = s.into_split();
        let (u, d) = (up.clone(), down.clone());
        let w1 = tokio::spawn(async move {
            cw.write_all(&u).await.unwrap();
            cw.shutdown().await.unwrap();
        });
        let w2 = tokio::spawn(async move {
            sw.write_all(&d).await.unwrap();
            sw.shutdown().await.unwrap();
        });
        let r1 = tokio::spawn(async move {
            let mut v = Vec::new();
            sr.read_to_end(&mut v).await.unwrap();
            (v.len(), fnv(FNV0, &v))
        });
        let mut v = Vec::new();
        cr.read_to_end(&mut v).await.unwrap();
        assert_eq!((v.len(), fnv(FNV0, &v)), (N, down_sum), "{mode:?} down");
        assert_eq!(r1.await.unwrap(), (N, up_sum), "{mode:?} up");
        w1.await.unwrap();
        w2.await.unwrap();
        let (r, t) = h.await.unwrap();
        assert_eq!(
            (r, t.up, t.down),
            (CloseReason::Eof, N as u64, N as u64),
            "{mode:?}"
        );
        assert!(t.peak_up as usize <= 256 * 1024 && t.peak_down as usize <= 256 * 1024);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_receiver_bounds_memory_and_stalls_only_its_connection() {
    const MAX: usize = 64 * 1024;
    const N: usize = 32 * 1024 * 1024;
    for mode in MODES {
        // Kernel buffers pinned at 64 KiB: at most ~4 × 128 KiB (the kernel doubles the value)
        // sit in sockets, so a writer that gets further than 2 MiB was not held back.
        let (c, mut s, h) = relayed_with(mode, MAX, Some(64 * 1024)).await;
        let (_cr, mut cw) = c.into_split();
        let payload = data(N, 3);
        let want = fnv(FNV0, &payload);
        let (tx, mut rx) = tokio::sync::watch::channel(0usize);
        let writer = tokio::spawn(async move {
            for chunk in payload.chunks(64 * 1024) {
                cw.write_all(chunk).await.unwrap();
                tx.send_modify(|n| *n += chunk.len());
            }
            cw.shutdown().await.unwrap();
        });
        // The server does not read: the writer must stall far below N.
        let mut last = 0;
        loop {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let now = *rx.borrow_and_update();
            if now == last {
                break;
            }
            last = now;
        }
        assert!(
            last < 2 << 20,
            "{mode:?}: writer was not held back ({last} bytes written)"
        );
        // Another connection through the same runtime is unaffected.
        let (mut c2, mut s2, h2) = relayed(mode, MAX).await;
        c2.write_all(&[5u8; 300_000]).await.unwrap();
        c2.shutdown().await.unwrap();
        let mut got = Vec::new();
        s2.read_to_end(&mut got).await.unwrap();
        s2.shutdown().await.unwrap();
        assert_eq!(got.len(), 300_000);
        assert_eq!(h2.await.unwrap().0, CloseReason::Eof);
        // Resume reading: everything arrives, and the relay never held more than the bound.
        let (n, sum) = read_all_sum(&mut s).await;
        assert_eq!((n, sum), (N, want), "{mode:?}");
        writer.await.unwrap();
        s.shutdown().await.unwrap();
        let (r, t) = h.await.unwrap();
        assert_eq!((r, t.up), (CloseReason::Eof, N as u64));
        assert!(
            t.peak_up as usize <= MAX,
            "{mode:?}: held {} > {MAX}",
            t.peak_up
        );
        assert!(t.peak_up > 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_on_one_side_resets_the_other_and_keeps_counts() {
    for mode in MODES {
        // Upstream resets after receiving data: the client sees a reset, not a clean EOF.
        let (mut c, mut s, h) = relayed(mode, 64 * 1024).await;
        c.write_all(&[3u8; 1234]).await.unwrap();
        let mut buf = [0u8; 1234];
        s.read_exact(&mut buf).await.unwrap();
        reset(&s);
        drop(s);
        let (r, t) = h.await.unwrap();
        assert_eq!((r, t.up), (CloseReason::ResetUpstream, 1234), "{mode:?}");
        let e = c.read(&mut buf).await.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{mode:?}");

        // The client resets: the server sees a reset.
        let (c, mut s, h) = relayed(mode, 64 * 1024).await;
        s.write_all(&[4u8; 999]).await.unwrap();
        let mut c = c;
        let mut b2 = [0u8; 999];
        c.read_exact(&mut b2).await.unwrap();
        reset(&c);
        drop(c);
        let (r, t) = h.await.unwrap();
        assert_eq!((r, t.down), (CloseReason::ResetClient, 999), "{mode:?}");
        let e = s.read(&mut b2).await.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{mode:?}");
    }
}

#[test]
fn pipes_never_exceed_the_bound() {
    for max in [4096, 5000, 65_536, 100_000, 256 * 1024, 1 << 20] {
        let p = Pipe::new(max).unwrap();
        assert!(
            p.capacity() <= max && p.capacity() * 2 > max,
            "{max} -> {}",
            p.capacity()
        );
    }
}

/// One-stream throughput, 1 GiB, writer → [relay] → reader, plus the direct path as baseline.
/// Run: cargo test --release -- --ignored throughput --nocapture
#[test]
#[ignore]
fn throughput_1gib() {
    const TOTAL: usize = 1 << 30;
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let max: usize = std::env::var("MAXBUF")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256 * 1024);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    for round in 0..rounds {
        for mode in [None, Some(Mode::Splice), Some(Mode::Copy)] {
            let (mut w, mut r, h) = rt.block_on(async {
                let (c, s, h) = match mode {
                    Some(m) => {
                        let (c, s, h) = relayed(m, max).await;
                        (c, s, Some(h))
                    }
                    None => {
                        let (c, s) = pair().await;
                        (c, s, None)
                    }
                };
                (c.into_std().unwrap(), s.into_std().unwrap(), h)
            });
            w.set_nonblocking(false).unwrap();
            r.set_nonblocking(false).unwrap();
            let start = Instant::now();
            let writer = std::thread::spawn(move || {
                let chunk = vec![0x5au8; 256 * 1024];
                for _ in 0..TOTAL / chunk.len() {
                    w.write_all(&chunk).unwrap();
                }
                w.shutdown(std::net::Shutdown::Write).unwrap();
                w
            });
            let mut buf = vec![0u8; 256 * 1024];
            let mut n = 0;
            loop {
                let m = r.read(&mut buf).unwrap();
                if m == 0 {
                    break;
                }
                n += m;
            }
            let secs = start.elapsed().as_secs_f64();
            assert_eq!(n, TOTAL);
            drop(r);
            drop(writer.join().unwrap());
            if let Some(h) = h {
                let (reason, t) = rt.block_on(h).unwrap();
                assert_eq!((reason, t.up), (CloseReason::Eof, TOTAL as u64));
            }
            let name = mode.map_or(
                "direct",
                |m| if m == Mode::Splice { "splice" } else { "copy" },
            );
            println!(
                "round {round} {name:6} {:6.2} Gbit/s ({secs:.3} s, bound {max})",
                TOTAL as f64 * 8.0 / secs / 1e9
            );
        }
    }
}
