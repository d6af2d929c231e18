// One workload certificate from key to checked answer: a fresh P-256 key generated here (it never
// leaves the process), a CSR with the single URI SAN, and checks of what the signer returned (the
// leaf holds our key and identity, the chain links up). Also: does a chain end under an anchor?

import { X509Certificate, generateKeyPair } from 'node:crypto';
import { promisify } from 'node:util';
import { MeshError } from '../../../common/errors.js';
import { createCsrPem } from './csr.js';
import type { CertificateSigner } from './signer.js';

/** A certificate this node holds for one identity; `keyPem` is PKCS#8 and never logged. */
export interface HeldCert {
  readonly identity: string;
  readonly chainPem: readonly string[];
  readonly keyPem: string;
  readonly serial: string;
  readonly notBeforeMs: number;
  readonly notAfterMs: number;
  readonly anchorsPem: readonly string[];
}

/** Generates a key, has the CSR signed, checks the answer. */
export async function obtainCert(signer: CertificateSigner, identity: string): Promise<HeldCert> {
  // off the event loop (libuv's thread pool), as a renewal burst of many identities must not stall it
  const { publicKey, privateKey } = await promisify(generateKeyPair)('ec', { namedCurve: 'prime256v1' });
  const csr = createCsrPem(identity, publicKey, privateKey);
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const r = await signer.sign(identity, csr);
  const bad = (msg: string): never => { throw new MeshError('MESH_ERR_CERT', `the certificate returned for ${identity} is unusable: ${msg}; the signer is misbehaving`); };
  if (r.chainPem.length < 2) bad(`the chain has ${r.chainPem.length} certificate(s), leaf and issuer expected`);
  let chain: X509Certificate[];
  try { chain = r.chainPem.map((p) => new X509Certificate(p)); } catch (e) { return bad(`it does not parse (${(e as Error).message})`); }
  const leaf = chain[0]!;
  if (!leaf.checkPrivateKey(privateKey)) bad('the leaf does not hold the key this node generated');
  if (leaf.subjectAltName !== `URI:${identity}`) bad(`its SAN is ${leaf.subjectAltName ?? 'missing'}`);
  for (let i = 0; i + 1 < chain.length; i++) if (!chain[i]!.verify(chain[i + 1]!.publicKey)) bad(`certificate ${i} is not signed by certificate ${i + 1}`);
  return {
    identity,
    chainPem: r.chainPem.map((p) => `${p.trim()}\n`),
    keyPem,
    serial: r.serial.toLowerCase(),
    notBeforeMs: Date.parse(leaf.validFrom),
    notAfterMs: Date.parse(leaf.validTo),
    anchorsPem: r.trustAnchorsPem,
  };
}

const parsed = new Map<string, X509Certificate>();
function cert(pem: string): X509Certificate {
  let c = parsed.get(pem);
  if (!c) {
    c = new X509Certificate(pem);
    if (parsed.size > 256) parsed.clear();
    parsed.set(pem, c);
  }
  return c;
}

/** Does the top of `chainPem` verify under one of `anchorsPem`? */
export function chainsTo(chainPem: readonly string[], anchorsPem: readonly string[]): boolean {
  const top = cert(chainPem.at(-1)!);
  return anchorsPem.some((a) => {
    try {
      const anchor = cert(a);
      return top.checkIssued(anchor) && top.verify(anchor.publicKey);
    } catch {
      return false;
    }
  });
}

/** SHA-256 fingerprint of the anchor in `anchorsPem` that `chainPem` leads to, or null. */
export function anchorOf(chainPem: readonly string[], anchorsPem: readonly string[]): string | null {
  const a = anchorsPem.find((x) => chainsTo(chainPem, [x]));
  return a ? cert(a).fingerprint256 : null;
}

/** The bundle as operators read it: subject, fingerprint and expiry of each anchor (no keys exist here). */
export function describeBundle(anchorsPem: readonly string[]): { subject: string; fingerprint256: string; notAfter: string }[] {
  return anchorsPem.map((pem) => { const x = cert(pem); return { subject: x.subject, fingerprint256: x.fingerprint256, notAfter: new Date(x.validTo).toISOString() }; });
}
