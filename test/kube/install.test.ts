// nodemesh install / check --pre / uninstall against a real kube-apiserver: --dry-run prints the
// flags' values and creates nothing; check --pre is all ✓ for the admin and ✗ with an RBAC hint for
// a limited user; install applies every object; uninstall deletes the agents, waits for the node
// cleanup DaemonSet on every node (this test plays its controller, as there is no kubelet here),
// then removes everything. The cleanup's kernel side is test/netns/check.test.ts.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { kubeBin, kubeGate, REPO_ROOT, startApiServer, type ApiServer } from './apiserver.js';

const skip = kubeGate(['kube-apiserver', 'etcd', 'kubectl']);
const CLI = path.join(REPO_ROOT, 'bin', 'nodemesh.js');
const NS = 'nodemesh-system';

function cli(args: string[], kubeconfig: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args, '--kubectl', kubeBin('kubectl'), '--kubeconfig', kubeconfig], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { out += d; });
    child.on('close', (code) => resolve({ code: code ?? -1, out }));
  });
}

describe('nodemesh install, check --pre, uninstall', { skip, timeout: 300_000 }, () => {
  let api: ApiServer;
  const kubectl = async (args: string[], stdin?: string): Promise<string> => {
    const r = await api.kubectl(args, stdin === undefined ? {} : { stdin });
    assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const exists = async (args: string[]): Promise<boolean> => (await api.kubectl(['get', ...args])).code === 0;

  before(async () => {
    api = await startApiServer({ identities: { limited: { user: 'jane' } } });
    // the Gateway API route CRDs (test stand-in) as a cluster would have them, and one Node
    await kubectl(['apply', '-f', path.join(REPO_ROOT, 'test', 'kube', 'fixtures', 'gateway-api-routes.yaml')]);
    await kubectl(['apply', '-f', '-'], 'apiVersion: v1\nkind: Node\nmetadata: { name: node-a }\n');
    // jane may create config maps in nodemesh-system and nothing else
    await kubectl(['apply', '-f', '-'], `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: configmap-writer }
rules: [{ apiGroups: [""], resources: [configmaps], verbs: [create, get, list] }]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: jane-configmaps }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: configmap-writer }
subjects: [{ apiGroup: rbac.authorization.k8s.io, kind: User, name: jane }]
`);
  });

  after(async () => { await api?.stop(); });

  test('install --dry-run prints the objects with the flags applied and creates nothing', async () => {
    const r = await cli(['install', '--dry-run', '--image', 'registry.example.com/nodemesh:9.9', '--controller-replicas', '2', '--trust-domain', 'prod.example.com', '--log-level', 'debug', '--no-example-namespace'], api.kubeconfigPath);
    assert.equal(r.code, 0, r.out);
    type Doc = { kind: string; metadata: { name: string }; spec?: Record<string, unknown>; data?: Record<string, string> };
    const objs = parseAllDocuments(r.out).map((d) => d.toJS() as Doc);
    const get = (kind: string, name: string) => objs.find((o) => o.kind === kind && o.metadata.name === name);
    assert.equal(get('Deployment', 'nodemesh-controller')?.spec?.replicas, 2);
    assert.equal(get('ConfigMap', 'nodemesh-config')?.data?.trustDomain, 'prod.example.com');
    assert.equal(get('ConfigMap', 'nodemesh-config')?.data?.logLevel, 'debug');
    const agentSpec = get('DaemonSet', 'nodemesh-agent')?.spec as { template: { spec: { containers: { image: string }[] } } } | undefined;
    assert.equal(agentSpec?.template.spec.containers[0]?.image, 'registry.example.com/nodemesh:9.9');
    assert.equal(get('Namespace', 'nodemesh-example'), undefined);
    assert.equal(objs[0]!.kind, 'CustomResourceDefinition');
    // the printed YAML is valid for this API server as it stands (server-side dry run, strict)
    await kubectl(['apply', '--dry-run=server', '--validate=strict', '-f', '-'], objs.filter((o) => o.kind === 'CustomResourceDefinition' || o.kind === 'Namespace').map((o) => JSON.stringify(o)).join('\n---\n'));
    assert.equal(await exists(['namespace', NS]), false, 'a dry run created the namespace');
    assert.equal(await exists(['crd', 'authorizationpolicies.policy.nodemesh.io']), false);
  });

  test('check --pre as the admin: every line ✓, exit 0', async () => {
    const r = await cli(['check', '--pre'], api.kubeconfigPath);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /^✓ API server version: v1\.\d+\.\d+ ≥ 1\.30/m);
    assert.match(r.out, /^✓ can create daemonsets\.apps in nodemesh-system: allowed/m);
    assert.match(r.out, /^✓ can create customresourcedefinitions\.apiextensions\.k8s\.io: allowed/m);
    assert.match(r.out, /^✓ CRD authorizationpolicies\.policy\.nodemesh\.io: not installed yet; nodemesh install creates it/m);
    assert.match(r.out, /^✓ Gateway API CRD httproutes\.gateway\.networking\.k8s\.io: installed/m);
    assert.doesNotMatch(r.out, /^✗/m);
  });

  test('check --pre as an RBAC-limited user: ✗ with a hint for what is forbidden, exit 1', async () => {
    const r = await cli(['check', '--pre'], api.kubeconfigs.limited!);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /^✓ can create configmaps in nodemesh-system: allowed/m);
    assert.match(r.out, /^✗ can create daemonsets\.apps in nodemesh-system: forbidden for the current user\n {4}hint: nodemesh install needs create on daemonsets \(API group apps\) in namespace nodemesh-system: run as a cluster admin, or bind a ClusterRole/m);
    assert.match(r.out, /^✗ can create clusterroles\.rbac\.authorization\.k8s\.io: forbidden/m);
    assert.match(r.out, /^✗ CRD authorizationpolicies\.policy\.nodemesh\.io: not installed, and the current user may not create CRDs\n {4}hint: ask a cluster admin/m);
    assert.match(r.out, /Status check results are ✗/);
  });

  test('install applies everything; CRDs are Established; a re-install is a no-op', async () => {
    const r = await cli(['install', '--trust-domain', 'prod.example.com', '--controller-replicas', '2'], api.kubeconfigPath);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /nodemesh installed/);
    assert.equal(JSON.parse(await kubectl(['-n', NS, 'get', 'configmap', 'nodemesh-config', '-o', 'json'])).data.trustDomain, 'prod.example.com');
    assert.equal(JSON.parse(await kubectl(['-n', NS, 'get', 'deployment', 'nodemesh-controller', '-o', 'json'])).spec.replicas, 2);
    for (const o of [['-n', NS, 'daemonset', 'nodemesh-agent'], ['-n', NS, 'service', 'nodemesh-controller'], ['clusterrole', 'nodemesh-controller'], ['namespace', 'nodemesh-example'], ['crd', 'meshtlspolicies.policy.nodemesh.io']]) {
      assert.ok(await exists(o), `${o.join(' ')} missing after install`);
    }
    // policies can be created right away: the CRDs are served
    await kubectl(['apply', '-f', '-'], 'apiVersion: policy.nodemesh.io/v1alpha1\nkind: AuthorizationPolicy\nmetadata: { name: p, namespace: nodemesh-example }\nspec: { action: ALLOW, rules: [{}] }\n');
    const again = await cli(['install', '--trust-domain', 'prod.example.com', '--controller-replicas', '2'], api.kubeconfigPath);
    assert.equal(again.code, 0, again.out);
    assert.match(again.out, /deployment\.apps\/nodemesh-controller unchanged/);
  });

  test('uninstall: agents deleted, node cleanup run and awaited, then everything removed', async () => {
    const run = cli(['uninstall', '--cleanup-timeout', '60'], api.kubeconfigPath);
    // play the DaemonSet controller and kubelet for the cleanup DaemonSet: check what it would run,
    // then report its pod ready on the one node
    type CleanupDs = { spec: { template: { spec: { hostNetwork: boolean; initContainers: { args: string[]; securityContext: { capabilities: { add: string[] } } }[] } } } };
    let ds: CleanupDs | undefined;
    for (let i = 0; i < 200 && !ds; i++) {
      const r = await api.kubectl(['-n', NS, 'get', 'daemonset', 'nodemesh-agent-cleanup', '-o', 'json']);
      if (r.code === 0) ds = JSON.parse(r.stdout) as CleanupDs; else await new Promise((res) => setTimeout(res, 100));
    }
    assert.ok(ds, 'the cleanup DaemonSet never appeared');
    assert.equal(await exists(['-n', NS, 'daemonset', 'nodemesh-agent']), false, 'the agents must be gone before the cleanup runs');
    const init = ds.spec.template.spec.initContainers[0]!;
    assert.deepEqual(init.args, ['agent', 'cleanup', '--pin-dir=/sys/fs/bpf/nodemesh', '--routing']);
    assert.ok(init.securityContext.capabilities.add.includes('NET_ADMIN'));
    assert.equal(ds.spec.template.spec.hostNetwork, true);
    await kubectl(['-n', NS, 'patch', 'daemonset', 'nodemesh-agent-cleanup', '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { desiredNumberScheduled: 1, currentNumberScheduled: 1, numberReady: 1, numberMisscheduled: 0 } })]);
    const r = await run;
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /node cleanup done on 1 node\(s\)/);
    for (const o of [['-n', NS, 'deployment', 'nodemesh-controller'], ['-n', NS, 'daemonset', 'nodemesh-agent-cleanup'], ['-n', NS, 'configmap', 'nodemesh-config'], ['clusterrole', 'nodemesh-controller'], ['clusterrolebinding', 'nodemesh-controller']]) {
      assert.equal(await exists(o), false, `${o.join(' ')} still there`);
    }
    // namespaces only finish terminating with a controller-manager; here they must be terminating
    for (const ns of [NS, 'nodemesh-example']) {
      const r2 = await api.kubectl(['get', 'namespace', ns, '-o', 'json']);
      if (r2.code === 0) assert.ok(JSON.parse(r2.stdout).metadata.deletionTimestamp, `${ns} is not being deleted`);
    }
    for (let i = 0; i < 100 && await exists(['crd', 'authorizationpolicies.policy.nodemesh.io']); i++) await new Promise((res) => setTimeout(res, 100));
    assert.equal(await exists(['crd', 'authorizationpolicies.policy.nodemesh.io']), false, 'CRDs still there');
  });
});
