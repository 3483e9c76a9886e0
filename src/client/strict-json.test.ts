import { describe, expect, it } from 'vitest';
import { jsonNestingDepth, parseStrictJson } from './strict-json.ts';

const bytes = (text: string) => new TextEncoder().encode(text);

describe('strict JSON answers', () => {
  it('parses an object', () => {
    expect(parseStrictJson(bytes('{"a":[1,{"b":"x"}]}'), 8)).toEqual({ ok: true, value: { a: [1, { b: 'x' }] } });
  });

  it.each([
    ['invalid UTF-8', new Uint8Array([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x3a, 0x31, 0x7d]), 'not_utf8'],
    ['a truncated document', bytes('{"a":'), 'not_json'],
    ['trailing garbage', bytes('{} {}'), 'not_json'],
    ['a string at the top', bytes('"x"'), 'not_an_object'],
    ['null at the top', bytes('null'), 'not_an_object'],
    ['an array at the top', bytes('[]'), 'not_an_object'],
    ['nesting one past the limit', bytes('{"a":'.repeat(9) + '1' + '}'.repeat(9)), 'too_deep'],
    ['a bracket bomb without closers', bytes('['.repeat(5_000_000)), 'too_deep'],
  ])('refuses %s', (_name, input, reason) => {
    expect(parseStrictJson(input, 8)).toEqual({ ok: false, reason });
  });

  it('counts structure, not brackets inside strings or escaped quotes', () => {
    expect(jsonNestingDepth('{"a":"[[[[\\"{{{{"}', 10)).toBe(1);
    expect(jsonNestingDepth('[[["]]]"]]]', 10)).toBe(3);
    expect(parseStrictJson(bytes('{"a":"' + '['.repeat(100) + '"}'), 2)).toMatchObject({ ok: true });
  });
});
