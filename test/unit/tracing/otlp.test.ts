// The OTLP/HTTP encoder against a decode round trip (ids, parent, kind, exact nanoseconds, typed
// attributes, status, resource), its input checks, and the exporter against a real HTTP server on
// loopback: accepted batches counted, a refusing, an erroring and a silent collector counted as
// failures with their spans dropped, one export in flight (nothing drained meanwhile), the native
// queue's drops carried into nodemesh_trace_spans_dropped_total.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import pino from 'pino';
import { SpanExporter, decodeTraces, encodeTraces, type SpanRecord } from '../../../agent/src/tracing/index.js';
import { otlpEncode } from '../../../native/index.js';
import { sampledParent } from '../../../cli/workload-trace.js';

const span = (i: number, over: Partial<SpanRecord> = {}): SpanRecord => ({
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: `00f067aa0ba902b${i}`, parentSpanId: i > 0 ? `00f067aa0ba902b${i - 1}` : null,
  kind: i % 2 === 0 ? 'client' : 'server', name: `GET s${i}`, startNs: '1765000000123456789', endNs: '1765000000223456789',
  error: i === 3, attributes: { 'http.request.method': 'GET', 'http.response.status_code': 200 + i, 'nodemesh.tls': true, ratio: 0.25 }, ...over,
});

test('encode → decode gives back every field, nanoseconds exact', () => {
  const spans = [0, 1, 2, 3].map((i) => span(i));
  const buf = encodeTraces({ resource: { 'service.name': 'nodemesh-proxy', 'k8s.node.name': 'node-a' }, scope: 'nodemesh' }, spans);
  const [back, ...rest] = decodeTraces(buf);
  assert.equal(rest.length, 0);
  assert.deepEqual(back!.resource, { 'service.name': 'nodemesh-proxy', 'k8s.node.name': 'node-a' });
  assert.equal(back!.scope, 'nodemesh');
  assert.deepEqual(back!.spans, spans.map((s) => {
    const { parentSpanId, ...r } = s;
    return parentSpanId ? { ...r, parentSpanId } : r;
  }));
});

test("the proxy's native encoder: what it writes decodes to the records it was given", () => {
  const spans = [0, 1, 2, 3].map((i) => span(i, i === 2 ? { attributes: { 'rpc.grpc.status_code': 5, big: 2 ** 40, neg: -3, ok: false, s: 'ü' } } : {}));
  const resource = { 'service.name': 'nodemesh-proxy', 'k8s.node.name': 'node-b' };
  const [back, ...rest] = decodeTraces(otlpEncode(spans, resource));
  assert.equal(rest.length, 0);
  assert.deepEqual(back!.resource, resource);
  assert.equal(back!.scope, 'nodemesh');
  const want = spans.map((s) => {
    const { parentSpanId, ...r } = s;
    return parentSpanId ? { ...r, parentSpanId } : r;
  });
  assert.deepEqual(back!.spans, want);
  // and the two encoders agree on what a reader sees
  assert.deepEqual(decodeTraces(encodeTraces({ resource, scope: 'nodemesh' }, spans)), decodeTraces(otlpEncode(spans, resource)));
});

test('ids that are not lowercase hex of the right length are refused with MESH_ERR_INVALID_ARG', () => {
  const src = { resource: {}, scope: 's' };
  for (const bad of [{ traceId: 'xyz' }, { spanId: '00F067AA0BA902B7' }, { parentSpanId: '00' }]) {
    assert.throws(() => encodeTraces(src, [span(1, bad)]), (e: Error & { code?: string }) => e.code === 'MESH_ERR_INVALID_ARG');
  }
});

test('the echo records only children of a sampled traceparent', () => {
  const t = '4bf92f3577b34da6a3ce929d0e0e4736';
  const p = '00f067aa0ba902b7';
  assert.deepEqual(sampledParent(`00-${t}-${p}-01`), { traceId: t, parentId: p });
  for (const v of [`00-${t}-${p}-00`, `ff-${t}-${p}-01`, `00-${'0'.repeat(32)}-${p}-01`, `00-${t}-${'0'.repeat(16)}-01`, 'garbage', undefined, ['a']]) {
    assert.equal(sampledParent(v), undefined, String(v));
  }
});

interface Collector { url: string; bodies: Buffer[]; close(): Promise<void> }
/** A real OTLP/HTTP endpoint on loopback answering `status`, or never when status is 0. */
async function collector(status: number): Promise<Collector> {
  const bodies: Buffer[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      assert.equal(req.url, '/v1/traces');
      assert.equal(req.headers['content-type'], 'application/x-protobuf');
      bodies.push(Buffer.concat(chunks));
      if (status) res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, bodies, close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

interface Queued { spans: SpanRecord[]; dropped: number; queued: number }
/** The exporter with a queue that hands out `batches`, encoded by the proxy's own encoder. */
function rig(batches: Queued[]): { exporter: SpanExporter; registry: Registry; takes: number[] } {
  const registry = new Registry();
  const takes: number[] = [];
  const exporter = new SpanExporter({
    node: 'node-a', registry, log: pino({ level: 'silent' }), timeoutMs: 300,
    take: (max, resource) => {
      takes.push(max);
      const b = batches.shift() ?? { spans: [], dropped: 0, queued: 0 };
      return { body: otlpEncode(b.spans, resource), count: b.spans.length, dropped: b.dropped, queued: b.queued };
    },
  });
  return { exporter, registry, takes };
}
async function value(r: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = (await r.getMetricsAsJSON()).find((x) => x.name === name);
  return (m?.values ?? []).filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l)).reduce((a, v) => a + v.value, 0);
}

test('an accepting collector gets the batch with the node as resource; exported counted', async () => {
  const c = await collector(200);
  try {
    const { exporter, registry } = rig([{ spans: [span(0), span(1)], dropped: 0, queued: 0 }]);
    exporter.setCollector(c.url);
    await exporter.tick();
    assert.equal(await value(registry, 'nodemesh_trace_spans_exported_total'), 2);
    const [got] = decodeTraces(c.bodies[0]!);
    assert.equal(got!.resource['k8s.node.name'], 'node-a');
    assert.equal(got!.spans.length, 2);
  } finally { await c.close(); }
});

test('500, refused and silent collectors: failures counted, spans dropped, never more than one export in flight', async () => {
  for (const status of [500, -1, 0]) {
    const c = await collector(status === -1 ? 200 : status);
    if (status === -1) await c.close(); // nothing listens there any more
    try {
      const { exporter, registry, takes } = rig([{ spans: [span(0), span(1), span(2)], dropped: 0, queued: 5 }, { spans: [span(3)], dropped: 7, queued: 0 }]);
      exporter.setCollector(c.url);
      const first = exporter.tick();
      await exporter.tick(); // in flight: the queue is not touched
      assert.equal(takes.length, 1, `status ${status}: drained while an export was in flight`);
      const t0 = Date.now();
      await first;
      assert.ok(Date.now() - t0 < 2000, 'bounded by the timeout');
      assert.equal(await value(registry, 'nodemesh_trace_export_failures_total'), 1, `status ${status}`);
      assert.equal(await value(registry, 'nodemesh_trace_spans_dropped_total', { reason: 'export_failed' }), 3);
      assert.equal(await value(registry, 'nodemesh_trace_spans_queued'), 5);
      await exporter.tick().catch(() => undefined);
      assert.equal(await value(registry, 'nodemesh_trace_spans_dropped_total', { reason: 'queue_full' }), 7, 'the native drops are carried over');
      assert.equal(await value(registry, 'nodemesh_trace_spans_exported_total'), 0);
    } finally { if (status !== -1) await c.close(); }
  }
});

test('without a collector the drained spans are counted as dropped (no_collector)', async () => {
  const { exporter, registry } = rig([{ spans: [span(0)], dropped: 0, queued: 0 }]);
  exporter.setCollector(undefined);
  await exporter.tick();
  assert.equal(await value(registry, 'nodemesh_trace_spans_dropped_total', { reason: 'no_collector' }), 1);
});

test('workload echo --otlp: a collector URL or host:port, anything else a usage error', async () => {
  const { parseEchoFlags } = await import('../../../cli/workload-controls.js');
  assert.equal(parseEchoFlags(['--http', '8080', '--otlp', 'http://10.200.3.10:4318'], 'u').otlp, 'http://10.200.3.10:4318');
  assert.equal(parseEchoFlags(['--http', '8080', '--otlp', 'jaeger:4318'], 'u').otlp, 'jaeger:4318');
  for (const bad of ['10.200.3.10', 'ftp://x:1', 'http://x:1/v1/traces', '']) {
    assert.throws(() => parseEchoFlags(['--http', '8080', '--otlp', bad], 'u'), (e: Error & { code?: string }) => e.code === 'MESH_ERR_USAGE' && /--otlp/.test(e.message), bad);
  }
});
