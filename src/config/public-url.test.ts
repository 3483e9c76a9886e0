import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CordonError } from '../core/errors.ts';
import { loadConfig } from './load-config.ts';

// server.publicUrl: the base URL the MCP metadata names (docs/mcp.md). It is config, never a header.
const dir = mkdtempSync(join(tmpdir(), 'cordon-public-url-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function load(publicUrl: unknown) {
  const path = join(dir, 'cordon.yaml');
  writeFileSync(path, `server:\n  publicUrl: ${JSON.stringify(publicUrl)}\n`);
  return loadConfig({ flags: { configPath: path }, env: {}, cwd: dir });
}

describe('server.publicUrl', () => {
  it('is absent by default, and takes an http(s) origin with an optional path', () => {
    expect(loadConfig({ cwd: dir, env: {} }).server.publicUrl).toBeUndefined();
    expect(load('https://cordon.example.test').server.publicUrl).toBe('https://cordon.example.test');
    expect(load('http://localhost:7070/cordon/').server.publicUrl).toBe('http://localhost:7070/cordon/');
  });

  it.each([
    ['another scheme', 'ftp://cordon.example.test'],
    ['no scheme', 'cordon.example.test'],
    ['a query', 'https://cordon.example.test/?a=1'],
    ['a fragment', 'https://cordon.example.test/#x'],
    ['userinfo', 'https://user:pw@cordon.example.test'],
    ['whitespace', 'https://cordon.example.test/ x'],
    ['a header injection', 'https://cordon.example.test/\r\nx-evil: 1'],
    ['a quote (it is quoted in WWW-Authenticate)', 'https://cordon.example.test/"x'],
    ['a backslash', 'https://cordon.example.test/\\x'],
    ['too long', `https://cordon.example.test/${'a'.repeat(3000)}`],
    ['not a string', 42],
  ])('refuses %s with CONFIG_INVALID naming the field', (_label, value) => {
    let error: unknown;
    try {
      load(value);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(CordonError);
    expect((error as CordonError).code).toBe('CONFIG_INVALID');
    expect((error as CordonError).message).toContain('publicUrl');
  });
});
