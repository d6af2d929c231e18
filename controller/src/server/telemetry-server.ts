// The controller's side of TelemetryService.Report (port 15012, beside the config stream): each
// agent authenticates like the config stream (first message: node and token), then its snapshots
// go to the ReportStore and its tap records to the TapHub; the hub's tap commands go back down.
// A malformed message drops that message (counted in the log), never the controller.

import type { Logger } from 'pino';
import { grpc } from '../grpc/index.js';
import { ReportStore, TapHub, snapshotFromWire, type TapCommand } from '../insight/index.js';
import type { NodeAuth } from './auth.js';

type Stream = grpc.ServerDuplexStream<Record<string, unknown>, Record<string, unknown>>;

export class TelemetryServer {
  readonly store = new ReportStore();
  readonly hub = new TapHub();
  readonly #auth: NodeAuth;
  readonly #log: Logger;
  readonly #streams = new Set<Stream>();

  constructor(auth: NodeAuth, log: Logger) {
    this.#auth = auth;
    this.#log = log;
  }

  handlers(): grpc.UntypedServiceImplementation {
    return { report: (s: Stream) => this.#onStream(s) };
  }

  #onStream(s: Stream): void {
    let node: string | undefined;
    let hello = false;
    let detach: (() => void) | undefined;
    this.#streams.add(s);
    const drop = (): void => {
      this.#streams.delete(s);
      detach?.();
      detach = undefined;
      if (node) this.store.setConnected(node, false);
    };
    s.on('data', (m: Record<string, unknown>) => {
      if (!hello) {
        hello = true;
        const h = m.hello as Record<string, unknown> | undefined;
        if (m.kind !== 'hello' || !h || typeof h.node !== 'string' || !h.node) {
          s.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: 'the first message must be a ReportHello naming the node' });
          s.destroy();
          return;
        }
        const name = h.node;
        this.#auth.verify(name, String(h.token ?? '')).then(() => {
          if (s.destroyed || s.cancelled) return;
          node = name;
          this.store.setConnected(name, true);
          detach = this.hub.attach(name, (c: TapCommand) => { s.write(c as unknown as Record<string, unknown>); });
        }, (e: unknown) => {
          this.#log.warn({ code: 'MESH_ERR_AUTH', peer: s.getPeer() }, `report stream refused: ${(e as Error).message}`);
          s.emit('error', { code: grpc.status.PERMISSION_DENIED, details: (e as Error).message });
          s.destroy();
        });
        return;
      }
      if (!node) return; // still authenticating
      try {
        if (m.kind === 'snapshot') this.store.add(snapshotFromWire(node, m.snapshot as Record<string, unknown>, Date.now()));
        else if (m.kind === 'tap') this.hub.deliver(node, ((m.tap as Record<string, unknown>).events as Record<string, unknown>[] | undefined) ?? []);
      } catch (e) {
        this.#log.warn({ code: (e as { code?: string }).code ?? 'MESH_ERR_PROTOCOL', node }, `report from node ${node} dropped: ${(e as Error).message}`);
      }
    });
    s.on('error', drop);
    s.on('end', () => { drop(); s.end(); });
    s.on('close', drop);
    s.on('cancelled', drop);
  }

  close(): void {
    this.hub.closeAll();
    for (const s of this.#streams) s.end();
  }
}
