import { mkdtempSync, rmSync, statSync, existsSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ExecutorLinkError, listenForExecutor } from './executor-link.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cordon-link-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function frame(value: unknown): Buffer {
  const body = Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));
  const header = Buffer.alloc(4);
  header.writeUInt32BE(body.length, 0);
  return Buffer.concat([header, body]);
}

function dial(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(path, () => resolve(s));
    s.once('error', reject);
  });
}

/** A stand-in executor: says hello, then answers each request with `answer(request)`. */
async function fakeExecutor(path: string, answer: (req: Record<string, unknown>, socket: Socket) => void): Promise<Socket> {
  const s = await dial(path);
  s.write(frame({ op: 'hello', version: 1, pid: 7 }));
  let buf = Buffer.alloc(0);
  s.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
      const n = buf.readUInt32BE(0);
      answer(JSON.parse(buf.subarray(4, 4 + n).toString()) as Record<string, unknown>, s);
      buf = buf.subarray(4 + n);
    }
  });
  return s;
}

describe('the runner\'s link to a container\'s executor', () => {
  it('answers requests in order over the first connection, and the socket is gone once it arrived', async () => {
    const path = join(dir, 'executor.sock');
    const pending = await listenForExecutor(path, 5000);
    expect(statSync(path).mode & 0o777).toBe(0o666);
    await fakeExecutor(path, (req, s) => s.write(frame({ echo: req.n })));
    const link = await pending.ready;
    expect(existsSync(path)).toBe(false);
    expect(await link.request({ n: 1 }, 100)).toEqual({ echo: 1 });
    expect(await link.request({ n: 2 }, 100)).toEqual({ echo: 2 });
    link.close();
  });

  it('lets no second connection pose as the executor', async () => {
    const path = join(dir, 'executor.sock');
    const pending = await listenForExecutor(path, 5000);
    await fakeExecutor(path, () => {});
    await pending.ready;
    await expect(dial(path)).rejects.toThrow();
  });

  it.each([
    ['a first frame that is not a hello', (s: Socket) => s.write(frame({ op: 'result' }))],
    ['a first frame too large for a hello', (s: Socket) => s.write(frame({ op: 'hello', version: 1, pad: 'x'.repeat(5000) }))],
    ['a first frame that is not JSON', (s: Socket) => s.write(frame('{nope'))],
  ])('refuses %s', async (_why, send) => {
    const path = join(dir, 'executor.sock');
    const pending = await listenForExecutor(path, 5000);
    send(await dial(path));
    await expect(pending.ready).rejects.toBeInstanceOf(ExecutorLinkError);
  });

  it('gives up on an executor that never connects', async () => {
    const pending = await listenForExecutor(join(dir, 'executor.sock'), 50);
    await expect(pending.ready).rejects.toMatchObject({ kind: 'timeout' });
  });

  it.each([
    ['a reply longer than asked for, refused from its header', (s: Socket) => s.write(Buffer.from([0x7f, 0xff, 0xff, 0xff]))],
    ['a reply that is not an object', (s: Socket) => s.write(frame([1, 2]))],
    ['a reply that is not JSON', (s: Socket) => s.write(frame('nope'))],
  ])('ends the link on %s, and every later request fails', async (_why, misbehave) => {
    const path = join(dir, 'executor.sock');
    const pending = await listenForExecutor(path, 5000);
    await fakeExecutor(path, (_req, s) => misbehave(s));
    const link = await pending.ready;
    const closed = new Promise<ExecutorLinkError>((resolve) => link.onClose(resolve));
    await expect(link.request({}, 1000)).rejects.toMatchObject({ kind: 'protocol' });
    expect((await closed).kind).toBe('protocol');
    expect(link.open).toBe(false);
    await expect(link.request({}, 1000)).rejects.toBeInstanceOf(ExecutorLinkError);
  });

  it('ends the link when the executor speaks unasked', async () => {
    const path = join(dir, 'executor.sock');
    const pending = await listenForExecutor(path, 5000);
    const s = await fakeExecutor(path, () => {});
    const link = await pending.ready;
    const closed = new Promise<ExecutorLinkError>((resolve) => link.onClose(resolve));
    s.write(frame({ surprise: true }));
    expect((await closed).kind).toBe('protocol');
  });

  it('fails a pending request when the executor goes away', async () => {
    const path = join(dir, 'executor.sock');
    const pending = await listenForExecutor(path, 5000);
    await fakeExecutor(path, (_req, s) => s.destroy());
    const link = await pending.ready;
    await expect(link.request({}, 1000)).rejects.toMatchObject({ kind: 'closed' });
  });
});
