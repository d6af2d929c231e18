// The PKCS#10 request an agent sends for a workload identity, built with node:crypto and a few
// lines of DER (RFC 2986): an empty subject, the P-256 key, one extensionRequest holding one URI
// subjectAltName, ECDSA SHA-256. The agent needs no ASN.1 library (the CA side parses with one).

import { sign, type KeyObject } from 'node:crypto';
import { MeshError } from '../../../common/errors.js';

const OID_EXTENSION_REQUEST = '1.2.840.113549.1.9.14';
const OID_SUBJECT_ALT_NAME = '2.5.29.17';
const OID_ECDSA_SHA256 = '1.2.840.10045.4.3.2';

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  if (n < 0x100) return Buffer.from([0x81, n]);
  if (n < 0x10000) return Buffer.from([0x82, n >> 8, n & 0xff]);
  throw new MeshError('MESH_ERR_CSR_INVALID', `a CSR field of ${n} bytes is too long`);
}

/** One DER TLV of `tag` around the concatenated parts. */
export function tlv(tag: number, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag]), length(body.length), body]);
}

/** An OBJECT IDENTIFIER from its dotted form. */
export function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const out = [40 * arcs[0]! + arcs[1]!];
  for (const a of arcs.slice(2)) {
    const b = [a & 0x7f];
    for (let v = a >>> 7; v > 0; v >>>= 7) b.unshift(0x80 | (v & 0x7f));
    out.push(...b);
  }
  return tlv(0x06, Buffer.from(out));
}

/** The PEM CSR for `identity` (a SPIFFE URI), signed with `privateKey` (EC P-256). */
export function createCsrPem(identity: string, publicKey: KeyObject, privateKey: KeyObject): string {
  if (!/^[\x21-\x7e]+$/.test(identity)) throw new MeshError('MESH_ERR_CSR_INVALID', `the identity ${JSON.stringify(identity)} is not a printable ASCII URI`);
  const generalNames = tlv(0x30, tlv(0x86, Buffer.from(identity, 'ascii'))); // [6] uniformResourceIdentifier
  const extensions = tlv(0x30, tlv(0x30, oid(OID_SUBJECT_ALT_NAME), tlv(0x04, generalNames)));
  const attributes = tlv(0xa0, tlv(0x30, oid(OID_EXTENSION_REQUEST), tlv(0x31, extensions)));
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const info = tlv(0x30, tlv(0x02, Buffer.from([0])), tlv(0x30), spki, attributes);
  const signature = sign('sha256', info, { key: privateKey, dsaEncoding: 'der' });
  const der = tlv(0x30, info, tlv(0x30, oid(OID_ECDSA_SHA256)), tlv(0x03, Buffer.from([0]), signature));
  const b64 = der.toString('base64').replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN CERTIFICATE REQUEST-----\n${b64}-----END CERTIFICATE REQUEST-----\n`;
}
