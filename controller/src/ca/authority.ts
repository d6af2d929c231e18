// The mesh CA: trust anchors (self-signed roots, several during a rotation) and one issuer (an
// intermediate under the newest anchor) whose key signs workload leaves. Root keys are discarded
// once their issuer is signed, as with an offline root; only the issuer key is kept (tls.key).
// Material is PEM (ca.crt / tls.crt / tls.key, the cert-manager layout); store.ts persists it.

import { KeyObject, X509Certificate as NodeX509, createPrivateKey, randomBytes } from 'node:crypto';
import { MeshError } from '../../../common/errors.js';
import { checkCsr } from './csr.js';
import { LeafSigner } from './leaf.js';
import { P256, joinPem, splitPem, subtle, x509, type CryptoKey, type CryptoKeyPair } from './x509.js';

/** What a CA is made of, as files or Secret keys: ca.crt, tls.crt, tls.key. */
export interface CaMaterial {
  /** trust anchors, oldest first (ca.crt may hold several) */
  readonly anchorsPem: readonly string[];
  /** the issuer certificate first, then any intermediates above it (never a self-signed root) */
  readonly issuerChainPem: readonly string[];
  /** the issuer's private key, PKCS#8 PEM */
  readonly issuerKeyPem: string;
}

export interface MeshCaOptions {
  readonly trustDomain: string;
  /** leaf lifetime, default 24 h */
  readonly certTtlMs?: number;
  /** leaf notBefore = now − skew, default 5 min */
  readonly skewMs?: number;
  /** root lifetime for generated anchors, default 10 years; issuer lifetime default 1 year */
  readonly rootTtlMs?: number;
  readonly issuerTtlMs?: number;
  readonly now?: () => number;
}

/** A signed workload certificate, as the Sign RPC returns it. */
export interface IssuedCert {
  /** leaf first, then the issuer chain */
  readonly chainPem: readonly string[];
  readonly trustAnchorsPem: readonly string[];
  readonly notAfterMs: number;
  readonly notBeforeMs: number;
  /** hex, lowercase */
  readonly serial: string;
}

export interface CaInfo {
  readonly trustDomain: string;
  readonly anchors: readonly { subject: string; fingerprint256: string; notAfter: string }[];
  readonly issuer: { subject: string; serial: string; notAfter: string; anchorFingerprint256: string };
}

interface Issuer {
  readonly cert: x509.X509Certificate;
  readonly chainPem: readonly string[];
  readonly key: CryptoKey;
  /** signs leaves: issuer name, key and the fixed extensions prepared once */
  readonly leaves: LeafSigner;
  /** the anchor this issuer chains to */
  readonly anchorPem: string;
}

/** Fixed extensions of every leaf: not a CA, digitalSignature, server+client auth, the issuer's key id. */
async function leafExtensions(issuer: x509.X509Certificate): Promise<x509.Extension[]> {
  return [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth], false),
    await x509.AuthorityKeyIdentifierExtension.create(issuer.publicKey),
  ];
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
export const DEFAULT_CERT_TTL_MS = DAY;
export const DEFAULT_SKEW_MS = 5 * 60_000;
const DEFAULT_ROOT_TTL_MS = 10 * 365 * DAY;
const DEFAULT_ISSUER_TTL_MS = 365 * DAY;

/** 16 random bytes, positive and exactly 16 bytes long in DER (top bit clear, next bit set). */
export function randomSerial(): string {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x3f) | 0x40;
  return b.toString('hex');
}

const caFail = (msg: string, cause?: unknown): MeshError => new MeshError('MESH_ERR_CA', msg, cause ? { cause } : undefined);

async function generateKeys(): Promise<CryptoKeyPair> {
  return (await subtle.generateKey(P256, true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function exportKeyPem(key: CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

async function importKeyPem(pem: string): Promise<CryptoKey> {
  const der = createPrivateKey(pem).export({ type: 'pkcs8', format: 'der' });
  return subtle.importKey('pkcs8', der, { name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign']);
}

const fingerprint = (pem: string): string => new NodeX509(pem).fingerprint256;

/** Does `cert` verify under `issuerPem`'s key, and name it as issuer? */
function issuedBy(cert: NodeX509, issuerPem: string): boolean {
  const issuer = new NodeX509(issuerPem);
  return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
}

export class MeshCA {
  readonly trustDomain: string;
  readonly certTtlMs: number;
  readonly skewMs: number;
  readonly #o: MeshCaOptions;
  readonly #now: () => number;
  #anchors: string[];
  #issuer: Issuer;
  #generation = 0;

  private constructor(o: MeshCaOptions, anchors: string[], issuer: Issuer) {
    this.#o = o;
    this.trustDomain = o.trustDomain;
    this.certTtlMs = o.certTtlMs ?? DEFAULT_CERT_TTL_MS;
    this.skewMs = o.skewMs ?? DEFAULT_SKEW_MS;
    if (!(this.certTtlMs >= 60_000)) throw new MeshError('MESH_ERR_CONFIG', `certificate lifetime ${this.certTtlMs} ms is too short; give at least 1 minute (--cert-ttl)`);
    this.#now = o.now ?? Date.now;
    this.#anchors = anchors;
    this.#issuer = issuer;
  }

  /** A new CA: one fresh anchor and an issuer under it. */
  static async generate(o: MeshCaOptions): Promise<MeshCA> {
    const { anchorPem, issuer } = await MeshCA.#newHierarchy(o);
    return new MeshCA(o, [anchorPem], issuer);
  }

  /** A CA from stored material; checks that the issuer chains to an anchor and the key matches. */
  static async load(m: CaMaterial, o: MeshCaOptions): Promise<MeshCA> {
    const anchors = m.anchorsPem.flatMap(splitPem);
    const chain = m.issuerChainPem.flatMap(splitPem).filter((c) => { const n = new NodeX509(c); return !(n.issuer === n.subject && n.verify(n.publicKey)); });
    if (anchors.length === 0) throw caFail('ca.crt holds no certificate; it must hold the PEM trust anchor(s)');
    if (chain.length === 0) throw caFail('tls.crt holds no issuer certificate; it must hold the PEM issuer (intermediate) certificate');
    for (const a of anchors) {
      const n = new NodeX509(a);
      if (!n.ca) throw caFail(`the trust anchor ${n.subject} in ca.crt is not a CA certificate`);
    }
    const leaf = new NodeX509(chain[0]!);
    if (!leaf.ca) throw caFail(`the issuer ${leaf.subject} in tls.crt is not a CA certificate (basicConstraints CA:TRUE is needed)`);
    if (Date.parse(leaf.validTo) <= (o.now ?? Date.now)()) throw caFail(`the issuer ${leaf.subject} expired on ${leaf.validTo}; rotate the CA`);
    for (let i = 0; i + 1 < chain.length; i++) {
      if (!issuedBy(new NodeX509(chain[i]!), chain[i + 1]!)) throw caFail(`tls.crt is not a chain: certificate ${i} is not issued by certificate ${i + 1}`);
    }
    const top = new NodeX509(chain.at(-1)!);
    const anchorPem = anchors.find((a) => issuedBy(top, a));
    if (!anchorPem) throw caFail('the issuer in tls.crt does not chain to any trust anchor in ca.crt; put its root in ca.crt');
    let keyPem = m.issuerKeyPem;
    try {
      if (!leaf.checkPrivateKey(createPrivateKey(keyPem))) throw new Error('it is not the key of the issuer certificate');
      keyPem = createPrivateKey(keyPem).export({ type: 'pkcs8', format: 'pem' }).toString();
    } catch (e) {
      throw caFail(`tls.key is not the issuer's private key: ${(e as Error).message}`, e);
    }
    if (createPrivateKey(keyPem).asymmetricKeyDetails?.namedCurve !== 'prime256v1') throw caFail('tls.key must be an EC P-256 key');
    const cert = new x509.X509Certificate(chain[0]!);
    const issuer = await MeshCA.#issuerFrom(cert, chain, await importKeyPem(keyPem), anchorPem);
    return new MeshCA(o, anchors, issuer);
  }

  static async #issuerFrom(cert: x509.X509Certificate, chainPem: readonly string[], key: CryptoKey, anchorPem: string): Promise<Issuer> {
    return { cert, chainPem, key, anchorPem, leaves: new LeafSigner(cert, KeyObject.from(key), await leafExtensions(cert)) };
  }

  static async #newHierarchy(o: MeshCaOptions): Promise<{ anchorPem: string; issuer: Issuer }> {
    const now = (o.now ?? Date.now)();
    const skew = o.skewMs ?? DEFAULT_SKEW_MS;
    const tag = randomBytes(4).toString('hex');
    const rootKeys = await generateKeys();
    const root = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: randomSerial(),
      name: `CN=nodemesh root ${o.trustDomain} ${tag}, O=nodemesh`,
      notBefore: new Date(now - skew),
      notAfter: new Date(now + (o.rootTtlMs ?? DEFAULT_ROOT_TTL_MS)),
      signingAlgorithm: P256,
      keys: rootKeys,
      extensions: [
        new x509.BasicConstraintsExtension(true, 1, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(rootKeys.publicKey),
      ],
    });
    const keys = await generateKeys();
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerial(),
      subject: `CN=nodemesh issuer ${o.trustDomain} ${tag}, O=nodemesh`,
      issuer: root.subjectName,
      notBefore: new Date(now - skew),
      notAfter: new Date(Math.min(now + (o.issuerTtlMs ?? DEFAULT_ISSUER_TTL_MS), root.notAfter.getTime())),
      signingAlgorithm: P256,
      publicKey: keys.publicKey,
      signingKey: rootKeys.privateKey,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
        await x509.AuthorityKeyIdentifierExtension.create(rootKeys.publicKey),
      ],
    });
    // the root key goes out of scope here: nothing can sign under this anchor but this issuer
    const anchorPem = `${root.toString('pem').trim()}\n`;
    const issuer = await MeshCA.#issuerFrom(cert, [`${cert.toString('pem').trim()}\n`], keys.privateKey, anchorPem);
    return { anchorPem, issuer };
  }

  /** The trust bundle, oldest anchor first. */
  get anchors(): readonly string[] {
    return this.#anchors;
  }

  /** Bumped by every rotation or anchor removal (for watchers). */
  get generation(): number {
    return this.#generation;
  }

  get issuerNotAfterMs(): number {
    return this.#issuer.cert.notAfter.getTime();
  }

  info(): CaInfo {
    const i = this.#issuer.cert;
    return {
      trustDomain: this.trustDomain,
      anchors: this.#anchors.map((a) => { const n = new NodeX509(a); return { subject: n.subject, fingerprint256: n.fingerprint256, notAfter: n.validTo }; }),
      issuer: { subject: i.subject, serial: i.serialNumber, notAfter: i.notAfter.toISOString(), anchorFingerprint256: fingerprint(this.#issuer.anchorPem) },
    };
  }

  /** The files/Secret keys of this CA (tls.key holds the issuer key: store it 0600). */
  async material(): Promise<CaMaterial> {
    return { anchorsPem: [...this.#anchors], issuerChainPem: [...this.#issuer.chainPem], issuerKeyPem: await exportKeyPem(this.#issuer.key) };
  }

  /**
   * Rotation step 1: a new anchor joins the bundle and a new issuer under it signs from now on;
   * the old anchors stay, so certificates issued before keep verifying everywhere.
   */
  async rotate(): Promise<void> {
    const { anchorPem, issuer } = await MeshCA.#newHierarchy({ ...this.#o, now: this.#now });
    this.#anchors = [...this.#anchors, anchorPem];
    this.#issuer = issuer;
    this.#generation++;
  }

  /**
   * Rotation step 2 (after every workload renewed under the new issuer): drops the anchors the
   * current issuer does not chain to, or only those with the given SHA-256 fingerprints.
   * Returns the fingerprints removed.
   */
  removeAnchors(fingerprints?: readonly string[]): string[] {
    const keep = fingerprint(this.#issuer.anchorPem);
    const norm = (f: string): string => f.toUpperCase().replace(/[^0-9A-F]/g, '');
    const wanted = fingerprints?.map(norm);
    if (wanted?.includes(norm(keep))) throw new MeshError('MESH_ERR_CA', `anchor ${keep} signs the current issuer and cannot be removed; rotate first`);
    const removed: string[] = [];
    this.#anchors = this.#anchors.filter((a) => {
      const f = fingerprint(a);
      const drop = f !== keep && (!wanted || wanted.includes(norm(f)));
      if (drop) removed.push(f);
      return !drop;
    });
    if (removed.length > 0) this.#generation++;
    return removed;
  }

  /** Checks a CSR for `identity` and signs it (see csr.ts for the checks). */
  async sign(csrPem: string, identity: string): Promise<IssuedCert> {
    const checked = await checkCsr(csrPem, identity);
    return this.issue(checked.publicKey, identity);
  }

  /** Signs a leaf for an already checked key and identity. */
  async issue(publicKey: x509.PublicKey, identity: string): Promise<IssuedCert> {
    const issuer = this.#issuer;
    const now = this.#now();
    // X.509 times have whole seconds: round here so what we report is what the certificate says
    const notBefore = Math.floor((now - this.skewMs) / 1000) * 1000;
    const notAfter = Math.floor(Math.min(now + this.certTtlMs, issuer.cert.notAfter.getTime()) / 1000) * 1000;
    if (notAfter <= now) throw new MeshError('MESH_ERR_CA', `the issuer ${issuer.cert.subject} has expired; rotate the CA`);
    const serial = randomSerial();
    // an empty subject makes the SAN the name: LeafSigner marks it critical (RFC 5280 4.2.1.6)
    const der = issuer.leaves.issue({ spki: publicKey.rawData, identity, serialHex: serial, notBefore: new Date(notBefore), notAfter: new Date(notAfter) });
    return {
      chainPem: [`${x509.PemConverter.encode(der, 'CERTIFICATE').trim()}\n`, ...issuer.chainPem],
      trustAnchorsPem: this.#anchors,
      notBeforeMs: notBefore,
      notAfterMs: notAfter,
      serial,
    };
  }
}

export { joinPem, splitPem };
