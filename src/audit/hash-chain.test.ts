import { mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AuditRecord } from './audit-sink.ts';
import { createJsonlAuditLog } from './jsonl-audit-log.ts';
import { verifyAuditLog } from './verify-audit-log.ts';
import { exitedRunnerId } from '../../test/support/exited-runner.ts';

let dir: string;
let path: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cordon-audit-'));
  path = join(dir, 'audit', 'audit.jsonl');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function record(i: number): AuditRecord {
  return { ts: new Date(Date.UTC(2026, 10, 29, 12, 0, i)).toISOString(), kind: 'invocation', id: `aud_${i}`, requestId: null, agent: 'coder', user: null, tokenId: 't', tool: 'code', action: 'code.exec', resource: 'language:javascript', sandbox: `sbx_${i}`, decision: { result: 'allow', reason: 'ok', ruleId: 'r' }, outcome: 'ok', durationMs: 1.25 + i, inputSha256: null };
}

async function write(n: number): Promise<void> {
  const log = createJsonlAuditLog(path);
  for (let i = 1; i <= n; i++) log.append(record(i));
  await log.close();
}

const lines = () => readFileSync(path, 'utf8').trimEnd().split('\n');
const save = (ls: string[]) => writeFileSync(path, ls.join('\n') + '\n');
const kinds = async () => (await verifyAuditLog(path)).problems.map((p) => [p.line, p.kind]);

describe('the hash-chained audit log', () => {
  it('numbers records from 1, links each to the one before, and verifies', async () => {
    await write(5);
    const parsed = lines().map((l) => JSON.parse(l) as { seq: number; prev: string; hash: string });
    expect(parsed.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(parsed[0]?.prev).toBe('0'.repeat(64));
    for (let i = 1; i < 5; i++) expect(parsed[i]?.prev).toBe(parsed[i - 1]?.hash);
    expect(await verifyAuditLog(path)).toMatchObject({ ok: true, records: 5, head: { seq: 5, hash: parsed[4]?.hash }, problems: [] });
  });

  it('goes on across restarts, from the file\'s last record', async () => {
    await write(3);
    await write(2);
    expect(lines().map((l) => (JSON.parse(l) as { seq: number }).seq)).toEqual([1, 2, 3, 4, 5]);
    expect((await verifyAuditLog(path)).ok).toBe(true);
  });

  it('finds an edited record', async () => {
    await write(5);
    const ls = lines();
    ls[2] = (ls[2] ?? '').replace('"outcome":"ok"', '"outcome":"POLICY_DENIED"');
    save(ls);
    expect(await kinds()).toEqual([[3, 'edited']]);
  });

  it('finds a record edited with its hash recomputed: the next record\'s link breaks', async () => {
    await write(4);
    const ls = lines();
    const forged = JSON.parse(ls[1] ?? '') as Record<string, unknown>;
    forged.agent = 'someone-else';
    const { recordHash } = await import('./hash-chain.ts');
    forged.hash = recordHash(forged);
    ls[1] = JSON.stringify(forged);
    save(ls);
    expect(await kinds()).toEqual([[3, 'broken_link']]);
  });

  it('finds a deleted record', async () => {
    await write(5);
    const ls = lines();
    ls.splice(1, 1);
    save(ls);
    expect(await kinds()).toEqual([[2, 'missing']]);
  });

  it('finds an inserted copy and a reordering', async () => {
    await write(4);
    const ls = lines();
    save([ls[0], ls[1], ls[1], ls[2], ls[3]].map(String));
    expect(await kinds()).toEqual([[3, 'out_of_order']]);
    save([ls[0], ls[2], ls[1], ls[3]].map(String));
    expect(await kinds()).toEqual([[2, 'missing'], [3, 'out_of_order'], [4, 'broken_link']]);
  });

  it('finds a line that is no record', async () => {
    await write(3);
    appendFileSync(path, 'not json\n{"seq":"x"}\n');
    expect(await kinds()).toEqual([[4, 'malformed'], [5, 'malformed']]);
  });

  it('cuts a torn last line (a crash mid-write) when it reopens, says so, and the chain goes on', async () => {
    await write(3);
    appendFileSync(path, '{"ts":"2026-11-29T12:00:09.000Z","kind":"invoc');
    const said: string[] = [];
    const log = createJsonlAuditLog(path, { onRepair: (what) => said.push(what) });
    log.append(record(4));
    await log.close();
    expect(said).toEqual([expect.stringContaining('cut a torn last line')]);
    expect(await verifyAuditLog(path)).toMatchObject({ ok: true, records: 4 });
  });

  it('moves an older log without a chain aside and starts a new chain', async () => {
    await write(1);
    writeFileSync(path, '{"ts":"x","kind":"invocation"}\n');
    const said: string[] = [];
    const log = createJsonlAuditLog(path, { onRepair: (what) => said.push(what) });
    log.append(record(1));
    await log.close();
    expect(said).toEqual([expect.stringContaining('moved aside')]);
    expect(await verifyAuditLog(path)).toMatchObject({ ok: true, records: 1 });
  });

  it('has one writer per chain: a second log on the same file keeps its own chain beside it, and both verify', async () => {
    const first = createJsonlAuditLog(path);
    const said: string[] = [];
    const second = createJsonlAuditLog(path, { onRepair: (what) => said.push(what) });
    expect(first.path).toBe(path);
    expect(second.path).not.toBe(path);
    expect(said).toEqual([expect.stringContaining('written by another runner')]);
    for (let i = 1; i <= 3; i++) {
      first.append(record(i));
      second.append(record(i));
    }
    await Promise.all([first.close(), second.close()]);
    expect(await verifyAuditLog(path)).toMatchObject({ ok: true, records: 3 });
    expect(await verifyAuditLog(second.path)).toMatchObject({ ok: true, records: 3 });
    // Once the first has closed, the file is free again, and its chain goes on.
    const third = createJsonlAuditLog(path);
    third.append(record(4));
    await third.close();
    expect(await verifyAuditLog(path)).toMatchObject({ ok: true, records: 4 });
  });

  it('takes over the lock of a runner that is gone (a crash)', async () => {
    await write(1);
    writeFileSync(`${path}.lock`, await exitedRunnerId());
    const log = createJsonlAuditLog(path);
    expect(log.path).toBe(path);
    log.append(record(2));
    await log.close();
    expect(await verifyAuditLog(path)).toMatchObject({ ok: true, records: 2 });
  });
});
