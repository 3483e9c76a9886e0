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

export interface Runtime {
  readonly config: CordonConfig;
  readonly agents: AgentRegistry;
  readonly users: UserDirectory;
  readonly runner: Runner;
  readonly tokens: TokenService;
  readonly policy: PolicyEngine;
  readonly auditPath: string;
  close(): Promise<void>;
}

export interface RuntimeOptions {
  logger: Logger;
  /** Replaces the JSONL audit log under the data directory (tests). */
  audit?: AuditSink;
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
  const verifier = createTokenVerifier({
    registry: agents,
    audience: config.auth.audience,
    maxLifetimeSec: config.auth.maxTokenLifetimeSec,
    clockToleranceSec: config.auth.clockToleranceSec,
    issued: { issuer: config.auth.issuer, publicKey: signingKey.publicKey, maxLifetimeSec: config.auth.issuedTokenLifetimeSec },
    assertions: { maxLifetimeSec: config.auth.assertionMaxLifetimeSec, replay: createReplayCache(100_000) },
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
  const isolate = createIsolateBackend(config.sandbox.isolate, (err) => options.logger.error({ err }, 'warm isolate could not be prepared'));
  const runner = createRunner({
    verifier,
    tools: createToolRegistry(BUILTIN_TOOLS),
    authorizer: createPolicyAuthorizer(policy, createPrincipalResolver(agents, users)),
    isolate,
    limits: config.sandbox.isolate,
    audit,
    sessions: createSessionStore({ maxSessions: 100_000, idleTtlMs: 3_600_000 }),
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
    auditPath,
    close() {
      closed ??= (async () => {
        isolate.close();
        policy.close();
        await audit.close();
      })();
      return closed;
    },
  };
}
