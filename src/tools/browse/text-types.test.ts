import { describe, expect, it } from 'vitest';
import { classifyContentType } from './text-types.ts';

describe('classifyContentType', () => {
  it.each([
    ['TEXT/HTML; charset=UTF-8', 'html'],
    ['text/html', 'html'],
    ['application/xhtml+xml', 'html'],
    ['text/plain', 'text'],
    ['text/csv; header=present', 'text'],
    ['application/json', 'text'],
    ['application/ld+json', 'text'],
    ['application/xml', 'text'],
    ['application/rss+xml', 'text'],
    ['image/svg+xml', 'text'],
    ['application/octet-stream', 'binary'],
    ['image/png', 'binary'],
    ['application/pdf', 'binary'],
    [undefined, 'binary'],
    [null, 'binary'],
    ['', 'binary'],
    ['garbage', 'binary'],
    ['text/', 'binary'],
    ['  text/plain  ;charset=x', 'text'],
  ] as const)('%s -> %s', (header, expected) => {
    expect(classifyContentType(header)).toBe(expected);
  });
});
