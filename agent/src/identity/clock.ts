// Time for the identity manager: the real clock, or a test's fake one. Timers longer than Node's
// limit (~24.8 days) are capped; the manager re-evaluates whenever a timer fires, so that is safe.

export interface Clock {
  now(): number;
  setTimeout(f: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (f, ms) => {
    const t = setTimeout(f, Math.max(0, Math.min(ms, MAX_TIMER_MS)));
    t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};
