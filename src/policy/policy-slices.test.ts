import { afterAll, describe, expect, it } from 'vitest';
import { preparsePolicySet, preparseSchema, statefulIsAuthorized } from '@cedar-policy/cedar-wasm/nodejs';
import type { AuthzResource } from './authz-request.ts';
import { buildCedarParts, buildPrincipalEntity } from './build-entities.ts';
import { canonicaliseRequest } from './canonical-request.ts';
import { compilePolicySet, SCHEMA_FILE } from './load-policy-set.ts';
import { createPolicyEngine } from './policy-engine.ts';
import { makeRequest, SHIPPED_SCHEMA } from './test-fixtures.ts';

/**
 * The engine sends Cedar only the policies whose scope can match a request.
 * This checks that against Cedar itself: for random policies and random
 * requests, the sliced decision and its determining policies equal those of
 * the whole set evaluated in one go.
 */

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const AGENTS = ['a0', 'a1', 'a2', 'a3'];
const GROUPS = ['g0', 'g1', 'g2'];
const ACTIONS = ['fs.read', 'fs.write', 'fs.delete', 'net.fetch', 'browse.page', 'code.exec', 'sandbox.create'];
const GROUP_ACTIONS = ['fs.mutate', 'destructive', 'egress'];

function randomPolicies(next: () => number, count: number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)] as T;
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const principal = pick([
      'principal',
      `principal == Agent::"${pick(AGENTS)}"`,
      `principal == User::"${pick(AGENTS)}"`,
      `principal in Group::"${pick(GROUPS)}"`,
      'principal is Agent',
      'principal is User',
      `principal is Agent in Group::"${pick(GROUPS)}"`,
      `principal in Agent::"${pick(AGENTS)}"`,
    ]);
    const action = pick([
      'action',
      `action == Action::"${pick(ACTIONS)}"`,
      `action in Action::"${pick(GROUP_ACTIONS)}"`,
      `action in [Action::"${pick(ACTIONS)}", Action::"${pick(GROUP_ACTIONS)}"]`,
    ]);
    const resource = pick(['resource', 'resource is File', 'resource is Url', 'resource is Language', 'resource == Language::"javascript"', 'resource in File::"/workspace/a"']);
    const when = pick(['', ' when { context.session.calls > 2 }', ' when { context.delegated }', ' unless { context.session.sensitive_read }']);
    const effect = next() < 0.85 ? 'permit' : 'forbid';
    out.push(`@id("p${i}") ${effect} (${principal}, ${action}, ${resource})${when};`);
  }
  return out.join('\n');
}

const KIND_OF: Record<string, AuthzResource['kind']> = {
  'fs.read': 'file',
  'fs.write': 'file',
  'fs.delete': 'file',
  'net.fetch': 'url',
  'browse.page': 'url',
  'code.exec': 'language',
  'sandbox.create': 'profile',
};

const RESOURCES: AuthzResource[] = [
  { kind: 'file', path: '/workspace/a' },
  { kind: 'file', path: '/workspace/b' },
  { kind: 'url', scheme: 'https', host: 'example.org', port: 443, path: '/', method: 'GET', trusted: false },
  { kind: 'language', language: 'javascript' },
  { kind: 'language', language: 'python' },
  { kind: 'profile', profile: 'default' },
];

describe('policy slicing', () => {
  const next = rng(20261128);
  const set = compilePolicySet({ schema: { file: SCHEMA_FILE, text: SHIPPED_SCHEMA }, policies: [{ file: 'random.cedar', text: randomPolicies(next, 300) }] });
  const engine = createPolicyEngine(set, { maxSlices: 64 });
  afterAll(() => engine.close());
  // The reference: the whole set, preparsed as one.
  preparsePolicySet('slices-test-whole', { staticPolicies: Object.fromEntries(set.policies.map((p) => [p.id, p.text])) });
  preparseSchema('slices-test-schema', SHIPPED_SCHEMA);

  it('decides exactly as the whole policy set does, for 600 random requests', () => {
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)] as T;
    let allowed = 0;
    for (let i = 0; i < 600; i++) {
      const groups = GROUPS.filter(() => next() < 0.4);
      const action = pick(ACTIONS);
      const delegated = next() < 0.3;
      const req = makeRequest({
        agent: { id: pick(AGENTS), groups, attributes: {} },
        user: delegated ? { id: pick(AGENTS), groups: GROUPS.filter(() => next() < 0.4), attributes: {} } : null,
        action,
        // Mostly resources of the action's own kind, sometimes a mismatch the schema refuses.
        resource: next() < 0.9 ? pick(RESOURCES.filter((r) => r.kind === KIND_OF[action])) : pick(RESOURCES),
        session: { calls: Math.floor(next() * 5), sensitive_read: next() < 0.5 },
      });
      const d = engine.decide(req);
      const c = canonicaliseRequest(req);
      const parts = buildCedarParts(c);
      const whole = (type: 'Agent' | 'User', facts: NonNullable<typeof c.user>) => {
        const answer = statefulIsAuthorized({
          principal: { type, id: facts.id },
          action: parts.action,
          resource: parts.resource,
          context: parts.context,
          preparsedSchemaName: 'slices-test-schema',
          validateRequest: true,
          preparsedPolicySetId: 'slices-test-whole',
          entities: [buildPrincipalEntity(type, facts), parts.resourceEntity],
        });
        if (answer.type === 'failure') return { result: 'deny', ids: [] as string[] };
        return { result: answer.response.decision, ids: [...answer.response.diagnostics.reason].sort() };
      };
      const agent = whole('Agent', c.agent);
      expect({ i, result: d.agentDecision.result, ids: [...d.agentDecision.policyIds].sort() }).toEqual({ i, ...agent });
      if (c.user !== null) {
        const user = whole('User', c.user);
        expect({ i, result: d.userDecision?.result, ids: [...(d.userDecision?.policyIds ?? [])].sort() }).toEqual({ i, ...user });
      }
      if (d.agentDecision.result === 'allow') allowed++;
    }
    // The random set must exercise both outcomes for the comparison to mean anything.
    expect(allowed).toBeGreaterThan(30);
    expect(allowed).toBeLessThan(570);
    // 1,200 Cedar evaluations: seconds on a busy shared machine, so no 20 s default (a test never fails on speed).
  }, 120_000);
});
