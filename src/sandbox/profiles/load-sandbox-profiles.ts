import { closeSync, constants, fstatSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { findReferenceProblems, type ProfileReferences } from './check-profile-references.ts';
import { compileSandboxProfile, profileFieldLine } from './parse-sandbox-profile.ts';
import { profileError, type SandboxProfile, type SandboxProfileProblem } from './sandbox-profile.ts';

/** The profiles shipped with Cordon (the repository's top-level `sandboxes/`): one definition, in config's defaults. */
export { BUNDLED_SANDBOX_PROFILE_DIR } from '../../config/defaults.ts';
/** Profile files larger than this are refused before parsing. */
export const MAX_PROFILE_FILE_BYTES = 64 * 1024;
/** A directory with more profile files than this is refused before any is parsed. */
export const MAX_PROFILES = 256;

export interface SandboxProfileReport {
  readonly ok: boolean;
  /** Absolute path of the directory read. */
  readonly dir: string;
  /** The profiles that loaded, in file name order. */
  readonly profiles: readonly SandboxProfile[];
  /** Every problem, in file order; empty when ok. */
  readonly problems: readonly SandboxProfileProblem[];
}

/**
 * Loads every `*.yaml` / `*.yml` in `dir` (not recursive), keyed by name.
 * Throws CONFIG_INVALID naming file, line and field of every problem.
 */
export function loadSandboxProfiles(dir: string): ReadonlyMap<string, SandboxProfile> {
  const { profiles, problems } = compileDir(resolve(dir));
  if (problems.length > 0) throw profileError(problems);
  return profiles;
}

/**
 * `cordon sandboxes validate`: every file, every problem; never throws for a
 * bad profile or directory. With `references`, also checks tool and egress
 * policy names.
 */
export function validateSandboxProfiles(dir: string, references?: ProfileReferences): SandboxProfileReport {
  const abs = resolve(dir);
  const { profiles, problems } = compileDir(abs);
  if (references !== undefined) problems.push(...findReferenceProblems(profiles, references));
  return { ok: problems.length === 0, dir: abs, profiles: [...profiles.values()], problems };
}

function compileDir(dir: string): { profiles: Map<string, SandboxProfile>; problems: SandboxProfileProblem[] } {
  const profiles = new Map<string, SandboxProfile>();
  const problems: SandboxProfileProblem[] = [];
  const listed = listProfileFiles(dir);
  if ('problem' in listed) return { profiles, problems: [listed.problem] };
  for (const file of listed.files) {
    const read = readProfileFile(file);
    const result = 'problem' in read ? { problems: [read.problem] } : compileSandboxProfile(read.text, file);
    if ('problems' in result) {
      problems.push(...result.problems);
      continue;
    }
    const { profile } = result;
    // Only js.yaml beside js.yml can collide: the name must match the file's.
    const existing = profiles.get(profile.name);
    if (existing !== undefined) {
      problems.push({ file, line: profileFieldLine(profile, 'name'), field: 'name', reason: `"${profile.name}" is already defined by ${existing.file}; keep one file per profile` });
      continue;
    }
    profiles.set(profile.name, profile);
  }
  return { profiles, problems };
}

function listProfileFiles(dir: string): { files: string[] } | { problem: SandboxProfileProblem } {
  const fail = (reason: string): { problem: SandboxProfileProblem } => ({ problem: { file: dir, line: 0, field: '(dir)', reason } });
  let names: string[];
  try {
    if (!statSync(dir).isDirectory()) return fail('is not a directory; point at a folder of <name>.yaml profiles');
    names = readdirSync(dir).filter((n) => /\.ya?ml$/.test(n)).sort();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return fail(code === 'ENOENT' ? 'no such directory; create it with one <name>.yaml per profile' : `cannot read the sandbox profile directory: ${(err as Error).message}`);
  }
  // Counted before any file is read: a directory stuffed with files costs nothing.
  if (names.length > MAX_PROFILES) return fail(`holds ${names.length} profile files; at most ${MAX_PROFILES} are allowed`);
  return { files: names.map((n) => join(dir, n)) };
}

/**
 * Reads at most MAX_PROFILE_FILE_BYTES + 1 bytes, so an oversized file is refused
 * before parsing and a file that grows while being read cannot get past the
 * limit. O_NONBLOCK keeps a FIFO named *.yaml from hanging the loader; only
 * regular files (symlinks to them included) are read.
 */
function readProfileFile(file: string): { text: string } | { problem: SandboxProfileProblem } {
  const fail = (reason: string): { problem: SandboxProfileProblem } => ({ problem: { file, line: 0, field: '(file)', reason } });
  let bytes: Buffer;
  let fd: number | undefined;
  try {
    fd = openSync(file, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
    const stat = fstatSync(fd);
    if (!stat.isFile()) return fail('is not a regular file');
    if (stat.size > MAX_PROFILE_FILE_BYTES) return fail(`is ${stat.size} bytes, over the ${MAX_PROFILE_FILE_BYTES}-byte limit`);
    const buf = Buffer.alloc(MAX_PROFILE_FILE_BYTES + 1);
    let size = 0;
    while (size < buf.length) {
      const n = readSync(fd, buf, size, buf.length - size, null);
      if (n === 0) break;
      size += n;
    }
    if (size > MAX_PROFILE_FILE_BYTES) return fail(`is over the ${MAX_PROFILE_FILE_BYTES}-byte limit`);
    bytes = buf.subarray(0, size);
  } catch (err) {
    return fail(`cannot read: ${(err as Error).message}`);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes) };
  } catch {
    return fail('is not valid UTF-8');
  }
}
