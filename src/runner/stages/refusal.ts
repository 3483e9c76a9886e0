import type { Decision } from '../../core/decision.ts';
import { CordonError } from '../../core/errors.ts';
import { LOCAL_USER_ISSUER, type Principal } from '../../core/principal.ts';
import type { SessionFactsSnapshot } from '../../core/session-facts.ts';

/** What a refused call was: who asked, to do what, on what; enough to replay its decision offline. */
export interface RefusalSubject {
  readonly principal: Principal;
  /** A registered tool (explainable offline), or an action of the runner's own (`sandbox.create`). */
  readonly tool: string | null;
  readonly action: string;
  /** Null when the resource could not be derived (then the call was denied for that). */
  readonly resource: { readonly type: string; readonly id: string } | null;
  readonly input: unknown;
  /** The profile the call's sandbox came from; named in the suggestion when it is not the default. */
  readonly profile: string;
  readonly defaultProfile: string;
  readonly session: SessionFactsSnapshot;
}

/** Inputs longer than this are not repeated in the suggested command (the caller has them). */
const MAX_INLINE_INPUT = 400;
const MAX_SHOWN = 200;

/**
 * Printable ASCII only: the message is shown in terminals and logs, and an attacker-chosen
 * value (a user's subject, a path) must not carry escape sequences or bidi overrides into them.
 */
function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/gu, (c) => `\\u{${c.codePointAt(0)?.toString(16) ?? ''}}`);
}

function shown(text: string): string {
  const safe = printable(text);
  return JSON.stringify(safe.length > MAX_SHOWN ? `${safe.slice(0, MAX_SHOWN)}…` : safe);
}

/** One POSIX shell word: single-quoted, a quote inside written as '\''. */
function shellWord(text: string): string {
  return /^[A-Za-z0-9_./:@#=+-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

/** JSON with every character outside printable ASCII escaped (still the same JSON value). */
function asciiJson(value: unknown): string {
  return (JSON.stringify(value) ?? 'null').replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function who(principal: Principal): string {
  const agent = `agent ${shown(principal.agent)}`;
  if (principal.user === null) return agent;
  const user = principal.user.issuer === LOCAL_USER_ISSUER ? principal.user.subject : `${principal.user.issuer}#${principal.user.subject}`;
  return `${agent} acting for user ${shown(user)}`;
}

/** The `cordon policy explain` line that shows this decision and why; null when none can (no tool). */
export function explainCommand(subject: RefusalSubject): string | null {
  if (subject.tool === null) return null;
  const p = subject.principal;
  const words = ['cordon', 'policy', 'explain', '--agent', shellWord(printable(p.agent))];
  if (p.user !== null) words.push('--user', shellWord(printable(p.user.issuer === LOCAL_USER_ISSUER ? p.user.subject : `${p.user.issuer}#${p.user.subject}`)));
  words.push('--tool', shellWord(subject.tool));
  // Undefined: the input is not known yet (a call refused from its headers, before its body).
  const input = subject.input === undefined ? null : asciiJson(subject.input);
  words.push('--input', input !== null && input.length <= MAX_INLINE_INPUT ? shellWord(input) : "'<the call's input as JSON>'");
  if (subject.profile !== subject.defaultProfile) words.push('--profile', shellWord(printable(subject.profile)));
  const s = subject.session;
  if (s.sensitive_read) words.push('--session-fact', 'sensitive_read');
  if (s.untrusted_content) words.push('--session-fact', 'untrusted_content');
  if (s.calls > 0) words.push('--session-fact', `calls=${s.calls}`);
  for (const host of s.egress_hosts.slice(0, 8)) words.push('--session-fact', shellWord(`egress_host=${printable(host)}`));
  return words.join(' ');
}

/**
 * Turns a decision that is not `allow` into the error the caller sees: who was refused, which
 * action on which resource, the policy's reason, and the command that shows why. The same
 * text reaches an HTTP body, the CLI and an MCP error result.
 */
export function refusalError(decision: Decision, subject: RefusalSubject): CordonError {
  const resource = subject.resource === null ? 'a resource Cordon could not derive' : `${subject.resource.type} ${shown(subject.resource.id)}`;
  const explain = explainCommand(subject);
  const why = explain === null ? '' : `. To see why: ${explain}`;
  const details = {
    principal: { agent: subject.principal.agent, user: subject.principal.user },
    action: subject.action,
    resource: subject.resource,
    ...(explain === null ? {} : { explain }),
    decision: decision.details ?? decision,
  };
  if (decision.result === 'require_approval') {
    return new CordonError('APPROVAL_REQUIRED', `${who(subject.principal)} needs an operator's approval to ${subject.action} ${resource}: ${decision.reason}${why}`, { details });
  }
  return new CordonError('POLICY_DENIED', `denied: ${who(subject.principal)} may not ${subject.action} ${resource}: ${decision.reason}${why}`, { details });
}
