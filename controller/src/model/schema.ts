// Validates custom resources against the OpenAPI v3 schemas of our CRDs (deploy/crds/*.yaml), which
// are the source of truth: the same schema the API server enforces is enforced on the manifest
// path. A structural subset is supported: type, properties, required, items, enum, min/max,
// minLength/maxLength, minItems/maxItems, pattern, additionalProperties, x-kubernetes-preserve-unknown-fields.

import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { Invalid, isObj, type Obj } from './fields.js';

export interface CrdSchema { readonly group: string; readonly version: string; readonly kind: string; readonly namespaced: boolean; readonly schema: Obj }

/** Reads every CRD under dir; a missing dir yields none (no custom kinds are served). */
export function loadCrdSchemas(dir: string): Map<string, CrdSchema> {
  const out = new Map<string, CrdSchema>();
  let files: string[];
  try { files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)); } catch { return out; }
  for (const f of files) {
    for (const doc of parseAllDocuments(readFileSync(path.join(dir, f), 'utf8'))) {
      const crd: unknown = doc.toJS();
      if (!isObj(crd) || crd.kind !== 'CustomResourceDefinition' || !isObj(crd.spec)) continue;
      const spec = crd.spec;
      const names = isObj(spec.names) ? spec.names : {};
      for (const v of Array.isArray(spec.versions) ? spec.versions : []) {
        if (!isObj(v) || !isObj(v.schema) || !isObj(v.schema.openAPIV3Schema)) continue;
        const key = `${String(spec.group)}/${String(v.name)}/${String(names.kind)}`;
        out.set(key, { group: String(spec.group), version: String(v.name), kind: String(names.kind), namespaced: spec.scope !== 'Cluster', schema: v.schema.openAPIV3Schema });
      }
    }
  }
  return out;
}

function typeOf(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (v === null) return 'null';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

/** Throws Invalid with the first violation's field path. */
export function validateSchema(v: unknown, s: Obj, p: string): void {
  const t = s.type;
  if (typeof t === 'string') {
    const actual = typeOf(v);
    const ok = actual === t || (t === 'number' && actual === 'integer');
    if (!ok) throw new Invalid(p, `must be ${t}, got ${actual}`);
  }
  if (Array.isArray(s.enum) && !s.enum.includes(v as never)) throw new Invalid(p, `must be one of ${s.enum.map((e) => JSON.stringify(e)).join(', ')}, got ${JSON.stringify(v)}`);
  if (typeof v === 'number') {
    if (typeof s.minimum === 'number' && v < s.minimum) throw new Invalid(p, `must be ≥ ${s.minimum}`);
    if (typeof s.maximum === 'number' && v > s.maximum) throw new Invalid(p, `must be ≤ ${s.maximum}`);
  }
  if (typeof v === 'string') {
    if (typeof s.minLength === 'number' && v.length < s.minLength) throw new Invalid(p, `must have at least ${s.minLength} characters`);
    if (typeof s.maxLength === 'number' && v.length > s.maxLength) throw new Invalid(p, `must have at most ${s.maxLength} characters`);
    if (typeof s.pattern === 'string' && !new RegExp(s.pattern).test(v)) throw new Invalid(p, `must match ${s.pattern}`);
  }
  if (Array.isArray(v)) {
    if (typeof s.minItems === 'number' && v.length < s.minItems) throw new Invalid(p, `must have at least ${s.minItems} items`);
    if (typeof s.maxItems === 'number' && v.length > s.maxItems) throw new Invalid(p, `must have at most ${s.maxItems} items`);
    if (isObj(s.items)) v.forEach((x, i) => validateSchema(x, s.items as Obj, `${p}[${i}]`));
  }
  if (isObj(v)) {
    for (const r of Array.isArray(s.required) ? s.required : []) if (!(String(r) in v)) throw new Invalid(p ? `${p}.${String(r)}` : String(r), 'is required');
    const props = isObj(s.properties) ? s.properties : undefined;
    for (const [k, x] of Object.entries(v)) {
      const sub = props?.[k];
      const kp = p ? `${p}.${k}` : k;
      if (isObj(sub)) validateSchema(x, sub, kp);
      else if (isObj(s.additionalProperties)) validateSchema(x, s.additionalProperties, kp);
      else if (props && s['x-kubernetes-preserve-unknown-fields'] !== true && s.additionalProperties !== true && !(p === '' && (k === 'apiVersion' || k === 'kind' || k === 'metadata'))) {
        throw new Invalid(kp, `unknown field (allowed: ${Object.keys(props).join(', ')})`);
      }
    }
  }
}

export function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object') {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}
