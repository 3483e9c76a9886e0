import { describe, expect, it } from 'vitest';
import { CordonError } from '../../core/errors.ts';
import { checkHeadersMatchBody, readMcpHeaders } from './mcp-headers.ts';

function refused(fn: () => unknown): CordonError {
  try {
    fn();
  } catch (err) {
    if (err instanceof CordonError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('readMcpHeaders', () => {
  it('reads both headers, trimmed; absent ones stay undefined', () => {
    expect(readMcpHeaders({ 'mcp-method': ' tools/call ', 'mcp-name': 'code' })).toEqual({ method: 'tools/call', name: 'code' });
    expect(readMcpHeaders({})).toEqual({ method: undefined, name: undefined });
  });

  it('decodes a base64 sentinel name (a name that is not plain ASCII)', () => {
    expect(readMcpHeaders({ 'mcp-name': `=?base64?${Buffer.from('outil-é').toString('base64')}?=` }).name).toBe('outil-é');
    expect(readMcpHeaders({ 'mcp-name': '=?BASE64?Y29kZQ==?=' }).name).toBe('code');
  });

  it('refuses a sentinel that is not canonical base64, and a header sent twice', () => {
    expect(refused(() => readMcpHeaders({ 'mcp-name': '=?base64?QR?=' }))).toMatchObject({ code: 'REQUEST_MALFORMED', details: { header: 'Mcp-Name' } });
    expect(refused(() => readMcpHeaders({ 'mcp-method': ['tools/call', 'tools/list'] }))).toMatchObject({ code: 'REQUEST_MALFORMED', details: { header: 'Mcp-Method' } });
  });

  it('takes anything else literally: it is compared, never interpreted', () => {
    expect(readMcpHeaders({ 'mcp-name': '=?base64?not base64?=' }).name).toBe('=?base64?not base64?=');
    expect(readMcpHeaders({ 'mcp-name': 'x'.repeat(10_000) }).name).toHaveLength(10_000);
  });
});

describe('checkHeadersMatchBody', () => {
  const call = (name: unknown) => ({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name } });

  it('passes when the headers agree with the body, or are absent', () => {
    expect(() => checkHeadersMatchBody({ method: 'tools/call', name: 'code' }, call('code'))).not.toThrow();
    expect(() => checkHeadersMatchBody({ method: undefined, name: undefined }, call('code'))).not.toThrow();
    expect(() => checkHeadersMatchBody({ method: 'tools/list', name: 'ignored' }, { jsonrpc: '2.0', id: 1, method: 'tools/list' })).not.toThrow();
  });

  it('refuses a method or a tool name the body does not carry, with bounded messages', () => {
    expect(refused(() => checkHeadersMatchBody({ method: 'tools/list', name: undefined }, call('code')))).toMatchObject({ code: 'REQUEST_MALFORMED', details: { header: 'Mcp-Method' } });
    expect(refused(() => checkHeadersMatchBody({ method: 'tools/call', name: 'code' }, call('browse.fetch')))).toMatchObject({ details: { header: 'Mcp-Name' } });
    expect(refused(() => checkHeadersMatchBody({ method: 'tools/call', name: 'code' }, call(42)))).toMatchObject({ details: { header: 'Mcp-Name' } });
    expect(refused(() => checkHeadersMatchBody({ method: 'x'.repeat(5000), name: undefined }, call('code'))).message.length).toBeLessThan(300);
  });

  it('refuses hostile bodies cleanly (not an object, no method, null)', () => {
    for (const body of [null, 'tools/call', 42, {}, { method: { toString: 'x' } }]) {
      expect(refused(() => checkHeadersMatchBody({ method: 'tools/call', name: undefined }, body)).code).toBe('REQUEST_MALFORMED');
    }
  });
});
