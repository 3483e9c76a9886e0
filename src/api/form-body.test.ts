import { describe, expect, it } from 'vitest';
import { isCordonError } from '../core/errors.ts';
import { FORM_LIMITS, parseFormBody } from './form-body.ts';

const parse = (text: string | Buffer) => parseFormBody(typeof text === 'string' ? Buffer.from(text, 'latin1') : text);

function refusal(text: string | Buffer): Record<string, unknown> {
  try {
    parse(text);
  } catch (err) {
    if (isCordonError(err) && err.code === 'TOKEN_REQUEST_INVALID') return err.details;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('parseFormBody', () => {
  it.each([
    ['', {}],
    ['a=1', { a: '1' }],
    ['a=1&b=2', { a: '1', b: '2' }],
    ['a=', { a: '' }],
    ['a', { a: '' }],
    ['a=1&&b=2&', { a: '1', b: '2' }],
    ['scope=code.exec+fs.read', { scope: 'code.exec fs.read' }],
    ['k%20ey=v%3D1%26x', { 'k ey': 'v=1&x' }],
    ['u=%C3%A9t%C3%A9', { u: 'été' }],
    ['a=b=c', { a: 'b=c' }],
  ])('parses %j', (text, expected) => {
    expect(Object.fromEntries(parse(text))).toEqual(expected);
  });

  it.each([
    ['a repeated parameter', 'grant_type=a&scope=x&grant_type=a', { field: 'grant_type', reason: 'repeated' }],
    ['a repeated parameter, spelled differently', 'grant_type=a&grant%5Ftype=a', { field: 'grant_type', reason: 'repeated' }],
    ['a repeated empty parameter', 'a&a', { field: 'a', reason: 'repeated' }],
    ['__proto__', '__proto__=x', { field: '__proto__', reason: 'forbidden_name' }],
    ['constructor', 'constructor=x', { field: 'constructor', reason: 'forbidden_name' }],
    ['an invalid percent-escape', 'a=%zz', { reason: 'bad_encoding' }],
    ['a truncated percent-escape', 'a=%4', { reason: 'bad_encoding' }],
    ['percent-encoded bytes that are not UTF-8', 'a=%ff%fe', { reason: 'bad_encoding' }],
    ['a percent-encoded lone surrogate', 'a=%ed%a0%80', { reason: 'bad_encoding' }],
    ['a name over the cap', `${'n'.repeat(FORM_LIMITS.maxKeyChars + 1)}=1`, { reason: 'name_too_long' }],
    ['an encoded name over the cap', `${'%41'.repeat(FORM_LIMITS.maxKeyChars + 1)}=1`, { reason: 'name_too_long' }],
    ['a value over the cap', `a=${'v'.repeat(FORM_LIMITS.maxValueChars + 1)}`, { reason: 'value_too_long' }],
    ['too many parameters', Array.from({ length: FORM_LIMITS.maxParams + 1 }, (_, i) => `k${i}=1`).join('&'), { reason: 'too_many_parameters' }],
  ])('refuses %s with TOKEN_REQUEST_INVALID', (_name, text, details) => {
    expect(refusal(text)).toMatchObject(details);
  });

  it.each([
    ['a raw non-UTF-8 byte', Buffer.from([0x61, 0x3d, 0xff])],
    ['raw UTF-8 (not percent-encoded)', Buffer.from('a=é', 'utf8')],
    ['a raw control character', Buffer.from('a=1\nb=2')],
    ['a NUL byte', Buffer.from([0x61, 0x3d, 0x00])],
  ])('refuses %s: a form is percent-encoded ASCII', (_name, body) => {
    expect(refusal(body)).toMatchObject({ reason: 'bad_encoding' });
  });

  it('stops at the first repeat of a 1 MiB body of one repeated key (regression: quadratic copying)', () => {
    const body = Buffer.from('a=1&'.repeat(256 * 1024));
    expect(refusal(body)).toMatchObject({ field: 'a', reason: 'repeated' });
  });

  it('keeps a JWT-sized value', () => {
    const jwt = `${'h'.repeat(40)}.${'p'.repeat(16 * 1024)}.${'s'.repeat(86)}`;
    expect(parse(`client_assertion=${jwt}`).get('client_assertion')).toBe(jwt);
  });
});
