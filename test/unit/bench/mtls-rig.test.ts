// The HAProxy-TLS contender's pieces: the TLS words of the generated config (TLS 1.3 only, peer
// verified both ways, stats socket), the forwards of the four instances, the relay ports, the cell
// command lines, handshake deltas, the C tools' cc line and the per-run certificates (openssl).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cellArgv, handshakeDelta, type CellConfig, type Target } from '../../../bench/cells.js';
import { haproxyConfig, relayPort } from '../../../bench/haproxy.js';
import { ECHO_PORT, forwards } from '../../../bench/setup.js';
import { leafExtensions, makeTlsMaterial } from '../../../bench/tls.js';
import { ccArgs } from '../../../bench/tools.js';

const TLS = { caPem: '/t/ca.crt', certA: '/t/node-a.pem', certB: '/t/node-b.pem' };
const f = forwards({ gatewayA: '10.200.1.1', uplinkB: '10.199.0.2', plainA: '10.200.1.13', plainB: '10.200.2.10' }, TLS);

test('TLS forwards: node-a dials TLS with its cert and checks node-b; node-b accepts TLS and requires a client cert', () => {
  const a = haproxyConfig(f.tlsA, { threads: 2, statsSocket: '/t/a.sock' }).split('\n');
  const b = haproxyConfig(f.tlsB, { threads: 2 }).split('\n');
  assert.ok(a.includes('    stats socket /t/a.sock mode 600 level admin'));
  assert.ok(!b.some((l) => l.includes('stats socket')), 'no stats socket unless asked');
  const i = a.indexOf('listen tls-echo');
  assert.deepEqual(a.slice(i, i + 3), ['listen tls-echo', '    bind 10.200.1.1:10007',
    '    server s1 10.199.0.2:10007 ssl crt /t/node-a.pem ca-file /t/ca.crt verify required ssl-min-ver TLSv1.3 verifyhost node-b']);
  const j = b.indexOf('listen tls-echo');
  assert.deepEqual(b.slice(j, j + 3), ['listen tls-echo', '    bind 10.199.0.2:10007 ssl crt /t/node-b.pem ca-file /t/ca.crt verify required ssl-min-ver TLSv1.3',
    `    server s1 10.200.2.10:${ECHO_PORT}`]);
  assert.throws(() => haproxyConfig([{ ...f.tlsA[0]!, tls: { mode: 'connect', certKeyPem: 'rel.pem', caPem: '/t/ca.crt' } }], { threads: 1 }), /absolute path/);
  assert.throws(() => haproxyConfig(f.tlsA, { threads: 1, statsSocket: '/t/a b.sock' }), /stats socket/);
});

test('plain forwards keep their ports; the plain pair carries the echo port too; no TLS words in them', () => {
  assert.deepEqual(f.plainA.map((x) => x.bind.split(':')[1]), ['21111', '31111', '25201', '35201', '20007', '30007']);
  assert.deepEqual(f.plainB.map((x) => x.target), ['10.200.2.10:11111', '10.200.2.10:5201', '10.200.2.10:7']);
  assert.ok(!/ssl/.test(haproxyConfig([...f.plainA], { threads: 2 })));
});

test('relay ports: 1xxxx TLS, 2xxxx same node, 3xxxx cross node; the TLS and echo ones below the ephemeral range', () => {
  const cases = [['tls', 11111, 11111], ['tls', 5201, 15201], ['tls', 7, 10007], ['same', 7, 20007], ['cross', 7, 30007]] as const;
  for (const [k, p, want] of cases) assert.equal(relayPort(k, p), want, `${k} ${p}`);
  for (const p of [11111, 5201, ECHO_PORT]) assert.ok(relayPort('tls', p) < 32768);
  for (const k of ['same', 'cross', 'tls'] as const) assert.ok(relayPort(k, ECHO_PORT) < 32768);
});

test('cell command lines: sockperf at the base or the high rate, iperf3, connrate', () => {
  const cfg: CellConfig = { seconds: 5, pingpongSeconds: 2, rate: 1000, highRate: 10000, msgSize: 1024, connParallel: 16 };
  const t: Target = { contender: 'haproxy-tls', path: 'cross', hops: 2, client: 'bench-plain/client', ip: '10.200.1.1', sockperfPort: 11111, iperfPort: 15201, echoPort: 10007 };
  assert.ok(cellArgv('latency', t, cfg).includes('--mps=1000'));
  assert.ok(cellArgv('latency-hi', t, cfg).includes('--mps=10000'));
  assert.ok(cellArgv('pingpong', t, cfg).includes('--mps=max'));
  assert.deepEqual(cellArgv('stream', t, cfg), ['iperf3', '-c', '10.200.1.1', '-p', '15201', '-t', '5', '-J']);
  assert.deepEqual(cellArgv('connrate', t, cfg, '/tmp/x/connrate'), ['/tmp/x/connrate', '-c', '10.200.1.1', '-p', '10007', '-t', '5', '-P', '16', '-s', '1024']);
});

test('handshake deltas field by field; a resumed count missing on one side is dropped', () => {
  const cases = [
    { a: { client: 10, server: 12, clientResumed: 3, serverResumed: 3 }, b: { client: 110, server: 112, clientResumed: 93, serverResumed: 90 }, want: { client: 100, server: 100, clientResumed: 90, serverResumed: 87 } },
    { a: { client: 1, server: 5, clientResumed: 0 }, b: { client: 1, server: 5, clientResumed: 0 }, want: { client: 0, server: 0, clientResumed: 0 } },
    { a: { client: 1, server: 5 }, b: { client: 2, server: 5, clientResumed: 4 }, want: { client: 1, server: 0 } },
  ];
  for (const c of cases) assert.deepEqual(handshakeDelta(c.a, c.b), c.want);
});

test('tools: cc with warnings as errors and threads; binaries go where asked', () => {
  assert.deepEqual(ccArgs('/r/bench/tools/connrate.c', '/tmp/b/connrate'), ['-O2', '-Wall', '-Wextra', '-Werror', '-pthread', '-o', '/tmp/b/connrate', '/r/bench/tools/connrate.c']);
});

test('certificates: a P-256 CA and leaves for both TLS roles, cert + key in one 0600 PEM', () => {
  assert.match(leafExtensions('node-b'), /subjectAltName=DNS:node-b/);
  assert.throws(() => leafExtensions('bad name'), /DNS label/);
  const dir = mkdtempSync(path.join(tmpdir(), 'nm-bench-tls-'));
  try {
    const m = makeTlsMaterial(dir, ['node-a', 'node-b']);
    const ca = new X509Certificate(readFileSync(m.caPem));
    assert.ok(ca.ca);
    for (const name of ['node-a', 'node-b']) {
      const pem = readFileSync(m.certKeyPem[name]!, 'utf8');
      const leaf = new X509Certificate(pem);
      assert.ok(leaf.verify(ca.publicKey), `${name} is signed by the CA`);
      assert.equal(leaf.subjectAltName, `DNS:${name}`);
      assert.equal(leaf.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
      assert.ok(leaf.checkPrivateKey(createPrivateKey(pem)), 'the key in the same file');
      assert.equal(statSync(m.certKeyPem[name]!).mode & 0o777, 0o600);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
