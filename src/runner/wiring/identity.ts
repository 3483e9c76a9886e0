import type { CordonConfig } from '../../config/config-schema.ts';
import { LOCAL_USER_ISSUER } from '../../core/principal.ts';
import type { AgentRegistry } from '../../identity/agent-registry.ts';
import { createReplayCache } from '../../identity/replay-cache.ts';
import { signSandboxToken } from '../../identity/sandbox-token.ts';
import { loadOrCreateSigningKey } from '../../identity/signing-keys.ts';
import { createTokenService, type TokenService } from '../../identity/token-service.ts';
import { createTokenVerifier, type TokenVerifier } from '../../identity/token-verifier.ts';
import type { UserDirectory } from '../../identity/user-directory.ts';
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

/**
 * Who can call: registered agents and their keys, users (both read with the rest of the live set,
 * reload/read-live-set.ts, and passed in as views of the current one), and the tokens Cordon
 * verifies and issues. Signing keys, issuers and lifetimes are read once, at start-up.
 */
export function wireIdentity(config: CordonConfig, live: { agents: AgentRegistry; users: UserDirectory }): IdentityWiring {
  const { agents, users } = live;
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
