// The mesh CA over real gRPC in one process (port 0): an agent's IdentityManager obtains its pod's
// certificate; impersonation, wrong tokens, another node's identities and bad CSRs are refused with
// their gRPC status and MESH_ERR code; the trust bundle reaches the agent feed and a rotation is a
// delta that the IdentityManager follows (new anchor, old one removed, certificate renewed).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { runController, TokenFileAuth, type ControllerHandle } from '../../controller/src/index.js';
import { ManifestSource } from '../../controller/src/sources/index.js';
import { grpc } from '../../controller/src/grpc/index.js';
import { P256, createCsr, subtle, x509 } from '../../controller/src/ca/index.js';
import { applyUpdate, type ConfigUpdate, type NodeConfig } from '../../controller/src/views/index.js';
import { ControllerFeed } from '../../agent/src/config/index.js';
import { GrpcSigner, IdentityManager, SignError, chainsTo, type IdentitySnapshot } from '../../agent/src/identity/index.js';

const silent = pino({ level: 'silent' });
const TOKENS = new Map([['node-a', 'tok-a'], ['node-b', 'tok-b']]);
const ID_WEB = 'spiffe://cluster.local/ns/shop/sa/web';
const ID_API = 'spiffe://cluster.local/ns/shop/sa/api';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
async function until(what: string, f: () => boolean, ms = 5000): Promise<void> {
  const t0 = Date.now();
  while (!f()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

const NS = 'apiVersion: v1\nkind: Namespace\nmetadata: { name: shop, labels: { nodemesh.io/mesh: enabled } }\n';
const pod = (name: string, node: string, ip: string, sa: string): string => `---\napiVersion: v1\nkind: Pod\nmetadata: { name: ${name}, namespace: shop }\nspec: { nodeName: ${node}, serviceAccountName: ${sa}, containers: [{ name: c }] }\nstatus: { podIP: ${ip} }\n`;

async function csrFor(identity: string, extra: x509.JsonGeneralNames = []): Promise<string> {
  const keys = await subtle.generateKey(P256, true, ['sign', 'verify']);
  if (extra.length === 0) return createCsr(identity, keys);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ keys, signingAlgorithm: P256, extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: identity }, ...extra])] });
  return csr.toString('pem');
}

async function refusal(p: Promise<unknown>): Promise<SignError> {
  try { await p; } catch (e) { assert.ok(e instanceof SignError, `a SignError, got ${String(e)}`); return e; }
  assert.fail('the request was signed');
}

async function csrCount(ctl: ControllerHandle, result: string): Promise<number> {
  const m = await ctl.metrics.registry.getSingleMetric('nodemesh_ca_csr_total')!.get();
  return m.values.find((v) => v.labels.result === result)?.value ?? 0;
}

describe('mesh CA over gRPC', { timeout: 60_000 }, () => {
  let dir: string;
  let caDir: string;
  let state: string;
  let ctl: ControllerHandle;
  let address: string;
  const closers: (() => void)[] = [];

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'nm-ca-'));
    caDir = mkdtempSync(path.join(tmpdir(), 'nm-ca-dir-'));
    state = mkdtempSync(path.join(tmpdir(), 'nm-ca-state-'));
    writeFileSync(path.join(dir, 'ns.yaml'), NS);
    writeFileSync(path.join(dir, 'pods.yaml'), pod('a1', 'node-a', '10.200.1.10', 'web') + pod('a2', 'node-a', '10.200.1.11', 'web') + pod('b1', 'node-b', '10.200.2.10', 'api'));
    ctl = await runController({ source: new ManifestSource(dir), auth: new TokenFileAuth(TOKENS), grpcHost: '127.0.0.1', grpcPort: 0, adminPort: -1, caDir, log: silent });
    address = `127.0.0.1:${ctl.grpcPort}`;
  });

  after(async () => {
    for (const c of closers) c();
    await ctl.stop();
    for (const d of [dir, caDir, state]) rmSync(d, { recursive: true, force: true });
  });

  test('the CA was generated into --ca-dir (key 0600) and is what the controller signs with', () => {
    assert.equal(statSync(path.join(caDir, 'tls.key')).mode & 0o777, 0o600);
    assert.equal(ctl.ca.anchors.length, 1);
  });

  test("an agent's IdentityManager gets one certificate for its pods' identity over gRPC", async () => {
    const signer = new GrpcSigner({ address, node: 'node-a', token: 'tok-a' });
    const registry = new Registry();
    const im = new IdentityManager({ signer, log: silent, registry, trustDomain: 'cluster.local' });
    closers.push(() => { im.close(); signer.close(); });
    const snaps: IdentitySnapshot[] = [];
    im.onChange((s) => snaps.push(s));
    im.setWanted([ID_WEB, ID_WEB]); // two pods, one ServiceAccount
    await until('certificate', () => im.readiness().ready);
    const s = im.snapshot();
    assert.equal(s.identities.length, 1);
    const [leafPem, issuerPem] = s.identities[0]!.chain;
    const leaf = new X509Certificate(leafPem!);
    assert.equal(leaf.subjectAltName, `URI:${ID_WEB}`);
    assert.ok(leaf.verify(new X509Certificate(issuerPem!).publicKey));
    assert.ok(chainsTo(s.identities[0]!.chain, ctl.ca.anchors));
    assert.match(s.identities[0]!.key, /^-----BEGIN PRIVATE KEY-----/);
    assert.equal(im.status()[0]!.state, 'valid');
    assert.ok(!JSON.stringify(im.status()).includes('PRIVATE KEY'), 'status carries no key');
    assert.ok(snaps.length >= 1);
    assert.ok((await registry.metrics()).includes(`identity_cert_expiration_timestamp_seconds{identity="${ID_WEB}"}`));
    assert.ok((await csrCount(ctl, 'signed')) >= 1);
  });

  test('impersonation and wrong tokens are UNAUTHENTICATED; another node\'s identity is PERMISSION_DENIED', async () => {
    const csr = await csrFor(ID_WEB);
    const cases = [
      { node: 'node-a', token: 'tok-b', status: grpc.status.UNAUTHENTICATED, code: 'MESH_ERR_AUTH' },   // node-b's token claiming node-a
      { node: 'node-a', token: 'nope', status: grpc.status.UNAUTHENTICATED, code: 'MESH_ERR_AUTH' },
      { node: 'node-a', token: '', status: grpc.status.UNAUTHENTICATED, code: 'MESH_ERR_AUTH' },
      { node: 'node-b', token: 'tok-b', status: grpc.status.PERMISSION_DENIED, code: 'MESH_ERR_CSR_FORBIDDEN' }, // node-a's pod identity
    ];
    const forbidden0 = await csrCount(ctl, 'forbidden');
    for (const c of cases) {
      const signer = new GrpcSigner({ address, node: c.node, token: c.token });
      const e = await refusal(signer.sign(ID_WEB, csr));
      signer.close();
      assert.equal(e.grpcCode, c.status, `${c.node}/${c.token}: ${e.message}`);
      assert.equal(e.remoteCode, c.code);
    }
    assert.equal(await csrCount(ctl, 'forbidden'), forbidden0 + 1);
    assert.ok((await csrCount(ctl, 'unauthenticated')) >= 3);
    // node-b may have its own pod's identity
    const b = new GrpcSigner({ address, node: 'node-b', token: 'tok-b' });
    const ok = await b.sign(ID_API, await csrFor(ID_API));
    b.close();
    assert.equal(new X509Certificate(ok.chainPem[0]!).subjectAltName, `URI:${ID_API}`);
  });

  test('a bad CSR is INVALID_ARGUMENT with MESH_ERR_CSR_INVALID and says what is wrong', async () => {
    const signer = new GrpcSigner({ address, node: 'node-a', token: 'tok-a' });
    closers.push(() => signer.close());
    const withDns = await refusal(signer.sign(ID_WEB, await csrFor(ID_WEB, [{ type: 'dns', value: 'web.shop.svc' }])));
    assert.equal(withDns.grpcCode, grpc.status.INVALID_ARGUMENT);
    assert.equal(withDns.remoteCode, 'MESH_ERR_CSR_INVALID');
    assert.match(withDns.message, /exactly one is allowed/);
    const mismatch = await refusal(signer.sign(ID_WEB, await csrFor('spiffe://cluster.local/ns/shop/sa/other')));
    assert.equal(mismatch.grpcCode, grpc.status.INVALID_ARGUMENT);
    assert.match(mismatch.message, /must be equal/);
    const garbage = await refusal(signer.sign(ID_WEB, 'not a csr'));
    assert.equal(garbage.remoteCode, 'MESH_ERR_CSR_INVALID');
    assert.ok((await csrCount(ctl, 'invalid')) >= 3);
  });

  test('the trust bundle reaches the agent feed; a rotation is a delta the IdentityManager follows', async () => {
    let cfg: NodeConfig | undefined;
    const updates: ConfigUpdate[] = [];
    const feed = new ControllerFeed({ address, node: 'node-a', token: 'tok-a', stateDir: path.join(state, 'a'), current: () => cfg!, log: silent, backoffMs: { min: 50, max: 200 } });
    const signer = new GrpcSigner({ address, node: 'node-a', token: 'tok-a' });
    const im = new IdentityManager({ signer, log: silent, trustDomain: 'cluster.local' });
    closers.push(() => { feed.close(); im.close(); signer.close(); });
    await feed.start((u) => { cfg = applyUpdate(cfg, u); updates.push(u); im.setMesh(cfg.mesh); });
    await until('first config', () => cfg?.mesh !== undefined);
    assert.deepEqual(cfg!.mesh!.trustAnchors, ctl.ca.anchors);
    assert.equal(cfg!.mesh!.trustDomain, 'cluster.local');
    assert.equal(cfg!.mesh!.defaultInboundPolicy, 'all-unauthenticated');
    im.setWanted([ID_WEB]);
    await until('certificate', () => im.readiness().ready);
    const first = im.status()[0]!.serial;
    const oldAnchor = ctl.ca.anchors[0]!;

    // step 1: a new anchor joins; the old one stays, so the current certificate is kept
    const n = updates.length;
    await ctl.ca.rotate();
    await until('rotation delta', () => cfg!.mesh!.trustAnchors.length === 2);
    const d = updates.slice(n).find((u) => u.upserts.some((r) => r.type === 'mesh'))!;
    assert.equal(d.full, false, 'a delta, not a full view');
    assert.deepEqual(d.upserts.map((r) => r.type), ['mesh']);
    assert.equal(im.snapshot().bundle.length, 2);
    assert.equal(im.status()[0]!.serial, first, 'still under a current anchor: not renewed');

    // step 2: the old anchor goes; the certificate issued under it is renewed at once
    await ctl.ca.removeAnchors();
    await until('anchor removal delta', () => cfg!.mesh!.trustAnchors.length === 1);
    assert.notEqual(cfg!.mesh!.trustAnchors[0], oldAnchor);
    await until('renewed under the new anchor', () => im.status()[0]!.serial !== first && im.readiness().ready);
    const s = im.snapshot();
    assert.deepEqual(s.bundle, ctl.ca.anchors);
    assert.ok(chainsTo(s.identities[0]!.chain, s.bundle));
    assert.ok(!chainsTo(s.identities[0]!.chain, [oldAnchor]));
  });
});
