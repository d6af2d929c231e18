// The Kubernetes source's store on its own: list items without apiVersion/kind, relists that
// delete what vanished, versions that change nothing the domain sees, and rejected versions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KubeStore } from '../../../controller/src/sources/kube/store.js';
import { BUILTIN_TYPES } from '../../../controller/src/sources/kube/index.js';
import { pod } from '../../fakes/kube-objects.js';

const POD = BUILTIN_TYPES.find((t) => t.kind === 'Pod')!;
const NS = BUILTIN_TYPES.find((t) => t.kind === 'Namespace')!;
const at = (o: ReturnType<typeof pod>, rv: string): ReturnType<typeof pod> => ({ ...o, metadata: { ...o.metadata, resourceVersion: rv } });
const bare = (o: Record<string, unknown>): Record<string, unknown> => { const { apiVersion: _a, kind: _k, ...rest } = o; return rest; };

test('list items without apiVersion/kind are converted as their type', () => {
  const s = new KubeStore(BUILTIN_TYPES);
  s.replace(POD, [bare(at(pod('a', '10.200.1.5'), '1'))]);
  s.replace(NS, [{ metadata: { name: 'shop', labels: { 'nodemesh.io/mesh': 'enabled' }, resourceVersion: '2' } }]);
  const { resources, problems } = s.build();
  assert.deepEqual(problems, []);
  assert.equal(resources.pods.get('shop/a')?.podIP, '10.200.1.5');
  assert.equal(resources.namespaces.get('shop')?.meshEnabled, true);
});

test('a relist deletes what vanished and keeps what is unchanged without re-validating it', () => {
  const s = new KubeStore(BUILTIN_TYPES);
  s.replace(POD, [at(pod('a', '10.200.1.5'), '1'), at(pod('b', '10.200.1.6'), '2')]);
  const v = s.version;
  s.replace(POD, [at(pod('a', '10.200.1.5'), '1')]);
  assert.equal(s.version, v + 1);
  assert.deepEqual([...s.build().resources.pods.keys()], ['shop/a']);
  s.replace(POD, [at(pod('a', '10.200.1.5'), '1')]);
  assert.equal(s.version, v + 1, 'the same list again changes nothing');
});

test('a new version that changes nothing the domain reads makes no new snapshot', () => {
  const s = new KubeStore(BUILTIN_TYPES);
  s.upsert(POD, at(pod('a', '10.200.1.5'), '1'));
  const v = s.version;
  const o = at(pod('a', '10.200.1.5'), '2');
  s.upsert(POD, { ...o, status: { podIP: '10.200.1.5', phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } });
  assert.equal(s.version, v);
});

test('a rejected version keeps the last valid one; each rejected version counts once', () => {
  const s = new KubeStore(BUILTIN_TYPES);
  s.upsert(POD, at(pod('a', '10.200.1.5'), '1'));
  s.upsert(POD, at(pod('a', 'bad'), '2'));
  s.upsert(POD, at(pod('a', 'bad'), '2'));
  assert.equal(s.rejected, 1);
  const { resources, problems } = s.build();
  assert.equal(resources.pods.get('shop/a')?.podIP, '10.200.1.5');
  assert.deepEqual(problems.map((p) => [p.file, p.namespace, p.name, p.path]), [['kube:Pod', 'shop', 'a', 'status.podIP']]);
  s.remove(POD, at(pod('a', 'bad'), '3'));
  assert.deepEqual(s.build(), { resources: s.build().resources, problems: [] });
  assert.equal(s.build().resources.pods.size, 0);
});
