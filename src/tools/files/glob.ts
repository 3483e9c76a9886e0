/**
 * Compiles a small glob (`*` within a path part, `**` across parts, `?` one character)
 * to a matcher over workspace-relative paths. Everything else matches literally, so an
 * agent's pattern cannot smuggle regular-expression syntax.
 */
export function compileGlob(pattern: string): (relative: string) => boolean {
  let source = '';
  for (let i = 0; i < pattern.length; i += 1) {
    const ch = pattern[i] ?? '';
    if (ch === '*' && pattern[i + 1] === '*') {
      i += 1;
      if (pattern[i + 1] === '/') {
        i += 1;
        source += '(?:.*/)?';
      } else {
        source += '.*';
      }
    } else if (ch === '*') {
      source += '[^/]*';
    } else if (ch === '?') {
      source += '[^/]';
    } else {
      source += ch.replace(/[.+^${}()|[\]\\]/gu, '\\$&');
    }
  }
  const re = new RegExp(`^${source}$`, 'u');
  return (relative) => re.test(relative);
}
