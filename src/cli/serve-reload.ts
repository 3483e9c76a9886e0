import type { Logger } from '../core/logger.ts';
import { formatReloadProblem, type ReloadResult } from '../runner/reload/index.ts';
import { removeServeRecord, writeReloadStatus, writeServeRecord, type ServeRecord } from './serve-state.ts';

export interface ServeReload {
  /** Hands over the runtime's reload once it is built; a SIGHUP that came before runs then. */
  attach(reload: () => Promise<ReloadResult>): void;
  /** Writes the pid file `cordon reload` finds this server by (once it listens). */
  announce(): void;
  /** Stops listening for SIGHUP and removes the pid file. */
  dispose(): void;
}

/**
 * `cordon serve`'s side of reloading: SIGHUP asks the runtime to reload (the runtime runs one at
 * a time; a SIGHUP during one gets one more after it), the outcome goes to the log as one line
 * and to `<dataDir>/reload-status.json` for `cordon reload`. A signal never throws: a failure is
 * logged, and the server goes on with the set it had.
 */
export function handleReloads(deps: { dataDir: string; logger: Logger }): ServeReload {
  let record: ServeRecord | null = null;
  let reload: (() => Promise<ReloadResult>) | null = null;
  let asked = false;
  const onHangup = () => {
    if (reload === null) {
      asked = true;
      return;
    }
    reload().then(
      (result) => {
        log(deps.logger, result);
        if (record === null) return;
        try {
          writeReloadStatus(deps.dataDir, record.runner, result);
        } catch (err) {
          deps.logger.warn({ err }, 'cannot write the reload status file: `cordon reload` will not see this outcome');
        }
      },
      (err: unknown) => deps.logger.error({ err }, 'reload failed; still serving the previous set'),
    );
  };
  // Installed first thing: without a listener, SIGHUP would end the process (Node's default).
  process.on('SIGHUP', onHangup);
  return {
    attach(fn) {
      reload = fn;
      if (asked) onHangup();
    },
    announce() {
      try {
        record = writeServeRecord(deps.dataDir);
      } catch (err) {
        deps.logger.warn({ err }, 'cannot write the pid file: `cordon reload` will not find this server (SIGHUP still reloads)');
      }
    },
    dispose() {
      process.off('SIGHUP', onHangup);
      if (record !== null) {
        try {
          removeServeRecord(deps.dataDir, record);
        } catch {
          // Left behind, it names a process that is gone: findServingProcess ignores it.
        }
      }
    },
  };
}

function log(logger: Logger, r: ReloadResult): void {
  const fields = { generation: r.generation, policySet: r.policyVersion, changes: r.changes, needsRestart: r.needsRestart };
  if (r.ok) logger.info({ ...fields, warnings: r.warnings.map(formatReloadProblem) }, `reload applied: ${r.changes.length === 0 ? 'nothing changed' : r.changes.join('; ')}`);
  else logger.warn({ ...fields, problems: r.problems.map(formatReloadProblem) }, `reload refused, still serving policy set ${r.policyVersion}: ${r.problems.map(formatReloadProblem).join('; ')}`);
}
