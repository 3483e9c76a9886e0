import { newId } from '../core/ids.ts';
import type { AuditRecord } from './audit-sink.ts';

export interface RepeatAggregatorOptions {
  /**
   * Writes one record; resolves when it is written, rejects when it cannot be (audit-append.ts).
   * A summary written when a window closes is not awaited by anyone: its failure fails the sink.
   */
  readonly write: (record: AuditRecord) => Promise<void>;
  /** How long repeats of a key are counted before they are written as one record; 0: never counted. */
  readonly windowMs: number;
  /** Keys counted at once; a new key beyond this is counted in one shared "other" bucket. */
  readonly maxKeys: number;
  readonly now?: () => number;
}

export interface RepeatAggregator {
  /**
   * The first record of `key` in a window is written at once (with `count: 1`); later
   * ones in the same window are counted and written as one record with `count`,
   * `firstAt` and `lastAt` when the window closes. The key must hold every field that
   * matters (source and reason, agent and quota): the summary keeps the fields of the
   * first counted record and drops those that differ from call to call.
   * Resolves when the record is written (the first of a window) or counted (the rest).
   */
  append(key: string, record: AuditRecord): Promise<void>;
  /** Writes every open count now (shutdown). */
  flush(): void;
  /** Flushes and stops the timer. */
  close(): void;
}

interface Window {
  readonly openedAtMs: number;
  template: AuditRecord | null;
  count: number;
  firstAt: string;
  lastAt: string;
  outcomes: Set<string>;
}

/** The bucket for keys beyond `maxKeys`: one attacker varying its source cannot grow this map. */
const OTHER = '\u0000other';

/**
 * Folds repeated records into counted ones, so an anonymous client sending bad tokens
 * (or an agent hammering a quota) costs the audit log a few lines a minute, not one a
 * request — while every failure is still counted. Memory is bounded by `maxKeys`.
 */
export function createRepeatAggregator(options: RepeatAggregatorOptions): RepeatAggregator {
  const now = options.now ?? Date.now;
  const windows = new Map<string, Window>();

  const summarise = (key: string, w: Window): AuditRecord | null => {
    if (w.template === null) return null;
    const other = key === OTHER;
    return {
      ...w.template,
      ts: new Date(now()).toISOString(),
      id: newId('aud'),
      // Per-request fields: they differ within the window, so none of them is true of all.
      requestId: null,
      tokenId: null,
      resource: null,
      sandbox: null,
      inputSha256: null,
      durationMs: 0,
      ...(other ? { source: 'other', agent: null, user: null, tool: null, action: null, decision: null } : {}),
      outcome: w.outcomes.size === 1 ? w.template.outcome : 'mixed',
      count: w.count,
      firstAt: w.firstAt,
      lastAt: w.lastAt,
    };
  };

  const closeWindow = (key: string, w: Window) => {
    windows.delete(key);
    const summary = summarise(key, w);
    if (summary !== null) options.write(summary).catch(() => undefined);
  };

  const sweep = () => {
    const t = now();
    for (const [key, w] of windows) if (t - w.openedAtMs >= options.windowMs) closeWindow(key, w);
  };

  const timer = options.windowMs > 0 ? setInterval(sweep, Math.max(100, Math.floor(options.windowMs / 4))) : null;
  timer?.unref();

  const flush = () => {
    for (const [key, w] of windows) closeWindow(key, w);
  };

  return {
    append(key, record) {
      if (options.windowMs <= 0) return options.write({ ...record, count: 1 });
      const t = now();
      let k = key;
      let w = windows.get(k);
      if (w !== undefined && t - w.openedAtMs >= options.windowMs) {
        closeWindow(k, w);
        w = undefined;
      }
      if (w === undefined && windows.size >= options.maxKeys) {
        k = OTHER;
        w = windows.get(k);
      }
      if (w === undefined) {
        windows.set(k, { openedAtMs: t, template: null, count: 0, firstAt: record.ts, lastAt: record.ts, outcomes: new Set() });
        // The first record is one request's: its own source is true of it, even in the "other" bucket.
        return options.write({ ...record, count: 1 });
      }
      if (w.template === null) {
        w.template = record;
        w.firstAt = record.ts;
      }
      w.count += 1;
      w.lastAt = record.ts;
      // Bounded: the outcomes in a window are a handful of error codes; 'mixed' needs only two.
      if (w.outcomes.size < 2) w.outcomes.add(record.outcome);
      return Promise.resolve();
    },
    flush,
    close() {
      if (timer !== null) clearInterval(timer);
      flush();
    },
  };
}
