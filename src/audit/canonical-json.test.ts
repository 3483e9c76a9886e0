import { describe, expect, it } from 'vitest';
import { slowCanonicalJson } from '../../test/support/canonical-json-reference.ts';
import { canonicalJson } from './canonical-json.ts';

describe('canonicalJson (RFC 8785)', () => {
  it('sorts keys by UTF-16 code units at every depth, with no whitespace', () => {
    // RFC 8785's sorting example: keys in UTF-16 code unit order.
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

describe('canonicalJson equals its plain definition', () => {
  // The fast path writes plain keys unquoted-by-JSON.stringify; every other key, and every
  // value, must come out exactly as the member-by-member definition writes it.
  const hostile = ['', 'a"b', 'back\\slash', 'line\nbreak', '\u0000', '\u001f', '\u007f', '\u2028', '\ud800', '\udfff', '__proto__', 'constructor', 'toJSON', '1', '01', '-', '$x', 'é', '\ud83d\ude00'];
  it.each(hostile)('key %j, at the top and nested, among plain keys', (key) => {
    const value = JSON.parse(`{${JSON.stringify(key)}:1,"b":{${JSON.stringify(key)}:[null,"${'x'}",{"c":2}]},"a":true}`) as unknown;
    expect(canonicalJson(value)).toBe(slowCanonicalJson(value));
    expect(JSON.parse(canonicalJson(value))).toEqual(value);
  });

  it('records of every shape the log holds', () => {
    const values = [
      { ts: '2026-11-29T12:00:00.000Z', kind: 'egress', egress: { injected: [], bytesToUpstream: 0, redirectHop: undefined, wouldDeny: false }, decision: null, seq: 1, prev: '0'.repeat(64) },
      [[], {}, [{}], '', 0, -0, 1e-7, true, false, null, undefined],
      { z: { y: { x: { w: 'deep' } } }, Z: 1, _: 2, '.': 3, '-': 4 },
    ];
    for (const v of values) expect(canonicalJson(v)).toBe(slowCanonicalJson(v));
  });
});
