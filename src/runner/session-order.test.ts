import { describe, expect, it } from 'vitest';
import { createMemoryAuditSink } from '../audit/jsonl-audit-log.ts';
import { createRepeatAggregator } from '../audit/repeat-aggregator.ts';
import type { AuthorizationRequest } from '../core/authorization.ts';
import { allow, deny } from '../core/decision.ts';
import { silentLogger } from '../core/logger.ts';
import type { Principal } from '../core/principal.ts';
import { BUNDLED_SANDBOX_PROFILE_DIR, createHostWorkspace, createSandboxManager, loadSandboxProfiles, type Sandbox, type SandboxBackend } from '../sandbox/index.ts';
import { BUILTIN_TOOLS } from '../tools/builtin-tools.ts';
import { createToolRegistry } from '../tools/tool-registry.ts';
import type { ApprovalFlow } from './approval-flow.ts';
import { createRedactor } from './redaction.ts';
import { createRunner } from './runner.ts';
import { createSessionStore } from './session-store.ts';

// A call is decided before its session is opened. That must not let a chain rule be skipped:
// facts another call of the same session adds while this one is being decided count.
const principal: Principal = Object.freeze({ agent: 'a', user: null, tokenId: 't', expiresAt: Math.ceil(Date.now() / 1000) + 60, scope: null });

/** A backend whose sandboxes answer every run with 1; the order of decisions is what is tested. */
const backend: SandboxBackend = {
  kind: 'isolate',
  create: async (spec) => {
    const sandbox: Sandbox = {
      identity: spec.identity,
      persistent: spec.persistent,
      egress: null,
      workspace: createHostWorkspace('/nonexistent/cordon-unused-workspace'),
      alive: () => true,
      run: async () => ({ status: 'ok', value: 1, stdout: '', stderr: '', truncated: false, durationMs: 0 }),
      dispose: async () => {},
      onEnd: () => {},
    };
    return sandbox;
  },
  stats: () => ({}),
  close: async () => {},
};

function setup(authorize: (request: AuthorizationRequest, sessions: ReturnType<typeof createSessionStore>) => ReturnType<typeof allow>) {
  const sessions = createSessionStore({ maxSessions: 10, maxSessionsPerAgent: 10, idleTtlMs: 60_000 });
  const seen: AuthorizationRequest[] = [];
  const manager = createSandboxManager({ backends: new Map([['isolate', backend]]), profiles: loadSandboxProfiles(BUNDLED_SANDBOX_PROFILE_DIR), trustDomain: 'test', maxSessions: 10, maxSessionsPerAgent: 10 });
  const audit = createMemoryAuditSink();
  const runner = createRunner({
    verifier: { verify: () => Promise.reject(new Error('not used')), verifyAssertion: () => Promise.reject(new Error('not used')) },
    tools: createToolRegistry(BUILTIN_TOOLS),
    authorizer: {
      mayEverAllow: () => true,
      authorize: async (request) => {
        seen.push(request);
        return authorize(request, sessions);
      },
    },
    manager,
    audit,
    repeats: createRepeatAggregator({ write: (r) => audit.append(r), windowMs: 0, maxKeys: 1 }),
    callRate: { admit: () => {} },
    sessions,
    sandboxes: { defaultProfile: 'js', egressPolicyFor: () => null, egressTrusted: () => false },
    egressFor: () => () => null,
    stats: () => ({}),
    redactor: createRedactor([]),
    browser: null,
    // These policies never ask for approval: a call that reached the approvals would fail the test.
    approvals: new Proxy({} as ApprovalFlow, { get: () => () => Promise.reject(new Error('approvals are not part of this test')) }),
    policyVersion: () => 'test',
    logger: silentLogger,
  });
  return { runner, sessions, seen, close: () => manager.close() };
}

const call = { tool: 'code', input: { language: 'javascript', source: '1' }, session: 's' };

describe('a session opens after its call is decided', () => {
  it('decides again on the facts as they are when another call of the session added some meanwhile', async () => {
    let first = true;
    const t = setup((request, sessions) => {
      if (first) {
        first = false;
        // Another call of session "s" reads a secret while this one is being decided.
        sessions.open('a', null, 's').sink.noteSensitiveRead('/workspace/.env');
      }
      // A chain rule: nothing more runs in a session that has read something sensitive.
      return request.session.sensitive_read ? deny('chain rule: sensitive read', 'no-after-secret') : allow('ok', 'ok');
    });
    await expect(t.runner.invoke(principal, call)).rejects.toMatchObject({ code: 'POLICY_DENIED' });
    expect(t.seen.map((r) => r.session.sensitive_read)).toEqual([false, true]);
    await t.close();
  });

  it('decides once when nothing changed, and opens nothing for a denied call', async () => {
    const t = setup((request) => (request.tool === 'code' && request.session.calls < 1 ? allow('ok', 'ok') : deny('no', 'no')));
    await t.runner.invoke(principal, call);
    expect(t.seen).toHaveLength(1);
    await expect(t.runner.invoke(principal, { ...call, session: 'other' })).resolves.toMatchObject({ status: 'ok' });
    expect(t.sessions.size).toBe(2);
    await expect(t.runner.invoke(principal, call)).rejects.toMatchObject({ code: 'POLICY_DENIED' });
    const denyAll = setup(() => deny('no', 'no'));
    for (let i = 0; i < 100; i++) await expect(denyAll.runner.invoke(principal, { ...call, session: `s${i}` })).rejects.toMatchObject({ code: 'POLICY_DENIED' });
    expect(denyAll.sessions.size).toBe(0);
    await t.close();
    await denyAll.close();
  });
});
