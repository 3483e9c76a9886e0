import { randomBytes, sign } from 'node:crypto';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decisionSigningInput, type DecisionStatement, type SignedDecision } from '../../src/approvals/approval-types.ts';
import { OPERATOR_CSP } from '../../src/api/operator/index.ts';
import { signOperatorToken } from '../../src/identity/operator-token.ts';
import { startOperatorFixture, type OperatorFixture, type TestApprover } from '../support/operator-fixture.ts';

// The web side of the operator listener: password login, one-time links, the session cookie,
// CSRF, the headers on every answer, and what malformed or oversized input gets.
let fx: OperatorFixture;

beforeAll(async () => {
  // Many logins from one address in this suite; the limit itself has its own test below.
  fx = await startOperatorFixture(['ana', 'ben'], { loginAttemptsPerMinute: 1000 });
}, 30_000);
afterAll(async () => fx?.close());

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- API answers of several shapes, checked field by field
type Answer = { status: number; headers: Record<string, string | string[] | undefined>; text: string; json: any };

async function call(method: string, path: string, options: { headers?: Record<string, string>; body?: unknown; raw?: string } = {}): Promise<Answer> {
  const body = options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  const res = await request(`${fx.url}${path}`, {
    method: method as 'GET',
    headers: { ...(options.body === undefined ? {} : { 'content-type': 'application/json' }), ...options.headers },
    ...(body === undefined ? {} : { body }),
  });
  const text = await res.body.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    // HTML, JS and CSS answers.
  }
  return { status: res.statusCode, headers: res.headers, text, json };
}

async function login(approver: TestApprover): Promise<{ cookie: string; csrf: string; setCookie: string }> {
  const r = await call('POST', '/operator/v1/login', { body: { name: approver.name, password: approver.password } });
  expect(r.status).toBe(200);
  const setCookie = String(r.headers['set-cookie']);
  return { cookie: setCookie.split(';')[0]!, csrf: r.json.csrfToken as string, setCookie };
}

function signed(approver: TestApprover, approvalId: string, hash: string, decision: 'approve' | 'deny' = 'approve', name = approver.name): SignedDecision {
  const iat = Math.floor(Date.now() / 1000);
  const statement: DecisionStatement = { approvalId, invocationHash: hash, decision, approver: name, iat, exp: iat + 120, nonce: randomBytes(18).toString('base64url') };
  return { statement, signature: sign(null, decisionSigningInput(statement), approver.privateKey).toString('base64url') };
}

describe('password login', () => {
  it('sets a session cookie that is HttpOnly, SameSite=Strict, Path=/ and not Secure over plain http', async () => {
    const { setCookie } = await login(fx.approvers.ana!);
    expect(setCookie).toMatch(/^cordon_operator=[A-Za-z0-9_-]{43}; /);
    const flags = setCookie.split('; ').slice(1);
    expect(flags).toEqual(expect.arrayContaining(['HttpOnly', 'SameSite=Strict', 'Path=/']));
    expect(flags).not.toContain('Secure');
  });

  it('gives one answer for a wrong password, an unknown name and an empty-looking guess, and sets no cookie', async () => {
    const answers = [];
    for (const body of [
      { name: 'ana', password: 'wrong' },
      { name: 'nobody', password: fx.approvers.ana!.password },
      { name: 'ben', password: fx.approvers.ana!.password },
    ]) {
      const r = await call('POST', '/operator/v1/login', { body });
      expect(r.headers['set-cookie']).toBeUndefined();
      answers.push([r.status, r.json.error.code, r.json.error.message]);
    }
    expect(answers[0]).toEqual([401, 'OPERATOR_LOGIN_FAILED', expect.any(String)]);
    expect(answers[1]).toEqual(answers[0]);
    expect(answers[2]).toEqual(answers[0]);
  });

  it('refuses login bodies that are not {name, password} strings with a typed 400', async () => {
    for (const body of [[], { name: 'ana' }, { name: 'ana', password: 1 }, { name: 'ana', password: 'x', admin: true }, { name: 'x'.repeat(2000), password: 'x' }]) {
      const r = await call('POST', '/operator/v1/login', { body });
      expect([JSON.stringify(body).slice(0, 40), r.status, r.json.error.code]).toEqual([JSON.stringify(body).slice(0, 40), 400, 'INPUT_INVALID']);
    }
  });

  it('limits password attempts per name: once used up, even the right password gets 429 with Retry-After', async () => {
    const limited = await startOperatorFixture(['cy'], { loginAttemptsPerMinute: 3 });
    try {
      const cy = limited.approvers.cy!;
      const attempt = async (password: string) => {
        const res = await request(`${limited.url}/operator/v1/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'cy', password }) });
        await res.body.dump();
        return { status: res.statusCode, retryAfter: res.headers['retry-after'] };
      };
      for (let i = 0; i < 3; i++) expect((await attempt('guess')).status).toBe(401);
      const blocked = await attempt(cy.password);
      expect(blocked.status).toBe(429);
      expect(Number(blocked.retryAfter)).toBeGreaterThanOrEqual(1);
    } finally {
      await limited.close();
    }
  });

  it('limits password attempts per source too: one address trying many names is stopped', async () => {
    const limited = await startOperatorFixture(['cy'], { loginAttemptsPerMinute: 3 });
    try {
      const statuses = [];
      for (const name of ['n1', 'n2', 'n3', 'n4', 'cy']) {
        const password = name === 'cy' ? limited.approvers.cy!.password : 'guess';
        const res = await request(`${limited.url}/operator/v1/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name, password }) });
        await res.body.dump();
        statuses.push(res.statusCode);
      }
      expect(statuses).toEqual([401, 401, 401, 429, 429]);
    } finally {
      await limited.close();
    }
  });
});

describe('sessions and CSRF', () => {
  it('lets a logged-in page read approvals with its cookie alone', async () => {
    const view = fx.approvals.add({ input: { n: 1 } });
    const { cookie, csrf } = await login(fx.approvers.ana!);
    const list = await call('GET', '/operator/v1/approvals?status=pending', { headers: { cookie } });
    expect(list.status).toBe(200);
    expect(list.json.approvals.map((a: { id: string }) => a.id)).toContain(view.id);
    const me = await call('GET', '/operator/v1/session', { headers: { cookie } });
    expect(me.json).toMatchObject({ approver: 'ana', csrfToken: csrf });
  });

  it('refuses a decision posted with the cookie but without, or with a wrong, CSRF token (403), and from another origin', async () => {
    const view = fx.approvals.add({ input: { n: 2 } });
    const ana = fx.approvers.ana!;
    const { cookie, csrf } = await login(ana);
    const body = signed(ana, view.id, view.invocationHash);
    const path = `/operator/v1/approvals/${view.id}/decision`;
    const missing = await call('POST', path, { headers: { cookie }, body });
    const wrong = await call('POST', path, { headers: { cookie, 'x-cordon-csrf': csrf.slice(0, -1) + (csrf.endsWith('A') ? 'B' : 'A') }, body });
    const otherOrigin = await call('POST', path, { headers: { cookie, 'x-cordon-csrf': csrf, origin: 'http://evil.test' }, body });
    for (const r of [missing, wrong, otherOrigin]) expect([r.status, r.json.error.code]).toEqual([403, 'OPERATOR_CSRF_INVALID']);
    const logout = await call('POST', '/operator/v1/logout', { headers: { cookie } });
    expect(logout.status).toBe(403);
    expect(fx.approvals.received.filter((d) => d.statement.approvalId === view.id)).toEqual([]);
    const ok = await call('POST', path, { headers: { cookie, 'x-cordon-csrf': csrf }, body });
    expect([ok.status, ok.json.status]).toEqual([200, 'approved']);
    expect(fx.approvals.received.filter((d) => d.statement.approvalId === view.id)).toEqual([body]);
  });

  it("refuses a decision signed for another approver than the one logged in, even with ben's valid signature", async () => {
    const view = fx.approvals.add({ input: { n: 3 } });
    const { cookie, csrf } = await login(fx.approvers.ana!);
    const r = await call('POST', `/operator/v1/approvals/${view.id}/decision`, { headers: { cookie, 'x-cordon-csrf': csrf }, body: signed(fx.approvers.ben!, view.id, view.invocationHash) });
    expect([r.status, r.json.error.code]).toEqual([403, 'OPERATOR_FORBIDDEN']);
    expect(fx.approvals.received.filter((d) => d.statement.approvalId === view.id)).toEqual([]);
  });

  it('ends the session on logout: the cookie no longer works', async () => {
    const { cookie, csrf } = await login(fx.approvers.ben!);
    const out = await call('POST', '/operator/v1/logout', { headers: { cookie, 'x-cordon-csrf': csrf } });
    expect(out.status).toBe(204);
    expect(String(out.headers['set-cookie'])).toContain('Max-Age=0');
    const after = await call('GET', '/operator/v1/approvals', { headers: { cookie } });
    expect([after.status, after.json.error.code]).toEqual([401, 'AUTH_INVALID_TOKEN']);
  });

  it('refuses a made-up session cookie', async () => {
    const r = await call('GET', '/operator/v1/approvals', { headers: { cookie: `cordon_operator=${randomBytes(32).toString('base64url')}` } });
    expect(r.status).toBe(401);
  });
});

describe('one-time login links', () => {
  it('makes a link for the CLI operator that logs in once, then never again', async () => {
    const token = await signOperatorToken({ approver: 'ben', privateKey: fx.approvers.ben!.privateKey });
    const made = await call('POST', '/operator/v1/login-links', { headers: { authorization: `Bearer ${token}` } });
    expect(made.status).toBe(201);
    const url = new URL(made.json.url as string);
    expect(url.origin).toBe(fx.url);
    expect(url.pathname).toBe('/operator/');
    const secret = /^#login=([A-Za-z0-9_-]{43})$/.exec(url.hash)?.[1];
    expect(secret).toBeDefined();
    const first = await call('POST', '/operator/v1/login-link/redeem', { body: { token: secret } });
    expect([first.status, first.json.approver]).toEqual([200, 'ben']);
    expect(String(first.headers['set-cookie'])).toContain('HttpOnly; SameSite=Strict; Path=/');
    const second = await call('POST', '/operator/v1/login-link/redeem', { body: { token: secret } });
    expect([second.status, second.json.error.code]).toEqual([401, 'OPERATOR_LOGIN_FAILED']);
    expect(second.headers['set-cookie']).toBeUndefined();
  });

  it('will not make a link for a web session (a stolen cookie cannot mint more sessions)', async () => {
    const { cookie, csrf } = await login(fx.approvers.ana!);
    const r = await call('POST', '/operator/v1/login-links', { headers: { cookie, 'x-cordon-csrf': csrf } });
    expect(r.status).toBe(401);
  });

  it('refuses unknown and malformed link tokens alike', async () => {
    for (const token of [randomBytes(32).toString('base64url'), 'short', '../../x'.padEnd(43, 'a')]) {
      const r = await call('POST', '/operator/v1/login-link/redeem', { body: { token } });
      expect([r.status, r.json.error.code]).toEqual([401, 'OPERATOR_LOGIN_FAILED']);
    }
  });
});

describe('headers and hostile requests', () => {
  const expectSecurityHeaders = (r: Answer, what: string) => {
    expect([what, r.headers['content-security-policy']]).toEqual([what, OPERATOR_CSP]);
    expect([what, r.headers['x-frame-options'], r.headers['referrer-policy'], r.headers['cache-control'], r.headers['x-content-type-options']]).toEqual([what, 'DENY', 'no-referrer', 'no-store', 'nosniff']);
  };

  it('sends the CSP and security headers on pages, scripts, JSON, errors, 404s and 405s', async () => {
    const { cookie } = await login(fx.approvers.ana!);
    const answers: Record<string, Answer> = {
      page: await call('GET', '/operator/'),
      script: await call('GET', '/operator/static/approvals.js'),
      style: await call('GET', '/operator/static/approvals.css'),
      list: await call('GET', '/operator/v1/approvals', { headers: { cookie } }),
      unauthenticated: await call('GET', '/operator/v1/approvals'),
      'not found': await call('GET', '/nowhere'),
      'static not found': await call('GET', '/operator/static/..%2f..%2fpackage.json'),
      'method not allowed': await call('DELETE', '/operator/v1/approvals'),
      malformed: await call('POST', '/operator/v1/login', { headers: { 'content-type': 'application/json' }, raw: '{"name":' }),
      'bad host': await call('GET', '/operator/', { headers: { host: 'evil.test' } }),
      'path segment too long': await call('GET', `/operator/v1/approvals/${'x'.repeat(5000)}`, { headers: { cookie } }),
      'bad percent-encoding': await call('GET', '/operator/v1/approvals/%E0%A4%A', { headers: { cookie } }),
    };
    for (const [what, r] of Object.entries(answers)) expectSecurityHeaders(r, what);
    expect(answers.page!.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(answers.script!.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect([answers['not found']!.status, answers['static not found']!.status, answers['method not allowed']!.status]).toEqual([404, 404, 405]);
    expect(answers['method not allowed']!.headers.allow).toBe('GET, HEAD');
    for (const what of ['path segment too long', 'bad percent-encoding']) expect([what, answers[what]!.status, answers[what]!.json.error.code]).toEqual([what, 400, 'REQUEST_MALFORMED']);
  });

  it('serves a page with no inline script or style', async () => {
    const page = await call('GET', '/operator/');
    expect(page.text).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/i);
    expect(page.text).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i);
    expect(page.text).toContain('<script type="module" src="/operator/static/approvals.js"></script>');
  });

  it('refuses a Host that is not this listener (DNS rebinding) before any route runs', async () => {
    const r = await call('POST', '/operator/v1/login', { headers: { host: `evil.test:${new URL(fx.url).port}` }, body: { name: 'ana', password: fx.approvers.ana!.password } });
    expect([r.status, r.json.error.code]).toEqual([400, 'REQUEST_MALFORMED']);
    expect(r.headers['set-cookie']).toBeUndefined();
  });

  it('answers oversized, malformed, poisoned and wrongly typed bodies with typed 4xx, and decides nothing', async () => {
    const view = fx.approvals.add({ input: { n: 4 } });
    const ana = fx.approvers.ana!;
    const { cookie, csrf } = await login(ana);
    const path = `/operator/v1/approvals/${view.id}/decision`;
    const headers = { cookie, 'x-cordon-csrf': csrf, 'content-type': 'application/json' };
    const good = signed(ana, view.id, view.invocationHash);
    const cases: [string, { headers: Record<string, string>; raw: string }, number, string][] = [
      ['oversized', { headers, raw: JSON.stringify({ ...good, pad: 'x'.repeat(64 * 1024) }) }, 413, 'REQUEST_TOO_LARGE'],
      ['not JSON', { headers, raw: '{"statement":' }, 400, 'REQUEST_MALFORMED'],
      ['text/plain', { headers: { ...headers, 'content-type': 'text/plain' }, raw: JSON.stringify(good) }, 415, 'UNSUPPORTED_MEDIA_TYPE'],
      ['__proto__ key', { headers, raw: `{"__proto__":{"x":1},"statement":${JSON.stringify(good.statement)},"signature":"${good.signature}"}` }, 400, 'REQUEST_MALFORMED'],
      ['an array', { headers, raw: '[]' }, 400, 'INPUT_INVALID'],
      ['an extra field', { headers, raw: JSON.stringify({ ...good, note: 'hi' }) }, 400, 'INPUT_INVALID'],
      ['an extra statement field', { headers, raw: JSON.stringify({ ...good, statement: { ...good.statement, scope: 'all' } }) }, 400, 'INPUT_INVALID'],
      ['a short signature', { headers, raw: JSON.stringify({ ...good, signature: 'abc' }) }, 400, 'INPUT_INVALID'],
      ['an upper-case hash', { headers, raw: JSON.stringify({ ...good, statement: { ...good.statement, invocationHash: good.statement.invocationHash.toUpperCase() } }) }, 400, 'INPUT_INVALID'],
      ['a fractional iat', { headers, raw: JSON.stringify({ ...good, statement: { ...good.statement, iat: 1.5 } }) }, 400, 'INPUT_INVALID'],
      ['verdict "maybe"', { headers, raw: JSON.stringify({ ...good, statement: { ...good.statement, decision: 'maybe' } }) }, 400, 'INPUT_INVALID'],
      ['another approval id', { headers, raw: JSON.stringify({ ...good, statement: { ...good.statement, approvalId: 'apr_other' } }) }, 400, 'INPUT_INVALID'],
    ];
    for (const [what, options, status, code] of cases) {
      const r = await call('POST', path, options);
      expect([what, r.status, r.json?.error?.code]).toEqual([what, status, code]);
    }
    const bad = await call('GET', '/operator/v1/approvals?status=everything', { headers: { cookie } });
    expect([bad.status, bad.json.error.code]).toEqual([400, 'INPUT_INVALID']);
    const unknown = await call('GET', '/operator/v1/approvals/apr_nope', { headers: { cookie } });
    expect([unknown.status, unknown.json.error.code]).toEqual([404, 'APPROVAL_NOT_FOUND']);
    expect(fx.approvals.received.filter((d) => d.statement.approvalId === view.id)).toEqual([]);
  });

  it('returns hostile input exactly, as application/json (never a type a browser would render)', async () => {
    const hostile = { content: '</script><img src=x onerror=alert(1)>', '<b>key</b>': '\u2028\u0000' };
    const view = fx.approvals.add({ input: hostile });
    const { cookie } = await login(fx.approvers.ana!);
    const r = await call('GET', `/operator/v1/approvals/${view.id}`, { headers: { cookie } });
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    expect(r.json.invocation.input).toEqual(hostile);
  });
});
