// The agent's hand-built PKCS#10 request (agent/src/identity/csr.ts) against two independent
// parsers: the CA's checkCsr (@peculiar/x509) and, when installed, openssl req -verify.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { checkCsr } from '../../../controller/src/ca/index.js';
import { createCsrPem, oid, tlv } from '../../../agent/src/identity/csr.js';

const ID = 'spiffe://cluster.local/ns/shop/sa/web';
const keys = (): ReturnType<typeof generateKeyPairSync> => generateKeyPairSync('ec', { namedCurve: 'prime256v1' });

test('DER helpers: OIDs and long lengths encode as X.690 says', () => {
  assert.equal(oid('1.2.840.10045.4.3.2').toString('hex'), '06082a8648ce3d040302');
  assert.equal(oid('2.5.29.17').toString('hex'), '0603551d11');
  assert.equal(oid('1.2.840.113549.1.9.14').toString('hex'), '06092a864886f70d01090e');
  assert.equal(tlv(0x04, Buffer.alloc(200)).subarray(0, 3).toString('hex'), '0481c8');
  assert.equal(tlv(0x04, Buffer.alloc(300)).subarray(0, 4).toString('hex'), '0482012c');
});

test('the CA accepts the CSR: P-256 key, verifying signature, exactly the one URI SAN', async () => {
  const { publicKey, privateKey } = keys();
  const pem = createCsrPem(ID, publicKey, privateKey);
  const checked = await checkCsr(pem, ID);
  assert.equal(checked.identity, ID);
  await assert.rejects(checkCsr(pem, 'spiffe://cluster.local/ns/shop/sa/other'), { code: 'MESH_ERR_CSR_INVALID', message: /URI SAN is spiffe:\/\/cluster\.local\/ns\/shop\/sa\/web/ });
  // signed with another key than the one it carries: refused
  const other = keys();
  const forged = createCsrPem(ID, publicKey, other.privateKey);
  await assert.rejects(checkCsr(forged, ID), { code: 'MESH_ERR_CSR_INVALID', message: /does not verify/ });
});

test('openssl verifies the CSR and reads the URI SAN', { skip: existsSync('/usr/bin/openssl') ? false : 'no /usr/bin/openssl' }, () => {
  const { publicKey, privateKey } = keys();
  const pem = createCsrPem(ID, publicKey, privateKey);
  const text = execFileSync('openssl', ['req', '-noout', '-verify', '-text'], { input: pem, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
  assert.match(text, /URI:spiffe:\/\/cluster\.local\/ns\/shop\/sa\/web/);
  assert.match(text, /ecdsa-with-SHA256/);
  assert.match(text, /NIST CURVE: P-256|prime256v1/);
});

test('an identity that is not printable ASCII is refused before anything is signed', () => {
  const { publicKey, privateKey } = keys();
  assert.throws(() => createCsrPem('spiffe://x/ns/a b/sa/c', publicKey, privateKey), { code: 'MESH_ERR_CSR_INVALID' });
});
