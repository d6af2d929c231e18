//! The decision table (wire shape: agent/src/decide/table.ts) and the one function that decides a
//! captured connection from it. The accept path and `evaluate()` both call [`Table::decide`], so
//! TypeScript can check that native executes its decisions. Parsing validates every field and
//! names the field path of the first problem; a rejected table never replaces the one in force.

use std::collections::{HashMap, HashSet};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;

use serde_json::{Map, Value};

use super::authz::Authz;
use super::services::{self, ServiceRoute};
use crate::l7::table::HttpTable;

/// Close reason of a connection whose original destination is this node (or loopback).
pub const DIRECT_CONNECT: &str = "MESH_ERR_DIRECT_CONNECT";
/// Close reason used by the table in force before JavaScript installs one.
pub const NOT_ENROLLED: &str = "MESH_ERR_NOT_ENROLLED";
/// Largest integer a JavaScript number holds exactly.
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Which listener captured a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Outbound,
    Inbound,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Outbound => "outbound",
            Direction::Inbound => "inbound",
        }
    }

    pub fn parse(s: &str) -> Option<Direction> {
        match s {
            "outbound" => Some(Direction::Outbound),
            "inbound" => Some(Direction::Inbound),
            _ => None,
        }
    }
}

/// One verdict of the table: forward (`reason` empty) or deny with a MESH_ERR_* code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableVerdict {
    pub forward: bool,
    pub reason: Arc<str>,
}

impl TableVerdict {
    fn deny(code: &str) -> TableVerdict {
        TableVerdict {
            forward: false,
            reason: Arc::from(code),
        }
    }
}

#[derive(Clone, Debug)]
struct Entry {
    outbound: TableVerdict,
    inbound: TableVerdict,
    /// the pod's SPIFFE identity (the certificate its connections present); None: no identity
    identity: Option<Arc<str>>,
}

/// A meshed pod on another node: connections to it travel over HBONE to its node's proxy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peer {
    pub node: Arc<str>,
    pub identity: Arc<str>,
}

impl Entry {
    fn pick(&self, dir: Direction) -> &TableVerdict {
        match dir {
            Direction::Outbound => &self.outbound,
            Direction::Inbound => &self.inbound,
        }
    }
}

/// What the proxy does with one connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Connect to `upstream` from `bind_ip` (the client's own address); when `service` is set,
    /// `upstream` is the VIP and the connection goes to one of the service's endpoints instead.
    Forward {
        upstream: SocketAddrV4,
        bind_ip: Ipv4Addr,
        service: Option<Arc<ServiceRoute>>,
    },
    /// Reset the client; the reason is a MESH_ERR_* code.
    Deny(Arc<str>),
    /// Reset the client with MESH_ERR_NO_ENDPOINTS: the destination is this Service's VIP:port
    /// and it has no endpoint (the verdict and the close event name the service).
    NoEndpoints(Arc<ServiceRoute>),
}

/// A validated, immutable decision table. Swapped whole by `setTable`.
#[derive(Debug)]
pub struct Table {
    pub version: u64,
    local: HashSet<Ipv4Addr>,
    defaults: Entry,
    workloads: HashMap<Ipv4Addr, Entry>,
    services: HashMap<SocketAddrV4, Arc<ServiceRoute>>,
    /// meshed pods of other nodes, by IP
    peers: HashMap<Ipv4Addr, Arc<Peer>>,
    /// inbound authorization of this node's workloads
    pub authz: Authz,
    /// L7: protocol detection and compiled HTTP routes (None: every connection is TCP)
    pub http: Option<Arc<HttpTable>>,
    direct: Arc<str>,
}

impl Table {
    /// The table in force until JavaScript installs one: version 0, every connection denied
    /// with MESH_ERR_NOT_ENROLLED (the agent has not said which pods are enrolled yet).
    pub fn empty() -> Table {
        let deny = TableVerdict::deny(NOT_ENROLLED);
        Table {
            version: 0,
            local: HashSet::new(),
            defaults: Entry {
                outbound: deny.clone(),
                inbound: deny,
                identity: None,
            },
            workloads: HashMap::new(),
            services: HashMap::new(),
            peers: HashMap::new(),
            authz: Authz::empty(),
            http: None,
            direct: Arc::from(DIRECT_CONNECT),
        }
    }

    #[cfg(test)]
    pub fn workload_count(&self) -> usize {
        self.workloads.len()
    }

    /// The identity of an enrolled pod of this node (None: not one, or it has no identity).
    pub fn local_identity(&self, ip: Ipv4Addr) -> Option<Arc<str>> {
        self.workloads.get(&ip).and_then(|e| e.identity.clone())
    }

    /// Whether `ip` is an enrolled pod of this node (its inbound verdict forwards).
    pub fn is_local_workload(&self, ip: Ipv4Addr) -> bool {
        self.workloads.get(&ip).is_some_and(|e| e.inbound.forward)
    }

    /// The meshed pod of another node at `ip`, if any.
    pub fn peer(&self, ip: Ipv4Addr) -> Option<Arc<Peer>> {
        self.peers.get(&ip).cloned()
    }

    /// Decides a captured connection, in order: loopback, local or proxy-port destination →
    /// direct (`own_ports` are the listeners' ports: the loop guard); the workload verdict (by
    /// source outbound, by destination inbound); then an outbound destination equal to a
    /// Service's VIP:port routes to that service, or is denied when it has no endpoint.
    pub fn decide(
        &self,
        dir: Direction,
        src: SocketAddrV4,
        dst: SocketAddrV4,
        own_ports: [u16; 2],
    ) -> Decision {
        let dst_ip = *dst.ip();
        if dst_ip.is_loopback() || self.local.contains(&dst_ip) || own_ports.contains(&dst.port()) {
            return Decision::Deny(self.direct.clone());
        }
        let key = match dir {
            Direction::Outbound => src.ip(),
            Direction::Inbound => dst.ip(),
        };
        let verdict = self.workloads.get(key).unwrap_or(&self.defaults).pick(dir);
        if verdict.forward {
            let service = match dir {
                Direction::Outbound => self.services.get(&dst).cloned(),
                Direction::Inbound => None,
            };
            if let Some(s) = service.as_ref().filter(|s| s.endpoints.is_empty()) {
                return Decision::NoEndpoints(s.clone());
            }
            Decision::Forward {
                upstream: dst,
                bind_ip: *src.ip(),
                service,
            }
        } else {
            Decision::Deny(verdict.reason.clone())
        }
    }

    /// Parses and validates the JSON of a `DecisionTable`. The error names the field path.
    pub fn parse(json: &str) -> Result<Table, String> {
        let root: Value =
            serde_json::from_str(json).map_err(|e| format!("table: invalid JSON ({e})"))?;
        let obj = as_object(&root, "table")?;
        let version = version(field(obj, "table", "version")?)?;

        let mut local = HashSet::new();
        for (i, v) in as_array(field(obj, "table", "localAddrs")?, "localAddrs")?
            .iter()
            .enumerate()
        {
            local.insert(ipv4(v, &format!("localAddrs[{i}]"))?);
        }

        let defaults_v = field(obj, "table", "defaults")?;
        let defaults = entry(as_object(defaults_v, "defaults")?, "defaults")?;

        let list = as_array(field(obj, "table", "workloads")?, "workloads")?;
        let mut workloads = HashMap::with_capacity(list.len());
        let mut first_index: HashMap<Ipv4Addr, usize> = HashMap::with_capacity(list.len());
        for (i, w) in list.iter().enumerate() {
            let path = format!("workloads[{i}]");
            let wo = as_object(w, &path)?;
            let ip = ipv4(field(wo, &path, "ip")?, &format!("{path}.ip"))?;
            index(field(wo, &path, "index")?, &format!("{path}.index"))?;
            let e = entry(wo, &path)?;
            if let Some(prev) = first_index.insert(ip, i) {
                return Err(format!(
                    "{path}.ip: \"{ip}\" duplicates workloads[{prev}].ip"
                ));
            }
            workloads.insert(ip, e);
        }
        let services = services::parse(obj.get("services"))?;
        let peers = parse_peers(obj.get("peers"))?;
        let authz = Authz::parse(obj.get("authz"))?;
        let http = match obj.get("http") {
            None | Some(Value::Null) => None,
            Some(v) => Some(Arc::new(HttpTable::parse(v)?)),
        };
        Ok(Table {
            version,
            local,
            defaults,
            workloads,
            services,
            peers,
            authz,
            http,
            direct: Arc::from(DIRECT_CONNECT),
        })
    }
}

pub(super) fn describe(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 60 {
        format!(
            "{}…",
            &s[..s.char_indices().nth(57).map_or(s.len(), |(i, _)| i)]
        )
    } else {
        s
    }
}

pub(super) fn field<'a>(
    obj: &'a Map<String, Value>,
    path: &str,
    name: &str,
) -> Result<&'a Value, String> {
    obj.get(name).ok_or_else(|| {
        if path == "table" {
            format!("{name}: missing")
        } else {
            format!("{path}.{name}: missing")
        }
    })
}

pub(super) fn as_object<'a>(v: &'a Value, path: &str) -> Result<&'a Map<String, Value>, String> {
    v.as_object()
        .ok_or_else(|| format!("{path}: {} is not an object", describe(v)))
}

pub(super) fn as_array<'a>(v: &'a Value, path: &str) -> Result<&'a Vec<Value>, String> {
    v.as_array()
        .ok_or_else(|| format!("{path}: {} is not an array", describe(v)))
}

pub(super) fn ipv4(v: &Value, path: &str) -> Result<Ipv4Addr, String> {
    match v.as_str().map(str::parse::<Ipv4Addr>) {
        Some(Ok(ip)) => Ok(ip),
        _ => Err(format!("{path}: {} is not an IPv4 address", describe(v))),
    }
}

fn version(v: &Value) -> Result<u64, String> {
    match v.as_u64() {
        Some(n) if n <= MAX_SAFE_INTEGER => Ok(n),
        _ => Err(format!(
            "version: {} is not a non-negative safe integer",
            describe(v)
        )),
    }
}

fn index(v: &Value, path: &str) -> Result<u32, String> {
    v.as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| format!("{path}: {} is not an integer in 0..4294967295", describe(v)))
}

fn entry(obj: &Map<String, Value>, path: &str) -> Result<Entry, String> {
    Ok(Entry {
        outbound: verdict(field(obj, path, "outbound")?, &format!("{path}.outbound"))?,
        inbound: verdict(field(obj, path, "inbound")?, &format!("{path}.inbound"))?,
        identity: opt_identity(obj.get("identity"), &format!("{path}.identity"))?,
    })
}

/// An optional SPIFFE identity: absent or "" → None.
fn opt_identity(v: Option<&Value>, path: &str) -> Result<Option<Arc<str>>, String> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) if s.starts_with("spiffe://") && s.len() <= 512 => {
            Ok(Some(Arc::from(s.as_str())))
        }
        Some(v) => Err(format!(
            "{path}: {} is not a spiffe:// identity",
            describe(v)
        )),
    }
}

/// `peers`: meshed pods of other nodes, `[{ip, node, identity}]` (absent: none).
fn parse_peers(v: Option<&Value>) -> Result<HashMap<Ipv4Addr, Arc<Peer>>, String> {
    let mut out = HashMap::new();
    let Some(v) = v else { return Ok(out) };
    for (i, p) in as_array(v, "peers")?.iter().enumerate() {
        let path = format!("peers[{i}]");
        let po = as_object(p, &path)?;
        let ip = ipv4(field(po, &path, "ip")?, &format!("{path}.ip"))?;
        let node_v = field(po, &path, "node")?;
        let node = node_v
            .as_str()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| format!("{path}.node: {} is not a node name", describe(node_v)))?;
        let identity = opt_identity(po.get("identity"), &format!("{path}.identity"))?
            .ok_or_else(|| format!("{path}.identity: missing"))?;
        if out
            .insert(
                ip,
                Arc::new(Peer {
                    node: Arc::from(node),
                    identity,
                }),
            )
            .is_some()
        {
            return Err(format!("{path}.ip: \"{ip}\" is listed twice"));
        }
    }
    Ok(out)
}

fn is_mesh_code(s: &str) -> bool {
    s.len() > "MESH_ERR_".len()
        && s.len() <= 64
        && s.starts_with("MESH_ERR_")
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

fn verdict(v: &Value, path: &str) -> Result<TableVerdict, String> {
    let obj = as_object(v, path)?;
    let action = field(obj, path, "action")?;
    let reason_v = field(obj, path, "reason")?;
    let reason = reason_v
        .as_str()
        .ok_or_else(|| format!("{path}.reason: {} is not a string", describe(reason_v)))?;
    match action.as_str() {
        Some("forward") if reason.is_empty() => Ok(TableVerdict {
            forward: true,
            reason: Arc::from(""),
        }),
        Some("forward") => Err(format!(
            "{path}.reason: {} must be \"\" when action is \"forward\"",
            describe(reason_v)
        )),
        Some("deny") if is_mesh_code(reason) => Ok(TableVerdict::deny(reason)),
        Some("deny") => Err(format!(
            "{path}.reason: {} must be a MESH_ERR_* code when action is \"deny\"",
            describe(reason_v)
        )),
        _ => Err(format!(
            "{path}.action: {} is not \"forward\" or \"deny\"",
            describe(action)
        )),
    }
}

#[cfg(test)]
#[path = "table_tests.rs"]
mod tests;
