// `nodemesh workload load`: flag parsing (every mistake a MESH_ERR_USAGE naming the flag), the
// backend key of an echo body, nearest-rank percentiles, the summary of outcomes, and one real run
// against a local keep-alive server (requests counted and connections reused).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { backendOf, parseLoadFlags, percentile, runLoad, summarize, type Outcome } from '../../../cli/workload-load.js';

const U = 'usage-line';

test('parseLoadFlags: defaults, repeated headers, method upper-cased, concurrency capped at count', () => {
  const o = parseLoadFlags(['http://10.96.20.10/x?y=1', '--count', '5', '--concurrency', '8', '--header', 'User-Agent: iPhone OS', '--header', 'x-region:es-south', '--method', 'post'], U);
  assert.equal(o.url.href, 'http://10.96.20.10/x?y=1');
  assert.equal(o.count, 5);
  assert.equal(o.concurrency, 5);
  assert.equal(o.method, 'POST');
  assert.equal(o.timeoutMs, 10_000);
  assert.deepEqual(o.headers, [['User-Agent', 'iPhone OS'], ['x-region', 'es-south']]);
  const d = parseLoadFlags(['http://h/', '--count', '3'], U);
  assert.equal(d.concurrency, 1);
  assert.equal(d.method, 'GET');
  assert.deepEqual(d.headers, []);
});

test('parseLoadFlags: mistakes are MESH_ERR_USAGE naming what to fix', () => {
  const rows: [string[], RegExp][] = [
    [['http://h/'], /--count is required/],
    [['http://h/', '--count', '0'], /--count must be an integer in 1\.\./],
    [['http://h/', '--count', 'ten'], /--count must be an integer/],
    [['http://h/', '--count', '1', '--concurrency', '0'], /--concurrency must be an integer in 1\.\.1024/],
    [['not a url', '--count', '1'], /is not an absolute URL/],
    [['https://h/', '--count', '1'], /must be http:\/\//],
    [['http://h/', '--count', '1', '--header', 'no-colon'], /--header "no-colon" must be 'Name: value'/],
    [['http://h/', '--count', '1', '--header', 'bad name: v'], /must be 'Name: value'/],
    [['http://h/', '--count', '1', '--method', 'G T'], /--method "G T" is not an HTTP method token/],
    [['--count', '1'], /missing argument/],
    [['http://h/', 'http://i/', '--count', '1'], /unexpected argument/],
    [['http://h/', '--count', '1', '--bogus'], /unknown option/i],
  ];
  for (const [argv, re] of rows) {
    assert.throws(() => parseLoadFlags(argv, U), (e: Error & { code?: string }) => e.code === 'MESH_ERR_USAGE' && re.test(e.message) && e.message.includes(U), argv.join(' '));
  }
});

test('backendOf: version, else pod, else ?', () => {
  const rows: [string, string][] = [
    ['{"version":"v2","pod":"shop-v2-a"}', 'v2'],
    ['{"version":"","pod":"shop-v1-b"}', 'shop-v1-b'],
    ['{"pod":"p"}', 'p'],
    ['{"message":"injected failure"}', '?'],
    ['<html>oops</html>', '?'],
    ['', '?'],
    ['{"version":3}', '?'],
  ];
  for (const [body, want] of rows) assert.equal(backendOf(body), want, body);
});

test('percentile: nearest rank', () => {
  const xs = Array.from({ length: 100 }, (_, i) => i + 1);
  const rows: [number, number][] = [[0.5, 50], [0.9, 90], [0.99, 99], [1, 100], [0, 1], [0.001, 1]];
  for (const [q, want] of rows) assert.equal(percentile(xs, q), want, String(q));
  assert.equal(percentile([], 0.5), 0);
  assert.equal(percentile([7], 0.99), 7);
});

test('summarize: counts by status and backend, errors, ok/failed, percentiles', () => {
  const outcomes: Outcome[] = [
    { status: 200, backend: 'v1', ms: 1 },
    { status: 200, backend: 'v1', ms: 2 },
    { status: 200, backend: 'v2', ms: 3 },
    { status: 503, backend: 'flaky', ms: 4 },
    { status: 302, backend: '?', ms: 5 },
    { error: 'ECONNRESET', ms: 6 },
    { error: 'ECONNRESET', ms: 7 },
    { error: 'no response within 10 ms', ms: 10 },
  ];
  const s = summarize({ url: new URL('http://h/'), count: 8, concurrency: 2 }, outcomes, 0.12345);
  assert.deepEqual(s.statuses, { 200: 3, 503: 1, 302: 1 });
  assert.deepEqual(s.backends, { v1: 2, v2: 1, flaky: 1, '?': 1 });
  assert.deepEqual(s.errors, { ECONNRESET: 2, 'no response within 10 ms': 1 });
  assert.equal(s.ok, 4);
  assert.equal(s.failed, 4);
  assert.deepEqual(s.latencyMs, { p50: 4, p90: 10, p99: 10, max: 10 });
  assert.equal(s.seconds, 0.123);
  assert.equal(s.url, 'http://h/');
});

test('runLoad: every request answered over few keep-alive connections, headers sent', async () => {
  const sockets = new Set<unknown>();
  const seen: string[] = [];
  const srv = http.createServer((req, res) => {
    sockets.add(req.socket);
    seen.push(String(req.headers['x-region']));
    const n = seen.length;
    res.writeHead(n % 4 === 0 ? 503 : 200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ version: n % 2 === 0 ? 'v2' : 'v1', pod: 'p' }));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  try {
    const port = (srv.address() as AddressInfo).port;
    const s = await runLoad(parseLoadFlags([`http://127.0.0.1:${port}/`, '--count', '40', '--concurrency', '4', '--header', 'x-region: es-south'], U));
    assert.equal(s.count, 40);
    assert.deepEqual(s.statuses, { 200: 30, 503: 10 });
    assert.deepEqual(s.backends, { v1: 20, v2: 20 });
    assert.deepEqual(s.errors, {});
    assert.equal(s.failed, 10);
    assert.ok(sockets.size <= 4, `${sockets.size} connections for concurrency 4`);
    assert.ok(seen.every((h) => h === 'es-south'));
    const refused = await runLoad(parseLoadFlags(['http://127.0.0.1:1/', '--count', '2', '--timeout-ms', '2000'], U));
    assert.equal(refused.failed, 2);
    assert.deepEqual(refused.errors, { ECONNREFUSED: 2 });
  } finally {
    srv.close();
  }
});
