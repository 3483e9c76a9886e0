import { compileGlob } from './glob.ts';

const compiled = new Map<string, (relative: string) => boolean>();

function matcher(pattern: string): (relative: string) => boolean {
  let m = compiled.get(pattern);
  if (m === undefined) {
    const glob = compileGlob(pattern);
    // Like .gitignore: a pattern with no slash names a file at any depth (".env" is also "app/.env").
    m = pattern.includes('/') ? glob : (relative) => glob(relative.slice(relative.lastIndexOf('/') + 1));
    compiled.set(pattern, m);
  }
  return m;
}

/** Whether a workspace-relative path is one the profile marks sensitive. */
export function isSensitivePath(patterns: readonly string[], relative: string): boolean {
  return patterns.some((pattern) => matcher(pattern)(relative));
}
