// The L7 bench's parsers: fortio -json (percentiles in seconds → ms, 2xx vs other codes), h2load's
// summary and per-request log, nearest-rank percentiles, the ttfb tool's line and the agents'
// outbound request_total; malformed output throws with what is missing.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { h2loadResult, outboundRequests, parseFortio, parseH2load, parseH2loadLog, parseTtfb, percentile } from '../../../bench/l7/parse.js';

const fortio = (over: Record<string, unknown> = {}): string => JSON.stringify({
  RunType: 'HTTP', ActualQPS: 999.5, ActualDuration: 5_001_000_000, SocketCount: 4,
  DurationHistogram: { Count: 4998, Min: 0.0001, Max: 0.0042, Percentiles: [
    { Percentile: 50, Value: 0.000412 }, { Percentile: 90, Value: 0.00061 }, { Percentile: 99, Value: 0.0011 }, { Percentile: 99.9, Value: 0.0031 }] },
  RetCodes: { 200: 4990, 503: 8 },
  ...over,
});

test('fortio: percentiles in ms, achieved rate, non-2xx counted as errors', () => {
  const r = parseFortio(fortio());
  assert.equal(r.requests, 4998);
  assert.equal(r.ok, 4990);
  assert.equal(r.errors, 8);
  assert.equal(r.rps, 999.5);
  assert.ok(Math.abs(r.p50 - 0.412) < 1e-9 && Math.abs(r.p90 - 0.61) < 1e-9 && Math.abs(r.p99 - 1.1) < 1e-9 && Math.abs(r.p999 - 3.1) < 1e-9);
  assert.ok(Math.abs(r.max - 4.2) < 1e-9);
  assert.equal(r.seconds, 5.001);
  assert.equal(r.connections, 4);
});

test('fortio: connection errors (code -1) are errors too; more codes than histogram counts wins', () => {
  const r = parseFortio(fortio({ RetCodes: { 200: 4990, '-1': 20 } }));
  assert.equal(r.requests, 5010);
  assert.equal(r.errors, 20);
});

test('fortio: missing percentile or not JSON throws with the fix', () => {
  assert.throws(() => parseFortio(fortio({ DurationHistogram: { Count: 1, Percentiles: [{ Percentile: 50, Value: 0.001 }] } })), /p90 percentile .*-p "50,90,99,99.9"/);
  assert.throws(() => parseFortio('Fortio 1.68 running at 1000 queries per second'), /not JSON/);
  assert.throws(() => parseFortio('{}'), /DurationHistogram/);
});

const H2LOAD = `starting benchmark...
spawning thread #0: 2 total client(s). 200 total requests
Application protocol: h2c
progress: 100% done

finished in 26.06ms, 7675.78 req/s, 8.00MB/s
requests: 200 total, 200 started, 199 done, 196 succeeded, 2 failed, 1 errored, 0 timeout
status codes: 197 2xx, 0 3xx, 1 4xx, 0 5xx
traffic: 213.57KB (218698) total, 9.96KB (10200) headers (space savings 49.50%), 200.00KB (204800) data
`;

test('h2load: the summary (ms or s duration), and the log file as sorted ms', () => {
  const s = parseH2load(H2LOAD);
  assert.deepEqual(s, { seconds: 0.02606, rps: 7675.78, total: 200, done: 199, succeeded: 196, failed: 2, errored: 1, timeout: 0, status2xx: 197 });
  assert.equal(parseH2load(H2LOAD.replace('26.06ms', '5.00s')).seconds, 5);
  const log = parseH2loadLog('1796606870833793\t200\t482\n1796606870833794\t200\t1508\n1796606870833794\t200\t511\n\n');
  assert.deepEqual(log, [0.482, 0.511, 1.508]);
  const r = h2loadResult(s, log);
  assert.equal(r.requests, 199);
  assert.equal(r.errors, 3);
  assert.equal(h2loadResult({ ...s, timeout: 2 }, log).errors, 5);
  assert.equal(r.p50, 0.511);
  assert.equal(r.p99, 1.508);
  assert.equal(r.max, 1.508);
  assert.throws(() => parseH2load('starting benchmark...\nconnect to 10.0.0.1 failed'), /without its summary/);
  assert.throws(() => parseH2loadLog('garbage line'), /start\\tstatus\\tduration/);
  assert.throws(() => h2loadResult(s, []), /logged no request/);
});

test('percentile: nearest rank', () => {
  const v = Array.from({ length: 1000 }, (_, i) => i + 1);
  assert.equal(percentile(v, 50), 500);
  assert.equal(percentile(v, 99), 990);
  assert.equal(percentile(v, 99.9), 999);
  assert.equal(percentile(v, 100), 1000);
  assert.equal(percentile([7], 99.9), 7);
  assert.equal(percentile([1, 2], 0), 1);
  assert.throws(() => percentile([], 50), RangeError);
});

test('ttfb: the last JSON line, sorted; wrong shapes throw', () => {
  const r = parseTtfb('warning\n{"connectMs":[0.2,0.1],"firstByteMs":[100.5,0.3],"errors":1,"firstError":"ECONNREFUSED"}\n');
  assert.deepEqual(r, { connectMs: [0.1, 0.2], firstByteMs: [0.3, 100.5], errors: 1, firstError: 'ECONNREFUSED' });
  assert.throws(() => parseTtfb('nope'), /not JSON/);
  assert.throws(() => parseTtfb('{"connectMs":[],"firstByteMs":["x"],"errors":0}'), /firstByteMs/);
  assert.throws(() => parseTtfb('{"connectMs":[],"firstByteMs":[]}'), /errors/);
});

test('outbound request_total: only the outbound series, every label set summed', () => {
  const text = [
    '# HELP request_total HTTP requests',
    '# TYPE request_total counter',
    'request_total{direction="outbound",src_namespace="bench-mesh",route_name="bench-b-80"} 120',
    'request_total{direction="inbound",src_namespace="bench-mesh",route_name=""} 120',
    'request_total{direction="outbound",src_namespace="bench-mesh",route_name="bench-a-81"} 5',
    'request_total_other{direction="outbound"} 99',
    'response_total{direction="outbound",status_code="200"} 125',
  ].join('\n');
  assert.equal(outboundRequests(text), 125);
  assert.equal(outboundRequests(''), 0);
});
