/**
 * A strict reader of the Prometheus text exposition format (version 0.0.4), for tests: it
 * throws on anything a scraper could misread — a sample before its TYPE, a family split in
 * two, a repeated series, a bad escape, a histogram whose buckets are not cumulative or lack
 * `+Inf`, `_sum` or `_count` — so a test that parses a scrape also checks its format.
 */

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface MetricFamily {
  readonly name: string;
  readonly type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  readonly help: string | null;
  readonly samples: Sample[];
}

export interface Scrape {
  readonly families: ReadonlyMap<string, MetricFamily>;
  /** The one sample with exactly this name and these labels; 0 when absent (a series not yet created). */
  value(name: string, labels?: Readonly<Record<string, string>>): number;
  /** Sum over samples of `name` whose labels include `match`. */
  sum(name: string, match?: Readonly<Record<string, string>>): number;
  /** Every series of every family (histogram bucket, _sum and _count lines each count). */
  readonly seriesCount: number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const NUMBER = /^(?:[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|[+-]?Inf|NaN)$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function parseNumber(text: string, line: number): number {
  if (!NUMBER.test(text)) throw new Error(`line ${line}: not a number: ${JSON.stringify(text)}`);
  if (text.endsWith('Inf')) return text.startsWith('-') ? -Infinity : Infinity;
  return Number(text);
}

function unescapeHelp(text: string, line: number): string {
  return text.replace(/\\(.?)/g, (_m, c: string) => {
    if (c === '\\') return '\\';
    if (c === 'n') return '\n';
    throw new Error(`line ${line}: bad escape in HELP: \\${c}`);
  });
}

/** `{a="x",b="y"}` at the start of `rest`: the labels and what follows them. */
function parseLabels(rest: string, line: number): { labels: Record<string, string>; rest: string } {
  const labels: Record<string, string> = {};
  if (!rest.startsWith('{')) return { labels, rest };
  let i = 1;
  while (rest[i] !== '}') {
    const name = LABEL_NAME.exec(rest.slice(i))?.[0];
    if (name === undefined) throw new Error(`line ${line}: bad label name at ${JSON.stringify(rest.slice(i, i + 20))}`);
    if (Object.hasOwn(labels, name)) throw new Error(`line ${line}: label ${name} twice`);
    i += name.length;
    if (rest.slice(i, i + 2) !== '="') throw new Error(`line ${line}: expected =" after label ${name}`);
    i += 2;
    let value = '';
    for (;;) {
      const c = rest[i];
      if (c === undefined) throw new Error(`line ${line}: unterminated label value`);
      if (c === '"') break;
      if (c === '\\') {
        const e = rest[i + 1];
        if (e === '\\' || e === '"') value += e;
        else if (e === 'n') value += '\n';
        else throw new Error(`line ${line}: bad escape in label value: \\${e ?? ''}`);
        i += 2;
        continue;
      }
      value += c;
      i++;
    }
    labels[name] = value;
    i++;
    if (rest[i] === ',') i++;
    else if (rest[i] !== '}') throw new Error(`line ${line}: expected , or } after label ${name}`);
  }
  return { labels, rest: rest.slice(i + 1) };
}

function familyOf(sampleName: string, current: MetricFamily | null): boolean {
  if (current === null) return false;
  if (sampleName === current.name) return current.type !== 'histogram';
  if (current.type === 'histogram') return [`${current.name}_bucket`, `${current.name}_sum`, `${current.name}_count`].includes(sampleName);
  return false;
}

function checkHistogram(f: MetricFamily): void {
  const groups = new Map<string, { buckets: { le: number; value: number }[]; sum?: number; count?: number }>();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    const g = groups.get(key) ?? { buckets: [] };
    groups.set(key, g);
    if (s.name.endsWith('_bucket')) {
      if (le === undefined) throw new Error(`${f.name}: a bucket without le`);
      g.buckets.push({ le: parseNumber(le, 0), value: s.value });
    } else if (s.name.endsWith('_sum')) g.sum = s.value;
    else g.count = s.value;
  }
  for (const [key, g] of groups) {
    if (g.sum === undefined || g.count === undefined) throw new Error(`${f.name}${key}: missing _sum or _count`);
    const last = g.buckets.at(-1);
    if (last === undefined || last.le !== Infinity) throw new Error(`${f.name}${key}: the last bucket is not le="+Inf"`);
    if (last.value !== g.count) throw new Error(`${f.name}${key}: the +Inf bucket (${last.value}) is not _count (${g.count})`);
    g.buckets.forEach((b, i) => {
      const prev = g.buckets[i - 1];
      if (prev !== undefined && (b.le <= prev.le || b.value < prev.value)) throw new Error(`${f.name}${key}: buckets are not ascending and cumulative at le=${b.le}`);
    });
  }
}

export function parsePrometheusText(text: string): Scrape {
  if (text.length > 0 && !text.endsWith('\n')) throw new Error('the exposition does not end with a line feed');
  const families = new Map<string, MetricFamily>();
  const helps = new Map<string, string>();
  const seen = new Set<string>();
  let current: MetricFamily | null = null;
  const lines = text.split('\n').slice(0, -1);
  lines.forEach((raw, index) => {
    const line = index + 1;
    if (raw.startsWith('#')) {
      const m = /^# (HELP|TYPE) ([^ ]+) ?(.*)$/.exec(raw);
      if (m === null) throw new Error(`line ${line}: a comment that is neither HELP nor TYPE: ${JSON.stringify(raw)}`);
      const [, kind, name = '', rest = ''] = m;
      if (!NAME.test(name) || NAME.exec(name)?.[0] !== name) throw new Error(`line ${line}: bad metric name ${JSON.stringify(name)}`);
      if (kind === 'HELP') {
        if (helps.has(name)) throw new Error(`line ${line}: HELP for ${name} twice`);
        helps.set(name, unescapeHelp(rest, line));
        return;
      }
      if (!TYPES.has(rest)) throw new Error(`line ${line}: bad type ${JSON.stringify(rest)}`);
      if (families.has(name)) throw new Error(`line ${line}: TYPE for ${name} twice (or the family is split)`);
      current = { name, type: rest as MetricFamily['type'], help: null, samples: [] };
      families.set(name, current);
      return;
    }
    if (raw.trim() === '') throw new Error(`line ${line}: empty line`);
    const name = NAME.exec(raw)?.[0];
    if (name === undefined) throw new Error(`line ${line}: no metric name: ${JSON.stringify(raw)}`);
    const { labels, rest } = parseLabels(raw.slice(name.length), line);
    const m = /^ (\S+)(?: (-?\d+))?$/.exec(rest);
    if (m === null) throw new Error(`line ${line}: expected " value [timestamp]" after the series, got ${JSON.stringify(rest)}`);
    if (!familyOf(name, current)) throw new Error(`line ${line}: sample ${name} is not of the family just typed`);
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seen.has(key)) throw new Error(`line ${line}: series ${key} twice`);
    seen.add(key);
    (current as unknown as MetricFamily).samples.push({ name, labels, value: parseNumber(m[1] as string, line) });
  });
  for (const f of families.values()) {
    (f as { help: string | null }).help = helps.get(f.name) ?? null;
    if (f.type === 'histogram') checkHistogram(f);
  }
  const all = [...families.values()].flatMap((f) => f.samples);
  const includes = (labels: Readonly<Record<string, string>>, match: Readonly<Record<string, string>>) => Object.entries(match).every(([k, v]) => labels[k] === v);
  return {
    families,
    value(name, labels = {}) {
      const hits = all.filter((s) => s.name === name && Object.keys(s.labels).length === Object.keys(labels).length && includes(s.labels, labels));
      if (hits.length > 1) throw new Error(`${name}: more than one series matches`);
      return hits[0]?.value ?? 0;
    },
    sum: (name, match = {}) => all.filter((s) => s.name === name && includes(s.labels, match)).reduce((n, s) => n + s.value, 0),
    seriesCount: all.length,
  };
}
