// Public surface of authz/: inbound authorization, compiled from the node view into the decision
// table's `authz` part (compileAuthz) and evaluated by the same rules in TypeScript (authorize) and
// in the native proxy (native/src/proxy/authz.rs) per inbound connection.
export { compileAuthz } from './compile.js';
export { authorize, globMatches, identityNamespace, parseCidr, parseIpv4 } from './evaluate.js';
export * from './types.js';
