import { createReadStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { AuditRecord } from '../src/audit/audit-sink.ts';
import { nodeAuditFs, type AuditDurability, type AuditFs } from '../src/audit/group-commit.ts';
import { createJsonlAuditLog } from '../src/audit/jsonl-audit-log.ts';
import { verifyAuditLog } from '../src/audit/verify-audit-log.ts';
import { generateKeyPairSync } from 'node:crypto';
import { createCheckpointer } from '../src/audit/checkpointer.ts';
import { createNoteSigner } from '../src/audit/signed-note.ts';

/**
 * The hash-chained audit log: durable appends per second with group commit — 64 appenders,
 * each awaiting its record on disk before it appends the next, as 64 concurrent calls do —
 * the same in buffered mode (no fdatasync), and `audit verify` records per second against its
 * floor, reading and parsing the same file line by line without checking anything
 * (interleaved rounds, median ratio).
 * Targets (issue 11): ≥ 20,000 durable appends/s; verify ≥ 500,000 records/s.
 */
const RECORDS = 100_000;
const APPENDERS = 64;

function record(i: number): AuditRecord {
  return { ts: new Date(1_795_000_000_000 + i).toISOString(), kind: 'invocation', id: `aud_${i.toString(36)}`, requestId: null, agent: 'coder', user: 'issuer#alice', tokenId: 'tok', tool: 'file.read', action: 'fs.read', resource: `file:/workspace/src/f${i}.ts`, sandbox: `sbx_${i}`, decision: { result: 'allow', reason: 'allowed by coding-read-write-workspace', ruleId: 'coding-read-write-workspace' }, outcome: 'ok', durationMs: 1.234, inputSha256: 'a'.repeat(64) };
}

async function parseOnly(path: string): Promise<number> {
  let n = 0;
  for await (const line of createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Number.POSITIVE_INFINITY })) {
    JSON.parse(line);
    n += 1;
  }
  return n;
}

/** RECORDS appends from APPENDERS concurrent appenders, each awaiting its own before its next. */
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] ?? Number.NaN;

async function appendConcurrently(path: string, durability: AuditDurability): Promise<{ perS: number; perSync: number; syncP50Ms: number }> {
  const syncMs: number[] = [];
  const fs: AuditFs = {
    write: nodeAuditFs.write,
    fdatasync: async (fd) => {
      const t = performance.now();
      await nodeAuditFs.fdatasync(fd);
      syncMs.push(performance.now() - t);
    },
  };
  const log = createJsonlAuditLog(path, { durability, fs });
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: APPENDERS }, async () => {
      while (next < RECORDS) await log.append(record(next++));
    }),
  );
  const perS = RECORDS / ((performance.now() - t0) / 1000);
  await log.close();
  const syncs = syncMs.length;
  return { perS, perSync: syncs === 0 ? Number.NaN : RECORDS / syncs, syncP50Ms: syncs === 0 ? Number.NaN : median(syncMs) };
}

export async function runAuditBench(rounds = 5): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-bench-audit-'));
  const path = join(dir, 'audit.jsonl');
  try {
    const durable = await appendConcurrently(path, 'durable');
    const buffered = await appendConcurrently(join(dir, 'buffered.jsonl'), 'buffered');
    const verify: number[] = [];
    const floor: number[] = [];
    for (let r = 0; r < rounds; r++) {
      let t = performance.now();
      const report = await verifyAuditLog(path);
      verify.push(performance.now() - t);
      if (!report.ok || report.records !== RECORDS) throw new Error('audit bench: the log did not verify');
      t = performance.now();
      await parseOnly(path);
      floor.push(performance.now() - t);
    }
    // Start-up: the checkpointer rebuilds the Merkle tree from the log's record hashes.
    const signer = createNoteSigner('cordon.bench/audit', generateKeyPairSync('ed25519').privateKey);
    const rebuild: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const t = performance.now();
      const checkpointer = createCheckpointer({ logPath: path, origin: 'cordon.bench/audit', signer, every: 1000, intervalMs: 10_000, mirror: null });
      rebuild.push(performance.now() - t);
      if (checkpointer.tree.size !== RECORDS) throw new Error('audit bench: the checkpointer did not see every record');
    }
    return {
      audit_append_per_s: Math.round(durable.perS),
      // The disk's part: 64 appenders in a closed loop cannot go faster than 64 per (sync + CPU).
      audit_append_records_per_fsync: Math.round(durable.perSync * 10) / 10,
      audit_fdatasync_p50_ms: Math.round(durable.syncP50Ms * 1000) / 1000,
      audit_append_buffered_per_s: Math.round(buffered.perS),
      audit_verify_records_per_s: Math.round(RECORDS / (median(verify) / 1000)),
      audit_verify_vs_parse_only: Math.round(median(verify.map((v, i) => v / (floor[i] ?? Number.NaN))) * 1000) / 1000,
      audit_checkpoint_rebuild_records_per_s: Math.round(RECORDS / (median(rebuild) / 1000)),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
