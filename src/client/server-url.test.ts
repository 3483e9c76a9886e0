import { describe, expect, it } from 'vitest';
import { parseServerUrl } from './server-url.ts';

describe('server URL', () => {
  it.each([
    'http://127.0.0.1:7070',
    'http://localhost:7070/',
    'http://[::1]:7070',
    'https://cordon.example.test',
    'https://cordon.example.test/prefix/',
  ])('accepts %s', (raw) => {
    expect(parseServerUrl(raw, false)).toBeInstanceOf(URL);
  });

  it.each([
    ['plain http off the machine', 'http://cordon.example.test:7070'],
    ['a look-alike of localhost', 'http://localhost.example.test'],
    ['credentials in the URL', 'https://user:pw@cordon.example.test'],
    ['a query', 'https://cordon.example.test/?x=1'],
    ['another scheme', 'ftp://cordon.example.test'],
    ['not a URL', 'cordon'],
    ['empty', ''],
  ])('refuses %s', (_name, raw) => {
    expect(() => parseServerUrl(raw, false)).toThrow(expect.objectContaining({ code: 'CLIENT_OPTIONS_INVALID' }));
  });

  it('takes plain http off the machine only when asked to', () => {
    expect(parseServerUrl('http://cordon.example.test:7070', true).host).toBe('cordon.example.test:7070');
  });
});
