import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createNoteSigner, formatVerifierKey, MAX_NOTE_BYTES, openNote, parseVerifierKey, signNote, type NoteFault } from './signed-note.ts';

// The published test vectors of golang.org/x/mod/sumdb/note (note_test.go: TestSign, TestOpen).
// They are public test data, not secrets: the "private key" below is printed in Go's own tests.
const PETER_VKEY = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const PETER_SKEY = 'PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz';
const ENOCH_VKEY = 'EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop';
const TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const PETER_SIG = '\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n';
const ENOCH_SIG = '\u2014 EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n';

/** Go's skey format: PRIVATE+KEY+<name>+<hex id>+base64(0x01 || 32-byte Ed25519 seed). */
function signerFromGoSkey(skey: string) {
  const parts = skey.split('+');
  const name = parts[2] ?? '';
  // The base64 part may hold "+" itself.
  const b64 = parts.slice(4).join('+');
  const seed = Buffer.from(b64, 'base64').subarray(1);
  const pkcs8 = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
  return createNoteSigner(name, createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }));
}

const peter = parseVerifierKey(PETER_VKEY);
const enoch = parseVerifierKey(ENOCH_VKEY);

function faultOf(fn: () => unknown): NoteFault | string {
  try {
    fn();
  } catch (err) {
    const e = err as { code?: string; details?: { reason?: NoteFault } };
    return `${e.code ?? 'not a CordonError'}:${e.details?.reason ?? ''}`;
  }
  return 'accepted';
}

describe('signed notes, against the published golang.org/x/mod/sumdb/note vectors', () => {
  it('signs the test message exactly as Go does (Ed25519 is deterministic)', () => {
    const signer = signerFromGoSkey(PETER_SKEY);
    expect(formatVerifierKey(signer)).toBe(PETER_VKEY);
    expect(signNote(TEXT, signer)).toBe(`${TEXT}\n${PETER_SIG}`);
  });

  it('parses the published verifier keys and round-trips them', () => {
    expect(peter.name).toBe('PeterNeumann');
    expect(peter.keyId.toString('hex')).toBe('c74f20a3');
    expect(formatVerifierKey(peter)).toBe(PETER_VKEY);
    expect(formatVerifierKey(enoch)).toBe(ENOCH_VKEY);
  });

  it('opens the signed message: one known signature verified, an unknown key ignored', () => {
    const opened = openNote(`${TEXT}\n${PETER_SIG}${ENOCH_SIG}`, [peter]);
    expect(opened).toEqual({ text: TEXT, verified: [{ name: 'PeterNeumann', keyId: 'c74f20a3' }], unknown: [{ name: 'EnochRoot', keyId: 'af0cfe78' }] });
    expect(openNote(`${TEXT}\n${PETER_SIG}${ENOCH_SIG}`, [peter, enoch]).verified.map((s) => s.name)).toEqual(['PeterNeumann', 'EnochRoot']);
  });

  it('refuses a note no known key signed', () => {
    expect(faultOf(() => openNote(`${TEXT}\n${PETER_SIG}${ENOCH_SIG}`, []))).toBe('NOTE_INVALID:unverified');
    expect(faultOf(() => openNote(`${TEXT}\n${ENOCH_SIG}`, [peter]))).toBe('NOTE_INVALID:unverified');
  });

  it('refuses an altered text, an altered signature, and a signature by another key under our name', () => {
    expect(faultOf(() => openNote(`${TEXT.replace('answer', 'Answer')}\n${PETER_SIG}`, [peter]))).toBe('NOTE_INVALID:bad_signature');
    // Go's own "invalid signature" case: four characters spliced into the signature.
    expect(faultOf(() => openNote(`${TEXT}\n${PETER_SIG.slice(0, 60)}ABCD${PETER_SIG.slice(60)}`, [peter]))).toBe('NOTE_INVALID:bad_signature');
    // An impostor signs with a key of its own but copies Peter's name and key id into the line.
    const impostor = createNoteSigner('PeterNeumann', generateKeyPairSync('ed25519').privateKey);
    const forged = signNote(TEXT, { ...impostor, keyId: peter.keyId });
    expect(faultOf(() => openNote(forged, [peter]))).toBe('NOTE_INVALID:bad_signature');
    // The same impostor under its own key id is simply not a key we know.
    expect(faultOf(() => openNote(signNote(TEXT, impostor), [peter]))).toBe('NOTE_INVALID:unverified');
  });

  it('refuses a known key signing twice, even when both signatures are good', () => {
    expect(faultOf(() => openNote(`${TEXT}\n${PETER_SIG}${PETER_SIG}`, [peter]))).toBe('NOTE_INVALID:duplicate_signature');
    // A repeated unknown signature is ignored once, like Go.
    expect(openNote(`${TEXT}\n${PETER_SIG}${ENOCH_SIG}${ENOCH_SIG}`, [peter]).unknown).toHaveLength(1);
  });

  it.each([
    ['no signature block', TEXT, 'malformed'],
    ['a blank line but no signature', `${TEXT}\n`, 'malformed'],
    ['the last signature line without its newline', `${TEXT}\n${PETER_SIG.slice(0, -1)}`, 'malformed'],
    ['a control character', `\u0001${TEXT}\n${PETER_SIG}`, 'malformed'],
    ['a carriage return', `${TEXT.replace('\n', '\r\n')}\n${PETER_SIG}`, 'malformed'],
    ['a name with a space', `${TEXT}\n\u2014 Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`, 'malformed'],
    ['a line after the signatures', `${TEXT}\n${PETER_SIG}Unexpected line.\n`, 'malformed'],
    ['a hyphen instead of the em dash', `${TEXT}\n- ${PETER_SIG.slice(2)}`, 'malformed'],
    ['non-canonical base64', `${TEXT}\n${PETER_SIG.replace('M=\n', 'N=\n')}`, 'malformed'],
    ['base64 without padding', `${TEXT}\n${PETER_SIG.replace('=\n', '\n')}`, 'malformed'],
    ['a signature too short to hold a key id', `${TEXT}\n\u2014 PeterNeumann AAAA\n`, 'malformed'],
    ['a lone surrogate', `\ud800${TEXT}\n${PETER_SIG}`, 'not_utf8'],
    ['an oversized note', `${'x'.repeat(MAX_NOTE_BYTES)}\n\n${PETER_SIG}`, 'too_large'],
    ['too many signatures', `${TEXT}\n${PETER_SIG}${ENOCH_SIG.repeat(101)}`, 'too_large'],
    ['too many text lines', `${'a\n'.repeat(2000)}\n${PETER_SIG}`, 'too_large'],
  ])('refuses %s', (_what, note, reason) => {
    expect(faultOf(() => openNote(note, [peter]))).toBe(`NOTE_INVALID:${reason}`);
  });

  it('refuses bytes that are not UTF-8, and oversized bytes before decoding them', () => {
    const bytes = Buffer.concat([Buffer.from([0xff]), Buffer.from(`${TEXT}\n${PETER_SIG}`)]);
    expect(faultOf(() => openNote(bytes, [peter]))).toBe('NOTE_INVALID:not_utf8');
    expect(openNote(Buffer.from(`${TEXT}\n${PETER_SIG}`), [peter]).text).toBe(TEXT);
    expect(faultOf(() => openNote(Buffer.alloc(MAX_NOTE_BYTES + 1, 0x61), [peter]))).toBe('NOTE_INVALID:too_large');
  });

  it('keeps blank lines inside the text: the signatures start after the last one', () => {
    const signer = createNoteSigner('cordon.test/audit', generateKeyPairSync('ed25519').privateKey);
    const text = 'first\n\nsecond\n';
    expect(openNote(signNote(text, signer), [signer]).text).toBe(text);
  });

  it('will not sign a text without its final newline, an empty text, or one with control characters', () => {
    const signer = createNoteSigner('cordon.test/audit', generateKeyPairSync('ed25519').privateKey);
    expect(faultOf(() => signNote('no newline', signer))).toBe('NOTE_INVALID:malformed');
    expect(faultOf(() => signNote('\n', signer))).toBe('NOTE_INVALID:malformed');
    expect(faultOf(() => signNote('tab\there\n', signer))).toBe('NOTE_INVALID:malformed');
  });

  it.each([
    ['a truncated key', PETER_VKEY.slice(0, -1)],
    ['a key id one off', PETER_VKEY.replace('c74f20a3', 'c74f20a4')],
    ['an upper-case key id', PETER_VKEY.replace('c74f20a3', 'C74F20A3')],
    ['another name for the same key', PETER_VKEY.replace('PeterNeumann', 'PeterNeuman')],
    ['a name with a space', 'Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW'],
    // Go's own vectors: a wrong-length key and an unknown algorithm, each with its key id adjusted.
    ['a wrong-length key', 'PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=='],
    ['an unknown algorithm', 'PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW'],
    ['an empty string', ''],
    ['an oversized string', `PeterNeumann+c74f20a3+${'A'.repeat(4000)}`],
  ])('refuses a verifier key with %s', (_what, key) => {
    expect(faultOf(() => parseVerifierKey(key))).toBe('NOTE_INVALID:bad_key');
  });

  it('refuses every single-character mangling of the published verifier key', () => {
    for (let i = 0; i < PETER_VKEY.length; i++) {
      const mangled = PETER_VKEY.slice(0, i) + String.fromCharCode(PETER_VKEY.charCodeAt(i) + 1) + PETER_VKEY.slice(i + 1);
      expect(faultOf(() => parseVerifierKey(mangled)), mangled).toBe('NOTE_INVALID:bad_key');
    }
  });
});
