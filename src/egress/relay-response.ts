import type { ServerResponse } from 'node:http';
import type { Readable, Writable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { compileRedaction, createRedactingStream } from './secret-redaction.ts';

/**
 * Streams one upstream response into a client response through undici's
 * dispatch handler API: each chunk is counted and written straight to the client
 * socket, with backpressure both ways and no intermediate Readable — this path
 * carries every byte a sandbox downloads over plain HTTP.
 */
export interface RelayOptions {
  readonly method: string;
  readonly path: string;
  readonly headers: string[];
  readonly body: Readable | null;
  readonly signal: AbortSignal;
  /** Values to redact from headers and body (the injected secrets). */
  readonly secrets: readonly string[];
  /** Called per response chunk; false aborts the transfer (byte budget). Request bytes are counted by the caller's body stream. */
  onBytes(direction: 'down', bytes: number): boolean;
  /** Called with the final status before anything is written to the client. */
  onResponseStart?(status: number): void;
}

export type RelayResult =
  /** Nothing was sent to the client yet: the caller answers with a refusal. */
  | { readonly ok: false; readonly beforeHeaders: true; readonly error: Error }
  /** Headers went out, then the transfer broke: the client connection is destroyed. */
  | { readonly ok: false; readonly beforeHeaders: false; readonly status: number; readonly error: Error }
  | { readonly ok: true; readonly status: number };

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'proxy-authenticate', 'proxy-connection', 'upgrade', 'trailer']);

export function relayResponse(pool: Dispatcher, opts: RelayOptions, res: ServerResponse): Promise<RelayResult> {
  return new Promise((resolve) => {
    let status = 0;
    let settled = false;
    let sink: Writable = res;
    let ctrl: { abort(reason: Error): void; pause(): void; resume(): void } | null = null;
    const settle = (r: RelayResult): void => {
      if (settled) return;
      settled = true;
      opts.signal.removeEventListener('abort', onAbort);
      res.off('close', onClientClose);
      resolve(r);
    };
    const onAbort = (): void => ctrl?.abort(opts.signal.reason instanceof Error ? opts.signal.reason : new Error('aborted'));
    const onClientClose = (): void => {
      if (!res.writableFinished) ctrl?.abort(new Error('client closed the connection'));
    };
    opts.signal.addEventListener('abort', onAbort, { once: true });
    res.once('close', onClientClose);

    pool.dispatch(
      { method: opts.method, path: opts.path, headers: opts.headers, body: opts.body },
      {
        onRequestStart(controller) {
          ctrl = controller;
          if (opts.signal.aborted) onAbort();
        },
        onResponseStart(_controller, statusCode, headers) {
          if (statusCode < 200) return; // 1xx: wait for the final response
          status = statusCode;
          opts.onResponseStart?.(statusCode);
          const out: Record<string, string | string[]> = {};
          const redacting = opts.secrets.length > 0;
          const redaction = compileRedaction(opts.secrets);
          for (const [name, value] of Object.entries(headers as Record<string, string | string[] | undefined>)) {
            // x-cordon-error marks Cordon's own refusals (sandboxes and the page tool read it):
            // an upstream may not pose as one.
            if (value === undefined || HOP_BY_HOP.has(name) || name === 'x-cordon-error') continue;
            // Redaction can change the length; let Node frame the body instead.
            if (redacting && name === 'content-length') continue;
            out[name] = Array.isArray(value) ? value.map(redaction.text) : redaction.text(value);
          }
          res.writeHead(statusCode, out);
          if (redacting) {
            const redactor = createRedactingStream(opts.secrets);
            redactor.pipe(res);
            sink = redactor;
          }
        },
        onResponseData(controller, chunk) {
          if (!opts.onBytes('down', chunk.length)) return controller.abort(new Error('byte limit'));
          if (!sink.write(chunk)) {
            controller.pause();
            sink.once('drain', () => controller.resume());
          }
        },
        onResponseEnd() {
          sink.end();
          settle({ ok: true, status });
        },
        onResponseError(_controller, error) {
          if (status === 0) settle({ ok: false, beforeHeaders: true, error });
          else {
            res.destroy();
            settle({ ok: false, beforeHeaders: false, status, error });
          }
        },
      },
    );
  });
}
