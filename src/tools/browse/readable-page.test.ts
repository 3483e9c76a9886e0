import { describe, expect, it } from 'vitest';
import { readablePage } from './index.ts';

const PAGE = 'https://site.test/dir/page?q=1';
const caps = { maxTextChars: 5000, maxLinks: 50 };

const article = (body: string, head = '<title>My Page</title>'): string =>
  `<html><head>${head}</head><body><nav class="menu"><a href="/nav">Navigation menu</a></nav><article><h1>Heading</h1><p>${'Readable words in a real paragraph, with commas, '.repeat(20)}</p>${body}</article></body></html>`;

describe('readablePage', () => {
  it('returns the title, paragraph text and absolute links', () => {
    const page = readablePage(article('<p>Second <a href="../other#frag">other page</a> here.</p><p>Third</p>'), PAGE, caps);
    expect(page.title).toBe('My Page');
    expect(page.text).toContain('Second other page here.\n\nThird');
    expect(page.links).toEqual([
      { href: 'https://site.test/nav', text: 'Navigation menu' },
      { href: 'https://site.test/other', text: 'other page' },
    ]);
    expect(page.truncated).toBe(false);
  });

  it('reads the article, not the page chrome around it', () => {
    const page = readablePage(article('<p>Body</p>'), PAGE, caps);
    expect(page.text).toMatch(/^Heading\n\nReadable words/);
    expect(page.text).not.toContain('Navigation menu');
  });

  it('falls back to the body text when Readability finds no article', () => {
    const page = readablePage('<title>Tiny</title><body><div>just a line</div></body>', PAGE, caps);
    expect(page.title).toBe('Tiny');
    expect(page.text).toBe('just a line');
  });

  it('never shows scripts, styles, noscript, templates, comments or iframe srcdoc', () => {
    const html = article(`<script>var s = "</div><p>SCRIPT</p>";</script><style>.x{content:"STYLE"}</style><noscript>NOSCRIPT</noscript><template><p>TEMPLATE</p></template><!-- COMMENT --><iframe srcdoc="<p>IFRAME</p>"></iframe><p>after</p>`);
    const page = readablePage(html, PAGE, caps);
    for (const hidden of ['SCRIPT', 'STYLE', 'NOSCRIPT', 'TEMPLATE', 'COMMENT', 'IFRAME', '</div>']) expect(page.text).not.toContain(hidden);
    expect(page.text).toContain('after');
  });

  it('ignores meta refresh and keeps only http(s) links, deduplicated, in order', () => {
    const html = article(`<meta http-equiv="refresh" content="0;url=https://evil.test/">
      <a href="https://b.test/2">b</a><a href="javascript:alert(1)">js</a><a href="data:text/html,x">data</a>
      <a href="file:///etc/passwd">file</a><a href="mailto:a@b.test">mail</a><a href="https://b.test/2#again">dup</a>
      <a href=" \n https://c.test/\t3 ">ws</a><a href="#top">top</a><a href="/abs">abs</a><a href="http://[bad">bad</a>`);
    const page = readablePage(html, PAGE, caps);
    expect(page.links.map((link) => link.href)).toEqual(['https://site.test/nav', 'https://b.test/2', 'https://c.test/3', 'https://site.test/abs']);
    expect(JSON.stringify(page)).not.toContain('evil.test');
  });

  it('uses an http(s) <base href> and ignores a javascript: one', () => {
    const good = readablePage(article('<a href="x">x</a>', '<base href="https://cdn.test/root/">'), PAGE, caps);
    expect(good.links.at(-1)?.href).toBe('https://cdn.test/root/x');
    const bad = readablePage(article('<a href="x">x</a>', '<base href="javascript:alert(1)//">'), PAGE, caps);
    expect(bad.links.at(-1)?.href).toBe('https://site.test/dir/x');
  });

  it('caps text, links and link text, and says so', () => {
    const links = Array.from({ length: 20 }, (_, i) => `<a href="/l${i}">${'long '.repeat(50)}${i}</a>`).join(' ');
    const page = readablePage(article(links), PAGE, { maxTextChars: 100, maxLinks: 3, maxLinkTextChars: 10 });
    expect(page.text.length).toBeLessThanOrEqual(100);
    expect(page.links).toHaveLength(3);
    expect(page.links.every((link) => link.text.length <= 10)).toBe(true);
    expect(page.truncated).toBe(true);
  });

  it('survives 100k nested divs, flattening them and keeping the text', () => {
    const depth = 100_000;
    const page = readablePage(`<title>Deep</title><body>${'<div>'.repeat(depth)}<p>hello deep</p>${'</div>'.repeat(depth)}</body>`, PAGE, caps);
    expect(page.title).toBe('Deep');
    expect(page.text).toContain('hello deep');
    expect(page.truncated).toBe(true);
  });

  it('reads every paragraph of many deep chains (too much nesting for Readability, which took 2 s)', () => {
    const chain = `${'<div>'.repeat(250)}<p>Chain paragraph.</p>${'</div>'.repeat(250)}`;
    const page = readablePage(`<title>Chains</title><body>${chain.repeat(70)}</body>`, PAGE, caps);
    expect(page.text.split('Chain paragraph.')).toHaveLength(71);
    expect(page.truncated).toBe(false);
  });

  it('caps 100k links', () => {
    const html = `<title>Links</title><body>${Array.from({ length: 100_000 }, (_, i) => `<a href="/x${i}">l${i}</a>`).join('')}</body>`;
    const page = readablePage(html, PAGE, { maxTextChars: 1000, maxLinks: 100 });
    expect(page.links).toHaveLength(100);
    expect(page.links[99]).toEqual({ href: 'https://site.test/x99', text: 'l99' });
    expect(page.text.length).toBeLessThanOrEqual(1000);
    expect(page.truncated).toBe(true);
  });

  it('caps a 1 MB title', () => {
    const page = readablePage(`<title>${'t'.repeat(1 << 20)}</title><p>x</p>`, PAGE, caps);
    expect(page.title.length).toBeLessThanOrEqual(512);
    expect(page.title.length).toBeGreaterThan(0);
    expect(page.truncated).toBe(true);
  });

  it('handles a huge attribute and input over the size limit', () => {
    const huge = 'a'.repeat(6 * 1024 * 1024);
    const page = readablePage(`<title>Big</title><body><p data-x="${huge}">hidden?</p><a href="/${huge}">too long</a><a href="/ok">ok</a></body>`, PAGE, caps);
    expect(page.truncated).toBe(true);
    expect(page.title).toBe('Big');
    const small = readablePage(`<body><p title="${'b'.repeat(1 << 20)}">visible</p><a href="/${'c'.repeat(100_000)}">long</a> <a href="/ok">ok</a></body>`, PAGE, caps);
    expect(small.text).toBe('visible\n\nlong ok');
    expect(small.links).toEqual([{ href: 'https://site.test/ok', text: 'ok' }]);
  });

  it('copes with broken markup, NUL bytes, control characters and lone surrogates', () => {
    const page = readablePage('<title>Broken</title><body><p>one<p>two <b>bold <i>mixed</b> tail</i><div>nul\u0000here \u0007bell \ud800lone</div><a href="/a\u0000b">x</a></td></table><<<>>', PAGE, caps);
    expect(page.text).toContain('one\n\ntwo bold mixed tail');
    expect(page.text).toContain('nulhere bell \ufffdlone');
    expect(page.text).not.toMatch(/\p{Cc}(?<!\n)/u);
    expect(page.text.isWellFormed()).toBe(true);
    for (const link of page.links) expect(link.href).toMatch(/^https:\/\/site\.test\//);
  });

  it('rejects a baseUrl that is not http(s)', () => {
    expect(() => readablePage('<p>x</p>', 'file:///etc/', caps)).toThrow(expect.objectContaining({ code: 'INPUT_INVALID' }));
  });
});
