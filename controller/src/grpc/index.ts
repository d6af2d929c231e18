// Public surface of grpc/: the config, CA and telemetry protocols (loaded from proto/ at run time) and the config wire ⇄ domain boundary.
export { ConfigServiceClient, configServiceDefinition, grpc, loadService } from './proto.js';
export { toWire, fromWire } from './wire.js';
export { TelemetryServiceClient, telemetryServiceDefinition } from './telemetry.js';
export { CertificateServiceClient, certificateServiceDefinition, type SignRequestWire, type SignResponseWire } from './ca.js';
