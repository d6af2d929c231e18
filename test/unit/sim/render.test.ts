// Rendering of the manifests the agents read: status.podIP/hostIP/phase filled for known pods,
// everything else (file names, comments, other kinds, invalid objects) kept. No root.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseManifests } from '../../../controller/src/model/index.js';
import { renderManifestDir, renderManifestText, type StatusOf } from '../../../sim/index.js';

const statusOf: StatusOf = (ns, name) => (ns === 'shop' && name === 'client' ? { podIP: '10.200.1.10', hostIP: '10.199.0.1' } : undefined);

const yaml = `# the shop
apiVersion: v1
kind: Namespace
metadata: { name: shop, labels: { nodemesh.io/mesh: enabled } }
---
# the client pod
apiVersion: v1
kind: Pod
metadata: { name: client, namespace: shop }
spec: { nodeName: node-a, containers: [{ name: c, image: sim }] }
---
apiVersion: v1
kind: Pod
metadata: { name: other, namespace: shop }
spec: { nodeName: node-a, containers: [{ name: c, image: sim }] }
`;

test('status.podIP, hostIP and phase are filled for known pods; the agent parser reads them back', () => {
  const out = renderManifestText('shop.yaml', yaml, statusOf);
  const r = parseManifests('shop.yaml', out);
  assert.deepEqual(r.problems, []);
  const pods = r.objects.filter((o) => o.kind === 'Pod').map((o) => o.value as { name: string; podIP?: string });
  assert.deepEqual(pods.map((p) => [p.name, p.podIP]), [['client', '10.200.1.10'], ['other', undefined]]);
  assert.match(out, /phase: Running/);
  assert.match(out, /hostIP: 10\.199\.0\.1/);
  assert.match(out, /# the client pod/, 'comments survive');
  assert.equal(out.split(/^---$/m).length, 3, 'still three documents');
});

test('an existing status.podIP is replaced by the simulator\'s address', () => {
  const t = 'apiVersion: v1\nkind: Pod\nmetadata: { name: client, namespace: shop }\nspec: { nodeName: n, containers: [{ name: c }] }\nstatus: { podIP: 1.2.3.4 }\n';
  const out = renderManifestText('a.yaml', t, statusOf);
  assert.match(out, /10\.200\.1\.10/);
  assert.doesNotMatch(out, /1\.2\.3\.4/);
});

test('a List, JSON files and the default namespace are handled', () => {
  const list = 'apiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: Pod\n    metadata: { name: client, namespace: shop }\n    spec: { nodeName: n, containers: [{ name: c }] }\n';
  assert.match(renderManifestText('l.yaml', list, statusOf), /podIP: 10\.200\.1\.10/);
  const json = JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'x' }, spec: { nodeName: 'n', containers: [{ name: 'c' }] } });
  const out = renderManifestText('p.json', json, (ns, name) => (ns === 'default' && name === 'x' ? { podIP: '10.200.1.11' } : undefined));
  assert.equal((JSON.parse(out) as { status: { podIP: string } }).status.podIP, '10.200.1.11');
});

test('broken YAML and unknown pods pass through unchanged (the agent reports them)', () => {
  const broken = 'kind: Pod\nmetadata: { name: client, namespace: shop\n';
  assert.equal(renderManifestText('b.yaml', broken, statusOf), broken);
  const unknown = 'apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: client, namespace: shop }\n';
  assert.equal(renderManifestText('d.yaml', unknown, statusOf), unknown);
});

test('renderManifestDir keeps file names, skips non-manifests, removes files whose source is gone', () => {
  const src = mkdtempSync(path.join(tmpdir(), 'nm-render-src-'));
  const dst = mkdtempSync(path.join(tmpdir(), 'nm-render-dst-'));
  try {
    writeFileSync(path.join(src, 'shop.yaml'), yaml);
    writeFileSync(path.join(src, 'extra.yml'), 'apiVersion: v1\nkind: Namespace\nmetadata: { name: x }\n');
    writeFileSync(path.join(src, 'README.md'), '# not a manifest');
    assert.deepEqual(renderManifestDir(src, dst, statusOf), ['extra.yml', 'shop.yaml']);
    assert.deepEqual(readdirSync(dst).sort(), ['extra.yml', 'shop.yaml']);
    assert.match(readFileSync(path.join(dst, 'shop.yaml'), 'utf8'), /podIP: 10\.200\.1\.10/);
    assert.deepEqual(renderManifestDir(src, dst, statusOf), [], 'unchanged files are not rewritten');
    rmSync(path.join(src, 'extra.yml'));
    renderManifestDir(src, dst, statusOf);
    assert.deepEqual(readdirSync(dst), ['shop.yaml']);
  } finally {
    rmSync(src, { recursive: true, force: true });
    rmSync(dst, { recursive: true, force: true });
  }
});
