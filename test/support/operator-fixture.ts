import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createOperatorApi } from '../../src/api/operator/index.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { hashPassword, parseScryptHash } from '../../src/identity/password-hash.ts';
import { createFakeApprovals, type FakeApprovals } from './fake-approvals.ts';

export interface TestApprover {
  readonly name: string;
  readonly password: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** The private key as the CLI and the page read it: a PKCS8 PEM file, mode 0600. */
  readonly keyFile: string;
}

export interface OperatorFixture {
  readonly url: string;
  readonly app: FastifyInstance;
  readonly approvals: FakeApprovals;
  readonly approvers: Record<string, TestApprover>;
  readonly dir: string;
  close(): Promise<void>;
}

/** The operator listener on a real loopback socket (port 0), over a fake approval service. */
export async function startOperatorFixture(names: string[] = ['ana', 'ben'], options: { loginAttemptsPerMinute?: number } = {}): Promise<OperatorFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-operator-'));
  const approvers: Record<string, TestApprover> = {};
  const configured = [];
  for (const name of names) {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const keyFile = join(dir, `${name}.key`);
    writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), { mode: 0o600 });
    const password = `pw-${name}-${Math.random().toString(36).slice(2)}`;
    approvers[name] = { name, password, privateKey, publicKey, keyFile };
    configured.push({ name, publicKey, password: parseScryptHash(await hashPassword(password), name) });
  }
  const approvals = createFakeApprovals();
  const app = createOperatorApi({ approvals, approvers: configured, logger: silentLogger, host: '127.0.0.1', ...options });
  let url: string;
  try {
    url = await app.listen({ host: '127.0.0.1', port: 0 });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    url,
    app,
    approvals,
    approvers,
    dir,
    async close() {
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
