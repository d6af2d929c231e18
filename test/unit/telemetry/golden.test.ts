// Golden metrics collectors from a hand-built native snapshot: the Prometheus text (counters,
// cumulative histogram buckets, +Inf, sum, count, default labels), one snapshot per scrape, a
// string source, no source yet, and the overflow counter.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { registerGoldenMetrics, type GoldenSnapshot, type GoldenLabels } from '../../../agent/src/telemetry/golden.js';
import { LATENCY_BUCKETS_MS } from '../../../agent/src/telemetry/metrics.js';

const labels: GoldenLabels = {
  direction: 'outbound', src_namespace: 'shop', src_workload: 'web', dst_namespace: 'shop', dst_workload: 'cart-v2',
  route_name: 'shop/canary', route_kind: 'HTTPRoute', backend: 'shop/cart-v2', tls: 'true',
};
const counts = (hits: Record<number, number>): number[] => Array.from({ length: LATENCY_BUCKETS_MS.length + 1 }, (_, i) => hits[i] ?? 0);

const snapshot: GoldenSnapshot = {
  bucketsMs: LATENCY_BUCKETS_MS,
  maxSeries: 10000,
  seriesOverflow: 2,
  series: [
    {
      labels,
      requests: 5,
      responses: [
        { status_code: '200', classification: 'success', grpc_status: '', count: 4 },
        { status_code: '503', classification: 'failure', grpc_status: '', count: 1 },
      ],
      // 0.3 ms, 2 × 2 ms, 7 ms, 60 s
      latency: { count: 5, sumMs: 60011.3, counts: counts({ 2: 1, 4: 2, 8: 1, 28: 1 }) },
    },
    {
      labels: { ...labels, direction: 'inbound', route_kind: 'GRPCRoute', route_name: 'shop/grpc', tls: 'false' },
      requests: 1,
      responses: [{ status_code: '200', classification: 'failure', grpc_status: '14', count: 1 }],
      latency: { count: 1, sumMs: 0.05, counts: counts({ 0: 1 }) },
    },
  ],
};

const line = (text: string, name: string, extra: Record<string, string>, base = labels): string | undefined => {
  const want = Object.entries({ ...base, ...extra }).map(([k, v]) => `${k}="${v}"`);
  return text.split('\n').find((l) => l.startsWith(`${name}{`) && want.every((w) => l.includes(w)) && l.slice(name.length + 1).split(',').length === want.length);
};
const value = (l: string | undefined): number => Number(l?.split(' ').at(-1));

test('prometheus text from one snapshot', async () => {
  const r = new Registry();
  r.setDefaultLabels({ node: 'node-a' });
  let calls = 0;
  registerGoldenMetrics(r, () => {
    calls++;
    return snapshot;
  });
  const text = await r.metrics();
  assert.equal(calls, 1, 'one snapshot per scrape');
  assert.equal(value(line(text, 'request_total', { node: 'node-a' })), 5);
  assert.equal(value(line(text, 'response_total', { node: 'node-a', status_code: '200', classification: 'success', grpc_status: '' })), 4);
  assert.equal(value(line(text, 'response_total', { node: 'node-a', status_code: '503', classification: 'failure', grpc_status: '' })), 1);
  const grpc = { ...labels, direction: 'inbound', route_kind: 'GRPCRoute', route_name: 'shop/grpc', tls: 'false' };
  assert.equal(value(line(text, 'response_total', { node: 'node-a', status_code: '200', classification: 'failure', grpc_status: '14' }, grpc)), 1);
  // cumulative buckets
  const bucket = (le: string): number => value(line(text, 'response_latency_seconds_bucket', { node: 'node-a', le }));
  assert.equal(bucket('0.00025'), 0);
  assert.equal(bucket('0.0005'), 1);
  assert.equal(bucket('0.001'), 1);
  assert.equal(bucket('0.002'), 3);
  assert.equal(bucket('0.01'), 4);
  assert.equal(bucket('50'), 4);
  assert.equal(bucket('+Inf'), 5);
  assert.equal(value(line(text, 'response_latency_seconds_sum', { node: 'node-a' })), 60.0113);
  assert.equal(value(line(text, 'response_latency_seconds_count', { node: 'node-a' })), 5);
  assert.equal(value(line(text, 'response_latency_seconds_bucket', { node: 'node-a', le: '0.0001' }, grpc)), 1);
  assert.match(text, /# TYPE response_latency_seconds histogram/);
  assert.match(text, /# TYPE request_total counter/);
  assert.equal(value(text.split('\n').find((l) => l.startsWith('nodemesh_golden_series_overflow_total'))), 2);
  const buckets = text.split('\n').filter((l) => l.startsWith('response_latency_seconds_bucket{'));
  assert.equal(buckets.length, 2 * (LATENCY_BUCKETS_MS.length + 1), 'every bound plus +Inf, per series');
});

test('JSON view agrees and a string source is parsed', async () => {
  const r = new Registry();
  registerGoldenMetrics(r, () => JSON.stringify(snapshot));
  const json = await r.getMetricsAsJSON();
  const hist = json.find((m) => m.name === 'response_latency_seconds');
  assert.ok(hist);
  const inf = hist.values.find((v) => v.labels.le === '+Inf' && v.labels.direction === 'outbound');
  assert.equal(inf?.value, 5);
  const req = json.find((m) => m.name === 'request_total');
  assert.deepEqual(req?.values.map((v) => v.value).sort(), [1, 5]);
});

test('no proxy yet: no series, no error', async () => {
  const r = new Registry();
  registerGoldenMetrics(r, () => undefined);
  const text = await r.metrics();
  assert.doesNotMatch(text, /^request_total\{/m);
  assert.doesNotMatch(text, /^response_latency_seconds_bucket/m);
  assert.match(text, /^nodemesh_golden_series_overflow_total 0$/m);
});

test('values follow the source between scrapes', async () => {
  const r = new Registry();
  let n = 1;
  registerGoldenMetrics(r, () => ({ ...snapshot, series: [{ ...snapshot.series[0]!, requests: n }] }));
  assert.equal(value(line(await r.metrics(), 'request_total', {})), 1);
  n = 42;
  await new Promise((done) => setTimeout(done, 150));
  assert.equal(value(line(await r.metrics(), 'request_total', {})), 42);
});
