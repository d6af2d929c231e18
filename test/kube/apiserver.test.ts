// The harness itself against the real kube-apiserver: objects round-trip through kubectl, the
// server enforces RBAC for a non-admin identity, and stop() leaves no process or temp dir.
// Needs build/kube/bin (bash scripts/build-kube.sh): a visible skip locally, a failure under CI=true.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { kubeGate, startApiServer, type ApiServer } from './apiserver.js';

const skip = kubeGate(['kube-apiserver', 'etcd', 'kubectl']);
const CONTROLLER = 'system:serviceaccount:nodemesh-system:nodemesh-controller';
let api: ApiServer | undefined;

before(async () => {
  if (skip) return;
  api = await startApiServer({ identities: { controller: { user: CONTROLLER, groups: ['system:serviceaccounts', 'system:serviceaccounts:nodemesh-system'] } } });
  console.log(`kube-apiserver ready at ${api.server} in ${api.startupMs} ms`);
});
after(async () => { await api?.stop(); });

function must(): ApiServer {
  assert.ok(api, 'API server not started');
  return api;
}

test('the server reports the version it was built as, and kubectl matches it', { skip }, async () => {
  const r = await must().kubectl(['version', '-o', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const v = JSON.parse(r.stdout) as { clientVersion: { gitVersion: string }; serverVersion: { gitVersion: string } };
  assert.match(v.serverVersion.gitVersion, /^v1\.\d+\.\d+$/);
  assert.equal(v.clientVersion.gitVersion, v.serverVersion.gitVersion);
});

test('kubectl apply of a Namespace and a Pod, read back', { skip }, async () => {
  const k = must();
  const manifest = `apiVersion: v1
kind: Namespace
metadata: { name: shop, labels: { nodemesh.io/mesh: enabled } }
---
apiVersion: v1
kind: Pod
metadata: { name: web, namespace: shop, labels: { app: web }, annotations: { nodemesh.io/capture: "false" } }
spec:
  nodeName: node-a
  containers: [{ name: web, image: registry.invalid/web:1, ports: [{ containerPort: 8080 }] }]
`;
  const applied = await k.kubectl(['apply', '-f', '-'], { stdin: manifest });
  assert.equal(applied.code, 0, applied.stderr);
  assert.match(applied.stdout, /namespace\/shop created/);
  assert.match(applied.stdout, /pod\/web created/);

  const ns = await k.kubectl(['get', 'namespace', 'shop', '-o', 'json']);
  assert.equal(ns.code, 0, ns.stderr);
  assert.equal((JSON.parse(ns.stdout) as { metadata: { labels: Record<string, string> } }).metadata.labels['nodemesh.io/mesh'], 'enabled');

  const pod = await k.kubectl(['get', 'pod', 'web', '-n', 'shop', '-o', 'json']);
  assert.equal(pod.code, 0, pod.stderr);
  const p = JSON.parse(pod.stdout) as { metadata: { uid: string; annotations: Record<string, string> }; spec: { nodeName: string }; status: { phase: string } };
  assert.equal(p.spec.nodeName, 'node-a');
  assert.equal(p.metadata.annotations['nodemesh.io/capture'], 'false');
  assert.ok(p.metadata.uid);
  assert.equal(p.status.phase, 'Pending', 'no kubelet: pods stay Pending');

  // an update is a new resourceVersion; a second apply of the same text changes nothing
  const again = await k.kubectl(['apply', '-f', '-'], { stdin: manifest });
  assert.match(again.stdout, /pod\/web unchanged/);
});

test('RBAC is enforced for a static-token identity until a role grants it', { skip }, async () => {
  const k = must();
  const denied = await k.kubectl(['get', 'pods', '-A'], { as: 'controller' });
  assert.notEqual(denied.code, 0);
  assert.match(denied.stderr, /forbidden/i);
  assert.ok(denied.stderr.includes(CONTROLLER), denied.stderr);

  const who = await k.kubectl(['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}'], { as: 'controller' });
  assert.equal(who.code, 0, who.stderr);
  assert.equal(who.stdout, CONTROLLER);

  const grant = await k.kubectl(['apply', '-f', '-'], { stdin: `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: test-pod-reader }
rules: [{ apiGroups: [""], resources: [pods], verbs: [get, list, watch] }]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: test-pod-reader }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: test-pod-reader }
subjects: [{ kind: ServiceAccount, name: nodemesh-controller, namespace: nodemesh-system }]
` });
  assert.equal(grant.code, 0, grant.stderr);
  const allowed = await k.kubectl(['get', 'pods', '-A', '-o', 'name'], { as: 'controller' });
  assert.equal(allowed.code, 0, allowed.stderr);
  assert.match(allowed.stdout, /pod\/web/);
  const stillDenied = await k.kubectl(['get', 'secrets', '-A'], { as: 'controller' });
  assert.notEqual(stillDenied.code, 0);
});

test('stop() kills both processes and removes the temp dir', { skip }, async () => {
  const k = must();
  const dir = path.dirname(k.kubeconfigPath);
  await k.stop();
  await k.stop(); // idempotent
  assert.equal(existsSync(dir), false);
  const r = await fetch(`${k.server}/readyz`).then(() => 'answered', (e: unknown) => String(e));
  assert.notEqual(r, 'answered');
});
