// stat, tap, explain and the nodes API end to end on test/netns/manifests/insight.yaml: real
// requests through the node proxies, then the controller's answers (the CLI and its API) checked
// against what was sent — counts, success rate, tap lines, paths and verdicts that the traffic
// itself confirms. Also: a scoped token is refused another namespace, a tap client that stops
// reading is cut off, an unknown pod is a 404, a stopped agent is named.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { SimCluster, unixGet } from '../../sim/index.js';
import { CLI, manifestDir, rootGate } from './helpers.js';

const skip = rootGate();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const VIP = 'http://10.96.9.10';

async function waitFor<T>(what: string, f: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(300);
  }
}

function cli(args: string[], timeoutMs = 30_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('close', (code) => { clearTimeout(t); resolve({ code: code ?? 137, stdout, stderr }); });
  });
}

describe('insight: stat, tap, explain', { skip, timeout: 600_000 }, () => {
  let c: SimCluster;
  let ui: string;
  let tokens: string;
  const api = async (p: string): Promise<{ status: number; json: any }> => {
    const r = await unixGet(ui, p, 10_000);
    return { status: r.status, json: JSON.parse(r.body) };
  };
  const load = async (pathQ: string, count: number, pod = 'web/client'): Promise<any> => {
    const r = await c.exec(pod, ['nodemesh', 'workload', 'load', `${VIP}${pathQ}`, '--count', String(count), '--concurrency', '4'], { timeoutMs: 60_000 });
    return JSON.parse(r.stdout);
  };

  before(async () => {
    const dir = manifestDir('insight.yaml');
    tokens = path.join(dir, '..', 'user-tokens.json');
    writeFileSync(tokens, JSON.stringify({ 'tok-web': { user: 'web-dev', namespaces: ['web'] }, 'tok-all': { user: 'ops', namespaces: '*' } }));
    c = await SimCluster.up({ manifestsDir: dir, agents: true, controllerArgs: ['--user-tokens', tokens] });
    ui = path.join(c.runDir, 'controller', 'ui.sock');
    // every agent has reported, every pod's certificate is in place
    await waitFor('reports from both nodes', async () => {
      const n = (await api('/api/nodes')).json.nodes as any[];
      // node-a: client, optout, api-a; node-b: api-b, vault, lone
      return n.length === 2 && n.every((x) => x.connected && x.reportAgeMs !== null && x.inSync && x.pods === 3) ? true : undefined;
    });
    await waitFor('a route to api', async () => ((await load('/', 1)).ok === 1 ? true : undefined));
  });

  after(async () => { await c?.down(); });

  test('stat: request count and success rate of the workload, its route and Service, as sent', async () => {
    const ok = await load('/', 180);
    const bad = await load('/?status=503', 20);
    assert.equal(ok.ok + (bad.statuses['503'] ?? 0), 200, JSON.stringify({ ok, bad }));
    const row = await waitFor('stat rows with the 200 requests', async () => {
      const r = await api('/api/stat?kind=workload&namespace=web&name=api&window=2m');
      const x = r.json.rows[0];
      return x && x.requests >= 201 ? x : undefined;
    });
    // 201: the one request of before() as well
    assert.equal(row.requests, 201);
    assert.equal(row.successRate, 181 / 201);
    assert.deepEqual(row.pods, { meshed: 2, total: 2 });
    assert.ok(row.latencyMs.p50 > 0 && row.latencyMs.p99 >= row.latencyMs.p50, JSON.stringify(row.latencyMs));
    const cliOut = await cli(['stat', 'route', '-n', 'web', '--window', '2m', '-o', 'json', '--cluster', c.clusterId]);
    assert.equal(cliOut.code, 0, cliOut.stderr);
    const route = JSON.parse(cliOut.stdout).rows.find((r: any) => r.name === 'api-route');
    assert.equal(route?.requests, 201);
    const table = await cli(['stat', '-n', 'web', '--window', '2m', '--cluster', c.clusterId]);
    assert.match(table.stdout, /^NAMESPACE\s+NAME\s+MESHED\s+SUCCESS/m);
    assert.match(table.stdout, /web\s+api\s+2\/2\s+90\.05%/);
    // the client's own workload row: meshed, no requests to it
    assert.match(table.stdout, /web\s+client\s+1\/1\s+-/);
  });

  test('tap: the requests sent, filtered by path, with identities; never other paths', async () => {
    const tap = cli(['tap', 'web/api', '--path', '/tapme', '--count', '5', '-o', 'json', '--cluster', c.clusterId], 60_000);
    await sleep(1500);
    await load('/other', 10);
    await load('/tapme?x=1', 10);
    const r = await tap;
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines.length, 5);
    for (const l of lines) {
      assert.equal(l.path, '/tapme');
      assert.equal(l.method, 'GET');
      assert.equal(l.status, 200);
      assert.equal(l.srcWorkload, 'web/client');
      assert.equal(l.dstWorkload, 'web/api');
      assert.equal(l.srcIdentity, 'spiffe://cluster.local/ns/web/sa/client');
      assert.ok(l.durationMs > 0);
      assert.equal(JSON.stringify(l).includes('"body"'), false);
    }
  });

  test('tap and stat over TCP are scoped by token: another namespace is refused', async () => {
    const curl = (tok: string | undefined, p: string): Promise<{ code: number; stdout: string }> =>
      c.execNode('node-b', ['curl', '-s', '-m', '3', '-w', '\n%{http_code}', ...(tok ? ['-H', `Authorization: Bearer ${tok}`] : []), `http://10.199.0.254:8084${p}`], { timeoutMs: 10_000 });
    const none = await curl(undefined, '/api/stat');
    assert.match(none.stdout, /MESH_ERR_AUTH[\s\S]*\n401$/);
    const wrong = await curl('not-a-token', '/api/stat');
    assert.match(wrong.stdout, /MESH_ERR_AUTH[\s\S]*\n401$/);
    const secret = await curl('tok-web', '/api/tap?target=secret/vault');
    assert.match(secret.stdout, /MESH_ERR_TAP_FORBIDDEN[\s\S]*\n403$/);
    const mine = await curl('tok-web', '/api/stat?namespace=web&window=2m');
    assert.match(mine.stdout, /\n200$/);
    const all = await curl('tok-web', '/api/stat?window=2m');
    const rows = JSON.parse(all.stdout.slice(0, all.stdout.lastIndexOf('\n'))).rows as any[];
    assert.ok(rows.length > 0 && rows.every((r) => r.namespace === 'web'), JSON.stringify(rows.map((r) => r.namespace)));
    const ops = await curl('tok-all', '/api/stat?namespace=secret&window=2m');
    assert.match(ops.stdout, /\n200$/);
  });

  test('a tap client that stops reading is cut off, and the controller keeps serving', async () => {
    const taps = async (node: string): Promise<number> => JSON.parse((await c.agentGet(node, '/config_dump')).body).report.taps;
    const sock = net.connect(ui);
    await new Promise<void>((r) => sock.once('connect', () => r()));
    let closed = false;
    let got = '';
    sock.on('close', () => { closed = true; });
    sock.on('error', () => undefined);
    sock.on('data', (d: Buffer) => { got += d.toString(); });
    sock.write('GET /api/tap?target=web&max_rps=10000 HTTP/1.1\r\nHost: x\r\n\r\n');
    sock.pause(); // never read
    await waitFor('the tap open on node-a', async () => ((await taps('node-a')) === 1 ? true : undefined));
    for (let i = 0; i < 8 && (await taps('node-a')) > 0; i++) await load('/flood', 1500);
    // the controller ended the session: both agents were told to stop tapping
    await waitFor('the slow tap ended on every agent', async () => ((await taps('node-a')) === 0 && (await taps('node-b')) === 0 ? true : undefined), 20_000);
    // once the client reads again it finds the reason, then the closed connection
    sock.resume();
    await waitFor('the connection closed', async () => (closed ? true : undefined), 20_000);
    assert.match(got, /MESH_ERR_TAP_SLOW/);
    assert.equal((await api('/api/nodes')).status, 200);
  });

  test('explain POD: meshed, opted out, not in a meshed namespace, unknown', async () => {
    const client = (await api('/api/explain?pod=web/client')).json;
    assert.equal(client.meshed, true, JSON.stringify(client));
    assert.deepEqual(client.checks.filter((x: any) => !x.ok), []);
    assert.ok(client.checks.some((x: any) => x.what === 'certificate' && /spiffe:\/\/cluster.local\/ns\/web\/sa\/client: valid/.test(x.detail)));
    const optout = (await api('/api/explain?pod=web/optout')).json;
    assert.equal(optout.meshed, false);
    assert.match(optout.summary, /nodemesh\.io\/capture: "false"/);
    const lone = await cli(['explain', 'plain/lone', '--cluster', c.clusterId]);
    assert.equal(lone.code, 1);
    assert.match(lone.stdout, /not meshed: its namespace does not have the label nodemesh\.io\/mesh=enabled/);
    const ghost = await api('/api/explain?pod=web/ghost');
    assert.equal(ghost.status, 404);
    assert.equal(ghost.json.code, 'MESH_ERR_NOT_FOUND');
    const ghostCli = await cli(['explain', 'web/ghost', '--cluster', c.clusterId]);
    assert.notEqual(ghostCli.code, 0);
    assert.match(ghostCli.stderr, /MESH_ERR_NOT_FOUND/);
  });

  test('explain SRC DST: the route, both paths and the policy; the traffic agrees', async () => {
    const r = (await api(`/api/explain?src=web/client&dst=${encodeURIComponent('web/api:80')}&path=/x`)).json;
    assert.equal(r.captured, true);
    assert.equal(r.route.name, 'web/api-route');
    assert.deepEqual(r.hops.map((h: any) => [h.pod, h.path, h.authorization.allow, h.authorization.policy]).sort(), [
      ['web/api-a', 'same-node', true, 'web/only-client'],
      ['web/api-b', 'hbone', true, 'web/only-client'],
    ]);
    const apiB = c.pods.find((p) => p.key === 'web/api-b')!;
    const o = (await api(`/api/explain?src=web/optout&dst=${apiB.ip}:8080`)).json;
    assert.equal(o.captured, false);
    assert.equal(o.hops[0].path, 'plaintext');
    assert.equal(o.hops[0].authorization.allow, false);
    // what explain said is what happens
    const fromOptout = await c.exec('web/optout', ['curl', '-s', '-m', '3', '-o', '/dev/null', '-w', '%{http_code}', `http://${apiB.ip}:8080/`], { timeoutMs: 10_000 });
    assert.notEqual(fromOptout.stdout, '200', 'the opted-out pod reached api-b although explain said it is denied');
    const fromClient = await c.exec('web/client', ['curl', '-s', '-m', '3', '-o', '/dev/null', '-w', '%{http_code}', `http://${apiB.ip}:8080/`], { timeoutMs: 10_000 });
    assert.equal(fromClient.stdout, '200');
    const text = await cli(['explain', 'web/client', 'web/api:80', '--cluster', c.clusterId]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /route\s+web\/api-route \(HTTPRoute, rule 0\) → web\/api weight 1/);
  });

  test('a stopped agent is named by the nodes API and explain; back when it returns', async () => {
    await c.stopAgent('node-b');
    try {
      const n = await waitFor('node-b disconnected', async () => {
        const x = ((await api('/api/nodes')).json.nodes as any[]).find((y) => y.name === 'node-b');
        return x && !x.connected ? x : undefined;
      });
      assert.equal(n.inSync, false);
      const e = (await api('/api/explain?pod=web/api-b')).json;
      assert.ok(e.checks.some((x: any) => x.what === 'agent' && !x.ok && /not connected/.test(x.detail)), JSON.stringify(e.checks));
      assert.equal((await api('/api/stat?window=2m')).status, 200);
    } finally {
      await c.startAgent('node-b');
    }
    await waitFor('node-b back', async () => (((await api('/api/nodes')).json.nodes as any[]).find((y) => y.name === 'node-b')?.connected ? true : undefined));
  });
});
