import { describe, expect, it } from 'vitest';
import { blockText, cleanChars, cutText, normaliseText } from './dom-text.ts';

describe('dom-text helpers', () => {
  it('normaliseText keeps paragraphs and single line breaks, collapsing other whitespace', () => {
    expect(normaliseText('\n\n  one \t two \n\n\n three\nfour  \n\n')).toBe('one two\n\nthree\nfour');
  });

  it('cleanChars drops control characters, keeps tabs and newlines, repairs lone surrogates', () => {
    expect(cleanChars('a\u0000b\u0007c\td\r\ne\u0085f\ud800g\udc00')).toBe('abc\td\nef\ufffdg\ufffd');
  });

  it('cutText never splits a surrogate pair', () => {
    expect(cutText('ab😀c', 3)).toBe('ab');
    expect(cutText('ab😀c', 4)).toBe('ab😀');
    expect(cutText('abc', 10)).toBe('abc');
  });
});

describe('blockText', () => {
  const text = (value: string) => ({ nodeType: 3, nodeName: '#text', nodeValue: value, childNodes: [] });
  const element = (name: string, ...children: ReturnType<typeof text>[]) => ({ nodeType: 1, nodeName: name, nodeValue: null, childNodes: children });

  it('breaks paragraphs at blocks and lines at <br>, skipping hidden elements', () => {
    const root = { ...element('DIV'), childNodes: [element('P', text('one\n  two')), element('BR'), element('SCRIPT', text('x()')), text('three')] };
    expect(blockText(root, 1000)).toEqual({ text: 'one two\n\nthree', complete: true });
  });

  it('stops early past maxChars and says so', () => {
    const root = { ...element('DIV'), childNodes: Array.from({ length: 1000 }, () => element('P', text('word'))) };
    const result = blockText(root, 20);
    expect(result.complete).toBe(false);
    expect(result.text.length).toBeLessThan(100);
  });
});
