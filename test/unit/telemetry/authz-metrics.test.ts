// AgentMetrics' authorization counters, table-driven: a connection counts as an inbound allow or
// deny only on the node that decided it (inbound, or same-node outbound); a cross-node denial seen
// by the client node (the peer's 401) is a close, never a second denial.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AgentMetrics, type ConnLabels } from '../../../agent/src/telemetry/metrics.js';
import type { ConnEvent } from '../../../native/index.js';

const base: ConnEvent = {
  kind: 'close', id: 1, direction: 'inbound', srcIp: '10.0.1.5', srcPort: 40000, dstIp: '10.0.2.7', dstPort: 9000,
  bytesUp: 0, bytesDown: 0, durationUs: 10, reason: 'MESH_ERR_AUTHZ_DENIED', service: '', upstreamIp: '', upstreamPort: 0,
  srcIdentity: 'spiffe://cluster.local/ns/a/sa/c', dstIdentity: 'spiffe://cluster.local/ns/b/sa/s', tls: true, policy: 'b/deny', audit: '',
};
const labels = (direction: string, csp: string): ConnLabels => ({
  direction, src_namespace: 'a', src_workload: 'c', dst_namespace: 'b', dst_workload: 's', dst_service: '',
  tls: csp === 'mutual_tls' ? 'true' : 'false', connection_security_policy: csp, src_identity: base.srcIdentity, dst_identity: base.dstIdentity,
});

const sum = async (m: AgentMetrics, name: string): Promise<number> => {
  const got = (await m.registry.getMetricsAsJSON()).find((x) => x.name === name);
  return (got?.values ?? []).reduce((a, v) => a + Number(v.value), 0);
};

const cases: { name: string; e: Partial<ConnEvent>; dir: string; csp: string; deny: number; allow: number }[] = [
  { name: 'inbound HBONE denial: counted here', e: {}, dir: 'inbound', csp: 'mutual_tls', deny: 1, allow: 0 },
  { name: 'inbound STRICT refusal: counted here', e: { reason: 'MESH_ERR_MTLS_REQUIRED', tls: false }, dir: 'inbound', csp: 'unknown', deny: 1, allow: 0 },
  { name: 'same-node outbound denial: decided here', e: { direction: 'outbound', tls: false }, dir: 'outbound', csp: 'none', deny: 1, allow: 0 },
  { name: 'cross-node outbound, refused by the peer: not a denial here', e: { direction: 'outbound', policy: '' }, dir: 'outbound', csp: 'mutual_tls', deny: 0, allow: 0 },
  { name: 'inbound open: an allow', e: { kind: 'open', reason: '', policy: 'default:all-unauthenticated' }, dir: 'inbound', csp: 'mutual_tls', deny: 0, allow: 1 },
  { name: 'cross-node outbound open: the peer decides', e: { kind: 'open', direction: 'outbound', reason: '' }, dir: 'outbound', csp: 'mutual_tls', deny: 0, allow: 0 },
  { name: 'same-node outbound open: an allow here', e: { kind: 'open', direction: 'outbound', reason: '', tls: false }, dir: 'outbound', csp: 'none', deny: 0, allow: 1 },
];

for (const c of cases) {
  test(c.name, async () => {
    const m = new AgentMetrics('node-a');
    m.record({ ...base, ...c.e }, labels(c.dir, c.csp));
    assert.equal(await sum(m, 'inbound_tcp_authz_deny_total'), c.deny, 'deny');
    assert.equal(await sum(m, 'inbound_tcp_authz_allow_total'), c.allow, 'allow');
  });
}
