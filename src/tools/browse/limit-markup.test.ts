import { describe, expect, it } from 'vitest';
import { limitMarkup } from './limit-markup.ts';

const wide = { maxDepth: 1000, maxElements: 1000 };

describe('limitMarkup', () => {
  it('returns ordinary markup unchanged, counting its elements', () => {
    const html = '<div><p>a<p>b<img src=x><br></div><ul><li>1<li>2</ul>';
    expect(limitMarkup(html, wide)).toEqual({ html, elements: 8, totalDepth: 1 + 2 + 2 + 3 + 3 + 1 + 2 + 2, droppedTags: 0 });
  });

  it('cuts open tags past maxDepth but keeps their text', () => {
    const result = limitMarkup('<div><div><div><b>deep</b></div></div></div>', { maxDepth: 2, maxElements: 100 });
    expect(result.html).toBe('<div><div>deep</b></div></div></div>');
    expect(result.droppedTags).toBe(2);
  });

  it('does not count unclosed <p> and <li> siblings as nesting', () => {
    const html = `<ul>${'<li>item'.repeat(500)}</ul>`;
    expect(limitMarkup(html, { maxDepth: 3, maxElements: 1000 }).droppedTags).toBe(0);
  });

  it('cuts open tags past maxElements', () => {
    const result = limitMarkup('<a href=1>one</a><a href=2>two</a><br/><a href=3>three</a>', { maxDepth: 10, maxElements: 1 });
    expect(result.html).toBe('<a href=1>one</a>two</a>three</a>');
    expect(result).toMatchObject({ elements: 1, droppedTags: 3 });
  });

  it('ignores tags inside scripts and comments', () => {
    const html = `<script>"${'<div>'.repeat(50)}"</script><!--${'<div>'.repeat(50)}--><p>x</p>`;
    expect(limitMarkup(html, { maxDepth: 3, maxElements: 1000 })).toEqual({ html, elements: 2, totalDepth: 2, droppedTags: 0 });
  });

  it('handles 100k nested divs', () => {
    const result = limitMarkup(`${'<div>'.repeat(100_000)}x${'</div>'.repeat(100_000)}`, { maxDepth: 256, maxElements: 1_000_000 });
    expect(result.elements).toBe(256);
    expect(result.droppedTags).toBe(100_000 - 256);
  });
});
