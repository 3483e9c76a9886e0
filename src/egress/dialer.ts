import { connect, isIP, type Socket } from 'node:net';
import { classifyAddress } from './classify-address.ts';

/**
 * Opening the upstream TCP connection. A Dialer is handed the address the guard
 * pinned and nothing else: it has no host name to look up, so there is no second
 * resolution for an attacker's DNS to answer differently.
 */
export interface Dialer {
  dial(address: string, port: number, signal: AbortSignal): Promise<Socket>;
}

export class DialError extends Error {
  readonly code: 'connect_timeout' | 'upstream_failed';
  constructor(code: 'connect_timeout' | 'upstream_failed', message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'DialError';
    this.code = code;
  }
}

export function createDirectDialer(): Dialer {
  return {
    dial(address, port, signal) {
      const family = isIP(address);
      if (family === 0) return Promise.reject(new DialError('upstream_failed', `refusing to dial "${address}": not an IP address`));
      return new Promise((resolve, reject) => {
        const socket = connect({
          host: address,
          port,
          family,
          // Belt and braces: with an IP literal Node never calls lookup; if it ever did, fail.
          lookup: (_h, _o, cb) => cb(new Error('lookup disabled: dial pinned addresses only'), '', 0),
          noDelay: true,
        });
        const onAbort = (): void => {
          socket.destroy();
          reject(new DialError('connect_timeout', `connect to ${address}:${port} aborted`));
        };
        if (signal.aborted) return onAbort();
        signal.addEventListener('abort', onAbort, { once: true });
        socket.once('connect', () => {
          signal.removeEventListener('abort', onAbort);
          resolve(socket);
        });
        socket.once('error', (err) => {
          signal.removeEventListener('abort', onAbort);
          reject(new DialError('upstream_failed', `connect to ${address}:${port} failed: ${err.message}`, err));
        });
      });
    },
  };
}

/**
 * For tests and benchmarks: dials loopback (127.0.0.0/8, ::1) and refuses
 * everything else without touching the network, so no test can ever reach out.
 */
export function createLoopbackOnlyDialer(inner: Dialer = createDirectDialer()): Dialer & { readonly refused: string[] } {
  const refused: string[] = [];
  return {
    refused,
    dial(address, port, signal) {
      if (classifyAddress(address)?.category !== 'loopback') {
        refused.push(`${address}:${port}`);
        return Promise.reject(new DialError('upstream_failed', `test dialer refuses ${address}:${port}: loopback only`));
      }
      return inner.dial(address, port, signal);
    },
  };
}

/** Dials with a connect timeout; a timeout is a DialError('connect_timeout'). */
export async function dialPinned(dialer: Dialer, address: string, port: number, timeoutMs: number, outer?: AbortSignal): Promise<Socket> {
  const controller = new AbortController();
  const signal = outer === undefined ? controller.signal : AbortSignal.any([controller.signal, outer]);
  const timedOut = (): DialError => new DialError('connect_timeout', `connect to ${address}:${port} timed out after ${timeoutMs} ms`);
  let timer: NodeJS.Timeout | undefined;
  let gaveUp = false;
  // A dialer that ignores the signal must still not hold the request past the timeout.
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      gaveUp = true;
      controller.abort();
      reject(timedOut());
    }, timeoutMs);
  });
  const pending = dialer.dial(address, port, signal);
  // If the deadline wins, close whatever the dialer produces later.
  pending.then((socket) => gaveUp && socket.destroy(), () => undefined);
  try {
    return await Promise.race([pending, deadline]);
  } catch (err) {
    if (gaveUp) throw timedOut();
    throw err instanceof DialError ? err : new DialError('upstream_failed', `connect to ${address}:${port} failed: ${(err as Error).message}`, err);
  } finally {
    clearTimeout(timer);
  }
}
