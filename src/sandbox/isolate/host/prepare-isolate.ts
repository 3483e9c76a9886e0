import { writeSync } from 'node:fs';
import ivm from 'isolated-vm';
import { ISOLATE_BOOTSTRAP } from './isolate-bootstrap.ts';

/** A fresh isolate with its context and the bootstrap's entry points. */
export interface PreparedIsolate {
  readonly isolate: ivm.Isolate;
  readonly context: ivm.Context;
  readonly memoryMb: number;
  readonly finish: ivm.Reference<(threw: boolean, value: unknown, outputLimit: number, resultLimit: number) => Promise<unknown>>;
  readonly flush: ivm.Reference<() => unknown>;
  readonly begin: ivm.Reference<(outputLimit: number) => void>;
}

/**
 * V8 has lost control of an isolate: nothing in this process can be trusted to
 * finish. Say why on stderr (the supervisor reads it to classify the death) and
 * end the process; the supervisor fails this host's calls and replaces it.
 */
function catastrophic(message: string): void {
  try {
    writeSync(2, `CORDON_FATAL ${message.slice(0, 512).replace(/\s+/g, ' ')}\n`);
  } finally {
    process.abort();
  }
}

/**
 * V8's code cache for the bootstrap, made by this host's first isolate: later
 * ones skip parsing it (about 5 % of an isolate's CPU). It holds compiled code
 * of our own script and no state; V8 checks it against the source and flags
 * and compiles afresh when it does not match.
 */
let bootstrapCache: ivm.ExternalCopy<ArrayBuffer> | null = null;
type CachedScript = ivm.Script & { cachedData?: ivm.ExternalCopy<ArrayBuffer>; cachedDataRejected?: boolean };

function bootstrapCacheOptions(): ivm.ScriptInfo {
  return bootstrapCache === null ? { produceCachedData: true } : { cachedData: bootstrapCache };
}

function keepBootstrapCache(script: CachedScript): void {
  if (script.cachedData !== undefined) bootstrapCache = script.cachedData;
  else if (script.cachedDataRejected === true) bootstrapCache = null;
}

/**
 * A fresh isolate with Cordon's bootstrap evaluated in it. With `sync`, every
 * step runs on this thread: about a tenth less CPU than hopping to the
 * isolate's thread, but this thread can do nothing else meanwhile (a warm
 * refill keeps it free for the next call's message). Only Cordon's own
 * bootstrap runs here, before any tool code, so no step can run long.
 */
export async function prepareIsolate(memoryMb: number, sync = false): Promise<PreparedIsolate> {
  const isolate = new ivm.Isolate({ memoryLimit: memoryMb, onCatastrophicError: catastrophic });
  try {
    const context = sync ? isolate.createContextSync() : await isolate.createContext();
    const script = (sync ? isolate.compileScriptSync(ISOLATE_BOOTSTRAP, bootstrapCacheOptions()) : await isolate.compileScript(ISOLATE_BOOTSTRAP, bootstrapCacheOptions())) as CachedScript;
    keepBootstrapCache(script);
    const entry = (sync ? script.runSync(context, { reference: true, timeout: 2000, release: true }) : await script.run(context, { reference: true, timeout: 2000, release: true })) as ivm.Reference<unknown[]>;
    // Three property reads of our own array: a hop each would cost more than the reads.
    const finish = entry.getSync(0, { reference: true }) as PreparedIsolate['finish'];
    const flush = entry.getSync(1, { reference: true }) as PreparedIsolate['flush'];
    const begin = entry.getSync(2, { reference: true }) as PreparedIsolate['begin'];
    entry.release();
    return { isolate, context, memoryMb, finish, flush, begin };
  } catch (err) {
    if (!isolate.isDisposed) isolate.dispose();
    throw err;
  }
}

export interface WarmIsolates {
  /** A never-used isolate with this memory limit: a warm one when it matches, else made now. */
  take(memoryMb: number): Promise<PreparedIsolate>;
  /** Starts making isolates until `size` are ready or on the way. */
  refill(): void;
  close(): void;
}

/**
 * Keeps `size` fresh isolates ready for the usual memory limit, so creating one
 * happens off the call's path. An isolate leaves the pool once; nothing in one
 * is ever seen by another sandbox.
 */
export function createWarmIsolates(size: number, memoryMb: number): WarmIsolates {
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
        () => {
          // Made again on demand; a host that cannot make isolates fails its calls visibly.
          filling--;
        },
      );
    }
  }

  refill();
  return {
    async take(wantMb) {
      if (wantMb === memoryMb) {
        const p = ready.shift();
        if (p !== undefined) return p;
      }
      // A call is waiting for this one: spend the least CPU on it, not the least time on this thread.
      return prepareIsolate(wantMb, true);
    },
    refill,
    close() {
      closed = true;
      for (const p of ready.splice(0)) if (!p.isolate.isDisposed) p.isolate.dispose();
    },
  };
}
