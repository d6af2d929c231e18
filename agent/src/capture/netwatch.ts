// Event-driven capture resync: `ip -o monitor link address route` in the agent's network namespace
// blocks on a netlink subscription and prints a line per kernel change (a pod's veth or route
// appears, an address moves); each burst of lines becomes one debounced onChange call. Restarts
// the monitor if it dies; the agent keeps a slow safety resync besides.

import { spawn, type ChildProcess } from 'node:child_process';

export interface NetWatchOptions {
  /** called once per burst of kernel changes, after `debounceMs` of quiet */
  readonly onChange: () => void;
  readonly debounceMs?: number;
  /** told when the monitor could not start or died (it is restarted after `restartMs`) */
  readonly onError?: (message: string) => void;
  readonly restartMs?: number;
}

export class NetWatch {
  readonly #o: NetWatchOptions;
  #child: ChildProcess | undefined;
  #debounce: NodeJS.Timeout | undefined;
  #restart: NodeJS.Timeout | undefined;
  #closed = false;
  /** no setpriv on this host: run ip directly */
  #plain = false;

  constructor(o: NetWatchOptions) {
    this.#o = o;
    this.#start();
  }

  /** pid of the `ip monitor` child (for footprint accounting), if running */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  #start(): void {
    if (this.#closed) return;
    const ipArgs = ['ip', '-o', 'monitor', 'link', 'address', 'route'];
    // setpriv (util-linux) sets PR_SET_PDEATHSIG and execs ip: a SIGKILLed agent leaves no monitor behind
    const argv = this.#plain ? ipArgs : ['setpriv', '--pdeathsig', 'SIGTERM', '--', ...ipArgs];
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    let err = '';
    child.stdout.on('data', () => this.#changed());
    child.stderr.setEncoding('utf8').on('data', (d: string) => { err = (err + d).slice(-500); });
    child.on('error', (e) => {
      if (!this.#plain && (e as NodeJS.ErrnoException).code === 'ENOENT') { this.#plain = true; this.#child = undefined; this.#start(); return; }
      this.#died(`ip monitor could not run: ${e.message}; is iproute2 installed?`);
    });
    child.on('exit', (code, sig) => { if (this.#child === child) this.#died(`ip monitor exited (${sig ?? code}) ${err.trim()}`); });
    // whatever changed while no monitor ran is caught by one pass right after (re)start
    this.#changed();
  }

  #died(message: string): void {
    this.#child = undefined;
    if (this.#closed) return;
    this.#o.onError?.(message);
    this.#restart ??= setTimeout(() => { this.#restart = undefined; this.#start(); }, this.#o.restartMs ?? 1000);
  }

  #changed(): void {
    if (this.#closed || this.#debounce) return;
    this.#debounce = setTimeout(() => {
      this.#debounce = undefined;
      if (!this.#closed) this.#o.onChange();
    }, this.#o.debounceMs ?? 50);
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#debounce);
    clearTimeout(this.#restart);
    const c = this.#child;
    this.#child = undefined;
    c?.kill('SIGTERM');
  }
}
