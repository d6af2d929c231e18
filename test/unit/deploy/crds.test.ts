// The CRDs in deploy/crds are the source of truth for policy objects: the controller's schema check
// (manifest mode) must accept the objects the API server accepts and reject the ones it rejects, at the
// same field path. The server side of the same cases runs in test/kube/deploy.test.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { parseManifests, setCrdDir } from '../../../controller/src/model/index.js';
import { REPO_ROOT } from '../../kube/procs.js';
import { INVALID_POLICIES } from '../../kube/policy-cases.js';

const CRD_DIR = path.join(REPO_ROOT, 'deploy', 'crds');
setCrdDir(CRD_DIR);

test('deploy/crds holds one structural v1alpha1 CRD per policy kind', () => {
  const kinds: string[] = [];
  for (const f of readdirSync(CRD_DIR).filter((x) => x.endsWith('.yaml') && x !== 'kustomization.yaml')) {
    for (const doc of parseAllDocuments(readFileSync(path.join(CRD_DIR, f), 'utf8'))) {
      const crd = doc.toJS() as { kind: string; metadata: { name: string }; spec: { group: string; names: { kind: string; plural: string }; versions: { name: string; schema: { openAPIV3Schema: { type: string } } }[] } };
      assert.equal(crd.kind, 'CustomResourceDefinition', f);
      assert.equal(crd.spec.group, 'policy.nodemesh.io', f);
      assert.equal(crd.metadata.name, `${crd.spec.names.plural}.policy.nodemesh.io`, f);
      assert.equal(f, `policy.nodemesh.io_${crd.spec.names.plural}.yaml`);
      assert.deepEqual(crd.spec.versions.map((v) => v.name), ['v1alpha1'], f);
      assert.equal(crd.spec.versions[0]?.schema.openAPIV3Schema.type, 'object', f);
      kinds.push(crd.spec.names.kind);
    }
  }
  assert.deepEqual(kinds.sort(), ['AuthorizationPolicy', 'FaultPolicy', 'MeshTLSPolicy', 'RateLimitPolicy']);
});

test('the example objects the API server accepts pass the controller too', () => {
  const file = path.join(REPO_ROOT, 'test', 'kube', 'fixtures', 'valid-objects.yaml');
  const r = parseManifests(file, readFileSync(file, 'utf8'));
  assert.deepEqual(r.problems, []);
  assert.deepEqual(r.objects.map((o) => o.kind), ['Policy', 'Policy', 'Policy', 'Policy', 'Policy', 'Route', 'Route']);
});

for (const c of INVALID_POLICIES.filter((x) => !x.serverOnly)) {
  test(`the controller rejects ${c.name} at ${c.path}, as the API server does`, () => {
    const r = parseManifests('case.yaml', c.yaml);
    assert.equal(r.objects.length, 0, 'accepted');
    assert.equal(r.problems.length, 1);
    assert.equal(r.problems[0]?.path, c.path, r.problems[0]?.message);
  });
}
