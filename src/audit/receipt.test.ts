import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AuditRecord } from './audit-sink.ts';
import { signCheckpoint } from './checkpoint.ts';
import { openObservedLog } from '../../test/support/observed-log.ts';
import { createCheckpointer, type Checkpointer } from './checkpointer.ts';
import { recordHash, type ChainedRecord } from './hash-chain.ts';
import { createInvocationIndex, createReceiptStore, type ReceiptStore } from './receipt-store.ts';
import { verifyReceipt, type Receipt } from './receipt.ts';
import { createNoteSigner, formatVerifierKey, openNote } from './signed-note.ts';
import type { AuditSink } from './audit-sink.ts';

const ORIGIN = 'cordon.test/audit';
const signer = createNoteSigner(ORIGIN, generateKeyPairSync('ed25519').privateKey);
const KEY = formatVerifierKey(signer);

let dir: string;
let path: string;
let sink: AuditSink;
let checkpointer: Checkpointer;
let store: ReceiptStore;

function record(i: number, agent = 'coder'): AuditRecord {
  return { ts: new Date(Date.UTC(2026, 10, 29, 12, 0, i % 60)).toISOString(), kind: 'invocation', id: `aud_${i}`, requestId: null, agent, user: 'cordon-local-users#alice', tokenId: 't', tool: 'code', action: 'code.exec', resource: 'language:javascript', sandbox: null, decision: { result: 'allow', reason: 'permitted by policy', ruleId: 'coding-js' }, outcome: 'ok', durationMs: 1, inputSha256: null, invocation: `inv_${String(i).padStart(26, '0')}` };
}

/** The runtime's audit wiring in small: log, checkpointer (every 8 records) and receipt store. */
function open(recentRecords = 4096): void {
  const { log, observeWith } = openObservedLog(path);
  const index = createInvocationIndex();
  checkpointer = createCheckpointer({ logPath: path, origin: ORIGIN, signer, every: 8, intervalMs: 60_000, mirror: null, onRecord: index.add });
  store = createReceiptStore({ checkpointer, index, logPath: path, verifierKey: KEY, recentRecords });
  observeWith((rs) => {
    store.observe(rs);
    checkpointer.observe(rs);
  });
  sink = log;
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cordon-receipt-'));
  path = join(dir, 'audit.jsonl');
  open();
  for (let i = 1; i <= 20; i++) await sink.append(record(i));
});
afterEach(async () => {
  await sink.close();
  await checkpointer.close();
  rmSync(dir, { recursive: true, force: true });
});

const anyone = () => true;
const receiptOf = async (i: number): Promise<Receipt> => {
  const r = await store.receipt(record(i).invocation as string, anyone);
  if (r === null) throw new Error(`no receipt for ${i}`);
  return r;
};
/** A receipt through JSON, as a client gets it. */
interface Wire {
  record: Record<string, unknown>;
  checkpoint: string;
  proof: { leafIndex: number; treeSize: number; path: string[] };
  verifierKey: string;
}
const wire = (r: Receipt | Wire) => JSON.parse(JSON.stringify(r)) as Wire;

describe('receipts', () => {
  it('verify: the record, a checkpoint that covers it, and the proof to its root', async () => {
    const receipt = wire(await receiptOf(13));
    expect(receipt.record).toMatchObject({ seq: 13, invocation: record(13).invocation, agent: 'coder', user: 'cordon-local-users#alice', decision: { result: 'allow', ruleId: 'coding-js' } });
    expect(receipt.proof).toMatchObject({ leafIndex: 12, treeSize: 16 });
    expect(receipt.verifierKey).toBe(KEY);
    expect(verifyReceipt(receipt, KEY)).toMatchObject({ ok: true, checkpoint: { origin: ORIGIN, size: 16 } });
  });

  it('signs a checkpoint at once when none covers the record yet', async () => {
    expect(checkpointer.latest()?.checkpoint.size).toBe(16);
    const receipt = await receiptOf(19);
    expect(receipt.proof.treeSize).toBe(20);
    expect(checkpointer.latest()?.checkpoint.size).toBe(20);
    expect(verifyReceipt(wire(receipt), KEY).ok).toBe(true);
  });

  it('reads an older record from the log file when it is no longer in memory', async () => {
    await sink.close();
    await checkpointer.close();
    open(2);
    for (let i = 21; i <= 24; i++) await sink.append(record(i));
    const receipt = wire(await receiptOf(3));
    expect(receipt.record.seq).toBe(3);
    expect(verifyReceipt(receipt, KEY).ok).toBe(true);
  });

  it('fails for an altered record, an altered proof, another key\'s checkpoint, or another tree size', async () => {
    const good = wire(await receiptOf(5));
    const altered = (change: (r: ReturnType<typeof wire>) => void) => {
      const copy = wire(good);
      change(copy);
      return verifyReceipt(copy, KEY);
    };
    expect(altered((r) => (r.record.outcome = 'error'))).toMatchObject({ ok: false, reason: expect.stringMatching(/altered/) as string });
    expect(altered((r) => (r.record.decision = { result: 'deny', reason: 'x', ruleId: null }))).toMatchObject({ ok: false });
    // A record re-hashed after its edit is consistent in itself, but is not the leaf the checkpoint signs.
    expect(
      altered((r) => {
        r.record.outcome = 'error';
        r.record.hash = recordHash(r.record);
      }),
    ).toMatchObject({ ok: false, reason: expect.stringMatching(/root/) as string });
    expect(altered((r) => (r.proof.path[1] = Buffer.alloc(32, 7).toString('base64')))).toMatchObject({ ok: false, reason: expect.stringMatching(/root/) as string });
    expect(altered((r) => (r.proof.path.length = 2))).toMatchObject({ ok: false });
    expect(altered((r) => (r.proof.treeSize = 12))).toMatchObject({ ok: false, reason: expect.stringMatching(/tree of 12/) as string });
    expect(altered((r) => (r.proof.leafIndex = 5))).toMatchObject({ ok: false });
    const other = createNoteSigner(ORIGIN, generateKeyPairSync('ed25519').privateKey);
    const body = openNote(good.checkpoint, [signer]).text.split('\n');
    expect(
      altered((r) => (r.checkpoint = signCheckpoint({ origin: ORIGIN, size: 16, rootHash: Buffer.from(body[2] as string, 'base64'), chainHead: (body[3] as string).slice(6), time: (body[4] as string).slice(5) }, other))),
    ).toMatchObject({ ok: false, reason: expect.stringMatching(/checkpoint does not verify/) as string });
    // Verified against another key than the one that signed: refused, whatever the receipt says its key is.
    expect(verifyReceipt(good, formatVerifierKey(other))).toMatchObject({ ok: false });
  });

  it('a proof against a different tree size fails, even with a genuine checkpoint of that size', async () => {
    const at16 = wire(await receiptOf(5));
    expect(at16.proof.treeSize).toBe(16);
    const now = wire(await receiptOf(19));
    // The proof for a tree of 16 under the checkpoint of 20.
    expect(verifyReceipt({ ...at16, checkpoint: now.checkpoint }, KEY)).toMatchObject({ ok: false, reason: expect.stringMatching(/tree of 16 records, the checkpoint signs 20/) as string });
    expect(verifyReceipt({ ...at16, checkpoint: now.checkpoint, proof: { ...at16.proof, treeSize: 20 } }, KEY)).toMatchObject({ ok: false });
  });

  it.each([
    ['null', null],
    ['a string', 'receipt'],
    ['no record', { checkpoint: 'x', proof: {} }],
    ['a proof path of 65 hashes', { record: record(1), checkpoint: '', proof: { leafIndex: 0, treeSize: 1, path: Array.from({ length: 65 }, () => Buffer.alloc(32).toString('base64')) } }],
    ['a proof hash of the wrong length', { record: { seq: 1, hash: 'a'.repeat(64) }, checkpoint: '', proof: { leafIndex: 0, treeSize: 1, path: ['AAAA'] } }],
  ])('refuses a malformed receipt: %s', (_what, receipt) => {
    expect(verifyReceipt(receipt, KEY).ok).toBe(false);
  });

  it('answers null for an unknown invocation, and for one the caller may not read', async () => {
    expect(await store.receipt('inv_00000000000000000000000099', anyone)).toBeNull();
    expect(await store.receipt(record(4).invocation as string, (r: ChainedRecord) => r.agent === 'someone-else')).toBeNull();
  });
});
