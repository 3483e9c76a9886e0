import { isCordonError } from '../core/errors.ts';
import { parseEgressTarget, type EgressRequest } from './canonical-host.ts';
import { checkEgress, type CheckEgressResult } from './check-egress.ts';
import type { EgressPolicy } from './egress-policy.ts';

/**
 * `cordon egress check --batch FILE|-`: one request a line, one JSON decision a
 * line, in one process. The line format:
 *
 *   [METHOD] URL [--resolve=IP[,IP...]]
 *   [CONNECT] HOST:PORT [--resolve=IP[,IP...]]
 *
 * `--resolve` says what this line's host resolves to (other names: the command's
 * own `--resolve NAME=IP` options, else the assumed public address). Blank lines
 * and lines starting with `#` are skipped. A malformed line yields an error line
 * for that line and the batch goes on; it never stops at one bad input.
 */

/** Longer lines are refused whole (their text is never parsed). */
export const MAX_BATCH_LINE_CHARS = 8192;
/** How much of a line an output line echoes back, so an operator can match them up. */
const ECHO_CHARS = 200;

export type BatchLineResult =
  | ({ readonly line: number; readonly input: string } & CheckEgressResult)
  | { readonly line: number; readonly input: string; readonly error: { readonly code: 'USAGE'; readonly message: string } };

export interface BatchLine {
  /** The line without its line break (a trailing \r is dropped too). */
  readonly text: string;
  /** The line was longer than the reader's cap; `text` is its beginning only. */
  readonly overLimit: boolean;
}

export interface ParsedBatchLine {
  readonly request: EgressRequest;
  /** Addresses for this line's host, or null for none given. */
  readonly resolve: readonly string[] | null;
}

/** Parses one non-blank, non-comment line; a string is what is wrong with it. */
export function parseBatchLine(text: string): ParsedBatchLine | string {
  const words = text.trim().split(/[ \t]+/);
  let resolve: string[] | null = null;
  const rest: string[] = [];
  for (const w of words) {
    if (w.startsWith('--resolve=')) {
      if (resolve !== null) return 'give --resolve once a line (IP[,IP...])';
      resolve = w.slice('--resolve='.length).split(',');
    } else if (w.startsWith('-')) return `unknown option "${w}"; a line is [METHOD] URL|HOST:PORT [--resolve=IP[,IP...]]`;
    else rest.push(w);
  }
  if (rest.length === 0 || rest.length > 2) return 'a line is [METHOD] URL|HOST:PORT [--resolve=IP[,IP...]]';
  const target = rest.at(-1) ?? '';
  const method = rest.length === 2 ? (rest[0] ?? '') : null;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(target)) {
    if (method?.toUpperCase() === 'CONNECT') return 'CONNECT takes HOST:PORT, not a URL';
    return { request: method === null ? { url: target } : { url: target, method }, resolve };
  }
  if (method !== null && method.toUpperCase() !== 'CONNECT') return `method ${method} needs a URL; a HOST:PORT target is a CONNECT tunnel`;
  return { request: { connect: target }, resolve };
}

/**
 * Decides one line (null for a blank line or a comment). `base` is the table from
 * the command's `--resolve` options; it is not changed.
 */
export async function checkBatchLine(policy: EgressPolicy, base: Readonly<Record<string, readonly string[]>>, lineNumber: number, line: BatchLine): Promise<BatchLineResult | null> {
  const trimmed = line.text.trim();
  if (!line.overLimit && (trimmed === '' || trimmed.startsWith('#'))) return null;
  const input = echo(line.text, line.overLimit);
  const fail = (message: string): BatchLineResult => ({ line: lineNumber, input, error: { code: 'USAGE', message } });
  if (line.overLimit) return fail(`line is longer than ${MAX_BATCH_LINE_CHARS} characters`);
  const parsed = parseBatchLine(trimmed);
  if (typeof parsed === 'string') return fail(parsed);
  let resolve = base;
  if (parsed.resolve !== null) {
    // The host as the guard will see it: the one parser, so `--resolve` binds to the
    // same name the policy is matched against.
    const target = parseEgressTarget(parsed.request);
    if (target.ok && target.target.hostKind !== 'dns') return fail(`--resolve given for ${target.target.host}, which is an IP address`);
    if (target.ok) resolve = { ...base, [target.target.host]: parsed.resolve };
  }
  try {
    const result = await checkEgress({ policy, ...parsed.request, resolve });
    return { line: lineNumber, input, ...result };
  } catch (err) {
    if (isCordonError(err) && err.code === 'USAGE') return fail(err.message);
    throw err;
  }
}

function echo(text: string, overLimit: boolean): string {
  return text.length > ECHO_CHARS || overLimit ? `${text.slice(0, ECHO_CHARS)}…` : text;
}
