// The controller's Prometheus metrics (admin port 15014): connected agents, pushes, NACKs, push
// latency (sent → ACK), rejected streams and objects, model version.

import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { registerProcessMetrics } from '../../../common/process-metrics.js';

export class ControllerMetrics {
  readonly registry = new Registry();
  readonly connected: Gauge<string>;
  readonly pushes: Counter<string>;
  readonly nacks: Counter<string>;
  readonly pushLatency: Histogram<string>;
  readonly rejectedStreams: Counter<string>;
  readonly objectsRejected: Gauge<string>;
  readonly modelVersion: Gauge<string>;

  constructor() {
    registerProcessMetrics(this.registry, 'nodemesh_controller_');
    const r = [this.registry];
    this.connected = new Gauge({ name: 'nodemesh_controller_connected_agents', help: 'Agents with an authenticated config stream', registers: r });
    this.pushes = new Counter({ name: 'nodemesh_controller_pushes_total', help: 'Config updates sent to agents', labelNames: ['type'], registers: r });
    this.nacks = new Counter({ name: 'nodemesh_controller_nacks_total', help: 'Config updates agents rejected', registers: r });
    this.pushLatency = new Histogram({ name: 'nodemesh_controller_push_latency_seconds', help: 'Time from sending an update to its ACK, seconds', buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 5], registers: r });
    this.rejectedStreams = new Counter({ name: 'nodemesh_controller_rejected_streams_total', help: 'Agent streams closed for bad credentials or protocol errors', labelNames: ['reason'], registers: r });
    this.objectsRejected = new Gauge({ name: 'nodemesh_controller_objects_rejected', help: 'Cluster objects rejected by validation in the latest snapshot', registers: r });
    this.modelVersion = new Gauge({ name: 'nodemesh_controller_model_version', help: 'Current config model version', registers: r });
  }
}
