// evaluatePre, neededAccess and evaluateDataPlane: table-driven, one row per situation, each
// checking which lines are ✓ or ✗ and that every ✗ carries a hint.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluatePre, neededAccess, parseServerVersion, type PreInput } from '../../../cli/check-pre.js';
import { evaluateDataPlane, type DataPlaneInput } from '../../../cli/check-dataplane.js';
import type { CheckLine } from '../../../cli/check-lines.js';
import type { KubeObject } from '../../../cli/install-render.js';

const failed = (lines: readonly CheckLine[]): string[] => lines.filter((l) => !l.ok).map((l) => l.name);
const hinted = (lines: readonly CheckLine[]): void => { for (const l of lines) if (!l.ok) assert.ok(l.hint && l.hint.length > 10, `${l.name} has no hint`); };

const obj = (kind: string, name: string, namespace?: string): KubeObject => ({ apiVersion: 'v1', kind, metadata: { name, ...(namespace ? { namespace } : {}) } });

test('neededAccess: one entry per resource and namespace, cluster-scoped without one', () => {
  const a = neededAccess([obj('Namespace', 'a'), obj('Namespace', 'b'), obj('ConfigMap', 'x', 'ns1'), obj('ConfigMap', 'y', 'ns1'), obj('DaemonSet', 'd', 'ns1'), obj('CustomResourceDefinition', 'c')]);
  assert.deepEqual(a, [
    { resource: 'namespaces', group: '' },
    { resource: 'configmaps', group: '', namespace: 'ns1' },
    { resource: 'daemonsets', group: 'apps', namespace: 'ns1' },
    { resource: 'customresourcedefinitions', group: 'apiextensions.k8s.io' },
  ]);
  assert.throws(() => neededAccess([obj('Widget', 'w')]), /kind Widget/);
});

test('parseServerVersion', () => {
  assert.deepEqual(parseServerVersion('v1.32.4'), [1, 32]);
  assert.deepEqual(parseServerVersion('v1.30.0-gke.1'), [1, 30]);
  assert.equal(parseServerVersion('dev'), undefined);
});

const allow = (resource: string, group = '', namespace?: string, allowed = true) => ({ resource, group, allowed, ...(namespace ? { namespace } : {}) });
const OUR = ['authorizationpolicies.policy.nodemesh.io'];
const GW = new Set(['httproutes.gateway.networking.k8s.io', 'grpcroutes.gateway.networking.k8s.io']);
const preRows: { name: string; input: PreInput; failed: string[] }[] = [
  { name: 'all good, CRDs installable', input: { server: { version: 'v1.32.1' }, access: [allow('customresourcedefinitions', 'apiextensions.k8s.io'), allow('configmaps', '', 'nodemesh-system')], ourCrds: OUR, presentCrds: GW }, failed: [] },
  { name: 'CRDs already there, no CRD rights needed', input: { server: { version: 'v1.30.0' }, access: [allow('customresourcedefinitions', 'apiextensions.k8s.io', undefined, false)], ourCrds: OUR, presentCrds: new Set([...GW, ...OUR]) }, failed: ['can create customresourcedefinitions.apiextensions.k8s.io'] },
  { name: 'old server', input: { server: { version: 'v1.29.9' }, access: [], ourCrds: [], presentCrds: GW }, failed: ['API server version'] },
  { name: 'unreachable: nothing else asked', input: { server: { error: 'connection refused' }, access: [], ourCrds: OUR, presentCrds: new Set() }, failed: ['API server reachable'] },
  { name: 'limited user: forbidden configmaps, CRD missing and not creatable', input: { server: { version: 'v1.32.1' }, access: [allow('customresourcedefinitions', 'apiextensions.k8s.io', undefined, false), allow('configmaps', '', 'nodemesh-system', false)], ourCrds: OUR, presentCrds: GW },
    failed: ['can create customresourcedefinitions.apiextensions.k8s.io', 'can create configmaps in nodemesh-system', 'CRD authorizationpolicies.policy.nodemesh.io'] },
  { name: 'no Gateway API', input: { server: { version: 'v1.32.1' }, access: [], ourCrds: [], presentCrds: new Set() }, failed: ['Gateway API CRD httproutes.gateway.networking.k8s.io', 'Gateway API CRD grpcroutes.gateway.networking.k8s.io'] },
];
for (const r of preRows) {
  test(`evaluatePre: ${r.name}`, () => {
    const lines = evaluatePre(r.input);
    assert.deepEqual(failed(lines), r.failed);
    hinted(lines);
  });
}

const NOW = Date.parse('2026-12-07T10:00:00Z');
const inH = (h: number): string => new Date(NOW + h * 3_600_000).toISOString();
const ctl = { version: 7, agents: [{ node: 'a', acked: 7, nacks: 0 }, { node: 'b', acked: 5, nacks: 0 }], ca: { issuer: { notAfter: inH(24 * 300) } } };
const agent = (node: string, version: number, o: { lastReject?: string; certs?: { state: string; notAfter?: string }[]; status?: number } = {}) => ({
  node, where: `/run/${node}.sock`, ready: { status: o.status ?? 200, body: 'ready' },
  dump: { config: { version, lastReject: o.lastReject ?? null }, identities: (o.certs ?? [{ state: 'valid', notAfter: inH(20) }]).map((c, i) => ({ identity: `spiffe://td/ns/x/sa/s${i}`, ...c })) },
});
const base = (over: Partial<DataPlaneInput>): DataPlaneInput => ({ controller: ctl, nodes: ['a', 'b'], agents: [agent('a', 7), agent('b', 5)], nowMs: NOW, logHint: (n) => `log of ${n}`, ...over });
const dpRows: { name: string; input: DataPlaneInput; failed: string[] }[] = [
  { name: 'healthy (b ACKed an older version: nothing changed for it)', input: base({}), failed: [] },
  { name: 'agent b unreachable', input: base({ agents: [agent('a', 7), { node: 'b', where: '/run/b.sock', error: 'ECONNREFUSED' }] }), failed: ['agent b ready'] },
  { name: 'agent b missing entirely', input: base({ agents: [agent('a', 7)] }), failed: ['agent b ready'] },
  { name: 'agent b not ready', input: base({ agents: [agent('a', 7), agent('b', 5, { status: 503 })] }), failed: ['agent b ready'] },
  { name: 'agent b behind its ACK', input: base({ agents: [agent('a', 7), agent('b', 4)] }), failed: ['agent b config'] },
  { name: 'agent b NACKed', input: base({ agents: [agent('a', 7), agent('b', 5, { lastReject: 'bad table' })] }), failed: ['agent b config'] },
  { name: 'agent a not connected to the controller', input: base({ controller: { ...ctl, agents: [ctl.agents[1]!] } }), failed: ['agent a config'] },
  { name: 'a certificate near expiry and one pending', input: base({ agents: [agent('a', 7, { certs: [{ state: 'valid', notAfter: inH(0.5) }] }), agent('b', 5, { certs: [{ state: 'pending' }] })] }), failed: ['agent a certificates', 'agent b certificates'] },
  { name: 'CA issuer expiring', input: base({ controller: { ...ctl, ca: { issuer: { notAfter: inH(0.2) } } } }), failed: ['mesh CA issuer valid'] },
  { name: 'controller down: agents still checked', input: base({ controller: { error: 'ECONNREFUSED', where: '/run/ctl.sock' } }), failed: ['controller reachable'] },
];
for (const r of dpRows) {
  test(`evaluateDataPlane: ${r.name}`, () => {
    const lines = evaluateDataPlane(r.input);
    assert.deepEqual(failed(lines), r.failed);
    hinted(lines);
  });
}

test('evaluateDataPlane: a stricter min validity turns a 20 h certificate ✗', () => {
  assert.deepEqual(failed(evaluateDataPlane({ ...base({}), minValidityMs: 21 * 3_600_000 })), ['agent a certificates', 'agent b certificates']);
});
