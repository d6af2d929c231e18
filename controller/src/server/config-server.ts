// The controller's gRPC config service (port 15012): authenticates each agent's node, sends its
// full view, then fans out per-node deltas of every model change; records ACKs (push latency) and
// NACKs (after which that agent gets a full view again). Garbage on a stream closes that stream only.

import type { Logger } from 'pino';
import { MeshError } from '../../../common/errors.js';
import { configServiceDefinition, grpc, toWire } from '../grpc/index.js';
import { ConfigModel, type ConfigUpdate, type ModelDelta } from '../views/index.js';
import type { NodeAuth } from './auth.js';
import type { ControllerMetrics } from './metrics.js';

type Stream = grpc.ServerDuplexStream<Record<string, unknown>, Record<string, unknown>>;

interface AgentConn {
  readonly node: string;
  readonly stream: Stream;
  readonly since: number;
  acked: number;
  nacks: number;
  needsFull: boolean;
  /** version → time sent, for push latency */
  readonly sent: Map<number, number>;
}

export interface AgentInfo { node: string; peer: string; acked: number; nacks: number; connectedMs: number }

export class ConfigServer {
  readonly #model: ConfigModel;
  readonly #auth: NodeAuth;
  readonly #metrics: ControllerMetrics;
  readonly #log: Logger;
  readonly #server = new grpc.Server({ 'grpc.keepalive_time_ms': 10_000, 'grpc.keepalive_timeout_ms': 5_000 });
  readonly #agents = new Set<AgentConn>();

  constructor(model: ConfigModel, auth: NodeAuth, metrics: ControllerMetrics, log: Logger) {
    this.#model = model;
    this.#auth = auth;
    this.#metrics = metrics;
    this.#log = log;
    this.#server.addService(configServiceDefinition, { stream: (s: Stream) => this.#onStream(s) });
  }

  /** Serves another gRPC service on the same server and port (the CA's CertificateService); before listen(). */
  addService(definition: grpc.ServiceDefinition, implementation: grpc.UntypedServiceImplementation): void {
    this.#server.addService(definition, implementation);
  }

  /** Binds host:port (0 = any free port); returns the bound port. */
  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, bound) => {
        if (err) reject(new MeshError('MESH_ERR_LISTEN', `controller cannot listen on ${host}:${port}: ${err.message}; is another controller running?`));
        else resolve(bound);
      });
    });
  }

  agents(): AgentInfo[] {
    return [...this.#agents].map((a) => ({ node: a.node, peer: a.stream.getPeer(), acked: a.acked, nacks: a.nacks, connectedMs: Date.now() - a.since }));
  }

  /** Sends each connected agent its part of a model change. */
  publish(delta: ModelDelta): void {
    for (const a of this.#agents) {
      const u = a.needsFull ? this.#model.fullUpdate(a.node) : ConfigModel.forNode(delta, a.node);
      if (u) this.#send(a, u);
    }
  }

  #send(a: AgentConn, u: ConfigUpdate): void {
    const now = Date.now();
    a.sent.set(u.version, now);
    if (a.sent.size > 64) a.sent.delete(a.sent.keys().next().value!);
    a.needsFull = false;
    a.stream.write(toWire(u, now));
    this.#metrics.pushes.inc({ type: u.full ? 'full' : 'delta' });
  }

  #reject(s: Stream, code: grpc.status, reason: string, message: string): void {
    this.#metrics.rejectedStreams.inc({ reason });
    this.#log.warn({ code: reason === 'auth' ? 'MESH_ERR_AUTH' : 'MESH_ERR_CONFIG', peer: s.getPeer() }, message);
    s.emit('error', { code, details: message });
    s.destroy();
  }

  #onStream(s: Stream): void {
    let conn: AgentConn | undefined;
    let hello = false;
    const drop = (): void => {
      if (conn && this.#agents.delete(conn)) {
        this.#metrics.connected.set(this.#agents.size);
        this.#log.info({ node: conn.node }, 'agent disconnected');
      }
    };
    s.on('data', (m: Record<string, unknown>) => {
      try {
        if (!hello) {
          hello = true;
          const h = m.hello as Record<string, unknown> | undefined;
          if (m.kind !== 'hello' || !h || typeof h.node !== 'string' || h.node === '') {
            this.#reject(s, grpc.status.INVALID_ARGUMENT, 'protocol', 'the first message must be a Hello naming the node');
            return;
          }
          const node = h.node;
          this.#auth.verify(node, String(h.token ?? '')).then(() => {
            if (s.destroyed || s.cancelled) return;
            conn = { node, stream: s, since: Date.now(), acked: 0, nacks: 0, needsFull: false, sent: new Map() };
            this.#agents.add(conn);
            this.#metrics.connected.set(this.#agents.size);
            this.#log.info({ node, peer: s.getPeer(), lastVersion: h.lastVersion }, 'agent connected');
            this.#send(conn, this.#model.fullUpdate(node));
          }, (e: unknown) => this.#reject(s, grpc.status.PERMISSION_DENIED, 'auth', (e as Error).message));
          return;
        }
        if (!conn) return; // still authenticating
        if (m.kind === 'ack') {
          const v = Number((m.ack as Record<string, unknown>).version);
          conn.acked = Math.max(conn.acked, v);
          const t = conn.sent.get(v);
          if (t !== undefined) { this.#metrics.pushLatency.observe((Date.now() - t) / 1000); conn.sent.delete(v); }
        } else if (m.kind === 'nack') {
          const n = m.nack as Record<string, unknown>;
          conn.nacks++;
          conn.needsFull = true;
          this.#metrics.nacks.inc();
          this.#log.warn({ node: conn.node, version: n.version, code: 'MESH_ERR_CONFIG' }, `agent rejected config: ${String(n.reason)}`);
        } else {
          this.#reject(s, grpc.status.INVALID_ARGUMENT, 'protocol', `unexpected message from node ${conn.node}`);
        }
      } catch (e) {
        this.#reject(s, grpc.status.INTERNAL, 'protocol', `stream error: ${(e as Error).message}`);
      }
    });
    s.on('error', drop);
    s.on('end', () => { drop(); s.end(); });
    s.on('close', drop);
    s.on('cancelled', drop);
  }

  close(): Promise<void> {
    for (const a of this.#agents) a.stream.end();
    return new Promise((resolve) => {
      const t = setTimeout(() => { this.#server.forceShutdown(); resolve(); }, 1000);
      this.#server.tryShutdown(() => { clearTimeout(t); resolve(); });
    });
  }
}
