//! Kubernetes Services in the node proxy (there is no kube-proxy): the `services` part of the
//! decision table (VIP:port → endpoints), and the balancer that picks an endpoint per connection by
//! power of two choices over open connections, skipping endpoints already tried for it.

use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddrV4;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::table::{as_array, as_object, describe, field, ipv4};

/// Close reason of a connection to a Service that has no ready endpoint.
pub const NO_ENDPOINTS: &str = "MESH_ERR_NO_ENDPOINTS";
/// Longest `namespace/name` accepted (two 63-byte DNS labels would need far less; names are
/// only labels for events and metrics, so this is a sanity bound, not Kubernetes validation).
const MAX_NAME: usize = 254;

/// One Service port: its name (for events and metrics) and ready endpoints, distinct, in table
/// order.
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

/// `namespace/name`: one slash, both sides non-empty, printable ASCII without spaces.
fn name<'a>(v: &'a Value, path: &str) -> Result<&'a str, String> {
    let ok = |s: &str| {
        s.len() <= MAX_NAME
            && s.bytes().all(|b| b.is_ascii_graphic())
            && s.split_once('/')
                .is_some_and(|(ns, n)| !ns.is_empty() && !n.is_empty() && !n.contains('/'))
    };
    match v.as_str() {
        Some(s) if ok(s) => Ok(s),
        _ => Err(format!("{path}: {} is not \"namespace/name\"", describe(v))),
    }
}

/// Parses `table.services` (absent → none). Keys are the VIP and service port; a VIP:port listed
/// twice is an error. An endpoint listed twice in one service counts once (EndpointSlices may
/// repeat an address while they are updated).
pub fn parse(v: Option<&Value>) -> Result<HashMap<SocketAddrV4, Arc<ServiceRoute>>, String> {
    let mut out = HashMap::new();
    let Some(v) = v else { return Ok(out) };
    let mut first: HashMap<SocketAddrV4, usize> = HashMap::new();
    for (i, s) in as_array(v, "services")?.iter().enumerate() {
        let path = format!("services[{i}]");
        let so = as_object(s, &path)?;
        let name = name(field(so, &path, "name")?, &format!("{path}.name"))?;
        let vip = ipv4(field(so, &path, "vip")?, &format!("{path}.vip"))?;
        let key = SocketAddrV4::new(
            vip,
            port(field(so, &path, "port")?, &format!("{path}.port"))?,
        );
        let eps_path = format!("{path}.endpoints");
        let list = as_array(field(so, &path, "endpoints")?, &eps_path)?;
        let mut endpoints = Vec::with_capacity(list.len());
        let mut seen = HashSet::with_capacity(list.len());
        for (j, e) in list.iter().enumerate() {
            let ep = format!("{eps_path}[{j}]");
            let eo = as_object(e, &ep)?;
            let ip = ipv4(field(eo, &ep, "ip")?, &format!("{ep}.ip"))?;
            let addr = SocketAddrV4::new(ip, port(field(eo, &ep, "port")?, &format!("{ep}.port"))?);
            if seen.insert(addr) {
                endpoints.push(addr);
            }
        }
        if let Some(prev) = first.insert(key, i) {
            return Err(format!(
                "{path}: {key} (vip:port) duplicates services[{prev}]"
            ));
        }
        let route = ServiceRoute {
            name: Arc::from(name),
            endpoints: endpoints.into_boxed_slice(),
        };
        out.insert(key, Arc::new(route));
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

/// xorshift64* on a per-thread state: cheap, good enough to spread connections; not for secrets.
pub fn next_u64() -> u64 {
    RNG.with(|c| {
        let mut x = c.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        c.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    })
}

/// Connections per endpoint (ip:port), shared by every service and every table version. A
/// connection counts from the moment it is claimed, connect included, until it closes: a
/// black-holed endpoint then collects pending connects and loses the comparison, instead of
/// looking idle and attracting every new connection while its connects hang.
#[derive(Default)]
pub struct Balancer {
    open: Mutex<HashMap<SocketAddrV4, u32>>,
}

impl Balancer {
    fn counts(&self) -> MutexGuard<'_, HashMap<SocketAddrV4, u32>> {
        // The map holds plain counters: a panic elsewhere cannot leave it inconsistent.
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Connections counted against `ep` now.
    #[cfg(test)]
    pub fn open_count(&self, ep: SocketAddrV4) -> u32 {
        self.counts().get(&ep).copied().unwrap_or(0)
    }

    /// Power of two choices among `endpoints` not in `tried` (see [`choose`]), with this thread's
    /// RNG. Nothing is counted; [`Balancer::claim`] is what connections use.
    #[cfg(test)]
    pub fn pick(&self, endpoints: &[SocketAddrV4], tried: &[SocketAddrV4]) -> Option<SocketAddrV4> {
        choose(endpoints, tried, &self.counts(), next_u64)
    }

    /// Picks like [`Balancer::pick`] and counts the pick at once, under the same lock, so that
    /// concurrent connections see each other. Dropping the claim uncounts it; [`Claim::keep`]
    /// hands the count to the connection, which [`Balancer::release`]s it when it closes.
    pub fn claim(&self, endpoints: &[SocketAddrV4], tried: &[SocketAddrV4]) -> Option<Claim<'_>> {
        let mut m = self.counts();
        let ep = choose(endpoints, tried, &m, next_u64)?;
        *m.entry(ep).or_insert(0) += 1;
        Some(Claim {
            balancer: self,
            ep,
            armed: true,
        })
    }

    /// Counts a connection to `ep`; pair with `release`.
    #[cfg(test)]
    pub fn acquire(&self, ep: SocketAddrV4) {
        *self.counts().entry(ep).or_insert(0) += 1;
    }

    /// Uncounts a connection to `ep`; an entry at zero is dropped, so endpoints that left every
    /// service disappear with their last connection.
    pub fn release(&self, ep: SocketAddrV4) {
        let mut m = self.counts();
        if let Some(n) = m.get_mut(&ep) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                m.remove(&ep);
            }
        }
    }
}

/// A counted pick (connect in progress); uncounted on drop unless kept.
pub struct Claim<'a> {
    balancer: &'a Balancer,
    ep: SocketAddrV4,
    armed: bool,
}

impl Claim<'_> {
    pub fn endpoint(&self) -> SocketAddrV4 {
        self.ep
    }

    /// The connect succeeded: the count now belongs to the connection (released when it closes).
    pub fn keep(mut self) -> SocketAddrV4 {
        self.armed = false;
        self.ep
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.balancer.release(self.ep);
        }
    }
}

/// Power of two choices: among `endpoints` not in `tried`, two distinct candidates drawn with
/// `rand`, the one with fewer connections in `open` wins (a tie goes to the first drawn, itself
/// uniform). One candidate → it; none → None.
pub fn choose(
    endpoints: &[SocketAddrV4],
    tried: &[SocketAddrV4],
    open: &HashMap<SocketAddrV4, u32>,
    mut rand: impl FnMut() -> u64,
) -> Option<SocketAddrV4> {
    let left = || endpoints.iter().copied().filter(|e| !tried.contains(e));
    // No allocation per connection; `tried` is empty unless an endpoint just failed.
    let n = if tried.is_empty() {
        endpoints.len()
    } else {
        left().count()
    };
    let nth = |i: usize| {
        if tried.is_empty() {
            endpoints.get(i).copied()
        } else {
            left().nth(i)
        }
    };
    match n {
        0 => None,
        1 => nth(0),
        n => {
            let a = (rand() % n as u64) as usize;
            let b = (a + 1 + (rand() % (n as u64 - 1)) as usize) % n;
            let (ea, eb) = (nth(a)?, nth(b)?);
            let load = |e: SocketAddrV4| open.get(&e).copied().unwrap_or(0);
            Some(if load(eb) < load(ea) { eb } else { ea })
        }
    }
}

#[cfg(test)]
#[path = "services_tests.rs"]
mod tests;
