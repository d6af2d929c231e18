// A fake clock for the identity manager's tests: timers fire, in time order, only when the test
// advances time; between steps it yields to the event loop so async work started by a timer runs.

import type { Clock } from '../../../agent/src/identity/index.js';

interface Timer { readonly id: number; readonly at: number; readonly f: () => void }

export class FakeClock implements Clock {
  #now: number;
  #timers: Timer[] = [];
  #next = 1;

  constructor(start: number) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(f: () => void, ms: number): unknown {
    const t = { id: this.#next++, at: this.#now + Math.max(0, ms), f };
    this.#timers.push(t);
    return t.id;
  }

  clearTimeout(handle: unknown): void {
    this.#timers = this.#timers.filter((t) => t.id !== handle);
  }

  /** Moves time forward by `ms`, firing every timer due on the way. */
  async advance(ms: number): Promise<void> {
    const end = this.#now + ms;
    for (;;) {
      const due = this.#timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.#timers = this.#timers.filter((t) => t !== due);
      this.#now = Math.max(this.#now, due.at);
      due.f();
      await new Promise((r) => setImmediate(r));
    }
    this.#now = end;
  }
}
