// The one place @peculiar/x509 is loaded: it needs a Reflect metadata polyfill imported first and
// node's WebCrypto as its provider. Also the small PEM and SPIFFE helpers both ends share (the
// controller's CA and the agent's identity manager).

import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { MeshError } from '../../../common/errors.js';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export { x509 };
export const subtle = webcrypto.subtle;
export type CryptoKey = webcrypto.CryptoKey;
export type CryptoKeyPair = webcrypto.CryptoKeyPair;

/** ECDSA P-256 with SHA-256: every key and signature of the mesh. */
export const P256 = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

const PEM_CERT = /-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+?-----END CERTIFICATE-----/g;

/** The certificates of a PEM bundle, each normalised to one block ending in a newline. */
export function splitPem(bundle: string): string[] {
  return (bundle.match(PEM_CERT) ?? []).map((b) => `${b.trim()}\n`);
}

export function joinPem(certs: readonly string[]): string {
  return certs.map((c) => `${c.trim()}\n`).join('');
}

/** spiffe://<trust-domain>/ns/<ns>/sa/<sa>: the identity of a Kubernetes ServiceAccount. */
export function spiffeUri(trustDomain: string, namespace: string, serviceAccount: string): string {
  return `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

const TRUST_DOMAIN = /^[a-z0-9]([a-z0-9._-]{0,253}[a-z0-9])?$/;
const SEGMENT = /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/;

export function isTrustDomain(s: string): boolean {
  return TRUST_DOMAIN.test(s);
}

export interface SpiffeParts { readonly trustDomain: string; readonly namespace: string; readonly serviceAccount: string }

/** Parses a workload SPIFFE ID of this mesh's shape; undefined when it is not one. */
export function parseSpiffeUri(id: string): SpiffeParts | undefined {
  const m = /^spiffe:\/\/([^/]+)\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(id);
  if (!m || !isTrustDomain(m[1]!) || !SEGMENT.test(m[2]!) || !SEGMENT.test(m[3]!)) return undefined;
  return { trustDomain: m[1]!, namespace: m[2]!, serviceAccount: m[3]! };
}

/** Throws MESH_ERR_INVALID_ARG unless `id` is a workload SPIFFE ID of `trustDomain`. */
export function checkSpiffeUri(id: string, trustDomain: string): SpiffeParts {
  const p = parseSpiffeUri(id);
  if (!p) throw new MeshError('MESH_ERR_INVALID_ARG', `"${id}" is not a workload identity; use spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>`);
  if (p.trustDomain !== trustDomain) throw new MeshError('MESH_ERR_INVALID_ARG', `identity "${id}" is not in the trust domain "${trustDomain}"`);
  return p;
}
