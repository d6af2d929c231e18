// Loads proto/nodemesh/ca/v1/ca.proto at runtime (@grpc/proto-loader, as grpc/proto.ts does for
// the config protocol) and exposes the CertificateService definition and client constructor.

import * as loader from '@grpc/proto-loader';
import { grpc } from '../grpc/index.js';
import { repoPath } from '../../../common/paths.js';

const PROTO = repoPath('proto/nodemesh/ca/v1/ca.proto');

const def = loader.loadSync(process.env.NODEMESH_CA_PROTO ?? PROTO, { keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true });
const pkg = grpc.loadPackageDefinition(def) as unknown as {
  nodemesh: { ca: { v1: { CertificateService: grpc.ServiceClientConstructor } } };
};

export const CertificateServiceClient = pkg.nodemesh.ca.v1.CertificateService;
export const certificateServiceDefinition = CertificateServiceClient.service;

/** SignRequest / SignResponse as @grpc/proto-loader decodes them (camelCase). */
export interface SignRequestWire { node: string; token: string; identity: string; csrPem: string }
export interface SignResponseWire { certChainPem: string[]; trustAnchorsPem: string[]; notAfterMs: number; serial: string }
