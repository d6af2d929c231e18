// Tracing config from end to end of the config pipeline: the nodemesh.io/trace-sampling namespace
// annotation (0–100, anything else rejected with its field path), the controller's trace
// collector in the mesh resource, both through the real protobuf wire (serialize → deserialize →
// fromWire) with invalid wire values rejected, and compileHttp's `trace` (only with a collector,
// the namespace's percentage or the default of 1 %).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileHttp } from '../../../agent/src/routing/index.js';
import { IndexAllocator, buildNodeView } from '../../../agent/src/state/index.js';
import { configServiceDefinition, fromWire, toWire } from '../../../controller/src/grpc/index.js';
import { DEFAULT_TRACE_SAMPLING, parseManifests, resourcesFrom } from '../../../controller/src/model/index.js';
import { ConfigModel, nodeConfigFrom, type ConfigUpdate, type MeshCfg } from '../../../controller/src/views/index.js';
import { MeshCA } from '../../../controller/src/ca/index.js';

const ns = (name: string, sampling?: string): string => `---
apiVersion: v1
kind: Namespace
metadata: { name: ${name}, labels: { nodemesh.io/mesh: enabled }${sampling !== undefined ? `, annotations: { nodemesh.io/trace-sampling: "${sampling}" }` : ''} }
`;
const pod = (name: string, namespace: string, node: string, ip: string): string => `---
apiVersion: v1
kind: Pod
metadata: { name: ${name}, namespace: ${namespace} }
spec: { nodeName: ${node}, containers: [{ name: c, image: sim }] }
status: { podIP: ${ip} }
`;

test('the annotation: percentages 0–100 accepted, everything else rejected with its field path', () => {
  const rows: [string, number | string][] = [
    ['0', 0], ['1', 1], ['0.5', 0.5], ['100', 100], [' 25 ', 25],
    ['101', 'must be a percentage from 0 to 100'], ['-1', 'must be a percentage'], ['abc', 'must be a percentage'],
    ['1%', 'must be a percentage'], ['', 'must be a percentage'], ['1e2', 'must be a percentage'], ['NaN', 'must be a percentage'],
  ];
  for (const [v, want] of rows) {
    const parsed = parseManifests('t.yaml', ns('n', v));
    if (typeof want === 'number') {
      assert.deepEqual(parsed.problems, [], v);
      assert.equal(resourcesFrom(parsed.objects).namespaces.get('n')?.traceSampling, want, v);
    } else {
      assert.equal(parsed.problems.length, 1, v);
      assert.equal(parsed.problems[0]!.path, 'metadata.annotations.nodemesh.io/trace-sampling', v);
      assert.match(parsed.problems[0]!.message, new RegExp(`${want}.*got "${v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"`), v);
    }
  }
});

async function meshCfg(traceCollector?: string): Promise<MeshCfg> {
  const ca = await MeshCA.generate({ trustDomain: 'cluster.local' });
  return { trustDomain: 'cluster.local', trustAnchors: ca.anchors, defaultInboundPolicy: 'all-unauthenticated', ...(traceCollector ? { traceCollector } : {}) };
}

const YAML = ns('full', '100') + ns('off', '0') + ns('plain') + pod('a', 'full', 'node-a', '10.200.1.20') + pod('b', 'off', 'node-a', '10.200.1.21')
  + pod('c', 'plain', 'node-a', '10.200.1.3') + pod('far', 'full', 'node-b', '10.200.2.9');

function traceOf(mesh: MeshCfg): ReturnType<typeof compileHttp>['trace'] {
  const cfg = nodeConfigFrom(resourcesFrom(parseManifests('t.yaml', YAML).objects), 'node-a', 'cluster.local', mesh);
  return compileHttp(buildNodeView(cfg, 'node-a', [], new IndexAllocator())).trace;
}

test('compileHttp: with a collector, every enrolled pod of this node with its namespace rate (default 1 %)', async () => {
  assert.equal(DEFAULT_TRACE_SAMPLING, 1);
  assert.deepEqual(traceOf(await meshCfg('10.200.3.10:4318')), [
    { ip: '10.200.1.20', samplingPercent: 100 }, { ip: '10.200.1.21', samplingPercent: 0 }, { ip: '10.200.1.3', samplingPercent: 1 },
  ]);
});

test('compileHttp: without a collector the table has no trace field (requests pass untouched)', async () => {
  assert.equal(traceOf(await meshCfg()), undefined);
});

type Def = Record<string, { responseSerialize(v: unknown): Buffer; responseDeserialize(b: Buffer): unknown }>;
/** serialize → deserialize → fromWire, as the agent's stream reads it */
const decode = (w: unknown): ConfigUpdate => {
  const d = (configServiceDefinition as unknown as Def).Stream!;
  return fromWire(d.responseDeserialize(d.responseSerialize(w)));
};
const overTheWire = (u: ConfigUpdate): ConfigUpdate => decode(toWire(u));

test('the protobuf wire carries the sampling percentage and the collector; absent stays absent', async () => {
  const model = new ConfigModel('cluster.local', await meshCfg('jaeger.observability:4318'));
  const full = model.update(resourcesFrom(parseManifests('t.yaml', YAML).objects));
  assert.ok(full);
  const back = overTheWire({ version: 1, full: true, upserts: full.upserts, removes: [] });
  const w = new Map(back.upserts.filter((r) => r.type === 'workload').map((r) => [r.key, r.value as { traceSampling?: number }]));
  assert.equal(w.get('full/a')?.traceSampling, 100);
  assert.equal(w.get('off/b')?.traceSampling, 0, 'zero is not lost as a proto3 default');
  assert.equal('traceSampling' in (w.get('plain/c') ?? {}), false);
  const mesh = back.upserts.find((r) => r.type === 'mesh')?.value as MeshCfg;
  assert.equal(mesh.traceCollector, 'jaeger.observability:4318');
  const none = overTheWire({ version: 2, full: true, upserts: [{ type: 'mesh', key: 'mesh', value: await meshCfg() }], removes: [] });
  assert.equal('traceCollector' in (none.upserts[0]!.value as MeshCfg), false);
});

test('invalid wire values are rejected with their field path', async () => {
  const m = await meshCfg();
  const wire = toWire({ version: 1, full: true, upserts: [{ type: 'mesh', key: 'mesh', value: m }], removes: [] }) as { upserts: { mesh: Record<string, unknown> }[] };
  for (const bad of ['nohost', 'h:0', 'h:70000', 'a b:1']) {
    wire.upserts[0]!.mesh.traceCollector = bad;
    assert.throws(() => decode(wire), /upserts\[0\]\.mesh\.traceCollector.*host:port/, bad);
  }
  const model = new ConfigModel('cluster.local', m);
  const full = model.update(resourcesFrom(parseManifests('t.yaml', YAML).objects))!;
  const ww = toWire({ version: 1, full: true, upserts: full.upserts, removes: [] }) as { upserts: { workload?: Record<string, unknown> }[] };
  const i = ww.upserts.findIndex((r) => r.workload);
  for (const bad of ['101', '-3', 'x']) {
    ww.upserts[i]!.workload!.traceSampling = bad;
    assert.throws(() => decode(ww), new RegExp(`upserts\\[${i}\\]\\.workload\\.traceSampling: must be a percentage`), bad);
  }
});
