// The C header bpf/include/shared.h is the source of truth for constants and struct layouts; this
// test parses it and fails when common/layout.ts drifts (native/src/bpf/shared.rs has its twin).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ROOT } from '../../native/index.js';
import * as L from '../../common/layout.js';

const header = readFileSync(`${ROOT}/bpf/include/shared.h`, 'utf8');
const defines = new Map([...header.matchAll(/^#define\s+(MESH_\w+)\s+(0x[0-9a-fA-F]+|\d+)/gm)].map((m) => [m[1]!, Number(m[2])]));
const enumVals = new Map([...header.matchAll(/^\s*(MESH_CNT_\w+)\s*=\s*(\d+)/gm)].map((m) => [m[1]!, Number(m[2])]));

test('constants match shared.h', () => {
  assert.equal(defines.get('MESH_PORT_OUTBOUND'), L.PORT_OUTBOUND);
  assert.equal(defines.get('MESH_PORT_INBOUND'), L.PORT_INBOUND);
  assert.equal(defines.get('MESH_PORT_TUNNEL'), L.PORT_TUNNEL);
  assert.equal(defines.get('MESH_PORT_ADMIN'), L.PORT_ADMIN);
  assert.equal(defines.get('MESH_MARK'), L.MESH_MARK);
  assert.equal(defines.get('MESH_ROUTE_TABLE'), L.MESH_ROUTE_TABLE);
  assert.equal(defines.get('MESH_WL_CAPTURE'), L.WL_CAPTURE);
  assert.equal(defines.get('MESH_MAX_WORKLOADS'), L.MAX_WORKLOADS);
  assert.equal(defines.get('MESH_MAX_LOCAL_ADDRS'), L.MAX_LOCAL_ADDRS);
});

test('counter names follow enum mesh_counter order', () => {
  assert.equal(enumVals.get('MESH_CNT_MAX'), L.COUNTER_NAMES.length);
  L.COUNTER_NAMES.forEach((name, i) => {
    assert.equal(enumVals.get(`MESH_CNT_${name.toUpperCase()}`), i, `MESH_CNT_${name.toUpperCase()} = ${i}`);
  });
});

test('struct layouts: every field is a __u32 in declaration order', () => {
  const struct = (n: string): string[] => {
    const body = new RegExp(`struct ${n} \\{([^}]*)\\}`).exec(header)?.[1] ?? '';
    return [...body.matchAll(/__u32\s+(\w+);/g)].map((m) => m[1]!);
  };
  const wl = struct('mesh_workload');
  assert.deepEqual(wl, Object.keys(L.WORKLOAD_STRUCT.offsets));
  wl.forEach((f, i) => assert.equal(L.WORKLOAD_STRUCT.offsets[f as 'index' | 'flags'], i * 4));
  assert.equal(L.WORKLOAD_STRUCT.size, wl.length * 4);
  const la = struct('mesh_local_addr');
  assert.deepEqual(la, Object.keys(L.LOCAL_ADDR_STRUCT.offsets));
  assert.equal(L.LOCAL_ADDR_STRUCT.size, la.length * 4);
});
