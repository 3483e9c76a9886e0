import { describe, expect, it } from 'vitest';
import { createFailingAuditSink } from '../../test/support/failing-audit-sink.ts';
import { parsePrometheusText } from '../../test/support/prometheus-text.ts';
import type { AuditRecord } from '../audit/audit-sink.ts';
import type { AuthorizationRequest } from '../core/authorization.ts';
import { allow, deny } from '../core/decision.ts';
import { CordonError } from '../core/errors.ts';
import { silentLogger } from '../core/logger.ts';
import { createCordonMetrics } from './cordon-metrics.ts';
import { createInvocationObserver } from './invocation-observer.ts';
import { metricsAuditSink, timedAuthorizer } from './metrics-taps.ts';
import { createRedactor } from './redaction.ts';

const metrics = () => createCordonMetrics({ isTool: (n) => n === 'code', isEgressPolicy: (n) => n === 'github' }, { sandboxes: () => ({}), approvalsPending: () => 0 });

const record = (kind: AuditRecord['kind'], extra: Partial<AuditRecord> = {}): AuditRecord => ({
  ts: '', kind, id: 'aud_1', requestId: null, agent: 'a', user: null, tokenId: null, tool: null, action: null, resource: null, sandbox: null, decision: null, outcome: 'x', durationMs: 0, inputSha256: null, ...extra,
});

describe('the audit tap', () => {
  it('counts written and failed records by kind, and the caller still sees the failure', async () => {
    const m = metrics();
    const sink = metricsAuditSink(createFailingAuditSink((r) => r.kind === 'token'), m);
    await sink.append(record('invocation'));
    await expect(sink.append(record('token'))).rejects.toMatchObject({ code: 'ENOSPC' });
    await expect(sink.append(record('invocation'))).rejects.toThrow();
    const s = parsePrometheusText(m.render());
    expect([s.value('cordon_audit_records_total', { kind: 'invocation' }), s.value('cordon_audit_append_failures_total', { kind: 'token' }), s.value('cordon_audit_append_failures_total', { kind: 'invocation' })]).toEqual([1, 1, 1]);
  });

  it('counts egress records by policy, result and reason, and their bytes; an unloaded policy name is `unknown`', async () => {
    const m = metrics();
    const sink = metricsAuditSink(createFailingAuditSink(() => false), m);
    const egress = (policy: string | null, result: string, code: string, up: number, down: number) => record('egress', { egress: { policy, result, code, bytesToUpstream: up, bytesFromUpstream: down } });
    await sink.append(egress('github', 'allow', 'allowed', 10, 200));
    await sink.append(egress('github', 'deny', 'no_matching_rule', 0, 0));
    await sink.append(egress('attacker-chosen', 'deny', 'made-up-reason', 5, 7));
    await sink.append(egress(null, 'deny', 'no_egress_policy', 0, 0));
    const s = parsePrometheusText(m.render());
    expect(s.value('cordon_egress_requests_total', { policy: 'github', result: 'allow', reason: 'allowed' })).toBe(1);
    expect(s.value('cordon_egress_requests_total', { policy: 'github', result: 'deny', reason: 'no_matching_rule' })).toBe(1);
    expect(s.value('cordon_egress_requests_total', { policy: 'unknown', result: 'deny', reason: 'other' })).toBe(1);
    expect(s.value('cordon_egress_requests_total', { policy: 'none', result: 'deny', reason: 'no_egress_policy' })).toBe(1);
    expect([s.value('cordon_egress_bytes_total', { policy: 'github', direction: 'to_upstream' }), s.value('cordon_egress_bytes_total', { policy: 'github', direction: 'from_upstream' })]).toEqual([10, 200]);
  });

  it('never turns a counting bug into a failed append or an unhandled rejection', async () => {
    const sink = metricsAuditSink(createFailingAuditSink(() => false), { auditAppended: () => { throw new Error('bug'); } });
    await expect(sink.append(record('invocation'))).resolves.toBeUndefined();
    // Give the counting callback its turn: an escaped rejection would fail this test file.
    await new Promise((r) => setImmediate(r));
  });
});

describe('the timed authorizer', () => {
  const request = {} as AuthorizationRequest;

  it('passes each decision through and times it under its result', async () => {
    const m = metrics();
    const answers = [allow('ok', 'r1'), deny('no'), { result: 'require_approval' as const, reason: 'human', ruleId: 'r2' }];
    const timed = timedAuthorizer({ authorize: () => answers.shift() ?? deny('none'), mayEverAllow: () => true }, m);
    expect((await timed.authorize(request)).ruleId).toBe('r1');
    expect((await timed.authorize(request)).result).toBe('deny');
    expect((await timed.authorize(request)).result).toBe('require_approval');
    const s = parsePrometheusText(m.render());
    for (const result of ['allow', 'deny', 'require_approval']) expect(s.value('cordon_policy_decision_seconds_count', { result }), result).toBe(1);
  });

  it('lets a throw through untimed (the pipeline denies it, fail closed)', async () => {
    const m = metrics();
    const timed = timedAuthorizer({ authorize: () => Promise.reject(new Error('engine down')), mayEverAllow: () => true }, m);
    await expect(timed.authorize(request)).rejects.toThrow('engine down');
    expect(parsePrometheusText(m.render()).sum('cordon_policy_decision_seconds_count')).toBe(0);
  });

  it('keeps the inner mayEverAllow (regression: wrapping it dropped it, and MCP tools/list showed every tool)', () => {
    const seen: string[][] = [];
    const timed = timedAuthorizer({ authorize: () => deny('none'), mayEverAllow: (_p, actions) => (seen.push([...actions]), actions.includes('code.exec')) }, metrics());
    const principal = { agent: 'a', user: null, tokenId: 't', expiresAt: 0, scope: null };
    expect(timed.mayEverAllow(principal, ['code.exec'])).toBe(true);
    expect(timed.mayEverAllow(principal, ['fs.read'])).toBe(false);
    expect(seen).toEqual([['code.exec'], ['fs.read']]);
  });
});

describe('the invocation observer', () => {
  const facts = { requestId: 'req_1', principal: null, tool: 'code', action: 'code.exec', resource: null, sandbox: null, decision: null, outcome: 'ok', durationMs: 1500, input: { secret: 'x' } };

  it('counts the call and its duration only when its code ran', () => {
    const m = metrics();
    const observer = createInvocationObserver({ metrics: m, logger: silentLogger, redactor: createRedactor([]), logInvocations: false });
    observer.ended(facts, true);
    observer.ended({ ...facts, outcome: 'POLICY_DENIED' }, false);
    observer.authRefused(new CordonError('AUTH_INVALID_TOKEN', 'bad', { details: { reason: 'expired' } }));
    const s = parsePrometheusText(m.render());
    expect(s.value('cordon_invocations_total', { tool: 'code', outcome: 'ok' })).toBe(1);
    expect(s.value('cordon_invocations_total', { tool: 'code', outcome: 'POLICY_DENIED' })).toBe(1);
    expect(s.value('cordon_invocation_duration_seconds_count', { tool: 'code' })).toBe(1);
    expect(s.value('cordon_invocation_duration_seconds_sum', { tool: 'code' })).toBe(1.5);
    expect(s.value('cordon_auth_refusals_total', { code: 'AUTH_INVALID_TOKEN', reason: 'expired' })).toBe(1);
  });

  it('never throws into the runner: the call\'s answer is decided already', () => {
    const broken = { invocation: () => { throw new Error('bug'); }, authRefused: () => { throw new Error('bug'); } };
    const observer = createInvocationObserver({ metrics: broken, logger: silentLogger, redactor: createRedactor([]), logInvocations: true });
    expect(() => observer.ended(facts, true)).not.toThrow();
    expect(() => observer.authRefused(new CordonError('AUTH_MISSING_TOKEN', 'none'))).not.toThrow();
  });
});
