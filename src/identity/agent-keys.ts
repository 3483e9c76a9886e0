import { createPublicKey, generateKeyPairSync, createPrivateKey, createHash, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, openSync, readFileSync, writeSync, closeSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { CordonError } from '../core/errors.ts';
import { readBoundedTextFile } from '../core/read-bounded-file.ts';

/** Where an agent's key pair lives under the data directory. */
export function agentKeyPaths(dataDir: string, agentId: string): { dir: string; privateKey: string; publicKey: string; registration: string } {
  const dir = join(dataDir, 'agents');
  return { dir, privateKey: join(dir, `${agentId}.key`), publicKey: join(dir, `${agentId}.pub`), registration: join(dir, `${agentId}.json`) };
}

export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}

/**
 * Writes a file readable only by its owner. The file is created with mode 0600
 * from the start (never world-readable, even briefly) and moved into place.
 */
export function writePrivateFile(path: string, contents: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, contents);
  } finally {
    closeSync(fd);
  }
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

export interface GeneratedKeyPair {
  privateKeyPath: string;
  publicKeyPem: string;
  fingerprint: string;
}

/** Creates an Ed25519 key pair for an agent. Refuses to overwrite an existing key. */
export function generateAgentKeyPair(dataDir: string, agentId: string): GeneratedKeyPair {
  const paths = agentKeyPaths(dataDir, agentId);
  ensurePrivateDir(paths.dir);
  if (existsSync(paths.privateKey) || existsSync(paths.publicKey)) {
    throw new CordonError('AGENT_EXISTS', `agent "${agentId}" already has a key in ${paths.dir}`, { details: { agent: agentId } });
  }
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  writePrivateFile(paths.privateKey, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
  writePrivateFile(paths.publicKey, publicKeyPem);
  chmodSync(paths.publicKey, 0o644);
  return { privateKeyPath: paths.privateKey, publicKeyPem, fingerprint: keyFingerprint(publicKey) };
}

export function parseEd25519PublicKey(pem: string, source: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (err) {
    throw new CordonError('KEY_INVALID', `${source}: not a PEM public key`, { cause: err, details: { source } });
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new CordonError('KEY_INVALID', `${source}: expected an Ed25519 key, got ${key.asymmetricKeyType ?? 'unknown'}`, { details: { source } });
  }
  return key;
}

/** A PEM public key is a few hundred bytes; the bound keeps a FIFO or /dev/zero from hanging a (re)load. */
const MAX_PUBLIC_KEY_FILE_BYTES = 16 * 1024;

export function readPublicKeyFile(path: string): KeyObject {
  const read = readBoundedTextFile(path, MAX_PUBLIC_KEY_FILE_BYTES);
  if ('reason' in read) throw new CordonError('KEY_INVALID', `${path}: public key not read (${read.reason})`, { details: { source: path } });
  return parseEd25519PublicKey(read.text, path);
}

export function readAgentPrivateKey(dataDir: string, agentId: string): KeyObject {
  const path = agentKeyPaths(dataDir, agentId).privateKey;
  if (!existsSync(path)) {
    throw new CordonError('AGENT_NOT_FOUND', `no private key for agent "${agentId}" in ${agentKeyPaths(dataDir, agentId).dir}; create one with: cordon agents add ${agentId}`, { details: { agent: agentId } });
  }
  return readEd25519PrivateKey(path);
}

/** An Ed25519 private key from a PEM file; the error never echoes the file (it is a secret). */
export function readEd25519PrivateKey(path: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new CordonError('KEY_INVALID', `${path}: not a PEM private key`, { cause: err, details: { source: path } });
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new CordonError('KEY_INVALID', `${path}: expected an Ed25519 key`, { details: { source: path } });
  return key;
}

/** SHA-256 of the raw public key, shortened: what `agents list` shows. */
export function keyFingerprint(key: KeyObject): string {
  const der = key.export({ type: 'spki', format: 'der' });
  return 'SHA256:' + createHash('sha256').update(der).digest('base64url').slice(0, 22);
}
