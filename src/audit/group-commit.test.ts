import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CordonError } from '../core/errors.ts';
import type { AuditRecord } from './audit-sink.ts';
import { rotatedFileName } from './chain-files.ts';
import { nodeAuditFs, type AuditFs } from './group-commit.ts';
import type { ChainedRecord } from './hash-chain.ts';
import { createJsonlAuditLog, type JsonlAuditLogOptions } from './jsonl-audit-log.ts';
import { verifyAuditLog } from './verify-audit-log.ts';

let dir: string;
let path: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cordon-group-commit-'));
  path = join(dir, 'audit.jsonl');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function record(i: number): AuditRecord {
  return { ts: new Date(Date.UTC(2026, 10, 29, 12, 0, 0, i)).toISOString(), kind: 'invocation', id: `aud_${i}`, requestId: null, agent: 'coder', user: null, tokenId: null, tool: 'code', action: 'code.exec', resource: null, sandbox: null, decision: null, outcome: 'ok', durationMs: 1, inputSha256: null };
}

/** The real calls, counted; `failWrite` / `failSync` make the n-th call (1-based) fail like a full disk or a dying device. */
function countingFs(fail: { write?: number; sync?: number } = {}) {
  const calls = { write: 0, sync: 0, syncedBytes: [] as number[] };
  let written = 0;
  const fs: AuditFs = {
    async write(fd, data) {
      calls.write += 1;
      if (calls.write === fail.write) throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
      const n = await nodeAuditFs.write(fd, data);
      written += n;
      return n;
    },
    async fdatasync(fd) {
      calls.sync += 1;
      if (calls.sync === fail.sync) throw Object.assign(new Error('i/o error'), { code: 'EIO' });
      await nodeAuditFs.fdatasync(fd);
      calls.syncedBytes.push(written);
    },
  };
  return { fs, calls };
}

const fileLines = (p = path) => readFileSync(p, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as ChainedRecord);

/** Settles every promise and says which indexes resolved and which rejected, with what. */
async function outcomes(appends: Promise<void>[]) {
  const settled = await Promise.allSettled(appends);
  return {
    resolved: settled.flatMap((s, i) => (s.status === 'fulfilled' ? [i] : [])),
    rejected: settled.flatMap((s, i) => (s.status === 'rejected' ? [i] : [])),
    errors: settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as unknown] : [])),
  };
}

describe('durable group commit', () => {
  it('writes 500 appends of one tick in far fewer write+fdatasync pairs than records, in append order, and each resolves only after a sync that covered it', async () => {
    const { fs, calls } = countingFs();
    const commits: (readonly ChainedRecord[])[] = [];
    const log = createJsonlAuditLog(path, { fs, onCommit: (rs) => commits.push(rs) });
    const order: number[] = [];
    const appends = Array.from({ length: 500 }, (_, i) =>
      log.append(record(i)).then(() => {
        order.push(i);
        // When this record is reported durable, a sync has already covered its bytes.
        const synced = calls.syncedBytes.at(-1) ?? 0;
        expect(readFileSync(path).subarray(0, synced).toString()).toContain(`"id":"aud_${i}"`);
      }),
    );
    await Promise.all(appends);
    await log.close();
    expect(calls.sync).toBeLessThan(10);
    expect(calls.write).toBe(calls.sync);
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(fileLines().map((r) => r.id)).toEqual(Array.from({ length: 500 }, (_, i) => `aud_${i}`));
    // The checkpoint hook: once per batch, the batch's records in chain order, all of them once.
    expect(commits.length).toBe(calls.sync);
    expect(commits.flat().map((r) => r.seq)).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
    expect(commits.flat()).toEqual(fileLines());
    expect(await verifyAuditLog(path)).toMatchObject({ ok: true, records: 500 });
  });

  it('records appended while a sync is in flight wait for it, then go together in the next batch: one write and one sync', async () => {
    const gates: (() => void)[] = [];
    const writes: string[] = [];
    const fs: AuditFs = {
      write: (fd, data) => {
        writes.push(data.toString());
        return nodeAuditFs.write(fd, data);
      },
      // Each sync waits until the test lets it finish.
      fdatasync: (fd) => new Promise<void>((done) => gates.push(() => void nodeAuditFs.fdatasync(fd).then(done))),
    };
    const commits: number[][] = [];
    const log = createJsonlAuditLog(path, { fs, onCommit: (rs) => commits.push(rs.map((r) => r.seq)) });
    let firstDone = false;
    const first = log.append(record(0)).then(() => (firstDone = true));
    while (gates.length === 0) await new Promise((r) => setImmediate(r));
    // The first batch's sync is in flight: these three must not be written yet, nor report durable.
    const later = [1, 2, 3].map((i) => log.append(record(i)));
    await new Promise((r) => setImmediate(r));
    expect(writes).toHaveLength(1);
    expect(firstDone).toBe(false);
    gates.shift()?.();
    await first;
    while (gates.length === 0) await new Promise((r) => setImmediate(r));
    expect(writes).toHaveLength(2);
    expect(writes[1]?.split('\n').filter((l) => l !== '').map((l) => (JSON.parse(l) as ChainedRecord).id)).toEqual(['aud_1', 'aud_2', 'aud_3']);
    gates.shift()?.();
    await Promise.all(later);
    expect(commits).toEqual([[1], [2, 3, 4]]);
    await log.close();
  });

  it('keeps order under concurrency: 64 appenders each awaiting its own before the next, records batched and chained in the order appended', async () => {
    const { fs, calls } = countingFs();
    const log = createJsonlAuditLog(path, { fs });
    const appended: string[] = [];
    await Promise.all(
      Array.from({ length: 64 }, async (_, w) => {
        for (let i = 0; i < 20; i++) {
          const r = { ...record(i), id: `aud_${w}_${i}` };
          appended.push(r.id);
          await log.append(r);
        }
      }),
    );
    await log.close();
    expect(fileLines().map((r) => r.id)).toEqual(appended);
    // 1,280 records; an appender's next record waits for its last, so batches hold many writers' records.
    expect(calls.sync).toBeLessThan(1280 / 8);
    expect(await verifyAuditLog(path)).toMatchObject({ ok: true, records: 1280 });
  });

  it.each<[string, { write?: number; sync?: number }]>([
    ['write', { write: 2 }],
    ['fdatasync', { sync: 2 }],
  ])('after a failed %s: that batch and every later append reject with AUDIT_UNAVAILABLE, said once; none is reported durable', async (_what, fail) => {
    const { fs, calls } = countingFs(fail);
    const failures: CordonError[] = [];
    const log = createJsonlAuditLog(path, { fs, onFailure: (e) => failures.push(e) });
    // Batch 1 goes through.
    await expect(log.append(record(0))).resolves.toBeUndefined();
    // Batch 2 fails: all of it is refused.
    const second = await outcomes([1, 2, 3].map((i) => log.append(record(i))));
    expect(second.resolved).toEqual([]);
    expect(second.rejected).toEqual([0, 1, 2]);
    // And the log stays failed: later appends are refused at once, without touching the file.
    const before = { ...calls };
    const later = await outcomes([4, 5].map((i) => log.append(record(i))));
    expect(later.resolved).toEqual([]);
    expect([calls.write, calls.sync]).toEqual([before.write, before.sync]);
    for (const e of [...second.errors, ...later.errors]) {
      expect(e).toBeInstanceOf(CordonError);
      expect(e).toMatchObject({ code: 'AUDIT_UNAVAILABLE', httpStatus: 503 });
    }
    expect(failures).toHaveLength(1);
    expect(failures[0]?.details).toEqual({ reason: fail.write === undefined ? 'EIO' : 'ENOSPC' });
    await log.close();
  });

  it('in buffered mode resolves after the write, with no fdatasync', async () => {
    const { fs, calls } = countingFs();
    const log = createJsonlAuditLog(path, { fs, durability: 'buffered' });
    await Promise.all([0, 1, 2].map((i) => log.append(record(i))));
    await log.close();
    expect(calls.sync).toBe(0);
    expect(calls.write).toBeGreaterThan(0);
    expect(fileLines()).toHaveLength(3);
  });

  it('refuses appends after close, and close waits for what was pending', async () => {
    const log = createJsonlAuditLog(path);
    const pending = log.append(record(0));
    await log.close();
    await expect(pending).resolves.toBeUndefined();
    expect(fileLines()).toHaveLength(1);
    await expect(log.append(record(1))).rejects.toMatchObject({ code: 'AUDIT_UNAVAILABLE' });
  });

  it('a hook that throws fails the log closed', async () => {
    const log = createJsonlAuditLog(path, {
      onCommit: () => {
        throw new Error('checkpoint signer broke');
      },
    });
    await expect(log.append(record(0))).rejects.toMatchObject({ code: 'AUDIT_UNAVAILABLE' });
    await expect(log.append(record(1))).rejects.toMatchObject({ code: 'AUDIT_UNAVAILABLE' });
    await log.close();
  });
});

describe('rotation', () => {
  const open = (options: JsonlAuditLogOptions = {}) => createJsonlAuditLog(path, { rotateBytes: 4096, ...options });

  async function writeInBatches(log: ReturnType<typeof open>, from: number, to: number) {
    // One await per record: each its own batch, so rotation can happen between any two.
    for (let i = from; i < to; i++) await log.append(record(i));
  }

  it('renames the live file by its last seq once it passes the limit, and the chain goes on in a new file and across a restart', async () => {
    let log = open();
    await writeInBatches(log, 0, 40);
    await log.close();
    const report = await verifyAuditLog(path);
    expect(report.files.length).toBeGreaterThan(2);
    expect(report).toMatchObject({ ok: true, records: 40, head: { seq: 40 }, tornTail: null });
    // Each rotated file is named by its last record's seq, and the next file's first record links to it.
    const files = report.files;
    for (let k = 0; k + 1 < files.length; k++) {
      const last = fileLines(files[k]).at(-1);
      const next = fileLines(files[k + 1])[0];
      expect(files[k]).toMatch(new RegExp(`audit-${String(last?.seq).padStart(12, '0')}\\.jsonl$`));
      if (next !== undefined) expect(next.prev).toBe(last?.hash);
    }
    // Restart, possibly with an empty live file just after a rotation: the head comes from the newest rotated file.
    log = open({ rotateBytes: 1024 * 1024 });
    await writeInBatches(log, 40, 45);
    await log.close();
    expect(await verifyAuditLog(path)).toMatchObject({ ok: true, records: 45, head: { seq: 45 } });
  });

  it('starts from the newest rotated file when the live file is missing', async () => {
    const log = open();
    await writeInBatches(log, 0, 40);
    await log.close();
    rmSync(path, { force: true });
    const before = await verifyAuditLog(path);
    const again = open({ rotateBytes: 1024 * 1024 });
    await again.append(record(99));
    await again.close();
    const after = await verifyAuditLog(path);
    expect(after.ok).toBe(true);
    expect(after.records).toBe(before.records + 1);
    expect(fileLines()[0]).toMatchObject({ seq: (before.head?.seq ?? 0) + 1, prev: before.head?.hash });
  });

  it('never overwrites a rotated file: a name already taken fails the log closed, and the old file is kept', async () => {
    const failures: unknown[] = [];
    const log = open({ onFailure: (e) => failures.push(e) });
    // Seq 1's rotated name is taken (by a chain that started over, say).
    writeFileSync(rotatedFileName(path, 1), 'older records\n');
    // One big record passes 4 KiB in its first batch: it is written and durable, then rotation fails.
    await expect(log.append({ ...record(0), resource: 'x'.repeat(5000) })).resolves.toBeUndefined();
    await expect(log.append(record(1))).rejects.toMatchObject({ code: 'AUDIT_UNAVAILABLE', details: { reason: 'EEXIST' } });
    expect(failures).toHaveLength(1);
    expect(readFileSync(rotatedFileName(path, 1), 'utf8')).toBe('older records\n');
    await log.close();
  });

  it('reports a deleted middle rotated file as records missing at the start of the next file', async () => {
    const log = open();
    await writeInBatches(log, 0, 40);
    await log.close();
    const { files } = await verifyAuditLog(path);
    const middle = files[1] as string;
    const lost = fileLines(middle);
    rmSync(middle);
    const report = await verifyAuditLog(path);
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([
      expect.objectContaining({ file: files[2], line: 1, kind: 'missing', detail: expect.stringContaining(`seq ${lost[0]?.seq}–${lost.at(-1)?.seq} missing`) as string }),
    ]);
  });

  it('reports records cut from the end of a rotated file', async () => {
    const log = open();
    await writeInBatches(log, 0, 40);
    await log.close();
    const { files } = await verifyAuditLog(path);
    const first = files[0] as string;
    const kept = readFileSync(first, 'utf8').split('\n').filter((l) => l !== '');
    writeFileSync(first, kept.slice(0, -1).join('\n') + '\n');
    const kinds = (await verifyAuditLog(path)).problems.map((p) => [p.file, p.kind]);
    expect(kinds).toEqual([
      [files[0], 'cut_rotated'],
      [files[1], 'missing'],
    ]);
  });
});

describe('a torn last line (what a crash mid-write leaves)', () => {
  it('is reported by verify as a torn tail, not a record and not tampering; the next open cuts it and the chain goes on', async () => {
    let log = createJsonlAuditLog(path);
    await Promise.all([0, 1, 2].map((i) => log.append(record(i))));
    await log.close();
    const whole = readFileSync(path, 'utf8');
    const fourth = JSON.stringify({ ...fileLines()[2], seq: 4 });
    appendFileSync(path, fourth.slice(0, 40));
    expect(await verifyAuditLog(path)).toMatchObject({ ok: true, records: 3, head: { seq: 3 }, problems: [], tornTail: { file: path, line: 4, bytes: 40 } });
    const repairs: string[] = [];
    log = createJsonlAuditLog(path, { onRepair: (what) => repairs.push(what) });
    expect(repairs).toEqual([expect.stringContaining('cut a torn last line of 40 bytes')]);
    expect(readFileSync(path, 'utf8')).toBe(whole);
    await log.append(record(3));
    await log.close();
    expect(await verifyAuditLog(path)).toMatchObject({ ok: true, records: 4, head: { seq: 4 }, tornTail: null });
  });

  it('a torn line that is not the last is malformed: only a crash can tear, and only the end', async () => {
    const log = createJsonlAuditLog(path);
    await Promise.all([0, 1].map((i) => log.append(record(i))));
    await log.close();
    const [a, b] = readFileSync(path, 'utf8').split('\n');
    writeFileSync(path, `${a}\n${b?.slice(0, 30)}\n${b}\n`);
    expect((await verifyAuditLog(path)).problems).toEqual([expect.objectContaining({ line: 2, kind: 'malformed' })]);
  });
});
