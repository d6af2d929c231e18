/* nodemesh: constants and struct layouts shared by the BPF programs (C), the native addon (Rust:
 * native/src/bpf/shared.rs) and the agent (TypeScript: agent/src/shared/layout.ts).
 * Keep the three in sync; test/unit/shared-layout.test.ts and `cargo test` check sizes, offsets and
 * values against this file. Numbers are never renumbered; a retired one becomes UNUSED. */
#ifndef NODEMESH_SHARED_H
#define NODEMESH_SHARED_H

/* Node proxy listeners (host side of the node network namespace). */
#define MESH_PORT_OUTBOUND 15001
#define MESH_PORT_INBOUND 15006
#define MESH_PORT_TUNNEL 15008
#define MESH_PORT_ADMIN 15020

/* skb->mark set on steered packets; the agent installs `ip rule fwmark MESH_MARK/MESH_MARK lookup
 * MESH_ROUTE_TABLE` with `local 0.0.0.0/0 dev lo` in that table (see redirection-facts §A). */
#define MESH_MARK 0x00000539
#define MESH_ROUTE_TABLE 15006

/* Workload flags (struct mesh_workload.flags). */
#define MESH_WL_CAPTURE 0x1 /* steer new connections from and to this pod IP */

/* Map capacities. */
#define MESH_MAX_WORKLOADS 65536
#define MESH_MAX_LOCAL_ADDRS 256

/* Key: IPv4 address in network byte order (__u32). */
struct mesh_workload {
	__u32 index; /* agent-assigned workload index, stable while the pod lives */
	__u32 flags; /* MESH_WL_* */
};

/* Key: IPv4 address in network byte order (__u32); the node's own addresses, never steered. */
struct mesh_local_addr {
	__u32 flags; /* reserved, 0 */
};

/* Per-CPU counters (index into the mesh_counters array). */
enum mesh_counter {
	MESH_CNT_STEER_OUTBOUND = 0,   /* SYN from an enrolled pod, assigned to :15001 */
	MESH_CNT_STEER_INBOUND = 1,    /* SYN to an enrolled pod, assigned to :15006 */
	MESH_CNT_ASSIGN_EXISTING = 2,  /* packet of an existing proxy socket, assigned */
	MESH_CNT_PASS_NOT_TCP = 3,     /* not IPv4 TCP */
	MESH_CNT_PASS_NOT_ENROLLED = 4,/* SYN whose source and destination are not enrolled */
	MESH_CNT_PASS_LOCAL = 5,       /* destination is a node-local address */
	MESH_CNT_PASS_NOT_SYN = 6,     /* no socket found and not a pure SYN: fail open */
	MESH_CNT_DROP_NO_LISTENER = 7, /* enrolled SYN but no proxy listener (agent restarting) */
	MESH_CNT_ERR_ASSIGN = 8,       /* bpf_sk_assign failed */
	MESH_CNT_ERR_MALFORMED = 9,    /* truncated headers */
	MESH_CNT_STEER_TUNNEL = 10,    /* SYN to an enrolled pod's port 15008 (HBONE), assigned to :15008 */
	MESH_CNT_MAX = 11,
};

#endif
