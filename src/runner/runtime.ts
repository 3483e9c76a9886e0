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
import { createDecisionCache } from '../policy/decision-cache.ts';
import { loadPolicySet } from '../policy/load-policy-set.ts';
import { createPolicyEngine, type PolicyEngine } from '../policy/policy-engine.ts';
import { createPolicyAuthorizer, createPrincipalResolver } from './policy-authorizer.ts';
import { createIsolateBackend } from '../sandbox/isolate/isolate-backend.ts';
import { BUILTIN_TOOLS } from '../tools/builtin-tools.ts';
import { createToolRegistry } from '../tools/tool-registry.ts';
import { createRunner, type Runner } from './runner.ts';
import { createSessionStore } from './session-store.ts';
import { loadSecrets } from '../config/load-secrets.ts';
import { createDirectDialer, type Dialer } from '../egress/dialer.ts';
import { createEgressGuard, type EgressGuard } from '../egress/egress-guard.ts';
import type { EgressPolicy } from '../egress/egress-policy.ts';
import { createGuardedFetch } from '../egress/guarded-fetch.ts';
import { loadEgressPolicies } from '../egress/load-egress-policies.ts';
import { createPinnedPools } from '../egress/pinned-pool.ts';
import { createSystemResolver, type Resolver } from '../egress/resolver.ts';
import { createStaticSecretStore } from '../egress/secret-template.ts';
import { createRedactor, type Redactor } from './redaction.ts';
import { bindSandboxFetch, createEgressAuditAdapter, fetchCall } from './sandbox-egress.ts';
import { authorize } from './stages/authorize.ts';
import { signSandboxToken } from '../identity/sandbox-token.ts';
import type { SandboxIdentity } from './stages/sandbox.ts';

export interface Runtime {
  readonly config: CordonConfig;
  readonly agents: AgentRegistry;
  readonly users: UserDirectory;
  readonly runner: Runner;
  readonly tokens: TokenService;
  readonly policy: PolicyEngine;
  /** Removes every known secret value; apply it to anything leaving the process. */
  readonly redactor: Redactor;
  readonly egress: { readonly guard: EgressGuard; readonly policies: ReadonlyMap<string, EgressPolicy> };
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
  const isolate = createIsolateBackend(config.sandbox.isolate, (err) => options.logger.error({ err }, 'warm isolate could not be prepared'));
  const runner = createRunner({
    verifier,
    tools: createToolRegistry(BUILTIN_TOOLS),
    authorizer,
    isolate,
    limits: config.sandbox.isolate,
    audit,
    sessions: createSessionStore({ maxSessions: 100_000, idleTtlMs: 3_600_000 }),
    sandboxes: {
      trustDomain: config.egress.trustDomain,
      egressPolicyFor: (agent, tool) => (agentEgress.has(agent) ? (agentEgress.get(agent) ?? null) : (config.egress.toolPolicies[tool] ?? null)),
    },
    egressFor: (sandbox, session, principal) => {
      if (sandbox.egressPolicy === null) return undefined;
      const trusted = egressPolicies.get(sandbox.egressPolicy)?.trusted === true;
      // Each request is also a `net.fetch` for the policy engine, with the session as it is now:
      // chain rules (no egress after a sensitive read, …) hold for code that fetches, too.
      const gate = (url: string, method: string) => authorize(authorizer, principal, fetchCall(url, method, trusted), sandbox, session.facts());
      const fetch = bindSandboxFetch(sandbox, guardedFetch, trusted, session.sink, gate, egressAudit);
      let watching = false;
      return async (req, signal) => {
        if (!watching) {
          watching = true;
          // Connections pinned for this sandbox close with it.
          signal.addEventListener('abort', () => void pools.closeSandbox(sandbox.id), { once: true });
        }
        return fetch(req, signal);
      };
    },
    redactor,
    logger: options.logger,
  });
  let closed: Promise<void> | null = null;
  return {
    config,
    agents,
    users,
    runner,
    tokens,
    policy,
    redactor,
    egress: { guard, policies: egressPolicies },
    addTokenEndpoint: (url) => {
      if (!tokenEndpoints.includes(url)) tokenEndpoints.push(url);
    },
    sandboxToken: (identity) => signSandboxToken(sandboxKey, config.auth.issuer, identity),
    auditPath,
    close() {
      closed ??= (async () => {
        isolate.close();
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
