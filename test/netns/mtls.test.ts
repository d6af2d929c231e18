// Identity and mTLS on a real kernel: cross-node traffic travels as HBONE (the bytes on the node
// link are TLS, a plaintext marker never appears in a capture), the destination records the client's
// verified SPIFFE identity and still sees the client pod's IP, and authorization (DENY, ALLOW, AUDIT,
// STRICT) is enforced for HBONE, plaintext and same-node connections, taking effect within 1 s.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SimCluster, startLinkCapture } from '../../sim/index.js';
import { TCP_TOOL, manifestDir, metricSum, rootGate, sleep, waitFor } from './helpers.js';

const skip = rootGate();
const CLIENT_ID = 'spiffe://cluster.local/ns/mtls/sa/client';
const SERVER_ID = 'spiffe://cluster.local/ns/mtls/sa/server';

describe('identity and mTLS end to end', { skip, timeout: 600_000 }, () => {
  let c: SimCluster;
  let dir: string;
  const ip = (key: string): string => c.pod(key).ip;
  const metrics = async (node: string): Promise<string> => (await c.agentGet(node, '/metrics')).body;
  const dump = async (node: string): Promise<any> => JSON.parse((await c.agentGet(node, '/config_dump')).body);
  async function probe(from: string, to: string, text = 'ping', port = '9000'): Promise<{ ok: boolean; echoed?: string; error?: string }> {
    const r = await c.exec(from, [process.execPath, TCP_TOOL, 'probe', ip(to), port, text, '4000'], { timeoutMs: 20_000 });
    return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
  }
  const policyFile = (name: string, yaml: string): string => { const f = path.join(dir, `${name}.yaml`); writeFileSync(f, yaml); return f; };
  /** Waits until `probe` gives `ok` (a policy took effect), and says how long that took. */
  async function until(from: string, to: string, ok: boolean): Promise<number> {
    const t0 = Date.now();
    await waitFor(`probe ${from} → ${to} ${ok ? 'allowed' : 'denied'}`, async () => (await probe(from, to)).ok === ok, 5000, 50);
    return Date.now() - t0;
  }

  before(async () => {
    dir = manifestDir('mtls.yaml');
    c = await SimCluster.up({ manifestsDir: dir, agents: true });
    await waitFor('certificates issued', async () => (await dump('node-a')).identities.some((i: any) => i.identity === CLIENT_ID && i.state === 'valid'), 15_000);
    await waitFor('server certificate issued', async () => (await dump('node-b')).identities.some((i: any) => i.identity === SERVER_ID && i.state === 'valid'), 15_000);
  });

  after(async () => {
    await c?.down();
    rmSync(dir, { recursive: true, force: true });
  });

  test('cross-node: HBONE with verified identities, the server sees the client pod IP', async () => {
    const r = await c.exec('mtls/client', ['nodemesh', 'workload', 'get', `http://${ip('mtls/server-b')}:8080/who`, '--timeout-ms', '4000'], { timeoutMs: 15_000 });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const body = JSON.parse(r.stdout.trim()).body as { client: { address: string } };
    assert.equal(body.client.address, ip('mtls/client'), 'the destination pod sees the client pod IP');
    await waitFor('inbound over mTLS with the client identity on node-b', async () =>
      metricSum(await metrics('node-b'), 'tcp_open_total', { direction: 'inbound', tls: 'true', connection_security_policy: 'mutual_tls', src_identity: CLIENT_ID, dst_identity: SERVER_ID }) >= 1);
    await waitFor('outbound over mTLS on node-a', async () =>
      metricSum(await metrics('node-a'), 'tcp_open_total', { direction: 'outbound', tls: 'true', dst_identity: SERVER_ID }) >= 1);
    const d = await dump('node-a');
    assert.ok(d.proxy.tunnelConnectionsOpened >= 1, JSON.stringify(d.proxy));
    const held = d.identities.find((i: any) => i.identity === CLIENT_ID);
    assert.match(held.serial, /^[0-9a-f]+$/i);
    assert.ok(!JSON.stringify(d).includes('PRIVATE KEY'), 'config_dump never shows keys');
  });

  test('the bytes on the node link are TLS: a plaintext marker never appears', async () => {
    const pcap = path.join(tmpdir(), `nm-mtls-${randomBytes(4).toString('hex')}.pcap`);
    const node = c.status.nodes.find((n) => n.name === 'node-b')!;
    const dump = await startLinkCapture(node.netns, pcap);
    try {
      const meshed = `MESHED-MARKER-${randomBytes(8).toString('hex')}`;
      const plain = `PLAIN-MARKER-${randomBytes(8).toString('hex')}`;
      assert.deepEqual(await probe('mtls/client', 'mtls/server-b', meshed), { ok: true, echoed: meshed });
      // the control: an unmeshed client's bytes are plaintext on the same link, and the capture sees them
      assert.deepEqual(await probe('outside/stranger', 'mtls/server-b', plain), { ok: true, echoed: plain });
      await sleep(500);
    } finally {
      await dump.stop();
    }
    const bytes = readFileSync(pcap);
    unlinkSync(pcap);
    const text = bytes.toString('latin1');
    assert.ok(text.includes('PLAIN-MARKER-'), 'the capture works: the unmeshed plaintext marker is in it');
    assert.ok(!text.includes('MESHED-MARKER-'), 'the meshed marker never crossed the link in plaintext');
    // TLS records (content type 0x17, version 0x0303) are on the link
    assert.ok(bytes.includes(Buffer.from([0x17, 0x03, 0x03])), 'TLS application data records on the link');
  });

  test('DENY policy resets the connection within 1 s, counted with its name, then removed', async () => {
    const f = policyFile('deny-client', `apiVersion: policy.nodemesh.io/v1alpha1
kind: AuthorizationPolicy
metadata: { name: deny-client, namespace: mtls }
spec:
  selector: { matchLabels: { app: server } }
  action: DENY
  rules: [{ from: [{ identities: ["${CLIENT_ID}"] }] }]
`);
    const ms = await until('mtls/client', 'mtls/server-b', false);
    assert.ok(ms < 1500, `took effect after ${ms} ms`);
    await waitFor('deny counted', async () => metricSum(await metrics('node-b'), 'inbound_tcp_authz_deny_total', { policy: 'mtls/deny-client' }) >= 1);
    // the unmeshed stranger is not matched by an identity rule
    assert.equal((await probe('outside/stranger', 'mtls/server-b')).ok, true);
    unlinkSync(f);
    await until('mtls/client', 'mtls/server-b', true);
  });

  test('an invalid edit of a DENY policy is rejected with its field path; the last valid DENY stays in force', async () => {
    const good = `apiVersion: policy.nodemesh.io/v1alpha1
kind: AuthorizationPolicy
metadata: { name: deny-stays, namespace: mtls }
spec:
  selector: { matchLabels: { app: server } }
  action: DENY
  rules: [{ from: [{ identities: ["${CLIENT_ID}"] }] }]
`;
    const f = policyFile('deny-stays', good);
    await until('mtls/client', 'mtls/server-b', false);
    writeFileSync(f, good.replace('action: DENY', 'action: DENNY'));
    await waitFor('the edit rejected with its field path', async () => {
      const d = JSON.parse((await c.controllerGet('/config_dump')).body) as { rejected: string[] };
      return d.rejected.some((r) => r.includes('deny-stays') && r.includes('spec.action'));
    }, 5000, 100);
    await sleep(1000);
    assert.equal((await probe('mtls/client', 'mtls/server-b')).ok, false, 'never fail open: the previous DENY still applies');
    unlinkSync(f);
    await until('mtls/client', 'mtls/server-b', true);
  });

  test('ALLOW policy: only what a rule allows; AUDIT allows and reports', async () => {
    const f = policyFile('allow-nobody', `apiVersion: policy.nodemesh.io/v1alpha1
kind: AuthorizationPolicy
metadata: { name: allow-nobody, namespace: mtls }
spec:
  selector: { matchLabels: { app: server } }
  action: ALLOW
  rules: [{ from: [{ identities: ["spiffe://cluster.local/ns/mtls/sa/nobody"] }] }]
`);
    await until('mtls/client', 'mtls/server-b', false);
    assert.equal((await probe('outside/stranger', 'mtls/server-b')).ok, false, 'plaintext is not allowed either');
    writeFileSync(f, `apiVersion: policy.nodemesh.io/v1alpha1
kind: AuthorizationPolicy
metadata: { name: allow-nobody, namespace: mtls }
spec:
  selector: { matchLabels: { app: server } }
  action: ALLOW
  rules: [{ from: [{ namespaces: [mtls] }] }]
`);
    await until('mtls/client', 'mtls/server-b', true);
    await waitFor('allow counted', async () => metricSum(await metrics('node-b'), 'inbound_tcp_authz_allow_total', { policy: 'mtls/allow-nobody' }) >= 1);
    unlinkSync(f);
    const a = policyFile('audit', `apiVersion: policy.nodemesh.io/v1alpha1
kind: AuthorizationPolicy
metadata: { name: audit, namespace: mtls }
spec: { action: AUDIT, rules: [{}] }
`);
    await waitFor('audited', async () => (await probe('mtls/client', 'mtls/server-b')).ok && metricSum(await metrics('node-b'), 'inbound_tcp_authz_audit_total', { policy: 'mtls/audit' }) >= 1, 5000, 100);
    unlinkSync(a);
  });

  test('same-node traffic: identity and policy apply without TLS', async () => {
    assert.equal((await probe('mtls/client', 'mtls/server-a')).ok, true);
    await waitFor('same-node labels', async () =>
      metricSum(await metrics('node-a'), 'tcp_open_total', { direction: 'outbound', tls: 'false', connection_security_policy: 'none', src_identity: CLIENT_ID, dst_identity: SERVER_ID }) >= 1);
    const f = policyFile('deny-local', `apiVersion: policy.nodemesh.io/v1alpha1
kind: AuthorizationPolicy
metadata: { name: deny-local, namespace: mtls }
spec:
  selector: { matchLabels: { app: server-local } }
  action: DENY
  rules: [{ from: [{ identities: ["spiffe://cluster.local/ns/mtls/sa/*"] }] }]
`);
    await until('mtls/client', 'mtls/server-a', false);
    await waitFor('deny counted on node-a', async () => metricSum(await metrics('node-a'), 'inbound_tcp_authz_deny_total', { policy: 'mtls/deny-local' }) >= 1);
    unlinkSync(f);
    await until('mtls/client', 'mtls/server-a', true);
  });

  test('STRICT refuses plaintext from outside the mesh; meshed clients still reach it', async () => {
    assert.equal((await probe('mtls/client', 'strict/locked')).ok, true);
    assert.equal((await probe('outside/stranger', 'strict/locked')).ok, false);
    await waitFor('mtls-required counted', async () => metricSum(await metrics('node-b'), 'inbound_tcp_authz_deny_total', { reason: 'MESH_ERR_MTLS_REQUIRED' }) >= 1);
    // PERMISSIVE (the default) admits the stranger, labelled plaintext
    assert.equal((await probe('outside/stranger', 'mtls/server-b')).ok, true);
    await waitFor('plaintext labelled', async () => metricSum(await metrics('node-b'), 'tcp_open_total', { direction: 'inbound', tls: 'false', connection_security_policy: 'unknown', dst_identity: SERVER_ID }) >= 1);
  });
});
