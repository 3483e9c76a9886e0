import { ERROR_CODES } from '../../core/errors.ts';
import type { JsonSchema } from '../../tools/tool.ts';

// What the runner API answers, described for /openapi.json. Open objects (no
// additionalProperties: false): a client must accept fields added later. A test checks the
// server's real answers against these (test/api/openapi.test.ts).

const str = { type: 'string' } as const;
const int = { type: 'integer' } as const;
const anySchema = { type: 'object' } as const;

/** `{error: {code, message, details, requestId}}`: every refusal (error-renderer.ts). */
export const errorSchema: JsonSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message', 'details', 'requestId'],
      properties: {
        code: { type: 'string', enum: Object.keys(ERROR_CODES), description: 'Stable; match on this, never on message.' },
        message: { type: 'string', description: 'For people: says what was wrong and how to fix it.' },
        details: { type: 'object', description: 'Facts about the refusal, e.g. field (a JSON pointer) and reason for INPUT_INVALID.' },
        requestId: { type: 'string', pattern: '^req_' },
      },
    },
  },
};

export const pendingApprovalSchema: JsonSchema = {
  type: 'object',
  required: ['id', 'reason', 'policyId', 'expiresAt'],
  properties: { id: str, reason: str, policyId: { type: ['string', 'null'] }, expiresAt: { type: 'string', format: 'date-time' } },
};

export const invocationResultSchema: JsonSchema = {
  type: 'object',
  required: ['id', 'tool', 'status', 'output', 'durationMs'],
  properties: {
    id: { type: 'string', pattern: '^inv_' },
    tool: str,
    status: { type: 'string', description: 'The tool\'s status: "ok", or how its code failed ("error", "timeout", …): still a 200, the tool ran.' },
    output: { description: 'The tool\'s output; it matches the outputSchema GET /v1/tools gives for the tool.' },
    durationMs: { type: 'number' },
  },
};

/** 202, and a poll while the call waits or runs. */
export const invocationHeldSchema: JsonSchema = {
  type: 'object',
  required: ['id', 'status', 'approval'],
  properties: { id: { type: 'string', pattern: '^inv_' }, status: { type: 'string', enum: ['pending_approval', 'running'] }, approval: pendingApprovalSchema },
};

export const invocationStateSchema: JsonSchema = { oneOf: [invocationHeldSchema, invocationResultSchema] };

export const toolSchema: JsonSchema = {
  type: 'object',
  required: ['name', 'description', 'inputSchema', 'outputSchema', 'annotations'],
  properties: {
    name: { type: 'string', pattern: '^[a-z][a-z0-9_.-]{0,63}$' },
    description: str,
    inputSchema: { ...anySchema, description: 'A JSON Schema; POST /v1/invocations checks `input` against it.' },
    outputSchema: anySchema,
    annotations: {
      type: 'object',
      description: 'MCP tool hints, never trusted for security decisions.',
      properties: { title: str, readOnlyHint: { type: 'boolean' }, destructiveHint: { type: 'boolean' }, idempotentHint: { type: 'boolean' }, openWorldHint: { type: 'boolean' } },
    },
  },
};

export const toolListSchema: JsonSchema = { type: 'object', required: ['tools'], properties: { tools: { type: 'array', items: toolSchema } } };

export const sandboxSchema: JsonSchema = {
  type: 'object',
  required: ['id', 'profile', 'identity', 'createdAt', 'expiresAt'],
  properties: {
    id: { type: 'string', pattern: '^sbx_' },
    profile: str,
    identity: {
      type: 'object',
      required: ['uri', 'backend', 'egressPolicy', 'agent', 'user'],
      properties: { uri: str, backend: str, egressPolicy: { type: ['string', 'null'] }, agent: str, user: { type: ['string', 'null'] } },
    },
    createdAt: { type: 'string', format: 'date-time' },
    expiresAt: { type: 'string', format: 'date-time' },
  },
};

export const sandboxListSchema: JsonSchema = { type: 'object', required: ['sandboxes'], properties: { sandboxes: { type: 'array', items: sandboxSchema } } };

export const healthSchema: JsonSchema = {
  type: 'object',
  required: ['status', 'ready', 'version'],
  description: 'Reachable means ready (answered once the server listens; 503 while it closes). Further fields are counters (sandboxes, queues, waiters).',
  properties: { status: { const: 'ok' }, ready: { type: 'boolean' }, version: str, policySet: { type: 'string', description: 'A hash of the policy set decisions are made with now.' } },
};

export const receiptSchema: JsonSchema = {
  type: 'object',
  required: ['record', 'checkpoint', 'proof', 'verifierKey'],
  properties: {
    record: { ...anySchema, description: 'The audit record of the call, as chained.' },
    checkpoint: { type: 'string', description: 'The signed checkpoint note (C2SP signed-note, tlog-checkpoint).' },
    proof: { type: 'object', required: ['leafIndex', 'treeSize', 'path'], properties: { leafIndex: int, treeSize: int, path: { type: 'array', items: str } } },
    verifierKey: str,
  },
};
