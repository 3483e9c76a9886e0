import { generateKeyPairSync, randomBytes, scryptSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { CordonError } from '../core/errors.ts';
import { loadConfig } from './load-config.ts';
import { parsePasswordScrypt } from './password-scrypt.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const pem = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();

function load(approvals: unknown) {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-approvals-config-'));
  dirs.push(dir);
  const path = join(dir, 'cordon.yaml');
  writeFileSync(path, stringify({ approvals }));
  return { dir, path, load: () => loadConfig({ flags: { configPath: path }, env: {} }) };
}

function refusal(approvals: unknown): { message: string; field: unknown } {
  const { load: run } = load(approvals);
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(CordonError);
    expect((err as CordonError).code).toBe('CONFIG_INVALID');
    return { message: (err as CordonError).message, field: (err as CordonError).details.field };
  }
  throw new Error('expected the config to be refused');
}

/** A scrypt hash in the format config stores, made at test time (cost kept low for speed). */
function scryptHash(password: string, N = 2 ** 14): string {
  const salt = randomBytes(16);
  return `scrypt$${N}$8$1$${salt.toString('base64')}$${scryptSync(password, salt, 32, { N, r: 8, p: 1 }).toString('base64')}`;
}

describe('approvals config', () => {
  it('defaults: 15-minute approvals, caps of 1000 and 100 per agent, a 30 s long-poll, no approvers', () => {
    const c = load({}).load();
    expect(c.approvals).toEqual({ ttlMs: 900_000, maxPending: 1000, maxPendingPerAgent: 100, maxWaitMs: 30_000, approvers: [] });
  });

  it('loads approvers, resolving publicKeyFile against the config file and keeping a valid scrypt password', () => {
    const env = load({ approvers: [{ name: 'alice', publicKey: pem, tools: ['file.*'], passwordScrypt: scryptHash('correct horse') }, { name: 'bob', publicKeyFile: 'bob.pem', tools: ['*'], groups: ['ops'] }] });
    const c = env.load();
    expect(c.approvals.approvers.map((a) => a.name)).toEqual(['alice', 'bob']);
    expect(c.approvals.approvers[1]?.publicKeyFile).toBe(join(env.dir, 'bob.pem'));
    const parsed = parsePasswordScrypt(c.approvals.approvers[0]?.passwordScrypt ?? '');
    expect(typeof parsed).toBe('object');
  });

  it('refuses unknown fields, duplicate names, missing or double keys, bad tool patterns and caps, with the field', () => {
    expect(refusal({ approvers: [{ name: 'alice', publicKey: pem, tools: ['*'], admin: true }] }).field).toBe('/approvals/approvers/0/admin');
    expect(refusal({ approvers: [{ name: 'alice', publicKey: pem, tools: ['*'] }, { name: 'alice', publicKey: pem, tools: ['*'] }] }).field).toBe('/approvals/approvers/1/name');
    expect(refusal({ approvers: [{ name: 'alice', tools: ['*'] }] }).field).toBe('/approvals/approvers/0/publicKey');
    expect(refusal({ approvers: [{ name: 'alice', publicKey: pem, publicKeyFile: 'a.pem', tools: ['*'] }] }).field).toBe('/approvals/approvers/0/publicKey');
    expect(refusal({ approvers: [{ name: 'alice', publicKey: pem, tools: [] }] }).field).toBe('/approvals/approvers/0/tools');
    for (const tool of ['file*', '**', '*.delete', 'File.delete', 'file.', '']) {
      expect(refusal({ approvers: [{ name: 'alice', publicKey: pem, tools: [tool] }] }).field, tool).toBe('/approvals/approvers/0/tools/0');
    }
    expect(refusal({ approvers: [{ name: 'Alice Smith', publicKey: pem, tools: ['*'] }] }).field).toBe('/approvals/approvers/0/name');
    expect(refusal({ maxPending: 10, maxPendingPerAgent: 11 }).field).toBe('/approvals/maxPendingPerAgent');
    expect(refusal({ maxWaitMs: 1.5 }).field).toBe('/approvals/maxWaitMs');
    expect(refusal({ ttlMs: 0 }).field).toBe('/approvals/ttlMs');
    expect(refusal({ policy: 'x' }).field).toBe('/approvals/policy');
  });

  it('refuses a passwordScrypt that is not scrypt$N$r$p$salt$hash with sane parameters', () => {
    const good = scryptHash('pw');
    const [, , , , salt, hash] = good.split('$');
    const bad = ['plain-text-password', `scrypt$1024$8$1$${salt}$${hash}`, `scrypt$16385$8$1$${salt}$${hash}`, `scrypt$${2 ** 21}$8$1$${salt}$${hash}`, `scrypt$16384$0$1$${salt}$${hash}`, `scrypt$16384$8$1$c2hvcnQ=$${hash}`, `scrypt$16384$8$1$${salt}$c2hvcnQ=`, `scrypt$16384$8$1$${salt}!$${hash}`, `scrypt$16384$8$1$${salt}$${hash}$extra`, `bcrypt$16384$8$1$${salt}$${hash}`];
    for (const passwordScrypt of bad) {
      const r = refusal({ approvers: [{ name: 'alice', publicKey: pem, tools: ['*'], passwordScrypt }] });
      expect(r.field, passwordScrypt).toBe('/approvals/approvers/0/passwordScrypt');
    }
    expect(parsePasswordScrypt(good)).toMatchObject({ N: 16384, r: 8, p: 1 });
  });
});
