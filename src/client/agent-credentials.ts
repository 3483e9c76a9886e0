import { createPrivateKey, randomUUID, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import { CordonClientError } from './client-errors.ts';

/** The longest self-signed bearer token a default server accepts (auth.maxTokenLifetimeSec). */
export const MAX_BEARER_TTL_SEC = 300;
/** The longest assertion a default server accepts (auth.assertionMaxLifetimeSec). */
const ASSERTION_TTL_SEC = 30;
/** Same pattern as the server's agent ids: refused here, before anything is signed. */
const AGENT_ID = /^[a-z0-9][a-z0-9._-]{0,62}$/;

export interface AgentCredentialOptions {
  readonly agentId: string;
  /** Ed25519 private key: a KeyObject or PKCS#8 PEM text. */
  readonly privateKey: KeyObject | string;
  readonly audience: string;
  /** Lifetime of each bearer token; at most MAX_BEARER_TTL_SEC. */
  readonly tokenTtlSec: number;
  /** For tests: the current time in ms. */
  readonly now?: () => number;
}

export interface AgentCredentials {
  readonly agentId: string;
  /** `Bearer …` with a self-signed agent token (typ JWT), reused until close to its expiry. */
  authorization(): Promise<string>;
  /** A fresh single-use assertion (typ client-authentication+jwt) for the token endpoint. */
  assertion(): Promise<string>;
}

function invalid(message: string, cause?: unknown): CordonClientError {
  return new CordonClientError('CLIENT_OPTIONS_INVALID', message, { cause, details: { field: 'agent' } });
}

/** The agent's key as a KeyObject, refused unless it is an Ed25519 private key. */
export function parseAgentKey(key: KeyObject | string): KeyObject {
  let object: KeyObject;
  if (typeof key === 'string') {
    try {
      object = createPrivateKey(key);
    } catch (err) {
      throw invalid('agent.privateKey is not a PEM private key (expected PKCS#8 Ed25519, as `cordon agents add` writes)', err);
    }
  } else if (typeof key === 'object' && key !== null && typeof (key as KeyObject).asymmetricKeyType === 'string') {
    object = key;
  } else {
    throw invalid('agent.privateKey must be a KeyObject or PEM text');
  }
  if (object.type !== 'private') throw invalid('agent.privateKey is a public key; the client signs with the private key');
  if (object.asymmetricKeyType !== 'ed25519') throw invalid(`agent.privateKey is ${object.asymmetricKeyType ?? 'unknown'}, not Ed25519`);
  return object;
}

/**
 * The agent's own short-lived credentials, signed locally: nothing long-lived is ever sent.
 * Bearer tokens are self-signed agent tokens (iss = sub = agent, a fresh jti each), the kind a
 * framework can attach to every request without a round trip to a token endpoint. One is reused
 * until a quarter of its life is left (at most 30 s), then replaced, so a request never leaves
 * with a token about to expire under it. Assertions are single use, so each is new.
 */
export function createAgentCredentials(options: AgentCredentialOptions): AgentCredentials {
  if (typeof options.agentId !== 'string' || !AGENT_ID.test(options.agentId)) {
    throw invalid('agent.id must be a registered agent id: lower-case letters, digits, ".", "_" and "-" (max 63)');
  }
  if (!Number.isInteger(options.tokenTtlSec) || options.tokenTtlSec < 10 || options.tokenTtlSec > MAX_BEARER_TTL_SEC) {
    throw new CordonClientError('CLIENT_OPTIONS_INVALID', `tokenTtlSec must be a whole number from 10 to ${MAX_BEARER_TTL_SEC} (the server refuses longer agent tokens)`, { details: { field: 'tokenTtlSec' } });
  }
  const key = parseAgentKey(options.privateKey);
  const now = options.now ?? Date.now;
  const renewBeforeSec = Math.min(30, Math.floor(options.tokenTtlSec / 4));
  let cached: { token: string; expSec: number } | null = null;

  const sign = (typ: string, ttlSec: number, nowSec: number) =>
    new SignJWT({})
      .setProtectedHeader({ alg: 'EdDSA', typ })
      .setIssuer(options.agentId)
      .setSubject(options.agentId)
      .setAudience(options.audience)
      .setIssuedAt(nowSec)
      .setExpirationTime(nowSec + ttlSec)
      .setJti(randomUUID())
      .sign(key);

  return {
    agentId: options.agentId,
    async authorization() {
      const nowSec = Math.floor(now() / 1000);
      if (cached === null || nowSec >= cached.expSec - renewBeforeSec) {
        cached = { token: await sign('JWT', options.tokenTtlSec, nowSec), expSec: nowSec + options.tokenTtlSec };
      }
      return `Bearer ${cached.token}`;
    },
    assertion() {
      return sign('client-authentication+jwt', ASSERTION_TTL_SEC, Math.floor(now() / 1000));
    },
  };
}
