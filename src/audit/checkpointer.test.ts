import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AuditRecord } from './audit-sink.ts';
import { scanChain, type ScannedRecord } from './chain-scan.ts';
import { openCheckpoint } from './checkpoint.ts';
import { createCheckpointer, type CheckpointerOptions } from './checkpointer.ts';
import { openObservedLog } from '../../test/support/observed-log.ts';
import { createMerkleTree, leafHash } from './merkle-tree.ts';
import { createNoteSigner } from './signed-note.ts';

let dir: string;
let path: string;
const ORIGIN = 'cordon.test/audit';
const signer = createNoteSigner(ORIGIN, generateKeyPairSync('ed25519').privateKey);

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cordon-checkpoint-'));
  path = join(dir, 'audit', 'audit.jsonl');
});
afterEach(() => {
  vi.useRealTimers();
  rmSync(dir, { recursive: true, force: true });
});

function record(i: number): AuditRecord {
  return { ts: new Date(Date.UTC(2026, 10, 29, 12, 0, i % 60)).toISOString(), kind: 'invocation', id: `aud_${i}`, requestId: null, agent: 'coder', user: null, tokenId: 't', tool: 'code', action: 'code.exec', resource: 'language:javascript', sandbox: null, decision: { result: 'allow', reason: 'ok', ruleId: 'r' }, outcome: 'ok', durationMs: 1, inputSha256: null, invocation: `inv_${i}` };
}

const options = (extra: Partial<CheckpointerOptions> = {}): CheckpointerOptions => ({ logPath: path, origin: ORIGIN, signer, every: 1000, intervalMs: 10_000, mirror: null, ...extra });

/** A log of `n` records and a checkpointer fed the way the runtime feeds it. */
function open(extra: Partial<CheckpointerOptions> = {}) {
  const { log, observeWith } = openObservedLog(path);
  const checkpointer = createCheckpointer(options(extra));
  observeWith((rs) => checkpointer.observe(rs));
  return { log, sink: log, checkpointer };
}

async function writeLog(n: number): Promise<void> {
  const { sink, checkpointer } = open();
  for (let i = 1; i <= n; i++) await sink.append(record(i));
  await sink.close();
  await checkpointer.close();
}

const hashes = () => readFileSync(path, 'utf8').trimEnd().split('\n').map((l) => (JSON.parse(l) as { hash: string }).hash);
const rootOf = (hs: string[]) => {
  const t = createMerkleTree();
  for (const h of hs) t.append(leafHash(h));
  return t.root();
};
const readCheckpoint = (file = `${path}.checkpoint`) => openCheckpoint(readFileSync(file), [signer]);

describe('the audit checkpointer', () => {
  it('signs a C2SP checkpoint of the log on close: size, RFC 6962 root over the record hashes, chain head, time', async () => {
    await writeLog(5);
    const note = readFileSync(`${path}.checkpoint`, 'utf8');
    const hs = hashes();
    expect(note).toMatch(new RegExp(`^cordon\\.test/audit\\n5\\n${rootOf(hs).toString('base64').replaceAll('+', '\\+').replaceAll('/', '\\/')}\\nchain ${hs[4]}\\ntime \\d{4}-[^\\n]+Z\\n\\n\u2014 cordon\\.test/audit [A-Za-z0-9+/=]+\\n$`));
    expect(readCheckpoint()).toMatchObject({ origin: ORIGIN, size: 5, chainHead: hs[4] });
  });

  it('rebuilds the tree from the log at start-up and goes on from it', async () => {
    await writeLog(3);
    const { sink, checkpointer } = open();
    expect(checkpointer.tree.size).toBe(3);
    await sink.append(record(4));
    await sink.close();
    await checkpointer.close();
    expect(readCheckpoint()).toMatchObject({ size: 4, rootHash: rootOf(hashes()), chainHead: hashes()[3] });
  });

  it('signs every N records, and copies each checkpoint to the mirror', async () => {
    const mirror = join(dir, 'elsewhere', 'audit.checkpoint');
    mkdirSync(join(dir, 'elsewhere'));
    const { sink, checkpointer } = open({ every: 3, mirror });
    for (let i = 1; i <= 7; i++) await sink.append(record(i));
    await checkpointer.flush();
    expect(readCheckpoint().size).toBe(6);
    expect(readCheckpoint(mirror).size).toBe(6);
    await sink.close();
    await checkpointer.close();
    expect(readCheckpoint(mirror).size).toBe(7);
  });

  it('signs T ms after the last checkpoint when records came since, and not when none did', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const { sink, checkpointer } = open({ intervalMs: 10_000 });
    await sink.append(record(1));
    vi.advanceTimersByTime(9_999);
    expect(checkpointer.latest()).toBeNull();
    vi.advanceTimersByTime(1);
    expect(checkpointer.latest()?.checkpoint.size).toBe(1);
    const first = checkpointer.latest();
    vi.advanceTimersByTime(60_000);
    expect(checkpointer.latest()).toBe(first);
    await sink.close();
    await checkpointer.close();
  });

  it('keeps a checkpoint the log no longer matches (a cut tail) as evidence instead of overwriting it', async () => {
    await writeLog(6);
    const lines = readFileSync(path, 'utf8').split('\n');
    writeFileSync(path, lines.slice(0, 4).join('\n') + '\n');
    const said: string[] = [];
    const { sink, checkpointer } = open({ onWarning: (w) => said.push(w) });
    expect(said.join('\n')).toMatch(/covers 6 records and the log has 4/);
    await sink.close();
    await checkpointer.close();
    const rejected = readdirSync(join(dir, 'audit')).filter((n) => n.startsWith('audit.jsonl.checkpoint.rejected-'));
    expect(rejected).toHaveLength(1);
    expect(readCheckpoint(join(dir, 'audit', rejected[0] as string)).size).toBe(6);
    expect(readCheckpoint().size).toBe(4);
  });

  it('rejects a checkpoint beside the log that another key signed', async () => {
    await writeLog(2);
    const other = createNoteSigner(ORIGIN, generateKeyPairSync('ed25519').privateKey);
    // Someone with write access to the directory puts a checkpoint of their own beside the log.
    await createCheckpointer(options({ signer: other })).close();
    const said: string[] = [];
    const { sink, checkpointer } = open({ onWarning: (w) => said.push(w) });
    expect(said.join('\n')).toMatch(/does not open/);
    await sink.close();
    await checkpointer.close();
  });
});

describe('the chain scan', () => {
  it('reads seq, hash and invocation ids from the log without parsing JSON, and other shapes through JSON', async () => {
    await writeLog(3);
    const want = hashes();
    const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
    // A line in another key order (hand-written, or by another writer) still counts.
    const parsed = JSON.parse(lines[1] as string) as Record<string, unknown>;
    lines[1] = JSON.stringify({ hash: parsed.hash, ...parsed });
    writeFileSync(path, [...lines, 'not json', ''].join('\n'));
    const got: ScannedRecord[] = [];
    scanChain(path, (r) => got.push(r));
    expect(got).toEqual(want.map((hash, i) => ({ seq: i + 1, hash, invocation: `inv_${i + 1}` })));
  });
});
