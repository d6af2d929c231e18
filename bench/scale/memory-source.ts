// An in-memory ClusterSource for the scale benchmark: raw objects go through the same convertObject
// as the real sources and become snapshots built with resourcesFrom. `prepare` builds the next
// snapshot without emitting it, so the benchmark can take t0 right before the controller sees it.

import { EventEmitter } from 'node:events';
import { convertObject, objectId, resourcesFrom, type ManifestProblem, type ParsedObject } from '../../controller/src/model/index.js';
import type { ClusterSource, SourceSnapshot } from '../../controller/src/sources/index.js';
import type { RawObject } from './generate.js';

export class MemorySource extends EventEmitter implements ClusterSource {
  /** it stands in for the Kubernetes API source (a list, then watch events) */
  readonly kind = 'kubernetes' as const;
  readonly #objects = new Map<string, ParsedObject>();
  #problems: ManifestProblem[] = [];
  #snapshot: SourceSnapshot | undefined;

  constructor(objects: Iterable<RawObject>) {
    super();
    this.#put(objects);
  }

  get snapshot(): SourceSnapshot | undefined {
    return this.#snapshot;
  }

  get size(): number {
    return this.#objects.size;
  }

  async start(): Promise<SourceSnapshot> {
    this.#snapshot = this.#build();
    return this.#snapshot;
  }

  /** Converts and stores changed objects; returns the snapshot to hand to `publish`. */
  prepare(changed: Iterable<RawObject>): SourceSnapshot {
    this.#put(changed);
    return this.#build();
  }

  /** Emits a prepared snapshot (synchronously runs the controller's update handler). */
  publish(s: SourceSnapshot): void {
    this.#snapshot = s;
    this.emit('update', s);
  }

  close(): void {
    this.removeAllListeners('update');
  }

  #put(objects: Iterable<RawObject>): void {
    this.#problems = [];
    for (const raw of objects) {
      const r = convertObject(raw, 'memory', 'object');
      if ('object' in r) this.#objects.set(objectId(r.object), r.object);
      else if ('problem' in r) this.#problems.push(r.problem);
    }
  }

  #build(): SourceSnapshot {
    return { resources: resourcesFrom(this.#objects.values()), problems: this.#problems, generation: (this.#snapshot?.generation ?? 0) + 1 };
  }
}
