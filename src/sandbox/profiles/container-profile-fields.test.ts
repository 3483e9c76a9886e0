import { describe, expect, it } from 'vitest';
import { CordonError } from '../../core/errors.ts';
import { parseSandboxProfile, profileFieldLine } from './parse-sandbox-profile.ts';
import type { SandboxProfileProblem } from './sandbox-profile.ts';

const FILE = '/profiles/python.yaml';
// Line numbers in the cases below refer to these lines.
const BASE = [
  /* 1 */ 'name: python',
  /* 2 */ 'backend: container',
  /* 3 */ 'description: Python in a container.',
  /* 4 */ 'languages: [python, sh]',
  /* 5 */ 'tools: [code]',
  /* 6 */ 'egressPolicy: null',
  /* 7 */ 'image: python',
  /* 8 */ 'runtime: runc',
  /* 9 */ 'user: 1000',
  /* 10 */ 'env:',
  /* 11 */ '  LANG: C.UTF-8',
  /* 12 */ '  GREETING: "hello\\tworld"',
  /* 13 */ 'warmPool: 1',
  /* 14 */ 'limits:',
  /* 15 */ '  memoryMb: 256',
  /* 16 */ '  maxMemoryMb: 1024',
  /* 17 */ '  timeoutMs: 10000',
  /* 18 */ '  maxTimeoutMs: 120000',
  /* 19 */ '  outputBytes: 1048576',
  /* 20 */ '  resultBytes: 1048576',
  /* 21 */ '  cpus: 1.5',
  /* 22 */ '  pids: 128',
  /* 23 */ '  workspaceMb: 256',
  /* 24 */ '  tmpMb: 64',
  /* 25 */ 'session:',
  /* 26 */ '  idleTtlMs: 600000',
  /* 27 */ '  maxTtlMs: 3600000',
  /* 28 */ '  maxPerPrincipal: 10',
];
/** BASE with line n (1-based) replaced; null removes it. */
const set = (n: number, line: string | null): string => BASE.flatMap((l, i) => (i === n - 1 ? (line === null ? [] : [line]) : [l])).join('\n') + '\n';
/** BASE with its env (lines 10-12) replaced by one line. */
const env = (line: string): string => [...BASE.slice(0, 9), line, ...BASE.slice(12)].join('\n') + '\n';
/** One env entry (on line 11) in place of BASE's two. */
const entry = (text: string): string => [...BASE.slice(0, 10), `  ${text}`, ...BASE.slice(12)].join('\n') + '\n';
/** A flow mapping of n variables V0..V(n-1). */
const variables = (n: number): string => `env: {${Array.from({ length: n }, (_, i) => `V${i}: "${i}"`).join(', ')}}`;

function problems(source: string): SandboxProfileProblem[] {
  try {
    parseSandboxProfile(source, FILE);
  } catch (err) {
    expect(err).toBeInstanceOf(CordonError);
    expect((err as CordonError).code).toBe('CONFIG_INVALID');
    return (err as CordonError).details.problems as SandboxProfileProblem[];
  }
  throw new Error('expected the profile to be refused');
}

/** The refusal names the field on the line, for a reason matching `reason`, and the message says file:line: field. */
function expectRefused(source: string, line: number, field: string, reason: RegExp): SandboxProfileProblem {
  const found = problems(source).find((p) => p.field === field);
  expect(found).toMatchObject({ file: FILE, line, field, reason: expect.stringMatching(reason) });
  return found as SandboxProfileProblem;
}

describe('a container profile', () => {
  it('parses to its ContainerSettings, deep-frozen, with the common limits apart', () => {
    const profile = parseSandboxProfile(BASE.join('\n') + '\n', FILE);
    expect(profile).toEqual({
      name: 'python',
      file: FILE,
      backend: 'container',
      description: 'Python in a container.',
      languages: ['python', 'sh'],
      tools: ['code'],
      egressPolicy: null,
      sensitivePaths: [],
      limits: { memoryMb: 256, maxMemoryMb: 1024, timeoutMs: 10000, maxTimeoutMs: 120000, outputBytes: 1048576, resultBytes: 1048576 },
      session: { idleTtlMs: 600000, maxTtlMs: 3600000, maxPerPrincipal: 10 },
      container: { image: 'python', runtime: 'runc', user: 1000, env: { LANG: 'C.UTF-8', GREETING: 'hello\tworld' }, cpus: 1.5, pids: 128, workspaceMb: 256, tmpMb: 64, warmPool: 1 },
    });
    expect(Object.isFrozen(profile.container)).toBe(true);
    expect(Object.isFrozen(profile.container?.env)).toBe(true);
    expect(profileFieldLine(profile, 'image')).toBe(7);
    expect(profileFieldLine(profile, 'limits.cpus')).toBe(21);
  });

  it.each<[string, string, Record<string, unknown>]>([
    ['half a core', set(21, '  cpus: 0.5'), { cpus: 0.5 }],
    ['the smallest CPU share', set(21, '  cpus: 0.01'), { cpus: 0.01 }],
    ['a whole number of cores, at the top', set(21, '  cpus: 64'), { cpus: 64 }],
    ['gVisor with no warm pool', set(8, 'runtime: runsc').replace('warmPool: 1', 'warmPool: 0'), { runtime: 'runsc', warmPool: 0 }],
    ['the largest warm pool', set(13, 'warmPool: 32'), { warmPool: 32 }],
    ['the largest uid', set(9, 'user: 2147483647'), { user: 2147483647 }],
    ['the fewest pids and the smallest tmpfs', set(22, '  pids: 8').replace('tmpMb: 64', 'tmpMb: 1').replace('workspaceMb: 256', 'workspaceMb: 65536'), { pids: 8, tmpMb: 1, workspaceMb: 65536 }],
    ['no environment', env('env: {}'), { env: {} }],
    ['an empty value and a value of 4096 characters', env(`env: {EMPTY: "", LONG: "${'x'.repeat(4096)}"}`), { env: { EMPTY: '', LONG: 'x'.repeat(4096) } }],
    ['64 variables', env(variables(64)), {}],
    ['a name that is only allowed, not reserved', env('env: {_: "u", PATHS: "p", MY_HOME: "h", CORDONX: "c"}'), { env: { _: 'u', PATHS: 'p', MY_HOME: 'h', CORDONX: 'c' } }],
  ])('accepts %s', (_name, source, expected) => {
    expect(parseSandboxProfile(source, FILE).container).toMatchObject(expected);
  });

  it('accepts a container memory limit of 16 MB, not 15', () => {
    expect(parseSandboxProfile(set(15, '  memoryMb: 16'), FILE).limits.memoryMb).toBe(16);
    expectRefused(set(15, '  memoryMb: 15'), 15, 'limits.memoryMb', /^15 is out of range; use 16 to 4096$/);
  });

  it('keeps a variable named __proto__ as a plain entry, never a prototype', () => {
    const parsed = parseSandboxProfile(env('env: {__proto__: "x"}'), FILE).container?.env ?? {};
    expect(Object.hasOwn(parsed, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype);
  });

  // Each case: the source, then the line and field the refusal must name, and its reason.
  it.each<[string, string, number, string, RegExp]>([
    // missing
    ['image missing', set(7, null), 1, 'image', /missing; every profile states it/],
    ['runtime missing', set(8, null), 1, 'runtime', /missing/],
    ['user missing', set(9, null), 1, 'user', /missing/],
    ['env missing', [...BASE.slice(0, 9), ...BASE.slice(12)].join('\n'), 1, 'env', /missing/],
    ['warmPool missing', set(13, null), 1, 'warmPool', /missing/],
    ['cpus missing', set(21, null), 15, 'limits.cpus', /missing/],
    ['pids missing', set(22, null), 15, 'limits.pids', /missing/],
    ['workspaceMb missing', set(23, null), 15, 'limits.workspaceMb', /missing/],
    ['tmpMb missing', set(24, null), 15, 'limits.tmpMb', /missing/],
    ['image with no value', set(7, 'image:'), 7, 'image', /has no value/],
    // image
    ['image a number', set(7, 'image: 5'), 7, 'image', /must be a string, got the number 5/],
    ['image a registry reference', set(7, 'image: docker.io/library/python:3'), 7, 'image', /is not an image recipe name; name a file in sandboxes\/images\//],
    ['image a path', set(7, 'image: ../python'), 7, 'image', /not an image recipe name/],
    ['image upper case', set(7, 'image: Python'), 7, 'image', /not an image recipe name/],
    // runtime
    ['another runtime', set(8, 'runtime: kata'), 8, 'runtime', /^"kata" is not a runtime Cordon runs; use runc \(Docker's default\) or runsc \(gVisor\)$/],
    ['runtime upper case', set(8, 'runtime: RUNC'), 8, 'runtime', /not a runtime/],
    ['runtime a list', set(8, 'runtime: [runc]'), 8, 'runtime', /must be a string, got a list/],
    // user
    ['root', set(9, 'user: 0'), 9, 'user', /^0 is root's or a system account's uid; code in a sandbox runs unprivileged: use 1000 to 2147483647$/],
    ['a system account', set(9, 'user: 999'), 9, 'user', /999 is root's or a system account's uid/],
    ['a negative uid', set(9, 'user: -1'), 9, 'user', /-1 is out of range; use 1000 to 2147483647/],
    ['a uid beyond 32 bits', set(9, 'user: 2147483648'), 9, 'user', /out of range/],
    ['a user name', set(9, 'user: sandbox'), 9, 'user', /whole number from 1000 to 2147483647, got the string "sandbox"/],
    ['a fractional uid', set(9, 'user: 1000.5'), 9, 'user', /whole number/],
    ['a quoted uid', set(9, 'user: "1000"'), 9, 'user', /whole number/],
    // env as a whole
    ['env a list', env('env: [A=1]'), 10, 'env', /must be a mapping, got a list/],
    ['env a string', env('env: A=1'), 10, 'env', /must be a mapping, got the string "A=1"/],
    ['env with no value', env('env:'), 10, 'env', /has no value/],
    ['65 variables', env(variables(65)), 10, 'env', /^has 65 variables; at most 64 are allowed$/],
    ['a variable twice', env('env: {A: "1", A: "2"}'), 10, '(yaml)', /unique/],
    // warmPool
    ['a warm pool over 32', set(13, 'warmPool: 33'), 13, 'warmPool', /33 is out of range; use 0 to 32/],
    ['a negative warm pool', set(13, 'warmPool: -1'), 13, 'warmPool', /out of range/],
    ['a warm pool as a string', set(13, 'warmPool: "1"'), 13, 'warmPool', /whole number from 0 to 32/],
    ['a warm pool of true', set(13, 'warmPool: true'), 13, 'warmPool', /got true/],
    // cpus: a number, not just a whole one
    ['no CPU at all', set(21, '  cpus: 0'), 21, 'limits.cpus', /^0 is out of range; use 0.01 to 64$/],
    ['less than the smallest CPU share', set(21, '  cpus: 0.001'), 21, 'limits.cpus', /0.001 is out of range/],
    ['more than 64 cores', set(21, '  cpus: 64.5'), 21, 'limits.cpus', /out of range; use 0.01 to 64/],
    ['cpus as a string', set(21, '  cpus: "1"'), 21, 'limits.cpus', /^must be a number from 0.01 to 64, got the string "1"$/],
    ['cpus not a number', set(21, '  cpus: .nan'), 21, 'limits.cpus', /must be a number/],
    ['cpus infinite', set(21, '  cpus: .inf'), 21, 'limits.cpus', /must be a number/],
    ['cpus true', set(21, '  cpus: true'), 21, 'limits.cpus', /got true/],
    // pids, workspaceMb, tmpMb: whole numbers
    ['too few pids', set(22, '  pids: 7'), 22, 'limits.pids', /7 is out of range; use 8 to 32768/],
    ['too many pids', set(22, '  pids: 32769'), 22, 'limits.pids', /out of range/],
    ['fractional pids', set(22, '  pids: 8.5'), 22, 'limits.pids', /whole number from 8 to 32768/],
    ['no workspace', set(23, '  workspaceMb: 0'), 23, 'limits.workspaceMb', /0 is out of range; use 1 to 65536/],
    ['a workspace over 64 GiB', set(23, '  workspaceMb: 65537'), 23, 'limits.workspaceMb', /out of range/],
    ['workspace as a string', set(23, '  workspaceMb: 256MB'), 23, 'limits.workspaceMb', /whole number/],
    ['no /tmp', set(24, '  tmpMb: 0'), 24, 'limits.tmpMb', /0 is out of range; use 1 to 4096/],
    ['a /tmp over 4 GiB', set(24, '  tmpMb: 4097'), 24, 'limits.tmpMb', /out of range/],
    // the common fields, as a container sees them
    ['a language a container does not run', set(4, 'languages: [javascript]'), 4, 'languages[0]', /not a language this backend runs; use python, sh$/],
    ['an unknown field', set(13, 'warmPool: 1\nprivileged: true'), 14, 'privileged', /unknown field; a profile with backend container has name, .*, session, image, runtime, user, env, warmPool$/],
    ['a misspelt container field', set(13, 'warmpool: 1'), 13, 'warmpool', /did you mean "warmPool"/],
    ['an unknown limit', set(24, '  tmpMb: 64\n  swapMb: 64'), 25, 'limits.swapMb', /unknown field; "limits" of a profile with backend container has memoryMb, .*, cpus, pids, workspaceMb, tmpMb$/],
  ])('refuses %s', (_name, source, line, field, reason) => {
    expectRefused(source, line, field, reason);
  });
});

describe('a container profile’s env', () => {
  const reserved = ['PATH', 'HOME', 'HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY', 'NO_PROXY'];
  it.each([...reserved, ...reserved.map((n) => n.toLowerCase()), 'Http_Proxy', 'Path'])('refuses %s: Cordon sets it', (name) => {
    expectRefused(entry(`${name}: "x"`), 11, `env.${name}`, /^is set by Cordon \(the sandbox's (PATH|HOME|egress proxy)\); remove it from env$/);
  });

  it.each(['CORDON_X', 'CORDON_', 'CORDON_SANDBOX_ID', 'cordon_token'])('refuses %s: CORDON_ names are Cordon’s', (name) => {
    expectRefused(entry(`${name}: "x"`), 11, `env.${name}`, /^is set by Cordon: names starting with CORDON_ are reserved for it; rename the variable$/);
  });

  // Each case: the entry on line 11, the field it must name, and the reason.
  it.each<[string, string, string, RegExp]>([
    // names
    ['a name starting with a digit', '1ABC: "x"', 'env.(key)', /^"1ABC" is not an environment variable name; use letters, digits and "_", not starting with a digit \(at most 128\)$/],
    ['a name with a dash', 'A-B: "x"', 'env.(key)', /"A-B" is not an environment variable name/],
    ['a name with "="', '"A=B": "x"', 'env.(key)', /"A=B" is not/],
    ['an empty name', '"": "x"', 'env.(key)', /"" is not/],
    ['a name of 129 characters', `A${'B'.repeat(128)}: "x"`, 'env.(key)', /"AB{39}…" is not an environment variable name/],
    ['a name that is not ASCII', 'ÄPFEL: "x"', 'env.(key)', /"ÄPFEL" is not/],
    ['a number as a name', '1: "x"', 'env.(key)', /keys must be plain strings/],
    // values that are not strings
    ['a number', 'PORT: 3', 'env.PORT', /^3 is a number, not a string; quote it: PORT: "3"$/],
    ['a number with its spelling', 'RATIO: 0.50', 'env.RATIO', /^0.50 is a number, not a string; quote it: RATIO: "0.50"$/],
    ['a hex number', 'MASK: 0x1F', 'env.MASK', /quote it: MASK: "0x1F"$/],
    ['a boolean', 'DEBUG: true', 'env.DEBUG', /^true is a boolean, not a string; quote it: DEBUG: "true"$/],
    ['null', 'NOTHING: ~', 'env.NOTHING', /^has no value; write NOTHING: "" for an empty string$/],
    ['no value', 'NOTHING:', 'env.NOTHING', /has no value/],
    ['a list', 'LIST: [a, b]', 'env.LIST', /must be a string, got a list/],
    ['a mapping', 'MAP: {a: b}', 'env.MAP', /must be a string, got a mapping/],
    // control characters
    ['a NUL', 'A: "x\\0y"', 'env.A', /^holds the control character U\+0000 at character 2; only tab is allowed/],
    ['a newline', 'A: "x\\ny"', 'env.A', /U\+000A at character 2/],
    ['a carriage return', 'A: "\\r"', 'env.A', /U\+000D at character 1/],
    ['an escape', 'A: "\\e[31m"', 'env.A', /U\+001B/],
    ['a DEL', 'A: "x\\x7f"', 'env.A', /U\+007F/],
    ['a C1 control', 'A: "\\u009b"', 'env.A', /U\+009B/],
    ['a block scalar with newlines', 'A: |\n    one\n    two', 'env.A', /U\+000A at character 4/],
    // size
    ['a value of 4097 characters', `A: "${'x'.repeat(4097)}"`, 'env.A', /^is 4097 characters; at most 4096 are allowed$/],
  ])('refuses %s', (_name, text, field, reason) => {
    expectRefused(entry(text), 11, field, reason);
  });

  it('never puts a hostile name into the field, and quotes it in the reason', () => {
    const problem = expectRefused(entry('"A\\nB\\u0000": "x"'), 11, 'env.(key)', /^"A\\nB\\u0000" is not an environment variable name/);
    expect(problem.reason).not.toMatch(/\p{Cc}/u);
  });

  it('reports every bad variable, each on its own line', () => {
    const found = problems(env('env:\n  PATH: "/x"\n  OK: "fine"\n  PORT: 80\n  CORDON_ID: "y"')).map((p) => [p.line, p.field]);
    expect(found).toEqual([
      [11, 'env.PATH'],
      [13, 'env.PORT'],
      [14, 'env.CORDON_ID'],
    ]);
  });
});
