import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { formatCheckpoint, openCheckpoint, parseCheckpoint, signCheckpoint, type Checkpoint } from './checkpoint.ts';
import { EMPTY_ROOT } from './merkle-tree.ts';
import { createNoteSigner, signNote } from './signed-note.ts';

const ORIGIN = 'cordon.test/audit';
const signer = createNoteSigner(ORIGIN, generateKeyPairSync('ed25519').privateKey);
const ROOT = Buffer.alloc(32, 0xab);
const good: Checkpoint = { origin: ORIGIN, size: 4711, rootHash: ROOT, chainHead: 'c'.repeat(64), time: '2026-11-29T23:00:00.000Z' };
const text = formatCheckpoint(good);

const reasonOf = (fn: () => unknown) => {
  try {
    fn();
    return 'accepted';
  } catch (err) {
    return `${(err as { code?: string }).code}:${(err as { details?: { reason?: string } }).details?.reason}`;
  }
};

describe('checkpoints (C2SP tlog-checkpoint)', () => {
  it('formats origin, size, base64 root, then the chain and time extension lines, and parses them back', () => {
    expect(text).toBe(`${ORIGIN}\n4711\n${ROOT.toString('base64')}\nchain ${'c'.repeat(64)}\ntime 2026-11-29T23:00:00.000Z\n`);
    expect(parseCheckpoint(text)).toEqual(good);
    expect(openCheckpoint(signCheckpoint(good, signer), [signer])).toEqual(good);
  });

  it.each([
    ['no final newline', text.slice(0, -1)],
    ['a missing time line', text.split('\n').slice(0, 4).join('\n') + '\n'],
    ['an extra line', `${text}note more\n`],
    ['a size with a leading zero', text.replace('\n4711\n', '\n04711\n')],
    ['a negative size', text.replace('\n4711\n', '\n-1\n')],
    ['a size past 2^53', text.replace('\n4711\n', '\n9007199254740993\n')],
    ['a root of 31 bytes', text.replace(ROOT.toString('base64'), Buffer.alloc(31, 1).toString('base64'))],
    ['a root in non-canonical base64', text.replace(ROOT.toString('base64'), ROOT.toString('base64').replace(/=$/, 'A'))],
    ['an upper-case chain head', text.replace('c'.repeat(64), 'C'.repeat(64))],
    ['a chain line without its keyword', text.replace(`chain ${'c'.repeat(64)}`, 'c'.repeat(64))],
    ['a time that is not UTC RFC 3339', text.replace('2026-11-29T23:00:00.000Z', '2026-11-29 23:00')],
    ['an impossible date', text.replace('2026-11-29T23:00:00.000Z', '2026-13-45T23:00:00Z')],
    ['an origin with a space', text.replace(ORIGIN, 'cordon test')],
    ['an empty log with a root that is not SHA-256 of nothing', text.replace('\n4711\n', '\n0\n')],
    ['a huge text', `${'x'.repeat(70_000)}\n`],
  ])('refuses %s', (_what, body) => {
    expect(reasonOf(() => parseCheckpoint(body))).toBe('NOTE_INVALID:bad_checkpoint');
  });

  it('accepts the empty log: size 0 and the empty root', () => {
    expect(parseCheckpoint(formatCheckpoint({ ...good, size: 0, rootHash: EMPTY_ROOT, chainHead: '0'.repeat(64) })).size).toBe(0);
  });

  it('refuses a checkpoint signed by a trusted key under another log\'s name', () => {
    const otherLog = createNoteSigner('other.test/audit', signer.privateKey);
    // Signed by a key we trust, but that key is named for another log than the origin says.
    expect(reasonOf(() => openCheckpoint(signNote(text, otherLog), [signer, otherLog]))).toBe('NOTE_INVALID:unverified');
  });
});
