// renderInstall and cleanupDaemonSet on the objects deploy/base really renders (kubectl kustomize,
// offline): every flag lands where it should and nowhere else; bad values are refused by flag.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from '../../../native/index.js';
import { parseObjects } from '../../../cli/install.js';
import { checkValues, cleanupDaemonSet, deletionOrder, renderInstall, type InstallValues, type KubeObject } from '../../../cli/install-render.js';

const KUBECTL = ['/usr/bin/kubectl', path.join(ROOT, 'build', 'kube', 'bin', 'kubectl')].find((p) => existsSync(p));
let base: KubeObject[] = [];
before(() => {
  if (KUBECTL) base = parseObjects(execFileSync(KUBECTL, ['kustomize', path.join(ROOT, 'deploy', 'base')], { encoding: 'utf8' }));
});

type Container = { name: string; image: string; imagePullPolicy?: string };
const containers = (objs: KubeObject[]): Container[] => objs.flatMap((o) => {
  const s = (o.spec as { template?: { spec?: { containers?: Container[]; initContainers?: Container[] } } } | undefined)?.template?.spec;
  return [...(s?.containers ?? []), ...(s?.initContainers ?? [])];
});
const find = (objs: KubeObject[], kind: string, name: string): KubeObject | undefined => objs.find((o) => o.kind === kind && o.metadata.name === name);

test('no values: the objects are deploy/base, CRDs then namespaces first', { skip: !KUBECTL && 'no kubectl' }, () => {
  const out = renderInstall(base, {});
  assert.equal(out.length, base.length);
  const kinds = out.map((o) => o.kind);
  const lastCrd = kinds.lastIndexOf('CustomResourceDefinition');
  const firstOther = kinds.findIndex((k) => k !== 'CustomResourceDefinition' && k !== 'Namespace');
  assert.ok(lastCrd < kinds.indexOf('Namespace') && kinds.lastIndexOf('Namespace') < firstOther);
  assert.deepEqual(new Set(out.map((o) => `${o.kind}/${o.metadata.name}`)), new Set(base.map((o) => `${o.kind}/${o.metadata.name}`)));
});

const rows: { name: string; values: InstallValues; check: (out: KubeObject[]) => void }[] = [
  { name: 'image and pull policy on every nodemesh container', values: { image: 'reg.example.com/nm:1.2', pullPolicy: 'Always' }, check: (out) => {
    const cs = containers(out);
    assert.ok(cs.length >= 3);
    for (const c of cs) { assert.equal(c.image, 'reg.example.com/nm:1.2'); assert.equal(c.imagePullPolicy, 'Always'); }
  } },
  { name: 'controller replicas', values: { controllerReplicas: 3 }, check: (out) => {
    assert.equal((find(out, 'Deployment', 'nodemesh-controller')!.spec as { replicas: number }).replicas, 3);
  } },
  { name: 'trust domain and log level in the config map', values: { trustDomain: 'prod.example.com', logLevel: 'debug' }, check: (out) => {
    assert.deepEqual((find(out, 'ConfigMap', 'nodemesh-config')!.data as Record<string, string>), { trustDomain: 'prod.example.com', logLevel: 'debug' });
  } },
  { name: 'no example namespace', values: { exampleNamespace: false }, check: (out) => {
    assert.equal(find(out, 'Namespace', 'nodemesh-example'), undefined);
    assert.ok(find(out, 'Namespace', 'nodemesh-system'));
  } },
];
for (const r of rows) {
  test(`renderInstall: ${r.name}`, { skip: !KUBECTL && 'no kubectl' }, () => {
    const before = structuredClone(base);
    r.check(renderInstall(base, r.values));
    assert.deepEqual(base, before, 'the input is not modified');
  });
}

const bad: { values: InstallValues; flag: string }[] = [
  { values: { image: 'has space' }, flag: '--image' },
  { values: { controllerReplicas: 0 }, flag: '--controller-replicas' },
  { values: { controllerReplicas: 1.5 }, flag: '--controller-replicas' },
  { values: { trustDomain: 'Upper.Case' }, flag: '--trust-domain' },
  { values: { trustDomain: 'spiffe://x' }, flag: '--trust-domain' },
  { values: { logLevel: 'verbose' }, flag: '--log-level' },
];
for (const b of bad) {
  test(`checkValues refuses ${JSON.stringify(b.values)} naming ${b.flag}`, () => {
    assert.throws(() => checkValues(b.values), (e: Error & { code?: string }) => e.code === 'MESH_ERR_USAGE' && e.message.startsWith(`${b.flag}:`));
  });
}

test('cleanupDaemonSet: the agent pod minus the agent, cleanup --routing as init container', { skip: !KUBECTL && 'no kubectl' }, () => {
  const ds = cleanupDaemonSet(renderInstall(base, { image: 'reg/nm:2' }));
  const spec = (ds.spec as { template: { spec: Record<string, unknown> & { initContainers: (Container & { args: string[]; volumeMounts: { name: string }[] })[]; volumes: { name: string }[] } } }).template.spec;
  assert.equal(ds.metadata.namespace, 'nodemesh-system');
  assert.equal(spec.hostNetwork, true);
  assert.deepEqual(spec.initContainers[0]!.args, ['agent', 'cleanup', '--pin-dir=/sys/fs/bpf/nodemesh', '--routing']);
  assert.equal(spec.initContainers[0]!.image, 'reg/nm:2');
  assert.deepEqual(spec.initContainers[0]!.volumeMounts.map((m) => m.name), ['bpffs']);
  assert.deepEqual(spec.volumes.map((v) => v.name), ['bpffs']);
  // the pin dir it cleans is the one the agent pins into
  const agentArgs = containers(renderInstall(base, {})).find((c) => c.name === 'agent') as unknown as { args: string[] };
  assert.ok(agentArgs.args.includes('--pin-dir=/sys/fs/bpf/nodemesh'));
});

test('deletionOrder reverses and can keep CRDs', { skip: !KUBECTL && 'no kubectl' }, () => {
  const out = renderInstall(base, {});
  const del = deletionOrder(out, { keepCrds: false });
  assert.equal(del[del.length - 1]!.kind, 'CustomResourceDefinition');
  assert.ok(!deletionOrder(out, { keepCrds: true }).some((o) => o.kind === 'CustomResourceDefinition'));
});
