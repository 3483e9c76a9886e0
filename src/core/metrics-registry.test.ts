import { describe, expect, it } from 'vitest';
import { parsePrometheusText } from '../../test/support/prometheus-text.ts';
import { createMetricsRegistry, label } from './metrics-registry.ts';
import { escapeHelp, escapeLabelValue, formatValue } from './prometheus-text.ts';

describe('metrics registry', () => {
  it('renders counters with HELP and TYPE lines, labels in declared order', () => {
    const r = createMetricsRegistry();
    const c = r.counter({ name: 'cordon_things_total', help: 'Things.', labels: [label('tool', ['code', 'file.read']), label('outcome', ['ok', 'error'])] });
    c.labels('code', 'ok').inc();
    c.labels('code', 'ok').inc(2);
    c.labels('file.read', 'error').inc();
    expect(r.render()).toBe([
      '# HELP cordon_things_total Things.',
      '# TYPE cordon_things_total counter',
      'cordon_things_total{tool="code",outcome="ok"} 3',
      'cordon_things_total{tool="file.read",outcome="error"} 1',
      '',
    ].join('\n'));
  });

  it('counts a label value outside the declared set under `other`, adding no series for it', () => {
    const r = createMetricsRegistry();
    const c = r.counter({ name: 'x_total', help: 'x', labels: [label('tool', ['code'], 'unknown')] });
    for (let i = 0; i < 1000; i++) c.labels(`made-up-${i}`).inc();
    c.labels('code').inc();
    const scrape = parsePrometheusText(r.render());
    expect(scrape.value('x_total', { tool: 'unknown' })).toBe(1000);
    expect(scrape.value('x_total', { tool: 'code' })).toBe(1);
    expect(r.seriesCount).toBe(2);
  });

  it('asks a predicate label about new values (policy names loaded from config)', () => {
    const loaded = new Set(['github']);
    const r = createMetricsRegistry();
    const c = r.counter({ name: 'p_total', help: 'p', labels: [label('policy', (v) => loaded.has(v), 'unknown')] });
    c.labels('github').inc();
    c.labels('evil.example').inc();
    const scrape = parsePrometheusText(r.render());
    expect(scrape.value('p_total', { policy: 'github' })).toBe(1);
    expect(scrape.value('p_total', { policy: 'unknown' })).toBe(1);
  });

  it('escapes backslash, double quote and line feed in label values, and backslash and line feed in HELP', () => {
    expect(escapeLabelValue('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
    expect(escapeHelp('a\\b"c\nd')).toBe('a\\\\b"c\\nd');
    const r = createMetricsRegistry();
    const hostile = 'x"} 1\nfake_total 99\\';
    r.counter({ name: 'e_total', help: 'line one\nline "two" \\', labels: [label('v', [hostile])] }).labels(hostile).inc();
    const text = r.render();
    // The value cannot break out of its quotes and forge a series: the parser reads it back whole.
    const scrape = parsePrometheusText(text);
    expect(scrape.value('e_total', { v: hostile })).toBe(1);
    expect(scrape.families.has('fake_total')).toBe(false);
    expect(scrape.families.get('e_total')?.help).toBe('line one\nline "two" \\');
  });

  it('renders histogram buckets cumulative, with +Inf, _sum and _count', () => {
    const r = createMetricsRegistry();
    const h = r.histogram({ name: 'd_seconds', help: 'd', buckets: [0.1, 1, 10], labels: [label('tool', ['code'])] });
    for (const v of [0.05, 0.1, 0.5, 2, 20, 30]) h.labels('code').observe(v);
    h.labels('code').observe(Number.NaN);
    const text = r.render();
    expect(text).toContain('d_seconds_bucket{tool="code",le="0.1"} 2\n');
    expect(text).toContain('d_seconds_bucket{tool="code",le="1"} 3\n');
    expect(text).toContain('d_seconds_bucket{tool="code",le="10"} 4\n');
    expect(text).toContain('d_seconds_bucket{tool="code",le="+Inf"} 6\n');
    expect(text).toContain('d_seconds_sum{tool="code"} 52.65\n');
    expect(text).toContain('d_seconds_count{tool="code"} 6\n');
    parsePrometheusText(text);
  });

  it('reads collected gauges on each render', () => {
    let live = 2;
    const r = createMetricsRegistry();
    r.gauge({ name: 'g', help: 'g', labels: [label('backend', ['isolate'])], collect: (g) => g.labels('isolate').set(live) });
    expect(parsePrometheusText(r.render()).value('g', { backend: 'isolate' })).toBe(2);
    live = 5;
    expect(parsePrometheusText(r.render()).value('g', { backend: 'isolate' })).toBe(5);
  });

  it('renders a label-less metric at 0 before anything happens', () => {
    const r = createMetricsRegistry();
    r.counter({ name: 'z_total', help: 'z' });
    expect(r.render()).toBe('# HELP z_total z\n# TYPE z_total counter\nz_total 0\n');
  });

  it('ignores negative and non-finite counter increments: a counter only goes up', () => {
    const r = createMetricsRegistry();
    const c = r.counter({ name: 'n_total', help: 'n' }).labels();
    c.inc(-5);
    c.inc(Number.NaN);
    c.inc(Infinity);
    c.inc(4);
    expect(parsePrometheusText(r.render()).value('n_total')).toBe(4);
  });

  it('formats special values the way the format spells them', () => {
    expect([formatValue(Infinity), formatValue(-Infinity), formatValue(Number.NaN), formatValue(0.25), formatValue(3)]).toEqual(['+Inf', '-Inf', 'NaN', '0.25', '3']);
  });

  it('refuses bad definitions when they are registered, not at scrape time', () => {
    const r = createMetricsRegistry();
    r.counter({ name: 'a_total', help: 'a' });
    expect(() => r.counter({ name: 'a_total', help: 'again' })).toThrow(/twice/);
    expect(() => r.counter({ name: 'no_suffix', help: 'x' })).toThrow(/_total/);
    expect(() => r.gauge({ name: 'bad-name', help: 'x' })).toThrow(/metric name/);
    expect(() => r.gauge({ name: 'g1', help: 'x', labels: [label('__reserved', [])] })).toThrow(/label name/);
    expect(() => r.gauge({ name: 'g2', help: 'x', labels: [label('a', []), label('a', [])] })).toThrow(/label name/);
    expect(() => r.histogram({ name: 'h1', help: 'x', buckets: [1], labels: [label('le', [])] })).toThrow(/label name/);
    expect(() => r.histogram({ name: 'h2', help: 'x', buckets: [1, 1] })).toThrow(/ascending/);
    expect(() => r.histogram({ name: 'h3', help: 'x', buckets: [] })).toThrow(/ascending/);
    const two = r.counter({ name: 'two_total', help: 'x', labels: [label('a', ['x']), label('b', ['y'])] });
    expect(() => two.labels('x')).toThrow(/2 label values/);
  });
});

describe('the strict exposition parser (test support) refuses what a scraper could misread', () => {
  it.each([
    ['a sample before its TYPE', 'x_total 1\n'],
    ['no final line feed', '# TYPE x counter\nx 1'],
    ['a repeated series', '# TYPE x counter\nx{a="1"} 1\nx{a="1"} 2\n'],
    ['a split family', '# TYPE x gauge\nx 1\n# TYPE y gauge\ny 1\n# TYPE x gauge\n'],
    ['a bad escape', '# TYPE x gauge\nx{a="\\t"} 1\n'],
    ['an unterminated label value', '# TYPE x gauge\nx{a="1} 1\n'],
    ['a bad number', '# TYPE x gauge\nx 1,5\n'],
    ['non-cumulative buckets', '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n'],
    ['no +Inf bucket', '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n'],
    ['no _count', '# TYPE h histogram\nh_bucket{le="+Inf"} 1\nh_sum 1\n'],
  ])('%s', (_name, text) => {
    expect(() => parsePrometheusText(text)).toThrow();
  });
});
