import { connect as tlsConnect, checkServerIdentity, type ConnectionOptions } from 'node:tls';
import type { Socket } from 'node:net';
import { Pool } from 'undici';
import { dialPinned, DialError, type Dialer } from './dialer.ts';

/**
 * undici connection pools whose connector dials one pinned address and nothing
 * else. A pool is keyed by (sandbox, scheme, address, port, TLS name), so a
 * kept-alive connection is only ever reused for the same checked destination and
 * never shared between sandboxes (bytes stay attributable).
 */
export interface PinnedKey {
  readonly sandboxId: string;
  readonly scheme: 'http' | 'https';
  readonly address: string;
  readonly port: number;
  /** TLS server name (SNI and certificate check); null for IP literals. */
  readonly servername: string | null;
}

export interface PinnedPoolsOptions {
  readonly dialer: Dialer;
  readonly connectTimeoutMs: number;
  /** Keep-alive, header and body idle timeout towards the upstream. */
  readonly idleTimeoutMs: number;
  /** Trust roots for https upstreams; the Node defaults when omitted. */
  readonly ca?: ConnectionOptions['ca'];
  readonly maxPools?: number;
  readonly connectionsPerPool?: number;
}

export interface PinnedPools {
  get(key: PinnedKey): Pool;
  closeSandbox(sandboxId: string): Promise<void>;
  close(): Promise<void>;
}

export function createPinnedPools(options: PinnedPoolsOptions): PinnedPools {
  const pools = new Map<string, { pool: Pool; sandboxId: string }>();
  const maxPools = options.maxPools ?? 1024;

  const create = (key: PinnedKey): Pool => {
    const host = key.address.includes(':') ? `[${key.address}]` : key.address;
    const connector = (_opts: unknown, callback: (err: Error | null, socket: Socket | null) => void): void => {
      // The origin undici holds is the pinned address, but we do not even read it:
      // the address is closed over here, so this connector cannot dial anything else.
      connectPinned(key, options).then(
        (socket) => callback(null, socket),
        (err: Error) => callback(err, null),
      );
    };
    return new Pool(`${key.scheme}://${host}:${key.port}`, {
      connect: connector as never,
      connections: options.connectionsPerPool ?? 16,
      keepAliveTimeout: options.idleTimeoutMs,
      keepAliveMaxTimeout: options.idleTimeoutMs,
      headersTimeout: options.idleTimeoutMs,
      bodyTimeout: options.idleTimeoutMs,
      pipelining: 1,
    });
  };

  return {
    get(key) {
      const id = `${key.sandboxId}|${key.scheme}|${key.address}|${key.port}|${key.servername ?? ''}`;
      const hit = pools.get(id);
      if (hit !== undefined) {
        pools.delete(id);
        pools.set(id, hit); // most recently used last
        return hit.pool;
      }
      if (pools.size >= maxPools) {
        const [oldestId, oldest] = pools.entries().next().value ?? [];
        if (oldestId !== undefined && oldest !== undefined) {
          pools.delete(oldestId);
          void oldest.pool.close().catch(() => undefined);
        }
      }
      const pool = create(key);
      pools.set(id, { pool, sandboxId: key.sandboxId });
      return pool;
    },
    async closeSandbox(sandboxId) {
      const closing: Array<Promise<void>> = [];
      for (const [id, entry] of pools) {
        if (entry.sandboxId !== sandboxId) continue;
        pools.delete(id);
        closing.push(entry.pool.destroy().catch(() => undefined));
      }
      await Promise.all(closing);
    },
    async close() {
      const all = [...pools.values()];
      pools.clear();
      await Promise.all(all.map((e) => e.pool.destroy().catch(() => undefined)));
    },
  };
}

async function connectPinned(key: PinnedKey, options: PinnedPoolsOptions): Promise<Socket> {
  const socket = await dialPinned(options.dialer, key.address, key.port, options.connectTimeoutMs);
  if (key.scheme === 'http') return socket;
  return new Promise((resolve, reject) => {
    const tls = tlsConnect({
      socket,
      servername: key.servername ?? undefined,
      ca: options.ca,
      ALPNProtocols: ['http/1.1'],
      // For an IP literal, the certificate must name that IP.
      checkServerIdentity: (_host, cert) => checkServerIdentity(key.servername ?? key.address, cert),
    });
    const timer = setTimeout(() => tls.destroy(new DialError('connect_timeout', `TLS handshake with ${key.address}:${key.port} timed out`)), options.connectTimeoutMs);
    tls.once('secureConnect', () => {
      clearTimeout(timer);
      resolve(tls);
    });
    tls.once('error', (err) => {
      clearTimeout(timer);
      socket.destroy();
      reject(err instanceof DialError ? err : new DialError('upstream_failed', `TLS with ${key.servername ?? key.address} failed: ${err.message}`, err));
    });
  });
}
