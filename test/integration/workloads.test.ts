// The test workloads against real clients, no root: echo servers on 127.0.0.1 port 0 checked with
// curl (HTTP/1.1 and --http2-prior-knowledge), nghttp (h2c trailers), grpcurl from build/tools/bin
// (list, describe, calls, health), fortio and h2spec from there too, undici's WebSocket (node
// --experimental-websocket) and the banner.
// A missing tool is a visible skip locally and a failure under CI=true, as the kube tier does.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { MeshError } from '../../common/errors.js';
import { ROOT } from '../../native/index.js';
import { startEcho } from '../../cli/workload.js';
import { startBanner } from '../../cli/workload-banner.js';

const execFileP = promisify(execFile);
const TOOLS_BIN = path.join(ROOT, 'build', 'tools', 'bin');
const GRPCURL = path.join(TOOLS_BIN, 'grpcurl');

function onPath(tool: string): boolean {
  return (process.env.PATH ?? '').split(':').some((d) => d && existsSync(path.join(d, tool)));
}

/** false when the tools are there; else the skip message (a MESH_ERR_* failure under CI=true). */
function gate(tools: readonly { name: string; ok: boolean; fix: string; code: 'MESH_ERR_NOT_BUILT' | 'MESH_ERR_NO_TOOL' }[]): string | false {
  const missing = tools.filter((t) => !t.ok);
  if (missing.length === 0) return false;
  const msg = missing.map((t) => `${t.name} is missing: ${t.fix}`).join('; ');
  if (process.env.CI === 'true') throw new MeshError(missing[0]!.code, msg);
  return msg;
}
const apt = (name: string) => ({ name, ok: onPath(name), fix: 'run npm run setup (Debian packages)', code: 'MESH_ERR_NO_TOOL' as const });
const curlSkip = gate([apt('curl')]);
const nghttpSkip = gate([apt('nghttp')]);
const built = (tool: string) => ({ name: path.join(TOOLS_BIN, tool), ok: existsSync(path.join(TOOLS_BIN, tool)), fix: 'run bash scripts/build-tools.sh', code: 'MESH_ERR_NOT_BUILT' as const });
const grpcurlSkip = gate([built('grpcurl')]);
const fortioSkip = gate([built('fortio')]);
const h2specSkip = gate([built('h2spec')]);

const port = (s: net.Server | undefined): number => (s?.address() as net.AddressInfo).port;

async function run(cmd: string, args: readonly string[], opts: { allowFail?: boolean; input?: string } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = execFile(cmd, [...args], { encoding: 'utf8', timeout: 20_000 }, (e, stdout, stderr) => {
      const code = e ? (typeof (e as { code?: unknown }).code === 'number' ? (e as { code: number }).code : -1) : 0;
      if (code !== 0 && !opts.allowFail) reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${stderr}`));
      else resolve({ code, stdout, stderr });
    });
    if (opts.input !== undefined) p.stdin?.end(opts.input);
  });
}

/** curl -i output → status, lowercase headers, body (the last response of the exchange). */
function parseCurl(out: string): { status: number; headers: Record<string, string>; body: string } {
  const i = out.lastIndexOf('\r\n\r\n');
  const head = out.slice(0, i).split('\r\n\r\n').at(-1)!.split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of head.slice(1)) {
    const c = l.indexOf(':');
    headers[l.slice(0, c).toLowerCase()] = l.slice(c + 1).trim();
  }
  return { status: Number(head[0]!.split(' ')[1]), headers, body: out.slice(i + 4) };
}

process.env.POD_NAME = 'echo-v2-abc';
process.env.POD_NAMESPACE = 'shop';
process.env.NODE_NAME = 'n1';
process.env.POD_IP = '10.200.1.5';

test('HTTP/1.1 with curl: the conformance fields, status, delay and set-header controls, POST streamed back', { skip: curlSkip }, async () => {
  const s = await startEcho({ http: 0, host: '127.0.0.1', name: 'reviews', version: 'v2' });
  const base = `http://127.0.0.1:${port(s.http)}`;
  try {
    const a = parseCurl((await run('curl', ['-sS', '-i', '-H', 'X-Multi: 1', '-H', 'X-Multi: 2', `${base}/a/b?x=1`])).stdout);
    assert.equal(a.status, 200);
    const b = JSON.parse(a.body) as Record<string, unknown> & { headers: Record<string, string>; conformanceHeaders: Record<string, string[]> };
    assert.deepEqual([b.pod, b.namespace, b.node, b.podIP, b.service, b.version, b.method, b.path, b.proto, b.host],
      ['echo-v2-abc', 'shop', 'n1', '10.200.1.5', 'reviews', 'v2', 'GET', '/a/b?x=1', 'HTTP/1.1', `127.0.0.1:${port(s.http)}`]);
    assert.equal(b.headers['x-multi'], '1, 2');
    assert.deepEqual(b.conformanceHeaders['X-Multi'], ['1', '2']);
    assert.match(b.conformanceHeaders['User-Agent']![0]!, /^curl\//);
    assert.deepEqual([a.headers['x-echo-pod'], a.headers['x-echo-service'], a.headers['x-echo-version']], ['echo-v2-abc', 'reviews', 'v2']);

    const st = parseCurl((await run('curl', ['-sS', '-i', `${base}/?status=503`])).stdout);
    assert.equal(st.status, 503);
    assert.equal((JSON.parse(st.body) as { path: string }).path, '/?status=503');
    assert.equal(parseCurl((await run('curl', ['-sS', '-i', '-H', 'x-echo-status: 429', `${base}/?status=503`])).stdout).status, 429);

    const sh = parseCurl((await run('curl', ['-sS', '-i', '-H', 'x-echo-set-header: X-Route:canary, x-other: a b', `${base}/`])).stdout);
    assert.deepEqual([sh.headers['x-route'], sh.headers['x-other']], ['canary', 'a b']);

    const t0 = Date.now();
    assert.equal(parseCurl((await run('curl', ['-sS', '-i', `${base}/?delay=300ms`])).stdout).status, 200);
    assert.ok(Date.now() - t0 >= 290, `delay=300ms answered after ${Date.now() - t0} ms`);
    const cut = await run('curl', ['-sS', '-o', '/dev/null', '--max-time', '0.3', `${base}/?delay=5s`], { allowFail: true });
    assert.equal(cut.code, 28, 'curl times out on a 5 s delay (a backend that hangs)');

    const bad = parseCurl((await run('curl', ['-sS', '-i', `${base}/?delay=forever`])).stdout);
    assert.equal(bad.status, 400);
    assert.match((JSON.parse(bad.body) as { message: string }).message, /delay "forever" must be a duration/);

    const big = 'x'.repeat(300_000);
    const post = await run('curl', ['-sS', '-i', '--data-binary', '@-', '-H', 'content-type: text/plain', `${base}/upload`], { input: big });
    const p = parseCurl(post.stdout);
    assert.deepEqual([p.status, p.headers['content-type'], p.headers['transfer-encoding'], p.body.length], [200, 'text/plain', 'chunked', big.length]);
    assert.equal(p.body, big);
  } finally {
    await s.close();
  }
});

test('h2c with curl --http2-prior-knowledge and nghttp: proto HTTP/2.0, :authority as host, trailers both ways', { skip: curlSkip || nghttpSkip }, async () => {
  const s = await startEcho({ h2c: 0, http: 0, host: '127.0.0.1', version: 'v1' });
  const base = `http://127.0.0.1:${port(s.h2c)}`;
  try {
    const auto = parseCurl((await run('curl', ['-sS', '-i', '--http2-prior-knowledge', `http://127.0.0.1:${port(s.http)}/same-port`])).stdout);
    assert.equal((JSON.parse(auto.body) as { proto: string }).proto, 'HTTP/2.0', 'the --http port serves h2c prior knowledge too');
    const r = parseCurl((await run('curl', ['-sS', '-i', '--http2-prior-knowledge', `${base}/grpc-ish?status=201`])).stdout);
    assert.equal(r.status, 201);
    const b = JSON.parse(r.body) as { proto: string; host: string; method: string; version: string; headers: Record<string, string> };
    assert.deepEqual([b.proto, b.host, b.method, b.version], ['HTTP/2.0', `127.0.0.1:${port(s.h2c)}`, 'GET', 'v1']);
    assert.ok(!Object.keys(b.headers).some((k) => k.startsWith(':')), 'pseudo-headers are not reported as headers');

    const dir = mkdtempSync(path.join(os.tmpdir(), 'nm-h2c-'));
    writeFileSync(path.join(dir, 'body'), 'hello over h2c');
    const n = await run('nghttp', ['-v', '-d', path.join(dir, 'body'), '--trailer=x-req-trailer: from-client', '-H', 'x-echo-set-trailer: x-res-trailer:from-echo', `${base}/post`]);
    assert.match(n.stdout, /hello over h2c/, 'the POST body comes back');
    const trailers = n.stdout.slice(n.stdout.indexOf('hello over h2c'));
    // nghttp prints a header block's fields, then its frame: the trailers are the block after the DATA
    assert.match(trailers, /recv DATA frame[^]*recv \(stream_id=\d+\) x-req-trailer: from-client[^]*recv HEADERS frame[^\n]*\n\s*; END_STREAM/, 'request trailers come back as trailers');
    assert.match(trailers, /recv \(stream_id=\d+\) x-res-trailer: from-echo/);
  } finally {
    await s.close();
  }
});

test('gRPC with grpcurl: reflection list and describe, Echo with identity and trailers, ServerStream, Fail, health', { skip: grpcurlSkip }, async () => {
  const s = await startEcho({ grpc: 0, host: '127.0.0.1', name: 'reviews', version: 'v2' });
  const addr = `127.0.0.1:${s.grpcPort}`;
  const g = (...a: string[]) => run(GRPCURL, ['-plaintext', ...a]);
  try {
    const list = (await g(addr, 'list')).stdout.trim().split('\n');
    for (const svc of ['grpc.health.v1.Health', 'nodemesh.echo.v1.Echo']) assert.ok(list.includes(svc), `list has ${svc}: ${list.join(',')}`);
    const desc = (await g(addr, 'describe', 'nodemesh.echo.v1.Echo')).stdout;
    for (const m of ['rpc Echo', 'rpc ServerStream', 'returns ( stream .nodemesh.echo.v1.EchoResponse )', 'rpc Fail']) assert.ok(desc.includes(m), `describe has ${m}:\n${desc}`);

    const e = await g('-v', '-H', 'x-canary: yes', '-d', '{"message":"hi"}', addr, 'nodemesh.echo.v1.Echo/Echo');
    const body = JSON.parse(e.stdout.slice(e.stdout.indexOf('{'), e.stdout.lastIndexOf('}') + 1)) as Record<string, unknown> & { headers: { key: string; value: string }[] };
    assert.deepEqual([body.message, body.pod, body.namespace, body.service, body.version, body.fullyQualifiedMethod, body.authority],
      ['hi', 'echo-v2-abc', 'shop', 'reviews', 'v2', '/nodemesh.echo.v1.Echo/Echo', addr]);
    assert.ok(body.headers.some((h) => h.key === 'x-canary' && h.value === 'yes'));
    assert.match(String(body.client), /^127\.0\.0\.1:\d+$/);
    const trailerPart = e.stdout.slice(e.stdout.indexOf('Response trailers received'));
    assert.match(trailerPart, /x-echo-version: v2/);
    assert.match(trailerPart, /x-echo-pod: echo-v2-abc/);

    const warnings: string[] = [];
    const onWarning = (w: Error): void => { warnings.push(w.name); };
    process.on('warning', onWarning);
    const st = await run(GRPCURL, ['-plaintext', '-d', '{"message":"s","count":30,"intervalMs":2}', addr, 'nodemesh.echo.v1.Echo/ServerStream']);
    await new Promise((r) => setImmediate(r));
    process.off('warning', onWarning);
    const seqs = [...st.stdout.matchAll(/"sequence": (\d+)/g)].map((m) => Number(m[1]));
    assert.deepEqual(seqs, Array.from({ length: 30 }, (_, i) => i + 1));
    assert.ok(!warnings.includes('MaxListenersExceededWarning'), 'a long stream leaks no cancel listeners');

    const f = await run(GRPCURL, ['-plaintext', '-d', '{"code":5,"message":"no such thing"}', addr, 'nodemesh.echo.v1.Echo/Fail'], { allowFail: true });
    assert.notEqual(f.code, 0);
    assert.match(f.stderr, /Code: NotFound\s+Message: no such thing/);

    assert.match((await g('-d', '{"service":""}', addr, 'grpc.health.v1.Health/Check')).stdout, /"status": "SERVING"/);
    assert.match((await g('-d', '{"service":"nodemesh.echo.v1.Echo"}', addr, 'grpc.health.v1.Health/Check')).stdout, /"status": "SERVING"/);
    const unknown = await run(GRPCURL, ['-plaintext', '-d', '{"service":"nope"}', addr, 'grpc.health.v1.Health/Check'], { allowFail: true });
    assert.match(unknown.stderr, /Code: NotFound/);
  } finally {
    await s.close();
  }
});

test('gRPC health Watch sees SERVING, then NOT_SERVING when the echo shuts down', { skip: grpcurlSkip }, async () => {
  const s = await startEcho({ grpc: 0, host: '127.0.0.1' });
  const w = spawn(GRPCURL, ['-plaintext', '-d', '{"service":""}', `127.0.0.1:${s.grpcPort}`, 'grpc.health.v1.Health/Watch'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  w.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
  const exited = new Promise<void>((r) => w.once('exit', () => r()));
  try {
    for (let i = 0; i < 100 && !out.includes('SERVING'); i++) await new Promise((r) => setTimeout(r, 50));
    assert.match(out, /"status": "SERVING"/);
    await s.close();
    await exited;
    assert.match(out, /"status": "NOT_SERVING"/);
  } finally {
    w.kill();
    await s.close();
  }
});

test('WebSocket echo with undici\'s client: a real 101 handshake, text and binary frames echoed, close answered', async () => {
  const s = await startEcho({ http: 0, host: '127.0.0.1' });
  const url = `ws://127.0.0.1:${port(s.http)}/ws`;
  const client = `
    const ws = new WebSocket(${JSON.stringify(url)});
    ws.binaryType = 'arraybuffer';
    const got = [];
    ws.onopen = () => { ws.send('hello'); ws.send(new Uint8Array(70000).fill(7)); };
    ws.onmessage = (m) => {
      got.push(typeof m.data === 'string' ? m.data : 'bin:' + m.data.byteLength + ':' + new Uint8Array(m.data)[69999]);
      if (got.length === 2) ws.close(1000, 'done');
    };
    ws.onclose = (c) => { console.log(JSON.stringify({ got, code: c.code })); };
    ws.onerror = (e) => { console.error('ws error', e.message); process.exit(1); };`;
  try {
    const { stdout } = await execFileP(process.execPath, ['--experimental-websocket', '--no-warnings', '-e', client], { encoding: 'utf8', timeout: 10_000 });
    assert.deepEqual(JSON.parse(stdout), { got: ['hello', 'bin:70000:7'], code: 1000 });
  } finally {
    await s.close();
  }
});

test('WebSocket handshake by hand: the RFC 6455 sample key, the RFC\'s masked "Hello" comes back unmasked', async () => {
  const s = await startEcho({ http: 0, host: '127.0.0.1' });
  try {
    const c = net.connect(port(s.http), '127.0.0.1');
    let data = Buffer.alloc(0);
    c.on('data', (d: Buffer) => { data = Buffer.concat([data, d]); });
    await new Promise((r) => c.once('connect', r));
    c.write('GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
    c.write(Buffer.from('818537fa213d7f9f4d5158', 'hex')); // RFC 6455 §5.7: a masked text frame "Hello"
    for (let i = 0; i < 100 && !data.includes(Buffer.from('810548656c6c6f', 'hex')); i++) await new Promise((r) => setTimeout(r, 20));
    const text = data.toString('latin1');
    assert.match(text, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
    assert.match(text, /sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=\r\n/i);
    assert.match(text, /x-echo-pod: echo-v2-abc\r\n/);
    assert.ok(data.subarray(data.indexOf('\r\n\r\n') + 4).equals(Buffer.from('810548656c6c6f', 'hex')), 'the echo is an unmasked text frame "Hello"');
    c.destroy();
    const bad = await run('curl', ['-sS', '-i', '-H', 'Upgrade: websocket', '-H', 'Connection: Upgrade', `http://127.0.0.1:${port(s.http)}/`], { allowFail: true });
    if (!curlSkip) assert.match(bad.stdout, /^HTTP\/1\.1 400 /, 'a websocket upgrade without a key is refused');
  } finally {
    await s.close();
  }
});

test('banner: the greeting arrives before the client sends anything; lines are echoed; QUIT closes', async () => {
  const b = await startBanner({ port: 0, host: '127.0.0.1' });
  try {
    const c = net.connect(port(b.server), '127.0.0.1');
    c.setEncoding('utf8');
    let got = '';
    c.on('data', (d: string) => { got += d; });
    for (let i = 0; i < 100 && !got.includes('\r\n'); i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(got, '220 echo-v2-abc nodemesh-banner ready\r\n');
    c.write('HELO x\r\npart');
    c.write('ial\r\nQUIT\r\n');
    await new Promise((r) => c.once('end', r));
    assert.equal(got, '220 echo-v2-abc nodemesh-banner ready\r\nHELO x\r\npartial\r\n221 echo-v2-abc bye\r\n');
    c.destroy();
  } finally {
    await b.close();
  }
});

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const p = port(s);
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

test('`nodemesh workload echo --fail-every 2` over the CLI: every second request fails with --fail-status, SIGTERM exits 0', { skip: curlSkip }, async () => {
  const p = await freePort();
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'nodemesh.js'), 'workload', 'echo', '--http', String(p), '--version', 'v3', '--fail-every', '2', '--fail-status', '500'],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SERVICE_NAME: 'ratings' } });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
  const exit = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  try {
    for (let i = 0; i < 200 && !out.includes('listening'); i++) await new Promise((r) => setTimeout(r, 25));
    assert.match(out, new RegExp(`listening http=${p} version=v3 fail-every=2 fail-status=500`));
    const codes: number[] = [];
    let failedBody = '';
    for (let i = 0; i < 4; i++) {
      const r = parseCurl((await run('curl', ['-sS', '-i', `http://127.0.0.1:${p}/`])).stdout);
      codes.push(r.status);
      if (r.status === 500) failedBody = r.body;
      else assert.deepEqual([(JSON.parse(r.body) as { service: string }).service, r.headers['x-echo-version']], ['ratings', 'v3']);
    }
    assert.deepEqual(codes, [200, 500, 200, 500]);
    assert.match(failedBody, /injected failure \(--fail-every 2\)/);
  } finally {
    child.kill('SIGTERM');
  }
  assert.equal(await exit, 0);
});

test('fortio load against a --fail-every 4 echo: exactly a quarter of the calls are 503 (the flaky endpoint under a real load tool)', { skip: fortioSkip }, async () => {
  const s = await startEcho({ http: 0, host: '127.0.0.1', fail: { rate: 0, every: 4, status: 503 } });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'nm-fortio-'));
  try {
    await run(path.join(TOOLS_BIN, 'fortio'), ['load', '-quiet', '-c', '2', '-n', '40', '-qps', '0', '-json', path.join(dir, 'r.json'), `http://127.0.0.1:${port(s.http)}/`]);
    const r = JSON.parse(readFileSync(path.join(dir, 'r.json'), 'utf8')) as { RetCodes: Record<string, number> };
    assert.deepEqual(r.RetCodes, { 200: 30, 503: 10 });
  } finally {
    await s.close();
  }
});

test('h2spec runs against the h2c echo (a baseline: node:http2 itself misses a few MUSTs, the proxy is what h2spec must pass)', { skip: h2specSkip }, async () => {
  const s = await startEcho({ h2c: 0, host: '127.0.0.1' });
  try {
    const r = await run(path.join(TOOLS_BIN, 'h2spec'), ['-h', '127.0.0.1', '-p', String(port(s.h2c)), '-o', '1'], { allowFail: true });
    const m = /(\d+) tests, (\d+) passed, (\d+) skipped, (\d+) failed/.exec(r.stdout);
    assert.ok(m, `h2spec printed its summary:\n${r.stdout.slice(-2000)}`);
    const [total, passed] = [Number(m[1]), Number(m[2])];
    assert.ok(total >= 140 && passed >= total - 15, `h2spec: ${m[0]}`);
  } finally {
    await s.close();
  }
});

test('echo close(): an idle keep-alive connection is closed too, and x-echo-requests counts every request', async () => {
  const echo = await startEcho({ http: 0, host: '127.0.0.1' });
  const p = port(echo.http);
  const sock = net.connect(p, '127.0.0.1');
  await new Promise<void>((r) => sock.once('connect', () => r()));
  let text = '';
  sock.on('data', (d: Buffer) => { text += d.toString('latin1'); });
  const ended = new Promise<void>((r) => sock.once('close', () => r()));
  sock.write('GET /a HTTP/1.1\r\nhost: x\r\n\r\nGET /b HTTP/1.1\r\nhost: x\r\n\r\n');
  const t0 = Date.now();
  while (!/x-echo-requests: 2\r\n/i.test(text) && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 10));
  assert.match(text, /x-echo-requests: 1\r\n[\s\S]*x-echo-requests: 2\r\n/i);
  await echo.close(); // resolves only once the kept-alive connection is gone
  await ended;
  assert.equal(sock.destroyed, true);
});
