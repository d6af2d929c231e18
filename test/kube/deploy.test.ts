// deploy/ against a real kube-apiserver: kustomize (base and every overlay) and the Helm chart (with
// the overlay's ci/<overlay>-values.yaml) render the same objects, and every rendered object, our
// CRDs' example objects and the Gateway API routes pass `kubectl apply --dry-run=server`; objects
// violating a CRD schema are rejected with their field path.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { kubeBin, kubeGate, REPO_ROOT, run, startApiServer, type ApiServer } from './apiserver.js';
import { INVALID_POLICIES } from './policy-cases.js';

const skip = kubeGate();
const NS = 'nodemesh-system';
const CHART = path.join(REPO_ROOT, 'deploy', 'helm', 'nodemesh');
const SYSTEM_KUBECTL = '/usr/bin/kubectl';
/** labels only Helm adds (release bookkeeping); everything else must be equal */
const HELM_ONLY_LABELS = ['app.kubernetes.io/managed-by', 'app.kubernetes.io/instance', 'helm.sh/chart'];

type Obj = { kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> } } & Record<string, unknown>;

interface Variant { readonly name: string; readonly kustomizeDir: string; readonly helmValues: readonly string[] }

/** base plus every overlay; an overlay must have its Helm twin, ci/<overlay>-values.yaml */
function variants(): Variant[] {
  const out: Variant[] = [{ name: 'base', kustomizeDir: path.join(REPO_ROOT, 'deploy', 'base'), helmValues: [] }];
  const dir = path.join(REPO_ROOT, 'deploy', 'overlays');
  for (const o of readdirSync(dir).sort()) {
    out.push({ name: o, kustomizeDir: path.join(dir, o), helmValues: [path.join(CHART, 'ci', `${o}-values.yaml`)] });
  }
  return out;
}

function parseObjects(text: string): Obj[] {
  return parseAllDocuments(text).map((d) => d.toJS() as Obj | null).filter((o): o is Obj => o !== null && typeof o === 'object');
}

const keyOf = (o: Obj): string => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;

function byKey(objs: readonly Obj[], dropHelmLabels: boolean): Map<string, Obj> {
  const m = new Map<string, Obj>();
  for (const o of objs) {
    const c = structuredClone(o);
    if (dropHelmLabels && c.metadata.labels) for (const l of HELM_ONLY_LABELS) delete c.metadata.labels[l];
    assert.ok(!m.has(keyOf(c)), `duplicate object ${keyOf(c)}`);
    m.set(keyOf(c), c);
  }
  return m;
}

async function kustomize(kubectl: string, dir: string): Promise<string> {
  const r = await run(kubectl, ['kustomize', dir]);
  assert.equal(r.code, 0, `${kubectl} kustomize ${dir}: ${r.stderr}`);
  return r.stdout;
}

async function helmTemplate(values: readonly string[]): Promise<string> {
  for (const v of values) assert.ok(existsSync(v), `${v} is missing: every overlay needs the same settings as Helm values`);
  const r = await run(kubeBin('helm'), ['template', 'nodemesh', CHART, '--namespace', NS, '--include-crds', ...values.flatMap((v) => ['-f', v])]);
  assert.equal(r.code, 0, `helm template: ${r.stderr}`);
  return r.stdout;
}

const rendered = new Map<string, { kustomize: Obj[]; helm: Obj[] }>();

describe('deploy/ renders', { skip }, () => {
  for (const v of skip ? [] : variants()) {
    test(`${v.name}: kustomize and helm template produce the same objects; helm lint --strict passes`, async () => {
      const kText = await kustomize(kubeBin('kubectl'), v.kustomizeDir);
      if (existsSync(SYSTEM_KUBECTL)) {
        // the kubectl a user has (1.32, kustomize 5.5 here) renders the same bytes as ours
        assert.equal(await kustomize(SYSTEM_KUBECTL, v.kustomizeDir), kText, `${SYSTEM_KUBECTL} kustomize differs`);
      }
      const lint = await run(kubeBin('helm'), ['lint', '--strict', CHART, ...v.helmValues.flatMap((f) => ['-f', f])]);
      assert.equal(lint.code, 0, `helm lint --strict: ${lint.stdout}${lint.stderr}`);
      const k = parseObjects(kText);
      const h = parseObjects(await helmTemplate(v.helmValues));
      rendered.set(v.name, { kustomize: k, helm: h });
      const km = byKey(k, false);
      const hm = byKey(h, true);
      assert.deepEqual([...hm.keys()].sort(), [...km.keys()].sort(), 'kinds/names differ between kustomize and helm');
      for (const [key, obj] of km) assert.deepEqual(hm.get(key), obj, `${key} differs between kustomize and helm`);
      for (const kind of ['CustomResourceDefinition', 'Namespace', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'Deployment', 'Service', 'DaemonSet']) {
        assert.ok(k.some((o) => o.kind === kind), `${v.name} renders no ${kind}`);
      }
    });
  }
});

describe('deploy/ against the real API server', { skip }, () => {
  let api: ApiServer | undefined;
  const must = (): ApiServer => {
    assert.ok(api, 'API server not started');
    return api;
  };

  before(async () => {
    if (skip) return;
    api = await startApiServer();
    for (const args of [['-k', path.join(REPO_ROOT, 'deploy', 'crds')], ['-f', path.join(REPO_ROOT, 'test', 'kube', 'fixtures', 'gateway-api-routes.yaml')]]) {
      const crds = await api.kubectl(['apply', ...args]);
      assert.equal(crds.code, 0, crds.stderr);
    }
    const est = await api.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd', '--all']);
    assert.equal(est.code, 0, est.stderr);
  });
  after(async () => { await api?.stop(); });

  test('every rendered object passes a server-side dry run (kustomize and helm, base and overlays)', async () => {
    const k = must();
    assert.ok(rendered.size >= 3, 'renders ran first: base and at least two overlays');
    for (const [name, r] of rendered) {
      for (const [tool, objs] of [['kustomize', r.kustomize], ['helm', r.helm]] as const) {
        // a dry run does not create namespaces, so the rendering's namespaces are created for real first
        const namespaces = objs.filter((o) => o.kind === 'Namespace');
        const ns = await k.kubectl(['apply', '-f', '-'], { stdin: namespaces.map((o) => stringify(o)).join('---\n') });
        assert.equal(ns.code, 0, `${name}/${tool} namespaces: ${ns.stderr}`);
        const text = objs.map((o) => stringify(o)).join('---\n');
        const dry = await k.kubectl(['apply', '--dry-run=server', '--validate=strict', '-f', '-'], { stdin: text });
        assert.equal(dry.code, 0, `${name}/${tool}: ${dry.stderr}`);
        const accepted = dry.stdout.split('\n').filter((l) => l.endsWith('(server dry run)'));
        assert.equal(accepted.length, objs.length, `${name}/${tool}: ${dry.stdout}`);
        assert.doesNotMatch(dry.stderr, /unknown field|would violate|deprecated/i, `${name}/${tool}: ${dry.stderr}`);
      }
    }
  });

  test('example policies and mesh routes validate against our CRDs and the Gateway API fixture', async () => {
    const r = await must().kubectl(['apply', '--dry-run=server', '--validate=strict', '-f', path.join(REPO_ROOT, 'test', 'kube', 'fixtures', 'valid-objects.yaml')]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.split('\n').filter((l) => l.endsWith('(server dry run)')).length, parseObjects(readFileSync(path.join(REPO_ROOT, 'test', 'kube', 'fixtures', 'valid-objects.yaml'), 'utf8')).length);
  });

  test('server defaults: targetRef.group and action are filled in on create', async () => {
    const k = must();
    const r = await k.kubectl(['apply', '--dry-run=server', '-o', 'json', '-f', '-'], { stdin: 'apiVersion: policy.nodemesh.io/v1alpha1\nkind: AuthorizationPolicy\nmetadata: { name: defaults, namespace: nodemesh-example }\nspec: { targetRef: { kind: Service, name: web } }\n' });
    assert.equal(r.code, 0, r.stderr);
    const spec = (JSON.parse(r.stdout) as { spec: { action: string; targetRef: { group: string } } }).spec;
    assert.equal(spec.action, 'ALLOW');
    assert.equal(spec.targetRef.group, '');
  });

  for (const c of INVALID_POLICIES) {
    test(`the server rejects ${c.name} at ${c.path}`, async () => {
      const r = await must().kubectl(['apply', '--dry-run=server', '-f', '-'], { stdin: c.yaml });
      assert.notEqual(r.code, 0, `accepted: ${r.stdout}`);
      assert.match(r.stderr, /is invalid/);
      assert.ok(r.stderr.includes(`${c.path}:`), `expected field path ${c.path} in: ${r.stderr}`);
    });
  }

  test('an unknown field is rejected by strict validation with its path', async () => {
    const r = await must().kubectl(['apply', '--dry-run=server', '--validate=strict', '-f', '-'], { stdin: 'apiVersion: policy.nodemesh.io/v1alpha1\nkind: AuthorizationPolicy\nmetadata: { name: typo, namespace: nodemesh-example }\nspec: { targetRef: { kind: Service, name: web }, rules: [{ from: [{ principals: [x] }] }] }\n' });
    assert.notEqual(r.code, 0, r.stdout);
    assert.match(r.stderr, /unknown field "spec\.rules\[0\]\.from\[0\]\.principals"/);
  });
});
