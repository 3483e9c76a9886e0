import { chmod, lstat, unlink } from 'node:fs/promises';
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isAbsolute, join } from 'node:path';
import type { Duplex } from 'node:stream';
import type { ConnectionOptions } from 'node:tls';
import { CordonError } from '../core/errors.ts';
import { silentLogger, type Logger } from '../core/logger.ts';
import { createDirectDialer, type Dialer } from './dialer.ts';
import type { EgressAuditSink } from './egress-audit.ts';
import type { EgressGuard } from './egress-guard.ts';
import type { EgressHooks } from './egress-hooks.ts';
import { SANDBOX_ID, type EgressIdentity } from './egress-identity.ts';
import { createPinnedPools } from './pinned-pool.ts';
import { createProxyCredentials } from './proxy-auth.ts';
import { handleConnect } from './proxy-connect.ts';
import { DEFAULT_EGRESS_TIMEOUTS, safeRecorder, type ChannelRef, type EgressTimeouts, type ProxyContext } from './proxy-context.ts';
import { handleForward } from './proxy-forward.ts';
import { createSandboxLimiter, DEFAULT_EGRESS_LIMITS, type EgressLimits, type SandboxLimiter } from './proxy-limits.ts';
import { rawResponse } from './proxy-response.ts';

export interface EgressProxyOptions {
  readonly guard: EgressGuard;
  readonly audit: EgressAuditSink;
  /** Directory for per-sandbox unix sockets (`<dir>/<sandbox id>.sock`). */
  readonly socketDir: string;
  /** File mode of each socket; the container runtime maps it into the sandbox. */
  readonly socketMode?: number;
  /** The loopback TCP channel for browsers; null disables it. Port 0 picks one. */
  readonly tcp?: { readonly host?: '127.0.0.1' | '::1'; readonly port?: number } | null;
  readonly dialer?: Dialer;
  readonly limits?: Partial<EgressLimits>;
  /** The per-sandbox limiter shared with the sandbox's other channels (its isolate fetch); else one made from `limits`. */
  readonly limiter?: SandboxLimiter;
  readonly timeouts?: Partial<EgressTimeouts>;
  /** Trust roots for https upstreams reached through absolute-form requests. */
  readonly upstreamCa?: ConnectionOptions['ca'];
  readonly logger?: Logger;
  /** ms since the epoch, for rate limits; injectable for tests. */
  readonly now?: () => number;
}

/** How a sandbox reaches its egress: hand `socketPath` to a container, the proxy URL and credential to a browser. */
export interface SandboxChannel {
  readonly sandboxId: string;
  readonly socketPath: string;
  /** `http://127.0.0.1:<port>` without credentials, or null when the TCP channel is off. */
  readonly proxyUrl: string | null;
  readonly username: string;
  /** Secret; give it only to this sandbox's browser. */
  readonly password: string;
}

export interface OpenChannelOptions {
  /** Run around every request and CONNECT on this sandbox's channels, unix and TCP alike. */
  readonly hooks?: EgressHooks;
  /**
   * Where the unix socket goes instead of `<socketDir>/<id>.sock`: a container's own run
   * directory, bound into it alone. Such a socket is world-connectable (mode 0666), so the
   * container's unprivileged user can reach it; the directory it sits in is what keeps other
   * sandboxes out.
   */
  readonly socketPath?: string;
}

export interface EgressProxy {
  /** Starts the TCP channel (if enabled). Unix channels start in openChannel. */
  start(): Promise<void>;
  readonly tcpPort: number | null;
  openChannel(identity: EgressIdentity, options?: OpenChannelOptions): Promise<SandboxChannel>;
  closeChannel(sandboxId: string): Promise<void>;
  close(): Promise<void>;
}

const AUTH_BODY = 'proxy credentials required: each sandbox has its own';
const AUTH_REQUIRED = {
  headers: { 'proxy-authenticate': 'Basic realm="cordon-egress"', 'x-cordon-error': 'proxy_auth', 'content-type': 'text/plain', 'content-length': String(AUTH_BODY.length) },
  body: AUTH_BODY,
};

// sockaddr_un.sun_path is 108 bytes on Linux (104 on macOS), terminator included.
const MAX_SOCKET_PATH = 103;

export function createEgressProxy(options: EgressProxyOptions): EgressProxy {
  const logger = options.logger ?? silentLogger;
  const timeouts: EgressTimeouts = { ...DEFAULT_EGRESS_TIMEOUTS, ...options.timeouts };
  const dialer = options.dialer ?? createDirectDialer();
  const ctx: ProxyContext = {
    guard: options.guard,
    dialer,
    timeouts,
    logger,
    limiter: options.limiter ?? createSandboxLimiter({ ...DEFAULT_EGRESS_LIMITS, ...options.limits }, options.now),
    pools: createPinnedPools({ dialer, connectTimeoutMs: timeouts.connectTimeoutMs, idleTimeoutMs: timeouts.idleTimeoutMs, ca: options.upstreamCa }),
    record: safeRecorder(options.audit, logger),
    tunnels: new Map(),
  };
  const credentials = createProxyCredentials();
  const unix = new Map<string, { server: Server; path: string; channel: ChannelRef }>();
  let tcp: Server | null = null;
  let tcpPort: number | null = null;

  const onError = (where: string) => (err: unknown) => logger.error({ err, where }, 'egress proxy handler failed');

  const newServer = (channelFor: (req: IncomingMessage) => ChannelRef | null): Server => {
    const server = createServer({ requireHostHeader: false, keepAliveTimeout: timeouts.idleTimeoutMs, requestTimeout: timeouts.totalTimeoutMs });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const channel = channelFor(req);
      if (channel === null) {
        res.writeHead(407, AUTH_REQUIRED.headers).end(AUTH_REQUIRED.body);
        return;
      }
      handleForward(ctx, channel, req, res).catch((err: unknown) => {
        onError('forward')(err);
        // Never leave a client waiting on a request whose handler failed.
        res.destroy();
      });
    });
    server.on('connect', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const channel = channelFor(req);
      if (channel === null) {
        socket.end(rawResponse(407, STATUS_CODES[407] ?? 'Proxy Authentication Required', AUTH_REQUIRED.headers, AUTH_REQUIRED.body));
        return;
      }
      handleConnect(ctx, channel, req, socket, head).catch((err: unknown) => {
        onError('connect')(err);
        socket.destroy();
      });
    });
    server.on('upgrade', (_req: IncomingMessage, socket: Duplex) => {
      const body = 'upgrade requests are not proxied; use CONNECT';
      socket.end(rawResponse(400, 'Bad Request', { 'x-cordon-error': 'invalid_request', 'content-length': String(body.length) }, body));
    });
    server.on('clientError', (_err, socket: Duplex) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      else socket.destroy();
    });
    return server;
  };

  // The TCP channel: the identity is whoever's credential is presented, and a
  // connection stays bound to the first identity it proved.
  const boundIdentity = new WeakMap<object, string>();
  const tcpChannel = (req: IncomingMessage): ChannelRef | null => {
    const identity = credentials.verify(req.headers['proxy-authorization']);
    const bound = boundIdentity.get(req.socket);
    if (identity === null || (bound !== undefined && bound !== identity.id)) return null;
    // The sandbox's hooks come with its channel; a credential without an open channel
    // (mid-close) gets nothing rather than a request that skips them.
    const opened = unix.get(identity.id);
    if (opened === undefined) return null;
    boundIdentity.set(req.socket, identity.id);
    return { identity, kind: 'tcp', hooks: opened.channel.hooks };
  };

  async function closeChannel(sandboxId: string): Promise<void> {
    credentials.revoke(sandboxId);
    const entry = unix.get(sandboxId);
    unix.delete(sandboxId);
    // Tunnels are detached from the HTTP server but still hold it open; they
    // belong to the sandbox that is going away, so end them first.
    for (const socket of ctx.tunnels.get(sandboxId) ?? []) socket.destroy();
    ctx.tunnels.delete(sandboxId);
    if (entry !== undefined) await closeServer(entry.server);
    await ctx.pools.closeSandbox(sandboxId);
    ctx.limiter.forget(sandboxId);
  }

  return {
    get tcpPort() {
      return tcpPort;
    },
    async start() {
      if (options.tcp === null || tcp !== null) return;
      const host = options.tcp?.host ?? '127.0.0.1';
      const server = newServer(tcpChannel);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(options.tcp?.port ?? 0, host, () => resolve());
      });
      tcp = server;
      const addr = server.address();
      tcpPort = typeof addr === 'object' && addr !== null ? addr.port : null;
    },
    async openChannel(identity, channelOptions = {}) {
      if (!SANDBOX_ID.test(identity.id)) throw new CordonError('INPUT_INVALID', `sandbox id "${identity.id}" cannot name a socket; it must match ${SANDBOX_ID.source}`);
      if (unix.has(identity.id)) throw new CordonError('INPUT_INVALID', `sandbox ${identity.id} already has an egress channel`);
      const path = channelOptions.socketPath ?? join(options.socketDir, `${identity.id}.sock`);
      if (!isAbsolute(path)) throw new CordonError('INPUT_INVALID', `egress socket path ${JSON.stringify(path.slice(0, 120))} must be absolute`);
      if (Buffer.byteLength(path) > MAX_SOCKET_PATH) throw new CordonError('CONFIG_INVALID', `socket path ${path} is longer than ${MAX_SOCKET_PATH} bytes; use a shorter socket directory`);
      await removeStaleSocket(path);
      // The unix socket *is* the identity: whatever arrives on it is this sandbox's.
      const channel: ChannelRef = { identity, kind: 'unix', hooks: channelOptions.hooks };
      const server = newServer(() => channel);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(path, () => resolve());
      });
      await chmod(path, channelOptions.socketPath === undefined ? (options.socketMode ?? 0o600) : 0o666);
      unix.set(identity.id, { server, path, channel });
      const { username, password } = credentials.issue(identity);
      return { sandboxId: identity.id, socketPath: path, proxyUrl: tcpPort === null ? null : `http://127.0.0.1:${tcpPort}`, username, password };
    },
    closeChannel,
    async close() {
      await Promise.all([...unix.keys()].map((id) => closeChannel(id)));
      if (tcp !== null) await closeServer(tcp);
      tcp = null;
      await ctx.pools.close();
    },
  };
}

async function removeStaleSocket(path: string): Promise<void> {
  try {
    const st = await lstat(path);
    if (!st.isSocket()) throw new CordonError('CONFIG_INVALID', `${path} exists and is not a socket; refusing to replace it`);
    await unlink(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    // Kept-alive and tunnelled connections belong to the sandbox that is going away.
    server.closeAllConnections();
  });
}

