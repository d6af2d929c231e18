//! Typed access to the datapath's maps: enrolled workloads, node-local addresses and the per-CPU
//! counters. Keys are IPv4 addresses in network byte order (the octets as written); values are the
//! `#[repr(C)]` structs of shared.rs in host byte order, exactly as tc_steer.bpf.c reads them.

use std::net::Ipv4Addr;

use libbpf_rs::{ErrorKind, MapCore, MapFlags, MapHandle};

use super::shared::{
    MeshLocalAddr, MeshWorkload, MESH_CNT_MAX, MESH_MAX_LOCAL_ADDRS, MESH_MAX_WORKLOADS,
};
use crate::errors::{err, Code, JsError, Result};

pub fn parse_ip(what: &str, s: &str) -> Result<Ipv4Addr> {
    s.parse().map_err(|_| {
        err(
            Code::InvalidArg,
            format!("{what}: \"{s}\" is not an IPv4 address"),
        )
    })
}

/// Map key of an address: network byte order.
pub fn ip_key(ip: Ipv4Addr) -> [u8; 4] {
    ip.octets()
}

pub fn key_ip(key: &[u8]) -> Option<Ipv4Addr> {
    <[u8; 4]>::try_from(key).ok().map(Ipv4Addr::from)
}

/// Sums one counter's per-CPU values (each a native-endian u64); missing bytes count as 0.
pub fn sum_percpu(per_cpu: &[Vec<u8>]) -> u64 {
    per_cpu
        .iter()
        .filter_map(|v| v.get(..8).and_then(|b| <[u8; 8]>::try_from(b).ok()))
        .fold(0u64, |acc, b| acc.wrapping_add(u64::from_ne_bytes(b)))
}

fn map_err(what: String, e: libbpf_rs::Error) -> JsError {
    let hint = match e.kind() {
        ErrorKind::PermissionDenied => " (needs root or CAP_BPF)",
        _ => "",
    };
    err(Code::BpfMap, format!("{what}: {e:#}{hint}"))
}

/// File descriptors of the three maps (duplicates: valid after the object is dropped).
pub struct Maps {
    pub workloads: MapHandle,
    pub local_addrs: MapHandle,
    pub counters: MapHandle,
}

impl Maps {
    pub fn set_workload(&self, ip: Ipv4Addr, wl: MeshWorkload) -> Result<()> {
        self.workloads.update(&ip_key(ip), &wl.to_bytes(), MapFlags::ANY).map_err(|e| {
            if e.kind() == ErrorKind::TooBig {
                err(Code::BpfMap, format!("enrolling {ip}: the workload map is full ({MESH_MAX_WORKLOADS} entries)"))
            } else {
                map_err(format!("enrolling {ip}"), e)
            }
        })
    }

    pub fn delete_workload(&self, ip: Ipv4Addr) -> Result<bool> {
        delete(&self.workloads, ip, "unenrolling")
    }

    /// Every enrolled workload, sorted by address.
    pub fn list_workloads(&self) -> Result<Vec<(Ipv4Addr, MeshWorkload)>> {
        let mut out = Vec::new();
        for key in self.workloads.keys() {
            let Some(ip) = key_ip(&key) else { continue };
            // An entry deleted between keys() and lookup() is simply skipped.
            let v = self
                .workloads
                .lookup(&key, MapFlags::ANY)
                .map_err(|e| map_err(format!("reading workload {ip}"), e))?;
            if let Some(wl) = v.as_deref().and_then(MeshWorkload::from_bytes) {
                out.push((ip, wl));
            }
        }
        out.sort_by_key(|(ip, _)| *ip);
        Ok(out)
    }

    pub fn set_local_addr(&self, ip: Ipv4Addr) -> Result<()> {
        let v = MeshLocalAddr::default().to_bytes();
        self.local_addrs.update(&ip_key(ip), &v, MapFlags::ANY).map_err(|e| {
            if e.kind() == ErrorKind::TooBig {
                err(Code::BpfMap, format!("adding local address {ip}: the map is full ({MESH_MAX_LOCAL_ADDRS} entries)"))
            } else {
                map_err(format!("adding local address {ip}"), e)
            }
        })
    }

    pub fn delete_local_addr(&self, ip: Ipv4Addr) -> Result<bool> {
        delete(&self.local_addrs, ip, "removing local address")
    }

    pub fn list_local_addrs(&self) -> Result<Vec<Ipv4Addr>> {
        let mut out: Vec<Ipv4Addr> = self.local_addrs.keys().filter_map(|k| key_ip(&k)).collect();
        out.sort();
        Ok(out)
    }

    /// Every counter summed over CPUs, indexed by `enum mesh_counter`.
    pub fn counters(&self) -> Result<Vec<u64>> {
        (0..MESH_CNT_MAX)
            .map(|i| {
                let v = self
                    .counters
                    .lookup_percpu(&i.to_ne_bytes(), MapFlags::ANY)
                    .map_err(|e| map_err(format!("reading counter {i}"), e))?;
                Ok(v.map(|per_cpu| sum_percpu(&per_cpu)).unwrap_or(0))
            })
            .collect()
    }
}

fn delete(map: &MapHandle, ip: Ipv4Addr, what: &str) -> Result<bool> {
    match map.delete(&ip_key(ip)) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
        Err(e) => Err(map_err(format!("{what} {ip}"), e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_network_byte_order() {
        let ip: Ipv4Addr = "10.200.1.10".parse().unwrap();
        assert_eq!(ip_key(ip), [10, 200, 1, 10]);
        assert_eq!(u32::from_ne_bytes(ip_key(ip)), u32::from(ip).to_be());
        assert_eq!(key_ip(&[10, 200, 1, 10]), Some(ip));
        assert_eq!(key_ip(&[1, 2, 3]), None);
    }

    #[test]
    fn parses_only_dotted_quads() {
        assert_eq!(
            parse_ip("x", "10.0.0.1").unwrap(),
            Ipv4Addr::new(10, 0, 0, 1)
        );
        for bad in ["", "10.0.0", "10.0.0.256", "::1", "10.0.0.1 ", "a.b.c.d"] {
            let e = parse_ip("setWorkload", bad).unwrap_err();
            assert_eq!(e.status, Code::InvalidArg);
            assert!(e.reason.starts_with("setWorkload: "), "{}", e.reason);
        }
    }

    #[test]
    fn sums_counters_over_cpus() {
        let v = |n: u64| n.to_ne_bytes().to_vec();
        assert_eq!(sum_percpu(&[v(1), v(2), v(40)]), 43);
        assert_eq!(sum_percpu(&[]), 0);
        assert_eq!(
            sum_percpu(&[v(5), vec![1, 2]]),
            5,
            "a short value is ignored"
        );
        assert_eq!(
            sum_percpu(&[v(u64::MAX), v(2)]),
            1,
            "wraps like the kernel counter"
        );
    }
}
