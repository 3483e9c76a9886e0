import { describe, expect, it } from 'vitest';
import { CordonError } from '../../core/errors.ts';
import { compileSandboxProfile, parseSandboxProfile, profileFieldLine } from './parse-sandbox-profile.ts';

const FILE = '/profiles/js.yaml';
// Line numbers in the cases below refer to these lines.
const BASE = [
  /* 1 */ 'name: js',
  /* 2 */ 'backend: isolate',
  /* 3 */ 'description: JavaScript in a V8 isolate.',
  /* 4 */ 'languages: [javascript]',
  /* 5 */ 'tools: [code]',
  /* 6 */ 'egressPolicy: null',
  /* 7 */ 'limits:',
  /* 8 */ '  memoryMb: 64',
  /* 9 */ '  maxMemoryMb: 512',
  /* 10 */ '  timeoutMs: 5000',
  /* 11 */ '  maxTimeoutMs: 60000',
  /* 12 */ '  outputBytes: 65536',
  /* 13 */ '  resultBytes: 1048576',
  /* 14 */ 'session:',
  /* 15 */ '  idleTtlMs: 600000',
  /* 16 */ '  maxTtlMs: 3600000',
  /* 17 */ '  maxPerPrincipal: 50',
];
const text = (lines: readonly string[]): string => lines.join('\n') + '\n';
/** BASE with line n (1-based) replaced; null removes it. */
const set = (n: number, line: string | null): string => text(BASE.flatMap((l, i) => (i === n - 1 ? (line === null ? [] : [line]) : [l])));
const append = (...lines: string[]): string => text([...BASE, ...lines]);

function refusal(source: string, file = FILE): CordonError {
  try {
    parseSandboxProfile(source, file);
  } catch (err) {
    expect(err).toBeInstanceOf(CordonError);
    return err as CordonError;
  }
  throw new Error('expected the profile to be refused');
}

describe('parseSandboxProfile', () => {
  it('reads a valid profile into a deep-frozen model', () => {
    const profile = parseSandboxProfile(text(BASE), FILE);
    expect(profile).toEqual({
      name: 'js',
      file: FILE,
      backend: 'isolate',
      description: 'JavaScript in a V8 isolate.',
      languages: ['javascript'],
      tools: ['code'],
      egressPolicy: null,
      sensitivePaths: [],
      limits: { memoryMb: 64, maxMemoryMb: 512, timeoutMs: 5000, maxTimeoutMs: 60000, outputBytes: 65536, resultBytes: 1048576 },
      session: { idleTtlMs: 600000, maxTtlMs: 3600000, maxPerPrincipal: 50 },
      container: null,
    });
    for (const part of [profile, profile.languages, profile.tools, profile.limits, profile.session]) expect(Object.isFrozen(part)).toBe(true);
    expect(profileFieldLine(profile, 'tools[0]')).toBe(5);
    expect(profileFieldLine(profile, 'egressPolicy')).toBe(6);
  });

  it.each([
    ['a policy name', 'egressPolicy: github', 'github'],
    ['~', 'egressPolicy: ~', null],
    ['an empty value', 'egressPolicy:', null],
  ])('reads egressPolicy as %s', (_name, line, expected) => {
    expect(parseSandboxProfile(set(6, line), FILE).egressPolicy).toBe(expected);
  });

  it('accepts a .yml file, max equal to default, and the range edges', () => {
    const source = text(BASE).replace('maxMemoryMb: 512', 'maxMemoryMb: 64').replace('timeoutMs: 5000', 'timeoutMs: 1').replace('maxPerPrincipal: 50', 'maxPerPrincipal: 10000');
    const profile = parseSandboxProfile(source, '/profiles/js.yml');
    expect(profile.limits).toMatchObject({ memoryMb: 64, maxMemoryMb: 64, timeoutMs: 1 });
  });

  // Each case: the source, then the line and field the error must name, and a bit of the reason.
  it.each<[string, string, number, string, RegExp]>([
    // name
    ['name differs from the file name', set(1, 'name: python'), 1, 'name', /must match the file name; rename the file to python\.yaml or set name: js/],
    ['name with a path in it', set(1, 'name: ../js'), 1, 'name', /lower case letters/],
    ['name upper case', set(1, 'name: JS'), 1, 'name', /lower case letters/],
    ['name a number', set(1, 'name: 5'), 1, 'name', /must be a string, got the number 5/],
    ['name missing', set(1, null), 1, 'name', /missing/],
    ['name with no value', set(1, 'name:'), 1, 'name', /has no value/],
    // backend
    ['another backend', set(2, 'backend: firecracker'), 2, 'backend', /"firecracker" is not supported; supported backends: isolate, container$/],
    ['backend a list', set(2, 'backend: [isolate]'), 2, 'backend', /must be a string, got a list/],
    ['backend missing', set(2, null), 1, 'backend', /missing/],
    // description
    ['an empty description', set(3, 'description: "  "'), 3, 'description', /is empty/],
    ['a huge description', set(3, `description: ${'x'.repeat(2000)}`), 3, 'description', /keep it under 1024/],
    // languages
    ['a language the backend cannot run', set(4, 'languages: [python]'), 4, 'languages[0]', /not a language this backend runs; use javascript/],
    ['no languages', set(4, 'languages: []'), 4, 'languages', /is empty/],
    ['languages a string', set(4, 'languages: javascript'), 4, 'languages', /must be a list/],
    ['a language twice', set(4, 'languages: [javascript, javascript]'), 4, 'languages[1]', /listed twice/],
    // tools
    ['no tools', set(5, 'tools: []'), 5, 'tools', /is empty/],
    ['a tool twice', set(5, 'tools: [code, code]'), 5, 'tools[1]', /listed twice/],
    ['a tool name with capitals', set(5, 'tools: [code, Fetch]'), 5, 'tools[1]', /not a tool name/],
    ['a tool that is a number', set(5, 'tools: [1]'), 5, 'tools[0]', /must be a string/],
    ['a tool that is a mapping', set(5, 'tools: [{name: code}]'), 5, 'tools[0]', /must be a string, got a mapping/],
    // egressPolicy
    ['egressPolicy a number', set(6, 'egressPolicy: 42'), 6, 'egressPolicy', /name of a policy in egress-policies\/.*or null/],
    ['egressPolicy with a space', set(6, 'egressPolicy: "git hub"'), 6, 'egressPolicy', /or null for no network/],
    ['egressPolicy false', set(6, 'egressPolicy: false'), 6, 'egressPolicy', /or null/],
    ['egressPolicy missing', set(6, null), 1, 'egressPolicy', /missing; name an egress policy, or write "egressPolicy: null"/],
    // limits
    ['memory below the floor', set(8, '  memoryMb: 4'), 8, 'limits.memoryMb', /4 is out of range; use 8 to 4096/],
    ['memory as a string', set(8, '  memoryMb: "64"'), 8, 'limits.memoryMb', /whole number from 8 to 4096, got the string "64"/],
    ['memory fractional', set(8, '  memoryMb: 64.5'), 8, 'limits.memoryMb', /whole number/],
    ['memory infinite', set(8, '  memoryMb: .inf'), 8, 'limits.memoryMb', /whole number/],
    ['memory true', set(8, '  memoryMb: true'), 8, 'limits.memoryMb', /got true/],
    ['max memory below the default', set(9, '  maxMemoryMb: 32'), 9, 'limits.maxMemoryMb', /32 is below limits\.memoryMb \(64\)/],
    ['a zero timeout', set(10, '  timeoutMs: 0'), 10, 'limits.timeoutMs', /out of range; use 1 to 3600000/],
    ['a timeout over an hour', set(11, '  maxTimeoutMs: 3600001'), 11, 'limits.maxTimeoutMs', /out of range/],
    ['max timeout below the default', set(11, '  maxTimeoutMs: 100'), 11, 'limits.maxTimeoutMs', /below limits\.timeoutMs \(5000\)/],
    ['negative output bytes', set(12, '  outputBytes: -1'), 12, 'limits.outputBytes', /out of range/],
    ['a result cap beyond 64 MiB', set(13, '  resultBytes: 1e12'), 13, 'limits.resultBytes', /out of range/],
    ['a limit missing', set(8, null), 8, 'limits.memoryMb', /missing/],
    ['an unknown limit', set(13, '  resultBytes: 1048576\n  cpus: 2'), 14, 'limits.cpus', /unknown field; "limits" of a profile with backend isolate has memoryMb, maxMemoryMb/],
    ['a container limit', set(13, '  resultBytes: 1048576\n  pids: 64'), 14, 'limits.pids', /has memoryMb, .*, resultBytes; pids is a field of backend container$/],
    ['limits a list', text([...BASE.slice(0, 6), 'limits: [64]', ...BASE.slice(13)]), 7, 'limits', /must be a mapping, got a list/],
    // session
    ['a lifetime shorter than the idle time', set(16, '  maxTtlMs: 1000'), 16, 'session.maxTtlMs', /below session\.idleTtlMs \(600000\); a session cannot end before/],
    ['no session sandboxes at all', set(17, '  maxPerPrincipal: 0'), 17, 'session.maxPerPrincipal', /out of range; use 1 to 10000/],
    ['an idle time under a second', set(15, '  idleTtlMs: 10'), 15, 'session.idleTtlMs', /out of range/],
    ['session missing', text(BASE.slice(0, 13)), 1, 'session', /missing/],
    // fields and keys
    ['an unknown field', append('image: node:24'), 18, 'image', /unknown field; a profile with backend isolate has name, backend/],
    ...['image: python', 'runtime: runsc', 'user: 1000', 'env: {}', 'warmPool: 1'].map((line): [string, string, number, string, RegExp] => {
      const field = line.split(':')[0] ?? '';
      return [`the container field ${field}`, append(line), 18, field, new RegExp(`unknown field; a profile with backend isolate has name, .*, session; ${field} is a field of backend container$`)];
    }),
    ['a misspelt field', set(5, 'tool: [code]'), 5, 'tool', /unknown field \(did you mean "tools"\?\)/],
    ['a misspelt limit', set(8, '  memoryMB: 64'), 8, 'limits.memoryMB', /did you mean "memoryMb"/],
    ['a __proto__ key', append('__proto__: {polluted: true}'), 18, '__proto__', /unknown field/],
    ['a key that is not a string', append('1: one'), 18, '(key)', /keys must be plain strings/],
    ['a key that is a list', append('? [a, b]\n: c'), 18, '(key)', /keys must be plain strings/],
    // hostile YAML
    ['a duplicate key', append('name: other'), 18, '(yaml)', /unique/],
    ['an anchor', set(5, 'tools: &t [code]'), 5, '(yaml)', /anchor "&t" is not allowed/],
    ['an alias', text([...BASE.slice(0, 4), 'tools: [code]', 'x: &a [javascript]', ...BASE.slice(5)]).replace('languages: [javascript]', 'languages: *a'), 4, '(yaml)', /alias "\*a" is not allowed/],
    ['a merge key', append('<<: {tools: [code]}'), 18, '<<', /unknown field/],
    ['a tag', set(1, 'name: !!str js'), 1, '(yaml)', /tag "tag:yaml.org,2002:str" is not allowed/],
    ['a custom tag', set(1, 'name: !js js'), 1, '(yaml)', /Unresolved tag|tag "!js" is not allowed/],
    ['two documents', append('---', 'name: other'), 18, '(yaml)', /one profile per file/],
    ['a syntax error', set(5, 'tools: code: x'), 5, '(yaml)', /Nested mappings/],
    ['a list at the top', '- name: js\n', 1, '(file)', /a profile must be a mapping/],
    ['a scalar at the top', 'js\n', 1, '(file)', /a profile must be a mapping/],
    ['an empty file', '', 1, '(file)', /the file is empty/],
    ['only comments', '# nothing here\n', 1, '(file)', /the file is empty/],
  ])('refuses %s', (_name, source, line, field, reason) => {
    const err = refusal(source);
    expect(err.code).toBe('CONFIG_INVALID');
    // The first problem is in details and on the message's first line; the one
    // this case is about may come after another (a misspelt field is also missing).
    const first = err.details as { file: string; line: number; field: string; reason: string };
    expect(err.message.split('\n')[0]).toBe(`${first.file}:${first.line}: ${first.field}: ${first.reason}`);
    const problem = (err.details.problems as { field: string }[]).find((p) => p.field === field);
    expect(problem).toMatchObject({ file: FILE, line, field, reason: expect.stringMatching(reason) });
    expect(err.message).toContain(`${FILE}:${line}: ${field}: `);
  });

  it('refuses an alias bomb without expanding it', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x]', ...'bcdefghi'.split('').map((c, i) => `${c}: &${c} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(', ')}]`)].join('\n');
    const err = refusal(bomb);
    expect(err.details).toMatchObject({ line: 1, field: '(yaml)' });
  });

  it('reports every problem, in line order', () => {
    const source = text(BASE).replace('backend: isolate', 'backend: vm').replace('tools: [code]', 'tools: []').replace('maxPerPrincipal: 50', 'maxPerPrincipal: -1');
    const result = compileSandboxProfile(source, FILE);
    expect('problems' in result && result.problems.map((p) => [p.line, p.field])).toEqual([
      [2, 'backend'],
      [5, 'tools'],
      [17, 'session.maxPerPrincipal'],
    ]);
    const err = refusal(source);
    expect(err.message.split('\n')).toHaveLength(3);
    expect(err.details.problems).toHaveLength(3);
  });
});
