import { describe, expect, it } from 'vitest';
import { createSessionStore } from './session-store.ts';

describe('session store', () => {
  it('accumulates facts per (agent, user, session id)', () => {
    const store = createSessionStore({ maxSessions: 10, maxSessionsPerAgent: 10, idleTtlMs: 60_000 });
    const s = store.open('a', null, 's1');
    s.sink.noteSensitiveRead('/workspace/.env');
    s.sink.noteEgressHost('api.test');
    s.countCall();
    expect(store.open('a', null, 's1').facts()).toEqual({ untrusted_content: false, sensitive_read: true, egress_hosts: ['api.test'], calls: 1 });
  });

  it('keeps agents and users apart even when they name the same session', () => {
    const store = createSessionStore({ maxSessions: 10, maxSessionsPerAgent: 10, idleTtlMs: 60_000 });
    store.open('a', null, 'shared').sink.noteUntrustedContent('evil.test');
    expect(store.open('b', null, 'shared').facts().untrusted_content).toBe(false);
    expect(store.open('a', 'alice', 'shared').facts().untrusted_content).toBe(false);
    // Separator characters in ids cannot make two principals share a key.
    store.open('a', 'b|c', 'x').sink.noteSensitiveRead('k');
    expect(store.open('a|b', 'c', 'x').facts().sensitive_read).toBe(false);
  });

  it('gives a call without a session id fresh facts every time', () => {
    const store = createSessionStore({ maxSessions: 10, maxSessionsPerAgent: 10, idleTtlMs: 60_000 });
    store.open('a', null, null).sink.noteSensitiveRead('k');
    expect(store.open('a', null, null).facts().sensitive_read).toBe(false);
    expect(store.size).toBe(0);
  });

  it('refuses new sessions when full instead of forgetting live ones', () => {
    const store = createSessionStore({ maxSessions: 2, maxSessionsPerAgent: 2, idleTtlMs: 60_000 });
    store.open('a', null, 'poisoned').sink.noteSensitiveRead('k');
    store.open('a', null, 'two');
    expect(() => store.open('b', null, 'three')).toThrowError(expect.objectContaining({ code: 'RATE_LIMITED', details: expect.objectContaining({ quota: 'sessions' }) }));
    expect(store.open('a', null, 'poisoned').facts().sensitive_read).toBe(true);
  });

  it('expires idle sessions', () => {
    let t = 0;
    const store = createSessionStore({ maxSessions: 2, maxSessionsPerAgent: 2, idleTtlMs: 1000, now: () => t });
    store.open('a', null, 'old').countCall();
    t = 5000;
    expect(store.open('a', null, 'new').facts().calls).toBe(0);
    expect(store.open('a', null, 'old').facts().calls).toBe(0);
  });

  it("refuses an agent past its share (agent_sessions) whichever user it acts for, while another agent still opens one", () => {
    const store = createSessionStore({ maxSessions: 10, maxSessionsPerAgent: 2, idleTtlMs: 60_000 });
    store.open('a', 'alice', 's1');
    store.open('a', 'bob', 's1');
    expect(() => store.open('a', 'carol', 's1')).toThrowError(expect.objectContaining({ code: 'RATE_LIMITED', details: expect.objectContaining({ quota: 'agent_sessions' }) }));
    // Its open sessions still open (they are not new), and another agent has its own share.
    expect(store.open('a', 'alice', 's1').key).not.toBe('');
    store.open('b', null, 's1');
    expect(store.size).toBe(3);
  });

  it('peeks at facts without opening a session', () => {
    const store = createSessionStore({ maxSessions: 1, maxSessionsPerAgent: 1, idleTtlMs: 60_000 });
    for (let i = 0; i < 100; i++) expect(store.peek('a', null, `s${i}`)).toEqual({ facts: { untrusted_content: false, sensitive_read: false, egress_hosts: [], calls: 0 }, version: 0 });
    expect(store.size).toBe(0);
    const s = store.open('a', null, 'real');
    s.sink.noteSensitiveRead('k');
    expect(store.peek('a', null, 'real')).toEqual({ facts: expect.objectContaining({ sensitive_read: true }), version: s.version() });
  });

  it('changes the version whenever facts change, and never reuses one', () => {
    let t = 0;
    const store = createSessionStore({ maxSessions: 10, maxSessionsPerAgent: 10, idleTtlMs: 1000, now: () => t });
    const s = store.open('a', null, 's');
    expect(s.version()).toBe(0);
    s.sink.noteEgressHost('x.test');
    const v1 = s.version();
    s.sink.noteEgressHost('x.test');
    expect(s.version()).toBe(v1);
    s.sink.noteUntrustedContent('x.test');
    expect(s.version()).toBeGreaterThan(v1);
    t = 5000;
    const again = store.open('a', null, 's');
    again.countCall();
    expect(again.version()).toBeGreaterThan(v1 + 1);
  });
});
