import type Docker from 'dockerode';

/** When one engine call began and ended (performance.now()). */
export interface Span {
  readonly t0: number;
  readonly t1: number;
}

/** The engine calls the container backend made for one container. */
export interface EngineMarks {
  create?: Span;
  start?: Span;
  rename?: Span;
  remove?: Span;
}

export interface EngineTrace {
  /** The client to hand the backend: the same engine, its container calls timed. */
  readonly docker: Docker;
  /** Marks for the next container the backend creates (rounds run one at a time). */
  next(): EngineMarks;
}

const TIMED = new Set<PropertyKey>(['start', 'rename', 'remove']);
type Method = (...args: unknown[]) => unknown;

/**
 * Times the backend's own engine calls from outside it: a proxy over the dockerode client
 * whose createContainer, and the start, rename and remove of each container it made, record
 * their spans. Nothing in src/ changes, so the breakdown is of the code that ships.
 */
export function traceEngine(docker: Docker): EngineTrace {
  let current: EngineMarks = {};
  const container = (target: Docker.Container, marks: EngineMarks): Docker.Container =>
    new Proxy(target, {
      get(t, prop) {
        const v: unknown = Reflect.get(t, prop, t);
        if (typeof v !== 'function') return v;
        if (!TIMED.has(prop)) return (v as Method).bind(t);
        return (...args: unknown[]) => {
          const t0 = performance.now();
          return (Promise.resolve((v as Method).apply(t, args)) as Promise<unknown>).finally(() => {
            marks[prop as 'start' | 'rename' | 'remove'] = { t0, t1: performance.now() };
          });
        };
      },
    });
  const traced = new Proxy(docker, {
    get(t, prop) {
      const v: unknown = Reflect.get(t, prop, t);
      if (typeof v !== 'function') return v;
      if (prop !== 'createContainer') return (v as Method).bind(t);
      return async (...args: unknown[]) => {
        const marks = current;
        const t0 = performance.now();
        const made = (await (v as Method).apply(t, args)) as Docker.Container;
        marks.create = { t0, t1: performance.now() };
        return container(made, marks);
      };
    },
  });
  return {
    docker: traced,
    next() {
      current = {};
      return current;
    },
  };
}
