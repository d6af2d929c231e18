// L7 authorization end to end: AuthorizationPolicies with HTTP fields (methods, paths, headers)
// enforced per request by the destination's node proxy — over HBONE (node-b), same node (node-a)
// and for plaintext from outside the mesh — answering 403 or gRPC PERMISSION_DENIED on a
// connection that stays usable, counted by policy, logged once per denial; TCP gets the verdict.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { SimCluster } from '../../sim/index.js';
import { ROOT } from '../../native/index.js';
import { TCP_TOOL, manifestDir, metricSum, rootGate, waitFor } from './helpers.js';

const skip = rootGate();
const API = '10.96.8.10';
const LOCAL = '10.96.8.11';
const GRPCURL = path.join(ROOT, 'build', 'tools', 'bin', 'grpcurl');
const READ = 'authz/api-read';
const ADMIN = 'authz/no-admin';

interface Answer { status: number; error: string; body: string; connects: number }

describe('L7 authorization per request', { skip, timeout: 600_000 }, () => {
  let c: SimCluster;
  let dir: string;
  let podIp: (key: string) => string;

  /** Requests in one curl process, so on one keep-alive connection when the method allows it. */
  async function curl(from: string, urls: string[], extra: string[] = []): Promise<Answer[]> {
    const args = ['curl', '-sS', '--max-time', '10', '-D', '-', ...extra];
    for (const u of urls) args.push(u, '-w', '\n@@END %{http_code} %{num_connects}@@\n');
    const r = await c.exec(from, args, { timeoutMs: 30_000 });
    assert.equal(r.code, 0, `curl failed: ${r.stdout}${r.stderr}`);
    const out: Answer[] = [];
    for (const m of r.stdout.matchAll(/([\s\S]*?)\n@@END (\d+) (\d+)@@\n/g)) {
      const [head, ...rest] = m[1]!.split(/\r?\n\r?\n/);
      const err = /^x-nodemesh-error:\s*(\S+)/im.exec(head ?? '');
      out.push({ status: Number(m[2]), error: err?.[1] ?? '', body: rest.join('\n\n'), connects: Number(m[3]) });
    }
    assert.equal(out.length, urls.length, r.stdout);
    return out;
  }
  const counts = async (node: string): Promise<Record<string, number>> => {
    const m = (await c.agentGet(node, '/metrics')).body;
    return {
      readAllow: metricSum(m, 'inbound_http_authz_allow_total', { policy: READ }),
      readDeny: metricSum(m, 'inbound_http_authz_deny_total', { policy: READ }),
      adminDeny: metricSum(m, 'inbound_http_authz_deny_total', { policy: ADMIN }),
      inbound403: metricSum(m, 'response_total', { direction: 'inbound', status_code: '403', dst_workload: 'api' }),
    };
  };
  const delta = (a: Record<string, number>, b: Record<string, number>): Record<string, number> =>
    Object.fromEntries(Object.keys(b).map((k) => [k, b[k]! - (a[k] ?? 0)]));

  before(async () => {
    dir = manifestDir('l7-authz.yaml');
    c = await SimCluster.up({ manifestsDir: dir, agents: true });
    podIp = (key) => c.pod(key).ip;
    await waitFor('policies in force on both nodes', async () => {
      const [a, b] = await Promise.all([API, LOCAL].map((ip) => curl('authz/client', [`http://${ip}/private`]).catch(() => [])));
      return a?.[0]?.status === 403 && b?.[0]?.status === 403;
    }, 30_000, 250);
  });

  after(async () => {
    await c?.down();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const [where, ip, node] of [['over HBONE (node-b)', API, 'node-b'], ['on the same node', LOCAL, 'node-a']] as const) {
    test(`${where}: allowed and denied requests on one keep-alive connection, counted by policy`, async () => {
      const other = node === 'node-b' ? 'node-a' : 'node-b';
      const [before, otherBefore] = await Promise.all([counts(node), counts(other)]);
      const got = await curl('authz/client', [
        `http://${ip}/public/a`, `http://${ip}/private`, `http://${ip}/public/admin/x`, `http://${ip}/public/b`,
      ]);
      assert.deepEqual(got.map((g) => g.status), [200, 403, 403, 200]);
      assert.deepEqual(got.map((g) => g.connects), [1, 0, 0, 0], 'one connection: a denial does not close it');
      assert.deepEqual(got.map((g) => g.error), ['', 'MESH_ERR_AUTHZ_DENIED', 'MESH_ERR_AUTHZ_DENIED', '']);
      assert.match(got[1]!.body, /^MESH_ERR_AUTHZ_DENIED: /);
      assert.ok(!got[1]!.body.includes('api-read'), 'the policy name is not told to the refused client');
      assert.equal((JSON.parse(got[3]!.body) as { path: string }).path, '/public/b');
      // methods and headers
      const [post] = await curl('authz/client', [`http://${ip}/public/a`], ['-X', 'POST', '-d', 'x']);
      const [form] = await curl('authz/client', [`http://${ip}/public/form`], ['-X', 'POST', '-d', 'x', '-H', 'x-csrf: ok']);
      const [formBad] = await curl('authz/client', [`http://${ip}/public/form`], ['-X', 'POST', '-d', 'x', '-H', 'x-csrf: no']);
      assert.deepEqual([post!.status, form!.status, formBad!.status], [403, 200, 403]);
      // another identity
      const [intruder] = await curl('authz/intruder', [`http://${ip}/public/a`]);
      assert.equal(intruder!.status, 403);
      const want = { readAllow: 3, readDeny: 4, adminDeny: 1, inbound403: node === 'node-b' ? 5 : 0 };
      let d: Record<string, number> = {};
      await waitFor(`exact counts on ${node}`, async () => {
        d = delta(before, await counts(node));
        return d.readAllow === want.readAllow && d.readDeny === want.readDeny && d.adminDeny === want.adminDeny;
      }, 5000, 100).catch(() => undefined);
      assert.deepEqual(d, want, 'allow/deny by policy; the inbound 403s of the destination node (same node: counted outbound)');
      assert.deepEqual(delta(otherBefore, await counts(other)), { readAllow: 0, readDeny: 0, adminDeny: 0, inbound403: 0 }, `nothing counted on ${other}`);
    });
  }

  test('h2c: the same rules per stream, streams of one connection (nghttp)', async () => {
    const urls = ['public/h2', 'nope', 'public/h3', 'public/admin'].map((u) => `http://${API}:81/${u}`);
    const r = await c.exec('authz/client', ['nghttp', '-n', '-v', ...urls], { timeoutMs: 30_000 });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const byStream = new Map<number, number>();
    for (const m of r.stdout.matchAll(/recv \(stream_id=(\d+)\) :status: (\d+)/g)) byStream.set(Number(m[1]), Number(m[2]));
    assert.deepEqual([...byStream.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1]), [200, 403, 200, 403], r.stdout);
    assert.equal((r.stdout.match(/Connected/g) ?? []).length, 1, 'one connection');
  });

  test('gRPC: health and reflection allowed, Echo denied with PERMISSION_DENIED (code 7)', { skip: existsSync(GRPCURL) ? false : `${GRPCURL} is not built: run bash scripts/build-tools.sh` }, async () => {
    for (const ip of [API, LOCAL]) {
      const h = await c.exec('authz/client', [GRPCURL, '-plaintext', '-d', '{"service":""}', `${ip}:90`, 'grpc.health.v1.Health/Check'], { timeoutMs: 20_000 });
      assert.match(h.stdout, /"status": "SERVING"/, h.stdout + h.stderr);
      const e = await c.exec('authz/client', [GRPCURL, '-plaintext', '-d', '{"message":"hi"}', `${ip}:90`, 'nodemesh.echo.v1.Echo/Echo'], { timeoutMs: 20_000 });
      assert.notEqual(e.code, 0);
      assert.match(e.stderr, /Code: PermissionDenied\s+Message: MESH_ERR_AUTHZ_DENIED: /, e.stderr);
    }
  });

  test('TCP to a port whose ALLOW rules are HTTP-only: the connection is refused, HTTP is not guessed', async () => {
    const r = await c.exec('authz/client', [process.execPath, TCP_TOOL, 'probe', API, '9000', 'not-http-bytes', '3000'], { timeoutMs: 20_000 });
    const got = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { ok: boolean };
    assert.equal(got.ok, false, r.stdout);
  });

  test('plaintext from outside the mesh gets 403 per request (no identity), then an allowed-path request still 403', async () => {
    const ip = podIp('authz/api-a');
    const got = await curl('outside/stranger', [`http://${ip}:8080/public/a`, `http://${ip}:8080/public/admin`]);
    assert.deepEqual(got.map((g) => [g.status, g.error]), [[403, 'MESH_ERR_AUTHZ_DENIED'], [403, 'MESH_ERR_AUTHZ_DENIED']]);
  });

  test('each denial is one JSON log line of the agent, without header values', async () => {
    await curl('authz/client', [`http://${API}/private/logged`], ['-H', 'authorization: Bearer secret-token']);
    const log = c.node('node-b').agentLog;
    await waitFor('the denial logged on node-b', () => readFileSync(log, 'utf8').includes('/private/logged'), 5000, 100);
    const line = readFileSync(log, 'utf8').split('\n').find((l) => l.includes('/private/logged'))!;
    const j = JSON.parse(line) as Record<string, unknown>;
    assert.equal(j.msg, 'request denied by authorization');
    assert.equal(j.policy, READ);
    assert.equal(j.identity, 'spiffe://cluster.local/ns/authz/sa/client');
    assert.equal(j.method, 'GET');
    assert.ok(!line.includes('secret-token'));
  });

  test('access log (namespace annotation): one JSON line per request at each hop, no query, no header values', async () => {
    await curl('authz/client', [`http://${API}/public/access?token=secret-q`], ['-H', 'x-secret: s3cr3t']);
    const lineOf = async (node: string, dir: string): Promise<Record<string, unknown>> => {
      let found: Record<string, unknown> | undefined;
      await waitFor(`the ${dir} access log line on ${node}`, () => {
        for (const l of readFileSync(c.node(node).agentLog, 'utf8').split('\n')) {
          if (l.includes('"http request"') && l.includes('/public/access') && l.includes(`"direction":"${dir}"`)) found = JSON.parse(l) as Record<string, unknown>;
        }
        return found !== undefined;
      }, 5000, 100);
      assert.ok(!JSON.stringify(found).includes('secret-q') && !JSON.stringify(found).includes('s3cr3t'));
      return found!;
    };
    const out = await lineOf('node-a', 'outbound');
    assert.deepEqual([out.method, out.path, out.status, out.route_kind, out.backend, out.src_identity, out.protocol], ['GET', '/public/access', 200, 'default', 'authz/api', 'spiffe://cluster.local/ns/authz/sa/client', 'HTTP/1.1']);
    const inb = await lineOf('node-b', 'inbound');
    assert.deepEqual([inb.method, inb.path, inb.status, inb.src_identity, inb.dst_identity], ['GET', '/public/access', 200, 'spiffe://cluster.local/ns/authz/sa/client', 'spiffe://cluster.local/ns/authz/sa/api']);
    assert.equal(typeof inb.duration_ms, 'number');
  });

  test('the agents survived every denial', async () => {
    const [ok] = await curl('authz/client', [`http://${API}/public/end`]);
    assert.equal(ok!.status, 200);
    for (const n of ['node-a', 'node-b']) assert.equal((await c.agentGet(n, '/ready')).status, 200);
  });
});
