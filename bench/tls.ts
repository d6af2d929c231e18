// Certificates for the HAProxy-TLS contender, made fresh per run in the bench's temp dir with the
// openssl binary: a P-256 CA and one P-256 leaf per node (serverAuth + clientAuth, DNS SAN = node
// name), each leaf written as cert + key in one PEM file as HAProxy wants it. Nothing is kept.

import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface TlsMaterial {
  /** the CA certificate (PEM) */
  readonly caPem: string;
  /** node name → PEM file holding its certificate and then its private key */
  readonly certKeyPem: Readonly<Record<string, string>>;
}

function openssl(args: readonly string[]): void {
  try {
    execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = (e as { stderr?: Buffer }).stderr?.toString().trim() ?? '';
    throw new Error(`openssl ${args[0]} failed: ${err || (e as Error).message}`);
  }
}

/** The leaf extensions: an end entity for both TLS roles, named after its node. */
export function leafExtensions(name: string): string {
  if (!/^[a-z0-9][a-z0-9.-]*$/.test(name)) throw new RangeError(`certificate name "${name}" must be a DNS label`);
  return [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature',
    'extendedKeyUsage=serverAuth,clientAuth',
    `subjectAltName=DNS:${name}`,
    '',
  ].join('\n');
}

/** Generates the CA and one leaf per name under dir (valid for 2 days). */
export function makeTlsMaterial(dir: string, names: readonly string[]): TlsMaterial {
  const f = (n: string): string => path.join(dir, n);
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', f('bench-ca.key')]);
  openssl(['req', '-x509', '-new', '-key', f('bench-ca.key'), '-sha256', '-days', '2', '-subj', '/CN=nodemesh bench CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign', '-out', f('bench-ca.crt')]);
  const certKeyPem: Record<string, string> = {};
  for (const name of names) {
    writeFileSync(f(`${name}.ext`), leafExtensions(name));
    openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', f(`${name}.key`)]);
    openssl(['req', '-new', '-key', f(`${name}.key`), '-subj', `/CN=${name}`, '-out', f(`${name}.csr`)]);
    openssl(['x509', '-req', '-in', f(`${name}.csr`), '-CA', f('bench-ca.crt'), '-CAkey', f('bench-ca.key'), '-set_serial', String(Date.now() + names.indexOf(name)),
      '-days', '2', '-sha256', '-extfile', f(`${name}.ext`), '-out', f(`${name}.crt`)]);
    certKeyPem[name] = f(`${name}.pem`);
    writeFileSync(certKeyPem[name], readFileSync(f(`${name}.crt`), 'utf8') + readFileSync(f(`${name}.key`), 'utf8'), { mode: 0o600 });
  }
  return { caPem: f('bench-ca.crt'), certKeyPem };
}
