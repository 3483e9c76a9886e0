/** Longest glob accepted; each part is matched in time linear in pattern × name, never by backtracking. */
export const MAX_GLOB_CHARS = 256;

/** One path part against one pattern part: `*` any run of characters, `?` one, the rest literal. */
function matchPart(pattern: string, name: string): boolean {
  // The classic greedy wildcard walk: on a mismatch, go back to just after the last `*` and let it
  // swallow one more character. O(pattern × name) at worst, with no recursion.
  let p = 0;
  let n = 0;
  let star = -1;
  let resume = 0;
  while (n < name.length) {
    const c = pattern[p];
    if (c === '?' || (c !== undefined && c !== '*' && c === name[n])) {
      p += 1;
      n += 1;
    } else if (c === '*') {
      star = p;
      resume = n;
      p += 1;
    } else if (star !== -1) {
      p = star + 1;
      resume += 1;
      n = resume;
    } else {
      return false;
    }
  }
  while (pattern[p] === '*') p += 1;
  return p === pattern.length;
}

/**
 * Compiles a small glob (`*` within a path part, `**` as a whole part for any number of
 * parts, `?` one character) to a matcher over workspace-relative paths. Everything else
 * matches literally, so an agent's pattern cannot smuggle regular-expression syntax, and no
 * pattern can make matching slow: parts are matched by dynamic programming over the
 * pattern's parts and the path's parts (`**` inside a part acts as `*`).
 */
export function compileGlob(pattern: string): (relative: string) => boolean {
  const parts = pattern.split('/').filter((part) => part !== '');
  return (relative) => {
    const names = relative === '' ? [] : relative.split('/');
    // can[i][j]: parts from i on match names from j on. Filled from the end.
    let next: boolean[] = names.map(() => false).concat(true);
    for (let i = parts.length - 1; i >= 0; i -= 1) {
      const part = parts[i] as string;
      const row: boolean[] = new Array<boolean>(names.length + 1).fill(false);
      for (let j = names.length; j >= 0; j -= 1) {
        if (part === '**') row[j] = next[j] === true || (j < names.length && row[j + 1] === true);
        else row[j] = j < names.length && next[j + 1] === true && matchPart(part, names[j] as string);
      }
      next = row;
    }
    return next[0] === true;
  };
}
