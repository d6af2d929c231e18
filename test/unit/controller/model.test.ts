// Manifest parsing and the watched source: field-path errors, rejection of one object alone, the
// last valid version staying in force, and file add/change/remove applied as create/update/delete.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseManifests, formatProblem } from '../../../controller/src/model/index.js';
import { ManifestSource } from '../../../controller/src/sources/index.js';

const pod = (name: string, extra = ''): string => `---
apiVersion: v1
kind: Pod
metadata: { name: ${name}, namespace: shop }
spec:
  nodeName: node-a
  containers: [{ name: c, image: x, command: [nodemesh, workload, echo], args: ["--http", "8080"] }]
${extra}`;

const BAD: Array<[string, string, string]> = [
  ['missing nodeName', 'kind: Pod\nmetadata: { name: p }\nspec: { containers: [{ name: c }] }', 'spec.nodeName'],
  ['no containers', 'kind: Pod\nmetadata: { name: p }\nspec: { nodeName: n, containers: [] }', 'spec.containers'],
  ['bad pod IP', 'kind: Pod\nmetadata: { name: p }\nspec: { nodeName: n, containers: [{ name: c }] }\nstatus: { podIP: 300.1.1.1 }', 'status.podIP'],
  ['bad capture annotation', 'kind: Pod\nmetadata: { name: p, annotations: { nodemesh.io/capture: "no" } }\nspec: { nodeName: n, containers: [{ name: c }] }', 'metadata.annotations.nodemesh.io/capture'],
  ['bad mesh label', 'kind: Namespace\nmetadata: { name: x, labels: { nodemesh.io/mesh: yes } }', 'metadata.labels.nodemesh.io/mesh'],
  ['upper-case name', 'kind: Namespace\nmetadata: { name: Shop }', 'metadata.name'],
  ['service port out of range', 'kind: Service\nmetadata: { name: s }\nspec: { ports: [{ port: 70000 }] }', 'spec.ports[0].port'],
  ['non-string label', 'kind: Namespace\nmetadata: { name: x, labels: { a: 1 } }', 'metadata.labels.a'],
  ['container port', 'kind: Pod\nmetadata: { name: p }\nspec: { nodeName: n, containers: [{ name: c, ports: [{ containerPort: 0 }] }] }', 'spec.containers[0].ports[0].containerPort'],
];

for (const [name, yaml, wantPath] of BAD) {
  test(`rejects ${name} with field path ${wantPath}`, () => {
    const r = parseManifests('bad.yaml', yaml);
    assert.equal(r.objects.length, 0);
    assert.equal(r.problems.length, 1);
    assert.equal(r.problems[0]!.path, wantPath);
    assert.match(formatProblem(r.problems[0]!), /^bad\.yaml: /);
  });
}

test('one bad object does not hide the others; unknown kinds are ignored', () => {
  const r = parseManifests('f.yaml', `${pod('a')}\n${pod('b', 'status: { podIP: nope }')}\n---\nkind: Deployment\nmetadata: { name: d }\n`);
  assert.deepEqual(r.objects.map((o) => o.value.name), ['a']);
  assert.equal(r.problems[0]?.name, 'b');
  assert.equal(r.ignored, 1);
  const a = r.objects[0]!;
  assert.equal(a.kind, 'Pod');
  if (a.kind === 'Pod') assert.deepEqual(a.value.command, ['nodemesh', 'workload', 'echo', '--http', '8080']);
});

test('YAML syntax errors are reported with the document index', () => {
  const r = parseManifests('s.yaml', 'kind: Pod\nmetadata: { name: [\n');
  assert.equal(r.problems[0]?.path, 'document[0]');
});

test('ManifestSource: create, update, reject keeps the last valid version, delete', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'nm-manifests-'));
  try {
    const f = path.join(dir, 'pods.yaml');
    writeFileSync(f, pod('a', 'status: { podIP: 10.0.0.5 }'));
    const src = new ManifestSource(dir);
    let s = src.load();
    assert.equal(s.resources.pods.get('shop/a')?.podIP, '10.0.0.5');
    // update (a different size guarantees a new signature even within one mtime tick)
    writeFileSync(f, pod('a', 'status: { podIP: 10.0.0.66 }'));
    s = src.load();
    assert.equal(s.resources.pods.get('shop/a')?.podIP, '10.0.0.66');
    // invalid update: rejected, the last valid version stays
    writeFileSync(f, pod('a', 'status: { podIP: not-an-ip }'));
    s = src.load();
    assert.equal(s.problems.length, 1);
    assert.equal(s.resources.pods.get('shop/a')?.podIP, '10.0.0.66');
    // broken YAML: everything from the file stays
    writeFileSync(f, 'kind: Pod\nmetadata: { name: [\n');
    s = src.load();
    assert.equal(s.resources.pods.get('shop/a')?.podIP, '10.0.0.66');
    // delete the file: the object is deleted
    unlinkSync(f);
    s = src.load();
    assert.equal(s.resources.pods.size, 0);
    assert.equal(s.problems.length, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ManifestSource: a missing directory is MESH_ERR_CONFIG', () => {
  assert.throws(() => new ManifestSource('/nonexistent/nodemesh').load(), { code: 'MESH_ERR_CONFIG' });
});
