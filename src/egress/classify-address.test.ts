import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { classifyAddress } from './classify-address.ts';

interface Case {
  address: string;
  forbidden: boolean;
  category: string;
  openable?: boolean;
  metadata?: boolean;
  dial?: string;
  embedded?: string;
}

const cases = parse(readFileSync(resolve(import.meta.dirname, '../../testdata/egress/classify-address.yaml'), 'utf8')) as Case[];

describe('classifyAddress', () => {
  it.each(cases.map((c) => [c.address, c] as const))('%s', (_, c) => {
    const got = classifyAddress(c.address);
    expect(got).not.toBeNull();
    expect({ forbidden: got?.forbidden, category: got?.category }).toEqual({ forbidden: c.forbidden, category: c.category });
    if (c.openable !== undefined) expect(got?.openable).toBe(c.openable);
    if (c.metadata !== undefined) expect(got?.metadata).toBe(c.metadata);
    if (c.dial !== undefined) expect(got?.address).toBe(c.dial);
    if (c.embedded !== undefined) expect(got?.embeddedIpv4).toBe(c.embedded);
  });

  it('refuses what is not an address, including zone ids', () => {
    for (const bad of ['example.com', '1.2.3', '01.2.3.4', 'fe80::1%eth0', '', '1.2.3.4/32', '[::1]']) expect(classifyAddress(bad)).toBeNull();
  });
});
