import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { CordonError } from '../core/errors.ts';

/**
 * C2SP signed notes (https://github.com/C2SP/C2SP/blob/main/signed-note.md), Ed25519 only:
 * a text ending in a newline, a blank line, then lines `— <name> <base64(keyid || signature)>`.
 * The format Go's checksum database and transparency logs sign their checkpoints in, so a
 * verifier that is not Cordon (golang.org/x/mod/sumdb/note, Sigstore's tooling) reads ours.
 */

/** Signature type byte of Ed25519 in key ids and verifier keys. */
const ALG_ED25519 = 0x01;
/** Far above any checkpoint (a few hundred bytes); a bound on what a caller makes us parse. */
export const MAX_NOTE_BYTES = 64 * 1024;
/** Go's sumdb/note stops at 100 signatures; so do we. */
export const MAX_NOTE_SIGNATURES = 100;
export const MAX_NOTE_TEXT_LINES = 1024;
const SIG_PREFIX = '\u2014 ';
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export type NoteFault = 'too_large' | 'not_utf8' | 'malformed' | 'bad_key' | 'bad_signature' | 'duplicate_signature' | 'unverified' | 'bad_checkpoint';

/** The one error of this format family: NOTE_INVALID, with the rule that failed in details.reason. */
export function noteFault(reason: NoteFault, message: string): CordonError {
  return new CordonError('NOTE_INVALID', message, { details: { reason } });
}

export interface NoteVerifier {
  readonly name: string;
  /** 4 bytes: SHA-256(name || 0x0A || 0x01 || public key)[0:4]. */
  readonly keyId: Buffer;
  readonly publicKey: KeyObject;
}

export interface NoteSigner extends NoteVerifier {
  readonly privateKey: KeyObject;
}

export interface NoteSignature {
  readonly name: string;
  /** The key id, 8 lowercase hex digits. */
  readonly keyId: string;
}

export interface OpenedNote {
  /** The signed text, final newline included. */
  readonly text: string;
  /** Signatures by known keys, each checked. */
  readonly verified: readonly NoteSignature[];
  /** Signatures by keys the caller did not name: ignored, not checked. */
  readonly unknown: readonly NoteSignature[];
}

/** A key name: non-empty, no whitespace, no `+` (the verifier key's separator). */
export function isValidKeyName(name: string): boolean {
  return name !== '' && name.length <= 1024 && name.isWellFormed() && !/[\s+]/u.test(name);
}

function rawPublicKey(key: KeyObject): Buffer {
  const der = key.export({ type: 'spki', format: 'der' });
  if (key.asymmetricKeyType !== 'ed25519' || der.length !== 44) throw noteFault('bad_key', 'the key is not an Ed25519 key');
  return der.subarray(12);
}

export function noteKeyId(name: string, publicKey: KeyObject): Buffer {
  return createHash('sha256').update(name).update(Buffer.from([0x0a, ALG_ED25519])).update(rawPublicKey(publicKey)).digest().subarray(0, 4);
}

export function createNoteSigner(name: string, privateKey: KeyObject): NoteSigner {
  if (!isValidKeyName(name)) throw noteFault('bad_key', `a key name must be non-empty, without spaces or "+": ${JSON.stringify(name.slice(0, 100))}`);
  const publicKey = createPublicKey(privateKey);
  return { name, keyId: noteKeyId(name, publicKey), publicKey, privateKey };
}

/** The verifier key text: `<name>+<hex key id>+<base64(0x01 || public key)>`. */
export function formatVerifierKey(v: NoteVerifier): string {
  return `${v.name}+${v.keyId.toString('hex')}+${Buffer.concat([Buffer.from([ALG_ED25519]), rawPublicKey(v.publicKey)]).toString('base64')}`;
}

/** Strict standard base64 (RFC 4648 section 4): canonical padding, nothing a lenient decoder would skip. */
function decodeBase64(text: string): Buffer | null {
  if (text.length === 0 || text.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(text)) return null;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : null;
}

export function parseVerifierKey(text: string): NoteVerifier {
  if (text.length > 2048) throw noteFault('bad_key', 'a verifier key is one short line');
  const parts = text.split('+');
  // The base64 part may itself hold "+": the name and key id are the first two fields.
  const [name = '', hex = ''] = parts;
  const b64 = parts.slice(2).join('+');
  if (parts.length < 3 || !isValidKeyName(name) || !/^[0-9a-f]{8}$/.test(hex)) throw noteFault('bad_key', 'a verifier key reads <name>+<8 hex digits>+<base64 key>');
  const key = decodeBase64(b64);
  if (key === null || key.length !== 33 || key[0] !== ALG_ED25519) throw noteFault('bad_key', 'the verifier key is not an Ed25519 key (type byte 0x01 and 32 bytes, base64)');
  const publicKey = createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, key.subarray(1)]), format: 'der', type: 'spki' });
  const keyId = noteKeyId(name, publicKey);
  // A key id that does not match its name and key is a mangled or spliced key.
  if (keyId.toString('hex') !== hex) throw noteFault('bad_key', 'the verifier key\'s id does not match its name and key');
  return { name, keyId, publicKey };
}

/** The rules every note text follows: valid UTF-8, no control character but newline, ends in one. */
function checkText(text: string, what: string): void {
  if (!text.isWellFormed()) throw noteFault('not_utf8', `${what} is not valid UTF-8`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0009\u000b-\u001f]/.test(text)) throw noteFault('malformed', `${what} holds a control character`);
}

/** `text` signed by `signer`: the text, a blank line, one signature line. */
export function signNote(text: string, signer: NoteSigner): string {
  checkText(text, 'the note text');
  if (!text.endsWith('\n') || text === '\n') throw noteFault('malformed', 'a note text is non-empty and ends in a newline');
  if (Buffer.byteLength(text) > MAX_NOTE_BYTES - 512) throw noteFault('too_large', `a note text is at most ${MAX_NOTE_BYTES - 512} bytes`);
  const sig = sign(null, Buffer.from(text), signer.privateKey);
  return `${text}\n${SIG_PREFIX}${signer.name} ${Buffer.concat([signer.keyId, sig]).toString('base64')}\n`;
}

/**
 * Parses a signed note and checks its signatures against `known`. Strict: anything not in the
 * format is refused, not repaired. A signature by a key not in `known` is ignored (a note may
 * carry cosignatures by witnesses we do not know), but at least one known key must have signed,
 * and a known key's signature that does not verify fails the whole note: a note with one good
 * and one bad signature by our key is a forgery attempt, not a good note.
 */
export function openNote(message: string | Uint8Array, known: readonly NoteVerifier[]): OpenedNote {
  let msg: string;
  if (typeof message === 'string') {
    if (message.length > MAX_NOTE_BYTES || Buffer.byteLength(message) > MAX_NOTE_BYTES) throw noteFault('too_large', `a signed note is at most ${MAX_NOTE_BYTES} bytes`);
    msg = message;
  } else {
    if (message.length > MAX_NOTE_BYTES) throw noteFault('too_large', `a signed note is at most ${MAX_NOTE_BYTES} bytes`);
    try {
      msg = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(message);
    } catch {
      throw noteFault('not_utf8', 'the note is not valid UTF-8');
    }
  }
  checkText(msg, 'the note');
  // The text ends at the last blank line; the text itself may hold blank lines.
  const split = msg.lastIndexOf('\n\n');
  if (split < 0) throw noteFault('malformed', 'a note is text, a blank line, then signature lines');
  const text = msg.slice(0, split + 1);
  const block = msg.slice(split + 2);
  if (block === '' || !block.endsWith('\n')) throw noteFault('malformed', 'the signature block ends in a newline');
  if (text.split('\n').length - 1 > MAX_NOTE_TEXT_LINES) throw noteFault('too_large', `a note text has at most ${MAX_NOTE_TEXT_LINES} lines`);
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > MAX_NOTE_SIGNATURES) throw noteFault('too_large', `a note has at most ${MAX_NOTE_SIGNATURES} signatures`);

  const verified: NoteSignature[] = [];
  const unknown: NoteSignature[] = [];
  const seenKnown = new Set<string>();
  const seenUnknown = new Set<string>();
  const body = Buffer.from(text);
  for (const line of lines) {
    if (!line.startsWith(SIG_PREFIX)) throw noteFault('malformed', 'a signature line reads "— <name> <base64 signature>"');
    const rest = line.slice(SIG_PREFIX.length);
    const space = rest.indexOf(' ');
    const name = space < 0 ? '' : rest.slice(0, space);
    const blob = space < 0 ? null : decodeBase64(rest.slice(space + 1));
    if (!isValidKeyName(name) || blob === null || blob.length < 5) throw noteFault('malformed', 'a signature line reads "— <name> <base64 signature>"');
    const keyId = blob.subarray(0, 4);
    const signature: NoteSignature = { name, keyId: keyId.toString('hex') };
    const matches = known.filter((k) => k.name === name && k.keyId.equals(keyId));
    if (matches.length === 0) {
      if (!seenUnknown.has(line)) unknown.push(signature);
      seenUnknown.add(line);
      continue;
    }
    const id = `${name}+${signature.keyId}`;
    if (seenKnown.has(id)) throw noteFault('duplicate_signature', `key ${id} signed the note twice`);
    seenKnown.add(id);
    // Ed25519 signatures are 64 bytes; any other length cannot verify.
    const sig = blob.subarray(4);
    if (sig.length !== 64 || !matches.some((k) => verify(null, body, k.publicKey, sig))) throw noteFault('bad_signature', `the signature by key ${id} does not verify`);
    verified.push(signature);
  }
  if (verified.length === 0) throw noteFault('unverified', 'no known key signed the note');
  return { text, verified, unknown };
}
