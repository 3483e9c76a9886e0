import { describe, expect, it } from 'vitest';
import { createOperatorSessions } from './operator-sessions.ts';

describe('operator sessions and login links', () => {
  const make = () => {
    let t = 1_000_000;
    const sessions = createOperatorSessions({ sessionTtlMs: 60_000, linkTtlMs: 10_000, maxSessions: 3, now: () => t });
    return { sessions, advance: (ms: number) => (t += ms) };
  };

  it('expires a session on the server, whatever the cookie says', () => {
    const { sessions, advance } = make();
    const { id } = sessions.create('ana');
    expect(sessions.get(id)?.approver).toBe('ana');
    advance(60_000);
    expect(sessions.get(id)).toBeUndefined();
  });

  it('keeps at most maxSessions: the oldest goes first', () => {
    const { sessions } = make();
    const ids = [1, 2, 3, 4].map(() => sessions.create('ana').id);
    expect(ids.map((id) => sessions.get(id) !== undefined)).toEqual([false, true, true, true]);
  });

  it('gives each session its own CSRF token', () => {
    const { sessions } = make();
    const a = sessions.create('ana');
    const b = sessions.create('ana');
    expect(a.session.csrfToken).not.toBe(b.session.csrfToken);
  });

  it('redeems a link once, and not after it expires', () => {
    const { sessions, advance } = make();
    const once = sessions.createLink('ben');
    expect(sessions.redeemLink(once.token)).toBe('ben');
    expect(sessions.redeemLink(once.token)).toBeUndefined();
    const late = sessions.createLink('ben');
    advance(10_000);
    expect(sessions.redeemLink(late.token)).toBeUndefined();
  });

  it('ignores malformed ids and tokens', () => {
    const { sessions } = make();
    for (const bad of ['', 'x', '../'.repeat(20), 'a'.repeat(44), 'a'.repeat(42) + '=']) {
      expect(sessions.get(bad)).toBeUndefined();
      expect(sessions.redeemLink(bad)).toBeUndefined();
    }
  });
});
