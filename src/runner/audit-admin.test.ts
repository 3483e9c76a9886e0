import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../audit/audit-sink.ts';
import { silentLogger } from '../core/logger.ts';
import { makeTestEnv, type TestEnv } from '../../test/support/test-config.ts';
import { auditLogPath, auditVerifierKey, verifyAudit } from './audit-admin.ts';
import { wireAudit } from './wiring/audit.ts';

const envs: TestEnv[] = [];
afterEach(() => {
  for (const e of envs.splice(0)) e.cleanup();
});

function record(i: number): AuditRecord {
  return { ts: new Date(Date.UTC(2026, 10, 29, 12, 0, i)).toISOString(), kind: 'invocation', id: `aud_${i}`, requestId: null, agent: 'coder', user: null, tokenId: 't', tool: 'code', action: 'code.exec', resource: 'language:javascript', sandbox: null, decision: { result: 'allow', reason: 'ok', ruleId: 'r' }, outcome: 'ok', durationMs: 1, inputSha256: null };
}

/** A data directory whose runner wrote `n` records and signed its checkpoint on close. */
async function dataDirWithLog(n: number): Promise<TestEnv> {
  const env = makeTestEnv([]);
  envs.push(env);
  const audit = wireAudit(env.config, { logger: silentLogger });
  for (let i = 1; i <= n; i++) audit.sink.append(record(i));
  await audit.close();
  return env;
}

describe('cordon audit verify: which key checks the checkpoints', () => {
  it('uses the data directory\'s audit key, or the verifier key given with --key', async () => {
    const env = await dataDirWithLog(3);
    const path = auditLogPath(env.config);
    expect(await verifyAudit(env.config, path)).toMatchObject({ ok: true, checkpoints: [{ size: 3 }] });
    expect(await verifyAudit(env.config, path, { verifierKey: auditVerifierKey(env.config) })).toMatchObject({ ok: true, checkpoints: [{ size: 3 }] });
  });

  it('reports the checkpoints of a log signed by another runner\'s key, and makes no key of its own to check them', async () => {
    const theirs = await dataDirWithLog(3);
    const mine = makeTestEnv([]);
    envs.push(mine);
    const report = await verifyAudit(mine.config, auditLogPath(theirs.config));
    expect(report.problems.map((p) => p.kind)).toEqual(['checkpoint_invalid']);
    expect(existsSync(join(mine.config.dataDir, 'keys', 'audit.key'))).toBe(false);
    const other = await dataDirWithLog(1);
    expect((await verifyAudit(theirs.config, auditLogPath(theirs.config), { verifierKey: auditVerifierKey(other.config) })).problems.map((p) => p.kind)).toEqual(['checkpoint_invalid']);
  });

  it('refuses a malformed --key', async () => {
    const env = await dataDirWithLog(1);
    await expect(verifyAudit(env.config, auditLogPath(env.config), { verifierKey: 'not a key' })).rejects.toMatchObject({ code: 'NOTE_INVALID', details: { reason: 'bad_key' } });
  });
});
