// The CSR signing benchmark's pure parts: knobs, the simulated nodes and their manifests (every
// identity is scheduled on its own node, with a pod IP), the controller histogram's reading, delta
// and quantile estimate, client percentiles, and the report's table and verdict.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAllDocuments } from 'yaml';
import { csrConfig, identityOf, manifestsYaml, simNodes } from '../../../bench/csr/config.js';
import { renderCsr, verdict, type CsrResult } from '../../../bench/csr/report.js';
import { histogramDelta, histogramQuantile, percentile, readHistogram } from '../../../bench/csr/stats.js';

test('knobs: defaults and overrides', () => {
  assert.deepEqual(csrConfig({}), { seconds: 10, nodes: 8, identitiesPerNode: 4, concurrency: 64, pool: 2000, workers: 2, profile: 0 });
  assert.equal(csrConfig({ BENCH_CSR_CONCURRENCY: '16' }).concurrency, 16);
  assert.throws(() => csrConfig({ BENCH_CSR_NODES: '0' }), /BENCH_CSR_NODES/);
});

test('manifests: one pod per identity on its own node, with an IP, in a mesh-enabled namespace', () => {
  const nodes = simNodes(3, 2, (i) => `t${i}`);
  assert.deepEqual(nodes[1], { node: 'node-1', token: 't1', identities: [identityOf('sa-1-0'), identityOf('sa-1-1')] });
  const docs = parseAllDocuments(manifestsYaml(nodes)).map((d) => d.toJS() as { kind: string; metadata: { labels?: Record<string, string> }; spec?: { nodeName: string; serviceAccountName: string }; status?: { podIP: string } });
  assert.equal(docs[0]!.kind, 'Namespace');
  assert.equal(docs[0]!.metadata.labels?.['nodemesh.io/mesh'], 'enabled');
  const pods = docs.filter((d) => d.kind === 'Pod');
  assert.equal(pods.length, 6);
  for (const n of nodes) {
    const mine = pods.filter((p) => p.spec!.nodeName === n.node).map((p) => identityOf(p.spec!.serviceAccountName));
    assert.deepEqual(mine, n.identities);
  }
  const ips = pods.map((p) => p.status!.podIP);
  assert.equal(new Set(ips).size, ips.length, 'distinct pod IPs');
});

const PROM = (n: number[], sum: number): string => `# HELP nodemesh_ca_sign_duration_seconds x
# TYPE nodemesh_ca_sign_duration_seconds histogram
nodemesh_ca_sign_duration_seconds_bucket{le="0.001"} ${n[0]}
nodemesh_ca_sign_duration_seconds_bucket{le="0.002"} ${n[1]}
nodemesh_ca_sign_duration_seconds_bucket{le="0.005"} ${n[2]}
nodemesh_ca_sign_duration_seconds_bucket{le="+Inf"} ${n[3]}
nodemesh_ca_sign_duration_seconds_sum ${sum}
nodemesh_ca_sign_duration_seconds_count ${n[3]}
nodemesh_ca_csr_total{result="signed"} ${n[3]}
`;

test('controller histogram: read, delta over the window, quantiles as histogram_quantile', () => {
  const a = readHistogram(PROM([10, 10, 10, 10], 0.005), 'nodemesh_ca_sign_duration_seconds')!;
  const b = readHistogram(PROM([10, 110, 200, 210], 0.305), 'nodemesh_ca_sign_duration_seconds')!;
  assert.deepEqual(a.buckets.map((x) => x.le), [0.001, 0.002, 0.005, Infinity]);
  const d = histogramDelta(a, b);
  assert.deepEqual(d.buckets.map((x) => x.count), [0, 100, 190, 200]);
  assert.equal(d.count, 200);
  assert.ok(Math.abs(d.sum - 0.3) < 1e-12);
  const cases = [
    { q: 0.25, want: 0.0015 }, // rank 50 of the 100 in (1 ms, 2 ms]
    { q: 0.5, want: 0.002 }, // rank 100: the bucket's top
    { q: 0.95, want: 0.002 + 0.003 * (90 / 90) }, // rank 190 of (2 ms, 5 ms]
    { q: 0.99, want: 0.005 }, // in +Inf: the highest finite bound
  ];
  for (const c of cases) assert.ok(Math.abs(histogramQuantile(d, c.q)! - c.want) < 1e-12, `q ${c.q}: ${histogramQuantile(d, c.q)}`);
  assert.equal(histogramQuantile({ buckets: [{ le: 1, count: 0 }], sum: 0, count: 0 }, 0.5), undefined);
  assert.equal(readHistogram('nothing', 'nodemesh_ca_sign_duration_seconds'), undefined);
  assert.throws(() => histogramDelta(a, { ...b, buckets: b.buckets.slice(1) }), /different buckets/);
});

test('client percentiles: nearest rank', () => {
  assert.equal(percentile([5, 1, 4, 2, 3], 50), 3);
  assert.equal(percentile([5, 1, 4, 2, 3], 99), 5);
  assert.equal(percentile([7], 1), 7);
  assert.equal(percentile([], 50), undefined);
});

test('report: the table, the errors, the verdict on 1,000 CSRs/s', () => {
  const r: CsrResult = {
    config: { nodes: 8, identitiesPerNode: 4, concurrency: 64, seconds: 10, pool: 2000 },
    grpc: { signedPerSec: 576.4, signed: 5764, windowSeconds: 10, errors: { MESH_ERR_CSR_RATE_LIMITED: 3 }, p50Ms: 104, p99Ms: 121, maxMs: 150, serverP50Ms: 1.19, serverP99Ms: 4.89, serverMeanMs: 1.23, serverCount: 5770, controllerCpuMsPerCsr: 1.79, controllerCores: 1.1 },
    inProcess: { signPerSec: 985, checkCsrPerSec: 1698, issuePerSec: 2540, signPoolPerSec: 563, signPoolWorkers: 2 },
  };
  assert.equal(verdict(r), 'missed by 424/s (0.58 of the target)');
  assert.equal(verdict({ ...r, grpc: { ...r.grpc, signedPerSec: 1000 } }), 'met');
  const md = renderCsr(r, 'md');
  assert.ok(md.includes('| gRPC Sign (CertificateService, real channel per node) | 576 | 104 | 121 | 1.19 | 4.89 | 1.79 |'));
  assert.ok(md.includes('| in process: SignPool, 2 worker threads | 563 |'));
  assert.ok(md.includes('errors: MESH_ERR_CSR_RATE_LIMITED × 3'));
  assert.ok(md.includes('Target ≥ 1000 CSRs/s over gRPC: missed by 424/s'));
});
