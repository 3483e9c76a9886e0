import { ERROR_CODES } from '../core/errors.ts';
import { CordonClientError, type CordonErrorCode } from './client-errors.ts';
import { REQUEST_ID, type HttpAnswer } from './http-transport.ts';
import type { HeldCall, PendingApproval, RunResult, SandboxInfo, ToolDescriptor, ToolResult, ToolStatus } from './client-types.ts';

/**
 * Each answer is checked against the shape a Cordon server sends before any of it is handed
 * to the caller: a broken or hostile server gets CLIENT_RESPONSE_MALFORMED, not an object whose
 * fields are silently missing or of the wrong type.
 */

type Json = Record<string, unknown>;

const TOOL_STATUSES: readonly string[] = ['ok', 'error', 'timeout', 'oom'] satisfies ToolStatus[];

function malformed(answer: HttpAnswer, what: string): CordonClientError {
  return new CordonClientError('CLIENT_RESPONSE_MALFORMED', `the server's ${answer.status} answer is not ${what}`, { status: answer.status, requestId: answer.requestId, details: { reason: 'shape' } });
}

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown, max = 4096): v is string => typeof v === 'string' && v.length <= max;

/**
 * A refusal as a typed error. Cordon's API answers `{error: {code, message, details, requestId}}`;
 * its token endpoint answers OAuth's `{error, error_description, cordon: {…}}`. Anything else
 * (a proxy's error page, an empty 502) is malformed, with the status kept.
 */
export function errorFromAnswer(answer: HttpAnswer): CordonClientError {
  const body = answer.body;
  const inner = isObject(body?.error) ? body.error : isObject(body?.cordon) ? body.cordon : null;
  if (inner === null || !str(inner.code, 64) || !str(inner.message)) {
    return new CordonClientError('CLIENT_RESPONSE_MALFORMED', `the server answered ${answer.status} without a Cordon error body`, { status: answer.status, requestId: answer.requestId, retryAfterMs: answer.retryAfterMs, details: { reason: 'no_error_body' } });
  }
  const requestId = answer.requestId ?? (typeof inner.requestId === 'string' && REQUEST_ID.test(inner.requestId) ? inner.requestId : null);
  const details = isObject(inner.details) ? inner.details : {};
  if (!Object.hasOwn(ERROR_CODES, inner.code)) {
    return new CordonClientError('CLIENT_UNKNOWN_ERROR', inner.message, { status: answer.status, requestId, retryAfterMs: answer.retryAfterMs, details: { ...details, serverCode: inner.code } });
  }
  return new CordonClientError(inner.code as CordonErrorCode, inner.message, { status: answer.status, requestId, retryAfterMs: answer.retryAfterMs, details });
}

function approvalOf(answer: HttpAnswer, v: unknown): PendingApproval {
  if (!isObject(v) || !str(v.id, 128) || !str(v.reason) || !(v.policyId === null || str(v.policyId, 256)) || !str(v.expiresAt, 64)) throw malformed(answer, 'a pending approval');
  return { id: v.id, reason: v.reason, policyId: v.policyId, expiresAt: v.expiresAt };
}

/** A 200 or 202 from POST /v1/invocations or GET /v1/invocations/:id. */
export function runResultOf<O>(answer: HttpAnswer): RunResult<O> {
  const b = answer.body;
  if (b === null || !str(b.id, 128) || !str(b.status, 64)) throw malformed(answer, 'a tool call result');
  if (b.status === 'pending_approval' || b.status === 'running') {
    const held: HeldCall = { id: b.id, status: b.status, approval: approvalOf(answer, b.approval) };
    return held;
  }
  if (answer.status === 202) throw malformed(answer, 'a held call (a 202 must say pending_approval)');
  if (!TOOL_STATUSES.includes(b.status)) {
    throw new CordonClientError('CLIENT_RESPONSE_MALFORMED', `the call ${b.id} ended with status ${JSON.stringify(b.status)}, which this client does not know`, { status: answer.status, requestId: answer.requestId, details: { reason: 'unknown_status', invocation: b.id, status: b.status } });
  }
  if (!str(b.tool, 64) || typeof b.durationMs !== 'number' || !Number.isFinite(b.durationMs) || !('output' in b)) throw malformed(answer, 'a tool call result');
  const result: ToolResult<O> = { id: b.id, tool: b.tool, status: b.status as ToolStatus, output: b.output as O, durationMs: b.durationMs };
  return result;
}

export function sandboxOf(answer: HttpAnswer, v: unknown = answer.body): SandboxInfo {
  const i = isObject(v) ? v.identity : undefined;
  if (!isObject(v) || !str(v.id, 128) || !str(v.profile, 64) || !str(v.createdAt, 64) || !str(v.expiresAt, 64) || !isObject(i)) throw malformed(answer, 'a sandbox');
  if (!str(i.uri) || !str(i.backend, 64) || !(i.egressPolicy === null || str(i.egressPolicy, 256)) || !str(i.agent, 128) || !(i.user === null || str(i.user))) throw malformed(answer, 'a sandbox');
  return { id: v.id, profile: v.profile, createdAt: v.createdAt, expiresAt: v.expiresAt, identity: { uri: i.uri, backend: i.backend, egressPolicy: i.egressPolicy, agent: i.agent, user: i.user } };
}

export function sandboxListOf(answer: HttpAnswer): SandboxInfo[] {
  const list = answer.body?.sandboxes;
  if (!Array.isArray(list)) throw malformed(answer, 'a sandbox list');
  return list.map((s) => sandboxOf(answer, s));
}

export function toolListOf(answer: HttpAnswer): ToolDescriptor[] {
  const list = answer.body?.tools;
  if (!Array.isArray(list)) throw malformed(answer, 'a tool list');
  return list.map((t: unknown) => {
    if (!isObject(t) || !str(t.name, 64) || !str(t.description, 16_384) || !isObject(t.inputSchema) || !isObject(t.outputSchema) || !isObject(t.annotations)) throw malformed(answer, 'a tool list');
    return { name: t.name, description: t.description, inputSchema: t.inputSchema, outputSchema: t.outputSchema, annotations: t.annotations };
  });
}

/** RFC 6749 §5.1: the token endpoint's success answer. */
export function accessTokenOf(answer: HttpAnswer): { token: string; expiresInSec: number } {
  const b = answer.body;
  if (b === null || !str(b.access_token, 8192) || b.access_token.length === 0 || !str(b.token_type, 32) || b.token_type.toLowerCase() !== 'bearer') throw malformed(answer, 'a token response');
  const expires = b.expires_in;
  if (typeof expires !== 'number' || !Number.isInteger(expires) || expires <= 0 || expires > 86_400) throw malformed(answer, 'a token response (expires_in)');
  return { token: b.access_token, expiresInSec: expires };
}
