// The test workloads on loopback (no root): the echo server's JSON view of a request, TCP echo
// with half-close, `workload get` output and failure behaviour, streaming POST, h2c with trailers
// (node's own clients; the real-client checks are in test/integration/workloads.test.ts).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import { ROOT } from '../../../native/index.js';
import { httpGet, plainAddress, startEcho } from '../../../cli/workload.js';
import { sniffPreface } from '../../../cli/workload-http.js';

const execFileP = promisify(execFile);
const port = (s: net.Server | undefined): number => (s?.address() as net.AddressInfo).port;

test('HTTP echo answers with pod identity, client address and request', async () => {
  process.env.POD_NAME = 'server-a';
  process.env.POD_NAMESPACE = 'shop';
  process.env.POD_IP = '10.200.1.11';
  process.env.NODE_NAME = 'node-a';
  const s = await startEcho({ http: 0, host: '127.0.0.1' });
  try {
    const r = await httpGet(`http://127.0.0.1:${port(s.http)}/hello?x=1`, 2000);
    assert.equal(r.status, 200);
    const b = r.body as { pod: string; namespace: string; node: string; podIP: string; method: string; path: string; client: { address: string; port: number }; headers: Record<string, string> };
    assert.deepEqual([b.pod, b.namespace, b.node, b.podIP, b.method, b.path], ['server-a', 'shop', 'node-a', '10.200.1.11', 'GET', '/hello?x=1']);
    assert.equal(b.client.address, '127.0.0.1');
    assert.ok(b.client.port > 0);
    assert.equal(b.headers.host, `127.0.0.1:${port(s.http)}`);
    assert.ok(r.ms > 0);
  } finally {
    await s.close();
  }
});

test('TCP echo returns everything and ends its side after the client half-closes', async () => {
  const s = await startEcho({ tcp: 0, host: '127.0.0.1' });
  try {
    const got = await new Promise<string>((resolve, reject) => {
      const c = net.connect({ port: port(s.tcp), host: '127.0.0.1', allowHalfOpen: true }, () => {
        c.write('hello ');
        c.end('half-close');
      });
      let data = '';
      c.setEncoding('utf8').on('data', (d: string) => { data += d; }).on('end', () => { c.destroy(); resolve(data); }).on('error', reject);
    });
    assert.equal(got, 'hello half-close');
  } finally {
    await s.close();
  }
});

test('httpGet: transport errors and timeouts are MESH_ERR_COMMAND naming the URL', async () => {
  const dead = net.createServer();
  await new Promise<void>((r) => dead.listen(0, '127.0.0.1', () => r()));
  const p = port(dead);
  await new Promise<void>((r) => dead.close(() => r()));
  await assert.rejects(httpGet(`http://127.0.0.1:${p}/`, 2000), (e: Error & { code?: string }) => e.code === 'MESH_ERR_COMMAND' && e.message.includes(`127.0.0.1:${p}`));
  const silent = net.createServer(() => undefined);
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
  try {
    await assert.rejects(httpGet(`http://127.0.0.1:${port(silent)}/`, 200), /within 200 ms/);
  } finally {
    silent.close();
  }
});

test('`nodemesh workload get --count 3` prints one JSON line per response; a refused connection exits 1', async () => {
  const s = await startEcho({ http: 0, host: '127.0.0.1' });
  const bin = path.join(ROOT, 'bin', 'nodemesh.js');
  const p = port(s.http);
  try {
    const { stdout } = await execFileP(process.execPath, [bin, 'workload', 'get', `http://127.0.0.1:${p}/x`, '--count', '3'], { encoding: 'utf8' });
    const lines = stdout.trim().split('\n').map((l) => JSON.parse(l) as { status: number; body: { path: string } });
    assert.deepEqual(lines.map((l) => [l.status, l.body.path]), [[200, '/x'], [200, '/x'], [200, '/x']]);
  } finally {
    await s.close();
  }
  await assert.rejects(execFileP(process.execPath, [bin, 'workload', 'get', `http://127.0.0.1:${p}/`, '--timeout-ms', '2000'], { encoding: 'utf8' }),
    (e: Error & { code?: number; stderr?: string }) => e.code === 1 && /^MESH_ERR_COMMAND: GET/.test(e.stderr ?? ''));
});

test('plainAddress strips the IPv4-mapped prefix', () => {
  assert.equal(plainAddress('::ffff:10.0.0.1'), '10.0.0.1');
  assert.equal(plainAddress('10.0.0.1'), '10.0.0.1');
  assert.equal(plainAddress(undefined), '');
});

test('HTTP POST is echoed as it streams: the first chunk comes back before the request ends', async () => {
  const s = await startEcho({ http: 0, host: '127.0.0.1' });
  try {
    const got = await new Promise<{ first: string; all: string; status: number }>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: port(s.http), method: 'POST', path: '/up', headers: { 'content-type': 'text/plain' }, agent: false }, (res) => {
        let all = '';
        let first = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          if (!first) { first = d; req.end('second'); } // the request is still open when the echo arrives
          all += d;
        });
        res.on('end', () => resolve({ first, all, status: res.statusCode ?? 0 }));
      });
      req.on('error', reject);
      req.write('first-');
      req.flushHeaders();
    });
    assert.deepEqual(got, { first: 'first-', all: 'first-second', status: 200 });
  } finally {
    await s.close();
  }
});

test('h2c echo (node:http2 client): JSON with proto HTTP/2.0, POST body and trailers echoed, x-echo-set-trailer added', async () => {
  process.env.POD_NAME = 'server-a';
  const s = await startEcho({ h2c: 0, host: '127.0.0.1', version: 'v9' });
  const session = http2.connect(`http://127.0.0.1:${port(s.h2c as unknown as net.Server)}`);
  try {
    const get = await new Promise<{ headers: http2.IncomingHttpHeaders; body: string }>((resolve, reject) => {
      const r = session.request({ ':path': '/x?status=202', 'x-a': '1' });
      let body = '';
      let headers: http2.IncomingHttpHeaders = {};
      r.setEncoding('utf8').on('response', (h) => { headers = h; }).on('data', (d: string) => { body += d; }).on('end', () => resolve({ headers, body })).on('error', reject);
      r.end();
    });
    assert.equal(get.headers[':status'], 202);
    assert.equal(get.headers['x-echo-version'], 'v9');
    const b = JSON.parse(get.body) as { proto: string; path: string; version: string; conformanceHeaders: Record<string, string[]> };
    assert.deepEqual([b.proto, b.path, b.version, b.conformanceHeaders['X-A']], ['HTTP/2.0', '/x?status=202', 'v9', ['1']]);

    const post = await new Promise<{ body: string; trailers: http2.IncomingHttpHeaders }>((resolve, reject) => {
      const r = session.request({ ':method': 'POST', ':path': '/p', 'x-echo-set-trailer': 'x-added:yes' }, { waitForTrailers: true });
      let body = '';
      let trailers: http2.IncomingHttpHeaders = {};
      r.on('wantTrailers', () => r.sendTrailers({ 'x-from-client': 'abc' }));
      r.setEncoding('utf8').on('data', (d: string) => { body += d; }).on('trailers', (t) => { trailers = t; }).on('end', () => resolve({ body, trailers })).on('error', reject);
      r.end('payload');
    });
    assert.equal(post.body, 'payload');
    assert.deepEqual([post.trailers['x-from-client'], post.trailers['x-added']], ['abc', 'yes']);
  } finally {
    session.close();
    await s.close();
  }
});

test('--fail-rate with a seeded draw fails exactly the drawn requests, with --fail-status', async () => {
  const draws = [0.9, 0.1, 0.6, 0.3];
  const s = await startEcho({ http: 0, host: '127.0.0.1', fail: { rate: 0.5, every: 0, status: 502 }, random: () => draws.shift() ?? 1 });
  try {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await httpGet(`http://127.0.0.1:${port(s.http)}/`, 2000)).status);
    assert.deepEqual(statuses, [200, 502, 200, 502]);
  } finally {
    await s.close();
  }
});

test('startEcho: a taken port is MESH_ERR_LISTEN naming the server, and the servers already started are closed', async () => {
  const taken = net.createServer();
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
  const httpPort = port(probe);
  await new Promise<void>((r) => probe.close(() => r()));
  try {
    await assert.rejects(startEcho({ http: httpPort, h2c: port(taken), host: '127.0.0.1' }), (e: Error & { code?: string }) => e.code === 'MESH_ERR_LISTEN' && /echo h2c server cannot listen/.test(e.message));
    await new Promise<void>((resolve, reject) => probe.once('error', reject).listen(httpPort, '127.0.0.1', () => resolve())); // the HTTP port was released
    await new Promise<void>((r) => probe.close(() => r()));
  } finally {
    taken.close();
  }
});

test('sniffPreface: the HTTP/2 preface (or its start) is h2, anything else h1, too few bytes wait', () => {
  const rows: [string, 'h2' | 'h1' | 'more'][] = [
    ['PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'h2'], ['PRI *', 'h2'], ['PRI ', 'h2'], ['PRI', 'more'], ['P', 'more'], ['', 'more'],
    ['POST / HTTP/1.1\r\n', 'h1'], ['PUT', 'h1'], ['GET / HTTP/1.1\r\n', 'h1'], ['PRI * HTTP/1.1', 'h1'], ['\x16\x03\x01', 'h1'],
  ];
  for (const [s, want] of rows) assert.equal(sniffPreface(Buffer.from(s, 'latin1')), want, JSON.stringify(s));
});

test('the --http port also serves h2c prior knowledge (node:http2 client), and HTTP/1.1 after it', async () => {
  const s = await startEcho({ http: 0, host: '127.0.0.1' });
  const session = http2.connect(`http://127.0.0.1:${port(s.http)}`);
  try {
    const body = await new Promise<string>((resolve, reject) => {
      let b = '';
      const r = session.request({ ':path': '/auto' });
      r.setEncoding('utf8').on('data', (d: string) => { b += d; }).on('end', () => resolve(b)).on('error', reject);
      r.end();
    });
    assert.deepEqual(((j: { proto: string; path: string }) => [j.proto, j.path])(JSON.parse(body) as { proto: string; path: string }), ['HTTP/2.0', '/auto']);
    const h1 = await httpGet(`http://127.0.0.1:${port(s.http)}/one`, 2000);
    assert.equal((h1.body as { proto: string }).proto, 'HTTP/1.1');
  } finally {
    session.close();
    await s.close();
  }
});
