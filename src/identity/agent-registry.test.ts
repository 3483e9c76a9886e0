import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { generateAgentKeyPair } from './agent-keys.ts';
import { loadAgentRegistry } from './agent-registry.ts';
import { loadUserDirectory } from './user-directory.ts';

const dirs: string[] = [];
const dataDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'cordon-reg-'));
  dirs.push(d);
  mkdirSync(join(d, 'agents'), { recursive: true });
  mkdirSync(join(d, 'users'), { recursive: true });
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const load = (d: string) => loadAgentRegistry({ agents: [], dataDir: d, createMissingKeys: false, requireKeys: false });

describe('agent registrations in the data directory', () => {
  it('loads a registration with its key and groups', () => {
    const d = dataDir();
    generateAgentKeyPair(d, 'bot');
    writeFileSync(join(d, 'agents', 'bot.json'), JSON.stringify({ id: 'bot', groups: ['coding'] }));
    expect(load(d).get('bot')).toMatchObject({ id: 'bot', groups: ['coding'], source: 'data-dir', fingerprint: expect.stringMatching(/^SHA256:/) });
  });

  it.each([
    ['malformed JSON', 'bot.json', '{"id":'],
    ['an id that is not the file name', 'bot.json', '{"id":"other","groups":[]}'],
    ['an id with a path', 'bot.json', '{"id":"../bot","groups":[]}'],
    ['groups that are not strings', 'bot.json', '{"id":"bot","groups":[1]}'],
    ['a group with a quote', 'bot.json', '{"id":"bot","groups":["a\\"b"]}'],
    ['a JSON array', 'bot.json', '[]'],
    ['null', 'bot.json', 'null'],
  ])('refuses %s with CONFIG_INVALID naming the file', (_name, file, text) => {
    const d = dataDir();
    writeFileSync(join(d, 'agents', file), text);
    expect(() => load(d)).toThrowError(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining(file) }));
  });

  it('refuses a corrupt public key file', () => {
    const d = dataDir();
    writeFileSync(join(d, 'agents', 'bot.json'), JSON.stringify({ id: 'bot', groups: [] }));
    writeFileSync(join(d, 'agents', 'bot.pub'), 'not a key');
    expect(() => load(d)).toThrowError(expect.objectContaining({ code: 'KEY_INVALID' }));
  });

  it('never lets a registration override a config agent', () => {
    const d = dataDir();
    writeFileSync(join(d, 'agents', 'local.json'), JSON.stringify({ id: 'local', groups: ['admins'] }));
    const r = loadAgentRegistry({ agents: [{ id: 'local', createKey: true }], dataDir: d, createMissingKeys: true, requireKeys: true });
    expect(r.get('local')).toMatchObject({ source: 'config', groups: [] });
  });
});

describe('user registrations', () => {
  it.each([
    ['malformed JSON', '{'],
    ['an id that is not the file name', '{"id":"bob","groups":[]}'],
    ['groups that are not a list', '{"id":"alice","groups":"x"}'],
    ['a group with a newline', '{"id":"alice","groups":["a\\nb"]}'],
  ])('refuses %s', (_name, text) => {
    const d = dataDir();
    writeFileSync(join(d, 'users', 'alice.json'), text);
    expect(() => loadUserDirectory([], d)).toThrowError(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });

  it('knows a user only from a token as one with no groups', () => {
    expect(loadUserDirectory([], dataDir()).get({ issuer: 'https://idp.test/', subject: 'stranger@example.test' })).toMatchObject({ groups: [], source: 'token' });
  });

  it('looks a user up by issuer and subject: an entry of one issuer says nothing of the same sub at another', () => {
    const d = dataDir();
    writeFileSync(join(d, 'users', 'carol.json'), JSON.stringify({ id: 'carol', groups: ['engineering'] }));
    const dir = loadUserDirectory([{ id: 'alice', issuer: 'https://a.test/', groups: ['engineering'] }, { id: 'dave', groups: ['ops'] }], d);
    expect(dir.get({ issuer: 'https://a.test/', subject: 'alice' })).toMatchObject({ groups: ['engineering'], source: 'config', key: 'https://a.test/#alice' });
    expect(dir.get({ issuer: 'https://b.test/', subject: 'alice' })).toMatchObject({ groups: [], source: 'token' });
    // Registrations (`cordon users add`) and config entries without an issuer are local users.
    expect(dir.get({ issuer: 'cordon-local-users', subject: 'carol' })).toMatchObject({ groups: ['engineering'], source: 'data-dir' });
    expect(dir.get({ issuer: 'https://a.test/', subject: 'carol' })).toMatchObject({ groups: [], source: 'token' });
    expect(dir.get({ issuer: 'cordon-local-users', subject: 'dave' })).toMatchObject({ groups: ['ops'], source: 'config' });
    expect(dir.get({ issuer: 'https://a.test/', subject: 'dave' }).source).toBe('token');
  });
});
