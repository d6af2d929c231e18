// L7 resilience end to end on a real kernel, policies' side: FaultPolicy abort (100 % and 50 %) and
// delay on routes and on a Service, RateLimitPolicy on a route and on a Service (429 with
// retry-after, the bucket's size plus its refill), and an HTTPRoute's weights edited under a paced
// keep-alive load — counted by the client and by the agent's golden metrics.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from '../../native/index.js';
import { SimCluster } from '../../sim/index.js';
import { manifestDir, metricSum, rootGate, sleep, waitFor } from './helpers.js';
import { CLIENT, Golden, curl, load, received } from './resilience-helpers.js';

const skip = rootGate();
const WEB = '10.96.8.14';
const EDIT = '10.96.8.16';
const SVCFAULT = '10.96.8.17';
const SVCLIMIT = '10.96.8.18';
const PACED = path.join(ROOT, 'dist', 'test', 'netns', 'tools', 'paced-load.js');

const editRoute = (v1: number, v2: number): string => `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: edit, namespace: res }
spec:
  parentRefs: [{ group: "", kind: Service, name: edit, port: 80 }]
  rules: [{ backendRefs: [{ name: web, port: 80, weight: ${v1} }, { name: web-v2, port: 80, weight: ${v2} }] }]
`;

describe('L7 resilience: faults, rate limits, a route edited under load', { skip, timeout: 600_000 }, () => {
  let c: SimCluster;
  let dir: string;
  let golden: Golden;
  let svcLimited = 0;
  const route = (name: string): Record<string, string> => ({ route_name: `res/${name}`, route_kind: 'HTTPRoute', backend: 'res/web' });

  before(async () => {
    dir = manifestDir('l7-resilience.yaml', 'l7-resilience-edit.yaml');
    c = await SimCluster.up({ manifestsDir: dir, agents: true });
    golden = new Golden(c);
    await waitFor('the fault policies in force on node-a', async () => {
      const r = await c.exec(CLIENT, ['curl', '-sS', '--max-time', '3', '-o', '/dev/null', '-w', '%{http_code}', `http://${WEB}/abort`], { timeoutMs: 10_000 });
      return r.stdout.trim() === '418';
    }, 30_000, 250);
  });

  after(async () => {
    await c?.down();
    rmSync(dir, { recursive: true, force: true });
  });

  test('FaultPolicy abort 100 % on a route: 418 MESH_ERR_FAULT_ABORT, the backend never sees it; on a Service: its status', async () => {
    const got = await received(c, 'res/web', () => golden.delta(route('abort'), () => curl(c, Array.from({ length: 5 }, (_, i) => `http://${WEB}/abort/${i}`))));
    for (const r of got.value.value) {
      assert.equal(r.status, 418);
      assert.equal(r.headers['x-nodemesh-error'], 'MESH_ERR_FAULT_ABORT');
      assert.equal(r.headers['x-nodemesh-fault'], 'res/abort-all');
      assert.match(r.body, /^MESH_ERR_FAULT_ABORT: /);
    }
    assert.equal(got.n, 0, 'an aborted request reaches no backend');
    assert.deepEqual(got.value.byStatus, { 418: 5 });
    assert.equal(got.value.requests, 5);
    const [s] = await curl(c, [`http://${SVCFAULT}/`]);
    assert.equal(s!.status, 502);
    assert.equal(s!.headers['x-nodemesh-error'], 'MESH_ERR_FAULT_ABORT');
    assert.equal(s!.headers['x-nodemesh-fault'], 'res/svc-abort');
    // the route without a policy on the same Service is untouched
    const [p] = await curl(c, [`http://${WEB}/plain`]);
    assert.equal(p!.status, 200);
  });

  test('FaultPolicy abort 50 % over 400 requests: 200 ± 32 aborted, golden metrics count exactly what the client saw', async (t) => {
    const N = 400;
    const d = await golden.delta(route('half'), () => load(c, `http://${WEB}/half`, N, 4));
    const s = d.value;
    const aborted = s.statuses['503'] ?? 0;
    assert.equal(aborted + (s.statuses['200'] ?? 0), N, JSON.stringify(s));
    t.diagnostic(`${aborted} of ${N} aborted`);
    // ±8 % of 400: beyond 3.2 standard deviations of binomial(400, 0.5)
    assert.ok(Math.abs(aborted - N / 2) <= 32, `${aborted} of ${N} aborted`);
    assert.deepEqual(d.byStatus, s.statuses);
    assert.equal(d.requests, N);
    assert.equal(d.failures, aborted);
  });

  test('FaultPolicy delay 300ms: every request takes 300 ms more than the same route without it', async () => {
    const plain = await load(c, `http://${WEB}/plain`, 20);
    const d = await golden.delta(route('delay'), () => load(c, `http://${WEB}/delay`, 10));
    const s = d.value;
    assert.deepEqual(s.statuses, { 200: 10 });
    assert.ok(plain.latencyMs.max < 100, `plain: ${JSON.stringify(plain.latencyMs)}`);
    assert.ok(s.latencyMs.p50 >= 300 && s.latencyMs.max < 300 + 150, `delayed: ${JSON.stringify(s.latencyMs)}`);
    assert.deepEqual(d.byStatus, { 200: 10 });
  });

  test('RateLimitPolicy on a route (5/s, burst 20): a burst of 60 → 20 + refill pass, the rest 429 with retry-after', async (t) => {
    const N = 60;
    const d = await golden.delta(route('limited'), async () => {
      const s = await load(c, `http://${WEB}/limited`, N);
      const [r] = await curl(c, [`http://${WEB}/limited`]);
      return { s, r: r! };
    });
    const { s, r } = d.value;
    const passed = s.statuses['200'] ?? 0;
    // the curl at the end may find a refilled token: count it with the refill
    const refill = Math.ceil(5 * (s.seconds + 0.5));
    t.diagnostic(`${passed} of ${N} passed in ${s.seconds} s; the last curl: ${r.status}`);
    assert.ok(passed >= 20 && passed <= 20 + refill, `${passed} passed in ${s.seconds} s: ${JSON.stringify(s)}`);
    assert.equal(passed + (s.statuses['429'] ?? 0), N);
    if (r.status === 429) {
      assert.equal(r.headers['x-nodemesh-error'], 'MESH_ERR_RATE_LIMITED');
      assert.equal(r.headers['retry-after'], '1', 'the next token is at most 200 ms away: retry-after rounds up to 1 s');
    }
    const limited = (s.statuses['429'] ?? 0) + (r.status === 429 ? 1 : 0);
    assert.ok(limited > 0);
    assert.deepEqual(d.byStatus, { 200: N + 1 - limited, 429: limited }, 'golden metrics count the 429s');
    assert.equal(d.requests, N + 1);
  });

  test('RateLimitPolicy on a Service (1/s, burst 5): exactly the bucket passes a fast burst', async () => {
    const N = 20;
    const s = await load(c, `http://${SVCLIMIT}/`, N);
    svcLimited = s.statuses['429'] ?? 0;
    const passed = s.statuses['200'] ?? 0;
    assert.ok(passed >= 5 && passed <= 5 + Math.ceil(s.seconds), `${passed} passed in ${s.seconds} s`);
    assert.equal(passed + (s.statuses['429'] ?? 0), N);
    const [r] = await curl(c, [`http://${SVCLIMIT}/`]);
    assert.equal(r!.status, 429);
    svcLimited++;
    assert.equal(r!.headers['x-nodemesh-error'], 'MESH_ERR_RATE_LIMITED');
    assert.ok(Number(r!.headers['retry-after']) >= 1);
  });

  // the Service-level RateLimitPolicy answers before routing; its 429s are counted with the Service as backend
  test('golden metrics count the Service-level 429s', async () => {
    const m = await golden.text();
    const counted = metricSum(m, 'response_total', { backend: 'res/svclimit', status_code: '429' });
    assert.ok(svcLimited > 0);
    assert.equal(counted, svcLimited);
  });

  test('a route edited under 200 rps keep-alive load: 0 failed requests, the split follows 100/0 → 50/50 → 0/100', async (t) => {
    const file = path.join(dir, 'l7-resilience-edit.yaml');
    await waitFor('the edit route in force', async () => (await load(c, `http://${EDIT}/`, 5)).backends.v1 === 5, 20_000, 200);
    const run = c.exec(CLIENT, [process.execPath, PACED, `http://${EDIT}/`, '200', '6', '4'], { timeoutMs: 60_000 });
    await sleep(1500);
    const t1 = Date.now();
    writeFileSync(file, editRoute(50, 50));
    await sleep(2000);
    const t2 = Date.now();
    writeFileSync(file, editRoute(0, 100));
    const r = await run;
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { start: number; end: number; rows: [number, number, string, number][]; errors: Record<string, number> };
    const rows = out.rows;
    assert.ok(rows.length >= 1150 && rows.length <= 1200, `${rows.length} requests`);
    assert.deepEqual(out.errors, {});
    const bad = rows.filter((x) => x[1] !== 200);
    assert.equal(bad.length, 0, `failed: ${JSON.stringify(bad.slice(0, 5))}`);
    const before = rows.filter((x) => x[0] < t1);
    assert.ok(before.length > 200);
    assert.ok(before.every((x) => x[2] === 'v1'), 'before the first edit: all v1');
    // the split at 50/50: between the edits, once the first one has propagated
    const firstV2 = rows.find((x) => x[2] === 'v2');
    assert.ok(firstV2 && firstV2[0] >= t1 && firstV2[0] - t1 < 1500, `first v2 at ${firstV2 ? firstV2[0] - t1 : 'never'} ms after the edit`);
    const mid = rows.filter((x) => x[0] >= firstV2[0] + 200 && x[0] < t2);
    const midV2 = mid.filter((x) => x[2] === 'v2').length;
    assert.ok(mid.length > 100 && Math.abs(midV2 - mid.length / 2) <= 4 * Math.sqrt(mid.length / 4) + 1, `50/50: ${midV2} v2 of ${mid.length}`);
    const lastV1 = rows.filter((x) => x[2] === 'v1').at(-1)!;
    assert.ok(lastV1[0] >= t2 - 50 && lastV1[0] - t2 < 1500, `the last v1 at ${lastV1[0] - t2} ms after the second edit`);
    const tail = rows.filter((x) => x[0] > lastV1[0]);
    t.diagnostic(`${rows.length} requests; first v2 ${firstV2[0] - t1} ms after the first edit, last v1 ${lastV1[0] - t2} ms after the second; 50/50 window: ${midV2} v2 of ${mid.length}`);
    assert.ok(tail.length > 200 && tail.every((x) => x[2] === 'v2'), `after the second edit propagated: ${tail.length} requests, all v2`);
  });
});
