// What the inbound HTTP path answers to a request authorization denies: 403 with the error code,
// or for gRPC a trailers-only 200 with grpc-status 7 (PERMISSION_DENIED). Pure; native
// src/l7/authz_http.rs `deny_response` builds the same status, headers and body.

import type { AuthzHttpRequest, AuthzVerdict } from './types.js';

export interface DenyResponse {
  readonly status: number;
  /** lowercase names, in this order */
  readonly headers: readonly (readonly [string, string])[];
  readonly body: string;
}

/** gRPC status code PERMISSION_DENIED (grpc/doc/statuscodes.md). */
export const GRPC_PERMISSION_DENIED = 7;

/**
 * The answer to a denied request. The client learns the error code and what to do, not which
 * policy denied it (that is in the destination's log and metrics): policy names describe the
 * destination's configuration to a caller it refuses.
 */
export function denyResponse(v: AuthzVerdict, req: Pick<AuthzHttpRequest, 'headers'>): DenyResponse {
  const code = v.code || 'MESH_ERR_AUTHZ_DENIED';
  const msg = code === 'MESH_ERR_MTLS_REQUIRED'
    ? 'the destination requires mutual TLS: send from a meshed workload'
    : "the destination's authorization policy denies this request: its owner can allow it with an AuthorizationPolicy";
  if ((req.headers['content-type'] ?? '').startsWith('application/grpc')) {
    return {
      status: 200,
      headers: [['content-type', 'application/grpc'], ['grpc-status', String(GRPC_PERMISSION_DENIED)], ['grpc-message', grpcMessage(`${code}: ${msg}`)], ['x-nodemesh-error', code]],
      body: '',
    };
  }
  return { status: 403, headers: [['content-type', 'text/plain; charset=utf-8'], ['x-nodemesh-error', code]], body: `${code}: ${msg}\n` };
}

/** grpc-message encoding (gRPC over HTTP/2 spec): bytes outside 0x20..0x7E and '%' as %XX. */
export function grpcMessage(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) out += b >= 0x20 && b <= 0x7e && b !== 0x25 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
}
