// Loads proto/nodemesh/telemetry/v1/telemetry.proto at runtime (as proto.ts does for the config
// protocol): the agents' report stream (counters, pod state, tap records) to the controller.

import * as loader from '@grpc/proto-loader';
import { grpc } from './proto.js';
import { repoPath } from '../../../common/paths.js';

const PROTO = repoPath('proto/nodemesh/telemetry/v1/telemetry.proto');

const def = loader.loadSync(PROTO, { keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true });
const pkg = grpc.loadPackageDefinition(def) as unknown as {
  nodemesh: { telemetry: { v1: { TelemetryService: grpc.ServiceClientConstructor } } };
};

export const TelemetryServiceClient = pkg.nodemesh.telemetry.v1.TelemetryService;
export const telemetryServiceDefinition = TelemetryServiceClient.service;
