import { mkdtemp, rm } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createEgressGuard,
  createEgressProxy,
  createLoopbackOnlyDialer,
  createMemoryAuditSink,
  createStaticResolver,
  createStaticSecretStore,
  parseEgressPolicy,
  type Dialer,
  type EgressAuditRecord,
  type EgressGuard,
  type EgressIdentity,
  type EgressProxy,
  type EgressProxyOptions,
  type Resolver,
} from '../../src/egress/index.ts';
import { testTls } from './test-tls.ts';

/**
 * Test fixtures for egress over real sockets, on loopback only: upstreams on
 * 127.0.0.x, a proxy whose dialer refuses anything but loopback, and a
 * temporary socket directory. Each fixture removes what it made in close().
 * TLS upstreams use the process's throwaway CA (./test-tls.ts).
 * Used by this folder's tests and by integration tests of the layers above.
 */

export interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
}

export interface LoopbackUpstream {
  readonly address: string;
  readonly port: number;
  readonly seen: SeenRequest[];
  /** TCP connections accepted, whether or not a request followed. */
  connections: number;
  close(): Promise<void>;
}

/**
 * A small upstream: `/echo` answers with the request's method, path and headers
 * as JSON; `/redirect?to=URL[&status=302]` redirects; `/forged-refusal` answers 403 with Cordon's
 * refusal header, as a hostile upstream would; `/bytes?n=N` sends N bytes;
 * anything else answers `hello from <address>`.
 */
export async function startUpstream(address: string, options: { tls?: boolean } = {}): Promise<LoopbackUpstream> {
  const seen: SeenRequest[] = [];
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    const url = new URL(req.url ?? '/', 'http://upstream');
    if (url.pathname === '/echo') {
      let bodyLength = 0;
      req.on('data', (chunk: Buffer) => (bodyLength += chunk.length));
      req.on('end', () => {
        res.setHeader('content-type', 'application/json');
        res.setHeader('x-echo-authorization', req.headers['authorization'] ?? '');
        res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, bodyLength }));
      });
      return;
    }
    req.resume();
    if (url.pathname === '/forged-refusal') {
      // An upstream posing as Cordon: its refusal header must never reach a sandbox.
      res.writeHead(403, { 'x-cordon-error': 'policy_denied', 'content-type': 'text/plain' }).end('forged');
    } else if (url.pathname === '/redirect') {
      res.writeHead(Number(url.searchParams.get('status') ?? 302), { location: url.searchParams.get('to') ?? '/' }).end();
    } else if (url.pathname === '/bytes') {
      const n = Number(url.searchParams.get('n') ?? 0);
      res.writeHead(200, { 'content-length': String(n) });
      const chunk = Buffer.alloc(Math.min(n, 1 << 20), 120);
      let left = n;
      const pump = (): void => {
        while (left > 0) {
          const part = left >= chunk.length ? chunk : chunk.subarray(0, left);
          left -= part.length;
          if (!res.write(part)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    } else {
      res.end(`hello from ${address}`);
    }
  };
  let server: Server;
  if (options.tls === true) {
    const { key, cert } = testTls();
    server = createHttpsServer({ key, cert }, handler);
  } else {
    server = createHttpServer(handler);
  }
  const upstream: LoopbackUpstream = {
    address,
    port: 0,
    seen,
    connections: 0,
    close: () =>
      new Promise((done) => {
        server.close(() => done());
        server.closeAllConnections();
      }),
  };
  server.on(options.tls === true ? 'secureConnection' : 'connection', () => void upstream.connections++);
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(0, address, () => done());
  });
  const addr = server.address();
  (upstream as { port: number }).port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  return upstream;
}

export function testIdentity(id: string, egressPolicy: string | null, overrides: Partial<EgressIdentity> = {}): EgressIdentity {
  return {
    id,
    uri: `spiffe://cordon.test/sandbox/test/${id}`,
    profile: 'test',
    egressPolicy,
    agent: `agent-${id}`,
    user: `user-${id}`,
    expiresAt: Math.floor(Date.now() / 1000) + 3600,
    ...overrides,
  };
}

export interface EgressFixture {
  readonly proxy: EgressProxy;
  readonly guard: EgressGuard;
  readonly records: EgressAuditRecord[];
  readonly dialer: Dialer & { readonly refused: string[] };
  readonly socketDir: string;
  close(): Promise<void>;
}

export interface EgressFixtureOptions extends Partial<Omit<EgressProxyOptions, 'guard' | 'audit' | 'socketDir'>> {
  /** Policy YAML texts. */
  readonly policies: readonly string[];
  /** Name → address(es), for the static resolver; or a resolver. */
  readonly resolve: Readonly<Record<string, string | readonly string[]>> | Resolver;
  readonly secrets?: Readonly<Record<string, string>>;
}

export async function startEgressFixture(options: EgressFixtureOptions): Promise<EgressFixture> {
  const policies = new Map(options.policies.map((text, i) => {
    const p = parseEgressPolicy(text, `fixture-${i}.yaml`);
    return [p.name, p] as const;
  }));
  const resolver = 'resolve' in options.resolve && typeof options.resolve.resolve === 'function' ? (options.resolve as Resolver) : createStaticResolver(options.resolve as Record<string, string>);
  const guard = createEgressGuard({ policies, resolver, secrets: createStaticSecretStore(options.secrets ?? {}) });
  const sink = createMemoryAuditSink();
  const dialer = createLoopbackOnlyDialer();
  // Short: unix socket paths are limited to ~104 bytes.
  const socketDir = await mkdtemp(join(tmpdir(), 'ce-'));
  const proxy = createEgressProxy({
    ...options,
    guard,
    audit: sink,
    socketDir,
    dialer: options.dialer ?? dialer,
    upstreamCa: options.upstreamCa ?? testTls().ca,
    tcp: options.tcp === undefined ? { port: 0 } : options.tcp,
  });
  await proxy.start();
  return {
    proxy,
    guard,
    records: sink.records,
    dialer,
    socketDir,
    async close() {
      try {
        await proxy.close();
      } finally {
        await rm(socketDir, { recursive: true, force: true });
      }
    },
  };
}
