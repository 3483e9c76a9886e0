import { canonicalHost } from '../core/canonical-host.ts';
import { CordonError } from '../core/errors.ts';
import type { AuthzContext, AuthzRequest, AuthzResource, PrincipalFacts } from './authz-request.ts';

/**
 * Checks an AuthzRequest and returns a canonical, frozen copy plus a key that
 * is identical for identical requests (sets sorted and de-duplicated,
 * attributes in key order, no wall-clock time).
 *
 * The policy engine does not trust the runner's canonicalisation blindly: a
 * policy such as `resource.path like "/workspace/*"` would also match
 * "/workspace/../etc/passwd", so a path or URL that is not in canonical form is
 * refused here, before any policy sees it. Size limits keep one request from
 * costing the engine unbounded time.
 */

export const REQUEST_LIMITS = Object.freeze({
  // A user's id is its key, `<issuer>#<subject>`: up to 1024 + 1 + 255 characters.
  idChars: 1280,
  stringChars: 8192,
  groups: 256,
  attributes: 64,
  egressHosts: 1024,
});

export interface CanonicalRequest extends AuthzRequest {
  /** Stable serialisation of the whole request: the decision cache key. */
  readonly key: string;
}

export function canonicaliseRequest(req: AuthzRequest): CanonicalRequest {
  if (req === null || typeof req !== 'object') invalid('request', 'must be an object');
  const agent = principal(req.agent, 'agent');
  const user = req.user === null || req.user === undefined ? null : principal(req.user, 'user');
  const action = text(req.action, 'action', REQUEST_LIMITS.idChars);
  const resource = canonicalResource(req.resource);
  const context = canonicalContext(req.context);
  const key = JSON.stringify([agent, user, action, resource, context]);
  return Object.freeze({ agent, user, action, resource, context, key });
}

function principal(p: PrincipalFacts, field: string): PrincipalFacts {
  if (p === null || typeof p !== 'object') invalid(field, 'must be an object');
  const id = text(p.id, `${field}.id`, REQUEST_LIMITS.idChars);
  if (!Array.isArray(p.groups)) invalid(`${field}.groups`, 'must be an array of strings');
  if (p.groups.length > REQUEST_LIMITS.groups) invalid(`${field}.groups`, `has more than ${REQUEST_LIMITS.groups} entries`);
  const groups = sortedSet(p.groups.map((g, i) => text(g, `${field}.groups[${i}]`, REQUEST_LIMITS.idChars)));
  const attrs = p.attributes ?? {};
  if (attrs === null || typeof attrs !== 'object' || Array.isArray(attrs)) invalid(`${field}.attributes`, 'must be an object of strings');
  const entries = Object.entries(attrs);
  if (entries.length > REQUEST_LIMITS.attributes) invalid(`${field}.attributes`, `has more than ${REQUEST_LIMITS.attributes} entries`);
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  // Object.fromEntries defines own properties, so a key like "__proto__" stays data.
  const attributes = Object.freeze(
    Object.fromEntries(entries.map(([k, v]) => [text(k, `${field}.attributes key`, REQUEST_LIMITS.idChars), text(v, `${field}.attributes.${k}`, REQUEST_LIMITS.stringChars)])),
  );
  return Object.freeze({ id, attributes, groups });
}

function canonicalResource(r: AuthzResource): AuthzResource {
  if (r === null || typeof r !== 'object') invalid('resource', 'must be an object');
  switch (r.kind) {
    case 'file':
      return Object.freeze({ kind: 'file', path: filePath(r.path) });
    case 'url':
      return canonicalUrl(r);
    case 'language':
      return Object.freeze({ kind: 'language', language: text(r.language, 'resource.language', REQUEST_LIMITS.idChars) });
    case 'profile':
      return Object.freeze({ kind: 'profile', profile: text(r.profile, 'resource.profile', REQUEST_LIMITS.idChars) });
    default:
      return invalid('resource.kind', 'must be one of file, url, language, profile');
  }
}

/** Absolute, no empty, `.` or `..` segments, no trailing slash, no NUL. */
function filePath(value: unknown): string {
  const path = text(value, 'resource.path', REQUEST_LIMITS.stringChars);
  if (!path.startsWith('/')) invalid('resource.path', 'must be absolute');
  if (path.includes('\0')) invalid('resource.path', 'must not contain NUL');
  if (path !== '/') {
    for (const segment of path.slice(1).split('/')) {
      if (segment === '' || segment === '.' || segment === '..') invalid('resource.path', 'must be canonical (no empty, "." or ".." segments, no trailing slash)');
    }
  }
  return path;
}

function canonicalUrl(r: AuthzResource & { kind: 'url' }): AuthzResource {
  const scheme = text(r.scheme, 'resource.scheme', 8);
  if (!(scheme === 'http' || scheme === 'https' || scheme === 'ws' || scheme === 'wss')) invalid('resource.scheme', 'must be http, https, ws or wss');
  const host = text(r.host, 'resource.host', 255 + 2);
  // A fixed point of the one host canonicaliser (core/canonical-host.ts), the guard's own: lower
  // case, IP literals decoded, IPv4-mapped IPv6 as its IPv4, IPv6 without brackets, no trailing dot.
  // Anything else could name the same destination in a spelling a policy does not match.
  const canonical = canonicalHost(host);
  if (!canonical.ok || canonical.host !== host) invalid('resource.host', 'must be a canonical host name or IP literal (IPv6 without brackets, IPv4-mapped IPv6 as its IPv4)');
  if (!Number.isInteger(r.port) || r.port < 1 || r.port > 65535) invalid('resource.port', 'must be an integer from 1 to 65535');
  const path = text(r.path, 'resource.path', REQUEST_LIMITS.stringChars);
  const normalised = tryUrl(path, 'http://h')?.pathname;
  if (!path.startsWith('/') || normalised !== path) invalid('resource.path', 'must be a normalised URL path without query or fragment');
  const method = text(r.method, 'resource.method', 16);
  if (!/^[A-Z]+$/.test(method)) invalid('resource.method', 'must be an upper-case HTTP method');
  if (typeof r.trusted !== 'boolean') invalid('resource.trusted', 'must be a boolean');
  return Object.freeze({ kind: 'url', scheme, host, port: r.port, path, method, trusted: r.trusted });
}

function canonicalContext(c: AuthzContext): AuthzContext {
  if (c === null || typeof c !== 'object') invalid('context', 'must be an object');
  const s = c.session;
  if (s === null || typeof s !== 'object') invalid('context.session', 'must be an object');
  if (!Number.isSafeInteger(s.calls) || s.calls < 0) invalid('context.session.calls', 'must be a non-negative integer');
  if (!Array.isArray(s.egress_hosts)) invalid('context.session.egress_hosts', 'must be an array of strings');
  if (s.egress_hosts.length > REQUEST_LIMITS.egressHosts) invalid('context.session.egress_hosts', `has more than ${REQUEST_LIMITS.egressHosts} entries`);
  const session = Object.freeze({
    untrusted_content: bool(s.untrusted_content, 'context.session.untrusted_content'),
    sensitive_read: bool(s.sensitive_read, 'context.session.sensitive_read'),
    egress_hosts: sortedSet(s.egress_hosts.map((h, i) => text(h, `context.session.egress_hosts[${i}]`, 257))),
    calls: s.calls,
  });
  const sandbox = Object.freeze({ profile: text(c.sandbox?.profile, 'context.sandbox.profile', REQUEST_LIMITS.idChars) });
  const a = c.annotations;
  if (a === null || typeof a !== 'object') invalid('context.annotations', 'must be an object');
  const annotations = Object.freeze({
    readOnlyHint: bool(a.readOnlyHint, 'context.annotations.readOnlyHint'),
    destructiveHint: bool(a.destructiveHint, 'context.annotations.destructiveHint'),
  });
  return Object.freeze({ session, sandbox, annotations });
}

function tryUrl(url: string, base?: string): URL | null {
  try {
    return new URL(url, base);
  } catch {
    return null;
  }
}

function text(value: unknown, field: string, maxChars: number): string {
  if (typeof value !== 'string' || value.length === 0) invalid(field, 'must be a non-empty string');
  if (value.length > maxChars) invalid(field, `is longer than ${maxChars} characters`);
  if (!value.isWellFormed()) invalid(field, 'must be well-formed Unicode (no lone surrogates)');
  return value;
}

function bool(value: unknown, field: string): boolean {
  if (typeof value !== 'boolean') invalid(field, 'must be a boolean');
  return value;
}

function sortedSet(values: string[]): readonly string[] {
  return Object.freeze([...new Set(values)].sort());
}

function invalid(field: string, problem: string): never {
  throw new CordonError('INPUT_INVALID', `authorization request: ${field} ${problem}`, { details: { field } });
}
