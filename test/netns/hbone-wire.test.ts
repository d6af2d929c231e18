// HBONE on the wire against foreign implementations, as an Istio ztunnel peer would meet it: a leaf
// issued by `openssl x509` from the mesh CA's files, `openssl s_client` and Node's http2 (nghttp2 over
// OpenSSL) speaking to node-b's port 15008 from an unmeshed pod — TLS 1.3, ALPN h2, the server's
// SPIFFE ID, CONNECT streams, status codes, and malformed bytes that close only their connection.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT } from '../../native/index.js';
import { SimCluster } from '../../sim/index.js';
import { TCP_TOOL, manifestDir, metricSum, rootGate, waitFor } from './helpers.js';

const skip = rootGate();
const TD = 'cluster.local';
const FOREIGN_ID = `spiffe://${TD}/ns/wire/sa/foreign`;
const SERVER_ID = `spiffe://${TD}/ns/wire/sa/server`;
const VAULT_ID = `spiffe://${TD}/ns/wire/sa/vault`;
const CLIENT_ID = `spiffe://${TD}/ns/wire/sa/client`;
const HBONE_CLIENT = path.join(ROOT, 'dist', 'test', 'netns', 'tools', 'hbone-client.js');

interface StreamResult { status?: number; body?: string; error?: string }
interface StreamsOut { ok: boolean; sockets: number; tls?: { protocol: string; alpn: string; serverSan: string; authorized: boolean }; results: StreamResult[] | { sessionError: string } }

describe('HBONE wire compatibility with foreign clients', { skip, timeout: 300_000 }, () => {
  let c: SimCluster;
  let dir: string;
  let pki: string;
  const ip = (key: string): string => c.pod(key).ip;
  const metrics = async (node: string): Promise<string> => (await c.agentGet(node, '/metrics')).body;
  const dump = async (node: string): Promise<any> => JSON.parse((await c.agentGet(node, '/config_dump')).body);
  const files = (): { cert: string; key: string; ca: string } => ({ cert: path.join(pki, 'chain.pem'), key: path.join(pki, 'key.pem'), ca: path.join(c.caDir, 'ca.crt') });

  async function hbone<T>(mode: string, spec: Record<string, unknown>): Promise<T> {
    const r = await c.exec('outside/stranger', [process.execPath, HBONE_CLIENT, mode, JSON.stringify(spec)], { timeoutMs: 20_000 });
    const line = r.stdout.trim().split('\n').at(-1);
    assert.ok(line, `hbone-client ${mode} printed nothing: ${r.stderr}`);
    return JSON.parse(line) as T;
  }
  const streams = (host: string, serverId: string, list: object[]): Promise<StreamsOut> => hbone<StreamsOut>('streams', { host, serverId, ...files(), streams: list });
  const results = (o: StreamsOut): StreamResult[] => {
    assert.ok(Array.isArray(o.results), `the session failed: ${JSON.stringify(o)}`);
    return o.results;
  };

  before(async () => {
    dir = manifestDir('hbone-wire.yaml');
    c = await SimCluster.up({ manifestsDir: dir, agents: true });
    for (const [node, id] of [['node-b', SERVER_ID], ['node-b', VAULT_ID], ['node-a', CLIENT_ID]] as const) {
      await waitFor(`${id} issued on ${node}`, async () => (await dump(node)).identities.some((i: any) => i.identity === id && i.state === 'valid'), 15_000);
    }
    // a foreign workload's leaf, made by OpenSSL from the CA's cert-manager-style files (the issuer
    // is tls.crt/tls.key, the anchors ca.crt): no nodemesh code signs it
    pki = mkdtempSync(path.join(tmpdir(), 'nm-wire-'));
    const o = (args: string[]): string => execFileSync('openssl', args, { cwd: pki, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    o(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'key.pem']);
    o(['req', '-new', '-key', 'key.pem', '-subj', '/O=foreign', '-out', 'leaf.csr']);
    writeFileSync(path.join(pki, 'ext.cnf'), [
      `subjectAltName = critical, URI:${FOREIGN_ID}`,
      'keyUsage = critical, digitalSignature',
      'extendedKeyUsage = serverAuth, clientAuth',
      'basicConstraints = critical, CA:FALSE',
      '',
    ].join('\n'));
    o(['x509', '-req', '-in', 'leaf.csr', '-CA', path.join(c.caDir, 'tls.crt'), '-CAkey', path.join(c.caDir, 'tls.key'), '-set_serial', '0x5eed', '-days', '1', '-sha256', '-extfile', 'ext.cnf', '-out', 'leaf.pem']);
    writeFileSync(path.join(pki, 'chain.pem'), readFileSync(path.join(pki, 'leaf.pem'), 'utf8') + readFileSync(path.join(c.caDir, 'tls.crt'), 'utf8'));
  });

  after(async () => {
    await c?.down();
    rmSync(dir, { recursive: true, force: true });
    if (pki) rmSync(pki, { recursive: true, force: true });
  });

  test('openssl s_client: TLS 1.3, ALPN h2, no SNI needed, the server presents the destination workload\'s SPIFFE ID', async () => {
    const f = files();
    const r = await c.exec('outside/stranger', ['openssl', 's_client', '-connect', `${ip('wire/server-b')}:15008`, '-alpn', 'h2', '-noservername',
      '-cert', path.join(pki, 'leaf.pem'), '-cert_chain', path.join(c.caDir, 'tls.crt'), '-key', f.key, '-CAfile', f.ca, '-verify_return_error', '-showcerts'], { timeoutMs: 15_000, input: '' });
    const text = r.stdout + r.stderr;
    assert.match(text, /New, TLSv1\.3, Cipher is TLS_/, text);
    assert.match(text, /ALPN protocol: h2/);
    assert.match(text, /Verify return code: 0 \(ok\)/);
    const leaf = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(r.stdout)?.[0];
    assert.ok(leaf, 'the server sent its chain');
    const san = execFileSync('openssl', ['x509', '-noout', '-ext', 'subjectAltName'], { input: leaf, encoding: 'utf8' });
    assert.match(san, new RegExp(`URI:${SERVER_ID.replace(/\//g, '\\/')}\\s*$`), san);
    const key = execFileSync('openssl', ['x509', '-noout', '-text'], { input: leaf, encoding: 'utf8' });
    assert.match(key, /ASN1 OID: prime256v1/, 'an ECDSA P-256 leaf');
  });

  test('a client without a certificate never gets a stream', async () => {
    const r = await hbone<{ result: StreamResult }>('nocert', { host: ip('wire/server-b'), serverId: SERVER_ID, ca: files().ca, streams: [{ authority: `${ip('wire/server-b')}:9000` }] });
    assert.notEqual(r.result.status, 200, JSON.stringify(r));
    assert.ok(!r.result.body?.includes('hello'), JSON.stringify(r));
  });

  test('CONNECT streams from nghttp2: two echoes on one TLS connection, ztunnel\'s headers, a spoofed forwarded ignored', async () => {
    const b = ip('wire/server-b');
    const baggage = 'k8s.cluster.name=Kubernetes,k8s.namespace.name=wire,k8s.deployment.name=foreign,service.name=foreign,service.version=v1';
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00';
    const o = await streams(b, SERVER_ID, [
      { authority: `${b}:9000`, headers: { baggage, traceparent }, send: 'first-stream-payload' },
      { authority: `${b}:9000`, send: 'second-stream-payload' },
      // claims to carry the meshed client's traffic: that IP holds another identity, so the
      // destination sees the TCP peer (this pod), not the claimed address
      { authority: `${b}:8080`, headers: { forwarded: `for="${ip('wire/client')}:4242"` }, send: 'GET /who HTTP/1.1\r\nHost: server\r\nConnection: close\r\n\r\n' },
    ]);
    assert.equal(o.sockets, 1, 'one TLS connection carries every stream');
    assert.deepEqual({ protocol: o.tls?.protocol, alpn: o.tls?.alpn, san: o.tls?.serverSan, authorized: o.tls?.authorized }, { protocol: 'TLSv1.3', alpn: 'h2', san: `URI:${SERVER_ID}`, authorized: true });
    const [one, two, who] = results(o);
    assert.deepEqual(one, { status: 200, body: 'first-stream-payload' });
    assert.deepEqual(two, { status: 200, body: 'second-stream-payload' });
    assert.equal(who!.status, 200, JSON.stringify(who));
    const body = JSON.parse(who!.body!.slice(who!.body!.indexOf('\r\n\r\n') + 4)) as { client: { address: string } };
    assert.equal(body.client.address, ip('outside/stranger'), 'a forwarded for= of another identity is not believed');
    await waitFor('node-b counted the foreign identity over mTLS', async () =>
      metricSum(await metrics('node-b'), 'tcp_open_total', { direction: 'inbound', tls: 'true', connection_security_policy: 'mutual_tls', src_identity: FOREIGN_ID, dst_identity: SERVER_ID }) >= 3);
  });

  test('status codes as ztunnel answers them; each bad stream ends alone and its connection goes on', async () => {
    const b = ip('wire/server-b');
    const o = await streams(b, SERVER_ID, [
      { method: 'GET', authority: `${b}:9000` },
      { authority: `10.250.0.9:9000`, send: 'x' },
      { authority: `${ip('wire/vault')}:9000`, send: 'x' },
      { authority: `${ip('wire/client')}:9000`, send: 'x' },
      { authority: `${b}:15008`, send: 'x' },
      { authority: `${b}:9000`, send: 'still-fine' },
    ]);
    assert.equal(o.sockets, 1);
    assert.deepEqual(results(o).map((r) => r.status), [400, 400, 400, 400, 503, 200], JSON.stringify(o.results));
    assert.equal(results(o).at(-1)!.body, 'still-fine');
    // the vault's own certificate, but a DENY policy for this identity: 401, counted with its name
    const v = ip('wire/vault');
    const denied = await streams(v, VAULT_ID, [{ authority: `${v}:9000`, send: 'x' }]);
    assert.equal(denied.tls?.serverSan, `URI:${VAULT_ID}`);
    assert.equal(results(denied)[0]!.status, 401, JSON.stringify(denied));
    await waitFor('the denial counted with the policy name', async () => metricSum(await metrics('node-b'), 'inbound_tcp_authz_deny_total', { policy: 'wire/no-foreigners' }) >= 1);
    // the meshed client's own traffic to the vault is not matched by the policy
    const r = await c.exec('wire/client', [process.execPath, TCP_TOOL, 'probe', v, '9000', 'meshed', '4000'], { timeoutMs: 15_000 });
    assert.deepEqual(JSON.parse(r.stdout.trim().split('\n').at(-1)!), { ok: true, echoed: 'meshed' });
  });

  test('garbage after the TLS handshake, or instead of it, closes that connection only; the agent lives on', async () => {
    const pid = c.agentPid('node-b');
    const spec = { host: ip('wire/server-b'), serverId: SERVER_ID, ...files(), timeoutMs: 8000 };
    const afterTls = await hbone<{ closed: string; afterMs: number }>('garbage-tls', spec);
    assert.notEqual(afterTls.closed, 'still-open', JSON.stringify(afterTls));
    const plain = await hbone<{ closed: string; afterMs: number }>('garbage-tcp', spec);
    assert.notEqual(plain.closed, 'still-open', JSON.stringify(plain));
    assert.equal(c.agentPid('node-b'), pid, 'the same agent process');
    const o = await streams(ip('wire/server-b'), SERVER_ID, [{ authority: `${ip('wire/server-b')}:9000`, send: 'after-garbage' }]);
    assert.deepEqual(results(o)[0], { status: 200, body: 'after-garbage' });
    const r = await c.exec('wire/client', [process.execPath, TCP_TOOL, 'probe', ip('wire/server-b'), '9000', 'meshed-after', '4000'], { timeoutMs: 15_000 });
    assert.deepEqual(JSON.parse(r.stdout.trim().split('\n').at(-1)!), { ok: true, echoed: 'meshed-after' });
  });
});
