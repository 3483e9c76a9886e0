import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../core/errors.ts';
import { CLIENT_ERROR_CODES, CordonClientError, parseRetryAfter } from './client-errors.ts';

describe('client errors', () => {
  it("never shares a code with the server's table, so a code says who raised it", () => {
    expect(Object.keys(CLIENT_ERROR_CODES).filter((c) => c in ERROR_CODES)).toEqual([]);
    expect(new CordonClientError('CLIENT_TIMEOUT', 'x').fromClient).toBe(true);
    expect(new CordonClientError('POLICY_DENIED', 'x', { status: 403 }).fromClient).toBe(false);
  });

  it.each([
    ['delta seconds', '3', 3000],
    ['zero', '0', 0],
    ['an HTTP date 5 s ahead', new Date(1_700_000_005_000).toUTCString(), 5000],
    ['an HTTP date in the past', new Date(1_699_999_000_000).toUTCString(), 0],
    ['a list (first wins)', ['2', '9'], 2000],
    ['absent', undefined, null],
    ['garbage', 'soon', null],
    ['a negative number', '-5', null],
    ['a huge value', '9'.repeat(20), null],
  ])('reads Retry-After as %s', (_name, header, ms) => {
    expect(parseRetryAfter(header, 1_700_000_000_000)).toBe(ms);
  });
});
