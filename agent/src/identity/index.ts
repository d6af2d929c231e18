// Public surface of identity/: the agent's workload certificates (IdentityManager), who signs them
// (GrpcSigner to the controller, LocalSigner in standalone mode) and the clock it runs on.
export { IdentityManager, type IdentityManagerOptions, type IdentitySnapshot, type IdentityStatus, type CertState } from './manager.js';
export { GrpcSigner, LocalSigner, SignError, type CertificateSigner, type SignResult, type GrpcSignerOptions, type LocalSignerOptions } from './signer.js';
export { obtainCert, chainsTo, anchorOf, describeBundle, type HeldCert } from './certs.js';
export { realClock, type Clock } from './clock.js';
export { IdentityMetrics } from './metrics.js';
