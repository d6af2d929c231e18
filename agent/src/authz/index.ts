// Public surface of authz/: inbound authorization, compiled from the node view into the decision
// table's `authz` part (compileAuthz) and evaluated by the same rules in TypeScript (authorize) and
// in the native proxy (native/src/proxy/authz.rs) per inbound connection or HTTP request.
export { compileAuthz } from './compile.js';
export { authorize, globMatches, identityNamespace, parseCidr, parseIpv4 } from './evaluate.js';
export { hostOf, httpMatches, needsHttp, normalizePath, valueMatches, workloadNeedsHttp } from './http.js';
export { GRPC_PERMISSION_DENIED, denyResponse, grpcMessage, type DenyResponse } from './respond.js';
export * from './types.js';
