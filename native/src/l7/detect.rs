//! Protocol detection of a captured outbound connection: `classify` decides from at most the first
//! 24 bytes (HTTP/1.x request line, h2c prior-knowledge preface, TLS record header, else TCP) and
//! `sniff` peeks (never consumes) until it decides, EOF, or the bound passes. Pure apart from the
//! peek; every doubt resolves to `Tcp`, which is always safe (the bytes are relayed untouched).
//!
//! API: `classify(&[u8]) -> Option<Detected>` (None: need more bytes),
//! `sniff(&TcpStream, Duration) -> Detected`, `DEFAULT_DETECT_TIMEOUT`.
//!
//! Default bound: 100 ms ([`DEFAULT_DETECT_TIMEOUT`]). A client-first client (HTTP, gRPC, TLS)
//! writes as soon as its connect completes (an in-cluster RTT: typically under a millisecond, a
//! few ms on a loaded node), so 100 ms leaves ample slack before an HTTP client is taken for TCP.
//! The bound is paid in full only by connections whose client stays silent: server-first protocols
//! (MySQL, SMTP, FTP, POP3/IMAP wait for the server's greeting, which cannot come before we pick an
//! upstream) see their greeting 100 ms late, once per connection; their connections are long-lived
//! or pooled, and 100 ms sits below their clients' connect timeouts (MySQL 10 s, SMTP minutes) and
//! below what a person notices. 300 ms (the cap) would triple that cost for no client-first
//! client we know of; much less than 100 ms starts to misdetect clients that connect before they
//! have a request (a pool warming up, a GC pause after connect), which then lose L7 for the whole
//! connection. Such ports should say `appProtocol: tcp` or `nodemesh.io/opaque-ports` and skip
//! detection entirely (Linkerd marks 25, 587, 3306, 4444, 5432, 6379, 9300, 11211 opaque by default).

use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// The recommended detection bound (see the module comment).
pub const DEFAULT_DETECT_TIMEOUT: Duration = Duration::from_millis(100);

/// How many bytes can decide: the h2c preface is the longest shape.
pub const DETECT_BYTES: usize = 24;

/// HTTP/2 connection preface (RFC 9113 §3.4).
const H2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Longest method token we accept: with " https://" (9 bytes) the decision fits in 24 bytes.
/// Covers every method in the IANA registry except BASELINE-CONTROL, UPDATEREDIRECTREF (TCP then).
const MAX_METHOD: usize = 15;

/// What the first bytes of a connection are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Detected {
    /// an HTTP/1.x request line
    Http1,
    /// the HTTP/2 prior-knowledge preface (h2c, gRPC without TLS)
    H2c,
    /// a TLS handshake record from the application: relayed as TCP (we cannot read inside it)
    Tls,
    /// anything else, a silent client, or EOF
    Tcp,
}

/// RFC 9110 §5.6.2 tchar.
fn tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// `rest` is a prefix of `whole`, or `whole` a prefix of `rest`: Some(true) when `rest` holds it all.
fn prefix_state(rest: &[u8], whole: &[u8]) -> Option<bool> {
    let n = rest.len().min(whole.len());
    if rest[..n] != whole[..n] {
        return None;
    }
    Some(rest.len() >= whole.len())
}

/// Decide from the first bytes; None means "a longer read could still decide otherwise". Never
/// looks past [`DETECT_BYTES`] bytes, so a caller that holds 24 bytes always gets Some.
pub fn classify(buf: &[u8]) -> Option<Detected> {
    let buf = &buf[..buf.len().min(DETECT_BYTES)];
    let first = *buf.first()?;
    if first == 0x16 {
        // TLS record: ContentType handshake(22), ProtocolVersion {3, 0..=4} (RFC 8446 §5.1)
        return match buf.get(1..3) {
            None if buf.len() == 1 || buf[1] == 0x03 => None,
            Some([0x03, minor]) if *minor <= 0x04 => Some(Detected::Tls),
            _ => Some(Detected::Tcp),
        };
    }
    if let Some(done) = prefix_state(buf, H2_PREFACE) {
        // still a prefix: wait (a divergence, "PRI /x HTTP/1.1", is judged as HTTP/1 below)
        return if done { Some(Detected::H2c) } else { None };
    }
    http1(buf)
}

/// `METHOD SP target-start` (RFC 9112 §3): origin-form `/`, absolute-form `http://` or `https://`,
/// `*` for OPTIONS (asterisk-form), a host byte for CONNECT (authority-form). Any token is a method
/// (RFC 9110 §9 and PATCH, WebDAV's PROPFIND, MKCOL, … and extensions): the target's shape is the
/// evidence, so a text protocol that also starts with a word ("GET key" inline Redis, memcached's
/// "get k") stays TCP.
fn http1(buf: &[u8]) -> Option<Detected> {
    let method_len = buf
        .iter()
        .take(MAX_METHOD + 1)
        .take_while(|b| tchar(**b))
        .count();
    if method_len == buf.len() && method_len <= MAX_METHOD {
        return None; // still inside the method token
    }
    if method_len == 0 || method_len > MAX_METHOD || buf[method_len] != b' ' {
        return Some(Detected::Tcp);
    }
    let method = &buf[..method_len];
    let target = &buf[method_len + 1..];
    let &t0 = target.first()?;
    let http = match t0 {
        b'/' => true,
        b'*' => method == b"OPTIONS",
        b'h' if method != b"CONNECT" => {
            return match (
                prefix_state(target, b"http://"),
                prefix_state(target, b"https://"),
            ) {
                (Some(true), _) | (_, Some(true)) => Some(Detected::Http1),
                (Some(false), _) | (_, Some(false)) => None,
                (None, None) => Some(Detected::Tcp),
            };
        }
        b if method == b"CONNECT" => b.is_ascii_alphanumeric() || b == b'[',
        _ => false,
    };
    Some(if http { Detected::Http1 } else { Detected::Tcp })
}

/// Peek at the client's first bytes until `classify` decides; a client silent for `timeout`, an
/// EOF or a socket error is `Tcp`. Consumes nothing: the proxy then reads the same bytes. A read
/// split inside the first 24 bytes (rare: a request head is one segment) is re-peeked after a
/// short sleep that doubles from 1 ms, since peek cannot wait for *more* bytes than are queued.
pub async fn sniff(s: &TcpStream, timeout: Duration) -> Detected {
    let deadline = Instant::now() + timeout;
    let mut buf = [0u8; DETECT_BYTES];
    let mut nap = Duration::from_millis(1);
    let mut seen = 0usize;
    loop {
        let n = match tokio::time::timeout_at(deadline, s.peek(&mut buf)).await {
            Err(_) | Ok(Err(_)) | Ok(Ok(0)) => return Detected::Tcp,
            Ok(Ok(n)) => n,
        };
        if let Some(d) = classify(&buf[..n]) {
            return d;
        }
        if n > seen {
            seen = n;
            nap = Duration::from_millis(1);
        }
        if Instant::now() + nap >= deadline {
            tokio::time::sleep_until(deadline).await;
            // one last look at whatever arrived by the deadline
            return match s.peek(&mut buf).await {
                Ok(n) if n > 0 => classify(&buf[..n]).unwrap_or(Detected::Tcp),
                _ => Detected::Tcp,
            };
        }
        tokio::time::sleep(nap).await;
        nap = (nap * 2).min(Duration::from_millis(20));
    }
}

#[cfg(test)]
#[path = "detect_tests.rs"]
mod tests;
