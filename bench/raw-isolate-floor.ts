import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import ivm from 'isolated-vm';

/**
 * The isolate benchmarks' floor: isolated-vm create + context + eval('1+1') +
 * dispose, nothing else, in this process. rawRateThreads() runs the same loop
 * on worker threads at once: what bare isolated-vm reaches with every core.
 */
export async function rawIsolate(): Promise<void> {
  const isolate = new ivm.Isolate({ memoryLimit: 64 });
  const context = await isolate.createContext();
  await context.eval('1+1', { timeout: 1000 });
  isolate.dispose();
}

export async function rawLatencies(n: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await rawIsolate();
    times.push(performance.now() - t0);
  }
  return times;
}

/** Isolates per second, one after another on this thread. */
export async function rawRate(ms: number): Promise<number> {
  let done = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < ms) {
    await rawIsolate();
    done++;
  }
  return (done / (performance.now() - t0)) * 1000;
}

/** Isolates per second from `threads` worker threads at once, summed. */
export async function rawRateThreads(threads: number, ms: number): Promise<number> {
  const rates = await Promise.all(
    Array.from(
      { length: threads },
      () =>
        new Promise<number>((resolve, reject) => {
          const worker = new Worker(new URL(import.meta.url), { workerData: { ms } });
          worker.once('message', (rate: number) => {
            resolve(rate);
            void worker.terminate();
          });
          worker.once('error', reject);
        }),
    ),
  );
  return rates.reduce((a, b) => a + b, 0);
}

if (!isMainThread) parentPort?.postMessage(await rawRate((workerData as { ms: number }).ms));
