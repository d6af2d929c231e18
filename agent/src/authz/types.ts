// Wire shape of inbound authorization: the `authz` part of the decision table (compile.ts writes
// it, native/src/proxy/authz.rs parses it) and the input and verdict of one evaluation, which
// evaluate.ts and the native proxy compute identically (rows in test/fixtures/authz/cases.json).

import type { DefaultInboundPolicy } from '../state/index.js';

export type { DefaultInboundPolicy };

/** MeshTLSPolicy mode. DISABLE accepts inbound plaintext exactly like PERMISSIVE. */
export type TlsMode = 'STRICT' | 'PERMISSIVE' | 'DISABLE';
export type AuthzAction = 'ALLOW' | 'DENY' | 'AUDIT';

/** One source of a rule: it matches when every field it sets matches. */
export interface TableAuthzSource {
  /** SPIFFE identity globs ('*' = any run of characters within one '/' segment; '*' alone = any identity) */
  readonly identities?: readonly string[];
  /** namespaces of the client identity (spiffe://<td>/ns/<ns>/sa/<sa>) */
  readonly namespaces?: readonly string[];
  /** IPv4 CIDRs ("10.0.0.0/8"; a bare address is a /32) of the connection's source address */
  readonly ipBlocks?: readonly string[];
}

/**
 * The HTTP fields of one operation (Istio's to.operation): it matches a request when every field
 * it sets matches. Values are exact, a prefix ("/api/*"), a suffix ("*.css") or "*" (any; for a
 * header: present). Hosts and header names are lowercase; paths match the normalized path.
 */
export interface TableAuthzHttp {
  readonly methods?: readonly string[];
  readonly notMethods?: readonly string[];
  readonly paths?: readonly string[];
  readonly notPaths?: readonly string[];
  /** the request's host (Host / :authority without its port) */
  readonly hosts?: readonly string[];
  readonly notHosts?: readonly string[];
  /** sorted by name; each named header must be present with a value matching one of its values */
  readonly headers?: readonly { readonly name: string; readonly values: readonly string[] }[];
}

/** One (rule, operation) pair of a policy, flattened: matches when from, ports and http all match. */
export interface TableAuthzRule {
  /** null: any source; otherwise any entry matching */
  readonly from: readonly TableAuthzSource[] | null;
  /** pod (target) ports; null: any port */
  readonly ports: readonly number[] | null;
  /**
   * the operation has HTTP fields (http is set): for a connection with no HTTP request (TCP), an
   * ALLOW or AUDIT rule never matches and a DENY rule matches ignoring them (Istio's rule)
   */
  readonly l7: boolean;
  /** the HTTP fields; null (or absent) exactly when l7 is false */
  readonly http?: TableAuthzHttp | null;
}

export interface TableAuthzPolicy {
  /** "namespace/name" of the AuthorizationPolicy */
  readonly name: string;
  readonly action: AuthzAction;
  /** the policy matches when any rule matches; none: it matches nothing */
  readonly rules: readonly TableAuthzRule[];
}

export interface TableAuthzWorkload {
  readonly ip: string;
  readonly mode: TlsMode;
  /** "namespace/name" of the MeshTLSPolicy that decided mode and portModes; '' none (PERMISSIVE) */
  readonly modePolicy: string;
  /** per-port overrides of mode, by pod port */
  readonly portModes: readonly { readonly port: number; readonly mode: TlsMode }[];
  readonly defaultPolicy: DefaultInboundPolicy;
  /** indexes into TableAuthz.policies, in evaluation order */
  readonly policies: readonly number[];
  /**
   * whether deciding needs the HTTP request (a policy has an L7 rule for the port): false none,
   * true every port, else those pod ports, sorted. The inbound path parses HTTP on these ports and
   * authorizes each request; elsewhere the connection's verdict is final. Absent: false.
   */
  readonly needsHttp?: boolean | readonly number[];
}

export interface TableAuthz {
  readonly trustDomain: string;
  /** this node's enrolled pods; a destination not listed is allowed (authorization is not its node's job) */
  readonly workloads: readonly TableAuthzWorkload[];
  readonly policies: readonly TableAuthzPolicy[];
}

/** How the connection reached the node proxy, which decides what its identity is worth. */
export type Transport = 'mtls' | 'local' | 'plaintext';

/** One inbound connection to authorize. */
export interface AuthzInput {
  readonly dstIp: string;
  /** the pod port the connection is for */
  readonly dstPort: number;
  readonly srcIp: string;
  /** the client's SPIFFE identity: the peer certificate (mtls) or the source pod's own (local); null: none */
  readonly identity: string | null;
  /** mtls: over HBONE; local: from an enrolled pod of this node; plaintext: captured on :15006 */
  readonly transport: Transport;
}

/**
 * The request an L7 rule is matched against: the RequestHead of agent/src/routing/table.ts
 * (lowercase header names, repeated headers joined with ','; authority possibly with a port).
 */
export interface AuthzHttpRequest {
  readonly method: string;
  readonly authority: string;
  /** the path only, as received: matching normalizes it (normalizePath) */
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
}

export type AuthzCode = '' | 'MESH_ERR_AUTHZ_DENIED' | 'MESH_ERR_MTLS_REQUIRED';

export interface AuthzVerdict {
  readonly allow: boolean;
  /** '' when allowed; otherwise the close reason */
  readonly code: AuthzCode;
  /** the deciding policy: "ns/name", "default:<policy>", or '' (no authorization for this destination) */
  readonly policy: string;
  /** the first matching AUDIT policy, '' none; an audit never changes the outcome */
  readonly audit: string;
}

/** policy named by an MTLS_REQUIRED verdict when the table's STRICT mode names no MeshTLSPolicy */
export const MESH_DEFAULT_POLICY = 'mesh-default';
