import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { AuditSink } from '../audit/audit-sink.ts';
import { createJsonlAuditLog } from '../audit/jsonl-audit-log.ts';
import type { Logger } from '../core/logger.ts';
import type { CordonConfig } from '../config/config-schema.ts';
import { loadAgentRegistry, type AgentRegistry } from '../identity/agent-registry.ts';
import { CordonError } from '../core/errors.ts';
import { createReplayCache } from '../identity/replay-cache.ts';
import { loadOrCreateSigningKey } from '../identity/signing-keys.ts';
import { createTokenService, type TokenService } from '../identity/token-service.ts';
import { createTokenVerifier } from '../identity/token-verifier.ts';
import { loadUserDirectory, type UserDirectory } from '../identity/user-directory.ts';
import { createUserTokenVerifier, LOCAL_USER_ISSUER } from '../identity/user-token-verifier.ts';
import { createDecisionCache, createPolicyEngine, loadPolicySet, type PolicyEngine } from '../policy/index.ts';
import { createPolicyAuthorizer, createPrincipalResolver } from './policy-authorizer.ts';
import { checkProfileReferences, createIsolateBackend, createSandboxManager, HOST_BASE_MB, loadSandboxProfiles, type IsolateBackend, type SandboxIdentity, type SandboxManager } from '../sandbox/index.ts';
import { BUILTIN_TOOLS } from '../tools/builtin-tools.ts';
import { createToolRegistry } from '../tools/tool-registry.ts';
import { createRunner, type Runner } from './runner.ts';
import { createSessionStore } from './session-store.ts';
import { loadSecrets } from '../config/load-secrets.ts';
import {
  createDirectDialer,
  createEgressGuard,
  createEgressProxy,
  createGuardedFetch,
  createPinnedPools,
  createStaticSecretStore,
  createSystemResolver,
  loadEgressPolicies,
  type Dialer,
  type EgressGuard,
  type EgressPolicy,
  type EgressProxy,
  type Resolver,
  type SandboxChannel,
} from '../egress/index.ts';
import { createRedactor, type Redactor } from './redaction.ts';
import { createEgressAuditAdapter, egressOpener, openProxyChannel, type SandboxEgressDeps } from './sandbox-egress.ts';
import { signSandboxToken } from '../identity/sandbox-token.ts';
import type { Principal } from '../core/principal.ts';
import type { Session } from './session-store.ts';

export interface Runtime {
  readonly config: CordonConfig;
  readonly agents: AgentRegistry;
  readonly users: UserDirectory;
  readonly runner: Runner;
  readonly tokens: TokenService;
  readonly policy: PolicyEngine;
  /** Removes every known secret value; apply it to anything leaving the process. */
  readonly redactor: Redactor;
  readonly egress: {
    readonly guard: EgressGuard;
    readonly policies: ReadonlyMap<string, EgressPolicy>;
    /** The per-sandbox proxy (unix-socket and loopback channels); started by startEgressProxy(). */
    readonly proxy: EgressProxy;
    /** A proxy channel for a sandbox, with the hooks its fetch gets (policy engine, session facts). */
    openChannel(principal: Principal, session: Session, identity: SandboxIdentity): Promise<SandboxChannel> | null;
  };
  readonly sandboxes: { readonly manager: SandboxManager; readonly isolate: IsolateBackend };
  readonly sessions: ReturnType<typeof createSessionStore>;
  startEgressProxy(): Promise<void>;
  /** The longest wall-clock limit any profile allows a call. */
  readonly maxCallMs: number;
  /** Accept assertions addressed to this token-endpoint URL too (the server calls it once it listens). */
  addTokenEndpoint(url: string): void;
  /** A sandbox's own short-lived credential (audience cordon-egress), for channels that need one. */
  sandboxToken(identity: SandboxIdentity): Promise<string>;
  readonly auditPath: string;
  close(): Promise<void>;
}

export interface RuntimeOptions {
  logger: Logger;
  /** Replaces the JSONL audit log under the data directory (tests). */
  audit?: AuditSink;
  /** The process environment, for secrets read from variables (only config/ and cli/ read it). */
  env?: Readonly<Record<string, string | undefined>>;
  /** How egress resolves and dials; tests pass a static resolver and a loopback-only dialer. */
  egress?: { resolver?: Resolver; dialer?: Dialer; upstreamCa?: string | Buffer };
  /** Called when an isolate host exits (tests, logs). */
  onHostExit?: (pid: number, owner: string, death: unknown) => void;
}

/** Builds everything one Cordon process needs from a validated config. */
export function createRuntime(config: CordonConfig, options: RuntimeOptions): Runtime {
  const agents = loadAgentRegistry({ agents: config.agents, dataDir: config.dataDir, createMissingKeys: true, requireKeys: true });
  for (const reserved of [config.auth.issuer, LOCAL_USER_ISSUER]) {
    // Tokens are routed by `iss`: an agent named like an issuer could never authenticate.
    if (agents.get(reserved) !== undefined) throw new CordonError('CONFIG_INVALID', `agent id "${reserved}" is reserved for Cordon's own token issuer`, { details: { field: '/agents' } });
  }
  const users = loadUserDirectory(config.users, config.dataDir);
  // A bad policy stops start-up here, naming file, line and reason.
  const policy = createPolicyEngine(loadPolicySet(config.policyDir), { cache: createDecisionCache({ maxEntries: 10_000 }) });
  const signingKey = loadOrCreateSigningKey(config.dataDir, 'issuer');
  const tokenEndpoints: string[] = [...config.auth.tokenEndpointUrls];
  const verifier = createTokenVerifier({
    registry: agents,
    audience: config.auth.audience,
    maxLifetimeSec: config.auth.maxTokenLifetimeSec,
    clockToleranceSec: config.auth.clockToleranceSec,
    issued: { issuer: config.auth.issuer, publicKey: signingKey.publicKey, maxLifetimeSec: config.auth.issuedTokenLifetimeSec },
    assertions: { maxLifetimeSec: config.auth.assertionMaxLifetimeSec, replay: createReplayCache(100_000), endpointAudiences: () => tokenEndpoints },
  });
  const userTokens = createUserTokenVerifier({
    issuers: config.auth.userIssuers,
    local: config.auth.localUsers ? { issuer: LOCAL_USER_ISSUER, publicKey: loadOrCreateSigningKey(config.dataDir, 'local-users').publicKey } : null,
    defaultAudience: config.auth.audience,
    clockToleranceSec: config.auth.clockToleranceSec,
    maxAgeSec: 24 * 3600,
  });
  const tokens = createTokenService({
    agents: verifier,
    users: userTokens,
    signingKey,
    issuer: config.auth.issuer,
    audience: config.auth.audience,
    lifetimeSec: config.auth.issuedTokenLifetimeSec,
  });
  const auditPath = join(config.dataDir, 'audit', 'audit.jsonl');
  const audit = options.audit ?? createJsonlAuditLog(auditPath);
  // Egress: policies by name, secrets read once, every request through the guard.
  const egressPolicies = loadEgressPolicies(config.egress.policyDir);
  checkEgressPolicyNames(config, egressPolicies);
  const secrets = loadSecrets(config.egress.secrets, options.env ?? {});
  const redactor = createRedactor(secrets.values());
  const guard = createEgressGuard({ policies: egressPolicies, resolver: options.egress?.resolver ?? createSystemResolver(), secrets: createStaticSecretStore(Object.fromEntries(secrets)) });
  const pools = createPinnedPools({ dialer: options.egress?.dialer ?? createDirectDialer(), connectTimeoutMs: 10_000, idleTimeoutMs: 30_000, ...(options.egress?.upstreamCa === undefined ? {} : { ca: options.egress.upstreamCa }) });
  const egressAudit = createEgressAuditAdapter(audit, redactor);
  const guardedFetch = createGuardedFetch({ guard, pools, audit: egressAudit, maxResponseBytes: config.egress.maxResponseBytes, totalTimeoutMs: config.egress.fetchTimeoutMs });
  const sandboxKey = loadOrCreateSigningKey(config.dataDir, 'sandbox');
  const agentEgress = new Map(config.agents.filter((a) => a.egressPolicy !== undefined).map((a) => [a.id, a.egressPolicy ?? null]));

  const authorizer = createPolicyAuthorizer(policy, createPrincipalResolver(agents, users));
  const tools = createToolRegistry(BUILTIN_TOOLS);
  // Profiles: a broken one, or one naming an unknown tool or egress policy, stops start-up here.
  const profileMap = loadSandboxProfiles(config.sandbox.profileDir);
  checkProfileReferences(profileMap, { tools: new Set(tools.list().map((t) => t.definition.name)), egressPolicies: new Set(egressPolicies.keys()) });
  const profiles = [...profileMap.values()];
  const hostBudgetMb = config.sandbox.isolate.hostMemoryMb - HOST_BASE_MB;
  for (const p of profiles) {
    if (p.backend === 'isolate' && p.limits.maxMemoryMb > hostBudgetMb) {
      throw new CordonError('CONFIG_INVALID', `${p.file}: limits.maxMemoryMb ${p.limits.maxMemoryMb} is more than an isolate host holds (sandbox.isolate.hostMemoryMb ${config.sandbox.isolate.hostMemoryMb} less ${HOST_BASE_MB} MB); lower it or raise hostMemoryMb`, { details: { file: p.file, field: 'limits.maxMemoryMb' } });
    }
  }
  if (config.sandbox.defaultProfile !== undefined && !profileMap.has(config.sandbox.defaultProfile)) {
    throw new CordonError('CONFIG_INVALID', `${config.configFile ?? 'config'}: /sandbox/defaultProfile names "${config.sandbox.defaultProfile}", which is not in ${config.sandbox.profileDir}`, { details: { field: '/sandbox/defaultProfile' } });
  }
  const isolateProfiles = profiles.filter((p) => p.backend === 'isolate');
  const isolate = createIsolateBackend({
    config: config.sandbox.isolate,
    warmMemoryMb: profileMap.get(config.sandbox.defaultProfile)?.limits.memoryMb ?? 64,
    caps: {
      outputBytes: Math.max(1, ...isolateProfiles.map((p) => p.limits.outputBytes)),
      resultBytes: Math.max(1, ...isolateProfiles.map((p) => p.limits.resultBytes)),
      requestBytes: 10 * 1024 * 1024,
    },
    maxResponseBytes: config.egress.maxResponseBytes,
    label: `${process.pid}`,
    onHostExit: (pid, owner, death) => {
      const retired = (death as { kind?: string }).kind === 'retired';
      options.logger[retired ? 'debug' : 'warn']({ pid, agent: owner === '' ? null : owner, death }, 'isolate host exited');
      options.onHostExit?.(pid, owner, death);
    },
  });
  const manager = createSandboxManager({ backends: new Map([['isolate', isolate]]), profiles: profileMap, trustDomain: config.egress.trustDomain, maxSessions: config.sandbox.maxSessions });
  // One unix socket per sandbox lives here; only this user may reach the folder.
  const socketDir = join(config.dataDir, 'egress');
  mkdirSync(socketDir, { recursive: true, mode: 0o700 });
  const proxy = createEgressProxy({
    guard,
    audit: egressAudit,
    socketDir,
    tcp: { host: '127.0.0.1', port: 0 },
    ...(options.egress?.dialer === undefined ? {} : { dialer: options.egress.dialer }),
    ...(options.egress?.upstreamCa === undefined ? {} : { upstreamCa: options.egress.upstreamCa }),
    logger: options.logger,
  });
  const egressDeps: SandboxEgressDeps = { authorizer, guarded: guardedFetch, pools, policies: egressPolicies, proxy };
  const sessions = createSessionStore({ maxSessions: 100_000, idleTtlMs: 3_600_000 });
  const runner = createRunner({
    verifier,
    tools,
    authorizer,
    manager,
    profiles,
    audit,
    sessions,
    sandboxes: {
      defaultProfile: config.sandbox.defaultProfile,
      // The agent's override, else the tool's policy, else the profile's; none means no network at all.
      egressPolicyFor: (agent, tool, profile) =>
        agentEgress.has(agent) ? (agentEgress.get(agent) ?? null) : tool !== null && config.egress.toolPolicies[tool] !== undefined ? (config.egress.toolPolicies[tool] ?? null) : profile.egressPolicy,
    },
    egressFor: (principal, session) => egressOpener(egressDeps, principal, session),
    stats: () => isolate.stats(),
    redactor,
    logger: options.logger,
  });
  let proxyStarted: Promise<void> | null = null;
  let closed: Promise<void> | null = null;
  return {
    config,
    agents,
    users,
    runner,
    tokens,
    policy,
    redactor,
    egress: { guard, policies: egressPolicies, proxy, openChannel: (principal, session, identity) => openProxyChannel(egressDeps, principal, session, identity) },
    sandboxes: { manager, isolate },
    maxCallMs: Math.max(0, ...profiles.map((p) => p.limits.maxTimeoutMs)),
    sessions,
    startEgressProxy: () => (proxyStarted ??= proxy.start()),
    addTokenEndpoint: (url) => {
      if (!tokenEndpoints.includes(url)) tokenEndpoints.push(url);
    },
    sandboxToken: (identity) => signSandboxToken(sandboxKey, config.auth.issuer, identity),
    auditPath,
    close() {
      closed ??= (async () => {
        await manager.close();
        await isolate.close();
        await proxy.close();
        policy.close();
        await pools.close();
        await audit.close();
      })();
      return closed;
    },
  };
}

/** Every egress policy the config names must exist: a typo would otherwise silently mean "no egress". */
function checkEgressPolicyNames(config: CordonConfig, policies: ReadonlyMap<string, EgressPolicy>): void {
  const named = [
    ...Object.entries(config.egress.toolPolicies).map(([tool, name]) => [`/egress/toolPolicies/${tool}`, name] as const),
    ...config.agents.flatMap((a, i) => (typeof a.egressPolicy === 'string' ? [[`/agents/${i}/egressPolicy`, a.egressPolicy] as const] : [])),
  ];
  for (const [field, name] of named) {
    if (!policies.has(name)) {
      throw new CordonError('CONFIG_INVALID', `${config.configFile ?? 'config'}: ${field} names egress policy "${name}", which is not in ${config.egress.policyDir}`, { details: { field } });
    }
  }
}
