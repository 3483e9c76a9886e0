import { Worker } from 'node:worker_threads';
import { CordonError } from '../../core/errors.ts';
import type { ReadableCaps, ReadablePage } from './readable-page.ts';

/**
 * Reading a page (parse, Readability) is CPU work on content a hostile site chose. It runs in
 * a worker thread, not on the runner's event loop: a page built to be slow delays its own call,
 * never another agent's. A worker that overruns is terminated and replaced; its heap is capped.
 */
export interface ReadablePool {
  read(html: string, baseUrl: string, caps: ReadableCaps, timeoutMs: number): Promise<ReadablePage>;
}

const WORKER_HEAP_MB = 256;

interface Pending {
  resolve(page: ReadablePage): void;
  reject(err: Error): void;
}

interface Slot {
  worker: Worker;
  busy: boolean;
}

export function createReadablePool(size: number): ReadablePool {
  const slots: Slot[] = [];
  const waiting: (() => void)[] = [];
  const pending = new Map<number, Pending>();
  let nextId = 0;

  const spawn = (): Slot => {
    const worker = new Worker(new URL('./readable-worker.ts', import.meta.url), { resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB } });
    // An idle worker never keeps the process alive.
    worker.unref();
    const slot: Slot = { worker, busy: false };
    worker.on('message', (m: { id: number; page?: ReadablePage; error?: string }) => {
      const p = pending.get(m.id);
      pending.delete(m.id);
      if (p === undefined) return;
      if (m.page !== undefined) p.resolve(m.page);
      else p.reject(new CordonError('BROWSE_CONTENT_UNSUPPORTED', `the page could not be read: ${m.error ?? 'unknown error'}`));
    });
    return slot;
  };

  const acquire = async (): Promise<Slot> => {
    for (;;) {
      const free = slots.find((s) => !s.busy);
      if (free !== undefined) return free;
      if (slots.length < size) {
        const slot = spawn();
        slots.push(slot);
        return slot;
      }
      await new Promise<void>((resolve) => waiting.push(resolve));
    }
  };

  const release = (slot: Slot): void => {
    slot.busy = false;
    waiting.shift()?.();
  };

  /** A worker that overran or died is dropped; the next call spawns a fresh one. */
  const discard = (slot: Slot): void => {
    const i = slots.indexOf(slot);
    if (i !== -1) slots.splice(i, 1);
    void slot.worker.terminate();
    waiting.shift()?.();
  };

  return {
    async read(html, baseUrl, caps, timeoutMs) {
      const slot = await acquire();
      slot.busy = true;
      const id = nextId++;
      return new Promise<ReadablePage>((resolve, reject) => {
        const fail = (err: Error) => {
          pending.delete(id);
          clearTimeout(timer);
          slot.worker.off('error', onError).off('exit', onExit);
          discard(slot);
          reject(err);
        };
        const onError = (err: Error) => fail(new CordonError('BROWSE_CONTENT_UNSUPPORTED', `the page could not be read: ${err.message.slice(0, 200)}`));
        const onExit = () => fail(new CordonError('BROWSE_CONTENT_UNSUPPORTED', 'the page could not be read: its reader ran out of memory'));
        const timer = setTimeout(() => fail(new CordonError('BROWSE_CONTENT_UNSUPPORTED', `the page took more than ${timeoutMs} ms to read; fetch it with "format": "html" instead`)), timeoutMs);
        pending.set(id, {
          resolve: (page) => {
            clearTimeout(timer);
            slot.worker.off('error', onError).off('exit', onExit);
            release(slot);
            resolve(page);
          },
          reject: (err) => {
            clearTimeout(timer);
            slot.worker.off('error', onError).off('exit', onExit);
            release(slot);
            reject(err);
          },
        });
        slot.worker.on('error', onError).on('exit', onExit);
        slot.worker.postMessage({ id, html, baseUrl, caps });
      });
    },
  };
}

/** Readers shared by the browse tools: two at most (this machine class has two cores), made on first use. */
let shared: ReadablePool | null = null;
export function sharedReaders(): ReadablePool {
  return (shared ??= createReadablePool(2));
}
