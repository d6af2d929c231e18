// `nodemesh demo`: brings up examples/demo with one agent per node, sends meshed requests (same node
// and cross node) and shows that the servers see the client's own pod IP, the agents' connection and
// BPF counters, that cross-node bytes travel as TLS (a capture of the node link) with the identity
// node-b verified, a connection denied by an AuthorizationPolicy, then that an unmeshed namespace is
// not captured, and tears everything down.

import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MeshError, toMeshError } from '../common/errors.js';
import { ROOT } from '../native/index.js';
import { SimCluster, startLinkCapture } from '../sim/index.js';
import { parseFlags } from './args.js';
import { usageOf } from './commands.js';

/** Sample lines of one metric whose labels include all of `match`. */
export function metricLines(text: string, name: string, match: Record<string, string> = {}): string[] {
  return text.split('\n').filter((l) => {
    if (!l.startsWith(`${name}{`) && !l.startsWith(`${name} `)) return false;
    const labels = /\{(.*)\}/.exec(l)?.[1] ?? '';
    return Object.entries(match).every(([k, v]) => labels.includes(`${k}="${v}"`));
  });
}

export function metricSum(text: string, name: string, match: Record<string, string> = {}): number {
  return metricLines(text, name, match).reduce((s, l) => s + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

const out = (m = ''): void => { process.stdout.write(`${m}\n`); };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Echo { status: number; body: { pod?: string; node?: string; client?: { address?: string } } }

/** Waits until every node's agent has reported to the controller (stat and explain read those). */
async function waitReports(runDir: string, since: number): Promise<void> {
  const { unixGet } = await import('../sim/index.js');
  const sock = path.join(runDir, 'controller', 'ui.sock');
  for (let i = 0; i < 150; i++) {
    try {
      const r = await unixGet(sock, '/api/nodes', 2000);
      const nodes = (JSON.parse(r.body) as { nodes: { connected: boolean; reportAgeMs: number | null; pods: number }[] }).nodes;
      if (nodes.length > 0 && nodes.every((x) => x.connected && x.reportAgeMs !== null && x.reportAgeMs <= Date.now() - since && x.pods > 0)) return;
    } catch { /* not yet */ }
    await sleep(200);
  }
  throw new MeshError('MESH_ERR_DEMO', 'the agents did not report to the controller within 30 s (see the agent logs)');
}

export async function demo(argv: string[]): Promise<number> {
  const usage = usageOf(['demo']);
  const { values } = parseFlags(argv, { manifests: { type: 'string' } }, usage);
  const dir = typeof values.manifests === 'string' ? values.manifests : path.join(ROOT, 'examples', 'demo');
  const total = 9;
  let n = 0;
  let stepName = '';
  const step = (what: string): void => { n++; stepName = what; out(`\n[${n}/${total}] ${what}`); };

  let c: SimCluster | undefined;
  try {
    step(`bring up the cluster from ${path.relative(process.cwd(), dir) || dir} with one agent per node`);
    const t0 = Date.now();
    c = await SimCluster.up({ manifestsDir: dir, agents: true, onProgress: (m) => out(`      ${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s  ${m}`) });
    const cl = c;
    for (const p of cl.pods) out(`      ${p.key.padEnd(16)} ${p.node.padEnd(8)} ${p.ip}`);
    const ip = (key: string): string => cl.pod(key).ip;
    const metrics = async (node: string): Promise<string> => (await cl.agentGet(node, '/metrics')).body;
    const get = async (from: string, to: string, urlPath = '/demo'): Promise<Echo> => {
      const url = `http://${ip(to)}:8080${urlPath}`;
      const r = await cl.exec(from, ['nodemesh', 'workload', 'get', url, '--timeout-ms', '5000'], { timeoutMs: 20_000 });
      if (r.code !== 0) throw new MeshError('MESH_ERR_DEMO', `GET ${url} from ${from} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim()}`);
      return JSON.parse(r.stdout.trim().split('\n')[0]!) as Echo;
    };
    const expectClient = (e: Echo, from: string, to: string): void => {
      const seen = e.body.client?.address;
      out(`      ${to} (${e.body.node}) answered ${e.status} and saw client ${seen}; ${from} is ${ip(from)} ${seen === ip(from) ? '✓' : '✗'}`);
      if (e.status !== 200 || seen !== ip(from)) throw new MeshError('MESH_ERR_DEMO', `${to} saw client ${seen}, expected ${from}'s pod IP ${ip(from)}`);
    };
    const waitMetric = async (node: string, name: string, match: Record<string, string>, atLeast: number): Promise<void> => {
      const t = Date.now();
      while (metricSum(await metrics(node), name, match) < atLeast) {
        if (Date.now() - t > 5000) throw new MeshError('MESH_ERR_DEMO', `${node}: ${name}${JSON.stringify(match)} stayed below ${atLeast}; the connection was not captured (see ${cl.node(node).agentLog})`);
        await sleep(50);
      }
    };

    step('meshed, same node: shop/client → shop/server-a');
    const base = { a: await metrics('node-a'), b: await metrics('node-b') };
    const sameNode = { direction: 'outbound', src_namespace: 'shop', src_workload: 'client', dst_namespace: 'shop', dst_workload: 'server-a' };
    const openA = metricSum(base.a, 'tcp_open_total', sameNode);
    expectClient(await get('shop/client', 'shop/server-a'), 'shop/client', 'shop/server-a');
    await waitMetric('node-a', 'tcp_open_total', sameNode, openA + 1);

    step('meshed, cross node: shop/client (node-a) → shop/server-b (node-b)');
    const crossOut = { direction: 'outbound', src_namespace: 'shop', src_workload: 'client', dst_namespace: 'shop', dst_workload: 'server-b' };
    const crossIn = { ...crossOut, direction: 'inbound' };
    const outA = metricSum(base.a, 'tcp_open_total', crossOut);
    const inB = metricSum(base.b, 'tcp_open_total', crossIn);
    // capture node-b's link while the request crosses it: the marker in the URL must not appear
    const pcap = path.join(tmpdir(), `nodemesh-demo-${randomBytes(4).toString('hex')}.pcap`);
    const marker = `demo-marker-${randomBytes(6).toString('hex')}`;
    const dump = await startLinkCapture(cl.status.nodes.find((x) => x.name === 'node-b')!.netns, pcap);
    try {
      expectClient(await get('shop/client', 'shop/server-b', `/${marker}`), 'shop/client', 'shop/server-b');
      await sleep(300);
    } finally {
      await dump.stop();
    }
    const bytes = readFileSync(pcap);
    rmSync(pcap, { force: true });
    let records = 0;
    for (let i = bytes.indexOf(Buffer.from([0x17, 0x03, 0x03])); i >= 0; i = bytes.indexOf(Buffer.from([0x17, 0x03, 0x03]), i + 3)) records++;
    const leaked = bytes.toString('latin1').includes(marker);
    out(`      node-b's link (tcpdump, ${bytes.length} B): ${records} TLS application-data record headers, the URL marker ${leaked ? 'FOUND in plaintext ✗' : 'not found ✓'}`);
    if (leaked || records === 0) throw new MeshError('MESH_ERR_DEMO', 'the cross-node request was not carried inside TLS on the node link');
    await waitMetric('node-a', 'tcp_open_total', crossOut, outA + 1);
    await waitMetric('node-b', 'tcp_open_total', { ...crossIn, tls: 'true' }, inB + 1);
    const verified = metricLines(await metrics('node-b'), 'tcp_open_total', { ...crossIn, tls: 'true' })[0] ?? '';
    out(`      node-b verified the client's certificate: ${/src_identity="([^"]*)"/.exec(verified)?.[1] ?? '?'} (connection_security_policy=${/connection_security_policy="([^"]*)"/.exec(verified)?.[1] ?? '?'})`);

    step('denied by an AuthorizationPolicy: shop/intruder (node-a) → shop/server-b');
    const denied = await cl.exec('shop/intruder', ['nodemesh', 'workload', 'get', `http://${ip('shop/server-b')}:8080/demo`, '--timeout-ms', '3000'], { timeoutMs: 20_000 });
    if (denied.code === 0) throw new MeshError('MESH_ERR_DEMO', 'shop/intruder reached shop/server-b although shop/deny-intruder denies it');
    await waitMetric('node-b', 'inbound_tcp_authz_deny_total', { policy: 'shop/deny-intruder' }, 1);
    out(`      the connection was reset (${(denied.stderr || denied.stdout).trim().split('\n').at(-1)})`);
    for (const l of metricLines(await metrics('node-b'), 'inbound_tcp_authz_deny_total', { policy: 'shop/deny-intruder' })) out(`        ${l}`);

    step('through a Service: shop/client → shop/server (virtual IP, balanced by the node proxy)');
    const svc = (JSON.parse((await cl.agentGet('node-a', '/config_dump')).body) as { services: Array<{ key: string; vip: string }> }).services.find((x) => x.key === 'shop/server');
    if (!svc) throw new MeshError('MESH_ERR_DEMO', 'node-a has no Service shop/server in its config; see the controller log');
    const seen: Record<string, number> = {};
    for (let i = 0; i < 10; i++) {
      const r = await cl.exec('shop/client', ['nodemesh', 'workload', 'get', `http://${svc.vip}/demo`, '--timeout-ms', '5000'], { timeoutMs: 20_000 });
      if (r.code !== 0) throw new MeshError('MESH_ERR_DEMO', `GET http://${svc.vip}/ from shop/client failed: ${(r.stderr || r.stdout).trim()}`);
      const e = JSON.parse(r.stdout.trim().split('\n')[0]!) as Echo;
      if (e.body.client?.address !== ip('shop/client')) throw new MeshError('MESH_ERR_DEMO', `the endpoint saw client ${e.body.client?.address}, expected ${ip('shop/client')}`);
      seen[e.body.pod ?? '?'] = (seen[e.body.pod ?? '?'] ?? 0) + 1;
    }
    out(`      10 requests to ${svc.vip}:80 answered by ${Object.entries(seen).map(([p, k]) => `${p} ×${k}`).join(', ')}; every endpoint saw the client's own IP ✓`);
    await waitMetric('node-a', 'tcp_open_total', { dst_service: 'shop/server' }, 10);
    for (const l of metricLines(await metrics('node-a'), 'tcp_open_total', { dst_service: 'shop/server' })) out(`        ${l}`);

    step("the agents' metrics for these connections");
    for (const node of ['node-a', 'node-b']) {
      const m = await metrics(node);
      out(`      ${node}:`);
      for (const l of [...metricLines(m, 'tcp_open_total', { src_namespace: 'shop' }), ...metricLines(m, 'tcp_read_bytes_total', { src_namespace: 'shop' })]) out(`        ${l}`);
      for (const l of metricLines(m, 'nodemesh_bpf_packets_total').filter((x) => !x.endsWith(' 0'))) out(`        ${l}`);
    }

    step('not meshed: legacy/client (node-a) → legacy/server (node-b)');
    const before = { a: metricSum(await metrics('node-a'), 'tcp_open_total'), b: metricSum(await metrics('node-b'), 'tcp_open_total') };
    expectClient(await get('legacy/client', 'legacy/server'), 'legacy/client', 'legacy/server');
    await sleep(300);
    const after = { a: metricSum(await metrics('node-a'), 'tcp_open_total'), b: metricSum(await metrics('node-b'), 'tcp_open_total') };
    out(`      tcp_open_total: node-a ${before.a} → ${after.a}, node-b ${before.b} → ${after.b} ${after.a === before.a && after.b === before.b ? '(not captured ✓)' : '✗'}`);
    if (after.a !== before.a || after.b !== before.b) throw new MeshError('MESH_ERR_DEMO', 'a connection between unmeshed pods was captured by an agent');

    step('what the mesh says about it: nodemesh stat and nodemesh explain (the controller, from the agents\' reports)');
    await waitReports(c.runDir, Date.now());
    const { statCmd, explainCmd } = await import('./insight.js');
    out('      $ nodemesh stat -n shop');
    await statCmd(['-n', 'shop', '--window', '1m', '--cluster', c.clusterId]);
    out('      $ nodemesh explain legacy/client');
    await explainCmd(['legacy/client', '--cluster', c.clusterId]);
    out('      $ nodemesh explain shop/intruder shop/server-b:8080');
    await explainCmd(['shop/intruder', 'shop/server-b:8080', '--cluster', c.clusterId]);

    step('tear down');
    const r = await c.down();
    c = undefined;
    out(`      removed ${r.netns.length} network namespaces and ${r.pinDirs.length} BPF pin dirs`);
    out('\ndemo passed');
    out(`
where to look next (keep a cluster up: npx nodemesh cluster up --manifests examples/demo, then in another shell):
  npx nodemesh stat -n shop                      success rate, RPS, latency, TCP per workload (also: stat route, stat service)
  npx nodemesh tap shop/server                   live requests to and from a workload (method, path, status, identities)
  npx nodemesh explain shop/client shop/server:80   which path, route and policy a connection gets, and why
  npx nodemesh dashboard                         the web UI: service graph, workloads, tap → http://127.0.0.1:8084/
  npx nodemesh demo traffic                      the L7 demo: canary, header routing, retries, golden metrics`);
    return 0;
  } catch (e) {
    const err = toMeshError(e, 'MESH_ERR_DEMO', `step ${n} (${stepName})`);
    throw err.code === 'MESH_ERR_DEMO' || n === 0 ? err : new MeshError(err.code, `demo step ${n} (${stepName}): ${err.message}`, { cause: err });
  } finally {
    if (c) {
      out('\ntearing down after the failure…');
      await c.down().catch((e: unknown) => out(`teardown: ${(e as Error).message}`));
    }
  }
}
