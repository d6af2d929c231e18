//! Detection: classify on every shape (table), every split of each shape (a prefix never decides
//! differently from the whole), and sniff on real loopback sockets: client-first, a silent client
//! (TCP after the bound, not before), EOF, a split request head, and no byte consumed.

use super::*;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use Detected::{H2c, Http1, Tcp, Tls};

/// (name, bytes, decision once all of them are in)
const CASES: &[(&str, &[u8], Option<Detected>)] = &[
    (
        "GET origin-form",
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        Some(Http1),
    ),
    ("HEAD", b"HEAD /x HTTP/1.1\r\n", Some(Http1)),
    ("POST", b"POST /api HTTP/1.1\r\n", Some(Http1)),
    ("PUT", b"PUT /a HTTP/1.0\r\n", Some(Http1)),
    ("DELETE", b"DELETE /a HTTP/1.1\r\n", Some(Http1)),
    ("PATCH", b"PATCH /a HTTP/1.1\r\n", Some(Http1)),
    ("TRACE", b"TRACE / HTTP/1.1\r\n", Some(Http1)),
    (
        "OPTIONS asterisk-form",
        b"OPTIONS * HTTP/1.1\r\n",
        Some(Http1),
    ),
    (
        "OPTIONS origin-form",
        b"OPTIONS /x HTTP/1.1\r\n",
        Some(Http1),
    ),
    (
        "CONNECT authority-form",
        b"CONNECT example.com:443 HTTP/1.1\r\n",
        Some(Http1),
    ),
    (
        "CONNECT IPv6 authority",
        b"CONNECT [::1]:443 HTTP/1.1\r\n",
        Some(Http1),
    ),
    (
        "absolute-form http",
        b"GET http://a.b/ HTTP/1.1\r\n",
        Some(Http1),
    ),
    (
        "absolute-form https",
        b"GET https://a.b/ HTTP/1.1\r\n",
        Some(Http1),
    ),
    (
        "WebDAV extension method",
        b"PROPFIND /d HTTP/1.1\r\n",
        Some(Http1),
    ),
    (
        "15-byte extension method",
        b"VERSION-CONTROL /d HTTP/1.1\r\n",
        Some(Http1),
    ),
    (
        "15-byte method, absolute https",
        b"VERSION-CONTROL https://a/ HTTP/1.1\r\n",
        Some(Http1),
    ),
    (
        "16-byte method: over the bound",
        b"BASELINE-CONTROL /d HTTP/1.1\r\n",
        Some(Tcp),
    ),
    (
        "PRI as an HTTP/1 extension method",
        b"PRI /x HTTP/1.1\r\n",
        Some(Http1),
    ),
    (
        "h2c preface",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        Some(H2c),
    ),
    (
        "h2c preface then a SETTINGS frame",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00",
        Some(H2c),
    ),
    (
        "preface broken at the end",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\r",
        Some(Tcp),
    ),
    ("PRI * as HTTP/1", b"PRI * HTTP/1.1\r\n", Some(Tcp)),
    (
        "TLS 1.0 record (ClientHello)",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
        Some(Tls),
    ),
    ("TLS 1.2 record", b"\x16\x03\x03\x00\x2a", Some(Tls)),
    ("SSL 3.0 record", b"\x16\x03\x00\x00\x2a", Some(Tls)),
    ("0x16 not TLS (major 2)", b"\x16\x02\x01", Some(Tcp)),
    ("0x16 0x03 minor 5", b"\x16\x03\x05", Some(Tcp)),
    (
        "TLS alert record is not a ClientHello",
        b"\x15\x03\x03\x00\x02",
        Some(Tcp),
    ),
    ("Redis RESP", b"*1\r\n$4\r\nPING\r\n", Some(Tcp)),
    ("Redis inline GET key", b"GET key\r\n", Some(Tcp)),
    ("memcached text", b"get k\r\n", Some(Tcp)),
    ("SSH banner", b"SSH-2.0-OpenSSH_9.6\r\n", Some(Tcp)),
    (
        "lowercase token then path",
        b"get / HTTP/1.1\r\n",
        Some(Http1),
    ),
    ("method then two spaces", b"GET  / HTTP/1.1\r\n", Some(Tcp)),
    ("method then tab", b"GET\t/ HTTP/1.1\r\n", Some(Tcp)),
    (
        "leading CRLF (RFC 9112 allows, we pass as TCP)",
        b"\r\nGET / HTTP/1.1\r\n",
        Some(Tcp),
    ),
    ("binary", b"\x00\x01\x02\x03", Some(Tcp)),
    (
        "CONNECT to a path: malformed HTTP (the server answers 400)",
        b"CONNECT /x HTTP/1.1\r\n",
        Some(Http1),
    ),
    ("asterisk for GET", b"GET * HTTP/1.1\r\n", Some(Tcp)),
    (
        "absolute-form with another scheme",
        b"GET ftp://a/ HTTP/1.1\r\n",
        Some(Tcp),
    ),
    ("h then not a scheme", b"GET hello HTTP/1.1\r\n", Some(Tcp)),
    ("empty", b"", None),
    ("method alone", b"GET", None),
    ("method and space", b"GET ", None),
    ("preface prefix", b"PRI * HTTP/2.0\r\n", None),
    ("PRI and space", b"PRI ", None),
    ("TLS first byte", b"\x16", None),
    ("TLS two bytes", b"\x16\x03", None),
    ("absolute-form prefix", b"GET http:/", None),
    ("absolute-form https prefix", b"GET https:/", None),
    ("15 tchars, undecided", b"VERSION-CONTROL", None),
    ("16 tchars", b"ABCDEFGHIJKLMNOP", Some(Tcp)),
];

#[test]
fn classify_table() {
    for (name, bytes, want) in CASES {
        assert_eq!(classify(bytes), *want, "{name}");
    }
}

/// Every prefix either needs more or already says what the whole says (split reads), and the
/// decision never needs more than DETECT_BYTES.
#[test]
fn classify_split_reads_agree_with_the_whole() {
    for (name, bytes, want) in CASES {
        let Some(want) = want else { continue };
        let mut decided_at = None;
        for i in 0..=bytes.len() {
            match classify(&bytes[..i]) {
                None => assert!(
                    decided_at.is_none(),
                    "{name}: prefix {i} undecided after deciding"
                ),
                Some(d) => {
                    assert_eq!(d, *want, "{name}: prefix of {i} bytes");
                    decided_at.get_or_insert(i);
                }
            }
        }
        let at = decided_at.unwrap_or_else(|| panic!("{name}: never decided"));
        assert!(at <= DETECT_BYTES, "{name}: decided only at {at} bytes");
    }
}

#[test]
fn classify_never_reads_past_the_bound() {
    let mut long = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    long.extend_from_slice(&[0xff; 1000]);
    assert_eq!(classify(&long), Some(H2c));
    assert_eq!(classify(&[b'A'; 4096]), Some(Tcp));
    // 24 bytes always decide, whatever they are
    for b in 0..=255u8 {
        assert!(classify(&[b; DETECT_BYTES]).is_some(), "byte {b:#x}");
    }
}

async fn pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    let (s, _) = l.accept().await.unwrap();
    (c, s)
}

#[tokio::test]
async fn sniff_client_first_decides_at_once_and_consumes_nothing() {
    for (bytes, want) in [
        (&b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"[..], Http1),
        (&b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"[..], H2c),
        (&b"\x16\x03\x01\x00\x05hello"[..], Tls),
        (&b"*1\r\n$4\r\nPING\r\n"[..], Tcp),
    ] {
        let (mut c, mut s) = pair().await;
        c.write_all(bytes).await.unwrap();
        let t = std::time::Instant::now();
        assert_eq!(sniff(&s, Duration::from_secs(5)).await, want);
        assert!(
            t.elapsed() < Duration::from_millis(500),
            "{want:?} took {:?}",
            t.elapsed()
        );
        let mut got = vec![0u8; bytes.len()];
        s.read_exact(&mut got).await.unwrap();
        assert_eq!(got, bytes, "sniff must not consume");
    }
}

#[tokio::test]
async fn sniff_silent_client_is_tcp_after_the_bound() {
    let (_c, s) = pair().await;
    let bound = Duration::from_millis(150);
    let t = std::time::Instant::now();
    assert_eq!(sniff(&s, bound).await, Tcp);
    let took = t.elapsed();
    assert!(took >= bound, "gave up early: {took:?}");
    assert!(
        took < bound + Duration::from_millis(300),
        "stalled past the bound: {took:?}"
    );
}

#[tokio::test]
async fn sniff_eof_is_tcp_at_once() {
    let (c, s) = pair().await;
    drop(c);
    let t = std::time::Instant::now();
    assert_eq!(sniff(&s, Duration::from_secs(5)).await, Tcp);
    assert!(t.elapsed() < Duration::from_millis(500));
}

#[tokio::test]
async fn sniff_split_head_waits_for_the_rest() {
    let (mut c, mut s) = pair().await;
    c.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
    let writer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(30)).await;
        c.write_all(b"\r\nSM\r\n\r\n").await.unwrap();
        c
    });
    assert_eq!(sniff(&s, Duration::from_secs(2)).await, H2c);
    let _c = writer.await.unwrap();
    let mut got = [0u8; 24];
    s.read_exact(&mut got).await.unwrap();
    assert_eq!(&got, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
}

#[tokio::test]
async fn sniff_partial_head_then_silence_is_tcp_after_the_bound() {
    let (mut c, s) = pair().await;
    c.write_all(b"GET").await.unwrap();
    let bound = Duration::from_millis(120);
    let t = std::time::Instant::now();
    assert_eq!(sniff(&s, bound).await, Tcp);
    assert!(
        t.elapsed() >= bound && t.elapsed() < bound + Duration::from_millis(300),
        "{:?}",
        t.elapsed()
    );
}

#[tokio::test]
async fn sniff_partial_head_completed_just_before_the_bound() {
    let (mut c, s) = pair().await;
    c.write_all(b"GET").await.unwrap();
    let w = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(60)).await;
        c.write_all(b" /x HTTP/1.1\r\n\r\n").await.unwrap();
        c
    });
    assert_eq!(sniff(&s, Duration::from_millis(100)).await, Http1);
    let _c = w.await.unwrap();
}

/// An independent statement of the rules for a decided (≥ 24 bytes) input, written with a regex.
fn oracle(buf: &[u8]) -> Detected {
    const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    if buf.starts_with(PREFACE) {
        return H2c;
    }
    if buf[0] == 0x16 {
        return if buf[1] == 3 && buf[2] <= 4 { Tls } else { Tcp };
    }
    let re = regex::bytes::Regex::new(r"(?-u)^([!#$%&'*+\-.^_`|~0-9A-Za-z]{1,15}) (.)").unwrap();
    let Some(c) = re.captures(buf) else {
        return Tcp;
    };
    let (method, t) = (&c[1], c[2][0]);
    let rest = &buf[method.len() + 1..];
    let http = t == b'/'
        || (t == b'*' && method == b"OPTIONS")
        || (method == b"CONNECT" && (t.is_ascii_alphanumeric() || t == b'['))
        || (method != b"CONNECT"
            && (rest.starts_with(b"http://") || rest.starts_with(b"https://")));
    if http {
        Http1
    } else {
        Tcp
    }
}

/// Stable-Rust fuzzing (cargo fuzz needs nightly; native/fuzz has the libFuzzer target): seeded
/// mutations of every table input, random tokens and random bytes. Checked: no panic, 24 bytes
/// always decide, only the first 24 bytes matter, a prefix never contradicts the whole, and a
/// decided input agrees with the regex oracle.
#[test]
fn classify_randomized_against_the_oracle() {
    let mut rng = fastrand::Rng::with_seed(0x5eed);
    let seeds: Vec<Vec<u8>> = CASES.iter().map(|c| c.1.to_vec()).collect();
    let tchars: &[u8] =
        b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut decided = [0usize; 4];
    for i in 0..200_000 {
        let mut buf = match i % 4 {
            0 => (0..rng.usize(0..40)).map(|_| rng.u8(..)).collect(),
            1 => {
                let mut b: Vec<u8> = (0..rng.usize(1..18))
                    .map(|_| tchars[rng.usize(..tchars.len())])
                    .collect();
                b.push(b' ');
                b.extend((0..rng.usize(0..12)).map(|_| *b"/*h[x:tps".get(rng.usize(..9)).unwrap()));
                b
            }
            _ => seeds[rng.usize(..seeds.len())].clone(),
        };
        for _ in 0..rng.usize(0..4) {
            match rng.u8(0..5) {
                0 if !buf.is_empty() => {
                    let j = rng.usize(..buf.len());
                    buf[j] ^= 1 << rng.u8(0..8);
                }
                1 => buf.insert(rng.usize(..=buf.len()), rng.u8(..)),
                2 if !buf.is_empty() => {
                    buf.remove(rng.usize(..buf.len()));
                }
                3 => buf.truncate(rng.usize(..=buf.len())),
                _ => buf.extend_from_slice(&seeds[rng.usize(..seeds.len())]),
            }
        }
        let whole = classify(&buf);
        if buf.len() >= DETECT_BYTES {
            let d = whole.unwrap_or_else(|| panic!("24 bytes undecided: {buf:?}"));
            assert_eq!(
                classify(&buf[..DETECT_BYTES]),
                whole,
                "bytes past 24 mattered: {buf:?}"
            );
            assert_eq!(
                d,
                oracle(&buf),
                "oracle disagrees on {:?}",
                String::from_utf8_lossy(&buf)
            );
        }
        let mut seen = None;
        for j in 0..=buf.len().min(DETECT_BYTES) {
            match (classify(&buf[..j]), seen) {
                (Some(d), None) => seen = Some(d),
                (Some(d), Some(s)) => assert_eq!(d, s, "prefix {j} of {buf:?} changed its mind"),
                (None, Some(_)) => panic!("prefix {j} of {buf:?} undecided after deciding"),
                (None, None) => {}
            }
        }
        if let (Some(w), Some(s)) = (whole, seen) {
            assert_eq!(w, s);
        }
        if let Some(d) = whole {
            decided[d as usize] += 1;
        }
    }
    // the generator reaches every outcome
    assert!(decided.iter().all(|n| *n > 100), "{decided:?}");
}
