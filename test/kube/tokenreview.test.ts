// Node credentials in Kubernetes mode against a real kube-apiserver: a ServiceAccount token bound
// to a Node authenticates the agent of that node only (TokenReview), and the controller streams
// that node's view to it over gRPC. Needs build/kube/bin (skip locally, failure under CI=true).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { pino } from 'pino';
import { TokenReviewAuth, runController, type ControllerHandle } from '../../controller/src/index.js';
import { KubeSource } from '../../controller/src/sources/index.js';
import { ControllerFeed } from '../../agent/src/config/index.js';
import { applyUpdate, type NodeConfig } from '../../controller/src/views/index.js';
import { kubeGate, startApiServer, type ApiServer } from './apiserver.js';

const skip = kubeGate(['kube-apiserver', 'etcd', 'kubectl']);
let api: ApiServer | undefined;
let tokenA = '';

async function kubectl(args: string[], stdin?: string): Promise<string> {
  const r = await api!.kubectl(args, stdin === undefined ? {} : { stdin });
  assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

before(async () => {
  if (skip) return;
  api = await startApiServer();
  await kubectl(['apply', '-f', '-'], `apiVersion: v1
kind: Namespace
metadata: { name: nodemesh-system }
---
apiVersion: v1
kind: ServiceAccount
metadata: { name: nodemesh-agent, namespace: nodemesh-system }
---
apiVersion: v1
kind: Node
metadata: { name: node-a }
---
apiVersion: v1
kind: Node
metadata: { name: node-b }
`);
  tokenA = (await kubectl(['create', 'token', 'nodemesh-agent', '-n', 'nodemesh-system', '--bound-object-kind', 'Node', '--bound-object-name', 'node-a'])).trim();
}, { timeout: 120_000 });

after(async () => { await api?.stop(); });

test('a node-bound agent token authenticates its own node only', { skip, timeout: 60_000 }, async () => {
  const auth = new TokenReviewAuth({ kubeconfig: api!.kubeconfigPath });
  await auth.verify('node-a', tokenA);
  await assert.rejects(auth.verify('node-b', tokenA), { code: 'MESH_ERR_AUTH', message: /bound to node node-a/ });
  await assert.rejects(auth.verify('node-a', 'not-a-token'), { code: 'MESH_ERR_AUTH' });
  await assert.rejects(auth.verify('node-a', api!.token), { code: 'MESH_ERR_AUTH', message: /not of the agent ServiceAccount/ });
});

test('controller on the Kubernetes source streams node-a its view to the TokenReview-authenticated agent', { skip, timeout: 60_000 }, async () => {
  const log = pino({ level: 'silent' });
  await kubectl(['apply', '-f', '-'], `apiVersion: v1
kind: Namespace
metadata: { name: shop, labels: { nodemesh.io/mesh: enabled } }
---
apiVersion: v1
kind: Pod
metadata: { name: web, namespace: shop }
spec: { nodeName: node-a, containers: [{ name: c, image: x }] }
`);
  await kubectl(['patch', 'pod', 'web', '-n', 'shop', '--subresource=status', '--type=merge', '-p', '{"status":{"podIP":"10.200.1.7"}}']);
  let ctl: ControllerHandle | undefined;
  let feed: ControllerFeed | undefined;
  try {
    ctl = await runController({ source: new KubeSource({ kubeconfig: api!.kubeconfigPath }), auth: new TokenReviewAuth({ kubeconfig: api!.kubeconfigPath }), grpcHost: '127.0.0.1', grpcPort: 0, adminPort: -1, log });
    let cfg: NodeConfig | undefined;
    feed = new ControllerFeed({ address: `127.0.0.1:${ctl.grpcPort}`, node: 'node-a', token: tokenA, stateDir: '/tmp/nodemesh-tokenreview-test', current: () => cfg!, log });
    await feed.start((u) => { cfg = applyUpdate(cfg, u); });
    const t0 = Date.now();
    while (!cfg?.workloads.get('shop/web') && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 20));
    assert.equal(cfg?.workloads.get('shop/web')?.ip, '10.200.1.7');
    assert.equal(cfg?.workloads.get('shop/web')?.meshed, true);
  } finally {
    feed?.close();
    await ctl?.stop();
    rmSync('/tmp/nodemesh-tokenreview-test', { recursive: true, force: true });
  }
});
