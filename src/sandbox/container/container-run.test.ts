import { describe, expect, it } from 'vitest';
import { maxReplyBytes, parseRunReply, ReplyError } from './container-run.ts';

const caps = { outputBytes: 16, resultBytes: 8 };
const b64 = (s: string) => Buffer.from(s).toString('base64');
const ok = { status: 'ok', stdout: b64('hi\n'), stderr: '', truncated: false };

describe('a container run reply, checked on the runner side', () => {
  it('decodes output and keeps the runner\'s own duration, whatever the executor claims', () => {
    const r = parseRunReply({ ...ok, durationMs: 0.001, value: "'x'", exitCode: 0 }, caps, 12);
    expect(r).toMatchObject({ status: 'ok', stdout: 'hi\n', stderr: '', truncated: false, durationMs: 12, value: "'x'", exitCode: 0 });
  });

  it('cuts output past the call\'s cap, stdout first, and says so, though the executor claimed it did not', () => {
    const r = parseRunReply({ ...ok, stdout: b64('a'.repeat(10)), stderr: b64('b'.repeat(10)) }, caps, 1);
    expect(r.stdout).toBe('a'.repeat(10));
    expect(r.stderr).toBe('b'.repeat(6));
    expect(r.truncated).toBe(true);
    expect(parseRunReply({ ...ok, stdout: b64('a'.repeat(40)) }, caps, 1).stdout).toHaveLength(16);
  });

  it('cuts a value past the result cap, and error fields to their caps', () => {
    expect(parseRunReply({ ...ok, value: 'v'.repeat(100) }, caps, 1).value).toBe('v'.repeat(8));
    const r = parseRunReply({ ...ok, status: 'error', error: { name: 'N'.repeat(500), message: 'm'.repeat(10_000), line: 3 } }, caps, 1);
    expect(r.error?.name).toHaveLength(128);
    expect(r.error?.message).toHaveLength(4096);
    expect(r.error?.line).toBe(3);
  });

  it('turns invalid UTF-8 into replacement characters rather than failing', () => {
    const r = parseRunReply({ ...ok, stdout: Buffer.from([0xff, 0xfe, 0x41]).toString('base64') }, caps, 1);
    expect(r.stdout).toBe('\uFFFD\uFFFDA');
  });

  it('drops a line number that is not a positive integer', () => {
    for (const line of [-1, 0, 1.5, '3', 2 ** 60]) {
      expect(parseRunReply({ ...ok, status: 'error', error: { name: 'E', message: 'm', line } }, caps, 1).error).toEqual({ name: 'E', message: 'm' });
    }
  });

  it.each([
    ['an unknown status', { ...ok, status: 'fine' }],
    ['a status that is not a string', { ...ok, status: 1 }],
    ['stdout that is not base64', { ...ok, stdout: 'not base64!' }],
    ['missing stderr', { status: 'ok', stdout: '' }],
    ['a value that is not a string', { ...ok, value: { a: 1 } }],
    ['an error that is a string', { ...ok, error: 'boom' }],
    ['an error without a message', { ...ok, error: { name: 'E' } }],
    ['an exit code out of range', { ...ok, exitCode: 256 }],
    ['a negative exit code', { ...ok, exitCode: -1 }],
    ['a fractional exit code', { ...ok, exitCode: 1.5 }],
  ])('refuses %s', (_why, reply) => {
    expect(() => parseRunReply(reply as Record<string, unknown>, caps, 1)).toThrow(ReplyError);
  });

  it('reads at most what the caps allow, with room for encoding', () => {
    expect(maxReplyBytes({ outputBytes: 3000, resultBytes: 100 })).toBe(4000 + 8 + 600 + 65536);
  });
});
