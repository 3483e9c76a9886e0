import { CordonError } from '../../core/errors.ts';

export interface ReplaceEdit {
  readonly search: string;
  readonly replace: string;
  /** Replace every occurrence instead of requiring exactly one. */
  readonly replaceAll?: boolean;
}

function countOccurrences(text: string, search: string): number {
  let count = 0;
  for (let at = text.indexOf(search); at !== -1; at = text.indexOf(search, at + search.length)) count += 1;
  return count;
}

/**
 * Exact search/replace. The search text must occur exactly once (or at least once with
 * replaceAll): an agent that names text twice almost always meant one of them, and
 * guessing which would silently edit the wrong place.
 */
export function applyReplace(text: string, edit: ReplaceEdit): string {
  if (edit.search === '') {
    throw new CordonError('INPUT_INVALID', 'the text to replace is empty; give the exact text to find (use a write to replace the whole file)');
  }
  const count = countOccurrences(text, edit.search);
  if (count === 0) {
    throw new CordonError('FS_EDIT_NO_MATCH', 'the text to replace does not occur in the file; read the file and copy the text exactly, whitespace included', {
      details: { count },
    });
  }
  if (count > 1 && edit.replaceAll !== true) {
    throw new CordonError('FS_EDIT_AMBIGUOUS', `the text to replace occurs ${count} times; include more surrounding text so it occurs once, or pass replaceAll`, {
      details: { count },
    });
  }
  // split/join, not String.replace: `$&` and friends in the replacement must stay literal.
  return edit.replaceAll === true ? text.split(edit.search).join(edit.replace) : text.replace(edit.search, () => edit.replace);
}
