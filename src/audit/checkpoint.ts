import { EMPTY_ROOT } from './merkle-tree.ts';
import { isValidKeyName, noteFault, openNote, signNote, type NoteSigner, type NoteVerifier } from './signed-note.ts';

/**
 * A checkpoint in the C2SP tlog-checkpoint format (https://github.com/C2SP/C2SP/blob/main/tlog-checkpoint.md),
 * the body of a signed note:
 *
 *   cordon.local/audit                  origin: names the log; also the signing key's name
 *   4711                                tree size: records 1..4711 (seq = leaf index + 1)
 *   3q2+7w...=                          base64 RFC 6962 root over those records (merkle-tree.ts)
 *   chain 9f86d0...                     extension: the hex `hash` of record 4711, the chain head
 *   time 2026-11-29T23:00:00.000Z       extension: when Cordon signed it (RFC 3339, UTC)
 *
 * The root is what transparency-log tooling checks proofs against. The chain head ties the
 * checkpoint to the hash chain `cordon audit verify` walks, so either check alone finds a cut tail.
 * Cordon writes exactly these two extension lines and reads nothing else: a checkpoint with other
 * lines is not one of ours.
 */
export interface Checkpoint {
  readonly origin: string;
  readonly size: number;
  readonly rootHash: Buffer;
  /** Hex hash of record `size` (64 zeros for an empty log). */
  readonly chainHead: string;
  /** RFC 3339 time of signing. */
  readonly time: string;
}

const HEX_HASH = /^[0-9a-f]{64}$/;
const SIZE = /^(0|[1-9][0-9]{0,15})$/;
const TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;

const bad = (message: string) => noteFault('bad_checkpoint', message);

export function formatCheckpoint(c: Checkpoint): string {
  return `${c.origin}\n${c.size}\n${c.rootHash.toString('base64')}\nchain ${c.chainHead}\ntime ${c.time}\n`;
}

export function parseCheckpoint(text: string): Checkpoint {
  const lines = text.split('\n');
  if (lines.length !== 6 || lines[5] !== '') throw bad('a checkpoint is five lines: origin, size, root hash, "chain <hex>", "time <RFC 3339>"');
  const [origin = '', size = '', root = '', chain = '', time = ''] = lines;
  if (!isValidKeyName(origin)) throw bad('the checkpoint origin is not a valid log name');
  if (!SIZE.test(size) || !Number.isSafeInteger(Number(size))) throw bad('the checkpoint size is not a decimal integer');
  const rootHash = Buffer.from(root, 'base64');
  if (rootHash.length !== 32 || rootHash.toString('base64') !== root) throw bad('the checkpoint root is not a base64 SHA-256 hash');
  const chainHead = chain.startsWith('chain ') ? chain.slice(6) : '';
  if (!HEX_HASH.test(chainHead)) throw bad('the checkpoint has no "chain <64 hex digits>" line');
  const at = time.startsWith('time ') ? time.slice(5) : '';
  if (!TIME.test(at) || Number.isNaN(Date.parse(at))) throw bad('the checkpoint has no "time <RFC 3339 UTC>" line');
  const n = Number(size);
  if (n === 0 && !rootHash.equals(EMPTY_ROOT)) throw bad('an empty log\'s root is SHA-256 of nothing');
  return { origin, size: n, rootHash, chainHead, time: at };
}

export function signCheckpoint(c: Checkpoint, signer: NoteSigner): string {
  return signNote(formatCheckpoint(c), signer);
}

/**
 * A signed checkpoint, opened: the note's signature by one of `verifiers`, and the checkpoint
 * parsed. The signature must come from the key named by the origin: a key trusted for one log
 * does not vouch for another's checkpoints.
 */
export function openCheckpoint(note: string | Uint8Array, verifiers: readonly NoteVerifier[]): Checkpoint {
  const opened = openNote(note, verifiers);
  const checkpoint = parseCheckpoint(opened.text);
  if (!opened.verified.some((s) => s.name === checkpoint.origin)) throw noteFault('unverified', `no known key named ${checkpoint.origin} signed the checkpoint`);
  return checkpoint;
}
