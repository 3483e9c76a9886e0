import { describe, expect, it } from 'vitest';
import { CordonError } from '../../core/errors.ts';
import { checkProfileReferences, findReferenceProblems } from './check-profile-references.ts';
import { parseSandboxProfile } from './parse-sandbox-profile.ts';

const source = (tools: string, egressPolicy: string): string =>
  [
    'name: web',
    'backend: isolate',
    'description: JavaScript with the network.',
    'languages: [javascript]',
    `tools: ${tools}`,
    '# the policy',
    `egressPolicy: ${egressPolicy}`,
    'limits: {memoryMb: 64, maxMemoryMb: 64, timeoutMs: 1000, maxTimeoutMs: 1000, outputBytes: 1024, resultBytes: 1024}',
    'session: {idleTtlMs: 60000, maxTtlMs: 60000, maxPerPrincipal: 1}',
  ].join('\n');
const FILE = '/profiles/web.yaml';
const REFS = { tools: new Set(['code', 'fetch']), egressPolicies: new Set(['github']) };

describe('checkProfileReferences', () => {
  it('passes when every tool and the egress policy exist, or there is no policy', () => {
    const withPolicy = parseSandboxProfile(source('[code, fetch]', 'github'), FILE);
    const offline = parseSandboxProfile(source('[code]', 'null'), FILE);
    expect(() => checkProfileReferences([withPolicy, offline], REFS)).not.toThrow();
    expect(() => checkProfileReferences(new Map([['web', offline]]), { tools: new Set(['code']), egressPolicies: new Set() })).not.toThrow();
  });

  it.each([
    ['an unknown tool', source('[code, shell]', 'github'), 5, 'tools[1]', '"shell" is not a registered tool; known tools: code, fetch'],
    ['an unknown tool on its own line', source('\n  - code\n  - kode', 'github'), 7, 'tools[1]', '"kode" is not a registered tool; known tools: code, fetch'],
    ['an unknown egress policy', source('[code]', 'gitlab'), 7, 'egressPolicy', '"gitlab" is not a loaded egress policy; name one of github, or null for no network'],
  ])('names file, line and field for %s', (_name, text, line, field, reason) => {
    const profile = parseSandboxProfile(text, FILE);
    let err: unknown;
    try {
      checkProfileReferences(new Map([['web', profile]]), REFS);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CordonError);
    expect(err).toMatchObject({ code: 'CONFIG_INVALID', message: `${FILE}:${line}: ${field}: ${reason}`, details: { file: FILE, line, field } });
  });

  describe('a container profile’s image', () => {
    const container = (image: string): string =>
      [
        /* 1 */ 'name: web',
        /* 2 */ 'backend: container',
        /* 3 */ 'description: Python with no network.',
        /* 4 */ 'languages: [python]',
        /* 5 */ 'tools: [code]',
        /* 6 */ 'egressPolicy: null',
        /* 7 */ 'runtime: runc',
        /* 8 */ 'user: 1000',
        /* 9 */ 'env: {}',
        /* 10 */ 'warmPool: 0',
        /* 11 */ '# the image',
        /* 12 */ `image: ${image}`,
        /* 13 */ 'limits: {memoryMb: 64, maxMemoryMb: 64, timeoutMs: 1000, maxTimeoutMs: 1000, outputBytes: 1024, resultBytes: 1024, cpus: 1, pids: 64, workspaceMb: 16, tmpMb: 16}',
        /* 14 */ 'session: {idleTtlMs: 60000, maxTtlMs: 60000, maxPerPrincipal: 1}',
      ].join('\n');
    const WITH_RECIPES = { ...REFS, imageRecipes: new Set(['shell', 'python']) };

    it('passes when the image names a recipe', () => {
      expect(() => checkProfileReferences([parseSandboxProfile(container('python'), FILE)], WITH_RECIPES)).not.toThrow();
    });

    it('names file, line and field for an image that is no recipe, listing the recipes', () => {
      const profile = parseSandboxProfile(container('ruby'), FILE);
      let err: unknown;
      try {
        checkProfileReferences([profile], WITH_RECIPES);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(CordonError);
      expect(err).toMatchObject({
        code: 'CONFIG_INVALID',
        message: `${FILE}:12: image: "ruby" is not an image recipe (sandboxes/images/<name>.yaml); known recipes: python, shell`,
        details: { file: FILE, line: 12, field: 'image' },
      });
      expect(findReferenceProblems([profile], { ...REFS, imageRecipes: new Set() }).map((p) => p.reason)).toEqual(['"ruby" is not an image recipe (sandboxes/images/<name>.yaml); known recipes: (none)']);
    });

    it('is not checked without the recipes, and an isolate profile has no image to check', () => {
      expect(findReferenceProblems([parseSandboxProfile(container('ruby'), FILE)], REFS)).toEqual([]);
      expect(findReferenceProblems([parseSandboxProfile(source('[code]', 'null'), FILE)], { ...REFS, imageRecipes: new Set() })).toEqual([]);
    });
  });

  it('finds every unknown name', () => {
    const profile = parseSandboxProfile(source('[a, code, b]', 'gitlab'), FILE);
    expect(findReferenceProblems([profile], REFS).map((p) => p.field)).toEqual(['tools[0]', 'tools[2]', 'egressPolicy']);
  });
});
