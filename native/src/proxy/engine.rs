//! The proxy engine: its own tokio runtime, the state every connection task shares (table
//! snapshot, counters, event queue), start and close. No Node-API types live here, so the whole
//! engine runs in `cargo test` with a closure as the event sink.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::runtime::{Builder, Runtime};

use super::events::{self, EventQueue, Sink, QUEUE_CAPACITY};
use super::listener;
use super::relay::Mode;
use super::services::Balancer;
use super::table::{Decision, Direction, Table};
use super::tunnel;
use crate::errors::{err, Code, Result};
use crate::hbone::{CertStore, Pool, PoolConfig};

/// Everything `proxy_start` decided; tests use loopback listen addresses and no IP_TRANSPARENT.
#[derive(Clone, Debug)]
pub struct Config {
    pub outbound: SocketAddrV4,
    pub inbound: SocketAddrV4,
    /// the HBONE listener (15008); None: no tunnel listener (unit tests of the plain path)
    pub tunnel: Option<SocketAddrV4>,
    /// the port other nodes' proxies accept HBONE on (15008; tests point it at a loopback port)
    pub peer_tunnel_port: u16,
    pub connect_timeout: Duration,
    pub max_buffer: usize,
    pub flush: Duration,
    pub mode: Mode,
    pub transparent: bool,
    pub workers: usize,
}

impl Config {
    /// The production shape: 0.0.0.0 listeners, transparent sockets, splice relay.
    pub fn node(outbound_port: u16, inbound_port: u16) -> Config {
        Config {
            outbound: SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, outbound_port),
            inbound: SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, inbound_port),
            tunnel: None,
            peer_tunnel_port: 15008,
            connect_timeout: Duration::from_secs(5),
            max_buffer: 256 * 1024,
            flush: Duration::from_millis(20),
            mode: Mode::Splice,
            transparent: true,
            workers: super::WORKERS,
        }
    }
}

#[derive(Default)]
pub struct Stats {
    pub accepted: AtomicU64,
    pub denied: AtomicU64,
    pub active: AtomicU64,
}

/// State shared by the accept loops, the connection tasks, the flusher and the JS-facing handle.
pub struct Shared {
    table: RwLock<Arc<Table>>,
    pub stats: Stats,
    pub events: Arc<EventQueue>,
    next_id: AtomicU64,
    /// The listeners' actual ports (the loop guard of `Table::decide`).
    pub own_ports: [u16; 2],
    pub connect_timeout: Duration,
    pub max_buffer: usize,
    pub mode: Mode,
    pub transparent: bool,
    /// open connections per Service endpoint (power of two choices)
    pub balancer: Balancer,
    /// the workload certificates and trust bundle (swapped whole by `setCertificates`)
    pub certs: Arc<CertStore>,
    /// pooled HBONE connections to other nodes' proxies
    pub pool: Pool,
    /// the tunnel listener's port (0: none); a destination on it is a direct connect
    pub tunnel_port: u16,
    peer_tunnel_port: u16,
    /// L7: upstream HTTP pools and per-endpoint pending requests (l7/proxy.rs)
    pub l7: crate::l7::proxy::L7State,
}

impl Shared {
    pub(super) fn new(cfg: &Config, own_ports: [u16; 2]) -> Shared {
        let certs = Arc::new(CertStore::new());
        Shared {
            pool: Pool::new(
                PoolConfig {
                    max_streams_per_conn: 100,
                    connect_timeout: cfg.connect_timeout,
                    idle_timeout: Duration::from_secs(300),
                    keepalive: crate::hbone::Keepalive::default(),
                },
                certs.clone(),
            ),
            certs,
            tunnel_port: 0,
            peer_tunnel_port: cfg.peer_tunnel_port,
            table: RwLock::new(Arc::new(Table::empty())),
            stats: Stats::default(),
            events: Arc::new(EventQueue::new(QUEUE_CAPACITY)),
            next_id: AtomicU64::new(1),
            own_ports,
            connect_timeout: cfg.connect_timeout,
            max_buffer: cfg.max_buffer,
            mode: cfg.mode,
            transparent: cfg.transparent,
            balancer: Balancer::default(),
            l7: crate::l7::proxy::L7State::default(),
        }
    }

    /// The decision for one connection from the table in force (what accept and evaluate run).
    pub fn decide(&self, dir: Direction, src: SocketAddrV4, dst: SocketAddrV4) -> Decision {
        let table = self.table.read().unwrap_or_else(|p| p.into_inner());
        if self.tunnel_port != 0 && dst.port() == self.tunnel_port && dir == Direction::Outbound {
            return Decision::Deny(Arc::from(super::table::DIRECT_CONNECT));
        }
        table.decide(dir, src, dst, self.own_ports)
    }

    /// Where another node's proxy accepts HBONE.
    pub fn remote_tunnel_port(&self) -> u16 {
        self.peer_tunnel_port
    }

    /// The table in force (a cheap Arc clone).
    pub fn table(&self) -> Arc<Table> {
        self.table.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Installs a validated table; returns its version.
    pub fn set_table(&self, t: Table) -> u64 {
        let v = t.version;
        *self.table.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(t);
        v
    }

    pub fn table_version(&self) -> u64 {
        self.table.read().unwrap_or_else(|p| p.into_inner()).version
    }

    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }
}

/// A running proxy. `close()` (or drop) stops it.
pub struct Engine {
    pub shared: Arc<Shared>,
    rt: Mutex<Option<Runtime>>,
    sink: Mutex<Option<Sink>>,
    closed: AtomicBool,
}

impl Engine {
    /// Builds the runtime, opens both listeners and starts accepting and flushing.
    pub fn start(cfg: Config, sink: Sink) -> Result<Engine> {
        let rt = Builder::new_multi_thread()
            .worker_threads(cfg.workers.max(1))
            .thread_name("nodemesh-proxy")
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| err(Code::Listen, format!("cannot start the proxy runtime: {e}")))?;
        let out = listener::bind(cfg.outbound, cfg.transparent, "outboundPort")?;
        let inb = listener::bind(cfg.inbound, cfg.transparent, "inboundPort")?;
        let tun = match cfg.tunnel {
            Some(a) => Some(listener::bind(a, cfg.transparent, "tunnelPort")?),
            None => None,
        };
        let port = |l: &std::net::TcpListener| l.local_addr().map(|a| a.port()).unwrap_or(0);
        let mut sh = Shared::new(&cfg, [port(&out), port(&inb)]);
        sh.tunnel_port = tun.as_ref().map_or(0, port);
        let shared = Arc::new(sh);
        {
            let _ctx = rt.enter();
            for (l, dir, what) in [
                (out, Direction::Outbound, "outboundPort"),
                (inb, Direction::Inbound, "inboundPort"),
            ] {
                let l = tokio::net::TcpListener::from_std(l).map_err(|e| {
                    err(
                        Code::Listen,
                        format!("cannot register the {what} listener: {e}"),
                    )
                })?;
                rt.spawn(listener::accept_loop(l, dir, shared.clone()));
            }
            if let Some(l) = tun {
                let l = tokio::net::TcpListener::from_std(l).map_err(|e| {
                    err(
                        Code::Listen,
                        format!("cannot register the tunnelPort listener: {e}"),
                    )
                })?;
                rt.spawn(tunnel::accept_loop(l, shared.clone()));
            }
            rt.spawn(events::flusher(
                shared.events.clone(),
                sink.clone(),
                cfg.flush,
            ));
        }
        Ok(Engine {
            shared,
            rt: Mutex::new(Some(rt)),
            sink: Mutex::new(Some(sink)),
            closed: AtomicBool::new(false),
        })
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Marks the engine closed: later API calls fail with MESH_ERR_CLOSED. Returns whether this
    /// call closed it (false if it already was).
    pub fn begin_close(&self) -> bool {
        !self.closed.swap(true, Ordering::AcqRel)
    }

    /// Stops accepting, aborts live connections (each emits a `shutdown` close event and resets
    /// its sockets as its task is dropped), waits up to `grace` for the workers, delivers the
    /// last batch of events and releases the sink. Blocking: never call it on the JS thread.
    /// Idempotent.
    pub fn finish_close(&self, grace: Duration) {
        self.begin_close();
        let rt = self.rt.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(rt) = rt {
            rt.shutdown_timeout(grace);
        }
        let sink = self.sink.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(sink) = sink {
            events::deliver(&self.shared.events, &sink, self.shared.events.take());
        }
    }
}

impl Engine {
    /// Stops without blocking and without delivering pending events (environment teardown).
    pub fn abort(&self) {
        self.begin_close();
        if let Some(rt) = self.rt.lock().unwrap_or_else(|p| p.into_inner()).take() {
            rt.shutdown_background();
        }
        drop(self.sink.lock().unwrap_or_else(|p| p.into_inner()).take());
    }
}

impl Drop for Engine {
    /// Dropped without close() (GC of the JS handle, or env teardown): stop without blocking.
    fn drop(&mut self) {
        if let Some(rt) = self.rt.get_mut().unwrap_or_else(|p| p.into_inner()).take() {
            rt.shutdown_background();
        }
    }
}
