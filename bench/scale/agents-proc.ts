// Child process of the scale benchmark: a group of agents, each a real ControllerFeed (gRPC stream,
// Hello with its node token, ACK per version) applying updates with applyUpdate into its own
// NodeConfig. Stamps when each full view and each delta has been applied, on the shared clock.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { ControllerFeed } from '../../agent/src/config/index.js';
import { applyUpdate, emptyConfig, type ConfigUpdate, type NodeConfig } from '../../controller/src/views/index.js';
import { encodeUpdate } from './codec.js';
import { clock, exitWithParent, toParent, usage, type AgentsCmd, type DeltaReport, type FullReport, type NodeCred } from './protocol.js';

const silent = pino({ level: 'silent' });
const EMPTY = emptyConfig();

let address = '';
let cache = false;
let creds: readonly NodeCred[] = [];
let stateRoot: string | undefined;
const agents: SimAgent[] = [];

const pendingFull: FullReport[] = [];
const pendingDeltas: { report: Omit<DeltaReport, 'bytes'>; update: ConfigUpdate }[] = [];
let flushQueued = false;
const appliedPerVersion = new Map<number, number>();

function flush(): void {
  flushQueued = false;
  const deltas = pendingDeltas.splice(0).map(({ report, update }) => ({ ...report, bytes: encodeUpdate(update).length }));
  toParent({ kind: 'reports', full: pendingFull.splice(0), deltas });
}
function queueFlush(): void {
  if (!flushQueued) { flushQueued = true; setImmediate(flush); }
}

class SimAgent {
  cfg: NodeConfig | undefined;
  readonly feed: ControllerFeed;
  tStart = 0;
  onFull: ((u: ConfigUpdate, applyMs: number) => void) | undefined;

  constructor(readonly cred: NodeCred, stateDir: string) {
    // without the cache the feed still writes its file after each ACK, but an empty one: 25 agents
    // share this process, and their full-config JSON writes would queue behind each other
    this.feed = new ControllerFeed({
      address, node: cred.node, token: cred.token, stateDir, log: silent,
      current: () => (cache && this.cfg ? this.cfg : EMPTY), backoffMs: { min: 100, max: 1000 },
    });
  }

  start(): void {
    this.tStart = clock();
    this.feed.start((u) => this.#apply(u)).catch((e: unknown) => toParent({ kind: 'error', message: String(e) }));
  }

  #apply(u: ConfigUpdate): void {
    const a = clock();
    this.cfg = applyUpdate(this.cfg, u);
    const t = clock();
    if (u.full) this.onFull?.(u, t - a);
    else {
      const order = appliedPerVersion.get(u.version) ?? 0;
      appliedPerVersion.set(u.version, order + 1);
      pendingDeltas.push({ report: { node: this.cred.node, version: u.version, tApplied: t, applyMs: t - a, order }, update: u });
    }
    queueFlush();
  }
}

function connectAll(): void {
  for (const cred of creds) {
    const a = new SimAgent(cred, path.join(stateRoot!, cred.node));
    let first = true;
    a.onFull = (_u, applyMs) => {
      if (!first) return;
      first = false;
      pendingFull.push({ node: cred.node, tStart: a.tStart, tApplied: clock(), applyMs });
    };
    agents.push(a);
  }
  for (const a of agents) a.start();
}

/** One extra agent connecting alone: connect → full view applied, then it leaves. */
function probe(cred: NodeCred): void {
  const dir = path.join(stateRoot!, `probe-${cred.node}`);
  const a = new SimAgent(cred, dir);
  a.onFull = (u) => {
    const ms = clock() - a.tStart;
    a.onFull = undefined;
    toParent({ kind: 'probed', ms, bytes: encodeUpdate(u).length });
    // after the feed's ACK and cache write for this update
    setImmediate(() => { a.feed.close(); rmSync(dir, { recursive: true, force: true }); });
  };
  a.start();
}

function stop(): void {
  for (const a of agents) a.feed.close();
  if (stateRoot) rmSync(stateRoot, { recursive: true, force: true });
  stateRoot = undefined;
}
exitWithParent(stop);

process.on('message', (m: AgentsCmd) => {
  switch (m.cmd) {
    case 'init':
      ({ address, cache, creds } = m);
      stateRoot = mkdtempSync(path.join(tmpdir(), 'nm-scale-agents-'));
      toParent({ kind: 'ready' });
      break;
    case 'connect': connectAll(); break;
    case 'probe': probe(m.cred); break;
    case 'usage': toParent({ kind: 'usage', usage: usage(), agents: agents.length }); break;
    case 'ping': toParent({ kind: 'pong', remote: clock() }); break;
    case 'stop': stop(); process.exit(0);
  }
});
