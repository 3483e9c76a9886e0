import { describe, expect, it } from 'vitest';
import { CordonError } from '../../core/errors.ts';
import type { InvocationResult, ToolDescriptor } from '../../runner/runner.ts';
import { renderError } from '../error-renderer.ts';
import { toCallResult, toMcpTool, toRefusalResult } from './mcp-tools.ts';

const descriptor = (outputSchema: Record<string, unknown>): ToolDescriptor => ({
  name: 'demo',
  description: 'a demo tool',
  inputSchema: { type: 'object', properties: { x: { type: 'number' } } },
  outputSchema,
  annotations: { title: 'Demo', readOnlyHint: true, destructiveHint: false },
});
const ran = (output: unknown, extra: Partial<InvocationResult> = {}): InvocationResult => ({ id: 'inv_1', tool: 'demo', status: 'ok', output, durationMs: 1, failed: false, ...extra });

describe('toMcpTool', () => {
  it('maps name, title, description, input schema and the hints it has', () => {
    const tool = toMcpTool(descriptor({ type: 'object' }));
    expect(tool).toMatchObject({ name: 'demo', title: 'Demo', description: 'a demo tool', inputSchema: { type: 'object' }, annotations: { title: 'Demo', readOnlyHint: true, destructiveHint: false } });
    expect(tool.annotations).not.toHaveProperty('idempotentHint');
  });

  it('an object output schema is offered together with the pending-approval shape; any other root is left out', () => {
    const schema = { type: 'object', properties: { y: { type: 'string' } } };
    expect(toMcpTool(descriptor(schema)).outputSchema).toEqual({ type: 'object', anyOf: [schema, expect.objectContaining({ required: ['status', 'invocation', 'approval'] })] });
    expect(toMcpTool(descriptor({ type: 'array' })).outputSchema).toBeUndefined();
    expect(toMcpTool(descriptor({})).outputSchema).toBeUndefined();
  });
});

describe('toCallResult', () => {
  it('an object output is the structured content, and its JSON the text', () => {
    expect(toCallResult(ran({ y: 'ok' }))).toMatchObject({ structuredContent: { y: 'ok' }, content: [{ type: 'text', text: '{"y":"ok"}' }], _meta: { 'cordon/invocation': { id: 'inv_1', status: 'ok' } } });
    expect(toCallResult(ran({ y: 'ok' })).isError).toBeUndefined();
  });

  it('any other output is wrapped as {result}', () => {
    expect(toCallResult(ran([1, 2])).structuredContent).toEqual({ result: [1, 2] });
    expect(toCallResult(ran(null))).toMatchObject({ structuredContent: { result: null }, content: [{ text: 'null' }] });
  });

  it('a tool that ran and failed is an error result with its output', () => {
    expect(toCallResult(ran({ status: 'timeout' }, { status: 'timeout', failed: true }))).toMatchObject({ isError: true, structuredContent: { status: 'timeout' } });
  });

  it('a held call says so, with the approval and invocation ids and where to poll', () => {
    const held = toCallResult(ran(null, { status: 'pending_approval', approval: { id: 'apr_9', reason: 'requires approval by x', policyId: 'x', expiresAt: '2026-12-01T00:00:00.000Z' } }));
    expect(held.isError).toBeUndefined();
    expect(held.structuredContent).toEqual({ status: 'pending_approval', invocation: 'inv_1', approval: { id: 'apr_9', reason: 'requires approval by x', policyId: 'x', expiresAt: '2026-12-01T00:00:00.000Z' } });
    const text = held.content[0]?.type === 'text' ? held.content[0].text : '';
    expect(text).toContain('apr_9');
    expect(text).toContain('GET /v1/invocations/inv_1');
  });
});

describe('toRefusalResult', () => {
  it('carries the error code and message unchanged; an internal error says no more than the HTTP API', () => {
    const denied = toRefusalResult(renderError(new CordonError('POLICY_DENIED', 'denied: no permit matched'), 'req_1'));
    expect(denied).toMatchObject({ isError: true, content: [{ type: 'text', text: 'denied: no permit matched (POLICY_DENIED)' }], structuredContent: { error: { code: 'POLICY_DENIED', requestId: 'req_1' } } });
    const internal = toRefusalResult(renderError(new Error('secret path /etc/x'), 'req_2'));
    expect(internal.content).toEqual([{ type: 'text', text: 'internal error (INTERNAL)' }]);
    expect(JSON.stringify(internal)).not.toContain('/etc/x');
  });
});
