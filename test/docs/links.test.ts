import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';
import { headingSlugs, linkTargets } from '../support/markdown.ts';

// The README and docs/ are read on GitHub and in a checkout: a link to a file
// outside the repository (a sibling folder on the author's machine) or to a
// file or section that moved is a dead end for the reader. Web links (https:)
// are not fetched: tests never leave loopback.

const ROOT = resolve(import.meta.dirname, '..', '..');
const DOCS = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)].sort();
const text = (file: string) => readFileSync(join(ROOT, file), 'utf8');

/** Why a link in `file` leads nowhere, or null when it is fine. */
function brokenLink(file: string, target: string): string | null {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return /^(https?|mailto):/i.test(target) ? null : `${target}: only https:, http: and mailto: links leave the repository`;
  const [pathPart = '', fragment] = target.split('#', 2);
  const path = decodeURIComponent(pathPart);
  if (path.startsWith('/')) return `${target}: an absolute path; link relative to ${file}`;
  const resolved = path === '' ? join(ROOT, file) : resolve(ROOT, dirname(file), path);
  const inside = relative(ROOT, resolved);
  if (inside.startsWith('..') || inside.startsWith(sep)) return `${target}: outside the repository`;
  if (!existsSync(resolved)) return `${target}: no such file`;
  if (fragment !== undefined && resolved.endsWith('.md') && statSync(resolved).isFile()) {
    if (!headingSlugs(readFileSync(resolved, 'utf8')).includes(fragment)) return `${target}: no heading #${fragment} in ${relative(ROOT, resolved)}`;
  }
  return null;
}

describe('links in README.md and docs/*.md', () => {
  it('finds the docs to check', () => {
    expect(DOCS).toContain('README.md');
    expect(DOCS).toContain('docs/egress-policy-reference.md');
  });

  it('every relative link points to a file (and heading) inside the repository', () => {
    const broken = DOCS.flatMap((file) => linkTargets(text(file)).flatMap((target) => brokenLink(file, target) ?? []).map((why) => `${file}: ${why}`));
    expect(broken).toEqual([]);
  });

  it('every `docs/….md` a document names exists', () => {
    const missing = DOCS.flatMap((file) => [...text(file).matchAll(/`(docs\/[A-Za-z0-9._-]+\.md)`/g)].map((m) => m[1] ?? '').filter((p) => !existsSync(join(ROOT, p))).map((p) => `${file}: ${p}`));
    expect(missing).toEqual([]);
  });

  it('the README links to the egress policy reference', () => {
    expect(linkTargets(text('README.md'))).toContain('docs/egress-policy-reference.md');
    expect(linkTargets(text('docs/egress.md'))).toContain('egress-policy-reference.md');
  });

  // The rule above passes only if it can fail.
  it.each([
    ['a sibling folder of the checkout', '../shared/DESIGN.md', /outside the repository/],
    ['a file that is not there', 'docs/nowhere.md', /no such file/],
    ['a heading that is not there', 'docs/egress.md#nowhere', /no heading #nowhere/],
    ['an absolute path', '/etc/passwd', /absolute path/],
    ['a file: URL', 'file:///etc/passwd', /only https/],
  ])('catches a link to %s', (_name, target, why) => {
    expect(brokenLink('README.md', target)).toMatch(why);
  });

  it.each([['docs/egress.md'], ['docs/egress-policy-reference.md#reason-codes'], ['https://example.com/x'], ['#call-it-with-curl']])('accepts %s from the README', (target) => {
    expect(brokenLink('README.md', target)).toBeNull();
  });

  it('reads inline links, and not those in code', () => {
    expect(linkTargets('See [a](a.md) and ![b](img/b.png "t"), `[c](c.md)`.\n```\n[d](d.md)\n```\n[e](docs/e.md#x)')).toEqual(['a.md', 'img/b.png', 'docs/e.md#x']);
  });

  it('makes heading anchors as GitHub does', () => {
    expect(headingSlugs('# Egress policy reference\n## Rule fields (`allow` and `deny` entries)\n### `inject`\n## Notes\n## Notes\n```\n## not a heading\n```\n')).toEqual([
      'egress-policy-reference',
      'rule-fields-allow-and-deny-entries',
      'inject',
      'notes',
      'notes-1',
    ]);
  });
});
