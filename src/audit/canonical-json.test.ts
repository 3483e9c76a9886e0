import { describe, expect, it } from 'vitest';
import { canonicalJson } from './canonical-json.ts';

describe('canonicalJson (RFC 8785)', () => {
  it('sorts keys by UTF-16 code units at every depth, with no whitespace', () => {
    // RFC 8785 section 3.2.3's sorting example: keys in UTF-16 code unit order.
    const input = { '\u20ac': 'Euro Sign', '\r': 'Carriage Return', '\ufb33': 'Hebrew Letter Dalet With Dagesh', '1': 'One', '\ud83d\ude00': 'Emoji: Grinning Face', '\u0080': 'Control', '\u00f6': 'Latin Small Letter O With Diaeresis' };
    const order = ['\r', '1', '\u0080', '\u00f6', '\u20ac', '\ud83d\ude00', '\ufb33'] as const;
    expect(canonicalJson(input)).toBe(`{${order.map((k) => `${JSON.stringify(k)}:${JSON.stringify(input[k])}`).join(',')}}`);
    expect(canonicalJson({ b: [2, { d: 1, c: null }], a: 'x' })).toBe('{"a":"x","b":[2,{"c":null,"d":1}]}');
  });

  it('writes numbers as ECMAScript does (RFC 8785, the section on numbers)', () => {
    expect(canonicalJson([1e21, 1e-7, -0, 0.000001, Number('333333333.33333329'), 1.5])).toBe('[1e+21,1e-7,0,0.000001,333333333.3333333,1.5]');
    expect(() => canonicalJson(Number.NaN)).toThrow(TypeError);
  });

  it('leaves out undefined members, as the written line does', () => {
    expect(canonicalJson({ a: undefined, b: 1 })).toBe('{"b":1}');
  });
});
