// Public surface of routing/: the HTTP table (wire types), its compiler from the node view, and
// route(), the per-request semantics native matching must agree with (test/fixtures/routes).
export type * from './table.js';
export { compileHttp, protocolOf, attaches, policyIndex, resolveBackend, grpcMatch, DETECT_TIMEOUT_MS, HTTP_DEFAULTS, WIRE_MAX_MS, WIRE_MAX_ATTEMPTS, type HttpView } from './compile.js';
export { route, pickBackend, hostOf, hostnameMatches, requestMatches, pathMatches, queryParams, modifyPath, NO_ROUTE, INVALID_BACKEND, NO_ENDPOINTS } from './route.js';
export { compareKeys, type EntryKey } from './precedence.js';
