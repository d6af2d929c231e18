// The MESH_ERR_* registry: one error class for every failure that crosses a folder boundary.
// Each code is stable (never renamed, never reused) and listed in docs/errors.md with its fix.
// Native errors arrive with the same codes (native/src/errors.rs) and are rewrapped by native/index.ts.

export const ERROR_CODES = {
  MESH_ERR_INVALID_ARG: 'an argument passed to a nodemesh API is out of range or malformed',
  MESH_ERR_NOT_ROOT: 'the command needs root (CAP_NET_ADMIN, CAP_BPF, CAP_SYS_ADMIN)',
  MESH_ERR_NO_BTF: 'the kernel exposes no BTF at /sys/kernel/btf/vmlinux',
  MESH_ERR_NO_BPFFS: 'bpffs is not mounted at /sys/fs/bpf',
  MESH_ERR_NO_CGROUP2: 'cgroup2 is not mounted',
  MESH_ERR_NO_TCX: 'the kernel has no TCX (needs Linux 6.6 or newer)',
  MESH_ERR_NO_TOOL: 'a required tool is not installed',
  MESH_ERR_NOT_BUILT: 'a build artifact (native addon or BPF object) is missing',
  MESH_ERR_BPF_LOAD: 'the BPF object could not be opened or loaded',
  MESH_ERR_BPF_ATTACH: 'a BPF program could not be attached to or detached from an interface',
  MESH_ERR_BPF_MAP: 'a BPF map operation failed',
  MESH_ERR_BPF_PIN: 'a bpffs pin could not be created, opened or removed',
  MESH_ERR_NETNS: 'a network namespace could not be entered',
  MESH_ERR_LISTEN: 'a proxy listener could not be opened',
  MESH_ERR_CLOSED: 'the native object was already closed',
  MESH_ERR_NATIVE_PANIC: 'the native addon panicked (a bug); the call failed but the process is intact',
  MESH_ERR_MANIFEST: 'a manifest object is invalid and was rejected',
  MESH_ERR_CONFIG: 'agent or cluster configuration is invalid',
  MESH_ERR_ROUTING: 'policy routing for steered packets could not be installed',
  MESH_ERR_CAPTURE: 'capture could not be set up for a pod',
  MESH_ERR_CLUSTER: 'the simulated cluster could not be built or torn down',
  MESH_ERR_COMMAND: 'an external command failed',
  MESH_ERR_DEMO: 'a demo step failed',
  MESH_ERR_NOT_ENROLLED: 'a captured connection came from or went to a workload that is not enrolled',
  MESH_ERR_DIRECT_CONNECT: 'a client connected straight to a proxy port without being captured',
  MESH_ERR_USAGE: 'the command line is malformed',
  MESH_ERR_AUTH: 'an agent presented credentials that are not valid for the node it named, or an insight API caller sent no token or one that is not accepted',
  MESH_ERR_NO_ENDPOINTS: 'a connection to a Service found no ready endpoint',
  MESH_ERR_KUBE_CONFIG: 'no usable Kubernetes client configuration (kubeconfig file or in-cluster ServiceAccount)',
  MESH_ERR_KUBE_UNAUTHORIZED: 'the Kubernetes API server rejected the credentials (HTTP 401)',
  MESH_ERR_KUBE_FORBIDDEN: 'the Kubernetes API server refused to list or watch a resource (HTTP 403, RBAC)',
  MESH_ERR_KUBE_API_MISSING: 'the Kubernetes API server does not serve a resource type (HTTP 404, e.g. a CRD not installed)',
  MESH_ERR_KUBE_API: 'a Kubernetes API request failed (5xx, connection, timeout); it is retried with backoff',
  MESH_ERR_KUBE_WATCH: 'a Kubernetes watch stream broke (cut mid-event, malformed line, error event); it is resumed',
  MESH_ERR_CA: 'the mesh CA could not be loaded, generated, stored or used to sign',
  MESH_ERR_CSR_INVALID: 'a certificate signing request was rejected (parse, signature, key type or subject alternative names)',
  MESH_ERR_CSR_FORBIDDEN: 'a node asked for the certificate of an identity none of its pods runs as',
  MESH_ERR_CSR_RATE_LIMITED: 'a node sent certificate requests faster than its rate limit',
  MESH_ERR_CERT: 'an agent could not obtain or renew a workload certificate',
  MESH_ERR_NO_CERTIFICATE: 'a meshed pod\'s cross-node connection was refused because its node holds no certificate for its identity (yet)',
  MESH_ERR_TLS_HANDSHAKE: 'the mutual TLS handshake of an HBONE tunnel failed (expired, not yet valid, unknown issuer, self-signed or chain-less certificate, no client certificate)',
  MESH_ERR_PEER_IDENTITY: 'the HBONE peer presented a valid certificate of another SPIFFE identity (or another trust domain) than the destination workload\'s',
  MESH_ERR_TUNNEL_CONNECT: 'the TCP connection to a peer node proxy\'s :15008, or the HTTP/2 connection over it, failed',
  MESH_ERR_TUNNEL_REFUSED: 'the destination node proxy answered the CONNECT with 400 or 503 (not a local enrolled pod, a proxy port, or the pod refused the connection)',
  MESH_ERR_TUNNEL_PROTOCOL: 'an HTTP/2 protocol violation or unexpected stream reset on an HBONE tunnel',
  MESH_ERR_TUNNEL_TIMEOUT: 'opening an HBONE stream (connect, handshake or the CONNECT answer) took longer than the connect timeout',
  MESH_ERR_TUNNEL_AUTHORITY: 'an HBONE CONNECT named an :authority that is not a local enrolled pod with the identity the connection presented, or a proxy port',
  MESH_ERR_AUTHZ_DENIED: 'an AuthorizationPolicy (or the default inbound policy) denied the connection',
  MESH_ERR_MTLS_REQUIRED: 'a STRICT MeshTLSPolicy refused plaintext from a client outside the mesh',
  MESH_ERR_NO_ROUTE: '(HTTP 404 from the node proxy) an HTTPRoute or GRPCRoute is attached to the Service port, and no rule matched the request',
  MESH_ERR_INVALID_BACKEND: '(HTTP 500) the matched rule has no backends, or picked a backendRef that does not resolve (unknown Service, port or kind)',
  MESH_ERR_BAD_REQUEST: '(HTTP 400) the request was malformed (smuggling shapes, oversized headers, invalid HTTP/2); only that connection or stream was closed',
  MESH_ERR_REQUEST_TIMEOUT: '(HTTP 504) the route\'s `timeouts.request` elapsed (all attempts together)',
  MESH_ERR_BACKEND_TIMEOUT: '(HTTP 504) one attempt exceeded the route\'s `timeouts.backendRequest`',
  MESH_ERR_UPSTREAM_CONNECT: '(HTTP 503) no endpoint could be connected for the request (refused, unreachable, tunnel failure)',
  MESH_ERR_UPSTREAM_RESET: '(HTTP 502) the backend reset or closed the connection before a complete response',
  MESH_ERR_ENDPOINTS_EJECTED: '(HTTP 503) every endpoint of the backend is ejected by failure accrual (consecutive failures) and none is due for a probe',
  MESH_ERR_PENDING_LIMIT: '(HTTP 503) the chosen endpoint already had the maximum of pending requests (`limits.maxPendingPerEndpoint`)',
  MESH_ERR_RATE_LIMITED: '(HTTP 429 with `retry-after`; gRPC RESOURCE_EXHAUSTED) a RateLimitPolicy\'s token bucket on this node proxy was empty',
  MESH_ERR_FAULT_ABORT: '(the configured status) a FaultPolicy abort fault was injected on purpose',
  MESH_ERR_INTERNAL: 'an unexpected failure inside an admin or proxy handler (a bug); that request failed, the process lives',
  MESH_ERR_FUZZ: 'a bounded cargo fuzz run found a crash, or could not run (no nightly toolchain or cargo-fuzz)',
  MESH_ERR_TRACE_EXPORT: 'an OTLP span export to the trace collector failed or timed out; those spans were dropped and counted (traffic is never held for it)',
  MESH_ERR_LOG_DROPPED: 'the node proxy produced log lines faster than the agent wrote them; the excess was dropped and counted',
  MESH_ERR_PROTOCOL: 'a telemetry report from an agent was malformed; that report was dropped, the stream stays',
  MESH_ERR_TAP_FORBIDDEN: 'a tap, stat or explain request named a namespace the caller\'s credentials may not see',
  MESH_ERR_TAP_SLOW: 'a tap client stopped reading; it was cut off so the controller\'s memory does not grow',
  MESH_ERR_NOT_FOUND: 'the pod, workload or node named is not known to the controller',
} as const;

export type MeshErrorCode = keyof typeof ERROR_CODES;

/** Brands every MeshError, so `instanceof MeshError` also holds across two copies of this module
 *  (the bundled agent's and the CLI's around it). */
const BRAND = Symbol.for('nodemesh.MeshError');

export class MeshError extends Error {
  readonly code: MeshErrorCode;
  declare readonly [BRAND]: true;

  constructor(code: MeshErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MeshError';
    this.code = code;
    Object.defineProperty(this, BRAND, { value: true });
  }

  static override [Symbol.hasInstance](v: unknown): boolean {
    // subclasses (SignError, Refusal, ...) keep the ordinary prototype check
    if (this !== MeshError) return Function.prototype[Symbol.hasInstance].call(this, v);
    return typeof v === 'object' && v !== null && (v as { [BRAND]?: unknown })[BRAND] === true;
  }
}

export function isMeshError(e: unknown): e is MeshError {
  return e instanceof MeshError;
}

/** Rewraps any thrown value as a MeshError, keeping a MESH_ERR_* code it already carries. */
export function toMeshError(e: unknown, fallback: MeshErrorCode, context: string): MeshError {
  if (e instanceof MeshError) return e;
  const code = (e as { code?: unknown } | null)?.code;
  const msg = e instanceof Error ? e.message : String(e);
  if (typeof code === 'string' && code in ERROR_CODES) {
    return new MeshError(code as MeshErrorCode, `${context}: ${msg}`, { cause: e });
  }
  return new MeshError(fallback, `${context}: ${msg}`, { cause: e });
}
