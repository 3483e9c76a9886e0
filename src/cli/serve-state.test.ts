import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ReloadResult } from '../runner/reload/index.ts';
import { findServingProcess, readReloadStatus, RELOAD_STATUS_FILE, removeServeRecord, SERVE_PID_FILE, writeReloadStatus, writeServeRecord } from './serve-state.ts';

// What `cordon reload` trusts from the data directory: only a pid file naming a live process
// with the same boot and start time, and only a well-formed status of that very process.
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cordon-serve-state-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const result: ReloadResult = { ok: false, generation: 3, policyVersion: 'sha256:a', previousPolicyVersion: 'sha256:a', changes: [], problems: [{ file: '/p/x.cedar', line: 2, reason: 'bad' }], needsRestart: ['server.port changed: needs a restart'], warnings: [], at: new Date().toISOString() };

describe('the pid file', () => {
  it('names this process once written (mode 0600), and is removed only by the process it names', () => {
    const mine = writeServeRecord(dir);
    expect(statSync(join(dir, SERVE_PID_FILE)).mode & 0o777).toBe(0o600);
    expect(findServingProcess(dir)).toEqual(mine);
    removeServeRecord(dir, { pid: mine.pid, runner: `${mine.runner}0` });
    expect(existsSync(join(dir, SERVE_PID_FILE))).toBe(true);
    removeServeRecord(dir, mine);
    expect(existsSync(join(dir, SERVE_PID_FILE))).toBe(false);
  });

  it.each([
    ['no file', null],
    ['not JSON', 'pid 42'],
    ['JSON of the wrong shape', '[1,2]'],
    ['pid 1', JSON.stringify({ pid: 1, runner: 'x:1:1' })],
    ['a runner id of another pid', () => JSON.stringify({ pid: process.pid, runner: writeServeRecord(dir).runner.replace(`:${process.pid}:`, ':2:') })],
    ['this pid with another start time (a reused pid)', () => JSON.stringify({ pid: process.pid, runner: writeServeRecord(dir).runner.replace(/:\d+$/, ':1') })],
    ['a runner id that is not one', JSON.stringify({ pid: process.pid, runner: 'x'.repeat(500) })],
    ['an oversized file', () => JSON.stringify({ pid: process.pid, runner: 'x', pad: 'y'.repeat(300 * 1024) })],
  ])('finds no server for %s', (_name, content) => {
    const text = typeof content === 'function' ? content() : content;
    if (text !== null) writeFileSync(join(dir, SERVE_PID_FILE), text);
    expect(findServingProcess(dir)).toBeNull();
  });

  it('does not hang on a FIFO in its place', () => {
    execFileSync('mkfifo', [join(dir, SERVE_PID_FILE)]);
    expect(findServingProcess(dir)).toBeNull();
  });
});

describe('the reload status file', () => {
  it('round-trips a result with the runner that wrote it', () => {
    writeReloadStatus(dir, 'boot:1:2', result);
    expect(statSync(join(dir, RELOAD_STATUS_FILE)).mode & 0o777).toBe(0o600);
    expect(readReloadStatus(dir)).toEqual({ ...result, runner: 'boot:1:2' });
  });

  it.each([
    ['not JSON', '{'],
    ['null', 'null'],
    ['ok not a boolean', JSON.stringify({ ...result, runner: 'r', ok: 'yes' })],
    ['problems without reasons', JSON.stringify({ ...result, runner: 'r', problems: [{ file: 'x' }] })],
    ['changes not strings', JSON.stringify({ ...result, runner: 'r', changes: [1] })],
    ['no runner', JSON.stringify(result)],
    ['an oversized file', JSON.stringify({ ...result, runner: 'r', changes: ['x'.repeat(300 * 1024)] })],
  ])('reads nothing from %s', (_name, text) => {
    writeFileSync(join(dir, RELOAD_STATUS_FILE), text);
    expect(readReloadStatus(dir)).toBeNull();
  });
});
