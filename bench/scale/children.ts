// The scale benchmark's child processes as seen by the orchestrator: forked Node processes with an
// IPC channel, awaitable replies, and a registry so every child is killed by its pid when the run
// ends, fails or is interrupted.

import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';

const live = new Set<ChildProcess>();

export class Child<Cmd, Reply extends { readonly kind: string }> extends EventEmitter {
  readonly name: string;
  readonly proc: ChildProcess;
  #exited = false;

  constructor(name: string, script: string, execArgv: readonly string[] = []) {
    super();
    this.name = name;
    const file = fileURLToPath(new URL(script, import.meta.url));
    this.proc = fork(file, [], { execArgv: [...execArgv], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    live.add(this.proc);
    this.proc.on('message', (m: Reply) => {
      if (m.kind === 'error') this.emit('failure', new Error(`${name}: ${(m as unknown as { message: string }).message}`));
      else this.emit('reply', m);
    });
    this.proc.on('exit', (code, signal) => {
      this.#exited = true;
      live.delete(this.proc);
      this.emit('failure', new Error(`${name} exited (${signal ?? code})`));
    });
  }

  get pid(): number {
    return this.proc.pid ?? -1;
  }

  send(m: Cmd): void {
    if (!this.#exited) this.proc.send(m as object);
  }

  /** The next reply matching `pred`; rejects on a child error, its exit, or after `ms`. */
  next<R extends Reply>(pred: (r: Reply) => r is R, ms: number, what: string): Promise<R>;
  next(pred: (r: Reply) => boolean, ms: number, what: string): Promise<Reply>;
  next(pred: (r: Reply) => boolean, ms: number, what: string): Promise<Reply> {
    return waitFor(this, (r: Reply) => (pred(r) ? r : undefined), ms, `${this.name}: ${what}`);
  }

  /** Asks to stop, then kills it if it has not exited within `ms`. */
  async stop(stopCmd: Cmd, ms = 5000): Promise<void> {
    if (this.#exited) return;
    const gone = new Promise<void>((resolve) => this.proc.once('exit', () => resolve()));
    this.send(stopCmd);
    const t = setTimeout(() => this.proc.kill('SIGKILL'), ms);
    await gone;
    clearTimeout(t);
  }
}

/** Resolves with the first non-undefined result of `check` over the emitter's replies. */
export function waitFor<R, T>(e: EventEmitter, check: (r: R) => T | undefined, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const done = (): void => { clearTimeout(timer); e.off('reply', onReply); e.off('failure', onFail); };
    const onReply = (r: R): void => {
      const v = check(r);
      if (v !== undefined) { done(); resolve(v); }
    };
    const onFail = (err: Error): void => { done(); reject(err); };
    const timer = setTimeout(() => { done(); reject(new Error(`timed out after ${ms} ms waiting for ${what}`)); }, ms);
    e.on('reply', onReply);
    e.on('failure', onFail);
  });
}

/** Resolves once `cond` holds: checked now and after every reply or failure-free event. */
export function until(e: EventEmitter, cond: () => boolean, ms: number, what: string): Promise<void> {
  if (cond()) return Promise.resolve();
  return waitFor(e, () => (cond() ? true : undefined), ms, what).then(() => undefined);
}

/** Kills every child still running (by pid, SIGKILL). */
export function killAll(): void {
  for (const p of live) {
    try { p.kill('SIGKILL'); } catch { /* already gone */ }
  }
  live.clear();
}

process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => { killAll(); process.exit(130); });
