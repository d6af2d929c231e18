// Conversion of the kinds beyond the core ones: EndpointSlice, Gateway API routes, and custom
// resources validated against their CRD's OpenAPI schema (field paths on every violation).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseManifests, setCrdDir } from '../../../controller/src/model/index.js';

test('EndpointSlice: addresses, readiness, service name', () => {
  const r = parseManifests('e.yaml', `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: web-1, namespace: shop, labels: { kubernetes.io/service-name: web } }
addressType: IPv4
ports: [{ name: http, port: 8080 }]
endpoints:
  - { addresses: [10.200.1.12], conditions: { ready: true }, nodeName: node-a, targetRef: { kind: Pod, name: server-a } }
  - { addresses: [10.200.2.11], conditions: { ready: false } }
`);
  assert.deepEqual(r.problems, []);
  const o = r.objects[0]!;
  assert.equal(o.kind, 'EndpointSlice');
  if (o.kind !== 'EndpointSlice') return;
  assert.equal(o.value.serviceName, 'web');
  assert.deepEqual(o.value.endpoints.map((e) => [e.addresses[0], e.ready, e.podName]), [['10.200.1.12', true, 'server-a'], ['10.200.2.11', false, undefined]]);
});

const BAD: Array<[string, string, string]> = [
  ['slice without service label', 'apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: { name: s }\nendpoints: []', 'metadata.labels.kubernetes.io/service-name'],
  ['slice with a bad address', 'apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: { name: s, labels: { kubernetes.io/service-name: w } }\nendpoints: [{ addresses: [nope] }]', 'endpoints[0].addresses[0]'],
  ['route without parents', 'apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: { name: r }\nspec: { parentRefs: [] }', 'spec.parentRefs'],
  // a non-Service backend kind is valid (its route gets ResolvedRefs False/InvalidKind); a Service one needs a port
  ['route with a Service backend without a port', 'apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: { name: r }\nspec: { parentRefs: [{ kind: Service, name: web }], rules: [{ backendRefs: [{ name: b }] }] }', 'spec.rules[0].backendRefs[0].port'],
  ['grpc route with a bad weight', 'apiVersion: gateway.networking.k8s.io/v1\nkind: GRPCRoute\nmetadata: { name: r }\nspec: { parentRefs: [{ kind: Service, name: web }], rules: [{ backendRefs: [{ name: b, weight: -1 }] }] }', 'spec.rules[0].backendRefs[0].weight'],
];
for (const [name, yaml, p] of BAD) {
  test(`rejects ${name} at ${p}`, () => {
    const r = parseManifests('b.yaml', yaml);
    assert.equal(r.objects.length, 0);
    assert.equal(r.problems[0]?.path, p);
  });
}

test('custom resources are validated against their CRD schema', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'nm-crd-'));
  try {
    writeFileSync(path.join(dir, 'crd.yaml'), `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: { name: widgets.policy.nodemesh.io }
spec:
  group: policy.nodemesh.io
  scope: Namespaced
  names: { kind: Widget, plural: widgets }
  versions:
    - name: v1alpha1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            apiVersion: { type: string }
            kind: { type: string }
            metadata: { type: object }
            spec:
              type: object
              required: [mode]
              properties:
                mode: { type: string, enum: [STRICT, PERMISSIVE] }
                rate: { type: integer, minimum: 1 }
                tags: { type: array, items: { type: string, maxLength: 3 } }
`);
    setCrdDir(dir);
    const ok = parseManifests('p.yaml', 'apiVersion: policy.nodemesh.io/v1alpha1\nkind: Widget\nmetadata: { name: w, namespace: shop }\nspec: { mode: STRICT, rate: 5 }');
    assert.deepEqual(ok.problems, []);
    assert.equal(ok.objects[0]?.kind, 'Policy');
    const cases: Array<[string, string]> = [
      ['{ rate: 5 }', 'spec.mode'],
      ['{ mode: LOOSE }', 'spec.mode'],
      ['{ mode: STRICT, rate: 0 }', 'spec.rate'],
      ['{ mode: STRICT, tags: [ok, toolong] }', 'spec.tags[1]'],
      ['{ mode: STRICT, extra: 1 }', 'spec.extra'],
    ];
    for (const [spec, want] of cases) {
      const r = parseManifests('p.yaml', `apiVersion: policy.nodemesh.io/v1alpha1\nkind: Widget\nmetadata: { name: w, namespace: shop }\nspec: ${spec}`);
      assert.equal(r.problems[0]?.path, want, spec);
    }
    const unknownVersion = parseManifests('p.yaml', 'apiVersion: policy.nodemesh.io/v9\nkind: Widget\nmetadata: { name: w }\nspec: {}');
    assert.equal(unknownVersion.ignored, 1);
  } finally {
    setCrdDir(path.join(dir, 'none'));
    rmSync(dir, { recursive: true, force: true });
  }
});
