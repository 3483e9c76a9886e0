import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { readBoundedTextFile } from '../core/read-bounded-file.ts';
import { currentRunnerId, isRunnerAlive } from '../core/runner-id.ts';
import { writePrivateFile } from '../identity/agent-keys.ts';
import type { ReloadProblem, ReloadResult } from '../runner/reload/index.ts';

/**
 * What `cordon serve` leaves in its data directory for `cordon reload` (docs/decisions.md,
 * 2026-11-30): who is serving (`serve.pid`) and how its last reload went (`reload-status.json`).
 * Both are written whole (a temporary file moved into place), mode 0600, and read bounded.
 */
export const SERVE_PID_FILE = 'serve.pid';
export const RELOAD_STATUS_FILE = 'reload-status.json';
const MAX_STATE_FILE_BYTES = 256 * 1024;

export interface ServeRecord {
  readonly pid: number;
  /** `<boot id>:<pid>:<start ticks>` (core/runner-id.ts): a pid reused by another process never matches. */
  readonly runner: string;
}

export interface ReloadStatus extends ReloadResult {
  /** The serving process that reloaded: a status left by an earlier server is not this one's answer. */
  readonly runner: string;
}

export function writeServeRecord(dataDir: string): ServeRecord {
  const record: ServeRecord = { pid: process.pid, runner: currentRunnerId() };
  writePrivateFile(join(dataDir, SERVE_PID_FILE), `${JSON.stringify(record)}\n`);
  return record;
}

/** Removes the pid file if it is still this process's (a newer server on the same folder may have replaced it). */
export function removeServeRecord(dataDir: string, mine: ServeRecord): void {
  const now = readJson(join(dataDir, SERVE_PID_FILE));
  if (isServeRecord(now) && now.runner === mine.runner) rmSync(join(dataDir, SERVE_PID_FILE), { force: true });
}

/**
 * The server serving this data directory, if one runs: the pid file names a live process of
 * this boot with the same start time. Anything else (no file, garbage, a dead or reused pid) is
 * null, and nothing is ever signalled on its word.
 */
export function findServingProcess(dataDir: string): ServeRecord | null {
  const record = readJson(join(dataDir, SERVE_PID_FILE));
  if (!isServeRecord(record)) return null;
  if (record.runner.split(':')[1] !== String(record.pid) || !isRunnerAlive(record.runner)) return null;
  return record;
}

export function writeReloadStatus(dataDir: string, runner: string, result: ReloadResult): void {
  const status: ReloadStatus = { ...result, runner };
  writePrivateFile(join(dataDir, RELOAD_STATUS_FILE), `${JSON.stringify(status)}\n`);
}

export function readReloadStatus(dataDir: string): ReloadStatus | null {
  const v = readJson(join(dataDir, RELOAD_STATUS_FILE)) as Partial<ReloadStatus> | null;
  if (typeof v !== 'object' || v === null) return null;
  const strings = (x: unknown) => Array.isArray(x) && x.every((s) => typeof s === 'string');
  const problems = (x: unknown): x is ReloadProblem[] => Array.isArray(x) && x.every((p: Partial<ReloadProblem> | null) => typeof p === 'object' && p !== null && typeof p.reason === 'string');
  if (typeof v.ok !== 'boolean' || typeof v.generation !== 'number' || typeof v.runner !== 'string' || typeof v.at !== 'string' || typeof v.policyVersion !== 'string') return null;
  if (!strings(v.changes) || !strings(v.needsRestart) || !problems(v.problems)) return null;
  return v as ReloadStatus;
}

function readJson(path: string): unknown {
  const read = readBoundedTextFile(path, MAX_STATE_FILE_BYTES);
  if ('reason' in read) return null;
  try {
    return JSON.parse(read.text) as unknown;
  } catch {
    return null;
  }
}

function isServeRecord(v: unknown): v is ServeRecord {
  const r = v as Partial<ServeRecord> | null;
  return typeof r === 'object' && r !== null && Number.isSafeInteger(r.pid) && (r.pid ?? 0) > 1 && typeof r.runner === 'string' && r.runner.length <= 128;
}
