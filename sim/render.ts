// Renders the manifests the controller reads: the user's files, same names, with status.podIP,
// status.hostIP and status.phase filled in for every pod the simulator has given an address, and
// spec.clusterIP for Services without one (the simulator plays the API server's IP allocator).
// Everything else (comments, invalid objects, unknown kinds) passes through untouched, so the
// agents see exactly what the user wrote plus what a kubelet would have reported.

import { parseAllDocuments, type Document } from 'yaml';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const MANIFEST_FILE = /\.(ya?ml|json)$/;

export interface PodStatus {
  readonly podIP: string;
  readonly hostIP?: string;
}

/** Looks up the status of namespace/name; undefined leaves the pod as written. */
export type StatusOf = (namespace: string, name: string) => PodStatus | undefined;
/** The virtual IP the simulator (playing the API server's allocator) gives a Service without one. */
export type ClusterIPOf = (namespace: string, name: string) => string | undefined;

function serviceNeedingIP(item: unknown): { namespace: string; name: string } | undefined {
  if (!isObj(item) || item.kind !== 'Service' || !isObj(item.metadata)) return undefined;
  if (isObj(item.spec) && item.spec.clusterIP !== undefined) return undefined;
  const { name, namespace } = item.metadata;
  if (typeof name !== 'string') return undefined;
  return { namespace: typeof namespace === 'string' && namespace ? namespace : 'default', name };
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function podKey(item: unknown): { namespace: string; name: string } | undefined {
  if (!isObj(item) || item.kind !== 'Pod' || !isObj(item.metadata)) return undefined;
  const { name, namespace } = item.metadata;
  if (typeof name !== 'string') return undefined;
  return { namespace: typeof namespace === 'string' && namespace ? namespace : 'default', name };
}

function fill(doc: Document, at: readonly (string | number)[], st: PodStatus): void {
  doc.setIn([...at, 'status', 'phase'], 'Running');
  doc.setIn([...at, 'status', 'podIP'], st.podIP);
  if (st.hostIP) doc.setIn([...at, 'status', 'hostIP'], st.hostIP);
}

/** Renders one file's text. JSON input stays JSON; YAML keeps its comments and layout. */
export function renderManifestText(file: string, text: string, statusOf: StatusOf, clusterIPOf: ClusterIPOf = () => undefined): string {
  if (file.endsWith('.json')) {
    try {
      const root: unknown = JSON.parse(text);
      const items = isObj(root) && root.kind === 'List' && Array.isArray(root.items) ? root.items : [root];
      let changed = false;
      for (const it of items) {
        const sk = serviceNeedingIP(it);
        const vip = sk && clusterIPOf(sk.namespace, sk.name);
        if (vip && isObj(it)) { it.spec = { ...(isObj(it.spec) ? it.spec : {}), clusterIP: vip }; changed = true; }
        const k = podKey(it);
        const st = k && statusOf(k.namespace, k.name);
        if (!st || !isObj(it)) continue;
        const status = isObj(it.status) ? it.status : {};
        it.status = { ...status, phase: 'Running', podIP: st.podIP, ...(st.hostIP ? { hostIP: st.hostIP } : {}) };
        changed = true;
      }
      return changed ? `${JSON.stringify(root, null, 2)}\n` : text;
    } catch {
      return text; // the agent reports the syntax error itself
    }
  }
  const docs = parseAllDocuments(text);
  const list = Array.isArray(docs) ? docs : [docs];
  if (list.some((d) => d.errors.length > 0)) return text;
  let changed = false;
  for (const doc of list) {
    const root: unknown = doc.toJS();
    if (isObj(root) && root.kind === 'List' && Array.isArray(root.items)) {
      root.items.forEach((it, i) => {
        const sk = serviceNeedingIP(it);
        const vip = sk && clusterIPOf(sk.namespace, sk.name);
        if (vip) { doc.setIn(['items', i, 'spec', 'clusterIP'], vip); changed = true; }
        const k = podKey(it);
        const st = k && statusOf(k.namespace, k.name);
        if (st) { fill(doc, ['items', i], st); changed = true; }
      });
      continue;
    }
    const sk = serviceNeedingIP(root);
    const vip = sk && clusterIPOf(sk.namespace, sk.name);
    if (vip) { doc.setIn(['spec', 'clusterIP'], vip); changed = true; }
    const k = podKey(root);
    const st = k && statusOf(k.namespace, k.name);
    if (st) { fill(doc, [], st); changed = true; }
  }
  if (!changed) return text;
  return list.map((d, i) => {
    const s = d.toString();
    return i === 0 || s.startsWith('---') ? s : `---\n${s}`;
  }).join('');
}

/**
 * Renders every manifest file of `srcDir` into `dstDir` (atomically, by rename) and removes rendered
 * files whose source is gone. Returns the file names written.
 */
export function renderManifestDir(srcDir: string, dstDir: string, statusOf: StatusOf, clusterIPOf?: ClusterIPOf): string[] {
  mkdirSync(dstDir, { recursive: true });
  const names = readdirSync(srcDir).filter((n) => MANIFEST_FILE.test(n)).sort();
  const written: string[] = [];
  for (const n of names) {
    let text: string;
    try { text = readFileSync(path.join(srcDir, n), 'utf8'); } catch { continue; }
    const out = renderManifestText(n, text, statusOf, clusterIPOf);
    const dst = path.join(dstDir, n);
    let old: string | undefined;
    try { old = readFileSync(dst, 'utf8'); } catch { old = undefined; }
    if (old === out) continue;
    const tmp = path.join(dstDir, `.${n}.tmp`);
    writeFileSync(tmp, out);
    renameSync(tmp, dst);
    written.push(n);
  }
  const present = new Set(names);
  for (const n of readdirSync(dstDir)) {
    if (MANIFEST_FILE.test(n) && !present.has(n)) rmSync(path.join(dstDir, n), { force: true });
  }
  return written;
}
