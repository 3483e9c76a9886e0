import { CordonClientError } from '../client-errors.ts';
import { depthOf, MAX_INPUT_DEPTH } from '../../core/json-depth.ts';

/** A tool as `GET /v1/tools` lists it (only what the adapters read). */
export interface CordonTool {
  readonly name: string;
  readonly description: string;
  readonly inputSchema: Readonly<Record<string, unknown>>;
  readonly outputSchema?: Readonly<Record<string, unknown>>;
  readonly annotations?: object;
}

/** A model's tool call, as Cordon takes it: `POST /v1/invocations {tool, input}`, and the provider's id to answer with. */
export interface CordonCall {
  readonly callId: string;
  readonly tool: string;
  readonly input: Record<string, unknown>;
}

/** Most characters of a model's arguments an adapter parses: past Cordon's default body limit, nothing is accepted anyway. */
export const MAX_ARGUMENT_CHARS = 1024 * 1024;

const CALL_ID = /^[\x21-\x7e]{1,256}$/;

function invalid(message: string, details: Record<string, unknown>): CordonClientError {
  return new CordonClientError('INPUT_INVALID', message, { details });
}

/** The provider's call id: printable ASCII, bounded, since it is echoed back in the answer. */
export function checkCallId(raw: unknown, field: string): string {
  if (typeof raw !== 'string' || !CALL_ID.test(raw)) throw invalid(`${field} must be 1 to 256 printable ASCII characters`, { field });
  return raw;
}

/**
 * Checks a model's arguments before they go anywhere: a plain object, not nested past what
 * Cordon's server takes, with no key that would mean something to a JavaScript object (the
 * server refuses `__proto__` as malformed JSON; refusing here says so earlier and never lets
 * such a key reach code that merges objects).
 */
export function checkArguments(tool: string, input: unknown): Record<string, unknown> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw invalid(`${tool}: the arguments must be a JSON object`, { tool, field: '/' });
  if (depthOf(input, MAX_INPUT_DEPTH) > MAX_INPUT_DEPTH) throw invalid(`${tool}: the arguments are nested deeper than ${MAX_INPUT_DEPTH} levels`, { tool, field: '/' });
  const stack: unknown[] = [input];
  while (stack.length > 0) {
    const value = stack.pop();
    if (typeof value !== 'object' || value === null) continue;
    for (const key of Object.keys(value)) {
      if (key === '__proto__' || key === 'prototype') throw invalid(`${tool}: the arguments have a key named ${key}, which is not allowed`, { tool, reason: 'forbidden_key' });
      stack.push((value as Record<string, unknown>)[key]);
    }
  }
  return input as Record<string, unknown>;
}

/** JSON text from a model → its arguments object, refusing oversized or unparseable text. */
export function parseArguments(tool: string, text: unknown, maxChars: number): Record<string, unknown> {
  if (typeof text !== 'string') throw invalid(`${tool}: the arguments must be a JSON string`, { tool, field: '/' });
  if (text.length > maxChars) throw invalid(`${tool}: the arguments are ${text.length} characters; at most ${maxChars} are accepted`, { tool, field: '/', limit: maxChars });
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw invalid(`${tool}: the arguments are not valid JSON`, { tool, field: '/' });
  }
  return checkArguments(tool, parsed);
}
