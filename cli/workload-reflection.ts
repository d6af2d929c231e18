// Makes a @grpc/proto-loader package definition safe to serve over gRPC reflection: protobufjs
// names a map field's implicit entry message after the field ("Statuses") where protoc and Go's
// protodesc require "<CamelField>Entry" ("StatusesEntry"); grpcurl rejects the file otherwise.

import { createRequire } from 'node:module';
import type * as Descriptor from 'protobufjs/ext/descriptor/index.js';
import type * as loader from '@grpc/proto-loader';

// A CommonJS module whose exports Node's ESM loader cannot list: loaded with require.
const descriptor = createRequire(import.meta.url)('protobufjs/ext/descriptor') as typeof Descriptor;

/** protoc's map entry name: the field name in CamelCase (underscores dropped) + "Entry". */
export function mapEntryName(field: string): string {
  return `${field.replace(/(^|_)([a-z])/g, (_m, _u: string, c: string) => c.toUpperCase()).replace(/_/g, '')}Entry`;
}

export interface Msg { name?: string; field?: { name?: string; typeName?: string }[]; nestedType?: Msg[]; options?: { mapEntry?: boolean } }

/** Renames map entry messages (and the references to them) in place; true when anything changed. */
export function fixMapEntries(messages: readonly Msg[]): boolean {
  let changed = false;
  for (const m of messages) {
    for (const nested of m.nestedType ?? []) {
      if (!nested.options?.mapEntry || !nested.name) continue;
      const old = nested.name;
      const field = (m.field ?? []).find((f) => f.typeName === old || f.typeName?.endsWith(`.${old}`));
      if (!field?.name) continue;
      const want = mapEntryName(field.name);
      if (want === old) continue;
      nested.name = want;
      field.typeName = field.typeName === old ? want : `${field.typeName!.slice(0, -old.length)}${want}`;
      changed = true;
    }
    if (fixMapEntries(m.nestedType ?? [])) changed = true;
  }
  return changed;
}

/** The same definition with every file descriptor's map entries named as protoc names them. */
export function reflectable(def: loader.PackageDefinition): loader.PackageDefinition {
  const fixed = new Map<Buffer, Buffer>();
  const fix = (bin: Buffer): Buffer => {
    let out = fixed.get(bin);
    if (!out) {
      const file = descriptor.FileDescriptorProto.decode(bin) as unknown as { messageType?: Msg[] };
      out = fixMapEntries(file.messageType ?? []) ? Buffer.from(descriptor.FileDescriptorProto.encode(file as never).finish()) : bin;
      fixed.set(bin, out);
    }
    return out;
  };
  const out: loader.PackageDefinition = {};
  for (const [name, d] of Object.entries(def)) {
    const protos = (d as { fileDescriptorProtos?: Buffer[] }).fileDescriptorProtos;
    out[name] = Array.isArray(protos) ? { ...d, fileDescriptorProtos: protos.map(fix) } as typeof d : d;
  }
  return out;
}
