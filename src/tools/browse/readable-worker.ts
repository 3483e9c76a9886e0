import { parentPort } from 'node:worker_threads';
import { readablePage, type ReadableCaps } from './readable-page.ts';

/**
 * The worker side of readable-pool.ts: parses one hostile page at a time, off the
 * runner's event loop. It answers with the page or an error message, nothing else.
 */
interface Job {
  readonly id: number;
  readonly html: string;
  readonly baseUrl: string;
  readonly caps: ReadableCaps;
}

parentPort?.on('message', (job: Job) => {
  try {
    parentPort?.postMessage({ id: job.id, page: readablePage(job.html, job.baseUrl, job.caps) });
  } catch (err) {
    parentPort?.postMessage({ id: job.id, error: err instanceof Error ? err.message.slice(0, 500) : 'the page could not be read' });
  }
});
