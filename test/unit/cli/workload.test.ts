// The test workloads on loopback (no root): the echo server's JSON view of a request, TCP echo
// with half-close, and `workload get` output and failure behaviour.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import { ROOT } from '../../../native/index.js';
import { httpGet, plainAddress, startEcho } from '../../../cli/workload.js';

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
