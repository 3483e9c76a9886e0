import { describe, expect, it } from 'vitest';
import { CordonError } from '../../core/errors.ts';
import { loadSandboxProfiles, BUNDLED_SANDBOX_PROFILE_DIR, type Sandbox } from '../../sandbox/index.ts';
import type { ToolContext } from '../tool.ts';
import type { PageInput } from './page-input.ts';
import { pageTool } from './page-tool.ts';

const profile = loadSandboxProfiles(BUNDLED_SANDBOX_PROFILE_DIR).get('browser')!;

function refused(run: () => unknown): CordonError {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(CordonError);
    return err as CordonError;
  }
  throw new Error('expected a CordonError');
}

describe('browse.page input', () => {
  it.each(['file:///etc/passwd', 'data:text/html,x', 'chrome://version', 'javascript:alert(1)', 'about:blank', 'blob:http://a.test/x', 'view-source:http://a.test/', 'site.test/page'])('refuses %s', (url) => {
    const err = refused(() => pageTool.limits({ url }, profile));
    expect(err.code).toBe('INPUT_INVALID');
    expect(err.details.field).toBe('/url');
  });

  it('needs exactly one target per action, except press (the focused element)', () => {
    const url = 'http://a.test/';
    expect(refused(() => pageTool.limits({ url, actions: [{ type: 'click', selector: 'a', ref: 'e1' }] }, profile)).details.field).toBe('/actions/0');
    expect(refused(() => pageTool.limits({ url, actions: [{ type: 'press', key: 'Tab' }, { type: 'fill', value: 'x' }] }, profile)).details.field).toBe('/actions/1');
    expect(pageTool.limits({ url, actions: [{ type: 'press', key: 'Enter' }] }, profile).timeoutMs).toBe(profile.limits.timeoutMs);
  });

  it("holds a call's timeout to the profile's maximum", () => {
    const err = refused(() => pageTool.limits({ url: 'https://a.test/', timeoutMs: profile.limits.maxTimeoutMs + 1 }, profile));
    expect(err.details.field).toBe('/timeoutMs');
    expect(pageTool.limits({ url: 'https://a.test/', timeoutMs: 1234 }, profile).timeoutMs).toBe(1234);
  });

  it('is read-only only without actions', () => {
    expect(pageTool.annotationsFor?.({ url: 'https://a.test/' }).readOnlyHint).toBe(true);
    expect(pageTool.annotationsFor?.({ url: 'https://a.test/', actions: [{ type: 'click', selector: 'button' }] }).readOnlyHint).toBe(false);
  });
});

describe('browse.page resource', () => {
  it('is the URL in the egress layer canonical form, with the attributes net.fetch has', () => {
    expect(pageTool.resource({ url: 'HTTP://Site.TEST.:80/a/./b/../c?q=1#frag' }, { egressTrusted: false })).toEqual({
      type: 'url',
      id: 'http://site.test/a/c?q=1',
      attributes: { method: 'GET', trusted: false, scheme: 'http', host: 'site.test', port: 80, path: '/a/c' },
    });
    expect(pageTool.resource({ url: 'https://[::ffff:7f00:1]:8443/' }, { egressTrusted: true }).attributes).toMatchObject({ host: '127.0.0.1', port: 8443, scheme: 'https', trusted: true });
  });

  it('refuses a URL the egress layer would refuse to parse (userinfo)', () => {
    expect(refused(() => pageTool.resource({ url: 'http://good.test@evil.test/' }, { egressTrusted: false })).details.field).toBe('/url');
  });
});

describe('browse.page without a way out', () => {
  const context = (egress: Sandbox['egress'], browser: ToolContext['browser']): ToolContext =>
    ({
      sandbox: { identity: { id: 'sbx', profile: 'js' }, egress } as unknown as Sandbox,
      session: {} as ToolContext['session'],
      limits: { timeoutMs: 1000, memoryMb: 64, outputBytes: 1024, resultBytes: 1024 },
      browser,
    }) as ToolContext;
  const input: PageInput = { url: 'https://a.test/' };

  it('answers SANDBOX_UNAVAILABLE where no browser is set up', async () => {
    await expect(pageTool.run(input, context({} as Sandbox['egress'], null))).rejects.toMatchObject({ code: 'SANDBOX_UNAVAILABLE' });
  });

  it('answers EGRESS_DENIED, naming a profile to use, in a sandbox with no network', async () => {
    const browser = { contextFor: () => Promise.reject(new Error('must not be asked')), stats: () => ({}), close: async () => {} };
    const err = await pageTool.run(input, context(null, browser)).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'EGRESS_DENIED', details: { reason: 'no_egress_policy' } });
    expect((err as Error).message).toContain('"browser"');
  });
});
