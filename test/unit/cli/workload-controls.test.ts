// The pure parts of the echo workloads, table-driven: echo flags (and their usage errors), the
// per-request controls, durations, set-header pairs, the flaky plan, the conformance header shape,
// HTTP→gRPC codes, the WebSocket codec and the banner's line splitting.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  canonicalHeaderName, conformanceHeaders, echoIdentity, failsAt, Flaky, grpcCodeForHttp, identityHeaders,
  parseDurationMs, parseEchoFlags, parseHeaderPairs, requestControls,
} from '../../../cli/workload-controls.js';
import { encodeFrame, OP, parseFrame, wsAccept } from '../../../cli/workload-ws.js';
import { bannerLine, takeLines } from '../../../cli/workload-banner.js';

const U = 'nodemesh workload echo ...';

test('parseEchoFlags: ports, identity flags and the flaky plan', () => {
  const rows: [string[], unknown][] = [
    [['--http', '8080'], { http: 8080 }],
    [['--http', '8080', '--tcp', '9000'], { http: 8080, tcp: 9000 }],
    [['--h2c', '8081', '--grpc', '7070'], { h2c: 8081, grpc: 7070 }],
    [['--http', '1', '--name', 'reviews', '--version', 'v2'], { http: 1, name: 'reviews', version: 'v2' }],
    [['--http', '1', '--fail-every', '3'], { http: 1, fail: { rate: 0, every: 3, status: 503 } }],
    [['--http', '1', '--fail-rate', '0.5', '--fail-status', '500'], { http: 1, fail: { rate: 0.5, every: 0, status: 500 } }],
    [['--http', '1', '--fail-rate', '1'], { http: 1, fail: { rate: 1, every: 0, status: 503 } }],
    [['--http', '1', '--fail-rate', '.25'], { http: 1, fail: { rate: 0.25, every: 0, status: 503 } }],
  ];
  for (const [argv, want] of rows) assert.deepEqual(parseEchoFlags(argv, U), want, argv.join(' '));
});

test('parseEchoFlags: every mistake is MESH_ERR_USAGE saying what to give', () => {
  const rows: [string[], RegExp][] = [
    [[], /give at least one of --http PORT/],
    [['--name', 'x'], /give at least one of/],
    [['--http', '0'], /--http must be an integer in 1\.\.65535/],
    [['--grpc', '70000'], /--grpc must be an integer/],
    [['--http', '8080', '--h2c', '8080'], /--http and --h2c both ask for port 8080/],
    [['--http', '1', '--fail-rate', '1.5'], /--fail-rate must be a fraction in 0\.\.1/],
    [['--http', '1', '--fail-rate', 'half'], /--fail-rate must be a fraction/],
    [['--http', '1', '--fail-rate', '0.5', '--fail-every', '2'], /not both/],
    [['--http', '1', '--fail-status', '503'], /--fail-status needs --fail-rate or --fail-every/],
    [['--http', '1', '--fail-every', '2', '--fail-status', '200'], /--fail-status must be an integer in 400\.\.599/],
    [['--http', '1', '--fail-every', '0'], /--fail-every must be an integer in 1\.\./],
    [['--http', '1', '--version', 'v 2'], /--version must be 1-63 letters/],
    [['--http', '1', '--bogus'], /unknown option '--bogus'/],
  ];
  for (const [argv, re] of rows) {
    assert.throws(() => parseEchoFlags(argv, U), (e: Error & { code?: string }) => e.code === 'MESH_ERR_USAGE' && re.test(e.message) && e.message.includes(`usage: ${U}`), argv.join(' '));
  }
});

test('echoIdentity: pod env, service/version from flags over env', () => {
  const env = { POD_NAME: 'p', POD_NAMESPACE: 'ns', NODE_NAME: 'n1', POD_IP: '10.0.0.1', SERVICE_NAME: 'reviews', SERVICE_VERSION: 'v1' };
  assert.deepEqual(echoIdentity(env, 'h'), { pod: 'p', namespace: 'ns', node: 'n1', podIP: '10.0.0.1', service: 'reviews', version: 'v1' });
  assert.deepEqual(echoIdentity(env, 'h', { version: 'v2', name: 'ratings' }), { pod: 'p', namespace: 'ns', node: 'n1', podIP: '10.0.0.1', service: 'ratings', version: 'v2' });
  assert.deepEqual(echoIdentity({}, 'host-1'), { pod: 'host-1', namespace: '', node: '', podIP: '', service: '', version: '' });
  assert.deepEqual(identityHeaders(echoIdentity({}, 'host-1')), { 'x-echo-pod': 'host-1' });
  assert.deepEqual(identityHeaders(echoIdentity(env, 'h')), { 'x-echo-pod': 'p', 'x-echo-namespace': 'ns', 'x-echo-service': 'reviews', 'x-echo-version': 'v1' });
});

test('parseDurationMs: Go durations and bare milliseconds', () => {
  const rows: [string, number | undefined][] = [
    ['200ms', 200], ['1s', 1000], ['1.5s', 1500], ['2m', 120_000], ['1m30s', 90_000], ['1h', 3_600_000],
    ['250', 250], ['0', 0], ['500us', 1], ['100ns', 0], [' 10ms ', 10],
    ['', undefined], ['ms', undefined], ['-1s', undefined], ['1d', undefined], ['1.s', undefined], ['abc', undefined], ['1s2', undefined],
  ];
  for (const [s, want] of rows) assert.equal(parseDurationMs(s), want, JSON.stringify(s));
});

test('parseHeaderPairs: comma lists, repeats, the name kept as written; malformed pairs throw', () => {
  assert.deepEqual(parseHeaderPairs(['X-A:1, x-b: two words', 'x-a:3'], 'h'), [['X-A', '1'], ['x-b', 'two words'], ['x-a', '3']]);
  assert.deepEqual(parseHeaderPairs(['a:'], 'h'), [['a', '']]);
  assert.deepEqual(parseHeaderPairs([' , '], 'h'), []);
  assert.throws(() => parseHeaderPairs(['novalue'], 'x-echo-set-header'), /x-echo-set-header "novalue" must be name:value/);
  assert.throws(() => parseHeaderPairs(['bad name:1'], 'h'), /must be name:value/);
});

test('requestControls: query and header controls; the header wins; bad values say what to send', () => {
  const hdr = (h: Record<string, string | string[]>) => (n: string) => h[n];
  const ok = (query: string, h: Record<string, string | string[]> = {}) => {
    const r = requestControls(query, hdr(h));
    assert.ok(r.ok, `${query} ${JSON.stringify(h)}: ${r.ok ? '' : r.error}`);
    return r.controls;
  };
  assert.deepEqual(ok(''), { setHeaders: [], setTrailers: [] });
  assert.deepEqual(ok('status=503'), { status: 503, setHeaders: [], setTrailers: [] });
  assert.deepEqual(ok('delay=200ms&x=1'), { delayMs: 200, setHeaders: [], setTrailers: [] });
  assert.deepEqual(ok('body-delay=2s'), { bodyDelayMs: 2000, setHeaders: [], setTrailers: [] });
  assert.deepEqual(ok('body-delay=2s', { 'x-echo-body-delay': '300' }), { bodyDelayMs: 300, setHeaders: [], setTrailers: [] });
  assert.deepEqual(ok('status=503', { 'x-echo-status': '429' }), { status: 429, setHeaders: [], setTrailers: [] });
  assert.deepEqual(ok('', { 'x-echo-delay': '1.5s', 'x-echo-set-header': ['a:1,b:2', 'a:3'], 'x-echo-set-trailer': 'grpc-status:0' }),
    { delayMs: 1500, setHeaders: [['a', '1'], ['b', '2'], ['a', '3']], setTrailers: [['grpc-status', '0']] });
  const bad: [string, Record<string, string>, RegExp][] = [
    ['status=abc', {}, /status "abc" must be an HTTP status code in 200\.\.599/],
    ['status=99', {}, /200\.\.599/],
    ['status=600', {}, /200\.\.599/],
    ['', { 'x-echo-status': '1xx' }, /x-echo-status: 503/],
    ['delay=soon', {}, /delay "soon" must be a duration/],
    ['delay=11m', {}, /up to 10m/],
    ['body-delay=later', {}, /body-delay "later" must be a duration/],
    ['', { 'x-echo-set-header': 'oops' }, /x-echo-set-header "oops"/],
  ];
  for (const [q, h, re] of bad) {
    const r = requestControls(q, hdr(h));
    assert.ok(!r.ok && re.test(r.error), `${q} ${JSON.stringify(h)} → ${JSON.stringify(r)}`);
  }
});

test('failsAt and Flaky: --fail-every is deterministic, --fail-rate follows the draw', () => {
  const every = { rate: 0, every: 3, status: 503 };
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map((n) => failsAt(every, n, 0)), [false, false, true, false, false, true, false]);
  const rate = { rate: 0.5, every: 0, status: 503 };
  assert.deepEqual([0, 0.49, 0.5, 0.99].map((u) => failsAt(rate, 1, u)), [true, true, false, false]);
  assert.equal(failsAt(undefined, 3, 0), false);
  assert.equal(failsAt({ rate: 0, every: 0, status: 503 }, 1, 0), false);
  const f = new Flaky(every);
  assert.deepEqual(Array.from({ length: 6 }, () => f.next()), [false, false, true, false, false, true]);
  assert.equal(f.describe(), '--fail-every 3');
  const draws = [0.9, 0.1, 0.7, 0.2];
  const g = new Flaky(rate, () => draws.shift()!);
  assert.deepEqual([g.next(), g.next(), g.next(), g.next()], [false, true, false, true]);
  assert.equal(new Flaky(undefined).next(), false);
  // count: every request, with or without a plan (the echo's x-echo-requests)
  assert.equal(f.count, 6);
  const none = new Flaky(undefined);
  none.next();
  none.next();
  assert.equal(none.count, 2);
});

test('conformance headers: Go canonical names, every value separately, pseudo-headers left out', () => {
  const rows: [string, string][] = [['x-forwarded-for', 'X-Forwarded-For'], ['host', 'Host'], ['X-ECHO-SET-HEADER', 'X-Echo-Set-Header'], ['content-md5', 'Content-Md5'], ['bad name', 'bad name']];
  for (const [n, want] of rows) assert.equal(canonicalHeaderName(n), want);
  assert.deepEqual(conformanceHeaders([':authority', 'a', 'host', 'h:1', 'x-a', '1', 'X-A', '2', 'user-agent', 'curl']),
    { Host: ['h:1'], 'X-A': ['1', '2'], 'User-Agent': ['curl'] });
});

test('grpcCodeForHttp follows the gRPC HTTP mapping', () => {
  const rows: [number, number][] = [[400, 13], [401, 16], [403, 7], [404, 12], [429, 14], [502, 14], [503, 14], [504, 14], [500, 2], [418, 2]];
  for (const [h, g] of rows) assert.equal(grpcCodeForHttp(h), g, String(h));
});

test('WebSocket: the RFC 6455 accept key, frames round-trip, masking, lengths and errors', () => {
  assert.equal(wsAccept('dGhlIHNhbXBsZSBub25jZQ=='), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo='); // RFC 6455 §1.3
  const mask = Buffer.from([1, 2, 3, 4]);
  for (const len of [0, 5, 125, 126, 65535, 65536, 70000]) {
    const payload = Buffer.alloc(len, 0x61);
    for (const m of [undefined, mask]) {
      const wire = encodeFrame(OP.binary, payload, { ...(m ? { mask: m } : {}) });
      const r = parseFrame(wire);
      assert.equal(r.kind, 'frame', `len ${len}`);
      if (r.kind !== 'frame') continue;
      assert.equal(r.size, wire.length);
      assert.deepEqual([r.frame.fin, r.frame.opcode, r.frame.masked], [true, OP.binary, m !== undefined]);
      assert.ok(r.frame.payload.equals(payload));
      assert.equal(parseFrame(wire.subarray(0, wire.length - 1)).kind, 'more');
    }
  }
  const hello = encodeFrame(OP.text, Buffer.from('Hello'), { mask: Buffer.from([0x37, 0xfa, 0x21, 0x3d]) });
  assert.equal(hello.toString('hex'), '818537fa213d7f9f4d5158'); // RFC 6455 §5.7 masked "Hello"
  assert.equal(encodeFrame(OP.text, Buffer.from('Hello')).toString('hex'), '810548656c6c6f');
  const frag = parseFrame(encodeFrame(OP.text, Buffer.from('Hel'), { fin: false, mask }));
  assert.ok(frag.kind === 'frame' && !frag.frame.fin);
  const errors: [Buffer, number][] = [
    [Buffer.from([0xc1, 0x80, 0, 0, 0, 0]), 1002], // RSV1 without an extension
    [Buffer.from([0x83, 0x80, 0, 0, 0, 0]), 1002], // opcode 3 is reserved
    [Buffer.from([0x09, 0x80, 0, 0, 0, 0]), 1002], // fragmented ping
    [Buffer.concat([Buffer.from([0x89, 0xfe, 0x00, 0x7e]), Buffer.alloc(130)]), 1002], // ping over 125 bytes
    [Buffer.from([0x82, 0xff, 0, 0, 0, 0, 0x10, 0, 0, 0]), 1009], // 256 MiB frame
  ];
  for (const [wire, code] of errors) {
    const r = parseFrame(wire);
    assert.ok(r.kind === 'error' && r.closeCode === code, `${wire.toString('hex')} → ${JSON.stringify(r)}`);
  }
  assert.deepEqual(parseFrame(Buffer.from([0x81])), { kind: 'more' });
});

test('banner: greeting line and line splitting across chunks', () => {
  assert.equal(bannerLine('db-0'), '220 db-0 nodemesh-banner ready\r\n');
  assert.equal(bannerLine('db-0', 'ESMTP ok'), '220 db-0 ESMTP ok\r\n');
  assert.deepEqual(takeLines('', 'a\r\nb\n'), { lines: ['a\r\n', 'b\n'], rest: '' });
  assert.deepEqual(takeLines('he', 'llo\nwor'), { lines: ['hello\n'], rest: 'wor' });
  assert.deepEqual(takeLines('', 'no newline'), { lines: [], rest: 'no newline' });
  const long = takeLines('', 'x'.repeat(64 * 1024 + 1));
  assert.deepEqual([long.lines.length, long.rest], [1, '']);
});
