//! The HBONE client side: a pool of mTLS HTTP/2 connections to other nodes' proxies, keyed by
//! (source identity, destination identity, destination node), each carrying a bounded number of
//! CONNECT streams. A new proxied connection costs one stream; a handshake happens only when no
//! pooled connection of its key has a free stream (concurrent callers of one key share one dial).

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use h2::client::SendRequest;
use http::{Method, Request};
use rustls_pki_types::ServerName;
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::TlsConnector;

use super::certs::{provider, unix_now, CertStore, Snapshot};
use super::error::{count, from_h2, handshake_failed, HboneError, Reason, Side};
use super::keepalive::{dead_peer, Keepalive};
use super::stream::HboneStream;
use super::verify::LeafInfo;

/// HTTP/2 settings of the client (ztunnel's: see ARCHITECTURE.md, HBONE framing).
const STREAM_WINDOW: u32 = 4 << 20;
const CONN_WINDOW: u32 = 16 << 20;
const MAX_FRAME: u32 = 1 << 20;
const MAX_HEADER_LIST: u32 = 16 << 10;

/// Which pooled connections a stream may ride: only ones presenting the same source identity,
/// verified as the same destination identity, on the same destination node.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PoolKey {
    pub src_identity: Arc<str>,
    pub dst_identity: Arc<str>,
    pub dst_node: Arc<str>,
}

#[derive(Clone, Debug)]
pub struct PoolConfig {
    /// streams per connection before another connection of the key is opened (ztunnel: 100)
    pub max_streams_per_conn: usize,
    /// TCP connect + TLS + HTTP/2 handshake bound for a new pooled connection
    pub connect_timeout: Duration,
    /// a connection with no stream for this long is closed (GOAWAY)
    pub idle_timeout: Duration,
    /// HTTP/2 PINGs; a peer that stops answering closes the connection
    pub keepalive: Keepalive,
}

/// Pool counters (read by `stats()`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    pub connections_opened: u64,
    pub connections_live: u64,
    pub streams_opened: u64,
}

/// One pooled TLS + HTTP/2 connection.
struct Conn {
    send: SendRequest<Bytes>,
    /// streams in use (slots taken, released by [`SlotGuard`])
    active: AtomicUsize,
    /// the connection task ended (or the connection was retired): take no new stream
    closed: AtomicBool,
    /// milliseconds since the pool's epoch when the last stream was released
    idle_since_ms: AtomicU64,
    /// the leaf we presented and the bundle we verified under: a renewal or a rotation step
    /// retires the connection (no new stream; it closes once its streams end)
    src_fingerprint: u64,
    roots_fingerprint: u64,
    /// Unix seconds when the first of the two leaves (ours, the peer's) expires: no stream after
    expires_at: i64,
}

impl Conn {
    /// Still presents our current leaf, under the current bundle, and neither leaf has expired.
    fn fresh(&self, snap: &Snapshot, src_identity: &str, now: i64) -> bool {
        now < self.expires_at
            && snap.roots_fingerprint == self.roots_fingerprint
            && snap
                .identities
                .get(src_identity)
                .is_some_and(|l| l.fingerprint == self.src_fingerprint)
    }
}

/// A taken stream slot of one pooled connection; dropping it (with the stream) frees the slot.
pub struct SlotGuard {
    conn: Arc<Conn>,
    epoch: Instant,
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        self.conn
            .idle_since_ms
            .store(ms_since(self.epoch), Ordering::Relaxed);
        self.conn.active.fetch_sub(1, Ordering::AcqRel);
    }
}

fn ms_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
}

#[derive(Default)]
struct Entry {
    conns: Mutex<Vec<Arc<Conn>>>,
    /// held while dialling, so concurrent callers of one key wait for that dial
    dial: tokio::sync::Mutex<()>,
}

struct Inner {
    cfg: PoolConfig,
    certs: Arc<CertStore>,
    entries: Mutex<HashMap<PoolKey, Arc<Entry>>>,
    epoch: Instant,
    opened: AtomicU64,
    live: AtomicU64,
    streams: AtomicU64,
}

/// The HBONE connection pool of one node proxy.
pub struct Pool {
    inner: Arc<Inner>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Pool {
    pub fn new(cfg: PoolConfig, certs: Arc<CertStore>) -> Pool {
        Pool {
            inner: Arc::new(Inner {
                cfg,
                certs,
                entries: Mutex::new(HashMap::new()),
                epoch: Instant::now(),
                opened: AtomicU64::new(0),
                live: AtomicU64::new(0),
                streams: AtomicU64::new(0),
            }),
        }
    }

    pub fn stats(&self) -> PoolStats {
        PoolStats {
            connections_opened: self.inner.opened.load(Ordering::Relaxed),
            connections_live: self.inner.live.load(Ordering::Relaxed),
            streams_opened: self.inner.streams.load(Ordering::Relaxed),
        }
    }

    /// Opens one CONNECT stream to `authority` (the destination pod's ip:port) over a pooled
    /// connection of `key`, dialling `dial` (the destination pod's IP, port 15008, which the
    /// destination node steers to its proxy) from `bind_ip` when none has a free stream.
    /// `forwarded_for` (the client pod's ip:port) travels in the `forwarded` header.
    pub async fn connect(
        &self,
        key: &PoolKey,
        dial: SocketAddrV4,
        bind_ip: Option<Ipv4Addr>,
        authority: SocketAddrV4,
        forwarded_for: SocketAddrV4,
    ) -> Result<HboneStream, HboneError> {
        let entry = {
            let mut m = lock(&self.inner.entries);
            m.entry(key.clone()).or_default().clone()
        };
        // A pooled connection can die between our pick and our request: retry once on a new one.
        let mut last = None;
        for _ in 0..2 {
            let slot = self.slot(key, &entry, dial, bind_ip).await?;
            match request(&slot, authority, forwarded_for).await {
                Ok((send, recv)) => {
                    self.inner.streams.fetch_add(1, Ordering::Relaxed);
                    return Ok(HboneStream::new(send, recv, Some(slot)));
                }
                Err(e @ HboneError::Connect(_)) => {
                    slot.conn.closed.store(true, Ordering::Release);
                    last = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or(HboneError::Connect("pooled connection failed".into())))
    }

    /// Takes a stream slot on a live connection of the key, dialling a new one when needed.
    async fn slot(
        &self,
        key: &PoolKey,
        entry: &Arc<Entry>,
        dial: SocketAddrV4,
        bind_ip: Option<Ipv4Addr>,
    ) -> Result<SlotGuard, HboneError> {
        if let Some(s) = self.take(key, entry) {
            return Ok(s);
        }
        let _dialling = entry.dial.lock().await;
        if let Some(s) = self.take(key, entry) {
            return Ok(s);
        }
        let conn = tokio::time::timeout(
            self.inner.cfg.connect_timeout,
            dial_conn(&self.inner, key, dial, bind_ip),
        )
        .await
        .map_err(|_| {
            count(Side::Client, Reason::Timeout);
            HboneError::Timeout
        })??;
        lock(&entry.conns).push(conn.clone());
        Ok(SlotGuard {
            conn,
            epoch: self.inner.epoch,
        })
    }

    /// A free slot on a pooled connection, or None. Dead connections leave the list, and so do
    /// stale ones (renewed leaf, changed bundle, an expired leaf), which then drain and close.
    fn take(&self, key: &PoolKey, entry: &Entry) -> Option<SlotGuard> {
        let max = self.inner.cfg.max_streams_per_conn.max(1);
        let snap = self.inner.certs.snapshot();
        let now = unix_now();
        let mut conns = lock(&entry.conns);
        conns.retain(|c| {
            if !c.fresh(&snap, &key.src_identity, now) {
                c.closed.store(true, Ordering::Release);
            }
            !c.closed.load(Ordering::Acquire)
        });
        for c in conns.iter() {
            let mut n = c.active.load(Ordering::Acquire);
            while n < max {
                match c
                    .active
                    .compare_exchange(n, n + 1, Ordering::AcqRel, Ordering::Acquire)
                {
                    Ok(_) => {
                        return Some(SlotGuard {
                            conn: c.clone(),
                            epoch: self.inner.epoch,
                        })
                    }
                    Err(m) => n = m,
                }
            }
        }
        None
    }
}

/// TCP connect, TLS 1.3 presenting `key.src_identity` and requiring `key.dst_identity`, HTTP/2.
async fn dial_conn(
    inner: &Arc<Inner>,
    key: &PoolKey,
    dial: SocketAddrV4,
    bind_ip: Option<Ipv4Addr>,
) -> Result<Arc<Conn>, HboneError> {
    let snap = inner.certs.snapshot();
    let tls_cfg = snap
        .client_config(&key.src_identity, &key.dst_identity)
        .inspect_err(|_| count(Side::Client, Reason::Other))?;
    let (src_fingerprint, own_not_after) = snap
        .identities
        .get(&*key.src_identity)
        .map_or((0, 0), |l| (l.fingerprint, l.not_after));
    let roots_fingerprint = snap.roots_fingerprint;
    drop(snap);
    let sock = TcpSocket::new_v4().map_err(|e| HboneError::Connect(e.to_string()))?;
    if let Some(ip) = bind_ip {
        sock.bind(SocketAddrV4::new(ip, 0).into())
            .map_err(|e| HboneError::Connect(format!("bind {ip}: {e}")))?;
    }
    let tcp: TcpStream = sock
        .connect(dial.into())
        .await
        .map_err(|e| HboneError::Connect(format!("connect {dial}: {e}")))?;
    let _ = tcp.set_nodelay(true);
    // no SNI is sent (enable_sni = false); the name only satisfies the API
    let name = ServerName::IpAddress((*dial.ip()).into());
    let tls = TlsConnector::from(tls_cfg)
        .connect(name, tcp)
        .await
        .map_err(|e| handshake_failed(Side::Client, &e))?;
    if tls.get_ref().1.alpn_protocol() != Some(b"h2") {
        count(Side::Client, Reason::Other);
        return Err(HboneError::Protocol(format!(
            "{dial} did not negotiate ALPN h2"
        )));
    }
    let peer_not_after = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .and_then(|leaf| LeafInfo::parse(leaf).ok())
        .map_or(0, |l| l.not_after);
    count(Side::Client, Reason::Ok);
    let (send, connection) = h2::client::Builder::new()
        .initial_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONN_WINDOW)
        .max_frame_size(MAX_FRAME)
        .max_header_list_size(MAX_HEADER_LIST)
        .enable_push(false)
        .handshake::<_, Bytes>(tls)
        .await
        .map_err(from_h2)?;
    inner.opened.fetch_add(1, Ordering::Relaxed);
    inner.live.fetch_add(1, Ordering::Relaxed);
    let conn = Arc::new(Conn {
        send,
        active: AtomicUsize::new(1),
        closed: AtomicBool::new(false),
        idle_since_ms: AtomicU64::new(ms_since(inner.epoch)),
        src_fingerprint,
        roots_fingerprint,
        expires_at: own_not_after.min(peer_not_after),
    });
    tokio::spawn(drive(Arc::downgrade(inner), connection, conn.clone()));
    Ok(conn)
}

/// `active` of a connection being retired for idleness: above any stream limit, so no slot is
/// taken on it any more.
const RETIRED: usize = usize::MAX / 2;

/// Runs the h2 connection until it ends; closes it gracefully (GOAWAY) once it has had no stream
/// for the idle timeout. The connection leaves the pool at the next `take` after `closed` is set.
async fn drive(
    inner: Weak<Inner>,
    mut connection: h2::client::Connection<tokio_rustls::client::TlsStream<TcpStream>, Bytes>,
    conn: Arc<Conn>,
) {
    let (idle, epoch, ka) = match inner.upgrade() {
        Some(i) => (i.cfg.idle_timeout, i.epoch, i.cfg.keepalive),
        None => return,
    };
    let dead = dead_peer(connection.ping_pong(), ka);
    tokio::pin!(dead);
    let idle_ms = u64::try_from(idle.as_millis()).unwrap_or(u64::MAX);
    let mut tick =
        tokio::time::interval(idle.clamp(Duration::from_millis(50), Duration::from_secs(30)));
    loop {
        tokio::select! {
            _ = &mut connection => break,
            _ = &mut dead => {
                count(Side::Client, Reason::Timeout);
                break; // no PONG in time: the peer is gone; its streams fail, the key dials anew
            }
            _ = tick.tick() => {
                // retired as stale by `take`: close once its last stream ended
                if conn.closed.load(Ordering::Acquire)
                    && conn.active.compare_exchange(0, RETIRED, Ordering::AcqRel, Ordering::Acquire).is_ok()
                {
                    break;
                }
                let since = conn.idle_since_ms.load(Ordering::Relaxed);
                if ms_since(epoch).saturating_sub(since) >= idle_ms
                    && conn.active.compare_exchange(0, RETIRED, Ordering::AcqRel, Ordering::Acquire).is_ok()
                {
                    conn.closed.store(true, Ordering::Release);
                    break; // dropping the connection closes the socket; it carries no stream
                }
            }
        }
    }
    conn.closed.store(true, Ordering::Release);
    if let Some(i) = inner.upgrade() {
        i.live.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Sends the CONNECT request on the slot's connection and waits for the 200.
async fn request(
    slot: &SlotGuard,
    authority: SocketAddrV4,
    forwarded_for: SocketAddrV4,
) -> Result<(h2::SendStream<Bytes>, h2::RecvStream), HboneError> {
    let req = Request::builder()
        .method(Method::CONNECT)
        .uri(authority.to_string())
        .header("forwarded", format!("for=\"{forwarded_for}\""))
        .header("traceparent", traceparent())
        .body(())
        .map_err(|e| HboneError::Protocol(e.to_string()))?;
    let mut send = slot
        .conn
        .send
        .clone()
        .ready()
        .await
        .map_err(|e| match from_h2(e) {
            HboneError::Protocol(m) => HboneError::Connect(m),
            e => e,
        })?;
    let (resp, stream) = send.send_request(req, false).map_err(from_h2)?;
    let resp = resp.await.map_err(from_h2)?;
    if resp.status() != http::StatusCode::OK {
        return Err(HboneError::Status(resp.status().as_u16()));
    }
    Ok((stream, resp.into_body()))
}

/// A fresh W3C traceparent per tunnelled connection (`00-<trace>-<span>-00`), as ztunnel sends.
fn traceparent() -> String {
    let mut b = [0u8; 24];
    if provider().secure_random.fill(&mut b).is_err() {
        let t = ms_since(Instant::now() - Duration::from_secs(1)) ^ u64::from(std::process::id());
        b[..8].copy_from_slice(&t.to_le_bytes());
        b[16] = 1;
    }
    let hex = |s: &[u8]| s.iter().map(|x| format!("{x:02x}")).collect::<String>();
    format!("00-{}-{}-00", hex(&b[..16]), hex(&b[16..]))
}
