import { describe, expect, it } from 'vitest';
import { createSessionStore } from './session-store.ts';

describe('session store', () => {
  it('accumulates facts per (agent, user, session id)', () => {
    const store = createSessionStore({ maxSessions: 10, idleTtlMs: 60_000 });
    const s = store.open('a', null, 's1');
    s.sink.noteSensitiveRead('/workspace/.env');
    s.sink.noteEgressHost('api.test');
    s.countCall();
    expect(store.open('a', null, 's1').facts()).toEqual({ untrusted_content: false, sensitive_read: true, egress_hosts: ['api.test'], calls: 1 });
  });

  it('keeps agents and users apart even when they name the same session', () => {
    const store = createSessionStore({ maxSessions: 10, idleTtlMs: 60_000 });
    store.open('a', null, 'shared').sink.noteUntrustedContent('evil.test');
    expect(store.open('b', null, 'shared').facts().untrusted_content).toBe(false);
    expect(store.open('a', 'alice', 'shared').facts().untrusted_content).toBe(false);
    // Separator characters in ids cannot make two principals share a key.
    store.open('a', 'b|c', 'x').sink.noteSensitiveRead('k');
    expect(store.open('a|b', 'c', 'x').facts().sensitive_read).toBe(false);
  });

  it('gives a call without a session id fresh facts every time', () => {
    const store = createSessionStore({ maxSessions: 10, idleTtlMs: 60_000 });
    store.open('a', null, null).sink.noteSensitiveRead('k');
    expect(store.open('a', null, null).facts().sensitive_read).toBe(false);
    expect(store.size).toBe(0);
  });

  it('refuses new sessions when full instead of forgetting live ones', () => {
    const store = createSessionStore({ maxSessions: 2, idleTtlMs: 60_000 });
    store.open('a', null, 'poisoned').sink.noteSensitiveRead('k');
    store.open('a', null, 'two');
    expect(() => store.open('a', null, 'three')).toThrowError(expect.objectContaining({ code: 'RATE_LIMITED' }));
    expect(store.open('a', null, 'poisoned').facts().sensitive_read).toBe(true);
  });

  it('expires idle sessions', () => {
    let t = 0;
    const store = createSessionStore({ maxSessions: 2, idleTtlMs: 1000, now: () => t });
    store.open('a', null, 'old').countCall();
    t = 5000;
    expect(store.open('a', null, 'new').facts().calls).toBe(0);
    expect(store.open('a', null, 'old').facts().calls).toBe(0);
  });
});
