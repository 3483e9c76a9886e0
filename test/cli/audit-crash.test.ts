import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJsonlAuditLog } from '../../src/audit/jsonl-audit-log.ts';
import { verifyAuditLog } from '../../src/audit/verify-audit-log.ts';
import { runCli, startServe } from '../support/cli.ts';

// kill -9 during a burst of calls: every call the client got an answer for has its record on
// disk, and the log verifies. (Before durable group commit, 5 of 483 answered calls were lost
// in one trial: the records sat in the write stream's buffer when the process died.)
let cwd: string;
const started: ChildProcess[] = [];
beforeAll(() => {
  cwd = mkdtempSync(join(tmpdir(), 'cordon-audit-crash-'));
});
afterAll(() => {
  for (const child of started) if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL');
  rmSync(cwd, { recursive: true, force: true });
});

interface LogLine {
  readonly invocation?: string;
  readonly outcome: string;
  readonly inputSha256: string | null;
}

/** The log's complete lines (a torn last one, which a crash may leave, is no record). */
function readLog(path: string): LogLine[] {
  if (!existsSync(path)) return [];
  const text = readFileSync(path, 'utf8');
  return text.slice(0, text.lastIndexOf('\n') + 1).split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as LogLine);
}

const BURST = 400;
const IN_FLIGHT = 24;
const KILL_AFTER = 120;

describe('kill -9 during a burst of calls', () => {
  it('leaves a log that verifies and holds the final record of every answered call, and the started record of the call still running', async () => {
    const serve = await startServe(cwd, { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', CORDON_LOG_LEVEL: 'warn' }, started);
    const log = join(cwd, '.cordon', 'audit', 'audit.jsonl');
    const invoke = (input: unknown) =>
      fetch(`${serve.url}/v1/invocations`, { method: 'POST', headers: { authorization: `Bearer ${serve.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ tool: 'code', input }) });

    // A call that is still running when the process dies: only its started record can say it ran.
    const endless = { language: 'javascript', source: 'for (;;) {}', timeoutMs: 60_000 };
    const endlessSha = createHash('sha256').update(JSON.stringify(endless)).digest('hex');
    const hanging = invoke(endless).catch(() => null);
    while (!readLog(log).some((r) => r.inputSha256 === endlessSha)) await sleep(20);

    const answered: string[] = [];
    let next = 0;
    let killed = false;
    const worker = async () => {
      while (!killed && next < BURST) {
        const i = next++;
        try {
          const res = await invoke({ language: 'javascript', source: `${i} * 2` });
          const body = (await res.json()) as { id?: string; output?: { value?: unknown } };
          // An answer the client holds: from here on the call must be in the log.
          if (res.status === 200 && body.output?.value === i * 2 && typeof body.id === 'string') answered.push(body.id);
        } catch {
          // The connection died with the process: no answer, so nothing is owed.
        }
        if (answered.length >= KILL_AFTER && !killed && serve.child.pid !== undefined) {
          killed = true;
          process.kill(serve.child.pid, 'SIGKILL');
        }
      }
    };
    const exited = new Promise((done) => serve.child.once('exit', done));
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
    await exited;
    await hanging;
    expect(killed).toBe(true);
    expect(answered.length).toBeGreaterThanOrEqual(KILL_AFTER);

    const records = readLog(log);
    const finals = new Map(records.filter((r) => r.outcome !== 'started' && r.invocation !== undefined).map((r) => [r.invocation, r]));
    const lost = answered.filter((id) => finals.get(id)?.outcome !== 'ok');
    expect(lost).toEqual([]);
    // Each answered call also has its started record, written before its sandbox ran.
    const startedIds = new Set(records.filter((r) => r.outcome === 'started').map((r) => r.invocation));
    expect(answered.filter((id) => !startedIds.has(id))).toEqual([]);
    // The endless call: started, never finished.
    const endlessRecords = records.filter((r) => r.inputSha256 === endlessSha);
    expect(endlessRecords.map((r) => r.outcome)).toEqual(['started']);

    // The log verifies as it was left (a torn last line, if the kill tore one, is reported
    // as such and is no problem) — and the CLI says so too.
    const report = await verifyAuditLog(log);
    expect(report).toMatchObject({ ok: true, problems: [] });
    expect(report.records).toBe(records.length);
    expect(await runCli(cwd, ['audit', 'verify'])).toMatchObject({ code: 0 });
    // The next open cuts a torn tail and goes on with the chain.
    const reopened = createJsonlAuditLog(log);
    await reopened.append({ ts: new Date().toISOString(), kind: 'invocation', id: 'aud_after_crash', requestId: null, agent: null, user: null, tokenId: null, tool: null, action: null, resource: null, sandbox: null, decision: null, outcome: 'ok', durationMs: 0, inputSha256: null });
    await reopened.close();
    expect(await verifyAuditLog(log)).toMatchObject({ ok: true, records: records.length + 1, tornTail: null });
  }, 120_000);
});
