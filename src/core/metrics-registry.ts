import { escapeHelp, formatLabels, formatValue, isLabelName, isMetricName } from './prometheus-text.ts';

/**
 * A small Prometheus registry: counters, gauges and fixed-bucket histograms, rendered in the
 * text exposition format. No dependency, and bounded by construction: every label declares the
 * values it may take, and any other value is counted under that label's `other` value. So an
 * agent that sends a million made-up tool names or tokens adds no series; it moves `unknown`.
 */

export interface LabelSpec {
  readonly name: string;
  /** Whether a value is one this label may carry (a registered tool, a loaded policy…); asked once per new value. */
  readonly allowed: (value: string) => boolean;
  /** What any other value is counted as. */
  readonly other: string;
}

/** A label whose values are a fixed set (or a predicate, for sets that are loaded, like policy names). */
export function label(name: string, allowed: Iterable<string> | ((value: string) => boolean), other = 'other'): LabelSpec {
  if (typeof allowed === 'function') return { name, allowed, other };
  const set = new Set(allowed);
  return { name, allowed: (v) => set.has(v), other };
}

export interface CounterChild {
  /** Adds `by` (default 1); a negative or non-finite amount is ignored (counters only go up). */
  inc(by?: number): void;
}

export interface GaugeChild {
  set(value: number): void;
}

export interface HistogramChild {
  /** Counts one observation (in the histogram's unit); NaN is ignored. */
  observe(value: number): void;
}

/** A metric family: `labels(...)` resolves the child for these label values (in declared order), once per call site if hot. */
export interface Family<Child> {
  labels(...values: string[]): Child;
}

interface MetricOptions {
  readonly name: string;
  readonly help: string;
  readonly labels?: readonly LabelSpec[];
}

export interface MetricsRegistry {
  counter(options: MetricOptions): Family<CounterChild>;
  /** `collect` runs on each scrape before rendering: gauges read from their source then, not maintained. */
  gauge(options: MetricOptions & { readonly collect?: (gauge: Family<GaugeChild>) => void }): Family<GaugeChild>;
  /** `buckets`: upper bounds, ascending; `+Inf` is added. */
  histogram(options: MetricOptions & { readonly buckets: readonly number[] }): Family<HistogramChild>;
  /** The whole registry in the text format (version 0.0.4). */
  render(): string;
  /** Series held now, over all families (a histogram child counts once). */
  readonly seriesCount: number;
}

interface Series<Child> {
  readonly values: readonly string[];
  readonly child: Child;
  readonly sample: () => string[];
}

type Node<Child> = Map<string, Node<Child> | Series<Child>>;

/**
 * Children of one family, found by label values through nested maps: no key is built per call.
 * Only allowed values (or `other`) ever become keys; an unknown value is resolved again on each call.
 */
function createSeriesTable<Child>(name: string, specs: readonly LabelSpec[], make: (values: readonly string[]) => Series<Child>) {
  const root: Node<Child> = new Map();
  const all: Series<Child>[] = [];
  const create = (values: readonly string[]): Series<Child> => {
    if (values.length !== specs.length) throw new Error(`metric ${name} takes ${specs.length} label values, not ${values.length}`);
    const resolved = values.map((v, i) => {
      const spec = specs[i] as LabelSpec;
      return v === spec.other || spec.allowed(v) ? v : spec.other;
    });
    let node = root;
    for (let i = 0; i < resolved.length - 1; i++) {
      const key = resolved[i] as string;
      let next = node.get(key) as Node<Child> | undefined;
      if (next === undefined) node.set(key, (next = new Map()));
      node = next;
    }
    const last = resolved.at(-1) as string;
    let series = node.get(last) as Series<Child> | undefined;
    if (series === undefined) {
      series = make(resolved);
      node.set(last, series);
      all.push(series);
    }
    return series;
  };
  const single = specs.length === 0 ? make([]) : null;
  if (single !== null) all.push(single);
  return {
    all,
    get(values: readonly string[]): Child {
      if (single !== null) return single.child;
      if (values.length !== specs.length) return create(values).child;
      let node = root;
      for (let i = 0; i < values.length - 1; i++) {
        const next = node.get(values[i] as string) as Node<Child> | undefined;
        if (next === undefined) return create(values).child;
        node = next;
      }
      const series = node.get(values.at(-1) as string) as Series<Child> | undefined;
      return series === undefined ? create(values).child : series.child;
    },
  };
}

function checkNames(options: MetricOptions, taken: ReadonlySet<string>, reserved: readonly string[] = []): readonly LabelSpec[] {
  if (!isMetricName(options.name)) throw new Error(`not a Prometheus metric name: ${JSON.stringify(options.name)}`);
  if (taken.has(options.name)) throw new Error(`metric ${options.name} is registered twice`);
  const specs = options.labels ?? [];
  const seen = new Set<string>();
  for (const s of specs) {
    if (!isLabelName(s.name) || reserved.includes(s.name) || seen.has(s.name)) throw new Error(`metric ${options.name}: label name ${JSON.stringify(s.name)} is invalid, reserved or repeated`);
    seen.add(s.name);
  }
  return specs;
}

export function createMetricsRegistry(): MetricsRegistry {
  const families: { readonly header: string; readonly series: readonly Series<unknown>[]; readonly collect?: () => void }[] = [];
  const names = new Set<string>();
  const header = (o: MetricOptions, type: string) => `# HELP ${o.name} ${escapeHelp(o.help)}\n# TYPE ${o.name} ${type}`;

  function register<Child>(o: MetricOptions, type: string, specs: readonly LabelSpec[], make: (values: readonly string[]) => { child: Child; sample: () => string[] }, collect?: (f: Family<Child>) => void): Family<Child> {
    const table = createSeriesTable<Child>(o.name, specs, (values) => ({ values, ...make(values) }));
    const family: Family<Child> = { labels: (...values) => table.get(values) };
    names.add(o.name);
    families.push({ header: header(o, type), series: table.all, ...(collect === undefined ? {} : { collect: () => collect(family) }) });
    return family;
  }

  return {
    counter(o) {
      if (!o.name.endsWith('_total')) throw new Error(`counter ${o.name} must end in _total`);
      const specs = checkNames(o, names);
      const labelNames = specs.map((s) => s.name);
      return register<CounterChild>(o, 'counter', specs, (values) => {
        let value = 0;
        const line = `${o.name}${formatLabels(labelNames, values)} `;
        return {
          child: {
            inc(by = 1) {
              if (by >= 0 && Number.isFinite(by)) value += by;
            },
          },
          sample: () => [line + formatValue(value)],
        };
      });
    },

    gauge(o) {
      const specs = checkNames(o, names);
      const labelNames = specs.map((s) => s.name);
      return register<GaugeChild>(o, 'gauge', specs, (values) => {
        let value = 0;
        const line = `${o.name}${formatLabels(labelNames, values)} `;
        return { child: { set: (v) => void (value = v) }, sample: () => [line + formatValue(value)] };
      }, o.collect);
    },

    histogram(o) {
      const specs = checkNames(o, names, ['le']);
      const bounds = [...o.buckets];
      if (bounds.length === 0 || bounds.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= (bounds[i - 1] as number)))) {
        throw new Error(`histogram ${o.name}: buckets must be finite and strictly ascending`);
      }
      const labelNames = specs.map((s) => s.name);
      return register<HistogramChild>(o, 'histogram', specs, (values) => {
        const counts = new Array<number>(bounds.length).fill(0);
        let sum = 0;
        let count = 0;
        const withLe = bounds.map((b) => `${o.name}_bucket${formatLabels([...labelNames, 'le'], [...values, formatValue(b)])} `);
        const inf = `${o.name}_bucket${formatLabels([...labelNames, 'le'], [...values, '+Inf'])} `;
        const tail = formatLabels(labelNames, values);
        return {
          child: {
            observe(v) {
              if (Number.isNaN(v)) return;
              let i = 0;
              while (i < bounds.length && v > (bounds[i] as number)) i++;
              if (i < bounds.length) counts[i] = (counts[i] as number) + 1;
              sum += v;
              count++;
            },
          },
          // Buckets are cumulative: each counts every observation at or below its bound.
          sample: () => {
            let running = 0;
            const lines = counts.map((c, i) => `${withLe[i] as string}${formatValue((running += c))}`);
            return [...lines, inf + formatValue(count), `${o.name}_sum${tail} ${formatValue(sum)}`, `${o.name}_count${tail} ${formatValue(count)}`];
          },
        };
      });
    },

    render() {
      const out: string[] = [];
      for (const f of families) {
        f.collect?.();
        out.push(f.header);
        for (const s of f.series) out.push(...s.sample());
      }
      return `${out.join('\n')}\n`;
    },

    get seriesCount() {
      return families.reduce((n, f) => n + f.series.length, 0);
    },
  };
}
