// Distributed tracing end to end against a real Jaeger (v2 all-in-one, OTLP/HTTP): a request from
// a meshed pod on node-a to a Service whose pod is on node-b yields one trace whose spans nest —
// proxy CLIENT span (node-a) → proxy SERVER span (node-b) → the echo's own span — for an incoming
// traceparent, none (a new root) and B3; unsampled parents and 0 % namespaces yield no spans; a
// stopped collector neither slows traffic nor goes uncounted.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { SimCluster } from '../../sim/index.js';
import { ROOT } from '../../native/index.js';
import { manifestDir, metricSum, rootGate, sleep, waitFor } from './helpers.js';

const JAEGER_BIN = path.join(ROOT, 'build', 'tools', 'bin', 'jaeger');
const GRPCURL = path.join(ROOT, 'build', 'tools', 'bin', 'grpcurl');
const skip = rootGate() || (existsSync(JAEGER_BIN) ? false : `needs ${JAEGER_BIN}: run bash scripts/build-tools.sh jaeger`);
const API = '10.96.14.10';
const JAEGER_IP = '10.200.3.10';
const CLIENT = 'spiffe://cluster.local/ns/traced/sa/client';
const SERVER = 'spiffe://cluster.local/ns/traced/sa/api';

interface JSpan {
  traceID: string; spanID: string; operationName: string; processID: string;
  references?: { refType: string; spanID: string }[]; tags: { key: string; value: unknown }[];
}
interface JTrace { spans: JSpan[]; processes: Record<string, { serviceName: string; tags?: { key: string; value: unknown }[] }> }
interface Seen { span: JSpan; service: string; node: string; tags: Record<string, unknown>; parent: string | undefined }

const hex = (n: number): string => randomBytes(n).toString('hex');

describe('tracing through Jaeger', { skip, timeout: 600_000 }, () => {
  let c: SimCluster;
  let dir: string;

  /** One GET from `from` to the API with extra headers: the status and the headers the echo saw. */
  async function get(from: string, p: string, headers: Record<string, string> = {}): Promise<{ status: number; seen: Record<string, string> }> {
    const args = ['curl', '-sS', '--max-time', '10', '-w', '\n%{http_code}'];
    for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}: ${v}`);
    const r = await c.exec(from, [...args, `http://${API}${p}`], { timeoutMs: 20_000 });
    assert.equal(r.code, 0, r.stderr);
    const nl = r.stdout.lastIndexOf('\n');
    const body = JSON.parse(r.stdout.slice(0, nl)) as { headers: Record<string, string> };
    return { status: Number(r.stdout.slice(nl + 1)), seen: body.headers };
  }

  /** The trace as Jaeger's query API answers it (from inside Jaeger's own pod), or undefined. */
  async function trace(id: string): Promise<Seen[] | undefined> {
    const r = await c.exec('observability/jaeger', ['curl', '-sS', '--max-time', '5', `http://127.0.0.1:16686/api/traces/${id}`], { timeoutMs: 10_000 });
    if (r.code !== 0) return undefined;
    const j = JSON.parse(r.stdout) as { data?: JTrace[] };
    const t = j.data?.[0];
    if (!t) return undefined;
    return t.spans.map((span) => {
      const proc = t.processes[span.processID]!;
      return {
        span, service: proc.serviceName,
        node: String(proc.tags?.find((x) => x.key === 'k8s.node.name')?.value ?? ''),
        tags: Object.fromEntries(span.tags.map((x) => [x.key, x.value])),
        parent: span.references?.find((x) => x.refType === 'CHILD_OF')?.spanID,
      };
    });
  }

  /** Waits until trace `id` has `n` spans in Jaeger; returns them. */
  async function spansOf(id: string, n: number): Promise<Seen[]> {
    let spans: Seen[] = [];
    await waitFor(`${n} spans of trace ${id} in Jaeger`, async () => (spans = (await trace(id)) ?? []).length >= n, 20_000, 250);
    assert.equal(spans.length, n, JSON.stringify(spans.map((s) => [s.service, s.span.operationName])));
    return spans;
  }

  /** Waits for the three spans of a trace and checks that they nest; returns [client, server, app]. */
  async function threeSpans(id: string, rootParent: string | undefined): Promise<[Seen, Seen, Seen]> {
    const spans = await spansOf(id, 3);
    const client = spans.find((s) => s.tags['span.kind'] === 'client' && s.service === 'nodemesh-proxy');
    const server = spans.find((s) => s.tags['span.kind'] === 'server' && s.service === 'nodemesh-proxy');
    const app = spans.find((s) => s.service === 'api');
    assert.ok(client && server && app, JSON.stringify(spans));
    assert.equal(client.node, 'node-a');
    assert.equal(server.node, 'node-b');
    assert.equal(client.parent, rootParent, 'the client span is a child of the incoming parent (or a root)');
    assert.equal(server.parent, client.span.spanID, 'node-b nests under node-a');
    assert.equal(app.parent, server.span.spanID, "the application's span nests under node-b's");
    return [client, server, app];
  }

  before(async () => {
    dir = manifestDir('tracing.yaml');
    const f = path.join(dir, 'tracing.yaml');
    writeFileSync(f, readFileSync(f, 'utf8').replace('build/tools/bin/jaeger', JAEGER_BIN));
    c = await SimCluster.up({ manifestsDir: dir, agents: true, controllerArgs: ['--trace-collector', `${JAEGER_IP}:4318`], podReadyTimeoutMs: 60_000 });
    assert.equal(c.pod('observability/jaeger').ip, JAEGER_IP, 'the manifest names Jaeger by this address');
    await waitFor('the API through the mesh', async () => (await get('traced/client', '/warmup').catch(() => ({ status: 0 }))).status === 200, 30_000, 250);
  });

  after(async () => {
    await c?.down();
    rmSync(dir, { recursive: true, force: true });
  });

  test('an incoming sampled traceparent: client span (node-a) → server span (node-b) → app span, with attributes', async () => {
    const [t, p] = [hex(16), hex(8)];
    const r = await get('traced/client', '/orders/7?secret=q', { traceparent: `00-${t}-${p}-01`, tracestate: 'vendor=abc' });
    assert.equal(r.status, 200);
    assert.equal(r.seen.tracestate, 'vendor=abc', 'tracestate is passed on');
    const [client, server, app] = await threeSpans(t, p);
    assert.match(r.seen.traceparent ?? '', new RegExp(`^00-${t}-${server.span.spanID}-01$`), 'the app sees node-b\'s span as its parent');
    const ip = (k: string): string => c.pod(k).ip;
    assert.deepEqual(
      ['http.request.method', 'url.path', 'http.response.status_code', 'server.address', 'network.peer.address', 'client.address', 'nodemesh.backend', 'nodemesh.route_kind', 'nodemesh.src.identity', 'nodemesh.dst.identity'].map((k) => client.tags[k]),
      ['GET', '/orders/7', 200, API, ip('traced/api'), ip('traced/client'), 'traced/api', 'default', CLIENT, SERVER]);
    assert.equal(client.span.operationName, 'GET traced/api');
    assert.deepEqual(
      ['http.request.method', 'url.path', 'http.response.status_code', 'server.address', 'server.port', 'network.peer.address', 'nodemesh.src.identity', 'nodemesh.dst.identity'].map((k) => server.tags[k]),
      ['GET', '/orders/7', 200, ip('traced/api'), 8080, ip('traced/client'), CLIENT, SERVER]);
    assert.equal(app.tags['url.path'], '/orders/7');
  });

  test('no incoming context: the source proxy starts the trace (100 % in this namespace)', async () => {
    const r = await get('traced/client', '/new-root');
    const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(r.seen.traceparent ?? '');
    assert.ok(m, `the app got a sampled traceparent: ${r.seen.traceparent}`);
    await threeSpans(m[1]!, undefined);
  });

  test('B3 single header: read, nested, and rewritten for the next hop', async () => {
    const [t, p] = [hex(16), hex(8)];
    const r = await get('traced/client', '/b3', { b3: `${t}-${p}-1` });
    const [, server] = await threeSpans(t, p);
    assert.equal(r.seen.b3, `${t}-${server.span.spanID}-1`);
  });

  test('B3 multi headers: read and nested', async () => {
    const [t, p] = [hex(16), hex(8)];
    const r = await get('traced/client', '/b3-multi', { 'x-b3-traceid': t, 'x-b3-spanid': p, 'x-b3-sampled': '1' });
    const [, server] = await threeSpans(t, p);
    assert.equal(r.seen['x-b3-spanid'], server.span.spanID);
  });

  test('gRPC: the status from the trailers is on both proxy spans', { skip: existsSync(GRPCURL) ? false : `needs ${GRPCURL}` }, async () => {
    const [t, p] = [hex(16), hex(8)];
    const r = await c.exec('traced/client', [GRPCURL, '-plaintext', '-max-time', '10', '-H', `traceparent: 00-${t}-${p}-01`,
      '-d', '{"message":"x","code":5}', `${API}:90`, 'nodemesh.echo.v1.Echo/Fail'], { timeoutMs: 30_000 });
    assert.match(r.stdout + r.stderr, /NotFound/);
    // grpcurl asks reflection first, with the same metadata: two calls, two spans each
    const spans = (await spansOf(t, 4)).filter((s) => s.tags['url.path'] === '/nodemesh.echo.v1.Echo/Fail');
    const client = spans.find((s) => s.tags['span.kind'] === 'client')!;
    const server = spans.find((s) => s.tags['span.kind'] === 'server')!;
    assert.equal(spans.length, 2, JSON.stringify(spans));
    assert.equal(client.parent, p);
    assert.equal(server.parent, client.span.spanID);
    for (const s of [client, server]) {
      assert.deepEqual([s.tags['rpc.grpc.status_code'], s.tags['http.response.status_code'], s.tags['url.path'], s.tags.error], [5, 200, '/nodemesh.echo.v1.Echo/Fail', true], JSON.stringify(s.tags));
    }
  });

  test('an unsampled parent (-00) and a 0 % namespace record nothing at any hop', async () => {
    const [t, p] = [hex(16), hex(8)];
    const r = await get('traced/client', '/unsampled', { traceparent: `00-${t}-${p}-00` });
    assert.equal(r.status, 200);
    assert.equal(r.seen.traceparent, `00-${t}-${p}-00`, 'an unsampled parent goes on as it came');
    const q = await get('quiet/client', '/quiet-root');
    const m = /^00-([0-9a-f]{32})-[0-9a-f]{16}-00$/.exec(q.seen.traceparent ?? '');
    assert.ok(m, `a new root of a 0 % namespace goes on unsampled: ${q.seen.traceparent}`);
    // a sampled request sent after them: once its spans are in Jaeger, theirs would have been too
    const [t2, p2] = [hex(16), hex(8)];
    await get('traced/client', '/marker', { traceparent: `00-${t2}-${p2}-01` });
    await threeSpans(t2, p2);
    await sleep(1500);
    assert.equal(await trace(t), undefined, 'no span of the unsampled trace');
    assert.equal(await trace(m[1]!), undefined, 'no span of the 0 % root');
  });

  test('a stopped collector: traffic flows at its usual latency, failed exports and dropped spans are counted', async (t) => {
    /** Median of 40 requests' total times on one keep-alive connection (ms). */
    const median = async (): Promise<number> => {
      const args = ['curl', '-sS', '--max-time', '10', '-o', '/dev/null'];
      for (let i = 0; i < 40; i++) args.push(`http://${API}/lat/${i}`, '-w', '%{http_code} %{time_total}\n', '-o', '/dev/null');
      const r = await c.exec('traced/client', args, { timeoutMs: 60_000 });
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout.trim().split('\n').map((l) => l.split(' '));
      assert.ok(lines.every((l) => l[0] === '200'), r.stdout);
      const ms = lines.map((l) => Number(l[1]) * 1000).sort((a, b) => a - b);
      return ms[Math.floor(ms.length / 2)]!;
    };
    const base = await median();
    const m0 = (await c.agentGet('node-a', '/metrics')).body;
    const pid = c.pod('observability/jaeger').pid!;
    process.kill(pid, 'SIGSTOP'); // accepts connections in the kernel, answers nothing: slow and then dead
    try {
      const [during] = [await median(), await median()].sort((a, b) => a - b);
      t.diagnostic(`median of 40 keep-alive requests: ${base.toFixed(2)} ms with Jaeger up, ${during!.toFixed(2)} ms with it stopped (best of two rounds)`);
      assert.ok(during! <= Math.max(base * 2, base + 5), `median ${during!.toFixed(2)} ms with the collector stopped vs ${base.toFixed(2)} ms before`);
      await waitFor('failed exports and dropped spans counted on node-a', async () => {
        const m = (await c.agentGet('node-a', '/metrics')).body;
        return metricSum(m, 'nodemesh_trace_export_failures_total', {}) > metricSum(m0, 'nodemesh_trace_export_failures_total', {})
          && metricSum(m, 'nodemesh_trace_spans_dropped_total', { reason: 'export_failed' }) >= 40;
      }, 20_000, 250);
    } finally {
      process.kill(pid, 'SIGKILL');
    }
  });
});
