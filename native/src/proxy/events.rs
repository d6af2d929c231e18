//! Connection events: compact records queued by connection tasks in a bounded queue (full → drop
//! and count), and the flusher that, once an event is queued, waits `eventFlushMs` and hands the
//! batch to the sink (idle, it sleeps on a Notify: no timer). The
//! sink (api.rs) turns a batch into JS objects and calls a Weak, NonBlocking threadsafe function.

use std::net::SocketAddrV4;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

use super::relay::CloseReason;
use super::table::Direction;

/// Most events held between two flushes; beyond it events are dropped and counted.
pub const QUEUE_CAPACITY: usize = 65_536;

/// Why a connection closed: a relay/connect reason, or the table's deny code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    None,
    Close(CloseReason),
    Denied(Arc<str>),
}

impl Reason {
    pub fn as_str(&self) -> &str {
        match self {
            Reason::None => "",
            Reason::Close(r) => r.as_str(),
            Reason::Denied(code) => code,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Open,
    Close,
}

/// One event as queued (formatted into strings only when flushed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub kind: Kind,
    pub id: u64,
    pub dir: Direction,
    pub src: SocketAddrV4,
    pub dst: SocketAddrV4,
    pub up: u64,
    pub down: u64,
    pub duration_us: u64,
    pub reason: Reason,
    /// the Service (namespace/name) when the original destination was its VIP
    pub service: Option<Arc<str>>,
    /// the endpoint actually connected, once connected
    pub upstream: Option<SocketAddrV4>,
    /// the client's identity: its own pod's (outbound, same node) or the verified peer
    /// certificate's (inbound over HBONE); None for plaintext from outside the mesh
    pub src_identity: Option<Arc<str>>,
    /// the destination's identity: the verified server certificate's (outbound HBONE) or the
    /// local pod's (inbound)
    pub dst_identity: Option<Arc<str>>,
    /// the bytes crossed the node link inside an mTLS (HBONE) tunnel
    pub tls: bool,
    /// the authorization policy that decided (denied, allowed or audited), "namespace/name"
    pub policy: Option<Arc<str>>,
    /// the AUDIT policy that matched (the connection went on), if any
    pub audit: Option<Arc<str>>,
}

/// Where flushed batches go; returns false when the batch could not be delivered (then its events
/// count as dropped). Called from a runtime worker, or from `close()` for the last batch.
pub type Sink = Arc<dyn Fn(Vec<Event>) -> bool + Send + Sync>;

/// Hands one batch to the sink, counting its events as dropped if the sink refuses it.
pub fn deliver(queue: &EventQueue, sink: &Sink, batch: Vec<Event>) {
    if batch.is_empty() {
        return;
    }
    let n = batch.len() as u64;
    if !sink(batch) {
        queue.count_dropped(n);
    }
}

/// A bounded multi-producer queue; the flusher takes the whole backlog at once.
pub struct EventQueue {
    q: Mutex<Vec<Event>>,
    cap: usize,
    dropped: AtomicU64,
    /// wakes the flusher when the queue turns non-empty, so an idle proxy has no timer running
    ready: Notify,
}

impl EventQueue {
    pub fn new(cap: usize) -> EventQueue {
        EventQueue {
            q: Mutex::new(Vec::new()),
            cap,
            dropped: AtomicU64::new(0),
            ready: Notify::new(),
        }
    }

    pub fn push(&self, e: Event) {
        let mut q = self.q.lock().unwrap_or_else(|p| p.into_inner());
        if q.len() >= self.cap {
            drop(q);
            self.count_dropped(1);
        } else {
            let was_empty = q.is_empty();
            q.push(e);
            drop(q);
            if was_empty {
                self.ready.notify_one();
            }
        }
    }

    /// Takes every queued event.
    pub fn take(&self) -> Vec<Event> {
        let mut q = self.q.lock().unwrap_or_else(|p| p.into_inner());
        let keep = q.len().min(1024);
        std::mem::replace(&mut *q, Vec::with_capacity(keep))
    }

    pub fn count_dropped(&self, n: u64) {
        self.dropped.fetch_add(n, Ordering::Relaxed);
    }

    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// Until the runtime shuts down: waits for the first queued event, lets `period` pass so the
/// batch fills, then flushes the queue into the sink. Nothing wakes while no event is queued.
pub async fn flusher(queue: Arc<EventQueue>, sink: Sink, period: Duration) {
    loop {
        queue.ready.notified().await;
        tokio::time::sleep(period).await;
        deliver(&queue, &sink, queue.take());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(id: u64) -> Event {
        Event {
            kind: Kind::Close,
            id,
            dir: Direction::Inbound,
            src: "10.0.0.1:1".parse().unwrap(),
            dst: "10.0.0.2:2".parse().unwrap(),
            up: 0,
            down: 0,
            duration_us: 0,
            reason: Reason::Denied(Arc::from("MESH_ERR_NOT_ENROLLED")),
            service: None,
            upstream: None,
            src_identity: None,
            dst_identity: None,
            tls: false,
            policy: None,
            audit: None,
        }
    }

    #[test]
    fn full_queue_drops_and_counts() {
        let q = EventQueue::new(3);
        for i in 0..5 {
            q.push(ev(i));
        }
        assert_eq!(q.dropped(), 2);
        let got = q.take();
        assert_eq!(got.iter().map(|e| e.id).collect::<Vec<_>>(), vec![0, 1, 2]);
        assert_eq!(got[0].reason.as_str(), "MESH_ERR_NOT_ENROLLED");
        q.push(ev(9));
        assert_eq!(q.take().len(), 1);
        assert!(q.take().is_empty());
    }

    /// The flusher delivers a queued event one period after it was queued, in one batch with the
    /// events queued meanwhile, and never calls the sink while nothing is queued.
    #[test]
    fn flusher_wakes_only_for_events() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(async {
            let q = Arc::new(EventQueue::new(16));
            let calls = Arc::new(Mutex::new(Vec::<Vec<u64>>::new()));
            let c2 = calls.clone();
            let sink: Sink = Arc::new(move |b: Vec<Event>| {
                c2.lock().unwrap().push(b.iter().map(|e| e.id).collect());
                true
            });
            let period = Duration::from_millis(20);
            tokio::spawn(flusher(q.clone(), sink, period));
            // off any 20 ms grid: a ticking flusher would deliver at 5,020 ms
            tokio::time::sleep(Duration::from_millis(5_003)).await;
            assert!(calls.lock().unwrap().is_empty(), "no event, no delivery");
            q.push(ev(1));
            tokio::time::sleep(Duration::from_millis(5)).await;
            q.push(ev(2));
            tokio::time::sleep(Duration::from_millis(13)).await;
            assert!(
                calls.lock().unwrap().is_empty(),
                "one period after the first event, not a tick"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
            assert_eq!(*calls.lock().unwrap(), vec![vec![1, 2]]);
            tokio::time::sleep(Duration::from_secs(5)).await;
            assert_eq!(calls.lock().unwrap().len(), 1, "idle again");
            q.push(ev(3));
            tokio::time::sleep(Duration::from_millis(25)).await;
            assert_eq!(*calls.lock().unwrap(), vec![vec![1, 2], vec![3]]);
        });
    }
}
