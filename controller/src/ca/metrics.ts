// The CA's Prometheus metrics, on the controller's registry (admin port 15014): CSRs by result,
// signing latency, trust anchors in the bundle, and when the issuer expires.

import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export type CsrResult = 'signed' | 'unauthenticated' | 'forbidden' | 'invalid' | 'rate_limited' | 'error';
export const CSR_RESULTS: readonly CsrResult[] = ['signed', 'unauthenticated', 'forbidden', 'invalid', 'rate_limited', 'error'];

export class CaMetrics {
  readonly csr: Counter<'result'>;
  readonly signDuration: Histogram<string>;
  readonly anchors: Gauge<string>;
  readonly issuerExpiry: Gauge<string>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.csr = new Counter({ name: 'nodemesh_ca_csr_total', help: 'Certificate signing requests by result', labelNames: ['result'], registers });
    for (const result of CSR_RESULTS) this.csr.inc({ result }, 0);
    this.signDuration = new Histogram({ name: 'nodemesh_ca_sign_duration_seconds', help: 'Time to check and sign one CSR (signed requests)', buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1], registers });
    this.anchors = new Gauge({ name: 'nodemesh_ca_trust_anchors', help: 'Trust anchors in the bundle sent to agents (more than one during a rotation)', registers });
    this.issuerExpiry = new Gauge({ name: 'nodemesh_ca_issuer_expiration_timestamp_seconds', help: 'When the issuing (intermediate) certificate expires, Unix seconds', registers });
  }
}
