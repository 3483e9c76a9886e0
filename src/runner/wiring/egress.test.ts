import { mkdtempSync, copyFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseEgressTarget, targetUrl, type EgressRequest } from '../../egress/index.ts';
import { canonicaliseRequest, createPolicyEngine, emptySessionFacts, loadPolicySet, NO_ANNOTATIONS, resourceFromDescriptor, SCHEMA_FILE, type AuthzRequest } from '../../policy/index.ts';
import { netFetchCall } from './egress.ts';

// Item 5 of issue 8: Cedar must see the host the guard dials, whatever the sandbox wrote.
// Every spelling the egress tests know (testdata/egress/canonical-host.yaml) goes through
// the runner's net.fetch resource and a real Cedar policy set.
interface Case {
  url?: string;
  connect?: string;
  method?: string;
  error?: string;
}

const ROOT = resolve(import.meta.dirname, '..', '..', '..');
const cases = (parse(readFileSync(join(ROOT, 'testdata/egress/canonical-host.yaml'), 'utf8')) as Case[]).filter((c) => c.error === undefined);

// Forbids written the way an operator writes them: the canonical spelling of each address.
const FORBIDDEN_HOSTS = ['127.0.0.1', '169.254.169.254', '10.0.1.7', '10.0.0.1', '::1', '2001:db8::1', 'example.com'];
const dir = mkdtempSync(join(tmpdir(), 'cordon-wiring-'));
copyFileSync(join(ROOT, 'policies', SCHEMA_FILE), join(dir, SCHEMA_FILE));
writeFileSync(
  join(dir, 'hosts.cedar'),
  [
    '@id("fetch-anything")',
    'permit (principal == Agent::"coder", action == Action::"net.fetch", resource is Url);',
    '@id("forbidden-hosts")',
    `forbid (principal, action == Action::"net.fetch", resource is Url) when { [${FORBIDDEN_HOSTS.map((h) => JSON.stringify(h)).join(', ')}].contains(resource.host) };`,
    '',
  ].join('\n'),
);
const engine = createPolicyEngine(loadPolicySet(dir));
afterAll(() => {
  engine.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the net.fetch resource is the egress layer’s canonical target, for every spelling', () => {
  it.each(cases.map((c) => [c.url ?? `CONNECT ${c.connect}`, c] as const))('%s', (_, c) => {
    const request: EgressRequest = c.connect !== undefined ? { connect: c.connect } : { url: c.url ?? '', method: c.method ?? 'GET' };
    const parsed = parseEgressTarget(request);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    const target = parsed.target;
    const method = target.method ?? 'CONNECT';
    const descriptor = netFetchCall({ url: targetUrl(target), target, method, hop: 0, channel: 'fetch' }, false).resource();
    const resource = resourceFromDescriptor(descriptor);
    expect(resource).toMatchObject({ kind: 'url', host: target.host, port: target.port, path: target.path ?? '/', scheme: target.scheme === 'connect' ? 'https' : target.scheme });
    const req: AuthzRequest = {
      agent: { id: 'coder', groups: [], attributes: {} },
      user: null,
      action: 'net.fetch',
      resource: resource ?? descriptorError(),
      context: { session: emptySessionFacts(), sandbox: { profile: 'js' }, annotations: NO_ANNOTATIONS },
    };
    // The policy engine's own canonical check accepts it (IPv6 without brackets included) …
    expect(() => canonicaliseRequest(req)).not.toThrow();
    // … and a forbid on the canonical host holds for this spelling.
    expect(engine.decide(req).result).toBe(FORBIDDEN_HOSTS.includes(target.host) ? 'deny' : 'allow');
  });

  it('covers IPv4, IPv6 and names, so the forbid was tried on each kind', () => {
    const hosts = new Set(cases.map((c) => {
      const p = parseEgressTarget(c.connect !== undefined ? { connect: c.connect } : { url: c.url ?? '' });
      return p.ok ? p.target.host : '';
    }));
    for (const h of ['127.0.0.1', '::1', '2001:db8::1', '169.254.169.254']) expect(hosts).toContain(h);
  });
});

function descriptorError(): never {
  throw new Error('the runner built a resource the policy engine cannot describe');
}
