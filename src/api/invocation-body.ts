import { CordonError } from '../core/errors.ts';
import { depthOf, MAX_INPUT_DEPTH } from '../core/json-depth.ts';

export interface InvocationBody {
  tool: string;
  input: unknown;
  session?: string;
  sandbox?: string;
  profile?: string;
}

const ALLOWED_KEYS = new Set(['tool', 'input', 'session', 'sandbox', 'profile']);
const SANDBOX_ID = /^sbx_[A-Za-z0-9_-]{1,64}$/;
const PROFILE_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const SESSION_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

function invalid(field: string, reason: string): CordonError {
  return new CordonError('INPUT_INVALID', `body${field === '/' ? '' : field} ${reason}`, { details: { field, reason } });
}

/** `{tool, input}`: checked by hand so every failure names its field the same way as tool input errors. */
export function parseInvocationBody(body: unknown): InvocationBody {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid('/', 'must be a JSON object {tool, input}');
  for (const key of Object.keys(body)) {
    if (!ALLOWED_KEYS.has(key)) throw invalid(`/${key.slice(0, 64)}`, 'is not a known field');
  }
  const { tool, input, session, sandbox, profile } = body as Record<string, unknown>;
  if (typeof tool !== 'string') throw invalid('/tool', 'is required and must be a string');
  if (tool.length === 0 || tool.length > 64) throw invalid('/tool', 'must be 1 to 64 characters');
  if (input === undefined) throw invalid('/input', 'is required');
  // Validation, hashing and copying into the sandbox all walk the input: refuse what would blow a stack.
  if (depthOf(input, MAX_INPUT_DEPTH) > MAX_INPUT_DEPTH) throw invalid('/input', `is nested deeper than ${MAX_INPUT_DEPTH} levels`);
  if (session !== undefined && (typeof session !== 'string' || !SESSION_ID.test(session))) {
    throw invalid('/session', 'must be 1 to 128 letters, digits, ".", "_", ":" or "-"');
  }
  if (sandbox !== undefined && (typeof sandbox !== 'string' || !SANDBOX_ID.test(sandbox))) throw invalid('/sandbox', 'must be a sandbox id (sbx_…) from POST /v1/sandboxes');
  if (profile !== undefined && (typeof profile !== 'string' || !PROFILE_NAME.test(profile))) throw invalid('/profile', 'must be a sandbox profile name (lower-case letters, digits, ".", "_", "-")');
  return { tool, input, ...(session === undefined ? {} : { session }), ...(sandbox === undefined ? {} : { sandbox }), ...(profile === undefined ? {} : { profile }) };
}

/** `POST /v1/sandboxes` body: `{profile?}`. */
export function parseSandboxBody(body: unknown): { profile?: string } {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw invalid('/', 'must be a JSON object {profile?}');
  for (const key of Object.keys(body)) {
    if (key !== 'profile') throw invalid(`/${key.slice(0, 64)}`, 'is not a known field');
  }
  const { profile } = body as Record<string, unknown>;
  if (profile !== undefined && (typeof profile !== 'string' || !PROFILE_NAME.test(profile))) throw invalid('/profile', 'must be a sandbox profile name (lower-case letters, digits, ".", "_", "-")');
  return profile === undefined ? {} : { profile };
}

/** A sandbox id in a URL path. */
export function parseSandboxId(raw: string): string {
  if (!SANDBOX_ID.test(raw)) throw new CordonError('SANDBOX_NOT_FOUND', `no live sandbox ${JSON.stringify(raw.slice(0, 64))} of yours`, { details: { sandbox: raw.slice(0, 64) } });
  return raw;
}

const INVOCATION_ID = /^inv_[0-9a-hjkmnp-tv-z]{26}$/;

/** An invocation id in a URL path; a malformed one is as unknown as any other. */
export function parseInvocationId(raw: string): string {
  if (!INVOCATION_ID.test(raw)) throw new CordonError('INVOCATION_NOT_FOUND', `no invocation ${JSON.stringify(raw.slice(0, 64))} of yours waits for or went through approval`, { details: { invocation: raw.slice(0, 64) } });
  return raw;
}

/** `GET /v1/invocations/:id` query: `waitMs`, a whole number of milliseconds from 0 to the configured cap (default 0). */
export function parseInvocationQuery(query: unknown, maxWaitMs: number): { waitMs: number } {
  const q = (typeof query === 'object' && query !== null ? query : {}) as Record<string, unknown>;
  for (const key of Object.keys(q)) {
    if (key !== 'waitMs') throw new CordonError('INPUT_INVALID', `query ${key.slice(0, 64)} is not a known parameter; use waitMs`, { details: { field: `query/${key.slice(0, 64)}`, reason: 'not a known parameter' } });
  }
  const raw = q.waitMs;
  if (raw === undefined) return { waitMs: 0 };
  if (typeof raw !== 'string' || !/^\d{1,9}$/.test(raw) || Number(raw) > maxWaitMs) {
    throw new CordonError('INPUT_INVALID', `query waitMs must be a whole number of milliseconds from 0 to ${maxWaitMs}`, { details: { field: 'query/waitMs', reason: `integer 0..${maxWaitMs}` } });
  }
  return { waitMs: Number(raw) };
}
