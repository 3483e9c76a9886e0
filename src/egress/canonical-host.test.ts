import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseEgressTarget } from './canonical-host.ts';

interface Case {
  url?: string;
  connect?: string;
  method?: string;
  host?: string;
  kind?: string;
  port?: number;
  path?: string;
  error?: string;
}

const cases = parse(readFileSync(resolve(import.meta.dirname, '../../testdata/egress/canonical-host.yaml'), 'utf8')) as Case[];

describe('parseEgressTarget', () => {
  it.each(cases.map((c) => [JSON.stringify(c.url ?? `CONNECT ${c.connect}`), c] as const))('%s', (_, c) => {
    const got = parseEgressTarget(c.connect !== undefined ? { connect: c.connect } : { url: c.url ?? '', method: c.method ?? 'GET' });
    if (c.error !== undefined) {
      expect(got.ok).toBe(false);
      if (!got.ok) expect(got.reason).toContain(c.error);
      return;
    }
    expect(got.ok, got.ok ? '' : got.reason).toBe(true);
    if (!got.ok) return;
    if (c.host !== undefined) expect(got.target.host).toBe(c.host);
    if (c.kind !== undefined) expect(got.target.hostKind).toBe(c.kind);
    if (c.port !== undefined) expect(got.target.port).toBe(c.port);
    if (c.path !== undefined) expect(got.target.path).toBe(c.path);
  });
});
