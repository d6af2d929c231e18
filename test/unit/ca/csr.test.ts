// CSR checks of the mesh CA: only an EC P-256 key, a valid signature and exactly one SAN, a URI
// equal to the identity asked for, get signed; everything else is MESH_ERR_CSR_INVALID saying why.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MeshError } from '../../../common/errors.js';
import { P256, checkCsr, createCsr, subtle, x509, type CryptoKeyPair } from '../../../controller/src/ca/index.js';

const ID = 'spiffe://cluster.local/ns/shop/sa/web';
const p256 = async (): Promise<CryptoKeyPair> => subtle.generateKey(P256, true, ['sign', 'verify']) as Promise<CryptoKeyPair>;

async function csrWith(keys: CryptoKeyPair, names: x509.JsonGeneralNames | undefined, signingAlgorithm: { name: string; hash?: string } = P256): Promise<string> {
  const extensions = names ? [new x509.SubjectAlternativeNameExtension(names)] : [];
  return (await x509.Pkcs10CertificateRequestGenerator.create({ keys, signingAlgorithm, extensions })).toString('pem');
}

async function rejected(pem: string, identity = ID): Promise<string> {
  await assert.rejects(checkCsr(pem, identity), (e: unknown) => e instanceof MeshError && e.code === 'MESH_ERR_CSR_INVALID');
  try { await checkCsr(pem, identity); } catch (e) { return (e as Error).message; }
  return '';
}

test('a P-256 CSR with the single URI SAN passes', async () => {
  const keys = await p256();
  const c = await checkCsr(await createCsr(ID, keys), ID);
  assert.equal(c.identity, ID);
  assert.deepEqual(c.publicKey.algorithm, { name: 'ECDSA', namedCurve: 'P-256' });
});

test('createCsr builds exactly one URI SAN', async () => {
  const csr = new x509.Pkcs10CertificateRequest(await createCsr(ID, await p256()));
  const sans = csr.extensions.filter((e) => e.type === '2.5.29.17') as x509.SubjectAlternativeNameExtension[];
  assert.equal(sans.length, 1);
  assert.deepEqual(sans[0]!.names.toJSON(), [{ type: 'url', value: ID }]);
  assert.equal(await csr.verify(), true);
});

test('an RSA key is rejected', async () => {
  const rsa = await subtle.generateKey({ name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) }, true, ['sign', 'verify']) as CryptoKeyPair;
  assert.match(await rejected(await csrWith(rsa, [{ type: 'url', value: ID }], { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' })), /RSASSA-PKCS1-v1_5.*must be EC P-256/);
});

test('a P-384 key is rejected', async () => {
  const k = await subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-384' }, true, ['sign', 'verify']) as CryptoKeyPair;
  assert.match(await rejected(await csrWith(k, [{ type: 'url', value: ID }], { name: 'ECDSA', hash: 'SHA-384' })), /ECDSA P-384.*must be EC P-256/);
});

test('an extra DNS SAN, an IP, an email or a second URI is rejected', async () => {
  const keys = await p256();
  for (const extra of [{ type: 'dns', value: 'web.shop.svc' }, { type: 'ip', value: '10.0.0.1' }, { type: 'email', value: 'a@b.c' }, { type: 'url', value: 'spiffe://cluster.local/ns/shop/sa/api' }] as const) {
    const msg = await rejected(await csrWith(keys, [{ type: 'url', value: ID }, extra]));
    assert.match(msg, /exactly one is allowed/, extra.type);
  }
  assert.match(await rejected(await csrWith(keys, [{ type: 'dns', value: 'web.shop.svc' }])), /exactly one is allowed/);
});

test('no SAN, or a URI other than the identity asked for, is rejected', async () => {
  const keys = await p256();
  assert.match(await rejected(await csrWith(keys, undefined)), /0 subjectAltName extensions/);
  assert.match(await rejected(await createCsr('spiffe://cluster.local/ns/shop/sa/api', keys)), /must be equal/);
  assert.match(await rejected(await createCsr(ID, keys), 'spiffe://other.domain/ns/shop/sa/web'), /must be equal/);
});

test('a tampered signature is rejected', async () => {
  const csr = new x509.Pkcs10CertificateRequest(await createCsr(ID, await p256()));
  const der = new Uint8Array(csr.rawData.slice(0));
  der[der.length - 5]! ^= 0x01; // inside the signature's last integer
  const pem = x509.PemConverter.encode(der.buffer, 'CERTIFICATE REQUEST');
  assert.match(await rejected(pem), /signature/);
});

test('a CSR signed by another key than the one it carries is rejected', async () => {
  const a = await p256();
  const b = await p256();
  const forged = await csrWith({ publicKey: a.publicKey, privateKey: b.privateKey }, [{ type: 'url', value: ID }]);
  assert.match(await rejected(forged), /does not verify/);
});

test('garbage, an empty string and an oversized CSR are rejected', async () => {
  assert.match(await rejected(''), /empty/);
  assert.match(await rejected('hello'), /not a PEM/);
  assert.match(await rejected('-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n'), /does not parse/);
  assert.match(await rejected('x'.repeat(20_000)), /more than/);
});
