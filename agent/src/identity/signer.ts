// Who signs a workload's CSR: the controller's CertificateService over gRPC (GrpcSigner, with the
// node's credential like the config stream), or, in standalone mode, a CA in this process whose
// material lives in a local state directory (LocalSigner). Both answer the same SignResult.

import { MeshError, type MeshErrorCode } from '../../../common/errors.js';
import { CertificateServiceClient, grpc, type SignRequestWire, type SignResponseWire } from '../../../controller/src/grpc/index.js';
import type { MeshCA } from '../../../controller/src/ca/index.js';
import type { DefaultInboundPolicy, MeshCfg } from '../../../controller/src/views/index.js';

export interface SignResult {
  /** leaf first, then the issuer chain */
  readonly chainPem: readonly string[];
  readonly trustAnchorsPem: readonly string[];
  readonly notAfterMs: number;
  readonly serial: string;
}

export interface CertificateSigner {
  /** Signs `csrPem` for `identity`; rejects with MESH_ERR_CERT saying why. */
  sign(identity: string, csrPem: string): Promise<SignResult>;
  close(): void;
}

/** A signer's refusal or failure: MESH_ERR_CERT, with the gRPC status and the controller's code. */
export class SignError extends MeshError {
  readonly grpcCode: number | undefined;
  readonly remoteCode: string | undefined;
  constructor(message: string, grpcCode?: number, remoteCode?: string, options?: { cause?: unknown }) {
    super('MESH_ERR_CERT', message, options);
    this.grpcCode = grpcCode;
    this.remoteCode = remoteCode;
  }
}

export interface GrpcSignerOptions {
  /** host:port of the controller (15012, the config stream's port) */
  readonly address: string;
  readonly node: string;
  readonly token: string;
  /** per-request deadline, default 10 s */
  readonly timeoutMs?: number;
}

type SignClient = grpc.Client & { sign(req: SignRequestWire, md: grpc.Metadata, opts: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r?: SignResponseWire) => void): void };

export class GrpcSigner implements CertificateSigner {
  readonly #o: GrpcSignerOptions;
  readonly #client: SignClient;

  constructor(o: GrpcSignerOptions) {
    this.#o = o;
    this.#client = new CertificateServiceClient(o.address, grpc.credentials.createInsecure(), {
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5_000,
      'grpc.initial_reconnect_backoff_ms': 200,
      'grpc.max_reconnect_backoff_ms': 5_000,
    }) as unknown as SignClient;
  }

  sign(identity: string, csrPem: string): Promise<SignResult> {
    const req: SignRequestWire = { node: this.#o.node, token: this.#o.token, identity, csrPem };
    const deadline = Date.now() + (this.#o.timeoutMs ?? 10_000);
    return new Promise((resolve, reject) => {
      // waitForReady: a channel still in its reconnect backoff (the controller just came back) waits
      // for the connection within the deadline instead of failing at once and costing a full retry backoff
      this.#client.sign(req, new grpc.Metadata({ waitForReady: true }), { deadline }, (e, r) => {
        if (e || !r) {
          const details = e?.details ?? 'empty answer';
          const remote = /^(MESH_ERR_[A-Z_]+):/.exec(details)?.[1];
          const unreachable = e?.code === grpc.status.UNAVAILABLE || e?.code === grpc.status.DEADLINE_EXCEEDED;
          const msg = unreachable
            ? `the controller at ${this.#o.address} did not answer the certificate request for ${identity} (${details}); the current certificate stays in use until it expires, retrying`
            : `the controller refused the certificate request for ${identity}: ${details}`;
          reject(new SignError(msg, e?.code, remote, { cause: e }));
          return;
        }
        resolve({ chainPem: r.certChainPem, trustAnchorsPem: r.trustAnchorsPem, notAfterMs: Number(r.notAfterMs), serial: r.serial });
      });
    });
  }

  close(): void {
    this.#client.close();
  }
}

export interface LocalSignerOptions {
  /** the CA's state directory (ca.crt, tls.crt, tls.key); generated on first use */
  readonly caDir: string;
  readonly trustDomain: string;
  readonly certTtlMs?: number;
  /** which identities this node may have (its own pods'); default any of the trust domain */
  readonly allow?: (identity: string) => boolean;
}

/** Standalone mode: the agent is its own CA. Share caDir between agents so they trust each other. */
export class LocalSigner implements CertificateSigner {
  readonly ca: MeshCA;
  readonly #allow: ((identity: string) => boolean) | undefined;

  constructor(ca: MeshCA, allow?: (identity: string) => boolean) {
    this.ca = ca;
    this.#allow = allow;
  }

  /** Loads the CA from caDir, generating it there on first start. */
  static async open(o: LocalSignerOptions): Promise<LocalSigner> {
    // the CA code (and its x509 library) only loads in standalone mode
    const { DirCaStore, openCa } = await import('../../../controller/src/ca/index.js');
    const { ca } = await openCa(new DirCaStore(o.caDir), { trustDomain: o.trustDomain, generate: true, ...(o.certTtlMs !== undefined ? { certTtlMs: o.certTtlMs } : {}) });
    return new LocalSigner(ca, o.allow);
  }

  /** The mesh settings standalone mode streams to itself (LocalFeed's `mesh`). */
  meshConfig(defaultInboundPolicy: DefaultInboundPolicy = 'all-unauthenticated'): MeshCfg {
    return { trustDomain: this.ca.trustDomain, trustAnchors: this.ca.anchors, defaultInboundPolicy };
  }

  async sign(identity: string, csrPem: string): Promise<SignResult> {
    if (this.#allow && !this.#allow(identity)) throw new SignError(`no pod of this node runs as ${identity}; the local CA signs only this node's identities`, undefined, 'MESH_ERR_CSR_FORBIDDEN');
    try {
      const c = await this.ca.sign(csrPem, identity);
      return { chainPem: c.chainPem, trustAnchorsPem: c.trustAnchorsPem, notAfterMs: c.notAfterMs, serial: c.serial };
    } catch (e) {
      const code = (e as { code?: MeshErrorCode }).code;
      throw new SignError(`the local CA refused the certificate request for ${identity}: ${(e as Error).message}`, undefined, code, { cause: e });
    }
  }

  close(): void {
    /* nothing held */
  }
}
