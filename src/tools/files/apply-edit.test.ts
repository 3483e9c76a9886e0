import { describe, expect, it } from 'vitest';
import { thrownCordonError } from '../../../test/support/cordon-errors.ts';
import { applyReplace } from './apply-edit.ts';

describe('applyReplace', () => {
  it('replaces exactly one occurrence, keeping $ patterns literal', () => {
    expect(applyReplace('let a = 1;\nlet b = 2;\n', { search: 'a = 1', replace: "a = '$&$1'" })).toBe("let a = '$&$1';\nlet b = 2;\n");
  });

  it('refuses a missing search text with FS_EDIT_NO_MATCH', () => {
    expect(thrownCordonError(() => applyReplace('abc', { search: 'x', replace: 'y' }))).toMatchObject({ code: 'FS_EDIT_NO_MATCH', details: { count: 0 } });
  });

  it('refuses a repeated search text with the count, unless replaceAll', () => {
    expect(thrownCordonError(() => applyReplace('x x x', { search: 'x', replace: 'y' }))).toMatchObject({ code: 'FS_EDIT_AMBIGUOUS', details: { count: 3 } });
    expect(applyReplace('x x x', { search: 'x', replace: 'y', replaceAll: true })).toBe('y y y');
  });

  it('counts non-overlapping occurrences and refuses an empty search', () => {
    expect(thrownCordonError(() => applyReplace('aaaa', { search: 'aa', replace: 'b' }))).toMatchObject({ details: { count: 2 } });
    expect(thrownCordonError(() => applyReplace('abc', { search: '', replace: 'b' })).code).toBe('INPUT_INVALID');
  });
});
