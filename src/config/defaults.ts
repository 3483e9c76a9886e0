import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { CordonConfig } from './config-schema.ts';

/**
 * The embedded default: what `cordon` runs with when no config file is found.
 * It listens on loopback only and knows one agent, `local`, whose key pair is
 * created under the data directory on first run.
 */
/** The policies shipped with Cordon, used when no config names others. */
export const BUNDLED_POLICY_DIR = fileURLToPath(new URL('../../policies', import.meta.url));
export const BUNDLED_SANDBOX_PROFILE_DIR = fileURLToPath(new URL('../../sandboxes', import.meta.url));
export const BUNDLED_EGRESS_POLICY_DIR = fileURLToPath(new URL('../../egress-policies', import.meta.url));

export const DEFAULT_CONFIG: Omit<CordonConfig, 'configFile' | 'dataDir'> = {
  policyDir: BUNDLED_POLICY_DIR,
  server: { host: '127.0.0.1', port: 7070, bodyLimitBytes: 1024 * 1024, unreadBodyDiscardBytes: 16 * 1024 * 1024, unreadBodyDiscardMs: 10_000 },
  // Loopback only by default: the operator channel is for people on this machine (or an SSH tunnel).
  operator: { enabled: true, host: '127.0.0.1', port: 7071 },
  audit: { repeatWindowMs: 60_000, repeatMaxKeys: 1024, origin: 'cordon.local/audit', checkpointEvery: 1000, checkpointIntervalMs: 10_000, checkpointMirror: null, recordInput: false, durability: 'durable', rotateBytes: 64 * 1024 * 1024 },
  auth: {
    audience: 'cordon',
    maxTokenLifetimeSec: 300,
    clockToleranceSec: 30,
    issuer: 'cordon',
    issuedTokenLifetimeSec: 900,
    assertionMaxLifetimeSec: 60,
    tokenEndpointUrls: [],
    userIssuers: [],
    localUsers: { enabled: true, actors: [] },
  },
  // The per-call line repeats what the audit log holds; on when a log pipeline is where operators look.
  log: { level: 'info', invocations: false },
  // Counts and latencies only, no principal data (docs/metrics.md): served like any scrape target.
  metrics: { enabled: true },
  sandbox: {
    profileDir: BUNDLED_SANDBOX_PROFILE_DIR,
    defaultProfile: 'js',
    maxSessions: 10_000,
    maxSessionsPerAgent: 500,
    isolate: {
      hosts: Math.max(1, availableParallelism()),
      maxHosts: 64,
      maxHostsPerAgent: Math.max(1, availableParallelism()),
      hostMemoryMb: 1024,
      memoryCap: 'auto',
      warmIsolatesPerHost: 2,
      idleHostMs: 300_000,
      maxConcurrent: 16,
      maxQueued: 256,
      // maxConcurrentPerAgent and maxQueuedPerAgent are left out on purpose: unset, each is half
      // of its global limit (at least 1), so they follow an operator's maxConcurrent/maxQueued.
    },
    // A container call holds a process tree of its own; two cores run a few at once.
    // Session containers hold memory for their life: a few dozen on one machine, a quarter per agent.
    container: { dockerHost: null, maxConcurrent: 4, maxQueued: 64, startTimeoutMs: 20_000, gcIntervalMs: 60_000, maxSessions: 32, maxSessionsPerAgent: 8 },
  },
  // Call sessions (chain-rule facts). One agent gets a tenth of the table: ten busy agents
  // fill it, one cannot.
  sessions: { maxOpen: 100_000, maxOpenPerAgent: 10_000, idleTtlMs: 3_600_000 },
  // Call starts per agent, allowed or denied: above what two cores run (≈ 250 isolate calls/s),
  // and low enough that one agent's denied calls cannot flood the audit log.
  calls: { perSecondPerAgent: 300, burstPerAgent: 600 },
  // The shipped policies `local-code-exec-javascript` and `local-code-exec-container` let `local` run JavaScript, Python and sh, and nothing else.
  // No tool has egress until the config gives it a policy: deny by default.
  egress: {
    policyDir: BUNDLED_EGRESS_POLICY_DIR,
    toolPolicies: {},
    secrets: {},
    trustDomain: 'cordon.local',
    maxResponseBytes: 5 * 1024 * 1024,
    fetchTimeoutMs: 30_000,
    // Per sandbox, over every channel: a per-call sandbox's share lasts one call, a session
    // sandbox's its lifetime.
    sandboxLimits: { maxRequests: 1000, maxTotalBytes: 4 * 1024 ** 3, maxConcurrentConnections: 64, maxRequestsPerSecond: 50, requestBurst: 200 },
  },
  agents: [{ id: 'local', description: 'The developer on this machine.', createKey: true }],
  users: [],
  // No approvers until an operator registers one: a call that needs approval then waits out its
  // TTL and expires. Caps keep a looping agent from filling the store.
  approvals: { ttlMs: 15 * 60_000, maxPending: 1000, maxPendingPerAgent: 100, maxWaitMs: 30_000, approvers: [] },
};

export const DEFAULT_CONFIG_FILE_NAME = 'cordon.yaml';
export const DEFAULT_DATA_DIR_NAME = '.cordon';
/** Config files larger than this are refused before parsing. */
export const MAX_CONFIG_FILE_BYTES = 1024 * 1024;
