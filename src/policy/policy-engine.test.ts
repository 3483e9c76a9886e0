import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isAuthorized } from '@cedar-policy/cedar-wasm/nodejs';
import { buildCedarParts, buildPrincipalEntity } from './build-entities.ts';
import { canonicaliseRequest } from './canonical-request.ts';
import { createDecisionCache } from './decision-cache.ts';
import { decisionDetails } from './explain-decision.ts';
import { compilePolicySet, loadPolicySet, SCHEMA_FILE } from './load-policy-set.ts';
import { createPolicyEngine, type PolicyEngine } from './policy-engine.ts';
import { makeRequest, POLICY_TESTDATA, SHIPPED_POLICIES, SHIPPED_SCHEMA } from './test-fixtures.ts';

const engines: PolicyEngine[] = [];
afterAll(() => engines.forEach((e) => e.close()));

function engineFrom(policies: Record<string, string>, options: Parameters<typeof createPolicyEngine>[1] = {}): PolicyEngine {
  const set = compilePolicySet({
    schema: { file: SCHEMA_FILE, text: SHIPPED_SCHEMA },
    policies: Object.entries(policies).map(([file, text]) => ({ file, text })),
  });
  const engine = createPolicyEngine(set, options);
  engines.push(engine);
  return engine;
}

function shipped(options: Parameters<typeof createPolicyEngine>[1] = {}): PolicyEngine {
  const engine = createPolicyEngine(loadPolicySet(SHIPPED_POLICIES), options);
  engines.push(engine);
  return engine;
}

const coder = { id: 'coder', groups: ['coding'], attributes: {} };
const assistant = { id: 'assistant', groups: ['assistants'], attributes: {} };
const alice = { id: 'alice', groups: ['engineering'], attributes: {} };
const carol = { id: 'carol', groups: ['contractors'], attributes: {} };

describe('fail closed', () => {
  const erroring = readFileSync(join(POLICY_TESTDATA, 'erroring', 'erroring.cedar'), 'utf8');
  const engine = engineFrom({ 'erroring.cedar': erroring });

  it('a forbid that errors denies, where Cedar alone would skip it and allow', () => {
    const req = makeRequest({ action: 'fs.read', session: { calls: 2 } });
    // The trap: plain Cedar drops the erroring forbid and allows.
    const c = canonicaliseRequest(req);
    const parts = buildCedarParts(c);
    const raw = isAuthorized({
      principal: { type: 'Agent', id: c.agent.id },
      action: parts.action,
      resource: parts.resource,
      context: parts.context,
      schema: SHIPPED_SCHEMA,
      validateRequest: true,
      policies: { staticPolicies: Object.fromEntries(engine.policySet.policies.map((p) => [p.id, p.text])) },
      entities: [buildPrincipalEntity('Agent', c.agent), parts.resourceEntity],
    });
    expect(raw.type === 'success' && raw.response.decision).toBe('allow');

    const d = engine.decide(req);
    expect(d.result).toBe('deny');
    expect(d.ruleId).toBe('erroring-forbid');
    expect(d.errors[0]).toMatchObject({ principal: 'Agent::"agent-1"', policyId: 'erroring-forbid' });
    expect(d.errors[0]?.message).toContain('overflow');
    expect(d.reason).toContain('evaluation error in policy erroring-forbid');
  });

  it('the same forbid decides normally when it does not error', () => {
    expect(engine.decide(makeRequest({ action: 'fs.read', session: { calls: 0 } })).result).toBe('allow');
    expect(engine.decide(makeRequest({ action: 'fs.read', session: { calls: 1 } }))).toMatchObject({ result: 'deny', ruleId: 'erroring-forbid', errors: [] });
  });

  it('a permit that errors denies with the error, not as "no permit matched"', () => {
    const d = engine.decide(makeRequest({ action: 'fs.write', session: { calls: 3 } }));
    expect(d).toMatchObject({ result: 'deny', ruleId: 'erroring-permit' });
    expect(d.errors).toHaveLength(1);
  });

  it('a request the schema refuses (unknown action, wrong resource type) denies with the reason', () => {
    const unknown = engine.decide(makeRequest({ action: 'fs.chmod' }));
    expect(unknown.result).toBe('deny');
    expect(unknown.errors[0]?.message).toMatch(/does not match the policy schema.*fs\.chmod/);
    const wrongType = engine.decide(makeRequest({ action: 'fs.read', resource: { kind: 'language', language: 'javascript' } }));
    expect(wrongType.result).toBe('deny');
    expect(wrongType.errors[0]?.message).toContain('resource type');
    // An action group is not itself something a tool can do.
    expect(engine.decide(makeRequest({ action: 'fs.mutate' })).result).toBe('deny');
  });
});

describe('principal types', () => {
  it('a principal type the action does not take is denied, naming the mismatch', () => {
    const schema = SHIPPED_SCHEMA.replace(/action "sandbox\.create" appliesTo \{\s*principal: \[Agent, User\]/, 'action "sandbox.create" appliesTo {\n  principal: [Agent]');
    expect(schema).not.toBe(SHIPPED_SCHEMA);
    const set = compilePolicySet({ schema: { file: SCHEMA_FILE, text: schema }, policies: [{ file: 'p.cedar', text: '@id("any") permit (principal, action, resource);' }] });
    expect(set.actionTypes.get('sandbox.create')).toEqual({ principalTypes: ['Agent'], resourceTypes: ['SandboxProfile'] });
    const engine = createPolicyEngine(set);
    engines.push(engine);
    const d = engine.decide(makeRequest({ agent: 'a', user: 'u', action: 'sandbox.create', resource: { kind: 'profile', profile: 'default' } }));
    expect(d.agentDecision.result).toBe('allow');
    expect(d.userDecision?.result).toBe('deny');
    expect(d.userDecision?.errors[0]?.message).toMatch(/does not match the policy schema: principal type `User` is not valid for `Action::"sandbox\.create"`/);
  });
});

describe('action groups', () => {
  const policy = '@id("mutate") permit (principal, action in Action::"fs.mutate", resource is File);';
  const engine = engineFrom({ 'g.cedar': policy });

  it('apply through the preparsed schema, where Cedar without a schema denies', () => {
    const c = canonicaliseRequest(makeRequest({ action: 'fs.write' }));
    const parts = buildCedarParts(c);
    const raw = isAuthorized({
      principal: { type: 'Agent', id: c.agent.id },
      action: parts.action,
      resource: parts.resource,
      context: parts.context,
      policies: { staticPolicies: { mutate: policy } },
      entities: [buildPrincipalEntity('Agent', c.agent), parts.resourceEntity],
    });
    expect(raw.type === 'success' && raw.response.decision).toBe('deny');
    expect(engine.decide(makeRequest({ action: 'fs.write' }))).toMatchObject({ result: 'allow', ruleId: 'mutate' });
    expect(engine.decide(makeRequest({ action: 'fs.delete' }))).toMatchObject({ result: 'allow', ruleId: 'mutate' });
    expect(engine.decide(makeRequest({ action: 'fs.read' })).result).toBe('deny');
  });
});

describe('approval', () => {
  const engine = engineFrom({
    'a.cedar': `
      @id("write") permit (principal in Group::"writers", action == Action::"fs.write", resource is File);
      @id("delete") @approval("required") permit (principal in Group::"writers", action == Action::"fs.delete", resource is File);
      @id("gate") @approval("required") forbid (principal, action == Action::"fs.write", resource) when { resource.name == "gated.txt" };
      @id("hard") forbid (principal, action == Action::"fs.write", resource) when { resource.path == "/workspace/x/gated.txt" };
    `,
  });
  const writer = { id: 'w', groups: ['writers'], attributes: {} };

  it('a permit with @approval("required") yields require_approval', () => {
    expect(engine.decide(makeRequest({ agent: writer, action: 'fs.delete' }))).toMatchObject({ result: 'require_approval', ruleId: 'delete', policyIds: ['delete'] });
  });

  it('a gate (forbid with @approval) holds an allowed call for approval', () => {
    const d = engine.decide(makeRequest({ agent: writer, action: 'fs.write', resource: '/workspace/gated.txt' }));
    expect(d).toMatchObject({ result: 'require_approval', ruleId: 'gate', policyIds: ['gate', 'write'] });
  });

  it('a gate grants nothing by itself', () => {
    expect(engine.decide(makeRequest({ agent: 'outsider', action: 'fs.write', resource: '/workspace/gated.txt' }))).toMatchObject({ result: 'deny', ruleId: null, reason: 'no permit matched' });
  });

  it('a plain forbid beats a gate', () => {
    expect(engine.decide(makeRequest({ agent: writer, action: 'fs.write', resource: '/workspace/x/gated.txt' }))).toMatchObject({ result: 'deny', ruleId: 'hard' });
  });
});

describe('both principals', () => {
  const engine = shipped();

  it('denies when the user may not, although the agent may', () => {
    const d = engine.decide(makeRequest({ agent: assistant, user: carol, action: 'fs.write', resource: '/workspace/shared/plan.md' }));
    expect(d.result).toBe('deny');
    expect(d.agentDecision).toMatchObject({ principal: 'Agent::"assistant"', result: 'allow', policyIds: ['assistant-delegated-files'] });
    expect(d.userDecision).toMatchObject({ principal: 'User::"carol"', result: 'deny', policyIds: [], reason: 'no permit matched' });
    expect(d.reason).toContain('User::"carol": deny');
    expect(d.evaluated.principal).toEqual({ agent: 'Agent::"assistant"', user: 'User::"carol"' });
  });

  it('denies when the agent may not, although the user may', () => {
    const d = engine.decide(makeRequest({ agent: 'nobody', user: alice, action: 'fs.read', resource: '/workspace/src/app.ts' }));
    expect(d.result).toBe('deny');
    expect(d.agentDecision.result).toBe('deny');
    expect(d.userDecision).toMatchObject({ result: 'allow', policyIds: ['users-engineering-files'] });
  });

  it('allows when both may, and names both principals\' policies', () => {
    const d = engine.decide(makeRequest({ agent: assistant, user: alice, action: 'fs.write', resource: '/workspace/src/app.ts' }));
    expect(d).toMatchObject({ result: 'allow', policyIds: ['assistant-delegated-files', 'users-engineering-files'], ruleId: 'assistant-delegated-files' });
  });

  it('passes delegation to policies as context.delegated', () => {
    expect(engine.decide(makeRequest({ agent: assistant, action: 'fs.read', resource: '/workspace/a' })).result).toBe('deny');
    expect(engine.decide(makeRequest({ agent: assistant, user: alice, action: 'fs.read', resource: '/workspace/a' })).evaluated.context.delegated).toBe(true);
  });

  it('the user\'s approval requirement holds even when the agent is simply allowed', () => {
    const e = engineFrom({
      'u.cedar': `
        @id("agent-deletes") permit (principal is Agent, action == Action::"fs.delete", resource);
        @id("user-deletes") @approval("required") permit (principal is User, action == Action::"fs.delete", resource);
      `,
    });
    expect(e.decide(makeRequest({ agent: 'a', user: 'u', action: 'fs.delete' }))).toMatchObject({ result: 'require_approval', ruleId: 'user-deletes', policyIds: ['user-deletes'] });
  });
});

describe('chain rules', () => {
  const engine = shipped();
  const researcher = { id: 'r', groups: ['research'], attributes: {} };
  const fetch = (session = {}) => makeRequest({ agent: researcher, action: 'net.fetch', resource: { kind: 'url', scheme: 'https', host: 'paste.example', port: 443, path: '/', method: 'GET', trusted: false }, session });

  it('the same call is decided differently once a session fact is set', () => {
    expect(engine.decide(fetch()).result).toBe('allow');
    expect(engine.decide(fetch({ sensitive_read: true }))).toMatchObject({ result: 'deny', ruleId: 'chain-no-untrusted-egress-after-sensitive-read' });
    const write = (session = {}) => makeRequest({ agent: coder, action: 'fs.write', resource: '/workspace/a.ts', session });
    expect(engine.decide(write()).result).toBe('allow');
    expect(engine.decide(write({ untrusted_content: true }))).toMatchObject({ result: 'require_approval', ruleId: 'chain-approve-changes-after-untrusted-content' });
    expect(engine.decide(write({ calls: 500 }))).toMatchObject({ result: 'deny', ruleId: 'chain-session-call-budget' });
  });
});

describe('decision cache', () => {
  it('returns the same decision for the same request, and misses when any fact changes', () => {
    const cache = createDecisionCache({ maxEntries: 100 });
    const engine = shipped({ cache });
    const req = makeRequest({ agent: coder, action: 'fs.write', resource: '/workspace/a.ts' });
    const first = engine.decide(req);
    expect(engine.decide(structuredClone(req))).toBe(first);
    expect(cache.stats()).toMatchObject({ hits: 1, misses: 1, size: 1 });
    const changed = engine.decide(makeRequest({ agent: coder, action: 'fs.write', resource: '/workspace/a.ts', session: { untrusted_content: true } }));
    expect(changed.result).toBe('require_approval');
    expect(cache.stats()).toMatchObject({ hits: 1, misses: 2, size: 2 });
  });

  it('treats groups and egress hosts as sets', () => {
    const cache = createDecisionCache();
    const engine = shipped({ cache });
    engine.decide(makeRequest({ agent: { id: 'x', groups: ['coding', 'research'], attributes: {} }, session: { egress_hosts: ['b', 'a'] } }));
    engine.decide(makeRequest({ agent: { id: 'x', groups: ['research', 'coding', 'coding'], attributes: {} }, session: { egress_hosts: ['a', 'b'] } }));
    expect(cache.stats().hits).toBe(1);
  });

  it('keys on the policy-set version, so a shared cache never crosses policy sets', () => {
    const cache = createDecisionCache();
    const allow = engineFrom({ 'a.cedar': '@id("a") permit (principal, action, resource);' }, { cache });
    const deny = engineFrom({ 'b.cedar': '@id("b") forbid (principal, action, resource);' }, { cache });
    expect(allow.decide(makeRequest()).result).toBe('allow');
    expect(deny.decide(makeRequest()).result).toBe('deny');
  });

  it('evicts the least recently used entry', () => {
    const cache = createDecisionCache({ maxEntries: 2 });
    const engine = shipped({ cache });
    for (const path of ['/workspace/1', '/workspace/2', '/workspace/1', '/workspace/3']) engine.decide(makeRequest({ agent: coder, resource: path }));
    engine.decide(makeRequest({ agent: coder, resource: '/workspace/1' }));
    expect(cache.stats()).toMatchObject({ size: 2, hits: 2 });
  });

  it('hands out frozen decisions, so one caller cannot change another\'s', () => {
    const engine = shipped({ cache: createDecisionCache() });
    const d = engine.decide(makeRequest({ agent: coder }));
    expect(Object.isFrozen(d) && Object.isFrozen(d.agentDecision) && Object.isFrozen(d.evaluated.context)).toBe(true);
  });
});

describe('explain', () => {
  const engine = shipped();

  it('names the deciding policies with their file and line, and the request as evaluated', () => {
    const x = engine.explain(makeRequest({ agent: coder, action: 'fs.read', resource: '/workspace/.env' }));
    expect(x.result).toBe('deny');
    expect(x.explanation).toMatch(/forbid secrets-dotenv {2}.*secrets\.cedar:\d+/);
    expect(x.explanation).toContain('resource:  File::"/workspace/.env"');
    expect(x.explanation).toContain('action:    Action::"fs.read"');
  });

  it('gives error-body details naming both principals and what was evaluated', () => {
    const d = engine.decide(makeRequest({ agent: assistant, user: carol, action: 'fs.write', resource: '/workspace/shared/plan.md' }));
    expect(JSON.parse(JSON.stringify(decisionDetails(d)))).toEqual({
      result: 'deny',
      reason: 'User::"carol": deny (no permit matched)',
      ruleId: null,
      policyIds: [],
      agent: { principal: 'Agent::"assistant"', result: 'allow', reason: 'allowed by assistant-delegated-files', policyIds: ['assistant-delegated-files'] },
      user: { principal: 'User::"carol"', result: 'deny', reason: 'no permit matched', policyIds: [] },
      evaluated: { principal: { agent: 'Agent::"assistant"', user: 'User::"carol"' }, action: 'Action::"fs.write"', resource: 'File::"/workspace/shared/plan.md"' },
      policyVersion: engine.version,
    });
  });

  it('says "no permit matched" when nothing granted the call', () => {
    const x = engine.explain(makeRequest({ agent: 'nobody' }));
    expect(x).toMatchObject({ result: 'deny', ruleId: null, reason: 'no permit matched' });
    expect(x.explanation).toContain('no permit matched');
  });
});

describe('slice keys', () => {
  it('an id containing separator characters never shares a slice with another principal', () => {
    // Regression: a key joined with NUL made ("x\0File", groups [g]) and ("x", groups [File, g]) equal,
    // so the second principal was evaluated without the forbid that names it.
    const e = engineFrom({ 'x.cedar': '@id("deny-x") forbid (principal == Agent::"x", action, resource);\n@id("all") permit (principal, action == Action::"fs.read", resource);' });
    expect(e.decide(makeRequest({ agent: { id: 'x\u0000File', groups: ['g'], attributes: {} } })).result).toBe('allow');
    expect(e.decide(makeRequest({ agent: { id: 'x', groups: ['File', 'g'], attributes: {} } }))).toMatchObject({ result: 'deny', ruleId: 'deny-x' });
  });
});

describe('lifecycle', () => {
  it('refuses to decide after close()', () => {
    const engine = createPolicyEngine(loadPolicySet(SHIPPED_POLICIES));
    engine.close();
    expect(() => engine.decide(makeRequest())).toThrow(/after close/);
  });

  it('keeps working when more slices are needed than it may keep', () => {
    const engine = shipped({ maxSlices: 2 });
    for (let i = 0; i < 20; i++) {
      const agent = { id: `a${i}`, groups: i % 2 === 0 ? ['coding'] : ['research', `g${i}`], attributes: {} };
      expect(engine.decide(makeRequest({ agent, action: i % 3 === 0 ? 'fs.write' : 'fs.read' })).result).not.toBe('require_approval');
    }
    expect(engine.decide(makeRequest({ agent: coder, action: 'fs.write' })).result).toBe('allow');
  });
});
