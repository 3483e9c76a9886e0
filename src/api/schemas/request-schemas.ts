import { CordonError } from '../../core/errors.ts';
import { depthOf, MAX_INPUT_DEPTH } from '../../core/json-depth.ts';
import type { JsonSchema } from '../../tools/tool.ts';
import { bodyPart, pathPart, queryPart, type RequestPart } from './request-validator.ts';

// The runner API's requests, each described once: these schemas are what the server parses
// with (request-validator.ts) and what /openapi.json shows.

const SANDBOX_ID = '^sbx_[A-Za-z0-9_-]{1,64}$';
const PROFILE_NAME = '^[a-z0-9][a-z0-9._-]{0,62}$';
const SESSION_ID = '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$';
// Crockford base32 ULID, as ids.ts makes them.
const INVOCATION_ID = '^inv_[0-9a-hjkmnp-tv-z]{26}$';

const PROFILE_REASON = 'must be a sandbox profile name (lower-case letters, digits, ".", "_", "-")';

export interface InvocationBody {
  tool: string;
  input: unknown;
  session?: string;
  sandbox?: string;
  profile?: string;
}

const profileSchema = { type: 'string', pattern: PROFILE_NAME, description: 'A sandbox profile name (`cordon sandboxes profiles` lists them); default: the configured one.' } as const;

export const invocationBodySchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['tool', 'input'],
  properties: {
    tool: { type: 'string', minLength: 1, maxLength: 64, description: 'A tool name from GET /v1/tools.' },
    // Each tool's input is checked against that tool's own inputSchema (GET /v1/tools) by the
    // runner; only its nesting depth is checked here, before anything walks it.
    input: { description: `The tool's input: it must match the inputSchema GET /v1/tools gives for the tool, and be nested at most ${MAX_INPUT_DEPTH} levels deep.` },
    session: { type: 'string', pattern: SESSION_ID, description: 'Groups calls whose facts feed later decisions (chain rules); scoped to the caller.' },
    sandbox: { type: 'string', pattern: SANDBOX_ID, description: 'Run in this live session sandbox of the caller (POST /v1/sandboxes).' },
    profile: profileSchema,
  },
};

/** `POST /v1/invocations` body. */
export const invocationBody: RequestPart<InvocationBody> = bodyPart<InvocationBody>(
  invocationBodySchema,
  {
    '/': 'must be a JSON object {tool, input}',
    '/tool': 'is required and must be a string',
    '/tool:minLength': 'must be 1 to 64 characters',
    '/tool:maxLength': 'must be 1 to 64 characters',
    '/session': 'must be 1 to 128 letters, digits, ".", "_", ":" or "-"',
    '/sandbox': 'must be a sandbox id (sbx_…) from POST /v1/sandboxes',
    '/profile': PROFILE_REASON,
  },
  (body) => {
    // Validation, hashing and copying into the sandbox all walk the input: refuse what would blow a stack.
    if (depthOf(body.input, MAX_INPUT_DEPTH) > MAX_INPUT_DEPTH) {
      const reason = `is nested deeper than ${MAX_INPUT_DEPTH} levels`;
      throw new CordonError('INPUT_INVALID', `body/input ${reason}`, { details: { field: '/input', reason } });
    }
  },
);

export const sandboxBodySchema: JsonSchema = { type: 'object', additionalProperties: false, properties: { profile: profileSchema } };

/** `POST /v1/sandboxes` body: `{profile?}`, or no body at all. */
export const sandboxBody: RequestPart<{ profile?: string }> = bodyPart<{ profile?: string }>(sandboxBodySchema, { '/': 'must be a JSON object {profile?}', '/profile': PROFILE_REASON });

/** `GET /v1/invocations/:id` query; the cap is the configured approvals.maxWaitMs. */
export function invocationQuery(maxWaitMs: number): RequestPart<{ waitMs?: number }> {
  const schema: JsonSchema = {
    type: 'object',
    additionalProperties: false,
    properties: {
      waitMs: { type: 'integer', minimum: 0, maximum: maxWaitMs, description: 'Wait up to this many milliseconds for a pending call to be decided (long-poll); default 0. Digits only.' },
    },
  };
  return queryPart(schema, { '/waitMs': `must be a whole number of milliseconds from 0 to ${maxWaitMs}` });
}

/** An invocation id in a URL path; a malformed one is as unknown as any other. */
export const invocationId: RequestPart<string> = pathPart(
  { type: 'string', pattern: INVOCATION_ID, description: 'An invocation id (inv_…) from POST /v1/invocations.' },
  (raw) => new CordonError('INVOCATION_NOT_FOUND', `no invocation ${JSON.stringify(raw.slice(0, 64))} of yours waits for or went through approval`, { details: { invocation: raw.slice(0, 64) } }),
);

/** The same id, for receipts: an unknown or malformed one is NOT_FOUND, as receipts.ts answers. */
export const receiptInvocationId: RequestPart<string> = pathPart(
  { type: 'string', pattern: INVOCATION_ID, description: 'The invocation id (inv_…) the receipt is for.' },
  (raw) => new CordonError('NOT_FOUND', `no receipt for invocation ${JSON.stringify(raw.slice(0, 64))} of yours`),
);

/** A sandbox id in a URL path. */
export const sandboxId: RequestPart<string> = pathPart(
  { type: 'string', pattern: SANDBOX_ID, description: 'A sandbox id (sbx_…) from POST /v1/sandboxes.' },
  (raw) => new CordonError('SANDBOX_NOT_FOUND', `no live sandbox ${JSON.stringify(raw.slice(0, 64))} of yours`, { details: { sandbox: raw.slice(0, 64) } }),
);
