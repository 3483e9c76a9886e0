import ivm from 'isolated-vm';
import { ISOLATE_BOOTSTRAP } from './isolate-bootstrap.ts';

/** A fresh isolate with its context and the bootstrap's entry points, used by exactly one sandbox. */
export interface PreparedIsolate {
  readonly isolate: ivm.Isolate;
  readonly context: ivm.Context;
  readonly memoryMb: number;
  readonly run: ivm.Reference<(source: string, outputLimit: number) => Promise<unknown[]>>;
  readonly flush: ivm.Reference<() => unknown[]>;
}

export async function prepareIsolate(memoryMb: number): Promise<PreparedIsolate> {
  const isolate = new ivm.Isolate({ memoryLimit: memoryMb });
  try {
    const context = await isolate.createContext();
    const entry = (await context.eval(ISOLATE_BOOTSTRAP, { reference: true, timeout: 2000 })) as ivm.Reference<unknown[]>;
    const run = (await entry.get(0, { reference: true })) as PreparedIsolate['run'];
    const flush = (await entry.get(1, { reference: true })) as PreparedIsolate['flush'];
    entry.release();
    return { isolate, context, memoryMb, run, flush };
  } catch (err) {
    if (!isolate.isDisposed) isolate.dispose();
    throw err;
  }
}

export interface IsolatePool {
  /** A never-used isolate with this memory limit: from the warm pool when it matches, else created now. */
  take(memoryMb: number): Promise<PreparedIsolate>;
  close(): void;
}

/**
 * Keeps `size` fresh isolates ready for the default memory limit, so creating
 * one (most of an invocation's cost) happens off the request path. An isolate
 * leaves the pool once and is disposed after its single use: nothing is ever
 * shared between sandboxes.
 */
export function createIsolatePool(size: number, memoryMb: number, onError: (err: unknown) => void): IsolatePool {
  const ready: PreparedIsolate[] = [];
  let filling = 0;
  let closed = false;

  function refill(): void {
    while (!closed && ready.length + filling < size) {
      filling++;
      prepareIsolate(memoryMb).then(
        (p) => {
          filling--;
          if (closed) p.isolate.dispose();
          else ready.push(p);
        },
        (err: unknown) => {
          filling--;
          onError(err);
        },
      );
    }
  }

  refill();
  return {
    async take(wantMb: number): Promise<PreparedIsolate> {
      if (wantMb === memoryMb) {
        const p = ready.shift();
        setImmediate(refill);
        if (p !== undefined) return p;
      }
      return prepareIsolate(wantMb);
    },
    close(): void {
      closed = true;
      for (const p of ready.splice(0)) if (!p.isolate.isDisposed) p.isolate.dispose();
    },
  };
}
