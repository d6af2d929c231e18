// Loads proto/nodemesh/telemetry/v1/telemetry.proto at runtime (as proto.ts does for the config
// protocol): the agents' report stream (counters, pod state, tap records) to the controller.

import { loadService } from './proto.js';

export const TelemetryServiceClient = loadService('nodemesh/telemetry/v1/telemetry.proto', 'nodemesh.telemetry.v1.TelemetryService');
export const telemetryServiceDefinition = TelemetryServiceClient.service;
