import { describe, expect, it } from 'vitest';
import { parseAptSources, pickDebianArchive } from './apt-sources.ts';

describe('apt sources', () => {
  it('reads deb822 stanzas and one-line entries; skips deb-src, disabled stanzas and comments', () => {
    const sources = parseAptSources([
      {
        path: '/etc/apt/sources.list.d/debian.sources',
        text: [
          'Types: deb-src',
          'URIs: http://src.example.test/debian',
          'Suites: bookworm',
          'Components: main',
          '',
          '# a comment',
          'Types: deb',
          'URIs: http://archive.example.test/debian/',
          'Suites: bookworm bookworm-updates',
          'Components: main',
          'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg',
          '',
          'Enabled: no',
          'Types: deb',
          'URIs: http://disabled.example.test/debian',
          'Suites: trixie',
          'Components: main',
        ].join('\n'),
      },
      { path: '/etc/apt/sources.list', text: '# deb http://commented.example.test/debian bookworm main\ndeb [arch=amd64 signed-by=/k.gpg] http://line.example.test/debian bookworm main contrib\ndeb-src http://src.example.test/debian bookworm main\n' },
    ]);
    expect(sources).toEqual([
      { uri: 'http://archive.example.test/debian', suites: ['bookworm', 'bookworm-updates'], components: ['main'] },
      { uri: 'http://line.example.test/debian', suites: ['bookworm'], components: ['main', 'contrib'] },
    ]);
  });

  it('picks the first release suite with main, never -updates or -security', () => {
    expect(pickDebianArchive([
      { uri: 'http://security.example.test/debian-security', suites: ['bookworm-security'], components: ['main'] },
      { uri: 'http://archive.example.test/debian', suites: ['bookworm-updates', 'bookworm'], components: ['main'] },
    ])).toEqual({ uri: 'http://archive.example.test/debian', suite: 'bookworm' });
    expect(pickDebianArchive([{ uri: 'http://a.example.test/debian', suites: ['bookworm'], components: ['contrib'] }])).toBeNull();
    expect(pickDebianArchive([])).toBeNull();
  });

  it.each([
    ['a file: URI', 'deb file:///srv/debian bookworm main'],
    ['a quote in the URI', 'deb http://a.example.test/"$(id)" bookworm main'],
    ['a suite that is an option', 'deb http://a.example.test/debian --include=x main'],
    ['a shell metacharacter in the suite', 'deb http://a.example.test/debian book;worm main'],
    ['no suite', 'deb http://a.example.test/debian'],
    ['a control character', 'deb http://a.example.test/de\u0007bian bookworm main'],
  ])('ignores an entry with %s (its words reach debootstrap\'s argument list)', (_, line) => {
    expect(parseAptSources([{ path: '/etc/apt/sources.list', text: line }])).toEqual([]);
  });

  it('reads a large file of junk in linear time without a match', () => {
    const text = 'Types: deb\nURIs:' + ' x'.repeat(100_000) + '\n'.repeat(10_000);
    expect(parseAptSources([{ path: 'x.sources', text }])).toEqual([]);
  });
});
