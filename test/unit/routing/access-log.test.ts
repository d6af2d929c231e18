// The access-log switch: the nodemesh.io/access-log namespace annotation ("enabled" | "disabled",
// anything else rejected with its field path) compiled into the HTTP table as the IPs of this
// node's enrolled pods in such namespaces; absent when none, so tables without it stay unchanged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileHttp } from '../../../agent/src/routing/index.js';
import { IndexAllocator, buildNodeView } from '../../../agent/src/state/index.js';
import { nodeConfigFrom } from '../../../controller/src/views/index.js';
import { parseManifests, resourcesFrom } from '../../../controller/src/model/index.js';

const ns = (name: string, annotation?: string): string => `---
apiVersion: v1
kind: Namespace
metadata: { name: ${name}, labels: { nodemesh.io/mesh: enabled }${annotation ? `, annotations: { nodemesh.io/access-log: "${annotation}" }` : ''} }
`;
const pod = (name: string, namespace: string, node: string, ip: string): string => `---
apiVersion: v1
kind: Pod
metadata: { name: ${name}, namespace: ${namespace} }
spec: { nodeName: ${node}, containers: [{ name: c, image: sim }] }
status: { podIP: ${ip} }
`;

function accessLogOf(yaml: string): { accessLog: readonly string[] | undefined; problems: readonly string[] } {
  const parsed = parseManifests('t.yaml', yaml);
  const view = buildNodeView(nodeConfigFrom(resourcesFrom(parsed.objects), 'node-a', 'cluster.local'), 'node-a', [], new IndexAllocator());
  return { accessLog: compileHttp(view).accessLog, problems: parsed.problems.map((p) => `${p.path}: ${p.message}`) };
}

test('enabled namespaces list their pods of this node; disabled, absent and other nodes do not', () => {
  const r = accessLogOf(ns('logged', 'enabled') + ns('quiet', 'disabled') + ns('plain')
    + pod('a', 'logged', 'node-a', '10.200.1.20') + pod('b', 'logged', 'node-a', '10.200.1.3') + pod('far', 'logged', 'node-b', '10.200.2.9')
    + pod('q', 'quiet', 'node-a', '10.200.1.30') + pod('p', 'plain', 'node-a', '10.200.1.40'));
  assert.deepEqual(r.problems, []);
  assert.deepEqual(r.accessLog, ['10.200.1.20', '10.200.1.3']);
});

test('no enabled namespace: the table has no accessLog field at all', () => {
  assert.equal(accessLogOf(ns('plain') + pod('p', 'plain', 'node-a', '10.200.1.40')).accessLog, undefined);
});

test('a value other than enabled/disabled is rejected with its field path', () => {
  const r = accessLogOf(ns('bad', 'yes'));
  assert.equal(r.problems.length, 1);
  assert.match(r.problems[0]!, /metadata\.annotations\.nodemesh\.io\/access-log: must be "enabled" or "disabled", got "yes"/);
});
