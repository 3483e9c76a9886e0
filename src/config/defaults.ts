import { fileURLToPath } from 'node:url';
import type { CordonConfig } from './config-schema.ts';

/**
 * The embedded default: what `cordon` runs with when no config file is found.
 * It listens on loopback only and knows one agent, `local`, whose key pair is
 * created under the data directory on first run.
 */
/** The policies shipped with Cordon, used when no config names others. */
export const BUNDLED_POLICY_DIR = fileURLToPath(new URL('../../policies', import.meta.url));
export const BUNDLED_EGRESS_POLICY_DIR = fileURLToPath(new URL('../../egress-policies', import.meta.url));

export const DEFAULT_CONFIG: Omit<CordonConfig, 'configFile' | 'dataDir'> = {
  policyDir: BUNDLED_POLICY_DIR,
  server: { host: '127.0.0.1', port: 7070, bodyLimitBytes: 1024 * 1024 },
  auth: {
    audience: 'cordon',
    maxTokenLifetimeSec: 300,
    clockToleranceSec: 30,
    issuer: 'cordon',
    issuedTokenLifetimeSec: 900,
    assertionMaxLifetimeSec: 60,
    tokenEndpointUrls: [],
    userIssuers: [],
    localUsers: true,
  },
  log: { level: 'info' },
  sandbox: {
    isolate: {
      maxConcurrent: 16,
      maxQueued: 256,
      defaultMemoryMb: 64,
      maxMemoryMb: 512,
      defaultTimeoutMs: 5000,
      maxTimeoutMs: 60_000,
      outputLimitBytes: 64 * 1024,
      resultLimitBytes: 1024 * 1024,
      warmPoolSize: 2,
    },
  },
  // The shipped policy `local-code-exec-javascript` lets `local` run JavaScript and nothing else.
  // No tool has egress until the config gives it a policy: deny by default.
  egress: {
    policyDir: BUNDLED_EGRESS_POLICY_DIR,
    toolPolicies: {},
    secrets: {},
    trustDomain: 'cordon.local',
    maxResponseBytes: 5 * 1024 * 1024,
    fetchTimeoutMs: 30_000,
  },
  agents: [{ id: 'local', description: 'The developer on this machine.', createKey: true }],
  users: [],
};

export const DEFAULT_CONFIG_FILE_NAME = 'cordon.yaml';
export const DEFAULT_DATA_DIR_NAME = '.cordon';
/** Config files larger than this are refused before parsing. */
export const MAX_CONFIG_FILE_BYTES = 1024 * 1024;
