// The insight API (stat, workloads, explain, tap) with --user-auth kubernetes against a real
// kube-apiserver: the controller runs as its ServiceAccount with deploy/base's RBAC, reviews each
// caller's Bearer token (TokenReview) and asks RBAC per namespace (SubjectAccessReview) with the
// ClusterRoles deploy/base/insight-rbac.yaml ships: a viewer sees its namespace only and may not
// tap, a tapper may tap, a user with no binding sees nothing, and no or a bad token is a 401.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { parseAllDocuments, stringify } from 'yaml';
import { TokenReviewAuth, runController, type ControllerHandle } from '../../controller/src/index.js';
import { KubeSource } from '../../controller/src/sources/index.js';
import { DashboardServer, KubeUserAuth } from '../../dashboard/index.js';
import { REPO_ROOT, kubeGate, startApiServer, type ApiServer } from './apiserver.js';

const skip = kubeGate(['kube-apiserver', 'etcd', 'kubectl']);
const SA_NS = 'nodemesh-system';
const SA = 'nodemesh-controller';
let api: ApiServer | undefined;
let ctl: ControllerHandle | undefined;
let ui: DashboardServer | undefined;
let port = 0;

async function kubectl(args: string[], stdin?: string): Promise<string> {
  const r = await api!.kubectl(args, stdin === undefined ? {} : { stdin });
  assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const docs = (file: string): string => parseAllDocuments(readFileSync(path.join(REPO_ROOT, 'deploy', 'base', file), 'utf8'))
  .map((d) => d.toJS() as { kind: string } | null).filter((o) => o && o.kind !== 'ServiceAccount').map((o) => stringify(o)).join('---\n');

/** GET on the UI port; for /api/tap, the status and the first line only. */
function get(urlPath: string, token?: string): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, headers: token ? { authorization: `Bearer ${token}` } : {} }, (res) => {
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        buf += d;
        if (urlPath.startsWith('/api/tap') && res.statusCode === 200 && buf.includes('\n')) { req.destroy(); resolve({ status: 200, body: JSON.parse(buf.slice(0, buf.indexOf('\n'))) as Record<string, unknown> }); }
      });
      res.on('end', () => { try { resolve({ status: res.statusCode ?? 0, body: JSON.parse(buf) as Record<string, unknown> }); } catch (e) { reject(e as Error); } });
    });
    req.on('error', (e) => { if (!req.destroyed || !urlPath.startsWith('/api/tap')) reject(e); });
  });
}

before(async () => {
  if (skip) return;
  api = await startApiServer({ identities: {
    controller: { user: `system:serviceaccount:${SA_NS}:${SA}`, groups: ['system:serviceaccounts', `system:serviceaccounts:${SA_NS}`] },
    alice: { user: 'alice' }, bob: { user: 'bob' }, carol: { user: 'carol' },
  } });
  await kubectl(['apply', '-k', path.join(REPO_ROOT, 'deploy', 'crds')]);
  await kubectl(['apply', '-f', path.join(REPO_ROOT, 'test', 'kube', 'fixtures', 'gateway-api-routes.yaml')]);
  await kubectl(['wait', '--for=condition=Established', 'crd', '--all', '--timeout=60s']);
  await kubectl(['apply', '-f', '-'], `apiVersion: v1\nkind: Namespace\nmetadata: { name: ${SA_NS} }\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata: { name: ${SA}, namespace: ${SA_NS} }\n---\n${docs('controller-rbac.yaml')}---\n${docs('insight-rbac.yaml')}`);
  await kubectl(['apply', '-f', '-'], ['web', 'secret'].map((ns) => `apiVersion: v1
kind: Namespace
metadata: { name: ${ns}, labels: { nodemesh.io/mesh: enabled } }
---
apiVersion: v1
kind: Pod
metadata: { name: app, namespace: ${ns} }
spec: { nodeName: node-a, containers: [{ name: c, image: x }] }
`).join('---\n'));
  await kubectl(['apply', '-f', '-'], 'apiVersion: v1\nkind: Node\nmetadata: { name: node-a }\n');
  for (const [ns, ip] of [['web', '10.200.1.7'], ['secret', '10.200.1.8']] as const) {
    await kubectl(['patch', 'pod', 'app', '-n', ns, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { podIP: ip } })]);
  }
  await kubectl(['create', 'rolebinding', 'alice-view', '-n', 'web', '--clusterrole=nodemesh-insight-viewer', '--user=alice']);
  await kubectl(['create', 'rolebinding', 'bob-tap', '-n', 'web', '--clusterrole=nodemesh-insight-tapper', '--user=bob']);
  const kc = { kubeconfig: api.kubeconfigs.controller! };
  const log = pino({ level: 'silent' });
  // the authorizer may take a moment to see the controller's binding: retry while it is forbidden
  for (let i = 0; i < 50 && !ctl; i++) {
    try {
      ctl = await runController({ source: new KubeSource({ ...kc, startTimeoutMs: 20_000 }), auth: new TokenReviewAuth(kc), grpcHost: '127.0.0.1', grpcPort: 0, adminPort: -1, log });
    } catch (e) {
      assert.equal((e as { code?: string }).code, 'MESH_ERR_KUBE_FORBIDDEN', String(e));
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  assert.ok(ctl, 'the controller started as its ServiceAccount');
  ui = new DashboardServer({ source: ctl, kube: new KubeUserAuth({ ...kc, cacheMs: 0 }) });
  port = await ui.listenTcp(0, '127.0.0.1');
  // both pods in the controller's model
  let seen = 0;
  for (let i = 0; i < 100 && seen < 2; i++) {
    seen = ((await get('/api/workloads', api.token)).body.workloads as unknown[] | undefined)?.length ?? 0;
    if (seen < 2) await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(seen, 2, 'both pods reach the controller\'s model');
}, { timeout: 180_000 });

after(async () => {
  await ui?.close();
  await ctl?.stop();
  await api?.stop();
});

test('no token or a token the API server does not know: 401 MESH_ERR_AUTH', { skip }, async () => {
  for (const token of [undefined, 'not-a-token']) {
    const r = await get('/api/workloads', token);
    assert.equal(r.status, 401, JSON.stringify(r.body));
    assert.equal(r.body.code, 'MESH_ERR_AUTH');
  }
});

test('an admin sees both namespaces; a viewer of web sees web only and is refused secret', { skip }, async () => {
  const ids = async (token: string): Promise<string[]> => ((await get('/api/workloads', token)).body.workloads as Array<{ id: string }>).map((w) => w.id).sort();
  assert.deepEqual(await ids(api!.token), ['secret/default', 'web/default']);
  assert.deepEqual(await ids(api!.tokens.alice!), ['web/default']);
  assert.equal((await get('/api/stat?kind=workload&namespace=web', api!.tokens.alice!)).status, 200);
  const refused = await get('/api/stat?kind=workload&namespace=secret', api!.tokens.alice!);
  assert.equal(refused.status, 403);
  assert.equal(refused.body.code, 'MESH_ERR_TAP_FORBIDDEN');
  assert.equal((await get('/api/explain?pod=web/app', api!.tokens.alice!)).status, 200);
  assert.equal((await get('/api/explain?pod=secret/app', api!.tokens.alice!)).status, 403);
});

test('tap needs watch on taps: the viewer is refused, the tapper gets the stream', { skip }, async () => {
  const viewer = await get('/api/tap?target=web', api!.tokens.alice!);
  assert.equal(viewer.status, 403);
  assert.match(String(viewer.body.message), /alice may not tap namespace "web"/);
  const tapper = await get('/api/tap?target=web', api!.tokens.bob!);
  assert.equal(tapper.status, 200);
  assert.equal(typeof tapper.body.tap, 'string');
  assert.equal((await get('/api/tap?target=secret', api!.tokens.bob!)).status, 403);
});

test('a user with no binding is authenticated but sees nothing', { skip }, async () => {
  const r = await get('/api/workloads', api!.tokens.carol!);
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.workloads, []);
  assert.equal((await get('/api/graph', api!.tokens.carol!)).status, 200);
  assert.equal((await get('/api/stat?kind=workload&namespace=web', api!.tokens.carol!)).status, 403);
});
