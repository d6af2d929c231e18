// The simulated cluster on a real kernel, without agents: pod→pod reachability same node and cross
// node (the server sees the client's pod IP), exec semantics (SimCluster and `nodemesh cluster exec`),
// pods added and removed at runtime, teardown that leaves nothing — also after a failed build, after
// SIGTERM to `cluster up`, and after a crashed run cleaned by `nodemesh cluster down`.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from '../../native/index.js';
import { SimCluster, stateDir, type ClusterStatus } from '../../sim/index.js';

interface EchoReply { status: number; body: { pod: string; node: string; podIP: string; client: { address: string; port: number } } }
interface FakeDump { node: string; manifests: string; pinDir: string; nodeEnv: string; addrs: string[]; files: string[] }

const execFileP = promisify(execFile);
const CLI = path.join(ROOT, 'bin', 'nodemesh.js');

function rootGate(): string | false {
  if (process.getuid?.() === 0) return false;
  if (process.env.CI === 'true') throw new Error('MESH_ERR_NOT_ROOT: the netns tests must run as root in CI');
  const msg = 'SKIPPED: test/netns/cluster.test.ts needs root (network namespaces); run as root';
  console.log(msg);
  return msg;
}
const skip = rootGate();

const ours = (id: string): string[] => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(`nm-${id}-`));
const alive = (pid: number): boolean => { try { process.kill(pid, 0); return true; } catch { return false; } };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
async function waitFor(what: string, f: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const t0 = Date.now();
  while (!(await f())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const pod = (ns: string, name: string, node: string, command: string, ports: number[] = []): string =>
  `---\napiVersion: v1\nkind: Pod\nmetadata: { name: ${name}, namespace: ${ns} }\nspec:\n  nodeName: ${node}\n  containers:\n    - name: c\n      image: sim\n      command: ${command}\n      ports: [${ports.map((p) => `{ containerPort: ${p} }`).join(', ')}]\n`;
const ECHO = '[nodemesh, workload, echo, --http, "8080", --tcp, "9000"]';
const SLEEP = '[sleep, infinity]';

function manifestDir(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'nm-sim-'));
  for (const [f, text] of Object.entries(files)) writeFileSync(path.join(dir, f), text);
  return dir;
}

const HALF_CLOSE = `const net=require('net');const [ip,port]=process.argv.slice(1);
const c=net.connect({host:ip,port:+port,allowHalfOpen:true},()=>c.end('hello half-close'));
let d='';c.setEncoding('utf8');c.on('data',x=>d+=x);c.on('end',()=>{console.log(JSON.stringify({received:d,local:c.localAddress}));c.destroy();});
c.on('error',e=>{console.error(e.message);process.exit(1);});`;

describe('simulated cluster without agents', { skip, timeout: 120_000 }, () => {
  let c: SimCluster;
  let dir: string;
  const ip = (k: string): string => c.pod(k).ip;

  async function get(from: string, to: string): Promise<EchoReply> {
    const r = await c.exec(from, ['nodemesh', 'workload', 'get', `http://${ip(to)}:8080/p`, '--timeout-ms', '3000'], { timeoutMs: 10_000 });
    assert.equal(r.code, 0, `GET from ${from} to ${to}: ${r.stdout}${r.stderr}`);
    return JSON.parse(r.stdout.trim()) as EchoReply;
  }

  before(async () => {
    dir = manifestDir({
      'ns.yaml': 'apiVersion: v1\nkind: Namespace\nmetadata: { name: t }\n',
      'pods.yaml': pod('t', 'client', 'node-a', SLEEP) + pod('t', 'server-a', 'node-a', ECHO, [8080, 9000]) + pod('t', 'server-b', 'node-b', ECHO, [8080, 9000]),
    });
    c = await SimCluster.up({ manifestsDir: dir, agents: false });
  });

  after(async () => {
    const id = c?.clusterId;
    const pids = c ? c.pods.map((p) => p.pid).filter((p): p is number => p !== undefined) : [];
    await c?.down();
    rmSync(dir, { recursive: true, force: true });
    if (id) {
      assert.deepEqual(ours(id), [], 'no network namespace of the cluster is left');
      assert.equal(existsSync(stateDir(id)), false, 'state dir removed');
      assert.deepEqual(pids.filter(alive), [], 'every pod process is gone');
    }
  });

  test('topology and state: planned IPs, status.json, rendered manifests with status.podIP', () => {
    assert.deepEqual(c.pods.map((p) => [p.key, p.node, p.ip]), [['t/client', 'node-a', '10.200.1.10'], ['t/server-a', 'node-a', '10.200.1.11'], ['t/server-b', 'node-b', '10.200.2.10']]);
    assert.equal(c.node('node-b').gateway, '10.200.2.1');
    assert.equal(ours(c.clusterId).length, 1 + 2 + 3);
    const st = JSON.parse(readFileSync(path.join(stateDir(c.clusterId), 'status.json'), 'utf8')) as ClusterStatus;
    assert.equal(st.clusterId, c.clusterId);
    assert.equal(st.phase, 'running');
    assert.ok(st.pods.every((p) => p.netns && p.ip && (p.key === 't/client' || (p.proc?.pid ?? 0) > 0)));
    const rendered = readFileSync(path.join(c.renderedDir, 'pods.yaml'), 'utf8');
    assert.match(rendered, /podIP: 10\.200\.2\.10/);
    assert.ok(existsSync(path.join(c.renderedDir, 'ns.yaml')));
  });

  test('same node: client reaches server-a, which sees the client pod IP', async () => {
    const r = await get('t/client', 't/server-a');
    assert.equal(r.status, 200);
    assert.deepEqual([r.body.pod, r.body.node, r.body.podIP, r.body.client.address], ['server-a', 'node-a', ip('t/server-a'), ip('t/client')]);
  });

  test('cross node: client reaches server-b, which sees the client pod IP', async () => {
    const r = await get('t/client', 't/server-b');
    assert.deepEqual([r.body.pod, r.body.node, r.body.client.address], ['server-b', 'node-b', ip('t/client')]);
  });

  test('TCP echo across nodes survives a half-close', async () => {
    const r = await c.exec('t/client', ['node', '-e', HALF_CLOSE, ip('t/server-b'), '9000'], { timeoutMs: 10_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { received: 'hello half-close', local: ip('t/client') });
  });

  test('exec: pod env, exit codes, timeouts, node netns', async () => {
    const env = await c.exec('t/server-a', ['sh', '-c', 'echo $POD_NAMESPACE/$POD_NAME $POD_IP $NODE_NAME']);
    assert.equal(env.stdout.trim(), `t/server-a ${ip('t/server-a')} node-a`);
    assert.equal((await c.exec('t/client', ['sh', '-c', 'exit 3'])).code, 3);
    const slow = await c.exec('t/client', ['sleep', '10'], { timeoutMs: 300 });
    assert.deepEqual([slow.code, slow.timedOut], [124, true]);
    const addr = await c.execNode('node-b', ['ip', '-o', '-4', 'addr', 'show', 'dev', 'eth0']);
    assert.match(addr.stdout, /10\.199\.0\.2\/24/);
    const routes = await c.execNode('node-a', ['ip', 'route']);
    assert.match(routes.stdout, /10\.200\.2\.0\/24 via 10\.199\.0\.2/);
    assert.match(routes.stdout, /10\.200\.1\.10 dev nmp\d+/);
    assert.throws(() => c.pod('t/nope'), { code: 'MESH_ERR_INVALID_ARG' });
  });

  test('`nodemesh cluster exec` finds the cluster, passes the exit code, and reports bad names', async () => {
    const run = (args: string[]) => execFileP(process.execPath, [CLI, 'cluster', 'exec', '--cluster', c.clusterId, ...args], { encoding: 'utf8' });
    const out = await run(['t/client', '--', 'sh', '-c', 'echo $POD_IP']);
    assert.equal(out.stdout.trim(), ip('t/client'));
    const get2 = await run(['t/client', '--', 'nodemesh', 'workload', 'get', `http://${ip('t/server-b')}:8080/cli`]);
    assert.equal((JSON.parse(get2.stdout) as EchoReply).body.client.address, ip('t/client'));
    await assert.rejects(run(['t/client', '--', 'sh', '-c', 'exit 5']), (e: Error & { code?: number }) => e.code === 5);
    const node = await run(['--node', 'node-a', '--', 'ip', '-o', '-4', 'addr', 'show', 'dev', 'eth0']);
    assert.match(node.stdout, /10\.199\.0\.1\/24/);
    await assert.rejects(run(['t/ghost', '--', 'true']), (e: Error & { code?: number; stderr?: string }) => e.code === 1 && /MESH_ERR_CLUSTER: .*no pod "t\/ghost"/.test(e.stderr ?? ''));
    await assert.rejects(execFileP(process.execPath, [CLI, 'cluster', 'exec', '--cluster', 'ffffff', 't/client', '--', 'true']), (e: Error & { stderr?: string }) => /MESH_ERR_CLUSTER: no cluster "ffffff"/.test(e.stderr ?? ''));
  });

  test('a pod added at runtime gets a netns, an address and its command; removing it deletes them', async () => {
    const file = path.join(dir, 'late.yaml');
    writeFileSync(file, pod('t', 'late', 'node-b', '[nodemesh, workload, echo, --http, "8080"]', [8080]));
    await waitFor('t/late running', () => c.pods.some((p) => p.key === 't/late' && p.pid !== undefined), 10_000);
    const late = c.pod('t/late');
    assert.equal(late.ip, '10.200.2.11');
    await waitFor('t/late rendered', () => readFileSync(path.join(c.renderedDir, 'late.yaml'), 'utf8').includes('podIP: 10.200.2.11'));
    await waitFor('t/late listening', async () => (await c.exec('t/client', ['nodemesh', 'workload', 'get', `http://${late.ip}:8080/`, '--timeout-ms', '1000'])).code === 0);
    assert.equal(ip('t/client'), '10.200.1.10', 'existing addresses are stable');
    rmSync(file);
    await waitFor('t/late removed', () => !c.pods.some((p) => p.key === 't/late'), 10_000);
    assert.ok(!ours(c.clusterId).includes(late.netns), 'its netns is gone');
    assert.equal(existsSync(path.join(c.renderedDir, 'late.yaml')), false);
    await waitFor('its process is gone', () => !alive(late.pid!));
  });

  test('spawnInPod runs a long-lived process that down() would reap', async () => {
    const p = c.spawnInPod('t/client', ['sleep', '30']);
    assert.ok(p.pid > 0 && alive(p.pid));
    p.kill('SIGKILL');
    const r = await p.done;
    assert.equal(r.code, 137);
  });
});

describe('teardown after failures and signals', { skip, timeout: 120_000 }, () => {
  test('a pod whose command exits at once fails the build, names the pod and its log, leaves nothing', async () => {
    const id = randomBytes(3).toString('hex');
    const dir = manifestDir({ 'p.yaml': pod('t', 'ok', 'node-a', ECHO, [8080]) + pod('t', 'crash', 'node-b', '[sh, -c, "echo boom >&2; exit 3"]', [8080]) });
    try {
      await assert.rejects(SimCluster.up({ manifestsDir: dir, agents: false, clusterId: id }), (e: Error & { code?: string }) =>
        e.code === 'MESH_ERR_CLUSTER' && /pod t\/crash exited/.test(e.message) && /t_crash\.log/.test(e.message) && /boom/.test(e.message));
      assert.deepEqual(ours(id), []);
      assert.equal(existsSync(stateDir(id)), false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a declared port that never opens times out with a clear error and leaves nothing', async () => {
    const id = randomBytes(3).toString('hex');
    const dir = manifestDir({ 'p.yaml': pod('t', 'deaf', 'node-a', SLEEP, [7777]) });
    try {
      await assert.rejects(SimCluster.up({ manifestsDir: dir, agents: false, clusterId: id, podReadyTimeoutMs: 500 }), /pod t\/deaf does not listen on port 7777 after 500 ms/);
      assert.deepEqual(ours(id), []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  async function startUp(dir: string, statusFile: string): Promise<{ child: ReturnType<typeof spawn>; st: ClusterStatus; out: () => string }> {
    const child = spawn(process.execPath, [CLI, 'cluster', 'up', '--no-agents', '--manifests', dir, '--status', statusFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
    await waitFor(`cluster up status file (${out})`, () => existsSync(statusFile), 20_000);
    return { child, st: JSON.parse(readFileSync(statusFile, 'utf8')) as ClusterStatus, out: () => out };
  }

  test('`nodemesh cluster up` tears down on SIGTERM and exits 0', async () => {
    const dir = manifestDir({ 'p.yaml': pod('t', 'a', 'node-a', ECHO, [8080]) + pod('t', 'b', 'node-b', SLEEP) });
    const statusFile = path.join(dir, 'status.json.out');
    try {
      const { child, st, out } = await startUp(dir, statusFile);
      assert.equal(ours(st.clusterId).length, 5);
      const code = await new Promise<number | null>((resolve) => { child.on('exit', (c2) => resolve(c2)); child.kill('SIGTERM'); });
      assert.equal(code, 0, out());
      assert.deepEqual(ours(st.clusterId), []);
      assert.equal(existsSync(stateDir(st.clusterId)), false);
      assert.match(out(), /removed 5 network namespace/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('after a crashed `cluster up` (SIGKILL), `nodemesh cluster down` removes everything, and again is a no-op', async () => {
    const dir = manifestDir({ 'p.yaml': pod('t', 'a', 'node-a', ECHO, [8080]) + pod('t', 'b', 'node-b', SLEEP) });
    const statusFile = path.join(dir, 'status.json.out');
    try {
      const { child, st } = await startUp(dir, statusFile);
      await new Promise<void>((resolve) => { child.on('exit', () => resolve()); child.kill('SIGKILL'); });
      const podPids = st.pods.map((p) => p.proc?.pid ?? 0);
      assert.ok(podPids.every(alive), 'the crash left pod processes behind');
      assert.equal(ours(st.clusterId).length, 5, 'and network namespaces');
      const down = await execFileP(process.execPath, [CLI, 'cluster', 'down', '--cluster', st.clusterId], { encoding: 'utf8' });
      assert.match(down.stdout, /removed 5 network namespace/);
      assert.match(down.stdout, /stopped \d+ process/);
      assert.deepEqual(ours(st.clusterId), []);
      await waitFor('pod processes gone', () => !podPids.some(alive));
      assert.equal(existsSync(stateDir(st.clusterId)), false);
      const again = await execFileP(process.execPath, [CLI, 'cluster', 'down', '--cluster', st.clusterId], { encoding: 'utf8' });
      assert.match(again.stdout, /nothing to remove/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// A stand-in agent (the real one needs the BPF object): it serves the admin socket like the agent
// does, becomes ready after a few polls and reports where it runs, so the agent handles are tested.
const FAKE_AGENT = `import http from 'node:http'; import os from 'node:os'; import fs from 'node:fs';
const a = process.argv.slice(2); const arg = (k) => a[a.indexOf(k) + 1];
const sock = arg('--admin-socket'); try { fs.unlinkSync(sock); } catch {}
let polls = 0;
const s = http.createServer((req, res) => {
  if (req.url === '/ready') { polls++; res.writeHead(polls >= 3 ? 200 : 503).end(polls >= 3 ? 'ready' : 'not yet'); return; }
  if (req.url !== '/config_dump') { res.writeHead(404).end(); return; }
  res.end(JSON.stringify({ node: arg('--node'), manifests: arg('--manifests'), pinDir: arg('--pin-dir'), nodeEnv: process.env.NODE_NAME,
    addrs: Object.values(os.networkInterfaces()).flat().map((i) => i.address), files: fs.readdirSync(arg('--manifests')) }));
});
s.listen(sock);
process.on('SIGTERM', () => { s.close(); process.exit(0); });
`;

describe('agent handles (with a stand-in agent)', { skip, timeout: 120_000 }, () => {
  let c: SimCluster;
  let dir: string;
  before(async () => {
    dir = manifestDir({ 'pods.yaml': pod('t', 'a', 'node-a', SLEEP) + pod('t', 'b', 'node-b', SLEEP) });
    writeFileSync(path.join(dir, 'fake-agent.mjs'), FAKE_AGENT);
    c = await SimCluster.up({ manifestsDir: dir, agents: true, agentCommand: ['node', path.join(dir, 'fake-agent.mjs')], controller: false });
  });
  after(async () => {
    const id = c?.clusterId;
    const pids = c ? c.nodes.map((n) => n.agentPid).filter((p): p is number => p !== undefined) : [];
    await c?.down();
    rmSync(dir, { recursive: true, force: true });
    if (id) {
      assert.deepEqual(ours(id), []);
      assert.deepEqual(pids.filter(alive), [], 'agents stopped');
    }
  });

  const dump = async (node: string): Promise<FakeDump> => JSON.parse((await c.agentGet(node, '/config_dump')).body) as FakeDump;

  test('each agent runs in its node netns with its flags and the rendered manifests', async () => {
    const d = await dump('node-b');
    assert.equal(d.node, 'node-b');
    assert.equal(d.nodeEnv, 'node-b');
    assert.ok(d.addrs.includes('10.199.0.2'), `node-b addresses: ${d.addrs}`);
    assert.ok(d.addrs.includes('10.200.2.1'), 'the gateway on the pod veth');
    assert.equal(d.pinDir, `/sys/fs/bpf/nodemesh/${c.clusterId}-node-b`);
    assert.equal(d.manifests, c.renderedDir);
    assert.deepEqual(d.files, ['pods.yaml']);
    assert.equal((await c.agentGet('node-a', '/ready')).status, 200);
    assert.equal((await c.agentGet('node-a', '/nope')).status, 404);
  });

  for (const sig of ['SIGKILL', 'SIGTERM'] as const) {
    test(`stopAgent(${sig}) then startAgent: a new, ready agent process`, async () => {
      const before = c.agentPid('node-a');
      await c.stopAgent('node-a', sig);
      assert.equal(alive(before), false);
      assert.throws(() => c.agentPid('node-a'), { code: 'MESH_ERR_CLUSTER' });
      await assert.rejects(c.agentGet('node-a', '/ready'), { code: 'MESH_ERR_CLUSTER' });
      await c.startAgent('node-a');
      assert.notEqual(c.agentPid('node-a'), before);
      assert.equal((await c.agentGet('node-a', '/ready')).status, 200);
      await assert.rejects(c.startAgent('node-a'), /already running/);
    });
  }

  test('an agent that dies at startup fails the build with its log, and nothing is left', async () => {
    const id = randomBytes(3).toString('hex');
    await assert.rejects(
      SimCluster.up({ manifestsDir: dir, agents: true, clusterId: id, agentCommand: ['node', '-e', 'console.error("MESH_ERR_NO_BPFFS: no bpffs"); process.exit(1)', '--'] }),
      (e: Error & { code?: string }) => e.code === 'MESH_ERR_CLUSTER' && /the agent of node-[ab] exited during startup/.test(e.message) && /no bpffs/.test(e.message));
    assert.deepEqual(ours(id), []);
    assert.equal(existsSync(stateDir(id)), false);
  });
});
