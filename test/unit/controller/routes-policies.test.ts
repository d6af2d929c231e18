// The L7 inputs beside routes: FaultPolicy and RateLimitPolicy (CRD schema in deploy/crds, then the
// typed converters faultPolicyOf / rateLimitPolicyOf), and a Service port's appProtocol and the
// nodemesh.io/opaque-ports annotation (Service or namespace) as they reach the agent in ServicePortCfg.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { faultPolicyOf, parseManifests, rateLimitPolicyOf, resourcesFrom, setCrdDir, type Policy } from '../../../controller/src/model/index.js';
import { ConfigModel } from '../../../controller/src/views/index.js';
import { configServiceDefinition, fromWire, toWire } from '../../../controller/src/grpc/index.js';
import { REPO_ROOT } from '../../kube/procs.js';
import { MeshError } from '../../../common/errors.js';

setCrdDir(path.join(REPO_ROOT, 'deploy', 'crds'));

const policy = (kind: string, spec: string): string => `apiVersion: policy.nodemesh.io/v1alpha1\nkind: ${kind}\nmetadata: { name: p, namespace: shop }\nspec: ${spec}\n`;

function parsePolicy(yaml: string): Policy {
  const r = parseManifests('p.yaml', yaml);
  assert.deepEqual(r.problems, []);
  const o = r.objects[0]!;
  if (o.kind !== 'Policy') throw new Error('not a policy');
  return o.value;
}

test('FaultPolicy → faultPolicyOf: durations in ms, percentages default 100, the group defaulted by kind', () => {
  assert.deepEqual(faultPolicyOf(parsePolicy(policy('FaultPolicy', '{ targetRef: { kind: Service, name: web }, delay: { fixedDelay: 1s500ms, percentage: 12.5 }, abort: { httpStatus: 503 } }'))), {
    namespace: 'shop', name: 'p', targetRef: { group: '', kind: 'Service', name: 'web' }, delay: { fixedDelayMs: 1500, percent: 12.5 }, abort: { httpStatus: 503, percent: 100 },
  });
  assert.deepEqual(faultPolicyOf(parsePolicy(policy('FaultPolicy', '{ targetRef: { group: gateway.networking.k8s.io, kind: HTTPRoute, name: split }, abort: { httpStatus: 200, percentage: 0 } }'))), {
    namespace: 'shop', name: 'p', targetRef: { group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: 'split' }, abort: { httpStatus: 200, percent: 0 },
  });
});

test('RateLimitPolicy → rateLimitPolicyOf: burst defaults to the rate', () => {
  assert.deepEqual(rateLimitPolicyOf(parsePolicy(policy('RateLimitPolicy', '{ targetRef: { kind: GRPCRoute, group: gateway.networking.k8s.io, name: g }, requestsPerSecond: 50 }'))), {
    namespace: 'shop', name: 'p', targetRef: { group: 'gateway.networking.k8s.io', kind: 'GRPCRoute', name: 'g' }, requestsPerSecond: 50, burst: 50,
  });
  assert.equal(rateLimitPolicyOf(parsePolicy(policy('RateLimitPolicy', '{ targetRef: { kind: Service, name: web }, requestsPerSecond: 5, burst: 20 }'))).burst, 20);
});

const BAD: Array<[string, string, string]> = [
  ['a fault with neither delay nor abort', policy('FaultPolicy', '{ targetRef: { kind: Service, name: web } }'), 'spec'],
  ['a delay that is not a duration', policy('FaultPolicy', '{ targetRef: { kind: Service, name: web }, delay: { fixedDelay: 2 seconds } }'), 'spec.delay.fixedDelay'],
  ['a delay without fixedDelay', policy('FaultPolicy', '{ targetRef: { kind: Service, name: web }, delay: { percentage: 5 } }'), 'spec.delay.fixedDelay'],
  ['a delay percentage over 100', policy('FaultPolicy', '{ targetRef: { kind: Service, name: web }, delay: { fixedDelay: 1s, percentage: 101 } }'), 'spec.delay.percentage'],
  ['an abort status below 200', policy('FaultPolicy', '{ targetRef: { kind: Service, name: web }, abort: { httpStatus: 199 } }'), 'spec.abort.httpStatus'],
  ['an abort status over 599', policy('FaultPolicy', '{ targetRef: { kind: Service, name: web }, abort: { httpStatus: 600 } }'), 'spec.abort.httpStatus'],
  ['an abort percentage below 0', policy('FaultPolicy', '{ targetRef: { kind: Service, name: web }, abort: { httpStatus: 500, percentage: -1 } }'), 'spec.abort.percentage'],
  ['a fault target kind outside the enum', policy('FaultPolicy', '{ targetRef: { kind: Pod, name: web }, abort: { httpStatus: 500 } }'), 'spec.targetRef.kind'],
  ['a fault on an HTTPRoute in the core group', policy('FaultPolicy', '{ targetRef: { group: "", kind: HTTPRoute, name: r }, abort: { httpStatus: 500 } }'), 'spec.targetRef'],
  ['a fault with an unknown field', policy('FaultPolicy', '{ targetRef: { kind: Service, name: web }, abort: { httpStatus: 500, grpcStatus: 14 } }'), 'spec.abort.grpcStatus'],
  ['a rate limit on a Service in the gateway group', policy('RateLimitPolicy', '{ targetRef: { group: gateway.networking.k8s.io, kind: Service, name: web }, requestsPerSecond: 1 }'), 'spec.targetRef'],
];
for (const [what, yaml, want] of BAD) {
  test(`rejects ${what} at ${want}`, () => {
    const r = parseManifests('p.yaml', yaml);
    assert.equal(r.objects.length, 0, 'accepted');
    assert.equal(r.problems[0]?.path, want, r.problems[0]?.message);
  });
}

const SERVICES = `
apiVersion: v1
kind: Namespace
metadata: { name: shop, labels: { nodemesh.io/mesh: enabled }, annotations: { nodemesh.io/opaque-ports: "5432, 9000-9002" } }
---
apiVersion: v1
kind: Service
metadata: { name: web, namespace: shop }
spec:
  clusterIP: 10.96.0.10
  ports:
    - { name: http, port: 80, appProtocol: http }
    - { name: h2, port: 81, appProtocol: kubernetes.io/h2c }
    - { name: ws, port: 82, appProtocol: kubernetes.io/ws }
    - { name: grpc, port: 83, appProtocol: grpc }
    - { name: raw, port: 84, appProtocol: tcp }
    - { name: custom, port: 85, appProtocol: example.com/thrift }
    - { name: plain, port: 86 }
    - { name: pg, port: 5432 }
    - { name: range, port: 9001 }
---
apiVersion: v1
kind: Service
metadata: { name: db, namespace: shop, annotations: { nodemesh.io/opaque-ports: "3306" } }
spec: { clusterIP: 10.96.0.11, ports: [{ port: 3306 }, { port: 5432 }] }
`;

test('appProtocol is kept as written; opaque ports come from the Service annotation, else the namespace\'s', () => {
  const r = parseManifests('s.yaml', SERVICES);
  assert.deepEqual(r.problems, []);
  const model = new ConfigModel();
  model.update(resourcesFrom(r.objects));
  const services = new Map(model.fullUpdate('n1').upserts.filter((x) => x.type === 'service').map((x) => [x.key, x.value]));
  const ports = (k: string): unknown[] => {
    const s = services.get(k) as { readonly ports: readonly { port: number; appProtocol?: string; opaque: boolean }[] };
    return s.ports.map((p) => [p.port, p.appProtocol, p.opaque]);
  };
  assert.deepEqual(ports('shop/web'), [
    [80, 'http', false], [81, 'kubernetes.io/h2c', false], [82, 'kubernetes.io/ws', false], [83, 'grpc', false], [84, 'tcp', false],
    [85, 'example.com/thrift', false], [86, undefined, false], [5432, undefined, true], [9001, undefined, true],
  ]);
  // the Service's own annotation replaces the namespace's (5432 is not opaque on db)
  assert.deepEqual(ports('shop/db'), [[3306, undefined, true], [5432, undefined, false]]);
});

const OPAQUE_BAD: Array<[string, string, string]> = [
  ['a word', 'mysql', 'metadata.annotations.nodemesh.io/opaque-ports'],
  ['port 0', '0,80', 'metadata.annotations.nodemesh.io/opaque-ports'],
  ['a port over 65535', '70000', 'metadata.annotations.nodemesh.io/opaque-ports'],
  ['a reversed range', '90-80', 'metadata.annotations.nodemesh.io/opaque-ports'],
  ['an empty item', '80,,81', 'metadata.annotations.nodemesh.io/opaque-ports'],
];
for (const [what, value, want] of OPAQUE_BAD) {
  for (const kind of ['Service', 'Namespace']) {
    test(`rejects ${what} in a ${kind}'s nodemesh.io/opaque-ports at ${want}`, () => {
      const yaml = kind === 'Service'
        ? `apiVersion: v1\nkind: Service\nmetadata: { name: s, namespace: shop, annotations: { nodemesh.io/opaque-ports: "${value}" } }\nspec: { ports: [{ port: 80 }] }\n`
        : `apiVersion: v1\nkind: Namespace\nmetadata: { name: shop, annotations: { nodemesh.io/opaque-ports: "${value}" } }\n`;
      const r = parseManifests('o.yaml', yaml);
      assert.equal(r.objects.length, 0);
      assert.equal(r.problems[0]?.path, want);
      assert.match(r.problems[0]!.message, /comma-separated list of ports/);
    });
  }
}

test('an empty appProtocol is rejected with its path', () => {
  const r = parseManifests('a.yaml', 'apiVersion: v1\nkind: Service\nmetadata: { name: s }\nspec: { ports: [{ port: 80, appProtocol: "" }] }\n');
  assert.equal(r.problems[0]?.path, 'spec.ports[0].appProtocol');
});

test('appProtocol and opaque survive the config stream (proto fields 6 and 7); a FaultPolicy reaches every node as a policy', () => {
  const r = parseManifests('s.yaml', SERVICES + '---\n' + policy('FaultPolicy', '{ targetRef: { kind: Service, name: web }, abort: { httpStatus: 503 } }'));
  assert.deepEqual(r.problems, []);
  const model = new ConfigModel();
  model.update(resourcesFrom(r.objects));
  const full = model.fullUpdate('any-node');
  const def = (configServiceDefinition as unknown as Record<string, { responseSerialize(v: unknown): Buffer; responseDeserialize(b: Buffer): unknown }>).Stream!;
  const back = fromWire(def.responseDeserialize(def.responseSerialize(toWire(full))));
  const svc = back.upserts.find((x) => x.type === 'service' && x.key === 'shop/web');
  assert.ok(svc && svc.type === 'service');
  assert.deepEqual(svc.value.ports.map((p) => [p.port, p.appProtocol, p.opaque]), [
    [80, 'http', false], [81, 'kubernetes.io/h2c', false], [82, 'kubernetes.io/ws', false], [83, 'grpc', false], [84, 'tcp', false],
    [85, 'example.com/thrift', false], [86, undefined, false], [5432, undefined, true], [9001, undefined, true],
  ]);
  const fault = back.upserts.find((x) => x.type === 'policy' && x.key === 'FaultPolicy/shop/p');
  assert.ok(fault && fault.type === 'policy');
  assert.deepEqual(faultPolicyOf(fault.value).abort, { httpStatus: 503, percent: 100 });
});

test('faultPolicyOf / rateLimitPolicyOf on an object that is not valid: MESH_ERR_CONFIG naming it and the field path', () => {
  const p: Policy = { kind: 'FaultPolicy', namespace: 'shop', name: 'bad', spec: { targetRef: { kind: 'Service', name: 'web' }, abort: { httpStatus: 99 } } };
  assert.throws(() => faultPolicyOf(p), (e: unknown) => e instanceof MeshError && e.code === 'MESH_ERR_CONFIG' && /^FaultPolicy shop\/bad: spec\.abort\.httpStatus: must be an integer in 200\.\.599/.test(e.message));
  assert.throws(() => rateLimitPolicyOf(p), (e: unknown) => e instanceof MeshError && /expected a RateLimitPolicy/.test(e.message));
});
