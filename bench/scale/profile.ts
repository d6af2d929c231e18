// Reads a V8 CPU profile (.cpuprofile, as `node --cpu-prof` or the inspector's Profiler writes it)
// and says where the time went: self time by area of the code (our folders, grpc-js, protobufjs,
// GC, …), the hottest functions by self time, and our own functions by inclusive time.

import { readFileSync } from 'node:fs';

export interface CpuProfile {
  readonly nodes: readonly { readonly id: number; readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }; readonly children?: readonly number[] }[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface FnTime { readonly fn: string; readonly where: string; readonly ms: number; readonly pct: number }

export interface ProfileSummary {
  /** sampled time without idle, ms */
  readonly busyMs: number;
  readonly idleMs: number;
  readonly areas: readonly { readonly area: string; readonly ms: number; readonly pct: number }[];
  readonly selfTop: readonly FnTime[];
  /** functions of this repository (controller, agent, common) by time including callees */
  readonly ownInclusiveTop: readonly FnTime[];
}

const AREAS: readonly [RegExp, string][] = [
  [/\/controller\/src\/views\//, 'controller views (model diff, per-node views)'],
  [/\/controller\/src\/grpc\//, 'wire conversion (toWire / fromWire)'],
  [/\/controller\/src\/server\//, 'config server'],
  [/\/controller\/src\/(sources|model)\//, 'sources and object conversion'],
  [/\/controller\/src\//, 'controller (other)'],
  [/\/bench\/scale\//, 'benchmark harness (generator, source)'],
  [/node_modules\/@grpc\/grpc-js\//, 'grpc-js (streams, HTTP/2)'],
  [/node_modules\/(protobufjs|@protobufjs)\//, 'protobufjs (encode / decode)'],
  [/node_modules\/yaml\//, 'yaml parser'],
  [/node_modules\/(pino|prom-client)/, 'logging and metrics'],
  [/node_modules\//, 'other packages'],
  [/^node:/, 'Node.js internals (streams, http2, net)'],
];

export function areaOf(url: string, fn: string): string {
  if (fn === '(garbage collector)') return 'garbage collector';
  if (fn === '(program)') return 'V8 and native (program)';
  if (fn === '(idle)') return 'idle';
  for (const [re, name] of AREAS) if (re.test(url)) return name;
  return url === '' ? 'V8 builtins and native' : 'other';
}

const shortUrl = (url: string): string => url.replace(/^file:\/\/.*?\/(dist\/)?((controller|agent|common|bench|node_modules)\/)/, '$2').replace(/^node_modules\//, '');

export function summarize(p: CpuProfile, top = 12): ProfileSummary {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const key = (id: number): string => { const f = byId.get(id)!.callFrame; return `${f.functionName || '(anonymous)'}\u0000${shortUrl(f.url)}:${f.lineNumber + 1}`; };
  const self = new Map<string, number>();
  const incl = new Map<string, number>();
  const areas = new Map<string, number>();
  let idle = 0;
  let busy = 0;
  p.samples.forEach((id, i) => {
    const dt = (p.timeDeltas[i + 1] ?? p.timeDeltas[i] ?? 0) / 1000;
    const f = byId.get(id)?.callFrame;
    if (!f) return;
    const area = areaOf(f.url, f.functionName);
    if (area === 'idle') { idle += dt; return; }
    busy += dt;
    areas.set(area, (areas.get(area) ?? 0) + dt);
    self.set(key(id), (self.get(key(id)) ?? 0) + dt);
    const seen = new Set<string>();
    for (let n: number | undefined = id; n !== undefined; n = parent.get(n)) {
      const u = byId.get(n)!.callFrame.url;
      if (!/\/(controller|agent|common)\//.test(u)) continue;
      const k = key(n);
      if (!seen.has(k)) { seen.add(k); incl.set(k, (incl.get(k) ?? 0) + dt); }
    }
  });
  const pct = (ms: number): number => (busy > 0 ? (100 * ms) / busy : 0);
  const fns = (m: Map<string, number>): FnTime[] => [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, ms]) => {
    const [fn, where] = k.split('\u0000') as [string, string];
    return { fn, where, ms, pct: pct(ms) };
  });
  return {
    busyMs: busy, idleMs: idle,
    areas: [...areas].sort((a, b) => b[1] - a[1]).map(([area, ms]) => ({ area, ms, pct: pct(ms) })),
    selfTop: fns(self), ownInclusiveTop: fns(incl),
  };
}

export function summarizeProfile(file: string): ProfileSummary {
  return summarize(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile);
}
