// Reads a directory of YAML manifests and keeps it current: files added, changed and removed are
// applied as Kubernetes would (create, update, delete). An invalid object is rejected alone and its
// last valid version stays in force. Emits a fresh ClusterResources snapshot on every real change.

import { EventEmitter } from 'node:events';
import { readdirSync, readFileSync, statSync, watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import { MeshError } from '../../../common/errors.js';
import { parseManifests, type ParsedObject } from '../model/parse.js';
import type { ClusterResources, ManifestProblem } from '../model/types.js';
import { addObject, emptyResources, objectId, objectKey } from '../model/index.js';
import type { ClusterSource, SourceSnapshot } from './source.js';

interface FileState { readonly sig: string; readonly objects: ReadonlyMap<string, ParsedObject> }

const MANIFEST_FILE = /\.(ya?ml|json)$/;

const keyOf = objectId;

/** Builds the snapshot from every file's objects; later files win a name clash, which is reported. */
export function buildResources(files: ReadonlyMap<string, FileState>, problems: ManifestProblem[]): ClusterResources {
  const r = emptyResources();
  const seen = new Map<string, string>();
  for (const file of [...files.keys()].sort()) {
    for (const [key, o] of files.get(file)!.objects) {
      const prev = seen.get(key);
      if (prev !== undefined) {
        problems.push({ file, kind: o.kind, name: o.value.name, path: 'metadata.name', message: `duplicate of the object in ${prev}; this later definition wins` });
      }
      seen.set(key, file);
      addObject(r, o);
    }
  }
  return r;
}

export type ManifestSnapshot = SourceSnapshot;

/** A watched manifest directory. `update` fires with a ManifestSnapshot whenever the content changes. */
export class ManifestSource extends EventEmitter implements ClusterSource {
  readonly kind = 'manifests' as const;
  readonly dir: string;
  #files = new Map<string, FileState>();
  #problems = new Map<string, ManifestProblem[]>();
  #snapshot: ManifestSnapshot | undefined;
  #lastJson = '';
  #watcher: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  #pending: NodeJS.Timeout | undefined;

  constructor(dir: string) {
    super();
    this.dir = path.resolve(dir);
  }

  /** Reads the directory once, synchronously; throws MESH_ERR_CONFIG if it cannot be read. */
  load(): ManifestSnapshot {
    this.#scan();
    return this.#snapshot!;
  }

  get snapshot(): ManifestSnapshot | undefined {
    return this.#snapshot;
  }

  /** ClusterSource: the first read, then watching. */
  async start(): Promise<ManifestSnapshot> {
    const s = this.load();
    this.watch();
    return s;
  }

  /** Starts watching: fs.watch (inotify) applies a change ~30 ms after it, and a poll every pollMs
   *  is the safety net for a missed event (at 100 ms that poll alone cost an idle controller ~3 ms
   *  of CPU per second; bench/README.md, agent footprint). */
  watch(pollMs = 1000): void {
    if (this.#timer) return;
    try {
      this.#watcher = watch(this.dir, () => this.#schedule());
      this.#watcher.on('error', () => undefined);
    } catch { /* polling still covers it */ }
    this.#timer = setInterval(() => this.#safeScan(), pollMs);
    this.#timer.unref();
  }

  close(): void {
    this.#watcher?.close();
    if (this.#timer) clearInterval(this.#timer);
    if (this.#pending) clearTimeout(this.#pending);
    this.#timer = undefined;
  }

  #schedule(): void {
    if (this.#pending) return;
    this.#pending = setTimeout(() => { this.#pending = undefined; this.#safeScan(); }, 30);
    this.#pending.unref();
  }

  #safeScan(): void {
    try { this.#scan(); } catch (e) { this.emit('error', e); }
  }

  #scan(): void {
    let names: string[];
    try {
      names = readdirSync(this.dir).filter((n) => MANIFEST_FILE.test(n)).sort();
    } catch (e) {
      throw new MeshError('MESH_ERR_CONFIG', `cannot read manifest directory ${this.dir}: ${(e as Error).message}; pass an existing directory with --manifests`);
    }
    let changed = false;
    const present = new Set(names);
    for (const f of [...this.#files.keys()]) {
      if (!present.has(f)) { this.#files.delete(f); this.#problems.delete(f); changed = true; }
    }
    for (const f of names) {
      const full = path.join(this.dir, f);
      let sig: string;
      let text: string;
      try {
        const st = statSync(full);
        sig = `${st.mtimeMs}:${st.size}`;
        if (this.#files.get(f)?.sig === sig) continue;
        text = readFileSync(full, 'utf8');
      } catch { continue; /* removed between readdir and read: the next scan sees it gone */ }
      this.#files.set(f, this.#reparse(f, sig, text));
      changed = true;
    }
    if (!changed && this.#snapshot) return;
    const problems = [...this.#problems.values()].flat();
    const resources = buildResources(this.#files, problems);
    const json = JSON.stringify([...Object.values(resources).map((m: ReadonlyMap<string, unknown>) => [...m]), problems]);
    if (json === this.#lastJson && this.#snapshot) return;
    this.#lastJson = json;
    this.#snapshot = { resources, problems, generation: (this.#snapshot?.generation ?? 0) + 1 };
    this.emit('update', this.#snapshot);
  }

  /** Parses one file; a rejected object keeps its previous valid version from the same file. */
  #reparse(file: string, sig: string, text: string): FileState {
    const result = parseManifests(file, text);
    const prev = this.#files.get(file)?.objects ?? new Map<string, ParsedObject>();
    const objects = new Map<string, ParsedObject>();
    for (const o of result.objects) objects.set(keyOf(o), o);
    const syntaxBroken = result.problems.some((p) => p.kind === '?');
    for (const p of result.problems) {
      const k = p.kind === 'Namespace' ? `Namespace/${p.name}` : `${p.kind}/${objectKey(p.namespace ?? 'default', p.name ?? '')}`;
      const old = prev.get(k);
      if (old && !objects.has(k)) objects.set(k, old);
    }
    if (syntaxBroken) for (const [k, o] of prev) if (!objects.has(k)) objects.set(k, o);
    this.#problems.set(file, [...result.problems]);
    return { sig, objects };
  }
}
