// The CertificateService (proto/nodemesh/ca/v1/ca.proto) beside the config stream: checks the node
// credential (UNAUTHENTICATED), that a pod of that node runs as the identity (PERMISSION_DENIED),
// the node's rate limit (RESOURCE_EXHAUSTED, before any CSR parsing so a flood costs little), then
// the CSR (INVALID_ARGUMENT), and signs. Every error's details start with its MESH_ERR_* code.

import type { Logger } from 'pino';
import { MeshError, type MeshErrorCode } from '../../../common/errors.js';
import { grpc } from '../grpc/index.js';
import type { NodeAuth } from '../server/auth.js';
import type { CsrSigner } from './pool.js';
import type { CaMetrics, CsrResult } from './metrics.js';
import type { SignRequestWire, SignResponseWire } from '../grpc/index.js';
import { TokenBuckets, type RateLimitOptions } from './ratelimit.js';

/** Which identities a node's pods run as (the config model answers). */
export interface IdentityDirectory {
  nodeHasIdentity(node: string, identity: string): boolean;
}

export interface CertificateServiceOptions {
  /** what signs (the MeshCA or a SignPool of it); a function so a rotation takes effect at once */
  readonly signer: () => CsrSigner;
  readonly auth: NodeAuth;
  readonly directory: IdentityDirectory;
  readonly metrics: CaMetrics;
  readonly log: Logger;
  readonly rateLimit?: RateLimitOptions;
}

/** A refused request: a MeshError with the gRPC status and the metric label it maps to. */
export class Refusal extends MeshError {
  readonly status: grpc.status;
  readonly result: CsrResult;
  constructor(status: grpc.status, result: CsrResult, code: MeshErrorCode, message: string) {
    super(code, message);
    this.status = status;
    this.result = result;
  }
}

type Call = grpc.ServerUnaryCall<SignRequestWire, SignResponseWire>;
type Callback = grpc.sendUnaryData<SignResponseWire>;

export class CertificateService {
  readonly #o: CertificateServiceOptions;
  readonly #limits: TokenBuckets;

  constructor(o: CertificateServiceOptions) {
    this.#o = o;
    this.#limits = new TokenBuckets(o.rateLimit);
  }

  /** The implementation to pass to grpc.Server.addService with certificateServiceDefinition. */
  handlers(): grpc.UntypedServiceImplementation {
    return { sign: (call: Call, cb: Callback) => { void this.#onSign(call, cb); } };
  }

  /** The whole check-and-sign path without gRPC (also used by the in-process benchmark). */
  async sign(req: SignRequestWire): Promise<SignResponseWire> {
    const node = typeof req.node === 'string' ? req.node : '';
    const token = typeof req.token === 'string' ? req.token : '';
    const identity = typeof req.identity === 'string' ? req.identity : '';
    if (!node || !token) throw new Refusal(grpc.status.UNAUTHENTICATED, 'unauthenticated', 'MESH_ERR_AUTH', 'the request names no node or carries no token; send the node name and its credential as in the config stream\'s Hello');
    try {
      await this.#o.auth.verify(node, token);
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      if (code === 'MESH_ERR_AUTH') throw new Refusal(grpc.status.UNAUTHENTICATED, 'unauthenticated', 'MESH_ERR_AUTH', (e as Error).message);
      throw new Refusal(grpc.status.UNAVAILABLE, 'error', typeof code === 'string' && code.startsWith('MESH_ERR_') ? code as MeshErrorCode : 'MESH_ERR_AUTH', `the node credential could not be checked: ${(e as Error).message}; retry later`);
    }
    if (!this.#o.directory.nodeHasIdentity(node, identity)) {
      throw new Refusal(grpc.status.PERMISSION_DENIED, 'forbidden', 'MESH_ERR_CSR_FORBIDDEN', `no pod scheduled on node "${node}" runs as "${identity}"; a node may only obtain certificates for its own pods' identities (is the pod scheduled here and does it have an IP yet?)`);
    }
    if (!this.#limits.take(node)) {
      throw new Refusal(grpc.status.RESOURCE_EXHAUSTED, 'rate_limited', 'MESH_ERR_CSR_RATE_LIMITED', `node "${node}" sent more than ${this.#limits.burst} certificate requests at once (refill ${this.#limits.ratePerSec}/s); retry in ${this.#limits.retryAfterMs(node)} ms with backoff`);
    }
    try {
      const c = await this.#o.signer().sign(req.csrPem, identity);
      return { certChainPem: [...c.chainPem], trustAnchorsPem: [...c.trustAnchorsPem], notAfterMs: c.notAfterMs, serial: c.serial };
    } catch (e) {
      if (e instanceof MeshError && e.code === 'MESH_ERR_CSR_INVALID') throw new Refusal(grpc.status.INVALID_ARGUMENT, 'invalid', e.code, e.message);
      if (e instanceof MeshError) throw new Refusal(grpc.status.FAILED_PRECONDITION, 'error', e.code, e.message);
      throw e;
    }
  }

  async #onSign(call: Call, cb: Callback): Promise<void> {
    const t0 = performance.now();
    const { metrics, log } = this.#o;
    try {
      const res = await this.sign(call.request);
      metrics.csr.inc({ result: 'signed' });
      metrics.signDuration.observe((performance.now() - t0) / 1000);
      cb(null, res);
    } catch (e) {
      const r = e instanceof Refusal ? e : new Refusal(grpc.status.INTERNAL, 'error', 'MESH_ERR_CA', `signing failed: ${(e as Error).message}; this is a controller bug, report it`);
      metrics.csr.inc({ result: r.result });
      const md = new grpc.Metadata();
      md.set('mesh-error-code', r.code);
      // never log the CSR or the token; the node and identity are enough to act on
      const fields = { code: r.code, node: call.request.node, identity: call.request.identity, result: r.result };
      if (r.result === 'rate_limited') log.debug(fields, r.message); else log.warn(fields, r.message);
      cb({ code: r.status, details: `${r.code}: ${r.message}`, metadata: md });
    }
  }
}
