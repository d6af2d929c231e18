//! Detection by reading (an HBONE stream cannot be peeked) and the replaying, counting stream
//! the inbound HTTP server runs on.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{detect_read, Prefixed};
use crate::l7::detect::Detected;
use crate::l7::io::Counts;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn detect_read_decides_on_bytes_split_across_reads_and_keeps_them() {
    rt().block_on(async {
        let (mut a, mut b) = tokio::io::duplex(64);
        let w = tokio::spawn(async move {
            a.write_all(b"GE").await.unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
            a.write_all(b"T /x HTTP/1.1\r\nhost: a\r\n\r\n")
                .await
                .unwrap();
            a
        });
        let (d, prefix) = detect_read(&mut b, Duration::from_secs(2)).await;
        assert_eq!(d, Detected::Http1);
        assert!(b"GET /x HTTP/1.1\r\nhost: a\r\n\r\n".starts_with(&prefix));
        drop(w.await.unwrap());
    });
}

#[test]
fn detect_read_table() {
    let cases: &[(&[u8], Detected)] = &[
        (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", Detected::H2c),
        (b"\x16\x03\x01\x02\x00\x01", Detected::Tls),
        (b"hello world, not http at all", Detected::Tcp),
        (b"GET key\r\n", Detected::Tcp),
    ];
    for (bytes, want) in cases {
        rt().block_on(async {
            let (mut a, mut b) = tokio::io::duplex(64);
            a.write_all(bytes).await.unwrap();
            let (d, prefix) = detect_read(&mut b, Duration::from_secs(2)).await;
            assert_eq!(d, *want, "{:?}", String::from_utf8_lossy(bytes));
            assert!(bytes.starts_with(&prefix));
        });
    }
}

#[test]
fn a_silent_or_closed_peer_is_tcp_at_the_bound() {
    rt().block_on(async {
        let (_a, mut b) = tokio::io::duplex(64);
        let t = Instant::now();
        let (d, prefix) = detect_read(&mut b, Duration::from_millis(50)).await;
        assert_eq!((d, prefix.len()), (Detected::Tcp, 0));
        assert!(t.elapsed() >= Duration::from_millis(50) && t.elapsed() < Duration::from_secs(1));
        let (a, mut b) = tokio::io::duplex(64);
        drop(a);
        let (d, _) = detect_read(&mut b, Duration::from_secs(5)).await;
        assert_eq!(d, Detected::Tcp);
    });
}

#[test]
fn prefixed_replays_then_reads_on_and_counts_both_ways() {
    rt().block_on(async {
        let (mut a, b) = tokio::io::duplex(64);
        let counts = Arc::new(Counts::default());
        let mut p = Prefixed::new(b, b"abc".to_vec(), counts.clone());
        a.write_all(b"def").await.unwrap();
        drop(a.shutdown().await);
        let mut got = Vec::new();
        let mut buf = [0u8; 2];
        loop {
            let n = p.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, b"abcdef");
        assert_eq!(counts.up.load(Ordering::Relaxed), 6);
        p.write_all(b"xyz1").await.unwrap();
        assert_eq!(counts.down.load(Ordering::Relaxed), 4);
        let mut back = [0u8; 4];
        a.read_exact(&mut back).await.unwrap();
        assert_eq!(&back, b"xyz1");
    });
}
