// Checks a workload's certificate signing request before the CA signs it: it parses, its signature
// verifies (csr.verify()), its key is EC P-256, and it names exactly one subject alternative name, a
// URI equal to the identity asked for. Any failure is MESH_ERR_CSR_INVALID saying what to fix.

import { MeshError } from '../../../common/errors.js';
import { syncEcdsaVerifier } from './leaf.js';
import { x509, type CryptoKeyPair } from './x509.js';

export const SAN_OID = '2.5.29.17';

/** A CSR that passed every check: its public key and its (single URI) SAN extension. */
export interface CheckedCsr {
  readonly publicKey: x509.PublicKey;
  readonly identity: string;
}

function invalid(msg: string): never {
  throw new MeshError('MESH_ERR_CSR_INVALID', `certificate request rejected: ${msg}`);
}

const MAX_CSR_BYTES = 16 * 1024;

export async function checkCsr(pem: string, identity: string): Promise<CheckedCsr> {
  if (typeof pem !== 'string' || pem.length === 0) invalid('csr_pem is empty; send a PEM "CERTIFICATE REQUEST"');
  if (pem.length > MAX_CSR_BYTES) invalid(`csr_pem is ${pem.length} bytes, more than ${MAX_CSR_BYTES}; send one P-256 CSR`);
  if (!pem.includes('-----BEGIN CERTIFICATE REQUEST-----')) invalid('csr_pem is not a PEM "CERTIFICATE REQUEST"');
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(pem);
  } catch (e) {
    return invalid(`csr_pem does not parse as PKCS#10 (${(e as Error).message}); generate it with a PKCS#10 library`);
  }
  const alg = csr.publicKey.algorithm as { name?: string; namedCurve?: string };
  if (alg.name !== 'ECDSA' || alg.namedCurve !== 'P-256') {
    invalid(`the key is ${alg.name ?? '?'}${alg.namedCurve ? ` ${alg.namedCurve}` : ''}; workload keys must be EC P-256 (ECDSA, prime256v1)`);
  }
  let ok = false;
  try {
    // node:crypto, synchronously: the key is known to be EC P-256 at this point
    ok = await csr.verify(syncEcdsaVerifier as unknown as Parameters<typeof csr.verify>[0]);
  } catch (e) {
    invalid(`the signature cannot be checked (${(e as Error).message}); sign the CSR with its own P-256 key (ECDSA SHA-256)`);
  }
  if (!ok) invalid('the signature does not verify with the CSR\'s own key; the request was altered or signed with another key');
  const sans = csr.extensions.filter((e) => e.type === SAN_OID);
  if (sans.length !== 1) invalid(`it carries ${sans.length} subjectAltName extensions; put exactly one, holding the URI ${identity}`);
  const names = (sans[0] as x509.SubjectAlternativeNameExtension).names.toJSON();
  if (names.length !== 1 || names[0]!.type !== 'url') {
    const got = names.map((n) => `${n.type.toUpperCase()}:${n.value}`).join(', ') || 'none';
    invalid(`its subjectAltNames are [${got}]; exactly one is allowed, the URI ${identity} (no DNS, IP or email names)`);
  }
  if (names[0]!.value !== identity) invalid(`its URI SAN is ${names[0]!.value} but the request asks for ${identity}; they must be equal`);
  // other requested extensions (key usage, basic constraints) are ignored: the CA sets every field
  return { publicKey: csr.publicKey, identity };
}

/** Builds the CSR an agent sends: the single URI SAN, signed with the workload's P-256 key. */
export async function createCsr(identity: string, keys: CryptoKeyPair): Promise<string> {
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    keys,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: identity }])],
  });
  return csr.toString('pem');
}
