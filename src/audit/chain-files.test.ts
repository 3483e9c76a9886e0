import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { listChainFiles, rotatedFileName } from './chain-files.ts';

describe('chain files', () => {
  it('lists rotated files in seq order, then the live file, and nothing of another chain', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cordon-chain-files-'));
    const live = join(dir, 'audit.jsonl');
    for (const seq of [20000, 9, 1500]) writeFileSync(rotatedFileName(live, seq), '');
    // Another process's own chain (audit.<pid>.jsonl) and its rotations are not this chain's.
    writeFileSync(join(dir, 'audit.123.jsonl'), '');
    writeFileSync(rotatedFileName(join(dir, 'audit.123.jsonl'), 5), '');
    writeFileSync(join(dir, 'audit-12.jsonl'), '');
    expect(listChainFiles(live).map((p) => p.slice(dir.length + 1))).toEqual([
      'audit-000000000009.jsonl',
      'audit-000000001500.jsonl',
      'audit-000000020000.jsonl',
      'audit.jsonl',
    ]);
    expect(listChainFiles(join(dir, 'audit.123.jsonl')).map((p) => p.slice(dir.length + 1))).toEqual(['audit.123-000000000005.jsonl', 'audit.123.jsonl']);
  });

  it('lists the live file alone when its folder does not exist yet', () => {
    expect(listChainFiles('/nonexistent-cordon-dir/audit.jsonl')).toEqual(['/nonexistent-cordon-dir/audit.jsonl']);
  });
});
