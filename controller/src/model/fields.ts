// Field readers shared by the object converters: each checks one field and throws Invalid with the
// field path and a message that says what a valid value looks like.

import type { Labels } from './types.js';

export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

export class Invalid extends Error {
  constructor(readonly path: string, message: string) { super(message); }
}

export type Obj = Record<string, unknown>;
export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export function obj(v: unknown, path: string, optional = false): Obj {
  if (v === undefined && optional) return {};
  if (!isObj(v)) throw new Invalid(path, 'must be a mapping');
  return v;
}
export function str(v: unknown, path: string): string {
  if (typeof v !== 'string' || v.length === 0) throw new Invalid(path, 'must be a non-empty string');
  return v;
}
export function optStr(v: unknown, path: string): string | undefined {
  return v === undefined || v === null ? undefined : str(v, path);
}
export function name(v: unknown, path: string, re = DNS_SUBDOMAIN): string {
  const s = str(v, path);
  if (s.length > 253 || !re.test(s)) throw new Invalid(path, `"${s}" is not a valid name (lower-case letters, digits, "-")`);
  return s;
}
export function port(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65535) throw new Invalid(path, `must be an integer port in 1..65535, got ${JSON.stringify(v)}`);
  return v;
}
export function strMap(v: unknown, path: string): Labels {
  const o = obj(v, path, true);
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(o)) {
    if (typeof val !== 'string') throw new Invalid(`${path}.${k}`, `must be a string, got ${JSON.stringify(val)} (quote it in YAML)`);
    out[k] = val;
  }
  return Object.freeze(out);
}
export function protocol(v: unknown, path: string): 'TCP' | 'UDP' {
  if (v === undefined) return 'TCP';
  if (v !== 'TCP' && v !== 'UDP') throw new Invalid(path, `must be TCP or UDP, got ${JSON.stringify(v)}`);
  return v;
}
export function strList(v: unknown, path: string): string[] {
  if (!Array.isArray(v)) throw new Invalid(path, 'must be a list of strings');
  return v.map((x, i) => {
    if (typeof x !== 'string' && typeof x !== 'number') throw new Invalid(`${path}[${i}]`, 'must be a string');
    return String(x);
  });
}

