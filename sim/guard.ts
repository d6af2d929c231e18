// Process-wide safety net for live clusters: on SIGINT/SIGTERM every live cluster is torn down
// (asynchronously, then the process exits 128+signal), and on any process exit, including a crash,
// whatever is still up is removed synchronously.

import { constants } from 'node:os';

export interface Guarded {
  /** full asynchronous teardown */
  down(): Promise<unknown>;
  /** last-resort synchronous teardown (runs inside the 'exit' event) */
  teardownSync(): void;
}

const live = new Set<Guarded>();
const withSignals = new Set<Guarded>();
let installed = false;
let signalled = false;

function onExit(): void {
  for (const c of live) c.teardownSync();
  live.clear();
}

function onSignal(sig: NodeJS.Signals): void {
  if (signalled) return;
  signalled = true;
  process.stderr.write(`\n${sig}: tearing down the simulated cluster…\n`);
  const all = [...withSignals];
  const hard = setTimeout(() => process.exit(128 + (constants.signals[sig] ?? 0)), 30_000);
  hard.unref();
  void Promise.allSettled(all.map((c) => c.down())).then(() => process.exit(128 + (constants.signals[sig] ?? 0)));
}

const onInt = (): void => onSignal('SIGINT');
const onTerm = (): void => onSignal('SIGTERM');

function sync(): void {
  const wantExit = live.size > 0;
  const wantSignals = withSignals.size > 0;
  if (wantExit && !installed) { process.on('exit', onExit); installed = true; }
  if (!wantExit && installed) { process.off('exit', onExit); installed = false; }
  if (wantSignals && process.listeners('SIGINT').indexOf(onInt) < 0) { process.on('SIGINT', onInt); process.on('SIGTERM', onTerm); }
  if (!wantSignals) { process.off('SIGINT', onInt); process.off('SIGTERM', onTerm); }
}

/** Registers a live cluster; `signals` also makes SIGINT/SIGTERM tear it down and exit. */
export function guard(c: Guarded, signals: boolean): void {
  live.add(c);
  if (signals) withSignals.add(c);
  sync();
}

/** Turns the SIGINT/SIGTERM teardown on or off for one cluster (the exit safety net stays). */
export function guardSignals(c: Guarded, signals: boolean): void {
  if (!live.has(c)) return;
  if (signals) withSignals.add(c); else withSignals.delete(c);
  sync();
}

export function unguard(c: Guarded): void {
  live.delete(c);
  withSignals.delete(c);
  sync();
}
