// Loads proto/nodemesh/config/v1/config.proto at runtime (@grpc/proto-loader: no generated code to
// keep in sync) and exposes the service definition and client constructor to both ends.

import * as grpc from '@grpc/grpc-js';
import * as loader from '@grpc/proto-loader';
import { repoPath } from '../../../common/paths.js';

const PROTO = repoPath('proto/nodemesh/config/v1/config.proto');

const def = loader.loadSync(process.env.NODEMESH_PROTO ?? PROTO, { keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true });
const pkg = grpc.loadPackageDefinition(def) as unknown as {
  nodemesh: { config: { v1: { ConfigService: grpc.ServiceClientConstructor } } };
};

export const ConfigServiceClient = pkg.nodemesh.config.v1.ConfigService;
export const configServiceDefinition = ConfigServiceClient.service;
export { grpc };
