// Small pieces of the demo and the agent command that run without root: Prometheus text parsing
// (label matching, sums) and the `nodemesh agent` wiring up to the agent's own preflight errors.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { ROOT } from '../../../native/index.js';
import { metricLines, metricSum } from '../../../cli/demo.js';

const text = `# HELP tcp_open_total TCP connections opened by the node proxy
# TYPE tcp_open_total counter
tcp_open_total{direction="outbound",src_namespace="shop",src_workload="client",dst_namespace="shop",dst_workload="server-a",node="node-a"} 2
tcp_open_total{direction="outbound",src_namespace="shop",src_workload="client",dst_namespace="shop",dst_workload="server-b",node="node-a"} 1
tcp_open_total_extra 9
nodemesh_bpf_packets_total{reason="steer_outbound",node="node-a"} 3
nodemesh_bpf_packets_total{reason="pass_local",node="node-a"} 0
`;

test('metricLines/metricSum match on every given label and ignore look-alike names', () => {
  assert.equal(metricSum(text, 'tcp_open_total'), 3);
  assert.equal(metricSum(text, 'tcp_open_total', { dst_workload: 'server-a' }), 2);
  assert.equal(metricSum(text, 'tcp_open_total', { direction: 'inbound' }), 0);
  assert.equal(metricLines(text, 'nodemesh_bpf_packets_total').length, 2);
  assert.equal(metricSum(text, 'nodemesh_bpf_packets_total', { reason: 'steer_outbound' }), 3);
});

test('`nodemesh agent` reaches the agent, whose preflight refuses a non-root user (exit 1)', () => {
  // As root, drop to nobody so this unit test can never create kernel state.
  const argv = [process.execPath, path.join(ROOT, 'bin', 'nodemesh.js'), 'agent', '--node', 'n1', '--manifests', '/nonexistent/nodemesh-test', '--pin-dir', '/sys/fs/bpf/nodemesh/unit-test'];
  const cmd = process.getuid?.() === 0 ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', ...argv] : argv;
  const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /^MESH_ERR_NOT_ROOT: /m);
});
