// The Sign path without gRPC: credential → identity on the node → rate limit → CSR, each refusal
// with its gRPC status, metric result and MESH_ERR code; the per-node token bucket; SPIFFE IDs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { TokenFileAuth } from '../../../controller/src/index.js';
import { grpc } from '../../../controller/src/grpc/index.js';
import {
  CaMetrics, CertificateService, MeshCA, P256, Refusal, TokenBuckets, checkSpiffeUri, createCsr, parseSpiffeUri, spiffeUri, subtle,
} from '../../../controller/src/ca/index.js';

const ID = 'spiffe://cluster.local/ns/shop/sa/web';
const silent = pino({ level: 'silent' });

async function setup(rateLimit = { burst: 200, ratePerSec: 50 }) {
  const ca = await MeshCA.generate({ trustDomain: 'cluster.local' });
  const registry = new Registry();
  const metrics = new CaMetrics(registry);
  const svc = new CertificateService({
    signer: () => ca, auth: new TokenFileAuth(new Map([['node-a', 'tok-a'], ['node-b', 'tok-b']])), metrics, log: silent, rateLimit,
    directory: { nodeHasIdentity: (node, id) => node === 'node-a' && id === ID },
  });
  const csr = await createCsr(ID, await subtle.generateKey(P256, true, ['sign', 'verify']));
  return { ca, svc, csr, registry };
}

async function refused(p: Promise<unknown>): Promise<Refusal> {
  try { await p; } catch (e) { assert.ok(e instanceof Refusal, String(e)); return e; }
  assert.fail('signed');
}

test('checks run in order: credential, identity on the node, rate limit, CSR', async () => {
  const { svc, csr } = await setup();
  const ok = await svc.sign({ node: 'node-a', token: 'tok-a', identity: ID, csrPem: csr });
  assert.equal(ok.certChainPem.length, 2);
  assert.equal(ok.serial.length, 32);
  const cases: [Record<string, string>, grpc.status, string, string][] = [
    [{ node: 'node-a', token: '' }, grpc.status.UNAUTHENTICATED, 'unauthenticated', 'MESH_ERR_AUTH'],
    [{ node: 'node-a', token: 'tok-b' }, grpc.status.UNAUTHENTICATED, 'unauthenticated', 'MESH_ERR_AUTH'],
    // a bad token with a garbage CSR: the credential is checked first
    [{ node: 'node-a', token: 'tok-b', csrPem: 'x' }, grpc.status.UNAUTHENTICATED, 'unauthenticated', 'MESH_ERR_AUTH'],
    [{ node: 'node-b', token: 'tok-b' }, grpc.status.PERMISSION_DENIED, 'forbidden', 'MESH_ERR_CSR_FORBIDDEN'],
    // another node's identity with a garbage CSR: the identity is checked before the CSR
    [{ node: 'node-b', token: 'tok-b', csrPem: 'x' }, grpc.status.PERMISSION_DENIED, 'forbidden', 'MESH_ERR_CSR_FORBIDDEN'],
    [{ node: 'node-a', token: 'tok-a', csrPem: 'x' }, grpc.status.INVALID_ARGUMENT, 'invalid', 'MESH_ERR_CSR_INVALID'],
    [{ node: 'node-a', token: 'tok-a', identity: 'spiffe://cluster.local/ns/shop/sa/api' }, grpc.status.PERMISSION_DENIED, 'forbidden', 'MESH_ERR_CSR_FORBIDDEN'],
  ];
  for (const [over, status, result, code] of cases) {
    const r = await refused(svc.sign({ node: 'node-a', token: 'tok-a', identity: ID, csrPem: csr, ...over }));
    assert.deepEqual([r.status, r.result, r.code], [status, result, code], JSON.stringify(over));
    assert.ok(r.message.length > 20, 'the message says what to do');
  }
});

test('the node rate limit is RESOURCE_EXHAUSTED before the CSR is even parsed', async () => {
  const { svc, csr } = await setup({ burst: 2, ratePerSec: 0.001 });
  await svc.sign({ node: 'node-a', token: 'tok-a', identity: ID, csrPem: csr });
  await refused(svc.sign({ node: 'node-a', token: 'tok-a', identity: ID, csrPem: 'garbage' }));
  const r = await refused(svc.sign({ node: 'node-a', token: 'tok-a', identity: ID, csrPem: csr }));
  assert.deepEqual([r.status, r.result, r.code], [grpc.status.RESOURCE_EXHAUSTED, 'rate_limited', 'MESH_ERR_CSR_RATE_LIMITED']);
  assert.match(r.message, /retry in \d+ ms/);
});

test('gRPC handler: metrics by result and the MESH_ERR code leads the details', async () => {
  const { svc, csr, registry } = await setup();
  const call = (request: Record<string, string>): Promise<{ err: grpc.ServiceError | null }> => new Promise((resolve) => {
    (svc.handlers().sign as (c: unknown, cb: (e: grpc.ServiceError | null) => void) => void)({ request }, (err) => resolve({ err }));
  });
  assert.equal((await call({ node: 'node-a', token: 'tok-a', identity: ID, csrPem: csr })).err, null);
  const { err } = await call({ node: 'node-a', token: 'tok-a', identity: ID, csrPem: 'x' });
  assert.equal(err!.code, grpc.status.INVALID_ARGUMENT);
  assert.match(err!.details, /^MESH_ERR_CSR_INVALID: /);
  assert.equal(err!.metadata.get('mesh-error-code')[0], 'MESH_ERR_CSR_INVALID');
  const text = await registry.metrics();
  assert.match(text, /nodemesh_ca_csr_total\{result="signed"\} 1/);
  assert.match(text, /nodemesh_ca_csr_total\{result="invalid"\} 1/);
  assert.match(text, /nodemesh_ca_csr_total\{result="rate_limited"\} 0/);
  assert.match(text, /nodemesh_ca_sign_duration_seconds_count 1/);
});

test('token bucket: burst, refill at the rate, one bucket per node', () => {
  let now = 0;
  const b = new TokenBuckets({ burst: 3, ratePerSec: 2, now: () => now });
  assert.deepEqual([b.take('a'), b.take('a'), b.take('a'), b.take('a')], [true, true, true, false]);
  assert.equal(b.take('b'), true, 'another node has its own bucket');
  assert.equal(b.retryAfterMs('a'), 500);
  now += 499;
  assert.equal(b.take('a'), false);
  now += 1;
  assert.equal(b.take('a'), true);
  now += 10_000;
  assert.deepEqual([b.take('a'), b.take('a'), b.take('a'), b.take('a')], [true, true, true, false], 'refill caps at the burst');
  const d = new TokenBuckets();
  assert.deepEqual([d.burst, d.ratePerSec], [200, 50]);
});

test('SPIFFE IDs: built from namespace and ServiceAccount, parsed strictly', () => {
  assert.equal(spiffeUri('cluster.local', 'shop', 'web'), ID);
  assert.deepEqual(parseSpiffeUri(ID), { trustDomain: 'cluster.local', namespace: 'shop', serviceAccount: 'web' });
  for (const bad of ['spiffe://cluster.local/ns/shop', 'http://cluster.local/ns/a/sa/b', 'spiffe://Cluster.Local/ns/a/sa/b', 'spiffe://cluster.local/ns/a/sa/b/c', 'spiffe://cluster.local/ns/A/sa/b']) {
    assert.equal(parseSpiffeUri(bad), undefined, bad);
  }
  assert.throws(() => checkSpiffeUri('spiffe://other.org/ns/a/sa/b', 'cluster.local'), /not in the trust domain/);
});
