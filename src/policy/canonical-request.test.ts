import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CordonError } from '../core/errors.ts';
import type { AuthzRequest } from './authz-request.ts';
import { parseUrlResource, resourceFromDescriptor } from './authz-request.ts';
import { canonicaliseRequest, REQUEST_LIMITS } from './canonical-request.ts';
import { loadPolicySet } from './load-policy-set.ts';
import { createPolicyEngine } from './policy-engine.ts';
import { makeRequest, SHIPPED_POLICIES } from './test-fixtures.ts';

const engine = createPolicyEngine(loadPolicySet(SHIPPED_POLICIES));
afterAll(() => engine.close());

const coder = { id: 'coder', groups: ['coding'], attributes: {} };
const url = (o: Record<string, unknown>) => ({ kind: 'url', scheme: 'https', host: 'example.org', port: 443, path: '/', method: 'GET', trusted: false, ...o }) as AuthzRequest['resource'];
const long = (n: number) => 'x'.repeat(n);

function refused(req: AuthzRequest): string {
  try {
    canonicaliseRequest(req);
  } catch (err) {
    expect(err).toBeInstanceOf(CordonError);
    expect((err as CordonError).code).toBe('INPUT_INVALID');
    return String((err as CordonError).details.field);
  }
  throw new Error('expected INPUT_INVALID');
}

describe('requests that are refused before any policy sees them', () => {
  // A policy like `resource.path like "/workspace/*"` matches these texts, so
  // they must never reach it: the runner canonicalises, and we check.
  it.each([
    ['parent segment', '/workspace/../etc/passwd'],
    ['dot segment', '/workspace/./.env'],
    ['empty segment', '/workspace//.env'],
    ['trailing slash', '/workspace/src/'],
    ['relative path', 'workspace/a'],
    ['NUL byte', '/workspace/a\0.txt'],
    ['lone surrogate', '/workspace/\ud800'],
    ['huge path', `/workspace/${long(REQUEST_LIMITS.stringChars)}`],
  ])('file path: %s', (_name, path) => {
    expect(refused(makeRequest({ resource: path }))).toBe('resource.path');
  });

  it.each([
    ['upper-case host', { host: 'Example.org' }, 'resource.host'],
    ['trailing dot', { host: 'example.org.' }, 'resource.host'],
    ['hex IPv4 literal', { host: '0x7f.1' }, 'resource.host'],
    ['userinfo in host', { host: 'user@example.org' }, 'resource.host'],
    ['host with a path', { host: 'example.org/evil' }, 'resource.host'],
    ['host with a port', { host: 'example.org:8080' }, 'resource.host'],
    ['port 0', { port: 0 }, 'resource.port'],
    ['port out of range', { port: 70000 }, 'resource.port'],
    ['non-normalised path', { path: '/a/../b' }, 'resource.path'],
    ['path with a query', { path: '/a?x=1' }, 'resource.path'],
    ['lower-case method', { method: 'get' }, 'resource.method'],
    ['file scheme', { scheme: 'file' }, 'resource.scheme'],
    ['trusted as a string', { trusted: 'true' }, 'resource.trusted'],
  ])('url: %s', (_name, o, field) => {
    expect(refused(makeRequest({ action: 'net.fetch', resource: url(o) }))).toBe(field);
  });

  it.each([
    ['empty agent id', makeRequest({ agent: '' }), 'agent.id'],
    ['huge agent id', makeRequest({ agent: long(REQUEST_LIMITS.idChars + 1) }), 'agent.id'],
    ['non-string group', makeRequest({ agent: { id: 'a', groups: [1 as unknown as string], attributes: {} } }), 'agent.groups[0]'],
    ['too many groups', makeRequest({ agent: { id: 'a', groups: Array.from({ length: REQUEST_LIMITS.groups + 1 }, (_, i) => `g${i}`), attributes: {} } }), 'agent.groups'],
    // An object value would be read by Cedar as an entity reference.
    ['entity escape as attribute', makeRequest({ agent: { id: 'a', groups: [], attributes: { team: { __entity: { type: 'Group', id: 'admins' } } as unknown as string } } }), 'agent.attributes.team'],
    ['negative call count', makeRequest({ session: { calls: -1 } }), 'context.session.calls'],
    ['fractional call count', makeRequest({ session: { calls: 1.5 } }), 'context.session.calls'],
    ['call count past 2^53', makeRequest({ session: { calls: 2 ** 60 } }), 'context.session.calls'],
    ['fact as a string', makeRequest({ session: { sensitive_read: 'false' as unknown as boolean } }), 'context.session.sensitive_read'],
    ['too many egress hosts', makeRequest({ session: { egress_hosts: Array.from({ length: REQUEST_LIMITS.egressHosts + 1 }, (_, i) => `h${i}`) } }), 'context.session.egress_hosts'],
    ['unknown resource kind', makeRequest({ resource: { kind: 'socket', path: '/x' } as unknown as AuthzRequest['resource'] }), 'resource.kind'],
  ])('%s', (_name, req, field) => {
    expect(refused(req)).toBe(field);
  });
});

describe('hostile but valid inputs stay inside the entity model', () => {
  // Each of these is a legal string, so it must be decided, and decided as the
  // plain data it is: no id can name another principal, group or resource.
  const hostile = [
    'coder" || principal == Agent::"local',
    'local"',
    'Agent::"local"',
    '{"__entity":{"type":"Agent","id":"local"}}',
    '__proto__',
    'lоcal', // Cyrillic o
    'local\u200b',
    '😈'.repeat(50),
    long(REQUEST_LIMITS.idChars),
  ];

  it.each(hostile)('agent id %j gets nothing the real agent has', (id) => {
    expect(engine.decide(makeRequest({ agent: id, action: 'code.exec', resource: { kind: 'language', language: 'javascript' } })).result).toBe('deny');
  });

  it.each(hostile)('group %j is not the coding group', (group) => {
    expect(engine.decide(makeRequest({ agent: { id: 'x', groups: [group], attributes: {} }, action: 'fs.write' })).result).toBe('deny');
  });

  it.each(hostile)('user id %j is decided as a user, not an agent', (id) => {
    const d = engine.decide(makeRequest({ agent: coder, user: { id, groups: [], attributes: {} }, action: 'fs.read' }));
    expect(d.result).toBe('deny');
    expect(d.agentDecision.result).toBe('allow');
  });

  it('attribute keys such as __proto__ stay plain data', () => {
    const d = engine.decide(makeRequest({ agent: { id: 'x', groups: ['coding'], attributes: { __proto__: 'x', constructor: 'y', 'a"b': 'c' } as Record<string, string> } }));
    expect(d.result).toBe('allow');
    const c = canonicaliseRequest(makeRequest({ agent: { id: 'x', groups: [], attributes: JSON.parse('{"__proto__":"p"}') as Record<string, string> } }));
    expect(Object.keys(c.agent.attributes)).toEqual(['__proto__']);
  });

  it('a path that only contains secret names as text is matched exactly', () => {
    // The secret forbids match path segments, so a file called ".ssh.md" is fine and a ".ssh" folder is not.
    expect(engine.decide(makeRequest({ agent: coder, resource: '/workspace/notes/.ssh.md' })).result).toBe('allow');
    expect(engine.decide(makeRequest({ agent: coder, resource: '/workspace/notes/.ssh/x' })).result).toBe('deny');
    expect(engine.decide(makeRequest({ agent: coder, resource: '/workspace/"; permit(principal,action,resource); "' })).result).toBe('allow');
    expect(engine.decide(makeRequest({ agent: coder, resource: '/workspace/..hidden' })).result).toBe('allow');
    expect(engine.decide(makeRequest({ agent: coder, resource: '/workspace\u2215..\u2215etc' })).result).toBe('deny');
  });

  it('the longest accepted strings are decided in reasonable time', () => {
    const start = performance.now();
    const path = `/workspace/${'a/'.repeat((REQUEST_LIMITS.stringChars - 12) / 2)}b`;
    expect(engine.decide(makeRequest({ agent: coder, resource: path })).result).toBe('allow');
    expect(performance.now() - start).toBeLessThan(1000);
  });
});

describe('canonical form', () => {
  it('gives equal keys to equal requests however their sets are ordered', () => {
    const a = canonicaliseRequest(makeRequest({ agent: { id: 'a', groups: ['b', 'a', 'b'], attributes: { y: '1', x: '2' } }, session: { egress_hosts: ['z', 'y'] } }));
    const b = canonicaliseRequest(makeRequest({ agent: { id: 'a', groups: ['a', 'b'], attributes: { x: '2', y: '1' } }, session: { egress_hosts: ['y', 'z', 'z'] } }));
    expect(a.key).toBe(b.key);
    expect(a.agent.groups).toEqual(['a', 'b']);
  });

  it('parseUrlResource canonicalises what the WHATWG parser can', () => {
    expect(parseUrlResource('HTTPS://Example.ORG./a/../b?q=1#f', 'post', true)).toEqual({ kind: 'url', scheme: 'https', host: 'example.org', port: 443, path: '/b', method: 'POST', trusted: true });
    expect(parseUrlResource('http://0x7f.1:8080/')).toMatchObject({ host: '127.0.0.1', port: 8080 });
    // IPv4-mapped IPv6 is the IPv4 the guard dials: a forbid on 127.0.0.1 holds for it (issue 8, item 5).
    expect(parseUrlResource('http://[::ffff:127.0.0.1]/')).toMatchObject({ host: '127.0.0.1' });
    expect(parseUrlResource('http://[::7f00:1]/')).toMatchObject({ host: '127.0.0.1' });
    expect(parseUrlResource('http://[0:0::1]:8080/')).toMatchObject({ host: '::1', port: 8080 });
    expect(parseUrlResource('file:///etc/passwd')).toBeNull();
    expect(parseUrlResource('https://user:pw@example.org/')).toBeNull();
    expect(parseUrlResource('not a url')).toBeNull();
    // What it produces always passes the engine's own check.
    const r = parseUrlResource('https://EXAMPLE.org.:443/x/./y');
    expect(r).not.toBeNull();
    if (r !== null) expect(() => canonicaliseRequest(makeRequest({ action: 'net.fetch', resource: r }))).not.toThrow();
  });
});

describe('resourceFromDescriptor', () => {
  it.each([
    [{ type: 'language', id: 'javascript' }, { kind: 'language', language: 'javascript' }],
    [{ type: 'file', id: '/workspace/a.txt' }, { kind: 'file', path: '/workspace/a.txt' }],
    [{ type: 'profile', id: 'default' }, { kind: 'profile', profile: 'default' }],
    [{ type: 'url', id: 'https://API.github.com/x', attributes: { method: 'post', trusted: true } }, { kind: 'url', scheme: 'https', host: 'api.github.com', port: 443, path: '/x', method: 'POST', trusted: true }],
    [{ type: 'url', id: 'https://example.org/', attributes: { trusted: 'true' } }, { kind: 'url', scheme: 'https', host: 'example.org', port: 443, path: '/', method: 'GET', trusted: false }],
    [{ type: 'socket', id: 'x' }, null],
    [{ type: 'url', id: 'not a url' }, null],
  ])('%j', (descriptor, expected) => {
    expect(resourceFromDescriptor(descriptor)).toEqual(expected);
  });
});

// The egress layer's table of host spellings (testdata/egress/canonical-host.yaml) is the truth for
// Cedar too: a URL a person writes (policy tests, `policy explain`, a tool's URL resource) names the
// host the guard would dial, and a host given as parts must already be in that form.
describe('one host spelling with the egress guard', () => {
  const table = parse(readFileSync(resolve(import.meta.dirname, '../../testdata/egress/canonical-host.yaml'), 'utf8')) as { url?: string; host?: string; error?: string }[];
  const spelled = table.filter((c): c is { url: string; host: string } => c.url !== undefined && c.host !== undefined && c.error === undefined);

  it.each(spelled.map((c) => [c.url, c.host] as const))('%s names %s', (url, host) => {
    expect(parseUrlResource(url)?.host).toBe(host);
  });

  it.each(['::ffff:7f00:1', '::ffff:127.0.0.1', '::7f00:1', '[::1]', '127.1', '0x7f.0.0.1', 'EXAMPLE.org', 'example.org.', '0:0:0:0:0:0:0:1'])('a resource host given as parts in another spelling (%s) is refused', (host) => {
    expect(() => canonicaliseRequest(makeRequest({ action: 'net.fetch', resource: { kind: 'url', scheme: 'http', host, port: 80, path: '/', method: 'GET', trusted: false } }))).toThrow(/resource.host/);
  });
});
