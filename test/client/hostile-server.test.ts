import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { clientRefusal as refusal } from '../support/cordon-errors.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CordonClientError } from 'cordon';
import { Cordon } from 'cordon';
import { makeTestAgent } from '../support/test-config.ts';

// A broken or hostile server must not be able to make the client buffer without bound, hang
// past its timeout, recurse itself to death, or hand the caller an object of the wrong shape;
// each answer below is a typed client error, and the same client works for the next call.
const agent = makeTestAgent('coder');
const LIMIT_BYTES = 4 * 1024 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, 0x20);

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
let handler: Handler;
let server: Server;
let url: string;
let sentBytes = 0;
let requests = 0;
let cordon: Cordon;

/** Streams spaces until the client hangs up or `totalBytes` are written, counting what was sent. */
function stream(res: ServerResponse, totalBytes: number): void {
  let closed = false;
  res.on('close', () => {
    closed = true;
  });
  const pump = () => {
    while (!closed && sentBytes < totalBytes) {
      sentBytes += CHUNK.length;
      if (!res.write(CHUNK)) return void res.once('drain', pump);
    }
    if (!closed) res.end();
  };
  pump();
}

const json = (status: number, body: string, headers: Record<string, string> = {}): Handler => (_req, res) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(body);
};
const GOOD = json(200, JSON.stringify({ tools: [] }));

beforeAll(async () => {
  server = createServer((req, res) => {
    requests++;
    handler(req, res);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  cordon = new Cordon({ url, agent: { id: agent.id, privateKey: agent.privateKey }, maxResponseBytes: LIMIT_BYTES, timeoutMs: 1500, maxJsonDepth: 64 });
});
afterAll(async () => {
  await cordon?.close();
  server?.closeAllConnections();
  await new Promise((done) => server?.close(done));
});

/** The answer `handle` gives becomes this error; then a good answer is read again by the same client. */
async function answerFails(handle: Handler): Promise<CordonClientError> {
  handler = handle;
  sentBytes = 0;
  const err = await refusal(cordon.tools());
  handler = GOOD;
  expect(await cordon.tools()).toEqual([]);
  return err;
}

describe('answers too large', () => {
  it('stops reading a streamed body at maxResponseBytes: the server could send 1 GiB, it sends far less', async () => {
    const err = await answerFails((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      stream(res, 1024 * 1024 * 1024);
    });
    expect([err.code, err.status, err.details.limitBytes]).toEqual(['CLIENT_RESPONSE_TOO_LARGE', 200, LIMIT_BYTES]);
    // What the server managed to write before the client hung up: the limit plus socket buffers.
    expect(sentBytes).toBeLessThan(64 * 1024 * 1024);
  });

  it('refuses a declared Content-Length over the limit before reading the body', async () => {
    const err = await answerFails((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(1024 * 1024 * 1024) });
      stream(res, 1024 * 1024 * 1024);
    });
    expect(err.code).toBe('CLIENT_RESPONSE_TOO_LARGE');
    expect(err.message).toContain('declares');
    expect(sentBytes).toBeLessThan(64 * 1024 * 1024);
  });

  it('refuses headers over 16 KiB', async () => {
    const err = await answerFails((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'x-filler': 'a'.repeat(64 * 1024) });
      res.end('{}');
    });
    expect(err.code).toBe('CLIENT_RESPONSE_TOO_LARGE');
  });
});

describe('answers that are not what Cordon sends', () => {
  it.each([
    ['HTML with status 200', (_req: IncomingMessage, res: ServerResponse) => void res.writeHead(200, { 'content-type': 'text/html' }).end('<html>hi</html>'), 'not_json'],
    ['broken JSON', json(200, '{"tools": [nope'), 'not_json'],
    ['a JSON array at the top', json(200, '[1,2,3]'), 'not_an_object'],
    ['invalid UTF-8', (_req: IncomingMessage, res: ServerResponse) => void res.writeHead(200, { 'content-type': 'application/json' }).end(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d])), 'not_utf8'],
    ['a bomb of nested arrays', json(200, '{"tools":' + '['.repeat(1_000_000) + ']'.repeat(1_000_000) + '}'), 'too_deep'],
    ['nested objects past maxJsonDepth', json(200, '{"a":'.repeat(65) + '1' + '}'.repeat(65)), 'too_deep'],
    ['the wrong shape', json(200, JSON.stringify({ tools: 'none' })), 'shape'],
    ['a tool without a schema', json(200, JSON.stringify({ tools: [{ name: 'code', description: 'x', inputSchema: 1, outputSchema: {}, annotations: {} }] })), 'shape'],
    ["a proxy's error page", (_req: IncomingMessage, res: ServerResponse) => void res.writeHead(502, { 'content-type': 'text/html' }).end('<h1>Bad Gateway</h1>'), 'not_json'],
    ['an error status without a Cordon error body', json(500, '{"message":"oops"}'), 'no_error_body'],
  ])('%s is CLIENT_RESPONSE_MALFORMED', async (_name, handle, reason) => {
    const err = await answerFails(handle);
    expect([err.code, err.details.reason]).toEqual(['CLIENT_RESPONSE_MALFORMED', reason]);
  });

  it('keeps a nesting that is only brackets inside strings (not structure)', async () => {
    handler = json(200, JSON.stringify({ tools: [{ name: 'x', description: '['.repeat(10_000), inputSchema: {}, outputSchema: {}, annotations: {} }] }));
    expect((await cordon.tools()).map((t) => t.description.length)).toEqual([10_000]);
    handler = GOOD;
  });

  it('gives a code it does not know as CLIENT_UNKNOWN_ERROR with the server code in details', async () => {
    const err = await answerFails(json(418, JSON.stringify({ error: { code: 'TEAPOT_FULL', message: 'short and stout', details: {}, requestId: 'req_1' } })));
    expect([err.code, err.status, err.details.serverCode, err.requestId]).toEqual(['CLIENT_UNKNOWN_ERROR', 418, 'TEAPOT_FULL', 'req_1']);
  });

  it('never follows a redirect: the token would go to another origin', async () => {
    let elsewhere = 0;
    const other = createServer((_req, res) => {
      elsewhere++;
      res.end();
    });
    await new Promise<void>((done) => other.listen(0, '127.0.0.1', done));
    try {
      const target = `http://127.0.0.1:${(other.address() as AddressInfo).port}/v1/tools`;
      const err = await answerFails((_req, res) => void res.writeHead(307, { location: target }).end());
      expect([err.code, err.status]).toEqual(['CLIENT_RESPONSE_MALFORMED', 307]);
      expect(elsewhere).toBe(0);
    } finally {
      await new Promise((done) => other.close(done));
    }
  });

  it('refuses a run result whose status it does not know, keeping the call id', async () => {
    handler = json(200, JSON.stringify({ id: 'inv_x', tool: 'code', status: 'exploded', output: null, durationMs: 1 }));
    const err = await refusal(cordon.run('code', { language: 'javascript', source: '1' }));
    expect([err.code, err.details.reason, err.details.invocation]).toEqual(['CLIENT_RESPONSE_MALFORMED', 'unknown_status', 'inv_x']);
    handler = json(202, JSON.stringify({ id: 'inv_x', status: 'ok' }));
    expect((await refusal(cordon.run('code', {}))).details.reason).toBe('shape');
    handler = GOOD;
  });
});

describe('answers that never finish', () => {
  it('times out a body that drips one byte at a time past timeoutMs', async () => {
    const err = await answerFails((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{');
      const drip = setInterval(() => res.write(' '), 100);
      res.on('close', () => clearInterval(drip));
    });
    expect([err.code, err.details.timeoutMs]).toEqual(['CLIENT_TIMEOUT', 1500]);
  });

  it('lets a long-poll wait longer than timeoutMs: the wait is added to the deadline', async () => {
    // Regression: undici's headers timeout was the client's timeoutMs, which cut every long-poll
    // that waited longer than that (here: a 2 s wait with timeoutMs 1500).
    const asked: string[] = [];
    handler = (req, res) => {
      asked.push(req.url ?? '');
      setTimeout(() => json(200, JSON.stringify({ id: 'inv_x', tool: 'file.delete', status: 'ok', output: { path: 'a' }, durationMs: 1 }))(req, res), 2000);
    };
    expect(await cordon.waitForApproval('inv_x', { timeoutMs: 60_000 })).toMatchObject({ id: 'inv_x', status: 'ok' });
    expect(asked).toEqual(['/v1/invocations/inv_x?waitMs=25000']);
    handler = GOOD;
  });

  it('times out a server that never answers', async () => {
    const err = await answerFails(() => undefined);
    expect(err.code).toBe('CLIENT_TIMEOUT');
  });

  it("stops at the caller's signal with CLIENT_ABORTED", async () => {
    handler = () => undefined;
    const err = await refusal(cordon.tools({ signal: AbortSignal.timeout(50) }));
    expect(err.code).toBe('CLIENT_ABORTED');
    handler = GOOD;
    expect(await cordon.tools()).toEqual([]);
  });

  it('gives CLIENT_TRANSPORT_FAILED for a reset connection and for a port nobody listens on', async () => {
    expect((await answerFails((req) => req.socket.destroy())).code).toBe('CLIENT_TRANSPORT_FAILED');
    const closed = createServer();
    await new Promise<void>((done) => closed.listen(0, '127.0.0.1', done));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((done) => closed.close(done));
    const nowhere = new Cordon({ url: `http://127.0.0.1:${port}`, agent: { id: agent.id, privateKey: agent.privateKey } });
    try {
      expect((await refusal(nowhere.tools())).code).toBe('CLIENT_TRANSPORT_FAILED');
    } finally {
      await nowhere.close();
    }
  });

  it('ends a request under way with CLIENT_CLOSED when the client is closed', async () => {
    const own = new Cordon({ url, agent: { id: agent.id, privateKey: agent.privateKey } });
    handler = () => undefined;
    const seen = requests;
    const pending = refusal(own.tools());
    for (let i = 0; i < 500 && requests === seen; i++) await new Promise((r) => setTimeout(r, 10));
    await own.close();
    expect((await pending).code).toBe('CLIENT_CLOSED');
    handler = GOOD;
  });
});
