import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Throwaway TLS material for loopback tests and the egress bench: a CA and a
 * server certificate signed by it, made with the openssl CLI once per process
 * in a fresh temporary directory that is removed as soon as the files are read.
 * No key is ever committed: the repository holds no secrets, test keys included.
 */
export interface TestTls {
  /** CA certificate (PEM), to trust in clients. Its key is gone: nothing else can be made to chain to it. */
  readonly ca: Buffer;
  /** Server certificate (PEM) for TEST_TLS_NAMES and 127.0.0.1. */
  readonly cert: Buffer;
  /** Server private key (PEM). */
  readonly key: Buffer;
}

/** Names the server certificate is valid for, besides IP 127.0.0.1. */
export const TEST_TLS_NAMES = ['secure.test', 'api.test', 'echo.test', 'other.test'] as const;

const OPENSSL = 'openssl';
const VALID_DAYS = 2;

let material: TestTls | undefined;

/** The process's TLS material, generated on first use. */
export function testTls(): TestTls {
  material ??= generateTestTls();
  return material;
}

function generateTestTls(): TestTls {
  // mkdtemp creates the directory 0700, so other users cannot read the keys
  // in the moment they exist on disk; the directory is gone before we return.
  const dir = mkdtempSync(join(tmpdir(), 'cordon-tls-'));
  const file = (name: string): string => join(dir, name);
  const san = [...TEST_TLS_NAMES.map((n) => `DNS:${n}`), 'IP:127.0.0.1'].join(', ');
  try {
    // Our own config, so the system's openssl.cnf (its default extensions) cannot change what we make.
    writeFileSync(
      file('openssl.cnf'),
      [
        '[req]',
        'distinguished_name = dn',
        '[dn]',
        '[ca_ext]',
        'basicConstraints = critical, CA:TRUE',
        'keyUsage = critical, keyCertSign',
        'subjectKeyIdentifier = hash',
        '[server_ext]',
        'basicConstraints = CA:FALSE',
        'keyUsage = critical, digitalSignature',
        'extendedKeyUsage = serverAuth',
        `subjectAltName = ${san}`,
        'subjectKeyIdentifier = hash',
        'authorityKeyIdentifier = keyid',
        '',
      ].join('\n'),
    );
    const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
    openssl(['req', '-x509', '-config', file('openssl.cnf'), '-extensions', 'ca_ext', ...newKey, '-keyout', file('ca.key'), '-out', file('ca.pem'), '-days', String(VALID_DAYS), '-subj', '/CN=Cordon egress test CA']);
    openssl(['req', '-new', '-config', file('openssl.cnf'), ...newKey, '-keyout', file('server.key'), '-out', file('server.csr'), '-subj', `/CN=${TEST_TLS_NAMES[0]}`]);
    openssl(['x509', '-req', '-in', file('server.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-set_serial', `0x${randomBytes(8).toString('hex')}`, '-days', String(VALID_DAYS), '-extfile', file('openssl.cnf'), '-extensions', 'server_ext', '-out', file('server.pem')]);
    return { ca: readFileSync(file('ca.pem')), cert: readFileSync(file('server.pem')), key: readFileSync(file('server.key')) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function openssl(args: string[]): void {
  try {
    execFileSync(OPENSSL, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: Buffer };
    if (e.code === 'ENOENT') throw new Error('test TLS: the openssl CLI is not on PATH; install it (Debian: apt-get install openssl)', { cause: err });
    throw new Error(`test TLS: openssl ${args[0]} failed: ${e.stderr?.toString().trim() ?? e.message}`, { cause: err });
  }
}
