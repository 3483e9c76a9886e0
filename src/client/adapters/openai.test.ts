import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { CordonClientError } from '../client-errors.ts';
import { strictSchemaProblems } from '../../../test/support/openai-strict-rules.ts';
import { CordonError } from '../../core/errors.ts';
import { validate } from '../../runner/stages/validate.ts';
import { BUILTIN_TOOL_DESCRIPTORS } from '../../runner/tool-descriptors.ts';
import { BUILTIN_TOOLS } from '../../tools/builtin-tools.ts';
import { createToolRegistry } from '../../tools/tool-registry.ts';
import { fromOpenAIFunctionCall, toOpenAIFunctionCallOutput, toOpenAITools } from './openai.ts';
import { toStrictSchema } from './strict-schema.ts';
import type { CordonTool } from './tool-call.ts';

const tools: readonly CordonTool[] = BUILTIN_TOOL_DESCRIPTORS;
const registry = createToolRegistry(BUILTIN_TOOLS);

/** A valid input per builtin tool, with some optional fields set (and others left out). */
const SAMPLES: Record<string, Record<string, unknown>> = {
  code: { language: 'javascript', source: '1 + 1', timeoutMs: 1000 },
  'file.read': { path: 'src/app.ts', encoding: 'utf8' },
  'file.write': { path: 'a.txt', content: 'hi' },
  'file.edit': { path: 'a.txt', search: 'hi', replace: 'ho' },
  'file.list': {},
  'file.stat': { path: 'a.txt' },
  'file.mkdir': { path: 'src' },
  'file.move': { from: 'a.txt', to: 'b.txt' },
  'file.delete': { path: 'b.txt', recursive: true },
  'browse.fetch': { url: 'https://example.test/' },
  'browse.page': { url: 'https://example.test/', actions: [{ type: 'click', selector: 'text=Next' }, { type: 'fill', ref: 'e12', value: 'x' }], snapshot: true },
};

/** What a model in strict mode sends for `input`: every property present, null where it would leave one out. */
function strictShaped(value: unknown, schema: Record<string, unknown>): unknown {
  if (Array.isArray(value)) return value.map((v) => strictShaped(v, schema.items as Record<string, unknown>));
  if (typeof value !== 'object' || value === null) return value;
  const branches = (schema.anyOf as Record<string, unknown>[] | undefined)?.filter((b) => b.type === 'object' || (Array.isArray(b.type) && b.type.includes('object')));
  const objectSchema = branches === undefined ? schema : (branches.find((b) => Object.entries(b.properties as Record<string, { const?: unknown }>).every(([k, p]) => p.const === undefined || (value as Record<string, unknown>)[k] === p.const)) ?? {});
  const properties = (objectSchema.properties ?? {}) as Record<string, Record<string, unknown>>;
  return Object.fromEntries(Object.entries(properties).map(([k, p]) => [k, k in value ? strictShaped((value as Record<string, unknown>)[k], p) : null]));
}

describe('toOpenAITools', () => {
  const converted = toOpenAITools(tools);

  it('offers every builtin tool in strict mode, with a schema OpenAI\'s strict rules accept', () => {
    expect(converted.map((t) => t.name)).toEqual(tools.map((t) => t.name.replaceAll('.', '_')));
    for (const tool of converted) {
      expect([tool.name, tool.type, tool.strict]).toEqual([tool.name, 'function', true]);
      expect(tool.name).toMatch(/^[a-zA-Z0-9_-]{1,64}$/);
      expect([tool.name, strictSchemaProblems(tool.parameters)]).toEqual([tool.name, []]);
    }
  });

  it('keeps each tool\'s description, and says in words the length limits strict mode cannot state', () => {
    const code = converted.find((t) => t.name === 'code');
    expect(code?.description).toBe(tools.find((t) => t.name === 'code')?.description);
    const language = (code?.parameters.properties as Record<string, { description: string }>).language;
    expect(language?.description).toContain('1 to 32 characters');
    expect(toStrictSchema(tools.find((t) => t.name === 'code')?.inputSchema ?? {}).relaxed).toContain('/language: minLength 1, maxLength 32');
  });

  it.each(tools.map((t) => [t.name]))('%s: a strict-mode arguments object (nulls for the absent) becomes an input Cordon\'s validator accepts', (name) => {
    const sample = SAMPLES[name];
    expect(sample, `add a sample input for ${name}`).toBeDefined();
    const parameters = converted.find((t) => t.name === name.replaceAll('.', '_'))?.parameters ?? {};
    const args = strictShaped(sample, parameters);
    // It is what strict mode lets a model send: it matches the strict schema, nulls and all.
    const strictCheck = new Ajv2020({ strict: false }).compile(parameters);
    expect([strictCheck(args), strictCheck.errors ?? null]).toEqual([true, null]);
    const call = fromOpenAIFunctionCall({ type: 'function_call', call_id: 'call_1', name: name.replaceAll('.', '_'), arguments: JSON.stringify(args) }, tools);
    expect(call).toEqual({ callId: 'call_1', tool: name, input: sample });
    // Cordon's own check, as the runner's validate stage runs it.
    expect(() => validate(registry, call.tool, call.input)).not.toThrow();
  });

  it('needs the nulls turned back into absent fields: Cordon refuses them as sent', () => {
    const parameters = converted.find((t) => t.name === 'file_read')?.parameters ?? {};
    const args = strictShaped({ path: 'a.txt' }, parameters) as Record<string, unknown>;
    expect(args).toEqual({ path: 'a.txt', offset: null, limit: null, encoding: null });
    expect(() => validate(registry, 'file.read', args)).toThrow(CordonError);
  });

  it('offers a tool whose schema has no strict form with strict: false and its schema unchanged', () => {
    const odd: CordonTool[] = [
      { name: 'x.any', description: 'd', inputSchema: { type: 'object', additionalProperties: false, properties: { v: {} } } },
      { name: 'x.nullable', description: 'd', inputSchema: { type: 'object', additionalProperties: false, properties: { v: { type: ['string', 'null'] } } } },
      { name: 'x.open', description: 'd', inputSchema: { type: 'object', additionalProperties: true, properties: {} } },
    ];
    for (const tool of toOpenAITools(odd)) {
      expect(tool.strict).toBe(false);
      expect(tool.parameters).toBe(odd.find((t) => t.name.replace('.', '_') === tool.name)?.inputSchema);
    }
    expect(toOpenAITools(tools, { strict: false }).every((t) => !t.strict && t.parameters === tools.find((x) => x.name.replaceAll('.', '_') === t.name)?.inputSchema)).toBe(true);
  });

  it('refuses two tools that would share a function name, and a name no provider takes', () => {
    const clash = () => toOpenAITools([{ name: 'file.read', description: '', inputSchema: { type: 'object' } }, { name: 'file_read', description: '', inputSchema: { type: 'object' } }]);
    expect(clash).toThrow(/"file.read" and "file_read" would both be called "file_read"/);
    expect(() => toOpenAITools([{ name: 'a'.repeat(65), description: '', inputSchema: { type: 'object' } }])).toThrow(/1 to 64 letters/);
    expect(() => toOpenAITools([{ name: 'tool/x', description: '', inputSchema: { type: 'object' } }])).toThrow(CordonClientError);
  });
});

describe('fromOpenAIFunctionCall', () => {
  const item = (over: Record<string, unknown>) => ({ type: 'function_call' as const, call_id: 'call_9', name: 'file_read', arguments: '{"path":"a.txt"}', ...over });
  const refusal = (over: Record<string, unknown>, max?: number) => {
    try {
      fromOpenAIFunctionCall(item(over) as never, tools, max === undefined ? {} : { maxArgumentChars: max });
    } catch (err) {
      return err instanceof CordonClientError ? { code: err.code, message: err.message } : { code: 'not a CordonClientError', message: String(err) };
    }
    return { code: 'accepted', message: '' };
  };

  it.each([
    ['a tool it was never given', { name: 'shell' }, 'TOOL_NOT_FOUND', /"shell"/],
    ['Cordon\'s own dotted name (not what the model was given)', { name: 'file.read' }, 'TOOL_NOT_FOUND', /not one of the tools/],
    ['a name that is not a string', { name: 42 }, 'TOOL_NOT_FOUND', /non-string/],
    ['arguments that are not JSON', { arguments: '{path: a.txt}' }, 'INPUT_INVALID', /not valid JSON/],
    ['arguments that are an array', { arguments: '["a.txt"]' }, 'INPUT_INVALID', /must be a JSON object/],
    ['arguments that are a string', { arguments: '"a.txt"' }, 'INPUT_INVALID', /must be a JSON object/],
    ['arguments that are null', { arguments: 'null' }, 'INPUT_INVALID', /must be a JSON object/],
    ['arguments that are an object, not JSON text', { arguments: { path: 'a.txt' } }, 'INPUT_INVALID', /must be a JSON string/],
    ['arguments nested too deep', { arguments: `{"path":${'['.repeat(5000)}${']'.repeat(5000)}}` }, 'INPUT_INVALID', /nested deeper/],
    ['a __proto__ key', { arguments: '{"path":"a","__proto__":{"polluted":1}}' }, 'INPUT_INVALID', /__proto__/],
    ['a constructor.prototype key', { arguments: '{"path":"a","x":{"constructor":{"prototype":{"polluted":1}}}}' }, 'INPUT_INVALID', /prototype/],
    ['no call_id', { call_id: undefined }, 'INPUT_INVALID', /call_id/],
    ['a call_id with a newline', { call_id: 'a\nb' }, 'INPUT_INVALID', /call_id/],
  ])('refuses %s with a typed error', (_name, over, code, message) => {
    const got = refusal(over);
    expect(got.code).toBe(code);
    expect(got.message).toMatch(message);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses arguments over the size cap before parsing them', () => {
    expect(refusal({ arguments: JSON.stringify({ path: 'x'.repeat(2000) }) }, 1000)).toMatchObject({ code: 'INPUT_INVALID', message: expect.stringMatching(/at most 1000/) });
    expect(refusal({ arguments: `{"path":"${'x'.repeat(2 * 1024 * 1024)}"}` })).toMatchObject({ code: 'INPUT_INVALID' });
  });

  it('keeps a null the tool\'s schema gives meaning to, and a null for a required field (Cordon then refuses it)', () => {
    const withNull: CordonTool[] = [{ name: 'x.y', description: '', inputSchema: { type: 'object', required: ['a'], properties: { a: { type: 'string' }, b: { type: ['string', 'null'] }, c: { type: 'string' } } } }];
    const call = fromOpenAIFunctionCall({ type: 'function_call', call_id: 'c', name: 'x_y', arguments: '{"a":null,"b":null,"c":null}' }, withNull);
    expect(call.input).toEqual({ a: null, b: null });
  });
});

describe('toOpenAIFunctionCallOutput', () => {
  it('gives a result as its output\'s JSON', () => {
    expect(toOpenAIFunctionCallOutput('call_1', { id: 'inv_1', tool: 'code', status: 'ok', output: { value: 2 }, durationMs: 3 })).toEqual({ type: 'function_call_output', call_id: 'call_1', output: JSON.stringify({ value: 2 }) });
  });

  it('says the tool ran and failed, with its status and output', () => {
    const out = toOpenAIFunctionCallOutput('call_1', { id: 'inv_1', tool: 'code', status: 'timeout', output: { stderr: 'slow' }, durationMs: 3 }).output;
    expect(out).toMatch(/^The tool code ran and failed \(status timeout\)/);
    expect(out).toContain('"stderr":"slow"');
  });

  it('says a held call has not run, names the approval and asks the model not to retry', () => {
    const out = toOpenAIFunctionCallOutput('call_1', { id: 'inv_01', status: 'pending_approval', approval: { id: 'apr_7', reason: 'deletes files', expiresAt: '2026-11-30T03:00:00.000Z' } }).output;
    expect(out).toMatch(/has not run yet/);
    expect(out).toContain('apr_7');
    expect(out).toContain('deletes files');
    expect(out).toMatch(/Do not call it again/);
  });

  it('says Cordon refused, with the code, message and short details, from an API error body or a thrown error', () => {
    const body = toOpenAIFunctionCallOutput('call_1', { error: { code: 'POLICY_DENIED', message: 'coder may not fs.delete /workspace/x', details: { rule: 'r1' } } }).output;
    expect(body).toBe('Cordon refused this call, so the tool did not run (POLICY_DENIED): coder may not fs.delete /workspace/x. Details: {"rule":"r1"}');
    const thrown = toOpenAIFunctionCallOutput('call_1', new CordonError('INPUT_INVALID', 'code: input/language is required', { details: { field: '/language' } })).output;
    expect(thrown).toContain('(INPUT_INVALID): code: input/language is required');
    const withStatus = Object.assign(new Error('coder may not code.exec'), { code: 'POLICY_DENIED', status: 403, details: {} });
    expect(toOpenAIFunctionCallOutput('call_1', withStatus).output).toBe('Cordon refused this call, so the tool did not run (POLICY_DENIED): coder may not code.exec.');
    const huge = toOpenAIFunctionCallOutput('call_1', { error: { code: 'INPUT_INVALID', message: 'm', details: { blob: 'x'.repeat(5000) } } }).output;
    expect(huge).not.toContain('xxxx');
  });
});
