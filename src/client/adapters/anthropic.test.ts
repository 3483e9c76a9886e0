import { describe, expect, it } from 'vitest';
import { CordonClientError } from '../client-errors.ts';
import { validate } from '../../runner/stages/validate.ts';
import { BUILTIN_TOOL_DESCRIPTORS } from '../../runner/tool-descriptors.ts';
import { BUILTIN_TOOLS } from '../../tools/builtin-tools.ts';
import { createToolRegistry } from '../../tools/tool-registry.ts';
import { fromAnthropicToolUse, toAnthropicToolResult, toAnthropicTools } from './anthropic.ts';
import type { CordonTool } from './tool-call.ts';

const tools: readonly CordonTool[] = BUILTIN_TOOL_DESCRIPTORS;

function refusal(block: Record<string, unknown>, max?: number): string {
  try {
    fromAnthropicToolUse({ type: 'tool_use', id: 'toolu_1', name: 'file_write', input: { path: 'a', content: 'b' }, ...block } as never, tools, max === undefined ? {} : { maxInputChars: max });
  } catch (err) {
    return err instanceof CordonClientError ? `${err.code}: ${err.message}` : `not a CordonClientError: ${String(err)}`;
  }
  return 'accepted';
}

describe('toAnthropicTools', () => {
  it('gives every builtin tool a name Anthropic accepts and its own input schema, unchanged', () => {
    const converted = toAnthropicTools(tools);
    expect(converted).toHaveLength(tools.length);
    for (const [i, tool] of converted.entries()) {
      expect(tool.name).toMatch(/^[a-zA-Z0-9_-]{1,64}$/);
      expect(tool.input_schema).toBe(tools[i]?.inputSchema);
      expect((tool.input_schema as { type?: unknown }).type).toBe('object');
      expect(tool.description).toBe(tools[i]?.description);
    }
    expect(converted.map((t) => t.name)).toContain('file_read');
  });

  it('refuses two tools that would share a name', () => {
    expect(() => toAnthropicTools([{ name: 'a.b', description: '', inputSchema: { type: 'object' } }, { name: 'a_b', description: '', inputSchema: { type: 'object' } }])).toThrow(/would both be called "a_b"/);
  });
});

describe('fromAnthropicToolUse', () => {
  it('maps the name back and passes the input through, for Cordon to validate', () => {
    const call = fromAnthropicToolUse({ type: 'tool_use', id: 'toolu_01A', name: 'file_write', input: { path: 'a.txt', content: 'hi' } }, tools);
    expect(call).toEqual({ callId: 'toolu_01A', tool: 'file.write', input: { path: 'a.txt', content: 'hi' } });
    expect(() => validate(createToolRegistry(BUILTIN_TOOLS), call.tool, call.input)).not.toThrow();
  });

  it.each([
    ['an unknown tool', { name: 'rm_rf' }, /^TOOL_NOT_FOUND: .*"rm_rf"/],
    ['input that is a string', { input: '{"path":"a"}' }, /^INPUT_INVALID: .*must be a JSON object/],
    ['input that is an array', { input: [] }, /^INPUT_INVALID/],
    ['input that is null', { input: null }, /^INPUT_INVALID/],
    ['input nested too deep', { input: JSON.parse(`{"a":${'['.repeat(500)}${']'.repeat(500)}}`) }, /^INPUT_INVALID: .*nested deeper/],
    ['a __proto__ key', { input: JSON.parse('{"path":"a","__proto__":{"polluted":1}}') }, /^INPUT_INVALID: .*__proto__/],
    ['no id', { id: undefined }, /^INPUT_INVALID: id must be/],
    ['an id of 1000 characters', { id: 'x'.repeat(1000) }, /^INPUT_INVALID: id must be/],
  ])('refuses %s with a typed error', (_name, block, expected) => {
    expect(refusal(block)).toMatch(expected);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses input over the size cap', () => {
    expect(refusal({ input: { path: 'a', content: 'x'.repeat(5000) } }, 1000)).toMatch(/^INPUT_INVALID: .*at most 1000/);
  });
});

describe('toAnthropicToolResult', () => {
  it('marks the tool\'s own failure and Cordon\'s refusals as errors, a result and a pending approval not', () => {
    const cases = [
      [{ id: 'inv_1', tool: 'code', status: 'ok', output: { value: 2 }, durationMs: 1 }, false, /^\{"value":2\}$/],
      [{ id: 'inv_1', tool: 'code', status: 'error', output: { error: { message: 'boom' } }, durationMs: 1 }, true, /ran and failed \(status error\).*boom/],
      [{ id: 'inv_1', status: 'pending_approval', approval: { id: 'apr_1', reason: 'r', expiresAt: 'soon' } }, false, /has not run yet.*apr_1/],
      [{ error: { code: 'RATE_LIMITED', message: 'too many calls', details: { quota: 'agent_concurrency' } } }, true, /refused this call.*RATE_LIMITED.*agent_concurrency/],
    ] as const;
    for (const [outcome, isError, text] of cases) {
      const block = toAnthropicToolResult('toolu_1', outcome);
      expect(block).toMatchObject({ type: 'tool_result', tool_use_id: 'toolu_1', is_error: isError });
      expect(block.content).toMatch(text);
    }
  });
});
