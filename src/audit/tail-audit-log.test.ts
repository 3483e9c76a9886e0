import { appendFileSync, mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { rotatedFileName } from './chain-files.ts';
import { followAuditLog, readAuditTail, type TailEntry } from './tail-audit-log.ts';

const line = (seq: number, extra: Record<string, unknown> = {}) => JSON.stringify({ seq, kind: 'invocation', agent: seq % 2 === 0 ? 'even' : 'odd', ...extra }) + '\n';
const seqs = (entries: TailEntry[]) => entries.map((e) => ('record' in e ? e.record.seq : 'malformed'));

function logWith(lines: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-tail-'));
  const path = join(dir, 'audit.jsonl');
  writeFileSync(path, lines.join(''));
  return path;
}

describe('readAuditTail', () => {
  it('returns the last records oldest first, by agent when asked, without the torn line a crash leaves', () => {
    const path = logWith([...Array.from({ length: 50 }, (_, i) => line(i + 1)), '{"seq":51,"kind":"invo']);
    expect(seqs(readAuditTail(path, 5))).toEqual([46, 47, 48, 49, 50]);
    expect(seqs(readAuditTail(path, 3, { agent: 'even' }))).toEqual([46, 48, 50]);
    expect(seqs(readAuditTail(path, 500))).toHaveLength(50);
  });

  it('keeps lines whole across read chunks, and reports a line that is no record', () => {
    // ~1.3 MB of records of ~270 bytes: many chunk boundaries fall inside a line.
    const path = logWith(Array.from({ length: 5000 }, (_, i) => (i === 4990 ? 'not json\n' : line(i + 1, { resource: 'x'.repeat(200 + (i % 37)) }))));
    const tail = readAuditTail(path, 4000);
    expect(tail).toHaveLength(4000);
    const numbers = seqs(tail);
    expect(numbers.indexOf('malformed')).toBe(3990);
    expect(numbers.filter((n) => n !== 'malformed')).toEqual(Array.from({ length: 4000 }, (_, i) => 1001 + i).filter((n) => n !== 4991));
  });

  it('reads on into rotated files, in chain order', () => {
    const path = logWith([line(7), line(8)]);
    writeFileSync(rotatedFileName(path, 3), [1, 2, 3].map((n) => line(n)).join(''));
    writeFileSync(rotatedFileName(path, 6), [4, 5, 6].map((n) => line(n)).join(''));
    expect(seqs(readAuditTail(path, 6))).toEqual([3, 4, 5, 6, 7, 8]);
  });
});

describe('followAuditLog', () => {
  it('prints records as they are written, across a rotation, and only whole lines', async () => {
    const path = logWith([line(1)]);
    const seen: TailEntry[] = [];
    const stop = new AbortController();
    const following = followAuditLog(path, (e) => seen.push(e), { signal: stop.signal, pollMs: 10 });
    const until = async (n: number) => {
      for (let i = 0; i < 500 && seen.length < n; i++) await new Promise((r) => setTimeout(r, 10));
    };
    appendFileSync(path, line(2) + line(3).slice(0, 10));
    await until(1);
    appendFileSync(path, line(3).slice(10) + line(4));
    await until(3);
    // Rotation: the rest of the old file is written, it is renamed, a new file carries on.
    appendFileSync(path, line(5));
    renameSync(path, rotatedFileName(path, 5));
    writeFileSync(path, line(6) + line(7));
    await until(6);
    stop.abort();
    await following;
    expect(seqs(seen)).toEqual([2, 3, 4, 5, 6, 7]);
  });
});
