import { describe, expect, it } from 'vitest';
import { LIMITS, strictSchemaProblems } from './openai-strict-rules.ts';

const obj = (properties: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ type: 'object', properties, required: Object.keys(properties), additionalProperties: false, ...extra });
const nest = (levels: number): Record<string, unknown> => (levels === 1 ? obj({ leaf: { type: 'string' } }) : obj({ next: nest(levels - 1) }));

describe('the OpenAI strict-mode rule checker', () => {
  it('accepts the documentation\'s own strict example (an optional field as a union with null), definitions and refs', () => {
    const weather = obj({ location: { type: 'string', description: 'City' }, unit: { type: ['string', 'null'], enum: ['F', 'C', null] } });
    expect(strictSchemaProblems(weather)).toEqual([]);
    const withDefs = { ...obj({ step: { $ref: '#/$defs/step' }, again: { $ref: '#' } }), $defs: { step: obj({ n: { type: 'integer', minimum: 0 } }) } };
    expect(strictSchemaProblems(withDefs)).toEqual([]);
    expect(strictSchemaProblems(nest(LIMITS.nesting))).toEqual([]);
  });

  it.each([
    ['a root that is not an object', { type: 'string' }, /root must be type object/],
    ['a root that is anyOf', { type: 'object', anyOf: [obj({})], properties: {}, required: [], additionalProperties: false }, /root must not be anyOf/],
    ['an object without additionalProperties: false', { type: 'object', properties: { a: { type: 'string' } }, required: ['a'] }, /additionalProperties must be false/],
    ['a nested object with additionalProperties: true', obj({ a: { type: 'object', properties: {}, required: [], additionalProperties: true } }), /\/properties\/a: additionalProperties must be false/],
    ['an optional property', { ...obj({ a: { type: 'string' }, b: { type: 'string' } }), required: ['a'] }, /\/b: every property must be in required/],
    ['minLength', obj({ a: { type: 'string', minLength: 1 } }), /minLength is not supported/],
    ['maxLength', obj({ a: { type: 'string', maxLength: 9 } }), /maxLength is not supported/],
    ['oneOf', obj({ a: { oneOf: [{ type: 'string' }, { type: 'integer' }] } }), /oneOf is not supported/],
    ['allOf', obj({ a: { allOf: [{ type: 'string' }] } }), /allOf is not supported/],
    ['not', obj({ a: { type: 'string', not: { const: 'x' } } }), /not is not supported/],
    ['if/then/else', obj({ a: { type: 'string', if: {}, then: {}, else: {} } }), /if is not supported/],
    ['patternProperties', obj({ a: { type: 'object', properties: {}, required: [], additionalProperties: false, patternProperties: { x: {} } } }), /patternProperties is not supported/],
    ['uniqueItems', obj({ a: { type: 'array', items: { type: 'string' }, uniqueItems: true } }), /uniqueItems is not supported/],
    ['default', obj({ a: { type: 'string', default: 'x' } }), /default is not supported/],
    ['an unsupported format', obj({ a: { type: 'string', format: 'uri' } }), /format uri/],
    ['a value of any type', obj({ a: {} }), /no type/],
    ['an unknown type', obj({ a: { type: 'any' } }), /type any/],
    ['a $ref to nowhere', obj({ a: { $ref: '#/$defs/missing' } }), /does not point/],
    ['nesting past the limit', nest(LIMITS.nesting + 1), /nested deeper than 10/],
    ['too many properties', obj(Object.fromEntries(Array.from({ length: LIMITS.properties + 1 }, (_, i) => [`p${i}`, { type: 'boolean' }]))), /object properties; at most 5000/],
    ['too many enum values', obj({ a: { type: 'integer', enum: Array.from({ length: LIMITS.enumValues + 1 }, (_, i) => i) } }), /enum values; at most 1000/],
    ['a big string enum that is too long', obj({ a: { type: 'string', enum: Array.from({ length: 300 }, (_, i) => `${'v'.repeat(60)}${i}`) } }), /over 15000 characters/],
    ['too many characters of names', obj(Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`${'n'.repeat(1300)}${i}`, { type: 'boolean' }]))), /characters of names and values/],
  ])('rejects %s', (_name, schema, problem) => {
    const problems = strictSchemaProblems(schema);
    expect(problems.join('\n')).toMatch(problem);
  });
});
