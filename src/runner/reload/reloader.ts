import type { AuditRecord, AuditSink } from '../../audit/audit-sink.ts';
import type { CordonConfig } from '../../config/config-schema.ts';
import { CordonError } from '../../core/errors.ts';
import { newId } from '../../core/ids.ts';
import type { Logger } from '../../core/logger.ts';
import type { DecisionCache } from '../../policy/index.ts';
import { appendRecord } from '../stages/record.ts';
import type { LiveHolder, LiveSet } from './live-set.ts';
import { describeChanges, fieldsNeedingRestart } from './reload-diff.ts';
import { formatReloadProblem, problemsOf, readLiveSet, type ProfileEgressRef, type ReloadProblem } from './read-live-set.ts';

/** What one reload did: applied (ok) or refused with every problem, and the set serving after it. */
export interface ReloadResult {
  readonly ok: boolean;
  /** Counts reloads of this process, applied or refused; 1 is the first after start-up. */
  readonly generation: number;
  /** The Cedar policy-set version serving now (unchanged when refused). */
  readonly policyVersion: string;
  readonly previousPolicyVersion: string;
  /** What changed (agents, users, Cedar and egress policies), one line each; empty when refused. */
  readonly changes: readonly string[];
  /** Why it was refused; empty when applied. */
  readonly problems: readonly ReloadProblem[];
  /** Config fields that differ from what the server started with but are only read at start-up. */
  readonly needsRestart: readonly string[];
  /** Loads, but probably not what was meant (validator warnings of the new set). */
  readonly warnings: readonly ReloadProblem[];
  readonly at: string;
}

export interface ReloaderDeps {
  readonly holder: LiveHolder<LiveSet>;
  /** The config the runtime was built from: folders, data directory and everything not reloaded. */
  readonly started: CordonConfig;
  /** Reads the config file again, as start-up did (same file, environment and flags). */
  readonly readConfig: () => CordonConfig;
  readonly profiles: readonly ProfileEgressRef[];
  readonly cache: DecisionCache;
  readonly audit: AuditSink;
  readonly logger: Logger;
}

export interface Reloader {
  /**
   * Re-reads agents, users, Cedar and egress policies, checks all of them, and swaps them in at
   * once, or changes nothing and says why. One runs at a time: asked during a run, one more
   * runs after it (every ask in between shares that one).
   */
  reload(): Promise<ReloadResult>;
}

export function createReloader(deps: ReloaderDeps): Reloader {
  let generation = 0;
  let running: Promise<ReloadResult> | null = null;
  let queued: Promise<ReloadResult> | null = null;

  const start = (): Promise<ReloadResult> => {
    const run: Promise<ReloadResult> = reloadOnce(++generation).finally(() => {
      if (running === run) running = null;
    });
    running = run;
    return run;
  };

  async function reloadOnce(gen: number): Promise<ReloadResult> {
    const started = performance.now();
    const before = deps.holder.current();
    const at = new Date().toISOString();
    const refuse = async (problems: readonly ReloadProblem[], needsRestart: readonly string[]): Promise<ReloadResult> => {
      const result: ReloadResult = { ok: false, generation: gen, policyVersion: before.policy.version, previousPolicyVersion: before.policy.version, changes: [], problems, needsRestart, warnings: [], at };
      await record(result, started).catch(() => undefined);
      return result;
    };

    let next: CordonConfig;
    try {
      next = deps.readConfig();
    } catch (err) {
      return refuse(problemsOf(err instanceof CordonError ? err : new CordonError('CONFIG_INVALID', (err as Error).message)), []);
    }
    const needsRestart = fieldsNeedingRestart(deps.started, next);
    // Only agents and users come from the file as it is now; folders and the rest stay as started.
    const effective: CordonConfig = { ...deps.started, agents: next.agents, users: next.users };
    const read = readLiveSet(effective, { createMissingKeys: false, cache: deps.cache, profiles: deps.profiles });
    if (!read.ok) return refuse(read.problems, needsRestart);

    const after = read.set;
    const result: ReloadResult = {
      ok: true,
      generation: gen,
      policyVersion: after.policy.version,
      previousPolicyVersion: before.policy.version,
      changes: describeChanges(before, after),
      problems: [],
      needsRestart,
      warnings: read.warnings,
      at,
    };
    try {
      // Recorded before it takes effect: no change to who may do what goes unrecorded.
      await record(result, started);
    } catch {
      after.policy.close();
      return { ...result, ok: false, policyVersion: before.policy.version, changes: [], problems: [{ file: null, reason: 'the audit log cannot be written: nothing was changed' }] };
    }
    deps.holder.swap(after);
    // Decisions are synchronous on one engine: none is under way on the old one now, and none will be.
    before.policy.close();
    return result;
  }

  function record(result: ReloadResult, started: number): Promise<void> {
    const event = result.ok ? 'applied' : 'refused';
    const entry: AuditRecord = {
      ts: result.at,
      kind: 'config',
      id: newId('aud'),
      requestId: null,
      agent: null,
      user: null,
      tokenId: null,
      tool: null,
      action: 'config.reload',
      resource: deps.started.configFile,
      sandbox: null,
      decision: null,
      outcome: event,
      durationMs: Math.round((performance.now() - started) * 1000) / 1000,
      inputSha256: null,
      reload: {
        event,
        generation: result.generation,
        fromPolicyVersion: result.previousPolicyVersion,
        toPolicyVersion: result.policyVersion,
        changes: [...result.changes, ...result.needsRestart],
        problems: result.problems.map(formatReloadProblem),
      },
    };
    return appendRecord(deps.audit, deps.logger, entry);
  }

  return {
    reload() {
      if (running === null) return start();
      queued ??= running.then(
        () => {
          queued = null;
          return start();
        },
        () => {
          queued = null;
          return start();
        },
      );
      return queued;
    },
  };
}
