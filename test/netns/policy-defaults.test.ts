// The default inbound policies on a real kernel (issue 12): one namespace per policy
// (nodemesh.io/default-inbound-policy) with an echo server on node-b and one on node-a, probed from
// a meshed client on node-a (HBONE to node-b, same-node without TLS to node-a), an unmeshed pod
// (plaintext, from the pod network) and node-a's own network namespace (plaintext from 10.199.0.1,
// outside the pod networks). The controller runs with --default-inbound-policy deny, so a namespace
// without the annotation gets the cluster-wide default while the annotated ones override it.
//
// Expected (Linkerd's meaning, which agent/src/authz/evaluate.ts defaultAllows implements):
// all-unauthenticated allows everyone; all-authenticated and cluster-authenticated allow only
// clients with a mesh identity (mTLS or a same-node enrolled pod); deny allows nobody. Every
// decision is counted on the node that made it as inbound_tcp_authz_{allow,deny}_total with
// policy="default:<policy>".

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { SimCluster } from '../../sim/index.js';
import { manifestDir, metricSum, rootGate, waitFor } from './helpers.js';

const skip = rootGate();
const PORT = 9000;

type Policy = 'all-unauthenticated' | 'all-authenticated' | 'cluster-authenticated' | 'deny';
/** server namespace → the default policy its servers get (pd-inherit: the controller flag) */
const NAMESPACES: readonly { ns: string; policy: Policy; inherited?: true }[] = [
  { ns: 'pd-unauth', policy: 'all-unauthenticated' },
  { ns: 'pd-authn', policy: 'all-authenticated' },
  { ns: 'pd-cluster', policy: 'cluster-authenticated' },
  { ns: 'pd-deny', policy: 'deny' },
  { ns: 'pd-inherit', policy: 'deny', inherited: true },
];

/** The clients of the matrix: who connects, to which server, and what that connection is. */
type Source = 'hbone' | 'local' | 'pod-plain-remote' | 'pod-plain-local' | 'node-plain';
const SOURCES: readonly { source: Source; from: { pod: string } | { node: string }; server: 'server-a' | 'server-b'; authenticated: boolean; what: string }[] = [
  { source: 'hbone', from: { pod: 'pd-clients/client' }, server: 'server-b', authenticated: true, what: 'meshed client on the other node (HBONE, mTLS identity)' },
  { source: 'local', from: { pod: 'pd-clients/client' }, server: 'server-a', authenticated: true, what: 'meshed client on the same node (identity, no TLS)' },
  { source: 'pod-plain-remote', from: { pod: 'pd-outside/stranger' }, server: 'server-b', authenticated: false, what: 'unmeshed pod on the other node (plaintext)' },
  { source: 'pod-plain-local', from: { pod: 'pd-outside/stranger' }, server: 'server-a', authenticated: false, what: 'unmeshed pod on the same node (plaintext)' },
  { source: 'node-plain', from: { node: 'node-a' }, server: 'server-b', authenticated: false, what: "node-a's own netns, outside the pod networks (plaintext)" },
];
/** where authorization runs for a server: the node the server lives on */
const NODE_OF = { 'server-a': 'node-a', 'server-b': 'node-b' } as const;

function allows(policy: Policy, authenticated: boolean): boolean {
  switch (policy) {
    case 'all-unauthenticated': return true;
    case 'all-authenticated': return authenticated;
    // "cluster" is the trust domain here (defaultAllows checks spiffe://<td>/; there is no
    // cluster-networks setting), where Linkerd checks the source IP against clusterNetworks: the
    // two differ only for an authenticated client from outside, which one cluster cannot produce
    // (the HBONE server only accepts identities of its trust domain), so it acts as all-authenticated
    case 'cluster-authenticated': return authenticated;
    case 'deny': return false;
  }
}

/**
 * Probes many targets at once from one process (one node start per client instead of one per
 * target): each target gets one connection carrying a unique text; prints one JSON line
 * [{ target, ok, echoed?, error? }] where ok means the echo came back whole.
 */
const MULTI_PROBE = `
const net = require('node:net');
const [timeoutMs, ...targets] = process.argv.slice(1);
const one = (t) => new Promise((resolve) => {
  const [host, port, text] = t.split(',');
  let got = '';
  const s = net.connect({ host, port: Number(port) });
  s.setTimeout(Number(timeoutMs), () => s.destroy(new Error('timeout')));
  s.on('connect', () => s.end(text));
  s.on('data', (d) => { got += d; });
  s.on('end', () => resolve({ target: t, ok: got === text, echoed: got }));
  s.on('error', (e) => resolve({ target: t, ok: false, error: e.code || String(e) }));
});
Promise.all(targets.map(one)).then((r) => process.stdout.write(JSON.stringify(r) + '\\n'));
`;

const canon = (o: Record<string, number>): string => JSON.stringify(Object.entries(o).sort());

interface ProbeResult { ok: boolean; echoed?: string; error?: string }

describe('default inbound policies end to end', { skip, timeout: 90_000 }, () => {
  let c: SimCluster;
  let dir: string;
  /** "<source> <ns>" → what the probe saw */
  const seen = new Map<string, ProbeResult>();
  const metrics = async (node: string): Promise<string> => (await c.agentGet(node, '/metrics')).body;
  const dump = async (node: string): Promise<any> => JSON.parse((await c.agentGet(node, '/config_dump')).body);

  /** One process per origin, probing `targets` ([ns, server]) in parallel. */
  async function probeAll(from: { pod: string } | { node: string }, targets: readonly { key: string; ns: string; server: string }[]): Promise<void> {
    const args = targets.map((t) => `${c.pod(`${t.ns}/${t.server}`).ip},${PORT},${t.key.replaceAll(' ', '_')}-${Math.random().toString(16).slice(2, 10)}`);
    const argv = [process.execPath, '-e', MULTI_PROBE, '4000', ...args];
    const r = 'pod' in from ? await c.exec(from.pod, argv, { timeoutMs: 30_000 }) : await c.execNode(from.node, argv, { timeoutMs: 30_000 });
    const line = r.stdout.trim().split('\n').at(-1) ?? '';
    assert.ok(line.startsWith('['), `probe from ${JSON.stringify(from)} printed no result: ${r.stdout} ${r.stderr}`);
    const results = JSON.parse(line) as ({ target: string } & ProbeResult)[];
    targets.forEach((t, i) => {
      const { target: _target, ...res } = results[i]!;
      seen.set(t.key, res);
    });
  }

  before(async () => {
    dir = manifestDir('policy-defaults.yaml');
    c = await SimCluster.up({ manifestsDir: dir, agents: true, controllerArgs: ['--default-inbound-policy', 'deny'] });
    // every pod enrolled and captured, every identity holding a valid certificate on its node:
    // the view that enrolled them carries their namespaces' default policies into the table
    const want: Record<string, { pods: string[]; ids: string[] }> = {
      'node-a': { pods: ['pd-clients/client', ...NAMESPACES.map((n) => `${n.ns}/server-a`)], ids: ['pd-clients/sa/client', ...NAMESPACES.map((n) => `${n.ns}/sa/server`)] },
      'node-b': { pods: NAMESPACES.map((n) => `${n.ns}/server-b`), ids: NAMESPACES.map((n) => `${n.ns}/sa/server`) },
    };
    await Promise.all(Object.entries(want).map(([node, w]) => waitFor(`${node}: pods enrolled and captured, certificates valid`, async () => {
      const d = await dump(node);
      const meshed = w.pods.every((k) => d.workloads.some((x: any) => x.key === k && x.meshed));
      const captured = w.pods.every((k) => d.capture.pods.some((x: any) => x.key === k && x.state === 'captured'));
      const certs = w.ids.every((id) => d.identities.some((i: any) => i.identity === `spiffe://cluster.local/ns/${id}` && i.state === 'valid'));
      return meshed && captured && certs;
    }, 30_000, 100)));
    // the whole matrix at once: one probing process per origin
    const byOrigin = new Map<string, { from: { pod: string } | { node: string }; targets: { key: string; ns: string; server: string }[] }>();
    for (const s of SOURCES) {
      const k = JSON.stringify(s.from);
      if (!byOrigin.has(k)) byOrigin.set(k, { from: s.from, targets: [] });
      for (const n of NAMESPACES) byOrigin.get(k)!.targets.push({ key: `${s.source} ${n.ns}`, ns: n.ns, server: s.server });
    }
    await Promise.all([...byOrigin.values()].map((o) => probeAll(o.from, o.targets)));
  });

  after(async () => {
    await c?.down();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const n of NAMESPACES) {
    const label = n.inherited ? `no annotation: the cluster-wide default (--default-inbound-policy ${n.policy})` : `annotation ${n.policy}`;
    test(`${n.ns}, ${label}: ${SOURCES.map((s) => `${s.source} ${allows(n.policy, s.authenticated) ? 'allowed' : 'denied'}`).join(', ')}`, async () => {
      for (const s of SOURCES) {
        const r = seen.get(`${s.source} ${n.ns}`);
        assert.ok(r, `no probe result for ${s.source} → ${n.ns}`);
        if (allows(n.policy, s.authenticated)) {
          assert.equal(r.ok, true, `${s.what} → ${n.ns}/${s.server} must be allowed by ${n.policy}: ${JSON.stringify(r)}`);
        } else {
          // a denial is a reset by the proxy (the write after it may see EPIPE), not a timeout or a refused connect
          assert.equal(r.ok, false, `${s.what} → ${n.ns}/${s.server} must be denied by ${n.policy}: ${JSON.stringify(r)}`);
          assert.match(r.error ?? '', /^(ECONNRESET|EPIPE)$/, `${s.what} → ${n.ns}/${s.server}: denied by a reset: ${JSON.stringify(r)}`);
        }
      }
      // each decision counted exactly once where it was made, under the default policy's name
      for (const server of ['server-a', 'server-b'] as const) {
        const node = NODE_OF[server];
        const expect: Record<string, number> = {};
        for (const s of SOURCES.filter((x) => x.server === server)) {
          const tls = s.source === 'hbone' ? 'true' : 'false';
          const k = `${allows(n.policy, s.authenticated) ? 'allow' : 'deny'} tls=${tls}`;
          expect[k] = (expect[k] ?? 0) + 1;
        }
        const count = async (): Promise<Record<string, number>> => {
          const m = await metrics(node);
          const got: Record<string, number> = {};
          for (const verdict of ['allow', 'deny']) {
            for (const tls of ['true', 'false']) {
              const v = metricSum(m, `inbound_tcp_authz_${verdict}_total`, { policy: `default:${n.policy}`, dst_namespace: n.ns, dst_workload: server, tls });
              if (v) got[`${verdict} tls=${tls}`] = v;
            }
          }
          return got;
        };
        // close events reach the metrics in batches (every 20 ms): wait until the counts match, then
        // compare (a timeout falls through to the assertion, which shows what was counted)
        await waitFor(`${node} counts ${n.ns}/${server}`, async () => canon(await count()) === canon(expect), 5000, 100).catch(() => undefined);
        assert.deepEqual(await count(), expect, `${node}: inbound_tcp_authz_{allow,deny}_total{policy="default:${n.policy}"} for ${n.ns}/${server}`);
        const denials = metricSum(await metrics(node), 'inbound_tcp_authz_deny_total', { dst_namespace: n.ns, dst_workload: server });
        assert.equal(denials, Object.entries(expect).filter(([k]) => k.startsWith('deny')).reduce((a, [, v]) => a + v, 0), `${node}: no denial of ${n.ns}/${server} under another policy name or reason`);
      }
    });
  }

  // A cross-node connection refused by the destination (HBONE 401) also closes on the client's
  // node with reason MESH_ERR_AUTHZ_DENIED; only the deciding node counts it as an inbound denial.
  test('a cross-node denial is counted only on the node that decided it', async () => {
    const m = await metrics('node-a');
    for (const n of NAMESPACES.filter((x) => !allows(x.policy, true))) {
      assert.equal(metricSum(m, 'inbound_tcp_authz_deny_total', { dst_namespace: n.ns, dst_workload: 'server-b' }), 0, `node-a counted an inbound denial for ${n.ns}/server-b, which node-b decided`);
    }
  });

  // GAP (bpf/tc_steer.bpf.c: the program is attached to the ingress of the node netns' interfaces
  // only): a connection from the node's own network namespace to a pod of that node leaves through
  // the pod's host-side veth egress, which has no hook, so it is never steered to :15006 and no
  // policy is evaluated: a `deny` pod accepts it, and so does an all-/cluster-authenticated one
  // (no identity). Linkerd's `deny` refuses all traffic (its in-pod proxy only admits kubelet's HTTP
  // probes implicitly). On a real node every hostNetwork pod sits in that namespace. This runs after
  // the matrix so that, once fixed, its counts do not disturb the exact counts above.
  test('a connection from the node itself to a pod of that node obeys the default policy', { todo: 'node-originated connections bypass inbound capture (no hook on veth egress)' }, async () => {
    const local = [{ node: 'node-a', server: 'server-a' }, { node: 'node-b', server: 'server-b' }];
    for (const { node, server } of local) {
      await probeAll({ node }, NAMESPACES.map((n) => ({ key: `node-local ${node} ${n.ns}`, ns: n.ns, server })));
    }
    for (const { node, server } of local) {
      for (const n of NAMESPACES) {
        const r = seen.get(`node-local ${node} ${n.ns}`)!;
        assert.equal(r.ok, allows(n.policy, false), `${node}'s own netns → ${n.ns}/${server} (${n.policy}): ${JSON.stringify(r)}`);
      }
    }
  });
});
