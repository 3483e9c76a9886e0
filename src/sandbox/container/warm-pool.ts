import type { Logger } from '../../core/logger.ts';
import type { ContainerProfileSettings, ContainerSlot } from './container-slot.ts';

export interface WarmPool {
  /** A started container of this profile, or null when none is ready (the caller starts one). */
  take(profile: string): ContainerSlot | null;
  /** Starts containers until every pooled profile has its `warmPool` ready. */
  fill(): void;
  stats(): Readonly<Record<string, number>>;
  close(): Promise<void>;
}

export interface WarmPoolOptions {
  readonly profiles: readonly ContainerProfileSettings[];
  readonly start: (settings: ContainerProfileSettings) => Promise<ContainerSlot>;
  readonly remove: (slot: ContainerSlot) => Promise<void>;
  readonly logger: Logger;
}

/** After a failed start, a profile's pool waits this long before trying again. */
const RETRY_AFTER_MS = 30_000;

/**
 * Started containers kept ready per profile, so a new sandbox gets one without the
 * engine's create and start (or the executor's and interpreter's start) on its path.
 * Each profile refills one container at a time, after every take; a pooled container
 * whose executor went away is dropped, never handed out.
 */
export function createWarmPool(options: WarmPoolOptions): WarmPool {
  const ready = new Map<string, ContainerSlot[]>();
  const starting = new Set<string>();
  /** Starts under way: close() waits for them and removes what they started. */
  const inFlight = new Set<Promise<unknown>>();
  const failedAt = new Map<string, number>();
  let closed = false;

  const refill = (settings: ContainerProfileSettings) => {
    const list = ready.get(settings.profile) ?? [];
    ready.set(settings.profile, list);
    if (closed || starting.has(settings.profile) || list.length >= settings.warmPool) return;
    if (Date.now() - (failedAt.get(settings.profile) ?? 0) < RETRY_AFTER_MS) return;
    starting.add(settings.profile);
    const started = options
      .start(settings)
      .then(
        async (slot) => {
          if (closed) {
            await options.remove(slot);
            return;
          }
          list.push(slot);
          failedAt.delete(settings.profile);
        },
        (err: unknown) => {
          failedAt.set(settings.profile, Date.now());
          options.logger.warn({ err, profile: settings.profile }, 'could not start a warm container');
        },
      )
      .finally(() => {
        starting.delete(settings.profile);
        inFlight.delete(started);
        refill(settings);
      });
    inFlight.add(started);
  };

  const byName = new Map(options.profiles.map((p) => [p.profile, p]));
  return {
    take(profile) {
      const settings = byName.get(profile);
      if (settings === undefined) return null;
      const list = ready.get(profile) ?? [];
      let slot: ContainerSlot | null = null;
      while (slot === null && list.length > 0) {
        const s = list.shift() as ContainerSlot;
        if (s.link.open) slot = s;
        else void options.remove(s);
      }
      refill(settings);
      return slot;
    },
    fill() {
      for (const settings of options.profiles) refill(settings);
    },
    stats: () => ({ containersWarm: [...ready.values()].reduce((n, l) => n + l.length, 0) }),
    async close() {
      closed = true;
      await Promise.all([...inFlight]);
      const all = [...ready.values()].flat();
      ready.clear();
      await Promise.all(all.map((s) => options.remove(s)));
    },
  };
}
