//! The JavaScript surface of the node proxy (native/index.ts: `proxyStart`, `RawProxy`). Every
//! synchronous body runs inside `errors::guard`; arguments are re-validated here even though the
//! TypeScript wrapper checks them first. Events reach JS through a Weak, NonBlocking TSFN.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use napi::bindgen_prelude::{AsyncTask, Function};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{CleanupEnvHook, Env, Status, Task};
use napi_derive::napi;

use super::engine::{Config, Engine};
use super::events::{Event, Kind, Sink};
use super::relay::Mode;
use super::services::NO_ENDPOINTS;
use super::table::{Decision, Direction, Table};
use crate::errors::{err, guard, Code, Result};
use crate::hbone::{handshake_counters, IdentityMaterial};

#[path = "api_l7.rs"]
mod l7;

/// How long close() waits for the runtime's workers before leaving them to finish on their own.
const CLOSE_GRACE: Duration = Duration::from_secs(2);
/// Environment override of the relay mode ("copy" or "splice"), for benchmarks and as an escape
/// hatch; unset means the default chosen in mod.rs.
pub const RELAY_ENV: &str = "NODEMESH_PROXY_RELAY";
/// Batches the TSFN may hold while the JS thread is busy; beyond it batches are dropped+counted.
const TSFN_QUEUE: usize = 64;

#[napi(object)]
pub struct ProxyOptions {
    pub outbound_port: u32,
    pub inbound_port: u32,
    pub connect_timeout_ms: u32,
    pub max_buffer_bytes: u32,
    pub event_flush_ms: u32,
    /// the HBONE listener (15008); 0 or absent: none
    pub tunnel_port: Option<u32>,
    /// where other nodes' proxies accept HBONE (default 15008)
    pub peer_tunnel_port: Option<u32>,
}

/// `ConnEvent` of native/index.ts.
#[napi(object)]
pub struct ProxyConnEvent {
    #[napi(ts_type = "'open' | 'close'")]
    pub kind: String,
    pub id: f64,
    #[napi(ts_type = "'outbound' | 'inbound'")]
    pub direction: String,
    pub src_ip: String,
    pub src_port: u32,
    pub dst_ip: String,
    pub dst_port: u32,
    pub bytes_up: f64,
    pub bytes_down: f64,
    pub duration_us: f64,
    pub reason: String,
    pub service: String,
    pub upstream_ip: String,
    pub upstream_port: u32,
    pub src_identity: String,
    pub dst_identity: String,
    pub tls: bool,
    pub policy: String,
    pub audit: String,
}

/// `RawVerdict` of native/index.ts.
#[napi(object)]
pub struct ProxyVerdict {
    #[napi(ts_type = "'forward' | 'deny'")]
    pub action: String,
    pub reason: String,
    pub upstream_ip: String,
    pub upstream_port: u32,
    pub bind_ip: String,
    pub service: String,
    pub endpoints: u32,
}

/// `RawProxyStats` of native/index.ts.
#[napi(object)]
pub struct ProxyStats {
    pub active: f64,
    pub accepted: f64,
    pub denied: f64,
    pub events_dropped: f64,
    pub table_version: f64,
    pub tunnel_connections_opened: f64,
    pub tunnel_connections_live: f64,
    pub tunnel_streams_opened: f64,
}

/// One handshake counter (`nodemesh_tls_handshakes_total{side, result}`).
#[napi(object)]
pub struct HandshakeCount {
    pub side: String,
    pub result: String,
    pub count: f64,
}

/// One identity of `setCertificates`.
#[napi(object)]
pub struct CertIdentity {
    pub identity: String,
    pub chain: Vec<String>,
    pub key: String,
}

/// The argument of `setCertificates` (IdentitySnapshot of agent/src/identity).
#[napi(object)]
pub struct CertSnapshot {
    pub trust_domain: String,
    pub bundle: Vec<String>,
    pub identities: Vec<CertIdentity>,
}

type EventsFn = ThreadsafeFunction<
    Vec<ProxyConnEvent>,
    (),
    Vec<ProxyConnEvent>,
    Status,
    true,
    true,
    TSFN_QUEUE,
>;

fn to_js(e: &Event) -> ProxyConnEvent {
    ProxyConnEvent {
        kind: if e.kind == Kind::Open {
            "open"
        } else {
            "close"
        }
        .to_string(),
        id: e.id as f64,
        direction: e.dir.as_str().to_string(),
        src_ip: e.src.ip().to_string(),
        src_port: u32::from(e.src.port()),
        dst_ip: e.dst.ip().to_string(),
        dst_port: u32::from(e.dst.port()),
        bytes_up: e.up as f64,
        bytes_down: e.down as f64,
        duration_us: e.duration_us as f64,
        reason: e.reason.as_str().to_string(),
        service: e.service.as_deref().unwrap_or("").to_string(),
        upstream_ip: e.upstream.map_or_else(String::new, |u| u.ip().to_string()),
        upstream_port: e.upstream.map_or(0, |u| u32::from(u.port())),
        src_identity: e.src_identity.as_deref().unwrap_or("").to_string(),
        dst_identity: e.dst_identity.as_deref().unwrap_or("").to_string(),
        tls: e.tls,
        policy: e.policy.as_deref().unwrap_or("").to_string(),
        audit: e.audit.as_deref().unwrap_or("").to_string(),
    }
}

fn check_range(what: &str, v: u32, lo: u32, hi: u32) -> Result<u32> {
    if (lo..=hi).contains(&v) {
        Ok(v)
    } else {
        Err(err(
            Code::InvalidArg,
            format!("{what}: {v} is not in {lo}..{hi}"),
        ))
    }
}

fn config(o: &ProxyOptions) -> Result<Config> {
    let out = check_range("outboundPort", o.outbound_port, 1, 65535)? as u16;
    let inb = check_range("inboundPort", o.inbound_port, 1, 65535)? as u16;
    if out == inb {
        return Err(err(
            Code::InvalidArg,
            format!("inboundPort: {inb} must differ from outboundPort"),
        ));
    }
    let mut cfg = Config::node(out, inb);
    let tun = check_range("tunnelPort", o.tunnel_port.unwrap_or(0), 0, 65535)? as u16;
    if tun != 0 {
        if tun == out || tun == inb {
            return Err(err(
                Code::InvalidArg,
                format!("tunnelPort: {tun} must differ from outboundPort and inboundPort"),
            ));
        }
        cfg.tunnel = Some(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, tun));
    }
    cfg.peer_tunnel_port = check_range(
        "peerTunnelPort",
        o.peer_tunnel_port.unwrap_or(15008),
        1,
        65535,
    )? as u16;
    cfg.connect_timeout = Duration::from_millis(
        check_range("connectTimeoutMs", o.connect_timeout_ms, 1, 600_000)?.into(),
    );
    cfg.max_buffer = check_range("maxBufferBytes", o.max_buffer_bytes, 4096, 64 << 20)? as usize;
    cfg.flush =
        Duration::from_millis(check_range("eventFlushMs", o.event_flush_ms, 1, 10_000)?.into());
    cfg.mode = match std::env::var(RELAY_ENV).as_deref() {
        Err(_) | Ok("") => cfg.mode,
        Ok("copy") => Mode::Copy,
        Ok("splice") => Mode::Splice,
        Ok(other) => {
            return Err(err(
                Code::InvalidArg,
                format!("{RELAY_ENV}: \"{other}\" is not \"copy\" or \"splice\""),
            ))
        }
    };
    Ok(cfg)
}

/// Starts the node proxy: its runtime, both transparent listeners and the event flusher.
#[napi(
    ts_args_type = "opts: ProxyOptions, onEvents: (err: Error | null, events: ProxyConnEvent[]) => void"
)]
pub fn proxy_start(
    env: Env,
    opts: ProxyOptions,
    on_events: Function<'_, Vec<ProxyConnEvent>, ()>,
) -> Result<Proxy> {
    guard("proxyStart", || {
        let cfg = config(&opts)?;
        let tsfn: EventsFn = on_events
            .build_threadsafe_function::<Vec<ProxyConnEvent>>()
            .callee_handled::<true>()
            .weak::<true>()
            .max_queue_size::<TSFN_QUEUE>()
            .build()
            .map_err(|e| {
                err(
                    Code::InvalidArg,
                    format!("onEvents: cannot make a threadsafe function: {e}"),
                )
            })?;
        let sink: Sink = Arc::new(move |batch: Vec<Event>| {
            let js: Vec<ProxyConnEvent> = batch.iter().map(to_js).collect();
            tsfn.call(Ok(js), ThreadsafeFunctionCallMode::NonBlocking) == Status::Ok
        });
        let engine = Arc::new(Engine::start(cfg, sink)?);
        let hook = env
            .add_env_cleanup_hook(Arc::downgrade(&engine), |w: Weak<Engine>| {
                if let Some(e) = w.upgrade() {
                    e.abort();
                }
            })
            .ok();
        Ok(Proxy { engine, hook })
    })
}

/// A running node proxy (`RawProxy`).
#[napi]
pub struct Proxy {
    engine: Arc<Engine>,
    hook: Option<CleanupEnvHook<Weak<Engine>>>,
}

fn parse_ip(what: &str, s: &str) -> Result<Ipv4Addr> {
    s.parse().map_err(|_| {
        err(
            Code::InvalidArg,
            format!("{what}: \"{s}\" is not an IPv4 address"),
        )
    })
}

fn verdict(d: Decision) -> ProxyVerdict {
    match d {
        Decision::Forward {
            upstream,
            bind_ip,
            service,
        } => ProxyVerdict {
            action: "forward".into(),
            reason: String::new(),
            upstream_ip: upstream.ip().to_string(),
            upstream_port: u32::from(upstream.port()),
            bind_ip: bind_ip.to_string(),
            service: service
                .as_ref()
                .map_or_else(String::new, |s| s.name.to_string()),
            endpoints: service.as_ref().map_or(0, |s| s.endpoints.len() as u32),
        },
        Decision::Deny(code) => deny(&code, ""),
        Decision::NoEndpoints(s) => deny(NO_ENDPOINTS, &s.name),
    }
}

fn deny(reason: &str, service: &str) -> ProxyVerdict {
    ProxyVerdict {
        action: "deny".into(),
        reason: reason.to_string(),
        upstream_ip: String::new(),
        upstream_port: 0,
        bind_ip: String::new(),
        service: service.to_string(),
        endpoints: 0,
    }
}

#[napi]
impl Proxy {
    fn open(&self, what: &str) -> Result<&Engine> {
        if self.engine.is_closed() {
            Err(err(
                Code::Closed,
                format!("{what}: the node proxy is closed; start a new one with proxyStart"),
            ))
        } else {
            Ok(&self.engine)
        }
    }

    /// Validates and installs a decision table; returns its version. A rejected table leaves
    /// the previous one in force.
    #[napi]
    pub fn set_table(&self, table_json: String) -> Result<f64> {
        guard("setTable", || {
            let e = self.open("setTable")?;
            let t = Table::parse(&table_json)
                .map_err(|m| err(Code::InvalidArg, format!("decision table rejected: {m}")))?;
            Ok(e.shared.set_table(t) as f64)
        })
    }

    /// The decision the accept path would take for this connection, from the same function.
    #[napi(
        ts_args_type = "direction: 'outbound' | 'inbound', srcIp: string, srcPort: number, dstIp: string, dstPort: number"
    )]
    pub fn evaluate(
        &self,
        direction: String,
        src_ip: String,
        src_port: u32,
        dst_ip: String,
        dst_port: u32,
    ) -> Result<ProxyVerdict> {
        guard("evaluate", || {
            let e = self.open("evaluate")?;
            let dir = Direction::parse(&direction).ok_or_else(|| {
                err(
                    Code::InvalidArg,
                    format!("direction: \"{direction}\" is not \"outbound\" or \"inbound\""),
                )
            })?;
            let sp = check_range("srcPort", src_port, 0, 65535)? as u16;
            let dp = check_range("dstPort", dst_port, 0, 65535)? as u16;
            let src = SocketAddrV4::new(parse_ip("srcIp", &src_ip)?, sp);
            let dst = SocketAddrV4::new(parse_ip("dstIp", &dst_ip)?, dp);
            Ok(verdict(e.shared.decide(dir, src, dst)))
        })
    }

    /// Replaces the workload certificates, keys and trust bundle at once (a rejected snapshot
    /// leaves the previous one in force). Keys stay in native memory and are never logged.
    #[napi]
    pub fn set_certificates(&self, snap: CertSnapshot) -> Result<()> {
        guard("setCertificates", || {
            let e = self.open("setCertificates")?;
            let ids = snap
                .identities
                .into_iter()
                .map(|i| IdentityMaterial {
                    identity: i.identity,
                    cert_chain_pem: i.chain,
                    key_pem: i.key,
                })
                .collect();
            e.shared
                .certs
                .update(&snap.trust_domain, &snap.bundle, ids)
                .map_err(|m| err(Code::InvalidArg, format!("certificates rejected: {m}")))
        })
    }

    /// TLS handshakes on both sides of the tunnels, by result.
    #[napi]
    pub fn handshakes(&self) -> Result<Vec<HandshakeCount>> {
        guard("handshakes", || {
            Ok(handshake_counters()
                .into_iter()
                .map(|(side, result, n)| HandshakeCount {
                    side: side.to_string(),
                    result: result.to_string(),
                    count: n as f64,
                })
                .collect())
        })
    }

    #[napi]
    pub fn stats(&self) -> Result<ProxyStats> {
        guard("stats", || {
            let s = &self.open("stats")?.shared;
            let p = s.pool.stats();
            Ok(ProxyStats {
                active: s.stats.active.load(Ordering::Relaxed) as f64,
                accepted: s.stats.accepted.load(Ordering::Relaxed) as f64,
                denied: s.stats.denied.load(Ordering::Relaxed) as f64,
                events_dropped: s.events.dropped() as f64,
                table_version: s.table_version() as f64,
                tunnel_connections_opened: p.connections_opened as f64,
                tunnel_connections_live: p.connections_live as f64,
                tunnel_streams_opened: p.streams_opened as f64,
            })
        })
    }

    /// Stops the proxy (off the JS thread); resolves once the runtime is down. Idempotent.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn close(&mut self, env: Env) -> Result<AsyncTask<CloseTask>> {
        guard("close", || {
            self.engine.begin_close();
            if let Some(h) = self.hook.take() {
                let _ = env.remove_env_cleanup_hook(h);
            }
            Ok(AsyncTask::new(CloseTask {
                engine: self.engine.clone(),
            }))
        })
    }
}

/// The blocking half of close(), run on libuv's thread pool.
pub struct CloseTask {
    engine: Arc<Engine>,
}

impl Task for CloseTask {
    type Output = ();
    type JsValue = ();

    fn compute(&mut self) -> napi::Result<()> {
        let e = self.engine.clone();
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            e.finish_close(CLOSE_GRACE)
        }))
        .map_err(|_| {
            napi::Error::new(
                Status::GenericFailure,
                "MESH_ERR_NATIVE_PANIC: panic while closing the node proxy",
            )
        })
    }

    fn resolve(&mut self, _env: Env, _out: ()) -> napi::Result<()> {
        Ok(())
    }
}
