// The traffic demo's pure parts: examples/demo-traffic parses without problems and its routes,
// compiled as an agent would, send the seeds' cases where the demo expects (precedence by header
// count across routes, weights, the retry); the golden-metrics readers on a hand-written scrape.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { compileHttp, route, type TableHttp } from '../../../agent/src/routing/index.js';
import { IndexAllocator, buildNodeView } from '../../../agent/src/state/index.js';
import { nodeConfigFrom } from '../../../controller/src/views/index.js';
import { parseManifests, resourcesFrom } from '../../../controller/src/model/index.js';
import { ROOT } from '../../../native/index.js';
import { DESKTOP_UA, IPHONE_UA, goldenSummary, histogramQuantile, requestsByBackend } from '../../../cli/demo-traffic.js';

const DIR = path.join(ROOT, 'examples', 'demo-traffic');

/** The example manifests plus one EndpointSlice per Service from the pods its selector picks (what the simulator's API server does). */
function exampleTable(): TableHttp {
  const text = readdirSync(DIR).filter((f) => f.endsWith('.yaml')).sort().map((f) => readFileSync(path.join(DIR, f), 'utf8')).join('\n---\n');
  const parsed = parseManifests('demo-traffic.yaml', text);
  assert.deepEqual(parsed.problems, []);
  type Raw = { kind: string; metadata: { name: string; labels?: Record<string, string> }; spec: { selector?: Record<string, string>; nodeName?: string } };
  const objs = parseAllDocuments(text).map((d) => d.toJS() as Raw).filter((o) => o !== null);
  const pods = objs.filter((o) => o.kind === 'Pod');
  const slices = objs.filter((o) => o.kind === 'Service').map((s, i) => {
    const eps = pods.filter((p) => Object.entries(s.spec.selector ?? {}).every(([k, v]) => p.metadata.labels?.[k] === v))
      .map((p, j) => `{ addresses: [10.200.${i + 1}.${j + 10}], conditions: { ready: true }, nodeName: ${p.spec.nodeName} }`);
    return `---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: ${s.metadata.name}-1, namespace: shop, labels: { kubernetes.io/service-name: ${s.metadata.name} } }
addressType: IPv4
ports: [{ name: http, port: 8080 }]
endpoints: [${eps.join(', ')}]
`;
  });
  const all = parseManifests('all.yaml', `${text}\n${slices.join('')}`);
  assert.deepEqual(all.problems, []);
  return compileHttp(buildNodeView(nodeConfigFrom(resourcesFrom(all.objects), 'node-a', 'cluster.local'), 'node-a', [], new IndexAllocator()));
}

test('examples/demo-traffic: the seeds cases route as the demo expects', () => {
  const t = exampleTable();
  const shop = t.ports.find((p) => p.vip === '10.96.20.10' && p.port === 80)!;
  assert.deepEqual(shop.routes.map((e) => `${e.route} ${e.match.headers.length}`), ['shop/marketing 2', 'shop/iphone 1', 'shop/canary 0']);
  for (const b of shop.routes.flatMap((e) => e.backends)) assert.ok(b.endpoints.length > 0, b.service);
  const n = 1000;
  const count = (headers: Record<string, string>, vip = '10.96.20.10', p = '/'): Record<string, number> => {
    const out: Record<string, number> = {};
    for (let i = 0; i < n; i++) {
      const r = route(t, { ip: vip, port: 80 }, { method: 'GET', authority: vip, path: p, query: '', headers }, (i + 0.5) / n);
      assert.equal(r.kind, 'forward', JSON.stringify(r));
      if (r.kind !== 'forward') continue;
      const port = t.ports.find((x) => x.vip === vip)!;
      const k = `${r.route} ${port.routes[r.entry]!.backends[r.backend]!.service}`;
      out[k] = (out[k] ?? 0) + 1;
    }
    return out;
  };
  assert.deepEqual(count({ 'user-agent': DESKTOP_UA }), { 'shop/canary shop/shop-v1': 900, 'shop/canary shop/shop-v2': 100 });
  assert.deepEqual(count({ 'user-agent': IPHONE_UA }), { 'shop/iphone shop/shop-v2': 1000 });
  assert.deepEqual(count({ 'user-agent': IPHONE_UA, 'x-region': 'es-south' }), { 'shop/marketing shop/shop-v2': 500, 'shop/marketing shop/shop-feature': 500 });
  assert.deepEqual(count({ 'user-agent': IPHONE_UA, 'x-region': 'es-north' }), { 'shop/iphone shop/shop-v2': 1000 });
  assert.deepEqual(count({ 'user-agent': DESKTOP_UA, 'x-region': 'es-south' }), { 'shop/canary shop/shop-v1': 900, 'shop/canary shop/shop-v2': 100 });
  assert.deepEqual(count({}, '10.96.20.20', '/'), { 'shop/flaky-retry shop/flaky': 1000 });
  assert.deepEqual(count({}, '10.96.20.20', '/bare'), { 'shop/flaky-bare shop/flaky': 1000 });
  const flaky = t.ports.find((p) => p.vip === '10.96.20.20')!;
  assert.deepEqual(flaky.routes.map((e) => [e.route, e.retry]), [['shop/flaky-bare', undefined], ['shop/flaky-retry', { attempts: 3, codes: [503], backoffMs: 1 }]]);
});

const SCRAPE = `# HELP request_total x
request_total{direction="outbound",src_namespace="shop",src_workload="client",dst_namespace="shop",dst_workload="shop",route_name="shop/canary",route_kind="HTTPRoute",backend="shop/shop-v1",tls="true"} 1790
request_total{direction="outbound",src_namespace="shop",src_workload="client",dst_namespace="shop",dst_workload="shop",route_name="shop/canary",route_kind="HTTPRoute",backend="shop/shop-v1",tls="false"} 10
request_total{direction="outbound",src_namespace="shop",src_workload="client",dst_namespace="shop",dst_workload="shop",route_name="shop/canary",route_kind="HTTPRoute",backend="shop/shop-v2",tls="true"} 200
request_total{direction="outbound",src_namespace="shop",src_workload="client",dst_namespace="shop",dst_workload="shop",route_name="shop/iphone",route_kind="HTTPRoute",backend="shop/shop-v2",tls="true"} 5
response_total{direction="outbound",route_name="shop/canary",backend="shop/shop-v1",status_code="200",classification="success",grpc_status=""} 1800
response_total{direction="outbound",route_name="shop/canary",backend="shop/shop-v2",status_code="200",classification="success",grpc_status=""} 200
response_latency_seconds_bucket{direction="outbound",route_name="shop/canary",backend="shop/shop-v1",le="0.0005"} 100
response_latency_seconds_bucket{direction="outbound",route_name="shop/canary",backend="shop/shop-v1",le="0.001"} 1700
response_latency_seconds_bucket{direction="outbound",route_name="shop/canary",backend="shop/shop-v1",le="0.005"} 1800
response_latency_seconds_bucket{direction="outbound",route_name="shop/canary",backend="shop/shop-v1",le="+Inf"} 1800
response_latency_seconds_bucket{direction="outbound",route_name="shop/canary",backend="shop/shop-v2",le="0.0005"} 0
response_latency_seconds_bucket{direction="outbound",route_name="shop/canary",backend="shop/shop-v2",le="0.001"} 100
response_latency_seconds_bucket{direction="outbound",route_name="shop/canary",backend="shop/shop-v2",le="0.005"} 190
response_latency_seconds_bucket{direction="outbound",route_name="shop/canary",backend="shop/shop-v2",le="+Inf"} 200
`;

test('golden metrics readers: request_total by backend, histogram quantiles over series, summary lines', () => {
  assert.deepEqual(requestsByBackend(SCRAPE, 'shop/canary'), { 'shop/shop-v1': 1800, 'shop/shop-v2': 200 });
  assert.deepEqual(requestsByBackend(SCRAPE, 'shop/marketing'), {});
  const m = { direction: 'outbound', route_name: 'shop/canary' };
  // cumulative over both series (le in seconds): 0.5 ms → 100, 1 ms → 1800, 5 ms → 1990, +Inf → 2000
  const rows: [number, number | undefined][] = [[0.05, 0.0005], [0.5, 0.001], [0.9, 0.001], [0.99, 0.005], [0.999, Infinity]];
  for (const [q, want] of rows) assert.equal(histogramQuantile(SCRAPE, 'response_latency_seconds', m, q), want, String(q));
  assert.equal(histogramQuantile(SCRAPE, 'response_latency_seconds', { route_name: 'shop/none' }, 0.5), undefined);
  assert.equal(histogramQuantile(SCRAPE, 'response_latency_seconds', { route_name: 'shop/canary', backend: 'shop/shop-v2' }, 0.5), 0.001);
  const lines = goldenSummary(SCRAPE);
  assert.equal(lines.length, 4, lines.join('\n'));
  assert.match(lines[0]!, /^shop\/iphone +request_total shop\/shop-v2=5$/);
  assert.match(lines[2]!, /^shop\/canary +request_total shop\/shop-v1=1800 shop\/shop-v2=200$/);
  assert.match(lines[3]!, /response_total 200=2000 +latency p50 ≤ 1 ms, p99 ≤ 5 ms$/);
});
