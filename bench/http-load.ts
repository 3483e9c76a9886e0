import type { Client } from 'undici';

/** Where a benchmark client sends its GETs: straight to the upstream, or through a proxy in absolute form. */
export interface Target {
  client(): Client;
  /** The request target for an upstream path: `p` itself, or `http://host:port${p}` for a proxy. */
  path(p: string): string;
  readonly headers: Record<string, string>;
  /**
   * Send `connection: close` and use a new connection per request. For a proxy that
   * closes after every response without saying so (tinyproxy), a client that tried
   * to reuse the connection would race the close and fail half its requests.
   */
  readonly reset?: boolean;
}

/** One small GET; throws unless the upstream itself answered, so a refusal can never pass for speed. */
async function smallGet(client: Client, target: Target): Promise<void> {
  const res = await client.request({ path: target.path('/small'), method: 'GET', headers: target.headers, reset: target.reset === true });
  const body = await res.body.text();
  if (res.statusCode !== 200 || body !== 'ok') throw new Error(`GET ${target.path('/small')} answered ${res.statusCode}: ${body.slice(0, 200)}`);
}

/** Sequential small GETs, one at a time; the time of each in ms. */
export async function latencies(target: Target, iterations: number, newConnection: boolean): Promise<number[]> {
  const times: number[] = [];
  let client = target.client();
  try {
    for (let i = 0; i < iterations; i++) {
      if (newConnection && i > 0) {
        await client.close();
        client = target.client();
      }
      const t0 = performance.now();
      await smallGet(client, target);
      times.push(performance.now() - t0);
    }
  } finally {
    await client.close();
  }
  return times;
}

/** Small GETs from `concurrency` clients, each one request at a time, for `durationMs`; requests per second. */
export async function requestsPerSecond(target: Target, concurrency: number, durationMs: number): Promise<number> {
  const clients = Array.from({ length: concurrency }, () => target.client());
  let done = 0;
  const t0 = performance.now();
  const deadline = t0 + durationMs;
  try {
    await Promise.all(
      clients.map(async (client) => {
        while (performance.now() < deadline) {
          await smallGet(client, target);
          done++;
        }
      }),
    );
    return (done / (performance.now() - t0)) * 1000;
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
}
