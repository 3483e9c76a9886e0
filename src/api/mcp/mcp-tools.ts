import type { CallToolResult, Tool } from '@modelcontextprotocol/server';
import type { InvocationResult, ToolDescriptor } from '../../runner/runner.ts';
import type { RenderedError } from '../error-renderer.ts';

/**
 * Cordon's tools and results in MCP's shapes. One definition, used by the HTTP endpoint and by
 * `cordon mcp` (stdio) alike, so the two cannot answer the same call differently.
 */

/** The `_meta` key results carry Cordon's own facts under (invocation id, approval). */
export const CORDON_META_KEY = 'cordon/invocation';

/**
 * What a held call's structuredContent looks like. Listed as an alternative of every tool's
 * output schema: an MCP client checks structuredContent against the advertised schema on any
 * result that is not an error, and a call held for approval is not an error.
 */
const PENDING_APPROVAL_SCHEMA = Object.freeze({
  type: 'object',
  required: ['status', 'invocation', 'approval'],
  properties: {
    status: { const: 'pending_approval' },
    invocation: { type: 'string', description: 'The invocation id: GET /v1/invocations/<id> answers its state, and its result once approved and run.' },
    approval: {
      type: 'object',
      required: ['id', 'expiresAt', 'reason'],
      properties: { id: { type: 'string' }, expiresAt: { type: 'string' }, reason: { type: 'string' }, policyId: { type: ['string', 'null'] } },
    },
  },
});

/** A tool as MCP lists it. An output schema whose root is not an object is not valid in MCP: left out. */
export function toMcpTool(d: ToolDescriptor): Tool {
  const a = d.annotations;
  const annotations = {
    ...(a.title === undefined ? {} : { title: a.title }),
    ...(a.readOnlyHint === undefined ? {} : { readOnlyHint: a.readOnlyHint }),
    ...(a.destructiveHint === undefined ? {} : { destructiveHint: a.destructiveHint }),
    ...(a.idempotentHint === undefined ? {} : { idempotentHint: a.idempotentHint }),
    ...(a.openWorldHint === undefined ? {} : { openWorldHint: a.openWorldHint }),
  };
  const outputSchema = d.outputSchema.type === 'object' ? { type: 'object' as const, anyOf: [d.outputSchema, PENDING_APPROVAL_SCHEMA] } : undefined;
  return {
    name: d.name,
    ...(a.title === undefined ? {} : { title: a.title }),
    description: d.description,
    inputSchema: d.inputSchema as Tool['inputSchema'],
    ...(outputSchema === undefined ? {} : { outputSchema }),
    annotations,
  };
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A call that was answered: it ran (a tool that ran and failed is `isError`, with its output,
 * like HTTP's 200 with status "error"), or it is held for an operator's approval.
 */
export function toCallResult(result: InvocationResult): CallToolResult {
  const meta = { [CORDON_META_KEY]: { id: result.id, status: result.status, durationMs: result.durationMs } };
  if (result.approval !== undefined) {
    const a = result.approval;
    const held = { status: 'pending_approval', invocation: result.id, approval: { id: a.id, expiresAt: a.expiresAt, reason: a.reason, policyId: a.policyId } };
    const text =
      `${result.tool}: this call waits for an operator's approval and has not run. ` +
      `Approval ${a.id} (${a.reason}) expires at ${a.expiresAt}. ` +
      `Poll GET /v1/invocations/${result.id} (with ?waitMs= to wait) for its state and, once approved, its result.`;
    return { content: [{ type: 'text', text }], structuredContent: held, _meta: { [CORDON_META_KEY]: { ...meta[CORDON_META_KEY], approval: held.approval } } };
  }
  const structured = isPlainObject(result.output) ? result.output : { result: result.output };
  return {
    content: [{ type: 'text', text: JSON.stringify(result.output) ?? 'null' }],
    structuredContent: structured,
    ...(result.failed ? { isError: true } : {}),
    _meta: meta,
  };
}

/**
 * A call Cordon refused (any CordonError: POLICY_DENIED, INPUT_INVALID, RATE_LIMITED, …), as the
 * HTTP API renders it: an error result the model can read, never a protocol error that ends
 * the client's turn. The text is the error's message and code, unchanged.
 */
export function toRefusalResult(rendered: RenderedError): CallToolResult {
  const e = rendered.body.error;
  return {
    content: [{ type: 'text', text: `${e.message} (${e.code})` }],
    structuredContent: { error: e },
    isError: true,
  };
}
