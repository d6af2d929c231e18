// The hot path of the CA: workload leaves built with the X.509 schema classes @peculiar/x509 is
// itself made of (@peculiar/asn1-x509, serialised by @peculiar/asn1-schema — no hand-written DER)
// and signed synchronously with node:crypto. Everything fixed per issuer (its name, the static
// extensions, the algorithm) is prepared once; per leaf only serial, validity, key and SAN change.
// Also a synchronous node:crypto provider for csr.verify() on P-256 requests.

import { createPublicKey, sign as nodeSign, verify as nodeVerify, type KeyObject } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import * as asn from '@peculiar/asn1-x509';
import type { x509 } from './x509.js';

const ECDSA_SHA256 = '1.2.840.10045.4.3.2';

export interface LeafParams {
  /** the subject public key, DER SubjectPublicKeyInfo (from the checked CSR) */
  readonly spki: ArrayBuffer;
  readonly identity: string;
  readonly serialHex: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

export class LeafSigner {
  readonly #key: KeyObject;
  readonly #issuer: asn.Name;
  readonly #alg = new asn.AlgorithmIdentifier({ algorithm: ECDSA_SHA256 });
  readonly #static: asn.Extension[];

  /** `issuer`: the issuing certificate; `key`: its private key; `extensions`: fixed leaf extensions. */
  constructor(issuer: x509.X509Certificate, key: KeyObject, extensions: readonly x509.Extension[]) {
    this.#key = key;
    this.#issuer = AsnConvert.parse(issuer.subjectName.toArrayBuffer(), asn.Name);
    this.#static = extensions.map((e) => AsnConvert.parse(e.rawData, asn.Extension));
  }

  /** A DER leaf certificate: empty subject, the identity as its only (critical) URI SAN. */
  issue(p: LeafParams): ArrayBuffer {
    const san = new asn.SubjectAlternativeName([new asn.GeneralName({ uniformResourceIdentifier: p.identity })]);
    const tbs = new asn.TBSCertificate({
      version: asn.Version.v3,
      serialNumber: new Uint8Array(Buffer.from(p.serialHex, 'hex')).buffer,
      signature: this.#alg,
      issuer: this.#issuer,
      validity: new asn.Validity({ notBefore: p.notBefore, notAfter: p.notAfter }),
      subject: new asn.Name(),
      subjectPublicKeyInfo: AsnConvert.parse(p.spki, asn.SubjectPublicKeyInfo),
      extensions: new asn.Extensions([
        ...this.#static,
        new asn.Extension({ extnID: asn.id_ce_subjectAltName, critical: true, extnValue: new OctetString(AsnConvert.serialize(san)) }),
      ]),
    });
    // ECDSA signatures in X.509 are DER Ecdsa-Sig-Value: node's default encoding
    const signatureValue = nodeSign('sha256', Buffer.from(AsnConvert.serialize(tbs)), this.#key);
    const cert = new asn.Certificate({ tbsCertificate: tbs, signatureAlgorithm: this.#alg, signatureValue: new Uint8Array(signatureValue).buffer });
    return AsnConvert.serialize(cert);
  }
}

const HASHES: Readonly<Record<string, string>> = { 'SHA-256': 'sha256', 'SHA-384': 'sha384', 'SHA-512': 'sha512' };
const hashOf = (alg: unknown): string => {
  const h = (alg as { hash?: string | { name?: string } }).hash;
  const name = typeof h === 'string' ? h : h?.name;
  const out = name ? HASHES[name.toUpperCase()] : undefined;
  if (!out) throw new Error(`unsupported hash ${String(name)}`);
  return out;
};

/**
 * The two WebCrypto calls csr.verify() makes (importKey 'spki', verify), done synchronously by
 * node:crypto for ECDSA keys: no thread-pool round trip per CSR. Only for keys already known to be
 * EC (checkCsr checks the key type first).
 */
export const syncEcdsaVerifier = {
  subtle: {
    importKey: async (format: string, keyData: ArrayBuffer | ArrayBufferView): Promise<KeyObject> => {
      if (format !== 'spki') throw new Error(`unsupported key format ${format}`);
      const buf = ArrayBuffer.isView(keyData) ? Buffer.from(keyData.buffer, keyData.byteOffset, keyData.byteLength) : Buffer.from(keyData);
      return createPublicKey({ key: buf, format: 'der', type: 'spki' });
    },
    verify: async (alg: unknown, key: KeyObject, signature: ArrayBuffer | ArrayBufferView, data: ArrayBuffer | ArrayBufferView): Promise<boolean> => {
      const b = (v: ArrayBuffer | ArrayBufferView): Buffer => (ArrayBuffer.isView(v) ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : Buffer.from(v));
      return nodeVerify(hashOf(alg), b(data), { key, dsaEncoding: 'ieee-p1363' }, b(signature));
    },
  },
};
