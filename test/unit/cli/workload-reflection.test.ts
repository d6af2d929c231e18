// The reflection fix-up for protobufjs's map entry names: protoc's "<CamelField>Entry" rule, the
// rename of entry and reference in place, and the standard health proto (its List map) served fixed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import type * as Descriptor from 'protobufjs/ext/descriptor/index.js';
import { echoPackageDefinition } from '../../../cli/workload-grpc.js';
import { fixMapEntries, mapEntryName, reflectable, type Msg } from '../../../cli/workload-reflection.js';

const descriptor = createRequire(import.meta.url)('protobufjs/ext/descriptor') as typeof Descriptor;

test('mapEntryName follows protoc', () => {
  const rows: [string, string][] = [['statuses', 'StatusesEntry'], ['labels_by_key', 'LabelsByKeyEntry'], ['byName', 'ByNameEntry'], ['x', 'XEntry']];
  for (const [f, want] of rows) assert.equal(mapEntryName(f), want);
});

test('fixMapEntries renames entry messages and their references (relative and qualified), nested too, and leaves correct ones', () => {
  const msgs: Msg[] = [
    { name: 'A', field: [{ name: 'statuses', typeName: 'Statuses' }], nestedType: [{ name: 'Statuses', options: { mapEntry: true } }] },
    { name: 'B', field: [{ name: 'by_name', typeName: '.pkg.B.ByName' }], nestedType: [{ name: 'ByName', options: { mapEntry: true } },
      { name: 'Inner', field: [{ name: 'tags', typeName: 'Tags' }], nestedType: [{ name: 'Tags', options: { mapEntry: true } }] }] },
    { name: 'C', field: [{ name: 'ok', typeName: 'OkEntry' }], nestedType: [{ name: 'OkEntry', options: { mapEntry: true } }, { name: 'Plain' }] },
  ];
  assert.equal(fixMapEntries(msgs), true);
  assert.deepEqual([msgs[0]!.nestedType![0]!.name, msgs[0]!.field![0]!.typeName], ['StatusesEntry', 'StatusesEntry']);
  assert.deepEqual([msgs[1]!.nestedType![0]!.name, msgs[1]!.field![0]!.typeName], ['ByNameEntry', '.pkg.B.ByNameEntry']);
  assert.deepEqual([msgs[1]!.nestedType![1]!.nestedType![0]!.name, msgs[1]!.nestedType![1]!.field![0]!.typeName], ['TagsEntry', 'TagsEntry']);
  assert.deepEqual(msgs[2]!.nestedType!.map((n) => n.name), ['OkEntry', 'Plain']);
  assert.equal(fixMapEntries([msgs[2]!]), false);
});

test('reflectable: the echo + health definition decodes with HealthListResponse.StatusesEntry; the echo file is untouched', () => {
  const def = echoPackageDefinition();
  const fixed = reflectable(def);
  assert.deepEqual(Object.keys(fixed).sort(), Object.keys(def).sort());
  const files = new Map<string, { name?: string; messageType?: { name?: string; field?: { name?: string; typeName?: string }[]; nestedType?: { name?: string }[] }[] }>();
  for (const d of Object.values(fixed)) {
    for (const b of (d as { fileDescriptorProtos?: Buffer[] }).fileDescriptorProtos ?? []) {
      const f = descriptor.FileDescriptorProto.decode(b) as unknown as { name?: string };
      files.set(f.name ?? '', f);
    }
  }
  const health = [...files.values()].find((f) => f.messageType?.some((m) => m.name === 'HealthListResponse'));
  const list = health!.messageType!.find((m) => m.name === 'HealthListResponse')!;
  assert.deepEqual([list.nestedType![0]!.name, list.field![0]!.typeName], ['StatusesEntry', 'StatusesEntry']);
  const echoBefore = Object.values(def).flatMap((d) => (d as { fileDescriptorProtos?: Buffer[] }).fileDescriptorProtos ?? [])
    .find((b) => (descriptor.FileDescriptorProto.decode(b) as unknown as { package?: string }).package === 'nodemesh.echo.v1')!;
  const echoAfter = (fixed['nodemesh.echo.v1.EchoRequest'] as unknown as { fileDescriptorProtos: Buffer[] }).fileDescriptorProtos
    .find((b) => (descriptor.FileDescriptorProto.decode(b) as unknown as { package?: string }).package === 'nodemesh.echo.v1')!;
  assert.equal(echoAfter, echoBefore, 'a file without maps is passed through as the same bytes');
});
