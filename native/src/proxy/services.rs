//! Kubernetes Services in the node proxy (there is no kube-proxy): the `services` part of the
//! decision table (VIP:port → endpoints), and the balancer that picks an endpoint per connection by
//! power of two choices over open connections, skipping endpoints already tried for it.

use std::cell::Cell;
use std::collections::HashMap;
use std::net::SocketAddrV4;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::table::{as_array, as_object, describe, field, ipv4};

/// Close reason of a connection to a Service that has no ready endpoint.
pub const NO_ENDPOINTS: &str = "MESH_ERR_NO_ENDPOINTS";

/// One Service port: its name (for events and metrics) and ready endpoints.
#[derive(Debug, PartialEq, Eq)]
pub struct ServiceRoute {
    pub name: Arc<str>,
    pub endpoints: Box<[SocketAddrV4]>,
}

fn port(v: &Value, path: &str) -> Result<u16, String> {
    v.as_u64()
        .and_then(|n| u16::try_from(n).ok())
        .filter(|p| *p != 0)
        .ok_or_else(|| format!("{path}: {} is not a port in 1..65535", describe(v)))
}

/// Parses `table.services` (absent → none). Keys are the VIP and service port.
pub fn parse(v: Option<&Value>) -> Result<HashMap<SocketAddrV4, Arc<ServiceRoute>>, String> {
    let mut out = HashMap::new();
    let Some(v) = v else { return Ok(out) };
    for (i, s) in as_array(v, "services")?.iter().enumerate() {
        let path = format!("services[{i}]");
        let so = as_object(s, &path)?;
        let name_v = field(so, &path, "name")?;
        let name = name_v.as_str().filter(|n| !n.is_empty()).ok_or_else(|| {
            format!(
                "{path}.name: {} is not a non-empty string",
                describe(name_v)
            )
        })?;
        let vip = ipv4(field(so, &path, "vip")?, &format!("{path}.vip"))?;
        let p = port(field(so, &path, "port")?, &format!("{path}.port"))?;
        let mut endpoints = Vec::new();
        let eps_path = format!("{path}.endpoints");
        for (j, e) in as_array(field(so, &path, "endpoints")?, &eps_path)?
            .iter()
            .enumerate()
        {
            let ep = format!("{eps_path}[{j}]");
            let eo = as_object(e, &ep)?;
            let ip = ipv4(field(eo, &ep, "ip")?, &format!("{ep}.ip"))?;
            endpoints.push(SocketAddrV4::new(
                ip,
                port(field(eo, &ep, "port")?, &format!("{ep}.port"))?,
            ));
        }
        let key = SocketAddrV4::new(vip, p);
        let route = Arc::new(ServiceRoute {
            name: Arc::from(name),
            endpoints: endpoints.into_boxed_slice(),
        });
        if out.insert(key, route).is_some() {
            return Err(format!("{path}: {key} appears twice in services"));
        }
    }
    Ok(out)
}

thread_local! {
    static RNG: Cell<u64> = Cell::new(seed());
}

fn seed() -> u64 {
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    // Mix in the thread's stack address so two threads seeded in the same nanosecond differ.
    let local = 0u8;
    (t ^ (&local as *const u8 as u64).rotate_left(32)) | 1
}

/// xorshift64*: cheap, good enough to spread connections; not for anything secret.
fn next_u64() -> u64 {
    RNG.with(|c| {
        let mut x = c.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        c.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    })
}

/// Open upstream connections per endpoint, shared by every service and table version.
#[derive(Default)]
pub struct Balancer {
    open: Mutex<HashMap<SocketAddrV4, u32>>,
}

impl Balancer {
    /// Open connections to `ep` now.
    pub fn open_count(&self, ep: SocketAddrV4) -> u32 {
        self.open
            .lock()
            .map_or(0, |m| m.get(&ep).copied().unwrap_or(0))
    }

    /// Power of two choices among `endpoints` not in `tried`: two distinct random candidates,
    /// the one with fewer open connections wins (a tie goes to the first). None when all were tried.
    pub fn pick(&self, endpoints: &[SocketAddrV4], tried: &[SocketAddrV4]) -> Option<SocketAddrV4> {
        let left: Vec<SocketAddrV4> = endpoints
            .iter()
            .copied()
            .filter(|e| !tried.contains(e))
            .collect();
        match left.len() {
            0 => None,
            1 => Some(left[0]),
            n => {
                let a = (next_u64() % n as u64) as usize;
                let b = (a + 1 + (next_u64() % (n as u64 - 1)) as usize) % n;
                let (ea, eb) = (left[a], left[b]);
                Some(if self.open_count(eb) < self.open_count(ea) {
                    eb
                } else {
                    ea
                })
            }
        }
    }

    /// Counts a connection to `ep` as open; pair with `release`.
    pub fn acquire(&self, ep: SocketAddrV4) {
        if let Ok(mut m) = self.open.lock() {
            *m.entry(ep).or_insert(0) += 1;
        }
    }

    /// Counts a connection to `ep` as closed; entries at zero are dropped so the map stays small.
    pub fn release(&self, ep: SocketAddrV4) {
        if let Ok(mut m) = self.open.lock() {
            if let Some(n) = m.get_mut(&ep) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    m.remove(&ep);
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "services_tests.rs"]
mod tests;
