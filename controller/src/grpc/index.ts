// Public surface of grpc/: the config protocol's definition and its wire ⇄ domain boundary.
export { ConfigServiceClient, configServiceDefinition, grpc, loadService } from './proto.js';
export { toWire, fromWire } from './wire.js';
export { TelemetryServiceClient, telemetryServiceDefinition } from './telemetry.js';
