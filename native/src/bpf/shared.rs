//! Rust mirror of bpf/include/shared.h: ports, mark, flags, map capacities, counter indexes and the
//! `#[repr(C)]` map values. The tests below parse the header text and fail on any drift in a
//! `#define`, an enum value, or a struct's size or field offsets.

pub const MESH_PORT_OUTBOUND: u16 = 15001;
pub const MESH_PORT_INBOUND: u16 = 15006;
pub const MESH_PORT_TUNNEL: u16 = 15008;
pub const MESH_PORT_ADMIN: u16 = 15020;
pub const MESH_MARK: u32 = 0x539;
pub const MESH_ROUTE_TABLE: u32 = 15006;
pub const MESH_WL_CAPTURE: u32 = 0x1;
pub const MESH_MAX_WORKLOADS: u32 = 65536;
pub const MESH_MAX_LOCAL_ADDRS: u32 = 256;

/// `enum mesh_counter`: indexes into the `mesh_counters` per-CPU array.
pub const MESH_CNT_STEER_OUTBOUND: u32 = 0;
pub const MESH_CNT_STEER_INBOUND: u32 = 1;
pub const MESH_CNT_ASSIGN_EXISTING: u32 = 2;
pub const MESH_CNT_PASS_NOT_TCP: u32 = 3;
pub const MESH_CNT_PASS_NOT_ENROLLED: u32 = 4;
pub const MESH_CNT_PASS_LOCAL: u32 = 5;
pub const MESH_CNT_PASS_NOT_SYN: u32 = 6;
pub const MESH_CNT_DROP_NO_LISTENER: u32 = 7;
pub const MESH_CNT_ERR_ASSIGN: u32 = 8;
pub const MESH_CNT_ERR_MALFORMED: u32 = 9;
pub const MESH_CNT_STEER_TUNNEL: u32 = 10;
pub const MESH_CNT_MAX: u32 = 11;

/// Map names in the object; each is pinned at `<pin_dir>/<name>`.
pub const MAP_WORKLOADS: &str = "mesh_workloads";
pub const MAP_LOCAL_ADDRS: &str = "mesh_local_addrs";
pub const MAP_COUNTERS: &str = "mesh_counters";
/// The TC program's function name in the object.
pub const PROG_TC_STEER: &str = "tc_steer";

/// `struct mesh_workload`, the value of `mesh_workloads` (key: IPv4 in network byte order).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeshWorkload {
    pub index: u32,
    pub flags: u32,
}

impl MeshWorkload {
    /// The value bytes as the kernel stores them (host byte order, C layout).
    pub fn to_bytes(self) -> [u8; 8] {
        let mut b = [0u8; 8];
        b[..4].copy_from_slice(&self.index.to_ne_bytes());
        b[4..].copy_from_slice(&self.flags.to_ne_bytes());
        b
    }

    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        let index = u32::from_ne_bytes(b.get(0..4)?.try_into().ok()?);
        let flags = u32::from_ne_bytes(b.get(4..8)?.try_into().ok()?);
        Some(Self { index, flags })
    }
}

/// `struct mesh_local_addr`, the value of `mesh_local_addrs`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MeshLocalAddr {
    pub flags: u32,
}

impl MeshLocalAddr {
    pub fn to_bytes(self) -> [u8; 4] {
        self.flags.to_ne_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::mem::{offset_of, size_of};

    fn header() -> String {
        let p = concat!(env!("CARGO_MANIFEST_DIR"), "/../bpf/include/shared.h");
        std::fs::read_to_string(p).unwrap_or_else(|e| panic!("reading {p}: {e}"))
    }

    /// The header without /* */ comments.
    fn strip_comments(s: &str) -> String {
        let mut out = String::new();
        let mut rest = s;
        while let Some(i) = rest.find("/*") {
            out.push_str(&rest[..i]);
            rest = rest[i..].find("*/").map_or("", |j| &rest[i + j + 2..]);
        }
        out.push_str(rest);
        out
    }

    fn int(v: &str) -> u64 {
        let v = v.trim().trim_end_matches(['u', 'U', 'l', 'L']);
        match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
            Some(h) => u64::from_str_radix(h, 16),
            None => v.parse(),
        }
        .unwrap_or_else(|_| panic!("not an integer: {v}"))
    }

    fn defines(h: &str) -> BTreeMap<String, u64> {
        h.lines()
            .filter_map(|l| l.trim().strip_prefix("#define "))
            .filter_map(|l| {
                let mut it = l.split_whitespace();
                let name = it.next()?;
                it.next().map(|v| (name.to_string(), int(v)))
            })
            .collect()
    }

    fn block<'a>(h: &'a str, opener: &str) -> &'a str {
        let start = h
            .find(opener)
            .unwrap_or_else(|| panic!("{opener} not found in shared.h"));
        let body = &h[start + opener.len()..];
        &body[..body.find('}').expect("unterminated block")]
    }

    /// (field, offset) pairs and the size of a C struct made of fixed-width integer fields.
    fn c_layout(h: &str, name: &str) -> (Vec<(String, usize)>, usize) {
        let (mut off, mut align_max, mut fields) = (0usize, 1usize, Vec::new());
        for decl in block(h, &format!("struct {name} {{")).split(';') {
            let mut it = decl.split_whitespace();
            let (Some(ty), Some(field)) = (it.next(), it.next()) else {
                continue;
            };
            let size = match ty {
                "__u8" => 1,
                "__u16" => 2,
                "__u32" => 4,
                "__u64" => 8,
                t => panic!("struct {name}: field type {t} not handled by this test"),
            };
            off = off.div_ceil(size) * size;
            fields.push((field.to_string(), off));
            off += size;
            align_max = align_max.max(size);
        }
        (fields, off.div_ceil(align_max) * align_max)
    }

    #[test]
    fn defines_match_header() {
        let h = strip_comments(&header());
        let want: BTreeMap<String, u64> = [
            ("MESH_PORT_OUTBOUND", u64::from(MESH_PORT_OUTBOUND)),
            ("MESH_PORT_INBOUND", u64::from(MESH_PORT_INBOUND)),
            ("MESH_PORT_TUNNEL", u64::from(MESH_PORT_TUNNEL)),
            ("MESH_PORT_ADMIN", u64::from(MESH_PORT_ADMIN)),
            ("MESH_MARK", u64::from(MESH_MARK)),
            ("MESH_ROUTE_TABLE", u64::from(MESH_ROUTE_TABLE)),
            ("MESH_WL_CAPTURE", u64::from(MESH_WL_CAPTURE)),
            ("MESH_MAX_WORKLOADS", u64::from(MESH_MAX_WORKLOADS)),
            ("MESH_MAX_LOCAL_ADDRS", u64::from(MESH_MAX_LOCAL_ADDRS)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        assert_eq!(
            defines(&h),
            want,
            "shared.h #defines and shared.rs constants differ"
        );
    }

    #[test]
    fn counter_enum_matches_header() {
        let h = strip_comments(&header());
        let got: BTreeMap<String, u64> = block(&h, "enum mesh_counter {")
            .split(',')
            .filter_map(|e| e.split_once('='))
            .map(|(k, v)| (k.trim().to_string(), int(v)))
            .collect();
        let want: BTreeMap<String, u64> = [
            ("MESH_CNT_STEER_OUTBOUND", MESH_CNT_STEER_OUTBOUND),
            ("MESH_CNT_STEER_INBOUND", MESH_CNT_STEER_INBOUND),
            ("MESH_CNT_ASSIGN_EXISTING", MESH_CNT_ASSIGN_EXISTING),
            ("MESH_CNT_PASS_NOT_TCP", MESH_CNT_PASS_NOT_TCP),
            ("MESH_CNT_PASS_NOT_ENROLLED", MESH_CNT_PASS_NOT_ENROLLED),
            ("MESH_CNT_PASS_LOCAL", MESH_CNT_PASS_LOCAL),
            ("MESH_CNT_PASS_NOT_SYN", MESH_CNT_PASS_NOT_SYN),
            ("MESH_CNT_DROP_NO_LISTENER", MESH_CNT_DROP_NO_LISTENER),
            ("MESH_CNT_ERR_ASSIGN", MESH_CNT_ERR_ASSIGN),
            ("MESH_CNT_ERR_MALFORMED", MESH_CNT_ERR_MALFORMED),
            ("MESH_CNT_STEER_TUNNEL", MESH_CNT_STEER_TUNNEL),
            ("MESH_CNT_MAX", MESH_CNT_MAX),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), u64::from(v)))
        .collect();
        assert_eq!(got, want, "enum mesh_counter and shared.rs differ");
    }

    #[test]
    fn struct_layouts_match_header() {
        let h = strip_comments(&header());
        let (fields, size) = c_layout(&h, "mesh_workload");
        assert_eq!(
            size,
            size_of::<MeshWorkload>(),
            "sizeof(struct mesh_workload)"
        );
        let rust = vec![
            ("index".to_string(), offset_of!(MeshWorkload, index)),
            ("flags".to_string(), offset_of!(MeshWorkload, flags)),
        ];
        assert_eq!(fields, rust, "struct mesh_workload fields/offsets");

        let (fields, size) = c_layout(&h, "mesh_local_addr");
        assert_eq!(
            size,
            size_of::<MeshLocalAddr>(),
            "sizeof(struct mesh_local_addr)"
        );
        assert_eq!(
            fields,
            vec![("flags".to_string(), offset_of!(MeshLocalAddr, flags))]
        );
    }

    #[test]
    fn workload_bytes_round_trip() {
        let w = MeshWorkload {
            index: 7,
            flags: MESH_WL_CAPTURE,
        };
        assert_eq!(MeshWorkload::from_bytes(&w.to_bytes()), Some(w));
        assert_eq!(MeshWorkload::from_bytes(&[0u8; 7]), None);
        assert_eq!(MeshLocalAddr::default().to_bytes(), [0u8; 4]);
    }
}
