import { createHash } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decisionSigningInput, type DecisionStatement } from '../../src/approvals/approval-types.ts';
import { canonicalJson } from '../../src/audit/canonical-json.ts';

// The approvals page hashes and signs with its own canonicalizer (browser JS). A byte of
// difference from the server's would make every page-signed decision fail, or worse, let the
// page show one thing and sign another: the two must agree on the values that trip canonicalizers.
interface PageCanonical {
  canonicalJson(value: unknown): string;
  canonicalHash(value: unknown): Promise<string>;
  decisionSigningInput(statement: unknown): Uint8Array;
}
const PAGE_MODULE = pathToFileURL(resolve(import.meta.dirname, '..', '..', 'src', 'api', 'operator', 'static', 'canonical-json.js')).href;
const page = (await import(PAGE_MODULE)) as PageCanonical;

const TRICKY: Record<string, unknown> = {
  'large and small numbers': [1e21, 1e-7, 123456789012345680000, 0.1 + 0.2, -0, 5e-324, 1.7976931348623157e308, 100, 1e20, 333333333.3333333],
  'unicode and escapes': ['\u20ac', '\ud83d\ude00', '\u2028\u2029', '\u0000\u001f\u007f', 'quote " backslash \\ slash /', '\t\n\r\b\f', '\ud800 lone', 'é vs e\u0301'],
  'nested key order': { b: { z: 1, a: [{ y: 2, x: 1 }] }, a: null, A: true, '': 0, aa: 1, '\u20ac': 1, '\r': 2, '\ud83d\ude00': 3, '\ufb33': 4, '1': 5, '10': 6, '2': 7 },
  'undefined members': { kept: 1, dropped: undefined, list: [undefined, 1] },
  'empty things': [{}, [], '', false],
  'a real invocation': { invocation: 'inv_1', tool: 'fs.write', input: { path: '/workspace/a.txt', content: '</script><img src=x onerror=alert(1)>' }, agent: 'builder', user: { issuer: 'https://idp.test', subject: 'alice' }, sandbox: null, profile: 'default', session: null, policyVersion: 'pv' },
};

describe("the page's canonical JSON matches the server's (RFC 8785)", () => {
  it.each(Object.entries(TRICKY))('gives the same bytes and hash for %s', async (_, value) => {
    expect(page.canonicalJson(value)).toBe(canonicalJson(value));
    expect(await page.canonicalHash(value)).toBe(createHash('sha256').update(canonicalJson(value)).digest('hex'));
  });

  it('spells numbers as RFC 8785 does (its appendix examples)', () => {
    expect(page.canonicalJson([1e21, 1e-7, 1e20, -0, 4.5, 2e-3])).toBe('[1e+21,1e-7,100000000000000000000,0,4.5,0.002]');
  });

  it('refuses NaN and Infinity, as the server does', () => {
    expect(() => page.canonicalJson({ x: NaN })).toThrow(TypeError);
    expect(() => page.canonicalJson([Infinity])).toThrow(TypeError);
  });

  it('builds the same signing input as the contract', () => {
    const statement: DecisionStatement = { approvalId: 'apr_1', invocationHash: 'a'.repeat(64), decision: 'deny', approver: 'ana', iat: 1, exp: 2, nonce: 'n'.repeat(24) };
    expect(Buffer.from(page.decisionSigningInput(statement))).toEqual(decisionSigningInput(statement));
  });
});
