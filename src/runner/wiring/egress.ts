import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { AuditSink } from '../../audit/audit-sink.ts';
import type { CordonConfig } from '../../config/config-schema.ts';
import { loadSecrets } from '../../config/load-secrets.ts';
import type { Authorizer } from '../../core/authorization.ts';
import { CordonError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import type { Principal } from '../../core/principal.ts';
import {
  createDirectDialer,
  createEgressAuditLog,
  createEgressGuard,
  createEgressProxy,
  createGuardedFetch,
  createPinnedPools,
  createSandboxLimiter,
  createStaticSecretStore,
  errorCodeFor,
  createSystemResolver,
  type Dialer,
  type EgressGuard,
  type EgressHookRequest,
  type EgressHooks,
  type EgressPolicy,
  type EgressProxy,
  type GuardedFetch,
  type Resolver,
  type SandboxChannel,
} from '../../egress/index.ts';
import type { HostFetch, OpenEgress, SandboxIdentity, SandboxProfile } from '../../sandbox/index.ts';
import { createRedactor, type Redactor } from '../redaction.ts';
import type { Session } from '../session-store.ts';
import { authorize, type ActionCall } from '../stages/authorize.ts';

export interface EgressOptions {
  readonly resolver?: Resolver;
  readonly dialer?: Dialer;
  readonly upstreamCa?: string | Buffer;
}

/** The live set's egress side: read per request and per sandbox, so a reload reaches both. */
export interface LiveEgress {
  /** The egress policies by name, as loaded now. */
  policies(): ReadonlyMap<string, EgressPolicy>;
  /** An agent's egressPolicy override from the config: undefined when it has none. */
  agentPolicy(agent: string): string | null | undefined;
}

export interface EgressWiring {
  readonly guard: EgressGuard;
  /** The egress policies as loaded now (a reload replaces them). */
  policies(): ReadonlyMap<string, EgressPolicy>;
  /** Removes every known secret value; apply it to anything leaving the process. */
  readonly redactor: Redactor;
  /** The per-sandbox proxy (unix-socket and loopback channels), for containers and browsers. */
  readonly proxy: EgressProxy;
  /**
   * The egress policy for a sandbox: the agent's override, else the tool's (for a session
   * sandbox, the one its profile's tools share), else the profile's; null is no network.
   */
  policyFor(agent: string, tool: string | null, profile: SandboxProfile): string | null;
  /** How a sandbox's egress is opened for this principal and session (bound to the sandbox's identity). */
  opener(principal: Principal, session: Session): OpenEgress;
  /** A proxy channel for a sandbox, with the same hooks its fetch gets. */
  openChannel(principal: Principal, session: Session, identity: SandboxIdentity): Promise<SandboxChannel> | null;
  close(): Promise<void>;
}

/**
 * The only way out of a sandbox: egress policies by name, secrets read once, every
 * request through the guard, and around every request, hop and channel the hooks
 * that make it a `net.fetch` for the policy engine and a fact for the session.
 *
 * A sandbox keeps the *name* of the egress policy it was made with (its identity); each
 * request is decided by that name's policy as loaded now. So a reload that narrows a
 * policy narrows live sandboxes at their next request, and one that removes it leaves
 * them no egress at all (the guard refuses an unknown policy): nothing removed or
 * narrowed stays usable, by a new call or a running one.
 */
export function wireEgress(
  config: CordonConfig,
  deps: { live: LiveEgress; audit: AuditSink; authorizer: Authorizer; logger: Logger; env: Readonly<Record<string, string | undefined>>; options: EgressOptions; offlineTools?: ReadonlySet<string> },
): EgressWiring {
  const policies = (name: string) => deps.live.policies().get(name);
  const secrets = loadSecrets(config.egress.secrets, deps.env);
  const redactor = createRedactor(secrets.values());
  const guard = createEgressGuard({ policies, resolver: deps.options.resolver ?? createSystemResolver(), secrets: createStaticSecretStore(Object.fromEntries(secrets)) });
  const ca = deps.options.upstreamCa === undefined ? {} : { ca: deps.options.upstreamCa };
  const pools = createPinnedPools({ dialer: deps.options.dialer ?? createDirectDialer(), connectTimeoutMs: 10_000, idleTimeoutMs: 30_000, ...ca });
  const audit = createEgressAuditLog(deps.audit, redactor.text);
  // One limiter for every channel of a sandbox: its isolate fetch and its proxy channels share one count.
  const limiter = createSandboxLimiter(config.egress.sandboxLimits);
  const guarded = createGuardedFetch({ guard, pools, audit, limiter, maxResponseBytes: config.egress.maxResponseBytes, totalTimeoutMs: config.egress.fetchTimeoutMs });
  // One unix socket per sandbox lives here; only this user may reach the folder.
  const socketDir = join(config.dataDir, 'egress');
  mkdirSync(socketDir, { recursive: true, mode: 0o700 });
  const proxy = createEgressProxy({
    guard,
    audit,
    socketDir,
    tcp: { host: '127.0.0.1', port: 0 },
    limiter,
    ...(deps.options.dialer === undefined ? {} : { dialer: deps.options.dialer }),
    ...(deps.options.upstreamCa === undefined ? {} : { upstreamCa: deps.options.upstreamCa }),
    logger: deps.logger,
  });
  const trusted = (identity: SandboxIdentity) => identity.egressPolicy !== null && policies(identity.egressPolicy)?.trusted === true;
  const hooksFor = (principal: Principal, session: Session, identity: SandboxIdentity) => sandboxEgressHooks(deps.authorizer, principal, identity, session, trusted(identity));

  return {
    guard,
    policies: deps.live.policies,
    redactor,
    proxy,
    policyFor: (agent, tool, profile) => {
      const override = deps.live.agentPolicy(agent);
      if (override !== undefined) return override;
      if (tool !== null) return config.egress.toolPolicies[tool] ?? profile.egressPolicy;
      // A session sandbox serves every tool of its profile that reaches the network: their
      // policy if they all agree on one. Tools that never do (the file tools) have no say.
      const named = new Set(profile.tools.filter((t) => deps.offlineTools?.has(t) !== true).map((t) => config.egress.toolPolicies[t] ?? null));
      const [only] = named;
      return named.size === 1 && only !== null && only !== undefined ? only : profile.egressPolicy;
    },
    opener: (principal, session) => (identity) => {
      if (identity.egressPolicy === null) return null;
      const hooks = hooksFor(principal, session, identity);
      let channel: Promise<SandboxChannel> | null = null;
      return {
        fetch: boundFetch(guarded, identity, hooks, deps.logger),
        channel: (placement) => (channel ??= proxy.openChannel(identity, { hooks, ...(placement === undefined ? {} : { socketPath: placement.socketPath }) })),
        close: () => {
          limiter.forget(identity.id);
          void pools.closeSandbox(identity.id);
          if (channel !== null) void channel.then(() => proxy.closeChannel(identity.id), () => {});
        },
      };
    },
    openChannel: (principal, session, identity) => (identity.egressPolicy === null ? null : proxy.openChannel(identity, { hooks: hooksFor(principal, session, identity) })),
    async close() {
      await proxy.close();
      await pools.close();
    },
  };
}

/**
 * A sandbox's request as a `net.fetch` action for the policy engine, built from the
 * egress layer's canonical target — the same host, port and path the guard matches
 * and dials — and never from a second parse of the URL: Cedar once saw
 * `[::ffff:7f00:1]` where the guard dialled 127.0.0.1, and `[::1]` where egress
 * policies, audit records and session facts say `::1`. A CONNECT is `https` with path `/`.
 */
export function netFetchCall(request: EgressHookRequest, trusted: boolean): ActionCall {
  const { target, method } = request;
  const scheme = target.scheme === 'connect' ? 'https' : target.scheme;
  return {
    tool: 'fetch',
    action: 'net.fetch',
    resource: () => ({ type: 'url', id: request.url, attributes: { method, trusted, scheme, host: target.host, port: target.port, path: target.path ?? '/' } }),
    annotations: { readOnlyHint: method === 'GET' || method === 'HEAD', destructiveHint: false },
  };
}

/**
 * The runner's steps around every egress request of one sandbox, on every hop and
 * every channel: the request is a `net.fetch` for the policy engine with the
 * session's facts as they are now (so chain rules hold for code that fetches), and
 * what the sandbox ingested becomes session facts for later decisions.
 */
function sandboxEgressHooks(authorizer: Authorizer, principal: Principal, identity: SandboxIdentity, session: Session, trusted: boolean): EgressHooks {
  return {
    authorize: (request) => authorize(authorizer, principal, netFetchCall(request, trusted), identity, session.facts()),
    observe: (response) => {
      session.sink.noteEgressHost(response.host);
      // Content from a host not marked trusted may carry instructions aimed at the agent.
      if (!trusted) session.sink.noteUntrustedContent(response.host);
    },
  };
}

const decoder = new TextDecoder('utf-8', { fatal: false });

/** The fetch an isolate is granted: its identity fixed here, never read from the request. */
function boundFetch(guarded: GuardedFetch, identity: SandboxIdentity, hooks: EgressHooks, logger: Logger): HostFetch {
  return async (request, signal, limits) => {
    let r: Awaited<ReturnType<GuardedFetch>>;
    try {
      r = await guarded(identity, { url: request.url, method: request.method, headers: request.headers, body: request.body, redirect: request.redirect, signal, hooks, maxResponseBytes: limits.maxResponseBytes });
    } catch (err) {
      // Refusals and upstream failures come back as responses; a throw is a bug, for the log.
      // The sandbox is told only that its fetch failed (the bridge passes CordonError messages alone).
      if (!signal.aborted) logger.warn({ err, sandbox: identity.id }, 'isolate fetch failed on the host side');
      throw err;
    }
    // Over its egress share, the sandbox's fetch rejects (a clear error in its code), rather
    // than answering a 429 that a loop would keep retrying.
    if (r.refused !== null && errorCodeFor(r.refused.code) === 'EGRESS_LIMITED') {
      throw new CordonError('EGRESS_LIMITED', `EGRESS_LIMITED (${r.refused.code}): ${r.refused.reason}`, { details: { reason: r.refused.code } });
    }
    return { status: r.status, statusText: r.statusText, headers: r.headers, body: r.body, text: decoder.decode(r.body), url: r.url, redirected: r.redirected, ...(r.refused === null ? {} : { refused: { code: r.refused.code, reason: r.refused.reason } }) };
  };
}
