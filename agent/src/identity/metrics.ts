// The identity manager's metrics, on a registry the agent passes in: each certificate's expiry
// (so an alert fires long before it lapses) and renewals by result.

import { Counter, Gauge, type Registry } from 'prom-client';

export class IdentityMetrics {
  readonly expiry: Gauge<'identity'>;
  readonly renewals: Counter<'result'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.expiry = new Gauge({ name: 'identity_cert_expiration_timestamp_seconds', help: 'When the workload certificate of an identity expires, Unix seconds', labelNames: ['identity'], registers });
    this.renewals = new Counter({ name: 'identity_cert_renewals_total', help: 'Workload certificate requests (first issue and renewals) by result', labelNames: ['result'], registers });
    this.renewals.inc({ result: 'success' }, 0);
    this.renewals.inc({ result: 'failure' }, 0);
  }
}
