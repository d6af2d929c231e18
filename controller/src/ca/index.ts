// Public surface of ca/: the mesh CA (anchors, issuer, leaf signing), where it is stored (state
// directory, Kubernetes Secret), the CertificateService gRPC handler, and the shared x509 helpers.
export { MeshCA, randomSerial, DEFAULT_CERT_TTL_MS, DEFAULT_SKEW_MS, type CaMaterial, type MeshCaOptions, type IssuedCert, type CaInfo } from './authority.js';
export { CaManager, type CaChangeListener } from './manager.js';
export { checkCsr, createCsr, type CheckedCsr } from './csr.js';
export { CA_FILES, DirCaStore, SecretCaStore, openCa, materialToFiles, filesToMaterial, secretToFiles, filesToSecretData, type CaStore, type SecretCaStoreOptions, type OpenCaOptions } from './store.js';
export { CertificateService, Refusal, type CertificateServiceOptions, type IdentityDirectory } from './service.js';
export { CaMetrics, CSR_RESULTS, type CsrResult } from './metrics.js';
export { TokenBuckets, type RateLimitOptions } from './ratelimit.js';
export { CertificateServiceClient, certificateServiceDefinition, type SignRequestWire, type SignResponseWire } from '../grpc/index.js';
export { x509, P256, subtle, splitPem, joinPem, spiffeUri, parseSpiffeUri, checkSpiffeUri, isTrustDomain, type SpiffeParts, type CryptoKey, type CryptoKeyPair } from './x509.js';
export { SignPool, type CsrSigner } from './pool.js';
