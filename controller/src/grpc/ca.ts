// The CA protocol (proto/nodemesh/ca/v1/ca.proto, loaded at run time by loadService): the
// CertificateService definition and client constructor, and its messages as decoded. Here in grpc/,
// not in ca/, so an agent can ask for certificates without loading the CA's x509 code.

import { loadService } from './proto.js';

export const CertificateServiceClient = loadService('nodemesh/ca/v1/ca.proto', 'nodemesh.ca.v1.CertificateService', process.env.NODEMESH_CA_PROTO);
export const certificateServiceDefinition = CertificateServiceClient.service;

/** SignRequest / SignResponse as @grpc/proto-loader decodes them (camelCase). */
export interface SignRequestWire { node: string; token: string; identity: string; csrPem: string }
export interface SignResponseWire { certChainPem: string[]; trustAnchorsPem: string[]; notAfterMs: number; serial: string }
