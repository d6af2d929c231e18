// L7 resilience end to end on a real kernel, backends' side: timeouts.request and
// timeouts.backendRequest with retries, retries of a flaky backend, the retry budget (20 % + 10/s),
// failure accrual ejecting and probing back an endpoint, and the pending bound per endpoint —
// counted by the client, by the echo processes themselves and by the agent's golden metrics.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { SimCluster } from '../../sim/index.js';
import { manifestDir, metricSum, rootGate, sleep, waitFor } from './helpers.js';
import { CLIENT, Golden, curl, echoCount, load, received } from './resilience-helpers.js';

const skip = rootGate();
const SLOW = '10.96.8.10';
const FLAKY = '10.96.8.11';
const BUDGET = '10.96.8.12';
const ACC = '10.96.8.13';
const PAIR = '10.96.8.19';
/** compile.ts HTTP_DEFAULTS: retry budget, failure accrual, pending bound */
const BUDGET_RATIO = 0.2;
const BUDGET_RESERVE = 10 * 10; // minPerSecond × ttl (10 s)
const ACCRUAL_FAILURES = 7;
const MAX_PENDING = 100;

describe('L7 resilience: timeouts, retries, budget, accrual, pending bound', { skip, timeout: 600_000 }, () => {
  let c: SimCluster;
  let dir: string;
  let golden: Golden;
  const route = (name: string, backend = name): Record<string, string> => ({ route_name: `res/${name}`, route_kind: 'HTTPRoute', backend: `res/${backend}` });

  before(async () => {
    dir = manifestDir('l7-resilience.yaml', 'l7-resilience-edit.yaml');
    c = await SimCluster.up({ manifestsDir: dir, agents: true });
    golden = new Golden(c);
    await waitFor('the routes of res in force on node-a', async () => {
      const r = await c.exec(CLIENT, ['curl', '-sS', '--max-time', '3', '-o', '/dev/null', '-w', '%{http_code}', `http://${SLOW}/req?delay=1s`], { timeoutMs: 10_000 });
      return r.stdout.trim() === '504';
    }, 30_000, 250);
  });

  after(async () => {
    await c?.down();
    rmSync(dir, { recursive: true, force: true });
  });

  test('timeouts.request 300ms: a 2 s backend → 504 MESH_ERR_REQUEST_TIMEOUT within 300–600 ms; a fast one passes', async () => {
    const d = await golden.delta(route('slow'), () => curl(c, [`http://${SLOW}/req?delay=2s`, `http://${SLOW}/req?delay=2s`, `http://${SLOW}/req?delay=50ms`]));
    const [t1, t2, fast] = d.value;
    for (const t of [t1!, t2!]) {
      assert.equal(t.status, 504);
      assert.equal(t.headers['x-nodemesh-error'], 'MESH_ERR_REQUEST_TIMEOUT');
      assert.match(t.body, /^MESH_ERR_REQUEST_TIMEOUT: /);
      assert.ok(t.seconds >= 0.3 && t.seconds < 0.6, `answered after ${t.seconds} s`);
    }
    assert.equal(fast!.status, 200);
    assert.deepEqual(d.byStatus, { 200: 1, 504: 2 });
    assert.equal(d.requests, 3);
    assert.equal(d.failures, 2);
  });

  test('timeouts.request covers the body: a body stalled 2 s after its head is cut at 300 ms, a 100 ms stall passes', async () => {
    const d = await golden.delta(route('slow'), async () => {
      const cut = await c.exec(CLIENT, ['curl', '-sS', '-o', '/dev/null', '--max-time', '5', '-w', '%{http_code} %{time_total}', `http://${SLOW}/req?body-delay=2s`], { timeoutMs: 20_000 });
      const [ok] = await curl(c, [`http://${SLOW}/req?body-delay=100ms`]);
      return { cut, ok: ok! };
    });
    const { cut, ok } = d.value;
    const [code, secs] = cut.stdout.trim().split(' ');
    assert.equal(code, '200', 'the head had gone out');
    // hyper drops the connection mid-body: a reset (56) or a short body (18), never a whole one
    assert.ok(cut.code === 56 || cut.code === 18, `curl exit ${cut.code}: ${cut.stderr}`);
    assert.ok(Number(secs) >= 0.3 && Number(secs) < 0.6, `cut after ${secs} s`);
    assert.equal(ok.status, 200);
    assert.equal((JSON.parse(ok.body) as { path: string }).path, '/req?body-delay=100ms');
    assert.deepEqual(d.byStatus, { 200: 1, 504: 1 }, 'the cut response counts as a 504 failure');
  });

  test('h2c: timeouts.request answers 504 and cuts a stalled body; retries hide every 2nd 503', async () => {
    const h2 = (url: string, extra: string[] = []) => c.exec(CLIENT, ['curl', '-sS', '--http2-prior-knowledge', '--max-time', '5', '-o', '/dev/null', '-w', '%{http_code} %{http_version} %{time_total}', ...extra, url], { timeoutMs: 20_000 });
    const d = await golden.delta(route('slow-h2c', 'slow'), async () => ({ slow: await h2(`http://${SLOW}:81/req?delay=2s`), cut: await h2(`http://${SLOW}:81/req?body-delay=2s`) }));
    const [code, version, secs] = d.value.slow.stdout.trim().split(' ');
    assert.deepEqual([code, version], ['504', '2']);
    assert.ok(Number(secs) >= 0.3 && Number(secs) < 0.6, `504 after ${secs} s`);
    const [cutCode, , cutSecs] = d.value.cut.stdout.trim().split(' ');
    assert.equal(cutCode, '200');
    assert.notEqual(d.value.cut.code, 0, 'the stalled body is cut, not completed');
    assert.ok(Number(cutSecs) >= 0.3 && Number(cutSecs) < 0.6, `cut after ${cutSecs} s`);
    assert.deepEqual(d.byStatus, { 504: 2 });
    // one request per curl: curl 7.88 cannot reuse a prior-knowledge connection (l7-routing.test.ts)
    const N = 10;
    const got = await received(c, 'res/flaky', async () => {
      const out: string[] = [];
      for (let i = 0; i < N; i++) out.push((await h2(`http://${FLAKY}:81/h2/${i}`)).stdout.trim().split(' ')[0]!);
      return out;
    });
    assert.deepEqual(got.value, Array(N).fill('200'));
    assert.equal(got.n, N + ((got.before + 1) % 2 === 0 ? N : N - 1));
  });

  test('timeouts.backendRequest 200ms with 2 retries: 3 bounded attempts, then 504 MESH_ERR_BACKEND_TIMEOUT', async () => {
    const got = await received(c, 'res/slow', () => golden.delta(route('slow'), () => curl(c, [`http://${SLOW}/backend?delay=2s`])));
    const [r] = got.value.value;
    assert.equal(r!.status, 504);
    assert.equal(r!.headers['x-nodemesh-error'], 'MESH_ERR_BACKEND_TIMEOUT');
    // 3 × 200 ms plus backoffs of at most 10 and 20 ms: never the 2 s of the backend
    assert.ok(r!.seconds >= 0.6 && r!.seconds < 0.9, `answered after ${r!.seconds} s`);
    assert.equal(got.n, 3, 'the echo saw one request per attempt');
    assert.deepEqual(got.value.byStatus, { 504: 1 });
    assert.equal(got.value.requests, 1, 'request_total counts the request once, not per attempt');
  });

  test('retries: every 2nd request fails 503; with retry attempts 2 the client sees 0 failures, without half fail', async () => {
    const N = 100;
    const withRetry = await received(c, 'res/flaky', () => golden.delta(route('flaky'), () => load(c, `http://${FLAKY}/retry/x`, N)));
    const s = withRetry.value.value;
    assert.deepEqual(s.statuses, { 200: N }, JSON.stringify(s));
    assert.equal(s.failed, 0);
    // after the count request (the `before`-th), request n fails when n is even: one retry each
    // for every client request that meets an even n, and every retry meets an odd one
    const retries = (withRetry.before + 1) % 2 === 0 ? N : N - 1;
    assert.equal(withRetry.n, N + retries, 'the echo saw each request plus one retry per failure');
    assert.deepEqual(withRetry.value.byStatus, { 200: N });
    assert.equal(withRetry.value.requests, N);
    assert.equal(withRetry.value.failures, 0);

    const without = await received(c, 'res/flaky', () => golden.delta(route('flaky'), () => load(c, `http://${FLAKY}/plain/x`, N)));
    assert.deepEqual(without.value.value.statuses, { 200: N / 2, 503: N / 2 });
    assert.equal(without.n, N, 'no retries without the retry rule');
    assert.deepEqual(without.value.byStatus, { 200: N / 2, 503: N / 2 });
    assert.equal(without.value.failures, N / 2);
  });

  test('retries replay a request body that fits the retry buffer (1 KiB); a 100 KiB one streams once and is not retried', async () => {
    const small = path.join(dir, 'small.bin');
    const big = path.join(dir, 'big.bin');
    writeFileSync(small, randomBytes(512).toString('hex'));
    writeFileSync(big, randomBytes(50 * 1024).toString('hex'));
    const post = (file: string) => curl(c, Array.from({ length: 10 }, (_, i) => `http://${FLAKY}/retry/post-${i}`), ['-H', 'content-type: application/octet-stream', '--data-binary', `@${file}`]);
    const s = await received(c, 'res/flaky', () => post(small));
    const sent = readFileSync(small, 'utf8');
    for (const r of s.value) {
      assert.equal(r.status, 200);
      assert.equal(r.body, sent, 'the replayed body arrives whole');
    }
    assert.equal(s.n, 10 + ((s.before + 1) % 2 === 0 ? 10 : 9));
    const b = await received(c, 'res/flaky', () => post(big));
    assert.deepEqual(b.value.map((r) => r.status).sort(), [...Array(5).fill(200), ...Array(5).fill(503)]);
    assert.equal(b.n, 10, 'a body beyond the 64 KiB retry buffer is sent once');
    for (const r of b.value.filter((x) => x.status === 200)) assert.equal(r.body.length, 100 * 1024);
  });

  test('retry budget: a backend always answering a retryable 429 gets at most 20 % of requests + 10/s × 10 s retries', async (t) => {
    // 429, not 503: a 5xx endpoint would be ejected by failure accrual after 7 answers, and the
    // proxy's own 503s would hide what the budget does
    const N = 200;
    const stat = async (name: string): Promise<number> => metricSum(await golden.text(), name, { route_name: 'res/budget' });
    const [retried0, refused0] = [await stat('outbound_http_route_retry_requests_total'), await stat('outbound_http_route_retry_limit_exceeded_total')];
    const t0 = Date.now();
    const got = await received(c, 'res/budget', () => golden.delta(route('budget'), () => load(c, `http://${BUDGET}/`, N)));
    const ms = Date.now() - t0;
    assert.deepEqual(got.value.value.statuses, { 429: N });
    assert.ok(ms < 9000, `the run took ${ms} ms: the budget's 10 s window would have renewed (the bound below assumes one window)`);
    const budget = Math.floor(BUDGET_RATIO * N + BUDGET_RESERVE);
    const retries = got.n - N;
    t.diagnostic(`${retries} retries for ${N} requests in ${ms} ms`);
    // without a budget: 3 retries per request (600); greedy spending uses the whole budget
    assert.equal(retries, budget, `${retries} retries for ${N} requests, budget ${budget}`);
    // the proxy's own counters say the same: every retry sent, and each refusal once per request
    assert.equal(await stat('outbound_http_route_retry_requests_total') - retried0, budget);
    const refused = await stat('outbound_http_route_retry_limit_exceeded_total') - refused0;
    assert.ok(refused >= N - Math.ceil(budget / 3) - 1 && refused <= N, `${refused} refusals`);
    assert.deepEqual(got.value.byStatus, { 429: N });
    assert.equal(got.value.requests, N);
  });

  test('failure accrual: an always-500 endpoint is ejected after 7 failures, then probed back in once healthy', async (t) => {
    const N = 300;
    const labels = { route_name: '', route_kind: 'default', backend: 'res/acc' };
    const d = await golden.delta(labels, () => load(c, `http://${ACC}/`, N, 8));
    const s = d.value;
    const failed = s.statuses['500'] ?? 0;
    assert.equal(s.ok + failed, N, JSON.stringify(s));
    assert.equal(s.backends.good, s.ok);
    // 7 consecutive failures eject; requests already sent to it (at most concurrency − 1) still
    // fail, and each backoff (≥ 1 s, doubling) that ends during the run lets one probe fail
    const probes = Math.ceil(s.seconds);
    assert.ok(failed >= ACCRUAL_FAILURES && failed <= ACCRUAL_FAILURES + 7 + probes, `${failed} failures in ${s.seconds} s: ${JSON.stringify(s)}`);
    t.diagnostic(`${failed} failures of ${N} in ${s.seconds} s`);
    assert.deepEqual(d.byStatus, { 200: s.ok, 500: failed });
    assert.equal(d.failures, failed);

    // the endpoint heals: a healthy echo on the same address; the next probe brings it back
    const bad = c.pod('res/acc-bad');
    process.kill(bad.pid!, 'SIGTERM');
    await waitFor('acc-bad to stop', async () => (await c.exec(CLIENT, ['curl', '-s', '-o', '/dev/null', '--max-time', '1', `http://${bad.ip}:8080/`])).code !== 0, 5000, 50);
    c.spawnInPod('res/acc-bad', ['nodemesh', 'workload', 'echo', '--http', '8080', '--name', 'acc', '--version', 'healed']);
    await waitFor('the healed echo', async () => (await c.exec(CLIENT, ['curl', '-s', '-o', '/dev/null', '--max-time', '1', `http://${bad.ip}:8080/`])).code === 0, 10_000, 50);
    const healedAt = Date.now();
    let healed = 0;
    let total = 0;
    await waitFor('the healed endpoint probed back in', async () => {
      const r = await load(c, `http://${ACC}/`, 100, 8);
      assert.equal(r.failed, 0, `a request failed after the endpoint healed: ${JSON.stringify(r)}`);
      healed += r.backends.healed ?? 0;
      total += r.ok;
      return healed > 0;
    }, 20_000, 200);
    // the longest backoff so far is the third ejection's (4–6 s); the probe goes once it ends
    t.diagnostic(`probed back in ${Date.now() - healedAt} ms after the echo healed; healed served ${healed} of ${total}`);
    assert.ok(Date.now() - healedAt < 8000, `probed back after ${Date.now() - healedAt} ms`);
    const after = await load(c, `http://${ACC}/`, 200, 8);
    assert.equal(after.failed, 0);
    assert.ok((after.backends.healed ?? 0) > 0, `back in rotation: ${JSON.stringify(after.backends)} (before: ${healed} of ${total})`);
  });

  test('a stopped endpoint (connect refused): requests move on to the other one, no retry policy needed; 0 failures', async () => {
    const b = c.pod('res/pair-b');
    // warm both endpoints up (pooled connections to pair-b too, which then die with it)
    const warm = await load(c, `http://${PAIR}/`, 100, 8);
    assert.equal(warm.failed, 0);
    process.kill(b.pid!, 'SIGTERM');
    await waitFor('pair-b to stop', async () => (await c.exec(CLIENT, ['curl', '-s', '-o', '/dev/null', '--max-time', '1', `http://${b.ip}:8080/`])).code !== 0, 5000, 50);
    const labels = { route_name: '', route_kind: 'default', backend: 'res/pair' };
    const d = await golden.delta(labels, () => load(c, `http://${PAIR}/`, 300, 8));
    assert.deepEqual(d.value.statuses, { 200: 300 }, JSON.stringify(d.value));
    assert.deepEqual(d.value.backends, { a: 300 });
    assert.deepEqual(d.byStatus, { 200: 300 });
    assert.equal(d.requests, 300);
  });

  test('pending bound: 150 concurrent requests to a slow endpoint → 100 served, 50 get 503 MESH_ERR_PENDING_LIMIT at once', async () => {
    const d = await golden.delta(route('slow'), async () => {
      const big = load(c, `http://${SLOW}/p?delay=1500ms`, 150, 150);
      await sleep(600);
      const extra = await curl(c, [`http://${SLOW}/p?delay=1500ms`, `http://${SLOW}/p?delay=1500ms`]);
      return { big: await big, extra };
    });
    const { big, extra } = d.value;
    assert.deepEqual(big.statuses, { 200: MAX_PENDING, 503: 150 - MAX_PENDING }, JSON.stringify(big));
    assert.deepEqual(big.errors, {});
    assert.ok(big.seconds < 4, `the load took ${big.seconds} s: something queued`);
    for (const e of extra) {
      assert.equal(e.status, 503);
      assert.equal(e.headers['x-nodemesh-error'], 'MESH_ERR_PENDING_LIMIT');
      assert.ok(e.seconds < 0.3, `the 503 took ${e.seconds} s`);
    }
    assert.deepEqual(d.byStatus, { 200: MAX_PENDING, 503: 152 - MAX_PENDING });
    assert.equal(d.requests, 152);
    // nothing stays pending: a request after the slow ones passes
    const [r] = await curl(c, [`http://${SLOW}/p`]);
    assert.equal(r!.status, 200);
    assert.ok((await echoCount(c, 'res/slow')) > MAX_PENDING);
  });
});
