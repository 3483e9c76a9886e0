import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AuditRecord } from './audit-sink.ts';
import { listCheckpointFiles } from './checkpoint-file.ts';
import { signCheckpoint } from './checkpoint.ts';
import { openObservedLog } from '../../test/support/observed-log.ts';
import { createCheckpointer } from './checkpointer.ts';
import { recordHash } from './hash-chain.ts';
import { createNoteSigner, openNote } from './signed-note.ts';
import { verifyAuditLog } from './verify-audit-log.ts';

let dir: string;
let path: string;
const ORIGIN = 'cordon.test/audit';
const signer = createNoteSigner(ORIGIN, generateKeyPairSync('ed25519').privateKey);

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cordon-verify-'));
  path = join(dir, 'audit.jsonl');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function record(i: number): AuditRecord {
  return { ts: new Date(Date.UTC(2026, 10, 29, 12, 0, i)).toISOString(), kind: 'invocation', id: `aud_${i}`, requestId: null, agent: 'coder', user: null, tokenId: 't', tool: 'code', action: 'code.exec', resource: 'language:javascript', sandbox: null, decision: { result: 'allow', reason: 'ok', ruleId: 'r' }, outcome: 'ok', durationMs: 1, inputSha256: null };
}

/** A log of `n` records whose runner signed checkpoints as it went and on close. */
async function writeLog(n: number): Promise<void> {
  const { log: sink, observeWith } = openObservedLog(path);
  const checkpointer = createCheckpointer({ logPath: path, origin: ORIGIN, signer, every: 4, intervalMs: 10_000, mirror: null });
  observeWith((rs) => checkpointer.observe(rs));
  for (let i = 1; i <= n; i++) await sink.append(record(i));
  await sink.close();
  await checkpointer.close();
}

const lines = () => readFileSync(path, 'utf8').trimEnd().split('\n');
const save = (ls: string[]) => writeFileSync(path, ls.join('\n') + '\n');
const verify = async (extra: { from?: number; verifiers?: ReturnType<typeof createNoteSigner>[]; required?: string[]; files?: string[] } = {}) =>
  verifyAuditLog(path, {
    checkpointFiles: extra.files ?? (await listCheckpointFiles(path)),
    verifiers: extra.verifiers ?? [signer],
    ...(extra.from === undefined ? {} : { from: extra.from }),
    ...(extra.required === undefined ? {} : { requiredCheckpointFiles: extra.required }),
  });

/** Edits record `seq` and re-hashes it and every record after it, so the chain alone verifies. */
function rechainAfterEdit(seq: number, edit: (r: Record<string, unknown>) => void): void {
  const records = lines().map((l) => JSON.parse(l) as Record<string, unknown>);
  let prev = seq === 1 ? '0'.repeat(64) : (records[seq - 2]?.hash as string);
  for (let i = seq - 1; i < records.length; i++) {
    const r = records[i] as Record<string, unknown>;
    if (i === seq - 1) edit(r);
    r.prev = prev;
    r.hash = recordHash(r);
    prev = r.hash as string;
  }
  save(records.map((r) => JSON.stringify(r)));
}

describe('cordon audit verify against signed checkpoints', () => {
  it('passes an untouched log and says which checkpoint it checked', async () => {
    await writeLog(10);
    expect(await verify()).toMatchObject({ ok: true, records: 10, checkpoints: [{ size: 10 }], problems: [] });
  });

  it('finds a cut tail, and names the seqs that are gone', async () => {
    await writeLog(10);
    save(lines().slice(0, 7));
    const report = await verify();
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([expect.objectContaining({ kind: 'truncated', missing: { from: 8, to: 10 } })]);
    expect(report.problems[0]?.detail).toMatch(/seq 8–10 cut from the end/);
  });

  it('finds an edit whose author re-hashed the whole chain after it (the chain alone verifies)', async () => {
    await writeLog(10);
    rechainAfterEdit(5, (r) => (r.outcome = 'denied'));
    expect((await verify({ files: [] })).ok).toBe(true);
    expect((await verify()).problems.map((p) => p.kind)).toEqual(['checkpoint_mismatch']);
  });

  it('finds a re-chained log whose records were removed and whose tail was padded back to the signed size', async () => {
    await writeLog(10);
    // Record 4 removed, a made-up record appended to keep the signed length, then renumbered and re-hashed throughout.
    const records = lines().map((l) => JSON.parse(l) as Record<string, unknown>);
    const forged = [...records.slice(0, 3), ...records.slice(4), { ...record(99) }].map((r, i) => ({ ...r, seq: i + 1 }));
    save(forged.map((r) => JSON.stringify(r)));
    rechainAfterEdit(1, () => undefined);
    expect((await verify({ files: [] })).ok).toBe(true);
    const report = await verify();
    expect(report.records).toBe(10);
    expect(report.problems.map((p) => p.kind)).toEqual(['checkpoint_mismatch']);
  });

  it('reports a checkpoint forged with another key, and does not trust what it says', async () => {
    await writeLog(10);
    save(lines().slice(0, 6));
    // The forger cuts the tail and signs a checkpoint saying 6 records, with a key of its own under our name.
    const forger = createNoteSigner(ORIGIN, generateKeyPairSync('ed25519').privateKey);
    const genuine = openNote(readFileSync(`${path}.checkpoint`), [signer]).text.split('\n');
    writeFileSync(`${path}.checkpoint`, signCheckpoint({ origin: ORIGIN, size: 6, rootHash: Buffer.from(genuine[2] as string, 'base64'), chainHead: '0'.repeat(64), time: new Date().toISOString() }, forger));
    const report = await verify();
    expect(report.problems.map((p) => p.kind)).toEqual(['checkpoint_invalid']);
    expect(report.problems[0]?.detail).toMatch(/does not verify against Cordon's audit key/);
  });

  it('reports a configured mirror that is missing, and a garbage checkpoint file', async () => {
    await writeLog(3);
    const mirror = join(dir, 'mirror.checkpoint');
    writeFileSync(join(dir, 'junk.checkpoint'), Buffer.from([0xff, 0xfe, 0x00, 0x41]));
    const report = await verify({ files: [`${path}.checkpoint`, mirror, join(dir, 'junk.checkpoint')], required: [mirror] });
    expect(report.problems.map((p) => [p.kind, p.file])).toEqual([
      ['checkpoint_invalid', mirror],
      ['checkpoint_invalid', join(dir, 'junk.checkpoint')],
    ]);
  });

  it('still reports a cut tail after a restart: the runner keeps the checkpoint it could not match', async () => {
    await writeLog(10);
    save(lines().slice(0, 5));
    await writeLog(0);
    const report = await verify();
    expect(report.problems).toEqual([expect.objectContaining({ kind: 'truncated', missing: { from: 6, to: 10 }, file: expect.stringContaining('.checkpoint.rejected-') as string })]);
  });

  it('--from checks records from that seq on, trusting the ones before and the link into it', async () => {
    await writeLog(10);
    const records = lines();
    records[2] = (records[2] as string).replace('"outcome":"ok"', '"outcome":"oops"');
    save(records);
    // seq 3 is before --from 5: trusted as written (its stored hash still matches the checkpoint's tree).
    expect(await verify({ from: 5 })).toMatchObject({ ok: true, records: 10 });
    expect((await verify({ from: 3 })).problems.map((p) => [p.seq, p.kind])).toEqual([[3, 'edited']]);
    // The link into the --from record is trusted; the next one is checked.
    const relinked = lines();
    relinked[5] = JSON.stringify({ ...(JSON.parse(relinked[5] as string) as Record<string, unknown>), prev: 'f'.repeat(64) });
    save(relinked);
    const rehashed = lines().map((l) => JSON.parse(l) as Record<string, unknown>);
    (rehashed[5] as Record<string, unknown>).hash = recordHash(rehashed[5] as Record<string, unknown>);
    save(rehashed.map((r) => JSON.stringify(r)));
    // Seq 6 now links to nothing and has a new hash, so seq 7 no longer links to it either.
    expect((await verify({ from: 6, files: [] })).problems.map((p) => [p.seq, p.kind])).toEqual([[7, 'broken_link']]);
    expect((await verify({ from: 5, files: [] })).problems.map((p) => [p.seq, p.kind])).toEqual([
      [6, 'broken_link'],
      [7, 'broken_link'],
    ]);
  });

  it.each([[0], [-1], [1.5], [Number.NaN]])('--from refuses %s', async (from) => {
    await writeLog(2);
    await expect(verify({ from })).rejects.toMatchObject({ code: 'USAGE' });
  });

  it('--from refuses a seq past the end of the log', async () => {
    await writeLog(4);
    await expect(verify({ from: 5 })).rejects.toMatchObject({ code: 'USAGE', details: { last: 4 } });
    expect((await verify({ from: 4 })).ok).toBe(true);
  });
});
