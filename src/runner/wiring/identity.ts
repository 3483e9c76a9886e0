import type { CordonConfig } from '../../config/config-schema.ts';
import { CordonError } from '../../core/errors.ts';
import { LOCAL_USER_ISSUER } from '../../core/principal.ts';
import { loadAgentRegistry, type AgentRegistry } from '../../identity/agent-registry.ts';
import { createReplayCache } from '../../identity/replay-cache.ts';
import { signSandboxToken } from '../../identity/sandbox-token.ts';
import { loadOrCreateSigningKey } from '../../identity/signing-keys.ts';
import { createTokenService, type TokenService } from '../../identity/token-service.ts';
import { createTokenVerifier, type TokenVerifier } from '../../identity/token-verifier.ts';
import { loadUserDirectory, type UserDirectory } from '../../identity/user-directory.ts';
import { createUserTokenVerifier } from '../../identity/user-token-verifier.ts';
import type { SandboxIdentity } from '../../sandbox/index.ts';

export interface IdentityWiring {
  readonly agents: AgentRegistry;
  readonly users: UserDirectory;
  readonly verifier: TokenVerifier;
  readonly tokens: TokenService;
  /** Accept assertions addressed to this token-endpoint URL too (the server calls it once it listens). */
  addTokenEndpoint(url: string): void;
  /** A sandbox's own short-lived credential (audience cordon-egress), for channels that need one. */
  sandboxToken(identity: SandboxIdentity): Promise<string>;
}

/** Who can call: registered agents and their keys, users, and the tokens Cordon verifies and issues. */
export function wireIdentity(config: CordonConfig): IdentityWiring {
  const agents = loadAgentRegistry({ agents: config.agents, dataDir: config.dataDir, createMissingKeys: true, requireKeys: true });
  for (const reserved of [config.auth.issuer, LOCAL_USER_ISSUER]) {
    // Tokens are routed by `iss`: an agent named like an issuer could never authenticate.
    if (agents.get(reserved) !== undefined) throw new CordonError('CONFIG_INVALID', `agent id "${reserved}" is reserved for Cordon's own token issuer`, { details: { field: '/agents' } });
  }
  const users = loadUserDirectory(config.users, config.dataDir);
  const signingKey = loadOrCreateSigningKey(config.dataDir, 'issuer');
  const sandboxKey = loadOrCreateSigningKey(config.dataDir, 'sandbox');
  const tokenEndpoints: string[] = [...config.auth.tokenEndpointUrls];
  const localUsers = config.auth.localUsers.enabled;
  const actorsByIssuer = new Map<string, readonly string[]>(config.auth.userIssuers.map((i) => [i.issuer, i.actors ?? []]));
  if (localUsers) actorsByIssuer.set(LOCAL_USER_ISSUER, config.auth.localUsers.actors);
  const verifier = createTokenVerifier({
    registry: agents,
    audience: config.auth.audience,
    maxLifetimeSec: config.auth.maxTokenLifetimeSec,
    clockToleranceSec: config.auth.clockToleranceSec,
    issued: { issuer: config.auth.issuer, publicKey: signingKey.publicKey, maxLifetimeSec: config.auth.issuedTokenLifetimeSec, userIssuers: [...actorsByIssuer.keys()] },
    assertions: { maxLifetimeSec: config.auth.assertionMaxLifetimeSec, replay: createReplayCache(100_000), endpointAudiences: () => tokenEndpoints },
  });
  const userTokens = createUserTokenVerifier({
    issuers: config.auth.userIssuers,
    local: localUsers ? { issuer: LOCAL_USER_ISSUER, publicKey: loadOrCreateSigningKey(config.dataDir, 'local-users').publicKey } : null,
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
    actorsByIssuer,
  });
  return {
    agents,
    users,
    verifier,
    tokens,
    addTokenEndpoint: (url) => {
      if (!tokenEndpoints.includes(url)) tokenEndpoints.push(url);
    },
    sandboxToken: (identity) => signSandboxToken(sandboxKey, config.auth.issuer, identity),
  };
}
