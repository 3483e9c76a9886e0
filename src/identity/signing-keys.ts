import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ensurePrivateDir, keyFingerprint, readEd25519PrivateKey, writePrivateFile } from './agent-keys.ts';

export interface SigningKey {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** Key id put in the JWT header: the key's fingerprint. */
  readonly kid: string;
}

/**
 * Cordon's own Ed25519 keys, one per purpose (`issuer` signs the tokens Cordon
 * issues; `local-users` signs local user tokens; `audit` signs the audit log's checkpoints). Separate keys mean a token of
 * one kind can never verify as the other. Created on first use, mode 0600.
 */
export function loadOrCreateSigningKey(dataDir: string, purpose: 'issuer' | 'local-users' | 'sandbox' | 'audit'): SigningKey {
  const dir = join(dataDir, 'keys');
  const path = join(dir, `${purpose}.key`);
  if (!existsSync(path)) {
    ensurePrivateDir(dir);
    const { privateKey } = generateKeyPairSync('ed25519');
    try {
      writePrivateFile(path, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
    } catch (err) {
      // Another process created it first: use theirs.
      if (!existsSync(path)) throw err;
    }
  }
  const privateKey = readEd25519PrivateKey(path);
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, kid: keyFingerprint(publicKey) };
}

/** The key of `purpose` if it was ever created, without creating it (a verifier has no business minting keys). */
export function loadSigningKey(dataDir: string, purpose: 'issuer' | 'local-users' | 'sandbox' | 'audit'): SigningKey | null {
  const path = join(dataDir, 'keys', `${purpose}.key`);
  if (!existsSync(path)) return null;
  const privateKey = readEd25519PrivateKey(path);
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, kid: keyFingerprint(publicKey) };
}
