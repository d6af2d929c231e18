// Turns Kubernetes-style YAML documents into validated domain objects (types.ts). Each object is
// checked alone: a bad one becomes a ManifestProblem with file, kind, name and field path, and the
// others are still returned. Pure: no file system access (sources/manifests.ts reads the files).

import { parseAllDocuments } from 'yaml';
import type { ManifestProblem } from './types.js';
import { isObj } from './fields.js';
import { convertObject, type ParsedObject } from './convert.js';

export type { ParsedObject };

export interface ParseResult {
  readonly objects: readonly ParsedObject[];
  readonly problems: readonly ManifestProblem[];
  /** kinds present but not served by this component (e.g. Deployment), counted, not errors */
  readonly ignored: number;
}

/** Parses one file's text (multi-document YAML, `kind: List` allowed). */
export function parseManifests(file: string, text: string): ParseResult {
  const objects: ParsedObject[] = [];
  const problems: ManifestProblem[] = [];
  let ignored = 0;
  const docs = parseAllDocuments(text);
  const list = Array.isArray(docs) ? docs : [docs];
  list.forEach((doc, di) => {
    if (doc.errors.length > 0) {
      problems.push({ file, kind: '?', path: `document[${di}]`, message: `YAML syntax: ${doc.errors[0]?.message.split('\n')[0]}` });
      return;
    }
    const root: unknown = doc.toJS();
    if (root === null || root === undefined) return;
    const items = isObj(root) && root.kind === 'List' && Array.isArray(root.items) ? root.items : [root];
    for (const item of items) {
      const r = convertObject(item, file, `document[${di}]`);
      if ('object' in r) objects.push(r.object);
      else if ('problem' in r) problems.push(r.problem);
      else ignored++;
    }
  });
  return { objects, problems, ignored };
}

/** A one-line description of a problem, for logs and /config_dump. */
export function formatProblem(p: ManifestProblem): string {
  const who = `${p.kind}${p.namespace ? ` ${p.namespace}/` : ' '}${p.name ?? '?'}`;
  return `${p.file}: ${who}: ${p.path}: ${p.message}`;
}
