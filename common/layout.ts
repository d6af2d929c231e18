// TypeScript mirror of bpf/include/shared.h: ports, marks, flags, counter indexes, struct sizes.
// test/unit/shared-layout.test.ts parses the header and fails when the two drift apart.
// Keep in sync with bpf/include/shared.h and native/src/bpf/shared.rs; never renumber.

export const PORT_OUTBOUND = 15001;
export const PORT_INBOUND = 15006;
export const PORT_TUNNEL = 15008;
export const PORT_ADMIN = 15020;
export const MESH_MARK = 0x539;
export const MESH_ROUTE_TABLE = 15006;
export const WL_CAPTURE = 0x1;
export const MAX_WORKLOADS = 65536;
export const MAX_LOCAL_ADDRS = 256;

/** struct mesh_workload: { u32 index @0; u32 flags @4 } = 8 bytes */
export const WORKLOAD_STRUCT = { size: 8, offsets: { index: 0, flags: 4 } } as const;
/** struct mesh_local_addr: { u32 flags @0 } = 4 bytes */
export const LOCAL_ADDR_STRUCT = { size: 4, offsets: { flags: 0 } } as const;

/** enum mesh_counter, in index order; the Prometheus label of each BPF counter. */
export const COUNTER_NAMES = [
  'steer_outbound',
  'steer_inbound',
  'assign_existing',
  'pass_not_tcp',
  'pass_not_enrolled',
  'pass_local',
  'pass_not_syn',
  'drop_no_listener',
  'err_assign',
  'err_malformed',
  'steer_tunnel',
] as const;
export type CounterName = (typeof COUNTER_NAMES)[number];
