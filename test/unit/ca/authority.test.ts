// The mesh CA: leaf fields (one URI SAN, EKU, key usage, not a CA, 16-byte positive serial, 24 h
// lifetime, notBefore skew), chains verified with X509ChainBuilder and node:crypto, state-directory
// persistence and reuse, loading checks, anchor rotation, and the Secret ⇄ files mapping.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { CoreV1Api, V1Secret } from '@kubernetes/client-node';
import { MeshError } from '../../../common/errors.js';
import {
  CA_FILES, CaManager, CaMetrics, DirCaStore, MeshCA, SecretCaStore, P256, createCsr, filesToMaterial, filesToSecretData, materialToFiles, openCa, secretToFiles, splitPem, subtle, x509,
} from '../../../controller/src/ca/index.js';
import { Registry } from 'prom-client';

const TD = 'cluster.local';
const ID = `spiffe://${TD}/ns/shop/sa/web`;
const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);

async function csr(identity = ID): Promise<string> {
  return createCsr(identity, await subtle.generateKey(P256, true, ['sign', 'verify']));
}

test('leaf: one critical URI SAN, EKU server+client, KU digitalSignature, not a CA, 16-byte positive serial', async () => {
  const ca = await MeshCA.generate({ trustDomain: TD });
  const c = await ca.sign(await csr(), ID);
  const leaf = new x509.X509Certificate(c.chainPem[0]!);
  const san = leaf.getExtension(x509.SubjectAlternativeNameExtension)!;
  assert.deepEqual(san.names.toJSON(), [{ type: 'url', value: ID }]);
  assert.equal(san.critical, true, 'empty subject: the SAN must be critical');
  assert.equal(leaf.subject, '');
  assert.deepEqual([...leaf.getExtension(x509.ExtendedKeyUsageExtension)!.usages], [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]);
  assert.equal(leaf.getExtension(x509.KeyUsagesExtension)!.usages, x509.KeyUsageFlags.digitalSignature);
  assert.equal(leaf.getExtension(x509.BasicConstraintsExtension)!.ca, false);
  assert.deepEqual((leaf.publicKey.algorithm as EcKeyAlgorithm), { name: 'ECDSA', namedCurve: 'P-256' });
  assert.equal(c.serial.length, 32);
  assert.equal(leaf.serialNumber.toLowerCase(), c.serial);
  assert.ok(parseInt(c.serial.slice(0, 2), 16) < 0x80, 'positive');
  const serials = new Set(await Promise.all(Array.from({ length: 20 }, async () => (await ca.sign(await csr(), ID)).serial)));
  assert.equal(serials.size, 20, 'random serials');
  assert.equal(new X509Certificate(c.chainPem[0]!).ca, false);
});

interface EcKeyAlgorithm { name: string; namedCurve: string }

test('leaf lifetime: 24 h by default, notBefore = now − 5 min; both configurable', async () => {
  const ca = await MeshCA.generate({ trustDomain: TD, now: () => T0 });
  const c = await ca.sign(await csr(), ID);
  assert.equal(c.notBeforeMs, T0 - 5 * 60_000);
  assert.equal(c.notAfterMs, T0 + 24 * 3_600_000);
  const short = await MeshCA.generate({ trustDomain: TD, now: () => T0, certTtlMs: 3_600_000, skewMs: 60_000 });
  const s = await short.sign(await csr(), ID);
  assert.equal(s.notBeforeMs, T0 - 60_000);
  assert.equal(s.notAfterMs, T0 + 3_600_000);
  await assert.rejects(MeshCA.generate({ trustDomain: TD, certTtlMs: 1000 }), /too short/);
});

test('chain = leaf + issuer; it verifies to the anchor (X509ChainBuilder and node:crypto)', async () => {
  const ca = await MeshCA.generate({ trustDomain: TD });
  const c = await ca.sign(await csr(), ID);
  assert.equal(c.chainPem.length, 2);
  assert.equal(c.trustAnchorsPem.length, 1);
  const [leaf, issuer, anchor] = [...c.chainPem, c.trustAnchorsPem[0]!].map((p) => new x509.X509Certificate(p));
  const built = await new x509.X509ChainBuilder({ certificates: [issuer!, anchor!] }).build(leaf!);
  assert.equal(built.length, 3);
  assert.equal(built[2]!.subject, anchor!.subject);
  assert.ok(await built[2]!.isSelfSigned());
  const [nl, ni, na] = [...c.chainPem, c.trustAnchorsPem[0]!].map((p) => new X509Certificate(p));
  assert.ok(nl!.verify(ni!.publicKey) && nl!.checkIssued(ni!));
  assert.ok(ni!.verify(na!.publicKey) && ni!.ca && na!.ca);
  assert.ok(!nl!.verify(na!.publicKey), 'the leaf is not signed by the root itself');
});

test('state directory: generated on first open (tls.key 0600), reused on the next', async () => {
  const dir = path.join(mkdtempSync(path.join(tmpdir(), 'nm-ca-')), 'ca');
  try {
    const a = await openCa(new DirCaStore(dir), { trustDomain: TD, generate: true });
    assert.equal(a.generated, true);
    assert.equal(statSync(path.join(dir, CA_FILES.key)).mode & 0o777, 0o600);
    assert.equal(splitPem(readFileSync(path.join(dir, CA_FILES.anchors), 'utf8')).length, 1);
    const b = await openCa(new DirCaStore(dir), { trustDomain: TD, generate: true });
    assert.equal(b.generated, false);
    assert.deepEqual(b.ca.anchors, a.ca.anchors);
    // a leaf of the reloaded CA chains to the anchor of the first
    const c = await b.ca.sign(await csr(), ID);
    assert.ok(new X509Certificate(c.chainPem[1]!).verify(new X509Certificate(a.ca.anchors[0]!).publicKey));
    assert.deepEqual(c.chainPem.slice(1), (await a.ca.material()).issuerChainPem);
  } finally {
    rmSync(path.dirname(dir), { recursive: true, force: true });
  }
});

test('loading refuses a key of another issuer, a chain under no anchor, a missing file', async () => {
  const a = await (await MeshCA.generate({ trustDomain: TD })).material();
  const b = await (await MeshCA.generate({ trustDomain: TD })).material();
  const isCa = (re: RegExp) => (e: unknown): boolean => e instanceof MeshError && e.code === 'MESH_ERR_CA' && re.test(e.message);
  await assert.rejects(MeshCA.load({ ...a, issuerKeyPem: b.issuerKeyPem }, { trustDomain: TD }), isCa(/not the issuer's private key/));
  await assert.rejects(MeshCA.load({ ...a, anchorsPem: b.anchorsPem }, { trustDomain: TD }), isCa(/does not chain to any trust anchor/));
  const dir = mkdtempSync(path.join(tmpdir(), 'nm-ca-'));
  try {
    writeFileSync(path.join(dir, CA_FILES.anchors), a.anchorsPem.join(''));
    await assert.rejects(new DirCaStore(dir).load(), isCa(/has no tls\.crt/));
    await assert.rejects(openCa(new DirCaStore(path.join(dir, 'none')), { trustDomain: TD, generate: false }), isCa(/--ca-generate/));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('tls.crt may carry the root after the issuer (cert-manager does): the root is not sent as chain', async () => {
  const m = await (await MeshCA.generate({ trustDomain: TD })).material();
  const ca = await MeshCA.load({ ...m, issuerChainPem: [...m.issuerChainPem, ...m.anchorsPem] }, { trustDomain: TD });
  const c = await ca.sign(await csr(), ID);
  assert.equal(c.chainPem.length, 2);
});

test('rotation: the bundle holds both anchors, new leaves chain to the new one, then the old one goes', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'nm-ca-'));
  try {
    const store = new DirCaStore(dir);
    const { ca } = await openCa(store, { trustDomain: TD, generate: true });
    const mgr = new CaManager(ca, store);
    const registry = new Registry();
    mgr.useMetrics(new CaMetrics(registry));
    const changes: number[] = [];
    mgr.onChange((c) => changes.push(c.anchors.length));
    const [oldAnchor] = ca.anchors;
    const before = await ca.sign(await csr(), ID);

    await mgr.rotate();
    assert.equal(ca.anchors.length, 2);
    assert.equal(ca.anchors[0], oldAnchor, 'the old anchor stays first');
    const after = await ca.sign(await csr(), ID);
    const newAnchor = new X509Certificate(ca.anchors[1]!);
    assert.ok(new X509Certificate(after.chainPem[1]!).verify(newAnchor.publicKey), 'new leaves chain to the new anchor');
    assert.ok(new X509Certificate(before.chainPem[1]!).verify(new X509Certificate(oldAnchor!).publicKey), 'old leaves still chain to a bundle anchor');
    assert.deepEqual(after.trustAnchorsPem, ca.anchors);
    assert.equal(splitPem(readFileSync(path.join(dir, CA_FILES.anchors), 'utf8')).length, 2, 'ca.crt holds several PEMs');
    assert.match(await registry.metrics(), /nodemesh_ca_trust_anchors 2/);

    // a restart in the middle of a rotation keeps both anchors and the new issuer
    const reloaded = (await openCa(store, { trustDomain: TD, generate: false })).ca;
    assert.deepEqual(reloaded.anchors, ca.anchors);
    assert.ok(new X509Certificate((await reloaded.sign(await csr(), ID)).chainPem[1]!).verify(newAnchor.publicKey));

    await assert.rejects(mgr.removeAnchors([newAnchor.fingerprint256]), /cannot be removed/);
    const removed = await mgr.removeAnchors();
    assert.deepEqual(removed, [new X509Certificate(oldAnchor!).fingerprint256]);
    assert.deepEqual(ca.anchors, [`${newAnchor.toString().trim()}\n`]);
    assert.equal(splitPem(readFileSync(path.join(dir, CA_FILES.anchors), 'utf8')).length, 1);
    assert.deepEqual(await mgr.removeAnchors(), [], 'nothing left to remove');
    assert.deepEqual(changes, [2, 1]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Secret ⇄ files: the cert-manager keys ca.crt, tls.crt, tls.key, base64 in data', async () => {
  const m = await (await MeshCA.generate({ trustDomain: TD })).material();
  const files = materialToFiles(m);
  assert.deepEqual(Object.keys(files).sort(), ['ca.crt', 'tls.crt', 'tls.key']);
  const data = filesToSecretData(files);
  assert.equal(Buffer.from(data['tls.key']!, 'base64').toString(), m.issuerKeyPem);
  const back = filesToMaterial(secretToFiles({ data }), 'test');
  assert.deepEqual(back, { anchorsPem: [...m.anchorsPem], issuerChainPem: [...m.issuerChainPem], issuerKeyPem: m.issuerKeyPem });
  assert.deepEqual(secretToFiles({ stringData: { 'ca.crt': 'x' } }), { 'ca.crt': 'x' });
});

test('SecretCaStore: absent Secret → generated and created (with --ca-generate), then read back and updated', async () => {
  const secrets = new Map<string, V1Secret>();
  let rv = 0;
  const notFound = Object.assign(new Error('not found'), { code: 404 });
  const api = {
    readNamespacedSecret: async ({ name, namespace }: { name: string; namespace: string }) => { const s = secrets.get(`${namespace}/${name}`); if (!s) throw notFound; return s; },
    createNamespacedSecret: async ({ namespace, body }: { namespace: string; body: V1Secret }) => { const s = { ...body, metadata: { ...body.metadata, resourceVersion: String(++rv) } }; secrets.set(`${namespace}/${body.metadata!.name}`, s); return s; },
    replaceNamespacedSecret: async ({ name, namespace, body }: { name: string; namespace: string; body: V1Secret }) => {
      if (body.metadata?.resourceVersion !== secrets.get(`${namespace}/${name}`)?.metadata?.resourceVersion) throw Object.assign(new Error('conflict'), { code: 409 });
      const s = { ...body, metadata: { ...body.metadata, resourceVersion: String(++rv) } };
      secrets.set(`${namespace}/${name}`, s);
      return s;
    },
  } as unknown as CoreV1Api;
  const o = { namespace: 'nodemesh-system', name: 'nodemesh-ca', api };
  await assert.rejects(openCa(new SecretCaStore(o), { trustDomain: TD, generate: false }), /Secret nodemesh-system\/nodemesh-ca does not exist/);
  const { ca, generated } = await openCa(new SecretCaStore(o), { trustDomain: TD, generate: true });
  assert.equal(generated, true);
  const s = secrets.get('nodemesh-system/nodemesh-ca')!;
  assert.equal(s.type, 'kubernetes.io/tls');
  assert.deepEqual(Object.keys(s.data!).sort(), ['ca.crt', 'tls.crt', 'tls.key']);
  const store = new SecretCaStore(o);
  const again = await openCa(store, { trustDomain: TD, generate: false });
  assert.deepEqual(again.ca.anchors, ca.anchors);
  const mgr = new CaManager(again.ca, store);
  await mgr.rotate();
  assert.equal(splitPem(Buffer.from(secrets.get('nodemesh-system/nodemesh-ca')!.data!['ca.crt']!, 'base64').toString()).length, 2, 'rotation written to the Secret');
  const forbidden = { ...o, api: { readNamespacedSecret: async () => { throw Object.assign(new Error('forbidden'), { code: 403 }); } } as unknown as CoreV1Api };
  await assert.rejects(new SecretCaStore(forbidden).load(), (e: unknown) => e instanceof MeshError && e.code === 'MESH_ERR_KUBE_FORBIDDEN');
});
