import { describe, expect, it } from 'vitest';
import { deny } from '../../core/decision.ts';
import type { Principal } from '../../core/principal.ts';
import { explainCommand, refusalError, type RefusalSubject } from './refusal.ts';

const noFacts = { untrusted_content: false, sensitive_read: false, egress_hosts: [], calls: 0 };
const agent = (id: string, user: Principal['user'] = null): Principal => ({ agent: id, user, tokenId: 't', expiresAt: 0, scope: null });
const subject = (over: Partial<RefusalSubject> = {}): RefusalSubject => ({
  principal: agent('bot'),
  tool: 'file.delete',
  action: 'fs.delete',
  resource: { type: 'file', id: '/workspace/a.txt' },
  input: { path: 'a.txt' },
  profile: 'js',
  defaultProfile: 'js',
  session: noFacts,
  ...over,
});

describe('refusal messages', () => {
  it('names the agent, the user with its issuer, the action and the resource, and keeps the decision in details', () => {
    const e = refusalError(deny('no permit matched'), subject({ principal: agent('bot', { issuer: 'https://idp.test', subject: 'u1' }) }));
    expect(e.code).toBe('POLICY_DENIED');
    expect(e.message).toMatch(/^denied: agent "bot" acting for user "https:\/\/idp\.test#u1" may not fs\.delete file "\/workspace\/a\.txt": no permit matched\. To see why: cordon policy explain --agent bot --user https:\/\/idp\.test#u1 --tool file\.delete --input /);
    expect(e.details).toMatchObject({ principal: { agent: 'bot', user: { issuer: 'https://idp.test', subject: 'u1' } }, action: 'fs.delete', decision: { result: 'deny' } });
  });

  it('says approval, not denial, for require_approval; a runner action gets no explain line', () => {
    const e = refusalError({ result: 'require_approval', reason: 'gate', ruleId: 'g' }, subject({ tool: null, action: 'sandbox.create', resource: { type: 'profile', id: 'python' } }));
    expect(e.code).toBe('APPROVAL_REQUIRED');
    expect(e.message).toBe('agent "bot" needs an operator\'s approval to sandbox.create profile "python": gate');
    expect(e.details.explain).toBeUndefined();
  });

  it('carries the profile and the session facts the decision depended on', () => {
    const line = explainCommand(subject({ profile: 'python', session: { untrusted_content: true, sensitive_read: true, egress_hosts: ['a.test'], calls: 3 } }));
    expect(line).toBe("cordon policy explain --agent bot --tool file.delete --input '{\"path\":\"a.txt\"}' --profile python --session-fact sensitive_read --session-fact untrusted_content --session-fact calls=3 --session-fact egress_host=a.test");
  });

  it('keeps hostile values printable and quoted: escapes, bidi overrides and quotes never reach a terminal raw', () => {
    const hostile = "x'; rm -rf ~; echo '\u001b]52;c;AAAA\u0007\u202e";
    const e = refusalError(deny('no permit matched'), subject({ principal: agent('bot', { issuer: 'cordon-local-users', subject: hostile }), input: { path: hostile } }));
    // eslint-disable-next-line no-control-regex
    expect(e.message).not.toMatch(/[\u0000-\u001f\u007f-\uffff]/);
    const line = String(e.details.explain);
    expect(line).toContain("--user 'x'\\''; rm -rf ~; echo '\\''\\u{1b}]52;c;AAAA\\u{7}\\u{202e}'");
    // The input stays the same JSON value, in ASCII.
    const quoted = /--input '(.*)'$/.exec(line)?.[1]?.replace(/'\\''/g, "'");
    expect(JSON.parse(quoted ?? 'null')).toEqual({ path: hostile });
  });

  it('does not repeat a long input, and never throws on one it cannot show', () => {
    expect(explainCommand(subject({ input: { source: 'x'.repeat(10_000) } }))).toContain("--input '<the call's input as JSON>'");
    expect(explainCommand(subject({ input: undefined }))).toContain("--input '<the call's input as JSON>'");
    const e = refusalError(deny('r'), subject({ resource: null, input: undefined }));
    expect(e.message).toContain('may not fs.delete a resource Cordon could not derive: r');
  });
});
