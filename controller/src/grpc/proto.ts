// Loads the gRPC services of proto/ at run time (@grpc/proto-loader: no generated code to keep in
// sync): `loadService` for each protocol (config here, the CA in ca/proto.ts, telemetry in
// telemetry.ts), and the config service's definition and client constructor for both ends.

import * as grpc from '@grpc/grpc-js';
import * as loader from '@grpc/proto-loader';
import { MeshError } from '../../../common/errors.js';
import { repoPath } from '../../../common/paths.js';

const OPTIONS: loader.Options = { keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true };

/** The client constructor of `service` (package-qualified: nodemesh.config.v1.ConfigService) in
 *  the proto file `file` (an absolute path), or `rel` under proto/ of the checkout or image. */
export function loadService(rel: string, service: string, file = repoPath(`proto/${rel}`)): grpc.ServiceClientConstructor {
  let o: unknown = grpc.loadPackageDefinition(loader.loadSync(file, OPTIONS));
  for (const k of service.split('.')) o = (o as Record<string, unknown> | undefined)?.[k];
  if (typeof o !== 'function') throw new MeshError('MESH_ERR_NOT_BUILT', `${file} defines no service ${service}; rebuild or restore proto/`);
  return o as grpc.ServiceClientConstructor;
}

export const ConfigServiceClient = loadService('nodemesh/config/v1/config.proto', 'nodemesh.config.v1.ConfigService', process.env.NODEMESH_PROTO);
export const configServiceDefinition = ConfigServiceClient.service;
export { grpc };
