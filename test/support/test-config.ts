import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { CordonConfig } from '../../src/config/config-schema.ts';
import { loadConfig } from '../../src/config/load-config.ts';

export interface TestAgent {
  id: string;
  groups: string[];
  privateKey: KeyObject;
  publicKeyPem: string;
}

/** A key pair made at test time; no key ever lives in the repository. */
export function makeTestAgent(id: string, groups: string[] = ['coding']): TestAgent {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { id, groups, privateKey, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

export interface TestEnv {
  dir: string;
  configPath: string;
  config: CordonConfig;
  agents: Record<string, TestAgent>;
  cleanup(): void;
}

/** Writes a cordon.yaml into a fresh temporary directory and loads it the way the CLI does. */
export function makeTestEnv(agents: TestAgent[], overrides: Record<string, unknown> = {}): TestEnv {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-test-'));
  const configPath = join(dir, 'cordon.yaml');
  const doc = {
    dataDir: 'data',
    server: { host: '127.0.0.1', port: 0 },
    log: { level: 'silent' },
    ...overrides,
    agents: agents.map((a) => ({ id: a.id, publicKey: a.publicKeyPem, groups: a.groups })),
  };
  writeFileSync(configPath, stringify(doc));
  const config = loadConfig({ flags: { configPath }, env: {}, cwd: dir });
  return {
    dir,
    configPath,
    config,
    agents: Object.fromEntries(agents.map((a) => [a.id, a])),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
